//! The `entra` source plugin against the Microsoft Graph emulator
//! (host/emulators/src/entra.rs), over HTTP on loopback: delta rounds,
//! managers, removals, token renewal, throttling, group scope and dirty
//! directory data.

use std::collections::BTreeSet;

use hrsync_emulators::entra::{user_id, EntraEmulator, EntraUser};
use hrsync_emulators::Fault;
use hrsync_model::{Employee, EmployeeStatus, PluginError, RejectedRecord};
use hrsync_runtime::{CallError, HttpPolicy, Sandbox, Secret, Secrets, SourceSession};
use hrsync_tests::load;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "0b5c9d7e-app-registration";
const CLIENT_SECRET: &str = "Xq8~entra-secret-value.3f";

/// A directory of `count` users, every one but the first reporting to the
/// first, in pages of 100.
fn directory(count: u64) -> EntraEmulator {
    let emulator = EntraEmulator::start(TENANT, CLIENT_ID, CLIENT_SECRET).expect("emulator");
    emulator.upsert((1..=count).map(|n| {
        let mut user = EntraUser::new(
            n,
            &format!("First{n}"),
            &format!("Last{n}"),
            ["Sales", "IT"][n as usize % 2],
        );
        user.manager = (n > 1).then(|| user_id(1));
        user
    }));
    emulator
}

fn sandbox(emulator: &EntraEmulator, extra: serde_json::Value, secret: &str) -> Sandbox {
    let mut config = serde_json::json!({
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "graph_url": emulator.base_url(),
        "login_url": emulator.base_url(),
    });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    let mut secrets = Secrets::new();
    secrets.insert("client-secret".into(), Secret::new(secret));
    Sandbox {
        config,
        secrets,
        http: HttpPolicy::with_grants(&[emulator.base_url()]).expect("grant"),
        ..Sandbox::default()
    }
}

fn session_with(emulator: &EntraEmulator, extra: serde_json::Value) -> SourceSession {
    let plugin = load("entra");
    let sandbox = sandbox(emulator, extra, CLIENT_SECRET);
    plugin.validate(&sandbox).expect("installation fits the manifest");
    plugin.source(&sandbox).expect("session")
}

fn session(emulator: &EntraEmulator) -> SourceSession {
    session_with(emulator, serde_json::json!({}))
}

#[derive(Default)]
struct Read {
    employees: Vec<Employee>,
    rejected: Vec<(Option<String>, String)>,
    removed: Vec<String>,
    pages: usize,
    cursor: Option<String>,
}

/// One page as both kinds of read give it.
type Page = (
    Vec<Employee>,
    Vec<RejectedRecord>,
    Vec<String>,
    Option<String>,
    Option<String>,
);

/// Every page of a read, from the first to the one with the cursor.
fn read_pages(mut fetch: impl FnMut(Option<&str>) -> Result<Page, CallError>) -> Result<Read, CallError> {
    let mut read = Read::default();
    let mut page: Option<String> = None;
    loop {
        let (employees, rejected, removed, next, cursor) = fetch(page.as_deref())?;
        read.pages += 1;
        read.employees.extend(employees);
        read.removed.extend(removed);
        read.rejected.extend(rejected.into_iter().map(|r| (r.hr_id, r.reason)));
        match next {
            Some(next) => page = Some(next),
            None => {
                read.cursor = cursor;
                return Ok(read);
            }
        }
    }
}

fn read_all(session: &mut SourceSession) -> Read {
    read_pages(|page| {
        let p = session.list_employees(page, 50)?;
        Ok((p.employees, p.rejected, Vec::new(), p.next_page, p.cursor))
    })
    .expect("a full read")
}

fn read_changes(session: &mut SourceSession, cursor: &str) -> Result<Read, CallError> {
    read_pages(|page| {
        let p = session.changes_since(cursor, page, 50)?;
        Ok((p.employees, p.rejected, p.removed, p.next_page, p.cursor))
    })
}

fn ids(employees: &[Employee]) -> BTreeSet<String> {
    employees.iter().map(|e| e.hr_id.clone()).collect()
}

