//! `containrlab run SERVICE -- COMMAND…`: a one-off task with the service's revision, network and
//! roles, its container's log lines on stdout, its exit code as the command's.
//!
//! moto's `RunTask` starts no container: its task walks RUNNING → STOPPED as it is described and
//! reports exit code 0 for the first container. That path is run for real (the request's shape,
//! the task's network and overrides as moto stored them). A container's own exit code, its log
//! lines, a task that never started and one ECS could not place are moto's answers replaced by
//! the fault proxy (`Fault::Answer`, canned ECS answers in AWS's shape), the log lines being real
//! events written to moto's CloudWatch Logs under the stream name awslogs gives that task.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_ecs::Client as Ecs;
use serde_json::Value;

use crate::fault::{Fault, Proxy, Rule};
use crate::support::Env;

const SERVICE: &str = "containrlab-service";
const STARTED: &str = r#"{"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/containrlab-cluster/feedc0de", "lastStatus": "PROVISIONING", "containers": []}], "failures": []}"#;
const EXITED_3: &str = r#"{"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/containrlab-cluster/feedc0de", "lastStatus": "STOPPED", "startedAt": 1765000000, "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited", "containers": [{"name": "api", "exitCode": 3, "lastStatus": "STOPPED"}]}], "failures": []}"#;
const PULL_FAILED: &str = r#"{"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/containrlab-cluster/feedc0de", "lastStatus": "STOPPED", "stopCode": "TaskFailedToStart", "stoppedReason": "CannotPullContainerError: pull image manifest has been retried 5 time(s): containrlab-api:v9: not found", "containers": [{"name": "api", "lastStatus": "STOPPED"}]}], "failures": []}"#;
const NOT_PLACED: &str = r#"{"tasks": [], "failures": [{"reason": "RESOURCE:MEMORY", "arn": "arn:aws:ecs:us-east-1:123456789012:container-instance/containrlab-runner-ec2/1"}]}"#;

fn command(env: &Env, endpoint: &str, extra: &[&str]) -> crate::support::Run {
    let mut args = vec!["run", SERVICE];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "./migrate", "--to", "head"]);
    env.run_at(endpoint, &args)
}

#[test]
fn a_one_off_task_runs_in_the_services_network_with_its_command_and_reports_how_it_ended() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    let ecs = Ecs::new(&env.sdk());

    // moto for real: the task is started once, in the service's subnets and security groups,
    // with the command on the first essential container; it ends with moto's exit code 0.
    let proxy = Proxy::start(&env.moto.endpoint, vec![]);
    let ran = command(&env, &proxy.endpoint, &[]);
    ran.expect_code(0);
    assert!(
        ran.stderr.contains("run: containrlab-task:1 of containrlab-service in containrlab-cluster, container api"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("exited with 0"), "{}", ran.stderr);
    let bodies = proxy.bodies("RunTask");
    assert_eq!(bodies.len(), 1, "one RunTask: {bodies:?}");
    let request: Value = serde_json::from_str(&bodies[0]).expect("JSON");
    assert_eq!(request["taskDefinition"], "containrlab-task:1");
    assert_eq!(request["launchType"], "FARGATE");
    assert_eq!(request["startedBy"], "containrlab-run");
    assert!(request["clientToken"].as_str().is_some_and(|t| t.starts_with("containrlab-")), "{request}");
    assert_eq!(request["overrides"]["containerOverrides"][0]["name"], "api");
    assert_eq!(
        request["overrides"]["containerOverrides"][0]["command"],
        serde_json::json!(["./migrate", "--to", "head"])
    );
    let service =
        env.block_on(ecs.describe_services().cluster("containrlab-cluster").services(SERVICE).send()).expect("service");
    let vpc = service.services()[0].network_configuration().and_then(|n| n.awsvpc_configuration()).expect("awsvpc");
    let sent = &request["networkConfiguration"]["awsvpcConfiguration"];
    let mut subnets: Vec<String> = vpc.subnets().to_vec();
    subnets.sort();
    let mut sent_subnets: Vec<String> = serde_json::from_value(sent["subnets"].clone()).expect("subnets");
    sent_subnets.sort();
    assert_eq!(sent_subnets, subnets, "the service's subnets");
    assert_eq!(sent["securityGroups"], serde_json::json!(vpc.security_groups()), "the service's security groups");
    assert_eq!(sent["assignPublicIp"], "DISABLED");
    assert_eq!(ran.mutating_calls().keys().collect::<Vec<_>>(), vec!["ECS:RunTask"], "nothing but the task");

    // --detach --json: the task's id, no wait.
    let detached = env.run(&["--json", "run", SERVICE, "--detach", "--", "true"]);
    detached.expect_code(0);
    let id = detached.json()["task"].as_str().expect("task id").to_string();
    let tasks = env.block_on(ecs.describe_tasks().cluster("containrlab-cluster").tasks(&id).send()).expect("task");
    assert_eq!(tasks.tasks()[0].started_by(), Some("containrlab-run"));
    assert_eq!(detached.calls.get("ECS:DescribeTasks"), None, "a detached run does not wait");

    // The container's own exit code and its log lines (canned ECS answers; real log events).
    let logs = aws_sdk_cloudwatchlogs::Client::new(&env.sdk());
    env.block_on(async {
        let stream =
            logs.create_log_stream().log_group_name("/ecs/containrlab-api").log_stream_name("api/api/feedc0de");
        stream.send().await.expect("log stream");
        // Now: the group's retention would expire older events.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
        let event = |n: i64, m: &str| InputLogEvent::builder().timestamp(now + n).message(m).build().expect("event");
        logs.put_log_events()
            .log_group_name("/ecs/containrlab-api")
            .log_stream_name("api/api/feedc0de")
            .log_events(event(0, "applying 0042_add_sessions"))
            .log_events(event(1, "error: column exists"))
            .send()
            .await
            .map(|_| ())
    })
    .expect("log events");
    let proxy = Proxy::start(
        &env.moto.endpoint,
        vec![Rule::every("RunTask", Fault::Answer(STARTED)), Rule::every("DescribeTasks", Fault::Answer(EXITED_3))],
    );
    let failed = command(&env, &proxy.endpoint, &["--json"]);
    failed.expect_code(3);
    let result = failed.json();
    assert_eq!(result["exit_code"], 3);
    assert_eq!(result["task"], "feedc0de");
    assert!(
        failed.stderr.contains("applying 0042_add_sessions\nerror: column exists"),
        "log lines in order: {}",
        failed.stderr
    );
    let human = command(&env, &proxy.endpoint, &[]);
    human.expect_code(3);
    assert!(
        human.stdout.starts_with("applying 0042_add_sessions\nerror: column exists\n"),
        "log lines on stdout: {}",
        human.stdout
    );
    assert_eq!(human.stdout.matches("error: column exists").count(), 1, "each line once");

    // A task that never ran its command, and one ECS could not place: the cause and the fix.
    let proxy = Proxy::start(
        &env.moto.endpoint,
        vec![Rule::first("RunTask", Fault::Answer(STARTED)), Rule::every("DescribeTasks", Fault::Answer(PULL_FAILED))],
    );
    let never = command(&env, &proxy.endpoint, &[]);
    never.expect_code(1);
    assert!(
        never.stderr.contains("task never started: container api did not run: the image could not be pulled"),
        "{}",
        never.stderr
    );
    assert!(never.stderr.contains("fix: check that the tag exists in ECR"), "{}", never.stderr);
    let proxy = Proxy::start(&env.moto.endpoint, vec![Rule::first("RunTask", Fault::Answer(NOT_PLACED))]);
    let unplaced = command(&env, &proxy.endpoint, &[]);
    unplaced.expect_code(1);
    assert!(unplaced.stderr.contains("RESOURCE:MEMORY: no capacity"), "{}", unplaced.stderr);
    assert_eq!(unplaced.calls.get("ECS:DescribeTasks"), None);
}

