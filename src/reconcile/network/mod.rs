//! The network: VPC, subnets, internet gateway, Elastic IPs and NAT gateways, route tables,
//! security groups and their rules (EC2).
//!
//! Observe: one `Describe*` per resource type, filtered by this stack's tag, all at once; then the
//! VPC's DNS attributes and its default security group. Each resource is named by its
//! `containrlab:address` tag. Ids are never compared: references are translated to names.
//! Apply: one module per resource group; ids created during the run are shared through `Ids`.

mod nat;
mod observe;
mod routes;
mod security_groups;
mod vpc;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};

use crate::aws::Clients;
use crate::model::network::{Network, RouteTarget};
use crate::model::{Address, Kind};
use crate::plan::build::PlanContext;
use crate::plan::{Action, Plan};

pub use observe::observe;

use super::kit::{Ids, Observed};

#[derive(Debug, Clone, Default)]
pub struct VpcFields {
    pub cidr: String,
    pub dns_support: bool,
    pub dns_hostnames: bool,
    /// Id of the VPC's default security group, and its rules (kept empty).
    pub default_group: Option<String>,
    pub default_group_rules: BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SubnetFields {
    pub cidr: String,
    pub availability_zone: String,
    pub map_public_ip: bool,
}

#[derive(Debug, Clone, Default)]
pub struct GatewayFields {
    /// VPC ids the gateway is attached to.
    pub attached_to: Vec<String>,
}

/// An Elastic IP has nothing to compare beyond its tags.
#[derive(Debug, Clone, Default)]
pub struct ElasticIpFields;

#[derive(Debug, Clone, Default)]
pub struct NatFields {
    pub subnet_id: String,
    pub allocation_id: String,
    /// `pending` or `available` (deleted and failed gateways are not observed).
    pub state: String,
}

#[derive(Debug, Clone, Default)]
pub struct RouteTableFields {
    /// Destination CIDR → target id (gateway or NAT gateway), the `local` route left out.
    pub routes: BTreeMap<String, String>,
    /// Subnet id → association id.
    pub associations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct SecurityGroupFields {
    pub description: String,
    pub ingress: BTreeSet<crate::model::network::Rule>,
    pub egress: BTreeSet<crate::model::network::Rule>,
}

/// Everything the network observation found.
#[derive(Debug, Clone, Default)]
pub struct ObservedNetwork {
    pub vpcs: Vec<Observed<VpcFields>>,
    pub subnets: Vec<Observed<SubnetFields>>,
    pub internet_gateways: Vec<Observed<GatewayFields>>,
    pub elastic_ips: Vec<Observed<ElasticIpFields>>,
    pub nat_gateways: Vec<Observed<NatFields>>,
    pub route_tables: Vec<Observed<RouteTableFields>>,
    pub security_groups: Vec<Observed<SecurityGroupFields>>,
}

impl ObservedNetwork {
    /// Address → AWS id of everything observed.
    pub fn ids(&self) -> BTreeMap<Address, String> {
        fn add<F>(out: &mut BTreeMap<Address, String>, kind: Kind, items: &[Observed<F>]) {
            for o in items {
                out.insert(Address::new(kind, &o.name), o.id.clone());
            }
        }
        let mut out = BTreeMap::new();
        add(&mut out, Kind::Vpc, &self.vpcs);
        add(&mut out, Kind::Subnet, &self.subnets);
        add(&mut out, Kind::InternetGateway, &self.internet_gateways);
        add(&mut out, Kind::ElasticIp, &self.elastic_ips);
        add(&mut out, Kind::NatGateway, &self.nat_gateways);
        add(&mut out, Kind::RouteTable, &self.route_tables);
        add(&mut out, Kind::SecurityGroup, &self.security_groups);
        out
    }

