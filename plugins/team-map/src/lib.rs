//! Team mapping: the teams an employee belongs to, named by templates over
//! the org chart.
//!
//! ```json
//! { "teams": [
//!     { "name": "Abteilung {department}" },
//!     { "name": "{supervisor.first_name} {supervisor.last_name}s Team" },
//!     { "name": "Standort {office}", "only": { "employment_type": ["internal", "full-time"] } }
//! ] }
//! ```
//!
//! A template whose fields are empty for an employee gives no team (no
//! "Abteilung " for someone without a department). `only` limits a team to
//! employees whose fields have one of the listed values (case-insensitive).
//! Teams of earlier rules are kept unless `replace` is true. The host
//! manages these teams only: teams made by hand in the app are left alone.

use std::collections::BTreeMap;

use hrsync_sdk::employee::{is_known_field, normalize_field};
use hrsync_sdk::template::Template;
use hrsync_sdk::{config, export_rule, fields, Decision, PluginError, PluginInfo, Rule, Subject};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    teams: Vec<TeamConfig>,
    #[serde(default)]
    replace: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamConfig {
    name: String,
    #[serde(default)]
    only: BTreeMap<String, Vec<String>>,
}

struct TeamRule {
    name: Template,
    /// Field → accepted values, lowercased.
    only: Vec<(String, Vec<String>)>,
}

struct TeamMap {
    teams: Vec<TeamRule>,
    replace: bool,
}

impl TeamRule {
    fn team_for(&self, subject: &Subject) -> Option<String> {
        let employee = &subject.employee;
        let admitted = self.only.iter().all(|(field, values)| {
            employee
                .field(field)
                .is_some_and(|v| values.iter().any(|want| v.to_lowercase() == *want))
        });
        if admitted {
            self.name.render(employee)
        } else {
            None
        }
    }
}

/// What compiling tells the host of a field, with a purpose
/// (`fields.require` and `fields.expect` in wit/host.wit).
enum Said<'a> {
    /// A team needs the field.
    Needs(&'a str),
    /// A team's `only` compares the field with these values.
    Compares(&'a str, &'a [String]),
}

/// The rule from its config; `tell` hears each field the teams need and
/// the values they compare fields with.
fn compile(config: Config, tell: &mut dyn FnMut(Said<'_>, &str)) -> Result<TeamMap, PluginError> {
    let mut teams = Vec::new();
    for (i, team) in config.teams.into_iter().enumerate() {
        let name =
            Template::parse(&team.name).map_err(|e| PluginError::invalid(format!("teams[{i}].name"), e.to_string()))?;
        if name.fields().next().is_none() {
            return Err(PluginError::invalid(
                format!("teams[{i}].name"),
                format!("`{}` names no field, so everyone would share one team", team.name),
            ));
        }
        // A team template over fields the source never returns would
        // name no team at all: the host stops such a run.
        for field in name.fields() {
            tell(Said::Needs(field), &format!("team \"{}\"", team.name));
        }
        let mut only = Vec::new();
        for (field, values) in team.only {
            if !is_known_field(&field) {
                return Err(PluginError::invalid(
                    format!("teams[{i}].only.{field}"),
                    format!("unknown field `{field}`"),
                ));
            }
            if values.iter().all(|v| v.trim().is_empty()) {
                return Err(PluginError::invalid(
                    format!("teams[{i}].only.{field}"),
                    "lists no value, so the team would admit no one; list the values, or leave the field out",
                ));
            }
            let purpose = format!("team \"{}\" (only)", team.name);
            tell(Said::Needs(&normalize_field(&field)), &purpose);
            tell(Said::Compares(&normalize_field(&field), &values), &purpose);
            only.push((
                normalize_field(&field),
                values.iter().map(|v| v.to_lowercase()).collect(),
            ));
        }
        teams.push(TeamRule { name, only });
    }
    Ok(TeamMap {
        teams,
        replace: config.replace,
    })
}

impl Rule for TeamMap {
    fn info() -> PluginInfo {
        PluginInfo::new("team-map", env!("CARGO_PKG_VERSION"))
            .description("Teams from department, team, office, supervisor and/or employment type, named by templates")
            .config_schema(serde_json::json!({
                "type": "object",
                "required": ["teams"],
                "additionalProperties": false,
                "properties": {
                    "replace": { "type": "boolean" },
                    "teams": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "additionalProperties": false,
                            "properties": {
                                "name": { "type": "string", "description": "e.g. Abteilung {department}" },
                                "only": {
                                    "type": "object",
                                    "additionalProperties": { "type": "array", "items": { "type": "string" } }
                                }
                            }
                        }
                    }
                }
            }))
    }

    fn new() -> Result<Self, PluginError> {
        compile(config()?, &mut |said, purpose| match said {
            Said::Needs(field) => fields::require(field, purpose),
            Said::Compares(field, values) => fields::expect(field, values, purpose),
        })
    }

    fn evaluate_one(&mut self, subject: Subject) -> Decision {
        let names: Vec<String> = self.teams.iter().filter_map(|t| t.team_for(&subject)).collect();
        let mut desired = subject.desired();
        if self.replace {
            desired.teams.clear();
        }
        for name in names {
            if !desired.teams.contains(&name) {
                desired.teams.push(name);
            }
        }
        Decision::Modify(desired)
    }
}