fn find(employees: &[Employee], n: u64) -> &Employee {
    let id = user_id(n);
    employees
        .iter()
        .find(|e| e.hr_id == id)
        .unwrap_or_else(|| panic!("user {n} not read"))
}

fn supervisor(employee: &Employee) -> Option<&str> {
    employee.supervisor.as_ref().map(|s| s.hr_id.as_str())
}

fn unsupported(result: Result<Read, CallError>) -> String {
    match result {
        Err(error) => match error.plugin_error() {
            Some(PluginError::Unsupported(message)) => message.clone(),
            _ => panic!("expected unsupported, got {error}"),
        },
        Ok(_) => panic!("expected unsupported, got a read"),
    }
}

#[test]
fn a_full_read_follows_next_links_with_one_token_and_maps_every_property() {
    let emulator = directory(250);
    emulator.update(&user_id(2), |u| {
        u.given_name = Some("Jürgen".into());
        u.surname = Some("Müller-Lüdenscheidt".into());
        u.mail = Some("Juergen.Mueller@Contoso.example".into());
        u.job_title = Some("Leiter ".repeat(70) + "Einkauf");
        u.office_location = Some("Köln".into());
        u.employee_type = Some("Contractor".into());
        u.employee_hire_date = Some("2019-10-01T00:00:00Z".into());
        u.division = Some("Team Nord".into());
        u.cost_center = Some("4711".into());
        u.preferred_language = Some("de-DE".into());
    });
    let mut session = session(&emulator);
    let read = read_all(&mut session);
    assert_eq!((read.employees.len(), read.rejected.len(), read.pages), (250, 0, 3));
    let cursor: serde_json::Value =
        serde_json::from_str(read.cursor.as_deref().expect("the last page has the cursor")).expect("JSON cursor");
    assert!(
        cursor["delta"].as_str().is_some_and(|d| d.contains("$deltatoken=")),
        "{cursor}"
    );
    let counts = emulator.counts();
    assert_eq!(
        (counts.token_requests, counts.first_round_pages, counts.manager_lookups),
        (1, 3, 0),
        "one token, three pages, managers from manager@delta"
    );

    let e = find(&read.employees, 2);
    assert_eq!(
        (e.first_name.as_str(), e.last_name.as_str()),
        ("Jürgen", "Müller-Lüdenscheidt")
    );
    assert_eq!(e.email.as_deref(), Some("juergen.mueller@contoso.example"));
    assert_eq!(e.job_title.as_deref().map(str::len), Some(497), "a long title whole");
    assert_eq!(e.department.as_deref(), Some("Sales"));
    assert_eq!(e.office.as_deref(), Some("Köln"));
    assert_eq!(e.team.as_deref(), Some("Team Nord"));
    assert_eq!(e.employment_type.as_deref(), Some("Contractor"));
    assert_eq!(e.hire_date.as_deref(), Some("2019-10-01"));
    assert_eq!(e.language.as_deref(), Some("de-DE"));
    assert_eq!(e.status, EmployeeStatus::Active);
    assert_eq!(supervisor(e), Some(user_id(1).as_str()));
    assert_eq!(supervisor(find(&read.employees, 1)), None);
    let custom: Vec<(String, String)> = e
        .custom
        .iter()
        .map(|a| (a.name.clone(), format!("{:?}", a.value)))
        .collect();
    for name in ["company_name", "employee_id", "cost_center", "user_principal_name"] {
        assert!(custom.iter().any(|(n, _)| n == name), "{name} in {custom:?}");
    }
}