    /// AWS id → name, for one kind.
    fn names(&self, kind: Kind) -> BTreeMap<String, String> {
        self.ids().into_iter().filter(|(a, _)| a.kind == kind).map(|(a, id)| (id, a.name)).collect()
    }
}

/// The network's changes, in the order the plan shows them.
pub fn diff(ctx: &PlanContext, desired: Option<&Network>, observed: &ObservedNetwork, plan: &mut Plan) {
    let empty = Network {
        vpc: crate::model::network::Vpc { name: String::new(), cidr: String::new() },
        subnets: vec![],
        internet_gateway: String::new(),
        nat_gateways: vec![],
        route_tables: vec![],
        security_groups: vec![],
        security_group_rules: vec![],
    };
    let (n, has_network) = match desired {
        Some(n) => (n, true),
        None => (&empty, false),
    };
    let vpc_dep = Address::new(Kind::Vpc, &n.vpc.name);
    let vpcs: Vec<_> = if has_network { vec![n.vpc.clone()] } else { vec![] };
    vpc::diff_vpcs(ctx, &vpcs, observed, plan);
    vpc::diff_subnets(ctx, &n.subnets, observed, &|_| vec![vpc_dep.clone()], plan);
    let igws: Vec<String> = if has_network { vec![n.internet_gateway.clone()] } else { vec![] };
    vpc::diff_internet_gateways(ctx, &igws, &n.vpc.name, observed, plan);
    nat::diff(ctx, n, observed, plan);
    routes::diff(ctx, n, observed, plan);
    security_groups::diff(ctx, n, observed, &|_| vec![vpc_dep.clone()], plan);
}

/// A route target as the plan shows it.
fn target_name(observed: &ObservedNetwork, id: &str) -> RouteTarget {
    if let Some(name) = observed.names(Kind::InternetGateway).get(id) {
        RouteTarget::InternetGateway(name.clone())
    } else if let Some(name) = observed.names(Kind::NatGateway).get(id) {
        RouteTarget::NatGateway(name.clone())
    } else {
        RouteTarget::Other(id.to_string())
    }
}

/// Carries out one network step.
pub async fn apply(
    clients: &Clients,
    ctx: &PlanContext,
    desired: Option<&Network>,
    observed: &ObservedNetwork,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let name = address.name.as_str();
    match address.kind {
        Kind::Vpc => {
            vpc::apply_vpc(
                clients,
                ctx,
                desired.map(|n| &n.vpc),
                observed.vpcs.iter().find(|o| o.name == name),
                ids,
                action,
                address,
            )
            .await
        }
        Kind::Subnet => {
            let d = desired.and_then(|n| n.subnets.iter().find(|s| s.name == name));
            vpc::apply_subnet(clients, ctx, d, observed.subnets.iter().find(|o| o.name == name), ids, action, address)
                .await
        }
        Kind::InternetGateway => {
            let o = observed.internet_gateways.iter().find(|o| o.name == name);
            vpc::apply_internet_gateway(clients, ctx, desired.map(|n| n.vpc.name.as_str()), o, ids, action, address)
                .await
        }
        Kind::ElasticIp => {
            nat::apply_elastic_ip(
                clients,
                ctx,
                observed.elastic_ips.iter().find(|o| o.name == name),
                ids,
                action,
                address,
            )
            .await
        }
        Kind::NatGateway => {
            let d = desired.and_then(|n| n.nat_gateways.iter().find(|g| g.name == name));
            nat::apply_nat_gateway(
                clients,
                ctx,
                d,
                observed.nat_gateways.iter().find(|o| o.name == name),
                ids,
                action,
                address,
            )
            .await
        }
        Kind::RouteTable => {
            let d = desired.and_then(|n| n.route_tables.iter().find(|t| t.name == name));
            let vpc = desired.map(|n| n.vpc.name.as_str()).unwrap_or_default();
            routes::apply(
                clients,
                ctx,
                d,
                vpc,
                observed.route_tables.iter().find(|o| o.name == name),
                ids,
                action,
                address,
            )
            .await
        }
        Kind::SecurityGroup => {
            let d = desired.and_then(|n| n.security_groups.iter().find(|g| g.name == name));
            let vpc = desired.map(|n| n.vpc.name.as_str()).unwrap_or_default();
            security_groups::apply_group(
                clients,
                ctx,
                d,
                vpc,
                observed.security_groups.iter().find(|o| o.name == name),
                ids,
                action,
                address,
            )
            .await
        }
        Kind::SecurityGroupRules => {
            let d = desired.and_then(|n| n.security_group_rules.iter().find(|r| r.group == name));
            security_groups::apply_rules(clients, d, ids, action, address).await
        }
        other => bail!("{address}: {other:?} is not a network resource"),
    }
}

#[cfg(test)]
mod tests;
