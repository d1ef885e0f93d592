//! Microsoft Entra ID as an hrsync source, through Microsoft Graph v1.0.
//!
//! - Auth: the OAuth 2.0 client-credentials grant at
//!   `POST {login}/{tenant}/oauth2/v2.0/token` (form fields `client_id`,
//!   `client_secret`, `scope=https://graph.microsoft.com/.default`); the
//!   token is renewed a minute before it expires and once when Graph
//!   answers 401.
//! - Full read: a delta round, `GET /v1.0/users/delta?$select=…` with
//!   `manager` selected (Graph reports it as `manager@delta` with the
//!   manager's id; `$expand` is ignored on delta), following
//!   `@odata.nextLink`; the round's `@odata.deltaLink` is the cursor.
//! - Incremental read: the delta link of the last round: changed users with
//!   all their selected properties, removed ones as `@removed`. A changed
//!   user's `manager@delta` comes only when the manager changed: otherwise
//!   the manager is looked up (`GET /v1.0/users/{id}/manager`). An expired
//!   delta token (`410 Gone`, `syncStateNotFound`) makes the host read
//!   everything again.
//! - Group scope (`group_id`): only the group's transitive members. The
//!   cursor keeps a digest of the members; when they changed, the next run
//!   reads everything, so that those who left the group are deactivated.
//!
//! The facts these follow are in ../shared/specs/entra/README.md of the
//! workspace this project was written in, and in sdk/README.md.

use std::collections::HashSet;

use hrsync_sdk::http::{percent_encode, status_error, Request, Response};
use hrsync_sdk::time::date_part;
use hrsync_sdk::{
    config, export_source, fields, log, now_millis, secret, Attribute, AttributeValue, ChangePage, Employee,
    EmployeePage, EmployeeStatus, PersonRef, PluginError, PluginInfo, RejectedRecord, Source,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

const SCOPE: &str = "https://graph.microsoft.com/.default";
const GRAPH: &str = "https://graph.microsoft.com";
const LOGIN: &str = "https://login.microsoftonline.com";

/// The user properties read: those mapped, and `manager` (which delta
/// reports as `manager@delta`).
const SELECT: &[&str] = &[
    "id",
    "accountEnabled",
    "userPrincipalName",
    "mail",
    "givenName",
    "surname",
    "jobTitle",
    "department",
    "companyName",
    "officeLocation",
    "employeeId",
    "employeeType",
    "employeeHireDate",
    "employeeLeaveDateTime",
    "employeeOrgData",
    "preferredLanguage",
    "userType",
    "manager",
];

/// Needs the extra permission `User-LifeCycleInfo.Read.All`; without it the
/// round is read without the property and the termination date is
/// reported unreadable.
const LEAVE_DATE: &str = "employeeLeaveDateTime";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The directory (tenant) id or a verified domain (`contoso.onmicrosoft.com`).
    tenant_id: String,
    /// The application (client) id of the app registration.
    client_id: String,
    #[serde(default)]
    email_from: EmailFrom,
    /// Only the (transitive) members of this group.
    #[serde(default)]
    group_id: Option<String>,
    /// Guests (`userType` Guest) are left out unless this is true.
    #[serde(default)]
    include_guests: bool,
    /// Overrides `https://graph.microsoft.com` (national clouds, tests).
    #[serde(default)]
    graph_url: Option<String>,
    /// Overrides `https://login.microsoftonline.com`.
    #[serde(default)]
    login_url: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "camelCase")]
enum EmailFrom {
    #[default]
    Mail,
    UserPrincipalName,
}

struct Token {
    value: String,
    expires_at_ms: u64,
}

/// What the host keeps between runs: where the next delta round starts, and
/// which members the group had.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Cursor {
    delta: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    members: Option<String>,
}

