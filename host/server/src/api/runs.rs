//! The run history and the audit log.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Principal;
use super::error::{ApiError, ErrorBody};
use super::{AppState, Json, Path, Query};
use hrsync_engine::storage::ItemRecord;
use hrsync_store::tenants::Mode;
use hrsync_store::{AuditCheck, AuditFilter, AuditRecord, ItemFilter, RunRecord};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(list_audit))
        .routes(routes!(verify_audit))
}

/// One run: who or what started it, how it ended, what it changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    pub integration: String,
    /// `manual`, `schedule`, `webhook` or `cli`.
    pub trigger: String,
    /// The member who started it; none for the schedule.
    pub started_by: Option<String>,
    /// `queued` (waiting for one of the server's `--max-concurrent-runs` slots), `running`, `succeeded`, `succeeded-with-rejections` (more records rejected than `options.rejected_threshold_percent` allows), `partial` (some items failed), `failed`,
    /// `dry-run`.
    pub status: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
    /// Users and teams created, updated, deactivated, ... and failed items.
    #[schema(value_type = Object)]
    pub counts: serde_json::Value,
}

impl From<RunRecord> for RunView {
    fn from(run: RunRecord) -> Self {
        Self {
            counts: serde_json::from_str(&run.counts).unwrap_or_else(|_| serde_json::json!({})),
            id: run.id,
            integration: run.integration_id,
            trigger: run.trigger,
            started_by: run.started_by,
            status: run.status,
            started_at: run.started_at,
            finished_at: run.finished_at,
            error: run.error,
        }
    }
}

/// A planned change and its outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemView {
    pub hr_id: Option<String>,
    /// `create-account`, `update-account`, `deactivate-account`, ...
    pub kind: String,
    pub summary: String,
    /// `done`, `linked-existing`, `failed`, `planned` (dry run), ...
    pub outcome: String,
    pub error: Option<String>,
    pub attempts: u32,
}