export_rule!(TeamMap);

#[cfg(test)]
mod tests {
    use super::*;
    use hrsync_sdk::{DesiredAccount, Employee, EmployeeStatus, PersonRef};
    use serde_json::json;

    fn employee() -> Employee {
        Employee {
            hr_id: "42".into(),
            email: Some("juergen.mueller@example.com".into()),
            first_name: "Jürgen".into(),
            last_name: "Müller".into(),
            preferred_name: None,
            status: EmployeeStatus::Active,
            employment_type: Some("Internal".into()),
            job_title: None,
            department: Some("Vertrieb Süd".into()),
            team: Some("".into()),
            office: Some("Köln".into()),
            supervisor: Some(PersonRef {
                hr_id: "7".into(),
                email: None,
                first_name: Some("Zoë".into()),
                last_name: Some("Öztürk".into()),
            }),
            hire_date: None,
            termination_date: None,
            gender: None,
            language: None,
            custom: Vec::new(),
        }
    }

    fn rule(config: serde_json::Value) -> TeamMap {
        let config: Config = serde_json::from_value(config).expect("a team-map config");
        match compile(config, &mut |_, _| {}) {
            Ok(rule) => rule,
            Err(error) => panic!("does not compile: {error:?}"),
        }
    }

    fn compile_error(config: serde_json::Value) -> (String, String) {
        let config: Config = serde_json::from_value(config).expect("a team-map config");
        match compile(config, &mut |_, _| {}) {
            Ok(_) => panic!("compiled"),
            Err(PluginError::InvalidInput(invalid)) => (invalid.field, invalid.message),
            Err(other) => panic!("expected invalid input, got {other:?}"),
        }
    }

    fn desired(rule: &mut TeamMap, subject: Subject) -> DesiredAccount {
        match rule.evaluate_one(subject) {
            Decision::Modify(desired) => desired,
            other => panic!("expected a modified account, got {other:?}"),
        }
    }

    fn teams(config: serde_json::Value, employee: Employee) -> Vec<String> {
        desired(
            &mut rule(config),
            Subject {
                employee,
                desired: None,
            },
        )
        .teams
    }

    #[test]
    fn department_template_names_the_department_team() {
        assert_eq!(
            teams(json!({ "teams": [{ "name": "Abteilung {department}" }] }), employee()),
            ["Abteilung Vertrieb Süd"]
        );
    }

    #[test]
    fn supervisor_template_with_hyphenated_field_names_the_supervisors_team() {
        assert_eq!(
            teams(
                json!({ "teams": [{ "name": "{supervisor.first-name}s Team" }] }),
                employee()
            ),
            ["Zoës Team"]
        );
        assert_eq!(
            teams(
                json!({ "teams": [{ "name": "{supervisor.first_name} {supervisor.last_name}s Team" }] }),
                employee()
            ),
            ["Zoë Öztürks Team"]
        );
    }

    #[test]
    fn a_template_with_an_empty_or_missing_field_gives_no_team() {
        let config = json!({ "teams": [
            { "name": "{supervisor.first_name}s Team" },
            { "name": "Team {team}" },
            { "name": "Abteilung {department}" },
        ] });
        let mut orphan = employee();
        orphan.supervisor = None;
        orphan.department = None;
        assert!(teams(config.clone(), orphan.clone()).is_empty());
        // A blank department is no department: no team "Abteilung".
        orphan.department = Some("   ".into());
        assert!(teams(config, orphan).is_empty());
    }

    #[test]
    fn literal_braces_and_surrounding_spaces_in_templates() {
        assert_eq!(
            teams(
                json!({ "teams": [{ "name": "  {{{office}}} Standort  " }] }),
                employee()
            ),
            ["{Köln} Standort"]
        );
    }

    #[test]
    fn only_admits_employees_whose_field_has_a_listed_value_ignoring_case() {
        let config = |values: serde_json::Value| json!({ "teams": [{ "name": "Standort {office}", "only": { "employment-type": values } }] });
        assert_eq!(
            teams(config(json!(["internal", "full-time"])), employee()),
            ["Standort Köln"]
        );
        assert_eq!(teams(config(json!(["INTERNAL"])), employee()), ["Standort Köln"]);
        assert!(teams(config(json!(["external"])), employee()).is_empty());
        let mut without = employee();
        without.employment_type = None;
        assert!(teams(config(json!(["internal"])), without).is_empty());
    }

    #[test]
    fn every_only_field_must_match() {
        let config = json!({ "teams": [{ "name": "Standort {office}", "only": {
            "employment_type": ["internal"],
            "department": ["vertrieb süd", "einkauf"],
        } }] });
        assert_eq!(teams(config.clone(), employee()), ["Standort Köln"]);
        let mut other = employee();
        other.department = Some("IT".into());
        assert!(teams(config, other).is_empty());
    }

