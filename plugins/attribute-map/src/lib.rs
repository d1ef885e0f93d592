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
