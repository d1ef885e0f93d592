//! Outbound HTTP on behalf of a plugin.
//!
//! Denied by default. An installation grants origins as
//! `scheme://host[:port]`; `*.example.com` grants every subdomain (not
//! `example.com` itself). A request is sent only when its scheme, host and
//! port match a grant, every redirect hop is checked the same way, and the
//! address a name resolves to may be loopback, private or link-local only
//! when the grant names that address (or `localhost`) literally, so a granted
//! public name cannot be pointed at the host's own network.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;

use crate::runtime::bindings::http::{Host, HttpError, Method, Request, Response};
use crate::runtime::state::{Identity, PluginState};

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

/// Loopback, private, link-local, unspecified, shared and unique-local
/// addresses: everything that is not the public internet.
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_local(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
        }
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
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            grants: Vec::new(),
            timeout: Duration::from_secs(30),
            max_response_bytes: 16 << 20,
            max_redirects: 5,
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
        if !self.0.may_reach_local(host, port) {
            if let Some(local) = addrs.iter().find(|a| is_local(a.ip())) {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    LocalAddressDenied(format!(
                        "{host} resolves to {}, a loopback or private address; such addresses are \
                         reachable only when granted literally (e.g. http://{}:{port})",
                        local.ip(),
                        local.ip()
                    )),
                ));
            }
        }
        Ok(addrs)
    }
}

impl OutboundHttp {
    pub fn new(policy: Arc<HttpPolicy>, identity: Identity) -> Self {
        Self {
            policy,
            agent: None,
            identity,
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
                "host" | "content-length" | "transfer-encoding" | "connection"
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
                crate::metrics::plugin_http(&self.identity.plugin, "denied");
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
                crate::metrics::plugin_http(&self.identity.plugin, "error");
                return Err(transport_error(transport, url, timeout));
            }
        };
        let status = response.status();
        *self.ledger.by_status.entry(status).or_default() += 1;
        crate::metrics::plugin_http(&self.identity.plugin, &status.to_string());
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
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&transport);
    while let Some(error) = source {
        if let Some(io_error) = error.downcast_ref::<io::Error>() {
            if let Some(denied) = io_error.get_ref().and_then(|e| e.downcast_ref::<LocalAddressDenied>()) {
                return HttpError::Denied(denied.0.clone());
            }
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

impl Host for PluginState {
    fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        let left = self.deadline.time_left();
        self.http.send(request, left)
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
}
