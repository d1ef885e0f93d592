//! Several `hrsync serve` nodes on one PostgreSQL database when one of them
//! dies or stops: a node killed with SIGKILL in the middle of a round
//! leaves its integrations to the others; a failed run pauses its
//! integration before another node can start a second failing run; SIGTERM
//! ends a run in flight `interrupted` and another node takes it up.
//!
//! The emulators answer after a delay here (as an API across a region
//! does) so that runs are in flight when a node goes; the tests of this
//! file run one at a time, each with its own schema.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hrsync_emulators::built_plugin;
use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::ScimEmulator;
use serde_json::{json, Value};

mod common;
use common::{in_database, postgres_schema, Serve, OPERATOR};

/// The tests of this file share the emulators' delay and two CPUs.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The lease the nodes of these tests hold; a dead node's runs are taken up
/// after it.
const LEASE_SECS: u64 = 3;

fn nodes(database: &str, dir: &std::path::Path, names: &[&str], slots: &str) -> Vec<Serve> {
    let lease = LEASE_SECS.to_string();
    names
        .iter()
        .map(|name| {
            Serve::start_with(
                database,
                dir,
                name,
                &[
                    ("HRSYNC_LEASE_SECS", lease.as_str()),
                    ("HRSYNC_MAX_CONCURRENT_RUNS", slots),
                    ("RUST_LOG", "info"),
                ],
            )
        })
        .collect()
}

/// One company: its Personio, its app, its admin's key and integration.
struct Company {
    hr: PersonioEmulator,
    app: ScimEmulator,
    key: String,
    integration: String,
}

impl Company {
    /// A tenant with `employees` people in its Personio and an inactive
    /// integration of them into its SCIM app, set up through `node`.
    fn set_up(node: &Serve, n: usize, employees: u64, options: Value) -> Self {
        let (client, secret, token) = (format!("c{n}"), format!("s{n}"), format!("t{n}"));
        let hr = PersonioEmulator::start(&client, &secret).unwrap();
        let app = ScimEmulator::start(&token).unwrap();
        hr.upsert((1..=employees).map(|id| HrEmployee::new(id, &format!("P{id}"), &format!("Company{n}"), "IT")));
        let (status, tenant) = node.post(
            OPERATOR,
            "/api/v1/tenants",
            json!({ "name": format!("Company {n}"), "owner_email": format!("o@c{n}.example") }),
        );
        assert_eq!(status, 201, "{tenant}");
        let key = tenant["key"]["secret"].as_str().unwrap().to_string();
        for plugin in ["personio", "scim"] {
            let bytes = std::fs::read(built_plugin(plugin)).expect("plugins built (scripts/build-plugins)");
            let (status, body) = node.call(&key, "POST", "/api/v1/plugins", Some(&bytes), "application/wasm");
            assert_eq!(status, 201, "{body}");
        }
        let (status, source) = node.post(
            &key,
            "/api/v1/installations",
            json!({ "name": "Personio", "plugin": "personio", "config": { "base_url": hr.base_url() },
                    "secrets": { "client-id": client, "client-secret": secret }, "allowed_hosts": [hr.base_url()] }),
        );
        assert_eq!(status, 201, "{source}");
        let (status, target) = node.post(
            &key,
            "/api/v1/installations",
            json!({ "name": "App", "plugin": "scim", "config": { "base_url": app.base_url() },
                    "secrets": { "token": token }, "allowed_hosts": [app.origin()] }),
        );
        assert_eq!(status, 201, "{target}");
        let mut body = json!({ "name": "Personio to the app", "source": source["id"], "target": target["id"],
            "options": { "full_read_every_hours": 0, "deletion_threshold_percent": 100 } });
        if let (Some(body), Some(options)) = (body.as_object_mut(), options.as_object()) {
            body.extend(options.clone());
        }
        let (status, integration) = node.post(&key, "/api/v1/integrations", body);
        assert_eq!(status, 201, "{integration}");
        Self {
            hr,
            app,
            key,
            integration: integration["id"].as_str().unwrap().to_string(),
        }
    }

