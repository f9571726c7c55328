//! The stack's CI identity, `github-actions-deploy`, with IAM enforced by moto
//! (`POST /moto-api/reset-auth`): `deploy` succeeds with its permissions, `up` fails before any
//! change naming the missing permission and the identity.
//!
//! moto's gaps, and how they are covered instead:
//! - moto evaluates every ECS/ECR request against the resource `*` (moto/core/responses.py,
//!   `call_action`), so a statement scoped to ARNs never matches, and it treats an unmet
//!   condition as an explicit deny. The test identity therefore gets the role's own policy (read
//!   back from IAM after `up`) with resources widened to `*` and conditions dropped: moto then
//!   enforces the role's *actions*. The *resources* are checked by evaluating the role's
//!   statements against the ARNs `deploy` touches (`the_deploy_policy_is_scoped_to_this_stack`).
//! - sts:GetCallerIdentity needs no permission on AWS; moto requires one, so the test adds it.
//! - The test user stands in for the role's OIDC session (moto has no GitHub OIDC provider).

use std::io::{Read, Write};

use aws_sdk_ecr::Client as Ecr;
use aws_sdk_iam::Client as Iam;
use serde_json::{json, Value};

use crate::deploy::push_all;
use crate::support::Env;

const ROLE: &str = "github-actions-deploy";
const POLICY: &str = "push-images-and-deploy";

/// The deploy role's inline policy as IAM holds it after `up`.
fn role_policy(env: &Env, iam: &Iam) -> Value {
    let out = env.block_on(iam.get_role_policy().role_name(ROLE).policy_name(POLICY).send()).expect("role policy");
    let text = percent_encoding::percent_decode_str(out.policy_document()).decode_utf8().expect("utf-8").to_string();
    serde_json::from_str(&text).expect("policy JSON")
}

pub(crate) fn statements(policy: &Value) -> Vec<Value> {
    match &policy["Statement"] {
        Value::Array(list) => list.clone(),
        single => vec![single.clone()],
    }
}

pub(crate) fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(list) => list.iter().filter_map(|s| s.as_str().map(str::to_string)).collect(),
        Value::String(s) => vec![s.clone()],
        _ => vec![],
    }
}

/// IAM's wildcard match (`*` any run, `?` one character), case-sensitive as for ARNs.
pub(crate) fn matches(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    fn go(p: &[char], v: &[char]) -> bool {
        match (p.first(), v.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], v) || (!v.is_empty() && go(p, &v[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &v[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &v[1..]),
            _ => false,
        }
    }
    go(&p, &v)
}

/// Whether an Allow statement of `policy` grants `action` on `resource` (conditions aside).
fn allows(policy: &Value, action: &str, resource: &str) -> bool {
    statements(policy).iter().any(|s| {
        s["Effect"] == "Allow"
            && strings(&s["Action"]).iter().any(|a| matches(&a.to_lowercase(), &action.to_lowercase()))
            && strings(&s["Resource"]).iter().any(|r| matches(r, resource))
    })
}

/// POST to moto's control API (plain HTTP on loopback).
pub(crate) fn moto_api(endpoint: &str, path: &str, body: &str) {
    let host = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).expect("connect to moto");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"), "{answer}");
}

/// A user with `policy`, and its access key `(id, secret)`.
pub(crate) fn user_with(env: &Env, iam: &Iam, name: &str, policy: &Value) -> (String, String) {
    env.block_on(iam.create_user().user_name(name).send()).expect("create user");
    env.block_on(iam.put_user_policy().user_name(name).policy_name("p").policy_document(policy.to_string()).send())
        .expect("user policy");
    let key = env.block_on(iam.create_access_key().user_name(name).send()).expect("access key");
    let key = key.access_key().expect("key");
    (key.access_key_id().to_string(), key.secret_access_key().to_string())
}

