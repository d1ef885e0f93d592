//! Step 7 of a run: apply planned changes through the target, in batches of
//! the target's size, retrying retryable failures per change. A failed change
//! fails its item, not the run. A create that meets an existing account
//! (409 with the existing id) links that account instead of duplicating it;
//! a deactivation of an account that is already gone counts as done.

use super::plan::Planned;
use super::retry::RetryPolicy;
use hrsync_model::{Applied, Change, PluginError};
use hrsync_runtime::{CallError, TargetSession};

#[derive(Debug, Clone, PartialEq)]
pub enum ItemResult {
    Done {
        id: Option<String>,
    },
    /// The account existed already: linked to it.
    LinkedExisting {
        id: String,
    },
    Failed(PluginError),
}

#[derive(Debug, Clone)]
pub struct ItemOutcome {
    /// Boxed: a first sync holds hundreds of thousands of outcomes, and a
    /// change is large only when it creates an account; the list of
    /// outcomes stays small enough to grow without copying much.
    pub planned: Box<Planned>,
    pub result: ItemResult,
    pub attempts: u32,
}

/// `go_on` hears how many changes are done before each batch; when it
/// answers false the rest is left unapplied (a shutdown stops between
/// batches, never inside one).
pub fn apply(
    target: &mut TargetSession,
    planned: Vec<Box<Planned>>,
    max_batch: u32,
    retry: &RetryPolicy,
    go_on: &mut dyn FnMut(usize) -> bool,
) -> Result<Vec<ItemOutcome>, CallError> {
    let batch = max_batch.max(1) as usize;
    let mut outcomes = Vec::with_capacity(planned.len());
    // Each change moves into its outcome, box and all: the plan is not
    // held twice (on a first sync each list is 100,000 changes long).
    let mut planned = planned.into_iter();
    loop {
        if !go_on(outcomes.len()) {
            break;
        }
        let chunk: Vec<Box<Planned>> = planned.by_ref().take(batch).collect();
        if chunk.is_empty() {
            break;
        }
        let mut pending: Vec<(usize, u32)> = (0..chunk.len()).map(|i| (i, 0)).collect();
        let mut results: Vec<Option<(ItemResult, u32)>> = vec![None; chunk.len()];
        while !pending.is_empty() {
            let changes: Vec<Change> = pending.iter().map(|(i, _)| chunk[*i].change.clone()).collect();
            let answers = target.apply_batch(changes)?;
            let mut again = Vec::new();
            let mut wait = std::time::Duration::ZERO;
            for ((index, attempt), answer) in pending.into_iter().zip(answers) {
                match classify(&chunk[index].change, answer) {
                    Err(error) => match retry.delay(&error, attempt) {
                        Some(delay) => {
                            wait = wait.max(delay);
                            again.push((index, attempt + 1));
                        }
                        None => results[index] = Some((ItemResult::Failed(error), attempt + 1)),
                    },
                    Ok(result) => results[index] = Some((result, attempt + 1)),
                }
            }
            if !again.is_empty() {
                std::thread::sleep(wait);
            }
            pending = again;
        }
        for (planned, result) in chunk.into_iter().zip(results) {
            let (result, attempts) = result.unwrap_or((ItemResult::Failed(PluginError::Fatal("no outcome".into())), 0));
            outcomes.push(ItemOutcome {
                planned,
                result,
                attempts,
            });
        }
    }
    Ok(outcomes)
}

fn classify(change: &Change, answer: Result<Applied, PluginError>) -> Result<ItemResult, PluginError> {
    match (change, answer) {
        (_, Ok(applied)) => Ok(ItemResult::Done { id: applied.id }),
        (Change::CreateAccount(_), Err(PluginError::Conflict(conflict))) if conflict.existing_id.is_some() => {
            Ok(ItemResult::LinkedExisting {
                id: conflict.existing_id.unwrap_or_default(),
            })
        }
        (Change::DeactivateAccount(_), Err(PluginError::NotFound(_))) => Ok(ItemResult::Done { id: None }),
        (_, Err(error)) => Err(error),
    }
}
