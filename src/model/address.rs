//! Resource kinds and addresses.
//!
//! An address (`ecr_repository.containrlab-api`) names one resource in plans, JSON output and the
//! `containrlab:address` ownership tag; it must stay stable across releases.
//! `Kind` is a closed set: adding a kind makes the compiler list every place that must handle it.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Vpc,
    Subnet,
    InternetGateway,
    ElasticIp,
    NatGateway,
    RouteTable,
    SecurityGroup,
    SecurityGroupRules,
    FlowLog,
    IamOidcProvider,
    IamRole,
    HostedZone,
    Certificate,
    TargetGroup,
    LoadBalancer,
    Listener,
    ListenerRule,
    DnsRecords,
    EcsCluster,
    TaskDefinition,
    EcsService,
    LaunchTemplate,
    AutoScalingGroup,
    CapacityProvider,
    SnsTopic,
    Alarm,
    EcrRepository,
    SsmParameter,
    LogGroup,
}

impl Kind {
    /// Every kind, in declaration order (the tie-break of the planning order).
    pub const ALL: [Kind; 29] = [
        Kind::Vpc,
        Kind::Subnet,
        Kind::InternetGateway,
        Kind::ElasticIp,
        Kind::NatGateway,
        Kind::RouteTable,
        Kind::SecurityGroup,
        Kind::SecurityGroupRules,
        Kind::FlowLog,
        Kind::IamOidcProvider,
        Kind::IamRole,
        Kind::HostedZone,
        Kind::Certificate,
        Kind::TargetGroup,
        Kind::LoadBalancer,
        Kind::Listener,
        Kind::ListenerRule,
        Kind::DnsRecords,
        Kind::EcsCluster,
        Kind::TaskDefinition,
        Kind::EcsService,
        Kind::LaunchTemplate,
        Kind::AutoScalingGroup,
        Kind::CapacityProvider,
        Kind::SnsTopic,
        Kind::Alarm,
        Kind::EcrRepository,
        Kind::SsmParameter,
        Kind::LogGroup,
    ];

