//! An hrsync rule plugin in Rust: puts each employee in a team named after
//! their department ("Abteilung Vertrieb") and leaves out employees without
//! an e-mail address.
//!
//! Build and try it (see sdk/README.md):
//!
//!     cargo build --release --target wasm32-wasip2
//!     cp target/wasm32-wasip2/release/{{crate}}.wasm {{name}}.wasm
//!     hrsync plugin test {{name}}.wasm --config installation.toml --employees employees.json

use hrsync_sdk::{config, export_rule, fields, Decision, PluginError, PluginInfo, Rule, Subject};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    prefix: String,
}

struct DepartmentTeams {
    prefix: String,
}

impl Rule for DepartmentTeams {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", env!("CARGO_PKG_VERSION"))
            .description("Team per department, written in Rust")
            .config_schema(serde_json::json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "prefix": { "type": "string", "description": "put before the department name" }
                }
            }))
    }

    fn new() -> Result<Self, PluginError> {
        let config: Config = config()?;
        // Teams are named after the department: the host stops a run whose
        // source never returns one.
        fields::require("department", &format!("team \"{}{{department}}\"", config.prefix));
        Ok(Self { prefix: config.prefix })
    }

    fn evaluate_one(&mut self, subject: Subject) -> Decision {
        let employee = &subject.employee;
        if employee.email.is_none() {
            return Decision::Exclude(format!("employee {} has no e-mail address", employee.hr_id));
        }
        let Some(department) = employee.department.clone() else {
            return Decision::Keep;
        };
        let mut account = subject.desired();
        account.teams.push(format!("{}{department}", self.prefix));
        Decision::Modify(account)
    }
}

export_rule!(DepartmentTeams);
