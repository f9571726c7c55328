//! Ctrl-C (and SIGTERM) while `up` applies: the run stops starting steps, lets those in flight
//! finish, prints what was done / stopped / not started, gives the stack lock back and exits 130;
//! the next `up` converges with exactly the resources a clean `up` makes. The binary is started
//! through `sh -c "trap '' INT; exec …"`, so SIGINT is ignored when it starts — as under `nohup`
//! or `&` in a script — and the tool must install its handler anyway.
//!
//! The stop points are pseudo-random but fixed (`point`), so a failing trial can be replayed: the
//! signal is sent after the n-th step event ("creating…" / "created in") the run printed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::crash::clean_inventory;
use crate::fault::{Fault, Proxy, Rule};
use crate::round_trip::owned_leftovers;
use crate::support::Env;

const LOCK: &str = "/containrlab-lock/containrlab";
const TRIALS: usize = 20;
const PARTS: usize = 2;

/// The event after which trial `n` is interrupted: spread over the 112 events of a first `up`.
fn point(n: usize) -> usize {
    let mut x = (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    1 + (x % 90) as usize
}

struct Stopped {
    code: i32,
    stderr: String,
    /// From the first signal to the exit.
    stopping: Duration,
}

/// Runs `up --yes` and sends `signals` (`INT`, `TERM`) once it printed `after` step events.
fn interrupt_up(env: &Env, after: usize, signals: &[&str]) -> Stopped {
    interrupt_up_at(env, &env.moto.endpoint, after, signals)
}

/// `interrupt_up` against `endpoint`.
fn interrupt_up_at(env: &Env, endpoint: &str, after: usize, signals: &[&str]) -> Stopped {
    let mut shell = Command::new("sh");
    shell.args(["-c", "trap '' INT; exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_containrlab")]);
    let (mut cmd, _) = env.command_of(shell, endpoint, &["up", "--yes"]);
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id().to_string();
    let lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut stderr = String::new();
    let mut events = 0;
    let mut signalled: Option<Instant> = None;
    for line in lines {
        let line = line.expect("reading stderr");
        stderr.push_str(&line);
        stderr.push('\n');
        if line.contains("creating…") || line.contains("created in") {
            events += 1;
        }
        if events >= after && signalled.is_none() {
            signalled = Some(Instant::now());
            for (i, signal) in signals.iter().enumerate() {
                if i > 0 {
                    // Signals sent together may be delivered as one.
                    std::thread::sleep(Duration::from_millis(200));
                }
                let sent = Command::new("kill").args([&format!("-{signal}"), &pid]).status().expect("kill");
                assert!(sent.success(), "kill -{signal} {pid}");
            }
        }
    }
    let status = child.wait().expect("wait");
    let signalled = signalled.unwrap_or_else(|| panic!("the run ended before event {after}:\n{stderr}"));
    Stopped { code: status.code().unwrap_or(-1), stderr, stopping: signalled.elapsed() }
}

fn lock_is_free(env: &Env) -> bool {
    let ssm = aws_sdk_ssm::Client::new(&env.sdk());
    env.block_on(ssm.get_parameter().name(LOCK).send()).is_err()
}

/// After the interrupted run: `up` converges and leaves exactly the clean stack's resources.
#[track_caller]
fn rerun_converges(env: &Env, clean: &[String], what: &str) {
    let again = env.run(&["--json", "up", "--yes"]);
    again.expect_code(0);
    assert_eq!(again.json()["converged"], true, "{what}: {}", again.stdout);
    let mut found = owned_leftovers(env);
    found.sort();
    assert_eq!(found, clean, "{what}: the resources after the interrupt and a second up");
}

