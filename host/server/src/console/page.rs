//! The console's frame: the layout every page shares (navigation, the
//! test-mode banner, the sign-out form), the security headers of every
//! response, and the assets compiled into the binary.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::session::Signed;
use hrsync_store::tenants::{Mode, Role};

/// htmx, vendored at a pinned version (from the npm package `htmx.org`).
const HTMX: &str = include_str!("../../assets/htmx-2.0.8.min.js");
const CSS: &str = include_str!("../../assets/console.css");
const SCRIPT: &str = include_str!("../../assets/console.js");

/// Scripts and styles come from this server only, no inline script (htmx
/// is told not to evaluate any), no frames around the console.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; \
                   frame-ancestors 'none'";

/// htmx without inline styles (the CSP forbids them) or `eval`.
/// A 422 (a form the API refused) is swapped in like a success: it is the
/// page with the errors next to their fields.
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0,"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"422","swap":true},{"code":"[45]..","swap":false,"error":true}]}"#;

/// The security headers of every console response.
pub async fn secured(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Pages show tenant data: not kept by the browser or a proxy.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

pub async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "htmx-2.0.8.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

pub(super) fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="htmx-config" content=(HTMX_CONFIG);
            link rel="icon" href="data:,";
            title { (title) }
            link rel="stylesheet" href="/assets/console.css";
            script src="/assets/htmx-2.0.8.min.js" defer {}
            script src="/assets/console.js" defer {}
        }
    }
}

/// A page outside a session: sign-in, errors.
pub fn bare(title: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main {
                    h1 { "hrsync" }
                    p.error role="alert" { (message) }
                    p { a href="/integrations" { "Back to the console" } }
                }
            }
        }
    }
}

/// Which part of the navigation a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Integrations,
    Plugins,
    Members,
    Audit,
}

/// A page of the console: the navigation, the member and their tenant,
/// a coloured banner in test mode, then `content`.
pub fn layout(signed: &Signed, section: Section, title: &str, content: Markup) -> Markup {
    let link = |to: &str, label: &str, this: Section| {
        html! {
            a href=(to) aria-current=[(section == this).then_some("page")] { (label) }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(&format!("{title} — hrsync")))
            body hx-headers=(format!(r#"{{"x-csrf-token":"{}"}}"#, signed.csrf)) {
                @if signed.who.mode == Mode::Test {
                    div.test-banner role="status" {
                        "Test mode: you see test installations and integrations only; nothing here touches live data."
                    }
                }
                header.top {
                    a.brand href="/integrations" { "hrsync" }
                    nav aria-label="Main" {
                        (link("/integrations", "Integrations", Section::Integrations))
                        (link("/plugins", "Plugins", Section::Plugins))
                        @if signed.who.role == Role::Owner && signed.who.mode == Mode::Live {
                            (link("/members", "Members and keys", Section::Members))
                        }
                        @if signed.who.mode == Mode::Live {
                            (link("/audit", "Audit log", Section::Audit))
                        }
                    }
                    div.who {
                        span { (signed.tenant_name) " · " (signed.who.email) " · " (signed.who.role.as_str()) }
                        form method="post" action="/sign-out" {
                            (csrf_field(signed))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (content)
                }
                aside #panel {}
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(signed: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(signed.csrf); }
}

/// A one-button form that POSTs to `action`.
pub fn button_form(signed: &Signed, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(signed))
            button type="submit" class=(class) { (label) }
        }
    }
}

/// An error from the API as a sentence next to what it names.
pub fn error_note(message: &str) -> Markup {
    html! { p.error role="alert" { (message) } }
}

/// The words of an API error and the field it names, for a form.
pub fn explain(error: crate::api::error::ApiError) -> (Option<String>, String) {
    (error.field(), error.public_message())
}

/// A time (ms since the epoch) in UTC, to the minute.
pub fn time(ms: i64) -> Markup {
    let text = chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "—".into());
    let machine = chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    html! { time datetime=(machine) { (text) } }
}

/// A duration in words: `850 ms`, `12 s`, `3 min 5 s`.
pub fn duration(ms: i64) -> String {
    match ms {
        ms if ms < 1000 => format!("{ms} ms"),
        ms if ms < 60_000 => format!("{} s", ms / 1000),
        ms => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// A count's key in words: `create-account` → `create account`,
/// `employees_read` → `employees read`.
pub fn words(key: &str) -> String {
    key.replace(['-', '_'], " ")
}

/// A run's or integration's status as a coloured badge.
pub fn badge(status: &str) -> Markup {
    let tone = match status {
        "succeeded" | "active" | "done" | "dry-run" | "planned" | "linked-existing" => "good",
        "failed" | "paused" | "interrupted" | "conflict" => "bad",
        "partial" | "succeeded-with-rejections" | "rejected" | "skipped" | "held" => "warn",
        "running" | "queued" => "busy",
        _ => "plain",
    };
    html! { span class=(format!("badge {tone}")) { (status) } }
}

/// Whether the request came from htmx (it asks for a fragment).
pub fn is_htmx(headers: &axum::http::HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == "true")
}
