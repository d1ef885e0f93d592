//! What an integrator sees before a run is what the run then does (issue
//! 12): a dry run plans accounts, teams, memberships and managers exactly as
//! the real run applies them, and a dry run after a rule change reads
//! everyone. Over 5,000 employees of dirty HR data (externals, people on
//! leave, leavers, onboarding hires, umlauts, an unknown supervisor, a
//! shared e-mail, a 500-character title), through the Personio and SCIM
//! emulators.

use std::collections::BTreeMap;
use std::time::Duration;

use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::ScimEmulator;
use hrsync_engine::apply::ItemResult;
use hrsync_engine::job::{unobserved, Finished, Job, PluginSetup, RunRequest};
use hrsync_engine::plan::{Options, Planned, ReadKind};
use hrsync_engine::record::kind;
use hrsync_engine::retry::RetryPolicy;
use hrsync_engine::run::Settings;
use hrsync_engine::trigger::FullReads;
use hrsync_model::Change;
use hrsync_runtime::{HttpPolicy, Sandbox, Secret, Secrets};
use hrsync_tests::load;
use serde_json::{json, Value};

const EMPLOYEES: u64 = 5_000;
const DEPARTMENTS: [&str; 10] = [
    "IT",
    "Sales",
    "Marketing",
    "Finance",
    "Personal",
    "Einkauf",
    "Logistik",
    "Forschung",
    "Recht",
    "Kundendienst",
];
const FIRST_NAMES: [&str; 8] = ["Jürgen", "Anna", "Luca", "Zoë", "Søren", "Maria", "Öznur", "Tim"];
const LAST_NAMES: [&str; 6] = ["Müller", "Schmidt", "Rossi", "García", "Nguyễn", "Weiß"];

/// 5,000 employees in a tree of eight reports per manager, with the usual
/// dirt: every 20th external, every 17th on leave, every 50th inactive,
/// every 40th onboarding; one reporting to a supervisor HR does not know,
/// two sharing an e-mail, one with a 500-character position.
fn staff() -> Vec<HrEmployee> {
    (1..=EMPLOYEES)
        .map(|id| {
            let first = FIRST_NAMES[(id % 8) as usize];
            let last = LAST_NAMES[(id % 6) as usize];
            let mut e = HrEmployee::new(id, first, last, DEPARTMENTS[(id % 10) as usize]);
            e.email = Some(format!("person{id}@example.com"));
            e.supervisor_id = (id > 1).then(|| (id - 2) / 8 + 1);
            e.employment_type = if id % 20 == 0 { "external" } else { "internal" }.into();
            e.status = match id {
                _ if id % 50 == 0 => "inactive",
                _ if id % 17 == 0 => "leave",
                _ if id % 40 == 0 => "onboarding",
                _ => "active",
            }
            .into();
            e.last_modified_ms -= 60_000;
            e
        })
        .map(|mut e| {
            match e.id {
                4_999 => e.supervisor_id = Some(99_999),
                4_001 => e.email = Some("person4002@example.com".into()),
                3_333 => e.position = Some("Senior ".repeat(71) + "Lead"),
                _ => {}
            }
            e
        })
        .collect()
}

