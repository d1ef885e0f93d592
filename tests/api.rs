//! The admin API over real HTTP on loopback: tenants, keys and roles,
//! plugin uploads and installations, integrations tested, activated and
//! run against the Personio and SCIM emulators, the run history and the
//! audit log; and every error a JSON body naming what was wrong.

use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::ScimEmulator;
use hrsync_emulators::Fault;
use hrsync_tests::api::{Client, Server, ServerOptions};
use hrsync_tests::plugin_bytes;
use serde_json::{json, Value};

const HR_CLIENT: &str = "api-test-client";
const HR_SECRET: &str = "hr-secret-8c1f7d";
const APP_TOKEN: &str = "app-token-44e0b9";

fn people(hr: &PersonioEmulator) {
    hr.upsert((1..=5).map(|id| {
        let mut e = HrEmployee::new(
            id,
            &format!("Person{id}"),
            "Example",
            if id % 2 == 0 { "Sales" } else { "IT" },
        );
        e.supervisor_id = (id > 1).then_some(1);
        e.last_modified_ms -= 60_000;
        e
    }));
}

struct Installed {
    source: String,
    rule: String,
    target: String,
}

/// Uploads the Personio, team-map and SCIM plugins and installs them.
fn install(client: &Client, hr: &PersonioEmulator, app: &ScimEmulator) -> Installed {
    for plugin in ["personio", "team_map", "scim"] {
        let (status, body) = client.upload(&plugin_bytes(plugin));
        assert!(status == 201 || status == 409, "{plugin}: {status} {body}");
    }
    let mut ids = Vec::new();
    for body in [
        json!({ "name": "Personio", "plugin": "personio", "config": { "base_url": hr.base_url() },
                "secrets": { "client-id": HR_CLIENT, "client-secret": HR_SECRET },
                "allowed_hosts": [hr.base_url()] }),
        json!({ "name": "Teams by department", "plugin": "team-map",
                "config": { "teams": [{ "name": "Abteilung {department}" }] } }),
        json!({ "name": "SCIM app", "plugin": "scim", "config": { "base_url": app.base_url() },
                "secrets": { "token": APP_TOKEN }, "allowed_hosts": [app.origin()] }),
    ] {
        let (status, installed) = client.post("/api/v1/installations", body);
        assert_eq!(status, 201, "{installed}");
        ids.push(installed["id"].as_str().unwrap().to_string());
    }
    Installed {
        source: ids[0].clone(),
        rule: ids[1].clone(),
        target: ids[2].clone(),
    }
}

fn create_integration(client: &Client, installed: &Installed, extra: Value) -> Value {
    let mut body = json!({
        "name": "Personio to SCIM",
        "source": installed.source,
        "rules": [installed.rule],
        "target": installed.target,
        "options": { "deletion_threshold_percent": 50 },
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let (status, created) = client.post("/api/v1/integrations", body);
    assert_eq!(status, 201, "{created}");
    created
}

/// A server with the tenant Acme: five people in a Personio emulator, the
/// Personio, team-map and SCIM plugins installed, and an integration of
/// them (not yet run).
struct Acme {
    server: Server,
    hr: PersonioEmulator,
    app: ScimEmulator,
    owner: Client,
    installed: Installed,
    integration: Value,
}

impl Acme {
    fn start(options: ServerOptions) -> Self {
        let server = Server::with(options);
        let hr = PersonioEmulator::start(HR_CLIENT, HR_SECRET).unwrap();
        let app = ScimEmulator::start(APP_TOKEN).unwrap();
        people(&hr);
        let (_, owner) = server.tenant("Acme", "owner@acme.example");
        let installed = install(&owner, &hr, &app);
        let integration = create_integration(&owner, &installed, json!({}));
        Self {
            server,
            hr,
            app,
            owner,
            installed,
            integration,
        }
    }

    fn integration_id(&self) -> String {
        self.integration["id"].as_str().unwrap().to_string()
    }
}

/// Every body the test saw, to check that no secret ever appears.
fn assert_no_secret(bodies: &[&Value]) {
    for body in bodies {
        let text = body.to_string();
        for secret in [HR_SECRET, APP_TOKEN] {
            assert!(!text.contains(secret), "a secret in a response: {text}");
        }
    }
}

#[test]
fn an_admins_first_ten_minutes() {
    let server = Server::start();
    let hr = PersonioEmulator::start(HR_CLIENT, HR_SECRET).unwrap();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    people(&hr);
    let (tenant, owner) = server.tenant("Acme", "owner@acme.example");
    assert!(tenant["key"]["secret"].as_str().unwrap().starts_with("sk_live_"));
    let (status, me) = owner.get("/api/v1/tenant");
    assert_eq!((status, me["member"]["role"].as_str()), (200, Some("owner")), "{me}");

    let installed = install(&owner, &hr, &app);
    let (status, versions) = owner.get("/api/v1/plugins/personio");
    assert_eq!(status, 200);
    assert_eq!(versions[0]["kind"], "source");
    assert_eq!(versions[0]["wit_version"], "1.2.0");
    let (_, installation) = owner.get(&format!("/api/v1/installations/{}", installed.source));
    assert_eq!(installation["secrets"], json!(["client-id", "client-secret"]));

    let created = create_integration(&owner, &installed, json!({ "timezone": "Europe/Berlin" }));
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["state"], "inactive");
    assert_eq!(created["schedule"], "0 4 * * *");
    assert!(created["signing_secret"].as_str().unwrap().starts_with("whsig_"));

    // Test: the plan, and nothing changes in the app.
    let (status, plan) = owner.post(&format!("/api/v1/integrations/{id}/test"), json!({}));
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["run"]["status"], "dry-run");
    let creates = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "create-account" && i["outcome"] == "planned")
        .count();
    assert_eq!(creates, 5, "{plan}");
    assert!(app.users().is_empty());

    // Activate: on the schedule, and the first sync at once.
    let (status, activated) = owner.post(&format!("/api/v1/integrations/{id}/activate"), json!({}));
    assert_eq!(status, 202, "{activated}");
    assert_eq!(activated["integration"]["state"], "active");
    let next = activated["integration"]["next_run_at"].as_i64().unwrap();
    assert!(next > hrsync_model::clock::now_ms(), "{activated}");
    let run_id = activated["run_id"].as_str().unwrap();
    let detail = owner.wait_for_run(run_id);
    assert_eq!(detail["run"]["status"], "succeeded", "{detail}");
    assert_eq!(detail["run"]["trigger"], "manual");
    assert_eq!(detail["run"]["started_by"], "owner@acme.example (live key)");
    assert_eq!(detail["run"]["counts"]["create-account"], 5, "{detail}");
    assert_eq!(detail["run"]["counts"]["create-team"], 2, "{detail}");
    assert_eq!(app.users().len(), 5);
    assert!(detail["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["outcome"] != "failed"));

    // A second run now changes nothing; the history lists both, newest first.
    let (status, started) = owner.post(&format!("/api/v1/integrations/{id}/sync"), Value::Null);
    assert_eq!(status, 202, "{started}");
    let second = owner.wait_for_run(started["run_id"].as_str().unwrap());
    assert_eq!(second["run"]["status"], "succeeded");
    assert!(second["items"].as_array().unwrap().is_empty(), "{second}");
    let (_, runs) = owner.get(&format!("/api/v1/runs?integration={id}"));
    let statuses: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["succeeded", "succeeded", "dry-run"], "{runs}");

    // The audit log has the admin's actions and every applied change.
    let (_, audit) = owner.get("/api/v1/audit?limit=500");
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "plugin.upload",
        "installation.create",
        "integration.create",
        "integration.activate",
    ] {
        assert!(actions.contains(&action), "{action} missing: {actions:?}");
    }
    assert_eq!(
        actions.iter().filter(|a| **a == "change.create-account").count(),
        5,
        "{actions:?}"
    );
    let activate = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "integration.activate")
        .unwrap();
    assert_eq!(activate["actor"], "owner@acme.example (live key)");
    // The run's own events name who asked for it.
    let run_events: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["detail"]["run"] == run_id)
        .collect();
    assert!(!run_events.is_empty(), "{audit}");
    for event in run_events {
        assert_eq!(
            event["actor"], "sync, asked by owner@acme.example (live key)",
            "{event}"
        );
    }
    let (status, check) = owner.get("/api/v1/audit/verify");
    assert_eq!(status, 200);
    assert_eq!(check["broken"], Value::Null, "{check}");
    assert!(check["events"].as_u64().unwrap() >= 10);

    // Prometheus metrics: runs by status, changes by kind, plugin calls and
    // their outbound HTTP, run slots and plugin instances.
    let (status, refused) = owner.get("/metrics");
    assert_eq!(status, 401, "a tenant's key reads no metrics: {refused}");
    let (status, _) = server.client(None).get("/metrics");
    assert_eq!(status, 401, "nor does a request without a key");
    let metrics = ureq::get(&format!("{}/metrics", server.base))
        .set(
            "authorization",
            &format!("Bearer {}", hrsync_tests::api::OPERATOR_TOKEN),
        )
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    for series in [
        "hrsync_runs_total{status=\"succeeded\"}",
        "hrsync_changes_total{kind=\"create-account\",outcome=\"done\"}",
        "hrsync_plugin_call_seconds_count{plugin=\"personio\",function=\"list-employees\"}",
        "hrsync_plugin_http_requests_total{plugin=\"scim\",status=\"200\"}",
        // The run slots: runs holding one, and how long runs waited.
        "# TYPE hrsync_runs_in_process gauge",
        "hrsync_runs_in_process{state=\"running\"} ",
        "hrsync_run_queue_wait_seconds_count{trigger=\"manual\"}",
        "# TYPE hrsync_plugin_instances gauge\nhrsync_plugin_instances ",
    ] {
        assert!(metrics.contains(series), "{series} not in\n{metrics}");
    }

    assert_no_secret(&[&installation, &created, &plan, &detail, &audit, &versions]);
    let (_, installations) = owner.get("/api/v1/installations");
    assert_no_secret(&[&installations]);

    // At rest: installation secrets sealed, the API key only as a hash.
    let stored = server.database_bytes();
    let key = tenant["key"]["secret"].as_str().unwrap();
    for secret in [HR_SECRET, APP_TOKEN, key, created["signing_secret"].as_str().unwrap()] {
        let found = stored.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "`{secret}` is stored in clear");
    }
    assert!(
        stored.windows(8).any(|w| w == b"personio"),
        "the database file was read"
    );
}

