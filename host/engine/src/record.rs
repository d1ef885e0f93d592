//! Step 8 of a run: outcomes per change, counts, links, audit events and the
//! cursor — which advances only when the run succeeded.

use super::apply::ItemResult;
use super::run::RunReport;
use hrsync_model::Change;
use std::collections::{HashMap, HashSet};

use super::correlate::Link;
use super::storage::{AuditEvent, ItemRecord, RunStore};

/// The kind of a change, as run items and counts name it.
pub fn kind(change: &Change) -> &'static str {
    match change {
        Change::CreateAccount(_) => "create-account",
        Change::UpdateAccount(_) => "update-account",
        Change::DeactivateAccount(_) => "deactivate-account",
        Change::ReactivateAccount(_) => "reactivate-account",
        Change::Invite(_) => "invite",
        Change::CreateTeam(_) => "create-team",
        Change::RenameTeam(_) => "rename-team",
        Change::AddMember(_) => "add-member",
        Change::RemoveMember(_) => "remove-member",
        Change::LinkManager(_) => "link-manager",
    }
}

/// A one-line summary of a change: what an admin needs to see what it
/// does — an update's fields with their values before and after (each
/// shortened), no more than that of a create.
pub fn summary(change: &Change) -> String {
    match change {
        Change::CreateAccount(d) => format!("create account {}", d.user_name),
        Change::UpdateAccount(u) => {
            let fields: Vec<String> = u
                .changes
                .iter()
                .map(|c| format!("{} {} → {}", c.field, shown(c.before.as_ref()), shown(c.after.as_ref())))
                .collect();
            format!("update {}: {}", u.id, fields.join("; "))
        }
        Change::DeactivateAccount(id) => format!("deactivate {id}"),
        Change::ReactivateAccount(id) => format!("reactivate {id}"),
        Change::Invite(id) => format!("invite {id}"),
        Change::CreateTeam(t) => format!("create team \"{}\"", t.name),
        Change::RenameTeam(t) => format!("rename team \"{}\" to \"{}\"", t.before, t.after),
        Change::AddMember(m) => format!("add {} to team {}", m.account_id, m.team_id),
        Change::RemoveMember(m) => format!("remove {} from team {}", m.account_id, m.team_id),
        Change::LinkManager(l) => format!(
            "manager of {} := {}",
            l.account_id,
            l.manager_id.as_deref().unwrap_or("none")
        ),
    }
}

/// A one-line summary of an existing account taken over.
pub fn adopted_summary(link: &Link) -> String {
    let key = link.keys.email.as_deref().or(link.keys.user_name.as_deref());
    format!(
        "existing account {} ({}) taken over: it matches the employee",
        link.account_id,
        key.unwrap_or("-")
    )
}

/// Longest value shown in a summary, in characters.
const SHOWN_CHARS: usize = 60;

/// A field's value in a summary: quoted, shortened, `(none)` when unset.
fn shown(value: Option<&hrsync_model::AttributeValue>) -> String {
    let Some(value) = value else {
        return "(none)".into();
    };
    let text = value.to_text();
    let mut short: String = text.chars().take(SHOWN_CHARS).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

fn outcome_name(result: &ItemResult) -> &'static str {
    match result {
        ItemResult::Done { .. } => "done",
        ItemResult::LinkedExisting { .. } => "linked-existing",
        ItemResult::Failed(_) => "failed",
    }
}

/// Counts the run's changes by kind and outcome in the process metrics.
fn count_changes(report: &RunReport) {
    let mut by_kind: HashMap<(&str, &str), u64> = HashMap::new();
    for o in &report.outcomes {
        *by_kind
            .entry((kind(&o.planned.change), outcome_name(&o.result)))
            .or_default() += 1;
    }
    for ((kind, outcome), count) in by_kind {
        hrsync_metrics::changes(kind, outcome, count);
    }
}