struct World {
    hr: PersonioEmulator,
    app: ScimEmulator,
    tokio: tokio::runtime::Runtime,
    store: hrsync_store::Store,
    _dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let hr = PersonioEmulator::start("client", "personio-secret-5k").unwrap();
        hr.upsert(staff());
        let app = ScimEmulator::start("scim-token-5k").unwrap();
        let hrsync_tests::TempStore { tokio, store, dir } = hrsync_tests::temp_store();
        Self {
            hr,
            app,
            tokio,
            store,
            _dir: dir,
        }
    }

    /// Personio → scope rule (`exclude`) → department and supervisor teams
    /// → SCIM.
    fn job(&self, exclude: Value) -> Job {
        self.job_with(vec![("scope_rule", json!({ "exclude": exclude }))])
    }

    /// Personio → `rules`, then department and supervisor teams → SCIM.
    fn job_with(&self, rules: Vec<(&str, Value)>) -> Job {
        let secrets = |pairs: &[(&str, &str)]| -> Secrets {
            pairs.iter().map(|(k, v)| (k.to_string(), Secret::new(*v))).collect()
        };
        let rule = |plugin: &str, config: Value| PluginSetup {
            plugin: load(plugin),
            sandbox: Sandbox {
                config,
                ..Sandbox::default()
            },
        };
        Job {
            integration: "personio-to-scim".into(),
            source: PluginSetup {
                plugin: load("personio"),
                sandbox: Sandbox {
                    config: json!({ "base_url": self.hr.base_url() }),
                    secrets: secrets(&[("client-id", "client"), ("client-secret", "personio-secret-5k")]),
                    http: HttpPolicy::with_grants(&[self.hr.base_url()]).unwrap(),
                    ..Sandbox::default()
                },
            }
            .into(),
            rules: rules
                .into_iter()
                .map(|(plugin, config)| rule(plugin, config))
                .chain(std::iter::once(rule(
                    "team_map",
                    json!({ "teams": [
                        { "name": "Abteilung {department}" },
                        { "name": "{supervisor.first_name} {supervisor.last_name}s Team" }
                    ] }),
                )))
                .collect(),
            target: PluginSetup {
                plugin: load("scim"),
                sandbox: Sandbox {
                    config: json!({ "base_url": self.app.base_url() }),
                    secrets: secrets(&[("token", "scim-token-5k")]),
                    http: HttpPolicy::with_grants(&[self.app.origin()]).unwrap(),
                    ..Sandbox::default()
                },
            },
            settings: Settings {
                options: Options {
                    deletion_threshold_percent: 20,
                    page_size: 500,
                    ..Options::default()
                },
                retry: RetryPolicy {
                    attempts: 3,
                    base_delay: Duration::from_millis(5),
                    max_delay: Duration::from_secs(1),
                },
                ..Settings::default()
            },
            full_reads: FullReads::default(),
        }
    }

    fn run(&self, job: &Job, request: RunRequest) -> Finished {
        self.tokio
            .block_on(job.run(&self.store, request, unobserved()))
            .expect("run")
    }

    fn dry_run(&self, job: &Job) -> Finished {
        let request = RunRequest {
            dry_run: true,
            ..RunRequest::default()
        };
        self.run(job, request)
    }

    /// Each change as the app knows it — accounts by user name, teams by
    /// name — whether planned (a dry run names what it would create
    /// `(new account …)`, `(new team "…")`) or applied (app ids), sorted.
    fn describe<'p>(&self, changes: impl Iterator<Item = &'p Planned>) -> Vec<String> {
        let users: BTreeMap<String, String> = self
            .app
            .users()
            .iter()
            .map(|u| {
                (
                    u["id"].as_str().unwrap().to_string(),
                    u["userName"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let groups: BTreeMap<String, String> = self
            .app
            .groups()
            .iter()
            .map(|g| {
                (
                    g["id"].as_str().unwrap().to_string(),
                    g["displayName"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let account = |id: &str| match id.strip_prefix("(new account ").and_then(|s| s.strip_suffix(')')) {
            Some(name) => name.to_string(),
            None => users
                .get(id)
                .cloned()
                .unwrap_or_else(|| format!("unknown account {id}")),
        };
        let team = |id: &str| match id.strip_prefix("(new team \"").and_then(|s| s.strip_suffix("\")")) {
            Some(name) => name.to_string(),
            None => groups.get(id).cloned().unwrap_or_else(|| format!("unknown team {id}")),
        };
        let mut described: Vec<String> = changes
            .map(|planned| {
                let what = match &planned.change {
                    Change::CreateAccount(d) => d.user_name.clone(),
                    Change::UpdateAccount(u) => {
                        let fields: Vec<String> = u
                            .changes
                            .iter()
                            .map(|c| format!("{}={:?}", c.field, c.after.as_ref().map(|v| v.to_text())))
                            .collect();
                        format!("{} {}", account(&u.id), fields.join(","))
                    }
                    Change::DeactivateAccount(id) | Change::ReactivateAccount(id) | Change::Invite(id) => account(id),
                    Change::CreateTeam(t) => t.name.clone(),
                    Change::RenameTeam(t) => format!("{} -> {}", t.before, t.after),
                    Change::AddMember(m) | Change::RemoveMember(m) => {
                        format!("{} in {}", account(&m.account_id), team(&m.team_id))
                    }
                    Change::LinkManager(l) => format!(
                        "{} managed by {}",
                        account(&l.account_id),
                        l.manager_id.as_deref().map(account).unwrap_or_else(|| "nobody".into())
                    ),
                };
                format!(
                    "{} {} {what}",
                    planned.hr_id.as_deref().unwrap_or("-"),
                    kind(&planned.change)
                )
            })
            .collect();
        described.sort();
        described
    }

    /// A dry run's plan, described.
    fn plan_of(&self, dry: &Finished) -> Vec<String> {
        self.describe(dry.report.planned.iter())
    }

    /// A run's applied changes, described after it; fails on a failed one.
    fn applied(&self, real: &Finished) -> Vec<String> {
        for outcome in &real.report.outcomes {
            assert!(!matches!(outcome.result, ItemResult::Failed(_)), "{outcome:?}");
        }
        self.describe(real.report.outcomes.iter().map(|o| &*o.planned))
    }
}

fn count(plan: &[String], kind: &str) -> usize {
    plan.iter().filter(|line| line.split(' ').nth(1) == Some(kind)).count()
}

/// The first sync, then a rule change ("also exclude people on leave"): each
/// time a dry run first, and the real run right after it performs exactly
/// the planned changes — accounts, teams, memberships, managers. Then
/// nothing changed: zero writes.
#[test]
fn a_dry_run_plans_exactly_what_the_real_run_then_does() {
    let world = World::new();
    let externals =
        json!([{ "name": "externals", "all": [{ "field": "employment_type", "op": "equals", "value": "external" }] }]);
    let job = world.job(externals.clone());

    let dry = world.dry_run(&job);
    assert_eq!(world.app.writes().total(), 0, "a dry run writes nothing");
    assert_eq!(dry.report.read_kind, ReadKind::Full);
    let plan = world.plan_of(&dry);
    let real = world.run(&job, RunRequest::default());
    let applied = world.applied(&real);
    assert_eq!(plan.len(), applied.len());
    assert!(plan == applied, "the first sync did other than its dry run planned");
    // Not an empty plan: every kind of change is in it.
    let creates = count(&plan, "create-account");
    assert!(creates > 4_000, "{creates} accounts");
    // Ten departments and the managers' teams (managers sharing a name
    // share a team).
    assert!(count(&plan, "create-team") > 10 + 20, "{}", count(&plan, "create-team"));
    assert!(count(&plan, "add-member") > 2 * 4_000, "{}", count(&plan, "add-member"));
    assert!(count(&plan, "link-manager") > 4_000, "{}", count(&plan, "link-manager"));
    assert!(
        plan.iter()
            .any(|l| l.starts_with("3 link-manager person3@example.com managed by person1@example.com")),
        "{:?}",
        &plan[..5]
    );

    // Also exclude people on leave. The rules changed since the last full
    // read, so the dry run reads everyone without being asked to, and shows
    // what it costs: they are skipped (their accounts disconnected: left as
    // they are, as an account made by hand), and their reports' managers
    // are cleared.
    let on_leave = json!({ "name": "on leave", "all": [{ "field": "status", "op": "equals", "value": "leave" }] });
    let mut exclusions = externals.as_array().unwrap().clone();
    exclusions.push(on_leave);
    let stricter = world.job(Value::Array(exclusions));
    let dry = world.dry_run(&stricter);
    assert_eq!(
        dry.report.read_kind,
        ReadKind::Full,
        "the configuration changed: everyone is read"
    );
    let plan = world.plan_of(&dry);
    let on_leave_skipped = dry
        .report
        .skipped
        .iter()
        .filter(|s| s.reason.contains("`on leave`"))
        .count();
    assert!(on_leave_skipped > 200, "{on_leave_skipped} skipped");
    let cleared: Vec<&String> = plan.iter().filter(|l| l.ends_with("managed by nobody")).collect();
    assert!(!cleared.is_empty(), "reports of people on leave lose their manager");
    let real = world.run(&stricter, RunRequest::default());
    let applied = world.applied(&real);
    assert!(plan == applied, "the stricter rule did other than its dry run planned");

    // Nothing changed: an incremental read, and no writes.
    let writes = world.app.writes().total();
    let again = world.run(&stricter, RunRequest::default());
    assert_eq!(again.report.read_kind, ReadKind::Incremental);
    assert_eq!(again.report.outcomes.len(), 0);
    assert_eq!(world.app.writes().total(), writes);
    // ... and a dry run of the same configuration reads incrementally too.
    let dry = world.dry_run(&stricter);
    assert_eq!(dry.report.read_kind, ReadKind::Incremental);
    assert!(dry.report.planned.is_empty());
}

/// "Hire date more than 30 days ahead", declaratively and in Rhai, over
/// 5,000 employees: the same people are left out, with the date taken from
/// the host's clock (no date written into the rule).
#[test]
fn hires_more_than_30_days_ahead_wait_declaratively_and_in_a_script() {
    let world = World::new();
    let today = chrono::Utc::now().date_naive();
    let in_days = |days: u64| (today + chrono::Days::new(days)).to_string();
    for id in (13..=EMPLOYEES).step_by(13) {
        world.hr.update(id, |e| e.hire_date = Some(in_days(60)));
    }
    for id in (29..=EMPLOYEES).step_by(29) {
        world.hr.update(id, |e| e.hire_date = Some(in_days(10)));
    }
    // Nobody has a termination date: a filter on it must not stop the run
    // as a field the source withholds would.
    let declarative = world.job_with(vec![(
        "scope_rule",
        json!({ "exclude": [
            { "name": "not yet", "all": [{ "field": "hire_date", "op": "after", "value": "+30d" }] },
            { "name": "gone", "all": [{ "field": "termination_date", "op": "before", "value": "today" }] }
        ] }),
    )]);
    let script = world.job_with(vec![(
        "script_rule",
        json!({ "script": "fn exclude(e) {\n  if e.hire_date != () && e.hire_date > date(\"+30d\") { return \"starts in \" + days_between(today(), e.hire_date) + \" days\"; }\n}" }),
    )]);
    let waiting = |finished: &Finished, reason: &str| -> Vec<String> {
        let mut ids: Vec<String> = finished
            .report
            .skipped
            .iter()
            .filter(|s| s.reason.contains(reason))
            .map(|s| s.hr_id.clone())
            .collect();
        ids.sort();
        ids
    };
    let expected: Vec<String> = {
        let mut ids: Vec<String> = (13..=EMPLOYEES)
            .step_by(13)
            .filter(|id| id % 29 != 0)
            .map(|id| id.to_string())
            .collect();
        ids.sort();
        ids
    };
    let by_filter = waiting(&world.dry_run(&declarative), "`not yet`");
    assert_eq!(by_filter, expected, "hired in 60 days: left out; in 10 days: synced");
    let by_script = waiting(&world.dry_run(&script), "starts in 60 days");
    assert_eq!(by_script, expected);
}

/// Records the rules cannot take are left as is and listed; when they are
/// more than `rejected_threshold_percent` of those read, the run ends
/// `succeeded-with-rejections` (exit code 3 on the command line), not
/// `succeeded`. Here 50 of 5,000 (1%) are rejected by a script.
#[test]
fn rejections_above_the_threshold_end_succeeded_with_rejections() {
    let world = World::new();
    let script = json!({ "script": "fn teams(e) {\n  if e.hr_id.ends_with(\"77\") { throw \"no team for \" + e.hr_id; }\n  []\n}" });
    let mut strict = world.job_with(vec![("script_rule", script.clone())]);
    let status = |finished: &Finished| {
        let runs = world
            .tokio
            .block_on(world.store.runs(Some("personio-to-scim"), 10))
            .unwrap();
        let run = runs.iter().find(|r| r.id == finished.run_id).expect("the run");
        run.status.clone()
    };
    strict.settings.options.rejected_threshold_percent = 0;
    let first = world.run(&strict, RunRequest::default());
    assert_eq!(first.report.rejected.len(), 50);
    assert!(first.report.rejected.iter().all(|r| r.reason.contains("no team for")));
    assert!(first.report.too_many_rejected);
    assert_eq!(status(&first), "succeeded-with-rejections");
    let mut tolerant = world.job_with(vec![("script_rule", script)]);
    tolerant.settings.options.rejected_threshold_percent = 1;
    let second = world.run(&tolerant, RunRequest::default());
    assert_eq!(
        second.report.rejected.len(),
        50,
        "the options changed: everyone is read again"
    );
    assert!(!second.report.too_many_rejected, "1% is not more than 1%");
    assert_eq!(status(&second), "succeeded");
}

/// What-if "also exclude people on leave" on 5,000 employees, after the
/// first sync: HR and the app read once, nothing written, nothing
/// recorded; the employees it names and the managers it clears are those
/// the real run with the stricter rule then changes.
#[test]
fn a_what_if_shows_per_employee_what_a_draft_would_change() {
    use hrsync_engine::whatif::Aspect;

    let world = World::new();
    let externals =
        json!({ "name": "externals", "all": [{ "field": "employment_type", "op": "equals", "value": "external" }] });
    let on_leave = json!({ "name": "on leave", "all": [{ "field": "status", "op": "equals", "value": "leave" }] });
    let current = world.job(json!([externals.clone()]));
    let draft = world.job(json!([externals, on_leave]));
    world.run(&current, RunRequest::default());
    let (writes, hr_reads) = (world.app.writes().total(), world.hr.counts());
    let runs = || world.tokio.block_on(world.store.runs(None, 100)).unwrap().len();
    let recorded = runs();

    let started = std::time::Instant::now();
    let compared = world
        .tokio
        .block_on(current.what_if(&world.store, &draft))
        .expect("what-if");
    let took = started.elapsed();
    assert_eq!(world.app.writes().total(), writes, "nothing written");
    assert_eq!(runs(), recorded, "nothing recorded");
    assert!(world.hr.counts() != hr_reads, "HR was read");
    assert_eq!(compared.employees_read, EMPLOYEES as usize);

    let with = |aspect| -> Vec<&str> {
        compared
            .differences
            .iter()
            .filter(|d| d.aspects.contains(&aspect))
            .map(|d| d.hr_id.as_str())
            .collect()
    };
    // Everyone on leave the current rules keep (internal, not inactive) —
    // and no one else — is newly excluded.
    let expected: Vec<String> = (1..=EMPLOYEES)
        .filter(|id| id % 17 == 0 && id % 50 != 0 && id % 20 != 0)
        .map(|id| id.to_string())
        .collect();
    assert_eq!(with(Aspect::NewlyExcluded), expected);
    assert!(with(Aspect::NewlyIncluded).is_empty());
    let excluded = &compared.differences.iter().find(|d| d.hr_id == "17").unwrap();
    assert_eq!(excluded.current, "in scope");
    assert_eq!(excluded.draft, "excluded: excluded by filter `on leave`");

    // The real run with the draft changes exactly those managers.
    let real = world.run(&draft, RunRequest::default());
    let mut cleared: Vec<&str> = real
        .report
        .outcomes
        .iter()
        .filter(|o| matches!(o.planned.change, Change::LinkManager(_)))
        .filter_map(|o| o.planned.hr_id.as_deref())
        .collect();
    cleared.sort_by_key(|id| id.parse::<u64>().ok());
    assert!(!cleared.is_empty());
    assert_eq!(with(Aspect::Manager), cleared);

    eprintln!(
        "what-if \"also exclude people on leave\", {EMPLOYEES} employees, {:.2} s:",
        took.as_secs_f64()
    );
    for (aspect, count) in &compared.counts {
        eprintln!("  {:<20} {count}", aspect.label());
    }
}

/// A value a rule compares a field with that no employee has — a typo —
/// is a note of the plan naming the values the read had; a custom field is
/// named by its Personio label; 5,000 employees.
#[test]
fn values_nobody_has_are_noted_and_custom_fields_go_by_their_label() {
    let world = World::new();
    // Every employee's cost center: Personio's `dynamic_87541`, labelled
    // "Kostenstelle".
    world.hr.upsert(staff().into_iter().map(|mut e| {
        let center = format!("KST {}", e.id % 7);
        e.dynamic.push((
            "dynamic_87541".into(),
            "Kostenstelle".into(),
            "standard".into(),
            json!(center),
        ));
        e
    }));
    let job = world.job_with(vec![
        (
            "scope_rule",
            json!({ "exclude": [
                { "name": "externals", "all": [{ "field": "employment_type", "op": "in", "value": ["externl", "Freelance"] }] },
                { "name": "cost center 3", "all": [{ "field": "custom.Kostenstelle", "op": "equals", "value": "kst 3" }] },
            ] }),
        ),
        (
            "team_map",
            json!({ "teams": [{ "name": "Kostenstelle {custom.Kostenstelle}", "only": { "department": ["IT", "Marketting"] } }] }),
        ),
    ]);
    let dry = world.dry_run(&job);
    let notes: Vec<&str> = dry.report.notes.iter().map(|n| n.message.as_str()).collect();
    assert!(
        notes.contains(
            &"rules[0] (scope-rule) filter `externals`: no employee read has employment_type \"externl\" or \
              \"freelance\" — a typo? the values read are \"internal\" (4750), \"external\" (250)"
        ),
        "{notes:#?}"
    );
    let only = notes
        .iter()
        .find(|n| n.starts_with("rules[1] (team-map) team \"Kostenstelle {custom.Kostenstelle}\" (only)"))
        .unwrap_or_else(|| panic!("{notes:#?}"));
    assert!(
        only.contains("no employee read has department \"Marketting\" — a typo?"),
        "{only}"
    );
    assert!(
        only.contains("\"IT\" (500)") && only.contains("\"Marketing\" (500)"),
        "{only}"
    );
    assert!(!only.contains("\"IT\" —"), "IT is there: {only}");

    // By label: the filter on `custom.Kostenstelle` excludes every seventh.
    let by_cost_center = dry
        .report
        .skipped
        .iter()
        .filter(|s| s.reason.contains("cost center 3"))
        .count();
    assert_eq!(by_cost_center, (1..=EMPLOYEES).filter(|id| id % 7 == 3).count());
    let plan = world.plan_of(&dry);
    assert!(
        plan.iter()
            .any(|line| line.ends_with(" create-team Kostenstelle KST 0")),
        "teams by label"
    );

    // An incremental read proves nothing about values: no such note.
    let real = world.run(&job, RunRequest::default());
    assert!(!real.report.notes.is_empty());
    let again = world.run(&job, RunRequest::default());
    assert_eq!(again.report.read_kind, ReadKind::Incremental);
    assert!(
        again.report.notes.iter().all(|n| !n.message.contains("a typo?")),
        "{:?}",
        again.report.notes
    );
}

/// "today" in rules is a day of the integration's time zone unless the
/// rule names its own: Kiritimati (UTC+14) and Pago Pago (UTC−11) are
/// always on different days.
#[test]
fn today_is_a_day_of_the_integrations_time_zone() {
    use hrsync_engine::rules::Outcome;
    let world = World::new();
    let script = json!({ "script": "fn attributes(e) { #{ today: today() } }" });
    for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago"] {
        let job = world
            .job_with(vec![("script_rule", script.clone())])
            .in_time_zone(Some(zone));
        let expected = |zone: &str| {
            let zone: chrono_tz::Tz = zone.parse().unwrap();
            chrono::Utc::now().with_timezone(&zone).date_naive().to_string()
        };
        let before = expected(zone);
        let (_, tried) = job.try_rules(&["7".to_string()]).expect("tried");
        let after = expected(zone);
        let Some(Outcome::InScope(desired)) = tried[0].outcome() else {
            panic!("in scope: {:?}", tried[0].outcome());
        };
        let today = desired
            .attributes
            .iter()
            .find(|a| a.name == "today")
            .map(|a| a.value.to_text())
            .expect("today");
        assert!(today == before || today == after, "{zone}: {today}, expected {before}");
    }
}

/// An account attribute the target does not take (`costCenter` for a SCIM
/// target that knows `cost_center`) stops the dry run — and the run —
/// before anything is planned, naming the nearest name; nothing is written
/// (no empty teams either).
#[test]
fn an_attribute_the_target_does_not_take_stops_the_dry_run_and_the_run() {
    use hrsync_engine::job::JobError;
    let world = World::new();
    let job = world.job_with(vec![(
        "attribute_map",
        json!({ "attributes": [{ "target": "costCenter", "value": "KST 4711" }] }),
    )]);
    for dry_run in [true, false] {
        let request = RunRequest {
            dry_run,
            ..RunRequest::default()
        };
        let error = world
            .tokio
            .block_on(job.run(&world.store, request, unobserved()))
            .expect_err("stops");
        let JobError::Run { error, .. } = error else {
            panic!("a failed run: {error}");
        };
        let message = error.to_string();
        assert!(
            message.starts_with("the rules set the account attribute `costCenter` for 5000 employee(s) (e.g. HR id "),
            "{message}"
        );
        assert!(message.contains("Did you mean `cost_center`?"), "{message}");
        assert!(message.contains("Nothing was changed."), "{message}");
    }
    assert!(
        world.app.users().is_empty() && world.app.groups().is_empty(),
        "nothing written"
    );

    let fixed = world.job_with(vec![(
        "attribute_map",
        json!({ "attributes": [{ "target": "cost_center", "value": "KST 4711" }] }),
    )]);
    let dry = world.dry_run(&fixed);
    assert!(dry.report.planned.len() > 4_000);

    // On an incremental read too, where the target is not read first.
    world.run(&fixed, RunRequest::default());
    let mut changed = staff().remove(6);
    changed.position = Some("Chief of Staff".into());
    changed.last_modified_ms = hrsync_model::clock::now_ms().unsigned_abs() + 1_000;
    world.hr.upsert([changed]);
    let request = RunRequest {
        dry_run: true,
        incremental: true,
        ..RunRequest::default()
    };
    let error = world
        .tokio
        .block_on(job.run(&world.store, request, unobserved()))
        .expect_err("stops");
    assert!(
        error
            .to_string()
            .contains("the rules set the account attribute `costCenter` for 1 employee(s) (e.g. HR id 7)"),
        "{error}"
    );
}
