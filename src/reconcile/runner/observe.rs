//! Reading the runner's capacity concurrently: the AMI parameters (from the plan's one read of
//! SSM values, `ssm::Values`), this stack's launch templates (with the default version's data of
//! the declared ones), its Auto Scaling groups (by tag, then by name the declared ones the tag did
//! not find) and the capacity providers by name.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use aws_sdk_autoscaling::types::Filter;
use aws_sdk_ec2::types::Filter as Ec2Filter;
use aws_sdk_ecs::types::CapacityProviderField;

use super::{
    metadata, root_volume, CapacityProviderFields, GroupFields, LaunchTemplateFields, ObservedRunner, ROOT_DEVICE,
};
use crate::aws::{describe, error, Clients};
use crate::model::compute::Ec2Capacity;
use crate::model::tags::{Tags, STACK};
use crate::reconcile::kit::{Observed, CONCURRENCY};
use crate::reconcile::ssm;
use crate::reconcile::tags;

/// `clusters`: the stack file's cluster names, which are also the names of their capacity
/// providers (DescribeCapacityProviders is asked by name: moto refuses the unfiltered form).
pub async fn observe(
    clients: &Clients,
    values: &ssm::Values<'_>,
    stack: &str,
    desired: &[Ec2Capacity],
    clusters: &[String],
) -> Result<ObservedRunner> {
    let (amis, launch_templates, groups, capacity_providers) = tokio::try_join!(
        amis(values, desired),
        launch_templates(clients, stack, desired),
        groups(clients, stack, desired),
        capacity_providers(clients, clusters),
    )?;
    let ami_root_gib = root_snapshots(clients, desired, &amis, &launch_templates).await?;
    Ok(ObservedRunner { amis, launch_templates, groups, capacity_providers, ami_root_gib })
}

/// The root snapshot size of each AMI a launch template is about to be made with (its template
/// missing, or on another AMI or volume): one `DescribeImages` beside the round's other reads
/// that need a first answer, and none when every template is current.
async fn root_snapshots(
    clients: &Clients,
    desired: &[Ec2Capacity],
    amis: &BTreeMap<String, String>,
    templates: &[Observed<LaunchTemplateFields>],
) -> Result<BTreeMap<String, i32>> {
    let mut ids: Vec<String> = desired
        .iter()
        .filter_map(|d| {
            let ami = amis.get(&d.ami_parameter)?;
            let current = templates.iter().find(|t| t.name == d.cluster).is_some_and(|t| {
                t.fields.image_id == *ami && t.fields.root_volume == root_volume(d.root_volume_gib, "gp3", true)
            });
            (!current).then(|| ami.clone())
        })
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let out = clients
        .ec2
        .describe_images()
        .set_image_ids(Some(ids))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading the runner's AMI: {}", describe(&e)))?;
    Ok(out
        .images()
        .iter()
        .filter_map(|image| {
            let root = image.root_device_name()?;
            let mapping = image.block_device_mappings().iter().find(|b| b.device_name() == Some(root))?;
            Some((image.image_id()?.to_string(), mapping.ebs()?.volume_size()?))
        })
        .collect())
}

/// The AMI id each declared parameter names, from the plan's one read of SSM values.
async fn amis(values: &ssm::Values<'_>, desired: &[Ec2Capacity]) -> Result<BTreeMap<String, String>> {
    if desired.is_empty() {
        return Ok(BTreeMap::new());
    }
    let read = values.get().await?;
    let mut out = BTreeMap::new();
    for name in desired.iter().map(|d| &d.ami_parameter) {
        if read.invalid.contains(name) {
            bail!("the AMI parameter {name} does not exist in this region");
        }
        if let Some(ssm::ObservedValue::Plain(id)) = read.values.get(name) {
            out.insert(name.clone(), id.clone());
        }
    }
    Ok(out)
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
    let versions = crate::aws::concurrent(desired, CONCURRENCY, |d| default_version_data(clients, &d.cluster));
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
            // A namesake that is not ours: a conflict, or what `adopt` takes over (its tags are
            // read on their own: the tag-filtered listing left it out).
            None => {
                let tags = namesake_tags(clients, &id).await?;
                out.push(Observed { name: d.cluster.clone(), id, tags, fields })
            }
        }
    }
    Ok(out)
}

/// The tags of the launch template `id` (one not listed as this stack's).
async fn namesake_tags(clients: &Clients, id: &str) -> Result<Tags> {
    let out = clients
        .ec2
        .describe_launch_templates()
        .launch_template_ids(id)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading launch template {id}: {}", describe(&e)))?;
    Ok(out
        .launch_templates()
        .iter()
        .flat_map(|lt| lt.tags())
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect())
}

/// The default version of the launch template `name`: `(id, fields)`, or `None` when there is none.
async fn default_version_data(clients: &Clients, name: &str) -> Result<Option<(String, LaunchTemplateFields)>> {
    let versions =
        clients.ec2.describe_launch_template_versions().launch_template_name(name).versions("$Default").send().await;
    let versions = match versions {
        Ok(v) => v,
        Err(e) if error::is_not_found(&e) => return Ok(None),
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

/// This stack's Auto Scaling groups (by tag), then the declared ones the tag did not find, by name
/// (someone else's group of that name, or one whose tags are gone): a second call only then.
async fn groups(clients: &Clients, stack: &str, desired: &[Ec2Capacity]) -> Result<Vec<Observed<GroupFields>>> {
    let by_tag = clients
        .autoscaling
        .describe_auto_scaling_groups()
        .filters(Filter::builder().name(format!("tag:{STACK}")).values(stack).build())
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| anyhow::anyhow!("listing Auto Scaling groups: {}", describe(&e)))?;
    let tagged = |name: &str| {
        by_tag.iter().flat_map(|p| p.auto_scaling_groups()).any(|g| g.auto_scaling_group_name() == Some(name))
    };
    let names: Vec<String> = desired.iter().map(|d| d.cluster.clone()).filter(|n| !tagged(n)).collect();
    let by_name = if names.is_empty() {
        Vec::new()
    } else {
        let out = clients
            .autoscaling
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(names))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading Auto Scaling groups: {}", describe(&e)))?;
        vec![out]
    };
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
            // One being deleted is gone for planning: a create of its name waits for the delete.
            let deleting = cp.update_status().is_some_and(|s| s.as_str() == "DELETE_IN_PROGRESS");
            let active = cp.status().is_none_or(|s| s.as_str() == "ACTIVE") && !deleting;
            let (Some(name), Some(arn)) = (cp.name(), cp.capacity_provider_arn()) else { continue };
            // FARGATE and FARGATE_SPOT are AWS's own and carry no group.
            let Some(group) = cp.auto_scaling_group_provider().filter(|_| active) else { continue };
            out.push(Observed {
                name: name.to_string(),
                id: arn.to_string(),
                tags: tags::from_ecs(cp.tags()),
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