#[test]
fn tenants_are_walled_off_and_roles_and_modes_hold() {
    let server = Server::start();
    let hr = PersonioEmulator::start(HR_CLIENT, HR_SECRET).unwrap();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    people(&hr);
    let (_, a) = server.tenant("Tenant A", "a@a.example");
    let (_, b) = server.tenant("Tenant B", "b@b.example");
    let installed = install(&a, &hr, &app);
    let integration = create_integration(&a, &installed, json!({}));
    let id = integration["id"].as_str().unwrap();
    let (_, plan) = a.post(&format!("/api/v1/integrations/{id}/test"), json!({}));
    let run = plan["run"]["id"].as_str().unwrap();
    let (_, members) = a.get("/api/v1/members");
    let member = members[0]["id"].as_str().unwrap();

    // B sees none of A's things and can change none of them.
    for path in [
        format!("/api/v1/integrations/{id}"),
        format!("/api/v1/installations/{}", installed.source),
        format!("/api/v1/runs/{run}"),
        "/api/v1/plugins/personio".to_string(),
    ] {
        let (status, body) = b.get(&path);
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    for (method, path, body) in [
        (
            "PATCH",
            format!("/api/v1/integrations/{id}"),
            json!({ "name": "taken over" }),
        ),
        ("POST", format!("/api/v1/integrations/{id}/sync"), json!({})),
        ("POST", format!("/api/v1/integrations/{id}/activate"), json!({})),
        ("POST", format!("/api/v1/integrations/{id}/deactivate"), json!({})),
        ("POST", format!("/api/v1/integrations/{id}/test"), json!({})),
        (
            "PATCH",
            format!("/api/v1/installations/{}", installed.target),
            json!({ "config": {} }),
        ),
        (
            "POST",
            format!("/api/v1/installations/{}/rollback", installed.target),
            json!({}),
        ),
        (
            "PATCH",
            format!("/api/v1/members/{member}"),
            json!({ "role": "viewer" }),
        ),
        ("DELETE", format!("/api/v1/members/{member}"), Value::Null),
    ] {
        let bytes = body.to_string();
        let (status, answer) = b.call(
            method,
            &path,
            (!body.is_null()).then_some(bytes.as_bytes()),
            "application/json",
        );
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    // B's integration cannot use A's installations.
    let (status, body) = b.post(
        "/api/v1/integrations",
        json!({ "name": "x", "source": installed.source, "target": installed.target }),
    );
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("source")),
        "{body}"
    );
    for path in [
        "/api/v1/integrations",
        "/api/v1/installations",
        "/api/v1/runs",
        "/api/v1/plugins",
        "/api/v1/audit",
    ] {
        let (status, list) = b.get(path);
        assert_eq!(status, 200);
        let own_only = path == "/api/v1/audit";
        assert!(own_only || list.as_array().unwrap().is_empty(), "{path}: {list}");
        assert!(!list.to_string().contains(id), "{path}: {list}");
    }
    let (_, a_integration) = a.get(&format!("/api/v1/integrations/{id}"));
    assert_eq!(a_integration["name"], "Personio to SCIM");
    assert_eq!(a_integration["state"], "inactive");

    // Roles: a viewer reads and tests but changes nothing; only owners
    // manage members and keys.
    let (status, viewer) = a.post("/api/v1/members", json!({ "email": "v@a.example", "role": "viewer" }));
    assert_eq!(status, 201, "{viewer}");
    let (status, key) = a.post(
        "/api/v1/keys",
        json!({ "name": "viewer key", "mode": "live", "member_id": viewer["id"] }),
    );
    assert_eq!(status, 201, "{key}");
    let viewer_client = server.client(key["secret"].as_str());
    assert_eq!(viewer_client.get("/api/v1/integrations").0, 200);
    for (path, body) in [
        (format!("/api/v1/integrations/{id}/sync"), json!({})),
        (
            "/api/v1/members".to_string(),
            json!({ "email": "x@a.example", "role": "owner" }),
        ),
        ("/api/v1/keys".to_string(), json!({ "name": "k", "mode": "live" })),
    ] {
        let (status, answer) = viewer_client.post(&path, body);
        assert_eq!(status, 403, "{path}: {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains("role"),
            "{answer}"
        );
    }
    assert_eq!(viewer_client.upload(&plugin_bytes("scim")).0, 403);

    // Keys: shown once, stored hashed; revoked keys stop at once.
    let (_, keys) = a.get("/api/v1/keys");
    assert!(
        keys.as_array().unwrap().iter().all(|k| k.get("secret").is_none()),
        "{keys}"
    );
    let (status, _) = a.delete(&format!("/api/v1/keys/{}", key["id"].as_str().unwrap()));
    assert_eq!(status, 204);
    let (status, body) = viewer_client.get("/api/v1/integrations");
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")));

    // Test keys see test installations only, and issue test keys only.
    let (_, test_key) = a.post("/api/v1/keys", json!({ "name": "sandbox", "mode": "test" }));
    let secret = test_key["secret"].as_str().unwrap();
    assert!(secret.starts_with("sk_test_"), "{test_key}");
    let test = server.client(Some(secret));
    let (_, visible) = test.get("/api/v1/installations");
    assert_eq!(visible, json!([]));
    assert_eq!(test.get(&format!("/api/v1/integrations/{id}")).0, 404);
    let (status, _) = test.post("/api/v1/keys", json!({ "name": "escalate", "mode": "live" }));
    assert_eq!(status, 403);
    let (status, test_install) = test.post(
        "/api/v1/installations",
        json!({ "name": "Sandbox SCIM", "plugin": "scim", "config": { "base_url": app.base_url() },
                "secrets": { "token": APP_TOKEN }, "allowed_hosts": [app.origin()] }),
    );
    assert_eq!(
        (status, test_install["mode"].as_str()),
        (201, Some("test")),
        "{test_install}"
    );
    let (_, listed) = a.get("/api/v1/installations");
    assert_eq!(listed.as_array().unwrap().len(), 4, "a live key sees both modes");
    let (status, body) = test.post(
        "/api/v1/integrations",
        json!({ "name": "mixed", "source": installed.source, "target": test_install["id"] }),
    );
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("source")),
        "{body}"
    );

    // A tenant keeps an owner.
    let (status, body) = a.delete(&format!("/api/v1/members/{member}"));
    assert_eq!(status, 409, "{body}");
}

