//! `ecs_service.NAME`: launch type, desired count, task-definition revision, awsvpc network
//! configuration, load-balancer mappings, deployment circuit breaker and alarms (a deployment
//! rolled back when one of them goes into ALARM), ECS Exec, tags.
//!
//! `up` waits until each created or updated service is stable on the requested revision
//! (`service_wait`). Updates send only what the plan showed differs (a changed network or
//! load-balancer mapping starts a deployment; a tag-only change starts none). Another cluster or
//! launch type replaces it: the old one drained and deleted, then the new one created and waited
//! on. `down` scales a service to zero, deletes it and waits until it is gone (drained) before its
//! cluster, capacity and target groups go.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentAlarms, DeploymentCircuitBreaker, DeploymentConfiguration,
    LaunchType, LoadBalancer, NetworkConfiguration, Service as AwsService, ServiceField,
};
use aws_sdk_ecs::Client;

use super::restart;
use super::service_wait::{current, wait_stable};
use super::task_definition::{target, Target};
use crate::aws::error::{failed, required};
use crate::aws::wait::{self, Check};
use crate::aws::Clients;
use crate::aws::{concurrent, consistency};
use crate::diff::{Delta, FieldChange, FieldDiff, Path, TAGS};
use crate::model::compute::Service;
use crate::model::consistency::Call;
use crate::model::desired::Desired;
use crate::model::tags::Tags;
use crate::model::usage::{task_size, Footprint, Usage};
use crate::model::{Address, Kind};
use crate::reconcile::contract::{gone_is_done, ApplyCx, DiffCx, Pair, Resource};
use crate::reconcile::kit::{referenced_names, renewed, Observed, CONCURRENCY};
use crate::reconcile::tags;
use crate::reconcile::Group;
use crate::reconcile::{Plan, ResourceChange};

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
    /// The alarms that roll a deployment back (ECS deployment alarms, when enabled); `None` when
    /// AWS reported no deployment configuration (moto), like the circuit breaker.
    pub rollback_alarms: Option<BTreeSet<String>>,
    /// ECS Exec (`enableExecuteCommand`; moto neither keeps nor reports it: always false there).
    pub exec: bool,
}

/// The declared services, by name in their clusters.
pub(crate) async fn describe_declared(ecs: &Client, services: &[Service]) -> Result<Vec<Observed<ServiceFields>>> {
    let found = describe_in_clusters(ecs, per_cluster(services.iter().map(|s| (s.cluster.as_str(), s.name.clone()))));
    Ok(found.await?.into_iter().filter(|(_, inactive)| inactive.is_empty()).map(|(o, _)| o).collect())
}

/// Services by ARN (`…:service/CLUSTER/NAME`), and the ARNs ECS answered MISSING for (not
/// listed yet, or long gone; a service deleted recently is INACTIVE, not MISSING).
pub(super) async fn describe_arns(
    ecs: &Client,
    arns: &[String],
) -> Result<(Vec<Observed<ServiceFields>>, Vec<String>)> {
    let with_cluster = arns.iter().filter_map(|arn| {
        let (cluster, _) = arn.split(":service/").nth(1)?.split_once('/')?;
        Some((cluster, arn.clone()))
    });
    let found = describe_in_clusters(ecs, per_cluster(with_cluster)).await?;
    let missing = arns.iter().filter(|arn| !found.iter().any(|(o, inactive)| o.id == **arn || inactive == *arn));
    let missing = missing.cloned().collect();
    Ok((found.into_iter().filter(|(_, inactive)| inactive.is_empty()).map(|(o, _)| o).collect(), missing))
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

/// Every service ECS returned: the ACTIVE ones with an empty second member, the others (draining,
/// INACTIVE) with their ARN there.
async fn describe_in_clusters(
    ecs: &Client,
    requests: Vec<(String, Vec<String>)>,
) -> Result<Vec<(Observed<ServiceFields>, String)>> {
    let results = concurrent(requests, CONCURRENCY, |(cluster, names)| async move {
        match ecs
            .describe_services()
            .cluster(&cluster)
            .set_services(Some(names))
            .include(ServiceField::Tags)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .services()
                .iter()
                .map(|s| {
                    let other = if s.status() == Some("ACTIVE") { "" } else { s.service_arn().unwrap_or("?") };
                    (observed(s), other.to_string())
                })
                .collect()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_cluster_not_found_exception()) => Ok(Vec::new()),
            Err(e) => Err(anyhow::anyhow!("describing ECS services in {cluster}: {}", crate::aws::describe(&e))),
        }
    })
    .await;
    Ok(results.into_iter().collect::<Result<Vec<Vec<_>>>>()?.into_iter().flatten().collect())
}

