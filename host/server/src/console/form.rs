//! A plugin's config form, generated from the JSON Schema in its manifest:
//! one field per property — text, number, a checkbox, a choice of the
//! enum, a list — with the property's description, required marks and the
//! server's error next to the field it names. What the schema nests
//! deeper is edited as JSON. Also the secrets (write-only) and the hosts a
//! plugin asks for, as grants in words.

use std::collections::BTreeMap;

use maud::{html, Markup};
use serde_json::{json, Value};

/// Errors by field, as the API names them: `config.base_url`,
/// `secrets.client-id`, `allowed_hosts[0]`.
pub type FieldErrors = BTreeMap<String, String>;

/// The first value of field `name` in a submitted form.
pub fn value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The kind of input a property gets.
enum Input {
    Text,
    Number,
    Boolean,
    Choice(Vec<String>),
    /// A list of strings: one per line.
    List,
    /// Anything deeper: JSON.
    Json,
}

fn input_of(property: &Value) -> Input {
    if let Some(choices) = property["enum"].as_array() {
        return Input::Choice(
            choices
                .iter()
                .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_string))
                .collect(),
        );
    }
    match property["type"].as_str() {
        Some("string") => Input::Text,
        Some("integer" | "number") => Input::Number,
        Some("boolean") => Input::Boolean,
        Some("array") if property["items"]["type"] == "string" => Input::List,
        _ => Input::Json,
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A property's name as a piece of an HTML id (no spaces, which would
/// split `aria-describedby`).
fn html_id(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Whether a boolean property is on: set so, or by default.
fn is_on(property: &Value, value: &Value) -> bool {
    match value {
        Value::Bool(on) => *on,
        _ => property["default"] == json!(true),
    }
}

fn error_for<'a>(errors: &'a FieldErrors, field: &str) -> Option<&'a String> {
    errors.get(field)
}

/// The config fields of `schema`, filled with `config`.
pub fn config_fields(schema: &Value, config: &Value, errors: &FieldErrors) -> Markup {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let properties = schema["properties"].as_object().cloned().unwrap_or_default();
    html! {
        @if properties.is_empty() {
            p.hint { "This plugin has no settings." }
        }
        @for (name, property) in &properties {
            @let id = format!("config-{}", html_id(name));
            @let field = format!("config.{name}");
            @let value = &config[name.as_str()];
            @let error = error_for(errors, &field);
            @let required = required.contains(&name.as_str());
            @let hint = property["description"].as_str().unwrap_or("");
            @let described = format!("{id}-hint {id}-error");
            div.field {
                @match input_of(property) {
                    Input::Boolean => {
                        div.check {
                            input type="checkbox" id=(id) name=(field) value="true" checked[is_on(property, value)] aria-describedby=(described);
                            label for=(id) { (name) }
                        }
                    }
                    kind => {
                        label for=(id) { (name) @if required { span.required aria-hidden="true" { " *" } } }
                        @match kind {
                            Input::Choice(choices) => {
                                select id=(id) name=(field) required[required] aria-describedby=(described) aria-invalid=[error.map(|_| "true")] {
                                    @if !required { option value="" { "(default)" } }
                                    @for choice in &choices { option value=(choice) selected[&shown(value) == choice] { (choice) } }
                                }
                            }
                            Input::Number => {
                                input type="number" id=(id) name=(field) value=(shown(value)) required[required] aria-describedby=(described) aria-invalid=[error.map(|_| "true")];
                            }
                            Input::List => {
                                textarea id=(id) name=(field) rows="3" aria-describedby=(described) aria-invalid=[error.map(|_| "true")] {
                                    (value.as_array().map(|items| items.iter().map(shown).collect::<Vec<_>>().join("\n")).unwrap_or_default())
                                }
                            }
                            Input::Json => {
                                textarea.code id=(id) name=(format!("{field}.json")) rows="5" spellcheck="false" aria-describedby=(described) aria-invalid=[error.map(|_| "true")] {
                                    (if value.is_null() { String::new() } else { serde_json::to_string_pretty(value).unwrap_or_default() })
                                }
                            }
                            _ => {
                                input type="text" id=(id) name=(field) value=(shown(value)) required[required] aria-describedby=(described) aria-invalid=[error.map(|_| "true")];
                            }
                        }
                    }
                }
                span.hint id=(format!("{id}-hint")) { (hint) @if matches!(input_of(property), Input::List) { " One per line." } @if matches!(input_of(property), Input::Json) { " As JSON." } }
                span.error id=(format!("{id}-error")) role=[error.map(|_| "alert")] { @if let Some(error) = error { (error) } }
            }
        }
    }
}

