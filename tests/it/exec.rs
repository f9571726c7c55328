//! `containrlab exec` and `doctor --exec`: every way ECS Exec fails is named with its cause and
//! fix before connecting; with everything in place the terminal goes to the Session Manager
//! plugin, the session's token in its environment only.
//!
//! moto has no ECS Exec: it neither keeps nor reports `enableExecuteCommand`, runs no task of a
//! service (no managed agents, no runtime ids) and does not serve `ExecuteCommand`. The ECS
//! answers of these tests are therefore canned in AWS's shape (the fault proxy's `Fault::Answer`,
//! one answer changed per cause); the task role and its policies are moto's IAM, for real. The
//! plugin is a stand-in executable on PATH that records its arguments and environment. The stack
//! file's side (`exec: true` → the flag sent, a new deployment, the role's policy) is tested
//! through `up` with the flag patched into moto's DescribeServices answers as AWS would report it.

use std::path::{Path, PathBuf};

use aws_sdk_iam::Client as Iam;
use serde_json::Value;

use crate::fault::{Fault, Proxy, Rule};
use crate::support::{Env, Run};

const SERVICE: &str = "containrlab-service";
const CANARY: &str = "TOKEN-CANARY-4711";
const SERVICES: &str = r#"{"services": [{"serviceName": "containrlab-service", "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/containrlab-cluster/containrlab-service", "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/containrlab-cluster", "status": "ACTIVE", "launchType": "FARGATE", "desiredCount": 1, "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/containrlab-task:1", "enableExecuteCommand": true, "tags": [{"key": "ManagedBy", "value": "containrlab"}, {"key": "containrlab:stack", "value": "containrlab"}, {"key": "containrlab:address", "value": "ecs_service.containrlab-service"}]}], "failures": []}"#;
const LISTED: &str = r#"{"taskArns": ["arn:aws:ecs:us-east-1:123456789012:task/containrlab-cluster/abc123"]}"#;
const TASKS: &str = r#"{"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/containrlab-cluster/abc123", "group": "service:containrlab-service", "lastStatus": "RUNNING", "launchType": "FARGATE", "platformVersion": "1.4.0", "enableExecuteCommand": true, "startedAt": 1765000000, "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/containrlab-task:1", "containers": [{"name": "api", "runtimeId": "abc123-1111", "managedAgents": [{"name": "ExecuteCommandAgent", "lastStatus": "RUNNING"}]}, {"name": "web", "runtimeId": "abc123-2222", "managedAgents": [{"name": "ExecuteCommandAgent", "lastStatus": "RUNNING"}]}]}], "failures": []}"#;
const DEFINITION: &str = r#"{"taskDefinition": {"taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/containrlab-task:1", "family": "containrlab-task", "revision": 1, "status": "ACTIVE", "taskRoleArn": "arn:aws:iam::123456789012:role/containrlab/ecsTaskRole", "containerDefinitions": []}}"#;
const SESSION: &str = r#"{"clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/containrlab-cluster", "containerName": "api", "interactive": true, "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/containrlab-cluster/abc123", "session": {"sessionId": "ecs-execute-command-0abc", "streamUrl": "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/ecs-execute-command-0abc", "tokenValue": "TOKEN-CANARY-4711"}}"#;

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// A canned ECS world where every check passes, with `changed` answers in place of the defaults.
fn ecs_rules(changed: &[(&str, Fault)]) -> Vec<Rule> {
    let defaults = [
        ("DescribeServices", Fault::Answer(SERVICES)),
        ("ListTasks", Fault::Answer(LISTED)),
        ("DescribeTasks", Fault::Answer(TASKS)),
        ("DescribeTaskDefinition", Fault::Answer(DEFINITION)),
        ("ExecuteCommand", Fault::Answer(SESSION)),
    ];
    defaults
        .into_iter()
        .map(|(op, fault)| {
            let fault = changed.iter().find(|(c, _)| *c == op).map_or(fault, |(_, f)| *f);
            Rule::every(op, fault)
        })
        .collect()
}

