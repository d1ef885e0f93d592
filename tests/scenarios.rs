//! The scenarios of the product documents, run as an admin would run them:
//! whole jobs (trigger → read → rules → correlate → plan → apply → record)
//! with their state in a SQLite file, through the real plugins, against the
//! Personio, 4Geeks Perks and SCIM emulators on loopback.

use std::time::Duration;

use hrsync_emulators::perks::{Mode, PerksEmulator};
use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::{ScimEmulator, ENTERPRISE};
use hrsync_emulators::Fault;
use hrsync_engine::apply::ItemResult;
use hrsync_engine::job::{unobserved, Finished, Job, JobError, PluginSetup, RunRequest};
use hrsync_engine::plan::{Options, ReadKind};
use hrsync_engine::retry::RetryPolicy;
use hrsync_engine::run::{Progress, RunError, Settings};
use hrsync_engine::trigger::FullReads;
use hrsync_model::Change;
use hrsync_runtime::{HttpPolicy, Sandbox, Secret, Secrets};
use hrsync_store::Store;
use hrsync_tests::load;
use serde_json::json;

const PERKS_KEY: &str = "sk_test_scenarios_77aa";

fn secrets(pairs: &[(&str, &str)]) -> Secrets {
    pairs.iter().map(|(k, v)| (k.to_string(), Secret::new(*v))).collect()
}

fn setup(plugin: &str, config: serde_json::Value) -> PluginSetup {
    PluginSetup {
        plugin: load(plugin),
        sandbox: Sandbox {
            config,
            ..Sandbox::default()
        },
    }
}

/// With six employees one leaver is 20% of the accounts: the deletion
/// threshold is raised so that leavers go through (its own tests are in
/// sync.rs and the CLI tests).
fn settings(options: Options) -> Settings {
    Settings {
        options: Options {
            deletion_threshold_percent: 50,
            page_size: 3,
            ..options
        },
        retry: RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(2),
        },
        ..Settings::default()
    }
}

/// An HR system, an app and the state of one integration between them.
struct World {
    hr: PersonioEmulator,
    tokio: tokio::runtime::Runtime,
    store: Store,
    _dir: tempfile::TempDir,
}

impl World {
    /// Personio with: 1 Peter Wright (the boss), 2 Anna (Sales), 3 Luca
    /// (IT), 4 Tim (IT, external), 5 Sofia (IT, on leave), 6 Jonas (IT,
    /// onboarding).
    fn new() -> Self {
        let hr = PersonioEmulator::start("client", "personio-secret-3c2b").unwrap();
        let people = [
            (1, "Peter", "Wright", "Sales", "internal", "active"),
            (2, "Anna", "Schmidt", "Sales", "internal", "active"),
            (3, "Luca", "Rossi", "IT", "internal", "active"),
            (4, "Tim", "Vogel", "IT", "external", "active"),
            (5, "Sofia", "Garcia", "IT", "internal", "leave"),
            (6, "Jonas", "Becker", "IT", "internal", "onboarding"),
        ];
        hr.upsert(people.iter().map(|(id, first, last, department, kind, status)| {
            let mut e = HrEmployee::new(*id, first, last, department);
            e.employment_type = kind.to_string();
            e.status = status.to_string();
            e.supervisor_id = (*id != 1).then_some(1);
            e.last_modified_ms -= 60_000;
            e
        }));
        let hrsync_tests::TempStore { tokio, store, dir } = hrsync_tests::temp_store();
        Self {
            hr,
            tokio,
            store,
            _dir: dir,
        }
    }

    fn source(&self) -> PluginSetup {
        PluginSetup {
            plugin: load("personio"),
            sandbox: Sandbox {
                config: json!({ "base_url": self.hr.base_url() }),
                secrets: secrets(&[("client-id", "client"), ("client-secret", "personio-secret-3c2b")]),
                http: HttpPolicy::with_grants(&[self.hr.base_url()]).unwrap(),
                ..Sandbox::default()
            },
        }
    }

    fn run(&self, job: &Job, request: RunRequest) -> Result<Finished, JobError> {
        self.tokio.block_on(job.run(&self.store, request, unobserved()))
    }

