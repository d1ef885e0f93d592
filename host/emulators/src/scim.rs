//! A SCIM 2.0 service provider (RFC 7643/7644) in memory: `/Users` and
//! `/Groups` with bearer-token auth, `startIndex`/`count` paging,
//! `filter=userName eq "..."` (and `externalId eq`, `displayName eq`),
//! POST (409 `uniqueness` on a taken userName), GET, PATCH (add, replace,
//! remove; paths as plain attributes, `name.givenName`, enterprise-extension
//! URNs, `members[value eq "..."]`; operation names in any case), DELETE.
//!
//! `POST /Bulk` (RFC 7644 §3.7) runs the same operations in order, each
//! answered with its own status, as `/ServiceProviderConfig` advertises.
//!
//! Test controls: pre-existing users (created "by hand"), queued faults (a
//! 429 with Retry-After or a 5xx on the next requests), write counts.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{serve_on, Fault, Faults};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
pub const BULK_MAX_OPERATIONS: usize = 1000;
const BULK_MAX_PAYLOAD: usize = 4 << 20;

/// Writes the emulator received, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Writes {
    pub user_posts: u64,
    pub user_patches: u64,
    pub group_posts: u64,
    pub group_patches: u64,
    pub deletes: u64,
}

impl Writes {
    pub fn total(&self) -> u64 {
        self.user_posts + self.user_patches + self.group_posts + self.group_patches + self.deletes
    }
}

/// Users or groups, in creation order, indexed by id and by their unique
/// name (`userName`, `displayName`; case-insensitive), so that lookups stay
/// cheap at 100,000 users.
struct Resources {
    name_attribute: &'static str,
    items: Vec<Value>,
    /// Each item's JSON once rendered, for listing 100,000 users quickly.
    rendered: Vec<Option<String>>,
    by_id: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
}

impl Resources {
    fn new(name_attribute: &'static str) -> Self {
        Self {
            name_attribute,
            items: Vec::new(),
            rendered: Vec::new(),
            by_id: HashMap::new(),
            by_name: HashMap::new(),
        }
    }

    fn name_key(&self, resource: &Value) -> Option<String> {
        resource[self.name_attribute].as_str().map(str::to_lowercase)
    }

    fn push(&mut self, resource: Value) {
        let index = self.items.len();
        if let Some(id) = resource["id"].as_str() {
            self.by_id.insert(id.to_string(), index);
        }
        if let Some(name) = self.name_key(&resource) {
            self.by_name.insert(name, index);
        }
        self.items.push(resource);
        self.rendered.push(None);
    }

    /// The JSON of the item at `index`.
    fn rendered(&mut self, index: usize) -> &str {
        let item = &self.items[index];
        self.rendered[index].get_or_insert_with(|| item.to_string())
    }

    fn get(&self, id: &str) -> Option<&Value> {
        self.by_id.get(id).map(|i| &self.items[*i])
    }

    fn by_name(&self, name: &str) -> Option<&Value> {
        self.by_name.get(&name.to_lowercase()).map(|i| &self.items[*i])
    }

    /// Replaces a resource, keeping the name index right.
    fn replace(&mut self, id: &str, resource: Value) -> bool {
        let Some(&index) = self.by_id.get(id) else {
            return false;
        };
        if let Some(old) = self.name_key(&self.items[index]) {
            self.by_name.remove(&old);
        }
        if let Some(new) = self.name_key(&resource) {
            self.by_name.insert(new, index);
        }
        self.items[index] = resource;
        self.rendered[index] = None;
        true
    }

    fn remove(&mut self, id: &str) -> bool {
        let before = self.items.len();
        self.items.retain(|r| r["id"] != id);
        let removed = self.items.len() != before;
        if removed {
            let items = std::mem::take(&mut self.items);
            self.rendered.clear();
            self.by_id.clear();
            self.by_name.clear();
            for item in items {
                self.push(item);
            }
        }
        removed
    }
}

struct Inner {
    token: String,
    users: Resources,
    groups: Resources,
    next_id: u64,
    faults: Faults,
    writes: Writes,
    requests: u64,
    /// Whether `/Bulk` is offered (ServiceProviderConfig says so).
    bulk: bool,
    bulk_requests: u64,
}

