//! `vpc.NAME`: the VPC, with DNS support and hostnames on and its default security group emptied
//! (a common security control). A new CIDR replaces it.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType};

use super::{drain, Observed, VpcFields};
use crate::aws::consistency::{self, Patience};
use crate::aws::error::{failed, required};
use crate::aws::wait::{self, Check};
use crate::aws::Clients;
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::consistency::{Call, DEFAULT_GROUP_LISTED};
use crate::model::desired::Desired;
use crate::model::network;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{gone_is_done, ApplyCx, DiffCx, Resource};
use crate::reconcile::tags;
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct Vpc;

const DNS_SUPPORT: Path = Path::field("enable_dns_support");
const DNS_HOSTNAMES: Path = Path::field("enable_dns_hostnames");
const DEFAULT_RULES: Path = Path::field("default_security_group.rules");

const CIDR: Path = Path::field("cidr");

impl Resource for Vpc {
    const KIND: Kind = Kind::Vpc;
    const GROUP: Group = Group::Network;
    const FIELDS: &'static [Path] = &[CIDR, DNS_SUPPORT, DNS_HOSTNAMES, DEFAULT_RULES, TAGS];
    const REPLACE_ON: &'static [Path] = &[CIDR];
    type Desired = network::Vpc;
    type Observed = Observed<VpcFields>;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<network::Vpc> {
        cx.desired.network.iter().map(|n| n.vpc.clone()).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<VpcFields>> {
        cx.observed.network.vpcs.clone()
    }

    fn name(d: &network::Vpc) -> &str {
        &d.name
    }

    fn fields(_: &DiffCx<'_>, d: &network::Vpc, o: Option<&Observed<VpcFields>>, tags: &Tags) -> FieldDiff {
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        f.field(CIDR, of.map(|o| Some(o.cidr.clone())), Some(d.cidr.clone()));
        f.field(DNS_SUPPORT, of.map(|o| Some(o.dns_support)), Some(true));
        f.field(DNS_HOSTNAMES, of.map(|o| Some(o.dns_hostnames)), Some(true));
        if let Some(of) = of {
            f.members(DEFAULT_RULES, Some(&of.default_group_rules), &BTreeSet::new());
        }
        f.tags(o.map(|o| &o.tags), tags);
        f
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
        d: &network::Vpc,
        _: Option<&Self::Observed>,
    ) -> Result<String> {
        let request = cx
            .clients
            .ec2
            .create_vpc()
            .cidr_block(&d.cidr)
            .tag_specifications(tags::ec2_spec(ResourceType::Vpc, &cx.tags(address)));
        let out =
            crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ec2()).send())
                .await
                .map_err(|e| failed("creating", address, &e))?;
        let id = required(out.vpc().and_then(|v| v.vpc_id()), "creating", address, "vpcId")?.to_string();
        // Recorded before the settings below, so a failure there leaves a VPC the next run finds.
        cx.ids.set(address, &id);
        set_dns(cx, address, &id, true, true).await?;
        empty_default_group(cx, address, &id, None).await?;
        Ok(id)
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        _: &network::Vpc,
        o: &Observed<VpcFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        set_dns(cx, address, &o.id, delta.has(DNS_SUPPORT), delta.has(DNS_HOSTNAMES)).await?;
        if delta.has(DEFAULT_RULES) {
            empty_default_group(cx, address, &o.id, o.fields.default_group.as_deref()).await?;
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<VpcFields>) -> Result<()> {
        let ec2 = &cx.clients.ec2;
        let delete =
            || async { ec2.delete_vpc().vpc_id(&o.id).send().await.map_err(|e| failed("deleting", address, &e)) };
        drain(Call::Ec2DeleteVpc, address, "vpc-id", &o.id, ec2, delete).await
    }
}

/// Turns DNS support and hostnames on (one attribute per call, as the API requires). A VPC made
/// moments ago may not be visible yet (`vpc-visible`).
async fn set_dns(cx: &ApplyCx<'_>, address: &Address, id: &str, support: bool, hostnames: bool) -> Result<()> {
    let on = || AttributeBooleanValue::builder().value(true).build();
    let ec2 = &cx.clients.ec2;
    if support {
        let enable = || async {
            let request = ec2.modify_vpc_attribute().vpc_id(id).enable_dns_support(on());
            request.send().await.map_err(|e| failed("enabling DNS support of", address, &e))
        };
        consistency::retry(Call::Ec2ModifyVpcAttribute, address, enable).await?;
    }
    if hostnames {
        let enable = || async {
            let request = ec2.modify_vpc_attribute().vpc_id(id).enable_dns_hostnames(on());
            request.send().await.map_err(|e| failed("enabling DNS hostnames of", address, &e))
        };
        consistency::retry(Call::Ec2ModifyVpcAttribute, address, enable).await?;
    }
    Ok(())
}

/// Removes every rule of the VPC's default security group. `group_id` is the one observed; for a
/// VPC created moments ago (`None`) the group is listed only once EC2 has caught up
/// (`default-group-listed`): "not listed" is never taken for "has none".
async fn empty_default_group(cx: &ApplyCx<'_>, address: &Address, vpc_id: &str, group_id: Option<&str>) -> Result<()> {
    let ec2 = &cx.clients.ec2;
    let find = || async {
        let groups = ec2
            .describe_security_groups()
            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
            .filters(Filter::builder().name("group-name").values("default").build())
            .send()
            .await
            .map_err(|e| failed("reading the default security group of", address, &e))?;
        let found = groups.security_groups().iter().find(|g| group_id.is_none_or(|id| g.group_id() == Some(id)));
        Ok::<_, anyhow::Error>(found.cloned())
    };
    let group = match group_id {
        Some(_) => match find().await? {
            Some(group) => group,
            None => return Ok(()),
        },
        None => {
            let listed = Patience::new(&DEFAULT_GROUP_LISTED, address);
            let what = format!("the default security group of {address} to be listed");
            wait::until(&what, DEFAULT_GROUP_LISTED.budget + Duration::from_secs(60), || async {
                Ok(match find().await? {
                    Some(group) => {
                        listed.seen();
                        Check::Ready(group)
                    }
                    None => Check::Pending(listed.not_yet()?),
                })
            })
            .await?
        }
    };
    let id = required(group.group_id(), "reading the default security group of", address, "groupId")?;
    if !group.ip_permissions().is_empty() {
        // Already gone (a repeat after a lost answer) is what was asked.
        let revoked = ec2
            .revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(group.ip_permissions().to_vec()))
            .send()
            .await;
        gone_is_done(revoked.map(drop).map_err(|e| failed("emptying the default security group of", address, &e)))?;
    }
    if !group.ip_permissions_egress().is_empty() {
        // Already gone (a repeat after a lost answer) is what was asked.
        let revoked = ec2
            .revoke_security_group_egress()
            .group_id(id)
            .set_ip_permissions(Some(group.ip_permissions_egress().to_vec()))
            .send()
            .await;
        gone_is_done(revoked.map(drop).map_err(|e| failed("emptying the default security group of", address, &e)))?;
    }
    Ok(())
}
