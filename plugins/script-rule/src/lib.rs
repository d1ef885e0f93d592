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
//! message) is reported; everyone else is synced. Reading a field the
//! employee map does not have (`e.departmnt`), or running out of
//! operations or time, is not such a failure but a mistake in the script:
//! it stops the run once, before anything is written, naming the function
//! and line (and for a field, the nearest field names). Custom
//! attributes an employee lacks read as `()` (`e.custom.cost_center`).
//!
//! Dates are text, `YYYY-MM-DD`, so they compare with `<` and `>`:
//! `today()` (once per run, in the config's `time_zone`; the integration's
//! time zone by default),
//! `date("+30d")` (also `-2w`, `+3m`, `-1y`, `today`, `2026-12-31`),
//! `parse_date(text)` (a date or date-time's date; `()` when not a date),
//! `add_days(date, n)` and `days_between(from, to)` (`to` − `from`, in days).
//!
//! ```rhai
//! fn exclude(e) {
//!     if e.hire_date != () && e.hire_date > date("+30d") { return "starts in more than 30 days"; }
//! }
//! ```

use std::cell::Cell;
use std::rc::Rc;

use hrsync_sdk::time::{self, date_of, NaiveDate};
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
    /// The time zone of `today()` (IANA name).
    time_zone: Option<String>,
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
    /// Milliseconds since the epoch: the host's clock.
    clock: fn() -> u64,
}

fn at(position: Position) -> String {
    match (position.line(), position.position()) {
        (Some(line), Some(column)) => format!("line {line}, column {column}"),
        (Some(line), None) => format!("line {line}"),
        _ => "unknown position".into(),
    }
}

/// An employee's custom attributes: `e.custom.<name>` or
/// `e.custom["Cost center"]`, `()` for one this employee lacks (custom
/// attributes differ from employee to employee, unlike the fields).
#[derive(Clone)]
struct CustomFields(Map);

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// A date argument of a date function, or the script's error naming it.
fn date_arg(function: &str, text: &str) -> Fallible<NaiveDate> {
    date_of(text).ok_or_else(|| format!("{function}: `{text}` is not a date (YYYY-MM-DD)").into())
}

/// `today()`, `date(..)`, `parse_date(..)`, `add_days(..)`,
/// `days_between(..)`: dates as `YYYY-MM-DD` text, `today` fixed for the run.
fn register_dates(engine: &mut Engine, today: NaiveDate) {
    engine
        .register_fn("today", move || today.to_string())
        .register_fn("date", move |spec: &str| -> Fallible<String> {
            time::resolve_date(spec, today)
                .map(|d| d.to_string())
                .map_err(|e| format!("date: {e}").into())
        })
        .register_fn("parse_date", |text: &str| -> Dynamic {
            date_of(text).map_or(Dynamic::UNIT, |d| Dynamic::from(d.to_string()))
        })
        .register_fn("add_days", |date: &str, days: i64| -> Fallible<String> {
            let start = date_arg("add_days", date)?;
            start
                .checked_add_signed(chrono_days(days))
                .map(|d| d.to_string())
                .ok_or_else(|| format!("add_days: {days} days from {date} is beyond the calendar").into())
        })
        .register_fn("days_between", |from: &str, to: &str| -> Fallible<i64> {
            Ok((date_arg("days_between", to)? - date_arg("days_between", from)?).num_days())
        });
}

/// `days` as a duration, clamped to what a calendar can hold.
fn chrono_days(days: i64) -> hrsync_sdk::time::TimeDelta {
    hrsync_sdk::time::TimeDelta::try_days(days).unwrap_or(hrsync_sdk::time::TimeDelta::MAX)
}