#[test]
fn bad_input_gets_a_json_error_naming_the_field() {
    let server = Server::with(ServerOptions {
        max_plugin_bytes: 4 << 20,
        ..ServerOptions::default()
    });
    let hr = PersonioEmulator::start(HR_CLIENT, HR_SECRET).unwrap();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let installed = install(&owner, &hr, &app);

    let field = |(status, body): (u16, Value)| (status, body["error"]["field"].as_str().map(str::to_string), body);
    let cases: Vec<(&str, (u16, Value), u16, Option<&str>, &str)> = vec![
        ("missing field", owner.post("/api/v1/members", json!({ "role": "admin" })), 422, None, "email"),
        ("unknown field", owner.post("/api/v1/members", json!({ "email": "x@acme.example", "role": "admin", "age": 3 })), 422, None, "age"),
        ("bad role", owner.post("/api/v1/members", json!({ "email": "x@acme.example", "role": "boss" })), 422, None, "boss"),
        ("bad e-mail", owner.post("/api/v1/members", json!({ "email": "not-an-address", "role": "admin" })), 422, Some("email"), "not-an-address"),
        ("config against schema", owner.post("/api/v1/installations", json!({ "name": "t", "plugin": "team-map", "config": { "teamz": [] } })), 422, Some("config"), "teams"),
        ("undeclared secret", owner.post("/api/v1/installations", json!({ "name": "s", "plugin": "scim", "config": { "base_url": app.base_url() }, "secrets": { "token": "x", "password": "y" } })), 422, Some("secrets.password"), "password"),
        ("bad host grant", owner.post("/api/v1/installations", json!({ "name": "h", "plugin": "scim", "config": { "base_url": app.base_url() }, "secrets": { "token": "x" }, "allowed_hosts": ["ftp://x"] })), 422, Some("allowed_hosts[0]"), "ftp"),
        ("unknown plugin", owner.post("/api/v1/installations", json!({ "name": "u", "plugin": "workday" })), 422, Some("plugin"), "workday"),
        ("bad schedule", owner.post("/api/v1/integrations", json!({ "name": "i", "source": installed.source, "target": installed.target, "schedule": "every day" })), 422, Some("schedule"), "every day"),
        ("bad time zone", owner.post("/api/v1/integrations", json!({ "name": "i", "source": installed.source, "target": installed.target, "timezone": "Mars/Olympus" })), 422, Some("timezone"), "Mars/Olympus"),
        ("bad option", owner.post("/api/v1/integrations", json!({ "name": "i", "source": installed.source, "target": installed.target, "options": { "page_size": 0 } })), 422, Some("options.page_size"), "page_size"),
        ("inactive in create_for", owner.post("/api/v1/integrations", json!({ "name": "i", "source": installed.source, "target": installed.target, "options": { "create_for": ["active", "inactive"] } })), 422, Some("options.create_for"), "inactive"),
        ("unknown status in create_for", owner.post("/api/v1/integrations", json!({ "name": "i", "source": installed.source, "target": installed.target, "options": { "create_for": ["actve"] } })), 422, None, "actve"),
        ("wrong kind", owner.post("/api/v1/integrations", json!({ "name": "i", "source": installed.target, "target": installed.target })), 422, Some("source"), "expected a source"),
        ("rule in target", owner.post("/api/v1/integrations", json!({ "name": "i", "source": installed.source, "target": installed.rule })), 422, Some("target"), "expected a target"),
        ("garbage component", owner.upload(b"definitely not wasm"), 422, Some("body"), "WebAssembly"),
        ("newer WIT", owner.upload(&plugin_bytes("future_wit")), 422, Some("body"), "hrsync:plugin@2.0.0"),
        ("limit", owner.get("/api/v1/runs?limit=100000"), 422, Some("limit"), "100000"),
        ("unknown path", owner.get("/api/v1/nothing-here"), 404, None, "/api/v1"),
        ("wrong method", owner.delete("/api/v1/plugins"), 405, None, "method"),
        ("no key", server.client(None).get("/api/v1/integrations"), 401, None, "Bearer"),
        ("unknown integration", owner.post("/api/v1/integrations/int_nope/sync", json!({})), 404, None, "int_nope"),
    ];
    for (what, answer, status, expected_field, mentions) in cases {
        let (got, got_field, body) = field(answer);
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(got_field.as_deref(), expected_field, "{what}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(mentions), "{what}: `{mentions}` not in {body}");
    }
    let (status, body) = owner.upload(&vec![0u8; 5 << 20]);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("too_large")),
        "{body}"
    );
    let (status, body) = owner.upload(&plugin_bytes("personio"));
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (409, Some("version")),
        "{body}"
    );
}

#[test]
fn failed_authentications_are_rate_limited_per_address() {
    let server = Server::start();
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    assert_eq!(owner.get("/api/v1/tenant").0, 200);
    let wrong = server.client(Some("sk_live_0000000000000000"));
    for attempt in 0..hrsync_server::api::auth::MAX_FAILURES {
        assert_eq!(wrong.get("/api/v1/tenant").0, 401, "attempt {attempt}");
    }
    let (status, body) = wrong.get("/api/v1/tenant");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{body}"
    );
    // The address is locked out, whatever it sends, for the rest of the window.
    assert_eq!(owner.get("/api/v1/tenant").0, 429);
    assert_eq!(server.client(Some("not even a key")).get("/api/v1/tenant").0, 429);
}

/// A second version of a component: the same code with another version in
/// its manifest (as a vendor's next release would be).
fn next_version(component: &[u8]) -> Vec<u8> {
    let (from, to) = (b"0.1.0", b"0.2.0");
    let mut bytes = component.to_vec();
    let mut replaced = 0;
    for i in 0..bytes.len().saturating_sub(from.len()) {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            replaced += 1;
        }
    }
    assert!(replaced > 0, "no version string in the component");
    bytes
}

#[test]
fn installations_upgrade_and_roll_back() {
    let server = Server::start();
    let hr = PersonioEmulator::start(HR_CLIENT, HR_SECRET).unwrap();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let installed = install(&owner, &hr, &app);
    let (status, uploaded) = owner.upload(&next_version(&plugin_bytes("scim")));
    assert_eq!(
        (status, uploaded["version"].as_str()),
        (201, Some("0.2.0")),
        "{uploaded}"
    );
    let (_, versions) = owner.get("/api/v1/plugins/scim");
    assert_eq!(versions.as_array().unwrap().len(), 2);

    let path = format!("/api/v1/installations/{}", installed.target);
    let (status, upgraded) = owner.patch(
        &path,
        json!({ "version": "0.2.0", "secrets": { "token": "rotated-token" } }),
    );
    assert_eq!(status, 200, "{upgraded}");
    assert_eq!(
        (upgraded["version"].as_str(), upgraded["previous_version"].as_str()),
        (Some("0.2.0"), Some("0.1.0"))
    );
    assert!(!upgraded.to_string().contains("rotated-token"));
    let (status, body) = owner.patch(&path, json!({ "version": "9.9.9" }));
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("version")),
        "{body}"
    );

    let (status, rolled) = owner.post(&format!("{path}/rollback"), json!({}));
    assert_eq!(status, 200, "{rolled}");
    assert_eq!(
        (rolled["version"].as_str(), rolled["previous_version"].as_str()),
        (Some("0.1.0"), Some("0.2.0"))
    );
    // The new token is sealed with the installation and reaches the plugin:
    // the app refuses it, which shows in a test run as the target's error.
    let integration = create_integration(&owner, &installed, json!({}));
    let (_, plan) = owner.post(
        &format!("/api/v1/integrations/{}/test", integration["id"].as_str().unwrap()),
        json!({}),
    );
    assert_eq!(plan["run"]["status"], "failed", "{plan}");
    assert!(!plan.to_string().contains("rotated-token"), "{plan}");
    let (status, fixed) = owner.patch(&path, json!({ "secrets": { "token": APP_TOKEN } }));
    assert_eq!(status, 200, "{fixed}");
    let (_, plan) = owner.post(
        &format!("/api/v1/integrations/{}/test", integration["id"].as_str().unwrap()),
        json!({}),
    );
    assert_eq!(plan["run"]["status"], "dry-run", "{plan}");

    let (_, audit) = owner.get("/api/v1/audit");
    let rollback = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "installation.rollback")
        .unwrap();
    assert_eq!(
        rollback["detail"]["version"],
        json!({ "before": "0.2.0", "after": "0.1.0" })
    );
    let update = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "installation.update")
        .unwrap();
    assert_eq!(update["detail"]["secrets_changed"], json!(["token"]));
    assert!(!audit.to_string().contains("rotated-token") && !audit.to_string().contains(APP_TOKEN));
}

#[test]
fn the_openapi_document_describes_every_route() {
    let server = Server::start();
    let (status, document) = server.client(None).get("/api/v1/openapi.json");
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/api/v1/tenants",
        "/api/v1/members/{id}",
        "/api/v1/keys/{id}",
        "/api/v1/plugins",
        "/api/v1/installations/{id}/rollback",
        "/api/v1/integrations/{id}/activate",
        "/api/v1/integrations/{id}/sync",
        "/api/v1/integrations/{id}/preview",
        "/api/v1/runs/{id}",
        "/api/v1/audit/verify",
        "/api/v1/installations/{id}/versions/{version}/diff",
        "/api/v1/integrations/{id}/versions/{version}/restore",
    ] {
        assert!(paths.contains_key(path), "{path} not in {:?}", paths.keys());
    }
    // A config change's values are any JSON: a list, a text, an object.
    let change = &document["components"]["schemas"]["ConfigChange"]["properties"];
    for side in ["before", "after"] {
        assert!(
            change[side].is_object() && change[side].get("type").is_none(),
            "{side}: {change}"
        );
    }
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
    assert!(document["components"]["securitySchemes"]["api_key"].is_object());
}

#[test]
fn provisioning_one_employee_touches_that_one_only() {
    let acme = Acme::start(ServerOptions::default());
    let (owner, app, id) = (&acme.owner, &acme.app, acme.integration_id());

    let (status, detail) = owner.post(&format!("/api/v1/integrations/{id}/provision"), json!({ "hr_id": "3" }));
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["run"]["status"], "succeeded", "{detail}");
    let accounts: Vec<&Value> = detail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "create-account")
        .collect();
    assert_eq!(accounts.len(), 1, "{detail}");
    assert_eq!(accounts[0]["hr_id"], "3");
    let users = app.users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["userName"], "person3.example@example.com");

    let (status, body) = owner.post(
        &format!("/api/v1/integrations/{id}/provision"),
        json!({ "hr_id": "999" }),
    );
    assert_eq!(status, 404, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("999"), "{body}");
    let (status, body) = owner.post(&format!("/api/v1/integrations/{id}/provision"), json!({ "hr_id": " " }));
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("hr_id")));

    // The whole sync afterwards creates the others, and not employee 3 again.
    let (_, started) = owner.post(&format!("/api/v1/integrations/{id}/sync"), json!({}));
    let run = owner.wait_for_run(started["run_id"].as_str().unwrap());
    assert_eq!(run["run"]["counts"]["create-account"], 4, "{run}");
    assert_eq!(app.users().len(), 5);
}

