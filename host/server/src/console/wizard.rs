//! The New integration wizard: the HR system (a source plugin from the
//! catalog, its config form from the plugin's JSON Schema, its secrets,
//! the hosts it asks for) → **Test** → rules → the app (a target plugin,
//! the same way) → options and schedule → **Preview** (a dry run: what the
//! first sync would do) → **Activate**. Each step calls the API's handlers;
//! what is made on the way (installations, then the integration, inactive
//! until activated) is carried in hidden fields, never in the session.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde_json::{json, Value};

use super::form::{self, FieldErrors};
use super::integrations::{installations, options_fields, options_from_form};
use super::page::{self, badge, csrf_field, layout, Section};
use super::session::Signed;
use super::{see_other, ConsoleError, Result};
use crate::api::error::ApiError;
use crate::api::plugins::{InstallationChange, InstallationTest, NewInstallation};
use crate::api::{AppState, Json, Path};
use crate::control::schedule::{DEFAULT_SCHEDULE, DEFAULT_TIMEZONE};
use hrsync_store::catalog::{Installation, PluginVersion};
use hrsync_store::tenants::Role;

/// Ready-made rules the wizard offers, from the seeds: each becomes an
/// installation of a rule plugin when ticked.
const QUICK_RULES: &[(&str, &str, &str, &str)] = &[
    (
        "exclude-externals",
        "Exclude externals",
        "scope-rule",
        r#"{"exclude":[{"name":"externals","all":[{"field":"employment_type","op":"equals","value":"external"}]}]}"#,
    ),
    (
        "department-teams",
        "Teams from department (\"Abteilung IT\")",
        "team-map",
        r#"{"teams":[{"name":"Abteilung {department}"}]}"#,
    ),
    (
        "supervisor-teams",
        "Teams of each supervisor (\"Peter Wrights Team\")",
        "team-map",
        r#"{"teams":[{"name":"{supervisor.first_name} {supervisor.last_name}s Team"}]}"#,
    ),
];

/// The form as pairs (repeated keys kept).
type Form = Vec<(String, String)>;

fn get<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form::value(form, name)
}

/// The newest version of each plugin of `kind` in the catalog.
async fn catalog(state: &AppState, signed: &Signed, kind: &str) -> Result<Vec<PluginVersion>> {
    let Json(all) = crate::api::plugins::list_plugins(State(state.clone()), signed.who.clone()).await?;
    let mut newest: HashMap<String, PluginVersion> = HashMap::new();
    for plugin in all.into_iter().filter(|p| p.kind == kind) {
        let newer = newest.get(&plugin.name).is_none_or(|held| {
            semver::Version::parse(&plugin.version).ok() > semver::Version::parse(&held.version).ok()
        });
        if newer {
            newest.insert(plugin.name.clone(), plugin);
        }
    }
    let mut list: Vec<PluginVersion> = newest.into_values().collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}

/// The steps, for the progress line at the top.
const STEPS: &[&str] = &["HR system", "Rules", "App", "Options", "Preview"];

fn steps(current: usize) -> Markup {
    html! {
        ol.steps aria-label="Steps" {
            @for (i, step) in STEPS.iter().enumerate() {
                li aria-current=[(i == current).then_some("step")] class=[(i < current).then_some("done")] { (step) }
            }
        }
    }
}

/// What the wizard has made so far, carried from step to step.
fn carried(form: &Form) -> Markup {
    html! {
        @for key in ["source", "target", "rules"] {
            @if let Some(value) = get(form, key) { input type="hidden" name=(key) value=(value); }
        }
    }
}

fn wizard_page(signed: &Signed, step: usize, content: Markup) -> Markup {
    layout(
        signed,
        Section::Integrations,
        "New integration",
        html! { (steps(step)) (content) },
    )
}

