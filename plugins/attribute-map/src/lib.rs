//! Attribute mapping: what each account field of the target is made of.
//!
//! ```json
//! { "attributes": [
//!     { "target": "title", "from": "job_title" },
//!     { "target": "role", "value": "employee" },
//!     { "target": "display_name", "template": "{preferred_name} {last_name}", "default": "{first_name} {last_name}" },
//!     { "target": "benefits_package", "value": "New Hire", "only_on_create": true },
//!     { "target": "department", "from": "department", "default": "Unassigned" }
//! ] }
//! ```
//!
//! Each mapping has exactly one source: `from` (an employee field, direct),
//! `value` (a constant) or `template`. When the source is empty the
//! `default` (itself a template) is used; without a default the field is
//! not owned for that employee and the target's value is left as is.
//! `only_on_create` fields are sent when the account is created and never
//! overwritten afterwards. `user_name`, `email`, `first_name`, `last_name`
//! and `external_id` replace the defaults of the account itself.

use hrsync_sdk::template::Template;
use hrsync_sdk::{
    config, export_rule, fields, Attribute, AttributeValue, Decision, PluginError, PluginInfo, Rule, Subject,
};
use serde::Deserialize;

const CORE: &[&str] = &["user_name", "email", "first_name", "last_name", "external_id"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    attributes: Vec<MappingConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingConfig {
    target: String,
    from: Option<String>,
    value: Option<String>,
    template: Option<String>,
    default: Option<String>,
    #[serde(default)]
    only_on_create: bool,
}

enum Source {
    Template(Template),
    Constant(String),
}

struct Mapping {
    target: String,
    source: Source,
    default: Option<Template>,
    only_on_create: bool,
}

struct AttributeMap {
    mappings: Vec<Mapping>,
}

fn template(text: &str, path: &str) -> Result<Template, PluginError> {
    Template::parse(text).map_err(|e| PluginError::invalid(path, e.to_string()))
}

fn compile(index: usize, mapping: MappingConfig) -> Result<Mapping, PluginError> {
    let path = |field: &str| format!("attributes[{index}].{field}");
    let target = mapping.target.trim().to_string();
    if target.is_empty() {
        return Err(PluginError::invalid(path("target"), "names no field"));
    }
    let source = match (&mapping.from, &mapping.value, &mapping.template) {
        (Some(field), None, None) if field.contains(['{', '}']) => {
            // `{{office}}` would be a literal brace: the braces would make a
            // constant "{office}" for everyone.
            return Err(PluginError::invalid(
                path("from"),
                format!(
                    "`from` names one field without braces (`from = \"{}\"`); for text around fields write \
                     `template = \"{field}\"`",
                    field.trim().trim_start_matches('{').trim_end_matches('}')
                ),
            ));
        }
        (Some(field), None, None) => Source::Template(template(&format!("{{{field}}}"), &path("from"))?),
        (None, Some(value), None) => Source::Constant(value.clone()),
        (None, None, Some(text)) => Source::Template(template(text, &path("template"))?),
        _ => {
            return Err(PluginError::invalid(
                path("target"),
                format!("`{target}` needs exactly one of `from`, `value` or `template`"),
            ))
        }
    };
    if mapping.only_on_create && CORE.contains(&target.as_str()) {
        return Err(PluginError::invalid(
            path("only_on_create"),
            format!("`{target}` identifies the account and is always kept in step"),
        ));
    }
    Ok(Mapping {
        target,
        source,
        default: mapping
            .default
            .as_deref()
            .map(|text| template(text, &path("default")))
            .transpose()?,
        only_on_create: mapping.only_on_create,
    })
}

impl Rule for AttributeMap {
    fn info() -> PluginInfo {
        PluginInfo::new("attribute-map", env!("CARGO_PKG_VERSION"))
            .description("Account attributes from employee fields: direct, constant, template, default when empty, only on create")
            .config_schema(serde_json::json!({
                "type": "object",
                "required": ["attributes"],
                "additionalProperties": false,
                "properties": {
                    "attributes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["target"],
                            "additionalProperties": false,
                            "properties": {
                                "target": { "type": "string" },
                                "from": { "type": "string" },
                                "value": { "type": "string" },
                                "template": { "type": "string" },
                                "default": { "type": "string" },
                                "only_on_create": { "type": "boolean" }
                            }
                        }
                    }
                }
            }))
    }

    fn new() -> Result<Self, PluginError> {
        let config: Config = config()?;
        let mappings: Vec<Mapping> = config
            .attributes
            .into_iter()
            .enumerate()
            .map(|(i, m)| compile(i, m))
            .collect::<Result<_, _>>()?;
        // A mapping without a default owns nothing when its fields are
        // never returned: the host stops such a run rather than leave the
        // target's values unmanaged without a word.
        for mapping in mappings.iter().filter(|m| m.default.is_none()) {
            if let Source::Template(template) = &mapping.source {
                for field in template.fields() {
                    fields::require(field, &format!("attribute `{}`", mapping.target));
                }
            }
        }
        Ok(Self { mappings })
    }

    fn evaluate_one(&mut self, subject: Subject) -> Decision {
        let mut desired = subject.desired();
        let employee = &subject.employee;
        for mapping in &self.mappings {
            let value = match &mapping.source {
                Source::Constant(value) => Some(value.clone()),
                Source::Template(template) => template.render(employee),
            }
            .or_else(|| mapping.default.as_ref().and_then(|d| d.render(employee)));
            let Some(value) = value else { continue };
            match mapping.target.as_str() {
                "user_name" => desired.user_name = value,
                "email" => desired.email = Some(value),
                "first_name" => desired.first_name = value,
                "last_name" => desired.last_name = value,
                "external_id" => desired.external_id = value,
                name => {
                    let list = if mapping.only_on_create {
                        &mut desired.create_only
                    } else {
                        &mut desired.attributes
                    };
                    list.retain(|a| a.name != name);
                    list.push(Attribute {
                        name: name.to_string(),
                        value: AttributeValue::Text(value),
                    });
                }
            }
        }
        Decision::Modify(desired)
    }
}