    /// The order kinds are planned in: every kind after the kinds it depends on (so its diff can
    /// see whether they are being re-created), ties in declaration order. The graph is acyclic
    /// (tested); a cycle would leave kinds out, which the test catches.
    pub fn planning_order() -> Vec<Kind> {
        let mut order: Vec<Kind> = Vec::new();
        while order.len() < Kind::ALL.len() {
            let ready =
                Kind::ALL.iter().find(|k| !order.contains(k) && k.depends_on().iter().all(|d| order.contains(d)));
            match ready {
                Some(k) => order.push(*k),
                None => break,
            }
        }
        order
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Vpc => "vpc",
            Kind::Subnet => "subnet",
            Kind::InternetGateway => "internet_gateway",
            Kind::ElasticIp => "elastic_ip",
            Kind::NatGateway => "nat_gateway",
            Kind::RouteTable => "route_table",
            Kind::SecurityGroup => "security_group",
            Kind::SecurityGroupRules => "security_group_rules",
            Kind::FlowLog => "flow_log",
            Kind::IamOidcProvider => "iam_oidc_provider",
            Kind::IamRole => "iam_role",
            Kind::HostedZone => "hosted_zone",
            Kind::Certificate => "certificate",
            Kind::ListenerRule => "listener_rule",
            Kind::DnsRecords => "dns_records",
            Kind::TargetGroup => "target_group",
            Kind::LoadBalancer => "load_balancer",
            Kind::Listener => "listener",
            Kind::EcsCluster => "ecs_cluster",
            Kind::TaskDefinition => "task_definition",
            Kind::EcsService => "ecs_service",
            Kind::LaunchTemplate => "launch_template",
            Kind::AutoScalingGroup => "autoscaling_group",
            Kind::CapacityProvider => "capacity_provider",
            Kind::SnsTopic => "sns_topic",
            Kind::Alarm => "alarm",
            Kind::EcrRepository => "ecr_repository",
            Kind::SsmParameter => "ssm_parameter",
            Kind::LogGroup => "log_group",
        }
    }

    /// How a person names this kind in a sentence: `creating ECR repository containrlab-api`.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Vpc => "VPC",
            Kind::Subnet => "subnet",
            Kind::InternetGateway => "internet gateway",
            Kind::ElasticIp => "Elastic IP",
            Kind::NatGateway => "NAT gateway",
            Kind::RouteTable => "route table",
            Kind::SecurityGroup => "security group",
            Kind::SecurityGroupRules => "rules of security group",
            Kind::FlowLog => "VPC flow log",
            Kind::IamOidcProvider => "IAM OIDC provider",
            Kind::IamRole => "IAM role",
            Kind::HostedZone => "hosted zone",
            Kind::Certificate => "certificate",
            Kind::TargetGroup => "target group",
            Kind::LoadBalancer => "load balancer",
            Kind::Listener => "listener",
            Kind::ListenerRule => "listener rule",
            Kind::DnsRecords => "DNS records of",
            Kind::EcsCluster => "ECS cluster",
            Kind::TaskDefinition => "task definition",
            Kind::EcsService => "ECS service",
            Kind::LaunchTemplate => "launch template",
            Kind::AutoScalingGroup => "Auto Scaling group",
            Kind::CapacityProvider => "capacity provider",
            Kind::SnsTopic => "SNS topic",
            Kind::Alarm => "alarm",
            Kind::EcrRepository => "ECR repository",
            Kind::SsmParameter => "SSM parameter",
            Kind::LogGroup => "log group",
        }
    }

    /// Kinds that must exist before this one can be created: the planning order, and what a delete
    /// waits for when a create or update of a kind that needs it may still move a reference away.
    /// (Between two deletes only `delete_order`'s rules apply.)
    pub fn depends_on(self) -> &'static [Kind] {
        match self {
            Kind::Vpc
            | Kind::ElasticIp
            | Kind::EcrRepository
            | Kind::SsmParameter
            | Kind::LogGroup
            | Kind::SnsTopic
            | Kind::EcsCluster => &[],
            Kind::Subnet | Kind::InternetGateway | Kind::SecurityGroup => &[Kind::Vpc],
            // A NAT gateway sits in a public subnet, holds an Elastic IP and needs the VPC's
            // internet gateway: it goes before all three on delete.
            Kind::NatGateway => &[Kind::Subnet, Kind::ElasticIp, Kind::InternetGateway],
            Kind::RouteTable => &[Kind::Vpc, Kind::Subnet, Kind::InternetGateway, Kind::NatGateway],
            // Rules reference other groups: all rules go before any group on delete.
            Kind::SecurityGroupRules => &[Kind::SecurityGroup],
            Kind::TargetGroup => &[Kind::Vpc],
            Kind::LoadBalancer => &[Kind::Subnet, Kind::SecurityGroup, Kind::InternetGateway],
            Kind::HostedZone | Kind::IamOidcProvider => &[],
            Kind::IamRole => &[Kind::IamOidcProvider],
            // Its validation records live in the zone.
            Kind::Certificate => &[Kind::HostedZone],
            // Listeners forward to target groups and hold the certificate: they go before them
            // (and the balancer) on delete.
            Kind::Listener => &[Kind::LoadBalancer, Kind::TargetGroup, Kind::Certificate],
            Kind::ListenerRule => &[Kind::Listener, Kind::TargetGroup],
            Kind::DnsRecords => &[Kind::HostedZone, Kind::LoadBalancer],
            // Roles, log groups, parameters and images it names must exist before tasks start.
            Kind::TaskDefinition => &[Kind::IamRole, Kind::LogGroup, Kind::SsmParameter, Kind::EcrRepository],
            Kind::LaunchTemplate => &[Kind::SecurityGroup, Kind::IamRole],
            // Its instances join the cluster: the group goes (instances deregistered and
            // terminated) before the cluster is deleted.
            Kind::AutoScalingGroup => &[Kind::LaunchTemplate, Kind::Subnet, Kind::RouteTable, Kind::EcsCluster],
            Kind::CapacityProvider => &[Kind::AutoScalingGroup, Kind::EcsCluster],
            // A service is drained and deleted before its cluster, its capacity, its task
            // definition and the target groups and listener rules it is registered with.
            Kind::EcsService => &[
                Kind::EcsCluster,
                Kind::CapacityProvider,
                Kind::TaskDefinition,
                Kind::ListenerRule,
                Kind::SecurityGroupRules,
                Kind::RouteTable,
            ],
            // It watches the runner's group or a service, and notifies the topic.
            Kind::Alarm => &[Kind::AutoScalingGroup, Kind::EcsService, Kind::SnsTopic],
            // It captures the VPC's traffic into the log group, delivered with the role.
            Kind::FlowLog => &[Kind::Vpc, Kind::IamRole, Kind::LogGroup],
        }
    }

    /// Replaced by creating the new one first, moving references to it, then deleting the old one
    /// (the API allows two at once, and what refers to it must never point at nothing).
    pub fn create_before_destroy(self) -> bool {
        matches!(self, Kind::TargetGroup)
    }

    /// True when this kind depends on `other`, directly or through other kinds.
    pub fn needs(self, other: Kind) -> bool {
        self.depends_on().iter().any(|&k| k == other || k.needs(other))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: Kind,
    pub name: String,
}

impl Address {
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        Address { kind, name: name.into() }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind.as_str(), self.name)
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_graph_is_acyclic_and_the_planning_order_follows_it() {
        let order = Kind::planning_order();
        assert_eq!(order.len(), Kind::ALL.len(), "a cycle left kinds out: {order:?}");
        for (i, k) in order.iter().enumerate() {
            for d in k.depends_on() {
                assert!(order[..i].contains(d), "{k:?} is planned before {d:?}, which it depends on");
            }
        }
    }

    #[test]
    fn address_text_is_kind_dot_name() {
        let a = Address::new(Kind::SsmParameter, "/containrlab/GITHUB_CLIENT_ID");
        assert_eq!(a.to_string(), "ssm_parameter./containrlab/GITHUB_CLIENT_ID");
        assert_eq!(serde_json::to_value(&a).unwrap(), serde_json::json!("ssm_parameter./containrlab/GITHUB_CLIENT_ID"));
    }
}
