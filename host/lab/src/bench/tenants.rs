//! `hrsync-lab bench tenants`: many companies on one deployment. N tenants
//! × M employees, each tenant with one integration (Personio emulator →
//! scope rule → team map → SCIM emulator; every `python_every`-th tenant
//! also a Python rule), set up through the admin API as admins would, the
//! emulators answering after `latency` like an API across a region. The
//! `hrsync serve` processes (one, or several on one PostgreSQL) are the
//! binary built beside this one, so their memory is theirs alone.
//!
//! Phases: every first sync (the integrations activated one after another),
//! then two daily rounds with every schedule due at the same minute — one
//! with no change in any HR system, one with 1% of every company's
//! employees moved to another department (and team). Every daily run reads everyone (as a daily run does:
//! its last full read is a day old). Per phase: wall time, runs per second,
//! due→done p50/p99, peak RSS, plugin instances alive at peak, writes.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::nodes::{request, upload, Node};
use super::served::OPERATOR;
use super::{built_plugin, in_temp_dir, BenchDatabase, Distribution};
use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::ScimEmulator;
use hrsync_model::clock::now_ms;

const DEPARTMENTS: &[&str] = &["Engineering", "Sales", "Marketing", "Finance", "People", "Support"];
const PLUGINS: &[&str] = &["personio", "scope_rule", "team_map", "python_rule", "scim"];
/// Requests to the API at once while setting up.
const SETUP_THREADS: usize = 4;

pub struct Options {
    pub tenants: usize,
    pub employees: usize,
    pub latency: Duration,
    pub python_every: usize,
    pub database_url: Option<String>,
    pub nodes: usize,
    pub max_concurrent_runs: Option<usize>,
    pub skip_change_round: bool,
}

/// One company: its HR system, its app, its admin's key and integration.
pub(super) struct Company {
    pub(super) hr: PersonioEmulator,
    pub(super) app: ScimEmulator,
    pub(super) key: String,
    pub(super) integration: String,
}

impl Company {
    /// `POST /api/v1/integrations/{id}/{action}` as the company's admin:
    /// `activate`, `deactivate`, `resume`.
    pub(super) fn act(&self, base: &str, action: &str) -> Result<(), String> {
        request(
            base,
            &self.key,
            "POST",
            &format!("/api/v1/integrations/{}/{action}", self.integration),
            Some(&json!({})),
        )
        .map(drop)
    }
}

struct Phase {
    name: &'static str,
    wall: Duration,
    latencies: Vec<Duration>,
    failed: usize,
    peak_mib: f64,
    instances: f64,
    writes: u64,
    /// The database's size when the phase ended.
    database_bytes: u64,
}

pub fn run(options: Options) -> Result<ExitCode, String> {
    if options.nodes > 1 && options.database_url.is_none() {
        return Err(
            "--nodes above 1 needs PostgreSQL: --database-url postgres://… (scripts/postgres gives one)".into(),
        );
    }
    if options.tenants == 0 || options.employees < 100 {
        return Err("--tenants must be at least 1 and --employees at least 100 (1% of them change)".into());
    }
    in_temp_dir("tenants", PLUGINS, |dir| bench(dir, &options))
}

