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
//! - Released attributes: Personio returns only the attributes released to
//!   the API credentials. `GET /v1/company/employees/attributes` lists them;
//!   the fields this plugin maps that are missing there are declared
//!   unreadable to the host (`hrsync_sdk::fields`), so that a rule needing
//!   one stops the run with a hint instead of silently matching nobody.
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
    config, export_source, fields, log, now_millis, secret, Attribute, AttributeValue, ChangePage, Employee,
    EmployeePage, EmployeeStatus, PersonRef, PluginError, PluginInfo, RejectedRecord, Source,
};
use std::borrow::Cow;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
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
    /// Whether the released attributes were checked in this session.
    attributes_checked: bool,
}

/// Personio attribute keys this plugin maps, and the employee field each
/// becomes (as rules name fields).
const MAPPED: &[(&str, &str)] = &[
    ("email", "email"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("preferred_name", "preferred_name"),
    ("status", "status"),
    ("employment_type", "employment_type"),
    ("position", "job_title"),
    ("department", "department"),
    ("team", "team"),
    ("office", "office"),
    ("supervisor", "supervisor.hr_id"),
    ("hire_date", "hire_date"),
    ("termination_date", "termination_date"),
    ("gender", "gender"),
];

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

    /// Tells the host which mapped fields are not released to these
    /// credentials, once per session. Credentials that may not list their
    /// attributes are not an error: the host then judges by the data.
    fn check_released_attributes(&mut self) {
        if self.attributes_checked {
            return;
        }
        self.attributes_checked = true;
        let body = match self.get("/v1/company/employees/attributes") {
            Ok(body) => body,
            Err(error) => {
                log::debug(format!("cannot list the released attributes: {error:?}"));
                return;
            }
        };
        let Ok(listed) = serde_json::from_slice::<Value>(&body) else {
            return;
        };
        let Some(released) = listed["data"].as_array() else {
            return;
        };
        let released: Vec<&str> = released.iter().filter_map(|a| a["key"].as_str()).collect();
        if released.is_empty() {
            return;
        }
        for (key, field) in MAPPED {
            if !released.contains(key) {
                let hint = format!(
                    "release the attribute `{key}` to these API credentials in Personio (Settings → Integrations → \
                     API credentials → readable employee attributes)"
                );
                fields::unreadable(field, &hint);
                if *key == "supervisor" {
                    for more in ["supervisor.email", "supervisor.first_name", "supervisor.last_name"] {
                        fields::unreadable(more, &hint);
                    }
                }
            }
        }
    }

    fn page(&mut self, filter: &str, page: Option<String>, page_size: u32) -> Result<Page, PluginError> {
        if page.is_none() {
            self.check_released_attributes();
        }
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
        let body: EmployeesBody<'_> = serde_json::from_slice(&bytes)
            .map_err(|e| PluginError::fatal(format!("GET /v1/company/employees answered unexpected JSON: {e}")))?;
        let count = body.data.len() as u64;
        let mut employees = Vec::with_capacity(body.data.len());
        let mut rejected = Vec::new();
        for record in body.data {
            match employee(record) {
                Ok(employee) => employees.push(employee),
                Err(reject) => rejected.push(reject),
            }
        }
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
            attributes_checked: false,
        })
    }

    fn test_connection(&mut self) -> Result<(), PluginError> {
        self.get("/v1/company/employees?limit=1&offset=0")?;
        self.check_released_attributes();
        Ok(())
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

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    attributes: Option<Attributes<'a>>,
}

/// A scalar value; anything else (objects, lists, booleans) reads as
/// `Other`, so one odd attribute never makes a page unreadable.
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Integer(i64),
    Decimal(f64),
    Other,
}

/// `{type: Department, attributes: {id, name}}` (or a bare `{name}`) → the
/// name; anything else → none.
struct Named<'a>(Option<Cow<'a, str>>);

