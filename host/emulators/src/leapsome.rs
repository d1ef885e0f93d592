//! Leapsome's SCIM API in memory, from its OpenAPI document (version 1.1.3;
//! served under `/scim/v1`): what it takes is what that document lists,
//! and anything else is refused naming it, so a client that speaks plain
//! RFC 7644 to it fails here as it would there.
//!
//! - `GET /Users` (`filter=userName eq …` only, `count` ≤ 5000,
//!   `startIndex`), `GET /Users/{id}` (falling back to the `externalId`);
//! - `POST /Users` with `userName`, `name`, `displayName`, `title`,
//!   `photos`, `externalId` — no `active`, manager or extension; an
//!   existing `userName` gets 409, or 201 with `{}` when the emulator is
//!   told to answer as Leapsome also does;
//! - `PATCH /Users/{id}`: a partial user object that must name `userName`;
//!   `active`; the enterprise extension with `manager` as a Leapsome id,
//!   e-mail or `externalId`, dates as `YYYY-MM-DD`; `null` clears;
//! - groups: `GET` (`filter=displayName eq …`, `count` ≤ 1000) without
//!   members, `POST` (409 on a taken name), `PATCH` with `displayName`,
//!   `externalId`, `members` (≤ 100, added) and `replaceMembers`;
//! - a user's teams in its `groups`; no DELETE, no `/Bulk`.
//!
//! Test controls: users and groups made by hand, every request body as
//! received, write counts.

// Refusals are answers (a `Response`), returned as they are.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::serve;

pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CREATE_KEYS: &[&str] = &["userName", "name", "displayName", "title", "photos", "externalId"];
const PATCH_KEYS: &[&str] = &[
    "userName",
    "name",
    "displayName",
    "title",
    "photos",
    "externalId",
    "location",
    "manager",
    "active",
    ENTERPRISE,
];
const ENTERPRISE_KEYS: &[&str] = &[
    "manager",
    "additionalManagers",
    "department",
    "costCenter",
    "division",
    "level",
    "startDate",
    "endDate",
    "birthday",
    "gender",
    "location",
];
const DATE_KEYS: &[&str] = &["startDate", "endDate", "birthday"];

/// A user as Leapsome keeps it.
#[derive(Debug, Clone, Default)]
struct User {
    id: String,
    user_name: String,
    external_id: Option<String>,
    given_name: String,
    family_name: String,
    display_name: Option<String>,
    title: Option<String>,
    active: bool,
    manager: Option<String>,
    /// Enterprise attributes (and custom attribute ids) other than manager.
    enterprise: Map<String, Value>,
}

#[derive(Debug, Clone)]
struct Group {
    id: String,
    name: String,
    external_id: Option<String>,
    members: BTreeSet<String>,
}

#[derive(Default)]
struct Inner {
    token: String,
    users: Vec<User>,
    groups: Vec<Group>,
    next_id: u64,
    /// Answer a create of an existing userName with 201 `{}` instead of 409.
    empty_created_for_existing: bool,
    /// Every request with a body: method, path and body.
    received: Vec<(String, String, Value)>,
    writes: u64,
}

/// Leapsome's SCIM API on loopback.
#[derive(Clone)]
pub struct LeapsomeEmulator {
    inner: Arc<Mutex<Inner>>,
    addr: SocketAddr,
}

