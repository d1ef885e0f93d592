//! BambooHR on loopback, from its OpenAPI file (docs/architecture.md, "The emulators"):
//! `GET /api/v1/employees` (cursor pages with `page[limit]` and
//! `page[after]`, `filter[ids]`, the requested extra fields) and
//! `GET /api/v1/employees/changed?since=`, with the API key as the user of
//! HTTP basic authentication. When a webhook is set, every change POSTs
//! the `employee.*` payload of the spec, signed the way BambooHR's webhook
//! documentation describes: `X-BambooHR-Timestamp` (Unix seconds) and
//! `X-BambooHR-Signature`, the hex HMAC-SHA256 of the body followed by the
//! timestamp, keyed with the webhook's private key.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{now_ms, parse_timestamp_ms, serve_on};

#[derive(Debug, Clone)]
pub struct BambooEmployee {
    pub id: u64,
    pub first_name: String,
    pub last_name: String,
    /// `Active` or `Inactive`.
    pub status: String,
    pub work_email: String,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub location: Option<String>,
    pub reports_to: Option<u64>,
    pub hire_date: Option<String>,
}

impl BambooEmployee {
    pub fn new(id: u64, first_name: &str, last_name: &str, department: &str) -> Self {
        Self {
            id,
            first_name: first_name.into(),
            last_name: last_name.into(),
            status: "Active".into(),
            work_email: format!("{}.{}@example.com", first_name.to_lowercase(), last_name.to_lowercase()),
            job_title: Some("Specialist".into()),
            department: Some(department.into()),
            location: Some("Remote".into()),
            reports_to: None,
            hire_date: Some("2022-03-01".into()),
        }
    }

    fn json(&self) -> Value {
        json!({
            "employeeId": self.id.to_string(),
            "firstName": self.first_name,
            "lastName": self.last_name,
            "preferredName": null,
            "photoUrl": null,
            "jobTitleName": self.job_title,
            "status": self.status,
            "_restrictedFields": [],
            "workEmail": self.work_email,
            "departmentName": self.department,
            "locationName": self.location,
            "divisionName": null,
            "reportsToId": self.reports_to.map(|id| id.to_string()),
            "hireDate": self.hire_date,
            "employmentStatusName": "Full-Time",
        })
    }
}

struct Stored {
    employee: BambooEmployee,
    created_ms: u64,
    changed_ms: u64,
}

struct Inner {
    api_key: String,
    employees: BTreeMap<u64, Stored>,
    deleted: Vec<(u64, u64)>,
    webhook: Option<(String, String)>,
}

#[derive(Clone)]
pub struct BambooHrEmulator {
    inner: Arc<Mutex<Inner>>,
    addr: SocketAddr,
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The hex HMAC-SHA256 BambooHR sends in `X-BambooHR-Signature`.
pub fn signature(private_key: &str, body: &[u8], timestamp: &str) -> String {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(private_key.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

impl BambooHrEmulator {
    pub fn start(api_key: &str) -> std::io::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner {
            api_key: api_key.into(),
            employees: BTreeMap::new(),
            deleted: Vec::new(),
            webhook: None,
        }));
        let router = Router::new()
            .route("/api/v1/employees", get(employees))
            .route("/api/v1/employees/changed", get(changed))
            .with_state(inner.clone());
        let addr = serve_on(router, 0)?;
        Ok(Self { inner, addr })
    }

    /// `http://127.0.0.1:PORT`: the plugin's `base_url` and granted host.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where changes are POSTed, and the private key that signs them.
    pub fn set_webhook(&self, url: &str, private_key: &str) {
        lock(&self.inner).webhook = Some((url.into(), private_key.into()));
    }

    /// Adds or replaces employees, as changed `age_ms` ago (no webhook).
    pub fn upsert(&self, employees: impl IntoIterator<Item = BambooEmployee>, age_ms: u64) {
        let at = now_ms().saturating_sub(age_ms);
        let mut inner = lock(&self.inner);
        for employee in employees {
            let created_ms = inner.employees.get(&employee.id).map_or(at, |s| s.created_ms);
            inner.employees.insert(
                employee.id,
                Stored {
                    employee,
                    created_ms,
                    changed_ms: at,
                },
            );
        }
    }

