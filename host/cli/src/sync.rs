//! `hrsync sync --config FILE [--dry-run]` and `hrsync runs`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::report::{print_items, print_report, print_runs, print_what_if};
use hrsync_engine::integration::IntegrationFile;
use hrsync_engine::job::{JobError, RunRequest};
use hrsync_engine::run::Progress;
use hrsync_runtime::Runtime;
use hrsync_store::{ItemFilter, Store};

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The integration file (docs/integration.md).
    #[arg(long)]
    config: PathBuf,
    /// Plan only: show what would change, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Read every employee, even when an incremental read would do.
    #[arg(long)]
    full: bool,
    /// Read only the changes since the last run, even when the integration's
    /// rules, options or plugins changed since its last full read (which
    /// otherwise makes a run, or a dry run, read everyone).
    #[arg(long, conflicts_with = "full")]
    incremental: bool,
    /// Compare with a draft of the integration (another file with the same
    /// source and target, other rules or options): HR and the app are read
    /// once, both are planned, and the difference is printed employee by
    /// employee. Nothing is written, nothing recorded.
    #[arg(long, value_name = "DRAFT.toml", conflicts_with_all = ["dry_run", "full", "incremental"])]
    what_if: Option<PathBuf>,
    /// Overrides the file's `database`.
    #[arg(long, env = "HRSYNC_DATABASE_URL")]
    database_url: Option<String>,
}

/// Which database: an integration file's, or a URL.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// An integration file: its database (and, for `runs`, only its runs).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The database, when no file is given (or to override the file's).
    #[arg(long, env = "HRSYNC_DATABASE_URL")]
    database_url: Option<String>,
    /// The secret key of the `hrsync serve` that writes this database (64
    /// hex digits): its audit chain is sealed with a key derived from it.
    #[arg(long, env = "HRSYNC_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
}

impl DatabaseArgs {
    /// The store, and the integration file when one was named.
    pub fn open(self, tokio: &tokio::runtime::Runtime) -> Result<(Store, Option<IntegrationFile>), String> {
        let file = self
            .config
            .as_deref()
            .map(IntegrationFile::load)
            .transpose()
            .map_err(|e| e.to_string())?;
        let database = self
            .database_url
            .or_else(|| file.as_ref().and_then(|f| f.database.clone()))
            .ok_or("name the database: --config FILE or --database-url URL")?;
        let mut store = tokio.block_on(Store::connect(&database)).map_err(|e| e.to_string())?;
        if let Some(key) = &self.secret_key {
            let vault = hrsync_server::vault::Vault::from_hex_key(key).map_err(|e| format!("--secret-key: {e}"))?;
            store = store.with_audit_key(vault.audit_key());
        }
        Ok((store, file))
    }
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// List every item of one run — each change with its outcome and
    /// error, and each skipped, rejected, conflicting or noted employee.
    #[arg(long)]
    run: Option<String>,
    /// With --run: only items with this outcome (done, failed, planned,
    /// skipped, rejected, held, kept, noted, linked-existing).
    #[arg(long, requires = "run", value_parser = [
        "done", "failed", "linked-existing", "planned", "skipped", "rejected", "held", "kept", "noted",
    ])]
    outcome: Option<String>,
    /// With --run: only items of this kind (create-account, update-account,
    /// deactivate-account, add-member, remove-member, link-manager,
    /// create-team, skipped, conflict, rejected-record, note, ...).
    #[arg(long, requires = "run", value_parser = [
        "create-account", "update-account", "deactivate-account", "reactivate-account", "invite",
        "create-team", "rename-team", "add-member", "remove-member", "link-manager",
        "skipped", "conflict", "rejected-record", "note", "link-moved", "link-adopted",
    ])]
    kind: Option<String>,
    /// With --run: only this employee's items (HR id).
    #[arg(long, requires = "run")]
    employee: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: i64,
}

