//! Every class of bad input is rejected before any AWS call, with where and what was expected.
//! The cases start from the checked-in `stack.yaml` and break one thing each.

use std::path::{Path, PathBuf};

use super::*;

pub(super) fn repo_stack_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("stack.yaml")
}

pub(super) fn checked_in() -> String {
    std::fs::read_to_string(repo_stack_path()).expect("the checked-in stack.yaml")
}

/// The checked-in stack with `from` replaced by `to` (which must occur).
pub(super) fn variant(from: &str, to: &str) -> String {
    let text = checked_in();
    assert!(text.contains(from), "test setup: `{from}` is not in stack.yaml");
    text.replacen(from, to, 1)
}

/// Loads `text` as if it were the checked-in stack.yaml and returns the rendered errors.
pub(super) fn errors_of(text: &str) -> Vec<String> {
    errors_at(&repo_stack_path(), text)
}

pub(super) fn errors_at(path: &Path, text: &str) -> Vec<String> {
    match load_str(path, text) {
        Ok(_) => Vec::new(),
        Err(ConfigErrors(list)) => list.iter().map(ToString::to_string).collect(),
    }
}

pub(super) fn assert_one(errors: &[String], expected: &str) {
    assert!(
        errors.iter().any(|e| e.contains(expected)),
        "expected an error containing\n  {expected}\ngot\n  {}",
        errors.join("\n  ")
    );
}

#[test]
fn the_checked_in_stack_is_valid() {
    let stack = load(&repo_stack_path()).expect("stack.yaml is valid");
    assert_eq!(stack.file.ecr.repositories.len(), 4);
    assert_eq!(stack.task_definitions.len(), 2);
}

#[test]
fn yaml_syntax_error_names_line_and_column() {
    let errors = errors_of("stack: x\nnetwork: [\n");
    assert_eq!(errors.len(), 1);
    assert_one(&errors, "stack.yaml:2:10: ");
}

#[test]
fn unknown_key_is_rejected_with_the_expected_keys() {
    let errors = errors_of(&variant("  nat_gateways: 1", "  natgateways: 1"));
    assert_one(&errors, "stack.yaml:12:3: ");
    assert_one(
        &errors,
        "network.natgateways: unknown field `natgateways`, expected one of vpc_cidr, nat_gateways, subnets, flow_logs — did you mean `nat_gateways`?",
    );
}

#[test]
fn duplicate_key_is_rejected() {
    let errors = errors_of(&variant("region: us-east-1\n", "region: us-east-1\nregion: eu-west-1\n"));
    assert_one(&errors, "stack.yaml:6:1: ");
    assert_one(&errors, "duplicate mapping key: region");
}

#[test]
fn wrong_type_is_rejected() {
    let errors = errors_of(&variant("idle_timeout_seconds: 60", "idle_timeout_seconds: sixty"));
    assert_one(&errors, "stack.yaml:58:25: load_balancer.idle_timeout_seconds: expected a whole number (0 or more)");
}

#[test]
fn only_yaml_1_2_booleans_are_booleans() {
    for spelling in ["off", "no", "\"yes\""] {
        let errors = errors_of(&variant("deletion_protection: false", &format!("deletion_protection: {spelling}")));
        assert_one(
            &errors,
            "stack.yaml:59:24: load_balancer.deletion_protection: expected true or false (YAML 1.2: `yes`, `no`, `on`, `off` are not booleans)",
        );
    }
}

#[test]
fn a_byte_that_is_not_utf8_is_located() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("stack.yaml");
    let mut bytes = b"stack: containrlab\ntags:\n  Team: \"caf".to_vec();
    bytes.extend([0xe9, b'"', b'\n']);
    std::fs::write(&path, bytes).expect("write");
    let errors = match load(&path) {
        Err(ConfigErrors(list)) => list.iter().map(ToString::to_string).collect::<Vec<_>>(),
        Ok(_) => vec![],
    };
    assert_one(&errors, "stack.yaml:3:13: not UTF-8 (byte 0xe9): save the file as UTF-8");
}

