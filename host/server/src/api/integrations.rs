//! Integrations: a source, rules and a target installation with options
//! and a schedule; tested with a dry run, activated, run now, paused and
//! resumed.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Principal;
use super::error::{ApiError, ErrorBody};
use super::plugins::visible_installation;
use super::runs::{run_detail, RunDetail};
use super::tenants::{check_email, check_name};
use super::versions;
use super::{AppState, Json, Path};
use crate::control::schedule::{Schedule, DEFAULT_SCHEDULE, DEFAULT_TIMEZONE};
use crate::control::SetupError;
use crate::vault::{random_bytes, to_hex};
use hrsync_engine::job::{Job, JobError, RunRequest};
use hrsync_engine::plan::Options;
use hrsync_engine::rules::{Outcome, Tried};
use hrsync_engine::whatif::WhatIf;
use hrsync_model::clock::now_ms;
use hrsync_store::integrations::{Integration, Notify, State as RunState};
use hrsync_store::new_id;
use hrsync_store::tenants::Role;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_integrations, create_integration))
        .routes(routes!(get_integration, change_integration))
        .routes(routes!(restore_integration))
        .routes(routes!(test_integration))
        .routes(routes!(preview))
        .routes(routes!(try_rules))
        .routes(routes!(activate))
        .routes(routes!(deactivate))
        .routes(routes!(resume))
        .routes(routes!(sync_now))
        .routes(routes!(provision))
}

pub(crate) fn default_schedule() -> String {
    DEFAULT_SCHEDULE.to_string()
}

pub(crate) fn default_timezone() -> String {
    DEFAULT_TIMEZONE.to_string()
}

/// An integration's configuration: the body of `POST /integrations`, what
/// a PATCH merges into, and what each of its versions holds
/// (`versions.rs`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationConfig {
    pub name: String,
    /// Installation ids; `source` may instead be `inbound-scim`: what an
    /// identity provider pushes to the integration's SCIM endpoint.
    pub source: String,
    #[serde(default)]
    pub rules: Vec<String>,
    pub target: String,
    #[serde(default)]
    pub options: Options,
    /// Cron (5 fields, or 6 with seconds); daily at 04:00 by default.
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// IANA time zone of the schedule; UTC by default.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default)]
    pub notify: Notify,
}

/// A new integration and the secret of its notifications, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedIntegration {
    #[serde(flatten)]
    pub integration: Integration,
    /// Signs the notifications hrsync POSTs to `notify.webhook_url`.
    pub signing_secret: String,
    /// With `source: "inbound-scim"`: the bearer token of the integration's
    /// SCIM endpoint (`/scim/v2/{id}`), shown this once; only its hash is
    /// kept (a new one: `POST /integrations/{id}/scim-token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scim_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunStarted {
    /// The run that started; `null` when one was already going on.
    pub run_id: Option<String>,
    pub integration: Integration,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SyncRequest {
    /// Read every employee, not only the changes since the last run.
    pub full: bool,
}

pub(crate) async fn visible(state: &AppState, who: &Principal, id: &str) -> Result<Integration, ApiError> {
    state
        .control
        .store
        .integration(&who.tenant, id)
        .await?
        .filter(|i| who.sees(i.mode))
        .ok_or_else(|| ApiError::not_found("integration", id))
}

