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

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use aws_sdk_autoscaling::types::{Filter, LaunchTemplateSpecification, Tag as AsgTag};
use aws_sdk_ec2::types::{
    Filter as Ec2Filter, LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataOptionsRequest, RequestLaunchTemplateData, ResourceType, VolumeType,
};
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, CapacityProviderField, CapacityProviderStrategyItem, ManagedScaling,
    ManagedScalingStatus, ManagedTerminationProtection,
};

use crate::aws::wait::{self, Check};
use crate::aws::{describe, Clients};
use crate::diff::FieldDiff;
use crate::model::compute::Ec2Capacity;
use crate::model::tags::{desired_tags, Tags, STACK};
use crate::model::{Address, Kind};
use crate::plan::build::{diff_kind, PlanContext, ServiceDiff};
use crate::plan::{Action, Plan};

use super::network::Observed;
use super::{referenced_names, Ids};

const ROOT_DEVICE: &str = "/dev/xvda";

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

fn metadata(tokens: &str, hops: i32) -> String {
    format!("http_tokens={tokens}, hop_limit={hops}")
}

fn root_volume(size: i32, kind: &str, encrypted: bool) -> String {
    format!("{size} GiB {kind}{}", if encrypted { ", encrypted" } else { ", not encrypted" })
}

fn size(n: i32) -> String {
    format!("min {n}, max {n}, desired {n}")
}

/// `clusters`: the stack file's cluster names, which are also the names of their capacity
/// providers (DescribeCapacityProviders is asked by name: moto refuses the unfiltered form).
pub async fn observe(
    clients: &Clients,
    stack: &str,
    desired: &[Ec2Capacity],
    clusters: &[String],
) -> Result<ObservedRunner> {
    let (amis, launch_templates, groups, capacity_providers) = tokio::try_join!(
        amis(clients, desired),
        launch_templates(clients, stack, desired),
        groups(clients, stack, desired),
        capacity_providers(clients, clusters),
    )?;
    Ok(ObservedRunner { amis, launch_templates, groups, capacity_providers })
}

async fn amis(clients: &Clients, desired: &[Ec2Capacity]) -> Result<BTreeMap<String, String>> {
    let names: BTreeSet<&str> = desired.iter().map(|d| d.ami_parameter.as_str()).collect();
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    let out = clients
        .ssm
        .get_parameters()
        .set_names(Some(names.iter().map(|n| n.to_string()).collect()))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading the AMI parameters from SSM: {}", describe(&e)))?;
    if let Some(missing) = out.invalid_parameters().first() {
        bail!("the AMI parameter {missing} does not exist in this region");
    }
    Ok(out.parameters().iter().filter_map(|p| Some((p.name()?.to_string(), p.value()?.to_string()))).collect())
}

/// This stack's launch templates (by tag), with the default version's data of the declared ones.
async fn launch_templates(
    clients: &Clients,
    stack: &str,
    desired: &[Ec2Capacity],
) -> Result<Vec<Observed<LaunchTemplateFields>>> {
    let owned = clients
        .ec2
        .describe_launch_templates()
        .filters(Ec2Filter::builder().name(format!("tag:{STACK}")).values(stack).build())
        .send();
    let versions = crate::aws::concurrent(desired, super::CONCURRENCY, |d| default_version_data(clients, &d.cluster));
    let (owned, versions) = tokio::join!(owned, versions);
    let owned = owned.map_err(|e| anyhow::anyhow!("listing launch templates: {}", describe(&e)))?;
    let mut out = Vec::new();
    for lt in owned.launch_templates() {
        let tags: Tags =
            lt.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect();
        let Some(name) = lt.launch_template_name() else { continue };
        out.push(Observed {
            name: name.to_string(),
            id: lt.launch_template_id().unwrap_or_default().to_string(),
            tags,
            fields: LaunchTemplateFields {
                default_version: lt.default_version_number().unwrap_or(1),
                ..Default::default()
            },
        });
    }
    for (d, found) in desired.iter().zip(versions) {
        let Some((id, fields)) = found? else { continue };
        match out.iter_mut().find(|o| o.name == d.cluster) {
            Some(o) => o.fields = fields,
            // A namesake that is not ours: a conflict (no tags).
            None => out.push(Observed { name: d.cluster.clone(), id, tags: Tags::new(), fields }),
        }
    }
    Ok(out)
}

