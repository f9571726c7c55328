//! Matching by shape, for what AWS does not name uniquely: the VPC by its CIDR (and a `Name` tag
//! when several share it), then inside it subnets by CIDR + availability zone, the internet
//! gateway attached to it, each NAT gateway by the subnet it sits in and its Elastic IP by the
//! gateway's allocation, route tables by the subnets associated with them, security groups by
//! name, the VPC's flow log by its log group; the certificate by its domain and exactly its
//! alternative names.
//!
//! Invariants: a match is made only when exactly one resource fits; several are reported with
//! their ids and never guessed between; nothing already carrying ownership tags is matched (it is
//! this stack's, or another's: the named judgement in `adopt` sees it).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use aws_sdk_ec2::types::{Filter, NatGatewayState};

use super::{Found, Unmatched};
use crate::aws::{describe, Clients};
use crate::model::desired::Desired;
use crate::model::tags::{owner, Owner, Tags};
use crate::model::{Address, Kind};
use crate::reconcile::acm::CertificateFields;
use crate::reconcile::elb::LoadBalancerFields;
use crate::reconcile::kit::Observed as Item;
use crate::reconcile::network::observe::{self, Raw, Scope};
use crate::reconcile::network::ObservedNetwork;

fn tags(list: &[aws_sdk_ec2::types::Tag]) -> Tags {
    list.iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect()
}

fn untagged(stack: &str, list: &[aws_sdk_ec2::types::Tag]) -> bool {
    owner(stack, &tags(list)) == Owner::Unmanaged
}

/// What matching one kind found: the one resource, or why there is none to take.
enum Pick<'a, T> {
    One(&'a T),
    None,
    Several(Vec<String>),
}

fn pick<'a, T>(candidates: Vec<&'a T>, id: impl Fn(&T) -> &str) -> Pick<'a, T> {
    match candidates.as_slice() {
        [] => Pick::None,
        [one] => Pick::One(one),
        many => Pick::Several(many.iter().map(|c| id(c).to_string()).collect()),
    }
}

/// Finds the declared network in AWS when the stack owns none of it; adds what it matched to
/// `observed.network` (named by the stack file) and to `found`.
pub async fn network(
    clients: &Clients,
    desired: &Desired,
    observed: &mut ObservedNetwork,
    found: &mut Vec<Found>,
    unmatched: &mut Vec<Unmatched>,
) -> Result<()> {
    let (Some(want), true) = (desired.network.as_ref(), observed.vpcs.is_empty()) else { return Ok(()) };
    let stack = desired.stack.as_str();
    let vpcs = clients
        .ec2
        .describe_vpcs()
        .filters(Filter::builder().name("cidr").values(&want.vpc.cidr).build())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("listing VPCs with CIDR {}: {}", want.vpc.cidr, describe(&e)))?;
    let candidates: Vec<_> = vpcs.vpcs().iter().filter(|v| untagged(stack, v.tags())).collect();
    // Several with the CIDR: the one whose `Name` tag names the stack (`containrlab`, `containrlab-vpc`).
    let named = |v: &&aws_sdk_ec2::types::Vpc| {
        tags(v.tags()).get("Name").is_some_and(|n| n.to_lowercase().starts_with(&stack.to_lowercase()))
    };
    let by_name: Vec<_> = candidates.iter().copied().filter(named).collect();
    let candidates = if candidates.len() > 1 && by_name.len() == 1 { by_name } else { candidates };
    let vpc_address = Address::new(Kind::Vpc, &want.vpc.name);
    let vpc = match pick(candidates, |v| v.vpc_id().unwrap_or_default()) {
        Pick::One(v) => v,
        Pick::None => return Ok(()),
        Pick::Several(ids) => {
            let why = format!("{} VPCs have CIDR {} and no Name tag tells which", ids.len(), want.vpc.cidr);
            unmatched.push(Unmatched { address: vpc_address, why, ids });
            return Ok(());
        }
    };
    let vpc_id = vpc.vpc_id().unwrap_or_default().to_string();
    let name_tag = tags(vpc.tags()).get("Name").map(|n| format!(", Name `{n}`")).unwrap_or_default();
    let mut names: BTreeMap<String, (Address, String)> = BTreeMap::new();
    names.insert(vpc_id.clone(), (vpc_address, format!("CIDR {}{name_tag}", want.vpc.cidr)));

    let raw = observe::read(clients, Scope::Vpc(vpc_id.clone())).await?;
    match_inside(stack, desired, &raw, &mut names, unmatched);

    let namer =
        |kind: Kind, id: &str, _: &Tags| names.get(id).filter(|(a, _)| a.kind == kind).map(|(a, _)| a.name.clone());
    let parsed = observe::parse(clients, &raw, &namer).await?;
    let n = observed;
    n.vpcs.extend(parsed.vpcs);
    n.subnets.extend(parsed.subnets);
    n.internet_gateways.extend(parsed.internet_gateways);
    n.elastic_ips.extend(parsed.elastic_ips);
    n.nat_gateways.extend(parsed.nat_gateways);
    n.route_tables.extend(parsed.route_tables);
    n.security_groups.extend(parsed.security_groups);
    n.flow_logs.extend(parsed.flow_logs);
    found.extend(names.into_iter().map(|(id, (address, evidence))| Found { address, ids: vec![id], evidence }));
    Ok(())
}

