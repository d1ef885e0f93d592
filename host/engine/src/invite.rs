//! Invitations sent later: accounts created without the app's invitation
//! (`invite = false`, or before the company was ready) are invited when an
//! admin asks — one employee's account, a few, or every account the
//! integration created and never had invited. `hrsync invite` and the
//! admin API's `POST /integrations/{id}/invitations` both come here.
//!
//! The invitations sent are noted (table `invitations`), as are those sent
//! on create by a run (host/engine/src/record.rs), so "not yet invited"
//! stays true to what the app was asked. Asking for one employee by name
//! sends again, as an app's "resend invitation" does.

use std::collections::{HashMap, HashSet};

use super::apply::{apply, ItemResult};
use super::correlate::LinkOrigin;
use super::job::Job;
use super::manual::Actor;
use super::plan::Planned;
use super::storage::RunStore;
use hrsync_model::Change;
use hrsync_runtime::CallError;

/// Whom to invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invitees {
    /// Every account the integration created and never had invited.
    NotYetInvited,
    /// These employees' accounts (by HR id), invited before or not.
    Employees(Vec<String>),
}

/// One account's invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub hr_id: String,
    pub account_id: String,
    /// Why the app did not send it; none when it did (or would, in a dry
    /// run).
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("the target sends no invitations (its capabilities say so); the app invites its users itself")]
    Unsupported,
    #[error("employee `{0}` has no account in the app through this integration (check the HR id)")]
    NoAccount(String),
    #[error("the target plugin failed: {0}")]
    Plugin(CallError),
    #[error("storage: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl InviteError {
    fn store(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Store(Box::new(error))
    }
}

impl Job {
    /// Asks the app to invite `who` (with `dry_run`, only says whom);
    /// audited with `actor`. The target is called on a blocking thread, as
    /// in a run.
    pub async fn invite<S: RunStore>(
        &self,
        store: &S,
        who: &Invitees,
        dry_run: bool,
        actor: Actor<'_>,
    ) -> Result<Vec<Invitation>, InviteError> {
        let integration = self.integration.as_str();
        let links = store.links(integration).await.map_err(InviteError::store)?;
        let chosen: Vec<(String, String)> = match who {
            Invitees::NotYetInvited => {
                let invited: HashSet<String> = store
                    .invited_accounts(integration)
                    .await
                    .map_err(InviteError::store)?
                    .into_iter()
                    .collect();
                links
                    .into_iter()
                    .filter(|l| l.origin == LinkOrigin::Created && !invited.contains(&l.account_id))
                    .map(|l| (l.hr_id, l.account_id))
                    .collect()
            }
            Invitees::Employees(hr_ids) => {
                let accounts: HashMap<&str, &str> = links
                    .iter()
                    .map(|l| (l.hr_id.as_str(), l.account_id.as_str()))
                    .collect();
                hr_ids
                    .iter()
                    .map(|hr_id| match accounts.get(hr_id.as_str()) {
                        Some(account_id) => Ok((hr_id.clone(), account_id.to_string())),
                        None => Err(InviteError::NoAccount(hr_id.clone())),
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let job = self.clone();
        let planned: Vec<Box<Planned>> = chosen
            .iter()
            .map(|(hr_id, account_id)| {
                Box::new(Planned {
                    hr_id: Some(hr_id.clone()),
                    change: Change::Invite(account_id.clone()),
                })
            })
            .collect();
        let outcomes = tokio::task::spawn_blocking(move || {
            let mut target = job
                .target
                .plugin
                .target(&job.target.sandbox)
                .map_err(InviteError::Plugin)?;
            let capabilities = target.capabilities().map_err(InviteError::Plugin)?;
            if !capabilities.invites {
                return Err(InviteError::Unsupported);
            }
            if dry_run {
                return Ok(None);
            }
            let retry = job.settings.retry.clone();
            apply(&mut target, planned, capabilities.max_batch, &retry, &mut |_| true)
                .map(Some)
                .map_err(InviteError::Plugin)
        })
        .await
        .map_err(InviteError::store)??;
        // One outcome per change, in order; none in a dry run.
        let errors: Vec<Option<String>> = match outcomes {
            None => vec![None; chosen.len()],
            Some(outcomes) => outcomes
                .into_iter()
                .map(|outcome| match outcome.result {
                    ItemResult::Failed(error) => Some(error.to_string()),
                    _ => None,
                })
                .collect(),
        };
        let invitations: Vec<Invitation> = chosen
            .into_iter()
            .zip(errors)
            .map(|((hr_id, account_id), error)| Invitation {
                hr_id,
                account_id,
                error,
            })
            .collect();
        if dry_run {
            return Ok(invitations);
        }
        let sent: Vec<&str> = invitations
            .iter()
            .filter(|i| i.error.is_none())
            .map(|i| i.account_id.as_str())
            .collect();
        let detail = serde_json::json!({
            "sent": sent.len(),
            "failed": invitations.len() - sent.len(),
            "accounts": sent,
        });
        async {
            store.record_invitations(integration, &sent).await?;
            store
                .append_audit_events(std::iter::once(actor.event(integration, "invite", detail)))
                .await
        }
        .await
        .map_err(InviteError::store)?;
        Ok(invitations)
    }
}
