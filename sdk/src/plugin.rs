//! The three plugin traits, and the glue the export macros use to call them.
//!
//! The host creates one instance per run and calls it many times with pages
//! and batches; the plugin value built by `new` lives as long as that
//! instance, so it can keep tokens and caches between calls.

use crate::{
    Account, AccountPage, Applied, Capabilities, Change, ChangePage, Decision, EmployeePage, PluginError, PluginInfo,
    Subject, TeamPage, WebhookEvent, WebhookRequest,
};

/// An HR system.
pub trait Source: Sized + 'static {
    /// Name, version, config schema, secrets and hosts. Runs without config.
    fn info() -> PluginInfo;
    /// Builds the plugin from its config and secrets, before the first call.
    fn new() -> Result<Self, PluginError>;
    /// Checks credentials and reachability. By default reads one employee.
    fn test_connection(&mut self) -> Result<(), PluginError> {
        self.list_employees(None, 1).map(drop)
    }
    /// One page of all employees; `page` is the previous page's `next_page`.
    fn list_employees(&mut self, page: Option<String>, page_size: u32) -> Result<EmployeePage, PluginError>;
    /// Employees changed since `cursor`. By default unsupported: the host then
    /// does full reads.
    fn changes_since(
        &mut self,
        _cursor: String,
        _page: Option<String>,
        _page_size: u32,
    ) -> Result<ChangePage, PluginError> {
        Err(PluginError::unsupported("incremental reads"))
    }
    /// Turns a webhook into events. By default unsupported.
    fn parse_webhook(&mut self, _request: WebhookRequest) -> Result<Vec<WebhookEvent>, PluginError> {
        Err(PluginError::unsupported("webhooks"))
    }
}

/// A downstream app.
pub trait Target: Sized + 'static {
    fn info() -> PluginInfo;
    /// What the app supports; the host plans only that.
    fn capabilities() -> Capabilities;
    /// The account attributes this target can set (`title`, `cost_center`),
    /// told to the host with the capabilities (`fields.accepts`, which the
    /// host asks first in every run): a run whose rules set another one
    /// stops before anything is planned. `None`, the default: any.
    fn accepted_attributes() -> Option<Vec<String>> {
        None
    }
    fn new() -> Result<Self, PluginError>;
    /// By default lists one account.
    fn test_connection(&mut self) -> Result<(), PluginError> {
        self.list_accounts(None, 1).map(drop)
    }
    fn list_accounts(&mut self, page: Option<String>, page_size: u32) -> Result<AccountPage, PluginError>;
    /// By default: no teams.
    fn list_teams(&mut self, _page: Option<String>, _page_size: u32) -> Result<TeamPage, PluginError> {
        Ok(TeamPage {
            teams: Vec::new(),
            next_page: None,
        })
    }
    /// The accounts with these ids (missing ones left out). By default
    /// unsupported: the host then lists every account instead.
    fn get_accounts(&mut self, _ids: Vec<String>) -> Result<Vec<Account>, PluginError> {
        Err(PluginError::unsupported("this target cannot look accounts up by id"))
    }
    /// Applies one change.
    fn apply(&mut self, change: Change) -> Result<Applied, PluginError>;
    /// Applies changes in order, one outcome each. By default calls
    /// [`Target::apply`] for each; override for APIs with bulk endpoints.
    fn apply_batch(&mut self, changes: Vec<Change>) -> Vec<Result<Applied, PluginError>> {
        changes.into_iter().map(|change| self.apply(change)).collect()
    }
}

/// A step of the rule pipeline.
pub trait Rule: Sized + 'static {
    fn info() -> PluginInfo;
    fn new() -> Result<Self, PluginError>;
    /// One decision per subject, in order. By default calls
    /// [`Rule::evaluate_one`] for each.
    fn evaluate(&mut self, batch: Vec<Subject>) -> Result<Vec<Decision>, PluginError> {
        Ok(batch.into_iter().map(|subject| self.evaluate_one(subject)).collect())
    }
    /// By default keeps the employee with the desired account unchanged.
    fn evaluate_one(&mut self, _subject: Subject) -> Decision {
        Decision::Keep
    }
}

