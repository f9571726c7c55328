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

/// Two Elastic IPs carrying `elastic_ip.public-a`: the one the NAT gateway uses is kept.
fn with_second_eip(o: &mut crate::reconcile::Observed) {
    let mut copy = o.network.elastic_ips.iter().find(|e| e.name == "public-a").expect("eip").clone();
    copy.id = "eipalloc-copy".into();
    o.network.elastic_ips.insert(0, copy);
}

#[test]
fn of_two_resources_on_one_address_the_one_in_use_is_kept_and_the_other_deleted() {
    let plan = drift(|_, o| with_second_eip(o));
    let c = only(&plan, "elastic_ip.public-a");
    assert_eq!(c.action, Action::Delete);
    assert_eq!(
        c.reason.to_string(),
        "eipalloc-copy is a duplicate of elastic_ip-public-a, which carries the same address and is in use"
    );
    assert!(plan.conflicts.is_empty() && plan.warnings.is_empty(), "{:?} {:?}", plan.conflicts, plan.warnings);
    // The delete acts on the copy, never on the one in use.
    let crate::reconcile::Payload::ElasticIp(pair) = &c.payload else { panic!("{:?}", c.payload) };
    assert_eq!(pair.observed.as_ref().map(|o| o.id.as_str()), Some("eipalloc-copy"));
}

#[test]
fn two_resources_on_one_address_that_use_cannot_tell_apart_are_a_conflict() {
    let plan = drift(|_, o| {
        let mut copy = o.network.vpcs[0].clone();
        copy.id = "vpc-copy".into();
        o.network.vpcs.push(copy);
        // The internet gateway attached to both: use does not decide.
        o.network.internet_gateways[0].fields.attached_to.push("vpc-copy".into());
    });
    assert_eq!(plan.conflicts.len(), 1, "{:?}", plan.conflicts);
    let conflict = &plan.conflicts[0];
    assert_eq!(conflict.address.to_string(), "vpc.containrlab");
    assert!(conflict.problem.contains("vpc-containrlab, vpc-copy"), "{}", conflict.problem);
}

#[test]
fn down_deletes_every_resource_carrying_an_address() {
    let d = desired();
    let mut o = converged(&d);
    with_second_eip(&mut o);
    o.duplicates = crate::reconcile::duplicates::resolve(&d.stack, &o);
    let nothing = d.clone().without_resources();
    let down = crate::reconcile::tests::plan(&ctx(&nothing, Mode::Down), &nothing, &o);
    let ids: Vec<String> = down
        .changes
        .iter()
        .filter(|c| c.address.to_string() == "elastic_ip.public-a")
        .map(|c| match &c.payload {
            crate::reconcile::Payload::ElasticIp(p) => p.observed.as_ref().expect("observed").id.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids.len(), 2, "both are deleted, each its own: {ids:?}");
    assert_ne!(ids[0], ids[1]);
}
