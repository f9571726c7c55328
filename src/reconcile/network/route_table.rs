//! `route_table.NAME`: the default route (0.0.0.0/0 to the internet gateway or a NAT gateway) and
//! the subnet associations, both changed in place. A subnet or gateway that is re-created makes
//! its route table re-associate or re-route it in the same plan.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use aws_sdk_ec2::types::ResourceType;

use super::{target_name, Observed, RouteTableFields};
use crate::aws::consistency;
use crate::aws::error::{failed, required};
use crate::aws::Clients;
use crate::diff::{foreign, Delta, FieldDiff, Path, TAGS};
use crate::model::consistency::Call;
use crate::model::network::{RouteTable as Desired, RouteTarget};
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{gone_is_done, ApplyCx, DiffCx, Resource};
use crate::reconcile::kit::renewed;
use crate::reconcile::tags;
use crate::reconcile::Group;

pub const DEFAULT_ROUTE: &str = "0.0.0.0/0";

#[derive(Debug, Clone)]
pub struct RouteTable;

const ROUTES: Path = Path::group("routes");
const SUBNETS: Path = Path::field("subnets");

impl Resource for RouteTable {
    const KIND: Kind = Kind::RouteTable;
    const GROUP: Group = Group::Network;
    const FIELDS: &'static [Path] = &[ROUTES, SUBNETS, TAGS];
    type Desired = Desired;
    type Observed = Observed<RouteTableFields>;

