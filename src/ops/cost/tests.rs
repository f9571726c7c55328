//! The price file covers every kind; the checked-in stack's lines and total; a plan's cost change.

use super::change::of_plan;
use super::footprint::Footprint;
use super::*;
use crate::diff::{FieldChange, Shown};
use crate::plan::{Action, Reason};
use crate::reconcile::{Payload, Plan, ResourceChange};

fn checked_in() -> Desired {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stack.yaml");
    let stack = crate::config::load(&path).expect("valid stack");
    crate::config::resolve::resolve(&stack, &|_| None)
}

fn monthly(e: &Estimate, address: &str, item: &str) -> f64 {
    let line = e.lines.iter().find(|l| l.address.to_string() == address && l.item == item);
    line.unwrap_or_else(|| panic!("no line {address} {item}: {:#?}", e.lines)).monthly
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.005
}

#[test]
fn every_resource_kind_has_an_entry_in_the_price_file() {
    let prices = Prices::load().expect("the price file parses");
    let missing: Vec<&str> = Kind::ALL.iter().filter(|k| prices.entry(**k).is_err()).map(|k| k.as_str()).collect();
    assert!(missing.is_empty(), "kinds without a price line or a `free` reason in {PRICE_FILE}: {missing:?}");
    let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let unknown: Vec<&String> = prices.kinds.keys().filter(|k| !known.contains(&k.as_str())).collect();
    assert!(unknown.is_empty(), "entries for kinds that do not exist: {unknown:?}");
}

#[test]
fn a_kind_without_an_entry_fails_the_estimate_instead_of_costing_nothing() {
    let mut prices = Prices::load().unwrap();
    prices.kinds.remove("nat_gateway");
    let err = prices.estimate("us-east-1", &Footprint::of(&checked_in(), "us-east-1").unwrap()).unwrap_err();
    assert!(err.to_string().contains("has no entry for resource kind `nat_gateway`"), "{err}");
}

#[test]
fn the_checked_in_stack_is_priced_line_by_line() {
    let e = Prices::load().unwrap().of_stack(&checked_in(), "us-east-1").expect("priced");
    // 730 h × $0.045, the gateway alone: the seed's NAT line (~$10) is below it.
    assert!(close(monthly(&e, "nat_gateway.public-a", "nat_gateway_hour"), 32.85));
    assert!(close(monthly(&e, "elastic_ip.public-a", "public_ipv4_hour"), 3.65));
    assert!(close(monthly(&e, "load_balancer.containrlab-alb", "load_balancer_hour"), 16.425));
    // Two zones' public addresses of the internet-facing load balancer.
    assert!(close(monthly(&e, "load_balancer.containrlab-alb", "public_ipv4_hour"), 7.30));
    assert!(close(monthly(&e, "autoscaling_group.containrlab-runner-ec2", "instance_hour"), 30.368));
    assert!(close(monthly(&e, "autoscaling_group.containrlab-runner-ec2", "ebs_gp3_gb_month"), 2.40));
    // One ARM64 task of 0.5 vCPU and 1 GB.
    assert!(close(monthly(&e, "ecs_service.containrlab-service", "fargate_vcpu_hour_arm64"), 11.8187));
    assert!(close(monthly(&e, "ecs_service.containrlab-service", "fargate_gb_hour_arm64"), 2.5988));
    assert!(close(monthly(&e, "hosted_zone.containrlab.click", "hosted_zone_month"), 0.50));
    assert!(close(monthly(&e, "alarm.runner-high-cpu", "alarm_month"), 0.10));
    // The runner runs on its instance (no Fargate line); both clusters have Container Insights.
    assert!(!e.lines.iter().any(|l| l.address.to_string() == "ecs_service.containrlab-runner-service"));
    assert!(e.lines.iter().any(|l| l.address.to_string() == "ecs_cluster.containrlab-cluster"));
    assert!(e.lines.iter().any(|l| l.address.to_string() == "ecs_cluster.containrlab-runner-ec2"));
    // Every address is either priced or listed free, once.
    let plan = crate::ops::graph::plan_from_empty(&checked_in(), "us-east-1").unwrap();
    let mut seen: Vec<String> = e.lines.iter().map(|l| l.address.to_string()).collect();
    seen.dedup();
    seen.extend(e.free.iter().map(|(a, _)| a.to_string()));
    seen.sort();
    let mut all: Vec<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    all.sort();
    assert_eq!(seen, all);
    let sum: f64 = e.lines.iter().map(|l| l.monthly).sum();
    assert!(close(e.total(), sum) && e.total() > 100.0 && e.total() < 140.0, "{}", e.total());
}

#[test]
fn a_region_or_instance_type_without_prices_is_an_error() {
    let err = Prices::load().unwrap().of_stack(&checked_in(), "ap-south-2").unwrap_err();
    assert!(err.to_string().contains("has no prices for region ap-south-2 (it has: us-east-1)"), "{err}");
    let mut d = checked_in();
    d.ec2_capacity[0].instance_type = "x9.huge".into(); // the one runner cluster
    let err = Prices::load().unwrap().of_stack(&d, "us-east-1").unwrap_err();
    assert!(err.to_string().contains("no hourly price for instance type x9.huge"), "{err}");
}

fn update(address: Address, path: &str, before: serde_json::Value, after: serde_json::Value) -> ResourceChange {
    let field = FieldChange::new(path, Some(Shown::Value(before)), Some(Shown::Value(after)));
    ResourceChange::new(address, Action::Update, Reason::Drifted, vec![field], Payload::none())
}

