//! SCIM 2.0 (RFC 7643/7644) as an hrsync target: users with the enterprise
//! extension (department, employee number, manager) and groups with members,
//! over a bearer token.
//!
//! - `list-accounts` / `list-teams`: `GET /Users` and `GET /Groups` with
//!   `startIndex` and `count`; the page token is the next `startIndex`.
//! - Create: `POST /Users`; a 409 is answered by looking the user up with
//!   `filter=userName eq "..."` and returning `conflict` with its id, so the
//!   host links the existing account instead of creating a duplicate.
//! - Updates, (re)activation, manager links, renames and memberships:
//!   `PATCH` with `Operations`.
//!
//! Presets: `generic` (any SCIM 2.0 app) and `leapsome` (Leapsome's SCIM
//! API: the same protocol; the base URL is the one Leapsome shows in its
//! SCIM settings, under `https://*.leapsome.com`).

use hrsync_sdk::http::{get_each, percent_encode, status_error, Request, Response};
use hrsync_sdk::{
    config, export_target, log, secret, Account, AccountDraft, AccountPage, Applied, Attribute, AttributeValue,
    Capabilities, Change, ManagerLink, Membership, PluginError, PluginInfo, Target, Team, TeamDraft, TeamPage,
    TeamRename,
};
use serde::Deserialize;
use serde_json::{json, Value};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// e.g. `https://app.example.com/scim/v2`
    base_url: String,
    #[serde(default)]
    preset: Preset,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Preset {
    #[default]
    Generic,
    Leapsome,
}

/// Account attributes this target understands: hrsync name → SCIM path.
const ATTRIBUTES: &[(&str, &str)] = &[
    ("title", "title"),
    ("display_name", "displayName"),
    ("nick_name", "nickName"),
    ("preferred_language", "preferredLanguage"),
    ("locale", "locale"),
    ("timezone", "timezone"),
    ("user_type", "userType"),
    (
        "department",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    ),
    (
        "employee_number",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    ),
    (
        "cost_center",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
    ),
    (
        "organization",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization",
    ),
    (
        "division",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division",
    ),
];

fn scim_path(field: &str) -> Result<&'static str, PluginError> {
    let core = match field {
        "first_name" => Some("name.givenName"),
        "last_name" => Some("name.familyName"),
        "user_name" => Some("userName"),
        "external_id" => Some("externalId"),
        "email" => Some("emails"),
        _ => None,
    };
    core.or_else(|| {
        ATTRIBUTES
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, path)| *path)
    })
    .ok_or_else(|| {
        let known: Vec<&str> = ATTRIBUTES.iter().map(|(n, _)| *n).collect();
        PluginError::invalid(
            field,
            format!(
                "this SCIM target has no attribute `{field}`; known: {}",
                known.join(", ")
            ),
        )
    })
}

struct Scim {
    base_url: String,
    token: String,
    _preset: Preset,
    /// What `/ServiceProviderConfig` says about `/Bulk`, once asked.
    bulk: Option<Option<BulkLimits>>,
}

#[derive(Clone, Copy)]
struct BulkLimits {
    max_operations: usize,
    max_payload_bytes: usize,
}

/// Values go out as JSON text, as the API stores them.
fn text(value: &AttributeValue) -> Value {
    Value::String(value.to_text())
}

/// Sets `path` (`a.b` or `urn:...:User:attr`) inside a JSON object.
fn put(object: &mut Value, path: &str, value: Value) {
    if let Some(attr) = path.strip_prefix(ENTERPRISE).and_then(|p| p.strip_prefix(':')) {
        object[ENTERPRISE][attr] = value;
        return;
    }
    match path.split_once('.') {
        Some((parent, child)) => object[parent][child] = value,
        None => object[path] = value,
    }
}

fn emails(email: &str) -> Value {
    json!([{ "value": email, "type": "work", "primary": true }])
}

/// The request one change (or a run of membership changes) becomes: sent
/// alone, or as one operation of a `/Bulk` request.
struct Operation {
    method: &'static str,
    path: String,
    data: Option<Value>,
    /// How many planned changes it covers.
    covers: usize,
    /// For a user create: the userName to look up on 409.
    creates_user: Option<String>,
}

