//! The admin HTTP API of `hrsync serve`, under `/api/v1`: one router per
//! resource, every handler checking tenant and role through its
//! [`auth::Principal`], every error a JSON body ([`error::ApiError`]). The
//! OpenAPI document at `/api/v1/openapi.json` is generated from the
//! handlers and types here.

pub mod auth;
pub mod error;
pub mod hooks;
pub mod inbound;
pub mod integrations;
pub mod invitations;
pub mod links;
pub mod plugins;
pub mod quota;
pub mod recipes;
pub mod runs;
pub mod tenants;
pub mod versions;

use std::sync::Arc;

use axum::extract::FromRequest;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::control::Control;
use auth::{AuthGuard, Principal};
use error::ApiError;
use hrsync_engine::storage::AuditEvent;
use hrsync_store::StoreError;

/// Largest JSON body accepted.
pub const JSON_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Largest component accepted by `POST /plugins`.
    pub max_plugin_bytes: usize,
    /// Failed authentications per client address and minute before it is
    /// refused for the rest of the minute.
    pub max_auth_failures: usize,
    /// Failed authentications of all addresses together per minute, beyond
    /// which every address that failed is refused for the rest of it.
    pub max_total_auth_failures: usize,
    /// The shortest time between two scheduled runs of an integration.
    pub min_schedule_interval_secs: u64,
    pub quotas: quota::Quotas,
    /// Plugin names in `/metrics` labels (tenants choose them); hashed
    /// unless the operator shows them.
    pub metrics_plugin_names: hrsync_metrics::PluginNames,
    /// Load balancers and proxies in front of this server, whose
    /// `X-Forwarded-For` names the client (`auth::client_ip`); none by
    /// default, so a client cannot pick the address its failures count on.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            max_plugin_bytes: 32 << 20,
            max_auth_failures: auth::MAX_FAILURES,
            max_total_auth_failures: auth::MAX_TOTAL_FAILURES,
            min_schedule_interval_secs: 300,
            quotas: quota::Quotas::default(),
            metrics_plugin_names: hrsync_metrics::PluginNames::Hashed,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub control: Arc<Control>,
    pub guard: Arc<AuthGuard>,
    /// Failed authentications at inbound SCIM endpoints, counted apart
    /// from the admin API's (`scim/mod.rs`).
    pub endpoint_guard: Arc<AuthGuard>,
    pub settings: Arc<ApiSettings>,
}

impl AppState {
    pub fn new(control: Arc<Control>, operator_token: Option<&str>, settings: ApiSettings) -> Self {
        Self {
            control,
            guard: Arc::new(AuthGuard::new(
                operator_token,
                settings.max_auth_failures,
                settings.max_total_auth_failures,
            )),
            endpoint_guard: Arc::new(AuthGuard::new(
                None,
                settings.max_auth_failures,
                settings.max_total_auth_failures,
            )),
            settings: Arc::new(settings),
        }
    }

    /// Appends an admin action to the audit log.
    pub async fn audit(
        &self,
        who: &Principal,
        integration: Option<&str>,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.audit_as(&who.tenant, &who.actor(), integration, action, detail)
            .await
    }

    /// Appends an action of `actor` in `tenant` to the audit log.
    pub async fn audit_as(
        &self,
        tenant: &str,
        actor: &str,
        integration: Option<&str>,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.control
            .store
            .append_audit_events([AuditEvent {
                tenant: Some(tenant.to_string()),
                integration: integration.map(str::to_string),
                actor: actor.to_string(),
                action: action.to_string(),
                detail,
            }])
            .await
    }
}

/// JSON in and out; a body that does not parse is a 422 naming the field.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

/// Query strings; one that does not parse is a 422 naming the parameter.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// Path parameters, with JSON errors.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hrsync admin API",
        description = "Tenants, members and API keys; plugins and their installations; integrations, their runs and the audit log. Authenticate with `Authorization: Bearer sk_live_...` (or `sk_test_...`, which sees test installations and integrations only). Times are milliseconds since the Unix epoch."
    ),
    modifiers(&Security),
    tags(
        (name = "tenants"), (name = "members"), (name = "keys"), (name = "plugins"),
        (name = "installations"), (name = "integrations"), (name = "runs"), (name = "audit"), (name = "hooks")
    )
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme(
            "operator_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The `/api/v1` routes and the OpenAPI document describing them.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/v1",
            OpenApiRouter::new()
                .merge(tenants::router())
                .merge(plugins::router())
                .merge(integrations::router())
                .merge(inbound::router())
                .merge(links::router())
                .merge(invitations::router())
                .merge(recipes::router())
                .merge(runs::router())
                .merge(versions::router()),
        )
        .merge(hooks::router())
        .split_for_parts();
    openapi.info.version = env!("CARGO_PKG_VERSION").to_string();
    (router, openapi)
}

async fn not_found() -> ApiError {
    ApiError::NoRoute
}

/// One log line per request: method, path (never the query string or a
/// header, where secrets travel), status and time.
async fn log_request(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        target: "hrsync_server::api",
        %method,
        path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// The whole application: the API, its OpenAPI document, JSON errors for
/// unknown routes and methods.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = api();
    let openapi = Arc::new(openapi);
    api.merge(crate::console::router(state.clone()))
        .merge(crate::scim::routes())
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let openapi = Arc::clone(&openapi);
                async move { axum::Json(openapi.as_ref().clone()) }
            }),
        )
        .route("/healthz", get(|| async { (StatusCode::OK, "ok") }))
        .route(
            "/metrics",
            // The operator's: metrics name every tenant's plugins and counts.
            get(
                |axum::extract::State(state): axum::extract::State<AppState>, _operator: auth::Operator| async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        hrsync_metrics::global().render(state.settings.metrics_plugin_names)
                            + &hrsync_metrics::render_process(),
                    )
                },
            ),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn(log_request))
        .layer(axum::extract::DefaultBodyLimit::max(JSON_LIMIT))
        .with_state(state)
}

/// The application and the scheduler on 127.0.0.1 (a free port), on a
/// thread that drives `tokio` (the runtime the store was connected in),
/// until the returned sender says `true`: for tests and benchmarks that
/// run `hrsync serve`'s application in their own process.
pub fn serve_in_background(
    tokio: tokio::runtime::Runtime,
    state: AppState,
    scheduler_tick: std::time::Duration,
) -> std::io::Result<(std::net::SocketAddr, tokio::sync::watch::Sender<bool>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    std::thread::Builder::new()
        .name(format!("hrsync-serve-{}", addr.port()))
        .spawn(move || {
            tokio.block_on(async move {
                let control = Arc::clone(&state.control);
                tokio::spawn(crate::control::scheduler::run(control, scheduler_tick, stopped.clone()));
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(error) => return tracing::error!("cannot listen on {addr}: {error}"),
                };
                let mut stopped = stopped;
                let served = axum::serve(
                    listener,
                    app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
                )
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
                if let Err(error) = served {
                    tracing::error!("serving on {addr}: {error}");
                }
            });
        })?;
    Ok((addr, stop))
}
