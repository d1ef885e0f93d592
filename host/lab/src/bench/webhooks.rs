//! `hrsync-lab bench webhooks`: how long a termination in the HR system takes
//! to reach the app. `hrsync serve`'s application on loopback (SQLite, the
//! real plugins), the BambooHR emulator sending its signed webhooks, a SCIM
//! app; set up over the admin API as an admin would. Then one termination
//! after another, each timed from the change in BambooHR until the account
//! is inactive in the app.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::json;

use hrsync_server::api::ApiSettings;

use super::served::{call, post, serve, OPERATOR};
use super::{built_plugin, Distribution};
use hrsync_emulators::bamboohr::{BambooEmployee, BambooHrEmulator};
use hrsync_emulators::scim::ScimEmulator;

pub fn run(employees: u64, terminations: u64) -> Result<ExitCode, String> {
    if terminations == 0 || terminations > employees {
        return Err(format!(
            "--terminations must be between 1 and --employees ({employees})"
        ));
    }
    let dir = tempfile_dir()?;
    let (base, _server) = serve(
        &dir.join("cache"),
        &format!("sqlite://{}", dir.join("hrsync.db").display()),
        ApiSettings::default(),
    )?;
    let hr = BambooHrEmulator::start("bench-api-key").map_err(|e| e.to_string())?;
    let scim = ScimEmulator::start("bench-token").map_err(|e| e.to_string())?;
    hr.upsert(
        (1..=employees).map(|id| BambooEmployee::new(id, &format!("E{id}"), "Bench", "IT")),
        60_000,
    );

    let tenant = post(
        &base,
        OPERATOR,
        "/api/v1/tenants",
        json!({ "name": "Bench", "owner_email": "bench@example.com" }),
    )?;
    let key = tenant["key"]["secret"].as_str().ok_or("no key")?.to_string();
    for plugin in ["bamboohr", "scim"] {
        let bytes = std::fs::read(built_plugin(plugin))
            .map_err(|e| format!("{plugin}: {e} (build the plugins first: scripts/build-plugins)"))?;
        call(&base, &key, "/api/v1/plugins", Some(&bytes), "application/wasm")?;
    }
    let source = post(
        &base,
        &key,
        "/api/v1/installations",
        json!({ "name": "BambooHR", "plugin": "bamboohr", "config": { "base_url": hr.base_url() },
                "secrets": { "api-key": "bench-api-key", "webhook-key": "bench-webhook-key" },
                "allowed_hosts": [hr.base_url()] }),
    )?;
    let target = post(
        &base,
        &key,
        "/api/v1/installations",
        json!({ "name": "SCIM", "plugin": "scim", "config": { "base_url": scim.base_url() },
                "secrets": { "token": "bench-token" }, "allowed_hosts": [scim.origin()] }),
    )?;
    let integration = post(
        &base,
        &key,
        "/api/v1/integrations",
        json!({ "name": "Bench", "source": source["id"], "target": target["id"],
                "options": { "deletion_threshold_percent": 100 } }),
    )?;
    let id = integration["id"].as_str().ok_or("no integration id")?.to_string();
    post(&base, &key, &format!("/api/v1/integrations/{id}/activate"), json!({}))?;
    let email = |n: u64| format!("e{n}.bench@example.com");
    let deadline = Instant::now() + Duration::from_secs(120);
    while scim.user_by_name(&email(employees)).is_none() {
        if Instant::now() > deadline {
            return Err("the first sync did not finish in 2 minutes".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    hr.set_webhook(&format!("{base}/hooks/{id}"), "bench-webhook-key");
    println!(
        "{employees} employees in BambooHR synced into the SCIM app; {terminations} terminations, one after another:"
    );

    let mut latencies = Vec::new();
    for n in 1..=terminations {
        let started = Instant::now();
        hr.terminate(n);
        loop {
            let inactive = scim
                .user_by_name(&email(n))
                .and_then(|u| u["active"].as_bool())
                .is_some_and(|active| !active);
            if inactive {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!("termination {n} did not reach the app in 30 s"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        latencies.push(started.elapsed());
    }
    let max = latencies.iter().max().copied().unwrap_or_default();
    let distribution = Distribution::of(latencies);
    println!(
        "termination in BambooHR -> account inactive in the app: p50 {:.0} ms, p99 {:.0} ms, min {:.0} ms, max {:.0} ms",
        distribution.median.as_secs_f64() * 1000.0,
        distribution.p99.as_secs_f64() * 1000.0,
        distribution.min.as_secs_f64() * 1000.0,
        max.as_secs_f64() * 1000.0,
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExitCode::SUCCESS)
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(hrsync_store::new_id("hrsync-bench"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}
