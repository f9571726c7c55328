//! Waiting for an ECS service to be stable on the requested revision, and the evidence quoted when
//! it is not: the service's latest events and its stopped tasks' reasons. The stability rule is
//! judged on the SDK's own values, so it is tested without AWS.

use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_ecs::types::{DeploymentRolloutState, DesiredStatus, Service as EcsService};
use aws_sdk_ecs::Client;

use crate::aws::consistency::Patience;
use crate::aws::wait::{self, Check};
use crate::model::consistency::SERVICE_VISIBLE;
use crate::model::Address;

/// What one look at a service says about its deployment of `requested`.
#[derive(Debug, PartialEq)]
pub enum Stability {
    Stable,
    InProgress(String),
    /// The circuit breaker failed the deployment (and, with rollback, went back).
    Failed(String),
}

/// AWS's own definition of "stable" (one deployment, running = desired), on the requested revision.
pub fn stability(s: &EcsService, requested: &str) -> Stability {
    let deployments = s.deployments();
    if let Some(failed) = deployments.iter().find(|d| d.rollout_state() == Some(&DeploymentRolloutState::Failed)) {
        let reason = failed.rollout_state_reason().unwrap_or("the deployment failed");
        return Stability::Failed(format!("deployment of {} failed: {reason}", short(failed.task_definition())));
    }
    let primary = deployments.iter().find(|d| d.status() == Some("PRIMARY"));
    if s.task_definition() != Some(requested) && deployments.len() == 1 {
        let rolled_back = primary.is_some_and(|p| p.task_definition() != Some(requested))
            && s.events().iter().take(5).any(|e| e.message().is_some_and(|m| m.contains("rolling back")));
        if rolled_back {
            return Stability::Failed(format!(
                "rolled back to {} (asked for {})",
                short(s.task_definition()),
                short(Some(requested))
            ));
        }
    }
    let on_requested = s.task_definition() == Some(requested);
    let rollout_done = primary.and_then(|p| p.rollout_state()).is_none_or(|r| *r == DeploymentRolloutState::Completed);
    if on_requested && deployments.len() <= 1 && s.running_count() == s.desired_count() && rollout_done {
        return Stability::Stable;
    }
    Stability::InProgress(format!(
        "{} of {} tasks running, {} deployment(s), revision {}",
        s.running_count(),
        s.desired_count(),
        deployments.len(),
        short(s.task_definition())
    ))
}

fn short(arn: Option<&str>) -> String {
    arn.and_then(|a| a.rsplit('/').next()).unwrap_or("(none)").to_string()
}

/// Waits until the service is stable on `requested`. ECS's reads are eventually consistent: a
/// service created moments ago may be reported MISSING for a while (`service-visible`).
pub(crate) async fn wait_stable(
    ecs: &Client,
    address: &Address,
    cluster: &str,
    name: &str,
    requested: &str,
) -> Result<()> {
    let what = format!("{address} to be stable on {}", short(Some(requested)));
    // A rolling deployment of one Fargate task behind a load balancer: start, health checks, drain.
    let typical = Duration::from_secs(60);
    let visible = Patience::new(&SERVICE_VISIBLE, address);
    let waited = wait::until_about(&what, wait::timeout(Duration::from_secs(15 * 60)), typical, || async {
        let Some(s) = current(ecs, cluster, name).await? else { return Ok(Check::Pending(visible.not_yet()?)) };
        visible.seen();
        Ok(match stability(&s, requested) {
            Stability::Stable => Check::Ready(None),
            Stability::InProgress(state) => Check::Pending(state),
            Stability::Failed(why) => Check::Ready(Some(why)),
        })
    })
    .await;
    let problem = match waited {
        Ok(None) => return Ok(()),
        Ok(Some(why)) => why,
        Err(e) => format!("{e:#}"),
    };
    bail!("{problem}\n{}", evidence(ecs, cluster, name).await)
}

/// One service as ECS reports it now (events and deployments included).
pub(super) async fn current(ecs: &Client, cluster: &str, name: &str) -> Result<Option<EcsService>> {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(name)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("describing {name}: {}", crate::aws::describe(&e)))?;
    Ok(out.services().first().cloned())
}

