//! The sync engine, one module per step of a run (docs/architecture.md):
//!
//! 1. [`trigger`] — what started the run; a full or an incremental read
//! 2. claim — one active run per integration (with the scheduler)
//! 3. [`read`] — page through the [`source`]: a plugin, or a directory
//!    pushed to hrsync (inbound SCIM)
//! 4. [`rules`] — exclusion, mapping, team naming, scripts; [`fields`]
//!    stops a run whose rules need a field the source did not deliver
//! 5. [`correlate`] — links first, then matching attributes, adopt switch;
//!    one account per employee ([`identity`]: e-mails and user names,
//!    conflicts, rehires)
//! 6. [`plan`] — the diff, owned fields only, deletion threshold; a dry run
//!    stops here
//! 7. [`apply`] — batches, [`retry`] with backoff and Retry-After
//! 8. [`record`] — outcomes, counts, links, audit, cursor, through the
//!    [`storage::RunStore`] trait (implemented by `hrsync-store`)
//!
//! [`run`] ties read, rules, correlate, plan and apply together over links
//! the caller loads; [`record`] writes the outcome to the store; [`job`]
//! is one whole run of an integration against the store.
//!
//! [`installation`] and [`integration`] read the TOML files `hrsync sync`
//! runs (the operator's own integrations) into a [`job::Job`].

pub mod apply;
pub mod correlate;
pub mod fields;
pub mod identity;
pub mod installation;
pub mod integration;
pub mod invite;
pub mod job;
pub mod manual;
pub mod plan;
pub mod read;
pub mod record;
pub mod retry;
pub mod rules;
pub mod run;
pub mod source;
pub mod storage;
pub mod trigger;
pub mod whatif;