/// The stack with `exec: true` on the Fargate service (the risk accepted), the task role with
/// ECS Exec's policy in moto's IAM (and a bare role), and a stand-in plugin of `version`.
struct World {
    env: Env,
    plugins: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let env = Env::new();
        env.edit_stack("      assign_public_ip: false\n", "      assign_public_ip: false\n      exec: true\n");
        let allow = "allow:\n  - risk: ecs-exec\n    at: ecs.services.containrlab-service.exec\n    reason: debugging the API\n";
        env.edit_stack("allow:\n", allow);
        let iam = Iam::new(&env.sdk());
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let exec = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssmmessages:CreateControlChannel","ssmmessages:CreateDataChannel","ssmmessages:OpenControlChannel","ssmmessages:OpenDataChannel"],"Resource":"*"}]}"#;
        env.block_on(async {
            for role in ["ecsTaskRole", "bareRole"] {
                iam.create_role()
                    .role_name(role)
                    .path("/containrlab/")
                    .assume_role_policy_document(trust)
                    .send()
                    .await
                    .expect("role");
            }
            let put = iam.put_role_policy().role_name("ecsTaskRole").policy_name("containrlab-ecs-exec");
            put.policy_document(exec).send().await.expect("policy");
        });
        let plugins = tempfile::tempdir().expect("temp dir");
        for (dir, version) in [("current", "1.2.707.0"), ("old", "1.2.398.0")] {
            std::fs::create_dir(plugins.path().join(dir)).expect("mkdir");
            let script = format!(
                "#!/bin/sh\nif [ \"$1\" = --version ]; then echo {version}; exit 0; fi\nprintf '%s\\n' \"$@\" > \"$PLUGIN_LOG.args\"\nprintf '%s' \"$AWS_SSM_START_SESSION_RESPONSE\" > \"$PLUGIN_LOG.env\"\nexit 7\n"
            );
            let path = plugins.path().join(dir).join("session-manager-plugin");
            std::fs::write(&path, script).expect("plugin");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        World { env, plugins }
    }

    fn log(&self) -> PathBuf {
        self.plugins.path().join("plugin")
    }

    /// `containrlab ARGS` through a proxy with the canned ECS answers, the plugin of `plugin`
    /// ("current", "old", or "none") on PATH.
    fn run(&self, changed: &[(&str, Fault)], plugin: &str, args: &[&str]) -> (Run, Proxy) {
        let proxy = Proxy::start(&self.env.moto.endpoint, ecs_rules(changed));
        let path = format!("{}:/usr/bin:/bin", self.plugins.path().join(plugin).display());
        let log = self.log().display().to_string();
        let run = self.env.run_with(&proxy.endpoint, &[("PATH", &path), ("PLUGIN_LOG", &log)], args);
        (run, proxy)
    }
}

/// `exec` refused before connecting: exit 1, no ExecuteCommand, the cause and the fix printed.
fn refused(world: &World, changed: &[(&str, Fault)], plugin: &str, cause: &str, fix: &str) {
    let (run, proxy) = world.run(changed, plugin, &["exec", SERVICE]);
    run.expect_code(1);
    assert!(run.stderr.contains(cause), "cause `{cause}` not in:\n{}", run.stderr);
    assert!(run.stderr.contains(fix), "fix `{fix}` not in:\n{}", run.stderr);
    assert!(proxy.bodies("ExecuteCommand").is_empty(), "connected despite a failed check");
    assert!(!Path::new(&format!("{}.args", world.log().display())).exists(), "the plugin ran");
}

