//! `run SERVICE -- COMMAND…`: a one-off task (a migration, a data fix, a smoke command) with a
//! service's task definition, subnets, security groups and roles; its container's log lines
//! while it runs; its exit code at the end.
//!
//! Invariants: one task is started per invocation — `RunTask` carries a client token, so the
//! SDK's retry of a call whose answer was lost returns the task AWS started instead of starting
//! a second migration (AWS: "RunTask … clientToken: an identifier that you provide to ensure the
//! idempotency of the request"); only the chosen container's command is overridden; the task is
//! never stopped by this command (an interrupted or timed-out wait leaves it running and says how
//! to stop it). The container's output goes to stdout, the command's own lines to stderr.

pub mod causes;

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerOverride, LaunchType, NetworkConfiguration, TaskOverride,
};
use serde_json::Value;
use tokio::time::Instant;

use crate::aws::{describe, Clients};
use crate::reconcile::ecs::service::ServiceFields;

/// Who started the task, as ECS shows it (`startedBy`: up to 36 letters, digits, `-`, `_`, `/`).
pub const STARTED_BY: &str = "containrlab-run";

/// Everything `RunTask` needs, taken from the service as ECS runs it.
#[derive(Debug, Clone)]
pub struct Launch {
    pub cluster: String,
    pub service: String,
    /// `family:revision`.
    pub definition: String,
    pub container: String,
    pub command: Vec<String>,
    pub network: ServiceFields,
    /// Where the container's awslogs lines go, when it logs to CloudWatch Logs.
    pub log: Option<LogSource>,
}

/// An awslogs destination: the stream of a task's container is `PREFIX/CONTAINER/TASK_ID`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSource {
    pub group: String,
    pub prefix: String,
}

impl LogSource {
    pub fn stream(&self, container: &str, task_arn: &str) -> String {
        format!("{}/{container}/{}", self.prefix, task_id(task_arn))
    }
}

/// The last segment of a task ARN (`…:task/CLUSTER/ID`).
pub fn task_id(task_arn: &str) -> &str {
    task_arn.rsplit('/').next().unwrap_or(task_arn)
}

/// The container of `definition` (a task definition in the file's JSON shape) that runs the
/// command: `wanted`, or the first essential container; an unknown name lists the ones there are.
pub fn container(definition: &Value, wanted: Option<&str>) -> Result<String> {
    let containers = definition["containerDefinitions"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = containers.iter().filter_map(|c| c["name"].as_str()).collect();
    if let Some(wanted) = wanted {
        if names.contains(&wanted) {
            return Ok(wanted.to_string());
        }
        bail!("container {wanted} is not in the task definition; it has: {}", names.join(", "));
    }
    let essential = containers.iter().find(|c| c["essential"].as_bool().unwrap_or(true));
    essential
        .and_then(|c| c["name"].as_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the task definition has no container"))
}

/// Where `container` of `definition` logs, when it uses the awslogs driver with a stream prefix
/// (without one, ECS names streams by task id alone and `run` cannot know the name in advance).
pub fn log_source(definition: &Value, container: &str) -> Option<LogSource> {
    let containers = definition["containerDefinitions"].as_array()?;
    let c = containers.iter().find(|c| c["name"] == container)?;
    let log = &c["logConfiguration"];
    if log["logDriver"] != "awslogs" {
        return None;
    }
    let options = &log["options"];
    Some(LogSource {
        group: options["awslogs-group"].as_str()?.to_string(),
        prefix: options["awslogs-stream-prefix"].as_str()?.to_string(),
    })
}

/// Starts the task; its ARN. A task ECS could not place is an error with the cause and the fix.
pub async fn start(clients: &Clients, launch: &Launch, token: &str) -> Result<String> {
    let n = &launch.network;
    let network = (!n.subnets.is_empty()).then(|| {
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(n.subnets.iter().cloned().collect()))
            .set_security_groups(Some(n.security_groups.iter().cloned().collect()))
            .set_assign_public_ip(n.assign_public_ip.map(|on| {
                if on {
                    AssignPublicIp::Enabled
                } else {
                    AssignPublicIp::Disabled
                }
            }))
            .build();
        vpc.map(|v| NetworkConfiguration::builder().awsvpc_configuration(v).build())
    });
    let network = network.transpose().map_err(|e| anyhow!("the service's network configuration: {e}"))?;
    let command =
        ContainerOverride::builder().name(&launch.container).set_command(Some(launch.command.clone())).build();
    let out = clients
        .ecs
        .run_task()
        .cluster(&launch.cluster)
        .task_definition(&launch.definition)
        .launch_type(LaunchType::from(n.launch_type.as_str()))
        .set_network_configuration(network)
        .overrides(TaskOverride::builder().container_overrides(command).build())
        .started_by(STARTED_BY)
        .count(1)
        .client_token(token)
        .send()
        .await
        .map_err(|e| anyhow!("RunTask {} in {}: {}", launch.definition, launch.cluster, describe(&e)))?;
    if let Some(task) = out.tasks().first().and_then(|t| t.task_arn()) {
        return Ok(task.to_string());
    }
    let failures: Vec<(String, String)> = out
        .failures()
        .iter()
        .map(|f| (f.reason().unwrap_or("?").to_string(), f.detail().unwrap_or_default().to_string()))
        .collect();
    bail!("{}", causes::not_placed(&launch.cluster, &failures))
}

/// How the task ended, as ECS reported it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct End {
    /// The chosen container's exit code; `None` when it never ran (or ECS has none).
    pub exit_code: Option<i32>,
    /// ECS's `stopCode` (`TaskFailedToStart`, `EssentialContainerExited`, `UserInitiated`, …).
    pub stop_code: String,
    pub stopped_reason: String,
    /// The container's own `reason` (`CannotPullContainerError: …`).
    pub container_reason: String,
    /// Whether the task ever got to RUNNING (ECS's `startedAt`).
    pub started: bool,
}