    fn sync(&self, job: &Job) -> Finished {
        self.run(job, RunRequest::default()).expect("run")
    }

    fn full_sync(&self, job: &Job) -> Finished {
        self.run(
            job,
            RunRequest {
                full: true,
                ..RunRequest::default()
            },
        )
        .expect("run")
    }
}

fn externals_excluded() -> PluginSetup {
    setup(
        "scope_rule",
        json!({ "exclude": [{ "name": "externals", "all": [{ "field": "employment_type", "op": "equals", "value": "external" }] }] }),
    )
}

/// Personio → scope (externals out) → "New Hire" package → Perks.
fn perks_job(world: &World, perks: &PerksEmulator, options: Options) -> Job {
    Job {
        integration: "personio-to-perks".into(),
        source: world.source().into(),
        rules: vec![
            externals_excluded(),
            setup(
                "attribute_map",
                json!({ "attributes": [
                    { "target": "department", "from": "department" },
                    { "target": "benefits_package", "value": "New Hire", "only_on_create": true }
                ] }),
            ),
        ],
        target: PluginSetup {
            plugin: load("perks"),
            sandbox: Sandbox {
                config: json!({ "base_url": perks.base_url(), "environment": "sandbox" }),
                secrets: secrets(&[("api-key", PERKS_KEY)]),
                http: HttpPolicy::with_grants(&[perks.base_url()]).unwrap(),
                ..Sandbox::default()
            },
        },
        settings: settings(options),
        full_reads: FullReads::default(),
    }
}

fn perks() -> PerksEmulator {
    PerksEmulator::start(PERKS_KEY, "sk_live_never_used").unwrap()
}

fn wallet(perks: &PerksEmulator, email: &str) -> serde_json::Value {
    perks
        .user_by_email(Mode::Sandbox, email)
        .unwrap_or_else(|| panic!("no wallet for {email}"))
}

fn count(finished: &Finished, kind: fn(&Change) -> bool) -> usize {
    finished.report.count(kind)
}

#[test]
fn automated_onboarding_and_instant_offboarding() {
    let world = World::new();
    let perks = perks();
    let job = perks_job(&world, &perks, Options::default());

    let first = world.sync(&job);
    assert_eq!(first.report.read_kind, ReadKind::Full);
    // Active, onboarding and on leave get a wallet; the external does not.
    assert_eq!(count(&first, |c| matches!(c, Change::CreateAccount(_))), 5);
    assert!(perks.user_by_email(Mode::Sandbox, "tim.vogel@example.com").is_none());
    assert_eq!(
        wallet(&perks, "sofia.garcia@example.com")["status"],
        "active",
        "leave keeps it"
    );
    let anna = wallet(&perks, "anna.schmidt@example.com");
    assert_eq!(
        (
            anna["benefits_package"].as_str(),
            anna["department"].as_str(),
            anna["role"].as_str()
        ),
        (Some("New Hire"), Some("Sales"), Some("employee"))
    );
    // Fields not mapped never leave the host: Personio has a birthday.
    assert!(perks
        .users(Mode::Sandbox)
        .iter()
        .all(|w| w.get("birthday").is_none() && !w.to_string().contains("1990-01-01")));

    // Nothing changed in Personio: zero writes.
    let writes = perks.writes();
    let second = world.sync(&job);
    assert_eq!(second.report.read_kind, ReadKind::Incremental);
    assert_eq!(second.report.writes(), 0);
    assert_eq!(perks.writes(), writes);

    // Anna is terminated: the next (incremental) run freezes her wallet.
    world.hr.update(2, |e| {
        e.status = "inactive".into();
        e.termination_date = Some("2026-11-22".into());
    });
    let third = world.sync(&job);
    assert_eq!(third.report.read_kind, ReadKind::Incremental);
    assert_eq!(third.report.employees_read, 1);
    assert_eq!(wallet(&perks, "anna.schmidt@example.com")["status"], "archived");
    assert_eq!(perks.writes().updates, writes.updates + 1, "one write: the archive");

    // The run history has all three, with counts.
    let runs = world
        .tokio
        .block_on(world.store.runs(Some("personio-to-perks"), 10))
        .unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r.status == "succeeded"));
    assert!(
        runs[0].counts.contains("\"deactivate-account\":1"),
        "{}",
        runs[0].counts
    );
}

