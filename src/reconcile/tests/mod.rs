//! The planner's diff of every reconciler on hand-built observations, without an emulator: a
//! converged account plans nothing, and one thing changed behind the tool's back plans exactly
//! that change (field, action, reason). `fixture` builds the converged account.

mod compute;
mod edge;
mod fixture;
mod flat;
mod network;

use crate::diff::Shown;
use crate::model::desired::Desired;
use crate::plan::build::{Mode, PlanContext};
use crate::plan::Action;
use crate::reconcile::Observed;
use crate::reconcile::{Plan, ResourceChange};

pub use fixture::{converged, ctx, desired, plan};

/// The plan of the checked-in stack after `change` was made to its converged observation.
pub fn drift(change: impl FnOnce(&Desired, &mut Observed)) -> Plan {
    let d = desired();
    let mut o = converged(&d);
    change(&d, &mut o);
    // As `observe` does once everything is read.
    o.duplicates = crate::reconcile::duplicates::resolve(&d.stack, &o);
    plan(&ctx(&d, Mode::Converge), &d, &o)
}

/// The only change of the plan, which must be to `address`.
#[track_caller]
pub fn only(plan: &Plan, address: &str) -> ResourceChange {
    let addresses: Vec<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    assert_eq!(addresses, vec![address.to_string()], "changes: {:#?}", plan.changes);
    plan.changes[0].clone()
}

/// `(path, before, after)`, values as plain JSON text.
pub type Field = (String, String, String);

/// Every change of the plan: its address and fields.
pub fn changes(plan: &Plan) -> Vec<(String, Vec<Field>)> {
    plan.changes.iter().map(|c| (c.address.to_string(), fields(c))).collect()
}

/// `(path, before, after)` of each field, values as plain JSON text.
pub fn fields(c: &ResourceChange) -> Vec<Field> {
    let show = |v: &Option<Shown>| match v {
        None => "-".to_string(),
        Some(Shown::Value(v)) => v.to_string(),
        Some(Shown::Sensitive) => "(sensitive)".to_string(),
        Some(Shown::Unset(var)) => format!("(unset {var})"),
    };
    c.fields.iter().map(|f| (f.path.clone(), show(&f.before), show(&f.after))).collect()
}

/// Shorthand for `fields` expectations.
pub fn f(path: &str, before: &str, after: &str) -> Field {
    (path.to_string(), before.to_string(), after.to_string())
}

#[test]
fn a_converged_account_plans_nothing() {
    let plan = drift(|_, _| {});
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(plan.conflicts.is_empty() && plan.kept.is_empty() && plan.warnings.is_empty(), "{plan:#?}");
}

/// `down --delete-data`'s plan.
fn plan_with_data(d: &Desired, down: &Desired, o: &Observed) -> Plan {
    plan(&PlanContext { delete_data: true, ..ctx(d, Mode::Down) }, down, o)
}

#[test]
fn down_deletes_everything_but_the_data_it_keeps() {
    let d = desired();
    let o = converged(&d);
    let down = d.clone().without_resources();
    let plan = plan(&ctx(&d, Mode::Down), &down, &o);
    assert!(plan.changes.iter().all(|c| c.action == Action::Delete), "{:#?}", plan.changes);
    // 73 resources: the zone, the four secrets and the four log groups are kept; the records
    // (declared, untaggable) go.
    assert_eq!(plan.changes.len(), 64, "{:#?}", plan.changes.iter().map(|c| c.address.to_string()).collect::<Vec<_>>());
    let kept: Vec<String> = plan.kept.iter().map(|k| k.address.to_string()).collect();
    assert_eq!(kept.len(), 9, "{kept:?}");
    assert!(kept.contains(&"hosted_zone.containrlab.click".to_string()), "{kept:?}");
    assert!(kept.contains(&"log_group./ecs/containrlab-api".to_string()), "{kept:?}");
    // With --delete-data everything goes.
    let all = plan_with_data(&d, &down, &o);
    assert_eq!(all.changes.len(), 73, "{:#?}", all.changes.iter().map(|c| c.address.to_string()).collect::<Vec<_>>());
    assert!(all.kept.is_empty(), "{:?}", all.kept);
}

/// The plan of `up` into an empty account (the AMI parameter resolves, as it does there).
fn from_empty() -> Plan {
    let d = desired();
    let mut empty = Observed::default();
    empty.runner.amis = converged(&d).runner.amis;
    plan(&ctx(&d, Mode::Converge), &d, &empty)
}

