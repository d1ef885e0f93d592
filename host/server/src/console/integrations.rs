//! The Integrations screens: the list (status, Last Sync, next run, Sync
//! Now; a running sync refreshes itself), an integration's overview (the
//! paused banner with Resume, Activate, its options and schedule), its
//! Runs tab and a run's side panel with every item, filterable.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::page::{self, badge, button_form, csrf_field, duration, layout, time, Section};
use super::session::Signed;
use super::{see_other, Result};
use crate::api::integrations as api;
use crate::api::runs::{self as runs_api, RunDetail, RunView, RunsQuery};
use crate::api::{self as api_root, AppState};
use hrsync_engine::run::Progress;
use hrsync_store::catalog::Installation;
use hrsync_store::integrations::{Integration, State as RunState};
use hrsync_store::tenants::Role;

/// The member's installations by id (names and plugins for the tables).
pub async fn installations(state: &AppState, signed: &Signed) -> Result<HashMap<String, Installation>> {
    let api_root::Json(all) = crate::api::plugins::list_installations(State(state.clone()), signed.who.clone()).await?;
    Ok(all.into_iter().map(|i| (i.id.clone(), i)).collect())
}

fn name_of<'a>(installations: &'a HashMap<String, Installation>, id: &'a str) -> &'a str {
    if id == crate::scim::INBOUND_SOURCE {
        return "Inbound SCIM";
    }
    installations.get(id).map_or(id, |i| i.name.as_str())
}

/// One integration as the API sees it for this member, or 404.
pub async fn visible(state: &AppState, signed: &Signed, id: &str) -> Result<Integration> {
    Ok(api::visible(state, &signed.who, id).await?)
}

fn can_write(signed: &Signed) -> bool {
    signed.who.role >= Role::Admin
}

/// What a running sync is doing, in words.
fn progress_text(state: &AppState, run_id: &str, status: &str) -> String {
    match (status, state.control.progress(run_id)) {
        ("queued", _) => "queued: waiting for a free slot".into(),
        (_, Some(Progress::Reading { employees })) => format!("reading: {employees} employees so far"),
        (_, Some(Progress::Applying { done, total })) => format!("applying: {done} of {total} changes"),
        _ => "running".into(),
    }
}

fn running(integration: &Integration) -> Option<&str> {
    integration
        .last_run
        .as_ref()
        .filter(|r| r.status == "running" || r.status == "queued")
        .map(|r| r.id.as_str())
}

fn status_cell(integration: &Integration) -> Markup {
    html! {
        (badge(integration.state.as_str()))
        @if let (RunState::Paused, Some(reason)) = (integration.state, &integration.paused_reason) {
            div.reason { (reason) }
        }
    }
}

fn last_sync(state: &AppState, integration: &Integration) -> Markup {
    html! {
        @match &integration.last_run {
            None => span.muted { "never" },
            Some(run) => {
                (time(run.started_at)) " " (badge(&run.status))
                @if run.status == "running" || run.status == "queued" {
                    div.progress role="status" { (progress_text(state, &run.id, &run.status)) }
                }
                @if let Some(error) = &run.error { div.reason { (error) } }
            }
        }
    }
}

/// One row of the list; a running sync's row asks for itself again every
/// two seconds (htmx) until the run is over.
fn list_row(
    state: &AppState,
    signed: &Signed,
    integration: &Integration,
    installations: &HashMap<String, Installation>,
) -> Markup {
    let refresh = running(integration).map(|_| format!("/integrations/{}/row", integration.id));
    html! {
        tr id=(format!("row-{}", integration.id)) hx-get=[refresh.as_deref()] hx-trigger=[refresh.as_ref().map(|_| "every 2s")] hx-swap="outerHTML" {
            td { a href=(format!("/integrations/{}", integration.id)) { (integration.name) } }
            td { (name_of(installations, &integration.source)) " → " (name_of(installations, &integration.target)) }
            td { (status_cell(integration)) }
            td { (last_sync(state, integration)) }
            td { @match integration.next_run_at { Some(at) => (time(at)), None => span.muted { "—" } } }
            td {
                @if can_write(signed) {
                    form.inline method="post" action=(format!("/integrations/{}/sync?back=list", integration.id)) {
                        (csrf_field(signed))
                        button.small type="submit" { "Sync Now" span.visually-hidden { " " (integration.name) } }
                    }
                }
            }
        }
    }
}

