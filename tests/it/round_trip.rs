//! The headline round trip for ECR, SSM and CloudWatch Logs: `up` on an empty account, an empty
//! `diff`, a second `up` with no mutating call, changes behind the tool's back shown exactly and
//! repaired, and `down` removing only what carries the stack's tag.

use aws_sdk_cloudwatchlogs::Client as Logs;
use aws_sdk_ecr::Client as Ecr;
use aws_sdk_ssm::types::ParameterType;
use aws_sdk_ssm::Client as Ssm;

use crate::support::{actions, Env};

const REPOS: [&str; 4] = ["containrlab-api", "containrlab-runner", "containrlab-runnerd", "containrlab-web"];
const LOG_GROUPS: [&str; 4] = [
    "/aws/elasticloadbalancing/app/containrlab-alb",
    "/ecs/containrlab-api",
    "/ecs/containrlab-runner",
    "/ecs/containrlab-web",
];

fn repo_names(env: &Env, ecr: &Ecr) -> Vec<String> {
    let out = env.block_on(ecr.describe_repositories().send()).expect("describe repositories");
    let mut names: Vec<String> =
        out.repositories().iter().filter_map(|r| r.repository_name().map(str::to_string)).collect();
    names.sort();
    names
}

fn parameter_names(env: &Env, ssm: &Ssm) -> Vec<String> {
    let out = env.block_on(ssm.describe_parameters().max_results(50).send()).expect("describe parameters");
    let mut names: Vec<String> = out.parameters().iter().filter_map(|p| p.name().map(str::to_string)).collect();
    names.sort();
    names
}

fn log_group_names(env: &Env, logs: &Logs) -> Vec<String> {
    let out = env.block_on(logs.describe_log_groups().send()).expect("describe log groups");
    out.log_groups().iter().filter_map(|g| g.log_group_name().map(str::to_string)).collect()
}

