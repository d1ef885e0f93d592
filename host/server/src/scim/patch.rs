//! PATCH (RFC 7644 §3.5.2): add, replace and remove operations, with or
//! without a path, with value filters (`members[value eq "…"]`,
//! `emails[type eq "work"].value`), applied to a stored resource. Also
//! what Entra ID and Okta send beyond the letter of the RFC: capitalised
//! operations, `"True"`/`"False"` for booleans, a manager given as a bare
//! id, dotted or URN-prefixed names as keys of a path-less value, and a
//! replace of `emails[type eq "work"].value` when there is no work e-mail
//! yet (it adds one).

use serde_json::{Map, Value};

use super::filter::{AttrPath, Filter, Op};
use super::resource::normalize_attribute;
use super::schema::{is_multi_valued, Kind, PATCH_OP};
use super::ScimError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Add,
    Replace,
    Remove,
}

/// Where an operation acts.
struct Target {
    path: AttrPath,
    filter: Option<Filter>,
    /// The sub-attribute after a filter: `emails[…].value`.
    sub: Option<String>,
}

fn parse_target(text: &str) -> Result<Target, ScimError> {
    let invalid = |message: String| ScimError::bad("invalidPath", format!("path `{text}`: {message}"));
    match text.find('[') {
        None => Ok(Target {
            path: AttrPath::parse(text).map_err(invalid)?,
            filter: None,
            sub: None,
        }),
        Some(open) => {
            let close = (text.rfind(']'))
                .filter(|&close| close > open)
                .ok_or_else(|| invalid("`]` expected after `[`".into()))?;
            let path = AttrPath::parse(&text[..open]).map_err(invalid)?;
            if path.names.len() != 1 {
                return Err(invalid("a filter follows an attribute, not a sub-attribute".into()));
            }
            let filter = Filter::parse(&text[open + 1..close]).map_err(invalid)?;
            let sub = match &text[close + 1..] {
                "" => None,
                rest => Some(
                    rest.strip_prefix('.')
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| invalid(format!("`{rest}` after `]`")))?
                        .to_string(),
                ),
            };
            Ok(Target {
                path,
                filter: Some(filter),
                sub,
            })
        }
    }
}

/// Applies a PatchOp request body to `resource`.
pub fn apply(kind: Kind, resource: &mut Value, body: &Value) -> Result<(), ScimError> {
    let schemas = body.get("schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| {
        s.iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP)))
    }) {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("`schemas` must list {PATCH_OP}"),
        ));
    }
    let operations = super::filter::get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad("invalidSyntax", "`Operations` must be a list"))?;
    for (index, operation) in operations.iter().enumerate() {
        apply_one(kind, resource, operation)
            .map_err(|error| error.detailed(|detail| format!("Operations[{index}]: {detail}")))?;
    }
    Ok(())
}

fn apply_one(kind: Kind, resource: &mut Value, operation: &Value) -> Result<(), ScimError> {
    let verb = match super::filter::get_ci(operation, "op").and_then(Value::as_str) {
        Some(op) if op.eq_ignore_ascii_case("add") => Verb::Add,
        Some(op) if op.eq_ignore_ascii_case("replace") => Verb::Replace,
        Some(op) if op.eq_ignore_ascii_case("remove") => Verb::Remove,
        Some(op) => {
            return Err(ScimError::bad(
                "invalidSyntax",
                format!("`op` `{op}` is not add, replace or remove"),
            ))
        }
        None => return Err(ScimError::bad("invalidSyntax", "`op` is missing")),
    };
    let path = super::filter::get_ci(operation, "path").and_then(Value::as_str);
    let value = super::filter::get_ci(operation, "value").cloned();
    match (path, verb, value) {
        (None, Verb::Remove, _) => Err(ScimError::bad("noTarget", "`remove` needs a `path`")),
        (None, _, Some(Value::Object(values))) => {
            for (key, value) in values {
                // A bare extension URN names its whole object (`set`).
                set(kind, resource, verb, &parse_target(&key)?, value)?;
            }
            Ok(())
        }
        (None, _, _) => Err(ScimError::bad(
            "invalidValue",
            "an operation without `path` needs an object `value`",
        )),
        (Some(path), Verb::Remove, value) => remove(kind, resource, &parse_target(path)?, value),
        (Some(_), _, None) => Err(ScimError::bad("invalidValue", "`value` is missing")),
        (Some(path), verb, Some(value)) => set(kind, resource, verb, &parse_target(path)?, value),
    }
}

