//! ECS deployment alarms: the Fargate service is created with its rollback alarms (and the
//! circuit breaker); a deployment ECS fails because one of them is in ALARM is reported as a
//! failure naming the alarm and CloudWatch's reason.
//!
//! moto neither keeps a service's deployment configuration nor evaluates alarms or deployments:
//! the request ECS gets is read from the fault proxy's record, the alarm is put into ALARM with
//! moto's `SetAlarmState`, and the failed deployment ECS would then report is patched into moto's
//! DescribeServices answers (`Fault::Patch`).

use serde_json::{json, Value};

use crate::deploy::push_all;
use crate::fault::{Fault, Proxy, Rule};
use crate::support::Env;

/// After an UpdateService, the API/Web service's deployment is the one ECS failed on an alarm.
fn failed_on_an_alarm(requests: &[(String, String)], answer: &mut Value) {
    if !requests.iter().any(|(op, _)| op == "UpdateService") {
        return;
    }
    let Some(services) = answer["services"].as_array_mut() else { return };
    for s in services.iter_mut().filter(|s| s["serviceName"] == "containrlab-service") {
        let revision = s["taskDefinition"].clone();
        s["deployments"] = json!([{
            "id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": revision, "desiredCount": 1,
            "runningCount": 0, "rolloutState": "FAILED",
            "rolloutStateReason": "ECS deployment ecs-svc/2 rolled back: alarm(s) detected: api-5xx"
        }]);
    }
}

#[test]
fn a_deployment_rolled_back_by_an_alarm_is_a_failure_naming_the_alarm_and_its_reason() {
    let env = Env::new();
    let recorder = Proxy::start(&env.moto.endpoint, vec![]);
    env.run_at(&recorder.endpoint, &["up", "--yes"]).expect_code(0);
    let created: Vec<Value> =
        recorder.bodies("CreateService").iter().map(|b| serde_json::from_str(b).expect("JSON")).collect();
    let api = created.iter().find(|b| b["serviceName"] == "containrlab-service").expect("created");
    assert_eq!(
        api["deploymentConfiguration"]["alarms"],
        json!({"alarmNames": ["api-5xx", "web-5xx", "alb-slow-p95"], "enable": true, "rollback": true})
    );
    let runner = created.iter().find(|b| b["serviceName"] == "containrlab-runner-service").expect("created");
    assert_eq!(runner["deploymentConfiguration"]["alarms"]["enable"], false);

    let cloudwatch = aws_sdk_cloudwatch::Client::new(&env.sdk());
    let reason = "Threshold Crossed: 1 datapoint [37.0] was greater than the threshold (10.0).";
    env.block_on(
        cloudwatch
            .set_alarm_state()
            .alarm_name("api-5xx")
            .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
            .state_reason(reason)
            .send(),
    )
    .expect("alarm state");
    push_all(&env, &aws_sdk_ecr::Client::new(&env.sdk()), "v2", "alarm");
    let proxy =
        Proxy::start(&env.moto.endpoint, vec![Rule::every("DescribeServices", Fault::Patch(failed_on_an_alarm))]);
    let deploy = env.run_at(&proxy.endpoint, &["--image-tag", "v2", "deploy", "--service", "containrlab-service"]);
    deploy.expect_code(1);
    assert!(deploy.stderr.contains(&format!("rollback alarm(s) in ALARM: api-5xx ({reason})")), "{}", deploy.stderr);
    assert!(deploy.stderr.contains("rolled back: alarm(s) detected: api-5xx"), "ECS's reason: {}", deploy.stderr);
}
