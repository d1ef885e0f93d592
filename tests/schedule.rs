//! The scheduler of `hrsync serve`: integrations run on their cron in their
//! time zone, one run at a time; a failed run pauses the schedule with its
//! reason, the owners get an e-mail (through a local SMTP sink) and a
//! signed webhook; an admin's resume or a manual run that succeeds ends the
//! pause.

use std::time::Duration;

use hrsync_emulators::inbox::Inbox;
use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::ScimEmulator;
use hrsync_emulators::smtp::SmtpSink;
use hrsync_server::control::notify::{MailSettings, Notifier};
use hrsync_server::control::signature;
use hrsync_tests::api::{eventually, Client, Server, ServerOptions};
use hrsync_tests::plugin_bytes;
use serde_json::{json, Value};

const HR_CLIENT: &str = "schedule-client";
const HR_SECRET: &str = "schedule-secret-1d9e";
const APP_TOKEN: &str = "schedule-app-token";

/// Personio and SCIM installed, an integration created; its id and the
/// creation answer (with the webhook secrets).
fn integration(owner: &Client, hr: &PersonioEmulator, app: &ScimEmulator, extra: Value) -> (String, String, Value) {
    for plugin in ["personio", "scim"] {
        assert_eq!(owner.upload(&plugin_bytes(plugin)).0, 201);
    }
    let (_, source) = owner.post(
        "/api/v1/installations",
        json!({ "name": "Personio", "plugin": "personio", "config": { "base_url": hr.base_url() },
                "secrets": { "client-id": HR_CLIENT, "client-secret": HR_SECRET }, "allowed_hosts": [hr.base_url()] }),
    );
    let (_, target) = owner.post(
        "/api/v1/installations",
        json!({ "name": "SCIM", "plugin": "scim", "config": { "base_url": app.base_url() },
                "secrets": { "token": APP_TOKEN }, "allowed_hosts": [app.origin()] }),
    );
    let mut body = json!({ "name": "Nightly", "source": source["id"], "target": target["id"],
                           "options": { "deletion_threshold_percent": 100 } });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let (status, created) = owner.post("/api/v1/integrations", body);
    assert_eq!(status, 201, "{created}");
    (
        created["id"].as_str().unwrap().to_string(),
        source["id"].as_str().unwrap().to_string(),
        created,
    )
}

fn people(hr: &PersonioEmulator, count: u64) {
    hr.upsert((1..=count).map(|id| {
        let mut e = HrEmployee::new(id, &format!("P{id}"), "Example", "IT");
        e.last_modified_ms -= 60_000;
        e
    }));
}

fn runs(owner: &Client, id: &str) -> Vec<Value> {
    let (status, runs) = owner.get(&format!("/api/v1/runs?integration={id}&limit=500"));
    assert_eq!(status, 200, "{runs}");
    runs.as_array().unwrap().clone()
}

fn state(owner: &Client, id: &str) -> Value {
    owner.get(&format!("/api/v1/integrations/{id}")).1
}

#[test]
fn scheduled_runs_follow_the_cron_one_at_a_time() {
    let server = Server::start();
    let hr = PersonioEmulator::start(HR_CLIENT, HR_SECRET).unwrap();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    people(&hr, 3);
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    // Every second (six fields: seconds first).
    let (id, _, _) = integration(
        &owner,
        &hr,
        &app,
        json!({ "schedule": "* * * * * *", "timezone": "Europe/Rome" }),
    );
    let (status, activated) = owner.post(&format!("/api/v1/integrations/{id}/activate"), json!({}));
    assert_eq!(status, 202, "{activated}");
    assert!(eventually(Duration::from_secs(20), || {
        runs(&owner, &id).iter().filter(|r| r["trigger"] == "schedule").count() >= 3
    }));
    let (status, _) = owner.post(&format!("/api/v1/integrations/{id}/deactivate"), json!({}));
    assert_eq!(status, 200);
    assert!(eventually(Duration::from_secs(10), || server.control.running() == 0));
    let all = runs(&owner, &id);
    let scheduled: Vec<&Value> = all.iter().filter(|r| r["trigger"] == "schedule").collect();
    assert!(
        scheduled
            .iter()
            .all(|r| r["started_by"].is_null() && r["status"] == "succeeded"),
        "{all:?}"
    );
    // Never two at once: each run ends before the next starts.
    let mut spans: Vec<(i64, i64)> = all
        .iter()
        .map(|r| (r["started_at"].as_i64().unwrap(), r["finished_at"].as_i64().unwrap()))
        .collect();
    spans.sort();
    assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "{spans:?}");
    // The view shows the last run; a deactivated integration has no next.
    let view = state(&owner, &id);
    assert_eq!(view["last_run"]["id"], all[0]["id"], "{view}");
    assert_eq!(view["next_run_at"], Value::Null);
    let count = all.len();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(runs(&owner, &id).len(), count, "an inactive integration does not run");
}

