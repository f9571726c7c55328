//! The stack lock: two runs at once never both apply, the loser says who holds the stack, a lock
//! left by a run that died is taken over or removed with `unlock --force`.

use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;

use crate::fault::{Fault, Proxy, Rule};
use crate::support::{Env, Run};

const LOCK: &str = "/containrlab-lock/containrlab";

/// Both commands started together on one account.
fn together(env: &Env, a: &[&str], b: &[&str]) -> (Run, Run) {
    together_at(env, &env.moto.endpoint, a, b)
}

/// Both commands started together against `endpoint`.
fn together_at(env: &Env, endpoint: &str, a: &[&str], b: &[&str]) -> (Run, Run) {
    std::thread::scope(|s| {
        let first = s.spawn(|| env.run_at(endpoint, a));
        let second = s.spawn(|| env.run_at(endpoint, b));
        (first.join().expect("first run"), second.join().expect("second run"))
    })
}

fn vpcs(env: &Env) -> usize {
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk());
    env.block_on(ec2.describe_vpcs().send())
        .expect("vpcs")
        .vpcs()
        .iter()
        .filter(|v| !v.is_default().unwrap_or(false))
        .count()
}

#[track_caller]
fn assert_locked_out(run: &Run) {
    run.expect_code(1);
    assert!(run.stderr.contains("error: stack `containrlab` is locked by arn:aws:"), "{}", run.stderr);
    assert!(run.stderr.contains("running `"), "{}", run.stderr);
    assert!(
        run.mutating_calls().keys().all(|k| k.starts_with("SSM:")),
        "the loser changed something: {:?}",
        run.mutating_calls()
    );
}

#[test]
fn two_ups_at_once_apply_once() {
    let env = Env::new();
    let (a, b) = together(&env, &["up", "--yes"], &["up", "--yes"]);
    let (winner, loser) = if a.code == 0 { (a, b) } else { (b, a) };
    winner.expect_code(0);
    assert_locked_out(&loser);
    env.run(&["diff", "--exit-code"]).expect_code(0);
    assert_eq!(vpcs(&env), 1);
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk());
    assert_eq!(env.block_on(ec2.describe_addresses().send()).expect("eips").addresses().len(), 1);
    assert_eq!(env.block_on(ec2.describe_nat_gateways().send()).expect("nats").nat_gateways().len(), 1);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&env.sdk());
    assert_eq!(env.block_on(elb.describe_load_balancers().send()).expect("lbs").load_balancers().len(), 1);
    let ssm = aws_sdk_ssm::Client::new(&env.sdk());
    assert!(env.block_on(ssm.get_parameter().name(LOCK).send()).is_err(), "the lock was given back");
}

#[test]
fn up_and_down_at_once_one_runs() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    // Every answer 150 ms late (the fault proxy): a converged `up` holds the lock for its plan
    // only (~0.5 s on moto alone), and a `down` started later than that on a loaded machine ran
    // after it — both succeeded, nothing overlapped. Slowed, the holder keeps the lock for
    // seconds while the other's first calls are still a few hundred milliseconds in.
    let proxy = Proxy::start(&env.moto.endpoint, vec![Rule::every("*", Fault::Delay(Duration::from_millis(150)))]);
    let (up, down) = together_at(&env, &proxy.endpoint, &["up", "--yes"], &["down", "--yes", "--delete-data"]);
    assert_eq!(
        [up.code, down.code].iter().filter(|&&c| c == 0).count(),
        1,
        "up:\n{}\ndown:\n{}",
        up.stderr,
        down.stderr
    );
    assert_locked_out(if up.code == 0 { &down } else { &up });
    let expected = if up.code == 0 { 1 } else { 0 };
    assert_eq!(vpcs(&env), expected);
}

fn hold(env: &Env, host: &str, pid: u32, renewed_ago: u64) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let value = serde_json::json!({
        "caller": "arn:aws:iam::123456789012:user/ci", "host": host, "pid": pid, "command": "up",
        "started": now - renewed_ago - 5, "renewed": now - renewed_ago, "token": "someone-else"
    });
    let ssm = aws_sdk_ssm::Client::new(&env.sdk());
    env.block_on(ssm.put_parameter().name(LOCK).value(value.to_string()).r#type(ParameterType::String).send())
        .expect("lock");
}

#[test]
fn a_held_lock_is_reported_and_unlock_force_removes_it() {
    let env = Env::new();
    hold(&env, "ci-runner-7", 4242, 3);
    let up = env.run(&["up", "--yes"]);
    assert_locked_out(&up);
    assert!(
        up.stderr.contains("arn:aws:iam::123456789012:user/ci on ci-runner-7 (pid 4242) running `up`"),
        "{}",
        up.stderr
    );
    assert!(up.stderr.contains("containrlab unlock --force"), "{}", up.stderr);
    env.run(&["unlock"]).expect_code(1);
    let unlock = env.run(&["unlock", "--force"]);
    unlock.expect_code(0);
    assert!(
        unlock.stderr.contains(
            "removed the lock of stack `containrlab`, held by arn:aws:iam::123456789012:user/ci on ci-runner-7"
        ),
        "{}",
        unlock.stderr
    );
    env.run(&["up", "--yes"]).expect_code(0);
    // `diff` takes no lock: it plans while another run holds it.
    hold(&env, "ci-runner-7", 4242, 3);
    env.run(&["diff", "--exit-code"]).expect_code(0);
}

#[test]
fn a_stale_lock_is_taken_over_with_a_warning() {
    let env = Env::new();
    hold(&env, "ci-runner-7", 4242, 600);
    let up = env.run(&["up", "--yes"]);
    up.expect_code(0);
    assert!(
        up.stderr
            .contains("warning: took over the stale stack lock of arn:aws:iam::123456789012:user/ci on ci-runner-7"),
        "{}",
        up.stderr
    );
    assert!(up.stderr.contains(": its lease was last renewed 10m0"), "{}", up.stderr);
}
