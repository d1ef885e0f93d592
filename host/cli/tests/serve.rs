//! Two `hrsync serve` processes on one PostgreSQL database, as in a
//! deployment with replicas: both schedule and both take "sync now", and
//! still an integration has one run at a time and each scheduled slot runs
//! once. SIGTERM stops a server cleanly.

use std::time::{Duration, Instant};

use hrsync_emulators::built_plugin;
use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::ScimEmulator;
use serde_json::{json, Value};

mod common;
use common::{postgres_schema, Serve, KEY, OPERATOR};

/// The tenant Acme created through `creator`, the Personio and SCIM plugins
/// uploaded through `uploader`: the owner's key.
fn tenant_with_plugins(creator: &Serve, uploader: &Serve) -> String {
    let (status, tenant) = creator.post(
        OPERATOR,
        "/api/v1/tenants",
        json!({ "name": "Acme", "owner_email": "o@acme.example" }),
    );
    assert_eq!(status, 201, "{tenant}");
    let key = tenant["key"]["secret"].as_str().unwrap().to_string();
    for plugin in ["personio", "scim"] {
        let bytes = std::fs::read(built_plugin(plugin)).expect("plugins built (scripts/build-plugins)");
        let (status, body) = uploader.call(&key, "POST", "/api/v1/plugins", Some(&bytes), "application/wasm");
        assert_eq!(status, 201, "{body}");
    }
    key
}