export_rule!(AttributeMap);

#[cfg(test)]
mod tests {
    use super::*;
    use hrsync_sdk::{DesiredAccount, Employee, EmployeeStatus, PersonRef};
    use serde_json::json;

    fn employee() -> Employee {
        Employee {
            hr_id: "42".into(),
            email: Some("juergen.mueller@example.com".into()),
            first_name: "Jürgen".into(),
            last_name: "Müller".into(),
            preferred_name: None,
            status: EmployeeStatus::Active,
            employment_type: Some("internal".into()),
            job_title: Some("Leiter \"Einkauf\"".into()),
            department: Some("".into()),
            team: None,
            office: Some("Köln".into()),
            supervisor: Some(PersonRef {
                hr_id: "7".into(),
                email: Some("zoe@example.com".into()),
                first_name: Some("Zoë".into()),
                last_name: None,
            }),
            hire_date: Some("2021-04-01".into()),
            termination_date: None,
            gender: None,
            language: None,
            custom: vec![Attribute {
                name: "Cost center".into(),
                value: AttributeValue::Integer(4711),
            }],
        }
    }

    fn map(mappings: serde_json::Value) -> AttributeMap {
        let config: Config = serde_json::from_value(json!({ "attributes": mappings })).expect("a config");
        let mappings = config
            .attributes
            .into_iter()
            .enumerate()
            .map(|(i, m)| compile(i, m))
            .collect::<Result<Vec<_>, _>>();
        match mappings {
            Ok(mappings) => AttributeMap { mappings },
            Err(error) => panic!("does not compile: {error:?}"),
        }
    }

    #[test]
    fn from_with_braces_is_refused_rather_than_made_a_constant() {
        let (field, message) = compile_error(json!({ "target": "title", "from": "{office}" }));
        assert_eq!(field, "attributes[3].from");
        assert!(
            message.contains("`from = \"office\"`") && message.contains("`template = \"{office}\"`"),
            "{message}"
        );
    }

    fn compile_error(mapping: serde_json::Value) -> (String, String) {
        let mapping: MappingConfig = serde_json::from_value(mapping).expect("a mapping");
        match compile(3, mapping) {
            Ok(_) => panic!("compiled"),
            Err(PluginError::InvalidInput(invalid)) => (invalid.field, invalid.message),
            Err(other) => panic!("expected invalid input, got {other:?}"),
        }
    }

