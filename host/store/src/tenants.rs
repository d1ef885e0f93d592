//! Tenants, their members and API keys.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use utoipa::ToSchema;

use super::{new_id, now_ms, Store, StoreError};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// What a member may do: owners everything, admins all but members and
/// keys, viewers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Member {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub created_at: i64,
}

/// `test` keys see only test installations and integrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Test,
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "test" => Some(Mode::Test),
            "live" => Some(Mode::Live),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub member_id: String,
    pub mode: Mode,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Who a key belongs to, found by its hash.
#[derive(Debug, Clone)]
pub struct KeyOwner {
    pub key_id: String,
    pub tenant_id: String,
    pub member_id: String,
    pub email: String,
    pub role: Role,
    pub mode: Mode,
}

/// A new key: its record and the key itself, shown once.
pub struct IssuedKey {
    pub key: ApiKey,
    pub secret: String,
}

/// Keys are 32 random bytes; a fast hash is enough to store them (nothing
/// to brute-force), and it lets a key be found by its hash.
pub fn key_hash(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

fn malformed(what: &str, value: &str) -> StoreError {
    StoreError::Malformed(format!("{what} `{value}`"))
}

fn member(row: &AnyRow) -> Result<Member, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(Member {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: Role::parse(&role).ok_or_else(|| malformed("role", &role))?,
        created_at: row.try_get("created_at")?,
    })
}

fn owner_of_row(row: &AnyRow) -> Result<KeyOwner, StoreError> {
    let (role, mode): (String, String) = (row.try_get("role")?, row.try_get("mode")?);
    Ok(KeyOwner {
        key_id: row.try_get("key_id")?,
        tenant_id: row.try_get("tenant_id")?,
        member_id: row.try_get("member_id")?,
        email: row.try_get("email")?,
        role: Role::parse(&role).ok_or_else(|| malformed("role", &role))?,
        mode: Mode::parse(&mode).ok_or_else(|| malformed("mode", &mode))?,
    })
}

