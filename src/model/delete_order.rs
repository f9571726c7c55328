//! The order AWS requires between two deletes: each rule says that every resource of one kind
//! must be gone before a resource of another kind can be deleted, and why (the error AWS gives
//! otherwise). Nothing else orders deletes: a create dependency reversed is not a delete
//! requirement (a load balancer does not wait for the ECS services to drain, a NAT gateway not for
//! the runner's Auto Scaling group), so `down` waits only for what AWS itself waits for.
//!
//! Invariants: the rules form no cycle (tested); a delete that AWS accepts but finishes later
//! (network interfaces released after the call returns, a certificate reported in use for a while
//! after its listener is gone) is not ordered here but retried, bounded, by its reconciler.

use super::Kind;

/// `first` must be deleted before `then` can be.
pub struct DeleteRule {
    pub first: Kind,
    pub then: Kind,
    pub why: &'static str,
}

const fn rule(first: Kind, then: Kind, why: &'static str) -> DeleteRule {
    DeleteRule { first, then, why }
}

const ENIS: &str = "its network interfaces are in the subnet or group until released (DependencyViolation)";
const MAPPED: &str =
    "its public addresses are mapped in the VPC: DetachInternetGateway fails until they are released (DependencyViolation)";
const IN_VPC: &str = "DeleteVpc fails while the VPC still holds it (DependencyViolation)";

pub const DELETE_RULES: &[DeleteRule] = &[
    // ECS
    rule(
        Kind::EcsService,
        Kind::EcsCluster,
        "DeleteCluster fails while it has services or tasks (ClusterContainsServicesException)",
    ),
    rule(Kind::EcsService, Kind::CapacityProvider, "DeleteCapacityProvider fails while a service's strategy uses it"),
    rule(
        Kind::AutoScalingGroup,
        Kind::EcsCluster,
        "DeleteCluster fails while container instances are registered (ClusterContainsContainerInstancesException)",
    ),
    rule(
        Kind::CapacityProvider,
        Kind::EcsCluster,
        "the provider is detached from the cluster's strategy by its own delete",
    ),
    rule(
        Kind::CapacityProvider,
        Kind::AutoScalingGroup,
        "a capacity provider scales its group: it goes before the group",
    ),
    rule(Kind::AutoScalingGroup, Kind::LaunchTemplate, "the group launches its instances from the template"),
    // Load balancing
    rule(Kind::Listener, Kind::TargetGroup, "DeleteTargetGroup fails while a listener forwards to it (ResourceInUse)"),
    rule(Kind::ListenerRule, Kind::TargetGroup, "DeleteTargetGroup fails while a rule forwards to it (ResourceInUse)"),
    rule(Kind::ListenerRule, Kind::Listener, "a rule belongs to its listener; deleting the listener deletes its rules"),
    rule(
        Kind::Listener,
        Kind::LoadBalancer,
        "deleting the balancer deletes its listeners; theirs goes first, never racing it",
    ),
    rule(
        Kind::Listener,
        Kind::Certificate,
        "DeleteCertificate fails while a listener uses it (ResourceInUseException)",
    ),
    // DNS
    rule(Kind::DnsRecords, Kind::HostedZone, "DeleteHostedZone fails while it holds records (HostedZoneNotEmpty)"),
    rule(
        Kind::Certificate,
        Kind::HostedZone,
        "the certificate's validation records are in the zone (HostedZoneNotEmpty)",
    ),
    // Network interfaces in subnets and security groups
    rule(Kind::EcsService, Kind::Subnet, ENIS),
    rule(Kind::EcsService, Kind::SecurityGroup, ENIS),
    rule(Kind::AutoScalingGroup, Kind::Subnet, ENIS),
    rule(Kind::AutoScalingGroup, Kind::SecurityGroup, ENIS),
    rule(Kind::LoadBalancer, Kind::Subnet, ENIS),
    rule(Kind::LoadBalancer, Kind::SecurityGroup, ENIS),
    rule(Kind::NatGateway, Kind::Subnet, ENIS),
    rule(
        Kind::SecurityGroupRules,
        Kind::SecurityGroup,
        "a rule that references a group blocks its delete (DependencyViolation)",
    ),
    // Public addresses and the internet gateway
    rule(Kind::LoadBalancer, Kind::InternetGateway, MAPPED),
    rule(Kind::NatGateway, Kind::InternetGateway, MAPPED),
    rule(
        Kind::NatGateway,
        Kind::ElasticIp,
        "ReleaseAddress fails while the address is associated (AuthFailure / InvalidIPAddress.InUse)",
    ),
    // Route tables: their delete removes their subnet associations first
    rule(Kind::RouteTable, Kind::Subnet, "the table's delete first removes its associations with the subnets"),
    // The VPC last
    rule(Kind::Subnet, Kind::Vpc, IN_VPC),
    rule(Kind::SecurityGroup, Kind::Vpc, IN_VPC),
    rule(Kind::InternetGateway, Kind::Vpc, IN_VPC),
    rule(Kind::RouteTable, Kind::Vpc, IN_VPC),
    rule(
        Kind::TargetGroup,
        Kind::Vpc,
        "a target group is created in the VPC: none is left pointing at a VPC that is gone",
    ),
];

impl Kind {
    /// Why every resource of kind `self` must be deleted before one of kind `then`, if it must.
    pub fn deleted_before(self, then: Kind) -> Option<&'static str> {
        DELETE_RULES.iter().find(|r| r.first == self && r.then == then).map(|r| r.why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delete_rules_form_no_cycle_and_each_gives_its_reason() {
        let mut left: Vec<Kind> = Kind::ALL.to_vec();
        while !left.is_empty() {
            let ready: Vec<Kind> =
                left.iter().copied().filter(|&k| !left.iter().any(|&o| o.deleted_before(k).is_some())).collect();
            assert!(!ready.is_empty(), "the delete rules wait for each other in a cycle among {left:?}");
            left.retain(|k| !ready.contains(k));
        }
        for r in DELETE_RULES {
            assert!(r.first != r.then && !r.why.is_empty());
            assert_eq!(DELETE_RULES.iter().filter(|o| o.first == r.first && o.then == r.then).count(), 1);
        }
    }

    #[test]
    fn nothing_waits_for_what_aws_does_not_wait_for() {
        // The two measured waits: the balancer behind the services' drain, and the NAT
        // gateway behind the runner's group.
        assert_eq!(Kind::EcsService.deleted_before(Kind::LoadBalancer), None);
        assert_eq!(Kind::ListenerRule.deleted_before(Kind::LoadBalancer), None);
        assert_eq!(Kind::AutoScalingGroup.deleted_before(Kind::NatGateway), None);
        assert_eq!(Kind::RouteTable.deleted_before(Kind::NatGateway), None);
        assert!(Kind::LoadBalancer.deleted_before(Kind::InternetGateway).is_some());
    }
}