#[derive(Deserialize)]
struct DeltaPage {
    #[serde(default)]
    value: Vec<Value>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    id: String,
    account_enabled: Option<bool>,
    user_principal_name: Option<String>,
    mail: Option<String>,
    given_name: Option<String>,
    surname: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    company_name: Option<String>,
    office_location: Option<String>,
    employee_id: Option<String>,
    employee_type: Option<String>,
    employee_hire_date: Option<String>,
    employee_leave_date_time: Option<String>,
    employee_org_data: Option<OrgData>,
    preferred_language: Option<String>,
    user_type: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct OrgData {
    division: Option<String>,
    cost_center: Option<String>,
}

/// What one entry of a delta page says.
#[derive(Debug)]
enum Entry {
    Removed(String),
    User {
        employee: Box<Employee>,
        /// False when the entry had no `manager@delta`: in a later round,
        /// the manager did not change and is not in the entry.
        manager_known: bool,
    },
    Guest,
    Rejected(RejectedRecord),
}

struct Entra {
    config: Config,
    graph: String,
    login: String,
    client_secret: String,
    token: Option<Token>,
    select: Vec<&'static str>,
    /// Ids handed on in this round: Graph may repeat a user across pages.
    seen: HashSet<String>,
    /// The group's members, read at the start of a round (group scope).
    members: Option<HashSet<String>>,
    guests_left_out: usize,
}

fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Milliseconds since the epoch of an ISO 8601 date-time (`2026-01-31T00:00:00Z`).
fn instant_ms(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A tenant, client or group id goes into a URL path or form: letters,
/// digits, `-` and `.` only.
fn check_id(field: &str, value: &str) -> Result<(), PluginError> {
    let ok = !value.is_empty()
        && value.len() <= 256
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(PluginError::invalid(
            field,
            "use the id Entra ID shows (letters, digits, `-` and `.`, e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47)",
        ))
    }
}

/// The status a user has today: disabled or past their leave date →
/// inactive; hired later than now → onboarding.
fn status(user: &User, now_ms: i64) -> EmployeeStatus {
    let left = user
        .employee_leave_date_time
        .as_deref()
        .and_then(instant_ms)
        .is_some_and(|leave| leave <= now_ms);
    if user.account_enabled == Some(false) || left {
        return EmployeeStatus::Inactive;
    }
    let hired_later = user
        .employee_hire_date
        .as_deref()
        .and_then(instant_ms)
        .is_some_and(|hire| hire > now_ms);
    if hired_later {
        EmployeeStatus::Onboarding
    } else {
        EmployeeStatus::Active
    }
}

fn employee(user: User, email_from: EmailFrom, manager: Option<String>, now_ms: i64) -> Result<Employee, String> {
    if user.account_enabled.is_none() {
        return Err("no accountEnabled: Graph did not return it".into());
    }
    let status = status(&user, now_ms);
    let first_name = text(user.given_name).ok_or("no givenName (first name): a person's account has one")?;
    let last_name = text(user.surname).ok_or("no surname (last name): a person's account has one")?;
    let upn = text(user.user_principal_name);
    let email = match email_from {
        EmailFrom::Mail => text(user.mail),
        EmailFrom::UserPrincipalName => upn.clone(),
    }
    .map(|e| e.to_lowercase());
    let org = user.employee_org_data.unwrap_or_default();
    let mut custom = Vec::new();
    let mut attribute = |name: &str, value: Option<String>| {
        if let Some(value) = text(value) {
            custom.push(Attribute {
                name: name.into(),
                value: AttributeValue::Text(value),
            });
        }
    };
    attribute("company_name", user.company_name);
    attribute("employee_id", user.employee_id);
    attribute("cost_center", org.cost_center);
    attribute("user_principal_name", upn);
    Ok(Employee {
        hr_id: user.id,
        email,
        first_name,
        last_name,
        preferred_name: None,
        status,
        employment_type: text(user.employee_type),
        job_title: text(user.job_title),
        department: text(user.department),
        team: text(org.division),
        office: text(user.office_location),
        supervisor: manager.map(|hr_id| PersonRef {
            hr_id,
            email: None,
            first_name: None,
            last_name: None,
        }),
        hire_date: user.employee_hire_date.as_deref().and_then(date_part),
        termination_date: user.employee_leave_date_time.as_deref().and_then(date_part),
        gender: None,
        language: text(user.preferred_language),
        custom,
    })
}

/// The manager a `manager@delta` annotation names: `Some(None)` when it says
/// the manager was removed, `None` without the annotation.
fn manager_delta(object: &Map<String, Value>) -> Option<Option<String>> {
    let annotation = object.get("manager@delta")?;
    let current = annotation.as_array().and_then(|links| {
        links
            .iter()
            .filter(|link| link.get("@removed").is_none())
            .find_map(|link| link.get("id").and_then(Value::as_str))
            .map(str::to_string)
    });
    Some(current)
}

/// One entry of a delta page.
fn entry(value: Value, email_from: EmailFrom, include_guests: bool, now_ms: i64) -> Entry {
    let id = value.get("id").and_then(Value::as_str).map(str::to_string);
    let Value::Object(object) = value else {
        return Entry::Rejected(RejectedRecord {
            hr_id: None,
            reason: "an entry of the delta page is not an object".into(),
        });
    };
    if object.contains_key("@removed") {
        return match id {
            Some(id) => Entry::Removed(id),
            None => Entry::Rejected(RejectedRecord {
                hr_id: None,
                reason: "a removed entry without id".into(),
            }),
        };
    }
    let manager = manager_delta(&object);
    let user: User = match serde_json::from_value(Value::Object(object)) {
        Ok(user) => user,
        Err(e) => {
            return Entry::Rejected(RejectedRecord {
                hr_id: id,
                reason: format!("unreadable user: {e}"),
            })
        }
    };
    if !include_guests
        && user
            .user_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("guest"))
    {
        return Entry::Guest;
    }
    let hr_id = user.id.clone();
    match employee(user, email_from, manager.clone().flatten(), now_ms) {
        Ok(employee) => Entry::User {
            employee: Box::new(employee),
            manager_known: manager.is_some(),
        },
        Err(reason) => Entry::Rejected(RejectedRecord {
            hr_id: Some(hr_id),
            reason,
        }),
    }
}

