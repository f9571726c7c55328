//! ECS clusters (the Container Insights setting and tags). Services, task definitions and the EC2
//! runner capacity (`reconcile::runner`) are separate steps of their own.
//!
//! Observe: `DescribeClusters` (100 a call, with tags and settings) of the declared names, in the
//! same round as the tag index, whose owned clusters the file no longer declares are described
//! after it (a call only when there are any; the index may list one deleted a moment ago, which
//! `DescribeClusters` shows `INACTIVE`). An `INACTIVE` cluster is a deleted one and counts as absent;
//! a declared name that does not exist is in the answer's failures, not an error.

use anyhow::Result;
use aws_sdk_ecs::types::{ClusterField, ClusterSetting, ClusterSettingName};
use aws_sdk_ecs::Client;

use crate::aws::error::{failed, required};
use crate::aws::Clients;
use crate::aws::{concurrent, consistency, describe};
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::consistency::{Call, Rule, ECS_SERVICE_LINKED_ROLE};
use crate::model::desired::{Cluster, Desired};
use crate::model::tags::Tags;
use crate::model::usage::{Footprint, Usage};
use crate::model::{Address, Kind};
use crate::plan::Action;
use crate::reconcile::contract::{ApplyCx, DiffCx, Pair, Resource};
use crate::reconcile::Group;
use crate::reconcile::{Plan, ResourceChange};

use crate::reconcile::kit::Observed;
use crate::reconcile::kit::CONCURRENCY;
use crate::reconcile::tag_index::TagIndex;
use crate::reconcile::tags;

#[derive(Debug, Clone, Default)]
pub struct ClusterFields {
    /// `enabled` or `disabled` (AWS's value of the `containerInsights` setting).
    pub container_insights: String,
    /// Capacity providers associated with the cluster (compared by the capacity provider).
    pub capacity_providers: Vec<String>,
}

pub async fn observe(ecs: &Client, index: &TagIndex<'_>, declared: &[String]) -> Result<Vec<Observed<ClusterFields>>> {
    let (mut clusters, owned) = tokio::try_join!(describe_clusters(ecs, declared), index.matching(":cluster/"))?;
    let undeclared: Vec<String> = owned
        .into_iter()
        .map(|(arn, _)| arn)
        .filter(|arn| arn.rsplit_once(":cluster/").is_some_and(|(_, name)| !declared.iter().any(|d| d == name)))
        .collect();
    clusters.extend(describe_clusters(ecs, &undeclared).await?);
    Ok(clusters)
}

