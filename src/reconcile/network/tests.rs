//! The network part of the dependency graph, on the checked-in stack: creates follow what each
//! resource needs, deletes run in reverse, and a subnet that is re-created makes its route table
//! re-associate it.

use std::path::Path;

use super::*;
use crate::model::desired::Desired;
use crate::model::network::Network;
use crate::model::tags::{desired_tags, Tags};
use crate::plan::build::{Mode, PlanContext};
use crate::plan::{order, Action, Step};
use crate::reconcile::Plan;

/// Plans a stack that is only this network, against only this observation.
fn diff(ctx: &PlanContext, network: Option<&Network>, observed: &ObservedNetwork, plan: &mut Plan) {
    let d = Desired {
        stack: ctx.stack.clone(),
        tags: ctx.stack_tags.clone(),
        network: network.cloned(),
        ingress: None,
        iam: None,
        clusters: vec![],
        services: vec![],
        ec2_capacity: vec![],
        alarms: vec![],
        notifications: None,
        dns: None,
        repositories: vec![],
        parameters: vec![],
        log_groups: vec![],
    };
    let o = crate::reconcile::Observed { network: observed.clone(), ..Default::default() };
    crate::reconcile::diff(ctx, &d, &o, plan).expect("planned");
}

fn checked_in_network() -> (String, Network) {
    let stack = crate::config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("stack.yaml")).expect("valid stack");
    let desired = crate::config::resolve::resolve(&stack, &|_| None);
    (desired.stack.clone(), desired.network.expect("network"))
}

fn ctx(stack: &str, mode: Mode) -> PlanContext {
    PlanContext {
        stack: stack.into(),
        stack_tags: Tags::new(),
        mode,
        delete_data: false,
        account: "1".into(),
        region: "r".into(),
        image_tag: None,
    }
}

fn position(steps: &[Step], address: &str) -> usize {
    steps.iter().position(|s| s.address.to_string() == address).unwrap_or_else(|| panic!("{address} not planned"))
}

/// True when `later` cannot start before `earlier` finished (directly or through other steps).
fn waits_for(steps: &[Step], later: &str, earlier: &str) -> bool {
    let target = position(steps, earlier);
    let mut stack = vec![position(steps, later)];
    let mut seen = BTreeSet::new();
    while let Some(i) = stack.pop() {
        if !seen.insert(i) {
            continue;
        }
        if steps[i].after.contains(&target) {
            return true;
        }
        stack.extend(steps[i].after.iter().copied());
    }
    false
}

#[test]
fn creates_follow_what_each_network_resource_needs() {
    let (stack, network) = checked_in_network();
    let mut plan = Plan::default();
    diff(&ctx(&stack, Mode::Converge), Some(&network), &ObservedNetwork::default(), &mut plan);
    assert_eq!(plan.changes.len(), 17);
    let steps = order::steps(&plan);
    for (later, earlier) in [
        ("subnet.public-a", "vpc.containrlab"),
        ("internet_gateway.containrlab", "vpc.containrlab"),
        ("nat_gateway.public-a", "subnet.public-a"),
        ("nat_gateway.public-a", "elastic_ip.public-a"),
        ("nat_gateway.public-a", "internet_gateway.containrlab"),
        ("route_table.private", "nat_gateway.public-a"),
        ("route_table.private", "subnet.private-b"),
        ("route_table.public", "internet_gateway.containrlab"),
        ("security_group_rules.alb-sg", "security_group.ecs-tasks-sg"),
        ("security_group_rules.ecs-tasks-sg", "security_group.alb-sg"),
        ("flow_log.containrlab", "vpc.containrlab"),
    ] {
        assert!(waits_for(&steps, later, earlier), "{later} should wait for {earlier}");
    }
    // Independent branches stay independent: the groups do not wait for the NAT gateway.
    assert!(!waits_for(&steps, "security_group.alb-sg", "nat_gateway.public-a"));
    assert!(!waits_for(&steps, "elastic_ip.public-a", "vpc.containrlab"));
}

/// An observed resource of this stack, as `down` would find it.
fn owned<F>(stack: &str, kind: Kind, name: &str, id: &str, fields: F) -> Observed<F> {
    let address = Address::new(kind, name);
    Observed { name: name.into(), id: id.into(), tags: desired_tags(stack, &Tags::new(), &address), fields }
}