/// An employee's `attributes`, decoded in one pass over the JSON: the
/// standard ones typed (each `{label, value, type, universal_id}`), any
/// other kept as JSON for the custom attributes.
#[derive(Default)]
struct Attributes<'a> {
    scalars: Vec<(&'static str, Scalar<'a>)>,
    named: Vec<(&'static str, Named<'a>)>,
    supervisor: Option<Box<Attributes<'a>>>,
    custom: Vec<Attribute>,
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
    "hire_date",
    "termination_date",
    "gender",
    "preferred_language",
    "language",
];
const NAMED: &[&str] = &["department", "team", "office"];

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Integer(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v)
                    .map(Scalar::Integer)
                    .unwrap_or(Scalar::Decimal(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Decimal(v))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        deserializer.deserialize_any(Visit(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Named<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = Named<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut name = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "name" => name = name.or(text_of(&map.next_value::<Scalar>()?)),
                        "attributes" => name = map.next_value::<Named>()?.0.map(Cow::into_owned).or(name),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Named(name.map(Cow::Owned)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Named(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Named(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Named(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Named(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Named(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Named(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Named(None))
            }
        }
        deserializer.deserialize_any(Visit(std::marker::PhantomData))
    }
}

/// The `value` of `{label, value, type, universal_id}`, the rest skipped.
struct Wrapped<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Wrapped<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Visit<T> {
            type Value = Wrapped<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an attribute object with a value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut value = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "value" {
                        value = map.next_value::<Option<T>>()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Wrapped(value))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Wrapped(None))
            }
        }
        deserializer.deserialize_any(Visit(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Attributes<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = Attributes<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an attributes object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut attributes = Attributes::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if let Some(name) = STANDARD.iter().find(|k| **k == key) {
                        if let Some(value) = map.next_value::<Wrapped<Scalar>>()?.0 {
                            attributes.scalars.push((name, value));
                        }
                    } else if let Some(name) = NAMED.iter().find(|k| **k == key) {
                        if let Some(value) = map.next_value::<Wrapped<Named>>()?.0 {
                            attributes.named.push((name, value));
                        }
                    } else if key == "supervisor" {
                        attributes.supervisor = map
                            .next_value::<Wrapped<SupervisorValue>>()?
                            .0
                            .and_then(|s| s.attributes)
                            .map(Box::new);
                    } else if let Some(value) = map.next_value::<Custom>()?.0 {
                        attributes.custom.push(Attribute {
                            name: key.into_owned(),
                            value,
                        });
                    }
                }
                Ok(attributes)
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct SupervisorValue<'a> {
    #[serde(borrow, default)]
    attributes: Option<Attributes<'a>>,
}

fn text_of(scalar: &Scalar<'_>) -> Option<String> {
    match scalar {
        Scalar::Text(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Scalar::Integer(i) => Some(i.to_string()),
        Scalar::Decimal(d) => Some(d.to_string()),
        _ => None,
    }
}

impl Attributes<'_> {
    fn text(&self, key: &str) -> Option<String> {
        self.scalars
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| text_of(v))
    }

    fn name(&self, key: &str) -> Option<String> {
        let Named(name) = self.named.iter().find(|(k, _)| *k == key).map(|(_, v)| v)?;
        Some(name.as_deref()?.trim().to_string()).filter(|s| !s.is_empty())
    }
}

fn reject(hr_id: Option<String>, reason: String) -> RejectedRecord {
    RejectedRecord { hr_id, reason }
}

/// One Personio employee record → the canonical employee.
fn employee(record: Record<'_>) -> Result<Employee, RejectedRecord> {
    let mut attributes = record
        .attributes
        .ok_or_else(|| reject(None, "record has no attributes object".into()))?;
    let mut custom = std::mem::take(&mut attributes.custom);
    custom.sort_by(|a, b| a.name.cmp(&b.name));
    let attributes = attributes;
    let text = |key: &str| attributes.text(key);
    let hr_id = text("id").ok_or_else(|| reject(None, "record has no id".into()))?;
    let fail = |reason: String| reject(Some(hr_id.clone()), reason);
    let status = match text("status").as_deref() {
        Some("onboarding") => EmployeeStatus::Onboarding,
        Some("active") => EmployeeStatus::Active,
        Some("leave") => EmployeeStatus::Leave,
        Some("inactive") => EmployeeStatus::Inactive,
        Some(other) => return Err(fail(format!("unknown status `{other}`"))),
        None => return Err(fail("no status".into())),
    };
    let first_name = text("first_name").ok_or_else(|| fail("no first name".into()))?;
    let last_name = text("last_name").ok_or_else(|| fail("no last name".into()))?;
    let supervisor = attributes.supervisor.as_ref().and_then(|sup| {
        Some(PersonRef {
            hr_id: sup.text("id")?,
            email: sup.text("email"),
            first_name: sup.text("first_name"),
            last_name: sup.text("last_name"),
        })
    });
    let date = |key: &str| text(key).and_then(|t| date_part(&t));
    Ok(Employee {
        hr_id,
        email: text("email").map(|e| e.to_lowercase()),
        first_name,
        last_name,
        preferred_name: text("preferred_name"),
        status,
        employment_type: text("employment_type"),
        job_title: text("position"),
        department: attributes.name("department"),
        team: attributes.name("team"),
        office: attributes.name("office"),
        supervisor,
        hire_date: date("hire_date"),
        termination_date: date("termination_date"),
        gender: text("gender"),
        language: text("preferred_language").or_else(|| text("language")),
        custom,
    })
}

/// A custom attribute's value as sent, before its `type` says what it is.
enum Raw<'a> {
    Null,
    Boolean(bool),
    Integer(i64),
    Decimal(f64),
    Text(Cow<'a, str>),
    /// A list of texts or of `{attributes: {name}}` objects: the names.
    Names(Vec<String>),
    /// An object: its name, if it has one.
    Named(Option<String>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Raw<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = Raw<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Raw::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Raw::Boolean(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Raw::Integer(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).map(Raw::Integer).unwrap_or(Raw::Decimal(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Raw::Decimal(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Raw::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Raw::Text(Cow::Owned(v.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut names = Vec::new();
                while let Some(item) = seq.next_element::<Raw>()? {
                    match item {
                        Raw::Text(text) => names.push(text.into_owned()),
                        Raw::Named(Some(name)) => names.push(name),
                        _ => {}
                    }
                }
                Ok(Raw::Names(names))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let Named(name) = Named::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Raw::Named(name.map(Cow::into_owned)))
            }
        }
        deserializer.deserialize_any(Visit(std::marker::PhantomData))
    }
}

/// Any other attribute (`{label, value, type}`), typed by its `type` and
/// shape; objects become their name, lists of objects a list of names.
/// Empty values are left out.
struct Custom(Option<AttributeValue>);

impl<'de> Deserialize<'de> for Custom {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Custom;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an attribute object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut kind, mut raw) = (None::<Cow<'de, str>>, Raw::Null);
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "type" => kind = map.next_value::<Option<Cow<'de, str>>>()?,
                        "value" => raw = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Custom(typed(kind.as_deref().unwrap_or("standard"), raw)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Custom(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Custom(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Custom(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Custom(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Custom(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Custom(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Custom(None))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

fn typed(kind: &str, raw: Raw<'_>) -> Option<AttributeValue> {
    Some(match raw {
        Raw::Null => return None,
        Raw::Boolean(b) => AttributeValue::Boolean(b),
        Raw::Integer(i) if kind == "decimal" => AttributeValue::Decimal(i as f64),
        Raw::Integer(i) => AttributeValue::Integer(i),
        Raw::Decimal(d) => AttributeValue::Decimal(d),
        Raw::Text(s) if s.trim().is_empty() => return None,
        Raw::Text(s) if kind == "date" => AttributeValue::Date(date_part(&s).unwrap_or_else(|| s.into_owned())),
        Raw::Text(s) => AttributeValue::Text(s.into_owned()),
        Raw::Names(names) if names.is_empty() => return None,
        Raw::Names(names) => AttributeValue::TextList(names),
        Raw::Named(name) => AttributeValue::Text(name?),
    })
}

export_source!(Personio);
