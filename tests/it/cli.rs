//! The command-line contract: validate makes no AWS call, bad input exits 1 with a located
//! message, the region defaults to the stack file's.

use crate::support::Env;

/// `graph` reads the stack file only: it works with an endpoint that does not answer.
#[test]
fn graph_draws_the_stack_without_calling_aws() {
    let env = Env::new();
    let run = env.run_at("http://127.0.0.1:9", &["graph"]);
    run.expect_code(0);
    assert!(run.stdout.starts_with("flowchart LR\n    subgraph network[\"Network\"]"), "{}", run.stdout);
    assert!(run.stdout.contains("[\"ecs_service.containrlab-runner-service\"]:::compute"), "{}", run.stdout);
    assert_eq!(run.total_calls(), 0);
    let dot = env.run_at("http://127.0.0.1:9", &["graph", "--format", "dot"]);
    assert!(dot.stdout.contains("\"load_balancer.containrlab-alb\" -> \"listener.https\";"), "{}", dot.stdout);
    let json = env.run_at("http://127.0.0.1:9", &["--json", "graph"]).json();
    assert_eq!(json["nodes"].as_array().map(Vec::len), Some(73));
}

/// `check` reads the stack file only; it exits 1 once a control fails.
#[test]
fn check_reports_the_controls_without_calling_aws_and_fails_on_a_failing_one() {
    let env = Env::new();
    let ok = env.run_at("http://127.0.0.1:9", &["check"]);
    ok.expect_code(0);
    assert!(
        ok.stdout.contains(
            "\nELB.1 Application Load Balancer should be configured to redirect all HTTP requests to HTTPS\n  PASS"
        ),
        "{}",
        ok.stdout
    );
    assert_eq!(ok.total_calls(), 0);
    env.edit_stack("deletion_protection: false", "deletion_protection: true");
    env.edit_stack("    redirect_to_https: true", "    redirect_to_https: false");
    // The allowance of ELB.6 now accepts nothing: the file is refused until it goes.
    let idle = env.run_at("http://127.0.0.1:9", &["check"]);
    idle.expect_code(1);
    assert!(
        idle.stderr.contains(
            "accepts nothing: there is no `ELB.6` risk or failing control at `load_balancer.deletion_protection`"
        ),
        "{}",
        idle.stderr
    );
    env.edit_stack(
        "  - risk: ELB.6\n    at: load_balancer.deletion_protection\n",
        "  - risk: ELB.16\n    at: load_balancer\n",
    );
    let failing = env.run_at("http://127.0.0.1:9", &["--json", "check"]);
    failing.expect_code(1);
    let json = failing.json();
    assert_eq!(json["summary"]["fail"], 1);
    let fail: Vec<&serde_json::Value> =
        json["findings"].as_array().expect("findings").iter().filter(|f| f["status"] == "FAIL").collect();
    assert_eq!(fail[0]["control"], "ELB.1");
    assert_eq!(fail[0]["at"], "load_balancer.http_listener");
    assert_eq!(failing.total_calls(), 0);
}

/// A reader that went away (it closed the pipe before the command wrote) ends the command quietly
/// with 141, as SIGPIPE would, without a panic or backtrace on stderr.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let env = Env::new();
    let mut shell = std::process::Command::new("bash");
    let script = "\"$0\" \"$@\" | { exec 0<&-; sleep 1; }; exit ${PIPESTATUS[0]}";
    shell.args(["-c", script, env!("CARGO_BIN_EXE_containrlab")]);
    let (mut cmd, _) = env.command_of(shell, "http://127.0.0.1:9", &["graph"]);
    let out = cmd.stdin(std::process::Stdio::null()).output().expect("bash");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
}

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
    // Another region is refused before any AWS call (a stray AWS_REGION must not plan a second
    // stack), and allowed explicitly, with the availability zones following by letter.
    for (args, source) in [(&["--region", "eu-west-1", "diff"][..], "--region"), (&["diff"], "AWS_REGION")] {
        let other = env.run_with(&env.moto.endpoint, &[("AWS_REGION", "eu-west-1")], args);
        other.expect_code(1);
        assert!(
            other.stderr.contains(&format!(
                "error: region eu-west-1 (from {source}) is not the stack file's `region: us-east-1`; nothing was read or changed."
            )),
            "{}",
            other.stderr
        );
        assert_eq!(other.total_calls(), 0);
    }
    let moved = env.run(&["--region", "eu-west-1", "--allow-region-override", "diff"]);
    moved.expect_code(0);
    assert!(
        moved.stdout.starts_with("Stack containrlab in account 123456789012, region eu-west-1\n"),
        "{}",
        moved.stdout
    );
    assert!(
        moved.stdout.contains("warning: region eu-west-1 (from --region, allowed by --allow-region-override) instead of the stack file's `region: us-east-1`; availability zones: us-east-1a → eu-west-1a, us-east-1b → eu-west-1b"),
        "{}",
        moved.stdout
    );
    assert!(moved.stdout.contains("availability_zone:        \"eu-west-1a\""), "{}", moved.stdout);
    assert!(!moved.stdout.contains("us-east-1a\"\n"), "{}", moved.stdout);
}

