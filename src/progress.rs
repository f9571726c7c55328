//! Notes from inside a running step (what a wait is waiting on, a revision registered) to the
//! executor, which hands them to the command's view as `Event::Progress`. Reconcilers and waits
//! call `note` and never print: the view decides what reaches the terminal. And the step's slot
//! of `--parallelism`: `idle` gives it back while the step only sleeps between polls, so a load
//! balancer waiting 150 s to become active does not keep a ready step from starting.
//!
//! Invariants: a note belongs to the step whose future made it (a task-local set by the executor
//! around each step); a note made outside any step has no one to tell and is dropped. A step
//! holds its slot whenever it is not inside `idle`: at most `--parallelism` steps make calls at
//! once.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

tokio::task_local! {
    static SINK: Sink;
}

/// Where the notes of one step go: the executor's channel, tagged with the step's index.
#[derive(Clone)]
pub struct Sink {
    pub(crate) to: UnboundedSender<(usize, String)>,
    pub(crate) step: usize,
    pub(crate) slot: Slot,
}

/// One step's place among the `--parallelism` that may run at once.
#[derive(Clone)]
pub struct Slot {
    slots: Arc<Semaphore>,
    held: Arc<Mutex<Option<OwnedSemaphorePermit>>>,
    /// Told when a slot is given back, so the executor starts the next ready step.
    freed: Arc<Notify>,
}

impl Slot {
    pub(crate) fn holding(permit: OwnedSemaphorePermit, slots: &Arc<Semaphore>, freed: &Arc<Notify>) -> Slot {
        Slot { slots: slots.clone(), held: Arc::new(Mutex::new(Some(permit))), freed: freed.clone() }
    }

    pub(crate) fn release(&self) {
        let permit = self.held.lock().unwrap_or_else(|e| e.into_inner()).take();
        if permit.is_some() {
            drop(permit);
            self.freed.notify_one();
        }
    }

    async fn take(&self) {
        if let Ok(permit) = self.slots.clone().acquire_owned().await {
            *self.held.lock().unwrap_or_else(|e| e.into_inner()) = Some(permit);
        }
    }
}

/// Runs `f` (a sleep between polls or retries) without holding the step's slot; takes a slot
/// again before returning. Outside a step, just runs `f`.
pub async fn idle<F: Future>(f: F) -> F::Output {
    let Ok(slot) = SINK.try_with(|s| s.slot.clone()) else { return f.await };
    slot.release();
    let out = f.await;
    slot.take().await;
    out
}

/// Reports progress of the step running this code.
pub fn note(text: impl Into<String>) {
    let text = text.into();
    let _ = SINK.try_with(|s| s.to.send((s.step, text)));
}

/// Runs `f` with its notes going to `sink`.
pub async fn within<F: Future>(sink: Sink, f: F) -> F::Output {
    SINK.scope(sink, f).await
}
