//! Constructors for the typed error every plugin function returns.

use crate::{Conflict, InvalidField, PluginError, RetryHint};

impl PluginError {
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::Fatal(message.into())
    }
    pub fn retryable(message: impl Into<String>, retry_after_ms: Option<u64>) -> Self {
        Self::Retryable(RetryHint {
            message: message.into(),
            retry_after_ms,
        })
    }
    pub fn rate_limited(message: impl Into<String>, retry_after_ms: Option<u64>) -> Self {
        Self::RateLimited(RetryHint {
            message: message.into(),
            retry_after_ms,
        })
    }
    pub fn conflict(message: impl Into<String>, existing_id: Option<String>) -> Self {
        Self::Conflict(Conflict {
            message: message.into(),
            existing_id,
        })
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput(InvalidField {
            field: field.into(),
            message: message.into(),
        })
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(message.into())
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::Unsupported(message.into())
    }
}

impl From<serde_json::Error> for PluginError {
    fn from(error: serde_json::Error) -> Self {
        Self::Fatal(format!("unexpected JSON: {error}"))
    }
}
