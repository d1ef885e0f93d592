//! Required fields: a rule that filters on `employment_type`, or names
//! teams after `{department}`, silently does nothing when the source never
//! returns that field (Personio returns only the attributes released to the
//! API credentials). Rules say which fields they need and sources which
//! ones the HR system withheld (`fields` in wit/host.wit); this step stops
//! the run before anything is planned when a needed field is missing.
//!
//! Values and labels too: a rule that compares a field with fixed values
//! (`employment_type in [externl]`) gets a note with the plan when a full
//! read has no employee with one of them, and a custom field the source
//! labels (`dynamic_87541` is "Cost center") can be named either way.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use hrsync_model::{Attribute, Employee};
use hrsync_runtime::capability::fields::{normalize_field, FieldStatement, ValueExpectation};

/// Employee fields as rules name them, besides `custom.<name>`.
pub const FIELDS: &[&str] = &[
    "hr_id",
    "email",
    "first_name",
    "last_name",
    "preferred_name",
    "status",
    "employment_type",
    "job_title",
    "department",
    "team",
    "office",
    "hire_date",
    "termination_date",
    "gender",
    "language",
    "supervisor.hr_id",
    "supervisor.email",
    "supervisor.first_name",
    "supervisor.last_name",
];

/// An employee's field by name (`department`, `supervisor.email`,
/// `custom.Cost center`) as text, as the SDK's `Employee::field` reads it;
/// `None` when empty or unknown.
pub fn value_of<'a>(employee: &'a Employee, field: &str) -> Option<Cow<'a, str>> {
    if let Some(name) = field.strip_prefix("custom.") {
        return employee
            .custom
            .iter()
            .find(|a| a.name == name || normalize_field(&a.name) == name)
            .map(|a| Cow::<str>::Owned(a.value.to_text()))
            .filter(|v| !v.trim().is_empty());
    }
    let supervisor = employee.supervisor.as_ref();
    let value: Option<&str> = match field {
        "hr_id" => Some(&employee.hr_id),
        "email" => employee.email.as_deref(),
        "first_name" => Some(&employee.first_name),
        "last_name" => Some(&employee.last_name),
        "preferred_name" => employee.preferred_name.as_deref(),
        "status" => Some(employee.status.as_str()),
        "employment_type" => employee.employment_type.as_deref(),
        "job_title" => employee.job_title.as_deref(),
        "department" => employee.department.as_deref(),
        "team" => employee.team.as_deref(),
        "office" => employee.office.as_deref(),
        "hire_date" => employee.hire_date.as_deref(),
        "termination_date" => employee.termination_date.as_deref(),
        "gender" => employee.gender.as_deref(),
        "language" => employee.language.as_deref(),
        "supervisor.hr_id" => supervisor.map(|s| s.hr_id.as_str()),
        "supervisor.email" => supervisor.and_then(|s| s.email.as_deref()),
        "supervisor.first_name" => supervisor.and_then(|s| s.first_name.as_deref()),
        "supervisor.last_name" => supervisor.and_then(|s| s.last_name.as_deref()),
        _ => None,
    };
    value.filter(|v| !v.trim().is_empty()).map(Cow::Borrowed)
}

/// Adds each custom attribute the source labelled (`custom.dynamic_87541`
/// → `Cost center`) again under its label, so that rules may name either.
/// A label that is already an attribute's name is left alone, and of two
/// fields with one label the first (in the source's order) keeps it.
pub fn alias_labels(employees: &mut [Employee], labels: &[FieldStatement]) {
    let by_key: HashMap<&str, &str> = labels
        .iter()
        .filter_map(|s| Some((s.field.strip_prefix("custom.")?, s.reason.as_str())))
        .collect();
    if by_key.is_empty() {
        return;
    }
    for employee in employees {
        let mut aliases: Vec<Attribute> = Vec::new();
        for attribute in &employee.custom {
            let Some(label) = by_key.get(attribute.name.as_str()) else {
                continue;
            };
            // Two fields with one label: the first keeps it.
            let taken = employee.custom.iter().chain(&aliases).any(|b| b.name == *label);
            if !taken {
                aliases.push(Attribute {
                    name: label.to_string(),
                    value: attribute.value.clone(),
                });
            }
        }
        employee.custom.extend(aliases);
    }
}

/// Values of a field a rule compares with, and which of them a read had.
#[derive(Debug, Clone, Default)]
struct ValuesOfField {
    /// Lowercased value → seen.
    wanted: HashMap<String, bool>,
    /// Distinct values read, by lowercase: as first written, and how many.
    read: BTreeMap<String, (String, usize)>,
}

/// Distinct values of a field a note lists.
const VALUES_SHOWN: usize = 12;
/// Distinct values of a field counted at most (a field of free text, such
/// as a job title, has about as many as employees).
const VALUES_COUNTED: usize = 1000;

