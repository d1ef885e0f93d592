//! Whole runs: the Personio emulator → personio plugin → scope rule (Rust)
//! and department teams (Python) → scim plugin → SCIM emulator, all over
//! HTTP on loopback.

use std::time::Duration;

use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::{ScimEmulator, ENTERPRISE};
use hrsync_emulators::Fault;
use hrsync_engine::apply::ItemResult;
use hrsync_engine::correlate::{Link, LinkOrigin};
use hrsync_engine::plan::Options;
use hrsync_engine::retry::RetryPolicy;
use hrsync_engine::run::{run, RunError, RunReport, RunScope, Sessions, Settings};
use hrsync_model::Change;
use hrsync_runtime::{HttpPolicy, Plugin, RuleSession, Sandbox, Secret, Secrets};
use hrsync_tests::load;

struct Setup {
    hr: PersonioEmulator,
    app: ScimEmulator,
    personio: Plugin,
    scope: Plugin,
    teams: Plugin,
    scim: Plugin,
}

fn setup() -> Setup {
    let hr = PersonioEmulator::start("id", "secret-personio").unwrap();
    let app = ScimEmulator::start("token-scim").unwrap();
    // 1 is the boss; 9 is external; 10 has left.
    hr.upsert((1..=10).map(|id| {
        let mut e = HrEmployee::new(
            id,
            &format!("First{id}"),
            &format!("Last{id}"),
            if id % 2 == 0 { "Sales" } else { "IT" },
        );
        e.supervisor_id = (id != 1).then_some(1);
        e.last_modified_ms -= 60_000;
        if id == 9 {
            e.employment_type = "external".into();
        }
        if id == 10 {
            e.status = "inactive".into();
        }
        e
    }));
    Setup {
        hr,
        app,
        personio: load("personio"),
        scope: load("scope_rule"),
        teams: load("python_rule"),
        scim: load("scim"),
    }
}

fn secrets(pairs: &[(&str, &str)]) -> Secrets {
    pairs.iter().map(|(k, v)| (k.to_string(), Secret::new(*v))).collect()
}

fn settings() -> Settings {
    Settings {
        options: Options {
            page_size: 4,
            ..Options::default()
        },
        retry: RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(2),
        },
        ..Settings::default()
    }
}

fn sync(s: &Setup, links: &[Link], settings: &Settings) -> Result<RunReport, RunError> {
    sync_scoped(s, links, settings, &RunScope::default())
}

fn sync_scoped(s: &Setup, links: &[Link], settings: &Settings, scope: &RunScope) -> Result<RunReport, RunError> {
    let scope_box = Sandbox {
        config: serde_json::json!({ "exclude": [{ "name": "externals", "all": [{ "field": "employment_type", "op": "equals", "value": "external" }] }] }),
        ..Sandbox::default()
    };
    let teams_box = Sandbox {
        config: serde_json::json!({ "prefix": "Abteilung " }),
        ..Sandbox::default()
    };
    let mut rules = vec![s.scope.rule(&scope_box).unwrap(), s.teams.rule(&teams_box).unwrap()];
    let target = target_box(s, serde_json::json!({ "base_url": s.app.base_url() }));
    run_with(s, &mut rules, &target, links, settings, scope)
}

/// The SCIM target's installation with this config.
fn target_box(s: &Setup, config: serde_json::Value) -> Sandbox {
    Sandbox {
        config,
        secrets: secrets(&[("token", "token-scim")]),
        http: HttpPolicy::with_grants(&[s.app.origin()]).unwrap(),
        ..Sandbox::default()
    }
}

/// One run from the Personio emulator through `rules` into the SCIM
/// target installed as `target_box`.
fn run_with(
    s: &Setup,
    rules: &mut [RuleSession],
    target_box: &Sandbox,
    links: &[Link],
    settings: &Settings,
    scope: &RunScope,
) -> Result<RunReport, RunError> {
    let source_box = Sandbox {
        config: serde_json::json!({ "base_url": s.hr.base_url() }),
        secrets: secrets(&[("client-id", "id"), ("client-secret", "secret-personio")]),
        http: HttpPolicy::with_grants(&[s.hr.base_url()]).unwrap(),
        ..Sandbox::default()
    };
    let mut source = s.personio.source(&source_box).unwrap();
    let mut target = s.scim.target(target_box).unwrap();
    run(
        Sessions {
            source: &mut source,
            rules,
            target: &mut target,
        },
        links,
        settings,
        scope,
    )
}

