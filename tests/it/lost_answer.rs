//! A lost answer never duplicates: for every operation that changes something in a first `up`
//! of the checked-in stack, the fault proxy lets the emulator carry out the first call of it and
//! then loses the answer (a 500, or for the creates that have no idempotency token also a dropped
//! connection). `up` must still converge in that one run, with exactly the resources a clean `up`
//! makes, counted per resource type. moto cannot lose an answer itself: hence the proxy.
//! Four tests share the operations so they run side by side, each trial on an emulator of its own.

use std::collections::BTreeSet;

use crate::fault::{Fault, Proxy, Rule};
use crate::round_trip::owned_leftovers;
use crate::support::Env;

const PARTS: usize = 4;

/// Creates AWS carries out again when they are repeated (no idempotency token).
const TOKENLESS: [&str; 6] = [
    "CreateVpc",
    "CreateSubnet",
    "CreateInternetGateway",
    "AllocateAddress",
    "CreateSecurityGroup",
    "RegisterTaskDefinition",
];

/// The operations a clean first `up` calls that change something, and what it leaves.
fn clean_run() -> (Vec<String>, Vec<String>) {
    let env = Env::new();
    let up = env.run(&["up", "--yes"]);
    up.expect_code(0);
    let operations: BTreeSet<String> =
        up.mutating_calls().keys().filter_map(|k| k.rsplit(':').next()).map(str::to_string).collect();
    let mut found = owned_leftovers(&env);
    found.sort();
    (operations.into_iter().collect(), found)
}

/// One trial: `Ok(rounds)` when `up` converged despite the fault with the clean resources, else
/// what went wrong.
fn trial(rule: Rule, clean: &[String]) -> Result<u64, String> {
    let what = format!("{} {:?}", rule.operation, rule.fault);
    let env = Env::new();
    let proxy = Proxy::start(&env.moto.endpoint, vec![rule]);
    let up = env.run_with(&proxy.endpoint, &[("CONTAINRLAB_RECHECK_DELAY_SECONDS", "0")], &["--json", "up", "--yes"]);
    if proxy.hits().len() != 1 {
        return Err(format!("{what}: the fault was not applied: {:?}", proxy.hits()));
    }
    let last = |text: &str| text.lines().skip_while(|l| !l.starts_with("error")).take(5).collect::<Vec<_>>().join("\n");
    if up.code != 0 || up.json()["converged"] != true {
        return Err(format!("{what}: exit {}\n{}", up.code, last(&up.stderr)));
    }
    let mut found = owned_leftovers(&env);
    found.sort();
    if found != clean {
        return Err(format!("{what}: the resources differ from a clean up's: {found:?}"));
    }
    Ok(up.json()["rounds"].as_u64().unwrap_or_default())
}

#[track_caller]
fn converges_despite(rule: Rule, clean: &[String]) {
    if let Err(e) = trial(rule, clean) {
        panic!("{e}");
    }
}

fn lose_each_answer(part: usize) {
    let (operations, clean) = clean_run();
    assert!(operations.len() > 20, "the first up's changing operations: {operations:?}");
    let mut failures = Vec::new();
    for op in operations.iter().skip(part).step_by(PARTS) {
        let mut faults = vec![Fault::ErrorAfterCommit];
        if TOKENLESS.contains(&op.as_str()) {
            faults.push(Fault::DropAfterCommit);
        }
        for fault in faults {
            match trial(Rule::first(op, fault), &clean) {
                Ok(rounds) => eprintln!("{op} {fault:?}: converged, {rounds} round(s)"),
                Err(e) => failures.push(e),
            }
        }
    }
    assert!(failures.is_empty(), "{} trial(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn a_lost_answer_on_any_operation_part_1() {
    lose_each_answer(0);
}

#[test]
fn a_lost_answer_on_any_operation_part_2() {
    lose_each_answer(1);
}

#[test]
fn a_lost_answer_on_any_operation_part_3() {
    lose_each_answer(2);
}

#[test]
fn a_lost_answer_on_any_operation_part_4() {
    lose_each_answer(3);
}

#[test]
fn a_refused_create_is_made_once_and_throttling_only_slows_the_run() {
    let (_, clean) = clean_run();
    converges_despite(Rule::first("CreateVpc", Fault::UnavailableBeforeCommit), &clean);
    let throttled = Rule { operation: "AllocateAddress".into(), fault: Fault::Throttle, skip: 0, times: 3 };
    let env = Env::new();
    let proxy = Proxy::start(&env.moto.endpoint, vec![throttled]);
    env.run_at(&proxy.endpoint, &["up", "--yes"]).expect_code(0);
    assert_eq!(proxy.hits().len(), 3);
    let mut found = owned_leftovers(&env);
    found.sort();
    assert_eq!(found, clean);
}
