//! The secret canary: SecureString values supplied through their variables never appear on stdout
//! or stderr of `diff`, `up` or `down`, at the highest verbosity, in human or JSON output.

use crate::support::{Env, Run};

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