/// Step 1 (and 3 for the app): choose a plugin of `kind` from the catalog.
async fn choose_plugin(
    state: &AppState,
    signed: &Signed,
    form: &Form,
    kind: &str,
    error: Option<&str>,
) -> Result<Markup> {
    let plugins = catalog(state, signed, kind).await?;
    let (step, what) = if kind == "source" { (0, "HR system") } else { (2, "app") };
    let next = if kind == "source" { "source-form" } else { "target-form" };
    Ok(wizard_page(
        signed,
        step,
        html! {
            form.card method="post" action="/integrations/new" {
                (csrf_field(signed)) (carried(form))
                input type="hidden" name="step" value=(next);
                fieldset {
                    legend { "Which " (what) "?" }
                    @if let Some(error) = error { (page::error_note(error)) }
                    @if plugins.is_empty() {
                        p.empty { "No " (kind) " plugin is uploaded yet. " a href="/plugins" { "Upload one" } " first." }
                    }
                    @for (n, plugin) in plugins.iter().enumerate() {
                        div.choice {
                            input type="radio" id=(format!("plugin-{n}")) name="plugin" value=(plugin.name) required checked[n == 0];
                            label for=(format!("plugin-{n}")) {
                                strong { (plugin.name) } " " span.muted { (plugin.version) }
                                span.hint.block { (plugin.manifest["description"].as_str().unwrap_or("")) }
                            }
                        }
                    }
                }
                div.actions { button.primary type="submit" disabled[plugins.is_empty()] { "Continue" } }
            }
        },
    ))
}

/// The installation form of a plugin: name, config, secrets, hosts; with
/// the result of the last test when there is one.
#[allow(clippy::too_many_arguments)]
fn installation_form(
    signed: &Signed,
    form: &Form,
    kind: &str,
    plugin: &PluginVersion,
    installation: Option<&Installation>,
    values: &Value,
    errors: &FieldErrors,
    tested: Option<&InstallationTest>,
) -> Markup {
    let step = if kind == "source" { 0 } else { 2 };
    let default_name = installation.map_or_else(|| plugin.name.clone(), |i| i.name.clone());
    let name = get(form, "name").unwrap_or(&default_name);
    let set: Vec<String> = installation.map(|i| i.secrets.clone()).unwrap_or_default();
    let granted: Vec<String> = installation.map(|i| i.allowed_hosts.clone()).unwrap_or_default();
    let passed = tested.is_some_and(|t| t.ok);
    wizard_page(
        signed,
        step,
        html! {
            form.card method="post" action="/integrations/new" novalidate {
                (csrf_field(signed)) (carried(form))
                input type="hidden" name="plugin" value=(plugin.name);
                @if let Some(installation) = installation { input type="hidden" name="installation" value=(installation.id); }
                h2 { (plugin.name) " " span.muted { (plugin.version) } }
                p.hint { (plugin.manifest["description"].as_str().unwrap_or("")) }
                @if let Some(error) = errors.get("") { (page::error_note(error)) }
                div.field {
                    label for="name" { "Name" }
                    input #name type="text" name="name" value=(name) required aria-describedby="name-error";
                    span.error #name-error role=[errors.get("name").map(|_| "alert")] { @if let Some(e) = errors.get("name") { (e) } }
                }
                fieldset { legend { "Settings" } (form::config_fields(&plugin.manifest["config_schema"], values, errors)) }
                fieldset { legend { "Secrets" } (form::secret_fields(&plugin.manifest, &set, errors)) }
                (form::host_fields(&plugin.manifest, &granted, installation.is_none(), errors))
                @if let Some(tested) = tested {
                    (test_result(tested))
                }
                div.actions {
                    button type="submit" name="step" value=(format!("{kind}-test")) class=[(!passed).then_some("primary")] { "Test" }
                    @if passed {
                        button.primary type="submit" name="step" value=(if kind == "source" { "rules" } else { "options" }) { "Continue" }
                    }
                }
            }
        },
    )
}

/// The outcome of a test in words.
pub fn test_result(tested: &InstallationTest) -> Markup {
    html! {
        div.test-result role="status" {
            @if tested.ok {
                p.good { "✓ Connection works." }
            } @else {
                p.error role="alert" { "✗ " (tested.error.as_deref().unwrap_or("the test failed")) }
            }
            @if !tested.unreadable_fields.is_empty() {
                p { "Fields these credentials cannot read:" }
                ul { @for f in &tested.unreadable_fields { li { code { (f.field) } " — " (f.reason) } } }
            }
            @if tested.http_denied > 0 {
                p.error { (tested.http_denied) " request(s) went to an origin that is not granted below." }
            }
        }
    }
}

