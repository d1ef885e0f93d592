//! The two small APIs the plugin templates (sdk/templates/) are written
//! against — not a provider's, ours, kept as plain as an HR system or an
//! app can be, so a vendor's first plugin is about hrsync and not about an
//! API:
//!
//! - a **tiny HR system**: `GET /api/employees?page=N&per_page=M` with
//!   `Authorization: Bearer TOKEN` answers `{"employees": [...],
//!   "next_page": N+1 | null}`; an employee is `{id, email, first_name,
//!   last_name, status (active|inactive|onboarding|leave), department,
//!   title, manager_id, hired_on}`; a wrong token is 401.
//! - a **tiny app**: HTTP basic auth with user `api` and the key as
//!   password; `GET /api/users?offset=&limit=` answers `{"users": [...],
//!   "total": N}`, a user `{id, external_id, email, first_name, last_name,
//!   title, active}`; `POST /api/users` (201, 409 when the e-mail is
//!   taken, 422 naming a bad field), `PATCH /api/users/{id}`; `GET
//!   /api/teams` (`{"teams": [{id, name, external_id, member_ids}]}`),
//!   `POST /api/teams` `{name, external_id}`, `POST
//!   /api/teams/{id}/members` `{user_id}`, `DELETE
//!   /api/teams/{id}/members/{user_id}`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::serve_on;

/// The tiny HR system's demo company: a manager, her team, a leaver, a
/// future hire and an employee with umlauts.
fn demo_employees() -> Vec<Value> {
    let person = |id: u32,
                  email: &str,
                  first: &str,
                  last: &str,
                  status: &str,
                  department: &str,
                  title: &str,
                  manager: Option<u32>,
                  hired: &str| {
        json!({
            "id": id, "email": email, "first_name": first, "last_name": last, "status": status,
            "department": department, "title": title, "manager_id": manager, "hired_on": hired,
        })
    };
    vec![
        person(
            1,
            "ada@tiny.example",
            "Ada",
            "Lovelace",
            "active",
            "Engineering",
            "CTO",
            None,
            "2019-03-01",
        ),
        person(
            2,
            "grace@tiny.example",
            "Grace",
            "Hopper",
            "active",
            "Engineering",
            "Engineer",
            Some(1),
            "2020-06-15",
        ),
        person(
            3,
            "juergen@tiny.example",
            "Jürgen",
            "Größ",
            "active",
            "Vertrieb",
            "Account Executive",
            Some(1),
            "2021-01-04",
        ),
        person(
            4,
            "linus@tiny.example",
            "Linus",
            "Torvalds",
            "inactive",
            "Engineering",
            "Engineer",
            Some(1),
            "2018-09-01",
        ),
        person(
            5,
            "margaret@tiny.example",
            "Margaret",
            "Hamilton",
            "onboarding",
            "Engineering",
            "Engineer",
            Some(1),
            "2031-01-01",
        ),
    ]
}

#[derive(Clone)]
pub struct TinyHr {
    employees: Arc<Mutex<Vec<Value>>>,
    addr: SocketAddr,
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<usize>,
    per_page: Option<usize>,
}

impl TinyHr {
    /// With the demo company, accepting `Bearer {token}`, on `port` (0: any).
    pub fn start_on(token: &str, port: u16) -> std::io::Result<Self> {
        let employees = Arc::new(Mutex::new(demo_employees()));
        let token = Arc::new(format!("Bearer {token}"));
        let shared = employees.clone();
        let router = Router::new().route(
            "/api/employees",
            get(move |headers: HeaderMap, Query(query): Query<PageQuery>| {
                let employees = shared.clone();
                let token = token.clone();
                async move {
                    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(token.as_str()) {
                        return error(StatusCode::UNAUTHORIZED, "wrong or missing bearer token");
                    }
                    let per_page = query.per_page.unwrap_or(2).clamp(1, 100);
                    let page = query.page.unwrap_or(1).max(1);
                    let all = lock(&employees).clone();
                    let start = (page - 1).saturating_mul(per_page).min(all.len());
                    let end = (start + per_page).min(all.len());
                    let next = (end < all.len()).then_some(page + 1);
                    Json(json!({ "employees": &all[start..end], "next_page": next })).into_response()
                }
            }),
        );
        let addr = serve_on(router, port)?;
        Ok(Self { employees, addr })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces (by `id`) or adds an employee.
    pub fn upsert(&self, employee: Value) {
        let mut employees = lock(&self.employees);
        match employees.iter_mut().find(|e| e["id"] == employee["id"]) {
            Some(existing) => *existing = employee,
            None => employees.push(employee),
        }
    }
}

#[derive(Default)]
struct App {
    users: BTreeMap<String, Value>,
    teams: BTreeMap<String, Value>,
    next_id: u64,
    writes: u64,
}

type SharedApp = Arc<Mutex<App>>;

#[derive(Clone)]
pub struct TinyApp {
    app: SharedApp,
    addr: SocketAddr,
}

/// Fields of a user a client may set.
const USER_FIELDS: &[&str] = &["external_id", "email", "first_name", "last_name", "title", "active"];

impl TinyApp {
    /// Empty, accepting basic auth `api:{key}`, on `port` (0: any).
    pub fn start_on(key: &str, port: u16) -> std::io::Result<Self> {
        let app = SharedApp::default();
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("api:{key}"))
        );
        let router = Router::new()
            .route("/api/users", get(list_users).post(create_user))
            .route("/api/users/{id}", patch(update_user))
            .route("/api/teams", get(list_teams).post(create_team))
            .route("/api/teams/{id}/members", post(add_member))
            .route("/api/teams/{id}/members/{user}", delete(remove_member))
            .route_layer(middleware::from_fn_with_state(Arc::new(expected), authorized))
            .with_state(app.clone());
        let addr = serve_on(router, port)?;
        Ok(Self { app, addr })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every user, by id.
    pub fn users(&self) -> BTreeMap<String, Value> {
        lock(&self.app).users.clone()
    }

