//! The inbound SCIM 2.0 endpoint: `/scim/v2/{integration}/…`, a SCIM
//! service provider per integration whose source is `inbound-scim`. An
//! identity provider (Entra ID, Okta) pushes its users and groups here;
//! they are kept in the store (`hrsync_store::pushed`) and read by the
//! integration's runs as its source ([`employee::directory`]), and each
//! push starts a run a moment later, like an HR webhook. One token per
//! integration (`POST /api/v1/integrations/{id}/scim-token`), kept hashed.
//! docs/inbound-scim.md is the admin's guide.

mod bulk;
pub mod employee;
mod filter;
mod handlers;
mod patch;
mod resource;
pub mod schema;

use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::api::auth::Bucket;
use crate::api::AppState;
use hrsync_engine::job::RunRequest;
use hrsync_engine::trigger::Trigger;
use hrsync_store::integrations::{Integration, State as RunState};
use hrsync_store::StoreError;

/// The `source` of an integration fed by its inbound SCIM endpoint (in
/// place of a source installation's id).
pub const INBOUND_SOURCE: &str = "inbound-scim";

/// The name of the integration secret that holds the SCIM token's hash.
pub const TOKEN_SECRET: &str = "scim_token";

/// A push's run starts once the endpoint has been quiet this long: an
/// identity provider's cycle sends many requests in a row, and they make
/// one run ...
const PUSH_QUIET: Duration = Duration::from_secs(1);
/// ... or this long after the first push, in a long cycle.
const PUSH_MAX_DELAY: Duration = Duration::from_secs(10);

pub const CONTENT_TYPE: &str = "application/scim+json";

/// A SCIM error (RFC 7644 §3.12): status, `scimType`, detail.
#[derive(Debug, Clone)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    pub fn status(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::status(StatusCode::NOT_FOUND, format!("{what} `{id}` not found"))
    }

    /// A fault of the server: the caller gets an id, the log the detail.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let id = hrsync_store::new_id("err");
        tracing::error!(error_id = %id, "inbound SCIM: {detail}");
        Self::status(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error {id}; the server log has the details"),
        )
    }

    /// The same error with its detail rewritten (prefixed with where).
    pub fn detailed(mut self, rewrite: impl FnOnce(&str) -> String) -> Self {
        self.detail = rewrite(&self.detail);
        self
    }

    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [schema::ERROR],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = Value::from(scim_type);
        }
        body
    }
}

impl From<StoreError> for ScimError {
    fn from(error: StoreError) -> Self {
        Self::internal(error)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut response = (self.status, scim_json(&self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hrsync SCIM\""),
            );
        }
        response
    }
}

/// A JSON body with SCIM's media type.
fn scim_json(body: &Value) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body.to_string())
}

/// A successful answer: status, body and the headers of a resource.
pub struct Answer {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub etag: Option<String>,
    pub location: Option<String>,
}

impl Answer {
    pub fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(body),
            etag: None,
            location: None,
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = match &self.body {
            Some(body) => (self.status, scim_json(body)).into_response(),
            None => self.status.into_response(),
        };
        let headers = response.headers_mut();
        for (name, value) in [(header::ETAG, self.etag), (header::LOCATION, self.location)] {
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                headers.insert(name, value);
            }
        }
        response
    }
}

/// A request to an integration's endpoint whose token held.
pub struct Endpoint {
    pub state: AppState,
    pub tenant: String,
    pub integration: Integration,
    /// The endpoint's URL, for `meta.location`.
    pub base: String,
}

