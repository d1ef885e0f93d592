//! A resource between the wire and the store: what a client sends is
//! checked and brought to one spelling (attribute names are
//! case-insensitive in SCIM; stored ones use the schema's), read-only
//! attributes are dropped, and what is stored is shown with its `id`,
//! `schemas`, `meta` and, for a User, the groups it is a member of.

use serde_json::{json, Map, Value};

use super::filter::AttrPath;
use super::schema::{canonical_name, canonical_sub_name, Kind, CORE_GROUP, CORE_USER, ENTERPRISE_USER};
use super::ScimError;
use hrsync_store::pushed::{Keys, Pushed};

/// One attribute's value in the stored spelling: sub-attribute names
/// canonical, `"True"`/`"False"` of `active` as booleans, a manager given
/// as a bare id as `{"value": id}`.
pub fn normalize_attribute(kind: Kind, extension: Option<&str>, key: &str, value: Value) -> Value {
    let canonical_subs = |object: Map<String, Value>| -> Map<String, Value> {
        object
            .into_iter()
            .map(|(sub, v)| {
                let name = canonical_sub_name(kind, extension, key, &sub).map_or(sub, str::to_string);
                (name, v)
            })
            .collect()
    };
    match (key, value) {
        ("active", Value::String(text)) if text.eq_ignore_ascii_case("true") => Value::Bool(true),
        ("active", Value::String(text)) if text.eq_ignore_ascii_case("false") => Value::Bool(false),
        ("manager", Value::String(id)) if extension.is_some_and(|urn| urn.eq_ignore_ascii_case(ENTERPRISE_USER)) => {
            json!({ "value": id })
        }
        (_, Value::Object(object)) => Value::Object(canonical_subs(object)),
        (_, Value::Array(items)) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(object) => Value::Object(canonical_subs(object)),
                    other => other,
                })
                .collect(),
        ),
        (_, value) => value,
    }
}

fn is_core(urn: &str) -> bool {
    urn.eq_ignore_ascii_case(CORE_USER) || urn.eq_ignore_ascii_case(CORE_GROUP)
}

/// A client's resource (POST, PUT, a Bulk operation's `data`), checked and
/// in the stored form: without `id`, `meta`, `schemas` and other
/// read-only attributes.
pub fn accept(kind: Kind, body: Value) -> Result<Value, ScimError> {
    let Value::Object(object) = body else {
        return Err(ScimError::bad("invalidSyntax", "the body must be a JSON object"));
    };
    let lists_schema = (object.iter())
        .find(|(key, _)| key.eq_ignore_ascii_case("schemas"))
        .and_then(|(_, schemas)| schemas.as_array())
        .is_some_and(|schemas| {
            (schemas.iter().filter_map(Value::as_str)).any(|s| s.eq_ignore_ascii_case(kind.schema()))
        });
    if !lists_schema {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("`schemas` must list {}", kind.schema()),
        ));
    }
    let mut stored = Map::new();
    for (key, value) in object {
        // A password (Okta may send one) is neither kept nor needed.
        if key.eq_ignore_ascii_case("schemas")
            || key.eq_ignore_ascii_case("password")
            || kind.read_only().iter().any(|r| r.eq_ignore_ascii_case(&key))
        {
            continue;
        }
        if super::filter::starts_with_ci(&key, "urn:") {
            if is_core(&key) {
                // `"urn:…:core:2.0:User": {…}`: core attributes, written long.
                if let Value::Object(inner) = value {
                    for (name, value) in inner {
                        let name = canonical_name(kind, None, &name).map_or(name, str::to_string);
                        let value = normalize_attribute(kind, None, &name, value);
                        stored.insert(name, value);
                    }
                }
                continue;
            }
            let Value::Object(inner) = value else {
                return Err(ScimError::bad("invalidValue", format!("`{key}` must be an object")));
            };
            let urn = if key.eq_ignore_ascii_case(ENTERPRISE_USER) {
                ENTERPRISE_USER.to_string()
            } else {
                key
            };
            let inner: Map<String, Value> = inner
                .into_iter()
                .map(|(name, value)| {
                    let name = canonical_name(kind, Some(&urn), &name).map_or(name, str::to_string);
                    let value = normalize_attribute(kind, Some(&urn), &name, value);
                    (name, value)
                })
                .collect();
            stored.insert(urn, Value::Object(inner));
            continue;
        }
        let name = canonical_name(kind, None, &key).map_or(key, str::to_string);
        let value = normalize_attribute(kind, None, &name, value);
        stored.insert(name, value);
    }
    let mut stored = Value::Object(stored);
    tidy(&mut stored);
    check(kind, &stored)?;
    Ok(stored)
}

/// Drops what a client may leave in a resource that SCIM does not show: the
/// `schemas` some clients put inside an extension's value, and extensions
/// left empty.
pub fn tidy(resource: &mut Value) {
    if let Some(object) = resource.as_object_mut() {
        for (_, value) in object.iter_mut().filter(|(k, _)| k.starts_with("urn:")) {
            if let Some(inner) = value.as_object_mut() {
                inner.retain(|k, _| !k.eq_ignore_ascii_case("schemas"));
            }
        }
        object.retain(|k, v| !(k.starts_with("urn:") && v.as_object().is_some_and(|o| o.is_empty())));
    }
}

