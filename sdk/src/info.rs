//! What a plugin says about itself (turned into the WIT `manifest`).

use crate::{Manifest, PluginKind, SecretSpec};

/// Name, version, config schema, secrets and hosts of a plugin.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    name: String,
    version: String,
    description: String,
    config_schema: serde_json::Value,
    secrets: Vec<SecretSpec>,
    hosts: Vec<String>,
}

impl PluginInfo {
    /// `name`: lowercase letters, digits and `-`; `version`: semver (use
    /// `env!("CARGO_PKG_VERSION")`).
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: String::new(),
            config_schema: serde_json::json!({"type": "object"}),
            secrets: Vec::new(),
            hosts: Vec::new(),
        }
    }

    pub fn description(mut self, text: &str) -> Self {
        self.description = text.into();
        self
    }

    /// JSON Schema of the installation's config; the host validates configs
    /// against it before the plugin runs.
    pub fn config_schema(mut self, schema: serde_json::Value) -> Self {
        self.config_schema = schema;
        self
    }

    /// A secret the plugin reads with [`crate::secret`].
    pub fn secret(mut self, name: &str, description: &str, required: bool) -> Self {
        self.secrets.push(SecretSpec {
            name: name.into(),
            description: description.into(),
            required,
        });
        self
    }

    /// An origin the plugin wants to reach, `scheme://host[:port]`
    /// (`*.example.com` for subdomains). The admin grants it.
    pub fn host(mut self, origin: &str) -> Self {
        self.hosts.push(origin.into());
        self
    }

    #[doc(hidden)]
    pub fn into_manifest(self, kind: PluginKind) -> Manifest {
        Manifest {
            name: self.name,
            version: self.version,
            kind,
            description: self.description,
            config_schema: self.config_schema.to_string(),
            secrets: self.secrets,
            requested_hosts: self.hosts,
        }
    }
}
