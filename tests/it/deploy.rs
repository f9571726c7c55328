//! `deploy` against moto: images pushed to moto's ECR as multi-platform indexes (what `docker
//! buildx` pushes), the tag resolved to its digest and pinned, a revision registered only when
//! it differs, rollback. A single-platform image's architecture lives in its config blob, read
//! through GetDownloadUrlForLayer, which moto does not implement: that path is tested with
//! canned responses in `src/deploy/images.rs`.

use std::collections::BTreeSet;

use aws_sdk_ecr::Client as Ecr;
use aws_sdk_ecs::Client as Ecs;
use serde_json::json;

use crate::support::Env;

const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Pushes `repository:tag` as an index for `architectures` (plus an attestation entry, as
/// buildx adds); `nonce` makes the digest differ between pushes. Returns the digest.
pub fn push(env: &Env, ecr: &Ecr, repository: &str, tag: &str, architectures: &[&str], nonce: &str) -> String {
    let mut manifests: Vec<serde_json::Value> = architectures
        .iter()
        .map(|a| {
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1000,
                   "digest": format!("sha256:{}", "0".repeat(64)),
                   "platform": {"architecture": a, "os": "linux"},
                   "annotations": {"test": format!("{repository}/{a}/{nonce}")}})
        })
        .collect();
    manifests.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 500,
        "digest": format!("sha256:{}", "1".repeat(64)), "platform": {"architecture": "unknown", "os": "unknown"}}));
    let manifest = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests}).to_string();
    let out = env
        .block_on(
            ecr.put_image()
                .repository_name(repository)
                .image_tag(tag)
                .image_manifest(manifest)
                .image_manifest_media_type(INDEX)
                .send(),
        )
        .expect("put image");
    out.image().and_then(|i| i.image_id()).and_then(|i| i.image_digest()).expect("digest").to_string()
}

/// Pushes every repository of the stack for `tag`, each for its architecture.
pub fn push_all(env: &Env, ecr: &Ecr, tag: &str, nonce: &str) -> Vec<String> {
    [
        ("containrlab-api", "arm64"),
        ("containrlab-web", "arm64"),
        ("containrlab-runnerd", "amd64"),
        ("containrlab-runner", "amd64"),
    ]
    .iter()
    .map(|(repo, arch)| push(env, ecr, repo, tag, &[arch], nonce))
    .collect()
}

/// The images the service runs now.
pub fn running_images(env: &Env, ecs: &Ecs, cluster: &str, service: &str) -> BTreeSet<String> {
    let s = env.block_on(ecs.describe_services().cluster(cluster).services(service).send()).expect("describe");
    let arn = s.services()[0].task_definition().expect("task definition").to_string();
    let td = env.block_on(ecs.describe_task_definition().task_definition(&arn).send()).expect("describe td");
    td.task_definition()
        .expect("td")
        .container_definitions()
        .iter()
        .filter_map(|c| c.image().map(str::to_string))
        .collect()
}

fn only_ecr_ecs_sts(calls: &std::collections::BTreeMap<String, u64>) {
    let other: Vec<&String> =
        calls.keys().filter(|k| !(k.starts_with("ECR:") || k.starts_with("ECS:") || k.starts_with("STS:"))).collect();
    assert!(other.is_empty(), "deploy reads only ECR, ECS and STS; it also called {other:?}");
}

