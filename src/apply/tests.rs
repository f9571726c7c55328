//! Engine tests with a fake reconciler made of closures: ordering, reverse order for deletes,
//! the concurrency bound, stopping after a failure and stopping when asked (an interrupt).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::model::{Address, Kind};
use crate::plan::{order, Action, Plan, Reason, ResourceChange};

fn change(name: &str, action: Action, depends_on: &[&str]) -> ResourceChange<()> {
    let address = Address::new(Kind::LogGroup, name);
    let mut c = ResourceChange::new(address, action, Reason::Missing, vec![], ());
    c.depends_on = depends_on.iter().map(|d| Address::new(Kind::LogGroup, *d)).collect();
    c
}

fn plan(changes: Vec<ResourceChange<()>>) -> Vec<Step> {
    order::steps(&Plan { changes, ..Plan::default() })
}

/// Runs the steps with a fake that records start/finish order and sleeps `ms` per step.
async fn run_fake(steps: &[Step], parallelism: usize, fail: Option<&str>, ms: u64) -> (Vec<String>, Outcome, usize) {
    let log = Mutex::new(Vec::new());
    let active = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    let outcome = execute(
        steps,
        parallelism,
        |i| {
            let name = steps[i].address.name.clone();
            let (log, active, peak) = (&log, &active, &peak);
            async move {
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                log.lock().unwrap().push(format!("start {name}"));
                tokio::time::sleep(Duration::from_millis(ms)).await;
                active.fetch_sub(1, Ordering::SeqCst);
                log.lock().unwrap().push(format!("end {name}"));
                if fail == Some(name.as_str()) {
                    anyhow::bail!("{name} broke");
                }
                Ok(())
            }
        },
        |_| {},
    )
    .await;
    let log = log.into_inner().unwrap();
    (log, outcome, peak.load(Ordering::SeqCst))
}

fn position(log: &[String], entry: &str) -> usize {
    log.iter().position(|l| l == entry).unwrap_or_else(|| panic!("{entry} not in {log:?}"))
}

#[tokio::test(start_paused = true)]
async fn a_step_starts_only_after_its_dependencies_finish() {
    let steps = plan(vec![
        change("app", Action::Create, &["db", "net"]),
        change("db", Action::Create, &["net"]),
        change("net", Action::Create, &[]),
    ]);
    let (log, outcome, _) = run_fake(&steps, 4, None, 10).await;
    assert!(outcome.succeeded());
    assert!(position(&log, "end net") < position(&log, "start db"));
    assert!(position(&log, "end db") < position(&log, "start app"));
}

#[tokio::test(start_paused = true)]
async fn concurrency_never_exceeds_the_bound_and_independent_steps_overlap() {
    let steps = plan((0..6).map(|i| change(&format!("g{i}"), Action::Create, &[])).collect());
    let (_, outcome, peak) = run_fake(&steps, 2, None, 10).await;
    assert_eq!(outcome.done.len(), 6);
    assert_eq!(peak, 2);
    let (_, _, peak_one) = run_fake(&steps, 1, None, 10).await;
    assert_eq!(peak_one, 1);
}

/// A step sleeping between polls gives its slot back: with one slot, a load balancer waiting to
/// become active does not hold up an independent step, and the two never make calls at once.
#[tokio::test(start_paused = true)]
async fn a_waiting_step_gives_its_slot_to_a_ready_one() {
    let steps = plan(vec![change("alb", Action::Create, &[]), change("logs", Action::Create, &[])]);
    let start = tokio::time::Instant::now();
    let calling = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    let ended = Mutex::new(Vec::new());
    let call = || async {
        let now = calling.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        calling.fetch_sub(1, Ordering::SeqCst);
    };
    let outcome = execute(
        &steps,
        1,
        |i| {
            let (name, call, ended) = (steps[i].address.name.clone(), &call, &ended);
            async move {
                if name == "alb" {
                    crate::aws::wait::until("load_balancer.alb to become active", Duration::from_secs(600), || async {
                        call().await;
                        Ok(if start.elapsed() >= Duration::from_secs(150) {
                            crate::aws::wait::Check::Ready(())
                        } else {
                            crate::aws::wait::Check::Pending("provisioning".into())
                        })
                    })
                    .await?;
                } else {
                    call().await;
                }
                ended.lock().unwrap().push((name, start.elapsed()));
                Ok(())
            }
        },
        |_| {},
    )
    .await;
    assert!(outcome.succeeded());
    let ended = ended.into_inner().unwrap();
    assert_eq!(ended[0].0, "logs", "{ended:?}");
    assert!(ended[0].1 < Duration::from_secs(5), "the ready step ran during the wait: {ended:?}");
    assert!(ended[1].1 >= Duration::from_secs(150), "{ended:?}");
    assert_eq!(peak.load(Ordering::SeqCst), 1, "never two steps calling at once with one slot");
}

