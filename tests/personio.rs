//! The `personio` source plugin against the Personio emulator, over HTTP on
//! loopback.

use std::time::Duration;

use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::Fault;
use hrsync_model::{AttributeValue, Employee, EmployeeStatus, PluginError};
use hrsync_runtime::{HttpPolicy, Sandbox, Secret, Secrets, SourceSession};
use hrsync_tests::load;

const CLIENT_ID: &str = "papi-client-7f3a";
const CLIENT_SECRET: &str = "papi-secret-9c1e2d";

fn emulator_with(count: u64) -> PersonioEmulator {
    let emulator = PersonioEmulator::start(CLIENT_ID, CLIENT_SECRET).expect("emulator");
    emulator.upsert((1..=count).map(|id| {
        let mut e = HrEmployee::new(
            id,
            &format!("First{id}"),
            &format!("Last{id}"),
            ["Sales", "IT"][id as usize % 2],
        );
        e.supervisor_id = (id > 1).then_some(1);
        e.last_modified_ms -= 60_000;
        e
    }));
    emulator
}

fn sandbox(emulator: &PersonioEmulator, secret: &str) -> Sandbox {
    let mut secrets = Secrets::new();
    secrets.insert("client-id".into(), Secret::new(CLIENT_ID));
    secrets.insert("client-secret".into(), Secret::new(secret));
    Sandbox {
        config: serde_json::json!({ "base_url": emulator.base_url() }),
        secrets,
        http: HttpPolicy::with_grants(&[emulator.base_url()]).unwrap(),
        ..Sandbox::default()
    }
}

fn session(emulator: &PersonioEmulator) -> SourceSession {
    let plugin = load("personio");
    let sandbox = sandbox(emulator, CLIENT_SECRET);
    plugin.validate(&sandbox).expect("installation fits the manifest");
    plugin.source(&sandbox).expect("session")
}

/// Reads every page; returns employees, rejected count, pages, cursor.
fn read_all(session: &mut SourceSession, page_size: u32) -> (Vec<Employee>, usize, usize, Option<String>) {
    let (mut employees, mut rejected, mut pages, mut page) = (Vec::new(), 0, 0, None);
    loop {
        let result = session.list_employees(page.as_deref(), page_size).expect("page");
        pages += 1;
        employees.extend(result.employees);
        rejected += result.rejected.len();
        match result.next_page {
            Some(next) => page = Some(next),
            None => return (employees, rejected, pages, result.cursor),
        }
    }
}

#[test]
fn pages_through_all_employees_with_one_token() {
    let emulator = emulator_with(450);
    let mut session = session(&emulator);
    let (employees, rejected, pages, cursor) = read_all(&mut session, 200);
    assert_eq!((employees.len(), rejected, pages), (450, 0, 3));
    assert!(
        cursor.is_some_and(|c| c.ends_with('Z')),
        "the last page carries a cursor"
    );
    let counts = emulator.counts();
    assert_eq!(
        (counts.auth, counts.employee_pages),
        (1, 3),
        "one token for the whole read"
    );
    // The token, the released attributes, three pages.
    assert_eq!(session.http_ledger().sent, 5);
}

#[test]
fn maps_every_attribute_shape() {
    let emulator = emulator_with(2);
    emulator.update(2, |e| {
        e.status = "onboarding".into();
        e.employment_type = "external".into();
        e.team = Some("Platform".into());
        e.office = Some("Munich".into());
        e.gender = Some("female".into());
        e.termination_date = Some("2027-03-31".into());
        e.dynamic = vec![
            ("dynamic_24407".into(), "Titel".into(), "standard".into(), "Dr".into()),
            (
                "dynamic_33400".into(),
                "Anniversary Date".into(),
                "date".into(),
                "2021-01-01".into(),
            ),
            ("dynamic_51000".into(), "Level".into(), "integer".into(), 3.into()),
        ];
    });
    let (employees, ..) = read_all(&mut session(&emulator), 50);
    let e = employees.iter().find(|e| e.hr_id == "2").expect("employee 2");
    assert_eq!((e.first_name.as_str(), e.last_name.as_str()), ("First2", "Last2"));
    assert_eq!(e.email.as_deref(), Some("first2.last2@example.com"));
    assert_eq!(e.status, EmployeeStatus::Onboarding);
    assert_eq!(e.employment_type.as_deref(), Some("external"));
    assert_eq!(e.job_title.as_deref(), Some("Specialist"));
    assert_eq!(e.department.as_deref(), Some("Sales"));
    assert_eq!(e.office.as_deref(), Some("Munich"));
    assert_eq!(e.team.as_deref(), Some("Platform"));
    assert_eq!(e.gender.as_deref(), Some("female"));
    assert_eq!(e.hire_date.as_deref(), Some("2021-04-01"), "date-times become dates");
    assert_eq!(e.termination_date.as_deref(), Some("2027-03-31"));
    let supervisor = e.supervisor.as_ref().expect("supervisor");
    assert_eq!(supervisor.hr_id, "1");
    assert_eq!(supervisor.first_name.as_deref(), Some("First1"));
    assert_eq!(supervisor.last_name.as_deref(), Some("Last1"));

    let custom = |name: &str| e.custom.iter().find(|a| a.name == name).map(|a| a.value.clone());
    assert_eq!(custom("dynamic_24407"), Some(AttributeValue::Text("Dr".into())));
    assert_eq!(custom("dynamic_33400"), Some(AttributeValue::Date("2021-01-01".into())));
    assert_eq!(custom("dynamic_51000"), Some(AttributeValue::Integer(3)));
    assert_eq!(custom("fix_salary"), Some(AttributeValue::Decimal(3000.0)));
    assert_eq!(
        custom("cost_centers"),
        Some(AttributeValue::TextList(vec!["Cost center 1".into()]))
    );
    assert_eq!(
        custom("birthday"),
        Some(AttributeValue::Date("1990-01-01".into())),
        "kept in the host, never mapped"
    );
}

