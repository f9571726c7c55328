//! `up` and `down`: plan, confirm, execute the steps, then verify by planning again.
//!
//! Progress goes to stderr as it happens; stdout carries the plan (human) or one JSON document
//! with the plan, what was applied and whether the stack converged.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

use anyhow::{bail, Result};
use serde_json::json;

use crate::apply::{execute, Event, Outcome};
use crate::cli::{ApplyArgs, Cli};
use crate::plan::build::Mode;
use crate::plan::{order, Action, Step};

pub async fn run(cli: &Cli, args: &ApplyArgs, mode: Mode) -> Result<i32> {
    let planner = super::Planner::new(cli, mode, args.delete_data).await?;
    let (observed, plan) = planner.plan().await?;
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
    confirm(args.yes, mode)?;

    let steps = order::steps(&plan);
    let ids = crate::reconcile::Ids::new(&observed);
    let ctx = planner.context();
    let started = Instant::now();
    let outcome = execute(
        &steps,
        usize::from(args.parallelism),
        |i| crate::reconcile::apply(&planner.clients, &ctx, &planner.desired, &observed, &ids, &steps[i]),
        report,
    )
    .await;
    let elapsed = started.elapsed();

    // Verify: a converged stack plans no change.
    let verify = if outcome.succeeded() { Some(planner.plan().await?.1) } else { None };
    if cli.json {
        let converged = verify.as_ref().is_some_and(|v| v.is_empty());
        let result = outcome_json(&steps, &outcome);
        let plan = crate::plan::json::to_value(&plan);
        let seconds = elapsed.as_secs_f64();
        println!(
            "{}",
            json!({ "plan": plan, "applied": true, "result": result, "seconds": seconds, "converged": converged })
        );
    }
    eprintln!("{}", outcome_line(&steps, &outcome, elapsed.as_secs_f64()));
    if let Some((i, e)) = outcome.failed.first() {
        bail!("{} {}: {e:#}", steps[*i].action.symbol(), steps[*i].address);
    }
    match verify {
        Some(v) if !v.is_empty() => {
            let list: Vec<String> = v.changes.iter().map(|c| format!("{} {}", c.action.symbol(), c.address)).collect();
            bail!(
                "the stack did not converge: a fresh plan still has {} change(s):\n  {}",
                list.len(),
                list.join("\n  ")
            )
        }
        _ => Ok(0),
    }
}

fn confirm(yes: bool, mode: Mode) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to change AWS without confirmation: stdin is not a terminal, pass --yes");
    }
    let what = if mode == Mode::Down { "Delete everything listed above" } else { "Apply this plan" };
    eprint!("{what}? Type 'yes' to continue: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("cancelled: nothing was changed");
    }
    Ok(())
}

fn verb(action: Action, done: bool) -> &'static str {
    match (action, done) {
        (Action::Create, false) => "creating",
        (Action::Create, true) => "created",
        (Action::Update, false) => "updating",
        (Action::Update, true) => "updated",
        (Action::Replace, false) => "replacing",
        (Action::Replace, true) => "replaced",
        (Action::Delete, false) => "deleting",
        (Action::Delete, true) => "deleted",
    }
}

fn report(event: Event<'_>) {
    match event {
        Event::Started(s) => eprintln!("{:>3} {}: {}…", s.action.symbol(), s.address, verb(s.action, false)),
        Event::Finished(s, d) => {
            eprintln!("{:>3} {}: {} in {:.1}s", s.action.symbol(), s.address, verb(s.action, true), d.as_secs_f64())
        }
        Event::Failed(s, e) => eprintln!("  ! {}: failed: {e:#}", s.address),
    }
}

fn outcome_line(steps: &[Step], o: &Outcome, seconds: f64) -> String {
    if o.succeeded() {
        return format!("Done: {} step(s) in {seconds:.1}s.", o.done.len());
    }
    let names =
        |idx: &mut dyn Iterator<Item = usize>| idx.map(|i| steps[i].address.to_string()).collect::<Vec<_>>().join(", ");
    format!(
        "Stopped after a failure: {} done, {} failed ({}), {} not started ({}).",
        o.done.len(),
        o.failed.len(),
        names(&mut o.failed.iter().map(|(i, _)| *i)),
        o.not_started.len(),
        names(&mut o.not_started.iter().copied()),
    )
}

fn outcome_json(steps: &[Step], o: &Outcome) -> serde_json::Value {
    let addr = |i: usize| json!({ "address": steps[i].address, "action": steps[i].action, "reason": steps[i].reason.to_string() });
    json!({
        "done": o.done.iter().map(|&i| addr(i)).collect::<Vec<_>>(),
        "failed": o.failed.iter().map(|(i, e)| json!({ "address": steps[*i].address, "action": steps[*i].action, "error": format!("{e:#}") })).collect::<Vec<_>>(),
        "not_started": o.not_started.iter().map(|&i| addr(i)).collect::<Vec<_>>(),
    })
}
