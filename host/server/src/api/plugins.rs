//! Uploaded plugins and their installations in a tenant.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Principal;
use super::error::{ApiError, ErrorBody};
use super::tenants::check_name;
use super::versions;
use super::{AppState, Json, Path};
use hrsync_model::clock::now_ms;
use hrsync_runtime::{ConfigError, Grant};
use hrsync_store::catalog::{Installation, NewPlugin, PluginVersion};
use hrsync_store::new_id;
use hrsync_store::tenants::Role;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plugins, upload_plugin))
        .routes(routes!(plugin_versions))
        .routes(routes!(list_installations, install))
        .routes(routes!(get_installation, change_installation))
        .routes(routes!(roll_back))
        .routes(routes!(restore_installation))
        .routes(routes!(test_installation))
}

#[utoipa::path(get, path = "/plugins", tag = "plugins", security(("api_key" = [])),
    responses((status = 200, body = Vec<PluginVersion>), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn list_plugins(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Vec<PluginVersion>>, ApiError> {
    Ok(Json(state.control.store.plugins(&who.tenant, None).await?))
}

/// Every uploaded version of one plugin.
#[utoipa::path(get, path = "/plugins/{name}", tag = "plugins", security(("api_key" = [])), params(("name" = String, Path)),
    responses((status = 200, body = Vec<PluginVersion>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn plugin_versions(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
) -> Result<Json<Vec<PluginVersion>>, ApiError> {
    let versions = state.control.store.plugins(&who.tenant, Some(&name)).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found("plugin", &name));
    }
    Ok(Json(versions))
}

/// Uploads a component (the body is its bytes; `application/wasm` or
/// `application/octet-stream`): its WIT version must be one
/// this host supports, its manifest valid; name and version come from the
/// manifest. Each version is uploaded once.
#[utoipa::path(post, path = "/plugins", tag = "plugins", security(("api_key" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = PluginVersion), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn upload_plugin(
    State(state): State<AppState>,
    who: Result<Principal, ApiError>,
    body: Body,
) -> Result<(StatusCode, Json<PluginVersion>), ApiError> {
    // The body is read before any refusal: a client still sending a large
    // component then gets the answer, not a closed connection. Without a
    // valid key nothing of it is kept.
    let limit = if who.is_ok() {
        state.settings.max_plugin_bytes
    } else {
        0
    };
    let read = read_limited(body, limit).await;
    let who = who?;
    who.require(Role::Admin)?;
    let bytes = read?;
    super::quota::plugin(&state, &who.tenant, bytes.len()).await?;
    if bytes.is_empty() {
        return Err(ApiError::invalid(
            "body",
            "send the component's bytes (application/wasm)",
        ));
    }
    let control = state.control.clone();
    let component = bytes.clone();
    let plugin = tokio::task::spawn_blocking(move || control.runtime.load(&component))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::invalid("body", e.to_string()))?;
    let manifest = plugin.manifest();
    let manifest_json = serde_json::to_value(manifest).map_err(|e| ApiError::Internal(e.to_string()))?;
    let (name, version, wit_version) = (
        manifest.name.clone(),
        manifest.version.to_string(),
        plugin.wit_version().to_string(),
    );
    let added = state
        .control
        .store
        .add_plugin(
            &who.tenant,
            NewPlugin {
                name: &name,
                version: &version,
                kind: plugin.kind().name(),
                wit_version: &wit_version,
                content_hash: plugin.content_hash(),
                manifest: &manifest_json,
                component: &bytes,
            },
        )
        .await?
        .ok_or_else(|| ApiError::Conflict {
            field: Some("version".into()),
            message: format!("{name} {version} is already uploaded; raise the version in the manifest"),
        })?;
    state
        .audit(
            &who,
            None,
            "plugin.upload",
            serde_json::json!({ "plugin": name, "version": version, "content_hash": added.content_hash }),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// The body, up to `limit` bytes. A larger one is read to its end (up to
/// a bound) before the 413, so that the client, still sending, sees the
/// answer rather than a closed connection.
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let (mut bytes, mut seen) = (Vec::new(), 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid("body", format!("reading the upload failed: {e}")))?;
        seen += chunk.len();
        if seen <= limit {
            bytes.extend_from_slice(&chunk);
        } else if seen > limit.saturating_mul(4).max(1 << 20) {
            break;
        }
    }
    if seen > limit {
        return Err(ApiError::TooLarge { limit });
    }
    Ok(bytes)
}