/// Address edges (what a change waits for) come only from the kinds' `depends_on`, and each must
/// be one the kind graph allows — the graph the planner walks and `down` reverses. Same-kind
/// edges order resources of one kind (listener rules, one after another).
#[test]
fn every_address_edge_is_allowed_by_the_kind_graph() {
    let create_all = from_empty();
    assert_eq!(create_all.changes.len(), 73);
    let replaced = drift(|_, o| o.network.subnets.iter_mut().for_each(|s| s.fields.cidr = "10.9.0.0/24".into()));
    for c in create_all.changes.iter().chain(&replaced.changes) {
        for dep in &c.depends_on {
            let kind = c.address.kind;
            assert!(
                kind == dep.kind || kind.needs(dep.kind),
                "{} waits for {dep}, but {kind:?} does not depend on {:?} in the kind graph",
                c.address,
                dep.kind
            );
        }
    }
}

/// A Fargate task in a private subnet pulls its image through the NAT gateway: the service is
/// created only after its subnets' route table (the route to the NAT gateway) exists.
#[test]
fn a_service_in_private_subnets_waits_for_their_route_to_the_nat_gateway() {
    let create_all = from_empty();
    let service = create_all.changes.iter().find(|c| c.address.to_string() == "ecs_service.containrlab-service");
    let waits: Vec<String> = service.expect("planned").depends_on.iter().map(ToString::to_string).collect();
    assert!(waits.contains(&"route_table.private".to_string()), "{waits:?}");
    assert!(!waits.contains(&"route_table.public".to_string()), "{waits:?}");
}

/// The typed delta: each kind declares the paths its `fields` reports (`Resource::FIELDS`), and
/// those that force a replacement are among them. A path a plan shows that its kind does not
/// declare would reach an `update` that never asks for it. (Every planned change is also checked
/// as it is made, in debug builds: `contract::plan_kind`; an update that leaves a field of its
/// delta unread fails the step: `contract::run`.)
#[test]
fn every_field_a_plan_shows_is_declared_by_its_kind() {
    for &kind in crate::model::Kind::ALL {
        let (fields, replace_on) = crate::reconcile::registry::declared(kind);
        assert!(!fields.is_empty(), "{kind:?} declares no field");
        for p in replace_on {
            assert!(fields.contains(p), "{kind:?}: {p} forces a replacement but is not in FIELDS");
        }
    }
    let create_all = from_empty();
    let drifted = [
        drift(|_, o| o.network.subnets.iter_mut().for_each(|s| s.fields.cidr = "10.9.0.0/24".into())),
        drift(|_, o| {
            o.ecs.services.iter_mut().for_each(|s| s.tags.insert("Team".into(), "x".into()).map(drop).unwrap_or(()))
        }),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for c in create_all.changes.iter().chain(drifted.iter().flat_map(|p| &p.changes)) {
        let (declared, _) = crate::reconcile::registry::declared(c.address.kind);
        for f in &c.fields {
            assert!(declared.iter().any(|p| f.is(*p)), "{}: {} is not in its kind's FIELDS", c.address, f.path);
        }
        seen.insert(c.address.kind);
    }
    assert_eq!(seen.len(), crate::model::Kind::ALL.len(), "every kind planned from empty: {seen:?}");
}

/// The inventory (`Ids::new`, `adopt`) lists every declared resource of a kind with tags of its
/// own, by its address: a kind missing there could not be referenced by id or adopted.
#[test]
fn the_inventory_lists_every_declared_resource_that_carries_its_own_tags() {
    let d = desired();
    let mut o = converged(&d);
    let listed: std::collections::BTreeSet<crate::model::Address> =
        crate::reconcile::inventory::entries(&mut o).into_iter().map(|e| e.address).collect();
    let missing: Vec<String> = from_empty()
        .changes
        .iter()
        .filter(|c| crate::reconcile::registry::owned_through(c.address.kind).is_none())
        .filter(|c| !listed.contains(&c.address))
        .map(|c| c.address.to_string())
        .collect();
    assert!(missing.is_empty(), "declared, observed in the fixture, not in the inventory: {missing:?}");
    let ids = crate::reconcile::Ids::new(&converged(&d));
    for address in &listed {
        assert!(ids.get(address).is_ok(), "{address} has no id");
    }
}

/// `observe` reads `Group::ALL`: a kind whose group is missing there would never be read, and
/// every plan would create it again.
#[test]
fn every_kind_is_read_by_a_group_observe_reads() {
    for &kind in crate::model::Kind::ALL {
        let group = crate::reconcile::registry::group(kind);
        assert!(crate::reconcile::Group::ALL.contains(&group), "{kind:?}'s group {group:?} is not in Group::ALL");
    }
}
