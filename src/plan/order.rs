//! Ordering: turns the plan's changes into steps with their prerequisites.
//!
//! Creates, updates and replacements follow the resources' declared dependencies (a resource after
//! what it needs). A delete waits for two things: the other deletes that AWS requires first
//! (`model::delete_order`, each rule with its reason — nothing more, so `down` is as short as AWS
//! allows), and every create, update or replacement that may move a reference away from it — one
//! that declares a dependency on it, or whose kind depends on its kind.
//! A replacement of a kind that is replaced create-before-destroy (a target group: listener rules
//! must always have one to forward to) becomes two steps: create the new one, then — after every
//! change that moves references to it — delete the old one.

use super::{Action, Plan, Reason, Step};

pub fn steps<P>(plan: &Plan<P>) -> Vec<Step> {
    let changes = &plan.changes;
    let mut steps: Vec<Step> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let after = changes
                .iter()
                .enumerate()
                .filter(|(_, other)| {
                    if c.action == Action::Delete && other.action == Action::Delete {
                        other.address.kind.deleted_before(c.address.kind).is_some()
                    } else if c.action == Action::Delete {
                        // What moves its references away from this resource goes first.
                        let needs_it = other.depends_on.contains(&c.address)
                            || (other.address.kind != c.address.kind && other.address.kind.needs(c.address.kind));
                        other.address != c.address && needs_it
                    } else {
                        other.action != Action::Delete && c.depends_on.contains(&other.address)
                    }
                })
                .map(|(i, _)| i)
                .collect();
            let action = if c.action == Action::Replace && c.address.kind.create_before_destroy() {
                Action::Create
            } else {
                c.action
            };
            Step { address: c.address.clone(), action, reason: c.reason.clone(), after, change: i }
        })
        .collect();
    for (i, c) in changes.iter().enumerate() {
        if c.action == Action::Replace && c.address.kind.create_before_destroy() {
            let movers = changes
                .iter()
                .enumerate()
                .filter(|(_, o)| o.action != Action::Delete && o.depends_on.contains(&c.address));
            let after = std::iter::once(i).chain(movers.map(|(j, _)| j)).collect();
            steps.push(Step {
                address: c.address.clone(),
                action: Action::Delete,
                reason: Reason::Superseded,
                after,
                change: i,
            });
        }
    }
    steps
}

/// Refuses steps whose prerequisites form a cycle (they could never start): a planner bug, named.
pub fn check_acyclic(steps: &[Step]) -> anyhow::Result<()> {
    let mut done = vec![false; steps.len()];
    loop {
        let ready: Vec<usize> =
            (0..steps.len()).filter(|&i| !done[i] && steps[i].after.iter().all(|&j| done[j])).collect();
        if ready.is_empty() {
            break;
        }
        ready.into_iter().for_each(|i| done[i] = true);
    }
    let stuck: Vec<String> = steps
        .iter()
        .zip(&done)
        .filter(|(_, d)| !**d)
        .map(|(s, _)| format!("{} {}", s.action.symbol(), s.address))
        .collect();
    if stuck.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "the plan's steps wait for each other in a cycle (a planner bug); nothing was changed:\n  {}",
            stuck.join("\n  ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, Kind};

    fn step(name: &str, after: Vec<usize>) -> Step {
        Step {
            address: Address::new(Kind::LogGroup, name),
            action: Action::Create,
            reason: Reason::Missing,
            after,
            change: 0,
        }
    }

    #[test]
    fn a_cycle_of_steps_is_refused_naming_them() {
        assert!(check_acyclic(&[step("a", vec![]), step("b", vec![0])]).is_ok());
        let err = check_acyclic(&[step("a", vec![]), step("b", vec![2]), step("c", vec![1])]).expect_err("cycle");
        assert!(err.to_string().ends_with("\n  + log_group.b\n  + log_group.c"), "{err}");
    }
}