pub async fn list(State(state): State<AppState>, signed: Signed, Query(notice): Query<Notice>) -> Result<Markup> {
    let api_root::Json(all) = api::list_integrations(State(state.clone()), signed.who.clone()).await?;
    let installations = installations(&state, &signed).await?;
    let content = html! {
        (notice_note(notice.done.as_deref()))
        @if can_write(&signed) {
            p { a.button.primary href="/integrations/new" { "New integration" } }
        }
        @if all.is_empty() {
            p.empty { "No integrations yet. An integration reads an HR system, applies your rules and keeps an app's accounts in step." }
        } @else {
            table {
                caption.visually-hidden { "Integrations" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Source → target" } th scope="col" { "Status" } th scope="col" { "Last Sync" } th scope="col" { "Next run" } th scope="col" { span.visually-hidden { "Actions" } } } }
                tbody {
                    @for integration in &all { (list_row(&state, &signed, integration, &installations)) }
                }
            }
        }
    };
    Ok(layout(&signed, Section::Integrations, "Integrations", content))
}

pub async fn row(State(state): State<AppState>, signed: Signed, Path(id): Path<String>) -> Result<Markup> {
    let integration = visible(&state, &signed, &id).await?;
    let installations = installations(&state, &signed).await?;
    Ok(list_row(&state, &signed, &integration, &installations))
}

/// The tabs of an integration's pages.
pub fn tabs(integration: &Integration, current: &str) -> Markup {
    let tab = |path: &str, label: &str| {
        let href = format!("/integrations/{}{path}", integration.id);
        html! { a href=(href) aria-current=[(label == current).then_some("page")] { (label) } }
    };
    html! {
        nav.tabs aria-label="Integration" {
            (tab("", "Overview")) (tab("/runs", "Runs")) (tab("/rules", "Rules"))
        }
    }
}

/// The banner of a paused integration: why, and Resume.
fn paused_banner(signed: &Signed, integration: &Integration) -> Markup {
    html! {
        @if integration.state == RunState::Paused {
            div.banner.bad role="alert" {
                strong { "Paused. " }
                "The automatic sync is paused until this is fixed: "
                (integration.paused_reason.as_deref().unwrap_or("a run failed"))
                @if can_write(signed) {
                    " " (button_form(signed, &format!("/integrations/{}/resume", integration.id), "Resume", "primary"))
                }
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    pub done: Option<String>,
}

/// Where an action was asked from: `list` sends the member back to the
/// list, anything else to the integration.
#[derive(Debug, Default, Deserialize)]
pub struct Back {
    #[serde(default)]
    back: Option<String>,
}

/// The fixed notices a redirect may show (never text from the URL).
fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "synced" => "Sync started. The Last Sync below shows it as it goes.",
        "resumed" => "Resumed: the integration is back on its schedule.",
        "activated" => "Activated: the first sync is running.",
        "deactivated" => "Deactivated: no more scheduled runs.",
        "saved" => "Saved.",
        "busy" => "A run of this integration is going on; try again when it is over.",
        _ => return None,
    })
}

fn notice_note(done: Option<&str>) -> Markup {
    html! { @if let Some(text) = notice(done) { p.notice role="status" { (text) } } }
}

/// The HR statuses an account can be created for (`options.create_for`).
const CREATE_FOR: [hrsync_model::EmployeeStatus; 3] = [
    hrsync_model::EmployeeStatus::Onboarding,
    hrsync_model::EmployeeStatus::Active,
    hrsync_model::EmployeeStatus::Leave,
];

/// The options form: what the wizard's last step and the overview share.
pub fn options_fields(
    integration_options: &hrsync_engine::plan::Options,
    schedule: &str,
    timezone: &str,
    disabled: bool,
) -> Markup {
    let check = |name: &str, label: &str, on: bool, hint: &str| {
        html! {
            div.check {
                input type="checkbox" id=(format!("opt-{name}")) name=(name) value="on" checked[on] disabled[disabled] aria-describedby=(format!("opt-{name}-hint"));
                label for=(format!("opt-{name}")) { (label) }
                span.hint id=(format!("opt-{name}-hint")) { (hint) }
            }
        }
    };
    html! {
        fieldset {
            legend { "Options" }
            (check("create", "Auto-Create", integration_options.create, "new employees in scope get an account"))
            div.field role="group" aria-labelledby="opt-create-for" {
                span #opt-create-for.label { "New accounts for HR status" }
                div.choices {
                    @for status in CREATE_FOR {
                        span.check {
                            input type="checkbox" id=(format!("opt-create-for-{}", status.as_str())) name=(format!("create_for_{}", status.as_str()))
                                value="on" checked[integration_options.create_for.contains(&status)] disabled[disabled];
                            label for=(format!("opt-create-for-{}", status.as_str())) { (status.as_str()) }
                        }
                    }
                }
                span.hint { "only active: a benefits wallet opens on the first day; onboarding too: a learning app prepares it. Accounts that exist stay managed whatever the status." }
            }
            (check("deactivate", "Auto-Archive (deactivate)", integration_options.deactivate, "leavers' accounts are deactivated at once"))
            (check("reactivate", "Reactivate returning employees", integration_options.reactivate, "a rehire gets their old account back"))
            (check("invite", "Send invitations", integration_options.invite, "the app e-mails each new account"))
            div.field {
                label for="opt-threshold" { "Deletion threshold (%)" }
                input #opt-threshold type="number" min="0" max="100" name="deletion_threshold_percent"
                    value=(integration_options.deletion_threshold_percent) disabled[disabled];
                span.hint { "a run that would deactivate more of the managed accounts stops before it changes anything" }
            }
            div.field {
                label for="opt-schedule" { "Schedule (cron)" }
                input #opt-schedule type="text" name="schedule" value=(schedule) disabled[disabled];
                span.hint { "minute hour day month weekday — daily at 04:00 is 0 4 * * *" }
            }
            div.field {
                label for="opt-timezone" { "Time zone" }
                input #opt-timezone type="text" name="timezone" value=(timezone) disabled[disabled];
                span.hint { "IANA name: UTC, Europe/Berlin, America/New_York" }
            }
        }
    }
}

/// The options of a submitted form, over `base`: unchecked boxes are off.
pub fn options_from_form(base: &hrsync_engine::plan::Options, form: &[(String, String)]) -> serde_json::Value {
    let field = |name: &str| super::form::value(form, name);
    let mut options = serde_json::to_value(base).unwrap_or_default();
    for name in ["create", "deactivate", "reactivate", "invite"] {
        options[name] = serde_json::json!(field(name) == Some("on"));
    }
    // None ticked is passed on: the API names `create_for`.
    options["create_for"] = CREATE_FOR
        .iter()
        .filter(|status| field(&format!("create_for_{}", status.as_str())) == Some("on"))
        .map(|status| serde_json::json!(status.as_str()))
        .collect();
    if let Some(text) = field("deletion_threshold_percent") {
        // A number the API checks; text that is none is passed on as text
        // so the API names the field.
        options["deletion_threshold_percent"] = text
            .trim()
            .parse::<u64>()
            .map_or_else(|_| serde_json::json!(text), |n| serde_json::json!(n));
    }
    options
}

async fn overview_page(
    state: &AppState,
    signed: &Signed,
    integration: &Integration,
    done: Option<&str>,
    error: Option<(Option<String>, String)>,
) -> Result<Markup> {
    let installations = installations(state, signed).await?;
    let write = can_write(signed);
    let id = &integration.id;
    let link = |inst: &str| {
        html! { a href=(format!("/installations/{inst}")) { (name_of(&installations, inst)) } }
    };
    let content = html! {
        (tabs(integration, "Overview"))
        (notice_note(done))
        (paused_banner(signed, integration))
        @if let Some((_, message)) = &error { (page::error_note(message)) }
        section.card {
            dl.facts {
                dt { "Status" } dd { (status_cell(integration)) }
                dt { "Last Sync" } dd { (last_sync(state, integration)) }
                dt { "Next run" } dd { @match integration.next_run_at { Some(at) => (time(at)), None => "—" } }
                dt { "Source" } dd {
                    @if integration.source == crate::scim::INBOUND_SOURCE {
                        "Inbound SCIM at " code { (format!("/scim/v2/{id}")) }
                        " — what your identity provider pushes (a new token: "
                        code { (format!("POST /api/v1/integrations/{id}/scim-token")) } ")"
                    } @else { (link(&integration.source)) }
                }
                dt { "Rules" } dd {
                    @if integration.rules.is_empty() { "none" }
                    @for (i, rule) in integration.rules.iter().enumerate() { @if i > 0 { " → " } (link(rule)) }
                }
                dt { "Target" } dd { (link(&integration.target)) }
                dt { "Mode" } dd { (integration.mode.as_str()) }
            }
            @if write {
                div.actions {
                    (button_form(signed, &format!("/integrations/{id}/sync"), "Sync Now", "primary"))
                    @match integration.state {
                        RunState::Inactive => (button_form(signed, &format!("/integrations/{id}/activate"), "Activate", "")),
                        _ => (button_form(signed, &format!("/integrations/{id}/deactivate"), "Deactivate", "")),
                    }
                }
            }
        }
        form.card method="post" action=(format!("/integrations/{id}/options")) {
            (csrf_field(signed))
            (options_fields(&integration.options, &integration.schedule, &integration.timezone, !write))
            @if write {
                div.actions {
                    button type="submit" name="do" value="preview" { "Preview" }
                    button.primary type="submit" name="do" value="save" { "Save" }
                }
            }
        }
    };
    Ok(layout(signed, Section::Integrations, &integration.name, content))
}

pub async fn overview(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
) -> Result<Markup> {
    let integration = visible(&state, &signed, &id).await?;
    overview_page(&state, &signed, &integration, notice.done.as_deref(), None).await
}

/// Runs one of the API's actions on an integration, then back to where
/// the member was (the list or the overview) with a notice, or the
/// overview with the API's refusal.
async fn act(
    state: &AppState,
    signed: &Signed,
    id: &str,
    back: &Back,
    done: &str,
    result: std::result::Result<(), crate::api::error::ApiError>,
) -> Result<Response> {
    match result {
        Ok(()) => {
            let back = if back.back.as_deref() == Some("list") {
                format!("/integrations?done={done}")
            } else {
                format!("/integrations/{id}?done={done}")
            };
            Ok(see_other(&back))
        }
        Err(error) => {
            let integration = visible(state, signed, id).await?;
            let status = error.status();
            let explained = page::explain(error);
            Ok((
                status,
                overview_page(state, signed, &integration, None, Some(explained)).await?,
            )
                .into_response())
        }
    }
}

/// Sync Now, Resume, Activate or Deactivate: the API's action of that
/// name on the integration.
pub async fn action(
    State(state): State<AppState>,
    signed: Signed,
    Query(back): Query<Back>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response> {
    let (st, who, path) = (State(state.clone()), signed.who.clone(), crate::api::Path(id.clone()));
    let (result, done) = match action.as_str() {
        "sync" => (
            api::sync_now(st, who, path, axum::body::Bytes::new()).await.map(|_| ()),
            "synced",
        ),
        "resume" => (api::resume(st, who, path).await.map(|_| ()), "resumed"),
        "activate" => (api::activate(st, who, path).await.map(|_| ()), "activated"),
        "deactivate" => (api::deactivate(st, who, path).await.map(|_| ()), "deactivated"),
        _ => return Err(crate::api::error::ApiError::NoRoute.into()),
    };
    act(&state, &signed, &id, &back, done, result).await
}

/// Saves the options and schedule (`do=save`), or previews them against
/// the current ones (`do=preview`) without saving.
pub async fn save_options(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response> {
    let integration = visible(&state, &signed, &id).await?;
    let options = options_from_form(&integration.options, &form);
    let field = |name: &str| super::form::value(&form, name).map(str::to_string);
    if field("do").as_deref() == Some("preview") {
        let draft = serde_json::json!({ "options": options });
        return super::rules::preview_response(&state, &signed, &integration, draft).await;
    }
    let patch = serde_json::json!({
        "options": options,
        "schedule": field("schedule").unwrap_or_else(|| integration.schedule.clone()),
        "timezone": field("timezone").unwrap_or_else(|| integration.timezone.clone()),
    });
    let result = api::change_integration(
        State(state.clone()),
        signed.who.clone(),
        crate::api::Path(id.clone()),
        crate::api::Json(patch),
    )
    .await
    .map(|_| ());
    act(&state, &signed, &id, &Back::default(), "saved", result).await
}

/// A count of a run, or nothing when it is zero.
fn count(counts: &serde_json::Value, key: &str) -> u64 {
    counts[key].as_u64().unwrap_or(0)
}

fn counts_cells(counts: &serde_json::Value) -> Markup {
    let users = [
        ("created", "create-account"),
        ("updated", "update-account"),
        ("deactivated", "deactivate-account"),
        ("reactivated", "reactivate-account"),
        ("taken over", "adopted"),
    ];
    let teams = [
        ("created", "create-team"),
        ("members added", "add-member"),
        ("members removed", "remove-member"),
    ];
    let list = |pairs: &[(&str, &str)]| {
        let shown: Vec<String> = pairs
            .iter()
            .filter(|(_, key)| count(counts, key) > 0)
            .map(|(label, key)| format!("{} {label}", count(counts, key)))
            .collect();
        if shown.is_empty() {
            "no changes".to_string()
        } else {
            shown.join(", ")
        }
    };
    html! {
        td { (list(&users)) }
        td { (list(&teams)) }
        td.num { (count(counts, "failed")) }
        td.num { (count(counts, "conflicts")) }
    }
}

fn run_row(run: &RunView) -> Markup {
    let href = format!("/runs/{}", run.id);
    html! {
        tr {
            td { a href=(href) hx-get=(href) hx-target="#panel" hx-swap="innerHTML" { (time(run.started_at)) } }
            td { (run.trigger) @if let Some(by) = &run.started_by { div.muted { (by) } } }
            td { (badge(&run.status)) @if let Some(error) = &run.error { div.reason { (error) } } }
            td { @match run.finished_at { Some(end) => (duration(end - run.started_at)), None => "—" } }
            (counts_cells(&run.counts))
        }
    }
}

pub async fn runs(State(state): State<AppState>, signed: Signed, Path(id): Path<String>) -> Result<Markup> {
    let integration = visible(&state, &signed, &id).await?;
    let crate::api::Json(list) = runs_api::list_runs(
        State(state.clone()),
        signed.who.clone(),
        crate::api::Query(RunsQuery {
            integration: Some(id.clone()),
            limit: Some(100),
        }),
    )
    .await?;
    let refresh = running(&integration).is_some();
    let content = html! {
        (tabs(&integration, "Runs"))
        (paused_banner(&signed, &integration))
        @if list.is_empty() {
            p.empty { "No runs yet." }
        } @else {
            // While a run goes on the table asks for itself again; the copy
            // it gets once the run is over asks no more.
            div #runs-live hx-disinherit="*" hx-get=[refresh.then(|| format!("/integrations/{id}/runs"))] hx-trigger=[refresh.then_some("every 3s")] hx-select="#runs-live" hx-swap="outerHTML" {
            table #runs {
                caption.visually-hidden { "Runs, newest first" }
                thead { tr {
                    th scope="col" { "Started at" } th scope="col" { "Trigger" } th scope="col" { "Status" } th scope="col" { "Duration" }
                    th scope="col" { "Users" } th scope="col" { "Teams" } th scope="col" { "Failed" } th scope="col" { "Conflicts" }
                } }
                tbody { @for run in &list { (run_row(run)) } }
            }
            }
        }
    };
    Ok(layout(&signed, Section::Integrations, &integration.name, content))
}

#[derive(Debug, Default, Deserialize)]
pub struct PanelQuery {
    /// Only items with this outcome.
    #[serde(default)]
    outcome: Option<String>,
}

/// The outcomes a run's items are filtered by.
const OUTCOMES: &[&str] = &["done", "failed", "planned", "skipped", "rejected", "conflict", "noted"];

/// A run's side panel: its counts and every item with outcome and error,
/// filterable by outcome (htmx puts it beside the runs; without it, a page).
pub async fn run_panel(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<PanelQuery>,
) -> Result<Markup> {
    // Only a known outcome is used (and shown back).
    let outcome = query.outcome.filter(|o| OUTCOMES.contains(&o.as_str()));
    let crate::api::Json(RunDetail { run, items }) = runs_api::get_run(
        State(state.clone()),
        signed.who.clone(),
        crate::api::Path(id.clone()),
        crate::api::Query(runs_api::ItemsQuery {
            outcome: outcome.clone().filter(|o| o != "conflict"),
            kind: (outcome.as_deref() == Some("conflict")).then(|| "conflict".to_string()),
            employee: None,
        }),
    )
    .await?;
    let panel = html! {
        section.side-panel aria-label="Run" {
            header {
                h2 { "Run " (time(run.started_at)) }
                a.close href=(format!("/integrations/{}/runs", run.integration)) aria-label="Close the run panel" { "×" }
            }
            p { (badge(&run.status)) " " (run.trigger) @if let Some(by) = &run.started_by { " by " (by) }
                @if let Some(end) = run.finished_at { " · " (duration(end - run.started_at)) } }
            @if let Some(error) = &run.error { (page::error_note(error)) }
            table.compact {
                caption.visually-hidden { "What the run changed" }
                thead { tr { th scope="col" { "Users" } th scope="col" { "Teams" } th scope="col" { "Failed" } th scope="col" { "Conflicts" } } }
                tbody { tr { (counts_cells(&run.counts)) } }
            }
            form.filter method="get" action=(format!("/runs/{}", run.id)) hx-get=(format!("/runs/{}", run.id)) hx-target="#panel" hx-trigger="change" {
                label for="outcome" { "Show" }
                select #outcome name="outcome" {
                    option value="" selected[outcome.is_none()] { "every item" }
                    @for o in OUTCOMES { option value=(o) selected[outcome.as_deref() == Some(*o)] { (o) } }
                }
                noscript { button type="submit" { "Filter" } }
            }
            @if items.is_empty() {
                p.empty { "No items" @if let Some(o) = &outcome { " with outcome " (o) } "." }
            } @else {
                table.items {
                    caption.visually-hidden { "Items of the run" }
                    thead { tr { th scope="col" { "Employee" } th scope="col" { "Change" } th scope="col" { "Outcome" } } }
                    tbody {
                        @for item in &items {
                            tr {
                                td { (item.hr_id.as_deref().unwrap_or("—")) }
                                td { (item.summary) }
                                td { (badge(&item.outcome)) @if let Some(error) = &item.error { div.reason { (error) } } }
                            }
                        }
                    }
                }
            }
        }
    };
    if page::is_htmx(&headers) {
        return Ok(panel);
    }
    let integration = visible(&state, &signed, &run.integration).await?;
    let content = html! { (tabs(&integration, "Runs")) (panel) };
    Ok(layout(&signed, Section::Integrations, &integration.name, content))
}