/// Which fields a read returned for at least one employee, and which of
/// the values rules compare fields with.
#[derive(Debug, Clone, Default)]
pub struct FieldPresence {
    standard: [bool; FIELDS.len()],
    custom: HashSet<String>,
    values: BTreeMap<String, ValuesOfField>,
}

impl FieldPresence {
    /// Looks out for the values the rules compare fields with.
    pub fn expect(&mut self, expectations: &[ValueExpectation]) {
        for expectation in expectations {
            let tracked = self.values.entry(expectation.field.clone()).or_default();
            for value in &expectation.values {
                tracked.wanted.entry(value.trim().to_lowercase()).or_insert(false);
            }
        }
    }

    pub fn observe(&mut self, employee: &Employee) {
        for (index, seen) in self.standard.iter_mut().enumerate() {
            if !*seen {
                *seen = value_of(employee, FIELDS[index]).is_some();
            }
        }
        for (field, tracked) in &mut self.values {
            let Some(value) = value_of(employee, field) else {
                continue;
            };
            let lower = value.trim().to_lowercase();
            if let Some(seen) = tracked.wanted.get_mut(&lower) {
                *seen = true;
            }
            let known = tracked.read.len();
            match tracked.read.get_mut(&lower) {
                Some((_, count)) => *count += 1,
                None if known < VALUES_COUNTED => {
                    tracked.read.insert(lower, (value.trim().to_string(), 1));
                }
                None => {}
            }
        }
        for attribute in &employee.custom {
            if !self.custom.contains(&attribute.name) && !attribute.value.to_text().trim().is_empty() {
                self.custom.insert(attribute.name.clone());
            }
        }
    }

    /// Whether some employee had `field` (normalized) filled.
    pub fn seen(&self, field: &str) -> bool {
        if let Some(name) = field.strip_prefix("custom.") {
            return self
                .custom
                .iter()
                .any(|seen| seen == name || normalize_field(seen) == name);
        }
        match FIELDS.iter().position(|f| *f == field) {
            Some(index) => self.standard[index],
            // Not a field the host knows: the rule's own config check
            // names it; nothing to measure here.
            None => true,
        }
    }
}

/// A field a rule needs, and which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// `rules[0] (scope-rule)`
    pub rule: String,
    pub field: String,
    pub purpose: String,
}

/// A needed field the source did not deliver: the run stops before it plans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule} needs the field `{field}` ({purpose}), but {why}; {remedy}. Nothing was changed.")]
pub struct MissingField {
    pub rule: String,
    pub field: String,
    pub purpose: String,
    pub why: String,
    pub remedy: String,
}

/// Where Personio, the common case, releases attributes to an API client.
const IN_PERSONIO: &str = "in Personio: Settings → Integrations → API credentials → readable employee attributes";

/// Fields empty for everyone in the normal course — nobody is leaving — so
/// that their absence from a whole read says nothing of the source. Only
/// the source's own word that it cannot read them stops a run.
const EMPTY_FOR_ALL_IS_NORMAL: &[&str] = &["termination_date"];

/// Stops a run whose rules need a field the source withheld, or — on a
/// full read of `full_read` employees — returned for nobody (unless that
/// is normal for the field).
pub fn check(
    needs: &[Need],
    unreadable: &[FieldStatement],
    presence: &FieldPresence,
    full_read: Option<usize>,
) -> Result<(), MissingField> {
    for need in needs {
        let missing = |why: String, remedy: String| MissingField {
            rule: need.rule.clone(),
            field: need.field.clone(),
            purpose: need.purpose.clone(),
            why,
            remedy,
        };
        if let Some(statement) = unreadable.iter().find(|s| s.field == need.field) {
            let remedy = if statement.reason.trim().is_empty() {
                format!(
                    "release the attribute to the API credentials in the HR system ({IN_PERSONIO}), or change the rule"
                )
            } else {
                format!("{}, or change the rule", statement.reason.trim().trim_end_matches('.'))
            };
            return Err(missing("the source could not read it".into(), remedy));
        }
        if let Some(read) = full_read.filter(|read| *read > 0) {
            if !presence.seen(&need.field) && !EMPTY_FOR_ALL_IS_NORMAL.contains(&need.field.as_str()) {
                let why = format!(
                    "the source returned it for none of the {read} employee{} read",
                    if read == 1 { "" } else { "s" }
                );
                // Released but empty for everyone looks the same from here.
                let remedy = format!(
                    "fill it in the HR system, or if the HR system withholds it, release it to the API credentials \
                     ({IN_PERSONIO}); or change the rule"
                );
                return Err(missing(why, remedy));
            }
        }
    }
    Ok(())
}