fn sigint_trials(part: usize) {
    let clean = clean_inventory();
    for n in (part..TRIALS).step_by(PARTS) {
        let env = Env::new();
        let after = point(n);
        let what = format!("trial {n} (SIGINT after event {after})");
        let stopped = interrupt_up(&env, after, &["INT"]);
        assert_eq!(stopped.code, 130, "{what}: exit code\n{}", stopped.stderr);
        let text = &stopped.stderr;
        assert!(text.contains("SIGINT: stopping — no new step starts"), "{what}: {text}");
        assert!(text.contains("Interrupted by SIGINT after "), "{what}: no summary\n{text}");
        assert!(text.contains("Run the same command again to resume"), "{what}: {text}");
        assert!(text.contains("The stack lock was released."), "{what}: {text}");
        assert!(lock_is_free(&env), "{what}: the lock was left behind");
        eprintln!("{what}: exited 130 {:.2}s after the signal", stopped.stopping.as_secs_f64());
        rerun_converges(&env, &clean, &what);
    }
}

#[test]
fn sigint_at_twenty_points_part_1() {
    sigint_trials(0);
}

#[test]
fn sigint_at_twenty_points_part_2() {
    sigint_trials(1);
}

#[test]
fn sigterm_stops_the_same_way() {
    let env = Env::new();
    let stopped = interrupt_up(&env, 30, &["TERM"]);
    assert_eq!(stopped.code, 130, "{}", stopped.stderr);
    assert!(stopped.stderr.contains("Interrupted by SIGTERM after "), "{}", stopped.stderr);
    assert!(lock_is_free(&env));
    env.run(&["up", "--yes"]).expect_code(0);
    env.run(&["diff", "--exit-code"]).expect_code(0);
}

#[test]
fn a_second_ctrl_c_exits_at_once_and_the_next_run_takes_the_lock_over() {
    // Every answer 400 ms late (the fault proxy), so the second signal, 200 ms after the first,
    // comes while calls are still in flight.
    let env = Env::new();
    let proxy = Proxy::start(&env.moto.endpoint, vec![Rule::every("*", Fault::Delay(Duration::from_millis(400)))]);
    let stopped = interrupt_up_at(&env, &proxy.endpoint, 1, &["INT", "INT"]);
    assert_eq!(stopped.code, 130, "{}", stopped.stderr);
    assert!(stopped.stderr.contains("SIGINT again: exiting at once"), "{}", stopped.stderr);
    assert!(
        !stopped.stderr.contains("Interrupted by SIGINT after "),
        "no summary on the hard exit: {}",
        stopped.stderr
    );
    // Calls the hard exit left in flight still land (the proxy delays them): what a crash mid-call
    // does on AWS too. This test is about the lock, so it lets them land before the next run.
    proxy.settle();
    // Its lock names a process that is gone, on this host: the next run takes it over.
    let again = env.run(&["up", "--yes"]);
    again.expect_code(0);
    assert!(again.stderr.contains("warning: took over the stale stack lock"), "{}", again.stderr);
    env.run(&["diff", "--exit-code"]).expect_code(0);
}

/// Ctrl-C before anything can change — any time in `diff`, or while `up` still plans and takes
/// the lock — exits 130 saying nothing was modified (every answer 300 ms late, so the signal,
/// sent once the run has started, lands while it reads).
#[test]
fn ctrl_c_before_any_change_says_nothing_was_modified() {
    let env = Env::new();
    let proxy = Proxy::start(&env.moto.endpoint, vec![Rule::every("*", Fault::Delay(Duration::from_millis(300)))]);
    for command in [&["diff"][..], &["up", "--yes"][..]] {
        let mut shell = Command::new("sh");
        shell.args(["-c", "trap '' INT; exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_containrlab")]);
        let (mut cmd, _) = env.command_of(shell, &proxy.endpoint, command);
        let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
        std::thread::sleep(Duration::from_millis(700));
        let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
        assert!(sent.success());
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{command:?}: {stderr}");
        assert!(
            stderr.contains("SIGINT: interrupted before any change to the stack; nothing was modified"),
            "{command:?}: {stderr}"
        );
    }
    proxy.settle();
    // True to its word: the stack is as empty as before (a stack lock being taken is not the
    // stack's; the next run on this host takes it over).
    let plan = env.run(&["--json", "diff"]).json();
    assert_eq!(crate::support::actions(&plan).iter().filter(|(_, a)| a == "create").count(), 73);
}