    fn usage(_: &crate::model::desired::Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<Desired> {
        cx.desired.network.iter().flat_map(|n| n.route_tables.clone()).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<RouteTableFields>> {
        cx.observed.network.route_tables.clone()
    }

    fn name(d: &Desired) -> &str {
        &d.name
    }

    fn fields(cx: &DiffCx<'_>, d: &Desired, o: Option<&Observed<RouteTableFields>>, tags: &Tags) -> FieldDiff {
        let subnet_names = cx.ids.names(Kind::Subnet);
        let new_subnets = renewed(cx.plan, Kind::Subnet);
        let new_targets: BTreeSet<RouteTarget> = renewed(cx.plan, Kind::NatGateway)
            .into_iter()
            .map(RouteTarget::NatGateway)
            .chain(renewed(cx.plan, Kind::InternetGateway).into_iter().map(RouteTarget::InternetGateway))
            .collect();
        let mut f = FieldDiff::default();
        // Routes: one field per destination. A route to a gateway about to be (re)created counts as missing.
        let have: Option<BTreeMap<String, String>> = o.map(|o| {
            o.fields
                .routes
                .iter()
                .map(|(dest, id)| (dest.clone(), target_name(cx.ids, id)))
                .filter(|(_, t)| !new_targets.contains(t))
                .map(|(dest, t)| (dest, t.to_string()))
                .collect()
        });
        let want: BTreeMap<String, String> = [(DEFAULT_ROUTE.to_string(), d.default_route.to_string())].into();
        let destinations: BTreeSet<&String> = want.keys().chain(have.iter().flat_map(|h| h.keys())).collect();
        for dest in destinations {
            f.field(ROUTES.at(dest), have.as_ref().map(|h| h.get(dest).cloned()), want.get(dest).cloned());
        }
        let associated: Option<BTreeSet<String>> = o.map(|o| {
            o.fields
                .associations
                .keys()
                .map(|id| subnet_names.get(id).cloned().unwrap_or_else(|| foreign(id)))
                .filter(|s| !new_subnets.contains(s))
                .collect()
        });
        f.members(SUBNETS, associated.as_ref(), &d.subnets);
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn depends_on(cx: &DiffCx<'_>, d: &Desired) -> Vec<Address> {
        let target = match &d.default_route {
            RouteTarget::InternetGateway(g) => Some(Address::new(Kind::InternetGateway, g)),
            RouteTarget::NatGateway(g) => Some(Address::new(Kind::NatGateway, g)),
            RouteTarget::Other(_) => None,
        };
        let subnets = d.subnets.iter().map(|s| Address::new(Kind::Subnet, s));
        std::iter::once(Address::new(Kind::Vpc, &cx.ctx.stack)).chain(target).chain(subnets).collect()
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_ec2(&clients.ec2, address, id, have, want).await
    }

    async fn create(cx: &ApplyCx<'_>, address: &Address, d: &Desired, _: Option<&Self::Observed>) -> Result<String> {
        let vpc_id = super::vpc_id(cx)?;
        let token = crate::aws::client_token(&[&cx.ctx.stack, &address.to_string(), &vpc_id]);
        let request = cx
            .clients
            .ec2
            .create_route_table()
            .vpc_id(vpc_id)
            .client_token(token)
            .tag_specifications(tags::ec2_spec(ResourceType::RouteTable, &cx.tags(address)));
        let create = || async {
            crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ec2()).send())
                .await
                .map_err(|e| failed("creating", address, &e))
        };
        let out = consistency::retry(Call::Ec2CreateRouteTable, address, create).await?;
        let id = required(out.route_table().and_then(|t| t.route_table_id()), "creating", address, "routeTableId")?;
        cx.ids.set(address, id);
        let empty = RouteTableFields::default();
        set_default_route(cx, address, id, d, &empty).await?;
        associate(cx, address, id, d, &empty).await?;
        Ok(id.to_string())
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Desired,
        o: &Observed<RouteTableFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        if delta.has(ROUTES) {
            set_default_route(cx, address, &o.id, d, &o.fields).await?;
        }
        if delta.has(SUBNETS) {
            associate(cx, address, &o.id, d, &o.fields).await?;
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<RouteTableFields>) -> Result<()> {
        let ec2 = &cx.clients.ec2;
        for association in o.fields.associations.values() {
            let gone = ec2.disassociate_route_table().association_id(association).send().await;
            gone_is_done(gone.map(drop).map_err(|e| failed("disassociating", address, &e)))?;
        }
        ec2.delete_route_table().route_table_id(&o.id).send().await.map_err(|e| failed("deleting", address, &e))?;
        Ok(())
    }
}

async fn set_default_route(
    cx: &ApplyCx<'_>,
    address: &Address,
    id: &str,
    d: &Desired,
    current: &RouteTableFields,
) -> Result<()> {
    let ec2 = &cx.clients.ec2;
    let (igw, nat) = match &d.default_route {
        RouteTarget::InternetGateway(g) => (Some(cx.ids.get(&Address::new(Kind::InternetGateway, g))?), None),
        RouteTarget::NatGateway(g) => (None, Some(cx.ids.get(&Address::new(Kind::NatGateway, g))?)),
        RouteTarget::Other(other) => bail!("{address}: cannot route to `{other}`"),
    };
    let target = igw.clone().or(nat.clone()).unwrap_or_default();
    match current.routes.get(DEFAULT_ROUTE) {
        Some(existing) if *existing == target => {}
        Some(_) => {
            ec2.replace_route()
                .route_table_id(id)
                .destination_cidr_block(DEFAULT_ROUTE)
                .set_gateway_id(igw)
                .set_nat_gateway_id(nat)
                .send()
                .await
                .map_err(|e| failed("replacing the default route of", address, &e))?;
        }
        None => {
            let request = ec2
                .create_route()
                .route_table_id(id)
                .destination_cidr_block(DEFAULT_ROUTE)
                .set_gateway_id(igw)
                .set_nat_gateway_id(nat);
            // The table and the gateway made moments ago may not be visible yet.
            let create = || async {
                crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ec2()).send())
                    .await
                    .map_err(|e| failed("creating the default route of", address, &e))
            };
            consistency::retry(Call::Ec2CreateRoute, address, create).await?;
        }
    }
    Ok(())
}

/// Associates the desired subnets and removes associations of subnets no longer listed.
async fn associate(
    cx: &ApplyCx<'_>,
    address: &Address,
    id: &str,
    d: &Desired,
    current: &RouteTableFields,
) -> Result<()> {
    let ec2 = &cx.clients.ec2;
    let mut wanted = BTreeSet::new();
    for subnet in &d.subnets {
        let subnet_id = cx.ids.get(&Address::new(Kind::Subnet, subnet))?;
        if !current.associations.contains_key(&subnet_id) {
            let request = ec2.associate_route_table().route_table_id(id).subnet_id(&subnet_id);
            let operation = format!("associating subnet.{subnet} with");
            let associate = || async {
                crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ec2()).send())
                    .await
                    .map_err(|e| failed(&operation, address, &e))
            };
            consistency::retry(Call::Ec2AssociateRouteTable, address, associate).await?;
        }
        wanted.insert(subnet_id);
    }
    for (subnet_id, association) in &current.associations {
        if !wanted.contains(subnet_id) {
            let gone = ec2.disassociate_route_table().association_id(association).send().await;
            gone_is_done(gone.map(drop).map_err(|e| failed("disassociating a subnet from", address, &e)))?;
        }
    }
    Ok(())
}