/// Everything an integration refers to exists, is visible, is of its mode
/// and fits together; the options, schedule and notify settings are valid.
pub(crate) async fn check(state: &AppState, who: &Principal, integration: &Integration) -> Result<(), ApiError> {
    check_name("name", &integration.name)?;
    let fields = std::iter::once(("source".to_string(), &integration.source))
        .chain(
            integration
                .rules
                .iter()
                .enumerate()
                .map(|(i, r)| (format!("rules[{i}]"), r)),
        )
        .chain(std::iter::once(("target".to_string(), &integration.target)));
    for (field, id) in fields {
        if field == "source" && id == crate::scim::INBOUND_SOURCE {
            continue;
        }
        let installation = visible_installation(state, who, id)
            .await
            .map_err(|_| ApiError::invalid(&field, format!("installation `{id}` not found")))?;
        if installation.mode != integration.mode {
            return Err(ApiError::invalid(
                field,
                format!("installation `{id}` is a {} installation", installation.mode.as_str()),
            ));
        }
    }
    let schedule = Schedule::parse(&integration.schedule, &integration.timezone).map_err(|e| {
        let field = match e {
            crate::control::schedule::ScheduleError::Zone(_) => "timezone",
            _ => "schedule",
        };
        ApiError::invalid(field, e.to_string())
    })?;
    let minimum = state.settings.min_schedule_interval_secs;
    if let Some(gap) = schedule.shortest_gap(hrsync_model::clock::now_ms(), 50) {
        if gap < (minimum as i64).saturating_mul(1000) {
            return Err(ApiError::invalid(
                "schedule",
                format!(
                    "`{}` runs every {} s; this server runs an integration at most every {minimum} s \
                     (operator setting --min-schedule-interval-secs)",
                    integration.schedule,
                    gap / 1000
                ),
            ));
        }
    }
    for (i, email) in integration.notify.emails.iter().enumerate() {
        check_email(&format!("notify.emails[{i}]"), email)?;
    }
    if let Some(url) = &integration.notify.webhook_url {
        match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
                let origin = parsed.origin().ascii_serialization();
                if let Some(refusal) = hrsync_runtime::Grant::parse(&origin)
                    .ok()
                    .and_then(|grant| state.control.egress.refusal(&grant))
                {
                    return Err(ApiError::invalid("notify.webhook_url", refusal));
                }
            }
            _ => {
                return Err(ApiError::invalid(
                    "notify.webhook_url",
                    format!("`{url}` is not an http(s) URL"),
                ))
            }
        }
    }
    state.control.check(&who.tenant, integration).await?;
    Ok(())
}

fn config_of(integration: &Integration) -> IntegrationConfig {
    IntegrationConfig {
        name: integration.name.clone(),
        source: integration.source.clone(),
        rules: integration.rules.clone(),
        target: integration.target.clone(),
        options: integration.options.clone(),
        schedule: integration.schedule.clone(),
        timezone: integration.timezone.clone(),
        notify: integration.notify.clone(),
    }
}

fn versioned(integration: &Integration) -> serde_json::Value {
    serde_json::json!(config_of(integration))
}

/// The integration with `config` in place of its own.
fn configured(integration: &Integration, config: IntegrationConfig) -> Integration {
    Integration {
        name: config.name,
        source: config.source,
        rules: config.rules,
        target: config.target,
        options: config.options,
        schedule: config.schedule,
        timezone: config.timezone,
        notify: config.notify,
        ..integration.clone()
    }
}

fn next_run(integration: &Integration) -> Option<i64> {
    Schedule::parse(&integration.schedule, &integration.timezone)
        .ok()?
        .next_after(now_ms())
}

#[utoipa::path(get, path = "/integrations", tag = "integrations", security(("api_key" = [])),
    responses((status = 200, body = Vec<Integration>), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn list_integrations(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Vec<Integration>>, ApiError> {
    let all = state.control.store.integrations(&who.tenant).await?;
    Ok(Json(all.into_iter().filter(|i| who.sees(i.mode)).collect()))
}

/// Creates an inactive integration (admins). The secret that signs its
/// notifications is in this response only.
#[utoipa::path(post, path = "/integrations", tag = "integrations", request_body = IntegrationConfig, security(("api_key" = [])),
    responses((status = 201, body = CreatedIntegration), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn create_integration(
    State(state): State<AppState>,
    who: Principal,
    Json(new): Json<IntegrationConfig>,
) -> Result<(StatusCode, Json<CreatedIntegration>), ApiError> {
    who.require(Role::Admin)?;
    super::quota::integration(&state, &who.tenant).await?;
    let now = now_ms();
    let mut integration = Integration {
        id: new_id("int"),
        mode: who.mode,
        name: new.name,
        source: new.source,
        rules: new.rules,
        target: new.target,
        options: new.options,
        schedule: new.schedule,
        timezone: new.timezone,
        state: RunState::Inactive,
        paused_reason: None,
        next_run_at: None,
        notify: new.notify,
        last_run: None,
        created_at: now,
        updated_at: now,
        sealed_secrets: BTreeMap::new(),
    };
    check(&state, &who, &integration).await?;
    let internal = |e: crate::vault::VaultError| ApiError::Internal(e.to_string());
    let signing_secret = format!("whsig_{}", to_hex(&random_bytes::<24>().map_err(internal)?));
    let sealed = state
        .control
        .vault
        .seal(&format!("{}/signing", integration.id), &signing_secret)
        .map_err(internal)?;
    integration.sealed_secrets.insert("signing".to_string(), sealed);
    let scim_token = if integration.source == crate::scim::INBOUND_SOURCE {
        Some(crate::scim::issue_token(&mut integration.sealed_secrets)?)
    } else {
        None
    };
    state
        .control
        .store
        .add_integration(&who.tenant, &integration)
        .await?
        .ok_or_else(|| ApiError::Conflict {
            field: Some("name".into()),
            message: format!("an integration named `{}` exists", integration.name),
        })?;
    state
        .audit(
            &who,
            Some(&integration.id),
            "integration.create",
            serde_json::to_value(&integration).unwrap_or_default(),
        )
        .await?;
    versions::record(
        &state,
        &who,
        &integration.id,
        "integration.create",
        &versioned(&integration),
        None,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedIntegration {
            integration,
            signing_secret,
            scim_token,
        }),
    ))
}

#[utoipa::path(get, path = "/integrations/{id}", tag = "integrations", security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Integration), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn get_integration(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Integration>, ApiError> {
    Ok(Json(visible(&state, &who, &id).await?))
}

