//! The Personio API v1, as its public documents describe it (see
//! docs/architecture.md, "The emulators"):
//! `POST /v1/auth` (client id + secret → bearer token with `expires_in`) and
//! `GET /v1/company/employees` (`limit`, `offset`, `updated_since`, `email`),
//! answering `{success, metadata, offset, limit, data: [{type: "Employee",
//! attributes: {key: {label, value, type, universal_id}}}]}`.
//!
//! `GET /v1/company/employees/attributes` lists the attributes released to
//! the credentials; attributes withheld (`withhold`) are missing from it
//! and from every employee, as in Personio.
//!
//! Test controls: change employees, let tokens expire, queue faults (a 500 or
//! a 429 with Retry-After on the next employee requests), count requests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{now_ms, parse_timestamp_ms, serve_on, Fault, Faults};

/// One employee as the emulator stores it.
#[derive(Debug, Clone)]
pub struct HrEmployee {
    pub id: u64,
    pub first_name: String,
    pub last_name: String,
    pub preferred_name: Option<String>,
    /// None: the attribute's value is null.
    pub email: Option<String>,
    /// onboarding | active | leave | inactive
    pub status: String,
    /// internal | external
    pub employment_type: String,
    pub position: Option<String>,
    pub department: Option<String>,
    pub office: Option<String>,
    pub team: Option<String>,
    pub supervisor_id: Option<u64>,
    pub gender: Option<String>,
    pub hire_date: Option<String>,
    pub termination_date: Option<String>,
    pub birthday: Option<String>,
    /// `dynamic_NNNN` fields: key, label, type (standard | date | decimal |
    /// integer), value.
    pub dynamic: Vec<(String, String, String, Value)>,
    pub last_modified_ms: u64,
}

impl HrEmployee {
    /// A plausible employee `id` in `department`.
    pub fn new(id: u64, first_name: &str, last_name: &str, department: &str) -> Self {
        Self {
            id,
            first_name: first_name.into(),
            last_name: last_name.into(),
            preferred_name: None,
            email: Some(format!(
                "{}.{}@example.com",
                first_name.to_lowercase(),
                last_name.to_lowercase()
            )),
            status: "active".into(),
            employment_type: "internal".into(),
            position: Some("Specialist".into()),
            department: Some(department.into()),
            office: Some("Berlin".into()),
            team: None,
            supervisor_id: None,
            gender: None,
            hire_date: Some("2021-04-01".into()),
            termination_date: None,
            birthday: Some("1990-01-01".into()),
            dynamic: Vec::new(),
            last_modified_ms: now_ms(),
        }
    }
}

/// Requests the emulator answered, by endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub auth: u64,
    pub employee_pages: u64,
    pub rejected_tokens: u64,
}

struct Token {
    value: String,
    expires_at_ms: u64,
}

struct Inner {
    client_id: String,
    client_secret: String,
    token_ttl: Duration,
    tokens: Vec<Token>,
    employees: Vec<HrEmployee>,
    /// Employee id → position in `employees`.
    index: HashMap<u64, usize>,
    /// Each employee's JSON, rendered once: a page is then a join of
    /// strings, so the emulator keeps up with 100,000-employee benchmarks.
    /// Any change clears it (a rename changes the reports' supervisor too).
    rendered: HashMap<u64, String>,
    /// Applied to employee requests: skip this many, then fail.
    faults: Faults,
    counts: Counts,
    issued: u64,
    /// Employee pages left before every token expires at once.
    tokens_expire_after: Option<u64>,
    /// Attribute keys not released to the API credentials.
    withheld: Vec<String>,
}

/// A running Personio emulator.
#[derive(Clone)]
pub struct PersonioEmulator {
    inner: Arc<Mutex<Inner>>,
    addr: SocketAddr,
}

impl PersonioEmulator {
    pub fn start(client_id: &str, client_secret: &str) -> std::io::Result<Self> {
        Self::start_on(client_id, client_secret, 0)
    }

