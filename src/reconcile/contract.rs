//! The reconciler contract: each resource kind is one type implementing `Resource`, and two
//! generic functions do the rest — `plan_kind` (ownership, conflicts, kept data, replace-or-update,
//! the payload the step will need) and `run` (the only `match (action, desired, observed)` of the
//! program, the crash failpoint, NotFound on delete is done).
//!
//! Invariants: the planner decides *whether* to act; a kind only knows *how*. A step carries the
//! desired and observed values and the field delta the plan showed, so `update` acts on exactly
//! what the operator saw and never re-reads or re-derives it. Every path a kind's `fields`
//! reports is one of its typed `FIELDS` (checked as each change is planned, in debug builds), and
//! an `update` that leaves a field of its delta unread fails the step as a reconciler bug. Creates
//! return the new resource's id; a response without one is an error naming the field.

use std::fmt::Debug;

use anyhow::{bail, Result};

use crate::aws::Clients;
use crate::diff::{Delta, FieldChange, FieldDiff, Path, TAGS};
use crate::model::desired::Desired;
use crate::model::tags::Tags;
use crate::model::usage::{Footprint, Usage};
use crate::model::{Address, Kind};
use crate::plan::build::Mode;
use crate::plan::build::{diff_kind, ObservedResource, PlanContext, ServiceDiff};
use crate::plan::{Action, Conflict, Reason, Step};

use super::kit::Ids;
use super::registry::Registered;
use super::{Group, Observed, Plan, ResourceChange};

/// What planning a kind may look at: the run, the whole desired stack, everything observed, the
/// observed ids (to name references) and the plan so far (kinds this one depends on come first).
pub struct DiffCx<'a> {
    pub ctx: &'a PlanContext,
    pub desired: &'a Desired,
    pub observed: &'a Observed,
    pub ids: &'a Ids,
    pub plan: &'a Plan,
}

/// What carrying out a step may use.
pub struct ApplyCx<'a> {
    pub clients: &'a Clients,
    pub ctx: &'a PlanContext,
    /// Ids observed and created so far in this run.
    pub ids: &'a Ids,
}

impl ApplyCx<'_> {
    /// The full tag set of the resource at `address`.
    pub fn tags(&self, address: &Address) -> Tags {
        self.ctx.tags(address)
    }
}

/// A desired/observed pair as the plan found it: `None` desired on a delete, `None` observed on
/// a create.
#[derive(Debug, Clone)]
pub struct Pair<R: Resource> {
    pub desired: Option<R::Desired>,
    pub observed: Option<R::Observed>,
}

/// One resource kind: how it is compared and how each action is carried out.
#[allow(async_fn_in_trait)] // awaited in place by the executor, never spawned: no Send bound needed
pub trait Resource: Registered + Clone + Debug {
    const KIND: Kind;
    /// Every path `fields` may report; `update` handles each one that is not in `REPLACE_ON`
    /// (the runner refuses an update that leaves one unread).
    const FIELDS: &'static [Path];
    /// Fields whose change cannot be made in place: the resource is replaced.
    const REPLACE_ON: &'static [Path] = &[];
    /// The observation that reads this kind: what `up`'s verification reads again after a change.
    const GROUP: Group;
    /// Kinds that carry no tags of their own are owned through this kind (a listener through its
    /// load balancer): `adopt` follows it and tags nothing.
    const OWNED_THROUGH: Option<Kind> = None;

    type Desired: Clone + Debug;
    type Observed: ObservedResource + Clone + Debug;

