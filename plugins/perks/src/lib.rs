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

/// Refuses a key that is not a 4Geeks key or is for the other environment.
fn check_key(key: &str, environment: Environment) -> Result<(), PluginError> {
    match key_environment(key) {
        None => Err(PluginError::unauthorized(
            "the api-key is not a 4Geeks key: it must start with sk_test_ (sandbox) or sk_live_ (live)",
        )),
        Some(found) if found != environment => {
            Err(PluginError::unauthorized(format!(
            "the api-key is a {} key but the installation's environment is {}: use an {} key or change the environment",
            if found == Environment::Live { "live (sk_live_)" } else { "sandbox (sk_test_)" },
            if environment == Environment::Live { "live" } else { "sandbox" },
            if environment == Environment::Live { "sk_live_" } else { "sk_test_" },
        )))
        }
        Some(_) => Ok(()),
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

/// The e-mail and the `POST /v1/users/` body of a new user.
fn create_body(draft: &AccountDraft, default_role: &str) -> Result<(String, Value), PluginError> {
    let email = draft.email.clone().unwrap_or_else(|| draft.user_name.clone());
    let mut user = json!({
        "email": email,
        "first_name": draft.first_name,
        "last_name": draft.last_name,
        "role": default_role,
        "status": "active",
    });
    for Attribute { name, value } in &draft.attributes {
        user[perks_field(name)?] = attribute_json(value);
    }
    if user.get("employee_id").is_none() {
        user["employee_id"] = json!(draft.external_id);
    }
    Ok((email, user))
}

/// The `PATCH` fields of an update; a cleared field is `null`.
fn update_fields(update: &AccountUpdate) -> Result<Map<String, Value>, PluginError> {
    let mut fields = Map::new();
    for change in &update.changes {
        let value = change.after.as_ref().map(attribute_json).unwrap_or(Value::Null);
        fields.insert(perks_field(&change.field)?.to_string(), value);
    }
    Ok(fields)
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
        let (email, user) = create_body(&draft, &self.default_role)?;
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
        let fields = update_fields(&update)?;
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

    fn accepted_attributes() -> Option<Vec<String>> {
        Some(ATTRIBUTES.iter().map(|name| name.to_string()).collect())
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
        check_key(&key, config.environment)?;
        Ok(Self {
            base_url: config.base_url,
            key,
            default_role: config.default_role,
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use hrsync_sdk::FieldChange;

    fn unauthorized(result: Result<(), PluginError>) -> String {
        match result {
            Err(PluginError::Unauthorized(message)) => message,
            other => panic!("expected unauthorized, got {other:?}"),
        }
    }

    fn invalid_field(error: PluginError) -> (String, String) {
        match error {
            PluginError::InvalidInput(invalid) => (invalid.field, invalid.message),
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    fn draft(attributes: Vec<(&str, AttributeValue)>) -> AccountDraft {
        AccountDraft {
            external_id: "hr-42".into(),
            user_name: "user.name@example.com".into(),
            email: Some("zoe.oeztuerk@example.com".into()),
            first_name: "Zoë".into(),
            last_name: "Öztürk".into(),
            attributes: attributes
                .into_iter()
                .map(|(name, value)| Attribute {
                    name: name.into(),
                    value,
                })
                .collect(),
            invite: true,
        }
    }

    fn text(value: &str) -> AttributeValue {
        AttributeValue::Text(value.into())
    }

    #[test]
    fn key_prefixes_tell_sandbox_from_live_keys() {
        assert_eq!(key_environment("sk_test_51Habc"), Some(Environment::Sandbox));
        assert_eq!(key_environment("sk_live_51Habc"), Some(Environment::Live));
        for key in [
            "",
            "sk_test",
            "pk_test_51Habc",
            "SK_TEST_51Habc",
            " sk_live_51Habc",
            "sk_prod_1",
            "rk_live_1",
        ] {
            assert_eq!(key_environment(key), None, "key {key:?}");
        }
    }

    #[test]
    fn a_key_of_the_configured_environment_is_accepted() {
        assert!(check_key("sk_test_abc", Environment::Sandbox).is_ok());
        assert!(check_key("sk_live_abc", Environment::Live).is_ok());
    }

    #[test]
    fn a_key_of_the_other_environment_is_refused_naming_both_environments() {
        assert_eq!(
            unauthorized(check_key("sk_live_abc", Environment::Sandbox)),
            "the api-key is a live (sk_live_) key but the installation's environment is sandbox: use an sk_test_ key \
             or change the environment"
        );
        assert_eq!(
            unauthorized(check_key("sk_test_abc", Environment::Live)),
            "the api-key is a sandbox (sk_test_) key but the installation's environment is live: use an sk_live_ key \
             or change the environment"
        );
    }

    #[test]
    fn a_key_that_is_not_a_4geeks_key_is_refused_without_echoing_it() {
        let message = unauthorized(check_key("hunter2", Environment::Live));
        assert!(message.starts_with("the api-key is not a 4Geeks key"), "{message}");
        assert!(!message.contains("hunter2"));
    }

    #[test]
    fn config_needs_an_environment_and_defaults_base_url_and_role() {
        let config: Config = serde_json::from_value(json!({ "environment": "sandbox" })).expect("config");
        assert_eq!(config.environment, Environment::Sandbox);
        assert_eq!(config.base_url, "https://api.4geeks.io");
        assert_eq!(config.default_role, "employee");
        for bad in [
            json!({}),
            json!({ "environment": "production" }),
            json!({ "environment": "Live" }),
            json!({ "environment": "live", "api_key": "sk_live_x" }),
        ] {
            assert!(serde_json::from_value::<Config>(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn account_fields_map_to_perks_fields_and_unknown_ones_are_refused_by_name() {
        for (field, perks) in [
            ("first_name", "first_name"),
            ("last_name", "last_name"),
            ("email", "email"),
            ("user_name", "email"),
            ("external_id", "employee_id"),
            ("role", "role"),
            ("department", "department"),
            ("employee_id", "employee_id"),
            ("benefits_package", "benefits_package"),
        ] {
            assert_eq!(perks_field(field).ok(), Some(perks), "field {field}");
        }
        let (field, message) = invalid_field(perks_field("title").expect_err("unknown"));
        assert_eq!(field, "title");
        assert_eq!(
            message,
            "4Geeks Perks has no field `title`; known: first_name, last_name, email, role, department, employee_id, \
             benefits_package"
        );
    }

    #[test]
    fn a_new_user_is_active_with_the_default_role_and_the_hr_id_as_employee_id() {
        let (email, body) = create_body(&draft(vec![]), "employee").expect("a body");
        assert_eq!(email, "zoe.oeztuerk@example.com");
        assert_eq!(
            body,
            json!({
                "email": "zoe.oeztuerk@example.com",
                "first_name": "Zoë",
                "last_name": "Öztürk",
                "role": "employee",
                "status": "active",
                "employee_id": "hr-42",
            })
        );
    }

    #[test]
    fn mapped_attributes_override_role_and_employee_id_and_add_the_benefits_package() {
        let (_, body) = create_body(
            &draft(vec![
                ("role", text("manager")),
                ("external_id", text("P-0815")),
                ("benefits_package", text("New Hire")),
                ("department", text("Vertrieb Süd")),
            ]),
            "employee",
        )
        .expect("a body");
        assert_eq!(body["role"], json!("manager"));
        assert_eq!(body["employee_id"], json!("P-0815"));
        assert_eq!(body["benefits_package"], json!("New Hire"));
        assert_eq!(body["department"], json!("Vertrieb Süd"));
    }

    #[test]
    fn a_new_user_without_email_uses_the_user_name_and_typed_values_go_out_as_text() {
        let mut draft = draft(vec![("employee_id", AttributeValue::Integer(815))]);
        draft.email = None;
        let (email, body) = create_body(&draft, "admin").expect("a body");
        assert_eq!(email, "user.name@example.com");
        assert_eq!(body["email"], json!("user.name@example.com"));
        assert_eq!(body["role"], json!("admin"));
        assert_eq!(body["employee_id"], json!("815"));
    }

    #[test]
    fn a_new_user_with_an_unknown_attribute_is_refused() {
        let error = create_body(&draft(vec![("shoe_size", text("44"))]), "employee").expect_err("refused");
        assert_eq!(invalid_field(error).0, "shoe_size");
    }

    #[test]
    fn an_update_sends_changed_fields_and_null_for_cleared_ones() {
        let update = AccountUpdate {
            id: "usr_1".into(),
            changes: vec![
                FieldChange {
                    field: "department".into(),
                    before: Some(text("Alt")),
                    after: Some(text("Neu Süd")),
                },
                FieldChange {
                    field: "benefits_package".into(),
                    before: Some(text("New Hire")),
                    after: None,
                },
                FieldChange {
                    field: "user_name".into(),
                    before: None,
                    after: Some(text("neu@example.com")),
                },
            ],
        };
        let fields = update_fields(&update).expect("fields");
        assert_eq!(
            Value::Object(fields),
            json!({ "department": "Neu Süd", "benefits_package": null, "email": "neu@example.com" })
        );
        let empty = AccountUpdate {
            id: "usr_1".into(),
            changes: vec![],
        };
        assert!(update_fields(&empty).expect("fields").is_empty());
        let unknown = AccountUpdate {
            id: "usr_1".into(),
            changes: vec![FieldChange {
                field: "manager".into(),
                before: None,
                after: None,
            }],
        };
        assert_eq!(
            invalid_field(update_fields(&unknown).expect_err("refused")).0,
            "manager"
        );
    }

    #[test]
    fn a_perks_user_becomes_an_account_and_archived_means_inactive() {
        let account = account(&json!({
            "id": "usr_1",
            "email": "zoe@example.com",
            "first_name": "Zoë",
            "last_name": "Öztürk",
            "status": "archived",
            "role": "employee",
            "department": "",
            "employee_id": "hr-42",
            "benefits_package": "New Hire",
            "balance": 100,
        }))
        .expect("an account");
        assert_eq!(account.id, "usr_1");
        assert_eq!(account.user_name, "zoe@example.com");
        assert_eq!(account.email.as_deref(), Some("zoe@example.com"));
        assert_eq!(account.external_id.as_deref(), Some("hr-42"));
        assert_eq!(account.first_name.as_deref(), Some("Zoë"));
        assert!(!account.active);
        assert_eq!(account.manager_id, None);
        let names: Vec<&str> = account.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["role", "employee_id", "benefits_package"],
            "the empty department is left out"
        );

        let active = super::account(&json!({ "id": "usr_2", "email": "a@example.com", "status": "active" }))
            .expect("an account");
        assert!(active.active);
        assert_eq!((active.first_name, active.external_id), (None, None));
    }

    #[test]
    fn a_perks_user_without_a_text_id_is_left_out() {
        assert!(account(&json!({ "email": "a@example.com" })).is_none());
        assert!(account(&json!({ "id": null, "email": "a@example.com" })).is_none());
    }
}
