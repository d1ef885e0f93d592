//! The installation's config and secrets. A plugin reads only the secrets its
//! manifest declares and the admin supplied; secret values are masked in
//! everything that leaves the sandbox (logs, errors).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::{Capability, SessionContext};
use crate::bindings::v1::config::{self, Host, SecretError};
use crate::state::PluginState;

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
#[derive(Debug, Clone)]
pub struct ConfigAccess {
    config_json: Arc<str>,
    declared: BTreeSet<String>,
    secrets: Secrets,
    redactor: Redactor,
}

impl ConfigAccess {
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }
}

impl Capability for ConfigAccess {
    fn link(linker: &mut Linker<PluginState>, get: fn(&mut PluginState) -> &mut Self) -> wasmtime::Result<()> {
        config::add_to_linker::<_, HasSelf<ConfigAccess>>(linker, get)
    }

    fn prepare(context: &SessionContext<'_>) -> Self {
        // The context holds only declared secrets, so no path reaches the
        // others.
        Self {
            config_json: context.sandbox.config.to_string().into(),
            declared: context.declared.iter().cloned().collect(),
            secrets: context.secrets.clone(),
            redactor: context.redactor.clone(),
        }
    }
}

impl Host for ConfigAccess {
    fn get_config(&mut self) -> String {
        self.config_json.to_string()
    }

    fn get_secret(&mut self, name: String) -> Result<String, SecretError> {
        if !self.declared.contains(&name) {
            return Err(SecretError::Undeclared(format!(
                "secret `{name}` is not declared in the plugin's manifest"
            )));
        }
        match self.secrets.get(&name) {
            Some(secret) => Ok(secret.expose().to_string()),
            None => Err(SecretError::Missing(format!(
                "secret `{name}` has not been supplied for this installation"
            ))),
        }
    }
}

/// Masks secret values in text that leaves the sandbox: each value, its
/// JSON-, URL- and base64-encoded forms (base64 at every alignment, as in
/// a `Basic` header that holds it after a user name), and every run of 8 or
/// more characters of any of these, so a value echoed in pieces or
/// escaped is masked too.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Values of 4 to 7 characters, masked where they occur whole.
    short: Arc<[String]>,
    /// Every 8-byte window of every form of the longer values.
    windows: Arc<std::collections::HashSet<[u8; Redactor::WINDOW]>>,
}

impl Redactor {
    pub const MASK: &'static str = "[REDACTED]";
    const WINDOW: usize = 8;

    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Self {
        // Values under 4 characters would mask ordinary words; they are too
        // weak to be secrets worth hiding and are left out.
        let mut short = Vec::new();
        let mut windows = std::collections::HashSet::new();
        for secret in secrets {
            let value = secret.expose();
            if value.len() < 4 {
                continue;
            }
            if value.len() < Self::WINDOW {
                short.push(value.to_string());
                continue;
            }
            for form in Self::forms(value) {
                for window in form.as_bytes().windows(Self::WINDOW) {
                    let mut key = [0u8; Self::WINDOW];
                    key.copy_from_slice(window);
                    windows.insert(key);
                }
            }
        }
        // Longest first, so a value containing another is masked whole.
        short.sort_by_key(|s| std::cmp::Reverse(s.len()));
        short.dedup();
        Self {
            short: short.into(),
            windows: Arc::new(windows),
        }
    }

    /// The value as it may appear in text: itself, JSON-escaped,
    /// URL-encoded, and base64 (standard and URL-safe) at each of the
    /// three alignments, without the characters its neighbours decide.
    fn forms(value: &str) -> Vec<String> {
        use base64::Engine;
        let mut forms = vec![value.to_string()];
        if let Ok(json) = serde_json::to_string(value) {
            forms.push(json.trim_matches('"').to_string());
        }
        forms.push(url::form_urlencoded::byte_serialize(value.as_bytes()).collect());
        for engine in [
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            for offset in 0..3usize {
                let mut bytes = vec![0u8; offset];
                bytes.extend_from_slice(value.as_bytes());
                let encoded = engine.encode(&bytes);
                let start = (offset * 8).div_ceil(6);
                let end = bytes.len() * 8 / 6;
                if end > start {
                    forms.push(encoded[start..end].to_string());
                }
            }
        }
        forms.retain(|f| f.len() >= Self::WINDOW);
        forms.dedup();
        forms
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        if !self.windows.is_empty() && out.len() >= Self::WINDOW {
            out = self.mask_windows(&out);
        }
        for value in self.short.iter() {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), Self::MASK);
            }
        }
        out
    }

    /// Replaces every run of text covered by a secret window with one mask.
    fn mask_windows(&self, text: &str) -> String {
        let bytes = text.as_bytes();
        let mut covered = vec![false; bytes.len()];
        let mut any = false;
        for (start, window) in bytes.windows(Self::WINDOW).enumerate() {
            let mut key = [0u8; Self::WINDOW];
            key.copy_from_slice(window);
            if self.windows.contains(&key) {
                covered[start..start + Self::WINDOW].fill(true);
                any = true;
            }
        }
        if !any {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut masking = false;
        for (index, c) in text.char_indices() {
            // A character is masked when any of its bytes is.
            if covered[index..index + c.len_utf8()].iter().any(|b| *b) {
                if !masking {
                    out.push_str(Self::MASK);
                    masking = true;
                }
            } else {
                out.push(c);
                masking = false;
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
    fn masks_escaped_encoded_and_partial_forms() {
        use base64::Engine;
        let secret = r#"s3cr3t/"quote"+plus&amp=42"#;
        let redactor = Redactor::new([Secret::new(secret)].iter());
        let json = serde_json::to_string(&serde_json::json!({ "echo": secret })).unwrap();
        let url: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("client-id:{secret}"));
        let alone = base64::engine::general_purpose::URL_SAFE.encode(secret);
        let half = &secret[..12];
        for text in [
            json,
            url,
            format!("Basic {basic}"),
            alone,
            format!("the first half: {half}!"),
        ] {
            let masked = redactor.redact(&text);
            assert!(masked.contains(Redactor::MASK), "{text} -> {masked}");
            for piece in secret.as_bytes().windows(8) {
                let piece = std::str::from_utf8(piece).unwrap();
                assert!(!masked.contains(piece), "{piece} left in {masked}");
            }
        }
        // Ordinary text stays as it is.
        assert_eq!(
            redactor.redact("401 Unauthorized: bad token"),
            "401 Unauthorized: bad token"
        );
        assert_eq!(redactor.redact("Grüße aus München"), "Grüße aus München");
    }

    #[test]
    fn undeclared_secrets_are_dropped() {
        let mut supplied = Secrets::new();
        supplied.insert("token".into(), Secret::new("tok-1234"));
        supplied.insert("other".into(), Secret::new("other-5678"));
        let sandbox = crate::plugin::Sandbox {
            secrets: supplied,
            ..Default::default()
        };
        let context = SessionContext::new("p", &sandbox, vec!["token".to_string()]);
        let access = ConfigAccess::prepare(&context);
        assert_eq!(access.secrets.len(), 1);
        assert!(!access.secrets.contains_key("other"));
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
