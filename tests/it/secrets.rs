//! The secret canary: SecureString values supplied through their variables never appear on stdout
//! or stderr of `diff`, `up` or `down`, at the highest verbosity, in human or JSON output; and a
//! SecureString is decrypted only when its variable is set.

use crate::fault::Proxy;
use crate::support::{Env, Run, SECRETS};

fn assert_no_canary(run: &Run, canaries: &[String], what: &str) {
    for canary in canaries {
        assert!(!run.stdout.contains(canary.as_str()), "{what}: a secret value leaked on stdout");
        assert!(!run.stderr.contains(canary.as_str()), "{what}: a secret value leaked on stderr");
    }
}

#[test]
fn secret_values_never_appear_in_any_output() {
    let mut env = Env::new();
    let canary = |n: usize| format!("canary-{n}-{}", std::process::id());
    env.secrets = crate::support::SECRETS.iter().enumerate().map(|(i, (k, _))| (k.to_string(), canary(i))).collect();
    let mut canaries: Vec<String> = (0..4).map(canary).collect();

    let runs = [
        ("diff before up", env.run(&["-vvv", "diff"])),
        ("diff --json before up", env.run(&["-vvv", "--json", "diff"])),
        ("up", env.run(&["-vvv", "up", "--yes"])),
        ("up --json (no change)", env.run(&["-vvv", "--json", "up", "--yes"])),
    ];
    for (what, run) in &runs {
        assert_no_canary(run, &canaries, what);
    }
    assert_eq!(runs[2].1.code, 0, "{}", runs[2].1.stderr);
    assert!(runs[2].1.stderr.contains("DEBUG"), "-vvv should log SDK requests: {}", runs[2].1.stderr);

    // A rotated secret: both the old and the new value stay hidden.
    env.secrets[0].1 = canary(10);
    canaries.push(canary(10));
    for (what, args) in [
        ("diff after rotation", &["-vvv", "diff"][..]),
        ("diff --json after rotation", &["-vvv", "--json", "diff"]),
        ("up after rotation", &["-vvv", "--json", "up", "--yes"]),
    ] {
        let run = env.run(args);
        assert_no_canary(&run, &canaries, what);
        assert!(run.stdout.contains("(sensitive value)"), "{what}: the change is not shown: {}", run.stdout);
    }
    let down = env.run(&["-vvv", "--json", "down", "--yes", "--delete-data"]);
    down.expect_code(0);
    assert_no_canary(&down, &canaries, "down");
}

/// The SDK's debug lines at `-vvv` print its config bag, credentials included: the access key id
/// is scrubbed like the secret key.
#[test]
fn the_access_key_id_never_appears_at_the_highest_verbosity() {
    let env = Env::new();
    let key = "AKIACANARY0000000001";
    let id = [("AWS_ACCESS_KEY_ID", key)];
    for args in [&["-vvv", "diff"][..], &["-vvv", "up", "--yes"]] {
        let run = env.run_with(&env.moto.endpoint, &id, args);
        run.expect_code(0);
        assert!(run.stderr.contains("DEBUG"), "-vvv logs SDK requests");
        assert!(!run.stderr.contains(key) && !run.stdout.contains(key), "{args:?}: the access key id leaked");
    }
    let short = [("AWS_ACCESS_KEY_ID", "testing-key")];
    let run = env.run_with(&env.moto.endpoint, &short, &["-vvv", "diff"]);
    assert!(!run.stderr.contains("testing-key"), "an access key id of any form is scrubbed");
}

