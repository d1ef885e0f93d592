//! Reading an employee's fields by name, as rules and templates name them.

use std::borrow::Cow;

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

impl AttributeValue {
    /// The value as text, borrowed where it already is text.
    pub fn as_text(&self) -> Cow<'_, str> {
        match self {
            AttributeValue::Text(s) | AttributeValue::Date(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.to_text()),
        }
    }
}

impl Employee {
    /// A field by name (`department`, `supervisor.last_name`,
    /// `custom.cost_center`); None when empty, blank or unknown (a
    /// department of "  " names no team). Pass names through
    /// [`normalize_field`] once (rules do it when they compile their
    /// config); use [`is_known_field`] to tell unknown names from empty ones.
    pub fn field(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some(custom) = name.strip_prefix("custom.") {
            return self
                .custom
                .iter()
                .find(|a| a.name == custom || normalize_field(&a.name) == custom)
                .map(|a| a.value.as_text())
                .filter(|s| !s.trim().is_empty());
        }
        let supervisor = self.supervisor.as_ref();
        let value: Option<&str> = match name {
            "hr_id" => Some(&self.hr_id),
            "email" => self.email.as_deref(),
            "first_name" => Some(&self.first_name),
            "last_name" => Some(&self.last_name),
            "preferred_name" => self.preferred_name.as_deref(),
            "status" => Some(self.status.as_str()),
            "employment_type" => self.employment_type.as_deref(),
            "job_title" => self.job_title.as_deref(),
            "department" => self.department.as_deref(),
            "team" => self.team.as_deref(),
            "office" => self.office.as_deref(),
            "hire_date" => self.hire_date.as_deref(),
            "termination_date" => self.termination_date.as_deref(),
            "gender" => self.gender.as_deref(),
            "language" => self.language.as_deref(),
            "supervisor.hr_id" => supervisor.map(|s| s.hr_id.as_str()),
            "supervisor.email" => supervisor.and_then(|s| s.email.as_deref()),
            "supervisor.first_name" => supervisor.and_then(|s| s.first_name.as_deref()),
            "supervisor.last_name" => supervisor.and_then(|s| s.last_name.as_deref()),
            _ => None,
        };
        value.filter(|s| !s.trim().is_empty()).map(Cow::Borrowed)
    }
}

/// `first-name` and `first_name` name the same field; this spells it the
/// way [`Employee::field`] expects.
pub fn normalize_field(name: &str) -> String {
    name.trim().replace('-', "_")
}

/// Whether `name` names a field [`Employee::field`] knows.
pub fn is_known_field(name: &str) -> bool {
    let name = normalize_field(name);
    name.starts_with("custom.") && name.len() > 7 || FIELDS.contains(&name.as_str())
}

impl crate::DesiredAccount {
    /// The account an employee gets when no rule says otherwise (the WIT's
    /// `subject.desired` documents this default).
    pub fn for_employee(employee: &Employee) -> Self {
        Self {
            external_id: employee.hr_id.clone(),
            user_name: employee.email.clone().unwrap_or_default(),
            email: employee.email.clone(),
            first_name: employee.first_name.clone(),
            last_name: employee.last_name.clone(),
            attributes: Vec::new(),
            create_only: Vec::new(),
            teams: Vec::new(),
            manager_hr_id: employee.supervisor.as_ref().map(|s| s.hr_id.clone()),
        }
    }
}

impl crate::Subject {
    /// What earlier rules decided, or the employee's default account.
    pub fn desired(&self) -> crate::DesiredAccount {
        self.desired
            .clone()
            .unwrap_or_else(|| crate::DesiredAccount::for_employee(&self.employee))
    }

    /// Like [`Self::desired`], without cloning.
    pub fn into_desired(self) -> crate::DesiredAccount {
        match self.desired {
            Some(desired) => desired,
            None => crate::DesiredAccount::for_employee(&self.employee),
        }
    }
}