/// An account attribute the rules set that the target cannot take: the run
/// stops before it plans, rather than failing every create.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the rules set the account attribute `{attribute}` for {employees} employee(s) (e.g. HR id {example}), \
     but the target takes only: {known}.{hint} Rename it in the rule (attribute-map `target`, or the keys a script's \
     attributes() returns). Nothing was changed."
)]
pub struct UnknownAttribute {
    pub attribute: String,
    pub employees: usize,
    pub example: String,
    pub known: String,
    /// ` Did you mean `cost_center`?` when a known name differs only in
    /// case, `_` or `-`.
    pub hint: String,
}

/// Stops a run whose rules set an account attribute the target said it
/// cannot take (`fields.accepts`); a target that said nothing takes any.
pub fn check_attributes<'a>(
    desired: impl Iterator<Item = (&'a str, &'a [Attribute])>,
    accepted: Option<&[String]>,
) -> Result<(), UnknownAttribute> {
    let Some(accepted) = accepted else { return Ok(()) };
    let mut unknown: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for (hr_id, attributes) in desired {
        for attribute in attributes {
            if !accepted.contains(&attribute.name) {
                let entry = unknown.entry(attribute.name.as_str()).or_insert((0, hr_id));
                entry.0 += 1;
            }
        }
    }
    let Some((attribute, (employees, example))) = unknown.into_iter().max_by_key(|(_, (count, _))| *count) else {
        return Ok(());
    };
    let plain = |name: &str| name.to_lowercase().replace(['_', '-'], "");
    let hint = accepted
        .iter()
        .find(|known| plain(known) == plain(attribute))
        .map(|known| format!(" Did you mean `{known}`?"))
        .unwrap_or_default();
    Err(UnknownAttribute {
        attribute: attribute.to_string(),
        employees,
        example: example.to_string(),
        known: accepted.join(", "),
        hint,
    })
}

