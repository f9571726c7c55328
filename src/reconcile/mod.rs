//! The reconcilers, one module per AWS service, behind one small contract:
//! `observe` (read-only, batched, concurrent), `diff` (pure), `apply` (one idempotent step).
//!
//! Invariants: all services are observed concurrently; if any observation fails the command
//! fails before a plan exists, so an incomplete picture never deletes anything. `apply` treats
//! NotFound on delete as success.

pub mod acm;
pub mod alarms;
pub mod contract;
pub mod dns;
pub mod ecr;
pub mod ecs;
pub mod elb;
pub mod iam;
pub mod kit;
pub mod logs;
pub mod network;
pub mod payload;
pub mod runner;
pub mod ssm;
pub mod tags;

pub use kit::Ids;

use std::collections::BTreeMap;

use anyhow::Result;

use crate::aws::Clients;
use crate::model::desired::Desired;
use crate::model::{Address, Kind};
use crate::plan::build::PlanContext;
use crate::plan::{Plan, ResourceChange, Step};

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
    pub alarms: Vec<kit::Observed<alarms::AlarmFields>>,
    pub repositories: Vec<ecr::ObservedRepository>,
    pub parameters: Vec<ssm::ObservedParameter>,
    pub log_groups: Vec<logs::ObservedLogGroup>,
}

pub async fn observe(clients: &Clients, desired: &Desired) -> Result<Observed> {
    let stack = desired.stack.as_str();
    let cluster_names: Vec<String> = desired.clusters.iter().map(|c| c.name.clone()).collect();
    let (network, edge, certificates, dns, iam, ecs, runner, alarms, repositories, parameters, log_groups) = tokio::try_join!(
        network::observe(clients, stack),
        elb::observe(clients, stack, desired.edge.as_ref()),
        acm::observe(clients, stack),
        dns::observe(clients, desired.dns.as_ref()),
        iam::observe(clients, stack, desired.iam.as_ref()),
        ecs::observe(clients, stack, &desired.services),
        runner::observe(clients, stack, &desired.ec2_capacity, &cluster_names),
        alarms::observe(clients, stack, &desired.alarms),
        ecr::observe(&clients.ecr, stack, &desired.repositories),
        ssm::observe(&clients.ssm, stack, &desired.parameters),
        logs::observe(clients, stack, &desired.log_groups),
    )?;
    Ok(Observed { network, edge, certificates, dns, iam, ecs, runner, alarms, repositories, parameters, log_groups })
}

/// The pure half of planning: desired against observed, every service.
pub fn diff(ctx: &PlanContext, desired: &Desired, observed: &Observed, plan: &mut Plan) -> Result<()> {
    plan_contract::<network::Vpc>(ctx, desired, observed, plan);
    plan_contract::<network::Subnet>(ctx, desired, observed, plan);
    plan_contract::<network::InternetGateway>(ctx, desired, observed, plan);
    plan_contract::<network::ElasticIp>(ctx, desired, observed, plan);
    plan_contract::<network::NatGateway>(ctx, desired, observed, plan);
    plan_contract::<network::RouteTable>(ctx, desired, observed, plan);
    plan_contract::<network::SecurityGroup>(ctx, desired, observed, plan);
    plan_contract::<network::SecurityGroupRules>(ctx, desired, observed, plan);
    iam::diff(ctx, desired.iam.as_ref(), &observed.iam, &ctx.account, &ctx.region, plan);
    plan_contract::<ecs::cluster::EcsCluster>(ctx, desired, observed, plan);
    dns_zone_and_certificate(ctx, desired, observed, plan)?;
    plan_contract::<elb::TargetGroup>(ctx, desired, observed, plan);
    plan_contract::<elb::LoadBalancer>(ctx, desired, observed, plan);
    plan_contract::<elb::Listener>(ctx, desired, observed, plan);
    plan_contract::<elb::ListenerRule>(ctx, desired, observed, plan);
    // Compute last: services wait for this plan's listener rules, groups for its routes.
    let ids = Ids::new(observed);
    let providers: BTreeMap<String, Vec<String>> =
        observed.ecs.clusters.iter().map(|c| (c.name.clone(), c.fields.capacity_providers.clone())).collect();
    runner::diff(ctx, &desired.ec2_capacity, &observed.runner, &providers, &ids, plan)?;
    ecs::diff_task_definitions(ctx, &desired.services, &observed.ecs, plan);
    ecs::diff_services(ctx, &desired.services, &observed.ecs, &ids, plan);
    plan_contract::<alarms::Alarm>(ctx, desired, observed, plan);
    plan_contract::<ecr::EcrRepository>(ctx, desired, observed, plan);
    plan_contract::<ssm::SsmParameter>(ctx, desired, observed, plan);
    plan_contract::<logs::LogGroup>(ctx, desired, observed, plan);
    Ok(())
}

