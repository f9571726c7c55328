//! The guardrails: what AWS would refuse part-way through `up` (`limits`), and what it accepts but
//! weakens the stack (`risks`), each rejected with its message; an `allow:` entry accepts a risk by
//! id and key path and shows on the plan. The cases start from the checked-in `stack.yaml`.

use super::tests::{assert_one, checked_in, errors_of, repo_stack_path, variant};
use super::*;
use super::{load_str_with, FailingControls};

fn accepted_of(text: &str) -> Vec<String> {
    load_str(&repo_stack_path(), text).expect("the variant is valid").accepted
}

#[test]
fn the_checked_in_stack_accepts_only_its_privileged_runner() {
    let accepted = accepted_of(&checked_in());
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert!(
        accepted[0].starts_with("privileged-container at ecs.services.containrlab-runner-service.task_definition: runs runnerd privileged: root on its host — the runner is Docker-in-Docker"),
        "{accepted:?}"
    );
}

#[test]
fn aws_limits_are_refused_with_the_limit_quoted() {
    let many: String = (0..48).map(|i| format!("  T{i}: v\n")).collect();
    let cases = [
        (
            variant("  Environment: production\n", &format!("  Environment: production\n{many}")),
            "tags: 50 tags and the 3 ownership tags make 53: AWS allows at most 50 tags per resource",
        ),
        (
            variant("Environment: production", &format!("Environment: {}", "x".repeat(300))),
            "tags.Environment: the value is 300 characters: AWS allows at most 256 per tag value",
        ),
        (variant("Environment: production", "aws:env: production"), "tags.aws:env: AWS reserves the `aws:` prefix"),
        (
            variant("health_check: { path: /healthz }", "health_check: { path: /healthz, interval_seconds: 10, timeout_seconds: 30 }"),
            "load_balancer.target_groups.containrlab-api-tg.health_check.timeout_seconds: 30 s is not below the interval of 10 s: ELB requires the timeout to be smaller than the interval",
        ),
        (
            variant("- arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role", "- AmazonEC2ContainerServiceforEC2Role"),
            "managed_policies[0]: `AmazonEC2ContainerServiceforEC2Role` is not a policy ARN: IAM attaches policies by ARN, e.g. `arn:aws:iam::aws:policy/AmazonEC2ContainerServiceforEC2Role`",
        ),
        (
            variant("[api.containrlab.click, app.containrlab.click]", "[api.containrlab.click, app.example.com]"),
            "certificate.subject_alternative_names[1]: `app.example.com` is outside the zone containrlab.click",
        ),
        (
            variant("availability_zone: us-east-1b, cidr: 10.0.1.0/24", "availability_zone: eu-west-1b, cidr: 10.0.1.0/24"),
            "network.subnets.public-b.availability_zone: `eu-west-1b` is not an availability zone of the stack's region us-east-1",
        ),
        (
            variant("description: Session timeout", &format!("description: {}", "x".repeat(2000))),
            "ssm.parameters./containrlab/SESSION_TTL_SECONDS.description: 2000 characters: SSM allows at most 1024",
        ),
        (
            variant("description: HTTPS }", "description: HTTPS ✓ }"),
            "security_groups.alb-sg.ingress[1].description: `✓` is not allowed: EC2 takes only letters, digits, spaces and",
        ),
    ];
    for (text, expected) in &cases {
        assert_one(&errors_of(text), expected);
    }
}

/// Controls a risk's edit fails too, which `allow:` must name on their own.
fn also_failing(risk: &str) -> Vec<(&'static str, &'static str)> {
    match risk {
        // Only ML-KEM policies pass prowler's post-quantum check.
        "tls-legacy" => vec![("elbv2_listener_pqc_tls_enabled", "load_balancer.https_listener.ssl_policy")],
        _ => Vec::new(),
    }
}

