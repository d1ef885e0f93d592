//! Outbound HTTP on behalf of a plugin.
//!
//! Denied by default. An installation grants origins as
//! `scheme://host[:port]`; `*.example.com` grants every subdomain (not
//! `example.com` itself). A request is sent only when its scheme, host and
//! port match a grant, every redirect hop is checked the same way, and every
//! address a name resolves to is checked before connecting: an address that
//! is not on the public internet (loopback, private, link-local — where
//! cloud metadata lives —, multicast, and their IPv4-mapped and -translated
//! IPv6 forms) is reached only by [`LocalReach`]: in the operator's own
//! integration files when the grant names it literally, for the tenants of
//! `hrsync serve` only within the ranges the operator allows
//! (`--egress-allow`). A granted public name cannot be pointed at the
//! host's own network.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;
use wasmtime::component::{HasSelf, Linker};

use super::{Capability, Identity, SessionContext};
use crate::bindings::v1::http::{self, Host, HttpError, Method, Request, Response};
use crate::state::{CallDeadline, PluginState};

/// One origin an installation may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    scheme: String,
    host: HostPattern,
    /// None: the scheme's default port only.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.example.com`, stored as `.example.com`.
    Subdomains(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid host grant `{grant}`: {reason} (expected scheme://host[:port], e.g. https://api.example.com or https://*.example.com)")]
pub struct GrantError {
    pub grant: String,
    pub reason: String,
}

impl Grant {
    pub fn parse(text: &str) -> Result<Self, GrantError> {
        let fail = |reason: &str| GrantError {
            grant: text.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = text.split_once("://").ok_or_else(|| fail("missing scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(fail("only http and https can be granted"));
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') || rest.contains('@') {
            return Err(fail("a grant is an origin: no path, query or user"));
        }
        let (wildcard, rest) = match rest.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        // Parse through `url` so hosts and ports are normalised exactly as
        // request URLs are.
        let parsed = Url::parse(&format!("{scheme}://{rest}")).map_err(|e| fail(&e.to_string()))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| fail("missing host"))?
            .to_ascii_lowercase();
        if host.contains('*') {
            return Err(fail("a wildcard may only stand first, as *.example.com"));
        }
        if wildcard && parsed.host().is_some_and(|h| !matches!(h, url::Host::Domain(_))) {
            return Err(fail("a wildcard needs a domain name, not an address"));
        }
        let host = if wildcard {
            HostPattern::Subdomains(format!(".{host}"))
        } else {
            HostPattern::Exact(host)
        };
        Ok(Self {
            scheme,
            host,
            port: parsed.port(),
        })
    }

    fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let host_ok = match &self.host {
            HostPattern::Exact(exact) => *exact == host,
            HostPattern::Subdomains(suffix) => host.ends_with(suffix.as_str()) && host.len() > suffix.len(),
        };
        host_ok && self.scheme == url.scheme() && self.port == url.port()
    }

    /// Whether this grant names a loopback/private address (or `localhost`)
    /// literally, which is what it takes to reach one.
    fn names_local_address(&self, host: &str, port: u16) -> bool {
        let HostPattern::Exact(exact) = &self.host else {
            return false;
        };
        let grant_port = self.port.unwrap_or(if self.scheme == "https" { 443 } else { 80 });
        let literal = exact.trim_start_matches('[').trim_end_matches(']');
        let is_local_literal = literal == "localhost" || literal.parse::<IpAddr>().is_ok_and(is_local);
        is_local_literal && exact.eq_ignore_ascii_case(host) && grant_port == port
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match &self.host {
            HostPattern::Exact(h) => h.clone(),
            HostPattern::Subdomains(suffix) => format!("*{suffix}"),
        };
        match self.port {
            Some(port) => write!(f, "{}://{host}:{port}", self.scheme),
            None => write!(f, "{}://{host}", self.scheme),
        }
    }
}

/// Every address that is not the public internet: loopback, private,
/// link-local, unspecified, shared (CGNAT), multicast, reserved and
/// benchmarking ranges, and IPv6 forms that carry an IPv4 address
/// (mapped, compatible, NAT64, 6to4) when the address they carry is one.
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || a == 0 // "this network", 0.0.0.0/8
                || a >= 240 // reserved
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || (a == 198 && (18..20).contains(&b)) // benchmarking
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let embedded_v4 = |high: u16, low: u16| {
                IpAddr::V4(std::net::Ipv4Addr::new(
                    (high >> 8) as u8,
                    high as u8,
                    (low >> 8) as u8,
                    low as u8,
                ))
            };
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_local(IpAddr::V4(v4));
            }
            // IPv4-compatible (::a.b.c.d, deprecated but still routed by
            // some stacks) and NAT64 (64:ff9b::/96) carry the address in
            // their last 32 bits, 6to4 (2002::/16) in bits 16 to 48.
            if segments[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                return is_local(embedded_v4(segments[6], segments[7]));
            }
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_local(embedded_v4(segments[6], segments[7]));
            }
            if segments[0] == 0x2002 {
                return is_local(embedded_v4(segments[1], segments[2]));
            }
            let first = segments[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || (first & 0xffc0) == 0xfec0 // site local (deprecated)
                || (segments[0] == 0x64 && segments[1] == 0xff9b && segments[2] == 1) // local-use NAT64
                || (segments[0] == 0x2001 && segments[1] == 0) // Teredo
                || (segments[0] == 0x100 && segments[1..4] == [0, 0, 0]) // discard
        }
    }
}

