//! `up` and `down`: plan, confirm, execute the steps, then verify by planning again.
//!
//! Progress goes to stderr as it happens; stdout carries the plan (human) or one JSON document
//! with the plan, what was applied and whether the stack converged.
//!
//! Invariants: everything after taking the stack lock gives it back, on success, failure and
//! interrupt (exit 130). A step whose call got no answer (AWS may or may not have carried it
//! out) is never simply repeated: the stack is read again and planned from what exists — the
//! same path a rerun takes — for at most `ROUNDS` rounds, and only while the new plan asks for
//! nothing the confirmed plan did not.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::json;

use crate::apply::{execute_until, OnFailure, Outcome};
use crate::aws::wait::seconds_from_env;
use crate::aws::Clients;
use crate::cli::{ApplyArgs, Cli};
use crate::interrupt::{unless_stopped, Interrupted};
use crate::plan::build::{Mode, PlanContext};
use crate::plan::{order, Action, Step};
use crate::reconcile::{Ids, Observed, Plan};
use crate::ui::apply_report::{not_converged, outcome_json, outcome_line};
use crate::ui::live_view::View;

/// Rounds of applying when steps get no answer: the first, and up to two after looking again.
const ROUNDS: usize = 3;

/// One round of a plan's steps: the steps, their outcome (with how long each ran) and the ids
/// (observed and created).
pub struct Round {
    pub steps: Vec<Step>,
    pub outcome: Outcome,
    pub ids: Ids,
}

/// Carries out `plan`'s steps once through the executor — the one runner of every change, with
/// the crash failpoint and the error wording — the live view on stderr, until done or stopped.
pub async fn execute(
    clients: &Clients,
    ctx: &PlanContext,
    observed: &Observed,
    plan: &Plan,
    parallelism: usize,
    on_failure: OnFailure,
) -> Result<Round> {
    let steps = order::steps(plan);
    order::check_acyclic(&steps)?;
    let ids = Ids::new(observed);
    let mut view = View::for_stderr();
    let outcome = execute_until(
        &steps,
        parallelism,
        on_failure,
        |i| {
            let step = &steps[i];
            crate::reconcile::apply(clients, ctx, &ids, step, &plan.changes[step.change])
        },
        |event| view.on_event(event),
        crate::interrupt::stopping(),
        grace(),
    )
    .await;
    drop(view);
    Ok(Round { steps, outcome, ids })
}

/// Plans and applies under the stack's lock, which is given back on every way out.
pub async fn run(cli: &Cli, args: &ApplyArgs, mode: Mode) -> Result<i32> {
    let planner = super::Planner::new(cli, mode, args.delete_data).await?.with_targets(&args.target)?;
    let command = if mode == Mode::Down { "down" } else { "up" };
    let wait = args.lock_timeout.unwrap_or_default();
    locked(&planner, command, wait, run_locked(cli, args, mode, &planner)).await
}

/// Runs `work` holding the stack's lock, given back on success, failure and interrupt (a first
/// signal asks `work` to stop instead of ending the process meanwhile).
pub async fn locked(
    planner: &super::Planner,
    command: &str,
    wait: Duration,
    work: impl std::future::Future<Output = Result<i32>>,
) -> Result<i32> {
    let caller = planner.identity().await?.arn.clone();
    let lock = crate::aws::lock::acquire(&planner.clients.lock, &planner.desired.stack, &caller, command, wait).await?;
    let graceful = crate::interrupt::Graceful::hold();
    if let Some(note) = &lock.took_over {
        eprintln!("warning: {note}");
    }
    let result = work.await;
    let released = lock.release().await;
    drop(graceful);
    if released.is_ok() && result.as_ref().is_err_and(crate::interrupt::is_interrupted) {
        eprintln!("The stack lock was released.");
    }
    let code = result?;
    released?;
    Ok(code)
}