#[test]
fn verbose_prints_the_api_call_counts() {
    let env = Env::new();
    let diff = env.run(&["-v", "diff"]);
    diff.expect_code(0);
    assert!(diff.stderr.contains("API calls: "), "{}", diff.stderr);
    assert!(diff.stderr.contains("\n  STS 1: GetCallerIdentity 1"), "{}", diff.stderr);
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

/// Errors an operator can act on, short, with no SDK dump: no credentials, an unknown profile,
/// an SSO profile never logged in, an endpoint that does not answer.
#[test]
fn credential_profile_and_endpoint_problems_name_the_fix() {
    let env = Env::new();
    let creds = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];
    let none = env.run_without(&creds, &env.moto.endpoint, &[], &["diff"]);
    none.expect_code(1);
    assert!(
        none.stderr.starts_with("error: no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or choose a profile with --profile or AWS_PROFILE"),
        "{}",
        none.stderr
    );

    let unknown = env.run(&["--profile", "prod", "diff"]);
    unknown.expect_code(1);
    assert!(
        unknown.stderr.contains("error: AWS profile `prod` not found in /dev/null or /dev/null (none are defined)"),
        "{}",
        unknown.stderr
    );
    assert_eq!(unknown.total_calls(), 0);

    let config = env.dir.path().join("aws-config");
    std::fs::write(
        &config,
        "[profile dev]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = Admin\n",
    )
    .expect("write config");
    let config = config.to_string_lossy().into_owned();
    let home = env.dir.path().to_string_lossy().into_owned();
    let sso = env.run_without(
        &creds,
        &env.moto.endpoint,
        &[("AWS_CONFIG_FILE", config.as_str()), ("HOME", home.as_str()), ("AWS_PROFILE", "dev")],
        &["diff"],
    );
    sso.expect_code(1);
    assert!(
        sso.stderr.contains(
            "the SSO session of profile `dev` has expired or was never started: run `aws sso login --profile dev`"
        ),
        "{}",
        sso.stderr
    );

    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port");
    let endpoint = format!("http://127.0.0.1:{port}");
    let down = env.run_at(&endpoint, &["diff"]);
    down.expect_code(1);
    assert!(
        down.stderr.starts_with(&format!(
            "error: cannot reach {endpoint}: is the emulator running? Start it with `scripts/moto start`"
        )),
        "{}",
        down.stderr
    );
    for run in [&none, &unknown, &sso, &down] {
        assert!(!run.stderr.contains("WARN") && run.stderr.len() < 700, "{} bytes:\n{}", run.stderr.len(), run.stderr);
    }
}

#[test]
fn version_names_the_commit_and_completions_are_printed() {
    let env = Env::new();
    let version = env.run(&["--version"]);
    version.expect_code(0);
    assert!(version.stdout.starts_with("containrlab 0.1.0 (commit "), "{}", version.stdout);
    let bash = env.run(&["completions", "bash"]);
    bash.expect_code(0);
    assert!(
        bash.stdout.contains("_containrlab()") && bash.stdout.contains("--allow-region-override"),
        "{}",
        bash.stdout
    );
    let help = env.run(&["up", "--help"]);
    assert!(help.stdout.contains("Global options:\n  -f, --file <FILE>"), "{}", help.stdout);
    let top = env.run(&["--help"]);
    assert!(top.stdout.contains("Exit codes:\n  0  success") && top.stdout.contains("Examples:"), "{}", top.stdout);
}

/// A call that never answers fails at the configured deadline, naming the endpoint and the call,
/// instead of hanging the command. The endpoint here accepts connections and never replies.
#[test]
fn a_hung_endpoint_fails_at_the_call_timeout() {
    let env = Env::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming() {
            open.push(stream); // held open, never answered
        }
    });
    let limits = [("CONTAINRLAB_CALL_TIMEOUT_SECONDS", "1"), ("CONTAINRLAB_OPERATION_TIMEOUT_SECONDS", "2")];
    let hung = env.run_with(&endpoint, &limits, &["diff"]);
    hung.expect_code(1);
    assert!(
        hung.stderr.contains(&format!("error: {endpoint} did not answer STS GetCallerIdentity in time")),
        "{}",
        hung.stderr
    );
}
