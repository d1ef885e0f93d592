//! Tell the host which employee fields matter (`fields` in wit/host.wit).
//!
//! A **rule** calls [`require`] for each field its config depends on —
//! typically in [`Rule::new`](crate::Rule::new), once per run — so that a
//! run whose source never returns the field stops with an error naming the
//! field and the rule, instead of a filter that silently matches nobody.
//! Require only what makes the rule meaningless when absent: a filter
//! `employment_type equals "external"` needs `employment_type`; a filter
//! `termination_date is_empty` does not.
//!
//! A rule that compares a field with fixed values (a filter
//! `employment_type in [external, freelance]`, a team's `only`) also calls
//! [`expect`] with them (since 1.2.0): a value no employee of a full read
//! has — a typo such as `externl` — becomes a note of the run's plan,
//! naming the value and the values the read did have.
//!
//! A **source** calls [`unreadable`] for each field the HR system did not
//! return at all (not released to the API credentials, say), with a hint how
//! to release it; tests show them, and runs whose rules need them stop. A
//! source whose custom fields have keys and labels (Personio's
//! `dynamic_87541` is "Cost center") names them by key and calls [`label`]
//! once per field (since 1.2.0): rules may then write either
//! `custom.dynamic_87541` or `custom.Cost center`.
//!
//! A **target** with a fixed set of account attributes names them (since
//! 1.2.0) — in Rust by implementing `Target::accepted_attributes`, which the
//! SDK passes to [`accepts`] when the host asks for the capabilities: a rule
//! that sets `costCenter` for a target that knows `cost_center` then stops
//! the dry run and the run before anything is planned, instead of failing
//! every create.

use crate::bindings::source::hrsync::plugin::fields;

/// This rule needs `field` (as rules name fields: `employment_type`,
/// `supervisor.email`, `custom.Cost center`) for `purpose`.
pub fn require(field: &str, purpose: &str) {
    fields::require(field, purpose);
}

/// The HR system withheld `field`; `hint` says how to release it.
pub fn unreadable(field: &str, hint: &str) {
    fields::unreadable(field, hint);
}

/// This rule compares `field` with `values` (ignoring case) for `purpose`.
pub fn expect(field: &str, values: &[String], purpose: &str) {
    fields::expect(field, values, purpose);
}

/// The custom field `field` (`custom.dynamic_87541`) is labelled `label`
/// (`Cost center`) in the HR system.
pub fn label(field: &str, label: &str) {
    fields::label(field, label);
}

/// This target can set these account attributes (`title`, `cost_center`);
/// a run whose rules set another stops before anything is planned. Call it
/// from `get-capabilities`, which the host calls first in every run (the
/// Rust SDK does, from `Target::accepted_attributes`).
pub fn accepts(attributes: &[String]) {
    fields::accepts(attributes);
}
