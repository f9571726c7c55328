//! `capacity_provider.CLUSTER`: the Auto Scaling group, managed scaling off (the size is fixed), associated with the
//! cluster as its default strategy; removed from the cluster's strategy before it is deleted.

use anyhow::{bail, Result};
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, CapacityProviderStrategyItem, ManagedScaling, ManagedScalingStatus,
    ManagedTerminationProtection,
};

use super::CapacityProviderFields;
use crate::aws::error::{self, failed, required};
use crate::aws::{describe, Clients};
use crate::diff::{FieldChange, FieldDiff};
use crate::model::compute::Ec2Capacity;
use crate::model::tags::Tags;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{ApplyCx, DiffCx, Pair, Resource};
use crate::reconcile::kit::Observed;
use crate::reconcile::payload::Payload;
use crate::reconcile::tags;

#[derive(Debug, Clone)]
pub struct CapacityProvider;

const DEFAULT: &str = "default_for_cluster";

impl Resource for CapacityProvider {
    const KIND: Kind = Kind::CapacityProvider;
    const REPLACE_ON: &'static [&'static str] = &["auto_scaling_group"];
    type Desired = Ec2Capacity;
    type Observed = Observed<CapacityProviderFields>;

    fn desired(cx: &DiffCx<'_>) -> Vec<Ec2Capacity> {
        cx.desired.ec2_capacity.clone()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<CapacityProviderFields>> {
        cx.observed.runner.capacity_providers.clone()
    }

    fn name(d: &Ec2Capacity) -> &str {
        &d.cluster
    }

    fn fields(
        cx: &DiffCx<'_>,
        d: &Ec2Capacity,
        cp: Option<&Observed<CapacityProviderFields>>,
        tags: &Tags,
    ) -> FieldDiff {
        let mut f = FieldDiff::default();
        let of = cp.map(|c| &c.fields);
        let group = |arn: &str| arn.rsplit("autoScalingGroupName/").next().unwrap_or(arn).to_string();
        f.field("auto_scaling_group", of.map(|o| Some(group(&o.group_arn))), Some(d.cluster.clone()));
        f.field("managed_scaling", of.map(|o| Some(o.managed_scaling.clone())), Some("disabled".to_string()));
        let cluster = cx.observed.ecs.clusters.iter().find(|c| c.name == d.cluster);
        let associated = cluster.is_some_and(|c| c.fields.capacity_providers.contains(&d.cluster));
        f.field(DEFAULT, cp.map(|_| Some(associated)), Some(true));
        f.tags(cp.map(|c| &c.tags), tags);
        f
    }

    fn depends_on(_: &DiffCx<'_>, d: &Ec2Capacity) -> Vec<Address> {
        vec![Address::new(Kind::AutoScalingGroup, &d.cluster), Address::new(Kind::EcsCluster, &d.cluster)]
    }

    fn payload(pair: Pair<Self>) -> Payload {
        Payload::CapacityProvider(pair)
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Ec2Capacity,
        _: Option<&Self::Observed>,
    ) -> Result<String> {
        let name = d.cluster.as_str();
        let group = cx.ids.get(&Address::new(Kind::AutoScalingGroup, name))?;
        let provider = AutoScalingGroupProvider::builder()
            .auto_scaling_group_arn(group)
            .managed_scaling(ManagedScaling::builder().status(ManagedScalingStatus::Disabled).build())
            .managed_termination_protection(ManagedTerminationProtection::Disabled)
            .build()?;
        let out = cx
            .clients
            .ecs
            .create_capacity_provider()
            .name(name)
            .auto_scaling_group_provider(provider)
            .set_tags(Some(tags::ecs(&cx.tags(address))))
            .send()
            .await
            .map_err(|e| failed("creating", address, &e))?;
        let arn = out.capacity_provider().and_then(|c| c.capacity_provider_arn());
        let arn = required(arn, "creating", address, "capacityProviderArn")?.to_string();
        associate(cx, address, name).await?;
        Ok(arn)
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Ec2Capacity,
        cp: &Observed<CapacityProviderFields>,
        delta: &[FieldChange],
    ) -> Result<()> {
        if delta.iter().any(|f| f.path.starts_with("tags")) {
            tags::sync_ecs(&cx.clients.ecs, address, &cp.id, &cp.tags, &cx.tags(address)).await?;
        }
        if delta.iter().any(|f| f.path == DEFAULT) {
            associate(cx, address, &d.cluster).await?;
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, _: &Address, cp: &Observed<CapacityProviderFields>) -> Result<()> {
        delete(cx.clients, &cp.name).await
    }
}

/// Makes the provider its cluster's default strategy.
async fn associate(cx: &ApplyCx<'_>, address: &Address, name: &str) -> Result<()> {
    let strategy = CapacityProviderStrategyItem::builder().capacity_provider(name).weight(1).build()?;
    cx.clients
        .ecs
        .put_cluster_capacity_providers()
        .cluster(name)
        .capacity_providers(name)
        .default_capacity_provider_strategy(strategy)
        .send()
        .await
        .map_err(|e| failed("associating", address, &e))?;
    Ok(())
}

/// Removes the provider from its cluster's strategy, then deletes it.
async fn delete(clients: &Clients, name: &str) -> Result<()> {
    let ecs = &clients.ecs;
    match ecs
        .put_cluster_capacity_providers()
        .cluster(name)
        .set_capacity_providers(Some(Vec::new()))
        .set_default_capacity_provider_strategy(Some(Vec::new()))
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if error::is_not_found(&e) => {}
        Err(e) => bail!("detaching capacity_provider.{name} from its cluster: {}", describe(&e)),
    }
    let Err(e) = ecs.delete_capacity_provider().capacity_provider(name).send().await else { return Ok(()) };
    // ECS answers a missing provider with a generic ClientException: whether it still exists is
    // read, not guessed from the message.
    let out = ecs
        .describe_capacity_providers()
        .capacity_providers(name)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading capacity_provider.{name}: {}", describe(&e)))?;
    let exists = out.capacity_providers().iter().any(|c| c.status().is_none_or(|s| s.as_str() == "ACTIVE"));
    if exists {
        bail!("deleting capacity_provider.{name}: {}", describe(&e));
    }
    Ok(())
}
