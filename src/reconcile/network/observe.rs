//! Reading the network: one tag-filtered `Describe*` per resource type (flow logs included), all
//! concurrently; then,
//! for the stack's VPC, its two DNS attributes and its default security group.
//!
//! `read` and `parse` are apart so `adopt` can read a VPC's untagged resources (filtered by the
//! VPC's id) and name them by its own matching instead of by their address tags.

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_ec2::types::{Filter, NatGatewayState, VpcAttributeName};

use super::security_group_rules::rules_of;
use super::*;
use crate::aws::describe;
use crate::aws::Clients;
use crate::model::network::Rule;
use crate::model::tags::Tags;
use crate::model::tags::{ADDRESS, STACK};

/// The name part of the resource's `containrlab:address` tag, when it is of `kind`.
fn name_of(kind: Kind, tags: &Tags) -> Option<String> {
    let (k, name) = tags.get(ADDRESS)?.split_once('.')?;
    (k == kind.as_str()).then(|| name.to_string())
}

fn tags_of(tags: &[aws_sdk_ec2::types::Tag]) -> Tags {
    tags.iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect()
}

/// How a listed resource gets its stack-file name: `None` leaves it out.
pub type Namer<'a> = &'a dyn Fn(Kind, &str, &Tags) -> Option<String>;

/// The name the address tag gives (what `observe` uses).
pub fn by_address_tag(kind: Kind, _id: &str, tags: &Tags) -> Option<String> {
    name_of(kind, tags)
}

fn observed<F>(
    namer: Namer<'_>,
    kind: Kind,
    id: Option<&str>,
    tags: &[aws_sdk_ec2::types::Tag],
    fields: F,
) -> Option<Observed<F>> {
    let tags = tags_of(tags);
    let id = id?;
    Some(Observed { name: namer(kind, id, &tags)?, id: id.to_string(), tags, fields })
}

pub async fn observe(clients: &Clients, stack: &str) -> Result<ObservedNetwork> {
    let owned = Filter::builder().name(format!("tag:{STACK}")).values(stack).build();
    let raw = read(clients, Scope::Filter(owned)).await?;
    parse(clients, &raw, &by_address_tag).await
}

/// What to list: resources matching one filter (a tag), or those inside one VPC.
pub enum Scope {
    Filter(Filter),
    Vpc(String),
}

/// The listings `parse` works from.
pub struct Raw {
    pub vpcs: Vec<aws_sdk_ec2::types::Vpc>,
    pub subnets: Vec<aws_sdk_ec2::types::Subnet>,
    pub internet_gateways: Vec<aws_sdk_ec2::types::InternetGateway>,
    pub addresses: Vec<aws_sdk_ec2::types::Address>,
    pub nat_gateways: Vec<aws_sdk_ec2::types::NatGateway>,
    pub route_tables: Vec<aws_sdk_ec2::types::RouteTable>,
    pub security_groups: Vec<aws_sdk_ec2::types::SecurityGroup>,
    pub flow_logs: Vec<aws_sdk_ec2::types::FlowLog>,
}