#[test]
fn two_servers_on_one_postgres_run_each_integration_once_at_a_time() {
    let database = postgres_schema();
    let dir = tempfile::tempdir().unwrap();
    let hr = PersonioEmulator::start("two-client", "two-secret").unwrap();
    let app = ScimEmulator::start("two-token").unwrap();
    hr.upsert((1..=300).map(|id| {
        let mut e = HrEmployee::new(id, &format!("P{id}"), "Example", "IT");
        e.last_modified_ms -= 60_000;
        e
    }));
    let a = Serve::start(&database, dir.path(), "a");
    let b = Serve::start(&database, dir.path(), "b");

    let key = tenant_with_plugins(&a, &b);
    let (status, source) = a.post(
        &key,
        "/api/v1/installations",
        json!({ "name": "Personio", "plugin": "personio", "config": { "base_url": hr.base_url() },
                "secrets": { "client-id": "two-client", "client-secret": "two-secret" }, "allowed_hosts": [hr.base_url()] }),
    );
    assert_eq!(status, 201, "{source}");
    // Installed through A, sealed with the shared key, used by B.
    let (status, target) = b.post(
        &key,
        "/api/v1/installations",
        json!({ "name": "SCIM", "plugin": "scim", "config": { "base_url": app.base_url() },
                "secrets": { "token": "two-token" }, "allowed_hosts": [app.origin()] }),
    );
    assert_eq!(status, 201, "{target}");
    let (status, integration) = a.post(
        &key,
        "/api/v1/integrations",
        json!({ "name": "Replicated", "source": source["id"], "target": target["id"], "schedule": "* * * * * *",
                "options": { "full_read_every_hours": 0, "deletion_threshold_percent": 100 } }),
    );
    assert_eq!(status, 201, "{integration}");
    let id = integration["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    let (status, activated) = b.post(&key, &format!("/api/v1/integrations/{id}/activate"), json!({}));
    assert_eq!(status, 202, "{activated}");

    // Both servers are asked to sync now, again and again, while both
    // schedulers run the integration every second, until each answer was
    // seen (one started a run, the other found it going) and each server
    // has run the integration (its plugins' requests are in its log); then the
    // schedulers alone until a scheduled run has finished (while "sync
    // now" holds the lease a due slot waits for it to end).
    let mut answers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let has_run =
        |server: &Serve| std::fs::read_to_string(&server.log).is_ok_and(|log| log.contains("outbound request"));
    while !(answers.contains(&202) && answers.contains(&409) && has_run(&a) && has_run(&b)) {
        assert!(Instant::now() < deadline, "{answers:?}");
        for server in [&a, &b] {
            let (status, body) = server.post(&key, &format!("/api/v1/integrations/{id}/sync"), json!({}));
            assert!(status == 202 || status == 409, "{status} {body}");
            answers.push(status);
        }
        std::thread::sleep(Duration::from_millis(40));
    }
    let scheduled_run_done = || {
        let (_, runs) = b.get(&key, &format!("/api/v1/runs?integration={id}&limit=500"));
        runs.as_array().is_some_and(|runs| {
            runs.iter()
                .any(|r| r["trigger"] == "schedule" && r["status"] == "succeeded")
        })
    };
    while !scheduled_run_done() {
        assert!(Instant::now() < deadline, "no scheduled run finished");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, _) = a.post(&key, &format!("/api/v1/integrations/{id}/deactivate"), json!({}));
    assert_eq!(status, 200);
    let elapsed = started.elapsed().as_secs() as usize;
    let deadline = Instant::now() + Duration::from_secs(60);
    let runs = loop {
        let (_, runs) = b.get(&key, &format!("/api/v1/runs?integration={id}&limit=500"));
        let runs = runs.as_array().cloned().unwrap_or_default();
        if runs.iter().all(|r| r["status"] != "running" && r["status"] != "queued") {
            break runs;
        }
        assert!(Instant::now() < deadline, "runs still going: {runs:?}");
        std::thread::sleep(Duration::from_millis(100));
    };

    let scheduled = runs.iter().filter(|r| r["trigger"] == "schedule").count();
    assert!(
        scheduled >= 1 && scheduled <= elapsed + 2,
        "{scheduled} scheduled runs in {elapsed} s"
    );
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:?}");
    let mut spans: Vec<(i64, i64, String)> = runs
        .iter()
        .map(|r| {
            (
                r["started_at"].as_i64().unwrap(),
                r["finished_at"].as_i64().unwrap(),
                r["trigger"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "runs overlap: {:?} and {:?}", pair[0], pair[1]);
    }
    assert_eq!(app.users().len(), 300);

    // The audit chain stayed one chain with two writers.
    let (_, check) = a.get(&key, "/api/v1/audit/verify");
    assert_eq!(check["broken"], Value::Null, "{check}");

    let logs: Vec<std::path::PathBuf> = [&a, &b].iter().map(|s| s.log.clone()).collect();
    for server in [a, b] {
        let status = server.terminate();
        assert!(status.success(), "{status}");
    }
    // Debug logs of both servers: requests, runs, plugins' outbound calls —
    // and no secret, key or token anywhere.
    for log in logs {
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("outbound request") && text.contains("request"),
            "{}",
            log.display()
        );
        for secret in ["two-secret", "two-token", key.as_str(), KEY, OPERATOR] {
            assert!(!text.contains(secret), "{secret} in {}", log.display());
        }
    }
}

/// `kill -9` of `hrsync serve` at random moments of a sync (bounded: 50
/// trials, the moments spread over the first sync's length): after each
/// restart no run is left `running`, and after the last one a sync leaves
/// every employee with exactly one account, a second sync writes nothing,
/// and the audit chain is intact.
#[test]
fn runs_killed_mid_apply_are_interrupted_and_the_next_run_finishes_them() {
    const TRIALS: usize = 50;
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("hrsync.db").display());
    let hr = PersonioEmulator::start("kill-client", "kill-secret").unwrap();
    let app = ScimEmulator::start("kill-token").unwrap();
    hr.upsert((1..=400).map(|id| {
        let mut e = HrEmployee::new(
            id,
            &format!("P{id}"),
            "Example",
            if id % 2 == 0 { "IT" } else { "Sales" },
        );
        e.supervisor_id = (id > 1).then_some(1);
        e.last_modified_ms -= 60_000;
        e
    }));
    let mut server = Serve::start(&database, dir.path(), "node");
    let key = tenant_with_plugins(&server, &server);
    let (_, source) = server.post(
        &key,
        "/api/v1/installations",
        json!({ "name": "Personio", "plugin": "personio", "config": { "base_url": hr.base_url() },
                "secrets": { "client-id": "kill-client", "client-secret": "kill-secret" }, "allowed_hosts": [hr.base_url()] }),
    );
    let (_, target) = server.post(
        &key,
        "/api/v1/installations",
        json!({ "name": "SCIM", "plugin": "scim", "config": { "base_url": app.base_url() },
                "secrets": { "token": "kill-token" }, "allowed_hosts": [app.origin()] }),
    );
    let (status, integration) = server.post(
        &key,
        "/api/v1/integrations",
        json!({ "name": "Killed", "source": source["id"], "target": target["id"],
                "options": { "full_read_every_hours": 0, "deletion_threshold_percent": 100 } }),
    );
    assert_eq!(status, 201, "{integration}");
    let id = integration["id"].as_str().unwrap().to_string();
    let runs = |server: &Serve| -> Vec<Value> {
        let (_, runs) = server.get(&key, &format!("/api/v1/runs?integration={id}&limit=500"));
        runs.as_array().cloned().unwrap_or_default()
    };

    // Seeded from the clock and printed, so a failure can be replayed.
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("kill moments seeded with {seed}");
    // One request per change, and every employee renamed before each
    // sync: each run has a few hundred writes to be killed in.
    app.set_bulk(false);
    let mut interrupted = 0;
    for trial in 0..TRIALS {
        for id in 1..=400 {
            hr.update(id, |e| e.last_name = format!("Trial{trial}"));
        }
        let (status, started) = server.post(&key, &format!("/api/v1/integrations/{id}/sync"), json!({}));
        assert_eq!(status, 202, "trial {trial}: {started}");
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(seed % 1000));
        drop(server); // SIGKILL
        server = Serve::start(&database, dir.path(), "node");
        let after = runs(&server);
        assert!(
            after.iter().all(|r| r["status"] != "running"),
            "trial {trial}: a run left running after the restart: {after:?}"
        );
        interrupted = after.iter().filter(|r| r["status"] == "interrupted").count();
    }
    println!("{interrupted} of {TRIALS} runs were killed before they ended");

    let (status, started) = server.post(&key, &format!("/api/v1/integrations/{id}/sync"), json!({}));
    assert_eq!(status, 202, "{started}");
    let wait = |server: &Serve, run: &str| -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, detail) = server.get(&key, &format!("/api/v1/runs/{run}"));
            if detail["run"]["status"] != "running" {
                return detail;
            }
            assert!(Instant::now() < deadline, "run {run} still going");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let last = wait(&server, started["run_id"].as_str().unwrap());
    assert_eq!(last["run"]["status"], "succeeded", "{last}");
    let users = app.users();
    let mut names: Vec<&str> = users.iter().filter_map(|u| u["userName"].as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!((users.len(), names.len()), (400, 400), "one account per employee");
    let stale: Vec<&Value> = users
        .iter()
        .filter(|u| u["name"]["familyName"] != format!("Trial{}", TRIALS - 1).as_str())
        .collect();
    assert!(
        stale.is_empty(),
        "changes the killed runs left were not applied: {stale:?}"
    );
    let (_, again) = server.post(&key, &format!("/api/v1/integrations/{id}/sync"), json!({}));
    let again = wait(&server, again["run_id"].as_str().unwrap());
    assert_eq!(again["run"]["status"], "succeeded", "{again}");
    let writes: Vec<&Value> = again["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["outcome"] == "done")
        .collect();
    assert!(writes.is_empty(), "a second run after the crashes wrote: {writes:?}");
    let (_, check) = server.get(&key, "/api/v1/audit/verify");
    assert_eq!(check["broken"], Value::Null, "{check}");
}

/// `hrsync serve` with another key than the one the database's secrets
/// were sealed with, its own exit status and standard error.
fn start_with_key(database: &str, dir: &std::path::Path, key: &str) -> (std::process::ExitStatus, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("wrong-key-node"))
        .env("HRSYNC_DATABASE_URL", database)
        .env("HRSYNC_SECRET_KEY", key)
        .env("HRSYNC_CACHE_DIR", dir.join("cache"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start hrsync serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a node with another secret key started");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status, stderr)
}

/// A node started with another secret key than the others' is refused
/// at start, with what to do, instead of answering 500 for every secret
/// it cannot open: in a database from before the key was recorded (by a
/// sealed secret it cannot open), and once the first node recorded it.
#[test]
fn a_node_with_another_secret_key_is_refused_at_start() {
    let database = postgres_schema();
    let dir = tempfile::tempdir().unwrap();
    let first = Serve::start(&database, dir.path(), "first");
    let key = tenant_with_plugins(&first, &first);
    let (status, installed) = first.post(
        &key,
        "/api/v1/installations",
        json!({ "name": "SCIM", "plugin": "scim", "config": { "base_url": "http://127.0.0.1:9" },
                "secrets": { "token": "sealed-with-the-first-key" }, "allowed_hosts": ["http://127.0.0.1:9"] }),
    );
    assert_eq!(status, 201, "{installed}");
    let other_key = "0f".repeat(32);
    let refused = |why: &str| {
        let (status, stderr) = start_with_key(&database, dir.path(), &other_key);
        assert!(!status.success(), "{why}: {stderr}");
        assert!(
            stderr.contains("secret key is not the one the database's secrets were sealed with")
                && stderr.contains(why)
                && stderr.contains("docs/operations.md"),
            "{stderr}"
        );
        assert!(!stderr.contains(&other_key) && !stderr.contains(KEY), "{stderr}");
    };
    refused("the database recorded another key");

    // A database the key was never recorded in, as one from before.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let forget = || {
        runtime.block_on(async {
            let pool = sqlx::AnyPool::connect(&database).await.unwrap();
            sqlx::query("DELETE FROM server_key").execute(&pool).await.unwrap();
        })
    };
    forget();
    refused("a sealed secret does not open with it");
    // The refused node recorded nothing: the right key still starts.
    let second = Serve::start(&database, dir.path(), "second");
    assert_eq!(second.get(&key, "/api/v1/installations").0, 200);
    refused("the database recorded another key");
}

/// A node that has run nothing yet serves the series alerts watch, at 0,
/// and its resident memory (docs/operations.md, "Metrics to alert on").
#[test]
fn a_fresh_node_serves_the_alerting_series_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("hrsync.db").display());
    let node = Serve::start(&database, dir.path(), "fresh");
    for series in [
        r#"hrsync_runs_in_process{state="running"}"#,
        r#"hrsync_runs_in_process{state="queued"}"#,
        r#"hrsync_runs_total{status="failed"}"#,
        r#"hrsync_runs_total{status="partial"}"#,
        "hrsync_runs_taken_over_total",
        "hrsync_plugin_instances",
    ] {
        assert_eq!(node.metric(series), Some(0.0), "{series}");
    }
    let resident = node.metric("process_resident_memory_bytes").unwrap_or(0.0);
    assert!(resident > 1_000_000.0, "{resident}");
}
