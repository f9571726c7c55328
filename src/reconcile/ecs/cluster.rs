//! ECS clusters (the Container Insights setting and tags). Services, task definitions and the EC2
//! runner capacity (`reconcile::runner`) are separate steps of their own.
//!
//! Observe: `ListClusters`, then `DescribeClusters` (100 a call, with tags and settings); an
//! `INACTIVE` cluster is a deleted one and counts as absent.

use anyhow::{bail, Result};
use aws_sdk_ecs::types::{ClusterField, ClusterSetting, ClusterSettingName};
use aws_sdk_ecs::Client;

use crate::aws::{concurrent, describe};
use crate::diff::FieldDiff;
use crate::model::desired::Cluster;
use crate::model::tags::Tags;
use crate::model::{Address, Kind};
use crate::plan::build::{diff_kind, PlanContext, ServiceDiff};
use crate::plan::{Action, Plan};

use crate::reconcile::kit::Observed;
use crate::reconcile::kit::CONCURRENCY;
use crate::reconcile::tags;

#[derive(Debug, Clone, Default)]
pub struct ClusterFields {
    /// `enabled` or `disabled` (AWS's value of the `containerInsights` setting).
    pub container_insights: String,
    /// Capacity providers associated with the cluster (compared by the capacity provider).
    pub capacity_providers: Vec<String>,
}

pub async fn observe(ecs: &Client) -> Result<Vec<Observed<ClusterFields>>> {
    let arns: Vec<String> = ecs
        .list_clusters()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| anyhow::anyhow!("listing ECS clusters: {}", describe(&e)))?;
    let batches = concurrent(arns.chunks(100), CONCURRENCY, |chunk| async move {
        ecs.describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .include(ClusterField::Tags)
            .include(ClusterField::Settings)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("describing ECS clusters: {}", describe(&e)))
    })
    .await;
    let mut out = Vec::new();
    for batch in batches {
        for c in batch?.clusters().iter().filter(|c| c.status() != Some("INACTIVE")) {
            let tags = tags::from_ecs(c.tags());
            let insights = c
                .settings()
                .iter()
                .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
                .and_then(|s| s.value())
                .unwrap_or("disabled")
                .to_string();
            let (Some(name), Some(arn)) = (c.cluster_name(), c.cluster_arn()) else { continue };
            out.push(Observed {
                name: name.to_string(),
                id: arn.to_string(),
                tags,
                fields: ClusterFields {
                    container_insights: insights,
                    capacity_providers: c.capacity_providers().to_vec(),
                },
            });
        }
    }
    Ok(out)
}

fn insights(on: bool) -> String {
    if on { "enabled" } else { "disabled" }.to_string()
}

pub fn diff(ctx: &PlanContext, desired: &[Cluster], observed: &[Observed<ClusterFields>], plan: &mut Plan) {
    let fields = |d: &Cluster, o: Option<&Observed<ClusterFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        f.field(
            "container_insights",
            o.map(|o| Some(o.fields.container_insights.clone())),
            Some(insights(d.container_insights)),
        );
        f.tags(o.map(|o| &o.tags), tags);
        f
    };
    let spec = ServiceDiff {
        kind: Kind::EcsCluster,
        desired_name: |c: &Cluster| &c.name,
        fields: &fields,
        replace_on: &[],
        depends_on: &|_| vec![],
    };
    diff_kind(ctx, spec, desired, observed, plan);
}

pub async fn apply(
    ecs: &Client,
    ctx: &PlanContext,
    desired: Option<&Cluster>,
    observed: Option<&Observed<ClusterFields>>,
    action: Action,
    address: &Address,
) -> Result<()> {
    let name = address.name.as_str();
    let err = |what: &str, e: &(dyn std::error::Error + 'static)| anyhow::anyhow!("{what} {address}: {}", describe(e));
    let Some(d) = desired.filter(|_| action != Action::Delete) else {
        return match ecs.delete_cluster().cluster(name).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_cluster_not_found_exception()) => Ok(()),
            Err(e) => Err(err("deleting", &e)),
        };
    };
    let setting = ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(insights(d.container_insights))
        .build();
    let tags = ctx.tags(address);
    match (action, observed) {
        (Action::Update, Some(o)) => {
            if o.fields.container_insights != insights(d.container_insights) {
                // UpdateCluster (not UpdateClusterSettings): the same effect, and one call moto serves too.
                ecs.update_cluster().cluster(name).settings(setting).send().await.map_err(|e| err("updating", &e))?;
            }
            tags::sync_ecs(ecs, address, &o.id, &o.tags, &tags).await?;
            Ok(())
        }
        (Action::Update, None) => bail!("updating {address}: it was not observed"),
        _ => {
            ecs.create_cluster()
                .cluster_name(name)
                .settings(setting)
                .set_tags(Some(tags::ecs(&tags)))
                .send()
                .await
                .map_err(|e| err("creating", &e))?;
            Ok(())
        }
    }
}