/// The plugin value of this instance, built on first use. A failed `new`
/// is returned to the host and tried again on the next call.
fn with_instance<P: 'static, R>(
    new: fn() -> Result<P, PluginError>,
    f: impl FnOnce(&mut P) -> Result<R, PluginError>,
) -> Result<R, PluginError> {
    use std::any::Any;
    use std::cell::RefCell;
    thread_local! {
        static INSTANCE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
    }
    INSTANCE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|b| !b.is::<P>()) {
            *slot = Some(Box::new(new()?));
        }
        match slot.as_mut().and_then(|b| b.downcast_mut::<P>()) {
            Some(plugin) => f(plugin),
            None => Err(PluginError::fatal("plugin instance unavailable")),
        }
    })
}

#[doc(hidden)]
pub mod source {
    use super::*;
    use crate::{Manifest, PluginKind};

    pub fn describe<P: Source>() -> Manifest {
        P::info().into_manifest(PluginKind::Source)
    }
    pub fn test_connection<P: Source>() -> Result<(), PluginError> {
        with_instance(P::new, |p: &mut P| p.test_connection())
    }
    pub fn list_employees<P: Source>(page: Option<String>, size: u32) -> Result<EmployeePage, PluginError> {
        with_instance(P::new, |p: &mut P| p.list_employees(page, size))
    }
    pub fn changes_since<P: Source>(
        cursor: String,
        page: Option<String>,
        size: u32,
    ) -> Result<ChangePage, PluginError> {
        with_instance(P::new, |p: &mut P| p.changes_since(cursor, page, size))
    }
    pub fn parse_webhook<P: Source>(request: WebhookRequest) -> Result<Vec<WebhookEvent>, PluginError> {
        with_instance(P::new, |p: &mut P| p.parse_webhook(request))
    }
}

#[doc(hidden)]
pub mod target {
    use super::*;
    use crate::{Manifest, PluginKind};

    pub fn describe<P: Target>() -> Manifest {
        P::info().into_manifest(PluginKind::Target)
    }
    pub fn capabilities<P: Target>() -> Capabilities {
        if let Some(attributes) = P::accepted_attributes() {
            crate::fields::accepts(&attributes);
        }
        P::capabilities()
    }
    pub fn test_connection<P: Target>() -> Result<(), PluginError> {
        with_instance(P::new, |p: &mut P| p.test_connection())
    }
    pub fn list_accounts<P: Target>(page: Option<String>, size: u32) -> Result<AccountPage, PluginError> {
        with_instance(P::new, |p: &mut P| p.list_accounts(page, size))
    }
    pub fn get_accounts<P: Target>(ids: Vec<String>) -> Result<Vec<Account>, PluginError> {
        with_instance(P::new, |p: &mut P| p.get_accounts(ids))
    }
    pub fn list_teams<P: Target>(page: Option<String>, size: u32) -> Result<TeamPage, PluginError> {
        with_instance(P::new, |p: &mut P| p.list_teams(page, size))
    }
    pub fn apply_batch<P: Target>(changes: Vec<Change>) -> Vec<Result<Applied, PluginError>> {
        let count = changes.len();
        match with_instance(P::new, |p: &mut P| Ok(p.apply_batch(changes))) {
            Ok(outcomes) => outcomes,
            // The plugin could not start: every change fails the same way.
            Err(error) => vec![Err(error); count],
        }
    }
}

#[doc(hidden)]
pub mod rule {
    use super::*;
    use crate::{Manifest, PluginKind};

    pub fn describe<P: Rule>() -> Manifest {
        P::info().into_manifest(PluginKind::Rule)
    }
    pub fn evaluate<P: Rule>(batch: Vec<Subject>) -> Result<Vec<Decision>, PluginError> {
        with_instance(P::new, |p: &mut P| p.evaluate(batch))
    }
}