#[test]
fn bad_cidr_is_rejected_with_position_and_example() {
    let errors = errors_of(&variant("vpc_cidr: 10.0.0.0/16", "vpc_cidr: 10.0.0.0/33"));
    assert_one(
        &errors,
        "stack.yaml:11:13: network.vpc_cidr: `10.0.0.0/33` is not a valid IPv4 CIDR (expected e.g. 10.0.0.0/16)",
    );
    let errors = errors_of(&variant("cidr: 10.0.1.0/24", "cidr: 10.0.1.7/24"));
    assert_one(&errors, "network.subnets.public-b.cidr: `10.0.1.7/24` is not a valid IPv4 CIDR");
}

#[test]
fn subnet_outside_the_vpc_is_rejected() {
    let errors = errors_of(&variant("cidr: 10.0.1.0/24", "cidr: 10.1.1.0/24"));
    assert_one(&errors, "network.subnets.public-b.cidr: `10.1.1.0/24` is outside the VPC 10.0.0.0/16");
}

#[test]
fn overlapping_subnets_are_rejected() {
    let errors = errors_of(&variant("cidr: 10.0.11.0/24", "cidr: 10.0.10.128/25"));
    assert_one(
        &errors,
        "stack.yaml:17:70: network.subnets.private-b.cidr: `10.0.10.128/25` overlaps subnet `private-a` (10.0.10.0/24)",
    );
}

/// CreateLoadBalancer refuses a single zone, after the VPC and NAT gateway were built.
#[test]
fn a_load_balancer_with_public_subnets_in_one_zone_is_rejected() {
    let one_zone = variant(
        "public-b:  { tier: public,  availability_zone: us-east-1b",
        "public-b:  { tier: public,  availability_zone: us-east-1a",
    );
    assert_one(
        &errors_of(&one_zone),
        "load_balancer.subnet_tier: an Application Load Balancer needs public subnets in at least two Availability Zones (only us-east-1a in network.subnets): add a public subnet in another zone",
    );
    let one_subnet =
        variant("    public-b:  { tier: public,  availability_zone: us-east-1b, cidr: 10.0.1.0/24 }\n", "");
    assert_one(&errors_of(&one_subnet), "(only us-east-1a in network.subnets)");
}

#[test]
fn undefined_security_group_is_rejected() {
    let errors = errors_of(&variant(
        "security_group: alb-sg, description: API from the ALB",
        "security_group: lb-sg, description: API from the ALB",
    ));
    assert_one(&errors, "security_groups.ecs-tasks-sg.ingress[0].security_group: security group `lb-sg` is not defined under security_groups");
}

#[test]
fn undefined_target_group_is_rejected() {
    let errors = errors_of(&variant(
        "target_group: containrlab-web-tg, container: web",
        "target_group: containrlab-www-tg, container: web",
    ));
    assert_one(&errors, "ecs.services.containrlab-service.load_balancers[1].target_group: target group `containrlab-www-tg` is not defined");
}

#[test]
fn world_ssh_needs_an_explicit_allowance() {
    let from =
        "      - { protocol: tcp, ports: 8080, security_group: alb-sg, description: Target-group health checks }\n";
    let open = "      - { protocol: tcp, ports: 8080, security_group: alb-sg, description: Target-group health checks }\n      - { protocol: tcp, ports: 22, cidr: 0.0.0.0/0 }\n";
    let errors = errors_of(&variant(from, open));
    assert_one(&errors, "security_groups.runner-sg.ingress[2]: opens tcp 22 (SSH) to the whole internet (only 80 and 443 are expected there) [public-ingress]; change it, or accept it: `allow: [{ risk: public-ingress, at: \"security_groups.runner-sg.ingress[2]\", reason: \"…\" }]`");
    let allowed = variant(from, open)
        + "  - { risk: public-ingress, at: \"security_groups.runner-sg.ingress[2]\", reason: break-glass access while the VPN is down }\n";
    assert_eq!(errors_of(&allowed), Vec::<String>::new());
}

