//! Provider APIs emulated on loopback, written from the providers' public
//! documents (docs/architecture.md, "The emulators"). They make end-to-end tests, benchmarks and the
//! demo real HTTP, deterministic and fast. Each runs on its own thread with
//! its own async runtime, so synchronous callers can drive it.

pub mod bamboohr;
pub mod dirty;
pub mod entra;
pub mod inbox;
pub mod leapsome;
pub mod perks;
pub mod personio;
pub mod scim;
pub mod smtp;
pub mod synthetic;
pub mod tiny;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Router;

/// Now, in milliseconds since the Unix epoch, as the providers count.
fn now_ms() -> u64 {
    hrsync_model::clock::now_ms().max(0) as u64
}

/// An error answer an emulator gives on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub status: u16,
    pub retry_after_secs: Option<u64>,
}

/// Faults queued by a test: each one skips that many requests, then fails one.
#[derive(Debug, Default)]
pub struct Faults(VecDeque<(u64, Fault)>);

impl Faults {
    pub fn push(&mut self, skip: u64, fault: Fault) {
        self.0.push_back((skip, fault));
    }

    /// Called once per request: the fault to answer with, if its turn came.
    /// `body` renders the provider's error format for a status.
    pub fn next(&mut self, body: impl FnOnce(StatusCode) -> Response) -> Option<Response> {
        let (skip, fault) = self.0.front_mut()?;
        if *skip > 0 {
            *skip -= 1;
            return None;
        }
        let fault = *fault;
        self.0.pop_front();
        let mut response = body(StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        if let Some(value) = fault.retry_after_secs.and_then(|s| s.to_string().parse().ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        Some(response)
    }
}

/// Milliseconds every emulator of this process waits before it answers.
static LATENCY_MS: AtomicU64 = AtomicU64::new(0);

/// Makes every emulator of this process answer after `latency`, like a
/// real API across a region (the benchmarks; tests leave it at zero).
pub fn set_latency(latency: std::time::Duration) {
    LATENCY_MS.store(latency.as_millis() as u64, Ordering::Relaxed);
}

/// Per mille of the requests to every emulator of this process that fail
/// on purpose, and how long a request that "times out" is held.
static FAULT_PER_MILLE: AtomicU64 = AtomicU64::new(0);
static HOLD_MS: AtomicU64 = AtomicU64::new(0);

/// Makes `percent` of the requests to every emulator of this process fail,
/// each fault drawn at random from 429 with `Retry-After: 1`, 500, 503 and
/// a request held for `hold` before a 504 (longer than the client waits: a
/// timeout). The soak test; zero turns it off.
pub fn set_random_faults(percent: f64, hold: std::time::Duration) {
    FAULT_PER_MILLE.store((percent * 10.0).clamp(0.0, 1000.0) as u64, Ordering::Relaxed);
    HOLD_MS.store(hold.as_millis() as u64, Ordering::Relaxed);
}

/// Requests answered with a fault drawn by [`set_random_faults`].
pub fn random_faults_answered() -> u64 {
    FAULTS_ANSWERED.load(Ordering::Relaxed)
}

static FAULTS_ANSWERED: AtomicU64 = AtomicU64::new(0);

async fn delayed(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let latency = LATENCY_MS.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let per_mille = FAULT_PER_MILLE.load(Ordering::Relaxed);
    if per_mille > 0 && fastrand::u64(0..1000) < per_mille {
        FAULTS_ANSWERED.fetch_add(1, Ordering::Relaxed);
        let status = match fastrand::u8(0..4) {
            0 => StatusCode::TOO_MANY_REQUESTS,
            1 => StatusCode::INTERNAL_SERVER_ERROR,
            2 => StatusCode::SERVICE_UNAVAILABLE,
            _ => {
                let hold = HOLD_MS.load(Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_millis(hold)).await;
                StatusCode::GATEWAY_TIMEOUT
            }
        };
        let mut response = Response::new(axum::body::Body::from(format!("{{\"error\":\"{status} on purpose\"}}")));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        return response;
    }
    next.run(request).await
}

/// Serves `router` on 127.0.0.1 (a free port) on a background thread.
pub fn serve(router: Router) -> std::io::Result<SocketAddr> {
    serve_on(router, 0)
}

/// Serves `router` on 127.0.0.1:`port` (0: a free one) on a background
/// thread.
pub fn serve_on(router: Router, port: u16) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let router = router.layer(axum::middleware::from_fn(delayed));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(format!("emulator-{}", addr.port()))
        .spawn(move || {
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        if let Err(e) = axum::serve(listener, router).await {
                            tracing::error!("emulator on {addr} stopped: {e}");
                        }
                    }
                    Err(e) => tracing::error!("emulator on {addr} could not listen: {e}"),
                }
            });
        })?;
    Ok(addr)
}

/// Milliseconds since the Unix epoch for `YYYY-MM-DD` or
/// `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (the offset is applied; a time
/// without a zone is UTC), to the whole second as the providers filter.
pub fn parse_timestamp_ms(text: &str) -> Option<u64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let seconds = match DateTime::parse_from_rfc3339(text) {
        Ok(time) => time.timestamp(),
        Err(_) => match NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
            Ok(time) => time.and_utc().timestamp(),
            Err(_) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)?
                .and_utc()
                .timestamp(),
        },
    };
    u64::try_from(seconds).ok().map(|s| s * 1000)
}

/// `target/wasm32-wasip2/plugin/NAME.wasm`, where `scripts/build-plugins` puts them.
pub fn built_plugin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join("target"));
    target.join("wasm32-wasip2").join("plugin").join(format!("{name}.wasm"))
}

#[cfg(test)]
mod tests {
    use super::parse_timestamp_ms;

    #[test]
    fn parses_dates_and_offsets() {
        assert_eq!(parse_timestamp_ms("1970-01-01"), Some(0));
        assert_eq!(parse_timestamp_ms("2022-12-24T08:15:30"), Some(1_671_869_730_000));
        assert_eq!(parse_timestamp_ms("2022-12-24T08:15:30Z"), Some(1_671_869_730_000));
        assert_eq!(parse_timestamp_ms("2022-12-24T09:15:30+01:00"), Some(1_671_869_730_000));
        assert_eq!(parse_timestamp_ms("2022-12-24T08:15:30.250Z"), Some(1_671_869_730_000));
        assert_eq!(parse_timestamp_ms("yesterday"), None);
        assert_eq!(parse_timestamp_ms("2022-13-24"), None, "no month 13");
        assert_eq!(parse_timestamp_ms("1969-12-31"), None, "before the epoch");
    }
}
