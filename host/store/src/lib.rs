//! Durable state with sqlx, the same code on SQLite (the embedded default,
//! a file) and PostgreSQL: links, runs, run items, audit events, cursors.
//! Migrations live in `host/store/migrations/`. Writes of many rows go in
//! multi-row statements, never one round trip per record.

use hrsync_model::clock::now_ms;

use futures_util::TryStreamExt;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::collections::BTreeMap;

use hrsync_engine::correlate::{Conflict, Link, LinkOrigin};
use hrsync_engine::identity::AccountKeys;
use hrsync_engine::storage::{AuditEvent, FullRead, ItemRecord, RunStore};

pub mod catalog;
pub mod integrations;
pub mod pushed;
pub mod tenants;
pub mod versions;

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bind
/// limits.
const CHUNK: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL `{0}` is not sqlite:// or postgres://")]
    Url(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is malformed: {0}")]
    Malformed(String),
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    sqlite: bool,
    /// Seals the audit chain (`hrsync serve` derives it from its secret
    /// key, which the database does not hold): without it, a rewrite of
    /// the database cannot recompute hashes that verify.
    audit_key: Option<[u8; 32]>,
}

/// The prefix of a hash made with the audit key.
const KEYED: &str = "k1:";

/// Which of a run's items to list; each field unset lists all.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    /// `done`, `failed`, `planned`, `skipped`, `rejected`, ...
    pub outcome: Option<String>,
    /// `create-account`, `add-member`, `skipped`, `conflict`, ...
    pub kind: Option<String>,
    /// One employee's items (HR id).
    pub hr_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: String,
    pub integration_id: String,
    pub trigger: String,
    pub started_by: Option<String>,
    pub status: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
    /// JSON object of counts (created, updated, deactivated, ...).
    pub counts: String,
}

/// Which audit events to list; each field unset lists all.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub integration: Option<String>,
    /// Events older than this one (paging).
    pub before: Option<String>,
    /// Part of the actor (`anna@example.com`, `schedule`), any case.
    pub actor: Option<String>,
    /// Part of the action (`integration.`, `key.revoke`), any case.
    pub action: Option<String>,
    /// From this time on (ms since the epoch, included) ...
    pub from: Option<i64>,
    /// ... and before this one (excluded).
    pub until: Option<i64>,
}

/// A stored audit event.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Its place in the hash chain, which all tenants share: not shown, as
    /// its gaps would tell of other tenants' activity.
    #[serde(skip)]
    pub seq: i64,
    pub id: String,
    pub integration: Option<String>,
    pub at: i64,
    pub actor: String,
    pub action: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub hash: String,
}

/// What one tenant holds and did, for its quotas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantUsage {
    pub plugins: u64,
    pub plugin_bytes: u64,
    pub installations: u64,
    pub integrations: u64,
    pub runs_last_hour: u64,
}

/// What `verify_audit` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AuditCheck {
    /// Events checked and found intact.
    pub events: u64,
    pub broken: Option<AuditBreak>,
}

/// Where the chain breaks and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AuditBreak {
    pub seq: i64,
    pub id: Option<String>,
    pub reason: String,
}

/// One event as the chain hashes it.
struct ChainLink {
    seq: i64,
    prev_hash: String,
    id: String,
    tenant: Option<String>,
    integration: Option<String>,
    at: i64,
    actor: String,
    action: String,
    detail: String,
}

impl ChainLink {
    /// An event as stored, following `prev_hash`.
    fn from_row(row: &AnyRow, prev_hash: String) -> Result<Self, StoreError> {
        Ok(Self {
            seq: row.try_get("seq")?,
            prev_hash,
            id: row.try_get("id")?,
            tenant: row.try_get("tenant_id")?,
            integration: row.try_get("integration_id")?,
            at: row.try_get("at")?,
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            detail: row.try_get("detail")?,
        })
    }

    /// BLAKE3 over every field, each length-prefixed so that no two events
    /// encode alike; keyed (and marked `k1:`) when the store has a key.
    fn hash(&self, key: Option<&[u8; 32]>) -> String {
        let mut hasher = match key {
            Some(key) => blake3::Hasher::new_keyed(key),
            None => blake3::Hasher::new(),
        };
        let mut field = |bytes: &[u8]| {
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        field(&self.seq.to_le_bytes());
        field(self.prev_hash.as_bytes());
        field(self.id.as_bytes());
        field(self.integration.as_deref().unwrap_or("\u{0}none").as_bytes());
        field(&self.at.to_le_bytes());
        field(self.actor.as_bytes());
        field(self.action.as_bytes());
        field(self.detail.as_bytes());
        // Hashed only when set, so that events written before tenants
        // existed keep their hashes.
        if let Some(tenant) = &self.tenant {
            field(tenant.as_bytes());
        }
        let hex = hasher.finalize().to_hex().to_string();
        match key {
            Some(_) => format!("{KEYED}{hex}"),
            None => hex,
        }
    }
}

/// A TEXT column holding JSON, parsed.
fn json_column<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Malformed(format!("{column}: {e}")))
}

