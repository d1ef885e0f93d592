//! Integrators' rules as a [Rhai](https://rhai.rs) script, run inside this
//! component. The script defines any of three functions; each gets the
//! employee as a map (`e.department`, `e.supervisor.last_name`,
//! `e.custom.cost_center`; empty fields are `()`):
//!
//! ```rhai
//! // A reason to exclude the employee, or () to keep them.
//! fn exclude(e) {
//!     if e.employment_type == "external" { return "externals get no wallet"; }
//! }
//! // Team names, added to the teams of earlier rules.
//! fn teams(e) {
//!     let teams = ["Abteilung " + e.department];
//!     if e.supervisor != () {
//!         teams.push(`${e.supervisor.first_name} ${e.supervisor.last_name}s Team`);
//!     }
//!     teams
//! }
//! // Owned account attributes.
//! fn attributes(e) { #{ title: e.job_title } }
//! ```
//!
//! Limits: `max_operations` per call (default 100,000) and `time_limit_ms`
//! per call (default 200), plus caps on string, array and map sizes and call
//! depth; the host's deadline bounds the whole batch. A script that does not
//! compile is refused when the rule starts, with line, column and message.
//! A script that fails for one employee rejects that record only: the
//! employee is left as is this run and the error (function, line, column,
//! message) is reported; everyone else is synced.

use std::cell::Cell;
use std::rc::Rc;

use hrsync_sdk::{
    config, export_rule, log, now_millis, Attribute, AttributeValue, Decision, Employee, PluginError, PluginInfo, Rule,
    Subject,
};
use rhai::{Dynamic, Engine, EvalAltResult, FnAccess, Map, Position, Scope, AST};
use serde::Deserialize;

const DEFAULT_MAX_OPERATIONS: u64 = 100_000;
const DEFAULT_TIME_LIMIT_MS: u64 = 200;
const FUNCTIONS: &[&str] = &["exclude", "teams", "attributes"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    script: String,
    max_operations: Option<u64>,
    time_limit_ms: Option<u64>,
}

struct ScriptRule {
    engine: Engine,
    ast: AST,
    has: [bool; 3],
    /// Milliseconds since the epoch after which the running call stops.
    deadline: Rc<Cell<u64>>,
    time_limit_ms: u64,
}

fn at(position: Position) -> String {
    match (position.line(), position.position()) {
        (Some(line), Some(column)) => format!("line {line}, column {column}"),
        (Some(line), None) => format!("line {line}"),
        _ => "unknown position".into(),
    }
}

fn engine(max_operations: u64, deadline: Rc<Cell<u64>>) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(max_operations);
    engine.set_max_call_levels(32);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_string_size(64 * 1024);
    engine.set_max_array_size(10_000);
    engine.set_max_map_size(10_000);
    // Checking the clock is a host call: every 1,024 operations is enough.
    engine.on_progress(move |operations| {
        if operations % 1024 == 0 && now_millis() > deadline.get() {
            Some(Dynamic::from("time limit"))
        } else {
            None
        }
    });
    engine.on_print(|text| log::info(text));
    engine.on_debug(|text, _, position| log::debug(format!("{}: {text}", at(position))));
    engine
}

fn value(text: Option<std::borrow::Cow<'_, str>>) -> Dynamic {
    match text {
        Some(text) => Dynamic::from(text.into_owned()),
        None => Dynamic::UNIT,
    }
}

/// The employee as the script sees it.
fn employee_map(employee: &Employee) -> Map {
    let mut map = Map::new();
    for field in hrsync_sdk::employee::FIELDS {
        if !field.starts_with("supervisor.") {
            map.insert((*field).into(), value(employee.field(field)));
        }
    }
    map.insert(
        "supervisor".into(),
        match &employee.supervisor {
            None => Dynamic::UNIT,
            Some(_) => {
                let mut supervisor = Map::new();
                for name in ["hr_id", "email", "first_name", "last_name"] {
                    supervisor.insert(name.into(), value(employee.field(&format!("supervisor.{name}"))));
                }
                Dynamic::from_map(supervisor)
            }
        },
    );
    let mut custom = Map::new();
    for attribute in &employee.custom {
        custom.insert(
            attribute.name.as_str().into(),
            Dynamic::from(attribute.value.as_text().into_owned()),
        );
    }
    map.insert("custom".into(), Dynamic::from_map(custom));
    map
}

fn script_error(function: &str, error: &EvalAltResult) -> String {
    let message = match error {
        EvalAltResult::ErrorTooManyOperations(_) => "the script ran out of operations (max_operations)".to_string(),
        EvalAltResult::ErrorTerminated(..) => "the script ran past its time limit (time_limit_ms)".to_string(),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => return script_error(function, inner),
        other => other.to_string(),
    };
    // Rhai appends its own position to some messages; say it once.
    let message = match message.rfind(" (line ") {
        Some(cut) if message.ends_with(')') => message[..cut].to_string(),
        _ => message,
    };
    format!("script error in fn {function}, {}: {message}", at(error.position()))
}

