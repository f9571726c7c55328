//! The alarms' SNS topic against moto: `up` creates it with its email subscription and points every
//! alarm at it (on ALARM and on OK); an alarm action removed by hand is put back; an address added
//! or removed in the file is subscribed or unsubscribed with one call; `down` deletes the topic.
//! (moto confirms an email subscription at once; the pending state AWS keeps until the recipient
//! confirms is covered by the unit tests of `reconcile::sns`.)

use aws_sdk_cloudwatch::Client as CloudWatch;
use aws_sdk_sns::Client as Sns;

use crate::support::{actions, Env};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:containrlab-alarms";

/// The topic's email endpoints, or `None` when the topic does not exist.
fn emails(env: &Env, sns: &Sns) -> Option<Vec<String>> {
    let out = env.block_on(sns.list_subscriptions_by_topic().topic_arn(TOPIC).send()).ok()?;
    let mut list: Vec<String> = out.subscriptions().iter().filter_map(|s| s.endpoint().map(str::to_string)).collect();
    list.sort();
    Some(list)
}

/// Each alarm's (name, alarm actions, OK actions).
fn alarm_actions(env: &Env, cloudwatch: &CloudWatch) -> Vec<(String, Vec<String>, Vec<String>)> {
    let out = env.block_on(cloudwatch.describe_alarms().send()).expect("alarms");
    out.metric_alarms()
        .iter()
        .map(|a| (a.alarm_name().unwrap_or_default().to_string(), a.alarm_actions().to_vec(), a.ok_actions().to_vec()))
        .collect()
}

#[test]
fn alarms_notify_the_topic_and_its_subscriptions_follow_the_file() {
    let env = Env::new();
    let sns = Sns::new(&env.sdk());
    let cloudwatch = CloudWatch::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    assert_eq!(emails(&env, &sns), Some(vec!["alerts@containrlab.click".to_string()]));
    let alarms = alarm_actions(&env, &cloudwatch);
    assert_eq!(alarms.len(), 15, "the seed's key metrics: {alarms:?}");
    for (name, on_alarm, on_ok) in &alarms {
        assert_eq!(
            (on_alarm.as_slice(), on_ok.as_slice()),
            ([TOPIC.to_string()].as_slice(), [TOPIC.to_string()].as_slice()),
            "{name}"
        );
    }
    env.run(&["diff", "--exit-code"]).expect_code(0);

    // An alarm's actions removed by hand: shown and put back with one PutMetricAlarm.
    let described = env.block_on(cloudwatch.describe_alarms().alarm_names("runner-high-cpu").send()).expect("alarm");
    let a = &described.metric_alarms()[0];
    let request = cloudwatch
        .put_metric_alarm()
        .alarm_name("runner-high-cpu")
        .set_alarm_description(a.alarm_description().map(str::to_string))
        .set_namespace(a.namespace().map(str::to_string))
        .set_metric_name(a.metric_name().map(str::to_string))
        .set_statistic(a.statistic().cloned())
        .set_period(a.period())
        .set_evaluation_periods(a.evaluation_periods())
        .set_threshold(a.threshold())
        .set_comparison_operator(a.comparison_operator().cloned())
        .set_dimensions(Some(a.dimensions().to_vec()))
        .set_treat_missing_data(a.treat_missing_data().map(str::to_string));
    env.block_on(request.send()).expect("alarm without actions");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    let plan = diff.json();
    assert_eq!(actions(&plan), [("alarm.runner-high-cpu".to_string(), "update".to_string())]);
    let paths: Vec<&str> =
        plan["changes"][0]["fields"].as_array().expect("fields").iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(paths, ["alarm_actions", "ok_actions"]);
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(repair.mutating_calls().into_iter().collect::<Vec<_>>(), [("CloudWatch:PutMetricAlarm".to_string(), 1)]);

    // A second address: subscribed with one call; the first removed: unsubscribed with one call.
    env.edit_stack(
        "emails: [alerts@containrlab.click]",
        "emails: [alerts@containrlab.click, oncall@containrlab.click]",
    );
    let added = env.run(&["up", "--yes"]);
    added.expect_code(0);
    assert_eq!(added.mutating_calls().into_iter().collect::<Vec<_>>(), [("SNS:Subscribe".to_string(), 1)]);
    env.edit_stack(
        "emails: [alerts@containrlab.click, oncall@containrlab.click]",
        "emails: [oncall@containrlab.click]",
    );
    let removed = env.run(&["up", "--yes"]);
    removed.expect_code(0);
    assert_eq!(removed.mutating_calls().into_iter().collect::<Vec<_>>(), [("SNS:Unsubscribe".to_string(), 1)]);
    assert_eq!(emails(&env, &sns), Some(vec!["oncall@containrlab.click".to_string()]));
    env.run(&["diff", "--exit-code"]).expect_code(0);

    env.run(&["down", "--yes", "--delete-data"]).expect_code(0);
    assert_eq!(emails(&env, &sns), None, "the topic is gone");
}

/// The seed's alarms name the load balancer, its target groups and the NAT gateway by the ids
/// CloudWatch's metrics carry, and a percentile alarm keeps its extended statistic.
#[test]
fn the_alarms_name_the_load_balancer_target_groups_and_nat_gateway_by_their_metric_ids() {
    let env = Env::new();
    let cloudwatch = CloudWatch::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&env.sdk());
    let lbs = env.block_on(elb.describe_load_balancers().names("containrlab-alb").send()).expect("lb");
    let lb_arn = lbs.load_balancers()[0].load_balancer_arn().expect("arn").to_string();
    let tgs = env.block_on(elb.describe_target_groups().names("containrlab-api-tg").send()).expect("tg");
    let tg_arn = tgs.target_groups()[0].target_group_arn().expect("arn").to_string();
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk());
    let nats = env.block_on(ec2.describe_nat_gateways().send()).expect("nat");
    let nat = nats.nat_gateways().iter().find(|n| n.state().is_some_and(|s| s.as_str() == "available")).expect("nat");
    let dims = |name: &str| -> (Vec<(String, String)>, Option<String>) {
        let out = env.block_on(cloudwatch.describe_alarms().alarm_names(name).send()).expect("alarm");
        let a = &out.metric_alarms()[0];
        let dims = a
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap_or("").to_string(), d.value().unwrap_or("").to_string()))
            .collect();
        (dims, a.extended_statistic().map(str::to_string))
    };
    let lb_id = lb_arn.split_once(":loadbalancer/").expect("suffix").1.to_string();
    let tg_id = tg_arn[tg_arn.find("targetgroup/").expect("targetgroup/")..].to_string();
    let (api, _) = dims("api-5xx");
    assert!(api.contains(&("LoadBalancer".into(), lb_id.clone())), "{api:?} {lb_id}");
    assert!(api.contains(&("TargetGroup".into(), tg_id.clone())), "{api:?} {tg_id}");
    let (slow, extended) = dims("alb-slow-p95");
    assert_eq!(slow, vec![("LoadBalancer".to_string(), lb_id)]);
    assert_eq!(extended.as_deref(), Some("p95"));
    let (nat_dims, _) = dims("nat-port-allocation-errors");
    assert_eq!(nat_dims, vec![("NatGatewayId".to_string(), nat.nat_gateway_id().expect("id").to_string())]);
    let second = env.run(&["up", "--yes"]);
    second.expect_code(0);
    assert!(second.mutating_calls().is_empty(), "{:?}", second.mutating_calls());
}