fn engine(max_operations: u64, deadline: Rc<Cell<u64>>, clock: fn() -> u64, today: NaiveDate) -> Engine {
    let mut engine = Engine::new();
    register_dates(&mut engine, today);
    // A typo in a field name is an error, not a silent `()`.
    engine.set_fail_on_invalid_map_property(true);
    engine
        .register_type_with_name::<CustomFields>("custom")
        .register_indexer_get(|custom: &mut CustomFields, name: &str| -> Dynamic {
            custom.0.get(name).cloned().unwrap_or(Dynamic::UNIT)
        })
        // What scripts did with the map custom attributes used to be.
        .register_fn("len", |custom: &mut CustomFields| custom.0.len() as i64)
        .register_fn("is_empty", |custom: &mut CustomFields| custom.0.is_empty())
        .register_fn("contains", |custom: &mut CustomFields, name: &str| {
            custom.0.contains_key(name)
        })
        .register_fn("keys", |custom: &mut CustomFields| -> rhai::Array {
            custom.0.keys().map(|k| Dynamic::from(k.to_string())).collect()
        });
    engine.set_max_operations(max_operations);
    engine.set_max_call_levels(32);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_string_size(64 * 1024);
    engine.set_max_array_size(10_000);
    engine.set_max_map_size(10_000);
    // Checking the clock is a host call: every 1,024 operations is enough.
    engine.on_progress(move |operations| {
        if operations % 1024 == 0 && clock() > deadline.get() {
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
    map.insert("custom".into(), Dynamic::from(CustomFields(custom)));
    map
}

/// Why a script did not decide about an employee.
#[derive(Debug)]
enum Failure {
    /// This employee's record: rejected, the others go on.
    Record(String),
    /// A mistake in the script itself — it reads a field no employee has,
    /// or runs out of its operations or time — that every employee would
    /// meet: the run stops, once, instead of rejecting everyone one by one.
    Script(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Record(message)
    }
}

/// The property a script read that the employee map does not have, and
/// where, unwrapping the function calls around it.
fn unknown_property(error: &EvalAltResult) -> Option<(&str, Position)> {
    match error {
        EvalAltResult::ErrorPropertyNotFound(name, position) => Some((name.as_str(), *position)),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => unknown_property(inner),
        _ => None,
    }
}

/// Names of `known` within an edit distance of 2 of `name`, nearest first.
fn nearest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let distance = |a: &str, b: &str| {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut previous = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let current = row[j + 1];
                row[j + 1] = (previous + usize::from(ca != *cb)).min(row[j] + 1).min(current + 1);
                previous = current;
            }
        }
        row[b.len()]
    };
    let mut close: Vec<(usize, &str)> = known.map(|k| (distance(name, k), k)).filter(|(d, _)| *d <= 2).collect();
    close.sort();
    close.into_iter().map(|(_, k)| k).collect()
}

fn unknown_field_message(function: &str, name: &str, position: Position, employee: &Map) -> String {
    let supervisor_fields = ["hr_id", "email", "first_name", "last_name"];
    let known = employee.keys().map(|k| k.as_str()).chain(supervisor_fields);
    let hint = match nearest(name, known).as_slice() {
        [] => format!(
            "the fields are {}",
            employee.keys().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        ),
        close => format!(
            "did you mean {}?",
            close.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(" or ")
        ),
    };
    format!(
        "script error in fn {function}, {}: the employee has no field `{name}`; {hint} (custom attributes are read as e.custom.<name>)",
        at(position)
    )
}

/// Whether the call ran out of its operations or its time.
fn out_of_budget(error: &EvalAltResult) -> bool {
    match error {
        EvalAltResult::ErrorTooManyOperations(_) | EvalAltResult::ErrorTerminated(..) => true,
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => out_of_budget(inner),
        _ => false,
    }
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
    match error.position() {
        position if position.is_none() => format!("script error in fn {function}: {message}"),
        position => format!("script error in fn {function}, {}: {message}", at(position)),
    }
}

impl ScriptRule {
    fn call(&self, function: &str, employee: &Map) -> Result<Dynamic, Failure> {
        self.deadline.set((self.clock)() + self.time_limit_ms);
        let mut scope = Scope::new();
        self.engine
            .call_fn::<Dynamic>(&mut scope, &self.ast, function, (Dynamic::from_map(employee.clone()),))
            .map_err(|e| match unknown_property(&e) {
                Some((name, position)) => Failure::Script(unknown_field_message(function, name, position, employee)),
                None if out_of_budget(&e) => Failure::Script(format!(
                    "{}; the run stops here rather than for each employee (raise max_operations or time_limit_ms, or make the script cheaper)",
                    script_error(function, &e)
                )),
                None => Failure::Record(script_error(function, &e)),
            })
    }