/// One record per applied (or, in a dry run, planned) change, and one per
/// rejected record, conflict, skipped employee and note; made as they are
/// stored.
pub fn items(report: &RunReport) -> impl Iterator<Item = ItemRecord> + '_ {
    let applied = report.outcomes.iter().map(|o| {
        let error = match &o.result {
            ItemResult::Failed(e) => Some(e.to_string()),
            _ => None,
        };
        let outcome = outcome_name(&o.result);
        ItemRecord {
            hr_id: o.planned.hr_id.clone(),
            kind: kind(&o.planned.change).into(),
            summary: summary(&o.planned.change),
            outcome: outcome.into(),
            error,
            attempts: o.attempts,
        }
    });
    let planned = report.planned.iter().map(|p| ItemRecord {
        hr_id: p.hr_id.clone(),
        kind: kind(&p.change).into(),
        summary: summary(&p.change),
        outcome: "planned".into(),
        error: None,
        attempts: 0,
    });
    let rejected = report.rejected.iter().map(|r| ItemRecord {
        hr_id: r.hr_id.clone(),
        kind: "rejected-record".into(),
        summary: "left as is this run".into(),
        outcome: "rejected".into(),
        error: Some(r.reason.clone()),
        attempts: 0,
    });
    let conflicts = report.conflicts.iter().map(|c| ItemRecord {
        hr_id: Some(c.hr_id.clone()),
        kind: "conflict".into(),
        summary: c.message.clone(),
        outcome: if c.keeps_account { "kept" } else { "held" }.into(),
        error: None,
        attempts: 0,
    });
    let skipped = report.skipped.iter().map(|s| ItemRecord {
        hr_id: Some(s.hr_id.clone()),
        kind: "skipped".into(),
        summary: s.reason.clone(),
        outcome: "skipped".into(),
        error: None,
        attempts: 0,
    });
    let notes = report.notes.iter().map(|n| ItemRecord {
        hr_id: n.hr_id.clone(),
        kind: "note".into(),
        summary: n.message.clone(),
        outcome: "noted".into(),
        error: None,
        attempts: 0,
    });
    let moves = report.moves.iter().map(|m| ItemRecord {
        hr_id: Some(m.to.clone()),
        kind: "link-moved".into(),
        summary: format!("account {} moved from employee {} (a rehire)", m.account_id, m.from),
        outcome: if report.dry_run { "planned" } else { "done" }.into(),
        error: None,
        attempts: 0,
    });
    let adopted = report.adopted.iter().map(|link| ItemRecord {
        hr_id: Some(link.hr_id.clone()),
        kind: "link-adopted".into(),
        summary: adopted_summary(link),
        outcome: if report.dry_run { "planned" } else { "done" }.into(),
        error: None,
        attempts: 0,
    });
    applied
        .chain(planned)
        .chain(adopted)
        .chain(rejected)
        .chain(conflicts)
        .chain(moves)
        .chain(skipped)
        .chain(notes)
}

/// Counts of successful (or, in a dry run, planned) changes by kind, plus
/// skipped, failed and rejected.
pub fn counts(report: &RunReport) -> serde_json::Value {
    let mut counts = serde_json::Map::new();
    let succeeded = report
        .outcomes
        .iter()
        .filter(|o| !matches!(o.result, ItemResult::Failed(_)))
        .map(|o| &o.planned.change);
    for change in succeeded.chain(report.planned.iter().map(|p| &p.change)) {
        let entry = counts.entry(kind(change)).or_insert(serde_json::json!(0));
        *entry = serde_json::json!(entry.as_u64().unwrap_or(0) + 1);
    }
    counts.insert("skipped".into(), serde_json::json!(report.skipped.len()));
    counts.insert("failed".into(), serde_json::json!(report.failed()));
    counts.insert("rejected".into(), serde_json::json!(report.rejected.len()));
    counts.insert("conflicts".into(), serde_json::json!(report.conflicts.len()));
    counts.insert("adopted".into(), serde_json::json!(report.adopted.len()));
    counts.insert("notes".into(), serde_json::json!(report.notes.len()));
    counts.insert("employees_read".into(), serde_json::json!(report.employees_read));
    serde_json::Value::Object(counts)
}

/// The link changes from `before` to `after`: upserts and removed HR ids.
pub fn link_changes<'a>(before: &'a [Link], after: &'a [Link]) -> (Vec<&'a Link>, Vec<&'a str>) {
    let old: HashMap<&str, &Link> = before.iter().map(|l| (l.hr_id.as_str(), l)).collect();
    let upsert = after.iter().filter(|l| old.get(l.hr_id.as_str()) != Some(l)).collect();
    drop(old);
    let new: HashSet<&str> = after.iter().map(|l| l.hr_id.as_str()).collect();
    let removed = before
        .iter()
        .filter(|l| !new.contains(l.hr_id.as_str()))
        .map(|l| l.hr_id.as_str())
        .collect();
    (upsert, removed)
}

/// The accounts created with the app's invitation.
fn invited(report: &RunReport) -> Vec<&str> {
    report
        .outcomes
        .iter()
        .filter_map(|outcome| match (&outcome.planned.change, &outcome.result) {
            (Change::CreateAccount(draft), ItemResult::Done { id: Some(id) }) if draft.invite => Some(id.as_str()),
            _ => None,
        })
        .collect()
}

/// Who the audit log names for a run's events: the run, and the member
/// (and key) who asked for it, if one did.
fn actor(asked_by: Option<&str>) -> String {
    match asked_by {
        Some(by) => format!("sync, asked by {by}"),
        None => "sync".into(),
    }
}

