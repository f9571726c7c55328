//! `autoscaling_group.CLUSTER`: a fixed size in the subnets of its tier, on the launch template's
//! default version named explicitly. Deleting it first deregisters its container instances from
//! the cluster, then deletes the group with its instances and waits until they are gone.

use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_autoscaling::types::LaunchTemplateSpecification;

use super::{launch_template, size, GroupFields};
use crate::aws::error::{self, failed, required};
use crate::aws::wait::{self, Check};
use crate::aws::{consistency, describe, Clients};
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::compute::Ec2Capacity;
use crate::model::consistency::Call;
use crate::model::desired::Desired;
use crate::model::tags::Tags;
use crate::model::usage::{desired_of_size, gib_of_volume, Footprint, Usage};
use crate::model::{Address, Kind};
use crate::plan::Action;
use crate::reconcile::contract::{ApplyCx, DiffCx, Pair, Resource};
use crate::reconcile::kit::{referenced_names, renewed, Observed};
use crate::reconcile::tags;
use crate::reconcile::Group;
use crate::reconcile::{Payload, Plan, ResourceChange};

/// A group's tags: the desired ones, `Name` (which its instances get too) and `AmazonECSManaged`,
/// which ECS adds to a group when a capacity provider is associated with it (declared here so it
/// is never seen as drift, and so instances launched before the association carry it too).
fn tag_set(tags: &Tags, name: &str) -> Tags {
    let mut tags = tags.clone();
    tags.insert("Name".into(), name.to_string());
    tags.insert("AmazonECSManaged".into(), "true".into());
    tags
}

/// Instances get the stack's own tags, not the ownership tags: the group owns them.
fn propagate(key: &str) -> bool {
    !crate::model::tags::is_ownership(key)
}

#[derive(Debug, Clone)]
pub struct AutoScalingGroup;

const LAUNCH_TEMPLATE: Path = Path::field("launch_template");
const LAUNCH_TEMPLATE_VERSION: Path = Path::field("launch_template_version");
pub const SIZE: Path = Path::field("size");
const SUBNETS: Path = Path::field("subnets");

impl Resource for AutoScalingGroup {
    const KIND: Kind = Kind::AutoScalingGroup;
    const GROUP: Group = Group::Runner;
    const FIELDS: &'static [Path] = &[LAUNCH_TEMPLATE, LAUNCH_TEMPLATE_VERSION, SIZE, SUBNETS, TAGS];
    type Desired = Ec2Capacity;
    type Observed = Observed<GroupFields>;

    fn usage(desired: &Desired, name: &str) -> Option<Usage> {
        let c = desired.ec2_capacity.iter().find(|c| c.cluster == name)?;
        Some(Usage::Instances {
            instance_type: c.instance_type.clone(),
            count: c.instance_count.max(0) as u32,
            volume_gib: c.root_volume_gib.max(0) as u32,
        })
    }

    /// The group's size as AWS reported it, its instances' from the launch template deleted with it.
    fn usage_removed(_: &Desired, name: &str, pair: &Pair<Self>, plan: &Plan) -> Option<Usage> {
        let count = desired_of_size(&pair.observed.as_ref()?.fields.size)?;
        let template = Address::new(Kind::LaunchTemplate, name);
        let Payload::LaunchTemplate(t) = &plan.changes.iter().find(|c| c.address == template)?.payload else {
            return None;
        };
        let template = t.observed.as_ref()?.fields.clone();
        let volume_gib = gib_of_volume(&template.root_volume)?;
        Some(Usage::Instances { instance_type: template.instance_type, count, volume_gib })
    }

