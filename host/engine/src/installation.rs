//! An installation described in a file: the plugin's config, where its
//! secrets come from, the hosts granted to it and its limits. See
//! `docs/installation.md` for the format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use hrsync_runtime::{Grant, HttpPolicy, Limits, Sandbox, Secret, Secrets};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallationFile {
    /// The component, when the file names it (integration files do);
    /// relative paths are relative to the file.
    #[serde(default)]
    pub plugin: Option<PathBuf>,
    /// The plugin's config, checked against its schema.
    #[serde(default = "empty_object")]
    pub config: toml::Value,
    /// Secret name -> where to read the value.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSource>,
    /// Config keys whose value is the text of a file (relative to this
    /// one): `script = "teams.rhai"` keeps a script in its own file, so
    /// that its errors name that file's lines.
    #[serde(default)]
    pub config_files: BTreeMap<String, PathBuf>,
    /// Origins the plugin may reach: `scheme://host[:port]`, `*.domain`.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    #[serde(default)]
    pub limits: LimitsFile,
}

impl Default for InstallationFile {
    fn default() -> Self {
        Self {
            plugin: None,
            config: empty_object(),
            config_files: BTreeMap::new(),
            secrets: BTreeMap::new(),
            allowed_hosts: Vec::new(),
            limits: LimitsFile::default(),
        }
    }
}

fn empty_object() -> toml::Value {
    toml::Value::Table(Default::default())
}

