//! The network's diff on hand-built observations (its ordering is in `network::tests`).

use super::*;
use crate::model::network::{Peer, Rule};
use crate::plan::Reason;

#[test]
fn a_rule_added_by_hand_is_removed_and_counts_as_access_change() {
    let plan = drift(|_, o| {
        let g = o.network.security_groups.iter_mut().find(|g| g.name == "runner-sg").expect("group");
        g.fields.ingress.insert(Rule {
            protocol: "tcp".into(),
            ports: Some((22, 22)),
            peer: Peer::Cidr("0.0.0.0/0".into()),
        });
    });
    let c = only(&plan, "security_group_rules.runner-sg");
    assert_eq!(fields(&c), vec![f("ingress", "\"tcp 22 0.0.0.0/0\"", "-")]);
    assert!(c.widens_access, "a change to who may connect in is flagged");
    assert_eq!(plan.exit_code(), 3);
}

#[test]
fn the_default_security_group_is_emptied_and_dns_hostnames_turned_on() {
    let plan = drift(|_, o| {
        let v = &mut o.network.vpcs[0].fields;
        v.dns_hostnames = false;
        v.default_group_rules = ["ingress all security_group default".to_string()].into();
    });
    let c = only(&plan, "vpc.containrlab");
    assert_eq!(
        fields(&c),
        vec![
            f("enable_dns_hostnames", "false", "true"),
            f("default_security_group.rules", "\"ingress all security_group default\"", "-")
        ]
    );
}

#[test]
fn a_subnet_in_another_zone_is_replaced_and_what_refers_to_it_follows() {
    let plan = drift(|_, o| {
        let s = o.network.subnets.iter_mut().find(|s| s.name == "private-b").expect("subnet");
        s.fields.availability_zone = "us-east-1c".into();
    });
    let subnet = plan.changes.iter().find(|c| c.address.to_string() == "subnet.private-b").expect("subnet change");
    assert_eq!(
        (subnet.action, subnet.reason.clone()),
        (Action::Replace, Reason::CannotUpdateInPlace(vec!["availability_zone".into()]))
    );
    let followers: Vec<String> =
        plan.changes.iter().filter(|c| c.action == Action::Update).map(|c| c.address.to_string()).collect();
    assert_eq!(
        followers,
        vec!["route_table.private", "autoscaling_group.containrlab-runner-ec2", "ecs_service.containrlab-service"],
        "every resource in that subnet moves to the new one"
    );
}

#[test]
fn a_nat_gateway_still_pending_is_waited_for() {
    let plan = drift(|_, o| o.network.nat_gateways[0].fields.state = "pending".into());
    let c = only(&plan, "nat_gateway.public-a");
    assert_eq!(fields(&c), vec![f("state", "\"pending\"", "\"available\"")]);
}

#[test]
fn a_route_to_something_else_is_replaced_by_the_declared_target() {
    let plan = drift(|_, o| {
        let t = o.network.route_tables.iter_mut().find(|t| t.name == "private").expect("table");
        t.fields.routes.insert("0.0.0.0/0".into(), "pcx-1234".into());
    });
    let c = only(&plan, "route_table.private");
    assert_eq!(fields(&c), vec![f("routes.0.0.0.0/0", "\"pcx-1234\"", "\"nat_gateway.public-a\"")]);
}
