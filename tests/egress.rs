//! The egress policy of `hrsync serve`'s tenants, over real sockets on
//! loopback: their plugins and notification webhooks reach only public
//! addresses, whatever an installation grants and however an address is
//! spelled, unless the operator allows a range. Every refusal is proven
//! before any connection: a listener on the refused address must have
//! nothing to accept. No test sends traffic outside loopback.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use hrsync_runtime::bindings::v1::http::{HttpError, Method, Request, Response};
use hrsync_runtime::capability::http::OutboundHttp;
use hrsync_runtime::capability::Identity;
use hrsync_runtime::{EgressAllowance, HttpPolicy, LocalReach, Secret};
use hrsync_server::control::notify::{Notifier, RunFailed};
use hrsync_tests::api::{Server, ServerOptions};
use hrsync_tests::plugin_bytes;
use hrsync_tests::server::TestServer;
use serde_json::json;

/// A listener that never accepts: whatever connects waits in its backlog,
/// so `untouched` tells whether anything tried.
struct Trap(TcpListener);

impl Trap {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        Self(listener)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().expect("address").port()
    }

    fn untouched(&self) -> bool {
        matches!(self.0.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

/// A tenant's session: `grants` granted by the installation, `allowed` by
/// the operator.
fn tenant_send(grants: &[String], allowed: &[&str], url: &str) -> Result<Response, HttpError> {
    let policy = HttpPolicy {
        timeout: Duration::from_secs(3),
        local: LocalReach::Operator(Arc::new(EgressAllowance::parse(allowed).expect("allowance"))),
        ..HttpPolicy::with_grants(grants).expect("grants parse")
    };
    let mut http = OutboundHttp::new(
        Arc::new(policy),
        Identity {
            plugin: "egress-test".into(),
            run: None,
        },
    );
    http.send(
        Request {
            method: Method::Get,
            url: url.to_string(),
            headers: vec![],
            body: None,
            timeout_ms: None,
        },
        Duration::from_secs(5),
    )
}

/// `scheme://host:port` of `url`, spelled as in the URL.
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("absolute URL");
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}")
}

#[test]
fn every_spelling_of_loopback_is_refused_before_connecting() {
    let trap = Trap::new();
    let port = trap.port();
    let spellings = [
        format!("http://127.0.0.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f000001:{port}/"),
        format!("http://017700000001:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://[::ffff:7f00:1]:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://0.0.0.0:{port}/"),
    ];
    for url in &spellings {
        // Granted by the installation, exactly as spelled.
        let result = tenant_send(&[origin_of(url)], &[], url);
        match result {
            Err(HttpError::Denied(message)) => {
                assert!(message.contains("loopback, private or link-local"), "{url}: {message}");
            }
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    }
    assert!(trap.untouched(), "a refused address was connected to");
}

#[test]
fn a_granted_name_that_resolves_to_loopback_is_refused_by_the_resolver_check() {
    let trap = Trap::new();
    let url = format!("http://localhost:{}/ok", trap.port());
    let result = tenant_send(&[origin_of(&url)], &[], &url);
    let Err(HttpError::Denied(message)) = result else {
        panic!("expected a refusal, got {result:?}");
    };
    assert!(message.starts_with("localhost resolves to"), "{message}");
    assert!(trap.untouched(), "the resolver check let a connection through");
}

#[test]
fn the_operator_allowance_opens_exactly_what_it_names() {
    let server = TestServer::start();
    let url = server.url("/ok");
    let granted = [origin_of(&url)];
    let port = server.addr.port();
    assert_eq!(
        tenant_send(&granted, &["127.0.0.1"], &url).expect("allowed").status,
        200
    );
    assert_eq!(
        tenant_send(&granted, &["127.0.0.0/8"], &url).expect("allowed").status,
        200
    );
    let origin = format!("http://127.0.0.1:{port}");
    assert_eq!(
        tenant_send(&granted, &[origin.as_str()], &url).expect("allowed").status,
        200
    );
    // Another range, or the same address on another port: refused.
    let other_port = format!("http://127.0.0.1:{}", port.wrapping_add(1).max(1));
    for allowed in ["10.0.0.0/8", "::1", other_port.as_str()] {
        let result = tenant_send(&granted, &[allowed], &url);
        assert!(matches!(result, Err(HttpError::Denied(_))), "{allowed}: {result:?}");
    }
    // The allowance does not replace the grant: not granted, not sent.
    let result = tenant_send(&["https://api.personio.de".into()], &["127.0.0.1"], &url);
    assert!(matches!(result, Err(HttpError::Denied(_))), "{result:?}");
}

#[test]
fn a_redirect_to_a_refused_address_is_not_followed() {
    let server = TestServer::start();
    let trap = Trap::new();
    let target = format!("http://127.0.0.1:{}/ok", trap.port());
    let url = server.url(&format!("/redirect?to={target}"));
    // Both origins granted by the installation; only the first allowed by
    // the operator.
    let grants = [origin_of(&url), origin_of(&target)];
    let allowed = format!("http://127.0.0.1:{}", server.addr.port());
    let result = tenant_send(&grants, &[allowed.as_str()], &url);
    assert!(matches!(result, Err(HttpError::Denied(_))), "{result:?}");
    assert!(trap.untouched(), "the redirect was followed");
}

fn failure() -> RunFailed {
    RunFailed {
        event: "run.failed",
        tenant: "t".into(),
        integration: "int".into(),
        integration_name: "Personio to SCIM".into(),
        run: "run".into(),
        reason: "read failed".into(),
        at: 1_700_000_000_000,
    }
}

#[test]
fn notification_webhooks_reach_no_local_address_and_follow_no_redirect() {
    let secret = Secret::new(String::from("whsig_test"));
    let trap = Trap::new();
    let direct = format!("http://localhost:{}/hook", trap.port());
    let notifier = Notifier::default();
    let problems = notifier.run_failed(&failure(), &[], Some((&direct, &secret)));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("loopback, private or link-local"), "{problems:?}");
    assert!(trap.untouched(), "the webhook reached a local address");

    // Loopback allowed by the operator, and a redirect to the trap: not
    // followed.
    let server = TestServer::start();
    let redirecting = server.url(&format!("/redirect?to=http://127.0.0.1:{}/hook", trap.port()));
    let notifier = Notifier {
        egress: Arc::new(EgressAllowance::parse(&["127.0.0.1"]).unwrap()),
        ..Notifier::default()
    };
    let problems = notifier.run_failed(&failure(), &[], Some((&redirecting, &secret)));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("a redirect, not followed"), "{problems:?}");
    assert!(trap.untouched(), "the webhook followed a redirect");
}

