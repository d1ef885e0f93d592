//! Runs active integrations when their schedule says. Every process of
//! `hrsync serve` runs this loop against the same database: a due slot is
//! started under the integration's run lease, and its run recorded in the
//! same transaction that moves the next run on, so each slot runs once,
//! none is lost when a process dies, and no two runs overlap.

use std::sync::Arc;
use std::time::Duration;

use super::schedule::Schedule;
use super::{Control, ScheduledSlot, StartError};
use hrsync_model::clock::now_ms;
use hrsync_store::integrations::{Due, State};
use hrsync_store::StoreError;

/// Checks for due integrations every `tick`, and whenever a run slot is
/// freed, until `shutdown` turns true.
pub async fn run(control: Arc<Control>, tick: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    // A dead node's runs are found within a sixth of a lease period of
    // their lease expiring.
    let look_for_dead = control.lease_ttl() / 6;
    let mut recovered = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = control.slot_freed() => {}
            // A dropped sender stops the scheduler too.
            changed = shutdown.changed() => if changed.is_err() { break },
        }
        if *shutdown.borrow() || control.is_stopping() {
            break;
        }
        if recovered.elapsed() >= look_for_dead {
            recovered = std::time::Instant::now();
            if let Err(error) = control.take_over_dead().await {
                tracing::error!(%error, "scheduler: looking for runs left by a dead process failed");
            }
        }
        if let Err(error) = run_due(&control).await {
            tracing::error!(%error, "scheduler: reading due integrations failed");
        }
    }
}

/// Claims due integrations for the free run slots only, fairly between
/// tenants (`Store::due_integrations`): what this node cannot start now
/// stays due for another node, or for this one when a slot frees.
async fn run_due(control: &Arc<Control>) -> Result<(), StoreError> {
    loop {
        let free = control.free_slots();
        if free == 0 || control.is_stopping() {
            return Ok(());
        }
        let now = now_ms();
        let due = control.store.due_integrations(now, free).await?;
        if due.is_empty() {
            return Ok(());
        }
        // A due row started or paused is no longer due, so the next round
        // reads new ones; when none was (each one busy, taken by another
        // node, or the store failing), the next tick or freed slot tries
        // again.
        let mut moved = false;
        for due in &due {
            match run_one(control, due, now).await {
                Ok(started) => moved |= started,
                Err(error) => tracing::error!(integration = %due.id, %error, "scheduler: starting a run failed"),
            }
        }
        if !moved {
            return Ok(());
        }
    }
}

/// Starts the run of a due slot; false when it was left for now (a run
/// of the integration is going on here or elsewhere, or another process
/// took the slot).
async fn run_one(control: &Arc<Control>, due: &Due, now: i64) -> Result<bool, StoreError> {
    let next = Schedule::parse(&due.schedule, &due.timezone).map(|s| s.next_after(now.max(due.next_run_at)));
    let next = match next {
        Ok(Some(next)) => next,
        Ok(None) | Err(_) => {
            let reason = format!("the schedule `{}` in {} has no next run", due.schedule, due.timezone);
            pause(control, due, &reason).await?;
            return Ok(true);
        }
    };
    let Some(integration) = control.store.integration(&due.tenant_id, &due.id).await? else {
        return Ok(false);
    };
    let slot = ScheduledSlot {
        due: due.next_run_at,
        next,
    };
    match control.start_scheduled(&due.tenant_id, &integration, slot).await {
        Ok(started) => {
            tracing::info!(integration = %due.id, run = %started.run_id, "scheduled run started");
            Ok(true)
        }
        // The slot stays due and is run when the run going on ends
        // (`Store::due_integrations` passes over it until then).
        Err(StartError::Busy) => {
            tracing::info!(integration = %due.id, "scheduled run deferred: a run is in progress");
            Ok(false)
        }
        Err(StartError::SlotTaken | StartError::ShuttingDown) => Ok(false),
        Err(StartError::Setup(error)) => {
            pause(control, due, &error.to_string()).await?;
            Ok(true)
        }
        Err(StartError::Store(error)) => Err(error),
    }
}

/// Quarantines an integration that cannot run.
async fn pause(control: &Control, due: &Due, reason: &str) -> Result<(), StoreError> {
    control
        .store
        .set_integration_state(&due.id, State::Paused, Some(reason), None)
        .await?;
    control
        .store
        .append_audit(
            Some(&due.id),
            "scheduler",
            "integration.paused",
            &serde_json::json!({ "reason": reason }),
        )
        .await
}
