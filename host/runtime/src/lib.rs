//! The plugin sandbox.
//!
//! ```text
//! bytes ──version::inspect──▶ WIT version + kind (rejected before compiling)
//!       ──cache────────────▶ compiled component (on disk, keyed, checked)
//!       ──engine linker────▶ InstancePre (one per plugin version)
//!       ──describe─────────▶ Manifest (validated)
//! Plugin::source/target/rule(&Sandbox) ──▶ Session: one store + instance,
//!       memory cap, per-call deadline, granted hosts, declared secrets
//! ```

pub mod bindings;
pub mod cache;
pub mod capability;
pub mod engine;
pub mod error;
pub mod exception;
mod loaded;
pub mod manifest;
pub mod output;
pub mod plugin;
pub mod state;
pub mod version;

pub use capability::config::{Secret, Secrets};
pub use capability::http::{EgressAllowance, Grant, HttpLedger, HttpPolicy, LocalReach};
pub use engine::{Runtime, RuntimeOptions};
pub use error::{CallError, LoadError};
pub use manifest::{ConfigError, Manifest};
pub use plugin::{Limits, Plugin, Probe, RuleSession, Sandbox, SourceSession, TargetSession};