/// The service's latest events and its stopped tasks' reasons, for a failure message.
async fn evidence(ecs: &Client, cluster: &str, name: &str) -> String {
    let mut lines = Vec::new();
    if let Ok(Some(s)) = current(ecs, cluster, name).await {
        for e in s.events().iter().take(5) {
            lines.push(format!("  event: {}", e.message().unwrap_or_default()));
        }
    }
    let stopped =
        ecs.list_tasks().cluster(cluster).service_name(name).desired_status(DesiredStatus::Stopped).send().await;
    let arns: Vec<String> = stopped.map(|o| o.task_arns().iter().take(5).cloned().collect()).unwrap_or_default();
    if !arns.is_empty() {
        if let Ok(out) = ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send().await {
            lines.extend(stopped_reasons(out.tasks()));
        }
    }
    if lines.is_empty() {
        lines.push("  (the service reported no events and no stopped tasks)".into());
    }
    lines.join("\n")
}

pub fn stopped_reasons(tasks: &[aws_sdk_ecs::types::Task]) -> Vec<String> {
    tasks
        .iter()
        .map(|t| {
            let containers: Vec<String> =
                t.containers().iter().filter_map(|c| Some(format!("{}: {}", c.name()?, c.reason()?))).collect();
            let mut line =
                format!("  stopped task {}: {}", short(t.task_arn()), t.stopped_reason().unwrap_or("no reason given"));
            if !containers.is_empty() {
                line.push_str(&format!(" ({})", containers.join("; ")));
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{Deployment, ServiceEvent};

    const REV1: &str = "arn:aws:ecs:r:1:task-definition/app:1";
    const REV2: &str = "arn:aws:ecs:r:1:task-definition/app:2";

    fn deployment(td: &str, status: &str, state: DeploymentRolloutState) -> Deployment {
        Deployment::builder().task_definition(td).status(status).rollout_state(state).build()
    }

    fn service(td: &str, running: i32, deployments: Vec<Deployment>, events: &[&str]) -> EcsService {
        EcsService::builder()
            .task_definition(td)
            .desired_count(1)
            .running_count(running)
            .set_deployments(Some(deployments))
            .set_events(Some(events.iter().map(|m| ServiceEvent::builder().message(*m).build()).collect()))
            .build()
    }

    #[test]
    fn stable_means_one_deployment_on_the_requested_revision_with_every_task_running() {
        let s = service(REV2, 1, vec![deployment(REV2, "PRIMARY", DeploymentRolloutState::Completed)], &[]);
        assert_eq!(stability(&s, REV2), Stability::Stable);
    }

    #[test]
    fn a_deployment_under_way_is_in_progress() {
        let s = service(
            REV2,
            1,
            vec![
                deployment(REV2, "PRIMARY", DeploymentRolloutState::InProgress),
                deployment(REV1, "ACTIVE", DeploymentRolloutState::Completed),
            ],
            &[],
        );
        assert_eq!(
            stability(&s, REV2),
            Stability::InProgress("1 of 1 tasks running, 2 deployment(s), revision app:2".into())
        );
    }

    #[test]
    fn a_circuit_breaker_failure_is_reported_with_its_reason() {
        let mut failed = deployment(REV2, "ACTIVE", DeploymentRolloutState::Failed);
        failed.rollout_state_reason = Some("ECS deployment circuit breaker: tasks failed to start.".into());
        let s = service(REV1, 0, vec![deployment(REV1, "PRIMARY", DeploymentRolloutState::InProgress), failed], &[]);
        assert_eq!(
            stability(&s, REV2),
            Stability::Failed(
                "deployment of app:2 failed: ECS deployment circuit breaker: tasks failed to start.".into()
            )
        );
    }

    #[test]
    fn a_completed_rollback_is_a_failure_not_stability() {
        let events =
            ["(service app) rolling back to deployment ecs-svc/1.", "(service app) has reached a steady state."];
        let s = service(REV1, 1, vec![deployment(REV1, "PRIMARY", DeploymentRolloutState::Completed)], &events);
        assert_eq!(stability(&s, REV2), Stability::Failed("rolled back to app:1 (asked for app:2)".into()));
    }

    #[test]
    fn stopped_tasks_are_quoted_with_container_reasons() {
        use aws_sdk_ecs::types::{Container, Task};
        let t = Task::builder()
            .task_arn("arn:aws:ecs:r:1:task/c/abc")
            .stopped_reason("Essential container in task exited")
            .containers(Container::builder().name("api").reason("CannotPullContainerError: not found").build())
            .build();
        assert_eq!(
            stopped_reasons(&[t]),
            vec!["  stopped task abc: Essential container in task exited (api: CannotPullContainerError: not found)"]
        );
    }
}
