//! One person, one account, on dirty HR data (docs/integration.md,
//! "Identity"): a seeded company of 5,000 with every class of identity
//! problem (emulators/dirty.rs) synced from the Personio emulator into the
//! SCIM emulator, into `scim2-server` and into 4Geeks Perks; then the data
//! is fixed and changed in HR and synced again.
//!
//! What the runs must do is worked out here from the HR data and the
//! generator's ledger alone, not from hrsync's own code.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use hrsync_emulators::dirty::{clean_company, spoil, Dirt, Problem, PROBLEMS};
use hrsync_emulators::perks::{Mode, PerksEmulator};
use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::{ScimEmulator, ENTERPRISE};
use hrsync_engine::job::{unobserved, Finished, Job, PluginSetup, RunRequest};
use hrsync_engine::manual::Actor;
use hrsync_engine::plan::Options;
use hrsync_engine::retry::RetryPolicy;
use hrsync_engine::run::{RunReport, Settings};
use hrsync_engine::trigger::FullReads;
use hrsync_model::Change;
use hrsync_runtime::{HttpPolicy, Sandbox, Secret, Secrets};
use hrsync_store::Store;
use hrsync_tests::load;
use hrsync_tests::scim2::Scim2Server;
use serde_json::{json, Value};

const SIZE: usize = 5000;
const SHARE: f64 = 0.03;
const PERKS_KEY: &str = "sk_test_identity_4f1e";

fn secrets(pairs: &[(&str, &str)]) -> Secrets {
    pairs.iter().map(|(k, v)| (k.to_string(), Secret::new(*v))).collect()
}

fn setup(plugin: &str, config: Value) -> PluginSetup {
    PluginSetup {
        plugin: load(plugin),
        sandbox: Sandbox {
            config,
            ..Sandbox::default()
        },
    }
}

/// An HR system with a (dirty) company and the state of one integration.
struct World {
    hr: PersonioEmulator,
    tokio: tokio::runtime::Runtime,
    store: Store,
    _dir: tempfile::TempDir,
}

impl World {
    fn new(employees: Vec<HrEmployee>) -> Self {
        let hr = PersonioEmulator::start("client", "personio-secret-77").unwrap();
        hr.upsert(employees);
        let hrsync_tests::TempStore { tokio, store, dir } = hrsync_tests::temp_store();
        Self {
            hr,
            tokio,
            store,
            _dir: dir,
        }
    }

    /// Personio → externals out → a team per department → `target`.
    fn job(&self, target: PluginSetup) -> Job {
        Job {
            integration: "identity".into(),
            source: PluginSetup {
                plugin: load("personio"),
                sandbox: Sandbox {
                    config: json!({ "base_url": self.hr.base_url() }),
                    secrets: secrets(&[("client-id", "client"), ("client-secret", "personio-secret-77")]),
                    http: HttpPolicy::with_grants(&[self.hr.base_url()]).unwrap(),
                    ..Sandbox::default()
                },
            }
            .into(),
            rules: vec![
                setup(
                    "scope_rule",
                    json!({ "exclude": [{ "name": "externals", "all": [{ "field": "employment_type", "op": "equals", "value": "external" }] }] }),
                ),
                setup("team_map", json!({ "teams": [{ "name": "Abteilung {department}" }] })),
            ],
            target,
            settings: Settings {
                options: Options {
                    deletion_threshold_percent: 20,
                    ..Options::default()
                },
                retry: RetryPolicy {
                    attempts: 3,
                    base_delay: Duration::from_millis(5),
                    max_delay: Duration::from_secs(2),
                },
                ..Settings::default()
            },
            full_reads: FullReads::default(),
        }
    }

    fn sync(&self, job: &Job, full: bool) -> Finished {
        let request = RunRequest {
            full,
            ..RunRequest::default()
        };
        self.tokio
            .block_on(job.run(&self.store, request, unobserved()))
            .expect("run")
    }

    /// HR id → account id.
    fn links(&self) -> BTreeMap<String, String> {
        let links = self.tokio.block_on(self.store.links("identity")).unwrap();
        let accounts: HashSet<&str> = links.iter().map(|l| l.account_id.as_str()).collect();
        assert_eq!(accounts.len(), links.len(), "an account linked to two employees");
        links.into_iter().map(|l| (l.hr_id, l.account_id)).collect()
    }
}

