//! Who is calling: an API key (`Authorization: Bearer sk_live_...`) names a
//! member of one tenant, with their role and the key's mode. The operator
//! token of the server only creates tenants. Failed authentications are
//! counted per client address — or, for requests of this server's own
//! plugins (tagged `x-hrsync-tenant`), per tenant, so that a tenant who aims
//! a plugin at this server locks out only itself. Too many in a minute and
//! that address (or tenant) is refused for the rest of it; beyond a budget
//! for all addresses together, every address that has failed is refused
//! (a guess spread over many addresses).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::error::ApiError;
use super::AppState;
use hrsync_store::tenants::{key_hash, Mode, Role};

/// Failed authentications allowed per address and window, by default.
pub const MAX_FAILURES: usize = 10;
/// Failed authentications of all addresses together per window, by default.
pub const MAX_TOTAL_FAILURES: usize = 200;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// The caller behind an API key.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: String,
    pub member: String,
    pub email: String,
    pub role: Role,
    pub mode: Mode,
    pub via: Via,
}

/// How the caller came: with the key on each request, or signed in to the
/// console with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Key,
    Console,
}

impl Principal {
    /// The member behind a key or a console session.
    pub fn of(owner: hrsync_store::tenants::KeyOwner, via: Via) -> Self {
        Principal {
            tenant: owner.tenant_id,
            member: owner.member_id,
            email: owner.email,
            role: owner.role,
            mode: owner.mode,
            via,
        }
    }

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
        match self.via {
            Via::Key => format!("{} ({} key)", self.email, self.mode.as_str()),
            Via::Console => format!("{} (console, {} key)", self.email, self.mode.as_str()),
        }
    }
}

/// The server operator, who creates tenants.
pub struct Operator;

/// Where failed authentications are counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Bucket {
    Address(IpAddr),
    /// Requests of this server's own plugins, by tenant.
    Plugins(String),
    /// Requests to one integration's inbound SCIM endpoint from one
    /// address: identity providers push from addresses all their
    /// customers share, so one tenant's wrong token must not lock out
    /// another's pushes.
    Endpoint(IpAddr, String),
}

pub struct AuthGuard {
    operator_hash: Option<String>,
    max_failures: usize,
    max_total_failures: usize,
    failures: Mutex<Failures>,
}

#[derive(Default)]
struct Failures {
    by_bucket: HashMap<Bucket, VecDeque<Instant>>,
    total: VecDeque<Instant>,
}

fn forget_old(times: &mut VecDeque<Instant>, now: Instant) {
    while times.front().is_some_and(|t| now.duration_since(*t) > FAILURE_WINDOW) {
        times.pop_front();
    }
}

impl AuthGuard {
    pub fn new(operator_token: Option<&str>, max_failures: usize, max_total_failures: usize) -> Self {
        Self {
            operator_hash: operator_token.map(key_hash),
            max_failures,
            max_total_failures,
            failures: Mutex::new(Failures::default()),
        }
    }

    /// Seconds until `bucket` may try again, if it is locked out: it failed
    /// too often itself, or it failed at all while all addresses together
    /// failed beyond the total budget.
    pub(crate) fn locked_out(&self, bucket: &Bucket) -> Option<u64> {
        let mut failures = self.failures.lock().ok()?;
        let now = Instant::now();
        let Failures { by_bucket, total } = &mut *failures;
        forget_old(total, now);
        let recent = by_bucket.get_mut(bucket)?;
        forget_old(recent, now);
        let oldest = *recent.front()?;
        let own = recent.len() >= self.max_failures;
        let everyone = total.len() >= self.max_total_failures;
        if !own && !everyone {
            return None;
        }
        // Own failures age out one by one; under the total budget, the
        // oldest failure of all decides.
        let since = if own { oldest } else { *total.front()? };
        Some(
            FAILURE_WINDOW
                .saturating_sub(now.duration_since(since))
                .as_secs()
                .max(1),
        )
    }

    pub(crate) fn failed(&self, bucket: Bucket) {
        if let Ok(mut failures) = self.failures.lock() {
            let now = Instant::now();
            if failures.by_bucket.len() > 100_000 {
                failures.by_bucket.clear(); // bounded memory under a flood of addresses
            }
            failures.by_bucket.entry(bucket).or_default().push_back(now);
            failures.total.push_back(now);
            if failures.total.len() > self.max_total_failures.saturating_mul(2).max(1024) {
                failures.total.pop_front();
            }
        }
    }
}

/// Where a request's failures count: its tenant, for a request this
/// server's own plugins made (its `x-hrsync-tenant` tag checks out), its
/// client address otherwise.
pub(crate) fn bucket(parts: &Parts, state: &AppState) -> Bucket {
    parts
        .headers
        .get(hrsync_runtime::capability::http::PLUGIN_TAG_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| state.control.tenant_of_tag(value))
        .map_or_else(|| Bucket::Address(client_ip(parts, state)), Bucket::Plugins)
}