impl From<ItemRecord> for ItemView {
    fn from(item: ItemRecord) -> Self {
        Self {
            hr_id: item.hr_id,
            kind: item.kind,
            summary: item.summary,
            outcome: item.outcome,
            error: item.error,
            attempts: item.attempts,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunDetail {
    pub run: RunView,
    pub items: Vec<ItemView>,
}

/// A run of one of the caller's integrations, with its items.
pub async fn run_detail(state: &AppState, who: &Principal, id: &str) -> Result<RunDetail, ApiError> {
    run_detail_where(state, who, id, &ItemFilter::default()).await
}

/// [`run_detail`] with only the items that pass `filter`.
pub(crate) async fn run_detail_where(
    state: &AppState,
    who: &Principal,
    id: &str,
    filter: &ItemFilter,
) -> Result<RunDetail, ApiError> {
    let store = &state.control.store;
    let run = store
        .tenant_run(&who.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("run", id))?;
    let integration = store.integration(&who.tenant, &run.integration_id).await?;
    if !integration.is_some_and(|i| who.sees(i.mode)) {
        return Err(ApiError::not_found("run", id));
    }
    let items = store
        .items_where(id, filter)
        .await?
        .into_iter()
        .map(ItemView::from)
        .collect();
    Ok(RunDetail { run: run.into(), items })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    /// Only this integration's runs.
    pub integration: Option<String>,
    /// At most this many, newest first (1 to 500, default 50).
    pub limit: Option<i64>,
}

fn limit(value: Option<i64>) -> Result<i64, ApiError> {
    let limit = value.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", format!("{limit} is not between 1 and 500")));
    }
    Ok(limit)
}

#[utoipa::path(get, path = "/runs", tag = "runs", security(("api_key" = [])), params(RunsQuery),
    responses((status = 200, body = Vec<RunView>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    who: Principal,
    Query(query): Query<RunsQuery>,
) -> Result<Json<Vec<RunView>>, ApiError> {
    let limit = limit(query.limit)?;
    let store = &state.control.store;
    // The integrations whose runs the key may see: the one asked for, or
    // all of the tenant's.
    let candidates = match &query.integration {
        Some(id) => store.integration(&who.tenant, id).await?.into_iter().collect(),
        None => store.integrations(&who.tenant).await?,
    };
    let visible: std::collections::HashSet<String> = candidates
        .into_iter()
        .filter(|i| who.sees(i.mode))
        .map(|i| i.id)
        .collect();
    let runs = store
        .tenant_runs(&who.tenant, query.integration.as_deref(), limit)
        .await?;
    Ok(Json(
        runs.into_iter()
            .filter(|r| visible.contains(&r.integration_id))
            .map(RunView::from)
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ItemsQuery {
    /// Only items with this outcome: `done`, `failed`, `planned`, `skipped`, `rejected`, `held`, `kept`, `noted`, ...
    pub outcome: Option<String>,
    /// Only items of this kind: `create-account`, `update-account`, `add-member`, `link-manager`, `skipped`, `conflict`, ...
    pub kind: Option<String>,
    /// Only this employee's items (HR id).
    pub employee: Option<String>,
}

/// A run with its items: every change with its outcome, and every skipped,
/// rejected, conflicting or noted employee.
#[utoipa::path(get, path = "/runs/{id}", tag = "runs", security(("api_key" = [])),
    params(("id" = String, Path), ItemsQuery),
    responses((status = 200, body = RunDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn get_run(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Query(query): Query<ItemsQuery>,
) -> Result<Json<RunDetail>, ApiError> {
    let filter = ItemFilter {
        outcome: query.outcome,
        kind: query.kind,
        hr_id: query.employee,
    };
    Ok(Json(run_detail_where(&state, &who, &id, &filter).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this integration's events.
    pub integration: Option<String>,
    /// Events older than this one (the id of the last event of the page
    /// before, for the next page).
    pub before: Option<String>,
    /// Only events whose actor contains this (any case): `anna@example.com`, `schedule`.
    pub actor: Option<String>,
    /// Only events whose action contains this (any case): `integration.`, `key.revoke`.
    pub action: Option<String>,
    /// Only events at or after this time (ms since the epoch) ...
    pub from: Option<i64>,
    /// ... and before this one.
    pub until: Option<i64>,
    /// At most this many, newest first (1 to 500, default 50).
    pub limit: Option<i64>,
}

/// The tenant's audit log: admin actions and applied changes, newest first.
/// A test key reads only the events of one test integration
/// (`?integration=ID`).
#[utoipa::path(get, path = "/audit", tag = "audit", security(("api_key" = [])), params(AuditQuery),
    responses((status = 200, body = Vec<AuditRecord>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    who: Principal,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let limit = limit(query.limit)?;
    // A test key reads the events of one test integration at a time; the
    // rest of the log (members, keys, live configs) is not its to read.
    match &query.integration {
        Some(id) if who.mode == Mode::Test => {
            super::integrations::visible(&state, &who, id).await?;
        }
        _ => who.require_live("the tenant's audit log (name a test integration: ?integration=ID)")?,
    }
    let events = state
        .control
        .store
        .tenant_audit(
            &who.tenant,
            &AuditFilter {
                integration: query.integration,
                before: query.before,
                actor: query.actor.filter(|t| !t.is_empty()),
                action: query.action.filter(|t| !t.is_empty()),
                from: query.from,
                until: query.until,
            },
            limit,
        )
        .await?;
    Ok(Json(events))
}

/// Walks the whole hash chain of the audit log, answering for the caller's
/// tenant: `events` counts its own events, and a break is named only when
/// it is one of them (otherwise: broken, with no place or id).
#[utoipa::path(get, path = "/audit/verify", tag = "audit", security(("api_key" = [])),
    responses((status = 200, body = AuditCheck), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn verify_audit(State(state): State<AppState>, who: Principal) -> Result<Json<AuditCheck>, ApiError> {
    who.require_live("the audit log")?;
    Ok(Json(state.control.store.verify_audit_for(&who.tenant).await?))
}