/// The words of a Graph or identity-platform error body.
fn error_detail(response: &Response) -> String {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    if let Some(error) = body.get("error").filter(|e| e.is_object()) {
        let code = error.get("code").and_then(Value::as_str).unwrap_or("error");
        let message = error.get("message").and_then(Value::as_str).unwrap_or("");
        return format!("{code}: {message}");
    }
    if let Some(description) = body.get("error_description").and_then(Value::as_str) {
        // The identity platform ends its description with trace and
        // correlation ids on lines of their own: kept, on one line.
        return description.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    response.text()
}

/// The typed error of a Graph answer that is not a success.
fn graph_failure(what: &str, response: &Response) -> PluginError {
    let detail = error_detail(response);
    match response.status {
        403 => PluginError::unauthorized(format!(
            "{what}: HTTP 403 {detail} (grant the app registration the application permission User.Read.All, \
             GroupMember.Read.All for a group scope, with admin consent)"
        )),
        status => status_error(status, &format!("{what}: {detail}"), response.retry_after_ms()),
    }
}

/// A delta round that cannot go on: the host reads everything instead.
fn round_expired(response: &Response) -> bool {
    if response.status == 410 {
        return true;
    }
    (400..500).contains(&response.status) && {
        let detail = error_detail(response);
        detail.starts_with("syncStateNotFound") || detail.starts_with("resyncRequired")
    }
}

fn digest(members: &HashSet<String>) -> String {
    let mut sorted: Vec<&String> = members.iter().collect();
    sorted.sort();
    let mut hash = Sha256::new();
    for id in sorted {
        hash.update(id.as_bytes());
        hash.update(b"\n");
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Entra {
    fn token(&mut self) -> Result<String, PluginError> {
        let now = now_millis();
        if let Some(token) = &self.token {
            // Renewed a minute early rather than refused mid-read.
            if token.expires_at_ms > now + 60_000 {
                return Ok(token.value.clone());
            }
        }
        let form = format!(
            "client_id={}&client_secret={}&scope={}&grant_type=client_credentials",
            percent_encode(&self.config.client_id),
            percent_encode(&self.client_secret),
            percent_encode(SCOPE),
        );
        let url = format!("{}/{}/oauth2/v2.0/token", self.login, self.config.tenant_id);
        let response = Request::post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form.into_bytes())
            .send()?;
        if response.status == 400 || response.status == 401 {
            return Err(PluginError::unauthorized(format!(
                "the Microsoft identity platform refused the client credentials of tenant `{}`: {}",
                self.config.tenant_id,
                error_detail(&response)
            )));
        }
        if !response.is_success() {
            return Err(status_error(
                response.status,
                &format!("token request: {}", error_detail(&response)),
                response.retry_after_ms(),
            ));
        }
        let body: Value = response.json()?;
        let value = body["access_token"]
            .as_str()
            .ok_or_else(|| PluginError::fatal("the token response has no access_token"))?
            .to_string();
        let expires_in = body["expires_in"]
            .as_u64()
            .or_else(|| body["expires_in"].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(3599);
        self.token = Some(Token {
            value: value.clone(),
            expires_at_ms: now + expires_in.saturating_mul(1000),
        });
        Ok(value)
    }

    /// GET with the bearer token; a 401 renews the token and tries once
    /// more. Any other status is the caller's to judge.
    fn get(&mut self, url: &str) -> Result<Response, PluginError> {
        if !url.starts_with(&format!("{}/", self.graph)) {
            return Err(PluginError::fatal(format!(
                "Graph sent a link outside {}: refused to follow it",
                self.graph
            )));
        }
        for attempt in 0..2 {
            let token = self.token()?;
            let response = Request::get(url)
                .bearer(&token)
                .header("accept", "application/json")
                .send()?;
            if response.status == 401 && attempt == 0 {
                log::info("Microsoft Graph refused the access token; renewing it");
                self.token = None;
                continue;
            }
            return Ok(response);
        }
        Err(PluginError::unauthorized(
            "Microsoft Graph refused a freshly issued access token",
        ))
    }

    fn first_delta_url(&self) -> String {
        format!("{}/v1.0/users/delta?$select={}", self.graph, self.select.join(","))
    }

    /// The first page of a round, without `employeeLeaveDateTime` when the
    /// app may not read it.
    fn first_page(&mut self) -> Result<Response, PluginError> {
        let response = self.get(&self.first_delta_url())?;
        if response.status == 403 && self.select.contains(&LEAVE_DATE) {
            log::warn(format!(
                "Graph refused the user list with {LEAVE_DATE} ({}); reading without it",
                error_detail(&response)
            ));
            fields::unreadable(
                "termination_date",
                "grant the app registration the application permission User-LifeCycleInfo.Read.All \
                 (employeeLeaveDateTime), with admin consent",
            );
            self.select.retain(|p| *p != LEAVE_DATE);
            return self.get(&self.first_delta_url());
        }
        Ok(response)
    }

    /// The group's transitive members (users only), in pages of 999.
    fn read_members(&mut self, group_id: &str) -> Result<HashSet<String>, PluginError> {
        let mut members = HashSet::new();
        let mut url = format!(
            "{}/v1.0/groups/{}/transitiveMembers?$select=id&$top=999",
            self.graph, group_id
        );
        loop {
            let response = self.get(&url)?;
            if response.status == 404 {
                return Err(PluginError::invalid(
                    "group_id",
                    format!("Entra ID has no group `{group_id}` (use the group's object id)"),
                ));
            }
            if !response.is_success() {
                return Err(graph_failure("reading the group's members", &response));
            }
            let page: DeltaPage = response.json()?;
            for member in page.value {
                let is_user = member
                    .get("@odata.type")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t == "#microsoft.graph.user");
                if let (true, Some(id)) = (is_user, member.get("id").and_then(Value::as_str)) {
                    members.insert(id.to_string());
                }
            }
            match page.next_link {
                Some(next) => url = next,
                None => return Ok(members),
            }
        }
    }

    /// The manager of a user whose entry did not say (`None`: no manager).
    fn manager_of(&mut self, id: &str) -> Result<Option<String>, PluginError> {
        let url = format!("{}/v1.0/users/{}/manager?$select=id", self.graph, percent_encode(id));
        let response = self.get(&url)?;
        if response.status == 404 {
            return Ok(None);
        }
        if !response.is_success() {
            return Err(graph_failure("reading a user's manager", &response));
        }
        let manager: Value = response.json()?;
        Ok(manager.get("id").and_then(Value::as_str).map(str::to_string))
    }

    /// The entries of one delta page, sorted into employees, rejected
    /// records and removed ids. In later rounds (`full` false) the manager
    /// of each changed user whose entry did not name it is looked up.
    fn read_page(&mut self, page: DeltaPage, full: bool) -> Result<Sorted, PluginError> {
        let now = i64::try_from(now_millis()).unwrap_or(i64::MAX);
        let mut sorted = Sorted::default();
        // Noted in the round only once the whole page is read: a page the
        // host asks again after a failed manager lookup is read afresh.
        let (mut seen_here, mut guests) = (HashSet::new(), 0);
        for value in page.value {
            match entry(value, self.config.email_from, self.config.include_guests, now) {
                Entry::Removed(id) => {
                    if !full {
                        sorted.removed.push(id);
                    }
                }
                Entry::Guest => guests += 1,
                Entry::Rejected(record) => sorted.rejected.push(record),
                Entry::User {
                    mut employee,
                    manager_known,
                } => {
                    if let Some(members) = &self.members {
                        if !members.contains(&employee.hr_id) {
                            continue;
                        }
                    }
                    if self.seen.contains(&employee.hr_id) || !seen_here.insert(employee.hr_id.clone()) {
                        log::debug(format!(
                            "user {} came twice in one round; the first is kept",
                            employee.hr_id
                        ));
                        continue;
                    }
                    if !full && !manager_known {
                        employee.supervisor = self.manager_of(&employee.hr_id)?.map(|hr_id| PersonRef {
                            hr_id,
                            email: None,
                            first_name: None,
                            last_name: None,
                        });
                    }
                    sorted.employees.push(*employee);
                }
            }
        }
        self.seen.extend(seen_here);
        self.guests_left_out += guests;
        Ok(sorted)
    }

    /// Starts a round: the group's members, when scoped.
    fn start_round(&mut self) -> Result<(), PluginError> {
        self.seen.clear();
        self.guests_left_out = 0;
        self.members = match self.config.group_id.clone() {
            Some(group) => Some(self.read_members(&group)?),
            None => None,
        };
        Ok(())
    }

    fn end_round(&self) {
        if self.guests_left_out > 0 {
            log::info(format!(
                "{} guest user(s) left out (set include_guests to read them)",
                self.guests_left_out
            ));
        }
    }

    /// One answered page of a delta round: its entries sorted, the next
    /// page, and on the round's last page the cursor.
    fn delta_page(
        &mut self,
        what: &str,
        response: Response,
        full: bool,
    ) -> Result<(Sorted, Option<String>, Option<String>), PluginError> {
        if !response.is_success() {
            return Err(graph_failure(what, &response));
        }
        let delta: DeltaPage = response.json()?;
        let (next_page, delta_link) = (delta.next_link.clone(), delta.delta_link.clone());
        let sorted = self.read_page(delta, full)?;
        let cursor = match (&next_page, delta_link) {
            (Some(_), _) => None,
            (None, Some(link)) => Some(self.cursor(link)),
            (None, None) => {
                return Err(PluginError::fatal(
                    "a delta page had neither a nextLink nor a deltaLink",
                ))
            }
        };
        if cursor.is_some() {
            self.end_round();
        }
        Ok((sorted, next_page, cursor))
    }

    fn cursor(&self, delta_link: String) -> String {
        let cursor = Cursor {
            delta: delta_link,
            members: self.members.as_ref().map(digest),
        };
        serde_json::to_string(&cursor).unwrap_or_default()
    }
}

#[derive(Default)]
struct Sorted {
    employees: Vec<Employee>,
    rejected: Vec<RejectedRecord>,
    removed: Vec<String>,
}

impl Source for Entra {
    fn info() -> PluginInfo {
        PluginInfo::new("entra", env!("CARGO_PKG_VERSION"))
            .description("Microsoft Entra ID users through Microsoft Graph: delta rounds, managers, group scope")
            .config_schema(serde_json::json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["tenant_id", "client_id"],
                "properties": {
                    "tenant_id": { "type": "string", "pattern": "^[A-Za-z0-9.-]+$", "description": "Directory (tenant) id or a verified domain" },
                    "client_id": { "type": "string", "pattern": "^[A-Za-z0-9.-]+$", "description": "Application (client) id of the app registration" },
                    "email_from": { "enum": ["mail", "userPrincipalName"], "default": "mail" },
                    "group_id": { "type": "string", "pattern": "^[A-Za-z0-9.-]+$", "description": "Only this group's (transitive) members" },
                    "include_guests": { "type": "boolean", "default": false },
                    "graph_url": { "type": "string", "format": "uri", "default": GRAPH },
                    "login_url": { "type": "string", "format": "uri", "default": LOGIN }
                }
            }))
            .secret(
                "client-secret",
                "A client secret of the app registration (its value, not its id)",
                true,
            )
            .host(LOGIN)
            .host(GRAPH)
    }

    fn new() -> Result<Self, PluginError> {
        let config: Config = config()?;
        check_id("tenant_id", &config.tenant_id)?;
        check_id("client_id", &config.client_id)?;
        if let Some(group) = &config.group_id {
            check_id("group_id", group)?;
        }
        let base =
            |url: &Option<String>, default: &str| url.as_deref().unwrap_or(default).trim_end_matches('/').to_string();
        Ok(Self {
            graph: base(&config.graph_url, GRAPH),
            login: base(&config.login_url, LOGIN),
            client_secret: secret("client-secret")?,
            token: None,
            select: SELECT.to_vec(),
            seen: HashSet::new(),
            members: None,
            guests_left_out: 0,
            config,
        })
    }

    fn test_connection(&mut self) -> Result<(), PluginError> {
        let url = format!("{}/v1.0/users/delta?$deltatoken=latest&$select=id", self.graph);
        let response = self.get(&url)?;
        if !response.is_success() {
            return Err(graph_failure("listing users", &response));
        }
        if let Some(group) = self.config.group_id.clone() {
            self.read_members(&group)?;
        }
        Ok(())
    }

    /// Graph decides the size of delta pages (`$top` is not supported on
    /// delta): `page_size` is not used.
    fn list_employees(&mut self, page: Option<String>, _page_size: u32) -> Result<EmployeePage, PluginError> {
        let response = match &page {
            None => {
                self.start_round()?;
                self.first_page()?
            }
            Some(next) => self.get(next)?,
        };
        let (sorted, next_page, cursor) = self.delta_page("reading users", response, true)?;
        Ok(EmployeePage {
            employees: sorted.employees,
            rejected: sorted.rejected,
            next_page,
            cursor,
        })
    }

    fn changes_since(
        &mut self,
        cursor: String,
        page: Option<String>,
        _page_size: u32,
    ) -> Result<ChangePage, PluginError> {
        let response = match &page {
            None => {
                let cursor: Cursor = serde_json::from_str(&cursor).map_err(|_| {
                    PluginError::unsupported("the cursor is not one of this plugin's; reading everything")
                })?;
                self.start_round()?;
                if cursor.members != self.members.as_ref().map(digest) {
                    return Err(PluginError::unsupported(
                        "the group's members changed since the last run; reading everything",
                    ));
                }
                if !cursor.delta.starts_with(&format!("{}/", self.graph)) {
                    return Err(PluginError::unsupported(
                        "the cursor is of another Graph address (graph_url changed); reading everything",
                    ));
                }
                self.get(&cursor.delta)?
            }
            Some(next) => self.get(next)?,
        };
        if round_expired(&response) {
            let detail = error_detail(&response);
            return Err(match page {
                None => PluginError::unsupported(format!(
                    "Graph no longer knows the delta token ({detail}); reading everything"
                )),
                // Mid-round: what was handed on cannot be taken back. The
                // run fails; the next one starts from the old cursor, which
                // Graph refuses on its first page, and reads everything.
                Some(_) => PluginError::fatal(format!("the delta round expired while it was read ({detail})")),
            });
        }
        let (sorted, next_page, cursor) = self.delta_page("reading changed users", response, false)?;
        Ok(ChangePage {
            employees: sorted.employees,
            rejected: sorted.rejected,
            removed: sorted.removed,
            next_page,
            cursor,
        })
    }
}

