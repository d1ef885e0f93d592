//! `hrsync-lab emulate`: the Personio emulator (with the demo company) and a
//! SCIM app on loopback, until Ctrl-C; for trying `hrsync serve` by hand
//! (the README's walkthrough) without any account anywhere.

use std::process::ExitCode;

use clap::Args;

use hrsync_emulators::personio::PersonioEmulator;
use hrsync_emulators::scim::ScimEmulator;

#[derive(Debug, Args)]
pub struct EmulateArgs {
    #[arg(long, default_value_t = 7001)]
    personio_port: u16,
    #[arg(long, default_value_t = 7002)]
    scim_port: u16,
}

/// Credentials of the emulators; they guard nothing but loopback toys.
pub const PERSONIO_CLIENT_ID: &str = "demo-client";
pub const PERSONIO_CLIENT_SECRET: &str = "demo-secret";
pub const SCIM_TOKEN: &str = "demo-token";

pub fn run(args: EmulateArgs) -> Result<ExitCode, String> {
    let hr = PersonioEmulator::start_on(PERSONIO_CLIENT_ID, PERSONIO_CLIENT_SECRET, args.personio_port)
        .map_err(|e| format!("Personio emulator on port {}: {e}", args.personio_port))?;
    let app = ScimEmulator::start_on(SCIM_TOKEN, args.scim_port)
        .map_err(|e| format!("SCIM app on port {}: {e}", args.scim_port))?;
    super::demo::seed(&hr);
    println!(
        "Personio emulator: {}  client id {PERSONIO_CLIENT_ID}, client secret {PERSONIO_CLIENT_SECRET}",
        hr.base_url()
    );
    println!("SCIM app:          {}  bearer token {SCIM_TOKEN}", app.base_url());
    println!("12 employees in Personio. Ctrl-C stops both.");
    loop {
        std::thread::park();
    }
}
