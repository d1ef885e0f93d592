//! `hrsync plugin inspect` and `hrsync plugin test`, run as a user would.

use std::path::Path;
use std::process::{Command, Output};

use hrsync_emulators::built_plugin;

fn hrsync(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(args)
        .env("HRSYNC_CACHE_DIR", cache)
        .env("HRSYNC_TEST_TOKEN", "tok-abcdef-123456")
        .output()
        .expect("run hrsync")
}

fn plugin(name: &str) -> String {
    let path = built_plugin(name);
    assert!(path.exists(), "{} missing: run scripts/build-plugins", path.display());
    path.to_string_lossy().into_owned()
}

/// `hrsync plugin test PLUGIN --config FILE` with `installation` as FILE.
fn plugin_test(name: &str, installation: &str) -> Output {
    let cache = tempfile::tempdir().unwrap();
    let file = cache.path().join("installation.toml");
    std::fs::write(&file, installation).unwrap();
    hrsync(
        &["plugin", "test", &plugin(name), "--config", file.to_str().unwrap()],
        cache.path(),
    )
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn inspect_prints_manifest_kind_and_wit_version() {
    let cache = tempfile::tempdir().unwrap();
    let output = hrsync(&["plugin", "inspect", &plugin("hostile")], cache.path());
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    for expected in [
        "name:         hostile",
        "kind:         source",
        "wit version:  hrsync:plugin@1.2.0",
        "token (optional)",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }

    let output = hrsync(&["plugin", "inspect", "--json", &plugin("scope_rule")], cache.path());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    assert_eq!(json["manifest"]["kind"], "rule");
    assert_eq!(json["wit_version"], "1.2.0");
}

#[test]
fn inspect_rejects_an_unsupported_wit_version() {
    let cache = tempfile::tempdir().unwrap();
    let output = hrsync(&["plugin", "inspect", &plugin("future_wit")], cache.path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("hrsync:plugin@2.0.0") && stderr.contains("hrsync:plugin@1.2.0"),
        "{stderr}"
    );
}

#[test]
fn test_runs_describe_and_test_connection() {
    let output = plugin_test(
        "hostile",
        "[config]\nmode = \"ok\"\n[secrets]\ntoken = { env = \"HRSYNC_TEST_TOKEN\" }\n",
    );
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("describe: ok — hostile 1.0.0 (source plugin, WIT 1.2.0)"),
        "{text}"
    );
    assert!(
        text.contains("config: valid") && text.contains("test-connection: ok"),
        "{text}"
    );
    assert!(!text.contains("tok-abcdef-123456"));
}

#[test]
fn test_reports_invalid_config_by_field() {
    let output = plugin_test(
        "scope_rule",
        "[[config.exclude]]\nall = [{ field = \"department\", op = \"sounds_like\" }]\n",
    );
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output);
    assert!(
        text.contains("config: invalid") && text.contains("exclude.0.all.0.op"),
        "{text}"
    );
}

#[test]
fn test_reports_the_typed_error() {
    let output = plugin_test(
        "scope_rule",
        "[[config.include]]\nall = [{ field = \"shoe_size\", op = \"is_empty\" }]\n",
    );
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("evaluate (no employees): failed") && text.contains("invalid input in `include[0].all[0].field`"),
        "{text}"
    );
}

/// Runs of spaces as one, so tables compare by content.
fn squash(text: &str) -> String {
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The documented example integration, pointed at emulators on loopback.
fn example_integration(dir: &Path, personio: &str, perks: &str) -> std::path::PathBuf {
    let plugins = built_plugin("personio")
        .parent()
        .expect("plugin folder")
        .to_string_lossy()
        .into_owned();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/personio-to-perks.toml"
    ))
    .expect("the example")
    .replace("../target/wasm32-wasip2/plugin", &plugins)
    .replace("https://api.personio.de", personio)
    .replace("https://api.4geeks.io", perks);
    let file = dir.join("integration.toml");
    std::fs::write(&file, text).unwrap();
    file
}

fn sync_env<'a>(command: &'a mut Command, cache: &Path) -> &'a mut Command {
    command
        .env("HRSYNC_CACHE_DIR", cache)
        .env("PERSONIO_CLIENT_ID", "cli-client")
        .env("PERSONIO_CLIENT_SECRET", "cli-secret-0f1e2d")
        .env("PERKS_API_KEY", "sk_test_cli_9a8b7c")
        .env_remove("HRSYNC_DATABASE_URL")
}

