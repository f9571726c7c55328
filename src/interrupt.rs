//! Ctrl-C and SIGTERM. While a command holds the stack lock (`Graceful` guard), the first signal
//! asks it to stop: no new step starts, waits end at once, calls in flight finish (each has its
//! own timeout), the summary is printed, the lock released, and the process exits 130. Without a
//! guard (`diff`, `validate`, taking the lock) and on a second signal it exits 130 at once,
//! saying whether anything may have been changed: nothing before a command marks that it is
//! `changing` the stack (or holds the guard, which `up`/`down` take with the lock).
//!
//! Invariants: the handlers are installed at start for both signals whatever the caller's
//! disposition was (a shell running us with `&` or `nohup` leaves SIGINT ignored; installing a
//! handler replaces that). Nothing here touches AWS: the commands decide what stopping means.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

static SIGNALS: AtomicUsize = AtomicUsize::new(0);
static GRACEFUL: AtomicUsize = AtomicUsize::new(0);
/// Set once the command may have sent a call that changes the stack (`changing`).
static CHANGING: AtomicBool = AtomicBool::new(false);
static NOTIFY: Notify = Notify::const_new();
/// Set while a child process owns the terminal (`HandedOver`): signals are its to handle.
static HANDED_OVER: AtomicUsize = AtomicUsize::new(0);
static NAME: std::sync::Mutex<&str> = std::sync::Mutex::new("");

/// The error a command returns when it stopped because it was asked to; `main` exits 130.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {signal}: {what}")]
pub struct Interrupted {
    pub signal: &'static str,
    pub what: String,
}

impl Interrupted {
    pub fn new(what: impl Into<String>) -> Interrupted {
        Interrupted { signal: signal_name(), what: what.into() }
    }
}

/// True when `e` is (or wraps) an `Interrupted`.
pub fn is_interrupted(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Interrupted>().is_some()
}

/// Installs the handlers; call once inside the runtime, before any AWS call.
pub fn install() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            on_signal(name);
        }
    });
    Ok(())
}

fn on_signal(name: &'static str) {
    if HANDED_OVER.load(Ordering::SeqCst) > 0 {
        return;
    }
    let n = SIGNALS.fetch_add(1, Ordering::SeqCst) + 1;
    if n == 1 && GRACEFUL.load(Ordering::SeqCst) > 0 {
        *NAME.lock().unwrap_or_else(|e| e.into_inner()) = name;
        eprintln!(
            "\n{name}: stopping — no new step starts; steps in flight finish their current call. Press Ctrl-C again to exit at once."
        );
        NOTIFY.notify_waiters();
        return;
    }
    if n > 1 {
        eprintln!(
            "\n{name} again: exiting at once; calls in flight may or may not take effect — `up` again plans from what exists (a lock left behind is taken over on this host)"
        );
    } else if CHANGING.load(Ordering::SeqCst) {
        eprintln!(
            "\n{name}: exiting at once; calls in flight may or may not take effect — run the command again to see where the stack is"
        );
    } else {
        eprintln!("\n{name}: interrupted before any change to the stack; nothing was modified");
    }
    std::process::exit(130);
}

/// Marks that the command is about to change the stack outside a `Graceful` hold (`deploy`,
/// `adopt`): a signal from then on no longer says nothing was modified.
pub fn changing() {
    CHANGING.store(true, Ordering::SeqCst);
}

/// The signal that asked to stop, for messages.
pub fn signal_name() -> &'static str {
    let name = *NAME.lock().unwrap_or_else(|e| e.into_inner());
    if name.is_empty() {
        "a signal"
    } else {
        name
    }
}

/// True once a stop was asked for.
pub fn requested() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

/// Resolves when a stop is asked for (at once if it already was).
pub async fn stopping() {
    loop {
        let notified = NOTIFY.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if requested() {
            return;
        }
        notified.await;
    }
}

/// Runs `f` unless a stop is asked for first; then `Interrupted` naming `what` was stopped.
pub async fn unless_stopped<T>(
    what: &str,
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::select! {
        biased;
        _ = stopping() => Err(Interrupted::new(what).into()),
        r = f => r,
    }
}

/// A mode of signal handling, on while a guard of it is alive (guards nest).
pub struct Hold(&'static AtomicUsize);

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn hold(mode: &'static AtomicUsize) -> Hold {
    mode.fetch_add(1, Ordering::SeqCst);
    Hold(mode)
}

/// While alive, the first signal asks the command to stop instead of ending the process.
pub struct Graceful;

impl Graceful {
    pub fn hold() -> Hold {
        hold(&GRACEFUL)
    }
}

/// While alive, Ctrl-C and SIGTERM are ignored here: a child that owns the terminal (the Session
/// Manager plugin of `exec`) gets them from the terminal and decides; the command waits for it.
pub struct HandedOver;

impl HandedOver {
    pub fn hold() -> Hold {
        hold(&HANDED_OVER)
    }
}
