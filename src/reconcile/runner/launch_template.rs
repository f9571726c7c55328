//! `launch_template.CLUSTER`: the AMI from the public SSM parameter (read at plan time, so a newly
//! published AMI shows as a change), IMDSv2 required with hop limit 1 (containers cannot reach the
//! instance's credentials), an encrypted gp3 root volume, user data that joins the cluster. A
//! change is a new version made the default; the group then names that version explicitly.

use anyhow::{Context, Result};
use aws_sdk_ec2::types::{
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest, LaunchTemplateHttpTokensState,
    LaunchTemplateIamInstanceProfileSpecificationRequest, LaunchTemplateInstanceMetadataOptionsRequest,
    RequestLaunchTemplateData, ResourceType, VolumeType,
};

use super::{metadata, root_volume, LaunchTemplateFields, ROOT_DEVICE};
use crate::aws::error::{failed, required};
use crate::aws::{describe, Clients};
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::compute::Ec2Capacity;
use crate::model::desired::Desired;
use crate::model::tags::Tags;
use crate::model::usage::{gib_of_volume, Footprint, Usage};
use crate::model::{Address, Kind};
use crate::reconcile::contract::{ApplyCx, DiffCx, Resource};
use crate::reconcile::kit::{referenced_names, renewed, Observed};
use crate::reconcile::tags;
use crate::reconcile::Group;
use crate::reconcile::ResourceChange;

#[derive(Debug, Clone)]
pub struct LaunchTemplate;

/// A cluster's EC2 capacity and the AMI its parameter names now.
#[derive(Debug, Clone)]
pub struct DesiredTemplate {
    pub capacity: Ec2Capacity,
    pub ami: Option<String>,
}

const IMAGE_ID: Path = Path::field("image_id");
pub const INSTANCE_TYPE: Path = Path::field("instance_type");
const INSTANCE_PROFILE: Path = Path::field("instance_profile");
const SECURITY_GROUPS: Path = Path::field("security_groups");
const METADATA_OPTIONS: Path = Path::field("metadata_options");
pub const ROOT_VOLUME: Path = Path::field("root_volume");
const USER_DATA: Path = Path::field("user_data");

