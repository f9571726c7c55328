//! `doctor` on the emulator: an empty account fails on the images (no repositories yet) and says
//! the zone will be created; an unset secret fails only while its parameter is missing; after the
//! repositories exist and the images are pushed — one for the wrong architecture, then fixed — every
//! check passes and delegation, which nothing here can tell (no DNS answers in the sandbox), is
//! left to check by hand with the zone's name servers. Read-only.
//! The quotas: moto serves `GetServiceQuota` for the `vpc` codes only (VPCs, NAT gateways per zone)
//! and not `GetAWSDefaultServiceQuota`, so the Elastic IP and load balancer quotas end `?` here —
//! their reading is tested with canned answers in `src/doctor/quotas.rs`.

use aws_sdk_ecr::Client as Ecr;

use crate::deploy::{push, push_all};
use crate::support::Env;

fn status_of<'a>(json: &'a serde_json::Value, check: &str) -> &'a str {
    json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == check)
        .and_then(|c| c["status"].as_str())
        .unwrap_or_else(|| panic!("no check {check} in {json}"))
}

#[test]
fn doctor_names_what_blocks_a_first_up_and_passes_once_it_is_fixed() {
    let env = Env::new();
    let run = env.run(&["doctor"]);
    run.expect_code(1);
    assert!(run.mutating_calls().is_empty(), "{:?}", run.mutating_calls());
    for line in [
        "✓ credentials",
        "✓ zone us-east-1a",
        "✓ secret /containrlab/GEMINI_API_KEY",
        "✓ AMI /aws/service/ecs/optimized-ami/",
        "✗ image containrlab-api:latest",
        "fix: push it (`containrlab up --target ecr_repository.*` first creates the repositories",
        "✓ hosted zone containrlab.click",
        "absent; `up` creates it (create_zone: true)",
        "✓ certificate name api.containrlab.click",
        "✓ quota VPCs per Region                     1 in use, the plan adds 1: 2 of 5 (applied)",
        "✓ quota NAT gateways per Availability Zone (us-east-1a)  0 in use, the plan adds 1: 1 of 5 (applied)",
        "? quota EC2-VPC Elastic IPs                 0 in use, the plan adds 1; the quota could not be read",
    ] {
        assert!(run.stdout.contains(line), "{line}\n{}", run.stdout);
    }
    assert!(run.stdout.contains("Fix the ✗ lines before `up`."), "{}", run.stdout);
    insta::assert_snapshot!("doctor_human", run.stdout);

    // An unset secret is a failure while its parameter is missing …
    let unset = env.run_without(&["CONTAINRLAB_GEMINI_API_KEY"], &env.moto.endpoint, &[], &["--json", "doctor"]).json();
    assert_eq!(status_of(&unset, "secret /containrlab/GEMINI_API_KEY"), "fail");

    env.run(&["up", "--yes", "--target", "ecr_repository.*", "--target", "ssm_parameter.*"]).expect_code(0);
    // … and fine once it exists: `up` keeps its value.
    let unset = env.run_without(&["CONTAINRLAB_GEMINI_API_KEY"], &env.moto.endpoint, &[], &["--json", "doctor"]).json();
    assert_eq!(status_of(&unset, "secret /containrlab/GEMINI_API_KEY"), "pass");

    let ecr = Ecr::new(&env.sdk());
    push_all(&env, &ecr, "v1", "doctor");
    push(&env, &ecr, "containrlab-api", "v1", &["amd64"], "wrong-architecture");
    let wrong = env.run(&["--image-tag", "v1", "doctor"]);
    wrong.expect_code(1);
    assert!(wrong.stdout.contains("built for amd64, but containrlab-service runs on arm64"), "{}", wrong.stdout);
    assert!(wrong.stdout.contains("fix: rebuild and push it with --platform linux/arm64"), "{}", wrong.stdout);

    push(&env, &ecr, "containrlab-api", "v1", &["arm64"], "fixed");
    env.run(&["up", "--yes", "--target", "hosted_zone.containrlab.click"]).expect_code(0);
    let run = env.run(&["--image-tag", "v1", "doctor"]);
    run.expect_code(0);
    assert!(run.stdout.contains("? delegation of containrlab.click"), "{}", run.stdout);
    // No DNS answers from the sandbox: delegation is said to be unchecked, with how to check it.
    assert!(
        run.stdout.contains("? delegation of containrlab.click           could not be checked ("),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("how: `dig +short NS containrlab.click` must list exactly ns-2048.awsdns-64.com, "),
        "{}",
        run.stdout
    );
    // Delegation, and the two quotas moto cannot serve (above).
    assert!(run.stdout.contains(" failed, 3 to check by hand.\n"), "{}", run.stdout);
    let json = env.run(&["--json", "--image-tag", "v1", "doctor"]).json();
    assert_eq!(json["passed"], true);
    assert_eq!(status_of(&json, "image containrlab-runnerd:v1"), "pass");
}

/// A first `up` that would pass the account's VPC quota is named before anything is created, with
/// the increase to ask for.
#[test]
fn doctor_fails_when_the_plan_needs_more_vpcs_than_the_quota() {
    let env = Env::new();
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk());
    // moto's default VPC and four more: the quota of 5 (moto's value for L-F678F1CE) is used up.
    for n in 0..4 {
        env.block_on(ec2.create_vpc().cidr_block(format!("172.{}.0.0/16", 20 + n)).send()).expect("vpc");
    }
    let run = env.run(&["doctor"]);
    run.expect_code(1);
    assert!(run.mutating_calls().is_empty(), "{:?}", run.mutating_calls());
    assert!(
        run.stdout.contains("✗ quota VPCs per Region                     5 in use, the plan adds 1: 6 is above the quota of 5 (applied)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("fix: free 1 or ask for more: `aws service-quotas request-service-quota-increase --service-code vpc --quota-code L-F678F1CE --desired-value 6`"),
        "{}",
        run.stdout
    );
}