fn refuse_read_only(kind: Kind, target: &Target) -> Result<(), ScimError> {
    let first = target.path.names.first();
    match first {
        Some(name)
            if target.path.extension.is_none() && kind.read_only().iter().any(|r| r.eq_ignore_ascii_case(name)) =>
        {
            Err(ScimError::bad("mutability", format!("`{name}` is read-only")))
        }
        _ => Ok(()),
    }
}

/// The object that holds the target's attribute; created when missing.
fn holder<'r>(resource: &'r mut Value, path: &AttrPath) -> Result<&'r mut Map<String, Value>, ScimError> {
    let root = resource
        .as_object_mut()
        .ok_or_else(|| ScimError::internal("a stored resource is not an object"))?;
    match &path.extension {
        None => Ok(root),
        Some(urn) => {
            let key = key_ci(root, urn).unwrap_or_else(|| urn.clone());
            let inner = root.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !inner.is_object() {
                *inner = Value::Object(Map::new());
            }
            inner
                .as_object_mut()
                .ok_or_else(|| ScimError::internal("an extension is not an object"))
        }
    }
}

fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_string());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The map's key for `name`: the one it has, or the canonical spelling.
fn key_for(kind: Kind, map: &Map<String, Value>, path: &AttrPath, name: &str) -> String {
    key_ci(map, name).unwrap_or_else(|| {
        super::schema::canonical_name(kind, path.extension.as_deref(), name)
            .map(str::to_string)
            .unwrap_or_else(|| name.to_string())
    })
}

fn set(kind: Kind, resource: &mut Value, verb: Verb, target: &Target, value: Value) -> Result<(), ScimError> {
    refuse_read_only(kind, target)?;
    let path = &target.path;
    if path.extension.is_none() && path.names.first().is_some_and(|n| n.eq_ignore_ascii_case("password")) {
        // Never kept (`resource::accept`).
        return Ok(());
    }
    if let (None, Some(urn)) = (path.names.first(), &path.extension) {
        // The extension's whole object: added to, or replaced.
        let Value::Object(values) = value else {
            return Err(ScimError::bad("invalidValue", format!("`{urn}` must be an object")));
        };
        if verb == Verb::Replace {
            if let Some(root) = resource.as_object_mut() {
                root.retain(|key, _| !key.eq_ignore_ascii_case(urn));
            }
        }
        for (name, value) in values
            .into_iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("schemas"))
        {
            let path = AttrPath {
                extension: Some(urn.clone()),
                names: vec![name],
            };
            set(
                kind,
                resource,
                verb,
                &Target {
                    path,
                    filter: None,
                    sub: None,
                },
                value,
            )?;
        }
        return Ok(());
    }
    let map = holder(resource, path)?;
    let Some(name) = path.names.first() else {
        return Err(ScimError::bad("invalidPath", "a path must name an attribute"));
    };
    let key = key_for(kind, map, path, name);
    let value = normalize_attribute(kind, path.extension.as_deref(), &key, value);
    if let Some(filter) = &target.filter {
        let items = match map.get_mut(&key) {
            Some(Value::Array(items)) => items,
            _ => {
                map.insert(key.clone(), Value::Array(Vec::new()));
                match map.get_mut(&key) {
                    Some(Value::Array(items)) => items,
                    _ => return Err(ScimError::internal("an array vanished")),
                }
            }
        };
        let mut matched = false;
        for item in items.iter_mut().filter(|item| filter.matches(item)) {
            matched = true;
            match (&target.sub, item) {
                (Some(sub), Value::Object(object)) => {
                    let sub_key = key_ci(object, sub).unwrap_or_else(|| sub.clone());
                    object.insert(sub_key, value.clone());
                }
                (None, Value::Object(object)) => merge(object, &value)?,
                (_, item) => *item = value.clone(),
            }
        }
        if !matched {
            // `emails[type eq "work"].value` with no work e-mail: make one.
            let mut made = seed_of(filter)
                .ok_or_else(|| ScimError::bad("noTarget", format!("no value of `{name}` matches the filter")))?;
            match &target.sub {
                Some(sub) => {
                    made.insert(sub.clone(), value);
                }
                None => merge(&mut made, &value)?,
            }
            items.push(Value::Object(made));
        }
        return Ok(());
    }
    if let [_, sub] = path.names.as_slice() {
        let parent = map.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(parent) = parent else {
            return Err(ScimError::bad(
                "invalidPath",
                format!("`{name}` has several values; name one with a filter: {name}[…].{sub}"),
            ));
        };
        let sub_key = key_ci(parent, sub).unwrap_or_else(|| {
            super::schema::canonical_sub_name(kind, path.extension.as_deref(), &key, sub)
                .map(str::to_string)
                .unwrap_or_else(|| sub.clone())
        });
        parent.insert(sub_key, value);
        return Ok(());
    }
    let multi = is_multi_valued(kind, &key) || map.get(&key).is_some_and(Value::is_array);
    match (verb, multi, map.get_mut(&key), value) {
        (Verb::Add, true, Some(Value::Array(items)), value) => {
            let new = match value {
                Value::Array(new) => new,
                one => vec![one],
            };
            for item in new {
                if !items.iter().any(|old| same_item(old, &item)) {
                    items.push(item);
                }
            }
        }
        (_, true, _, value) => {
            let items = match value {
                Value::Array(items) => items,
                one => vec![one],
            };
            map.insert(key, Value::Array(items));
        }
        (_, false, Some(Value::Object(old)), Value::Object(new)) => merge(old, &Value::Object(new))?,
        (_, false, _, value) => {
            map.insert(key, value);
        }
    }
    Ok(())
}