#[utoipa::path(get, path = "/installations", tag = "installations", security(("api_key" = [])),
    responses((status = 200, body = Vec<Installation>), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn list_installations(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Vec<Installation>>, ApiError> {
    let all = state.control.store.installations(&who.tenant).await?;
    Ok(Json(all.into_iter().filter(|i| who.sees(i.mode)).collect()))
}

/// An installation the caller may see, or 404.
pub async fn visible_installation(state: &AppState, who: &Principal, id: &str) -> Result<Installation, ApiError> {
    state
        .control
        .store
        .installation(&who.tenant, id)
        .await?
        .filter(|i| who.sees(i.mode))
        .ok_or_else(|| ApiError::not_found("installation", id))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInstallation {
    pub name: String,
    pub plugin: String,
    /// The newest uploaded version when left out.
    #[serde(default)]
    pub version: Option<String>,
    /// Checked against the plugin's config schema.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Secret name -> value. Write-only: stored encrypted, never shown.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Origins the plugin may reach: `https://host[:port]`, `https://*.domain`.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// The newest uploaded version of a plugin.
pub(crate) async fn newest_version(state: &AppState, tenant: &str, plugin: &str) -> Result<String, ApiError> {
    let versions = state.control.store.plugins(tenant, Some(plugin)).await?;
    versions
        .iter()
        .filter_map(|p| semver::Version::parse(&p.version).ok())
        .max()
        .map(|v| v.to_string())
        .ok_or_else(|| ApiError::invalid("plugin", format!("no plugin `{plugin}` is uploaded")))
}

/// Checks an installation against its plugin: the version is uploaded, the
/// config matches the schema, the secrets are the declared ones, the hosts
/// parse.
pub(crate) async fn check(state: &AppState, tenant: &str, installation: &Installation) -> Result<(), ApiError> {
    check_hosts(state, &installation.allowed_hosts)?;
    let bytes = state
        .control
        .store
        .plugin_component(tenant, &installation.plugin, &installation.version)
        .await?
        .ok_or_else(|| {
            ApiError::invalid(
                "version",
                format!("{} {} is not uploaded", installation.plugin, installation.version),
            )
        })?;
    let plugin = state.control.plugin("plugin", bytes).await?;
    let declared: Vec<String> = plugin.manifest().declared_secrets().collect();
    if let Some(unknown) = installation.secrets.iter().find(|name| !declared.contains(name)) {
        return Err(ApiError::invalid(
            format!("secrets.{unknown}"),
            format!(
                "the plugin declares no secret `{unknown}`; it declares: {}",
                declared.join(", ")
            ),
        ));
    }
    let sandbox = state.control.sandbox(tenant, installation)?;
    plugin.validate(&sandbox).map_err(|errors| {
        // The first error names the field: `config.base_url`, `secrets.client-id`.
        let field = match errors.first() {
            Some(ConfigError::Field { field, .. }) if !field.starts_with('(') => format!("config.{field}"),
            Some(ConfigError::MissingSecret(name) | ConfigError::UndeclaredSecret(name)) => format!("secrets.{name}"),
            _ => "config".to_string(),
        };
        ApiError::Invalid {
            field: Some(field),
            message: errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        }
    })
}

/// Seals secret values for an installation.
/// The granted hosts parse, and none is an address the operator keeps
/// tenants from.
fn check_hosts(state: &AppState, hosts: &[String]) -> Result<(), ApiError> {
    for (i, host) in hosts.iter().enumerate() {
        Grant::parse(host).map_err(|e| ApiError::invalid(format!("allowed_hosts[{i}]"), e.to_string()))?;
    }
    match state.control.refused_grant(hosts) {
        Some((field, refusal)) => Err(ApiError::invalid(field, refusal)),
        None => Ok(()),
    }
}

/// Whether `after` grants an origin `before` did not (compared as parsed,
/// so `HTTPS://API.example.com/` is `https://api.example.com`).
fn grants_something_new(before: &[String], after: &[String]) -> bool {
    let normal = |host: &String| Grant::parse(host).map_or_else(|_| host.clone(), |g| g.to_string());
    let granted: std::collections::HashSet<String> = before.iter().map(normal).collect();
    after.iter().any(|host| !granted.contains(&normal(host)))
}

fn seal_into(
    state: &AppState,
    installation: &mut Installation,
    secrets: BTreeMap<String, Option<String>>,
) -> Result<(), ApiError> {
    for (name, value) in secrets {
        match value {
            Some(value) => {
                let sealed = state
                    .control
                    .vault
                    .seal(&format!("{}/{name}", installation.id), &value)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                installation.sealed_secrets.insert(name, sealed);
            }
            None => {
                installation.sealed_secrets.remove(&name);
            }
        }
    }
    installation.secrets = installation.sealed_secrets.keys().cloned().collect();
    Ok(())
}

/// Installs a plugin in the tenant, in the key's mode (admins).
#[utoipa::path(post, path = "/installations", tag = "installations", request_body = NewInstallation, security(("api_key" = [])),
    responses((status = 201, body = Installation), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn install(
    State(state): State<AppState>,
    who: Principal,
    Json(new): Json<NewInstallation>,
) -> Result<(StatusCode, Json<Installation>), ApiError> {
    who.require(Role::Admin)?;
    check_name("name", &new.name)?;
    super::quota::installation(&state, &who.tenant).await?;
    super::quota::secrets(&state, new.secrets.values().map(String::as_str))?;
    if !new.config.is_object() {
        return Err(ApiError::invalid("config", "the config is a JSON object"));
    }
    let version = match new.version {
        Some(version) => version,
        None => newest_version(&state, &who.tenant, &new.plugin).await?,
    };
    let now = now_ms();
    let mut installation = Installation {
        id: new_id("ins"),
        mode: who.mode,
        name: new.name,
        plugin: new.plugin,
        version,
        previous_version: None,
        config: new.config,
        secrets: Vec::new(),
        allowed_hosts: new.allowed_hosts,
        created_at: now,
        updated_at: now,
        sealed_secrets: BTreeMap::new(),
    };
    seal_into(
        &state,
        &mut installation,
        new.secrets.into_iter().map(|(k, v)| (k, Some(v))).collect(),
    )?;
    check(&state, &who.tenant, &installation).await?;
    state
        .control
        .store
        .add_installation(&who.tenant, &installation)
        .await?
        .ok_or_else(|| ApiError::Conflict {
            field: Some("name".into()),
            message: format!("an installation named `{}` exists", installation.name),
        })?;
    state
        .audit(
            &who,
            None,
            "installation.create",
            serde_json::json!({ "installation": installation.id, "plugin": installation.plugin,
                "version": installation.version, "config": installation.config,
                "secrets": installation.secrets, "allowed_hosts": installation.allowed_hosts }),
        )
        .await?;
    versions::record(
        &state,
        &who,
        &installation.id,
        "installation.create",
        &versioned(&installation),
        None,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(installation)))
}

#[utoipa::path(get, path = "/installations/{id}", tag = "installations", security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Installation), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn get_installation(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Installation>, ApiError> {
    Ok(Json(visible_installation(&state, &who, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallationChange {
    /// Upgrade (or downgrade) to this uploaded version; the one before is
    /// kept for a roll-back.
    #[serde(default)]
    pub version: Option<String>,
    /// Merged into the config as a JSON Merge Patch (RFC 7396): the keys
    /// sent replace theirs, `null` removes a key, keys not sent stay.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    /// Sets secrets by name; `null` removes one. Others stay.
    #[serde(default)]
    pub secrets: BTreeMap<String, Option<String>>,
    /// Replaces the granted origins.
    #[serde(default)]
    pub allowed_hosts: Option<Vec<String>>,
}

/// Changes an installation's version, config, secrets or hosts (admins).
#[utoipa::path(patch, path = "/installations/{id}", tag = "installations", request_body = InstallationChange,
    security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Installation), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn change_installation(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(change): Json<InstallationChange>,
) -> Result<Json<Installation>, ApiError> {
    who.require(Role::Admin)?;
    let before = visible_installation(&state, &who, &id).await?;
    let mut after = before.clone();
    if let Some(version) = change.version {
        switch_version(&mut after, version);
    }
    if let Some(patch) = change.config {
        if !patch.is_object() {
            return Err(ApiError::invalid(
                "config",
                "the config is a JSON object (a merge patch of it)",
            ));
        }
        json_patch::merge(&mut after.config, &patch);
    }
    if let Some(hosts) = change.allowed_hosts {
        after.allowed_hosts = hosts;
    }
    check_hosts(&state, &after.allowed_hosts)?;
    secrets_stay_with_their_hosts(&before, &after, |name| change.secrets.contains_key(name))?;
    super::quota::secrets(&state, change.secrets.values().flatten().map(String::as_str))?;
    let secrets_changed: Vec<String> = change.secrets.keys().cloned().collect();
    seal_into(&state, &mut after, change.secrets)?;
    save(&state, &who, &before, after, secrets_changed, "installation.update").await
}

/// Goes back to the version before the last upgrade (admins).
#[utoipa::path(post, path = "/installations/{id}/rollback", tag = "installations", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Installation), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn roll_back(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Installation>, ApiError> {
    who.require(Role::Admin)?;
    let before = visible_installation(&state, &who, &id).await?;
    let Some(previous) = before.previous_version.clone() else {
        return Err(ApiError::Conflict {
            field: Some("version".into()),
            message: "there is no earlier version to roll back to".into(),
        });
    };
    let mut after = before.clone();
    after.previous_version = Some(std::mem::replace(&mut after.version, previous));
    save(&state, &who, &before, after, Vec::new(), "installation.rollback").await
}

/// Moves an installation to plugin `version`, keeping the one it had for a
/// roll-back.
fn switch_version(installation: &mut Installation, version: String) {
    if version != installation.version {
        installation.previous_version = Some(std::mem::replace(&mut installation.version, version));
    }
}

/// Secrets are bound to the hosts they were entered for: granting a new
/// one takes every stored secret entered again (or removed) in the same
/// request, so that an admin cannot send a stored secret to a host of
/// their choosing.
fn secrets_stay_with_their_hosts(
    before: &Installation,
    after: &Installation,
    entered: impl Fn(&str) -> bool,
) -> Result<(), ApiError> {
    if !grants_something_new(&before.allowed_hosts, &after.allowed_hosts) {
        return Ok(());
    }
    let stale: Vec<&str> = after
        .sealed_secrets
        .keys()
        .map(String::as_str)
        .filter(|name| !entered(name))
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(
        "secrets",
        format!(
            "granting a new host needs the stored secrets entered again ({}): they go only to the hosts they \
             were entered for; send them in a PATCH with the hosts, or remove them with null",
            stale.join(", ")
        ),
    ))
}

/// The versioned part of an installation (`versions.rs`): what a restore
/// brings back. Secret values are not versioned, only their names.
#[derive(Debug, Serialize, Deserialize)]
struct InstallationConfig {
    version: String,
    config: serde_json::Value,
    allowed_hosts: Vec<String>,
    secrets: Vec<String>,
}

fn versioned(installation: &Installation) -> serde_json::Value {
    serde_json::json!(InstallationConfig {
        version: installation.version.clone(),
        config: installation.config.clone(),
        allowed_hosts: installation.allowed_hosts.clone(),
        secrets: installation.secrets.clone(),
    })
}

/// Brings back an installation's plugin version, config and granted hosts
/// as of an earlier version (admins); secrets stay as they are. The result
/// is checked like a PATCH and is a new version.
#[utoipa::path(post, path = "/installations/{id}/versions/{version}/restore", tag = "installations",
    security(("api_key" = [])), params(("id" = String, Path), ("version" = i64, Path)),
    responses((status = 200, body = Installation), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn restore_installation(
    State(state): State<AppState>,
    who: Principal,
    Path((id, version)): Path<(String, i64)>,
) -> Result<Json<Installation>, ApiError> {
    who.require(Role::Admin)?;
    let before = visible_installation(&state, &who, &id).await?;
    let stored = versions::stored(&state, &who, &before.id, version).await?;
    let restored: InstallationConfig = serde_json::from_value(stored.config)
        .map_err(|e| ApiError::Internal(format!("version {version} of {id}: {e}")))?;
    let mut after = before.clone();
    switch_version(&mut after, restored.version);
    after.config = restored.config;
    after.allowed_hosts = restored.allowed_hosts;
    check_hosts(&state, &after.allowed_hosts)?;
    secrets_stay_with_their_hosts(&before, &after, |_| false)?;
    save(&state, &who, &before, after, Vec::new(), "installation.restore").await
}

pub(crate) async fn save(
    state: &AppState,
    who: &Principal,
    before: &Installation,
    after: Installation,
    secrets_changed: Vec<String>,
    action: &str,
) -> Result<Json<Installation>, ApiError> {
    check(state, &who.tenant, &after).await?;
    state.control.store.update_installation(&who.tenant, &after).await?;
    state
        .audit(
            who,
            None,
            action,
            serde_json::json!({
                "installation": after.id,
                "version": { "before": before.version, "after": after.version },
                "config": { "before": before.config, "after": after.config },
                "allowed_hosts": { "before": before.allowed_hosts, "after": after.allowed_hosts },
                // Names only: secret values never reach the audit log.
                "secrets_changed": secrets_changed,
            }),
        )
        .await?;
    let changed = Some((&versioned(before), before.updated_at));
    versions::record(state, who, &after.id, action, &versioned(&after), changed).await?;
    let stored = state.control.store.installation(&who.tenant, &after.id).await?;
    Ok(Json(stored.unwrap_or(after)))
}

/// A field the plugin spoke of in the test.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldReport {
    /// As rules name fields: `employment_type`, `custom.Cost center`.
    pub field: String,
    /// A source's hint how to release the field; a rule's purpose.
    pub reason: String,
}

/// What testing an installation found.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstallationTest {
    /// The connection works (a rule: it starts and reads its config).
    pub ok: bool,
    pub error: Option<String>,
    /// Fields the HR system withheld from these credentials (sources):
    /// rules that need one stop every run until it is released.
    pub unreadable_fields: Vec<FieldReport>,
    /// Fields the rule needs (rules).
    pub needed_fields: Vec<FieldReport>,
    /// Requests the plugin sent, were refused by the granted hosts, failed.
    pub http_sent: u64,
    pub http_denied: u64,
    pub http_failed: u64,
    /// The plugin's log lines (secrets masked).
    pub log: Vec<String>,
}

/// Tests an installation (admins): starts the plugin with its config and
/// secrets and calls its test-connection; a source also names the fields
/// the HR system withholds from these credentials.
#[utoipa::path(post, path = "/installations/{id}/test", tag = "installations", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = InstallationTest), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn test_installation(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<InstallationTest>, ApiError> {
    who.require(Role::Admin)?;
    let installation = visible_installation(&state, &who, &id).await?;
    let setup = state
        .control
        .installation_setup(&who.tenant, "installation", &installation.id)
        .await?;
    let probe = tokio::task::spawn_blocking(move || setup.plugin.probe(&setup.sandbox))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let reports = |list: Vec<hrsync_runtime::capability::fields::FieldStatement>| {
        list.into_iter()
            .map(|s| FieldReport {
                field: s.field,
                reason: s.reason,
            })
            .collect()
    };
    Ok(Json(InstallationTest {
        ok: probe.outcome.is_ok(),
        error: probe.outcome.err().map(|e| e.to_string()),
        unreadable_fields: reports(probe.fields.unreadable),
        needed_fields: reports(probe.fields.required),
        http_sent: probe.http.sent,
        http_denied: probe.http.denied,
        http_failed: probe.http.failed,
        log: probe
            .log
            .into_iter()
            .map(|line| format!("{}: {}", line.level, line.message))
            .collect(),
    }))
}
