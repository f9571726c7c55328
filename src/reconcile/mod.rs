//! The reconcilers: one module per AWS service (its batched observation), one file per resource
//! kind, each kind a `contract::Resource`. `observe` reads every service concurrently; `diff`
//! plans every kind in the kind graph's order (`Kind::planning_order`); `apply` carries out one
//! step through the payload its change carries. `registry.rs` maps each kind to its type once: the
//! only dispatch to a kind.
//!
//! Invariants: if any observation fails the command fails before a plan exists, so an incomplete
//! picture never deletes anything. NotFound on a delete is success (`contract::run`).

pub mod acm;
pub mod alarms;
pub mod contract;
pub mod dns;
pub mod duplicates;
pub mod ecr;
pub mod ecs;
pub mod elb;
pub mod iam;
pub mod inventory;
pub mod kit;
pub mod logs;
pub mod network;
pub mod registry;
pub mod reread;
pub mod runner;
pub mod sns;
pub mod ssm;
pub mod tag_index;
pub mod tags;

pub use kit::Ids;
pub use registry::Payload;

/// The plan as the reconcilers make and carry it out: each change holds its kind's pair.
pub type Plan = crate::plan::Plan<Payload>;
pub type ResourceChange = crate::plan::ResourceChange<Payload>;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use anyhow::Result;

use crate::aws::Clients;
use crate::model::desired::Desired;
use crate::model::{Address, Kind};
use crate::plan::build::PlanContext;
use crate::plan::Step;

/// Everything observed in AWS, normalised, per service.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    pub network: network::ObservedNetwork,
    pub edge: elb::ObservedEdge,
    pub certificates: Vec<kit::Observed<acm::CertificateFields>>,
    pub dns: dns::ObservedDns,
    pub iam: iam::ObservedIam,
    pub ecs: ecs::ObservedEcs,
    pub runner: runner::ObservedRunner,
    pub topics: Vec<sns::ObservedTopic>,
    pub alarms: Vec<kit::Observed<alarms::AlarmFields>>,
    pub repositories: Vec<ecr::ObservedRepository>,
    pub parameters: Vec<ssm::ObservedParameter>,
    pub log_groups: Vec<logs::ObservedLogGroup>,
    /// Addresses carried by more than one resource, decided by evidence of use.
    pub duplicates: duplicates::Duplicates,
}

/// The observation groups, one per service module: each kind is read by one (`Resource::GROUP`).
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

impl Group {
    pub const ALL: [Group; 12] = [
        Group::Network,
        Group::Edge,
        Group::Certificates,
        Group::Dns,
        Group::Iam,
        Group::Ecs,
        Group::Runner,
        Group::Topics,
        Group::Alarms,
        Group::Repositories,
        Group::Parameters,
        Group::LogGroups,
    ];
}

/// Reads every service concurrently. `image_tag`: `--image-tag`, whose images ECR is asked for.
pub async fn observe(clients: &Clients, desired: &Desired, image_tag: Option<&str>) -> Result<Observed> {
    observe_groups(clients, desired, image_tag, &Group::ALL.into(), Observed::default()).await
}

