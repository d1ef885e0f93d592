//! The Rules screen of an integration: an editor per rule installation —
//! scope filters as rows (field, operator, value; AND inside a filter, OR
//! across filters), team naming templates, the attribute mapping table, a
//! Rhai script with its compile errors by line and column, the JSON config
//! of any other rule — and the Preview: the draft run against the HR
//! system and the app without writing anything, compared with the current
//! rules. Nothing is saved until the admin applies the draft.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde_json::{json, Value};

use super::integrations::{installations, tabs, visible};
use super::page::{self, badge, csrf_field, layout, Section};
use super::session::Signed;
use super::{see_other, Result};
use crate::api::integrations as api;
use crate::api::AppState;
use hrsync_engine::whatif::{WhatIf, PLAN_SHOWN};
use hrsync_store::catalog::Installation;
use hrsync_store::integrations::Integration;
use hrsync_store::tenants::Role;

/// Operators of the scope rule (`plugins/scope-rule/src/lib.rs`).
const OPERATORS: &[(&str, &str)] = &[
    ("equals", "equals"),
    ("not_equals", "does not equal"),
    ("in", "is one of (comma-separated)"),
    ("not_in", "is none of (comma-separated)"),
    ("regex", "matches the regex"),
    ("is_empty", "is empty"),
    ("is_not_empty", "is not empty"),
    ("before", "is before (date or +30d)"),
    ("after", "is after (date or +30d)"),
    ("within", "is within (e.g. -90d)"),
];

