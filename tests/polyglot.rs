//! A plugin written in Python (componentize-py) against the same WIT loads
//! and runs like a Rust one.

use hrsync_model::Decision;
use hrsync_model::PluginKind;
use hrsync_runtime::{CallError, Sandbox};
use hrsync_tests::load;
use hrsync_tests::synthetic_subject;
use hrsync_tests::Decide;

#[test]
fn python_rule_loads_and_evaluates() {
    let plugin = load("python_rule");
    assert_eq!(plugin.kind(), PluginKind::Rule);
    assert_eq!(plugin.manifest().name, "python-department-teams");

    let sandbox = Sandbox {
        config: serde_json::json!({ "prefix": "Abteilung " }),
        ..Sandbox::default()
    };
    plugin
        .validate(&sandbox)
        .expect("config fits the Python plugin's schema");
    let mut session = plugin.rule(&sandbox).expect("session");
    let mut batch: Vec<_> = (0..3).map(synthetic_subject).collect();
    batch[2].employee.email = None;
    let decisions = session.decide(&batch).expect("evaluate");
    assert_eq!(decisions.len(), 3);
    match &decisions[0] {
        Decision::Modify(desired) => {
            assert_eq!(desired.teams, vec!["Abteilung Engineering".to_string()])
        }
        other => panic!("expected keep, got {other:?}"),
    }
    match &decisions[1] {
        Decision::Modify(desired) => assert_eq!(desired.teams, vec!["Abteilung Sales".to_string()]),
        other => panic!("expected keep, got {other:?}"),
    }
    assert!(
        matches!(&decisions[2], Decision::Exclude(reason) if reason.contains("no e-mail")),
        "{:?}",
        decisions[2]
    );

    // The instance is reused: a second batch on the same session works.
    assert_eq!(session.decide(&batch[..1]).expect("second batch").len(), 1);

    // A bad config is the plugin's typed error, naming the field.
    let bad = Sandbox {
        config: serde_json::json!({ "prefix": 7 }),
        ..Sandbox::default()
    };
    let error = plugin.rule(&bad).unwrap().decide(&batch).expect_err("bad prefix");
    assert!(error.to_string().contains("prefix"), "{error}");

    // A config that is not an object (the host's schema check would refuse
    // it; given to the session directly) is hrsync-sdk's typed error, not
    // a crash.
    let odd = Sandbox {
        config: serde_json::json!(["not", "an", "object"]),
        ..Sandbox::default()
    };
    let error = plugin.rule(&odd).unwrap().decide(&batch).expect_err("a list");
    assert!(
        matches!(error.plugin_error(), Some(hrsync_model::PluginError::InvalidInput(f)) if f.field == "config"),
        "{error}"
    );
}

/// A Python plugin without the SDK whose exception escapes: the host reads
/// the traceback componentize-py printed and names the exception, its
/// message and the plugin's lines — not "wasm `unreachable` executed".
#[test]
fn an_uncaught_python_exception_is_named_with_its_lines() {
    let plugin = load("python_crash");
    let mut session = plugin.rule(&Sandbox::default()).expect("session");
    let mut batch: Vec<_> = (0..2).map(synthetic_subject).collect();
    batch[1].employee.department = None;
    let error = session.decide(&batch).expect_err("raises");
    let CallError::Exception {
        exception, function, ..
    } = &error
    else {
        panic!("expected the exception, got {error}")
    };
    assert_eq!(*function, "evaluate");
    assert!(
        exception.starts_with("uncaught KeyError: 'identifier' (app.py line ")
            && exception.contains(", in team_of; app.py line ")
            && exception.ends_with(", in evaluate)"),
        "{error}"
    );
    assert!(!error.to_string().contains("unreachable"), "{error}");
}

/// The JavaScript template (componentize-js) against the same WIT.
#[test]
fn javascript_rule_loads_and_evaluates() {
    let plugin = load("js_rule");
    assert_eq!(plugin.kind(), PluginKind::Rule);
    assert_eq!(plugin.manifest().name, "js-exclude-types");

    let sandbox = Sandbox {
        config: serde_json::json!({ "excluded_types": ["External"] }),
        ..Sandbox::default()
    };
    let mut session = plugin.rule(&sandbox).expect("session");
    // synthetic_subject(3) is external, the others internal.
    let batch: Vec<_> = (0..5).map(synthetic_subject).collect();
    let decisions = session.decide(&batch).expect("evaluate");
    assert_eq!(decisions.len(), 5);
    for (i, decision) in decisions.iter().enumerate() {
        if i == 3 {
            assert!(
                matches!(decision, Decision::Exclude(reason) if reason.contains("external")),
                "{decision:?}"
            );
        } else {
            assert!(matches!(decision, Decision::Keep), "{i}: {decision:?}");
        }
    }

    // Valid JSON for the schema check is still checked by the plugin itself,
    // and its typed error names the field.
    let bad = Sandbox {
        config: serde_json::json!({ "excluded_types": [1] }),
        ..Sandbox::default()
    };
    let error = plugin.rule(&bad).unwrap().decide(&batch).expect_err("bad types");
    assert!(
        matches!(error.plugin_error(), Some(hrsync_model::PluginError::InvalidInput(f)) if f.field == "excluded_types"),
        "{error}"
    );
}