/// The config a submitted form describes, by the schema: numbers and
/// booleans typed, lists split, empty fields left out. A value that does
/// not parse is kept as text, for the server's check to name; JSON that
/// does not parse is an error for its field.
pub fn config_from_form(schema: &Value, form: &[(String, String)]) -> Result<Value, FieldErrors> {
    let get = |name: &str| value(form, name).map(str::trim);
    let mut config = serde_json::Map::new();
    let mut errors = FieldErrors::new();
    let properties = schema["properties"].as_object().cloned().unwrap_or_default();
    for (name, property) in &properties {
        let field = format!("config.{name}");
        let value = match input_of(property) {
            // An unticked box is an explicit false (a default of true
            // could not be turned off otherwise).
            Input::Boolean => Some(json!(get(&field).is_some())),
            Input::Number => get(&field).filter(|t| !t.is_empty()).map(|text| {
                text.parse::<i64>()
                    .map(|n| json!(n))
                    .or_else(|_| text.parse::<f64>().map(|n| json!(n)))
                    .unwrap_or_else(|_| json!(text))
            }),
            Input::List => get(&field).filter(|t| !t.is_empty()).map(|text| {
                Value::Array(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|l| json!(l))
                        .collect(),
                )
            }),
            Input::Json => match get(&format!("{field}.json")).filter(|t| !t.is_empty()) {
                None => None,
                Some(text) => match serde_json::from_str(text) {
                    Ok(value) => Some(value),
                    Err(error) => {
                        errors.insert(
                            field.clone(),
                            format!("not JSON: {error} (line {}, column {})", error.line(), error.column()),
                        );
                        None
                    }
                },
            },
            Input::Text | Input::Choice(_) => get(&field).filter(|t| !t.is_empty()).map(|t| json!(t)),
        };
        if let Some(value) = value {
            config.insert(name.clone(), value);
        }
    }
    if errors.is_empty() {
        Ok(Value::Object(config))
    } else {
        Err(errors)
    }
}

/// The secrets a plugin declares, as password fields: write-only, shown
/// as "set" or "not set", an empty field keeps what is set.
pub fn secret_fields(manifest: &Value, set: &[String], errors: &FieldErrors) -> Markup {
    let secrets = manifest["secrets"].as_array().cloned().unwrap_or_default();
    html! {
        @if secrets.is_empty() {
            p.hint { "This plugin needs no secrets." }
        }
        @for secret in &secrets {
            @let name = secret["name"].as_str().unwrap_or("");
            @let id = format!("secret-{}", html_id(name));
            @let field = format!("secrets.{name}");
            @let is_set = set.iter().any(|s| s == name);
            @let error = error_for(errors, &field);
            div.field {
                label for=(id) { (name) @if secret["required"] == true && !is_set { span.required aria-hidden="true" { " *" } } }
                input type="password" id=(id) name=(field) autocomplete="off" aria-describedby=(format!("{id}-hint {id}-error")) aria-invalid=[error.map(|_| "true")]
                    placeholder=(if is_set { "set — leave empty to keep it" } else { "not set" });
                span.hint id=(format!("{id}-hint")) { (secret["description"].as_str().unwrap_or("")) " · " strong { @if is_set { "set" } @else { "not set" } } }
                span.error id=(format!("{id}-error")) role=[error.map(|_| "alert")] { @if let Some(error) = error { (error) } }
            }
        }
    }
}

/// The secrets entered (names and values); empty fields are not sent.
pub fn secrets_from_form(form: &[(String, String)]) -> BTreeMap<String, String> {
    form.iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("secrets.")?.to_string(), v.clone())))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// The hosts a plugin asks for, as grants in words the admin ticks (all of
