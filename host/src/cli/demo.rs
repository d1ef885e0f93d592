//! `hrsync demo`: a Personio emulator and a SCIM app on loopback, synced
//! through the real plugins; then a new hire, a leaver and a department
//! move, and a second sync. No account anywhere needed.

use std::process::ExitCode;

use crate::bench::built_plugin;
use crate::emulators::personio::{HrEmployee, PersonioEmulator};
use crate::emulators::scim::{ScimEmulator, ENTERPRISE};
use crate::runtime::types::Change;
use crate::runtime::{HttpPolicy, Plugin, Runtime, Sandbox, Secret, Secrets};
use crate::sync::apply::ItemResult;
use crate::sync::correlate::Link;
use crate::sync::run::{run, RunReport, Sessions, Settings};

const PEOPLE: &[(&str, &str, &str, &str)] = &[
    ("Peter", "Wright", "Vertrieb", "internal"),
    ("Anna", "Schmidt", "Vertrieb", "internal"),
    ("Luca", "Rossi", "IT", "internal"),
    ("Sofia", "García", "IT", "internal"),
    ("Jonas", "Becker", "IT", "internal"),
    ("Marta", "López", "Vertrieb", "internal"),
    ("Chiara", "Bianchi", "Personal", "internal"),
    ("Tim", "Vogel", "IT", "external"),
    ("Lea", "Wagner", "Personal", "internal"),
    ("Paul", "Klein", "Vertrieb", "internal"),
    ("Nina", "Frank", "IT", "internal"),
    ("Emil", "Braun", "Personal", "internal"),
];

pub fn run_demo(runtime: &Runtime) -> Result<ExitCode, String> {
    let load = |name: &str| -> Result<Plugin, String> {
        let path = built_plugin(name);
        runtime
            .load_file(&path)
            .map_err(|e| format!("{e} (build the plugins first: scripts/build-plugins)"))
    };
    println!("Loading plugins (the first run compiles them; later runs use the cache)...");
    let (personio, scope, teams, scim) = (
        load("personio")?,
        load("scope_rule")?,
        load("python_rule")?,
        load("scim")?,
    );

    let hr = PersonioEmulator::start("demo-client", "demo-secret").map_err(|e| e.to_string())?;
    let app = ScimEmulator::start("demo-token").map_err(|e| e.to_string())?;
    hr.upsert(PEOPLE.iter().enumerate().map(|(i, (first, last, department, kind))| {
        let id = i as u64 + 1;
        let mut e = HrEmployee::new(id, first, last, department);
        e.email = format!("{}.{}@example.com", ascii(first), ascii(last));
        e.employment_type = kind.to_string();
        e.supervisor_id = (id > 1).then_some(1);
        e.last_modified_ms -= 60_000;
        e
    }));
    let manual = app.add_user("anna.schmidt@example.com", "Anna", "Schmidt (added by hand)", true);
    println!("Personio emulator: {}   SCIM app: {}", hr.base_url(), app.base_url());
    println!(
        "{} employees in Personio (1 external); the app already has Anna's account, made by hand ({manual}).",
        PEOPLE.len()
    );

    let sandboxes = Sandboxes::new(&hr, &app);
    let settings = Settings {
        options: crate::sync::plan::Options {
            deletion_threshold_percent: 25,
            ..Default::default()
        },
        ..Settings::default()
    };
    let sync = |links: &[Link]| -> Result<RunReport, String> {
        let mut source = personio.source(&sandboxes.source).map_err(|e| e.to_string())?;
        let mut rules = vec![
            scope.rule(&sandboxes.scope).map_err(|e| e.to_string())?,
            teams.rule(&sandboxes.teams).map_err(|e| e.to_string())?,
        ];
        let mut target = scim.target(&sandboxes.target).map_err(|e| e.to_string())?;
        run(
            Sessions {
                source: &mut source,
                rules: &mut rules,
                target: &mut target,
            },
            links,
            &settings,
        )
        .map_err(|e| e.to_string())
    };

    println!("\n== First sync: automated onboarding, teams per department, managers ==");
    let first = sync(&[])?;
    print_report(&first);
    print_app(&app);

    println!("\n== Second sync, nothing changed in Personio ==");
    let second = sync(&first.links)?;
    print_report(&second);

    println!("\n== In Personio: Ida Neumann is hired into IT, Jonas Becker leaves, Marta López moves to IT ==");
    hr.upsert([{
        let mut e = HrEmployee::new(13, "Ida", "Neumann", "IT");
        e.email = "ida.neumann@example.com".into();
        e.supervisor_id = Some(1);
        e
    }]);
    hr.update(5, |e| {
        e.status = "inactive".into();
        e.termination_date = Some("2026-11-30".into());
    });
    hr.update(6, |e| e.department = Some("IT".into()));
    let third = sync(&second.links)?;
    print_report(&third);
    print_app(&app);
    Ok(ExitCode::SUCCESS)
}

/// E-mail-safe spelling of a name.
fn ascii(name: &str) -> String {
    name.to_lowercase()
        .replace('í', "i")
        .replace('ó', "o")
        .replace('ü', "ue")
        .replace('ä', "ae")
        .replace('ö', "oe")
}

