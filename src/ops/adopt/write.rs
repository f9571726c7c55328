//! Writing the ownership tags on adopted resources, each through its own service's tagging call
//! (its kind's `Resource::tag`, which the runner uses for a change of tags too), several at a time.
//!
//! Invariants: only the three ownership tags are written and no tag is removed (the resource's
//! own tags are compared, and repaired, by the next `up` like any drift). Every resource is
//! attempted; the failures are reported together, and a second `adopt` finishes the rest.

use anyhow::{bail, Result};

use super::{ownership_tags, Found};
use crate::aws::Clients;
use crate::model::tags::Tags;
use crate::model::Address;

/// Tags every adopted resource; returns how many tagging calls were sent.
pub async fn write(clients: &Clients, stack: &str, adopt: &[Found]) -> Result<usize> {
    let work: Vec<(&Address, &str)> =
        adopt.iter().flat_map(|f| f.ids.iter().map(move |id| (&f.address, id.as_str()))).collect();
    // The claims are not in the tagging API's answers at once: later reads ask each service.
    crate::reconcile::tag_index::distrust();
    let results = crate::aws::concurrent(work.iter().copied(), 8, |(address, id)| async move {
        tag(clients, address, id, &ownership_tags(stack, address)).await.map_err(|e| format!("{address}: {e:#}"))
    })
    .await;
    let failed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if !failed.is_empty() {
        bail!(
            "{} of {} resource(s) could not be tagged (the others were; run adopt again to finish):\n  {}",
            failed.len(),
            work.len(),
            failed.join("\n  ")
        );
    }
    Ok(work.len())
}

/// Adds `tags` to one resource with its kind's own tagging (nothing is removed: `have` is empty).
async fn tag(clients: &Clients, address: &Address, id: &str, tags: &Tags) -> Result<()> {
    crate::reconcile::registry::tag(address.kind, clients, address, id, &Tags::new(), tags).await
}
