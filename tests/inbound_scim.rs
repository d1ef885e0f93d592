//! The inbound SCIM endpoint end to end: `hrsync serve` on loopback as the
//! SCIM service provider an identity provider pushes to, checked by the
//! third-party compliance checker `scim2-tester` (PyPI, `scim2 test`, in
//! `.venv` from `scripts/setup`); pushes in the style of Entra ID reaching
//! a downstream SCIM app through a run; tokens per integration, hashed and
//! rotatable; two tenants that see nothing of each other.

use std::time::{Duration, Instant};

use hrsync_emulators::scim::{ScimEmulator, ENTERPRISE, GROUP_SCHEMA as CORE_GROUP, USER_SCHEMA as CORE_USER};
use hrsync_tests::api::{eventually, Client, Server};
use hrsync_tests::{plugin_bytes, venv_tool};
use serde_json::{json, Value};

const APP_TOKEN: &str = "downstream-app-token-77";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// An integration of `owner` from its inbound SCIM endpoint to the SCIM
/// app: its id and the endpoint's token.
fn inbound_integration(owner: &Client, app: &ScimEmulator, name: &str) -> (String, String) {
    let (status, body) = owner.upload(&plugin_bytes("scim"));
    assert!(status == 201 || status == 409, "{body}");
    let (status, target) = owner.post(
        "/api/v1/installations",
        json!({ "name": format!("{name} app"), "plugin": "scim", "config": { "base_url": app.base_url() },
                "secrets": { "token": APP_TOKEN }, "allowed_hosts": [app.origin()] }),
    );
    assert_eq!(status, 201, "{target}");
    let (status, created) = owner.post(
        "/api/v1/integrations",
        json!({ "name": name, "source": "inbound-scim", "target": target["id"],
                "options": { "deletion_threshold_percent": 100 } }),
    );
    assert_eq!(status, 201, "{created}");
    let token = created["scim_token"]
        .as_str()
        .expect("the token, shown once")
        .to_string();
    assert!(token.starts_with("scim_"), "{token}");
    (created["id"].as_str().unwrap().to_string(), token)
}

/// A SCIM client of one integration's endpoint.
struct Idp {
    base: String,
    token: String,
}

impl Idp {
    fn new(server: &Server, integration: &str, token: &str) -> Self {
        Self {
            base: format!("{}/scim/v2/{integration}", server.base),
            token: token.to_string(),
        }
    }