    fn runs(&self, node: &Serve) -> Vec<Value> {
        let (status, runs) = node.get(
            &self.key,
            &format!("/api/v1/runs?integration={}&limit=500", self.integration),
        );
        assert_eq!(status, 200, "{runs}");
        runs.as_array().cloned().unwrap_or_default()
    }

    fn post(&self, node: &Serve, action: &str) -> (u16, Value) {
        node.post(
            &self.key,
            &format!("/api/v1/integrations/{}/{action}", self.integration),
            json!({}),
        )
    }

    /// Every HR employee has exactly one active account in the app, and
    /// nobody else has one.
    fn app_matches_hr(&self, employees: u64) -> Result<(), String> {
        let users = self.app.users();
        let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
        for user in &users {
            if user["active"] != true {
                return Err(format!("inactive account {user}"));
            }
            *by_name
                .entry(user["userName"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }
        if users.len() as u64 != employees || by_name.values().any(|&n| n != 1) {
            return Err(format!(
                "{} accounts for {employees} employees: {by_name:?}",
                users.len()
            ));
        }
        Ok(())
    }
}

/// A daily schedule (seconds first) that falls due `ahead` from now, UTC;
/// and when.
fn due_in(ahead: Duration) -> (String, i64) {
    let due = (hrsync_model::clock::now_ms() + ahead.as_millis() as i64) / 1000 * 1000 + 1000;
    let (second, minute, hour) = ((due / 1000) % 60, (due / 60_000) % 60, (due / 3_600_000) % 24);
    (format!("{second} {minute} {hour} * * *"), due)
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Three nodes share a round of a few hundred small tenants, all due at one
/// second; one is killed with SIGKILL in the middle of it. The other two
/// finish its integrations after its leases expire: every integration has
/// exactly one succeeded scheduled run in the round, no run stays
/// `running` or `queued`, no two runs of an integration overlap, and every
/// app holds exactly its company's employees.
#[test]
fn a_node_killed_in_the_middle_of_a_round_leaves_its_integrations_to_the_others() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    const TENANTS: usize = 240;
    const EMPLOYEES: u64 = 5;
    let database = postgres_schema();
    let dir = tempfile::tempdir().unwrap();
    let mut servers = nodes(&database, dir.path(), &["a", "b", "c"], "4");
    let companies: Vec<Company> = (0..TENANTS)
        .map(|n| Company::set_up(&servers[n % 3], n, EMPLOYEES, json!({})))
        .collect();
    // The first syncs (activation runs them on the node asked), then a
    // round every node's scheduler sees due at the same second.
    for (n, company) in companies.iter().enumerate() {
        let (status, body) = company.post(&servers[n % 3], "activate");
        assert_eq!(status, 202, "{body}");
    }
    wait_until("every first sync", Duration::from_secs(300), || {
        companies.iter().all(|c| c.app.users().len() as u64 == EMPLOYEES)
    });
    hrsync_emulators::set_latency(Duration::from_millis(40));
    // Every run of the round reads the app again and changes one name.
    for company in &companies {
        company.hr.update(1, |e| e.last_name = "Renamed".into());
    }
    let (schedule, due) = due_in(Duration::from_secs(5));
    for company in &companies {
        let (status, body) = servers[0].call(
            &company.key,
            "PATCH",
            &format!("/api/v1/integrations/{}", company.integration),
            Some(
                json!({ "schedule": schedule, "timezone": "UTC" })
                    .to_string()
                    .as_bytes(),
            ),
            "application/json",
        );
        assert_eq!(status, 200, "{body}");
    }
    while hrsync_model::clock::now_ms() < due + 1500 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let victim = servers.remove(1);
    victim.kill();
    let killed = Instant::now();
    let scheduled_runs = |company: &Company| -> Vec<Value> {
        company
            .runs(&servers[0])
            .into_iter()
            .filter(|r| r["trigger"] == "schedule" && r["started_at"].as_i64().unwrap_or(0) >= due)
            .collect()
    };
    wait_until("every integration's scheduled run", Duration::from_secs(120), || {
        companies
            .iter()
            .all(|c| scheduled_runs(c).iter().any(|r| r["status"] == "succeeded"))
    });
    let taken_over = killed.elapsed();
    hrsync_emulators::set_latency(Duration::ZERO);

    let mut interrupted = 0;
    for company in &companies {
        let runs = company.runs(&servers[0]);
        assert!(
            runs.iter().all(|r| r["status"] != "running" && r["status"] != "queued"),
            "a run stayed unfinished: {runs:?}"
        );
        let round = scheduled_runs(company);
        let succeeded = round.iter().filter(|r| r["status"] == "succeeded").count();
        assert_eq!(succeeded, 1, "the round ran twice or not at all: {round:?}");
        interrupted += round.iter().filter(|r| r["status"] == "interrupted").count();
        let mut spans: Vec<(i64, i64)> = runs
            .iter()
            .map(|r| (r["started_at"].as_i64().unwrap(), r["finished_at"].as_i64().unwrap()))
            .collect();
        spans.sort();
        for pair in spans.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "runs overlap: {runs:?}");
        }
        company.app_matches_hr(EMPLOYEES).unwrap();
        assert!(
            company.app.users().iter().any(|u| u["name"]["familyName"] == "Renamed"),
            "the round's change did not reach the app"
        );
    }
    println!(
        "{TENANTS} tenants, 3 nodes, one killed {:.1} s into the round: {interrupted} of its runs interrupted, \
         every integration done {:.1} s after the kill (lease {LEASE_SECS} s)",
        1.5,
        taken_over.as_secs_f64()
    );
    assert!(
        interrupted > 0,
        "the kill hit no run in flight: the test proved nothing"
    );
    // The survivors count what they took over, for the operator's alert.
    let counted: f64 = servers
        .iter()
        .map(|server| server.metric("hrsync_runs_taken_over_total").unwrap_or(0.0))
        .sum();
    assert_eq!(
        counted as usize, interrupted,
        "hrsync_runs_taken_over_total on the survivors"
    );
    assert!(
        taken_over < Duration::from_secs(LEASE_SECS * 3 + 20),
        "the others took {taken_over:?} to finish the dead node's integrations"
    );
}

