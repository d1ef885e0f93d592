//! The `scim` plugin against a SCIM server we did not write: `scim2-server`
//! (PyPI, installed into `.venv` by `scripts/setup`), over HTTP on
//! loopback — one plugin call at a time, then whole jobs from the Personio
//! emulator.

use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_engine::job::{unobserved, Job, PluginSetup, RunRequest};
use hrsync_engine::plan::Options;
use hrsync_engine::run::Settings;
use hrsync_engine::trigger::FullReads;
use hrsync_model::{
    AccountDraft, AccountUpdate, Attribute, AttributeValue, Change, FieldChange, ManagerLink, Membership, PluginError,
    TeamDraft,
};
use hrsync_runtime::{HttpPolicy, Sandbox, Secret, Secrets};
use hrsync_tests::load;
use hrsync_tests::scim2::Scim2Server;
use serde_json::{json, Value};

fn text(value: &str) -> AttributeValue {
    AttributeValue::Text(value.into())
}

fn draft(user_name: &str, hr_id: &str) -> AccountDraft {
    AccountDraft {
        external_id: hr_id.into(),
        user_name: user_name.into(),
        email: Some(user_name.into()),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        attributes: vec![Attribute {
            name: "department".into(),
            value: text("IT"),
        }],
        invite: false,
    }
}

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[test]
fn the_scim_plugin_speaks_to_scim2_server() {
    let server = Scim2Server::start();
    let mut target = load("scim").target(&server.sandbox()).expect("session");
    target.test_connection().expect("test connection");

    // One batch: /Bulk, as the server's ServiceProviderConfig offers.
    let outcomes = target
        .apply_batch(vec![
            Change::CreateAccount(draft("ada@example.com", "1")),
            Change::CreateAccount(draft("grace@example.com", "2")),
            Change::CreateTeam(TeamDraft {
                name: "Abteilung IT".into(),
                external_id: Some("hrsync:Abteilung IT".into()),
            }),
        ])
        .expect("apply-batch");
    let ids: Vec<String> = outcomes
        .into_iter()
        .map(|o| o.expect("applied").id.expect("an id"))
        .collect();
    let (ada, grace, team) = (&ids[0], &ids[1], &ids[2]);
    assert_eq!(server.user("ada@example.com")["id"], ada.as_str());
    assert_eq!(server.user("ada@example.com")[ENTERPRISE]["department"], "IT");

    // A second create of the same user: the server's 409 gives the id.
    let again = target
        .apply_batch(vec![Change::CreateAccount(draft("ada@example.com", "1"))])
        .expect("apply-batch");
    match &again[0] {
        Err(PluginError::Conflict(c)) => assert_eq!(c.existing_id.as_deref(), Some(ada.as_str())),
        other => panic!("expected a conflict with Ada's id, got {other:?}"),
    }

    let outcomes = target
        .apply_batch(vec![
            Change::AddMember(Membership {
                team_id: team.clone(),
                account_id: ada.clone(),
            }),
            Change::AddMember(Membership {
                team_id: team.clone(),
                account_id: grace.clone(),
            }),
            Change::LinkManager(ManagerLink {
                account_id: grace.clone(),
                manager_id: Some(ada.clone()),
            }),
            Change::UpdateAccount(AccountUpdate {
                id: grace.clone(),
                changes: vec![FieldChange {
                    field: "last_name".into(),
                    before: Some(text("Lovelace")),
                    after: Some(text("Hopper")),
                }],
            }),
            Change::DeactivateAccount(ada.clone()),
        ])
        .expect("apply-batch");
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let grace_now = server.user("grace@example.com");
    assert_eq!(grace_now["name"]["familyName"], "Hopper");
    assert_eq!(grace_now[ENTERPRISE]["manager"]["value"], ada.as_str());
    assert_eq!(server.user("ada@example.com")["active"], false);
    let group = server.group("Abteilung IT");
    let members: Vec<&str> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    assert_eq!(members.len(), 2, "{members:?}");

    // What the plugin reads back matches what the server holds.
    let accounts = target.list_accounts(None, 100).expect("list").accounts;
    let grace_account = accounts.iter().find(|a| &a.id == grace).expect("grace listed");
    assert_eq!(grace_account.manager_id.as_deref(), Some(ada.as_str()));
    assert_eq!(grace_account.last_name.as_deref(), Some("Hopper"));
    let teams = target.list_teams(None, 100).expect("teams").teams;
    assert_eq!(teams[0].member_ids.len(), 2);
    let fetched = target.get_accounts(&[ada.clone(), "no-such-id".into()]).expect("get");
    assert_eq!(fetched.len(), 1);
    assert!(!fetched[0].active);
}

