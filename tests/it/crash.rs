//! A crash right after any create never leaves a duplicate: for every address the checked-in
//! stack's first `up` creates, the process is aborted right after that resource's create call
//! (`CONTAINRLAB_FAILPOINT`, hit by the generic step runner for every kind), then `up` runs again
//! and must converge with exactly the resources a clean `up` makes, counted per resource type.
//! Four tests share the addresses so they run side by side, each on emulators of its own.
//!
//! The crashing run applies one step at a time (`--parallelism 1`), so the crash is exactly
//! "right after that create": with steps in parallel, another create can still be on its way to
//! the emulator when the process dies, and land after the next run has looked — a lost create
//! answer, which is another failure (it duplicated the ACM certificate here once) and is not what
//! this test proves.

use crate::round_trip::owned_leftovers;
use crate::support::{actions, Env};

const PARTS: usize = 4;

/// What a clean `up` leaves, per resource type, sorted.
pub fn clean_inventory() -> Vec<String> {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    let mut found = owned_leftovers(&env);
    found.sort();
    found
}

fn crash_after_each_create(part: usize) {
    let planning = Env::new();
    let plan = planning.run(&["--json", "diff"]).json();
    let addresses: Vec<String> = actions(&plan).into_iter().map(|(address, _)| address).collect();
    assert_eq!(addresses.len(), 73, "the checked-in stack's plan: {addresses:?}");
    let clean = clean_inventory();
    for address in addresses.iter().skip(part).step_by(PARTS) {
        let env = Env::new();
        let crashed = env.run_with(
            &env.moto.endpoint,
            &[("CONTAINRLAB_FAILPOINT", address)],
            &["up", "--yes", "--parallelism", "1"],
        );
        assert_ne!(crashed.code, 0, "{address}: the run did not stop\n{}", crashed.stderr);
        assert!(
            crashed.stderr.contains(&format!("failpoint: {address} created")),
            "{address}: the failpoint was not hit\n{}",
            crashed.stderr
        );
        let again = env.run(&["--json", "up", "--yes"]);
        again.expect_code(0);
        assert_eq!(again.json()["converged"], true, "{address}: {}", again.stdout);
        let mut found = owned_leftovers(&env);
        found.sort();
        assert_eq!(found, clean, "{address}: the resources after the crash and a second up");
    }
}

#[test]
fn a_crash_after_any_create_part_1() {
    crash_after_each_create(0);
}

#[test]
fn a_crash_after_any_create_part_2() {
    crash_after_each_create(1);
}

#[test]
fn a_crash_after_any_create_part_3() {
    crash_after_each_create(2);
}

#[test]
fn a_crash_after_any_create_part_4() {
    crash_after_each_create(3);
}

/// Route 53 takes no tags at create: a crash in between leaves an untagged zone, which is still
/// this stack's by its CallerReference — the next `up` tags it (same zone), `down --delete-data`
/// deletes it.
#[test]
fn a_crash_between_creating_and_tagging_the_zone_leaves_it_ours() {
    let env = Env::new();
    let point = "hosted_zone.containrlab.click@untagged";
    let crashed = env.run_with(&env.moto.endpoint, &[("CONTAINRLAB_FAILPOINT", point)], &["up", "--yes"]);
    assert!(crashed.stderr.contains("failpoint: hosted_zone.containrlab.click untagged"), "{}", crashed.stderr);
    let r53 = aws_sdk_route53::Client::new(&env.sdk());
    let zones = || env.block_on(r53.list_hosted_zones().send()).expect("zones").hosted_zones().to_vec();
    let before = zones();
    assert_eq!(before.len(), 1, "{before:?}");
    let zone_id = before[0].id().trim_start_matches("/hostedzone/").to_string();
    let tags = env
        .block_on(
            r53.list_tags_for_resource()
                .resource_type(aws_sdk_route53::types::TagResourceType::Hostedzone)
                .resource_id(&zone_id)
                .send(),
        )
        .expect("tags");
    assert!(tags.resource_tag_set().is_none_or(|s| s.tags().is_empty()), "the crash left it untagged: {tags:?}");

    let plan = env.run(&["diff"]);
    assert!(plan.stdout.contains("~ hosted_zone.containrlab.click"), "{}", plan.stdout);
    env.run(&["up", "--yes"]).expect_code(0);
    let after = zones();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].id(), before[0].id(), "the same zone, adopted");
    env.run(&["diff", "--exit-code"]).expect_code(0);
    env.run(&["down", "--yes", "--delete-data"]).expect_code(0);
    assert!(zones().is_empty(), "down --delete-data removed the zone");
}
