//! Integrations kept by the admin API, their schedule state, and the lease
//! that allows one run per integration at a time across processes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;
use utoipa::ToSchema;

use super::tenants::Mode;
use super::{json_column as json, now_ms, Store, StoreError};
use hrsync_engine::plan::Options;

/// Whether the scheduler runs an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Not scheduled; manual runs and tests only.
    Inactive,
    /// Runs on its schedule.
    Active,
    /// Quarantined after a failed run, until an admin resumes it or a
    /// manual run succeeds.
    Paused,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Inactive => "inactive",
            State::Active => "active",
            State::Paused => "paused",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "inactive" => Some(State::Inactive),
            "active" => Some(State::Active),
            "paused" => Some(State::Paused),
            _ => None,
        }
    }
}

/// Who hears about a failed run besides the tenant's owners.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Notify {
    /// E-mail the tenant's owners (default true).
    pub email_owners: bool,
    /// Further addresses.
    pub emails: Vec<String>,
    /// POSTed a JSON event signed with the integration's signing secret
    /// (`X-Hrsync-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
    /// "<t>.<body>">`); public addresses only unless the operator allows
    /// more (`hrsync serve --egress-allow`); redirects are not followed.
    pub webhook_url: Option<String>,
}

impl Default for Notify {
    fn default() -> Self {
        Self {
            email_owners: true,
            emails: Vec::new(),
            webhook_url: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Integration {
    pub id: String,
    pub mode: Mode,
    pub name: String,
    /// Installation ids.
    pub source: String,
    pub rules: Vec<String>,
    pub target: String,
    pub options: Options,
    /// Cron expression (5 fields, or 6 with seconds).
    pub schedule: String,
    /// IANA time zone the schedule is read in.
    pub timezone: String,
    pub state: State,
    pub paused_reason: Option<String>,
    /// When the scheduler runs it next (ms since the epoch), while active.
    pub next_run_at: Option<i64>,
    pub notify: Notify,
    /// The newest run, if any.
    pub last_run: Option<LastRun>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Encrypted secrets by name (`signing`: of the notifications).
    #[serde(skip)]
    pub sealed_secrets: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LastRun {
    pub id: String,
    pub trigger: String,
    pub status: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

/// An integration the scheduler should run now.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: String,
    pub tenant_id: String,
    pub schedule: String,
    pub timezone: String,
    pub next_run_at: i64,
}

fn integration(row: &AnyRow) -> Result<Integration, StoreError> {
    let (mode, state): (String, String) = (row.try_get("mode")?, row.try_get("state")?);
    Ok(Integration {
        id: row.try_get("id")?,
        mode: Mode::parse(&mode).ok_or_else(|| StoreError::Malformed(format!("mode `{mode}`")))?,
        name: row.try_get("name")?,
        source: row.try_get("source")?,
        rules: json(row, "rules")?,
        target: row.try_get("target")?,
        options: json(row, "options")?,
        schedule: row.try_get("schedule")?,
        timezone: row.try_get("timezone")?,
        state: State::parse(&state).ok_or_else(|| StoreError::Malformed(format!("state `{state}`")))?,
        paused_reason: row.try_get("paused_reason")?,
        next_run_at: row.try_get("next_run_at")?,
        notify: json(row, "notify")?,
        last_run: None,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        sealed_secrets: json(row, "secrets")?,
    })
}

fn to_json(value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Malformed(e.to_string()))
}

const COLUMNS: &str = "id, mode, name, source, rules, target, options, schedule, timezone, state, paused_reason, \
                       next_run_at, notify, secrets, created_at, updated_at";

impl Store {
    /// Stores a new integration; `None` when the name is taken.
    pub async fn add_integration(&self, tenant: &str, new: &Integration) -> Result<Option<()>, StoreError> {
        let added = sqlx::query(&format!(
            "INSERT INTO integrations (tenant_id, {COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
             ON CONFLICT (tenant_id, name) DO NOTHING"
        ))
        .bind(tenant)
        .bind(new.id.as_str())
        .bind(new.mode.as_str())
        .bind(new.name.as_str())
        .bind(new.source.as_str())
        .bind(to_json(&new.rules)?)
        .bind(new.target.as_str())
        .bind(to_json(&new.options)?)
        .bind(new.schedule.as_str())
        .bind(new.timezone.as_str())
        .bind(new.state.as_str())
        .bind(new.paused_reason.as_deref())
        .bind(new.next_run_at)
        .bind(to_json(&new.notify)?)
        .bind(to_json(&new.sealed_secrets)?)
        .bind(new.created_at)
        .bind(new.updated_at)
        .execute(&self.pool)
        .await?;
        Ok((added.rows_affected() == 1).then_some(()))
    }

    /// Writes everything but the id, tenant, mode and creation time.
    pub async fn update_integration(&self, tenant: &str, changed: &Integration) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE integrations SET name = $1, source = $2, rules = $3, target = $4, options = $5, schedule = $6, \
             timezone = $7, state = $8, paused_reason = $9, next_run_at = $10, notify = $11, secrets = $12, \
             updated_at = $13 WHERE tenant_id = $14 AND id = $15",
        )
        .bind(changed.name.as_str())
        .bind(changed.source.as_str())
        .bind(to_json(&changed.rules)?)
        .bind(changed.target.as_str())
        .bind(to_json(&changed.options)?)
        .bind(changed.schedule.as_str())
        .bind(changed.timezone.as_str())
        .bind(changed.state.as_str())
        .bind(changed.paused_reason.as_deref())
        .bind(changed.next_run_at)
        .bind(to_json(&changed.notify)?)
        .bind(to_json(&changed.sealed_secrets)?)
        .bind(now_ms())
        .bind(tenant)
        .bind(changed.id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Writes an integration's secrets alone (a new SCIM token), so that a
    /// change of its configuration or state made meanwhile stays.
    pub async fn set_integration_secrets(
        &self,
        tenant: &str,
        id: &str,
        secrets: &BTreeMap<String, String>,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE integrations SET secrets = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4")
                .bind(to_json(secrets)?)
                .bind(now_ms())
                .bind(tenant)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn integrations(&self, tenant: &str) -> Result<Vec<Integration>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM integrations WHERE tenant_id = $1 ORDER BY created_at"
        ))
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        let mut integrations = rows.iter().map(integration).collect::<Result<Vec<_>, _>>()?;
        let mut last = self.last_runs(tenant, None).await?;
        for integration in &mut integrations {
            integration.last_run = last.remove(&integration.id);
        }
        Ok(integrations)
    }

    /// The newest run of each of a tenant's integrations (or of one): the
    /// ids through the index on (integration_id, started_at), one lookup per
    /// integration, then those runs by id. (In one join PostgreSQL hashes
    /// every run of the table instead.)
    async fn last_runs(
        &self,
        tenant: &str,
        integration: Option<&str>,
    ) -> Result<BTreeMap<String, LastRun>, StoreError> {
        let newest = sqlx::query(
            "SELECT (SELECT r.id FROM runs r WHERE r.integration_id = i.id \
                     ORDER BY r.started_at DESC, r.id DESC LIMIT 1) AS last_id \
             FROM integrations i WHERE i.tenant_id = $1 AND ($2 IS NULL OR i.id = $2)",
        )
        .bind(tenant)
        .bind(integration)
        .fetch_all(&self.pool)
        .await?;
        let ids = newest
            .iter()
            .map(|row| row.try_get::<Option<String>, _>("last_id"))
            .filter_map(Result::transpose)
            .collect::<Result<Vec<String>, _>>()?;
        let mut last = BTreeMap::new();
        for chunk in ids.chunks(super::CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT integration_id, id, run_trigger, status, started_at, finished_at, error FROM runs WHERE id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                last.insert(
                    row.try_get("integration_id")?,
                    LastRun {
                        id: row.try_get("id")?,
                        trigger: row.try_get("run_trigger")?,
                        status: row.try_get("status")?,
                        started_at: row.try_get("started_at")?,
                        finished_at: row.try_get("finished_at")?,
                        error: row.try_get("error")?,
                    },
                );
            }
        }
        Ok(last)
    }