/// With one run at a time, a second integration's run waits `queued`
/// (its status says so) and starts when the first ends.
#[test]
fn runs_beyond_the_limit_wait_queued_and_start_in_turn() {
    let acme = Acme::start(ServerOptions {
        max_concurrent_runs: 1,
        ..ServerOptions::default()
    });
    let owner = &acme.owner;
    let second = create_integration(owner, &acme.installed, json!({ "name": "Personio to SCIM, again" }));
    let (first_id, second_id) = (acme.integration_id(), second["id"].as_str().unwrap().to_string());
    // The first run's first page answers 429 "retry in 2 s": it holds the
    // one slot for at least that long.
    acme.hr.fail_after(
        0,
        Fault {
            status: 429,
            retry_after_secs: Some(2),
        },
    );
    let (status, first) = owner.post(&format!("/api/v1/integrations/{first_id}/sync"), json!({}));
    assert_eq!(status, 202, "{first}");
    let (status, second) = owner.post(&format!("/api/v1/integrations/{second_id}/sync"), json!({}));
    assert_eq!(status, 202, "{second}");
    let second_run = second["run_id"].as_str().unwrap();
    let (_, queued) = owner.get(&format!("/api/v1/runs/{second_run}"));
    assert_eq!(queued["run"]["status"], "queued", "{queued}");

    let first = owner.wait_for_run(first["run_id"].as_str().unwrap());
    assert_eq!(first["run"]["status"], "succeeded", "{first}");
    let second = owner.wait_for_run(second_run);
    assert_eq!(second["run"]["status"], "succeeded", "{second}");
    assert!(
        second["run"]["started_at"].as_i64() >= first["run"]["started_at"].as_i64(),
        "{first} {second}"
    );
}

/// Identity through the admin API: a conflict shows in the run's detail, a
/// test of the source names the attributes Personio withholds, and an
/// admin resolves the conflict by linking an account by hand — audited with
/// the member; another tenant cannot touch the link.
#[test]
fn conflicts_withheld_fields_and_manual_links_through_the_api() {
    let server = Server::start();
    let hr = PersonioEmulator::start(HR_CLIENT, HR_SECRET).unwrap();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    people(&hr);
    // Person 5 was typed in with person 4's e-mail; an account with another
    // e-mail was made for them by hand.
    hr.update(5, |e| e.email = Some("person4.example@example.com".into()));
    let hand_made = app.add_user("p5.alias@example.com", "Person5", "Example", true);
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let installed = install(&owner, &hr, &app);
    let id = create_integration(&owner, &installed, json!({}))["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Test: the run is planned, the conflict reported for both.
    let (status, tested) = owner.post(&format!("/api/v1/integrations/{id}/test"), json!({}));
    assert_eq!(status, 200, "{tested}");
    assert_eq!(tested["run"]["counts"]["conflicts"], 2, "{tested}");
    let conflicts: Vec<&Value> = tested["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "conflict")
        .collect();
    assert_eq!(conflicts.len(), 2, "{tested}");
    assert_eq!(
        conflicts[0]["summary"],
        "e-mail person4.example@example.com is also the e-mail of employee 5"
    );

    let (_, activated) = owner.post(&format!("/api/v1/integrations/{id}/activate"), json!({}));
    let first = owner.wait_for_run(activated["run_id"].as_str().unwrap());
    assert_eq!(first["run"]["status"], "succeeded", "{first}");
    assert_eq!(first["run"]["counts"]["create-account"], 3, "{first}");
    assert_eq!(first["run"]["counts"]["conflicts"], 2, "{first}");

    // The admin links person 5 to the hand-made account; person 4 is then
    // alone with the e-mail.
    let path = format!("/api/v1/integrations/{id}/links/5");
    let (status, refused) = owner.put(&path, json!({ "account": "no-such-account" }));
    assert_eq!(
        (status, refused["error"]["field"].as_str()),
        (422, Some("account")),
        "{refused}"
    );
    let (status, refused) = owner.put(
        &format!("/api/v1/integrations/{id}/links/999"),
        json!({ "account": hand_made }),
    );
    assert_eq!(
        (status, refused["error"]["field"].as_str()),
        (422, Some("hr_id")),
        "{refused}"
    );
    let (status, linked) = owner.put(&path, json!({ "account": hand_made }));
    assert_eq!(status, 200, "{linked}");
    assert_eq!(linked["link"]["origin"], "manual");
    assert_eq!(owner.get(&path).1["account"], hand_made.as_str());
    let actions = owner.audit_actions(&format!("integration={id}"));
    assert!(actions.contains(&"link.manual".to_string()), "{actions:?}");

    // Another tenant sees no such link and cannot change it.
    let (_, other) = server.tenant("Other", "owner@other.example");
    assert_eq!(other.get(&path).0, 404);
    assert_eq!(other.put(&path, json!({ "account": hand_made })).0, 404);
    assert_eq!(other.delete(&path).0, 404);

    let (_, started) = owner.post(&format!("/api/v1/integrations/{id}/sync"), json!({ "full": true }));
    let second = owner.wait_for_run(started["run_id"].as_str().unwrap());
    assert_eq!(second["run"]["counts"]["conflicts"], 0, "{second}");
    assert_eq!(second["run"]["counts"]["create-account"], 1, "person 4 only: {second}");
    assert_eq!(app.users().len(), 5, "no duplicate for person 5");
    assert_eq!(
        app.user_by_name("p5.alias@example.com").unwrap()["id"],
        hand_made.as_str()
    );

    // Unlinking is the admin's too.
    assert_eq!(owner.delete(&path).0, 204);
    assert_eq!(owner.get(&path).0, 404);
    assert_eq!(owner.delete(&path).0, 404);

    // A test of the Personio installation names what it withholds.
    hr.withhold(&["employment_type"]);
    let (status, probe) = owner.post(&format!("/api/v1/installations/{}/test", installed.source), json!({}));
    assert_eq!(status, 200, "{probe}");
    assert_eq!(probe["ok"], true, "{probe}");
    assert_eq!(probe["unreadable_fields"][0]["field"], "employment_type", "{probe}");
    assert!(probe["unreadable_fields"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("release the attribute `employment_type`"));
    assert_no_secret(&[&probe, &linked, &first, &second]);
}

/// Extreme values in every numeric field the API takes: each answered with
/// a 422 naming the field, never a panic or a closed connection.
#[test]
fn extreme_numbers_are_refused_naming_the_field() {
    let acme = Acme::start(ServerOptions::default());
    let (owner, id) = (&acme.owner, acme.integration_id());
    let cases = [
        ("full_read_every_hours", json!(1e308)),
        ("full_read_every_hours", json!(-1)),
        ("full_read_every_hours", json!(8761)),
        ("deletion_threshold_percent", json!(101)),
        ("deletion_threshold_percent", json!(4294967296u64)),
        ("deletion_threshold_percent", json!(-1)),
        ("deletion_threshold_count", json!(1e300)),
        ("page_size", json!(0)),
        ("page_size", json!(1001)),
        ("page_size", json!(1.5)),
    ];
    for (field, value) in cases {
        let (status, body) = owner.patch(
            &format!("/api/v1/integrations/{id}"),
            json!({ "options": { field: value } }),
        );
        assert_eq!(status, 422, "{field} = {value}: {body}");
        let named = body["error"]["field"].as_str().unwrap_or_default().to_string()
            + " "
            + body["error"]["message"].as_str().unwrap_or_default();
        assert!(named.contains(field), "{field} = {value}: {body}");
    }
    for limit in ["0", "501", "-1", "99999999999999999999", "1e3"] {
        for path in ["/api/v1/runs", "/api/v1/audit"] {
            let (status, body) = owner.get(&format!("{path}?limit={limit}"));
            assert_eq!(status, 422, "{path}?limit={limit}: {body}");
        }
    }
    let (status, body) = owner.get(&format!("/api/v1/integrations/{id}"));
    assert_eq!(status, 200, "the server still answers: {body}");
}

/// A test key against live things, on every route of the OpenAPI document:
/// it reads none of them (no live id, key, member or audit event in any
/// answer) and changes none of them.
#[test]
fn a_test_key_reaches_nothing_live_on_any_route() {
    let acme = Acme::start(ServerOptions::default());
    let (server, owner, installed, integration) = (&acme.server, &acme.owner, &acme.installed, &acme.integration);
    let integration_id = acme.integration_id();
    let (_, run) = owner.post(&format!("/api/v1/integrations/{integration_id}/sync"), json!({}));
    let run_id = run["run_id"].as_str().unwrap().to_string();
    owner.wait_for_run(&run_id);
    let (status, member) = owner.post(
        "/api/v1/members",
        json!({ "email": "colleague@acme.example", "role": "admin" }),
    );
    assert_eq!(status, 201, "{member}");
    let member_id = member["id"].as_str().unwrap().to_string();
    let (_, live_key) = owner.post(
        "/api/v1/keys",
        json!({ "name": "colleague", "mode": "live", "member_id": member_id }),
    );
    let live_key_id = live_key["id"].as_str().unwrap().to_string();
    let live_secret = live_key["secret"].as_str().unwrap().to_string();
    let (_, test_key) = owner.post("/api/v1/keys", json!({ "name": "sandbox", "mode": "test" }));
    let tester = server.client(Some(test_key["secret"].as_str().unwrap()));
    let (_, audit_before) = owner.get("/api/v1/audit?limit=500");

    let live_ids = [
        integration_id.as_str(),
        installed.source.as_str(),
        installed.target.as_str(),
        run_id.as_str(),
        member_id.as_str(),
        live_key_id.as_str(),
        "colleague@acme.example",
    ];
    let (_, document) = server.client(None).get("/api/v1/openapi.json");
    let mut tried = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        if path == "/api/v1/tenants" || path.starts_with("/api/v1/hooks") {
            continue; // the operator's route, and webhooks (signed, no key)
        }
        let id = if path.starts_with("/api/v1/integrations") {
            &integration_id
        } else if path.starts_with("/api/v1/installations") {
            &installed.source
        } else if path.starts_with("/api/v1/runs") {
            &run_id
        } else if path.starts_with("/api/v1/members") {
            &member_id
        } else if path.starts_with("/api/v1/keys") {
            &live_key_id
        } else {
            "personio"
        };
        let concrete = path
            .replace("{id}", id)
            .replace("{name}", "personio")
            .replace("{hr_id}", "3");
        for method in operations.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let (status, body) = match method.as_str() {
                "GET" | "DELETE" => tester.call(&method, &concrete, None, ""),
                _ => tester.call(&method, &concrete, Some(b"{}"), "application/json"),
            };
            tried += 1;
            assert!(status < 500, "{method} {concrete}: {status} {body}");
            let text = body.to_string();
            // (An error may name the id it was asked about.)
            for live in live_ids.iter().filter(|id| !concrete.contains(**id)) {
                assert!(
                    !text.contains(live),
                    "{method} {concrete} answered {status} with {live}: {text}"
                );
            }
        }
    }
    assert!(tried >= 30, "only {tried} operations in the document");

    // Nothing live changed.
    let (status, still) = owner.get(&format!("/api/v1/integrations/{integration_id}"));
    assert_eq!((status, &still["name"]), (200, &integration["name"]), "{still}");
    let (status, _) = server.client(Some(&live_secret)).get("/api/v1/tenant");
    assert_eq!(status, 200, "the live key still works");
    let (_, members) = owner.get("/api/v1/members");
    let colleague = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == member_id.as_str());
    assert_eq!(colleague.map(|m| m["role"].clone()), Some(json!("admin")), "{members}");
    let (_, audit_after) = owner.get("/api/v1/audit?limit=500");
    let actions = |log: &Value| -> Vec<String> {
        log.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["actor"].as_str().is_some_and(|a| a.contains("test key")))
            .map(|e| e["action"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let by_test_key: Vec<String> = actions(&audit_after)
        .into_iter()
        .filter(|a| !actions(&audit_before).contains(a))
        .collect();
    assert!(
        by_test_key
            .iter()
            .all(|a| a.starts_with("plugin.") || a.starts_with("key.")),
        "the test key changed something live: {by_test_key:?}"
    );
}

/// Names that display as something they are not are refused; the database
/// file is readable by its owner only.
#[test]
fn deceptive_names_are_refused_and_the_database_is_private() {
    let server = Server::start();
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    for name in [
        "Payroll\u{202E}gpj.exe",
        "Adm\u{200B}in",
        "\u{2066}Acme\u{2069}",
        "Acme\u{FEFF}",
    ] {
        let (status, body) = owner.post("/api/v1/keys", json!({ "name": name, "mode": "live" }));
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (422, Some("name")),
            "{name:?}: {body}"
        );
        let (status, body) = server.operator().post(
            "/api/v1/tenants",
            json!({ "name": name, "owner_email": "x@example.com" }),
        );
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (422, Some("name")),
            "{name:?}: {body}"
        );
    }
    let (status, body) = owner.post("/api/v1/keys", json!({ "name": "Müller & Søn – CI", "mode": "live" }));
    assert_eq!(status, 201, "umlauts and dashes are names: {body}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(server.database_path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
}

/// A schedule more frequent than the operator allows is refused naming the
/// field; the default minimum is 5 minutes.
#[test]
fn schedules_more_frequent_than_the_minimum_are_refused() {
    let acme = Acme::start(ServerOptions {
        min_schedule_interval_secs: hrsync_server::api::ApiSettings::default().min_schedule_interval_secs,
        ..ServerOptions::default()
    });
    let (owner, id) = (&acme.owner, acme.integration_id());
    for schedule in ["* * * * * *", "* * * * *", "*/4 * * * *", "0,1 4 * * *"] {
        let (status, body) = owner.patch(&format!("/api/v1/integrations/{id}"), json!({ "schedule": schedule }));
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (422, Some("schedule")),
            "{schedule}: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("at most every 300 s"),
            "{body}"
        );
    }
    for schedule in ["*/5 * * * *", "0 4 * * *", "30 7 * * MON-FRI"] {
        let (status, body) = owner.patch(&format!("/api/v1/integrations/{id}"), json!({ "schedule": schedule }));
        assert_eq!(status, 200, "{schedule}: {body}");
    }
}

