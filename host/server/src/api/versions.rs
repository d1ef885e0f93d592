//! Config versions: every change of an installation's or an integration's
//! configuration is a numbered version that can be listed, compared with
//! another and restored (the restore routes live with their resource, in
//! `plugins.rs` and `integrations.rs`, because restoring is a change like
//! a PATCH and is checked like one).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Principal;
use super::error::{ApiError, ErrorBody};
use super::{AppState, Json, Path, Query};
use hrsync_store::versions::{Author, Baseline, ConfigVersion};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(installation_versions))
        .routes(routes!(installation_version))
        .routes(routes!(installation_diff))
        .routes(routes!(integration_versions))
        .routes(routes!(integration_version))
        .routes(routes!(integration_diff))
}

/// One difference between two versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigChange {
    /// A JSON Pointer (RFC 6901) into the configuration: `/options/create`,
    /// `/config/department`, `/rules/1`.
    pub path: String,
    /// Absent when the value was added. Any JSON value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// Absent when the value was removed. Any JSON value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionDiff {
    pub from: i64,
    pub to: i64,
    pub changes: Vec<ConfigChange>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// The version to compare with: the one before by default; 0 compares
    /// with nothing (everything is added).
    pub from: Option<i64>,
}

/// What changed from `from` to `to`, one entry per changed value, in the
/// order of their paths. Objects are compared key by key, lists position
/// by position (a rule inserted first shows as each later position
/// changed), anything else as a whole.
pub fn diff(from: &serde_json::Value, to: &serde_json::Value) -> Vec<ConfigChange> {
    let mut changes = Vec::new();
    compare_at(String::new(), Some(from), Some(to), &mut changes);
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    changes
}

fn compare_at(
    path: String,
    from: Option<&serde_json::Value>,
    to: Option<&serde_json::Value>,
    changes: &mut Vec<ConfigChange>,
) {
    use serde_json::Value;
    // A JSON Pointer escapes `~` and `/` in keys (RFC 6901).
    let key_path = |key: &str| format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
    match (from, to) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                compare_at(key_path(key), a.get(key), b.get(key), changes);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for index in 0..a.len().max(b.len()) {
                compare_at(format!("{path}/{index}"), a.get(index), b.get(index), changes);
            }
        }
        (a, b) if a == b => {}
        (a, b) => changes.push(ConfigChange {
            path,
            before: a.cloned(),
            after: b.cloned(),
        }),
    }
}

/// Records the configuration a change left, as the caller's version.
/// `before` is the configuration it changed and when that was made: an
/// installation or integration made before versions were kept gets it as
/// version 1 first.
pub async fn record(
    state: &AppState,
    who: &Principal,
    subject: &str,
    action: &str,
    config: &serde_json::Value,
    before: Option<(&serde_json::Value, i64)>,
) -> Result<(), ApiError> {
    let actor = who.actor();
    let baseline = before.map(|(config, at)| Baseline { config, at });
    state
        .control
        .store
        .add_config_version(&who.tenant, subject, Author { actor: &actor, action }, config, baseline)
        .await?;
    Ok(())
}

/// The stored version `version` of a subject the caller may see.
pub async fn stored(state: &AppState, who: &Principal, subject: &str, version: i64) -> Result<ConfigVersion, ApiError> {
    state
        .control
        .store
        .config_version(&who.tenant, subject, version)
        .await?
        .ok_or_else(|| ApiError::not_found("version", &version.to_string()))
}

pub(crate) async fn compare(
    state: &AppState,
    who: &Principal,
    subject: &str,
    version: i64,
    from: Option<i64>,
) -> Result<VersionDiff, ApiError> {
    let to = stored(state, who, subject, version).await?;
    let from = from.unwrap_or(version - 1);
    let before = match from {
        0 => serde_json::json!({}),
        n if n < 0 => return Err(ApiError::invalid("from", "a version number is 1 or more (0: nothing)")),
        n => stored(state, who, subject, n).await?.config,
    };
    Ok(VersionDiff {
        from,
        to: version,
        changes: diff(&before, &to.config),
    })
}

/// Every configuration of an installation, the newest first.
#[utoipa::path(get, path = "/installations/{id}/versions", tag = "installations", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<ConfigVersion>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn installation_versions(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<ConfigVersion>>, ApiError> {
    let installation = super::plugins::visible_installation(&state, &who, &id).await?;
    Ok(Json(
        state
            .control
            .store
            .config_versions(&who.tenant, &installation.id)
            .await?,
    ))
}

