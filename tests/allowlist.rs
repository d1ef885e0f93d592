//! The outbound HTTP allowlist, over real HTTP on loopback.

use std::sync::Arc;
use std::time::Duration;

use hrsync_runtime::bindings::v1::http::{HttpError, Method, Request, Response};
use hrsync_runtime::capability::http::OutboundHttp;
use hrsync_runtime::capability::Identity;
use hrsync_runtime::HttpPolicy;
use hrsync_tests::origin;
use hrsync_tests::server::TestServer;

fn identity() -> Identity {
    Identity {
        plugin: "allowlist-test".into(),
        run: None,
    }
}

fn send(grants: &[String], url: &str, headers: Vec<(String, String)>) -> (Result<Response, HttpError>, OutboundHttp) {
    let policy = HttpPolicy {
        timeout: Duration::from_secs(3),
        ..HttpPolicy::with_grants(grants).expect("grants parse")
    };
    let mut http = OutboundHttp::new(Arc::new(policy), identity());
    let request = Request {
        method: Method::Get,
        url: url.to_string(),
        headers,
        body: None,
        timeout_ms: None,
    };
    let result = http.send(request, Duration::from_secs(5));
    (result, http)
}

fn denied(result: Result<Response, HttpError>) -> String {
    match result {
        Err(HttpError::Denied(message)) => message,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[test]
fn exact_host_and_port_is_reachable() {
    let server = TestServer::start();
    let (result, http) = send(&[origin(server.addr)], &server.url("/ok"), vec![]);
    let response = result.expect("granted");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, br#"{"ok":true}"#);
    assert_eq!(http.ledger.sent, 1);
    assert_eq!(http.ledger.by_status.get(&200), Some(&1));
}

#[test]
fn another_port_is_denied() {
    let server = TestServer::start();
    let other = format!("http://127.0.0.1:{}", server.addr.port().wrapping_add(1).max(1));
    let (result, http) = send(&[other], &server.url("/ok"), vec![]);
    let message = denied(result);
    assert!(message.contains(&origin(server.addr)), "{message}");
    assert_eq!((http.ledger.denied, http.ledger.sent), (1, 0));
}

#[test]
fn scheme_mismatch_is_denied() {
    let server = TestServer::start();
    let https = format!("https://{}", server.addr);
    let message = denied(send(&[https], &server.url("/ok"), vec![]).0);
    assert!(message.contains(&format!("http://{}", server.addr)), "{message}");
}

#[test]
fn wildcard_grants_subdomains_only() {
    // Refused before any name is resolved, so no DNS query leaves the
    // machine; that a subdomain matches is the unit test
    // `wildcard_subdomains_but_not_the_apex` in host/runtime/src/capability/http.rs.
    let grants = ["https://*.hrsync-test.invalid".to_string()];
    let (apex, _) = send(&grants, "https://hrsync-test.invalid/v1", vec![]);
    denied(apex);
    let (other, _) = send(&grants, "https://api.other.invalid/v1", vec![]);
    denied(other);
}

#[test]
fn loopback_is_denied_unless_granted() {
    let server = TestServer::start();
    let public_only = ["https://api.personio.de".to_string()];
    let message = denied(send(&public_only, &server.url("/ok"), vec![]).0);
    assert!(message.contains("127.0.0.1"), "{message}");
    // `localhost` and `127.0.0.1` are different grants.
    let by_name = [format!("http://localhost:{}", server.addr.port())];
    denied(send(&by_name, &server.url("/ok"), vec![]).0);
    let (via_name, _) = send(&by_name, &format!("http://localhost:{}/ok", server.addr.port()), vec![]);
    // Granted literally as localhost: reachable when localhost resolves to
    // the server's address (IPv4), refused only if it resolves elsewhere.
    if let Err(error) = via_name {
        assert!(matches!(error, HttpError::Transport(_)), "{error:?}");
    }
}

#[test]
fn redirect_to_a_host_not_granted_is_refused() {
    let server = TestServer::start();
    let elsewhere = TestServer::start();
    let url = server.url(&format!("/redirect?to={}", elsewhere.url("/ok")));
    let (result, http) = send(&[origin(server.addr)], &url, vec![]);
    let message = denied(result);
    assert!(message.starts_with("redirect refused"), "{message}");
    assert!(message.contains(&origin(elsewhere.addr)), "{message}");
    assert_eq!((http.ledger.sent, http.ledger.denied), (1, 1));
}

#[test]
fn redirect_within_grants_is_followed_without_credentials_across_origins() {
    let server = TestServer::start();
    let other = TestServer::start();
    let grants = [origin(server.addr), origin(other.addr)];
    let same_origin = server.url(&format!("/redirect?to={}", server.url("/headers")));
    let headers = vec![("authorization".to_string(), "Bearer t0ken".to_string())];
    let response = send(&grants, &same_origin, headers.clone()).0.expect("followed");
    assert!(String::from_utf8_lossy(&response.body).contains("authorization"));

    let cross_origin = server.url(&format!("/redirect?to={}", other.url("/headers")));
    let (result, http) = send(&grants, &cross_origin, headers);
    let response = result.expect("followed");
    assert_eq!(response.status, 200);
    assert!(
        !String::from_utf8_lossy(&response.body).contains("authorization"),
        "credentials dropped"
    );
    assert_eq!(http.ledger.sent, 2, "each hop is counted");
}

#[test]
fn slow_answers_time_out() {
    let server = TestServer::start();
    let policy = HttpPolicy {
        timeout: Duration::from_millis(300),
        ..HttpPolicy::with_grants(&[origin(server.addr)]).unwrap()
    };
    let mut http = OutboundHttp::new(Arc::new(policy), identity());
    let request = Request {
        method: Method::Get,
        url: server.url("/slow"),
        headers: vec![],
        body: None,
        timeout_ms: None,
    };
    let started = std::time::Instant::now();
    let result = http.send(request, Duration::from_secs(5));
    assert!(matches!(result, Err(HttpError::Timeout(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn host_headers_cannot_be_forged() {
    let server = TestServer::start();
    let headers = vec![("Host".to_string(), "evil.example".to_string())];
    let (result, _) = send(&[origin(server.addr)], &server.url("/ok"), headers);
    assert!(matches!(result, Err(HttpError::InvalidRequest(_))), "{result:?}");
}