/// The errors of an API refusal, by field (`""` when it names none).
fn field_errors(error: ApiError) -> FieldErrors {
    let (field, message) = page::explain(error);
    let field = match field.as_deref() {
        Some(f)
            if f.starts_with("config.")
                || f.starts_with("secrets.")
                || f.starts_with("allowed_hosts")
                || f == "name" =>
        {
            f.to_string()
        }
        _ => String::new(),
    };
    FieldErrors::from([(field, message)])
}

async fn plugin_named(state: &AppState, signed: &Signed, kind: &str, name: &str) -> Result<PluginVersion> {
    catalog(state, signed, kind)
        .await?
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| {
            ConsoleError::Api(ApiError::invalid(
                "plugin",
                format!("no {kind} plugin `{name}` is uploaded"),
            ))
        })
}

/// Saves the installation of the form (new, or changed when it was made in
/// an earlier attempt) and tests it.
async fn save_and_test(state: &AppState, signed: &Signed, form: &Form, kind: &str) -> Result<Response> {
    let plugin = plugin_named(state, signed, kind, get(form, "plugin").unwrap_or("")).await?;
    let schema = &plugin.manifest["config_schema"];
    let existing = match get(form, "installation").filter(|id| !id.is_empty()) {
        Some(id) => Some(crate::api::plugins::visible_installation(state, &signed.who, id).await?),
        None => None,
    };
    let shown_again = |values: &Value, errors: FieldErrors, installation: Option<&Installation>| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            installation_form(signed, form, kind, &plugin, installation, values, &errors, None),
        )
            .into_response()
    };
    let config = match form::config_from_form(schema, form) {
        Ok(config) => config,
        Err(errors) => return Ok(shown_again(&json!({}), errors, existing.as_ref())),
    };
    let secrets = form::secrets_from_form(form);
    let hosts = form::hosts_from_form(form);
    let name = get(form, "name").unwrap_or("").trim().to_string();
    let saved = match &existing {
        None => crate::api::plugins::install(
            State(state.clone()),
            signed.who.clone(),
            Json(NewInstallation {
                name,
                plugin: plugin.name.clone(),
                version: Some(plugin.version.clone()),
                config: config.clone(),
                secrets,
                allowed_hosts: hosts,
            }),
        )
        .await
        .map(|(_, Json(installation))| installation),
        Some(installation) => {
            let mut config_patch = config.clone();
            // Fields emptied in the form are removed from the config.
            if let (Some(patch), Some(before)) = (config_patch.as_object_mut(), installation.config.as_object()) {
                for key in before.keys() {
                    patch.entry(key.clone()).or_insert(Value::Null);
                }
            }
            crate::api::plugins::change_installation(
                State(state.clone()),
                signed.who.clone(),
                Path(installation.id.clone()),
                Json(InstallationChange {
                    version: None,
                    config: Some(config_patch),
                    secrets: secrets.into_iter().map(|(k, v)| (k, Some(v))).collect(),
                    allowed_hosts: Some(hosts),
                }),
            )
            .await
            .map(|Json(installation)| installation)
        }
    };
    let installation = match saved {
        Ok(installation) => installation,
        Err(error) => return Ok(shown_again(&config, field_errors(error), existing.as_ref())),
    };
    let Json(tested) =
        crate::api::plugins::test_installation(State(state.clone()), signed.who.clone(), Path(installation.id.clone()))
            .await?;
    let mut form = form.clone();
    form.retain(|(k, _)| k != kind);
    form.push((kind.to_string(), installation.id.clone()));
    let status = if tested.ok {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        installation_form(
            signed,
            &form,
            kind,
            &plugin,
            Some(&installation),
            &installation.config,
            &FieldErrors::new(),
            Some(&tested),
        ),
    )
        .into_response())
}

