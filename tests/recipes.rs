//! The recipes in examples/ — the integration files that give an admin a
//! seed product's defaults in one step — loaded as shipped, pointed at the
//! emulators (and nothing else changed), and run against the statements of
//! the seed documents they follow, line by line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hrsync_emulators::bamboohr::{BambooEmployee, BambooHrEmulator};
use hrsync_emulators::entra::{user_id, EntraEmulator, EntraUser};
use hrsync_emulators::leapsome::{LeapsomeEmulator, ENTERPRISE};
use hrsync_emulators::perks::{Mode, PerksEmulator};
use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::ScimEmulator;
use hrsync_engine::installation::{InstallationFile, SecretSource};
use hrsync_engine::integration::IntegrationFile;
use hrsync_engine::job::{unobserved, Finished, Job, JobError, RunRequest};
use hrsync_model::Change;
use serde_json::Value;

/// A recipe of examples/ as shipped, with its plugins as built, its state in
/// a temporary folder, and its HTTP origins and secrets changed by `adapt`.
struct Recipe {
    job: Job,
    tokio: tokio::runtime::Runtime,
    store: hrsync_store::Store,
    /// Holds the database and the secret files.
    _dir: tempfile::TempDir,
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Points `config[key]` and the installation's host grant at an emulator.
fn point(installation: &mut InstallationFile, key: &str, url: &str) {
    if let Some(config) = installation.config.as_table_mut() {
        config.insert(key.into(), toml::Value::String(url.into()));
    }
    installation.allowed_hosts = vec![url.trim_end_matches("/scim/v2").to_string()];
}

impl Recipe {
    fn load(name: &str, adapt: impl FnOnce(&mut IntegrationFile, &Path)) -> Self {
        Self::load_edited(name, &[], adapt)
    }

    /// The recipe with some of its lines changed as an admin would change
    /// them — (line as shipped, line as edited); each must be in the file.
    fn load_edited(name: &str, edits: &[(&str, &str)], adapt: impl FnOnce(&mut IntegrationFile, &Path)) -> Self {
        let shipped = examples().join(format!("{name}.toml"));
        let mut text = std::fs::read_to_string(&shipped).unwrap_or_else(|e| panic!("{}: {e}", shipped.display()));
        for (from, to) in edits {
            assert!(text.contains(from), "{name} has no line `{from}`");
            text = text.replacen(from, to, 1);
        }
        let hrsync_tests::TempStore { tokio, store, dir } = hrsync_tests::temp_store();
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("the recipe, edited");
        let mut file = IntegrationFile::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(file.name, name, "the recipe is named as its file");
        let installations = std::iter::once(&mut file.source)
            .chain(file.rules.iter_mut())
            .chain(std::iter::once(&mut file.target));
        for installation in installations {
            let shipped = installation.plugin.as_ref().expect("a plugin");
            let stem = shipped.file_stem().and_then(|s| s.to_str()).expect("a file name");
            installation.plugin = Some(hrsync_tests::plugin_path(stem));
        }
        adapt(&mut file, dir.path());
        let job = file
            .job(hrsync_tests::runtime())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        Self {
            job,
            tokio,
            store,
            _dir: dir,
        }
    }

    fn run(&self, request: RunRequest) -> Result<Finished, JobError> {
        self.tokio.block_on(self.job.run(&self.store, request, unobserved()))
    }

    /// The console's "Test": everything planned, nothing written.
    fn dry_run(&self) -> Result<Finished, JobError> {
        self.run(RunRequest {
            dry_run: true,
            ..RunRequest::default()
        })
    }

    fn sync(&self) -> Finished {
        self.run(RunRequest::default()).expect("run")
    }

