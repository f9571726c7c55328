//! Guardrails that need AWS's answer: the runner's root volume against the AMI's root snapshot,
//! read where the plan resolves the AMI. moto describes the ECS-optimized AMI with a 15 GiB root
//! snapshot (AWS's is 30 GiB): the same check, another number.

use crate::support::Env;

#[test]
fn a_root_volume_smaller_than_the_amis_snapshot_is_refused_before_any_change() {
    let env = Env::new();
    env.edit_stack("root_volume_gib: 30", "root_volume_gib: 8");
    // Only AWS knows the AMI: the file alone is valid.
    env.run(&["validate"]).expect_code(0);
    let up = env.run(&["up", "--yes"]);
    up.expect_code(1);
    assert!(
        up.stderr.contains("ecs.clusters.containrlab-runner-ec2.ec2_capacity.root_volume_gib: 8 GiB is smaller than the root snapshot of ami-"),
        "{}",
        up.stderr
    );
    assert!(
        up.stderr.contains("(15 GiB, from /aws/service/ecs/optimized-ami/amazon-linux-2/recommended/image_id)"),
        "{}",
        up.stderr
    );
    assert!(up.mutating_calls().is_empty(), "{:?}", up.mutating_calls());
    assert_eq!(up.calls.get("EC2:DescribeImages"), Some(&1), "{:?}", up.calls);
    env.run(&["diff"]).expect_code(1);
    // At the snapshot's size and above, it goes.
    env.edit_stack("root_volume_gib: 8", "root_volume_gib: 15");
    env.run(&["diff"]).expect_code(0);
    env.edit_stack("root_volume_gib: 15", "root_volume_gib: 30");
    env.run(&["up", "--yes"]).expect_code(0);
    // A launch template on the AMI and volume already asks nothing more.
    let converged = env.run(&["diff", "--exit-code"]);
    converged.expect_code(0);
    assert_eq!(converged.calls.get("EC2:DescribeImages"), None, "{:?}", converged.calls);
}
