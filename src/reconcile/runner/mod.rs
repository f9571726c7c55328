//! The EC2 capacity of a cluster (the privileged runner): launch template → Auto Scaling group →
//! ECS capacity provider, all three named after the cluster.
//!
//! Launch template: the AMI from the public SSM parameter (read at plan time, so a newly published
//! AMI shows as a change), IMDSv2 required with hop limit 1 (containers cannot reach the instance's
//! credentials), an encrypted gp3 root volume, user data that joins the cluster. A change is a new
//! version made the default; the group then moves to that version, named explicitly.
//! Auto Scaling group: fixed size from the stack file, in the subnets of its tier; instances get the
//! stack's tags and a Name, not the ownership tags (the group owns them). Deleting it first
//! deregisters its container instances from the cluster, then deletes the group and its instances
//! and waits until they are gone.
//! Capacity provider: the group, managed scaling off (the size is fixed), associated with the cluster
//! as its default strategy.

pub mod autoscaling_group;
mod capacity_provider;
pub mod launch_template;
mod observe;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};

use crate::model::compute::Ec2Capacity;

use super::kit::Observed;

pub use autoscaling_group::AutoScalingGroup;
pub use capacity_provider::CapacityProvider;
pub use launch_template::LaunchTemplate;
pub use observe::observe;

pub(super) const ROOT_DEVICE: &str = "/dev/xvda";

#[derive(Debug, Default, Clone)]
pub struct ObservedRunner {
    /// SSM parameter → AMI id.
    pub amis: BTreeMap<String, String>,
    pub launch_templates: Vec<Observed<LaunchTemplateFields>>,
    pub groups: Vec<Observed<GroupFields>>,
    pub capacity_providers: Vec<Observed<CapacityProviderFields>>,
    /// AMI id → the size (GiB) of its root snapshot: read only for an AMI a launch template is
    /// about to be made with (the smallest root volume AWS can launch it on).
    pub ami_root_gib: BTreeMap<String, i32>,
}

#[derive(Debug, Clone, Default)]
pub struct LaunchTemplateFields {
    pub default_version: i64,
    pub image_id: String,
    pub instance_type: String,
    pub instance_profile: String,
    pub security_groups: BTreeSet<String>,
    pub metadata: String,
    pub root_volume: String,
    pub user_data: String,
}

#[derive(Debug, Clone, Default)]
pub struct GroupFields {
    pub launch_template: String,
    pub version: String,
    pub size: String,
    pub subnets: BTreeSet<String>,
    pub instances: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CapacityProviderFields {
    pub group_arn: String,
    pub managed_scaling: String,
}

pub(super) fn metadata(tokens: &str, hops: i32) -> String {
    format!("http_tokens={tokens}, hop_limit={hops}")
}

pub(super) fn root_volume(size: i32, kind: &str, encrypted: bool) -> String {
    format!("{size} GiB {kind}{}", if encrypted { ", encrypted" } else { ", not encrypted" })
}

pub(super) fn size(n: i32) -> String {
    format!("min {n}, max {n}, desired {n}")
}

/// Every cluster with EC2 capacity needs its AMI parameter to name an image.
pub fn check_amis(desired: &[Ec2Capacity], observed: &ObservedRunner, mode: crate::plan::build::Mode) -> Result<()> {
    if mode != crate::plan::build::Mode::Converge {
        return Ok(());
    }
    for d in desired {
        let Some(ami) = observed.amis.get(&d.ami_parameter) else {
            bail!("the AMI parameter {} of cluster {} returned no value", d.ami_parameter, d.cluster);
        };
        // EC2 accepts the launch template and then cannot launch an instance from it: `up` would
        // wait for a runner that never comes.
        if let Some(&needed) = observed.ami_root_gib.get(ami).filter(|&&n| d.root_volume_gib < n) {
            bail!(
                "ecs.clusters.{}.ec2_capacity.root_volume_gib: {} GiB is smaller than the root snapshot of {ami} ({needed} GiB, from {}): EC2 would accept the launch template and then launch no instance; set at least {needed}; nothing was changed",
                d.cluster,
                d.root_volume_gib,
                d.ami_parameter
            );
        }
    }
    Ok(())
}