fn remove(kind: Kind, resource: &mut Value, target: &Target, value: Option<Value>) -> Result<(), ScimError> {
    refuse_read_only(kind, target)?;
    let path = &target.path;
    let map = holder(resource, path)?;
    let Some(name) = path.names.first() else {
        // The whole extension.
        if let (Some(urn), Some(root)) = (&path.extension, resource.as_object_mut()) {
            if let Some(key) = key_ci(root, urn) {
                root.remove(&key);
            }
        }
        return Ok(());
    };
    let Some(key) = key_ci(map, name) else {
        return Ok(());
    };
    match (&target.filter, path.names.get(1), value) {
        (Some(filter), _, _) => {
            if let Some(Value::Array(items)) = map.get_mut(&key) {
                match &target.sub {
                    Some(sub) => {
                        for item in items.iter_mut().filter(|item| filter.matches(item)) {
                            if let Some(object) = item.as_object_mut() {
                                if let Some(sub_key) = key_ci(object, sub) {
                                    object.remove(&sub_key);
                                }
                            }
                        }
                    }
                    None => items.retain(|item| !filter.matches(item)),
                }
                if items.is_empty() {
                    map.remove(&key);
                }
            }
        }
        (None, Some(sub), _) => {
            if let Some(Value::Object(parent)) = map.get_mut(&key) {
                if let Some(sub_key) = key_ci(parent, sub) {
                    parent.remove(&sub_key);
                }
            }
        }
        // `{"op": "remove", "path": "members", "value": [{"value": "id"}]}`
        // (Entra ID): those members, not all.
        (None, None, Some(value)) if map.get(&key).is_some_and(Value::is_array) => {
            let gone = match value {
                Value::Array(gone) => gone,
                one => vec![one],
            };
            if let Some(Value::Array(items)) = map.get_mut(&key) {
                items.retain(|item| !gone.iter().any(|g| same_item(item, g)));
                if items.is_empty() {
                    map.remove(&key);
                }
            }
        }
        (None, None, _) => {
            map.remove(&key);
        }
    }
    Ok(())
}