#[test]
fn up_converges_repairs_drift_and_down_removes_only_owned_resources() {
    let env = Env::new();
    let sdk = env.sdk();
    let (ecr, ssm, logs) = (Ecr::new(&sdk), Ssm::new(&sdk), Logs::new(&sdk));

    // 1. up on an empty account creates the 47 resources: 16 of the network, 11 of the edge
    //    (zone, certificate, records, 3 target groups, balancer, 2 listeners, 2 rules), 5 of IAM
    //    (4 roles, GitHub's OIDC provider), 2 ECS clusters, 13 of ECR, SSM and logs.
    let up = env.run(&["--json", "up", "--yes"]);
    up.expect_code(0);
    let result = up.json();
    assert_eq!(result["plan"]["summary"]["create"], 47);
    assert_eq!(result["result"]["done"].as_array().map(Vec::len), Some(47));
    assert_eq!(result["converged"], true);
    assert_eq!(repo_names(&env, &ecr), REPOS);
    assert_eq!(log_group_names(&env, &logs), LOG_GROUPS);
    assert_eq!(parameter_names(&env, &ssm).len(), 5);

    // 2. diff is empty; 3. a second up makes no mutating call.
    env.run(&["diff", "--exit-code"]).expect_code(0);
    let again = env.run(&["up", "--yes"]);
    again.expect_code(0);
    assert!(again.mutating_calls().is_empty(), "second up mutated: {:?}", again.mutating_calls());
    assert!(again.total_calls() > 0, "the call counter saw nothing: {:?}", again.calls);

    // 4. Changes behind the tool's back.
    env.block_on(logs.put_retention_policy().log_group_name("/ecs/containrlab-api").retention_in_days(14).send())
        .expect("retention");
    let policy = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#;
    env.block_on(ecr.put_lifecycle_policy().repository_name("containrlab-web").lifecycle_policy_text(policy).send())
        .expect("lifecycle");
    env.block_on(ssm.delete_parameter().name("/containrlab/SESSION_TTL_SECONDS").send()).expect("delete parameter");
    env.block_on(ecr.delete_repository().repository_name("containrlab-runner").send()).expect("delete repository");

    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    let plan = diff.json();
    assert_eq!(
        actions(&plan),
        vec![
            ("ecr_repository.containrlab-runner".to_string(), "create".to_string()),
            ("ecr_repository.containrlab-web".to_string(), "update".to_string()),
            ("ssm_parameter./containrlab/SESSION_TTL_SECONDS".to_string(), "create".to_string()),
            ("log_group./ecs/containrlab-api".to_string(), "update".to_string()),
        ]
    );
    let field = |i: usize| {
        (
            &plan["changes"][i]["fields"][0]["path"],
            &plan["changes"][i]["fields"][0]["before"],
            &plan["changes"][i]["fields"][0]["after"],
        )
    };
    assert_eq!(field(1), (&"lifecycle_policy.keep_last_images".into(), &5.into(), &10.into()));
    assert_eq!(plan["changes"][1]["fields"].as_array().map(Vec::len), Some(1));
    assert_eq!(field(3), (&"retention_days".into(), &14.into(), &7.into()));
    assert_eq!(plan["changes"][3]["fields"].as_array().map(Vec::len), Some(1));

    // 5. up repairs exactly that.
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    let m = repair.mutating_calls();
    assert_eq!(m.get("ECR:CreateRepository"), Some(&1), "{m:?}");
    assert_eq!(m.get("SSM:PutParameter"), Some(&1), "{m:?}");
    assert_eq!(m.get("CloudWatch Logs:PutRetentionPolicy"), Some(&1), "{m:?}");
    assert_eq!(m.get("ECR:PutLifecyclePolicy"), Some(&2), "the new repository's and the repaired one: {m:?}");
    env.run(&["diff", "--exit-code"]).expect_code(0);

    // 6. Look-alikes without the stack's tag.
    env.block_on(ecr.create_repository().repository_name("containrlab-lookalike").send()).expect("untagged repo");
    env.block_on(ssm.put_parameter().name("/containrlab/UNMANAGED").value("x").r#type(ParameterType::String).send())
        .expect("untagged parameter");
    env.block_on(logs.create_log_group().log_group_name("/ecs/containrlab-lookalike").send())
        .expect("untagged log group");
    env.run(&["diff", "--exit-code"]).expect_code(0);

    // 7. down keeps the SecureStrings and the hosted zone (they hold data) and removes the rest it owns.
    let down = env.run(&["--json", "down", "--yes"]);
    down.expect_code(0);
    let result = down.json();
    let kept: Vec<&str> =
        result["plan"]["kept"].as_array().expect("kept").iter().filter_map(|k| k["address"].as_str()).collect();
    assert_eq!(kept.len(), 5, "{kept:?}");
    assert!(kept.contains(&"hosted_zone.containrlab.click"), "{kept:?}");
    let secrets = kept.iter().filter(|a| a.starts_with("ssm_parameter./containrlab/"));
    assert!(secrets.clone().count() == 4 && secrets.clone().all(|a| a.contains("/G") || a.contains("/N")), "{kept:?}");
    assert_eq!(repo_names(&env, &ecr), vec!["containrlab-lookalike"]);
    assert_eq!(log_group_names(&env, &logs), vec!["/ecs/containrlab-lookalike"]);
    assert_eq!(parameter_names(&env, &ssm).len(), 5, "4 kept secrets + the untagged parameter");

    // 8. down --delete-data removes the secrets too, and still not the look-alikes.
    env.run(&["down", "--yes", "--delete-data"]).expect_code(0);
    assert_eq!(repo_names(&env, &ecr), vec!["containrlab-lookalike"]);
    assert_eq!(parameter_names(&env, &ssm), vec!["/containrlab/UNMANAGED"]);
    assert_eq!(log_group_names(&env, &logs), vec!["/ecs/containrlab-lookalike"]);
    let empty = env.run(&["down", "--yes"]);
    empty.expect_code(0);
    assert!(empty.mutating_calls().is_empty());
}

#[test]
fn a_repository_holding_images_is_kept_by_down_unless_data_deletion_is_asked() {
    let env = Env::new();
    let ecr = Ecr::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},"layers":[]}"#;
    env.block_on(ecr.put_image().repository_name("containrlab-api").image_manifest(manifest).image_tag("v1").send())
        .expect("push image");

    let down = env.run(&["--json", "down", "--yes"]);
    down.expect_code(0);
    let plan = down.json();
    let kept: Vec<&str> =
        plan["plan"]["kept"].as_array().expect("kept").iter().filter_map(|k| k["address"].as_str()).collect();
    assert!(kept.contains(&"ecr_repository.containrlab-api"), "{kept:?}");
    assert_eq!(repo_names(&env, &ecr), vec!["containrlab-api"]);

    env.run(&["down", "--yes", "--delete-data"]).expect_code(0);
    assert!(repo_names(&env, &ecr).is_empty());
}

#[test]
fn a_resource_removed_from_the_stack_file_is_deleted_by_up() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    env.edit_stack("    /aws/elasticloadbalancing/app/containrlab-alb: { retention_days: 7 }\n", "");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(3);
    assert_eq!(
        actions(&diff.json()),
        vec![("log_group./aws/elasticloadbalancing/app/containrlab-alb".to_string(), "delete".to_string())]
    );
    let up = env.run(&["up", "--yes"]);
    up.expect_code(0);
    assert_eq!(up.mutating_calls().get("CloudWatch Logs:DeleteLogGroup"), Some(&1));
    env.run(&["diff", "--exit-code"]).expect_code(0);
}