#[test]
fn every_risk_is_refused_until_allowed_by_id_and_key_path() {
    let cases = [
        (
            "refs: [refs/heads/main]",
            "refs: ['*']",
            "github-oidc-broad",
            "iam.roles.github-actions-deploy.trusted_github",
        ),
        (
            "refs: [refs/heads/main]",
            "refs: [refs/pull/*/merge]",
            "github-oidc-broad",
            "iam.roles.github-actions-deploy.trusted_github",
        ),
        (
            "refs: [refs/heads/main]",
            "refs: ['']",
            "github-oidc-broad",
            "iam.roles.github-actions-deploy.trusted_github",
        ),
        (
            "- actions: [ecr:GetAuthorizationToken]",
            "- actions: ['*']",
            "iam-admin",
            "iam.roles.github-actions-deploy.inline_policies.push-images-and-deploy[0]",
        ),
        (
            "- arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
            "- arn:aws:iam::aws:policy/AdministratorAccess",
            "iam-admin",
            "iam.roles.ecsInstanceRole.managed_policies[0]",
        ),
        (
            "ports: 443, cidr: 0.0.0.0/0",
            "ports: 3389, cidr: 0.0.0.0/0",
            "public-ingress",
            "security_groups.alb-sg.ingress[1]",
        ),
        (
            "ports: 443, cidr: 0.0.0.0/0",
            "ports: 8080, cidr: 0.0.0.0/0",
            "public-ingress",
            "security_groups.alb-sg.ingress[1]",
        ),
        (
            "ssl_policy: ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
            "ssl_policy: ELBSecurityPolicy-TLS-1-0-2015-04",
            "tls-legacy",
            "load_balancer.https_listener.ssl_policy",
        ),
        (
            "assign_public_ip: false",
            "assign_public_ip: true",
            "public-ip",
            "ecs.services.containrlab-service.assign_public_ip",
        ),
        (
            "value_from_env: CONTAINRLAB_GEMINI_API_KEY",
            "value_from_env: AWS_SECRET_ACCESS_KEY",
            "aws-credentials-env",
            "ssm.parameters./containrlab/GEMINI_API_KEY.value_from_env",
        ),
    ];
    for (from, to, risk, at) in cases {
        let text = variant(from, to);
        assert_one(&errors_of(&text), &format!("{at}: "));
        assert_one(
            &errors_of(&text),
            &format!("[{risk}]; change it, or accept it: `allow: [{{ risk: {risk}, at: \"{at}\", reason: \"…\" }}]`"),
        );
        let mut allowed = format!("{text}  - {{ risk: {risk}, at: \"{at}\", reason: a test accepts it }}\n");
        // The same edit can fail a Security Hub control that is another weakness: its own entry.
        for (control, at) in also_failing(risk) {
            allowed.push_str(&format!("  - {{ risk: {control}, at: \"{at}\", reason: a test accepts it }}\n"));
        }
        let accepted = accepted_of(&allowed);
        assert!(
            accepted.iter().any(|a| a.starts_with(&format!("{risk} at {at}: ")) && a.ends_with("— a test accepts it")),
            "{accepted:?}"
        );
    }
}

#[test]
fn an_allowance_must_match_a_risk_and_give_a_reason() {
    let idle = format!(
        "{}  - {{ risk: public-ip, at: ecs.services.containrlab-service.assign_public_ip, reason: not needed }}\n",
        checked_in()
    );
    // The entry appended after the checked-in ones.
    let index = checked_in().matches("\n  - risk: ").count();
    assert_one(
        &errors_of(&idle),
        &format!("allow[{index}]: accepts nothing: there is no `public-ip` risk or failing control at `ecs.services.containrlab-service.assign_public_ip` (remove it)"),
    );
    let silent = checked_in().replace("    reason: the runner is Docker-in-Docker", "    reason: \" \"\n    #");
    assert_one(&errors_of(&silent), "allow[0].reason: say why the stack accepts this risk: every plan shows it");
    let removed = checked_in().replace("  - risk: privileged-container", "  - risk: public-ip");
    assert_one(&errors_of(&removed), "ecs.services.containrlab-runner-service.task_definition: runs runnerd privileged: root on its host [privileged-container]");
}

/// `(from, to, risk, key path, what else the same edit fails: (control, key path))`.
type Case<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [(&'a str, &'a str)]);