#[test]
fn secret_written_inline_is_rejected_without_echoing_it() {
    let errors =
        errors_of(&variant("      value_from_env: CONTAINRLAB_GEMINI_API_KEY", "      value: AIzaSy-not-a-real-key"));
    assert_one(
        &errors,
        "ssm.parameters./containrlab/GEMINI_API_KEY.value: a SecureString value must not be written in the stack file",
    );
    assert!(errors.iter().all(|e| !e.contains("AIzaSy-not-a-real-key")), "the value was echoed: {errors:?}");
}

#[test]
fn bad_log_retention_is_rejected() {
    let errors = errors_of(&variant(
        "/ecs/containrlab-web:    { retention_days: 7 }",
        "/ecs/containrlab-web:    { retention_days: 8 }",
    ));
    assert_one(
        &errors,
        "logs.groups./ecs/containrlab-web.retention_days: 8 is not a retention CloudWatch Logs accepts",
    );
}

/// A stack in a temporary directory with the given task definition for the Fargate service.
pub(super) fn with_task_definition(json: Option<&str>) -> Vec<String> {
    stack_with_task_definition(&checked_in(), json)
}

/// `stack` in a temporary directory with the given task definition for the Fargate service.
pub(super) fn stack_with_task_definition(stack: &str, json: Option<&str>) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("task-definitions")).expect("mkdir");
    let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("task-definitions/containrlab-runner.json");
    std::fs::copy(runner, dir.path().join("task-definitions/containrlab-runner.json")).expect("copy");
    if let Some(json) = json {
        std::fs::write(dir.path().join("task-definitions/containrlab-task.json"), json).expect("write");
    }
    errors_at(&dir.path().join("stack.yaml"), stack)
}

pub(super) fn task_json(from: &str, to: &str) -> String {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("task-definitions/containrlab-task.json"))
            .expect("read");
    assert!(text.contains(from), "test setup: `{from}` is not in containrlab-task.json");
    text.replacen(from, to, 1)
}

#[test]
fn missing_task_definition_file_is_rejected() {
    let errors = with_task_definition(None);
    assert_one(&errors, "containrlab-task.json: cannot read task definition");
    assert_one(&errors, "ecs.services.containrlab-service.task_definition: task definition `task-definitions/containrlab-task.json` is missing or invalid");
}

#[test]
fn malformed_task_definition_json_names_line_and_column() {
    let errors = with_task_definition(Some(&task_json("\"essential\": true,", "\"essential\": true,,")));
    assert_one(
        &errors,
        "containrlab-task.json:14:25: malformed JSON: key must be a string; expected a RegisterTaskDefinition document",
    );
}

#[test]
fn undefined_repository_in_a_task_definition_is_rejected() {
    let errors =
        with_task_definition(Some(&task_json("${repository:containrlab-web}", "${repository:containrlab-frontend}")));
    assert_one(&errors, "containerDefinitions[1].image: ${repository:containrlab-frontend}: repository `containrlab-frontend` is not defined under ecr.repositories");
}

#[test]
fn undefined_parameter_in_a_task_definition_is_rejected() {
    let errors = with_task_definition(Some(&task_json(
        "${parameter:/containrlab/NEXTAUTH_SECRET}",
        "${parameter:/containrlab/NEXTAUTH_KEY}",
    )));
    assert_one(&errors, "containerDefinitions[1].secrets[2].valueFrom: ${parameter:/containrlab/NEXTAUTH_KEY}: parameter `/containrlab/NEXTAUTH_KEY` is not defined under ssm.parameters");
}

#[test]
fn unknown_placeholder_and_unknown_key_are_rejected() {
    let errors = with_task_definition(Some(&task_json(
        "\"essential\": true,",
        "\"essential\": true, \"imagePullPolicy\": \"${pull_policy}\",",
    )));
    assert_one(&errors, "containrlab-task.json:14:26: containerDefinitions[0].imagePullPolicy: unknown or unsupported key for a container definition; supported: name, image");
    assert_one(&errors, "unknown placeholder `${pull_policy}`");
}