#[test]
fn reactivation_is_opt_in_and_a_rehire_keeps_the_wallet() {
    let world = World::new();
    let perks = perks();
    let job = perks_job(&world, &perks, Options::default());
    world.sync(&job);
    let luca = wallet(&perks, "luca.rossi@example.com")["id"].clone();
    world.hr.update(3, |e| e.status = "inactive".into());
    world.sync(&job);
    assert_eq!(wallet(&perks, "luca.rossi@example.com")["status"], "archived");

    // Luca comes back. Reactivation is off by default: he stays archived.
    world.hr.update(3, |e| {
        e.status = "active".into();
        e.hire_date = Some("2027-01-01".into());
    });
    let off = world.sync(&job);
    assert_eq!(wallet(&perks, "luca.rossi@example.com")["status"], "archived");
    assert!(off
        .report
        .skipped
        .iter()
        .any(|s| s.hr_id == "3" && s.reason.contains("reactivation is off")));

    // With reactivation on, the same wallet comes back: no duplicate.
    let job = perks_job(
        &world,
        &perks,
        Options {
            reactivate: true,
            ..Options::default()
        },
    );
    world.hr.update(3, |e| e.office = Some("Munich".into()));
    let on = world.sync(&job);
    assert_eq!(count(&on, |c| matches!(c, Change::ReactivateAccount(_))), 1);
    let again = wallet(&perks, "luca.rossi@example.com");
    assert_eq!((again["id"].clone(), again["status"].as_str()), (luca, Some("active")));
    assert_eq!(perks.users(Mode::Sandbox).len(), 5);
}

#[test]
fn a_wallet_made_by_hand_is_linked_not_duplicated() {
    let world = World::new();
    let perks = perks();
    // "User already exists": Anna's wallet was created in the console.
    let by_hand = perks.add_user(Mode::Sandbox, "Anna.Schmidt@example.com", "Anna", "Schmidt");
    // Matching by external id only, so correlation misses it and the
    // create meets the API's "User already exists".
    let mut job = perks_job(&world, &perks, Options::default());
    job.settings.matching = vec![hrsync_engine::correlate::MatchAttribute::ExternalId];
    let first = world.sync(&job);
    let anna = first
        .report
        .outcomes
        .iter()
        .find(|o| o.planned.hr_id.as_deref() == Some("2"))
        .expect("an item for Anna");
    assert_eq!(anna.result, ItemResult::LinkedExisting { id: by_hand.clone() });
    assert_eq!(perks.users(Mode::Sandbox).len(), 5, "never duplicated");

    // Linked for good: the next full run updates the hand-made wallet.
    let links = world.tokio.block_on(world.store.links("personio-to-perks")).unwrap();
    assert!(links.iter().any(|l| l.hr_id == "2" && l.account_id == by_hand));
    world.full_sync(&job);
    assert_eq!(wallet(&perks, "anna.schmidt@example.com")["department"], "Sales");
}

#[test]
fn invitations_and_manual_edits() {
    let world = World::new();
    let perks = perks();
    let job = perks_job(
        &world,
        &perks,
        Options {
            invite: true,
            ..Options::default()
        },
    );
    world.sync(&job);
    assert!(perks.users(Mode::Sandbox).iter().all(|w| w["invited"] == true));
    assert_eq!(perks.writes().invites, 5);

    // An admin edits an owned field and one the integration does not own.
    let luca = wallet(&perks, "luca.rossi@example.com")["id"]
        .as_str()
        .unwrap()
        .to_string();
    perks.edit_user(Mode::Sandbox, &luca, |w| {
        w["department"] = json!("Edited by hand");
        w["role"] = json!("manager");
    });
    // A full read notices: the owned field is set back, the other kept.
    let full = world.full_sync(&job);
    assert_eq!(count(&full, |c| matches!(c, Change::UpdateAccount(_))), 1);
    let after = wallet(&perks, "luca.rossi@example.com");
    assert_eq!(
        (after["department"].as_str(), after["role"].as_str()),
        (Some("IT"), Some("manager"))
    );
    // The package was set on create only and is never sent again.
    assert_eq!(after["benefits_package"], "New Hire");
}