#[test]
fn an_incremental_read_returns_changed_users_removals_and_managers() {
    let emulator = directory(30);
    let mut session = session(&emulator);
    let cursor = read_all(&mut session).cursor.expect("cursor");

    emulator.update(&user_id(7), |u| u.department = Some("Finance".into()));
    emulator.update(&user_id(8), |u| u.account_enabled = false);
    emulator.update(&user_id(9), |u| u.manager = Some(user_id(2)));
    emulator.update(&user_id(10), |u| u.manager = None);
    emulator.update(&user_id(12), |u| {
        u.employee_leave_date_time = Some("2020-01-31T00:00:00Z".into())
    });
    emulator.delete(&user_id(11), false);
    emulator.upsert([EntraUser::new(31, "New", "Hire", "IT")]);
    let lookups = emulator.counts().manager_lookups;

    let changes = read_changes(&mut session, &cursor).expect("changes");
    let expected: BTreeSet<String> = [7, 8, 9, 10, 12, 31].into_iter().map(user_id).collect();
    assert_eq!(ids(&changes.employees), expected);
    assert_eq!(changes.removed, [user_id(11)]);
    assert_eq!(find(&changes.employees, 7).department.as_deref(), Some("Finance"));
    assert_eq!(find(&changes.employees, 8).status, EmployeeStatus::Inactive, "disabled");
    let left = find(&changes.employees, 12);
    assert_eq!(left.status, EmployeeStatus::Inactive, "leave date in the past");
    assert_eq!(left.termination_date.as_deref(), Some("2020-01-31"));
    assert_eq!(
        supervisor(find(&changes.employees, 9)),
        Some(user_id(2).as_str()),
        "new manager"
    );
    assert_eq!(supervisor(find(&changes.employees, 10)), None, "manager removed");
    assert_eq!(
        supervisor(find(&changes.employees, 7)),
        Some(user_id(1).as_str()),
        "an unchanged manager is looked up, not cleared"
    );
    assert_eq!(supervisor(find(&changes.employees, 31)), None);
    assert_eq!(
        emulator.counts().manager_lookups - lookups,
        3,
        "looked up for 7, 8 and 12, whose manager did not change"
    );

    // The next round from the new cursor: nothing changed, nothing read.
    let quiet = read_changes(&mut session, changes.cursor.as_deref().expect("cursor")).expect("changes");
    assert!(quiet.employees.is_empty() && quiet.removed.is_empty());
}

#[test]
fn changes_come_in_next_link_pages() {
    let emulator = directory(20);
    emulator.set_page_size(7);
    let mut session = session(&emulator);
    let cursor = read_all(&mut session).cursor.expect("cursor");
    for n in 1..=20 {
        emulator.update(&user_id(n), |u| u.office_location = Some("Madrid".into()));
    }
    let changes = read_changes(&mut session, &cursor).expect("changes");
    assert_eq!((changes.employees.len(), changes.pages), (20, 3));
    assert!(changes.employees.iter().all(|e| e.office.as_deref() == Some("Madrid")));
}

/// The host asks a page again when a manager lookup on it failed: nobody
/// of that page is taken for already read.
#[test]
fn a_page_asked_again_after_a_failed_manager_lookup_loses_nobody() {
    let emulator = directory(10);
    emulator.set_page_size(3);
    let mut session = session(&emulator);
    let cursor = read_all(&mut session).cursor.expect("cursor");
    for n in 1..=6 {
        emulator.update(&user_id(n), |u| u.department = Some("Finance".into()));
    }
    let first = session.changes_since(&cursor, None, 50).expect("the first page");
    let next = first.next_page.expect("a second page");
    // The second page comes; the lookup of its second user's manager fails.
    emulator.fault(
        2,
        Fault {
            status: 503,
            retry_after_secs: None,
        },
    );
    assert!(session.changes_since(&cursor, Some(&next), 50).is_err());
    let again = session.changes_since(&cursor, Some(&next), 50).expect("asked again");
    let mut read = ids(&first.employees);
    read.extend(ids(&again.employees));
    assert_eq!(read, (1..=6).map(user_id).collect::<BTreeSet<_>>());
}

#[test]
fn an_expired_delta_token_or_a_foreign_cursor_makes_the_host_read_everything() {
    let emulator = directory(5);
    let mut session = session(&emulator);
    let cursor = read_all(&mut session).cursor.expect("cursor");
    emulator.expire_delta_tokens();
    let message = unsupported(read_changes(&mut session, &cursor));
    assert!(message.contains("syncStateNotFound"), "{message}");
    // A cursor of another plugin or an older version: a full read.
    let message = unsupported(read_changes(&mut session, "2026-12-01T00:00:00Z"));
    assert!(message.contains("reading everything"), "{message}");
    // A new full read gives a cursor that works again.
    let cursor = read_all(&mut session).cursor.expect("cursor");
    assert!(read_changes(&mut session, &cursor).is_ok());
}