fn normalize(email: &str) -> String {
    email.trim().to_lowercase()
}

/// What the runs must do, from the HR data and the ledger alone.
struct Expected {
    /// HR id → (normalized e-mail, department, supervisor) of everyone who
    /// must have an account.
    synced: BTreeMap<String, (String, String, Option<String>)>,
    /// Everyone who must be reported in a conflict.
    conflicted: BTreeSet<String>,
    /// Cycle members and employees with an unknown supervisor: no manager.
    no_manager: BTreeSet<String>,
}

fn expected(employees: &[HrEmployee], dirt: &Dirt) -> Expected {
    let no_email: HashSet<u64> = [Problem::MissingEmail, Problem::EmptyEmail, Problem::InvalidEmail]
        .iter()
        .flat_map(|p| dirt.of(*p).iter().copied())
        .collect();
    let wants = |e: &HrEmployee| e.status != "inactive" && e.employment_type == "internal" && !no_email.contains(&e.id);
    let mut by_email: HashMap<String, Vec<u64>> = HashMap::new();
    for e in employees.iter().filter(|e| wants(e)) {
        by_email
            .entry(normalize(e.email.as_deref().unwrap_or_default()))
            .or_default()
            .push(e.id);
    }
    let conflicted: BTreeSet<String> = by_email
        .values()
        .filter(|ids| ids.len() > 1)
        .flatten()
        .map(u64::to_string)
        .collect();
    let synced = employees
        .iter()
        .filter(|e| wants(e) && !conflicted.contains(&e.id.to_string()))
        .map(|e| {
            let value = (
                normalize(e.email.as_deref().unwrap_or_default()),
                e.department.clone().unwrap_or_default(),
                e.supervisor_id.map(|s| s.to_string()),
            );
            (e.id.to_string(), value)
        })
        .collect();
    let no_manager = dirt
        .of(Problem::SupervisorCycle)
        .iter()
        .chain(dirt.of(Problem::UnknownSupervisor))
        .map(u64::to_string)
        .collect();
    Expected {
        synced,
        conflicted,
        no_manager,
    }
}

/// A user of the app, however the app spells it.
#[derive(Debug, Clone)]
struct AppUser {
    id: String,
    email: String,
    active: bool,
    manager: Option<String>,
}

fn scim_user(user: &Value) -> AppUser {
    AppUser {
        id: user["id"].as_str().unwrap_or_default().to_string(),
        email: user["userName"].as_str().unwrap_or_default().to_string(),
        active: user["active"].as_bool().unwrap_or(true),
        manager: user[ENTERPRISE]["manager"]["value"].as_str().map(str::to_string),
    }
}

/// Team name → member ids, of the teams the integration manages.
fn scim_teams(groups: &[Value]) -> BTreeMap<String, BTreeSet<String>> {
    groups
        .iter()
        .filter(|g| g["displayName"].as_str().is_some_and(|n| n.starts_with("Abteilung ")))
        .map(|g| {
            let members = g["members"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["value"].as_str().map(str::to_string))
                .collect();
            (g["displayName"].as_str().unwrap_or_default().to_string(), members)
        })
        .collect()
}

/// An e-mail a downstream app can log in with (checked here without
/// hrsync's own code).
fn usable_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty() && domain.contains('.') && !value.contains(char::is_whitespace) && !domain.contains('@')
}

