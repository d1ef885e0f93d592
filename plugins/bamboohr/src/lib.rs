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
        Ok(read_listing(listing))
    }
}

/// A page of `/api/v1/employees` as employees, records that could not be
/// read, and the next page's cursor.
fn read_listing(listing: Listing) -> (Vec<Employee>, Vec<RejectedRecord>, Option<String>) {
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
    (employees, rejected, next)
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
        email: text(record.work_email).map(|email| email.to_lowercase()),
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
        verify_webhook(&key, &request, now_millis)?;
        webhook_events(&request.body)
    }
}

/// Checks a webhook's `X-BambooHR-Timestamp` against `now` and its
/// `X-BambooHR-Signature` against the HMAC of the body with `key`.
fn verify_webhook(key: &str, request: &WebhookRequest, now: impl FnOnce() -> u64) -> Result<(), PluginError> {
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let (Some(signature), Some(timestamp)) = (header("x-bamboohr-signature"), header("x-bamboohr-timestamp")) else {
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
    if now().abs_diff(sent_ms) > WEBHOOK_TOLERANCE_MS {
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
    Ok(())
}

/// The events of a verified webhook body.
fn webhook_events(body: &[u8]) -> Result<Vec<WebhookEvent>, PluginError> {
    let body: WebhookBody = serde_json::from_slice(body)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn record(value: Value) -> Record {
        serde_json::from_value(value).expect("a record")
    }

    fn full() -> Value {
        json!({
            "employeeId": "123",
            "firstName": "  Jürgen ",
            "lastName": "Müller",
            "preferredName": "",
            "jobTitleName": "Leiter Einkauf",
            "status": "Active",
            "workEmail": " Juergen.Mueller@Example.COM ",
            "departmentName": "Vertrieb Süd",
            "locationName": "Köln",
            "divisionName": "Team Nord",
            "reportsToId": 7,
            "hireDate": "2021-04-01",
            "employmentStatusName": "Full-Time",
        })
    }

    fn mapped(value: Value) -> Employee {
        employee(record(value)).expect("an employee")
    }

    #[test]
    fn a_bamboohr_record_maps_onto_the_canonical_employee() {
        let employee = mapped(full());
        assert_eq!(employee.hr_id, "123");
        assert_eq!(employee.first_name, "Jürgen");
        assert_eq!(employee.last_name, "Müller");
        assert_eq!(employee.preferred_name, None, "an empty preferred name is none");
        assert_eq!(employee.email.as_deref(), Some("juergen.mueller@example.com"));
        assert_eq!(employee.job_title.as_deref(), Some("Leiter Einkauf"));
        assert_eq!(employee.department.as_deref(), Some("Vertrieb Süd"));
        assert_eq!(employee.office.as_deref(), Some("Köln"), "location is the office");
        assert_eq!(employee.team.as_deref(), Some("Team Nord"), "division is the team");
        assert_eq!(employee.employment_type.as_deref(), Some("Full-Time"));
        assert_eq!(employee.hire_date.as_deref(), Some("2021-04-01"));
        assert_eq!(employee.supervisor.as_ref().map(|s| s.hr_id.as_str()), Some("7"));
        assert!(matches!(employee.status, EmployeeStatus::Active));
        assert_eq!(employee.termination_date, None);
        assert!(employee.custom.is_empty());
    }

    #[test]
    fn only_the_default_fields_are_required() {
        let employee = mapped(json!({
            "employeeId": "5", "firstName": "Ann", "lastName": "Lee", "preferredName": null,
            "jobTitleName": null, "status": "Inactive",
        }));
        assert!(matches!(employee.status, EmployeeStatus::Inactive));
        assert_eq!(employee.email, None);
        assert_eq!(employee.department, None);
        assert_eq!(employee.supervisor.as_ref().map(|s| s.hr_id.as_str()), None);
        assert_eq!(employee.hire_date, None);
    }

    #[test]
    fn status_is_read_case_insensitively() {
        for (status, active) in [
            ("ACTIVE", true),
            ("active", true),
            ("inactive", false),
            ("InActive", false),
        ] {
            let mut value = full();
            value["status"] = json!(status);
            let employee = mapped(value);
            assert_eq!(
                matches!(employee.status, EmployeeStatus::Active),
                active,
                "status {status}"
            );
        }
    }

    #[test]
    fn a_status_other_than_active_or_inactive_rejects_the_record() {
        let mut terminated = full();
        terminated["status"] = json!("Terminated");
        let reason = employee(record(terminated)).err().expect("rejected");
        assert_eq!(reason, r#"status Some("terminated") is neither Active nor Inactive"#);

        let mut missing = full();
        missing["status"] = Value::Null;
        let reason = employee(record(missing)).err().expect("rejected");
        assert_eq!(reason, "status None is neither Active nor Inactive");
    }

    #[test]
    fn blank_names_reject_the_record() {
        let mut no_first = full();
        no_first["firstName"] = json!("   ");
        assert_eq!(employee(record(no_first)).err().as_deref(), Some("no first name"));
        let mut no_last = full();
        no_last["lastName"] = Value::Null;
        assert_eq!(employee(record(no_last)).err().as_deref(), Some("no last name"));
    }

    #[test]
    fn reports_to_id_may_be_a_number_or_a_string_and_empty_means_no_supervisor() {
        for (value, expected) in [
            (json!("42"), Some("42")),
            (json!(42), Some("42")),
            (json!(""), None),
            (Value::Null, None),
            (json!(false), None),
        ] {
            let mut with = full();
            with["reportsToId"] = value.clone();
            let employee = mapped(with);
            assert_eq!(
                employee.supervisor.as_ref().map(|s| s.hr_id.as_str()),
                expected,
                "reportsToId {value}"
            );
        }
    }

    #[test]
    fn hire_date_keeps_the_calendar_day_and_drops_other_formats() {
        for (value, expected) in [
            (json!("2021-04-01"), Some("2021-04-01")),
            (json!("2021-04-01T08:00:00-07:00"), Some("2021-04-01")),
            (json!("04/01/2021"), None),
            (json!(""), None),
        ] {
            let mut with = full();
            with["hireDate"] = value.clone();
            assert_eq!(mapped(with).hire_date.as_deref(), expected, "hireDate {value}");
        }
    }

    #[test]
    fn scalar_reads_numbers_and_non_empty_strings_only() {
        assert_eq!(scalar(&json!(123)).as_deref(), Some("123"));
        assert_eq!(scalar(&json!("abc=")).as_deref(), Some("abc="));
        assert_eq!(scalar(&json!("")), None);
        assert_eq!(scalar(&Value::Null), None);
        assert_eq!(scalar(&json!(true)), None);
        assert_eq!(scalar(&json!(["1"])), None);
    }

    #[test]
    fn text_trims_and_drops_blank_values() {
        assert_eq!(text(Some("  Köln \n".into())).as_deref(), Some("Köln"));
        assert_eq!(text(Some(" \t ".into())), None);
        assert_eq!(text(None), None);
    }

    #[test]
    fn a_listing_page_keeps_good_records_and_rejects_bad_ones_with_their_ids() {
        let listing: Listing = serde_json::from_value(json!({
            "data": [
                full(),
                { "employeeId": "124", "firstName": "Ann", "lastName": "Lee", "status": "Terminated" },
                { "employeeId": "125", "firstName": ["Not", "text"], "lastName": "Lee", "status": "Active" },
                { "firstName": "No", "lastName": "Id", "status": "Active" },
            ],
            "meta": { "page": { "nextCursor": 9876 } }
        }))
        .expect("a listing");
        let (employees, rejected, next) = read_listing(listing);
        assert_eq!(employees.iter().map(|e| e.hr_id.as_str()).collect::<Vec<_>>(), ["123"]);
        assert_eq!(next.as_deref(), Some("9876"));
        assert_eq!(rejected.len(), 3);
        assert_eq!(rejected[0].hr_id.as_deref(), Some("124"));
        assert!(
            rejected[0].reason.contains("neither Active nor Inactive"),
            "{}",
            rejected[0].reason
        );
        assert_eq!(rejected[1].hr_id.as_deref(), Some("125"));
        assert!(
            rejected[1].reason.starts_with("unreadable employee: "),
            "{}",
            rejected[1].reason
        );
        assert!(rejected[1].reason.contains("invalid type"), "{}", rejected[1].reason);
        assert_eq!(rejected[2].hr_id, None);
        assert!(rejected[2].reason.contains("employeeId"), "{}", rejected[2].reason);
    }

    #[test]
    fn the_last_listing_page_has_no_next_cursor() {
        for meta in [
            json!({ "page": { "nextCursor": null } }),
            json!({ "page": {} }),
            json!({ "page": { "nextCursor": "" } }),
        ] {
            let listing: Listing = serde_json::from_value(json!({ "data": [], "meta": meta })).expect("a listing");
            let (employees, rejected, next) = read_listing(listing);
            assert!(employees.is_empty() && rejected.is_empty());
            assert_eq!(next, None);
        }
    }

    #[test]
    fn hex_decodes_pairs_of_either_case_and_refuses_odd_or_non_hex_text() {
        assert_eq!(hex("00ff7A"), Some(vec![0x00, 0xff, 0x7a]));
        assert_eq!(hex(""), Some(vec![]));
        assert_eq!(hex("abc"), None);
        assert_eq!(hex("zz"), None);
        assert_eq!(hex("üü"), None);
    }

    // Webhooks.

    const KEY: &str = "webhook-private-key";
    const NOW_MS: u64 = 1_764_000_000_000;
    const BODY: &str =
        r#"{"type":"employee.updated","data":{"companyId":"1","employeeId":"123","changedFields":["firstName"]}}"#;

    fn sign(key: &str, body: &[u8], timestamp: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("a key");
        mac.update(body);
        mac.update(timestamp.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn request(headers: &[(&str, &str)], body: &str) -> WebhookRequest {
        WebhookRequest {
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn signed(body: &str, timestamp_secs: u64) -> WebhookRequest {
        let timestamp = timestamp_secs.to_string();
        let signature = sign(KEY, body.as_bytes(), &timestamp);
        request(
            &[
                ("X-BambooHR-Signature", &signature),
                ("X-BambooHR-Timestamp", &timestamp),
            ],
            body,
        )
    }

    fn unauthorized(result: Result<(), PluginError>) -> String {
        match result {
            Err(PluginError::Unauthorized(message)) => message,
            other => panic!("expected unauthorized, got {other:?}"),
        }
    }

    #[test]
    fn a_webhook_signed_with_the_key_over_body_and_timestamp_is_accepted() {
        let request = signed(BODY, NOW_MS / 1000);
        assert!(verify_webhook(KEY, &request, || NOW_MS).is_ok());
    }

    #[test]
    fn header_names_are_case_insensitive_values_trimmed_and_hex_may_be_upper_case() {
        let timestamp = (NOW_MS / 1000).to_string();
        let signature = sign(KEY, BODY.as_bytes(), &timestamp).to_uppercase();
        let request = request(
            &[
                ("x-bamboohr-signature", &format!(" {signature} ")),
                ("X-BAMBOOHR-TIMESTAMP", &format!("{timestamp}\t")),
            ],
            BODY,
        );
        assert!(verify_webhook(KEY, &request, || NOW_MS).is_ok());
    }

    #[test]
    fn a_webhook_with_another_key_a_changed_body_or_timestamp_is_refused() {
        let secs = NOW_MS / 1000;
        let timestamp = secs.to_string();

        let other_key = sign("another-key", BODY.as_bytes(), &timestamp);
        let forged = request(
            &[
                ("X-BambooHR-Signature", &other_key),
                ("X-BambooHR-Timestamp", &timestamp),
            ],
            BODY,
        );
        assert_eq!(
            unauthorized(verify_webhook(KEY, &forged, || NOW_MS)),
            "the webhook's signature does not match"
        );

        let mut tampered = signed(BODY, secs);
        tampered.body = BODY.replace("123", "124").into_bytes();
        assert_eq!(
            unauthorized(verify_webhook(KEY, &tampered, || NOW_MS)),
            "the webhook's signature does not match"
        );

        // The signature covers the timestamp: a replay with a fresh one fails.
        let mut replayed = signed(BODY, secs - 60);
        for (name, value) in &mut replayed.headers {
            if name == "X-BambooHR-Timestamp" {
                *value = secs.to_string();
            }
        }
        assert_eq!(
            unauthorized(verify_webhook(KEY, &replayed, || NOW_MS)),
            "the webhook's signature does not match"
        );
    }

    #[test]
    fn a_webhook_more_than_five_minutes_off_is_refused_either_way() {
        let secs = NOW_MS / 1000;
        assert!(
            verify_webhook(KEY, &signed(BODY, secs - 300), || NOW_MS).is_ok(),
            "exactly 5 minutes old"
        );
        assert!(
            verify_webhook(KEY, &signed(BODY, secs + 300), || NOW_MS).is_ok(),
            "exactly 5 minutes ahead"
        );
        for off in [secs - 301, secs + 301, 0] {
            assert_eq!(
                unauthorized(verify_webhook(KEY, &signed(BODY, off), || NOW_MS)),
                "the webhook's timestamp is more than 5 minutes off",
                "timestamp {off}"
            );
        }
    }

    #[test]
    fn a_timestamp_that_is_not_a_unix_time_or_would_overflow_is_refused() {
        for timestamp in ["18446744073709552", "-1", "1764000000.5", "", "2026-11-21T09:05:03Z"] {
            let signature = sign(KEY, BODY.as_bytes(), timestamp);
            let request = request(
                &[
                    ("X-BambooHR-Signature", &signature),
                    ("X-BambooHR-Timestamp", timestamp),
                ],
                BODY,
            );
            assert_eq!(
                unauthorized(verify_webhook(KEY, &request, || NOW_MS)),
                "X-BambooHR-Timestamp is not a Unix time",
                "timestamp {timestamp:?}"
            );
        }
    }

    #[test]
    fn a_webhook_without_signature_or_timestamp_or_with_a_non_hex_signature_is_refused() {
        let timestamp = (NOW_MS / 1000).to_string();
        let missing = "X-BambooHR-Signature or X-BambooHR-Timestamp missing";
        let no_timestamp = request(&[("X-BambooHR-Signature", "00")], BODY);
        assert_eq!(unauthorized(verify_webhook(KEY, &no_timestamp, || NOW_MS)), missing);
        let no_signature = request(&[("X-BambooHR-Timestamp", &timestamp)], BODY);
        assert_eq!(unauthorized(verify_webhook(KEY, &no_signature, || NOW_MS)), missing);
        let not_hex = request(
            &[
                ("X-BambooHR-Signature", "sha256=zz"),
                ("X-BambooHR-Timestamp", &timestamp),
            ],
            BODY,
        );
        assert_eq!(
            unauthorized(verify_webhook(KEY, &not_hex, || NOW_MS)),
            "the signature is not hex"
        );
    }

    fn event(body: Value) -> WebhookEvent {
        let mut events = webhook_events(body.to_string().as_bytes()).expect("events");
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    #[test]
    fn webhook_types_become_created_updated_and_deleted_events() {
        for (kind, expected) in [
            ("employee.created", WebhookEventKind::Created),
            ("employee_with_fields.created", WebhookEventKind::Created),
            ("employee.updated", WebhookEventKind::Updated),
            ("employee_with_fields.updated", WebhookEventKind::Updated),
            ("employee.deleted", WebhookEventKind::Deleted),
            ("employee_with_fields.deleted", WebhookEventKind::Deleted),
        ] {
            let event = event(json!({ "type": kind, "data": { "employeeId": "123", "changedFields": ["firstName"] } }));
            assert_eq!(event.hr_id, "123");
            assert_eq!(format!("{:?}", event.kind), format!("{expected:?}"), "type {kind}");
        }
    }

    #[test]
    fn an_update_of_status_or_employment_status_is_a_termination_event() {
        for field in ["status", "employmentStatus"] {
            let event = event(json!({
                "type": "employee.updated",
                "data": { "employeeId": "9", "changedFields": ["firstName", field] }
            }));
            assert!(matches!(event.kind, WebhookEventKind::Terminated), "changed {field}");
        }
        let no_fields = event(json!({ "type": "employee.updated", "data": { "employeeId": "9" } }));
        assert!(matches!(no_fields.kind, WebhookEventKind::Updated));
    }

    #[test]
    fn a_webhook_of_another_type_or_shape_is_invalid_input_naming_the_part() {
        match webhook_events(br#"{"type":"timeoff.created","data":{"employeeId":"1"}}"#) {
            Err(PluginError::InvalidInput(invalid)) => {
                assert_eq!(invalid.field, "type");
                assert_eq!(invalid.message, "`timeoff.created` is not an employee event");
            }
            other => panic!("{other:?}"),
        }
        for body in [&b"not json"[..], br#"{"type":"employee.created","data":{}}"#, b""] {
            match webhook_events(body) {
                Err(PluginError::InvalidInput(invalid)) => {
                    assert_eq!(invalid.field, "body");
                    assert!(
                        invalid.message.starts_with("not a BambooHR webhook: "),
                        "{}",
                        invalid.message
                    );
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
