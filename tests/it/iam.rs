//! IAM against moto: roles converge (policy documents compared semantically: moto, like AWS,
//! returns them URL-encoded), a managed policy detached by hand is shown and re-attached, a role of
//! the same name without the stack's tags is a conflict, and `down` leaves untagged roles alone.

use aws_sdk_iam::Client as Iam;

use crate::support::{actions, Env};

const EXECUTION_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

#[test]
fn roles_converge_and_a_detached_managed_policy_is_reattached() {
    let env = Env::new();
    let iam = Iam::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    let role = env.block_on(iam.get_role().role_name("ecsTaskExecutionRole").send()).expect("role");
    assert_eq!(role.role().map(|r| r.path()), Some("/containrlab/"));
    let profile = env
        .block_on(iam.get_instance_profile().instance_profile_name("ecsInstanceRole").send())
        .expect("instance profile");
    assert_eq!(profile.instance_profile().map(|p| p.roles().len()), Some(1));
    env.run(&["diff", "--exit-code"]).expect_code(0);

    env.block_on(iam.detach_role_policy().role_name("ecsTaskExecutionRole").policy_arn(EXECUTION_POLICY).send())
        .expect("detach");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(3);
    let plan = diff.json();
    assert_eq!(actions(&plan), vec![("iam_role.ecsTaskExecutionRole".to_string(), "update".to_string())]);
    let field = &plan["changes"][0]["fields"];
    assert_eq!(field.as_array().map(Vec::len), Some(1), "{field}");
    assert_eq!(
        (&field[0]["path"], &field[0]["before"], &field[0]["after"]),
        (&"managed_policies".into(), &serde_json::Value::Null, &EXECUTION_POLICY.into())
    );
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(repair.mutating_calls().into_iter().collect::<Vec<_>>(), vec![("IAM:AttachRolePolicy".to_string(), 1)]);
    env.run(&["diff", "--exit-code"]).expect_code(0);
}

#[test]
fn an_untagged_role_of_the_same_name_is_a_conflict_and_survives_down() {
    let env = Env::new();
    let iam = Iam::new(&env.sdk());
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    env.block_on(iam.create_role().role_name("ecsTaskRole").assume_role_policy_document(trust).send()).expect("role");
    let diff = env.run(&["diff"]);
    diff.expect_code(1);
    assert!(
        diff.stdout.contains("! conflict: iam_role.ecsTaskRole  exists but carries no containrlab ownership tags"),
        "{}",
        diff.stdout
    );
    env.run(&["down", "--yes", "--delete-data"]).expect_code(0);
    assert!(env.block_on(iam.get_role().role_name("ecsTaskRole").send()).is_ok(), "the untagged role is left alone");
}