/// Every check of one state of HR against the app and the run's report.
fn check_state(
    world: &World,
    expect: &Expected,
    report: &RunReport,
    users: &[AppUser],
    teams: Option<&BTreeMap<String, BTreeSet<String>>>,
) {
    // Every conflict once, and exactly the employees who share an e-mail.
    let reported: Vec<&str> = report.conflicts.iter().map(|c| c.hr_id.as_str()).collect();
    let unique: BTreeSet<&str> = reported.iter().copied().collect();
    assert_eq!(reported.len(), unique.len(), "a conflict reported twice in one run");
    let wanted: BTreeSet<&str> = expect.conflicted.iter().map(String::as_str).collect();
    assert_eq!(unique, wanted, "the employees in conflict");
    for conflict in &report.conflicts {
        assert!(
            conflict.message.contains("is also the e-mail of employee"),
            "{conflict:?}"
        );
    }

    // One account per employee who must have one, none for anyone else.
    let links = world.links();
    let linked: BTreeSet<&String> = links.keys().collect();
    let synced: BTreeSet<&String> = expect.synced.keys().collect();
    assert_eq!(linked, synced, "who is linked");
    let by_id: HashMap<&str, &AppUser> = users.iter().map(|u| (u.id.as_str(), u)).collect();
    for (hr_id, (email, ..)) in &expect.synced {
        let user = by_id
            .get(links[hr_id].as_str())
            .unwrap_or_else(|| panic!("employee {hr_id}'s account is gone"));
        assert_eq!(normalize(&user.email), *email, "employee {hr_id}");
        assert!(user.active, "employee {hr_id}");
    }
    for user in users {
        assert!(
            usable_email(&user.email),
            "an account without an e-mail user name: {user:?}"
        );
    }
    let emails: HashSet<String> = users.iter().map(|u| normalize(&u.email)).collect();
    assert_eq!(emails.len(), users.len(), "two accounts with one e-mail");

    if let Some(teams) = teams {
        // Every team holds exactly the accounts of its employees.
        let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (hr_id, (_, department, _)) in &expect.synced {
            want.entry(format!("Abteilung {department}"))
                .or_default()
                .insert(links[hr_id].clone());
        }
        for (name, members) in teams {
            assert_eq!(members, want.get(name).unwrap_or(&BTreeSet::new()), "team {name}");
        }
        assert_eq!(teams.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());

        // Managers follow the org chart; cycles and unknown supervisors
        // leave it unset, with a note for each.
        for (hr_id, (_, _, supervisor)) in &expect.synced {
            let manager = if expect.no_manager.contains(hr_id) {
                None
            } else {
                supervisor.as_ref().and_then(|s| links.get(s)).cloned()
            };
            assert_eq!(by_id[links[hr_id].as_str()].manager, manager, "manager of {hr_id}");
        }
        for hr_id in &expect.no_manager {
            if expect.synced.contains_key(hr_id) {
                assert!(
                    report
                        .notes
                        .iter()
                        .any(|n| n.hr_id.as_deref() == Some(hr_id) && n.message.starts_with("manager left unset")),
                    "a note for {hr_id}"
                );
            }
        }
    }
}

fn creates(report: &RunReport) -> usize {
    report.count(|c| matches!(c, Change::CreateAccount(_)))
}

fn dirty_company() -> (Vec<HrEmployee>, Dirt) {
    let mut employees = clean_company(SIZE, 42);
    let dirt = spoil(&mut employees, SHARE, 42);
    for problem in PROBLEMS {
        assert!(
            dirt.of(problem).len() * 100 >= SIZE * 3,
            "{problem:?}: at least 3% of the employees"
        );
    }
    (employees, dirt)
}

/// The SCIM emulator and scim2-server through the same phases.
trait ScimApp {
    fn target(&self) -> PluginSetup;
    fn users(&self) -> Vec<AppUser>;
    fn teams(&self) -> BTreeMap<String, BTreeSet<String>>;
}

impl ScimApp for ScimEmulator {
    fn target(&self) -> PluginSetup {
        PluginSetup {
            plugin: load("scim"),
            sandbox: Sandbox {
                config: json!({ "base_url": self.base_url() }),
                secrets: secrets(&[("token", "scim-token-identity")]),
                http: HttpPolicy::with_grants(&[self.origin()]).unwrap(),
                ..Sandbox::default()
            },
        }
    }
    fn users(&self) -> Vec<AppUser> {
        ScimEmulator::users(self).iter().map(scim_user).collect()
    }
    fn teams(&self) -> BTreeMap<String, BTreeSet<String>> {
        scim_teams(&self.groups())
    }
}