impl LeapsomeEmulator {
    pub fn start(token: &str) -> std::io::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner {
            token: token.into(),
            ..Inner::default()
        }));
        let router = Router::new()
            .route("/scim/v1/Users", get(list_users).post(create_user))
            .route("/scim/v1/Users/{id}", get(get_user).patch(patch_user))
            .route("/scim/v1/Groups", get(list_groups).post(create_group))
            .route("/scim/v1/Groups/{id}", get(get_group).patch(patch_group))
            .with_state(inner.clone());
        let addr = serve(router)?;
        Ok(Self { inner, addr })
    }

    /// `http://127.0.0.1:PORT/scim/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/scim/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT`, the origin to grant.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Answer a create of an existing user with 201 and `{}`, as the
    /// document allows, instead of 409.
    pub fn answer_existing_with_empty_object(&self) {
        self.lock().empty_created_for_existing = true;
    }

    /// A user added by hand in Leapsome. Returns its id.
    pub fn add_user(&self, user_name: &str, given: &str, family: &str) -> String {
        let mut inner = self.lock();
        let id = inner.new_id("u");
        inner.users.push(User {
            id: id.clone(),
            user_name: user_name.into(),
            given_name: given.into(),
            family_name: family.into(),
            active: true,
            ..User::default()
        });
        id
    }

    /// A team made by hand in Leapsome. Returns its id.
    pub fn add_group(&self, name: &str, member_ids: &[&str]) -> String {
        let mut inner = self.lock();
        let id = inner.new_id("g");
        inner.groups.push(Group {
            id: id.clone(),
            name: name.into(),
            external_id: None,
            members: member_ids.iter().map(|m| m.to_string()).collect(),
        });
        id
    }

    /// Puts a user into a team by hand.
    pub fn add_member(&self, group_id: &str, user_id: &str) {
        let mut inner = self.lock();
        if let Some(group) = inner.groups.iter_mut().find(|g| g.id == group_id) {
            group.members.insert(user_id.into());
        }
    }

    /// Changes a user's job title by hand.
    pub fn set_title(&self, user_id: &str, title: &str) {
        let mut inner = self.lock();
        if let Some(user) = inner.users.iter_mut().find(|u| u.id == user_id) {
            user.title = Some(title.into());
        }
    }

    /// Deactivates a user by hand ('Users & Teams').
    pub fn deactivate(&self, user_id: &str) {
        let mut inner = self.lock();
        if let Some(user) = inner.users.iter_mut().find(|u| u.id == user_id) {
            user.active = false;
        }
    }

    /// Every user as `GET /Users/{id}` shows it.
    pub fn users(&self) -> Vec<Value> {
        let inner = self.lock();
        inner.users.iter().map(|u| inner.render(u)).collect()
    }

    pub fn user_by_name(&self, user_name: &str) -> Option<Value> {
        let inner = self.lock();
        inner.find_user_by_name(user_name).map(|u| inner.render(u))
    }

    /// Teams with their member ids: (id, name, externalId, members).
    pub fn groups(&self) -> Vec<(String, String, Option<String>, Vec<String>)> {
        self.lock()
            .groups
            .iter()
            .map(|g| {
                (
                    g.id.clone(),
                    g.name.clone(),
                    g.external_id.clone(),
                    g.members.iter().cloned().collect(),
                )
            })
            .collect()
    }

    /// Every request body received, with its method and path.
    pub fn received(&self) -> Vec<(String, String, Value)> {
        self.lock().received.clone()
    }

    /// Requests that changed something.
    pub fn writes(&self) -> u64 {
        self.lock().writes
    }
}

