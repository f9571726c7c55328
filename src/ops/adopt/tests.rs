//! The judgement of observed resources against the checked-in stack's addresses, and the
//! in-memory claim the drift is planned from.

use super::*;
use crate::model::tags::{desired_tags, Tags};
use crate::reconcile::logs::ObservedLogGroup;

fn checked_in() -> (Desired, PlanContext) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stack.yaml");
    let stack = crate::config::load(&path).expect("valid stack");
    let desired = crate::config::resolve::resolve(&stack, &|_| None);
    let ctx = PlanContext {
        stack: desired.stack.clone(),
        stack_tags: desired.tags.clone(),
        mode: crate::plan::build::Mode::Converge,
        delete_data: false,
        account: "123456789012".into(),
        region: "us-east-1".into(),
        image_tag: None,
    };
    (desired, ctx)
}

fn group(name: &str, tags: Tags) -> ObservedLogGroup {
    ObservedLogGroup {
        name: name.into(),
        arn: format!("arn:aws:logs:us-east-1:1:log-group:{name}"),
        retention_days: Some(7),
        tags,
    }
}

#[test]
fn unowned_namesakes_are_adopted_owned_ones_kept_others_refused_the_rest_missing() {
    let (desired, ctx) = checked_in();
    let mut observed = Observed::default();
    let mine = desired_tags("containrlab", &Tags::new(), &Address::new(Kind::LogGroup, "/ecs/containrlab-web"));
    let theirs = desired_tags("staging", &Tags::new(), &Address::new(Kind::LogGroup, "/ecs/containrlab-runner"));
    observed.log_groups = vec![
        group("/ecs/containrlab-api", Tags::new()),
        group("/ecs/containrlab-web", mine),
        group("/ecs/containrlab-runner", theirs),
    ];
    let a = judge(&ctx, &desired, &mut observed, Vec::new(), Vec::new()).expect("judged");
    let adopted: Vec<String> = a.adopt.iter().map(|f| f.address.to_string()).collect();
    assert_eq!(adopted, ["log_group./ecs/containrlab-api"]);
    assert_eq!(a.adopt[0].ids, ["arn:aws:logs:us-east-1:1:log-group:/ecs/containrlab-api"]);
    assert_eq!(a.owned, [Address::new(Kind::LogGroup, "/ecs/containrlab-web")]);
    assert_eq!(a.refused, [(Address::new(Kind::LogGroup, "/ecs/containrlab-runner"), "staging".to_string())]);
    // 73 addresses: 8 follow another, 3 judged above, the other 62 are missing.
    assert_eq!(a.follow.len(), 8);
    assert_eq!(a.missing.len(), 62);
    assert!(a
        .follow
        .contains(&(Address::new(Kind::Listener, "https"), Address::new(Kind::LoadBalancer, "containrlab-alb"))));
}

#[test]
fn claiming_adds_exactly_the_ownership_tags_to_the_adopted_id_in_memory() {
    let (desired, ctx) = checked_in();
    let mut observed = Observed::default();
    let mut own = Tags::new();
    own.insert("Team".into(), "platform".into());
    observed.log_groups = vec![group("/ecs/containrlab-api", own), group("/ecs/containrlab-web", Tags::new())];
    let mut a = judge(&ctx, &desired, &mut observed, Vec::new(), Vec::new()).expect("judged");
    a.adopt.retain(|f| f.address.name == "/ecs/containrlab-api");
    claim(&ctx.stack, &a, &mut observed);
    let tags = &observed.log_groups[0].tags;
    let keys: Vec<&str> = tags.keys().map(String::as_str).collect();
    assert_eq!(keys, ["ManagedBy", "Team", "containrlab:address", "containrlab:stack"]);
    assert_eq!(tags["containrlab:address"], "log_group./ecs/containrlab-api");
    assert!(observed.log_groups[1].tags.is_empty(), "a resource not adopted is not claimed");
}

#[test]
fn shape_matches_leave_no_address_twice_and_unmatched_ones_are_not_judged_by_name() {
    let (desired, ctx) = checked_in();
    let mut observed = Observed::default();
    let vpc = Address::new(Kind::Vpc, "containrlab");
    let unmatched =
        vec![Unmatched { address: vpc.clone(), why: "two".into(), ids: vec!["vpc-1".into(), "vpc-2".into()] }];
    let shaped = vec![Found {
        address: Address::new(Kind::Subnet, "public-a"),
        ids: vec!["subnet-1".into()],
        evidence: "CIDR".into(),
    }];
    let a = judge(&ctx, &desired, &mut observed, shaped, unmatched).expect("judged");
    assert_eq!(a.adopt.iter().map(|f| f.address.to_string()).collect::<Vec<_>>(), ["subnet.public-a"]);
    assert!(!a.missing.contains(&vpc), "an ambiguous address is not also reported missing");
    assert_eq!(a.unmatched.len(), 1);
}
