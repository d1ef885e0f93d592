//! The pushed directory as the engine reads it: each stored User an
//! employee (docs/inbound-scim.md lists the mapping), its groups a custom
//! attribute rules can use (`custom.groups`).

use std::collections::HashMap;

use serde_json::Value;

use super::filter::get_ci;
use super::schema::ENTERPRISE_USER;
use hrsync_engine::source::HeldDirectory;
use hrsync_model::{Attribute, AttributeValue, Employee, EmployeeStatus, PersonRef};
use hrsync_store::pushed::Pushed;

/// What the engine's read step gets for an integration's source.
pub fn directory(users: &[Pushed], groups: &[Pushed]) -> HeldDirectory {
    let mut member_of: HashMap<&str, Vec<String>> = HashMap::new();
    for group in groups {
        let name = text(&group.body, "displayName").unwrap_or_default();
        for id in super::resource::member_ids(&group.body) {
            // A member listed twice counts once.
            let groups = member_of.entry(id).or_default();
            if !groups.contains(&name) {
                groups.push(name.clone());
            }
        }
    }
    HeldDirectory {
        origin: "inbound SCIM".into(),
        employees: users
            .iter()
            .map(|user| employee(user, member_of.get(user.id.as_str()).map(Vec::as_slice).unwrap_or(&[])))
            .collect(),
        rejected: Vec::new(),
    }
}

fn text(value: &Value, key: &str) -> Option<String> {
    get_ci(value, key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The value of a multi-valued attribute's element: the primary one, else
/// the one of `kind` (`work`), else the first.
fn preferred<'v>(value: &'v Value, key: &str, kind: &str) -> Option<&'v Value> {
    let items = get_ci(value, key)?.as_array()?;
    (items
        .iter()
        .find(|i| i.get("primary").and_then(Value::as_bool) == Some(true)))
    .or_else(|| {
        items
            .iter()
            .find(|i| text(i, "type").is_some_and(|t| t.eq_ignore_ascii_case(kind)))
    })
    .or_else(|| items.first())
}

fn employee(user: &Pushed, groups: &[String]) -> Employee {
    let body = &user.body;
    let enterprise = get_ci(body, ENTERPRISE_USER).cloned().unwrap_or(Value::Null);
    let name = get_ci(body, "name").cloned().unwrap_or(Value::Null);
    let user_name = text(body, "userName").unwrap_or_default();
    let email = preferred(body, "emails", "work")
        .and_then(|e| text(e, "value"))
        .or_else(|| user_name.contains('@').then(|| user_name.clone()));
    let display = text(body, "displayName");
    // Without name parts, the display name's first word and the rest.
    let (split_first, split_last) = match display.as_deref().and_then(|d| d.split_once(' ')) {
        Some((first, last)) => (Some(first.to_string()), Some(last.trim().to_string())),
        None => (display.clone(), None),
    };
    let office =
        preferred(body, "addresses", "work").and_then(|a| text(a, "formatted").or_else(|| text(a, "locality")));
    let active = match get_ci(body, "active") {
        Some(Value::Bool(false)) => false,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        _ => true,
    };
    let mut custom = vec![Attribute {
        name: "userName".into(),
        value: AttributeValue::Text(user_name),
    }];
    let texts = [
        ("externalId", text(body, "externalId")),
        ("displayName", display.clone()),
        ("locale", text(body, "locale")),
        ("timezone", text(body, "timezone")),
        ("employeeNumber", text(&enterprise, "employeeNumber")),
        ("costCenter", text(&enterprise, "costCenter")),
        ("organization", text(&enterprise, "organization")),
    ];
    custom.extend(texts.into_iter().filter_map(|(name, value)| {
        Some(Attribute {
            name: name.into(),
            value: AttributeValue::Text(value?),
        })
    }));
    if !groups.is_empty() {
        custom.push(Attribute {
            name: "groups".into(),
            value: AttributeValue::TextList(groups.to_vec()),
        });
    }
    Employee {
        hr_id: user.id.clone(),
        email,
        first_name: text(&name, "givenName").or(split_first).unwrap_or_default(),
        last_name: text(&name, "familyName").or(split_last).unwrap_or_default(),
        preferred_name: text(body, "nickName"),
        status: if active {
            EmployeeStatus::Active
        } else {
            EmployeeStatus::Inactive
        },
        employment_type: text(body, "userType"),
        job_title: text(body, "title"),
        department: text(&enterprise, "department"),
        team: text(&enterprise, "division"),
        office,
        supervisor: get_ci(&enterprise, "manager")
            .and_then(|m| text(m, "value"))
            .map(|hr_id| PersonRef {
                hr_id,
                email: None,
                first_name: None,
                last_name: None,
            }),
        hire_date: None,
        termination_date: None,
        gender: None,
        language: text(body, "preferredLanguage").or_else(|| text(body, "locale")),
        custom,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pushed(id: &str, body: Value) -> Pushed {
        Pushed {
            id: id.into(),
            body,
            version: 1,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_pushed_user_becomes_an_employee_with_its_manager_groups_and_office() {
        let users = [
            pushed(
                "u1",
                json!({"userName": "jm@x.example", "active": false, "title": "Leiterin Einkauf",
                       "name": {"givenName": "Jörg", "familyName": "Müller"}, "userType": "Contractor",
                       "preferredLanguage": "de-DE",
                       "emails": [{"value": "home@x.example", "type": "home"}, {"value": "work@x.example", "type": "work"}],
                       "addresses": [{"type": "work", "formatted": "Berlin HQ"}],
                       ENTERPRISE_USER: {"department": "Einkauf", "manager": {"value": "u2"}, "employeeNumber": "17"}}),
            ),
            pushed("u2", json!({"userName": "boss", "displayName": "Ada Lovelace"})),
        ];
        let groups = [pushed(
            "g1",
            json!({"displayName": "Berlin", "members": [{"value": "u1"}]}),
        )];
        let directory = directory(&users, &groups);
        let [jm, boss] = &directory.employees[..] else {
            panic!("two employees")
        };
        assert_eq!(jm.email.as_deref(), Some("work@x.example"));
        assert_eq!((jm.first_name.as_str(), jm.last_name.as_str()), ("Jörg", "Müller"));
        assert_eq!(jm.status, EmployeeStatus::Inactive);
        assert_eq!(jm.supervisor.as_ref().map(|s| s.hr_id.as_str()), Some("u2"));
        assert_eq!(jm.office.as_deref(), Some("Berlin HQ"));
        assert_eq!(jm.department.as_deref(), Some("Einkauf"));
        assert_eq!(jm.employment_type.as_deref(), Some("Contractor"));
        assert!(jm
            .custom
            .iter()
            .any(|a| a.name == "groups" && a.value == AttributeValue::TextList(vec!["Berlin".into()])));
        assert!(jm
            .custom
            .iter()
            .any(|a| a.name == "employeeNumber" && a.value.to_text() == "17"));
        assert_eq!(boss.email, None, "a userName that is no e-mail is no e-mail");
        assert_eq!((boss.first_name.as_str(), boss.last_name.as_str()), ("Ada", "Lovelace"));
        assert_eq!(boss.status, EmployeeStatus::Active);
    }
}
