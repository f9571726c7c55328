//! ECR repositories: scan on push, tag mutability, the keep-last-N lifecycle policy, tags.
//!
//! Observe: every repository (ECR has no tag filter) and the stack's tag index (`tag_index`),
//! then the lifecycle policy of the declared ones and the tags of those the index does not list
//! (or may not be trusted about), concurrently; then, only for owned repositories about to be deleted,
//! whether they hold images. A repository with images is kept unless data deletion was asked.

use anyhow::{bail, Result};
use aws_sdk_ecr::types::{ImageScanningConfiguration, ImageTagMutability};
use aws_sdk_ecr::Client;

use super::contract::{ApplyCx, DiffCx, Resource};
use super::kit::CONCURRENCY;
use super::tag_index::TagIndex;
use super::tags;
use super::Group;
use crate::aws::error::{failed, required};
use crate::aws::Clients;
use crate::aws::{concurrent, describe};
use crate::diff::normalize::{ecr_keep_last_policy, LifecyclePolicy};
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::desired::Desired;
use crate::model::desired::Repository;
use crate::model::tags::{owner, Owner, Tags};
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::plan::build::ObservedResource;

#[derive(Debug, Clone)]
pub struct ObservedRepository {
    pub name: String,
    pub arn: String,
    pub tags: Tags,
    pub scan_on_push: bool,
    pub tag_mutability: String,
    pub lifecycle: Option<LifecyclePolicy>,
    /// Known only for owned repositories that are candidates for deletion.
    pub holds_images: bool,
}

impl ObservedResource for ObservedRepository {
    fn name(&self) -> &str {
        &self.name
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn holds_data(&self) -> Option<String> {
        self.holds_images.then(|| "the repository holds images".to_string())
    }
}

pub async fn observe(
    client: &Client,
    index: &TagIndex<'_>,
    stack: &str,
    desired: &[Repository],
) -> Result<Vec<ObservedRepository>> {
    let listing = async {
        client
            .describe_repositories()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| anyhow::anyhow!("listing ECR repositories: {}", describe(&e)))
    };
    let (repos, _) = tokio::try_join!(listing, index.listed())?;
    let declared = |name: &str| desired.iter().any(|d| d.name == name);
    let observed = concurrent(repos, CONCURRENCY, |r| async move {
        let name = r.repository_name().unwrap_or_default().to_string();
        let arn = r.repository_arn().unwrap_or_default().to_string();
        // Tags: the index's when it lists the repository and may be trusted, else ECR's own read.
        let tags = async {
            if let Some(tags) = index.tags(&arn).await? {
                return Ok(tags);
            }
            let out = client
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("reading tags of ECR repository ({name}): {}", describe(&e)))?;
            Ok::<Tags, anyhow::Error>(out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
        };
        let lifecycle = async {
            if declared(&name) {
                lifecycle_policy(client, &name).await
            } else {
                Ok(None)
            }
        };
        let (tags, lifecycle) = tokio::try_join!(tags, lifecycle)?;
        Ok::<_, anyhow::Error>(ObservedRepository {
            scan_on_push: r.image_scanning_configuration().is_some_and(|c| c.scan_on_push()),
            tag_mutability: r
                .image_tag_mutability()
                .map(|m| m.as_str().to_string())
                .unwrap_or_else(|| "MUTABLE".into()),
            name,
            arn,
            tags,
            lifecycle,
            holds_images: false,
        })
    })
    .await
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    // Only owned repositories the stack no longer declares can be deleted: check those for images.
    concurrent(observed, CONCURRENCY, |mut r| async move {
        if owner(stack, &r.tags) == Owner::ThisStack && !declared(&r.name) {
            let images = client
                .list_images()
                .repository_name(&r.name)
                .max_results(1)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("listing images of ECR repository ({}): {}", r.name, describe(&e)))?;
            r.holds_images = !images.image_ids().is_empty();
        }
        Ok(r)
    })
    .await
    .into_iter()
    .collect()
}

async fn lifecycle_policy(client: &Client, name: &str) -> Result<Option<LifecyclePolicy>> {
    match client.get_lifecycle_policy().repository_name(name).send().await {
        Ok(out) => Ok(out.lifecycle_policy_text().map(LifecyclePolicy::from_text)),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_lifecycle_policy_not_found_exception()) => Ok(None),
        Err(e) => bail!("reading the lifecycle policy of ECR repository ({name}): {}", describe(&e)),
    }
}

