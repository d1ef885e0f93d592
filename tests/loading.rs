//! Loading components: WIT version checks before compiling, the on-disk
//! cache and its recovery, manifests and config validation.

use std::fs;

use hrsync_runtime::cache::CacheOutcome;
use hrsync_runtime::version::VersionError;
use hrsync_runtime::{ConfigError, LoadError, Runtime, RuntimeOptions, Sandbox};
use hrsync_tests::Decide;
use hrsync_tests::{load, plugin_bytes};

/// A runtime that keeps no plugin in memory, so every load goes through
/// the on-disk cache these tests are about.
fn fresh_runtime(dir: &std::path::Path) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.to_path_buf()),
        loaded_max_bytes: 0,
        ..RuntimeOptions::default()
    })
    .expect("runtime")
}

fn cache_entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .collect();
    entries.sort();
    entries
}

#[test]
fn the_cache_folder_keeps_to_its_cap_dropping_the_least_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    let (scope, team, attributes) = (
        plugin_bytes("scope_rule"),
        plugin_bytes("team_map"),
        plugin_bytes("attribute_map"),
    );
    // Measure the entries, then cap the folder so that scope-rule and
    // attribute-map fit, and all three do not.
    let probe = tempfile::tempdir().unwrap();
    let probe_runtime = fresh_runtime(probe.path());
    let size = |bytes: &[u8]| {
        probe_runtime.load(bytes).unwrap();
        fs::metadata(probe_runtime.cache_entry(bytes).unwrap()).unwrap().len()
    };
    let (scope_size, team_size, attributes_size) = (size(&scope), size(&team), size(&attributes));
    let cap = scope_size + attributes_size + team_size / 2;
    assert!(scope_size + team_size <= cap, "the first two fit");
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        loaded_max_bytes: 0,
        cache_max_bytes: cap,
        ..RuntimeOptions::default()
    })
    .unwrap();
    runtime.load(&scope).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    runtime.load(&team).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // A hit makes scope-rule the most recently used ...
    assert_eq!(runtime.load(&scope).unwrap().cache_outcome(), &CacheOutcome::Hit);
    std::thread::sleep(std::time::Duration::from_millis(20));
    // ... so the third entry pushes team-map out.
    runtime.load(&attributes).unwrap();
    let total: u64 = cache_entries(dir.path())
        .iter()
        .map(|path| fs::metadata(path).unwrap().len())
        .sum();
    assert!(total <= cap, "{total} bytes, over the cap of {cap}");
    assert!(runtime.cache_entry(&scope).unwrap().exists(), "recently used: kept");
    assert!(
        !runtime.cache_entry(&team).unwrap().exists(),
        "least recently used: evicted"
    );
    assert!(runtime.cache_entry(&attributes).unwrap().exists(), "just written: kept");
    assert_eq!(runtime.load(&team).unwrap().cache_outcome(), &CacheOutcome::Miss);
}

/// A vendor rebuilds one file over and over: the cache keeps the entry of
/// its latest build, not one per build (issue 13: +34 MiB per Python
/// rebuild). Another file keeps its own.
#[test]
fn a_rebuilt_plugin_file_replaces_its_cache_entry() {
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let runtime = fresh_runtime(cache.path());
    let mine = work.path().join("my_plugin.wasm");
    let other = work.path().join("other.wasm");
    fs::write(&other, plugin_bytes("team_map")).unwrap();
    runtime.load_file(&other).expect("other");

    fs::write(&mine, plugin_bytes("scope_rule")).unwrap();
    let first = runtime.load_file(&mine).expect("first build");
    assert_eq!(cache_entries(cache.path()).len(), 2);
    // The "rebuild": different bytes at the same path.
    fs::write(&mine, plugin_bytes("attribute_map")).unwrap();
    let second = runtime.load_file(&mine).expect("second build");
    assert_ne!(first.content_hash(), second.content_hash());
    let entries = cache_entries(cache.path());
    assert_eq!(entries.len(), 2, "{entries:?}");
    let names: Vec<String> = entries
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.starts_with(second.content_hash())), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with(first.content_hash())), "{names:?}");
    // Loading the same build again keeps it.
    runtime.load_file(&mine).expect("again");
    assert_eq!(cache_entries(cache.path()).len(), 2);
}