/// Matches what sits inside the VPC; `names` maps each matched id to its address and evidence.
fn match_inside(
    stack: &str,
    desired: &Desired,
    raw: &Raw,
    names: &mut BTreeMap<String, (Address, String)>,
    unmatched: &mut Vec<Unmatched>,
) {
    let Some(want) = desired.network.as_ref() else { return };
    let mut record = |address: Address, pick: Pick<'_, String>, evidence: String, why: String| match pick {
        Pick::One(id) => {
            names.insert(id.clone(), (address, evidence));
        }
        Pick::None => {}
        Pick::Several(ids) => unmatched.push(Unmatched { address, why, ids }),
    };
    let ids = |list: Vec<Option<&str>>| -> Vec<String> { list.into_iter().flatten().map(str::to_string).collect() };

    let mut subnet_ids: BTreeMap<&str, String> = BTreeMap::new();
    for s in &want.subnets {
        let fits = ids(raw
            .subnets
            .iter()
            .filter(|r| untagged(stack, r.tags()))
            .filter(|r| r.cidr_block() == Some(&s.cidr) && r.availability_zone() == Some(&s.availability_zone))
            .map(|r| r.subnet_id())
            .collect());
        if let [one] = fits.as_slice() {
            subnet_ids.insert(s.name.as_str(), one.clone());
        }
        let address = Address::new(Kind::Subnet, &s.name);
        let evidence = format!("CIDR {} in {}", s.cidr, s.availability_zone);
        record(address, pick(fits.iter().collect(), |s| s), evidence, "several subnets fit".into());
    }

    let gateways = ids(raw
        .internet_gateways
        .iter()
        .filter(|g| untagged(stack, g.tags()))
        .map(|g| g.internet_gateway_id())
        .collect());
    let address = Address::new(Kind::InternetGateway, &want.internet_gateway);
    record(address, pick(gateways.iter().collect(), |s| s), "attached to the VPC".into(), String::new());

    let mut addresses = Vec::new();
    for nat in &want.nat_gateways {
        let Some(subnet) = subnet_ids.get(nat.subnet.as_str()) else { continue };
        let live = |g: &&aws_sdk_ec2::types::NatGateway| {
            matches!(g.state(), Some(NatGatewayState::Pending | NatGatewayState::Available))
        };
        let fits: Vec<_> = raw
            .nat_gateways
            .iter()
            .filter(live)
            .filter(|g| untagged(stack, g.tags()) && g.subnet_id() == Some(subnet))
            .collect();
        let address = Address::new(Kind::NatGateway, &nat.name);
        let gateway_ids = ids(fits.iter().map(|g| g.nat_gateway_id()).collect());
        let evidence = format!("in subnet {} ({subnet})", nat.subnet);
        record(
            address,
            pick(gateway_ids.iter().collect(), |s| s),
            evidence,
            "several NAT gateways in the subnet".into(),
        );
        if let [g] = fits.as_slice() {
            let allocation = g.nat_gateway_addresses().iter().find_map(|a| a.allocation_id()).map(str::to_string);
            let eip = raw.addresses.iter().find(|a| a.allocation_id() == allocation.as_deref());
            if let Some(a) = eip.filter(|a| untagged(stack, a.tags())).and_then(|a| a.allocation_id()) {
                let evidence = format!("the address of nat_gateway.{}", nat.name);
                addresses.push((a.to_string(), (Address::new(Kind::ElasticIp, &nat.name), evidence)));
            }
        }
    }

    for table in &want.route_tables {
        let subnets: BTreeSet<&String> = table.subnets.iter().filter_map(|s| subnet_ids.get(s.as_str())).collect();
        let fits = ids(raw
            .route_tables
            .iter()
            .filter(|t| untagged(stack, t.tags()))
            .filter(|t| {
                t.associations().iter().any(|a| {
                    !a.main().unwrap_or(false) && a.subnet_id().is_some_and(|s| subnets.contains(&s.to_string()))
                })
            })
            .map(|t| t.route_table_id())
            .collect());
        let address = Address::new(Kind::RouteTable, &table.name);
        let names_of: Vec<&str> = table.subnets.iter().map(String::as_str).collect();
        let evidence = format!("associated with {}", names_of.join(", "));
        let why = format!("the subnets {} are associated with different route tables", names_of.join(", "));
        record(address, pick(fits.iter().collect(), |s| s), evidence, why);
    }

    for group in &want.security_groups {
        let fits = ids(raw
            .security_groups
            .iter()
            .filter(|g| untagged(stack, g.tags()) && g.group_name() == Some(&group.name))
            .map(|g| g.group_id())
            .collect());
        let address = Address::new(Kind::SecurityGroup, &group.name);
        record(
            address,
            pick(fits.iter().collect(), |s| s),
            format!("group name {} in the VPC", group.name),
            String::new(),
        );
    }

    // The VPC's flow log into the declared log group (the listing is of this VPC's flow logs).
    if let Some(log) = &want.flow_log {
        let fits = ids(raw
            .flow_logs
            .iter()
            .filter(|l| untagged(stack, l.tags()) && l.log_group_name() == Some(&log.log_group))
            .map(|l| l.flow_log_id())
            .collect());
        let address = Address::new(Kind::FlowLog, &log.name);
        let evidence = format!("the VPC's flow log into {}", log.log_group);
        let why = format!("the VPC has several flow logs into {}", log.log_group);
        record(address, pick(fits.iter().collect(), |s| s), evidence, why);
    }
    names.extend(addresses);
}

