//! The mapping rule plugins: attribute mapping, team mapping and the Rhai
//! script rule, each loaded as a component and run on employees.

use hrsync_model::Decision;
use hrsync_model::{AttributeValue, DesiredAccount, PersonRef};
use hrsync_runtime::{RuleSession, Sandbox};
use hrsync_tests::load;
use hrsync_tests::synthetic_subject;
use hrsync_tests::Decide;
use serde_json::json;

fn session(plugin: &str, config: serde_json::Value) -> RuleSession {
    let sandbox = Sandbox {
        config,
        ..Sandbox::default()
    };
    let plugin = load(plugin);
    plugin.validate(&sandbox).expect("config fits the schema");
    plugin.rule(&sandbox).expect("session")
}

/// The rule's error for a bad config, as text.
fn config_error(plugin: &str, config: serde_json::Value) -> String {
    let mut session = load(plugin)
        .rule(&Sandbox {
            config,
            ..Sandbox::default()
        })
        .expect("session");
    session
        .decide(&[synthetic_subject(0)])
        .expect_err("the config is refused")
        .to_string()
}

fn desired(decision: &Decision) -> &DesiredAccount {
    match decision {
        Decision::Modify(desired) => desired,
        other => panic!("expected modify, got {other:?}"),
    }
}

fn attribute<'a>(list: &'a [hrsync_model::Attribute], name: &str) -> Option<&'a str> {
    list.iter().find(|a| a.name == name).map(|a| match &a.value {
        AttributeValue::Text(text) => text.as_str(),
        other => panic!("{name} is not text: {other:?}"),
    })
}

#[test]
fn attribute_map_direct_constant_template_default_and_create_only() {
    let mut rule = session(
        "attribute_map",
        json!({ "attributes": [
            { "target": "title", "from": "job_title" },
            { "target": "role", "value": "employee" },
            { "target": "display_name", "template": "{preferred_name} {last_name}", "default": "{first_name} {last_name}" },
            { "target": "benefits_package", "value": "New Hire", "only_on_create": true },
            { "target": "cost_center", "from": "custom.cost_center", "default": "CC-000" },
            { "target": "office", "from": "office" },
            { "target": "user_name", "template": "{hr_id}@corp.example" }
        ] }),
    );
    let mut with_preferred = synthetic_subject(1);
    with_preferred.employee.preferred_name = Some("Max".into());
    with_preferred.employee.office = None;
    let plain = synthetic_subject(2);
    let decisions = rule.decide(&[with_preferred, plain]).expect("evaluate");

    let first = desired(&decisions[0]);
    assert_eq!(attribute(&first.attributes, "title"), Some("Specialist"));
    assert_eq!(attribute(&first.attributes, "role"), Some("employee"));
    assert_eq!(attribute(&first.attributes, "display_name"), Some("Max Last1"));
    assert_eq!(attribute(&first.attributes, "cost_center"), Some("CC-000"));
    assert_eq!(
        attribute(&first.attributes, "office"),
        None,
        "empty without a default: not owned, the target keeps its value"
    );
    assert_eq!(attribute(&first.create_only, "benefits_package"), Some("New Hire"));
    assert_eq!(attribute(&first.attributes, "benefits_package"), None);
    assert_eq!(first.user_name, "10001@corp.example");
    assert_eq!(first.email.as_deref(), Some("employee1@example.com"), "untouched");

    let second = desired(&decisions[1]);
    assert_eq!(attribute(&second.attributes, "display_name"), Some("First2 Last2"));
    assert_eq!(attribute(&second.attributes, "office"), Some("Madrid"));

    // Config errors name the mapping and the problem.
    let message = config_error(
        "attribute_map",
        json!({ "attributes": [{ "target": "title", "template": "{job_titel}" }] }),
    );
    assert!(
        message.contains("attributes[0].template") && message.contains("job_titel"),
        "{message}"
    );
    let message = config_error(
        "attribute_map",
        json!({ "attributes": [{ "target": "title", "from": "job_title", "value": "x" }] }),
    );
    assert!(message.contains("exactly one"), "{message}");
    let message = config_error(
        "attribute_map",
        json!({ "attributes": [{ "target": "email", "from": "email", "only_on_create": true }] }),
    );
    assert!(message.contains("only_on_create"), "{message}");
}

#[test]
fn team_map_names_teams_from_the_org_chart() {
    let mut rule = session(
        "team_map",
        json!({ "teams": [
            { "name": "Abteilung {department}" },
            { "name": "{supervisor.first_name} {supervisor.last_name}s Team" },
            { "name": "Standort {office}", "only": { "employment_type": ["Internal"] } }
        ] }),
    );
    let mut no_supervisor = synthetic_subject(13); // external
    no_supervisor.employee.supervisor = None;
    let mut no_department = synthetic_subject(4);
    no_department.employee.department = None;
    no_department.employee.supervisor = Some(PersonRef {
        hr_id: "1".into(),
        email: None,
        first_name: Some("Peter".into()),
        last_name: Some("Wright".into()),
    });
    let decisions = rule
        .decide(&[synthetic_subject(20), no_supervisor, no_department])
        .expect("evaluate");
    assert_eq!(
        desired(&decisions[0]).teams,
        ["Abteilung Engineering", "First2 Last2s Team", "Standort Madrid"]
    );
    assert_eq!(
        desired(&decisions[1]).teams,
        ["Abteilung Finance"],
        "external: no office team"
    );
    assert_eq!(
        desired(&decisions[2]).teams,
        ["Peter Wrights Team", "Standort Munich"],
        "no department, no \"Abteilung \" team"
    );

    let message = config_error("team_map", json!({ "teams": [{ "name": "Everyone" }] }));
    assert!(message.contains("teams[0].name"), "{message}");
    let message = config_error("team_map", json!({ "teams": [{ "name": "{departement}" }] }));
    assert!(message.contains("departement"), "{message}");
}

