//! A test-only crash switch: `CONTAINRLAB_FAILPOINT=<address>` ends the process at once, without
//! cleanup, right after that resource's create call returned — to prove the next run finishes the
//! job without duplicates. Unset in normal use; checked by the generic step runner after every
//! create. It writes to stderr itself (not through the progress view): the process aborts at once.

use crate::model::Address;

pub fn hit(address: &Address, point: &str) {
    if std::env::var("CONTAINRLAB_FAILPOINT").is_ok_and(|v| v == address.to_string()) {
        eprintln!("failpoint: {address} {point}; aborting as asked by CONTAINRLAB_FAILPOINT");
        std::process::abort();
    }
}