/// How a session may reach addresses that are not the public internet.
#[derive(Debug, Clone, Default)]
pub enum LocalReach {
    /// The operator's own integration files (`hrsync sync`): an address
    /// (or `localhost`) that a grant names literally, with its port.
    #[default]
    LiteralGrant,
    /// Tenants of `hrsync serve`: only what the operator allows, whatever
    /// the installation grants.
    Operator(Arc<EgressAllowance>),
}

/// The non-public addresses the operator lets tenants' plugins and
/// notification webhooks reach (`hrsync serve --egress-allow`): ranges
/// (`10.20.0.0/16`), single addresses (`127.0.0.1`) or origins
/// (`http://127.0.0.1:7002`, that address and port only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressAllowance {
    rules: Vec<(ipnet::IpNet, Option<u16>)>,
}

impl EgressAllowance {
    pub fn parse(items: &[impl AsRef<str>]) -> Result<Self, String> {
        let mut rules = Vec::new();
        for item in items {
            let item = item.as_ref().trim();
            if item.is_empty() {
                continue;
            }
            rules.push(Self::rule(item).ok_or_else(|| {
                format!(
                    "egress allowance `{item}`: expected an address range (10.20.0.0/16), an address \
                     (127.0.0.1) or an origin with an address (http://127.0.0.1:7002)"
                )
            })?);
        }
        Ok(Self { rules })
    }

    fn rule(item: &str) -> Option<(ipnet::IpNet, Option<u16>)> {
        if item.contains("://") {
            let url = Url::parse(item).ok()?;
            let ip = match url.host()? {
                url::Host::Ipv4(v4) => IpAddr::V4(v4),
                url::Host::Ipv6(v6) => IpAddr::V6(v6),
                url::Host::Domain(_) => return None,
            };
            return Some((ipnet::IpNet::from(ip), Some(url.port_or_known_default()?)));
        }
        if let Ok(net) = item.parse::<ipnet::IpNet>() {
            return Some((net.trunc(), None));
        }
        let ip = item.parse::<IpAddr>().ok()?;
        Some((ipnet::IpNet::from(ip), None))
    }

