//! Tenants, members and API keys.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Operator, Principal};
use super::error::{ApiError, ErrorBody};
use super::{AppState, Json, Path};
use hrsync_store::tenants::{ApiKey, IssuedKey, Member, Mode, Role, Tenant};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant))
        .routes(routes!(current_tenant))
        .routes(routes!(list_members, add_member))
        .routes(routes!(change_member, remove_member))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub name: String,
    /// The first owner; gets the first key.
    pub owner_email: String,
}

/// A key and its secret, which is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewKeyResponse {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The key itself: store it now, it cannot be shown again.
    pub secret: String,
}

impl From<IssuedKey> for NewKeyResponse {
    fn from(issued: IssuedKey) -> Self {
        Self {
            key: issued.key,
            secret: issued.secret,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTenant {
    pub tenant: Tenant,
    pub owner: Member,
    pub key: NewKeyResponse,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    pub tenant: Tenant,
    pub member: Member,
    pub mode: Mode,
}

pub fn check_email(field: &str, email: &str) -> Result<(), ApiError> {
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.contains('@'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(field, format!("`{email}` is not an e-mail address")))
    }
}

pub fn check_name(field: &str, name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(field, "give a name of 1 to 200 printable characters"));
    }
    if let Some(hidden) = name.chars().find(|c| is_hidden(*c)) {
        return Err(ApiError::invalid(
            field,
            format!(
                "the name holds U+{:04X}, an invisible or text-direction character: names are shown to \
                 other members and must read as they are",
                hidden as u32
            ),
        ));
    }
    Ok(())
}

/// Bidirectional overrides and isolates, direction marks and zero-width
/// characters: they make a name display as something it is not.
fn is_hidden(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}')
}

/// Creates a tenant with its first owner and a live key for them.
#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = NewTenant,
    security(("operator_token" = [])),
    responses((status = 201, body = CreatedTenant), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn create_tenant(
    State(state): State<AppState>,
    _operator: Operator,
    Json(new): Json<NewTenant>,
) -> Result<(StatusCode, Json<CreatedTenant>), ApiError> {
    check_name("name", &new.name)?;
    check_email("owner_email", &new.owner_email)?;
    let store = &state.control.store;
    let tenant = store.create_tenant(&new.name).await?;
    let owner = store
        .add_member(&tenant.id, &new.owner_email, Role::Owner)
        .await?
        .ok_or_else(|| ApiError::Internal("a new tenant already had its owner".into()))?;
    let key = store.issue_key(&tenant.id, &owner.id, Mode::Live, "first key").await?;
    state
        .audit_as(
            &tenant.id,
            "operator",
            None,
            "tenant.create",
            serde_json::json!({ "name": tenant.name, "owner": owner.email }),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTenant {
            tenant,
            owner,
            key: key.into(),
        }),
    ))
}

/// The tenant, member and mode of the calling key.
#[utoipa::path(get, path = "/tenant", tag = "tenants", security(("api_key" = [])),
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn current_tenant(State(state): State<AppState>, who: Principal) -> Result<Json<WhoAmI>, ApiError> {
    let store = &state.control.store;
    let tenant = store
        .tenant(&who.tenant)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant", &who.tenant))?;
    let member = store
        .member(&who.tenant, &who.member)
        .await?
        .ok_or_else(|| ApiError::not_found("member", &who.member))?;
    Ok(Json(WhoAmI {
        tenant,
        member,
        mode: who.mode,
    }))
}

