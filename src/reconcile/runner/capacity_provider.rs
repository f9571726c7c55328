//! `capacity_provider.CLUSTER`: the Auto Scaling group, managed scaling off (the size is fixed),
//! associated with the cluster as its default strategy; removed from the cluster's strategy before
//! it is deleted.
//!
//! Invariants: a provider is bound to its group by the group's ARN, never its name: one left over
//! by an earlier stack (bound to a group since deleted and re-created under the same name) is
//! replaced. A delete is done when ECS says the provider is gone (`updateStatus` DELETE_COMPLETE),
//! not when the call returns; DELETE_FAILED is an error naming the cluster holding it. A create
//! whose name is still held by a provider being deleted waits for that delete to finish
//! (`capacity-provider-deleting`).

use anyhow::{bail, Result};
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CapacityProviderStrategyItem, ManagedScaling,
    ManagedScalingStatus, ManagedTerminationProtection,
};

use super::CapacityProviderFields;
use crate::aws::consistency::{self, Patience};
use crate::aws::error::{failed, required};
use crate::aws::wait::{self, Check};
use crate::aws::Clients;
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::compute::Ec2Capacity;
use crate::model::consistency::{Call, CAPACITY_PROVIDER_DELETING};
use crate::model::desired::Desired;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{gone_is_done, ApplyCx, DiffCx, Resource};
use crate::reconcile::kit::{renewed, Observed};
use crate::reconcile::tags;
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct CapacityProvider;

const DEFAULT: Path = Path::field("default_for_cluster");

const AUTO_SCALING_GROUP: Path = Path::field("auto_scaling_group");
const MANAGED_SCALING: Path = Path::field("managed_scaling");

impl Resource for CapacityProvider {
    const KIND: Kind = Kind::CapacityProvider;
    const GROUP: Group = Group::Runner;
    const FIELDS: &'static [Path] = &[AUTO_SCALING_GROUP, MANAGED_SCALING, DEFAULT, TAGS];
    const REPLACE_ON: &'static [Path] = &[AUTO_SCALING_GROUP];
    type Desired = Ec2Capacity;
    type Observed = Observed<CapacityProviderFields>;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

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
        // The stack's group as observed, unless this plan makes a new one.
        let renewing = renewed(cx.plan, Kind::AutoScalingGroup).contains(&d.cluster);
        let stacks_group = cx.ids.get(&Address::new(Kind::AutoScalingGroup, &d.cluster)).ok().filter(|_| !renewing);
        let bound = |arn: &str| match stacks_group.as_deref() {
            Some(current) if current == arn => d.cluster.clone(),
            _ => {
                format!("{} (not the stack's group: {arn})", arn.rsplit("autoScalingGroupName/").next().unwrap_or(arn))
            }
        };
        f.field(AUTO_SCALING_GROUP, of.map(|o| Some(bound(&o.group_arn))), Some(d.cluster.clone()));
        f.field(MANAGED_SCALING, of.map(|o| Some(o.managed_scaling.clone())), Some("disabled".to_string()));
        let cluster = cx.observed.ecs.clusters.iter().find(|c| c.name == d.cluster);
        let associated = cluster.is_some_and(|c| c.fields.capacity_providers.contains(&d.cluster));
        f.field(DEFAULT, cp.map(|_| Some(associated)), Some(true));
        f.tags(cp.map(|c| &c.tags), tags);
        f
    }

    fn depends_on(_: &DiffCx<'_>, d: &Ec2Capacity) -> Vec<Address> {
        vec![Address::new(Kind::AutoScalingGroup, &d.cluster), Address::new(Kind::EcsCluster, &d.cluster)]
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
        d: &Ec2Capacity,
        _: Option<&Self::Observed>,
    ) -> Result<String> {
        let name = d.cluster.as_str();
        let group = cx.ids.get(&Address::new(Kind::AutoScalingGroup, name))?;
        let provider = AutoScalingGroupProvider::builder()
            .auto_scaling_group_arn(group)
            .managed_scaling(managed_scaling())
            .managed_termination_protection(ManagedTerminationProtection::Disabled)
            .build()?;
        let request = cx
            .clients
            .ecs
            .create_capacity_provider()
            .name(name)
            .auto_scaling_group_provider(provider)
            .set_tags(Some(tags::ecs(&cx.tags(address))));
        let out = match request.clone().send().await.map_err(|e| failed("creating", address, &e)) {
            Ok(out) => out,
            // The name may still be held by a provider being deleted (a `down` moments ago).
            Err(_) if wait_deleted(&cx.clients.ecs, address, name, false).await? => {
                request.send().await.map_err(|e| failed("creating", address, &e))?
            }
            Err(e) => return Err(e),
        };
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
        delta: &Delta<'_>,
    ) -> Result<()> {
        if delta.has(MANAGED_SCALING) {
            let provider = AutoScalingGroupProviderUpdate::builder().managed_scaling(managed_scaling()).build();
            let update = cx.clients.ecs.update_capacity_provider().name(&cp.name).auto_scaling_group_provider(provider);
            update.send().await.map_err(|e| failed("turning managed scaling off for", address, &e))?;
        }
        if delta.has(DEFAULT) {
            associate(cx, address, &d.cluster).await?;
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, cp: &Observed<CapacityProviderFields>) -> Result<()> {
        delete(cx.clients, address, &cp.name).await
    }
}

