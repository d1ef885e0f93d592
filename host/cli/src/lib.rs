//! The `hrsync` command line: one module per command group. Thin: each
//! command parses its arguments and calls the layers below (runtime,
//! engine, store, server). The demo, the benchmarks and the emulators are
//! `hrsync-lab` (host/lab), so the product carries no fake provider.

mod audit;
mod invite;
mod link;
mod plugin;
pub mod report;
mod rules;
mod serve;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use hrsync_runtime::{Runtime, RuntimeOptions};

#[derive(Debug, Parser)]
#[command(
    name = "hrsync",
    version,
    about = "Keeps downstream app accounts in step with HR systems"
)]
pub struct Cli {
    #[command(flatten)]
    cache: CacheArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect and test plugin components.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Run an integration described in a TOML file once: read, rules,
    /// plan, apply, record. `--dry-run` shows the plan and changes nothing.
    Sync(sync::SyncArgs),
    /// The run history: started at, trigger, status, counts, error.
    Runs(sync::RunsArgs),
    /// Try the integration's rules on employees from the live HR data.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Link an employee to an account by hand (a hand-made account with
    /// another e-mail, a conflict resolved without waiting for HR); the
    /// link wins over matching until `unlink` removes it.
    Link(link::LinkArgs),
    /// Remove an employee's link; the next run matches them again.
    Unlink(link::UnlinkArgs),
    /// Ask the app to invite accounts created without its invitation:
    /// `--employee ID` (again if invited before) or `--all` not yet invited.
    Invite(invite::InviteArgs),
    /// The audit log: `verify` walks its hash chain.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The admin API and the scheduler (docs/api.md).
    Serve(serve::ServeArgs),
}

impl Cli {
    /// Whether this is `hrsync serve` (its requests and runs are logged).
    pub fn serves(&self) -> bool {
        matches!(self.command, Command::Serve(_))
    }
}

/// `mi_option_purge_delay` in mimalloc's `mimalloc.h` (v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Gives freed memory back to the system after 1 ms instead of 10: a run
/// frees and allocates large amounts between its steps, and the delay adds
/// up in the peak (−20 MiB at 100,000 employees, same speed). Call it first
/// in `main`, before any other thread exists.
pub fn tune_allocator() {
    // SAFETY: sets a plain integer option of the allocator, before any
    // other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1) };
}

/// A command whose output is piped into `head` ends quietly with exit 0
/// when the reader goes away, as other command-line tools do, instead of
/// panicking on the failed write (Rust ignores SIGPIPE) or dying by the
/// signal (its default). Call it first in `main`, before any other thread
/// exists and before the arguments are parsed (`--help` writes too);
/// [`run`] ignores SIGPIPE again for `hrsync serve`, which must outlive a
/// client that hangs up.
///
/// Only a closed stdout or stderr ends the command: a socket whose peer
/// went away (an HR system resetting a TLS connection mid-sync can raise
/// SIGPIPE through `writev`) must fail that request as an error, not end
/// a sync with exit 0 — so the handler looks at fds 1 and 2 and returns
/// otherwise, and the write fails with EPIPE as it would without it.
pub fn end_quietly_on_a_closed_pipe() {
    extern "C" fn nothing_left_to_say(_: libc::c_int) {
        let mut fds = [
            libc::pollfd {
                fd: 1,
                events: libc::POLLOUT,
                revents: 0,
            },
            libc::pollfd {
                fd: 2,
                events: libc::POLLOUT,
                revents: 0,
            },
        ];
        // SAFETY: `poll` and `_exit` are async-signal-safe; `fds` lives on
        // this frame for the call.
        unsafe {
            if libc::poll(fds.as_mut_ptr(), 2, 0) > 0 && fds.iter().any(|f| f.revents & libc::POLLERR != 0) {
                libc::_exit(0);
            }
        }
    }
    // SAFETY: sets the disposition of one signal to a handler that only
    // polls and calls `_exit`, before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, nothing_left_to_say as *const () as libc::sighandler_t) };
}

pub fn run(cli: Cli) -> ExitCode {
    if cli.serves() {
        // SAFETY: restores Rust's default disposition of one signal,
        // before the server starts any thread.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    }
    let result = match cli.command {
        Command::Plugin(command) => runtime(&cli.cache).and_then(|rt| plugin::run(&rt, command)),
        Command::Sync(args) => runtime(&cli.cache).and_then(|rt| sync::sync(&rt, args)),
        Command::Runs(args) => sync::runs(args),
        Command::Rules(command) => runtime(&cli.cache).and_then(|rt| rules::run(&rt, command)),
        Command::Link(args) => runtime(&cli.cache).and_then(|rt| link::link(&rt, args)),
        Command::Unlink(args) => link::unlink_employee(args),
        Command::Invite(args) => runtime(&cli.cache).and_then(|rt| invite::invite(&rt, args)),
        Command::Audit(command) => audit::run(command),
        Command::Serve(args) => {
            runtime_for(&cli.cache, serve::concurrent_runs(&args)).and_then(|rt| serve::serve(rt, args))
        }
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Where and how much compiled plugin code is kept.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheArgs {
    /// Where precompiled plugins are cached [default:
    /// $XDG_CACHE_HOME/hrsync/components].
    #[arg(long, global = true, env = "HRSYNC_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Size cap of the compiled-plugin cache folder, in MiB: the least
    /// recently used entries are removed beyond it.
    #[arg(long, global = true, env = "HRSYNC_CACHE_MAX_MIB", default_value_t = 1024)]
    pub cache_max_mib: u64,
    /// Cap on the compiled code of the plugins kept loaded in memory, in
    /// MiB: the least recently used are unloaded beyond it.
    #[arg(long, global = true, env = "HRSYNC_LOADED_PLUGINS_MAX_MIB", default_value_t = 512)]
    pub loaded_plugins_max_mib: u64,
}

/// The plugin runtime with its compile cache (`--cache-dir`, else the default).
pub fn runtime(cache: &CacheArgs) -> Result<Runtime, String> {
    runtime_for(cache, RuntimeOptions::default().concurrent_runs)
}

/// [`runtime`] with room in its instance pool for `concurrent_runs` runs.
fn runtime_for(cache: &CacheArgs, concurrent_runs: usize) -> Result<Runtime, String> {
    Runtime::new(RuntimeOptions {
        cache_dir: cache.cache_dir.clone().or_else(default_cache_dir),
        cache_max_bytes: cache.cache_max_mib.saturating_mul(1 << 20),
        loaded_max_bytes: cache.loaded_plugins_max_mib.saturating_mul(1 << 20),
        concurrent_runs,
        ..RuntimeOptions::default()
    })
    .map_err(|e| e.to_string())
}

/// `$XDG_CACHE_HOME/hrsync/components`, else `~/.cache/hrsync/components`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("hrsync").join("components"))
}

/// Logs to stderr; `RUST_LOG` selects what (default: warnings; for `hrsync
/// serve` also its requests and runs); `HRSYNC_LOG_FORMAT=json` writes one
/// JSON object per line.
pub fn init_tracing(serving: bool) {
    let default = if serving {
        "warn,hrsync_server::api=info,hrsync_server::control=info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::env::var("HRSYNC_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
