//! ECS: clusters, task definitions and services.
//!
//! Observe (`observe`): in one round, the clusters, this stack's services (from the stack's
//! `tag_index`) and task definitions (a tagging query of their own), the declared services by name (so a namesake that is not
//! ours is seen as a conflict) and the newest ACTIVE revision of each declared family; in a second
//! round only what the first did not cover (an owned service no longer declared, a service running
//! an older revision than the family's newest).
//! With `--image-tag`, the first round also reads each repository's image of that tag from ECR
//! (`images::read_images`): the definitions name their images by digest, as `deploy` pins them.
//! Diff: a task definition is compared with the revision its service runs (or the family's newest
//! when there is no service yet), normalised (`diff::taskdef`); a new revision is registered only
//! when they differ, and then the service moves to it.

pub mod cluster;
pub mod images;
pub mod restart;
pub mod revisions;
pub mod rollout;
pub mod service;
mod service_wait;
pub mod task_definition;
mod taskdef_json;

use std::collections::BTreeMap;

use anyhow::Result;

use crate::aws::consistency::Patience;
use crate::aws::wait::{self, Check};
use crate::aws::Clients;
use crate::model::compute::Service;
use crate::model::consistency::SERVICE_VISIBLE;
use crate::model::{Address, Kind};

pub use cluster::ClusterFields;
pub use cluster::EcsCluster;
pub use revisions::TaskDefinitionFields;
pub use service::{EcsService, ServiceFields};
pub use task_definition::{check_images, TaskDefinition};

use super::kit::Observed;
use super::tag_index::TagIndex;

#[derive(Debug, Default, Clone)]
pub struct ObservedEcs {
    pub clusters: Vec<Observed<ClusterFields>>,
    pub services: Vec<Observed<ServiceFields>>,
    /// The newest ACTIVE revision of each family read, whoever owns it.
    pub families: Vec<Observed<TaskDefinitionFields>>,
    /// Revisions a service runs that are not the newest of their family, by ARN.
    pub running: BTreeMap<String, Observed<TaskDefinitionFields>>,
    /// Every revision (any status) tagged as this stack's, by family: what `down` deregisters.
    pub owned_revisions: BTreeMap<String, Vec<String>>,
    /// With `--image-tag`: what ECR has for the tag, by repository (what the definitions pin).
    pub images: BTreeMap<String, images::Lookup>,
}

impl ObservedEcs {
    /// The definition `service` runs, when it was read.
    pub fn running_definition(&self, service: &Observed<ServiceFields>) -> Option<&Observed<TaskDefinitionFields>> {
        let arn = service.fields.task_definition_arn.as_str();
        self.families.iter().find(|f| f.id == arn).or_else(|| self.running.get(arn))
    }
}

/// Services the tagging API lists and ECS answered MISSING for: created moments ago (a `down`
/// right after `up`), so read again until ECS lists them (`service-visible`) rather than taken
/// for absent; still missing after the budget, they are absent (the tagging API can list a
/// service long gone).
async fn listed_once_visible(ecs: &aws_sdk_ecs::Client, arns: Vec<String>) -> Result<Vec<Observed<ServiceFields>>> {
    let Some(first) = arns.first() else { return Ok(Vec::new()) };
    let name = first.rsplit('/').next().unwrap_or(first).to_string();
    let visible = Patience::new(&SERVICE_VISIBLE, &Address::new(Kind::EcsService, &name));
    let unseen = std::sync::Mutex::new(arns);
    let found = std::sync::Mutex::new(Vec::new());
    let what = format!("ECS to list the services the tagging API lists ({name}, …)");
    let waited = wait::until(&what, SERVICE_VISIBLE.budget + std::time::Duration::from_secs(60), || async {
        if visible.not_yet().is_err() {
            return Ok(Check::Ready(()));
        }
        let arns = unseen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let (seen, still) = service::describe_arns(ecs, &arns).await?;
        found.lock().unwrap_or_else(|e| e.into_inner()).extend(seen);
        let done = still.is_empty();
        *unseen.lock().unwrap_or_else(|e| e.into_inner()) = still;
        Ok(if done {
            visible.seen();
            Check::Ready(())
        } else {
            Check::Pending("MISSING".into())
        })
    });
    waited.await?;
    Ok(found.into_inner().unwrap_or_else(|e| e.into_inner()))
}

pub async fn observe(
    clients: &Clients,
    index: &TagIndex<'_>,
    stack: &str,
    clusters: &[String],
    services: &[Service],
    image_tag: Option<&str>,
) -> Result<ObservedEcs> {
    let families: Vec<&str> = services.iter().map(|s| s.task_definition.family.as_str()).collect();
    // With `--image-tag`, the images of that tag, so the definitions pin their digests.
    let images = async {
        let services: Vec<&Service> = services.iter().collect();
        match image_tag {
            Some(tag) => Ok(images::read_images(clients, &services, tag).await),
            None => Ok(BTreeMap::new()),
        }
    };
    // Revisions accumulate with every deploy: a query of their own, so they page no other answer.
    let revisions = async {
        super::tag_index::query(clients, stack, &["ecs:task-definition"]).await.map_err(|e| anyhow::anyhow!(e))
    };
    let (clusters, owned_services, revisions, declared, mut family_defs, images) = tokio::try_join!(
        cluster::observe(&clients.ecs, index, clusters),
        index.matching(":service/"),
        revisions,
        service::describe_declared(&clients.ecs, services),
        revisions::describe_families(&clients.ecs, &families),
        images,
    )?;
    let owned = owned_services.into_iter().chain(revisions);
    let mut owned_revisions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut owned_services = Vec::new();
    for (arn, _) in owned {
        if let Some(revision) = arn.split(":task-definition/").nth(1) {
            let family = revision.rsplit_once(':').map_or(revision, |(f, _)| f);
            owned_revisions.entry(family.to_string()).or_default().push(arn.clone());
        } else if arn.contains(":service/") {
            owned_services.push(arn);
        }
    }
    let mut services_seen = declared;
    let missing: Vec<String> =
        owned_services.into_iter().filter(|arn| !services_seen.iter().any(|s| s.id == *arn)).collect();
    let (found, not_listed) = service::describe_arns(&clients.ecs, &missing).await?;
    services_seen.extend(found);
    services_seen.extend(listed_once_visible(&clients.ecs, not_listed).await?);
    // Families this stack owns but no longer declares: read their newest revision too, so `down`
    // and removals see them.
    let undeclared: Vec<&str> = owned_revisions.keys().map(String::as_str).filter(|f| !families.contains(f)).collect();
    family_defs.extend(revisions::describe_families(&clients.ecs, &undeclared).await?);
    let running_arns: Vec<String> = services_seen
        .iter()
        .map(|s| s.fields.task_definition_arn.clone())
        .filter(|arn| !arn.is_empty() && !family_defs.iter().any(|f| f.id == *arn))
        .collect();
    let running = revisions::describe_arns(&clients.ecs, &running_arns).await?;
    Ok(ObservedEcs { clusters, services: services_seen, families: family_defs, running, owned_revisions, images })
}