impl Operation {
    fn patch(path: String, operations: Vec<Value>, covers: usize) -> Self {
        Self {
            method: "PATCH",
            path,
            data: Some(json!({ "schemas": [PATCH_OP], "Operations": operations })),
            covers,
            creates_user: None,
        }
    }
}

/// Either an operation to send or an outcome known without a request.
enum Step {
    Send(Operation),
    Done(Result<Applied, PluginError>),
}

fn user_resource(draft: &AccountDraft) -> Result<Value, PluginError> {
    let mut user = json!({
        "schemas": [USER, ENTERPRISE],
        "userName": draft.user_name,
        "externalId": draft.external_id,
        "name": { "givenName": draft.first_name, "familyName": draft.last_name },
        "active": true,
    });
    if let Some(email) = &draft.email {
        user["emails"] = emails(email);
    }
    for Attribute { name, value } in &draft.attributes {
        put(&mut user, scim_path(name)?, text(value));
    }
    Ok(user)
}

/// The step for one change.
fn step(change: Change) -> Step {
    let operation = match change {
        Change::CreateAccount(draft) => match user_resource(&draft) {
            Ok(user) => Operation {
                method: "POST",
                path: "/Users".into(),
                data: Some(user),
                covers: 1,
                creates_user: Some(draft.user_name),
            },
            Err(error) => return Step::Done(Err(error)),
        },
        Change::UpdateAccount(update) => {
            let mut operations = Vec::new();
            for change in update.changes {
                let path = match scim_path(&change.field) {
                    Ok(path) => path,
                    Err(error) => return Step::Done(Err(error)),
                };
                operations.push(match (&change.after, path) {
                    (None, path) => json!({ "op": "remove", "path": path }),
                    (Some(value), "emails") => {
                        json!({ "op": "replace", "path": "emails", "value": emails(text(value).as_str().unwrap_or_default()) })
                    }
                    (Some(value), path) => json!({ "op": "replace", "path": path, "value": text(value) }),
                });
            }
            if operations.is_empty() {
                return Step::Done(Ok(Applied { id: None }));
            }
            Operation::patch(format!("/Users/{}", update.id), operations, 1)
        }
        Change::DeactivateAccount(id) => Operation::patch(
            format!("/Users/{id}"),
            vec![json!({ "op": "replace", "path": "active", "value": false })],
            1,
        ),
        Change::ReactivateAccount(id) => Operation::patch(
            format!("/Users/{id}"),
            vec![json!({ "op": "replace", "path": "active", "value": true })],
            1,
        ),
        Change::Invite(_) => {
            return Step::Done(Err(PluginError::unsupported(
                "SCIM has no invitations; the app sends its own",
            )))
        }
        Change::CreateTeam(TeamDraft { name, external_id }) => {
            let mut group = json!({ "schemas": [GROUP], "displayName": name, "members": [] });
            if let Some(external_id) = external_id {
                group["externalId"] = json!(external_id);
            }
            Operation {
                method: "POST",
                path: "/Groups".into(),
                data: Some(group),
                covers: 1,
                creates_user: None,
            }
        }
        Change::RenameTeam(TeamRename { id, after, .. }) => Operation::patch(
            format!("/Groups/{id}"),
            vec![json!({ "op": "replace", "path": "displayName", "value": after })],
            1,
        ),
        Change::AddMember(Membership { team_id, account_id }) => Operation::patch(
            format!("/Groups/{team_id}"),
            membership_operations(true, &[account_id]),
            1,
        ),
        Change::RemoveMember(Membership { team_id, account_id }) => Operation::patch(
            format!("/Groups/{team_id}"),
            membership_operations(false, &[account_id]),
            1,
        ),
        Change::LinkManager(ManagerLink { account_id, manager_id }) => {
            let path = format!("{ENTERPRISE}:manager");
            let operation = match manager_id {
                Some(manager) => json!({ "op": "replace", "path": path, "value": { "value": manager } }),
                None => json!({ "op": "remove", "path": path }),
            };
            Operation::patch(format!("/Users/{account_id}"), vec![operation], 1)
        }
    };
    Step::Send(operation)
}