    /// Whether `ip` (in any IPv6 spelling of an IPv4 address) on `port`
    /// is allowed.
    pub fn allows(&self, ip: IpAddr, port: u16) -> bool {
        let canonical = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.rules
            .iter()
            .any(|(net, only)| net.contains(&canonical) && only.is_none_or(|p| p == port))
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Why a tenant may not save `grant`: it names a non-public address
    /// (or `localhost`) the operator does not allow. Names that resolve to
    /// such addresses are refused when a request resolves them.
    pub fn refusal(&self, grant: &Grant) -> Option<String> {
        let HostPattern::Exact(host) = &grant.host else {
            return None;
        };
        let port = grant.port.unwrap_or(if grant.scheme == "https" { 443 } else { 80 });
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<IpAddr> = if literal == "localhost" || literal.ends_with(".localhost") {
            vec![
                IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ]
        } else {
            literal.parse::<IpAddr>().into_iter().collect()
        };
        let refused = addresses
            .into_iter()
            .filter(|ip| is_local(*ip))
            .find(|ip| !self.allows(*ip, port))?;
        Some(format!(
            "{grant} is a loopback, private or link-local address ({refused}); installations may reach \
             only public addresses unless the server's operator allows the range (hrsync serve \
             --egress-allow)"
        ))
    }
}

/// How outbound HTTP behaves for one installation.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    pub grants: Vec<Grant>,
    /// Upper bound of one request, connect to last byte.
    pub timeout: Duration,
    pub max_response_bytes: u64,
    pub max_redirects: u32,
    pub local: LocalReach,
    /// Sent with every request (`x-hrsync-tenant`): tells this server's own
    /// API that a request comes from one of its plugins, and whose, so
    /// that its failed logins count against that tenant and not against
    /// the server's address ([`PLUGIN_TAG_HEADER`]).
    pub tenant_tag: Option<String>,
}

/// The header that carries [`HttpPolicy::tenant_tag`]; plugins cannot set it.
pub const PLUGIN_TAG_HEADER: &str = "x-hrsync-tenant";

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            grants: Vec::new(),
            timeout: Duration::from_secs(30),
            max_response_bytes: 16 << 20,
            max_redirects: 5,
            local: LocalReach::default(),
            tenant_tag: None,
        }
    }
}

impl HttpPolicy {
    pub fn with_grants(grants: &[impl AsRef<str>]) -> Result<Self, GrantError> {
        let grants = grants
            .iter()
            .map(|g| Grant::parse(g.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            grants,
            ..Self::default()
        })
    }

    fn check(&self, url: &Url) -> Result<(), String> {
        if self.grants.iter().any(|g| g.matches(url)) {
            return Ok(());
        }
        let origin = origin_of(url);
        Err(format!(
            "outbound HTTP to {origin} is not granted to this installation; \
             to allow it, add \"{origin}\" to the installation's allowed hosts"
        ))
    }

    fn may_reach_local(&self, host: &str, port: u16) -> bool {
        self.grants.iter().any(|g| g.names_local_address(host, port))
    }

    /// Why `host` (resolved to `addresses`) may not be connected to, if
    /// one of its addresses is not public and not reachable by
    /// [`Self::local`].
    pub fn refusal(&self, host: &str, port: u16, addresses: &[SocketAddr]) -> Option<String> {
        let local = addresses.iter().map(SocketAddr::ip).find(|ip| is_local(*ip))?;
        match &self.local {
            LocalReach::LiteralGrant if self.may_reach_local(host, port) => None,
            LocalReach::LiteralGrant => Some(format!(
                "{host} resolves to {local}, a loopback or private address; such addresses are \
                 reachable only when granted literally (e.g. http://{}:{port})",
                SocketAddr::new(local, port).ip()
            )),
            LocalReach::Operator(allowance) => {
                let refused = addresses
                    .iter()
                    .map(SocketAddr::ip)
                    .find(|ip| is_local(*ip) && !allowance.allows(*ip, port))?;
                Some(format!(
                    "{host} resolves to {refused}, a loopback, private or link-local address; this \
                     server lets installations reach only public addresses"
                ))
            }
        }
    }
}

