//! The 4Geeks Perks users API in memory, as the product documents describe
//! it: `POST /v1/users/` with `email`, `first_name`, `last_name`, `role`,
//! `status`; status updates archive (freeze the wallet) and reactivate;
//! `sk_test_...` keys reach the sandbox and `sk_live_...` keys the live
//! environment, each with its own users; creating a user whose e-mail is
//! taken answers 400 "User already exists".
//!
//! The documents show only the create call. The rest follows the same
//! style (trailing slashes, JSON, `{"error": ...}`): `GET /v1/users/` with
//! `email`, `page` and `page_size` (answer `{count, next, results}`),
//! `GET`/`PATCH /v1/users/{id}/`, and `POST /v1/users/{id}/invite/` for the
//! welcome e-mail.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{serve, Fault, Faults};

const ROLES: &[&str] = &["employee", "manager", "admin"];
const STATUSES: &[&str] = &["active", "archived"];
/// Fields a client may set; anything else is refused by name.
const WRITABLE: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "role",
    "status",
    "department",
    "employee_id",
    "benefits_package",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Sandbox,
    Live,
}

/// Writes the emulator received, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Writes {
    pub creates: u64,
    pub updates: u64,
    pub invites: u64,
}

impl Writes {
    pub fn total(&self) -> u64 {
        self.creates + self.updates + self.invites
    }
}

struct Inner {
    test_key: String,
    live_key: String,
    users: BTreeMap<Mode, BTreeMap<String, Value>>,
    next_id: u64,
    faults: Faults,
    writes: Writes,
}

type Shared = Arc<Mutex<Inner>>;

#[derive(Clone)]
pub struct PerksEmulator {
    inner: Shared,
    addr: SocketAddr,
}

impl PerksEmulator {
    /// Accepts exactly these two keys (`sk_test_...`, `sk_live_...`).
    pub fn start(test_key: &str, live_key: &str) -> std::io::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner {
            test_key: test_key.into(),
            live_key: live_key.into(),
            users: BTreeMap::new(),
            next_id: 0,
            faults: Faults::default(),
            writes: Writes::default(),
        }));
        let router = Router::new()
            .route("/v1/users/", get(list_users).post(create_user))
            .route("/v1/users/{id}/", get(get_user).patch(update_user))
            .route("/v1/users/{id}/invite/", post(invite_user))
            .with_state(inner.clone());
        let addr = serve(router)?;
        Ok(Self { inner, addr })
    }

    /// `http://127.0.0.1:PORT`: the plugin's `base_url` and granted origin.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A user created by hand in the Perks console. Returns its id.
    pub fn add_user(&self, mode: Mode, email: &str, first_name: &str, last_name: &str) -> String {
        let mut inner = self.lock();
        let fields = [("email", email), ("first_name", first_name), ("last_name", last_name)]
            .into_iter()
            .map(|(key, value)| (key.to_string(), json!(value)))
            .collect();
        inner.insert(mode, fields)
    }

    pub fn users(&self, mode: Mode) -> Vec<Value> {
        self.lock()
            .users
            .get(&mode)
            .map(|users| users.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn user_by_email(&self, mode: Mode, email: &str) -> Option<Value> {
        self.users(mode).into_iter().find(|u| eq_ci(&u["email"], email))
    }

    /// Changes a user directly, as an admin in the console would.
    pub fn edit_user(&self, mode: Mode, id: &str, change: impl FnOnce(&mut Value)) -> bool {
        let mut inner = self.lock();
        match inner.users.entry(mode).or_default().get_mut(id) {
            Some(user) => {
                change(user);
                true
            }
            None => false,
        }
    }

    /// Fails a request after `skip` more successful ones.
    pub fn fail_after(&self, skip: u64, fault: Fault) {
        self.lock().faults.push(skip, fault);
    }

    pub fn writes(&self) -> Writes {
        self.lock().writes
    }
}

impl Inner {
    fn insert(&mut self, mode: Mode, fields: Map<String, Value>) -> String {
        self.next_id += 1;
        let id = format!("usr_{:06}", self.next_id);
        let mut user = json!({
            "id": id, "role": "employee", "status": "active", "department": null,
            "employee_id": null, "benefits_package": null, "invited": false,
            "created_at": "2026-11-22T04:00:00Z",
        });
        for (key, value) in fields {
            user[key] = value;
        }
        self.users.entry(mode).or_default().insert(id.clone(), user);
        id
    }

    /// The key's environment, or the refusal (bad key, queued fault).
    fn admit(&mut self, headers: &HeaderMap) -> Result<Mode, Response> {
        let key = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let mode = match key {
            Some(k) if k == self.test_key => Mode::Sandbox,
            Some(k) if k == self.live_key => Mode::Live,
            _ => return Err(error(StatusCode::UNAUTHORIZED, "Invalid API key")),
        };
        match self.faults.next(|status| error(status, "emulated fault")) {
            Some(response) => Err(response),
            None => Ok(mode),
        }
    }
}

fn eq_ci(value: &Value, text: &str) -> bool {
    value.as_str().is_some_and(|v| v.eq_ignore_ascii_case(text))
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn field_error(field: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": format!("{field}: {message}"), "field": field })),
    )
        .into_response()
}

/// Checks the fields of a create or update; `None` when all are fine.
fn invalid(fields: &Map<String, Value>) -> Option<Response> {
    for (key, value) in fields {
        if !WRITABLE.contains(&key.as_str()) {
            return Some(field_error(key, "unknown field"));
        }
        let allowed = match key.as_str() {
            "role" => Some(ROLES),
            "status" => Some(STATUSES),
            _ => None,
        };
        match (value, allowed) {
            (Value::String(text), Some(allowed)) if !allowed.contains(&text.as_str()) => {
                return Some(field_error(key, &format!("must be one of {}", allowed.join(", "))))
            }
            (Value::String(_), _) => {}
            (Value::Null, None) if !matches!(key.as_str(), "email" | "first_name" | "last_name") => {}
            _ => return Some(field_error(key, "must be a string")),
        }
    }
    if let Some(email) = fields.get("email").and_then(Value::as_str) {
        if !email.contains('@') {
            return Some(field_error("email", "not an e-mail address"));
        }
    }
    // Names as a Django user model keeps them (the API's error wording).
    for name in ["first_name", "last_name"] {
        if fields
            .get(name)
            .and_then(Value::as_str)
            .is_some_and(|n| n.chars().count() > 150)
        {
            return Some(field_error(name, "Ensure this field has no more than 150 characters."));
        }
    }
    None
}

async fn create_user(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Map<String, Value>>,
) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    let mode = match inner.admit(&headers) {
        Ok(mode) => mode,
        Err(response) => return response,
    };
    for required in ["email", "first_name", "last_name"] {
        if body.get(required).and_then(Value::as_str).is_none_or(str::is_empty) {
            return field_error(required, "this field is required");
        }
    }
    if let Some(response) = invalid(&body) {
        return response;
    }
    let email = body["email"].as_str().unwrap_or_default();
    if inner
        .users
        .get(&mode)
        .is_some_and(|users| users.values().any(|u| eq_ci(&u["email"], email)))
    {
        return error(StatusCode::BAD_REQUEST, "User already exists");
    }
    inner.writes.creates += 1;
    let id = inner.insert(mode, body);
    let user = inner.users[&mode][&id].clone();
    (StatusCode::CREATED, Json(user)).into_response()
}