#[test]
fn an_account_archived_by_hand_is_not_reactivated_while_excluded() {
    let world = World::new();
    let perks = perks();
    let job = perks_job(
        &world,
        &perks,
        Options {
            reactivate: true,
            ..Options::default()
        },
    );
    world.sync(&job);
    // Jonas becomes an external; an admin archives his wallet by hand.
    world.hr.update(6, |e| e.employment_type = "external".into());
    let jonas = wallet(&perks, "jonas.becker@example.com")["id"]
        .as_str()
        .unwrap()
        .to_string();
    perks.edit_user(Mode::Sandbox, &jonas, |w| w["status"] = json!("archived"));
    let writes = perks.writes();
    let report = world.full_sync(&job).report;
    assert!(report
        .skipped
        .iter()
        .any(|s| s.hr_id == "6" && s.reason.contains("excluded")));
    assert_eq!(perks.writes(), writes, "excluded: disconnected, nothing written");
    assert_eq!(wallet(&perks, "jonas.becker@example.com")["status"], "archived");
    let links = world.tokio.block_on(world.store.links("personio-to-perks")).unwrap();
    assert!(!links.iter().any(|l| l.hr_id == "6"), "the link is dropped");
}

#[test]
fn one_bad_record_fails_its_item_and_the_cursor_waits() {
    let world = World::new();
    let perks = perks();
    // A last name longer than the app takes (Perks: 150 characters).
    world.hr.update(3, |e| e.last_name = "Rossi-".repeat(60));
    let job = perks_job(&world, &perks, Options::default());
    let first = world.sync(&job);
    assert_eq!(first.report.failed(), 1);
    assert_eq!(perks.users(Mode::Sandbox).len(), 4, "everyone else got a wallet");
    let failed = first
        .report
        .outcomes
        .iter()
        .find(|o| matches!(o.result, ItemResult::Failed(_)))
        .unwrap();
    assert_eq!(failed.planned.hr_id.as_deref(), Some("3"));
    let runs = world.tokio.block_on(world.store.runs(None, 5)).unwrap();
    assert_eq!(runs[0].status, "partial");
    let items = world.tokio.block_on(world.store.items(&first.run_id)).unwrap();
    let item = items.iter().find(|i| i.hr_id.as_deref() == Some("3")).unwrap();
    assert!(item.error.as_deref().unwrap_or("").contains("last_name"), "{item:?}");
    assert_eq!(
        world.tokio.block_on(world.store.cursor("personio-to-perks")).unwrap(),
        None,
        "a run with failures does not advance the cursor"
    );
    // Fixed in Personio: the next run is a full read again and catches up.
    world.hr.update(3, |e| e.last_name = "Rossi".into());
    let second = world.sync(&job);
    assert_eq!(second.report.read_kind, ReadKind::Full);
    assert_eq!(second.report.failed(), 0);
    assert_eq!(perks.users(Mode::Sandbox).len(), 5);
}

#[test]
fn an_invalid_email_is_skipped_never_sent() {
    let world = World::new();
    let perks = perks();
    world.hr.update(3, |e| e.email = Some("luca-at-example.com".into()));
    world.hr.update(2, |e| e.email = None);
    let job = perks_job(&world, &perks, Options::default());
    let first = world.sync(&job);
    assert_eq!((first.report.failed(), perks.users(Mode::Sandbox).len()), (0, 3));
    let reason = |hr_id: &str| {
        first
            .report
            .skipped
            .iter()
            .find(|s| s.hr_id == hr_id)
            .map(|s| s.reason.clone())
            .unwrap_or_default()
    };
    assert_eq!(reason("3"), "no valid e-mail: \"luca-at-example.com\" — it has no @");
    assert_eq!(reason("2"), "no valid e-mail: the HR record has none");
    let items = world.tokio.block_on(world.store.items(&first.run_id)).unwrap();
    assert!(
        items
            .iter()
            .any(|i| i.kind == "skipped" && i.hr_id.as_deref() == Some("3")),
        "`hrsync runs --run` lists the skip"
    );
    // A skip is not a failure: the run succeeded and the cursor moved.
    let runs = world.tokio.block_on(world.store.runs(None, 5)).unwrap();
    assert_eq!(runs[0].status, "succeeded");
    // Fixed in Personio (with stray spaces and capitals): the next run
    // creates the wallet with the e-mail trimmed (the Personio plugin
    // lowers its case), and the run after it writes nothing.
    world
        .hr
        .update(3, |e| e.email = Some("  Luca.Rossi@Example.com ".into()));
    let second = world.sync(&job);
    assert_eq!(second.report.count(|c| matches!(c, Change::CreateAccount(_))), 1);
    assert_eq!(
        wallet(&perks, "luca.rossi@example.com")["email"],
        "luca.rossi@example.com"
    );
    let writes = perks.writes();
    world.full_sync(&job);
    assert_eq!(perks.writes(), writes, "the steady state writes nothing");
}

