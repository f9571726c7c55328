//! `--target`: narrows a plan to some resources. `up`/`diff` keep the targets' changes and those of
//! everything they need (the stack file's dependency graph, through unchanged resources too);
//! `down` keeps the targets' deletions. A target that would break what it leaves out — deleting or
//! replacing a resource that a change outside the targets still needs — is refused, naming the
//! `--target` to add.
//!
//! Invariants: a narrowed plan only ever drops changes (never adds one); a pattern that matches no
//! resource is an error, not an empty plan; the plan says in its first warning that it is narrowed.

use std::collections::BTreeSet;

use anyhow::{bail, Result};

use super::graph::Graph;
use super::{Action, Plan};
use crate::model::{Address, Kind};

#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    /// `ecs_service.*`
    Kind(Kind),
    /// `ecs_service.containrlab-service`
    Exact(Address),
}

/// The `--target` patterns of one command.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Targets {
    given: Vec<String>,
    patterns: Vec<Pattern>,
}

impl Targets {
    /// Parses `KIND.NAME` or `KIND.*` (kinds as in plans: `ecs_service`, `load_balancer`…).
    pub fn parse(given: &[String]) -> Result<Targets> {
        let mut patterns = Vec::new();
        for t in given {
            let Some((kind, name)) = t.split_once('.') else {
                bail!("--target {t}: expected KIND.NAME or KIND.* (e.g. ecs_service.containrlab-service, listener_rule.*)");
            };
            let Some(kind) = Kind::ALL.iter().copied().find(|k| k.as_str() == kind) else {
                let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                bail!("--target {t}: `{kind}` is not a resource kind; kinds: {}", kinds.join(", "));
            };
            patterns.push(match name {
                "*" => Pattern::Kind(kind),
                "" => bail!("--target {t}: the name after `{}.` is missing (or `*` for all)", kind.as_str()),
                _ => Pattern::Exact(Address::new(kind, name)),
            });
        }
        Ok(Targets { given: given.to_vec(), patterns })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    fn matches(&self, a: &Address) -> bool {
        self.patterns.iter().any(|p| match p {
            Pattern::Kind(k) => a.kind == *k,
            Pattern::Exact(x) => x == a,
        })
    }
}

/// Narrows `plan` to `targets`. `graph` is the stack file's (every declared resource and what it
/// needs); `needs` is false for `down`, whose targets take nothing else with them.
pub fn narrow<P>(plan: &mut Plan<P>, targets: &Targets, graph: &Graph, needs: bool) -> Result<()> {
    if targets.is_empty() {
        return Ok(());
    }
    let known: BTreeSet<&Address> = graph.nodes.iter().chain(plan.changes.iter().map(|c| &c.address)).collect();
    for (given, pattern) in targets.given.iter().zip(&targets.patterns) {
        let one = Targets { given: vec![given.clone()], patterns: vec![pattern.clone()] };
        if !known.iter().any(|a| one.matches(a)) {
            bail!("--target {given} matches no resource of the stack (`containrlab graph` lists the addresses); nothing was read further or changed");
        }
    }
    let mut selected: BTreeSet<Address> = known.iter().filter(|a| targets.matches(a)).map(|a| (*a).clone()).collect();
    if needs {
        let mut queue: Vec<Address> = selected.iter().cloned().collect();
        while let Some(a) = queue.pop() {
            for (before, _) in graph.edges.iter().filter(|(_, after)| *after == a) {
                if selected.insert(before.clone()) {
                    queue.push(before.clone());
                }
            }
        }
    }
    refuse_broken(plan, &selected, graph)?;
    let total = plan.changes.len();
    plan.changes.retain(|c| selected.contains(&c.address));
    plan.conflicts.retain(|c| selected.contains(&c.address));
    plan.kept.retain(|k| selected.contains(&k.address));
    let what = if needs { " and what they need" } else { "" };
    plan.warnings.insert(
        0,
        format!(
            "TARGETED: only --target {}{what}: {} of the {total} change(s) AWS needs; the rest of the stack is left as it is",
            targets.given.join(" --target "),
            plan.changes.len()
        ),
    );
    Ok(())
}

/// A kept deletion or replacement of `x` breaks every change outside the selection that depends
/// on `x` (it would be left pointing at what is gone).
fn refuse_broken<P>(plan: &Plan<P>, selected: &BTreeSet<Address>, graph: &Graph) -> Result<()> {
    let changed: BTreeSet<&Address> = plan.changes.iter().map(|c| &c.address).collect();
    let mut missing: BTreeSet<(Address, Address)> = BTreeSet::new();
    for c in plan.changes.iter().filter(|c| selected.contains(&c.address)) {
        if !matches!(c.action, Action::Delete | Action::Replace) {
            continue;
        }
        let mut queue = vec![c.address.clone()];
        let mut seen = BTreeSet::new();
        while let Some(a) = queue.pop() {
            for (_, after) in graph.edges.iter().filter(|(before, _)| *before == a) {
                if seen.insert(after.clone()) {
                    if changed.contains(after) && !selected.contains(after) {
                        missing.insert((c.address.clone(), after.clone()));
                    }
                    queue.push(after.clone());
                }
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = missing
        .iter()
        .map(|(x, dependent)| format!("{dependent} needs {x}, which the plan deletes or replaces"))
        .collect();
    let flags: BTreeSet<String> = missing.iter().map(|(_, d)| format!("--target {d}")).collect();
    bail!(
        "the targets would leave {} resource(s) broken; nothing was changed:\n  {}\n  Add {} (or target the whole kind with KIND.*).",
        lines.len(),
        lines.join("\n  "),
        flags.into_iter().collect::<Vec<_>>().join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Reason, ResourceChange};

    fn a(s: &str) -> Address {
        let (kind, name) = s.split_once('.').unwrap();
        Address::new(Kind::ALL.iter().copied().find(|k| k.as_str() == kind).unwrap(), name)
    }

    fn change(s: &str, action: Action) -> ResourceChange<()> {
        ResourceChange::new(a(s), action, Reason::Drifted, Vec::new(), ())
    }

    /// vpc → subnet → load_balancer → listener; vpc → security_group.
    fn graph() -> Graph {
        let nodes = ["vpc.v", "subnet.s", "load_balancer.lb", "listener.https", "security_group.sg"].map(a).to_vec();
        let edges = [
            ("vpc.v", "subnet.s"),
            ("subnet.s", "load_balancer.lb"),
            ("load_balancer.lb", "listener.https"),
            ("vpc.v", "security_group.sg"),
        ];
        Graph { nodes, edges: edges.iter().map(|(x, y)| (a(x), a(y))).collect() }
    }

    fn targets(t: &[&str]) -> Targets {
        Targets::parse(&t.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn addresses(p: &Plan<()>) -> Vec<String> {
        p.changes.iter().map(|c| c.address.to_string()).collect()
    }

    #[test]
    fn a_target_keeps_its_changes_and_those_it_needs_through_unchanged_resources() {
        let mut plan = Plan {
            changes: vec![
                change("vpc.v", Action::Update),
                change("listener.https", Action::Create),
                change("security_group.sg", Action::Update),
            ],
            ..Plan::default()
        };
        narrow(&mut plan, &targets(&["listener.*"]), &graph(), true).unwrap();
        // The listener needs the VPC through the unchanged subnet and load balancer; not the group.
        assert_eq!(addresses(&plan), ["vpc.v", "listener.https"]);
        assert!(
            plan.warnings[0].starts_with("TARGETED: only --target listener.* and what they need: 2 of the 3 change(s)"),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn deleting_what_an_untargeted_change_needs_is_refused() {
        let mut plan = Plan {
            changes: vec![change("load_balancer.lb", Action::Delete), change("listener.https", Action::Delete)],
            ..Plan::default()
        };
        let err = narrow(&mut plan, &targets(&["load_balancer.lb"]), &graph(), false).unwrap_err().to_string();
        assert!(err.contains("listener.https needs load_balancer.lb, which the plan deletes or replaces"), "{err}");
        assert!(err.contains("Add --target listener.https"), "{err}");
        assert_eq!(plan.changes.len(), 2, "a refused narrowing leaves the plan as it was");
        narrow(&mut plan, &targets(&["load_balancer.lb", "listener.*"]), &graph(), false).unwrap();
        assert_eq!(addresses(&plan), ["load_balancer.lb", "listener.https"]);
    }

    #[test]
    fn bad_and_unmatched_targets_are_errors() {
        for (t, message) in [
            ("ecs_servce.x", "`ecs_servce` is not a resource kind"),
            ("vpc", "expected KIND.NAME or KIND.*"),
            ("vpc.", "the name after `vpc.` is missing"),
        ] {
            let err = Targets::parse(&[t.to_string()]).unwrap_err().to_string();
            assert!(err.contains(message), "{t}: {err}");
        }
        let mut plan = Plan::<()>::default();
        let err = narrow(&mut plan, &targets(&["vpc.other"]), &graph(), true).unwrap_err().to_string();
        assert!(err.contains("--target vpc.other matches no resource of the stack"), "{err}");
        let mut untouched = Plan { changes: vec![change("vpc.v", Action::Update)], ..Plan::default() };
        narrow(&mut untouched, &Targets::default(), &graph(), true).unwrap();
        assert!(untouched.warnings.is_empty() && untouched.changes.len() == 1);
    }
}
