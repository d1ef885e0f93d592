//! `hrsync-lab bench memory`: what one run costs the server in memory, by
//! the language of its plugins. One `hrsync serve` (SQLite), one tenant,
//! three integrations of the same Personio emulator and SCIM app: Rust
//! plugins only (Personio → scope rule → team map → SCIM), the same with a
//! Python rule, and with a JavaScript rule. Each runs once cold (the
//! plugins compiled or loaded from the cache), then the server settles and
//! its resident memory is taken as idle; then `runs` full runs one after
//! another, and the highest resident memory above idle is the cost of a
//! run. Last, the same number of Rust runs at once (other integrations),
//! the peak above idle divided by them.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::built_plugin;
use super::in_temp_dir;
use super::nodes::{request, upload, Node};
use super::served::OPERATOR;
use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::ScimEmulator;

const PLUGINS: &[&str] = &["personio", "scope_rule", "team_map", "python_rule", "js_rule", "scim"];

pub fn run(employees: usize, runs: usize) -> Result<ExitCode, String> {
    in_temp_dir("memory", PLUGINS, |dir| {
        let node = Node::start(
            &format!("sqlite://{}", dir.join("hrsync.db").display()),
            dir,
            "node",
            &[("HRSYNC_MAX_CONCURRENT_RUNS", runs.max(1).to_string())],
        )?;
        let hr = PersonioEmulator::start("mem-client", "mem-secret").map_err(|e| e.to_string())?;
        hr.upsert((1..=employees as u64).map(|id| HrEmployee::new(id, &format!("Emp{id}"), "Memory", "Engineering")));
        let tenant = request(
            &node.base,
            OPERATOR,
            "POST",
            "/api/v1/tenants",
            Some(&json!({ "name": "Memory", "owner_email": "owner@memory.example" })),
        )?;
        let key = tenant["key"]["secret"].as_str().ok_or("no key")?.to_string();
        let mut names = Vec::new();
        for plugin in PLUGINS {
            let bytes = std::fs::read(built_plugin(plugin)).map_err(|e| format!("{plugin}: {e}"))?;
            names.push(upload(&node.base, &key, &bytes)?);
        }
        let install = |body: Value| -> Result<String, String> {
            let installed = request(&node.base, &key, "POST", "/api/v1/installations", Some(&body))?;
            installed["id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{installed}"))
        };
        let source = install(
            json!({ "name": "Personio", "plugin": names[0], "config": { "base_url": hr.base_url() },
            "secrets": { "client-id": "mem-client", "client-secret": "mem-secret" }, "allowed_hosts": [hr.base_url()] }),
        )?;
        let scope = install(json!({ "name": "Scope", "plugin": names[1], "config": { "exclude": [
            { "name": "externals", "all": [{ "field": "employment_type", "op": "equals", "value": "external" }] }] } }))?;
        let teams = install(
            json!({ "name": "Teams", "plugin": names[2], "config": { "teams": [{ "name": "{department}" }] } }),
        )?;
        let python = install(json!({ "name": "Python", "plugin": names[3], "config": {} }))?;
        let js = install(json!({ "name": "JavaScript", "plugin": names[4], "config": {} }))?;
        // Each integration writes to an app of its own, so every run has
        // the same work.
        let mut apps = Vec::new();
        let mut integration = |name: &str, rules: Vec<&String>| -> Result<String, String> {
            let app = ScimEmulator::start("mem-token").map_err(|e| e.to_string())?;
            let target = install(json!({ "name": format!("App {name}"), "plugin": names[5],
                "config": { "base_url": app.base_url() }, "secrets": { "token": "mem-token" }, "allowed_hosts": [app.origin()] }))?;
            apps.push(app);
            let created = request(
                &node.base,
                &key,
                "POST",
                "/api/v1/integrations",
                Some(&json!({
                "name": name, "source": source, "rules": rules, "target": target,
                "options": { "deletion_threshold_percent": 100, "full_read_every_hours": 0 } })),
            )?;
            created["id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{created}"))
        };
        let cases = [
            ("Rust plugins", integration("Rust", vec![&scope, &teams])?),
            (
                "with a Python rule",
                integration("Python", vec![&scope, &teams, &python])?,
            ),
            (
                "with a JavaScript rule",
                integration("JavaScript", vec![&scope, &teams, &js])?,
            ),
        ];
        let parallel: Vec<String> = (0..runs)
            .map(|n| integration(&format!("Rust {n}"), vec![&scope, &teams]))
            .collect::<Result<_, _>>()?;
        let start = |id: &str| -> Result<String, String> {
            let started = request(
                &node.base,
                &key,
                "POST",
                &format!("/api/v1/integrations/{id}/sync"),
                Some(&json!({ "full": true })),
            )?;
            started["run_id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("no run id in {started}"))
        };
        let sync = |id: &str| wait_for(&node, &key, &start(id)?);
        println!("{employees} employees per run; idle is the server's resident memory once it settled after a first run of each");
        println!(
            "| {:<26} | {:>13} | {:>13} | {:>12} |",
            "run", "cold +MiB", "warm +MiB", "idle MiB"
        );
        println!("|{:-<28}|{:->15}|{:->15}|{:->14}|", "", "", "", "");
        for (name, id) in &cases {
            let before = settle(&node);
            node.reset_peak();
            sync(id)?;
            let cold = node.peak_mib() - before;
            let idle = settle(&node);
            let mut warm: f64 = 0.0;
            for _ in 0..runs.max(1) {
                node.reset_peak();
                sync(id)?;
                warm = warm.max(node.peak_mib() - idle);
            }
            println!("| {name:<26} | {cold:>13.1} | {warm:>13.1} | {idle:>12.0} |");
        }
        if runs > 1 {
            for id in &parallel {
                sync(id)?;
            }
            let idle = settle(&node);
            node.reset_peak();
            let started: Vec<String> = parallel.iter().map(|id| start(id)).collect::<Result<_, _>>()?;
            for run in &started {
                wait_for(&node, &key, run)?;
            }
            let each = (node.peak_mib() - idle) / runs as f64;
            println!(
                "| {:<26} | {:>13} | {each:>13.1} | {idle:>12.0} |",
                format!("{runs} Rust runs at once, each"),
                ""
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Waits a moment for the server to return freed memory; its RSS then.
fn settle(node: &Node) -> f64 {
    std::thread::sleep(Duration::from_millis(1500));
    node.rss_mib()
}

fn wait_for(node: &Node, key: &str, run: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let detail = request(&node.base, key, "GET", &format!("/api/v1/runs/{run}"), None)?;
        match detail["run"]["status"].as_str() {
            Some("succeeded") => return Ok(()),
            Some("running") | Some("queued") if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            other => return Err(format!("run {run} ended {other:?}: {}", detail["run"]["error"])),
        }
    }
}