#[test]
fn an_expired_access_token_is_renewed_once_and_short_lived_ones_before_each_request() {
    let emulator = directory(250);
    let mut session = session(&emulator);
    let first = session.list_employees(None, 50).expect("first page");
    emulator.expire_access_tokens();
    let second = session
        .list_employees(first.next_page.as_deref(), 50)
        .expect("renewed and went on");
    assert_eq!(second.employees.len(), 100);
    let counts = emulator.counts();
    assert_eq!((counts.token_requests, counts.unauthorized), (2, 1));

    let emulator = directory(250);
    emulator.set_token_lifetime(30);
    let read = read_all(&mut session_with(&emulator, serde_json::json!({})));
    assert_eq!(read.employees.len(), 250);
    let counts = emulator.counts();
    assert_eq!(counts.unauthorized, 0, "never sent a token about to expire");
    assert_eq!(
        counts.token_requests, 3,
        "a token that lives less than the margin is renewed per request"
    );
}

#[test]
fn throttling_and_unavailability_are_typed_with_retry_after_and_the_read_goes_on() {
    let emulator = directory(250);
    let mut session = session(&emulator);
    let first = session.list_employees(None, 50).expect("first page");
    emulator.fault(
        0,
        Fault {
            status: 429,
            retry_after_secs: Some(7),
        },
    );
    let error = session.list_employees(first.next_page.as_deref(), 50).expect_err("429");
    match error.plugin_error() {
        Some(PluginError::RateLimited(hint)) => assert_eq!(hint.retry_after_ms, Some(7000)),
        _ => panic!("expected rate-limited, got {error}"),
    }
    assert!(error.to_string().contains("TooManyRequests"), "{error}");
    emulator.fault(
        0,
        Fault {
            status: 503,
            retry_after_secs: Some(2),
        },
    );
    let error = session.list_employees(first.next_page.as_deref(), 50).expect_err("503");
    match error.plugin_error() {
        Some(PluginError::Retryable(hint)) => assert_eq!(hint.retry_after_ms, Some(2000)),
        _ => panic!("expected retryable, got {error}"),
    }
    let again = session
        .list_employees(first.next_page.as_deref(), 50)
        .expect("the same page again");
    assert_eq!(again.employees.len(), 100);
}

#[test]
fn refused_credentials_name_the_identity_platform_error_never_the_secret() {
    let emulator = directory(1);
    let plugin = load("entra");
    let wrong = "Xq8~wrong-secret-value.00";
    let mut session = plugin
        .source(&sandbox(&emulator, serde_json::json!({}), wrong))
        .expect("session");
    let error = session.test_connection().expect_err("refused");
    assert!(
        matches!(error.plugin_error(), Some(PluginError::Unauthorized(_))),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("AADSTS7000215"), "{message}");
    assert!(
        !message.contains(wrong) && !message.contains(CLIENT_SECRET),
        "{message}"
    );

    let other_tenant = sandbox(
        &emulator,
        serde_json::json!({ "tenant_id": "contoso.onmicrosoft.com" }),
        CLIENT_SECRET,
    );
    let error = plugin
        .source(&other_tenant)
        .expect("session")
        .test_connection()
        .expect_err("unknown tenant");
    assert!(error.to_string().contains("AADSTS90002"), "{error}");

    let good = plugin
        .source(&sandbox(&emulator, serde_json::json!({}), CLIENT_SECRET))
        .expect("session")
        .test_connection();
    assert!(good.is_ok(), "{good:?}");
}

#[test]
fn a_tenant_id_that_would_change_the_url_is_refused_by_name() {
    let emulator = directory(1);
    let plugin = load("entra");
    for tenant in ["../evil", "common/oauth2?x=", "a b"] {
        let sandbox = sandbox(&emulator, serde_json::json!({ "tenant_id": tenant }), CLIENT_SECRET);
        let refused = match plugin.validate(&sandbox) {
            Err(errors) => format!("{errors:?}"),
            Ok(()) => match plugin.source(&sandbox).and_then(|mut s| s.test_connection()) {
                Err(error) => error.to_string(),
                Ok(()) => panic!("tenant {tenant:?} accepted"),
            },
        };
        assert!(refused.contains("tenant_id"), "{tenant:?}: {refused}");
    }
    assert_eq!(emulator.counts().token_requests, 0, "nothing was sent");
}

