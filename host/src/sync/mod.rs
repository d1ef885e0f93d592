//! The sync engine, one module per step of a run (see shared/design.md,
//! "One run, step by step"):
//!
//! 1. trigger — schedule, sync now, webhook, provision one, dry run
//! 2. claim — one active run per integration
//! 3. read — page through the source
//! 4. rules — exclusion, mapping, team naming, scripts
//! 5. [`correlate`] — links first, then matching attributes, adopt switch
//! 6. [`plan`] — the diff, owned fields only, deletion threshold; a dry run
//!    stops here
//! 7. apply — bounded concurrency, retries, journal
//! 8. record — outcomes, counts, audit, cursor
//!
//! Built so far: correlate and plan (pure, unit-tested). Read, rules, apply
//! and record, with the store, come next (issue 3).

pub mod correlate;
pub mod plan;
