//! What the engine needs of storage, as a trait: links, cursors, run
//! records, run items and the audit log. The engine names what it stores;
//! `hrsync-store` (host/store) implements it on SQLite and PostgreSQL, so
//! the engine knows nothing of SQL and a test could run it on anything.

use std::future::Future;

use super::correlate::{Conflict, Link};

/// One planned change and how it ended, as recorded.
/// The last time a run read everyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullRead {
    /// When it finished, in ms since the epoch.
    pub at: i64,
    /// The hash of the configuration it applied (none before it was kept).
    pub config: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRecord {
    pub hr_id: Option<String>,
    pub kind: String,
    pub summary: String,
    /// `done`, `linked-existing`, `failed`, `planned` (dry run), `conflict`, ...
    pub outcome: String,
    pub error: Option<String>,
    pub attempts: u32,
}

/// An audit event to append: who did what, to which integration.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// Set on admin actions; events of an integration belong to its tenant.
    pub tenant: Option<String>,
    pub integration: Option<String>,
    pub actor: String,
    pub action: String,
    pub detail: serde_json::Value,
}

/// Storage for runs. Every method is one round trip (or one transaction)
/// over a whole page or list: the engine never stores record by record.
pub trait RunStore: Sync {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Records a run as started; its id.
    fn start_run(
        &self,
        integration: &str,
        trigger: &str,
        started_by: Option<&str>,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;

    /// Every link of an integration.
    fn links(&self, integration: &str) -> impl Future<Output = Result<Vec<Link>, Self::Error>> + Send;

    fn link_of_employee(
        &self,
        integration: &str,
        hr_id: &str,
    ) -> impl Future<Output = Result<Option<Link>, Self::Error>> + Send;

    fn link_of_account(
        &self,
        integration: &str,
        account_id: &str,
    ) -> impl Future<Output = Result<Option<Link>, Self::Error>> + Send;

    /// Writes new and changed links and removes others, in one transaction.
    fn change_links(
        &self,
        integration: &str,
        upsert: &[&Link],
        removed: &[&str],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Where the next incremental read starts, if anywhere.
    fn cursor(&self, integration: &str) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;

    /// The last full read: when it finished and the configuration it applied.
    fn last_full_read(&self, integration: &str) -> impl Future<Output = Result<Option<FullRead>, Self::Error>> + Send;

    /// Makes the next run read everyone.
    fn want_full_read(&self, integration: &str) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The accounts the app was asked to invite.
    fn invited_accounts(&self, integration: &str) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;

    /// Notes that the app was asked to invite these accounts.
    fn record_invitations(
        &self,
        integration: &str,
        accounts: &[&str],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// After a successful run; `full_read` is the hash of the configuration
    /// (`Job::config_hash`) when the run read everyone.
    fn advance_cursor(
        &self,
        integration: &str,
        cursor: &str,
        full_read: Option<&str>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The conflicts the last run left open.
    fn open_conflicts(&self, integration: &str) -> impl Future<Output = Result<Vec<Conflict>, Self::Error>> + Send;

    /// Appends a run's items. Taken as they come (a first sync has one per
    /// employee): the store writes them a chunk at a time.
    fn record_items(
        &self,
        run: &str,
        items: impl Iterator<Item = ItemRecord> + Send,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    fn finish_run(
        &self,
        run: &str,
        status: &str,
        error: Option<&str>,
        counts: &serde_json::Value,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Appends events to the audit log, in order, in one transaction;
    /// taken as they come, like [`RunStore::record_items`].
    fn append_audit_events(
        &self,
        events: impl Iterator<Item = AuditEvent> + Send,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}