/// `scheme://host:port` with the port always spelled out.
fn origin_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port_or_known_default() {
        Some(port) if url.port().is_some() => format!("{}://{host}:{port}", url.scheme()),
        _ => format!("{}://{host}", url.scheme()),
    }
}

/// What one session's outbound HTTP did, for the run log and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpLedger {
    /// Requests sent (each redirect hop counts).
    pub sent: u64,
    /// Requests refused by policy before anything was sent.
    pub denied: u64,
    /// Requests that got no response (DNS, connect, TLS, timeout) or whose
    /// response broke a limit.
    pub failed: u64,
    pub by_status: BTreeMap<u16, u64>,
    pub bytes_received: u64,
}

/// The HTTP capability of one plugin session.
pub struct OutboundHttp {
    policy: Arc<HttpPolicy>,
    /// Built on the first request: most sessions (rules) never send one.
    agent: Option<ureq::Agent>,
    identity: Identity,
    /// The call in progress: timeouts are cut to fit in it.
    deadline: CallDeadline,
    pub ledger: HttpLedger,
}

impl fmt::Debug for OutboundHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundHttp")
            .field("policy", &self.policy)
            .field("ledger", &self.ledger)
            .finish()
    }
}

/// Marks a resolver refusal so it can be told apart from DNS failures.
#[derive(Debug)]
struct LocalAddressDenied(String);
impl fmt::Display for LocalAddressDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for LocalAddressDenied {}

/// Resolves names for the agent and refuses local addresses the policy does
/// not name. The connection goes to exactly the addresses checked here.
struct PolicyResolver(Arc<HttpPolicy>);

impl ureq::Resolver for PolicyResolver {
    fn resolve(&self, netloc: &str) -> io::Result<Vec<SocketAddr>> {
        let (host, port) = netloc
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("bad address {netloc}")))?;
        let addrs: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
        if let Some(refusal) = self.0.refusal(host, port, &addrs) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                LocalAddressDenied(refusal),
            ));
        }
        Ok(addrs)
    }
}

