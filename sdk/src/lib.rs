//! Write hrsync plugins in Rust.
//!
//! A plugin is a WebAssembly component built for `wasm32-wasip2` against the
//! `hrsync:plugin@1.2.0` WIT package (`wit/` in the hrsync repository). With
//! this crate, writing one is implementing a trait — [`Source`], [`Target`]
//! or [`Rule`] — and calling one export macro.
//!
//! # A rule
//!
//! ```no_run
//! use hrsync_sdk::{export_rule, PluginError, PluginInfo, Rule, Subject, Decision};
//!
//! struct ExcludeExternals;
//!
//! impl Rule for ExcludeExternals {
//!     fn info() -> PluginInfo {
//!         PluginInfo::new("exclude-externals", "1.0.0").description("Leaves external staff out")
//!     }
//!     fn new() -> Result<Self, PluginError> {
//!         Ok(Self)
//!     }
//!     fn evaluate_one(&mut self, subject: Subject) -> Decision {
//!         match subject.employee.employment_type.as_deref() {
//!             Some("external") => Decision::Exclude("external employee".into()),
//!             _ => Decision::Keep,
//!         }
//!     }
//! }
//!
//! export_rule!(ExcludeExternals);
//! ```
//!
//! # A source
//!
//! ```no_run
//! use hrsync_sdk::{config, export_source, http, secret, EmployeePage, PluginError, PluginInfo, Source};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Config { base_url: String }
//!
//! struct MyHr { config: Config, token: String }
//!
//! impl Source for MyHr {
//!     fn info() -> PluginInfo {
//!         PluginInfo::new("my-hr", "1.0.0")
//!             .config_schema(serde_json::json!({
//!                 "type": "object",
//!                 "required": ["base_url"],
//!                 "properties": { "base_url": { "type": "string" } }
//!             }))
//!             .secret("api-token", "API token of a read-only user", true)
//!             .host("https://api.my-hr.example")
//!     }
//!     fn new() -> Result<Self, PluginError> {
//!         Ok(Self { config: config()?, token: secret("api-token")? })
//!     }
//!     fn list_employees(&mut self, page: Option<String>, page_size: u32) -> Result<EmployeePage, PluginError> {
//!         let url = format!("{}/employees?size={page_size}&page={}", self.config.base_url, page.unwrap_or_default());
//!         let body: serde_json::Value = http::Request::get(&url).bearer(&self.token).send()?.error_for_status()?.json()?;
//!         // ... turn `body` into employees ...
//!         # let _ = body;
//!         Ok(EmployeePage { employees: vec![], rejected: vec![], next_page: None, cursor: None })
//!     }
//! }
//!
//! export_source!(MyHr);
//! ```
//!
//! # A target
//!
//! ```no_run
//! use hrsync_sdk::{export_target, AccountPage, Applied, Capabilities, Change, PluginError, PluginInfo, Target};
//!
//! struct MyApp;
//!
//! impl Target for MyApp {
//!     fn info() -> PluginInfo {
//!         PluginInfo::new("my-app", "1.0.0").host("https://api.my-app.example")
//!     }
//!     fn capabilities() -> Capabilities {
//!         Capabilities { teams: false, managers: false, invites: false, reactivation: true, max_batch: 1,
//!                        matching_attributes: vec!["email".into()] }
//!     }
//!     fn new() -> Result<Self, PluginError> {
//!         Ok(Self)
//!     }
//!     fn list_accounts(&mut self, _page: Option<String>, _size: u32) -> Result<AccountPage, PluginError> {
//!         Ok(AccountPage { accounts: vec![], next_page: None })
//!     }
//!     fn apply(&mut self, change: Change) -> Result<Applied, PluginError> {
//!         Err(PluginError::unsupported(format!("{change:?}")))
//!     }
//! }
//!
//! export_target!(MyApp);
//! ```
//!
//! Plugins run in a sandbox: no files, sockets or environment. Outbound HTTP
//! goes through [`http`] to the hosts the admin granted; config and secrets
//! come from [`config()`] and [`secret()`]; logs go to the run log via [`log`].

