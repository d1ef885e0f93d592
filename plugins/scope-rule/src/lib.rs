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
//!
//! Dates: `before`, `after` and `within` compare a date field (`hire_date`,
//! `termination_date`, a custom date) with `today`, a date (`2026-12-31`)
//! or a distance from today (`+30d`, `-2w`, `+3m`, `-1y`): `after "+30d"`
//! is "more than 30 days ahead", `within "-90d"` "in the last 90 days"
//! (today included). Today is taken once per run, in `time_zone` (an IANA
//! name; the integration's time zone by default). A value that is not a date matches no date test.

use hrsync_sdk::employee::{is_known_field, normalize_field};
use hrsync_sdk::time::{self, date_of, NaiveDate};
use hrsync_sdk::{config, export_rule, fields, Decision, Employee, PluginError, PluginInfo, Rule, Subject};
use regex::Regex;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    /// The time zone whose calendar `today` is in (IANA name).
    #[serde(default)]
    pub time_zone: Option<String>,
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
    Before,
    After,
    Within,
}

/// An operator as the config spells it.
fn op_name(op: Op) -> &'static str {
    match op {
        Op::Equals => "equals",
        Op::NotEquals => "not_equals",
        Op::In => "in",
        Op::NotIn => "not_in",
        Op::Regex => "regex",
        Op::IsEmpty => "is_empty",
        Op::IsNotEmpty => "is_not_empty",
        Op::Before => "before",
        Op::After => "after",
        Op::Within => "within",
    }
}

enum Test {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Regex(Regex),
    IsEmpty,
    IsNotEmpty,
    Before(NaiveDate),
    After(NaiveDate),
    /// Between the two dates, both included.
    Between(NaiveDate, NaiveDate),
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
        let date = || value.as_deref().and_then(date_of);
        match &self.test {
            Test::Equals(want) => eq(want),
            Test::NotEquals(want) => !eq(want),
            Test::In(wants) => wants.iter().any(|w| eq(w)),
            Test::NotIn(wants) => !wants.iter().any(|w| eq(w)),
            Test::Regex(re) => value.as_deref().is_some_and(|v| re.is_match(v)),
            Test::IsEmpty => value.is_none(),
            Test::IsNotEmpty => value.is_some(),
            Test::Before(limit) => date().is_some_and(|d| d < *limit),
            Test::After(limit) => date().is_some_and(|d| d > *limit),
            Test::Between(from, to) => date().is_some_and(|d| *from <= d && d <= *to),
        }
    }
}

/// The compiled scope: built once per instance, used for every batch.
pub struct Scope {
    include: Vec<Filter>,
    exclude: Vec<Filter>,
}

impl Scope {
    /// The scope for a run of today (by the host's clock, in the config's
    /// time zone).
    pub fn compile(config: ScopeConfig) -> Result<Self, PluginError> {
        let today = time::today(config.time_zone.as_deref()).map_err(|e| PluginError::invalid("time_zone", e))?;
        Self::compile_on(config, today)
    }