/// Stored secrets go only where they were entered for: granting a new host
/// drops those not entered again in the same request; other changes keep
/// them.
#[test]
fn secrets_stay_bound_to_the_hosts_they_were_entered_for() {
    let server = Server::start();
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let (status, body) = owner.upload(&plugin_bytes("personio"));
    assert_eq!(status, 201, "{body}");
    let (status, installed) = owner.post(
        "/api/v1/installations",
        json!({ "name": "Personio", "plugin": "personio", "config": { "base_url": "https://api.personio.de" },
                "secrets": { "client-id": "id-5a1f", "client-secret": HR_SECRET },
                "allowed_hosts": ["https://api.personio.de"] }),
    );
    assert_eq!(status, 201, "{installed}");
    let id = installed["id"].as_str().unwrap();
    let path = format!("/api/v1/installations/{id}");

    // The same origin spelled otherwise, and a config change within it: kept.
    let (status, same) = owner.patch(
        &path,
        json!({ "allowed_hosts": ["HTTPS://API.personio.de/"], "config": { "base_url": "https://api.personio.de/v1" } }),
    );
    assert_eq!(
        (status, &same["secrets"]),
        (200, &json!(["client-id", "client-secret"])),
        "{same}"
    );

    // An attacker's host granted: refused unless every stored secret is
    // entered again (or removed) in the same request.
    let attack = json!({ "allowed_hosts": ["https://api.personio.de", "https://collector.example.net"],
                         "config": { "base_url": "https://collector.example.net" } });
    let (status, refused) = owner.patch(&path, attack.clone());
    assert_eq!(
        (status, refused["error"]["field"].as_str()),
        (422, Some("secrets")),
        "{refused}"
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("client-id, client-secret"),
        "{refused}"
    );
    let mut partly = attack.clone();
    partly["secrets"] = json!({ "client-id": "id-5a1f" });
    let (status, refused) = owner.patch(&path, partly);
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("(client-secret)"),
        "{refused}"
    );
    let (_, unchanged) = owner.get(&path);
    assert_eq!(
        unchanged["allowed_hosts"],
        json!(["HTTPS://API.personio.de/"]),
        "{unchanged}"
    );
    let mut entered = attack;
    entered["secrets"] = json!({ "client-id": "id-for-collector", "client-secret": "entered-again-7c2d" });
    let (status, moved) = owner.patch(&path, entered);
    assert_eq!(
        (status, &moved["secrets"]),
        (200, &json!(["client-id", "client-secret"])),
        "{moved}"
    );
}

/// `GET path` with `key` from the loopback address `source` (Linux routes
/// all of 127.0.0.0/8 to the loopback interface): the status.
fn status_from(source: [u8; 4], server: &Server, path: &str, key: &str) -> u16 {
    status_forwarded(source, None, server, path, key)
}

