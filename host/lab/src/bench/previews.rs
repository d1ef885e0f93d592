//! `hrsync-lab bench previews`: what an integrator waits for before a run —
//! a full dry run with declarative rules and with the same rules as a Rhai
//! script, and the what-if "also exclude people on leave" — through the
//! `hrsync` binary, against the Personio and SCIM emulators (the SCIM app
//! synced first, as an integrator's would be).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use super::built_plugin;
use super::sync::{employee, integration, measure, Measured};
use hrsync_emulators::personio::PersonioEmulator;
use hrsync_emulators::scim::ScimEmulator;
use hrsync_runtime::{Runtime, RuntimeOptions};

const PLUGINS: &[&str] = &["personio", "scope_rule", "team_map", "script_rule", "scim"];

/// Externals out; teams by department and by supervisor.
const SCRIPT: &str = r#"
fn exclude(e) {
    if e.employment_type == "external" { return "externals"; }
}
fn teams(e) {
    let teams = ["Abteilung " + e.department];
    if e.supervisor != () {
        teams.push(`${e.supervisor.first_name} ${e.supervisor.last_name}s Team`);
    }
    teams
}
"#;

pub fn run(employees: usize) -> Result<ExitCode, String> {
    super::in_temp_dir("previews", PLUGINS, |dir| bench(employees, dir))
}

fn bench(employees: usize, dir: &Path) -> Result<ExitCode, String> {
    let hr = PersonioEmulator::start("bench-client", "bench-secret").map_err(|e| e.to_string())?;
    let app = ScimEmulator::start("bench-token").map_err(|e| e.to_string())?;
    hr.upsert((1..=employees as u64).map(employee));
    hr.prerender();
    let cache = dir.join("cache");
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.clone()),
        ..RuntimeOptions::default()
    })
    .map_err(|e| e.to_string())?;
    let started = Instant::now();
    for name in PLUGINS {
        runtime.load_file(&built_plugin(name)).map_err(|e| e.to_string())?;
    }
    println!(
        "{employees} employees in the Personio emulator; plugins compiled into the cache in {:.1} s (not part of any phase)\n",
        started.elapsed().as_secs_f64()
    );
    let externals =
        r#"{ name = "externals", all = [{ field = "employment_type", op = "equals", value = "external" }] }"#;
    let on_leave = r#"{ name = "on leave", all = [{ field = "status", op = "equals", value = "leave" }] }"#;
    let declarative = |exclude: &str| {
        format!(
            r#"[[rules]]
plugin = "{scope}"
[rules.config]
exclude = [{exclude}]

[[rules]]
plugin = "{teams}"
[rules.config]
teams = [{{ name = "Abteilung {{department}}" }}, {{ name = "{{supervisor.first_name}} {{supervisor.last_name}}s Team" }}]
"#,
            scope = built_plugin("scope_rule").display(),
            teams = built_plugin("team_map").display(),
        )
    };
    let scripted = format!(
        "[[rules]]\nplugin = \"{}\"\n[rules.config]\nscript = '''{SCRIPT}'''\n",
        built_plugin("script_rule").display()
    );
    // The three files share the database beside them (`hrsync.db`): the
    // integration's state, as its drafts would.
    let write = |name: &str, rules: &str| -> Result<std::path::PathBuf, String> {
        let path = dir.join(name);
        let text = integration("bench-previews", &hr, &app, rules, "deletion_threshold_percent = 50");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        Ok(path)
    };
    let current = write("current.toml", &declarative(externals))?;
    let script = write("script.toml", &scripted)?;
    let draft = write("draft.toml", &declarative(&format!("{externals}, {on_leave}")))?;
    let path = |p: &std::path::PathBuf| p.display().to_string();
    let phase = |config: &Path, args: &[&str]| measure(&hr, &app, config, &cache, args);

    let dry_declarative = phase(&current, &["--dry-run", "--full"])?;
    let dry_script = phase(&script, &["--dry-run", "--full"])?;
    let first = phase(&current, &[])?;
    let draft_path = path(&draft);
    let what_if = phase(&current, &["--what-if", &draft_path])?;

    println!(
        "{:<52} {:>8} {:>12} {:>9} {:>12}",
        "phase", "wall s", "employees/s", "writes", "peak RSS MiB"
    );
    let row = |name: &str, m: &Measured| {
        println!(
            "{:<52} {:>8.2} {:>12.0} {:>9} {:>12.1}",
            name,
            m.wall.as_secs_f64(),
            employees as f64 / m.wall.as_secs_f64(),
            m.app_writes,
            m.peak_mib
        );
    };
    row("full dry run, app empty: scope + team map", &dry_declarative);
    row("full dry run, app empty: the same as a Rhai script", &dry_script);
    row("first sync: scope + team map", &first);
    row("what-if: also exclude people on leave", &what_if);
    println!();
    for m in [&dry_declarative, &dry_script, &first] {
        println!("  {}", m.first_line);
    }
    println!("\nthe what-if's table:");
    for line in what_if.output.lines().take(10) {
        println!("  {line}");
    }
    Ok(ExitCode::SUCCESS)
}