/// Exports a [`Source`](crate::Source) implementation as the component's
/// `source-api`.
#[macro_export]
macro_rules! export_source {
    ($plugin:ty) => {
        struct HrsyncSourceExport;
        impl $crate::bindings::source::exports::hrsync::plugin::source_api::Guest for HrsyncSourceExport {
            fn describe() -> $crate::Manifest {
                $crate::__private::source::describe::<$plugin>()
            }
            fn test_connection() -> Result<(), $crate::PluginError> {
                $crate::__private::source::test_connection::<$plugin>()
            }
            fn list_employees(page: Option<String>, page_size: u32) -> Result<$crate::EmployeePage, $crate::PluginError> {
                $crate::__private::source::list_employees::<$plugin>(page, page_size)
            }
            fn changes_since(
                cursor: String,
                page: Option<String>,
                page_size: u32,
            ) -> Result<$crate::ChangePage, $crate::PluginError> {
                $crate::__private::source::changes_since::<$plugin>(cursor, page, page_size)
            }
            fn parse_webhook(request: $crate::WebhookRequest) -> Result<Vec<$crate::WebhookEvent>, $crate::PluginError> {
                $crate::__private::source::parse_webhook::<$plugin>(request)
            }
        }
        $crate::bindings::source::export!(HrsyncSourceExport with_types_in $crate::bindings::source);
    };
}

/// Exports a [`Target`](crate::Target) implementation as the component's
/// `target-api`.
#[macro_export]
macro_rules! export_target {
    ($plugin:ty) => {
        struct HrsyncTargetExport;
        impl $crate::bindings::target::exports::hrsync::plugin::target_api::Guest for HrsyncTargetExport {
            fn describe() -> $crate::Manifest {
                $crate::__private::target::describe::<$plugin>()
            }
            fn get_capabilities() -> $crate::Capabilities {
                $crate::__private::target::capabilities::<$plugin>()
            }
            fn test_connection() -> Result<(), $crate::PluginError> {
                $crate::__private::target::test_connection::<$plugin>()
            }
            fn list_accounts(page: Option<String>, page_size: u32) -> Result<$crate::AccountPage, $crate::PluginError> {
                $crate::__private::target::list_accounts::<$plugin>(page, page_size)
            }
            fn get_accounts(ids: Vec<String>) -> Result<Vec<$crate::Account>, $crate::PluginError> {
                $crate::__private::target::get_accounts::<$plugin>(ids)
            }
            fn list_teams(page: Option<String>, page_size: u32) -> Result<$crate::TeamPage, $crate::PluginError> {
                $crate::__private::target::list_teams::<$plugin>(page, page_size)
            }
            fn apply_batch(changes: Vec<$crate::Change>) -> Vec<Result<$crate::Applied, $crate::PluginError>> {
                $crate::__private::target::apply_batch::<$plugin>(changes)
            }
        }
        $crate::bindings::target::export!(HrsyncTargetExport with_types_in $crate::bindings::target);
    };
}

/// Exports a [`Rule`](crate::Rule) implementation as the component's
/// `rule-api`.
#[macro_export]
macro_rules! export_rule {
    ($plugin:ty) => {
        struct HrsyncRuleExport;
        impl $crate::bindings::rule::exports::hrsync::plugin::rule_api::Guest for HrsyncRuleExport {
            fn describe() -> $crate::Manifest {
                $crate::__private::rule::describe::<$plugin>()
            }
            fn evaluate(batch: Vec<$crate::Subject>) -> Result<Vec<$crate::Decision>, $crate::PluginError> {
                $crate::__private::rule::evaluate::<$plugin>(batch)
            }
        }
        $crate::bindings::rule::export!(HrsyncRuleExport with_types_in $crate::bindings::rule);
    };
}
