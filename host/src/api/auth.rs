//! Who is calling: an API key (`Authorization: Bearer sk_live_...`) names a
//! member of one tenant, with their role and the key's mode. The operator
//! token of the server only creates tenants. Failed authentications are
//! counted per client address; too many in a minute and that address is
//! refused for the rest of it.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::error::ApiError;
use super::AppState;
use crate::store::tenants::{key_hash, Mode, Role};

/// Failed authentications allowed per address and window, by default.
pub const MAX_FAILURES: usize = 10;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// The caller behind an API key.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: String,
    pub member: String,
    pub email: String,
    pub role: Role,
    pub mode: Mode,
}

impl Principal {
    /// Refuses unless the member's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role; the key belongs to a {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }

    /// Refuses test keys: they are a sandbox for test installations and
    /// integrations, and `what` (members, live keys, the tenant's audit
    /// log) is not one.
    pub fn require_live(&self, what: &str) -> Result<(), ApiError> {
        match self.mode {
            Mode::Live => Ok(()),
            Mode::Test => Err(ApiError::Forbidden(format!(
                "a test key cannot reach {what}; use a live key"
            ))),
        }
    }

    /// Test keys see only test objects; live keys see both.
    pub fn sees(&self, mode: Mode) -> bool {
        self.mode == Mode::Live || mode == Mode::Test
    }

    /// Who the audit log names.
    pub fn actor(&self) -> String {
        format!("{} ({} key)", self.email, self.mode.as_str())
    }
}

/// The server operator, who creates tenants.
pub struct Operator;

pub struct AuthGuard {
    operator_hash: Option<String>,
    max_failures: usize,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl AuthGuard {
    pub fn new(operator_token: Option<&str>, max_failures: usize) -> Self {
        Self {
            operator_hash: operator_token.map(key_hash),
            max_failures,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `ip` may try again, if it is locked out.
    pub(super) fn locked_out(&self, ip: IpAddr) -> Option<u64> {
        let mut failures = self.failures.lock().ok()?;
        let recent = failures.get_mut(&ip)?;
        let now = Instant::now();
        while recent.front().is_some_and(|t| now.duration_since(*t) > FAILURE_WINDOW) {
            recent.pop_front();
        }
        if recent.len() < self.max_failures {
            return None;
        }
        let oldest = *recent.front()?;
        Some(
            FAILURE_WINDOW
                .saturating_sub(now.duration_since(oldest))
                .as_secs()
                .max(1),
        )
    }

    pub(super) fn failed(&self, ip: IpAddr) {
        if let Ok(mut failures) = self.failures.lock() {
            if failures.len() > 100_000 {
                failures.clear(); // bounded memory under a flood of addresses
            }
            failures.entry(ip).or_default().push_back(Instant::now());
        }
    }
}

pub(super) fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ip = client_ip(parts);
        if let Some(seconds) = state.guard.locked_out(ip) {
            return Err(ApiError::TooManyFailures(seconds));
        }
        let Some(token) = bearer(parts) else {
            state.guard.failed(ip);
            return Err(ApiError::MissingKey);
        };
        if !(token.starts_with("sk_live_") || token.starts_with("sk_test_")) {
            state.guard.failed(ip);
            return Err(ApiError::BadKey);
        }
        let Some(owner) = state.control.store.key_owner(token).await? else {
            state.guard.failed(ip);
            return Err(ApiError::BadKey);
        };
        Ok(Principal {
            tenant: owner.tenant_id,
            member: owner.member_id,
            email: owner.email,
            role: owner.role,
            mode: owner.mode,
        })
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ip = client_ip(parts);
        if let Some(seconds) = state.guard.locked_out(ip) {
            return Err(ApiError::TooManyFailures(seconds));
        }
        let Some(expected) = &state.guard.operator_hash else {
            return Err(ApiError::Forbidden(
                "tenants are created with the operator token; this server has none (HRSYNC_OPERATOR_TOKEN)".into(),
            ));
        };
        // Comparing hashes keeps the comparison's time independent of the
        // token.
        match bearer(parts) {
            Some(token) if key_hash(token) == *expected => Ok(Operator),
            Some(_) => {
                state.guard.failed(ip);
                Err(ApiError::BadKey)
            }
            None => {
                state.guard.failed(ip);
                Err(ApiError::MissingKey)
            }
        }
    }
}