/// Each value a rule compares a field with that no employee of a full read
/// has, as a note: the rule, the field, the value, and the values the read
/// had.
pub fn unmatched_values(rules: &[(String, Vec<ValueExpectation>)], presence: &FieldPresence) -> Vec<String> {
    let mut notes = Vec::new();
    for (rule, expectations) in rules {
        for expectation in expectations {
            let Some(tracked) = presence.values.get(&expectation.field) else {
                continue;
            };
            let missing: Vec<String> = expectation
                .values
                .iter()
                .filter(|v| tracked.wanted.get(&v.trim().to_lowercase()) == Some(&false))
                .map(|v| format!("\"{}\"", v.trim()))
                .collect();
            if missing.is_empty() {
                continue;
            }
            let mut common: Vec<&(String, usize)> = tracked.read.values().collect();
            common.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let shown: Vec<String> = common
                .iter()
                .take(VALUES_SHOWN)
                .map(|(value, count)| format!("\"{value}\" ({count})"))
                .collect();
            let had = match shown.len() {
                0 => "no employee read has the field at all".to_string(),
                n if n < tracked.read.len() => format!("the values read include {}, ...", shown.join(", ")),
                _ => format!("the values read are {}", shown.join(", ")),
            };
            notes.push(format!(
                "{rule} {}: no employee read has {} {} — a typo? {had}",
                expectation.purpose,
                expectation.field,
                missing.join(" or "),
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use hrsync_model::{Attribute, AttributeValue, EmployeeStatus};

    fn employee(employment_type: Option<&str>) -> Employee {
        Employee {
            hr_id: "1".into(),
            email: Some("a@b.de".into()),
            first_name: "A".into(),
            last_name: "B".into(),
            preferred_name: None,
            status: EmployeeStatus::Active,
            employment_type: employment_type.map(str::to_string),
            job_title: None,
            department: Some("IT".into()),
            team: None,
            office: None,
            supervisor: None,
            hire_date: None,
            termination_date: None,
            gender: None,
            language: None,
            custom: vec![Attribute {
                name: "Cost center".into(),
                value: AttributeValue::Text("42".into()),
            }],
        }
    }

    fn need(field: &str) -> Need {
        Need {
            rule: "rules[0] (scope-rule)".into(),
            field: field.into(),
            purpose: "filter \"externals\"".into(),
        }
    }

    #[test]
    fn a_field_nobody_has_stops_a_full_read_only() {
        let mut presence = FieldPresence::default();
        presence.observe(&employee(None));
        assert!(presence.seen("department") && presence.seen("custom.Cost center"));
        assert!(!presence.seen("employment_type") && !presence.seen("custom.Other"));
        let error = check(&[need("employment_type")], &[], &presence, Some(1500)).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("rules[0] (scope-rule) needs the field `employment_type`"),
            "{message}"
        );
        assert!(message.contains("none of the 1500 employees read"), "{message}");
        assert!(
            message.contains("fill it in the HR system, or if the HR system withholds it, release it"),
            "{message}"
        );
        // An incremental read of a few employees proves nothing.
        assert!(check(&[need("employment_type")], &[], &presence, None).is_ok());
        presence.observe(&employee(Some("external")));
        assert!(check(&[need("employment_type")], &[], &presence, Some(2)).is_ok());
    }

    #[test]
    fn a_termination_date_nobody_has_is_normal_but_a_withheld_one_stops_the_run() {
        let mut presence = FieldPresence::default();
        presence.observe(&employee(Some("internal")));
        assert!(check(&[need("termination_date")], &[], &presence, Some(1500)).is_ok());
        let withheld = [FieldStatement {
            field: "termination_date".into(),
            reason: String::new(),
        }];
        assert!(check(&[need("termination_date")], &withheld, &presence, Some(1500)).is_err());
    }

    #[test]
    fn a_withheld_field_stops_any_read_with_the_sources_hint() {
        let presence = FieldPresence::default();
        let withheld = [FieldStatement {
            field: "employment_type".into(),
            reason: "release `employment_type` in Personio's API credentials".into(),
        }];
        let error = check(&[need("employment_type")], &withheld, &presence, None).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("could not read it; release `employment_type`"),
            "{error}"
        );
        assert!(check(&[need("department")], &withheld, &presence, None).is_ok());
    }

    #[test]
    fn a_compared_value_nobody_has_is_named_with_the_values_read() {
        let expectation = |values: &[&str]| ValueExpectation {
            field: "employment_type".into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            purpose: "filter `externals`".into(),
        };
        let rules = vec![(
            "rules[0] (scope-rule)".to_string(),
            vec![expectation(&["externl", "Freelance"]), expectation(&["INTERNAL"])],
        )];
        let mut presence = FieldPresence::default();
        presence.expect(&rules[0].1);
        for kind in ["internal", "internal", "External", "freelance"] {
            presence.observe(&employee(Some(kind)));
        }
        let notes = unmatched_values(&rules, &presence);
        assert_eq!(
            notes,
            [
                "rules[0] (scope-rule) filter `externals`: no employee read has employment_type \"externl\" — \
              a typo? the values read are \"internal\" (2), \"External\" (1), \"freelance\" (1)"
            ]
        );
    }

    #[test]
    fn a_labelled_custom_field_can_be_named_by_its_label() {
        let mut employees = vec![employee(None)];
        employees[0].custom = vec![Attribute {
            name: "dynamic_87541".into(),
            value: AttributeValue::Text("KST 4711".into()),
        }];
        let labels = [FieldStatement {
            field: "custom.dynamic_87541".into(),
            reason: "Kostenstelle".into(),
        }];
        alias_labels(&mut employees, &labels);
        assert_eq!(
            value_of(&employees[0], "custom.Kostenstelle").as_deref(),
            Some("KST 4711")
        );
        assert_eq!(
            value_of(&employees[0], "custom.dynamic_87541").as_deref(),
            Some("KST 4711")
        );
        alias_labels(&mut employees, &labels);
        assert_eq!(employees[0].custom.len(), 2, "an alias once");
        // Two fields with one label: the first keeps it.
        employees[0].custom = vec![
            Attribute {
                name: "dynamic_1".into(),
                value: AttributeValue::Text("first".into()),
            },
            Attribute {
                name: "dynamic_2".into(),
                value: AttributeValue::Text("second".into()),
            },
        ];
        let twice = ["custom.dynamic_1", "custom.dynamic_2"].map(|field| FieldStatement {
            field: field.into(),
            reason: "Bereich".into(),
        });
        alias_labels(&mut employees, &twice);
        assert_eq!(employees[0].custom.len(), 3);
        assert_eq!(value_of(&employees[0], "custom.Bereich").as_deref(), Some("first"));
    }

    #[test]
    fn an_attribute_the_target_cannot_take_stops_the_run_with_the_nearest_name() {
        let title = Attribute {
            name: "title".into(),
            value: AttributeValue::Text("CTO".into()),
        };
        let cost = Attribute {
            name: "costCenter".into(),
            value: AttributeValue::Text("KST 1".into()),
        };
        let with_cost = [title.clone(), cost];
        let only_title = [title];
        let desired = || [("1", &only_title[..]), ("2", &with_cost[..]), ("3", &with_cost[..])].into_iter();
        let known = ["title".to_string(), "cost_center".to_string()];
        let error = check_attributes(desired(), Some(&known)).unwrap_err();
        assert_eq!(
            (error.attribute.as_str(), error.employees, error.example.as_str()),
            ("costCenter", 2, "2")
        );
        assert!(
            error
                .to_string()
                .contains("cost_center. Did you mean `cost_center`? Rename it"),
            "{error}"
        );
        assert!(
            check_attributes(desired(), None).is_ok(),
            "a target that did not say takes any"
        );
    }
}