/// One `Describe*` per resource type, all at once. In a VPC's scope, Elastic IPs (which belong to
/// no VPC) are all listed; `parse` keeps the ones named.
pub async fn read(clients: &Clients, scope: Scope) -> Result<Raw> {
    let ec2 = &clients.ec2;
    let (filter, vpc) = match scope {
        Scope::Filter(f) => (f, None),
        Scope::Vpc(id) => (Filter::builder().name("vpc-id").values(&id).build(), Some(id)),
    };
    let owned = || filter.clone();
    let captured = || match &vpc {
        Some(id) => Filter::builder().name("resource-id").values(id).build(),
        None => filter.clone(),
    };
    let attached = || match &vpc {
        Some(id) => Filter::builder().name("attachment.vpc-id").values(id).build(),
        None => filter.clone(),
    };
    let fail = |what: &'static str| {
        move |e: &(dyn std::error::Error + 'static)| anyhow::anyhow!("listing {what}: {}", describe(e))
    };
    let (raw_vpcs, raw_subnets, raw_igws, raw_eips, raw_nats, raw_tables, raw_groups, raw_flow_logs) = tokio::try_join!(
        async {
            ec2.describe_vpcs()
                .filters(owned())
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| fail("VPCs")(&e))
        },
        async {
            ec2.describe_subnets()
                .filters(owned())
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| fail("subnets")(&e))
        },
        async {
            ec2.describe_internet_gateways()
                .filters(attached())
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| fail("internet gateways")(&e))
        },
        async {
            let listing = match vpc {
                Some(_) => ec2.describe_addresses(),
                None => ec2.describe_addresses().filters(owned()),
            };
            listing.send().await.map_err(|e| fail("Elastic IPs")(&e))
        },
        async {
            ec2.describe_nat_gateways()
                .filter(owned())
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| fail("NAT gateways")(&e))
        },
        async {
            ec2.describe_route_tables()
                .filters(owned())
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| fail("route tables")(&e))
        },
        async {
            ec2.describe_security_groups()
                .filters(owned())
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| fail("security groups")(&e))
        },
        async {
            ec2.describe_flow_logs()
                .filter(captured())
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| fail("flow logs")(&e))
        },
    )?;
    Ok(Raw {
        vpcs: raw_vpcs,
        subnets: raw_subnets,
        internet_gateways: raw_igws,
        addresses: raw_eips.addresses.unwrap_or_default(),
        nat_gateways: raw_nats,
        route_tables: raw_tables,
        security_groups: raw_groups,
        flow_logs: raw_flow_logs,
    })
}

/// The listings as observed resources, each named by `namer`; then each VPC's details.
pub async fn parse(clients: &Clients, raw: &Raw, namer: Namer<'_>) -> Result<ObservedNetwork> {
    let Raw {
        vpcs: raw_vpcs,
        subnets: raw_subnets,
        internet_gateways: raw_igws,
        addresses: raw_eips,
        nat_gateways: raw_nats,
        route_tables: raw_tables,
        security_groups: raw_groups,
        flow_logs: raw_flow_logs,
    } = raw;
    let mut vpcs: Vec<_> = raw_vpcs
        .iter()
        .filter_map(|v| {
            let fields = VpcFields { cidr: v.cidr_block().unwrap_or_default().to_string(), ..VpcFields::default() };
            observed(namer, Kind::Vpc, v.vpc_id(), v.tags(), fields)
        })
        .collect();
    let subnets: Vec<_> = raw_subnets
        .iter()
        .filter_map(|s| {
            let fields = SubnetFields {
                cidr: s.cidr_block().unwrap_or_default().to_string(),
                availability_zone: s.availability_zone().unwrap_or_default().to_string(),
                map_public_ip: s.map_public_ip_on_launch().unwrap_or(false),
            };
            observed(namer, Kind::Subnet, s.subnet_id(), s.tags(), fields)
        })
        .collect();
    let internet_gateways: Vec<_> = raw_igws
        .iter()
        .filter_map(|g| {
            let attached_to = g.attachments().iter().filter_map(|a| a.vpc_id().map(str::to_string)).collect();
            observed(namer, Kind::InternetGateway, g.internet_gateway_id(), g.tags(), GatewayFields { attached_to })
        })
        .collect();
    let elastic_ips: Vec<_> = raw_eips
        .iter()
        .filter_map(|a| observed(namer, Kind::ElasticIp, a.allocation_id(), a.tags(), ElasticIpFields))
        .collect();
    let nat_gateways: Vec<_> = raw_nats
        .iter()
        // Deleted and failed gateways linger in the listing for a while; they hold nothing.
        .filter(|g| matches!(g.state(), Some(NatGatewayState::Pending | NatGatewayState::Available)))
        .filter_map(|g| {
            let fields = NatFields {
                subnet_id: g.subnet_id().unwrap_or_default().to_string(),
                allocation_id: g
                    .nat_gateway_addresses()
                    .iter()
                    .find_map(|a| a.allocation_id())
                    .unwrap_or_default()
                    .to_string(),
                state: g.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
            };
            observed(namer, Kind::NatGateway, g.nat_gateway_id(), g.tags(), fields)
        })
        .collect();
    let route_tables: Vec<_> = raw_tables
        .iter()
        .filter_map(|t| {
            let routes = t
                .routes()
                .iter()
                .filter(|r| r.gateway_id() != Some("local"))
                .filter_map(|r| {
                    Some((r.destination_cidr_block()?.to_string(), r.gateway_id().or(r.nat_gateway_id())?.to_string()))
                })
                .collect();
            let associations = t
                .associations()
                .iter()
                .filter(|a| !a.main().unwrap_or(false))
                .filter_map(|a| Some((a.subnet_id()?.to_string(), a.route_table_association_id()?.to_string())))
                .collect();
            observed(namer, Kind::RouteTable, t.route_table_id(), t.tags(), RouteTableFields { routes, associations })
        })
        .collect();
    let group_names: BTreeMap<String, String> = raw_groups
        .iter()
        .filter_map(|g| {
            let id = g.group_id()?;
            Some((id.to_string(), namer(Kind::SecurityGroup, id, &tags_of(g.tags()))?))
        })
        .collect();
    let security_groups: Vec<_> = raw_groups
        .iter()
        .filter_map(|g| {
            let fields = SecurityGroupFields {
                description: g.description().unwrap_or_default().to_string(),
                ingress: rules_of(g.ip_permissions(), &group_names),
                egress: rules_of(g.ip_permissions_egress(), &group_names),
            };
            observed(namer, Kind::SecurityGroup, g.group_id(), g.tags(), fields)
        })
        .collect();

    let flow_logs: Vec<_> = raw_flow_logs
        .iter()
        // A flow log of a resource that is gone no longer captures anything.
        .filter(|l| l.flow_log_status() != Some("DELETED"))
        .filter_map(|l| {
            let fields = FlowLogFields {
                vpc_id: l.resource_id().unwrap_or_default().to_string(),
                traffic: l.traffic_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                log_group: l.log_group_name().unwrap_or_default().to_string(),
                role_arn: l.deliver_logs_permission_arn().unwrap_or_default().to_string(),
                max_aggregation_seconds: l.max_aggregation_interval().unwrap_or(600),
            };
            observed(namer, Kind::FlowLog, l.flow_log_id(), l.tags(), fields)
        })
        .collect();
    for vpc in &mut vpcs {
        read_vpc_details(clients, vpc).await?;
    }
    Ok(ObservedNetwork {
        vpcs,
        subnets,
        internet_gateways,
        elastic_ips,
        nat_gateways,
        route_tables,
        security_groups,
        flow_logs,
    })
}