#[utoipa::path(get, path = "/installations/{id}/versions/{version}", tag = "installations", security(("api_key" = [])),
    params(("id" = String, Path), ("version" = i64, Path)),
    responses((status = 200, body = ConfigVersion), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn installation_version(
    State(state): State<AppState>,
    who: Principal,
    Path((id, version)): Path<(String, i64)>,
) -> Result<Json<ConfigVersion>, ApiError> {
    let installation = super::plugins::visible_installation(&state, &who, &id).await?;
    Ok(Json(stored(&state, &who, &installation.id, version).await?))
}

/// What changed from one version of an installation to another.
#[utoipa::path(get, path = "/installations/{id}/versions/{version}/diff", tag = "installations",
    security(("api_key" = [])), params(("id" = String, Path), ("version" = i64, Path), DiffQuery),
    responses((status = 200, body = VersionDiff), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn installation_diff(
    State(state): State<AppState>,
    who: Principal,
    Path((id, version)): Path<(String, i64)>,
    Query(query): Query<DiffQuery>,
) -> Result<Json<VersionDiff>, ApiError> {
    let installation = super::plugins::visible_installation(&state, &who, &id).await?;
    Ok(Json(
        compare(&state, &who, &installation.id, version, query.from).await?,
    ))
}

/// Every configuration of an integration, the newest first.
#[utoipa::path(get, path = "/integrations/{id}/versions", tag = "integrations", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<ConfigVersion>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn integration_versions(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<ConfigVersion>>, ApiError> {
    let integration = super::integrations::visible(&state, &who, &id).await?;
    Ok(Json(
        state
            .control
            .store
            .config_versions(&who.tenant, &integration.id)
            .await?,
    ))
}

#[utoipa::path(get, path = "/integrations/{id}/versions/{version}", tag = "integrations", security(("api_key" = [])),
    params(("id" = String, Path), ("version" = i64, Path)),
    responses((status = 200, body = ConfigVersion), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn integration_version(
    State(state): State<AppState>,
    who: Principal,
    Path((id, version)): Path<(String, i64)>,
) -> Result<Json<ConfigVersion>, ApiError> {
    let integration = super::integrations::visible(&state, &who, &id).await?;
    Ok(Json(stored(&state, &who, &integration.id, version).await?))
}

/// What changed from one version of an integration to another.
#[utoipa::path(get, path = "/integrations/{id}/versions/{version}/diff", tag = "integrations",
    security(("api_key" = [])), params(("id" = String, Path), ("version" = i64, Path), DiffQuery),
    responses((status = 200, body = VersionDiff), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn integration_diff(
    State(state): State<AppState>,
    who: Principal,
    Path((id, version)): Path<(String, i64)>,
    Query(query): Query<DiffQuery>,
) -> Result<Json<VersionDiff>, ApiError> {
    let integration = super::integrations::visible(&state, &who, &id).await?;
    Ok(Json(compare(&state, &who, &integration.id, version, query.from).await?))
}

#[cfg(test)]
mod tests {
    use super::diff;
    use serde_json::json;

    #[test]
    fn a_diff_names_each_changed_value_with_before_and_after() {
        let from = json!({"options": {"create": true, "page_size": 100}, "rules": ["a", "b"], "name": "x"});
        let to = json!({"options": {"create": false, "page_size": 100}, "rules": ["a"], "schedule": "0 5 * * *", "name": "x"});
        let changes = diff(&from, &to);
        let seen: Vec<(String, Option<serde_json::Value>, Option<serde_json::Value>)> =
            changes.into_iter().map(|c| (c.path, c.before, c.after)).collect();
        assert!(seen.contains(&("/options/create".into(), Some(json!(true)), Some(json!(false)))));
        assert!(seen.contains(&("/rules/1".into(), Some(json!("b")), None)));
        assert!(seen.contains(&("/schedule".into(), None, Some(json!("0 5 * * *")))));
        assert_eq!(seen.len(), 3, "{seen:?}");
    }

    #[test]
    fn lists_are_compared_by_position_and_every_removal_is_named() {
        let changes = diff(
            &json!({ "rules": ["a", "b", "c"], "a/b": 1 }),
            &json!({ "rules": ["a"], "a/b": 2 }),
        );
        let seen: Vec<(String, Option<serde_json::Value>, Option<serde_json::Value>)> =
            changes.into_iter().map(|c| (c.path, c.before, c.after)).collect();
        assert_eq!(
            seen,
            [
                ("/a~1b".to_string(), Some(json!(1)), Some(json!(2))),
                ("/rules/1".to_string(), Some(json!("b")), None),
                ("/rules/2".to_string(), Some(json!("c")), None),
            ]
        );
        assert!(diff(&json!({ "x": [1, { "y": null }] }), &json!({ "x": [1, { "y": null }] })).is_empty());
    }
}