/// The plan reads a SecureString's value only to compare it with a value it was given: with the
/// variables unset, `GetParameters` never asks for decryption nor names a secret; with one set,
/// that one alone is decrypted. (The fault proxy here only records the requests, faulting none.)
#[test]
fn a_secure_string_is_decrypted_only_when_its_variable_is_set() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    let unset: Vec<&str> = SECRETS.iter().map(|(k, _)| *k).collect();
    let secret_names = ["GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "NEXTAUTH_SECRET", "GEMINI_API_KEY"];

    let proxy = Proxy::start(&env.moto.endpoint, vec![]);
    let run = env.run_without(&unset, &proxy.endpoint, &[], &["diff", "--exit-code"]);
    run.expect_code(0);
    let reads = proxy.bodies("GetParameters");
    assert!(!reads.is_empty(), "the String parameter's value is still read and compared");
    for body in &reads {
        assert!(!body.contains(r#""WithDecryption":true"#), "decrypted with no variable set: {body}");
        for name in secret_names {
            assert!(!body.contains(&format!("/containrlab/{name}\"")), "read {name} with its variable unset: {body}");
        }
    }

    let proxy = Proxy::start(&env.moto.endpoint, vec![]);
    let others: Vec<&str> = unset.iter().copied().filter(|k| *k != "CONTAINRLAB_GEMINI_API_KEY").collect();
    let one = [("CONTAINRLAB_GEMINI_API_KEY", "a-rotated-key")];
    let run = env.run_without(&others, &proxy.endpoint, &one, &["diff", "--exit-code"]);
    run.expect_code(2);
    assert!(run.stdout.contains("(sensitive value) → (sensitive value)"), "the rotation is planned: {}", run.stdout);
    let decrypted: Vec<String> =
        proxy.bodies("GetParameters").into_iter().filter(|b| b.contains(r#""WithDecryption":true"#)).collect();
    assert_eq!(decrypted.len(), 1, "one decrypting read: {decrypted:?}");
    for name in secret_names {
        let named = decrypted[0].contains(&format!("/containrlab/{name}\""));
        assert_eq!(named, name == "GEMINI_API_KEY", "only the parameter whose variable is set: {}", decrypted[0]);
    }

    // A new description of a secret whose variable is unset: `up` rewrites the value it reads then,
    // unchanged (the diff with every variable set is empty afterwards).
    env.edit_stack("description: GitHub OAuth app ID", "description: The GitHub OAuth app's client id");
    env.run_without(&unset, &env.moto.endpoint, &[], &["up", "--yes"]).expect_code(0);
    let after = env.run(&["diff", "--exit-code"]);
    assert_eq!(after.code, 0, "the value was kept and the description written: {}", after.stdout);
}

/// The restart a plan shows for `service`: its `restart` field's text, if it has one.
fn restart_of(plan: &serde_json::Value, service: &str) -> Option<String> {
    let changes = plan["changes"].as_array()?;
    let change = changes.iter().find(|c| c["address"] == format!("ecs_service.{service}"))?;
    let field = change["fields"].as_array()?.iter().find(|f| f["path"] == "restart")?;
    field["after"].as_str().map(str::to_string)
}

/// A rotated secret reaches the tasks: `secret set` (the value on stdin) writes it once and gives
/// exactly the services whose definitions read it a new deployment of the revision they run
/// (moto's UpdateService with forceNewDeployment starts one, as AWS does), the plan saying so with
/// the versions; the same value again changes nothing; `up` with another value shows and performs
/// the same restart; `secret list` names the readers and never a value. The value never appears
/// in any output, `-vvv` included, and is never on a command line (it comes on stdin).
#[test]
fn a_rotated_secret_restarts_exactly_the_services_that_read_it() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    let canary = format!("canary-rotated-{}", std::process::id());
    let canaries = [canary.clone()];

    let set = env.run_with_stdin(&canary, &["-vvv", "--json", "secret", "set", "GEMINI_API_KEY", "--yes"]);
    set.expect_code(0);
    assert_no_canary(&set, &canaries, "secret set");
    let expected = [("ECS:UpdateService".to_string(), 1), ("SSM:PutParameter".to_string(), 1)].into();
    assert_eq!(set.mutating_calls(), expected, "{}", set.stderr);
    let doc = set.json();
    let addresses: Vec<&str> =
        doc["plan"]["changes"].as_array().unwrap().iter().map(|c| c["address"].as_str().unwrap()).collect();
    assert_eq!(addresses, ["ssm_parameter./containrlab/GEMINI_API_KEY", "ecs_service.containrlab-service"]);
    assert_eq!(
        restart_of(&doc["plan"], "containrlab-service").as_deref(),
        Some("/containrlab/GEMINI_API_KEY changed (version 1 → 2)")
    );
    assert_eq!(doc["converged"], true);

    let again = env.run_with_stdin(&canary, &["secret", "set", "/containrlab/GEMINI_API_KEY", "--yes"]);
    again.expect_code(0);
    assert!(again.mutating_calls().is_empty(), "the same value: {:?}", again.mutating_calls());
    assert!(again.stderr.contains("nothing to write or restart"), "{}", again.stderr);

    // `up` with the stack's variable (the value before the rotation): the write and the restart.
    let up = env.run(&["--json", "up", "--yes"]);
    up.expect_code(0);
    assert_no_canary(&up, &canaries, "up");
    assert_eq!(up.mutating_calls(), expected, "{}", up.stderr);
    assert_eq!(
        restart_of(&up.json()["plan"], "containrlab-service").as_deref(),
        Some("/containrlab/GEMINI_API_KEY changed (version 2 → 3)")
    );
    assert!(restart_of(&up.json()["plan"], "containrlab-runner-service").is_none(), "the runner does not read it");

    let list = env.run(&["--json", "secret", "list"]);
    list.expect_code(0);
    assert_no_canary(&list, &canaries, "secret list");
    let listed = list.json();
    let gemini =
        listed["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "/containrlab/GEMINI_API_KEY").cloned();
    let gemini = gemini.expect("listed");
    assert_eq!((gemini["type"].as_str(), gemini["version"].as_i64()), (Some("SecureString"), Some(3)));
    assert_eq!(
        gemini["read_by"],
        serde_json::json!([{"service": "containrlab-service", "container": "api", "variable": "GEMINI_API_KEY"}])
    );
    assert!(list.mutating_calls().is_empty());

    // A String parameter's value is the stack file's; nothing is read from stdin for it.
    let plain = env.run_with_stdin("x", &["secret", "set", "SESSION_TTL_SECONDS", "--yes"]);
    plain.expect_code(1);
    assert!(plain.stderr.contains("is a String parameter"), "{}", plain.stderr);
}