async fn rules_step(state: &AppState, signed: &Signed, form: &Form, error: Option<&str>) -> Result<Markup> {
    let all = installations(state, signed).await?;
    let rule_plugins = catalog(state, signed, "rule").await?;
    let mut existing: Vec<&Installation> = all
        .values()
        .filter(|i| rule_plugins.iter().any(|p| p.name == i.plugin))
        .collect();
    existing.sort_by(|a, b| a.name.cmp(&b.name));
    let available = |plugin: &str| rule_plugins.iter().any(|p| p.name == plugin);
    Ok(wizard_page(
        signed,
        1,
        html! {
            form.card method="post" action="/integrations/new" {
                (csrf_field(signed))
                @for key in ["source", "target"] { @if let Some(v) = get(form, key) { input type="hidden" name=(key) value=(v); } }
                input type="hidden" name="step" value="target";
                @if let Some(error) = error { (page::error_note(error)) }
                fieldset {
                    legend { "Who gets an account, and in which teams?" }
                    p.hint { "Rules run in the order listed. You can edit them later on the integration's Rules tab, with a preview." }
                    @for (key, label, plugin, _) in QUICK_RULES {
                        @if available(plugin) {
                            div.check {
                                input type="checkbox" id=(format!("quick-{key}")) name="quick" value=(key);
                                label for=(format!("quick-{key}")) { (label) }
                            }
                        }
                    }
                    @for rule in &existing {
                        div.check {
                            input type="checkbox" id=(format!("rule-{}", rule.id)) name="rule" value=(rule.id);
                            label for=(format!("rule-{}", rule.id)) { (rule.name) span.muted { " — " (rule.plugin) } }
                        }
                    }
                    @if rule_plugins.is_empty() { p.hint { "No rule plugin is uploaded: everyone the HR system returns gets an account." } }
                }
                div.actions { button.primary type="submit" { "Continue" } }
            }
        },
    ))
}

/// Installs the ticked quick rules (named after their label, made unique)
/// and answers the rule ids in order: quick rules first, then the chosen.
async fn chosen_rules(state: &AppState, signed: &Signed, form: &Form) -> Result<Vec<String>> {
    let taken: Vec<String> = installations(state, signed)
        .await?
        .into_values()
        .map(|i| i.name)
        .collect();
    let mut ids = Vec::new();
    for (key, label, plugin, config) in QUICK_RULES {
        if !form.iter().any(|(k, v)| k == "quick" && v == key) {
            continue;
        }
        let base = label.split(" (").next().unwrap_or(label).to_string();
        let name = (1..)
            .map(|n| if n == 1 { base.clone() } else { format!("{base} {n}") })
            .find(|candidate| !taken.contains(candidate) && !ids.contains(candidate))
            .unwrap_or(base);
        let (_, Json(installation)) = crate::api::plugins::install(
            State(state.clone()),
            signed.who.clone(),
            Json(NewInstallation {
                name,
                plugin: plugin.to_string(),
                version: None,
                config: serde_json::from_str(config).unwrap_or_default(),
                secrets: Default::default(),
                allowed_hosts: Vec::new(),
            }),
        )
        .await?;
        ids.push(installation.id);
    }
    ids.extend(form.iter().filter(|(k, _)| k == "rule").map(|(_, v)| v.clone()));
    Ok(ids)
}

fn options_step(signed: &Signed, form: &Form, errors: Option<(Option<String>, String)>) -> Markup {
    let defaults = hrsync_engine::plan::Options::default();
    let name = get(form, "integration_name").unwrap_or("");
    let schedule = get(form, "schedule").unwrap_or(DEFAULT_SCHEDULE);
    let timezone = get(form, "timezone").unwrap_or(DEFAULT_TIMEZONE);
    wizard_page(
        signed,
        3,
        html! {
            form.card method="post" action="/integrations/new" {
                (csrf_field(signed)) (carried(form))
                input type="hidden" name="step" value="preview";
                @if let Some((_, message)) = &errors { (page::error_note(message)) }
                div.field {
                    label for="integration-name" { "Name of the integration" }
                    input #integration-name type="text" name="integration_name" value=(name) required placeholder="Personio → Perks";
                }
                (options_fields(&defaults, schedule, timezone, false))
                div.actions { button.primary type="submit" { "Preview" } }
            }
        },
    )
}