fn observed(s: &AwsService) -> Observed<ServiceFields> {
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
            rollback_alarms: s.deployment_configuration().map(|d| match d.alarms() {
                Some(a) if a.enable() => a.alarm_names().iter().cloned().collect(),
                _ => BTreeSet::new(),
            }),
            exec: s.enable_execute_command(),
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

/// The contract for `ecs_service.NAME`.
#[derive(Debug, Clone)]
pub struct EcsService;

/// A service and the revision the plan chose for it.
#[derive(Debug, Clone)]
pub struct DesiredService {
    pub service: Service,
    /// The revision it runs, one that already matches, or a new one (registered earlier in the run).
    pub target: Target,
}

impl DesiredService {
    fn revision_label(&self) -> String {
        match &self.target {
            Target::Current(label, _) | Target::Existing(label, _) => label.clone(),
            Target::NewRevision => format!("{}:(new revision)", self.service.task_definition.family),
        }
    }
}

const CLUSTER: Path = Path::field("cluster");
const LAUNCH_TYPE: Path = Path::field("launch_type");
pub const TASK_DEFINITION: Path = Path::field("task_definition");
pub const DESIRED_COUNT: Path = Path::field("desired_count");
/// New tasks for a parameter they read that gets a new value (`restart`): a new deployment of
/// the same revision.
pub const RESTART: Path = Path::field("restart");
/// ECS Exec: a change starts new tasks (only tasks started with it on run the exec agent).
pub const EXEC: Path = Path::field("enable_execute_command");
const NETWORK: Path = Path::group("network");
const ASSIGN_PUBLIC_IP: Path = Path::field("network.assign_public_ip");

impl Resource for EcsService {
    const KIND: Kind = Kind::EcsService;
    const GROUP: Group = Group::Ecs;
    const FIELDS: &'static [Path] = &[
        CLUSTER,
        LAUNCH_TYPE,
        TASK_DEFINITION,
        DESIRED_COUNT,
        NETWORK,
        LOAD_BALANCERS,
        BREAKER,
        ROLLBACK_ALARMS,
        EXEC,
        TAGS,
        RESTART,
    ];
    const REPLACE_ON: &'static [Path] = &[CLUSTER, LAUNCH_TYPE];
    type Desired = DesiredService;
    type Observed = Observed<ServiceFields>;

    fn usage(desired: &Desired, name: &str) -> Option<Usage> {
        let s = desired.services.iter().find(|s| s.name == name)?;
        if s.launch_type != "FARGATE" {
            let why = format!("runs on the {} instances, priced on autoscaling_group.{}", s.launch_type, s.cluster);
            return Some(Usage::Free(why));
        }
        let (arch, vcpu, gib) = task_size(&s.task_definition.json);
        let family = s.task_definition.family.clone();
        Some(Usage::Fargate { family, arch, vcpu, gib, count: s.desired_count.max(0) as u32 })
    }

    /// A Fargate service's tasks' size is in its task definition, which the plan does not read
    /// for a removed service: not priced.
    fn usage_removed(_: &Desired, _: &str, pair: &Pair<Self>, _: &Plan) -> Option<Usage> {
        let o = &pair.observed.as_ref()?.fields;
        (o.launch_type != "FARGATE").then(|| Usage::Free(format!("ran on {} instances", o.launch_type)))
    }

    fn usage_before(change: &ResourceChange, before: &mut Footprint) {
        if let (Some(Usage::Fargate { count, .. }), Some(n)) =
            (before.items.get_mut(&change.address), change.was(DESIRED_COUNT).and_then(serde_json::Value::as_u64))
        {
            *count = n as u32;
        }
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<DesiredService> {
        let plan = |s: &Service| DesiredService { service: s.clone(), target: target(cx.ctx, s, &cx.observed.ecs).1 };
        cx.desired.services.iter().map(plan).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<ServiceFields>> {
        cx.observed.ecs.services.clone()
    }

    fn name(d: &DesiredService) -> &str {
        &d.service.name
    }

    fn fields(cx: &DiffCx<'_>, ds: &DesiredService, s: Option<&Observed<ServiceFields>>, tags: &Tags) -> FieldDiff {
        let (subnet_names, group_names, tg_names) =
            (cx.ids.names(Kind::Subnet), cx.ids.names(Kind::SecurityGroup), cx.ids.names(Kind::TargetGroup));
        let (new_subnets, new_groups, new_tgs) = (
            renewed(cx.plan, Kind::Subnet),
            renewed(cx.plan, Kind::SecurityGroup),
            renewed(cx.plan, Kind::TargetGroup),
        );
        let o = &cx.observed.ecs;
        let d = &ds.service;
        let mut f = FieldDiff::default();
        let of = s.map(|s| &s.fields);
        f.field(CLUSTER, of.map(|o| Some(o.cluster.clone())), Some(d.cluster.clone()));
        f.field(LAUNCH_TYPE, of.map(|o| Some(o.launch_type.clone())), Some(d.launch_type.clone()));
        let running = s.map(|s| o.running_definition(s).map(|r| format!("{}:{}", r.name, r.fields.revision)));
        f.field(TASK_DEFINITION, running, Some(ds.revision_label()));
        f.field(DESIRED_COUNT, of.map(|o| Some(o.desired_count)), Some(d.desired_count));
        if uses_awsvpc(d) {
            let subnets = of.map(|o| referenced_names(&o.subnets, &subnet_names, &new_subnets));
            f.members(NETWORK.at("subnets"), subnets.as_ref(), &d.subnets.iter().cloned().collect());
            let groups = of.map(|o| referenced_names(&o.security_groups, &group_names, &new_groups));
            f.members(NETWORK.at("security_groups"), groups.as_ref(), &d.security_groups.iter().cloned().collect());
            f.field(ASSIGN_PUBLIC_IP, of.map(|o| o.assign_public_ip), Some(d.assign_public_ip));
        }
        let lbs: BTreeSet<String> =
            d.load_balancers.iter().map(|l| mapping(&l.target_group, &l.container, l.port)).collect();
        let observed_lbs = of.map(|o| {
            let named = o.load_balancers.iter().map(|(tg, c, p)| {
                let name = referenced_names(&BTreeSet::from([tg.clone()]), &tg_names, &new_tgs);
                mapping(name.first().map_or(tg.as_str(), String::as_str), c, *p)
            });
            named.collect::<BTreeSet<_>>()
        });
        f.members(LOAD_BALANCERS, observed_lbs.as_ref(), &lbs);
        f.field(EXEC, of.map(|o| Some(o.exec)), Some(d.exec));
        // AWS always reports the deployment configuration; moto does not keep it from
        // CreateService. An unreported one is not a difference (it is set on create and update).
        if of.is_none_or(|o| o.circuit_breaker.is_some()) {
            f.field(BREAKER, of.map(|o| o.circuit_breaker.clone()), Some(breaker(d)));
        }
        if of.is_none_or(|o| o.rollback_alarms.is_some()) {
            let observed = of.map(|o| o.rollback_alarms.clone().unwrap_or_default());
            f.members(ROLLBACK_ALARMS, observed.as_ref(), &d.rollback_alarms.iter().cloned().collect());
        }
        // A parameter its tasks read gets a new value: they read it only when they start. A move
        // to another revision starts new tasks anyway.
        if s.is_some() && matches!(ds.target, Target::Current(..)) {
            let why: Vec<String> =
                restart::changed(cx.plan, &d.task_definition.json).into_iter().map(|(_, why)| why).collect();
            if !why.is_empty() {
                f.field(RESTART, Some(None::<String>), Some(why.join("; ")));
            }
        }
        f.tags(s.map(|s| &s.tags), tags);
        f
    }

    /// Its cluster, task definition, target groups, subnets and their route tables, security-group
    /// rules, capacity and the listener rules that forward to its target groups (ECS accepts a
    /// target group only once a listener forwards to it).
    fn depends_on(cx: &DiffCx<'_>, ds: &DesiredService) -> Vec<Address> {
        let d = &ds.service;
        let mut v = vec![
            Address::new(Kind::EcsCluster, &d.cluster),
            Address::new(Kind::TaskDefinition, &d.task_definition.family),
        ];
        v.extend(d.load_balancers.iter().map(|l| Address::new(Kind::TargetGroup, &l.target_group)));
        v.extend(d.subnets.iter().map(|s| Address::new(Kind::Subnet, s)));
        // Tasks in private subnets pull their images through the NAT gateway: without the
        // route, every task fails with CannotPullContainerError and the circuit breaker trips.
        let tables = cx.desired.network.iter().flat_map(|n| n.route_tables.iter());
        let routing = tables.filter(|t| t.subnets.iter().any(|s| d.subnets.contains(s)));
        v.extend(routing.map(|t| Address::new(Kind::RouteTable, &t.name)));
        // A restart reads the parameters' new values: they are written first.
        v.extend(super::restart::after(cx.plan, &d.task_definition.json));
        v.extend(d.security_groups.iter().map(|g| Address::new(Kind::SecurityGroupRules, g)));
        if d.launch_type == "EC2" {
            v.push(Address::new(Kind::CapacityProvider, &d.cluster));
        }
        v.extend(d.rollback_alarms.iter().map(|a| Address::new(Kind::Alarm, a)));
        let rules = cx.desired.ingress.iter().flat_map(|e| e.rules.iter());
        let routed = rules.filter(|r| d.load_balancers.iter().any(|l| l.target_group == r.target_group));
        v.extend(routed.map(|r| Address::new(Kind::ListenerRule, &r.host)));
        v
    }

    /// A public IP makes each task reachable around the load balancer.
    /// A restart alone is not drift: the service is as declared, its tasks are not.
    fn update_reason(fields: &[FieldChange]) -> Option<crate::plan::Reason> {
        fields.iter().all(|f| f.is(RESTART)).then_some(crate::plan::Reason::Restart)
    }

    /// ECS Exec opens a shell into the containers to whoever may call ecs:ExecuteCommand.
    fn widens_access(fields: &[FieldChange]) -> bool {
        fields.iter().any(|f| (f.is(ASSIGN_PUBLIC_IP) || f.is(EXEC)) && f.after.as_ref().is_some_and(|v| v.is_true()))
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_ecs(&clients.ecs, address, id, have, want).await
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        ds: &DesiredService,
        _: Option<&Self::Observed>,
    ) -> Result<String> {
        let (ecs, d) = (&cx.clients.ecs, &ds.service);
        let td = task_definition(cx, ds)?;
        let (network, lbs) = (network(cx, d)?, load_balancers(cx, d)?);
        let token = crate::aws::client_token(&[&cx.ctx.stack, &address.to_string(), &td]);
        let tags = cx.tags(address);
        // Roles, the cluster and the listener rule made moments ago may not be visible to ECS
        // yet: the consistency rules for CreateService.
        let create = || async {
            ecs.create_service()
                .cluster(&d.cluster)
                .service_name(&d.name)
                .task_definition(&td)
                .desired_count(d.desired_count)
                .launch_type(LaunchType::from(d.launch_type.as_str()))
                .set_network_configuration(network.clone())
                .set_load_balancers(Some(lbs.clone()))
                .deployment_configuration(deployment(d)?)
                .enable_execute_command(d.exec)
                .set_tags(Some(tags::ecs(&tags)))
                .client_token(&token)
                .send()
                .await
                .map_err(|e| failed("creating", address, &e))
        };
        let out = consistency::retry(Call::EcsCreateService, address, create).await?;
        Ok(required(out.service().and_then(|s| s.service_arn()), "creating", address, "serviceArn")?.to_string())
    }

    async fn ready(cx: &ApplyCx<'_>, address: &Address, ds: &DesiredService, _: &str) -> Result<()> {
        let d = &ds.service;
        let waited = wait_stable(&cx.clients.ecs, address, &d.cluster, &d.name, &task_definition(cx, ds)?).await;
        with_alarms(&cx.clients.cloudwatch, d, waited).await
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        ds: &DesiredService,
        _: &Observed<ServiceFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        let (ecs, d) = (&cx.clients.ecs, &ds.service);
        // Only tags changed never comes here (the runner tags): an update is a deployment.
        // UpdateService is sent with the revision whatever changed (the one it runs, or the
        // plan's), and with the count only when the count differs.
        delta.handled(TASK_DEFINITION);
        let td = task_definition(cx, ds)?;
        let mut req = ecs.update_service().cluster(&d.cluster).service(&d.name).task_definition(&td);
        if delta.has(DESIRED_COUNT) {
            req = req.desired_count(d.desired_count);
        }
        if delta.has(RESTART) {
            req = req.force_new_deployment(true);
        }
        // AWS: tasks started before the change keep running without (or with) the exec agent;
        // a new deployment replaces them.
        if delta.has(EXEC) {
            req = req.enable_execute_command(d.exec).force_new_deployment(true);
        }
        if delta.has(NETWORK) {
            req = req.set_network_configuration(network(cx, d)?);
        }
        if delta.has(LOAD_BALANCERS) {
            req = req.set_load_balancers(Some(load_balancers(cx, d)?));
        }
        if delta.has(BREAKER) || delta.has(ROLLBACK_ALARMS) {
            req = req.deployment_configuration(deployment(d)?);
        }
        let update = || async { req.clone().send().await.map_err(|e| failed("updating", address, &e)) };
        consistency::retry(Call::EcsUpdateService, address, update).await?;
        with_alarms(&cx.clients.cloudwatch, d, wait_stable(ecs, address, &d.cluster, &d.name, &td).await).await
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, s: &Observed<ServiceFields>) -> Result<()> {
        delete(&cx.clients.ecs, address, &s.fields.cluster, &s.name).await
    }
}

const LOAD_BALANCERS: Path = Path::field("load_balancers");
const BREAKER: Path = Path::field("circuit_breaker");
const ROLLBACK_ALARMS: Path = Path::field("rollback_alarms");

/// The ARN of the revision the service must run: the one the plan chose, or the one registered
/// earlier in this run.
fn task_definition(cx: &ApplyCx<'_>, ds: &DesiredService) -> Result<String> {
    match &ds.target {
        Target::Current(_, arn) | Target::Existing(_, arn) => Ok(arn.clone()),
        Target::NewRevision => cx.ids.get(&Address::new(Kind::TaskDefinition, &ds.service.task_definition.family)),
    }
}

fn network(cx: &ApplyCx<'_>, d: &Service) -> Result<Option<NetworkConfiguration>> {
    if !uses_awsvpc(d) {
        return Ok(None);
    }
    let subnets = d.subnets.iter().map(|s| cx.ids.get(&Address::new(Kind::Subnet, s))).collect::<Result<Vec<_>>>()?;
    let groups = d
        .security_groups
        .iter()
        .map(|g| cx.ids.get(&Address::new(Kind::SecurityGroup, g)))
        .collect::<Result<Vec<_>>>()?;
    let public = if d.assign_public_ip { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled };
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(subnets))
        .set_security_groups(Some(groups))
        .assign_public_ip(public)
        .build()?;
    Ok(Some(NetworkConfiguration::builder().awsvpc_configuration(vpc).build()))
}

fn load_balancers(cx: &ApplyCx<'_>, d: &Service) -> Result<Vec<LoadBalancer>> {
    d.load_balancers
        .iter()
        .map(|l| {
            Ok(LoadBalancer::builder()
                .target_group_arn(cx.ids.get(&Address::new(Kind::TargetGroup, &l.target_group))?)
                .container_name(&l.container)
                .container_port(l.port)
                .build())
        })
        .collect()
}

/// A deployment that failed while rollback alarms of the service are in ALARM: ECS failed it (and
/// rolled it back) on them (AWS, `DeploymentAlarms`: "When the alarms are generated, Amazon ECS
/// sets the service deployment to failed"); their names and CloudWatch's reasons lead the error.
/// Reading them is best effort: the deploy role may not read alarms, and then ECS's reason stands.
async fn with_alarms(cloudwatch: &aws_sdk_cloudwatch::Client, d: &Service, waited: Result<()>) -> Result<()> {
    let Err(e) = waited else { return Ok(()) };
    if d.rollback_alarms.is_empty() {
        return Err(e);
    }
    let read = cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(d.rollback_alarms.clone()))
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .send()
        .await;
    let firing: Vec<String> = match read {
        // Filtered here too: moto answers every named alarm whatever its state.
        Ok(out) => out
            .metric_alarms()
            .iter()
            .filter(|a| a.state_value() == Some(&aws_sdk_cloudwatch::types::StateValue::Alarm))
            .map(|a| format!("{} ({})", a.alarm_name().unwrap_or("?"), a.state_reason().unwrap_or("no reason given")))
            .collect(),
        Err(_) => Vec::new(),
    };
    if firing.is_empty() {
        return Err(e);
    }
    Err(e.context(format!("rollback alarm(s) in ALARM: {}", firing.join("; "))))
}

