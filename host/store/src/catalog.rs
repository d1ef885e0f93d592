//! Uploaded plugins (every version kept) and the installations of them in
//! a tenant.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use utoipa::ToSchema;

use super::tenants::Mode;
use super::{json_column as json, new_id, now_ms, Store, StoreError};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginVersion {
    pub id: String,
    pub name: String,
    pub version: String,
    /// `source`, `target` or `rule`.
    pub kind: String,
    /// The `hrsync:plugin` interface version the component was built for.
    pub wit_version: String,
    /// BLAKE3 of the component's bytes.
    pub content_hash: String,
    pub size: i64,
    /// What the plugin says about itself: config schema, secrets, hosts.
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
    pub created_at: i64,
}

/// An uploaded component, before it is stored.
pub struct NewPlugin<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub wit_version: &'a str,
    pub content_hash: &'a str,
    pub manifest: &'a serde_json::Value,
    pub component: &'a [u8],
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Installation {
    pub id: String,
    pub mode: Mode,
    pub name: String,
    pub plugin: String,
    pub version: String,
    /// The version before the last upgrade, to roll back to.
    pub previous_version: Option<String>,
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// The names of the secrets set; their values are never shown.
    pub secrets: Vec<String>,
    pub allowed_hosts: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Encrypted secret values by name; kept inside the host.
    #[serde(skip)]
    pub sealed_secrets: BTreeMap<String, String>,
}

fn plugin_version(row: &AnyRow) -> Result<PluginVersion, StoreError> {
    Ok(PluginVersion {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        kind: row.try_get("kind")?,
        wit_version: row.try_get("wit_version")?,
        content_hash: row.try_get("content_hash")?,
        size: row.try_get("size")?,
        manifest: json(row, "manifest")?,
        created_at: row.try_get("created_at")?,
    })
}

fn installation(row: &AnyRow) -> Result<Installation, StoreError> {
    let mode: String = row.try_get("mode")?;
    let sealed_secrets: BTreeMap<String, String> = json(row, "secrets")?;
    Ok(Installation {
        id: row.try_get("id")?,
        mode: Mode::parse(&mode).ok_or_else(|| StoreError::Malformed(format!("mode `{mode}`")))?,
        name: row.try_get("name")?,
        plugin: row.try_get("plugin")?,
        version: row.try_get("plugin_version")?,
        previous_version: row.try_get("previous_version")?,
        config: json(row, "config")?,
        secrets: sealed_secrets.keys().cloned().collect(),
        allowed_hosts: json(row, "allowed_hosts")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        sealed_secrets,
    })
}

const PLUGIN_COLUMNS: &str = "id, name, version, kind, wit_version, content_hash, size, manifest, created_at";
const INSTALLATION_COLUMNS: &str = "id, mode, name, plugin, plugin_version, previous_version, config, secrets, \
                                    allowed_hosts, created_at, updated_at";

impl Store {
    /// Stores a plugin version; `None` when that version is already there.
    pub async fn add_plugin(&self, tenant: &str, new: NewPlugin<'_>) -> Result<Option<PluginVersion>, StoreError> {
        let plugin = PluginVersion {
            id: new_id("plg"),
            name: new.name.to_string(),
            version: new.version.to_string(),
            kind: new.kind.to_string(),
            wit_version: new.wit_version.to_string(),
            content_hash: new.content_hash.to_string(),
            size: new.component.len() as i64,
            manifest: new.manifest.clone(),
            created_at: now_ms(),
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO plugin_components (content_hash, component) VALUES ($1, $2) \
             ON CONFLICT (content_hash) DO NOTHING",
        )
        .bind(plugin.content_hash.as_str())
        .bind(new.component.to_vec())
        .execute(&mut *tx)
        .await?;
        let added = sqlx::query(
            "INSERT INTO plugins (id, tenant_id, name, version, kind, wit_version, content_hash, size, manifest, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (tenant_id, name, version) DO NOTHING",
        )
        .bind(plugin.id.as_str())
        .bind(tenant)
        .bind(plugin.name.as_str())
        .bind(plugin.version.as_str())
        .bind(plugin.kind.as_str())
        .bind(plugin.wit_version.as_str())
        .bind(plugin.content_hash.as_str())
        .bind(plugin.size)
        .bind(plugin.manifest.to_string())
        .bind(plugin.created_at)
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() == 1 {
            tx.commit().await?;
        }
        Ok((added.rows_affected() == 1).then_some(plugin))
    }

