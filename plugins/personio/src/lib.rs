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
    /// Custom attribute keys whose label the host was told this session.
    labelled: std::collections::HashSet<String>,
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
            for (key, label) in record.attributes.iter().flat_map(|a| &a.labels) {
                if !self.labelled.contains(key.as_ref()) {
                    fields::label(&format!("custom.{key}"), label);
                    self.labelled.insert(key.to_string());
                }
            }
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
            labelled: Default::default(),
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

/// The visitor methods of the JSON shapes a type does not read: each is
/// consumed and yields `$value`, so one odd attribute never makes a page
/// unreadable.
macro_rules! other_shapes {
    ($de:lifetime, $value:expr) => {
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_seq<A: SeqAccess<$de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($value)
        }
    };
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
    /// Key → label of the custom attributes (`dynamic_87541` → `Cost
    /// center`), told to the host so that rules may name either; borrowed
    /// from the page, as every record repeats them.
    labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
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
            other_shapes!('de, Named(None));
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
            // Not an attribute object (`"first_name": "Anna"`, a list, a
            // number): no value, and the rest of the record still reads.
            other_shapes!('de, Wrapped(None));
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
                    } else {
                        let custom = map.next_value::<Custom<'de>>()?;
                        if let Some(label) = custom.label.filter(|l| !l.trim().is_empty() && *l != key) {
                            attributes.labels.push((key.clone(), label));
                        }
                        if let Some(value) = custom.value {
                            attributes.custom.push(Attribute {
                                name: key.into_owned(),
                                value,
                            });
                        }
                    }
                }
                Ok(attributes)
            }
            // Not an object (`[]` for an empty one, say): no attributes;
            // the record is rejected for what it lacks, not the page.
            other_shapes!('de, Attributes::default());
        }
        deserializer.deserialize_any(Visit(std::marker::PhantomData))
    }
}

/// The supervisor's `value`: `{type: Employee, attributes: {...}}`; any
/// other shape is no supervisor.
struct SupervisorValue<'a> {
    attributes: Option<Attributes<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for SupervisorValue<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = SupervisorValue<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut attributes = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "attributes" {
                        attributes = Some(map.next_value::<Attributes>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(SupervisorValue { attributes })
            }
            other_shapes!('de, SupervisorValue { attributes: None });
        }
        deserializer.deserialize_any(Visit(std::marker::PhantomData))
    }
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
/// Empty values are left out; the label is kept for the host.
struct Custom<'a> {
    value: Option<AttributeValue>,
    label: Option<Cow<'a, str>>,
}

impl<'a> Custom<'a> {
    const NONE: Self = Custom {
        value: None,
        label: None,
    };
}

