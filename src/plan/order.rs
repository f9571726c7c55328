//! Ordering: turns the plan's changes into steps with their prerequisites.
//!
//! Creates, updates and replacements follow the resources' declared dependencies (a resource after
//! what it needs). Deletes run in reverse: a resource is deleted only after every change to a
//! resource that needs it — by a declared dependency (the stack file still names them during
//! `down`) or, for resources the file no longer names, because its kind depends on this kind.
//! So references are moved away or removed before their target goes.

use super::{Action, Plan, Step};

pub fn steps(plan: &Plan) -> Vec<Step> {
    let changes = &plan.changes;
    changes
        .iter()
        .map(|c| {
            let after = changes
                .iter()
                .enumerate()
                .filter(|(_, other)| {
                    if c.action == Action::Delete {
                        // Reverse edges: whatever needs this resource goes first.
                        let needs_it = other.depends_on.contains(&c.address)
                            || (other.address.kind != c.address.kind && other.address.kind.needs(c.address.kind));
                        other.address != c.address && needs_it
                    } else {
                        other.action != Action::Delete && c.depends_on.contains(&other.address)
                    }
                })
                .map(|(i, _)| i)
                .collect();
            Step { address: c.address.clone(), action: c.action, reason: c.reason.clone(), after }
        })
        .collect()
}
