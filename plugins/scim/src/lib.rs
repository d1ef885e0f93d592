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
//! Account attributes go to SCIM paths: the built-in ones (`title`,
//! `department`, ... in [`ATTRIBUTES`]), and those the config's
//! `attributes` names — core (`name.middleName`), the enterprise extension
//! or an extension schema of the app (`urn:…:User:hireDate`, named in
//! `schemas` on create). They are read back from the same paths, so an
//! unchanged value is not written again.
//!
//! Presets: `generic` (any SCIM 2.0 app) and `leapsome`, which adds
//! Leapsome's enterprise attributes (`hire_date` → `startDate`,
//! `termination_date` → `endDate`, `gender`, `office` → `location`,
//! `level`; from Leapsome's SCIM OpenAPI document 1.1.3) and speaks its
//! dialect of the protocol: partial-object PATCHes, memberships read from
//! users, no `/Bulk` (leapsome.rs).

use hrsync_sdk::http::{get_each, percent_encode, status_error, Request, Response};
use hrsync_sdk::{
    config, export_target, log, secret, Account, AccountDraft, AccountPage, Applied, Attribute, AttributeValue,
    Capabilities, Change, ManagerLink, Membership, PluginError, PluginInfo, Target, Team, TeamDraft, TeamPage,
    TeamRename,
};
use serde::Deserialize;
use serde_json::{json, Value};

mod leapsome;

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
    /// Account attribute → SCIM path, beside (or instead of) the built-in
    /// ones: a core attribute (`title`, `name.middleName`), one of the
    /// enterprise extension (`urn:…:enterprise:2.0:User:costCenter`) or of
    /// any extension schema the app defines (`urn:…:User:hireDate`).
    #[serde(default)]
    attributes: std::collections::BTreeMap<String, String>,
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

/// The SCIM path of each account attribute this target can set, each name
/// once: a configured path wins over the preset's, which wins over the
/// built-in one.
#[derive(Debug, Clone)]
struct Paths(Vec<(String, String)>);

impl Default for Paths {
    fn default() -> Self {
        Self(ATTRIBUTES.iter().map(|(n, p)| (n.to_string(), p.to_string())).collect())
    }
}

/// Leapsome's attributes beyond SCIM's own, all in the enterprise extension
/// of its SCIM API (its OpenAPI document, version 1.1.3: `startDate`,
/// `endDate`, `gender`, `location`, `level`, dates as `YYYY-MM-DD`).
const LEAPSOME_ATTRIBUTES: &[(&str, &str)] = &[
    ("hire_date", "startDate"),
    ("termination_date", "endDate"),
    ("gender", "gender"),
    ("office", "location"),
    ("level", "level"),
];

impl Paths {
    /// The table for a config; a name or path that cannot be one is refused
    /// naming `attributes.<name>`.
    fn new(preset: Preset, configured: &std::collections::BTreeMap<String, String>) -> Result<Self, PluginError> {
        let mut paths = Vec::new();
        for (name, path) in configured {
            let field = format!("attributes.{name}");
            let good_name = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !good_name {
                return Err(PluginError::invalid(
                    field,
                    "an account attribute name is lower case letters, digits and `_` (as rules set it)",
                ));
            }
            if core_path(name).is_some() {
                return Err(PluginError::invalid(
                    field,
                    format!("`{name}` is a core field of every account; its SCIM path is fixed"),
                ));
            }
            check_path(path).map_err(|message| PluginError::invalid(field, message))?;
            paths.push((name.clone(), path.clone()));
        }
        if preset == Preset::Leapsome {
            for (name, attribute) in LEAPSOME_ATTRIBUTES {
                if !configured.contains_key(*name) {
                    paths.push((name.to_string(), format!("{ENTERPRISE}:{attribute}")));
                }
            }
        }
        for (name, path) in Self::default().0 {
            if !paths.iter().any(|(known, _)| *known == name) {
                paths.push((name, path));
            }
        }
        Ok(Self(paths))
    }

    /// The SCIM path of an account field or attribute.
    fn of(&self, field: &str) -> Result<&str, PluginError> {
        if let Some(core) = core_path(field) {
            return Ok(core);
        }
        self.0
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, path)| path.as_str())
            .ok_or_else(|| {
                PluginError::invalid(
                    field,
                    format!(
                        "this SCIM target has no attribute `{field}`; known: {} (more with the config's `attributes`)",
                        self.names().join(", ")
                    ),
                )
            })
    }

    /// Every attribute name, in order.
    fn names(&self) -> Vec<String> {
        self.0.iter().map(|(name, _)| name.clone()).collect()
    }
}

/// The fixed SCIM path of a core field of every account.
fn core_path(field: &str) -> Option<&'static str> {
    match field {
        "first_name" => Some("name.givenName"),
        "last_name" => Some("name.familyName"),
        "user_name" => Some("userName"),
        "external_id" => Some("externalId"),
        "email" => Some("emails"),
        _ => None,
    }
}

