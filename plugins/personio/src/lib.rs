//! Personio personnel data API v1 as an hrsync source.
//!
//! - Auth: `POST /v1/auth` with client id and secret gives a bearer token;
//!   it is renewed before it expires and once more when the API answers 401.
//! - Employees: `GET /v1/company/employees?limit&offset`, page by page; the
//!   page token is the next offset. The last page carries a cursor (the time
//!   the read started) for incremental reads with `updated_since`.
//! - Every attribute is `{label, value, type, universal_id}`; standard fields
//!   map onto the canonical employee, everything else (including the
//!   `dynamic_NNNN` custom fields) becomes a typed custom attribute named by
//!   its key. A record that cannot be read is rejected, not fatal.
//!
//! Pagination is read defensively: Personio has changed it before. A page
//! is the last one when it is empty, shorter than asked, or the metadata says
//! so. With `updated_since` Personio ignores `limit` and `offset` and
//! answers every change at once, so an incremental read is one request.
//!
//! Pages are parsed without building a JSON tree: attributes are borrowed
//! from the response and only the ones needed are decoded (a page of 200
//! employees is about 500 KB).

use hrsync_sdk::http::Request;
use hrsync_sdk::time::{date_part, rfc3339_utc};
use hrsync_sdk::{
    config, export_source, log, now_millis, secret, Attribute, AttributeValue, ChangePage, Employee, EmployeePage,
    EmployeeStatus, PersonRef, PluginError, PluginInfo, RejectedRecord, Source,
};
use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

const DEFAULT_BASE_URL: &str = "https://api.personio.de";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_base_url")]
    base_url: String,
    /// Sent as X-Personio-Partner-ID / X-Personio-App-ID when set.
    #[serde(default)]
    partner_id: Option<String>,
    #[serde(default)]
    app_id: Option<String>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

struct Token {
    value: String,
    expires_at_ms: u64,
}

struct Personio {
    config: Config,
    client_id: String,
    client_secret: String,
    token: Option<Token>,
    /// When the current full or incremental read started: the next cursor.
    read_started_ms: Option<u64>,
}

impl Personio {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.trim_end_matches('/'))
    }

    fn token(&mut self) -> Result<String, PluginError> {
        let now = now_millis();
        if let Some(token) = &self.token {
            // Renew a minute early rather than be refused mid-read.
            if token.expires_at_ms > now + 60_000 {
                return Ok(token.value.clone());
            }
        }
        let response = Request::post(&self.url("/v1/auth"))
            .json(&serde_json::json!({ "client_id": self.client_id, "client_secret": self.client_secret }))?
            .send()?;
        if response.status == 401 || response.status == 403 {
            return Err(PluginError::unauthorized(
                "Personio refused the client id and secret (POST /v1/auth); check the API credentials and their scopes",
            ));
        }
        let body: Value = response.error_for_status()?.json()?;
        let token = body["data"]["token"]
            .as_str()
            .ok_or_else(|| PluginError::fatal("POST /v1/auth answered without data.token"))?
            .to_string();
        let expires_in = body["data"]["expires_in"].as_u64().unwrap_or(3600);
        self.token = Some(Token {
            value: token.clone(),
            expires_at_ms: now + expires_in * 1000,
        });
        Ok(token)
    }

    /// GET with the bearer token; a 401 renews the token and tries once more.
    /// Returns the body.
    fn get(&mut self, path_and_query: &str) -> Result<Vec<u8>, PluginError> {
        for attempt in 0..2 {
            let token = self.token()?;
            let mut request = Request::get(&self.url(path_and_query)).bearer(&token);
            if let Some(id) = &self.config.partner_id {
                request = request.header("X-Personio-Partner-ID", id);
            }
            if let Some(id) = &self.config.app_id {
                request = request.header("X-Personio-App-ID", id);
            }
            let response = request.send()?;
            if response.status == 401 && attempt == 0 {
                log::info("Personio token refused; renewing it");
                self.token = None;
                continue;
            }
            return Ok(response.error_for_status()?.body);
        }
        Err(PluginError::unauthorized("Personio refused a freshly issued token"))
    }

    fn page(&mut self, filter: &str, page: Option<String>, page_size: u32) -> Result<Page, PluginError> {
        let offset: u64 = match &page {
            None => {
                self.read_started_ms = Some(now_millis());
                0
            }
            Some(token) => token
                .parse()
                .map_err(|_| PluginError::invalid("page", format!("`{token}` is not an offset")))?,
        };
        let limit = page_size.clamp(1, 200);
        let bytes = self.get(&format!("/v1/company/employees?limit={limit}&offset={offset}{filter}"))?;
        let body: EmployeesBody<'_> = serde_json::from_slice(&bytes).map_err(|e| {
            PluginError::fatal(format!("GET /v1/company/employees answered unexpected JSON: {e}"))
        })?;
        let mut employees = Vec::with_capacity(body.data.len());
        let mut rejected = Vec::new();
        for record in &body.data {
            match employee(record) {
                Ok(employee) => employees.push(employee),
                Err(reject) => rejected.push(reject),
            }
        }
        let count = body.data.len() as u64;
        let metadata_says_last = match body.metadata {
            Some(Metadata {
                current_page: Some(current),
                total_pages: Some(total),
            }) => current + 1 >= total,
            _ => false,
        };
        let changes_only = filter.contains("updated_since=");
        let last = changes_only || count == 0 || count < u64::from(limit) || metadata_says_last;
        let next_page = (!last).then(|| (offset + count).to_string());
        let cursor = last.then(|| rfc3339_utc(self.read_started_ms.unwrap_or_else(now_millis)));
        Ok(Page {
            employees,
            rejected,
            next_page,
            cursor,
        })
    }
}

