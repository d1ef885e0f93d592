//! Plugins kept loaded in memory, by content hash, so that a run does not
//! compile or even deserialize again. Bounded by the bytes of their
//! compiled code: when a new plugin would exceed the bound, the least
//! recently used ones are dropped (sessions still running keep theirs —
//! the compiled code is shared, and freed with the last session).

use std::collections::HashMap;

use super::plugin::Plugin;

pub(crate) struct LoadedPlugins {
    max_bytes: u64,
    bytes: u64,
    /// A counter, not a clock: the order of use is all that matters.
    uses: u64,
    entries: HashMap<String, Entry>,
}

struct Entry {
    plugin: Plugin,
    bytes: u64,
    last_used: u64,
}

impl LoadedPlugins {
    pub(crate) fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            bytes: 0,
            uses: 0,
            entries: HashMap::new(),
        }
    }

    pub(crate) fn get(&mut self, hash: &str) -> Option<Plugin> {
        self.uses += 1;
        let entry = self.entries.get_mut(hash)?;
        entry.last_used = self.uses;
        Some(entry.plugin.clone())
    }

    /// Keeps `plugin` (of `bytes` compiled code), dropping the least
    /// recently used until everything fits. A plugin larger than the bound
    /// is not kept.
    pub(crate) fn insert(&mut self, hash: String, plugin: Plugin, bytes: u64) {
        if bytes > self.max_bytes {
            return;
        }
        if let Some(old) = self.entries.remove(&hash) {
            self.bytes -= old.bytes;
        }
        while self.bytes + bytes > self.max_bytes {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(hash, _)| hash.clone())
            else {
                break;
            };
            if let Some(evicted) = self.entries.remove(&oldest) {
                self.bytes -= evicted.bytes;
                tracing::debug!(plugin = %evicted.plugin.manifest().name, bytes = evicted.bytes, "plugin unloaded (least recently used)");
            }
        }
        self.uses += 1;
        self.bytes += bytes;
        self.entries.insert(
            hash,
            Entry {
                plugin,
                bytes,
                last_used: self.uses,
            },
        );
    }

    /// Plugins kept, and the bytes of their compiled code.
    pub(crate) fn usage(&self) -> (usize, u64) {
        (self.entries.len(), self.bytes)
    }
}
