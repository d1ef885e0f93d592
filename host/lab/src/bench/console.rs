//! `hrsync-lab bench console`: how fast the admin console answers with a
//! tenant's history in the store. `hrsync serve`'s application on loopback
//! (SQLite, or PostgreSQL with `--database-url`), one tenant with
//! `--integrations` integrations (Personio → team map → SCIM, made through
//! the admin API) and `--runs` finished runs among them (written through
//! the store, as the runs would have), a member signed in to the console;
//! then each page asked for `--samples` times, in turn. Prints p50, p99
//! and the slowest answer per page.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::json;

use super::served::{call, post, serve, OPERATOR};
use super::{built_plugin, Distribution};
use hrsync_server::api::quota::Quotas;
use hrsync_server::api::ApiSettings;

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(120))
        .build()
}

/// The value of a cookie a response sets.
fn cookie(response: &ureq::Response, name: &str) -> Option<String> {
    response
        .all("set-cookie")
        .into_iter()
        .find_map(|h| Some(h.strip_prefix(&format!("{name}="))?.split(';').next()?.to_string()))
}

/// Signs in to the console with `key`; the session cookie.
fn sign_in(base: &str, key: &str) -> Result<String, String> {
    let page = agent()
        .get(&format!("{base}/sign-in"))
        .call()
        .map_err(|e| e.to_string())?;
    let token = cookie(&page, "hrsync_sign_in").ok_or("no sign-in cookie")?;
    let signed = agent()
        .post(&format!("{base}/sign-in"))
        .set("cookie", &format!("hrsync_sign_in={token}"))
        .send_form(&[("key", key), ("token", &token)])
        .map_err(|e| e.to_string())?;
    cookie(&signed, "hrsync_session").ok_or_else(|| "signing in opened no session".to_string())
}