/// `status_from`, with an `X-Forwarded-For` header when `forwarded_for`.
fn status_forwarded(source: [u8; 4], forwarded_for: Option<&str>, server: &Server, path: &str, key: &str) -> u16 {
    use std::io::{Read, Write};
    let address: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let socket = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((std::net::Ipv4Addr::from(source), 0).into()).unwrap();
        socket.connect(address).await.unwrap().into_std().unwrap()
    });
    let mut stream = socket;
    stream.set_nonblocking(false).unwrap();
    let forwarded = forwarded_for.map_or(String::new(), |value| format!("X-Forwarded-For: {value}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\n{forwarded}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// One address that fails too often is locked out alone; failures spread
/// over addresses lock out every address that failed once all together
/// pass the total budget, and never one that did not fail.
#[test]
fn lockout_per_address_and_for_all_addresses_are_told_apart() {
    let server = Server::with(ServerOptions {
        max_auth_failures: 3,
        max_total_auth_failures: 5,
        ..ServerOptions::default()
    });
    let (tenant, _) = server.tenant("Acme", "owner@acme.example");
    let key = tenant["key"]["secret"].as_str().unwrap().to_string();
    let wrong = "sk_live_0000000000000000";
    let (a, b, c) = ([127, 0, 0, 2], [127, 0, 0, 3], [127, 0, 0, 4]);
    for _ in 0..3 {
        assert_eq!(status_from(a, &server, "/api/v1/tenant", wrong), 401);
    }
    assert_eq!(status_from(a, &server, "/api/v1/tenant", &key), 429, "a is locked out");
    assert_eq!(status_from(b, &server, "/api/v1/tenant", &key), 200, "b is not");
    // Two failures from b: 5 in all, the total budget.
    for _ in 0..2 {
        assert_eq!(status_from(b, &server, "/api/v1/tenant", wrong), 401);
    }
    assert_eq!(
        status_from(b, &server, "/api/v1/tenant", &key),
        429,
        "b failed, and all did too often"
    );
    assert_eq!(status_from(c, &server, "/api/v1/tenant", &key), 200, "c never failed");
}

/// Behind a load balancer the operator named (`--trusted-proxies`), the
/// lock-out is per client as the balancer saw it, so one client's wrong
/// keys do not lock out the others behind the same balancer; a header
/// the client made up counts for nothing, from an untrusted peer or left
/// of the balancer's own entry.
#[test]
fn behind_a_trusted_proxy_the_lockout_is_per_forwarded_client() {
    let server = Server::with(ServerOptions {
        max_auth_failures: 3,
        max_total_auth_failures: 100,
        trusted_proxies: vec!["127.0.0.5/32".parse().unwrap()],
        ..ServerOptions::default()
    });
    let (tenant, _) = server.tenant("Acme", "owner@acme.example");
    let key = tenant["key"]["secret"].as_str().unwrap().to_string();
    let wrong = "sk_live_0000000000000000";
    let (proxy, direct) = ([127, 0, 0, 5], [127, 0, 0, 6]);
    let path = "/api/v1/tenant";
    // The client sends its own header; the balancer appends the address.
    let mallory = Some("198.51.100.1, 203.0.113.66");
    for _ in 0..3 {
        assert_eq!(status_forwarded(proxy, mallory, &server, path, wrong), 401);
    }
    assert_eq!(
        status_forwarded(proxy, mallory, &server, path, &key),
        429,
        "mallory is locked out"
    );
    let alice = Some("203.0.113.10");
    assert_eq!(
        status_forwarded(proxy, alice, &server, path, &key),
        200,
        "alice behind the same balancer is not"
    );
    // The made-up part of mallory's header is not where her failures count.
    assert_eq!(status_forwarded(proxy, Some("198.51.100.1"), &server, path, &key), 200);

    // A peer that is not a trusted proxy is itself the client, whatever
    // it forwards: it cannot escape its lock-out by naming others.
    for n in 0..3 {
        let made_up = format!("192.0.2.{n}");
        assert_eq!(status_forwarded(direct, Some(&made_up), &server, path, wrong), 401);
    }
    assert_eq!(status_forwarded(direct, Some("192.0.2.99"), &server, path, &key), 429);
    assert_eq!(status_forwarded(proxy, Some("192.0.2.99"), &server, path, &key), 200);
}

/// A tenant who aims a plugin at this server's own API: its failed logins
/// count against that tenant's plugins, not against the address the
/// server's requests come from, so neither this tenant's admins nor any
/// other tenant nor HR webhooks behind a local proxy are locked out.
#[test]
fn a_plugin_aimed_at_this_server_locks_out_nobody_else() {
    let server = Server::with(ServerOptions {
        max_auth_failures: 3,
        ..ServerOptions::default()
    });
    let (_, attacker) = server.tenant("Mallory", "m@mallory.example");
    let (_, victim) = server.tenant("Acme", "owner@acme.example");
    let (status, body) = attacker.upload(&plugin_bytes("scim"));
    assert_eq!(status, 201, "{body}");
    // The SCIM plugin asks `{base}/Users...` with a wrong token: here
    // `/api/v1/integrations/Users`, a route behind a key.
    let (status, installed) = attacker.post(
        "/api/v1/installations",
        json!({ "name": "Own API", "plugin": "scim", "config": { "base_url": format!("{}/api/v1/integrations", server.base) },
                "secrets": { "token": "sk_live_not_a_key_at_all" }, "allowed_hosts": [server.base] }),
    );
    assert_eq!(status, 201, "{installed}");
    let id = installed["id"].as_str().unwrap();
    for _ in 0..6 {
        let (status, body) = attacker.post(&format!("/api/v1/installations/{id}/test"), json!({}));
        assert!(status == 200 || status == 422, "{status} {body}");
    }
    assert_eq!(victim.get("/api/v1/tenant").0, 200, "another tenant is not locked out");
    assert_eq!(attacker.get("/api/v1/tenant").0, 200, "nor are the tenant's admins");
}

/// `GET /audit/verify` answers for the caller's tenant: its own events
/// counted, a break in another tenant's events told without naming it.
#[test]
fn audit_verify_tells_a_tenant_nothing_of_the_others() {
    let server = Server::start();
    let (_, a) = server.tenant("Acme", "owner@acme.example");
    let (_, b) = server.tenant("Globex", "owner@globex.example");
    for i in 0..3 {
        let (status, _) = b.post("/api/v1/keys", json!({ "name": format!("b{i}"), "mode": "live" }));
        assert_eq!(status, 201);
    }
    let log_a = a.get("/api/v1/audit?limit=500").1;
    let own_a = log_a.as_array().unwrap().len() as u64;
    // No place in the shared chain: its gaps would tell of B's activity.
    assert!(
        log_a.as_array().unwrap().iter().all(|e| e.get("seq").is_none()),
        "{log_a}"
    );
    let (_, first) = b.get("/api/v1/audit?limit=2");
    let last = first[1]["id"].as_str().unwrap();
    let (_, next) = b.get(&format!("/api/v1/audit?limit=2&before={last}"));
    assert_eq!(
        next[0]["id"],
        b.get("/api/v1/audit?limit=3").1[2]["id"],
        "pages follow each other"
    );
    let own_b = b.get("/api/v1/audit?limit=500").1.as_array().unwrap().len() as u64;
    let (_, check) = a.get("/api/v1/audit/verify");
    assert_eq!(
        (check["events"].as_u64(), &check["broken"]),
        (Some(own_a), &Value::Null),
        "{check}"
    );

    // One of B's events edited behind the server's back.
    let b_event = b.get("/api/v1/audit?limit=1").1[0]["id"].as_str().unwrap().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("sqlite://{}", server.database_path().display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("UPDATE audit_events SET actor = 'someone else' WHERE id = ?")
            .bind(&b_event)
            .execute(&pool)
            .await
            .unwrap();
    });
    let (_, for_b) = b.get("/api/v1/audit/verify");
    assert_eq!(for_b["broken"]["id"], b_event.as_str(), "{for_b}");
    assert_eq!(for_b["events"].as_u64(), Some(own_b), "{for_b}");
    let (_, for_a) = a.get("/api/v1/audit/verify");
    assert_eq!(for_a["events"].as_u64(), Some(own_a), "{for_a}");
    assert_eq!(for_a["broken"]["id"], Value::Null, "{for_a}");
    assert_eq!(for_a["broken"]["seq"], 0, "{for_a}");
    assert!(!for_a.to_string().contains(&b_event), "{for_a}");
}

/// Each quota, spent, answers 429 `quota_exceeded` naming it; another
/// tenant is not affected.
#[test]
fn a_tenants_quotas_hold_and_are_its_own() {
    let quotas = hrsync_server::api::quota::Quotas::parse(&[
        "plugins=2".into(),
        "installations=2".into(),
        "integrations=1".into(),
        "secret_bytes=64".into(),
        "runs-per-hour=2".into(),
    ])
    .unwrap();
    let server = Server::with(ServerOptions {
        quotas,
        ..ServerOptions::default()
    });
    let hr = PersonioEmulator::start(HR_CLIENT, HR_SECRET).unwrap();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    people(&hr);
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let spent = |(status, body): (u16, Value), quota: &str| {
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (429, Some("quota_exceeded")),
            "{body}"
        );
        assert!(
            body["error"]["message"].as_str().unwrap().contains(quota),
            "{quota}: {body}"
        );
    };
    assert_eq!(owner.upload(&plugin_bytes("personio")).0, 201);
    assert_eq!(owner.upload(&plugin_bytes("scim")).0, 201);
    spent(owner.upload(&plugin_bytes("team_map")), "plugins=");
    spent(
        owner.post(
            "/api/v1/installations",
            json!({ "name": "Big", "plugin": "scim", "config": { "base_url": app.base_url() },
                    "secrets": { "token": "x".repeat(65) }, "allowed_hosts": [app.origin()] }),
        ),
        "secret-bytes=",
    );
    let (status, source) = owner.post(
        "/api/v1/installations",
        json!({ "name": "Personio", "plugin": "personio", "config": { "base_url": hr.base_url() },
                "secrets": { "client-id": HR_CLIENT, "client-secret": HR_SECRET }, "allowed_hosts": [hr.base_url()] }),
    );
    assert_eq!(status, 201, "{source}");
    let (status, target) = owner.post(
        "/api/v1/installations",
        json!({ "name": "SCIM", "plugin": "scim", "config": { "base_url": app.base_url() },
                "secrets": { "token": APP_TOKEN }, "allowed_hosts": [app.origin()] }),
    );
    assert_eq!(status, 201, "{target}");
    spent(
        owner.post(
            "/api/v1/installations",
            json!({ "name": "Third", "plugin": "scim", "config": { "base_url": app.base_url() },
                    "secrets": { "token": APP_TOKEN }, "allowed_hosts": [app.origin()] }),
        ),
        "installations=",
    );
    let integration = json!({ "name": "Sync", "source": source["id"], "target": target["id"] });
    let (status, created) = owner.post("/api/v1/integrations", integration.clone());
    assert_eq!(status, 201, "{created}");
    spent(owner.post("/api/v1/integrations", integration), "integrations=");
    let id = created["id"].as_str().unwrap();
    for _ in 0..2 {
        assert_eq!(owner.post(&format!("/api/v1/integrations/{id}/test"), json!({})).0, 200);
    }
    spent(
        owner.post(&format!("/api/v1/integrations/{id}/sync"), json!({})),
        "runs-per-hour=",
    );

    let (_, other) = server.tenant("Globex", "owner@globex.example");
    assert_eq!(
        other.upload(&plugin_bytes("team_map")).0,
        201,
        "another tenant's quota is its own"
    );
    assert!(hrsync_server::api::quota::Quotas::parse(&["bogus=1".into()])
        .unwrap_err()
        .contains("bogus"));
    assert!(hrsync_server::api::quota::Quotas::parse(&["plugins=many".into()])
        .unwrap_err()
        .contains("many"));
}