const SCRIPT: &str = r#"
// Externals and test accounts get no account.
fn exclude(e) {
    if e.employment_type == "external" { return "externals are excluded"; }
    if e.email.starts_with("test.") { return "test account"; }
}

fn teams(e) {
    let teams = ["Abteilung " + e.department];
    if e.supervisor != () {
        teams.push(`${e.supervisor.first_name} ${e.supervisor.last_name}s Team`);
    }
    if e.custom.cost_center != () { teams.push("CC " + e.custom.cost_center); }
    teams
}

fn attributes(e) {
    #{ title: e.job_title.to_upper(), office: e.office }
}
"#;

#[test]
fn script_rule_excludes_names_teams_and_maps_attributes() {
    let mut rule = session("script_rule", json!({ "script": SCRIPT }));
    let mut with_custom = synthetic_subject(4);
    with_custom.employee.custom.push(hrsync_model::Attribute {
        name: "cost_center".into(),
        value: AttributeValue::Text("4711".into()),
    });
    let external = synthetic_subject(3);
    let test_account = synthetic_subject(97);
    let decisions = rule.decide(&[with_custom, external, test_account]).expect("evaluate");
    let first = desired(&decisions[0]);
    assert_eq!(first.teams, ["Abteilung Support", "First0 Last0s Team", "CC 4711"]);
    assert_eq!(attribute(&first.attributes, "title"), Some("SPECIALIST"));
    assert_eq!(attribute(&first.attributes, "office"), Some("Munich"));
    assert!(matches!(&decisions[1], Decision::Exclude(r) if r == "externals are excluded"));
    assert!(matches!(&decisions[2], Decision::Exclude(r) if r == "test account"));
}

#[test]
fn script_errors_give_line_and_column() {
    // Does not compile: refused when the rule starts.
    let message = config_error(
        "script_rule",
        json!({ "script": "fn teams(e) {\n    let x = [1, 2;\n    x\n}" }),
    );
    assert!(
        message.contains("script") && message.contains("line 2, column"),
        "{message}"
    );

    let message = config_error("script_rule", json!({ "script": "fn helper(a, b) { a + b }" }));
    assert!(message.contains("defines none of"), "{message}");

    // Fails on one employee: that record is rejected, the others decided.
    let mut rule = session(
        "script_rule",
        json!({ "script": "fn teams(e) {\n  if e.office == \"Madrid\" {\n    throw \"no team for Madrid\";\n  }\n  [e.office]\n}" }),
    );
    let decisions = rule
        .decide(&[synthetic_subject(0), synthetic_subject(2)])
        .expect("evaluate");
    assert_eq!(desired(&decisions[0]).teams, ["Berlin"]);
    match &decisions[1] {
        Decision::Reject(reason) => assert!(
            reason.contains("fn teams") && reason.contains("line 3, column") && reason.contains("no team for Madrid"),
            "{reason}"
        ),
        other => panic!("expected the record rejected, got {other:?}"),
    }
}

#[test]
fn script_limits_stop_runaway_scripts_once_for_the_batch() {
    // A budget spent is a mistake in the script, which every employee
    // would meet: the batch (so the run) stops once, naming the function,
    // rather than rejecting employee after employee at the full cost each.
    let mut rule = session(
        "script_rule",
        json!({ "script": "fn exclude(e) { let n = 0; loop { n += 1; } }", "max_operations": 10000 }),
    );
    let subjects: Vec<_> = (0..50).map(synthetic_subject).collect();
    let error = rule.decide(&subjects).expect_err("the batch stops").to_string();
    assert!(
        error.contains("script error in fn exclude") && error.contains("max_operations"),
        "{error}"
    );
    assert!(
        error.contains("the run stops here rather than for each employee"),
        "{error}"
    );

    let mut rule = session(
        "script_rule",
        json!({ "script": "fn exclude(e) { let n = 0; loop { n += 1; } }", "max_operations": 1000000000, "time_limit_ms": 50 }),
    );
    let started = std::time::Instant::now();
    let error = rule.decide(&subjects).expect_err("the batch stops").to_string();
    assert!(error.contains("time_limit_ms"), "{error}");
    assert!(
        started.elapsed().as_secs() < 10,
        "stopped by the time limit of one call, not of 50"
    );

    // The session is still usable after a runaway script.
    let error = rule
        .decide(&[synthetic_subject(6)])
        .expect_err("stops again")
        .to_string();
    assert!(error.contains("time_limit_ms"), "{error}");
}
