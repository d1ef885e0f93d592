//! Signing in to the console: a member gives an API key once and gets a
//! server-side session (the cookie holds a random token, the database its
//! hash; `host/store/src/tenants.rs`). The cookie is HttpOnly and
//! SameSite=Strict, and Secure behind TLS. A session ends after
//! [`SESSION_TTL_MS`], when its member signs out, or when its key is
//! revoked or its member removed.
//!
//! Every form carries a CSRF token derived from the session's token (an
//! attacker who cannot read the cookie cannot compute it), checked by
//! [`csrf_guard`] before any handler runs; the sign-in form, before there
//! is a session, is guarded by a double-submit cookie.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::page::bare;
use super::{see_other, ConsoleError};
use crate::api::auth::{Principal, Via};
use crate::api::error::ApiError;
use crate::api::AppState;

/// How long a session lasts after sign-in.
pub const SESSION_TTL_MS: i64 = 8 * 3600 * 1000;
const SESSION_COOKIE: &str = "hrsync_session";
const SIGN_IN_COOKIE: &str = "hrsync_sign_in";

/// A signed-in member: who they are (the API's principal, so every rule of
/// the API applies), their tenant's name and the CSRF token of the session.
#[derive(Debug, Clone)]
pub struct Signed {
    pub who: Principal,
    pub tenant_name: String,
    pub csrf: String,
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The CSRF token of a session: a keyed hash of its secret.
fn csrf_of(session: &str) -> String {
    blake3::derive_key("hrsync console csrf v1", session.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Equal without telling by timing where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A cookie for this console; Secure when the request came over TLS (a
/// proxy in front says so with `X-Forwarded-Proto: https`).
fn set_cookie(headers: &HeaderMap, name: &str, value: &str, max_age_s: i64) -> HeaderValue {
    let tls = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let secure = if tls { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("hrsync_invalid=1"))
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        // htmx asks for a fragment: it is told to load the sign-in page
        // instead of putting it where the fragment goes.
        let signed_out = if super::page::is_htmx(&parts.headers) {
            ConsoleError::SignInFromHtmx
        } else {
            ConsoleError::SignIn
        };
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(signed_out);
        };
        let store = &state.control.store;
        let owner = store.session_owner(secret).await?.ok_or(signed_out)?;
        let tenant_name = store
            .tenant(&owner.tenant_id)
            .await?
            .map(|t| t.name)
            .unwrap_or_default();
        Ok(Signed {
            who: Principal::of(owner, Via::Console),
            tenant_name,
            csrf: csrf_of(secret),
        })
    }
}

/// Refuses a POST whose CSRF token is not the session's: from the
/// `x-csrf-token` header (htmx) or the `csrf` field of a form. The upload
/// (multipart) checks its first field itself, before it reads the file;
/// signing in has its own check. Without a session the handler decides
/// (it sends the browser to sign in).
pub async fn csrf_guard(State(_state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if request.method() == Method::GET
        || request.method() == Method::HEAD
        || path == "/sign-in"
        || path == "/plugins/upload"
    {
        return next.run(request).await;
    }
    let Some(secret) = cookie(request.headers(), SESSION_COOKIE).map(str::to_string) else {
        return next.run(request).await;
    };
    let expected = csrf_of(&secret);
    let from_header = request
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (request, from_form) = match (from_header.is_some(), is_form(request.headers())) {
        (false, true) => {
            let (parts, body) = request.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, crate::api::JSON_LIMIT).await else {
                return (StatusCode::PAYLOAD_TOO_LARGE, bare("hrsync", "The form is too large.")).into_response();
            };
            let token = url::form_urlencoded::parse(&bytes)
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v.into_owned());
            (Request::from_parts(parts, axum::body::Body::from(bytes)), token)
        }
        _ => (request, None),
    };
    match from_header.or(from_form) {
        Some(token) if same(&token, &expected) => next.run(request).await,
        _ => forged(),
    }
}

/// The answer to a form without the session's CSRF token.
pub fn forged() -> Response {
    (
        StatusCode::FORBIDDEN,
        bare(
            "hrsync — refused",
            "This form did not come from your console session (its security token is missing or old). Reload the page and try again.",
        ),
    )
        .into_response()
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn sign_in_form(token: &str, error: Option<&str>) -> maud::Markup {
    html! {
        (maud::DOCTYPE)
        html lang="en" {
            (super::page::head("Sign in — hrsync"))
            body.bare {
                main {
                    h1 { "hrsync" }
                    p { "Sign in with one of your API keys. A live key (" code { "sk_live_…" } ") shows everything of your tenant; a test key (" code { "sk_test_…" } ") only its test integrations." }
                    form method="post" action="/sign-in" {
                        input type="hidden" name="token" value=(token);
                        label for="key" { "API key" }
                        input #key type="password" name="key" autocomplete="off" required
                            aria-describedby=[error.map(|_| "key-error")] aria-invalid=[error.map(|_| "true")];
                        @if let Some(error) = error {
                            p #key-error .error role="alert" { (error) }
                        }
                        button.primary type="submit" { "Sign in" }
                    }
                }
            }
        }
    }
}

/// Where a sign-in's failures count: as the API's (`api/auth.rs`).
pub struct FailureBucket(crate::api::auth::Bucket);

impl FromRequestParts<AppState> for FailureBucket {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(FailureBucket(crate::api::auth::bucket(parts, state)))
    }
}

fn random_token() -> Result<String, ApiError> {
    let bytes = crate::vault::random_bytes::<24>().map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(crate::vault::to_hex(&bytes))
}

pub async fn sign_in_page(headers: HeaderMap) -> Result<Response, ConsoleError> {
    let token = random_token()?;
    Ok((
        [(header::SET_COOKIE, set_cookie(&headers, SIGN_IN_COOKIE, &token, 3600))],
        sign_in_form(&token, None),
    )
        .into_response())
}

#[derive(serde::Deserialize)]
pub struct SignIn {
    key: String,
    token: String,
}

/// Opens a session for the key's member. Failed attempts count against
/// the address like the API's.
pub async fn sign_in(
    State(state): State<AppState>,
    FailureBucket(bucket): FailureBucket,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignIn>,
) -> Result<Response, ConsoleError> {
    let fresh = || -> Result<String, ConsoleError> { Ok(random_token()?) };
    let again = |status: StatusCode, message: &str| -> Result<Response, ConsoleError> {
        let token = fresh()?;
        Ok((
            status,
            [(header::SET_COOKIE, set_cookie(&headers, SIGN_IN_COOKIE, &token, 3600))],
            sign_in_form(&token, Some(message)),
        )
            .into_response())
    };
    if !cookie(&headers, SIGN_IN_COOKIE).is_some_and(|c| same(c, &form.token)) {
        return again(
            StatusCode::FORBIDDEN,
            "The sign-in form expired or did not come from this page; try again.",
        );
    }
    if let Some(seconds) = state.guard.locked_out(&bucket) {
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed sign-ins from this address; try again in {seconds} s."),
        );
    }
    let key = form.key.trim();
    let owner = if key.starts_with("sk_live_") || key.starts_with("sk_test_") {
        state.control.store.key_owner(key).await?
    } else {
        None
    };
    let Some(owner) = owner else {
        state.guard.failed(bucket);
        return again(
            StatusCode::UNAUTHORIZED,
            "That key is not valid or was revoked. Keys start with sk_live_ or sk_test_.",
        );
    };
    let opened = state.control.store.open_session(&owner, SESSION_TTL_MS).await?;
    let who = Principal::of(owner, Via::Console);
    state
        .audit(&who, None, "console.sign-in", serde_json::json!({}))
        .await?;
    let mut response = see_other("/integrations");
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        set_cookie(&headers, SESSION_COOKIE, &opened.secret, SESSION_TTL_MS / 1000),
    );
    cookies.append(header::SET_COOKIE, set_cookie(&headers, SIGN_IN_COOKIE, "", 0));
    Ok(response)
}

/// Ends the session: its row is deleted, the cookie cleared.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ConsoleError> {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        state.control.store.close_session(secret).await?;
    }
    let mut response = see_other("/sign-in");
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&headers, SESSION_COOKIE, "", 0));
    Ok(response)
}
