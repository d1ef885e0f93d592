//! Manual resolution of identities (docs/integration.md, "Identity"): an
//! admin links an employee to a given account, or removes a link. A manual
//! link wins over matching and is kept until removed; the same rules as
//! `hrsync link` (host/engine/src/manual.rs), under the integration's lease.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Principal;
use super::error::{ApiError, ErrorBody};
use super::integrations::visible;
use super::{AppState, Json, Path};
use hrsync_engine::correlate::Link;
use hrsync_engine::manual::{unlink, Actor, ManualLinkError};
use hrsync_store::tenants::Role;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_link, put_link, delete_link))
}

/// An employee's link to an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkView {
    pub hr_id: String,
    pub account: String,
    /// `created` (the integration made the account), `adopted` (matched),
    /// `manual` (linked by an admin).
    pub origin: String,
    /// The account's e-mail and user name as last seen, lower case.
    pub email: Option<String>,
    pub user_name: Option<String>,
}

impl From<Link> for LinkView {
    fn from(link: Link) -> Self {
        Self {
            hr_id: link.hr_id,
            account: link.account_id,
            origin: link.origin.as_str().to_string(),
            email: link.keys.email,
            user_name: link.keys.user_name,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The account's id in the target app.
    pub account: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkChanged {
    pub link: LinkView,
    /// The employee's link before, if it had one.
    pub previous: Option<LinkView>,
}

fn refused(error: ManualLinkError) -> ApiError {
    let message = error.to_string();
    match error {
        ManualLinkError::UnknownEmployee(_) => ApiError::invalid("hr_id", message),
        ManualLinkError::UnknownAccount(_) => ApiError::invalid("account", message),
        ManualLinkError::AccountTaken { .. } => ApiError::Conflict {
            field: Some("account".into()),
            message,
        },
        ManualLinkError::NoLink(hr_id) => ApiError::NotFound {
            what: "link",
            id: hr_id,
        },
        ManualLinkError::Plugin { .. } => ApiError::Invalid { field: None, message },
        ManualLinkError::Store(error) => ApiError::Internal(error.to_string()),
    }
}

fn check_hr_id(hr_id: &str) -> Result<&str, ApiError> {
    let hr_id = hr_id.trim();
    if hr_id.is_empty() || hr_id.len() > 200 {
        return Err(ApiError::invalid(
            "hr_id",
            "name the employee's HR id (at most 200 characters)",
        ));
    }
    Ok(hr_id)
}

/// An employee's link.
#[utoipa::path(get, path = "/integrations/{id}/links/{hr_id}", tag = "integrations", security(("api_key" = [])),
    params(("id" = String, Path), ("hr_id" = String, Path, description = "The employee's id in the HR system")),
    responses((status = 200, body = LinkView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn get_link(
    State(state): State<AppState>,
    who: Principal,
    Path((id, hr_id)): Path<(String, String)>,
) -> Result<Json<LinkView>, ApiError> {
    let integration = visible(&state, &who, &id).await?;
    let hr_id = check_hr_id(&hr_id)?;
    let link = state
        .control
        .store
        .link_of_employee(&integration.id, hr_id)
        .await?
        .ok_or_else(|| ApiError::not_found("link", hr_id))?;
    Ok(Json(link.into()))
}

/// Links an employee to an account by hand (admins): both are checked to
/// exist (the source is read until the employee is found), and the account
/// must belong to nobody else. The link wins over matching until removed;
/// the account's e-mail and user name are left as they are.
#[utoipa::path(put, path = "/integrations/{id}/links/{hr_id}", tag = "integrations", request_body = LinkRequest,
    security(("api_key" = [])),
    params(("id" = String, Path), ("hr_id" = String, Path, description = "The employee's id in the HR system")),
    responses((status = 200, body = LinkChanged), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn put_link(
    State(state): State<AppState>,
    who: Principal,
    Path((id, hr_id)): Path<(String, String)>,
    Json(request): Json<LinkRequest>,
) -> Result<Json<LinkChanged>, ApiError> {
    who.require(Role::Admin)?;
    let integration = visible(&state, &who, &id).await?;
    let hr_id = check_hr_id(&hr_id)?.to_string();
    let account = request.account.trim().to_string();
    if account.is_empty() || account.len() > 500 {
        return Err(ApiError::invalid(
            "account",
            "name the account's id (at most 500 characters)",
        ));
    }
    let job = state.control.prepare(&who.tenant, &integration).await?;
    let actor = who.actor();
    let actor = Actor {
        name: &actor,
        tenant: Some(&who.tenant),
    };
    let store = &state.control.store;
    let linked = state
        .control
        .exclusively(&integration.id, job.link_by_hand(store, &hr_id, &account, actor))
        .await?
        .map_err(refused)?;
    Ok(Json(LinkChanged {
        link: linked.link.into(),
        previous: linked.previous.map(LinkView::from),
    }))
}

/// Removes an employee's link, however it was made (admins); the next run
/// matches the employee again.
#[utoipa::path(delete, path = "/integrations/{id}/links/{hr_id}", tag = "integrations", security(("api_key" = [])),
    params(("id" = String, Path), ("hr_id" = String, Path, description = "The employee's id in the HR system")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn delete_link(
    State(state): State<AppState>,
    who: Principal,
    Path((id, hr_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::Admin)?;
    let integration = visible(&state, &who, &id).await?;
    let hr_id = check_hr_id(&hr_id)?.to_string();
    let actor = who.actor();
    let actor = Actor {
        name: &actor,
        tenant: Some(&who.tenant),
    };
    state
        .control
        .exclusively(
            &integration.id,
            unlink(&state.control.store, &integration.id, &hr_id, actor),
        )
        .await?
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}
