//! `hrsync link` and `hrsync unlink`: manual resolution of identities
//! (docs/integration.md, "Identity").

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::sync::tokio;
use hrsync_engine::integration::IntegrationFile;
use hrsync_engine::manual::{unlink, Actor, ManualLinkError};
use hrsync_runtime::Runtime;
use hrsync_store::Store;

const CLI: Actor<'static> = Actor {
    name: "cli",
    tenant: None,
};

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The integration file (docs/integration.md).
    #[arg(long)]
    config: PathBuf,
    /// The employee's id in the HR system.
    #[arg(long)]
    employee: String,
    /// The account's id in the target app.
    #[arg(long)]
    account: String,
    /// Overrides the file's `database`.
    #[arg(long, env = "HRSYNC_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct UnlinkArgs {
    /// The integration file (docs/integration.md).
    #[arg(long)]
    config: PathBuf,
    /// The employee's id in the HR system.
    #[arg(long)]
    employee: String,
    /// Overrides the file's `database`.
    #[arg(long, env = "HRSYNC_DATABASE_URL")]
    database_url: Option<String>,
}

/// The integration file, its store and a runtime to drive the store; an
/// unreadable or invalid file is refused with exit code 2.
pub(crate) fn open(
    config: &Path,
    database_url: Option<String>,
) -> Result<Result<(IntegrationFile, Store, tokio::runtime::Runtime), ExitCode>, String> {
    let file = match super::sync::load_file(config) {
        Ok(file) => file,
        Err(refused) => return Ok(Err(refused)),
    };
    let database = database_url.or(file.database.clone()).unwrap_or_default();
    let tokio = tokio()?;
    let store = tokio.block_on(Store::connect(&database)).map_err(|e| e.to_string())?;
    Ok(Ok((file, store, tokio)))
}

/// Exit codes: 0 linked, 1 refused (the message says why), 2 bad file.
pub fn link(runtime: &Runtime, args: LinkArgs) -> Result<ExitCode, String> {
    let (file, store, tokio) = match open(&args.config, args.database_url)? {
        Ok(opened) => opened,
        Err(refused) => return Ok(refused),
    };
    let job = match super::sync::job_of(&file, runtime) {
        Ok(job) => job,
        Err(refused) => return Ok(refused),
    };
    match tokio.block_on(job.link_by_hand(&store, args.employee.trim(), args.account.trim(), CLI)) {
        Ok(linked) => {
            let before = match &linked.previous {
                Some(previous) if previous.account_id != linked.link.account_id => format!(
                    " (was account {}, which stays in the app as it is, no longer synced)",
                    previous.account_id
                ),
                _ => String::new(),
            };
            println!(
                "employee {} is linked by hand to account {}{before}; the next run reads everyone and keeps it \
                 in step (its e-mail and user name are left as they are)",
                linked.link.hr_id, linked.link.account_id
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ (ManualLinkError::Store(_) | ManualLinkError::Plugin { .. })) => Err(error.to_string()),
        Err(refused) => {
            eprintln!("not linked: {refused}");
            Ok(ExitCode::FAILURE)
        }
    }
}

pub fn unlink_employee(args: UnlinkArgs) -> Result<ExitCode, String> {
    let (file, store, tokio) = match open(&args.config, args.database_url)? {
        Ok(opened) => opened,
        Err(refused) => return Ok(refused),
    };
    match tokio.block_on(unlink(&store, &file.name, args.employee.trim(), CLI)) {
        Ok(link) => {
            println!(
                "employee {} is no longer linked to account {} ({}); the next run reads everyone and matches \
                 them again",
                link.hr_id,
                link.account_id,
                link.origin.as_str()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(ManualLinkError::NoLink(hr_id)) => {
            eprintln!("not unlinked: employee `{hr_id}` has no link");
            Ok(ExitCode::FAILURE)
        }
        Err(error) => Err(error.to_string()),
    }
}