fn run_hrsync(args: &[&str], cache: &Path) -> Output {
    sync_env(&mut Command::new(env!("CARGO_BIN_EXE_hrsync")), cache)
        .args(args)
        .output()
        .expect("run hrsync")
}

#[test]
fn sync_dry_run_then_apply_then_runs_history() {
    use hrsync_emulators::perks::{Mode, PerksEmulator};
    use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};

    let dir = tempfile::tempdir().unwrap();
    let hr = PersonioEmulator::start("cli-client", "cli-secret-0f1e2d").unwrap();
    let perks = PerksEmulator::start("sk_test_cli_9a8b7c", "sk_live_cli_unused").unwrap();
    hr.upsert((1..=4).map(|id| {
        let mut e = HrEmployee::new(id, &format!("First{id}"), &format!("Last{id}"), "IT");
        e.email = Some(format!("person{id}@example.com"));
        e.employment_type = if id == 4 { "external" } else { "internal" }.into();
        e.last_modified_ms -= 60_000;
        e
    }));
    let file = example_integration(dir.path(), &hr.base_url(), &perks.base_url());
    let config = file.to_str().unwrap();

    let output = run_hrsync(&["sync", "--config", config, "--dry-run"], dir.path());
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("dry run: the plan below was not applied"), "{text}");
    assert!(squash(&text).contains("users 3 0 0 0 0"), "{text}");
    assert!(text.contains("create account person1@example.com"), "{text}");
    assert!(text.contains("excluded by filter `externals`"), "{text}");
    assert!(perks.users(Mode::Sandbox).is_empty(), "a dry run changes nothing");

    let output = run_hrsync(&["sync", "--config", config], dir.path());
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(squash(&text).contains("users 3 0 0 0 0"), "{text}");
    let wallets = perks.users(Mode::Sandbox);
    assert_eq!(wallets.len(), 3);
    assert!(wallets
        .iter()
        .all(|w| w["benefits_package"] == "New Hire" && w["invited"] == true));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("cli-secret-0f1e2d") && !stderr.contains("sk_test_cli_9a8b7c"));

    // A leaver: one of three wallets is over the 10% deletion threshold, so
    // the run stops before apply and says why ...
    hr.update(2, |e| e.status = "inactive".into());
    let output = run_hrsync(&["sync", "--config", config], dir.path());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("1 of 3 managed accounts would be deactivated"),
        "{stderr}"
    );
    assert_eq!(
        perks.user_by_email(Mode::Sandbox, "person2@example.com").unwrap()["status"],
        "active"
    );
    // ... and with the threshold raised the wallet is archived. The options
    // changed since the last full read, so the run reads everyone.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("deletion_threshold_percent = 10", "deletion_threshold_percent = 50");
    std::fs::write(&file, text).unwrap();
    let output = run_hrsync(&["sync", "--config", config], dir.path());
    assert!(
        squash(&stdout(&output)).contains("(full read, 4 employees)"),
        "{}\n{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        perks.user_by_email(Mode::Sandbox, "person2@example.com").unwrap()["status"],
        "archived"
    );

    let output = run_hrsync(&["runs", "--config", config], dir.path());
    let text = squash(&stdout(&output));
    assert!(output.status.success(), "{text}");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert!(
        rows[0].contains("personio-to-perks cli succeeded") && rows[0].contains("users +0 ~0 -1"),
        "{text}"
    );
    assert!(
        rows[1].contains("cli failed") && rows[1].contains("deletion threshold"),
        "{text}"
    );
    assert!(
        rows[3].contains("cli dry-run") && rows[3].contains("users +3"),
        "{text}"
    );

    let run_id = rows[2].split(' ').nth(3).expect("run id column").to_string();
    let output = run_hrsync(&["runs", "--config", config, "--run", &run_id], dir.path());
    let text = squash(&stdout(&output));
    assert!(
        text.contains("1 create-account done 1 create account person1@example.com"),
        "{text}"
    );
    // Every item of a run is listed, skips too, and can be filtered.
    let last_run = rows[0].split(' ').nth(3).expect("run id column").to_string();
    let items = |filter: &[&str]| {
        let mut args = vec!["runs", "--config", config, "--run", &last_run];
        args.extend_from_slice(filter);
        let output = run_hrsync(&args, dir.path());
        assert!(output.status.success(), "{output:?}");
        squash(&stdout(&output))
    };
    let all = items(&[]);
    assert!(
        all.contains("4 skipped skipped 0 excluded: excluded by filter `externals`"),
        "{all}"
    );
    assert!(all.contains("2 deactivate-account done"), "{all}");
    let skipped = items(&["--outcome", "skipped"]);
    assert!(
        skipped.contains("4 skipped skipped") && !skipped.contains("deactivate-account"),
        "{skipped}"
    );
    let of_two = items(&["--employee", "2"]);
    assert!(
        of_two.contains("2 deactivate-account done") && !of_two.contains("skipped skipped"),
        "{of_two}"
    );
    let deactivations = items(&["--kind", "deactivate-account"]);
    assert!(
        deactivations.contains("2 deactivate-account") && !deactivations.contains("skipped skipped"),
        "{deactivations}"
    );

    // Every applied change is in the audit log, and the log is as written.
    let output = run_hrsync(&["audit", "verify", "--config", config], dir.path());
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).contains("audit log intact"), "{}", stdout(&output));
    let database = format!("sqlite://{}", dir.path().join("hrsync.db").display());
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async {
        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&database).await.unwrap();
        let archived: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'change.deactivate-account' AND detail LIKE '%\"hr_id\":\"2\"%'",
        )
        .fetch_one(&raw)
        .await
        .unwrap();
        assert_eq!(archived, 1, "the archive of employee 2 is audited");
        sqlx::query("UPDATE audit_events SET actor = 'someone else' WHERE action = 'change.deactivate-account'")
            .execute(&raw)
            .await
            .unwrap();
    });
    let output = run_hrsync(&["audit", "verify", "--config", config], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("BROKEN at event"), "{}", stdout(&output));
}

