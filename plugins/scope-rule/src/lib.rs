//! Scoping filters, as identity platforms define them: an employee is in
//! scope when any `include` filter matches (all employees when there are
//! none) and no `exclude` filter matches. A filter matches when all its
//! clauses do (AND inside a filter, OR across filters).
//!
//! ```json
//! {
//!   "include": [{ "name": "staff", "all": [{ "field": "status", "op": "not_equals", "value": "inactive" }] }],
//!   "exclude": [{ "name": "externals", "all": [{ "field": "employment_type", "op": "equals", "value": "external" }] }]
//! }
//! ```
//!
//! Comparisons ignore case; `regex` is as written (add `(?i)` for case).

use hrsync_sdk::employee::{is_known_field, normalize_field};
use hrsync_sdk::{config, export_rule, fields, Decision, Employee, PluginError, PluginInfo, Rule, Subject};
use regex::Regex;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    #[serde(default)]
    pub include: Vec<FilterConfig>,
    #[serde(default)]
    pub exclude: Vec<FilterConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    #[serde(default)]
    pub name: Option<String>,
    pub all: Vec<ClauseConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClauseConfig {
    pub field: String,
    pub op: Op,
    #[serde(default)]
    pub value: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    NotEquals,
    In,
    NotIn,
    Regex,
    IsEmpty,
    IsNotEmpty,
}

enum Test {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Regex(Regex),
    IsEmpty,
    IsNotEmpty,
}

struct Clause {
    field: String,
    test: Test,
}

struct Filter {
    label: String,
    clauses: Vec<Clause>,
}

impl Filter {
    fn matches(&self, employee: &Employee) -> bool {
        self.clauses.iter().all(|c| c.matches(employee))
    }
}

impl Clause {
    fn matches(&self, employee: &Employee) -> bool {
        let value = employee.field(&self.field);
        // `want` is lowercased at compile time.
        let eq = |want: &str| {
            value
                .as_deref()
                .is_some_and(|v| v.chars().flat_map(char::to_lowercase).eq(want.chars()))
        };
        match &self.test {
            Test::Equals(want) => eq(want),
            Test::NotEquals(want) => !eq(want),
            Test::In(wants) => wants.iter().any(|w| eq(w)),
            Test::NotIn(wants) => !wants.iter().any(|w| eq(w)),
            Test::Regex(re) => value.as_deref().is_some_and(|v| re.is_match(v)),
            Test::IsEmpty => value.is_none(),
            Test::IsNotEmpty => value.is_some(),
        }
    }
}

/// The compiled scope: built once per instance, used for every batch.
pub struct Scope {
    include: Vec<Filter>,
    exclude: Vec<Filter>,
}