/// Refused until `allow:` names it, then shown on every plan: `(edit, risk, key path)` cases of
/// the classes that came later — privilege escalation, wide trust, an internal target made public.
#[test]
fn escalation_wide_trust_and_internal_targets_are_risks() {
    // Each with what else the same edit fails (a Security Hub or prowler check of its own).
    let cases: [Case; 9] = [
        ("- actions: [ecr:GetAuthorizationToken]", "- actions: [iam:PassRole]", "iam-escalation", "iam.roles.github-actions-deploy.inline_policies.push-images-and-deploy[0]", &[]),
        ("- actions: [ecr:GetAuthorizationToken]", "- actions: ['iam:Attach*']", "iam-escalation", "iam.roles.github-actions-deploy.inline_policies.push-images-and-deploy[0]", &[]),
        ("- actions: [ecr:GetAuthorizationToken]", "- actions: [sts:AssumeRole]", "iam-escalation", "iam.roles.github-actions-deploy.inline_policies.push-images-and-deploy[0]", &[]),
        ("trusted_services: [ecs-tasks.amazonaws.com]", "trusted_services: ['*']", "trust-wildcard", "iam.roles.ecsTaskExecutionRole.trusted_services[0]", &[("iam_role_cross_service_confused_deputy_prevention", "iam.roles.ecsTaskExecutionRole.trusted_services")]),
        ("trusted_services: [ecs-tasks.amazonaws.com]", "trusted_services: ['*.amazonaws.com']", "trust-wildcard", "iam.roles.ecsTaskExecutionRole.trusted_services[0]", &[("iam_role_cross_service_confused_deputy_prevention", "iam.roles.ecsTaskExecutionRole.trusted_services")]),
        ("trusted_services: [ec2.amazonaws.com]", "trusted_services: [ec2.amazonaws.com, 'ecs*.amazonaws.com']", "trust-wildcard", "iam.roles.ecsInstanceRole.trusted_services[1]", &[("iam_role_cross_service_confused_deputy_prevention", "iam.roles.ecsInstanceRole.trusted_services")]),
        (
            "  rules:\n    - {",
            "  rules:\n    - { priority: 5, host: admin.containrlab.click, target_group: containrlab-runner-tg }\n    - {",
            "internal-target-public",
            "load_balancer.rules[0].target_group",
            &[],
        ),
        (
            "target_group: containrlab-api-tg }",
            "target_group: containrlab-api-tg }\n    - { priority: 15, host: docker.containrlab.click, target_group: containrlab-runner-tg }",
            "internal-target-public",
            "load_balancer.rules[1].target_group",
            &[],
        ),
        (
            "target_group: containrlab-web-tg }",
            "target_group: containrlab-web-tg }\n    - { priority: 30, host: runner.containrlab.click, target_group: containrlab-runner-tg }",
            "internal-target-public",
            "load_balancer.rules[2].target_group",
            &[],
        ),
    ];
    for (from, to, risk, at, also) in cases {
        let text = variant(from, to);
        let errors = errors_of(&text);
        assert_one(&errors, &format!("{at}: "));
        assert_one(
            &errors,
            &format!("[{risk}]; change it, or accept it: `allow: [{{ risk: {risk}, at: \"{at}\", reason: \"…\" }}]`"),
        );
        let mut allowed = format!("{text}  - {{ risk: {risk}, at: \"{at}\", reason: a test accepts it }}\n");
        for (control, at) in also {
            allowed.push_str(&format!("  - {{ risk: {control}, at: \"{at}\", reason: a test accepts it }}\n"));
        }
        let accepted = accepted_of(&allowed);
        assert!(accepted.iter().any(|a| a.starts_with(&format!("{risk} at {at}: "))), "{to}: {accepted:?}");
    }
    // Named resources and read-only actions escalate nothing; a target group not marked internal
    // may be routed to.
    assert_eq!(
        errors_of(&variant("- actions: [ecr:GetAuthorizationToken]", "- actions: ['iam:Get*']")),
        Vec::<String>::new()
    );
    let unmarked = variant("      internal: true", "      internal: false");
    let routed = unmarked.replacen(
        "target_group: containrlab-web-tg }",
        "target_group: containrlab-web-tg }\n    - { priority: 30, host: runner.containrlab.click, target_group: containrlab-runner-tg }",
        1,
    );
    assert_eq!(errors_of(&routed), Vec::<String>::new());
}

/// What IAM would refuse at `up`: not a principal, or a GitHub trust that names no ref.
#[test]
fn a_trust_iam_would_refuse_is_an_error() {
    let not_a_principal =
        errors_of(&variant("trusted_services: [ecs-tasks.amazonaws.com]", "trusted_services: [ecs-tasks]"));
    assert_one(&not_a_principal, "iam.roles.ecsTaskExecutionRole.trusted_services[0]: `ecs-tasks` is not a service principal: expected NAME.amazonaws.com");
    let no_ref = errors_of(&variant("refs: [refs/heads/main]", "refs: []"));
    assert_one(
        &no_ref,
        "iam.roles.github-actions-deploy.trusted_github.refs: names no ref: the trust would hold `StringLike sub: []`",
    );
    let typo = errors_of(&variant(
        "trusted_services: [vpc-flow-logs.amazonaws.com]",
        "trusted_services: [vpc-flow-logs.amazon.com]",
    ));
    assert_one(&typo, "`vpc-flow-logs.amazon.com` is not a service principal");
}