/// A failing integration scheduled every second on two nodes: each failure
/// is one failed run, one pause and one notice — the pause is recorded
/// before the lease goes, so the other node never starts a second failing
/// run in between. Resumed five times, it fails five more times, once each.
/// The counts alone depend on the other node trying in the gap; a trigger
/// on the lease table also checks the order itself on every failure.
#[test]
fn a_failed_run_pauses_before_its_lease_goes_so_two_nodes_fail_it_once() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let database = postgres_schema();
    let dir = tempfile::tempdir().unwrap();
    let servers = nodes(&database, dir.path(), &["a", "b"], "4");
    let company = Company::set_up(&servers[0], 0, 3, json!({ "schedule": "* * * * * *" }));
    note_lease_releases(&database);
    let (status, body) = company.post(&servers[1], "activate");
    assert_eq!(status, 202, "{body}");
    wait_until("the first sync", Duration::from_secs(60), || {
        company.app.users().len() == 3
    });
    let paused = |node: &Serve| {
        let (_, integration) = node.get(&company.key, &format!("/api/v1/integrations/{}", company.integration));
        integration["state"] == "paused"
    };
    for round in 1..=6 {
        // The app's next 200 answers fail: the next run fails.
        for _ in 0..200 {
            company.app.fail_after(
                0,
                hrsync_emulators::Fault {
                    status: 500,
                    retry_after_secs: None,
                },
            );
        }
        wait_until("the pause", Duration::from_secs(60), || paused(&servers[0]));
        // Both schedulers go on ticking for two more slots.
        std::thread::sleep(Duration::from_millis(2500));
        let failed = company
            .runs(&servers[1])
            .iter()
            .filter(|r| r["status"] == "failed")
            .count();
        assert_eq!(failed, round, "round {round}: each failure must be one failed run");
        let (_, audit) = servers[0].get(&company.key, "/api/v1/audit?limit=500");
        let pauses = audit
            .as_array()
            .map(|events| events.iter().filter(|e| e["action"] == "integration.paused").count())
            .unwrap_or(0);
        assert_eq!(pauses, round, "round {round}: one pause per failure: {audit}");
        if round < 6 {
            let (status, body) = company.post(&servers[round % 2], "resume");
            assert_eq!(status, 200, "{body}");
        }
    }
    // Without timing: the release that ended each failed run (the first
    // release after it; no other can come while it holds the lease) found
    // its integration already paused.
    let releases = lease_releases(&database);
    let mut ended: Vec<&(String, String, String)> = Vec::new();
    for release in &releases {
        if release.2 == "failed" && !ended.iter().any(|seen| seen.1 == release.1) {
            ended.push(release);
        }
    }
    assert_eq!(ended.len(), 6, "a release after each failed run: {releases:?}");
    for (state, run, _) in ended {
        assert_eq!(
            state, "paused",
            "run {run} released its lease before it paused: {releases:?}"
        );
    }
}

