//! The images a task definition names, as ECR has them for a tag: read once per repository
//! (`read_images`), checked against the definition's CPU architecture and pinned to their digests
//! (`pin`) — what `up --image-tag` plans with and what `deploy` rolls out, the same way.
//!
//! Invariant: nothing here changes AWS; a problem with an image (no such tag, another
//! architecture) is a line of `refuse_images`'s error, before any change.

mod blob;
pub mod ecr;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use serde_json::Value;

use crate::aws::Clients;
use crate::model::compute::{Service, IMAGE_TAG};
pub use ecr::Image;

/// One container image the deploy rolls out.
#[derive(Debug, Clone)]
pub struct ContainerImage {
    pub container: String,
    pub image: Image,
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
    let found = crate::aws::concurrent(names.iter(), 4, |r| ecr::find(&clients.ecr, r, tag)).await;
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
    let arch = ecr::oci_architecture(ecs_arch.as_deref());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_image_names_its_repository() {
        assert_eq!(repository_of("${repository:containrlab-api}:${image_tag}"), Some("containrlab-api"));
        assert_eq!(repository_of("docker:dind"), None);
        assert_eq!(repository_of("${repository:containrlab-api}:v1"), None);
    }
}
