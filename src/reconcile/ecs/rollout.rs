//! `deploy`'s part of the ECS reconciler: the narrowed read and the plan of a rollout.
//!
//! The read (`observe`) is what the stack's least-privileged deploy role may read: the selected
//! services by name, the newest ACTIVE revision of each family, the revisions the services run
//! when older, and with a tag the images ECR has for it. The plan (`plan`) is made by the
//! task-definition and service kinds themselves — the same revision decision as `up`
//! (`task_definition::target`) — then narrowed to what a deploy may change: a new revision where
//! the definition differs (registered without pruning older ones: `up` keeps `keep_revisions`,
//! and the deploy role cannot deregister), and each service's revision, nothing else of it.
//! A rollback (`back`) plans each service's move to an earlier ACTIVE revision.
//!
//! Invariants: a selected service that does not exist is an error (`up` creates services); a
//! service already on the wanted revision has no change, so a deploy of what runs makes no
//! mutating call; a service not this stack's is a conflict, as in `up`.

use anyhow::{anyhow, bail, Result};

use super::revisions::{self, describe_arns, describe_families};
use super::service::{DesiredService, TASK_DEFINITION};
use super::task_definition::Target;
use super::{images, service, ObservedEcs};
use crate::aws::Clients;
use crate::model::compute::Service;
use crate::model::desired::Desired;
use crate::model::{Address, Kind};
use crate::plan::build::PlanContext;
use crate::plan::{Action, Reason};
use crate::reconcile::contract::{DiffCx, Pair};
use crate::reconcile::{registry, Ids, Observed, Payload, Plan, ResourceChange};

/// The narrowed read of `services` (all of them must exist), with the images of `tag`.
pub async fn observe(clients: &Clients, services: &[&Service], tag: Option<&str>) -> Result<ObservedEcs> {
    let owned: Vec<Service> = services.iter().map(|s| (*s).clone()).collect();
    let families: Vec<&str> = services.iter().map(|s| s.task_definition.family.as_str()).collect();
    let images = async {
        match tag {
            Some(tag) => Ok(images::read_images(clients, services, tag).await),
            None => Ok(Default::default()),
        }
    };
    let (found, newest, images) = tokio::try_join!(
        service::describe_declared(&clients.ecs, &owned),
        describe_families(&clients.ecs, &families),
        images
    )?;
    let missing: Vec<String> = services
        .iter()
        .filter(|s| !found.iter().any(|f| f.name == s.name))
        .map(|s| format!("{} (cluster {})", s.name, s.cluster))
        .collect();
    if !missing.is_empty() {
        bail!("service(s) not found: {}; `deploy` only moves existing services, run `up` first", missing.join(", "));
    }
    let older: Vec<String> = found
        .iter()
        .map(|s| s.fields.task_definition_arn.clone())
        .filter(|arn| !newest.iter().any(|n| n.id == *arn))
        .collect();
    let running = describe_arns(&clients.ecs, &older).await?;
    let ecs = ObservedEcs { services: found, families: newest, running, images, ..ObservedEcs::default() };
    for s in &ecs.services {
        if ecs.running_definition(s).is_none() {
            bail!("service {} runs {}, which ECS cannot describe", s.name, s.fields.task_definition_arn);
        }
    }
    Ok(ecs)
}

/// The rollout of the services `desired` declares to the revision the files and `ctx.image_tag`
/// give, planned by their kinds on the narrowed observation.
pub fn plan(ctx: &PlanContext, desired: &Desired, observed: &Observed) -> Plan {
    let ids = Ids::new(observed);
    let mut plan = Plan::default();
    for kind in [Kind::TaskDefinition, Kind::EcsService] {
        let mut part = Plan::default();
        registry::plan(kind, &DiffCx { ctx, desired, observed, ids: &ids, plan: &plan }, &mut part);
        plan.append(part);
    }
    plan.changes = plan.changes.into_iter().filter_map(narrowed).collect();
    plan
}