/// `POST /integrations/{id}/preview`: a draft of the rules (another team
/// rule) and options compared with the integration as it is, employee by
/// employee; nothing is written or saved. The run filters of
/// `GET /runs/{id}` narrow a run's items.
#[test]
fn a_preview_compares_a_draft_with_the_integration_and_saves_nothing() {
    let acme = Acme::start(ServerOptions::default());
    let (owner, id) = (&acme.owner, acme.integration_id());
    let (status, synced) = owner.post(&format!("/api/v1/integrations/{id}/test"), json!({}));
    assert_eq!(status, 200, "{synced}");
    let (status, by_office) = owner.post(
        "/api/v1/installations",
        json!({ "name": "Teams by office", "plugin": "team-map",
                "config": { "teams": [{ "name": "Standort {office}" }] } }),
    );
    assert_eq!(status, 201, "{by_office}");
    let (_, runs_before) = owner.get("/api/v1/runs");
    let writes = acme.app.writes().total();

    let (status, compared) = owner.post(
        &format!("/api/v1/integrations/{id}/preview"),
        json!({ "rules": [by_office["id"]] }),
    );
    assert_eq!(status, 200, "{compared}");
    assert_eq!(compared["employees_read"], 5);
    assert_eq!(compared["teams_only_draft"], json!(["Standort Berlin"]));
    assert_eq!(
        compared["teams_only_current"],
        json!(["Abteilung IT", "Abteilung Sales"])
    );
    assert_eq!(compared["counts"]["teams"], 5, "{compared}");
    let first = &compared["differences"][0];
    assert_eq!(first["hr_id"], "1");
    assert_eq!(
        (first["current"].as_str(), first["draft"].as_str()),
        (Some("in scope"), Some("in scope"))
    );
    assert!(
        first["only_draft"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains("(new team \"Standort Berlin\")")),
        "{first}"
    );
    assert_eq!(acme.app.writes().total(), writes, "nothing written");
    let (_, runs_after) = owner.get("/api/v1/runs");
    assert_eq!(runs_after, runs_before, "nothing saved");

    // A draft naming an installation that is not there is refused.
    let (status, refused) = owner.post(
        &format!("/api/v1/integrations/{id}/preview"),
        json!({ "rules": ["inst_missing"] }),
    );
    assert!(status == 404 || status == 422, "{status} {refused}");

    // The test run's items, narrowed.
    let run = synced["run"]["id"].as_str().unwrap();
    let (status, narrowed) = owner.get(&format!("/api/v1/runs/{run}?kind=create-account&employee=2"));
    assert_eq!(status, 200, "{narrowed}");
    let items = narrowed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{narrowed}");
    assert_eq!(
        (items[0]["hr_id"].as_str(), items[0]["outcome"].as_str()),
        (Some("2"), Some("planned"))
    );
}

/// `POST /integrations/{id}/try`: employees from the live HR data through
/// the rules, each rule's decision shown; nothing written.
#[test]
fn trying_the_rules_on_one_employee_shows_each_decision() {
    let acme = Acme::start(ServerOptions::default());
    let (owner, id) = (&acme.owner, acme.integration_id());
    let (status, tried) = owner.post(
        &format!("/api/v1/integrations/{id}/try"),
        json!({ "employees": ["2", "404"] }),
    );
    assert_eq!(status, 200, "{tried}");
    let two = &tried[0];
    assert_eq!(
        (two["hr_id"].as_str(), two["found"].as_bool()),
        (Some("2"), Some(true)),
        "{tried}"
    );
    assert_eq!(two["name"], "Person2 Example");
    assert_eq!(two["steps"][0]["rule"], "rules[0] (team-map)");
    assert_eq!(two["steps"][0]["decision"], "modify");
    assert_eq!(two["steps"][0]["teams"], json!(["Abteilung Sales"]));
    assert_eq!(two["outcome"], "in scope");
    assert_eq!(two["teams"], json!(["Abteilung Sales"]));
    assert_eq!(two["manager_hr_id"], "1");
    assert_eq!(
        (tried[1]["hr_id"].as_str(), tried[1]["found"].as_bool()),
        (Some("404"), Some(false))
    );
    assert!(tried[1]["outcome"].is_null());
    assert_eq!(acme.app.writes().total(), 0, "nothing written");

    let (status, refused) = owner.post(&format!("/api/v1/integrations/{id}/try"), json!({ "employees": [] }));
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["field"], "employees", "{refused}");
}

