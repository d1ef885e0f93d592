//! What a plugin may import, one unit per capability (deny by default):
//! outbound HTTP, config and secrets, logging, clock, and what a plugin says
//! about employee fields. WASI is linked with nothing granted (no files, no
//! sockets, no environment, no arguments; see `state.rs`).
//!
//! Each capability is one module that owns its per-session state, its
//! linker wiring and how it reads the installation's settings, with a
//! lifecycle in the manner of Spin's factors:
//!
//! - [`Capability::link`] — once per engine and WIT major: adds the
//!   capability's imports to the linker, reaching the capability's own
//!   state (never the whole store data);
//! - [`Capability::prepare`] — once per session: builds that state from the
//!   installation's [`Sandbox`] (config, secrets, granted hosts) and the
//!   session's [`SessionContext`];
//! - [`Capability::call_started`] — before each call into the plugin, with
//!   the call's deadline (HTTP fits its timeouts into it).
//!
//! Adding a capability is its WIT interface, its module and one line in
//! the `capabilities!` list below.

pub mod clock;
pub mod config;
pub mod fields;
pub mod http;
pub mod log;

use std::sync::Arc;

use wasmtime::component::Linker;

use crate::plugin::Sandbox;
use crate::state::{CallDeadline, PluginState};
use config::{Redactor, Secrets};

/// Who is running: used to attribute logs and HTTP calls.
#[derive(Debug, Clone)]
pub struct Identity {
    pub plugin: Arc<str>,
    pub run: Option<Arc<str>>,
}

/// What every capability may know of the session it is prepared for.
pub struct SessionContext<'a> {
    pub identity: Identity,
    pub sandbox: &'a Sandbox,
    /// The secrets the manifest declares and the installation supplied;
    /// undeclared secrets are dropped before any capability sees them.
    pub secrets: Secrets,
    /// The names of the secrets the manifest declares.
    pub declared: Vec<String>,
    /// Masks the secrets' values in anything that leaves the sandbox.
    pub redactor: Redactor,
}

impl<'a> SessionContext<'a> {
    pub fn new(plugin: &str, sandbox: &'a Sandbox, declared: Vec<String>) -> Self {
        let secrets: Secrets = sandbox
            .secrets
            .iter()
            .filter(|(name, _)| declared.contains(name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let redactor = Redactor::new(secrets.values());
        Self {
            identity: Identity {
                plugin: Arc::from(plugin),
                run: sandbox.run_id.as_deref().map(Arc::from),
            },
            sandbox,
            secrets,
            declared,
            redactor,
        }
    }
}

/// One host capability: its imports, and its state in one session.
pub trait Capability: Sized + Send + 'static {
    /// Adds the capability's imports (every WIT interface it serves) to the
    /// linker; `get` reaches this capability's state in a store.
    fn link(linker: &mut Linker<PluginState>, get: fn(&mut PluginState) -> &mut Self) -> wasmtime::Result<()>;

    /// The capability's state for one session.
    fn prepare(context: &SessionContext<'_>) -> Self;

    /// A call into the plugin is about to start.
    fn call_started(&mut self, _deadline: CallDeadline) {}
}

/// Declares the session's capabilities: a struct with one field each, and
/// the linking, preparing and call hooks over all of them.
macro_rules! capabilities {
    ($($field:ident: $unit:ty),* $(,)?) => {
        /// The state of every capability in one session.
        pub struct Capabilities {
            $(pub(crate) $field: $unit,)*
        }

        impl Capabilities {
            pub(crate) fn link(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
                $(<$unit as Capability>::link(linker, |state| &mut state.capabilities.$field)?;)*
                Ok(())
            }

            pub(crate) fn prepare(context: &SessionContext<'_>) -> Self {
                Self { $($field: <$unit as Capability>::prepare(context),)* }
            }

            pub(crate) fn call_started(&mut self, deadline: CallDeadline) {
                $(self.$field.call_started(deadline);)*
            }
        }
    };
}

capabilities! {
    config: config::ConfigAccess,
    http: http::OutboundHttp,
    log: log::PluginLog,
    fields: fields::FieldStatements,
    clock: clock::Clock,
}