#[test]
fn a_group_scope_reads_its_members_and_a_membership_change_reads_everything() {
    let emulator = directory(20);
    let group = "5b1e0c3a-group";
    emulator.set_group(group, (1..=5).map(user_id));
    let mut session = session_with(&emulator, serde_json::json!({ "group_id": group }));
    let read = read_all(&mut session);
    assert_eq!(ids(&read.employees), (1..=5).map(user_id).collect());
    let cursor = read.cursor.expect("cursor");

    emulator.update(&user_id(3), |u| u.job_title = Some("Lead".into()));
    emulator.update(&user_id(15), |u| u.job_title = Some("Lead".into()));
    let changes = read_changes(&mut session, &cursor).expect("changes");
    assert_eq!(
        ids(&changes.employees),
        [user_id(3)].into_iter().collect(),
        "non-members left out"
    );

    // Someone joins the group (or leaves it): everyone is read, so that the
    // host sees who is in and who is out.
    emulator.set_group(group, (1..=6).map(user_id));
    let message = unsupported(read_changes(&mut session, changes.cursor.as_deref().expect("cursor")));
    assert!(message.contains("group"), "{message}");

    let missing = session_with(&emulator, serde_json::json!({ "group_id": "no-such-group" })).test_connection();
    match missing.as_ref().map_err(CallError::plugin_error) {
        Err(Some(PluginError::InvalidInput(invalid))) => assert_eq!(invalid.field, "group_id"),
        _ => panic!("expected invalid group_id, got {missing:?}"),
    }
}

#[test]
fn guests_are_left_out_and_users_without_names_are_rejected_by_id() {
    let emulator = directory(6);
    emulator.update(&user_id(2), |u| u.user_type = "Guest".into());
    emulator.update(&user_id(3), |u| u.given_name = None);
    emulator.update(&user_id(4), |u| {
        u.given_name = Some("Conference".into());
        u.surname = Some("  ".into());
    });
    // Two people sharing a mailbox: both read, the host decides.
    emulator.update(&user_id(5), |u| u.mail = Some("team@contoso.example".into()));
    emulator.update(&user_id(6), |u| u.mail = Some("TEAM@contoso.example".into()));
    let mut session = session(&emulator);
    let read = read_all(&mut session);
    assert_eq!(ids(&read.employees), [1, 5, 6].into_iter().map(user_id).collect());
    let mut rejected = read.rejected.clone();
    rejected.sort();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert_eq!(rejected[0].0.as_deref(), Some(user_id(3).as_str()));
    assert!(rejected[0].1.starts_with("no givenName"), "{rejected:?}");
    assert_eq!(rejected[1].0.as_deref(), Some(user_id(4).as_str()));
    assert!(rejected[1].1.starts_with("no surname"), "{rejected:?}");
    assert!(
        session
            .log_lines()
            .iter()
            .any(|l| l.message.contains("1 guest user(s) left out")),
        "{:?}",
        session.log_lines()
    );

    let with_guests = read_all(&mut session_with(
        &emulator,
        serde_json::json!({ "include_guests": true }),
    ));
    assert!(ids(&with_guests.employees).contains(&user_id(2)));
}

#[test]
fn without_the_lifecycle_permission_the_leave_date_is_reported_unreadable() {
    let emulator = directory(3);
    emulator.update(&user_id(2), |u| {
        u.employee_leave_date_time = Some("2020-01-31T00:00:00Z".into())
    });
    emulator.withhold_lifecycle();
    let mut session = session(&emulator);
    let read = read_all(&mut session);
    assert_eq!(read.employees.len(), 3, "read without the property");
    assert!(read.employees.iter().all(|e| e.termination_date.is_none()));
    let reports = session.field_reports();
    let unreadable = reports
        .unreadable
        .iter()
        .find(|s| s.field == "termination_date")
        .expect("termination_date reported unreadable");
    assert!(
        unreadable.reason.contains("User-LifeCycleInfo.Read.All"),
        "{}",
        unreadable.reason
    );
}