    /// Status, ETag and JSON body.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Option<String>, Value) {
        let mut request = ureq::request(method, &format!("{}{path}", self.base))
            .timeout(Duration::from_secs(30))
            .set("authorization", &format!("Bearer {}", self.token));
        for (name, value) in headers {
            request = request.set(name, value);
        }
        let result = match body {
            Some(body) => request
                .set("content-type", "application/scim+json")
                .send_string(&body.to_string()),
            None => request.call(),
        };
        let response = match result {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = response.status();
        let etag = response.header("etag").map(str::to_string);
        if status != 204 && status != 304 {
            assert_eq!(
                response.content_type(),
                "application/scim+json",
                "{method} {path}: {status}"
            );
        }
        let text = response.into_string().expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"))
        };
        (status, etag, body)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let (status, _, body) = self.call("GET", path, None, &[]);
        (status, body)
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let (status, _, body) = self.call("POST", path, Some(body), &[]);
        (status, body)
    }

    fn patch(&self, path: &str, operations: Value) -> (u16, Value) {
        let (status, _, body) = self.call(
            "PATCH",
            path,
            Some(json!({"schemas": [PATCH_OP], "Operations": operations})),
            &[],
        );
        (status, body)
    }

    /// Creates a user as Entra ID does: asks whether it exists, then POSTs.
    fn provision(&self, user_name: &str, given: &str, family: &str, extra: Value) -> String {
        let filter = format!("userName eq \"{user_name}\"");
        let (status, found) = self.get(&format!("/Users?filter={}", urlencode(&filter)));
        assert_eq!(status, 200, "{found}");
        assert_eq!(found["totalResults"], 0, "{found}");
        let mut user = json!({
            "schemas": [CORE_USER, ENTERPRISE], "externalId": user_name.split('@').next(),
            "userName": user_name, "active": true,
            "name": {"givenName": given, "familyName": family},
            "emails": [{"primary": true, "type": "work", "value": user_name}],
        });
        if let (Some(user), Some(extra)) = (user.as_object_mut(), extra.as_object()) {
            user.extend(extra.clone());
        }
        let (status, created) = self.post("/Users", user);
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_string()
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[test]
fn scim2_tester_finds_no_failure() {
    let server = Server::start();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let (id, token) = inbound_integration(&owner, &app, "Entra ID to app");
    let output = std::process::Command::new(venv_tool("scim2", "scim2-cli and scim2-tester"))
        .args(["--url", &format!("{}/scim/v2/{id}", server.base), "test"])
        // The checker's way of taking a secret header (not argv).
        .env("SCIM_CLI_HEADERS", format!("Authorization: Bearer {token}"))
        .output()
        .expect("scim2 test runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let count = |status: &str| stdout.lines().filter(|l| l.starts_with(&format!("{status} "))).count();
    let (succeeded, failed, skipped) = (count("SUCCESS"), count("ERROR"), count("SKIPPED"));
    // The closing note quotes this line.
    println!(
        "scim2-tester: {} checks, {succeeded} succeeded, {failed} failed, {skipped} skipped",
        succeeded + failed + skipped
    );
    assert!(
        output.status.success() && failed == 0 && skipped == 0 && succeeded > 100,
        "scim2 test: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn an_entra_style_push_reaches_the_app_within_seconds_and_a_leaver_is_deactivated() {
    let server = Server::start();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let (id, token) = inbound_integration(&owner, &app, "Entra ID to app");
    let (_, activated) = owner.post(&format!("/api/v1/integrations/{id}/activate"), json!({}));
    let first = owner.wait_for_run(activated["run_id"].as_str().unwrap());
    assert_eq!(first["run"]["status"], "succeeded", "{first}");

    let idp = Idp::new(&server, &id, &token);
    let boss = idp.provision("ada@acme.example", "Ada", "Lovelace", json!({}));
    let jorg = idp.provision(
        "jörg.müller@acme.example",
        "Jörg",
        "Müller",
        json!({ "title": "Leiter Einkauf ".repeat(30).trim(), ENTERPRISE: {"department": "Einkauf"} }),
    );
    // Entra ID sets the manager in a PATCH of its own, the id bare.
    let (status, patched) = idp.patch(
        &format!("/Users/{jorg}"),
        json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": boss}]),
    );
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched[ENTERPRISE]["manager"]["value"], boss);
    let (status, group) = idp.post(
        "/Groups",
        json!({"schemas": [CORE_GROUP], "displayName": "Einkauf Berlin", "externalId": "g-1"}),
    );
    assert_eq!(status, 201, "{group}");
    let (status, _) = idp.patch(
        &format!("/Groups/{}", group["id"].as_str().unwrap()),
        json!([{"op": "Add", "path": "members", "value": [{"value": jorg}, {"value": boss}]}]),
    );
    assert_eq!(status, 200);
    let (_, shown) = idp.get(&format!("/Users/{jorg}"));
    assert_eq!(shown["groups"][0]["display"], "Einkauf Berlin", "{shown}");

    let accounted = |user_name: &str| app.user_by_name(user_name);
    assert!(
        eventually(Duration::from_secs(15), || accounted("jörg.müller@acme.example")
            .is_some()
            && accounted("ada@acme.example").is_some()),
        "no accounts in the app: {:?}",
        app.users()
    );
    let account = accounted("jörg.müller@acme.example").unwrap();
    assert_eq!(account["name"]["familyName"], "Müller");
    assert_eq!(account["active"], true);
    let (_, runs) = owner.get(&format!("/api/v1/runs?integration={id}"));
    let pushed = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["trigger"] == "push")
        .count();
    assert!(pushed >= 1, "no run started by the push: {runs}");
    // The pushes of one cycle made few runs, not one per request.
    assert!(pushed <= 3, "{pushed} runs for one cycle: {runs}");

    // A leaver: Entra ID sends `active` as the string "False".
    for run in runs.as_array().unwrap() {
        owner.wait_for_run(run["id"].as_str().unwrap());
    }
    let started = Instant::now();
    let (status, _) = idp.patch(
        &format!("/Users/{jorg}"),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    );
    assert_eq!(status, 200);
    assert!(
        eventually(Duration::from_secs(15), || accounted("jörg.müller@acme.example")
            .is_some_and(|a| a["active"] == false)),
        "the leaver is still active in the app"
    );
    println!(
        "inbound SCIM: a leaver pushed → deactivated in the app in {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(accounted("ada@acme.example").unwrap()["active"], true);

    // Nothing changed since: a run writes nothing.
    assert!(eventually(Duration::from_secs(10), || {
        let (_, runs) = owner.get(&format!("/api/v1/runs?integration={id}"));
        runs.as_array()
            .unwrap()
            .iter()
            .all(|r| !matches!(r["status"].as_str(), Some("running" | "queued")))
    }));
    let (status, again) = owner.post(&format!("/api/v1/integrations/{id}/sync"), json!({}));
    assert_eq!(status, 202, "{again}");
    let again = owner.wait_for_run(again["run_id"].as_str().unwrap());
    assert_eq!(again["run"]["status"], "succeeded", "{again}");
    let counts = &again["run"]["counts"];
    assert_eq!(counts["employees_read"], 2, "{again}");
    for write in ["create-account", "update-account", "deactivate-account"] {
        assert!(
            counts[write].as_u64().unwrap_or(0) == 0,
            "{write} in a run without changes: {again}"
        );
    }

    // A user the identity provider deletes is deactivated like an employee
    // gone from an HR system.
    let (status, _, _) = idp.call("DELETE", &format!("/Users/{boss}"), None, &[]);
    assert_eq!(status, 204);
    assert!(
        eventually(Duration::from_secs(15), || accounted("ada@acme.example")
            .is_some_and(|a| a["active"] == false)),
        "a deleted user's account is still active"
    );
}

#[test]
fn tokens_are_per_integration_hashed_rotatable_and_tenants_see_nothing_of_each_other() {
    let server = Server::start();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    let (_, acme) = server.tenant("Acme", "owner@acme.example");
    let (_, globex) = server.tenant("Globex", "owner@globex.example");
    let (acme_id, acme_token) = inbound_integration(&acme, &app, "Acme IdP");
    let (globex_id, globex_token) = inbound_integration(&globex, &app, "Globex IdP");
    let acme_idp = Idp::new(&server, &acme_id, &acme_token);
    acme_idp.provision("ceo@acme.example", "Ada", "Acme", json!({}));

    let refused = |integration: &str, token: &str| {
        let (status, _, body) = Idp::new(&server, integration, token).call("GET", "/Users", None, &[]);
        assert_eq!(status, 401, "{body}");
        assert_eq!(
            body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{body}"
        );
        assert_eq!(body["status"], "401");
    };
    // Globex's token opens Globex's endpoint only; its directory is empty.
    refused(&acme_id, &globex_token);
    refused(&acme_id, "scim_wrong");
    refused("int_does_not_exist", &acme_token);
    let (status, globex_users) = Idp::new(&server, &globex_id, &globex_token).get("/Users");
    assert_eq!((status, globex_users["totalResults"].clone()), (200, json!(0)));
    // The admin API does not show the token, and the database holds only
    // its hash.
    let (_, shown) = acme.get(&format!("/api/v1/integrations/{acme_id}"));
    assert!(!shown.to_string().contains(&acme_token), "{shown}");
    let bytes = server.database_bytes();
    assert!(
        !bytes.windows(acme_token.len()).any(|w| w == acme_token.as_bytes()),
        "the token is in the database"
    );
    // Globex cannot rotate Acme's token; Acme can, and the old one stops.
    let (status, _) = globex.post(&format!("/api/v1/integrations/{acme_id}/scim-token"), json!({}));
    assert_eq!(status, 404);
    let (status, rotated) = acme.post(&format!("/api/v1/integrations/{acme_id}/scim-token"), json!({}));
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["endpoint"], format!("/scim/v2/{acme_id}"));
    let new_token = rotated["token"].as_str().unwrap();
    refused(&acme_id, &acme_token);
    let (status, users) = Idp::new(&server, &acme_id, new_token).get("/Users");
    assert_eq!((status, users["totalResults"].clone()), (200, json!(1)), "{users}");
    assert!(acme.audit_actions("").contains(&"integration.scim_token".to_string()));
    // An integration that reads an HR plugin has no endpoint to rotate.
    let (_, installations) = acme.get("/api/v1/installations");
    let target = installations[0]["id"].as_str().unwrap();
    let (status, body) = acme.post(
        "/api/v1/integrations",
        json!({"name": "Not inbound", "source": target, "target": target}),
    );
    assert_eq!(status, 422, "a target as source is refused: {body}");
    let (status, body) = acme.post("/api/v1/integrations/int_nope/scim-token", json!({}));
    assert_eq!(status, 404, "{body}");
}

#[test]
fn filters_sorting_pages_patch_bulk_and_etags_answer_as_rfc_7644_says() {
    let server = Server::start();
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    let (_, owner) = server.tenant("Acme", "owner@acme.example");
    let (id, token) = inbound_integration(&owner, &app, "IdP");
    let idp = Idp::new(&server, &id, &token);

    // Bulk: users and a group that names them by bulkId.
    let (status, bulk) = idp.post(
        "/Bulk",
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"schemas": [CORE_USER], "userName": "zoe@x.example", "title": "CTO", "active": true}},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"schemas": [CORE_USER], "userName": "anna@x.example", "title": "Engineer", "active": false}},
            {"method": "POST", "path": "/Users", "bulkId": "u3", "data": {"schemas": [CORE_USER], "userName": "ZOE@x.example"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"schemas": [CORE_GROUP], "displayName": "All", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
            {"method": "PATCH", "path": "/Users/bulkId:u2", "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}},
            {"method": "DELETE", "path": "/Groups/bulkId:nope"}
        ]}),
    );
    assert_eq!(status, 200, "{bulk}");
    let statuses: Vec<&str> = bulk["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["201", "201", "409", "201", "200", "400"], "{bulk}");
    assert_eq!(
        bulk["Operations"][2]["response"]["scimType"], "uniqueness",
        "userName is unique whatever its case"
    );
    assert!(bulk["Operations"][5]["response"]["detail"]
        .as_str()
        .unwrap()
        .contains("Operations[5]: `bulkId:nope`"));
    let group_id = bulk["Operations"][3]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let (_, group) = idp.get(&format!("/Groups/{group_id}"));
    assert_eq!(group["members"].as_array().map(Vec::len), Some(2), "{group}");

    let listed = |query: &str| {
        let (status, body) = idp.get(&format!("/Users?{query}"));
        assert_eq!(status, 200, "{query}: {body}");
        body
    };
    let names = |body: &Value| -> Vec<String> {
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap_or("-").to_string())
            .collect()
    };
    let filter = |f: &str| listed(&format!("filter={}", urlencode(f)));
    assert_eq!(names(&filter(r#"userName eq "ZOE@X.EXAMPLE""#)), ["zoe@x.example"]);
    assert_eq!(
        names(&filter(r#"title eq "Lead" and active eq false"#)),
        ["anna@x.example"]
    );
    assert_eq!(filter(r#"title eq "Lead" or title eq "CTO""#)["totalResults"], 2);
    assert_eq!(names(&filter(r#"userName co "ZOE""#)), ["zoe@x.example"]);
    assert_eq!(filter(r#"groups[display eq "All"]"#)["totalResults"], 2);
    assert_eq!(
        names(&listed("sortBy=userName&sortOrder=ascending")),
        ["anna@x.example", "zoe@x.example"]
    );
    let page = listed("sortBy=userName&sortOrder=descending&startIndex=2&count=1");
    assert_eq!(
        (names(&page), page["totalResults"].clone(), page["startIndex"].clone()),
        (vec!["anna@x.example".to_string()], json!(2), json!(2))
    );
    let only = listed("attributes=userName&count=1");
    assert!(
        only["Resources"][0].get("title").is_none() && only["Resources"][0]["id"].is_string(),
        "{only}"
    );

    let (status, error) = idp.get(&format!("/Users?filter={}", urlencode(r#"userName eq "a" and"#)));
    assert_eq!(status, 400);
    assert_eq!(error["scimType"], "invalidFilter", "{error}");
    assert!(error["detail"].as_str().unwrap().contains("character"), "{error}");

    // ETags: a stale If-Match is refused; If-None-Match of the current one
    // answers 304.
    let zoe = bulk["Operations"][0]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let (_, etag, _) = idp.call("GET", &format!("/Users/{zoe}"), None, &[]);
    let etag = etag.expect("an ETag");
    let (status, _, _) = idp.call("GET", &format!("/Users/{zoe}"), None, &[("if-none-match", &etag)]);
    assert_eq!(status, 304);
    let replace = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "CEO"}]});
    let (status, new_etag, body) = idp.call(
        "PATCH",
        &format!("/Users/{zoe}"),
        Some(replace.clone()),
        &[("if-match", &etag)],
    );
    assert_eq!(status, 200, "{body}");
    assert_ne!(new_etag.as_deref(), Some(etag.as_str()));
    let (status, _, body) = idp.call("PATCH", &format!("/Users/{zoe}"), Some(replace), &[("if-match", &etag)]);
    assert_eq!((status, body["status"].clone()), (412, json!("412")), "{body}");

    // Bad input names what is wrong.
    let (status, body) = idp.patch(
        &format!("/Users/{zoe}"),
        json!([{"op": "replace", "path": "id", "value": "x"}]),
    );
    assert_eq!((status, body["scimType"].clone()), (400, json!("mutability")), "{body}");
    let (status, body) = idp.post("/Users", json!({"schemas": [CORE_USER], "name": {"givenName": "x"}}));
    assert_eq!(status, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("`userName` is required"),
        "{body}"
    );
    let (status, body) = idp.get("/Users/not-an-id");
    assert_eq!((status, body["status"].clone()), (404, json!("404")));
    let (status, body) = idp.get("/Nope");
    assert_eq!((status, body["status"].clone()), (404, json!("404")));

    // A deleted user leaves its groups.
    let (status, _, _) = idp.call("DELETE", &format!("/Users/{zoe}"), None, &[]);
    assert_eq!(status, 204);
    let (_, groups) = idp.get("/Groups");
    assert_eq!(
        groups["Resources"][0]["members"].as_array().map(Vec::len),
        Some(1),
        "{groups}"
    );
}

#[test]
fn one_tenants_wrong_token_locks_out_neither_another_tenants_pushes_nor_the_admin_api() {
    let server = Server::with(hrsync_tests::api::ServerOptions {
        max_auth_failures: 3,
        ..Default::default()
    });
    let app = ScimEmulator::start(APP_TOKEN).unwrap();
    let (_, acme) = server.tenant("Acme", "owner@acme.example");
    let (_, globex) = server.tenant("Globex", "owner@globex.example");
    let (acme_id, acme_token) = inbound_integration(&acme, &app, "Acme IdP");
    let (globex_id, globex_token) = inbound_integration(&globex, &app, "Globex IdP");
    // Acme's identity provider keeps an old token: from the one address
    // both identity providers share, Acme's endpoint locks.
    let stale = Idp::new(&server, &acme_id, "scim_revoked");
    let statuses: Vec<u16> = (0..5).map(|_| stale.call("GET", "/Users", None, &[]).0).collect();
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    let (status, _) = Idp::new(&server, &acme_id, &acme_token).get("/Users");
    assert_eq!(status, 429, "Acme's endpoint is locked for the address");
    // Globex's pushes and the admin API go on.
    let globex_idp = Idp::new(&server, &globex_id, &globex_token);
    globex_idp.provision("it@globex.example", "Grace", "Hopper", json!({}));
    let (status, _) = globex.get("/api/v1/integrations");
    assert_eq!(status, 200);
}
