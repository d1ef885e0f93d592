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

/// `target/wasm32-wasip2/plugin/NAME.wasm`, where `scripts/build-plugins` puts them.
pub fn built_plugin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join("target"));
    target.join("wasm32-wasip2").join("plugin").join(format!("{name}.wasm"))
}