    /// Every version of every plugin of a tenant, or of one plugin.
    pub async fn plugins(&self, tenant: &str, name: Option<&str>) -> Result<Vec<PluginVersion>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {PLUGIN_COLUMNS} FROM plugins WHERE tenant_id = $1 AND ($2 IS NULL OR name = $2) \
             ORDER BY name, created_at"
        ))
        .bind(tenant)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(plugin_version).collect()
    }

    pub async fn plugin(&self, tenant: &str, name: &str, version: &str) -> Result<Option<PluginVersion>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {PLUGIN_COLUMNS} FROM plugins WHERE tenant_id = $1 AND name = $2 AND version = $3"
        ))
        .bind(tenant)
        .bind(name)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(plugin_version).transpose()
    }

    /// The content hash of a plugin version's component (the runtime
    /// keeps loaded plugins by it, so a run needs the bytes only once).
    pub async fn plugin_content_hash(
        &self,
        tenant: &str,
        name: &str,
        version: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT content_hash FROM plugins WHERE tenant_id = $1 AND name = $2 AND version = $3")
            .bind(tenant)
            .bind(name)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("content_hash")).transpose()?)
    }

    /// The component's bytes.
    pub async fn plugin_component(
        &self,
        tenant: &str,
        name: &str,
        version: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query(
            "SELECT c.component FROM plugins p JOIN plugin_components c ON c.content_hash = p.content_hash \
             WHERE p.tenant_id = $1 AND p.name = $2 AND p.version = $3",
        )
        .bind(tenant)
        .bind(name)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("component")).transpose()?)
    }

    /// Stores a new installation; `None` when the name is taken.
    pub async fn add_installation(&self, tenant: &str, new: &Installation) -> Result<Option<()>, StoreError> {
        let added = sqlx::query(
            "INSERT INTO installations (id, tenant_id, mode, name, plugin, plugin_version, previous_version, config, \
             secrets, allowed_hosts, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (tenant_id, name) DO NOTHING",
        )
        .bind(new.id.as_str())
        .bind(tenant)
        .bind(new.mode.as_str())
        .bind(new.name.as_str())
        .bind(new.plugin.as_str())
        .bind(new.version.as_str())
        .bind(new.previous_version.as_deref())
        .bind(new.config.to_string())
        .bind(serde_json::json!(new.sealed_secrets).to_string())
        .bind(serde_json::json!(new.allowed_hosts).to_string())
        .bind(new.created_at)
        .bind(new.updated_at)
        .execute(&self.pool)
        .await?;
        Ok((added.rows_affected() == 1).then_some(()))
    }

    /// Writes an installation's changeable fields: version, previous
    /// version, config, secrets and hosts.
    pub async fn update_installation(&self, tenant: &str, changed: &Installation) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE installations SET plugin_version = $1, previous_version = $2, config = $3, secrets = $4, \
             allowed_hosts = $5, updated_at = $6 WHERE tenant_id = $7 AND id = $8",
        )
        .bind(changed.version.as_str())
        .bind(changed.previous_version.as_deref())
        .bind(changed.config.to_string())
        .bind(serde_json::json!(changed.sealed_secrets).to_string())
        .bind(serde_json::json!(changed.allowed_hosts).to_string())
        .bind(now_ms())
        .bind(tenant)
        .bind(changed.id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn installations(&self, tenant: &str) -> Result<Vec<Installation>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INSTALLATION_COLUMNS} FROM installations WHERE tenant_id = $1 ORDER BY created_at"
        ))
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(installation).collect()
    }

    pub async fn installation(&self, tenant: &str, id: &str) -> Result<Option<Installation>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {INSTALLATION_COLUMNS} FROM installations WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(installation).transpose()
    }
}
