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
//! A **source** calls [`unreadable`] for each field the HR system did not
//! return at all (not released to the API credentials, say), with a hint how
//! to release it; tests show them, and runs whose rules need them stop.

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
