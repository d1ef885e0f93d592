//! Leapsome's dialect of SCIM, as its SCIM API's OpenAPI document (version
//! 1.1.3, `https://api.leapsome.com/scim/v1`) describes it — the `leapsome`
//! preset speaks it:
//!
//! - `POST /Users` takes `userName` (the e-mail), `name`, `displayName`,
//!   `title` and `externalId` only; everything else (the enterprise
//!   attributes, `active`) follows in a PATCH. It answers 201 with `{}` or
//!   409 when the user exists: both are looked up by `userName` and
//!   reported as a conflict, so the host links the existing account.
//! - `PATCH /Users/{id}` takes a partial user object, not RFC 7644
//!   `Operations`, and always needs `userName`; the manager is a plain id
//!   in the enterprise extension; `null` clears a value.
//! - Groups are returned without members, so memberships are read from
//!   each user's `groups`. A group PATCH adds the `members` it lists (at
//!   most 100); removing one means replacing the whole list
//!   (`replaceMembers`), which keeps the members added by hand.
//! - There is no DELETE and no `/Bulk`: one request per change.

use std::collections::{BTreeSet, HashMap};

use hrsync_sdk::http::{percent_encode, Request};
use hrsync_sdk::{AccountDraft, AccountUpdate, Applied, Attribute, Change, ManagerLink, PluginError, TeamRename};
use serde_json::{json, Map, Value};

use super::{get, put, text, Paths, Scim, Unit, ENTERPRISE};

/// Most members one group PATCH may carry.
pub(crate) const MAX_MEMBERS: usize = 100;

/// What one run's session learned of the app, for the requests that need
/// it: every PATCH names the user's `userName`, and removing a member
/// sends the group's other members.
#[derive(Default)]
pub(crate) struct Session {
    user_names: HashMap<String, String>,
    /// Members by group id, once every user has been read.
    members: Option<HashMap<String, BTreeSet<String>>>,
    /// Memberships seen by a listing of users still going on.
    listing: Option<HashMap<String, BTreeSet<String>>>,
}

impl Session {
    /// Notes a page of users as `list-accounts` reads it: `first` starts a
    /// listing, `last` completes it.
    pub(crate) fn saw_users(&mut self, users: &[Value], first: bool, last: bool) {
        if first {
            self.listing = Some(HashMap::new());
        }
        for user in users {
            self.saw_user(user);
        }
        if last {
            if let Some(complete) = self.listing.take() {
                self.members = Some(complete);
            }
        }
    }

    fn saw_user(&mut self, user: &Value) {
        let Some(id) = user["id"].as_str() else {
            return;
        };
        if let Some(user_name) = user["userName"].as_str() {
            self.user_names.insert(id.to_string(), user_name.to_string());
        }
        if let Some(listing) = self.listing.as_mut() {
            for group in user["groups"].as_array().into_iter().flatten() {
                if let Some(group_id) = group["value"].as_str() {
                    listing.entry(group_id.to_string()).or_default().insert(id.to_string());
                }
            }
        }
    }