fn run_record(row: &AnyRow) -> Result<RunRecord, StoreError> {
    Ok(RunRecord {
        id: row.try_get("id")?,
        integration_id: row.try_get("integration_id")?,
        trigger: row.try_get("run_trigger")?,
        started_by: row.try_get("started_by")?,
        status: row.try_get("status")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        error: row.try_get("error")?,
        counts: row.try_get("counts")?,
    })
}

/// A new id: the millisecond it was made, then 80 random bits. No counter:
/// ids seen by one tenant tell nothing of how many others were made.
pub fn new_id(prefix: &str) -> String {
    let mut random = [0u8; 10];
    if getrandom::fill(&mut random).is_err() {
        // Without the system's randomness (it does not fail on Linux),
        // still unique within the process.
        static FALLBACK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = FALLBACK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        random[..8].copy_from_slice(&n.to_le_bytes());
    }
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{:012x}{suffix}", now_ms())
}

fn link_record(row: &AnyRow) -> Result<Link, StoreError> {
    link_from((
        row.try_get("hr_id")?,
        row.try_get("account_id")?,
        row.try_get("origin")?,
        row.try_get("email")?,
        row.try_get("user_name")?,
    ))
}

/// A link's columns: HR id, account id, origin, e-mail, user name.
type LinkColumns = (String, String, String, Option<String>, Option<String>);

fn link_from((hr_id, account_id, origin, email, user_name): LinkColumns) -> Result<Link, StoreError> {
    Ok(Link {
        hr_id,
        account_id,
        origin: LinkOrigin::parse(&origin).ok_or_else(|| StoreError::Malformed(format!("link origin `{origin}`")))?,
        keys: AccountKeys { email, user_name },
    })
}

/// Creates a missing SQLite file readable by its owner only (SQLite gives
/// its journal and WAL files the same permissions): it holds the tenants'
/// configuration, links and audit log.
fn create_private(path: &str) -> Result<(), StoreError> {
    let file = path.split('?').next().unwrap_or(path);
    if file.is_empty() || file == ":memory:" {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // A folder that does not exist: SQLite names the problem itself.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Malformed(format!("cannot create {file}: {e}"))),
    }
}

