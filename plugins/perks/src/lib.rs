//! 4Geeks Perks as an hrsync target: one wallet user per employee.
//!
//! - Create: `POST /v1/users/` with `email`, `first_name`, `last_name`,
//!   `role` and `status: "active"` (plus `department`, `employee_id` and
//!   `benefits_package` when the rules map them, e.g. the "New Hire"
//!   package as a create-only attribute). "User already exists" (a wallet
//!   made by hand) is answered by looking the user up by e-mail and
//!   returning `conflict` with its id, so the host links it.
//! - Deactivate / reactivate: `PATCH /v1/users/{id}/` with `status`
//!   `archived` (the wallet is frozen at once) or `active`.
//! - Updates: `PATCH` with the changed fields. Invitations: `POST
//!   /v1/users/{id}/invite/` sends the welcome e-mail.
//! - Keys: `sk_test_...` reaches the sandbox, `sk_live_...` live data. The
//!   config names the environment the admin means, and a key of the other
//!   kind is refused before any request, so a test setup never touches live
//!   wallets by accident.

use hrsync_sdk::http::{get_each, percent_encode, Request, Response};
use hrsync_sdk::{
    config, export_target, secret, Account, AccountDraft, AccountPage, AccountUpdate, Applied, Attribute,
    AttributeValue, Capabilities, Change, PluginError, PluginInfo, Target,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

const DEFAULT_BASE_URL: &str = "https://api.4geeks.io";
/// Account attributes this target understands (Perks field names).
const ATTRIBUTES: &[&str] = &["role", "department", "employee_id", "benefits_package"];

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Environment {
    Sandbox,
    Live,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_base_url")]
    base_url: String,
    environment: Environment,
    /// `role` of new users when no rule maps one.
    #[serde(default = "default_role")]
    default_role: String,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.into()
}

fn default_role() -> String {
    "employee".into()
}

struct Perks {
    base_url: String,
    key: String,
    default_role: String,
}

fn key_environment(key: &str) -> Option<Environment> {
    if key.starts_with("sk_test_") {
        Some(Environment::Sandbox)
    } else if key.starts_with("sk_live_") {
        Some(Environment::Live)
    } else {
        None
    }
}

/// Values go out as JSON text, as the API stores them.
fn attribute_json(value: &AttributeValue) -> Value {
    Value::String(value.to_text())
}

fn perks_field(name: &str) -> Result<&str, PluginError> {
    match name {
        "first_name" | "last_name" | "email" => Ok(name),
        "user_name" => Ok("email"),
        "external_id" => Ok("employee_id"),
        _ if ATTRIBUTES.contains(&name) => Ok(name),
        _ => Err(PluginError::invalid(
            name,
            format!(
                "4Geeks Perks has no field `{name}`; known: first_name, last_name, email, {}",
                ATTRIBUTES.join(", ")
            ),
        )),
    }
}

fn account(user: &Value) -> Option<Account> {
    let id = user["id"].as_str()?.to_string();
    let email = user["email"].as_str().unwrap_or_default().to_string();
    let attributes = ATTRIBUTES
        .iter()
        .filter_map(|name| {
            let text = user[*name].as_str().filter(|t| !t.is_empty())?;
            Some(Attribute {
                name: name.to_string(),
                value: AttributeValue::Text(text.to_string()),
            })
        })
        .collect();
    Some(Account {
        id,
        external_id: user["employee_id"].as_str().map(str::to_string),
        user_name: email.clone(),
        email: Some(email),
        first_name: user["first_name"].as_str().map(str::to_string),
        last_name: user["last_name"].as_str().map(str::to_string),
        active: user["status"].as_str() != Some("archived"),
        attributes,
        manager_id: None,
    })
}

impl Perks {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    fn send(&self, request: Request) -> Result<Response, PluginError> {
        request.bearer(&self.key).header("accept", "application/json").send()
    }

    fn patch(&self, id: &str, fields: Map<String, Value>) -> Result<Applied, PluginError> {
        self.send(Request::patch(&self.url(&format!("/v1/users/{id}/"))).json(&fields)?)?
            .error_for_status()?;
        Ok(Applied { id: None })
    }

    fn find_by_email(&self, email: &str) -> Result<Option<String>, PluginError> {
        let url = self.url(&format!("/v1/users/?email={}", percent_encode(email)));
        let body: Value = self.send(Request::get(&url))?.error_for_status()?.json()?;
        Ok(body["results"][0]["id"].as_str().map(str::to_string))
    }

    fn invite(&self, id: &str) -> Result<Applied, PluginError> {
        self.send(Request::post(&self.url(&format!("/v1/users/{id}/invite/"))))?
            .error_for_status()?;
        Ok(Applied { id: None })
    }

    fn create(&self, draft: AccountDraft) -> Result<Applied, PluginError> {
        let email = draft.email.clone().unwrap_or_else(|| draft.user_name.clone());
        let mut user = json!({
            "email": email,
            "first_name": draft.first_name,
            "last_name": draft.last_name,
            "role": self.default_role,
            "status": "active",
        });
        for Attribute { name, value } in &draft.attributes {
            user[perks_field(name)?] = attribute_json(value);
        }
        if user.get("employee_id").is_none() {
            user["employee_id"] = json!(draft.external_id);
        }
        let response = self.send(Request::post(&self.url("/v1/users/")).json(&user)?)?;
        if response.status == 400 && response.text().contains("already exists") {
            let existing = self.find_by_email(&email)?;
            return Err(PluginError::conflict(format!("user {email} already exists"), existing));
        }
        let created: Value = response.error_for_status()?.json()?;
        let id = created["id"]
            .as_str()
            .ok_or_else(|| PluginError::fatal("POST /v1/users/ answered without an id"))?
            .to_string();
        if draft.invite {
            self.invite(&id)?;
        }
        Ok(Applied { id: Some(id) })
    }

    fn update(&self, update: AccountUpdate) -> Result<Applied, PluginError> {
        let mut fields = Map::new();
        for change in &update.changes {
            let value = change.after.as_ref().map(attribute_json).unwrap_or(Value::Null);
            fields.insert(perks_field(&change.field)?.to_string(), value);
        }
        if fields.is_empty() {
            return Ok(Applied { id: None });
        }
        self.patch(&update.id, fields)
    }

    fn status(&self, id: &str, status: &str) -> Result<Applied, PluginError> {
        let mut fields = Map::new();
        fields.insert("status".into(), json!(status));
        self.patch(id, fields)
    }
}

impl Target for Perks {
    fn info() -> PluginInfo {
        PluginInfo::new("perks", env!("CARGO_PKG_VERSION"))
            .description("4Geeks Perks wallets: auto-create active employees, auto-archive leavers")
            .config_schema(json!({
                "type": "object",
                "required": ["environment"],
                "additionalProperties": false,
                "properties": {
                    "environment": { "enum": ["sandbox", "live"], "description": "sandbox takes sk_test_ keys, live sk_live_ keys" },
                    "base_url": { "type": "string", "description": "default https://api.4geeks.io" },
                    "default_role": { "enum": ["employee", "manager", "admin"] }
                }
            }))
            .secret("api-key", "4Geeks API key (sk_test_... or sk_live_...)", true)
            .host(DEFAULT_BASE_URL)
    }

    fn capabilities() -> Capabilities {
        Capabilities {
            teams: false,
            managers: false,
            invites: true,
            reactivation: true,
            max_batch: 1,
            matching_attributes: vec!["email".into()],
        }
    }

    fn new() -> Result<Self, PluginError> {
        let config: Config = config()?;
        let key = secret("api-key")?;
        match key_environment(&key) {
            None => Err(PluginError::unauthorized(
                "the api-key is not a 4Geeks key: it must start with sk_test_ (sandbox) or sk_live_ (live)",
            )),
            Some(found) if found != config.environment => Err(PluginError::unauthorized(format!(
                "the api-key is a {} key but the installation's environment is {}: use an {} key or change the environment",
                if found == Environment::Live { "live (sk_live_)" } else { "sandbox (sk_test_)" },
                if config.environment == Environment::Live { "live" } else { "sandbox" },
                if config.environment == Environment::Live { "sk_live_" } else { "sk_test_" },
            ))),
            Some(_) => Ok(Self {
                base_url: config.base_url,
                key,
                default_role: config.default_role,
            }),
        }
    }

    fn test_connection(&mut self) -> Result<(), PluginError> {
        self.send(Request::get(&self.url("/v1/users/?page_size=1")))?
            .error_for_status()?;
        Ok(())
    }

    fn list_accounts(&mut self, page: Option<String>, page_size: u32) -> Result<AccountPage, PluginError> {
        let number: u64 = match page {
            None => 1,
            Some(token) => token
                .parse()
                .map_err(|_| PluginError::invalid("page", format!("`{token}` is not a page number")))?,
        };
        let size = page_size.clamp(1, 500);
        let body: Value = self
            .send(Request::get(
                &self.url(&format!("/v1/users/?page={number}&page_size={size}")),
            ))?
            .error_for_status()?
            .json()?;
        let results = body["results"].as_array().map(Vec::as_slice).unwrap_or_default();
        Ok(AccountPage {
            accounts: results.iter().filter_map(account).collect(),
            next_page: (!body["next"].is_null() && !results.is_empty()).then(|| (number + 1).to_string()),
        })
    }

    fn get_accounts(&mut self, ids: Vec<String>) -> Result<Vec<Account>, PluginError> {
        let users: Vec<Value> = get_each(&ids, |id| {
            self.send(Request::get(&self.url(&format!("/v1/users/{}/", percent_encode(id)))))
        })?;
        Ok(users.iter().filter_map(account).collect())
    }

    fn apply(&mut self, change: Change) -> Result<Applied, PluginError> {
        match change {
            Change::CreateAccount(draft) => self.create(draft),
            Change::UpdateAccount(update) => self.update(update),
            Change::DeactivateAccount(id) => self.status(&id, "archived"),
            Change::ReactivateAccount(id) => self.status(&id, "active"),
            Change::Invite(id) => self.invite(&id),
            // Never planned: the capabilities say no teams, no managers.
            _ => Err(PluginError::unsupported("4Geeks Perks has no teams or managers")),
        }
    }
}

export_target!(Perks);