/// `previous` with the groups in `groups` read (again), concurrently; the others are not even
/// started. `image_tag`: the images ECR is asked for; without one, `previous`'s are kept (no step
/// changes ECR's images).
pub async fn observe_groups(
    clients: &Clients,
    desired: &Desired,
    image_tag: Option<&str>,
    groups: &BTreeSet<Group>,
    mut previous: Observed,
) -> Result<Observed> {
    let stack = desired.stack.as_str();
    let cluster_names: Vec<String> = desired.clusters.iter().map(|c| c.name.clone()).collect();
    let index = &tag_index::TagIndex::new(clients, stack);
    let domain = desired.ingress.as_ref().and_then(|e| e.certificate.as_ref()).map(|c| c.domain.as_str());
    let on = |g: Group| groups.contains(&g);
    // One read of SSM values for the groups that need them.
    let parameters: &[_] = if on(Group::Parameters) { &desired.parameters } else { &[] };
    let amis = desired.ec2_capacity.iter().filter(|_| on(Group::Runner)).map(|c| c.ami_parameter.clone());
    let values = &ssm::Values::new(&clients.ssm, parameters, amis);
    // The tagging index's one query starts with the first round when a group uses it.
    let indexed = groups.iter().any(|g| !matches!(g, Group::Network | Group::Dns | Group::Iam | Group::Runner));
    // On the heap: the thirteen reads' state is too large for the main thread's stack in a debug build.
    let reads = Box::pin(async {
        tokio::try_join!(
            async {
                if indexed {
                    index.listed().await.map(drop)
                } else {
                    Ok(())
                }
            },
            maybe(on(Group::Network), network::observe(clients, stack)),
            maybe(on(Group::Edge), elb::observe(clients, index, stack, desired.ingress.as_ref())),
            maybe(on(Group::Certificates), acm::observe(clients, index, stack, domain)),
            maybe(on(Group::Dns), dns::observe(clients, desired.dns.as_ref())),
            maybe(on(Group::Iam), iam::observe(clients, desired.iam.as_ref())),
            maybe(on(Group::Ecs), ecs::observe(clients, index, stack, &cluster_names, &desired.services, image_tag)),
            maybe(on(Group::Runner), runner::observe(clients, values, stack, &desired.ec2_capacity, &cluster_names)),
            maybe(on(Group::Topics), sns::observe(clients, index, desired.notifications.as_ref())),
            maybe(on(Group::Alarms), alarms::observe(clients, index, &desired.alarms)),
            maybe(on(Group::Repositories), ecr::observe(&clients.ecr, index, stack, &desired.repositories)),
            maybe(on(Group::Parameters), ssm::observe(&clients.ssm, index, values, &desired.parameters)),
            maybe(on(Group::LogGroups), logs::observe(clients, index, &desired.log_groups)),
        )
    });
    let ((), network, edge, certificates, dns, iam, ecs, runner, topics, alarms, repositories, parameters, log_groups) =
        reads.await?;
    let o = &mut previous;
    replace(&mut o.network, network);
    replace(&mut o.edge, edge);
    replace(&mut o.certificates, certificates);
    replace(&mut o.dns, dns);
    replace(&mut o.iam, iam);
    let images = std::mem::take(&mut o.ecs.images);
    replace(&mut o.ecs, ecs);
    if image_tag.is_none() {
        o.ecs.images = images;
    }
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

/// The pure half of planning: desired against observed, every kind, in the kind graph's order.
pub fn diff(ctx: &PlanContext, desired: &Desired, observed: &Observed, plan: &mut Plan) -> Result<()> {
    // What the stack file needs to exist and cannot be created.
    dns::check_zone(desired.dns.as_ref(), &observed.dns, ctx.mode)?;
    runner::check_amis(&desired.ec2_capacity, &observed.runner, ctx.mode)?;
    ecs::check_images(ctx, &desired.services, &observed.ecs, plan)?;
    let ids = Ids::new(observed);
    for kind in Kind::planning_order() {
        let mut part = Plan::default();
        let cx = contract::DiffCx { ctx, desired, observed, ids: &ids, plan };
        registry::plan(kind, &cx, &mut part);
        plan.append(part);
    }
    Ok(())
}

/// Carries out one step with the values its change carries.
pub async fn apply(
    clients: &Clients,
    ctx: &PlanContext,
    ids: &Ids,
    step: &Step,
    change: &ResourceChange,
) -> Result<()> {
    let cx = contract::ApplyCx { clients, ctx, ids };
    // What this process changes, the tagging API may not show yet: later reads ask each service.
    tag_index::distrust();
    change.payload.apply(&cx, step, &change.fields).await
}

impl Ids {
    /// The id of every observed resource (`inventory`) — a zone's even when it is not this
    /// stack's: it is used, not managed. An address carried twice names the resource kept.
    pub fn new(observed: &Observed) -> Ids {
        let mut copy = observed.clone();
        let mut ids: BTreeMap<Address, String> =
            inventory::entries(&mut copy).into_iter().map(|e| (e.address, e.id.to_string())).collect();
        for ((kind, duplicate), kept) in &observed.duplicates.extra {
            for (address, id) in ids.iter_mut() {
                if address.kind == *kind && id == duplicate {
                    *id = kept.clone();
                }
            }
        }
        Ids::from_map(ids)
    }
}

#[cfg(test)]
mod tests;
