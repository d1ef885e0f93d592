//! `hrsync invite`: invitations sent later for accounts created without one
//! (host/engine/src/invite.rs).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use hrsync_engine::invite::{InviteError, Invitees};
use hrsync_engine::manual::Actor;
use hrsync_runtime::Runtime;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["employee", "all"])))]
pub struct InviteArgs {
    /// The integration file (docs/integration.md).
    #[arg(long)]
    config: PathBuf,
    /// An employee's id in the HR system; repeat for more. Sends again to
    /// an account invited before.
    #[arg(long)]
    employee: Vec<String>,
    /// Every account the integration created and never had invited.
    #[arg(long)]
    all: bool,
    /// Say whom, send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Overrides the file's `database`.
    #[arg(long, env = "HRSYNC_DATABASE_URL")]
    database_url: Option<String>,
}

/// Exit codes: 0 every invitation sent (or none due), 1 refused or some
/// not sent (each named), 2 bad file.
pub fn invite(runtime: &Runtime, args: InviteArgs) -> Result<ExitCode, String> {
    let (file, store, tokio) = match super::link::open(&args.config, args.database_url)? {
        Ok(opened) => opened,
        Err(refused) => return Ok(refused),
    };
    let job = match super::sync::job_of(&file, runtime) {
        Ok(job) => job,
        Err(refused) => return Ok(refused),
    };
    let who = match args.all {
        true => Invitees::NotYetInvited,
        false => Invitees::Employees(args.employee.iter().map(|e| e.trim().to_string()).collect()),
    };
    let actor = Actor {
        name: "cli",
        tenant: None,
    };
    let invitations = match tokio.block_on(job.invite(&store, &who, args.dry_run, actor)) {
        Ok(invitations) => invitations,
        Err(error @ (InviteError::Store(_) | InviteError::Plugin(_))) => return Err(error.to_string()),
        Err(refused) => {
            eprintln!("no invitation sent: {refused}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let verb = if args.dry_run { "would invite" } else { "invited" };
    let mut failed = 0;
    for invitation in &invitations {
        match &invitation.error {
            None => println!(
                "{verb} employee {} (account {})",
                invitation.hr_id, invitation.account_id
            ),
            Some(error) => {
                failed += 1;
                println!(
                    "not invited: employee {} (account {}): {error}",
                    invitation.hr_id, invitation.account_id
                );
            }
        }
    }
    println!(
        "{} invitation(s) {}, {failed} failed",
        invitations.len() - failed,
        if args.dry_run { "due" } else { "sent" }
    );
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
