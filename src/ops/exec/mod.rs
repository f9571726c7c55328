//! `exec`'s preflight (also `doctor --exec SERVICE`): each way ECS Exec fails, checked before
//! connecting, with its cause and fix — the stack file's `exec` flag, the service's
//! `enableExecuteCommand`, a running task started with it, the platform (Fargate 1.4.0, or ECS
//! agent 1.50.2 on EC2), the exec agent running in the container, the task role's `ssmmessages`
//! permissions, and the Session Manager plugin on this machine (`plugin`). The caller's own
//! `ecs:ExecuteCommand` permission is AWS's answer to the connection itself (`connect_error`).
//!
//! Requirements from AWS's "Monitor Amazon ECS containers with ECS Exec" (prerequisites,
//! considerations, troubleshooting: the task must be started after the flag is on; the managed
//! agent `ExecuteCommandAgent` must be RUNNING; the task role needs the four `ssmmessages`
//! actions; Fargate platform 1.4.0 or later, ECS agent 1.50.2 or later).
//!
//! Invariants: read-only; a check that cannot be made because an earlier one failed (no task, no
//! service) is not reported as passed; every `Fail` carries its fix.

pub mod plugin;
mod role;

use anyhow::{anyhow, Result};
use aws_sdk_ecs::types::Task;

use crate::aws::{describe, Clients};
use crate::model::compute::{Service, EXEC_ACTIONS};
use crate::model::tags::{owner, Owner};
use crate::ops::doctor::{finding, Finding, Status};
use crate::reconcile::ecs::service::describe_declared;

/// Where a session goes: ECS's target for Session Manager is `ecs:CLUSTER_TASKID_RUNTIMEID`.
#[derive(Debug, Clone)]
pub struct Target {
    pub cluster: String,
    pub task_arn: String,
    pub container: String,
    pub runtime_id: String,
}

impl Target {
    pub fn ssm_target(&self) -> String {
        format!("ecs:{}_{}_{}", self.cluster, crate::ops::run::task_id(&self.task_arn), self.runtime_id)
    }
}

/// The findings, and the target when the checks found one.
pub struct Preflight {
    pub findings: Vec<Finding>,
    pub target: Option<Target>,
}

impl Preflight {
    pub fn passed(&self) -> bool {
        crate::ops::doctor::passed(&self.findings)
    }
}

/// Runs every check for `service` (one of the stack file's), on `task` (an id) or its newest
/// running task, in `container` or the task definition's first essential one.
pub async fn preflight(
    clients: &Clients,
    stack: &str,
    service: &Service,
    task: Option<&str>,
    container: Option<&str>,
) -> Result<Preflight> {
    let container = crate::ops::run::container(&service.task_definition.json, container)?;
    let mut out = Vec::new();
    let name = &service.name;
    out.push(if service.exec {
        finding("stack file", Status::Pass, format!("exec: true on {name}"), None)
    } else {
        let fix = format!(
            "add `exec: true` to ecs.services.{name} and accept the `ecs-exec` risk in `allow:` (`containrlab validate` names the entry), then `containrlab up`"
        );
        finding("stack file", Status::Fail, format!("exec is off for {name}"), Some(fix))
    });
    let plugin = plugin::check();
    let found = describe_declared(&clients.ecs, std::slice::from_ref(service)).await?;
    let Some(live) = found.into_iter().next() else {
        let fix = "`containrlab up` creates it".to_string();
        out.push(finding("service", Status::Fail, format!("{name} does not exist in {}", service.cluster), Some(fix)));
        out.push(plugin);
        return Ok(Preflight { findings: out, target: None });
    };
    if owner(stack, &live.tags) != Owner::ThisStack {
        let fix = "`containrlab adopt` takes it over".to_string();
        out.push(finding("service", Status::Fail, format!("{name} is not stack {stack}'s"), Some(fix)));
        out.push(plugin);
        return Ok(Preflight { findings: out, target: None });
    }
    out.push(if live.fields.exec {
        finding("service", Status::Pass, format!("{name}: enableExecuteCommand on"), None)
    } else {
        let fix = "`containrlab up` turns it on (with `exec: true` in the stack file) and starts new tasks".to_string();
        finding("service", Status::Fail, format!("{name}: enableExecuteCommand is off in ECS"), Some(fix))
    });
    let Some(task) = pick_task(clients, service, task).await? else {
        let fix = "`containrlab status` shows the service's tasks and events".to_string();
        out.push(finding("task", Status::Fail, format!("no running task of {name}"), Some(fix)));
        out.push(plugin);
        return Ok(Preflight { findings: out, target: None });
    };
    let id = crate::ops::run::task_id(task.task_arn().unwrap_or_default()).to_string();
    out.push(if task.enable_execute_command() {
        finding("task", Status::Pass, format!("{id}: started with ECS Exec"), None)
    } else {
        let fix = "only tasks started after exec was turned on have it: `containrlab up` started a new deployment when it turned exec on; wait for it (`containrlab status`), then pick a new task (or --task ID)".to_string();
        finding("task", Status::Fail, format!("{id} was started without ECS Exec (before exec was turned on)"), Some(fix))
    });
    out.push(platform(clients, service, &task).await);
    let live_container = task.containers().iter().find(|c| c.name() == Some(container.as_str()));
    let (agent, runtime_id) = match live_container {
        None => {
            let names: Vec<&str> = task.containers().iter().filter_map(|c| c.name()).collect();
            let fix = format!("--container one of: {}", names.join(", "));
            (finding("agent", Status::Fail, format!("task {id} has no container {container}"), Some(fix)), None)
        }
        Some(c) => (agent(c, &container), c.runtime_id().map(str::to_string)),
    };
    out.push(agent);
    out.push(task_role(clients, &task).await);
    out.push(plugin);
    let target = runtime_id.map(|runtime_id| Target {
        cluster: service.cluster.clone(),
        task_arn: task.task_arn().unwrap_or_default().to_string(),
        container: container.clone(),
        runtime_id,
    });
    Ok(Preflight { findings: out, target })
}

