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
//! `read_images` and `pin` serve `up --image-tag` too: the planner pins images as `deploy` does.

mod blob;
pub mod images;
pub mod rollout;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use serde_json::Value;

use crate::aws::Clients;
use crate::diff::taskdef;
use crate::model::compute::{resolve_task_definition, Placeholders, Service, IMAGE_TAG};
use crate::reconcile::ecs::{self, TaskDefinitionFields};
use crate::reconcile::kit::Observed;
use images::Image;

/// One container image the deploy rolls out.
#[derive(Debug, Clone)]
pub struct ContainerImage {
    pub container: String,
    pub image: Image,
}

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

/// The repository a template image names (`${repository:NAME}:${image_tag}` → `NAME`).
pub fn repository_of(template_image: &str) -> Option<&str> {
    let rest = template_image.strip_prefix("${repository:")?;
    let (name, after) = rest.split_once('}')?;
    (after == format!(":{IMAGE_TAG}")).then_some(name)
}

/// What ECR has for one repository and a tag: `None` when the repository does not exist.
pub type Lookup = Result<Option<Image>, String>;

/// The registry host of the account and region.
pub fn registry(account: &str, region: &str) -> String {
    format!("{account}.dkr.ecr.{region}.amazonaws.com")
}

/// Every repository the services' container images name (`${repository:NAME}:${image_tag}`),
/// each looked up once for `tag`, concurrently.
pub async fn read_images(clients: &Clients, services: &[&Service], tag: &str) -> BTreeMap<String, Lookup> {
    let mut names = BTreeSet::new();
    for s in services {
        for c in s.task_definition.json.get("containerDefinitions").and_then(Value::as_array).into_iter().flatten() {
            names.extend(c.get("image").and_then(Value::as_str).and_then(repository_of).map(str::to_string));
        }
    }
    let found = crate::aws::concurrent(names.iter(), 4, |r| images::find(&clients.ecr, r, tag)).await;
    names.into_iter().zip(found.into_iter().map(|f| f.map_err(|e| format!("{e:#}")))).collect()
}

/// What pinning one service's images did.
#[derive(Debug, Default)]
pub struct Pinned {
    /// The containers pinned to a digest, with the image.
    pub used: Vec<ContainerImage>,
    /// One line per container that cannot run the image (missing tag, wrong architecture).
    pub problems: Vec<String>,
    /// `(container, repository)` whose repository does not exist: left as the tag.
    pub no_repository: Vec<(String, String)>,
}

/// Pins the container images of `resolved` (`s`'s definition resolved for `tag`) to the digests
/// `images` found, checking each is built for the definition's CPU architecture.
pub fn pin(s: &Service, resolved: &mut Value, images: &BTreeMap<String, Lookup>, tag: &str, registry: &str) -> Pinned {
    let mut out = Pinned::default();
    let ecs_arch = resolved.pointer("/runtimePlatform/cpuArchitecture").and_then(Value::as_str).map(str::to_string);
    let arch = images::oci_architecture(ecs_arch.as_deref());
    let templates = s.task_definition.json.get("containerDefinitions").and_then(Value::as_array).cloned();
    let containers = resolved.get_mut("containerDefinitions").and_then(Value::as_array_mut);
    for (c, t) in containers.into_iter().flatten().zip(templates.into_iter().flatten()) {
        let Some(repo) = t.get("image").and_then(Value::as_str).and_then(repository_of) else { continue };
        let container = c.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        match images.get(repo) {
            None => out.problems.push(format!("{}: container {container}: image {repo}:{tag} was not read", s.name)),
            Some(Err(e)) => out.problems.push(format!("{}: container {container}: {e}", s.name)),
            Some(Ok(None)) => out.no_repository.push((container, repo.to_string())),
            Some(Ok(Some(image))) if !image.architectures.iter().any(|a| a == arch) => out.problems.push(format!(
                "{}: container {container}: image {repo}:{tag} is built for {}, but the task definition runs on {arch} (cpuArchitecture {}); rebuild it with --platform linux/{arch}",
                s.name,
                if image.architectures.is_empty() { "no Linux platform".to_string() } else { image.architectures.join(", ") },
                ecs_arch.as_deref().unwrap_or("X86_64, the default"),
            )),
            Some(Ok(Some(image))) => {
                c["image"] = Value::String(image.pinned(registry));
                out.used.push(ContainerImage { container, image: image.clone() });
            }
        }
    }
    out
}

/// The error that stops a rollout (`deploy`, or `up --image-tag`) before any change when an
/// image cannot run: every problem, one a line.
pub fn refuse_images(problems: &[String]) -> Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    bail!("{} image problem(s); nothing was changed:\n  {}", problems.len(), problems.join("\n  "))
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
    fn a_template_image_names_its_repository() {
        assert_eq!(repository_of("${repository:containrlab-api}:${image_tag}"), Some("containrlab-api"));
        assert_eq!(repository_of("docker:dind"), None);
        assert_eq!(repository_of("${repository:containrlab-api}:v1"), None);
    }

    #[test]
    fn unknown_services_are_refused_with_the_declared_ones() {
        let err = select(&[], &["nope".to_string()]).expect_err("unknown");
        assert!(err.to_string().contains("unknown service(s) nope"), "{err}");
    }
}