export_source!(Entra);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_764_806_400_000; // 2025-12-04T00:00:00Z

    fn user() -> Value {
        json!({
            "id": "8a7c2f1e-0000-4000-8000-000000000001",
            "accountEnabled": true,
            "userPrincipalName": "Juergen.Mueller@contoso.onmicrosoft.com",
            "mail": " Jürgen.Müller@Contoso.example ",
            "givenName": " Jürgen ",
            "surname": "Müller",
            "jobTitle": "Leiter Einkauf",
            "department": "Einkauf",
            "companyName": "Contoso GmbH",
            "officeLocation": "Köln",
            "employeeId": "E00001",
            "employeeType": "Employee",
            "employeeHireDate": "2021-04-01T00:00:00Z",
            "employeeOrgData": { "division": "Team Nord", "costCenter": "4711" },
            "preferredLanguage": "de-DE",
            "userType": "Member",
            "manager@delta": [{ "@odata.type": "#microsoft.graph.user", "id": "boss" }],
        })
    }

    fn mapped(value: Value) -> (Employee, bool) {
        match entry(value, EmailFrom::Mail, false, NOW) {
            Entry::User {
                employee,
                manager_known,
            } => (*employee, manager_known),
            other => panic!("expected a user, got {other:?}"),
        }
    }

    fn rejected(value: Value) -> RejectedRecord {
        match entry(value, EmailFrom::Mail, false, NOW) {
            Entry::Rejected(record) => record,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    fn custom(employee: &Employee, name: &str) -> Option<String> {
        employee.custom.iter().find(|a| a.name == name).map(|a| match &a.value {
            AttributeValue::Text(text) => text.clone(),
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn a_graph_user_maps_onto_the_canonical_employee() {
        let (employee, manager_known) = mapped(user());
        assert_eq!(employee.hr_id, "8a7c2f1e-0000-4000-8000-000000000001");
        assert_eq!(employee.first_name, "Jürgen");
        assert_eq!(employee.last_name, "Müller");
        assert_eq!(employee.email.as_deref(), Some("jürgen.müller@contoso.example"));
        assert!(matches!(employee.status, EmployeeStatus::Active));
        assert_eq!(employee.job_title.as_deref(), Some("Leiter Einkauf"));
        assert_eq!(employee.department.as_deref(), Some("Einkauf"));
        assert_eq!(employee.office.as_deref(), Some("Köln"));
        assert_eq!(employee.team.as_deref(), Some("Team Nord"), "the division is the team");
        assert_eq!(employee.employment_type.as_deref(), Some("Employee"));
        assert_eq!(employee.hire_date.as_deref(), Some("2021-04-01"));
        assert_eq!(employee.termination_date, None);
        assert_eq!(employee.language.as_deref(), Some("de-DE"));
        assert_eq!(employee.supervisor.as_ref().map(|s| s.hr_id.as_str()), Some("boss"));
        assert!(manager_known);
        assert_eq!(custom(&employee, "company_name").as_deref(), Some("Contoso GmbH"));
        assert_eq!(custom(&employee, "employee_id").as_deref(), Some("E00001"));
        assert_eq!(custom(&employee, "cost_center").as_deref(), Some("4711"));
        assert_eq!(
            custom(&employee, "user_principal_name").as_deref(),
            Some("Juergen.Mueller@contoso.onmicrosoft.com")
        );
    }

    #[test]
    fn the_email_comes_from_mail_or_the_user_principal_name_as_configured() {
        let from_upn = match entry(user(), EmailFrom::UserPrincipalName, false, NOW) {
            Entry::User { employee, .. } => employee.email,
            other => panic!("{other:?}"),
        };
        assert_eq!(from_upn.as_deref(), Some("juergen.mueller@contoso.onmicrosoft.com"));
        let mut no_mail = user();
        no_mail.as_object_mut().unwrap().remove("mail");
        assert_eq!(
            mapped(no_mail).0.email,
            None,
            "no mail, no e-mail: the UPN is not guessed"
        );
    }

    #[test]
    fn disabled_or_past_leave_date_is_inactive_and_future_hire_is_onboarding() {
        let cases = [
            (json!({ "accountEnabled": false }), "inactive"),
            (json!({ "employeeLeaveDateTime": "2025-12-03T23:59:59Z" }), "inactive"),
            (json!({ "employeeLeaveDateTime": "2025-12-04T00:00:00Z" }), "inactive"),
            (json!({ "employeeLeaveDateTime": "2026-01-31T00:00:00Z" }), "active"),
            (json!({ "employeeHireDate": "2026-01-01T00:00:00Z" }), "onboarding"),
            (
                json!({ "employeeHireDate": "2026-01-01T00:00:00Z", "accountEnabled": false }),
                "inactive",
            ),
            (json!({ "employeeHireDate": "not a date" }), "active"),
        ];
        for (patch, expected) in cases {
            let mut value = user();
            for (key, v) in patch.as_object().unwrap() {
                value[key] = v.clone();
            }
            let (employee, _) = mapped(value);
            let status = format!("{:?}", employee.status)
                .to_lowercase()
                .rsplit("::")
                .next()
                .map(str::to_string);
            let status = status.unwrap_or_default();
            assert_eq!(status, expected, "{patch}");
        }
        let mut leaving = user();
        leaving["employeeLeaveDateTime"] = json!("2026-01-31T00:00:00Z");
        assert_eq!(mapped(leaving).0.termination_date.as_deref(), Some("2026-01-31"));
    }

    #[test]
    fn a_user_without_names_or_account_state_is_rejected_naming_the_property() {
        let mut no_given = user();
        no_given["givenName"] = json!("  ");
        let record = rejected(no_given);
        assert_eq!(record.hr_id.as_deref(), Some("8a7c2f1e-0000-4000-8000-000000000001"));
        assert!(record.reason.starts_with("no givenName"), "{}", record.reason);
        let mut no_surname = user();
        no_surname.as_object_mut().unwrap().remove("surname");
        assert!(rejected(no_surname).reason.starts_with("no surname"));
        let mut no_enabled = user();
        no_enabled.as_object_mut().unwrap().remove("accountEnabled");
        assert!(rejected(no_enabled).reason.contains("accountEnabled"));
        let mut wrong_type = user();
        wrong_type["jobTitle"] = json!(["not", "text"]);
        let record = rejected(wrong_type);
        assert!(record.reason.starts_with("unreadable user: "), "{}", record.reason);
        assert_eq!(record.hr_id.as_deref(), Some("8a7c2f1e-0000-4000-8000-000000000001"));
    }

    #[test]
    fn removed_entries_and_guests_are_told_apart_from_users() {
        let removed = json!({ "id": "gone", "@removed": { "reason": "deleted" } });
        assert!(matches!(entry(removed, EmailFrom::Mail, false, NOW), Entry::Removed(id) if id == "gone"));
        let mut guest = user();
        guest["userType"] = json!("Guest");
        assert!(matches!(
            entry(guest.clone(), EmailFrom::Mail, false, NOW),
            Entry::Guest
        ));
        assert!(matches!(entry(guest, EmailFrom::Mail, true, NOW), Entry::User { .. }));
        assert!(matches!(
            entry(json!("text"), EmailFrom::Mail, false, NOW),
            Entry::Rejected(RejectedRecord { hr_id: None, .. })
        ));
    }

    #[test]
    fn manager_delta_names_the_manager_or_its_removal_and_its_absence_is_unknown() {
        let mut changed = user();
        changed["manager@delta"] = json!([{ "id": "new-boss" }]);
        let (employee, known) = mapped(changed);
        assert_eq!(employee.supervisor.map(|s| s.hr_id).as_deref(), Some("new-boss"));
        assert!(known);

        let mut removed = user();
        removed["manager@delta"] = json!([{ "id": "old-boss", "@removed": { "reason": "deleted" } }]);
        let (employee, known) = mapped(removed);
        assert!(employee.supervisor.is_none());
        assert!(known, "a removed manager is known: none");

        let mut absent = user();
        absent.as_object_mut().unwrap().remove("manager@delta");
        let (employee, known) = mapped(absent);
        assert!(employee.supervisor.is_none());
        assert!(!known, "no annotation: looked up in later rounds");
    }

    #[test]
    fn ids_are_checked_before_they_go_into_urls() {
        for good in ["72f988bf-86f1-41af-91ab-2d7cd011db47", "contoso.onmicrosoft.com"] {
            assert!(check_id("tenant_id", good).is_ok(), "{good}");
        }
        for bad in ["", "../common", "a/b", "x?y=1", "tenant id", "ünïcode"] {
            match check_id("tenant_id", bad) {
                Err(PluginError::InvalidInput(invalid)) => assert_eq!(invalid.field, "tenant_id"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_cursor_keeps_the_delta_link_and_the_members_digest() {
        let members: HashSet<String> = ["b".to_string(), "a".to_string()].into();
        let same: HashSet<String> = ["a".to_string(), "b".to_string()].into();
        let other: HashSet<String> = ["a".to_string()].into();
        assert_eq!(digest(&members), digest(&same), "order does not matter");
        assert_ne!(digest(&members), digest(&other));
        let cursor = Cursor {
            delta: "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=x".into(),
            members: Some(digest(&members)),
        };
        let text = serde_json::to_string(&cursor).unwrap();
        assert_eq!(serde_json::from_str::<Cursor>(&text).unwrap(), cursor);
        let unscoped: Cursor = serde_json::from_str(r#"{"delta":"d"}"#).unwrap();
        assert_eq!(unscoped.members, None);
        assert!(serde_json::from_str::<Cursor>("2026-12-01T00:00:00Z").is_err());
    }

    #[test]
    fn config_needs_tenant_and_client_and_refuses_unknown_keys() {
        let config: Config =
            serde_json::from_value(json!({ "tenant_id": "t", "client_id": "c", "email_from": "userPrincipalName" }))
                .unwrap();
        assert_eq!(config.email_from, EmailFrom::UserPrincipalName);
        assert!(!config.include_guests);
        assert!(serde_json::from_value::<Config>(json!({ "tenant_id": "t" })).is_err());
        assert!(
            serde_json::from_value::<Config>(json!({ "tenant_id": "t", "client_id": "c", "tenant": "x" })).is_err()
        );
        assert!(
            serde_json::from_value::<Config>(json!({ "tenant_id": "t", "client_id": "c", "email_from": "upn" }))
                .is_err()
        );
    }

    #[test]
    fn error_details_come_from_graph_and_identity_platform_bodies() {
        let graph = Response {
            status: 410,
            headers: vec![],
            body: br#"{"error":{"code":"syncStateNotFound","message":"The sync state is no longer valid."}}"#.to_vec(),
        };
        assert_eq!(
            error_detail(&graph),
            "syncStateNotFound: The sync state is no longer valid."
        );
        assert!(round_expired(&graph));
        let resync = Response {
            status: 400,
            headers: vec![],
            body: br#"{"error":{"code":"resyncRequired","message":"Resync"}}"#.to_vec(),
        };
        assert!(round_expired(&resync));
        let identity = Response {
            status: 401,
            headers: vec![],
            body: br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nCorrelation ID: 2"}"#.to_vec(),
        };
        assert_eq!(
            error_detail(&identity),
            "AADSTS7000215: Invalid client secret provided. Trace ID: 1 Correlation ID: 2"
        );
        assert!(!round_expired(&Response {
            status: 404,
            headers: vec![],
            body: b"{}".to_vec()
        }));
    }
}