    fn apply(mappings: serde_json::Value, subject: Subject) -> DesiredAccount {
        match map(mappings).evaluate_one(subject) {
            Decision::Modify(desired) => desired,
            other => panic!("expected a modified account, got {other:?}"),
        }
    }

    fn apply_to(mappings: serde_json::Value, employee: Employee) -> DesiredAccount {
        apply(
            mappings,
            Subject {
                employee,
                desired: None,
            },
        )
    }

    fn texts(list: &[Attribute]) -> Vec<(&str, String)> {
        list.iter()
            .map(|a| match &a.value {
                AttributeValue::Text(text) => (a.name.as_str(), text.clone()),
                other => panic!("{} is not text: {other:?}", a.name),
            })
            .collect()
    }

    #[test]
    fn from_copies_an_employee_field_as_it_is() {
        let desired = apply_to(json!([{ "target": "title", "from": "job_title" }]), employee());
        assert_eq!(
            texts(&desired.attributes),
            [("title", "Leiter \"Einkauf\"".to_string())]
        );
        assert!(desired.create_only.is_empty());
    }

    #[test]
    fn from_reads_custom_and_supervisor_fields_as_text() {
        let desired = apply_to(
            json!([
                { "target": "cost_center", "from": "custom.Cost center" },
                { "target": "manager_email", "from": "supervisor.email" },
            ]),
            employee(),
        );
        assert_eq!(
            texts(&desired.attributes),
            [
                ("cost_center", "4711".to_string()),
                ("manager_email", "zoe@example.com".to_string())
            ]
        );
    }

    #[test]
    fn a_constant_value_is_sent_for_everyone() {
        let desired = apply_to(json!([{ "target": "role", "value": "employee" }]), employee());
        assert_eq!(texts(&desired.attributes), [("role", "employee".to_string())]);
    }

    #[test]
    fn a_template_combines_fields_and_text() {
        let desired = apply_to(
            json!([{ "target": "display_name", "template": "{first_name} {last_name} ({office})" }]),
            employee(),
        );
        assert_eq!(
            texts(&desired.attributes),
            [("display_name", "Jürgen Müller (Köln)".to_string())]
        );
    }

    #[test]
    fn the_default_is_used_when_the_source_is_empty() {
        let mappings = json!([
            { "target": "display_name", "template": "{preferred_name} {last_name}", "default": "{first_name} {last_name}" },
            { "target": "department", "from": "department", "default": "Unassigned" },
        ]);
        let desired = apply_to(mappings.clone(), employee());
        assert_eq!(
            texts(&desired.attributes),
            [
                ("display_name", "Jürgen Müller".to_string()),
                ("department", "Unassigned".to_string())
            ]
        );
        let mut named = employee();
        named.preferred_name = Some("Jürgi".into());
        named.department = Some("Vertrieb Süd".into());
        let desired = apply_to(mappings, named);
        assert_eq!(
            texts(&desired.attributes),
            [
                ("display_name", "Jürgi Müller".to_string()),
                ("department", "Vertrieb Süd".to_string())
            ]
        );
    }

    #[test]
    fn without_a_default_an_empty_source_leaves_the_field_unowned() {
        let desired = apply_to(
            json!([
                { "target": "department", "from": "department" },
                { "target": "manager", "template": "{supervisor.first_name} {supervisor.last_name}" },
                { "target": "team", "from": "team", "default": "{gender}" },
            ]),
            employee(),
        );
        assert!(desired.attributes.is_empty(), "{:?}", desired.attributes);
    }

    #[test]
    fn only_on_create_fields_go_to_create_only() {
        let desired = apply_to(
            json!([
                { "target": "benefits_package", "value": "New Hire", "only_on_create": true },
                { "target": "role", "value": "employee", "only_on_create": false },
            ]),
            employee(),
        );
        assert_eq!(
            texts(&desired.create_only),
            [("benefits_package", "New Hire".to_string())]
        );
        assert_eq!(texts(&desired.attributes), [("role", "employee".to_string())]);
    }

