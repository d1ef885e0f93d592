//! Microsoft Entra ID through Microsoft Graph on loopback, from the pages in
//! ../shared/specs/entra/ (their README lists the facts this follows):
//!
//! - `POST /{tenant}/oauth2/v2.0/token`: the OAuth 2.0 client-credentials
//!   grant (form fields `client_id`, `client_secret`, `scope`,
//!   `grant_type`), answering `{token_type, expires_in, access_token}` or
//!   the identity platform's `{error, error_description, error_codes}`.
//! - `GET /v1.0/users/delta`: delta rounds. Query parameters (`$select`)
//!   only on the first request of a round; they are encoded in the opaque
//!   `$skiptoken` of `@odata.nextLink` and `$deltatoken` of the final
//!   page's `@odata.deltaLink`. A round after a delta link returns the
//!   users changed since, with every selected property (unchanged ones
//!   too, never-set ones omitted), removed users as `{id, @removed}`, and
//!   `manager@delta` (the manager's id only) in the first round for every
//!   user with a manager and afterwards only when the manager changed.
//!   `$deltatoken=latest` answers a delta link and no data. A token issued
//!   before [`EntraEmulator::expire_delta_tokens`] answers `410 Gone` with a
//!   `Location` to start over. `$expand` is accepted and ignored, as Graph
//!   does on delta.
//! - `GET /v1.0/users/{id}/manager` (404 `Request_ResourceNotFound` without
//!   one) and `GET /v1.0/groups/{id}/transitiveMembers` in nextLink pages.
//! - Selecting `employeeLeaveDateTime` without the permission
//!   `User-LifeCycleInfo.Read.All` ([`EntraEmulator::withhold_lifecycle`])
//!   answers 403 `Authorization_RequestDenied`.
//! - Bearer tokens expire after [`EntraEmulator::set_token_lifetime`];
//!   Graph answers 401 `InvalidAuthenticationToken` for an expired or
//!   unknown one. Queued faults answer 429 `TooManyRequests` or 503 with
//!   `Retry-After`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{now_ms, serve_on, Fault, Faults};

/// The properties Graph returns on `/users` without `$select`.
const DEFAULT_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

/// A user of the directory. `None` is a property never set: Graph omits it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntraUser {
    pub id: String,
    pub account_enabled: bool,
    pub user_principal_name: String,
    pub mail: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub display_name: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub company_name: Option<String>,
    pub office_location: Option<String>,
    pub employee_id: Option<String>,
    pub employee_type: Option<String>,
    /// `2021-04-01T00:00:00Z`
    pub employee_hire_date: Option<String>,
    pub employee_leave_date_time: Option<String>,
    pub preferred_language: Option<String>,
    /// `Member` or `Guest`.
    pub user_type: String,
    pub division: Option<String>,
    pub cost_center: Option<String>,
    /// The manager's id.
    pub manager: Option<String>,
}

impl EntraUser {
    /// An enabled member with a name, mail and department; `n` makes the id.
    pub fn new(n: u64, given_name: &str, surname: &str, department: &str) -> Self {
        let upn = format!(
            "{}.{}@contoso.example",
            given_name.to_lowercase(),
            surname.to_lowercase()
        );
        Self {
            id: user_id(n),
            account_enabled: true,
            user_principal_name: upn.clone(),
            mail: Some(upn),
            given_name: Some(given_name.into()),
            surname: Some(surname.into()),
            display_name: Some(format!("{given_name} {surname}")),
            job_title: Some("Specialist".into()),
            department: Some(department.into()),
            company_name: Some("Contoso".into()),
            office_location: Some("Berlin".into()),
            employee_id: Some(format!("E{n:05}")),
            employee_type: Some("Employee".into()),
            employee_hire_date: Some("2021-04-01T00:00:00Z".into()),
            employee_leave_date_time: None,
            preferred_language: Some("de-DE".into()),
            user_type: "Member".into(),
            division: None,
            cost_center: None,
            manager: None,
        }
    }

