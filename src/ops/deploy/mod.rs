//! `deploy`: the image-only path CI runs on every merge — new images onto the running services,
//! and nothing else of the stack.
//!
//! The plan is the ECS reconciler's (`reconcile::ecs::rollout`): a narrowed read the stack's
//! least-privileged deploy role suffices for, the task-definition kind's own revision decision,
//! and changes that `up`'s runner carries out (progress, the crash failpoint, error wording). What
//! this module adds: the choice of services, the image checks — before any change, every image
//! of every selected service must exist for the tag and be built for the task definition's CPU
//! architecture, all problems reported at once — and the per-service view of the plan that the
//! command prints (`Rollout`). Each tag is pinned to its digest (`repository@sha256:…`), so a
//! re-pushed mutable tag never changes what runs; a deploy of what already runs makes no
//! mutating call.

use anyhow::{bail, Result};

use crate::aws::Clients;
use crate::model::compute::Service;
use crate::model::desired::Desired;
use crate::model::{Address, Kind};
use crate::plan::build::PlanContext;
use crate::reconcile::contract::Pair;
use crate::reconcile::ecs::images::{refuse_images, ContainerImage};
use crate::reconcile::ecs::task_definition::{pin_tag, Target};
use crate::reconcile::ecs::{rollout, ObservedEcs};
use crate::reconcile::{Observed, Payload, Plan};

/// What happens to a service's revision.
#[derive(Debug, Clone, PartialEq)]
pub enum Move {
    /// It runs the wanted definition already.
    Stays,
    /// An existing revision, `family:revision`, is the wanted one.
    To(String),
    /// A new revision of the family is registered first.
    Register,
}

/// One service's rollout: the plan's change to it, as the command shows it.
#[derive(Debug, Clone)]
pub struct Rollout {
    pub service: String,
    pub cluster: String,
    pub family: String,
    /// `family:revision` it runs now.
    pub from: String,
    pub images: Vec<ContainerImage>,
    pub change: Move,
}

impl Rollout {
    /// Where it goes, as far as the plan knows (`family:(new revision)` before registering).
    pub fn to(&self) -> String {
        match &self.change {
            Move::Stays => self.from.clone(),
            Move::To(label) => label.clone(),
            Move::Register => format!("{}:(new revision)", self.family),
        }
    }

    pub fn address(&self) -> Address {
        Address::new(Kind::EcsService, &self.service)
    }
}

/// A deploy's plan: what it read, the changes, and each selected service's rollout.
pub struct Planned {
    pub observed: Observed,
    pub plan: Plan,
    pub rollouts: Vec<Rollout>,
}

/// The services `names` selects (all declared ones when empty); unknown names are an error.
pub fn select<'a>(services: &'a [Service], names: &[String]) -> Result<Vec<&'a Service>> {
    let unknown: Vec<&String> = names.iter().filter(|n| !services.iter().any(|s| s.name == **n)).collect();
    if !unknown.is_empty() {
        let declared: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        bail!(
            "unknown service(s) {}: the stack file declares {}",
            unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            declared.join(", ")
        );
    }
    Ok(services.iter().filter(|s| names.is_empty() || names.contains(&s.name)).collect())
}

/// Plans the deploy of `ctx.image_tag` to `services`: reads what the deploy role may, checks and
/// pins the images, and lets the kinds plan the rest.
pub async fn plan(clients: &Clients, ctx: &PlanContext, desired: &Desired, services: &[&Service]) -> Result<Planned> {
    let Some(tag) = ctx.image_tag.as_deref() else { bail!("deploy needs an image tag") };
    let ecs = rollout::observe(clients, services, Some(tag)).await?;
    let mut images = Vec::new();
    let mut problems = Vec::new();
    for (s, pinned) in pin_tag(ctx, services.iter().copied(), &ecs.images, tag) {
        problems.extend(pinned.problems);
        // `deploy` moves existing services only: their repositories must exist.
        problems.extend(pinned.no_repository.iter().map(|(container, repo)| {
            format!("{}: container {container}: repository {repo} does not exist in ECR: run `up` first", s.name)
        }));
        images.push(pinned.used);
    }
    refuse_images(&problems)?;
    let mut selected = desired.clone();
    selected.services.retain(|d| services.iter().any(|s| s.name == d.name));
    let observed = Observed { ecs, ..Observed::default() };
    let plan = rollout::plan(ctx, &selected, &observed);
    let rollouts = services.iter().zip(images).map(|(s, used)| view(s, &observed.ecs, &plan, used)).collect();
    Ok(Planned { observed, plan, rollouts })
}

/// Plans a rollback of `services`: each to the newest ACTIVE revision older than the one it runs,
/// or to `to_revision`.
pub async fn back(clients: &Clients, services: &[&Service], to_revision: Option<i32>) -> Result<Planned> {
    let ecs = rollout::observe(clients, services, None).await?;
    let plan = rollout::back(clients, services, to_revision, &ecs).await?;
    let rollouts = services.iter().map(|s| view(s, &ecs, &plan, Vec::new())).collect();
    Ok(Planned { observed: Observed { ecs, ..Observed::default() }, plan, rollouts })
}

/// A service's rollout as the plan has it.
fn view(s: &Service, ecs: &ObservedEcs, plan: &Plan, images: Vec<ContainerImage>) -> Rollout {
    let running = ecs.services.iter().find(|o| o.name == s.name).and_then(|o| ecs.running_definition(o));
    let from = running.map_or_else(|| "?".to_string(), |t| format!("{}:{}", t.name, t.fields.revision));
    let address = Address::new(Kind::EcsService, &s.name);
    let change = match plan.changes.iter().find(|c| c.address == address).map(|c| &c.payload) {
        Some(Payload::EcsService(Pair { desired: Some(d), .. })) => match &d.target {
            Target::Current(..) => Move::Stays,
            Target::Existing(label, _) => Move::To(label.clone()),
            Target::NewRevision => Move::Register,
        },
        _ => Move::Stays,
    };
    Rollout {
        service: s.name.clone(),
        cluster: s.cluster.clone(),
        family: s.task_definition.family.clone(),
        from,
        images,
        change,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_services_are_refused_with_the_declared_ones() {
        let err = select(&[], &["nope".to_string()]).expect_err("unknown");
        assert!(err.to_string().contains("unknown service(s) nope"), "{err}");
    }
}