    /// The scope as of `today`.
    pub fn compile_on(config: ScopeConfig, today: NaiveDate) -> Result<Self, PluginError> {
        let compile_all = |list: Vec<FilterConfig>, key: &str| {
            list.into_iter()
                .enumerate()
                .map(|(i, f)| compile_filter(f, &format!("{key}[{i}]"), today))
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

    /// The fixed values each filter compares a field with: the host notes
    /// a value no employee has (a typo such as `externl`).
    pub fn expectations(&self) -> Vec<(String, Vec<String>, String)> {
        let mut expected = Vec::new();
        for filter in self.include.iter().chain(&self.exclude) {
            for clause in &filter.clauses {
                let values = match &clause.test {
                    Test::Equals(value) | Test::NotEquals(value) => vec![value.clone()],
                    Test::In(values) | Test::NotIn(values) => values.clone(),
                    _ => continue,
                };
                expected.push((clause.field.clone(), values, format!("filter {}", filter.label)));
            }
        }
        expected
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

fn compile_filter(filter: FilterConfig, path: &str, today: NaiveDate) -> Result<Filter, PluginError> {
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
        .map(|(i, c)| compile_clause(c, &format!("{path}.all[{i}]"), today))
        .collect::<Result<Vec<_>, _>>()?;
    let label = match filter.name {
        Some(name) => format!("`{name}`"),
        None => path.to_string(),
    };
    Ok(Filter { label, clauses })
}

fn compile_clause(clause: ClauseConfig, path: &str, today: NaiveDate) -> Result<Clause, PluginError> {
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
            PluginError::invalid(
                format!("{path}.value"),
                format!("`{}` needs a text value", op_name(clause.op)),
            )
        })
    };
    let many = || match &clause.value {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| text(v).ok_or_else(|| PluginError::invalid(format!("{path}.value"), "list items must be text")))
            .collect::<Result<Vec<_>, _>>(),
        _ => Err(PluginError::invalid(
            format!("{path}.value"),
            format!("`{}` needs a list of values", op_name(clause.op)),
        )),
    };
    let date = || {
        let spec = clause.value.as_ref().and_then(|v| v.as_str()).ok_or_else(|| {
            PluginError::invalid(
                format!("{path}.value"),
                format!("`{}` needs a date: `today`, `2026-12-31` or `+30d`", op_name(clause.op)),
            )
        })?;
        time::resolve_date(spec, today).map_err(|e| PluginError::invalid(format!("{path}.value"), e))
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
                    .ok_or_else(|| PluginError::invalid(format!("{path}.value"), "`regex` needs a pattern"))?,
            )
            .map_err(|e| PluginError::invalid(format!("{path}.value"), format!("invalid regex: {e}")))?,
        ),
        Op::IsEmpty => Test::IsEmpty,
        Op::IsNotEmpty => Test::IsNotEmpty,
        Op::Before => Test::Before(date()?),
        Op::After => Test::After(date()?),
        Op::Within => {
            let end = date()?;
            Test::Between(end.min(today), end.max(today))
        }
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
                    "time_zone": { "type": "string", "description": "IANA time zone of `today` in date tests (default: the integration's)" },
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
                                            "op": { "enum": ["equals", "not_equals", "in", "not_in", "regex", "is_empty", "is_not_empty", "before", "after", "within"] },
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
        for (field, values, purpose) in scope.expectations() {
            fields::expect(&field, &values, &purpose);
        }
        Ok(scope)
    }

    fn evaluate_one(&mut self, subject: Subject) -> Decision {
        self.decide(subject)
    }
}

export_rule!(Scope);

#[cfg(test)]
mod tests {
    use super::*;
    use hrsync_sdk::{Attribute, AttributeValue, EmployeeStatus, PersonRef};
    use serde_json::json;

    fn employee() -> Employee {
        Employee {
            hr_id: "42".into(),
            email: Some("juergen.mueller@example.com".into()),
            first_name: "Jürgen".into(),
            last_name: "Müller".into(),
            preferred_name: None,
            status: EmployeeStatus::Active,
            employment_type: Some("internal".into()),
            job_title: Some("Leiter Einkauf".into()),
            department: Some("MÜNCHEN Süd".into()),
            team: Some("".into()),
            office: Some("Köln".into()),
            supervisor: Some(PersonRef {
                hr_id: "7".into(),
                email: None,
                first_name: Some("Zoë".into()),
                last_name: Some("Öztürk".into()),
            }),
            hire_date: Some("2021-04-01".into()),
            termination_date: None,
            gender: None,
            language: Some("de".into()),
            custom: vec![
                Attribute {
                    name: "dynamic_87541".into(),
                    value: AttributeValue::Text("KST 4711".into()),
                },
                Attribute {
                    name: "Cost-Center".into(),
                    value: AttributeValue::Text("CC-1".into()),
                },
                Attribute {
                    name: "weekly_hours".into(),
                    value: AttributeValue::Integer(40),
                },
                Attribute {
                    name: "remote".into(),
                    value: AttributeValue::Boolean(true),
                },
            ],
        }
    }

