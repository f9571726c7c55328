//! What every reconciler shares: the shape of an observed resource, AWS ids by address, the
//! Resource Groups Tagging API query for "everything of this stack", and how a plan names what a
//! resource refers to.
//!
//! Invariants: an observed resource is named by its stack-file name (never its AWS id); a
//! reference to a resource this plan (re)creates is shown as `(replaced)`, one to nothing of this
//! stack is marked foreign.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use anyhow::Result;

use crate::model::tags::Tags;
use crate::model::{Address, Kind};
use crate::plan::build::ObservedResource;
use crate::plan::Action;
use crate::reconcile::Plan;

/// Requests in flight per service during observation.
pub const CONCURRENCY: usize = 8;

/// One observed resource: its name (from the address tag, or its AWS name), id, tags and
/// normalised fields.
#[derive(Debug, Clone)]
pub struct Observed<F> {
    pub name: String,
    pub id: String,
    pub tags: Tags,
    pub fields: F,
}

impl<F> ObservedResource for Observed<F> {
    fn name(&self) -> &str {
        &self.name
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn id(&self) -> Option<&str> {
        Some(&self.id)
    }
}

/// AWS ids by address: those observed, plus those created during this run (a subnet's create
/// needs the id of the VPC created a moment before).
#[derive(Debug, Default)]
pub struct Ids(Mutex<BTreeMap<Address, String>>);

impl Ids {
    pub fn from_map(ids: BTreeMap<Address, String>) -> Ids {
        Ids(Mutex::new(ids))
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<Address, String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, address: &Address) -> Result<String> {
        self.map()
            .get(address)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("{address} has no AWS id: it was neither found nor created in this run"))
    }

    pub fn set(&self, address: &Address, id: &str) {
        self.map().insert(address.clone(), id.to_string());
    }

    /// AWS id → name, for one kind.
    pub fn names(&self, kind: Kind) -> BTreeMap<String, String> {
        self.map().iter().filter(|(a, _)| a.kind == kind).map(|(a, id)| (id.clone(), a.name.clone())).collect()
    }
}

/// Names of resources of `kind` about to be created or replaced: references to them must be rewritten.
pub fn renewed(plan: &Plan, kind: Kind) -> BTreeSet<String> {
    plan.changes
        .iter()
        .filter(|c| c.address.kind == kind && matches!(c.action, Action::Create | Action::Replace))
        .map(|c| c.address.name.clone())
        .collect()
}

/// Referenced ids as the plan shows them: by name, marked `(replaced)` when this plan replaces
/// that resource (so the reference must move to the new one), or marked as foreign when no
/// resource of the stack has it (it was deleted, or is not ours).
pub fn referenced_names(
    ids: &BTreeSet<String>,
    names: &BTreeMap<String, String>,
    renewed: &BTreeSet<String>,
) -> BTreeSet<String> {
    ids.iter()
        .map(|id| match names.get(id) {
            Some(name) if renewed.contains(name) => format!("{name} (replaced)"),
            Some(name) => name.clone(),
            None => crate::diff::foreign(id),
        })
        .collect()
}

/// The tags of each ARN, read with the service's own call (`read`, a few at a time): for what
/// the eventually consistent tagging API did not list.
pub async fn tags_of<F, Fut>(arns: Vec<String>, read: F) -> Result<Vec<(String, Tags)>>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Tags>>,
{
    let read = &read;
    crate::aws::concurrent(arns, CONCURRENCY, |arn| async move {
        let tags = read(arn.clone()).await?;
        Ok((arn, tags))
    })
    .await
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_named_marked_replaced_or_foreign() {
        let ids: BTreeSet<String> = ["sg-1", "sg-2", "sg-9"].iter().map(|s| s.to_string()).collect();
        let names: BTreeMap<String, String> =
            [("sg-1", "alb-sg"), ("sg-2", "runner-sg")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let renewed: BTreeSet<String> = ["runner-sg".to_string()].into();
        let shown: Vec<String> = referenced_names(&ids, &names, &renewed).into_iter().collect();
        assert_eq!(shown, vec!["alb-sg", "runner-sg (replaced)", "sg-9 (not in this stack)"]);
    }
}
