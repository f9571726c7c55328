//! Two resources carrying one address (a create whose answer was lost and that AWS's eventually
//! consistent reads hid from the look-again, a copy someone tagged by hand): which one is the
//! stack's is decided by evidence of use, never by listing order.
//!
//! Invariants: the one kept is the only one *in use* — attached, associated, routed to or
//! referenced by a resource that is itself kept; every other is planned for deletion as a
//! duplicate of it. When use cannot decide (none or several in use) nothing is guessed: the
//! address is a conflict listing every id. Kinds whose AWS names are unique (repositories,
//! roles, parameters, log groups, load balancers, target groups…) cannot carry duplicates.
//! Resolution runs in dependency order (route tables before what they route to), so evidence
//! from a duplicate never counts.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::tags::{owner, Owner};
use crate::model::{Address, Kind};

use super::kit::Observed as Item;
use super::Observed;

/// The outcome: duplicates to delete, and addresses use could not decide.
#[derive(Debug, Clone, Default)]
pub struct Duplicates {
    /// `(kind, id of a duplicate)` → id of the resource kept at its address.
    pub extra: BTreeMap<(Kind, String), String>,
    /// Address → every id carrying it, when use did not tell which one is the stack's.
    pub undecided: BTreeMap<Address, Vec<String>>,
}

impl Duplicates {
    /// The id kept at the address of `id`, when `id` is a duplicate.
    pub fn kept_instead_of(&self, kind: Kind, id: &str) -> Option<&str> {
        self.extra.get(&(kind, id.to_string())).map(String::as_str)
    }

    fn is_duplicate(&self, kind: Kind, id: &str) -> bool {
        self.kept_instead_of(kind, id).is_some()
    }
}

/// Decides every address of this stack that more than one resource carries.
pub fn resolve(stack: &str, o: &Observed) -> Duplicates {
    let mut out = Duplicates::default();
    let n = &o.network;
    // Each step may use what the steps before it kept.
    decide(&mut out, stack, Kind::RouteTable, &n.route_tables, |t| !t.fields.associations.is_empty());
    let targets: BTreeSet<String> =
        kept(&out, Kind::RouteTable, &n.route_tables).flat_map(|t| t.fields.routes.values().cloned()).collect();
    decide(&mut out, stack, Kind::NatGateway, &n.nat_gateways, |g| targets.contains(&g.id));
    decide(&mut out, stack, Kind::InternetGateway, &n.internet_gateways, |g| {
        targets.contains(&g.id) || !g.fields.attached_to.is_empty()
    });
    let allocations: BTreeSet<String> =
        kept(&out, Kind::NatGateway, &n.nat_gateways).map(|g| g.fields.allocation_id.clone()).collect();
    decide(&mut out, stack, Kind::ElasticIp, &n.elastic_ips, |a| allocations.contains(&a.id));
    let mut in_subnets: BTreeSet<String> =
        kept(&out, Kind::RouteTable, &n.route_tables).flat_map(|t| t.fields.associations.keys().cloned()).collect();
    in_subnets.extend(kept(&out, Kind::NatGateway, &n.nat_gateways).map(|g| g.fields.subnet_id.clone()));
    in_subnets.extend(o.edge.load_balancers.iter().flat_map(|l| l.fields.subnet_ids.iter().cloned()));
    decide(&mut out, stack, Kind::Subnet, &n.subnets, |s| in_subnets.contains(&s.id));
    let attached: BTreeSet<String> = kept(&out, Kind::InternetGateway, &n.internet_gateways)
        .flat_map(|g| g.fields.attached_to.iter().cloned())
        .collect();
    decide(&mut out, stack, Kind::Vpc, &n.vpcs, |v| attached.contains(&v.id));
    let mut groups: BTreeSet<String> =
        o.edge.load_balancers.iter().flat_map(|l| l.fields.security_group_ids.iter().cloned()).collect();
    groups.extend(o.ecs.services.iter().flat_map(|s| s.fields.security_groups.iter().cloned()));
    decide(&mut out, stack, Kind::SecurityGroup, &n.security_groups, |g| groups.contains(&g.id));
    let certificates: BTreeSet<String> =
        o.edge.listeners.iter().flat_map(|l| l.fields.certificate_arns.iter().cloned()).collect();
    decide(&mut out, stack, Kind::Certificate, &o.certificates, |c| certificates.contains(&c.id));
    out
}

/// The resources of `kind` in `items` that are not duplicates (so far).
fn kept<'a, F>(out: &'a Duplicates, kind: Kind, items: &'a [Item<F>]) -> impl Iterator<Item = &'a Item<F>> + 'a {
    items.iter().filter(move |i| !out.is_duplicate(kind, &i.id))
}

fn decide<F>(out: &mut Duplicates, stack: &str, kind: Kind, items: &[Item<F>], in_use: impl Fn(&Item<F>) -> bool) {
    let mut by_name: BTreeMap<&str, Vec<&Item<F>>> = BTreeMap::new();
    for i in items.iter().filter(|i| owner(stack, &i.tags) == Owner::ThisStack) {
        by_name.entry(i.name.as_str()).or_default().push(i);
    }
    for (name, carriers) in by_name.into_iter().filter(|(_, c)| c.len() > 1) {
        let used: Vec<&&Item<F>> = carriers.iter().filter(|i| in_use(i)).collect();
        match used.as_slice() {
            [live] => {
                for other in carriers.iter().filter(|i| i.id != live.id) {
                    out.extra.insert((kind, other.id.clone()), live.id.clone());
                }
            }
            _ => {
                let ids = carriers.iter().map(|i| i.id.clone()).collect();
                out.undecided.insert(Address::new(kind, name), ids);
            }
        }
    }
}
