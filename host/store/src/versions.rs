//! Every configuration an installation or an integration has had, in
//! order: the admin API lists, compares and restores them
//! (`host/server/src/api/versions.rs`).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use utoipa::ToSchema;

use super::{json_column as json, now_ms, Store, StoreError};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfigVersion {
    /// 1, 2, 3, ... per installation or integration.
    pub version: i64,
    /// What made it: `installation.create`, `integration.update`,
    /// `integration.restore`, ...
    pub action: String,
    /// The member who made it.
    pub actor: String,
    pub created_at: i64,
    /// The versioned configuration (secret names only, never values).
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
}

/// Who made a version, and by which action.
pub struct Author<'a> {
    pub actor: &'a str,
    pub action: &'a str,
}

/// The state before versions were kept, recorded as version 1 when an
/// installation or integration made before then first changes.
pub struct Baseline<'a> {
    pub config: &'a serde_json::Value,
    pub at: i64,
}

fn config_version(row: &AnyRow) -> Result<ConfigVersion, StoreError> {
    Ok(ConfigVersion {
        version: row.try_get("version")?,
        action: row.try_get("action")?,
        actor: row.try_get("actor")?,
        created_at: row.try_get("created_at")?,
        config: json(row, "config")?,
    })
}

const COLUMNS: &str = "version, action, actor, created_at, config";

impl Store {
    /// Appends a version of `subject`'s configuration unless it equals the
    /// newest one; answers the new version's number (`None`: unchanged).
    pub async fn add_config_version(
        &self,
        tenant: &str,
        subject: &str,
        author: Author<'_>,
        config: &serde_json::Value,
        baseline: Option<Baseline<'_>>,
    ) -> Result<Option<i64>, StoreError> {
        let newest = self.newest_config_version(tenant, subject).await?;
        match (&newest, baseline) {
            (Some(newest), _) if &newest.config == config => return Ok(None),
            (None, Some(baseline)) if baseline.config != config => {
                let before = Author {
                    actor: "(unknown: made before versions were kept)",
                    action: "baseline",
                };
                self.insert_config_version(tenant, subject, before, baseline.config, baseline.at)
                    .await?;
            }
            _ => {}
        }
        self.insert_config_version(tenant, subject, author, config, now_ms())
            .await
            .map(Some)
    }

    async fn insert_config_version(
        &self,
        tenant: &str,
        subject: &str,
        author: Author<'_>,
        config: &serde_json::Value,
        at: i64,
    ) -> Result<i64, StoreError> {
        // The number is taken in the statement itself; two changes of one
        // subject at the same instant collide on the primary key and the
        // second fails rather than overwriting the first.
        let row = sqlx::query(
            "INSERT INTO config_versions (tenant_id, subject_id, version, action, actor, created_at, config) \
             SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5, $6 FROM config_versions \
             WHERE subject_id = $2 RETURNING version",
        )
        .bind(tenant)
        .bind(subject)
        .bind(author.action)
        .bind(author.actor)
        .bind(at)
        .bind(config.to_string())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("version")?)
    }

    async fn newest_config_version(&self, tenant: &str, subject: &str) -> Result<Option<ConfigVersion>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM config_versions WHERE tenant_id = $1 AND subject_id = $2 \
             ORDER BY version DESC LIMIT 1"
        ))
        .bind(tenant)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(config_version).transpose()
    }

    /// Every version of `subject`, the newest first.
    pub async fn config_versions(&self, tenant: &str, subject: &str) -> Result<Vec<ConfigVersion>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM config_versions WHERE tenant_id = $1 AND subject_id = $2 ORDER BY version DESC"
        ))
        .bind(tenant)
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(config_version).collect()
    }

    pub async fn config_version(
        &self,
        tenant: &str,
        subject: &str,
        version: i64,
    ) -> Result<Option<ConfigVersion>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM config_versions WHERE tenant_id = $1 AND subject_id = $2 AND version = $3"
        ))
        .bind(tenant)
        .bind(subject)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(config_version).transpose()
    }
}