    /// On 127.0.0.1:`port` (0: a free one).
    pub fn start_on(client_id: &str, client_secret: &str, port: u16) -> std::io::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            token_ttl: Duration::from_secs(86_400),
            tokens: Vec::new(),
            employees: Vec::new(),
            index: HashMap::new(),
            rendered: HashMap::new(),
            faults: Faults::default(),
            counts: Counts::default(),
            issued: 0,
            tokens_expire_after: None,
            withheld: Vec::new(),
        }));
        let router = Router::new()
            .route("/v1/auth", post(auth))
            .route("/v1/company/employees", get(employees))
            .route("/v1/company/employees/attributes", get(attributes))
            .with_state(inner.clone());
        let addr = serve_on(router, port)?;
        Ok(Self { inner, addr })
    }

    /// `http://127.0.0.1:PORT`, the plugin's `base_url` and granted host.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds or replaces employees (by id), with their `last_modified_ms`.
    pub fn upsert(&self, employees: impl IntoIterator<Item = HrEmployee>) {
        let mut inner = self.lock();
        inner.rendered.clear();
        for employee in employees {
            match inner.index.get(&employee.id) {
                Some(&at) => inner.employees[at] = employee,
                None => {
                    let at = inner.employees.len();
                    inner.index.insert(employee.id, at);
                    inner.employees.push(employee);
                }
            }
        }
    }

    /// Renders every employee's JSON now, so that reads measure the client
    /// rather than the emulator's first rendering.
    pub fn prerender(&self) {
        let mut inner = self.lock();
        for at in 0..inner.employees.len() {
            inner.rendered_json(at);
        }
    }

    /// Changes one employee and marks it modified now.
    pub fn update(&self, id: u64, change: impl FnOnce(&mut HrEmployee)) -> bool {
        let mut inner = self.lock();
        let Some(&at) = inner.index.get(&id) else {
            return false;
        };
        let Some(employee) = inner.employees.get_mut(at) else {
            return false;
        };
        change(employee);
        employee.last_modified_ms = now_ms();
        inner.rendered.clear();
        true
    }

    pub fn remove(&self, id: u64) {
        let mut inner = self.lock();
        inner.employees.retain(|e| e.id != id);
        inner.rendered.clear();
        inner.index = inner.employees.iter().enumerate().map(|(at, e)| (e.id, at)).collect();
    }

    /// Tokens issued from now on expire after `ttl`.
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.lock().token_ttl = ttl;
    }

    /// Makes every token issued so far invalid, as if it expired.
    pub fn expire_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// Every token expires after `pages` more employee pages: a token that
    /// runs out in the middle of a read.
    pub fn expire_tokens_after(&self, pages: u64) {
        self.lock().tokens_expire_after = Some(pages);
    }

    /// Fails the employee request after `skip` more successful ones.
    pub fn fail_after(&self, skip: u64, fault: Fault) {
        self.lock().faults.push(skip, fault);
    }

    pub fn counts(&self) -> Counts {
        self.lock().counts
    }

    /// Stops releasing these attribute keys (e.g. `employment_type`) to the
    /// API credentials: they disappear from the attribute list and from
    /// every employee.
    pub fn withhold(&self, keys: &[&str]) {
        let mut inner = self.lock();
        inner.withheld = keys.iter().map(|k| k.to_string()).collect();
        inner.rendered.clear();
    }
}

impl Inner {
    /// The JSON of the employee at `at`, rendered on first use.
    fn rendered_json(&mut self, at: usize) -> &str {
        let Inner {
            employees,
            index,
            rendered,
            withheld,
            ..
        } = self;
        let employee = &employees[at];
        rendered.entry(employee.id).or_insert_with(|| {
            let mut json = render(employee, |id| index.get(&id).and_then(|at| employees.get(*at)));
            if let Some(attributes) = json["attributes"].as_object_mut() {
                attributes.retain(|key, _| !withheld.contains(key));
            }
            json.to_string()
        })
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "success": false, "error": { "code": status.as_u16(), "message": message } })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct Credentials {
    client_id: String,
    client_secret: String,
}

async fn auth(State(inner): State<Arc<Mutex<Inner>>>, body: Option<Json<Credentials>>) -> Response {
    let Some(Json(credentials)) = body else {
        return error(StatusCode::BAD_REQUEST, "client_id and client_secret are required");
    };
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    inner.counts.auth += 1;
    if credentials.client_id != inner.client_id || credentials.client_secret != inner.client_secret {
        return error(StatusCode::UNAUTHORIZED, "Wrong credentials");
    }
    inner.issued += 1;
    let value = format!("emulated-token-{}-{}", inner.issued, now_ms());
    let ttl = inner.token_ttl;
    inner.tokens.push(Token {
        value: value.clone(),
        expires_at_ms: now_ms() + ttl.as_millis() as u64,
    });
    Json(json!({
        "success": true,
        "data": { "token": value, "expires_in": ttl.as_secs(), "scope": "employees:read" }
    }))
    .into_response()
}