/// The address a request came from: the TCP peer, unless the peer is one
/// of the operator's `--trusted-proxies`; then the nearest address in
/// `X-Forwarded-For` that is not a trusted proxy. Proxies append the
/// address they were reached from, so entries left of the first untrusted
/// one are the client's to make up and are never read.
pub(crate) fn client_ip(parts: &Parts, state: &AppState) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_canonical())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    forwarded_client(peer, &parts.headers, &state.settings.trusted_proxies)
}

fn forwarded_client(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("").split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        // What a trusted proxy wrote is an address, maybe with a port; an
        // entry that is neither cannot be told from a forgery, so the
        // nearest hop known stands for the client.
        let Some(ip) = parse_hop(hop) else { return client };
        client = ip;
        if !is_trusted(&ip) {
            return ip;
        }
    }
    client
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|address| address.ip()))
        .map(|ip| ip.to_canonical())
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let bucket = bucket(parts, state);
        if let Some(seconds) = state.guard.locked_out(&bucket) {
            return Err(ApiError::TooManyFailures(seconds));
        }
        let Some(token) = bearer(parts) else {
            state.guard.failed(bucket);
            return Err(ApiError::MissingKey);
        };
        if !(token.starts_with("sk_live_") || token.starts_with("sk_test_")) {
            state.guard.failed(bucket);
            return Err(ApiError::BadKey);
        }
        let Some(owner) = state.control.store.key_owner(token).await? else {
            state.guard.failed(bucket);
            return Err(ApiError::BadKey);
        };
        Ok(Principal::of(owner, Via::Key))
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let bucket = bucket(parts, state);
        if let Some(seconds) = state.guard.locked_out(&bucket) {
            return Err(ApiError::TooManyFailures(seconds));
        }
        let Some(expected) = &state.guard.operator_hash else {
            return Err(ApiError::Forbidden(
                "this needs the operator token (it creates tenants and reads /metrics); this server has none: start it with HRSYNC_OPERATOR_TOKEN".into(),
            ));
        };
        // Comparing hashes keeps the comparison's time independent of the
        // token.
        match bearer(parts) {
            Some(token) if key_hash(token) == *expected => Ok(Operator),
            Some(_) => {
                state.guard.failed(bucket);
                Err(ApiError::BadKey)
            }
            None => {
                state.guard.failed(bucket);
                Err(ApiError::MissingKey)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::forwarded_client;
    use axum::http::HeaderMap;
    use std::net::IpAddr;

    fn client(peer: &str, forwarded: &[&str], trusted: &[&str]) -> IpAddr {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        let trusted: Vec<ipnet::IpNet> = trusted.iter().map(|net| net.parse().unwrap()).collect();
        forwarded_client(peer.parse().unwrap(), &headers, &trusted)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        assert_eq!(client("203.0.113.9", &["198.51.100.1"], &[]), ip("203.0.113.9"));
        assert_eq!(
            client("203.0.113.9", &["198.51.100.1"], &["10.0.0.0/8"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            client("10.0.0.5", &["198.51.100.1"], &["10.0.0.0/8"]),
            ip("198.51.100.1")
        );
        assert_eq!(client("10.0.0.5", &[], &["10.0.0.0/8"]), ip("10.0.0.5"));
    }

    #[test]
    fn what_the_client_wrote_left_of_its_own_address_is_not_read() {
        // The client sent `X-Forwarded-For: 192.0.2.77`; the balancer
        // appended the address it was reached from.
        let header = ["192.0.2.77, 198.51.100.1"];
        assert_eq!(client("10.0.0.5", &header, &["10.0.0.0/8"]), ip("198.51.100.1"));
        // Two proxies, both trusted; the header split over two lines.
        let lines = ["192.0.2.77", "198.51.100.1, 10.0.0.7"];
        assert_eq!(client("10.0.0.5", &lines, &["10.0.0.0/8"]), ip("198.51.100.1"));
    }

    #[test]
    fn ports_mapped_addresses_and_garbage() {
        let trusted = ["10.0.0.0/8", "fd00::/8"];
        assert_eq!(client("fd00::1", &["198.51.100.1:4711"], &trusted), ip("198.51.100.1"));
        assert_eq!(client("fd00::1", &["[2001:db8::5]:443"], &trusted), ip("2001:db8::5"));
        assert_eq!(
            client("10.0.0.5", &["::ffff:198.51.100.1"], &trusted),
            ip("198.51.100.1")
        );
        // An entry that is not an address: the nearest known hop stands in.
        assert_eq!(client("10.0.0.5", &["198.51.100.1, unknown"], &trusted), ip("10.0.0.5"));
        assert_eq!(client("10.0.0.5", &["unknown, 10.0.0.7"], &trusted), ip("10.0.0.7"));
    }
}