    fn decide(&self, subject: Subject) -> Result<Decision, Failure> {
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
                Err(kind) => return Err(format!("fn teams must return an array of names, not {kind}").into()),
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
                None => {
                    return Err(Failure::Record(
                        "fn attributes must return a map like #{ title: e.job_title }".into(),
                    ))
                }
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

/// The rule from its config: the script compiled and its functions checked.
fn compile(config: Config, clock: fn() -> u64) -> Result<ScriptRule, PluginError> {
    let deadline = Rc::new(Cell::new(u64::MAX));
    let today =
        time::date_at(clock(), config.time_zone.as_deref()).map_err(|e| PluginError::invalid("time_zone", e))?;
    let engine = engine(
        config.max_operations.unwrap_or(DEFAULT_MAX_OPERATIONS),
        deadline.clone(),
        clock,
        today,
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
    Ok(ScriptRule {
        engine,
        ast,
        has,
        deadline,
        time_limit_ms: config.time_limit_ms.unwrap_or(DEFAULT_TIME_LIMIT_MS),
        clock,
    })
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
                    "time_zone": { "type": "string", "description": "IANA time zone of today() (default: the integration's)" },
                    "max_operations": { "type": "integer", "minimum": 1 },
                    "time_limit_ms": { "type": "integer", "minimum": 1 }
                }
            }))
    }

    fn new() -> Result<Self, PluginError> {
        let mut config: Config = config()?;
        config.time_zone.get_or_insert_with(hrsync_sdk::time_zone);
        compile(config, now_millis)
    }

    /// One decision per employee; a field the script reads that no
    /// employee has stops the whole batch (and so the run, before anything
    /// is written).
    fn evaluate(&mut self, batch: Vec<Subject>) -> Result<Vec<Decision>, PluginError> {
        batch
            .into_iter()
            .map(|subject| match self.decide(subject) {
                Ok(decision) => Ok(decision),
                Err(Failure::Record(message)) => Ok(Decision::Reject(message)),
                Err(Failure::Script(message)) => Err(PluginError::invalid("script", message)),
            })
            .collect()
    }

    /// [`Self::evaluate`] for one employee; a mistyped field rejects it.
    fn evaluate_one(&mut self, subject: Subject) -> Decision {
        match self.decide(subject) {
            Ok(decision) => decision,
            Err(Failure::Record(message) | Failure::Script(message)) => Decision::Reject(message),
        }
    }
}

export_rule!(ScriptRule);

#[cfg(test)]
mod tests {
    use super::*;
    use hrsync_sdk::{DesiredAccount, EmployeeStatus, PersonRef};

    fn fixed_clock() -> u64 {
        1_764_000_000_000
    }

    fn rule_with(
        script: &str,
        max_operations: Option<u64>,
        time_limit_ms: Option<u64>,
        clock: fn() -> u64,
    ) -> Result<ScriptRule, PluginError> {
        compile(
            Config {
                script: script.into(),
                time_zone: None,
                max_operations,
                time_limit_ms,
            },
            clock,
        )
    }

    fn employee() -> Employee {
        Employee {
            hr_id: "42".into(),
            email: Some("juergen.mueller@example.com".into()),
            first_name: "Jürgen".into(),
            last_name: "Müller".into(),
            preferred_name: None,
            status: EmployeeStatus::Active,
            employment_type: Some("external".into()),
            job_title: Some("Leiter Einkauf".into()),
            department: Some("Vertrieb Süd".into()),
            team: Some("".into()),
            office: None,
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
            custom: vec![Attribute {
                name: "dynamic_87541".into(),
                value: AttributeValue::Integer(4711),
            }],
        }
    }

    fn subject() -> Subject {
        Subject {
            employee: employee(),
            desired: None,
        }
    }

    fn rule(script: &str) -> ScriptRule {
        match rule_with(script, None, None, fixed_clock) {
            Ok(rule) => rule,
            Err(error) => panic!("does not compile: {error:?}"),
        }
    }

    fn compile_error(script: &str) -> String {
        match rule_with(script, None, None, fixed_clock) {
            Ok(_) => panic!("compiled"),
            Err(PluginError::InvalidInput(invalid)) => {
                assert_eq!(invalid.field, "script");
                invalid.message
            }
            Err(other) => panic!("expected invalid input, got {other:?}"),
        }
    }

