//! What `up` and `down` tell while and after applying: a line per step event (shown by
//! `live_view`), the closing summary (done, failed, stopped, abandoned, not started), and the JSON `result`.

use serde_json::json;

use crate::apply::{Event, Outcome};
use crate::plan::{Action, Step};

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

/// The plain line of one event (also what the live view prints above its block).
pub fn line(event: &Event<'_>) -> String {
    match event {
        Event::Started(s) => format!("{:>3} {}: {}…", s.action.symbol(), s.address, verb(s.action, false)),
        // A note names what it is about; one that does not is about its step.
        Event::Progress(s, text) if text.contains(&s.address.to_string()) => format!("    … {text}"),
        Event::Progress(s, text) => format!("    … {}: {text}", s.address),
        Event::Finished(s, d) => {
            format!("{:>3} {}: {} in {:.1}s", s.action.symbol(), s.address, verb(s.action, true), d.as_secs_f64())
        }
        Event::Failed(s, e) if crate::interrupt::is_interrupted(e) => format!("  ! {}: {e:#}", s.address),
        Event::Failed(s, e) => format!("  ! {}: failed: {e:#}", s.address),
        Event::Stopping(running) if running.is_empty() => "    … stopping: nothing was in flight".to_string(),
        Event::Stopping(running) => {
            let names: Vec<String> = running.iter().map(|s| s.address.to_string()).collect();
            format!("    … stopping: letting {} step(s) in flight finish: {}", names.len(), names.join(", "))
        }
    }
}

/// The present-tense verb of a running step (`creating`), for the live view.
pub fn running_verb(action: Action) -> &'static str {
    verb(action, false)
}

/// What the run did, on one line when it succeeded, else with what failed, stopped, was
/// abandoned and never started listed below (wrapped). `o` is the last round; `earlier` counts
/// the steps done in the rounds before it (after calls that got no answer).
pub fn outcome_line(steps: &[Step], o: &Outcome, earlier: usize, seconds: f64) -> String {
    let done = earlier + o.done.len();
    let rounds = if earlier > 0 {
        " (in more than one round: the stack was read again after calls that got no answer)"
    } else {
        ""
    };
    if o.succeeded() {
        return format!("Done: {done} step(s) in {seconds:.1}s{rounds}.");
    }
    let names = |idx: &mut dyn Iterator<Item = usize>| {
        let names: Vec<String> = idx.map(|i| steps[i].address.to_string()).collect();
        wrap(&names, "    ")
    };
    let (stopped, failed): (Vec<_>, Vec<_>) = o.failed.iter().partition(|(_, e)| crate::interrupt::is_interrupted(e));
    let mut out = if o.interrupted {
        format!(
            "Interrupted by {} after {seconds:.1}s: {done} done, {} failed, {} stopped, {} abandoned, {} not started.",
            crate::interrupt::signal_name(),
            failed.len(),
            stopped.len(),
            o.abandoned.len(),
            o.not_started.len(),
        )
    } else if o.failed.iter().all(|(_, e)| e.downcast_ref::<crate::apply::Blocked>().is_some()) {
        format!(
            "Blocked after {seconds:.1}s: {done} done (everything that does not need the blocked step), {} blocked, {} not started (they need it).",
            o.failed.len(),
            o.not_started.len(),
        )
    } else {
        format!(
            "Stopped after a failure in {seconds:.1}s: {done} done, {} failed, {} not started.",
            o.failed.len(),
            o.not_started.len(),
        )
    };
    let mut list = |title: &str, idx: &mut dyn Iterator<Item = usize>| {
        let text = names(idx);
        if !text.is_empty() {
            out.push_str(&format!("\n  {title}:\n{text}"));
        }
    };
    list("failed", &mut failed.iter().map(|(i, _)| *i));
    list("stopped waiting (the resource exists)", &mut stopped.iter().map(|(i, _)| *i));
    list("abandoned in flight (the call may or may not have taken effect)", &mut o.abandoned.iter().copied());
    list("not started", &mut o.not_started.iter().copied());
    let again = if o.interrupted { "resume" } else { "finish" };
    out.push_str(&format!("\n  Run the same command again to {again}: it plans from what exists now."));
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

/// One round's outcome as JSON: `done`, `failed`, `not_started`, `abandoned`.
pub fn outcome_json(steps: &[Step], o: &Outcome) -> serde_json::Value {
    let addr = |i: usize| json!({ "address": steps[i].address, "action": steps[i].action, "reason": steps[i].reason.to_string() });
    json!({
        "done": o.done.iter().map(|&i| addr(i)).collect::<Vec<_>>(),
        "failed": o.failed.iter().map(|(i, e)| json!({ "address": steps[*i].address, "action": steps[*i].action, "error": format!("{e:#}") })).collect::<Vec<_>>(),
        "not_started": o.not_started.iter().map(|&i| addr(i)).collect::<Vec<_>>(),
        "abandoned": o.abandoned.iter().map(|&i| addr(i)).collect::<Vec<_>>(),
    })
}

/// What a fresh plan after applying still wants, field by field.
pub fn not_converged<P>(v: &crate::plan::Plan<P>) -> String {
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
        let mut plan = crate::plan::Plan::<()>::default();
        let mut f = crate::diff::FieldDiff::default();
        f.field("availability_zone", Some(Some("us-east-1a")), Some("eu-west-1a"));
        plan.changes.push(crate::plan::ResourceChange::new(
            Address::new(Kind::Subnet, "public-a"),
            Action::Replace,
            Reason::CannotUpdateInPlace(vec!["availability_zone".into()]),
            f.changes,
            (),
        ));
        assert_eq!(
            not_converged(&plan),
            "the stack did not converge: a fresh plan still has 1 change(s):\n  -/+ subnet.public-a  (availability_zone cannot change in place)\n      availability_zone:  \"us-east-1a\" → \"eu-west-1a\""
        );
    }

    #[test]
    fn a_failed_run_lists_what_failed_and_what_never_started_on_lines_of_their_own() {
        let steps: Vec<Step> = (0..12).map(|i| step(&format!("/ecs/group-number-{i:02}"))).collect();
        let outcome = Outcome {
            done: vec![0],
            failed: vec![(1, anyhow::anyhow!("boom"))],
            not_started: (2..12).collect(),
            ..Default::default()
        };
        let text = outcome_line(&steps, &outcome, 0, 1.5);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Stopped after a failure in 1.5s: 1 done, 1 failed, 10 not started.");
        assert_eq!(lines[1..3], ["  failed:", "    log_group./ecs/group-number-01"]);
        assert_eq!(lines[3], "  not started:");
        assert!(lines.iter().all(|l| l.len() <= 101), "{text}");
        assert!(text.contains("log_group./ecs/group-number-11"), "{text}");
        assert!(text.ends_with("Run the same command again to finish: it plans from what exists now."), "{text}");
        let blocked = Outcome {
            done: vec![0],
            failed: vec![(1, crate::apply::Blocked("not delegated".into()).into())],
            not_started: vec![2],
            ..Default::default()
        };
        let first = outcome_line(&steps, &blocked, 0, 0.6);
        assert!(first.starts_with("Blocked after 0.6s: 1 done (everything that does not need the blocked step), 1 blocked, 1 not started (they need it)."), "{first}");
    }
}

