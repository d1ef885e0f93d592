//! The admin console: server-rendered pages at `/` for the members of a
//! tenant, signed in with an API key. Every action calls the admin API's
//! own handlers (`crate::api`) with the member as its [`Principal`], so the
//! tenant, role and key-mode checks and the audit events are the API's —
//! one implementation of each rule.
//!
//! - [`session`]: sign-in, the session cookie, CSRF tokens;
//! - [`page`]: the layout, the security headers, the vendored assets;
//! - one module per screen: [`integrations`] (list, overview, Sync Now,
//!   Resume, runs and a run's side panel), [`wizard`] (a new integration),
//!   [`rules`] (rule editors, preview against the current rules),
//!   [`plugins`] (catalog, upload, installations), [`members`] (members
//!   and keys), [`audit`] (the log and its check).
//!
//! Pages work without JavaScript; htmx (vendored, `assets/`) refreshes a
//! running sync and opens side panels in place.

pub mod audit;
pub mod form;
pub mod integrations;
pub mod members;
pub mod page;
pub mod plugins;
pub mod rules;
pub mod session;
pub mod wizard;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api::error::ApiError;
use crate::api::AppState;

/// The console's routes; [`page::secured`] wraps them in the security
/// headers and [`session::csrf_guard`] checks every form.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/integrations") }))
        .route("/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/sign-out", post(session::sign_out))
        .route("/integrations", get(integrations::list))
        .route("/integrations/new", get(wizard::start).post(wizard::step))
        .route("/integrations/{id}", get(integrations::overview))
        .route("/integrations/{id}/row", get(integrations::row))
        .route("/integrations/{id}/{action}", post(integrations::action))
        .route("/integrations/{id}/options", post(integrations::save_options))
        .route("/integrations/{id}/runs", get(integrations::runs))
        .route("/runs/{id}", get(integrations::run_panel))
        .route("/integrations/{id}/rules", get(rules::page).post(rules::act))
        .route("/plugins", get(plugins::catalog))
        .route(
            "/plugins/upload",
            post(plugins::upload).layer(axum::extract::DefaultBodyLimit::max(
                state.settings.max_plugin_bytes + (64 << 10),
            )),
        )
        .route("/installations/{id}", get(plugins::installation).post(plugins::change))
        .route("/members", get(members::page).post(members::act))
        .route("/audit", get(audit::page))
        .route("/assets/{file}", get(page::asset))
        .layer(axum::middleware::from_fn_with_state(state, session::csrf_guard))
        .layer(axum::middleware::from_fn(page::secured))
}

/// What a console request can end in besides its page.
#[derive(Debug)]
pub enum ConsoleError {
    /// No session, or one that ended: back to the sign-in page.
    SignIn,
    /// The same, for a request of htmx (`HX-Redirect`).
    SignInFromHtmx,
    /// The API refused or failed; shown as a page with its words.
    Api(ApiError),
}

impl From<ApiError> for ConsoleError {
    fn from(error: ApiError) -> Self {
        ConsoleError::Api(error)
    }
}

impl From<hrsync_store::StoreError> for ConsoleError {
    fn from(error: hrsync_store::StoreError) -> Self {
        ConsoleError::Api(error.into())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::SignIn => Redirect::to("/sign-in").into_response(),
            ConsoleError::SignInFromHtmx => (StatusCode::OK, [("hx-redirect", "/sign-in")]).into_response(),
            ConsoleError::Api(error) => {
                // The API's status and words; internal errors keep their
                // details in the server log.
                let (status, message) = (error.status(), error.public_message());
                (status, page::bare("hrsync — error", &message)).into_response()
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, ConsoleError>;

/// 303 to `to`: after a form, the browser GETs the result.
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, to.to_string())]).into_response()
}