impl Endpoint {
    /// Starts a run of the integration once its pushes pause for
    /// [`PUSH_QUIET`] (at the latest [`PUSH_MAX_DELAY`] after the first),
    /// so one cycle of the identity provider makes one run. Only active
    /// integrations run; the others keep what was pushed for their next
    /// run.
    fn pushed(&self) {
        if self.integration.state != RunState::Active {
            return;
        }
        let now = Instant::now();
        let first = match self.state.control.pending_pushes.lock() {
            Ok(mut pending) => match pending.get_mut(&self.integration.id) {
                Some((_, last)) => {
                    *last = now;
                    false
                }
                None => {
                    pending.insert(self.integration.id.clone(), (now, now));
                    true
                }
            },
            Err(_) => false,
        };
        if !first {
            return;
        }
        let (state, tenant, id) = (self.state.clone(), self.tenant.clone(), self.integration.id.clone());
        tokio::spawn(async move {
            loop {
                let due = match state.control.pending_pushes.lock() {
                    Ok(pending) => match pending.get(&id) {
                        Some(&(first, last)) => (last + PUSH_QUIET).min(first + PUSH_MAX_DELAY),
                        None => return,
                    },
                    Err(_) => return,
                };
                if Instant::now() >= due {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
            }
            if let Ok(mut pending) = state.control.pending_pushes.lock() {
                pending.remove(&id);
            }
            let integration = match state.control.store.integration(&tenant, &id).await {
                Ok(Some(integration)) if integration.state == RunState::Active => integration,
                Ok(_) => return,
                Err(error) => return tracing::error!(integration = %id, "a SCIM push's run: {error}"),
            };
            if let Err(error) = crate::api::quota::run(&state, &tenant).await {
                return tracing::warn!(integration = %id, "a SCIM push's run did not start: {error}");
            }
            let order = RunRequest {
                trigger: Trigger::Push,
                ..RunRequest::scheduled()
            };
            if let Err(error) = state.control.start_soon(&tenant, &integration, order).await {
                tracing::warn!(integration = %id, "a SCIM push's run did not start: {error}");
            }
        });
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// The URL clients reached the endpoint at: scheme and host as the
/// request (or a proxy in front) gives them.
fn base_url(parts: &Parts, integration: &str) -> String {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = header("x-forwarded-proto").unwrap_or("http");
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .unwrap_or("localhost");
    format!("{scheme}://{host}/scim/v2/{integration}")
}

impl FromRequestParts<AppState> for Endpoint {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let unauthorized = || ScimError::status(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
        let params = axum::extract::RawPathParams::from_request_parts(parts, state).await;
        let id = params
            .ok()
            .and_then(|params| {
                (params.iter())
                    .find(|(name, _)| *name == "integration")
                    .map(|(_, value)| value.to_string())
            })
            .unwrap_or_default();
        // Ids are short; a long made-up one is cut, so that a flood of
        // them holds little memory in the lockout's buckets.
        let short: String = id.chars().take(64).collect();
        let bucket = Bucket::Endpoint(crate::api::auth::client_ip(parts, state), short);
        let guard = &state.endpoint_guard;
        if let Some(seconds) = guard.locked_out(&bucket) {
            return Err(ScimError::status(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed authentications; try again in {seconds} s"),
            ));
        }
        let Some(token) = bearer(parts).map(str::to_string) else {
            guard.failed(bucket);
            return Err(unauthorized());
        };
        // An unknown integration and a wrong token answer alike: the
        // endpoint tells nothing of which integrations exist.
        let found = state.control.store.integration_anywhere(&id).await?;
        let expected = found.as_ref().and_then(|(_, i)| i.sealed_secrets.get(TOKEN_SECRET));
        let held = match (found.as_ref(), expected) {
            (Some((_, integration)), Some(expected)) => {
                integration.source == INBOUND_SOURCE && hrsync_store::tenants::key_hash(&token) == *expected
            }
            _ => false,
        };
        let Some((tenant, integration)) = found.filter(|_| held) else {
            guard.failed(bucket);
            return Err(unauthorized());
        };
        Ok(Endpoint {
            state: state.clone(),
            base: base_url(parts, &id),
            tenant,
            integration,
        })
    }
}

/// Gives an integration a new SCIM token: its hash joins the sealed
/// secrets; the token is returned to be shown once.
pub fn issue_token(
    sealed_secrets: &mut std::collections::BTreeMap<String, String>,
) -> Result<String, crate::api::error::ApiError> {
    let bytes = crate::vault::random_bytes::<24>().map_err(|e| crate::api::error::ApiError::Internal(e.to_string()))?;
    let token = format!("scim_{}", crate::vault::to_hex(&bytes));
    sealed_secrets.insert(TOKEN_SECRET.to_string(), hrsync_store::tenants::key_hash(&token));
    Ok(token)
}

/// The integration's source as a run reads it: what was pushed.
pub async fn held_directory(
    store: &hrsync_store::Store,
    integration: &str,
) -> Result<hrsync_engine::source::HeldDirectory, StoreError> {
    let users = store.pushed_all(integration, schema::Kind::User.name()).await?;
    let groups = store.pushed_all(integration, schema::Kind::Group.name()).await?;
    Ok(employee::directory(&users, &groups))
}

async fn no_such_endpoint(_endpoint: Endpoint) -> ScimError {
    ScimError::status(StatusCode::NOT_FOUND, "no such SCIM endpoint")
}

async fn not_allowed(_endpoint: Endpoint) -> ScimError {
    ScimError::status(StatusCode::METHOD_NOT_ALLOWED, "this endpoint is read-only")
}

/// A GET route whose other methods answer 405 with a SCIM error.
fn read_only<H, T>(handler: H) -> axum::routing::MethodRouter<AppState>
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    get(handler)
        .post(not_allowed)
        .put(not_allowed)
        .patch(not_allowed)
        .delete(not_allowed)
}

/// The routes, under `/scim/v2/{integration}`.
pub fn router() -> Router<AppState> {
    use handlers::*;
    Router::new()
        .route("/ServiceProviderConfig", read_only(service_provider_config))
        .route("/Schemas", read_only(schemas))
        .route("/Schemas/{id}", read_only(one_schema))
        .route("/ResourceTypes", read_only(resource_types))
        .route("/ResourceTypes/{id}", read_only(one_resource_type))
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", post(search_users))
        .route(
            "/Users/{id}",
            get(get_user).put(replace_user).patch(patch_user).delete(delete_user),
        )
        .route("/Groups", get(list_groups).post(create_group))
        .route("/Groups/.search", post(search_groups))
        .route(
            "/Groups/{id}",
            get(get_group)
                .put(replace_group)
                .patch(patch_group)
                .delete(delete_group),
        )
        .route("/.search", post(search_all))
        .route("/Bulk", post(bulk::bulk))
        .fallback(no_such_endpoint)
}

/// The inbound endpoints' share of the application.
pub fn routes() -> Router<AppState> {
    Router::new().nest("/scim/v2/{integration}", router())
}

/// Parses a JSON body (SCIM's or plain JSON's media type).
pub fn json_body(bytes: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice(bytes).map_err(|e| ScimError::bad("invalidSyntax", format!("the body is not JSON: {e}")))
}