fn creates(report: &RunReport) -> usize {
    report.count(|c| matches!(c, Change::CreateAccount(_)))
}

#[test]
fn onboarding_teams_managers_then_nothing_then_changes() {
    let s = setup();
    // An account made by hand before the integration: adopted, not duplicated.
    let manual = s.app.add_user("first3.last3@example.com", "Hand", "Made", true);

    let first = sync(&s, &[], &settings()).expect("first sync");
    assert_eq!(first.employees_read, 10);
    assert_eq!(
        creates(&first),
        7,
        "10 minus the external, the leaver and the adopted one"
    );
    assert!(first
        .links
        .iter()
        .any(|l| l.hr_id == "3" && l.account_id == manual && l.origin == LinkOrigin::Adopted));
    assert_eq!(s.app.users().len(), 8);
    assert!(
        first
            .skipped
            .iter()
            .any(|k| k.hr_id == "9" && k.reason.contains("externals")),
        "{:?}",
        first.skipped
    );
    assert!(s.app.user_by_name("first9.last9@example.com").is_none());
    assert!(s.app.user_by_name("first10.last10@example.com").is_none());
    // Manual edits to owned fields are overwritten.
    assert_eq!(
        s.app.user_by_name("first3.last3@example.com").unwrap()["name"]["familyName"],
        "Last3"
    );
    // Teams from the Python rule, with members; managers from the org chart.
    let groups = s.app.groups();
    let mut names: Vec<&str> = groups.iter().filter_map(|g| g["displayName"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["Abteilung IT", "Abteilung Sales"]);
    let it = groups.iter().find(|g| g["displayName"] == "Abteilung IT").unwrap();
    assert_eq!(it["members"].as_array().unwrap().len(), 4, "1, 3, 5, 7 (9 is excluded)");
    let boss_id = s.app.user_by_name("first1.last1@example.com").unwrap()["id"].clone();
    assert_eq!(
        s.app.user_by_name("first2.last2@example.com").unwrap()[ENTERPRISE]["manager"]["value"],
        boss_id
    );
    assert_eq!(first.failed(), 0);

    // Nothing changed in HR: no writes at all.
    let writes_before = s.app.writes();
    let second = sync(&s, &first.links, &settings()).expect("second sync");
    assert_eq!(
        second.writes(),
        0,
        "{:?}",
        second.outcomes.iter().map(|o| &o.planned.change).collect::<Vec<_>>()
    );
    assert_eq!(s.app.writes(), writes_before);

    // A new hire, a leaver, a department move.
    s.hr.upsert([HrEmployee::new(11, "New", "Hire", "IT")]);
    s.hr.update(5, |e| e.status = "inactive".into());
    s.hr.update(7, |e| e.department = Some("Sales".into()));
    let mut loose = settings();
    loose.options.deletion_threshold_percent = 50;
    let third = sync(&s, &second.links, &loose).expect("third sync");
    assert_eq!(creates(&third), 1);
    assert_eq!(third.count(|c| matches!(c, Change::DeactivateAccount(_))), 1);
    assert_eq!(s.app.user_by_name("first5.last5@example.com").unwrap()["active"], false);
    let seven = s.app.user_by_name("first7.last7@example.com").unwrap()["id"].clone();
    let groups = s.app.groups();
    let sales = groups.iter().find(|g| g["displayName"] == "Abteilung Sales").unwrap();
    assert!(
        sales["members"].as_array().unwrap().iter().any(|m| m["value"] == seven),
        "moved into Sales"
    );
    let it = groups.iter().find(|g| g["displayName"] == "Abteilung IT").unwrap();
    assert!(
        !it["members"].as_array().unwrap().iter().any(|m| m["value"] == seven),
        "and out of IT"
    );
}

#[test]
fn an_employee_excluded_later_is_disconnected_not_deactivated() {
    let s = setup();
    let first = sync(&s, &[], &settings()).unwrap();
    s.hr.update(4, |e| e.employment_type = "external".into());
    let second = sync(&s, &first.links, &settings()).unwrap();
    assert!(!second.links.iter().any(|l| l.hr_id == "4"), "link dropped");
    assert_eq!(
        s.app.user_by_name("first4.last4@example.com").unwrap()["active"],
        true,
        "account untouched"
    );
    assert_eq!(second.count(|c| matches!(c, Change::DeactivateAccount(_))), 0);
}

#[test]
fn a_failed_read_changes_nothing() {
    let s = setup();
    let first = sync(&s, &[], &settings()).unwrap();
    let writes = s.app.writes();
    // The second page fails for longer than the retries last.
    s.hr.fail_after(
        1,
        Fault {
            status: 500,
            retry_after_secs: None,
        },
    );
    for _ in 0..2 {
        s.hr.fail_after(
            0,
            Fault {
                status: 500,
                retry_after_secs: None,
            },
        );
    }
    let error = sync(&s, &first.links, &settings()).expect_err("read fails");
    assert!(matches!(error, RunError::Read(_)), "{error}");
    assert!(error.to_string().contains("nothing was changed"));
    assert_eq!(s.app.writes(), writes);
}

#[test]
fn hr_rate_limits_are_waited_out() {
    let s = setup();
    s.hr.fail_after(
        1,
        Fault {
            status: 429,
            retry_after_secs: Some(1),
        },
    );
    let started = std::time::Instant::now();
    let report = sync(&s, &[], &settings()).expect("retried");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After honoured");
    assert_eq!(report.employees_read, 10);
}

#[test]
fn target_rate_limits_are_retried_and_conflicts_linked() {
    let s = setup();
    s.app.fail_after(
        3,
        Fault {
            status: 429,
            retry_after_secs: Some(1),
        },
    );
    let report = sync(&s, &[], &settings()).expect("sync");
    assert_eq!(report.failed(), 0);
    assert!(
        report.outcomes.iter().any(|o| o.attempts == 2),
        "one change needed a second attempt"
    );
    assert_eq!(s.app.users().len(), 8);

    // Links lost (e.g. a new integration): every create meets a 409 or a
    // match, and nothing is duplicated.
    let again = sync(&s, &[], &settings()).expect("sync without links");
    assert_eq!(s.app.users().len(), 8);
    assert_eq!(creates(&again), 0);
    assert_eq!(again.links.len(), 8);
    assert!(again
        .outcomes
        .iter()
        .all(|o| !matches!(o.result, ItemResult::Failed(_))));
}

#[test]
fn mass_deactivation_stops_before_apply() {
    let s = setup();
    let first = sync(&s, &[], &settings()).unwrap();
    for id in 1..=4 {
        s.hr.remove(id);
    }
    let writes = s.app.writes();
    let error = sync(&s, &first.links, &settings()).expect_err("threshold");
    assert!(matches!(error, RunError::Plan(_)), "{error}");
    assert!(error.to_string().contains("deletion threshold"), "{error}");
    assert_eq!(s.app.writes(), writes);
}

#[test]
fn dry_run_plans_without_writing() {
    let s = setup();
    let dry = RunScope {
        dry_run: true,
        ..RunScope::default()
    };
    let report = sync_scoped(&s, &[], &settings(), &dry).unwrap();
    assert_eq!(
        report
            .planned
            .iter()
            .filter(|p| matches!(p.change, Change::CreateAccount(_)))
            .count(),
        8
    );
    assert_eq!(s.app.writes().total(), 0);
}

#[test]
fn a_create_that_meets_an_existing_user_links_it() {
    let s = setup();
    // Matching by external id only: the hand-made account (no external id)
    // is not found, so the create meets a 409 and the existing id is linked.
    let manual = s.app.add_user("first6.last6@example.com", "Hand", "Made", true);
    let by_external_id = Settings {
        matching: vec![hrsync_engine::correlate::MatchAttribute::ExternalId],
        ..settings()
    };
    let report = sync(&s, &[], &by_external_id).expect("sync");
    let outcome = report
        .outcomes
        .iter()
        .find(|o| o.planned.hr_id.as_deref() == Some("6"))
        .expect("item for 6");
    assert_eq!(outcome.result, ItemResult::LinkedExisting { id: manual.clone() });
    assert!(report
        .links
        .iter()
        .any(|l| l.hr_id == "6" && l.account_id == manual && l.origin == LinkOrigin::Adopted));
    assert_eq!(s.app.users().len(), 8, "no duplicate");
}

/// Configured paths of the enterprise extension and of an app's own
/// schema: an attribute mapping sends hire and exit dates, office and
/// gender, and the next run reads them back from the same paths and writes
/// nothing. (The `leapsome` preset, which also speaks Leapsome's dialect:
/// tests/recipes.rs, seed 004.)
#[test]
fn hire_and_exit_dates_office_and_gender_reach_configured_paths_then_nothing_is_written() {
    let s = setup();
    s.hr.update(2, |e| {
        e.office = Some("Köln".into());
        e.gender = Some("female".into());
        e.hire_date = Some("2019-10-01".into());
        e.termination_date = Some("2027-03-31".into());
    });
    let map = load("attribute_map");
    let map_box = Sandbox {
        config: serde_json::json!({ "attributes": [
            { "target": "hire_date", "from": "hire_date" },
            { "target": "termination_date", "from": "termination_date" },
            { "target": "office", "from": "office" },
            { "target": "gender", "from": "gender" },
            { "target": "title", "from": "job_title" },
            { "target": "employment", "from": "employment_type" },
        ] }),
        ..Sandbox::default()
    };
    let custom = "urn:example:params:scim:schemas:extension:acme:2.0:User";
    let target = target_box(
        &s,
        serde_json::json!({
            "base_url": s.app.base_url(),
            "attributes": {
                "employment": format!("{custom}:employmentType"),
                "hire_date": format!("{ENTERPRISE}:startDate"),
                "termination_date": format!("{ENTERPRISE}:endDate"),
                "office": format!("{ENTERPRISE}:location"),
                "gender": format!("{ENTERPRISE}:gender"),
            },
        }),
    );
    let mut settings = settings();
    settings.options.full_read_every_hours = 0.0;
    let once = |links: &[Link]| {
        let mut rules = vec![map.rule(&map_box).unwrap()];
        run_with(&s, &mut rules, &target, links, &settings, &RunScope::default()).expect("run")
    };
    let first = once(&[]);
    assert_eq!(first.failed(), 0, "{:?}", first.outcomes);
    assert_eq!(creates(&first), 9, "everyone but the leaver");
    let user = s.app.user_by_name("first2.last2@example.com").expect("user 2");
    let enterprise = &user[ENTERPRISE];
    assert_eq!(enterprise["startDate"], "2019-10-01", "{user}");
    assert_eq!(enterprise["endDate"], "2027-03-31", "{user}");
    assert_eq!(enterprise["location"], "Köln", "{user}");
    assert_eq!(enterprise["gender"], "female", "{user}");
    assert_eq!(user[custom]["employmentType"], "internal", "{user}");
    assert!(
        user["schemas"]
            .as_array()
            .is_some_and(|s| s.iter().any(|u| u == custom)),
        "the app's schema is named: {user}"
    );

    let second = once(&first.links);
    assert_eq!(
        second.writes(),
        0,
        "read back from the same paths: {:?}",
        second.outcomes
    );
}

/// `invite` asked of a target without invitations (SCIM) is not silently
/// dropped: the run says so, once, and creates the accounts.
#[test]
fn invitations_asked_of_a_target_without_them_are_named_in_a_note() {
    let s = setup();
    let mut settings = settings();
    settings.options.invite = true;
    let report = sync(&s, &[], &settings).expect("run");
    assert!(creates(&report) > 0);
    let notes: Vec<&str> = report
        .notes
        .iter()
        .filter(|n| n.message.contains("sends no invitations"))
        .map(|n| n.message.as_str())
        .collect();
    assert_eq!(notes.len(), 1, "{:?}", report.notes);
    assert!(
        notes[0].contains(&format!("{} new account(s)", creates(&report))),
        "{}",
        notes[0]
    );
    settings.options.invite = false;
    // A new hire, so that the run creates an account and could name it.
    s.hr.upsert([HrEmployee::new(99, "New", "Hire", "IT")]);
    let again = sync(&s, &report.links, &settings).expect("run");
    assert!(!again.notes.iter().any(|n| n.message.contains("invitations")));
}