    /// Every property, as Graph names them; `manager` is not a property.
    fn properties(&self) -> Map<String, Value> {
        let mut map = Map::new();
        let mut put = |name: &str, value: Option<Value>| {
            if let Some(value) = value {
                map.insert(name.into(), value);
            }
        };
        put("id", Some(json!(self.id)));
        put("accountEnabled", Some(json!(self.account_enabled)));
        put("userPrincipalName", Some(json!(self.user_principal_name)));
        put("mail", self.mail.clone().map(Value::from));
        put("givenName", self.given_name.clone().map(Value::from));
        put("surname", self.surname.clone().map(Value::from));
        put("displayName", self.display_name.clone().map(Value::from));
        put("jobTitle", self.job_title.clone().map(Value::from));
        put("department", self.department.clone().map(Value::from));
        put("companyName", self.company_name.clone().map(Value::from));
        put("officeLocation", self.office_location.clone().map(Value::from));
        put("employeeId", self.employee_id.clone().map(Value::from));
        put("employeeType", self.employee_type.clone().map(Value::from));
        put("employeeHireDate", self.employee_hire_date.clone().map(Value::from));
        put(
            "employeeLeaveDateTime",
            self.employee_leave_date_time.clone().map(Value::from),
        );
        put("preferredLanguage", self.preferred_language.clone().map(Value::from));
        put("userType", Some(json!(self.user_type)));
        put("businessPhones", Some(json!([])));
        if self.division.is_some() || self.cost_center.is_some() {
            put(
                "employeeOrgData",
                Some(json!({ "division": self.division, "costCenter": self.cost_center })),
            );
        }
        map
    }

    /// The selected properties (every default one when `select` is empty).
    fn selected(&self, select: &[String]) -> Map<String, Value> {
        let all = self.properties();
        let wanted = |name: &str| {
            name == "id"
                || if select.is_empty() {
                    DEFAULT_PROPERTIES.contains(&name)
                } else {
                    select.iter().any(|s| s.eq_ignore_ascii_case(name))
                }
        };
        all.into_iter().filter(|(name, _)| wanted(name)).collect()
    }
}

/// A stable GUID-shaped id for the `n`th user.
pub fn user_id(n: u64) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", n, n)
}

struct Stored {
    user: EntraUser,
    /// The change sequence number of the last change of any property.
    changed: u64,
    /// Of the last change of the manager; the manager before it.
    manager_changed: u64,
    manager_before: Option<String>,
}

/// What a page token carries: the round's selection and where it stands.
#[derive(Serialize, Deserialize)]
struct RoundToken {
    /// The generation of delta tokens it belongs to.
    generation: u64,
    /// A first round: every user, whatever changed when.
    first: bool,
    /// Changes after this sequence number.
    since: u64,
    /// Up to this sequence number (the round's snapshot).
    upto: u64,
    /// Users already returned in this round.
    offset: usize,
    select: Vec<String>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub token_requests: u64,
    /// Delta pages answered, of first rounds and of later rounds.
    pub first_round_pages: u64,
    pub change_pages: u64,
    pub manager_lookups: u64,
    pub member_pages: u64,
    pub unauthorized: u64,
}

