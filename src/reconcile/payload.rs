//! What a step carries: one variant per resource kind, each with the desired/observed pair the
//! plan found. These two matches — a step to its kind's code, a kind to its planning — are the only
//! dispatch from the generic machinery to a kind, and they are exhaustive: a new kind is a compile
//! error here until it is handled.

use anyhow::Result;

use super::contract::{run, ApplyCx, DiffCx, Pair, Resource};
use super::{acm, alarms, dns, ecr, ecs, elb, iam, logs, network, runner, sns, ssm};
use crate::diff::FieldChange;
use crate::model::Kind;
use crate::plan::{Plan, Step};

#[derive(Debug, Clone)]
pub enum Payload {
    Vpc(Pair<network::Vpc>),
    Subnet(Pair<network::Subnet>),
    InternetGateway(Pair<network::InternetGateway>),
    ElasticIp(Pair<network::ElasticIp>),
    NatGateway(Pair<network::NatGateway>),
    RouteTable(Pair<network::RouteTable>),
    SecurityGroup(Pair<network::SecurityGroup>),
    SecurityGroupRules(Pair<network::SecurityGroupRules>),
    FlowLog(Pair<network::FlowLog>),
    IamOidcProvider(Pair<iam::IamOidcProvider>),
    IamRole(Pair<iam::IamRole>),
    HostedZone(Pair<dns::HostedZone>),
    Certificate(Pair<acm::Certificate>),
    TargetGroup(Pair<elb::TargetGroup>),
    LoadBalancer(Pair<elb::LoadBalancer>),
    Listener(Pair<elb::Listener>),
    ListenerRule(Pair<elb::ListenerRule>),
    DnsRecords(Pair<dns::DnsRecords>),
    EcsCluster(Pair<ecs::EcsCluster>),
    TaskDefinition(Pair<ecs::TaskDefinition>),
    EcsService(Pair<ecs::EcsService>),
    LaunchTemplate(Pair<runner::LaunchTemplate>),
    AutoScalingGroup(Pair<runner::AutoScalingGroup>),
    CapacityProvider(Pair<runner::CapacityProvider>),
    SnsTopic(Pair<sns::SnsTopic>),
    Alarm(Pair<alarms::Alarm>),
    EcrRepository(Pair<ecr::EcrRepository>),
    SsmParameter(Pair<ssm::SsmParameter>),
    LogGroup(Pair<logs::LogGroup>),
}

impl Payload {
    /// Carries out `step` with the kind's own code.
    pub async fn apply(&self, cx: &ApplyCx<'_>, step: &Step, delta: &[FieldChange]) -> Result<()> {
        match self {
            Payload::Vpc(p) => run(cx, step, p, delta).await,
            Payload::Subnet(p) => run(cx, step, p, delta).await,
            Payload::InternetGateway(p) => run(cx, step, p, delta).await,
            Payload::ElasticIp(p) => run(cx, step, p, delta).await,
            Payload::NatGateway(p) => run(cx, step, p, delta).await,
            Payload::RouteTable(p) => run(cx, step, p, delta).await,
            Payload::SecurityGroup(p) => run(cx, step, p, delta).await,
            Payload::SecurityGroupRules(p) => run(cx, step, p, delta).await,
            Payload::FlowLog(p) => run(cx, step, p, delta).await,
            Payload::IamOidcProvider(p) => run(cx, step, p, delta).await,
            Payload::IamRole(p) => run(cx, step, p, delta).await,
            Payload::HostedZone(p) => run(cx, step, p, delta).await,
            Payload::Certificate(p) => run(cx, step, p, delta).await,
            Payload::TargetGroup(p) => run(cx, step, p, delta).await,
            Payload::LoadBalancer(p) => run(cx, step, p, delta).await,
            Payload::Listener(p) => run(cx, step, p, delta).await,
            Payload::ListenerRule(p) => run(cx, step, p, delta).await,
            Payload::DnsRecords(p) => run(cx, step, p, delta).await,
            Payload::EcsCluster(p) => run(cx, step, p, delta).await,
            Payload::TaskDefinition(p) => run(cx, step, p, delta).await,
            Payload::EcsService(p) => run(cx, step, p, delta).await,
            Payload::LaunchTemplate(p) => run(cx, step, p, delta).await,
            Payload::AutoScalingGroup(p) => run(cx, step, p, delta).await,
            Payload::CapacityProvider(p) => run(cx, step, p, delta).await,
            Payload::SnsTopic(p) => run(cx, step, p, delta).await,
            Payload::Alarm(p) => run(cx, step, p, delta).await,
            Payload::EcrRepository(p) => run(cx, step, p, delta).await,
            Payload::SsmParameter(p) => run(cx, step, p, delta).await,
            Payload::LogGroup(p) => run(cx, step, p, delta).await,
        }
    }

    /// A payload of no values, for engine tests whose fake never reads it.
    #[cfg(test)]
    pub fn none() -> Payload {
        Payload::LogGroup(Pair { desired: None, observed: None })
    }
}

/// Plans the changes of one kind into `out`.
pub fn plan(kind: Kind, cx: &DiffCx<'_>, out: &mut Plan) {
    match kind {
        Kind::Vpc => network::Vpc::plan(cx, out),
        Kind::Subnet => network::Subnet::plan(cx, out),
        Kind::InternetGateway => network::InternetGateway::plan(cx, out),
        Kind::ElasticIp => network::ElasticIp::plan(cx, out),
        Kind::NatGateway => network::NatGateway::plan(cx, out),
        Kind::RouteTable => network::RouteTable::plan(cx, out),
        Kind::SecurityGroup => network::SecurityGroup::plan(cx, out),
        Kind::SecurityGroupRules => network::SecurityGroupRules::plan(cx, out),
        Kind::FlowLog => network::FlowLog::plan(cx, out),
        Kind::IamOidcProvider => iam::IamOidcProvider::plan(cx, out),
        Kind::IamRole => iam::IamRole::plan(cx, out),
        Kind::HostedZone => dns::HostedZone::plan(cx, out),
        Kind::Certificate => acm::Certificate::plan(cx, out),
        Kind::TargetGroup => elb::TargetGroup::plan(cx, out),
        Kind::LoadBalancer => elb::LoadBalancer::plan(cx, out),
        Kind::Listener => elb::Listener::plan(cx, out),
        Kind::ListenerRule => elb::ListenerRule::plan(cx, out),
        Kind::DnsRecords => dns::DnsRecords::plan(cx, out),
        Kind::EcsCluster => ecs::EcsCluster::plan(cx, out),
        Kind::TaskDefinition => ecs::TaskDefinition::plan(cx, out),
        Kind::EcsService => ecs::EcsService::plan(cx, out),
        Kind::LaunchTemplate => runner::LaunchTemplate::plan(cx, out),
        Kind::AutoScalingGroup => runner::AutoScalingGroup::plan(cx, out),
        Kind::CapacityProvider => runner::CapacityProvider::plan(cx, out),
        Kind::SnsTopic => sns::SnsTopic::plan(cx, out),
        Kind::Alarm => alarms::Alarm::plan(cx, out),
        Kind::EcrRepository => ecr::EcrRepository::plan(cx, out),
        Kind::SsmParameter => ssm::SsmParameter::plan(cx, out),
        Kind::LogGroup => logs::LogGroup::plan(cx, out),
    }
}