/// Makes the provider its cluster's default strategy. The cluster refuses while an update of it
/// is still going (`cluster-update-in-progress`).
async fn associate(cx: &ApplyCx<'_>, address: &Address, name: &str) -> Result<()> {
    let strategy = CapacityProviderStrategyItem::builder().capacity_provider(name).weight(1).build()?;
    let request = cx
        .clients
        .ecs
        .put_cluster_capacity_providers()
        .cluster(name)
        .capacity_providers(name)
        .default_capacity_provider_strategy(strategy);
    let put = || async { request.clone().send().await.map_err(|e| failed("associating", address, &e)) };
    consistency::retry(Call::EcsPutClusterCapacityProviders, address, put).await?;
    Ok(())
}

/// Removes the provider from its cluster's strategy, deletes it, and waits until ECS has.
async fn delete(clients: &Clients, address: &Address, name: &str) -> Result<()> {
    let ecs = &clients.ecs;
    let request = ecs
        .put_cluster_capacity_providers()
        .cluster(name)
        .set_capacity_providers(Some(Vec::new()))
        .set_default_capacity_provider_strategy(Some(Vec::new()));
    let detach =
        || async { request.clone().send().await.map_err(|e| failed("detaching from its cluster", address, &e)) };
    gone_is_done(consistency::retry(Call::EcsPutClusterCapacityProviders, address, detach).await.map(drop))?;
    if let Err(e) = ecs.delete_capacity_provider().capacity_provider(name).send().await {
        // ECS answers a missing provider with a generic ClientException: whether it still exists
        // is read, not guessed from the message.
        if state(ecs, address, name).await?.is_some() {
            return Err(failed("deleting", address, &e));
        }
        return Ok(());
    }
    wait_deleted(ecs, address, name, true).await.map(drop)
}

/// The provider's `updateStatus` (and its reason) while it exists (not INACTIVE).
async fn state(ecs: &aws_sdk_ecs::Client, address: &Address, name: &str) -> Result<Option<(String, String)>> {
    let out = ecs
        .describe_capacity_providers()
        .capacity_providers(name)
        .send()
        .await
        .map_err(|e| failed("reading", address, &e))?;
    let provider = out.capacity_providers().iter().find(|c| c.status().is_none_or(|s| s.as_str() == "ACTIVE"));
    Ok(provider.map(|c| {
        let status = c.update_status().map(|s| s.as_str().to_string()).unwrap_or_default();
        (status, c.update_status_reason().unwrap_or_default().to_string())
    }))
}