type Shared = Arc<Mutex<Inner>>;

#[derive(Clone)]
pub struct ScimEmulator {
    inner: Shared,
    addr: SocketAddr,
}

impl ScimEmulator {
    pub fn start(token: &str) -> std::io::Result<Self> {
        Self::start_on(token, 0)
    }

    /// On 127.0.0.1:`port` (0: a free one).
    pub fn start_on(token: &str, port: u16) -> std::io::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner {
            token: token.into(),
            users: Resources::new("userName"),
            groups: Resources::new("displayName"),
            next_id: 1,
            faults: Faults::default(),
            writes: Writes::default(),
            requests: 0,
            bulk: true,
            bulk_requests: 0,
        }));
        let router = Router::new()
            .route("/scim/v2/Users", get(list_users).post(create_user))
            .route(
                "/scim/v2/Users/{id}",
                get(get_user).patch(patch_user).delete(delete_user),
            )
            .route("/scim/v2/Groups", get(list_groups).post(create_group))
            .route("/scim/v2/Bulk", post(bulk))
            .route("/scim/v2/ServiceProviderConfig", get(service_provider_config))
            .route(
                "/scim/v2/Groups/{id}",
                get(get_group).patch(patch_group).delete(delete_group),
            )
            .with_state(inner.clone());
        let addr = serve_on(router, port)?;
        Ok(Self { inner, addr })
    }

    /// `http://127.0.0.1:PORT/scim/v2`
    pub fn base_url(&self) -> String {
        format!("http://{}/scim/v2", self.addr)
    }

    /// `http://127.0.0.1:PORT`, the origin to grant.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A user created by hand in the app, outside any sync. Returns its id.
    pub fn add_user(&self, user_name: &str, given: &str, family: &str, active: bool) -> String {
        let mut inner = self.lock();
        let id = inner.new_id();
        let user = json!({
            "schemas": [USER_SCHEMA], "id": id, "userName": user_name, "active": active,
            "name": { "givenName": given, "familyName": family },
            "emails": [{ "value": user_name, "type": "work", "primary": true }],
            "meta": { "resourceType": "User" }
        });
        inner.users.push(user);
        id
    }

    pub fn users(&self) -> Vec<Value> {
        self.lock().users.items.clone()
    }

    pub fn user_by_name(&self, user_name: &str) -> Option<Value> {
        self.lock().users.by_name(user_name).cloned()
    }

    pub fn groups(&self) -> Vec<Value> {
        self.lock().groups.items.clone()
    }

    /// A group made by hand in the app. Returns its id.
    pub fn add_group(&self, name: &str, member_ids: &[&str]) -> String {
        let mut inner = self.lock();
        let id = inner.new_id().replace('u', "g");
        let members: Vec<Value> = member_ids.iter().map(|m| json!({ "value": m })).collect();
        inner.groups.push(json!({
            "schemas": [GROUP_SCHEMA], "id": id, "displayName": name, "members": members,
            "meta": { "resourceType": "Group" }
        }));
        id
    }

    /// Changes a user directly, as an admin of the app would.
    pub fn edit_user(&self, id: &str, change: impl FnOnce(&mut Value)) -> bool {
        let mut inner = self.lock();
        let Some(mut user) = inner.users.get(id).cloned() else {
            return false;
        };
        change(&mut user);
        inner.users.replace(id, user)
    }

    /// Fails a request after `skip` more successful ones.
    pub fn fail_after(&self, skip: u64, fault: Fault) {
        self.lock().faults.push(skip, fault);
    }

    /// Offer `/Bulk` or not (on by default).
    pub fn set_bulk(&self, supported: bool) {
        self.lock().bulk = supported;
    }

    /// Bulk requests answered.
    pub fn bulk_requests(&self) -> u64 {
        self.lock().bulk_requests
    }

    pub fn writes(&self) -> Writes {
        self.lock().writes
    }

    pub fn requests(&self) -> u64 {
        self.lock().requests
    }
}

