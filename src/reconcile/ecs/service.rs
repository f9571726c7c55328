//! ECS services: launch type, desired count, task-definition revision, awsvpc network
//! configuration, load-balancer mappings, deployment circuit breaker, tags.
//!
//! `up` waits until each created or updated service is stable on the requested revision: one
//! deployment, on that revision, as many tasks running as desired. A circuit-breaker rollback or
//! the deadline fails the step, quoting the service's latest events and stopped tasks' reasons.
//! `down` scales a service to zero, deletes it and waits until it is gone (drained) before its
//! cluster, capacity and target groups go.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentRolloutState,
    DesiredStatus, LaunchType, LoadBalancer, NetworkConfiguration, Service as EcsService, ServiceField,
};
use aws_sdk_ecs::Client;

use crate::aws::concurrent;
use crate::aws::wait::{self, Check};
use crate::diff::FieldDiff;
use crate::model::compute::Service;
use crate::model::tags::Tags;
use crate::model::{Address, Kind};
use crate::plan::build::{diff_kind, PlanContext, ServiceDiff};
use crate::plan::{Action, Plan};
use crate::reconcile::kit::Observed;
use crate::reconcile::kit::{referenced_names, Ids, CONCURRENCY};
use crate::reconcile::tags;

use super::task_definition::{target, Target};
use super::ObservedEcs;

#[derive(Debug, Clone, Default)]
pub struct ServiceFields {
    pub cluster: String,
    pub launch_type: String,
    pub desired_count: i32,
    pub task_definition_arn: String,
    pub subnets: BTreeSet<String>,
    pub security_groups: BTreeSet<String>,
    pub assign_public_ip: Option<bool>,
    /// `(target group ARN, container, port)`.
    pub load_balancers: BTreeSet<(String, String, i32)>,
    /// `rollback`, `enabled` or `disabled`; `None` when AWS reported no deployment configuration
    /// (AWS always does; moto does not keep it from CreateService).
    pub circuit_breaker: Option<String>,
}

/// The declared services, by name in their clusters.
pub(super) async fn describe_declared(ecs: &Client, services: &[Service]) -> Result<Vec<Observed<ServiceFields>>> {
    describe_in_clusters(ecs, per_cluster(services.iter().map(|s| (s.cluster.as_str(), s.name.clone())))).await
}

/// Services by ARN (`…:service/CLUSTER/NAME`).
pub(super) async fn describe_arns(ecs: &Client, arns: &[String]) -> Result<Vec<Observed<ServiceFields>>> {
    let with_cluster = arns.iter().filter_map(|arn| {
        let (cluster, _) = arn.split(":service/").nth(1)?.split_once('/')?;
        Some((cluster, arn.clone()))
    });
    describe_in_clusters(ecs, per_cluster(with_cluster)).await
}

/// `(cluster, service)` pairs grouped into DescribeServices requests of at most 10 services.
fn per_cluster<'a>(services: impl Iterator<Item = (&'a str, String)>) -> Vec<(String, Vec<String>)> {
    let mut requests: Vec<(String, Vec<String>)> = Vec::new();
    for (cluster, service) in services {
        match requests.iter_mut().find(|(c, names)| c == cluster && names.len() < 10) {
            Some((_, names)) => names.push(service),
            None => requests.push((cluster.to_string(), vec![service])),
        }
    }
    requests
}

async fn describe_in_clusters(
    ecs: &Client,
    requests: Vec<(String, Vec<String>)>,
) -> Result<Vec<Observed<ServiceFields>>> {
    let results = concurrent(requests, CONCURRENCY, |(cluster, names)| async move {
        match ecs
            .describe_services()
            .cluster(&cluster)
            .set_services(Some(names))
            .include(ServiceField::Tags)
            .send()
            .await
        {
            Ok(out) => Ok(out.services().iter().filter(|s| s.status() == Some("ACTIVE")).map(observed).collect()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_cluster_not_found_exception()) => Ok(Vec::new()),
            Err(e) => Err(anyhow::anyhow!("describing ECS services in {cluster}: {}", crate::aws::describe(&e))),
        }
    })
    .await;
    Ok(results.into_iter().collect::<Result<Vec<Vec<_>>>>()?.into_iter().flatten().collect())
}