/// The clusters of these names or ARNs that exist (`DescribeClusters`, 100 a call).
async fn describe_clusters(ecs: &Client, names: &[String]) -> Result<Vec<Observed<ClusterFields>>> {
    let batches = concurrent(names.chunks(100), CONCURRENCY, |chunk| async move {
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

/// The contract for `ecs_cluster.NAME`.
#[derive(Debug, Clone)]
pub struct EcsCluster;

impl Resource for EcsCluster {
    const KIND: Kind = Kind::EcsCluster;
    const GROUP: Group = Group::Ecs;
    const FIELDS: &'static [Path] = &[INSIGHTS, TAGS];
    type Desired = Cluster;
    type Observed = Observed<ClusterFields>;

    fn usage(desired: &Desired, name: &str) -> Option<Usage> {
        let cluster = desired.clusters.iter().find(|c| c.name == name)?;
        let services = desired.services.iter().filter(|s| s.cluster == name).count() as u32;
        Some(Usage::ContainerInsights { enabled: cluster.container_insights, services })
    }

    /// The services it ran are deleted too and priced on their own; its metrics were per service.
    fn usage_removed(_: &Desired, _: &str, pair: &Pair<Self>, plan: &Plan) -> Option<Usage> {
        let enabled = pair.observed.as_ref()?.fields.container_insights == "enabled";
        let services = plan.changes.iter().filter(|d| d.address.kind == Kind::EcsService && d.action == Action::Delete);
        Some(Usage::ContainerInsights { enabled, services: services.count() as u32 })
    }

    fn usage_before(change: &ResourceChange, before: &mut Footprint) {
        if let (Some(Usage::ContainerInsights { enabled, .. }), Some(was_on)) =
            (before.items.get_mut(&change.address), change.was(INSIGHTS).and_then(serde_json::Value::as_str))
        {
            *enabled = was_on == "enabled";
        }
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<Cluster> {
        cx.desired.clusters.clone()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<ClusterFields>> {
        cx.observed.ecs.clusters.clone()
    }

    fn name(d: &Cluster) -> &str {
        &d.name
    }

    fn fields(_: &DiffCx<'_>, d: &Cluster, o: Option<&Observed<ClusterFields>>, tags: &Tags) -> FieldDiff {
        let mut f = FieldDiff::default();
        let have = o.map(|o| Some(o.fields.container_insights.clone()));
        f.field(INSIGHTS, have, Some(insights(d.container_insights)));
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_ecs(&clients.ecs, address, id, have, want).await
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Cluster,
        _: Option<&Observed<ClusterFields>>,
    ) -> Result<String> {
        // In an account that never used ECS, AWS makes ECS's service-linked role on the first
        // create and refuses until it is usable (`ecs-service-linked-role`): asked for once here
        // too, so a caller allowed to create it does not wait on AWS's own schedule.
        let asked = std::cell::Cell::new(false);
        let create = || async {
            let out = cx
                .clients
                .ecs
                .create_cluster()
                .cluster_name(&d.name)
                .settings(setting(d))
                .set_tags(Some(tags::ecs(&cx.tags(address))))
                .send()
                .await
                .map_err(|e| failed("creating", address, &e));
            if let Err(e) = &out {
                if !asked.replace(true) && is_lag(e, &ECS_SERVICE_LINKED_ROLE) {
                    create_service_linked_role(&cx.clients.iam).await;
                }
            }
            out
        };
        let out = consistency::retry(Call::EcsCreateCluster, address, create).await?;
        Ok(required(out.cluster().and_then(|c| c.cluster_arn()), "creating", address, "clusterArn")?.to_string())
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Cluster,
        _: &Observed<ClusterFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        let ecs = &cx.clients.ecs;
        if delta.has(INSIGHTS) {
            // UpdateCluster (not UpdateClusterSettings): the same effect, and one call moto serves too.
            ecs.update_cluster()
                .cluster(&d.name)
                .settings(setting(d))
                .send()
                .await
                .map_err(|e| failed("updating", address, &e))?;
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<ClusterFields>) -> Result<()> {
        // Services, tasks and instances deleted moments ago drain for a while (`cluster-emptied`).
        let delete = || async {
            cx.clients.ecs.delete_cluster().cluster(&o.name).send().await.map_err(|e| failed("deleting", address, &e))
        };
        consistency::retry(Call::EcsDeleteCluster, address, delete).await?;
        Ok(())
    }
}

pub const INSIGHTS: Path = Path::field("container_insights");

/// True when `e` is AWS answering with `rule`'s lag.
fn is_lag(e: &anyhow::Error, rule: &Rule) -> bool {
    e.downcast_ref::<crate::aws::error::ApplyError>()
        .is_some_and(|a| rule.matches(Call::EcsCreateCluster, a.code.as_deref(), a.message.as_deref()))
}

/// Asks IAM for ECS's service-linked role (`AWSServiceRoleForECS`). One that exists already, or
/// a caller not allowed to create it, leaves the wait to AWS: the progress line says which.
async fn create_service_linked_role(iam: &aws_sdk_iam::Client) {
    let out = iam.create_service_linked_role().aws_service_name("ecs.amazonaws.com").send().await;
    crate::progress::note(match out {
        Ok(_) => "created ECS's service-linked role AWSServiceRoleForECS".to_string(),
        Err(e) => format!(
            "ECS's service-linked role was not created here ({}): waiting for AWS to make it",
            crate::aws::describe(&e)
        ),
    });
}

fn setting(d: &Cluster) -> ClusterSetting {
    ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value(insights(d.container_insights)).build()
}
