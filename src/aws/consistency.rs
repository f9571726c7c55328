//! The one mechanism that applies `model::consistency`'s rules: `retry` sends a call again while
//! AWS answers with a rule's lag, `Patience` reads again while a read says "not yet", both within
//! the rule's budget, polling with backoff, saying on the step's progress line what they wait for.
//! Every wait is recorded (rule, call, address, seconds) for `-v` and `CONTAINRLAB_API_STATS`.
//!
//! Invariants: only an error the table names for that very call is sent again; anything else is
//! returned at once, unchanged. A lag that outlasts its budget fails with AWS's message, the
//! rule's name, the time waited and the rule's hint. An interrupt ends the wait at once with the
//! last error. Sleeps give the step's `--parallelism` slot back (`progress::idle`).

use std::future::Future;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use anyhow::Result;
use tokio::time::Instant;

use super::error::ApplyError;
use super::wait::{delay, seconds_text};
use crate::model::consistency::{lag_of, Call, Rule};
use crate::model::Address;
use crate::progress;

/// One wait for AWS to catch up, as `CONTAINRLAB_API_STATS` reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Waited {
    pub rule: &'static str,
    /// What AWS was catching up with: `after a IAM role was created`.
    pub after: String,
    pub call: String,
    pub address: String,
    /// Calls answered with the lag.
    pub lagged: u32,
    pub seconds: f64,
    /// `caught up`, `budget spent`, `other error` or `interrupted`.
    pub outcome: &'static str,
    pub budget_seconds: u64,
    /// Why the rule and its budget are what they are: the seconds above are evidence for it.
    pub evidence: &'static str,
}

static WAITED: LazyLock<Mutex<Vec<Waited>>> = LazyLock::new(Default::default);

fn record(rule: &Rule, call: Call, address: &Address, lagged: u32, since: Instant, outcome: &'static str) {
    let waited = Waited {
        rule: rule.name,
        after: rule.after.to_string(),
        call: call.to_string(),
        address: address.to_string(),
        lagged,
        seconds: (since.elapsed().as_millis() as f64 / 1000.0 * 10.0).round() / 10.0,
        outcome,
        budget_seconds: rule.budget.as_secs(),
        evidence: rule.evidence,
    };
    WAITED.lock().unwrap_or_else(|e| e.into_inner()).push(waited);
}

/// Every wait of this process so far.
pub fn waited() -> Vec<Waited> {
    WAITED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// How often a wait repeats its progress line, at the longest.
const QUIET: Duration = Duration::from_secs(5);

fn note(rule: &Rule, since: Instant) {
    progress::note(format!(
        "waiting for {} ({}, up to {}) [{}]",
        rule.waiting_for,
        rule.name,
        seconds_text(rule.budget.as_secs()),
        seconds_text(since.elapsed().as_secs())
    ));
}

/// The rule whose lag `e` is, for `call`: by the code and message of the `ApplyError` inside.
fn lag(call: Call, e: &anyhow::Error) -> Option<&'static Rule> {
    let a = e.downcast_ref::<ApplyError>()?;
    lag_of(call, a.code.as_deref(), a.message.as_deref())
}

/// The error a lag that outlasted its budget fails with.
fn outlasted(mut e: anyhow::Error, rule: &'static Rule, since: Instant) -> anyhow::Error {
    if let Some(a) = e.downcast_mut::<ApplyError>() {
        a.cause = format!(
            "{} (still so after waiting {} for {}: rule {})",
            a.cause,
            seconds_text(since.elapsed().as_secs()),
            rule.waiting_for,
            rule.name
        );
        a.hint = Some(rule.persists);
    }
    e
}