struct Inner {
    tenant: String,
    client_id: String,
    client_secret: String,
    token_lifetime_secs: u64,
    tokens: HashMap<String, u64>,
    users: BTreeMap<String, Stored>,
    /// Removed users: id → (sequence number, reason `changed` or `deleted`).
    removed: BTreeMap<String, (u64, &'static str)>,
    groups: HashMap<String, BTreeSet<String>>,
    sequence: u64,
    generation: u64,
    page_size: usize,
    lifecycle_granted: bool,
    faults: Faults,
    counts: Counts,
    base: String,
}

#[derive(Clone)]
pub struct EntraEmulator {
    inner: Arc<Mutex<Inner>>,
    addr: SocketAddr,
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl EntraEmulator {
    /// A directory of tenant `tenant` with one app registration.
    pub fn start(tenant: &str, client_id: &str, client_secret: &str) -> std::io::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner {
            tenant: tenant.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            token_lifetime_secs: 3599,
            tokens: HashMap::new(),
            users: BTreeMap::new(),
            removed: BTreeMap::new(),
            groups: HashMap::new(),
            sequence: 0,
            generation: 1,
            page_size: 100,
            lifecycle_granted: true,
            faults: Faults::default(),
            counts: Counts::default(),
            base: String::new(),
        }));
        let router = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/v1.0/users/delta", get(users_delta))
            .route("/v1.0/users/{id}/manager", get(manager))
            .route("/v1.0/groups/{id}/transitiveMembers", get(transitive_members))
            .with_state(inner.clone());
        let addr = serve_on(router, 0)?;
        lock(&inner).base = format!("http://{addr}");
        Ok(Self { inner, addr })
    }

    /// `http://127.0.0.1:PORT`: both the login and the Graph base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Users per delta page (Graph decides it; `$top` is not supported).
    pub fn set_page_size(&self, size: usize) {
        lock(&self.inner).page_size = size.max(1);
    }

    /// How long access tokens last, in seconds (`expires_in`).
    pub fn set_token_lifetime(&self, secs: u64) {
        lock(&self.inner).token_lifetime_secs = secs;
    }

    /// Every access token issued so far stops working (as when it expired).
    pub fn expire_access_tokens(&self) {
        lock(&self.inner).tokens.clear();
    }

    /// The app registration lacks `User-LifeCycleInfo.Read.All`.
    pub fn withhold_lifecycle(&self) {
        lock(&self.inner).lifecycle_granted = false;
    }

    /// Every delta and skip token issued so far is answered `410 Gone`.
    pub fn expire_delta_tokens(&self) {
        lock(&self.inner).generation += 1;
    }

    pub fn fault(&self, skip: u64, fault: Fault) {
        lock(&self.inner).faults.push(skip, fault);
    }

    pub fn counts(&self) -> Counts {
        lock(&self.inner).counts
    }

    /// Adds or replaces users (a change of each).
    pub fn upsert(&self, users: impl IntoIterator<Item = EntraUser>) {
        let mut inner = lock(&self.inner);
        for user in users {
            inner.put(user);
        }
    }

    /// Changes one user; false when there is none with that id.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut EntraUser)) -> bool {
        let mut inner = lock(&self.inner);
        let Some(mut user) = inner.users.get(id).map(|s| s.user.clone()) else {
            return false;
        };
        change(&mut user);
        inner.put(user);
        true
    }

    /// Deletes a user: soft (`changed`, restorable) or permanently.
    pub fn delete(&self, id: &str, permanently: bool) -> bool {
        let mut inner = lock(&self.inner);
        if inner.users.remove(id).is_none() {
            return false;
        }
        inner.sequence += 1;
        let sequence = inner.sequence;
        inner
            .removed
            .insert(id.into(), (sequence, if permanently { "deleted" } else { "changed" }));
        true
    }

    pub fn user(&self, id: &str) -> Option<EntraUser> {
        lock(&self.inner).users.get(id).map(|s| s.user.clone())
    }

    /// Sets a group's (transitive) members.
    pub fn set_group(&self, group_id: &str, members: impl IntoIterator<Item = String>) {
        lock(&self.inner)
            .groups
            .insert(group_id.into(), members.into_iter().collect());
    }
}

impl Inner {
    fn put(&mut self, user: EntraUser) {
        self.sequence += 1;
        let sequence = self.sequence;
        self.removed.remove(&user.id);
        match self.users.get_mut(&user.id) {
            Some(stored) if stored.user == user => {}
            Some(stored) => {
                if stored.user.manager != user.manager {
                    stored.manager_before = stored.user.manager.clone();
                    stored.manager_changed = sequence;
                }
                stored.user = user;
                stored.changed = sequence;
            }
            None => {
                self.users.insert(
                    user.id.clone(),
                    Stored {
                        user,
                        changed: sequence,
                        manager_changed: sequence,
                        manager_before: None,
                    },
                );
            }
        }
    }

    /// The bearer token of a Graph request, if it is one issued and alive.
    fn authorized(&mut self, headers: &HeaderMap) -> bool {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let alive = token
            .and_then(|t| self.tokens.get(t.trim()))
            .is_some_and(|expires| *expires > now_ms());
        if !alive {
            self.counts.unauthorized += 1;
        }
        alive
    }

    /// A Graph request's turn: a queued fault, or 401 without a live token.
    fn admit(&mut self, headers: &HeaderMap) -> Result<(), Box<Response>> {
        if let Some(fault) = self.fault() {
            return Err(Box::new(fault));
        }
        if !self.authorized(headers) {
            return Err(Box::new(unauthorized()));
        }
        Ok(())
    }