#[test]
fn sync_refuses_a_bad_integration_file_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = example_integration(dir.path(), "http://127.0.0.1:9", "http://127.0.0.1:9");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("environment = \"sandbox\"", "environment = \"staging\"");
    std::fs::write(&file, text).unwrap();
    let output = run_hrsync(&["sync", "--config", file.to_str().unwrap()], dir.path());
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("target.config") && stderr.contains("environment"),
        "{stderr}"
    );

    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("environment = \"staging\"", "environment = \"sandbox\"")
        .replace("match = [\"email\"]", "match = [\"email\", \"phone\"]");
    std::fs::write(&file, text).unwrap();
    let output = run_hrsync(&["sync", "--config", file.to_str().unwrap()], dir.path());
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("options.match[1]") && stderr.contains("phone"),
        "{stderr}"
    );

    // An unknown key anywhere is refused the same way.
    let typo = std::fs::read_to_string(&file)
        .unwrap()
        .replace("deletion_threshold_percent = 10", "deletion_threshold_percnt = 10");
    std::fs::write(&file, typo).unwrap();
    let output = run_hrsync(&["sync", "--config", file.to_str().unwrap()], dir.path());
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("deletion_threshold_percnt"), "{stderr}");
    let output = run_hrsync(
        &["rules", "try", "--config", file.to_str().unwrap(), "--employee", "1"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");

    // A rule's config is tried before the run: a date that is no date ...
    let good = std::fs::read_to_string(&file)
        .unwrap()
        .replace("match = [\"email\", \"phone\"]", "match = [\"email\"]")
        .replace("deletion_threshold_percnt", "deletion_threshold_percent");
    let text = good.replace(
        "value = \"external\" }] },",
        "value = \"external\" }] },\n  { name = \"not yet\", all = [{ field = \"hire_date\", op = \"after\", value = \"+30\" }] },",
    );
    std::fs::write(&file, text).unwrap();
    let output = run_hrsync(&["sync", "--config", file.to_str().unwrap(), "--dry-run"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("rules[0].config")
            && stderr.contains("exclude[1].all[0].value")
            && stderr.contains("`+30` is not a date"),
        "{stderr}"
    );
    // ... and a script in its own file that does not compile: the file and
    // its line are named.
    std::fs::write(
        dir.path().join("teams.rhai"),
        "fn teams(e) {\n    let department = e.department;\n    [\"Abteilung \" + department\n}\n",
    )
    .unwrap();
    let script_rule = built_plugin("script_rule");
    let text = format!(
        "{good}\n[[rules]]\nplugin = {:?}\n[rules.config_files]\nscript = \"teams.rhai\"\n",
        script_rule.display().to_string()
    );
    std::fs::write(&file, text).unwrap();
    let output = run_hrsync(&["sync", "--config", file.to_str().unwrap(), "--dry-run"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("rules[2].config")
            && stderr
                .contains("teams.rhai): line 4, column 1: Expecting ',' to separate the items of this array literal"),
        "{stderr}"
    );

    // The integration's time zone is an IANA name.
    let zoned = good.replacen("\n[source]", "\ntimezone = \"Europe/Berln\"\n[source]", 1);
    std::fs::write(&file, zoned).unwrap();
    let output = run_hrsync(&["sync", "--config", file.to_str().unwrap(), "--dry-run"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("timezone: `Europe/Berln` is not an IANA time zone"),
        "{stderr}"
    );
}

#[test]
fn sync_prints_conflicts_and_link_resolves_them() {
    use hrsync_emulators::perks::{Mode, PerksEmulator};
    use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};

    let dir = tempfile::tempdir().unwrap();
    let hr = PersonioEmulator::start("cli-client", "cli-secret-0f1e2d").unwrap();
    let perks = PerksEmulator::start("sk_test_cli_9a8b7c", "sk_live_cli_unused").unwrap();
    // 2 and 3 share a mailbox; 3 has a wallet made by hand under another e-mail.
    hr.upsert((1..=3).map(|id| {
        let mut e = HrEmployee::new(id, &format!("First{id}"), &format!("Last{id}"), "IT");
        e.email = Some(if id == 3 {
            "person2@example.com".into()
        } else {
            format!("person{id}@example.com")
        });
        e.last_modified_ms -= 60_000;
        e
    }));
    let wallet = perks.add_user(Mode::Sandbox, "first3.alias@example.com", "First3", "Last3");
    let file = example_integration(dir.path(), &hr.base_url(), &perks.base_url());
    let config = file.to_str().unwrap();

    let output = run_hrsync(&["sync", "--config", config], dir.path());
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("conflicts 2"), "{text}");
    assert!(
        text.contains("conflicts (fix the data in the HR system, or link by hand: hrsync link):"),
        "{text}"
    );
    assert!(
        squash(&text).contains("3 left as is: e-mail person2@example.com is also the e-mail of employee 2"),
        "{text}"
    );
    assert_eq!(perks.users(Mode::Sandbox).len(), 2, "person 1 and the hand-made wallet");

    let link = |employee: &str, account: &str| {
        run_hrsync(
            &["link", "--config", config, "--employee", employee, "--account", account],
            dir.path(),
        )
    };
    let refused = link("3", "no-such-wallet");
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not exist in the target app"));
    let linked = link("3", &wallet);
    assert!(linked.status.success(), "{}", String::from_utf8_lossy(&linked.stderr));
    assert!(stdout(&linked).contains(&format!("employee 3 is linked by hand to account {wallet}")));

    // No --full: a link makes the next run read everyone.
    let output = run_hrsync(&["sync", "--config", config], dir.path());
    let text = stdout(&output);
    assert!(text.contains("(full read, 3 employees)"), "{text}");
    assert!(text.contains("conflicts 0"), "{text}");
    assert_eq!(
        perks.users(Mode::Sandbox).len(),
        3,
        "person 2 got a wallet, 3 kept its own"
    );
    assert!(perks.user_by_email(Mode::Sandbox, "first3.alias@example.com").is_some());

    let unlinked = run_hrsync(&["unlink", "--config", config, "--employee", "3"], dir.path());
    assert!(
        unlinked.status.success(),
        "{}",
        String::from_utf8_lossy(&unlinked.stderr)
    );
    let again = run_hrsync(&["unlink", "--config", config, "--employee", "3"], dir.path());
    assert_eq!(again.status.code(), Some(1));
}

#[test]
fn rules_try_shows_each_rules_decision_for_one_employee() {
    use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};

    let dir = tempfile::tempdir().unwrap();
    let hr = PersonioEmulator::start("cli-client", "cli-secret-0f1e2d").unwrap();
    hr.upsert((1..=3).map(|id| {
        let mut e = HrEmployee::new(id, &format!("First{id}"), &format!("Last{id}"), "IT");
        e.email = Some(format!("person{id}@example.com"));
        if id == 3 {
            e.employment_type = "external".into();
        }
        e
    }));
    let file = example_integration(dir.path(), &hr.base_url(), "http://127.0.0.1:9");
    std::fs::write(
        dir.path().join("teams.rhai"),
        "fn teams(e) {\n    print(\"placing \" + e.first_name);\n    [\"Abteilung \" + e.department]\n}\n",
    )
    .unwrap();
    let text = format!(
        "{}\n[[rules]]\nplugin = {:?}\n[rules.config_files]\nscript = \"teams.rhai\"\n",
        std::fs::read_to_string(&file).unwrap(),
        built_plugin("script_rule").display().to_string()
    );
    std::fs::write(&file, text).unwrap();
    let config = file.to_str().unwrap();

    let output = run_hrsync(
        &["rules", "try", "--config", config, "--employee", "1", "--employee", "3"],
        dir.path(),
    );
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let one = &text[..text.find("employee 3:").expect("employee 3")];
    let three = &text[text.find("employee 3:").unwrap()..];
    assert!(
        one.starts_with("employee 1: First1 Last1 <person1@example.com>"),
        "{one}"
    );
    assert!(squash(one).contains("rules[0] (scope-rule) keep"), "{one}");
    assert!(
        squash(one).contains("rules[1] (attribute-map) modify: teams []; attributes {department=\"IT\"}"),
        "{one}"
    );
    assert!(
        squash(one).contains("rules[2] (script-rule) modify: teams [Abteilung IT]"),
        "{one}"
    );
    assert!(one.contains("log: placing First1"), "{one}");
    assert!(
        squash(one).contains("→ in scope: account person1@example.com (person1@example.com), teams [Abteilung IT]"),
        "{one}"
    );
    assert!(
        squash(three).contains("rules[0] (scope-rule) exclude: excluded by filter `externals`"),
        "{three}"
    );
    assert!(!three.contains("rules[1]"), "the first exclusion ends it: {three}");
    assert!(three.contains("→ excluded"), "{three}");

    let output = run_hrsync(&["rules", "try", "--config", config, "--employee", "99"], dir.path());
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("employee 99: not among the 3 employees the source returned"),
        "{stderr}"
    );

    // A typo in the script's own file: the error names the rule, the file
    // and the line in it.
    std::fs::write(
        dir.path().join("teams.rhai"),
        "fn teams(e) {\n    [\"Abteilung \" + e.departmnt]\n}\n",
    )
    .unwrap();
    let output = run_hrsync(&["rules", "try", "--config", config, "--employee", "1"], dir.path());
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("rules[2] (script-rule)")
            && stderr.contains("teams.rhai): script error in fn teams, line 2, column 23")
            && stderr.contains("did you mean `department`?"),
        "{stderr}"
    );
}

