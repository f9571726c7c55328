//! The two CI identities that are not in the stack file (README, "CI"): the infrastructure role
//! of `infra.yml`, whose policy is `.github/iam/infra-role-policy.json`, and the plan role of
//! `plan.yml` (AWS's managed `ReadOnlyAccess`, run with IAM enforced by moto).
//!
//! moto's gaps: it checks the tagging API and CloudWatch under their signing names
//! (`moto_names`); with IAM enforced it answers every Route 53 request with SignatureDoesNotMatch
//! (even for an identity allowed `*`), so Route 53 is served by a second, unenforced emulator
//! through the SDK's per-service endpoint (`AWS_ENDPOINT_URL_ROUTE_53`).

use aws_sdk_iam::Client as Iam;
use serde_json::{json, Value};

use crate::deploy_role::{matches, moto_api, statements, strings, user_with};
use crate::support::{Env, Moto, SECRETS};

fn infra_policy() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.github/iam/infra-role-policy.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("policy file")).expect("policy JSON")
}

/// moto checks two services under their signing names, not AWS's IAM prefixes: `tagging:` for
/// `tag:` (the tagging API) and `monitoring:` for `cloudwatch:`. These actions under moto's names.
fn moto_names(actions: &[String]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| {
            let (prefix, rest) = a.split_once(':')?;
            let moto = match prefix {
                "tag" => "tagging",
                "cloudwatch" => "monitoring",
                _ => return None,
            };
            Some(format!("{moto}:{rest}"))
        })
        .collect()
}

/// The IAM action prefix of a service as the call counts name it.
fn iam_prefix(service: &str) -> &'static str {
    match service {
        "ACM" => "acm",
        "Auto Scaling" => "autoscaling",
        "CloudWatch" => "cloudwatch",
        "CloudWatch Logs" => "logs",
        "EC2" => "ec2",
        "ECR" => "ecr",
        "ECS" => "ecs",
        "Elastic Load Balancing v2" => "elasticloadbalancing",
        "IAM" => "iam",
        "Resource Groups Tagging API" => "tag",
        "Route 53" => "route53",
        "Route 53 Domains" => "route53domains",
        "SSM" | "SSM (lock)" => "ssm",
        "SNS" => "sns",
        "STS" => "sts",
        other => panic!("a service the test does not know the IAM prefix of: {other}"),
    }
}

/// Every `service:Operation` a run called is an action an Allow statement of `policy` names.
fn assert_all_granted(calls: &[String], policy: &Value, what: &str) {
    for call in calls {
        let (service, op) = call.rsplit_once(':').expect("service:op");
        let action = format!("{}:{op}", iam_prefix(service)).to_lowercase();
        if action == "sts:getcalleridentity" {
            continue;
        }
        let granted = statements(policy).iter().any(|s| {
            s["Effect"] == "Allow" && strings(&s["Action"]).iter().any(|a| matches(&a.to_lowercase(), &action))
        });
        assert!(granted, "{what} called {action}, which the policy does not grant");
    }
}

/// The run environment: every service at `env`'s emulator but Route 53 at `route53`'s, with the
/// access key `(id, secret)`.
fn split<'a>(env: &'a Env, route53: &'a Moto, id: &'a str, secret: &'a str) -> [(&'static str, &'a str); 4] {
    [
        ("AWS_ENDPOINT_URL", env.moto.endpoint.as_str()),
        ("AWS_ENDPOINT_URL_ROUTE_53", route53.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", id),
        ("AWS_SECRET_ACCESS_KEY", secret),
    ]
}

/// The infrastructure role's policy grants every action `up` (from empty, and a repair) and
/// `down --delete-data` call. Checked by name against the calls of an unenforced run: with IAM
/// enforced, moto fails the SDK's signature of EC2 requests whose values hold spaces
/// (CreateSecurityGroup's description: AuthFailure "AWS was not able to validate the provided
/// access credentials"), so an enforced `up` cannot get past the security groups on moto.
#[test]
fn the_infrastructure_role_grants_every_call_of_up_and_down() {
    let env = Env::new();
    let policy = infra_policy();
    let mut called: Vec<String> = Vec::new();
    let up = env.run(&["up", "--yes"]);
    up.expect_code(0);
    called.extend(up.calls.keys().cloned());
    env.edit_stack("retention_days: 7", "retention_days: 14");
    env.edit_stack("desired_count: 1", "desired_count: 2");
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    called.extend(repair.calls.keys().cloned());
    let down = env.run(&["down", "--yes", "--delete-data"]);
    down.expect_code(0);
    called.extend(down.calls.keys().cloned());
    assert!(called.len() > 60, "the runs made the stack's calls: {called:?}");
    assert_all_granted(&called, &policy, "up/down");
}

/// The plan of a pull request: `ReadOnlyAccess` and no secrets in the environment (a pull request
/// gets none) are enough for `validate` and `diff`.
#[test]
fn the_plan_role_reads_the_whole_stack_with_read_only_access_and_no_secrets() {
    let (env, route53) = (Env::new(), Moto::start());
    let iam = Iam::new(&env.sdk());
    env.run_with("", &split(&env, &route53, "testing", "testing"), &["up", "--yes"]).expect_code(0);
    // ReadOnlyAccess's tagging and CloudWatch lines under moto's names (see `moto_names`).
    let read_only = ["tag:Get*", "cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*"].map(String::from);
    let extras = json!({"Effect": "Allow", "Action": moto_names(&read_only), "Resource": "*"});
    let (id, secret) = user_with(&env, &iam, "ci-plan", &json!({"Version": "2012-10-17", "Statement": [extras]}));
    env.block_on(
        iam.attach_user_policy().user_name("ci-plan").policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess").send(),
    )
    .expect("attach ReadOnlyAccess");
    moto_api(&env.moto.endpoint, "/moto-api/reset-auth", "0");

    let unset: Vec<&str> = SECRETS.iter().map(|(k, _)| *k).collect();
    let as_plan = split(&env, &route53, &id, &secret);
    let diff = env.run_without(&unset, "", &as_plan, &["diff", "--markdown", "--exit-code"]);
    assert_eq!(diff.code, 0, "{}\n{}", diff.stdout, diff.stderr);
    assert!(diff.mutating_calls().is_empty());

    env.edit_stack("retention_days: 7", "retention_days: 14");
    let changed = env.run_without(&unset, "", &as_plan, &["diff", "--markdown", "--exit-code"]);
    assert_eq!(changed.code, 2, "{}\n{}", changed.stdout, changed.stderr);
    let up = env.run_without(&unset, "", &as_plan, &["up", "--yes"]);
    up.expect_code(1);
    assert!(up.stderr.contains("not permitted: "), "read-only cannot apply: {}", up.stderr);
    assert!(up.mutating_calls().is_empty(), "{:?}", up.mutating_calls());
}