#[test]
fn bad_input_is_refused_before_any_aws_call() {
    let env = Env::new();
    for (args, expected) in [
        (&["run", "nope", "--", "true"][..], "unknown service(s) nope"),
        (
            &["run", SERVICE, "--container", "db", "--", "true"],
            "container db is not in the task definition; it has: api, web",
        ),
        (&["--image-tag", "v2", "run", SERVICE, "--revision", "3", "--", "true"], "name two revisions"),
    ] {
        let refused = env.run(args);
        refused.expect_code(1);
        assert!(refused.stderr.contains(expected), "{args:?}: {}", refused.stderr);
        assert_eq!(refused.total_calls(), 0, "{args:?} made calls: {:?}", refused.calls);
    }
    let no_command = env.run(&["run", SERVICE]);
    no_command.expect_code(1);
    assert!(no_command.stderr.contains("<COMMAND>"), "{}", no_command.stderr);
}

/// A migration on the new images before the deploy: `--image-tag` registers the tag's revision
/// without moving the service, and the deploy that follows finds it and registers nothing.
#[test]
fn a_migration_runs_on_the_new_images_before_the_deploy_moves_the_service() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    crate::deploy::push_all(&env, &aws_sdk_ecr::Client::new(&env.sdk()), "v2", "migration");
    let migrated = env.run(&["--image-tag", "v2", "--json", "run", SERVICE, "--", "./migrate"]);
    migrated.expect_code(0);
    assert_eq!(migrated.json()["task_definition"], "containrlab-task:2", "{}", migrated.stdout);
    assert_eq!(migrated.mutating_calls().get("ECS:RegisterTaskDefinition"), Some(&1));
    assert_eq!(migrated.mutating_calls().get("ECS:UpdateService"), None, "the service is not moved");
    let again = env.run(&["--image-tag", "v2", "run", SERVICE, "--", "./migrate"]);
    again.expect_code(0);
    assert_eq!(again.mutating_calls().get("ECS:RegisterTaskDefinition"), None, "the tag's revision exists");

    let deployed = env.run(&["--image-tag", "v2", "--json", "deploy", "--service", SERVICE]);
    deployed.expect_code(0);
    assert_eq!(deployed.json()["results"][0]["to"], "containrlab-task:2", "{}", deployed.stdout);
    assert_eq!(deployed.mutating_calls().get("ECS:RegisterTaskDefinition"), None, "{:?}", deployed.mutating_calls());
}
