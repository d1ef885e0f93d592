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

use hrsync_sdk::http::{percent_encode, Request, Response};
use hrsync_sdk::{
    config, export_target, secret, Account, AccountDraft, AccountPage, AccountUpdate, Applied, Attribute,
    AttributeValue, Capabilities, Change, ManagerLink, Membership, PluginError, PluginInfo, Target, Team, TeamDraft,
    TeamPage, TeamRename,
};
use serde::Deserialize;
use serde_json::{json, Value};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

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
}

fn text(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::Text(s) | AttributeValue::Date(s) => json!(s),
        AttributeValue::Integer(i) => json!(i.to_string()),
        AttributeValue::Decimal(d) => json!(d.to_string()),
        AttributeValue::Boolean(b) => json!(b.to_string()),
        AttributeValue::TextList(items) => json!(items.join(", ")),
    }
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

    fn patch(&self, resource: &str, operations: Vec<Value>) -> Result<Applied, PluginError> {
        let body = json!({ "schemas": [PATCH_OP], "Operations": operations });
        self.send(Request::patch(&self.url(resource)).json(&body)?)?
            .error_for_status()?;
        Ok(Applied { id: None })
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

    fn create_account(&self, draft: AccountDraft) -> Result<Applied, PluginError> {
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
        let response = self.send(Request::post(&self.url("/Users")).json(&user)?)?;
        if response.status == 409 {
            // "User already exists": hand the host the existing id to link.
            let existing = self.find_user_id(&draft.user_name)?;
            return Err(PluginError::conflict(
                format!("user {} already exists", draft.user_name),
                existing,
            ));
        }
        let created: Value = response.error_for_status()?.json()?;
        let id = created["id"]
            .as_str()
            .ok_or_else(|| PluginError::fatal("POST /Users answered without an id"))?;
        Ok(Applied {
            id: Some(id.to_string()),
        })
    }

    fn update_account(&self, update: AccountUpdate) -> Result<Applied, PluginError> {
        let mut operations = Vec::new();
        for change in update.changes {
            let path = scim_path(&change.field)?;
            operations.push(match (&change.after, path) {
                (None, path) => json!({ "op": "remove", "path": path }),
                (Some(value), "emails") => json!({ "op": "replace", "path": "emails", "value": emails(text(value).as_str().unwrap_or_default()) }),
                (Some(value), path) => json!({ "op": "replace", "path": path, "value": text(value) }),
            });
        }
        if operations.is_empty() {
            return Ok(Applied { id: None });
        }
        self.patch(&format!("/Users/{}", update.id), operations)
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
            // Batches let consecutive membership changes of one team go out
            // as one PATCH; everything else is still one request per change.
            max_batch: 100,
            matching_attributes: vec!["user-name".into(), "email".into(), "external-id".into()],
        }
    }

    fn new() -> Result<Self, PluginError> {
        let config: Config = config()?;
        Ok(Self {
            base_url: config.base_url,
            token: secret("token")?,
            _preset: config.preset,
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
        let mut accounts = Vec::with_capacity(ids.len());
        for id in ids {
            let response = self.send(Request::get(&self.url(&format!("/Users/{}", percent_encode(&id)))))?;
            if response.status == 404 {
                continue;
            }
            let user: ScimUser = response.error_for_status()?.json()?;
            accounts.extend(account(user));
        }
        Ok(accounts)
    }

    fn list_teams(&mut self, page: Option<String>, page_size: u32) -> Result<TeamPage, PluginError> {
        let (groups, next_page) = self.list::<Value>("Groups", page, page_size)?;
        Ok(TeamPage {
            teams: groups.iter().filter_map(team).collect(),
            next_page,
        })
    }

    fn apply_batch(&mut self, changes: Vec<Change>) -> Vec<Result<Applied, PluginError>> {
        let mut outcomes = Vec::with_capacity(changes.len());
        let mut changes = changes.into_iter().peekable();
        while let Some(change) = changes.next() {
            let (adding, Membership { team_id, account_id }) = match change {
                Change::AddMember(m) => (true, m),
                Change::RemoveMember(m) => (false, m),
                other => {
                    outcomes.push(self.apply(other));
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
            let result = self.patch(&format!("/Groups/{team_id}"), membership_operations(adding, &members));
            outcomes.extend(std::iter::repeat_n(result, members.len()));
        }
        outcomes
    }

    fn apply(&mut self, change: Change) -> Result<Applied, PluginError> {
        match change {
            Change::CreateAccount(draft) => self.create_account(draft),
            Change::UpdateAccount(update) => self.update_account(update),
            Change::DeactivateAccount(id) => self.patch(
                &format!("/Users/{id}"),
                vec![json!({ "op": "replace", "path": "active", "value": false })],
            ),
            Change::ReactivateAccount(id) => self.patch(
                &format!("/Users/{id}"),
                vec![json!({ "op": "replace", "path": "active", "value": true })],
            ),
            Change::Invite(_) => Err(PluginError::unsupported(
                "SCIM has no invitations; the app sends its own",
            )),
            Change::CreateTeam(TeamDraft { name, external_id }) => {
                let mut group = json!({ "schemas": [GROUP], "displayName": name, "members": [] });
                if let Some(external_id) = external_id {
                    group["externalId"] = json!(external_id);
                }
                let created: Value = self
                    .send(Request::post(&self.url("/Groups")).json(&group)?)?
                    .error_for_status()?
                    .json()?;
                Ok(Applied {
                    id: created["id"].as_str().map(str::to_string),
                })
            }
            Change::RenameTeam(TeamRename { id, after, .. }) => self.patch(
                &format!("/Groups/{id}"),
                vec![json!({ "op": "replace", "path": "displayName", "value": after })],
            ),
            Change::AddMember(Membership { team_id, account_id }) => self.patch(
                &format!("/Groups/{team_id}"),
                membership_operations(true, &[account_id]),
            ),
            Change::RemoveMember(Membership { team_id, account_id }) => self.patch(
                &format!("/Groups/{team_id}"),
                membership_operations(false, &[account_id]),
            ),
            Change::LinkManager(ManagerLink { account_id, manager_id }) => {
                let path = format!("{ENTERPRISE}:manager");
                let operation = match manager_id {
                    Some(manager) => json!({ "op": "replace", "path": path, "value": { "value": manager } }),
                    None => json!({ "op": "remove", "path": path }),
                };
                self.patch(&format!("/Users/{account_id}"), vec![operation])
            }
        }
    }
}

export_target!(Scim);
