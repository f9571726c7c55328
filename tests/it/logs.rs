//! `logs`: a group by its short name or a service, lines prefixed with container and task id,
//! `--since` and `--filter` honoured, an unknown name refused before any AWS call.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_cloudwatchlogs::Client as Logs;

use crate::support::Env;

fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[test]
fn logs_prints_a_groups_events_by_short_name_with_the_task_id_first() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    let logs = Logs::new(&env.sdk());
    let now = now_millis();
    for (group, stream, events) in [
        (
            "/ecs/containrlab-api",
            "ecs/api/3f2a9c1be4d04b7a",
            vec![(now - 5_000, "GET /health 200"), (now - 4_000, "ERROR db timeout")],
        ),
        ("/ecs/containrlab-web", "ecs/web/77aa00bb11cc22dd", vec![(now - 3_000, "ready on :3000")]),
        ("/ecs/containrlab-api", "ecs/api/00000000old", vec![(now - 7_200_000, "two hours ago")]),
    ] {
        env.block_on(logs.create_log_stream().log_group_name(group).log_stream_name(stream).send()).expect("stream");
        let events: Vec<InputLogEvent> = events
            .into_iter()
            .map(|(t, m)| InputLogEvent::builder().timestamp(t).message(m).build().expect("event"))
            .collect();
        let put = logs.put_log_events().log_group_name(group).log_stream_name(stream).set_log_events(Some(events));
        env.block_on(put.send()).expect("put events");
    }

    let api = env.run(&["logs", "api"]);
    api.expect_code(0);
    let lines: Vec<&str> = api.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "the last 10 minutes only: {}", api.stdout);
    assert!(lines[0].starts_with("api/3f2a9c1be4d04b7a 20") && lines[0].ends_with(" GET /health 200"), "{}", lines[0]);
    assert!(api.mutating_calls().is_empty());

    let longer = env.run(&["logs", "/ecs/containrlab-api", "--since", "3h"]);
    assert!(
        longer.stdout.starts_with("api/00000000old ") && longer.stdout.contains("two hours ago"),
        "{}",
        longer.stdout
    );

    let errors = env.run(&["logs", "containrlab-api", "--filter", "ERROR"]);
    assert_eq!(errors.stdout.lines().count(), 1, "{}", errors.stdout);
    assert!(errors.stdout.contains("ERROR db timeout"));

    // A service: every group its containers log to, in time order.
    let service = env.run(&["logs", "containrlab-service"]);
    let prefixes: Vec<&str> = service.stdout.lines().map(|l| l.split(' ').next().unwrap_or_default()).collect();
    assert_eq!(
        prefixes,
        ["api/3f2a9c1be4d04b7a", "api/3f2a9c1be4d04b7a", "web/77aa00bb11cc22dd"],
        "{}",
        service.stdout
    );

    let unknown = env.run(&["logs", "db"]);
    unknown.expect_code(1);
    assert!(
        unknown.stderr.contains("no log group or service is called `db`; the stack file has: "),
        "{}",
        unknown.stderr
    );
    assert!(unknown.stderr.contains("api, runner, web"), "{}", unknown.stderr);
    assert_eq!(unknown.total_calls(), 0);
}

/// `--follow` prints an event written after it started, once, and stops on SIGINT (exit 130).
#[test]
fn logs_follow_prints_new_events_until_interrupted() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    let (mut cmd, _) = env.command(&env.moto.endpoint, &["logs", "web", "--follow"]);
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).stdin(Stdio::null()).spawn().expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(std::time::Duration::from_secs(1));
    let logs = Logs::new(&env.sdk());
    let (group, stream) = ("/ecs/containrlab-web", "ecs/web/follow0001");
    env.block_on(logs.create_log_stream().log_group_name(group).log_stream_name(stream).send()).expect("stream");
    let event =
        InputLogEvent::builder().timestamp(now_millis()).message("written while following").build().expect("event");
    let put = logs.put_log_events().log_group_name(group).log_stream_name(stream).log_events(event);
    env.block_on(put.send()).expect("put");
    let line = rx.recv_timeout(std::time::Duration::from_secs(20)).expect("the new event within 20 s");
    assert!(line.starts_with("web/follow0001 ") && line.ends_with(" written while following"), "{line}");
    // Polled again at least twice more: the event is not printed a second time.
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert!(rx.try_recv().is_err(), "an event printed twice");
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
}