/// Two values of a multi-valued attribute are one when their `value`s are
/// (members, groups), or when they are equal.
fn same_item(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn merge(object: &mut Map<String, Value>, value: &Value) -> Result<(), ScimError> {
    let Value::Object(new) = value else {
        return Err(ScimError::bad(
            "invalidValue",
            "a complex attribute's value must be an object",
        ));
    };
    for (key, value) in new {
        let key = key_ci(object, key).unwrap_or_else(|| key.clone());
        object.insert(key, value.clone());
    }
    Ok(())
}

/// The element a filter of equalities describes (`type eq "work"`), to
/// add when none matches.
fn seed_of(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare {
            path,
            op: Op::Eq,
            value,
        } if path.extension.is_none() && path.names.len() == 1 => {
            Some(Map::from_iter([(path.names[0].clone(), value.clone())]))
        }
        Filter::And(a, b) => {
            let mut seed = seed_of(a)?;
            seed.extend(seed_of(b)?);
            Some(seed)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(resource: Value, operations: Value) -> Result<Value, ScimError> {
        let mut resource = resource;
        apply(
            Kind::User,
            &mut resource,
            &json!({"schemas": [PATCH_OP], "Operations": operations}),
        )?;
        Ok(resource)
    }

    #[test]
    fn entra_id_style_operations_change_what_they_name() {
        let user = json!({"userName": "a@x", "active": true, "emails": [{"value": "a@x", "type": "work"}]});
        let after = patched(
            user,
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "u-9"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@x"},
                {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+49 1"},
                {"op": "Replace", "value": {"name.givenName": "Jörg", "title": "Lead",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "IT"}},
                {"op": "Add", "path": "NAME.familyName", "value": "Müller"},
                {"op": "replace", "path": "password", "value": "hunter2"}
            ]),
        )
        .expect("applied");
        assert_eq!(after["active"], json!(false));
        let enterprise = &after["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
        assert_eq!(enterprise["manager"], json!({"value": "u-9"}));
        assert_eq!(enterprise["department"], json!("IT"));
        assert_eq!(after["emails"], json!([{"value": "b@x", "type": "work"}]));
        assert_eq!(after["phoneNumbers"], json!([{"type": "mobile", "value": "+49 1"}]));
        assert_eq!(after["name"], json!({"givenName": "Jörg", "familyName": "Müller"}));
        assert_eq!(after["title"], json!("Lead"));
        assert!(after.get("password").is_none(), "a password is never kept");
    }

    #[test]
    fn members_are_added_once_and_removed_by_filter_or_by_value() {
        let mut group = json!({"displayName": "IT", "members": [{"value": "u1"}]});
        let ops = |operations: Value| json!({"schemas": [PATCH_OP], "Operations": operations});
        apply(
            Kind::Group,
            &mut group,
            &ops(json!([
                {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}, {"value": "u3"}]}
            ])),
        )
        .expect("added");
        assert_eq!(group["members"].as_array().map(Vec::len), Some(3));
        apply(
            Kind::Group,
            &mut group,
            &ops(json!([
                {"op": "remove", "path": "members[value eq \"u2\"]"},
                {"op": "Remove", "path": "members", "value": [{"value": "u3"}]}
            ])),
        )
        .expect("removed");
        assert_eq!(group["members"], json!([{"value": "u1"}]));
        apply(
            Kind::Group,
            &mut group,
            &ops(json!([{"op": "replace", "path": "members", "value": []}])),
        )
        .expect("emptied");
        assert_eq!(group["members"], json!([]));
    }

    #[test]
    fn bad_operations_are_refused_naming_the_operation_and_what_is_wrong() {
        let user = json!({"userName": "a@x"});
        for (operations, scim_type, says) in [
            (
                json!([{"op": "move", "path": "title", "value": "x"}]),
                "invalidSyntax",
                "Operations[0]: `op` `move`",
            ),
            (
                json!([{"op": "add", "path": "title", "value": "x"}, {"op": "remove"}]),
                "noTarget",
                "Operations[1]",
            ),
            (
                json!([{"op": "replace", "path": "id", "value": "x"}]),
                "mutability",
                "`id` is read-only",
            ),
            (
                json!([{"op": "replace", "path": "emails[type eq ", "value": "x"}]),
                "invalidPath",
                "path `emails[type eq `",
            ),
            (
                json!([{"op": "replace", "path": "emails[value co \"x\"].display", "value": "x"}]),
                "noTarget",
                "matches",
            ),
            (
                json!([{"op": "add", "path": "title"}]),
                "invalidValue",
                "`value` is missing",
            ),
            (
                json!([{"op": "replace", "path": "a]b[c", "value": "x"}]),
                "invalidPath",
                "`]` expected after `[`",
            ),
            (
                json!([{"op": "replace", "path": "xä.ü", "value": "x"}]),
                "invalidPath",
                "no attribute path",
            ),
        ] {
            let error = patched(user.clone(), operations.clone()).expect_err("refused");
            assert_eq!(error.scim_type, Some(scim_type), "{operations}: {}", error.detail);
            assert!(error.detail.contains(says), "{operations}: {}", error.detail);
        }
    }
}