/// End to end through `hrsync serve`: Entra ID installed as the source of a
/// SCIM app; someone's account is disabled in Entra ID and the next
/// incremental run deactivates them in the app, reading only them.
#[test]
fn a_termination_in_entra_id_reaches_the_app_on_the_next_incremental_run() {
    use hrsync_emulators::scim::ScimEmulator;
    use hrsync_tests::api::{eventually, Server};
    use hrsync_tests::plugin_bytes;
    use serde_json::json;
    use std::time::{Duration, Instant};

    const APP_TOKEN: &str = "entra-app-token";
    let server = Server::start();
    let hr = directory(12);
    let app = ScimEmulator::start(APP_TOKEN).expect("app");
    let (_, owner) = server.tenant("Contoso", "owner@contoso.example");
    for plugin in ["entra", "scim"] {
        let (status, body) = owner.upload(&plugin_bytes(plugin));
        assert_eq!(status, 201, "{body}");
    }
    let (status, source) = owner.post(
        "/api/v1/installations",
        json!({ "name": "Entra ID", "plugin": "entra",
                "config": { "tenant_id": TENANT, "client_id": CLIENT_ID,
                            "graph_url": hr.base_url(), "login_url": hr.base_url() },
                "secrets": { "client-secret": CLIENT_SECRET }, "allowed_hosts": [hr.base_url()] }),
    );
    assert_eq!(status, 201, "{source}");
    assert!(!source.to_string().contains(CLIENT_SECRET), "{source}");
    let (status, target) = owner.post(
        "/api/v1/installations",
        json!({ "name": "SCIM", "plugin": "scim", "config": { "base_url": app.base_url() },
                "secrets": { "token": APP_TOKEN }, "allowed_hosts": [app.origin()] }),
    );
    assert_eq!(status, 201, "{target}");
    let (status, created) = owner.post(
        "/api/v1/integrations",
        json!({ "name": "Entra ID to SCIM", "source": source["id"], "target": target["id"] }),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let (_, activated) = owner.post(&format!("/api/v1/integrations/{id}/activate"), json!({}));
    let first = owner.wait_for_run(activated["run_id"].as_str().expect("run"));
    assert_eq!(first["run"]["status"], "succeeded", "{first}");
    assert_eq!(first["run"]["counts"]["create-account"], 12, "{first}");
    let active = |email: &str| app.user_by_name(email).and_then(|u| u["active"].as_bool());
    assert_eq!(active("first3.last3@contoso.example"), Some(true));

    let sync = |full: bool| {
        let (status, started) = owner.post(&format!("/api/v1/integrations/{id}/sync"), json!({ "full": full }));
        assert_eq!(status, 202, "{started}");
        started["run_id"].as_str().expect("run").to_string()
    };
    hr.update(&user_id(3), |u| u.account_enabled = false);
    let started = Instant::now();
    let run = sync(false);
    assert!(
        eventually(Duration::from_secs(10), || active("first3.last3@contoso.example")
            == Some(false)),
        "the leaver is still active"
    );
    let latency = started.elapsed();
    println!("Entra ID incremental run: change → account deactivated in {latency:.2?}");
    let detail = owner.wait_for_run(&run);
    assert_eq!(detail["run"]["status"], "succeeded", "{detail}");
    assert_eq!(
        detail["run"]["counts"]["employees_read"], 1,
        "only the change was read: {detail}"
    );
    assert_eq!(detail["run"]["counts"]["deactivate-account"], 1, "{detail}");
    for other in [1, 2, 4, 12] {
        assert_eq!(active(&format!("first{other}.last{other}@contoso.example")), Some(true));
    }

    // Nothing changed since: the next incremental run writes nothing, and so
    // does a full read.
    for full in [false, true] {
        let detail = owner.wait_for_run(&sync(full));
        assert_eq!(detail["run"]["status"], "succeeded", "{detail}");
        let counts = &detail["run"]["counts"];
        for change in [
            "create-account",
            "update-account",
            "deactivate-account",
            "reactivate-account",
        ] {
            assert!(
                counts[change].as_u64().unwrap_or(0) == 0,
                "full {full}: {change} in {detail}"
            );
        }
    }
}