/// Waits while the provider named `name` is being deleted: after our own delete (`deleted`), until
/// ECS reports it gone; before a create, only while a namesake is DELETE_IN_PROGRESS. `true` when
/// it waited. DELETE_FAILED is an error naming the cluster holding the provider.
async fn wait_deleted(ecs: &aws_sdk_ecs::Client, address: &Address, name: &str, deleted: bool) -> Result<bool> {
    let deleting = Patience::new(&CAPACITY_PROVIDER_DELETING, address);
    let waited = std::cell::Cell::new(false);
    let what = format!("{address} to be deleted");
    let budget = CAPACITY_PROVIDER_DELETING.budget + std::time::Duration::from_secs(60);
    wait::until(&what, budget, || async {
        Ok(match state(ecs, address, name).await? {
            None => {
                deleting.seen();
                Check::Ready(())
            }
            Some((status, reason)) if status == "DELETE_FAILED" => bail!(
                "deleting {address}: ECS could not delete it ({reason}); ECS cluster {name} still holds it: remove it \
                 from the cluster's capacity providers, then run `down` again"
            ),
            Some((status, _)) if deleted || status == "DELETE_IN_PROGRESS" => {
                waited.set(true);
                Check::Pending(format!("{status}: {}", deleting.not_yet()?))
            }
            // It exists and nothing is deleting it.
            Some(_) => Check::Ready(()),
        })
    })
    .await?;
    Ok(waited.get())
}

/// The runner's group scales by its own size, not by ECS (`managed_scaling: disabled`).
fn managed_scaling() -> ManagedScaling {
    ManagedScaling::builder().status(ManagedScalingStatus::Disabled).build()
}

#[cfg(test)]
mod tests {
    //! moto deletes a capacity provider when asked; AWS goes through DELETE_IN_PROGRESS and may
    //! end in DELETE_FAILED (a cluster still holds it). Both run here on canned ECS answers.

    use aws_sdk_ecs::operation::describe_capacity_providers::DescribeCapacityProvidersOutput;
    use aws_sdk_ecs::types::{CapacityProvider as Provider, CapacityProviderStatus, CapacityProviderUpdateStatus};
    use aws_smithy_mocks::mock;

    use super::*;

    fn provider(update: CapacityProviderUpdateStatus) -> DescribeCapacityProvidersOutput {
        let p = Provider::builder()
            .name("containrlab-runner-ec2")
            .status(CapacityProviderStatus::Active)
            .update_status(update)
            .update_status_reason("The capacity provider is in use by cluster containrlab-runner-ec2")
            .build();
        DescribeCapacityProvidersOutput::builder().capacity_providers(p).build()
    }

    #[tokio::test(start_paused = true)]
    async fn a_delete_is_done_when_ecs_says_so_and_delete_failed_names_the_cluster() {
        let address = Address::new(Kind::CapacityProvider, "containrlab-runner-ec2");
        let deleting = mock!(aws_sdk_ecs::Client::describe_capacity_providers)
            .sequence()
            .output(|| provider(CapacityProviderUpdateStatus::DeleteInProgress))
            .times(3)
            .output(|| DescribeCapacityProvidersOutput::builder().build())
            .build();
        let ecs = crate::aws::canned::canned_client!(aws_sdk_ecs, &[&deleting]);
        assert!(wait_deleted(&ecs, &address, "containrlab-runner-ec2", true).await.expect("gone"));
        assert_eq!(deleting.num_calls(), 4, "read until ECS no longer lists it");

        let failed = mock!(aws_sdk_ecs::Client::describe_capacity_providers)
            .then_output(|| provider(CapacityProviderUpdateStatus::DeleteFailed));
        let ecs = crate::aws::canned::canned_client!(aws_sdk_ecs, &[&failed]);
        let e = wait_deleted(&ecs, &address, "containrlab-runner-ec2", true).await.expect_err("failed");
        assert_eq!(
            e.to_string(),
            "deleting capacity_provider.containrlab-runner-ec2: ECS could not delete it (The capacity provider is in use by cluster containrlab-runner-ec2); ECS cluster containrlab-runner-ec2 still holds it: remove it from the cluster's capacity providers, then run `down` again"
        );
    }
}