#[tokio::test(start_paused = true)]
async fn after_a_failure_nothing_new_starts_and_the_rest_is_reported() {
    // a → b → c in a chain, plus an independent d that is already running when a fails.
    let steps = plan(vec![
        change("a", Action::Create, &[]),
        change("b", Action::Create, &["a"]),
        change("c", Action::Create, &["b"]),
        change("d", Action::Create, &[]),
    ]);
    let (log, outcome, _) = run_fake(&steps, 2, Some("a"), 10).await;
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].1.to_string(), "a broke");
    assert_eq!(outcome.done, vec![3], "d was running and finishes");
    assert_eq!(outcome.not_started, vec![1, 2]);
    assert!(!log.iter().any(|l| l == "start b"));
}

fn delete(kind: Kind, name: &str) -> ResourceChange<()> {
    let mut c = change(name, Action::Delete, &[]);
    c.address = Address::new(kind, name);
    c
}

#[tokio::test(start_paused = true)]
async fn deletes_wait_only_for_the_deletes_aws_requires_first() {
    let steps = plan(vec![
        delete(Kind::Vpc, "vpc"),
        delete(Kind::Subnet, "subnet"),
        delete(Kind::NatGateway, "nat"),
        delete(Kind::AutoScalingGroup, "asg"),
        delete(Kind::LoadBalancer, "alb"),
        delete(Kind::EcsService, "service"),
    ]);
    let (log, outcome, _) = run_fake(&steps, 8, None, 10).await;
    assert!(outcome.succeeded());
    // NAT gateway → subnet → VPC, and the subnet waits for every holder of network interfaces.
    for holder in ["nat", "asg", "alb", "service"] {
        assert!(position(&log, &format!("end {holder}")) < position(&log, "start subnet"), "{holder}: {log:?}");
    }
    assert!(position(&log, "end subnet") < position(&log, "start vpc"));
    // The balancer and the NAT gateway start at once: neither waits for the services' drain or
    // the runner's group (AWS does not).
    for first in ["nat", "alb", "service", "asg"] {
        assert!(position(&log, &format!("start {first}")) < position(&log, "end nat"), "{log:?}");
    }
    // Declared (create) dependencies between two deletes order nothing.
    let declared = plan(vec![change("a", Action::Delete, &[]), change("b", Action::Delete, &["a"])]);
    assert!(declared.iter().all(|s| s.after.is_empty()));
}

#[test]
fn a_delete_waits_for_the_update_that_moves_a_reference_away() {
    let tg = Address::new(Kind::TargetGroup, "old-tg");
    let mut gone = change("x", Action::Delete, &[]);
    gone.address = tg.clone();
    let mut service = change("service", Action::Update, &[]);
    service.address = Address::new(Kind::EcsService, "service");
    let steps = plan(vec![gone, service]);
    assert_eq!(steps[0].after, vec![1], "the service moves off the group before it goes");
}

#[test]
fn creates_do_not_wait_for_deletes() {
    let steps = plan(vec![change("old", Action::Delete, &[]), change("new", Action::Create, &["old"])]);
    assert!(steps[1].after.is_empty());
}

#[test]
fn a_create_before_destroy_replacement_deletes_the_old_one_after_what_moves_to_the_new_one() {
    let tg = Address::new(Kind::TargetGroup, "api-tg");
    let mut replace = change("x", Action::Replace, &[]);
    replace.address = tg.clone();
    let mut rule = change("rule", Action::Update, &[]);
    rule.address = Address::new(Kind::ListenerRule, "api.example.com");
    rule.depends_on = vec![tg.clone()];
    let steps = plan(vec![replace, rule]);
    assert_eq!(steps.len(), 3, "create, move, delete");
    assert_eq!((steps[0].action, &steps[0].address), (Action::Create, &tg));
    assert_eq!(steps[1].after, vec![0], "the rule moves once the new group exists");
    assert_eq!((steps[2].action, &steps[2].address), (Action::Delete, &tg));
    assert_eq!(steps[2].after, vec![0, 1], "the old group goes after the new one exists and the rule moved");
}