/// The steps for a batch: consecutive membership changes of one team
/// become one PATCH.
fn steps(changes: Vec<Change>) -> Vec<Step> {
    let mut steps = Vec::with_capacity(changes.len());
    let mut changes = changes.into_iter().peekable();
    while let Some(change) = changes.next() {
        let (adding, Membership { team_id, account_id }) = match change {
            Change::AddMember(m) => (true, m),
            Change::RemoveMember(m) => (false, m),
            other => {
                steps.push(step(other));
                continue;
            }
        };
        let mut members = vec![account_id];
        while let Some(next) = changes.peek() {
            let same = match next {
                Change::AddMember(m) => adding && m.team_id == team_id,
                Change::RemoveMember(m) => !adding && m.team_id == team_id,
                _ => false,
            };
            if !same {
                break;
            }
            if let Some(Change::AddMember(m) | Change::RemoveMember(m)) = changes.next() {
                members.push(m.account_id);
            }
        }
        let covers = members.len();
        steps.push(Step::Send(Operation::patch(
            format!("/Groups/{team_id}"),
            membership_operations(adding, &members),
            covers,
        )));
    }
    steps
}

/// A bulk answer's status: `"201"` as the RFC writes it, or a number.
fn bulk_status(answer: &Value) -> u16 {
    match &answer["status"] {
        Value::String(text) => text.trim().get(..3).and_then(|code| code.parse().ok()).unwrap_or(500),
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()).unwrap_or(500),
        _ => 500,
    }
}

impl Scim {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    fn send(&self, request: Request) -> Result<Response, PluginError> {
        request
            .bearer(&self.token)
            .header("accept", "application/scim+json")
            .send()
    }

    fn list<T: serde::de::DeserializeOwned>(
        &self,
        resource: &str,
        page: Option<String>,
        size: u32,
    ) -> Result<(Vec<T>, Option<String>), PluginError> {
        let start: u64 = match page {
            None => 1,
            Some(token) => token
                .parse()
                .map_err(|_| PluginError::invalid("page", format!("`{token}` is not a start index")))?,
        };
        let count = size.clamp(1, 1000);
        let body: ListResponse<T> = self
            .send(Request::get(
                &self.url(&format!("/{resource}?startIndex={start}&count={count}")),
            ))?
            .error_for_status()?
            .json()?;
        let (resources, total) = (body.resources, body.total_results);
        let got = resources.len() as u64;
        let next = (got > 0 && start - 1 + got < total).then(|| (start + got).to_string());
        Ok((resources, next))
    }

    fn find_user_id(&self, user_name: &str) -> Result<Option<String>, PluginError> {
        let filter = format!("userName eq \"{}\"", user_name.replace('"', "\\\""));
        let url = self.url(&format!("/Users?filter={}", percent_encode(&filter)));
        let body: Value = self.send(Request::get(&url))?.error_for_status()?.json()?;
        Ok(body["Resources"][0]["id"].as_str().map(str::to_string))
    }

    /// "User already exists": the existing id, for the host to link.
    fn conflict(&self, user_name: &str) -> PluginError {
        match self.find_user_id(user_name) {
            Ok(existing) => PluginError::conflict(format!("user {user_name} already exists"), existing),
            Err(error) => error,
        }
    }

    /// `/Bulk` limits, asked once per session; none when not offered.
    fn bulk_limits(&mut self) -> Option<BulkLimits> {
        if let Some(known) = self.bulk {
            return known;
        }
        let config: Option<Value> = self
            .send(Request::get(&self.url("/ServiceProviderConfig")))
            .and_then(Response::error_for_status)
            .and_then(|r| r.json())
            .ok();
        let limits = config.filter(|c| c["bulk"]["supported"] == true).map(|c| BulkLimits {
            max_operations: c["bulk"]["maxOperations"].as_u64().unwrap_or(100).clamp(1, 1000) as usize,
            max_payload_bytes: c["bulk"]["maxPayloadSize"].as_u64().unwrap_or(1 << 20).max(1024) as usize,
        });
        if limits.is_none() {
            log::debug("the SCIM service offers no /Bulk: one request per change");
        }
        self.bulk = Some(limits);
        limits
    }

