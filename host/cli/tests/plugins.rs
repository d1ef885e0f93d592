//! `hrsync plugin test` exercising a whole plugin — a source's employees,
//! a target's accounts, teams and changes, a rule's decisions — and
//! `hrsync plugin new`, run as a vendor would. (Every template built and
//! tested with its own toolchain: scripts/check-templates.)

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use hrsync_emulators::built_plugin;
use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
use hrsync_emulators::scim::ScimEmulator;

fn hrsync(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(args)
        .current_dir(dir)
        .env("HRSYNC_CACHE_DIR", dir.join("cache"))
        .env("PERSONIO_ID", "plugin-test-client")
        .env("PERSONIO_SECRET", "plugin-test-secret-5e6f")
        .env("SCIM_TOKEN", "plugin-test-token-7a8b")
        .output()
        .expect("run hrsync")
}

fn plugin(name: &str) -> String {
    let path = built_plugin(name);
    assert!(path.exists(), "{} missing: run scripts/build-plugins", path.display());
    path.to_string_lossy().into_owned()
}

fn text(output: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn personio_installation(dir: &Path, hr: &PersonioEmulator) -> String {
    let file = dir.join("personio.toml");
    std::fs::write(
        &file,
        format!(
            "allowed_hosts = [\"{url}\"]\n[config]\nbase_url = \"{url}\"\n[secrets]\nclient-id = {{ env = \"PERSONIO_ID\" }}\nclient-secret = {{ env = \"PERSONIO_SECRET\" }}\n",
            url = hr.base_url()
        ),
    )
    .unwrap();
    file.to_string_lossy().into_owned()
}

fn company() -> PersonioEmulator {
    let hr = PersonioEmulator::start("plugin-test-client", "plugin-test-secret-5e6f").unwrap();
    hr.upsert((1..=7).map(|id| {
        let mut e = HrEmployee::new(id, &format!("Vorname{id}"), &format!("Größe{id}"), "Vertrieb");
        e.email = Some(format!("person{id}@example.com"));
        e.supervisor_id = (id > 1).then_some(1);
        e
    }));
    hr
}

#[test]
fn a_source_shows_its_first_page_every_page_and_json_for_a_rule() {
    let dir = tempfile::tempdir().unwrap();
    let hr = company();
    let installation = personio_installation(dir.path(), &hr);
    let personio = plugin("personio");

    let output = hrsync(
        &[
            "plugin",
            "test",
            &personio,
            "--config",
            &installation,
            "--page-size",
            "3",
        ],
        dir.path(),
    );
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("test-connection: ok"), "{shown}");
    assert!(
        shown.contains("list-employees: 1 page, 3 employees, 0 rejected") && shown.contains("--all reads every page"),
        "{shown}"
    );
    // The table: id, name with umlauts, e-mail, status, department, supervisor.
    let row = shown
        .lines()
        .find(|l| l.trim_start().starts_with("2 "))
        .unwrap_or_else(|| panic!("no row for employee 2: {shown}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[..6],
        ["2", "Vorname2", "Größe2", "person2@example.com", "active", "Vertrieb"],
        "{row}"
    );
    assert!(!shown.contains("plugin-test-secret-5e6f"));

    // --all reads every page; --json writes what it read, for a rule.
    let output = hrsync(
        &[
            "plugin",
            "test",
            &personio,
            "--config",
            &installation,
            "--page-size",
            "3",
            "--all",
            "--json",
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("list-employees: 3 pages, 7 employees, 0 rejected"),
        "{stderr}"
    );
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_eq!(read["employees"].as_array().map(Vec::len), Some(7));
    assert_eq!(read["employees"][1]["supervisor"]["hr_id"], "1");
    let employees = dir.path().join("employees.json");
    std::fs::write(&employees, &output.stdout).unwrap();

    let rules = dir.path().join("team.toml");
    std::fs::write(&rules, "[config]\nteams = [{ name = \"Abteilung {department}\" }]\n").unwrap();
    // `plugin test RULE --config CONFIG --employees employees.json`.
    let decide = |rule: &str, config: &Path| {
        hrsync(
            &[
                "plugin",
                "test",
                &plugin(rule),
                "--config",
                config.to_str().unwrap(),
                "--employees",
                employees.to_str().unwrap(),
            ],
            dir.path(),
        )
    };
    let output = decide("team_map", &rules);
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("evaluate: 7 employees"), "{shown}");
    assert!(
        shown.contains("  3 Vorname3 Größe3: modify — teams [Abteilung Vertrieb]"),
        "{shown}"
    );
    assert!(shown.contains("needs field: department"), "{shown}");

    // Employees without the field the rule needs: a run would stop, and so
    // does the test, saying why.
    std::fs::write(
        &employees,
        r#"[{"hr_id": "1", "first_name": "Ada", "last_name": "L", "email": "ada@example.com"}]"#,
    )
    .unwrap();
    let output = decide("team_map", &rules);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("the rule needs department") && text(&output).contains("none of the 1 employees"),
        "{}",
        text(&output)
    );

    // A value the rule compares with that nobody in the file has is noted,
    // as a run's plan notes it.
    let scope = dir.path().join("scope.toml");
    std::fs::write(
        &scope,
        "[[config.exclude]]\nname = \"sales\"\nall = [{ field = \"department\", op = \"in\", value = [\"Vertreib\"] }]\n",
    )
    .unwrap();
    std::fs::write(
        &employees,
        r#"[{"hr_id": "1", "first_name": "Ada", "last_name": "L", "department": "Vertrieb"}]"#,
    )
    .unwrap();
    let output = decide("scope_rule", &scope);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("note: ")
            && text(&output).contains("department \"vertreib\"")
            && text(&output).contains("\"Vertrieb\" (1)"),
        "{}",
        text(&output)
    );

    // An empty secret is named, not sent (exit 2, as an invalid config).
    let output = Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(["plugin", "test", &personio, "--config", &installation])
        .env("HRSYNC_CACHE_DIR", dir.path().join("cache"))
        .env("PERSONIO_ID", "")
        .env("PERSONIO_SECRET", "plugin-test-secret-5e6f")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("secret `client-id`: environment variable PERSONIO_ID is empty"),
        "{}",
        text(&output)
    );

    // A source option given to a rule is refused, naming both.
    let output = hrsync(
        &[
            "plugin",
            "test",
            &plugin("team_map"),
            "--config",
            rules.to_str().unwrap(),
            "--since",
            "x",
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("--since is for source plugins") && text(&output).contains("is a rule plugin"),
        "{}",
        text(&output)
    );

    // An employees file with a typo is named by its place.
    std::fs::write(&employees, r#"[{"hr_id": "1", "first_name": "A", "last_nme": "B"}]"#).unwrap();
    let output = decide("team_map", &rules);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("employee 0") && text(&output).contains("last_nme"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_target_lists_accounts_and_teams_and_applies_changes_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let app = ScimEmulator::start("plugin-test-token-7a8b").unwrap();
    let installation = dir.path().join("scim.toml");
    std::fs::write(
        &installation,
        format!(
            "allowed_hosts = [\"{origin}\"]\n[config]\nbase_url = \"{url}\"\n[secrets]\ntoken = {{ env = \"SCIM_TOKEN\" }}\n",
            origin = app.base_url().trim_end_matches("/scim/v2"),
            url = app.base_url()
        ),
    )
    .unwrap();
    let changes = dir.path().join("changes.json");
    std::fs::write(
        &changes,
        r#"[
          {"create_account": {"external_id": "7", "user_name": "jürgen@example.com", "email": "jürgen@example.com",
                              "first_name": "Jürgen", "last_name": "Größ", "attributes": [], "invite": false}},
          {"create_team": {"name": "Abteilung Vertrieb", "external_id": null}},
          {"deactivate_account": "no-such-account"}
        ]"#,
    )
    .unwrap();
    let scim = plugin("scim");
    let installation = installation.to_str().unwrap();
    let output = hrsync(
        &[
            "plugin",
            "test",
            &scim,
            "--config",
            installation,
            "--apply",
            changes.to_str().unwrap(),
        ],
        dir.path(),
    );
    let shown = text(&output);
    // One change failed: the test says so, with the app's answer.
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("capabilities: teams yes"), "{shown}");
    assert!(shown.contains("list-accounts: 1 page, 0 records"), "{shown}");
    assert!(shown.contains("change 1: create_account: ok (id "), "{shown}");
    assert!(shown.contains("change 2: create_team: ok (id "), "{shown}");
    assert!(
        shown.contains("change 3: deactivate_account: failed — not found"),
        "{shown}"
    );
    assert!(!shown.contains("plugin-test-token-7a8b"));

    let output = hrsync(&["plugin", "test", &scim, "--config", installation], dir.path());
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("list-accounts: 1 page, 1 record,"), "{shown}");
    assert!(
        shown.contains("jürgen@example.com") && shown.contains("Jürgen Größ"),
        "{shown}"
    );
    assert!(shown.contains("Abteilung Vertrieb"), "{shown}");

    // A file that is not a list of changes is named with its place.
    std::fs::write(&changes, r#"[{"create_acount": {}}]"#).unwrap();
    let output = hrsync(
        &[
            "plugin",
            "test",
            &scim,
            "--config",
            installation,
            "--apply",
            changes.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("create_acount"), "{}", text(&output));
}

#[test]
fn plugin_new_writes_a_template_and_refuses_what_would_go_wrong() {
    let dir = tempfile::tempdir().unwrap();
    for (lang, kind, main) in [
        ("python", "source", "app.py"),
        ("js", "target", "app.js"),
        ("rust", "rule", "src/lib.rs"),
    ] {
        let name = format!("acme-{lang}-{kind}");
        let output = hrsync(&["plugin", "new", &name, "--kind", kind, "--lang", lang], dir.path());
        assert!(output.status.success(), "{}", text(&output));
        let folder = dir.path().join(&name);
        let code = std::fs::read_to_string(folder.join(main)).unwrap();
        assert!(
            code.contains(&format!("\"{name}\"")) || code.contains(&format!("'{name}'")),
            "{code}"
        );
        for placeholder in ["{{name}}", "{{crate}}", "{{sdk}}"] {
            assert!(!code.contains(placeholder), "{placeholder} is filled: {code}");
        }
        assert!(folder.join("installation.toml").is_file());
        // The build commands are printed and name the folder's wasm.
        assert!(text(&output).contains(&format!("{name}.wasm")), "{}", text(&output));
        match lang {
            "rust" => {
                let manifest = std::fs::read_to_string(folder.join("Cargo.toml")).unwrap();
                let sdk = manifest
                    .lines()
                    .find_map(|l| l.strip_prefix("hrsync-sdk = { path = \""))
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or_else(|| panic!("{manifest}"));
                assert!(Path::new(sdk).join("Cargo.toml").is_file(), "{sdk}");
            }
            _ => assert_eq!(
                std::fs::read_to_string(folder.join("wit/worlds.wit")).unwrap(),
                include_str!("../../../wit/worlds.wit"),
                "the WIT of this host"
            ),
        }
        if lang == "js" {
            assert!(folder.join("hrsync-sdk/index.js").is_file() && folder.join("hrsync-sdk/index.d.ts").is_file());
        }
    }
    // Again into the same folder: refused, nothing overwritten.
    let output = hrsync(
        &[
            "plugin",
            "new",
            "acme-python-source",
            "--kind",
            "source",
            "--lang",
            "python",
        ],
        dir.path(),
    );
    assert!(!output.status.success());
    assert!(text(&output).contains("exists and is not empty"), "{}", text(&output));
    let output = hrsync(
        &["plugin", "new", "Acme_HR", "--kind", "source", "--lang", "js"],
        dir.path(),
    );
    assert!(!output.status.success());
    assert!(text(&output).contains("lowercase letters"), "{}", text(&output));
}

/// `hrsync plugin inspect x.wasm | head -1`: the reader goes away, the
/// command ends quietly with exit 0 — no panic, no death by signal.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["plugin", "inspect", "PLUGIN"],
        vec!["plugin", "inspect", "--json", "PLUGIN"],
        vec!["--help"],
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if *a == "PLUGIN" {
                    plugin("personio")
                } else {
                    a.to_string()
                }
            })
            .collect();
        let mut child = Command::new(env!("CARGO_BIN_EXE_hrsync"))
            .args(&args)
            .env("HRSYNC_CACHE_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader is gone before the command writes anything.
        drop(child.stdout.take());
        let status = child.wait().expect("wait");
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(status.success(), "{args:?}: {status:?} {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