#[test]
fn deploy_runs_with_the_deploy_roles_permissions_and_up_does_not() {
    let env = Env::new();
    let sdk = env.sdk();
    let (iam, ecr) = (Iam::new(&sdk), Ecr::new(&sdk));
    env.run(&["up", "--yes"]).expect_code(0);
    push_all(&env, &ecr, "v2", "ci");

    let role = role_policy(&env, &iam);
    let mut widened: Vec<Value> = statements(&role)
        .into_iter()
        .map(|s| json!({"Effect": s["Effect"], "Action": s["Action"], "Resource": "*"}))
        .collect();
    widened.push(json!({"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}));
    let (id, secret) = user_with(&env, &iam, "ci-deploy", &json!({"Version": "2012-10-17", "Statement": widened}));
    moto_api(&env.moto.endpoint, "/moto-api/reset-auth", "0");

    let as_ci = [("AWS_ACCESS_KEY_ID", id.as_str()), ("AWS_SECRET_ACCESS_KEY", secret.as_str())];
    let deployed = env.run_with(&env.moto.endpoint, &as_ci, &["--json", "--image-tag", "v2", "deploy"]);
    deployed.expect_code(0);
    assert_eq!(deployed.json()["converged"], true);
    assert_eq!(deployed.json()["changed"], 2, "both services rolled to v2");
    // Every action deploy made is one the role grants (a new call in deploy fails here first).
    for call in deployed.calls.keys() {
        let (service, op) = call.split_once(':').expect("service:op");
        let action = format!("{}:{op}", service.to_lowercase());
        if action == "sts:GetCallerIdentity" {
            continue;
        }
        let granted =
            statements(&role).iter().any(|s| strings(&s["Action"]).iter().any(|a| a.eq_ignore_ascii_case(&action)));
        assert!(granted, "deploy called {action}, which the deploy role does not grant");
    }

    // A migration before the deploy: `run` with the same identity (moto's task ends with 0).
    let migrated = env.run_with(&env.moto.endpoint, &as_ci, &["run", "containrlab-service", "--", "./migrate"]);
    migrated.expect_code(0);
    for call in migrated.calls.keys() {
        let (service, op) = call.split_once(':').expect("service:op");
        let action =
            format!("{}:{op}", if service == "CloudWatch Logs" { "logs".to_string() } else { service.to_lowercase() });
        if action == "sts:GetCallerIdentity" {
            continue;
        }
        let granted =
            statements(&role).iter().any(|s| strings(&s["Action"]).iter().any(|a| a.eq_ignore_ascii_case(&action)));
        assert!(granted, "run called {action}, which the deploy role does not grant");
    }

    let up = env.run_with(&env.moto.endpoint, &as_ci, &["up", "--yes"]);
    up.expect_code(1);
    assert!(up.stderr.contains("not permitted: "), "{}", up.stderr);
    assert!(up.stderr.contains("user/ci-deploy"), "the identity is named: {}", up.stderr);
    assert!(up.mutating_calls().is_empty(), "up changed something: {:?}", up.mutating_calls());
}

/// The role's statements, evaluated against the ARNs `deploy` touches and ARNs it must not.
#[test]
fn the_deploy_policy_is_scoped_to_this_stack() {
    let env = Env::new();
    let iam = Iam::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    let role = role_policy(&env, &iam);
    let arn = |s: &str| format!("arn:aws:ecs:us-east-1:123456789012:{s}");
    let repo = |r: &str| format!("arn:aws:ecr:us-east-1:123456789012:repository/{r}");
    for (action, resource) in [
        ("ecs:UpdateService", arn("service/containrlab-cluster/containrlab-service")),
        ("ecs:DescribeServices", arn("service/containrlab-runner-ec2/containrlab-runner-service")),
        ("ecs:TagResource", arn("task-definition/containrlab-task:7")),
        ("ecr:BatchGetImage", repo("containrlab-api")),
        ("ecr:PutImage", repo("containrlab-runnerd")),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/containrlab/ecsTaskRole".to_string()),
        ("ecs:RunTask", arn("task-definition/containrlab-task:12")),
        (
            "logs:GetLogEvents",
            "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/containrlab-api:log-stream:api/api/0f1e".to_string(),
        ),
    ] {
        assert!(allows(&role, action, &resource), "{action} on {resource} must be allowed");
    }
    for (action, resource) in [
        ("ecs:UpdateService", arn("service/containrlab-cluster/someone-elses-service")),
        ("ecs:UpdateService", arn("service/other-cluster/containrlab-service")),
        ("ecs:TagResource", arn("task-definition/other-family:1")),
        ("ecr:PutImage", repo("containrlab-api-copy")),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/containrlab/github-actions-deploy".to_string()),
        ("ecs:DeleteService", arn("service/containrlab-cluster/containrlab-service")),
        ("ecs:RunTask", arn("task-definition/other-family:1")),
        ("ecs:StopTask", arn("task/containrlab-cluster/0f1e")),
        (
            "logs:GetLogEvents",
            "arn:aws:logs:us-east-1:123456789012:log-group:/vpc/containrlab-flow-logs:log-stream:x".to_string(),
        ),
    ] {
        assert!(!allows(&role, action, &resource), "{action} on {resource} must not be allowed");
    }
    // `*` only for actions without a resource type.
    for s in statements(&role) {
        if strings(&s["Resource"]).contains(&"*".to_string()) {
            let actions = strings(&s["Action"]);
            let unscoped = [
                "ecr:GetAuthorizationToken",
                "ecs:RegisterTaskDefinition",
                "ecs:DescribeTaskDefinition",
                "ecs:ListTaskDefinitions",
                "ecs:ListTasks",
            ];
            assert!(actions.iter().all(|a| unscoped.contains(&a.as_str())), "`*` resource for {actions:?}");
        }
        if strings(&s["Action"]).contains(&"iam:PassRole".to_string()) {
            assert_eq!(s["Condition"]["StringEquals"]["iam:PassedToService"], json!(["ecs-tasks.amazonaws.com"]));
        }
    }
}