/// Has the database note, at each release of a run lease, the state of the
/// integration and its latest run, so that a test sees the order of the
/// pause and the release without racing for it.
fn note_lease_releases(database: &str) {
    in_database(database, |pool| async move {
        for statement in [
            "CREATE TABLE lease_releases (seq BIGSERIAL PRIMARY KEY, state TEXT, run_id TEXT, run_status TEXT)",
            "CREATE FUNCTION note_lease_release() RETURNS trigger AS $$ BEGIN \
               INSERT INTO lease_releases (state, run_id, run_status) \
               SELECT (SELECT state FROM integrations WHERE id = OLD.integration_id), id, status \
               FROM runs WHERE integration_id = OLD.integration_id ORDER BY started_at DESC, id DESC LIMIT 1; \
               RETURN OLD; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER note_lease_release AFTER DELETE ON run_leases \
               FOR EACH ROW EXECUTE FUNCTION note_lease_release()",
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
    });
}

/// What `note_lease_releases` noted, in order: (integration state, latest
/// run, its status).
fn lease_releases(database: &str) -> Vec<(String, String, String)> {
    in_database(database, |pool| async move {
        sqlx::query_as::<_, (String, String, String)>(
            "SELECT state, run_id, run_status FROM lease_releases ORDER BY seq",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    })
}

/// SIGTERM to a node in the middle of a first sync: the run ends
/// `interrupted` with what it applied, the node exits, and the other node
/// takes the integration up at once and finishes it — every employee with
/// exactly one account.
#[test]
fn sigterm_ends_a_run_interrupted_and_another_node_finishes_it() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    const EMPLOYEES: u64 = 600;
    let database = postgres_schema();
    let dir = tempfile::tempdir().unwrap();
    let mut servers = nodes(&database, dir.path(), &["a", "b"], "4");
    // Without /Bulk, one request per account: a first sync of some seconds.
    let company = Company::set_up(&servers[0], 0, EMPLOYEES, json!({}));
    company.app.set_bulk(false);
    hrsync_emulators::set_latency(Duration::from_millis(10));
    let (status, body) = company.post(&servers[0], "activate");
    assert_eq!(status, 202, "{body}");
    wait_until("the first accounts", Duration::from_secs(60), || {
        company.app.users().len() >= 50
    });
    let node_a = servers.remove(0);
    let exit = node_a.terminate();
    assert!(exit.success(), "{exit}");
    let first = company.runs(&servers[0]);
    let stopped = first
        .iter()
        .find(|r| r["trigger"] == "manual")
        .expect("the activation's run");
    assert_eq!(stopped["status"], "interrupted", "{stopped}");
    let applied = stopped["counts"]["create-account"].as_u64().unwrap_or(0);
    assert!(
        (50..EMPLOYEES).contains(&applied),
        "the interrupted run records what it applied: {stopped}"
    );
    wait_until("node b to finish the sync", Duration::from_secs(120), || {
        company.runs(&servers[0]).iter().any(|r| r["status"] == "succeeded")
    });
    hrsync_emulators::set_latency(Duration::ZERO);
    let runs = company.runs(&servers[0]);
    let finished = runs.iter().find(|r| r["status"] == "succeeded").unwrap();
    assert_eq!(
        finished["trigger"], "schedule",
        "taken up by the scheduler of node b: {runs:?}"
    );
    company.app_matches_hr(EMPLOYEES).unwrap();
}