#[derive(Deserialize)]
struct ListQuery {
    email: Option<String>,
    page: Option<usize>,
    page_size: Option<usize>,
}

async fn list_users(State(inner): State<Shared>, headers: HeaderMap, Query(query): Query<ListQuery>) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    let mode = match inner.admit(&headers) {
        Ok(mode) => mode,
        Err(response) => return response,
    };
    let users: Vec<&Value> = inner
        .users
        .get(&mode)
        .map(|users| {
            users
                .values()
                .filter(|u| query.email.as_deref().is_none_or(|e| eq_ci(&u["email"], e)))
                .collect()
        })
        .unwrap_or_default();
    let page = query.page.unwrap_or(1).max(1);
    let size = query.page_size.unwrap_or(50).clamp(1, 500);
    let results: Vec<&Value> = users.iter().skip((page - 1) * size).take(size).copied().collect();
    let next = (page * size < users.len()).then(|| format!("/v1/users/?page={}&page_size={size}", page + 1));
    Json(json!({ "count": users.len(), "next": next, "results": results })).into_response()
}

async fn get_user(State(inner): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    let mode = match inner.admit(&headers) {
        Ok(mode) => mode,
        Err(response) => return response,
    };
    match inner.users.get(&mode).and_then(|users| users.get(&id)) {
        Some(user) => Json(user.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not found"),
    }
}

async fn update_user(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    let mode = match inner.admit(&headers) {
        Ok(mode) => mode,
        Err(response) => return response,
    };
    if let Some(response) = invalid(&body) {
        return response;
    }
    if !inner.users.get(&mode).is_some_and(|users| users.contains_key(&id)) {
        return error(StatusCode::NOT_FOUND, "Not found");
    }
    inner.writes.updates += 1;
    let users = inner.users.entry(mode).or_default();
    let Some(user) = users.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, "Not found");
    };
    for (key, value) in body {
        user[key] = value;
    }
    Json(user.clone()).into_response()
}

async fn invite_user(State(inner): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    let mode = match inner.admit(&headers) {
        Ok(mode) => mode,
        Err(response) => return response,
    };
    let Some(user) = inner.users.entry(mode).or_default().get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, "Not found");
    };
    user["invited"] = json!(true);
    inner.writes.invites += 1;
    Json(json!({ "sent": true })).into_response()
}