    /// The day the tests run on: 31 January 2026.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()
    }

    fn scope(config: serde_json::Value) -> Scope {
        let config: ScopeConfig = serde_json::from_value(config).expect("a scope config");
        match Scope::compile_on(config, today()) {
            Ok(scope) => scope,
            Err(error) => panic!("does not compile: {error:?}"),
        }
    }

    fn compile_error(config: serde_json::Value) -> (String, String) {
        let config: ScopeConfig = serde_json::from_value(config).expect("a scope config");
        match Scope::compile_on(config, today()) {
            Ok(_) => panic!("compiled"),
            Err(PluginError::InvalidInput(invalid)) => (invalid.field, invalid.message),
            Err(other) => panic!("expected invalid input, got {other:?}"),
        }
    }

    fn decide(scope: &Scope, employee: Employee) -> Result<(), String> {
        match scope.decide(Subject {
            employee,
            desired: None,
        }) {
            Decision::Keep => Ok(()),
            Decision::Exclude(reason) => Err(reason),
            Decision::Modify(_) => panic!("a scope never modifies"),
            Decision::Reject(reason) => panic!("rejected: {reason}"),
        }
    }

    /// Whether one clause matches the test employee.
    fn matches(field: &str, op: &str, value: serde_json::Value) -> bool {
        let scope = scope(json!({ "include": [{ "all": [{ "field": field, "op": op, "value": value }] }] }));
        decide(&scope, employee()).is_ok()
    }

    #[test]
    fn without_filters_everyone_is_kept() {
        assert_eq!(decide(&scope(json!({})), employee()), Ok(()));
        assert_eq!(
            decide(&scope(json!({ "include": [], "exclude": [] })), employee()),
            Ok(())
        );
    }

    #[test]
    fn an_employee_matching_no_include_filter_is_excluded_naming_the_filters() {
        let scope = scope(json!({ "include": [
            { "name": "staff", "all": [{ "field": "employment_type", "op": "equals", "value": "staff" }] },
            { "all": [{ "field": "office", "op": "equals", "value": "Berlin" }] },
        ] }));
        assert_eq!(
            decide(&scope, employee()),
            Err("out of scope: matches no include filter (`staff`, include[1])".into())
        );
    }

    #[test]
    fn matching_any_include_filter_keeps_the_employee() {
        let scope = scope(json!({ "include": [
            { "name": "staff", "all": [{ "field": "employment_type", "op": "equals", "value": "staff" }] },
            { "name": "cologne", "all": [{ "field": "office", "op": "equals", "value": "köln" }] },
        ] }));
        assert_eq!(decide(&scope, employee()), Ok(()));
    }

    #[test]
    fn an_exclude_filter_wins_over_includes_and_names_itself() {
        let scope = scope(json!({
            "include": [{ "name": "all active", "all": [{ "field": "status", "op": "equals", "value": "active" }] }],
            "exclude": [
                { "name": "externals", "all": [{ "field": "employment_type", "op": "equals", "value": "external" }] },
                { "all": [{ "field": "office", "op": "in", "value": ["Köln", "Bonn"] }] },
            ],
        }));
        assert_eq!(decide(&scope, employee()), Err("excluded by filter exclude[1]".into()));
        let mut external = employee();
        external.employment_type = Some("External".into());
        assert_eq!(decide(&scope, external), Err("excluded by filter `externals`".into()));
    }

    #[test]
    fn all_clauses_of_a_filter_must_match() {
        let both = json!({ "exclude": [{ "name": "internal cologne", "all": [
            { "field": "employment_type", "op": "equals", "value": "internal" },
            { "field": "office", "op": "equals", "value": "Köln" },
        ] }] });
        assert_eq!(
            decide(&scope(both), employee()),
            Err("excluded by filter `internal cologne`".into())
        );
        let one = json!({ "exclude": [{ "all": [
            { "field": "employment_type", "op": "equals", "value": "internal" },
            { "field": "office", "op": "equals", "value": "Berlin" },
        ] }] });
        assert_eq!(decide(&scope(one), employee()), Ok(()));
    }

    #[test]
    fn an_any_key_is_not_a_filter_and_the_config_is_refused() {
        let config = json!({ "include": [{ "any": [{ "field": "office", "op": "equals", "value": "Köln" }] }] });
        let error = serde_json::from_value::<ScopeConfig>(config)
            .expect_err("refused")
            .to_string();
        assert!(error.contains("unknown field `any`"), "{error}");
    }

    #[test]
    fn equals_ignores_case_including_umlauts_and_needs_the_whole_value() {
        assert!(matches("department", "equals", json!("münchen süd")));
        assert!(matches("department", "equals", json!("MÜNCHEN SÜD")));
        assert!(!matches("department", "equals", json!("münchen")));
        assert!(!matches("department", "equals", json!("munchen sud")));
        assert!(!matches("department", "equals", json!(" münchen süd")));
    }

    #[test]
    fn not_equals_matches_empty_fields_and_equals_never_does() {
        assert!(matches("gender", "not_equals", json!("female")));
        assert!(!matches("gender", "equals", json!("")));
        assert!(!matches("office", "not_equals", json!("KÖLN")));
    }

    #[test]
    fn in_and_not_in_compare_with_every_listed_value() {
        assert!(matches("office", "in", json!(["Berlin", "köln"])));
        assert!(!matches("office", "in", json!(["Berlin", "Bonn"])));
        assert!(!matches("office", "in", json!([])));
        assert!(matches("office", "not_in", json!(["Berlin", "Bonn"])));
        assert!(!matches("office", "not_in", json!(["KÖLN"])));
        assert!(
            matches("gender", "not_in", json!(["male", "female"])),
            "an empty field is in no list"
        );
    }

    #[test]
    fn regex_searches_the_value_as_written_and_is_case_sensitive_unless_flagged() {
        assert!(matches("job_title", "regex", json!("Einkauf")));
        assert!(matches("job_title", "regex", json!("^Leiter")));
        assert!(!matches("job_title", "regex", json!("^leiter")));
        assert!(matches("job_title", "regex", json!("(?i)^leiter")));
        assert!(
            matches("department", "regex", json!("S\\wd$")),
            "unicode word characters"
        );
        assert!(
            !matches("gender", "regex", json!(".*")),
            "an empty field matches no regex"
        );
    }

    #[test]
    fn is_empty_treats_missing_and_empty_text_alike() {
        assert!(matches("gender", "is_empty", serde_json::Value::Null));
        assert!(matches("team", "is_empty", serde_json::Value::Null), "team is \"\"");
        assert!(!matches("office", "is_empty", serde_json::Value::Null));
        assert!(matches("office", "is_not_empty", serde_json::Value::Null));
        assert!(!matches("team", "is_not_empty", serde_json::Value::Null));
        assert!(matches("custom.missing", "is_empty", serde_json::Value::Null));
    }

    #[test]
    fn status_compares_the_canonical_status_name() {
        assert!(matches("status", "equals", json!("ACTIVE")));
        assert!(matches("status", "not_in", json!(["inactive", "leave"])));
    }

    #[test]
    fn supervisor_and_custom_fields_accept_hyphens_and_spaces_around_names() {
        assert!(matches("supervisor.first-name", "equals", json!("zoë")));
        assert!(matches(" supervisor.last_name ", "equals", json!("ÖZTÜRK")));
        assert!(matches("supervisor.email", "is_empty", serde_json::Value::Null));
        assert!(matches("custom.dynamic_87541", "equals", json!("kst 4711")));
        assert!(matches("custom.Cost-Center", "equals", json!("cc-1")));
        assert!(matches("custom.Cost_Center", "equals", json!("cc-1")));
    }

    #[test]
    fn numbers_and_booleans_compare_as_their_text() {
        assert!(matches("custom.weekly_hours", "equals", json!(40)));
        assert!(matches("custom.weekly_hours", "in", json!([38, "40"])));
        assert!(matches("custom.remote", "equals", json!(true)));
        assert!(matches("hr_id", "equals", json!(42)));
        assert!(!matches("custom.weekly_hours", "equals", json!(40.0)));
    }

    #[test]
    fn an_unknown_field_is_refused_naming_the_field_and_where_it_is() {
        let (field, message) = compile_error(json!({
            "include": [{ "all": [{ "field": "status", "op": "is_not_empty" }] }],
            "exclude": [{ "name": "x", "all": [
                { "field": "office", "op": "is_empty" },
                { "field": "departement", "op": "equals", "value": "IT" },
            ] }],
        }));
        assert_eq!(field, "exclude[0].all[1].field");
        assert!(
            message.starts_with("unknown field `departement`; use one of hr_id, email"),
            "{message}"
        );
        assert!(message.ends_with("or custom.<name>"), "{message}");
        for unknown in ["supervisor.office", "custom.", "Department", ""] {
            let (field, message) =
                compile_error(json!({ "include": [{ "all": [{ "field": unknown, "op": "is_empty" }] }] }));
            assert_eq!(field, "include[0].all[0].field");
            assert!(message.starts_with(&format!("unknown field `{unknown}`")), "{message}");
        }
    }

    #[test]
    fn values_that_do_not_fit_the_operator_are_refused_naming_the_value() {
        let cases = [
            (
                json!({ "field": "office", "op": "equals" }),
                "`equals` needs a text value",
            ),
            (
                json!({ "field": "office", "op": "not_equals", "value": ["a"] }),
                "`not_equals` needs a text value",
            ),
            (
                json!({ "field": "office", "op": "in", "value": "Köln" }),
                "`in` needs a list of values",
            ),
            (
                json!({ "field": "office", "op": "not_in", "value": [{ "x": 1 }] }),
                "list items must be text",
            ),
            (
                json!({ "field": "office", "op": "regex", "value": 5 }),
                "`regex` needs a pattern",
            ),
        ];
        for (clause, expected) in cases {
            let (field, message) = compile_error(json!({ "exclude": [{ "all": [clause.clone()] }] }));
            assert_eq!(field, "exclude[0].all[0].value", "{clause}");
            assert_eq!(message, expected, "{clause}");
        }
        let (field, message) =
            compile_error(json!({ "exclude": [{ "all": [{ "field": "office", "op": "regex", "value": "(" }] }] }));
        assert_eq!(field, "exclude[0].all[0].value");
        assert!(message.starts_with("invalid regex: "), "{message}");
    }

    #[test]
    fn dates_before_after_and_within_a_distance_from_today() {
        let hired = |date: &str| Employee {
            hire_date: Some(date.into()),
            ..employee()
        };
        // Hired more than 30 days ahead (today is 2026-01-31: after 2026-03-02).
        let ahead = scope(
            json!({ "exclude": [{ "name": "not yet", "all": [{ "field": "hire_date", "op": "after", "value": "+30d" }] }] }),
        );
        assert!(decide(&ahead, hired("2026-03-03")).is_err());
        assert!(
            decide(&ahead, hired("2026-03-02")).is_ok(),
            "30 days ahead is not more than 30"
        );
        assert!(
            decide(&ahead, hired("2026-03-03T00:00:00+01:00")).is_err(),
            "a date-time's date"
        );
        assert!(
            decide(&ahead, hired("03.03.2026")).is_ok(),
            "not a date: no date test matches"
        );
        assert!(decide(
            &ahead,
            Employee {
                hire_date: None,
                ..employee()
            }
        )
        .is_ok());
        // Left before today.
        let left = scope(
            json!({ "exclude": [{ "all": [{ "field": "termination_date", "op": "before", "value": "today" }] }] }),
        );
        let leaving = |date: &str| Employee {
            termination_date: Some(date.into()),
            ..employee()
        };
        assert!(decide(&left, leaving("2026-01-30")).is_err());
        assert!(
            decide(&left, leaving("2026-01-31")).is_ok(),
            "leaving today: still here"
        );
        // Hired in the last 90 days, both ends included; an absolute date.
        let recent =
            scope(json!({ "include": [{ "all": [{ "field": "hire_date", "op": "within", "value": "-90d" }] }] }));
        assert!(decide(&recent, hired("2025-11-02")).is_ok());
        assert!(decide(&recent, hired("2026-01-31")).is_ok());
        assert!(decide(&recent, hired("2025-11-01")).is_err());
        assert!(
            decide(&recent, hired("2026-02-01")).is_err(),
            "not yet hired is not in the last 90 days"
        );
        let fixed =
            scope(json!({ "exclude": [{ "all": [{ "field": "hire_date", "op": "before", "value": "2020-01-01" }] }] }));
        assert!(decide(&fixed, hired("2019-12-31")).is_err());
        // A custom date field, by its name.
        let custom = scope(
            json!({ "exclude": [{ "all": [{ "field": "custom.probation_end", "op": "after", "value": "today" }] }] }),
        );
        let mut on_probation = employee();
        on_probation.custom.push(Attribute {
            name: "probation_end".into(),
            value: AttributeValue::Date("2026-04-30".into()),
        });
        assert!(decide(&custom, on_probation).is_err());
        assert!(decide(&custom, employee()).is_ok());
    }

    #[test]
    fn a_date_that_is_no_date_is_refused_naming_the_value() {
        for (value, expected) in [
            (
                json!("+30"),
                "`+30` is not a date: write `today`, a date like `2026-12-31`",
            ),
            (json!("tomorrow"), "`tomorrow` is not a date"),
            (json!("2026-02-30"), "`2026-02-30` is not a date"),
            (json!(30), "`after` needs a date: `today`, `2026-12-31` or `+30d`"),
        ] {
            let (field, message) = compile_error(
                json!({ "exclude": [{ "all": [{ "field": "hire_date", "op": "after", "value": value }] }] }),
            );
            assert_eq!(field, "exclude[0].all[0].value");
            assert!(message.starts_with(expected), "{message}");
        }
        let config: ScopeConfig = serde_json::from_value(json!({ "time_zone": "Europe/Berln" })).unwrap();
        let zone = hrsync_sdk::time::parse_time_zone(config.time_zone.as_deref().unwrap()).unwrap_err();
        assert!(zone.contains("not a time zone"), "{zone}");
    }

    #[test]
    fn a_filter_without_clauses_is_refused() {
        let (field, message) = compile_error(json!({ "include": [{ "name": "none", "all": [] }] }));
        assert_eq!(field, "include[0].all");
        assert_eq!(message, "a filter needs at least one clause");
    }

    #[test]
    fn unknown_operators_and_keys_are_config_errors() {
        for config in [
            json!({ "include": [{ "all": [{ "field": "office", "op": "contains", "value": "K" }] }] }),
            json!({ "include": [{ "all": [{ "field": "office", "op": "Equals", "value": "K" }] }] }),
            json!({ "include": [{ "all": [{ "field": "office", "op": "equals", "values": ["K"] }] }] }),
            json!({ "includes": [] }),
        ] {
            assert!(
                serde_json::from_value::<ScopeConfig>(config.clone()).is_err(),
                "{config}"
            );
        }
    }

    #[test]
    fn needs_lists_each_compared_field_once_with_its_first_filter_but_not_emptiness_tests() {
        let scope = scope(json!({
            "include": [{ "name": "staff", "all": [
                { "field": "employment-type", "op": "equals", "value": "internal" },
                { "field": "termination_date", "op": "is_empty" },
            ] }],
            "exclude": [
                { "all": [{ "field": "employment_type", "op": "equals", "value": "external" }] },
                { "name": "boss", "all": [{ "field": "supervisor.email", "op": "regex", "value": "@" }] },
                { "name": "unassigned", "all": [{ "field": "department", "op": "is_not_empty" }] },
            ],
        }));
        assert_eq!(
            scope.needs(),
            vec![
                ("employment_type".to_string(), "filter `staff`".to_string()),
                ("supervisor.email".to_string(), "filter `boss`".to_string()),
            ]
        );
    }

    #[test]
    fn expectations_are_the_fixed_values_of_each_comparison() {
        let scope = scope(json!({
            "include": [{ "name": "staff", "all": [
                { "field": "status", "op": "not_equals", "value": "Inactive" },
                { "field": "hire_date", "op": "before", "value": "+30d" },
            ] }],
            "exclude": [
                { "name": "externals", "all": [{ "field": "employment_type", "op": "in", "value": ["externl", "Freelance"] }] },
                { "name": "boss", "all": [{ "field": "supervisor.email", "op": "regex", "value": "@" }] },
            ],
        }));
        assert_eq!(
            scope.expectations(),
            vec![
                (
                    "status".to_string(),
                    vec!["inactive".to_string()],
                    "filter `staff`".to_string()
                ),
                (
                    "employment_type".to_string(),
                    vec!["externl".to_string(), "freelance".to_string()],
                    "filter `externals`".to_string()
                ),
            ]
        );
    }
}
