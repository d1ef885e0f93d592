//! The data of one store: the session's capabilities, the limits it runs
//! under, and WASI with nothing granted. One store serves one session (a
//! call or a whole run). Nothing here is public: sessions (`plugin.rs`) read
//! what a plugin did through the methods below.

use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::output::GuestOutput;

use super::capability::config::Redactor;
use super::capability::fields::FieldReports;
use super::capability::http::HttpLedger;
use super::capability::log::LogLine;
use super::capability::{Capabilities, SessionContext};

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
    memory_bytes: usize,
    table_elements: usize,
    memory_cap_hit: bool,
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
    pub(crate) capabilities: Capabilities,
    limiter: Limiter,
    wasi: WasiCtx,
    table: ResourceTable,
    output: GuestOutput,
}

impl PluginState {
    pub(crate) fn new(context: &SessionContext<'_>) -> Self {
        // WASI with nothing granted: no preopens, env, args or sockets;
        // stdout and stderr are kept as evidence (`output.rs`).
        let output = GuestOutput::default();
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .stdout(output.clone())
            .stderr(output.clone())
            .build();
        Self {
            capabilities: Capabilities::prepare(context),
            limiter: Limiter {
                memory_bytes: context.sandbox.limits.memory_bytes,
                table_elements: 1 << 20,
                memory_cap_hit: false,
            },
            wasi,
            table: ResourceTable::new(),
            output,
        }
    }

    /// What the plugin printed since the last call to this, secrets masked.
    pub(crate) fn take_output(&self) -> String {
        let printed = self.output.take();
        if printed.is_empty() {
            return printed;
        }
        self.redactor().redact(&printed)
    }

    pub(crate) fn limiter(&mut self) -> &mut Limiter {
        &mut self.limiter
    }

    /// A call into the plugin starts, with this budget.
    pub(crate) fn call_started(&mut self, budget: Duration) {
        self.capabilities.call_started(CallDeadline::start(budget));
    }

    pub(crate) fn memory_cap_hit(&self) -> bool {
        self.limiter.memory_cap_hit
    }

    pub(crate) fn redactor(&self) -> &Redactor {
        self.capabilities.config.redactor()
    }

    pub(crate) fn http_ledger(&self) -> &HttpLedger {
        &self.capabilities.http.ledger
    }

    pub(crate) fn field_reports(&self) -> &FieldReports {
        self.capabilities.fields.reports()
    }

    pub(crate) fn log_lines(&self) -> impl Iterator<Item = &LogLine> {
        self.capabilities.log.lines()
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
