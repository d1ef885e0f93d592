//! The installation's config and secrets. A plugin reads only the secrets its
//! manifest declares and the admin supplied; secret values are masked in
//! everything that leaves the sandbox (logs, errors).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use crate::runtime::bindings::config::{Host, SecretError};
use crate::runtime::state::PluginState;

/// A secret value. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for handing to the plugin only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The secrets an installation supplied, by name.
pub type Secrets = BTreeMap<String, Secret>;

/// What a plugin may read: its config and the declared ∩ supplied secrets.
#[derive(Debug, Clone, Default)]
pub struct ConfigAccess {
    config_json: Arc<str>,
    declared: BTreeSet<String>,
    secrets: Secrets,
    redactor: Redactor,
}

impl ConfigAccess {
    pub fn new(config: &serde_json::Value, declared: impl IntoIterator<Item = String>, secrets: Secrets) -> Self {
        let declared: BTreeSet<String> = declared.into_iter().collect();
        // Undeclared secrets are dropped here, so no path can reach them.
        let secrets: Secrets = secrets
            .into_iter()
            .filter(|(name, _)| declared.contains(name))
            .collect();
        let redactor = Redactor::new(secrets.values());
        Self {
            config_json: config.to_string().into(),
            declared,
            secrets,
            redactor,
        }
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }
}

impl Host for PluginState {
    fn get_config(&mut self) -> String {
        self.config.config_json.to_string()
    }

    fn get_secret(&mut self, name: String) -> Result<String, SecretError> {
        if !self.config.declared.contains(&name) {
            return Err(SecretError::Undeclared(format!(
                "secret `{name}` is not declared in the plugin's manifest"
            )));
        }
        match self.config.secrets.get(&name) {
            Some(secret) => Ok(secret.expose().to_string()),
            None => Err(SecretError::Missing(format!(
                "secret `{name}` has not been supplied for this installation"
            ))),
        }
    }
}

/// Masks secret values in text that leaves the sandbox.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    values: Arc<[Secret]>,
}

impl Redactor {
    pub const MASK: &'static str = "[REDACTED]";

    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Self {
        // Longest first, so a secret containing another is masked whole.
        // Very short values would mask ordinary words; they are too weak to
        // be secrets worth hiding and are left out.
        let mut values: Vec<Secret> = secrets.into_iter().filter(|s| s.0.len() >= 4).cloned().collect();
        values.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        values.dedup();
        Self { values: values.into() }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.values.iter() {
            if out.contains(secret.expose()) {
                out = out.replace(secret.expose(), Self::MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let secrets = [Secret::new("abcd"), Secret::new("abcdef-123")];
        let redactor = Redactor::new(secrets.iter());
        assert_eq!(redactor.redact("x abcdef-123 y abcd z"), "x [REDACTED] y [REDACTED] z");
    }

    #[test]
    fn undeclared_secrets_are_dropped() {
        let mut supplied = Secrets::new();
        supplied.insert("token".into(), Secret::new("tok-1234"));
        supplied.insert("other".into(), Secret::new("other-5678"));
        let access = ConfigAccess::new(&serde_json::json!({}), ["token".to_string()], supplied);
        assert_eq!(access.secrets.len(), 1);
        assert_eq!(access.redactor.redact("other-5678 tok-1234"), "other-5678 [REDACTED]");
    }

    #[test]
    fn debug_never_shows_the_value() {
        assert_eq!(
            format!("{:?} {}", Secret::new("hunter22"), Secret::new("hunter22")),
            "Secret([redacted]) [redacted]"
        );
    }
}
