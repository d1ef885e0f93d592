//! Plugin logging: into `tracing` (attributed to plugin and run) and into a
//! bounded buffer the caller can read back for the run log. Secret values are
//! masked; long messages are cut.

use std::collections::VecDeque;

use wasmtime::component::{HasSelf, Linker};

use super::config::Redactor;
use super::{Capability, Identity, SessionContext};
use crate::bindings::v1::log::{self, Host, Level};
use crate::state::PluginState;

const MAX_MESSAGE_BYTES: usize = 4096;
const MAX_BUFFERED_LINES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    pub message: String,
}

/// `info`, `warn`, ... as a plugin names the level.
impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        })
    }
}

/// The last lines a plugin logged in this session.
#[derive(Debug)]
pub struct PluginLog {
    lines: VecDeque<LogLine>,
    dropped: u64,
    identity: Identity,
    redactor: Redactor,
}

impl Capability for PluginLog {
    fn link(linker: &mut Linker<PluginState>, get: fn(&mut PluginState) -> &mut Self) -> wasmtime::Result<()> {
        log::add_to_linker::<_, HasSelf<PluginLog>>(linker, get)
    }

    fn prepare(context: &SessionContext<'_>) -> Self {
        Self {
            lines: VecDeque::new(),
            dropped: 0,
            identity: context.identity.clone(),
            redactor: context.redactor.clone(),
        }
    }
}

impl PluginLog {
    pub fn lines(&self) -> impl Iterator<Item = &LogLine> {
        self.lines.iter()
    }
    /// Lines that fell out of the buffer.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
    /// What the plugin printed to stdout or stderr during a call that
    /// succeeded, as a debug line of its log (already masked).
    pub(crate) fn printed(&mut self, output: &str) {
        // The end of the output is the newest, and where a failure shows.
        let output = output.trim_end();
        let mut start = output.len().saturating_sub(MAX_MESSAGE_BYTES);
        while !output.is_char_boundary(start) {
            start += 1;
        }
        let ellipsis = if start > 0 { "…" } else { "" };
        let message = format!("printed: {ellipsis}{}", &output[start..]);
        self.push(LogLine {
            level: Level::Debug,
            message,
        });
    }

    fn push(&mut self, line: LogLine) {
        if self.lines.len() == MAX_BUFFERED_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }
}

impl Host for PluginLog {
    fn log(&mut self, level: Level, message: String) {
        let mut message = self.redactor.redact(&message);
        if message.len() > MAX_MESSAGE_BYTES {
            let mut cut = MAX_MESSAGE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let (plugin, run) = (&*self.identity.plugin, self.identity.run.as_deref().unwrap_or("-"));
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, run, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, run, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin, run, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, run, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin, run, "{message}"),
        }
        self.push(LogLine { level, message });
    }
}