/// The default version of the launch template `name`: `(id, fields)`, or `None` when there is none.
async fn default_version_data(clients: &Clients, name: &str) -> Result<Option<(String, LaunchTemplateFields)>> {
    let versions =
        clients.ec2.describe_launch_template_versions().launch_template_name(name).versions("$Default").send().await;
    let versions = match versions {
        Ok(v) => v,
        Err(e) if describe(&e).contains("NotFound") => return Ok(None),
        Err(e) => bail!("reading launch template {name}: {}", describe(&e)),
    };
    let Some(v) = versions.launch_template_versions().first() else { return Ok(None) };
    let data = v.launch_template_data();
    let root = data.and_then(|d| d.block_device_mappings().iter().find(|b| b.device_name() == Some(ROOT_DEVICE)));
    let ebs = root.and_then(|r| r.ebs());
    let meta = data.and_then(|d| d.metadata_options());
    let user_data = data
        .and_then(|d| d.user_data())
        .and_then(|u| aws_smithy_types::base64::decode(u).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let fields = LaunchTemplateFields {
        default_version: v.version_number().unwrap_or(1),
        image_id: data.and_then(|d| d.image_id()).unwrap_or_default().to_string(),
        instance_type: data.and_then(|d| d.instance_type()).map(|t| t.as_str().to_string()).unwrap_or_default(),
        instance_profile: data
            .and_then(|d| d.iam_instance_profile())
            .and_then(|p| p.name().or(p.arn().and_then(|a| a.rsplit('/').next())))
            .unwrap_or_default()
            .to_string(),
        security_groups: data.map(|d| d.security_group_ids().iter().cloned().collect()).unwrap_or_default(),
        metadata: metadata(
            meta.and_then(|m| m.http_tokens()).map(|t| t.as_str()).unwrap_or("optional"),
            meta.and_then(|m| m.http_put_response_hop_limit()).unwrap_or(1),
        ),
        root_volume: root_volume(
            ebs.and_then(|e| e.volume_size()).unwrap_or_default(),
            ebs.and_then(|e| e.volume_type()).map(|t| t.as_str()).unwrap_or("gp2"),
            ebs.and_then(|e| e.encrypted()).unwrap_or(false),
        ),
        user_data,
    };
    Ok(Some((v.launch_template_id().unwrap_or_default().to_string(), fields)))
}

/// This stack's Auto Scaling groups (by tag) and the declared ones by name.
async fn groups(clients: &Clients, stack: &str, desired: &[Ec2Capacity]) -> Result<Vec<Observed<GroupFields>>> {
    let by_tag = clients
        .autoscaling
        .describe_auto_scaling_groups()
        .filters(Filter::builder().name(format!("tag:{STACK}")).values(stack).build())
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>();
    let names: Vec<String> = desired.iter().map(|d| d.cluster.clone()).collect();
    let by_name = async {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        clients
            .autoscaling
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(names))
            .send()
            .await
            .map(|o| vec![o])
    };
    let (by_tag, by_name) = tokio::join!(by_tag, by_name);
    let by_tag = by_tag.map_err(|e| anyhow::anyhow!("listing Auto Scaling groups: {}", describe(&e)))?;
    let by_name = by_name.map_err(|e| anyhow::anyhow!("reading Auto Scaling groups: {}", describe(&e)))?;
    let mut out: Vec<Observed<GroupFields>> = Vec::new();
    for g in by_tag.iter().chain(&by_name).flat_map(|p| p.auto_scaling_groups()) {
        let Some(name) = g.auto_scaling_group_name() else { continue };
        // A group being deleted is gone for planning.
        if out.iter().any(|o| o.name == name) || g.status().is_some_and(|s| s.contains("Delete")) {
            continue;
        }
        let tags: Tags = g
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
            .collect();
        let lt = g.launch_template();
        out.push(Observed {
            name: name.to_string(),
            id: g.auto_scaling_group_arn().unwrap_or_default().to_string(),
            tags,
            fields: GroupFields {
                launch_template: lt.and_then(|l| l.launch_template_name()).unwrap_or_default().to_string(),
                version: lt.and_then(|l| l.version()).unwrap_or_default().to_string(),
                size: format!(
                    "min {}, max {}, desired {}",
                    g.min_size().unwrap_or_default(),
                    g.max_size().unwrap_or_default(),
                    g.desired_capacity().unwrap_or_default()
                ),
                subnets: g
                    .vpc_zone_identifier()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                instances: g.instances().iter().filter_map(|i| i.instance_id().map(str::to_string)).collect(),
            },
        });
    }
    Ok(out)
}