impl ScimApp for Scim2Server {
    fn target(&self) -> PluginSetup {
        PluginSetup {
            plugin: load("scim"),
            sandbox: self.sandbox(),
        }
    }
    fn users(&self) -> Vec<AppUser> {
        Scim2Server::users(self).iter().map(scim_user).collect()
    }
    fn teams(&self) -> BTreeMap<String, BTreeSet<String>> {
        scim_teams(&self.groups())
    }
}

/// First sync, a steady run, then HR fixes and changes data: the phases
/// every SCIM app goes through.
fn dirty_data_into(app: &dyn ScimApp) {
    let (employees, dirt) = dirty_company();
    let world = World::new(employees.clone());
    let job = world.job(app.target());

    // 1. The first sync: no two employees on one account, no account
    //    without an e-mail, teams and managers from the org chart.
    let first = world.sync(&job, false);
    assert_eq!(
        first.report.failed(),
        0,
        "{:?}",
        first.report.outcomes.iter().find(|o| o.attempts > 1)
    );
    let expect = expected(&employees, &dirt);
    assert_eq!(creates(&first.report), expect.synced.len());
    check_state(&world, &expect, &first.report, &app.users(), Some(&app.teams()));
    let skipped: HashMap<&str, &str> = first
        .report
        .skipped
        .iter()
        .map(|s| (s.hr_id.as_str(), s.reason.as_str()))
        .collect();
    for id in dirt
        .of(Problem::InvalidEmail)
        .iter()
        .chain(dirt.of(Problem::MissingEmail))
    {
        assert!(skipped[id.to_string().as_str()].starts_with("no valid e-mail"), "{id}");
    }

    // 2. Nothing changed in HR: zero writes, the same conflicts again.
    let steady = world.sync(&job, true);
    assert!(
        steady.report.outcomes.is_empty(),
        "{:?}",
        &steady.report.outcomes[..3.min(steady.report.outcomes.len())]
    );
    check_state(&world, &expect, &steady.report, &app.users(), Some(&app.teams()));

    // 3. HR fixes and changes data: e-mails change; one of each of two
    //    sharing pairs gets an e-mail of their own; three employees are
    //    rehired under a new HR id (the old record leaves).
    let links_before = world.links();
    for (id, email) in &dirt.email_changes {
        world.hr.update(*id, |e| e.email = Some(email.clone()));
    }
    let pairs: Vec<&Vec<u64>> = dirt.shared.iter().filter(|g| g.len() == 2).take(2).collect();
    for pair in &pairs {
        world
            .hr
            .update(pair[1], |e| e.email = Some(format!("fixed.{}@example.com", pair[1])));
    }
    let mut now = employees.clone();
    let rehired: Vec<(u64, u64)> = expect
        .synced
        .keys()
        .filter_map(|id| id.parse::<u64>().ok())
        .filter(|id| !dirt.all().contains(id) && *id > 1)
        .take(3)
        .enumerate()
        .map(|(n, old)| (old, 100_000 + n as u64))
        .collect();
    for (old, new) in &rehired {
        let mut record = employees.iter().find(|e| e.id == *old).cloned().unwrap();
        world.hr.update(*old, |e| e.status = "inactive".into());
        record.id = *new;
        world.hr.upsert([record]);
        world.hr.update(*new, |_| {}); // hired now
    }
    for e in now.iter_mut() {
        if let Some((_, email)) = dirt.email_changes.iter().find(|(id, _)| *id == e.id) {
            e.email = Some(email.clone());
        }
        if let Some(pair) = pairs.iter().find(|p| p[1] == e.id) {
            e.email = Some(format!("fixed.{}@example.com", pair[1]));
        }
        if rehired.iter().any(|(old, _)| *old == e.id) {
            e.status = "inactive".into();
        }
    }
    for (old, new) in &rehired {
        let mut record = employees.iter().find(|e| e.id == *old).cloned().unwrap();
        record.id = *new;
        now.push(record);
    }
    let third = world.sync(&job, false);
    assert_eq!(third.report.failed(), 0);
    let expect = expected(&now, &dirt);
    check_state(&world, &expect, &third.report, &app.users(), Some(&app.teams()));
    let links = world.links();
    // The sharers of the fixed pairs, and nobody else, got new accounts.
    assert_eq!(creates(&third.report), 4, "two pairs fixed");
    for pair in &pairs {
        assert!(links.contains_key(&pair[0].to_string()) && links.contains_key(&pair[1].to_string()));
    }
    // Changed e-mails keep their accounts; rehires take the old account.
    for (id, _) in &dirt.email_changes {
        let id = id.to_string();
        if let Some(account) = links_before.get(&id) {
            assert_eq!(&links[&id], account, "employee {id} keeps its account");
        }
    }
    for (old, new) in &rehired {
        assert_eq!(
            links[&new.to_string()],
            links_before[&old.to_string()],
            "rehire {old} → {new}"
        );
        assert!(third
            .report
            .moves
            .iter()
            .any(|m| m.from == old.to_string() && m.to == new.to_string()));
    }
    assert_eq!(third.report.count(|c| matches!(c, Change::DeactivateAccount(_))), 0);
    let moved = world
        .tokio
        .block_on(world.store.audit_actions("identity"))
        .unwrap()
        .iter()
        .filter(|a| *a == "link.moved")
        .count();
    assert_eq!(moved, rehired.len());

    // 4. And the run after that writes nothing.
    let last = world.sync(&job, true);
    assert!(
        last.report.outcomes.is_empty(),
        "{:?}",
        &last.report.outcomes[..3.min(last.report.outcomes.len())]
    );
    check_state(&world, &expect, &last.report, &app.users(), Some(&app.teams()));
}

