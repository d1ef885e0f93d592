use std::time::{SystemTime, UNIX_EPOCH};

use crate::runtime::bindings::clock::Host;
use crate::runtime::state::PluginState;

impl Host for PluginState {
    fn now_millis(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// The shared records have no functions; the trait is empty.
impl crate::runtime::bindings::types::Host for PluginState {}