#[test]
fn a_mistyped_task_definition_key_is_located_with_a_suggestion() {
    let errors = with_task_definition(Some(&task_json("\"portMappings\"", "\"portMapings\"")));
    assert_one(
        &errors,
        "containerDefinitions[0].portMapings: unknown or unsupported key for a container definition — did you mean `portMappings`?",
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("containrlab-task.json:") && e.contains(": containerDefinitions[0].portMapings")),
        "{errors:?}"
    );
}

#[test]
fn a_duplicate_task_definition_key_is_rejected() {
    let errors =
        with_task_definition(Some(&task_json("\"essential\": true,", "\"essential\": true, \"essential\": false,")));
    assert_one(
        &errors,
        "containrlab-task.json:14:26: containerDefinitions[0].essential: duplicate key (first at line 14, column 7)",
    );
}

#[test]
fn secret_as_plain_environment_variable_is_rejected() {
    let errors = with_task_definition(Some(&task_json(
        "{ \"name\": \"NEXTAUTH_URL\", \"value\": \"https://app.containrlab.click\" }",
        "{ \"name\": \"NEXTAUTH_SECRET\", \"value\": \"s3cr3t-inline\" }",
    )));
    assert_one(&errors, "containerDefinitions[1].environment[0]: `NEXTAUTH_SECRET` is a secret of this stack: reference it under `secrets` with `valueFrom`");
    assert!(errors.iter().all(|e| !e.contains("s3cr3t-inline")));
}

#[test]
fn container_named_by_a_service_must_exist() {
    let errors = errors_of(&variant("container: web, port: 3000", "container: frontend, port: 3000"));
    assert_one(&errors, "ecs.services.containrlab-service.load_balancers[1].container: container `frontend` is not in");
}

#[test]
fn health_checks_default_to_the_documented_values() {
    let stack = load(&repo_stack_path()).expect("valid");
    let lb = stack.file.load_balancer.as_ref().expect("load balancer");
    let h = &lb.target_groups["containrlab-web-tg"].health_check;
    assert_eq!(
        (
            h.path.as_str(),
            h.interval_seconds,
            h.timeout_seconds,
            h.healthy_threshold,
            h.unhealthy_threshold,
            h.matcher.as_str()
        ),
        ("/", 30, 5, 2, 3, "200")
    );
    assert_eq!(lb.target_groups["containrlab-web-tg"].deregistration_delay_seconds, 30);
    assert_eq!(lb.target_groups["containrlab-web-tg"].protocol, "HTTP");
}

#[test]
fn a_service_target_group_needs_a_listener_rule() {
    let errors = errors_of(&variant(
        "      launch_type: EC2\n      desired_count: 1\n",
        "      launch_type: EC2\n      desired_count: 1\n      load_balancers:\n        - { target_group: containrlab-runner-tg, container: runnerd, port: 8080 }\n",
    ));
    assert_one(&errors, "ecs.services.containrlab-runner-service.load_balancers[0].target_group: no listener rule forwards to target group `containrlab-runner-tg`");
}

#[test]
fn a_container_insights_alarm_needs_insights_on_its_cluster() {
    let errors = errors_of(&variant(
        "container_insights: true   # the ecs-task-failures alarm reads its RunningTaskCount metric",
        "container_insights: false",
    ));
    assert_one(&errors, "alarms.ecs-task-failures.dimensions.ClusterName: `ECS/ContainerInsights` metrics need `container_insights: true` on cluster `containrlab-cluster`");
}

#[test]
fn two_services_may_not_share_a_task_definition_family() {
    let errors = errors_of(&variant(
        "      task_definition: task-definitions/containrlab-runner.json\n      launch_type: EC2\n",
        "      task_definition: task-definitions/containrlab-task.json\n      launch_type: EC2\n",
    ));
    assert_one(
        &errors,
        "family `containrlab-task` is also the task definition of service `containrlab-runner-service`",
    );
}

