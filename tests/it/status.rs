//! `status`: read-only health checks with exit 1 when something is unhealthy — before `up`
//! (nothing exists), after `up` (moto's ECS registers no targets, so the test registers one per
//! target group a service uses, as ECS would), and with an alarm set to ALARM by hand.

use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_cloudwatch::Client as CloudWatch;
use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
use aws_sdk_elasticloadbalancingv2::Client as Elb;
use serde_json::Value;

use crate::support::Env;

fn check<'a>(out: &'a Value, name: &str) -> &'a Value {
    let checks = out["checks"].as_array().expect("checks");
    checks.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no check {name}: {out}"))
}

#[test]
fn status_reports_each_part_and_exits_1_when_something_is_unhealthy() {
    let env = Env::new();
    let before = env.run(&["--json", "status"]);
    before.expect_code(1);
    let out = before.json();
    assert_eq!(out["healthy"], false);
    assert_eq!(check(&out, "containrlab-alb")["detail"], "does not exist");
    assert_eq!(check(&out, "containrlab-service")["detail"], "its cluster containrlab-cluster does not exist");

    env.run(&["up", "--yes"]).expect_code(0);
    let after = env.run(&["--json", "status"]);
    after.expect_code(1);
    let out = after.json();
    assert_eq!(check(&out, "containrlab-api-tg")["detail"], "no registered targets");
    assert_eq!(check(&out, "containrlab-runner-tg")["health"], "ok", "no service registers in it");

    let elb = Elb::new(&env.sdk());
    for (group, ip, port) in [("containrlab-api-tg", "10.0.10.5", 8000), ("containrlab-web-tg", "10.0.11.5", 3000)] {
        let tgs = env.block_on(elb.describe_target_groups().names(group).send()).expect("target group");
        let arn = tgs.target_groups()[0].target_group_arn().unwrap_or_default().to_string();
        let target = TargetDescription::builder().id(ip).port(port).build();
        env.block_on(elb.register_targets().target_group_arn(arn).targets(target).send()).expect("register");
    }
    let healthy = env.run(&["--json", "status"]);
    healthy.expect_code(0);
    assert!(healthy.mutating_calls().is_empty(), "{:?}", healthy.mutating_calls());
    let out = healthy.json();
    assert_eq!(out["healthy"], true);
    assert_eq!(check(&out, "containrlab-service")["detail"], "1/1 running, containrlab-task:1, rollout COMPLETED");
    assert_eq!(check(&out, "containrlab-api-tg")["detail"], "1 healthy");
    assert_eq!(check(&out, "public-a")["health"], "ok");
    assert!(check(&out, "containrlab-alb")["detail"].as_str().unwrap_or_default().starts_with("active, "));
    let cert = check(&out, "containrlab.click")["detail"].as_str().unwrap_or_default().to_string();
    assert!(cert.starts_with("ISSUED, expires "), "{cert}");
    // moto confirms an email subscription at once (AWS waits for the recipient: a warning).
    assert_eq!(check(&out, "alerts@containrlab.click")["detail"], "confirmed on containrlab-alarms");
    let runner = out["checks"].as_array().expect("checks").iter().find(|c| c["section"] == "runner instances");
    let runner = runner.expect("a runner instance");
    assert!(runner["detail"].as_str().unwrap_or_default().starts_with("InService, Healthy, CPU credits"), "{runner}");

    let cw = CloudWatch::new(&env.sdk());
    let alarm =
        cw.set_alarm_state().alarm_name("runner-high-cpu").state_value(StateValue::Alarm).state_reason("test: CPU 95%");
    env.block_on(alarm.send()).expect("set alarm state");
    let alarmed = env.run(&["status"]);
    alarmed.expect_code(1);
    assert!(alarmed.stdout.contains("✗ runner-high-cpu             ALARM: test: CPU 95%"), "{}", alarmed.stdout);
    assert!(alarmed.stdout.ends_with("Unhealthy: 1 of 25 checks failed.\n"), "{}", alarmed.stdout);
}
