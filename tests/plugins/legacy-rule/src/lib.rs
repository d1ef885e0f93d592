//! A rule built against `hrsync:plugin@1.0.0` — the WIT in `wit/` beside
//! this crate is a frozen copy of that version — without the SDK, as a
//! vendor's plugin from before 1.1.0 was built. A host of a later 1.x minor
//! version must load and run it unchanged: it puts everyone in a team
//! "Legacy <department>" and excludes employees without a department.

wit_bindgen::generate!({
    path: "wit",
    world: "rule",
});

use exports::hrsync::plugin::rule_api::{Decision, Guest, Subject};
use hrsync::plugin::types::{DesiredAccount, Manifest, PluginError, PluginKind};

struct Legacy;

impl Guest for Legacy {
    fn describe() -> Manifest {
        Manifest {
            name: "legacy-rule".into(),
            version: "1.0.0".into(),
            kind: PluginKind::Rule,
            description: "Built against hrsync:plugin@1.0.0".into(),
            config_schema: r#"{"type": "object"}"#.into(),
            secrets: vec![],
            requested_hosts: vec![],
        }
    }

    fn evaluate(batch: Vec<Subject>) -> Result<Vec<Decision>, PluginError> {
        Ok(batch
            .into_iter()
            .map(|subject| {
                let employee = &subject.employee;
                let Some(department) = employee.department.clone() else {
                    return Decision::Exclude("no department".into());
                };
                let mut desired = subject.desired.unwrap_or_else(|| DesiredAccount {
                    external_id: employee.hr_id.clone(),
                    user_name: employee.email.clone().unwrap_or_default(),
                    email: employee.email.clone(),
                    first_name: employee.first_name.clone(),
                    last_name: employee.last_name.clone(),
                    attributes: vec![],
                    create_only: vec![],
                    teams: vec![],
                    manager_hr_id: employee.supervisor.as_ref().map(|s| s.hr_id.clone()),
                });
                desired.teams.push(format!("Legacy {department}"));
                Decision::Modify(desired)
            })
            .collect())
    }
}

export!(Legacy);
