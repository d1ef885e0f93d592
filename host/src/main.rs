use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    hrsync::cli::init_tracing();
    hrsync::cli::run(hrsync::cli::Cli::parse())
}
