//! `hrsync serve`'s library: the control plane and the admin API.
//!
//! - [`control`]: runs under leases (one per integration at a time, across
//!   processes), the scheduler, quarantine of failing integrations and the
//!   owners' notifications; it turns the catalog's installations into the
//!   engine's jobs.
//! - [`api`]: the admin HTTP API under `/api/v1` (axum, one router per
//!   resource, OpenAPI generated from the handlers), HR webhooks, metrics.
//! - [`scim`]: the inbound SCIM 2.0 endpoint identity providers push
//!   users and groups to, the source of integrations fed that way.
//! - [`console`]: the admin console at `/`, server-rendered pages for the
//!   members of a tenant that call the API's handlers.
//! - [`vault`]: secrets sealed at rest, and the keys derived from the
//!   server's secret key.

pub mod api;
pub mod console;
pub mod control;
pub mod scim;
pub mod vault;
