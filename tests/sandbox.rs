//! Hostile plugins: each misbehaviour fails its session with a clear error,
//! and the host then serves well-behaved plugins normally.

use std::time::{Duration, Instant};

use hrsync_model::{PluginError, PluginKind};
use hrsync_runtime::{CallError, HttpPolicy, Limits, Plugin, Sandbox, Secret, Secrets};
use hrsync_tests::server::TestServer;
use hrsync_tests::Decide;
use hrsync_tests::{load, origin};

fn hostile() -> Plugin {
    load("hostile")
}

fn sandbox(mode: &str) -> Sandbox {
    Sandbox {
        config: serde_json::json!({ "mode": mode }),
        limits: Limits {
            memory_bytes: 64 << 20,
            call_deadline: Duration::from_millis(500),
        },
        ..Sandbox::default()
    }
}

/// Runs the mode's `list-employees` and returns the error it must produce.
fn misbehave(plugin: &Plugin, sandbox: &Sandbox) -> CallError {
    let mut session = plugin.source(sandbox).expect("session starts");
    let error = session
        .list_employees(None, 10)
        .expect_err("the hostile call must fail");
    // The instance is discarded after a sandbox failure; a plugin error
    // leaves it usable.
    if error.is_sandbox_failure() {
        let again = session
            .list_employees(None, 10)
            .expect_err("a failed instance is not reused");
        assert!(matches!(again, CallError::Unusable { .. }), "{again}");
    }
    error
}

/// After any misbehaviour, the same plugin in a new session and another
/// plugin both work.
fn host_still_serves() {
    let mut session = hostile().source(&sandbox("ok")).expect("new session");
    let page = session.list_employees(None, 10).expect("well-behaved call");
    assert_eq!(page.cursor.as_deref(), Some("done"));

    let scope = load("scope_rule");
    assert_eq!(scope.kind(), PluginKind::Rule);
    let mut rule = scope.rule(&Sandbox::default()).expect("rule session");
    assert!(rule.decide(&[]).expect("evaluate").is_empty());
}

#[test]
fn infinite_loop_hits_the_deadline() {
    let started = Instant::now();
    let error = misbehave(&hostile(), &sandbox("loop"));
    let elapsed = started.elapsed();
    assert!(
        matches!(error, CallError::Deadline { limit, .. } if limit == Duration::from_millis(500)),
        "{error}"
    );
    assert!(elapsed < Duration::from_secs(5), "stopped after {elapsed:?}");
    assert!(error.to_string().contains("deadline"), "{error}");
    host_still_serves();
}

#[test]
fn memory_bomb_hits_the_memory_cap() {
    let error = misbehave(&hostile(), &sandbox("memory"));
    assert!(matches!(error, CallError::Memory { limit_mib: 64, .. }), "{error}");
    assert!(error.to_string().contains("memory limit of 64 MiB"), "{error}");
    host_still_serves();
}

#[test]
fn stack_overflow_is_stopped() {
    let error = misbehave(&hostile(), &sandbox("stack"));
    assert!(matches!(error, CallError::StackOverflow { .. }), "{error}");
    host_still_serves();
}

#[test]
fn overflow_of_the_plugins_own_stack_is_reported() {
    // Large frames live on the guest's shadow stack in linear memory; when
    // it runs out the guest touches memory below zero.
    let error = misbehave(&hostile(), &sandbox("shadow-stack"));
    assert!(matches!(error, CallError::Trap { .. }), "{error}");
    assert!(error.to_string().contains("stack overflowing"), "{error}");
    host_still_serves();
}

#[test]
fn trap_is_reported() {
    let error = misbehave(&hostile(), &sandbox("trap"));
    // What the plugin printed before it died is the evidence: Rust prints
    // a panic's message and place to stderr, and the error says it in one
    // line.
    let CallError::Exception {
        exception, function, ..
    } = &error
    else {
        panic!("expected the panic, got {error}")
    };
    assert_eq!(*function, "list-employees", "names the function: {error}");
    assert!(
        exception.starts_with("panicked: deliberate panic") && exception.contains("src/lib.rs:"),
        "{error}"
    );
    host_still_serves();
}

/// A plugin whose next page is one it gave before would make a listing
/// without end, or one that stops early and is taken as whole (employees
/// missing from it deactivated): the session refuses it.
#[test]
fn a_listing_in_a_circle_is_refused() {
    let mut session = hostile().source(&sandbox("circle")).expect("session");
    let first = session.list_employees(None, 10).expect("page 1");
    assert_eq!(first.next_page.as_deref(), Some("a"));
    let second = session.list_employees(Some("a"), 10).expect("page 2");
    assert_eq!(second.next_page.as_deref(), Some("b"));
    let error = session.list_employees(Some("b"), 10).expect_err("a again");
    let CallError::Malformed { message, function, .. } = &error else {
        panic!("expected malformed output, got {error}")
    };
    assert_eq!(*function, "list-employees");
    assert!(message.contains("\"a\" was returned before"), "{message}");
    // A new listing starts afresh on another session.
    let mut fresh = hostile().source(&sandbox("circle")).expect("session");
    assert!(fresh.list_employees(None, 10).is_ok());
    host_still_serves();
}