fn observed(s: &EcsService) -> Observed<ServiceFields> {
    let vpc = s.network_configuration().and_then(|n| n.awsvpc_configuration());
    let breaker = s.deployment_configuration().map(|d| match d.deployment_circuit_breaker() {
        Some(b) if b.enable() && b.rollback() => "rollback",
        Some(b) if b.enable() => "enabled",
        _ => "disabled",
    });
    let cluster = s.cluster_arn().and_then(|a| a.rsplit('/').next()).unwrap_or_default();
    Observed {
        name: s.service_name().unwrap_or_default().to_string(),
        id: s.service_arn().unwrap_or_default().to_string(),
        tags: tags::from_ecs(s.tags()),
        fields: ServiceFields {
            cluster: cluster.to_string(),
            launch_type: s.launch_type().map(|l| l.as_str().to_string()).unwrap_or_default(),
            desired_count: s.desired_count(),
            task_definition_arn: s.task_definition().unwrap_or_default().to_string(),
            subnets: vpc.map(|v| v.subnets().iter().cloned().collect()).unwrap_or_default(),
            security_groups: vpc.map(|v| v.security_groups().iter().cloned().collect()).unwrap_or_default(),
            assign_public_ip: vpc.and_then(|v| v.assign_public_ip()).map(|a| *a == AssignPublicIp::Enabled),
            load_balancers: s
                .load_balancers()
                .iter()
                .map(|l| {
                    let tg = l.target_group_arn().unwrap_or_default().to_string();
                    (tg, l.container_name().unwrap_or_default().to_string(), l.container_port().unwrap_or_default())
                })
                .collect(),
            circuit_breaker: breaker.map(str::to_string),
        },
    }
}

fn breaker(d: &Service) -> String {
    if d.circuit_breaker_rollback { "rollback" } else { "enabled" }.to_string()
}

fn uses_awsvpc(d: &Service) -> bool {
    !d.subnets.is_empty()
}

fn mapping(tg: &str, container: &str, port: i32) -> String {
    format!("{tg} → {container}:{port}")
}

pub fn diff(ctx: &PlanContext, desired: &[Service], o: &ObservedEcs, ids: &Ids, plan: &mut Plan) {
    let (subnet_names, group_names, tg_names) =
        (ids.names(Kind::Subnet), ids.names(Kind::SecurityGroup), ids.names(Kind::TargetGroup));
    let renewed = |kind| crate::reconcile::kit::renewed(plan, kind);
    let (new_subnets, new_groups, new_tgs) =
        (renewed(Kind::Subnet), renewed(Kind::SecurityGroup), renewed(Kind::TargetGroup));
    let fields = |d: &Service, s: Option<&Observed<ServiceFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        let of = s.map(|s| &s.fields);
        f.field("cluster", of.map(|o| Some(o.cluster.clone())), Some(d.cluster.clone()));
        f.field("launch_type", of.map(|o| Some(o.launch_type.clone())), Some(d.launch_type.clone()));
        let (_, t) = target(ctx, d, o);
        let family = &d.task_definition.family;
        let wanted = match t {
            Target::Current(label, _) | Target::Existing(label, _) => label,
            Target::NewRevision => format!("{family}:(new revision)"),
        };
        let running = s.map(|s| o.running_definition(s).map(|r| format!("{}:{}", r.name, r.fields.revision)));
        f.field("task_definition", running, Some(wanted));
        f.field("desired_count", of.map(|o| Some(o.desired_count)), Some(d.desired_count));
        if uses_awsvpc(d) {
            let subnets = of.map(|o| referenced_names(&o.subnets, &subnet_names, &new_subnets));
            f.members("network.subnets", subnets.as_ref(), &d.subnets.iter().cloned().collect());
            let groups = of.map(|o| referenced_names(&o.security_groups, &group_names, &new_groups));
            f.members("network.security_groups", groups.as_ref(), &d.security_groups.iter().cloned().collect());
            f.field("network.assign_public_ip", of.map(|o| o.assign_public_ip), Some(d.assign_public_ip));
        }
        let lbs: BTreeSet<String> =
            d.load_balancers.iter().map(|l| mapping(&l.target_group, &l.container, l.port)).collect();
        let observed_lbs = of.map(|o| {
            o.load_balancers
                .iter()
                .map(|(tg, c, p)| {
                    let name = referenced_names(&BTreeSet::from([tg.clone()]), &tg_names, &new_tgs);
                    mapping(name.first().map_or(tg.as_str(), String::as_str), c, *p)
                })
                .collect::<BTreeSet<_>>()
        });
        f.members("load_balancers", observed_lbs.as_ref(), &lbs);
        // AWS always reports the deployment configuration; moto does not keep it from
        // CreateService. An unreported one is not a difference (it is set on create and update).
        if of.is_none_or(|o| o.circuit_breaker.is_some()) {
            f.field("circuit_breaker", of.map(|o| o.circuit_breaker.clone()), Some(breaker(d)));
        }
        f.tags(s.map(|s| &s.tags), tags);
        f
    };
    let depends = |d: &Service| {
        let mut v = vec![
            Address::new(Kind::EcsCluster, &d.cluster),
            Address::new(Kind::TaskDefinition, &d.task_definition.family),
        ];
        v.extend(d.load_balancers.iter().map(|l| Address::new(Kind::TargetGroup, &l.target_group)));
        v.extend(d.subnets.iter().map(|s| Address::new(Kind::Subnet, s)));
        v.extend(d.security_groups.iter().map(|g| Address::new(Kind::SecurityGroupRules, g)));
        if d.launch_type == "EC2" {
            v.push(Address::new(Kind::CapacityProvider, &d.cluster));
        }
        v
    };
    let spec = ServiceDiff {
        kind: Kind::EcsService,
        desired_name: |s: &Service| &s.name,
        fields: &fields,
        replace_on: &["cluster", "launch_type"],
        depends_on: &depends,
    };
    let mut part = Plan::default();
    diff_kind(ctx, spec, desired, &o.services, &mut part);
    // ECS accepts a target group only once a listener forwards to it: after this plan's rules.
    let rules: Vec<Address> =
        plan.changes.iter().filter(|r| r.address.kind == Kind::ListenerRule).map(|r| r.address.clone()).collect();
    for c in &mut part.changes {
        c.depends_on.extend(rules.iter().cloned());
    }
    plan.append(part);
}