#[test]
fn whole_jobs_from_personio_into_scim2_server() {
    let server = Scim2Server::start();
    let hr = PersonioEmulator::start("client", "personio-secret").unwrap();
    hr.upsert((1..=12).map(|id| {
        let mut e = HrEmployee::new(
            id,
            &format!("First{id}"),
            &format!("Last{id}"),
            if id % 3 == 0 { "Sales" } else { "IT" },
        );
        e.supervisor_id = (id > 1).then_some(1);
        e.last_modified_ms -= 60_000;
        e
    }));
    let mut secrets = Secrets::new();
    secrets.insert("client-id".into(), Secret::new("client"));
    secrets.insert("client-secret".into(), Secret::new("personio-secret"));
    let job = Job {
        integration: "personio-to-scim2-server".into(),
        source: PluginSetup {
            plugin: load("personio"),
            sandbox: Sandbox {
                config: json!({ "base_url": hr.base_url() }),
                secrets,
                http: HttpPolicy::with_grants(&[hr.base_url()]).unwrap(),
                ..Sandbox::default()
            },
        }
        .into(),
        rules: vec![PluginSetup {
            plugin: load("team_map"),
            sandbox: Sandbox {
                config: json!({ "teams": [{ "name": "Abteilung {department}" }] }),
                ..Sandbox::default()
            },
        }],
        target: PluginSetup {
            plugin: load("scim"),
            sandbox: server.sandbox(),
        },
        settings: Settings {
            options: Options {
                deletion_threshold_percent: 50,
                page_size: 5,
                ..Options::default()
            },
            ..Settings::default()
        },
        full_reads: FullReads::default(),
    };
    let hrsync_tests::TempStore {
        tokio,
        store,
        dir: _dir,
    } = hrsync_tests::temp_store();
    let run = |full: bool| {
        let request = RunRequest {
            full,
            ..RunRequest::default()
        };
        tokio
            .block_on(job.run(&store, request, unobserved()))
            .expect("run")
            .report
    };

    let first = run(false);
    assert_eq!(first.failed(), 0, "{:?}", first.outcomes);
    assert_eq!(server.users().len(), 12);
    let boss = server.user("first1.last1@example.com")["id"].clone();
    assert_eq!(
        server.user("first5.last5@example.com")[ENTERPRISE]["manager"]["value"],
        boss
    );
    let sales: Vec<Value> = server.group("Abteilung Sales")["members"].as_array().cloned().unwrap();
    assert_eq!(sales.len(), 4);

    // Nothing changed: a full read against the real server writes nothing.
    let steady = run(true);
    assert_eq!(steady.writes(), 0, "{:?}", steady.outcomes);

    // A move and a leaver flow through on an incremental run.
    hr.update(4, |e| e.department = Some("Sales".into()));
    hr.update(5, |e| e.status = "inactive".into());
    let third = run(false);
    assert_eq!(third.failed(), 0, "{:?}", third.outcomes);
    assert_eq!(server.user("first5.last5@example.com")["active"], false);
    let sales = server.group("Abteilung Sales");
    assert!(sales["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["value"] == server.user("first4.last4@example.com")["id"]));
}
