//! The wall clock (`clock` in wit/host.wit): the one piece of the outside
//! world every plugin gets, read-only.

use wasmtime::component::{HasSelf, Linker};

use super::{Capability, SessionContext};
use crate::bindings::v1::{clock, types};
use crate::state::PluginState;

/// Stateless: the time is the host's.
pub struct Clock;

impl Capability for Clock {
    fn link(linker: &mut Linker<PluginState>, get: fn(&mut PluginState) -> &mut Self) -> wasmtime::Result<()> {
        clock::add_to_linker::<_, HasSelf<Clock>>(linker, get)?;
        // The shared records' interface has no functions, but components
        // import it; it is linked with the clock, the one capability every
        // world has.
        types::add_to_linker::<_, HasSelf<Clock>>(linker, get)
    }

    fn prepare(_: &SessionContext<'_>) -> Self {
        Clock
    }
}

impl clock::Host for Clock {
    fn now_millis(&mut self) -> u64 {
        hrsync_model::clock::now_ms().max(0) as u64
    }
}

impl types::Host for Clock {}
