use std::time::{SystemTime, UNIX_EPOCH};

use crate::bindings::v1::clock::Host;
use crate::state::PluginState;

impl Host for PluginState {
    fn now_millis(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// The shared records have no functions; the trait is empty.
impl crate::bindings::v1::types::Host for PluginState {}
