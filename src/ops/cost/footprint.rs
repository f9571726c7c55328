//! The stack file's footprint: what each of its resources uses, as its kind says
//! (`Resource::usage`, through the registry).
//!
//! Invariant: one entry per address of the stack (the addresses `up` would create, from
//! `graph::plan_from_empty`), so a resource can be neither priced twice nor left out.

use anyhow::Result;

use crate::model::desired::Desired;
pub use crate::model::usage::{Footprint, Usage};
use crate::reconcile::registry;

impl Footprint {
    pub fn of(desired: &Desired, region: &str) -> Result<Footprint> {
        let plan = crate::ops::graph::plan_from_empty(desired, region)?;
        let items = plan
            .changes
            .iter()
            .map(|c| {
                let usage = registry::usage(c.address.kind, desired, &c.address.name);
                (c.address.clone(), usage.unwrap_or_else(|| Usage::Free("not declared".into())))
            })
            .collect();
        Ok(Footprint { items })
    }
}