    pub async fn integration(&self, tenant: &str, id: &str) -> Result<Option<Integration>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM integrations WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(mut integration) = row.as_ref().map(integration).transpose()? else {
            return Ok(None);
        };
        integration.last_run = self.last_runs(tenant, Some(id)).await?.remove(id);
        Ok(Some(integration))
    }

    /// An integration by id alone, with its tenant: for HR webhooks, which
    /// carry no API key.
    pub async fn integration_anywhere(&self, id: &str) -> Result<Option<(String, Integration)>, StoreError> {
        let row = sqlx::query(&format!("SELECT tenant_id, {COLUMNS} FROM integrations WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Ok((row.try_get("tenant_id")?, integration(&row)?)))
            .transpose()
    }

    /// Sets whether the scheduler runs an integration, and when next.
    pub async fn set_integration_state(
        &self,
        id: &str,
        state: State,
        paused_reason: Option<&str>,
        next_run_at: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE integrations SET state = $1, paused_reason = $2, next_run_at = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(state.as_str())
        .bind(paused_reason)
        .bind(next_run_at)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// At most `limit` active integrations due at `now`, fairly: each
    /// tenant's earliest due first, then each tenant's second, and so on,
    /// a tenant's runs going on (on any node) counting as turns it had — a
    /// tenant with 200 integrations due gets one turn in each round of
    /// every tenant, not the first 200. Due order within a turn. An
    /// integration with a run going on is due when that run ends.
    pub async fn due_integrations(&self, now: i64, limit: usize) -> Result<Vec<Due>, StoreError> {
        let rows = sqlx::query(
            "WITH going_on AS ( \
               SELECT i.tenant_id, COUNT(*) AS runs FROM runs r JOIN integrations i ON i.id = r.integration_id \
               WHERE r.status IN ('running', 'queued') GROUP BY i.tenant_id), \
             due AS ( \
               SELECT id, tenant_id, schedule, timezone, next_run_at, \
                 ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY next_run_at, id) AS turn \
               FROM integrations WHERE state = 'active' AND next_run_at <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM run_leases l WHERE l.integration_id = integrations.id AND l.expires_at >= $1)) \
             SELECT due.id, due.tenant_id, due.schedule, due.timezone, due.next_run_at FROM due \
             LEFT JOIN going_on ON going_on.tenant_id = due.tenant_id \
             ORDER BY due.turn + COALESCE(going_on.runs, 0), due.next_run_at, due.id LIMIT $2",
        )
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Due {
                    id: row.try_get("id")?,
                    tenant_id: row.try_get("tenant_id")?,
                    schedule: row.try_get("schedule")?,
                    timezone: row.try_get("timezone")?,
                    next_run_at: row.try_get("next_run_at")?,
                })
            })
            .collect()
    }

    /// Makes an active integration due at `now` (a run of it stopped
    /// before it ended).
    pub async fn due_again(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE integrations SET next_run_at = $1 WHERE id = $2 AND state = 'active' AND next_run_at > $1")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Takes the run lease of an integration for `ttl_ms` unless another
    /// holder has it and it has not expired.
    pub async fn acquire_lease(&self, integration: &str, holder: &str, ttl_ms: i64) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO run_leases (integration_id, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (integration_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE run_leases.expires_at < $4",
        )
        .bind(integration)
        .bind(holder)
        .bind(now + ttl_ms)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Extends a held lease; false when it was lost (expired and taken).
    pub async fn renew_lease(&self, integration: &str, holder: &str, ttl_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE run_leases SET expires_at = $1 WHERE integration_id = $2 AND holder = $3")
            .bind(now_ms() + ttl_ms)
            .bind(integration)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a webhook's digest for `ttl_ms`; false when it was recorded
    /// before and has not expired (a replay). Expired digests are dropped.
    pub async fn first_receipt(&self, integration: &str, digest: &str, ttl_ms: i64) -> Result<bool, StoreError> {
        let now = now_ms();
        sqlx::query("DELETE FROM webhook_receipts WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let done = sqlx::query(
            "INSERT INTO webhook_receipts (integration_id, digest, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (integration_id, digest) DO NOTHING",
        )
        .bind(integration)
        .bind(digest)
        .bind(now + ttl_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Releases every lease whose holder starts with `node/`: held by this
    /// node in an earlier life (it was killed), so nobody runs under them.
    pub async fn release_node_leases(&self, node: &str) -> Result<u64, StoreError> {
        let escaped: String = node
            .chars()
            .flat_map(|c| match c {
                '!' | '%' | '_' => vec!['!', c],
                c => vec![c],
            })
            .collect();
        let done = sqlx::query("DELETE FROM run_leases WHERE holder LIKE $1 ESCAPE '!'")
            .bind(format!("{escaped}/%"))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Marks runs left `running` (or `queued`) by a process that died as `interrupted`:
    /// of `integration`, whose lease the caller holds (so none of its runs
    /// is going on), or, without one, of every integration whose lease has
    /// expired or is gone — those, when active, are due again at once, so
    /// that another node finishes what the dead one claimed. Returns how
    /// many runs.
    pub async fn interrupt_orphaned_runs(&self, integration: Option<&str>) -> Result<u64, StoreError> {
        const WHY: &str = "interrupted: the process running it stopped without finishing (killed or crashed); \
                           the next run reads and applies what is left";
        let now = now_ms();
        let done = match integration {
            Some(integration) => {
                sqlx::query(
                    "UPDATE runs SET status = 'interrupted', finished_at = $1, error = $2 \
                     WHERE status IN ('running', 'queued') AND integration_id = $3",
                )
                .bind(now)
                .bind(WHY)
                .bind(integration)
                .execute(&self.pool)
                .await?
            }
            None => {
                // First the integrations, then their runs: a process that
                // dies in between finds the runs still orphaned next time.
                sqlx::query(
                    "UPDATE integrations SET next_run_at = $1 WHERE state = 'active' AND next_run_at > $1 \
                     AND id IN (SELECT integration_id FROM runs WHERE status IN ('running', 'queued') \
                       AND NOT EXISTS (SELECT 1 FROM run_leases l \
                         WHERE l.integration_id = runs.integration_id AND l.expires_at >= $1))",
                )
                .bind(now)
                .execute(&self.pool)
                .await?;
                sqlx::query(
                    "UPDATE runs SET status = 'interrupted', finished_at = $1, error = $2 \
                     WHERE status IN ('running', 'queued') AND NOT EXISTS (SELECT 1 FROM run_leases l \
                       WHERE l.integration_id = runs.integration_id AND l.expires_at >= $3)",
                )
                .bind(now)
                .bind(WHY)
                .bind(now)
                .execute(&self.pool)
                .await?
            }
        };
        Ok(done.rows_affected())
    }

    pub async fn release_lease(&self, integration: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM run_leases WHERE integration_id = $1 AND holder = $2")
            .bind(integration)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl Store {
    /// Runs of a tenant's integrations (or of one), newest first.
    pub async fn tenant_runs(
        &self,
        tenant: &str,
        integration: Option<&str>,
        limit: i64,
    ) -> Result<Vec<super::RunRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.integration_id, r.run_trigger, r.started_by, r.status, r.started_at, r.finished_at, \
             r.error, r.counts FROM runs r JOIN integrations i ON i.id = r.integration_id \
             WHERE i.tenant_id = $1 AND ($2 IS NULL OR r.integration_id = $2) \
             ORDER BY r.started_at DESC, r.id DESC LIMIT $3",
        )
        .bind(tenant)
        .bind(integration)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(super::run_record).collect()
    }

    /// One run, if it belongs to one of the tenant's integrations.
    pub async fn tenant_run(&self, tenant: &str, run: &str) -> Result<Option<super::RunRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT r.id, r.integration_id, r.run_trigger, r.started_by, r.status, r.started_at, r.finished_at, \
             r.error, r.counts FROM runs r JOIN integrations i ON i.id = r.integration_id \
             WHERE i.tenant_id = $1 AND r.id = $2",
        )
        .bind(tenant)
        .bind(run)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(super::run_record).transpose()
    }
}