/// A Security Hub control the stack fails stops every command but `check` until `allow:` accepts
/// it, as a risk does; `check` reports it as FAIL.
#[test]
fn a_failing_control_is_refused_until_accepted() {
    let cases = [
        ("redirect_to_https: true", "redirect_to_https: false", "ELB.1", "load_balancer.http_listener"),
        (
            "drop_invalid_header_fields: true",
            "drop_invalid_header_fields: false",
            "ELB.4",
            "load_balancer.drop_invalid_header_fields",
        ),
        (
            "container_insights: true   # the runner's task",
            "container_insights: false   # the runner's task",
            "ECS.12",
            "ecs.clusters.containrlab-runner-ec2.container_insights",
        ),
    ];
    for (from, to, control, at) in cases {
        let text = variant(from, to);
        let errors = errors_of(&text);
        assert_one(&errors, &format!("{at}: fails Security Hub control {control} ("));
        assert_one(
            &errors,
            &format!(
                "[{control}]; change it, or accept it: `allow: [{{ risk: {control}, at: \"{at}\", reason: \"…\" }}]`"
            ),
        );
        let reported = load_str_with(&repo_stack_path(), &text, FailingControls::Reported).expect("check reports it");
        assert!(reported.security.iter().any(|f| f.control.id == control && f.status == super::security::Status::Fail));
        let allowed = format!("{text}  - {{ risk: {control}, at: \"{at}\", reason: a test accepts it }}\n");
        let stack = load_str(&repo_stack_path(), &allowed).expect("accepted");
        let accepted = stack.security.iter().find(|f| f.control.id == control && f.at == at).expect("its finding");
        assert_eq!(accepted.status, super::security::Status::Accepted("a test accepts it".into()));
    }
}

/// A task definition ECS would refuse (or the conversion to its request would drop a member of),
/// located in its file.
#[test]
fn a_task_definition_off_the_register_task_definition_shape_is_refused() {
    use super::tests::{task_json, with_task_definition};
    let cases = [
        (
            task_json("\"cpu\": \"512\"", "\"cpu\": { \"units\": 512 }"),
            "containrlab-task.json:6:3: cpu: expected a string or an integer, e.g. \"512\", found an object",
        ),
        (
            task_json("\"networkMode\": \"awsvpc\"", "\"networkMode\": \"awsvpcx\""),
            "containrlab-task.json:3:3: networkMode: `awsvpcx` is not one of awsvpc, bridge, host, none",
        ),
        (
            task_json("\"memory\": \"1024\"", "\"memory\": \"512\""),
            "memory: 512 MiB does not go with 512 CPU units on Fargate: 1024, 2048, 3072, 4096",
        ),
        (
            task_json("\"essential\": true,", "\"essential\": \"yes\","),
            "containerDefinitions[0].essential: expected true or false, found a string",
        ),
    ];
    for (json, expected) in cases {
        assert_one(&with_task_definition(Some(&json)), expected);
    }
}

/// `exec: true`: refused until `allow:` accepts `ecs-exec`; then the service's task role gets ECS
/// Exec's permissions; a task definition without a task role of the stack is refused.
#[test]
fn ecs_exec_is_an_accepted_risk_that_gives_the_task_role_the_agents_permissions() {
    let on = variant("      assign_public_ip: false\n", "      assign_public_ip: false\n      exec: true\n");
    assert_one(
        &errors_of(&on),
        "ecs.services.containrlab-service.exec: lets whoever may call ecs:ExecuteCommand run commands in its containers, as their user [ecs-exec]",
    );
    let allowed = format!(
        "{on}  - risk: ecs-exec\n    at: ecs.services.containrlab-service.exec\n    reason: debugging the API in production\n"
    );
    let stack = load_str(&repo_stack_path(), &allowed).expect("accepted");
    assert!(
        stack.accepted.iter().any(|a| a.starts_with("ecs-exec at ecs.services.containrlab-service.exec")),
        "{:?}",
        stack.accepted
    );
    let desired = crate::config::resolve::resolve(&stack, &|_| None);
    let role = desired.iam.as_ref().and_then(|i| i.roles.iter().find(|r| r.name == "ecsTaskRole")).expect("task role");
    let policy = &role.inline_policies[crate::model::compute::EXEC_POLICY];
    assert_eq!(policy["Statement"][0]["Action"][0], "ssmmessages:CreateControlChannel");
    assert!(desired.services.iter().any(|s| s.name == "containrlab-service" && s.exec));

    let roleless = super::tests::task_json("  \"taskRoleArn\": \"${role:ecsTaskRole}\",\n", "");
    assert_one(
        &super::tests::stack_with_task_definition(&allowed, Some(&roleless)),
        "ecs.services.containrlab-service.exec: ECS Exec's agent runs with the task role: the task definition needs \"taskRoleArn\": \"${role:NAME}\" (a role of iam.roles, which then gets the exec permissions)",
    );
}
