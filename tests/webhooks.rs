//! HR webhooks end to end: the BambooHR emulator (from its OpenAPI file)
//! POSTs a signed `employee.updated` when someone leaves; `hrsync serve`
//! hands it to the BambooHR plugin, which checks the signature and names
//! the employee, and an incremental run deactivates the account in the
//! SCIM app within seconds. Forged or misdirected webhooks change nothing.

use std::time::Duration;

use hrsync_emulators::bamboohr::{signature, BambooEmployee, BambooHrEmulator};
use hrsync_emulators::scim::ScimEmulator;
use hrsync_tests::api::{eventually, Client, Server};
use hrsync_tests::plugin_bytes;
use serde_json::{json, Value};

const API_KEY: &str = "bamboo-api-key-51c2";
const WEBHOOK_KEY: &str = "bamboo-private-key-9f0e";
const APP_TOKEN: &str = "webhook-app-token";

/// Five employees, BambooHR and SCIM installed, the integration active and
/// its first sync done; the integration's id.
fn world(server: &Server, owner: &Client, hr: &BambooHrEmulator, app: &ScimEmulator) -> String {
    world_with_key(server, owner, hr, app, WEBHOOK_KEY)
}

/// [`world`] with the webhook's private key of this BambooHR account.
fn world_with_key(
    server: &Server,
    owner: &Client,
    hr: &BambooHrEmulator,
    app: &ScimEmulator,
    webhook_key: &str,
) -> String {
    hr.upsert(
        (1..=5).map(|id| {
            let mut e = BambooEmployee::new(
                id,
                &format!("Emp{id}"),
                "Bamboo",
                if id % 2 == 0 { "Sales" } else { "IT" },
            );
            e.reports_to = (id > 1).then_some(1);
            e
        }),
        60_000,
    );
    for plugin in ["bamboohr", "scim"] {
        let (status, body) = owner.upload(&plugin_bytes(plugin));
        assert_eq!(status, 201, "{body}");
    }
    let (status, source) = owner.post(
        "/api/v1/installations",
        json!({ "name": "BambooHR", "plugin": "bamboohr", "config": { "base_url": hr.base_url() },
                "secrets": { "api-key": API_KEY, "webhook-key": webhook_key }, "allowed_hosts": [hr.base_url()] }),
    );
    assert_eq!(status, 201, "{source}");
    let (_, target) = owner.post(
        "/api/v1/installations",
        json!({ "name": "SCIM", "plugin": "scim", "config": { "base_url": app.base_url() },
                "secrets": { "token": APP_TOKEN }, "allowed_hosts": [app.origin()] }),
    );
    let (status, created) = owner.post(
        "/api/v1/integrations",
        // Pages of two: the cursor pagination of BambooHR is walked.
        json!({ "name": "BambooHR to SCIM", "source": source["id"], "target": target["id"],
                "options": { "page_size": 2, "deletion_threshold_percent": 50 } }),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (_, activated) = owner.post(&format!("/api/v1/integrations/{id}/activate"), json!({}));
    let first = owner.wait_for_run(activated["run_id"].as_str().unwrap());
    assert_eq!(first["run"]["status"], "succeeded", "{first}");
    assert_eq!(first["run"]["counts"]["create-account"], 5, "{first}");
    hr.set_webhook(&format!("{}/hooks/{id}", server.base), WEBHOOK_KEY);
    id
}

fn active(app: &ScimEmulator, email: &str) -> Option<bool> {
    app.user_by_name(email).and_then(|u| u["active"].as_bool())
}

#[test]
fn a_termination_in_bamboohr_reaches_the_app_within_seconds() {
    let server = Server::start();
    let hr = BambooHrEmulator::start(API_KEY).unwrap();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let id = world(&server, &owner, &hr, &app);
    assert_eq!(active(&app, "emp3.bamboo@example.com"), Some(true));

    let started = std::time::Instant::now();
    assert!(hr.terminate(3));
    assert!(
        eventually(Duration::from_secs(10), || active(&app, "emp3.bamboo@example.com")
            == Some(false)),
        "the leaver is still active"
    );
    let latency = started.elapsed();
    assert!(latency < Duration::from_secs(10));
    let (_, runs) = owner.get(&format!("/api/v1/runs?integration={id}"));
    let webhook_run = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["trigger"] == "webhook")
        .unwrap_or_else(|| panic!("no webhook run: {runs}"));
    assert!(webhook_run["started_by"].is_null());
    let detail = owner.wait_for_run(webhook_run["id"].as_str().unwrap());
    // Incremental: only the changed employee was read and touched.
    assert_eq!(detail["run"]["counts"]["employees_read"], 1, "{detail}");
    assert_eq!(detail["run"]["counts"]["deactivate-account"], 1, "{detail}");
    // Everyone else stays.
    for other in [1, 2, 4, 5] {
        assert_eq!(active(&app, &format!("emp{other}.bamboo@example.com")), Some(true));
    }
}