#[test]
fn hr_faults_midway_and_an_expired_token() {
    let world = World::new();
    let perks = perks();
    let job = perks_job(&world, &perks, Options::default());

    // The token expires after the first page: the plugin meets a 401,
    // renews the token once and reads on.
    world.hr.expire_tokens_after(1);
    let first = world.sync(&job);
    assert_eq!(first.report.employees_read, 6);
    let counts = world.hr.counts();
    assert_eq!((counts.auth, counts.rejected_tokens), (2, 1), "{counts:?}");

    // A full read meets a 500 on its second page, for longer than the
    // retries last: the run fails, is recorded, writes nothing and keeps
    // the cursor.
    let cursor = world.tokio.block_on(world.store.cursor("personio-to-perks")).unwrap();
    world.hr.update(2, |e| e.status = "inactive".into());
    world.hr.update(3, |e| e.status = "inactive".into());
    world.hr.update(5, |e| e.department = Some("Sales".into()));
    world.hr.update(6, |e| e.department = Some("Sales".into()));
    let writes = perks.writes();
    for skip in [1, 0, 0] {
        world.hr.fail_after(
            skip,
            Fault {
                status: 500,
                retry_after_secs: None,
            },
        );
    }
    let full = RunRequest {
        full: true,
        ..RunRequest::default()
    };
    match world.run(&job, full) {
        Err(JobError::Run {
            error: RunError::Read(_),
            ..
        }) => {}
        other => panic!("expected a failed read, got {other:?}"),
    }
    assert_eq!(perks.writes(), writes);
    assert_eq!(
        world.tokio.block_on(world.store.cursor("personio-to-perks")).unwrap(),
        cursor
    );
    let runs = world.tokio.block_on(world.store.runs(None, 1)).unwrap();
    assert_eq!(runs[0].status, "failed");
    assert!(runs[0].error.as_deref().unwrap_or("").contains("nothing was changed"));

    // A 429 with Retry-After midway is waited out; 503s from Perks retried.
    world.hr.fail_after(
        1,
        Fault {
            status: 429,
            retry_after_secs: Some(1),
        },
    );
    // Perks: a 503 on reading the wallets, then one on the first write.
    for skip in [0, 2] {
        perks.fail_after(
            skip,
            Fault {
                status: 503,
                retry_after_secs: None,
            },
        );
    }
    let recovered = world
        .run(
            &job,
            RunRequest {
                full: true,
                ..RunRequest::default()
            },
        )
        .expect("recovered");
    assert_eq!(recovered.report.failed(), 0);
    assert!(recovered.report.outcomes.iter().any(|o| o.attempts == 2));
    assert_eq!(wallet(&perks, "anna.schmidt@example.com")["status"], "archived");
    assert_eq!(wallet(&perks, "luca.rossi@example.com")["status"], "archived");
}

/// Personio → scope → a team-naming script and the team map → SCIM.
fn scim_job(world: &World, app: &ScimEmulator, script: &str) -> Job {
    Job {
        integration: "personio-to-scim".into(),
        source: world.source().into(),
        rules: vec![
            externals_excluded(),
            setup("script_rule", json!({ "script": script })),
            setup(
                "team_map",
                json!({ "teams": [{ "name": "{supervisor.first_name} {supervisor.last_name}s Team" }] }),
            ),
        ],
        target: PluginSetup {
            plugin: load("scim"),
            sandbox: Sandbox {
                config: json!({ "base_url": app.base_url() }),
                secrets: secrets(&[("token", "scim-token-99")]),
                http: HttpPolicy::with_grants(&[app.origin()]).unwrap(),
                ..Sandbox::default()
            },
        },
        settings: settings(Options::default()),
        full_reads: FullReads::default(),
    }
}

