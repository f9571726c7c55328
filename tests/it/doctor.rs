//! `doctor` on the emulator: an empty account fails on the images (no repositories yet) and says
//! the zone will be created; an unset secret fails only while its parameter is missing; after the
//! repositories exist and the images are pushed — one for the wrong architecture, then fixed — every
//! check passes and delegation is left to check by hand with the zone's name servers. Read-only.

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
    assert!(
        run.stdout.contains("how: `dig +short NS containrlab.click` must list exactly these name servers"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(" failed, 1 to check by hand.\n"), "{}", run.stdout);
    let json = env.run(&["--json", "--image-tag", "v1", "doctor"]).json();
    assert_eq!(json["passed"], true);
    assert_eq!(status_of(&json, "image containrlab-runnerd:v1"), "pass");
}
