//! `adopt`: take over a stack built by hand. For each address of the stack file it finds the
//! existing resource a careful operator would match — by name where AWS names are unique (the
//! normal observation already reads declared namesakes), by shape where they are not
//! (`shape.rs`) — and plans to write the three ownership tags on it, nothing else.
//!
//! Invariants: a resource another stack owns is refused; several candidates are listed, never
//! guessed between; what is not found is left for `up` to create. The drift shown is the plan
//! `up` would make once the tags are there: the same planner run on the observation with the
//! adopted resources' ownership tags added in memory. Listeners and rules follow their load
//! balancer, security-group rules their group, DNS records their declaration: none is tagged.

mod render;
mod shape;
mod write;

pub use render::{human, json};
pub use write::write;

use std::collections::BTreeMap;

use anyhow::Result;

use crate::aws::Clients;
use crate::model::desired::Desired;
use crate::model::tags::{owner, Owner, ADDRESS, MANAGED_BY, MANAGED_BY_VALUE, STACK};
use crate::model::{Address, Kind};
use crate::plan::build::PlanContext;
use crate::reconcile::{inventory, Observed, Plan};

/// A resource matched to an address: its AWS ids (a task definition family: each revision
/// observed) and why it is the one.
#[derive(Debug, Clone)]
pub struct Found {
    pub address: Address,
    pub ids: Vec<String>,
    pub evidence: String,
}

/// An address with several candidates (or one that does not fit), and why none was taken.
#[derive(Debug, Clone)]
pub struct Unmatched {
    pub address: Address,
    pub why: String,
    pub ids: Vec<String>,
}

/// What `adopt` would do.
#[derive(Debug, Default)]
pub struct Adoption {
    /// Resources to tag.
    pub adopt: Vec<Found>,
    /// Addresses whose ownership follows another resource (listener → its load balancer).
    pub follow: Vec<(Address, Address)>,
    /// Addresses already this stack's.
    pub owned: Vec<Address>,
    /// Declared but not found: `up` creates them.
    pub missing: Vec<Address>,
    pub unmatched: Vec<Unmatched>,
    /// Found, but another stack's: (address, that stack).
    pub refused: Vec<(Address, String)>,
    /// What `up` would do after the adoption.
    pub drift: Plan,
}