    /// This kind's resources in the stack file.
    fn desired(cx: &DiffCx<'_>) -> Vec<Self::Desired>;
    /// This kind's resources found in AWS (this stack's, and namesakes of declared ones).
    fn observed(cx: &DiffCx<'_>) -> Vec<Self::Observed>;
    fn name(d: &Self::Desired) -> &str;
    /// The differences, normalised; `o` is `None` on create (list what will be set).
    fn fields(cx: &DiffCx<'_>, d: &Self::Desired, o: Option<&Self::Observed>, tags: &Tags) -> FieldDiff;
    /// What must exist first (addresses of the stack file).
    fn depends_on(_cx: &DiffCx<'_>, _d: &Self::Desired) -> Vec<Address> {
        Vec::new()
    }
    /// Whether these differences open access wider (risky for `diff --exit-code`).
    fn widens_access(_fields: &[FieldChange]) -> bool {
        false
    }
    /// Why an update is planned, when the kind says more than "differs from the stack file".
    fn update_reason(_fields: &[FieldChange]) -> Option<Reason> {
        None
    }
    /// What the declared resource `name` uses, in the terms prices are quoted in (`cost`):
    /// `Usage::free()` when nothing of it is charged, `None` when `desired` does not declare it.
    /// No default: a new kind says what it costs (and the price file gives the kind its lines).
    fn usage(desired: &Desired, name: &str) -> Option<Usage>;
    /// What a resource this plan deletes used, from what AWS reported of it; `None` when that is
    /// not known (`cost` lists it as not priced). By default what `usage` says without the
    /// resource declared — right for every kind whose use does not depend on the stack file.
    fn usage_removed(desired: &Desired, name: &str, _pair: &Pair<Self>, _plan: &Plan) -> Option<Usage> {
        Self::usage(desired, name)
    }
    /// Sets `before` back to what was used before this update, from the change's `before`
    /// values: this resource's usage, or the one its fields size (a launch template sizes its
    /// group's instances). By default nothing: no field of the kind changes a price.
    fn usage_before(_change: &ResourceChange, _before: &mut Footprint) {}

    /// Plans this kind's changes into `out` (`cx.plan` holds those of the kinds planned before);
    /// kinds whose planning is special override it.
    fn plan(cx: &DiffCx<'_>, out: &mut Plan) {
        plan_kind::<Self>(cx, out)
    }

    /// Creates the resource and returns its AWS id. `replacing` is the old one while a
    /// create-before-destroy replacement makes its successor.
    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Self::Desired,
        replacing: Option<&Self::Observed>,
    ) -> Result<String>;
    /// Waits until a resource just created (or replaced) is usable; most kinds are at once. Apart
    /// from `create` so a crash test can stop right after the create call (the failpoint).
    async fn ready(_cx: &ApplyCx<'_>, _address: &Address, _d: &Self::Desired, _id: &str) -> Result<()> {
        Ok(())
    }
    /// Changes what `delta` lists (the fields the plan showed, tags aside) in place, asking
    /// `delta` about every field it acts on.
    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Self::Desired,
        o: &Self::Observed,
        delta: &Delta<'_>,
    ) -> Result<()>;
    /// Sets the tags of the resource `id` from `have` to `want` with its service's tagging calls
    /// (`reconcile::tags`). The runner calls it for a change of `TAGS` (so `update` never sees
    /// tags); `adopt` calls it with `have` empty to add the ownership tags. A kind owned through
    /// another answers with `untagged`.
    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()>;
    /// The id of an observed resource that `tag` is given.
    fn tag_id(o: &Self::Observed) -> &str;
    /// The tags the resource carries: the stack's (`tags`), unless the kind adds its own.
    fn desired_tags(tags: Tags, _d: &Self::Desired) -> Tags {
        tags
    }
    /// Deletes it; an AWS NotFound counts as done.
    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Self::Observed) -> Result<()>;
    /// Delete then create, unless the kind knows better.
    async fn replace(cx: &ApplyCx<'_>, address: &Address, d: &Self::Desired, o: &Self::Observed) -> Result<String> {
        gone_is_done(Self::delete(cx, address, o).await)?;
        Self::create(cx, address, d, None).await
    }
}

/// The generic planning of a kind: match desired to observed by name, sort out ownership, diff,
/// and attach to every change the pair its step will carry out.
pub fn plan_kind<R: Resource>(cx: &DiffCx<'_>, out: &mut Plan) {
    let desired = R::desired(cx);
    let (observed, duplicates) = sort_out_duplicates::<R>(cx, out);
    let fields = |d: &R::Desired, o: Option<&R::Observed>, tags: &Tags| R::fields(cx, d, o, tags);
    let depends_on = |d: &R::Desired| R::depends_on(cx, d);
    let payload = |name: &str, action: Action, o: Option<&R::Observed>| {
        R::payload(Pair {
            desired: desired.iter().find(|d| R::name(d) == name).filter(|_| action != Action::Delete).cloned(),
            observed: o.cloned(),
        })
    };
    for (dup, kept) in duplicates {
        let address = Address::new(R::KIND, dup.name());
        let reason = Reason::DuplicateOf(dup.id().unwrap_or_default().to_string(), kept);
        let payload = R::payload(Pair { desired: None, observed: Some(dup) });
        out.changes.push(ResourceChange::new(address, Action::Delete, reason, Vec::new(), payload));
    }
    let spec = ServiceDiff {
        kind: R::KIND,
        desired_name: |d: &R::Desired| R::name(d),
        fields: &fields,
        replace_on: R::REPLACE_ON,
        depends_on: &depends_on,
        payload: &payload,
    };
    let start = out.changes.len();
    diff_kind(cx.ctx, spec, &desired, &observed, out);
    for c in &mut out.changes[start..] {
        debug_assert!(
            undeclared::<R>(&c.fields).is_empty(),
            "{}: undeclared {:?}",
            c.address,
            undeclared::<R>(&c.fields)
        );
        c.widens_access |= R::widens_access(&c.fields);
        if c.action == Action::Update && c.reason == Reason::Drifted {
            c.reason = R::update_reason(&c.fields).unwrap_or(Reason::Drifted);
        }
    }
}

