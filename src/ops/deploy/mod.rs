//! `deploy`: the image-only path CI runs on every merge — new images onto the running services,
//! and nothing else of the stack.
//!
//! Reads only what a rollout needs (the stack file; the declared services, the revision each
//! runs and its family's newest; the images in ECR), so the stack's least-privileged deploy role
//! suffices. Before any change, every image of every selected service must exist for the tag
//! and be built for the task definition's CPU architecture: all problems are reported at once.
//! Each tag is pinned to its digest (`repository@sha256:…`), so a re-pushed mutable tag never
//! changes what runs. A revision is registered only when the normalised definition differs from
//! the one the service runs and from the family's newest; a deploy of what already runs makes no
//! mutating call. Rollback (`rollout::back`) moves services to an earlier revision.
//! The images are read and pinned by the ECS reconciler's own `images` (what `up --image-tag`
//! uses too): a deploy pins exactly as a plan does.

pub mod rollout;

use anyhow::{bail, Result};
use serde_json::Value;

use crate::aws::Clients;
use crate::diff::taskdef;
use crate::model::compute::{resolve_task_definition, Placeholders, Service};
use crate::reconcile::ecs::images::{pin, registry};
pub use crate::reconcile::ecs::images::{read_images, refuse_images, ContainerImage};
use crate::reconcile::ecs::{self, TaskDefinitionFields};
use crate::reconcile::kit::Observed;

/// What happens to a service's revision.
#[derive(Debug, Clone)]
pub enum Move {
    /// It runs the wanted definition already: `family:revision`.
    Stays(String),
    /// An existing revision is the wanted definition: `(family:revision, ARN)`.
    To(String, String),
    /// A new revision, this definition, must be registered first.
    Register(Value),
}

/// One service's rollout.
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

/// What the selected services run now: each service and its running definition. A service
/// that does not exist yet is an error (`up` creates services; `deploy` only moves them).
pub async fn running(
    clients: &Clients,
    services: &[&Service],
) -> Result<Vec<(Observed<ecs::ServiceFields>, Observed<TaskDefinitionFields>)>> {
    let owned: Vec<Service> = services.iter().map(|s| (*s).clone()).collect();
    let found = ecs::describe_declared(&clients.ecs, &owned).await?;
    let mut missing = Vec::new();
    let mut pairs = Vec::new();
    let arns: Vec<String> = found.iter().map(|s| s.fields.task_definition_arn.clone()).collect();
    let mut definitions = ecs::describe_revisions(&clients.ecs, &arns).await?;
    for s in services {
        match found.iter().find(|f| f.name == s.name) {
            Some(f) => match definitions.remove(&f.fields.task_definition_arn) {
                Some(td) => pairs.push((f.clone(), td)),
                None => bail!("service {} runs {}, which ECS cannot describe", s.name, f.fields.task_definition_arn),
            },
            None => missing.push(format!("{} (cluster {})", s.name, s.cluster)),
        }
    }
    if !missing.is_empty() {
        bail!("service(s) not found: {}; `deploy` only moves existing services, run `up` first", missing.join(", "));
    }
    Ok(pairs)
}

/// Plans the deploy of `tag` to `services`: reads the images, checks them, pins them.
pub async fn plan(
    clients: &Clients,
    account: &str,
    region: &str,
    tag: &str,
    services: &[&Service],
) -> Result<Vec<Rollout>> {
    let (running, newest) = tokio::try_join!(running(clients, services), async {
        let families: Vec<&str> = services.iter().map(|s| s.task_definition.family.as_str()).collect();
        ecs::describe_newest(&clients.ecs, &families).await
    })?;
    let wanted = read_images(clients, services, tag).await;
    let registry = registry(account, region);
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (s, (_, td)) in services.iter().zip(&running) {
        let p = Placeholders { account, region, image_tag: tag };
        let mut resolved = resolve_task_definition(&s.task_definition.json, &p);
        let pinned = pin(s, &mut resolved, &wanted, tag, &registry);
        problems.extend(pinned.problems);
        // `deploy` moves existing services only: their repositories must exist.
        problems.extend(pinned.no_repository.iter().map(|(container, repo)| {
            format!("{}: container {container}: repository {repo} does not exist in ECR: run `up` first", s.name)
        }));
        let used = pinned.used;
        let label = |t: &Observed<TaskDefinitionFields>| format!("{}:{}", t.name, t.fields.revision);
        let normal = taskdef::normalize(&resolved);
        let newest = newest.iter().find(|n| n.name == s.task_definition.family);
        let change = if taskdef::normalize(&td.fields.json) == normal {
            Move::Stays(label(td))
        } else if let Some(n) = newest.filter(|n| taskdef::normalize(&n.fields.json) == normal) {
            Move::To(label(n), n.id.clone())
        } else {
            Move::Register(resolved)
        };
        out.push(Rollout {
            service: s.name.clone(),
            cluster: s.cluster.clone(),
            family: s.task_definition.family.clone(),
            from: label(td),
            images: used,
            change,
        });
    }
    refuse_images(&problems)?;
    Ok(out)
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