/// A path of RFC 7644 §3.10 without filters: `attr`, `attr.sub`, or a
/// schema URN followed by `:attr` or `:attr.sub`.
fn check_path(path: &str) -> Result<(), String> {
    let (urn, attribute) = split_path(path);
    // RFC 7643 names start with a letter; Leapsome's custom attributes in
    // its extension are ids like `6140868326541a4da586db0b`.
    let first_ok = |c: char| c.is_ascii_alphabetic() || (urn.is_some() && c.is_ascii_digit());
    let name_ok = |part: &str| {
        part.chars().next().is_some_and(first_ok)
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    let parts: Vec<&str> = attribute.split('.').collect();
    let ok = (1..=2).contains(&parts.len()) && parts.iter().all(|p| name_ok(p));
    let urn_ok = match urn {
        Some(urn) => urn.starts_with("urn:") && !urn.contains(char::is_whitespace),
        None => !path.starts_with("urn:"),
    };
    if ok && urn_ok {
        Ok(())
    } else {
        Err(format!(
            "`{path}` is not a SCIM attribute path: write `title`, `name.middleName` or \
             `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter`"
        ))
    }
}

/// A path's schema URN (for extension attributes) and its attribute
/// (`attr` or `attr.sub`).
fn split_path(path: &str) -> (Option<&str>, &str) {
    match path.strip_prefix("urn:").and_then(|_| path.rsplit_once(':')) {
        Some((urn, attribute)) => (Some(urn), attribute),
        None => (None, path),
    }
}

struct Scim {
    base_url: String,
    token: String,
    paths: Paths,
    /// What `/ServiceProviderConfig` says about `/Bulk`, once asked.
    bulk: Option<Option<BulkLimits>>,
    /// Set when the app speaks Leapsome's dialect (the `leapsome` preset).
    leapsome: Option<leapsome::Session>,
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

/// Sets `path` (`a.b`, `urn:...:User:attr` or `urn:...:User:attr.sub`)
/// inside a JSON object; an extension's schema joins `schemas`.
fn put(object: &mut Value, path: &str, value: Value) {
    let (urn, attribute) = split_path(path);
    let target = match urn {
        Some(urn) => {
            if let Some(schemas) = object.get_mut("schemas").and_then(Value::as_array_mut) {
                if !schemas.iter().any(|s| s == urn) {
                    schemas.push(json!(urn));
                }
            }
            &mut object[urn]
        }
        None => object,
    };
    match attribute.split_once('.') {
        Some((parent, child)) => target[parent][child] = value,
        None => target[attribute] = value,
    }
}

/// The value at `path` inside a JSON object, as `put` places it.
fn get<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let (urn, attribute) = split_path(path);
    let base = match urn {
        Some(urn) => object.get(urn)?,
        None => object,
    };
    match attribute.split_once('.') {
        Some((parent, child)) => base.get(parent)?.get(child),
        None => base.get(attribute),
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

fn user_resource(paths: &Paths, draft: &AccountDraft) -> Result<Value, PluginError> {
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
        put(&mut user, paths.of(name)?, text(value));
    }
    Ok(user)
}

/// The step for one change.
fn step(paths: &Paths, change: Change) -> Step {
    let operation = match change {
        Change::CreateAccount(draft) => match user_resource(paths, &draft) {
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
                let path = match paths.of(&change.field) {
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

/// A batch as the requests see it: consecutive membership changes of one
/// team are one unit (one PATCH), every other change is its own.
enum Unit {
    One(Change),
    Members {
        adding: bool,
        team_id: String,
        account_ids: Vec<String>,
    },
}

impl Unit {
    /// How many planned changes it covers.
    fn covers(&self) -> usize {
        match self {
            Unit::One(_) => 1,
            Unit::Members { account_ids, .. } => account_ids.len(),
        }
    }
}

fn units(changes: Vec<Change>) -> Vec<Unit> {
    let mut units = Vec::with_capacity(changes.len());
    let mut changes = changes.into_iter().peekable();
    while let Some(change) = changes.next() {
        let (adding, Membership { team_id, account_id }) = match change {
            Change::AddMember(m) => (true, m),
            Change::RemoveMember(m) => (false, m),
            other => {
                units.push(Unit::One(other));
                continue;
            }
        };
        let mut account_ids = vec![account_id];
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
                account_ids.push(m.account_id);
            }
        }
        units.push(Unit::Members {
            adding,
            team_id,
            account_ids,
        });
    }
    units
}

/// The steps for a batch: consecutive membership changes of one team
/// become one PATCH.
fn steps(paths: &Paths, changes: Vec<Change>) -> Vec<Step> {
    units(changes)
        .into_iter()
        .map(|unit| match unit {
            Unit::One(change) => step(paths, change),
            Unit::Members {
                adding,
                team_id,
                account_ids,
            } => Step::Send(Operation::patch(
                format!("/Groups/{team_id}"),
                membership_operations(adding, &account_ids),
                account_ids.len(),
            )),
        })
        .collect()
}

/// The SCIM filter that finds a user by `userName`: the name is a string in
/// the filter grammar of RFC 7644 (JSON string rules), so backslashes are escaped before quotes — a
/// user name cannot end the string and add a clause of its own.
fn user_name_filter(user_name: &str) -> String {
    format!(
        "userName eq \"{}\"",
        user_name.replace('\\', "\\\\").replace('"', "\\\"")
    )
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
        let url = self.url(&format!(
            "/Users?filter={}",
            percent_encode(&user_name_filter(user_name))
        ));
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
    /// Leapsome reads it back as `managerId`.
    #[serde(alias = "managerId")]
    value: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EnterpriseUser {
    manager: Option<ScimManager>,
}

/// The core parts of a SCIM User this target reads; attributes are read
/// by their paths ([`Paths`]).
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
    #[serde(rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", default)]
    enterprise: Option<EnterpriseUser>,
    /// Leapsome also shows the manager outside the extension.
    #[serde(default)]
    manager: Option<ScimManager>,
}

/// An attribute's value as text: strings as they are, numbers and booleans
/// written out; anything else (objects, lists) is not an attribute value.
fn attribute_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn account(paths: &Paths, resource: Value) -> Option<Account> {
    let attributes = paths
        .0
        .iter()
        .filter_map(|(name, path)| {
            Some(Attribute {
                name: name.clone(),
                value: AttributeValue::Text(attribute_text(get(&resource, path)?)?),
            })
        })
        .collect();
    let user: ScimUser = serde_json::from_value(resource).ok()?;
    let email = user.emails.and_then(|list| {
        let primary = list.iter().position(|e| e.primary == Some(true)).unwrap_or(0);
        list.into_iter().nth(primary).and_then(|e| e.value.0)
    });
    let enterprise = user.enterprise.unwrap_or_default();
    let name = user.name.unwrap_or_default();
    Some(Account {
        id: user.id?,
        external_id: user.external_id.0,
        user_name: user.user_name.0.unwrap_or_default(),
        email,
        first_name: name.given_name.0,
        last_name: name.family_name.0,
        active: user.active.unwrap_or(true),
        attributes,
        manager_id: enterprise
            .manager
            .and_then(|m| m.value.0)
            .or_else(|| user.manager.and_then(|m| m.value.0)),
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
                    "preset": { "enum": ["generic", "leapsome"], "description": "leapsome: Leapsome's SCIM API (https://api.leapsome.com/scim/v1) — its attributes hire_date, termination_date, gender, office and level, and its dialect of the protocol" },
                    "attributes": {
                        "type": "object",
                        "description": "account attribute → SCIM path: title, name.middleName, or urn:…:User:attr for the enterprise extension or any extension schema of the app",
                        "additionalProperties": { "type": "string" }
                    }
                }
            }))
            .secret("token", "SCIM bearer token", true)
            .host("https://*.leapsome.com")
    }

    /// The built-in attributes, the preset's and the configured ones.
    fn accepted_attributes() -> Option<Vec<String>> {
        // A config in error names no attributes here: opening the target
        // reports what is wrong with it.
        let config = config::<Config>().ok()?;
        Some(Paths::new(config.preset, &config.attributes).ok()?.names())
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
            paths: Paths::new(config.preset, &config.attributes)?,
            bulk: None,
            leapsome: (config.preset == Preset::Leapsome).then(leapsome::Session::default),
        })
    }

    fn list_accounts(&mut self, page: Option<String>, page_size: u32) -> Result<AccountPage, PluginError> {
        let first = page.is_none();
        let (users, next_page) = self.list::<Value>("Users", page, page_size)?;
        if let Some(session) = self.leapsome.as_mut() {
            session.saw_users(&users, first, next_page.is_none());
        }
        Ok(AccountPage {
            accounts: users
                .into_iter()
                .filter_map(|user| account(&self.paths, user))
                .collect(),
            next_page,
        })
    }

    /// One `GET /Users/{id}` each: incremental runs fetch only the
    /// accounts of the employees that changed.
    fn get_accounts(&mut self, ids: Vec<String>) -> Result<Vec<Account>, PluginError> {
        let users: Vec<Value> = get_each(&ids, |id| {
            self.send(Request::get(&self.url(&format!("/Users/{}", percent_encode(id)))))
        })?;
        if let Some(session) = self.leapsome.as_mut() {
            session.saw_users(&users, false, false);
        }
        Ok(users
            .into_iter()
            .filter_map(|user| account(&self.paths, user))
            .collect())
    }

    /// Leapsome's groups come without members: they are taken from the
    /// users' `groups`.
    fn list_teams(&mut self, page: Option<String>, page_size: u32) -> Result<TeamPage, PluginError> {
        if self.leapsome.is_some() {
            self.know_members()?;
        }
        let (groups, next_page) = self.list::<Value>("Groups", page, page_size)?;
        let mut teams: Vec<Team> = groups.iter().filter_map(team).collect();
        if let Some(session) = &self.leapsome {
            for team in &mut teams {
                team.member_ids = session.members_of(&team.id);
            }
        }
        Ok(TeamPage { teams, next_page })
    }

    /// One `/Bulk` request for the whole batch when the service offers
    /// it (RFC 7644 §3.7); otherwise one request per change. Either way a
    /// team's consecutive membership changes are one PATCH.
    fn apply_batch(&mut self, changes: Vec<Change>) -> Vec<Result<Applied, PluginError>> {
        if self.leapsome.is_some() {
            return self.leapsome_apply_batch(changes);
        }
        let steps = steps(&self.paths, changes);
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
        if self.leapsome.is_some() {
            return self.leapsome_apply(Unit::One(change));
        }
        match step(&self.paths, change) {
            Step::Done(outcome) => outcome,
            Step::Send(operation) => self.send_one(&operation),
        }
    }
}

