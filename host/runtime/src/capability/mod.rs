//! What a plugin may import, one unit per capability (deny by default):
//! outbound HTTP, config and secrets, logging, clock, and what a plugin says
//! about employee fields. WASI is linked with
//! nothing granted: no files, no sockets, no environment, no arguments.

pub mod clock;
pub mod config;
pub mod fields;
pub mod http;
pub mod log;