const TEAM_SCRIPT: &str = r#"
fn teams(e) {
    if e.department == "Sales" && e.hr_id == "6" { throw "cannot place " + e.first_name; }
    ["Abteilung " + e.department]
}
"#;

/// The destructive typo of issue 12: `e.departmnt` used to read as `()`,
/// and a real run then emptied every department team. Now the run stops
/// at the rules, naming the field and the nearest one, and writes nothing —
/// a dry run shows the same error.
#[test]
fn a_mistyped_field_in_a_script_stops_the_run_before_anything_is_written() {
    let world = World::new();
    let app = ScimEmulator::start("scim-token-99").unwrap();
    world.sync(&scim_job(&world, &app, TEAM_SCRIPT));
    let writes = app.writes().total();
    let typo = scim_job(&world, &app, "fn teams(e) {\n    [\"Abteilung \" + e.departmnt]\n}");
    for dry_run in [true, false] {
        let request = RunRequest {
            dry_run,
            full: true,
            ..RunRequest::default()
        };
        let error = world.run(&typo, request).expect_err("the run stops").to_string();
        assert!(error.contains("a rule failed; nothing was changed"), "{error}");
        assert!(error.contains("no field `departmnt`"), "{error}");
        assert!(error.contains("did you mean `department`?"), "{error}");
        assert!(error.contains("line 2"), "{error}");
    }
    assert_eq!(app.writes().total(), writes, "nothing written");
}

#[test]
fn teams_follow_the_org_chart_and_managers_come_second() {
    let world = World::new();
    let app = ScimEmulator::start("scim-token-99").unwrap();
    let job = scim_job(&world, &app, TEAM_SCRIPT);
    let first = world.sync(&job);
    assert_eq!(first.report.failed(), 0);
    let id_of = |email: &str| app.user_by_name(email).unwrap()["id"].as_str().unwrap().to_string();
    let members = |team: &str| -> Vec<String> {
        let group = app
            .groups()
            .into_iter()
            .find(|g| g["displayName"] == team)
            .unwrap_or_else(|| panic!("no team {team}: {:?}", app.groups()));
        let mut ids: Vec<String> = group["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    let (peter, anna, luca, sofia, jonas) = (
        id_of("peter.wright@example.com"),
        id_of("anna.schmidt@example.com"),
        id_of("luca.rossi@example.com"),
        id_of("sofia.garcia@example.com"),
        id_of("jonas.becker@example.com"),
    );
    assert_eq!(members("Abteilung Sales"), sorted(vec![peter.clone(), anna.clone()]));
    assert_eq!(
        members("Abteilung IT"),
        sorted(vec![luca.clone(), sofia.clone(), jonas.clone()])
    );
    assert_eq!(
        members("Peter Wrights Team"),
        sorted(vec![anna.clone(), luca.clone(), sofia.clone(), jonas.clone()])
    );
    // Managers: linked after every account existed.
    let manager_of = |email: &str| app.user_by_name(email).unwrap()[ENTERPRISE]["manager"]["value"].clone();
    assert_eq!(manager_of("luca.rossi@example.com"), json!(peter));
    assert!(manager_of("peter.wright@example.com").is_null());

    // Sofia moves to Sales: her membership moves with her.
    world.hr.update(5, |e| e.department = Some("Sales".into()));
    world.sync(&job);
    assert_eq!(
        members("Abteilung Sales"),
        sorted(vec![peter.clone(), anna, sofia.clone()])
    );
    assert_eq!(members("Abteilung IT"), sorted(vec![luca.clone(), jonas.clone()]));

    // The script fails for Jonas once he moves to Sales: his record is
    // rejected and left exactly as is (not deactivated, not moved, even on
    // a full read); everyone else is synced.
    world.hr.update(6, |e| e.department = Some("Sales".into()));
    let report = world.full_sync(&job).report;
    let rejected = report
        .rejected
        .iter()
        .find(|r| r.hr_id.as_deref() == Some("6"))
        .expect("Jonas rejected");
    assert!(
        rejected.reason.contains("fn teams")
            && rejected.reason.contains("line 3")
            && rejected.reason.contains("cannot place Jonas"),
        "{}",
        rejected.reason
    );
    assert_eq!(app.user_by_name("jonas.becker@example.com").unwrap()["active"], true);
    assert_eq!(members("Abteilung IT"), sorted(vec![luca, jonas]));
    assert_eq!(report.failed(), 0);
}

#[test]
fn a_stopped_run_finishes_the_change_in_flight_and_the_next_run_takes_up_the_rest() {
    let world = World::new();
    let perks = perks();
    let job = perks_job(&world, &perks, Options::default());
    // A shutdown asks the run to stop while its third wallet is next.
    let request = RunRequest::default();
    let stop = request.stop.clone();
    let observe = move |progress| {
        if let Progress::Applying { done, .. } = progress {
            if done >= 2 {
                stop.request();
            }
        }
    };
    let stopped = world
        .tokio
        .block_on(job.run(&world.store, request, std::sync::Arc::new(observe)))
        .expect("run");
    assert!(stopped.report.interrupted);
    assert_eq!(count(&stopped, |c| matches!(c, Change::CreateAccount(_))), 2);
    assert_eq!(perks.users(Mode::Sandbox).len(), 2);
    let run = world.tokio.block_on(world.store.run(&stopped.run_id)).unwrap().unwrap();
    assert_eq!(run.status, "interrupted");
    // The cursor stays: the next run reads the same changes again.
    assert_eq!(
        world.tokio.block_on(world.store.cursor("personio-to-perks")).unwrap(),
        None
    );
    assert_eq!(
        world
            .tokio
            .block_on(world.store.links("personio-to-perks"))
            .unwrap()
            .len(),
        2
    );

    // The next run has a stop signal of its own.
    let next = world.sync(&job);
    assert!(!next.report.interrupted);
    assert_eq!(count(&next, |c| matches!(c, Change::CreateAccount(_))), 3);
    let mut emails: Vec<String> = perks
        .users(Mode::Sandbox)
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_string())
        .collect();
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), 5, "every wallet once: {emails:?}");
    assert!(world
        .tokio
        .block_on(world.store.cursor("personio-to-perks"))
        .unwrap()
        .is_some());
}