async fn run_locked(cli: &Cli, args: &ApplyArgs, mode: Mode, planner: &super::Planner) -> Result<i32> {
    let began = tokio::time::Instant::now();
    let (mut observed, plan) = unless_stopped("while planning; nothing was changed", planner.plan()).await?;
    super::print_plan(cli, &plan);
    if let Some(e) = super::conflicts_error(&plan) {
        if cli.json {
            println!("{}", json!({ "plan": crate::plan::json::to_value(&plan), "applied": false }));
        }
        return Err(e);
    }
    if plan.is_empty() {
        if cli.json {
            println!("{}", json!({ "plan": crate::plan::json::to_value(&plan), "applied": false, "converged": true }));
        }
        return Ok(0);
    }
    let missing = plan.missing_values();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|(a, var)| format!("{a}: set {var}")).collect();
        bail!(
            "cannot apply: {} secret value(s) the plan must write are not set; nothing was changed:\n  {}",
            list.len(),
            list.join("\n  ")
        );
    }
    let question = if mode == Mode::Down { "Delete everything listed above" } else { "Apply this plan" };
    confirm(args.yes, question).await?;

    let ctx = planner.context();
    let started = Instant::now();
    let mut current = Plan { changes: plan.changes.clone(), ..Plan::default() };
    let mut done: Vec<serde_json::Value> = Vec::new();
    let mut round = 1;
    let (steps, outcome) = loop {
        let Round { steps, outcome, .. } =
            execute(&planner.clients, &ctx, &observed, &current, usize::from(args.parallelism), OnFailure::StopAll)
                .await?;
        done.extend(outcome_json(&steps, &outcome)["done"].as_array().cloned().unwrap_or_default());
        let unanswered = outcome.failed.iter().filter(|(_, e)| crate::aws::error::may_have_taken_effect(e)).count();
        let look_again = !outcome.interrupted && unanswered > 0 && unanswered == outcome.failed.len();
        if !look_again || round == ROUNDS {
            break (steps, outcome);
        }
        round += 1;
        let pause = recheck_delay();
        eprintln!(
            "    … {unanswered} step(s) got no answer from AWS, which may have carried them out: reading the stack again in {}s before going on (round {round} of {ROUNDS})",
            pause.as_secs()
        );
        let reread = async {
            tokio::time::sleep(pause).await;
            planner.plan().await
        };
        let stopped =
            format!("while reading the stack again, after {} step(s) were done; `up` again resumes", done.len());
        let (seen, fresh) = unless_stopped(&stopped, reread).await?;
        if let Some(e) = super::conflicts_error(&fresh) {
            return Err(e);
        }
        check_within(&plan, &fresh)?;
        (observed, current) = (seen, fresh);
        if current.is_empty() {
            break (Vec::new(), Outcome::default());
        }
    };
    let elapsed = started.elapsed();

    let earlier = done.len() - outcome.done.len();
    // Verify: a converged stack plans no change (reading again what the steps can have changed).
    let applied: Vec<_> = plan.changes.iter().chain(&current.changes).cloned().collect();
    let verify = if outcome.succeeded() { Some(planner.verify(observed, &applied).await?) } else { None };
    if cli.json {
        let converged = verify.as_ref().is_some_and(|v| v.is_empty());
        let mut result = outcome_json(&steps, &outcome);
        result["done"] = serde_json::Value::Array(done);
        let plan = crate::plan::json::to_value(&plan);
        let seconds = elapsed.as_secs_f64();
        let interrupted = outcome.interrupted;
        println!(
            "{}",
            json!({ "plan": plan, "applied": true, "result": result, "rounds": round, "seconds": seconds, "converged": converged, "interrupted": interrupted })
        );
    }
    eprintln!("{}", outcome_line(&steps, &outcome, earlier, elapsed.as_secs_f64()));
    if outcome.interrupted {
        return Err(Interrupted::new("stopped before the plan was finished").into());
    }
    if outcome.failed.is_empty() && !outcome.not_started.is_empty() {
        bail!("{} step(s) never started although nothing failed (a planner bug)", outcome.not_started.len());
    }
    if let Some((i, e)) = outcome.failed.first() {
        bail!(
            "{} {} failed:\n  {}",
            steps[*i].action.symbol(),
            steps[*i].address,
            format!("{e:#}").replace('\n', "\n  ")
        );
    }
    match verify {
        Some(v) if !v.is_empty() => bail!("{}", not_converged(&v)),
        Some(_) if mode == Mode::Converge => {
            // The stack file's resources: the graph `up` from empty would create (no AWS call).
            let resources = crate::ops::graph::plan_from_empty(&planner.desired, planner.region())?.changes.len();
            let total = crate::aws::wait::elapsed(began);
            if planner.targeted() {
                eprintln!("Converged (targeted): 0 changes remaining for the targets and what they need, {total}; the rest of the stack's {resources} resources was left as it is (`diff` shows it).");
            } else {
                eprintln!("Converged: {resources} resources, 0 changes remaining, {total}.");
            }
            Ok(0)
        }
        _ => Ok(0),
    }
}

/// A plan made after a round of unanswered calls may only finish what the operator confirmed:
/// every change in it is to an address the confirmed plan changed, and deletes only what it deleted.
fn check_within(confirmed: &Plan, fresh: &Plan) -> Result<()> {
    let outside: Vec<String> = fresh
        .changes
        .iter()
        .filter(|c| {
            !confirmed
                .changes
                .iter()
                .any(|k| k.address == c.address && (c.action != Action::Delete || k.action == Action::Delete))
        })
        .map(|c| format!("{} {}", c.action.symbol(), c.address))
        .collect();
    if outside.is_empty() {
        return Ok(());
    }
    bail!(
        "stopped: read again after calls that got no answer, the stack now needs changes the confirmed plan did not list:\n  {}\n  Run the command again to review the new plan.",
        outside.join("\n  ")
    )
}

/// How long steps in flight may take to finish after an interrupt before they are abandoned:
/// `CONTAINRLAB_INTERRUPT_GRACE_SECONDS`, default 30 s (waits end at once; this bounds calls).
fn grace() -> Duration {
    seconds_from_env("CONTAINRLAB_INTERRUPT_GRACE_SECONDS", Duration::from_secs(30))
}

/// How long to let AWS's reads catch up before reading the stack again after unanswered calls
/// (EC2 and the tagging API are eventually consistent): `CONTAINRLAB_RECHECK_DELAY_SECONDS`, 5 s.
fn recheck_delay() -> Duration {
    seconds_from_env("CONTAINRLAB_RECHECK_DELAY_SECONDS", Duration::from_secs(5))
}

/// Asks "`question`? Type 'yes'" on a terminal; `--yes` answers for scripts.
pub(super) async fn confirm(yes: bool, question: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to change AWS without confirmation: stdin is not a terminal, pass --yes");
    }
    eprint!("{question}? Type 'yes' to continue: ");
    let _ = std::io::stderr().flush();
    let read = tokio::task::spawn_blocking(|| {
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).map(|_| answer)
    });
    let answer = unless_stopped("at the confirmation; nothing was changed", async { Ok(read.await??) }).await?;
    if answer.trim() != "yes" {
        bail!("cancelled: nothing was changed");
    }
    Ok(())
}
