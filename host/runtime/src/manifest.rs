//! The plugin manifest, as `describe` returns it, checked by the host; and
//! validation of an installation's config against the manifest's schema.

use serde::Serialize;

use hrsync_model::PluginKind;

use super::capability::config::Secrets;
use super::capability::http::Grant;
use crate::bindings::v1::{types, Convert};

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub name: String,
    pub version: semver::Version,
    pub kind: &'static str,
    pub description: String,
    pub config_schema: serde_json::Value,
    pub secrets: Vec<SecretSpec>,
    pub requested_hosts: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretSpec {
    pub name: String,
    pub description: String,
    pub required: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("manifest field `{field}`: {message}")]
    Field { field: &'static str, message: String },
    #[error("the manifest says kind `{declared}`, but the component exports the {exported} interface")]
    KindMismatch {
        declared: &'static str,
        exported: &'static str,
    },
}

/// Why an installation's config or secrets do not fit the plugin.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("config field `{field}`: {message}")]
    Field { field: String, message: String },
    #[error("secret `{0}` is required by the plugin but was not supplied")]
    MissingSecret(String),
    #[error("secret `{0}` is not declared by the plugin")]
    UndeclaredSecret(String),
}

/// A plugin name: 1 to 64 of `a-z`, `0-9` and `-`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Manifest {
    /// Checks what a plugin's `describe` returned.
    pub fn from_plugin(raw: types::Manifest, exported: PluginKind) -> Result<Self, ManifestError> {
        let field = |field, message: String| ManifestError::Field { field, message };
        if !valid_name(&raw.name) {
            return Err(field("name", format!("`{}` must be 1-64 of a-z, 0-9 and -", raw.name)));
        }
        let version = semver::Version::parse(&raw.version)
            .map_err(|e| field("version", format!("`{}` is not semver: {e}", raw.version)))?;
        let declared: PluginKind = raw.kind.convert();
        if declared != exported {
            return Err(ManifestError::KindMismatch {
                declared: declared.name(),
                exported: exported.name(),
            });
        }
        let config_schema: serde_json::Value = if raw.config_schema.trim().is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(&raw.config_schema).map_err(|e| field("config-schema", format!("not JSON: {e}")))?
        };
        jsonschema::validator_for(&config_schema)
            .map_err(|e| field("config-schema", format!("not a valid JSON Schema: {e}")))?;
        for secret in &raw.secrets {
            if secret.name.is_empty() {
                return Err(field("secrets", "a secret has an empty name".into()));
            }
        }
        for host in &raw.requested_hosts {
            Grant::parse(host).map_err(|e| field("requested-hosts", e.to_string()))?;
        }
        Ok(Self {
            name: raw.name,
            version,
            kind: declared.name(),
            description: raw.description,
            config_schema,
            secrets: raw
                .secrets
                .into_iter()
                .map(|s| SecretSpec {
                    name: s.name,
                    description: s.description,
                    required: s.required,
                })
                .collect(),
            requested_hosts: raw.requested_hosts,
        })
    }

    /// Checks an installation's config against the schema and its secrets
    /// against the declared ones. Errors name the field or secret.
    pub fn validate_installation(&self, config: &serde_json::Value, secrets: &Secrets) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        match jsonschema::validator_for(&self.config_schema) {
            Ok(validator) => {
                for error in validator.iter_errors(config) {
                    let path = error.instance_path.to_string();
                    let field = if path.is_empty() {
                        "(root)".to_string()
                    } else {
                        path.trim_start_matches('/').replace('/', ".")
                    };
                    errors.push(ConfigError::Field {
                        field,
                        message: error.to_string(),
                    });
                }
            }
            Err(e) => errors.push(ConfigError::Field {
                field: "(schema)".into(),
                message: e.to_string(),
            }),
        }
        for spec in &self.secrets {
            if spec.required && !secrets.contains_key(&spec.name) {
                errors.push(ConfigError::MissingSecret(spec.name.clone()));
            }
        }
        for name in secrets.keys() {
            if !self.secrets.iter().any(|s| &s.name == name) {
                errors.push(ConfigError::UndeclaredSecret(name.clone()));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub fn declared_secrets(&self) -> impl Iterator<Item = String> + '_ {
        self.secrets.iter().map(|s| s.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::config::Secret;

    fn raw(schema: &str) -> types::Manifest {
        types::Manifest {
            name: "personio".into(),
            version: "1.2.0".into(),
            kind: types::PluginKind::Source,
            description: "Personio".into(),
            config_schema: schema.into(),
            secrets: vec![types::SecretSpec {
                name: "client-secret".into(),
                description: String::new(),
                required: true,
            }],
            requested_hosts: vec!["https://api.personio.de".into()],
        }
    }

    const SCHEMA: &str = r#"{"type":"object","required":["client_id"],"properties":{"client_id":{"type":"string"},"page_size":{"type":"integer","minimum":1}},"additionalProperties":false}"#;

    #[test]
    fn config_errors_name_the_field() {
        let manifest = Manifest::from_plugin(raw(SCHEMA), PluginKind::Source).unwrap();
        let mut secrets = Secrets::new();
        secrets.insert("client-secret".into(), Secret::new("s3cr3t-value"));
        assert!(manifest
            .validate_installation(&serde_json::json!({"client_id": "abc"}), &secrets)
            .is_ok());

        let errors = manifest
            .validate_installation(&serde_json::json!({"client_id": "abc", "page_size": 0}), &secrets)
            .unwrap_err();
        assert!(
            matches!(&errors[..], [ConfigError::Field { field, .. }] if field == "page_size"),
            "{errors:?}"
        );

        let errors = manifest
            .validate_installation(&serde_json::json!({}), &Secrets::new())
            .unwrap_err();
        assert!(errors.iter().any(|e| e.to_string().contains("client_id")), "{errors:?}");
        assert!(
            errors.contains(&ConfigError::MissingSecret("client-secret".into())),
            "{errors:?}"
        );
    }

    #[test]
    fn bad_manifests_are_rejected_with_the_field() {
        let mut bad = raw("{not json");
        assert!(matches!(
            Manifest::from_plugin(bad.clone(), PluginKind::Source),
            Err(ManifestError::Field {
                field: "config-schema",
                ..
            })
        ));
        bad.config_schema = SCHEMA.into();
        bad.version = "one".into();
        assert!(matches!(
            Manifest::from_plugin(bad.clone(), PluginKind::Source),
            Err(ManifestError::Field { field: "version", .. })
        ));
        assert!(matches!(
            Manifest::from_plugin(raw(SCHEMA), PluginKind::Target),
            Err(ManifestError::KindMismatch { .. })
        ));
        let mut bad_host = raw(SCHEMA);
        bad_host.requested_hosts = vec!["api.personio.de".into()];
        assert!(matches!(
            Manifest::from_plugin(bad_host, PluginKind::Source),
            Err(ManifestError::Field {
                field: "requested-hosts",
                ..
            })
        ));
    }
}