    fn fault(&mut self) -> Option<Response> {
        self.faults.next(|status| {
            let code = if status == StatusCode::TOO_MANY_REQUESTS {
                "TooManyRequests"
            } else {
                "serviceNotAvailable"
            };
            graph_error(status, code, "The service is busy; retry later.")
        })
    }

    fn delta_link(&self, token: &RoundToken) -> String {
        format!("{}/v1.0/users/delta?$deltatoken={}", self.base, encode(token))
    }

    fn next_link(&self, token: &RoundToken) -> String {
        format!("{}/v1.0/users/delta?$skiptoken={}", self.base, encode(token))
    }
}

fn encode(token: &RoundToken) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(token).unwrap_or_default())
}

fn decode(text: &str) -> Option<RoundToken> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).ok()?).ok()
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message, "innerError": { "date": "2026-12-04T00:00:00" } } })),
    )
        .into_response()
}

fn unauthorized() -> Response {
    graph_error(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        "Access token has expired or is not yet valid.",
    )
}

#[derive(Deserialize)]
struct TokenForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    grant_type: Option<String>,
}

fn identity_error(status: StatusCode, error: &str, code: u64, description: &str) -> Response {
    (
        status,
        Json(json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description}"),
            "error_codes": [code],
        })),
    )
        .into_response()
}

