//! Waiting without fixed sleeps: poll on a short schedule with jitter until a condition holds
//! or a deadline passes, reporting what is waited on. (Waits for AWS to catch up with a call
//! just made are `aws::consistency`'s, on this schedule.)
//!
//! Invariants: every wait has a deadline and ends with an error that says what did not happen;
//! an interrupt (`crate::interrupt`) ends a wait or a retry at once, since stopping must not
//! sit out a readiness poll.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use anyhow::{bail, Result};

/// What one check found.
pub enum Check<T> {
    Ready(T),
    /// Not yet; the text says the current state (shown as progress).
    Pending(String),
}

/// The delays between checks: 1, 2 and 3 s, then every 4 s (each ±10 %). The long waits (a load
/// balancer ~150 s, a NAT gateway ~100 s, an ECS rollout ~60 s) see readiness about 2 s late on
/// average and at most ~4.4 s, for one describe call per 4 s per wait — far inside the
/// account-wide ELBv2 and Route 53 rate limits (ten and five requests a second).
pub(crate) fn delay(attempt: u32) -> Duration {
    let base = Duration::from_millis(match attempt {
        0 => 1000,
        1 => 2000,
        2 => 3000,
        _ => 4000,
    });
    jittered(base)
}

/// A wait whose typical length is known polls every second from 80 % of it to 150 % of it (where
/// readiness usually comes: seen ~0.5 s late on average there; one describe a second per wait
/// stays far inside ELBv2's, ECS's and Route 53's account-wide rates), and on the schedule of
/// `delay` elsewhere, never sleeping past the start of that window. `typical` is in real seconds.
fn delay_near(attempt: u32, waited: Duration, typical: Duration) -> Duration {
    let typical = typical.mul_f64(poll_scale());
    let (from, to) = (typical.mul_f64(0.8), typical.mul_f64(1.5));
    if waited >= from && waited <= to {
        return jittered(Duration::from_millis(1000));
    }
    let far = delay(attempt);
    if waited < from {
        far.min(from - waited)
    } else {
        far
    }
}

fn jittered(base: Duration) -> Duration {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let jitter = 0.9 + 0.2 * f64::from(nanos % 1000) / 1000.0;
    base.mul_f64(jitter * poll_scale())
}

/// `CONTAINRLAB_POLL_SCALE`: the benchmark (`scripts/bench`) runs AWS's timing model faster than
/// real speed and scales the poll schedule with it; nothing else sets it (default 1).
fn poll_scale() -> f64 {
    static SCALE: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *SCALE.get_or_init(|| {
        let set = std::env::var("CONTAINRLAB_POLL_SCALE").ok().and_then(|v| v.parse::<f64>().ok());
        set.filter(|s| s.is_finite() && *s > 0.0 && *s <= 1.0).unwrap_or(1.0)
    })
}

/// How often a wait says it is still waiting, at the longest: a progress line at least every
/// 10 s (the poll that follows a quiet 5 s comes at most 4.4 s later).
const QUIET: Duration = Duration::from_secs(5);

/// `1m10s`, `45s`: an elapsed time on a progress line.
pub fn elapsed(since: Instant) -> String {
    seconds_text(since.elapsed().as_secs())
}

/// `70` → `1m10s`, `45` → `45s`.
pub fn seconds_text(secs: u64) -> String {
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// A deadline for waits, from `CONTAINRLAB_WAIT_TIMEOUT_SECONDS` when set (tests shorten it).
pub fn timeout(default: Duration) -> Duration {
    seconds_from_env("CONTAINRLAB_WAIT_TIMEOUT_SECONDS", default)
}

/// Whole seconds from the environment variable `var`, else `default` (unset or not a number).
pub fn seconds_from_env(var: &str, default: Duration) -> Duration {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).map(Duration::from_secs).unwrap_or(default)
}

/// Polls `check` until it is ready. `what` names the wait in progress lines and in the error.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>>>,
{
    poll(what, timeout, None, check).await
}