/// The body of a PATCH: a JSON Merge Patch (RFC 7396) of the integration's
/// configuration — the fields sent replace theirs (inside `options` and
/// `notify` too, key by key), `null` returns a field to its default, fields
/// not sent stay; lists (`rules`, `notify.emails`) are replaced whole.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrationChange {
    pub name: Option<String>,
    pub source: Option<String>,
    pub rules: Option<Vec<String>>,
    pub target: Option<String>,
    /// Only the options sent change.
    #[schema(value_type = Option<Object>)]
    pub options: Option<serde_json::Value>,
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub notify: Option<serde_json::Value>,
}

/// Changes an integration (admins); an active one is rescheduled.
#[utoipa::path(patch, path = "/integrations/{id}", tag = "integrations", request_body = IntegrationChange,
    security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Integration), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn change_integration(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(patch): Json<serde_json::Value>,
) -> Result<Json<Integration>, ApiError> {
    who.require(Role::Admin)?;
    let before = visible(&state, &who, &id).await?;
    if !patch.is_object() {
        return Err(ApiError::invalid(
            "body",
            "a PATCH is a JSON object (a merge patch of the integration)",
        ));
    }
    let mut merged = versioned(&before);
    json_patch::merge(&mut merged, &patch);
    let config: IntegrationConfig = serde_path_to_error::deserialize(merged).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // `{"name": null}` removes a field that has no default.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let field = match (path.as_str(), missing) {
            (".", Some(name)) => name.to_string(),
            (".", None) => "body".to_string(),
            _ => path,
        };
        ApiError::invalid(field, message)
    })?;
    let after = configured(&before, config);
    save(&state, &who, &before, after, "integration.update").await
}

/// Brings back an integration's configuration as of an earlier version
/// (admins); its state (active, paused) stays. Checked like a PATCH; the
/// result is a new version.
#[utoipa::path(post, path = "/integrations/{id}/versions/{version}/restore", tag = "integrations",
    security(("api_key" = [])), params(("id" = String, Path), ("version" = i64, Path)),
    responses((status = 200, body = Integration), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn restore_integration(
    State(state): State<AppState>,
    who: Principal,
    Path((id, version)): Path<(String, i64)>,
) -> Result<Json<Integration>, ApiError> {
    who.require(Role::Admin)?;
    let before = visible(&state, &who, &id).await?;
    let stored = versions::stored(&state, &who, &before.id, version).await?;
    let config: IntegrationConfig = serde_json::from_value(stored.config)
        .map_err(|e| ApiError::Internal(format!("version {version} of {id}: {e}")))?;
    let after = configured(&before, config);
    save(&state, &who, &before, after, "integration.restore").await
}

/// Checks a changed integration, stores it, audits the change and records
/// it as a version.
pub(crate) async fn save(
    state: &AppState,
    who: &Principal,
    before: &Integration,
    mut after: Integration,
    action: &str,
) -> Result<Json<Integration>, ApiError> {
    check(state, who, &after).await?;
    if after.state == RunState::Active {
        after.next_run_at = next_run(&after);
    }
    let saved = state.control.store.update_integration(&who.tenant, &after).await;
    match saved {
        Ok(true) => {}
        Ok(false) => return Err(ApiError::not_found("integration", &after.id)),
        Err(error) if error.to_string().to_lowercase().contains("unique") => {
            return Err(ApiError::Conflict {
                field: Some("name".into()),
                message: format!("an integration named `{}` exists", after.name),
            })
        }
        Err(error) => return Err(error.into()),
    }
    state
        .audit(
            who,
            Some(&after.id),
            action,
            serde_json::json!({ "before": before, "after": after }),
        )
        .await?;
    let changed = Some((&versioned(before), before.updated_at));
    versions::record(state, who, &after.id, action, &versioned(&after), changed).await?;
    Ok(Json(after))
}

/// A dry run: reads, applies the rules and plans, changes nothing in the
/// target, and answers with the plan (viewers may test).
#[utoipa::path(post, path = "/integrations/{id}/test", tag = "integrations", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = RunDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub(crate) async fn test_integration(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, ApiError> {
    let integration = visible(&state, &who, &id).await?;
    let order = RunRequest {
        dry_run: true,
        full: true,
        ..RunRequest::manual(&who.actor())
    };
    super::quota::run(&state, &who.tenant).await?;
    let started = state.control.start(&who.tenant, &integration, order).await?;
    // The outcome, failed or not, is recorded with the run.
    let _ = started.done.await;
    Ok(Json(run_detail(&state, &who, &started.run_id).await?))
}

