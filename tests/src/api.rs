//! `hrsync serve`'s application on loopback, in this process: the real
//! router, store, control plane and scheduler; and a small JSON client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hrsync_runtime::EgressAllowance;
use hrsync_server::api::{serve_in_background, ApiSettings, AppState};
use hrsync_server::control::notify::Notifier;
use hrsync_server::control::Control;
use hrsync_server::vault::Vault;
use hrsync_store::Store;
use serde_json::Value;

pub const OPERATOR_TOKEN: &str = "op_test_token_5b1c";
pub const SECRET_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

pub struct Server {
    pub base: String,
    pub control: Arc<Control>,
    stop: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

pub struct ServerOptions {
    /// SQLite in a temporary folder when `None`.
    pub database_url: Option<String>,
    pub notifier: Notifier,
    pub scheduler_tick: Duration,
    pub max_plugin_bytes: usize,
    /// Failed authentications per address, and of all together, per minute.
    pub max_auth_failures: usize,
    pub max_total_auth_failures: usize,
    /// `hrsync serve --egress-allow`: loopback by default, where the
    /// emulators listen.
    pub egress_allow: Vec<String>,
    /// `hrsync serve --min-schedule-interval-secs`: 1 by default, for
    /// schedules every second.
    pub min_schedule_interval_secs: u64,
    pub quotas: hrsync_server::api::quota::Quotas,
    pub metrics_plugin_names: hrsync_metrics::PluginNames,
    /// `hrsync serve --max-concurrent-runs`.
    pub max_concurrent_runs: usize,
    /// `hrsync serve --trusted-proxies`.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            database_url: None,
            notifier: Notifier::default(),
            scheduler_tick: Duration::from_millis(100),
            max_plugin_bytes: ApiSettings::default().max_plugin_bytes,
            max_auth_failures: ApiSettings::default().max_auth_failures,
            max_total_auth_failures: ApiSettings::default().max_total_auth_failures,
            egress_allow: vec!["127.0.0.1".into()],
            min_schedule_interval_secs: 1,
            quotas: hrsync_server::api::quota::Quotas::default(),
            metrics_plugin_names: hrsync_metrics::PluginNames::Shown,
            max_concurrent_runs: hrsync_server::control::default_max_concurrent_runs(),
            trusted_proxies: Vec::new(),
        }
    }
}

impl Server {
    pub fn start() -> Self {
        Self::with(ServerOptions::default())
    }

    pub fn with(options: ServerOptions) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = options
            .database_url
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("hrsync.db").display()));
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio");
        let vault = Vault::from_hex_key(SECRET_KEY).expect("vault");
        let store = tokio
            .block_on(Store::connect(&database))
            .expect("store")
            .with_audit_key(vault.audit_key());
        let egress = EgressAllowance::parse(&options.egress_allow).expect("egress allowance");
        let control = Arc::new(
            Control::new(store, crate::shared_runtime(), vault, options.notifier)
                .with_egress(egress)
                .with_max_concurrent_runs(options.max_concurrent_runs),
        );
        let state = AppState::new(
            Arc::clone(&control),
            Some(OPERATOR_TOKEN),
            ApiSettings {
                max_plugin_bytes: options.max_plugin_bytes,
                max_auth_failures: options.max_auth_failures,
                max_total_auth_failures: options.max_total_auth_failures,
                min_schedule_interval_secs: options.min_schedule_interval_secs,
                quotas: options.quotas,
                metrics_plugin_names: options.metrics_plugin_names,
                trusted_proxies: options.trusted_proxies,
            },
        );
        let (addr, stop) = serve_in_background(tokio, state, options.scheduler_tick).expect("serve");
        Self {
            base: format!("http://{addr}"),
            control,
            stop,
            _dir: dir,
        }
    }

    pub fn client(&self, key: Option<&str>) -> Client {
        Client {
            base: self.base.clone(),
            key: key.map(str::to_string),
        }
    }

    pub fn operator(&self) -> Client {
        self.client(Some(OPERATOR_TOKEN))
    }

    /// The server's SQLite file.
    pub fn database_path(&self) -> std::path::PathBuf {
        self._dir.path().join("hrsync.db")
    }

    /// Every byte the server's SQLite database holds on disk (the file and
    /// its write-ahead log), to look for what must not be stored in clear.
    pub fn database_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for name in ["hrsync.db", "hrsync.db-wal"] {
            if let Ok(mut more) = std::fs::read(self._dir.path().join(name)) {
                bytes.append(&mut more);
            }
        }
        assert!(!bytes.is_empty(), "no SQLite database in the server's folder");
        bytes
    }

    /// Creates a tenant; the owner's client.
    pub fn tenant(&self, name: &str, owner: &str) -> (Value, Client) {
        let (status, body) = self.operator().post(
            "/api/v1/tenants",
            serde_json::json!({ "name": name, "owner_email": owner }),
        );
        assert_eq!(status, 201, "{body}");
        let key = body["key"]["secret"].as_str().expect("key").to_string();
        (body, self.client(Some(&key)))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub key: Option<String>,
}

impl Client {
    /// Status and JSON body (`null` when empty); every error response must
    /// be JSON.
    pub fn call(&self, method: &str, path: &str, body: Option<&[u8]>, content_type: &str) -> (u16, Value) {
        let mut request = ureq::request(method, &format!("{}{path}", self.base)).timeout(Duration::from_secs(120));
        if let Some(key) = &self.key {
            request = request.set("authorization", &format!("Bearer {key}"));
        }
        let result = match body {
            Some(body) => request.set("content-type", content_type).send_bytes(body),
            None => request.call(),
        };
        let response = match result {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = response.status();
        let text = response.into_string().expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: {status} not JSON: {text}"))
        };
        (status, json)
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None, "")
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body.to_string().as_bytes()), "application/json")
    }

    pub fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("PATCH", path, Some(body.to_string().as_bytes()), "application/json")
    }

    pub fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("PUT", path, Some(body.to_string().as_bytes()), "application/json")
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.call("DELETE", path, None, "")
    }

    pub fn upload(&self, component: &[u8]) -> (u16, Value) {
        self.call("POST", "/api/v1/plugins", Some(component), "application/wasm")
    }

    /// The actions of the audit log (`query` as for `GET /audit`), newest
    /// first.
    pub fn audit_actions(&self, query: &str) -> Vec<String> {
        let (status, audit) = self.get(&format!("/api/v1/audit?{query}"));
        assert_eq!(status, 200, "{audit}");
        audit
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| e["action"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Polls a run until it is no longer running.
    pub fn wait_for_run(&self, run_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (status, detail) = self.get(&format!("/api/v1/runs/{run_id}"));
            assert_eq!(status, 200, "{detail}");
            if !matches!(detail["run"]["status"].as_str(), Some("running" | "queued")) {
                return detail;
            }
            assert!(Instant::now() < deadline, "run {run_id} still running");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Waits until `check` holds, at most `limit`.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}
