//! BambooHR as an hrsync source (`https://{company}.bamboohr.com/api/v1`,
//! the API key as the user name of HTTP basic authentication).
//!
//! - Employees: `GET /api/v1/employees` with cursor pages (`page[limit]`,
//!   `page[after]` = the previous page's `meta.page.nextCursor`) and the
//!   extra `fields` hrsync maps. The last page carries a cursor: the time
//!   the read started.
//! - Incremental reads: `GET /api/v1/employees/changed?since=` lists the ids
//!   inserted, updated or deleted since the cursor; the changed ones are then
//!   fetched in pages with `filter[ids]`, the deleted ones reported removed.
//! - Webhooks (`employee.created`, `.updated`, `.deleted`): the signature is
//!   checked with the webhook's private key (secret `webhook-key`):
//!   `X-BambooHR-Signature` is the hex HMAC-SHA256 of the raw body followed
//!   by `X-BambooHR-Timestamp`, as BambooHR's webhook documentation says.

use hmac::{Hmac, Mac};
use hrsync_sdk::http::{percent_encode, Request};
use hrsync_sdk::time::{date_part, rfc3339_utc};
use hrsync_sdk::{
    config, export_source, now_millis, secret, ChangePage, Employee, EmployeePage, EmployeeStatus, PersonRef,
    PluginError, PluginInfo, RejectedRecord, Source, WebhookEvent, WebhookEventKind, WebhookRequest,
};
use serde::Deserialize;
use sha2::Sha256;

/// The fields asked for beyond the default set.
const FIELDS: &str = "workEmail,departmentName,locationName,divisionName,reportsToId,hireDate,employmentStatusName";

/// How far a webhook's timestamp may be from now.
const WEBHOOK_TOLERANCE_MS: u64 = 5 * 60 * 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// `acme` for `https://acme.bamboohr.com`.
    #[serde(default)]
    company_domain: Option<String>,
    /// Overrides the URL made from the company domain (tests, proxies).
    #[serde(default)]
    base_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    employee_id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    preferred_name: Option<String>,
    job_title_name: Option<String>,
    status: Option<String>,
    #[serde(default)]
    work_email: Option<String>,
    #[serde(default)]
    department_name: Option<String>,
    #[serde(default)]
    location_name: Option<String>,
    #[serde(default)]
    division_name: Option<String>,
    #[serde(default)]
    reports_to_id: Option<serde_json::Value>,
    #[serde(default)]
    hire_date: Option<String>,
    #[serde(default)]
    employment_status_name: Option<String>,
}

#[derive(Deserialize)]
struct Listing {
    data: Vec<serde_json::Value>,
    meta: Meta,
}

