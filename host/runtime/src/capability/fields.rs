//! What plugins say about employee fields (`fields` in wit/host.wit, since
//! 1.1.0): a source names the fields the HR system withheld and the labels
//! of custom fields, a rule the fields it needs and the values it compares
//! them with. The host only collects them here, per session; the sync
//! engine decides what they mean for a run (host/engine/src/fields.rs).

use wasmtime::component::{HasSelf, Linker};

use super::config::Redactor;
use super::{Capability, SessionContext};
use crate::bindings::v1::fields::{self, Host};
use crate::state::PluginState;

/// A plugin cannot make the host hold more than this many statements.
const MAX_STATEMENTS: usize = 256;
const MAX_FIELD_BYTES: usize = 200;
const MAX_REASON_BYTES: usize = 1000;
/// Values one `expect` call may name; more are dropped.
const MAX_VALUES: usize = 100;

/// A field and what the plugin said about it: the hint of a source, the
/// purpose of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldStatement {
    /// As rules name fields: `employment_type`, `custom.Cost center`.
    pub field: String,
    pub reason: String,
}

/// Values a rule compares a field with (`expect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueExpectation {
    pub field: String,
    pub values: Vec<String>,
    /// What for: `filter "externals"`, `team "Sales" (only)`.
    pub purpose: String,
}

/// Everything a session's plugin said, each field once (a label: each
/// custom field once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldReports {
    pub unreadable: Vec<FieldStatement>,
    pub required: Vec<FieldStatement>,
    pub expected: Vec<ValueExpectation>,
    /// Custom field (`custom.dynamic_87541`) → its label (`reason`: `Cost
    /// center`).
    pub labels: Vec<FieldStatement>,
    /// The account attributes a target can set; `None`: it did not say.
    pub accepted: Option<Vec<String>>,
}

/// The capability: the session's statements, masked.
#[derive(Debug)]
pub struct FieldStatements {
    reports: FieldReports,
    redactor: Redactor,
}

impl FieldStatements {
    pub fn reports(&self) -> &FieldReports {
        &self.reports
    }
}

impl Capability for FieldStatements {
    fn link(linker: &mut Linker<PluginState>, get: fn(&mut PluginState) -> &mut Self) -> wasmtime::Result<()> {
        fields::add_to_linker::<_, HasSelf<FieldStatements>>(linker, get)
    }

    fn prepare(context: &SessionContext<'_>) -> Self {
        Self {
            reports: FieldReports::default(),
            redactor: context.redactor.clone(),
        }
    }
}

/// `first-name` and `first_name` are one field; custom names keep their
/// spelling after the prefix.
pub fn normalize_field(name: &str) -> String {
    let name = name.trim();
    match name.strip_prefix("custom.") {
        Some(custom) => format!("custom.{}", custom.trim()),
        None => name.replace('-', "_"),
    }
}

fn cut(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut at = limit;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push('…');
    }
    text
}

fn note(list: &mut Vec<FieldStatement>, field: String, reason: String) {
    let field = normalize_field(&cut(field, MAX_FIELD_BYTES));
    if field.is_empty() || list.len() >= MAX_STATEMENTS || list.iter().any(|s| s.field == field) {
        return;
    }
    list.push(FieldStatement {
        field,
        reason: cut(reason, MAX_REASON_BYTES),
    });
}

impl Host for FieldStatements {
    fn expect(&mut self, field: String, values: Vec<String>, purpose: String) {
        let field = normalize_field(&cut(field, MAX_FIELD_BYTES));
        let expected = &mut self.reports.expected;
        if field.is_empty() || expected.len() >= MAX_STATEMENTS {
            return;
        }
        let values = values
            .into_iter()
            .take(MAX_VALUES)
            .map(|v| cut(v, MAX_FIELD_BYTES))
            .filter(|v| !v.trim().is_empty())
            .collect();
        expected.push(ValueExpectation {
            field,
            values,
            purpose: cut(self.redactor.redact(&purpose), MAX_REASON_BYTES),
        });
    }

    fn accepts(&mut self, attributes: Vec<String>) {
        let accepted = self.reports.accepted.get_or_insert_with(Vec::new);
        for attribute in attributes {
            let attribute = cut(attribute.trim().to_string(), MAX_FIELD_BYTES);
            if accepted.len() < MAX_STATEMENTS && !attribute.is_empty() && !accepted.contains(&attribute) {
                accepted.push(attribute);
            }
        }
    }

    fn label(&mut self, field: String, label: String) {
        let label = cut(label.trim().to_string(), MAX_FIELD_BYTES);
        if !field.trim().starts_with("custom.") || label.is_empty() {
            return;
        }
        note(&mut self.reports.labels, field, label);
    }

    fn unreadable(&mut self, field: String, hint: String) {
        let hint = self.redactor.redact(&hint);
        note(&mut self.reports.unreadable, field, hint);
    }

    fn require(&mut self, field: String, purpose: String) {
        let purpose = self.redactor.redact(&purpose);
        note(&mut self.reports.required, field, purpose);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_field_once_and_bounded() {
        let mut list = Vec::new();
        note(&mut list, "employment-type".into(), "filter".into());
        note(&mut list, " employment_type".into(), "again".into());
        note(&mut list, "custom. Cost center".into(), "x".repeat(5000));
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].field, "employment_type");
        assert_eq!(list[1].field, "custom.Cost center");
        assert!(list[1].reason.len() <= MAX_REASON_BYTES + '…'.len_utf8());
        for i in 0..1000 {
            note(&mut list, format!("custom.f{i}"), String::new());
        }
        assert_eq!(list.len(), MAX_STATEMENTS);
    }
}
