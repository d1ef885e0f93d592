//! `hrsync-lab demo`: a Personio emulator and a SCIM app on loopback, synced
//! through the real plugins; then a new hire, a leaver and a department
//! move; then a rehire, a shared e-mail and a missing one, and the fix.
//! No account anywhere needed.

use std::process::ExitCode;

use hrsync::report::{print_report, print_runs};
use hrsync_emulators::built_plugin;
use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::{ScimEmulator, ENTERPRISE};
use hrsync_engine::job::{unobserved, Job, PluginSetup, RunRequest};
use hrsync_engine::run::Settings;
use hrsync_engine::trigger::FullReads;
use hrsync_runtime::{HttpPolicy, Plugin, Runtime, Sandbox, Secret, Secrets};
use hrsync_store::Store;

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
    seed(&hr);
    let manual = app.add_user("anna.schmidt@example.com", "Anna", "Schmidt (added by hand)", true);
    println!("Personio emulator: {}   SCIM app: {}", hr.base_url(), app.base_url());
    println!(
        "{} employees in Personio (1 external); the app already has Anna's account, made by hand ({manual}).",
        PEOPLE.len()
    );

    let sandboxes = Sandboxes::new(&hr, &app);
    let job = Job {
        integration: "demo-personio-to-scim".into(),
        source: PluginSetup {
            plugin: personio,
            sandbox: sandboxes.source,
        }
        .into(),
        rules: vec![
            PluginSetup {
                plugin: scope,
                sandbox: sandboxes.scope,
            },
            PluginSetup {
                plugin: teams,
                sandbox: sandboxes.teams,
            },
        ],
        target: PluginSetup {
            plugin: scim,
            sandbox: sandboxes.target,
        },
        settings: Settings {
            options: hrsync_engine::plan::Options {
                deletion_threshold_percent: 25,
                // A rehire gets their old, deactivated account back.
                reactivate: true,
                ..Default::default()
            },
            ..Settings::default()
        },
        full_reads: FullReads::default(),
    };
    // Links, runs, items and the cursor go to a SQLite file, as in
    // production (PostgreSQL works the same).
    let folder = std::env::temp_dir().join(format!("hrsync-demo-{}", std::process::id()));
    std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
    let database = format!("sqlite://{}", folder.join("hrsync.db").display());
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let store = tokio.block_on(Store::connect(&database)).map_err(|e| e.to_string())?;
    let sync = || -> Result<(), String> {
        let started = std::time::Instant::now();
        let finished = tokio
            .block_on(job.run(&store, RunRequest::default(), unobserved()))
            .map_err(|e| e.to_string())?;
        print_report(&finished.run_id, &finished.report, started.elapsed());
        Ok(())
    };

    println!("\n== First sync: automated onboarding, teams per department, managers ==");
    sync()?;
    print_app(&app);

    println!("\n== Second sync, nothing changed in Personio ==");
    sync()?;

    println!("\n== In Personio: Ida Neumann is hired into IT, Jonas Becker leaves, Marta López moves to IT ==");
    hr.upsert([demo_employee(
        13,
        "Ida",
        "Neumann",
        "IT",
        Some("ida.neumann@example.com"),
    )]);
    hr.update(5, |e| {
        e.status = "inactive".into();
        e.termination_date = Some("2026-11-30".into());
    });
    hr.update(6, |e| e.department = Some("IT".into()));
    sync()?;
    print_app(&app);

    println!(
        "\n== In Personio, the usual data problems: Jonas Becker is rehired under a new \
         personnel number (14); Mia Hoffmann (15) is entered with Nina Frank's e-mail; \
         Max Roth (16) has a mistyped one =="
    );
    hr.upsert([
        demo_employee(14, "Jonas", "Becker", "IT", Some("jonas.becker@example.com")),
        demo_employee(15, "Mia", "Hoffmann", "IT", Some("Nina.Frank@example.com ")),
        demo_employee(16, "Max", "Roth", "Vertrieb", Some("max.roth(at)example.com")),
    ]);
    sync()?;

    println!("\n== HR gives Mia her own e-mail ==");
    hr.update(15, |e| e.email = Some("mia.hoffmann@example.com".into()));
    sync()?;
    print_app(&app);

    println!("\n== Run history ({database}) ==");
    let runs = tokio
        .block_on(store.runs(Some(&job.integration), 10))
        .map_err(|e| e.to_string())?;
    print_runs(&runs);
    let cursor = tokio
        .block_on(store.cursor(&job.integration))
        .map_err(|e| e.to_string())?;
    println!(
        "cursor for the next incremental read: {}",
        cursor.as_deref().unwrap_or("-")
    );
    Ok(ExitCode::SUCCESS)
}

/// The demo company: twelve employees (one external) under Peter Wright.
pub(super) fn seed(hr: &PersonioEmulator) {
    hr.upsert(PEOPLE.iter().enumerate().map(|(i, (first, last, department, kind))| {
        let id = i as u64 + 1;
        let mut e = HrEmployee::new(id, first, last, department);
        e.email = Some(format!("{}.{}@example.com", ascii(first), ascii(last)));
        e.employment_type = kind.to_string();
        e.supervisor_id = (id > 1).then_some(1);
        e.last_modified_ms -= 60_000;
        e
    }));
}

/// A new record under Peter Wright, changed just now.
fn demo_employee(id: u64, first: &str, last: &str, department: &str, email: Option<&str>) -> HrEmployee {
    let mut e = HrEmployee::new(id, first, last, department);
    e.email = email.map(str::to_string);
    e.supervisor_id = Some(1);
    e
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