impl Inner {
    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:024x}", self.next_id)
    }

    fn find_user_by_name(&self, user_name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.user_name.eq_ignore_ascii_case(user_name))
    }

    /// By Leapsome id, else by `externalId`, as the document says.
    fn user_index(&self, id: &str) -> Option<usize> {
        self.users
            .iter()
            .position(|u| u.id == id)
            .or_else(|| self.users.iter().position(|u| u.external_id.as_deref() == Some(id)))
    }

    fn group_index(&self, id: &str) -> Option<usize> {
        self.groups
            .iter()
            .position(|g| g.id == id)
            .or_else(|| self.groups.iter().position(|g| g.external_id.as_deref() == Some(id)))
    }

    fn render(&self, user: &User) -> Value {
        let mut enterprise = user.enterprise.clone();
        if let Some(manager) = user
            .manager
            .as_ref()
            .and_then(|m| self.users.iter().find(|u| &u.id == m))
        {
            let display = format!("{} {}", manager.given_name, manager.family_name);
            enterprise.insert(
                "manager".into(),
                json!({ "managerId": manager.id, "displayName": display }),
            );
        }
        let groups: Vec<Value> = self
            .groups
            .iter()
            .filter(|g| g.members.contains(&user.id))
            .map(|g| json!({ "value": g.id }))
            .collect();
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "id": user.id,
            "externalId": user.external_id,
            "userName": user.user_name,
            "name": { "givenName": user.given_name, "familyName": user.family_name },
            "displayName": user.display_name.clone().unwrap_or_else(|| format!("{} {}", user.given_name, user.family_name)),
            "title": user.title.clone().unwrap_or_else(|| "Colleague".into()),
            "active": user.active,
            "emails": [{ "primary": true, "type": "work", "value": user.user_name }],
            "groups": groups,
            ENTERPRISE: enterprise,
            "meta": { "location": format!("/scim/v1/Users/{}", user.id) },
        })
    }

    fn render_group(group: &Group) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": group.id,
            "displayName": group.name,
            "externalId": group.external_id,
            "members": [],
        })
    }

    /// Auth, and the body noted.
    fn admit(&mut self, headers: &HeaderMap, method: &str, path: &str, body: Option<&Value>) -> Option<Response> {
        if let Some(body) = body {
            self.received.push((method.into(), path.into(), body.clone()));
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match bearer {
            None => Some(error(StatusCode::UNAUTHORIZED, "Client is not sufficiently authorized")),
            Some(token) if token != self.token => Some(error(StatusCode::FORBIDDEN, "Invalid token passed")),
            Some(_) => None,
        }
    }

    /// Applies a partial user object to the user at `index`.
    fn patch(&mut self, index: usize, body: &Map<String, Value>) -> Result<(), Response> {
        for key in body.keys() {
            if !PATCH_KEYS.contains(&key.as_str()) {
                return Err(bad(&format!("unknown attribute `{key}`")));
            }
        }
        let user_name = body.get("userName").and_then(Value::as_str).unwrap_or_default();
        if user_name.is_empty() {
            return Err(bad("The userName field is required."));
        }
        if let Some(other) = self.find_user_by_name(user_name) {
            if other.id != self.users[index].id {
                return Err(error(StatusCode::CONFLICT, "Email address conflict"));
            }
        }
        let extension = match body.get(ENTERPRISE) {
            None => Map::new(),
            Some(Value::Object(fields)) => fields.clone(),
            Some(_) => return Err(bad(&format!("`{ENTERPRISE}` is an object"))),
        };
        for (key, value) in &extension {
            let custom = key.len() == 24 && key.chars().all(|c| c.is_ascii_hexdigit());
            if !ENTERPRISE_KEYS.contains(&key.as_str()) && !custom {
                return Err(bad(&format!("unknown enterprise attribute `{key}`")));
            }
            if !(value.is_string() || value.is_null() || key == "additionalManagers") {
                return Err(bad(&format!("`{key}` is a string")));
            }
            if DATE_KEYS.contains(&key.as_str()) {
                if let Some(date) = value.as_str() {
                    if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
                        return Err(bad(&format!("`{key}` is a date as YYYY-MM-DD, not `{date}`")));
                    }
                }
            }
        }
        let manager = match extension.get("manager").or_else(|| body.get("manager")) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(reference)) => {
                let found = self.users.iter().find(|u| {
                    u.id == *reference
                        || u.user_name.eq_ignore_ascii_case(reference)
                        || u.external_id.as_deref() == Some(reference)
                });
                match found {
                    Some(manager) => Some(Some(manager.id.clone())),
                    None => return Err(bad(&format!("manager `{reference}` is not a user of the organization"))),
                }
            }
            Some(_) => return Err(bad("manager is a string")),
        };
        let user = &mut self.users[index];
        user.user_name = user_name.into();
        if let Some(name) = body.get("name") {
            if let Some(given) = name["givenName"].as_str() {
                user.given_name = given.into();
            }
            if let Some(family) = name["familyName"].as_str() {
                user.family_name = family.into();
            }
        }
        for (key, slot) in [
            ("displayName", &mut user.display_name),
            ("title", &mut user.title),
            ("externalId", &mut user.external_id),
        ] {
            if let Some(value) = body.get(key) {
                *slot = value.as_str().map(str::to_string);
            }
        }
        if let Some(active) = body.get("active") {
            user.active = active.as_bool().ok_or_else(|| bad("active is a boolean"))?;
        }
        if let Some(location) = body.get("location") {
            user.enterprise.insert("location".into(), location.clone());
        }
        if let Some(manager) = manager {
            user.manager = manager;
        }
        for (key, value) in extension {
            if key == "manager" {
                continue;
            }
            if value.is_null() {
                user.enterprise.remove(&key);
            } else {
                user.enterprise.insert(key, value);
            }
        }
        Ok(())
    }
}

fn error(status: StatusCode, detail: &str) -> Response {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "detail": detail,
        "status": status.as_u16().to_string(),
    });
    (status, Json(body)).into_response()
}

fn bad(detail: &str) -> Response {
    error(StatusCode::BAD_REQUEST, detail)
}

type Shared = State<Arc<Mutex<Inner>>>;

fn lock(state: &Arc<Mutex<Inner>>) -> MutexGuard<'_, Inner> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Deserialize)]
struct ListQuery {
    filter: Option<String>,
    count: Option<usize>,
    #[serde(rename = "startIndex")]
    start_index: Option<usize>,
}

