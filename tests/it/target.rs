//! `--target`: `diff`/`up` narrowed to some addresses and what they need, said in the plan's first
//! warning; `up --target` repairs only the targeted drift; `down --target` deletes only the targets
//! and refuses one whose deletion would leave a dependent of it behind; bad patterns are refused
//! before any AWS call.

use aws_sdk_cloudwatchlogs::Client as Logs;

use crate::support::{actions, Env};

fn addresses(plan: &serde_json::Value) -> Vec<String> {
    actions(plan).into_iter().map(|(address, _)| address).collect()
}

#[test]
fn a_bad_target_is_refused_before_any_aws_call() {
    let env = Env::new();
    for (target, message) in [
        ("ecs_servce.containrlab-service", "`ecs_servce` is not a resource kind"),
        ("vpc", "expected KIND.NAME or KIND.*"),
        ("vpc.", "the name after `vpc.` is missing"),
    ] {
        let run = env.run_at("http://127.0.0.1:9", &["diff", "--target", target]);
        run.expect_code(1);
        assert_eq!(run.total_calls(), 0, "{target}");
        assert!(run.stderr.contains(message), "{target}: {}", run.stderr);
    }
    let run = env.run(&["up", "--yes", "--target", "vpc.other"]);
    run.expect_code(1);
    assert!(run.stderr.contains("--target vpc.other matches no resource of the stack"), "{}", run.stderr);
    assert!(run.mutating_calls().is_empty(), "{:?}", run.mutating_calls());
}

#[test]
fn up_with_targets_builds_them_and_what_they_need_and_nothing_else() {
    let env = Env::new();
    let all = addresses(&env.run(&["--json", "diff"]).json()).len();

    let plan = env.run(&["--json", "diff", "--target", "ecs_cluster.containrlab-cluster"]).json();
    let narrowed = addresses(&plan);
    assert!(narrowed.iter().all(|a| a.starts_with("ecs_cluster.")), "a cluster needs nothing: {narrowed:?}");
    assert_eq!(narrowed.len(), 1, "{narrowed:?}");
    let warning = plan["warnings"][0].as_str().expect("a first warning");
    assert_eq!(
        warning,
        format!(
            "TARGETED: only --target ecs_cluster.containrlab-cluster and what they need: 1 of the {all} change(s) AWS needs; the rest of the stack is left as it is"
        )
    );

    // A listener rule needs its target group, the HTTPS listener, the certificate, the load
    // balancer and the network under it — and not the services, the alarms or the repositories.
    let plan = env.run(&["--json", "diff", "--target", "listener_rule.*"]).json();
    let narrowed = addresses(&plan);
    for needed in [
        "listener_rule.api.containrlab.click",
        "target_group.containrlab-api-tg",
        "listener.https",
        "certificate.containrlab.click",
        "load_balancer.containrlab-alb",
        "subnet.public-a",
        "vpc.containrlab",
    ] {
        assert!(narrowed.iter().any(|a| a == needed), "{needed} missing from {narrowed:?}");
    }
    for left_out in ["ecs_service.", "alarm.", "ecr_repository.", "listener.http"] {
        assert!(
            !narrowed.iter().any(|a| a.starts_with(left_out) && !a.starts_with("listener.https")),
            "{left_out} in {narrowed:?}"
        );
    }
    let human = env.run(&["diff", "--target", "listener_rule.*"]).stdout;
    assert!(human.contains("TARGETED: only --target listener_rule.* and what they need"), "{human}");

    let up = env.run(&["up", "--yes", "--target", "log_group.*"]);
    up.expect_code(0);
    let mutating: Vec<String> = up.mutating_calls().into_keys().collect();
    assert!(mutating.iter().all(|k| k.starts_with("CloudWatch Logs:")), "{mutating:?}");
    assert!(up.stderr.contains("Converged (targeted): 0 changes remaining for the targets"), "{}", up.stderr);
    let rest = addresses(&env.run(&["--json", "diff"]).json());
    assert_eq!(rest.len(), all - 4, "the four log groups exist, the rest still to create");
    assert!(!rest.iter().any(|a| a.starts_with("log_group.")), "{rest:?}");
}

#[test]
fn up_with_a_target_repairs_only_its_drift_and_down_refuses_to_break_a_dependent() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    let logs = Logs::new(&env.sdk());
    env.block_on(logs.put_retention_policy().log_group_name("/ecs/containrlab-api").retention_in_days(30).send())
        .expect("drift the retention");
    env.edit_stack("instance_type: t3.medium", "instance_type: t3.large");
    let drift = addresses(&env.run(&["--json", "diff"]).json());
    assert!(drift.contains(&"log_group./ecs/containrlab-api".to_string()), "{drift:?}");
    assert!(drift.iter().any(|a| a.starts_with("launch_template.")), "{drift:?}");

    let targeted = addresses(&env.run(&["--json", "diff", "--target", "log_group./ecs/containrlab-api"]).json());
    assert_eq!(targeted, ["log_group./ecs/containrlab-api"]);
    let up = env.run(&["up", "--yes", "--target", "log_group./ecs/containrlab-api"]);
    up.expect_code(0);
    assert_eq!(up.mutating_calls().keys().collect::<Vec<_>>(), ["CloudWatch Logs:PutRetentionPolicy"]);
    let left = addresses(&env.run(&["--json", "diff"]).json());
    assert!(!left.contains(&"log_group./ecs/containrlab-api".to_string()), "{left:?}");
    assert!(left.iter().any(|a| a.starts_with("launch_template.")), "the untargeted drift stays: {left:?}");

    // Deleting the load balancer alone would leave its listeners and DNS aliases pointing at nothing.
    let down = env.run(&["down", "--yes", "--target", "load_balancer.containrlab-alb"]);
    down.expect_code(1);
    assert!(
        down.stderr.contains("listener.https needs load_balancer.containrlab-alb, which the plan deletes or replaces"),
        "{}",
        down.stderr
    );
    assert!(down.stderr.contains("Add --target"), "{}", down.stderr);
    assert!(down.mutating_calls().is_empty(), "{:?}", down.mutating_calls());

    // Every alarm would take the API/Web service's rollback alarms from under it.
    let all = env.run(&["down", "--yes", "--target", "alarm.*"]);
    all.expect_code(1);
    let broken = "ecs_service.containrlab-service needs alarm.api-5xx, which the plan deletes or replaces";
    assert!(all.stderr.contains(broken), "{}", all.stderr);
    assert!(all.mutating_calls().is_empty(), "{:?}", all.mutating_calls());
    let runner = ["--target", "alarm.runner-high-cpu", "--target", "alarm.runner-low-cpu-credits"];
    let down = env.run(&[&["--json", "down", "--yes"][..], &runner[..]].concat());
    down.expect_code(0);
    let deleted = addresses(&down.json()["plan"]);
    assert!(!deleted.is_empty() && deleted.iter().all(|a| a.starts_with("alarm.")), "{deleted:?}");
    let after = env.run(&["--json", "diff"]).json();
    let recreate: Vec<(String, String)> =
        actions(&after).into_iter().filter(|(address, _)| address.starts_with("alarm.")).collect();
    assert_eq!(recreate.len(), deleted.len(), "the deleted alarms are missing now: {recreate:?}");
    assert!(recreate.iter().all(|(_, action)| action == "create"), "{recreate:?}");
}