fn bench(dir: &Path, options: &Options) -> Result<ExitCode, String> {
    let scratch = BenchDatabase::open(options.database_url.as_deref(), dir)?;
    let database = scratch.url.as_str();
    println!(
        "{} tenants × {} employees, emulators answering after {} ms, a Python rule in every {}th, {} node(s) on {}",
        options.tenants,
        options.employees,
        options.latency.as_millis(),
        options.python_every,
        options.nodes,
        if options.database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let started = Instant::now();
    let mut env = vec![("HRSYNC_MIN_SCHEDULE_INTERVAL_SECS", "60".to_string())];
    if let Some(runs) = options.max_concurrent_runs {
        env.push(("HRSYNC_MAX_CONCURRENT_RUNS", runs.to_string()));
    }
    // The first node makes the schema; the others start on it.
    let mut nodes = vec![Node::start(database, dir, "node-0", &env)?];
    for n in 1..options.nodes {
        nodes.push(Node::start(database, dir, &format!("node-{n}"), &env)?);
    }
    let companies = set_up(&nodes[0].base, options.tenants, options.employees, options.python_every)?;
    println!(
        "set up {} tenants through the API in {:.0} s; idle RSS {:.0} MiB",
        companies.len(),
        started.elapsed().as_secs_f64(),
        nodes.iter().map(Node::rss_mib).sum::<f64>()
    );
    hrsync_emulators::set_latency(options.latency);
    let pool = Runs::connect(database)?;

    let mut phases = Vec::new();
    let since = now_ms();
    reset(&nodes);
    let writes = app_writes(&companies);
    // Each node activates a share, so the nodes share the first syncs too.
    let numbered: Vec<(usize, &Company)> = companies.iter().enumerate().collect();
    let activate = || {
        each(&numbered, |(n, company)| {
            company.act(&nodes[n % nodes.len()].base, "activate")
        })
    };
    phases.push(pool.wait(
        "first syncs (activation runs them)",
        &nodes,
        since,
        since,
        &companies,
        writes,
        activate,
    )?);
    pool.note_size(&mut phases, dir)?;

    // A daily round: every schedule due at the next minute, and nothing
    // to start, as the schedules start the runs.
    let daily_round = |name: &'static str, phases: &mut Vec<Phase>| {
        let due = due_next_minute(&nodes[0].base, &companies)?;
        let writes = app_writes(&companies);
        phases.push(pool.wait(name, &nodes, due, due, &companies, writes, || Ok(()))?);
        pool.note_size(phases, dir)
    };
    daily_round("daily round, nothing changed", &mut phases)?;

    if !options.skip_change_round {
        let changed = options.employees / 100;
        for company in &companies {
            for id in 1..=changed as u64 {
                // A move to another department: out of one team, into another.
                company
                    .hr
                    .update(id, |e| e.department = Some(next_department(e.department.as_deref())));
            }
        }
        daily_round("daily round, 1% changed", &mut phases)?;
    }

    println!();
    println!(
        "| {:<38} | {:>8} | {:>7} | {:>9} | {:>9} | {:>12} | {:>9} | {:>9} | {:>6} | {:>9} |",
        "phase", "wall s", "runs/s", "p50 s", "p99 s", "peak RSS MiB", "instances", "writes", "failed", "DB MiB"
    );
    println!(
        "|{:-<40}|{:->10}|{:->9}|{:->11}|{:->11}|{:->14}|{:->11}|{:->11}|{:->8}|{:->11}|",
        "", "", "", "", "", "", "", "", "", ""
    );
    for phase in &phases {
        let spread = Distribution::of(phase.latencies.clone());
        println!(
            "| {:<38} | {:>8.1} | {:>7.1} | {:>9.2} | {:>9.2} | {:>12.0} | {:>9.0} | {:>9} | {:>6} | {:>9.0} |",
            phase.name,
            phase.wall.as_secs_f64(),
            phase.latencies.len() as f64 / phase.wall.as_secs_f64(),
            spread.median.as_secs_f64(),
            spread.p99.as_secs_f64(),
            phase.peak_mib,
            phase.instances,
            phase.writes,
            phase.failed,
            phase.database_bytes as f64 / (1 << 20) as f64
        );
    }
    println!();
    println!(
        "DB MiB: the database when the phase ended ({}); wall and p50/p99 count from the activations or the due minute",
        if options.database_url.is_some() {
            "PostgreSQL: the schema's tables and indexes"
        } else {
            "SQLite: the file and its WAL"
        }
    );
    let failed: usize = phases.iter().map(|p| p.failed).sum();
    if failed > 0 {
        return Err(format!("{failed} run(s) did not succeed; see the node logs"));
    }
    Ok(ExitCode::SUCCESS)
}