#[test]
fn forged_and_misdirected_webhooks_change_nothing() {
    let server = Server::start();
    let hr = BambooHrEmulator::start(API_KEY).unwrap();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let id = world(&server, &owner, &hr, &app);
    let hook = server.client(None);
    let body = json!({ "type": "employee.updated", "timestamp": "2026-11-22T05:00:00Z",
                       "data": { "companyId": "1", "employeeId": "2", "changedFields": ["status"] } })
    .to_string();
    let now = (hrsync_model::clock::now_ms() / 1000).to_string();
    let post = |path: &str, key: &str, timestamp: &str| -> (u16, Value) {
        let response = ureq::post(&format!("{}{path}", server.base))
            .set("content-type", "application/json")
            .set("x-bamboohr-timestamp", timestamp)
            .set("x-bamboohr-signature", &signature(key, body.as_bytes(), timestamp))
            .send_string(&body);
        let response = match response {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let status = response.status();
        (status, serde_json::from_str(&response.into_string().unwrap()).unwrap())
    };
    let runs_before = owner
        .get(&format!("/api/v1/runs?integration={id}"))
        .1
        .as_array()
        .unwrap()
        .len();

    let (status, answer) = post(&format!("/hooks/{id}"), "not the key", &now);
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (401, Some("unauthorized")),
        "{answer}"
    );
    assert!(!answer.to_string().contains(WEBHOOK_KEY));
    let stale = (hrsync_model::clock::now_ms() / 1000 - 3600).to_string();
    let (status, answer) = post(&format!("/hooks/{id}"), WEBHOOK_KEY, &stale);
    assert_eq!(status, 401, "{answer}");
    let (status, _) = hook.post(&format!("/hooks/{id}"), json!({ "type": "employee.updated" }));
    assert_eq!(status, 401, "an unsigned webhook");
    let (status, answer) = post("/hooks/int_nope", WEBHOOK_KEY, &now);
    assert_eq!(status, 404, "{answer}");
    let runs_after = owner
        .get(&format!("/api/v1/runs?integration={id}"))
        .1
        .as_array()
        .unwrap()
        .len();
    // A timestamp whose milliseconds overflow and wrap around into the
    // window, signed with the right key: refused all the same.
    let wrapping = ((1u128 << 64) + hrsync_model::clock::now_ms() as u128)
        .div_ceil(1000)
        .to_string();
    let (status, answer) = post(&format!("/hooks/{id}"), WEBHOOK_KEY, &wrapping);
    assert_eq!(status, 401, "{answer}");
    assert_eq!(runs_before, runs_after, "no run for a refused webhook");

    // A well-signed one starts a run; the same request again is a replay
    // and starts nothing.
    let (status, answer) = post(&format!("/hooks/{id}"), WEBHOOK_KEY, &now);
    assert_eq!((status, answer["events"].as_u64()), (202, Some(1)), "{answer}");
    let runs_now = |owner: &hrsync_tests::api::Client| {
        owner
            .get(&format!("/api/v1/runs?integration={id}"))
            .1
            .as_array()
            .unwrap()
            .len()
    };
    assert!(eventually(Duration::from_secs(10), || runs_now(&owner) == runs_before + 1));
    for _ in 0..3 {
        let (status, answer) = post(&format!("/hooks/{id}"), WEBHOOK_KEY, &now);
        assert_eq!(status, 409, "{answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains("replay"),
            "{answer}"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(runs_now(&owner), runs_before + 1, "a replayed webhook started a run");

    // An inactive integration takes none, and tells so only to a request
    // whose signature holds.
    owner.post(&format!("/api/v1/integrations/{id}/deactivate"), json!({}));
    let (status, answer) = post(&format!("/hooks/{id}"), "not the key", &now);
    assert_eq!(status, 401, "{answer}");
    let later = (hrsync_model::clock::now_ms() / 1000 + 1).to_string();
    let (status, answer) = post(&format!("/hooks/{id}"), WEBHOOK_KEY, &later);
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (409, Some("state")),
        "{answer}"
    );
}

/// An employee record deleted in BambooHR: its `employee.deleted` webhook
/// starts a run whose incremental read (`/employees/changed`) reports the
/// record `Deleted`, and the account is deactivated; a deletion without a
/// webhook is found the same way by the next sync.
#[test]
fn an_employee_deleted_in_bamboohr_is_deactivated() {
    let server = Server::start();
    let hr = BambooHrEmulator::start(API_KEY).unwrap();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let id = world(&server, &owner, &hr, &app);

    assert!(hr.delete(4));
    assert!(
        eventually(Duration::from_secs(10), || active(&app, "emp4.bamboo@example.com")
            == Some(false)),
        "the deleted employee is still active"
    );
    let (_, runs) = owner.get(&format!("/api/v1/runs?integration={id}"));
    let webhook_run = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["trigger"] == "webhook")
        .unwrap_or_else(|| panic!("no webhook run: {runs}"));
    let detail = owner.wait_for_run(webhook_run["id"].as_str().unwrap());
    assert_eq!(detail["run"]["counts"]["deactivate-account"], 1, "{detail}");
    assert_eq!(
        detail["run"]["counts"]["employees_read"], 0,
        "a deletion is no read: {detail}"
    );

    // No webhook this time: the next sync's incremental read finds it.
    hr.set_webhook("http://127.0.0.1:9/nowhere", WEBHOOK_KEY);
    assert!(hr.delete(5));
    let (status, started) = owner.post(&format!("/api/v1/integrations/{id}/sync"), Value::Null);
    assert_eq!(status, 202, "{started}");
    let run = owner.wait_for_run(started["run_id"].as_str().unwrap());
    assert_eq!(run["run"]["counts"]["deactivate-account"], 1, "{run}");
    assert_eq!(active(&app, "emp5.bamboo@example.com"), Some(false));
    for other in [1, 2, 3] {
        assert_eq!(active(&app, &format!("emp{other}.bamboo@example.com")), Some(true));
    }
}

