//! The audit log: the tenant's events newest first, filtered by actor,
//! action and date, page by page; **Verify** walks the hash chain and says
//! "intact: N events" or where it breaks.

use axum::extract::{Query, State};
use maud::{html, Markup};
use serde::Deserialize;

use super::page::{layout, time, Section};
use super::session::Signed;
use super::Result;
use crate::api::runs::{self as api, AuditQuery};
use crate::api::{AppState, Json};

#[derive(Debug, Default, Deserialize)]
pub struct AuditForm {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    /// `YYYY-MM-DD`, UTC.
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    verify: Option<String>,
}

const PAGE: i64 = 100;

/// The start of a day (`YYYY-MM-DD`, UTC) in ms; the day after when `end`.
fn day(text: &str, end: bool) -> std::result::Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)"))?;
    let date = if end { date.succ_opt().unwrap_or(date) } else { date };
    Ok(date.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()))
}

pub async fn page(State(state): State<AppState>, signed: Signed, Query(form): Query<AuditForm>) -> Result<Markup> {
    let (from, until) = (day(&form.from, false), day(&form.until, true));
    let date_error = from.as_ref().err().or(until.as_ref().err()).cloned();
    let query = AuditQuery {
        integration: None,
        before: form.before.clone(),
        actor: Some(form.actor.trim().to_string()),
        action: Some(form.action.trim().to_string()),
        from: from.unwrap_or(None),
        until: until.unwrap_or(None),
        limit: Some(PAGE),
    };
    let Json(events) = api::list_audit(State(state.clone()), signed.who.clone(), crate::api::Query(query)).await?;
    let verified = match form.verify {
        Some(_) => Some(api::verify_audit(State(state.clone()), signed.who.clone()).await?.0),
        None => None,
    };
    let next = (events.len() as i64 == PAGE)
        .then(|| events.last().map(|e| e.id.clone()))
        .flatten();
    let next_link = next.map(|before| {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("actor", &form.actor)
            .append_pair("action", &form.action)
            .append_pair("from", &form.from)
            .append_pair("until", &form.until)
            .append_pair("before", &before)
            .finish();
        format!("/audit?{query}")
    });
    let content = html! {
        form.card.inline-form method="get" action="/audit" {
            label for="actor" { "Actor" } input #actor type="text" name="actor" value=(form.actor) placeholder="anna@example.com";
            label for="action" { "Action" } input #action type="text" name="action" value=(form.action) placeholder="integration.";
            label for="from" { "From" } input #from type="date" name="from" value=(form.from);
            label for="until" { "Until" } input #until type="date" name="until" value=(form.until);
            button type="submit" { "Filter" }
            button type="submit" name="verify" value="1" { "Verify" }
        }
        @if let Some(error) = &date_error { p.error role="alert" { (error) } }
        @if let Some(check) = &verified {
            @match &check.broken {
                None => div.banner.good role="status" { "Intact: " (check.events) " events, each linked to the one before it." },
                Some(broken) => div.banner.bad role="alert" {
                    "The chain breaks" @if let Some(id) = &broken.id { " at event " code { (id) } } ": " (broken.reason)
                    " (" (check.events) " events intact before it)."
                },
            }
        }
        @if events.is_empty() { p.empty { "No events match." } } @else {
            table {
                caption.visually-hidden { "Audit events, newest first" }
                thead { tr { th scope="col" { "When" } th scope="col" { "Actor" } th scope="col" { "Action" } th scope="col" { "Integration" } th scope="col" { "Detail" } } }
                tbody {
                    @for e in &events {
                        tr {
                            td { (time(e.at)) } td { (e.actor) } td { code { (e.action) } }
                            td { @if let Some(i) = &e.integration { a href=(format!("/integrations/{i}")) { (i) } } }
                            td { details { summary { "detail" } pre { (serde_json::to_string_pretty(&e.detail).unwrap_or_default()) } } }
                        }
                    }
                }
            }
            @if let Some(link) = next_link { p { a href=(link) { "Older events" } } }
        }
    };
    Ok(layout(&signed, Section::Audit, "Audit log", content))
}