    /// Sends one operation on its own.
    fn send_one(&self, operation: &Operation) -> Result<Applied, PluginError> {
        let url = self.url(&operation.path);
        let request = match operation.method {
            "POST" => Request::post(&url),
            "PATCH" => Request::patch(&url),
            _ => Request::delete(&url),
        };
        let request = match &operation.data {
            Some(data) => request.json(data)?,
            None => request,
        };
        let response = self.send(request)?;
        if let (409, Some(user_name)) = (response.status, &operation.creates_user) {
            return Err(self.conflict(user_name));
        }
        let response = response.error_for_status()?;
        if operation.method != "POST" {
            return Ok(Applied { id: None });
        }
        let created: Value = response.json()?;
        let id = created["id"]
            .as_str()
            .ok_or_else(|| PluginError::fatal(format!("POST {} answered without an id", operation.path)))?;
        Ok(Applied {
            id: Some(id.to_string()),
        })
    }

    /// Sends operations as `/Bulk` requests within the service's limits;
    /// one outcome per operation, in order.
    fn send_bulk(&self, operations: &[&Operation], limits: BulkLimits) -> Vec<Result<Applied, PluginError>> {
        let mut outcomes = Vec::with_capacity(operations.len());
        let mut start = 0;
        while start < operations.len() {
            let mut body_ops = Vec::new();
            let mut size = 200;
            let mut end = start;
            while end < operations.len() && body_ops.len() < limits.max_operations {
                let operation = operations[end];
                let mut op = json!({ "method": operation.method, "path": operation.path, "bulkId": end.to_string() });
                if let Some(data) = &operation.data {
                    op["data"] = data.clone();
                }
                let op_size = op.to_string().len() + 1;
                if !body_ops.is_empty() && size + op_size > limits.max_payload_bytes {
                    break;
                }
                size += op_size;
                body_ops.push(op);
                end += 1;
            }
            let body = json!({ "schemas": [BULK_REQUEST], "Operations": body_ops });
            let answers = Request::post(&self.url("/Bulk"))
                .json(&body)
                .and_then(|request| self.send(request))
                .and_then(Response::error_for_status)
                .and_then(|response| response.json::<Value>());
            match answers {
                Err(error) => outcomes.extend(std::iter::repeat_n(Err(error), end - start)),
                Ok(answers) => {
                    let answers = answers["Operations"].as_array().cloned().unwrap_or_default();
                    for (index, operation) in operations.iter().enumerate().take(end).skip(start) {
                        let answer = answers
                            .iter()
                            .find(|a| a["bulkId"].as_str() == Some(index.to_string().as_str()))
                            .or_else(|| answers.get(index - start).filter(|a| a.get("bulkId").is_none()));
                        outcomes.push(self.bulk_outcome(operation, answer));
                    }
                }
            }
            start = end;
        }
        outcomes
    }

    fn bulk_outcome(&self, operation: &Operation, answer: Option<&Value>) -> Result<Applied, PluginError> {
        let Some(answer) = answer else {
            return Err(PluginError::retryable(
                "the bulk response left this operation out",
                None,
            ));
        };
        let status = bulk_status(answer);
        if (200..300).contains(&status) {
            let id = (operation.method == "POST")
                .then(|| {
                    answer["response"]["id"].as_str().map(str::to_string).or_else(|| {
                        answer["location"]
                            .as_str()
                            .and_then(|l| l.rsplit('/').next())
                            .map(str::to_string)
                    })
                })
                .flatten();
            return Ok(Applied { id });
        }
        if let (409, Some(user_name)) = (status, &operation.creates_user) {
            return Err(self.conflict(user_name));
        }
        let detail = answer["response"]["detail"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| answer["response"].to_string());
        Err(status_error(status, &detail, None))
    }
}