#[test]
fn an_instance_type_change_costs_the_difference_of_the_hourly_prices() {
    let mut d = checked_in();
    d.ec2_capacity[0].instance_type = "m5.large".into();
    let after = Footprint::of(&d, "us-east-1").unwrap();
    let lt = Address::new(Kind::LaunchTemplate, "containrlab-runner-ec2");
    let plan =
        Plan { changes: vec![update(lt, "instance_type", "t3.medium".into(), "m5.large".into())], ..Plan::default() };
    let c = of_plan(&Prices::load().unwrap(), "us-east-1", &d, &after, &plan).unwrap();
    // (0.096 − 0.0416) × 730, and the t3's credit line goes.
    assert!(close(c.delta(), 39.712), "{c:#?}");
    let line = render::change_line(&c).unwrap();
    assert!(line.contains("t3.medium × 1 × 730 h → m5.large × 1 × 730 h +$39.71"), "{line}");
    assert!(line.starts_with("Monthly cost: $"), "{line}");
}

#[test]
fn creates_add_their_cost_and_untouched_resources_add_nothing() {
    let d = checked_in();
    let after = Footprint::of(&d, "us-east-1").unwrap();
    let nat = Address::new(Kind::NatGateway, "public-a");
    let plan = Plan {
        changes: vec![ResourceChange::new(nat, Action::Create, Reason::Missing, Vec::new(), Payload::none())],
        ..Plan::default()
    };
    let c = of_plan(&Prices::load().unwrap(), "us-east-1", &d, &after, &plan).unwrap();
    assert!(close(c.delta(), 32.85 + 0.90), "{c:#?}");
    let none = of_plan(&Prices::load().unwrap(), "us-east-1", &d, &after, &Plan::default()).unwrap();
    assert!(render::change_line(&none).is_none() && none.delta() == 0.0);
}

#[test]
fn fewer_tasks_and_a_smaller_task_cost_less() {
    let mut d = checked_in();
    d.services.iter_mut().find(|s| s.name == "containrlab-service").expect("the Fargate service").desired_count = 2;
    let after = Footprint::of(&d, "us-east-1").unwrap();
    let service = Address::new(Kind::EcsService, "containrlab-service");
    let family = Address::new(Kind::TaskDefinition, "containrlab-task");
    let plan = Plan {
        changes: vec![
            update(service, "desired_count", 1.into(), 2.into()),
            update(family, "cpu", "0.25 vCPU".into(), "0.5 vCPU".into()),
        ],
        ..Plan::default()
    };
    let c = of_plan(&Prices::load().unwrap(), "us-east-1", &d, &after, &plan).unwrap();
    // Before: 1 × 0.25 vCPU; after: 2 × 0.5 vCPU (memory 1 GB → 2 × 1 GB).
    let vcpu = 0.03238 * 730.0 * (2.0 * 0.5 - 0.25);
    let gb = 0.00356 * 730.0 * (2.0 - 1.0);
    assert!(close(c.delta(), vcpu + gb), "{} vs {}", c.delta(), vcpu + gb);
}

#[test]
fn every_address_of_the_checked_in_stack_is_declared_to_its_kind() {
    let footprint = Footprint::of(&checked_in(), "us-east-1").unwrap();
    let undeclared: Vec<String> = footprint
        .items
        .iter()
        .filter(|(_, u)| **u == footprint::Usage::Free("not declared".into()))
        .map(|(a, _)| a.to_string())
        .collect();
    assert!(undeclared.is_empty(), "addresses whose kind's `usage` did not find them: {undeclared:?}");
}

#[test]
fn removed_resources_are_priced_from_what_aws_reported_or_listed_as_not_priced() {
    use crate::reconcile::contract::Pair;
    use crate::reconcile::logs::ObservedLogGroup;
    let d = checked_in();
    let after = Footprint::of(&d, "us-east-1").unwrap();
    let removed = |address: Address, payload: Payload| {
        ResourceChange::new(address, Action::Delete, Reason::RemovedFromStack, Vec::new(), payload)
    };
    let logs =
        ObservedLogGroup { name: "/old".into(), arn: "arn".into(), retention_days: Some(30), tags: Default::default() };
    let plan = Plan {
        changes: vec![
            // Priced without the stack file's declaration (the kind's default).
            removed(
                Address::new(Kind::NatGateway, "gone"),
                Payload::NatGateway(Pair { desired: None, observed: None }),
            ),
            // Priced from the observed retention.
            removed(
                Address::new(Kind::LogGroup, "/old"),
                Payload::LogGroup(Pair { desired: None, observed: Some(logs) }),
            ),
            // A group whose launch template the plan does not delete: its instances are unknown.
            removed(
                Address::new(Kind::AutoScalingGroup, "gone"),
                Payload::AutoScalingGroup(Pair { desired: None, observed: None }),
            ),
        ],
        ..Plan::default()
    };
    let c = of_plan(&Prices::load().unwrap(), "us-east-1", &d, &after, &plan).unwrap();
    assert_eq!(c.not_priced, vec![Address::new(Kind::AutoScalingGroup, "gone")], "{c:#?}");
    let gone = |address: &str| {
        c.lines.iter().any(|(b, a)| a.is_none() && b.as_ref().is_some_and(|l| l.address.to_string() == address))
    };
    assert!(gone("nat_gateway.gone") && gone("log_group./old"), "{c:#?}");
    assert!(c.delta() < -32.0, "the NAT gateway's hours and the log group's storage go: {}", c.delta());
}