/// A dry run shows the managers it would link — on a first sync too, where
/// the accounts do not exist yet — and the real run then links as many.
#[test]
fn a_dry_run_counts_the_managers_the_real_run_links() {
    use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};
    use hrsync_emulators::scim::ScimEmulator;

    let dir = tempfile::tempdir().unwrap();
    let hr = PersonioEmulator::start("cli-client", "cli-secret-0f1e2d").unwrap();
    hr.upsert((1..=6).map(|id| {
        let mut e = HrEmployee::new(id, &format!("First{id}"), &format!("Last{id}"), "IT");
        e.email = Some(format!("person{id}@example.com"));
        // 1 leads 2 and 3, who lead the rest.
        e.supervisor_id = match id {
            1 => None,
            2 | 3 => Some(1),
            _ => Some(2 + id % 2),
        };
        e
    }));
    let app = ScimEmulator::start("cli-scim-token-1a2b").unwrap();
    let plugins = built_plugin("personio").parent().unwrap().display().to_string();
    let file = dir.path().join("integration.toml");
    std::fs::write(
        &file,
        format!(
            r#"name = "managers"
[source]
plugin = "{plugins}/personio.wasm"
allowed_hosts = ["{hr}"]
[source.config]
base_url = "{hr}"
[source.secrets]
client-id = {{ env = "PERSONIO_CLIENT_ID" }}
client-secret = {{ env = "PERSONIO_CLIENT_SECRET" }}
[target]
plugin = "{plugins}/scim.wasm"
allowed_hosts = ["{origin}"]
[target.config]
base_url = "{scim}"
[target.secrets]
token = {{ env = "SCIM_TOKEN" }}
"#,
            hr = hr.base_url(),
            origin = app.base_url().trim_end_matches("/scim/v2"),
            scim = app.base_url(),
        ),
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let run = |args: &[&str]| {
        let output = sync_env(&mut Command::new(env!("CARGO_BIN_EXE_hrsync")), dir.path())
            .env("SCIM_TOKEN", "cli-scim-token-1a2b")
            .args(args)
            .output()
            .expect("run hrsync");
        let text = stdout(&output);
        assert!(
            output.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        squash(&text)
    };
    let planned = run(&["sync", "--config", config, "--dry-run"]);
    assert!(planned.contains("managers set 5 cleared 0"), "{planned}");
    assert!(app.users().is_empty(), "a dry run changes nothing");
    let applied = run(&["sync", "--config", config]);
    assert!(applied.contains("managers set 5 cleared 0 (failed 0)"), "{applied}");
}

/// Seed 004: accounts made without the app's invitation are invited later,
/// all that are not yet invited or one employee's again.
#[test]
fn invite_sends_later_the_invitations_accounts_were_created_without() {
    use hrsync_emulators::perks::{Mode, PerksEmulator};
    use hrsync_emulators::personio::{HrEmployee, PersonioEmulator};

    let dir = tempfile::tempdir().unwrap();
    let hr = PersonioEmulator::start("cli-client", "cli-secret-0f1e2d").unwrap();
    let perks = PerksEmulator::start("sk_test_cli_9a8b7c", "sk_live_cli_unused").unwrap();
    hr.upsert((1..=3).map(|id| {
        let mut e = HrEmployee::new(id, &format!("First{id}"), &format!("Last{id}"), "IT");
        e.email = Some(format!("person{id}@example.com"));
        e.last_modified_ms -= 60_000;
        e
    }));
    let file = example_integration(dir.path(), &hr.base_url(), &perks.base_url());
    let edit = |from: &str, to: &str| {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{from}");
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
    };
    edit("invite = true", "invite = false");
    let config = file.to_str().unwrap();
    let invited = |email: &str| perks.user_by_email(Mode::Sandbox, email).expect("wallet")["invited"] == true;

    let output = run_hrsync(&["sync", "--config", config], dir.path());
    assert!(output.status.success(), "{}", stdout(&output));
    assert_eq!(perks.users(Mode::Sandbox).len(), 3);
    assert!(!invited("person1@example.com"), "created without the welcome e-mail");

    let output = run_hrsync(&["invite", "--config", config], dir.path());
    assert_eq!(output.status.code(), Some(2), "whom is required");
    assert!(String::from_utf8_lossy(&output.stderr).contains("--employee"));

    let output = run_hrsync(&["invite", "--config", config, "--all", "--dry-run"], dir.path());
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("would invite employee 2"), "{text}");
    assert!(text.contains("3 invitation(s) due, 0 failed"), "{text}");
    assert_eq!(perks.writes().invites, 0, "a dry run sends nothing");

    let output = run_hrsync(&["invite", "--config", config, "--all"], dir.path());
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("3 invitation(s) sent, 0 failed"), "{text}");
    assert!((1..=3).all(|n| invited(&format!("person{n}@example.com"))));

    // Nobody is left; a new hire created with the invitation is not due either.
    edit("invite = false", "invite = true");
    hr.upsert([HrEmployee::new(4, "First4", "Last4", "IT")]);
    let output = run_hrsync(&["sync", "--config", config], dir.path());
    assert!(output.status.success(), "{}", stdout(&output));
    assert_eq!(perks.writes().invites, 4);
    let output = run_hrsync(&["invite", "--config", config, "--all"], dir.path());
    assert!(stdout(&output).contains("0 invitation(s) sent"), "{}", stdout(&output));
    assert_eq!(perks.writes().invites, 4);

    // One employee's invitation, again; an unknown one is refused by name.
    let output = run_hrsync(&["invite", "--config", config, "--employee", "2"], dir.path());
    assert!(stdout(&output).contains("invited employee 2"), "{}", stdout(&output));
    assert_eq!(perks.writes().invites, 5);
    let output = run_hrsync(&["invite", "--config", config, "--employee", "99"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("employee `99` has no account"));
}
