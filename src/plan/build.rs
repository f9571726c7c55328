//! The plan builder shared by `diff`, `up` and `down`: matches desired resources to observed ones
//! by name, sorts out ownership, and asks each service for its field differences.
//!
//! Invariants: a resource not owned by this stack is never changed or deleted (it becomes a
//! `Conflict`); an owned resource that holds data is `Kept` by `down` unless data deletion was asked.

use crate::diff::{FieldDiff, Path};
use crate::model::tags::{owner, Owner, Tags};
use crate::model::{Address, Kind};

use super::{Action, Conflict, Kept, Plan, Reason, ResourceChange};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Make AWS match the stack file (`diff`, `up`).
    Converge,
    /// Remove everything the stack owns (`down`).
    Down,
}

/// What the plan builder needs to know about the run.
#[derive(Debug, Clone)]
pub struct PlanContext {
    pub stack: String,
    pub stack_tags: Tags,
    pub mode: Mode,
    /// `down --delete-data` (or `up` removing a resource that holds data).
    pub delete_data: bool,
    /// The account and region, once read (policy documents and ARNs need them).
    pub account: String,
    pub region: String,
    /// `--image-tag` / `CONTAINRLAB_IMAGE_TAG`; `None` keeps the tag each service runs.
    pub image_tag: Option<String>,
}

impl PlanContext {
    /// The full tag set of the resource at `address`: the stack's tags plus ownership.
    pub fn tags(&self, address: &Address) -> Tags {
        crate::model::tags::desired_tags(&self.stack, &self.stack_tags, address)
    }
}

/// What an observed resource must expose for the generic matching.
pub trait ObservedResource {
    fn name(&self) -> &str;
    fn tags(&self) -> &Tags;
    /// `Some(why)` when deleting it would destroy data.
    fn holds_data(&self) -> Option<String> {
        None
    }
    /// Proof besides the tags that `stack` made it: a creation token only this stack uses (a
    /// hosted zone's CallerReference), for a resource a crash left untagged.
    fn made_by(&self, _stack: &str) -> bool {
        false
    }
    /// Its AWS id, for kinds whose addresses can be carried twice (`reconcile::duplicates`).
    fn id(&self) -> Option<&str> {
        None
    }
}

/// Who owns `o`: its tags say, or, when it has none of ours or another stack's, its proof of origin.
pub fn ownership<O: ObservedResource>(stack: &str, o: &O) -> Owner {
    match owner(stack, o.tags()) {
        Owner::Unmanaged if o.made_by(stack) => Owner::ThisStack,
        other => other,
    }
}

/// How one service compares a desired resource with its observed counterpart.
pub struct ServiceDiff<'a, D, O, P> {
    pub kind: Kind,
    pub desired_name: fn(&D) -> &str,
    /// Field differences; `observed` is `None` on create (list every desired field).
    pub fields: &'a dyn Fn(&D, Option<&O>, &Tags) -> FieldDiff,
    /// Fields that force a replacement when they differ.
    pub replace_on: &'a [Path],
    /// What a desired resource needs to exist first.
    pub depends_on: &'a dyn Fn(&D) -> Vec<Address>,
    /// The payload of a change (the values its step will need): from the name, the action and
    /// the observed resource it acts on (none on create).
    pub payload: &'a dyn Fn(&str, Action, Option<&O>) -> P,
}

/// Diffs one resource kind and appends the result to `plan`.
pub fn diff_kind<D, O: ObservedResource, P>(
    ctx: &PlanContext,
    spec: ServiceDiff<'_, D, O, P>,
    desired: &[D],
    observed: &[O],
    plan: &mut Plan<P>,
) {
    // Two resources claiming one address are sorted out by evidence before this
    // (`reconcile::duplicates`); one still here is reported, never guessed at.
    let mut seen = std::collections::BTreeSet::new();
    for o in observed.iter().filter(|o| ownership(&ctx.stack, *o) == Owner::ThisStack) {
        if !seen.insert(o.name()) && ctx.mode != Mode::Down {
            let address = Address::new(spec.kind, o.name());
            plan.warnings.push(format!(
                "more than one resource carries the address {address}; the first found is used, delete the other by hand"
            ));
        }
    }
    let desired: &[D] = if ctx.mode == Mode::Down { &[] } else { desired };
    for d in desired {
        let name = (spec.desired_name)(d);
        let address = Address::new(spec.kind, name);
        let tags = crate::model::tags::desired_tags(&ctx.stack, &ctx.stack_tags, &address);
        let existing = observed.iter().find(|o| o.name() == name);
        match existing.map(|o| (o, ownership(&ctx.stack, o))) {
            None => {
                let fields = (spec.fields)(d, None, &tags).changes;
                let mut c = change(&spec, address, Action::Create, Reason::Missing, fields, None);
                c.depends_on = (spec.depends_on)(d);
                plan.changes.push(c);
            }
            Some((o, Owner::ThisStack)) => {
                let fields = (spec.fields)(d, Some(o), &tags).changes;
                if fields.is_empty() {
                    continue;
                }
                let forced: Vec<String> = fields
                    .iter()
                    .filter(|f| spec.replace_on.iter().any(|p| f.is(*p)))
                    .map(|f| f.path.clone())
                    .collect();
                let (action, reason) = if forced.is_empty() {
                    (Action::Update, Reason::Drifted)
                } else {
                    (Action::Replace, Reason::CannotUpdateInPlace(forced))
                };
                let mut c = change(&spec, address, action, reason, fields, Some(o));
                c.depends_on = (spec.depends_on)(d);
                plan.changes.push(c);
            }
            Some((_, other)) => plan.conflicts.push(conflict(&ctx.stack, address, other)),
        }
    }
    for o in observed {
        if ownership(&ctx.stack, o) != Owner::ThisStack || desired.iter().any(|d| (spec.desired_name)(d) == o.name()) {
            continue;
        }
        let address = Address::new(spec.kind, o.name());
        match o.holds_data() {
            Some(why) if !ctx.delete_data => plan.kept.push(Kept { address, why }),
            _ => {
                let reason = if ctx.mode == Mode::Down { Reason::StackDown } else { Reason::RemovedFromStack };
                plan.changes.push(change(&spec, address, Action::Delete, reason, Vec::new(), Some(o)));
            }
        }
    }
}

