//! The launch template: created with its first version; a change is a new version made the
//! default (the group then names that version explicitly, never `$Default`).

use anyhow::{bail, Context, Result};
use aws_sdk_ec2::types::{
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest, LaunchTemplateHttpTokensState,
    LaunchTemplateIamInstanceProfileSpecificationRequest, LaunchTemplateInstanceMetadataOptionsRequest,
    RequestLaunchTemplateData, ResourceType, VolumeType,
};

use super::{LaunchTemplateFields, ObservedRunner, ROOT_DEVICE};
use crate::aws::{describe, error, Clients};
use crate::model::compute::Ec2Capacity;
use crate::model::{Address, Kind};
use crate::plan::build::PlanContext;
use crate::reconcile::kit::{Ids, Observed};
use crate::reconcile::tags;

pub(super) async fn put(
    clients: &Clients,
    ctx: &PlanContext,
    d: &Ec2Capacity,
    o: &ObservedRunner,
    observed: Option<&Observed<LaunchTemplateFields>>,
    ids: &Ids,
    address: &Address,
) -> Result<()> {
    let tags = &ctx.tags(address);
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
                .tag_specifications(tags::ec2_spec(ResourceType::LaunchTemplate, tags))
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
            tags::sync_ec2(&clients.ec2, address, &lt.id, &lt.tags, tags).await?;
        }
    }
    Ok(())
}

pub(super) async fn delete(clients: &Clients, id: Option<&str>) -> Result<()> {
    let Some(id) = id else { return Ok(()) };
    match clients.ec2.delete_launch_template().launch_template_id(id).send().await {
        Ok(_) => Ok(()),
        Err(e) if error::is_not_found(&e) => Ok(()),
        Err(e) => bail!("deleting launch template {id}: {}", describe(&e)),
    }
}

/// The default version of the cluster's launch template, named explicitly (never `$Default`).
pub(super) async fn default_version(clients: &Clients, name: &str) -> Result<(String, String)> {
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
