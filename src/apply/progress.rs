//! Notes from inside a running step (what a wait is waiting on, a revision registered) to the
//! executor, which hands them to the command's view as `Event::Progress`. Reconcilers and waits
//! call `note` and never print: the view decides what reaches the terminal.
//!
//! Invariant: a note belongs to the step whose future made it (a task-local set by the executor
//! around each step); a note made outside any step has no one to tell and is dropped.

use std::future::Future;

use tokio::sync::mpsc::UnboundedSender;

tokio::task_local! {
    static SINK: Sink;
}

/// Where the notes of one step go: the executor's channel, tagged with the step's index.
#[derive(Clone)]
pub struct Sink {
    pub(super) to: UnboundedSender<(usize, String)>,
    pub(super) step: usize,
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
