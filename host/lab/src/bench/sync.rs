//! `hrsync-lab bench sync`: whole runs at volume. A Personio emulator with
//! 100,000 employees and a SCIM app run on loopback in this process; each
//! phase is `hrsync sync --config FILE` in a child process, exactly what an
//! admin runs, so its wall time and peak RSS are the host's alone.
//!
//! The data is dirty as real HR data is: 1% of the employees have an
//! identity problem (emulators/dirty.rs: shared e-mails, rehires, missing
//! and invalid e-mails, unknown supervisors, cycles, ...), so the steady
//! state is measured with conflicts reported on every run.
//!
//! Phases: the first sync (every account created, teams, managers), steady
//! state with a full read, steady state with an incremental read, and 1% of
//! the employees changed (department moves, renames, leavers) read
//! incrementally. The changes leave out the employees in an identity
//! conflict: a change to one of them makes the run read everyone.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use super::built_plugin;
use hrsync_emulators::dirty::{spoil, PROBLEMS};
use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::ScimEmulator;
use hrsync_runtime::{Runtime, RuntimeOptions};

const PLUGINS: &[&str] = &["personio", "scope_rule", "team_map", "scim"];
const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "People",
    "Support",
    "Legal",
    "Operations",
    "Product",
    "Design",
];

/// What one child run used.
pub(super) struct Measured {
    pub(super) wall: Duration,
    pub(super) peak_mib: f64,
    pub(super) first_line: String,
    pub(super) hr_calls: u64,
    pub(super) app_calls: u64,
    pub(super) app_writes: u64,
    pub(super) creates: u64,
    /// Everything the run printed.
    pub(super) output: String,
}

pub fn run(employees: usize) -> Result<ExitCode, String> {
    super::in_temp_dir("sync", PLUGINS, |dir| bench(employees, dir))
}

fn bench(employees: usize, dir: &Path) -> Result<ExitCode, String> {
    let hr = PersonioEmulator::start("bench-client", "bench-secret").map_err(|e| e.to_string())?;
    let app = ScimEmulator::start("bench-token").map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut company: Vec<HrEmployee> = (1..=employees as u64).map(employee).collect();
    // 1% in all: a ninth of it in each class of problem.
    let dirt = spoil(&mut company, 0.01 / PROBLEMS.len() as f64, 1);
    let dirty = dirt.all();
    hr.upsert(company);
    hr.prerender();
    println!(
        "{employees} employees in the Personio emulator, {} of them ({:.1}%) with identity problems ({:.1} s to \
         generate and render); SCIM app empty",
        dirty.len(),
        dirty.len() as f64 * 100.0 / employees as f64,
        started.elapsed().as_secs_f64()
    );

    let cache = dir.join("cache");
    let config = dir.join("integration.toml");
    std::fs::write(&config, integration_file(&hr, &app)).map_err(|e| e.to_string())?;
    // Compile once so that every phase loads the plugins from the cache,
    // as a long-running host would.
    let started = Instant::now();
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.clone()),
        ..RuntimeOptions::default()
    })
    .map_err(|e| e.to_string())?;
    for name in PLUGINS {
        runtime.load_file(&built_plugin(name)).map_err(|e| e.to_string())?;
    }
    println!(
        "plugins compiled into the cache in {:.1} s (not part of any phase)\n",
        started.elapsed().as_secs_f64()
    );

    let phase = |args: &[&str]| measure(&hr, &app, &config, &cache, args);
    let first = phase(&[])?;
    let steady_full = phase(&["--full"])?;
    let steady_incremental = phase(&[])?;
    let changed = change_one_percent(&hr, employees, &dirty);
    let one_percent = phase(&[])?;

    println!(
        "{:<34} {:>8} {:>12} {:>10} {:>9} {:>9} {:>10} {:>12}",
        "phase", "wall s", "employees/s", "creates/s", "writes", "HR calls", "app calls", "peak RSS MiB"
    );
    let row = |name: &str, m: &Measured, read: usize| {
        println!(
            "{:<34} {:>8.2} {:>12.0} {:>10.0} {:>9} {:>9} {:>10} {:>12.1}",
            name,
            m.wall.as_secs_f64(),
            read as f64 / m.wall.as_secs_f64(),
            m.creates as f64 / m.wall.as_secs_f64(),
            m.app_writes,
            m.hr_calls,
            m.app_calls,
            m.peak_mib
        );
    };
    row("first sync (full read)", &first, employees);
    row("steady state (full read)", &steady_full, employees);
    row("steady state (incremental read)", &steady_incremental, 0);
    row(
        &format!("1% changed ({changed} employees, incr.)"),
        &one_percent,
        changed,
    );
    println!();
    for m in [&first, &steady_full, &steady_incremental, &one_percent] {
        println!("  {}", m.first_line);
    }

    let peak = [&first, &steady_full, &steady_incremental, &one_percent]
        .iter()
        .map(|m| m.peak_mib)
        .fold(0.0, f64::max);
    let creates_per_second = first.creates as f64 / first.wall.as_secs_f64();
    println!("\ntargets (2-core machine, 100,000 employees):");
    let check = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "  full steady-state run <= 6 s with zero writes: {:.2} s, {} writes — {}",
        steady_full.wall.as_secs_f64(),
        steady_full.app_writes,
        check(steady_full.wall <= Duration::from_secs(6) && steady_full.app_writes == 0)
    );
    println!(
        "  incremental steady-state run <= 1 s: {:.2} s, {} writes — {}",
        steady_incremental.wall.as_secs_f64(),
        steady_incremental.app_writes,
        check(steady_incremental.wall <= Duration::from_secs(1) && steady_incremental.app_writes == 0)
    );
    println!(
        "  first sync >= 2,000 creates/s: {creates_per_second:.0} creates/s ({} creates, {} writes in all) — {}",
        first.creates,
        first.app_writes,
        check(creates_per_second >= 2000.0)
    );
    let peak_mb = peak * 1.048_576;
    println!(
        "  peak RSS <= 300 MB: {peak:.0} MiB = {peak_mb:.0} MB (10^6 bytes) — {}",
        check(peak_mb <= 300.0)
    );
    Ok(ExitCode::SUCCESS)
}