/// `attr eq value` (the value quoted or not) → value, for the one
/// attribute the endpoint filters by.
fn filter_value(filter: &str, attribute: &str) -> Result<String, Response> {
    let unsupported = || {
        bad(&format!(
            "only `{attribute} eq …` filters are supported, not `{filter}`"
        ))
    };
    let (attr, rest) = filter.trim().split_once(' ').ok_or_else(unsupported)?;
    let (op, value) = rest.trim().split_once(' ').ok_or_else(unsupported)?;
    if attr != attribute || !op.eq_ignore_ascii_case("eq") {
        return Err(unsupported());
    }
    let value = value.trim();
    let unquoted = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .map(|v| v.replace("\\\"", "\"").replace("\\\\", "\\"));
    Ok(unquoted.unwrap_or_else(|| value.to_string()))
}

/// A page of `items` as Leapsome lists them.
fn page(items: Vec<Value>, query: &ListQuery, max: usize) -> Response {
    if query.count.is_some_and(|c| c > max) {
        return bad(&format!("count is at most {max}"));
    }
    let start = query.start_index.unwrap_or(1).max(1);
    let count = query.count.unwrap_or(max);
    let total = items.len();
    let resources: Vec<Value> = items.into_iter().skip(start - 1).take(count).collect();
    Json(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start,
        "Resources": resources,
    }))
    .into_response()
}

async fn list_users(State(state): Shared, headers: HeaderMap, Query(query): Query<ListQuery>) -> Response {
    let inner = &mut *lock(&state);
    if let Some(refused) = inner.admit(&headers, "GET", "/Users", None) {
        return refused;
    }
    let users: Vec<Value> = match &query.filter {
        Some(filter) => match filter_value(filter, "userName") {
            Ok(name) => inner
                .find_user_by_name(&name)
                .map(|u| inner.render(u))
                .into_iter()
                .collect(),
            Err(refused) => return refused,
        },
        None => inner.users.iter().map(|u| inner.render(u)).collect(),
    };
    page(users, &query, 5000)
}

async fn get_user(State(state): Shared, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let inner = &mut *lock(&state);
    if let Some(refused) = inner.admit(&headers, "GET", "/Users/{id}", None) {
        return refused;
    }
    match inner.user_index(&id) {
        Some(index) => Json(inner.render(&inner.users[index])).into_response(),
        None => error(StatusCode::NOT_FOUND, "Resource not found"),
    }
}

async fn create_user(State(state): Shared, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let inner = &mut *lock(&state);
    if let Some(refused) = inner.admit(&headers, "POST", "/Users", Some(&body)) {
        return refused;
    }
    let Some(fields) = body.as_object() else {
        return bad("a user is a JSON object");
    };
    if let Some(key) = fields.keys().find(|k| !CREATE_KEYS.contains(&k.as_str())) {
        return bad(&format!("unknown attribute `{key}` on create"));
    }
    let user_name = fields.get("userName").and_then(Value::as_str).unwrap_or_default();
    if user_name.is_empty() {
        return bad("The userName field is required.");
    }
    if inner.find_user_by_name(user_name).is_some() {
        return match inner.empty_created_for_existing {
            true => (StatusCode::CREATED, Json(json!({}))).into_response(),
            false => error(StatusCode::CONFLICT, "Username is already in use"),
        };
    }
    let id = inner.new_id("u");
    let text = |key: &str| fields.get(key).and_then(Value::as_str).map(str::to_string);
    let user = User {
        id: id.clone(),
        user_name: user_name.into(),
        external_id: text("externalId"),
        given_name: body["name"]["givenName"].as_str().unwrap_or_default().into(),
        family_name: body["name"]["familyName"].as_str().unwrap_or_default().into(),
        display_name: text("displayName"),
        title: text("title"),
        active: true,
        ..User::default()
    };
    let rendered = inner.render(&user);
    inner.users.push(user);
    inner.writes += 1;
    (StatusCode::CREATED, Json(rendered)).into_response()
}

async fn patch_user(
    State(state): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let inner = &mut *lock(&state);
    if let Some(refused) = inner.admit(&headers, "PATCH", &format!("/Users/{id}"), Some(&body)) {
        return refused;
    }
    let Some(index) = inner.user_index(&id) else {
        return error(StatusCode::NOT_FOUND, "User not found");
    };
    let Some(fields) = body.as_object() else {
        return bad("a user is a JSON object");
    };
    if let Err(refused) = inner.patch(index, fields) {
        return refused;
    }
    inner.writes += 1;
    Json(inner.render(&inner.users[index])).into_response()
}