impl Inner {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("u{:06}", self.next_id)
    }

    /// Auth and queued faults, for every request: the refusal, if any.
    fn refuse(&mut self, headers: &HeaderMap) -> Option<Response> {
        self.requests += 1;
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer != Some(self.token.as_str()) {
            return Some(scim_error(StatusCode::UNAUTHORIZED, None, "invalid bearer token"));
        }
        self.faults.next(|status| scim_error(status, None, "emulated fault"))
    }
}

fn eq_ci(value: &Value, text: &str) -> bool {
    value.as_str().is_some_and(|v| v.eq_ignore_ascii_case(text))
}

fn scim_error(status: StatusCode, scim_type: Option<&str>, detail: &str) -> Response {
    let mut body = json!({ "schemas": [ERROR], "status": status.as_u16().to_string(), "detail": detail });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    (status, [(header::CONTENT_TYPE, "application/scim+json")], Json(body)).into_response()
}

fn scim_json(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/scim+json")], Json(body)).into_response()
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(rename = "startIndex")]
    start_index: Option<usize>,
    count: Option<usize>,
    filter: Option<String>,
}

/// `attr eq "value"` → (attr, value).
fn parse_filter(filter: &str) -> Option<(String, String)> {
    let (attr, rest) = filter.trim().split_once(char::is_whitespace)?;
    let (op, value) = rest.trim().split_once(char::is_whitespace)?;
    if !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    Some((attr.to_string(), value.trim().trim_matches('"').to_string()))
}

fn list(resources: &mut Resources, query: &ListQuery) -> Response {
    let filtered: Vec<usize> = match query.filter.as_deref() {
        None => (0..resources.items.len()).collect(),
        Some(filter) => match parse_filter(filter) {
            Some((attr, value)) if attr.eq_ignore_ascii_case(resources.name_attribute) => resources
                .by_name
                .get(&value.to_lowercase())
                .copied()
                .into_iter()
                .collect(),
            Some((attr, value)) => resources
                .items
                .iter()
                .enumerate()
                .filter(|(_, r)| eq_ci(&r[attr.as_str()], &value))
                .map(|(at, _)| at)
                .collect(),
            None => {
                return scim_error(
                    StatusCode::BAD_REQUEST,
                    Some("invalidFilter"),
                    "only `attribute eq \"value\"` is supported",
                )
            }
        },
    };
    let start = query.start_index.unwrap_or(1).max(1);
    let count = query.count.unwrap_or(100).min(1000);
    let page: Vec<usize> = filtered.iter().skip(start - 1).take(count).copied().collect();
    let mut resources_json = String::new();
    for (n, at) in page.iter().enumerate() {
        if n > 0 {
            resources_json.push(',');
        }
        resources_json.push_str(resources.rendered(*at));
    }
    let body = format!(
        r#"{{"schemas":["{LIST}"],"totalResults":{},"startIndex":{start},"itemsPerPage":{},"Resources":[{resources_json}]}}"#,
        filtered.len(),
        page.len()
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/scim+json")], body).into_response()
}

async fn list_users(State(inner): State<Shared>, headers: HeaderMap, Query(query): Query<ListQuery>) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(response) = inner.refuse(&headers) {
        return response;
    }
    list(&mut inner.users, &query)
}

async fn list_groups(State(inner): State<Shared>, headers: HeaderMap, Query(query): Query<ListQuery>) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(response) = inner.refuse(&headers) {
        return response;
    }
    list(&mut inner.groups, &query)
}