    /// Every team, by id.
    pub fn teams(&self) -> BTreeMap<String, Value> {
        lock(&self.app).teams.clone()
    }

    /// Writes received (creates, updates, team changes).
    pub fn writes(&self) -> u64 {
        lock(&self.app).writes
    }
}

type AppState = State<SharedApp>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Every route of the tiny app wants basic auth `api:{key}`.
async fn authorized(State(expected): State<Arc<String>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "basic auth api:<key> expected");
    }
    next.run(request).await
}

#[derive(Deserialize)]
struct Window {
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn list_users(State(app): AppState, Query(window): Query<Window>) -> Response {
    let app = lock(&app);
    let offset = window.offset.unwrap_or(0);
    let limit = window.limit.unwrap_or(50).clamp(1, 200);
    let users: Vec<&Value> = app.users.values().skip(offset).take(limit).collect();
    Json(json!({ "users": users, "total": app.users.len() })).into_response()
}

/// The fields of `body` a user may have, or a 422 naming the one that is not.
fn user_fields(body: &Value) -> Result<Map<String, Value>, Response> {
    let Some(object) = body.as_object() else {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body must be a JSON object",
        ));
    };
    for (name, value) in object {
        if !USER_FIELDS.contains(&name.as_str()) {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("unknown field `{name}`"),
            ));
        }
        let fits = match name.as_str() {
            "active" => value.is_boolean(),
            _ => value.is_string() || value.is_null(),
        };
        if !fits {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("field `{name}` has the wrong type"),
            ));
        }
    }
    Ok(object.clone())
}

async fn create_user(State(app): AppState, Json(body): Json<Value>) -> Response {
    let mut fields = match user_fields(&body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let Some(email) = fields.get("email").and_then(Value::as_str).map(str::to_lowercase) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "field `email` is required");
    };
    let mut app = lock(&app);
    if let Some(existing) = app
        .users
        .values()
        .find(|u| u["email"].as_str().map(str::to_lowercase).as_deref() == Some(email.as_str()))
    {
        let id = existing["id"].clone();
        return (
            StatusCode::CONFLICT,
            Json(json!({ "error": "a user with this e-mail exists", "id": id })),
        )
            .into_response();
    }
    app.next_id += 1;
    app.writes += 1;
    let id = format!("u{}", app.next_id);
    fields.insert("id".into(), json!(id));
    fields.entry("active").or_insert(json!(true));
    let user = Value::Object(fields);
    app.users.insert(id, user.clone());
    (StatusCode::CREATED, Json(user)).into_response()
}

async fn update_user(State(app): AppState, Path(id): Path<String>, Json(body): Json<Value>) -> Response {
    let fields = match user_fields(&body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let mut app = lock(&app);
    let Some(user) = app.users.get_mut(&id).and_then(Value::as_object_mut) else {
        return error(StatusCode::NOT_FOUND, &format!("no user {id}"));
    };
    for (name, value) in fields {
        user.insert(name, value);
    }
    let updated = Value::Object(user.clone());
    app.writes += 1;
    Json(updated).into_response()
}

async fn list_teams(State(app): AppState) -> Response {
    let app = lock(&app);
    let teams: Vec<&Value> = app.teams.values().collect();
    Json(json!({ "teams": teams })).into_response()
}

async fn create_team(State(app): AppState, Json(body): Json<Value>) -> Response {
    let Some(name) = body["name"].as_str().filter(|n| !n.trim().is_empty()) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "field `name` is required");
    };
    let external_id = match &body["external_id"] {
        Value::Null | Value::String(_) => body["external_id"].clone(),
        _ => return error(StatusCode::UNPROCESSABLE_ENTITY, "field `external_id` must be text"),
    };
    let mut app = lock(&app);
    if app.teams.values().any(|t| t["name"] == name) {
        return error(StatusCode::CONFLICT, "a team with this name exists");
    }
    app.next_id += 1;
    app.writes += 1;
    let id = format!("t{}", app.next_id);
    let team = json!({ "id": id, "name": name, "external_id": external_id, "member_ids": [] });
    app.teams.insert(id, team.clone());
    (StatusCode::CREATED, Json(team)).into_response()
}

async fn add_member(State(app): AppState, Path(id): Path<String>, Json(body): Json<Value>) -> Response {
    let Some(user) = body["user_id"].as_str().map(str::to_string) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "field `user_id` is required");
    };
    let mut app = lock(&app);
    if !app.users.contains_key(&user) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, &format!("no user {user}"));
    }
    let Some(members) = app.teams.get_mut(&id).and_then(|t| t["member_ids"].as_array_mut()) else {
        return error(StatusCode::NOT_FOUND, &format!("no team {id}"));
    };
    if !members.iter().any(|m| m == &json!(user)) {
        members.push(json!(user));
    }
    app.writes += 1;
    StatusCode::NO_CONTENT.into_response()
}

async fn remove_member(State(app): AppState, Path((id, user)): Path<(String, String)>) -> Response {
    let mut app = lock(&app);
    let Some(members) = app.teams.get_mut(&id).and_then(|t| t["member_ids"].as_array_mut()) else {
        return error(StatusCode::NOT_FOUND, &format!("no team {id}"));
    };
    members.retain(|m| m != &json!(user));
    app.writes += 1;
    StatusCode::NO_CONTENT.into_response()
}