/// Does `work` for every company, `SETUP_THREADS` at a time; the first
/// error stops it.
pub(super) fn each<T: Sync>(items: &[T], work: impl Fn(&T) -> Result<(), String> + Sync) -> Result<(), String> {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..SETUP_THREADS)
            .map(|_| {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return Ok(()) };
                    work(item)?;
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_else(|_| Err("a setup thread panicked".into())))
            .collect::<Result<Vec<()>, String>>()
            .map(drop)
    })
}

/// `tenants` companies of `employees` each, a Python rule in every
/// `python_every`-th, set up through the API at `base`; their integrations
/// inactive, with the default schedule.
pub(super) fn set_up(
    base: &str,
    tenants: usize,
    employees: usize,
    python_every: usize,
) -> Result<Vec<Company>, String> {
    let bytes: Vec<Vec<u8>> = PLUGINS
        .iter()
        .map(|plugin| std::fs::read(built_plugin(plugin)).map_err(|e| format!("{plugin}: {e}")))
        .collect::<Result<_, _>>()?;
    let slots: Vec<std::sync::Mutex<Option<Company>>> = (0..tenants).map(|_| Default::default()).collect();
    let numbered: Vec<(usize, &std::sync::Mutex<Option<Company>>)> = slots.iter().enumerate().collect();
    each(&numbered, |(t, slot)| {
        let company = set_up_one(base, *t, &bytes, employees, python_every)?;
        if let Ok(mut slot) = slot.lock() {
            *slot = Some(company);
        }
        if (t + 1) % 100 == 0 {
            println!("  {} tenants set up", t + 1);
        }
        Ok(())
    })?;
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .ok()
                .flatten()
                .ok_or_else(|| "a tenant was not set up".to_string())
        })
        .collect()
}

fn set_up_one(
    base: &str,
    t: usize,
    bytes: &[Vec<u8>],
    employees: usize,
    python_every: usize,
) -> Result<Company, String> {
    let (client, secret, token) = (format!("client-{t}"), format!("secret-{t}"), format!("token-{t}"));
    let hr = PersonioEmulator::start(&client, &secret).map_err(|e| e.to_string())?;
    let app = ScimEmulator::start(&token).map_err(|e| e.to_string())?;
    hr.upsert((1..=employees as u64).map(|id| employee(t, id)));
    hr.prerender();
    let tenant = request(
        base,
        OPERATOR,
        "POST",
        "/api/v1/tenants",
        Some(&json!({ "name": format!("Tenant {t}"), "owner_email": format!("owner@tenant{t}.example") })),
    )?;
    let key = tenant["key"]["secret"].as_str().ok_or("no tenant key")?.to_string();
    let python = python_every > 0 && t.is_multiple_of(python_every);
    let mut names = Vec::new();
    for (plugin, bytes) in PLUGINS.iter().zip(bytes) {
        if *plugin != "python_rule" || python {
            names.push((*plugin, upload(base, &key, bytes)?));
        }
    }
    let name = |plugin: &str| names.iter().find(|(p, _)| *p == plugin).map(|(_, n)| n.clone());
    let install = |body: Value| -> Result<String, String> {
        let installed = request(base, &key, "POST", "/api/v1/installations", Some(&body))?;
        installed["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no installation id in {installed}"))
    };
    let source = install(
        json!({ "name": "Personio", "plugin": name("personio"), "config": { "base_url": hr.base_url() },
        "secrets": { "client-id": client, "client-secret": secret }, "allowed_hosts": [hr.base_url()] }),
    )?;
    let mut rules = vec![
        install(
            json!({ "name": "Externals out", "plugin": name("scope_rule"), "config": { "exclude": [
            { "name": "externals", "all": [{ "field": "employment_type", "op": "equals", "value": "external" }] }] } }),
        )?,
        install(
            json!({ "name": "Teams", "plugin": name("team_map"), "config": { "teams": [{ "name": "{department}" }] } }),
        )?,
    ];
    if let Some(python) = name("python_rule") {
        rules.push(install(
            json!({ "name": "Python teams", "plugin": python, "config": { "prefix": "Abteilung " } }),
        )?);
    }
    let target = install(
        json!({ "name": "App", "plugin": name("scim"), "config": { "base_url": app.base_url() },
        "secrets": { "token": token }, "allowed_hosts": [app.origin()] }),
    )?;
    let integration = request(
        base,
        &key,
        "POST",
        "/api/v1/integrations",
        Some(
            &json!({ "name": "Personio to the app", "source": source, "rules": rules, "target": target,
            "options": { "deletion_threshold_percent": 100, "full_read_every_hours": 0, "page_size": 200 } }),
        ),
    )?;
    let integration = integration["id"].as_str().ok_or("no integration id")?.to_string();
    Ok(Company {
        hr,
        app,
        key,
        integration,
    })
}

