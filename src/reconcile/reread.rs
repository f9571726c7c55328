//! The verification after `up` applies its steps reads again only what those steps can have
//! changed, and reuses the plan's first reads for the rest: a deploy (task definitions and
//! services) re-reads ECS and the alarms, not the VPC, IAM, ECR, SSM or Route 53.
//!
//! Invariants: observation is in groups, one per service module (`Group`); a group is read again
//! when the plan changed one of its kinds, a kind that needs one of them (its observation may
//! name the changed resource: an alarm its service), or a kind whose apply writes into another
//! group's resources (`WRITES_INTO`). Anything else cannot have been changed by this run; a
//! change by hand during the run is what the next `diff` is for, as it is for a full re-read.

use std::collections::BTreeSet;
use std::future::Future;

use anyhow::Result;

use super::ResourceChange;
use super::*;
use crate::model::Kind;

/// The observation groups of `reconcile::observe`, one per service module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Network,
    Edge,
    Certificates,
    Dns,
    Iam,
    Ecs,
    Runner,
    Topics,
    Alarms,
    Repositories,
    Parameters,
    LogGroups,
}

/// The group that reads a kind.
pub fn group(kind: Kind) -> Group {
    match kind {
        Kind::Vpc
        | Kind::Subnet
        | Kind::InternetGateway
        | Kind::ElasticIp
        | Kind::NatGateway
        | Kind::RouteTable
        | Kind::SecurityGroup
        | Kind::SecurityGroupRules
        | Kind::FlowLog => Group::Network,
        Kind::IamOidcProvider | Kind::IamRole => Group::Iam,
        Kind::HostedZone | Kind::DnsRecords => Group::Dns,
        Kind::Certificate => Group::Certificates,
        Kind::TargetGroup | Kind::LoadBalancer | Kind::Listener | Kind::ListenerRule => Group::Edge,
        Kind::EcsCluster | Kind::TaskDefinition | Kind::EcsService => Group::Ecs,
        Kind::LaunchTemplate | Kind::AutoScalingGroup | Kind::CapacityProvider => Group::Runner,
        Kind::SnsTopic => Group::Topics,
        Kind::Alarm => Group::Alarms,
        Kind::EcrRepository => Group::Repositories,
        Kind::SsmParameter => Group::Parameters,
        Kind::LogGroup => Group::LogGroups,
    }
}

/// Kinds whose apply changes resources another group reads: a certificate writes its
/// validation records into the hosted zone; a capacity provider is associated with its cluster.
const WRITES_INTO: &[(Kind, Group)] = &[(Kind::Certificate, Group::Dns), (Kind::CapacityProvider, Group::Ecs)];

/// The groups the changes can have altered.
pub fn touched(changes: &[ResourceChange]) -> BTreeSet<Group> {
    let changed: BTreeSet<Kind> = changes.iter().map(|c| c.address.kind).collect();
    let mut out = BTreeSet::new();
    for &kind in Kind::ALL {
        if changed.contains(&kind) || changed.iter().any(|&c| kind.needs(c)) {
            out.insert(group(kind));
        }
    }
    out.extend(WRITES_INTO.iter().filter(|(k, _)| changed.contains(k)).map(|(_, g)| *g));
    out
}

/// `previous` with the groups in `groups` read again.
pub async fn observe_again(
    clients: &Clients,
    desired: &Desired,
    mut previous: Observed,
    groups: &BTreeSet<Group>,
) -> Result<Observed> {
    let stack = desired.stack.as_str();
    let cluster_names: Vec<String> = desired.clusters.iter().map(|c| c.name.clone()).collect();
    let index = &tag_index::TagIndex::new(clients, stack);
    let domain = desired.ingress.as_ref().and_then(|e| e.certificate.as_ref()).map(|c| c.domain.as_str());
    let on = |g: Group| groups.contains(&g);
    // One read of SSM values for the groups read again that need them.
    let parameters: &[_] = if on(Group::Parameters) { &desired.parameters } else { &[] };
    let amis = desired.ec2_capacity.iter().filter(|_| on(Group::Runner)).map(|c| c.ami_parameter.clone());
    let values = &ssm::Values::new(&clients.ssm, parameters, amis);
    let (network, edge, certificates, dns, iam, ecs, runner, topics, alarms, repositories, parameters, log_groups) = tokio::try_join!(
        maybe(on(Group::Network), network::observe(clients, stack)),
        maybe(on(Group::Edge), elb::observe(clients, index, stack, desired.ingress.as_ref())),
        maybe(on(Group::Certificates), acm::observe(clients, index, stack, domain)),
        maybe(on(Group::Dns), dns::observe(clients, desired.dns.as_ref())),
        maybe(on(Group::Iam), iam::observe(clients, desired.iam.as_ref())),
        maybe(on(Group::Ecs), ecs::observe(clients, index, stack, &cluster_names, &desired.services, None)),
        maybe(on(Group::Runner), runner::observe(clients, values, stack, &desired.ec2_capacity, &cluster_names)),
        maybe(on(Group::Topics), sns::observe(clients, index, desired.notifications.as_ref())),
        maybe(on(Group::Alarms), alarms::observe(clients, index, &desired.alarms)),
        maybe(on(Group::Repositories), ecr::observe(&clients.ecr, index, stack, &desired.repositories)),
        maybe(on(Group::Parameters), ssm::observe(&clients.ssm, index, values, &desired.parameters)),
        maybe(on(Group::LogGroups), logs::observe(clients, index, &desired.log_groups)),
    )?;
    let o = &mut previous;
    replace(&mut o.network, network);
    replace(&mut o.edge, edge);
    replace(&mut o.certificates, certificates);
    replace(&mut o.dns, dns);
    replace(&mut o.iam, iam);
    // The images `--image-tag` named were read once; no step changes ECR's images.
    let images = std::mem::take(&mut o.ecs.images);
    replace(&mut o.ecs, ecs);
    o.ecs.images = images;
    replace(&mut o.runner, runner);
    replace(&mut o.topics, topics);
    replace(&mut o.alarms, alarms);
    replace(&mut o.repositories, repositories);
    replace(&mut o.parameters, parameters);
    replace(&mut o.log_groups, log_groups);
    o.duplicates = duplicates::resolve(stack, o);
    Ok(previous)
}

/// Runs `read` only when `on`; it is not even started otherwise.
async fn maybe<T>(on: bool, read: impl Future<Output = Result<T>>) -> Result<Option<T>> {
    if on {
        read.await.map(Some)
    } else {
        Ok(None)
    }
}

fn replace<T>(slot: &mut T, fresh: Option<T>) {
    if let Some(fresh) = fresh {
        *slot = fresh;
    }
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
    fn a_deploy_reads_ecs_and_the_alarms_again_and_nothing_else() {
        let groups = touched(&[change(Kind::TaskDefinition), change(Kind::EcsService)]);
        assert_eq!(groups, BTreeSet::from([Group::Ecs, Group::Alarms]));
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
        assert_eq!(
            touched(&[change(Kind::LogGroup)]),
            BTreeSet::from([Group::LogGroups, Group::Network, Group::Ecs, Group::Alarms])
        );
        assert!(touched(&[]).is_empty());
    }
}
