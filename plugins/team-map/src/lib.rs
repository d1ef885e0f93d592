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
        let config: Config = config()?;
        let mut teams = Vec::new();
        for (i, team) in config.teams.into_iter().enumerate() {
            let name = Template::parse(&team.name)
                .map_err(|e| PluginError::invalid(format!("teams[{i}].name"), e.to_string()))?;
            if name.fields().next().is_none() {
                return Err(PluginError::invalid(
                    format!("teams[{i}].name"),
                    format!("`{}` names no field, so everyone would share one team", team.name),
                ));
            }
            // A team template over fields the source never returns would
            // name no team at all: the host stops such a run.
            for field in name.fields() {
                fields::require(field, &format!("team \"{}\"", team.name));
            }
            let mut only = Vec::new();
            for (field, values) in team.only {
                if !is_known_field(&field) {
                    return Err(PluginError::invalid(
                        format!("teams[{i}].only.{field}"),
                        format!("unknown field `{field}`"),
                    ));
                }
                fields::require(&normalize_field(&field), &format!("team \"{}\" (only)", team.name));
                only.push((
                    normalize_field(&field),
                    values.iter().map(|v| v.to_lowercase()).collect(),
                ));
            }
            teams.push(TeamRule { name, only });
        }
        Ok(Self {
            teams,
            replace: config.replace,
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
