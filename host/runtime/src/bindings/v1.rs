//! Bindings of `hrsync:plugin@1.x` (`wit/`), generated once per world, and
//! their conversions to and from the host's own types (`hrsync_model`).
//! The `target` and `rule` worlds reuse the types and imports generated for
//! `source`, so the three worlds share one set of Rust types. Every 1.x
//! minor version loads through these bindings (a 1.0.0 component simply
//! imports less); a 2.0 gets a module of its own beside this one.

pub mod source {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "source",
        additional_derives: [PartialEq],
    });
}

pub mod target {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "target",
        with: {
            "hrsync:plugin/types": super::source::hrsync::plugin::types,
            "hrsync:plugin/http": super::source::hrsync::plugin::http,
            "hrsync:plugin/log": super::source::hrsync::plugin::log,
            "hrsync:plugin/config": super::source::hrsync::plugin::config,
            "hrsync:plugin/clock": super::source::hrsync::plugin::clock,
            "hrsync:plugin/fields": super::source::hrsync::plugin::fields,
        },
    });
}

pub mod rule {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "rule",
        additional_derives: [PartialEq],
        with: {
            "hrsync:plugin/types": super::source::hrsync::plugin::types,
            "hrsync:plugin/http": super::source::hrsync::plugin::http,
            "hrsync:plugin/log": super::source::hrsync::plugin::log,
            "hrsync:plugin/config": super::source::hrsync::plugin::config,
            "hrsync:plugin/clock": super::source::hrsync::plugin::clock,
            "hrsync:plugin/fields": super::source::hrsync::plugin::fields,
        },
    });
}

/// The records shared by every world (employee, account, change, error...).
pub use source::hrsync::plugin::types;
pub use source::hrsync::plugin::{clock, config, fields, http, log};

use hrsync_model as model;

/// A conversion across the WIT edge, in either direction. One trait with
/// blanket impls for options and lists keeps each record's conversion a
/// plain list of its fields (see `record!`).
pub(crate) trait Convert<T> {
    fn convert(self) -> T;
}

macro_rules! same {
    ($($t:ty),*) => { $(impl Convert<$t> for $t { fn convert(self) -> $t { self } })* };
}
same!(String, bool, u32, u64, i64, f64, u8, (String, String));

impl<A: Convert<B>, B> Convert<Option<B>> for Option<A> {
    fn convert(self) -> Option<B> {
        self.map(Convert::convert)
    }
}

impl<A: Convert<B>, B> Convert<Vec<B>> for Vec<A> {
    fn convert(self) -> Vec<B> {
        self.into_iter().map(Convert::convert).collect()
    }
}

/// Records with the same fields on both sides, converted both ways.
macro_rules! record {
    ($($name:ident { $($field:ident),* $(,)? })*) => {$(
        impl Convert<model::$name> for types::$name {
            fn convert(self) -> model::$name {
                model::$name { $($field: self.$field.convert()),* }
            }
        }
        impl Convert<types::$name> for model::$name {
            fn convert(self) -> types::$name {
                types::$name { $($field: self.$field.convert()),* }
            }
        }
    )*};
}

/// Enums and variants with the same cases on both sides, converted both ways.
macro_rules! cases {
    ($($name:ident { $($case:ident $(($payload:ident))?),* $(,)? })*) => {$(
        impl Convert<model::$name> for types::$name {
            fn convert(self) -> model::$name {
                match self { $(types::$name::$case $(($payload))? => model::$name::$case $(($payload.convert()))?),* }
            }
        }
        impl Convert<types::$name> for model::$name {
            fn convert(self) -> types::$name {
                match self { $(model::$name::$case $(($payload))? => types::$name::$case $(($payload.convert()))?),* }
            }
        }
    )*};
}

record! {
    Attribute { name, value }
    PersonRef { hr_id, email, first_name, last_name }
    Employee {
        hr_id, email, first_name, last_name, preferred_name, status, employment_type, job_title,
        department, team, office, supervisor, hire_date, termination_date, gender, language, custom,
    }
    RejectedRecord { hr_id, reason }
    EmployeePage { employees, rejected, next_page, cursor }
    ChangePage { employees, rejected, removed, next_page, cursor }
    WebhookRequest { headers, body }
    WebhookEvent { hr_id, kind }
    Account { id, external_id, user_name, email, first_name, last_name, active, attributes, manager_id }
    AccountPage { accounts, next_page }
    DesiredAccount {
        external_id, user_name, email, first_name, last_name, attributes, create_only, teams, manager_hr_id,
    }
    Team { id, name, external_id, member_ids }
    TeamPage { teams, next_page }
    AccountDraft { external_id, user_name, email, first_name, last_name, attributes, invite }
    FieldChange { field, before, after }
    AccountUpdate { id, changes }
    TeamDraft { name, external_id }
    TeamRename { id, before, after }
    Membership { team_id, account_id }
    ManagerLink { account_id, manager_id }
    Applied { id }
    Capabilities { teams, managers, invites, reactivation, max_batch, matching_attributes }
    RetryHint { message, retry_after_ms }
    Conflict { message, existing_id }
    InvalidField { field, message }
}

cases! {
    PluginKind { Source, Target, Rule }
    AttributeValue { Text(v), Integer(v), Decimal(v), Boolean(v), Date(v), TextList(v) }
    EmployeeStatus { Onboarding, Active, Leave, Inactive }
    WebhookEventKind { Created, Updated, Terminated, Deleted }
    Change {
        CreateAccount(v), UpdateAccount(v), DeactivateAccount(v), ReactivateAccount(v), Invite(v),
        CreateTeam(v), RenameTeam(v), AddMember(v), RemoveMember(v), LinkManager(v),
    }
    PluginError {
        Retryable(v), RateLimited(v), Conflict(v), NotFound(v), InvalidInput(v), Unauthorized(v),
        Unsupported(v), Fatal(v),
    }
}

/// The rule world's own records.
pub(crate) mod rule_api {
    pub(crate) use super::rule::exports::hrsync::plugin::rule_api::{Decision, Subject};
    use super::{model, Convert};

    impl Convert<Subject> for model::Subject {
        fn convert(self) -> Subject {
            Subject {
                employee: self.employee.convert(),
                desired: self.desired.convert(),
            }
        }
    }

    impl Convert<model::Subject> for Subject {
        fn convert(self) -> model::Subject {
            model::Subject {
                employee: self.employee.convert(),
                desired: self.desired.convert(),
            }
        }
    }

    impl Convert<model::Decision> for Decision {
        fn convert(self) -> model::Decision {
            match self {
                Decision::Exclude(reason) => model::Decision::Exclude(reason),
                Decision::Keep => model::Decision::Keep,
                Decision::Modify(desired) => model::Decision::Modify(desired.convert()),
                Decision::Reject(reason) => model::Decision::Reject(reason),
            }
        }
    }
}