impl ScriptRule {
    fn call(&self, function: &str, employee: &Map) -> Result<Dynamic, String> {
        self.deadline.set(now_millis() + self.time_limit_ms);
        let mut scope = Scope::new();
        self.engine
            .call_fn::<Dynamic>(&mut scope, &self.ast, function, (Dynamic::from_map(employee.clone()),))
            .map_err(|e| script_error(function, &e))
    }

    fn decide(&self, subject: Subject) -> Result<Decision, String> {
        let employee = employee_map(&subject.employee);
        if self.has[0] {
            let reason = self.call("exclude", &employee)?;
            if !reason.is_unit() {
                let excluded = match reason.as_bool() {
                    Ok(flag) => flag.then(|| "excluded by script".to_string()),
                    Err(_) => Some(reason.to_string()).filter(|r| !r.is_empty()),
                };
                if let Some(reason) = excluded {
                    return Ok(Decision::Exclude(reason));
                }
            }
        }
        if !self.has[1] && !self.has[2] {
            return Ok(Decision::Keep);
        }
        let mut desired = subject.desired();
        if self.has[1] {
            let teams = self.call("teams", &employee)?;
            let teams: Vec<Dynamic> = match teams.into_array() {
                Ok(list) => list,
                Err(kind) if kind == "()" => Vec::new(),
                Err(kind) => return Err(format!("fn teams must return an array of names, not {kind}")),
            };
            for team in teams {
                if team.is_unit() {
                    continue;
                }
                let name = team.to_string().trim().to_string();
                if !name.is_empty() && !desired.teams.contains(&name) {
                    desired.teams.push(name);
                }
            }
        }
        if self.has[2] {
            let attributes = self.call("attributes", &employee)?;
            let map = match attributes.try_cast::<Map>() {
                Some(map) => map,
                None => return Err("fn attributes must return a map like #{ title: e.job_title }".into()),
            };
            for (name, value) in map {
                if value.is_unit() {
                    continue;
                }
                desired.attributes.retain(|a| a.name != name.as_str());
                desired.attributes.push(Attribute {
                    name: name.to_string(),
                    value: AttributeValue::Text(value.to_string()),
                });
            }
        }
        Ok(Decision::Modify(desired))
    }
}

impl Rule for ScriptRule {
    fn info() -> PluginInfo {
        PluginInfo::new("script-rule", env!("CARGO_PKG_VERSION"))
            .description("Exclusion, team mapping and attributes as a Rhai script (fn exclude, fn teams, fn attributes)")
            .config_schema(serde_json::json!({
                "type": "object",
                "required": ["script"],
                "additionalProperties": false,
                "properties": {
                    "script": { "type": "string", "description": "Rhai source defining fn exclude(e), fn teams(e) and/or fn attributes(e)" },
                    "max_operations": { "type": "integer", "minimum": 1 },
                    "time_limit_ms": { "type": "integer", "minimum": 1 }
                }
            }))
    }

    fn new() -> Result<Self, PluginError> {
        let config: Config = config()?;
        let deadline = Rc::new(Cell::new(u64::MAX));
        let engine = engine(
            config.max_operations.unwrap_or(DEFAULT_MAX_OPERATIONS),
            deadline.clone(),
        );
        let ast = engine
            .compile(&config.script)
            .map_err(|e| PluginError::invalid("script", format!("{}: {}", at(e.position()), e.err_type())))?;
        let mut has = [false; 3];
        for function in ast.iter_functions() {
            if let Some(slot) = FUNCTIONS.iter().position(|f| *f == function.name) {
                if function.params.len() != 1 || function.access == FnAccess::Private {
                    return Err(PluginError::invalid(
                        "script",
                        format!(
                            "fn {} must take one parameter, the employee: fn {}(e)",
                            function.name, function.name
                        ),
                    ));
                }
                has[slot] = true;
            }
        }
        if !has.iter().any(|h| *h) {
            return Err(PluginError::invalid(
                "script",
                "the script defines none of fn exclude(e), fn teams(e), fn attributes(e)",
            ));
        }
        Ok(Self {
            engine,
            ast,
            has,
            deadline,
            time_limit_ms: config.time_limit_ms.unwrap_or(DEFAULT_TIME_LIMIT_MS),
        })
    }

    fn evaluate_one(&mut self, subject: Subject) -> Decision {
        self.decide(subject).unwrap_or_else(Decision::Reject)
    }
}

export_rule!(ScriptRule);