#[derive(Deserialize)]
struct Meta {
    page: PageMeta,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageMeta {
    next_cursor: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Changed {
    employees: std::collections::BTreeMap<String, ChangedEntry>,
}

#[derive(Deserialize)]
struct ChangedEntry {
    action: String,
}

#[derive(Deserialize)]
struct WebhookBody {
    #[serde(rename = "type")]
    kind: String,
    data: WebhookData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookData {
    employee_id: String,
    #[serde(default)]
    changed_fields: Vec<String>,
}

struct BambooHr {
    base_url: String,
    api_key: String,
    /// The changed ids of the incremental read going on, fetched in pages.
    changed: Vec<String>,
    removed: Vec<String>,
    read_started_ms: Option<u64>,
}

fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// A cursor or id that BambooHR sends as a number or a string.
fn scalar(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl BambooHr {
    fn get(&self, path_and_query: &str) -> Result<hrsync_sdk::http::Response, PluginError> {
        Request::get(&format!("{}{path_and_query}", self.base_url))
            .basic(&self.api_key, "x")
            .header("accept", "application/json")
            .send()?
            .error_for_status()
    }

    /// One page of `/api/v1/employees`, as employees and records that could
    /// not be read.
    fn page(&self, query: &str) -> Result<(Vec<Employee>, Vec<RejectedRecord>, Option<String>), PluginError> {
        let listing: Listing = self
            .get(&format!("/api/v1/employees?fields={FIELDS}&{query}"))?
            .json()?;
        let (mut employees, mut rejected) = (Vec::new(), Vec::new());
        for value in listing.data {
            let id = value.get("employeeId").and_then(scalar);
            match serde_json::from_value::<Record>(value) {
                Ok(record) => match employee(record) {
                    Ok(employee) => employees.push(employee),
                    Err(reason) => rejected.push(RejectedRecord { hr_id: id, reason }),
                },
                Err(e) => rejected.push(RejectedRecord {
                    hr_id: id,
                    reason: format!("unreadable employee: {e}"),
                }),
            }
        }
        let next = listing.meta.page.next_cursor.as_ref().and_then(scalar);
        Ok((employees, rejected, next))
    }
}

fn employee(record: Record) -> Result<Employee, String> {
    let first_name = text(record.first_name).ok_or("no first name")?;
    let last_name = text(record.last_name).ok_or("no last name")?;
    let status = match record.status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("active") => EmployeeStatus::Active,
        Some("inactive") => EmployeeStatus::Inactive,
        other => return Err(format!("status {other:?} is neither Active nor Inactive")),
    };
    let supervisor = record.reports_to_id.as_ref().and_then(scalar).map(|hr_id| PersonRef {
        hr_id,
        email: None,
        first_name: None,
        last_name: None,
    });
    Ok(Employee {
        hr_id: record.employee_id,
        email: text(record.work_email),
        first_name,
        last_name,
        preferred_name: text(record.preferred_name),
        status,
        employment_type: text(record.employment_status_name),
        job_title: text(record.job_title_name),
        department: text(record.department_name),
        team: text(record.division_name),
        office: text(record.location_name),
        supervisor,
        hire_date: record.hire_date.as_deref().and_then(date_part),
        termination_date: None,
        gender: None,
        language: None,
        custom: Vec::new(),
    })
}

impl Source for BambooHr {
    fn info() -> PluginInfo {
        PluginInfo::new("bamboohr", env!("CARGO_PKG_VERSION"))
            .description("BambooHR employees: full and incremental reads, webhooks")
            .config_schema(serde_json::json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "company_domain": { "type": "string", "pattern": "^[a-z0-9-]+$" },
                    "base_url": { "type": "string", "format": "uri" }
                },
                "anyOf": [{ "required": ["company_domain"] }, { "required": ["base_url"] }]
            }))
            .secret(
                "api-key",
                "An API key of a BambooHR user allowed to read employees",
                true,
            )
            .secret(
                "webhook-key",
                "The private key BambooHR gave when the webhook was created",
                false,
            )
            .host("https://*.bamboohr.com")
    }

