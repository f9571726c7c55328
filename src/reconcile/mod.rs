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

use anyhow::Result;

use crate::aws::Clients;
use crate::model::desired::Desired;
use crate::model::{Address, Kind};
use crate::plan::build::PlanContext;
use crate::plan::Step;

/// Everything observed in AWS, normalised, per service.
#[derive(Debug, Default)]
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

/// Reads every service concurrently. `image_tag`: `--image-tag`, whose images ECR is asked for.
pub async fn observe(clients: &Clients, desired: &Desired, image_tag: Option<&str>) -> Result<Observed> {
    let stack = desired.stack.as_str();
    let cluster_names: Vec<String> = desired.clusters.iter().map(|c| c.name.clone()).collect();
    let index = &tag_index::TagIndex::new(clients, stack);
    let amis = desired.ec2_capacity.iter().map(|c| c.ami_parameter.clone());
    let values = &ssm::Values::new(&clients.ssm, &desired.parameters, amis);
    let domain = desired.ingress.as_ref().and_then(|e| e.certificate.as_ref()).map(|c| c.domain.as_str());
    // The index's one query starts with the first round, whichever service asks for it first.
    let ((), network, edge, certificates, dns, iam, ecs, runner, topics, alarms, repositories, parameters, log_groups) =
        tokio::try_join!(
            async { index.listed().await.map(drop) },
            network::observe(clients, stack),
            elb::observe(clients, index, stack, desired.ingress.as_ref()),
            acm::observe(clients, index, stack, domain),
            dns::observe(clients, desired.dns.as_ref()),
            iam::observe(clients, desired.iam.as_ref()),
            ecs::observe(clients, index, stack, &cluster_names, &desired.services, image_tag),
            runner::observe(clients, values, stack, &desired.ec2_capacity, &cluster_names),
            sns::observe(clients, index, desired.notifications.as_ref()),
            alarms::observe(clients, index, &desired.alarms),
            ecr::observe(&clients.ecr, index, stack, &desired.repositories),
            ssm::observe(&clients.ssm, index, values, &desired.parameters),
            logs::observe(clients, index, &desired.log_groups),
        )?;
    let mut observed = Observed {
        network,
        edge,
        certificates,
        dns,
        iam,
        ecs,
        runner,
        topics,
        alarms,
        repositories,
        parameters,
        log_groups,
        duplicates: Default::default(),
    };
    observed.duplicates = duplicates::resolve(stack, &observed);
    Ok(observed)
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
    /// The ids of everything observed.
    pub fn new(observed: &Observed) -> Ids {
        let mut ids = observed.network.ids();
        ids.extend(observed.edge.ids());
        ids.extend(observed.certificates.iter().map(|c| (Address::new(Kind::Certificate, &c.name), c.id.clone())));
        let runner = &observed.runner;
        ids.extend(runner.launch_templates.iter().map(|l| (Address::new(Kind::LaunchTemplate, &l.name), l.id.clone())));
        ids.extend(runner.groups.iter().map(|g| (Address::new(Kind::AutoScalingGroup, &g.name), g.id.clone())));
        ids.extend(observed.iam.roles.iter().map(|r| (Address::new(Kind::IamRole, &r.name), r.id.clone())));
        if let Some(p) = &observed.iam.oidc {
            ids.insert(Address::new(Kind::IamOidcProvider, crate::model::iam::GITHUB_OIDC_HOST), p.arn.clone());
        }
        ids.extend(observed.topics.iter().map(|t| (Address::new(Kind::SnsTopic, &t.name), t.arn.clone())));
        // The zone's id is needed even when the zone is not this stack's (it is used, not managed).
        if let Some(z) = &observed.dns.zone {
            ids.insert(Address::new(Kind::HostedZone, &z.name), z.id.clone());
        }
        // An address carried twice names the resource kept, whichever was listed last.
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