    fn usage_before(change: &ResourceChange, before: &mut Footprint) {
        if let (Some(Usage::Instances { count, .. }), Some(size)) =
            (before.items.get_mut(&change.address), change.was(SIZE).and_then(serde_json::Value::as_str))
        {
            *count = desired_of_size(size).unwrap_or(*count);
        }
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<Ec2Capacity> {
        cx.desired.ec2_capacity.clone()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<GroupFields>> {
        cx.observed.runner.groups.clone()
    }

    fn name(d: &Ec2Capacity) -> &str {
        &d.cluster
    }

    fn fields(cx: &DiffCx<'_>, d: &Ec2Capacity, g: Option<&Observed<GroupFields>>, tags: &Tags) -> FieldDiff {
        let (subnets, new_subnets) = (cx.ids.names(Kind::Subnet), renewed(cx.plan, Kind::Subnet));
        let template_changes = cx.plan.changes.iter().any(|c| {
            c.address.kind == Kind::LaunchTemplate && c.address.name == d.cluster && c.action != Action::Delete
        });
        let version = if template_changes {
            "(new version)".to_string()
        } else {
            let lt = cx.observed.runner.launch_templates.iter().find(|l| l.name == d.cluster);
            lt.map(|l| l.fields.default_version.to_string()).unwrap_or_default()
        };
        let mut f = FieldDiff::default();
        let of = g.map(|g| &g.fields);
        f.field(LAUNCH_TEMPLATE, of.map(|o| Some(o.launch_template.clone())), Some(d.cluster.clone()));
        f.state(LAUNCH_TEMPLATE_VERSION, of.map(|o| Some(o.version.clone())), version);
        f.field(SIZE, of.map(|o| Some(o.size.clone())), Some(size(d.instance_count)));
        let named = of.map(|o| referenced_names(&o.subnets, &subnets, &new_subnets));
        f.members(SUBNETS, named.as_ref(), &d.subnets.iter().cloned().collect());
        f.tags(g.map(|g| &g.tags), &Self::desired_tags(tags.clone(), d));
        f
    }

    /// Its template, cluster and subnets, and the routes out (instances need the NAT gateway to
    /// register with ECS).
    fn depends_on(cx: &DiffCx<'_>, d: &Ec2Capacity) -> Vec<Address> {
        let mut v = vec![Address::new(Kind::LaunchTemplate, &d.cluster), Address::new(Kind::EcsCluster, &d.cluster)];
        v.extend(d.subnets.iter().map(|s| Address::new(Kind::Subnet, s)));
        let tables = cx.desired.network.iter().flat_map(|n| n.route_tables.iter());
        v.extend(tables.map(|t| Address::new(Kind::RouteTable, &t.name)));
        v
    }

    /// The group's own `Name` and `AmazonECSManaged` besides the stack's tags.
    fn desired_tags(tags: Tags, d: &Ec2Capacity) -> Tags {
        tag_set(&tags, &d.cluster)
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.name
    }

    /// Tags the group by its name (the address's); its instances get the stack's tags, not the
    /// ownership tags.
    async fn tag(clients: &Clients, address: &Address, _: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_autoscaling(&clients.autoscaling, address, &address.name, have, want, propagate).await
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Ec2Capacity,
        _: Option<&Self::Observed>,
    ) -> Result<String> {
        put(cx, address, d, None).await
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Ec2Capacity,
        g: &Observed<GroupFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        // UpdateAutoScalingGroup is sent whole: one call whatever changed (the tags are the
        // runner's, through `tag`).
        delta.all();
        put(cx, address, d, Some(g)).await.map(drop)
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, g: &Observed<GroupFields>) -> Result<()> {
        delete(cx.clients, address, &g.name, g).await
    }
}

/// Creates the group, or updates its template version, size and subnets and its tags; returns its ARN.
async fn put(
    cx: &ApplyCx<'_>,
    address: &Address,
    d: &Ec2Capacity,
    observed: Option<&Observed<GroupFields>>,
) -> Result<String> {
    let (clients, ids, tags) = (cx.clients, cx.ids, &cx.tags(address));
    let name = d.cluster.as_str();
    let (lt_id, version) = launch_template::default_version(clients, name).await?;
    let spec = LaunchTemplateSpecification::builder().launch_template_id(&lt_id).version(&version).build();
    let subnets = d.subnets.iter().map(|s| ids.get(&Address::new(Kind::Subnet, s))).collect::<Result<Vec<_>>>()?;
    match observed {
        None => {
            // The instance profile of a role created moments ago may not be usable yet
            // (`group-instance-profile`).
            let create = || async {
                clients
                    .autoscaling
                    .create_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .launch_template(spec.clone())
                    .min_size(d.instance_count)
                    .max_size(d.instance_count)
                    .desired_capacity(d.instance_count)
                    .vpc_zone_identifier(subnets.join(","))
                    .set_tags(Some(tags::autoscaling(name, &tag_set(tags, name), propagate)))
                    .send()
                    .await
                    .map_err(|e| failed("creating", address, &e))
            };
            consistency::retry(Call::AutoScalingCreateAutoScalingGroup, address, create).await?;
            let out = clients
                .autoscaling
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(name)
                .send()
                .await
                .map_err(|e| failed("reading", address, &e))?;
            let arn = out.auto_scaling_groups().first().and_then(|g| g.auto_scaling_group_arn());
            Ok(required(arn, "creating", address, "autoScalingGroupARN")?.to_string())
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
                .map_err(|e| failed("updating", address, &e))?;
            Ok(g.id.clone())
        }
    }
}

/// Deregisters the group's container instances from its cluster, deletes the group with its
/// instances, and waits until it is gone. A group still scaling (created or launching moments
/// ago) is refused for a while (`group-scaling-activity`).
async fn delete(clients: &Clients, address: &Address, name: &str, g: &Observed<GroupFields>) -> Result<()> {
    let ecs = &clients.ecs;
    let listed = ecs.list_container_instances().cluster(name).send().await;
    let arns: Vec<String> = match listed {
        Ok(out) => out.container_instance_arns().to_vec(),
        Err(e) if error::is_not_found(&e) => Vec::new(),
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
            crate::progress::note(format!(
                "    autoscaling_group.{name}: deregistered container instance {}",
                arn.rsplit('/').next().unwrap_or(arn)
            ));
        }
    }
    // Auto Scaling answers a missing group with a generic ValidationError: whether it is gone is
    // read, not guessed from the message.
    let instances_left = || async {
        let out = clients
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading autoscaling_group.{name}: {}", describe(&e)))?;
        Ok::<_, anyhow::Error>(out.auto_scaling_groups().first().map(|g| g.instances().len()))
    };
    let delete = || async {
        let request = clients.autoscaling.delete_auto_scaling_group().auto_scaling_group_name(name).force_delete(true);
        request.send().await.map_err(|e| failed("deleting", address, &e))
    };
    if let Err(e) = consistency::retry(Call::AutoScalingDeleteAutoScalingGroup, address, delete).await {
        if instances_left().await?.is_some() {
            return Err(e);
        }
        return Ok(());
    }
    wait::until(
        &format!("autoscaling_group.{name} and its instances to be deleted"),
        wait::timeout(Duration::from_secs(15 * 60)),
        || async {
            Ok(match instances_left().await? {
                None => Check::Ready(()),
                Some(n) => Check::Pending(format!("{n} instance(s) left")),
            })
        },
    )
    .await
}