/// A PATCH merges (RFC 7396); every change of an installation or an
/// integration is a version that can be listed, compared and restored,
/// audited with the member; other tenants see none of it.
#[test]
fn config_changes_are_versions_that_can_be_compared_and_restored() {
    let acme = Acme::start(ServerOptions::default());
    let (owner, id) = (&acme.owner, acme.integration_id());
    let integration = format!("/api/v1/integrations/{id}");

    // Merge: the options sent change, the others stay.
    let (status, merged) = owner.call(
        "PATCH",
        &integration,
        Some(br#"{ "options": { "create": false } }"#),
        "application/merge-patch+json",
    );
    assert_eq!(status, 200, "{merged}");
    assert_eq!(
        (
            &merged["options"]["create"],
            &merged["options"]["deletion_threshold_percent"]
        ),
        (&json!(false), &json!(50)),
        "{merged}"
    );
    let (status, merged) = owner.patch(
        &integration,
        json!({ "schedule": "0 5 * * *", "options": { "page_size": 250 } }),
    );
    assert_eq!(status, 200, "{merged}");
    assert_eq!(
        (&merged["options"]["create"], &merged["options"]["page_size"]),
        (&json!(false), &json!(250))
    );
    // Null returns a field to its default; errors name the field.
    let (status, merged) = owner.patch(&integration, json!({ "options": { "page_size": null } }));
    assert_eq!(
        (status, &merged["options"]["page_size"]),
        (200, &json!(200)),
        "{merged}"
    );
    let (status, refused) = owner.patch(&integration, json!({ "options": { "crate": true } }));
    assert_eq!(
        (status, refused["error"]["field"].as_str()),
        (422, Some("options.crate")),
        "{refused}"
    );
    assert!(
        refused["error"]["message"].as_str().unwrap().contains("`create`"),
        "{refused}"
    );
    let (status, refused) = owner.patch(&integration, json!({ "name": null }));
    assert_eq!(
        (status, refused["error"]["field"].as_str()),
        (422, Some("name")),
        "a name cannot be removed: {refused}"
    );
    let (status, refused) = owner.patch(&integration, json!({ "options": { "page_size": "many" } }));
    assert_eq!(
        (status, refused["error"]["field"].as_str()),
        (422, Some("options.page_size")),
        "{refused}"
    );

    // Versions, newest first, with the member and the action.
    let (status, versions) = owner.get(&format!("{integration}/versions"));
    assert_eq!(status, 200, "{versions}");
    let list = versions.as_array().unwrap();
    let numbers: Vec<i64> = list.iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(numbers, vec![4, 3, 2, 1], "{versions}");
    assert_eq!(list[3]["action"], "integration.create");
    assert_eq!(list[0]["action"], "integration.update");
    assert!(list[0]["actor"].as_str().unwrap().contains("owner@acme.example"));
    assert_eq!(list[0]["config"]["options"]["page_size"], 200);

    // Compared: version 3 against the one before, and against version 1.
    let (status, diff) = owner.get(&format!("{integration}/versions/3/diff"));
    assert_eq!(status, 200, "{diff}");
    let changes = diff["changes"].as_array().unwrap();
    assert!(
        changes.contains(&json!({ "path": "/schedule", "before": "0 4 * * *", "after": "0 5 * * *" })),
        "{diff}"
    );
    assert!(
        changes.contains(&json!({ "path": "/options/page_size", "before": 200, "after": 250 })),
        "{diff}"
    );
    assert_eq!(changes.len(), 2, "{diff}");
    let (_, diff) = owner.get(&format!("{integration}/versions/4/diff?from=1"));
    assert_eq!(
        diff["changes"],
        json!([
            { "path": "/options/create", "before": true, "after": false },
            { "path": "/schedule", "before": "0 4 * * *", "after": "0 5 * * *" },
        ]),
        "{diff}"
    );
    let (status, _) = owner.get(&format!("{integration}/versions/99"));
    assert_eq!(status, 404);

    // Restored: version 1's configuration is back, as version 5.
    let (status, restored) = owner.post(&format!("{integration}/versions/1/restore"), json!({}));
    assert_eq!(status, 200, "{restored}");
    assert_eq!(
        (&restored["options"]["create"], restored["schedule"].as_str()),
        (&json!(true), Some("0 4 * * *"))
    );
    let (_, versions) = owner.get(&format!("{integration}/versions"));
    assert_eq!(
        (&versions[0]["version"], &versions[0]["action"]),
        (&json!(5), &json!("integration.restore"))
    );
    let (_, diff) = owner.get(&format!("{integration}/versions/5/diff?from=1"));
    assert_eq!(diff["changes"], json!([]), "{diff}");
    assert!(owner.audit_actions("").contains(&"integration.restore".to_string()));

    // An installation's config merges too, and its versions hold the
    // secrets' names, never their values.
    let installation = format!("/api/v1/installations/{}", acme.installed.source);
    let (status, changed) = owner.patch(&installation, json!({ "config": { "partner_id": "acme-partner" } }));
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["config"]["base_url"], acme.hr.base_url(), "kept: {changed}");
    let (status, changed) = owner.patch(
        &installation,
        json!({ "config": { "partner_id": null, "app_id": "hrsync" } }),
    );
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        changed["config"],
        json!({ "base_url": acme.hr.base_url(), "app_id": "hrsync" })
    );
    let (_, versions) = owner.get(&format!("{installation}/versions"));
    assert_eq!(versions.as_array().unwrap().len(), 3, "{versions}");
    assert_eq!(versions[0]["config"]["secrets"], json!(["client-id", "client-secret"]));
    assert!(!versions.to_string().contains(HR_SECRET), "{versions}");
    let (_, diff) = owner.get(&format!("{installation}/versions/3/diff"));
    assert_eq!(
        diff["changes"],
        json!([
            { "path": "/config/app_id", "after": "hrsync" },
            { "path": "/config/partner_id", "before": "acme-partner" },
        ]),
        "{diff}"
    );
    let (status, restored) = owner.post(&format!("{installation}/versions/1/restore"), json!({}));
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["config"], json!({ "base_url": acme.hr.base_url() }));
    assert!(owner.audit_actions("").contains(&"installation.restore".to_string()));

    // Another tenant sees none of it.
    let (_, other) = acme.server.tenant("Globex", "owner@globex.example");
    for path in [
        format!("{integration}/versions"),
        format!("{integration}/versions/1"),
        format!("{installation}/versions/1/diff"),
    ] {
        let (status, body) = other.get(&path);
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, body) = other.post(&format!("{integration}/versions/1/restore"), json!({}));
    assert_eq!(status, 404, "{body}");
}

/// `POST /integrations/{id}/invitations`: whom is checked by field, a
/// target without invitations is named, other tenants see nothing, and
/// employees without an account are named (the sending itself:
/// host/cli/tests/cli.rs, `invite_sends_later_…`, same engine code).
#[test]
fn invitations_later_through_the_api_name_what_is_wrong() {
    let acme = Acme::start(ServerOptions::default());
    let (server, owner) = (&acme.server, &acme.owner);
    let path = format!("/api/v1/integrations/{}/invitations", acme.integration_id());
    let (_, run) = owner.post(
        &format!("/api/v1/integrations/{}/sync", acme.integration_id()),
        json!({}),
    );
    owner.wait_for_run(run["run_id"].as_str().unwrap());

    for (body, field) in [
        (json!({}), "all"),
        (json!({ "all": true, "employees": ["1"] }), "all"),
        (json!({ "employees": [""] }), "employees"),
        (json!({ "employees": ["x".repeat(201)] }), "employees"),
    ] {
        let (status, error) = owner.post(&path, body.clone());
        assert_eq!(
            (status, error["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}: {error}"
        );
    }
    let (status, error) = owner.post(&path, json!({ "employees": ["no-such-hr-id"] }));
    assert_eq!(status, 422, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no-such-hr-id"),
        "{error}"
    );
    // The SCIM target sends no invitations: said before anything is sent.
    let (status, error) = owner.post(&path, json!({ "all": true }));
    assert_eq!(
        (status, error["error"]["field"].as_str()),
        (409, Some("target")),
        "{error}"
    );
    assert!(error["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("sends no invitations"));

    let (_, rival) = server.tenant("Rival", "owner@rival.example");
    let (status, _) = rival.post(&path, json!({ "all": true }));
    assert_eq!(status, 404, "another tenant's integration is not there");
}

/// The recipes of examples/ through the API: listed part by part, and
/// Personio → Leapsome (seed 004) made in one step — installations and an
/// inactive integration — whose first run fills Leapsome.
#[test]
fn a_recipe_becomes_an_integration_in_one_step() {
    use hrsync_emulators::leapsome::LeapsomeEmulator;
    let server = Server::start();
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let (status, recipes) = owner.get("/api/v1/recipes");
    assert_eq!(status, 200, "{recipes}");
    let names: Vec<&str> = recipes
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"personio-to-leapsome") && names.contains(&"personio-to-perks"),
        "{names:?}"
    );
    let leapsome = recipes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "personio-to-leapsome")
        .unwrap();
    assert_eq!(leapsome["seed"], "004");
    assert_eq!(leapsome["target"]["secrets"], json!(["token"]));

    let hr = PersonioEmulator::start(HR_CLIENT, HR_SECRET).unwrap();
    people(&hr);
    // The recipe maps gender: a company that records none is told so by
    // the first run (host/engine: a rule's field nobody has).
    for id in 1..=5 {
        hr.update(id, |e| e.gender = Some("diverse".into()));
    }
    let app = LeapsomeEmulator::start(APP_TOKEN).unwrap();
    let app_origin = app.origin();
    let body = json!({
        "name": "Personio → Leapsome",
        "source": { "secrets": { "client-id": HR_CLIENT, "client-secret": HR_SECRET },
                    "config": { "base_url": hr.base_url() }, "allowed_hosts": [hr.base_url()] },
        "target": { "secrets": { "token": APP_TOKEN },
                    "config": { "base_url": app.base_url() }, "allowed_hosts": [app_origin] },
        "options": { "deletion_threshold_percent": 50 },
    });
    // Nothing is made while a plugin is missing from the catalog.
    let (status, error) = owner.post("/api/v1/recipes/personio-to-leapsome", body.clone());
    assert_eq!(status, 422, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("personio"),
        "{error}"
    );
    let (_, installations) = owner.get("/api/v1/installations");
    assert_eq!(installations.as_array().map(Vec::len), Some(0), "{installations}");
    for plugin in ["personio", "attribute_map", "team_map", "scim"] {
        let (status, uploaded) = owner.upload(&plugin_bytes(plugin));
        assert!(status == 201 || status == 409, "{plugin}: {status} {uploaded}");
    }
    let (status, error) = owner.post("/api/v1/recipes/no-such-recipe", body.clone());
    assert_eq!(status, 404, "{error}");
    // A secret left out is named with its part.
    let mut without_token = body.clone();
    without_token["target"]["secrets"] = json!({});
    let (status, error) = owner.post("/api/v1/recipes/personio-to-leapsome", without_token);
    assert_eq!(status, 422, "{error}");
    assert!(
        error["error"]["field"]
            .as_str()
            .unwrap_or_default()
            .starts_with("target"),
        "{error}"
    );

    let mut named = body.clone();
    named["name"] = json!("Leapsome");
    let (status, created) = owner.post("/api/v1/recipes/personio-to-leapsome", named);
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["state"], "inactive");
    assert_eq!(created["options"]["create_for"], json!(["active"]));
    assert_eq!(created["options"]["deletion_threshold_percent"], 50);
    assert_eq!(created["rules"].as_array().map(Vec::len), Some(2));
    let id = created["id"].as_str().unwrap();
    let (_, run) = owner.post(&format!("/api/v1/integrations/{id}/sync"), json!({}));
    let done = owner.wait_for_run(run["run_id"].as_str().unwrap());
    assert_eq!(done["run"]["status"], "succeeded", "{done}");
    assert_eq!(app.users().len(), 5, "everyone active got a Leapsome account");
    let teams: Vec<String> = app.groups().into_iter().map(|(_, name, _, _)| name).collect();
    assert!(
        teams.contains(&"Sales".to_string()) && teams.contains(&"IT".to_string()),
        "{teams:?}"
    );
    assert_no_secret(&[&created, &recipes]);
}