#[test]
fn down_deletes_the_network_in_the_order_aws_requires() {
    let s = "containrlab";
    let observed = ObservedNetwork {
        vpcs: vec![owned(s, Kind::Vpc, s, "vpc-1", VpcFields::default())],
        subnets: vec![owned(s, Kind::Subnet, "public-a", "subnet-1", SubnetFields::default())],
        internet_gateways: vec![owned(s, Kind::InternetGateway, s, "igw-1", GatewayFields::default())],
        elastic_ips: vec![owned(s, Kind::ElasticIp, "public-a", "eipalloc-1", ElasticIpFields)],
        nat_gateways: vec![owned(s, Kind::NatGateway, "public-a", "nat-1", NatFields::default())],
        route_tables: vec![owned(s, Kind::RouteTable, "private", "rtb-1", RouteTableFields::default())],
        security_groups: vec![
            owned(s, Kind::SecurityGroup, "alb-sg", "sg-1", SecurityGroupFields::default()),
            owned(s, Kind::SecurityGroup, "ecs-tasks-sg", "sg-2", SecurityGroupFields::default()),
        ],
        flow_logs: vec![owned(s, Kind::FlowLog, s, "fl-1", FlowLogFields::default())],
    };
    let mut plan = Plan::default();
    diff(&ctx(s, Mode::Down), None, &observed, &mut plan);
    assert!(plan.changes.iter().all(|c| c.action == Action::Delete));
    assert_eq!(
        plan.changes.len(),
        11,
        "6 network resources, the flow log, 2 groups and their 2 rule sets: {:?}",
        plan.changes
    );
    let steps = order::steps(&plan);
    for (later, earlier) in [
        ("elastic_ip.public-a", "nat_gateway.public-a"),
        ("internet_gateway.containrlab", "nat_gateway.public-a"),
        ("subnet.public-a", "nat_gateway.public-a"),
        ("subnet.public-a", "route_table.private"),
        ("security_group.alb-sg", "security_group_rules.ecs-tasks-sg"),
        ("security_group.ecs-tasks-sg", "security_group_rules.alb-sg"),
        ("vpc.containrlab", "subnet.public-a"),
        ("vpc.containrlab", "internet_gateway.containrlab"),
        ("vpc.containrlab", "security_group.alb-sg"),
    ] {
        assert!(waits_for(&steps, later, earlier), "{later} should be deleted after {earlier}");
    }
    // AWS deletes a NAT gateway that routes still point to (they become blackhole routes), and a
    // route table whatever its routes point to: neither waits for the other.
    assert!(!waits_for(&steps, "nat_gateway.public-a", "route_table.private"));
    assert!(!waits_for(&steps, "route_table.private", "nat_gateway.public-a"));
}

#[test]
fn a_replaced_subnet_is_associated_again_by_its_route_table() {
    let (s, network) = checked_in_network();
    let subnet = |name: &str, id: &str, cidr: &str, az: &str, public: bool| {
        let fields = SubnetFields { cidr: cidr.into(), availability_zone: az.into(), map_public_ip: public };
        owned(&s, Kind::Subnet, name, id, fields)
    };
    let nat =
        NatFields { subnet_id: "subnet-pa".into(), allocation_id: "eipalloc-1".into(), state: "available".into() };
    let table = RouteTableFields {
        routes: [("0.0.0.0/0".to_string(), "nat-1".to_string())].into(),
        associations: [
            ("subnet-a".to_string(), "rtbassoc-a".to_string()),
            ("subnet-b".to_string(), "rtbassoc-b".to_string()),
        ]
        .into(),
    };
    let observed = ObservedNetwork {
        subnets: vec![
            subnet("public-a", "subnet-pa", "10.0.0.0/24", "us-east-1a", true),
            subnet("private-a", "subnet-a", "10.0.10.0/24", "us-east-1a", false),
            // private-b's CIDR was changed in the stack file: it must be replaced.
            subnet("private-b", "subnet-b", "10.0.99.0/24", "us-east-1b", false),
        ],
        elastic_ips: vec![owned(&s, Kind::ElasticIp, "public-a", "eipalloc-1", ElasticIpFields)],
        nat_gateways: vec![owned(&s, Kind::NatGateway, "public-a", "nat-1", nat)],
        route_tables: vec![owned(&s, Kind::RouteTable, "private", "rtb-1", table)],
        ..ObservedNetwork::default()
    };
    let mut plan = Plan::default();
    diff(&ctx(&s, Mode::Converge), Some(&network), &observed, &mut plan);
    let change = |address: &str| plan.changes.iter().find(|c| c.address.to_string() == address);
    assert_eq!(change("subnet.private-b").map(|c| c.action), Some(Action::Replace));
    assert_eq!(change("subnet.private-a").map(|c| c.action), None, "unchanged");
    let rt = change("route_table.private").expect("the route table must re-associate the new subnet");
    assert_eq!(rt.action, Action::Update);
    let fields: Vec<(&str, Option<&crate::diff::Shown>)> =
        rt.fields.iter().map(|f| (f.path.as_str(), f.after.as_ref())).collect();
    assert_eq!(fields, vec![("subnets", Some(&crate::diff::Shown::Value("private-b".into())))]);
    let steps = order::steps(&plan);
    assert!(waits_for(&steps, "route_table.private", "subnet.private-b"));
}