#[cfg(test)]
mod interrupted {
    use super::*;
    use crate::model::{Address, Kind};
    use crate::plan::Reason;

    #[test]
    fn an_interrupted_run_lists_what_stopped_was_abandoned_and_never_started_and_counts_earlier_rounds() {
        let step = |name: &str| Step {
            address: Address::new(Kind::LogGroup, name),
            action: Action::Create,
            reason: Reason::Missing,
            after: vec![],
            change: 0,
        };
        let steps: Vec<Step> = ["a", "b", "c", "d"].iter().map(|n| step(n)).collect();
        let waiting = crate::interrupt::Interrupted::new("stopped waiting for log_group.b");
        let o = Outcome {
            done: vec![0],
            failed: vec![(1, waiting.into())],
            abandoned: vec![2],
            not_started: vec![3],
            interrupted: true,
            took: Default::default(),
        };
        let text = outcome_line(&steps, &o, 5, 2.0);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Interrupted by a signal after 2.0s: 6 done, 0 failed, 1 stopped, 1 abandoned, 1 not started."
        );
        assert_eq!(lines[1..3], ["  stopped waiting (the resource exists):", "    log_group.b"]);
        assert_eq!(
            lines[3..5],
            ["  abandoned in flight (the call may or may not have taken effect):", "    log_group.c"]
        );
        assert_eq!(lines[5..7], ["  not started:", "    log_group.d"]);
        assert_eq!(lines[7], "  Run the same command again to resume: it plans from what exists now.");
        let done = Outcome { done: vec![0, 1], ..Default::default() };
        assert_eq!(
            outcome_line(&steps, &done, 3, 1.0),
            "Done: 5 step(s) in 1.0s (in more than one round: the stack was read again after calls that got no answer)."
        );
    }
}