#[test]
fn a_failed_run_pauses_the_schedule_and_tells_the_owners() {
    let smtp = SmtpSink::start().unwrap();
    let inbox = Inbox::start().unwrap();
    let server = Server::with(ServerOptions {
        notifier: Notifier {
            mail: Some(MailSettings {
                smtp_url: smtp.url(),
                from: "hrsync <hrsync@acme.example>".into(),
            }),
            ..Notifier::default()
        },
        ..ServerOptions::default()
    });
    let hr = PersonioEmulator::start(HR_CLIENT, HR_SECRET).unwrap();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    people(&hr, 3);
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let (id, source, created) = integration(
        &owner,
        &hr,
        &app,
        json!({ "schedule": "* * * * * *",
                "notify": { "emails": ["oncall@acme.example"], "webhook_url": inbox.url() } }),
    );
    let signing = created["signing_secret"].as_str().unwrap().to_string();
    let (_, activated) = owner.post(&format!("/api/v1/integrations/{id}/activate"), json!({}));
    let first = owner.wait_for_run(activated["run_id"].as_str().unwrap());
    assert_eq!(first["run"]["status"], "succeeded", "{first}");

    // The HR credentials go wrong: the next scheduled run fails and pauses.
    let (status, _) = owner.patch(
        &format!("/api/v1/installations/{source}"),
        json!({ "secrets": { "client-secret": "revoked-by-hr" } }),
    );
    assert_eq!(status, 200);
    assert!(
        eventually(Duration::from_secs(20), || state(&owner, &id)["state"] == "paused"),
        "{}",
        state(&owner, &id)
    );
    let paused = state(&owner, &id);
    let reason = paused["paused_reason"].as_str().unwrap();
    assert!(reason.contains("personio") || reason.contains("source"), "{paused}");
    assert_eq!(paused["next_run_at"], Value::Null);
    assert_eq!(paused["last_run"]["status"], "failed", "{paused}");
    assert_eq!(paused["last_run"]["trigger"], "schedule", "{paused}");
    assert!(!paused.to_string().contains("revoked-by-hr"));

    // E-mail to the owner and the extra address, through SMTP.
    assert!(eventually(Duration::from_secs(10), || !smtp.mails().is_empty()));
    let mail = &smtp.mails()[0];
    let mut to = mail.to.clone();
    to.sort();
    assert_eq!(to, ["oncall@acme.example", "owner@acme.example"]);
    assert!(
        mail.data.contains("Nightly") && mail.data.contains(&id),
        "{}",
        mail.data
    );
    assert!(!mail.data.contains("revoked-by-hr"));

    // A webhook signed with the integration's signing secret.
    assert!(eventually(Duration::from_secs(10), || !inbox.deliveries().is_empty()));
    let delivery = &inbox.deliveries()[0];
    let header = delivery.headers.get(signature::HEADER).and_then(|h| h.to_str().ok());
    let now = hrsync_model::clock::now_ms() / 1000;
    assert_eq!(
        signature::verify(signing.as_bytes(), header, &delivery.body, now),
        Ok(())
    );
    assert_eq!(
        signature::verify(b"another secret", header, &delivery.body, now),
        Err(signature::SignatureError::Mismatch)
    );
    let event: Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(
        (event["event"].as_str(), event["integration"].as_str()),
        (Some("run.failed"), Some(id.as_str()))
    );

    // While paused the schedule does not run.
    let count = runs(&owner, &id).len();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(runs(&owner, &id).len(), count);

    // An admin resumes: back on the schedule, which fails and pauses again.
    let (status, resumed) = owner.post(&format!("/api/v1/integrations/{id}/resume"), json!({}));
    assert_eq!((status, resumed["state"].as_str()), (200, Some("active")), "{resumed}");
    assert!(resumed["next_run_at"].is_i64());
    assert!(eventually(Duration::from_secs(20), || state(&owner, &id)["state"] == "paused"));
    let (status, body) = owner.post(&format!("/api/v1/integrations/{id}/resume"), json!({}));
    assert_eq!(status, 200, "{body}");
    owner.post(&format!("/api/v1/integrations/{id}/deactivate"), json!({}));
    let (status, body) = owner.post(&format!("/api/v1/integrations/{id}/resume"), json!({}));
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (409, Some("state")),
        "{body}"
    );

    // Paused again; the credentials are fixed and a manual run succeeds,
    // which ends the pause.
    owner.post(&format!("/api/v1/integrations/{id}/activate"), json!({}));
    assert!(eventually(Duration::from_secs(20), || state(&owner, &id)["state"] == "paused"));
    assert!(eventually(Duration::from_secs(10), || server.control.running() == 0));
    owner.patch(
        &format!("/api/v1/installations/{source}"),
        json!({ "secrets": { "client-secret": HR_SECRET } }),
    );
    let (status, started) = owner.post(&format!("/api/v1/integrations/{id}/sync"), json!({ "full": true }));
    assert_eq!(status, 202, "{started}");
    let run = owner.wait_for_run(started["run_id"].as_str().unwrap());
    assert_eq!(run["run"]["status"], "succeeded", "{run}");
    assert!(eventually(Duration::from_secs(5), || state(&owner, &id)["state"] == "active"));
    owner.post(&format!("/api/v1/integrations/{id}/deactivate"), json!({}));

    let actions = owner.audit_actions(&format!("integration={id}&limit=500"));
    for action in ["integration.paused", "integration.resume", "integration.resumed"] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
}