/// Secrets are never written in the file itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum SecretSource {
    /// An environment variable.
    Env(String),
    /// A file; surrounding whitespace is trimmed.
    File(PathBuf),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub memory_mib: Option<usize>,
    pub call_deadline_secs: Option<f64>,
    pub http_timeout_secs: Option<f64>,
    pub max_response_mib: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallationError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("secret `{name}`: environment variable {var} is not set")]
    SecretEnv { name: String, var: String },
    #[error("secret `{name}`: {source_name} is empty")]
    SecretEmpty { name: String, source_name: String },
    #[error("secret `{name}`: cannot read {path}: {source}")]
    SecretFile {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Grant(#[from] hrsync_runtime::capability::http::GrantError),
    #[error("limits.{field}: {message}")]
    Limit { field: &'static str, message: String },
    #[error("config_files.{key}: cannot read {path}: {source}")]
    ConfigFile {
        key: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config_files.{key}: `{key}` is in [config] too; write it in one place")]
    ConfigTwice { key: String },
}

impl InstallationFile {
    pub fn load(path: &Path) -> Result<Self, InstallationError> {
        let text = std::fs::read_to_string(path).map_err(|source| InstallationError::Read {
            path: path.into(),
            source,
        })?;
        let mut file: Self = toml::from_str(&text).map_err(|e| InstallationError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        file.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        Ok(file)
    }

    /// Makes the plugin and secret file paths relative to `base` (the
    /// folder of the file they were written in).
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(plugin) = &mut self.plugin {
            *plugin = base.join(&*plugin);
        }
        for source in self.secrets.values_mut() {
            if let SecretSource::File(path) = source {
                *path = base.join(&*path);
            }
        }
        for path in self.config_files.values_mut() {
            *path = base.join(&*path);
        }
    }

    /// A config error with each key read from a file named with its file:
    /// `script` → `script` (teams.rhai), whose lines the error's are.
    pub fn name_config_files(&self, message: String) -> String {
        self.config_files.iter().fold(message, |message, (key, path)| {
            message.replace(&format!("`{key}`"), &format!("`{key}` ({})", path.display()))
        })
    }

    /// Resolves secrets and grants into what a plugin session gets.
    pub fn sandbox(&self) -> Result<Sandbox, InstallationError> {
        let mut secrets = Secrets::new();
        for (name, source) in &self.secrets {
            let value = match source {
                SecretSource::Env(var) => std::env::var(var).map_err(|_| InstallationError::SecretEnv {
                    name: name.clone(),
                    var: var.clone(),
                })?,
                SecretSource::File(path) => std::fs::read_to_string(path)
                    .map_err(|source| InstallationError::SecretFile {
                        name: name.clone(),
                        path: path.clone(),
                        source,
                    })?
                    .trim()
                    .to_string(),
            };
            // An empty secret is a mistake (`TOKEN= hrsync ...`), not a
            // credential: say so here rather than as the provider's 401.
            if value.trim().is_empty() {
                return Err(InstallationError::SecretEmpty {
                    name: name.clone(),
                    source_name: match source {
                        SecretSource::Env(var) => format!("environment variable {var}"),
                        SecretSource::File(path) => path.display().to_string(),
                    },
                });
            }
            secrets.insert(name.clone(), Secret::new(value));
        }
        let mut http = HttpPolicy {
            grants: self
                .allowed_hosts
                .iter()
                .map(|g| Grant::parse(g))
                .collect::<Result<_, _>>()?,
            ..HttpPolicy::default()
        };
        let mut limits = Limits::default();
        let secs = |field, value: f64| {
            if value.is_finite() && value > 0.0 && value <= 3600.0 {
                Ok(Duration::from_secs_f64(value))
            } else {
                Err(InstallationError::Limit {
                    field,
                    message: format!("{value} is not between 0 and 3600 seconds"),
                })
            }
        };
        if let Some(mib) = self.limits.memory_mib {
            let max = hrsync_runtime::engine::MAX_PLUGIN_MEMORY >> 20;
            if mib == 0 || mib > max {
                return Err(InstallationError::Limit {
                    field: "memory_mib",
                    message: format!("{mib} is not between 1 and {max}"),
                });
            }
            limits.memory_bytes = mib << 20;
        }
        if let Some(value) = self.limits.call_deadline_secs {
            limits.call_deadline = secs("call_deadline_secs", value)?;
        }
        if let Some(value) = self.limits.http_timeout_secs {
            http.timeout = secs("http_timeout_secs", value)?;
        }
        if let Some(mib) = self.limits.max_response_mib {
            http.max_response_bytes = mib << 20;
        }
        let mut config = serde_json::to_value(&self.config).map_err(|e| InstallationError::Parse {
            path: PathBuf::from("config"),
            message: e.to_string(),
        })?;
        for (key, path) in &self.config_files {
            let text = std::fs::read_to_string(path).map_err(|source| InstallationError::ConfigFile {
                key: key.clone(),
                path: path.clone(),
                source,
            })?;
            if let Some(object) = config.as_object_mut() {
                if object.insert(key.clone(), serde_json::Value::String(text)).is_some() {
                    return Err(InstallationError::ConfigTwice { key: key.clone() });
                }
            }
        }
        Ok(Sandbox {
            config,
            secrets,
            http,
            limits,
            run_id: None,
            time_zone: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_config_secrets_hosts_and_limits() {
        std::env::set_var("HRSYNC_TEST_SECRET_A", "value-from-env");
        let file: InstallationFile = toml::from_str(
            r#"
            allowed_hosts = ["https://api.personio.de"]
            [config]
            client_id = "abc"
            page_size = 100
            [secrets]
            client-secret = { env = "HRSYNC_TEST_SECRET_A" }
            [limits]
            memory_mib = 64
            call_deadline_secs = 2.5
            "#,
        )
        .unwrap();
        let sandbox = file.sandbox().unwrap();
        assert_eq!(
            sandbox.config,
            serde_json::json!({"client_id": "abc", "page_size": 100})
        );
        assert_eq!(sandbox.secrets["client-secret"].expose(), "value-from-env");
        assert_eq!(sandbox.limits.memory_bytes, 64 << 20);
        assert_eq!(sandbox.limits.call_deadline, Duration::from_millis(2500));
        assert_eq!(sandbox.http.grants.len(), 1);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let file: InstallationFile =
            toml::from_str("[secrets]\ntoken = { env = \"HRSYNC_TEST_UNSET_VARIABLE\" }").unwrap();
        let message = file.sandbox().unwrap_err().to_string();
        assert!(
            message.contains("token") && message.contains("HRSYNC_TEST_UNSET_VARIABLE"),
            "{message}"
        );

        let file: InstallationFile = toml::from_str("[limits]\nmemory_mib = 999999").unwrap();
        assert!(file.sandbox().unwrap_err().to_string().contains("memory_mib"));

        assert!(toml::from_str::<InstallationFile>("[secrets]\ntoken = \"literal\"").is_err());
    }
}