    #[test]
    fn core_targets_replace_the_accounts_own_fields() {
        let desired = apply_to(
            json!([
                { "target": "user_name", "template": "{first_name}.{last_name}" },
                { "target": "email", "template": "{hr_id}@example.com" },
                { "target": "first_name", "from": "preferred_name", "default": "{first_name}" },
                { "target": "last_name", "value": "Müller-Lüdenscheidt" },
                { "target": " external_id ", "from": "email" },
            ]),
            employee(),
        );
        assert_eq!(desired.user_name, "Jürgen.Müller");
        assert_eq!(desired.email.as_deref(), Some("42@example.com"));
        assert_eq!(desired.first_name, "Jürgen");
        assert_eq!(desired.last_name, "Müller-Lüdenscheidt");
        assert_eq!(
            desired.external_id, "juergen.mueller@example.com",
            "the target name is trimmed"
        );
        assert!(desired.attributes.is_empty());
    }

    #[test]
    fn a_mapping_replaces_an_attribute_of_the_same_name_from_earlier_rules() {
        let mut earlier = DesiredAccount::for_employee(&employee());
        earlier.attributes = vec![
            Attribute {
                name: "title".into(),
                value: AttributeValue::Text("alt".into()),
            },
            Attribute {
                name: "locale".into(),
                value: AttributeValue::Text("de-DE".into()),
            },
        ];
        earlier.teams = vec!["Alle".into()];
        let desired = apply(
            json!([{ "target": "title", "value": "neu" }]),
            Subject {
                employee: employee(),
                desired: Some(earlier),
            },
        );
        assert_eq!(
            texts(&desired.attributes),
            [("locale", "de-DE".to_string()), ("title", "neu".to_string())]
        );
        assert_eq!(desired.teams, ["Alle"], "other decisions of earlier rules are kept");
    }

    #[test]
    fn a_later_mapping_of_the_same_target_wins() {
        let desired = apply_to(
            json!([
                { "target": "title", "value": "erst" },
                { "target": "title", "from": "office" },
            ]),
            employee(),
        );
        assert_eq!(texts(&desired.attributes), [("title", "Köln".to_string())]);
    }

    #[test]
    fn a_mapping_needs_exactly_one_source() {
        for mapping in [
            json!({ "target": "title" }),
            json!({ "target": "title", "from": "job_title", "value": "x" }),
            json!({ "target": "title", "value": "x", "template": "{office}" }),
            json!({ "target": "title", "default": "x" }),
        ] {
            let (field, message) = compile_error(mapping.clone());
            assert_eq!(field, "attributes[3].target", "{mapping}");
            assert_eq!(
                message, "`title` needs exactly one of `from`, `value` or `template`",
                "{mapping}"
            );
        }
    }

    #[test]
    fn a_blank_target_is_refused() {
        let (field, message) = compile_error(json!({ "target": "  ", "value": "x" }));
        assert_eq!(field, "attributes[3].target");
        assert_eq!(message, "names no field");
    }

    #[test]
    fn unknown_fields_are_refused_where_they_are_written() {
        let (field, message) = compile_error(json!({ "target": "title", "from": "position" }));
        assert_eq!(field, "attributes[3].from");
        assert_eq!(message, "unknown field `position` at character 1");
        let (field, message) = compile_error(json!({ "target": "title", "template": "{first_name} {nachname}" }));
        assert_eq!(field, "attributes[3].template");
        assert_eq!(message, "unknown field `nachname` at character 14");
        let (field, message) = compile_error(json!({ "target": "title", "from": "job_title", "default": "{titel}" }));
        assert_eq!(field, "attributes[3].default");
        assert_eq!(message, "unknown field `titel` at character 1");
    }

    #[test]
    fn account_identity_fields_cannot_be_only_on_create() {
        for target in CORE {
            let (field, message) = compile_error(json!({ "target": target, "value": "x", "only_on_create": true }));
            assert_eq!(field, "attributes[3].only_on_create");
            assert_eq!(
                message,
                format!("`{target}` identifies the account and is always kept in step")
            );
        }
    }

    #[test]
    fn config_refuses_unknown_keys() {
        for config in [
            json!({}),
            json!({ "attributes": [{ "target": "title", "field": "job_title" }] }),
            json!({ "attributes": [{ "target": "title", "value": 5 }] }),
        ] {
            assert!(serde_json::from_value::<Config>(config.clone()).is_err(), "{config}");
        }
    }
}
