//! CloudWatch log groups: retention and tags. `down` keeps them unless `--delete-data`.
//!
//! Observe in one round, concurrently: `DescribeLogGroups` of the declared names (50 a call), and
//! the stack's tag index (`tag_index`), which lists this stack's groups with their tags. A second
//! round only for what the index cannot settle: an owned group no longer declared (confirmed by
//! name), a group it does not list or may not be trusted about (its tags read directly).

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_cloudwatchlogs::Client as LogsClient;

use super::contract::{ApplyCx, DiffCx, Pair, Resource};
use super::kit::CONCURRENCY;
use super::tag_index::TagIndex;
use super::tags;
use super::Group;
use super::{Plan, ResourceChange};
use crate::aws::error::failed;
use crate::aws::{concurrent, describe, Clients};
use crate::diff::normalize::log_group_name_from_arn;
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::desired;
use crate::model::tags::Tags;
use crate::model::usage::{Footprint, Usage};
use crate::model::{Address, Kind};
use crate::plan::build::ObservedResource;

#[derive(Debug, Clone)]
pub struct ObservedLogGroup {
    pub name: String,
    /// Without the `:*` suffix: the form the tagging calls take.
    pub arn: String,
    pub retention_days: Option<i32>,
    pub tags: Tags,
}

impl ObservedResource for ObservedLogGroup {
    fn name(&self) -> &str {
        &self.name
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    /// Its events are the evidence after an incident, and a group's `storedBytes` lags by hours,
    /// so an empty-looking group is no proof: kept unless `--delete-data`.
    fn holds_data(&self) -> Option<String> {
        Some("its log events are evidence after an incident".to_string())
    }
}

pub async fn observe(
    clients: &Clients,
    index: &TagIndex<'_>,
    desired: &[desired::LogGroup],
) -> Result<Vec<ObservedLogGroup>> {
    let names: Vec<String> = desired.iter().map(|d| d.name.clone()).collect();
    let (declared, owned) = tokio::try_join!(by_name(clients, &names), owned_log_groups(index))?;
    let mut found: BTreeMap<String, ObservedLogGroup> = declared.into_iter().map(|g| (g.name.clone(), g)).collect();
    // Owned groups the file no longer declares: confirmed by CloudWatch Logs itself (the index may
    // still list a group deleted a moment ago). Costs a call only when there are any.
    let undeclared: Vec<String> = owned.keys().filter(|n| !found.contains_key(*n)).cloned().collect();
    found.extend(by_name(clients, &undeclared).await?.into_iter().map(|g| (g.name.clone(), g)));
    // Tags: from the index when it lists the group and may be trusted, else read directly.
    let unlisted: Vec<(String, String)> = found
        .values_mut()
        .filter_map(|g| match owned.get(&g.name) {
            Some((_, tags)) if index.trusted() => {
                g.tags = tags.clone();
                None
            }
            _ => Some((g.name.clone(), g.arn.clone())),
        })
        .collect();
    let read = concurrent(unlisted, CONCURRENCY, |(name, arn)| async move {
        let out = clients
            .logs
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading tags of CloudWatch log group ({name}): {}", describe(&e)))?;
        Ok::<_, anyhow::Error>((name, out.tags().cloned().unwrap_or_default().into_iter().collect::<Tags>()))
    })
    .await;
    for r in read {
        let (name, tags) = r?;
        if let Some(g) = found.get_mut(&name) {
            g.tags = tags;
        }
    }
    Ok(found.into_values().collect())
}

/// The log groups of these exact names: `DescribeLogGroups` by identifier, 50 names a call. (moto
/// ignores the identifiers and answers with every group; the exact match here makes both right.)
async fn by_name(clients: &Clients, names: &[String]) -> Result<Vec<ObservedLogGroup>> {
    let pages = concurrent(names.chunks(50), CONCURRENCY, |chunk| async move {
        clients
            .logs
            .describe_log_groups()
            .set_log_group_identifiers(Some(chunk.to_vec()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| anyhow::anyhow!("reading CloudWatch log groups ({}): {}", chunk.join(", "), describe(&e)))
    })
    .await;
    let mut out = Vec::new();
    for page in pages {
        for g in page? {
            let name = g.log_group_name().unwrap_or_default().to_string();
            if !names.contains(&name) {
                continue;
            }
            let arn = g.arn().map(|a| a.strip_suffix(":*").unwrap_or(a).to_string()).unwrap_or_default();
            out.push(ObservedLogGroup { name, arn, retention_days: g.retention_in_days(), tags: Tags::new() });
        }
    }
    Ok(out)
}

/// Every log group the index lists as this stack's, by name: (ARN, tags).
async fn owned_log_groups(index: &TagIndex<'_>) -> Result<BTreeMap<String, (String, Tags)>> {
    let mut owned = BTreeMap::new();
    for (arn, tags) in index.matching(":log-group:").await? {
        let Some(name) = log_group_name_from_arn(&arn) else {
            continue;
        };
        owned.insert(name.to_string(), (arn.strip_suffix(":*").unwrap_or(&arn).to_string(), tags));
    }
    Ok(owned)
}

/// The contract for `log_group.NAME`.
#[derive(Debug, Clone)]
pub struct LogGroup;

pub const RETENTION: Path = Path::field("retention_days");

impl Resource for LogGroup {
    const KIND: Kind = Kind::LogGroup;
    const GROUP: Group = Group::LogGroups;
    const FIELDS: &'static [Path] = &[RETENTION, TAGS];
    type Desired = desired::LogGroup;
    type Observed = ObservedLogGroup;

    fn usage(desired: &desired::Desired, name: &str) -> Option<Usage> {
        let group = desired.log_groups.iter().find(|g| g.name == name)?;
        Some(Usage::LogGroup { retention_days: group.retention_days })
    }

    fn usage_removed(_: &desired::Desired, _: &str, pair: &Pair<Self>, _: &Plan) -> Option<Usage> {
        Some(Usage::LogGroup { retention_days: pair.observed.as_ref()?.retention_days })
    }

    fn usage_before(change: &ResourceChange, before: &mut Footprint) {
        if let Some(Usage::LogGroup { retention_days }) = before.items.get_mut(&change.address) {
            if change.fields.iter().any(|f| f.is(RETENTION)) {
                *retention_days = change.was(RETENTION).and_then(serde_json::Value::as_i64).map(|d| d as i32);
            }
        }
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<desired::LogGroup> {
        cx.desired.log_groups.clone()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<ObservedLogGroup> {
        cx.observed.log_groups.clone()
    }

    fn name(d: &desired::LogGroup) -> &str {
        &d.name
    }

    fn fields(_: &DiffCx<'_>, d: &desired::LogGroup, o: Option<&ObservedLogGroup>, tags: &Tags) -> FieldDiff {
        let mut f = FieldDiff::default();
        f.field(RETENTION, o.map(|o| o.retention_days), d.retention_days);
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.arn
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_logs(&clients.logs, address, id, have, want).await
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &desired::LogGroup,
        _: Option<&ObservedLogGroup>,
    ) -> Result<String> {
        let client = &cx.clients.logs;
        client
            .create_log_group()
            .log_group_name(&d.name)
            .set_tags(Some(cx.tags(address).into_iter().collect()))
            .send()
            .await
            .map_err(|e| failed("creating", address, &e))?;
        set_retention(client, address, None, d.retention_days).await?;
        Ok(d.name.clone())
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &desired::LogGroup,
        o: &ObservedLogGroup,
        delta: &Delta<'_>,
    ) -> Result<()> {
        let client = &cx.clients.logs;
        if delta.has(RETENTION) {
            set_retention(client, address, o.retention_days, d.retention_days).await?;
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &ObservedLogGroup) -> Result<()> {
        cx.clients
            .logs
            .delete_log_group()
            .log_group_name(&o.name)
            .send()
            .await
            .map_err(|e| failed("deleting", address, &e))?;
        Ok(())
    }
}

/// Brings a group's retention from `have` to `want` (`None`: never expire), with one call at most.
async fn set_retention(client: &LogsClient, address: &Address, have: Option<i32>, want: Option<i32>) -> Result<()> {
    let name = &address.name;
    match want {
        Some(days) if have != Some(days) => {
            client
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days)
                .send()
                .await
                .map_err(|e| failed("setting the retention of", address, &e))?;
        }
        None if have.is_some() => {
            client
                .delete_retention_policy()
                .log_group_name(name)
                .send()
                .await
                .map_err(|e| failed("removing the retention of", address, &e))?;
        }
        _ => {}
    }
    Ok(())
}