/// Creates the integration (inactive) and shows its dry run: what the
/// first sync will do. Activate starts it.
async fn preview_step(state: &AppState, signed: &Signed, form: &Form) -> Result<Response> {
    let defaults = hrsync_engine::plan::Options::default();
    let body = json!({
        "name": get(form, "integration_name").unwrap_or("").trim(),
        "source": get(form, "source").unwrap_or(""),
        "target": get(form, "target").unwrap_or(""),
        "rules": get(form, "rules").map(|r| r.split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>()).unwrap_or_default(),
        "options": options_from_form(&defaults, form),
        "schedule": get(form, "schedule").unwrap_or(DEFAULT_SCHEDULE),
        "timezone": get(form, "timezone").unwrap_or(DEFAULT_TIMEZONE),
    });
    let config = match serde_json::from_value(body) {
        Ok(config) => config,
        Err(error) => {
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                options_step(signed, form, Some((None, error.to_string()))),
            )
                .into_response())
        }
    };
    let created =
        crate::api::integrations::create_integration(State(state.clone()), signed.who.clone(), Json(config)).await;
    let integration = match created {
        Ok((_, Json(created))) => created.integration,
        Err(error) => {
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                options_step(signed, form, Some(page::explain(error))),
            )
                .into_response())
        }
    };
    let tested = crate::api::integrations::test_integration(
        State(state.clone()),
        signed.who.clone(),
        Path(integration.id.clone()),
    )
    .await;
    let content = html! {
        (steps(4))
        @match tested {
            Err(error) => { (page::error_note(&page::explain(error).1)) }
            Ok(Json(detail)) => {
                section.card aria-label="Preview of the first sync" {
                    h2 { "What the first sync will do" }
                    p { (badge(&detail.run.status)) @if let Some(e) = &detail.run.error { " " (e) } }
                    ul.counts {
                        @for (kind, n) in detail.run.counts.as_object().into_iter().flatten().filter(|(_, n)| n.as_u64().unwrap_or(0) > 0) {
                            li { strong { (n) } " " (page::words(kind)) }
                        }
                    }
                    table {
                        caption.visually-hidden { "Planned changes" }
                        thead { tr { th scope="col" { "Employee" } th scope="col" { "Change" } th scope="col" { "Outcome" } } }
                        tbody {
                            @for item in detail.items.iter().take(500) {
                                tr { td { (item.hr_id.as_deref().unwrap_or("—")) } td { (item.summary) } td { (badge(&item.outcome)) @if let Some(e) = &item.error { div.reason { (e) } } } }
                            }
                        }
                    }
                }
            }
        }
        div.actions {
            (page::button_form(signed, &format!("/integrations/{}/activate", integration.id), "Activate", "primary"))
            a.button href=(format!("/integrations/{}", integration.id)) { "Not yet — keep it inactive" }
        }
    };
    Ok(layout(signed, Section::Integrations, "New integration", content).into_response())
}

pub async fn start(State(state): State<AppState>, signed: Signed) -> Result<Response> {
    signed.who.require(Role::Admin)?;
    Ok(choose_plugin(&state, &signed, &Vec::new(), "source", None)
        .await?
        .into_response())
}

/// One step of the wizard, named by the form's `step`.
pub async fn step(
    State(state): State<AppState>,
    signed: Signed,
    axum::Form(form): axum::Form<Form>,
) -> Result<Response> {
    signed.who.require(Role::Admin)?;
    let step = get(&form, "step").unwrap_or("").to_string();
    let page = match step.as_str() {
        "source-form" | "target-form" => {
            let kind = step.trim_end_matches("-form");
            let Some(name) = get(&form, "plugin") else {
                return Ok(choose_plugin(&state, &signed, &form, kind, Some("Choose a plugin."))
                    .await?
                    .into_response());
            };
            let plugin = plugin_named(&state, &signed, kind, name).await?;
            installation_form(
                &signed,
                &form,
                kind,
                &plugin,
                None,
                &json!({}),
                &FieldErrors::new(),
                None,
            )
        }
        "source-test" => return save_and_test(&state, &signed, &form, "source").await,
        "target-test" => return save_and_test(&state, &signed, &form, "target").await,
        "rules" => rules_step(&state, &signed, &form, None).await?,
        "target" => {
            let rules = chosen_rules(&state, &signed, &form).await?;
            let mut form = form.clone();
            form.retain(|(k, _)| k != "rules");
            form.push(("rules".into(), rules.join(",")));
            choose_plugin(&state, &signed, &form, "target", None).await?
        }
        "options" => options_step(&signed, &form, None),
        "preview" => return preview_step(&state, &signed, &form).await,
        _ => return Ok(see_other("/integrations/new")),
    };
    Ok(page.into_response())
}