#[test]
fn plugins_stay_loaded_in_memory_up_to_their_cap() {
    let (scope, team) = (plugin_bytes("scope_rule"), plugin_bytes("team_map"));
    let roomy = Runtime::new(RuntimeOptions::default()).unwrap();
    let first = roomy.load(&scope).unwrap();
    assert_eq!(first.cache_outcome(), &CacheOutcome::Disabled);
    roomy.load(&team).unwrap();
    let (count, bytes) = roomy.loaded();
    assert_eq!(count, 2);
    assert!(bytes > 0);
    // Kept: the same plugin again is the loaded one, not a new compile.
    let again = roomy.load(&scope).unwrap();
    assert_eq!(again.content_hash(), first.content_hash());
    assert_eq!(roomy.loaded().0, 2);

    // Room for either, not both: the least recently used goes.
    let size_of = |bytes: &[u8]| {
        let alone = Runtime::new(RuntimeOptions::default()).unwrap();
        alone.load(bytes).unwrap();
        alone.loaded().1
    };
    let (scope_size, team_size) = (size_of(&scope), size_of(&team));
    assert_eq!(scope_size + team_size, bytes);
    let one = Runtime::new(RuntimeOptions {
        loaded_max_bytes: scope_size.max(team_size) + scope_size.min(team_size) / 2,
        ..RuntimeOptions::default()
    })
    .unwrap();
    one.load(&scope).unwrap();
    one.load(&team).unwrap();
    assert_eq!(
        one.loaded(),
        (1, team_size),
        "scope-rule, used least recently, was unloaded"
    );
    // Nothing kept when the cap is zero.
    let none = Runtime::new(RuntimeOptions {
        loaded_max_bytes: 0,
        ..RuntimeOptions::default()
    })
    .unwrap();
    none.load(&scope).unwrap();
    assert_eq!(none.loaded(), (0, 0));
}

#[test]
fn a_newer_wit_major_version_is_rejected_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = fresh_runtime(dir.path());
    let bytes = plugin_bytes("future_wit");
    let error = match runtime.load(&bytes) {
        Err(error) => error,
        Ok(_) => panic!("a 2.0.0 plugin must not load"),
    };
    assert!(
        matches!(&error, LoadError::Version(VersionError::Unsupported { found }) if found.major == 2),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("hrsync:plugin@2.0.0") && message.contains("hrsync:plugin@1.2.0"),
        "{message}"
    );
    // Rejected before compiling: nothing was cached.
    assert!(!runtime.cache_entry(&bytes).unwrap().exists());
}

#[test]
fn non_components_are_rejected_with_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = fresh_runtime(dir.path());
    let not_wasm = runtime.load(b"#!/bin/sh\necho hi\n").err().expect("not wasm");
    assert!(not_wasm.to_string().contains("not a WebAssembly file"), "{not_wasm}");
    let core = runtime.load(b"\0asm\x01\0\0\0").err().expect("core module");
    assert!(core.to_string().contains("core WebAssembly module"), "{core}");
}

#[test]
fn cache_hits_and_recovers_from_corrupt_truncated_and_foreign_entries() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = fresh_runtime(dir.path());
    let bytes = plugin_bytes("scope_rule");
    let entry = runtime.cache_entry(&bytes).unwrap();

    assert_eq!(runtime.load(&bytes).unwrap().cache_outcome(), &CacheOutcome::Miss);
    assert!(entry.exists());
    assert_eq!(runtime.load(&bytes).unwrap().cache_outcome(), &CacheOutcome::Hit);

    // Flip bytes in the middle of the compiled code.
    let mut file = fs::read(&entry).unwrap();
    let middle = file.len() / 2;
    for byte in &mut file[middle..middle + 64] {
        *byte ^= 0x5a;
    }
    fs::write(&entry, &file).unwrap();
    let plugin = runtime.load(&bytes).expect("recompiled");
    assert!(
        matches!(plugin.cache_outcome(), CacheOutcome::Recovered(reason) if reason.contains("checksum")),
        "{:?}",
        plugin.cache_outcome()
    );
    let mut session = plugin.rule(&Sandbox::default()).unwrap();
    assert!(session.decide(&[]).is_ok(), "the recompiled plugin works");
    assert_eq!(
        runtime.load(&bytes).unwrap().cache_outcome(),
        &CacheOutcome::Hit,
        "the entry was rewritten"
    );

    // Truncated.
    let file = fs::read(&entry).unwrap();
    fs::write(&entry, &file[..40]).unwrap();
    assert!(matches!(
        runtime.load(&bytes).unwrap().cache_outcome(),
        CacheOutcome::Recovered(_)
    ));

    // Foreign: a valid entry written by another cache (another key).
    let other_dir = tempfile::tempdir().unwrap();
    let other = fresh_runtime(other_dir.path());
    other.load(&bytes).unwrap();
    fs::copy(other.cache_entry(&bytes).unwrap(), &entry).unwrap();
    let plugin = runtime.load(&bytes).unwrap();
    assert!(
        matches!(plugin.cache_outcome(), CacheOutcome::Recovered(reason) if reason.contains("another cache")),
        "{:?}",
        plugin.cache_outcome()
    );

    // Not a cache entry at all.
    fs::write(&entry, b"garbage").unwrap();
    assert!(
        matches!(runtime.load(&bytes).unwrap().cache_outcome(), CacheOutcome::Recovered(reason) if reason.contains("not an hrsync"))
    );
}

#[test]
fn manifest_comes_from_describe() {
    let plugin = load("scope_rule");
    let manifest = plugin.manifest();
    assert_eq!(manifest.name, "scope-rule");
    assert_eq!(manifest.kind, "rule");
    assert_eq!(plugin.wit_version().to_string(), "1.2.0");
    assert!(manifest.config_schema["properties"]["exclude"].is_object());

    let hostile = load("hostile");
    assert_eq!(hostile.manifest().kind, "source");
    assert_eq!(hostile.manifest().secrets[0].name, "token");
}