#[test]
fn garbage_output_is_refused() {
    let error = misbehave(&hostile(), &sandbox("garbage"));
    let CallError::Malformed { message, .. } = &error else {
        panic!("expected malformed output, got {error}")
    };
    assert!(message.to_lowercase().contains("utf-8"), "{message}");
    host_still_serves();
}

#[test]
fn disallowed_host_is_refused_with_how_to_grant_it() {
    let server = TestServer::start();
    let mut sandbox = sandbox("http");
    sandbox.config["url"] = server.url("/ok").into();
    sandbox.limits.call_deadline = Duration::from_secs(10);
    let plugin = hostile();
    let mut session = plugin.source(&sandbox).expect("session");
    let error = session.list_employees(None, 10).expect_err("not granted");
    let message = error.to_string();
    assert!(message.contains("Denied"), "{message}");
    assert!(message.contains(&origin(server.addr)), "names the origin: {message}");
    assert!(message.contains("allowed hosts"), "says how to grant it: {message}");
    assert_eq!(session.http_ledger().denied, 1);
    assert_eq!(session.http_ledger().sent, 0);
    host_still_serves();
}

#[test]
fn oversized_response_is_cut_off() {
    let server = TestServer::start();
    for path in ["/big", "/big-chunked"] {
        let mut sandbox = sandbox("http");
        sandbox.config["url"] = server.url(path).into();
        sandbox.limits.call_deadline = Duration::from_secs(20);
        sandbox.http = HttpPolicy {
            max_response_bytes: 1 << 20,
            ..HttpPolicy::with_grants(&[origin(server.addr)]).unwrap()
        };
        let plugin = hostile();
        let mut session = plugin.source(&sandbox).expect("session");
        let error = session.list_employees(None, 10).expect_err("too large");
        assert!(error.to_string().contains("TooLarge(1048576)"), "{path}: {error}");
        assert_eq!(session.http_ledger().failed, 1, "{path}");
    }
    host_still_serves();
}

#[test]
fn secrets_never_leave_the_sandbox() {
    let token = "tok-9f8e7d6c5b4a";
    let mut secrets = Secrets::new();
    secrets.insert("token".into(), Secret::new(token));
    let sandbox = Sandbox {
        secrets,
        ..sandbox("leak")
    };
    let plugin = hostile();
    let mut session = plugin.source(&sandbox).expect("session");
    let error = session.list_employees(None, 10).expect_err("leaky plugin fails");
    assert!(
        matches!(error.plugin_error(), Some(PluginError::Unauthorized(_))),
        "{error}"
    );
    let message = error.to_string();
    assert!(!message.contains(token), "secret in error: {message}");
    assert!(message.contains("[REDACTED]"), "{message}");
    let lines = session.log_lines();
    assert_eq!(lines.len(), 1);
    assert!(
        !lines[0].message.contains(token) && lines[0].message.contains("[REDACTED]"),
        "{:?}",
        lines[0]
    );
}

#[test]
fn undeclared_secrets_are_not_handed_out() {
    let mut secrets = Secrets::new();
    secrets.insert("not-declared".into(), Secret::new("should-not-be-read"));
    let sandbox = Sandbox {
        secrets,
        ..sandbox("undeclared-secret")
    };
    let plugin = hostile();
    let error = plugin
        .source(&sandbox)
        .unwrap()
        .list_employees(None, 1)
        .expect_err("undeclared");
    let message = error.to_string();
    assert!(message.contains("not declared"), "{message}");
    assert!(!message.contains("should-not-be-read"), "{message}");
    // The manifest check refuses such an installation before it runs.
    let errors = plugin.validate(&sandbox).expect_err("undeclared secret supplied");
    assert!(
        errors.iter().any(|e| e.to_string().contains("not-declared")),
        "{errors:?}"
    );
}

#[test]
fn no_filesystem_environment_or_sockets() {
    let server = TestServer::start();
    let mut sandbox = sandbox("escape");
    sandbox.config["url"] = server.addr.to_string().into();
    sandbox.http = HttpPolicy::with_grants(&[origin(server.addr)]).unwrap();
    let error = hostile()
        .source(&sandbox)
        .unwrap()
        .list_employees(None, 1)
        .expect_err("reports what it reached");
    let message = error.to_string();
    assert!(message.contains("fs: denied"), "{message}");
    assert!(message.contains("env: 0 vars"), "{message}");
    // Even an origin granted for HTTP is not reachable by a raw socket.
    assert!(message.contains("tcp: denied"), "{message}");
}
