//! The console's sessions over real HTTP: signing in with a key opens a
//! server-side session in an HttpOnly, SameSite=Strict cookie (Secure
//! behind TLS), which revoking the key, removing the member, signing out
//! or time ends (tests/store.rs); failed sign-ins are counted like the API's. The screens
//! themselves are tested in a browser (tests/console/).

use std::time::Duration;

use hrsync_tests::api::Server;

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(60))
        .build()
}

fn answer(result: Result<ureq::Response, ureq::Error>) -> ureq::Response {
    match result {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("{error}"),
    }
}

/// The value of cookie `name` in a response's Set-Cookie headers, and the
/// whole header.
fn set_cookie(response: &ureq::Response, name: &str) -> Option<(String, String)> {
    response.all("set-cookie").into_iter().find_map(|header| {
        let value = header.strip_prefix(&format!("{name}="))?.split(';').next()?.to_string();
        Some((value, header.to_string()))
    })
}

/// Signs in with `key` (as a browser: the sign-in page's token first);
/// the sign-in response.
fn sign_in(server: &Server, key: &str, forwarded_https: bool) -> ureq::Response {
    let page = answer(agent().get(&format!("{}/sign-in", server.base)).call());
    let (token, _) = set_cookie(&page, "hrsync_sign_in").expect("sign-in cookie");
    let mut request = agent()
        .post(&format!("{}/sign-in", server.base))
        .set("cookie", &format!("hrsync_sign_in={token}"));
    if forwarded_https {
        request = request.set("x-forwarded-proto", "https");
    }
    answer(request.send_form(&[("key", key), ("token", &token)]))
}

fn console_get(server: &Server, path: &str, session: &str) -> ureq::Response {
    answer(
        agent()
            .get(&format!("{}{path}", server.base))
            .set("cookie", &format!("hrsync_session={session}"))
            .call(),
    )
}

#[test]
fn a_session_is_opened_by_a_key_and_ended_by_revoking_it() {
    let server = Server::start();
    let (created, owner) = server.tenant("Acme GmbH", "owner@acme.example");
    let key = owner.key.clone().expect("key");

    let signed = sign_in(&server, &key, false);
    assert_eq!(signed.status(), 303);
    assert_eq!(signed.header("location"), Some("/integrations"));
    let (session, header) = set_cookie(&signed, "hrsync_session").expect("session cookie");
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Strict"),
        "{header}"
    );
    assert!(!header.contains("Secure"), "plain HTTP: {header}");
    assert!(!session.contains(&key) && !session.starts_with("sk_"));

    let page = console_get(&server, "/integrations", &session);
    assert_eq!(page.status(), 200);
    assert!(page.into_string().unwrap().contains("Acme GmbH"));
    // Only a hash of the session's token is stored.
    let stored = server.database_bytes();
    assert!(!stored.windows(session.len()).any(|w| w == session.as_bytes()));

    let key_id = created["key"]["id"].as_str().expect("key id");
    let (status, _) = owner.delete(&format!("/api/v1/keys/{key_id}"));
    assert_eq!(status, 204);
    let after = console_get(&server, "/integrations", &session);
    assert_eq!((after.status(), after.header("location")), (303, Some("/sign-in")));
}

#[test]
fn removing_the_member_or_signing_out_ends_the_session_and_tls_makes_the_cookie_secure() {
    let server = Server::start();
    let (_, owner) = server.tenant("Acme GmbH", "owner@acme.example");
    let (_, member) = owner.post(
        "/api/v1/members",
        serde_json::json!({ "email": "anna@acme.example", "role": "admin" }),
    );
    let (_, issued) = owner.post(
        "/api/v1/keys",
        serde_json::json!({ "name": "anna", "mode": "live", "member_id": member["id"] }),
    );
    let anna = issued["secret"].as_str().expect("secret");
    let signed = sign_in(&server, anna, true);
    let (session, header) = set_cookie(&signed, "hrsync_session").expect("session cookie");
    assert!(header.contains("; Secure"), "{header}");
    assert_eq!(console_get(&server, "/integrations", &session).status(), 200);
    let (status, _) = owner.delete(&format!("/api/v1/members/{}", member["id"].as_str().unwrap()));
    assert_eq!(status, 204);
    assert_eq!(console_get(&server, "/integrations", &session).status(), 303);

    let owner_key = owner.key.clone().expect("key");
    let (session, _) = set_cookie(&sign_in(&server, &owner_key, false), "hrsync_session").expect("cookie");
    let page = console_get(&server, "/integrations", &session).into_string().unwrap();
    let csrf = page
        .split("x-csrf-token&quot;:&quot;")
        .nth(1)
        .and_then(|rest| rest.split("&quot;").next())
        .expect("the CSRF token on the page")
        .to_string();
    let out = answer(
        agent()
            .post(&format!("{}/sign-out", server.base))
            .set("cookie", &format!("hrsync_session={session}"))
            .send_form(&[("csrf", &csrf)]),
    );
    assert_eq!((out.status(), out.header("location")), (303, Some("/sign-in")));
    assert_eq!(console_get(&server, "/integrations", &session).status(), 303);
}

#[test]
fn failed_sign_ins_lock_the_address_out_like_the_api() {
    let server = Server::start();
    let (_, owner) = server.tenant("Acme GmbH", "owner@acme.example");
    for _ in 0..hrsync_server::api::auth::MAX_FAILURES {
        let refused = sign_in(&server, "sk_live_guessed", false);
        assert_eq!(refused.status(), 401);
        assert!(refused.into_string().unwrap().contains("not valid or was revoked"));
    }
    // Locked out for the rest of the minute, even with the right key.
    let locked = sign_in(&server, owner.key.as_deref().unwrap(), false);
    assert_eq!(locked.status(), 429);
    assert!(locked.into_string().unwrap().contains("Too many failed sign-ins"));
}
