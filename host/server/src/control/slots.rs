//! The run slots of one process (`--max-concurrent-runs`): a run holds one
//! while it goes on; the rest wait, webhook and push runs ahead of manual
//! ones ahead of scheduled ones, and in the order they came within each.
//! The scheduler only takes due integrations for the slots that are free
//! (`scheduler.rs`), so on several nodes each takes its share of the
//! round and a node that dies holds no queue of taken work.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{oneshot, Notify};

use hrsync_engine::trigger::Trigger;

/// Which waiting run gets the next free slot: the lowest first.
fn rank(trigger: Trigger) -> u8 {
    match trigger {
        // Someone waits for these: a leaver to be deactivated, an IdP's push.
        Trigger::Webhook | Trigger::Push => 0,
        Trigger::Manual | Trigger::Cli => 1,
        Trigger::Schedule => 2,
    }
}

#[derive(Default)]
struct Pool {
    capacity: usize,
    in_use: usize,
    /// Waiting runs by (rank, arrival); each is sent its slot.
    waiting: BTreeMap<(u8, u64), oneshot::Sender<()>>,
    arrivals: u64,
}

/// The slots, shared by the runs of this process and the scheduler.
pub struct RunSlots {
    pool: Mutex<Pool>,
    /// Woken when a slot is free with nobody waiting for it: the scheduler
    /// looks for due work at once instead of at its next tick.
    freed: Notify,
}

/// A held slot; dropping it hands it to the first waiting run, or frees it.
pub struct Slot {
    slots: Arc<RunSlots>,
}

impl RunSlots {
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            pool: Mutex::new(Pool {
                capacity: capacity.max(1),
                ..Pool::default()
            }),
            freed: Notify::new(),
        })
    }

    fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A slot now, if one is free and no run waits for one (a wait of
    /// zero in `hrsync_run_queue_wait_seconds`).
    pub fn try_acquire(self: &Arc<Self>, trigger: Trigger) -> Option<Slot> {
        let mut pool = self.pool();
        if pool.in_use < pool.capacity && pool.waiting.is_empty() {
            pool.in_use += 1;
            hrsync_metrics::runs_in("running", 1);
            hrsync_metrics::run_queue_wait(trigger.as_str(), 0.0);
            return Some(Slot {
                slots: Arc::clone(self),
            });
        }
        None
    }

    /// A slot, waiting in line behind the runs of the same or a more
    /// urgent trigger; the wait is observed in
    /// `hrsync_run_queue_wait_seconds`.
    pub async fn acquire(self: &Arc<Self>, trigger: Trigger) -> Slot {
        let since = Instant::now();
        let granted = {
            let mut pool = self.pool();
            if pool.in_use < pool.capacity && pool.waiting.is_empty() {
                pool.in_use += 1;
                None
            } else {
                let (send, receive) = oneshot::channel();
                pool.arrivals += 1;
                let arrival = pool.arrivals;
                pool.waiting.insert((rank(trigger), arrival), send);
                hrsync_metrics::runs_in("queued", 1);
                Some(receive)
            }
        };
        if let Some(receive) = granted {
            let mut waiting = Waiting {
                receive: Some(receive),
                slots: self,
            };
            if let Some(receive) = waiting.receive.as_mut() {
                // The sender is only dropped with the slot handed over, or
                // when the pool is gone; either way this run may go on.
                let _ = receive.await;
            }
            waiting.receive = None;
            hrsync_metrics::runs_in("queued", -1);
        }
        hrsync_metrics::runs_in("running", 1);
        hrsync_metrics::run_queue_wait(trigger.as_str(), since.elapsed().as_secs_f64());
        Slot {
            slots: Arc::clone(self),
        }
    }

    /// Slots the scheduler may fill now: free ones no run waits for.
    pub fn free(&self) -> usize {
        let pool = self.pool();
        if pool.waiting.is_empty() {
            pool.capacity.saturating_sub(pool.in_use)
        } else {
            0
        }
    }

    /// Resolves when a slot was freed with nobody waiting.
    pub async fn freed(&self) {
        self.freed.notified().await
    }

    fn release(&self) {
        hrsync_metrics::runs_in("running", -1);
        self.hand_on();
    }

    /// Gives a slot no run holds any more to the next in line, or frees it.
    fn hand_on(&self) {
        let mut pool = self.pool();
        // The slot passes to the first waiting run still waiting (a waiter
        // whose task was dropped has no receiver left).
        while let Some((_, next)) = pool.waiting.pop_first() {
            if next.send(()).is_ok() {
                return;
            }
            hrsync_metrics::runs_in("queued", -1);
        }
        pool.in_use = pool.in_use.saturating_sub(1);
        drop(pool);
        self.freed.notify_one();
    }
}

/// A run in line; dropped before it got its slot (its task was cancelled),
/// a slot handed to it in the meantime goes on to the next in line.
struct Waiting<'a> {
    receive: Option<oneshot::Receiver<()>>,
    slots: &'a RunSlots,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut receive) = self.receive.take() {
            if receive.try_recv().is_ok() {
                hrsync_metrics::runs_in("queued", -1);
                self.slots.hand_on();
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn webhook_runs_go_before_scheduled_ones_and_each_in_arrival_order() {
        let slots = RunSlots::new(1);
        let held = slots.try_acquire(Trigger::Manual).expect("a free slot");
        assert!(slots.try_acquire(Trigger::Manual).is_none(), "one slot only");
        assert_eq!(slots.free(), 0);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for (name, trigger) in [
            ("scheduled 1", Trigger::Schedule),
            ("manual", Trigger::Manual),
            ("scheduled 2", Trigger::Schedule),
            ("webhook", Trigger::Webhook),
        ] {
            let (slots, order) = (Arc::clone(&slots), Arc::clone(&order));
            waiters.push(tokio::spawn(async move {
                let _slot = slots.acquire(trigger).await;
                order.lock().unwrap().push(name);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }));
            // Each is in line before the next arrives.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(held);
        for waiter in waiters {
            waiter.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            ["webhook", "manual", "scheduled 1", "scheduled 2"]
        );
        assert_eq!(slots.free(), 1, "every slot came back");
    }

    #[tokio::test]
    async fn a_waiter_that_gave_up_does_not_keep_the_slot() {
        let slots = RunSlots::new(1);
        let held = slots.try_acquire(Trigger::Manual).unwrap();
        let gave_up = {
            let slots = Arc::clone(&slots);
            tokio::spawn(async move { slots.acquire(Trigger::Schedule).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        gave_up.abort();
        let _ = gave_up.await;
        drop(held);
        assert_eq!(slots.free(), 1);
        assert!(slots.try_acquire(Trigger::Manual).is_some());
    }
}
