//! Errors at the plugin boundary: loading a component, and calling one.

use std::path::PathBuf;
use std::time::Duration;

use super::bindings::types::PluginError;
use super::capability::config::Redactor;
use super::manifest::ManifestError;
use super::version::VersionError;

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
    #[error("plugin `{plugin}` {function}: {}", explain(error))]
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

/// A plugin's typed error in words, for logs, run items and the CLI.
pub fn explain(error: &PluginError) -> String {
    match error {
        PluginError::Retryable(hint) => format!(
            "temporary failure: {}{}",
            hint.message,
            retry_after(hint.retry_after_ms)
        ),
        PluginError::RateLimited(hint) => format!("rate limited: {}{}", hint.message, retry_after(hint.retry_after_ms)),
        PluginError::Conflict(c) => match &c.existing_id {
            Some(id) => format!("already exists (id {id}): {}", c.message),
            None => format!("already exists: {}", c.message),
        },
        PluginError::NotFound(m) => format!("not found: {m}"),
        PluginError::InvalidInput(i) => format!("invalid input in `{}`: {}", i.field, i.message),
        PluginError::Unauthorized(m) => format!("unauthorized: {m}"),
        PluginError::Unsupported(m) => format!("unsupported: {m}"),
        PluginError::Fatal(m) => format!("fatal: {m}"),
    }
}

fn retry_after(ms: Option<u64>) -> String {
    ms.map(|ms| format!(" (retry after {ms} ms)")).unwrap_or_default()
}

impl PluginError {
    /// The same error with secret values masked in every message.
    pub fn redacted(self, redactor: &Redactor) -> Self {
        let r = |s: String| redactor.redact(&s);
        match self {
            PluginError::Retryable(mut h) => {
                h.message = r(h.message);
                PluginError::Retryable(h)
            }
            PluginError::RateLimited(mut h) => {
                h.message = r(h.message);
                PluginError::RateLimited(h)
            }
            PluginError::Conflict(mut c) => {
                c.message = r(c.message);
                PluginError::Conflict(c)
            }
            PluginError::NotFound(m) => PluginError::NotFound(r(m)),
            PluginError::InvalidInput(mut i) => {
                i.message = r(i.message);
                PluginError::InvalidInput(i)
            }
            PluginError::Unauthorized(m) => PluginError::Unauthorized(r(m)),
            PluginError::Unsupported(m) => PluginError::Unsupported(r(m)),
            PluginError::Fatal(m) => PluginError::Fatal(r(m)),
        }
    }
}