/// A change as a deploy makes it, or `None` when a deploy does not make it.
fn narrowed(mut c: ResourceChange) -> Option<ResourceChange> {
    match (&mut c.payload, c.action) {
        (Payload::TaskDefinition(Pair { desired: Some(d), .. }), Action::Create | Action::Update) => {
            d.prune = false;
            Some(c)
        }
        (Payload::EcsService(_), Action::Update | Action::Replace) => {
            c.fields.retain(|f| f.is(TASK_DEFINITION));
            c.action = Action::Update;
            c.reason = Reason::Drifted;
            c.widens_access = false;
            (!c.fields.is_empty()).then_some(c)
        }
        _ => None,
    }
}

/// Rollback: each service back to the newest ACTIVE revision of its family older than the one it
/// runs, or to `to_revision` (one service only).
pub async fn back(
    clients: &Clients,
    services: &[&Service],
    to_revision: Option<i32>,
    observed: &ObservedEcs,
) -> Result<Plan> {
    if to_revision.is_some() && services.len() != 1 {
        bail!("--to-revision names a revision of one family: select exactly one service with --service");
    }
    let mut plan = Plan::default();
    for s in services {
        let family = &s.task_definition.family;
        let service =
            observed.services.iter().find(|o| o.name == s.name).ok_or_else(|| anyhow!("{} not read", s.name))?;
        let current = observed.running_definition(service).map_or(0, |t| t.fields.revision);
        let active = active_revisions(clients, family).await?;
        let (revision, arn) = match to_revision {
            Some(n) => active
                .iter()
                .find(|(r, _)| *r == n)
                .cloned()
                .ok_or_else(|| anyhow!("{family}:{n} is not an ACTIVE revision (ACTIVE: {})", list(&active)))?,
            None => active.iter().filter(|(r, _)| *r < current).max_by_key(|(r, _)| *r).cloned().ok_or_else(|| {
                anyhow!("{}: no ACTIVE revision of {family} older than {current} to roll back to", s.name)
            })?,
        };
        if revision == current {
            continue;
        }
        let (from, to) = (format!("{family}:{current}"), format!("{family}:{revision}"));
        let field = crate::diff::FieldChange::new(
            TASK_DEFINITION.name(),
            Some(crate::diff::Shown::Value(from.into())),
            Some(crate::diff::Shown::Value(to.clone().into())),
        );
        let desired = DesiredService { service: (*s).clone(), target: Target::Existing(to, arn) };
        let pair = Pair { desired: Some(desired), observed: Some(service.clone()) };
        let address = Address::new(Kind::EcsService, &s.name);
        plan.changes.push(ResourceChange::new(
            address,
            Action::Update,
            Reason::Drifted,
            vec![field],
            Payload::EcsService(pair),
        ));
    }
    Ok(plan)
}

/// `(revision, ARN)` of the family's ACTIVE revisions.
async fn active_revisions(clients: &Clients, family: &str) -> Result<Vec<(i32, String)>> {
    let arns = revisions::active(&clients.ecs, family).await?;
    Ok(arns.into_iter().filter_map(|arn| Some((arn.rsplit(':').next()?.parse().ok()?, arn))).collect())
}

fn list(active: &[(i32, String)]) -> String {
    if active.is_empty() {
        return "none".into();
    }
    active.iter().map(|(r, _)| r.to_string()).collect::<Vec<_>>().join(", ")
}

/// A revision to start a one-off task of (`run`): `family:revision` and its definition in the
/// file's JSON shape.
#[derive(Debug, Clone)]
pub struct Revision {
    pub label: String,
    pub json: serde_json::Value,
}

impl Revision {
    pub fn of(t: &crate::reconcile::kit::Observed<revisions::TaskDefinitionFields>) -> Revision {
        Revision { label: format!("{}:{}", t.name, t.fields.revision), json: t.fields.json.clone() }
    }
}

/// `family:revision` as ECS has it; an error when there is no such revision.
pub async fn describe_revision(clients: &Clients, label: &str) -> Result<Revision> {
    let found = describe_arns(&clients.ecs, &[label.to_string()]).await?;
    let revision = found.values().next().ok_or_else(|| anyhow!("{label} does not exist in ECS"))?;
    Ok(Revision::of(revision))
}