#[test]
fn dirty_data_into_the_scim_emulator() {
    let app = ScimEmulator::start("scim-token-identity").unwrap();
    dirty_data_into(&app);
}

#[test]
fn dirty_data_into_scim2_server() {
    let server = Scim2Server::start();
    dirty_data_into(&server);
}

#[test]
fn dirty_data_into_perks_where_the_email_is_the_key() {
    let (employees, dirt) = dirty_company();
    let world = World::new(employees.clone());
    let perks = PerksEmulator::start(PERKS_KEY, "sk_live_identity_never").unwrap();
    let target = PluginSetup {
        plugin: load("perks"),
        sandbox: Sandbox {
            config: json!({ "base_url": perks.base_url(), "environment": "sandbox" }),
            secrets: secrets(&[("api-key", PERKS_KEY)]),
            http: HttpPolicy::with_grants(&[perks.base_url()]).unwrap(),
            ..Sandbox::default()
        },
    };
    let mut job = world.job(target);
    job.rules.truncate(1);
    let wallets = || -> Vec<AppUser> {
        perks
            .users(Mode::Sandbox)
            .iter()
            .map(|u| AppUser {
                id: u["id"].as_str().unwrap_or_default().to_string(),
                email: u["email"].as_str().unwrap_or_default().to_string(),
                active: u["status"] == "active",
                manager: None,
            })
            .collect()
    };
    let first = world.sync(&job, false);
    assert_eq!(first.report.failed(), 0);
    let expect = expected(&employees, &dirt);
    check_state(&world, &expect, &first.report, &wallets(), None);
    let writes = perks.writes();
    let steady = world.sync(&job, true);
    assert!(steady.report.outcomes.is_empty());
    assert_eq!(perks.writes(), writes, "zero writes");
    check_state(&world, &expect, &steady.report, &wallets(), None);
}