/// A draft of an integration's rules and options, for a preview.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Draft {
    /// Rule installation ids, in order (the integration's own when left out).
    pub rules: Option<Vec<String>>,
    /// Options (the integration's own when left out).
    pub options: Option<Options>,
    /// Draft configs of rule installations, by installation id: the draft
    /// uses them in place of the stored ones (each checked against its
    /// plugin's schema). Nothing is saved.
    #[schema(value_type = Object)]
    pub configs: BTreeMap<String, serde_json::Value>,
}

/// What-if: the integration as it is and with a draft of its rules and
/// options, planned over one read of HR and of the app and compared
/// employee by employee — newly excluded or included, account, attribute,
/// team and manager changes. Nothing is written and nothing is saved
/// (viewers may preview).
#[utoipa::path(post, path = "/integrations/{id}/preview", tag = "integrations", request_body = Draft,
    security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, body = WhatIf), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn preview(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(draft): Json<Draft>,
) -> Result<Json<WhatIf>, ApiError> {
    let integration = visible(&state, &who, &id).await?;
    let mut drafted = integration.clone();
    drafted.rules = draft.rules.unwrap_or(drafted.rules);
    drafted.options = draft.options.unwrap_or(drafted.options);
    check(&state, &who, &drafted).await?;
    if let Some(stray) = draft.configs.keys().find(|id| !drafted.rules.contains(id)) {
        return Err(ApiError::invalid(
            format!("configs.{stray}"),
            format!("`{stray}` is not one of the draft's rules"),
        ));
    }
    super::quota::run(&state, &who.tenant).await?;
    let current = state.control.prepare(&who.tenant, &integration).await?;
    // The draft shares the integration's source and target: only its
    // rules and options are set up.
    let (settings, full_reads) = drafted.options.settings().map_err(SetupError::from)?;
    let planned = Job {
        rules: state
            .control
            .drafted_rules(&who.tenant, &drafted, &draft.configs)
            .await?,
        settings,
        full_reads,
        ..current.clone()
    }
    .in_time_zone(Some(&drafted.timezone));
    match current.what_if(&state.control.store, &planned).await {
        Ok(compared) => Ok(Json(compared)),
        Err(JobError::Store(error)) => Err(ApiError::Internal(error.to_string())),
        Err(error) => Err(ApiError::Invalid {
            field: None,
            message: error.to_string(),
        }),
    }
}

/// Employees to try the rules on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TryRequest {
    /// HR ids (1 to 20).
    #[schema(min_items = 1, max_items = 20)]
    pub employees: Vec<String>,
}

/// One rule's decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriedStep {
    /// `rules[0] (scope-rule)`.
    pub rule: String,
    /// `keep`, `exclude`, `reject` or `modify`.
    pub decision: &'static str,
    /// Why it excluded or rejected.
    pub reason: Option<String>,
    /// The teams and attributes wanted after this rule (`modify`).
    pub teams: Option<Vec<String>>,
    pub attributes: Option<BTreeMap<String, String>>,
    /// What the rule logged meanwhile.
    pub log: Vec<String>,
}

/// One employee through the rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriedEmployee {
    pub hr_id: String,
    /// Whether the source returned the employee.
    pub found: bool,
    pub name: Option<String>,
    pub email: Option<String>,
    pub steps: Vec<TriedStep>,
    /// `in scope`, `excluded` or `rejected`; none when not found.
    pub outcome: Option<String>,
    /// The exclusion's or rejection's reason.
    pub reason: Option<String>,
    /// In scope: the account's user name, teams and attributes.
    pub user_name: Option<String>,
    pub teams: Vec<String>,
    pub attributes: BTreeMap<String, String>,
    pub manager_hr_id: Option<String>,
}

