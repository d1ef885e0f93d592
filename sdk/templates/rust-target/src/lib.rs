//! An hrsync target plugin in Rust: keeps the users and teams of the tiny
//! app (host/emulators/src/tiny.rs; `hrsync-lab emulate` serves it on
//! http://127.0.0.1:7004, basic auth `api` / `tiny-app-key`).
//!
//! Build and try it (see sdk/README.md):
//!
//!     cargo build --release --target wasm32-wasip2
//!     cp target/wasm32-wasip2/release/{{crate}}.wasm {{name}}.wasm
//!     TINY_APP_KEY=tiny-app-key hrsync plugin test {{name}}.wasm --config installation.toml --apply changes.json

use hrsync_sdk::{
    config, export_target, http, secret, Account, AccountPage, Applied, Attribute, AttributeValue, Capabilities,
    Change, PluginError, PluginInfo, Target, Team, TeamPage,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    base_url: String,
}

#[derive(Deserialize)]
struct User {
    id: String,
    external_id: Option<String>,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    title: Option<String>,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct Users {
    users: Vec<User>,
    total: usize,
}

#[derive(Deserialize)]
struct Teams {
    teams: Vec<TeamRecord>,
}

#[derive(Deserialize)]
struct TeamRecord {
    id: String,
    name: String,
    external_id: Option<String>,
    member_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

fn plain(value: &Option<AttributeValue>) -> Value {
    match value {
        None => Value::Null,
        Some(AttributeValue::Text(s) | AttributeValue::Date(s)) => json!(s),
        Some(AttributeValue::Integer(i)) => json!(i),
        Some(AttributeValue::Decimal(d)) => json!(d),
        Some(AttributeValue::Boolean(b)) => json!(b),
        Some(AttributeValue::TextList(items)) => json!(items),
    }
}

struct TinyApp {
    base: String,
    key: String,
}

impl TinyApp {
    fn send(&self, request: http::Request) -> Result<http::Response, PluginError> {
        request.basic("api", &self.key).send()?.error_for_status()
    }
}

impl Target for TinyApp {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", env!("CARGO_PKG_VERSION"))
            .description("Users and teams of the tiny app")
            .config_schema(json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["base_url"],
                "properties": {
                    "base_url": { "type": "string", "description": "The app's address, e.g. https://app.example.com" }
                }
            }))
            .secret("api_key", "API key of the app", true)
            .host("http://127.0.0.1:7004")
    }

    fn capabilities() -> Capabilities {
        Capabilities {
            teams: true,
            managers: false,
            invites: false,
            reactivation: true,
            max_batch: 50,
            matching_attributes: vec!["email".into(), "external-id".into()],
        }
    }

    fn accepted_attributes() -> Option<Vec<String>> {
        Some(vec!["title".into()])
    }

    fn new() -> Result<Self, PluginError> {
        let config: Config = config()?;
        Ok(Self {
            base: config.base_url,
            key: secret("api_key")?,
        })
    }

    fn list_accounts(&mut self, page: Option<String>, page_size: u32) -> Result<AccountPage, PluginError> {
        let offset: usize = page.as_deref().unwrap_or("0").parse().unwrap_or(0);
        let url = format!("{}/api/users?offset={offset}&limit={page_size}", self.base);
        let body: Users = self.send(http::Request::get(&url))?.json()?;
        let read = offset + body.users.len();
        let accounts = body
            .users
            .into_iter()
            .map(|user| Account {
                id: user.id,
                external_id: user.external_id,
                user_name: user.email.clone(),
                email: Some(user.email),
                first_name: user.first_name,
                last_name: user.last_name,
                active: user.active,
                attributes: user
                    .title
                    .map(|title| Attribute {
                        name: "title".into(),
                        value: AttributeValue::Text(title),
                    })
                    .into_iter()
                    .collect(),
                manager_id: None,
            })
            .collect();
        Ok(AccountPage {
            accounts,
            next_page: (read < body.total).then(|| read.to_string()),
        })
    }

    fn list_teams(&mut self, _page: Option<String>, _page_size: u32) -> Result<TeamPage, PluginError> {
        let body: Teams = self.send(http::Request::get(&format!("{}/api/teams", self.base)))?.json()?;
        Ok(TeamPage {
            teams: body
                .teams
                .into_iter()
                // The external id is how hrsync knows the teams it made
                // ("hrsync:<name>"); teams without it are left alone.
                .map(|t| Team {
                    id: t.id,
                    name: t.name,
                    external_id: t.external_id,
                    member_ids: t.member_ids,
                })
                .collect(),
            next_page: None,
        })
    }

    fn apply(&mut self, change: Change) -> Result<Applied, PluginError> {
        let users = format!("{}/api/users", self.base);
        let teams = format!("{}/api/teams", self.base);
        let none = Applied { id: None };
        match change {
            Change::CreateAccount(draft) => {
                let mut user = Map::new();
                user.insert("external_id".into(), json!(draft.external_id));
                user.insert("email".into(), json!(draft.email.unwrap_or(draft.user_name)));
                user.insert("first_name".into(), json!(draft.first_name));
                user.insert("last_name".into(), json!(draft.last_name));
                for attribute in &draft.attributes {
                    user.insert(attribute.name.clone(), plain(&Some(attribute.value.clone())));
                }
                let created: Created = self.send(http::Request::post(&users).json(&user)?)?.json()?;
                Ok(Applied { id: Some(created.id) })
            }
            Change::UpdateAccount(update) => {
                let fields: Map<String, Value> = update.changes.iter().map(|c| (c.field.clone(), plain(&c.after))).collect();
                self.send(http::Request::patch(&format!("{users}/{}", update.id)).json(&fields)?)?;
                Ok(none)
            }
            Change::DeactivateAccount(id) => {
                self.send(http::Request::patch(&format!("{users}/{id}")).json(&json!({ "active": false }))?)?;
                Ok(none)
            }
            Change::ReactivateAccount(id) => {
                self.send(http::Request::patch(&format!("{users}/{id}")).json(&json!({ "active": true }))?)?;
                Ok(none)
            }
            Change::CreateTeam(draft) => {
                let body = json!({ "name": draft.name, "external_id": draft.external_id });
                let created: Created = self.send(http::Request::post(&teams).json(&body)?)?.json()?;
                Ok(Applied { id: Some(created.id) })
            }
            Change::AddMember(m) => {
                let url = format!("{teams}/{}/members", m.team_id);
                self.send(http::Request::post(&url).json(&json!({ "user_id": m.account_id }))?)?;
                Ok(none)
            }
            Change::RemoveMember(m) => {
                self.send(http::Request::delete(&format!("{teams}/{}/members/{}", m.team_id, m.account_id)))?;
                Ok(none)
            }
            other => Err(PluginError::unsupported(format!("{other:?}"))),
        }
    }
}

export_target!(TinyApp);