/// `until` for a wait AWS usually ends after about `typical` (a load balancer becoming active):
/// polled more often around that time (`delay_near`).
pub async fn until_about<T, F, Fut>(what: &str, timeout: Duration, typical: Duration, check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>>>,
{
    poll(what, timeout, Some(typical), check).await
}

async fn poll<T, F, Fut>(what: &str, timeout: Duration, typical: Option<Duration>, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>>>,
{
    let start = Instant::now();
    let mut last = String::new();
    let mut noted = start;
    for attempt in 0.. {
        match check().await? {
            Check::Ready(value) => return Ok(value),
            Check::Pending(state) => {
                if state != last || noted.elapsed() >= QUIET {
                    crate::progress::note(format!("{what}: {state} [{} elapsed]", elapsed(start)));
                    last = state;
                    noted = Instant::now();
                }
            }
        }
        if start.elapsed() >= timeout {
            bail!("timed out after {}s waiting for {what} (last state: {last})", timeout.as_secs());
        }
        let next = match typical {
            Some(t) => delay_near(attempt, start.elapsed(), t),
            None => delay(attempt),
        };
        let pause = next.min(timeout.saturating_sub(start.elapsed()));
        tokio::select! {
            () = crate::progress::idle(tokio::time::sleep(pause)) => {}
            () = crate::interrupt::stopping() => {
                let what = format!("stopped waiting for {what} (last state: {last}); `up` again waits for it");
                return Err(crate::interrupt::Interrupted::new(what).into());
            }
        }
    }
    unreachable!("the loop returns or fails")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn until_returns_once_ready_and_backs_off_between_checks() {
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let v = until("thing", Duration::from_secs(60), || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            Ok(if n < 3 { Check::Pending(format!("pending {n}")) } else { Check::Ready(n) })
        })
        .await
        .expect("ready");
        assert_eq!(v, 3);
        // Three sleeps of about 1, 2 and 3 seconds (±10 %).
        let waited = start.elapsed().as_secs_f64();
        assert!((5.4..=6.6).contains(&waited), "waited {waited}s");
    }

    #[test]
    fn a_wait_of_known_length_polls_often_only_around_its_typical_time() {
        let typical = Duration::from_secs(100);
        let at = |s: u64| delay_near(5, Duration::from_secs(s), typical).as_secs_f64();
        assert!((3.6..=4.4).contains(&at(10)), "far before: the usual 4 s, {}", at(10));
        assert!(at(78) <= 2.0, "never sleeps into the window: {}", at(78));
        assert!((0.9..=1.1).contains(&at(85)), "inside: {}", at(85));
        assert!((0.9..=1.1).contains(&at(150)), "inside to 150 %: {}", at(150));
        assert!((3.6..=4.4).contains(&at(151)), "past it: back to 4 s, {}", at(151));
    }

    #[tokio::test(start_paused = true)]
    async fn readiness_at_the_typical_time_is_seen_within_a_short_poll() {
        let start = tokio::time::Instant::now();
        let ready_at = Duration::from_secs(150);
        let polls = AtomicU32::new(0);
        until_about("load_balancer.alb to become active", Duration::from_secs(600), ready_at, || async {
            polls.fetch_add(1, Ordering::SeqCst);
            Ok(if start.elapsed() >= ready_at { Check::Ready(()) } else { Check::Pending("provisioning".into()) })
        })
        .await
        .expect("ready");
        let late = start.elapsed() - ready_at;
        assert!(late <= Duration::from_millis(1100), "seen {late:?} late");
        // About 30 polls at 4 s up to 120 s, then one a second: under one every 2 s in all.
        assert!(polls.load(Ordering::SeqCst) < 75, "{} polls", polls.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn until_fails_at_the_deadline_naming_the_wait_and_last_state() {
        let err = until::<(), _, _>("nat_gateway.a to become available", Duration::from_secs(30), || async {
            Ok(Check::Pending("pending".into()))
        })
        .await
        .expect_err("times out");
        assert_eq!(
            err.to_string(),
            "timed out after 30s waiting for nat_gateway.a to become available (last state: pending)"
        );
    }
}
