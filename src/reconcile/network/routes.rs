//! Route tables: the default route (0.0.0.0/0 to the internet gateway or a NAT gateway) and the
//! subnet associations. Routes and associations are updated in place; a route to something this
//! stack does not manage (peering, endpoints) is reported and removed only if it is a default route.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use aws_sdk_ec2::types::ResourceType;

use super::vpc::code;
use super::{target_name, Observed, ObservedNetwork, RouteTableFields};
use crate::aws::{describe, Clients};
use crate::diff::FieldDiff;
use crate::model::network::{Network, RouteTable, RouteTarget};
use crate::model::tags::Tags;
use crate::model::{Address, Kind};
use crate::plan::build::{diff_kind, PlanContext, ServiceDiff};
use crate::plan::{Action, Plan};
use crate::reconcile::kit::Ids;
use crate::reconcile::tags;

pub const DEFAULT_ROUTE: &str = "0.0.0.0/0";

pub fn diff(ctx: &PlanContext, n: &Network, observed: &ObservedNetwork, plan: &mut Plan) {
    let subnet_names = observed.names(Kind::Subnet);
    let new_subnets = crate::reconcile::kit::renewed(plan, Kind::Subnet);
    let new_targets: BTreeSet<RouteTarget> = crate::reconcile::kit::renewed(plan, Kind::NatGateway)
        .into_iter()
        .map(RouteTarget::NatGateway)
        .chain(
            crate::reconcile::kit::renewed(plan, Kind::InternetGateway).into_iter().map(RouteTarget::InternetGateway),
        )
        .collect();
    let fields = |d: &RouteTable, o: Option<&Observed<RouteTableFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        // Routes: one field per destination. A route to a gateway about to be (re)created counts as missing.
        let have: Option<BTreeMap<String, String>> = o.map(|o| {
            o.fields
                .routes
                .iter()
                .map(|(dest, id)| (dest.clone(), target_name(observed, id)))
                .filter(|(_, t)| !new_targets.contains(t))
                .map(|(dest, t)| (dest, t.to_string()))
                .collect()
        });
        let want: BTreeMap<String, String> = [(DEFAULT_ROUTE.to_string(), d.default_route.to_string())].into();
        let destinations: BTreeSet<&String> = want.keys().chain(have.iter().flat_map(|h| h.keys())).collect();
        for dest in destinations {
            f.field(&format!("routes.{dest}"), have.as_ref().map(|h| h.get(dest).cloned()), want.get(dest).cloned());
        }
        let associated: Option<BTreeSet<String>> = o.map(|o| {
            o.fields
                .associations
                .keys()
                .map(|id| subnet_names.get(id).cloned().unwrap_or_else(|| crate::diff::foreign(id)))
                .filter(|s| !new_subnets.contains(s))
                .collect()
        });
        f.members("subnets", associated.as_ref(), &d.subnets);
        f.tags(o.map(|o| &o.tags), tags);
        f
    };
    let vpc = n.vpc.name.clone();
    let deps = move |d: &RouteTable| {
        let target = match &d.default_route {
            RouteTarget::InternetGateway(g) => Some(Address::new(Kind::InternetGateway, g)),
            RouteTarget::NatGateway(g) => Some(Address::new(Kind::NatGateway, g)),
            RouteTarget::Other(_) => None,
        };
        let subnets = d.subnets.iter().map(|s| Address::new(Kind::Subnet, s));
        std::iter::once(Address::new(Kind::Vpc, &vpc)).chain(target).chain(subnets).collect()
    };
    let spec = ServiceDiff {
        kind: Kind::RouteTable,
        desired_name: |d: &RouteTable| &d.name,
        fields: &fields,
        replace_on: &[],
        depends_on: &deps,
    };
    diff_kind(ctx, spec, &n.route_tables, &observed.route_tables, plan);
}

fn err(what: &str, address: &Address, e: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    anyhow::anyhow!("{what} {address}: {}", describe(e))
}