/// Employee `id`: ten departments, a management tree (ten reports each),
/// 2% externals (excluded), some onboarding, on leave or gone.
pub(super) fn employee(id: u64) -> HrEmployee {
    let department = DEPARTMENTS[(id % DEPARTMENTS.len() as u64) as usize];
    let mut e = HrEmployee::new(id, &format!("First{id}"), &format!("Last{id}"), department);
    e.email = Some(format!("employee{id}@example.com"));
    e.supervisor_id = (id > 1).then_some(id / 10).filter(|s| *s >= 1);
    e.employment_type = if id % 50 == 7 { "external" } else { "internal" }.into();
    e.status = match id % 200 {
        3 => "onboarding",
        5 => "leave",
        9 => "inactive",
        _ => "active",
    }
    .into();
    e.office = Some(["Berlin", "Munich", "Madrid", "Milan"][(id % 4) as usize].into());
    e.last_modified_ms -= 3_600_000;
    e
}

/// Changes every 100th employee (but the dirty ones): half move department,
/// four in ten are renamed, one in ten leaves. Returns how many changed.
fn change_one_percent(hr: &PersonioEmulator, employees: usize, dirty: &HashSet<u64>) -> usize {
    let mut changed = 0;
    for id in (1..=employees as u64).filter(|id| id % 100 == 50 && !dirty.contains(id)) {
        let kind = (id / 100) % 10;
        hr.update(id, |e| match kind {
            0..=4 => e.department = Some(DEPARTMENTS[((id / 100 + 3) % 10) as usize].into()),
            5..=8 => e.last_name = format!("Renamed{id}"),
            _ => e.status = "inactive".into(),
        });
        changed += 1;
    }
    changed
}