    fn full_sync(&self) -> Finished {
        self.run(RunRequest {
            full: true,
            ..RunRequest::default()
        })
        .expect("run")
    }
}

/// A secret kept in a file of the recipe's folder (one file each: a source
/// and a target may both have an `api-key`).
fn secret(installation: &mut InstallationFile, dir: &Path, name: &str, value: &str) {
    static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("secret-{n}-{name}"));
    std::fs::write(&path, value).expect("secret file");
    installation.secrets.insert(name.into(), SecretSource::File(path));
}

fn count(finished: &Finished, kind: impl Fn(&Change) -> bool) -> usize {
    finished.report.count(kind)
}

/// Whether the run skipped someone (employee `hr_id`, or anyone) for a
/// reason containing `reason`.
fn skipped(finished: &Finished, hr_id: Option<&str>, reason: &str) -> bool {
    finished
        .report
        .skipped
        .iter()
        .any(|s| hr_id.is_none_or(|id| s.hr_id == id) && s.reason.contains(reason))
}

fn creates(finished: &Finished) -> usize {
    count(finished, |c| matches!(c, Change::CreateAccount(_)))
}

// ---------------------------------------------------------------------
// Seed 003: Personio → an edyoucated-style learning app (SCIM 2.0).

const PERSONIO_ID: &str = "recipes-client";
const PERSONIO_SECRET: &str = "recipes-personio-secret-41d";
const SCIM_TOKEN: &str = "recipes-scim-token";

/// Peter Wright (1) leads; Anna (2, Sales), Luca (3, IT), Tim (4, IT,
/// external), Sofia (5, IT, on leave), Jonas (6, IT, onboarding).
fn personio() -> PersonioEmulator {
    let hr = PersonioEmulator::start(PERSONIO_ID, PERSONIO_SECRET).expect("personio");
    let people = [
        (1, "Peter", "Wright", "Sales", "internal", "active"),
        (2, "Anna", "Schmidt", "Sales", "internal", "active"),
        (3, "Luca", "Rossi", "IT", "internal", "active"),
        (4, "Tim", "Vogel", "IT", "external", "active"),
        (5, "Sofia", "García", "IT", "internal", "leave"),
        (6, "Jonas", "Becker", "IT", "internal", "onboarding"),
    ];
    hr.upsert(people.iter().map(|(id, first, last, department, kind, status)| {
        let mut e = HrEmployee::new(*id, first, last, department);
        e.employment_type = kind.to_string();
        e.status = status.to_string();
        e.supervisor_id = (*id != 1).then_some(1);
        e.position = Some(format!("{department} Specialist"));
        e.last_modified_ms -= 60_000;
        e
    }));
    hr
}

/// The recipe's Personio source pointed at the emulator, with its secrets.
fn point_personio(file: &mut IntegrationFile, dir: &Path, hr: &PersonioEmulator) {
    point(&mut file.source, "base_url", &hr.base_url());
    secret(&mut file.source, dir, "client-id", PERSONIO_ID);
    secret(&mut file.source, dir, "client-secret", PERSONIO_SECRET);
}

fn learning_app(hr: &PersonioEmulator, app: &ScimEmulator) -> Recipe {
    Recipe::load("personio-to-learning-app", |file, dir| {
        point_personio(file, dir, hr);
        point(&mut file.target, "base_url", &app.base_url());
        secret(&mut file.target, dir, "token", SCIM_TOKEN);
        // Six people: one leaver is more than the recipe's 10 %.
        file.options.deletion_threshold_percent = 50;
    })
}