fn change<D, O, P>(
    spec: &ServiceDiff<'_, D, O, P>,
    address: Address,
    action: Action,
    reason: Reason,
    fields: Vec<crate::diff::FieldChange>,
    observed: Option<&O>,
) -> ResourceChange<P> {
    let payload = (spec.payload)(&address.name, action, observed);
    ResourceChange::new(address, action, reason, fields, payload)
}

/// A resource the stack file names that this stack does not own, with the fix.
pub fn conflict(stack: &str, address: Address, owner: Owner) -> Conflict {
    let (problem, fix) = match owner {
        // `adopt` refuses another stack's resource: it is not this one's to take.
        Owner::OtherStack(other) => (
            format!("exists and belongs to stack `{other}`"),
            format!("rename it in the stack file (or remove it from stack `{other}` first)"),
        ),
        _ => (
            "exists but carries no containrlab ownership tags".to_string(),
            format!(
                "rename it in the stack file, or take it over with `containrlab adopt` (it writes ManagedBy=containrlab, containrlab:stack={stack}, containrlab:address={address})"
            ),
        ),
    };
    Conflict { address, problem, fix }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tags::desired_tags;

    struct Obs {
        name: String,
        tags: Tags,
        value: u32,
        data: bool,
    }
    impl ObservedResource for Obs {
        fn name(&self) -> &str {
            &self.name
        }
        fn tags(&self) -> &Tags {
            &self.tags
        }
        fn holds_data(&self) -> Option<String> {
            self.data.then(|| "holds data".to_string())
        }
    }

    fn ctx(mode: Mode) -> PlanContext {
        PlanContext {
            stack: "s".into(),
            stack_tags: Tags::new(),
            mode,
            delete_data: false,
            account: "1".into(),
            region: "r".into(),
            image_tag: None,
        }
    }

    fn obs(name: &str, owned: bool, value: u32, data: bool) -> Obs {
        let tags =
            if owned { desired_tags("s", &Tags::new(), &Address::new(Kind::LogGroup, name)) } else { Tags::new() };
        Obs { name: name.into(), tags, value, data }
    }

    fn run(mode: Mode, desired: &[(&str, u32)], observed: &[Obs]) -> Plan<()> {
        let fields = |d: &(&str, u32), o: Option<&Obs>, tags: &Tags| {
            let mut f = FieldDiff::default();
            f.field("value", o.map(|o| Some(o.value)), Some(d.1));
            f.tags(o.map(|o| &o.tags), tags);
            f
        };
        let spec = ServiceDiff {
            kind: Kind::LogGroup,
            desired_name: |d: &(&str, u32)| d.0,
            fields: &fields,
            replace_on: &[Path::field("value")],
            depends_on: &|_| vec![],
            payload: &|_, _, _| (),
        };
        let mut plan = Plan::default();
        diff_kind(&ctx(mode), spec, desired, observed, &mut plan);
        plan
    }

    #[test]
    fn missing_is_created_equal_is_left_alone_changed_is_replaced_per_replace_on() {
        let plan =
            run(Mode::Converge, &[("a", 1), ("b", 2), ("c", 3)], &[obs("b", true, 2, false), obs("c", true, 9, false)]);
        let actions: Vec<_> = plan.changes.iter().map(|c| (c.address.name.as_str(), c.action)).collect();
        assert_eq!(actions, vec![("a", Action::Create), ("c", Action::Replace)]);
        assert_eq!(plan.changes[1].reason, Reason::CannotUpdateInPlace(vec!["value".into()]));
    }

    #[test]
    fn unowned_namesakes_are_conflicts_and_never_deleted() {
        let plan = run(Mode::Converge, &[("a", 1)], &[obs("a", false, 1, false), obs("x", false, 1, false)]);
        assert!(plan.changes.is_empty());
        assert_eq!(plan.conflicts.len(), 1);
        assert_eq!(plan.conflicts[0].address.name, "a");
    }

    #[test]
    fn down_deletes_owned_and_keeps_data() {
        let plan = run(
            Mode::Down,
            &[("a", 1), ("b", 1)],
            &[obs("a", true, 1, false), obs("b", true, 1, true), obs("u", false, 1, false)],
        );
        let actions: Vec<_> = plan.changes.iter().map(|c| (c.address.name.as_str(), c.action)).collect();
        assert_eq!(actions, vec![("a", Action::Delete)]);
        assert_eq!(plan.kept.len(), 1);
        assert_eq!(plan.kept[0].address.name, "b");
    }

    #[test]
    fn two_resources_with_one_address_are_reported() {
        let plan = run(Mode::Converge, &[("a", 1)], &[obs("a", true, 1, false), obs("a", true, 1, false)]);
        assert!(plan.changes.is_empty());
        assert_eq!(plan.warnings, vec!["more than one resource carries the address log_group.a; the first found is used, delete the other by hand"]);
    }

    #[test]
    fn owned_but_no_longer_declared_is_deleted_on_converge() {
        let plan = run(Mode::Converge, &[], &[obs("gone", true, 1, false)]);
        assert_eq!(plan.changes[0].action, Action::Delete);
        assert_eq!(plan.changes[0].reason, Reason::RemovedFromStack);
    }
}
