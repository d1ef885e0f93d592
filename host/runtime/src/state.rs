//! The data of one store: what a plugin instance may touch, and the limits it
//! runs under. One store serves one session (a call or a whole run).

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::capability::config::ConfigAccess;
use super::capability::fields::FieldReports;
use super::capability::http::{HttpPolicy, OutboundHttp};
use super::capability::log::PluginLog;

/// Who is running: used to attribute logs and HTTP calls.
#[derive(Debug, Clone)]
pub struct Identity {
    pub plugin: Arc<str>,
    pub run: Option<Arc<str>>,
}

/// The wall-clock budget of the call in progress. The epoch ticker enforces
/// it inside wasm; host calls (HTTP) shorten their timeouts to fit in it.
#[derive(Debug, Clone, Copy)]
pub struct CallDeadline {
    started: Instant,
    budget: Duration,
}

impl CallDeadline {
    pub fn start(budget: Duration) -> Self {
        Self {
            started: Instant::now(),
            budget,
        }
    }
    pub fn time_left(&self) -> Duration {
        self.budget.saturating_sub(self.started.elapsed())
    }
}

/// Caps the memory and tables of a store, and remembers when a plugin hit
/// the memory cap so the resulting trap can be explained.
#[derive(Debug)]
pub struct Limiter {
    pub memory_bytes: usize,
    pub table_elements: usize,
    pub memory_cap_hit: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_cap_hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements)
    }
}

pub struct PluginState {
    pub identity: Identity,
    pub config: ConfigAccess,
    pub http: OutboundHttp,
    pub log: PluginLog,
    pub fields: FieldReports,
    pub limiter: Limiter,
    pub deadline: CallDeadline,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl PluginState {
    pub fn new(identity: Identity, config: ConfigAccess, http: Arc<HttpPolicy>, memory_bytes: usize) -> Self {
        // WASI with nothing granted: no preopens, env, args or sockets; stdio
        // goes nowhere.
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            http: OutboundHttp::new(http, identity.clone()),
            identity,
            config,
            log: PluginLog::default(),
            fields: FieldReports::default(),
            limiter: Limiter {
                memory_bytes,
                table_elements: 1 << 20,
                memory_cap_hit: false,
            },
            deadline: CallDeadline::start(Duration::ZERO),
            wasi,
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