/// Plans one kind that is on the reconciler contract.
fn plan_contract<R: contract::Resource>(ctx: &PlanContext, desired: &Desired, observed: &Observed, plan: &mut Plan) {
    let ids = Ids::new(observed);
    let snapshot = plan.clone();
    let cx = contract::DiffCx { ctx, desired, observed, ids: &ids, plan: &snapshot };
    R::plan(&cx, plan);
}

/// Carries out one step: through its payload for kinds on the reconciler contract, else by kind.
pub async fn apply(
    clients: &Clients,
    ctx: &PlanContext,
    desired: &Desired,
    observed: &Observed,
    ids: &Ids,
    step: &Step,
    change: &ResourceChange,
) -> Result<()> {
    if let Some(payload) = &change.payload {
        let cx = contract::ApplyCx { clients, ctx, ids };
        return payload.apply(&cx, step, &change.fields).await;
    }
    let (a, name) = (&step.address, step.address.name.as_str());
    match a.kind {
        Kind::HostedZone => dns::apply_zone(clients, ctx, observed.dns.zone.as_ref(), ids, step.action, a).await,
        Kind::TaskDefinition => {
            ecs::apply_task_definition(&clients.ecs, ctx, &desired.services, &observed.ecs, ids, step.action, a).await
        }
        Kind::EcsService => {
            ecs::apply_service(&clients.ecs, ctx, &desired.services, &observed.ecs, ids, step.action, a).await
        }
        Kind::LaunchTemplate | Kind::AutoScalingGroup | Kind::CapacityProvider => {
            runner::apply(clients, ctx, &desired.ec2_capacity, &observed.runner, ids, step.action, a).await
        }
        Kind::IamRole | Kind::IamOidcProvider => {
            iam::apply(
                clients,
                ctx,
                desired.iam.as_ref(),
                &observed.iam,
                &ctx.account,
                &ctx.region,
                ids,
                step.action,
                a,
            )
            .await
        }
        Kind::DnsRecords => {
            let lb = desired.edge.as_ref().map(|e| e.load_balancer.name.as_str());
            dns::apply_records(clients, desired.dns.as_ref(), &observed.dns, lb, ids, step.action, a).await
        }
        Kind::Certificate => {
            let d = desired.edge.as_ref().and_then(|e| e.certificate.as_ref()).filter(|c| c.domain == name);
            let zone = desired.dns.as_ref().map(|d| d.zone.as_str());
            let o = observed.certificates.iter().find(|c| c.name == name);
            acm::apply(clients, ctx, d, zone, o, ids, step.action, a).await
        }
        Kind::TargetGroup
        | Kind::LoadBalancer
        | Kind::Listener
        | Kind::ListenerRule
        | Kind::Vpc
        | Kind::Subnet
        | Kind::InternetGateway
        | Kind::ElasticIp
        | Kind::NatGateway
        | Kind::RouteTable
        | Kind::SecurityGroup
        | Kind::SecurityGroupRules
        | Kind::EcsCluster
        | Kind::Alarm
        | Kind::EcrRepository
        | Kind::SsmParameter
        | Kind::LogGroup => {
            anyhow::bail!("{a}: planned without its payload (a planner bug)")
        }
    }
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
        // The zone's id is needed even when the zone is not this stack's (it is used, not managed).
        if let Some(z) = &observed.dns.zone {
            ids.insert(Address::new(Kind::HostedZone, &z.name), z.id.clone());
        }
        Ids::from_map(ids)
    }
}

/// The zone and the certificate, whose validation records live in it; then the records, which
/// alias the load balancer (its DNS name known when it exists and is not being replaced).
fn dns_zone_and_certificate(ctx: &PlanContext, desired: &Desired, observed: &Observed, plan: &mut Plan) -> Result<()> {
    let zone = desired.dns.as_ref().map(|d| d.zone.as_str());
    let certificate = desired.edge.as_ref().and_then(|e| e.certificate.as_ref());
    acm::diff(ctx, certificate, zone, &observed.certificates, plan);
    let lb = desired
        .edge
        .as_ref()
        .map(|e| e.load_balancer.name.as_str())
        .or_else(|| observed.edge.load_balancers.first().map(|l| l.name.as_str()));
    let lb_dns = lb
        .and_then(|name| observed.edge.load_balancers.iter().find(|l| l.name == name))
        .map(|l| l.fields.dns_name.clone());
    dns::diff(ctx, desired.dns.as_ref(), lb.map(|n| (n, lb_dns)), &observed.dns, plan)
}

#[cfg(test)]
mod tests;