    #[test]
    fn teams_of_earlier_rules_are_kept_and_names_are_not_repeated() {
        let mut rule = rule(json!({ "teams": [
            { "name": "Abteilung {department}" },
            { "name": "Abteilung {department}" },
            { "name": "Standort {office}" },
        ] }));
        let mut earlier = DesiredAccount::for_employee(&employee());
        earlier.teams = vec!["Alle".into(), "Standort Köln".into()];
        let subject = Subject {
            employee: employee(),
            desired: Some(earlier),
        };
        assert_eq!(
            desired(&mut rule, subject).teams,
            ["Alle", "Standort Köln", "Abteilung Vertrieb Süd"]
        );
    }

    #[test]
    fn replace_drops_the_teams_of_earlier_rules() {
        let mut rule = rule(json!({ "replace": true, "teams": [{ "name": "Abteilung {department}" }] }));
        let mut earlier = DesiredAccount::for_employee(&employee());
        earlier.teams = vec!["Alle".into()];
        let subject = Subject {
            employee: employee(),
            desired: Some(earlier),
        };
        assert_eq!(desired(&mut rule, subject).teams, ["Abteilung Vertrieb Süd"]);
    }

    #[test]
    fn without_earlier_rules_the_default_account_gets_the_teams() {
        let mut rule = rule(json!({ "teams": [{ "name": "Abteilung {department}" }] }));
        let desired = desired(
            &mut rule,
            Subject {
                employee: employee(),
                desired: None,
            },
        );
        assert_eq!(desired.external_id, "42");
        assert_eq!(desired.user_name, "juergen.mueller@example.com");
        assert_eq!(desired.manager_hr_id.as_deref(), Some("7"));
        assert_eq!(desired.teams, ["Abteilung Vertrieb Süd"]);
    }

    #[test]
    fn an_unknown_field_in_a_template_is_refused_naming_it_and_its_position() {
        let (field, message) = compile_error(json!({ "teams": [
            { "name": "Abteilung {department}" },
            { "name": "Abteilung {abteilung}" },
        ] }));
        assert_eq!(field, "teams[1].name");
        assert_eq!(message, "unknown field `abteilung` at character 11");
    }

    #[test]
    fn malformed_templates_are_refused() {
        let (field, message) = compile_error(json!({ "teams": [{ "name": "Abteilung {department" }] }));
        assert_eq!(field, "teams[0].name");
        assert_eq!(message, "`{` at character 11 is not closed");
        let (_, message) = compile_error(json!({ "teams": [{ "name": "Team} {department}" }] }));
        assert!(message.starts_with("`}` at character 5 has no `{`"), "{message}");
    }

    #[test]
    fn a_template_without_fields_is_refused_as_one_team_for_everyone() {
        let (field, message) = compile_error(json!({ "teams": [{ "name": "Alle {{Mitarbeiter}}" }] }));
        assert_eq!(field, "teams[0].name");
        assert_eq!(
            message,
            "`Alle {{Mitarbeiter}}` names no field, so everyone would share one team"
        );
    }

    #[test]
    fn an_unknown_only_field_is_refused_naming_it() {
        let (field, message) =
            compile_error(json!({ "teams": [{ "name": "{office}", "only": { "contract": ["x"] } }] }));
        assert_eq!(field, "teams[0].only.contract");
        assert_eq!(message, "unknown field `contract`");
    }

    #[test]
    fn compiling_requires_the_template_and_only_fields_for_each_team() {
        let config: Config = serde_json::from_value(json!({ "teams": [
            { "name": "{supervisor.first-name} {supervisor.last_name}s Team" },
            { "name": "Standort {office}", "only": { "employment-type": ["internal"] } },
        ] }))
        .expect("a config");
        let (mut required, mut compared) = (Vec::new(), Vec::new());
        compile(config, &mut |said, purpose| match said {
            Said::Needs(field) => required.push(format!("{field} for {purpose}")),
            Said::Compares(field, values) => compared.push(format!("{field} with {values:?} for {purpose}")),
        })
        .expect("compiles");
        assert_eq!(
            compared,
            ["employment_type with [\"internal\"] for team \"Standort {office}\" (only)"]
        );
        assert_eq!(
            required,
            [
                "supervisor.first_name for team \"{supervisor.first-name} {supervisor.last_name}s Team\"",
                "supervisor.last_name for team \"{supervisor.first-name} {supervisor.last_name}s Team\"",
                "office for team \"Standort {office}\"",
                "employment_type for team \"Standort {office}\" (only)",
            ]
        );
    }

    #[test]
    fn an_only_without_values_is_refused() {
        let (field, message) =
            compile_error(json!({ "teams": [{ "name": "{office}", "only": { "department": [] } }] }));
        assert_eq!(field, "teams[0].only.department");
        assert!(message.contains("admit no one"), "{message}");
    }

    #[test]
    fn config_needs_teams_and_refuses_unknown_keys() {
        for config in [
            json!({}),
            json!({ "teams": [{ "name": "{office}", "when": {} }] }),
            json!({ "teams": [], "mode": "replace" }),
            json!({ "teams": [{ "name": "{office}", "only": { "office": "Köln" } }] }),
        ] {
            assert!(serde_json::from_value::<Config>(config.clone()).is_err(), "{config}");
        }
    }
}