/// The chain's head (place and hash) for a transaction that appends to or
/// rewrites the chain: updated first, which locks it, so that writers go
/// one after the other.
async fn lock_audit_head(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<(i64, String), StoreError> {
    sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    Ok((head.try_get("seq")?, head.try_get("hash")?))
}

impl Store {
    /// Connects and migrates. `sqlite://PATH` (created when missing) or
    /// `postgres://...`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = if let Some(path) = url.strip_prefix("sqlite://") {
            create_private(path)?;
            if path.contains('?') {
                url.to_string()
            } else {
                format!("sqlite://{path}?mode=rwc")
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            url.to_string()
        } else {
            return Err(StoreError::Url(url.to_string()));
        };
        let sqlite = url.starts_with("sqlite:");
        // SQLite allows one writer: one connection avoids busy errors.
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 1 } else { 8 })
            .connect(&url)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self {
            pool,
            sqlite,
            audit_key: None,
        })
    }

    /// `count` placeholders numbered from `first`: `$n` for PostgreSQL;
    /// plain `?` for SQLite, which looks numbered ones up by a linear scan
    /// per parameter — quadratic in statements of thousands.
    fn placeholders(&self, first: usize, count: usize) -> Vec<String> {
        (first..first + count)
            .map(|n| if self.sqlite { "?".to_string() } else { format!("${n}") })
            .collect()
    }

    /// `(..), (..)` for a multi-row INSERT of `rows` rows.
    fn rows(&self, rows: usize, columns: usize) -> String {
        (0..rows)
            .map(|row| format!("({})", self.placeholders(row * columns + 1, columns).join(", ")))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// An integration's links, as one JSON array: sqlx hands SQLite rows
    /// over one at a time from its worker thread (about 7 µs each, 0.7 s
    /// for 100,000 links, measured in `hrsync-lab bench sync`); one document
    /// crosses once and parses in a fifth of that.
    pub async fn links(&self, integration: &str) -> Result<Vec<Link>, StoreError> {
        let sql = if self.sqlite {
            "SELECT json_group_array(json_array(hr_id, account_id, origin, email, user_name)) AS links \
             FROM (SELECT hr_id, account_id, origin, email, user_name FROM links \
                   WHERE integration_id = $1 ORDER BY hr_id)"
        } else {
            "SELECT COALESCE(json_agg(json_build_array(hr_id, account_id, origin, email, user_name) \
             ORDER BY hr_id), '[]')::text AS links FROM links WHERE integration_id = $1"
        };
        let row = sqlx::query(sql).bind(integration).fetch_one(&self.pool).await?;
        let columns: Vec<LinkColumns> = json_column(&row, "links")?;
        columns.into_iter().map(link_from).collect()
    }

    /// The link of one employee.
    pub async fn link_of_employee(&self, integration: &str, hr_id: &str) -> Result<Option<Link>, StoreError> {
        self.link_where(integration, "hr_id", hr_id).await
    }

    /// The link of one account: the employee it belongs to.
    pub async fn link_of_account(&self, integration: &str, account_id: &str) -> Result<Option<Link>, StoreError> {
        self.link_where(integration, "account_id", account_id).await
    }

    async fn link_where(&self, integration: &str, column: &str, value: &str) -> Result<Option<Link>, StoreError> {
        let sql = format!(
            "SELECT hr_id, account_id, origin, email, user_name FROM links WHERE integration_id = $1 AND {column} = $2"
        );
        let row = sqlx::query(&sql)
            .bind(integration)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(link_record).transpose()
    }

    /// Writes what changed in an integration's links: delete the links of
    /// `removed` HR ids, then upsert new or changed links — in that order,
    /// since an account belongs to one employee only (a unique index) and a
    /// rehire moves it from one HR id to another. A run that touches a few
    /// employees writes a few rows, not all of them.
    pub async fn change_links(&self, integration: &str, upsert: &[&Link], removed: &[&str]) -> Result<(), StoreError> {
        if upsert.is_empty() && removed.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        for chunk in removed.chunks(CHUNK) {
            let params = self.placeholders(1, chunk.len() + 1);
            let sql = format!(
                "DELETE FROM links WHERE integration_id = {} AND hr_id IN ({})",
                params[0],
                params[1..].join(",")
            );
            let mut query = sqlx::query(&sql).bind(integration);
            for hr_id in chunk {
                query = query.bind(*hr_id);
            }
            query.execute(&mut *tx).await?;
        }
        for chunk in upsert.chunks(CHUNK) {
            let mut sql = format!(
                "INSERT INTO links (integration_id, hr_id, account_id, origin, email, user_name, updated_at) VALUES {}",
                self.rows(chunk.len(), 7)
            );
            sql.push_str(
                " ON CONFLICT (integration_id, hr_id) DO UPDATE SET account_id = excluded.account_id, \
                 origin = excluded.origin, email = excluded.email, user_name = excluded.user_name, \
                 updated_at = excluded.updated_at",
            );
            let mut query = sqlx::query(&sql);
            for link in chunk {
                query = query
                    .bind(integration)
                    .bind(link.hr_id.as_str())
                    .bind(link.account_id.as_str())
                    .bind(link.origin.as_str())
                    .bind(link.keys.email.as_deref())
                    .bind(link.keys.user_name.as_deref())
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn start_run(
        &self,
        integration: &str,
        trigger: &str,
        started_by: Option<&str>,
    ) -> Result<String, StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_run(&mut conn, integration, trigger, started_by).await
    }

    /// Records the start of the scheduled run of the slot due at `due`
    /// and moves the integration's next run to `next`, both or neither:
    /// a process that dies after this leaves a run that is found and
    /// made due again (`interrupt_orphaned_runs`), one that dies before
    /// leaves the slot due. None when another process took the slot.
    pub async fn start_scheduled_run(
        &self,
        integration: &str,
        due: i64,
        next: i64,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE integrations SET next_run_at = $1 WHERE id = $2 AND state = 'active' AND next_run_at = $3",
        )
        .bind(next)
        .bind(integration)
        .bind(due)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(None);
        }
        let run = insert_run(&mut tx, integration, "schedule", None).await?;
        tx.commit().await?;
        Ok(Some(run))
    }

    /// A started run waits for a free slot (`queued`), or has one
    /// (`running`); a run that has ended is left as it is.
    pub async fn set_run_queued(&self, run: &str, queued: bool) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET status = $1 WHERE id = $2 AND status IN ('running', 'queued')")
            .bind(if queued { "queued" } else { "running" })
            .bind(run)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Appends a run's items, in multi-row statements, taking them one
    /// chunk at a time from `items`.
    pub async fn record_items(&self, run: &str, items: impl IntoIterator<Item = ItemRecord>) -> Result<(), StoreError> {
        let mut items = items.into_iter();
        let mut tx = self.pool.begin().await?;
        let mut seq: i64 = sqlx::query("SELECT COUNT(*) AS n FROM run_items WHERE run_id = $1")
            .bind(run)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        loop {
            let chunk: Vec<ItemRecord> = items.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            let sql = format!(
                "INSERT INTO run_items (run_id, seq, hr_id, kind, summary, outcome, error, attempts) VALUES {}",
                self.rows(chunk.len(), 8)
            );
            let mut query = sqlx::query(&sql);
            for item in &chunk {
                query = query
                    .bind(run)
                    .bind(seq)
                    .bind(item.hr_id.as_deref())
                    .bind(item.kind.as_str())
                    .bind(item.summary.as_str())
                    .bind(item.outcome.as_str())
                    .bind(item.error.as_deref())
                    .bind(i64::from(item.attempts));
                seq += 1;
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A run's items in the order they were recorded.
    pub async fn items(&self, run: &str) -> Result<Vec<ItemRecord>, StoreError> {
        self.items_where(run, &ItemFilter::default()).await
    }

    /// A run's items that pass `filter`, in the order they were recorded.
    pub async fn items_where(&self, run: &str, filter: &ItemFilter) -> Result<Vec<ItemRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT hr_id, kind, summary, outcome, error, attempts FROM run_items WHERE run_id = $1 \
             AND ($2 IS NULL OR outcome = $2) AND ($3 IS NULL OR kind = $3) AND ($4 IS NULL OR hr_id = $4) \
             ORDER BY seq",
        )
        .bind(run)
        .bind(filter.outcome.as_deref())
        .bind(filter.kind.as_deref())
        .bind(filter.hr_id.as_deref())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ItemRecord {
                    hr_id: row.try_get("hr_id")?,
                    kind: row.try_get("kind")?,
                    summary: row.try_get("summary")?,
                    outcome: row.try_get("outcome")?,
                    error: row.try_get("error")?,
                    attempts: row.try_get::<i64, _>("attempts")?.try_into().unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// The identity conflicts the integration's last finished run (not a
    /// dry run, not a failed one) reported: still open until a run that
    /// reads the employees involved finds them resolved.
    pub async fn open_conflicts(&self, integration: &str) -> Result<Vec<Conflict>, StoreError> {
        let rows = sqlx::query(
            "SELECT hr_id, summary, outcome FROM run_items WHERE kind = 'conflict' AND run_id = \
             (SELECT id FROM runs WHERE integration_id = $1 AND status IN ('succeeded', 'succeeded-with-rejections', 'partial', 'interrupted') \
              ORDER BY started_at DESC, id DESC LIMIT 1) ORDER BY seq",
        )
        .bind(integration)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let hr_id: Option<String> = row.try_get("hr_id")?;
                Ok(Conflict {
                    hr_id: hr_id.unwrap_or_default(),
                    message: row.try_get("summary")?,
                    keeps_account: row.try_get::<String, _>("outcome")? == "kept",
                })
            })
            .collect()
    }

    pub async fn finish_run(
        &self,
        run: &str,
        status: &str,
        error: Option<&str>,
        counts: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET status = $1, error = $2, counts = $3, finished_at = $4 WHERE id = $5")
            .bind(status)
            .bind(error)
            .bind(counts.to_string())
            .bind(now_ms())
            .bind(run)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The newest runs first, of one integration or of all.
    pub async fn runs(&self, integration: Option<&str>, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
        const COLUMNS: &str =
            "SELECT id, integration_id, run_trigger, started_by, status, started_at, finished_at, error, counts FROM runs";
        let rows = match integration {
            Some(integration) => {
                sqlx::query(&format!(
                    "{COLUMNS} WHERE integration_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2"
                ))
                .bind(integration)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!("{COLUMNS} ORDER BY started_at DESC, id DESC LIMIT $1"))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(run_record).collect()
    }

    pub async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, integration_id, run_trigger, started_by, status, started_at, finished_at, error, counts \
             FROM runs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(run_record).transpose()
    }

    pub async fn cursor(&self, integration: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT cursor_value FROM cursors WHERE integration_id = $1")
            .bind(integration)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("cursor_value")).transpose()?)
    }

    /// The last successful full read of the integration: when, and the
    /// configuration it applied.
    pub async fn last_full_read(&self, integration: &str) -> Result<Option<FullRead>, StoreError> {
        let row = sqlx::query("SELECT full_read_at, config_hash FROM cursors WHERE integration_id = $1")
            .bind(integration)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let Some(at) = row.try_get::<Option<i64>, _>("full_read_at")? else {
            return Ok(None);
        };
        Ok(Some(FullRead {
            at,
            config: row.try_get("config_hash")?,
        }))
    }

    /// The accounts the app was asked to invite, by this integration.
    pub async fn invited_accounts(&self, integration: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT account_id FROM invitations WHERE integration_id = $1")
            .bind(integration)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| row.try_get("account_id").map_err(StoreError::from))
            .collect()
    }

    /// Notes that the app was asked to invite these accounts (now).
    pub async fn record_invitations(&self, integration: &str, accounts: &[&str]) -> Result<(), StoreError> {
        let now = now_ms();
        for chunk in accounts.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO invitations (integration_id, account_id, invited_at) VALUES {} \
                 ON CONFLICT (integration_id, account_id) DO UPDATE SET invited_at = excluded.invited_at",
                self.rows(chunk.len(), 3)
            );
            let mut query = sqlx::query(&sql);
            for account in chunk {
                query = query.bind(integration).bind(*account).bind(now);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Makes the integration's next run read everyone: a manual link or
    /// unlink concerns an employee an incremental read would not see
    /// unless HR changed them.
    pub async fn want_full_read(&self, integration: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE cursors SET full_read_at = NULL WHERE integration_id = $1")
            .bind(integration)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Call only after a run succeeded; `full_read` (the hash of the
    /// configuration it applied) when it read everyone.
    pub async fn advance_cursor(
        &self,
        integration: &str,
        cursor: &str,
        full_read: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO cursors (integration_id, cursor_value, updated_at, full_read_at, config_hash) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (integration_id) DO UPDATE SET cursor_value = excluded.cursor_value, \
             updated_at = excluded.updated_at, full_read_at = COALESCE(excluded.full_read_at, cursors.full_read_at), \
             config_hash = COALESCE(excluded.config_hash, cursors.config_hash)",
        )
        .bind(integration)
        .bind(cursor)
        .bind(now)
        .bind(full_read.map(|_| now))
        .bind(full_read)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Appends one audit event to the chain.
    pub async fn append_audit(
        &self,
        integration: Option<&str>,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.append_audit_events([AuditEvent {
            tenant: None,
            integration: integration.map(str::to_string),
            actor: actor.to_string(),
            action: action.to_string(),
            detail: detail.clone(),
        }])
        .await
    }

    /// Appends audit events to the hash chain in one transaction, in
    /// multi-row statements. The chain's head row is updated first: that
    /// locks it, so concurrent writers append one after the other.
    pub async fn append_audit_events(&self, events: impl IntoIterator<Item = AuditEvent>) -> Result<(), StoreError> {
        let mut events = events.into_iter().peekable();
        if events.peek().is_none() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let (mut seq, mut hash) = lock_audit_head(&mut tx).await?;
        let at = now_ms();
        loop {
            let chunk: Vec<AuditEvent> = events.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            let sql = format!(
                "INSERT INTO audit_events (id, tenant_id, integration_id, at, actor, action, detail, seq, prev_hash, hash) VALUES {}",
                self.rows(chunk.len(), 10)
            );
            let mut query = sqlx::query(&sql);
            for event in &chunk {
                let link = ChainLink {
                    seq: seq + 1,
                    prev_hash: hash,
                    id: new_id("audit"),
                    tenant: event.tenant.clone(),
                    integration: event.integration.clone(),
                    at,
                    actor: event.actor.clone(),
                    action: event.action.clone(),
                    detail: event.detail.to_string(),
                };
                let own = link.hash(self.audit_key.as_ref());
                query = query
                    .bind(link.id)
                    .bind(link.tenant)
                    .bind(link.integration)
                    .bind(link.at)
                    .bind(link.actor)
                    .bind(link.action)
                    .bind(link.detail)
                    .bind(link.seq)
                    .bind(link.prev_hash)
                    .bind(own.clone());
                seq = link.seq;
                hash = own;
            }
            query.execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The check value of the secret key the processes sharing this
    /// database hold, recorded by the first of them to start; `check`
    /// when this one is the first.
    pub async fn record_server_key(&self, check: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO server_key (id, key_check, recorded_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(check)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query("SELECT key_check FROM server_key WHERE id = 1")
            .fetch_one(&self.pool)
            .await?
            .try_get("key_check")?)
    }

    /// Whether a secret key was recorded (see [`Self::record_server_key`]).
    pub async fn server_key_recorded(&self) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 AS one FROM server_key WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// One sealed secret, with the place it was sealed for
    /// (`<installation or integration id>/<name>`), to try a key on; none
    /// when nothing is sealed yet.
    pub async fn some_sealed_secret(&self) -> Result<Option<(String, String)>, StoreError> {
        for table in ["installations", "integrations"] {
            let rows = sqlx::query(&format!(
                "SELECT id, secrets FROM {table} WHERE secrets <> '{{}}' LIMIT 1"
            ))
            .fetch_all(&self.pool)
            .await?;
            for row in &rows {
                let id: String = row.try_get("id")?;
                let secrets: BTreeMap<String, String> = serde_json::from_str(&row.try_get::<String, _>("secrets")?)
                    .map_err(|e| StoreError::Malformed(format!("{table}.secrets of {id}: {e}")))?;
                if let Some((name, sealed)) = secrets.into_iter().next() {
                    return Ok(Some((format!("{id}/{name}"), sealed)));
                }
            }
        }
        Ok(None)
    }

    /// Seals the audit chain with `key` from now on (see [`Self::seal_audit_chain`]).
    pub fn with_audit_key(mut self, key: [u8; 32]) -> Self {
        self.audit_key = Some(key);
        self
    }

    /// With an audit key, every event must be sealed with it: a chain
    /// written before the key was used is checked and, when intact, sealed
    /// once (its hashes made again with the key). A broken one is left as
    /// it is, for verify to report. Returns the events sealed.
    pub async fn seal_audit_chain(&self) -> Result<u64, StoreError> {
        let Some(key) = self.audit_key else {
            return Ok(0);
        };
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let (seq, hash): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
        if seq == 0 || hash.starts_with(KEYED) {
            return Ok(0);
        }
        let unkeyed = Self {
            pool: self.pool.clone(),
            sqlite: self.sqlite,
            audit_key: None,
        };
        if let Some(broken) = unkeyed.verify_audit().await?.broken {
            tracing::warn!(seq = broken.seq, reason = %broken.reason, "the audit chain is broken: not sealed");
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        if lock_audit_head(&mut tx).await?.1 != hash {
            return Ok(0); // another process sealed it or appended meanwhile
        }
        let rows = sqlx::query(
            "SELECT id, tenant_id, integration_id, at, actor, action, detail, seq FROM audit_events \
             WHERE seq IS NOT NULL ORDER BY seq",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut prev = "genesis".to_string();
        for row in &rows {
            let link = ChainLink::from_row(row, prev)?;
            let own = link.hash(Some(&key));
            sqlx::query("UPDATE audit_events SET prev_hash = $1, hash = $2 WHERE id = $3")
                .bind(&link.prev_hash)
                .bind(&own)
                .bind(&link.id)
                .execute(&mut *tx)
                .await?;
            prev = own;
        }
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&prev)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(events = rows.len(), "the audit chain is sealed with the server's key");
        Ok(rows.len() as u64)
    }

    /// Walks the audit chain from the first event: every event's hash must
    /// match its content and the hash before it, the places must follow
    /// each other without a gap, and the last must be the head.
    pub async fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let (head_seq, head_hash): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
        let mut rows = sqlx::query(
            "SELECT id, tenant_id, integration_id, at, actor, action, detail, seq, prev_hash, hash FROM audit_events \
             WHERE seq IS NOT NULL ORDER BY seq",
        )
        .fetch(&self.pool);
        let (mut expected_seq, mut expected_prev) = (1i64, "genesis".to_string());
        let mut events = 0u64;
        let broken = |seq: i64, id: Option<String>, reason: String| AuditCheck {
            events: u64::try_from(seq.max(1) - 1).unwrap_or(0),
            broken: Some(AuditBreak { seq, id, reason }),
        };
        while let Some(row) = rows.try_next().await? {
            let link = ChainLink::from_row(&row, row.try_get("prev_hash")?)?;
            let stored: String = row.try_get("hash")?;
            if link.seq != expected_seq {
                return Ok(broken(
                    expected_seq,
                    None,
                    format!("event {expected_seq} is missing (the next one is {})", link.seq),
                ));
            }
            if link.prev_hash != expected_prev {
                return Ok(broken(
                    link.seq,
                    Some(link.id),
                    "it does not follow the event before it (that one was changed or replaced)".into(),
                ));
            }
            if link.hash(self.audit_key.as_ref()) != stored {
                let reason = match (self.audit_key.is_some(), stored.starts_with(KEYED)) {
                    (true, false) => "it is not sealed with the server's key: it was written or rewritten by \
                                      someone without the key"
                        .into(),
                    (false, true) => {
                        "it is sealed with a server's key: verify with that key (HRSYNC_SECRET_KEY)".into()
                    }
                    _ => "its content was changed after it was written".into(),
                };
                return Ok(broken(link.seq, Some(link.id), reason));
            }
            expected_prev = stored;
            expected_seq += 1;
            events += 1;
        }
        if expected_seq - 1 != head_seq || expected_prev != head_hash {
            return Ok(broken(
                expected_seq,
                None,
                format!(
                    "the chain ends at event {} but {head_seq} were written: the newest were removed",
                    expected_seq - 1
                ),
            ));
        }
        Ok(AuditCheck { events, broken: None })
    }

    /// What `tenant` holds, and the runs its integrations started in the
    /// last hour: one query.
    pub async fn tenant_usage(&self, tenant: &str) -> Result<TenantUsage, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM plugins WHERE tenant_id = $1) AS plugins, \
                    (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM plugins WHERE tenant_id = $1) AS plugin_bytes, \
                    (SELECT COUNT(*) FROM installations WHERE tenant_id = $1) AS installations, \
                    (SELECT COUNT(*) FROM integrations WHERE tenant_id = $1) AS integrations, \
                    (SELECT COUNT(*) FROM runs WHERE started_at > $2 AND integration_id IN \
                        (SELECT id FROM integrations WHERE tenant_id = $1)) AS runs_last_hour",
        )
        .bind(tenant)
        .bind(now_ms() - 3_600_000)
        .fetch_one(&self.pool)
        .await?;
        let count =
            |name: &str| -> Result<u64, StoreError> { Ok(u64::try_from(row.try_get::<i64, _>(name)?).unwrap_or(0)) };
        Ok(TenantUsage {
            plugins: count("plugins")?,
            plugin_bytes: count("plugin_bytes")?,
            installations: count("installations")?,
            integrations: count("integrations")?,
            runs_last_hour: count("runs_last_hour")?,
        })
    }

    /// The chain checked for one tenant, telling nothing of the others:
    /// `events` counts the tenant's own events, a break is named (by id)
    /// only when it is one of the tenant's events, and `seq` is 0; otherwise
    /// the tenant learns that the chain is broken, and the operator where
    /// (`hrsync audit verify`).
    pub async fn verify_audit_for(&self, tenant: &str) -> Result<AuditCheck, StoreError> {
        let check = self.verify_audit().await?;
        let own = sqlx::query(
            "SELECT COUNT(*) AS n FROM audit_events \
             WHERE tenant_id = $1 OR integration_id IN (SELECT id FROM integrations WHERE tenant_id = $1)",
        )
        .bind(tenant)
        .fetch_one(&self.pool)
        .await?;
        let events = u64::try_from(own.try_get::<i64, _>("n")?).unwrap_or(0);
        let broken = match check.broken {
            None => None,
            Some(found) => {
                let owned = match &found.id {
                    Some(id) => sqlx::query(
                        "SELECT 1 AS one FROM audit_events WHERE id = $1 AND (tenant_id = $2 OR integration_id IN \
                         (SELECT id FROM integrations WHERE tenant_id = $2))",
                    )
                    .bind(id)
                    .bind(tenant)
                    .fetch_optional(&self.pool)
                    .await?
                    .is_some(),
                    None => false,
                };
                Some(if owned {
                    // The id names the event; its place would tell how
                    // many events of all tenants came before.
                    AuditBreak { seq: 0, ..found }
                } else {
                    AuditBreak {
                        seq: 0,
                        id: None,
                        reason: "the chain is broken at an event that is not this tenant's: the server's \
                                 operator sees where (hrsync audit verify)"
                            .into(),
                    }
                })
            }
        };
        Ok(AuditCheck { events, broken })
    }

    pub async fn audit_actions(&self, integration: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT action FROM audit_events WHERE integration_id = $1 ORDER BY seq")
            .bind(integration)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("action")?)).collect()
    }

    /// A tenant's audit events (its admin actions and the changes of its
    /// integrations), newest first, older than the event `before` (an id)
    /// when given.
    pub async fn tenant_audit(
        &self,
        tenant: &str,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        // `actor` and `action` match as substrings, case-insensitively.
        let like = |text: &Option<String>| {
            text.as_deref().map(|t| {
                format!(
                    "%{}%",
                    t.to_lowercase()
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                )
            })
        };
        let rows = sqlx::query(
            "SELECT seq, id, integration_id, at, actor, action, detail, hash FROM audit_events \
             WHERE (tenant_id = $1 OR integration_id IN (SELECT id FROM integrations WHERE tenant_id = $1)) \
             AND ($2 IS NULL OR integration_id = $2) AND ($3 IS NULL OR seq < (SELECT seq FROM audit_events WHERE id = $3)) \
             AND ($5 IS NULL OR LOWER(actor) LIKE $5 ESCAPE '\\') AND ($6 IS NULL OR LOWER(action) LIKE $6 ESCAPE '\\') \
             AND ($7 IS NULL OR at >= $7) AND ($8 IS NULL OR at < $8) \
             ORDER BY seq DESC LIMIT $4",
        )
        .bind(tenant)
        .bind(filter.integration.as_deref())
        .bind(filter.before.as_deref())
        .bind(limit)
        .bind(like(&filter.actor))
        .bind(like(&filter.action))
        .bind(filter.from)
        .bind(filter.until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let detail: String = row.try_get("detail")?;
                Ok(AuditRecord {
                    seq: row.try_get("seq")?,
                    id: row.try_get("id")?,
                    integration: row.try_get("integration_id")?,
                    at: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    detail: serde_json::from_str(&detail).map_err(|e| StoreError::Malformed(e.to_string()))?,
                    hash: row.try_get("hash")?,
                })
            })
            .collect()
    }
}