pub fn tokio() -> Result<tokio::runtime::Runtime, String> {
    // Multi-threaded so that blocking callers can `Handle::block_on` the
    // store's futures while the runtime drives their I/O.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// An integration file, read and checked; one that cannot be read or has
/// an unknown key is printed and refused with exit code 2.
pub fn load_file(path: &std::path::Path) -> Result<IntegrationFile, ExitCode> {
    IntegrationFile::load(path).map_err(|error| {
        eprintln!("error: {error}");
        ExitCode::from(2)
    })
}

/// The job an integration file describes, its plugins loaded and rules
/// started; an invalid one is printed and refused with exit code 2.
pub fn job_of(file: &IntegrationFile, runtime: &Runtime) -> Result<hrsync_engine::job::Job, ExitCode> {
    file.job(runtime).map_err(|error| {
        eprintln!("error: {error}");
        ExitCode::from(2)
    })
}

/// Exit codes: 0 all applied, 1 the run failed, 2 bad config, 3 some
/// changes failed or more records were rejected than the threshold allows.
pub fn sync(runtime: &Runtime, args: SyncArgs) -> Result<ExitCode, String> {
    let file = match load_file(&args.config) {
        Ok(file) => file,
        Err(refused) => return Ok(refused),
    };
    let job = match job_of(&file, runtime) {
        Ok(job) => job,
        Err(refused) => return Ok(refused),
    };
    let database = args.database_url.or(file.database.clone()).unwrap_or_default();
    let tokio = tokio()?;
    let store = tokio.block_on(Store::connect(&database)).map_err(|e| e.to_string())?;
    if let Some(draft) = &args.what_if {
        return what_if(runtime, &tokio, &store, &job, draft);
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let progress = bar.clone();
    let observe = move |progress_made: Progress| match progress_made {
        Progress::Reading { employees } => {
            // Short runs stay quiet: the bar shows once reading takes a while.
            if employees >= 1000 {
                progress.set_message(format!("reading: {employees} employees"));
                progress.tick();
            }
        }
        Progress::Applying { done, total } => {
            if total >= 100 {
                progress.set_message("applying");
                progress.set_length(total as u64);
                progress.set_position(done as u64);
            }
        }
    };
    let started = Instant::now();
    let request = RunRequest {
        dry_run: args.dry_run,
        full: args.full,
        incremental: args.incremental,
        ..RunRequest::default()
    };
    let outcome = tokio.block_on(job.run(&store, request, Arc::new(observe)));
    bar.finish_and_clear();
    match outcome {
        Ok(finished) => {
            print_report(&finished.run_id, &finished.report, started.elapsed());
            Ok(if finished.report.failed() > 0 || finished.report.too_many_rejected {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(JobError::Run { run_id, error }) => {
            eprintln!(
                "run {run_id} failed after {:.2} s: {}",
                started.elapsed().as_secs_f64(),
                file.explain(&error)
            );
            Ok(ExitCode::FAILURE)
        }
        Err(error) => Err(error.to_string()),
    }
}

/// `hrsync sync --what-if DRAFT.toml`: exit codes 0 compared, 1 the read
/// failed, 2 the draft is invalid.
fn what_if(
    runtime: &Runtime,
    tokio: &tokio::runtime::Runtime,
    store: &Store,
    job: &hrsync_engine::job::Job,
    draft: &std::path::Path,
) -> Result<ExitCode, String> {
    let draft = match load_file(draft).and_then(|file| job_of(&file, runtime)) {
        Ok(draft) => draft,
        Err(refused) => return Ok(refused),
    };
    let started = Instant::now();
    match tokio.block_on(job.what_if(store, &draft)) {
        Ok(compared) => {
            print_what_if(&compared, started.elapsed());
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ JobError::OtherEnds(_)) => {
            eprintln!("error: {error}");
            Ok(ExitCode::from(2))
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::from(1))
        }
    }
}

pub fn runs(args: RunsArgs) -> Result<ExitCode, String> {
    let tokio = tokio()?;
    let (store, file) = args.database.open(&tokio)?;
    if let Some(id) = &args.run {
        let run = tokio
            .block_on(store.run(id))
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no run `{id}`"))?;
        let filter = ItemFilter {
            outcome: args.outcome,
            kind: args.kind,
            hr_id: args.employee,
        };
        let items = tokio
            .block_on(store.items_where(id, &filter))
            .map_err(|e| e.to_string())?;
        print_items(&run, &items);
        return Ok(ExitCode::SUCCESS);
    }
    let integration = file.as_ref().map(|f| f.name.as_str());
    let runs = tokio
        .block_on(store.runs(integration, args.limit.max(1)))
        .map_err(|e| e.to_string())?;
    if runs.is_empty() {
        println!("no runs yet");
    } else {
        print_runs(&runs);
    }
    Ok(ExitCode::SUCCESS)
}
