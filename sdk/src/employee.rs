//! Reading an employee's fields by name, as rules and templates name them.

use crate::{AttributeValue, Employee, EmployeeStatus};

/// Field names rules may use, besides `custom.<name>` and `supervisor.<field>`.
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

impl EmployeeStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            EmployeeStatus::Onboarding => "onboarding",
            EmployeeStatus::Active => "active",
            EmployeeStatus::Leave => "leave",
            EmployeeStatus::Inactive => "inactive",
        }
    }
}

impl AttributeValue {
    /// The value as text: numbers in decimal, booleans as `true`/`false`,
    /// lists joined with `, `.
    pub fn to_text(&self) -> String {
        match self {
            AttributeValue::Text(s) | AttributeValue::Date(s) => s.clone(),
            AttributeValue::Integer(i) => i.to_string(),
            AttributeValue::Decimal(d) => d.to_string(),
            AttributeValue::Boolean(b) => b.to_string(),
            AttributeValue::TextList(items) => items.join(", "),
        }
    }
}

impl Employee {
    /// A field by name (`department`, `supervisor.last_name`,
    /// `custom.cost_center`); None when empty or unknown. Names accept `-`
    /// for `_`. Use [`is_known_field`] to tell unknown names from empty ones.
    pub fn field(&self, name: &str) -> Option<String> {
        let name = name.replace('-', "_");
        if let Some(custom) = name.strip_prefix("custom.") {
            return self
                .custom
                .iter()
                .find(|a| a.name == custom || a.name.replace('-', "_") == custom)
                .map(|a| a.value.to_text())
                .filter(|s| !s.is_empty());
        }
        let value = match name.as_str() {
            "hr_id" => Some(self.hr_id.clone()),
            "email" => self.email.clone(),
            "first_name" => Some(self.first_name.clone()),
            "last_name" => Some(self.last_name.clone()),
            "preferred_name" => self.preferred_name.clone(),
            "status" => Some(self.status.as_str().to_string()),
            "employment_type" => self.employment_type.clone(),
            "job_title" => self.job_title.clone(),
            "department" => self.department.clone(),
            "team" => self.team.clone(),
            "office" => self.office.clone(),
            "hire_date" => self.hire_date.clone(),
            "termination_date" => self.termination_date.clone(),
            "gender" => self.gender.clone(),
            "language" => self.language.clone(),
            "supervisor.hr_id" => self.supervisor.as_ref().map(|s| s.hr_id.clone()),
            "supervisor.email" => self.supervisor.as_ref().and_then(|s| s.email.clone()),
            "supervisor.first_name" => self.supervisor.as_ref().and_then(|s| s.first_name.clone()),
            "supervisor.last_name" => self.supervisor.as_ref().and_then(|s| s.last_name.clone()),
            _ => None,
        };
        value.filter(|s| !s.is_empty())
    }
}

/// Whether `name` names a field [`Employee::field`] knows.
pub fn is_known_field(name: &str) -> bool {
    let name = name.replace('-', "_");
    name.starts_with("custom.") && name.len() > 7 || FIELDS.contains(&name.as_str())
}