/// The engine's storage (host/engine/src/storage.rs), on this database.
impl RunStore for Store {
    type Error = StoreError;

    async fn start_run(
        &self,
        integration: &str,
        trigger: &str,
        started_by: Option<&str>,
    ) -> Result<String, StoreError> {
        Store::start_run(self, integration, trigger, started_by).await
    }
    async fn links(&self, integration: &str) -> Result<Vec<Link>, StoreError> {
        Store::links(self, integration).await
    }
    async fn link_of_employee(&self, integration: &str, hr_id: &str) -> Result<Option<Link>, StoreError> {
        Store::link_of_employee(self, integration, hr_id).await
    }
    async fn link_of_account(&self, integration: &str, account_id: &str) -> Result<Option<Link>, StoreError> {
        Store::link_of_account(self, integration, account_id).await
    }
    async fn change_links(&self, integration: &str, upsert: &[&Link], removed: &[&str]) -> Result<(), StoreError> {
        Store::change_links(self, integration, upsert, removed).await
    }
    async fn cursor(&self, integration: &str) -> Result<Option<String>, StoreError> {
        Store::cursor(self, integration).await
    }
    async fn last_full_read(&self, integration: &str) -> Result<Option<FullRead>, StoreError> {
        Store::last_full_read(self, integration).await
    }
    async fn want_full_read(&self, integration: &str) -> Result<(), StoreError> {
        Store::want_full_read(self, integration).await
    }
    async fn invited_accounts(&self, integration: &str) -> Result<Vec<String>, StoreError> {
        Store::invited_accounts(self, integration).await
    }
    async fn record_invitations(&self, integration: &str, accounts: &[&str]) -> Result<(), StoreError> {
        Store::record_invitations(self, integration, accounts).await
    }
    async fn advance_cursor(&self, integration: &str, cursor: &str, full_read: Option<&str>) -> Result<(), StoreError> {
        Store::advance_cursor(self, integration, cursor, full_read).await
    }
    async fn open_conflicts(&self, integration: &str) -> Result<Vec<Conflict>, StoreError> {
        Store::open_conflicts(self, integration).await
    }
    async fn record_items(&self, run: &str, items: impl Iterator<Item = ItemRecord> + Send) -> Result<(), StoreError> {
        Store::record_items(self, run, items).await
    }
    async fn finish_run(
        &self,
        run: &str,
        status: &str,
        error: Option<&str>,
        counts: &serde_json::Value,
    ) -> Result<(), StoreError> {
        Store::finish_run(self, run, status, error, counts).await
    }
    async fn append_audit_events(&self, events: impl Iterator<Item = AuditEvent> + Send) -> Result<(), StoreError> {
        Store::append_audit_events(self, events).await
    }
}

async fn insert_run(
    conn: &mut sqlx::AnyConnection,
    integration: &str,
    trigger: &str,
    started_by: Option<&str>,
) -> Result<String, StoreError> {
    let id = new_id("run");
    sqlx::query(
        "INSERT INTO runs (id, integration_id, run_trigger, started_by, status, started_at, counts) \
         VALUES ($1, $2, $3, $4, 'running', $5, '{}')",
    )
    .bind(id.as_str())
    .bind(integration)
    .bind(trigger)
    .bind(started_by)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}