/// One rule of the integration, as the page edits it.
struct RuleDraft<'a> {
    index: usize,
    installation: &'a Installation,
    config: Value,
    /// Why the draft config of this rule is not valid (JSON syntax, the
    /// plugin's schema, a script that does not compile).
    error: Option<String>,
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn scope_editor(rule: &RuleDraft) -> Markup {
    let i = rule.index;
    let list = |which: &str| -> Markup {
        let filters = rule.config[which].as_array().cloned().unwrap_or_default();
        // One empty filter to start a new one; one empty row in each.
        let shown = filters.len() + 1;
        html! {
            fieldset.filters {
                legend { @if which == "include" { "Include only employees who match a filter" } @else { "Exclude employees who match a filter" } }
                p.hint { "Inside a filter every row must match (AND); across filters any one may (OR). Empty rows are ignored." }
                @for f in 0..shown {
                    @let filter = filters.get(f).cloned().unwrap_or(Value::Null);
                    @let clauses = filter["all"].as_array().cloned().unwrap_or_default();
                    @let prefix = format!("r{i}.{which}.{f}");
                    div.filter {
                        label { "Filter name " input type="text" name=(format!("{prefix}.name")) value=(text(&filter["name"])); }
                        table.rows {
                            thead { tr { th scope="col" { "Field" } th scope="col" { "Operator" } th scope="col" { "Value" } } }
                            tbody {
                                @for c in 0..clauses.len() + 1 {
                                    @let clause = clauses.get(c).cloned().unwrap_or(Value::Null);
                                    @let row = format!("{prefix}.all.{c}");
                                    tr {
                                        td { input type="text" name=(format!("{row}.field")) value=(text(&clause["field"])) aria-label=(format!("{which} filter {} row {} field", f + 1, c + 1)) placeholder="employment_type"; }
                                        td { select name=(format!("{row}.op")) aria-label=(format!("{which} filter {} row {} operator", f + 1, c + 1)) {
                                            @for (op, label) in OPERATORS { option value=(op) selected[clause["op"] == *op] { (label) } }
                                        } }
                                        td { input type="text" name=(format!("{row}.value")) value=(text(&clause["value"])) aria-label=(format!("{which} filter {} row {} value", f + 1, c + 1)); }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html! {
        (list("exclude")) (list("include"))
        div.field {
            label for=(format!("r{i}-tz")) { "Time zone of date tests" }
            input id=(format!("r{i}-tz")) type="text" name=(format!("r{i}.time_zone")) value=(text(&rule.config["time_zone"])) placeholder="the integration's";
        }
    }
}

fn team_editor(rule: &RuleDraft) -> Markup {
    let i = rule.index;
    let teams = rule.config["teams"].as_array().cloned().unwrap_or_default();
    html! {
        p.hint { "A template names each employee's team from their fields: " code { "Abteilung {department}" } ", " code { "{supervisor.first_name} {supervisor.last_name}s Team" } ". Limit a template to employees whose field has one of the values." }
        table.rows {
            thead { tr { th scope="col" { "Team name template" } th scope="col" { "Only when field" } th scope="col" { "has one of (comma-separated)" } } }
            tbody {
                @for t in 0..teams.len() + 1 {
                    @let team = teams.get(t).cloned().unwrap_or(Value::Null);
                    @let only = team["only"].as_object().and_then(|o| o.iter().next()).map(|(k, v)| (k.clone(), text(v)));
                    tr {
                        td { input type="text" name=(format!("r{i}.teams.{t}.name")) value=(text(&team["name"])) aria-label=(format!("team template {}", t + 1)); }
                        td { input type="text" name=(format!("r{i}.teams.{t}.only_field")) value=(only.as_ref().map(|o| o.0.as_str()).unwrap_or("")) aria-label=(format!("team template {} field", t + 1)); }
                        td { input type="text" name=(format!("r{i}.teams.{t}.only_values")) value=(only.as_ref().map(|o| o.1.as_str()).unwrap_or("")) aria-label=(format!("team template {} values", t + 1)); }
                    }
                }
            }
        }
        div.check {
            input type="checkbox" id=(format!("r{i}-replace")) name=(format!("r{i}.replace")) value="on" checked[rule.config["replace"] == true];
            label for=(format!("r{i}-replace")) { "Replace the teams of earlier rules (otherwise add to them)" }
        }
    }
}

const MAPPING_COLUMNS: &[(&str, &str)] = &[
    ("target", "Account attribute"),
    ("from", "From field"),
    ("template", "or template"),
    ("value", "or constant"),
    ("default", "Default when empty"),
];

fn mapping_editor(rule: &RuleDraft) -> Markup {
    let i = rule.index;
    let rows = rule.config["attributes"].as_array().cloned().unwrap_or_default();
    html! {
        p.hint { "Without a row here an account gets what the target plugin maps by default: user name and e-mail, first and last name, active, manager, teams. Each row sets one more attribute (" code { "title" } " from " code { "position" } ", " code { "locale" } " from a template, a constant)." }
        table.rows {
            thead { tr { @for (_, label) in MAPPING_COLUMNS { th scope="col" { (label) } } th scope="col" { "Only on create" } } }
            tbody {
                @for r in 0..rows.len() + 1 {
                    @let row = rows.get(r).cloned().unwrap_or(Value::Null);
                    tr {
                        @for (key, label) in MAPPING_COLUMNS {
                            td { input type="text" name=(format!("r{i}.attributes.{r}.{key}")) value=(text(&row[*key])) aria-label=(format!("mapping {} {}", r + 1, label)); }
                        }
                        td { input type="checkbox" name=(format!("r{i}.attributes.{r}.only_on_create")) value="on" checked[row["only_on_create"] == true] aria-label=(format!("mapping {} only on create", r + 1)); }
                    }
                }
            }
        }
    }
}

fn script_editor(rule: &RuleDraft) -> Markup {
    let i = rule.index;
    html! {
        p.hint { "A Rhai script with " code { "exclude(employee)" } ", " code { "teams(employee)" } " and " code { "attributes(employee)" } " as it needs them; Preview checks it first and names the line and column of an error." }
        label for=(format!("r{i}-script")) { "Script" }
        textarea.code id=(format!("r{i}-script")) name=(format!("r{i}.script")) rows="14" spellcheck="false" { (text(&rule.config["script"])) }
        div.field {
            label for=(format!("r{i}-tz")) { "Time zone of today()" }
            input id=(format!("r{i}-tz")) type="text" name=(format!("r{i}.time_zone")) value=(text(&rule.config["time_zone"])) placeholder="the integration's";
        }
    }
}

fn json_editor(rule: &RuleDraft) -> Markup {
    let i = rule.index;
    let pretty = serde_json::to_string_pretty(&rule.config).unwrap_or_default();
    html! {
        label for=(format!("r{i}-json")) { "Config (JSON)" }
        textarea.code id=(format!("r{i}-json")) name=(format!("r{i}.json")) rows="10" spellcheck="false" { (pretty) }
    }
}

/// Whether the editor of the rule's plugin can show all of `config`:
/// otherwise Apply would drop what it cannot show, so the JSON editor
/// shows it instead.
fn fits_form(plugin: &str, config: &Value) -> bool {
    let keys_in = |value: &Value, allowed: &[&str]| {
        value
            .as_object()
            .is_some_and(|o| o.keys().all(|k| allowed.contains(&k.as_str())))
    };
    let list = |value: &Value| value.is_null() || value.is_array();
    let items = |value: &Value| value.as_array().cloned().unwrap_or_default();
    let texts = |value: &Value| value.is_null() || value.is_string();
    match plugin {
        "scope-rule" => {
            keys_in(config, &["time_zone", "include", "exclude"])
                && ["include", "exclude"].iter().all(|which| {
                    list(&config[*which])
                        && items(&config[*which]).iter().all(|filter| {
                            keys_in(filter, &["name", "all"])
                                && texts(&filter["name"])
                                && items(&filter["all"]).iter().all(|clause| {
                                    keys_in(clause, &["field", "op", "value"])
                                        && match &clause["value"] {
                                            Value::Array(values) => {
                                                values
                                                    .iter()
                                                    .all(|v| v.is_string() && !v.as_str().unwrap_or("").contains(','))
                                                    && matches!(clause["op"].as_str(), Some("in" | "not_in"))
                                            }
                                            other => texts(other),
                                        }
                                })
                        })
                })
        }
        "team-map" => {
            keys_in(config, &["teams", "replace"])
                && list(&config["teams"])
                && items(&config["teams"]).iter().all(|team| {
                    keys_in(team, &["name", "only"])
                        && (team["only"].is_null()
                            || team["only"].as_object().is_some_and(|only| {
                                only.len() <= 1
                                    && only.values().all(|v| {
                                        v.as_array().is_some_and(|a| {
                                            a.iter()
                                                .all(|x| x.is_string() && !x.as_str().unwrap_or("").contains(','))
                                        })
                                    })
                            }))
                })
        }
        "attribute-map" => {
            keys_in(config, &["attributes"])
                && list(&config["attributes"])
                && items(&config["attributes"]).iter().all(|row| {
                    keys_in(
                        row,
                        &["target", "from", "value", "template", "default", "only_on_create"],
                    ) && ["target", "from", "value", "template", "default"]
                        .iter()
                        .all(|k| texts(&row[*k]))
                })
        }
        "script-rule" => keys_in(config, &["script", "time_zone", "max_operations", "time_limit_ms"]),
        _ => false,
    }
}

fn editor(rule: &RuleDraft) -> Markup {
    let body = if fits_form(&rule.installation.plugin, &rule.config) {
        match rule.installation.plugin.as_str() {
            "scope-rule" => scope_editor(rule),
            "team-map" => team_editor(rule),
            "attribute-map" => mapping_editor(rule),
            "script-rule" => script_editor(rule),
            _ => json_editor(rule),
        }
    } else {
        json_editor(rule)
    };
    html! {
        section.card.rule id=(format!("rule-{}", rule.index)) {
            h2 { (rule.index + 1) ". " (rule.installation.name) span.muted { " — " (rule.installation.plugin) " " (rule.installation.version) } }
            @if let Some(error) = &rule.error { (page::error_note(error)) }
            (body)
        }
    }
}

/// The form's values as a tree: `r0.exclude.1.all.0.field` is the field of
/// row 0 of filter 1 of rule 0's `exclude`; numbers are list positions.
fn tree(form: &[(String, String)]) -> BTreeMap<usize, Value> {
    let mut rules: BTreeMap<usize, Value> = BTreeMap::new();
    // The editors nest at most five levels (`exclude.1.all.0.field`); a
    // deeper key is not theirs, and unbounded depth would be a stack to
    // overflow.
    for (key, value) in form.iter().take(MAX_FIELDS) {
        if key.split('.').count() > MAX_DEPTH {
            continue;
        }
        let Some(rest) = key.strip_prefix('r') else { continue };
        let Some((index, path)) = rest.split_once('.') else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else { continue };
        let mut node: &mut Value = rules.entry(index).or_insert_with(|| json!({}));
        for segment in path.split('.') {
            // Positions become object keys here; [`positions`] orders them.
            if !node.is_object() {
                *node = json!({});
            }
            let Value::Object(map) = node else { break };
            node = map.entry(segment.to_string()).or_insert_with(|| json!({}));
        }
        *node = Value::String(value.clone());
    }
    rules
}

const MAX_DEPTH: usize = 8;
const MAX_FIELDS: usize = 5_000;

/// The entries of a `{"0": .., "1": ..}` object, in position order.
fn positions(value: &Value) -> Vec<&Value> {
    let mut entries: Vec<(usize, &Value)> = value
        .as_object()
        .map(|o| o.iter().filter_map(|(k, v)| Some((k.parse().ok()?, v))).collect())
        .unwrap_or_default();
    entries.sort_by_key(|(k, _)| *k);
    entries.into_iter().map(|(_, v)| v).collect()
}

fn filled(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn list_of(text: &str) -> Value {
    Value::Array(
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| json!(s))
            .collect(),
    )
}

/// A rule's config from its part of the form (see [`tree`]); empty rows
/// are left out. Errors name the rule.
fn config_of(installation: &Installation, form: &Value) -> std::result::Result<Value, String> {
    let mut config = serde_json::Map::new();
    let keep = |config: &mut serde_json::Map<String, Value>, key: &str| {
        if let Some(text) = filled(&form[key]) {
            config.insert(key.to_string(), json!(text));
        }
    };
    if let Some(text) = form["json"].as_str() {
        return serde_json::from_str(text)
            .map_err(|e| format!("the config is not JSON: {e} (line {}, column {})", e.line(), e.column()));
    }
    match installation.plugin.as_str() {
        "scope-rule" => {
            for which in ["include", "exclude"] {
                let mut filters = Vec::new();
                for filter in positions(&form[which]) {
                    let clauses: Vec<Value> = positions(&filter["all"])
                        .into_iter()
                        .filter_map(|clause| {
                            let field = filled(&clause["field"])?;
                            let op = filled(&clause["op"]).unwrap_or_else(|| "equals".into());
                            let value = clause["value"].as_str().unwrap_or("").trim().to_string();
                            let value = match op.as_str() {
                                "in" | "not_in" => list_of(&value),
                                "is_empty" | "is_not_empty" => Value::Null,
                                _ => json!(value),
                            };
                            let mut clause = json!({ "field": field, "op": op });
                            if !value.is_null() {
                                clause["value"] = value;
                            }
                            Some(clause)
                        })
                        .collect();
                    if clauses.is_empty() {
                        continue;
                    }
                    let mut filter_config = json!({ "all": clauses });
                    if let Some(name) = filled(&filter["name"]) {
                        filter_config["name"] = json!(name);
                    }
                    filters.push(filter_config);
                }
                if !filters.is_empty() {
                    config.insert(which.to_string(), Value::Array(filters));
                }
            }
            keep(&mut config, "time_zone");
        }
        "team-map" => {
            let teams: Vec<Value> = positions(&form["teams"])
                .into_iter()
                .filter_map(|team| {
                    let name = filled(&team["name"])?;
                    let mut team_config = json!({ "name": name });
                    if let Some(field) = filled(&team["only_field"]) {
                        let values = team["only_values"].as_str().unwrap_or("");
                        team_config["only"] = json!({ field: list_of(values) });
                    }
                    Some(team_config)
                })
                .collect();
            config.insert("teams".into(), Value::Array(teams));
            if form["replace"] == "on" {
                config.insert("replace".into(), json!(true));
            }
        }
        "attribute-map" => {
            let rows: Vec<Value> = positions(&form["attributes"])
                .into_iter()
                .filter_map(|row| {
                    let target = filled(&row["target"])?;
                    let mut mapping = json!({ "target": target });
                    for key in ["from", "template", "value", "default"] {
                        if let Some(text) = filled(&row[key]) {
                            mapping[key] = json!(text);
                        }
                    }
                    if row["only_on_create"] == "on" {
                        mapping["only_on_create"] = json!(true);
                    }
                    Some(mapping)
                })
                .collect();
            config.insert("attributes".into(), Value::Array(rows));
        }
        "script-rule" => {
            config.insert(
                "script".into(),
                json!(form["script"].as_str().unwrap_or("").replace("\r\n", "\n")),
            );
            keep(&mut config, "time_zone");
            // What the editor does not show stays as it was.
            for key in ["max_operations", "time_limit_ms"] {
                if let Some(value) = installation.config.get(key) {
                    config.insert(key.into(), value.clone());
                }
            }
        }
        _ => return Ok(installation.config.clone()),
    }
    Ok(Value::Object(config))
}

/// The merge patch (RFC 7396) that turns `before` into `after`: keys gone
/// are `null`, objects are patched key by key, anything else replaced.
fn merge_patch(before: &Value, after: &Value) -> Value {
    match (before.as_object(), after.as_object()) {
        (Some(old), Some(new)) => {
            let mut patch = serde_json::Map::new();
            for key in old.keys().filter(|k| !new.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            for (key, value) in new {
                match old.get(key) {
                    Some(previous) if previous == value => {}
                    Some(previous) if previous.is_object() && value.is_object() => {
                        patch.insert(key.clone(), merge_patch(previous, value));
                    }
                    _ => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            Value::Object(patch)
        }
        _ => after.clone(),
    }
}

async fn rule_installations(state: &AppState, signed: &Signed, integration: &Integration) -> Result<Vec<Installation>> {
    let mut all = installations(state, signed).await?;
    Ok(integration.rules.iter().filter_map(|id| all.remove(id)).collect())
}

/// Starts each drafted rule with its draft config (as a run would): a
/// config the schema refuses, or a script that does not compile, is named
/// here, by rule, before anything is planned.
async fn check_drafts(state: &AppState, signed: &Signed, drafts: &mut [RuleDraft<'_>]) {
    for rule in drafts.iter_mut().filter(|r| r.error.is_none()) {
        let setup = state
            .control
            .drafted_setup(
                &signed.who.tenant,
                &format!("rules[{}]", rule.index),
                &rule.installation.id,
                Some(&rule.config),
            )
            .await;
        let setup = match setup {
            Ok(setup) => setup,
            Err(error) => {
                rule.error = Some(error.to_string());
                continue;
            }
        };
        let probe = tokio::task::spawn_blocking(move || setup.plugin.probe(&setup.sandbox)).await;
        match probe {
            Ok(probe) => rule.error = probe.outcome.err().map(|e| e.to_string()),
            Err(joined) => rule.error = Some(format!("the check stopped unexpectedly: {joined}")),
        }
    }
}

fn rules_page(
    signed: &Signed,
    integration: &Integration,
    drafts: &[RuleDraft],
    notice: Option<&str>,
    preview: Option<Markup>,
) -> Markup {
    let write = signed.who.role >= Role::Admin;
    let action = format!("/integrations/{}/rules", integration.id);
    let content = html! {
        (tabs(integration, "Rules"))
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        @if drafts.is_empty() {
            p.empty { "This integration has no rules: everyone the HR system returns is in scope, with the target's default attributes." }
        } @else {
            form method="post" action=(action) {
                (csrf_field(signed))
                @for rule in drafts { (editor(rule)) }
                div.actions.sticky {
                    button type="submit" name="do" value="preview" hx-post=(action) hx-target="#preview" hx-select="#preview" hx-swap="outerHTML" { "Preview" }
                    @if write { button.primary type="submit" name="do" value="apply" { "Apply" } }
                    span.hint {
                        "Preview runs the draft against the HR system and the app without writing anything."
                        @if write { " Apply saves it; a rule installation used by other integrations changes for them too." }
                        @else { " Viewers may preview drafts; saving them takes an admin." }
                    }
                }
            }
        }
        (preview.unwrap_or_else(|| html! { div #preview {} }))
    };
    layout(signed, Section::Integrations, &integration.name, content)
}

pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<super::integrations::Notice>,
) -> Result<Markup> {
    let integration = visible(&state, &signed, &id).await?;
    let installations = rule_installations(&state, &signed, &integration).await?;
    let drafts: Vec<RuleDraft> = installations
        .iter()
        .enumerate()
        .map(|(index, installation)| RuleDraft {
            index,
            installation,
            config: installation.config.clone(),
            error: None,
        })
        .collect();
    let notice = (query.done.as_deref() == Some("saved")).then_some("Saved: the next run uses these rules.");
    Ok(rules_page(&signed, &integration, &drafts, notice, None))
}

/// Preview (`do=preview`) or apply (`do=apply`) the drafted rules.
pub async fn act(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response> {
    let integration = visible(&state, &signed, &id).await?;
    // Checking the drafts starts every rule, and examples read HR: a run's
    // worth of work, counted like one.
    crate::api::quota::run(&state, &signed.who.tenant).await?;
    let installations = rule_installations(&state, &signed, &integration).await?;
    let tree = tree(&form);
    let empty = json!({});
    let mut drafts: Vec<RuleDraft> = installations
        .iter()
        .enumerate()
        .map(|(index, installation)| {
            let (config, error) = match config_of(installation, tree.get(&index).unwrap_or(&empty)) {
                Ok(config) => (config, None),
                Err(error) => (installation.config.clone(), Some(error)),
            };
            RuleDraft {
                index,
                installation,
                config,
                error,
            }
        })
        .collect();
    check_drafts(&state, &signed, &mut drafts).await;
    let apply = form.iter().any(|(k, v)| k == "do" && v == "apply");
    if drafts.iter().any(|r| r.error.is_some()) {
        let note = html! {
            div #preview {
                (page::error_note("A rule is not valid; nothing was run or saved."))
                ul.errors { @for rule in drafts.iter().filter(|r| r.error.is_some()) {
                    li { a href=(format!("#rule-{}", rule.index)) { (rule.index + 1) ". " (rule.installation.name) } ": " (rule.error.as_deref().unwrap_or("")) }
                } }
            }
        };
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            rules_page(&signed, &integration, &drafts, None, Some(note)),
        )
            .into_response());
    }
    if apply {
        let mut saved: Vec<String> = Vec::new();
        for rule in drafts.iter_mut() {
            let patch = merge_patch(&rule.installation.config, &rule.config);
            if patch.as_object().is_some_and(serde_json::Map::is_empty) {
                continue;
            }
            let change = crate::api::plugins::InstallationChange {
                version: None,
                config: Some(patch),
                secrets: BTreeMap::new(),
                allowed_hosts: None,
            };
            if let Err(error) = crate::api::plugins::change_installation(
                State(state.clone()),
                signed.who.clone(),
                crate::api::Path(rule.installation.id.clone()),
                crate::api::Json(change),
            )
            .await
            {
                rule.error = Some(page::explain(error).1);
                let message = if saved.is_empty() {
                    "Nothing was saved: see the message at the rule.".to_string()
                } else {
                    format!(
                        "Saved: {}. Not saved from here on: see the message at the rule.",
                        saved.join(", ")
                    )
                };
                let note = html! { div #preview { (page::error_note(&message)) } };
                return Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    rules_page(&signed, &integration, &drafts, None, Some(note)),
                )
                    .into_response());
            }
            saved.push(rule.installation.name.clone());
        }
        return Ok(see_other(&format!("/integrations/{id}/rules?done=saved")));
    }
    let configs: BTreeMap<String, Value> = drafts
        .iter()
        .map(|r| (r.installation.id.clone(), r.config.clone()))
        .collect();
    let section = preview_section(&state, &signed, &integration, json!({ "configs": configs })).await?;
    Ok(rules_page(&signed, &integration, &drafts, None, Some(section)).into_response())
}

/// The what-if of a draft (the API's preview) as a page section, or the
/// API's refusal in words.
pub async fn preview_section(
    state: &AppState,
    signed: &Signed,
    integration: &Integration,
    draft: Value,
) -> Result<Markup> {
    let draft: api::Draft = match serde_json::from_value(draft) {
        Ok(draft) => draft,
        Err(error) => return Ok(html! { div #preview { (page::error_note(&error.to_string())) } }),
    };
    let configs = draft.configs.clone();
    let compared = api::preview(
        State(state.clone()),
        signed.who.clone(),
        crate::api::Path(integration.id.clone()),
        crate::api::Json(draft),
    )
    .await;
    let compared = match compared {
        Ok(crate::api::Json(compared)) => compared,
        Err(error) => {
            let (_, message) = page::explain(error);
            return Ok(html! { div #preview { (page::error_note(&format!("The preview failed: {message}"))) } });
        }
    };
    let examples = examples(state, signed, integration, &configs).await;
    Ok(render_what_if(&compared, examples))
}

/// The first employees of the HR system through the draft rules: their
/// teams and attributes, as examples of what the templates make.
async fn examples(
    state: &AppState,
    signed: &Signed,
    integration: &Integration,
    configs: &BTreeMap<String, Value>,
) -> Option<Vec<crate::api::integrations::TriedEmployee>> {
    let job = state
        .control
        .prepare_drafted(&signed.who.tenant, integration, configs)
        .await
        .ok()?;
    let tried = tokio::task::spawn_blocking(move || job.try_first(5)).await.ok()?.ok()?;
    Some(tried.into_iter().map(Into::into).collect())
}

fn render_what_if(compared: &WhatIf, examples: Option<Vec<crate::api::integrations::TriedEmployee>>) -> Markup {
    html! {
        section.card #preview aria-label="Preview" {
            h2 { "Preview" }
            p { "Read " (compared.employees_read) " employees. Nothing was written and nothing is saved until you apply." }
            h3 { "What a run would do now" }
            @if compared.plan_counts.is_empty() {
                p { "No changes: the app is in step." }
            } @else {
                ul.counts { @for (kind, n) in &compared.plan_counts { li { strong { (n) } " " (page::words(kind)) } } }
            }
            @if let Some(examples) = &examples {
                h3 { "Examples from your employees" }
                table {
                    caption.visually-hidden { "The first employees through the draft rules" }
                    thead { tr { th scope="col" { "Employee" } th scope="col" { "Outcome" } th scope="col" { "Teams" } th scope="col" { "Attributes" } } }
                    tbody {
                        @for e in examples {
                            tr {
                                td { (e.name.as_deref().unwrap_or(&e.hr_id)) div.muted { (e.hr_id) } }
                                td { (badge(e.outcome.as_deref().unwrap_or("—"))) @if let Some(r) = &e.reason { div.reason { (r) } } }
                                td { (e.teams.join(", ")) }
                                td { @for (k, v) in &e.attributes { div { code { (k) } " " (v) } } }
                            }
                        }
                    }
                }
            }
            h3 { "Difference to the current rules" }
            @if compared.differences.is_empty() && compared.teams_only_draft.is_empty() && compared.teams_only_current.is_empty() {
                p { "None: the draft treats every employee as the current rules do." }
            } @else {
                ul.counts {
                    @for (aspect, n) in &compared.counts { li { strong { (n) } " " (aspect.label()) } }
                }
                @if !compared.teams_only_draft.is_empty() { p { "Teams only the draft creates: " strong { (compared.teams_only_draft.join(", ")) } } }
                @if !compared.teams_only_current.is_empty() { p { "Teams only the current rules create: " (compared.teams_only_current.join(", ")) } }
                table.diff {
                    caption.visually-hidden { "Employees the draft treats differently" }
                    thead { tr { th scope="col" { "Employee" } th scope="col" { "Now" } th scope="col" { "With the draft" } th scope="col" { "Changes" } } }
                    tbody {
                        @for d in &compared.differences {
                            tr {
                                td { (d.hr_id) div.muted { (d.aspects.iter().map(|a| a.label()).collect::<Vec<_>>().join(", ")) } }
                                td { (d.current) }
                                td { (d.draft) }
                                td {
                                    @for change in &d.only_current { div.removed { "− " (change) } }
                                    @for change in &d.only_draft { div.added { "+ " (change) } }
                                }
                            }
                        }
                    }
                }
            }
            @if !compared.plan.is_empty() {
                details {
                    summary { "Every planned change" @if compared.plan.len() == PLAN_SHOWN { " (the first " (PLAN_SHOWN) ")" } }
                    table {
                        caption.visually-hidden { "Planned changes" }
                        thead { tr { th scope="col" { "Employee" } th scope="col" { "Change" } } }
                        tbody { @for p in &compared.plan { tr { td { (p.hr_id.as_deref().unwrap_or("—")) } td { (p.summary) } } } }
                    }
                }
            }
        }
    }
}

/// The preview of a draft of the options, as a page of its own.
pub async fn preview_response(
    state: &AppState,
    signed: &Signed,
    integration: &Integration,
    draft: Value,
) -> Result<Response> {
    let section = preview_section(state, signed, integration, draft).await?;
    let content = html! {
        (tabs(integration, "Overview"))
        p { a href=(format!("/integrations/{}", integration.id)) { "Back to the options" } " — the draft was not saved." }
        (section)
    };
    Ok(layout(signed, Section::Integrations, &integration.name, content).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installation(plugin: &str) -> Installation {
        Installation {
            id: "ins_1".into(),
            mode: hrsync_store::tenants::Mode::Live,
            name: "Rule".into(),
            plugin: plugin.into(),
            version: "1.0.0".into(),
            previous_version: None,
            config: json!({}),
            secrets: vec![],
            allowed_hosts: vec![],
            created_at: 0,
            updated_at: 0,
            sealed_secrets: BTreeMap::new(),
        }
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn scope_rows_become_filters_and_empty_rows_are_left_out() {
        let tree = tree(&form(&[
            ("r0.exclude.0.name", "externals"),
            ("r0.exclude.0.all.0.field", "employment_type"),
            ("r0.exclude.0.all.0.op", "in"),
            ("r0.exclude.0.all.0.value", "external, contractor"),
            ("r0.exclude.0.all.1.field", ""),
            ("r0.exclude.0.all.1.op", "equals"),
            ("r0.exclude.1.all.0.field", ""),
            ("r0.include.0.all.0.field", "status"),
            ("r0.include.0.all.0.op", "is_not_empty"),
            ("r0.include.0.all.0.value", "ignored"),
        ]));
        let config = config_of(&installation("scope-rule"), &tree[&0]).unwrap();
        assert_eq!(
            config,
            json!({
                "exclude": [{ "name": "externals", "all": [{ "field": "employment_type", "op": "in", "value": ["external", "contractor"] }] }],
                "include": [{ "all": [{ "field": "status", "op": "is_not_empty" }] }]
            })
        );
    }

    #[test]
    fn team_rows_keep_their_order_past_ten() {
        let mut pairs = Vec::new();
        for t in 0..12 {
            pairs.push((format!("r1.teams.{t}.name"), format!("Team {t}")));
        }
        pairs.push(("r1.teams.3.only_field".into(), "department".into()));
        pairs.push(("r1.teams.3.only_values".into(), "IT, HR".into()));
        let tree = tree(&pairs);
        let config = config_of(&installation("team-map"), &tree[&1]).unwrap();
        let names: Vec<&str> = config["teams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names[10], "Team 10");
        assert_eq!(names[2], "Team 2");
        assert_eq!(config["teams"][3]["only"], json!({ "department": ["IT", "HR"] }));
    }

    #[test]
    fn a_json_config_that_does_not_parse_names_line_and_column() {
        let tree = tree(&form(&[("r0.json", "{\n  \"a\": 1,\n  oops\n}")]));
        let error = config_of(&installation("python-rule"), &tree[&0]).unwrap_err();
        assert!(error.contains("line 3, column 3"), "{error}");
    }

    #[test]
    fn a_key_deeper_than_any_editor_is_ignored() {
        let deep = format!("r0{}", ".a".repeat(100_000));
        let tree = tree(&form(&[(deep.as_str(), "x"), ("r0.script", "fn teams(e) { [] }")]));
        assert_eq!(tree[&0], json!({ "script": "fn teams(e) { [] }" }));
    }

    #[test]
    fn a_config_the_form_cannot_show_is_edited_as_json() {
        let two_conditions =
            json!({ "teams": [{ "name": "T", "only": { "department": ["IT"], "office": ["Berlin"] } }] });
        assert!(!fits_form("team-map", &two_conditions));
        assert!(fits_form(
            "team-map",
            &json!({ "teams": [{ "name": "T", "only": { "department": ["IT", "HR"] } }] })
        ));
        assert!(!fits_form(
            "scope-rule",
            &json!({ "exclude": [{ "all": [{ "field": "level", "op": "equals", "value": 3 }] }] })
        ));
        assert!(fits_form(
            "scope-rule",
            &json!({ "exclude": [{ "name": "x", "all": [{ "field": "t", "op": "in", "value": ["a", "b"] }] }] })
        ));
        let rule = RuleDraft {
            index: 0,
            installation: &installation("team-map"),
            config: two_conditions,
            error: None,
        };
        assert!(editor(&rule).into_string().contains("r0.json"));
    }

    #[test]
    fn the_merge_patch_removes_what_the_draft_dropped() {
        let before = json!({ "include": [1], "exclude": [2], "time_zone": "UTC" });
        let after = json!({ "exclude": [3], "time_zone": "UTC" });
        assert_eq!(merge_patch(&before, &after), json!({ "include": null, "exclude": [3] }));
        let mut patched = before.clone();
        json_patch::merge(&mut patched, &merge_patch(&before, &after));
        assert_eq!(patched, after);
    }
}