#[tokio::test(start_paused = true)]
async fn notes_of_a_running_step_reach_the_events_before_its_end() {
    let steps = plan(vec![change("a", Action::Create, &[])]);
    let mut events = Vec::new();
    let outcome = execute(
        &steps,
        1,
        |_| async {
            progress::note("waiting");
            tokio::time::sleep(Duration::from_millis(5)).await;
            progress::note("still waiting");
            Ok(())
        },
        |e| {
            events.push(match e {
                Event::Started(s) => format!("start {}", s.address.name),
                Event::Progress(s, text) => format!("{}: {text}", s.address.name),
                Event::Finished(s, _) => format!("end {}", s.address.name),
                Event::Failed(s, _) => format!("failed {}", s.address.name),
                Event::Stopping(running) => format!("stopping with {} running", running.len()),
            })
        },
    )
    .await;
    assert!(outcome.succeeded());
    assert_eq!(events, vec!["start a", "a: waiting", "a: still waiting", "end a"]);
}

/// A long wait in an unchanged state still says so at least every 10 s, with the time elapsed,
/// and readiness is seen within one poll (at most ~4.4 s) of happening.
#[tokio::test(start_paused = true)]
async fn a_long_wait_reports_at_least_every_ten_seconds_with_the_time_elapsed() {
    let steps = plan(vec![change("alb", Action::Create, &[])]);
    let start = tokio::time::Instant::now();
    let ready_at = Duration::from_secs(150);
    let mut lines: Vec<(Duration, String)> = Vec::new();
    let seen = std::sync::Mutex::new(Duration::ZERO);
    let outcome = execute(
        &steps,
        1,
        |_| async {
            crate::aws::wait::until("load_balancer.alb to become active", Duration::from_secs(600), || async {
                Ok(if start.elapsed() >= ready_at {
                    crate::aws::wait::Check::Ready(())
                } else {
                    crate::aws::wait::Check::Pending("provisioning".into())
                })
            })
            .await?;
            *seen.lock().unwrap() = start.elapsed();
            Ok(())
        },
        |e| {
            if let Event::Progress(_, text) = e {
                lines.push((start.elapsed(), text.clone()));
            }
        },
    )
    .await;
    assert!(outcome.succeeded());
    assert!(
        lines
            .iter()
            .all(|(_, l)| l.starts_with("load_balancer.alb to become active: provisioning [")
                && l.ends_with(" elapsed]")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|(_, l)| l.contains("[2m")), "minutes and seconds: {lines:?}");
    let times: Vec<Duration> = lines.iter().map(|(t, _)| *t).chain([ready_at]).collect();
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] <= Duration::from_secs(10), "a quiet gap of {:?}: {lines:?}", pair[1] - pair[0]);
    }
    let late = *seen.lock().unwrap() - ready_at;
    assert!(late <= Duration::from_millis(4400), "readiness seen {late:?} late");
}