#[test]
fn flow_logs_need_a_declared_log_group_and_a_role_the_flow_logs_service_trusts() {
    let cases = [
        (
            variant("traffic: ALL", "traffic: SOME"),
            "network.flow_logs.traffic: `SOME`: expected ALL, ACCEPT or REJECT",
        ),
        (
            variant("log_group: /vpc/containrlab-flow-logs", "log_group: /vpc/elsewhere"),
            "network.flow_logs.log_group: log group `/vpc/elsewhere` is not declared under logs.groups",
        ),
        (
            variant("role: vpcFlowLogsRole", "role: ecsTaskRole"),
            "network.flow_logs.role: role `ecsTaskRole` must trust vpc-flow-logs.amazonaws.com (trusted_services) to deliver flow logs",
        ),
        (
            variant("role: vpcFlowLogsRole", "role: nobody"),
            "network.flow_logs.role: role `nobody` is not declared under iam.roles",
        ),
        (
            variant("traffic: ALL", "traffic: ALL\n    max_aggregation_seconds: 120"),
            "network.flow_logs.max_aggregation_seconds: 120: AWS allows 60 or 600 seconds",
        ),
    ];
    for (text, expected) in &cases {
        assert_one(&errors_of(text), expected);
    }
}

#[test]
fn notifications_need_an_sns_topic_name_and_email_addresses() {
    let cases = [
        (variant("topic: containrlab-alarms", "topic: containrlab alarms"), "notifications.topic: `containrlab alarms`: SNS topic names are 1 to 256 letters, digits, hyphens and underscores"),
        (variant("emails: [alerts@containrlab.click]", "emails: []"), "notifications.emails: name at least one email address: a topic nobody reads notifies nobody"),
        (variant("emails: [alerts@containrlab.click]", "emails: [alerts]"), "notifications.emails[0]: `alerts` is not an email address"),
    ];
    for (text, expected) in &cases {
        assert_one(&errors_of(text), expected);
    }
}

#[test]
fn a_dns_record_of_another_type_is_rejected() {
    let errors = errors_of(&variant(
        "- { name: api, type: A, alias: load_balancer }",
        "- { name: api, type: CNAME, alias: load_balancer }",
    ));
    assert_one(&errors, "dns.records[0].type: `CNAME`: the only record type is `A` (an alias of the load balancer)");
}

#[test]
fn a_repository_built_for_another_architecture_than_its_task_is_rejected() {
    let errors =
        errors_of(&variant("containrlab-api:     { architecture: arm64", "containrlab-api:     { architecture: amd64"));
    assert_one(&errors, "ecr.repositories.containrlab-api.architecture: `amd64`, but ");
    assert_one(&errors, "containrlab-task.json (containerDefinitions[0]) runs on arm64: its images would not start");
}

#[test]
fn alarm_placeholders_statistics_and_missing_data_are_checked() {
    let cases = [
        (
            variant("${target_group:containrlab-web-tg}", "${target_group:containrlab-db-tg}"),
            "alarms.web-5xx.dimensions.TargetGroup: `${target_group:containrlab-db-tg}` names no resource of this stack",
        ),
        (
            variant("${nat_gateway:public-a}", "${nat_gateway:public-b}"),
            "the public subnet of a NAT gateway: public-a)",
        ),
        (variant("statistic: p95", "statistic: p101"), "alarms.alb-slow-p95.statistic: `p101`: expected Average, Sum"),
        (
            variant("treat_missing_data: breaching", "treat_missing_data: Breaching"),
            "alarms.ecs-task-failures.treat_missing_data: `Breaching`: expected breaching, notBreaching, ignore or missing",
        ),
    ];
    for (text, expected) in cases {
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains(expected), "{expected} not in {errors:?}");
    }
    assert!(errors_of(&variant("statistic: p95", "statistic: p99.9")).is_empty());
}

#[test]
fn a_rollback_alarm_must_be_an_alarm_of_the_stack() {
    let errors = errors_of(&variant("rollback_alarms: [api-5xx,", "rollback_alarms: [api-500,"));
    assert_one(
        &errors,
        "ecs.services.containrlab-service.rollback_alarms[0]: alarm `api-500` is not defined under alarms",
    );
}