/// An account matched by e-mail is taken over, and the run says so: in its
/// report, its items (`link-adopted`) and its counts — a dry run too.
#[test]
fn an_account_matched_by_email_is_adopted_and_the_run_says_so() {
    let world = World::new();
    let perks = perks();
    let by_hand = perks.add_user(Mode::Sandbox, "Anna.Schmidt@example.com", "Anna", "Schmidt");
    let job = perks_job(&world, &perks, Options::default());
    let dry = world
        .run(
            &job,
            RunRequest {
                dry_run: true,
                ..RunRequest::default()
            },
        )
        .expect("dry run");
    let adopted = |finished: &Finished| -> Vec<(String, String)> {
        finished
            .report
            .adopted
            .iter()
            .map(|l| (l.hr_id.clone(), l.account_id.clone()))
            .collect()
    };
    assert_eq!(
        adopted(&dry),
        vec![("2".to_string(), by_hand.clone())],
        "the dry run shows it"
    );
    let real = world.sync(&job);
    assert_eq!(adopted(&real), vec![("2".to_string(), by_hand.clone())]);
    let items = world.tokio.block_on(world.store.items(&real.run_id)).unwrap();
    let item = items
        .iter()
        .find(|i| i.kind == "link-adopted")
        .expect("a link-adopted item");
    assert_eq!((item.hr_id.as_deref(), item.outcome.as_str()), (Some("2"), "done"));
    assert!(
        item.summary.contains(&by_hand) && item.summary.contains("anna.schmidt@example.com"),
        "{}",
        item.summary
    );
    let runs = world
        .tokio
        .block_on(world.store.runs(Some("personio-to-perks"), 1))
        .unwrap();
    assert!(runs[0].counts.contains("\"adopted\":1"), "{}", runs[0].counts);
    assert_eq!(perks.users(Mode::Sandbox).len(), 5, "never duplicated");
}
