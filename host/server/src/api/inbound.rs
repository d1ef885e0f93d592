//! The token of an integration's inbound SCIM endpoint
//! (`/scim/v2/{integration}`, `scim/mod.rs`): a new one replaces the old
//! at once, shown this once; only its hash is kept.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Principal;
use super::error::{ApiError, ErrorBody};
use super::integrations::visible;
use super::{AppState, Json, Path};
use hrsync_store::tenants::Role;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(new_scim_token))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimToken {
    /// The bearer token the identity provider sends; the previous one no
    /// longer works.
    pub token: String,
    /// The endpoint's path on this server: the identity provider's
    /// "tenant URL" is this server's address followed by it.
    pub endpoint: String,
}

/// A new token for the integration's inbound SCIM endpoint (admins);
/// the old one stops working.
#[utoipa::path(post, path = "/integrations/{id}/scim-token", tag = "integrations", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ScimToken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn new_scim_token(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<ScimToken>, ApiError> {
    who.require(Role::Admin)?;
    let mut integration = visible(&state, &who, &id).await?;
    if integration.source != crate::scim::INBOUND_SOURCE {
        return Err(ApiError::Conflict {
            field: Some("source".into()),
            message: format!(
                "the integration reads installation `{}`; only one whose source is `{}` has a SCIM endpoint",
                integration.source,
                crate::scim::INBOUND_SOURCE
            ),
        });
    }
    let token = crate::scim::issue_token(&mut integration.sealed_secrets)?;
    // The secrets alone: a change of state or configuration made
    // meanwhile stays.
    (state.control.store)
        .set_integration_secrets(&who.tenant, &id, &integration.sealed_secrets)
        .await?;
    state
        .audit(&who, Some(&id), "integration.scim_token", serde_json::json!({}))
        .await?;
    Ok(Json(ScimToken {
        token,
        endpoint: format!("/scim/v2/{id}"),
    }))
}
