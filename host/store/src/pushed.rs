//! Directories pushed to hrsync: the Users and Groups an identity
//! provider keeps at an integration's inbound SCIM endpoint, one row each,
//! changed under an optimistic version (the ETag) so that two concurrent
//! PATCHes cannot lose one another's change.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// One stored resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    pub id: String,
    /// The resource without `id` and `meta` (the endpoint adds both).
    pub body: serde_json::Value,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a resource is known by besides its id: the columns kept for
/// uniqueness and for filters that need no scan.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// Lower-cased userName of a User; unique per integration.
    pub name: Option<String>,
    pub external_id: Option<String>,
}

/// How a write ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    Done(Pushed),
    /// Another resource has the name (a User's userName).
    NameTaken,
    /// No such resource.
    Missing,
    /// The resource changed since the version the write was based on.
    Stale,
}

fn pushed(row: &AnyRow) -> Result<Pushed, StoreError> {
    let body: String = row.try_get("body")?;
    Ok(Pushed {
        id: row.try_get("id")?,
        body: serde_json::from_str(&body).map_err(|e| StoreError::Malformed(format!("pushed body: {e}")))?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

const COLUMNS: &str = "id, body, version, created_at, updated_at";

impl Store {
    /// Stores a new resource; `NameTaken` when its name is another's.
    pub async fn push_create(
        &self,
        integration: &str,
        kind: &str,
        id: &str,
        keys: &Keys,
        body: &serde_json::Value,
    ) -> Result<Written, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO pushed_resources (integration_id, resource_type, id, name_key, external_id, body, version, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
        )
        .bind(integration)
        .bind(kind)
        .bind(id)
        .bind(keys.name.as_deref())
        .bind(keys.external_id.as_deref())
        .bind(body.to_string())
        .bind(now)
        .execute(&self.pool)
        .await;
        match done {
            Ok(_) => Ok(Written::Done(Pushed {
                id: id.to_string(),
                body: body.clone(),
                version: 1,
                created_at: now,
                updated_at: now,
            })),
            Err(error) if unique_violation(&error) => Ok(Written::NameTaken),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn pushed(&self, integration: &str, kind: &str, id: &str) -> Result<Option<Pushed>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM pushed_resources WHERE integration_id = $1 AND resource_type = $2 AND id = $3"
        ))
        .bind(integration)
        .bind(kind)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(pushed).transpose()
    }

    /// Every resource of a kind, oldest first.
    pub async fn pushed_all(&self, integration: &str, kind: &str) -> Result<Vec<Pushed>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM pushed_resources WHERE integration_id = $1 AND resource_type = $2 \
             ORDER BY created_at, id"
        ))
        .bind(integration)
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pushed).collect()
    }

    /// The resources whose key column equals `value`: `name` (lower-cased
    /// userName) or `external_id`.
    pub async fn pushed_by_key(
        &self,
        integration: &str,
        kind: &str,
        key: PushedKey,
        value: &str,
    ) -> Result<Vec<Pushed>, StoreError> {
        let column = match key {
            PushedKey::Name => "name_key",
            PushedKey::ExternalId => "external_id",
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM pushed_resources WHERE integration_id = $1 AND resource_type = $2 \
             AND {column} = $3 ORDER BY created_at, id"
        ))
        .bind(integration)
        .bind(kind)
        .bind(value)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pushed).collect()
    }

    /// Replaces a resource if it is still at `version`.
    pub async fn push_replace(
        &self,
        integration: &str,
        kind: &str,
        id: &str,
        version: i64,
        keys: &Keys,
        body: &serde_json::Value,
    ) -> Result<Written, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE pushed_resources SET name_key = $1, external_id = $2, body = $3, version = version + 1, \
             updated_at = $4 WHERE integration_id = $5 AND resource_type = $6 AND id = $7 AND version = $8",
        )
        .bind(keys.name.as_deref())
        .bind(keys.external_id.as_deref())
        .bind(body.to_string())
        .bind(now)
        .bind(integration)
        .bind(kind)
        .bind(id)
        .bind(version)
        .execute(&self.pool)
        .await;
        match done {
            Ok(done) if done.rows_affected() == 1 => match self.pushed(integration, kind, id).await? {
                Some(stored) => Ok(Written::Done(stored)),
                None => Ok(Written::Missing),
            },
            Ok(_) => Ok(match self.pushed(integration, kind, id).await? {
                Some(_) => Written::Stale,
                None => Written::Missing,
            }),
            Err(error) if unique_violation(&error) => Ok(Written::NameTaken),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes a resource; whether there was one.
    pub async fn push_delete(&self, integration: &str, kind: &str, id: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM pushed_resources WHERE integration_id = $1 AND resource_type = $2 AND id = $3")
                .bind(integration)
                .bind(kind)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// A key column of pushed resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushedKey {
    Name,
    ExternalId,
}