/// Two people share one mailbox; the first already had the account. HR
/// gives the second an address of their own: the next run creates the
/// second account and touches nothing else.
#[test]
fn fixing_a_shared_email_in_hr_creates_the_second_account_and_nothing_else() {
    let mut employees = clean_company(40, 3);
    for e in &mut employees {
        e.status = "active".into();
        e.employment_type = "internal".into();
    }
    let world = World::new(employees.clone());
    let app = ScimEmulator::start("scim-token-identity").unwrap();
    let job = world.job(app.target());
    world.sync(&job, false);
    let karl = employees[10].email.clone().unwrap();
    // A new hire typed in with Karl's e-mail.
    let mut typo = employees[11].clone();
    typo.id = 41;
    typo.email = Some(format!(" {} ", karl.to_uppercase()));
    typo.supervisor_id = Some(1);
    typo.department = employees[10].department.clone();
    world.hr.upsert([typo]);
    world.hr.update(41, |_| {}); // hired now
                                 // Cursors count seconds: the run after next must not see this change.
    std::thread::sleep(Duration::from_millis(1100));
    let second = world.sync(&job, false);
    assert!(second.report.outcomes.is_empty(), "{:?}", second.report.outcomes);
    let conflicts: Vec<(&str, bool)> = second
        .report
        .conflicts
        .iter()
        .map(|c| (c.hr_id.as_str(), c.keeps_account))
        .collect();
    assert_eq!(conflicts, [("11", true), ("41", false)]);
    assert_eq!(
        second.report.conflicts[1].message,
        format!("e-mail {karl} is also the e-mail of employee 11")
    );
    // Every later run shows the conflict, even one that reads nobody.
    let third = world.sync(&job, false);
    assert_eq!(third.report.employees_read, 0);
    assert_eq!(third.report.conflicts.len(), 2, "still open");

    world.hr.update(41, |e| e.email = Some("karla.new@example.com".into()));
    let users_before = ScimEmulator::users(&app);
    let fixed = world.sync(&job, false);
    assert!(fixed.report.conflicts.is_empty(), "{:?}", fixed.report.conflicts);
    let changes: Vec<String> = fixed
        .report
        .outcomes
        .iter()
        .map(|o| hrsync_engine::record::kind(&o.planned.change).to_string())
        .collect();
    assert_eq!(
        changes,
        ["create-account", "add-member", "link-manager"],
        "nothing else"
    );
    let after = ScimEmulator::users(&app);
    assert_eq!(after.len(), users_before.len() + 1);
    for user in &users_before {
        assert!(after.contains(user), "untouched: {}", user["userName"]);
    }
    assert!(world.sync(&job, true).report.outcomes.is_empty());
}

/// A rehire with reactivation off keeps the deactivated account linked to
/// the new record and does not reactivate it; with it on, the account comes
/// back. Either way no second account is made.
#[test]
fn a_rehire_moves_the_link_and_reactivation_follows_the_option() {
    for reactivate in [false, true] {
        let mut employees = clean_company(12, 5);
        for e in &mut employees {
            e.status = "active".into();
            e.employment_type = "internal".into();
        }
        let world = World::new(employees.clone());
        let app = ScimEmulator::start("scim-token-identity").unwrap();
        let mut job = world.job(app.target());
        job.settings.options.reactivate = reactivate;
        job.settings.options.deletion_threshold_percent = 50;
        world.sync(&job, false);
        let account = world.links()["5"].clone();
        world.hr.update(5, |e| e.status = "inactive".into());
        let left = world.sync(&job, false);
        assert_eq!(left.report.count(|c| matches!(c, Change::DeactivateAccount(_))), 1);
        let mut back = employees[4].clone();
        back.id = 500;
        world.hr.upsert([back]);
        world.hr.update(500, |_| {}); // hired now
        let rehired = world.sync(&job, false);
        assert_eq!(creates(&rehired.report), 0, "no second account");
        assert_eq!(world.links()["500"], account);
        assert!(!world.links().contains_key("5"));
        let user = ScimApp::users(&app).into_iter().find(|u| u.id == account).unwrap();
        assert_eq!(user.active, reactivate, "reactivate = {reactivate}");
        if !reactivate {
            assert!(rehired
                .report
                .skipped
                .iter()
                .any(|s| s.hr_id == "500" && s.reason.contains("reactivation is off")));
        }
    }
}