fn attribute_map(list: &[hrsync_model::Attribute]) -> BTreeMap<String, String> {
    list.iter().map(|a| (a.name.clone(), a.value.to_text())).collect()
}

impl From<Tried> for TriedEmployee {
    fn from(tried: Tried) -> Self {
        use hrsync_model::Decision;
        let outcome = tried.outcome();
        let steps = tried
            .steps
            .into_iter()
            .map(|step| {
                let (decision, reason, teams, attributes) = match step.decision {
                    Decision::Keep => ("keep", None, None, None),
                    Decision::Exclude(reason) => ("exclude", Some(reason), None, None),
                    Decision::Reject(reason) => ("reject", Some(reason), None, None),
                    Decision::Modify(account) => (
                        "modify",
                        None,
                        Some(account.teams.clone()),
                        Some(attribute_map(&account.attributes)),
                    ),
                };
                TriedStep {
                    rule: step.rule,
                    decision,
                    reason,
                    teams,
                    attributes,
                    log: step.log,
                }
            })
            .collect();
        let employee = tried.employee.as_ref();
        let mut tried_employee = TriedEmployee {
            hr_id: tried.hr_id,
            found: employee.is_some(),
            name: employee.map(|e| format!("{} {}", e.first_name, e.last_name)),
            email: employee.and_then(|e| e.email.clone()),
            steps,
            outcome: None,
            reason: None,
            user_name: None,
            teams: Vec::new(),
            attributes: BTreeMap::new(),
            manager_hr_id: None,
        };
        match outcome {
            Some(Outcome::Excluded(reason)) => {
                tried_employee.outcome = Some("excluded".into());
                tried_employee.reason = Some(reason);
            }
            Some(Outcome::Rejected(reason)) => {
                tried_employee.outcome = Some("rejected".into());
                tried_employee.reason = Some(reason);
            }
            Some(Outcome::InScope(account)) => {
                tried_employee.outcome = Some("in scope".into());
                tried_employee.attributes = attribute_map(&account.attributes);
                tried_employee.user_name = Some(account.user_name);
                tried_employee.teams = account.teams;
                tried_employee.manager_hr_id = account.manager_hr_id;
            }
            None => {}
        }
        tried_employee
    }
}

/// Tries the integration's rules on employees from the live HR data: each
/// rule's decision, the teams and attributes that come out, what the rules
/// logged. Reads the source until it has found them; writes nothing
/// (viewers may try).
#[utoipa::path(post, path = "/integrations/{id}/try", tag = "integrations", request_body = TryRequest,
    security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<TriedEmployee>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn try_rules(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(request): Json<TryRequest>,
) -> Result<Json<Vec<TriedEmployee>>, ApiError> {
    if !(1..=20).contains(&request.employees.len()) {
        return Err(ApiError::invalid("employees", "name 1 to 20 HR ids"));
    }
    let integration = visible(&state, &who, &id).await?;
    super::quota::run(&state, &who.tenant).await?;
    let job = state.control.prepare(&who.tenant, &integration).await?;
    let tried = tokio::task::spawn_blocking(move || job.try_rules(&request.employees))
        .await
        .map_err(|joined| ApiError::Internal(joined.to_string()))?
        .map_err(|error| ApiError::Invalid {
            field: None,
            message: error.to_string(),
        })?;
    Ok(Json(tried.1.into_iter().map(TriedEmployee::from).collect()))
}

