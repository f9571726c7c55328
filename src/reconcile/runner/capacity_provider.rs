//! The capacity provider: the group, managed scaling off (the size is fixed), associated with the
//! cluster as its default strategy; removed from the cluster's strategy before it is deleted.

use anyhow::{bail, Result};
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, CapacityProviderStrategyItem, ManagedScaling, ManagedScalingStatus,
    ManagedTerminationProtection,
};

use super::ObservedRunner;
use crate::aws::{describe, error, Clients};
use crate::model::compute::Ec2Capacity;
use crate::model::tags::Tags;
use crate::model::{Address, Kind};
use crate::plan::Action;
use crate::reconcile::kit::Ids;
use crate::reconcile::tags;

pub(super) async fn put(
    clients: &Clients,
    d: &Ec2Capacity,
    o: &ObservedRunner,
    ids: &Ids,
    tags: &Tags,
    action: Action,
    address: &Address,
) -> Result<()> {
    let name = d.cluster.as_str();
    let err = |what: &str, e: &(dyn std::error::Error + 'static)| anyhow::anyhow!("{what} {address}: {}", describe(e));
    let ecs = &clients.ecs;
    let observed = o.capacity_providers.iter().find(|c| c.name == name);
    if action == Action::Replace {
        delete(clients, name).await?;
    }
    if observed.is_none() || action == Action::Replace {
        let group = ids.get(&Address::new(Kind::AutoScalingGroup, name))?;
        let provider = AutoScalingGroupProvider::builder()
            .auto_scaling_group_arn(group)
            .managed_scaling(ManagedScaling::builder().status(ManagedScalingStatus::Disabled).build())
            .managed_termination_protection(ManagedTerminationProtection::Disabled)
            .build()?;
        ecs.create_capacity_provider()
            .name(name)
            .auto_scaling_group_provider(provider)
            .set_tags(Some(tags::ecs(tags)))
            .send()
            .await
            .map_err(|e| err("creating", &e))?;
    } else if let Some(cp) = observed {
        tags::sync_ecs(ecs, address, &cp.id, &cp.tags, tags).await?;
    }
    let strategy = CapacityProviderStrategyItem::builder().capacity_provider(name).weight(1).build()?;
    ecs.put_cluster_capacity_providers()
        .cluster(name)
        .capacity_providers(name)
        .default_capacity_provider_strategy(strategy)
        .send()
        .await
        .map_err(|e| err("associating", &e))?;
    Ok(())
}

/// Removes the provider from its cluster's strategy, then deletes it.
pub(super) async fn delete(clients: &Clients, name: &str) -> Result<()> {
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