/// The paths of `fields` that `R::FIELDS` does not declare (a reconciler bug).
pub fn undeclared<R: Resource>(fields: &[FieldChange]) -> Vec<&str> {
    fields.iter().filter(|f| !R::FIELDS.iter().any(|p| f.is(*p))).map(|f| f.path.as_str()).collect()
}

/// Observed resources to plan with, and duplicates with the id kept in their place.
type Sorted<R> = (Vec<<R as Resource>::Observed>, Vec<(<R as Resource>::Observed, String)>);

/// This kind's observed resources without the duplicates `reconcile::duplicates` found, and those
/// with the id kept in their place; an address use could not decide is a conflict (except for
/// `down`, which deletes every resource carrying it).
fn sort_out_duplicates<R: Resource>(cx: &DiffCx<'_>, out: &mut Plan) -> Sorted<R> {
    let found = &cx.observed.duplicates;
    let (mut observed, mut duplicates) = (Vec::new(), Vec::new());
    for o in R::observed(cx) {
        match o.id().and_then(|id| found.kept_instead_of(R::KIND, id)) {
            Some(kept) => duplicates.push((o.clone(), kept.to_string())),
            None => observed.push(o),
        }
    }
    if cx.ctx.mode != Mode::Down {
        for (address, ids) in found.undecided.iter().filter(|(a, _)| a.kind == R::KIND) {
            out.conflicts.push(Conflict {
                address: address.clone(),
                problem: format!(
                    "is carried by {} resources ({}) and their use does not tell which one is the stack's",
                    ids.len(),
                    ids.join(", ")
                ),
                fix: "delete the ones that should not exist (or remove their containrlab:address tag), then run again"
                    .into(),
            });
        }
    }
    (observed, duplicates)
}

/// The one place a step becomes a call to its kind: which function, with which values.
pub async fn run<R: Resource>(cx: &ApplyCx<'_>, step: &Step, pair: &Pair<R>, delta: &[FieldChange]) -> Result<()> {
    let address = &step.address;
    match (step.action, &pair.desired, &pair.observed) {
        (Action::Create, Some(d), replacing) => {
            let id = R::create(cx, address, d, replacing.as_ref()).await?;
            cx.ids.set(address, &id);
            crate::failpoint::hit(address, crate::failpoint::CREATED);
            R::ready(cx, address, d, &id).await?;
        }
        (Action::Replace, Some(d), Some(o)) => {
            let id = R::replace(cx, address, d, o).await?;
            cx.ids.set(address, &id);
            crate::failpoint::hit(address, crate::failpoint::CREATED);
            R::ready(cx, address, d, &id).await?;
        }
        (Action::Update, Some(d), Some(o)) => {
            // The tags are the runner's (through the kind's `tag`); `update` gets the rest.
            let own_tags = R::FIELDS.contains(&TAGS);
            let (tags, rest): (Vec<FieldChange>, Vec<FieldChange>) =
                delta.iter().cloned().partition(|f| own_tags && f.is(TAGS));
            if !tags.is_empty() {
                let want = R::desired_tags(cx.tags(address), d);
                R::tag(cx.clients, address, R::tag_id(o), o.tags(), &want).await?;
            }
            if !rest.is_empty() {
                let delta = Delta::new(&rest);
                R::update(cx, address, d, o, &delta).await?;
                let unread = delta.unread();
                if !unread.is_empty() {
                    bail!("{address}: the update left {} unapplied (a reconciler bug: `update` must act on every field it is given)", unread.join(", "));
                }
            }
        }
        (Action::Delete, _, Some(o)) => gone_is_done(R::delete(cx, address, o).await)?,
        (action, d, o) => bail!(
            "{address}: the plan asks to {action:?} with {} desired and {} observed state (a planner bug)",
            if d.is_some() { "a" } else { "no" },
            if o.is_some() { "an" } else { "no" }
        ),
    }
    Ok(())
}

/// The answer of `tag` for a kind owned through another: it has no tags to set.
pub fn untagged(address: &Address) -> Result<()> {
    bail!("{address} is owned through the resource it belongs to and is never tagged (a caller's bug)")
}

/// NotFound on a delete: it is gone, which is what was asked.
pub fn gone_is_done(result: Result<()>) -> Result<()> {
    match result {
        Err(e) if crate::aws::error::is_gone(&e) => Ok(()),
        other => other,
    }
}