pub async fn apply(
    ecs: &Client,
    ctx: &PlanContext,
    desired: &[Service],
    o: &ObservedEcs,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let name = address.name.as_str();
    let err = |what: &str, e: &(dyn std::error::Error + 'static)| {
        anyhow::anyhow!("{what} {address}: {}", crate::aws::describe(e))
    };
    let observed = o.services.iter().find(|s| s.name == name);
    let Some(d) = desired.iter().find(|s| s.name == name).filter(|_| action != Action::Delete) else {
        let Some(s) = observed else { return Ok(()) };
        return delete(ecs, &s.fields.cluster, name).await;
    };
    let (_, t) = target(ctx, d, o);
    let td_arn = match t {
        Target::Current(_, arn) | Target::Existing(_, arn) => arn,
        Target::NewRevision => ids.get(&Address::new(Kind::TaskDefinition, &d.task_definition.family))?,
    };
    let network = if uses_awsvpc(d) {
        let subnets = d.subnets.iter().map(|s| ids.get(&Address::new(Kind::Subnet, s))).collect::<Result<Vec<_>>>()?;
        let groups = d
            .security_groups
            .iter()
            .map(|g| ids.get(&Address::new(Kind::SecurityGroup, g)))
            .collect::<Result<Vec<_>>>()?;
        let public = if d.assign_public_ip { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled };
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(subnets))
            .set_security_groups(Some(groups))
            .assign_public_ip(public)
            .build()?;
        Some(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
    } else {
        None
    };
    let lbs = d
        .load_balancers
        .iter()
        .map(|l| {
            Ok(LoadBalancer::builder()
                .target_group_arn(ids.get(&Address::new(Kind::TargetGroup, &l.target_group))?)
                .container_name(&l.container)
                .container_port(l.port)
                .build())
        })
        .collect::<Result<Vec<_>>>()?;
    let deployment = DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder().enable(true).rollback(d.circuit_breaker_rollback).build(),
        )
        .build();
    let tags = ctx.tags(address);
    match (action, observed) {
        (Action::Update, Some(s)) => {
            let of = &s.fields;
            let lb_set: BTreeSet<(String, String, i32)> = lbs
                .iter()
                .map(|l| {
                    let tg = l.target_group_arn().unwrap_or_default().to_string();
                    (tg, l.container_name().unwrap_or_default().to_string(), l.container_port().unwrap_or_default())
                })
                .collect();
            // Only what differs: a changed network or load-balancer mapping starts a deployment.
            let network_differs = network.as_ref().is_some_and(|n| {
                let v = n.awsvpc_configuration();
                v.map(|v| v.subnets().iter().cloned().collect::<BTreeSet<_>>()) != Some(of.subnets.clone())
                    || v.map(|v| v.security_groups().iter().cloned().collect::<BTreeSet<_>>())
                        != Some(of.security_groups.clone())
                    || of.assign_public_ip != Some(d.assign_public_ip)
            });
            let lbs_differ = lb_set != of.load_balancers;
            // Unreported (moto) is not a difference, as in the plan.
            let breaker_differs = of.circuit_breaker.as_ref().is_some_and(|b| *b != breaker(d));
            let service_differs = network_differs
                || lbs_differ
                || breaker_differs
                || of.desired_count != d.desired_count
                || of.task_definition_arn != td_arn;
            tags::sync_ecs(ecs, address, &s.id, &s.tags, &tags).await?;
            if !service_differs {
                // Only tags changed: no deployment to start or wait for.
                return Ok(());
            }
            let mut req = ecs
                .update_service()
                .cluster(&d.cluster)
                .service(name)
                .desired_count(d.desired_count)
                .task_definition(&td_arn);
            if network_differs {
                req = req.set_network_configuration(network);
            }
            if lbs_differ {
                req = req.set_load_balancers(Some(lbs));
            }
            if breaker_differs {
                req = req.deployment_configuration(deployment);
            }
            req.send().await.map_err(|e| err("updating", &e))?;
        }
        (Action::Update, None) => bail!("updating {address}: it was not observed"),
        _ => {
            if let (Action::Replace, Some(old)) = (action, observed) {
                // Another cluster or launch type: drain and delete the old service first.
                delete(ecs, &old.fields.cluster, name).await?;
            }
            let token = crate::aws::client_token(&[&ctx.stack, &address.to_string(), &td_arn]);
            // A role created moments ago may not be usable by ECS yet (IAM propagation): retry
            // only that error, briefly.
            wait::retry_while(
                &format!("{address}: waiting for IAM roles to propagate"),
                Duration::from_secs(120),
                crate::aws::error::propagating::<aws_sdk_ecs::error::SdkError<_>>,
                || {
                    ecs.create_service()
                        .cluster(&d.cluster)
                        .service_name(name)
                        .task_definition(&td_arn)
                        .desired_count(d.desired_count)
                        .launch_type(LaunchType::from(d.launch_type.as_str()))
                        .set_network_configuration(network.clone())
                        .set_load_balancers(Some(lbs.clone()))
                        .deployment_configuration(deployment.clone())
                        .set_tags(Some(tags::ecs(&tags)))
                        .client_token(&token)
                        .send()
                },
            )
            .await
            .map_err(|e| err("creating", &e))?;
        }
    }
    wait_stable(ecs, &d.cluster, name, &td_arn).await
}

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

