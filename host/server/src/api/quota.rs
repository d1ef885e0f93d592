//! Per-tenant quotas: how much of the server one tenant may take — plugin
//! versions and their bytes, installations, integrations, the size of an
//! installation's secrets and runs started per hour. The operator sets
//! them (`hrsync serve --quota NAME=VALUE`); a spent quota answers 429
//! `quota_exceeded` naming it.

use super::error::ApiError;
use super::AppState;
use hrsync_store::TenantUsage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    /// Plugin versions uploaded (every version of every plugin).
    pub plugins: u64,
    /// Their bytes together, in MiB.
    pub plugin_mib: u64,
    pub installations: u64,
    pub integrations: u64,
    /// The secret values of one installation together, in bytes.
    pub secret_bytes: u64,
    /// Runs started in the last hour (manual, test, provision, webhooks;
    /// the schedule is bounded by the minimum interval).
    pub runs_per_hour: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            plugins: 100,
            plugin_mib: 1024,
            installations: 200,
            integrations: 100,
            secret_bytes: 64 << 10,
            runs_per_hour: 600,
        }
    }
}

impl Quotas {
    /// `NAME=VALUE` settings over the defaults; names as in the fields,
    /// with `-` or `_`.
    pub fn parse(settings: &[String]) -> Result<Self, String> {
        let mut quotas = Self::default();
        for setting in settings {
            let (name, value) = setting
                .split_once('=')
                .ok_or_else(|| format!("quota `{setting}`: expected NAME=VALUE, e.g. runs-per-hour=600"))?;
            let value: u64 = value
                .trim()
                .parse()
                .map_err(|_| format!("quota `{setting}`: `{value}` is not a whole number"))?;
            let slot = match name.trim().replace('_', "-").as_str() {
                "plugins" => &mut quotas.plugins,
                "plugin-mib" => &mut quotas.plugin_mib,
                "installations" => &mut quotas.installations,
                "integrations" => &mut quotas.integrations,
                "secret-bytes" => &mut quotas.secret_bytes,
                "runs-per-hour" => &mut quotas.runs_per_hour,
                other => {
                    return Err(format!(
                        "quota `{other}` is not one of plugins, plugin-mib, installations, integrations, \
                         secret-bytes, runs-per-hour"
                    ))
                }
            };
            *slot = value;
        }
        Ok(quotas)
    }
}

fn spent(what: &str, limit: u64, setting: &str) -> ApiError {
    ApiError::Quota {
        message: format!("this tenant's quota of {limit} {what} is spent (operator setting --quota {setting}=N)"),
        retry_after: None,
    }
}

async fn usage(state: &AppState, tenant: &str) -> Result<TenantUsage, ApiError> {
    Ok(state.control.store.tenant_usage(tenant).await?)
}

/// One more plugin version of `bytes`.
pub async fn plugin(state: &AppState, tenant: &str, bytes: usize) -> Result<(), ApiError> {
    let quotas = &state.settings.quotas;
    let used = usage(state, tenant).await?;
    if used.plugins >= quotas.plugins {
        return Err(spent("plugin versions", quotas.plugins, "plugins"));
    }
    if used.plugin_bytes.saturating_add(bytes as u64) > quotas.plugin_mib.saturating_mul(1 << 20) {
        return Err(spent("MiB of plugins", quotas.plugin_mib, "plugin-mib"));
    }
    Ok(())
}

pub async fn installation(state: &AppState, tenant: &str) -> Result<(), ApiError> {
    let limit = state.settings.quotas.installations;
    if usage(state, tenant).await?.installations >= limit {
        return Err(spent("installations", limit, "installations"));
    }
    Ok(())
}

pub async fn integration(state: &AppState, tenant: &str) -> Result<(), ApiError> {
    let limit = state.settings.quotas.integrations;
    if usage(state, tenant).await?.integrations >= limit {
        return Err(spent("integrations", limit, "integrations"));
    }
    Ok(())
}

/// The secret values an installation will hold, together.
pub fn secrets<'a>(state: &AppState, values: impl IntoIterator<Item = &'a str>) -> Result<(), ApiError> {
    let limit = state.settings.quotas.secret_bytes;
    let total: u64 = values.into_iter().map(|v| v.len() as u64).sum();
    if total > limit {
        return Err(ApiError::Quota {
            message: format!(
                "the secrets of one installation take at most {limit} bytes together; these take {total} \
                 (operator setting --quota secret-bytes=N)"
            ),
            retry_after: None,
        });
    }
    Ok(())
}

/// One more run started now.
pub async fn run(state: &AppState, tenant: &str) -> Result<(), ApiError> {
    let limit = state.settings.quotas.runs_per_hour;
    if usage(state, tenant).await?.runs_last_hour >= limit {
        return Err(ApiError::Quota {
            message: format!(
                "this tenant started {limit} runs in the last hour, its quota (operator setting --quota \
                 runs-per-hour=N)"
            ),
            retry_after: Some(60),
        });
    }
    Ok(())
}
