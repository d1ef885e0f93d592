//! Errors at the plugin boundary: loading a component, and calling one.

use std::path::PathBuf;
use std::time::Duration;

use hrsync_model::PluginError;

use super::capability::config::Redactor;
use super::manifest::ManifestError;
use super::version::VersionError;
use crate::bindings::v1::types;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error("the component does not compile: {0}")]
    Compile(String),
    #[error("the component imports something this host does not offer: {0}")]
    Link(String),
    #[error("the plugin's describe failed: {0}")]
    Describe(CallError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// Why a call into a plugin failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin returned one of its typed errors.
    #[error("plugin `{plugin}` {function}: {error}")]
    Plugin {
        plugin: String,
        function: &'static str,
        error: PluginError,
    },
    #[error("plugin `{plugin}` {function}: exceeded its deadline of {limit:?} and was stopped")]
    Deadline {
        plugin: String,
        function: &'static str,
        limit: Duration,
    },
    #[error("plugin `{plugin}` {function}: exceeded its memory limit of {limit_mib} MiB and was stopped")]
    Memory {
        plugin: String,
        function: &'static str,
        limit_mib: usize,
    },
    #[error("plugin `{plugin}` {function}: overflowed its call stack and was stopped")]
    StackOverflow { plugin: String, function: &'static str },
    #[error("plugin `{plugin}` {function}: crashed ({message})")]
    Trap {
        plugin: String,
        function: &'static str,
        message: String,
    },
    /// The plugin trapped on an exception it did not catch, summarised
    /// from what it printed (`exception.rs`).
    #[error("plugin `{plugin}` {function}: {exception}")]
    Exception {
        plugin: String,
        function: &'static str,
        exception: String,
    },
    #[error("plugin `{plugin}` {function}: returned malformed output: {message}")]
    Malformed {
        plugin: String,
        function: &'static str,
        message: String,
    },
    #[error("could not start plugin `{plugin}`: {message}")]
    Instantiate { plugin: String, message: String },
    #[error("plugin `{plugin}` cannot be called again in this session: an earlier call failed ({reason})")]
    Unusable { plugin: String, reason: String },
}

impl CallError {
    /// The plugin's typed error, when it returned one.
    pub fn plugin_error(&self) -> Option<&PluginError> {
        match self {
            CallError::Plugin { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether the sandbox stopped the plugin (as opposed to the plugin
    /// returning an error of its own).
    pub fn is_sandbox_failure(&self) -> bool {
        !matches!(self, CallError::Plugin { .. })
    }
}

impl types::PluginError {
    /// The same error with secret values masked in every message.
    pub fn redacted(self, redactor: &Redactor) -> Self {
        let r = |s: String| redactor.redact(&s);
        match self {
            types::PluginError::Retryable(mut h) => {
                h.message = r(h.message);
                types::PluginError::Retryable(h)
            }
            types::PluginError::RateLimited(mut h) => {
                h.message = r(h.message);
                types::PluginError::RateLimited(h)
            }
            types::PluginError::Conflict(mut c) => {
                c.message = r(c.message);
                types::PluginError::Conflict(c)
            }
            types::PluginError::NotFound(m) => types::PluginError::NotFound(r(m)),
            types::PluginError::InvalidInput(mut i) => {
                i.message = r(i.message);
                types::PluginError::InvalidInput(i)
            }
            types::PluginError::Unauthorized(m) => types::PluginError::Unauthorized(r(m)),
            types::PluginError::Unsupported(m) => types::PluginError::Unsupported(r(m)),
            types::PluginError::Fatal(m) => types::PluginError::Fatal(r(m)),
        }
    }
}