impl Resource for LaunchTemplate {
    const KIND: Kind = Kind::LaunchTemplate;
    const GROUP: Group = Group::Runner;
    const FIELDS: &'static [Path] =
        &[IMAGE_ID, INSTANCE_TYPE, INSTANCE_PROFILE, SECURITY_GROUPS, METADATA_OPTIONS, ROOT_VOLUME, USER_DATA, TAGS];
    type Desired = DesiredTemplate;
    type Observed = Observed<LaunchTemplateFields>;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    /// Its instance type and root volume size the group of its name's instances.
    fn usage_before(change: &ResourceChange, before: &mut Footprint) {
        let group = Address::new(Kind::AutoScalingGroup, &change.address.name);
        if let Some(Usage::Instances { instance_type, volume_gib, .. }) = before.items.get_mut(&group) {
            if let Some(t) = change.was(INSTANCE_TYPE).and_then(serde_json::Value::as_str) {
                *instance_type = t.to_string();
            }
            if let Some(v) = change.was(ROOT_VOLUME).and_then(serde_json::Value::as_str) {
                *volume_gib = gib_of_volume(v).unwrap_or(*volume_gib);
            }
        }
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<DesiredTemplate> {
        let amis = &cx.observed.runner.amis;
        let template =
            |c: &Ec2Capacity| DesiredTemplate { capacity: c.clone(), ami: amis.get(&c.ami_parameter).cloned() };
        cx.desired.ec2_capacity.iter().map(template).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<LaunchTemplateFields>> {
        cx.observed.runner.launch_templates.clone()
    }

    fn name(d: &DesiredTemplate) -> &str {
        &d.capacity.cluster
    }

    fn fields(
        cx: &DiffCx<'_>,
        d: &DesiredTemplate,
        lt: Option<&Observed<LaunchTemplateFields>>,
        tags: &Tags,
    ) -> FieldDiff {
        let (groups, new_groups) = (cx.ids.names(Kind::SecurityGroup), renewed(cx.plan, Kind::SecurityGroup));
        let c = &d.capacity;
        let mut f = FieldDiff::default();
        let of = lt.map(|l| &l.fields);
        f.field(IMAGE_ID, of.map(|o| Some(o.image_id.clone())), d.ami.clone());
        f.field(INSTANCE_TYPE, of.map(|o| Some(o.instance_type.clone())), Some(c.instance_type.clone()));
        f.field(INSTANCE_PROFILE, of.map(|o| Some(o.instance_profile.clone())), Some(c.instance_role.clone()));
        let named = of.map(|o| referenced_names(&o.security_groups, &groups, &new_groups));
        f.members(SECURITY_GROUPS, named.as_ref(), &c.security_groups.iter().cloned().collect());
        f.field(METADATA_OPTIONS, of.map(|o| Some(o.metadata.clone())), Some(metadata("required", 1)));
        let volume = root_volume(c.root_volume_gib, "gp3", true);
        f.field(ROOT_VOLUME, of.map(|o| Some(o.root_volume.clone())), Some(volume));
        f.field(USER_DATA, of.map(|o| Some(o.user_data.clone())), Some(c.user_data.clone()));
        f.tags(lt.map(|l| &l.tags), tags);
        f
    }

    fn depends_on(_: &DiffCx<'_>, d: &DesiredTemplate) -> Vec<Address> {
        let c = &d.capacity;
        let mut v: Vec<Address> = c.security_groups.iter().map(|g| Address::new(Kind::SecurityGroup, g)).collect();
        v.push(Address::new(Kind::IamRole, &c.instance_role));
        v
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_ec2(&clients.ec2, address, id, have, want).await
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredTemplate,
        _: Option<&Self::Observed>,
    ) -> Result<String> {
        let (data, ami) = data(cx, d)?;
        let out = cx
            .clients
            .ec2
            .create_launch_template()
            .launch_template_name(&d.capacity.cluster)
            .launch_template_data(data)
            .tag_specifications(tags::ec2_spec(ResourceType::LaunchTemplate, &cx.tags(address)))
            .client_token(crate::aws::client_token(&[&address.to_string(), &ami]))
            .send()
            .await
            .map_err(|e| failed("creating", address, &e))?;
        let id = out.launch_template().and_then(|l| l.launch_template_id());
        Ok(required(id, "creating", address, "launchTemplateId")?.to_string())
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredTemplate,
        lt: &Observed<LaunchTemplateFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        let ec2 = &cx.clients.ec2;
        // A new version with the whole launch template data, whatever changed.
        delta.all();
        let (data, _) = data(cx, d)?;
        let out = ec2
            .create_launch_template_version()
            .launch_template_id(&lt.id)
            .launch_template_data(data)
            .send()
            .await
            .map_err(|e| failed("adding a version to", address, &e))?;
        let version = out.launch_template_version().and_then(|v| v.version_number());
        let version = required(version, "adding a version to", address, "versionNumber")?;
        ec2.modify_launch_template()
            .launch_template_id(&lt.id)
            .default_version(version.to_string())
            .send()
            .await
            .map_err(|e| failed("setting the default version of", address, &e))?;
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, lt: &Observed<LaunchTemplateFields>) -> Result<()> {
        let deleted = cx.clients.ec2.delete_launch_template().launch_template_id(&lt.id).send().await;
        deleted.map_err(|e| failed("deleting", address, &e))?;
        Ok(())
    }
}

/// The template's data (what a version holds) and the AMI it names.
fn data(cx: &ApplyCx<'_>, d: &DesiredTemplate) -> Result<(RequestLaunchTemplateData, String)> {
    let c = &d.capacity;
    let ami = d.ami.clone().with_context(|| format!("no AMI read from {}", c.ami_parameter))?;
    let groups = c
        .security_groups
        .iter()
        .map(|g| cx.ids.get(&Address::new(Kind::SecurityGroup, g)))
        .collect::<Result<Vec<_>>>()?;
    let volume = LaunchTemplateEbsBlockDeviceRequest::builder()
        .volume_size(c.root_volume_gib)
        .volume_type(VolumeType::Gp3)
        .encrypted(true)
        .delete_on_termination(true)
        .build();
    let data = RequestLaunchTemplateData::builder()
        .image_id(&ami)
        .instance_type(aws_sdk_ec2::types::InstanceType::from(c.instance_type.as_str()))
        .iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder().name(&c.instance_role).build(),
        )
        .set_security_group_ids(Some(groups))
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::Required)
                .http_put_response_hop_limit(1)
                .build(),
        )
        .block_device_mappings(
            LaunchTemplateBlockDeviceMappingRequest::builder().device_name(ROOT_DEVICE).ebs(volume).build(),
        )
        .user_data(aws_smithy_types::base64::encode(c.user_data.as_bytes()))
        .build();
    Ok((data, ami))
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
    let id = lt.launch_template_id().with_context(|| format!("launch template {name} has no id"))?;
    Ok((id.to_string(), lt.default_version_number().unwrap_or(1).to_string()))
}