async fn list_groups(State(state): Shared, headers: HeaderMap, Query(query): Query<ListQuery>) -> Response {
    let inner = &mut *lock(&state);
    if let Some(refused) = inner.admit(&headers, "GET", "/Groups", None) {
        return refused;
    }
    let name = match query.filter.as_deref().map(|f| filter_value(f, "displayName")) {
        Some(Err(refused)) => return refused,
        Some(Ok(name)) => Some(name),
        None => None,
    };
    let groups = inner
        .groups
        .iter()
        .filter(|g| name.as_ref().is_none_or(|n| g.name == *n))
        .map(Inner::render_group)
        .collect();
    page(groups, &query, 1000)
}

async fn get_group(State(state): Shared, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let inner = &mut *lock(&state);
    if let Some(refused) = inner.admit(&headers, "GET", "/Groups/{id}", None) {
        return refused;
    }
    match inner.group_index(&id) {
        Some(index) => Json(Inner::render_group(&inner.groups[index])).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn create_group(State(state): Shared, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let inner = &mut *lock(&state);
    if let Some(refused) = inner.admit(&headers, "POST", "/Groups", Some(&body)) {
        return refused;
    }
    if let Some(key) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| !["displayName", "externalId"].contains(&k.as_str())))
    {
        return bad(&format!("unknown attribute `{key}` of a group to create"));
    }
    let name = body["displayName"].as_str().unwrap_or_default().trim().to_string();
    if name.is_empty() {
        return bad("The displayName field is not set");
    }
    if inner.groups.iter().any(|g| g.name == name) {
        return error(
            StatusCode::CONFLICT,
            "The displayName is already in use within the organization",
        );
    }
    let group = Group {
        id: inner.new_id("g"),
        name,
        external_id: body["externalId"].as_str().map(str::to_string),
        members: BTreeSet::new(),
    };
    let rendered = Inner::render_group(&group);
    inner.groups.push(group);
    inner.writes += 1;
    (StatusCode::CREATED, Json(rendered)).into_response()
}

async fn patch_group(
    State(state): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let inner = &mut *lock(&state);
    if let Some(refused) = inner.admit(&headers, "PATCH", &format!("/Groups/{id}"), Some(&body)) {
        return refused;
    }
    let Some(index) = inner.group_index(&id) else {
        return error(StatusCode::UNAUTHORIZED, "group does not exist in organization");
    };
    let known = ["displayName", "externalId", "replaceMembers", "members"];
    if let Some(key) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| !known.contains(&k.as_str())))
    {
        return bad(&format!("unknown attribute `{key}` of a group"));
    }
    let members: Vec<String> = match body.get("members") {
        None => Vec::new(),
        Some(Value::Array(members)) if members.len() > 100 => return bad("The members array exceeds 100 elements"),
        Some(Value::Array(members)) => members
            .iter()
            .map(|m| m["value"].as_str().unwrap_or_default().to_string())
            .collect(),
        Some(_) => return bad("members is an array"),
    };
    let user_ids: HashSet<&str> = inner.users.iter().map(|u| u.id.as_str()).collect();
    if let Some(stranger) = members.iter().find(|m| !user_ids.contains(m.as_str())) {
        return bad(&format!("member `{stranger}` is not a user of the organization"));
    }
    if let Some(name) = body.get("displayName") {
        let Some(name) = name.as_str().filter(|n| !n.trim().is_empty()) else {
            return bad("The displayName field is malformed");
        };
        if name.chars().count() > 128 {
            return bad("The displayName field exceeds 128 characters");
        }
        if inner
            .groups
            .iter()
            .any(|g| g.name == name && g.id != inner.groups[index].id)
        {
            return error(
                StatusCode::CONFLICT,
                "The displayName is already in use within the organization",
            );
        }
        inner.groups[index].name = name.into();
    }
    let group = &mut inner.groups[index];
    if let Some(external_id) = body.get("externalId") {
        group.external_id = external_id.as_str().map(str::to_string);
    }
    if body["replaceMembers"] == true {
        group.members.clear();
    }
    group.members.extend(members);
    let rendered = Inner::render_group(group);
    inner.writes += 1;
    Json(rendered).into_response()
}