/// Whether the request carries a token issued and not expired.
fn bearer_ok(inner: &Inner, headers: &HeaderMap) -> bool {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let now = now_ms();
    token.is_some_and(|t| inner.tokens.iter().any(|k| k.value == t && k.expires_at_ms > now))
}

#[derive(Deserialize)]
struct EmployeeQuery {
    limit: Option<usize>,
    offset: Option<usize>,
    updated_since: Option<String>,
    email: Option<String>,
}

async fn employees(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Query(query): Query<EmployeeQuery>,
) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    if !bearer_ok(&inner, &headers) {
        inner.counts.rejected_tokens += 1;
        return error(StatusCode::UNAUTHORIZED, "The token is invalid or expired");
    }
    if let Some(response) = inner.faults.next(|status| error(status, "emulated fault")) {
        return response;
    }
    inner.counts.employee_pages += 1;
    if let Some(pages) = inner.tokens_expire_after {
        inner.tokens_expire_after = pages.checked_sub(1).filter(|left| *left > 0);
        if inner.tokens_expire_after.is_none() {
            inner.tokens.clear();
        }
    }
    let limit = query.limit.unwrap_or(10).clamp(1, 200);
    let offset = query.offset.unwrap_or(0);
    let since = match query.updated_since.as_deref().map(|s| (s, parse_timestamp_ms(s))) {
        Some((text, None)) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("updated_since `{text}` is not ISO 8601"),
            )
        }
        Some((_, Some(ms))) => Some(ms),
        None => None,
    };
    // As the spec says: with `updated_since`, `email`, `limit` and `offset`
    // are ignored and every changed employee comes at once (the metadata
    // still counts pages of `limit`).
    let matching: Vec<usize> = inner
        .employees
        .iter()
        .enumerate()
        .filter(|(_, e)| since.is_none_or(|since| e.last_modified_ms > since))
        .filter(|(_, e)| {
            since.is_some()
                || query
                    .email
                    .as_ref()
                    .is_none_or(|m| e.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(m)))
        })
        .map(|(at, _)| at)
        .collect();
    let total = matching.len();
    let page: Vec<usize> = if since.is_some() {
        matching
    } else {
        matching.into_iter().skip(offset).take(limit).collect()
    };
    let mut data = String::with_capacity(page.len() * 2600);
    for (n, at) in page.into_iter().enumerate() {
        if n > 0 {
            data.push(',');
        }
        data.push_str(inner.rendered_json(at));
    }
    let metadata =
        json!({ "total_elements": total, "current_page": offset / limit, "total_pages": total.div_ceil(limit) });
    let body = format!(r#"{{"success":true,"metadata":{metadata},"offset":{offset},"limit":{limit},"data":[{data}]}}"#);
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The attribute keys an employee has, with their labels and types.
const ATTRIBUTES: &[(&str, &str, &str)] = &[
    ("id", "ID", "integer"),
    ("first_name", "First name", "standard"),
    ("last_name", "Last name", "standard"),
    ("email", "Email", "standard"),
    ("preferred_name", "Preferred name", "standard"),
    ("gender", "Gender", "standard"),
    ("status", "Status", "standard"),
    ("position", "Position", "standard"),
    ("supervisor", "Supervisor", "standard"),
    ("employment_type", "Employment type", "standard"),
    ("weekly_working_hours", "Weekly hours", "standard"),
    ("hire_date", "Hire date", "date"),
    ("termination_date", "Termination date", "date"),
    ("birthday", "Birthday", "date"),
    ("office", "Office", "standard"),
    ("department", "Department", "standard"),
    ("team", "Team", "standard"),
    ("cost_centers", "Cost center", "standard"),
    ("fix_salary", "Fix salary", "decimal"),
    ("last_modified_at", "Last modified", "date"),
];

async fn attributes(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    let inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    if !bearer_ok(&inner, &headers) {
        return error(StatusCode::UNAUTHORIZED, "The token is invalid or expired");
    }
    let mut data: Vec<Value> = ATTRIBUTES
        .iter()
        .filter(|(key, _, _)| !inner.withheld.iter().any(|w| w == key))
        .map(|(key, label, kind)| json!({ "key": key, "label": label, "type": kind, "universal_id": key, "options": [] }))
        .collect();
    let mut custom: Vec<(&str, &str, &str)> = Vec::new();
    for employee in &inner.employees {
        for (key, label, kind, _) in &employee.dynamic {
            if !custom.iter().any(|(k, _, _)| k == key) {
                custom.push((key, label, kind));
            }
        }
    }
    data.extend(
        custom
            .into_iter()
            .filter(|(key, _, _)| !inner.withheld.iter().any(|w| w == key))
            .map(|(key, label, kind)| json!({ "key": key, "label": label, "type": kind, "universal_id": null, "options": [] })),
    );
    Json(json!({ "success": true, "data": data })).into_response()
}

fn attribute(label: &str, value: Value, kind: &str, universal_id: Option<&str>) -> Value {
    json!({ "label": label, "value": value, "type": kind, "universal_id": universal_id })
}

fn named(kind: &str, id: u64, name: &Option<String>) -> Value {
    match name {
        Some(name) => json!({ "type": kind, "attributes": { "id": id, "name": name } }),
        None => Value::Null,
    }
}

/// Small stable ids for departments, offices and teams.
fn id_of(name: &Option<String>) -> u64 {
    name.as_deref()
        .map(|n| {
            n.bytes()
                .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
                % 1_000_000
        })
        .unwrap_or(0)
}

fn render<'a>(e: &HrEmployee, employee: impl Fn(u64) -> Option<&'a HrEmployee>) -> Value {
    let date = |d: &Option<String>| {
        d.as_ref()
            .map(|d| Value::String(format!("{d}T00:00:00+01:00")))
            .unwrap_or(Value::Null)
    };
    let supervisor = e.supervisor_id.map(|id| {
        let boss = employee(id);
        let mut attrs = Map::new();
        attrs.insert("id".into(), attribute("ID", json!(id), "integer", Some("id")));
        if let Some(boss) = boss {
            attrs.insert(
                "first_name".into(),
                attribute("First name", json!(boss.first_name), "standard", Some("first_name")),
            );
            attrs.insert(
                "last_name".into(),
                attribute("Last name", json!(boss.last_name), "standard", Some("last_name")),
            );
            attrs.insert(
                "email".into(),
                attribute("Email", json!(boss.email), "standard", Some("email")),
            );
        }
        json!({ "type": "Employee", "attributes": attrs })
    });
    let mut attrs = Map::new();
    let mut put = |key: &str, label: &str, value: Value, kind: &str| {
        attrs.insert(key.into(), attribute(label, value, kind, Some(key)));
    };
    put("id", "ID", json!(e.id), "integer");
    put("first_name", "First name", json!(e.first_name), "standard");
    put("last_name", "Last name", json!(e.last_name), "standard");
    put("email", "Email", json!(e.email), "standard");
    put("preferred_name", "Preferred name", json!(e.preferred_name), "standard");
    put("gender", "Gender", json!(e.gender), "standard");
    put("status", "Status", json!(e.status), "standard");
    put("position", "Position", json!(e.position), "standard");
    put(
        "supervisor",
        "Supervisor",
        supervisor.unwrap_or(Value::Null),
        "standard",
    );
    put(
        "employment_type",
        "Employment type",
        json!(e.employment_type),
        "standard",
    );
    put("weekly_working_hours", "Weekly hours", json!("40"), "standard");
    put("hire_date", "Hire date", date(&e.hire_date), "date");
    put(
        "termination_date",
        "Termination date",
        date(&e.termination_date),
        "date",
    );
    put("birthday", "Birthday", date(&e.birthday), "date");
    put(
        "office",
        "Office",
        named("Office", id_of(&e.office), &e.office),
        "standard",
    );
    put(
        "department",
        "Department",
        named("Department", id_of(&e.department), &e.department),
        "standard",
    );
    put("team", "Team", named("Team", id_of(&e.team), &e.team), "standard");
    put(
        "cost_centers",
        "Cost center",
        json!([{ "type": "CostCenter", "attributes": { "id": 82957, "name": "Cost center 1", "percentage": 100 } }]),
        "standard",
    );
    put("fix_salary", "Fix salary", json!(3000), "decimal");
    put(
        "last_modified_at",
        "Last modified",
        json!(format_ms(e.last_modified_ms)),
        "date",
    );
    for (key, label, kind, value) in &e.dynamic {
        attrs.insert(
            key.clone(),
            json!({ "label": label, "value": value, "universal_id": null, "type": kind }),
        );
    }
    json!({ "type": "Employee", "attributes": attrs })
}

fn format_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days (Howard Hinnant), for the `last_modified_at` field.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