/// The three tags that make a resource this stack's, and nothing else.
pub fn ownership_tags(stack: &str, address: &Address) -> crate::model::tags::Tags {
    [(MANAGED_BY, MANAGED_BY_VALUE.to_string()), (STACK, stack.to_string()), (ADDRESS, address.to_string())]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// Reads AWS and plans the adoption. `observed` is the normal observation of the stack.
pub async fn plan(
    clients: &Clients,
    ctx: &PlanContext,
    desired: &Desired,
    mut observed: Observed,
    drift: Plan,
) -> Result<Adoption> {
    let (mut found_net, mut found_cert, mut unmatched_net, mut unmatched_cert) = (vec![], vec![], vec![], vec![]);
    let Observed { network, certificates, edge, .. } = &mut observed;
    tokio::try_join!(
        shape::network(clients, desired, network, &mut found_net, &mut unmatched_net),
        shape::certificate(clients, desired, certificates, &edge.load_balancers, &mut found_cert, &mut unmatched_cert),
    )?;
    let found = found_net.into_iter().chain(found_cert).collect();
    let unmatched = unmatched_net.into_iter().chain(unmatched_cert).collect();
    let mut adoption = judge(ctx, desired, &mut observed, found, unmatched)?;
    claim(&ctx.stack, &adoption, &mut observed);
    observed.duplicates = crate::reconcile::duplicates::resolve(&ctx.stack, &observed);
    let mut drift = drift;
    crate::reconcile::diff(ctx, desired, &observed, &mut drift)?;
    adoption.drift = drift;
    Ok(adoption)
}

/// Sorts every declared address into adopt / follow / owned / missing / unmatched / refused.
fn judge(
    ctx: &PlanContext,
    desired: &Desired,
    observed: &mut Observed,
    by_shape: Vec<Found>,
    unmatched: Vec<Unmatched>,
) -> Result<Adoption> {
    let declared = crate::ops::graph::plan_from_empty(desired, &ctx.region)?;
    let mut seen: BTreeMap<Address, Vec<(String, Owner)>> = BTreeMap::new();
    for e in inventory::entries(observed) {
        seen.entry(e.address).or_default().push((e.id.to_string(), owner(&ctx.stack, e.tags)));
    }
    let mut out = Adoption { unmatched, ..Adoption::default() };
    let shaped: BTreeMap<Address, Found> = by_shape.into_iter().map(|f| (f.address.clone(), f)).collect();
    for change in &declared.changes {
        let address = change.address.clone();
        if let Some(f) = shaped.get(&address) {
            out.adopt.push(f.clone());
            continue;
        }
        if out.unmatched.iter().any(|u| u.address == address) {
            continue;
        }
        if let Some(kind) = crate::reconcile::registry::owned_through(address.kind) {
            out.follow.push((address.clone(), leader(desired, &address, kind)));
            continue;
        }
        let list = seen.get(&address).cloned().unwrap_or_default();
        if let Some((_, Owner::OtherStack(other))) = list.iter().find(|(_, o)| matches!(o, Owner::OtherStack(_))) {
            out.refused.push((address, other.clone()));
        } else if list.iter().any(|(_, o)| *o == Owner::ThisStack) {
            out.owned.push(address);
        } else if list.is_empty() {
            out.missing.push(address);
        } else {
            let mut ids: Vec<String> = list.into_iter().map(|(id, _)| id).collect();
            ids.sort();
            ids.dedup();
            let evidence = evidence(&address, ids.len());
            out.adopt.push(Found { address, ids, evidence });
        }
    }
    Ok(out)
}

/// What a follower's ownership comes from.
fn leader(desired: &Desired, address: &Address, kind: Kind) -> Address {
    // Listeners and rules belong to the one balancer; a group's rules and a zone's records are
    // named after it.
    let name = if kind == Kind::LoadBalancer {
        desired.ingress.as_ref().map(|e| e.load_balancer.name.clone()).unwrap_or_default()
    } else {
        address.name.clone()
    };
    Address::new(kind, name)
}

/// Why a resource found under its declared name is the one.
#[deny(clippy::wildcard_enum_match_arm)]
fn evidence(address: &Address, ids: usize) -> String {
    match address.kind {
        Kind::TaskDefinition => format!("family {} ({ids} revision(s) read: newest and running)", address.name),
        Kind::HostedZone => format!("zone {}", address.name),
        Kind::IamOidcProvider => format!("provider https://{}", address.name),
        Kind::Vpc
        | Kind::Subnet
        | Kind::InternetGateway
        | Kind::ElasticIp
        | Kind::NatGateway
        | Kind::RouteTable
        | Kind::SecurityGroup
        | Kind::SecurityGroupRules
        | Kind::FlowLog
        | Kind::IamRole
        | Kind::Certificate
        | Kind::TargetGroup
        | Kind::LoadBalancer
        | Kind::Listener
        | Kind::ListenerRule
        | Kind::DnsRecords
        | Kind::EcsCluster
        | Kind::EcsService
        | Kind::LaunchTemplate
        | Kind::AutoScalingGroup
        | Kind::CapacityProvider
        | Kind::SnsTopic
        | Kind::Alarm
        | Kind::EcrRepository
        | Kind::SsmParameter
        | Kind::LogGroup => format!("named {}", address.name),
    }
}

/// Adds the ownership tags of every adopted resource (and of what follows it) to the
/// observation, in memory only.
fn claim(stack: &str, adoption: &Adoption, observed: &mut Observed) {
    let by_id: BTreeMap<(&str, Kind), &Address> = adoption
        .adopt
        .iter()
        .flat_map(|f| f.ids.iter().map(move |id| ((id.as_str(), f.address.kind), &f.address)))
        .collect();
    let load_balancers: Vec<&Address> =
        adoption.adopt.iter().filter(|f| f.address.kind == Kind::LoadBalancer).map(|f| &f.address).collect();
    for e in inventory::entries(observed) {
        let address = match by_id.get(&(e.id, e.address.kind)) {
            Some(a) => Some((*a).clone()),
            // A listener or rule carries its balancer's tags.
            None if crate::reconcile::registry::owned_through(e.address.kind) == Some(Kind::LoadBalancer) => {
                load_balancers.first().map(|a| (*a).clone())
            }
            None => None,
        };
        if let Some(address) = address {
            e.tags.extend(ownership_tags(stack, &address));
        }
    }
}

#[cfg(test)]
mod tests;
