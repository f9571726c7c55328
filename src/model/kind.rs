//! The resource kinds: one list (`kinds!` below) gives each kind its variant, its address name
//! (`ecr_repository`, stable across releases: it is in the `containrlab:address` tag) and its noun
//! (`ECR repository`, for sentences); `Kind::ALL` is generated from the same list, so a kind is
//! never declared without being planned. The kind graph (`depends_on`) orders planning and
//! applying.
//!
//! Invariant: `Kind` is a closed set: adding a kind makes the compiler list every match that must
//! handle it (the reconcilers' registry first).

macro_rules! kinds {
    ($($kind:ident => $name:literal, $noun:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Kind { $($kind,)* }

        impl Kind {
            /// Every kind, in declaration order (the tie-break of the planning order).
            pub const ALL: &'static [Kind] = &[$(Kind::$kind,)*];

            /// The kind's part of an address: `ecr_repository`.
            pub fn as_str(self) -> &'static str {
                match self { $(Kind::$kind => $name,)* }
            }

            /// How a person names this kind in a sentence: `creating ECR repository containrlab-api`.
            pub fn noun(self) -> &'static str {
                match self { $(Kind::$kind => $noun,)* }
            }
        }
    };
}

kinds! {
    Vpc => "vpc", "VPC",
    Subnet => "subnet", "subnet",
    InternetGateway => "internet_gateway", "internet gateway",
    ElasticIp => "elastic_ip", "Elastic IP",
    NatGateway => "nat_gateway", "NAT gateway",
    RouteTable => "route_table", "route table",
    SecurityGroup => "security_group", "security group",
    SecurityGroupRules => "security_group_rules", "rules of security group",
    FlowLog => "flow_log", "VPC flow log",
    IamOidcProvider => "iam_oidc_provider", "IAM OIDC provider",
    IamRole => "iam_role", "IAM role",
    HostedZone => "hosted_zone", "hosted zone",
    Certificate => "certificate", "certificate",
    TargetGroup => "target_group", "target group",
    LoadBalancer => "load_balancer", "load balancer",
    Listener => "listener", "listener",
    ListenerRule => "listener_rule", "listener rule",
    DnsRecords => "dns_records", "DNS records of",
    EcsCluster => "ecs_cluster", "ECS cluster",
    TaskDefinition => "task_definition", "task definition",
    EcsService => "ecs_service", "ECS service",
    LaunchTemplate => "launch_template", "launch template",
    AutoScalingGroup => "autoscaling_group", "Auto Scaling group",
    CapacityProvider => "capacity_provider", "capacity provider",
    SnsTopic => "sns_topic", "SNS topic",
    Alarm => "alarm", "alarm",
    EcrRepository => "ecr_repository", "ECR repository",
    SsmParameter => "ssm_parameter", "SSM parameter",
    LogGroup => "log_group", "log group",
}

impl Kind {
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
                // The alarms that roll its deployments back.
                Kind::Alarm,
            ],
            // It watches the runner's group, a cluster, the load balancer, a target group or a NAT
            // gateway (a service's metrics need nothing to exist: services come after alarms,
            // which roll their deployments back), and notifies the topic.
            Kind::Alarm => &[
                Kind::AutoScalingGroup,
                Kind::EcsCluster,
                Kind::SnsTopic,
                Kind::LoadBalancer,
                Kind::TargetGroup,
                Kind::NatGateway,
            ],
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
    fn every_kind_has_its_own_address_name() {
        let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len(), "two kinds share an address name");
        serde_json::to_value(Kind::AutoScalingGroup).expect("a kind serializes");
    }
}
