//! The command-line contract: validate makes no AWS call, bad input exits 1 with a located
//! message, the region defaults to the stack file's.

use crate::support::Env;

#[test]
fn validate_checks_without_calling_aws() {
    let env = Env::new();
    let ok = env.run(&["validate"]);
    ok.expect_code(0);
    assert!(ok.stdout.contains("stack `containrlab` is valid (4 subnets, 3 security groups"), "{}", ok.stdout);
    assert_eq!(ok.total_calls(), 0);

    env.edit_stack("vpc_cidr: 10.0.0.0/16", "vpc_cidr: 10.0.0.0/8");
    for args in [&["validate"][..], &["diff"], &["up", "--yes"], &["down", "--yes"]] {
        let bad = env.run(args);
        bad.expect_code(1);
        assert!(
            bad.stderr
                .contains("stack.yaml:11:13: network.vpc_cidr: `10.0.0.0/8`: a VPC CIDR must be between /16 and /28"),
            "{args:?}: {}",
            bad.stderr
        );
        assert_eq!(bad.total_calls(), 0, "{args:?} called AWS on bad input");
    }
}

#[test]
fn the_plan_header_names_account_and_region() {
    let env = Env::new();
    let diff = env.run(&["diff"]);
    diff.expect_code(0);
    assert!(
        diff.stdout.starts_with("Stack containrlab in account 123456789012, region us-east-1\n"),
        "{}",
        diff.stdout
    );
    let other = env.run(&["--region", "eu-west-1", "diff"]);
    assert!(other.stdout.contains("region eu-west-1"), "{}", other.stdout);
    assert!(
        other.stdout.contains("warning: region eu-west-1 differs from the stack file's `region: us-east-1`"),
        "{}",
        other.stdout
    );
}

#[test]
fn verbose_prints_the_api_call_counts() {
    let env = Env::new();
    let diff = env.run(&["-v", "diff"]);
    diff.expect_code(0);
    assert!(diff.stderr.contains("API calls: "), "{}", diff.stderr);
    assert!(diff.stderr.contains("STS:GetCallerIdentity=1"), "{}", diff.stderr);
}

/// A bad command line exits 1 like any bad input (clap's own 2 would read as "changes" to CI).
#[test]
fn a_bad_flag_value_exits_1_and_calls_nothing() {
    let env = Env::new();
    let bad = env.run(&["--image-tag", "not a tag", "diff", "--exit-code"]);
    bad.expect_code(1);
    assert!(bad.stderr.contains("invalid value 'not a tag' for '--image-tag <IMAGE_TAG>'"), "{}", bad.stderr);
    assert_eq!(bad.total_calls(), 0);
    env.run(&["--help"]).expect_code(0);
}