struct Sandboxes {
    source: Sandbox,
    scope: Sandbox,
    teams: Sandbox,
    target: Sandbox,
}

impl Sandboxes {
    fn new(hr: &PersonioEmulator, app: &ScimEmulator) -> Self {
        let secrets = |pairs: &[(&str, &str)]| -> Secrets {
            pairs.iter().map(|(k, v)| (k.to_string(), Secret::new(*v))).collect()
        };
        let grant = |origin: String| HttpPolicy::with_grants(&[origin]).unwrap_or_default();
        Self {
            source: Sandbox {
                config: serde_json::json!({ "base_url": hr.base_url() }),
                secrets: secrets(&[("client-id", "demo-client"), ("client-secret", "demo-secret")]),
                http: grant(hr.base_url()),
                ..Sandbox::default()
            },
            scope: Sandbox {
                config: serde_json::json!({ "exclude": [{ "name": "externals", "all": [{ "field": "employment_type", "op": "equals", "value": "external" }] }] }),
                ..Sandbox::default()
            },
            teams: Sandbox {
                config: serde_json::json!({ "prefix": "Abteilung " }),
                ..Sandbox::default()
            },
            target: Sandbox {
                config: serde_json::json!({ "base_url": app.base_url() }),
                secrets: secrets(&[("token", "demo-token")]),
                http: grant(app.origin()),
                ..Sandbox::default()
            },
        }
    }
}

fn describe(change: &Change) -> String {
    match change {
        Change::CreateAccount(d) => format!("create account {}", d.user_name),
        Change::UpdateAccount(u) => {
            let fields: Vec<&str> = u.changes.iter().map(|c| c.field.as_str()).collect();
            format!("update {} ({})", u.id, fields.join(", "))
        }
        Change::DeactivateAccount(id) => format!("deactivate {id}"),
        Change::ReactivateAccount(id) => format!("reactivate {id}"),
        Change::Invite(id) => format!("invite {id}"),
        Change::CreateTeam(t) => format!("create team \"{}\"", t.name),
        Change::RenameTeam(t) => format!("rename team \"{}\" to \"{}\"", t.before, t.after),
        Change::AddMember(m) => format!("add {} to team {}", m.account_id, m.team_id),
        Change::RemoveMember(m) => format!("remove {} from team {}", m.account_id, m.team_id),
        Change::LinkManager(l) => format!(
            "manager of {} := {}",
            l.account_id,
            l.manager_id.as_deref().unwrap_or("none")
        ),
    }
}

fn print_report(report: &RunReport) {
    let count = |f: fn(&Change) -> bool| report.count(f);
    println!(
        "read {} employees | users created {}, updated {}, deactivated {} | teams created {}, memberships {} | managers {} | skipped {}, failed {}",
        report.employees_read,
        count(|c| matches!(c, Change::CreateAccount(_))),
        count(|c| matches!(c, Change::UpdateAccount(_))),
        count(|c| matches!(c, Change::DeactivateAccount(_))),
        count(|c| matches!(c, Change::CreateTeam(_))),
        count(|c| matches!(c, Change::AddMember(_) | Change::RemoveMember(_))),
        count(|c| matches!(c, Change::LinkManager(_))),
        report.skipped.len(),
        report.failed(),
    );
    for outcome in &report.outcomes {
        let who = outcome
            .planned
            .hr_id
            .as_deref()
            .map(|id| format!("[employee {id}] "))
            .unwrap_or_default();
        let result = match &outcome.result {
            ItemResult::Done { .. } => "ok".to_string(),
            ItemResult::LinkedExisting { id } => format!("existed already: linked {id}"),
            ItemResult::Failed(error) => format!("FAILED: {}", crate::runtime::error::explain(error)),
        };
        println!("  {who}{} — {result}", describe(&outcome.planned.change));
    }
    for skipped in &report.skipped {
        println!("  [employee {}] skipped: {}", skipped.hr_id, skipped.reason);
    }
    if report.outcomes.is_empty() {
        println!("  no changes: zero writes");
    }
}

fn print_app(app: &ScimEmulator) {
    println!("The app now:");
    let users = app.users();
    let name_of = |id: &serde_json::Value| {
        users
            .iter()
            .find(|u| &u["id"] == id)
            .and_then(|u| u["userName"].as_str())
            .unwrap_or("?")
            .to_string()
    };
    for user in &users {
        let manager = &user[ENTERPRISE]["manager"]["value"];
        println!(
            "  {:<32} {:<8} {}",
            user["userName"].as_str().unwrap_or(""),
            if user["active"] == true { "active" } else { "INACTIVE" },
            if manager.is_null() {
                String::new()
            } else {
                format!("manager {}", name_of(manager))
            }
        );
    }
    for group in app.groups() {
        let members: Vec<String> = group["members"]
            .as_array()
            .map(|m| m.iter().map(|m| name_of(&m["value"])).collect())
            .unwrap_or_default();
        println!(
            "  team \"{}\": {}",
            group["displayName"].as_str().unwrap_or(""),
            members.join(", ")
        );
    }
}
