//! The executor: walks the plan's steps in dependency order with bounded concurrency: at most
//! `parallelism` steps hold a slot at once, and a step gives its slot back while it sleeps in a
//! wait (`progress::idle`), so long waits do not starve ready steps.
//!
//! Invariants: a step starts only after every step in its `after` list finished successfully;
//! after the first failure no new step starts (unless it is `Blocked`, or the run is
//! `OnFailure::StopDependents`: then only the steps that need it never start), running steps finish, and the outcome lists what was done, what failed
//! and what never started. Notes a running step makes (`progress::note`)
//! reach `on_event` as `Event::Progress`, before that step's end. When `stop` resolves (an
//! interrupt) no new step starts either; steps in flight get `grace` to finish and are then
//! dropped (listed as abandoned). The executor knows nothing of AWS or signals: `run` does the
//! work, which lets the engine tests drive it with closures.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{Notify, Semaphore};

use crate::plan::Step;
use crate::progress;

#[derive(Debug)]
pub enum Event<'a> {
    Started(&'a Step),
    /// A note from inside the running step (`progress::note`).
    Progress(&'a Step, String),
    Finished(&'a Step, Duration),
    Failed(&'a Step, &'a anyhow::Error),
    /// A stop was asked for with these steps in flight.
    Stopping(Vec<&'a Step>),
}

/// A step that cannot succeed until something outside the stack changes (the domain delegated to
/// the stack's zone at its registrar). It fails, and every step that does not need it still runs:
/// the next run then has only the blocked part left.
#[derive(Debug)]
pub struct Blocked(pub String);

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Blocked {}

#[derive(Debug, Default)]
pub struct Outcome {
    pub done: Vec<usize>,
    pub failed: Vec<(usize, anyhow::Error)>,
    pub not_started: Vec<usize>,
    /// A stop was asked for before the steps ran out.
    pub interrupted: bool,
    /// In flight when the grace period after a stop ran out: they may or may not have taken effect.
    pub abandoned: Vec<usize>,
    /// How long each finished step (done or failed) ran, by index.
    pub took: std::collections::BTreeMap<usize, Duration>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.not_started.is_empty() && !self.interrupted
    }
}

/// What a failed step stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// No new step starts (`up`, `down`: the next run plans from what exists). A `Blocked` step
    /// stops only what needs it.
    StopAll,
    /// Only the steps that need it never start: the others are independent of it (a deploy's
    /// services).
    StopDependents,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Done,
    Failed,
}

/// `execute_until` with no stop (the engine tests).
#[cfg(test)]
pub async fn execute<F, Fut>(steps: &[Step], parallelism: usize, run: F, on_event: impl FnMut(Event<'_>)) -> Outcome
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    execute_until(steps, parallelism, OnFailure::StopAll, run, on_event, std::future::pending(), Duration::ZERO).await
}

/// `execute`, stopping when `stop` resolves: nothing new starts, steps in flight get `grace`.
pub async fn execute_until<F, Fut>(
    steps: &[Step],
    parallelism: usize,
    on_failure: OnFailure,
    run: F,
    mut on_event: impl FnMut(Event<'_>),
    stop: impl Future<Output = ()>,
    grace: Duration,
) -> Outcome
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let parallelism = parallelism.max(1);
    let stop = std::pin::pin!(stop);
    let mut stop = futures::FutureExt::fuse(stop);
    let mut deadline: Option<tokio::time::Instant> = None;
    let (notes, mut noted) = tokio::sync::mpsc::unbounded_channel();
    let slots = Arc::new(Semaphore::new(parallelism));
    let freed = Arc::new(Notify::new());
    let mut state = vec![State::Pending; steps.len()];
    let mut running = FuturesUnordered::new();
    let mut outcome = Outcome::default();
    loop {
        // A blocked step (`Blocked`) stops only what needs it; any other failure stops everything
        // unless failures stop only their dependents.
        let go_on = on_failure == OnFailure::StopDependents
            || outcome.failed.iter().all(|(_, e)| e.downcast_ref::<Blocked>().is_some());
        if go_on && deadline.is_none() {
            for i in 0..steps.len() {
                let ready = state[i] == State::Pending && steps[i].after.iter().all(|&j| state[j] == State::Done);
                if !ready {
                    continue;
                }
                let Ok(permit) = slots.clone().try_acquire_owned() else { break };
                state[i] = State::Running;
                on_event(Event::Started(&steps[i]));
                let slot = progress::Slot::holding(permit, &slots, &freed);
                let fut = progress::within(progress::Sink { to: notes.clone(), step: i, slot: slot.clone() }, run(i));
                running.push(async move {
                    let start = Instant::now();
                    let result = fut.await;
                    // Its slot is free before its end is handled, so the next step can start.
                    slot.release();
                    (i, result, start.elapsed())
                });
            }
        }
        if running.is_empty() {
            break;
        }
        let grace_over = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let (i, result, elapsed) = tokio::select! {
            biased;
            Some((step, text)) = noted.recv() => {
                on_event(Event::Progress(&steps[step], text));
                continue;
            }
            () = &mut stop, if deadline.is_none() => {
                deadline = Some(tokio::time::Instant::now() + grace);
                on_event(Event::Stopping((0..steps.len()).filter(|&i| state[i] == State::Running).map(|i| &steps[i]).collect()));
                continue;
            }
            () = grace_over => break,
            // A waiting step gave its slot back: start what is ready.
            () = freed.notified() => continue,
            Some(done) = running.next() => done,
        };
        // Notes a step made while finishing come before its end.
        while let Ok((step, text)) = noted.try_recv() {
            on_event(Event::Progress(&steps[step], text));
        }
        outcome.took.insert(i, elapsed);
        match result {
            Ok(()) => {
                state[i] = State::Done;
                on_event(Event::Finished(&steps[i], elapsed));
                outcome.done.push(i);
            }
            Err(e) => {
                state[i] = State::Failed;
                on_event(Event::Failed(&steps[i], &e));
                outcome.failed.push((i, e));
            }
        }
    }
    outcome.not_started = (0..steps.len()).filter(|&i| state[i] == State::Pending).collect();
    outcome.abandoned = (0..steps.len()).filter(|&i| state[i] == State::Running).collect();
    outcome.interrupted = deadline.is_some();
    outcome
}

#[cfg(test)]
mod tests;
