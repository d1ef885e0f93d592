//! The Plugins screen: the catalog with every uploaded version, upload,
//! and the installations — each with its version, Upgrade and Roll back,
//! its settings, secrets (write-only) and granted hosts, Test, and what it
//! may do (hosts, secrets, memory and time limits).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::form::{self, FieldErrors};
use super::page::{self, csrf_field, layout, time, Section};
use super::session::Signed;
use super::wizard::test_result;
use super::{see_other, Result};
use crate::api::plugins::{InstallationChange, InstallationTest};
use crate::api::{AppState, Json};
use hrsync_store::catalog::{Installation, PluginVersion};
use hrsync_store::tenants::Role;

fn size(bytes: i64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CatalogQuery {
    #[serde(default)]
    done: Option<String>,
}

async fn catalog_page(
    state: &AppState,
    signed: &Signed,
    notice: Option<&str>,
    error: Option<String>,
) -> Result<Markup> {
    let Json(plugins) = crate::api::plugins::list_plugins(State(state.clone()), signed.who.clone()).await?;
    let Json(installations) = crate::api::plugins::list_installations(State(state.clone()), signed.who.clone()).await?;
    let mut by_name: BTreeMap<&str, Vec<&PluginVersion>> = BTreeMap::new();
    for plugin in &plugins {
        by_name.entry(plugin.name.as_str()).or_default().push(plugin);
    }
    let write = signed.who.role >= Role::Admin;
    let content = html! {
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        @if let Some(error) = &error { (page::error_note(error)) }
        @if write {
            form.card.inline-form method="post" action="/plugins/upload" enctype="multipart/form-data" {
                // First in the body: the upload checks it before it reads the file.
                (csrf_field(signed))
                label for="component" { "Upload a plugin (a .wasm component)" }
                input #component type="file" name="component" accept=".wasm,application/wasm" required;
                button.primary type="submit" { "Upload" }
            }
        }
        h2 { "Catalog" }
        @if by_name.is_empty() { p.empty { "No plugins uploaded yet." } } @else {
            table {
                caption.visually-hidden { "Uploaded plugins" }
                thead { tr { th scope="col" { "Plugin" } th scope="col" { "Kind" } th scope="col" { "Versions" } th scope="col" { "Description" } } }
                tbody {
                    @for (name, versions) in &by_name {
                        tr {
                            td { strong { (name) } }
                            td { (versions[0].kind) }
                            td { @for v in versions { span.version title=(format!("{} · {} · uploaded {}", v.wit_version, size(v.size), v.created_at)) { (v.version) } " " } }
                            td { (versions[0].manifest["description"].as_str().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        h2 { "Installations" }
        @if installations.is_empty() { p.empty { "Nothing installed yet; the New integration wizard installs what it needs." } } @else {
            table {
                caption.visually-hidden { "Installations" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Plugin" } th scope="col" { "Version" } th scope="col" { "Mode" } th scope="col" { "Changed" } } }
                tbody {
                    @for i in &installations {
                        tr {
                            td { a href=(format!("/installations/{}", i.id)) { (i.name) } }
                            td { (i.plugin) }
                            td { (i.version) @if let Some(p) = &i.previous_version { span.muted { " (before: " (p) ")" } } }
                            td { (i.mode.as_str()) }
                            td { (time(i.updated_at)) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout(signed, Section::Plugins, "Plugins", content))
}

pub async fn catalog(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<CatalogQuery>,
) -> Result<Markup> {
    let notice = (query.done.as_deref() == Some("uploaded")).then_some("Uploaded.");
    catalog_page(&state, &signed, notice, None).await
}

/// The catalog again, with why the upload was refused.
async fn refused(state: &AppState, signed: &Signed, status: StatusCode, message: String) -> Result<Response> {
    let page = catalog_page(state, signed, None, Some(message)).await?;
    Ok((status, page).into_response())
}

/// The bytes of the form's `component` field.
/// What the upload form sent, in order: its CSRF token (which must come
/// first: nothing more is read without it), then the component.
enum Upload {
    Forged,
    Component(Option<axum::body::Bytes>),
}

async fn component_of(
    multipart: &mut axum::extract::Multipart,
    csrf: &str,
) -> std::result::Result<Upload, axum::extract::multipart::MultipartError> {
    let token = match multipart.next_field().await? {
        Some(field) if field.name() == Some("csrf") => field.text().await?,
        _ => return Ok(Upload::Forged),
    };
    if !super::session::same(&token, csrf) {
        return Ok(Upload::Forged);
    }
    let mut component = None;
    while let Some(field) = multipart.next_field().await? {
        if field.name() == Some("component") {
            component = Some(field.bytes().await?);
        }
    }
    Ok(Upload::Component(component))
}

/// Takes the component out of the multipart form and hands its bytes to
/// the API's upload.
pub async fn upload(
    State(state): State<AppState>,
    signed: Signed,
    mut multipart: axum::extract::Multipart,
) -> Result<Response> {
    // Only admins upload: refused before the body is read.
    signed.who.require(Role::Admin)?;
    let component = match component_of(&mut multipart, &signed.csrf).await {
        Ok(Upload::Component(component)) => component,
        Ok(Upload::Forged) => return Ok(super::session::forged()),
        Err(error) => {
            let message = format!("the upload did not arrive whole: {}", error.body_text());
            return refused(&state, &signed, error.status(), message).await;
        }
    };
    let Some(component) = component.filter(|c| !c.is_empty()) else {
        return refused(
            &state,
            &signed,
            StatusCode::UNPROCESSABLE_ENTITY,
            "choose a .wasm file to upload".into(),
        )
        .await;
    };
    let uploaded = crate::api::plugins::upload_plugin(
        State(state.clone()),
        Ok(signed.who.clone()),
        axum::body::Body::from(component),
    )
    .await;
    match uploaded {
        Ok(_) => Ok(see_other("/plugins?done=uploaded")),
        Err(error) => {
            let (status, message) = (error.status(), page::explain(error).1);
            refused(&state, &signed, status, message).await
        }
    }
}

async fn installation_page(
    state: &AppState,
    signed: &Signed,
    installation: &Installation,
    errors: &FieldErrors,
    tested: Option<&InstallationTest>,
    notice: Option<&str>,
) -> Result<Markup> {
    let Json(versions) = crate::api::plugins::plugin_versions(
        State(state.clone()),
        signed.who.clone(),
        crate::api::Path(installation.plugin.clone()),
    )
    .await?;
    let current = versions.iter().find(|v| v.version == installation.version);
    let manifest = current.map(|v| v.manifest.clone()).unwrap_or_default();
    let limits = hrsync_runtime::Limits::default();
    let write = signed.who.role >= Role::Admin;
    let id = &installation.id;
    let newer: Vec<&PluginVersion> = versions
        .iter()
        .filter(|v| semver::Version::parse(&v.version).ok() > semver::Version::parse(&installation.version).ok())
        .collect();
    let content = html! {
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        section.card {
            dl.facts {
                dt { "Plugin" } dd { (installation.plugin) " " (installation.version) @if let Some(p) = &installation.previous_version { span.muted { " (before: " (p) ")" } } }
                dt { "Mode" } dd { (installation.mode.as_str()) }
                dt { "May connect to" } dd { @if installation.allowed_hosts.is_empty() { "nothing" } @else { (installation.allowed_hosts.join(", ")) } }
                dt { "Secrets" } dd {
                    @for s in manifest["secrets"].as_array().into_iter().flatten() {
                        @let name = s["name"].as_str().unwrap_or("");
                        span.secret { (name) ": " strong { @if installation.secrets.iter().any(|x| x == name) { "set" } @else { "not set" } } } " "
                    }
                }
                dt { "Limits" } dd { (limits.memory_bytes >> 20) " MiB of memory, " (limits.call_deadline.as_secs()) " s per call" }
            }
            @if write {
                div.actions {
                    @for v in &newer {
                        form.inline method="post" action=(format!("/installations/{id}")) {
                            (csrf_field(signed))
                            input type="hidden" name="version" value=(v.version);
                            button type="submit" name="do" value="upgrade" { "Upgrade to " (v.version) }
                        }
                    }
                    @if installation.previous_version.is_some() {
                        form.inline method="post" action=(format!("/installations/{id}")) {
                            (csrf_field(signed))
                            button type="submit" name="do" value="rollback" { "Roll back to " (installation.previous_version.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        form.card method="post" action=(format!("/installations/{id}")) novalidate {
            (csrf_field(signed))
            @if let Some(error) = errors.get("") { (page::error_note(error)) }
            fieldset disabled[!write] {
                legend { "Settings" }
                (form::config_fields(&manifest["config_schema"], &installation.config, errors))
            }
            @if write {
                fieldset { legend { "Secrets" } (form::secret_fields(&manifest, &installation.secrets, errors)) }
                (form::host_fields(&manifest, &installation.allowed_hosts, false, errors))
                @if let Some(tested) = tested { (test_result(tested)) }
                div.actions {
                    button type="submit" name="do" value="test" { "Test" }
                    button.primary type="submit" name="do" value="save" { "Save" }
                }
            }
        }
        p { a href="/plugins" { "Back to the plugins" } }
    };
    Ok(layout(signed, Section::Plugins, &installation.name, content))
}

pub async fn installation(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(query): Query<CatalogQuery>,
) -> Result<Markup> {
    let installation = crate::api::plugins::visible_installation(&state, &signed.who, &id).await?;
    let notice = match query.done.as_deref() {
        Some("saved") => Some("Saved."),
        Some("upgraded") => Some("Upgraded; the next run uses the new version."),
        Some("rolled-back") => Some("Rolled back; the next run uses the earlier version."),
        _ => None,
    };
    installation_page(&state, &signed, &installation, &FieldErrors::new(), None, notice).await
}

/// Upgrade, roll back, save the settings, or test.
pub async fn change(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response> {
    let get = |name: &str| form::value(&form, name);
    let who = signed.who.clone();
    let before = crate::api::plugins::visible_installation(&state, &who, &id).await?;
    let path = || crate::api::Path(id.clone());
    let (result, done) = match get("do") {
        Some("rollback") => (
            crate::api::plugins::roll_back(State(state.clone()), who, path())
                .await
                .map(|_| ()),
            "rolled-back",
        ),
        Some("upgrade") => {
            let change = InstallationChange {
                version: get("version").map(str::to_string),
                config: None,
                secrets: BTreeMap::new(),
                allowed_hosts: None,
            };
            (
                crate::api::plugins::change_installation(State(state.clone()), who, path(), Json(change))
                    .await
                    .map(|_| ()),
                "upgraded",
            )
        }
        Some("test") => {
            let Json(tested) = crate::api::plugins::test_installation(State(state.clone()), who, path()).await?;
            return Ok(
                installation_page(&state, &signed, &before, &FieldErrors::new(), Some(&tested), None)
                    .await?
                    .into_response(),
            );
        }
        _ => {
            let Json(versions) = crate::api::plugins::plugin_versions(
                State(state.clone()),
                signed.who.clone(),
                crate::api::Path(before.plugin.clone()),
            )
            .await?;
            let schema = versions
                .iter()
                .find(|v| v.version == before.version)
                .map(|v| v.manifest["config_schema"].clone())
                .unwrap_or_default();
            let mut config = match form::config_from_form(&schema, &form) {
                Ok(config) => config,
                Err(errors) => {
                    let page = installation_page(&state, &signed, &before, &errors, None, None).await?;
                    return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
                }
            };
            // Fields emptied in the form are removed from the config.
            if let (Some(patch), Some(old)) = (config.as_object_mut(), before.config.as_object()) {
                for key in old.keys() {
                    patch.entry(key.clone()).or_insert(serde_json::Value::Null);
                }
            }
            let change = InstallationChange {
                version: None,
                config: Some(config),
                secrets: form::secrets_from_form(&form)
                    .into_iter()
                    .map(|(k, v)| (k, Some(v)))
                    .collect(),
                allowed_hosts: Some(form::hosts_from_form(&form)),
            };
            (
                crate::api::plugins::change_installation(State(state.clone()), who, path(), Json(change))
                    .await
                    .map(|_| ()),
                "saved",
            )
        }
    };
    match result {
        Ok(()) => Ok(see_other(&format!("/installations/{id}?done={done}"))),
        Err(error) => {
            let (field, message) = page::explain(error);
            let errors = FieldErrors::from([(
                field
                    .filter(|f| f.contains('.') || f.starts_with("allowed_hosts"))
                    .unwrap_or_default(),
                message,
            )]);
            let page = installation_page(&state, &signed, &before, &errors, None, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}