async fn capacity_providers(clients: &Clients, names: &[String]) -> Result<Vec<Observed<CapacityProviderFields>>> {
    let mut out = Vec::new();
    // Up to 10 names a call; names that do not exist come back as failures, not errors.
    for chunk in names.chunks(10) {
        let page = clients
            .ecs
            .describe_capacity_providers()
            .set_capacity_providers(Some(chunk.to_vec()))
            .include(CapacityProviderField::Tags)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading ECS capacity providers: {}", describe(&e)))?;
        for cp in page.capacity_providers() {
            let active = cp.status().is_none_or(|s| s.as_str() == "ACTIVE");
            let (Some(name), Some(arn)) = (cp.name(), cp.capacity_provider_arn()) else { continue };
            // FARGATE and FARGATE_SPOT are AWS's own and carry no group.
            let Some(group) = cp.auto_scaling_group_provider().filter(|_| active) else { continue };
            out.push(Observed {
                name: name.to_string(),
                id: arn.to_string(),
                tags: super::ecs::tags_of(cp.tags()),
                fields: CapacityProviderFields {
                    group_arn: group.auto_scaling_group_arn().to_string(),
                    managed_scaling: group
                        .managed_scaling()
                        .and_then(|m| m.status())
                        .map(|s| s.as_str().to_lowercase())
                        .unwrap_or_else(|| "disabled".into()),
                },
            });
        }
    }
    Ok(out)
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
    let new_groups = super::network::renewed(plan, Kind::SecurityGroup);
    let new_subnets = super::network::renewed(plan, Kind::Subnet);
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
        f.tags(g.map(|g| &g.tags), &group_tag_set(tags, &d.cluster));
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
    let tags = desired_tags(&ctx.stack, &ctx.stack_tags, address);
    match address.kind {
        Kind::LaunchTemplate => {
            let observed = o.launch_templates.iter().find(|l| l.name == name);
            match d {
                None => delete_launch_template(clients, observed.map(|l| l.id.as_str())).await,
                Some(d) => put_launch_template(clients, ctx, d, o, observed, ids, address).await,
            }
        }
        Kind::AutoScalingGroup => match d {
            None => delete_group(clients, name, o.groups.iter().find(|g| g.name == name)).await,
            Some(d) => put_group(clients, d, o.groups.iter().find(|g| g.name == name), ids, &tags, address).await,
        },
        _ => match d {
            None => delete_capacity_provider(clients, name).await,
            Some(d) => put_capacity_provider(clients, d, o, ids, &tags, action, address).await,
        },
    }
}

