//! A test-only crash switch: `CONTAINRLAB_FAILPOINT=<address>` ends the process at once, without
//! cleanup, right after that resource's create call returned; `<address>@<point>` at another
//! named point of its create (`hosted_zone.NAME@untagged`: created, not yet tagged) — to prove the
//! next run finishes the job without duplicates. Unset in normal use; checked by the generic step
//! runner after every create. It writes to stderr itself (not through the progress view): the
//! process aborts at once.

use crate::model::Address;

/// The point right after a create call returned (the one `<address>` alone names).
pub const CREATED: &str = "created";

pub fn hit(address: &Address, point: &str) {
    let Ok(wanted) = std::env::var("CONTAINRLAB_FAILPOINT") else { return };
    let here = address.to_string();
    if (point == CREATED && wanted == here) || wanted == format!("{here}@{point}") {
        eprintln!("failpoint: {address} {point}; aborting as asked by CONTAINRLAB_FAILPOINT");
        std::process::abort();
    }
}