    /// Changes one employee now; `changed_fields` go into the webhook.
    /// The webhook is sent on its own thread; false when there is no such
    /// employee.
    pub fn update(&self, id: u64, changed_fields: &[&str], change: impl FnOnce(&mut BambooEmployee)) -> bool {
        let webhook = {
            let mut inner = lock(&self.inner);
            let Some(stored) = inner.employees.get_mut(&id) else {
                return false;
            };
            change(&mut stored.employee);
            stored.changed_ms = now_ms();
            inner.webhook.clone()
        };
        if let Some((url, key)) = webhook {
            let body = json!({
                "type": "employee.updated",
                "data": { "companyId": "1", "employeeId": id.to_string(), "changedFields": changed_fields },
            });
            send_webhook(url, key, body);
        }
        true
    }

    /// An employee leaves: status Inactive, with its webhook.
    pub fn terminate(&self, id: u64) -> bool {
        self.update(id, &["status"], |e| e.status = "Inactive".into())
    }

    /// An employee record is deleted: it disappears from the employee list,
    /// `/employees/changed` reports it `Deleted`, and `employee.deleted` is
    /// sent. False when there is no such employee.
    pub fn delete(&self, id: u64) -> bool {
        let webhook = {
            let mut inner = lock(&self.inner);
            if inner.employees.remove(&id).is_none() {
                return false;
            }
            inner.deleted.push((id, now_ms()));
            inner.webhook.clone()
        };
        if let Some((url, key)) = webhook {
            let body = json!({
                "type": "employee.deleted",
                "data": { "companyId": "1", "employeeId": id.to_string() },
            });
            send_webhook(url, key, body);
        }
        true
    }

    pub fn employee(&self, id: u64) -> Option<BambooEmployee> {
        lock(&self.inner).employees.get(&id).map(|s| s.employee.clone())
    }
}

fn send_webhook(url: String, key: String, mut body: Value) {
    std::thread::spawn(move || {
        let now = now_ms();
        body["timestamp"] = json!(rfc3339(now));
        let bytes = body.to_string().into_bytes();
        let timestamp = (now / 1000).to_string();
        let result = ureq::post(&url)
            .set("content-type", "application/json")
            .set("x-bamboohr-timestamp", &timestamp)
            .set("x-bamboohr-signature", &signature(&key, &bytes, &timestamp))
            .send_bytes(&bytes);
        if let Err(error) = result {
            tracing::debug!("BambooHR emulator: webhook to {url} failed: {error}");
        }
    });
}

/// RFC 3339 in UTC, seconds precision.
fn rfc3339(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    decode_base64(encoded.trim())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.split_once(':').map(|(user, _)| user == inner.api_key))
        .unwrap_or(false)
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = ALPHABET.iter().position(|c| *c == byte)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic")]).into_response()
}

async fn employees(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let inner = lock(&inner);
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    let limit = query
        .get("page[limit]")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(250)
        .clamp(1, 2500);
    let after = query.get("page[after]").and_then(|a| a.parse::<u64>().ok());
    let ids: Option<Vec<u64>> = query
        .get("filter[ids]")
        .map(|ids| ids.split(',').filter_map(|id| id.trim().parse().ok()).collect());
    let matching = inner
        .employees
        .values()
        .filter(|s| ids.as_ref().is_none_or(|ids| ids.contains(&s.employee.id)))
        .filter(|s| after.is_none_or(|after| s.employee.id > after));
    let total = inner.employees.len();
    let page: Vec<&Stored> = matching.take(limit + 1).collect();
    let more = page.len() > limit;
    let data: Vec<Value> = page.iter().take(limit).map(|s| s.employee.json()).collect();
    let next = more.then(|| page[limit - 1].employee.id.to_string());
    Json(json!({
        "data": data,
        "meta": { "total": total, "page": { "limit": limit, "nextCursor": next, "prevCursor": null } },
        "_links": { "self": { "href": "/api/v1/employees" } },
    }))
    .into_response()
}

async fn changed(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let inner = lock(&inner);
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    let Some(since) = query.get("since").and_then(|s| parse_timestamp_ms(s)) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut employees = serde_json::Map::new();
    let mut latest = since;
    for stored in inner.employees.values().filter(|s| s.changed_ms >= since) {
        let action = if stored.created_ms >= since {
            "Inserted"
        } else {
            "Updated"
        };
        latest = latest.max(stored.changed_ms);
        employees.insert(
            stored.employee.id.to_string(),
            json!({ "id": stored.employee.id.to_string(), "action": action, "lastChanged": rfc3339(stored.changed_ms) }),
        );
    }
    for (id, at) in inner.deleted.iter().filter(|(_, at)| *at >= since) {
        latest = latest.max(*at);
        employees.insert(
            id.to_string(),
            json!({ "id": id.to_string(), "action": "Deleted", "lastChanged": rfc3339(*at) }),
        );
    }
    Json(json!({ "latest": rfc3339(latest), "employees": employees })).into_response()
}