#[test]
fn a_bad_record_is_rejected_not_fatal() {
    let emulator = emulator_with(5);
    emulator.update(3, |e| e.status = "retired".into());
    let (employees, rejected, ..) = read_all(&mut session(&emulator), 50);
    assert_eq!((employees.len(), rejected), (4, 1));
    let mut session = session(&emulator);
    let page = session.list_employees(None, 50).unwrap();
    assert_eq!(page.rejected[0].hr_id.as_deref(), Some("3"));
    assert!(page.rejected[0].reason.contains("retired"), "{:?}", page.rejected[0]);
}

#[test]
fn expired_token_is_renewed() {
    let emulator = emulator_with(30);
    let mut session = session(&emulator);
    let first = session.list_employees(None, 10).unwrap();
    emulator.expire_tokens();
    let second = session
        .list_employees(first.next_page.as_deref(), 10)
        .expect("renews and goes on");
    assert_eq!(second.employees[0].hr_id, "11");
    let counts = emulator.counts();
    assert_eq!((counts.auth, counts.rejected_tokens), (2, 1));
}

#[test]
fn token_lifetime_is_respected() {
    // Tokens that live less than the renewal margin are renewed before
    // each request instead of being sent stale.
    let emulator = emulator_with(30);
    emulator.set_token_ttl(Duration::from_secs(30));
    let (employees, ..) = read_all(&mut session(&emulator), 10);
    assert_eq!(employees.len(), 30);
    let counts = emulator.counts();
    assert_eq!(counts.rejected_tokens, 0);
    assert_eq!(
        counts.auth,
        counts.employee_pages + 1,
        "a fresh token per request (the list of released attributes included)"
    );
}

#[test]
fn wrong_secret_is_unauthorized_without_the_secret() {
    let emulator = emulator_with(1);
    let plugin = load("personio");
    let mut session = plugin.source(&sandbox(&emulator, "wrong-secret-value")).unwrap();
    let error = session.test_connection().expect_err("refused");
    assert!(
        matches!(error.plugin_error(), Some(PluginError::Unauthorized(_))),
        "{error}"
    );
    assert!(!error.to_string().contains("wrong-secret-value"));
}

#[test]
fn rate_limits_and_server_errors_are_typed() {
    let emulator = emulator_with(30);
    let mut session = session(&emulator);
    emulator.fail_after(
        1,
        Fault {
            status: 429,
            retry_after_secs: Some(7),
        },
    );
    let first = session.list_employees(None, 10).expect("first page");
    let error = session.list_employees(first.next_page.as_deref(), 10).expect_err("429");
    match error.plugin_error() {
        Some(PluginError::RateLimited(hint)) => assert_eq!(hint.retry_after_ms, Some(7000)),
        _ => panic!("expected rate-limited, got {error}"),
    }
    emulator.fail_after(
        0,
        Fault {
            status: 500,
            retry_after_secs: None,
        },
    );
    let error = session.list_employees(first.next_page.as_deref(), 10).expect_err("500");
    assert!(
        matches!(error.plugin_error(), Some(PluginError::Retryable(_))),
        "{error}"
    );
    // The same session goes on where it stopped.
    let again = session
        .list_employees(first.next_page.as_deref(), 10)
        .expect("retried page");
    assert_eq!(again.employees[0].hr_id, "11");
}

#[test]
fn incremental_read_returns_only_changed_employees() {
    let emulator = emulator_with(40);
    let mut session = session(&emulator);
    let (_, _, _, cursor) = read_all(&mut session, 200);
    let cursor = cursor.expect("cursor");
    // Timestamps have second precision: changes must come after the cursor.
    std::thread::sleep(Duration::from_millis(1100));
    emulator.update(7, |e| e.department = Some("Finance".into()));
    emulator.upsert([HrEmployee::new(41, "New", "Hire", "IT")]);
    let changes = session.changes_since(&cursor, None, 200).expect("changes");
    let mut ids: Vec<&str> = changes.employees.iter().map(|e| e.hr_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["41", "7"]);
    assert!(changes.cursor.is_some());

    // Personio ignores limit and offset with updated_since and answers every
    // change at once: more changes than a page still take one request, and
    // the read ends instead of asking for the same changes again.
    for id in 1..=25 {
        emulator.update(id, |e| e.office = Some("Madrid".into()));
    }
    let pages = emulator.counts().employee_pages;
    let changes = session.changes_since(&cursor, None, 10).expect("changes");
    assert_eq!(changes.employees.len(), 26, "25 moved and the new hire");
    assert_eq!(changes.next_page, None);
    assert_eq!(emulator.counts().employee_pages, pages + 1);
}