#[test]
fn deploy_pins_digests_registers_once_and_rolls_back() {
    let env = Env::new();
    let sdk = env.sdk();
    let (ecr, ecs) = (Ecr::new(&sdk), Ecs::new(&sdk));
    env.run(&["up", "--yes"]).expect_code(0);
    let digests = push_all(&env, &ecr, "v2", "one");

    // A dry run shows the registrations and changes nothing.
    let dry = env.run(&["--json", "--image-tag", "v2", "deploy", "--dry-run"]);
    dry.expect_code(0);
    assert!(dry.mutating_calls().is_empty(), "{:?}", dry.mutating_calls());
    assert_eq!(dry.json()["applied"], false);
    assert_eq!(dry.json()["deploy"][0]["action"], "register");

    let first = env.run(&["--json", "--image-tag", "v2", "deploy"]);
    first.expect_code(0);
    only_ecr_ecs_sts(&first.calls);
    assert_eq!(
        first.mutating_calls(),
        [("ECS:RegisterTaskDefinition".to_string(), 2), ("ECS:UpdateService".to_string(), 2)].into(),
        "{}",
        first.stderr
    );
    // The changes ran through `up`'s runner: its progress lines, one per step.
    for step in ["~ task_definition.containrlab-task: updated", "~ ecs_service.containrlab-service: updated"] {
        assert!(first.stderr.contains(step), "no `{step}` in {}", first.stderr);
    }
    let doc = first.json();
    assert_eq!(doc["converged"], true);
    let actions: Vec<&str> = doc["deploy"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["register", "register"]);
    let registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    let app = running_images(&env, &ecs, "containrlab-cluster", "containrlab-service");
    let expected: BTreeSet<String> =
        [format!("{registry}/containrlab-api@{}", digests[0]), format!("{registry}/containrlab-web@{}", digests[1])]
            .into();
    assert_eq!(app, expected, "the task definition pins the digests");
    let runner = running_images(&env, &ecs, "containrlab-runner-ec2", "containrlab-runner-service");
    assert!(runner.contains(&format!("{registry}/containrlab-runnerd@{}", digests[2])), "{runner:?}");

    // The same tag again: nothing to do, no mutating call.
    let second = env.run(&["--json", "--image-tag", "v2", "deploy"]);
    second.expect_code(0);
    assert!(second.mutating_calls().is_empty(), "{:?}", second.mutating_calls());
    // `up` without --image-tag keeps what deploy pinned.
    env.run(&["diff", "--exit-code"]).expect_code(0);

    // The tag is re-pushed: what runs does not change until the next deploy, which pins the new digest.
    let repushed = push(&env, &ecr, "containrlab-api", "v2", &["arm64"], "two");
    assert_eq!(running_images(&env, &ecs, "containrlab-cluster", "containrlab-service"), expected);
    env.run(&["--image-tag", "v2", "deploy", "--service", "containrlab-service"]).expect_code(0);
    let now = running_images(&env, &ecs, "containrlab-cluster", "containrlab-service");
    assert!(now.contains(&format!("{registry}/containrlab-api@{repushed}")), "{now:?}");

    // Rollback: back to the revision before, and waited on.
    let back = env.run(&["--json", "deploy", "--rollback", "--service", "containrlab-service"]);
    back.expect_code(0);
    let r = &back.json()["deploy"][0];
    assert_eq!((r["from"].as_str(), r["to"].as_str()), (Some("containrlab-task:3"), Some("containrlab-task:2")));
    assert_eq!(running_images(&env, &ecs, "containrlab-cluster", "containrlab-service"), expected);
    let pinned = env.run(&["--json", "deploy", "--to-revision", "1", "--service", "containrlab-service"]);
    pinned.expect_code(0);
    assert_eq!(pinned.json()["results"][0]["to"], "containrlab-task:1");
    // --to-revision names one family: two services are refused before any change.
    let both = env.run(&["deploy", "--to-revision", "1"]);
    both.expect_code(1);
    assert!(both.stderr.contains("select exactly one service"), "{}", both.stderr);
    assert!(both.mutating_calls().is_empty());
}

#[test]
fn a_wrong_architecture_or_a_missing_tag_fails_before_any_change() {
    let env = Env::new();
    let sdk = env.sdk();
    let ecr = Ecr::new(&sdk);
    env.run(&["up", "--yes"]).expect_code(0);
    // The seed's failure: an AMD64 image for the ARM64 Fargate service.
    push(&env, &ecr, "containrlab-api", "v3", &["amd64"], "x");
    push(&env, &ecr, "containrlab-web", "v3", &["amd64", "arm64"], "x");
    push(&env, &ecr, "containrlab-runnerd", "v3", &["amd64"], "x");
    let wrong = env.run(&["--image-tag", "v3", "deploy"]);
    wrong.expect_code(1);
    assert!(
        wrong.stderr.contains("image containrlab-api:v3 is built for amd64, but the task definition runs on arm64"),
        "{}",
        wrong.stderr
    );
    assert!(!wrong.stderr.contains("containrlab-web:v3 is built"), "a multi-platform image with arm64 fits");
    assert!(wrong.mutating_calls().is_empty(), "{:?}", wrong.mutating_calls());

    let missing = env.run(&["--image-tag", "v4", "deploy", "--service", "containrlab-runner-service"]);
    missing.expect_code(1);
    assert!(missing.stderr.contains("image containrlab-runnerd:v4 is not in ECR"), "{}", missing.stderr);
    assert!(missing.mutating_calls().is_empty());
    let unknown = env.run(&["--image-tag", "v3", "deploy", "--service", "nope"]);
    unknown.expect_code(1);
    assert!(unknown.stderr.contains("unknown service(s) nope"), "{}", unknown.stderr);
    let untagged = env.run(&["deploy"]);
    untagged.expect_code(1);
    assert!(untagged.stderr.contains("deploy needs --image-tag"), "{}", untagged.stderr);
    assert_eq!(untagged.total_calls(), 0);
}