/// An agent for requests on a tenant's behalf outside the plugins
/// (notification webhooks): no redirects, and every address checked
/// against the operator's allowance before connecting.
pub fn guarded_agent(egress: Arc<EgressAllowance>, timeout: Duration) -> ureq::Agent {
    let policy = HttpPolicy {
        local: LocalReach::Operator(egress),
        ..HttpPolicy::default()
    };
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(timeout)
        .resolver(PolicyResolver(Arc::new(policy)))
        .user_agent(concat!("hrsync/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The egress refusal behind a transport error, if that is what it was.
pub fn refusal_of(transport: &ureq::Transport) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(transport);
    while let Some(error) = source {
        if let Some(denied) = error
            .downcast_ref::<io::Error>()
            .and_then(|e| e.get_ref())
            .and_then(|e| e.downcast_ref::<LocalAddressDenied>())
        {
            return Some(denied.0.clone());
        }
        source = error.source();
    }
    None
}

impl OutboundHttp {
    pub fn new(policy: Arc<HttpPolicy>, identity: Identity) -> Self {
        Self {
            policy,
            agent: None,
            identity,
            deadline: CallDeadline::start(Duration::ZERO),
            ledger: HttpLedger::default(),
        }
    }

    fn agent(&mut self) -> &ureq::Agent {
        let policy = &self.policy;
        self.agent.get_or_insert_with(|| {
            ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(policy.timeout)
                .resolver(PolicyResolver(policy.clone()))
                .user_agent(concat!("hrsync/", env!("CARGO_PKG_VERSION")))
                .build()
        })
    }

    /// Sends a request, following redirects within the grants.
    pub fn send(&mut self, request: Request, call_time_left: Duration) -> Result<Response, HttpError> {
        let mut url = Url::parse(&request.url)
            .map_err(|e| HttpError::InvalidRequest(format!("invalid URL `{}`: {e}", request.url)))?;
        for (name, _) in &request.headers {
            let lower = name.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "host" | "content-length" | "transfer-encoding" | "connection" | PLUGIN_TAG_HEADER
            ) {
                return Err(HttpError::InvalidRequest(format!("header `{name}` is set by the host")));
            }
        }
        let mut timeout = self.policy.timeout.min(call_time_left);
        if let Some(ms) = request.timeout_ms {
            timeout = timeout.min(Duration::from_millis(ms.into()));
        }
        let started = Instant::now();
        let mut method = request.method;
        let mut body = request.body;
        let mut headers = request.headers;
        let mut hops = 0;
        loop {
            if let Err(denied) = self.policy.check(&url) {
                self.ledger.denied += 1;
                hrsync_metrics::plugin_http(&self.identity.plugin, "denied");
                let message = if hops == 0 {
                    denied
                } else {
                    format!("redirect refused: {denied}")
                };
                return Err(HttpError::Denied(message));
            }
            let left = timeout.saturating_sub(started.elapsed());
            let response = self.send_once(method, &url, &headers, body.as_deref(), left)?;
            let location = response
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("location"));
            let Some((_, location)) = location.filter(|_| matches!(response.status, 301 | 302 | 303 | 307 | 308))
            else {
                return Ok(response);
            };
            hops += 1;
            if hops > self.policy.max_redirects {
                return Err(HttpError::Transport(format!(
                    "more than {} redirects, last to {}",
                    self.policy.max_redirects,
                    origin_of(&url)
                )));
            }
            let next = url
                .join(location)
                .map_err(|e| HttpError::Transport(format!("bad redirect location `{location}`: {e}")))?;
            if origin_of(&next) != origin_of(&url) {
                // Credentials are for the origin they were given to.
                headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization") && !k.eq_ignore_ascii_case("cookie"));
            }
            if response.status == 303 || (matches!(response.status, 301 | 302) && method == Method::Post) {
                method = Method::Get;
                body = None;
            }
            url = next;
        }
    }

    fn send_once(
        &mut self,
        method: Method,
        url: &Url,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Response, HttpError> {
        let mut request = self.agent().request_url(method_name(method), url).timeout(timeout);
        for (name, value) in headers {
            request = request.set(name, value);
        }
        if let Some(tag) = &self.policy.tenant_tag {
            request = request.set(PLUGIN_TAG_HEADER, tag);
        }
        self.ledger.sent += 1;
        let started = Instant::now();
        let result = match body {
            Some(body) => request.send_bytes(body),
            None => request.call(),
        };
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(transport)) => {
                self.ledger.failed += 1;
                hrsync_metrics::plugin_http(&self.identity.plugin, "error");
                return Err(transport_error(transport, url, timeout));
            }
        };
        let status = response.status();
        *self.ledger.by_status.entry(status).or_default() += 1;
        hrsync_metrics::plugin_http(&self.identity.plugin, &status.to_string());
        tracing::debug!(
            target: "plugin_http",
            plugin = &*self.identity.plugin,
            run = self.identity.run.as_deref().unwrap_or("-"),
            method = method_name(method),
            origin = %origin_of(url),
            path = url.path(),
            status,
            ms = started.elapsed().as_millis() as u64,
            "outbound request"
        );
        let cap = self.policy.max_response_bytes;
        if response
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|len| len > cap)
        {
            self.ledger.failed += 1;
            return Err(HttpError::TooLarge(cap));
        }
        let headers: Vec<(String, String)> = response
            .headers_names()
            .into_iter()
            .flat_map(|name| {
                let values: Vec<String> = response.all(&name).into_iter().map(str::to_string).collect();
                values.into_iter().map(move |v| (name.clone(), v))
            })
            .collect();
        let mut body = Vec::new();
        let read = response.into_reader().take(cap + 1).read_to_end(&mut body);
        if let Err(e) = read {
            self.ledger.failed += 1;
            return Err(
                if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock {
                    HttpError::Timeout(format!("{} did not finish sending within {timeout:?}", origin_of(url)))
                } else {
                    HttpError::Transport(format!("reading the response of {}: {e}", origin_of(url)))
                },
            );
        }
        self.ledger.bytes_received += body.len() as u64;
        if body.len() as u64 > cap {
            self.ledger.failed += 1;
            return Err(HttpError::TooLarge(cap));
        }
        Ok(Response { status, headers, body })
    }
}