/// What every stored resource must be, after a create, a replace or a
/// patch.
pub fn check(kind: Kind, stored: &Value) -> Result<(), ScimError> {
    let required = match kind {
        Kind::User => "userName",
        Kind::Group => "displayName",
    };
    match stored.get(required) {
        Some(Value::String(text)) if !text.trim().is_empty() => {}
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(ScimError::bad("invalidValue", format!("`{required}` is required")))
        }
        Some(_) => return Err(ScimError::bad("invalidValue", format!("`{required}` must be a string"))),
    }
    let expect = |name: &str, ok: fn(&Value) -> bool, what: &str| match stored.get(name) {
        Some(value) if !value.is_null() && !ok(value) => {
            Err(ScimError::bad("invalidValue", format!("`{name}` must be {what}")))
        }
        _ => Ok(()),
    };
    expect("active", Value::is_boolean, "true or false")?;
    expect("externalId", Value::is_string, "a string")?;
    for list in ["emails", "phoneNumbers", "addresses", "members"] {
        expect(
            list,
            |v| v.as_array().is_some_and(|items| items.iter().all(Value::is_object)),
            "a list of objects",
        )?;
    }
    if let Some(Value::Array(members)) = stored.get("members") {
        if let Some(index) = members
            .iter()
            .position(|m| !m.get("value").is_some_and(Value::is_string))
        {
            return Err(ScimError::bad(
                "invalidValue",
                format!("`members[{index}].value` must be the id of a member"),
            ));
        }
    }
    Ok(())
}

/// The ids a stored group lists as members.
pub fn member_ids(group: &Value) -> impl Iterator<Item = &str> {
    (group.get("members").and_then(Value::as_array).into_iter().flatten())
        .filter_map(|member| member.get("value").and_then(Value::as_str))
}

/// The columns kept for uniqueness and indexed filters.
pub fn keys(kind: Kind, stored: &Value) -> Keys {
    Keys {
        name: match kind {
            Kind::User => stored.get("userName").and_then(Value::as_str).map(str::to_lowercase),
            Kind::Group => None,
        },
        external_id: stored.get("externalId").and_then(Value::as_str).map(str::to_string),
    }
}

fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The weak ETag of a version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// A stored resource as the client sees it. `groups`: a User's groups.
pub fn show(kind: Kind, pushed: &Pushed, base: &str, groups: Option<Vec<Value>>) -> Value {
    let mut object = pushed.body.as_object().cloned().unwrap_or_default();
    let mut schemas = vec![Value::from(kind.schema())];
    schemas.extend(
        object
            .iter()
            .filter(|(key, value)| key.starts_with("urn:") && value.is_object())
            .map(|(key, _)| Value::from(key.as_str())),
    );
    object.insert("schemas".into(), Value::Array(schemas));
    object.insert("id".into(), Value::from(pushed.id.as_str()));
    if let Some(groups) = groups.filter(|g| !g.is_empty()) {
        object.insert("groups".into(), Value::Array(groups));
    }
    object.insert(
        "meta".into(),
        json!({
            "resourceType": kind.name(),
            "created": timestamp(pushed.created_at),
            "lastModified": timestamp(pushed.updated_at),
            "location": format!("{base}/{}/{}", kind.endpoint(), pushed.id),
            "version": etag(pushed.version),
        }),
    );
    Value::Object(object)
}

/// Which attributes a response carries (`attributes`,
/// `excludedAttributes`); `id`, `schemas` and `meta` always.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    only: Option<Vec<AttrPath>>,
    excluded: Vec<AttrPath>,
}

fn paths(list: &str) -> Result<Vec<AttrPath>, ScimError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|p| AttrPath::parse(p).map_err(|e| ScimError::bad("invalidPath", e)))
        .collect()
}

impl Projection {
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, ScimError> {
        Ok(Self {
            only: attributes.map(paths).transpose()?.filter(|p| !p.is_empty()),
            excluded: excluded.map(paths).transpose()?.unwrap_or_default(),
        })
    }

    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(mut object) = resource else {
            return resource;
        };
        let always = |key: &str| ["id", "schemas", "meta"].iter().any(|a| a.eq_ignore_ascii_case(key));
        if let Some(only) = &self.only {
            let mut kept = Map::new();
            for (key, value) in object {
                if always(&key) {
                    kept.insert(key, value);
                    continue;
                }
                let is_extension = key.starts_with("urn:");
                let wanted: Vec<&AttrPath> = only
                    .iter()
                    .filter(|p| match (&p.extension, is_extension) {
                        (None, false) => p.names.first().is_some_and(|n| n.eq_ignore_ascii_case(&key)),
                        (Some(urn), true) => urn.eq_ignore_ascii_case(&key),
                        _ => false,
                    })
                    .collect();
                if wanted.is_empty() {
                    continue;
                }
                let whole = wanted
                    .iter()
                    .any(|p| p.names.len() == (if is_extension { 0 } else { 1 }));
                if whole {
                    kept.insert(key, value);
                } else {
                    kept.insert(key, keep_subs(value, &wanted, is_extension));
                }
            }
            object = kept;
        }
        for path in &self.excluded {
            let holder = match &path.extension {
                None => Some(&mut object),
                Some(urn) => object
                    .iter_mut()
                    .find(|(k, _)| k.eq_ignore_ascii_case(urn))
                    .and_then(|(_, v)| v.as_object_mut()),
            };
            let Some(holder) = holder else { continue };
            match path.names.as_slice() {
                [name] if !always(name) => holder.retain(|k, _| !k.eq_ignore_ascii_case(name)),
                [name, sub] => {
                    if let Some((_, value)) = holder.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                        drop_sub(value, sub);
                    }
                }
                _ => {}
            }
        }
        Value::Object(object)
    }
}