/// Waits for the task to stop, printing the container's new log lines on every poll; then its
/// end. The lines go to stdout, or to stderr when stdout carries a JSON document. An interrupt
/// or `timeout` ends the wait (not the task) with an error saying so.
pub async fn follow(
    clients: &Clients,
    launch: &Launch,
    task_arn: &str,
    timeout: Duration,
    to_stdout: bool,
) -> Result<End> {
    let start = Instant::now();
    let mut logs = launch.log.as_ref().map(|l| Tail {
        group: l.group.clone(),
        stream: l.stream(&launch.container, task_arn),
        token: None,
        to_stdout,
    });
    let mut last = String::new();
    for attempt in 0.. {
        let task = describe_task(clients, &launch.cluster, task_arn).await?;
        let status = task.last_status().unwrap_or("?").to_string();
        if status != last {
            eprintln!("run: task {} {status} [{}]", task_id(task_arn), crate::aws::wait::elapsed(start));
            last = status.clone();
        }
        // Read after the describe: a STOPPED task's container has exited and its log driver
        // flushed (the task passes DEACTIVATING and DEPROVISIONING first), so this read has its
        // last lines.
        if let Some(tail) = logs.as_mut() {
            tail.print_new(&clients.logs).await?;
        }
        if status == "STOPPED" {
            return Ok(end_of(&task, &launch.container));
        }
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            bail!(
                "task {} is still {status} after {}s (--timeout); it goes on: `containrlab logs {}` follows it, {}",
                task_id(task_arn),
                timeout.as_secs(),
                launch.service,
                stop_hint(launch, task_arn)
            );
        }
        tokio::select! {
            () = tokio::time::sleep(crate::aws::wait::delay(attempt).min(left)) => {}
            () = crate::interrupt::stopping() => {
                let what = format!("stopped waiting for task {}; it goes on: {}", task_id(task_arn), stop_hint(launch, task_arn));
                return Err(crate::interrupt::Interrupted::new(what).into());
            }
        }
    }
    unreachable!("the loop returns or fails")
}

/// How to stop the task by hand (this command never does).
pub fn stop_hint(launch: &Launch, task_arn: &str) -> String {
    format!("`aws ecs stop-task --cluster {} --task {}` stops it", launch.cluster, task_id(task_arn))
}

async fn describe_task(clients: &Clients, cluster: &str, task_arn: &str) -> Result<aws_sdk_ecs::types::Task> {
    let out = clients
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .tasks(task_arn)
        .send()
        .await
        .map_err(|e| anyhow!("DescribeTasks {}: {}", task_id(task_arn), describe(&e)))?;
    out.tasks().first().cloned().ok_or_else(|| anyhow!("ECS does not know task {} in {cluster}", task_id(task_arn)))
}

fn end_of(task: &aws_sdk_ecs::types::Task, container: &str) -> End {
    let c = task.containers().iter().find(|c| c.name() == Some(container));
    End {
        exit_code: c.and_then(|c| c.exit_code()),
        stop_code: task.stop_code().map(|s| s.as_str().to_string()).unwrap_or_default(),
        stopped_reason: task.stopped_reason().unwrap_or_default().to_string(),
        container_reason: c.and_then(|c| c.reason()).unwrap_or_default().to_string(),
        started: task.started_at().is_some(),
    }
}

/// The new events of one log stream, read from its start with GetLogEvents' forward token.
struct Tail {
    group: String,
    stream: String,
    token: Option<String>,
    to_stdout: bool,
}

impl Tail {
    /// Prints every event after the last one printed. A stream not made yet has none.
    async fn print_new(&mut self, logs: &aws_sdk_cloudwatchlogs::Client) -> Result<()> {
        loop {
            let out = logs
                .get_log_events()
                .log_group_name(&self.group)
                .log_stream_name(&self.stream)
                .start_from_head(true)
                .set_next_token(self.token.clone())
                .send()
                .await;
            let out = match out {
                Ok(out) => out,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(()),
                Err(e) => {
                    return Err(anyhow!("reading log stream {} of {}: {}", self.stream, self.group, describe(&e)))
                }
            };
            for event in out.events() {
                let line = event.message().unwrap_or_default().trim_end_matches('\n');
                if self.to_stdout {
                    println!("{line}");
                } else {
                    eprintln!("{line}");
                }
            }
            let next = out.next_forward_token().map(str::to_string);
            if next.is_none() || next == self.token {
                return Ok(());
            }
            self.token = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn definition() -> Value {
        json!({"containerDefinitions": [
            {"name": "sidecar", "essential": false},
            {"name": "api", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/api", "awslogs-stream-prefix": "api"}}},
            {"name": "web", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web"}}}
        ]})
    }

    #[test]
    fn the_command_runs_in_the_named_or_first_essential_container() {
        assert_eq!(container(&definition(), None).unwrap(), "api");
        assert_eq!(container(&definition(), Some("web")).unwrap(), "web");
        let err = container(&definition(), Some("db")).unwrap_err().to_string();
        assert_eq!(err, "container db is not in the task definition; it has: sidecar, api, web");
    }

    #[test]
    fn log_lines_are_read_from_the_awslogs_stream_of_the_task() {
        let source = log_source(&definition(), "api").expect("awslogs");
        assert_eq!(source.stream("api", "arn:aws:ecs:us-east-1:1:task/c/0f1e2d"), "api/api/0f1e2d");
        assert_eq!(log_source(&definition(), "web"), None, "no stream prefix: the stream name is not known");
        assert_eq!(log_source(&definition(), "sidecar"), None);
    }
}