/// A refused write: status, SCIM error type and detail.
struct Refusal {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

fn refusal(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Refusal {
    Refusal {
        status,
        scim_type,
        detail: detail.into(),
    }
}

/// What a write answers: a status and maybe the resource.
type Written = Result<(StatusCode, Option<Value>), Refusal>;

fn respond(written: Written) -> Response {
    match written {
        Ok((status, Some(body))) => scim_json(status, body),
        Ok((status, None)) => status.into_response(),
        Err(r) => scim_error(r.status, r.scim_type, &r.detail),
    }
}

impl Inner {
    fn create_user(&mut self, body: Option<Value>) -> Written {
        let Some(mut user) = body.filter(Value::is_object) else {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                Some("invalidSyntax"),
                "body must be a User object",
            ));
        };
        let Some(user_name) = user["userName"].as_str().map(str::to_string).filter(|n| !n.is_empty()) else {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
                "userName is required",
            ));
        };
        if self.users.by_name(&user_name).is_some() {
            return Err(refusal(
                StatusCode::CONFLICT,
                Some("uniqueness"),
                format!("User already exists: {user_name}"),
            ));
        }
        self.writes.user_posts += 1;
        let id = self.new_id();
        user["id"] = json!(id);
        if user.get("active").is_none() {
            user["active"] = json!(true);
        }
        user["meta"] = json!({ "resourceType": "User", "location": format!("/scim/v2/Users/{id}") });
        self.users.push(user.clone());
        Ok((StatusCode::CREATED, Some(user)))
    }

    fn create_group(&mut self, body: Option<Value>) -> Written {
        let Some(mut group) = body.filter(|b| b["displayName"].is_string()) else {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
                "displayName is required",
            ));
        };
        if group["displayName"]
            .as_str()
            .and_then(|name| self.groups.by_name(name))
            .is_some()
        {
            return Err(refusal(
                StatusCode::CONFLICT,
                Some("uniqueness"),
                "Group already exists",
            ));
        }
        self.writes.group_posts += 1;
        let id = self.new_id().replace('u', "g");
        group["id"] = json!(id);
        if group.get("members").is_none() {
            group["members"] = json!([]);
        }
        group["meta"] = json!({ "resourceType": "Group", "location": format!("/scim/v2/Groups/{id}") });
        self.groups.push(group.clone());
        Ok((StatusCode::CREATED, Some(group)))
    }

    fn patch(&mut self, id: &str, body: Option<Value>, user: bool) -> Written {
        let Some(operations) = body.as_ref().and_then(|b| b["Operations"].as_array()).cloned() else {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                Some("invalidSyntax"),
                "PatchOp needs Operations",
            ));
        };
        if user {
            self.writes.user_patches += 1;
        } else {
            self.writes.group_patches += 1;
        }
        let list = if user { &mut self.users } else { &mut self.groups };
        let Some(mut patched) = list.get(id).cloned() else {
            return Err(refusal(StatusCode::NOT_FOUND, None, format!("{id} not found")));
        };
        for operation in &operations {
            apply_operation(&mut patched, operation)
                .map_err(|detail| refusal(StatusCode::BAD_REQUEST, Some("invalidPath"), detail))?;
        }
        if user {
            list.replace(id, patched.clone());
            Ok((StatusCode::OK, Some(patched)))
        } else {
            // Groups can have thousands of members: answer 204, as RFC 7644
            // §3.5.2 allows, instead of sending them all back.
            list.replace(id, patched);
            Ok((StatusCode::NO_CONTENT, None))
        }
    }

    fn delete(&mut self, id: &str, user: bool) -> Written {
        self.writes.deletes += 1;
        let list = if user { &mut self.users } else { &mut self.groups };
        if !list.remove(id) {
            return Err(refusal(StatusCode::NOT_FOUND, None, format!("{id} not found")));
        }
        Ok((StatusCode::NO_CONTENT, None))
    }

    /// One operation of a bulk request, by method and path.
    fn bulk_operation(&mut self, method: &str, path: &str, data: Option<Value>) -> Written {
        let path = path.trim_start_matches('/');
        let (resource, id) = path.split_once('/').unwrap_or((path, ""));
        let user = match resource {
            "Users" => true,
            "Groups" => false,
            _ => {
                return Err(refusal(
                    StatusCode::BAD_REQUEST,
                    Some("invalidPath"),
                    format!("unknown path /{path}"),
                ))
            }
        };
        match (method.to_ascii_uppercase().as_str(), id) {
            ("POST", "") if user => self.create_user(data),
            ("POST", "") => self.create_group(data),
            ("PATCH", id) if !id.is_empty() => self.patch(id, data, user),
            ("DELETE", id) if !id.is_empty() => self.delete(id, user),
            (method, _) => Err(refusal(
                StatusCode::BAD_REQUEST,
                Some("invalidSyntax"),
                format!("{method} /{path} is not a bulk operation"),
            )),
        }
    }
}