fn transport_error(transport: ureq::Transport, url: &Url, timeout: Duration) -> HttpError {
    if let Some(denied) = refusal_of(&transport) {
        return HttpError::Denied(denied);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&transport);
    while let Some(error) = source {
        if let Some(io_error) = error.downcast_ref::<io::Error>() {
            if matches!(io_error.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) {
                return HttpError::Timeout(format!("{} did not answer within {timeout:?}", origin_of(url)));
            }
        }
        source = error.source();
    }
    HttpError::Transport(format!(
        "{}: {}",
        origin_of(url),
        transport.message().unwrap_or(&transport.kind().to_string())
    ))
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
        Method::Options => "OPTIONS",
    }
}

impl Capability for OutboundHttp {
    fn link(linker: &mut Linker<PluginState>, get: fn(&mut PluginState) -> &mut Self) -> wasmtime::Result<()> {
        http::add_to_linker::<_, HasSelf<OutboundHttp>>(linker, get)
    }

    fn prepare(context: &SessionContext<'_>) -> Self {
        Self::new(Arc::new(context.sandbox.http.clone()), context.identity.clone())
    }

    fn call_started(&mut self, deadline: CallDeadline) {
        self.deadline = deadline;
    }
}

impl Host for OutboundHttp {
    fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        let left = self.deadline.time_left();
        OutboundHttp::send(self, request, left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(grants: &[&str], url: &str) -> bool {
        HttpPolicy::with_grants(grants)
            .unwrap()
            .check(&Url::parse(url).unwrap())
            .is_ok()
    }

    #[test]
    fn exact_host_and_default_port() {
        assert!(allowed(&["https://api.personio.de"], "https://api.personio.de/v1/auth"));
        assert!(allowed(&["https://api.personio.de"], "https://API.personio.de:443/v1"));
        assert!(!allowed(
            &["https://api.personio.de"],
            "https://api.personio.de:8443/v1"
        ));
        assert!(!allowed(&["https://api.personio.de"], "https://personio.de/"));
        assert!(!allowed(
            &["https://api.personio.de"],
            "https://api.personio.de.evil.com/"
        ));
    }

    #[test]
    fn explicit_port() {
        assert!(allowed(&["http://127.0.0.1:8080"], "http://127.0.0.1:8080/x"));
        assert!(!allowed(&["http://127.0.0.1:8080"], "http://127.0.0.1:8081/x"));
        assert!(!allowed(&["http://127.0.0.1:8080"], "http://127.0.0.1/x"));
    }

    #[test]
    fn wildcard_subdomains_but_not_the_apex() {
        let grant = ["https://*.bamboohr.com"];
        assert!(allowed(&grant, "https://acme.bamboohr.com/api/v1/employees"));
        assert!(allowed(&grant, "https://a.b.bamboohr.com/"));
        assert!(!allowed(&grant, "https://bamboohr.com/"));
        assert!(!allowed(&grant, "https://evilbamboohr.com/"));
    }

    #[test]
    fn scheme_must_match() {
        assert!(!allowed(&["https://api.example.com"], "http://api.example.com/"));
        assert!(!allowed(&["http://api.example.com"], "https://api.example.com/"));
    }

    #[test]
    fn denial_names_the_origin_and_how_to_grant_it() {
        let policy = HttpPolicy::with_grants(&["https://api.example.com"]).unwrap();
        let message = policy
            .check(&Url::parse("https://evil.example.net:8443/steal").unwrap())
            .unwrap_err();
        assert!(message.contains("https://evil.example.net:8443"), "{message}");
        assert!(message.contains("allowed hosts"), "{message}");
    }

    #[test]
    fn bad_grants_are_rejected_with_the_reason() {
        for bad in [
            "api.example.com",
            "ftp://x.example.com",
            "https://x.example.com/path",
            "https://a.*.example.com",
            "https://*.10.0.0.1",
        ] {
            assert!(Grant::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Grant::parse("https://*.Example.com").unwrap().to_string(),
            "https://*.example.com"
        );
    }

    #[test]
    fn local_addresses_need_a_literal_grant() {
        let policy =
            HttpPolicy::with_grants(&["http://127.0.0.1:9000", "https://*.example.com", "http://localhost:81"])
                .unwrap();
        assert!(policy.may_reach_local("127.0.0.1", 9000));
        assert!(!policy.may_reach_local("127.0.0.1", 9001));
        assert!(policy.may_reach_local("localhost", 81));
        assert!(!policy.may_reach_local("intranet.example.com", 443));
        for local in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_local(local.parse().unwrap()), "{local}");
        }
        for public in ["1.1.1.1", "2606:4700::1111", "100.128.0.1"] {
            assert!(!is_local(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn every_form_of_a_non_public_address_is_local() {
        for local in [
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.0.8",
            "198.18.0.1",
            "ff02::1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378::1",
            "fec0::1",
            "100::1",
        ] {
            assert!(is_local(local.parse().unwrap()), "{local}");
        }
        for public in ["64:ff9b::101:101", "2002:101:101::1", "2001:db8:1::1", "8.8.8.8"] {
            assert!(!is_local(public.parse().unwrap()), "{public}");
        }
        // Numeric spellings become addresses when a URL is parsed.
        for spelling in [
            "2130706433",
            "0x7f000001",
            "017700000001",
            "127.1",
            "[::ffff:127.0.0.1]",
        ] {
            let url = Url::parse(&format!("http://{spelling}/")).unwrap();
            let ip = match url.host().unwrap() {
                url::Host::Ipv4(v4) => IpAddr::V4(v4),
                url::Host::Ipv6(v6) => IpAddr::V6(v6),
                url::Host::Domain(d) => panic!("{spelling} parsed as the name {d}"),
            };
            assert!(is_local(ip), "{spelling}");
        }
    }

    #[test]
    fn the_operator_allowance_parses_ranges_addresses_and_origins() {
        let allowance = EgressAllowance::parse(&["10.20.0.0/16", "127.0.0.1", "http://192.168.1.5:8443", " "]).unwrap();
        assert!(allowance.allows("10.20.3.4".parse().unwrap(), 443));
        assert!(!allowance.allows("10.21.0.1".parse().unwrap(), 443));
        assert!(allowance.allows("::ffff:127.0.0.1".parse().unwrap(), 80));
        assert!(allowance.allows("192.168.1.5".parse().unwrap(), 8443));
        assert!(!allowance.allows("192.168.1.5".parse().unwrap(), 80));
        for bad in ["intranet.example.com", "http://intranet:80", "10.0.0.0/33", "300.1.1.1"] {
            let error = EgressAllowance::parse(&[bad]).unwrap_err();
            assert!(error.contains(bad) && error.contains("expected"), "{error}");
        }
        let grant = |g: &str| Grant::parse(g).unwrap();
        assert!(allowance.refusal(&grant("http://10.20.0.9:8080")).is_none());
        assert!(allowance.refusal(&grant("https://api.personio.de")).is_none());
        assert!(allowance.refusal(&grant("https://*.bamboohr.com")).is_none());
        let refusal = allowance.refusal(&grant("http://169.254.169.254")).unwrap();
        assert!(
            refusal.contains("169.254.169.254") && refusal.contains("--egress-allow"),
            "{refusal}"
        );
        assert!(
            allowance.refusal(&grant("http://localhost:80")).is_some(),
            "::1 is not allowed"
        );
    }
}