/// Records a finished run: items, link changes (against `links_before`),
/// counts, audit, and the cursor (only when nothing failed and the run was
/// not interrupted; after a full read, with the hash of the `config` it
/// applied). A dry run records its plan and nothing else.
pub async fn record<S: RunStore>(
    store: &S,
    integration: &str,
    run: &str,
    asked_by: Option<&str>,
    links_before: &[Link],
    report: &RunReport,
    config: &str,
) -> Result<(), S::Error> {
    let actor = actor(asked_by);
    store.record_items(run, items(report)).await?;
    if report.dry_run {
        store.finish_run(run, "dry-run", None, &counts(report)).await?;
        hrsync_metrics::run_finished("dry-run");
        let detail = serde_json::json!({ "run": run, "planned": report.planned.len() });
        return store
            .append_audit_events(std::iter::once(run_event(integration, &actor, "run.dry-run", detail)))
            .await;
    }
    let (upsert, removed) = link_changes(links_before, &report.links);
    store.change_links(integration, &upsert, &removed).await?;
    store.record_invitations(integration, &invited(report)).await?;
    let status = if report.interrupted {
        "interrupted"
    } else if report.failed() > 0 {
        "partial"
    } else if report.too_many_rejected {
        "succeeded-with-rejections"
    } else {
        "succeeded"
    };
    store.finish_run(run, status, None, &counts(report)).await?;
    hrsync_metrics::run_finished(status);
    count_changes(report);
    hrsync_metrics::conflicts(report.conflicts.len() as u64);
    store
        .append_audit_events(finish_events(integration, run, &actor, report, status))
        .await?;
    // An interrupted run leaves the cursor where it was: the next run reads
    // the same changes and applies what is left.
    if let (Some(cursor), 0, false) = (&report.cursor, report.failed(), report.interrupted) {
        let full_read = (report.read_kind == crate::plan::ReadKind::Full).then_some(config);
        store.advance_cursor(integration, cursor, full_read).await?;
    }
    Ok(())
}

/// The audit events of a finished run: accounts that moved to a rehire's
/// new record, the changes applied, and the end. (A function of its own:
/// its opaque type keeps the future that sends it `Send`.)
fn finish_events<'a>(
    integration: &'a str,
    run: &'a str,
    actor: &'a str,
    report: &'a RunReport,
    status: &'a str,
) -> impl Iterator<Item = AuditEvent> + Send + 'a {
    let moves = report.moves.iter().map(move |m| {
        let detail = serde_json::json!({ "run": run, "account": m.account_id, "from": m.from, "to": m.to });
        run_event(integration, actor, "link.moved", detail)
    });
    let finish = run_event(
        integration,
        actor,
        "run.finish",
        serde_json::json!({ "run": run, "status": status }),
    );
    moves
        .chain(applied_changes(integration, run, actor, report))
        .chain([finish])
}

/// One audit event per change the run applied: which employee, what, and
/// the before and after of each changed field.
fn applied_changes<'a>(
    integration: &'a str,
    run: &'a str,
    actor: &'a str,
    report: &'a RunReport,
) -> impl Iterator<Item = AuditEvent> + 'a {
    report
        .outcomes
        .iter()
        .filter(|o| !matches!(o.result, ItemResult::Failed(_)))
        .map(move |o| {
            let mut detail = serde_json::json!({
                "run": run,
                "hr_id": o.planned.hr_id,
                "change": summary(&o.planned.change),
            });
            if let Change::UpdateAccount(update) = &o.planned.change {
                detail["fields"] = update
                    .changes
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "field": c.field,
                            "before": c.before.as_ref().map(|v| v.to_text()),
                            "after": c.after.as_ref().map(|v| v.to_text()),
                        })
                    })
                    .collect();
            }
            if let ItemResult::Done { id: Some(id) } | ItemResult::LinkedExisting { id } = &o.result {
                detail["id"] = serde_json::json!(id);
            }
            run_event(
                integration,
                actor,
                &format!("change.{}", kind(&o.planned.change)),
                detail,
            )
        })
}

/// An audit event of a run: it belongs to the integration's tenant.
fn run_event(integration: &str, actor: &str, action: &str, detail: serde_json::Value) -> AuditEvent {
    AuditEvent {
        tenant: None,
        integration: Some(integration.to_string()),
        actor: actor.to_string(),
        action: action.to_string(),
        detail,
    }
}

/// Records a run that stopped: nothing applied, the cursor stays.
pub async fn record_failure<S: RunStore>(
    store: &S,
    integration: &str,
    run: &str,
    asked_by: Option<&str>,
    error: &str,
) -> Result<(), S::Error> {
    store
        .finish_run(run, "failed", Some(error), &serde_json::json!({}))
        .await?;
    hrsync_metrics::run_finished("failed");
    let detail = serde_json::json!({ "run": run, "error": error });
    store
        .append_audit_events(std::iter::once(run_event(
            integration,
            &actor(asked_by),
            "run.fail",
            detail,
        )))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::LinkOrigin;

    fn link(hr: &str, account: &str) -> Link {
        Link {
            hr_id: hr.into(),
            account_id: account.into(),
            origin: LinkOrigin::Created,
            keys: Default::default(),
        }
    }

    #[test]
    fn only_changed_links_are_written() {
        let before = vec![link("1", "a1"), link("2", "a2"), link("3", "a3")];
        let after = vec![link("1", "a1"), link("2", "a2b"), link("4", "a4")];
        let (upsert, removed) = link_changes(&before, &after);
        assert_eq!(upsert, vec![&link("2", "a2b"), &link("4", "a4")]);
        assert_eq!(removed, vec!["3"]);
        let (upsert, removed) = link_changes(&after, &after);
        assert!(upsert.is_empty() && removed.is_empty());
    }
}