struct Page {
    employees: Vec<Employee>,
    rejected: Vec<RejectedRecord>,
    next_page: Option<String>,
    cursor: Option<String>,
}

impl Source for Personio {
    fn info() -> PluginInfo {
        PluginInfo::new("personio", env!("CARGO_PKG_VERSION"))
            .description(
                "Personio personnel data API v1: employees, supervisors, departments, offices, teams, custom fields",
            )
            .config_schema(serde_json::json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "base_url": { "type": "string", "description": "default https://api.personio.de" },
                    "partner_id": { "type": "string", "description": "X-Personio-Partner-ID header" },
                    "app_id": { "type": "string", "description": "X-Personio-App-ID header" }
                }
            }))
            .secret("client-id", "Personio API client id", true)
            .secret("client-secret", "Personio API client secret", true)
            .host(DEFAULT_BASE_URL)
    }

    fn new() -> Result<Self, PluginError> {
        Ok(Self {
            config: config()?,
            client_id: secret("client-id")?,
            client_secret: secret("client-secret")?,
            token: None,
            read_started_ms: None,
        })
    }

    fn test_connection(&mut self) -> Result<(), PluginError> {
        self.get("/v1/company/employees?limit=1&offset=0").map(drop)
    }

    fn list_employees(&mut self, page: Option<String>, page_size: u32) -> Result<EmployeePage, PluginError> {
        let Page {
            employees,
            rejected,
            next_page,
            cursor,
        } = self.page("", page, page_size)?;
        Ok(EmployeePage {
            employees,
            rejected,
            next_page,
            cursor,
        })
    }

    fn changes_since(
        &mut self,
        cursor: String,
        page: Option<String>,
        page_size: u32,
    ) -> Result<ChangePage, PluginError> {
        let since: String = cursor
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | 'T'))
            .collect();
        let Page {
            employees,
            rejected,
            next_page,
            cursor,
        } = self.page(&format!("&updated_since={since}"), page, page_size)?;
        // Personio reports no deletions: the host's periodic full read
        // catches employees that disappear.
        Ok(ChangePage {
            employees,
            rejected,
            removed: Vec::new(),
            next_page,
            cursor,
        })
    }
}

#[derive(Deserialize)]
struct EmployeesBody<'a> {
    #[serde(borrow)]
    data: Vec<Record<'a>>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    current_page: Option<u64>,
    total_pages: Option<u64>,
}

/// Attribute key → its JSON, undecoded.
type Attributes<'a> = HashMap<Cow<'a, str>, &'a RawValue>;

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    attributes: Option<Attributes<'a>>,
}

/// Personio's `{label, value, type, universal_id}` around a value.
#[derive(Deserialize)]
struct Wrapped<T> {
    value: Option<T>,
}

/// A scalar attribute value that reads as text (booleans and objects
/// do not).
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Integer(i64),
    Decimal(f64),
}

/// `{type: Department, attributes: {id, name}}` (or a bare `{name}`).
#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow, default)]
    attributes: Option<NameOnly<'a>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct NameOnly<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Supervisor<'a> {
    #[serde(borrow, default)]
    attributes: Option<Attributes<'a>>,
}

/// The value of attribute `key`: wrapped in `{value: ...}` as Personio
/// sends it, or bare.
fn value<'a, T: Deserialize<'a>>(attributes: &Attributes<'a>, key: &str) -> Option<T> {
    let raw: &'a RawValue = attributes.get(key)?;
    match serde_json::from_str::<Wrapped<T>>(raw.get()) {
        Ok(wrapped) => wrapped.value,
        Err(_) => serde_json::from_str::<T>(raw.get()).ok(),
    }
}