export_target!(Scim);

#[cfg(test)]
mod tests {
    use super::*;
    use hrsync_sdk::{AccountUpdate, FieldChange};

    // The built-in attribute table, as a config without `attributes` has.
    fn step(change: Change) -> Step {
        super::step(&Paths::default(), change)
    }

    fn steps(changes: Vec<Change>) -> Vec<Step> {
        super::steps(&Paths::default(), changes)
    }

    fn user_resource(draft: &AccountDraft) -> Result<Value, PluginError> {
        super::user_resource(&Paths::default(), draft)
    }

    fn scim_path(field: &str) -> Result<String, PluginError> {
        Paths::default().of(field).map(str::to_string)
    }

    fn draft(attributes: Vec<(&str, &str)>) -> AccountDraft {
        AccountDraft {
            external_id: "hr-42".into(),
            user_name: "juergen.mueller@example.com".into(),
            email: Some("juergen.mueller@example.com".into()),
            first_name: "Jürgen".into(),
            last_name: "Müller".into(),
            attributes: attributes
                .into_iter()
                .map(|(name, value)| Attribute {
                    name: name.into(),
                    value: AttributeValue::Text(value.into()),
                })
                .collect(),
            invite: false,
        }
    }

    fn sent(step: Step) -> Operation {
        match step {
            Step::Send(operation) => operation,
            Step::Done(outcome) => panic!("expected a request, got {outcome:?}"),
        }
    }