#[test]
fn tenants_cannot_save_grants_or_webhooks_naming_local_addresses() {
    let server = Server::with(ServerOptions {
        egress_allow: vec![],
        ..ServerOptions::default()
    });
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    for plugin in ["personio", "scim"] {
        let (status, body) = owner.upload(&plugin_bytes(plugin));
        assert_eq!(status, 201, "{body}");
    }
    let personio = |hosts: serde_json::Value| {
        json!({ "name": "Personio", "plugin": "personio", "config": { "base_url": "https://api.personio.de" },
                "secrets": { "client-id": "id", "client-secret": "secret" }, "allowed_hosts": hosts })
    };
    for local in [
        "http://127.0.0.1:8080",
        "http://localhost",
        "http://2130706433",
        "http://[::ffff:127.0.0.1]:80",
        "http://169.254.169.254",
        "http://10.1.2.3",
        "http://[fd00::1]",
    ] {
        let (status, body) = owner.post(
            "/api/v1/installations",
            personio(json!(["https://api.personio.de", local])),
        );
        assert_eq!(status, 422, "{local}: {body}");
        assert_eq!(body["error"]["field"], "allowed_hosts[1]", "{local}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("--egress-allow"),
            "{local}: {body}"
        );
    }
    let (status, source) = owner.post("/api/v1/installations", personio(json!(["https://api.personio.de"])));
    assert_eq!(status, 201, "{source}");
    let source = source["id"].as_str().unwrap().to_string();
    let (status, body) = owner.patch(
        &format!("/api/v1/installations/{source}"),
        json!({ "allowed_hosts": ["http://127.0.0.1:8080"] }),
    );
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("allowed_hosts[0]")),
        "{body}"
    );

    let (status, target) = owner.post(
        "/api/v1/installations",
        json!({ "name": "App", "plugin": "scim", "config": { "base_url": "https://app.example.com/scim/v2" },
                "secrets": { "token": "t" }, "allowed_hosts": ["https://app.example.com"] }),
    );
    assert_eq!(status, 201, "{target}");
    let integration = |webhook: &str| {
        json!({ "name": "Personio to app", "source": source, "target": target["id"],
                "notify": { "webhook_url": webhook } })
    };
    for webhook in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/",
    ] {
        let (status, body) = owner.post("/api/v1/integrations", integration(webhook));
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (422, Some("notify.webhook_url")),
            "{webhook}: {body}"
        );
    }
    let (status, body) = owner.post("/api/v1/integrations", integration("https://hooks.example.com/hrsync"));
    assert_eq!(status, 201, "{body}");
}
