//! hrsync: keeps the accounts of downstream apps in step with the employees
//! of HR systems, through sandboxed WebAssembly plugins.
//!
//! - [`runtime`]: the plugin sandbox — engine, component cache, WIT version
//!   checks, the capabilities plugins may import (HTTP, config and secrets,
//!   logging, clock), and typed sessions for source, target and rule plugins.
//! - [`sync`]: the sync engine, one module per step of a run.
//! - [`store`]: links, runs, run items, audit events and cursors on SQLite
//!   or PostgreSQL (sqlx, migrations in `host/migrations/`).
//! - [`api`]: the admin HTTP API of `hrsync serve` (axum, OpenAPI).
//! - [`control`]: the control plane behind it — runs under leases, the
//!   scheduler, quarantine and notifications.
//! - [`vault`]: secrets sealed at rest.
//! - [`metrics`]: Prometheus counters and histograms (`/metrics`).
//! - [`cli`]: the `hrsync` command line.
//! - [`emulators`]: provider APIs (Personio, ...) served on loopback from
//!   their public specs, for tests, benchmarks and the demo.
//! - [`bench`]: benchmarks that print their numbers.

pub mod api;
pub mod bench;
pub mod cli;
pub mod control;
pub mod emulators;
pub mod installation;
pub mod integration;
pub mod metrics;
pub mod runtime;
pub mod store;
pub mod sync;
pub mod vault;
