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

mod autoscaling_group;
mod capacity_provider;
mod launch_template;
mod observe;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};

use crate::aws::Clients;
use crate::diff::FieldDiff;
use crate::model::compute::Ec2Capacity;
use crate::model::tags::Tags;
use crate::model::{Address, Kind};
use crate::plan::build::{diff_kind, PlanContext, ServiceDiff};
use crate::plan::{Action, Plan};

use super::kit::{referenced_names, Ids, Observed};

pub use observe::observe;

pub(super) const ROOT_DEVICE: &str = "/dev/xvda";

#[derive(Debug, Default)]
pub struct ObservedRunner {
    /// SSM parameter → AMI id.
    pub amis: BTreeMap<String, String>,
    pub launch_templates: Vec<Observed<LaunchTemplateFields>>,
    pub groups: Vec<Observed<GroupFields>>,
    pub capacity_providers: Vec<Observed<CapacityProviderFields>>,
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

fn size(n: i32) -> String {
    format!("min {n}, max {n}, desired {n}")
}

pub fn diff(
    ctx: &PlanContext,
    desired: &[Ec2Capacity],
    o: &ObservedRunner,
    cluster_providers: &BTreeMap<String, Vec<String>>,
    ids: &Ids,
    plan: &mut Plan,
) -> Result<()> {
    let (groups, subnets) = (ids.names(Kind::SecurityGroup), ids.names(Kind::Subnet));
    let new_groups = super::kit::renewed(plan, Kind::SecurityGroup);
    let new_subnets = super::kit::renewed(plan, Kind::Subnet);
    for d in desired.iter().filter(|d| !o.amis.contains_key(&d.ami_parameter)) {
        if ctx.mode == crate::plan::build::Mode::Converge {
            bail!("the AMI parameter {} of cluster {} returned no value", d.ami_parameter, d.cluster);
        }
    }
    let lt_fields = |d: &Ec2Capacity, lt: Option<&Observed<LaunchTemplateFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        let of = lt.map(|l| &l.fields);
        f.field("image_id", of.map(|o| Some(o.image_id.clone())), o.amis.get(&d.ami_parameter).cloned());
        f.field("instance_type", of.map(|o| Some(o.instance_type.clone())), Some(d.instance_type.clone()));
        f.field("instance_profile", of.map(|o| Some(o.instance_profile.clone())), Some(d.instance_role.clone()));
        let named = of.map(|o| referenced_names(&o.security_groups, &groups, &new_groups));
        f.members("security_groups", named.as_ref(), &d.security_groups.iter().cloned().collect());
        f.field("metadata_options", of.map(|o| Some(o.metadata.clone())), Some(metadata("required", 1)));
        f.field(
            "root_volume",
            of.map(|o| Some(o.root_volume.clone())),
            Some(root_volume(d.root_volume_gib, "gp3", true)),
        );
        f.field("user_data", of.map(|o| Some(o.user_data.clone())), Some(d.user_data.clone()));
        f.tags(lt.map(|l| &l.tags), tags);
        f
    };
    let lt_depends = |d: &Ec2Capacity| {
        let mut v: Vec<Address> = d.security_groups.iter().map(|g| Address::new(Kind::SecurityGroup, g)).collect();
        v.push(Address::new(Kind::IamRole, &d.instance_role));
        v
    };
    let spec = ServiceDiff {
        kind: Kind::LaunchTemplate,
        desired_name: |d: &Ec2Capacity| &d.cluster,
        fields: &lt_fields,
        replace_on: &[],
        depends_on: &lt_depends,
    };
    diff_kind(ctx, spec, desired, &o.launch_templates, plan);
    let lt_changing: BTreeSet<String> = plan
        .changes
        .iter()
        .filter(|c| c.address.kind == Kind::LaunchTemplate && c.action != Action::Delete)
        .map(|c| c.address.name.clone())
        .collect();
    let group_fields = |d: &Ec2Capacity, g: Option<&Observed<GroupFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        let of = g.map(|g| &g.fields);
        f.field("launch_template", of.map(|o| Some(o.launch_template.clone())), Some(d.cluster.clone()));
        let version = if lt_changing.contains(&d.cluster) {
            "(new version)".to_string()
        } else {
            let lt = o.launch_templates.iter().find(|l| l.name == d.cluster);
            lt.map(|l| l.fields.default_version.to_string()).unwrap_or_default()
        };
        f.state("launch_template_version", of.map(|o| Some(o.version.clone())), version);
        f.field("size", of.map(|o| Some(o.size.clone())), Some(size(d.instance_count)));
        let named = of.map(|o| referenced_names(&o.subnets, &subnets, &new_subnets));
        f.members("subnets", named.as_ref(), &d.subnets.iter().cloned().collect());
        f.tags(g.map(|g| &g.tags), &autoscaling_group::tag_set(tags, &d.cluster));
        f
    };
    let group_depends = |d: &Ec2Capacity| {
        let mut v = vec![Address::new(Kind::LaunchTemplate, &d.cluster), Address::new(Kind::EcsCluster, &d.cluster)];
        v.extend(d.subnets.iter().map(|s| Address::new(Kind::Subnet, s)));
        // Instances need their route out (NAT) to register with ECS.
        v.extend(plan.changes.iter().filter(|c| c.address.kind == Kind::RouteTable).map(|c| c.address.clone()));
        v
    };
    let spec = ServiceDiff {
        kind: Kind::AutoScalingGroup,
        desired_name: |d: &Ec2Capacity| &d.cluster,
        fields: &group_fields,
        replace_on: &[],
        depends_on: &group_depends,
    };
    let mut part = Plan::default();
    diff_kind(ctx, spec, desired, &o.groups, &mut part);
    plan.append(part);
    let cp_fields = |d: &Ec2Capacity, cp: Option<&Observed<CapacityProviderFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        let of = cp.map(|c| &c.fields);
        let group = |arn: &str| arn.rsplit("autoScalingGroupName/").next().unwrap_or(arn).to_string();
        f.field("auto_scaling_group", of.map(|o| Some(group(&o.group_arn))), Some(d.cluster.clone()));
        f.field("managed_scaling", of.map(|o| Some(o.managed_scaling.clone())), Some("disabled".to_string()));
        let associated = cluster_providers.get(&d.cluster).is_some_and(|l| l.contains(&d.cluster));
        f.field("default_for_cluster", cp.map(|_| Some(associated)), Some(true));
        f.tags(cp.map(|c| &c.tags), tags);
        f
    };
    let spec = ServiceDiff {
        kind: Kind::CapacityProvider,
        desired_name: |d: &Ec2Capacity| &d.cluster,
        fields: &cp_fields,
        replace_on: &["auto_scaling_group"],
        depends_on: &|d: &Ec2Capacity| {
            vec![Address::new(Kind::AutoScalingGroup, &d.cluster), Address::new(Kind::EcsCluster, &d.cluster)]
        },
    };
    diff_kind(ctx, spec, desired, &o.capacity_providers, plan);
    Ok(())
}

pub async fn apply(
    clients: &Clients,
    ctx: &PlanContext,
    desired: &[Ec2Capacity],
    o: &ObservedRunner,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let name = address.name.as_str();
    let d = desired.iter().find(|d| d.cluster == name).filter(|_| action != Action::Delete);
    let tags = ctx.tags(address);
    match address.kind {
        Kind::LaunchTemplate => {
            let observed = o.launch_templates.iter().find(|l| l.name == name);
            match d {
                None => launch_template::delete(clients, observed.map(|l| l.id.as_str())).await,
                Some(d) => launch_template::put(clients, ctx, d, o, observed, ids, address).await,
            }
        }
        Kind::AutoScalingGroup => match d {
            None => autoscaling_group::delete(clients, name, o.groups.iter().find(|g| g.name == name)).await,
            Some(d) => {
                autoscaling_group::put(clients, d, o.groups.iter().find(|g| g.name == name), ids, &tags, address).await
            }
        },
        _ => match d {
            None => capacity_provider::delete(clients, name).await,
            Some(d) => capacity_provider::put(clients, d, o, ids, &tags, action, address).await,
        },
    }
}