/// The sub-attributes (or, in an extension, attributes) the paths name.
fn keep_subs(value: Value, paths: &[&AttrPath], in_extension: bool) -> Value {
    let depth = usize::from(!in_extension);
    let names: Vec<&String> = paths.iter().filter_map(|p| p.names.get(depth)).collect();
    let keep = |object: Map<String, Value>| -> Map<String, Value> {
        object
            .into_iter()
            .filter(|(k, _)| names.iter().any(|n| n.eq_ignore_ascii_case(k)))
            .collect()
    };
    match value {
        Value::Object(object) => Value::Object(keep(object)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(object) => Value::Object(keep(object)),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

fn drop_sub(value: &mut Value, sub: &str) {
    match value {
        Value::Object(object) => object.retain(|k, _| !k.eq_ignore_ascii_case(sub)),
        Value::Array(items) => items.iter_mut().for_each(|item| drop_sub(item, sub)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_is_stored_in_one_spelling_without_read_only_attributes() {
        let stored = accept(
            Kind::User,
            json!({
                "schemas": [CORE_USER, ENTERPRISE_USER],
                "id": "chosen-by-client", "meta": {"version": "x"}, "groups": [{"value": "g"}],
                "USERNAME": "Anna@X", "Active": "True", "password": "hunter2",
                "Name": {"GivenName": "Anna"},
                "emails": [{"Value": "anna@x", "TYPE": "work"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Manager": "u-1", "DEPARTMENT": "IT"}
            }),
        )
        .expect("accepted");
        assert_eq!(
            stored,
            json!({"userName": "Anna@X", "active": true, "name": {"givenName": "Anna"},
                   "emails": [{"value": "anna@x", "type": "work"}],
                   ENTERPRISE_USER: {"manager": {"value": "u-1"}, "department": "IT"}})
        );
        assert_eq!(keys(Kind::User, &stored).name.as_deref(), Some("anna@x"));
    }

    #[test]
    fn a_resource_missing_what_it_needs_is_refused_naming_it() {
        for (body, says) in [
            (json!({"userName": "a"}), "`schemas` must list"),
            (json!({"schemas": [CORE_USER]}), "`userName` is required"),
            (
                json!({"schemas": [CORE_USER], "userName": " "}),
                "`userName` is required",
            ),
            (
                json!({"schemas": [CORE_USER], "userName": 7}),
                "`userName` must be a string",
            ),
            (
                json!({"schemas": [CORE_USER], "userName": "a", "active": "yes"}),
                "`active` must be true or false",
            ),
            (
                json!({"schemas": [CORE_USER], "userName": "a", "emails": "a@x"}),
                "`emails` must be a list",
            ),
        ] {
            let error = accept(Kind::User, body.clone()).expect_err("refused");
            assert!(error.detail.contains(says), "{body}: {}", error.detail);
        }
        let error = accept(
            Kind::Group,
            json!({"schemas": [CORE_GROUP], "displayName": "IT", "members": [{"display": "x"}]}),
        )
        .expect_err("refused");
        assert!(error.detail.contains("`members[0].value`"), "{}", error.detail);
    }

    #[test]
    fn attributes_and_excluded_attributes_choose_what_is_shown() {
        let user = json!({"id": "1", "schemas": [CORE_USER], "meta": {}, "userName": "a", "title": "t",
                          "name": {"givenName": "A", "familyName": "B"},
                          ENTERPRISE_USER: {"department": "IT", "costCenter": "7"}});
        let only = Projection::parse(
            Some(&format!("userName,name.givenName,{ENTERPRISE_USER}:department")),
            None,
        )
        .unwrap()
        .apply(user.clone());
        assert_eq!(
            only,
            json!({"id": "1", "schemas": [CORE_USER], "meta": {}, "userName": "a", "name": {"givenName": "A"},
                   ENTERPRISE_USER: {"department": "IT"}})
        );
        let without = Projection::parse(None, Some("title,name.familyName,id"))
            .unwrap()
            .apply(user);
        assert_eq!(without["name"], json!({"givenName": "A"}));
        assert!(without.get("title").is_none());
        assert_eq!(without["id"], json!("1"), "id is always returned");
    }
}