/// Personio → externals out, teams by department → SCIM.
fn integration_file(hr: &PersonioEmulator, app: &ScimEmulator) -> String {
    let rules = format!(
        r#"[[rules]]
plugin = "{scope}"
[rules.config]
exclude = [{{ name = "externals", all = [{{ field = "employment_type", op = "equals", value = "external" }}] }}]

[[rules]]
plugin = "{teams}"
[rules.config]
teams = [{{ name = "Abteilung {{department}}" }}]
"#,
        scope = built_plugin("scope_rule").display(),
        teams = built_plugin("team_map").display(),
    );
    integration("bench-personio-to-scim", hr, app, &rules, "")
}

/// An integration file from the Personio emulator through `rules` to the
/// SCIM app, its secrets from the environment `measure` sets; `options`
/// are added to `[options]`.
pub(super) fn integration(name: &str, hr: &PersonioEmulator, app: &ScimEmulator, rules: &str, options: &str) -> String {
    format!(
        r#"name = "{name}"

[source]
plugin = "{personio}"
allowed_hosts = ["{hr}"]
[source.config]
base_url = "{hr}"
[source.secrets]
client-id = {{ env = "BENCH_PERSONIO_CLIENT_ID" }}
client-secret = {{ env = "BENCH_PERSONIO_CLIENT_SECRET" }}

{rules}
[target]
plugin = "{scim}"
allowed_hosts = ["{app_origin}"]
[target.config]
base_url = "{app}"
[target.secrets]
token = {{ env = "BENCH_SCIM_TOKEN" }}

[options]
page_size = 200
{options}
"#,
        personio = built_plugin("personio").display(),
        scim = built_plugin("scim").display(),
        hr = hr.base_url(),
        app = app.base_url(),
        app_origin = app.origin(),
    )
}

/// The `hrsync` binary built beside this one (`cargo build --release -p
/// hrsync -p hrsync-lab`, as `scripts/bench` does): the benchmark measures
/// the product's own process, not the lab's.
pub(super) fn hrsync_binary() -> Result<PathBuf, String> {
    let lab = std::env::current_exe().map_err(|e| e.to_string())?;
    let exe = lab.with_file_name(format!("hrsync{}", std::env::consts::EXE_SUFFIX));
    if exe.exists() {
        Ok(exe)
    } else {
        Err(format!(
            "{} is missing: build it beside hrsync-lab (cargo build --release -p hrsync -p hrsync-lab)",
            exe.display()
        ))
    }
}

/// Runs `hrsync sync --config CONFIG ARGS` as a child and measures it.
pub(super) fn measure(
    hr: &PersonioEmulator,
    app: &ScimEmulator,
    config: &Path,
    cache: &PathBuf,
    args: &[&str],
) -> Result<Measured, String> {
    let exe = hrsync_binary()?;
    let (hr_before, app_before, writes_before) = (hr.counts(), app.requests(), app.writes());
    let started = Instant::now();
    let mut child = Command::new(exe)
        .arg("sync")
        .arg("--config")
        .arg(config)
        .args(args)
        .env("HRSYNC_CACHE_DIR", cache)
        .env("BENCH_PERSONIO_CLIENT_ID", "bench-client")
        .env("BENCH_PERSONIO_CLIENT_SECRET", "bench-secret")
        .env("BENCH_SCIM_TOKEN", "bench-token")
        .env_remove("HRSYNC_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut output = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut output).map_err(|e| e.to_string())?;
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let wall = started.elapsed();
    if !status.success() {
        return Err(format!(
            "`hrsync sync {}` exited with {status}:\n{output}",
            args.join(" ")
        ));
    }
    let first_line = output.lines().next().unwrap_or_default().to_string();
    // The child reports its own peak (VmHWM), which, unlike the rusage of
    // a child, does not count the memory of this process it was forked from.
    let peak_mib = first_line
        .rsplit_once("peak memory ")
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse::<f64>().ok())
        .ok_or_else(|| format!("no peak memory in `{first_line}`"))?;
    let (hr_after, writes_after) = (hr.counts(), app.writes());
    Ok(Measured {
        wall,
        peak_mib,
        first_line,
        hr_calls: (hr_after.auth + hr_after.employee_pages) - (hr_before.auth + hr_before.employee_pages),
        app_calls: app.requests() - app_before,
        app_writes: writes_after.total() - writes_before.total(),
        creates: writes_after.user_posts - writes_before.user_posts,
        output,
    })
}
