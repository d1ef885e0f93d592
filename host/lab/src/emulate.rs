//! `hrsync-lab emulate`: the Personio emulator (with the demo company), a
//! SCIM app, and the tiny HR system and tiny app of the plugin templates
//! (sdk/templates/) on loopback, until Ctrl-C; for trying `hrsync serve` by hand
//! (the README's walkthrough) without any account anywhere.

use std::process::ExitCode;

use clap::Args;

use hrsync_emulators::personio::PersonioEmulator;
use hrsync_emulators::scim::ScimEmulator;
use hrsync_emulators::tiny::{TinyApp, TinyHr};

#[derive(Debug, Args)]
pub struct EmulateArgs {
    #[arg(long, default_value_t = 7001)]
    personio_port: u16,
    #[arg(long, default_value_t = 7002)]
    scim_port: u16,
    /// The tiny HR system the plugin templates read (sdk/templates/).
    #[arg(long, default_value_t = 7003)]
    tiny_hr_port: u16,
    /// The tiny app the plugin templates write.
    #[arg(long, default_value_t = 7004)]
    tiny_app_port: u16,
}

/// Credentials of the emulators; they guard nothing but loopback toys.
pub const PERSONIO_CLIENT_ID: &str = "demo-client";
pub const PERSONIO_CLIENT_SECRET: &str = "demo-secret";
pub const SCIM_TOKEN: &str = "demo-token";
pub const TINY_HR_TOKEN: &str = "tiny-hr-token";
pub const TINY_APP_KEY: &str = "tiny-app-key";

pub fn run(args: EmulateArgs) -> Result<ExitCode, String> {
    let hr = PersonioEmulator::start_on(PERSONIO_CLIENT_ID, PERSONIO_CLIENT_SECRET, args.personio_port)
        .map_err(|e| format!("Personio emulator on port {}: {e}", args.personio_port))?;
    let app = ScimEmulator::start_on(SCIM_TOKEN, args.scim_port)
        .map_err(|e| format!("SCIM app on port {}: {e}", args.scim_port))?;
    let tiny_hr = TinyHr::start_on(TINY_HR_TOKEN, args.tiny_hr_port)
        .map_err(|e| format!("tiny HR system on port {}: {e}", args.tiny_hr_port))?;
    let tiny_app = TinyApp::start_on(TINY_APP_KEY, args.tiny_app_port)
        .map_err(|e| format!("tiny app on port {}: {e}", args.tiny_app_port))?;
    super::demo::seed(&hr);
    println!(
        "Personio emulator: {}  client id {PERSONIO_CLIENT_ID}, client secret {PERSONIO_CLIENT_SECRET}",
        hr.base_url()
    );
    println!("SCIM app:          {}  bearer token {SCIM_TOKEN}", app.base_url());
    println!(
        "Tiny HR system:    {}  bearer token {TINY_HR_TOKEN}",
        tiny_hr.base_url()
    );
    println!(
        "Tiny app:          {}  basic auth api / {TINY_APP_KEY}",
        tiny_app.base_url()
    );
    println!("12 employees in Personio, 5 in the tiny HR system. Ctrl-C stops them.");
    loop {
        std::thread::park();
    }
}
