//! An integration described in a TOML file, for `hrsync sync`: a source, a
//! rule pipeline and a target, each an installation (see
//! `docs/installation.md`) naming its component, plus the sync options. The
//! format is documented in `docs/integration.md`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::correlate::MatchAttribute;
use crate::installation::{InstallationError, InstallationFile};
use crate::job::{Job, PluginSetup};
use crate::plan::Options;
use crate::run::{RunError, Settings};
use crate::trigger::FullReads;
use hrsync_runtime::{Plugin, Runtime, Sandbox};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationFile {
    /// Names the integration in the run history; links and cursors are
    /// kept under it.
    pub name: String,
    /// `sqlite://PATH` or `postgres://...`; by default `hrsync.db` beside
    /// this file.
    #[serde(default)]
    pub database: Option<String>,
    pub source: InstallationFile,
    #[serde(default)]
    pub rules: Vec<InstallationFile>,
    pub target: InstallationFile,
    #[serde(default)]
    pub options: Options,
    /// The integration's IANA time zone (`Europe/Berlin`): the calendar
    /// day "today" is in rules that compare dates. UTC by default.
    #[serde(default)]
    pub timezone: Option<String>,
}

/// The longest time between full reads: a year. A longer one would never
/// happen, and a huge one overflows a `Duration`.
const MAX_FULL_READ_HOURS: f64 = 8760.0;