/// The HMAC of a BambooHR webhook, computed by Python's `hmac` (an
/// implementation independent of ours): the emulator signs the same way,
/// and the plugin takes a webhook signed by Python for the current time.
#[test]
fn bamboohr_signatures_match_an_independent_hmac() {
    let python = |key: &str, body: &str, timestamp: &str| -> String {
        let script = "import hmac, hashlib, sys\n\
                      print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode() + sys.argv[3].encode(), \
                      hashlib.sha256).hexdigest())";
        let out = std::process::Command::new("python3")
            .args(["-c", script, key, body, timestamp])
            .output()
            .expect("python3 (scripts/setup installs it)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    // A fixed vector, also written down: computed once with Python.
    assert_eq!(
        signature("bamboo-webhook-key", br#"{"type":"employee.updated"}"#, "1700000000"),
        "f7ade1ed7bfb5ada64cb37ba4e8c4fab1951b2ee3888b5b00ca10ff89df9e5d1"
    );
    assert_eq!(
        python("bamboo-webhook-key", r#"{"type":"employee.updated"}"#, "1700000000"),
        "f7ade1ed7bfb5ada64cb37ba4e8c4fab1951b2ee3888b5b00ca10ff89df9e5d1"
    );

    let server = Server::start();
    let hr = BambooHrEmulator::start(API_KEY).unwrap();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let id = world(&server, &owner, &hr, &app);
    let body = json!({ "type": "employee.updated", "timestamp": "2026-11-22T05:00:00Z",
                       "data": { "companyId": "1", "employeeId": "2", "changedFields": ["firstName"] } })
    .to_string();
    let now = (hrsync_model::clock::now_ms() / 1000).to_string();
    let response = ureq::post(&format!("{}/hooks/{id}", server.base))
        .set("content-type", "application/json")
        .set("x-bamboohr-timestamp", &now)
        .set("x-bamboohr-signature", &python(WEBHOOK_KEY, &body, &now))
        .send_string(&body);
    let status = match response {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(status, 202, "a webhook signed by Python's hmac");
}

/// A webhook signed for one tenant's integration, sent to another's (each
/// BambooHR account has its own webhook key): refused, and it starts no
/// run there; the same request to its own integration is taken.
#[test]
fn a_webhook_signed_for_one_integration_is_refused_by_another() {
    let server = Server::start();
    let (hr_a, hr_b) = (
        BambooHrEmulator::start(API_KEY).unwrap(),
        BambooHrEmulator::start(API_KEY).unwrap(),
    );
    let (app_a, app_b) = (
        ScimEmulator::start(APP_TOKEN).unwrap(),
        ScimEmulator::start(APP_TOKEN).unwrap(),
    );
    let (_, a) = server.tenant("Acme", "owner@acme.example");
    let (_, b) = server.tenant("Globex", "owner@globex.example");
    let for_a = world_with_key(&server, &a, &hr_a, &app_a, WEBHOOK_KEY);
    let for_b = world_with_key(&server, &b, &hr_b, &app_b, "globex-webhook-key-41d9");
    let runs_of_b = || {
        b.get(&format!("/api/v1/runs?integration={for_b}"))
            .1
            .as_array()
            .unwrap()
            .len()
    };
    let before = runs_of_b();
    let body = json!({ "type": "employee.updated", "timestamp": "2026-11-22T05:00:00Z",
                       "data": { "companyId": "1", "employeeId": "2", "changedFields": ["status"] } })
    .to_string();
    let now = (hrsync_model::clock::now_ms() / 1000).to_string();
    let send = |integration: &str| -> u16 {
        let response = ureq::post(&format!("{}/hooks/{integration}", server.base))
            .set("content-type", "application/json")
            .set("x-bamboohr-timestamp", &now)
            .set("x-bamboohr-signature", &signature(WEBHOOK_KEY, body.as_bytes(), &now))
            .send_string(&body);
        match response {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(send(&for_b), 401, "signed with A's key, sent to B");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(runs_of_b(), before, "no run for B");
    assert_eq!(send(&for_a), 202, "the same request to A's own integration");
}
