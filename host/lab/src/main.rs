//! `hrsync-lab`: the demo, the benchmarks and the provider emulators as a
//! command. It lives beside the product, not in it: `hrsync` carries no
//! fake provider (host/emulators is a dependency of this binary and of the
//! tests only).

mod bench;
mod demo;
mod emulate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// The same allocator and settings as `hrsync` (host/cli/src/main.rs), so
// that the benchmarks run in this process measure what the product does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "hrsync-lab",
    version,
    about = "hrsync's demo, benchmarks and provider emulators, on loopback"
)]
struct Lab {
    #[command(flatten)]
    cache: hrsync::CacheArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sync a Personio emulator into a SCIM app on loopback, change a few
    /// employees, sync again, and print what happened each time.
    Demo,
    /// A Personio emulator (with a demo company), a SCIM app, and the tiny
    /// HR system and tiny app the plugin templates talk to, on loopback —
    /// to try `hrsync serve`, `hrsync sync` and new plugins against.
    Emulate(emulate::EmulateArgs),
    /// Benchmarks that print their numbers.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> ExitCode {
    hrsync::tune_allocator();
    let lab = Lab::parse();
    hrsync::init_tracing(false);
    let result = match lab.command {
        Command::Demo => hrsync::runtime(&lab.cache).and_then(|rt| demo::run_demo(&rt)),
        Command::Emulate(args) => emulate::run(args),
        Command::Bench(command) => bench::run(command),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