/// `up --image-tag` pins digests as `deploy` does: the two agree (neither undoes the other), a
/// tag ECR lacks stops the plan before any change, and a repository created by the same run (a
/// rebuild from empty) keeps the tag, with a warning.
#[test]
fn up_with_an_image_tag_pins_the_digests_deploy_would() {
    let env = Env::new();
    let sdk = env.sdk();
    let (ecr, ecs) = (Ecr::new(&sdk), Ecs::new(&sdk));
    // From empty: the repositories do not exist yet, so the definitions name the tag.
    let first = env.run(&["--image-tag", "v1", "up", "--yes"]);
    first.expect_code(0);
    assert!(
        first.stdout.contains("names containrlab-api:v1 by its tag: the repository does not exist yet"),
        "{}",
        first.stdout
    );
    let registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    let app = running_images(&env, &ecs, "containrlab-cluster", "containrlab-service");
    assert!(app.contains(&format!("{registry}/containrlab-api:v1")), "{app:?}");

    let digests = push_all(&env, &ecr, "v2", "one");
    let up = env.run(&["--image-tag", "v2", "up", "--yes"]);
    up.expect_code(0);
    let expected: BTreeSet<String> =
        [format!("{registry}/containrlab-api@{}", digests[0]), format!("{registry}/containrlab-web@{}", digests[1])]
            .into();
    assert_eq!(running_images(&env, &ecs, "containrlab-cluster", "containrlab-service"), expected);
    let runner = running_images(&env, &ecs, "containrlab-runner-ec2", "containrlab-runner-service");
    assert!(runner.contains(&format!("{registry}/containrlab-runnerd@{}", digests[2])), "{runner:?}");
    // Read once by the plan and reused by the verification: one BatchGetImage per repository.
    assert_eq!(up.calls.get("ECR:BatchGetImage"), Some(&3), "{:?}", up.calls);

    // deploy of the same tag, up of it again, a plan without a tag: nothing to do.
    let deploy = env.run(&["--image-tag", "v2", "deploy"]);
    deploy.expect_code(0);
    assert!(deploy.mutating_calls().is_empty(), "{:?}", deploy.mutating_calls());
    let again = env.run(&["--image-tag", "v2", "up", "--yes"]);
    again.expect_code(0);
    assert!(again.mutating_calls().is_empty(), "{:?}", again.mutating_calls());
    env.run(&["diff", "--exit-code"]).expect_code(0);

    // A tag ECR does not have: the plan stops, naming each image, before any change.
    push(&env, &ecr, "containrlab-api", "v3", &["arm64"], "x");
    let missing = env.run(&["--image-tag", "v3", "up", "--yes"]);
    missing.expect_code(1);
    assert!(missing.stderr.contains("image problem(s); nothing was changed"), "{}", missing.stderr);
    assert!(missing.stderr.contains("image containrlab-web:v3 is not in ECR"), "{}", missing.stderr);
    assert!(missing.stderr.contains("image containrlab-runnerd:v3 is not in ECR"), "{}", missing.stderr);
    assert!(!missing.stderr.contains("containrlab-api:v3 is not"), "{}", missing.stderr);
    assert!(missing.mutating_calls().is_empty(), "{:?}", missing.mutating_calls());
    assert_eq!(running_images(&env, &ecs, "containrlab-cluster", "containrlab-service"), expected);
}

/// A registration whose answer is lost (the fault proxy: moto cannot lose an answer) fails that
/// service's move and says so; the next deploy finds the revision the lost call registered and
/// moves the service to it without registering again.
#[test]
fn a_lost_registration_is_not_registered_twice_by_the_next_deploy() {
    use crate::fault::{Fault, Proxy, Rule};
    let env = Env::new();
    let sdk = env.sdk();
    let (ecr, ecs) = (Ecr::new(&sdk), Ecs::new(&sdk));
    env.run(&["up", "--yes"]).expect_code(0);
    push_all(&env, &ecr, "v2", "lost");

    let proxy = Proxy::start(&env.moto.endpoint, vec![Rule::first("RegisterTaskDefinition", Fault::DropAfterCommit)]);
    let lost = env.run_with(&proxy.endpoint, &[], &["--json", "--image-tag", "v2", "deploy"]);
    lost.expect_code(1);
    assert_eq!(proxy.hits().len(), 1, "the fault was applied once");
    let doc = lost.json();
    assert_eq!(doc["converged"], false);
    let failed: Vec<&str> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["error"].is_string())
        .map(|r| r["service"].as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 1, "one service's registration was lost: {}", lost.stderr);
    assert!(lost.stderr.contains("did not end stable on their revision"), "{}", lost.stderr);

    let again = env.run(&["--json", "--image-tag", "v2", "deploy"]);
    again.expect_code(0);
    assert_eq!(again.mutating_calls(), [("ECS:UpdateService".to_string(), 1)].into(), "{}", again.stderr);
    let doc = again.json();
    let actions: Vec<&str> = doc["deploy"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"switch") && actions.contains(&"none"), "{actions:?}");
    for family in ["containrlab-task", "containrlab-runner"] {
        let listed = env.block_on(ecs.list_task_definitions().family_prefix(family).send()).expect("list");
        assert_eq!(listed.task_definition_arns().len(), 2, "{family}: up's revision and v2's, once each");
    }
}