/// Makes the call `op` (one AWS call of `call`, its error an `ApplyError` from `error::failed`),
/// again while it fails with a lag the rules name for `call`, within that rule's budget.
pub async fn retry<T, F, Fut>(call: Call, address: &Address, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let start = Instant::now();
    let mut noted = start;
    // The rule lagging now, since when, and how many of its answers so far: one record per rule
    // (AWS may catch up with one thing and still lag on the next).
    let mut lagging: Option<(&'static Rule, Instant, u32)> = None;
    for attempt in 0u32.. {
        let e = match op().await {
            Ok(value) => {
                if let Some((rule, since, lagged)) = lagging {
                    record(rule, call, address, lagged, since, "caught up");
                }
                return Ok(value);
            }
            Err(e) => e,
        };
        let Some(rule) = lag(call, &e) else {
            if let Some((rule, since, lagged)) = lagging {
                record(rule, call, address, lagged, since, "other error");
            }
            return Err(e);
        };
        let (since, lagged) = match lagging {
            Some((current, since, lagged)) if std::ptr::eq(current, rule) => (since, lagged + 1),
            previous => {
                if let Some((before, since, lagged)) = previous {
                    record(before, call, address, lagged, since, "caught up");
                }
                (Instant::now(), 1)
            }
        };
        lagging = Some((rule, since, lagged));
        if since.elapsed() >= rule.budget {
            record(rule, call, address, lagged, since, "budget spent");
            return Err(outlasted(e, rule, since));
        }
        if lagged == 1 || noted.elapsed() >= QUIET {
            note(rule, since);
            noted = Instant::now();
        }
        let pause = delay(attempt).min(rule.budget.saturating_sub(since.elapsed()));
        tokio::select! {
            () = progress::idle(tokio::time::sleep(pause)) => {}
            () = crate::interrupt::stopping() => {
                record(rule, call, address, lagged, since, "interrupted");
                return Err(e);
            }
        }
    }
    unreachable!("the loop returns")
}

/// A wait's or a read's tolerance of "not yet" (`Answer::NotYet`): `not_yet` gives the state to
/// show (the wait around it prints it) and fails once the rule's budget is spent; `seen` records
/// that AWS caught up.
pub struct Patience {
    rule: &'static Rule,
    call: Call,
    address: Address,
    since: Mutex<Option<(Instant, u32)>>,
}

impl Patience {
    pub fn new(rule: &'static Rule, address: &Address) -> Patience {
        Patience { rule, call: rule.calls[0], address: address.clone(), since: Mutex::new(None) }
    }

    /// The read did not show it yet: the state for a pending wait while the budget lasts, the
    /// error naming the rule after.
    pub fn not_yet(&self) -> Result<String> {
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        let (start, count) = since.get_or_insert_with(|| (Instant::now(), 0));
        *count += 1;
        if start.elapsed() >= self.rule.budget {
            record(self.rule, self.call, &self.address, *count, *start, "budget spent");
            anyhow::bail!(
                "{}: {} after waiting {} for {} (rule {})\n  hint: {}",
                self.address,
                not_yet_state(self.rule),
                seconds_text(start.elapsed().as_secs()),
                self.rule.waiting_for,
                self.rule.name,
                self.rule.persists
            );
        }
        Ok(format!("{} ({})", not_yet_state(self.rule), self.rule.name))
    }

    /// The read shows it: records the wait, if there was one.
    pub fn seen(&self) {
        if let Some((start, count)) = self.since.lock().unwrap_or_else(|e| e.into_inner()).take() {
            record(self.rule, self.call, &self.address, count, start, "caught up");
        }
    }
}

fn not_yet_state(rule: &Rule) -> &'static str {
    match rule.answer {
        crate::model::consistency::Answer::NotYet { state } => state,
        crate::model::consistency::Answer::Refused { .. } => "not yet",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::aws::error::{failed, kind_of_code, ErrorKind};
    use crate::model::consistency::{Answer, RULES};
    use crate::model::Kind;

    fn error(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    #[tokio::test(start_paused = true)]
    async fn a_named_lag_is_sent_again_until_aws_catches_up() {
        let address = Address::new(Kind::Subnet, "public-a");
        let calls = AtomicU32::new(0);
        let out = retry(Call::Ec2CreateSubnet, &address, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=2 => Err(failed(
                    "creating",
                    &address,
                    &error("InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist"),
                )),
                n => Ok(n),
            }
        })
        .await
        .expect("caught up");
        assert_eq!(out, 3);
        let w = waited().into_iter().find(|w| w.address == "subnet.public-a").expect("recorded");
        assert_eq!((w.rule, w.lagged, w.outcome), ("vpc-visible", 3, "caught up"));
        assert_eq!(w.call, "EC2 CreateSubnet");
    }

    #[tokio::test(start_paused = true)]
    async fn any_other_error_is_returned_at_once() {
        let address = Address::new(Kind::Subnet, "public-b");
        let calls = AtomicU32::new(0);
        let e = retry(Call::Ec2CreateSubnet, &address, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(failed("creating", &address, &error("InvalidSubnet.Conflict", "overlaps")))
        })
        .await
        .expect_err("not a lag");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(e.to_string().contains("InvalidSubnet.Conflict"), "{e}");
        // A lag of another call is no lag here: a delete's NotFound is the caller's to judge.
        let e = retry(Call::Ec2DeleteVpc, &address, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(failed("deleting", &address, &error("InvalidVpcID.NotFound", "gone")))
        })
        .await
        .expect_err("not a lag");
        assert!(crate::aws::error::is_gone(&e));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lag_past_its_budget_fails_with_awss_message_the_rule_and_its_hint() {
        let address = Address::new(Kind::IamRole, "ecsInstanceRole");
        let start = Instant::now();
        let e = retry(Call::IamAddRoleToInstanceProfile, &address, || async {
            Err::<(), _>(failed(
                "adding the instance profile of",
                &address,
                &error("NoSuchEntity", "Role ecsInstanceRole cannot be found"),
            ))
        })
        .await
        .expect_err("outlasted");
        assert!(start.elapsed() >= Duration::from_secs(120) && start.elapsed() < Duration::from_secs(126));
        let text = e.to_string();
        assert!(text.starts_with("adding the instance profile of IAM role ecsInstanceRole: NoSuchEntity: Role ecsInstanceRole cannot be found (still so after waiting 2m00s for IAM to see the new role and instance profile: rule instance-profile-role)"), "{text}");
        assert!(text.ends_with("hint: IAM normally catches up within seconds: check that the role exists, its trust names the service, and the caller may pass it"), "{text}");
        let w = waited().into_iter().find(|w| w.address == "iam_role.ecsInstanceRole").expect("recorded");
        assert_eq!(w.outcome, "budget spent");
    }

    #[tokio::test(start_paused = true)]
    async fn patience_waits_out_not_yet_within_the_budget() {
        use crate::model::consistency::SERVICE_VISIBLE;
        let address = Address::new(Kind::EcsService, "containrlab-service");
        let p = Patience::new(&SERVICE_VISIBLE, &address);
        assert_eq!(p.not_yet().expect("within budget"), "MISSING (service-visible)");
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(p.not_yet().is_ok());
        p.seen();
        let w = waited().into_iter().find(|w| w.address == "ecs_service.containrlab-service").expect("recorded");
        assert_eq!((w.lagged, w.outcome, w.seconds), (2, "caught up", 30.0));
        tokio::time::advance(Duration::from_secs(1)).await;
        let p = Patience::new(&SERVICE_VISIBLE, &address);
        assert!(p.not_yet().is_ok());
        tokio::time::advance(Duration::from_secs(121)).await;
        let e = p.not_yet().expect_err("budget spent");
        assert!(e.to_string().starts_with("ecs_service.containrlab-service: MISSING after waiting 2m01s for ECS to list the new service (rule service-visible)"), "{e}");
    }

    #[test]
    fn no_rule_retries_a_deletes_not_found_or_what_the_sdk_retries() {
        for r in RULES {
            let Answer::Refused { codes, .. } = r.answer else { continue };
            for code in codes {
                let kind = kind_of_code(Some(code));
                assert!(
                    !matches!(kind, ErrorKind::Throttled | ErrorKind::ServerError),
                    "{}: {code} is the SDK's and the lost-answer path's to handle",
                    r.name
                );
                for call in r.calls {
                    let deletes = call.operation().starts_with("Delete") || call.operation().starts_with("Detach");
                    assert!(!(deletes && kind == ErrorKind::NotFound), "{}: NotFound on {call} is done", r.name);
                }
            }
        }
    }
}
