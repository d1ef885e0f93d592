//! The wall clock (`clock` in wit/host.wit): the one piece of the outside
//! world every plugin gets, read-only, with the integration's time zone.

use wasmtime::component::{HasSelf, Linker};

use super::{Capability, SessionContext};
use crate::bindings::v1::{clock, types};
use crate::state::PluginState;

/// The time is the host's; the zone the integration's.
pub struct Clock {
    time_zone: String,
}

impl Capability for Clock {
    fn link(linker: &mut Linker<PluginState>, get: fn(&mut PluginState) -> &mut Self) -> wasmtime::Result<()> {
        clock::add_to_linker::<_, HasSelf<Clock>>(linker, get)?;
        // The shared records' interface has no functions, but components
        // import it; it is linked with the clock, the one capability every
        // world has.
        types::add_to_linker::<_, HasSelf<Clock>>(linker, get)
    }

    fn prepare(context: &SessionContext<'_>) -> Self {
        Clock {
            time_zone: context.sandbox.time_zone.clone().unwrap_or_else(|| "UTC".to_string()),
        }
    }
}

impl clock::Host for Clock {
    fn now_millis(&mut self) -> u64 {
        hrsync_model::clock::now_ms().max(0) as u64
    }

    fn time_zone(&mut self) -> String {
        self.time_zone.clone()
    }
}

impl types::Host for Clock {}