impl<'de: 'a, 'a> Deserialize<'de> for Custom<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = Custom<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an attribute object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut kind, mut raw, mut label) = (None::<Cow<'de, str>>, Raw::Null, None);
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "type" => kind = map.next_value::<Option<Cow<'de, str>>>()?,
                        "value" => raw = map.next_value()?,
                        "label" => {
                            if let Scalar::Text(text) = map.next_value::<Scalar<'a>>()? {
                                label = Some(text);
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Custom {
                    value: typed(kind.as_deref().unwrap_or("standard"), raw),
                    label,
                })
            }
            other_shapes!('de, Custom::NONE);
        }
        deserializer.deserialize_any(Visit(std::marker::PhantomData))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    /// `{label, value, type, universal_id}` as Personio sends every attribute.
    fn attr(label: &str, value: Value, kind: &str) -> Value {
        json!({ "label": label, "value": value, "type": kind, "universal_id": null })
    }

    /// A complete, valid employee; tests change or remove single attributes.
    fn base() -> Map<String, Value> {
        let mut attributes = Map::new();
        attributes.insert("id".into(), attr("ID", json!(42), "integer"));
        attributes.insert("first_name".into(), attr("First name", json!("Jürgen"), "standard"));
        attributes.insert(
            "last_name".into(),
            attr("Last name", json!("Müller-Lüdenscheidt"), "standard"),
        );
        attributes.insert(
            "email".into(),
            attr("Email", json!("  Juergen.Mueller@Example.COM "), "standard"),
        );
        attributes.insert("status".into(), attr("Status", json!("active"), "standard"));
        attributes
    }

    fn decode_json(text: &str) -> Result<Employee, RejectedRecord> {
        let body: EmployeesBody<'_> = serde_json::from_str(text).expect("the page parses");
        assert_eq!(body.data.len(), 1);
        employee(body.data.into_iter().next().expect("one record"))
    }

    fn decode(attributes: Map<String, Value>) -> Result<Employee, RejectedRecord> {
        decode_json(&json!({ "data": [{ "type": "Employee", "attributes": attributes }] }).to_string())
    }

    fn decoded(attributes: Map<String, Value>) -> Employee {
        match decode(attributes) {
            Ok(employee) => employee,
            Err(reject) => panic!("rejected: {} ({:?})", reject.reason, reject.hr_id),
        }
    }

    fn rejected(attributes: Map<String, Value>) -> RejectedRecord {
        match decode(attributes) {
            Ok(employee) => panic!(
                "decoded {} {} instead of rejecting",
                employee.first_name, employee.last_name
            ),
            Err(reject) => reject,
        }
    }

    fn custom<'a>(employee: &'a Employee, name: &str) -> Option<&'a AttributeValue> {
        employee.custom.iter().find(|a| a.name == name).map(|a| &a.value)
    }

    fn text_value(value: Option<&AttributeValue>) -> Option<&str> {
        match value {
            Some(AttributeValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    #[test]
    fn standard_attributes_fill_the_canonical_employee_with_umlauts_intact() {
        let mut attributes = base();
        attributes.insert(
            "preferred_name".into(),
            attr("Preferred name", json!(" Jürgi "), "standard"),
        );
        attributes.insert("position".into(), attr("Position", json!("Leiter Einkauf"), "standard"));
        attributes.insert(
            "employment_type".into(),
            attr("Employment type", json!("internal"), "standard"),
        );
        attributes.insert("gender".into(), attr("Gender", json!("male"), "standard"));
        let employee = decoded(attributes);
        assert_eq!(employee.hr_id, "42");
        assert_eq!(employee.first_name, "Jürgen");
        assert_eq!(employee.last_name, "Müller-Lüdenscheidt");
        assert_eq!(employee.preferred_name.as_deref(), Some("Jürgi"));
        assert_eq!(employee.job_title.as_deref(), Some("Leiter Einkauf"));
        assert_eq!(employee.employment_type.as_deref(), Some("internal"));
        assert_eq!(employee.gender.as_deref(), Some("male"));
        assert!(matches!(employee.status, EmployeeStatus::Active));
        assert!(employee.supervisor.is_none());
        assert!(employee.custom.is_empty());
    }

    #[test]
    fn email_is_trimmed_and_lowercased_and_an_empty_one_is_none() {
        assert_eq!(decoded(base()).email.as_deref(), Some("juergen.mueller@example.com"));
        let mut blank = base();
        blank.insert("email".into(), attr("Email", json!("   "), "standard"));
        assert_eq!(decoded(blank).email, None);
        let mut null = base();
        null.insert("email".into(), attr("Email", Value::Null, "standard"));
        assert_eq!(decoded(null).email, None);
        let mut missing = base();
        missing.remove("email");
        assert_eq!(decoded(missing).email, None);
    }

    #[test]
    fn each_personio_status_maps_to_the_canonical_status() {
        for (personio, expected) in [
            ("onboarding", EmployeeStatus::Onboarding),
            ("active", EmployeeStatus::Active),
            ("leave", EmployeeStatus::Leave),
            ("inactive", EmployeeStatus::Inactive),
        ] {
            let mut attributes = base();
            attributes.insert("status".into(), attr("Status", json!(personio), "standard"));
            assert_eq!(
                decoded(attributes).status.as_str(),
                expected.as_str(),
                "status {personio}"
            );
        }
    }

    #[test]
    fn unknown_or_missing_status_rejects_the_record_with_its_id() {
        let mut unknown = base();
        unknown.insert("status".into(), attr("Status", json!("Active"), "standard"));
        let reject = rejected(unknown);
        assert_eq!(reject.hr_id.as_deref(), Some("42"));
        assert_eq!(reject.reason, "unknown status `Active`");

        let mut missing = base();
        missing.remove("status");
        let reject = rejected(missing);
        assert_eq!(reject.hr_id.as_deref(), Some("42"));
        assert_eq!(reject.reason, "no status");
    }

    #[test]
    fn records_without_id_names_or_attributes_are_rejected_with_a_reason() {
        let mut no_id = base();
        no_id.remove("id");
        let reject = rejected(no_id);
        assert_eq!(reject.hr_id, None);
        assert_eq!(reject.reason, "record has no id");

        let mut blank_first = base();
        blank_first.insert("first_name".into(), attr("First name", json!("  "), "standard"));
        let reject = rejected(blank_first);
        assert_eq!(reject.hr_id.as_deref(), Some("42"));
        assert_eq!(reject.reason, "no first name");

        let mut no_last = base();
        no_last.remove("last_name");
        assert_eq!(rejected(no_last).reason, "no last name");

        let reject = decode_json(r#"{"data":[{"type":"Employee"}]}"#)
            .err()
            .expect("rejected");
        assert_eq!(reject.hr_id, None);
        assert_eq!(reject.reason, "record has no attributes object");
    }

    #[test]
    fn string_ids_are_trimmed_and_kept_as_text() {
        let mut attributes = base();
        attributes.insert("id".into(), attr("ID", json!(" 0815 "), "standard"));
        assert_eq!(decoded(attributes).hr_id, "0815");
    }

    #[test]
    fn department_team_and_office_are_the_names_of_their_objects() {
        let mut attributes = base();
        attributes.insert(
            "department".into(),
            attr(
                "Department",
                json!({ "type": "Department", "attributes": { "id": 7, "name": "Vertrieb Süd" } }),
                "standard",
            ),
        );
        // A bare `{name}` object, padded.
        attributes.insert(
            "office".into(),
            attr("Office", json!({ "name": "  Köln " }), "standard"),
        );
        attributes.insert("team".into(), attr("Team", Value::Null, "standard"));
        let employee = decoded(attributes);
        assert_eq!(employee.department.as_deref(), Some("Vertrieb Süd"));
        assert_eq!(employee.office.as_deref(), Some("Köln"));
        assert_eq!(employee.team, None);
    }

    #[test]
    fn named_objects_without_a_usable_name_give_no_value() {
        let mut attributes = base();
        attributes.insert(
            "department".into(),
            attr(
                "Department",
                json!({ "type": "Department", "attributes": { "id": 7, "name": "" } }),
                "standard",
            ),
        );
        attributes.insert("office".into(), attr("Office", json!("Berlin"), "standard"));
        attributes.insert("team".into(), attr("Team", json!([{ "name": "A" }]), "standard"));
        let employee = decoded(attributes);
        assert_eq!(employee.department, None);
        assert_eq!(employee.office, None, "a bare string is not a named object");
        assert_eq!(employee.team, None);
    }

    #[test]
    fn dates_keep_the_calendar_day_as_written_without_a_time_zone_shift() {
        let mut attributes = base();
        attributes.insert(
            "hire_date".into(),
            attr("Hire date", json!("2021-04-01T00:00:00+01:00"), "date"),
        );
        attributes.insert(
            "termination_date".into(),
            attr("Termination date", json!("2026-12-31"), "date"),
        );
        let employee = decoded(attributes);
        assert_eq!(employee.hire_date.as_deref(), Some("2021-04-01"));
        assert_eq!(employee.termination_date.as_deref(), Some("2026-12-31"));
    }

    #[test]
    fn empty_or_non_iso_standard_dates_are_none() {
        let mut attributes = base();
        attributes.insert("hire_date".into(), attr("Hire date", json!(""), "date"));
        attributes.insert(
            "termination_date".into(),
            attr("Termination date", json!("31.12.2026"), "date"),
        );
        let employee = decoded(attributes);
        assert_eq!(employee.hire_date, None);
        assert_eq!(employee.termination_date, None);
    }

    #[test]
    fn preferred_language_wins_over_language() {
        let mut both = base();
        both.insert(
            "preferred_language".into(),
            attr("Preferred language", json!("de"), "standard"),
        );
        both.insert("language".into(), attr("Language", json!("en"), "standard"));
        assert_eq!(decoded(both).language.as_deref(), Some("de"));

        let mut only_language = base();
        only_language.insert(
            "preferred_language".into(),
            attr("Preferred language", json!(" "), "standard"),
        );
        only_language.insert("language".into(), attr("Language", json!("en-GB"), "standard"));
        assert_eq!(decoded(only_language).language.as_deref(), Some("en-GB"));
    }

    #[test]
    fn supervisor_object_becomes_a_person_ref_with_trimmed_fields() {
        let mut attributes = base();
        attributes.insert(
            "supervisor".into(),
            attr(
                "Supervisor",
                json!({ "type": "Employee", "attributes": {
                    "id": attr("ID", json!(7), "integer"),
                    "first_name": attr("First name", json!(" Zoë "), "standard"),
                    "last_name": attr("Last name", json!("Öztürk"), "standard"),
                    "email": attr("Email", json!(" zoe.oeztuerk@example.com "), "standard"),
                } }),
                "standard",
            ),
        );
        let employee = decoded(attributes);
        let supervisor = employee.supervisor.expect("a supervisor");
        assert_eq!(supervisor.hr_id, "7");
        assert_eq!(supervisor.first_name.as_deref(), Some("Zoë"));
        assert_eq!(supervisor.last_name.as_deref(), Some("Öztürk"));
        assert_eq!(supervisor.email.as_deref(), Some("zoe.oeztuerk@example.com"));
        assert!(employee.custom.iter().all(|a| a.name != "supervisor"));
    }

    #[test]
    fn supervisor_that_is_null_an_empty_list_or_has_no_id_gives_no_supervisor() {
        for value in [
            Value::Null,
            json!([]),
            json!({ "type": "Employee", "attributes": { "first_name": attr("First name", json!("Zoë"), "standard") } }),
            json!({ "type": "Employee" }),
        ] {
            let mut attributes = base();
            attributes.insert("supervisor".into(), attr("Supervisor", value.clone(), "standard"));
            let employee = decoded(attributes);
            assert!(employee.supervisor.is_none(), "supervisor value {value}");
        }
    }

    #[test]
    fn dynamic_and_other_attributes_become_custom_attributes_named_by_key_and_sorted() {
        let mut attributes = base();
        attributes.insert(
            "dynamic_87541".into(),
            attr("Kostenstelle", json!("KST 4711 – Süd"), "standard"),
        );
        attributes.insert(
            "dynamic_1200".into(),
            attr("Probezeit bis", json!("2024-02-29T00:00:00+01:00"), "date"),
        );
        attributes.insert("fix_salary".into(), attr("Fix salary", json!(3000), "decimal"));
        attributes.insert("dynamic_55".into(), attr("Stunden", json!(40), "integer"));
        attributes.insert("dynamic_56".into(), attr("Faktor", json!(0.75), "decimal"));
        attributes.insert("dynamic_57".into(), attr("Dienstwagen", json!(true), "standard"));
        let employee = decoded(attributes);
        let names: Vec<&str> = employee.custom.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "dynamic_1200",
                "dynamic_55",
                "dynamic_56",
                "dynamic_57",
                "dynamic_87541",
                "fix_salary"
            ]
        );
        assert_eq!(text_value(custom(&employee, "dynamic_87541")), Some("KST 4711 – Süd"));
        assert!(matches!(custom(&employee, "dynamic_1200"), Some(AttributeValue::Date(d)) if d == "2024-02-29"));
        assert!(matches!(custom(&employee, "fix_salary"), Some(AttributeValue::Decimal(d)) if *d == 3000.0));
        assert!(matches!(
            custom(&employee, "dynamic_55"),
            Some(AttributeValue::Integer(40))
        ));
        assert!(matches!(custom(&employee, "dynamic_56"), Some(AttributeValue::Decimal(d)) if *d == 0.75));
        assert!(matches!(
            custom(&employee, "dynamic_57"),
            Some(AttributeValue::Boolean(true))
        ));
    }

    #[test]
    fn custom_date_that_is_not_iso_is_kept_as_written() {
        let mut attributes = base();
        attributes.insert("dynamic_9".into(), attr("Stichtag", json!("29.02.2024"), "date"));
        let employee = decoded(attributes);
        assert!(matches!(custom(&employee, "dynamic_9"), Some(AttributeValue::Date(d)) if d == "29.02.2024"));
    }

    #[test]
    fn custom_objects_become_their_name_and_lists_become_text_lists() {
        let mut attributes = base();
        attributes.insert(
            "cost_centers".into(),
            attr(
                "Cost center",
                json!([
                    { "type": "CostCenter", "attributes": { "id": 1, "name": "Cost center 1", "percentage": 60 } },
                    { "type": "CostCenter", "attributes": { "id": 2, "name": "Kostenstelle Ü", "percentage": 40 } },
                ]),
                "standard",
            ),
        );
        attributes.insert(
            "subcompany".into(),
            attr(
                "Subcompany",
                json!({ "type": "Subcompany", "attributes": { "id": 3, "name": "Acme GmbH" } }),
                "standard",
            ),
        );
        attributes.insert(
            "dynamic_77".into(),
            attr("Sprachen", json!(["Deutsch", "Français"]), "multiselect"),
        );
        let employee = decoded(attributes);
        assert!(matches!(
            custom(&employee, "cost_centers"),
            Some(AttributeValue::TextList(items)) if items == &["Cost center 1", "Kostenstelle Ü"]
        ));
        assert_eq!(text_value(custom(&employee, "subcompany")), Some("Acme GmbH"));
        assert!(matches!(
            custom(&employee, "dynamic_77"),
            Some(AttributeValue::TextList(items)) if items == &["Deutsch", "Français"]
        ));
    }

    #[test]
    fn empty_custom_values_are_left_out() {
        let mut attributes = base();
        attributes.insert("dynamic_1".into(), attr("Null", Value::Null, "standard"));
        attributes.insert("dynamic_2".into(), attr("Empty", json!(""), "standard"));
        attributes.insert("dynamic_3".into(), attr("Blank", json!("   "), "standard"));
        attributes.insert("dynamic_4".into(), attr("No items", json!([]), "standard"));
        attributes.insert(
            "dynamic_5".into(),
            attr(
                "Nameless",
                json!({ "type": "X", "attributes": { "id": 1 } }),
                "standard",
            ),
        );
        attributes.insert("dynamic_6".into(), attr("No value", Value::Null, "date"));
        attributes.insert(
            "dynamic_7".into(),
            json!({ "label": "value key missing", "type": "standard" }),
        );
        attributes.insert("dynamic_8".into(), Value::Null);
        attributes.insert("dynamic_9".into(), json!("not an attribute object"));
        let employee = decoded(attributes);
        assert!(employee.custom.is_empty(), "{:?}", employee.custom);
    }

    #[test]
    fn custom_integer_typed_decimal_becomes_decimal_and_untyped_defaults_to_standard() {
        let mut attributes = base();
        attributes.insert("dynamic_1".into(), attr("Gehalt", json!(52000), "decimal"));
        attributes.insert(
            "dynamic_2".into(),
            json!({ "label": "Ohne Typ", "value": "2024-01-01" }),
        );
        let employee = decoded(attributes);
        assert!(matches!(custom(&employee, "dynamic_1"), Some(AttributeValue::Decimal(d)) if *d == 52000.0));
        // Without a `type` the value is not read as a date.
        assert_eq!(text_value(custom(&employee, "dynamic_2")), Some("2024-01-01"));
    }

    #[test]
    fn odd_values_of_standard_attributes_read_as_empty_without_rejecting_the_record() {
        let mut attributes = base();
        attributes.insert("gender".into(), attr("Gender", json!(true), "standard"));
        attributes.insert("position".into(), attr("Position", json!(["a", "b"]), "standard"));
        attributes.insert(
            "employment_type".into(),
            attr("Employment type", json!({ "x": 1 }), "standard"),
        );
        let employee = decoded(attributes);
        assert_eq!(employee.gender, None);
        assert_eq!(employee.job_title, None);
        assert_eq!(employee.employment_type, None);
    }

    #[test]
    fn escaped_json_strings_decode_like_plain_ones() {
        let page = r#"{"data":[{"type":"Employee","attributes":{
            "id":{"label":"ID","value":"7\u00e4","type":"standard"},
            "first_name":{"label":"First name","value":"Ren\u00e9e \"Ren\"","type":"standard"},
            "last_name":{"label":"Last name","value":"O'Neil \\ M\u00fcller","type":"standard"},
            "status":{"label":"Status","value":"active","type":"standard"},
            "department":{"label":"Department","value":{"type":"Department","attributes":{"id":1,"name":"F\u00fc\"r\""}},"type":"standard"},
            "dynamic_3":{"label":"Notiz","value":"Zeile 1\nZeile \u00fc","type":"standard"}
        }}]}"#;
        let employee = decode_json(page).ok().expect("decoded");
        assert_eq!(employee.hr_id, "7ä");
        assert_eq!(employee.first_name, "Renée \"Ren\"");
        assert_eq!(employee.last_name, "O'Neil \\ Müller");
        assert_eq!(employee.department.as_deref(), Some("Fü\"r\""));
        assert_eq!(text_value(custom(&employee, "dynamic_3")), Some("Zeile 1\nZeile ü"));
    }

    #[test]
    fn a_page_with_a_bad_record_still_decodes_the_others_and_reads_metadata() {
        let good = base();
        let mut bad = base();
        bad.insert("status".into(), attr("Status", json!("retired"), "standard"));
        let page = json!({
            "success": true,
            "metadata": { "total_elements": 3, "current_page": 0, "total_pages": 2 },
            "offset": 0,
            "limit": 2,
            "data": [
                { "type": "Employee", "attributes": good },
                { "type": "Employee", "attributes": bad },
            ]
        })
        .to_string();
        let body: EmployeesBody<'_> = serde_json::from_str(&page).expect("the page parses");
        let metadata = body.metadata.as_ref().expect("metadata");
        assert_eq!((metadata.current_page, metadata.total_pages), (Some(0), Some(2)));
        let results: Vec<_> = body.data.into_iter().map(employee).collect();
        assert!(results[0].is_ok());
        assert_eq!(
            results[1].as_ref().err().map(|r| r.reason.as_str()),
            Some("unknown status `retired`")
        );
    }

    #[test]
    fn attributes_of_an_unexpected_shape_cost_their_value_or_their_record_never_the_page() {
        let good = base();
        // A standard attribute that is a bare string, a named one that is a
        // list, a supervisor whose value is text: the record still reads,
        // without those values.
        let mut odd = base();
        odd.insert("position".into(), json!("Leiterin"));
        odd.insert("team".into(), json!([]));
        odd.insert("supervisor".into(), attr("Supervisor", json!(""), "standard"));
        let page = json!({
            "success": true,
            "data": [
                { "type": "Employee", "attributes": good },
                { "type": "Employee", "attributes": odd },
                // An empty attributes object sent as a list: that record
                // is rejected, the others are not.
                { "type": "Employee", "attributes": [] },
                { "type": "Employee", "attributes": "none" },
            ]
        })
        .to_string();
        let body: EmployeesBody<'_> = serde_json::from_str(&page).expect("the page parses");
        let results: Vec<_> = body.data.into_iter().map(employee).collect();
        assert_eq!(results.len(), 4);
        assert!(results[0].is_ok());
        let odd = results[1].as_ref().expect("the odd record reads");
        assert_eq!((odd.job_title.as_deref(), odd.team.as_deref()), (None, None));
        assert!(odd.supervisor.is_none());
        for rejected in &results[2..] {
            assert_eq!(
                rejected.as_ref().err().map(|r| r.reason.as_str()),
                Some("record has no id")
            );
        }
    }
}