#[test]
fn with_everything_in_place_exec_hands_the_session_to_the_plugin_through_its_environment() {
    let world = World::new();
    let (run, proxy) =
        world.run(&[], "current", &["-vvv", "exec", SERVICE, "--container", "web", "--", "ls", "-la", "/app dir"]);
    run.expect_code(7);
    let sent: Value = serde_json::from_str(&proxy.bodies("ExecuteCommand")[0]).expect("JSON");
    assert_eq!(sent["container"], "web");
    assert_eq!(sent["command"], "ls -la '/app dir'");
    assert_eq!(sent["interactive"], true);
    let args = std::fs::read_to_string(format!("{}.args", world.log().display())).expect("plugin args");
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(args[..4], ["AWS_SSM_START_SESSION_RESPONSE", "us-east-1", "StartSession", ""], "{args:?}");
    assert_eq!(args[4], r#"{"Target":"ecs:containrlab-cluster_abc123_abc123-2222"}"#);
    assert_eq!(args[5], proxy.endpoint, "the ECS endpoint the session was opened at");
    let session: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.env", world.log().display())).expect("env"))
            .expect("JSON");
    assert_eq!(session["TokenValue"], CANARY);
    assert_eq!(session["SessionId"], "ecs-execute-command-0abc");
    assert!(!args.iter().any(|a| a.contains(CANARY)), "the token is on the plugin's command line");
    assert!(!run.stdout.contains(CANARY) && !run.stderr.contains(CANARY), "the token was printed");
}

#[test]
fn exec_off_in_the_stack_file_is_named_with_its_fix() {
    let world = World::new();
    world.env.edit_stack("      exec: true\n", "");
    world.env.edit_stack(
        "  - risk: ecs-exec\n    at: ecs.services.containrlab-service.exec\n    reason: debugging the API\n",
        "",
    );
    let cause = "exec is off for containrlab-service";
    refused(&world, &[], "current", cause, "add `exec: true` to ecs.services.containrlab-service");
}

#[test]
fn the_services_flag_off_in_ecs_is_named_with_its_fix() {
    let off =
        Fault::Answer(leak(SERVICES.replace(r#""enableExecuteCommand": true"#, r#""enableExecuteCommand": false"#)));
    refused(
        &World::new(),
        &[("DescribeServices", off)],
        "current",
        "enableExecuteCommand is off in ECS",
        "`containrlab up` turns it on",
    );
}

#[test]
fn no_running_task_is_named_with_its_fix() {
    let none = Fault::Answer(r#"{"taskArns": []}"#);
    refused(
        &World::new(),
        &[("ListTasks", none)],
        "current",
        "no running task of containrlab-service",
        "`containrlab status`",
    );
}

#[test]
fn a_task_started_before_exec_was_turned_on_is_named_with_its_fix() {
    let old = Fault::Answer(leak(TASKS.replace(r#""enableExecuteCommand": true"#, r#""enableExecuteCommand": false"#)));
    let cause = "abc123 was started without ECS Exec (before exec was turned on)";
    refused(&World::new(), &[("DescribeTasks", old)], "current", cause, "wait for it (`containrlab status`)");
}

#[test]
fn an_old_fargate_platform_is_named_with_its_fix() {
    let old = Fault::Answer(leak(TASKS.replace(r#""platformVersion": "1.4.0""#, r#""platformVersion": "1.3.0""#)));
    refused(
        &World::new(),
        &[("DescribeTasks", old)],
        "current",
        "Fargate platform 1.3.0: ECS Exec needs 1.4.0 or later",
        "--platform-version LATEST",
    );
}

#[test]
fn an_exec_agent_not_running_is_named_with_its_fix() {
    let stopped = TASKS.replacen(
        r#"{"name": "ExecuteCommandAgent", "lastStatus": "RUNNING"}"#,
        r#"{"name": "ExecuteCommandAgent", "lastStatus": "STOPPED", "reason": "agent could not connect"}"#,
        1,
    );
    let cause = "ExecuteCommandAgent in api: STOPPED (agent could not connect)";
    refused(
        &World::new(),
        &[("DescribeTasks", Fault::Answer(leak(stopped)))],
        "current",
        cause,
        "a route to Session Manager",
    );
}

#[test]
fn a_task_role_without_the_ssmmessages_permissions_is_named_with_its_fix() {
    let bare = Fault::Answer(leak(DEFINITION.replace("role/containrlab/ecsTaskRole", "role/containrlab/bareRole")));
    let cause = "bareRole does not allow ssmmessages:CreateControlChannel, ssmmessages:CreateDataChannel";
    refused(
        &World::new(),
        &[("DescribeTaskDefinition", bare)],
        "current",
        cause,
        "gives it the containrlab-ecs-exec policy",
    );
}

#[test]
fn a_missing_plugin_is_named_with_how_to_install_it() {
    let fix = "install the Session Manager plugin: https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html";
    refused(&World::new(), &[], "none", "session-manager-plugin is not on PATH", fix);
}

#[test]
fn a_plugin_too_old_for_the_environment_handoff_is_refused() {
    let cause =
        "session-manager-plugin 1.2.398.0 (1.2.497.0 or older) takes the session token on its command line only";
    refused(&World::new(), &[], "old", cause, "install the current plugin");
}

#[test]
fn a_caller_without_ecs_execute_command_is_named_with_its_fix() {
    let world = World::new();
    let (run, _) =
        world.run(&[("ExecuteCommand", Fault::Refuse("AccessDeniedException"))], "current", &["exec", SERVICE]);
    run.expect_code(1);
    assert!(run.stderr.contains("may not call ecs:ExecuteCommand on task abc123"), "{}", run.stderr);
    assert!(
        run.stderr.contains("fix: grant ecs:ExecuteCommand on arn:aws:ecs:REGION:ACCOUNT:task/containrlab-cluster/*"),
        "{}",
        run.stderr
    );
}

#[test]
fn doctor_exec_runs_the_same_checks_without_connecting() {
    let world = World::new();
    let (run, proxy) = world.run(&[], "current", &["--json", "doctor", "--exec", SERVICE]);
    run.expect_code(0);
    let checks: Vec<(String, String)> = run.json()["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| (c["check"].as_str().unwrap_or("").to_string(), c["status"].as_str().unwrap_or("").to_string()))
        .collect();
    let names: Vec<&str> = checks.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["stack file", "service", "task", "platform", "agent", "task role", "plugin", "caller"]);
    assert!(checks[..7].iter().all(|(_, s)| s == "pass"), "{checks:?}");
    assert!(proxy.bodies("ExecuteCommand").is_empty());
    let (failing, _) =
        world.run(&[("ListTasks", Fault::Answer(r#"{"taskArns": []}"#))], "current", &["doctor", "--exec", SERVICE]);
    failing.expect_code(1);
    assert!(failing.stdout.contains("✗ task") && failing.stdout.contains("no running task"), "{}", failing.stdout);
}

/// moto does not keep `enableExecuteCommand`: its DescribeServices answers get the value the last
/// CreateService/UpdateService for that service sent, as AWS would report it.
fn exec_flag_as_sent(requests: &[(String, String)], answer: &mut Value) {
    let Some(services) = answer["services"].as_array_mut() else { return };
    for service in services {
        let name = service["serviceName"].as_str().unwrap_or_default().to_string();
        let sent = requests
            .iter()
            .rev()
            .filter(|(op, _)| op == "CreateService" || op == "UpdateService")
            .filter_map(|(_, body)| serde_json::from_str::<Value>(body).ok())
            .filter(|b| b["serviceName"] == name.as_str() || b["service"] == name.as_str())
            .find_map(|b| b["enableExecuteCommand"].as_bool());
        service["enableExecuteCommand"] = Value::Bool(sent.unwrap_or(false));
    }
}

#[test]
fn exec_in_the_stack_file_turns_the_flag_on_with_new_tasks_and_the_task_roles_permissions() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    env.edit_stack("      assign_public_ip: false\n", "      assign_public_ip: false\n      exec: true\n");
    let accept = "  - risk: ecs-exec\n    at: ecs.services.containrlab-service.exec\n    reason: debugging the API\n";
    env.edit_stack("allow:\n", &format!("allow:\n{accept}"));
    let proxy =
        Proxy::start(&env.moto.endpoint, vec![Rule::every("DescribeServices", Fault::Patch(exec_flag_as_sent))]);

    let diff = env.run_at(&proxy.endpoint, &["--json", "diff", "--exit-code"]);
    diff.expect_code(3);
    let planned = crate::support::actions(&diff.json());
    assert!(planned.contains(&("ecs_service.containrlab-service".to_string(), "update".to_string())), "{planned:?}");
    assert!(planned.iter().any(|(a, _)| a.contains("ecsTaskRole")), "the task role's policy: {planned:?}");
    assert_eq!(planned.len(), 2, "{planned:?}");
    assert!(diff.stdout.contains("enable_execute_command"), "{}", diff.stdout);

    let up = env.run_at(&proxy.endpoint, &["up", "--yes"]);
    up.expect_code(0);
    let update: Value =
        serde_json::from_str(proxy.bodies("UpdateService").last().expect("UpdateService")).expect("JSON");
    assert_eq!(update["enableExecuteCommand"], true);
    assert_eq!(update["forceNewDeployment"], true, "tasks started before have no exec agent");
    let iam = Iam::new(&env.sdk());
    let policy =
        env.block_on(iam.get_role_policy().role_name("ecsTaskRole").policy_name("containrlab-ecs-exec").send());
    assert!(policy.expect("the exec policy").policy_document().contains("ssmmessages"));
    env.run_at(&proxy.endpoint, &["diff", "--exit-code"]).expect_code(0);

    // Off again: the flag, new tasks, and the policy removed (exit 3 still: any change of a
    // role's policies is shown as possibly wider access, `iam_role`'s rule).
    env.edit_stack("      exec: true\n", "");
    env.edit_stack(accept, "");
    let off = env.run_at(&proxy.endpoint, &["--json", "diff", "--exit-code"]);
    off.expect_code(3);
    assert_eq!(crate::support::actions(&off.json()).len(), 2);
    env.run_at(&proxy.endpoint, &["up", "--yes"]).expect_code(0);
    let update: Value =
        serde_json::from_str(proxy.bodies("UpdateService").last().expect("UpdateService")).expect("JSON");
    assert_eq!(update["enableExecuteCommand"], false);
    let gone = env.block_on(iam.get_role_policy().role_name("ecsTaskRole").policy_name("containrlab-ecs-exec").send());
    assert!(gone.is_err(), "the exec policy is removed");
}
