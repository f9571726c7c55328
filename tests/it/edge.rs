//! The load balancer side against moto: target groups, the balancer and its HTTP listener come up
//! on top of the network, converge, a health-check path changed by hand is shown and repaired, and
//! `down` removes them.

use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, LoadBalancerStateEnum};
use aws_sdk_elasticloadbalancingv2::Client as Elb;

use crate::support::{actions, Env};

#[test]
fn the_load_balancer_converges_and_a_health_check_changed_by_hand_is_repaired() {
    let env = Env::new();
    let elb = Elb::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);

    let lbs = env.block_on(elb.describe_load_balancers().names("containrlab-alb").send()).expect("load balancer");
    let lb = &lbs.load_balancers()[0];
    assert_eq!(lb.state().and_then(|s| s.code()), Some(&LoadBalancerStateEnum::Active));
    assert_eq!(lb.availability_zones().len(), 2, "in both public subnets");
    let listeners = env
        .block_on(elb.describe_listeners().load_balancer_arn(lb.load_balancer_arn().unwrap_or_default()).send())
        .expect("listeners");
    assert_eq!(listeners.listeners().len(), 1);
    assert_eq!(listeners.listeners()[0].port(), Some(80));
    assert_eq!(listeners.listeners()[0].default_actions()[0].r#type(), Some(&ActionTypeEnum::Redirect));
    let tgs = env.block_on(elb.describe_target_groups().send()).expect("target groups");
    let mut names: Vec<&str> = tgs.target_groups().iter().filter_map(|t| t.target_group_name()).collect();
    names.sort();
    assert_eq!(names, vec!["containrlab-api-tg", "containrlab-runner-tg", "containrlab-web-tg"]);

    env.run(&["diff", "--exit-code"]).expect_code(0);
    let again = env.run(&["up", "--yes"]);
    again.expect_code(0);
    assert!(again.mutating_calls().is_empty(), "{:?}", again.mutating_calls());

    let api = tgs
        .target_groups()
        .iter()
        .find(|t| t.target_group_name() == Some("containrlab-api-tg"))
        .and_then(|t| t.target_group_arn())
        .expect("arn");
    env.block_on(elb.modify_target_group().target_group_arn(api).health_check_path("/status").send()).expect("modify");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    let plan = diff.json();
    assert_eq!(actions(&plan), vec![("target_group.containrlab-api-tg".to_string(), "update".to_string())]);
    let field = &plan["changes"][0]["fields"];
    assert_eq!(field.as_array().map(Vec::len), Some(1));
    assert_eq!(
        (&field[0]["path"], &field[0]["before"], &field[0]["after"]),
        (&"health_check.path".into(), &"/status".into(), &"/healthz".into())
    );
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(repair.mutating_calls().get("Elastic Load Balancing v2:ModifyTargetGroup"), Some(&1));
    env.run(&["diff", "--exit-code"]).expect_code(0);

    env.run(&["down", "--yes", "--delete-data"]).expect_code(0);
    assert!(env.block_on(elb.describe_load_balancers().send()).expect("lbs").load_balancers().is_empty());
    assert!(env.block_on(elb.describe_target_groups().send()).expect("tgs").target_groups().is_empty());
}