fn text(attributes: &Attributes<'_>, key: &str) -> Option<String> {
    match value::<Scalar>(attributes, key)? {
        Scalar::Text(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Scalar::Integer(i) => Some(i.to_string()),
        Scalar::Decimal(d) => Some(d.to_string()),
        _ => None,
    }
}

/// `{type: Department, attributes: {id, name}}` → the name.
fn object_name(attributes: &Attributes<'_>, key: &str) -> Option<String> {
    let named: Named = value(attributes, key)?;
    let name = named.attributes.and_then(|a| a.name).or(named.name)?;
    Some(name.trim().to_string()).filter(|s| !s.is_empty())
}

fn reject(hr_id: Option<String>, reason: String) -> RejectedRecord {
    RejectedRecord { hr_id, reason }
}

/// One Personio employee record → the canonical employee.
fn employee(record: &Record<'_>) -> Result<Employee, RejectedRecord> {
    let attributes = record
        .attributes
        .as_ref()
        .ok_or_else(|| reject(None, "record has no attributes object".into()))?;
    let hr_id = text(attributes, "id").ok_or_else(|| reject(None, "record has no id".into()))?;
    let fail = |reason: String| reject(Some(hr_id.clone()), reason);
    let status = match text(attributes, "status").as_deref() {
        Some("onboarding") => EmployeeStatus::Onboarding,
        Some("active") => EmployeeStatus::Active,
        Some("leave") => EmployeeStatus::Leave,
        Some("inactive") => EmployeeStatus::Inactive,
        Some(other) => return Err(fail(format!("unknown status `{other}`"))),
        None => return Err(fail("no status".into())),
    };
    let first_name = text(attributes, "first_name").ok_or_else(|| fail("no first name".into()))?;
    let last_name = text(attributes, "last_name").ok_or_else(|| fail("no last name".into()))?;
    let supervisor = value::<Supervisor>(attributes, "supervisor")
        .and_then(|s| s.attributes)
        .and_then(|sup| {
            Some(PersonRef {
                hr_id: text(&sup, "id")?,
                email: text(&sup, "email"),
                first_name: text(&sup, "first_name"),
                last_name: text(&sup, "last_name"),
            })
        });
    let date = |key: &str| text(attributes, key).and_then(|t| date_part(&t));
    let mut custom: Vec<Attribute> = attributes
        .iter()
        .filter(|(key, _)| !STANDARD.contains(&key.as_ref()))
        .filter_map(|(key, raw)| custom_attribute(key, &serde_json::from_str(raw.get()).ok()?))
        .collect();
    // Attribute order in the JSON is not kept by the map: sort for stable
    // output.
    custom.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Employee {
        hr_id,
        email: text(attributes, "email").map(|e| e.to_lowercase()),
        first_name,
        last_name,
        preferred_name: text(attributes, "preferred_name"),
        status,
        employment_type: text(attributes, "employment_type"),
        job_title: text(attributes, "position"),
        department: object_name(attributes, "department"),
        team: object_name(attributes, "team"),
        office: object_name(attributes, "office"),
        supervisor,
        hire_date: date("hire_date"),
        termination_date: date("termination_date"),
        gender: text(attributes, "gender"),
        language: text(attributes, "preferred_language").or_else(|| text(attributes, "language")),
        custom,
    })
}

/// Attributes with a slot in the canonical employee.
const STANDARD: &[&str] = &[
    "id",
    "email",
    "first_name",
    "last_name",
    "preferred_name",
    "status",
    "employment_type",
    "position",
    "department",
    "team",
    "office",
    "supervisor",
    "hire_date",
    "termination_date",
    "gender",
    "preferred_language",
    "language",
];

/// Any other attribute, typed by its `type` and shape; objects become their
/// name, lists of objects a list of names. Empty values are left out.
fn custom_attribute(key: &str, attribute: &Value) -> Option<Attribute> {
    let kind = attribute.get("type").and_then(Value::as_str).unwrap_or("standard");
    let raw = attribute.get("value").unwrap_or(attribute);
    let name_of = |v: &Value| {
        v.get("attributes")
            .and_then(|a| a.get("name"))
            .or_else(|| v.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let value = match raw {
        Value::Null => return None,
        Value::Bool(b) => AttributeValue::Boolean(*b),
        Value::Number(n) => match (kind, n.as_i64()) {
            ("decimal", _) | (_, None) => AttributeValue::Decimal(n.as_f64()?),
            (_, Some(i)) => AttributeValue::Integer(i),
        },
        Value::String(s) if s.trim().is_empty() => return None,
        Value::String(s) if kind == "date" => AttributeValue::Date(date_part(s).unwrap_or_else(|| s.clone())),
        Value::String(s) => AttributeValue::Text(s.clone()),
        Value::Array(items) => {
            let names: Vec<String> = items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string).or_else(|| name_of(item)))
                .collect();
            if names.is_empty() {
                return None;
            }
            AttributeValue::TextList(names)
        }
        Value::Object(_) => AttributeValue::Text(name_of(raw)?),
    };
    Some(Attribute {
        name: key.to_string(),
        value,
    })
}

export_source!(Personio);
