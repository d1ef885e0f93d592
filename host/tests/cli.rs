//! `hrsync plugin inspect` and `hrsync plugin test`, run as a user would.

use std::path::Path;
use std::process::{Command, Output};

use hrsync::bench::built_plugin;

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
        "wit version:  hrsync:plugin@1.0.0",
        "token (optional)",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }

    let output = hrsync(&["plugin", "inspect", "--json", &plugin("scope_rule")], cache.path());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    assert_eq!(json["manifest"]["kind"], "rule");
    assert_eq!(json["wit_version"], "1.0.0");
}

#[test]
fn inspect_rejects_an_unsupported_wit_version() {
    let cache = tempfile::tempdir().unwrap();
    let output = hrsync(&["plugin", "inspect", &plugin("future_wit")], cache.path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("hrsync:plugin@2.0.0") && stderr.contains("hrsync:plugin@1.0.0"),
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
        text.contains("describe: ok — hostile 1.0.0 (source plugin, WIT 1.0.0)"),
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
        text.contains("test-connection: failed") && text.contains("invalid input in `include[0].all[0].field`"),
        "{text}"
    );
}

#[test]
fn demo_syncs_changes_and_then_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let output = hrsync(&["demo"], cache.path());
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("users created 10, updated 1, deactivated 0 | teams created 3"),
        "{text}"
    );
    assert!(text.contains("no changes: zero writes"), "{text}");
    assert!(text.contains("users created 1, updated 0, deactivated 1"), "{text}");
    assert!(text.contains("excluded by filter `externals`"), "{text}");
    assert!(text.contains("jonas.becker@example.com         INACTIVE"), "{text}");
}