/// An account made by hand with another e-mail is linked by an admin and
/// kept in step — not duplicated, its e-mail left alone — until unlinked.
#[test]
fn a_manual_link_merges_a_hand_made_account() {
    let mut employees = clean_company(6, 9);
    for e in &mut employees {
        e.status = "active".into();
        e.employment_type = "internal".into();
    }
    let world = World::new(employees.clone());
    let app = ScimEmulator::start("scim-token-identity").unwrap();
    let hand_made = app.add_user("karl.alias@example.com", "K.", "Alias", true);
    let job = world.job(app.target());
    let actor = Actor {
        name: "admin@example.com",
        tenant: None,
    };
    let link = |hr_id: &str, account: &str| {
        world
            .tokio
            .block_on(job.link_by_hand(&world.store, hr_id, account, actor))
    };
    // Refused: an account or an employee that does not exist.
    assert!(link("3", "no-such-account")
        .unwrap_err()
        .to_string()
        .contains("does not exist"));
    assert!(link("9999", &hand_made)
        .unwrap_err()
        .to_string()
        .contains("not in the HR system"));
    link("3", &hand_made).expect("linked");

    let first = world.sync(&job, false);
    assert_eq!(creates(&first.report), 5, "employee 3 gets no second account");
    let user = app.user_by_name("karl.alias@example.com").expect("kept");
    assert_eq!(
        user["name"]["familyName"],
        employees[2].last_name.as_str(),
        "names are kept in step"
    );
    assert_eq!(world.links()["3"], hand_made);
    // The account belongs to employee 3 now: nobody else may take it.
    assert!(link("4", &hand_made)
        .unwrap_err()
        .to_string()
        .contains("linked to employee 3"));
    assert!(world.sync(&job, true).report.outcomes.is_empty());
    let actions = world.tokio.block_on(world.store.audit_actions("identity")).unwrap();
    assert!(actions.contains(&"link.manual".to_string()));
}

/// A rule that needs a field the source never returns stops the run before
/// anything is planned: withheld by the credentials (Personio says so) or
/// empty for everyone read.
#[test]
fn a_field_the_source_does_not_return_stops_the_run_naming_it() {
    let employees = clean_company(30, 11);
    let world = World::new(employees);
    let app = ScimEmulator::start("scim-token-identity").unwrap();
    let job = world.job(app.target());
    world.hr.withhold(&["employment_type"]);
    let failed = world
        .tokio
        .block_on(job.run(&world.store, RunRequest::default(), unobserved()))
        .unwrap_err()
        .to_string();
    assert!(
        failed.contains("rules[0] (scope-rule) needs the field `employment_type`"),
        "{failed}"
    );
    assert!(failed.contains("filter `externals`"), "{failed}");
    assert!(failed.contains("the source could not read it"), "{failed}");
    assert!(failed.contains("release the attribute `employment_type`"), "{failed}");
    assert!(app.users().is_empty(), "nothing written");
    // A dry run (the admin's Test) stops the same way.
    let dry_run = RunRequest {
        dry_run: true,
        ..RunRequest::default()
    };
    let test = world.tokio.block_on(job.run(&world.store, dry_run, unobserved()));
    assert!(test.is_err());

    // Released, but empty for everyone: the same stop on a full read.
    world.hr.withhold(&[]);
    for id in 1..=30 {
        world.hr.update(id, |e| e.employment_type = String::new());
    }
    let failed = world
        .tokio
        .block_on(job.run(&world.store, RunRequest::default(), unobserved()))
        .unwrap_err()
        .to_string();
    assert!(failed.contains("none of the 30 employees read"), "{failed}");
    assert!(app.users().is_empty());
}

/// An employee deleted in Personio (gone from the next full read) is
/// deactivated.
#[test]
fn an_employee_deleted_in_personio_is_deactivated_on_the_next_full_read() {
    let mut employees = clean_company(20, 13);
    for e in &mut employees {
        e.status = "active".into();
        e.employment_type = "internal".into();
    }
    let world = World::new(employees);
    let app = ScimEmulator::start("scim-token-identity").unwrap();
    let job = world.job(app.target());
    world.sync(&job, false);
    let account = world.links()["17"].clone();
    world.hr.remove(17);
    let incremental = world.sync(&job, false);
    assert!(incremental.report.outcomes.is_empty(), "Personio reports no deletions");
    let full = world.sync(&job, true);
    assert_eq!(full.report.count(|c| matches!(c, Change::DeactivateAccount(_))), 1);
    assert!(
        !ScimApp::users(&app)
            .into_iter()
            .find(|u| u.id == account)
            .unwrap()
            .active
    );
}