    /// A group's members, as far as this session knows them.
    pub(crate) fn members_of(&self, group_id: &str) -> Vec<String> {
        self.members
            .as_ref()
            .and_then(|all| all.get(group_id))
            .map(|members| members.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// The keys `POST /Users` accepts.
const CREATE_KEYS: &[&str] = &["userName", "name", "displayName", "title", "photos", "externalId"];

/// A new account as Leapsome takes it: the create request, and the partial
/// object that sets the rest (empty when there is nothing more).
pub(crate) fn create_bodies(paths: &Paths, draft: &AccountDraft) -> Result<(Value, Map<String, Value>), PluginError> {
    let mut user = json!({
        "userName": draft.user_name,
        "externalId": draft.external_id,
        "name": { "givenName": draft.first_name, "familyName": draft.last_name },
        "displayName": format!("{} {}", draft.first_name, draft.last_name).trim(),
    });
    for Attribute { name, value } in &draft.attributes {
        let path = paths.of(name)?;
        if path == "emails" {
            continue;
        }
        put(&mut user, path, text(value));
    }
    let Value::Object(mut everything) = user else {
        return Err(PluginError::fatal("a user is a JSON object"));
    };
    let mut rest = Map::new();
    for key in everything.keys().cloned().collect::<Vec<_>>() {
        if !CREATE_KEYS.contains(&key.as_str()) {
            if let Some(value) = everything.remove(&key) {
                rest.insert(key, value);
            }
        }
    }
    Ok((Value::Object(everything), rest))
}

/// The partial object of an update; none when nothing changes. Leapsome's
/// e-mail is its `userName`, so a new e-mail is a new `userName`.
pub(crate) fn update_body(paths: &Paths, update: &AccountUpdate) -> Result<Option<Map<String, Value>>, PluginError> {
    let mut user = json!({});
    for change in &update.changes {
        let path = match paths.of(&change.field)? {
            "emails" => "userName",
            path => path,
        };
        let value = change.after.as_ref().map(text).unwrap_or(Value::Null);
        put(&mut user, path, value);
    }
    match user {
        Value::Object(fields) if !fields.is_empty() => Ok(Some(fields)),
        _ => Ok(None),
    }
}

/// The group PATCHes that make `members` the group's whole list.
pub(crate) fn replace_members(members: &[String]) -> Vec<Value> {
    let mut bodies =
        vec![json!({ "replaceMembers": true, "members": member_values(members.iter().take(MAX_MEMBERS)) })];
    bodies.extend(add_members(members.get(MAX_MEMBERS..).unwrap_or_default()));
    bodies
}

/// The group PATCHes that add `members`, 100 at a time.
pub(crate) fn add_members(members: &[String]) -> Vec<Value> {
    members
        .chunks(MAX_MEMBERS)
        .map(|chunk| json!({ "members": member_values(chunk.iter()) }))
        .collect()
}

fn member_values<'a>(ids: impl Iterator<Item = &'a String>) -> Vec<Value> {
    ids.map(|id| json!({ "value": id })).collect()
}

impl Scim {
    fn session(&mut self) -> &mut Session {
        self.leapsome.get_or_insert_with(Session::default)
    }

    /// Each change in order, one request (or a few) at a time.
    pub(crate) fn leapsome_apply_batch(&mut self, changes: Vec<Change>) -> Vec<Result<Applied, PluginError>> {
        let mut outcomes = Vec::with_capacity(changes.len());
        for unit in super::units(changes) {
            let covers = unit.covers();
            let outcome = self.leapsome_apply(unit);
            outcomes.extend(std::iter::repeat_n(outcome, covers));
        }
        outcomes
    }

    pub(crate) fn leapsome_apply(&mut self, unit: Unit) -> Result<Applied, PluginError> {
        let done = Ok(Applied { id: None });
        match unit {
            Unit::Members {
                adding,
                team_id,
                account_ids,
            } => self.change_members(&team_id, adding, &account_ids).and(done),
            Unit::One(change) => match change {
                Change::CreateAccount(draft) => self.create_user(&draft),
                Change::UpdateAccount(update) => match update_body(&self.paths, &update)? {
                    Some(fields) => self.patch_user(&update.id, fields).and(done),
                    None => done,
                },
                Change::DeactivateAccount(id) => self.patch_user(&id, object(json!({ "active": false }))).and(done),
                Change::ReactivateAccount(id) => self.patch_user(&id, object(json!({ "active": true }))).and(done),
                Change::LinkManager(ManagerLink { account_id, manager_id }) => {
                    let fields = object(json!({ ENTERPRISE: { "manager": manager_id } }));
                    self.patch_user(&account_id, fields).and(done)
                }
                Change::Invite(_) => Err(PluginError::unsupported(
                    "Leapsome's SCIM API sends no invitations; invite from its 'Users & Teams' page",
                )),
                Change::CreateTeam(team) => {
                    let mut group = json!({ "displayName": team.name });
                    if let Some(external_id) = team.external_id {
                        group["externalId"] = json!(external_id);
                    }
                    let created: Value = self
                        .send(Request::post(&self.url("/Groups")).json(&group)?)?
                        .error_for_status()?
                        .json()?;
                    let id = created["id"]
                        .as_str()
                        .ok_or_else(|| PluginError::fatal("POST /Groups answered without an id"))?;
                    if let Some(members) = self.session().members.as_mut() {
                        members.insert(id.to_string(), BTreeSet::new());
                    }
                    Ok(Applied {
                        id: Some(id.to_string()),
                    })
                }
                Change::RenameTeam(TeamRename { id, after, .. }) => {
                    self.patch_group(&id, &json!({ "displayName": after })).and(done)
                }
                Change::AddMember(m) => self.change_members(&m.team_id, true, &[m.account_id]).and(done),
                Change::RemoveMember(m) => self.change_members(&m.team_id, false, &[m.account_id]).and(done),
            },
        }
    }

    fn create_user(&mut self, draft: &AccountDraft) -> Result<Applied, PluginError> {
        let (create, rest) = create_bodies(&self.paths, draft)?;
        let response = self.send(Request::post(&self.url("/Users")).json(&create)?)?;
        // Leapsome answers an existing userName with 409, or with 201 and `{}`.
        let created: Option<Value> = match response.status {
            409 => None,
            _ => Some(response.error_for_status()?.json()?),
        };
        let Some(id) = created.as_ref().and_then(|c| c["id"].as_str()).map(str::to_string) else {
            return Err(self.conflict(&draft.user_name));
        };
        self.session().user_names.insert(id.clone(), draft.user_name.clone());
        if !rest.is_empty() {
            // The account exists either way; what this PATCH misses the next
            // run finds different and writes again.
            if let Err(error) = self.patch_user(&id, rest) {
                hrsync_sdk::log::warn(format!(
                    "user {} was created, but its other attributes were not set: {error}",
                    draft.user_name
                ));
            }
        }
        Ok(Applied { id: Some(id) })
    }

    /// PATCHes a partial user object, with the `userName` Leapsome needs.
    fn patch_user(&mut self, id: &str, mut fields: Map<String, Value>) -> Result<(), PluginError> {
        if !fields.contains_key("userName") {
            fields.insert("userName".into(), json!(self.user_name(id)?));
        }
        let url = self.url(&format!("/Users/{}", percent_encode(id)));
        self.send(Request::patch(&url).json(&fields)?)?.error_for_status()?;
        if let Some(user_name) = fields.get("userName").and_then(Value::as_str) {
            let user_name = user_name.to_string();
            self.session().user_names.insert(id.to_string(), user_name);
        }
        Ok(())
    }

    /// A user's `userName`: known from the listing, or asked for.
    fn user_name(&mut self, id: &str) -> Result<String, PluginError> {
        if let Some(known) = self.session().user_names.get(id) {
            return Ok(known.clone());
        }
        let user: Value = self
            .send(Request::get(&self.url(&format!("/Users/{}", percent_encode(id)))))?
            .error_for_status()?
            .json()?;
        let user_name = get(&user, "userName")
            .and_then(Value::as_str)
            .ok_or_else(|| PluginError::fatal(format!("Leapsome user {id} has no userName")))?
            .to_string();
        self.session().user_names.insert(id.to_string(), user_name.clone());
        Ok(user_name)
    }

    fn patch_group(&self, id: &str, body: &Value) -> Result<(), PluginError> {
        let url = self.url(&format!("/Groups/{}", percent_encode(id)));
        self.send(Request::patch(&url).json(body)?)?.error_for_status()?;
        Ok(())
    }

    fn change_members(&mut self, team_id: &str, adding: bool, account_ids: &[String]) -> Result<(), PluginError> {
        self.know_members()?;
        let mut members: BTreeSet<String> = self.session().members_of(team_id).into_iter().collect();
        let bodies = if adding {
            members.extend(account_ids.iter().cloned());
            add_members(account_ids)
        } else {
            for id in account_ids {
                members.remove(id);
            }
            replace_members(&members.iter().cloned().collect::<Vec<_>>())
        };
        for body in &bodies {
            self.patch_group(team_id, body)?;
        }
        if let Some(all) = self.session().members.as_mut() {
            all.insert(team_id.to_string(), members);
        }
        Ok(())
    }

    /// Reads every user's groups unless a complete listing did already.
    pub(crate) fn know_members(&mut self) -> Result<(), PluginError> {
        if self.session().members.is_some() {
            return Ok(());
        }
        let mut page = None;
        loop {
            let first = page.is_none();
            let (users, next) = self.list::<Value>("Users", page, 1000)?;
            self.session().saw_users(&users, first, next.is_none());
            if next.is_none() {
                return Ok(());
            }
            page = next;
        }
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Preset;
    use hrsync_sdk::{AttributeValue, FieldChange};

    fn leapsome_paths() -> Paths {
        Paths::new(Preset::Leapsome, &Default::default()).expect("paths")
    }

    fn attribute(name: &str, value: &str) -> Attribute {
        Attribute {
            name: name.into(),
            value: AttributeValue::Text(value.into()),
        }
    }

    #[test]
    fn a_create_carries_only_what_leapsome_takes_and_the_rest_follows_in_a_patch() {
        let draft = AccountDraft {
            external_id: "17".into(),
            user_name: "zoe@example.com".into(),
            email: Some("zoe@example.com".into()),
            first_name: "Zoë".into(),
            last_name: "Öztürk".into(),
            attributes: vec![
                attribute("title", "Leiterin Vertrieb"),
                attribute("hire_date", "2021-04-01"),
                attribute("gender", "female"),
                attribute("office", "Köln"),
            ],
            invite: false,
        };
        let (create, rest) = create_bodies(&leapsome_paths(), &draft).expect("bodies");
        assert_eq!(
            create,
            json!({
                "userName": "zoe@example.com",
                "externalId": "17",
                "name": { "givenName": "Zoë", "familyName": "Öztürk" },
                "displayName": "Zoë Öztürk",
                "title": "Leiterin Vertrieb",
            })
        );
        assert_eq!(
            Value::Object(rest),
            json!({ ENTERPRISE: { "startDate": "2021-04-01", "gender": "female", "location": "Köln" } })
        );
    }

    #[test]
    fn an_update_is_a_partial_object_where_null_clears_and_a_new_email_is_the_user_name() {
        let update = AccountUpdate {
            id: "u-1".into(),
            changes: vec![
                FieldChange {
                    field: "title".into(),
                    before: None,
                    after: Some(AttributeValue::Text("Lead".into())),
                },
                FieldChange {
                    field: "termination_date".into(),
                    before: Some(AttributeValue::Text("2026-12-31".into())),
                    after: None,
                },
                FieldChange {
                    field: "email".into(),
                    before: None,
                    after: Some(AttributeValue::Text("new@example.com".into())),
                },
            ],
        };
        let body = update_body(&leapsome_paths(), &update)
            .expect("a body")
            .expect("changes");
        assert_eq!(
            Value::Object(body),
            json!({ "title": "Lead", "userName": "new@example.com", ENTERPRISE: { "endDate": null } })
        );
        let nothing = AccountUpdate {
            id: "u-1".into(),
            changes: vec![],
        };
        assert_eq!(update_body(&leapsome_paths(), &nothing).expect("no error"), None);
        let unknown = AccountUpdate {
            id: "u-1".into(),
            changes: vec![FieldChange {
                field: "shoe_size".into(),
                before: None,
                after: None,
            }],
        };
        assert!(update_body(&leapsome_paths(), &unknown).is_err());
    }

    #[test]
    fn members_are_added_100_at_a_time_and_a_removal_replaces_the_whole_list() {
        let ids: Vec<String> = (0..250).map(|i| format!("u-{i}")).collect();
        let adds = add_members(&ids);
        assert_eq!(adds.len(), 3);
        assert_eq!(adds[2]["members"].as_array().map(Vec::len), Some(50));
        assert!(adds.iter().all(|body| body.get("replaceMembers").is_none()));

        let replaced = replace_members(&ids);
        assert_eq!(replaced.len(), 3, "one replace of 100, then the rest added");
        assert_eq!(replaced[0]["replaceMembers"], true);
        assert_eq!(replaced[0]["members"][0]["value"], "u-0");
        assert_eq!(replaced[1].get("replaceMembers"), None);
        assert_eq!(replaced[1]["members"][0]["value"], "u-100");

        assert_eq!(
            replace_members(&[]),
            vec![json!({ "replaceMembers": true, "members": [] })],
            "the last member removed empties the group"
        );
    }

    #[test]
    fn a_custom_attribute_id_of_leapsome_is_a_path_after_a_schema_urn_only() {
        let id = format!("{ENTERPRISE}:6140868326541a4da586db0b");
        let configured = [("subcompany".to_string(), id.clone())].into_iter().collect();
        let paths = Paths::new(Preset::Leapsome, &configured).expect("paths");
        assert_eq!(paths.of("subcompany").ok(), Some(id.as_str()));
        let bare = [("subcompany".to_string(), "6140868326541a4da586db0b".to_string())]
            .into_iter()
            .collect();
        assert!(
            Paths::new(Preset::Leapsome, &bare).is_err(),
            "a core attribute starts with a letter"
        );
    }

    #[test]
    fn memberships_come_from_a_complete_listing_of_users() {
        let mut session = Session::default();
        session.saw_users(
            &[json!({ "id": "u-1", "userName": "a@x", "groups": [{ "value": "g-1" }, { "value": "g-2" }] })],
            true,
            false,
        );
        assert_eq!(session.members, None, "not until the last page");
        session.saw_users(
            &[json!({ "id": "u-2", "userName": "b@x", "groups": [{ "value": "g-1" }] })],
            false,
            true,
        );
        assert_eq!(session.members_of("g-1"), ["u-1", "u-2"]);
        assert_eq!(session.members_of("g-2"), ["u-1"]);
        assert!(session.members_of("g-3").is_empty());
        assert_eq!(session.user_names.get("u-2").map(String::as_str), Some("b@x"));
    }
}