async fn create_user(State(inner): State<Shared>, headers: HeaderMap, body: Option<Json<Value>>) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(response) = inner.refuse(&headers) {
        return response;
    }
    respond(inner.create_user(body.map(|b| b.0)))
}

async fn create_group(State(inner): State<Shared>, headers: HeaderMap, body: Option<Json<Value>>) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(response) = inner.refuse(&headers) {
        return response;
    }
    respond(inner.create_group(body.map(|b| b.0)))
}

async fn get_user(State(inner): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    get_resource(inner, headers, id, true).await
}

async fn get_group(State(inner): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    get_resource(inner, headers, id, false).await
}

async fn get_resource(inner: Shared, headers: HeaderMap, id: String, user: bool) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(response) = inner.refuse(&headers) {
        return response;
    }
    let list = if user { &inner.users } else { &inner.groups };
    match list.get(&id) {
        Some(r) => scim_json(StatusCode::OK, r.clone()),
        None => scim_error(StatusCode::NOT_FOUND, None, &format!("{id} not found")),
    }
}

async fn delete_user(State(inner): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    delete_resource(inner, headers, id, true).await
}

async fn delete_group(State(inner): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    delete_resource(inner, headers, id, false).await
}

async fn delete_resource(inner: Shared, headers: HeaderMap, id: String, user: bool) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(response) = inner.refuse(&headers) {
        return response;
    }
    respond(inner.delete(&id, user))
}

async fn patch_user(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    patch(inner, headers, id, body, true).await
}

async fn patch_group(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    patch(inner, headers, id, body, false).await
}

async fn patch(inner: Shared, headers: HeaderMap, id: String, body: Option<Json<Value>>, user: bool) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(response) = inner.refuse(&headers) {
        return response;
    }
    respond(inner.patch(&id, body.map(|b| b.0), user))
}

/// RFC 7644 §3.7: the operations in order, each answered with its own
/// status; `failOnErrors` stops after that many errors.
async fn bulk(State(inner): State<Shared>, headers: HeaderMap, body: Option<Json<Value>>) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(response) = inner.refuse(&headers) {
        return response;
    }
    if !inner.bulk {
        return scim_error(StatusCode::NOT_IMPLEMENTED, None, "bulk operations are not supported");
    }
    let Some(operations) = body.as_ref().and_then(|b| b.0["Operations"].as_array()).cloned() else {
        return scim_error(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            "BulkRequest needs Operations",
        );
    };
    if operations.len() > BULK_MAX_OPERATIONS {
        return scim_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("tooMany"),
            &format!("more than {BULK_MAX_OPERATIONS} operations"),
        );
    }
    let fail_on_errors = body.as_ref().and_then(|b| b.0["failOnErrors"].as_u64());
    inner.bulk_requests += 1;
    let mut answers = Vec::with_capacity(operations.len());
    let mut errors = 0;
    for operation in operations {
        if fail_on_errors.is_some_and(|max| errors >= max) {
            break;
        }
        let method = operation["method"].as_str().unwrap_or_default().to_string();
        let path = operation["path"].as_str().unwrap_or_default().to_string();
        let mut answer = json!({ "method": method });
        if let Some(bulk_id) = operation.get("bulkId") {
            answer["bulkId"] = bulk_id.clone();
        }
        match inner.bulk_operation(&method, &path, operation.get("data").cloned()) {
            Ok((status, resource)) => {
                answer["status"] = json!(status.as_u16().to_string());
                if let Some(location) = resource.as_ref().and_then(|r| r["meta"]["location"].as_str()) {
                    answer["location"] = json!(location);
                }
                if let Some(resource) = resource.filter(|_| method.eq_ignore_ascii_case("POST")) {
                    answer["response"] = resource;
                }
            }
            Err(r) => {
                errors += 1;
                answer["status"] = json!(r.status.as_u16().to_string());
                let mut error =
                    json!({ "schemas": [ERROR], "status": r.status.as_u16().to_string(), "detail": r.detail });
                if let Some(t) = r.scim_type {
                    error["scimType"] = json!(t);
                }
                answer["response"] = error;
            }
        }
        answers.push(answer);
    }
    scim_json(
        StatusCode::OK,
        json!({ "schemas": [BULK_RESPONSE], "Operations": answers }),
    )
}