async fn put_launch_template(
    clients: &Clients,
    ctx: &PlanContext,
    d: &Ec2Capacity,
    o: &ObservedRunner,
    observed: Option<&Observed<LaunchTemplateFields>>,
    ids: &Ids,
    address: &Address,
) -> Result<()> {
    let tags = &desired_tags(&ctx.stack, &ctx.stack_tags, address);
    let ami = o.amis.get(&d.ami_parameter).with_context(|| format!("no AMI read from {}", d.ami_parameter))?;
    let groups =
        d.security_groups.iter().map(|g| ids.get(&Address::new(Kind::SecurityGroup, g))).collect::<Result<Vec<_>>>()?;
    let data = RequestLaunchTemplateData::builder()
        .image_id(ami)
        .instance_type(aws_sdk_ec2::types::InstanceType::from(d.instance_type.as_str()))
        .iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder().name(&d.instance_role).build(),
        )
        .set_security_group_ids(Some(groups))
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::Required)
                .http_put_response_hop_limit(1)
                .build(),
        )
        .block_device_mappings(
            LaunchTemplateBlockDeviceMappingRequest::builder()
                .device_name(ROOT_DEVICE)
                .ebs(
                    LaunchTemplateEbsBlockDeviceRequest::builder()
                        .volume_size(d.root_volume_gib)
                        .volume_type(VolumeType::Gp3)
                        .encrypted(true)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        )
        .user_data(aws_smithy_types::base64::encode(d.user_data.as_bytes()))
        .build();
    let err = |what: &str, e: &(dyn std::error::Error + 'static)| anyhow::anyhow!("{what} {address}: {}", describe(e));
    match observed {
        None => {
            let out = clients
                .ec2
                .create_launch_template()
                .launch_template_name(&d.cluster)
                .launch_template_data(data)
                .tag_specifications(super::network::tag_spec(ResourceType::LaunchTemplate, tags))
                .client_token(crate::aws::client_token(&[&address.to_string(), ami]))
                .send()
                .await
                .map_err(|e| err("creating", &e))?;
            let id = out.launch_template().and_then(|l| l.launch_template_id()).unwrap_or_default();
            ids.set(address, id);
        }
        Some(lt) => {
            let out = clients
                .ec2
                .create_launch_template_version()
                .launch_template_id(&lt.id)
                .launch_template_data(data)
                .send()
                .await
                .map_err(|e| err("adding a version to", &e))?;
            let version = out.launch_template_version().and_then(|v| v.version_number()).unwrap_or_default();
            clients
                .ec2
                .modify_launch_template()
                .launch_template_id(&lt.id)
                .default_version(version.to_string())
                .send()
                .await
                .map_err(|e| err("setting the default version of", &e))?;
            eprintln!("    {address}: version {version} is the default");
            super::network::sync_tags(clients, ctx, address, &lt.id, &lt.tags).await?;
        }
    }
    Ok(())
}

async fn delete_launch_template(clients: &Clients, id: Option<&str>) -> Result<()> {
    let Some(id) = id else { return Ok(()) };
    match clients.ec2.delete_launch_template().launch_template_id(id).send().await {
        Ok(_) => Ok(()),
        Err(e) if describe(&e).contains("NotFound") => Ok(()),
        Err(e) => bail!("deleting launch template {id}: {}", describe(&e)),
    }
}

/// The default version of the cluster's launch template, named explicitly (never `$Default`).
async fn default_version(clients: &Clients, name: &str) -> Result<(String, String)> {
    let out = clients
        .ec2
        .describe_launch_templates()
        .launch_template_names(name)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading launch template {name}: {}", describe(&e)))?;
    let lt = out.launch_templates().first().with_context(|| format!("launch template {name} not found"))?;
    Ok((lt.launch_template_id().unwrap_or_default().to_string(), lt.default_version_number().unwrap_or(1).to_string()))
}

/// A group's tags: the desired ones, `Name` (which its instances get too) and `AmazonECSManaged`,
/// which ECS adds to a group when a capacity provider is associated with it (declared here so it
/// is never seen as drift, and so instances launched before the association carry it too).
fn group_tag_set(tags: &Tags, name: &str) -> Tags {
    let mut tags = tags.clone();
    tags.insert("Name".into(), name.to_string());
    tags.insert("AmazonECSManaged".into(), "true".into());
    tags
}

fn group_tags(name: &str, tags: &Tags) -> Vec<AsgTag> {
    group_tag_set(tags, name)
        .iter()
        .map(|(k, v)| {
            // Instances get the stack's own tags, not the ownership tags: the group owns them.
            let propagate = !crate::model::tags::is_ownership(k);
            AsgTag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(k)
                .value(v)
                .propagate_at_launch(propagate)
                .build()
        })
        .collect()
}

async fn put_group(
    clients: &Clients,
    d: &Ec2Capacity,
    observed: Option<&Observed<GroupFields>>,
    ids: &Ids,
    tags: &Tags,
    address: &Address,
) -> Result<()> {
    let name = d.cluster.as_str();
    let err = |what: &str, e: &(dyn std::error::Error + 'static)| anyhow::anyhow!("{what} {address}: {}", describe(e));
    let (lt_id, version) = default_version(clients, name).await?;
    let spec = LaunchTemplateSpecification::builder().launch_template_id(&lt_id).version(&version).build();
    let subnets = d.subnets.iter().map(|s| ids.get(&Address::new(Kind::Subnet, s))).collect::<Result<Vec<_>>>()?;
    match observed {
        None => {
            // The instance profile of a role created moments ago may not be usable yet.
            wait::retry_while(
                &format!("{address}: waiting for the instance profile to propagate"),
                Duration::from_secs(120),
                |e: &aws_sdk_autoscaling::error::SdkError<_>| profile_propagating(&describe(e)),
                || {
                    clients
                        .autoscaling
                        .create_auto_scaling_group()
                        .auto_scaling_group_name(name)
                        .launch_template(spec.clone())
                        .min_size(d.instance_count)
                        .max_size(d.instance_count)
                        .desired_capacity(d.instance_count)
                        .vpc_zone_identifier(subnets.join(","))
                        .set_tags(Some(group_tags(name, tags)))
                        .send()
                },
            )
            .await
            .map_err(|e| err("creating", &e))?;
            let out = clients
                .autoscaling
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(name)
                .send()
                .await
                .map_err(|e| err("reading", &e))?;
            let arn = out.auto_scaling_groups().first().and_then(|g| g.auto_scaling_group_arn()).unwrap_or_default();
            ids.set(address, arn);
        }
        Some(g) => {
            clients
                .autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(name)
                .launch_template(spec)
                .min_size(d.instance_count)
                .max_size(d.instance_count)
                .desired_capacity(d.instance_count)
                .vpc_zone_identifier(subnets.join(","))
                .send()
                .await
                .map_err(|e| err("updating", &e))?;
            let (remove, write) = crate::model::tags::delta(&g.tags, &group_tag_set(tags, name));
            if !remove.is_empty() {
                let list = remove
                    .iter()
                    .map(|k| AsgTag::builder().resource_id(name).resource_type("auto-scaling-group").key(k).build());
                clients
                    .autoscaling
                    .delete_tags()
                    .set_tags(Some(list.collect()))
                    .send()
                    .await
                    .map_err(|e| err("untagging", &e))?;
            }
            if write.is_some() {
                clients
                    .autoscaling
                    .create_or_update_tags()
                    .set_tags(Some(group_tags(name, tags)))
                    .send()
                    .await
                    .map_err(|e| err("tagging", &e))?;
            }
        }
    }
    Ok(())
}

/// Auto Scaling cannot see an instance profile created moments ago: "Invalid IAM Instance Profile
/// name" (or "… iamInstanceProfile.name is invalid").
fn profile_propagating(error: &str) -> bool {
    let e = error.to_ascii_lowercase();
    e.contains("iam instance profile") || e.contains("iaminstanceprofile")
}

/// Deregisters the group's container instances from its cluster, deletes the group with its
/// instances, and waits until it is gone.
async fn delete_group(clients: &Clients, name: &str, observed: Option<&Observed<GroupFields>>) -> Result<()> {
    let Some(g) = observed else { return Ok(()) };
    let ecs = &clients.ecs;
    let listed = ecs.list_container_instances().cluster(name).send().await;
    let arns: Vec<String> = match listed {
        Ok(out) => out.container_instance_arns().to_vec(),
        Err(e) if describe(&e).contains("ClusterNotFound") => Vec::new(),
        Err(e) => bail!("listing container instances of {name}: {}", describe(&e)),
    };
    if !arns.is_empty() {
        let out = ecs
            .describe_container_instances()
            .cluster(name)
            .set_container_instances(Some(arns))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("describing container instances of {name}: {}", describe(&e)))?;
        for ci in out.container_instances() {
            let ours = ci.ec2_instance_id().is_some_and(|i| g.fields.instances.iter().any(|x| x == i));
            let Some(arn) = ci.container_instance_arn().filter(|_| ours) else { continue };
            ecs.deregister_container_instance()
                .cluster(name)
                .container_instance(arn)
                .force(true)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("deregistering container instance {arn}: {}", describe(&e)))?;
            eprintln!(
                "    autoscaling_group.{name}: deregistered container instance {}",
                arn.rsplit('/').next().unwrap_or(arn)
            );
        }
    }
    match clients.autoscaling.delete_auto_scaling_group().auto_scaling_group_name(name).force_delete(true).send().await
    {
        Ok(_) => {}
        Err(e) if describe(&e).contains("not found") => return Ok(()),
        Err(e) => bail!("deleting autoscaling_group.{name}: {}", describe(&e)),
    }
    wait::until(
        &format!("autoscaling_group.{name} and its instances to be deleted"),
        wait::timeout(Duration::from_secs(15 * 60)),
        || async {
            let out = clients
                .autoscaling
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(name)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("reading autoscaling_group.{name}: {}", describe(&e)))?;
            Ok(match out.auto_scaling_groups().first() {
                None => Check::Ready(()),
                Some(g) => Check::Pending(format!("{} instance(s) left", g.instances().len())),
            })
        },
    )
    .await
}

async fn put_capacity_provider(
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
        delete_capacity_provider(clients, name).await?;
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
            .set_tags(Some(super::ecs::ecs_tags(tags)))
            .send()
            .await
            .map_err(|e| err("creating", &e))?;
    } else if let Some(cp) = observed {
        super::ecs::sync_tags(ecs, &cp.id, &cp.tags, tags, address).await?;
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
async fn delete_capacity_provider(clients: &Clients, name: &str) -> Result<()> {
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
        Err(e) if describe(&e).contains("ClusterNotFound") => {}
        Err(e) => bail!("detaching capacity_provider.{name} from its cluster: {}", describe(&e)),
    }
    match ecs.delete_capacity_provider().capacity_provider(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if describe(&e).contains("not found") || describe(&e).contains("does not exist") => Ok(()),
        Err(e) => bail!("deleting capacity_provider.{name}: {}", describe(&e)),
    }
}