/// Employee `id` of company `t`: in one of the departments, reporting to
/// the first of their ten (those to employee 1).
pub(super) fn employee(t: usize, id: u64) -> HrEmployee {
    let department = DEPARTMENTS[id as usize % DEPARTMENTS.len()];
    let mut employee = HrEmployee::new(id, &format!("Emp{id}"), &format!("Tenant{t}"), department);
    employee.supervisor_id = Some(if id % 10 == 1 { 1 } else { id - (id - 1) % 10 }).filter(|s| *s != id);
    employee
}

/// The department after `department` (a move to another team).
pub(super) fn next_department(department: Option<&str>) -> String {
    let at = DEPARTMENTS.iter().position(|d| department == Some(*d));
    DEPARTMENTS[at.map_or(0, |at| (at + 1) % DEPARTMENTS.len())].to_string()
}

/// Sets every integration's schedule to the next whole minute at least 15 s
/// away (UTC); the time it falls due.
fn due_next_minute(base: &str, companies: &[Company]) -> Result<i64, String> {
    let due = (now_ms() + 15_000 + 59_999) / 60_000 * 60_000;
    let minute = (due / 60_000) % 60;
    let hour = (due / 3_600_000) % 24;
    let cron = format!("{minute} {hour} * * *");
    each(companies, |company| {
        request(
            base,
            &company.key,
            "PATCH",
            &format!("/api/v1/integrations/{}", company.integration),
            Some(&json!({ "schedule": cron, "timezone": "UTC" })),
        )
        .map(drop)
    })?;
    let wait = due - now_ms();
    println!(
        "every schedule set to `{cron}` UTC; due in {:.0} s",
        wait as f64 / 1000.0
    );
    Ok(due)
}

fn reset(nodes: &[Node]) {
    for node in nodes {
        node.reset_peak();
    }
}

fn app_writes(companies: &[Company]) -> u64 {
    companies.iter().map(|c| c.app.writes().total()).sum()
}

/// The runs table, read directly: the benchmark waits on it.
pub(super) struct Runs {
    tokio: tokio::runtime::Runtime,
    pool: sqlx::AnyPool,
    postgres: bool,
}