async fn service_provider_config(State(inner): State<Shared>) -> Response {
    let bulk = inner.lock().unwrap_or_else(|p| p.into_inner()).bulk;
    scim_json(
        StatusCode::OK,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": { "supported": true },
            "bulk": { "supported": bulk, "maxOperations": BULK_MAX_OPERATIONS, "maxPayloadSize": BULK_MAX_PAYLOAD },
            "filter": { "supported": true, "maxResults": 1000 },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": false },
            "authenticationSchemes": [{ "type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "Bearer token" }]
        }),
    )
}

/// Applies one PATCH operation to a resource.
fn apply_operation(resource: &mut Value, operation: &Value) -> Result<(), String> {
    let op = operation["op"].as_str().unwrap_or_default().to_ascii_lowercase();
    let value = operation.get("value").cloned().unwrap_or(Value::Null);
    let Some(path) = operation["path"].as_str() else {
        // No path: the value is an object of attributes to add or replace.
        let Value::Object(fields) = value else {
            return Err("an operation without path needs an object value".into());
        };
        for (key, field) in fields {
            set_path(resource, &key, field);
        }
        return Ok(());
    };
    // members[value eq "id"]
    if let Some(inner) = path.strip_prefix("members[").and_then(|p| p.strip_suffix(']')) {
        let (_, member) = parse_filter(inner).ok_or_else(|| format!("bad filter in `{path}`"))?;
        if op == "remove" {
            if let Some(members) = resource["members"].as_array_mut() {
                members.retain(|m| m["value"] != member.as_str());
            }
            return Ok(());
        }
        return Err(format!("`{op}` on `{path}` is not supported"));
    }
    match op.as_str() {
        "add" if path == "members" => {
            let mut merged = resource["members"].as_array().cloned().unwrap_or_default();
            let mut present: HashSet<String> = merged
                .iter()
                .filter_map(|m| m["value"].as_str().map(str::to_string))
                .collect();
            for member in value.as_array().cloned().unwrap_or_default() {
                if member["value"]
                    .as_str()
                    .is_some_and(|id| present.insert(id.to_string()))
                {
                    merged.push(member);
                }
            }
            resource["members"] = Value::Array(merged);
        }
        "add" | "replace" => set_path(resource, path, value),
        "remove" => remove_path(resource, path),
        other => return Err(format!("unknown op `{other}`")),
    }
    Ok(())
}

/// `name.givenName`, `active`, `urn:...:User:department`, `urn:...:User`.
fn split_path(path: &str) -> (Option<&str>, &str) {
    if let Some(rest) = path.strip_prefix(ENTERPRISE) {
        return match rest.strip_prefix(':') {
            Some(attr) => (Some(ENTERPRISE), attr),
            None => (None, ENTERPRISE),
        };
    }
    (None, path)
}

fn set_path(resource: &mut Value, path: &str, value: Value) {
    let (extension, attr) = split_path(path);
    let mut node = resource;
    if let Some(ext) = extension {
        if !node[ext].is_object() {
            node[ext] = Value::Object(Map::new());
        }
        node = &mut node[ext];
    }
    let mut parts = attr.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            if value.is_object() && node[part].is_object() {
                if let (Some(existing), Value::Object(fields)) = (node[part].as_object_mut(), value.clone()) {
                    existing.extend(fields);
                    return;
                }
            }
            node[part] = value;
            return;
        }
        if !node[part].is_object() {
            node[part] = Value::Object(Map::new());
        }
        node = &mut node[part];
    }
}

fn remove_path(resource: &mut Value, path: &str) {
    let (extension, attr) = split_path(path);
    let mut node = resource;
    if let Some(ext) = extension {
        node = &mut node[ext];
    }
    let parts: Vec<&str> = attr.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        node = &mut node[*part];
    }
    if let Some(object) = node.as_object_mut() {
        object.remove(parts[parts.len() - 1]);
    }
}