/// them at first for a new installation; afterwards those granted), and
/// any more origins (the plugin's own base URL pointed elsewhere).
pub fn host_fields(manifest: &Value, granted: &[String], fresh: bool, errors: &FieldErrors) -> Markup {
    let requested: Vec<String> = manifest["requested_hosts"]
        .as_array()
        .map(|h| h.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let others: Vec<&String> = granted.iter().filter(|h| !requested.contains(h)).collect();
    let error = errors
        .iter()
        .find(|(k, _)| k.starts_with("allowed_hosts"))
        .map(|(_, v)| v);
    html! {
        fieldset {
            legend { "Network access" }
            p.hint { "The plugin reaches nothing but the origins you grant here." }
            @for (n, host) in requested.iter().enumerate() {
                div.check {
                    input type="checkbox" id=(format!("host-{n}")) name="host" value=(host) checked[(fresh && granted.is_empty()) || granted.contains(host)];
                    label for=(format!("host-{n}")) { "May connect to " strong { (host) } }
                }
            }
            div.field {
                label for="more-hosts" { "More origins (one per line)" }
                textarea #more-hosts name="more_hosts" rows="2" aria-describedby="more-hosts-hint hosts-error" aria-invalid=[error.map(|_| "true")] { (others.iter().map(|h| h.as_str()).collect::<Vec<_>>().join("\n")) }
                span.hint #more-hosts-hint { "e.g. https://api.example.com or https://*.example.com, when you point the plugin at another address." }
                span.error #hosts-error role=[error.map(|_| "alert")] { @if let Some(error) = error { (error) } }
            }
        }
    }
}

/// The origins granted by the form.
pub fn hosts_from_form(form: &[(String, String)]) -> Vec<String> {
    let mut hosts: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "host")
        .map(|(_, v)| v.clone())
        .collect();
    if let Some(more) = value(form, "more_hosts") {
        hosts.extend(
            more.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["base_url"],
            "properties": {
                "base_url": { "type": "string", "description": "where the API is" },
                "page": { "type": "integer" },
                "preset": { "enum": ["generic", "leapsome"] },
                "strict": { "type": "boolean" },
                "tags": { "type": "array", "items": { "type": "string" } },
                "teams": { "type": "array", "items": { "type": "object" } }
            }
        })
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_form_becomes_a_typed_config() {
        let config = config_from_form(
            &schema(),
            &form(&[
                ("config.base_url", " https://x.example "),
                ("config.page", "50"),
                ("config.preset", "leapsome"),
                ("config.strict", "true"),
                ("config.tags", "a\n\n b \n"),
                ("config.teams.json", r#"[{"name": "T"}]"#),
            ]),
        )
        .unwrap();
        assert_eq!(
            config,
            json!({ "base_url": "https://x.example", "page": 50, "preset": "leapsome", "strict": true,
                    "tags": ["a", "b"], "teams": [{ "name": "T" }] })
        );
    }

    #[test]
    fn empty_fields_are_left_out_and_bad_numbers_kept_for_the_check() {
        let config = config_from_form(&schema(), &form(&[("config.base_url", ""), ("config.page", "ten")])).unwrap();
        assert_eq!(config, json!({ "page": "ten", "strict": false }));
    }

    #[test]
    fn json_that_does_not_parse_is_named_by_field() {
        let errors = config_from_form(&schema(), &form(&[("config.teams.json", "[{")])).unwrap_err();
        assert!(errors["config.teams"].starts_with("not JSON"), "{errors:?}");
    }

    #[test]
    fn the_form_shows_descriptions_required_marks_and_errors() {
        let errors = FieldErrors::from([("config.base_url".to_string(), "not a URL".to_string())]);
        let html = config_fields(&schema(), &json!({ "preset": "leapsome" }), &errors).into_string();
        assert!(html.contains("where the API is"));
        assert!(html.contains(r#"<option value="leapsome" selected>"#), "{html}");
        assert!(html.contains("not a URL"));
        assert!(html.contains(r#"aria-invalid="true""#));
    }
}