fn api_key(row: &AnyRow) -> Result<ApiKey, StoreError> {
    let mode: String = row.try_get("mode")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        member_id: row.try_get("member_id")?,
        mode: Mode::parse(&mode).ok_or_else(|| malformed("mode", &mode))?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    pub async fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError> {
        let tenant = Tenant {
            id: new_id("ten"),
            name: name.to_string(),
            created_at: now_ms(),
        };
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(tenant.id.as_str())
            .bind(tenant.name.as_str())
            .bind(tenant.created_at)
            .execute(&self.pool)
            .await?;
        Ok(tenant)
    }

    pub async fn tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(Tenant {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// Adds a member; `None` when the e-mail is already a member.
    pub async fn add_member(&self, tenant: &str, email: &str, role: Role) -> Result<Option<Member>, StoreError> {
        let member = Member {
            id: new_id("mem"),
            email: email.to_string(),
            role,
            created_at: now_ms(),
        };
        let added = sqlx::query(
            "INSERT INTO members (id, tenant_id, email, role, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, email) DO NOTHING",
        )
        .bind(member.id.as_str())
        .bind(tenant)
        .bind(member.email.as_str())
        .bind(role.as_str())
        .bind(member.created_at)
        .execute(&self.pool)
        .await?;
        Ok((added.rows_affected() == 1).then_some(member))
    }

    pub async fn members(&self, tenant: &str) -> Result<Vec<Member>, StoreError> {
        let rows =
            sqlx::query("SELECT id, email, role, created_at FROM members WHERE tenant_id = $1 ORDER BY created_at")
                .bind(tenant)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(member).collect()
    }

    pub async fn member(&self, tenant: &str, id: &str) -> Result<Option<Member>, StoreError> {
        let row = sqlx::query("SELECT id, email, role, created_at FROM members WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(member).transpose()
    }

    pub async fn set_member_role(&self, tenant: &str, id: &str, role: Role) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE members SET role = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(role.as_str())
            .bind(tenant)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a member and revokes their keys.
    pub async fn remove_member(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM members WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND member_id = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Issues a key for a member: `sk_test_...` or `sk_live_...`, 32
    /// random bytes; only its hash is stored.
    pub async fn issue_key(&self, tenant: &str, member: &str, mode: Mode, name: &str) -> Result<IssuedKey, StoreError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| StoreError::Malformed(format!("no randomness: {e}")))?;
        let body: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let secret = format!("sk_{}_{body}", mode.as_str());
        let key = ApiKey {
            id: new_id("key"),
            name: name.to_string(),
            member_id: member.to_string(),
            mode,
            prefix: secret[..secret.len().min(16)].to_string(),
            created_at: now_ms(),
            revoked_at: None,
        };
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, member_id, mode, name, prefix, hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(key.id.as_str())
        .bind(tenant)
        .bind(member)
        .bind(mode.as_str())
        .bind(key.name.as_str())
        .bind(key.prefix.as_str())
        .bind(key_hash(&secret))
        .bind(key.created_at)
        .execute(&self.pool)
        .await?;
        Ok(IssuedKey { key, secret })
    }

    pub async fn keys(&self, tenant: &str) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, member_id, mode, prefix, created_at, revoked_at FROM api_keys \
             WHERE tenant_id = $1 ORDER BY created_at",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(api_key).collect()
    }

    pub async fn revoke_key(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(tenant)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The member behind a key that is not revoked, with their current role.
    pub async fn key_owner(&self, secret: &str) -> Result<Option<KeyOwner>, StoreError> {
        let row = sqlx::query(
            "SELECT k.id AS key_id, k.tenant_id, k.member_id, k.mode, m.email, m.role FROM api_keys k \
             JOIN members m ON m.id = k.member_id AND m.tenant_id = k.tenant_id \
             WHERE k.hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(key_hash(secret))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(owner_of_row).transpose()
    }

    /// The e-mail addresses of a tenant's owners, for notifications.
    pub async fn owner_emails(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT email FROM members WHERE tenant_id = $1 AND role = 'owner' ORDER BY email")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("email")?)).collect()
    }
}

/// A console session's secret: the cookie's value, shown to the browser
/// only; the database keeps its hash.
pub struct OpenedSession {
    pub secret: String,
    pub expires_at: i64,
}

impl Store {
    /// Opens a console session for the holder of a key, for `ttl_ms`; the
    /// expired sessions of every tenant are dropped on the way.
    pub async fn open_session(&self, owner: &KeyOwner, ttl_ms: i64) -> Result<OpenedSession, StoreError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| StoreError::Malformed(format!("no randomness: {e}")))?;
        let secret: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let now = now_ms();
        sqlx::query("DELETE FROM console_sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let expires_at = now + ttl_ms;
        sqlx::query(
            "INSERT INTO console_sessions (hash, tenant_id, key_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key_hash(&secret))
        .bind(owner.tenant_id.as_str())
        .bind(owner.key_id.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(OpenedSession { secret, expires_at })
    }

    /// The member behind a console session that has not expired, whose key
    /// is not revoked and who is still a member, with their current role.
    pub async fn session_owner(&self, secret: &str) -> Result<Option<KeyOwner>, StoreError> {
        let row = sqlx::query(
            "SELECT k.id AS key_id, k.tenant_id, k.member_id, k.mode, m.email, m.role FROM console_sessions s \
             JOIN api_keys k ON k.id = s.key_id AND k.tenant_id = s.tenant_id AND k.revoked_at IS NULL \
             JOIN members m ON m.id = k.member_id AND m.tenant_id = k.tenant_id \
             WHERE s.hash = $1 AND s.expires_at > $2",
        )
        .bind(key_hash(secret))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(owner_of_row).transpose()
    }

    /// Ends a console session (signing out).
    pub async fn close_session(&self, secret: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM console_sessions WHERE hash = $1")
            .bind(key_hash(secret))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
