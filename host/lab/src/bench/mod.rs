//! Benchmarks: separate from the tests, they print their numbers.

mod console;
mod memory;
mod nodes;
mod previews;
mod runtime;
mod served;
mod soak;
mod sync;
mod tenants;
mod webhooks;

use std::path::PathBuf;

pub use hrsync_emulators::built_plugin;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Compile vs cached load, instantiate + call, rule cost per employee.
    Runtime {
        /// A rule plugin to measure (default: the built scope-rule plugin).
        #[arg(long)]
        plugin: Option<PathBuf>,
        /// Instantiate + call iterations.
        #[arg(long, default_value_t = 5000)]
        iterations: usize,
        /// Only the rule measurement (for profiling).
        #[arg(long)]
        rule_only: bool,
    },
    /// Whole runs at volume: Personio and SCIM emulators on loopback; first
    /// sync, steady state (full and incremental), 1% changed. Prints wall
    /// time, employees/s, creates/s, peak RSS and HTTP calls per phase.
    Sync {
        #[arg(long, default_value_t = 100_000)]
        employees: usize,
    },
    /// What an integrator waits for: a full dry run with declarative rules
    /// and with the same rules as a Rhai script, a first sync, and the
    /// what-if "also exclude people on leave"; wall time and peak RSS of
    /// each `hrsync` run, and the what-if's table.
    Previews {
        #[arg(long, default_value_t = 5000)]
        employees: usize,
    },
    /// The admin console with a tenant's history in the store: each page
    /// asked for in turn, p50/p99/max per page.
    Console {
        #[arg(long, default_value_t = 1000)]
        integrations: usize,
        #[arg(long, default_value_t = 100_000)]
        runs: usize,
        /// Answers timed per page.
        #[arg(long, default_value_t = 50)]
        samples: usize,
        /// PostgreSQL (`postgres://...`) instead of a SQLite file.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// HR webhooks: terminations in the BambooHR emulator, one after
    /// another, each timed until the account is inactive in the SCIM app
    /// (through `hrsync serve`'s application); prints p50 and p99.
    Webhooks {
        #[arg(long, default_value_t = 1000)]
        employees: u64,
        #[arg(long, default_value_t = 100)]
        terminations: u64,
    },
    /// Many tenants on one deployment: each an integration Personio → scope
    /// rule → team map (→ a Python rule in some) → SCIM, set up through
    /// the API of `hrsync serve` processes; every first sync, then daily
    /// rounds all due at one minute. Wall time, runs/s, due→done p50/p99,
    /// peak RSS, plugin instances at peak, writes, database size.
    Tenants {
        /// Companies, each with one integration (the emulators of 1,000 ×
        /// 1,000 hold about 12 GiB: 100 fits a laptop).
        #[arg(long, default_value_t = 1000)]
        tenants: usize,
        /// Employees in each company's Personio.
        #[arg(long, default_value_t = 1000)]
        employees: usize,
        /// How long every emulator takes to answer, in milliseconds.
        #[arg(long, default_value_t = 20)]
        latency_ms: u64,
        /// A Python rule in every Nth tenant (0: none).
        #[arg(long, default_value_t = 10)]
        python_every: usize,
        /// PostgreSQL (`postgres://...`) instead of a SQLite file.
        #[arg(long)]
        database_url: Option<String>,
        /// `hrsync serve` processes sharing the work (PostgreSQL only).
        #[arg(long, default_value_t = 1)]
        nodes: usize,
        /// Each node's `--max-concurrent-runs` (default: the server's).
        #[arg(long)]
        max_concurrent_runs: Option<usize>,
        /// Only the first syncs and the round with nothing changed.
        #[arg(long)]
        skip_change_round: bool,
    },
    /// Scheduled runs every 5 s across many tenants for `minutes`, with
    /// `fault_percent` of the emulators' answers failing (429, 500, 503,
    /// timeouts), Personio tokens expiring and HR data changing; then
    /// every app compared with its HR data, unfinished runs counted, and
    /// the memory at the end compared with minute 2. Fails on any
    /// difference.
    Soak {
        /// How long the faults last; the check comes after.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Companies, each with one integration scheduled every 5 s.
        #[arg(long, default_value_t = 100)]
        tenants: usize,
        /// Employees in each company's Personio.
        #[arg(long, default_value_t = 50)]
        employees: usize,
        /// Share of the emulators' answers that fail, in percent.
        #[arg(long, default_value_t = 30.0)]
        fault_percent: f64,
        /// PostgreSQL (`postgres://...`) instead of a SQLite file.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// What one run costs the server in memory with Rust plugins only,
    /// with a Python rule and with a JavaScript rule (cold and warm), and
    /// `runs` Rust runs at once.
    Memory {
        /// Employees in the Personio of each run.
        #[arg(long, default_value_t = 1000)]
        employees: usize,
        /// Rust runs at once in the last measurement.
        #[arg(long, default_value_t = 8)]
        runs: usize,
    },
}

pub fn run(command: BenchCommand) -> Result<ExitCode, String> {
    match command {
        BenchCommand::Runtime {
            plugin,
            iterations,
            rule_only,
        } => runtime::run(plugin, iterations, rule_only),
        BenchCommand::Sync { employees } => sync::run(employees),
        BenchCommand::Previews { employees } => previews::run(employees),
        BenchCommand::Console {
            integrations,
            runs,
            samples,
            database_url,
        } => console::run(integrations, runs, samples, database_url),
        BenchCommand::Webhooks {
            employees,
            terminations,
        } => webhooks::run(employees, terminations),
        BenchCommand::Tenants {
            tenants,
            employees,
            latency_ms,
            python_every,
            database_url,
            nodes,
            max_concurrent_runs,
            skip_change_round,
        } => tenants::run(tenants::Options {
            tenants,
            employees,
            latency: Duration::from_millis(latency_ms),
            python_every,
            database_url,
            nodes: nodes.max(1),
            max_concurrent_runs,
            skip_change_round,
        }),
        BenchCommand::Memory { employees, runs } => memory::run(employees, runs),
        BenchCommand::Soak {
            minutes,
            tenants,
            employees,
            fault_percent,
            database_url,
        } => soak::run(soak::Options {
            minutes,
            tenants,
            employees,
            fault_percent,
            database_url,
        }),
    }
}

/// Median and 99th percentile of a set of timings.
pub struct Distribution {
    pub median: Duration,
    pub p99: Duration,
    pub min: Duration,
}

impl Distribution {
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        Self {
            median: at(0.5),
            p99: at(0.99),
            min: samples[0],
        }
    }
}