#[allow(clippy::too_many_arguments)]
pub async fn apply(
    clients: &Clients,
    ctx: &PlanContext,
    desired: Option<&RouteTable>,
    vpc: &str,
    observed: Option<&Observed<RouteTableFields>>,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let ec2 = &clients.ec2;
    match (action, desired) {
        (Action::Delete, _) => {
            let id = ids.get(address)?;
            for association in
                observed.map(|o| o.fields.associations.values().cloned().collect::<Vec<_>>()).unwrap_or_default()
            {
                match ec2.disassociate_route_table().association_id(&association).send().await {
                    Ok(_) => {}
                    Err(e) if code(&e) == Some("InvalidAssociationID.NotFound") => {}
                    Err(e) => return Err(err("disassociating", address, &e)),
                }
            }
            match ec2.delete_route_table().route_table_id(&id).send().await {
                Ok(_) => Ok(()),
                Err(e) if code(&e) == Some("InvalidRouteTableID.NotFound") => Ok(()),
                Err(e) => Err(err("deleting", address, &e)),
            }
        }
        (Action::Create | Action::Replace | Action::Update, Some(d)) => {
            let (id, current) = match observed {
                Some(o) if action == Action::Update => {
                    tags::sync_ec2(&clients.ec2, address, &o.id, &o.tags, &ctx.tags(address)).await?;
                    (o.id.clone(), o.fields.clone())
                }
                _ => {
                    let vpc_id = ids.get(&Address::new(Kind::Vpc, vpc))?;
                    let tags = ctx.tags(address);
                    let token = crate::aws::client_token(&[&ctx.stack, &address.to_string(), &vpc_id]);
                    let out = ec2
                        .create_route_table()
                        .vpc_id(vpc_id)
                        .client_token(token)
                        .tag_specifications(tags::ec2_spec(ResourceType::RouteTable, &tags))
                        .send()
                        .await
                        .map_err(|e| err("creating", address, &e))?;
                    let id = out.route_table().and_then(|t| t.route_table_id()).unwrap_or_default().to_string();
                    ids.set(address, &id);
                    (id, RouteTableFields::default())
                }
            };
            set_default_route(clients, ids, address, &id, d, &current).await?;
            associate(clients, ids, address, &id, d, &current).await
        }
        (_, None) => bail!("{address}: no desired state to {action:?}"),
    }
}

async fn set_default_route(
    clients: &Clients,
    ids: &Ids,
    address: &Address,
    id: &str,
    d: &RouteTable,
    current: &RouteTableFields,
) -> Result<()> {
    let ec2 = &clients.ec2;
    let (igw, nat) = match &d.default_route {
        RouteTarget::InternetGateway(g) => (Some(ids.get(&Address::new(Kind::InternetGateway, g))?), None),
        RouteTarget::NatGateway(g) => (None, Some(ids.get(&Address::new(Kind::NatGateway, g))?)),
        RouteTarget::Other(other) => bail!("{address}: cannot route to `{other}`"),
    };
    let target = igw.clone().or(nat.clone()).unwrap_or_default();
    match current.routes.get(DEFAULT_ROUTE) {
        Some(existing) if *existing == target => Ok(()),
        Some(_) => {
            ec2.replace_route()
                .route_table_id(id)
                .destination_cidr_block(DEFAULT_ROUTE)
                .set_gateway_id(igw)
                .set_nat_gateway_id(nat)
                .send()
                .await
                .map_err(|e| err("replacing the default route of", address, &e))?;
            Ok(())
        }
        None => {
            ec2.create_route()
                .route_table_id(id)
                .destination_cidr_block(DEFAULT_ROUTE)
                .set_gateway_id(igw)
                .set_nat_gateway_id(nat)
                .send()
                .await
                .map_err(|e| err("creating the default route of", address, &e))?;
            Ok(())
        }
    }
}

/// Associates the desired subnets and removes associations of subnets no longer listed.
async fn associate(
    clients: &Clients,
    ids: &Ids,
    address: &Address,
    id: &str,
    d: &RouteTable,
    current: &RouteTableFields,
) -> Result<()> {
    let ec2 = &clients.ec2;
    let mut wanted = BTreeSet::new();
    for subnet in &d.subnets {
        let subnet_id = ids.get(&Address::new(Kind::Subnet, subnet))?;
        if !current.associations.contains_key(&subnet_id) {
            ec2.associate_route_table()
                .route_table_id(id)
                .subnet_id(&subnet_id)
                .send()
                .await
                .map_err(|e| err(&format!("associating subnet.{subnet} with"), address, &e))?;
        }
        wanted.insert(subnet_id);
    }
    for (subnet_id, association) in &current.associations {
        if !wanted.contains(subnet_id) {
            match ec2.disassociate_route_table().association_id(association).send().await {
                Ok(_) => {}
                Err(e) if code(&e) == Some("InvalidAssociationID.NotFound") => {}
                Err(e) => return Err(err("disassociating a subnet from", address, &e)),
            }
        }
    }
    Ok(())
}
