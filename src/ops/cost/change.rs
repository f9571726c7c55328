//! The monthly cost change of a plan: the stack file's footprint (after) against the footprint AWS
//! has now (before), which is the stack file's with the plan undone — what it creates taken out,
//! what it deletes put back from what AWS reported, what it updates set back to the field's
//! `before` value — each by its kind (`Resource::usage_removed`, `usage_before`). Only what a
//! plan shows is used, so the figure matches the plan line for line.
//!
//! Invariant: a resource the plan does not touch costs the same before and after; a removed
//! resource whose size AWS did not report is listed as not priced rather than counted as zero.

use anyhow::Result;

use super::footprint::Footprint;
use super::{Estimate, Line, Prices};
use crate::model::desired::Desired;
use crate::model::Address;
use crate::plan::{Action, Reason};
use crate::reconcile::{registry, Plan};

/// Before and after of the resources a plan changes.
#[derive(Debug)]
pub struct CostChange {
    pub before: f64,
    pub after: f64,
    /// Lines that differ: `(before, after)`, either absent when the resource is created or deleted.
    pub lines: Vec<(Option<Line>, Option<Line>)>,
    /// Removed resources whose cost could not be read from the plan.
    pub not_priced: Vec<Address>,
    /// The plan was narrowed by `--target`: `before`/`after` then count the untargeted changes as
    /// done, so only the difference (the targeted changes' cost) is meaningful.
    pub targeted: bool,
}

impl CostChange {
    pub fn delta(&self) -> f64 {
        self.after - self.before
    }
}

/// The cost change of `plan` (a converge plan) for the stack file's `after` footprint.
pub fn of_plan(prices: &Prices, region: &str, desired: &Desired, after: &Footprint, plan: &Plan) -> Result<CostChange> {
    let (before, not_priced) = undo(desired, after, plan);
    let (b, a) = (prices.estimate(region, &before)?, prices.estimate(region, after)?);
    Ok(CostChange { before: b.total(), after: a.total(), lines: differing(&b, &a), not_priced, targeted: false })
}

fn differing(before: &Estimate, after: &Estimate) -> Vec<(Option<Line>, Option<Line>)> {
    let key = |l: &Line| (l.address.clone(), l.item.clone());
    let mut out: Vec<(Option<Line>, Option<Line>)> = Vec::new();
    for b in &before.lines {
        let a = after.lines.iter().find(|a| key(a) == key(b));
        if a.is_none_or(|a| a.monthly != b.monthly || a.what != b.what) {
            out.push((Some(b.clone()), a.cloned()));
        }
    }
    for a in after.lines.iter().filter(|a| !before.lines.iter().any(|b| key(b) == key(a))) {
        out.push((None, Some(a.clone())));
    }
    out.retain(|(b, a)| b.as_ref().map_or(0.0, |l| l.monthly) != a.as_ref().map_or(0.0, |l| l.monthly));
    out
}

/// The footprint before `plan` runs, and the removed resources it could not size.
fn undo(desired: &Desired, after: &Footprint, plan: &Plan) -> (Footprint, Vec<Address>) {
    let mut before = after.clone();
    let mut not_priced = Vec::new();
    for c in &plan.changes {
        match c.action {
            Action::Create => {
                before.items.remove(&c.address);
            }
            Action::Delete if c.reason == Reason::RemovedFromStack && !before.items.contains_key(&c.address) => {
                match c.payload.usage_removed(desired, &c.address.name, plan) {
                    Some(u) => {
                        before.items.insert(c.address.clone(), u);
                    }
                    None => not_priced.push(c.address.clone()),
                }
            }
            Action::Delete => {}
            Action::Update | Action::Replace => registry::usage_before(c, &mut before),
        }
    }
    (before, not_priced)
}