/// `id`, or the service's newest RUNNING task (one started with exec preferred).
async fn pick_task(clients: &Clients, service: &Service, id: Option<&str>) -> Result<Option<Task>> {
    let ecs = &clients.ecs;
    let arns = match id {
        Some(id) => vec![id.to_string()],
        None => {
            let listed = ecs
                .list_tasks()
                .cluster(&service.cluster)
                .service_name(&service.name)
                .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
                .send()
                .await
                .map_err(|e| anyhow!("listing the tasks of {}: {}", service.name, describe(&e)))?;
            listed.task_arns().to_vec()
        }
    };
    if arns.is_empty() {
        return Ok(None);
    }
    let out = ecs
        .describe_tasks()
        .cluster(&service.cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .map_err(|e| anyhow!("describing the tasks of {}: {}", service.name, describe(&e)))?;
    let mut running: Vec<Task> = out.tasks().iter().filter(|t| t.last_status() == Some("RUNNING")).cloned().collect();
    if let Some(id) = id {
        let group = format!("service:{}", service.name);
        if running.iter().any(|t| t.group().is_some_and(|g| g != group)) {
            anyhow::bail!("task {id} is not a task of service {}", service.name);
        }
    }
    running.sort_by_key(|t| (t.enable_execute_command(), t.started_at().map(|d| d.secs()).unwrap_or_default()));
    Ok(running.pop())
}

/// Fargate platform 1.4.0 or later; on EC2, ECS agent 1.50.2 or later.
async fn platform(clients: &Clients, service: &Service, task: &Task) -> Finding {
    if service.launch_type == "FARGATE" {
        let version = task.platform_version().unwrap_or("LATEST");
        return match version_at_least(version, &[1, 4, 0]) {
            Some(false) => finding(
                "platform",
                Status::Fail,
                format!("Fargate platform {version}: ECS Exec needs 1.4.0 or later"),
                Some("a new deployment on LATEST: `aws ecs update-service --platform-version LATEST --force-new-deployment`".into()),
            ),
            _ => finding("platform", Status::Pass, format!("Fargate platform {version}"), None),
        };
    }
    let Some(instance) = task.container_instance_arn() else {
        return finding("platform", Status::Pass, "EC2 (no container instance reported)", None);
    };
    let described =
        clients.ecs.describe_container_instances().cluster(&service.cluster).container_instances(instance).send().await;
    let agent = match described {
        Ok(out) => out
            .container_instances()
            .first()
            .and_then(|i| i.version_info())
            .and_then(|v| v.agent_version())
            .map(str::to_string),
        Err(e) => {
            return finding(
                "platform",
                Status::ByHand,
                format!("the instance's ECS agent: {}", describe(&e)),
                Some("ECS Exec needs ECS agent 1.50.2 or later".into()),
            )
        }
    };
    match agent {
        Some(v) if version_at_least(&v, &[1, 50, 2]) == Some(false) => finding(
            "platform",
            Status::Fail,
            format!("ECS agent {v}: ECS Exec needs 1.50.2 or later"),
            Some(
                "a newer ECS-optimized AMI: `containrlab up` replaces the instance when the AMI parameter moves".into(),
            ),
        ),
        Some(v) => finding("platform", Status::Pass, format!("ECS agent {v}"), None),
        None => finding("platform", Status::Pass, "EC2 (agent version not reported)", None),
    }
}

/// `version` (`1.4.0`, `v1.51.0`) at least `min`; `None` when it is not numbers (`LATEST`).
fn version_at_least(version: &str, min: &[u32]) -> Option<bool> {
    let parts: Option<Vec<u32>> = version.trim_start_matches('v').split('.').map(|p| p.parse().ok()).collect();
    let mut parts = parts?;
    parts.resize(min.len().max(parts.len()), 0);
    Some(parts.as_slice() >= min)
}

fn agent(c: &aws_sdk_ecs::types::Container, name: &str) -> Finding {
    let exec = c.managed_agents().iter().find(|a| a.name().is_some_and(|n| n.as_str() == "ExecuteCommandAgent"));
    match exec.and_then(|a| a.last_status()) {
        Some("RUNNING") => finding("agent", Status::Pass, format!("ExecuteCommandAgent RUNNING in {name}"), None),
        status => {
            let reason = exec.and_then(|a| a.reason()).map(|r| format!(" ({r})")).unwrap_or_default();
            let status = status.unwrap_or("not there");
            let fix = "the agent needs the task role's ssmmessages permissions (the `task role` check) and a route to Session Manager (the NAT gateway, or an ssmmessages VPC endpoint); a new task picks up the fix".to_string();
            finding("agent", Status::Fail, format!("ExecuteCommandAgent in {name}: {status}{reason}"), Some(fix))
        }
    }
}

/// The task role allows the four `ssmmessages` actions (its inline and attached policies).
async fn task_role(clients: &Clients, task: &Task) -> Finding {
    let arn = task.task_definition_arn().unwrap_or_default();
    let definition = clients.ecs.describe_task_definition().task_definition(arn).send().await;
    let role = match definition {
        Ok(out) => out.task_definition().and_then(|t| t.task_role_arn()).map(str::to_string),
        Err(e) => return finding("task role", Status::ByHand, format!("{arn}: {}", describe(&e)), None),
    };
    let Some(role) = role else {
        let fix = "give the task definition a \"taskRoleArn\": \"${role:NAME}\"".to_string();
        return finding("task role", Status::Fail, "the task has no task role", Some(fix));
    };
    let name = role.rsplit('/').next().unwrap_or(&role).to_string();
    match role::allows(&clients.iam, &name, &EXEC_ACTIONS).await {
        Ok(missing) if missing.is_empty() => {
            finding("task role", Status::Pass, format!("{name} allows ssmmessages"), None)
        }
        Ok(missing) => finding(
            "task role",
            Status::Fail,
            format!("{name} does not allow {}", missing.join(", ")),
            Some("`exec: true` in the stack file gives it the containrlab-ecs-exec policy: `containrlab up`".into()),
        ),
        Err(e) => finding(
            "task role",
            Status::ByHand,
            format!("{name}: {e:#}"),
            Some(format!("check that {name} allows {}", EXEC_ACTIONS.join(", "))),
        ),
    }
}

/// AWS's answer to `ExecuteCommand` in the operator's words: the cause and the fix.
pub fn connect_error(code: &str, message: &str, caller: &str, target: &Target) -> String {
    match code {
        "AccessDeniedException" => format!(
            "you ({caller}) may not call ecs:ExecuteCommand on task {}: {message}\n  fix: grant ecs:ExecuteCommand on arn:aws:ecs:REGION:ACCOUNT:task/{}/* to that identity",
            crate::ops::run::task_id(&target.task_arn),
            target.cluster
        ),
        "TargetNotConnectedException" => format!(
            "the exec agent in the task is not connected to Session Manager: {message}\n  fix: the task role's ssmmessages permissions and the route from its subnets to Session Manager (NAT gateway or VPC endpoint); then a new task"
        ),
        _ => format!("ExecuteCommand: {code}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_versions_compare_by_number() {
        assert_eq!(version_at_least("1.4.0", &[1, 4, 0]), Some(true));
        assert_eq!(version_at_least("1.3.0", &[1, 4, 0]), Some(false));
        assert_eq!(version_at_least("1.50.10", &[1, 50, 2]), Some(true));
        assert_eq!(version_at_least("v1.49.0", &[1, 50, 2]), Some(false));
        assert_eq!(version_at_least("LATEST", &[1, 4, 0]), None);
        assert_eq!(version_at_least("2", &[1, 4, 0]), Some(true));
    }
}
