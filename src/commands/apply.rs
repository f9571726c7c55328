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

/// Plans and applies under the stack's lock, which is given back on every way out.
pub async fn run(cli: &Cli, args: &ApplyArgs, mode: Mode) -> Result<i32> {
    let planner = super::Planner::new(cli, mode, args.delete_data).await?;
    let caller = planner.identity().await?.arn.clone();
    let command = if mode == Mode::Down { "down" } else { "up" };
    let wait = args.lock_timeout.unwrap_or_default();
    let lock = crate::aws::lock::acquire(&planner.clients.lock, &planner.desired.stack, &caller, command, wait).await?;
    if let Some(note) = &lock.took_over {
        eprintln!("warning: {note}");
    }
    let result = run_locked(cli, args, mode, &planner).await;
    let released = lock.release().await;
    let code = result?;
    released?;
    Ok(code)
}

async fn run_locked(cli: &Cli, args: &ApplyArgs, mode: Mode, planner: &super::Planner) -> Result<i32> {
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
    let missing = plan.missing_values();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|(a, var)| format!("{a}: set {var}")).collect();
        bail!(
            "cannot apply: {} secret value(s) the plan must write are not set; nothing was changed:\n  {}",
            list.len(),
            list.join("\n  ")
        );
    }
    confirm(args.yes, mode)?;

    let steps = order::steps(&plan);
    order::check_acyclic(&steps)?;
    let ids = crate::reconcile::Ids::new(&observed);
    let ctx = planner.context();
    let started = Instant::now();
    let outcome = execute(
        &steps,
        usize::from(args.parallelism),
        |i| {
            let step = &steps[i];
            crate::reconcile::apply(&planner.clients, &ctx, &ids, step, &plan.changes[step.change])
        },
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
        _ => Ok(0),
    }
}

/// What a fresh plan after applying still wants, field by field.
fn not_converged(v: &crate::plan::Plan) -> String {
    let list: Vec<String> = v
        .changes
        .iter()
        .map(|c| {
            let fields = crate::plan::human::fields(&c.fields, c.action == Action::Create);
            format!("  {} {}  ({})\n{fields}", c.action.symbol(), c.address, c.reason)
        })
        .collect();
    format!(
        "the stack did not converge: a fresh plan still has {} change(s):\n{}",
        list.len(),
        list.concat().trim_end()
    )
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
        // A note names what it is about; one that does not is about its step.
        Event::Progress(s, text) if text.contains(&s.address.to_string()) => eprintln!("    … {text}"),
        Event::Progress(s, text) => eprintln!("    … {}: {text}", s.address),
        Event::Finished(s, d) => {
            eprintln!("{:>3} {}: {} in {:.1}s", s.action.symbol(), s.address, verb(s.action, true), d.as_secs_f64())
        }
        Event::Failed(s, e) => eprintln!("  ! {}: failed: {e:#}", s.address),
    }
}

/// What the run did, on one line when it succeeded, else with what failed and what never started
/// listed below (wrapped).
fn outcome_line(steps: &[Step], o: &Outcome, seconds: f64) -> String {
    if o.succeeded() {
        return format!("Done: {} step(s) in {seconds:.1}s.", o.done.len());
    }
    let names = |idx: &mut dyn Iterator<Item = usize>| {
        let names: Vec<String> = idx.map(|i| steps[i].address.to_string()).collect();
        wrap(&names, "    ")
    };
    let mut out = format!(
        "Stopped after a failure in {seconds:.1}s: {} done, {} failed, {} not started.\n  failed:\n{}",
        o.done.len(),
        o.failed.len(),
        o.not_started.len(),
        names(&mut o.failed.iter().map(|(i, _)| *i)),
    );
    if !o.not_started.is_empty() {
        out.push_str(&format!("\n  not started:\n{}", names(&mut o.not_started.iter().copied())));
    }
    out.push_str("\n  Run the same command again to finish: it plans from what exists now.");
    out
}

/// Items joined with `, ` on lines of at most 100 characters, each line starting with `indent`.
fn wrap(items: &[String], indent: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for item in items {
        match lines.last_mut() {
            Some(line) if line.len() + 2 + item.len() <= 100 => {
                line.push_str(", ");
                line.push_str(item);
            }
            _ => lines.push(format!("{indent}{item}")),
        }
    }
    lines.join(",\n")
}

fn outcome_json(steps: &[Step], o: &Outcome) -> serde_json::Value {
    let addr = |i: usize| json!({ "address": steps[i].address, "action": steps[i].action, "reason": steps[i].reason.to_string() });
    json!({
        "done": o.done.iter().map(|&i| addr(i)).collect::<Vec<_>>(),
        "failed": o.failed.iter().map(|(i, e)| json!({ "address": steps[*i].address, "action": steps[*i].action, "error": format!("{e:#}") })).collect::<Vec<_>>(),
        "not_started": o.not_started.iter().map(|&i| addr(i)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, Kind};
    use crate::plan::Reason;

    fn step(name: &str) -> Step {
        Step {
            address: Address::new(Kind::LogGroup, name),
            action: Action::Create,
            reason: Reason::Missing,
            after: vec![],
            change: 0,
        }
    }

    #[test]
    fn a_stack_that_did_not_converge_names_the_fields_still_differing() {
        let mut plan = crate::plan::Plan::default();
        let mut f = crate::diff::FieldDiff::default();
        f.field("availability_zone", Some(Some("us-east-1a")), Some("eu-west-1a"));
        plan.changes.push(crate::plan::ResourceChange::new(
            Address::new(Kind::Subnet, "public-a"),
            Action::Replace,
            Reason::CannotUpdateInPlace(vec!["availability_zone".into()]),
            f.changes,
            crate::reconcile::payload::Payload::none(),
        ));
        assert_eq!(
            not_converged(&plan),
            "the stack did not converge: a fresh plan still has 1 change(s):\n  -/+ subnet.public-a  (availability_zone cannot change in place)\n      availability_zone:  \"us-east-1a\" → \"eu-west-1a\""
        );
    }

    #[test]
    fn a_failed_run_lists_what_failed_and_what_never_started_on_lines_of_their_own() {
        let steps: Vec<Step> = (0..12).map(|i| step(&format!("/ecs/group-number-{i:02}"))).collect();
        let outcome =
            Outcome { done: vec![0], failed: vec![(1, anyhow::anyhow!("boom"))], not_started: (2..12).collect() };
        let text = outcome_line(&steps, &outcome, 1.5);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Stopped after a failure in 1.5s: 1 done, 1 failed, 10 not started.");
        assert_eq!(lines[1..3], ["  failed:", "    log_group./ecs/group-number-01"]);
        assert_eq!(lines[3], "  not started:");
        assert!(lines.iter().all(|l| l.len() <= 101), "{text}");
        assert!(text.contains("log_group./ecs/group-number-11"), "{text}");
        assert!(text.ends_with("Run the same command again to finish: it plans from what exists now."), "{text}");
    }
}
