//! The verification after `up` applies its steps reads again only what those steps can have
//! changed, and reuses the plan's first reads for the rest: a deploy (task definitions and
//! services) re-reads ECS, not the alarms, the VPC, IAM, ECR, SSM or Route 53.
//!
//! Invariants: observation is in groups, one per service module (`Group`); a group is read again
//! when the plan changed one of its kinds, a kind that needs one of them (its observation may
//! name the changed resource: an alarm its load balancer), or a kind whose apply writes into another
//! group's resources (`WRITES_INTO`). Anything else cannot have been changed by this run; a
//! change by hand during the run is what the next `diff` is for, as it is for a full re-read.

use std::collections::BTreeSet;

use super::{Group, ResourceChange};
use crate::model::Kind;

/// Kinds whose apply changes resources another group reads: a certificate writes its
/// validation records into the hosted zone; a capacity provider is associated with its cluster.
const WRITES_INTO: &[(Kind, Group)] = &[(Kind::Certificate, Group::Dns), (Kind::CapacityProvider, Group::Ecs)];

/// The groups the changes can have altered.
pub fn touched(changes: &[ResourceChange]) -> BTreeSet<Group> {
    let changed: BTreeSet<Kind> = changes.iter().map(|c| c.address.kind).collect();
    let mut out = BTreeSet::new();
    for &kind in Kind::ALL {
        if changed.contains(&kind) || changed.iter().any(|&c| kind.needs(c)) {
            out.insert(super::registry::group(kind));
        }
    }
    out.extend(WRITES_INTO.iter().filter(|(k, _)| changed.contains(k)).map(|(_, g)| *g));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Address;
    use crate::plan::{Action, Reason};

    fn change(kind: Kind) -> ResourceChange {
        let payload = crate::reconcile::Payload::none();
        ResourceChange::new(Address::new(kind, "x"), Action::Update, Reason::Drifted, Vec::new(), payload)
    }

    #[test]
    fn a_deploy_reads_ecs_again_and_nothing_else() {
        let groups = touched(&[change(Kind::TaskDefinition), change(Kind::EcsService)]);
        assert_eq!(groups, BTreeSet::from([Group::Ecs]));
        // A new load balancer: the alarms that name it by id.
        assert!(touched(&[change(Kind::LoadBalancer)]).contains(&Group::Alarms));
    }

    #[test]
    fn what_needs_a_changed_kind_and_what_a_kind_writes_into_are_read_again() {
        // A new VPC: everything in it and on it.
        let vpc = touched(&[change(Kind::Vpc)]);
        assert!(vpc.contains(&Group::Network) && vpc.contains(&Group::Edge) && vpc.contains(&Group::Runner));
        assert!(!vpc.contains(&Group::Repositories) && !vpc.contains(&Group::Parameters));
        // The certificate writes validation records into the zone.
        assert!(touched(&[change(Kind::Certificate)]).contains(&Group::Dns));
        assert!(touched(&[change(Kind::CapacityProvider)]).contains(&Group::Ecs));
        // A log group: the task definitions naming it and the flow log writing into it, and what
        // needs those.
        assert_eq!(touched(&[change(Kind::LogGroup)]), BTreeSet::from([Group::LogGroups, Group::Network, Group::Ecs]));
        assert!(touched(&[]).is_empty());
    }
}