async fn wait_stable(ecs: &Client, cluster: &str, name: &str, requested: &str) -> Result<()> {
    let what = format!("ecs_service.{name} to be stable on {}", short(Some(requested)));
    let waited = wait::until(&what, wait::timeout(Duration::from_secs(15 * 60)), || async {
        let Some(s) = current(ecs, cluster, name).await? else { bail!("service {name} disappeared while waiting") };
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
async fn current(ecs: &Client, cluster: &str, name: &str) -> Result<Option<EcsService>> {
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

/// Scale to zero, delete, and wait until ECS has drained it.
async fn delete(ecs: &Client, cluster: &str, name: &str) -> Result<()> {
    // ServiceNotFound, ClusterNotFound, ServiceNotActive: already gone.
    use crate::aws::error::is_not_found as gone;
    match ecs.update_service().cluster(cluster).service(name).desired_count(0).send().await {
        Ok(_) => {}
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => bail!("scaling ecs_service.{name} to 0: {}", crate::aws::describe(&e)),
    }
    match ecs.delete_service().cluster(cluster).service(name).force(true).send().await {
        Ok(_) => {}
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => bail!("deleting ecs_service.{name}: {}", crate::aws::describe(&e)),
    }
    wait::until(&format!("ecs_service.{name} to drain"), wait::timeout(Duration::from_secs(15 * 60)), || async {
        Ok(match current(ecs, cluster, name).await?.as_ref().and_then(|s| s.status()) {
            None | Some("INACTIVE") => Check::Ready(()),
            Some(status) => Check::Pending(status.to_lowercase()),
        })
    })
    .await
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
