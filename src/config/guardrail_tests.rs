//! The guardrails: what AWS would refuse part-way through `up` (`limits`), and what it accepts but
//! weakens the stack (`risks`), each rejected with its message; an `allow:` entry accepts a risk by
//! id and key path and shows on the plan. The cases start from the checked-in `stack.yaml`.

use super::tests::{assert_one, checked_in, errors_of, repo_stack_path, variant};
use super::*;

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
        let allowed = format!("{text}  - {{ risk: {risk}, at: \"{at}\", reason: a test accepts it }}\n");
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
