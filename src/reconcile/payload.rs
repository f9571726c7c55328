//! What a step carries: one variant per resource kind, each with the desired/observed pair the
//! plan found. The match in `apply` is the only dispatch from a step to a kind's code, and it is
//! exhaustive: a new kind is a compile error here until it is handled.

use anyhow::Result;

use super::contract::{run, ApplyCx, Pair};
use crate::diff::FieldChange;
use crate::plan::Step;

#[derive(Debug, Clone)]
pub enum Payload {
    TargetGroup(Pair<super::elb::TargetGroup>),
    LoadBalancer(Pair<super::elb::LoadBalancer>),
    Listener(Pair<super::elb::Listener>),
    ListenerRule(Pair<super::elb::ListenerRule>),
    Vpc(Pair<super::network::Vpc>),
    Subnet(Pair<super::network::Subnet>),
    InternetGateway(Pair<super::network::InternetGateway>),
    ElasticIp(Pair<super::network::ElasticIp>),
    NatGateway(Pair<super::network::NatGateway>),
    RouteTable(Pair<super::network::RouteTable>),
    SecurityGroup(Pair<super::network::SecurityGroup>),
    SecurityGroupRules(Pair<super::network::SecurityGroupRules>),
    EcsCluster(Pair<super::ecs::cluster::EcsCluster>),
    Alarm(Pair<super::alarms::Alarm>),
    EcrRepository(Pair<super::ecr::EcrRepository>),
    SsmParameter(Pair<super::ssm::SsmParameter>),
    LogGroup(Pair<super::logs::LogGroup>),
}

impl Payload {
    /// Carries out `step` with the kind's own code.
    pub async fn apply(&self, cx: &ApplyCx<'_>, step: &Step, delta: &[FieldChange]) -> Result<()> {
        match self {
            Payload::TargetGroup(p) => run(cx, step, p, delta).await,
            Payload::LoadBalancer(p) => run(cx, step, p, delta).await,
            Payload::Listener(p) => run(cx, step, p, delta).await,
            Payload::ListenerRule(p) => run(cx, step, p, delta).await,
            Payload::Vpc(p) => run(cx, step, p, delta).await,
            Payload::Subnet(p) => run(cx, step, p, delta).await,
            Payload::InternetGateway(p) => run(cx, step, p, delta).await,
            Payload::ElasticIp(p) => run(cx, step, p, delta).await,
            Payload::NatGateway(p) => run(cx, step, p, delta).await,
            Payload::RouteTable(p) => run(cx, step, p, delta).await,
            Payload::SecurityGroup(p) => run(cx, step, p, delta).await,
            Payload::SecurityGroupRules(p) => run(cx, step, p, delta).await,
            Payload::EcsCluster(p) => run(cx, step, p, delta).await,
            Payload::Alarm(p) => run(cx, step, p, delta).await,
            Payload::EcrRepository(p) => run(cx, step, p, delta).await,
            Payload::SsmParameter(p) => run(cx, step, p, delta).await,
            Payload::LogGroup(p) => run(cx, step, p, delta).await,
        }
    }
}