    fn decide(rule: &ScriptRule, employee: Employee) -> Result<Decision, String> {
        rule.decide(Subject {
            employee,
            desired: None,
        })
        .map_err(|failure| match failure {
            Failure::Record(message) | Failure::Script(message) => message,
        })
    }

    #[test]
    fn dates_today_relative_and_between() {
        // The fixed clock reads 2025-11-24, 16:00 UTC.
        let starts_late = rule(
            r#"fn exclude(e) {
                if e.hire_date != () && e.hire_date > date("+30d") {
                    return `starts ${e.hire_date}, in ${days_between(today(), e.hire_date)} days`;
                }
            }"#,
        );
        let hired = |date: &str| Employee {
            hire_date: Some(date.into()),
            ..employee()
        };
        match decide(&starts_late, hired("2026-01-01")) {
            Ok(Decision::Exclude(reason)) => assert_eq!(reason, "starts 2026-01-01, in 38 days"),
            other => panic!("expected an exclusion, got {other:?}"),
        }
        let kept = |decision| matches!(decision, Ok(Decision::Keep | Decision::Modify(_)));
        assert!(kept(decide(&starts_late, hired("2025-12-24"))), "30 days is not more");
        assert!(kept(decide(&starts_late, employee())), "no hire date");
        let attributes = rule(
            r#"fn attributes(e) { #{
                start: parse_date("2025-11-24T08:00:00+01:00"),
                week: add_days(today(), 7),
                none: parse_date("24.11.2025"),
                back: date("-1y"),
            } }"#,
        );
        let Ok(Decision::Modify(desired)) = decide(&attributes, employee()) else {
            panic!("attributes");
        };
        let text = |name: &str| {
            desired
                .attributes
                .iter()
                .find(|a| a.name == name)
                .map(|a| a.value.to_text())
        };
        assert_eq!(text("start").as_deref(), Some("2025-11-24"));
        assert_eq!(text("week").as_deref(), Some("2025-12-01"));
        assert_eq!(text("back").as_deref(), Some("2024-11-24"));
        assert_eq!(text("none"), None, "not a date: ()");
        let error = decide(&rule(r#"fn exclude(e) { days_between("soon", today()) }"#), employee()).unwrap_err();
        assert!(
            error.contains("days_between: `soon` is not a date (YYYY-MM-DD)"),
            "{error}"
        );
        let error = decide(&rule(r#"fn exclude(e) { date("+30") }"#), employee()).unwrap_err();
        assert!(error.contains("date: `+30` is not a date"), "{error}");
    }

    #[test]
    fn today_is_in_the_configured_time_zone() {
        let in_zone = |zone: &str| {
            compile(
                Config {
                    script: "fn attributes(e) { #{ today: today() } }".into(),
                    time_zone: Some(zone.into()),
                    max_operations: None,
                    time_limit_ms: None,
                },
                fixed_clock,
            )
        };
        // 16:00 UTC is 06:00 the next day on Kiritimati (UTC+14).
        let Ok(Decision::Modify(desired)) = decide(&in_zone("Pacific/Kiritimati").expect("compiles"), employee())
        else {
            panic!("attributes");
        };
        assert_eq!(desired.attributes[0].value.to_text(), "2025-11-25");
        match in_zone("Europe/Berln") {
            Err(PluginError::InvalidInput(invalid)) => {
                assert_eq!(invalid.field, "time_zone");
                assert!(
                    invalid.message.contains("`Europe/Berln` is not a time zone"),
                    "{}",
                    invalid.message
                );
            }
            _ => panic!("an unknown time zone is refused"),
        }
    }

    #[test]
    fn a_mistyped_field_stops_the_batch_naming_the_field_its_line_and_the_nearest_names() {
        let script = "fn teams(e) {\n    [\"Abteilung \" + e.departmnt]\n}";
        let mut rule = rule_with(script, None, None, fixed_clock).expect("compiles");
        let batch = vec![
            Subject {
                employee: employee(),
                desired: None,
            },
            Subject {
                employee: employee(),
                desired: None,
            },
        ];
        let error = match rule.evaluate(batch) {
            Err(PluginError::InvalidInput(invalid)) if invalid.field == "script" => invalid.message,
            other => panic!("expected the batch to stop, got {other:?}"),
        };
        assert!(error.contains("no field `departmnt`"), "{error}");
        assert!(error.contains("did you mean `department`?"), "{error}");
        assert!(error.contains("fn teams, line 2"), "{error}");
        // A supervisor's field is checked the same way.
        let mut rule = rule_with(
            "fn exclude(e) { e.supervisor.frist_name == \"Zoë\" }",
            None,
            None,
            fixed_clock,
        )
        .expect("compiles");
        let error = format!(
            "{:?}",
            rule.evaluate(vec![Subject {
                employee: employee(),
                desired: None
            }])
        );
        assert!(error.contains("`first_name`"), "{error}");
    }

    #[test]
    fn a_custom_attribute_the_employee_lacks_reads_as_unit() {
        let rule = rule_with(
            "fn exclude(e) { if e.custom.cost_center == () { \"no cost center\" } }",
            None,
            None,
            fixed_clock,
        )
        .expect("compiles");
        let mut without = employee();
        without.custom.clear();
        assert_eq!(excluded(&rule, without).as_deref(), Some("no cost center"));
    }

    fn excluded(rule: &ScriptRule, employee: Employee) -> Option<String> {
        match decide(rule, employee) {
            Ok(Decision::Exclude(reason)) => Some(reason),
            Ok(Decision::Keep) => None,
            other => panic!("expected keep or exclude, got {other:?}"),
        }
    }

    fn modified(rule: &ScriptRule, subject: Subject) -> DesiredAccount {
        match rule.decide(subject) {
            Ok(Decision::Modify(desired)) => desired,
            other => panic!("expected a modified account, got {other:?}"),
        }
    }

    fn texts(list: &[Attribute]) -> Vec<(&str, String)> {
        list.iter()
            .map(|a| match &a.value {
                AttributeValue::Text(text) => (a.name.as_str(), text.clone()),
                other => panic!("{} is not text: {other:?}", a.name),
            })
            .collect()
    }

    #[test]
    fn exclude_returning_a_reason_excludes_with_that_reason() {
        let rule =
            rule(r#"fn exclude(e) { if e.employment_type == "external" { return "externals get no wallet"; } }"#);
        assert_eq!(excluded(&rule, employee()).as_deref(), Some("externals get no wallet"));
        let mut internal = employee();
        internal.employment_type = Some("internal".into());
        assert_eq!(excluded(&rule, internal), None);
    }

    #[test]
    fn exclude_returning_true_false_unit_or_an_empty_text() {
        assert_eq!(
            excluded(&rule("fn exclude(e) { true }"), employee()).as_deref(),
            Some("excluded by script")
        );
        assert_eq!(excluded(&rule("fn exclude(e) { false }"), employee()), None);
        assert_eq!(excluded(&rule("fn exclude(e) { }"), employee()), None);
        assert_eq!(excluded(&rule(r#"fn exclude(e) { "" }"#), employee()), None);
    }

    #[test]
    fn the_employee_map_has_fields_text_empty_fields_unit_supervisor_and_custom() {
        let rule = rule(
            r#"fn exclude(e) {
                let parts = [e.hr_id, e.first_name, e.last_name, e.status, e.department,
                             e.supervisor.first_name, e.supervisor.last_name, e.custom.dynamic_87541];
                if e.team != () || e.office != () || e.supervisor.email != () { return "not unit"; }
                parts.reduce(|sum, v| if sum == () { v } else { sum + "|" + v })
            }"#,
        );
        assert_eq!(
            excluded(&rule, employee()).as_deref(),
            Some("42|Jürgen|Müller|active|Vertrieb Süd|Zoë|Öztürk|4711")
        );
    }

    #[test]
    fn an_employee_without_supervisor_has_a_unit_supervisor_and_an_empty_custom_map() {
        let rule = rule(r#"fn exclude(e) { if e.supervisor == () && e.custom.len() == 0 { "orphan" } }"#);
        let mut orphan = employee();
        orphan.supervisor = None;
        orphan.custom.clear();
        assert_eq!(excluded(&rule, orphan).as_deref(), Some("orphan"));
        assert_eq!(excluded(&rule, employee()), None);
    }

    #[test]
    fn only_exclude_keeps_everyone_else_unchanged() {
        let rule = rule(r#"fn exclude(e) { () }"#);
        assert!(matches!(decide(&rule, employee()), Ok(Decision::Keep)));
    }

    #[test]
    fn teams_are_trimmed_deduplicated_and_added_to_earlier_ones() {
        let rule = rule(
            r#"fn teams(e) {
                let teams = ["Abteilung " + e.department, "  Alle ", (), ""];
                if e.supervisor != () {
                    teams.push(`${e.supervisor.first_name} ${e.supervisor.last_name}s Team`);
                }
                teams.push("Alle");
                teams
            }"#,
        );
        let mut earlier = DesiredAccount::for_employee(&employee());
        earlier.teams = vec!["Alle".into()];
        let desired = modified(
            &rule,
            Subject {
                employee: employee(),
                desired: Some(earlier),
            },
        );
        assert_eq!(desired.teams, ["Alle", "Abteilung Vertrieb Süd", "Zoë Öztürks Team"]);
        assert_eq!(desired.external_id, "42");
    }

    #[test]
    fn teams_returning_unit_adds_none_and_anything_but_an_array_rejects_the_record() {
        let none = modified(
            &rule("fn teams(e) { }"),
            Subject {
                employee: employee(),
                desired: None,
            },
        );
        assert!(none.teams.is_empty());
        assert_eq!(
            decide(&rule(r#"fn teams(e) { "Team A" }"#), employee())
                .err()
                .as_deref(),
            Some("fn teams must return an array of names, not string")
        );
        assert!(matches!(
            rule(r#"fn teams(e) { "Team A" }"#).evaluate_one(Subject { employee: employee(), desired: None }),
            Decision::Reject(reason) if reason == "fn teams must return an array of names, not string"
        ));
    }

    #[test]
    fn attributes_become_text_attributes_and_unit_values_are_skipped() {
        let rule = rule(
            r#"fn attributes(e) { #{ title: e.job_title, office: e.office, level: 3, "cost center": e.custom.dynamic_87541 } }"#,
        );
        let mut earlier = DesiredAccount::for_employee(&employee());
        earlier.attributes = vec![
            Attribute {
                name: "title".into(),
                value: AttributeValue::Text("alt".into()),
            },
            Attribute {
                name: "office".into(),
                value: AttributeValue::Text("bleibt".into()),
            },
        ];
        let desired = modified(
            &rule,
            Subject {
                employee: employee(),
                desired: Some(earlier),
            },
        );
        let mut attributes = texts(&desired.attributes);
        attributes.sort();
        assert_eq!(
            attributes,
            [
                ("cost center", "4711".to_string()),
                ("level", "3".to_string()),
                ("office", "bleibt".to_string()),
                ("title", "Leiter Einkauf".to_string()),
            ]
        );
    }

    #[test]
    fn attributes_returning_anything_but_a_map_rejects_the_record() {
        assert_eq!(
            decide(&rule("fn attributes(e) { [1] }"), employee()).err().as_deref(),
            Some("fn attributes must return a map like #{ title: e.job_title }")
        );
    }

    #[test]
    fn exclude_runs_first_and_an_excluded_employee_gets_no_teams() {
        let rule = rule(r#"fn exclude(e) { e.employment_type == "external" } fn teams(e) { throw "not reached"; }"#);
        assert_eq!(excluded(&rule, employee()).as_deref(), Some("excluded by script"));
    }

    #[test]
    fn a_runtime_error_names_the_function_line_and_column_once() {
        let throwing = rule("fn teams(e) {\n  throw \"kaputt: ü\";\n}");
        assert_eq!(
            decide(&throwing, employee()).err().as_deref(),
            Some("script error in fn teams, line 2, column 3: Runtime error: kaputt: ü")
        );
        let calling_on_unit = rule("fn exclude(e) {\n  e.office.len()\n}");
        assert_eq!(
            decide(&calling_on_unit, employee()).err().as_deref(),
            Some("script error in fn exclude, line 2, column 12: Function not found: len (())")
        );
    }

    #[test]
    fn a_script_out_of_operations_stops_the_batch_once_naming_the_function() {
        let mut rule = rule_with(
            "fn exclude(e) {\n  let n = 0;\n  loop { n += 1; }\n}",
            Some(5_000),
            None,
            fixed_clock,
        )
        .ok()
        .expect("compiles");
        let batch = vec![subject(), subject(), subject()];
        let error = match rule.evaluate(batch) {
            Err(PluginError::InvalidInput(invalid)) if invalid.field == "script" => invalid.message,
            other => panic!("expected the batch to stop, got {other:?}"),
        };
        // Rhai does not tell where a script was when its budget ran out:
        // the function is named, the line is not.
        assert!(error.starts_with("script error in fn exclude: "), "{error}");
        assert!(
            error.contains(
                "the script ran out of operations (max_operations); the run stops here rather than for each employee"
            ),
            "{error}"
        );
    }

    thread_local! {
        static NOW: Cell<u64> = const { Cell::new(0) };
    }

    /// A clock that advances a second each time it is read.
    fn racing_clock() -> u64 {
        NOW.with(|now| {
            now.set(now.get() + 1_000);
            now.get()
        })
    }

    #[test]
    fn a_script_past_its_time_limit_stops_the_batch() {
        let mut rule = rule_with(
            "fn exclude(e) {\n  let n = 0;\n  loop { n += 1; }\n}",
            None,
            Some(10),
            racing_clock,
        )
        .ok()
        .expect("compiles");
        let error = match rule.evaluate(vec![subject(), subject()]) {
            Err(PluginError::InvalidInput(invalid)) => invalid.message,
            other => panic!("expected the batch to stop, got {other:?}"),
        };
        assert!(error.starts_with("script error in fn exclude: "), "{error}");
        assert!(
            error.contains("the script ran past its time limit (time_limit_ms)"),
            "{error}"
        );
        // A quick call on a fresh deadline still works.
        let quick = rule_with("fn exclude(e) { \"ok\" }", None, Some(10), racing_clock)
            .ok()
            .expect("compiles");
        assert_eq!(excluded(&quick, employee()).as_deref(), Some("ok"));
    }

    #[test]
    fn a_script_that_does_not_compile_is_refused_with_line_and_column() {
        assert_eq!(
            compile_error("fn exclude(e) {\n  if e.x == \n}"),
            "line 3, column 1: Unexpected '}'"
        );
    }

    #[test]
    fn a_script_without_any_of_the_three_functions_is_refused() {
        for script in ["", "let x = 1;", "fn exclusions(e) { true }"] {
            assert_eq!(
                compile_error(script),
                "the script defines none of fn exclude(e), fn teams(e), fn attributes(e)",
                "{script:?}"
            );
        }
    }

    #[test]
    fn the_functions_must_take_exactly_the_employee_and_be_public() {
        assert_eq!(
            compile_error("fn teams() { [] }"),
            "fn teams must take one parameter, the employee: fn teams(e)"
        );
        assert_eq!(
            compile_error("fn attributes(e, f) { #{} }"),
            "fn attributes must take one parameter, the employee: fn attributes(e)"
        );
        assert_eq!(
            compile_error("private fn exclude(e) { true }"),
            "fn exclude must take one parameter, the employee: fn exclude(e)"
        );
    }

    #[test]
    fn helper_functions_beside_the_three_are_allowed() {
        let rule = rule(r#"fn label(d) { "Abteilung " + d } fn teams(e) { [label(e.department)] }"#);
        let desired = modified(
            &rule,
            Subject {
                employee: employee(),
                desired: None,
            },
        );
        assert_eq!(desired.teams, ["Abteilung Vertrieb Süd"]);
    }

    #[test]
    fn config_needs_a_script_and_refuses_unknown_keys() {
        let config: Config =
            serde_json::from_value(serde_json::json!({ "script": "fn exclude(e) {}" })).expect("config");
        assert_eq!((config.max_operations, config.time_limit_ms), (None, None));
        for bad in [serde_json::json!({}), serde_json::json!({ "script": "", "timeout": 5 })] {
            assert!(serde_json::from_value::<Config>(bad.clone()).is_err(), "{bad}");
        }
    }
}
