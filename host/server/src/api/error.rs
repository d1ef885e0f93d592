//! Every error of the admin API as one enum: each maps to an HTTP status
//! and a JSON body that names the field or rule at fault. Internal errors
//! are logged and answered with an id, never with their text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::control::{SetupError, StartError};
use hrsync_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("send an API key: Authorization: Bearer sk_live_... or sk_test_...")]
    MissingKey,
    #[error("the API key is not valid or was revoked")]
    BadKey,
    /// A webhook whose signature the source plugin refused.
    #[error("the webhook is not signed by the HR system: {0}")]
    BadSignature(String),
    #[error("too many failed authentications from this address; retry in {0} s")]
    TooManyFailures(u64),
    #[error("{0}")]
    Forbidden(String),
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    #[error("{message}")]
    Invalid { field: Option<String>, message: String },
    #[error("{message}")]
    Conflict { field: Option<String>, message: String },
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("no such path; the API is under /api/v1 (its document: /api/v1/openapi.json)")]
    NoRoute,
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    #[error("the server is shutting down; retry on another instance or later")]
    Unavailable,
    /// A tenant's quota is spent (the operator sets them: `--quota`).
    #[error("{message}")]
    Quota { message: String, retry_after: Option<u64> },
    #[error("internal error")]
    Internal(String),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `unauthorized`, `forbidden`, `not_found`,
    /// `invalid`, `conflict`, `too_large`, `rate_limited`, `quota_exceeded`, `unavailable`,
    /// `internal`.
    pub code: String,
    pub message: String,
    /// The request field at fault, e.g. `options.page_size`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn not_found(what: &'static str, id: &str) -> Self {
        ApiError::NotFound {
            what,
            id: id.to_string(),
        }
    }

    /// What a caller is told: the error's words, or for an internal error
    /// only an id, its details logged under that id.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(detail) => {
                let id = hrsync_store::new_id("err");
                tracing::error!(error_id = %id, "{detail}");
                format!("internal error {id}; the server log has the details")
            }
            other => other.to_string(),
        }
    }

    /// The request field an invalid or conflicting request names.
    pub fn field(&self) -> Option<String> {
        match self {
            ApiError::Invalid { field, .. } | ApiError::Conflict { field, .. } => field.clone(),
            _ => None,
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::MissingKey | ApiError::BadKey | ApiError::BadSignature(_) => {
                (StatusCode::UNAUTHORIZED, "unauthorized")
            }
            ApiError::TooManyFailures(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Quota { .. } => (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound { .. } | ApiError::NoRoute => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let (message, field) = (self.public_message(), self.field());
        let mut response = (
            status,
            axum::Json(ErrorBody {
                error: ErrorDetail {
                    code: code.to_string(),
                    message,
                    field,
                },
            }),
        )
            .into_response();
        if let ApiError::Quota {
            retry_after: Some(seconds),
            ..
        }
        | ApiError::TooManyFailures(seconds) = self
        {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<SetupError> for ApiError {
    fn from(error: SetupError) -> Self {
        match error {
            SetupError::Store(error) => error.into(),
            SetupError::Vault(error) => ApiError::Internal(error.to_string()),
            other => ApiError::Invalid {
                field: other.field(),
                message: other.to_string(),
            },
        }
    }
}

impl From<StartError> for ApiError {
    fn from(error: StartError) -> Self {
        match error {
            StartError::Busy | StartError::SlotTaken => ApiError::Conflict {
                field: None,
                message: error.to_string(),
            },
            StartError::ShuttingDown => ApiError::Unavailable,
            StartError::Setup(error) => error.into(),
            StartError::Store(error) => error.into(),
        }
    }
}

/// serde's messages name the field (`missing field `name``, `unknown
/// field `x`, expected one of ...`); they are passed on as they are.
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::BytesRejection(_) => ApiError::TooLarge {
                limit: super::JSON_LIMIT,
            },
            other => ApiError::Invalid {
                field: None,
                message: other.body_text(),
            },
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Invalid {
            field: None,
            message: rejection.body_text(),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::Invalid {
            field: None,
            message: rejection.body_text(),
        }
    }
}
