//! What must never happen: changing a resource the stack does not own, applying without
//! confirmation, creating a secret without its value, planning from an incomplete picture.

use aws_sdk_ecr::Client as Ecr;

use crate::support::Env;

#[test]
fn an_untagged_namesake_is_a_conflict_and_nothing_is_changed() {
    let env = Env::new();
    let ecr = Ecr::new(&env.sdk());
    env.block_on(ecr.create_repository().repository_name("containrlab-web").send()).expect("create");

    let diff = env.run(&["diff"]);
    diff.expect_code(1);
    assert!(
        diff.stdout
            .contains("! conflict: ecr_repository.containrlab-web  exists but carries no containrlab ownership tags"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("fix: rename it in the stack file, or take it over with `containrlab adopt`"),
        "{}",
        diff.stdout
    );

    let up = env.run(&["up", "--yes"]);
    up.expect_code(1);
    assert!(up.mutating_calls().is_empty(), "{:?}", up.mutating_calls());
    assert!(up.stderr.contains("not this stack's; nothing was changed"), "{}", up.stderr);
}

#[test]
fn a_resource_of_another_stack_is_never_touched() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    // The same stack file under another stack name sees the first stack's resources as foreign.
    env.edit_stack("stack: containrlab\n", "stack: containrlab-staging\n");
    let down = env.run(&["--json", "down", "--yes", "--delete-data"]);
    down.expect_code(0);
    assert!(down.mutating_calls().is_empty(), "{:?}", down.mutating_calls());
    let up = env.run(&["diff"]);
    up.expect_code(1);
    assert!(up.stdout.contains("exists and belongs to stack `containrlab`"), "{}", up.stdout);
}

#[test]
fn up_without_yes_on_a_pipe_refuses_and_changes_nothing() {
    let env = Env::new();
    let up = env.run(&["up"]);
    up.expect_code(1);
    assert!(up.stderr.contains("stdin is not a terminal, pass --yes"), "{}", up.stderr);
    assert!(up.mutating_calls().is_empty());
    let down = env.run(&["down"]);
    down.expect_code(0); // nothing to delete: no prompt needed
}

#[test]
fn a_secret_that_must_be_created_needs_its_variable() {
    let mut env = Env::new();
    env.secrets.retain(|(k, _)| k != "CONTAINRLAB_NEXTAUTH_SECRET");
    // A read-only plan works without it and says what `up` will need.
    let diff = env.run(&["diff"]);
    diff.expect_code(0);
    assert!(
        diff.stdout.contains("value:        (from $CONTAINRLAB_NEXTAUTH_SECRET, not set — up will need it)"),
        "{}",
        diff.stdout
    );
    let json = env.run(&["--json", "diff"]).json();
    let field = json["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"] == "ssm_parameter./containrlab/NEXTAUTH_SECRET"))
        .map(|c| c["fields"][1].clone())
        .unwrap_or_default();
    assert_eq!(
        (field["unset_env"].as_str(), field["sensitive"].as_bool()),
        (Some("CONTAINRLAB_NEXTAUTH_SECRET"), Some(true))
    );
    let up = env.run(&["up", "--yes"]);
    up.expect_code(1);
    assert!(
        up.stderr.contains(
            "cannot apply: 1 secret value(s) the plan must write are not set; nothing was changed:\n  ssm_parameter./containrlab/NEXTAUTH_SECRET: set CONTAINRLAB_NEXTAUTH_SECRET"
        ),
        "{}",
        up.stderr
    );
    assert!(up.mutating_calls().is_empty());
}

#[test]
fn an_existing_secret_is_left_alone_when_its_variable_is_unset() {
    let mut env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    env.secrets.clear();
    let diff = env.run(&["diff", "--exit-code"]);
    diff.expect_code(0);
}

#[test]
fn a_changed_secret_shows_as_sensitive_and_is_written() {
    let mut env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    env.secrets
        .iter_mut()
        .filter(|(k, _)| k == "CONTAINRLAB_GEMINI_API_KEY")
        .for_each(|(_, v)| *v = "rotated-key".into());
    let diff = env.run(&["diff", "--exit-code"]);
    diff.expect_code(2);
    assert!(diff.stdout.contains("~ ssm_parameter./containrlab/GEMINI_API_KEY"), "{}", diff.stdout);
    assert!(diff.stdout.contains("value:  (sensitive value) → (sensitive value)"), "{}", diff.stdout);
    let up = env.run(&["up", "--yes"]);
    up.expect_code(0);
    assert_eq!(up.mutating_calls().get("SSM:PutParameter"), Some(&1));
}

#[test]
fn when_aws_cannot_be_read_nothing_is_planned() {
    let env = Env::new();
    // Nothing listens on port 9 of the loopback: every read fails.
    let mut run = env.run_at("http://127.0.0.1:9", &["diff"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(
            "error: cannot reach http://127.0.0.1:9: is the emulator running? Start it with `scripts/moto start`"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "a plan was printed: {}", run.stdout);
    run = env.run_at("http://127.0.0.1:9", &["down", "--yes"]);
    run.expect_code(1);
    assert!(run.mutating_calls().is_empty());
}