pub(crate) async fn start_manual(
    state: &AppState,
    who: &Principal,
    integration: &Integration,
    full: bool,
) -> Result<Option<String>, ApiError> {
    let order = RunRequest {
        full,
        ..RunRequest::manual(&who.actor())
    };
    super::quota::run(state, &who.tenant).await?;
    match state.control.start(&who.tenant, integration, order).await {
        Ok(started) => Ok(Some(started.run_id)),
        Err(crate::control::StartError::Busy) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Puts an integration on its schedule and runs its first sync at once
/// (admins).
#[utoipa::path(post, path = "/integrations/{id}/activate", tag = "integrations", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 202, body = RunStarted), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub(crate) async fn activate(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<RunStarted>), ApiError> {
    who.require(Role::Admin)?;
    let mut integration = visible(&state, &who, &id).await?;
    state.control.check(&who.tenant, &integration).await?;
    integration.state = RunState::Active;
    integration.paused_reason = None;
    integration.next_run_at = next_run(&integration);
    state
        .control
        .store
        .set_integration_state(&id, integration.state, None, integration.next_run_at)
        .await?;
    state
        .audit(
            &who,
            Some(&id),
            "integration.activate",
            serde_json::json!({ "next_run_at": integration.next_run_at }),
        )
        .await?;
    let run_id = start_manual(&state, &who, &integration, false).await?;
    Ok((StatusCode::ACCEPTED, Json(RunStarted { run_id, integration })))
}

/// Takes an integration off its schedule (admins); a run going on ends.
#[utoipa::path(post, path = "/integrations/{id}/deactivate", tag = "integrations", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Integration), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn deactivate(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Integration>, ApiError> {
    who.require(Role::Admin)?;
    let mut integration = visible(&state, &who, &id).await?;
    integration.state = RunState::Inactive;
    integration.paused_reason = None;
    integration.next_run_at = None;
    state
        .control
        .store
        .set_integration_state(&id, RunState::Inactive, None, None)
        .await?;
    state
        .audit(&who, Some(&id), "integration.deactivate", serde_json::json!({}))
        .await?;
    Ok(Json(integration))
}

/// Ends the quarantine of a paused integration: back on its schedule
/// (admins).
#[utoipa::path(post, path = "/integrations/{id}/resume", tag = "integrations", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Integration), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Integration>, ApiError> {
    who.require(Role::Admin)?;
    let mut integration = visible(&state, &who, &id).await?;
    if integration.state != RunState::Paused {
        return Err(ApiError::Conflict {
            field: Some("state".into()),
            message: format!("the integration is {}, not paused", integration.state.as_str()),
        });
    }
    let reason = integration.paused_reason.take();
    integration.state = RunState::Active;
    integration.next_run_at = next_run(&integration);
    state
        .control
        .store
        .set_integration_state(&id, RunState::Active, None, integration.next_run_at)
        .await?;
    state
        .audit(
            &who,
            Some(&id),
            "integration.resume",
            serde_json::json!({ "paused_reason": reason }),
        )
        .await?;
    Ok(Json(integration))
}

/// Starts a run now (admins): incremental unless `full`. Answers at once;
/// follow the run at `/runs/{run_id}`.
#[utoipa::path(post, path = "/integrations/{id}/sync", tag = "integrations", request_body = SyncRequest,
    security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 202, body = RunStarted), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn sync_now(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<RunStarted>), ApiError> {
    who.require(Role::Admin)?;
    let integration = visible(&state, &who, &id).await?;
    // The body is optional: none (or `null`) is an incremental run.
    let request: SyncRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SyncRequest::default()
    } else {
        serde_json::from_slice::<Option<SyncRequest>>(&body)
            .map_err(|e| ApiError::invalid("body", e.to_string()))?
            .unwrap_or_default()
    };
    let full = request.full;
    let run_id = start_manual(&state, &who, &integration, full)
        .await?
        .ok_or_else(|| ApiError::Conflict {
            field: None,
            message: "a run of this integration is in progress".into(),
        })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RunStarted {
            run_id: Some(run_id),
            integration,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionRequest {
    /// The employee's id in the HR system.
    pub hr_id: String,
}

/// Provisions one employee now, without waiting for the schedule (admins):
/// reads the source, applies the rules, and creates, updates or
/// deactivates that employee's account only. Answers when done, with the
/// run.
#[utoipa::path(post, path = "/integrations/{id}/provision", tag = "integrations", request_body = ProvisionRequest,
    security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, body = RunDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn provision(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(request): Json<ProvisionRequest>,
) -> Result<Json<RunDetail>, ApiError> {
    who.require(Role::Admin)?;
    if request.hr_id.trim().is_empty() {
        return Err(ApiError::invalid("hr_id", "name the employee's HR id"));
    }
    let integration = visible(&state, &who, &id).await?;
    let order = RunRequest {
        only: Some([request.hr_id.clone()].into()),
        ..RunRequest::manual(&who.actor())
    };
    super::quota::run(&state, &who.tenant).await?;
    let started = state.control.start(&who.tenant, &integration, order).await?;
    let finished = started.done.await.map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Ok(finished) = &finished {
        if finished.report.employees_read == 0 {
            return Err(ApiError::NotFound {
                what: "employee in the source",
                id: request.hr_id,
            });
        }
    }
    Ok(Json(run_detail(&state, &who, &started.run_id).await?))
}
