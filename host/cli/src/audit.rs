//! `hrsync audit verify`: is the audit log as it was written?

use std::process::ExitCode;

use clap::Subcommand;

use super::sync::{tokio, DatabaseArgs};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain of the audit log. Exit 0 when every event is as
    /// written, 1 naming the first event edited, removed or out of place.
    Verify(DatabaseArgs),
}

pub fn run(command: AuditCommand) -> Result<ExitCode, String> {
    let AuditCommand::Verify(database) = command;
    let tokio = tokio()?;
    let (store, _) = database.open(&tokio)?;
    let check = tokio.block_on(store.verify_audit()).map_err(|e| e.to_string())?;
    match check.broken {
        None => {
            println!("audit log intact: {} events, each as written", check.events);
            Ok(ExitCode::SUCCESS)
        }
        Some(broken) => {
            let id = broken.id.map(|id| format!(" ({id})")).unwrap_or_default();
            println!(
                "audit log BROKEN at event {}{id}: {}; the {} events before it are intact",
                broken.seq, broken.reason, check.events
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
