//! `subnet.NAME`: a subnet in one availability zone. A new CIDR or zone replaces it (and what sits
//! in it moves, see the route table and the services).
//!
//! No subnet maps a public IP on launch (Security Hub EC2.15), public ones included: they hold
//! only the load balancer and the NAT gateway, which get addresses of their own; a subnet that
//! does (a hand-built one, an older stack) is drift, repaired in place.

use anyhow::Result;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};

use super::{drain, vpc_id, Observed, SubnetFields};
use crate::aws::error::{failed, required};
use crate::aws::Clients;
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::consistency::Call;
use crate::model::desired::Desired;
use crate::model::network;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{ApplyCx, DiffCx, Resource};
use crate::reconcile::tags;
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct Subnet;

const MAP_PUBLIC_IP: Path = Path::field("map_public_ip_on_launch");

const CIDR: Path = Path::field("cidr");
const ZONE: Path = Path::field("availability_zone");

impl Resource for Subnet {
    const KIND: Kind = Kind::Subnet;
    const GROUP: Group = Group::Network;
    const FIELDS: &'static [Path] = &[CIDR, ZONE, MAP_PUBLIC_IP, TAGS];
    const REPLACE_ON: &'static [Path] = &[CIDR, ZONE];
    type Desired = network::Subnet;
    type Observed = Observed<SubnetFields>;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<network::Subnet> {
        cx.desired.network.iter().flat_map(|n| n.subnets.clone()).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<SubnetFields>> {
        cx.observed.network.subnets.clone()
    }

    fn name(d: &network::Subnet) -> &str {
        &d.name
    }

    fn fields(_: &DiffCx<'_>, d: &network::Subnet, o: Option<&Observed<SubnetFields>>, tags: &Tags) -> FieldDiff {
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        f.field(CIDR, of.map(|o| Some(o.cidr.clone())), Some(d.cidr.clone()));
        f.field(ZONE, of.map(|o| Some(o.availability_zone.clone())), Some(d.availability_zone.clone()));
        f.field(MAP_PUBLIC_IP, of.map(|o| Some(o.map_public_ip)), Some(false));
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn depends_on(cx: &DiffCx<'_>, _: &network::Subnet) -> Vec<Address> {
        vec![Address::new(Kind::Vpc, &cx.ctx.stack)]
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
        d: &network::Subnet,
        _: Option<&Self::Observed>,
    ) -> Result<String> {
        let request = cx
            .clients
            .ec2
            .create_subnet()
            .vpc_id(vpc_id(cx)?)
            .cidr_block(&d.cidr)
            .availability_zone(&d.availability_zone)
            .tag_specifications(tags::ec2_spec(ResourceType::Subnet, &cx.tags(address)));
        // A VPC made moments ago may not be visible yet (`vpc-visible`).
        let create = || async {
            crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ec2()).send())
                .await
                .map_err(|e| failed("creating", address, &e))
        };
        let out = crate::aws::consistency::retry(Call::Ec2CreateSubnet, address, create).await?;
        let id = required(out.subnet().and_then(|s| s.subnet_id()), "creating", address, "subnetId")?.to_string();
        cx.ids.set(address, &id);
        Ok(id)
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        _: &network::Subnet,
        o: &Observed<SubnetFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        if delta.has(MAP_PUBLIC_IP) {
            set_map_public_ip(cx, address, &o.id, false).await?;
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<SubnetFields>) -> Result<()> {
        let ec2 = &cx.clients.ec2;
        let delete =
            || async { ec2.delete_subnet().subnet_id(&o.id).send().await.map_err(|e| failed("deleting", address, &e)) };
        drain(Call::Ec2DeleteSubnet, address, "subnet-id", &o.id, ec2, delete).await
    }
}

async fn set_map_public_ip(cx: &ApplyCx<'_>, address: &Address, id: &str, on: bool) -> Result<()> {
    cx.clients
        .ec2
        .modify_subnet_attribute()
        .subnet_id(id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
        .send()
        .await
        .map_err(|e| failed("setting map-public-IP of", address, &e))?;
    Ok(())
}