/// DNS attributes and the default security group of one VPC, concurrently.
async fn read_vpc_details(clients: &Clients, vpc: &mut Observed<VpcFields>) -> Result<()> {
    let ec2 = &clients.ec2;
    let id = vpc.id.clone();
    let attribute = |name: VpcAttributeName| {
        let id = id.clone();
        async move {
            ec2.describe_vpc_attribute()
                .vpc_id(&id)
                .attribute(name)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("reading the attributes of VPC {id}: {}", describe(&e)))
        }
    };
    let default_group = async {
        ec2.describe_security_groups()
            .filters(Filter::builder().name("vpc-id").values(&id).build())
            .filters(Filter::builder().name("group-name").values("default").build())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading the default security group of VPC {id}: {}", describe(&e)))
    };
    let (support, hostnames, group) = tokio::try_join!(
        attribute(VpcAttributeName::EnableDnsSupport),
        attribute(VpcAttributeName::EnableDnsHostnames),
        default_group
    )?;
    vpc.fields.dns_support = support.enable_dns_support().and_then(|v| v.value()).unwrap_or(false);
    vpc.fields.dns_hostnames = hostnames.enable_dns_hostnames().and_then(|v| v.value()).unwrap_or(false);
    if let Some(g) = group.security_groups().first() {
        vpc.fields.default_group = g.group_id().map(str::to_string);
        let self_name: BTreeMap<String, String> =
            g.group_id().map(|id| (id.to_string(), "default".to_string())).into_iter().collect();
        let rules = rules_of(g.ip_permissions(), &self_name)
            .iter()
            .map(|r| format!("ingress {}", r.describe()))
            .collect::<Vec<_>>();
        let egress = rules_of(g.ip_permissions_egress(), &self_name)
            .iter()
            .map(|r: &Rule| format!("egress {}", r.describe()))
            .collect::<Vec<_>>();
        vpc.fields.default_group_rules = rules.into_iter().chain(egress).collect();
    }
    Ok(())
}