/// The declared certificate: ACM's certificates for the domain with exactly the declared
/// alternative names; of several, the one the declared load balancer uses.
pub async fn certificate(
    clients: &Clients,
    desired: &Desired,
    certificates: &mut Vec<Item<CertificateFields>>,
    load_balancers: &[Item<LoadBalancerFields>],
    found: &mut Vec<Found>,
    unmatched: &mut Vec<Unmatched>,
) -> Result<()> {
    let Some(want) = desired.ingress.as_ref().and_then(|e| e.certificate.as_ref()) else { return Ok(()) };
    if certificates.iter().any(|c| c.name == want.domain) {
        return Ok(());
    }
    let found_here = crate::reconcile::acm::by_domain(clients, &want.domain).await?;
    let mut sans: Vec<String> = want.subject_alternative_names.iter().filter(|s| **s != want.domain).cloned().collect();
    sans.sort();
    let lb = load_balancers.iter().find(|l| desired.ingress.as_ref().is_some_and(|e| e.load_balancer.name == l.name));
    let fits: Vec<_> = found_here
        .into_iter()
        .filter(|(_, tags, fields, _)| {
            owner(&desired.stack, tags) == Owner::Unmanaged
                && fields.subject_alternative_names == sans
                && matches!(fields.status.as_str(), "ISSUED" | "PENDING_VALIDATION")
        })
        .collect();
    let in_use: Vec<_> = fits.iter().filter(|(_, _, _, users)| lb.is_some_and(|l| users.contains(&l.id))).collect();
    let chosen = match (fits.as_slice(), in_use.as_slice()) {
        ([one], _) => Some((one, "")),
        (_, [one]) => Some((*one, ", in use by the load balancer")),
        ([], _) => None,
        (many, _) => {
            let ids = many.iter().map(|(arn, ..)| arn.clone()).collect();
            let why = format!(
                "{} certificates for {} have these names and none is the load balancer's",
                many.len(),
                want.domain
            );
            unmatched.push(Unmatched { address: Address::new(Kind::Certificate, &want.domain), why, ids });
            None
        }
    };
    if let Some(((arn, tags, fields, _), note)) = chosen {
        let address = Address::new(Kind::Certificate, &want.domain);
        let evidence = format!("domain {} with {} ({}){note}", want.domain, sans.join(", "), fields.status);
        found.push(Found { address, ids: vec![arn.clone()], evidence });
        certificates.push(Item {
            name: want.domain.clone(),
            id: arn.clone(),
            tags: tags.clone(),
            fields: fields.clone(),
        });
    }
    Ok(())
}