fn write_runs(database: &str, integrations: &[String], runs: usize) -> Result<(), String> {
    use sqlx::any::AnyPoolOptions;
    sqlx::any::install_default_drivers();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    tokio.block_on(async {
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(database)
            .await
            .map_err(|e| e.to_string())?;
        let counts = r#"{"create-account":3,"update-account":12,"add-member":4,"failed":0,"conflicts":0}"#;
        let now = hrsync_model::clock::now_ms();
        const ROWS: usize = 500;
        for chunk in (0..runs).collect::<Vec<_>>().chunks(ROWS) {
            let mut sql = String::from(
                "INSERT INTO runs (id, integration_id, run_trigger, started_by, status, started_at, finished_at, error, counts) VALUES ",
            );
            for (i, _) in chunk.iter().enumerate() {
                let b = i * 9;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9
                ));
            }
            let mut query = sqlx::query(&sql);
            for &n in chunk {
                let failed = n % 50 == 0;
                let started_at = now - (runs - n) as i64 * 60_000;
                query = query
                    .bind(hrsync_store::new_id("run"))
                    .bind(integrations[n % integrations.len()].clone())
                    .bind("schedule")
                    .bind(None::<String>)
                    .bind(if failed { "failed" } else { "succeeded" })
                    .bind(started_at)
                    .bind(started_at + 4_000)
                    .bind(failed.then(|| "reading the source: 503 Service Unavailable".to_string()))
                    .bind(counts);
            }
            query.execute(&pool).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

pub fn run(integrations: usize, runs: usize, samples: usize, database_url: Option<String>) -> Result<ExitCode, String> {
    if integrations == 0 || samples == 0 {
        return Err("--integrations and --samples must be at least 1".into());
    }
    let dir = std::env::temp_dir().join(hrsync_store::new_id("hrsync-bench-console"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let scratch = super::BenchDatabase::open(database_url.as_deref(), &dir)?;
    let settings = ApiSettings {
        quotas: Quotas {
            integrations: integrations as u64 + 10,
            ..Quotas::default()
        },
        ..ApiSettings::default()
    };
    let result = measure(&dir, &scratch.url, settings, integrations, runs, samples);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(
    dir: &std::path::Path,
    database: &str,
    settings: ApiSettings,
    integrations: usize,
    runs: usize,
    samples: usize,
) -> Result<ExitCode, String> {
    let (base, _server) = serve(&dir.join("cache"), database, settings)?;
    let tenant = post(
        &base,
        OPERATOR,
        "/api/v1/tenants",
        json!({ "name": "Bench GmbH", "owner_email": "owner@bench.example" }),
    )?;
    let key = tenant["key"]["secret"].as_str().ok_or("no key")?.to_string();
    for plugin in ["personio", "scim", "team_map"] {
        let bytes = std::fs::read(built_plugin(plugin))
            .map_err(|e| format!("{plugin}: {e} (build the plugins first: scripts/build-plugins)"))?;
        call(&base, &key, "/api/v1/plugins", Some(&bytes), "application/wasm")?;
    }
    let install = |body| post(&base, &key, "/api/v1/installations", body);
    let source = install(json!({ "name": "Personio", "plugin": "personio",
        "secrets": { "client-id": "bench", "client-secret": "bench" }, "allowed_hosts": ["https://api.personio.de"] }))?;
    let teams = install(json!({ "name": "Teams", "plugin": "team-map",
        "config": { "teams": [{ "name": "Abteilung {department}" }, { "name": "{supervisor.first_name} {supervisor.last_name}s Team" }] } }))?;
    let target = install(json!({ "name": "App", "plugin": "scim",
        "config": { "base_url": "https://app.example.com/scim/v2" }, "secrets": { "token": "bench" },
        "allowed_hosts": ["https://app.example.com"] }))?;
    let started = Instant::now();
    let mut ids = Vec::with_capacity(integrations);
    for n in 0..integrations {
        let created = post(
            &base,
            &key,
            "/api/v1/integrations",
            json!({ "name": format!("Integration {n:04}"), "source": source["id"], "rules": [teams["id"]],
                    "target": target["id"] }),
        )?;
        ids.push(created["id"].as_str().ok_or("no integration id")?.to_string());
    }
    println!(
        "{integrations} integrations made through the API in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The history: finished runs spread over the integrations, a day
    // apart, one in fifty failed. Written as rows in bulk (the columns of
    // host/store/migrations/): a run at a time would take the benchmark
    // minutes to set up.
    let started = Instant::now();
    write_runs(database, &ids, runs)?;
    println!("{runs} runs written in {:.1} s", started.elapsed().as_secs_f64());

    let session = sign_in(&base, &key)?;
    let first = &ids[0];
    let newest_run = serde_json::from_str::<serde_json::Value>(
        &agent()
            .get(&format!("{base}/api/v1/runs?integration={first}&limit=1"))
            .set("authorization", &format!("Bearer {key}"))
            .call()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?[0]["id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let target_id = target["id"].as_str().unwrap_or("");
    let pages = [
        ("Integrations", "/integrations".to_string()),
        ("Integration overview", format!("/integrations/{first}")),
        ("Runs tab", format!("/integrations/{first}/runs")),
        ("Run side panel", format!("/runs/{newest_run}")),
        ("Rules", format!("/integrations/{first}/rules")),
        ("New integration", "/integrations/new".to_string()),
        ("Plugins", "/plugins".to_string()),
        ("Installation", format!("/installations/{target_id}")),
        ("Members and keys", "/members".to_string()),
        ("Audit log", "/audit".to_string()),
        (
            "Audit log, filtered",
            "/audit?action=integration.create&actor=owner".to_string(),
        ),
        ("Audit Verify", "/audit?verify=1".to_string()),
    ];
    println!(
        "\n{:<24} {:>9} {:>9} {:>9} {:>10}",
        "page", "p50 ms", "p99 ms", "max ms", "bytes"
    );
    let mut slowest = Duration::ZERO;
    for (name, path) in &pages {
        let mut timings = Vec::with_capacity(samples);
        let mut bytes = 0;
        for _ in 0..samples {
            let asked = Instant::now();
            let response = agent()
                .get(&format!("{base}{path}"))
                .set("cookie", &format!("hrsync_session={session}"))
                .call()
                .map_err(|e| format!("{path}: {e}"))?;
            bytes = response.into_string().map_err(|e| e.to_string())?.len();
            timings.push(asked.elapsed());
        }
        let max = timings.iter().max().copied().unwrap_or_default();
        let spread = Distribution::of(timings);
        slowest = slowest.max(spread.p99);
        println!(
            "{name:<24} {:>9.1} {:>9.1} {:>9.1} {bytes:>10}",
            spread.median.as_secs_f64() * 1e3,
            spread.p99.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }
    println!(
        "\n{integrations} integrations, {runs} runs: the slowest page's p99 is {:.0} ms (target: 100 ms)",
        slowest.as_secs_f64() * 1e3
    );
    Ok(ExitCode::SUCCESS)
}