// The generated code names this crate by its public path.
extern crate self as hrsync_sdk;

#[doc(hidden)]
pub mod bindings {
    pub mod source {
        wit_bindgen::generate!({
            path: "../wit",
            world: "source",
            pub_export_macro: true,
            default_bindings_module: "hrsync_sdk::bindings::source",
            runtime_path: "hrsync_sdk::__private::wit_bindgen::rt",
        });
    }
    pub mod target {
        wit_bindgen::generate!({
            path: "../wit",
            world: "target",
            pub_export_macro: true,
            default_bindings_module: "hrsync_sdk::bindings::target",
            runtime_path: "hrsync_sdk::__private::wit_bindgen::rt",
            with: {
                "hrsync:plugin/types@1.2.0": crate::bindings::source::hrsync::plugin::types,
                "hrsync:plugin/http@1.2.0": crate::bindings::source::hrsync::plugin::http,
                "hrsync:plugin/log@1.2.0": crate::bindings::source::hrsync::plugin::log,
                "hrsync:plugin/config@1.2.0": crate::bindings::source::hrsync::plugin::config,
                "hrsync:plugin/clock@1.2.0": crate::bindings::source::hrsync::plugin::clock,
                "hrsync:plugin/fields@1.2.0": crate::bindings::source::hrsync::plugin::fields,
            },
        });
    }
    pub mod rule {
        wit_bindgen::generate!({
            path: "../wit",
            world: "rule",
            pub_export_macro: true,
            default_bindings_module: "hrsync_sdk::bindings::rule",
            runtime_path: "hrsync_sdk::__private::wit_bindgen::rt",
            with: {
                "hrsync:plugin/types@1.2.0": crate::bindings::source::hrsync::plugin::types,
                "hrsync:plugin/http@1.2.0": crate::bindings::source::hrsync::plugin::http,
                "hrsync:plugin/log@1.2.0": crate::bindings::source::hrsync::plugin::log,
                "hrsync:plugin/config@1.2.0": crate::bindings::source::hrsync::plugin::config,
                "hrsync:plugin/clock@1.2.0": crate::bindings::source::hrsync::plugin::clock,
                "hrsync:plugin/fields@1.2.0": crate::bindings::source::hrsync::plugin::fields,
            },
        });
    }
}

pub mod employee;
mod error;
pub mod fields;
pub mod http;
mod info;
pub mod log;
mod plugin;
pub mod template;
pub mod time;

pub use bindings::rule::exports::hrsync::plugin::rule_api::{Decision, Subject};
pub use bindings::source::hrsync::plugin::types::*;
pub use info::PluginInfo;
pub use plugin::{Rule, Source, Target};

use bindings::source::hrsync::plugin::{clock, config as host_config};

/// The installation's config, deserialized. A config that does not fit `T`
/// is an `invalid-input` error naming the config.
pub fn config<T: serde::de::DeserializeOwned>() -> Result<T, PluginError> {
    let json = host_config::get_config();
    serde_json::from_str(&json).map_err(|e| PluginError::invalid("config", e.to_string()))
}

/// A secret the manifest declares. Never log it or put it in an error.
pub fn secret(name: &str) -> Result<String, PluginError> {
    host_config::get_secret(name).map_err(|e| match e {
        host_config::SecretError::Undeclared(m) => PluginError::Fatal(m),
        host_config::SecretError::Missing(m) => PluginError::Unauthorized(m),
    })
}

/// Milliseconds since the Unix epoch, from the host's clock.
pub fn now_millis() -> u64 {
    clock::now_millis()
}

/// The integration's IANA time zone (`Europe/Berlin`; `UTC` unless the
/// integration sets one): the zone of [`time::today`] when a rule's config
/// names none.
pub fn time_zone() -> String {
    clock::time_zone()
}

#[doc(hidden)]
pub mod __private {
    pub use crate::plugin::{rule, source, target};
    pub use wit_bindgen;
}