/// The tenant's members (live keys only).
#[utoipa::path(get, path = "/members", tag = "members", security(("api_key" = [])),
    responses((status = 200, body = Vec<Member>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn list_members(State(state): State<AppState>, who: Principal) -> Result<Json<Vec<Member>>, ApiError> {
    who.require_live("the members")?;
    Ok(Json(state.control.store.members(&who.tenant).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub email: String,
    pub role: Role,
}

/// Adds a member (owners only).
#[utoipa::path(post, path = "/members", tag = "members", request_body = NewMember, security(("api_key" = [])),
    responses((status = 201, body = Member), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn add_member(
    State(state): State<AppState>,
    who: Principal,
    Json(new): Json<NewMember>,
) -> Result<(StatusCode, Json<Member>), ApiError> {
    who.require(Role::Owner)?;
    who.require_live("the members")?;
    check_email("email", &new.email)?;
    let member = state
        .control
        .store
        .add_member(&who.tenant, &new.email, new.role)
        .await?
        .ok_or_else(|| ApiError::Conflict {
            field: Some("email".into()),
            message: format!("{} is already a member", new.email),
        })?;
    state
        .audit(
            &who,
            None,
            "member.add",
            serde_json::json!({ "member": member.id, "email": member.email, "role": member.role }),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(member)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberChange {
    pub role: Role,
}

pub(crate) async fn member_or_404(state: &AppState, who: &Principal, id: &str) -> Result<Member, ApiError> {
    state
        .control
        .store
        .member(&who.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("member", id))
}

/// A tenant keeps at least one owner.
pub(crate) async fn keeps_an_owner(state: &AppState, who: &Principal, member: &Member) -> Result<(), ApiError> {
    let owners = state
        .control
        .store
        .members(&who.tenant)
        .await?
        .into_iter()
        .filter(|m| m.role == Role::Owner && m.id != member.id)
        .count();
    if member.role == Role::Owner && owners == 0 {
        return Err(ApiError::Conflict {
            field: Some("role".into()),
            message: "a tenant keeps at least one owner".into(),
        });
    }
    Ok(())
}

/// Changes a member's role (owners only).
#[utoipa::path(patch, path = "/members/{id}", tag = "members", request_body = MemberChange, security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Member), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn change_member(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(change): Json<MemberChange>,
) -> Result<Json<Member>, ApiError> {
    who.require(Role::Owner)?;
    who.require_live("the members")?;
    let member = member_or_404(&state, &who, &id).await?;
    if change.role != Role::Owner {
        keeps_an_owner(&state, &who, &member).await?;
    }
    state
        .control
        .store
        .set_member_role(&who.tenant, &id, change.role)
        .await?;
    state
        .audit(
            &who,
            None,
            "member.role",
            serde_json::json!({ "member": id, "before": member.role, "after": change.role }),
        )
        .await?;
    Ok(Json(Member {
        role: change.role,
        ..member
    }))
}

/// Removes a member and revokes their keys (owners only).
#[utoipa::path(delete, path = "/members/{id}", tag = "members", security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::Owner)?;
    who.require_live("the members")?;
    let member = member_or_404(&state, &who, &id).await?;
    keeps_an_owner(&state, &who, &member).await?;
    state.control.store.remove_member(&who.tenant, &id).await?;
    state
        .audit(
            &who,
            None,
            "member.remove",
            serde_json::json!({ "member": id, "email": member.email }),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's keys, without their secrets (owners only).
#[utoipa::path(get, path = "/keys", tag = "keys", security(("api_key" = [])),
    responses((status = 200, body = Vec<ApiKey>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn list_keys(State(state): State<AppState>, who: Principal) -> Result<Json<Vec<ApiKey>>, ApiError> {
    who.require(Role::Owner)?;
    let keys = state.control.store.keys(&who.tenant).await?;
    Ok(Json(keys.into_iter().filter(|key| who.sees(key.mode)).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
    pub mode: Mode,
    /// The member the key acts as; the caller by default.
    #[serde(default)]
    pub member_id: Option<String>,
}

/// Issues a key; its secret is in this response only (owners only; a test
/// key issues test keys only).
#[utoipa::path(post, path = "/keys", tag = "keys", request_body = NewKey, security(("api_key" = [])),
    responses((status = 201, body = NewKeyResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn create_key(
    State(state): State<AppState>,
    who: Principal,
    Json(new): Json<NewKey>,
) -> Result<(StatusCode, Json<NewKeyResponse>), ApiError> {
    who.require(Role::Owner)?;
    check_name("name", &new.name)?;
    if !who.sees(new.mode) {
        return Err(ApiError::Forbidden("a test key cannot issue live keys".into()));
    }
    let member = new.member_id.unwrap_or_else(|| who.member.clone());
    let store = &state.control.store;
    if store.member(&who.tenant, &member).await?.is_none() {
        return Err(ApiError::not_found("member", &member));
    }
    let issued = store.issue_key(&who.tenant, &member, new.mode, &new.name).await?;
    state
        .audit(
            &who,
            None,
            "key.create",
            serde_json::json!({ "key": issued.key.id, "member": member, "mode": new.mode }),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(issued.into())))
}

/// Revokes a key at once (owners only).
#[utoipa::path(delete, path = "/keys/{id}", tag = "keys", security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::Owner)?;
    // A test key sees live keys as it sees any live thing: not at all.
    let visible = state
        .control
        .store
        .keys(&who.tenant)
        .await?
        .iter()
        .any(|key| key.id == id && who.sees(key.mode));
    if !visible || !state.control.store.revoke_key(&who.tenant, &id).await? {
        return Err(ApiError::not_found("key", &id));
    }
    state
        .audit(&who, None, "key.revoke", serde_json::json!({ "key": id }))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