impl Options {
    /// The sync settings and full-read policy these options ask for,
    /// checked; errors name the option.
    pub fn settings(&self) -> Result<(Settings, FullReads), IntegrationError> {
        let o = self;
        let invalid = |field: &str, message: String| IntegrationError::Option {
            field: field.into(),
            message,
        };
        if o.deletion_threshold_percent > 100 {
            return Err(invalid(
                "deletion_threshold_percent",
                format!("{} is not a percentage (0 to 100)", o.deletion_threshold_percent),
            ));
        }
        if o.rejected_threshold_percent > 100 {
            return Err(invalid(
                "rejected_threshold_percent",
                format!("{} is not a percentage (0 to 100)", o.rejected_threshold_percent),
            ));
        }
        if !(1..=1000).contains(&o.page_size) {
            return Err(invalid(
                "page_size",
                format!("{} is not between 1 and 1000", o.page_size),
            ));
        }
        if o.create_for.is_empty() {
            return Err(invalid(
                "create_for",
                "name at least one status, e.g. [\"active\"] (to create no accounts, set create = false)".into(),
            ));
        }
        if o.create_for.contains(&hrsync_model::EmployeeStatus::Inactive) {
            return Err(invalid(
                "create_for",
                "`inactive` employees never get a new account; name onboarding, active or leave".into(),
            ));
        }
        if o.match_by.is_empty() {
            return Err(invalid("match", "name at least one attribute, e.g. [\"email\"]".into()));
        }
        let matching = o
            .match_by
            .iter()
            .enumerate()
            .map(|(i, name)| {
                MatchAttribute::parse(name).ok_or_else(|| {
                    invalid(
                        &format!("match[{i}]"),
                        format!("`{name}` is not one of email, user_name, external_id"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let hours = o.full_read_every_hours;
        if !(0.0..=MAX_FULL_READ_HOURS).contains(&hours) {
            return Err(invalid(
                "full_read_every_hours",
                format!("{hours} is not between 0 and {MAX_FULL_READ_HOURS} hours (a year)"),
            ));
        }
        let full_reads = if hours == 0.0 {
            FullReads::Always
        } else {
            FullReads::Every(Duration::from_secs_f64(hours * 3600.0))
        };
        let settings = Settings {
            options: o.clone(),
            matching,
            ..Settings::default()
        };
        Ok((settings, full_reads))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{section}: {source}")]
    Installation { section: String, source: InstallationError },
    #[error("{section}.plugin: missing; name the component, e.g. plugin = \"plugins/personio.wasm\"")]
    NoPlugin { section: String },
    #[error("{section}.plugin: {message}")]
    Load { section: String, message: String },
    #[error("{section}.plugin: the component is a {found} plugin, expected a {expected} plugin")]
    Kind {
        section: String,
        found: &'static str,
        expected: &'static str,
    },
    #[error("{section}.config: {message}")]
    Config { section: String, message: String },
    #[error("options.{field}: {message}")]
    Option { field: String, message: String },
    #[error("timezone: `{0}` is not an IANA time zone such as Europe/Berlin")]
    TimeZone(String),
}

/// A SQLite database named by a relative path is beside the file that
/// names it, as the plugins and secret files are (`sqlite://hrsync.db` does
/// not depend on where `hrsync` runs); other URLs are left as they are.
fn beside(base: &Path, url: String) -> String {
    let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
        return url;
    };
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(':') || Path::new(path).is_absolute() {
        return url;
    }
    format!("sqlite://{}", base.join(rest).display())
}

impl IntegrationFile {
    pub fn load(path: &Path) -> Result<Self, IntegrationError> {
        let text = std::fs::read_to_string(path).map_err(|source| IntegrationError::Read {
            path: path.into(),
            source,
        })?;
        let mut file: Self = toml::from_str(&text).map_err(|e| IntegrationError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        file.source.resolve_paths(base);
        file.target.resolve_paths(base);
        for rule in &mut file.rules {
            rule.resolve_paths(base);
        }
        file.database = Some(match file.database.take() {
            Some(url) => beside(base, url),
            None => format!("sqlite://{}", base.join("hrsync.db").display()),
        });
        Ok(file)
    }

    /// Settings and full-read policy from `[options]`, checked.
    pub fn settings(&self) -> Result<(Settings, FullReads), IntegrationError> {
        self.options.settings()
    }

    /// `error` as the file's author reads it: a rule's error names the file
    /// its script came from (`[rules.config_files]`), whose lines it counts.
    pub fn explain(&self, error: &RunError) -> String {
        match error {
            RunError::Rules(failed) => match self.rules.get(failed.index) {
                Some(rule) => rule.name_config_files(error.to_string()),
                None => error.to_string(),
            },
            other => other.to_string(),
        }
    }

    /// Loads the components, checks each installation against its manifest
    /// and the options, and returns the job ready to run.
    pub fn job(&self, runtime: &Runtime) -> Result<Job, IntegrationError> {
        use hrsync_model::PluginKind;
        let setup = |section: String, file: &InstallationFile, kind: PluginKind| {
            let path = file.plugin.as_ref().ok_or_else(|| IntegrationError::NoPlugin {
                section: section.clone(),
            })?;
            let plugin: Plugin = runtime.load_file(path).map_err(|e| IntegrationError::Load {
                section: section.clone(),
                message: format!("{}: {e}", path.display()),
            })?;
            if plugin.kind() != kind {
                return Err(IntegrationError::Kind {
                    section,
                    found: plugin.kind().name(),
                    expected: kind.name(),
                });
            }
            let sandbox: Sandbox = file.sandbox().map_err(|source| IntegrationError::Installation {
                section: section.clone(),
                source,
            })?;
            plugin.validate(&sandbox).map_err(|errors| IntegrationError::Config {
                section: section.clone(),
                message: file.name_config_files(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
            })?;
            let setup = PluginSetup { plugin, sandbox };
            if kind == PluginKind::Rule {
                setup.check_rule().map_err(|e| IntegrationError::Config {
                    section,
                    message: file.name_config_files(e.to_string()),
                })?;
            }
            Ok(setup)
        };
        let (settings, full_reads) = self.settings()?;
        if let Some(zone) = &self.timezone {
            zone.parse::<chrono_tz::Tz>()
                .map_err(|_| IntegrationError::TimeZone(zone.clone()))?;
        }
        let job = Job {
            integration: self.name.clone(),
            source: setup("source".into(), &self.source, PluginKind::Source)?.into(),
            rules: self
                .rules
                .iter()
                .enumerate()
                .map(|(i, rule)| setup(format!("rules[{i}]"), rule, PluginKind::Rule))
                .collect::<Result<_, _>>()?,
            target: setup("target".into(), &self.target, PluginKind::Target)?,
            settings,
            full_reads,
        };
        Ok(job.in_time_zone(self.timezone.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::beside;
    use std::path::Path;

    #[test]
    fn a_relative_sqlite_database_is_beside_the_file() {
        let base = Path::new("/etc/hrsync");
        let at = |url: &str| beside(base, url.to_string());
        assert_eq!(at("sqlite://hrsync.db"), "sqlite:///etc/hrsync/hrsync.db");
        assert_eq!(
            at("sqlite:state/hrsync.db?mode=rwc"),
            "sqlite:///etc/hrsync/state/hrsync.db?mode=rwc"
        );
        assert_eq!(at("sqlite:///var/lib/hrsync.db"), "sqlite:///var/lib/hrsync.db");
        assert_eq!(at("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(at("postgres://db.internal/hrsync"), "postgres://db.internal/hrsync");
    }
}