    fn new() -> Result<Self, PluginError> {
        let config: Config = config()?;
        let base_url = match (config.base_url, config.company_domain) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Some(domain)) => format!("https://{domain}.bamboohr.com"),
            (None, None) => return Err(PluginError::invalid("company_domain", "name the company domain")),
        };
        Ok(Self {
            base_url,
            api_key: secret("api-key")?,
            changed: Vec::new(),
            removed: Vec::new(),
            read_started_ms: None,
        })
    }

    fn list_employees(&mut self, page: Option<String>, page_size: u32) -> Result<EmployeePage, PluginError> {
        if page.is_none() {
            self.read_started_ms = Some(now_millis());
        }
        let limit = page_size.clamp(1, 2500);
        let query = match &page {
            Some(after) => format!("page[limit]={limit}&page[after]={}", percent_encode(after)),
            None => format!("page[limit]={limit}"),
        };
        let (employees, rejected, next_page) = self.page(&query)?;
        let cursor = next_page
            .is_none()
            .then(|| rfc3339_utc(self.read_started_ms.unwrap_or_else(now_millis)));
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
        let offset: usize = match &page {
            None => {
                self.read_started_ms = Some(now_millis());
                let changed: Changed = self
                    .get(&format!("/api/v1/employees/changed?since={}", percent_encode(&cursor)))?
                    .json()?;
                let (mut ids, mut removed) = (Vec::new(), Vec::new());
                for (id, entry) in changed.employees {
                    if entry.action.eq_ignore_ascii_case("deleted") {
                        removed.push(id);
                    } else {
                        ids.push(id);
                    }
                }
                self.changed = ids;
                self.removed = removed;
                0
            }
            Some(offset) => offset
                .parse()
                .map_err(|_| PluginError::invalid("page", format!("`{offset}` is not a page of changes")))?,
        };
        let size = (page_size.clamp(1, 2500)) as usize;
        let chunk: Vec<String> = self.changed.iter().skip(offset).take(size).cloned().collect();
        let (employees, rejected) = if chunk.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let query = format!("page[limit]={size}&filter[ids]={}", chunk.join(","));
            let (employees, rejected, _) = self.page(&query)?;
            (employees, rejected)
        };
        let next = offset + chunk.len();
        let last = next >= self.changed.len();
        Ok(ChangePage {
            employees,
            rejected,
            removed: if last {
                std::mem::take(&mut self.removed)
            } else {
                Vec::new()
            },
            next_page: (!last).then(|| next.to_string()),
            cursor: last.then(|| rfc3339_utc(self.read_started_ms.unwrap_or_else(now_millis))),
        })
    }

    fn parse_webhook(&mut self, request: WebhookRequest) -> Result<Vec<WebhookEvent>, PluginError> {
        let key = secret("webhook-key")
            .map_err(|_| PluginError::Unauthorized("set the secret `webhook-key` to take BambooHR webhooks".into()))?;
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        };
        let (Some(signature), Some(timestamp)) = (header("x-bamboohr-signature"), header("x-bamboohr-timestamp"))
        else {
            return Err(PluginError::Unauthorized(
                "X-BambooHR-Signature or X-BambooHR-Timestamp missing".into(),
            ));
        };
        // Checked: a huge timestamp must not wrap around into the window.
        let sent_ms = timestamp
            .parse::<u64>()
            .ok()
            .and_then(|secs| secs.checked_mul(1000))
            .ok_or_else(|| PluginError::Unauthorized("X-BambooHR-Timestamp is not a Unix time".into()))?;
        if now_millis().abs_diff(sent_ms) > WEBHOOK_TOLERANCE_MS {
            return Err(PluginError::Unauthorized(
                "the webhook's timestamp is more than 5 minutes off".into(),
            ));
        }
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
            .map_err(|_| PluginError::fatal("the webhook key cannot key an HMAC"))?;
        mac.update(&request.body);
        mac.update(timestamp.as_bytes());
        let expected = hex(&signature).ok_or_else(|| PluginError::Unauthorized("the signature is not hex".into()))?;
        mac.verify_slice(&expected)
            .map_err(|_| PluginError::Unauthorized("the webhook's signature does not match".into()))?;
        let body: WebhookBody = serde_json::from_slice(&request.body)
            .map_err(|e| PluginError::invalid("body", format!("not a BambooHR webhook: {e}")))?;
        let kind = match body.kind.as_str() {
            "employee.created" | "employee_with_fields.created" => WebhookEventKind::Created,
            "employee.deleted" | "employee_with_fields.deleted" => WebhookEventKind::Deleted,
            "employee.updated" | "employee_with_fields.updated" => {
                if body
                    .data
                    .changed_fields
                    .iter()
                    .any(|f| f == "status" || f == "employmentStatus")
                {
                    WebhookEventKind::Terminated
                } else {
                    WebhookEventKind::Updated
                }
            }
            other => {
                return Err(PluginError::invalid(
                    "type",
                    format!("`{other}` is not an employee event"),
                ))
            }
        };
        Ok(vec![WebhookEvent {
            hr_id: body.data.employee_id,
            kind,
        }])
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

export_source!(BambooHr);
