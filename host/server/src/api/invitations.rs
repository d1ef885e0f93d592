//! Invitations sent later (seed 004: "invite new users later by resending
//! the open invitations"): the app is asked to invite the accounts the
//! integration created without its invitation — all of them, or the
//! accounts of the employees named. The same rules as `hrsync invite`
//! (host/engine/src/invite.rs), under the integration's lease.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Principal;
use super::error::{ApiError, ErrorBody};
use super::integrations::visible;
use super::{AppState, Json, Path};
use hrsync_engine::invite::{InviteError, Invitees};
use hrsync_engine::manual::Actor;
use hrsync_store::tenants::Role;

/// Most employees one request names.
const MAX_EMPLOYEES: usize = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(invite))
}

/// Whom to invite: `all` (every account the integration created and never
/// had invited) or the `employees` named by HR id (sent again to an account
/// invited before).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub employees: Vec<String>,
    /// Say whom, send nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub hr_id: String,
    pub account: String,
    /// Why the app did not send it; none when it did.
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Invited {
    pub dry_run: bool,
    /// Invitations sent (or due, in a dry run).
    pub sent: usize,
    pub failed: usize,
    pub invitations: Vec<InvitationView>,
}

fn refused(error: InviteError) -> ApiError {
    let message = error.to_string();
    match error {
        InviteError::Unsupported => ApiError::Conflict {
            field: Some("target".into()),
            message,
        },
        InviteError::NoAccount(_) => ApiError::invalid("employees", message),
        InviteError::Plugin(_) => ApiError::Invalid { field: None, message },
        InviteError::Store(error) => ApiError::Internal(error.to_string()),
    }
}

/// Asks the app to invite accounts created without its invitation
/// (admins). Answers when done, naming each account and any that failed.
#[utoipa::path(post, path = "/integrations/{id}/invitations", tag = "integrations", request_body = InviteRequest,
    security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Invited), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn invite(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(request): Json<InviteRequest>,
) -> Result<Json<Invited>, ApiError> {
    who.require(Role::Admin)?;
    let integration = visible(&state, &who, &id).await?;
    let employees: Vec<String> = request.employees.iter().map(|e| e.trim().to_string()).collect();
    let who_is_invited = match (request.all, employees.is_empty()) {
        (true, true) => Invitees::NotYetInvited,
        (false, false) if employees.len() <= MAX_EMPLOYEES => {
            if let Some(bad) = employees.iter().find(|e| e.is_empty() || e.len() > 200) {
                return Err(ApiError::invalid(
                    "employees",
                    format!("`{bad}` is not an HR id (1 to 200 characters)"),
                ));
            }
            Invitees::Employees(employees)
        }
        (false, false) => {
            return Err(ApiError::invalid(
                "employees",
                format!("at most {MAX_EMPLOYEES} employees per request"),
            ))
        }
        _ => {
            return Err(ApiError::invalid(
                "all",
                "say whom: \"all\": true (every account not yet invited) or \"employees\": [HR ids], not both",
            ))
        }
    };
    let job = state.control.prepare(&who.tenant, &integration).await?;
    let actor = who.actor();
    let actor = Actor {
        name: &actor,
        tenant: Some(&who.tenant),
    };
    let store = &state.control.store;
    let invitations = state
        .control
        .exclusively(
            &integration.id,
            job.invite(store, &who_is_invited, request.dry_run, actor),
        )
        .await?
        .map_err(refused)?;
    let failed = invitations.iter().filter(|i| i.error.is_some()).count();
    Ok(Json(Invited {
        dry_run: request.dry_run,
        sent: invitations.len() - failed,
        failed,
        invitations: invitations
            .into_iter()
            .map(|i| InvitationView {
                hr_id: i.hr_id,
                account: i.account_id,
                error: i.error,
            })
            .collect(),
    }))
}
