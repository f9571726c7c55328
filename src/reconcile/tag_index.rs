//! One Resource Groups Tagging API query, shared by every observation that needs this stack's
//! tags from a service without a batched tag read of its own (SSM parameters, ECR repositories,
//! log groups, load balancers and target groups, ECS services, alarms, SNS topics, the
//! certificate): one call (a page holds 100 resources) instead of one `ListTagsForResource` per
//! resource. ECS clusters are in it too, to find the owned ones the file no longer declares
//! without listing every cluster of the account.
//!
//! Invariants — the tagging API is eventually consistent, so the index is a hint, never the truth:
//! - a resource it does not list (just created, or not this stack's) has its tags read with its
//!   own service's call before it is judged (`tags` answers `None`, the caller falls back);
//! - a resource it lists but the service's own read did not find is confirmed by that read before
//!   it is planned (a resource deleted a moment ago may still be listed);
//! - once this process has changed anything in AWS (`distrust`, called before every step), its
//!   tags are no longer taken from the index: the verification after `up` sees its own writes.
//!
//! ECS task-definition revisions are not in it: they accumulate with every deploy and would page
//! every other service's answer (`ecs::observe` lists them in a query of their own).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use tokio::sync::OnceCell;

use crate::aws::{describe, Clients};
use crate::model::tags::{Tags, MANAGED_BY, MANAGED_BY_VALUE, STACK};

/// The service-level type filters of the one query (a service filter matches all its types,
/// and is the form AWS and the emulator agree on).
const SERVICES: &[&str] =
    &["acm", "cloudwatch", "ecr", "elasticloadbalancing", "logs", "ssm", "sns", "ecs:cluster", "ecs:service"];

/// Set once this process has sent a mutating call of a step: tags come from each service again.
static CHANGED: AtomicBool = AtomicBool::new(false);

/// From now on, tags are read from each service, not from the index (see the module's invariants).
pub fn distrust() {
    CHANGED.store(true, Ordering::Relaxed);
}

/// This stack's tagged resources, read at most once per observation.
pub struct TagIndex<'a> {
    clients: &'a Clients,
    stack: &'a str,
    listed: OnceCell<Result<BTreeMap<String, Tags>, String>>,
}

impl<'a> TagIndex<'a> {
    pub fn new(clients: &'a Clients, stack: &'a str) -> Self {
        TagIndex { clients, stack, listed: OnceCell::new() }
    }

    /// Every listed ARN with its tags (the query runs on the first call; the others wait for it).
    pub async fn listed(&self) -> Result<&BTreeMap<String, Tags>> {
        let read = self.listed.get_or_init(|| async { query(self.clients, self.stack, SERVICES).await }).await;
        read.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The listed resources whose ARN contains `marker` (`:parameter/`, `:repository/`, …):
    /// candidates this stack owns, to be confirmed by their service's own read.
    pub async fn matching(&self, marker: &str) -> Result<Vec<(String, Tags)>> {
        Ok(self
            .listed()
            .await?
            .iter()
            .filter(|(arn, _)| arn.contains(marker))
            .map(|(a, t)| (a.clone(), t.clone()))
            .collect())
    }

    /// Whether the tags the index lists may stand for the resources' own (until `distrust`).
    pub fn trusted(&self) -> bool {
        !CHANGED.load(Ordering::Relaxed)
    }

    /// The tags the index lists for `arn`, when it lists it and may be trusted; `None`: read them
    /// with the resource's own service.
    pub async fn tags(&self, arn: &str) -> Result<Option<Tags>> {
        let listed = self.listed().await?;
        Ok(listed.get(arn).filter(|_| self.trusted()).cloned())
    }
}

/// Every resource of these types (service-level or `service:type` filters) carrying this stack's
/// ownership tags: ARN → tags. One paginated query, up to 100 resources a page.
pub async fn query(clients: &Clients, stack: &str, types: &[&str]) -> Result<BTreeMap<String, Tags>, String> {
    let pages = clients
        .tagging
        .get_resources()
        .tag_filters(TagFilter::builder().key(MANAGED_BY).values(MANAGED_BY_VALUE).build())
        .tag_filters(TagFilter::builder().key(STACK).values(stack).build())
        .set_resource_type_filters(Some(types.iter().map(|t| t.to_string()).collect()))
        // A page ends at whichever limit comes first: 100 resources or 500 tags, both AWS's
        // maxima (the emulator's default is 100 tags: this stack's ~30 resources were 2 pages).
        .resources_per_page(100)
        .tags_per_page(500)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| {
            format!("listing this stack's {} (Resource Groups Tagging API): {}", types.join(", "), describe(&e))
        })?;
    Ok(pages
        .iter()
        .flat_map(|p| p.resource_tag_mapping_list())
        .filter_map(|m| {
            let tags: Tags = m.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            Some((m.resource_arn()?.to_string(), tags))
        })
        .collect())
}
