//! `logs NAME [--since D] [--follow] [--filter PATTERN]`: the stack's log groups by their short
//! name, like `aws logs tail`. NAME is a declared log group (`/ecs/containrlab-api`), its last
//! segment (`containrlab-api`), that without the stack's prefix (`api`), or a service name (every
//! group its task definition's containers log to). Each line starts with the stream's container and
//! task id (`api/3f2a…`, awslogs' `PREFIX/CONTAINER/TASK` stream names), then the time (UTC).
//!
//! Invariants: read-only (FilterLogEvents); `--follow` polls every 2 s from the newest event
//! seen, printing each event once (by its id), until Ctrl-C; an unknown NAME is an error that
//! lists the names there are, before any AWS call.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};

use crate::model::desired::Desired;

/// The log groups `name` stands for.
pub fn resolve(desired: &Desired, name: &str) -> Result<Vec<String>> {
    let groups: Vec<&str> = desired.log_groups.iter().map(|g| g.name.as_str()).collect();
    let short = |g: &str| -> (String, String) {
        let last = g.rsplit('/').next().unwrap_or(g).to_string();
        let bare = last.strip_prefix(&format!("{}-", desired.stack)).unwrap_or(&last).to_string();
        (last, bare)
    };
    let matching: Vec<String> = groups
        .iter()
        .filter(|g| {
            let (last, bare) = short(g);
            **g == name || last == name || bare == name
        })
        .map(|g| g.to_string())
        .collect();
    if !matching.is_empty() {
        return Ok(matching);
    }
    if let Some(service) = desired.services.iter().find(|s| s.name == name) {
        let containers = service.task_definition.json["containerDefinitions"].as_array().cloned().unwrap_or_default();
        let of_service: BTreeSet<String> = containers
            .iter()
            .filter_map(|c| c["logConfiguration"]["options"]["awslogs-group"].as_str().map(str::to_string))
            .collect();
        if !of_service.is_empty() {
            return Ok(of_service.into_iter().collect());
        }
        bail!("service {name} has no container that logs to CloudWatch Logs (awslogs)");
    }
    let mut names: Vec<String> = groups.iter().map(|g| short(g).1).collect();
    names.extend(desired.services.iter().map(|s| s.name.clone()));
    bail!("no log group or service is called `{name}`; the stack file has: {}", names.join(", "))
}

/// `90s`, `30m`, `1h`, `2d` (or a plain number of seconds).
pub fn parse_since(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 =
        number.parse().map_err(|_| anyhow!("--since {text}: expected a duration such as 90s, 30m, 1h or 2d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => bail!("--since {text}: the unit is s, m, h or d (90s, 30m, 1h, 2d)"),
    };
    Ok(Duration::from_secs(secs))
}

/// The prefix of a line: the last two segments of an awslogs stream name (`CONTAINER/TASK`).
pub fn stream_prefix(stream: &str) -> &str {
    let mut cut = stream.rmatch_indices('/');
    match (cut.next(), cut.next()) {
        (Some(_), Some((i, _))) => &stream[i + 1..],
        _ => stream,
    }
}

/// One printed line.
pub fn line(stream: &str, millis: i64, message: &str) -> String {
    let time = aws_smithy_types::DateTime::from_millis(millis)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    format!("{} {} {}", stream_prefix(stream), time, message.trim_end_matches('\n'))
}

/// Prints the events of `groups` since `since` ago (and, with `follow`, what comes after).
pub async fn tail(
    logs: &aws_sdk_cloudwatchlogs::Client,
    groups: &[String],
    since: Duration,
    follow: bool,
    filter: Option<&str>,
) -> Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let mut start = now - since.as_millis() as i64;
    let mut seen: BTreeSet<String> = BTreeSet::new();
    loop {
        let mut events = Vec::new();
        for group in groups {
            let pages = logs
                .filter_log_events()
                .log_group_name(group)
                .start_time(start)
                .set_filter_pattern(filter.map(str::to_string))
                .into_paginator()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| anyhow!("reading log group {group}: {}", crate::aws::describe(&e)))?;
            events.extend(pages.into_iter().flat_map(|p| p.events.unwrap_or_default()));
        }
        events.sort_by_key(|e| (e.timestamp().unwrap_or_default(), e.event_id().unwrap_or_default().to_string()));
        for e in events {
            let id = e.event_id().unwrap_or_default().to_string();
            if !seen.insert(id) {
                continue;
            }
            let t = e.timestamp().unwrap_or_default();
            start = start.max(t);
            println!("{}", line(e.log_stream_name().unwrap_or_default(), t, e.message().unwrap_or_default()));
        }
        if !follow {
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
            () = crate::interrupt::stopping() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_stream_prefixes() {
        assert_eq!(parse_since("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_since("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_since("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse_since("45").unwrap(), Duration::from_secs(45));
        assert!(parse_since("1w").unwrap_err().to_string().contains("the unit is s, m, h or d"));
        assert!(parse_since("h").is_err());
        assert_eq!(stream_prefix("ecs/api/3f2a9c1b"), "api/3f2a9c1b");
        assert_eq!(stream_prefix("plain"), "plain");
        assert_eq!(line("ecs/web/abc", 0, "ready\n"), "web/abc 1970-01-01T00:00:00Z ready");
    }
}