async fn token(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(tenant): Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    let mut inner = lock(&inner);
    inner.counts.token_requests += 1;
    if let Some(fault) = inner.fault() {
        return fault;
    }
    if tenant != inner.tenant {
        return identity_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    // The identity platform's answer to each way the request can be wrong,
    // checked in this order.
    let refusals = [
        (
            form.grant_type.as_deref() != Some("client_credentials"),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        ),
        (
            form.scope.as_deref() != Some("https://graph.microsoft.com/.default"),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
        ),
        (
            form.client_id.as_deref() != Some(inner.client_id.as_str()),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            "Application was not found in the directory.",
        ),
        (
            form.client_secret.as_deref() != Some(inner.client_secret.as_str()),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client secret provided.",
        ),
    ];
    if let Some((_, status, error, code, description)) = refusals.into_iter().find(|(refused, ..)| *refused) {
        return identity_error(status, error, code, description);
    }
    let access_token = format!("eyJ0eXAi.{:016x}.{:08x}", fastrand::u64(..), inner.tokens.len());
    let lifetime = inner.token_lifetime_secs;
    inner.tokens.insert(access_token.clone(), now_ms() + lifetime * 1000);
    Json(json!({ "token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access_token }))
        .into_response()
}

async fn users_delta(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = lock(&inner);
    if let Err(refused) = inner.admit(&headers) {
        return *refused;
    }
    let restart = |inner: &Inner| {
        let mut response = graph_error(
            StatusCode::GONE,
            "syncStateNotFound",
            "The sync state is no longer valid; start a new delta round.",
        );
        if let Ok(location) = format!("{}/v1.0/users/delta", inner.base).parse() {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    };
    let mut round = if let Some(skip) = query.get("$skiptoken") {
        match decode(skip) {
            Some(round) if round.generation == inner.generation => round,
            Some(_) => return restart(&inner),
            None => return graph_error(StatusCode::BAD_REQUEST, "badRequest", "Invalid skip token."),
        }
    } else if let Some(delta) = query.get("$deltatoken") {
        if delta == "latest" {
            let round = RoundToken {
                generation: inner.generation,
                first: false,
                since: inner.sequence,
                upto: inner.sequence,
                offset: 0,
                select: select(&query),
            };
            return Json(
                json!({ "@odata.context": "users/delta", "value": [], "@odata.deltaLink": inner.delta_link(&round) }),
            )
            .into_response();
        }
        match decode(delta) {
            Some(round) if round.generation == inner.generation => RoundToken {
                first: false,
                since: round.upto,
                upto: inner.sequence,
                offset: 0,
                ..round
            },
            Some(_) => return restart(&inner),
            None => return graph_error(StatusCode::BAD_REQUEST, "badRequest", "Invalid delta token."),
        }
    } else {
        RoundToken {
            generation: inner.generation,
            first: true,
            since: 0,
            upto: inner.sequence,
            offset: 0,
            select: select(&query),
        }
    };
    let leave_date = round
        .select
        .iter()
        .any(|s| s.eq_ignore_ascii_case("employeeLeaveDateTime"));
    if leave_date && !inner.lifecycle_granted {
        return graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    if round.first {
        inner.counts.first_round_pages += 1;
    } else {
        inner.counts.change_pages += 1;
    }
    let wants_manager = round.select.iter().any(|s| s.eq_ignore_ascii_case("manager"));
    // The round's entries in a stable order: users changed in the round's
    // window (or every user in a first round), then the removed ones.
    let (first, since, upto) = (round.first, round.since, round.upto);
    let changed = inner
        .users
        .values()
        .filter(|s| first || (s.changed > since && s.changed <= upto));
    let removed = inner
        .removed
        .iter()
        .filter(|(_, (at, _))| *at > since && *at <= upto)
        .map(|(id, (_, reason))| json!({ "id": id, "@removed": { "reason": reason } }));
    let entries: Vec<Value> = changed
        .map(|stored| {
            let mut user = stored.user.selected(&round.select);
            if wants_manager {
                if first {
                    if let Some(manager) = &stored.user.manager {
                        user.insert(
                            "manager@delta".into(),
                            json!([{ "@odata.type": "#microsoft.graph.user", "id": manager }]),
                        );
                    }
                } else if stored.manager_changed > since && stored.manager_changed <= upto {
                    let annotation = match (&stored.user.manager, &stored.manager_before) {
                        (Some(manager), _) => json!([{ "@odata.type": "#microsoft.graph.user", "id": manager }]),
                        (None, Some(before)) => json!([{ "@odata.type": "#microsoft.graph.user", "id": before, "@removed": { "reason": "deleted" } }]),
                        (None, None) => json!([]),
                    };
                    user.insert("manager@delta".into(), annotation);
                }
            }
            Value::Object(user)
        })
        .chain(removed)
        .skip(round.offset)
        .take(inner.page_size + 1)
        .collect();
    let more = entries.len() > inner.page_size;
    let page: Vec<Value> = entries.into_iter().take(inner.page_size).collect();
    round.offset += page.len();
    let link = if more {
        ("@odata.nextLink", inner.next_link(&round))
    } else {
        ("@odata.deltaLink", inner.delta_link(&round))
    };
    let mut body = json!({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": page });
    body[link.0] = json!(link.1);
    Json(body).into_response()
}

/// `$select` as a list of names.
fn select(query: &HashMap<String, String>) -> Vec<String> {
    query
        .get("$select")
        .map(|s| {
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

async fn manager(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = lock(&inner);
    if let Err(refused) = inner.admit(&headers) {
        return *refused;
    }
    inner.counts.manager_lookups += 1;
    let manager = inner
        .users
        .get(&id)
        .and_then(|s| s.user.manager.as_ref())
        .and_then(|m| inner.users.get(m));
    match manager {
        Some(manager) => {
            let mut body = manager.user.selected(&select(&query));
            body.insert("@odata.type".into(), json!("#microsoft.graph.user"));
            Json(Value::Object(body)).into_response()
        }
        None => graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            "Resource 'manager' does not exist or one of its queried reference-property objects are not present.",
        ),
    }
}

async fn transitive_members(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = lock(&inner);
    if let Err(refused) = inner.admit(&headers) {
        return *refused;
    }
    inner.counts.member_pages += 1;
    let Some(members) = inner.groups.get(&id) else {
        return graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        );
    };
    let top = query
        .get("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 999);
    let offset = query
        .get("$skiptoken")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let page: Vec<Value> = members
        .iter()
        .skip(offset)
        .take(top)
        .map(|member| json!({ "@odata.type": "#microsoft.graph.user", "id": member }))
        .collect();
    let mut body =
        json!({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects", "value": page });
    if offset + top < members.len() {
        body["@odata.nextLink"] = json!(format!(
            "{}/v1.0/groups/{id}/transitiveMembers?$top={top}&$skiptoken={}",
            inner.base,
            offset + top
        ));
    }
    Json(body).into_response()
}