impl Runs {
    pub(super) fn connect(database: &str) -> Result<Self, String> {
        sqlx::any::install_default_drivers();
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let pool = tokio
            .block_on(sqlx::any::AnyPoolOptions::new().max_connections(1).connect(database))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            tokio,
            pool,
            postgres: database.starts_with("postgres"),
        })
    }

    /// Does `start` (the requests that start the phase's runs, if any) and
    /// waits until every company's integration has a run started at or
    /// after `since` that ended; the latencies count from `from`. The
    /// instances are sampled from the outset, as runs go on while `start`
    /// still sends requests.
    #[allow(clippy::too_many_arguments)]
    fn wait(
        &self,
        name: &'static str,
        nodes: &[Node],
        since: i64,
        from: i64,
        companies: &[Company],
        writes_before: u64,
        start: impl FnOnce() -> Result<(), String> + Send,
    ) -> Result<Phase, String> {
        use sqlx::Row;
        let wanted = companies.len();
        let started = Instant::now();
        let mut instances: f64 = 0.0;
        let deadline = Instant::now() + Duration::from_secs(3600);
        let rows = std::thread::scope(|scope| {
            let mut starting = Some(scope.spawn(start));
            loop {
                std::thread::sleep(Duration::from_millis(250));
                instances = instances.max(nodes.iter().map(|n| n.metric("hrsync_plugin_instances")).sum());
                if let Some(thread) = starting.take_if(|thread| thread.is_finished()) {
                    thread
                        .join()
                        .unwrap_or_else(|_| Err("the thread starting the runs panicked".into()))?;
                }
                let rows = self
                    .tokio
                    .block_on(
                        sqlx::query(
                            "SELECT integration_id, status, finished_at, error FROM runs \
                             WHERE started_at >= $1 AND status NOT IN ('running', 'queued')",
                        )
                        .bind(since)
                        .fetch_all(&self.pool),
                    )
                    .map_err(|e| e.to_string())?;
                if rows.len() >= wanted && starting.is_none() {
                    break Ok::<_, String>(rows);
                }
                if Instant::now() > deadline {
                    return Err(format!("{name}: {} of {wanted} runs ended within an hour", rows.len()));
                }
            }
        })?;
        let mut latencies = Vec::with_capacity(rows.len());
        let mut failed = 0;
        let mut errors = std::collections::BTreeMap::new();
        let mut last = from;
        for row in &rows {
            let status: String = row.try_get("status").map_err(|e| e.to_string())?;
            let finished: i64 = row.try_get("finished_at").map_err(|e| e.to_string())?;
            if status != "succeeded" {
                failed += 1;
                let error: Option<String> = row.try_get("error").map_err(|e| e.to_string())?;
                *errors
                    .entry(format!("{status}: {}", error.unwrap_or_default()))
                    .or_insert(0) += 1;
            }
            last = last.max(finished);
            latencies.push(Duration::from_millis((finished - from).max(0) as u64));
        }
        let wall = Duration::from_millis((last - from).max(1) as u64);
        let peak_mib = nodes.iter().map(Node::peak_mib).fold(0.0, f64::max);
        let phase = Phase {
            name,
            wall,
            latencies,
            failed,
            peak_mib,
            instances,
            writes: app_writes(companies) - writes_before,
            database_bytes: 0,
        };
        println!(
            "{name}: {} runs in {:.1} s (waited {:.0} s), {} not succeeded, {} writes, peak RSS {:.0} MiB",
            phase.latencies.len(),
            wall.as_secs_f64(),
            started.elapsed().as_secs_f64(),
            failed,
            phase.writes,
            peak_mib
        );
        for (error, count) in errors {
            println!("  {count} × {error}");
        }
        reset(nodes);
        Ok(phase)
    }

    /// Runs by status, started at or after `since`.
    pub(super) fn statuses(&self, since: i64) -> Result<std::collections::BTreeMap<String, i64>, String> {
        use sqlx::Row;
        let rows = self
            .tokio
            .block_on(
                sqlx::query("SELECT status, COUNT(*) AS n FROM runs WHERE started_at >= $1 GROUP BY status")
                    .bind(since)
                    .fetch_all(&self.pool),
            )
            .map_err(|e| e.to_string())?;
        rows.iter()
            .map(|row| Ok((row.try_get("status")?, row.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| e.to_string())
    }

    /// Notes the database's size in the last phase.
    fn note_size(&self, phases: &mut [Phase], dir: &Path) -> Result<(), String> {
        let size = self.database_size(dir)?;
        if let Some(phase) = phases.last_mut() {
            phase.database_bytes = size;
        }
        Ok(())
    }

    fn database_size(&self, dir: &Path) -> Result<u64, String> {
        if !self.postgres {
            let file = |name: &str| std::fs::metadata(dir.join(name)).map(|m| m.len()).unwrap_or(0);
            return Ok(file("hrsync.db") + file("hrsync.db-wal"));
        }
        use sqlx::Row;
        let row = self
            .tokio
            .block_on(
                sqlx::query(
                    "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) AS size FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'",
                )
                .fetch_one(&self.pool),
            )
            .map_err(|e| e.to_string())?;
        let size: i64 = row.try_get("size").map_err(|e| e.to_string())?;
        Ok(size.max(0) as u64)
    }
}