impl Scope {
    pub fn compile(config: ScopeConfig) -> Result<Self, PluginError> {
        let compile_all = |list: Vec<FilterConfig>, key: &str| {
            list.into_iter()
                .enumerate()
                .map(|(i, f)| compile_filter(f, &format!("{key}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            include: compile_all(config.include, "include")?,
            exclude: compile_all(config.exclude, "exclude")?,
        })
    }

    /// The fields whose values the filters compare, and the filter that
    /// compares each: without them the filter could never match. Emptiness
    /// tests need nothing (an empty field is what they look for).
    pub fn needs(&self) -> Vec<(String, String)> {
        let mut needs: Vec<(String, String)> = Vec::new();
        for filter in self.include.iter().chain(&self.exclude) {
            for clause in &filter.clauses {
                if matches!(clause.test, Test::IsEmpty | Test::IsNotEmpty) {
                    continue;
                }
                if !needs.iter().any(|(field, _)| *field == clause.field) {
                    needs.push((clause.field.clone(), format!("filter {}", filter.label)));
                }
            }
        }
        needs
    }

    pub fn decide(&self, subject: Subject) -> Decision {
        let employee = &subject.employee;
        if !self.include.is_empty() && !self.include.iter().any(|f| f.matches(employee)) {
            let names: Vec<&str> = self.include.iter().map(|f| f.label.as_str()).collect();
            return Decision::Exclude(format!(
                "out of scope: matches no include filter ({})",
                names.join(", ")
            ));
        }
        if let Some(filter) = self.exclude.iter().find(|f| f.matches(employee)) {
            return Decision::Exclude(format!("excluded by filter {}", filter.label));
        }
        Decision::Keep
    }
}

fn compile_filter(filter: FilterConfig, path: &str) -> Result<Filter, PluginError> {
    if filter.all.is_empty() {
        return Err(PluginError::invalid(
            format!("{path}.all"),
            "a filter needs at least one clause",
        ));
    }
    let clauses = filter
        .all
        .into_iter()
        .enumerate()
        .map(|(i, c)| compile_clause(c, &format!("{path}.all[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let label = match filter.name {
        Some(name) => format!("`{name}`"),
        None => path.to_string(),
    };
    Ok(Filter { label, clauses })
}

fn compile_clause(clause: ClauseConfig, path: &str) -> Result<Clause, PluginError> {
    if !is_known_field(&clause.field) {
        return Err(PluginError::invalid(
            format!("{path}.field"),
            format!(
                "unknown field `{}`; use one of {} or custom.<name>",
                clause.field,
                hrsync_sdk::employee::FIELDS.join(", ")
            ),
        ));
    }
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.to_lowercase()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let one = || {
        clause.value.as_ref().and_then(text).ok_or_else(|| {
            PluginError::invalid(format!("{path}.value"), format!("`{:?}` needs a text value", clause.op))
        })
    };
    let many = || match &clause.value {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| text(v).ok_or_else(|| PluginError::invalid(format!("{path}.value"), "list items must be text")))
            .collect::<Result<Vec<_>, _>>(),
        _ => Err(PluginError::invalid(
            format!("{path}.value"),
            format!("`{:?}` needs a list of values", clause.op),
        )),
    };
    let test = match clause.op {
        Op::Equals => Test::Equals(one()?),
        Op::NotEquals => Test::NotEquals(one()?),
        Op::In => Test::In(many()?),
        Op::NotIn => Test::NotIn(many()?),
        Op::Regex => Test::Regex(
            Regex::new(
                clause
                    .value
                    .as_ref()
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| PluginError::invalid(format!("{path}.value"), "`Regex` needs a pattern"))?,
            )
            .map_err(|e| PluginError::invalid(format!("{path}.value"), format!("invalid regex: {e}")))?,
        ),
        Op::IsEmpty => Test::IsEmpty,
        Op::IsNotEmpty => Test::IsNotEmpty,
    };
    Ok(Clause {
        field: normalize_field(&clause.field),
        test,
    })
}

impl Rule for Scope {
    fn info() -> PluginInfo {
        PluginInfo::new("scope-rule", env!("CARGO_PKG_VERSION"))
            .description("Scoping filters: include or exclude employees by attribute values (AND inside a filter, OR across filters)")
            .config_schema(serde_json::json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "include": { "$ref": "#/$defs/filters" },
                    "exclude": { "$ref": "#/$defs/filters" }
                },
                "$defs": {
                    "filters": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["all"],
                            "additionalProperties": false,
                            "properties": {
                                "name": { "type": "string" },
                                "all": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "required": ["field", "op"],
                                        "additionalProperties": false,
                                        "properties": {
                                            "field": { "type": "string" },
                                            "op": { "enum": ["equals", "not_equals", "in", "not_in", "regex", "is_empty", "is_not_empty"] },
                                            "value": {}
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }))
    }

    fn new() -> Result<Self, PluginError> {
        let scope = Scope::compile(config()?)?;
        for (field, purpose) in scope.needs() {
            fields::require(&field, &purpose);
        }
        Ok(scope)
    }

    fn evaluate_one(&mut self, subject: Subject) -> Decision {
        self.decide(subject)
    }
}

export_rule!(Scope);