/// Runs `bench` in a fresh temporary folder (removed after), once every
/// plugin it needs is built.
fn in_temp_dir(
    name: &str,
    plugins: &[&str],
    bench: impl FnOnce(&std::path::Path) -> Result<ExitCode, String>,
) -> Result<ExitCode, String> {
    for plugin in plugins {
        if !built_plugin(plugin).exists() {
            return Err(format!(
                "{} is missing: build the plugins first (scripts/build-plugins)",
                built_plugin(plugin).display()
            ));
        }
    }
    let dir = std::env::temp_dir().join(format!("hrsync-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = bench(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The database of one benchmark: a SQLite file in its folder, or a new
/// schema in the PostgreSQL database at `--database-url`, so that runs of
/// the benchmark do not meet; the schema is dropped when the benchmark
/// ends (declare it before the nodes, so that they stop first).
pub(super) struct BenchDatabase {
    /// What the nodes connect to.
    pub(super) url: String,
    /// PostgreSQL: the given URL and the schema made in it.
    scratch: Option<(String, String)>,
}

impl BenchDatabase {
    pub(super) fn open(postgres: Option<&str>, dir: &std::path::Path) -> Result<Self, String> {
        let Some(url) = postgres else {
            return Ok(Self {
                url: format!("sqlite://{}", dir.join("hrsync.db").display()),
                scratch: None,
            });
        };
        let schema = format!("bench_{}", std::process::id());
        on_postgres(
            url,
            &[
                format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
                format!("CREATE SCHEMA {schema}"),
            ],
        )?;
        let separator = if url.contains('?') { '&' } else { '?' };
        Ok(Self {
            url: format!("{url}{separator}options=-c%20search_path%3D{schema}"),
            scratch: Some((url.to_string(), schema)),
        })
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        if let Some((url, schema)) = &self.scratch {
            if let Err(error) = on_postgres(url, &[format!("DROP SCHEMA IF EXISTS {schema} CASCADE")]) {
                eprintln!("could not drop the benchmark's schema {schema}: {error}");
            }
        }
    }
}

fn on_postgres(url: &str, statements: &[String]) -> Result<(), String> {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    sqlx::any::install_default_drivers();
    tokio.block_on(async {
        let pool = sqlx::AnyPool::connect(url).await.map_err(|e| e.to_string())?;
        for statement in statements {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .map_err(|e| format!("{statement}: {e}"))?;
        }
        Ok(())
    })
}
