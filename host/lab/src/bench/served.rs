//! `hrsync serve`'s application on loopback in this process, and a small
//! JSON client of its admin API, for the benchmarks that go through it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use hrsync_runtime::{Runtime, RuntimeOptions};
use hrsync_server::api::{serve_in_background, ApiSettings, AppState};
use hrsync_server::control::notify::Notifier;
use hrsync_server::control::Control;
use hrsync_server::vault::{random_bytes, to_hex, Vault};
use hrsync_store::Store;

pub const OPERATOR: &str = "bench-operator";

pub fn call(base: &str, key: &str, path: &str, body: Option<&[u8]>, content_type: &str) -> Result<Value, String> {
    let request = ureq::post(&format!("{base}{path}")).set("authorization", &format!("Bearer {key}"));
    let response = match body {
        Some(body) => request.set("content-type", content_type).send_bytes(body),
        None => request.call(),
    }
    .map_err(|e| format!("POST {path}: {e}"))?;
    let text = response.into_string().map_err(|e| format!("POST {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("POST {path}: {e}"))
}

pub fn post(base: &str, key: &str, path: &str, body: Value) -> Result<Value, String> {
    call(base, key, path, Some(body.to_string().as_bytes()), "application/json")
}

/// The admin API on loopback, in this process; it stops when the returned
/// sender is dropped.
pub fn serve(
    cache: &std::path::Path,
    database: &str,
    settings: ApiSettings,
) -> Result<(String, tokio::sync::watch::Sender<bool>), String> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.to_path_buf()),
        ..RuntimeOptions::default()
    })
    .map_err(|e| e.to_string())?;
    let store = tokio.block_on(Store::connect(database)).map_err(|e| e.to_string())?;
    let key = to_hex(&random_bytes::<32>().map_err(|e| e.to_string())?);
    let vault = Vault::from_hex_key(&key).map_err(|e| e.to_string())?;
    // The emulators listen on loopback, which tenants reach only when the
    // operator allows it.
    let loopback = hrsync_runtime::EgressAllowance::parse(&["127.0.0.1"])?;
    let control = Arc::new(Control::new(store, Arc::new(runtime), vault, Notifier::default()).with_egress(loopback));
    let state = AppState::new(control, Some(OPERATOR), settings);
    let (addr, stop) = serve_in_background(tokio, state, Duration::from_secs(1)).map_err(|e| e.to_string())?;
    Ok((format!("http://{addr}"), stop))
}