#[tokio::test(start_paused = true)]
async fn a_stop_starts_nothing_new_lets_steps_in_flight_finish_and_abandons_them_after_the_grace() {
    // Two independent slow steps run (parallelism 2); a third waits for a free slot. The stop
    // comes after 1 s: the 2 s step finishes within the 5 s grace, the 60 s one is abandoned.
    let steps = plan(vec![
        change("quick", Action::Create, &[]),
        change("slow", Action::Create, &[]),
        change("later", Action::Create, &[]),
    ]);
    let started = Mutex::new(Vec::new());
    let mut events = Vec::new();
    let outcome = execute_until(
        &steps,
        2,
        OnFailure::StopAll,
        |i| {
            let name = steps[i].address.name.clone();
            started.lock().unwrap().push(name.clone());
            async move {
                let ms = if name == "slow" { 60_000 } else { 2_000 };
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(())
            }
        },
        |e| {
            if let Event::Stopping(running) = e {
                events.push(running.len());
            }
        },
        tokio::time::sleep(Duration::from_secs(1)),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(*started.lock().unwrap(), ["quick", "slow"], "nothing starts after the stop");
    assert_eq!(events, [2], "the stop is reported once, with both steps in flight");
    let name = |i: &usize| steps[*i].address.name.as_str();
    assert_eq!(outcome.done.iter().map(name).collect::<Vec<_>>(), ["quick"]);
    assert_eq!(outcome.abandoned.iter().map(name).collect::<Vec<_>>(), ["slow"]);
    assert_eq!(outcome.not_started.iter().map(name).collect::<Vec<_>>(), ["later"]);
    assert!(outcome.interrupted && !outcome.succeeded());
}

/// A step blocked on something outside the stack (the domain's delegation) stops only what needs
/// it: the rest of the stack is built, and the next run has only the blocked part left. Any other
/// failure stops everything not yet started.
#[tokio::test(start_paused = true)]
async fn a_blocked_step_stops_only_what_needs_it() {
    let steps = plan(vec![
        change("certificate", Action::Create, &[]),
        change("listener", Action::Create, &["certificate"]),
        change("nat", Action::Create, &[]),
        change("routes", Action::Create, &["nat"]),
    ]);
    let names = |list: &[usize]| list.iter().map(|&i| steps[i].address.name.clone()).collect::<Vec<_>>();
    for blocked in [true, false] {
        let outcome = execute(
            &steps,
            2,
            |i| {
                let name = steps[i].address.name.clone();
                async move {
                    // The NAT gateway takes longer than the certificate: its dependent is ready
                    // only after the certificate failed.
                    tokio::time::sleep(Duration::from_millis(if name == "nat" { 500 } else { 10 })).await;
                    match name.as_str() {
                        "certificate" if blocked => Err(Blocked("not delegated".into()).into()),
                        "certificate" => anyhow::bail!("AccessDenied"),
                        _ => Ok(()),
                    }
                }
            },
            |_| {},
        )
        .await;
        let mut done = names(&outcome.done);
        done.sort();
        assert_eq!(outcome.failed.len(), 1);
        if blocked {
            assert_eq!(done, vec!["nat", "routes"]);
            assert_eq!(names(&outcome.not_started), vec!["listener"]);
        } else {
            assert_eq!(done, vec!["nat"]);
            let mut left = names(&outcome.not_started);
            left.sort();
            assert_eq!(left, vec!["listener", "routes"]);
        }
    }
}

/// A deploy's services are independent: with `OnFailure::StopDependents`, one whose registration
/// failed never moves, and the other still does (its registration ends after the failure).
#[tokio::test(start_paused = true)]
async fn independent_steps_go_on_after_a_failure_and_only_its_dependents_never_start() {
    let steps = plan(vec![
        change("runner-revision", Action::Update, &[]),
        change("runner-service", Action::Update, &["runner-revision"]),
        change("app-revision", Action::Update, &[]),
        change("app-service", Action::Update, &["app-revision"]),
    ]);
    let names = |list: &[usize]| list.iter().map(|&i| steps[i].address.name.clone()).collect::<Vec<_>>();
    let outcome = execute_until(
        &steps,
        4,
        OnFailure::StopDependents,
        |i| {
            let name = steps[i].address.name.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(if name == "app-revision" { 500 } else { 10 })).await;
                match name.as_str() {
                    "runner-revision" => anyhow::bail!("connection closed"),
                    _ => Ok(()),
                }
            }
        },
        |_| {},
        std::future::pending(),
        Duration::ZERO,
    )
    .await;
    let mut done = names(&outcome.done);
    done.sort();
    assert_eq!(done, vec!["app-revision", "app-service"]);
    assert_eq!(names(&outcome.not_started), vec!["runner-service"]);
    assert_eq!(names(&outcome.failed.iter().map(|(i, _)| *i).collect::<Vec<_>>()), vec!["runner-revision"]);
    // Each step that ran, done or failed, has how long it ran (what `deploy` reports per service;
    // measured on the wall clock, so not compared here, where tokio's clock is paused).
    let mut timed = names(&outcome.took.keys().copied().collect::<Vec<_>>());
    timed.sort();
    assert_eq!(timed, vec!["app-revision", "app-service", "runner-revision"]);
}
