//! Golden plans, human and JSON: create-all, no-change, update, delete; Markdown (`diff --markdown`)
//! for create-all, the secret update and the deletions, and a policy-and-rule change.
//! Regenerate after an intended output change with `INSTA_UPDATE=always scripts/test`.

use aws_sdk_cloudwatchlogs::Client as Logs;

use crate::support::Env;

#[test]
fn plan_views_for_create_no_change_update_and_delete() {
    let mut env = Env::new();
    let create = env.run(&["diff"]);
    insta::assert_snapshot!("create_all_human", create.stdout);
    insta::assert_snapshot!("create_all_markdown", env.run(&["diff", "--markdown"]).stdout);
    insta::assert_snapshot!(
        "create_all_json",
        serde_json::to_string_pretty(&env.run(&["--json", "diff"]).json()).unwrap_or_default()
    );

    env.run(&["up", "--yes"]).expect_code(0);
    insta::assert_snapshot!("no_change_human", env.run(&["diff"]).stdout);
    insta::assert_snapshot!(
        "no_change_json",
        serde_json::to_string_pretty(&env.run(&["--json", "diff"]).json()).unwrap_or_default()
    );

    let logs = Logs::new(&env.sdk());
    env.block_on(logs.put_retention_policy().log_group_name("/ecs/containrlab-web").retention_in_days(30).send())
        .expect("retention");
    let arn = "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/containrlab-web";
    env.block_on(logs.tag_resource().resource_arn(arn).tags("Owner", "someone").send()).expect("tag");
    env.secrets[1].1 = "rotated".into();
    insta::assert_snapshot!("update_human", env.run(&["diff"]).stdout);
    let update = env.run(&["diff", "--markdown"]).stdout;
    assert!(!update.contains("rotated"), "the new secret value never reaches the Markdown: {update}");
    insta::assert_snapshot!("update_markdown", update);
    insta::assert_snapshot!(
        "update_json",
        serde_json::to_string_pretty(&env.run(&["--json", "diff"]).json()).unwrap_or_default()
    );

    env.edit_stack("  runner-high-cpu:\n", "  runner-cpu-credits:\n");
    env.edit_stack("    containrlab-runner:  { architecture: amd64, scan_on_push: true, tag_mutability: MUTABLE, keep_last_images: 10 }\n", "");
    // The runner task definition names that repository: point it at another one.
    let td = env.dir.path().join("task-definitions/containrlab-runner.json");
    let text = std::fs::read_to_string(&td)
        .expect("read")
        .replace("${repository:containrlab-runner}", "${repository:containrlab-runnerd}");
    std::fs::write(&td, text).expect("write");
    insta::assert_snapshot!("delete_human", env.run(&["diff"]).stdout);
    insta::assert_snapshot!("delete_markdown", env.run(&["diff", "--markdown"]).stdout);
    insta::assert_snapshot!(
        "delete_json",
        serde_json::to_string_pretty(&env.run(&["--json", "diff"]).json()).unwrap_or_default()
    );
}

/// Long values and sets in an update: a policy document changed line by line, a rule replaced.
#[test]
fn plan_view_of_a_changed_policy_and_rule() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    env.edit_stack(
        "actions: [ssm:GetParameters, ssm:GetParameter]",
        "actions: [ssm:GetParametersByPath, ssm:GetParameter]",
    );
    env.edit_stack(
        "{ protocol: tcp, ports: 443, cidr: 0.0.0.0/0",
        "{ protocol: tcp, ports: 8443, cidr: 203.0.113.0/24",
    );
    insta::assert_snapshot!("policy_and_rule_human", env.run(&["diff"]).stdout);
    insta::assert_snapshot!("policy_and_rule_markdown", env.run(&["diff", "--markdown"]).stdout);
    let both = env.run(&["--json", "diff", "--markdown"]);
    both.expect_code(1);
    assert!(both.stderr.contains("--json and --markdown ask for two different outputs"), "{}", both.stderr);
    assert_eq!(both.total_calls(), 0, "refused before any AWS call");
}