    fn done(step: Step) -> Result<Applied, PluginError> {
        match step {
            Step::Done(outcome) => outcome,
            Step::Send(operation) => panic!("expected no request, got {} {}", operation.method, operation.path),
        }
    }

    fn invalid(error: PluginError) -> (String, String) {
        match error {
            PluginError::InvalidInput(invalid) => (invalid.field, invalid.message),
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    fn update(id: &str, changes: Vec<(&str, Option<AttributeValue>)>) -> Change {
        Change::UpdateAccount(AccountUpdate {
            id: id.into(),
            changes: changes
                .into_iter()
                .map(|(field, after)| FieldChange {
                    field: field.into(),
                    before: None,
                    after,
                })
                .collect(),
        })
    }

    fn member(team: &str, account: &str) -> Membership {
        Membership {
            team_id: team.into(),
            account_id: account.into(),
        }
    }

    fn user(value: Value) -> Option<Account> {
        account(&Paths::default(), value)
    }

    fn attribute<'a>(account: &'a Account, name: &str) -> Option<&'a str> {
        account
            .attributes
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| match &a.value {
                AttributeValue::Text(text) => Some(text.as_str()),
                _ => None,
            })
    }

    #[test]
    fn user_name_filter_quotes_the_user_name_and_escapes_backslashes_and_quotes() {
        assert_eq!(
            user_name_filter("anna@example.com"),
            r#"userName eq "anna@example.com""#
        );
        assert_eq!(user_name_filter(r#"o"brien"#), r#"userName eq "o\"brien""#);
        assert_eq!(user_name_filter(r#""""#), r#"userName eq "\"\"""#);
        assert_eq!(user_name_filter("jürgen müller"), r#"userName eq "jürgen müller""#);
        assert_eq!(user_name_filter(""), r#"userName eq """#);
        // A trailing backslash cannot escape the closing quote, and a name
        // made to close the string and add `or userName pr` stays one string.
        assert_eq!(user_name_filter(r"a\"), r#"userName eq "a\\""#);
        assert_eq!(
            user_name_filter(r#"x\" or userName pr or userName eq ""#),
            r#"userName eq "x\\\" or userName pr or userName eq \"""#
        );
    }

    #[test]
    fn scim_path_maps_core_fields_and_enterprise_attributes() {
        for (field, path) in [
            ("first_name", "name.givenName"),
            ("last_name", "name.familyName"),
            ("user_name", "userName"),
            ("external_id", "externalId"),
            ("email", "emails"),
            ("title", "title"),
            ("display_name", "displayName"),
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
        ] {
            assert_eq!(scim_path(field).ok().as_deref(), Some(path), "field {field}");
        }
    }

    #[test]
    fn an_unknown_attribute_is_invalid_input_naming_it_and_the_known_ones() {
        let (field, message) = invalid(scim_path("Department").expect_err("unknown"));
        assert_eq!(field, "Department");
        assert!(message.starts_with("this SCIM target has no attribute `Department`; known: title, display_name"));
        assert!(
            message.ends_with("organization, division (more with the config's `attributes`)"),
            "{message}"
        );
    }

    #[test]
    fn put_sets_nested_and_enterprise_paths() {
        let mut object = json!({ "name": { "givenName": "A" } });
        put(&mut object, "name.familyName", json!("Öz"));
        put(&mut object, "title", json!("CTO"));
        put(&mut object, &format!("{ENTERPRISE}:department"), json!("Vertrieb"));
        assert_eq!(
            object,
            json!({
                "name": { "givenName": "A", "familyName": "Öz" },
                "title": "CTO",
                ENTERPRISE: { "department": "Vertrieb" },
            })
        );
    }

    #[test]
    fn a_new_account_becomes_a_scim_user_with_enterprise_attributes() {
        let operation = sent(step(Change::CreateAccount(draft(vec![
            ("title", "Leiterin \"Einkauf\""),
            ("department", "Vertrieb Süd"),
            ("employee_number", "0815"),
        ]))));
        assert_eq!(operation.method, "POST");
        assert_eq!(operation.path, "/Users");
        assert_eq!(operation.covers, 1);
        assert_eq!(operation.creates_user.as_deref(), Some("juergen.mueller@example.com"));
        assert_eq!(
            operation.data.expect("a body"),
            json!({
                "schemas": [USER, ENTERPRISE],
                "userName": "juergen.mueller@example.com",
                "externalId": "hr-42",
                "name": { "givenName": "Jürgen", "familyName": "Müller" },
                "active": true,
                "emails": [{ "value": "juergen.mueller@example.com", "type": "work", "primary": true }],
                "title": "Leiterin \"Einkauf\"",
                ENTERPRISE: { "department": "Vertrieb Süd", "employeeNumber": "0815" },
            })
        );
    }

    #[test]
    fn a_new_account_without_email_has_no_emails_and_typed_values_go_out_as_text() {
        let mut draft = draft(vec![]);
        draft.email = None;
        draft.attributes = vec![
            Attribute {
                name: "employee_number".into(),
                value: AttributeValue::Integer(4711),
            },
            Attribute {
                name: "user_type".into(),
                value: AttributeValue::Boolean(true),
            },
            Attribute {
                name: "nick_name".into(),
                value: AttributeValue::TextList(vec!["a".into(), "b".into()]),
            },
        ];
        let user = user_resource(&draft).expect("a user");
        assert!(user.get("emails").is_none());
        assert_eq!(user[ENTERPRISE]["employeeNumber"], json!("4711"));
        assert_eq!(user["userType"], json!("true"));
        assert_eq!(user["nickName"], json!("a, b"));
    }

    #[test]
    fn a_new_account_with_an_unknown_attribute_fails_without_a_request() {
        let outcome = done(step(Change::CreateAccount(draft(vec![("shoe_size", "44")]))));
        let (field, _) = invalid(outcome.expect_err("refused"));
        assert_eq!(field, "shoe_size");
    }

    #[test]
    fn an_update_replaces_changed_fields_and_removes_cleared_ones() {
        let operation = sent(step(update(
            "u-1",
            vec![
                ("title", Some(AttributeValue::Text("CTO".into()))),
                ("department", None),
                ("email", Some(AttributeValue::Text("neu@example.com".into()))),
                ("first_name", Some(AttributeValue::Text("Zoë".into()))),
            ],
        )));
        assert_eq!(
            (operation.method, operation.path.as_str(), operation.covers),
            ("PATCH", "/Users/u-1", 1)
        );
        assert_eq!(
            operation.data.expect("a body"),
            json!({ "schemas": [PATCH_OP], "Operations": [
                { "op": "replace", "path": "title", "value": "CTO" },
                { "op": "remove", "path": format!("{ENTERPRISE}:department") },
                { "op": "replace", "path": "emails", "value": [{ "value": "neu@example.com", "type": "work", "primary": true }] },
                { "op": "replace", "path": "name.givenName", "value": "Zoë" },
            ] })
        );
    }

    #[test]
    fn an_update_without_changes_needs_no_request_and_one_with_an_unknown_field_fails() {
        assert!(done(step(update("u-1", vec![]))).expect("applied").id.is_none());
        let outcome = done(step(update(
            "u-1",
            vec![
                ("title", Some(AttributeValue::Text("CTO".into()))),
                ("favourite_colour", None),
            ],
        )));
        assert_eq!(invalid(outcome.expect_err("refused")).0, "favourite_colour");
    }

    #[test]
    fn deactivation_and_reactivation_patch_active() {
        for (change, active) in [
            (Change::DeactivateAccount("u-1".into()), false),
            (Change::ReactivateAccount("u-1".into()), true),
        ] {
            let operation = sent(step(change));
            assert_eq!((operation.method, operation.path.as_str()), ("PATCH", "/Users/u-1"));
            assert_eq!(
                operation.data.expect("a body")["Operations"],
                json!([{ "op": "replace", "path": "active", "value": active }])
            );
        }
    }

    #[test]
    fn invitations_are_unsupported() {
        let outcome = done(step(Change::Invite("u-1".into())));
        assert!(matches!(outcome, Err(PluginError::Unsupported(m)) if m.contains("no invitations")));
    }

    #[test]
    fn manager_links_replace_or_remove_the_enterprise_manager() {
        let link = sent(step(Change::LinkManager(ManagerLink {
            account_id: "u-1".into(),
            manager_id: Some("u-9".into()),
        })));
        assert_eq!(link.path, "/Users/u-1");
        assert_eq!(
            link.data.expect("a body")["Operations"],
            json!([{ "op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": { "value": "u-9" } }])
        );
        let unlink = sent(step(Change::LinkManager(ManagerLink {
            account_id: "u-1".into(),
            manager_id: None,
        })));
        assert_eq!(
            unlink.data.expect("a body")["Operations"],
            json!([{ "op": "remove", "path": format!("{ENTERPRISE}:manager") }])
        );
    }

    #[test]
    fn teams_are_created_with_an_optional_external_id_and_renamed_by_patch() {
        let create = sent(step(Change::CreateTeam(TeamDraft {
            name: "Abteilung Vertrieb Süd".into(),
            external_id: Some("team-1".into()),
        })));
        assert_eq!((create.method, create.path.as_str()), ("POST", "/Groups"));
        assert!(
            create.creates_user.is_none(),
            "a team create does not look users up on 409"
        );
        assert_eq!(
            create.data.expect("a body"),
            json!({ "schemas": [GROUP], "displayName": "Abteilung Vertrieb Süd", "members": [], "externalId": "team-1" })
        );
        let plain = sent(step(Change::CreateTeam(TeamDraft {
            name: "X".into(),
            external_id: None,
        })));
        assert!(plain.data.expect("a body").get("externalId").is_none());

        let rename = sent(step(Change::RenameTeam(TeamRename {
            id: "g-1".into(),
            before: "Alt".into(),
            after: "Neu \"Süd\"".into(),
        })));
        assert_eq!(rename.path, "/Groups/g-1");
        assert_eq!(
            rename.data.expect("a body")["Operations"],
            json!([{ "op": "replace", "path": "displayName", "value": "Neu \"Süd\"" }])
        );
    }

    #[test]
    fn membership_operations_add_all_at_once_and_remove_one_by_one() {
        let ids = vec!["u-1".to_string(), "u-2".to_string()];
        assert_eq!(
            membership_operations(true, &ids),
            vec![json!({ "op": "add", "path": "members", "value": [{ "value": "u-1" }, { "value": "u-2" }] })]
        );
        assert_eq!(
            membership_operations(false, &ids),
            vec![
                json!({ "op": "remove", "path": "members[value eq \"u-1\"]" }),
                json!({ "op": "remove", "path": "members[value eq \"u-2\"]" }),
            ]
        );
    }

    #[test]
    fn consecutive_membership_changes_of_one_team_become_one_patch() {
        let steps = steps(vec![
            Change::AddMember(member("g-1", "u-1")),
            Change::AddMember(member("g-1", "u-2")),
            Change::AddMember(member("g-1", "u-3")),
            Change::AddMember(member("g-2", "u-1")),
            Change::RemoveMember(member("g-2", "u-2")),
            Change::RemoveMember(member("g-2", "u-3")),
            Change::DeactivateAccount("u-4".into()),
            Change::AddMember(member("g-1", "u-5")),
        ]);
        let summary: Vec<(String, usize, Value)> = steps
            .into_iter()
            .map(sent)
            .map(|op| (op.path, op.covers, op.data.expect("a body")["Operations"].clone()))
            .collect();
        assert_eq!(summary.len(), 5);
        assert_eq!((summary[0].0.as_str(), summary[0].1), ("/Groups/g-1", 3));
        assert_eq!(
            summary[0].2,
            json!([{ "op": "add", "path": "members", "value": [{ "value": "u-1" }, { "value": "u-2" }, { "value": "u-3" }] }])
        );
        assert_eq!((summary[1].0.as_str(), summary[1].1), ("/Groups/g-2", 1));
        assert_eq!((summary[2].0.as_str(), summary[2].1), ("/Groups/g-2", 2));
        assert_eq!(summary[2].2.as_array().map(Vec::len), Some(2));
        assert_eq!((summary[3].0.as_str(), summary[3].1), ("/Users/u-4", 1));
        assert_eq!((summary[4].0.as_str(), summary[4].1), ("/Groups/g-1", 1));
    }

    #[test]
    fn steps_cover_every_change_in_order_including_ones_done_without_a_request() {
        let steps = steps(vec![
            Change::Invite("u-1".into()),
            Change::RemoveMember(member("g-1", "u-1")),
            Change::RemoveMember(member("g-1", "u-2")),
            update("u-3", vec![]),
        ]);
        let covered: usize = steps
            .iter()
            .map(|step| match step {
                Step::Send(operation) => operation.covers,
                Step::Done(_) => 1,
            })
            .sum();
        assert_eq!(covered, 4);
        assert_eq!(steps.len(), 3);
        assert!(matches!(&steps[0], Step::Done(Err(PluginError::Unsupported(_)))));
        assert!(matches!(&steps[2], Step::Done(Ok(Applied { id: None }))));
    }

    #[test]
    fn bulk_status_reads_rfc_strings_and_numbers_and_defaults_to_500() {
        for (answer, status) in [
            (json!({ "status": "201" }), 201),
            (json!({ "status": " 409 Conflict" }), 409),
            (json!({ "status": 204 }), 204),
            (json!({ "status": "20" }), 500),
            (json!({ "status": "abc" }), 500),
            (json!({ "status": 70000 }), 500),
            (json!({ "status": null }), 500),
            (json!({}), 500),
        ] {
            assert_eq!(bulk_status(&answer), status, "{answer}");
        }
    }

    #[test]
    fn a_scim_user_becomes_an_account_with_its_primary_email_and_enterprise_fields() {
        let account = user(json!({
            "schemas": [USER, ENTERPRISE],
            "id": "u-1",
            "externalId": "hr-42",
            "userName": "zoe@example.com",
            "name": { "givenName": "Zoë", "familyName": "Öztürk", "formatted": "Zoë Öztürk" },
            "emails": [
                { "value": "private@example.com", "type": "home" },
                { "value": "zoe@example.com", "type": "work", "primary": true },
            ],
            "active": false,
            "title": "Leiterin",
            "displayName": "",
            "userType": "Employee",
            ENTERPRISE: {
                "department": "Vertrieb Süd",
                "employeeNumber": "0815",
                "manager": { "value": "u-9", "displayName": "Boss" },
            },
            "meta": { "resourceType": "User" },
        }))
        .expect("an account");
        assert_eq!(account.id, "u-1");
        assert_eq!(account.external_id.as_deref(), Some("hr-42"));
        assert_eq!(account.user_name, "zoe@example.com");
        assert_eq!(account.email.as_deref(), Some("zoe@example.com"));
        assert_eq!(account.first_name.as_deref(), Some("Zoë"));
        assert_eq!(account.last_name.as_deref(), Some("Öztürk"));
        assert!(!account.active);
        assert_eq!(account.manager_id.as_deref(), Some("u-9"));
        let names: Vec<&str> = account.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["title", "user_type", "department", "employee_number"],
            "empty displayName left out"
        );
        assert_eq!(attribute(&account, "department"), Some("Vertrieb Süd"));
    }

    #[test]
    fn a_minimal_scim_user_is_active_and_takes_its_first_email() {
        let account = user(json!({
            "id": "u-2",
            "userName": "ann",
            "emails": [{ "value": "a@example.com" }, { "value": "b@example.com" }],
        }))
        .expect("an account");
        assert!(account.active);
        assert_eq!(account.email.as_deref(), Some("a@example.com"));
        assert_eq!(account.external_id, None);
        assert_eq!((account.first_name, account.last_name), (None, None));
        assert!(account.attributes.is_empty());
        assert_eq!(account.manager_id, None);
    }

    #[test]
    fn odd_values_of_a_scim_user_read_as_empty_and_numbers_as_text() {
        let account = user(json!({
            "id": "u-3",
            "userName": 42,
            "externalId": null,
            "title": { "x": 1 },
            "emails": [{ "value": 5, "primary": true }],
            "name": { "givenName": ["A"], "familyName": "Lee" },
            ENTERPRISE: { "department": 12, "manager": { "value": null } },
        }))
        .expect("an account");
        assert_eq!(account.user_name, "");
        assert_eq!(account.external_id, None);
        assert_eq!(account.email, None);
        assert_eq!(account.first_name, None);
        assert_eq!(account.last_name.as_deref(), Some("Lee"));
        // Sent as the text "12", read back as a number: the same value, so
        // the next run does not write it again.
        assert_eq!(attribute(&account, "department"), Some("12"));
        assert_eq!(attribute(&account, "title"), None, "an object is no attribute value");
        assert_eq!(account.attributes.len(), 1);
        assert_eq!(account.manager_id, None);
    }

    fn configured(preset: Preset, attributes: &[(&str, &str)]) -> Result<Paths, PluginError> {
        let map = attributes.iter().map(|(n, p)| (n.to_string(), p.to_string())).collect();
        Paths::new(preset, &map)
    }

    const HIRE: &str = "urn:example:params:scim:schemas:extension:acme:2.0:User:hireDate";

    #[test]
    fn configured_paths_reach_core_enterprise_and_custom_schema_attributes_both_ways() {
        let paths = configured(
            Preset::Generic,
            &[
                ("hire_date", HIRE),
                ("middle_name", "name.middleName"),
                ("title", &format!("{ENTERPRISE}:level")),
            ],
        )
        .expect("paths");
        let draft = draft(vec![
            ("hire_date", "2021-04-01"),
            ("middle_name", "Maria"),
            ("title", "Senior"),
        ]);
        let mut user = super::user_resource(&paths, &draft).expect("a user");
        let schema = "urn:example:params:scim:schemas:extension:acme:2.0:User";
        assert_eq!(
            user["schemas"],
            json!([USER, ENTERPRISE, schema]),
            "the custom schema is named"
        );
        assert_eq!(user[schema]["hireDate"], json!("2021-04-01"));
        assert_eq!(user["name"]["middleName"], json!("Maria"));
        assert_eq!(
            user[ENTERPRISE]["level"],
            json!("Senior"),
            "a configured path overrides the built-in"
        );
        assert!(user.get("title").is_none());

        let update = sent(super::step(
            &paths,
            update(
                "u-1",
                vec![("hire_date", Some(AttributeValue::Text("2022-01-01".into())))],
            ),
        ));
        assert_eq!(
            update.data.expect("a body")["Operations"],
            json!([{ "op": "replace", "path": HIRE, "value": "2022-01-01" }])
        );

        // Read back from the same paths: the next run compares like with like.
        user["id"] = json!("u-1");
        let account = account(&paths, user).expect("an account");
        assert_eq!(attribute(&account, "hire_date"), Some("2021-04-01"));
        assert_eq!(attribute(&account, "middle_name"), Some("Maria"));
        assert_eq!(attribute(&account, "title"), Some("Senior"));
        assert!(paths.names().contains(&"hire_date".to_string()));
        assert!(paths.names().contains(&"department".to_string()), "built-ins stay");
    }

    #[test]
    fn the_leapsome_preset_adds_leapsomes_enterprise_attributes() {
        let paths = configured(Preset::Leapsome, &[]).expect("paths");
        for (name, attribute) in [
            ("hire_date", "startDate"),
            ("termination_date", "endDate"),
            ("gender", "gender"),
            ("office", "location"),
            ("level", "level"),
        ] {
            assert_eq!(
                paths.of(name).ok().map(str::to_string),
                Some(format!("{ENTERPRISE}:{attribute}")),
                "{name}"
            );
        }
        let generic = configured(Preset::Generic, &[]).expect("paths");
        assert!(generic.of("hire_date").is_err(), "only the preset knows them");
    }

    #[test]
    fn a_configured_attribute_with_a_bad_name_or_path_is_refused_naming_it() {
        for (name, path, mentions) in [
            ("hire_date", "urn:x:User:", "not a SCIM attribute path"),
            ("hire_date", "a.b.c", "not a SCIM attribute path"),
            (
                "hire_date",
                "emails[type eq \"work\"].value",
                "not a SCIM attribute path",
            ),
            ("hire_date", "", "not a SCIM attribute path"),
            ("Hire Date", "title", "lower case"),
            ("email", "emails", "core field"),
        ] {
            let error = configured(Preset::Generic, &[(name, path)]).expect_err("refused");
            let (field, message) = invalid(error);
            assert_eq!(field, format!("attributes.{name}"));
            assert!(message.contains(mentions), "{path}: {message}");
        }
    }

    #[test]
    fn a_scim_user_without_an_id_is_left_out() {
        assert!(user(json!({ "userName": "ghost" })).is_none());
    }

    #[test]
    fn a_scim_group_becomes_a_team_with_its_member_ids() {
        let team = team(&json!({
            "id": "g-1",
            "displayName": "Abteilung Vertrieb Süd",
            "externalId": "team-1",
            "members": [{ "value": "u-1", "display": "Zoë" }, { "value": 7 }, { "value": "u-2" }],
        }))
        .expect("a team");
        assert_eq!(team.id, "g-1");
        assert_eq!(team.name, "Abteilung Vertrieb Süd");
        assert_eq!(team.external_id.as_deref(), Some("team-1"));
        assert_eq!(team.member_ids, ["u-1", "u-2"]);

        let bare = super::team(&json!({ "id": "g-2" })).expect("a team");
        assert_eq!(
            (bare.name.as_str(), bare.external_id, bare.member_ids.len()),
            ("", None, 0)
        );
        assert!(super::team(&json!({ "displayName": "no id" })).is_none());
    }

    #[test]
    fn a_list_response_without_resources_is_empty() {
        let body: ListResponse<Value> = serde_json::from_value(json!({ "totalResults": 0 })).expect("a list");
        assert_eq!((body.total_results, body.resources.len()), (0, 0));
        let body: ListResponse<Value> =
            serde_json::from_value(json!({ "Resources": [{ "id": "u-1" }] })).expect("a list");
        assert_eq!((body.total_results, body.resources.len()), (0, 1));
    }

    #[test]
    fn config_takes_the_generic_preset_by_default_and_the_leapsome_one_by_name() {
        let generic: Config =
            serde_json::from_value(json!({ "base_url": "https://app.example.com/scim/v2" })).expect("config");
        assert!(generic.preset == Preset::Generic);
        let leapsome: Config =
            serde_json::from_value(json!({ "base_url": "https://www.leapsome.com/scim/v2", "preset": "leapsome" }))
                .expect("config");
        assert!(leapsome.preset == Preset::Leapsome);
        let mapped: Config =
            serde_json::from_value(json!({ "base_url": "https://x", "attributes": { "hire_date": HIRE } }))
                .expect("config");
        assert_eq!(mapped.attributes.get("hire_date").map(String::as_str), Some(HIRE));
        for bad in [
            json!({ "base_url": "https://x", "attributes": { "hire_date": 1 } }),
            json!({ "base_url": "https://x", "preset": "Leapsome" }),
            json!({ "base_url": "https://x", "preset": "okta" }),
            json!({ "base_url": "https://x", "token": "secret" }),
            json!({ "preset": "generic" }),
        ] {
            assert!(serde_json::from_value::<Config>(bad.clone()).is_err(), "{bad}");
        }
    }
}
