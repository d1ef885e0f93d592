//! Outbound HTTP through the host, with JSON helpers.
//!
//! Only origins the admin granted are reachable; anything else fails with
//! [`HttpError::Denied`], whose message tells the admin how to grant it.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::source::hrsync::plugin::http::{send, Request as WireRequest};
pub use crate::bindings::source::hrsync::plugin::http::{HttpError, Method};
use crate::PluginError;

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    timeout_ms: Option<u32>,
}

impl Request {
    pub fn new(method: Method, url: &str) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout_ms: None,
        }
    }
    pub fn get(url: &str) -> Self {
        Self::new(Method::Get, url)
    }
    pub fn post(url: &str) -> Self {
        Self::new(Method::Post, url)
    }
    pub fn put(url: &str) -> Self {
        Self::new(Method::Put, url)
    }
    pub fn patch(url: &str) -> Self {
        Self::new(Method::Patch, url)
    }
    pub fn delete(url: &str) -> Self {
        Self::new(Method::Delete, url)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// HTTP basic authentication (RFC 7617).
    pub fn basic(self, user: &str, password: &str) -> Self {
        let credentials = base64(format!("{user}:{password}").as_bytes());
        self.header("authorization", &format!("Basic {credentials}"))
    }

    /// A JSON body, with `content-type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, PluginError> {
        self.body = Some(serde_json::to_vec(body)?);
        Ok(self.header("content-type", "application/json"))
    }

    pub fn body(mut self, bytes: Vec<u8>) -> Self {
        self.body = Some(bytes);
        self
    }

    /// Shorter than the installation's timeout; the host never allows longer.
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// Sends the request; transport failures become typed plugin errors
    /// (denied → fatal, timeout/transport → retryable). HTTP error statuses
    /// are returned as responses: see [`Response::error_for_status`].
    pub fn send(self) -> Result<Response, PluginError> {
        self.send_raw().map_err(PluginError::from)
    }

    /// Like [`Request::send`], with the host's error as it is.
    pub fn send_raw(self) -> Result<Response, HttpError> {
        let accept = ("accept".to_string(), "application/json".to_string());
        let mut headers = self.headers;
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("accept")) {
            headers.push(accept);
        }
        let response = send(&WireRequest {
            method: self.method,
            url: self.url,
            headers,
            body: self.body,
            timeout_ms: self.timeout_ms,
        })?;
        Ok(Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }
}

impl From<HttpError> for PluginError {
    fn from(error: HttpError) -> Self {
        match error {
            HttpError::Denied(m) => PluginError::Fatal(m),
            HttpError::Timeout(m) => PluginError::retryable(m, None),
            HttpError::TooLarge(cap) => {
                PluginError::Fatal(format!("response larger than the host's cap of {cap} bytes"))
            }
            HttpError::InvalidRequest(m) => PluginError::Fatal(format!("invalid request: {m}")),
            HttpError::Transport(m) => PluginError::retryable(m, None),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| PluginError::Fatal(format!("HTTP {} response is not the expected JSON: {e}", self.status)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `Retry-After` in milliseconds (seconds form; dates are not parsed).
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| s.saturating_mul(1000))
    }

    /// The response if 2xx; otherwise the typed error its status means:
    /// 401/403 unauthorized, 404 not-found, 409 conflict, 400/422 invalid
    /// input, 429 rate-limited (with Retry-After), 5xx and 408 retryable.
    pub fn error_for_status(self) -> Result<Self, PluginError> {
        if self.is_success() {
            return Ok(self);
        }
        Err(status_error(self.status, &self.text(), self.retry_after_ms()))
    }
}

/// The typed error an HTTP status means, with `detail` (the response body,
/// cut to 500 bytes) in the message: 401/403 unauthorized, 404/410
/// not-found, 409 conflict, 400/422 invalid input, 429 rate-limited, 5xx and
/// 408 retryable. Also for statuses inside bulk responses.
pub fn status_error(status: u16, detail: &str, retry_after_ms: Option<u64>) -> PluginError {
    let mut detail = detail.trim();
    if detail.len() > 500 {
        let mut cut = 500;
        while !detail.is_char_boundary(cut) {
            cut -= 1;
        }
        detail = &detail[..cut];
    }
    let message = format!("HTTP {status}: {detail}");
    match status {
        401 | 403 => PluginError::unauthorized(message),
        404 | 410 => PluginError::not_found(message),
        409 => PluginError::conflict(message, None),
        400 | 422 => PluginError::invalid("request", message),
        429 => PluginError::rate_limited(message, retry_after_ms),
        408 | 500..=599 => PluginError::retryable(message, retry_after_ms),
        _ => PluginError::fatal(message),
    }
}

/// One GET per id (`GET /Users/{id}`, ...) through `send`, each found
/// resource parsed as `T`; ids the API answers 404 for are left out. For
/// `Target::get_accounts` on APIs without a lookup by many ids.
pub fn get_each<T: DeserializeOwned>(
    ids: &[String],
    mut send: impl FnMut(&str) -> Result<Response, PluginError>,
) -> Result<Vec<T>, PluginError> {
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        let response = send(id)?;
        if response.status == 404 {
            continue;
        }
        found.push(response.error_for_status()?.json()?);
    }
    Ok(found)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => encoded.push(byte as char),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// Standard base64 with padding (RFC 4648), for basic authentication.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod base64_tests {
    #[test]
    fn encodes_as_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("key:x", "a2V5Ong="),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), encoded);
        }
    }
}
