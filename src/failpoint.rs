//! A test-only crash switch: `CONTAINRLAB_FAILPOINT=<address>` ends the process at once, without
//! cleanup, right after that resource's create call returned — to prove the next run finishes the
//! job without duplicates. Unset in normal use; checked only at the few points that call `hit`.

use crate::model::Address;

pub fn hit(address: &Address, point: &str) {
    if std::env::var("CONTAINRLAB_FAILPOINT").is_ok_and(|v| v == address.to_string()) {
        eprintln!("failpoint: {address} {point}; aborting as asked by CONTAINRLAB_FAILPOINT");
        std::process::abort();
    }
}