fn members(app: &ScimEmulator, team: &str) -> BTreeSet<String> {
    let group = app
        .groups()
        .into_iter()
        .find(|g| g["displayName"] == team)
        .unwrap_or_else(|| panic!("no team {team}: {:?}", app.groups()));
    let by_id: std::collections::HashMap<String, String> = app
        .users()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap_or_default().to_string(),
                u["userName"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    group["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| by_id.get(m["value"].as_str()?).cloned())
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn seed_003_personio_to_a_learning_app() {
    let hr = personio();
    let app = ScimEmulator::start(SCIM_TOKEN).expect("app");
    let recipe = learning_app(&hr, &app);

    // "Use the Test button to make sure the settings are right before you
    // activate": a dry run plans everything and writes nothing.
    let test = recipe.dry_run().expect("dry run");
    assert_eq!(
        test.report
            .planned
            .iter()
            .filter(|p| matches!(p.change, Change::CreateAccount(_)))
            .count(),
        5
    );
    assert!(app.users().is_empty(), "a test writes nothing");

    // "Activate ... runs the first integration run": accounts for every
    // internal employee (onboarding and on leave too), none for the
    // external ("internal users are always synced").
    let first = recipe.sync();
    assert_eq!(creates(&first), 5, "{:?}", first.report.outcomes);
    assert!(
        app.user_by_name("tim.vogel@example.com").is_none(),
        "externals are excluded by default"
    );
    for email in ["jonas.becker@example.com", "sofia.garcía@example.com"] {
        assert!(
            app.user_by_name(email).is_some(),
            "{email}: onboarding and leave get an account"
        );
    }
    // "First name, last name, e-mail and status are required; the job title
    // is optional" — and the default language of the app's e-mails.
    let anna = app.user_by_name("anna.schmidt@example.com").expect("Anna");
    assert_eq!(anna["name"]["givenName"], "Anna");
    assert_eq!(anna["name"]["familyName"], "Schmidt");
    assert_eq!(anna["active"], true);
    assert_eq!(anna["title"], "Sales Specialist");
    assert_eq!(anna["preferredLanguage"], "de");
    // "Teams from the department field: Abteilung IT and Abteilung
    // Vertrieb; a team per supervisor: Peter Wrights Team."
    assert_eq!(
        members(&app, "Abteilung Sales"),
        names(&["anna.schmidt@example.com", "peter.wright@example.com"])
    );
    assert_eq!(
        members(&app, "Abteilung IT"),
        names(&[
            "jonas.becker@example.com",
            "luca.rossi@example.com",
            "sofia.garcía@example.com"
        ])
    );
    assert_eq!(
        members(&app, "Peter Wrights Team"),
        names(&[
            "anna.schmidt@example.com",
            "jonas.becker@example.com",
            "luca.rossi@example.com",
            "sofia.garcía@example.com"
        ])
    );

    // Nothing changed in Personio: the next run writes nothing.
    let quiet = recipe.full_sync();
    assert_eq!(quiet.report.writes(), 0, "{:?}", quiet.report.outcomes);

    // "Reflect organisational changes: teams, supervisors and status."
    hr.update(3, |e| e.department = Some("Sales".into()));
    let moved = recipe.full_sync();
    assert!(moved.report.failed() == 0, "{:?}", moved.report.outcomes);
    assert!(members(&app, "Abteilung Sales").contains("luca.rossi@example.com"));
    assert!(!members(&app, "Abteilung IT").contains("luca.rossi@example.com"));

    // "Deactivate users who leave the organisation."
    hr.update(2, |e| e.status = "inactive".into());
    let left = recipe.full_sync();
    assert_eq!(count(&left, |c| matches!(c, Change::DeactivateAccount(_))), 1);
    assert_eq!(
        app.user_by_name("anna.schmidt@example.com").expect("Anna")["active"],
        false
    );
}

#[test]
fn seed_003_a_required_attribute_personio_withholds_is_named_before_anything_is_written() {
    let hr = personio();
    hr.withhold(&["employment_type"]);
    let app = ScimEmulator::start(SCIM_TOKEN).expect("app");
    let recipe = learning_app(&hr, &app);
    let error = recipe.dry_run().expect_err("the test fails");
    let message = error.to_string();
    assert!(message.contains("employment_type"), "{message}");
    assert!(app.users().is_empty() && app.groups().is_empty(), "nothing written");
}

// ---------------------------------------------------------------------
// Seed 004: Personio → Leapsome (Leapsome's SCIM API).

const LEAPSOME_TOKEN: &str = "recipes-leapsome-token";

/// The seed-003 people, with the attributes of Leapsome's default mapping:
/// gender, hire and termination dates, office, a Level custom attribute,
/// and birth dates that must never leave hrsync.
fn personio_for_leapsome() -> PersonioEmulator {
    let hr = personio();
    for id in 1..=6 {
        hr.update(id, |e| {
            e.gender = Some(if id % 2 == 0 { "female" } else { "male" }.into());
            e.hire_date = Some(format!("2020-0{id}-15"));
            e.office = Some(if id < 4 { "München" } else { "Köln" }.into());
            e.birthday = Some(format!("1984-02-{:02}", 20 + id));
            e.dynamic = vec![(
                "dynamic_1001".into(),
                "Level".into(),
                "standard".into(),
                Value::String(format!("L{id}")),
            )];
        });
    }
    hr
}

fn leapsome(hr: &PersonioEmulator, app: &LeapsomeEmulator, edits: &[(&str, &str)]) -> Recipe {
    Recipe::load_edited("personio-to-leapsome", edits, |file, dir| {
        point_personio(file, dir, hr);
        point(&mut file.target, "base_url", &app.base_url());
        file.target.allowed_hosts = vec![app.origin()];
        secret(&mut file.target, dir, "token", LEAPSOME_TOKEN);
        file.options.deletion_threshold_percent = 50;
    })
}

/// The user names of a Leapsome team's members.
fn leapsome_members(app: &LeapsomeEmulator, team: &str) -> BTreeSet<String> {
    let users = app.users();
    let user_name = |id: &str| {
        users
            .iter()
            .find(|u| u["id"] == id)
            .and_then(|u| u["userName"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let (_, _, _, members) = app
        .groups()
        .into_iter()
        .find(|(_, name, _, _)| name == team)
        .unwrap_or_else(|| panic!("no team {team}: {:?}", app.groups()));
    members.iter().map(|id| user_name(id)).collect()
}

fn leapsome_user(app: &LeapsomeEmulator, email: &str) -> Value {
    app.user_by_name(email)
        .unwrap_or_else(|| panic!("no Leapsome user {email}"))
}

fn leapsome_id(app: &LeapsomeEmulator, email: &str) -> String {
    leapsome_user(app, email)["id"].as_str().unwrap_or_default().to_string()
}

#[test]
fn seed_004_personio_to_leapsome() {
    let hr = personio_for_leapsome();
    let app = LeapsomeEmulator::start(LEAPSOME_TOKEN).expect("leapsome");
    // An account made by hand before the integration: linked, not doubled
    // (Leapsome answers its create with 201 and `{}`).
    let by_hand = app.add_user("luca.rossi@example.com", "Luca", "Rossi");
    app.answer_existing_with_empty_object();
    let recipe = leapsome(&hr, &app, &[]);

    let first = recipe.sync();
    assert_eq!(first.report.failed(), 0, "{:?}", first.report.outcomes);
    // "It creates a Leapsome account for every new employee listed as
    // 'active' in Personio": not the onboarding Jonas; the external Tim and
    // Sofia on leave neither (create_for = active, nothing excluded).
    let users: BTreeSet<String> = app
        .users()
        .iter()
        .filter_map(|u| u["userName"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        users,
        names(&[
            "anna.schmidt@example.com",
            "luca.rossi@example.com",
            "peter.wright@example.com",
            "tim.vogel@example.com",
        ]),
        "{:?}",
        first.report.skipped
    );
    assert!(skipped(&first, Some("6"), "status onboarding"));
    assert_eq!(
        leapsome_user(&app, "luca.rossi@example.com")["id"],
        by_hand.as_str(),
        "linked"
    );
    // The default mapping, line by line: ID → External ID, first name, last
    // name, e-mail, position → job title, supervisor → manager, hire date,
    // office → location, gender.
    let anna = leapsome_user(&app, "anna.schmidt@example.com");
    let peter = leapsome_user(&app, "peter.wright@example.com");
    assert_eq!(anna["externalId"], "2");
    assert_eq!(anna["name"]["givenName"], "Anna");
    assert_eq!(anna["name"]["familyName"], "Schmidt");
    assert_eq!(anna["emails"][0]["value"], "anna.schmidt@example.com");
    assert_eq!(anna["active"], true);
    assert_eq!(anna["title"], "Sales Specialist");
    assert_eq!(anna[ENTERPRISE]["manager"]["managerId"], peter["id"]);
    assert_eq!(anna[ENTERPRISE]["startDate"], "2020-02-15");
    assert_eq!(anna[ENTERPRISE]["location"], "München");
    assert_eq!(anna[ENTERPRISE]["gender"], "female");
    assert_eq!(anna[ENTERPRISE].get("level"), None, "level is an optional mapping");
    // "A team for every department; its employees are assigned to it."
    assert_eq!(
        leapsome_members(&app, "Sales"),
        names(&["anna.schmidt@example.com", "peter.wright@example.com"])
    );
    assert_eq!(
        leapsome_members(&app, "IT"),
        names(&["luca.rossi@example.com", "tim.vogel@example.com"])
    );
    // "The birth date is not synchronised": in no request Leapsome got.
    let received = format!("{:?}", app.received());
    for id in 1..=6 {
        assert!(
            !received.contains(&format!("1984-02-{:02}", 20 + id)),
            "a birth date was sent"
        );
    }

    // Nothing changed in Personio: nothing written.
    let writes = app.writes();
    let quiet = recipe.full_sync();
    assert_eq!(quiet.report.writes(), 0, "{:?}", quiet.report.outcomes);
    assert_eq!(app.writes(), writes);

    // "Changes made by hand in Leapsome are overwritten, except teams":
    // a title edited by hand is put back; a team made by hand, and a
    // colleague put into a synced team by hand, stay.
    let luca = leapsome_id(&app, "luca.rossi@example.com");
    app.set_title(&luca, "Chief Everything");
    let guest = app.add_user("guest.trainer@example.com", "Guest", "Trainer");
    let mentors = app.add_group("Mentors", &[&luca]);
    let it = app.groups().into_iter().find(|(_, n, _, _)| n == "IT").expect("IT").0;
    app.add_member(&it, &guest);
    // "If you change a team in Personio, the old team is overwritten":
    // Tim moves to Sales, and Anna's position changes.
    hr.update(4, |e| e.department = Some("Sales".into()));
    hr.update(2, |e| e.position = Some("Head of Sales".into()));
    let changed = recipe.full_sync();
    assert_eq!(changed.report.failed(), 0, "{:?}", changed.report.outcomes);
    assert_eq!(leapsome_user(&app, "luca.rossi@example.com")["title"], "IT Specialist");
    assert_eq!(
        leapsome_user(&app, "anna.schmidt@example.com")["title"],
        "Head of Sales"
    );
    assert_eq!(
        leapsome_members(&app, "IT"),
        names(&["guest.trainer@example.com", "luca.rossi@example.com"]),
        "Tim left IT; the member added by hand stayed"
    );
    assert!(leapsome_members(&app, "Sales").contains("tim.vogel@example.com"));
    assert!(app
        .groups()
        .iter()
        .any(|(id, _, _, members)| *id == mentors && members == &[luca.clone()]));

    // Termination date → end date, set in Personio ahead of the last day;
    // on the day the status becomes inactive and the account is
    // deactivated.
    hr.update(2, |e| e.termination_date = Some("2026-11-30".into()));
    recipe.full_sync();
    assert_eq!(
        leapsome_user(&app, "anna.schmidt@example.com")[ENTERPRISE]["endDate"],
        "2026-11-30"
    );
    hr.update(2, |e| e.status = "inactive".into());
    let left = recipe.full_sync();
    assert_eq!(count(&left, |c| matches!(c, Change::DeactivateAccount(_))), 1);
    assert_eq!(leapsome_user(&app, "anna.schmidt@example.com")["active"], false);

    // Reactivation is the seed's option, off in the recipe: back from
    // parental leave, Anna stays deactivated until it is turned on.
    hr.update(2, |e| e.status = "active".into());
    let returned = recipe.full_sync();
    assert!(skipped(&returned, None, "reactivation is off"));
    assert_eq!(leapsome_user(&app, "anna.schmidt@example.com")["active"], false);
}

#[test]
fn seed_004_reactivation_exclusion_and_the_optional_mappings_as_the_recipe_comments_them() {
    let hr = personio_for_leapsome();
    let app = LeapsomeEmulator::start(LEAPSOME_TOKEN).expect("leapsome");
    let custom = format!("{ENTERPRISE}:6140868326541a4da586db0c");
    let edits = [
        ("reactivate = false", "reactivate = true"),
        ("  # { target = \"level\", from", "  { target = \"level\", from"),
        ("  # { target = \"employment_type\"", "  { target = \"employment_type\""),
        ("# [target.config.attributes]", "[target.config.attributes]"),
        ("# employment_type = \"urn", "employment_type = \"urn"),
    ];
    // Made by hand before: Leapsome answers its create with 409; linked.
    let by_hand = app.add_user("peter.wright@example.com", "Peter", "Wright");
    let recipe = leapsome(&hr, &app, &edits);
    let first = recipe.sync();
    assert_eq!(first.report.failed(), 0, "{:?}", first.report.outcomes);
    assert_eq!(leapsome_user(&app, "peter.wright@example.com")["id"], by_hand.as_str());
    assert_eq!(app.users().len(), 4);
    // Level and a custom attribute of Leapsome, once their lines are in.
    let luca = leapsome_user(&app, "luca.rossi@example.com");
    assert_eq!(luca[ENTERPRISE]["level"], "L3");
    assert_eq!(luca[ENTERPRISE]["6140868326541a4da586db0c"], "internal", "{custom}");
    // "Automatically reactivate users who were deactivated": on.
    // Incremental runs: only Luca is read, the teams' members from the users.
    hr.update(3, |e| e.status = "inactive".into());
    let left = recipe.sync();
    assert_eq!(left.report.read_kind, hrsync_engine::plan::ReadKind::Incremental);
    assert_eq!(leapsome_user(&app, "luca.rossi@example.com")["active"], false);
    hr.update(3, |e| e.status = "active".into());
    let back = recipe.sync();
    assert_eq!(count(&back, |c| matches!(c, Change::ReactivateAccount(_))), 1);
    assert!(
        leapsome_members(&app, "IT").contains("luca.rossi@example.com"),
        "back in his team"
    );
    assert_eq!(
        leapsome_user(&app, "luca.rossi@example.com")["active"],
        true,
        "back from sabbatical"
    );

    // "Exclude users by an attribute's value": the commented rule, in.
    let excluding = leapsome(
        &hr,
        &app,
        &[
            ("reactivate = false", "reactivate = true"),
            ("# [[rules]]\n# plugin", "[[rules]]\nplugin"),
            ("# [rules.config]\n# exclude", "[rules.config]\nexclude"),
        ],
    );
    let excluded = excluding.full_sync();
    assert_eq!(excluded.report.failed(), 0, "{:?}", excluded.report.outcomes);
    // "This only disconnects the excluded users; it does not deactivate
    // them" — Tim is external.
    assert_eq!(leapsome_user(&app, "tim.vogel@example.com")["active"], true);
    assert_eq!(count(&excluded, |c| matches!(c, Change::DeactivateAccount(_))), 0);
    // "Deactivate them by hand once; the integration will not reactivate
    // them" — even with reactivation on.
    let tim = leapsome_id(&app, "tim.vogel@example.com");
    app.deactivate(&tim);
    let after = excluding.full_sync();
    assert_eq!(count(&after, |c| matches!(c, Change::ReactivateAccount(_))), 0);
    assert_eq!(leapsome_user(&app, "tim.vogel@example.com")["active"], false);
}

// ---------------------------------------------------------------------
// Seeds 000–002: Personio, Microsoft Entra ID and BambooHR → 4Geeks Perks.

const PERKS_TEST_KEY: &str = "sk_test_recipes_5f1c";
const PERKS_LIVE_KEY: &str = "sk_live_recipes_never_used";

fn perks() -> PerksEmulator {
    PerksEmulator::start(PERKS_TEST_KEY, PERKS_LIVE_KEY).expect("perks")
}

fn point_perks(file: &mut IntegrationFile, dir: &Path, perks: &PerksEmulator, key: &str) {
    point(&mut file.target, "base_url", &perks.base_url());
    secret(&mut file.target, dir, "api-key", key);
    file.options.deletion_threshold_percent = 50;
}

/// The e-mails of every sandbox wallet.
fn wallet_emails(perks: &PerksEmulator) -> BTreeSet<String> {
    perks
        .users(Mode::Sandbox)
        .iter()
        .filter_map(|u| u["email"].as_str().map(str::to_string))
        .collect()
}

fn wallet(perks: &PerksEmulator, email: &str) -> Option<Value> {
    perks.user_by_email(Mode::Sandbox, email)
}

#[test]
fn seeds_000_to_002_personio_to_perks_auto_create_and_auto_archive() {
    let hr = personio();
    let perks = perks();
    let recipe = Recipe::load("personio-to-perks", |file, dir| {
        point_personio(file, dir, &hr);
        point_perks(file, dir, &perks, PERKS_TEST_KEY);
    });
    let first = recipe.sync();
    // Auto-Create: a wallet for active employees — on leave included, not
    // the onboarding Jonas yet (create_for = active), not the external.
    let wallets = wallet_emails(&perks);
    assert_eq!(
        wallets,
        names(&[
            "anna.schmidt@example.com",
            "luca.rossi@example.com",
            "peter.wright@example.com"
        ]),
        "{:?}",
        first.report.skipped
    );
    assert!(skipped(&first, Some("6"), "status onboarding"));
    // The default role, the "New Hire" package and the welcome e-mail.
    let anna = wallet(&perks, "anna.schmidt@example.com").expect("Anna's wallet");
    assert_eq!(anna["role"], "employee");
    assert_eq!(anna["benefits_package"], "New Hire");
    assert_eq!(anna["invited"], true, "the welcome e-mail");
    // Sandbox keys reach only the sandbox.
    assert!(perks.users(Mode::Live).is_empty());

    // Jonas's first day: his wallet opens.
    hr.update(6, |e| e.status = "active".into());
    let started = recipe.full_sync();
    assert_eq!(creates(&started), 1);
    assert!(wallet(&perks, "jonas.becker@example.com").is_some());

    // Auto-Archive: the leaver's wallet is frozen at once.
    hr.update(3, |e| e.status = "inactive".into());
    recipe.full_sync();
    assert_eq!(
        wallet(&perks, "luca.rossi@example.com").expect("Luca")["status"],
        "archived"
    );
}

#[test]
fn seeds_000_to_002_a_live_key_in_the_sandbox_recipe_is_refused_naming_both() {
    let hr = personio();
    let perks = perks();
    let recipe = Recipe::load("personio-to-perks", |file, dir| {
        point_personio(file, dir, &hr);
        point_perks(file, dir, &perks, PERKS_LIVE_KEY);
    });
    let message = recipe.run(RunRequest::default()).expect_err("refused").to_string();
    assert!(message.contains("live") && message.contains("sandbox"), "{message}");
    assert!(!message.contains(PERKS_LIVE_KEY), "{message}");
    assert!(perks.users(Mode::Live).is_empty() && perks.users(Mode::Sandbox).is_empty());
}

#[test]
fn seeds_000_to_002_entra_id_to_perks_by_group() {
    const TENANT: &str = "contoso.onmicrosoft.com";
    const CLIENT: &str = "00000000-0000-0000-0000-000000000000";
    const GROUP: &str = "00000000-0000-0000-0000-000000000001";
    const SECRET: &str = "entra-recipe-secret~9";
    let hr = EntraEmulator::start(TENANT, CLIENT, SECRET).expect("entra");
    hr.upsert((1..=6).map(|n| EntraUser::new(n, &format!("First{n}"), &format!("Last{n}"), "Sales")));
    hr.update(&user_id(2), |u| {
        u.employee_hire_date = Some("2999-01-01T00:00:00Z".into())
    });
    hr.update(&user_id(3), |u| u.user_type = "Guest".into());
    // 6 is not in the benefits group.
    hr.set_group(GROUP, (1..=5).map(user_id));
    let perks = perks();
    let recipe = Recipe::load("entra-to-perks", |file, dir| {
        point(&mut file.source, "graph_url", &hr.base_url());
        point(&mut file.source, "login_url", &hr.base_url());
        secret(&mut file.source, dir, "client-secret", SECRET);
        point_perks(file, dir, &perks, PERKS_TEST_KEY);
    });
    let email = |n: u64| format!("first{n}.last{n}@contoso.example");

    recipe.sync();
    let wallets = wallet_emails(&perks);
    // 2 starts later, 3 is a guest, 6 is outside the group.
    assert_eq!(wallets, [1, 4, 5].into_iter().map(email).collect());
    let first = wallet(&perks, &email(1)).expect("wallet");
    assert_eq!(first["employee_id"], "E00001", "Entra's employeeId");
    assert_eq!(first["benefits_package"], "New Hire");

    // Disabled in Entra ID: archived on the next incremental run.
    hr.update(&user_id(4), |u| u.account_enabled = false);
    let disabled = recipe.sync();
    assert_eq!(disabled.report.read_kind, hrsync_engine::plan::ReadKind::Incremental);
    assert_eq!(wallet(&perks, &email(4)).expect("4")["status"], "archived");

    // Taken out of the benefits group: the membership changed, everyone is
    // read, and the wallet is archived.
    hr.set_group(GROUP, [1, 2, 3, 4].map(user_id));
    let regrouped = recipe.sync();
    assert_eq!(regrouped.report.read_kind, hrsync_engine::plan::ReadKind::Full);
    assert_eq!(wallet(&perks, &email(5)).expect("5")["status"], "archived");
    assert_eq!(wallet(&perks, &email(1)).expect("1")["status"], "active");
}

#[test]
fn seeds_000_to_002_bamboohr_to_perks() {
    const KEY: &str = "bamboo-recipe-key";
    let hr = BambooHrEmulator::start(KEY).expect("bamboohr");
    hr.upsert(
        (1..=4).map(|id| BambooEmployee::new(id, &format!("Emp{id}"), "Bamboo", "Sales")),
        60_000,
    );
    let perks = perks();
    let recipe = Recipe::load("bamboohr-to-perks", |file, dir| {
        if let Some(config) = file.source.config.as_table_mut() {
            config.remove("company_domain");
        }
        point(&mut file.source, "base_url", &hr.base_url());
        secret(&mut file.source, dir, "api-key", KEY);
        point_perks(file, dir, &perks, PERKS_TEST_KEY);
    });
    let first = recipe.sync();
    assert_eq!(creates(&first), 4);
    let wallet1 = wallet(&perks, "emp1.bamboo@example.com").expect("wallet");
    assert_eq!(wallet1["employee_id"], "1");
    assert_eq!(wallet1["invited"], true);
    assert!(hr.terminate(2));
    recipe.sync();
    assert_eq!(
        wallet(&perks, "emp2.bamboo@example.com").expect("2")["status"],
        "archived"
    );
}