/// The circuit breaker, and the deployment alarms: on (with rollback) when the service names
/// any, off otherwise (sent, so that alarms removed from the file are removed from the service).
fn deployment(d: &Service) -> Result<DeploymentConfiguration> {
    let breaker = DeploymentCircuitBreaker::builder().enable(true).rollback(d.circuit_breaker_rollback).build();
    let on = !d.rollback_alarms.is_empty();
    let alarms =
        DeploymentAlarms::builder().set_alarm_names(Some(d.rollback_alarms.clone())).enable(on).rollback(on).build()?;
    Ok(DeploymentConfiguration::builder().deployment_circuit_breaker(breaker).alarms(alarms).build())
}

/// Scale to zero, delete, and wait until ECS has drained it. A service mid-deployment (`down`
/// after a failed `up`) is refused for a while (`service-deployment-active`); already gone
/// (ServiceNotFound, ClusterNotFound, ServiceNotActive) is done.
async fn delete(ecs: &Client, address: &Address, cluster: &str, name: &str) -> Result<()> {
    let scaled = ecs.update_service().cluster(cluster).service(name).desired_count(0).send().await;
    gone_is_done(scaled.map(drop).map_err(|e| failed("scaling to 0", address, &e)))?;
    let delete = || async {
        ecs.delete_service()
            .cluster(cluster)
            .service(name)
            .force(true)
            .send()
            .await
            .map_err(|e| failed("deleting", address, &e))
    };
    gone_is_done(consistency::retry(Call::EcsDeleteService, address, delete).await.map(drop))?;
    wait::until(&format!("{address} to drain"), wait::timeout(Duration::from_secs(15 * 60)), || async {
        Ok(match current(ecs, cluster, name).await?.as_ref().and_then(|s| s.status()) {
            None | Some("INACTIVE") => Check::Ready(()),
            Some(status) => Check::Pending(status.to_lowercase()),
        })
    })
    .await
}