#[test]
fn config_is_validated_against_the_schema_naming_the_field() {
    let plugin = load("scope_rule");
    let bad = Sandbox {
        config: serde_json::json!({ "exclude": [{ "all": [{ "field": "department", "op": "sounds_like" }] }] }),
        ..Sandbox::default()
    };
    let errors = plugin.validate(&bad).expect_err("invalid op");
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, ConfigError::Field { field, .. } if field == "exclude.0.all.0.op")),
        "{errors:?}"
    );
    let unknown = Sandbox {
        config: serde_json::json!({ "includes": [] }),
        ..Sandbox::default()
    };
    let errors = plugin.validate(&unknown).expect_err("unknown key");
    assert!(errors[0].to_string().contains("includes"), "{errors:?}");
}

#[test]
fn rule_config_errors_from_the_plugin_name_the_field() {
    // Valid against the schema, but the plugin finds the field unknown.
    let plugin = load("scope_rule");
    let sandbox = Sandbox {
        config: serde_json::json!({ "exclude": [{ "all": [{ "field": "shoe_size", "op": "is_empty" }] }] }),
        ..Sandbox::default()
    };
    let error = plugin.rule(&sandbox).unwrap().decide(&[]).expect_err("unknown field");
    let message = error.to_string();
    assert!(
        message.contains("exclude[0].all[0].field") && message.contains("shoe_size"),
        "{message}"
    );
}

#[test]
fn on_demand_allocation_serves_when_pooling_is_off() {
    let runtime = Runtime::new(RuntimeOptions {
        pooling: false,
        ..RuntimeOptions::default()
    })
    .expect("runtime");
    assert!(!runtime.pooling());
    let plugin = runtime.load(&plugin_bytes("scope_rule")).expect("load");
    assert_eq!(plugin.cache_outcome(), &CacheOutcome::Disabled);
    let mut session = plugin.rule(&Sandbox::default()).expect("session");
    assert!(session.decide(&[]).expect("evaluate").is_empty());
}

/// The instance pool grows with the runs the process holds at once: a
/// server with 60 run slots (`hrsync serve --max-concurrent-runs 60`) has
/// room for five plugin instances of each, beyond the pool of 40 runs a
/// default runtime keeps (there the 201st instance is refused).
#[test]
fn the_instance_pool_has_room_for_every_run_slot() {
    let bytes = plugin_bytes("scope_rule");
    let sized = Runtime::new(RuntimeOptions {
        concurrent_runs: 60,
        ..RuntimeOptions::default()
    })
    .expect("runtime");
    assert!(sized.pooling(), "this test is about the pooling allocator");
    let plugin = sized.load(&bytes).expect("load");
    let sessions: Vec<_> = (0..300)
        .map(|n| {
            plugin
                .rule(&Sandbox::default())
                .unwrap_or_else(|e| panic!("instance {n} of 300: {e}"))
        })
        .collect();
    assert_eq!(sessions.len(), 300);

    let default = Runtime::new(RuntimeOptions::default()).expect("runtime");
    let plugin = default.load(&bytes).expect("load");
    let mut held = Vec::new();
    let refused = (0..300).find_map(|n| match plugin.rule(&Sandbox::default()) {
        Ok(session) => {
            held.push(session);
            None
        }
        Err(_) => Some(n),
    });
    assert_eq!(refused, Some(200), "a default pool holds 40 runs × 5 instances");
}

/// A plugin built against an older minor version of the WIT (1.0.0, a
/// frozen copy in tests/plugins/legacy-rule/wit) loads and runs unchanged:
/// it imports none of what 1.1.0 added, and its exports are found under
/// their 1.0.0 names.
#[test]
fn a_plugin_built_for_an_older_minor_version_keeps_working() {
    use hrsync_model::Decision;
    use hrsync_model::Subject;
    use hrsync_model::{Employee, EmployeeStatus};
    let legacy = load("legacy_rule");
    assert_eq!(legacy.wit_version().to_string(), "1.0.0");
    assert_eq!(legacy.manifest().name, "legacy-rule");
    let mut session = legacy
        .rule(&Sandbox::default())
        .expect("a 1.0.0 rule starts on this host");
    let employee = |hr_id: &str, department: Option<&str>| Subject {
        employee: Employee {
            hr_id: hr_id.into(),
            email: Some(format!("e{hr_id}@example.com")),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            preferred_name: None,
            status: EmployeeStatus::Active,
            employment_type: None,
            job_title: None,
            department: department.map(str::to_string),
            team: None,
            office: None,
            supervisor: None,
            hire_date: None,
            termination_date: None,
            gender: None,
            language: None,
            custom: vec![],
        },
        desired: None,
    };
    let decisions = session
        .decide(&[employee("1", Some("IT")), employee("2", None)])
        .expect("evaluate");
    match &decisions[0] {
        Decision::Modify(desired) => assert_eq!(desired.teams, ["Legacy IT"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(decisions[1], Decision::Exclude("no department".into()));
    assert!(session.field_reports().required.is_empty(), "1.0.0 has no `fields`");
}
