//! CloudWatch log groups: retention and tags.
//!
//! Observe in one round, concurrently: `DescribeLogGroups` by name prefix for each declared group
//! (exact name matched here), and one Resource Groups Tagging API query for every log group tagged
//! with this stack (their tags included). A declared group missing from that query gets its tags
//! read directly, to tell "not ours" from "ours".

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_cloudwatchlogs::Client as LogsClient;

use super::contract::{ApplyCx, DiffCx, Pair, Resource};
use super::kit::CONCURRENCY;
use super::payload::Payload;
use super::tags;
use crate::aws::error::failed;
use crate::aws::{concurrent, describe, Clients};
use crate::diff::normalize::log_group_name_from_arn;
use crate::diff::{FieldChange, FieldDiff};
use crate::model::desired;
use crate::model::tags::Tags;
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
}

pub async fn observe(clients: &Clients, stack: &str, desired: &[desired::LogGroup]) -> Result<Vec<ObservedLogGroup>> {
    let declared = concurrent(desired, CONCURRENCY, |d| async move {
        let out = clients
            .logs
            .describe_log_groups()
            .log_group_name_prefix(&d.name)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading CloudWatch log group ({}): {}", d.name, describe(&e)))?;
        Ok::<_, anyhow::Error>(out.log_groups().iter().find(|g| g.log_group_name() == Some(d.name.as_str())).cloned())
    });
    let owned = owned_log_groups(clients, stack);
    let (declared, owned) = tokio::join!(declared, owned);
    let owned = owned?;
    let mut found: BTreeMap<String, ObservedLogGroup> = BTreeMap::new();
    for g in declared.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten() {
        let name = g.log_group_name().unwrap_or_default().to_string();
        let arn = g.arn().map(|a| a.strip_suffix(":*").unwrap_or(a).to_string()).unwrap_or_default();
        let tags = owned.get(&name).map(|(_, t)| t.clone()).unwrap_or_default();
        found.insert(name.clone(), ObservedLogGroup { name, arn, retention_days: g.retention_in_days(), tags });
    }
    for (name, (arn, tags)) in &owned {
        found.entry(name.clone()).or_insert_with(|| ObservedLogGroup {
            name: name.clone(),
            arn: arn.clone(),
            retention_days: None,
            tags: tags.clone(),
        });
    }
    // Declared groups that exist but are not tagged with this stack: read their tags to name the owner.
    let unowned: Vec<String> = found.keys().filter(|n| !owned.contains_key(*n)).cloned().collect();
    let read =
        concurrent(unowned, CONCURRENCY, |name| {
            let arn = found[&name].arn.clone();
            async move {
                let out =
                    clients.logs.list_tags_for_resource().resource_arn(&arn).send().await.map_err(|e| {
                        anyhow::anyhow!("reading tags of CloudWatch log group ({name}): {}", describe(&e))
                    })?;
                Ok::<_, anyhow::Error>((name, out.tags().cloned().unwrap_or_default().into_iter().collect::<Tags>()))
            }
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

/// Every log group tagged with this stack, by name: (ARN, tags). One query, paginated.
async fn owned_log_groups(clients: &Clients, stack: &str) -> Result<BTreeMap<String, (String, Tags)>> {
    let mut owned = BTreeMap::new();
    for (arn, tags) in super::kit::owned_by_tag(clients, stack, &["logs"]).await? {
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

impl Resource for LogGroup {
    const KIND: Kind = Kind::LogGroup;
    type Desired = desired::LogGroup;
    type Observed = ObservedLogGroup;

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
        f.field("retention_days", o.map(|o| o.retention_days), d.retention_days);
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn payload(pair: Pair<Self>) -> Payload {
        Payload::LogGroup(pair)
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
        delta: &[FieldChange],
    ) -> Result<()> {
        let client = &cx.clients.logs;
        if delta.iter().any(|f| f.path == "retention_days") {
            set_retention(client, address, o.retention_days, d.retention_days).await?;
        }
        if delta.iter().any(|f| f.path.starts_with("tags")) {
            tags::sync_logs(client, address, &o.arn, &o.tags, &cx.tags(address)).await?;
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
