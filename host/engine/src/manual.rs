//! Manual resolution: an admin links an employee to a given account — a
//! hand-made account with another e-mail is merged instead of duplicated,
//! a conflict is resolved without waiting for HR — or removes a link. A
//! manual link wins over matching, claims no e-mail of its own (the
//! account's e-mail and user name are left as they are) and is kept until
//! an admin removes it. `hrsync link` / `hrsync unlink` and the admin API's
//! `/integrations/{id}/links/{hr_id}` both come here.

use super::correlate::{Link, LinkOrigin};
use super::identity::AccountKeys;
use super::job::Job;
use super::retry::RetryPolicy;
use super::run::each_page;
use super::storage::{AuditEvent, RunStore};
use hrsync_model::{Account, PluginError};
use hrsync_runtime::CallError;

/// Who links or unlinks: audited as the actor (a member's e-mail, or `cli`)
/// of its tenant (none for the command line).
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub name: &'a str,
    pub tenant: Option<&'a str>,
}

impl Actor<'_> {
    pub(crate) fn event(&self, integration: &str, action: &str, detail: serde_json::Value) -> AuditEvent {
        AuditEvent {
            tenant: self.tenant.map(str::to_string),
            integration: Some(integration.to_string()),
            actor: self.name.to_string(),
            action: action.to_string(),
            detail,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManualLinkError {
    #[error("employee `{0}` is not in the HR system's read (check the HR id)")]
    UnknownEmployee(String),
    #[error("account `{0}` does not exist in the target app (check the account id)")]
    UnknownAccount(String),
    #[error("account `{account}` is linked to employee {owner}; remove that link first (hrsync unlink, or DELETE …/links/{owner})")]
    AccountTaken { account: String, owner: String },
    #[error("employee `{0}` has no link")]
    NoLink(String),
    #[error("the {role} plugin failed: {error}")]
    Plugin { role: &'static str, error: CallError },
    #[error("storage: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ManualLinkError {
    fn store(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Store(Box::new(error))
    }
}

/// What a manual link replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    pub link: Link,
    /// The employee's link before, if it had one.
    pub previous: Option<Link>,
}

impl Job {
    /// The account with this id in the target, if it exists.
    fn find_account(&self, account_id: &str) -> Result<Option<Account>, ManualLinkError> {
        let plugin = |error| ManualLinkError::Plugin { role: "target", error };
        let mut target = self.target.plugin.target(&self.target.sandbox).map_err(plugin)?;
        let retry = RetryPolicy::default();
        match retry.run(|| target.get_accounts(&[account_id.to_string()])) {
            Ok(accounts) => return Ok(accounts.into_iter().find(|a| a.id == account_id)),
            Err(error) if matches!(error.plugin_error(), Some(PluginError::Unsupported(_))) => {}
            Err(error) => return Err(plugin(error)),
        }
        let mut found = None;
        let page_size = self.settings.options.page_size;
        each_page(
            &retry,
            |page| target.list_accounts(page, page_size).map(|p| (p.accounts, p.next_page)),
            |accounts| {
                found = accounts.into_iter().find(|a| a.id == account_id);
                found.is_none()
            },
        )
        .map_err(plugin)?;
        Ok(found)
    }

    /// Whether the source has an employee with this HR id; reads pages
    /// until it is found (the whole source when it is not).
    fn employee_exists(&self, hr_id: &str) -> Result<bool, ManualLinkError> {
        let plugin = |error| ManualLinkError::Plugin { role: "source", error };
        let mut source = self.source.start(None).map_err(plugin)?;
        let mut found = false;
        let page_size = self.settings.options.page_size;
        each_page(
            &RetryPolicy::default(),
            |page| {
                source.list_employees(page, page_size).map(|p| {
                    let readable = p.employees.into_iter().map(|e| e.hr_id);
                    let unreadable = p.rejected.into_iter().filter_map(|r| r.hr_id);
                    (readable.chain(unreadable).collect::<Vec<_>>(), p.next_page)
                })
            },
            |ids| {
                found = ids.iter().any(|id| id == hr_id);
                !found
            },
        )
        .map_err(plugin)?;
        Ok(found)
    }

    /// Links employee `hr_id` to account `account_id` by hand, after
    /// checking that both exist and that the account belongs to nobody
    /// else; audited with `actor`. The next run reads everyone, so that it
    /// syncs the employee through the new link. The plugins are asked on a
    /// blocking thread, as in a run (`job.rs`).
    pub async fn link_by_hand<S: RunStore>(
        &self,
        store: &S,
        hr_id: &str,
        account_id: &str,
        actor: Actor<'_>,
    ) -> Result<Linked, ManualLinkError> {
        let integration = self.integration.as_str();
        if let Some(owner) = store
            .link_of_account(integration, account_id)
            .await
            .map_err(ManualLinkError::store)?
        {
            if owner.hr_id != hr_id {
                return Err(ManualLinkError::AccountTaken {
                    account: account_id.to_string(),
                    owner: owner.hr_id,
                });
            }
        }
        let (job, employee, wanted) = (self.clone(), hr_id.to_string(), account_id.to_string());
        let account = tokio::task::spawn_blocking(move || {
            let account = job
                .find_account(&wanted)?
                .ok_or_else(|| ManualLinkError::UnknownAccount(wanted.clone()))?;
            if !job.employee_exists(&employee)? {
                return Err(ManualLinkError::UnknownEmployee(employee));
            }
            Ok(account)
        })
        .await
        .map_err(ManualLinkError::store)??;
        let previous = store
            .link_of_employee(integration, hr_id)
            .await
            .map_err(ManualLinkError::store)?;
        let link = Link {
            hr_id: hr_id.to_string(),
            account_id: account.id.clone(),
            origin: LinkOrigin::Manual,
            keys: AccountKeys::of_account(&account),
        };
        let detail = serde_json::json!({
            "hr_id": hr_id,
            "account": account.id,
            "previous_account": previous.as_ref().map(|p| p.account_id.clone()),
        });
        async {
            store.change_links(integration, &[&link], &[]).await?;
            store.want_full_read(integration).await?;
            store
                .append_audit_events(std::iter::once(actor.event(integration, "link.manual", detail)))
                .await
        }
        .await
        .map_err(ManualLinkError::store)?;
        Ok(Linked { link, previous })
    }
}

/// Removes an employee's link, whatever made it (no plugin is needed);
/// audited with `actor`. The next run reads everyone and matches the
/// employee again.
pub async fn unlink<S: RunStore>(
    store: &S,
    integration: &str,
    hr_id: &str,
    actor: Actor<'_>,
) -> Result<Link, ManualLinkError> {
    let link = store
        .link_of_employee(integration, hr_id)
        .await
        .map_err(ManualLinkError::store)?
        .ok_or_else(|| ManualLinkError::NoLink(hr_id.to_string()))?;
    let detail = serde_json::json!({ "hr_id": hr_id, "account": link.account_id, "origin": link.origin.as_str() });
    async {
        store.change_links(integration, &[], &[hr_id]).await?;
        store.want_full_read(integration).await?;
        store
            .append_audit_events(std::iter::once(actor.event(integration, "link.removed", detail)))
            .await
    }
    .await
    .map_err(ManualLinkError::store)?;
    Ok(link)
}
