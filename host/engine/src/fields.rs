//! Required fields: a rule that filters on `employment_type`, or names
//! teams after `{department}`, silently does nothing when the source never
//! returns that field (Personio returns only the attributes released to the
//! API credentials). Rules say which fields they need and sources which
//! ones the HR system withheld (`fields` in wit/host.wit); this step stops
//! the run before anything is planned when a needed field is missing.

use std::collections::HashSet;

use hrsync_model::Employee;
use hrsync_runtime::capability::fields::{normalize_field, FieldStatement};

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

fn filled(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.trim().is_empty())
}

/// Whether `employee` has a value for the standard field at `index` of
/// [`FIELDS`].
fn has_standard(employee: &Employee, index: usize) -> bool {
    let supervisor = employee.supervisor.as_ref();
    match FIELDS[index] {
        "hr_id" => filled(Some(&employee.hr_id)),
        "email" => filled(employee.email.as_deref()),
        "first_name" => filled(Some(&employee.first_name)),
        "last_name" => filled(Some(&employee.last_name)),
        "preferred_name" => filled(employee.preferred_name.as_deref()),
        // Every employee has a status.
        "status" => true,
        "employment_type" => filled(employee.employment_type.as_deref()),
        "job_title" => filled(employee.job_title.as_deref()),
        "department" => filled(employee.department.as_deref()),
        "team" => filled(employee.team.as_deref()),
        "office" => filled(employee.office.as_deref()),
        "hire_date" => filled(employee.hire_date.as_deref()),
        "termination_date" => filled(employee.termination_date.as_deref()),
        "gender" => filled(employee.gender.as_deref()),
        "language" => filled(employee.language.as_deref()),
        "supervisor.hr_id" => supervisor.is_some_and(|s| filled(Some(&s.hr_id))),
        "supervisor.email" => supervisor.is_some_and(|s| filled(s.email.as_deref())),
        "supervisor.first_name" => supervisor.is_some_and(|s| filled(s.first_name.as_deref())),
        "supervisor.last_name" => supervisor.is_some_and(|s| filled(s.last_name.as_deref())),
        _ => false,
    }
}

/// Which fields a read returned for at least one employee.
#[derive(Debug, Clone, Default)]
pub struct FieldPresence {
    standard: [bool; FIELDS.len()],
    custom: HashSet<String>,
}

impl FieldPresence {
    pub fn observe(&mut self, employee: &Employee) {
        for (index, seen) in self.standard.iter_mut().enumerate() {
            if !*seen {
                *seen = has_standard(employee, index);
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
}