#[derive(Deserialize)]
struct ListResponse<T> {
    #[serde(rename = "totalResults", default)]
    total_results: u64,
    #[serde(rename = "Resources", default = "Vec::new")]
    resources: Vec<T>,
}

/// A JSON string, or nothing for any other value: one odd attribute does
/// not make a whole page unreadable.
#[derive(Default)]
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Text(match Value::deserialize(deserializer)? {
            Value::String(text) => Some(text),
            _ => None,
        }))
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ScimName {
    #[serde(rename = "givenName")]
    given_name: Text,
    #[serde(rename = "familyName")]
    family_name: Text,
}

#[derive(Deserialize)]
struct ScimEmail {
    #[serde(default)]
    value: Text,
    #[serde(default)]
    primary: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ScimManager {
    value: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EnterpriseUser {
    department: Text,
    #[serde(rename = "employeeNumber")]
    employee_number: Text,
    #[serde(rename = "costCenter")]
    cost_center: Text,
    organization: Text,
    division: Text,
    manager: Option<ScimManager>,
}

/// The parts of a SCIM User this target reads.
#[derive(Deserialize)]
struct ScimUser {
    id: Option<String>,
    #[serde(rename = "externalId", default)]
    external_id: Text,
    #[serde(rename = "userName", default)]
    user_name: Text,
    #[serde(default)]
    emails: Option<Vec<ScimEmail>>,
    #[serde(default)]
    name: Option<ScimName>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    title: Text,
    #[serde(rename = "displayName", default)]
    display_name: Text,
    #[serde(rename = "nickName", default)]
    nick_name: Text,
    #[serde(rename = "preferredLanguage", default)]
    preferred_language: Text,
    #[serde(default)]
    locale: Text,
    #[serde(default)]
    timezone: Text,
    #[serde(rename = "userType", default)]
    user_type: Text,
    #[serde(rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", default)]
    enterprise: Option<EnterpriseUser>,
}

fn account(user: ScimUser) -> Option<Account> {
    let email = user.emails.and_then(|list| {
        let primary = list.iter().position(|e| e.primary == Some(true)).unwrap_or(0);
        list.into_iter().nth(primary).and_then(|e| e.value.0)
    });
    let enterprise = user.enterprise.unwrap_or_default();
    let name = user.name.unwrap_or_default();
    // In the order of ATTRIBUTES.
    let values = [
        ("title", user.title),
        ("display_name", user.display_name),
        ("nick_name", user.nick_name),
        ("preferred_language", user.preferred_language),
        ("locale", user.locale),
        ("timezone", user.timezone),
        ("user_type", user.user_type),
        ("department", enterprise.department),
        ("employee_number", enterprise.employee_number),
        ("cost_center", enterprise.cost_center),
        ("organization", enterprise.organization),
        ("division", enterprise.division),
    ];
    let attributes = values
        .into_iter()
        .filter_map(|(name, text)| {
            Some(Attribute {
                name: name.to_string(),
                value: AttributeValue::Text(text.0.filter(|t| !t.is_empty())?),
            })
        })
        .collect();
    Some(Account {
        id: user.id?,
        external_id: user.external_id.0,
        user_name: user.user_name.0.unwrap_or_default(),
        email,
        first_name: name.given_name.0,
        last_name: name.family_name.0,
        active: user.active.unwrap_or(true),
        attributes,
        manager_id: enterprise.manager.and_then(|m| m.value.0),
    })
}

/// One `add` with every member, or one `remove` per member.
fn membership_operations(adding: bool, members: &[String]) -> Vec<Value> {
    if adding {
        let values: Vec<Value> = members.iter().map(|id| json!({ "value": id })).collect();
        vec![json!({ "op": "add", "path": "members", "value": values })]
    } else {
        members
            .iter()
            .map(|id| json!({ "op": "remove", "path": format!("members[value eq \"{id}\"]") }))
            .collect()
    }
}

fn team(group: &Value) -> Option<Team> {
    Some(Team {
        id: group["id"].as_str()?.to_string(),
        name: group["displayName"].as_str().unwrap_or_default().to_string(),
        external_id: group["externalId"].as_str().map(str::to_string),
        member_ids: group["members"]
            .as_array()
            .map(|members| {
                members
                    .iter()
                    .filter_map(|m| m["value"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

impl Target for Scim {
    fn info() -> PluginInfo {
        PluginInfo::new("scim", env!("CARGO_PKG_VERSION"))
            .description("SCIM 2.0 users (with the enterprise extension) and groups; presets: generic, leapsome")
            .config_schema(json!({
                "type": "object",
                "required": ["base_url"],
                "additionalProperties": false,
                "properties": {
                    "base_url": { "type": "string", "description": "the SCIM base URL, e.g. https://app.example.com/scim/v2" },
                    "preset": { "enum": ["generic", "leapsome"] }
                }
            }))
            .secret("token", "SCIM bearer token", true)
            .host("https://*.leapsome.com")
    }

    fn capabilities() -> Capabilities {
        Capabilities {
            teams: true,
            managers: true,
            invites: false,
            reactivation: true,
            // A batch is one /Bulk request where the service offers it, and
            // a team's consecutive membership changes are one PATCH.
            max_batch: 500,
            matching_attributes: vec!["user-name".into(), "email".into(), "external-id".into()],
        }
    }

    fn new() -> Result<Self, PluginError> {
        let config: Config = config()?;
        Ok(Self {
            base_url: config.base_url,
            token: secret("token")?,
            _preset: config.preset,
            bulk: None,
        })
    }

    fn list_accounts(&mut self, page: Option<String>, page_size: u32) -> Result<AccountPage, PluginError> {
        let (users, next_page) = self.list("Users", page, page_size)?;
        Ok(AccountPage {
            accounts: users.into_iter().filter_map(account).collect(),
            next_page,
        })
    }

    /// One `GET /Users/{id}` each: incremental runs fetch only the
    /// accounts of the employees that changed.
    fn get_accounts(&mut self, ids: Vec<String>) -> Result<Vec<Account>, PluginError> {
        let users: Vec<ScimUser> = get_each(&ids, |id| {
            self.send(Request::get(&self.url(&format!("/Users/{}", percent_encode(id)))))
        })?;
        Ok(users.into_iter().filter_map(account).collect())
    }

    fn list_teams(&mut self, page: Option<String>, page_size: u32) -> Result<TeamPage, PluginError> {
        let (groups, next_page) = self.list::<Value>("Groups", page, page_size)?;
        Ok(TeamPage {
            teams: groups.iter().filter_map(team).collect(),
            next_page,
        })
    }

    /// One `/Bulk` request for the whole batch when the service offers
    /// it (RFC 7644 §3.7); otherwise one request per change. Either way a
    /// team's consecutive membership changes are one PATCH.
    fn apply_batch(&mut self, changes: Vec<Change>) -> Vec<Result<Applied, PluginError>> {
        let steps = steps(changes);
        let to_send: Vec<&Operation> = steps
            .iter()
            .filter_map(|step| match step {
                Step::Send(operation) => Some(operation),
                Step::Done(_) => None,
            })
            .collect();
        let bulk = if to_send.len() > 1 { self.bulk_limits() } else { None };
        let mut sent = match bulk {
            Some(limits) => self.send_bulk(&to_send, limits),
            None => to_send.iter().map(|operation| self.send_one(operation)).collect(),
        }
        .into_iter();
        let mut outcomes = Vec::new();
        for step in &steps {
            match step {
                Step::Done(outcome) => outcomes.push(outcome.clone()),
                Step::Send(operation) => {
                    let outcome = sent
                        .next()
                        .unwrap_or_else(|| Err(PluginError::fatal("an operation was not sent")));
                    outcomes.extend(std::iter::repeat_n(outcome, operation.covers));
                }
            }
        }
        outcomes
    }

    fn apply(&mut self, change: Change) -> Result<Applied, PluginError> {
        match step(change) {
            Step::Done(outcome) => outcome,
            Step::Send(operation) => self.send_one(&operation),
        }
    }
}

export_target!(Scim);