/// The contract for `ecr_repository.NAME`.
#[derive(Debug, Clone)]
pub struct EcrRepository;

const SCAN_ON_PUSH: Path = Path::field("scan_on_push");
const TAG_MUTABILITY: Path = Path::field("tag_mutability");

impl Resource for EcrRepository {
    const KIND: Kind = Kind::EcrRepository;
    const GROUP: Group = Group::Repositories;
    const FIELDS: &'static [Path] = &[SCAN_ON_PUSH, TAG_MUTABILITY, LIFECYCLE, TAGS];
    type Desired = Repository;
    type Observed = ObservedRepository;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::Repository)
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<Repository> {
        cx.desired.repositories.clone()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<ObservedRepository> {
        cx.observed.repositories.clone()
    }

    fn name(d: &Repository) -> &str {
        &d.name
    }

    fn fields(_: &DiffCx<'_>, d: &Repository, o: Option<&ObservedRepository>, tags: &Tags) -> FieldDiff {
        let mut f = FieldDiff::default();
        f.field(SCAN_ON_PUSH, o.map(|o| Some(o.scan_on_push)), Some(d.scan_on_push));
        f.field(TAG_MUTABILITY, o.map(|o| Some(o.tag_mutability.clone())), Some(d.tag_mutability.clone()));
        let before = o.map(|o| o.lifecycle.as_ref().map(LifecyclePolicy::as_value));
        f.field(LIFECYCLE, before, d.keep_last_images.map(serde_json::Value::from));
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.arn
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_ecr(&clients.ecr, address, id, have, want).await
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Repository,
        _: Option<&ObservedRepository>,
    ) -> Result<String> {
        let client = &cx.clients.ecr;
        let out = client
            .create_repository()
            .repository_name(&d.name)
            .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(d.scan_on_push).build())
            .image_tag_mutability(ImageTagMutability::from(d.tag_mutability.as_str()))
            .set_tags(Some(tags::ecr(&cx.tags(address))))
            .send()
            .await
            .map_err(|e| failed("creating", address, &e))?;
        let arn = required(out.repository().and_then(|r| r.repository_arn()), "creating", address, "repositoryArn")?;
        if let Some(n) = d.keep_last_images {
            put_lifecycle(client, address, n).await?;
        }
        Ok(arn.to_string())
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Repository,
        _: &ObservedRepository,
        delta: &Delta<'_>,
    ) -> Result<()> {
        let client = &cx.clients.ecr;
        let name = &d.name;
        if delta.has(SCAN_ON_PUSH) {
            client
                .put_image_scanning_configuration()
                .repository_name(name)
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder().scan_on_push(d.scan_on_push).build(),
                )
                .send()
                .await
                .map_err(|e| failed("setting scan on push of", address, &e))?;
        }
        if delta.has(TAG_MUTABILITY) {
            client
                .put_image_tag_mutability()
                .repository_name(name)
                .image_tag_mutability(ImageTagMutability::from(d.tag_mutability.as_str()))
                .send()
                .await
                .map_err(|e| failed("setting tag mutability of", address, &e))?;
        }
        if delta.has(LIFECYCLE) {
            match d.keep_last_images {
                Some(n) => put_lifecycle(client, address, n).await?,
                None => {
                    client
                        .delete_lifecycle_policy()
                        .repository_name(name)
                        .send()
                        .await
                        .map_err(|e| failed("removing the lifecycle policy of", address, &e))?;
                }
            }
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &ObservedRepository) -> Result<()> {
        match cx.clients.ecr.delete_repository().repository_name(&o.name).force(cx.ctx.delete_data).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_repository_not_empty_exception()) => {
                bail!("deleting {address}: it holds images (pushed since the plan was made); run again, or pass --delete-data to delete them")
            }
            Err(e) => Err(failed("deleting", address, &e)),
        }
    }
}

const LIFECYCLE: Path = Path::field("lifecycle_policy.keep_last_images");

async fn put_lifecycle(client: &Client, address: &Address, keep: u32) -> Result<()> {
    client
        .put_lifecycle_policy()
        .repository_name(&address.name)
        .lifecycle_policy_text(ecr_keep_last_policy(keep).to_string())
        .send()
        .await
        .map_err(|e| failed("setting the lifecycle policy of", address, &e))?;
    Ok(())
}
