//! ECS clusters against moto: both clusters come up tagged, a Container Insights setting changed by
//! hand is shown and put back (with UpdateCluster: moto answers UpdateClusterSettings with a 500,
//! and UpdateCluster does the same on AWS).

use aws_sdk_ecs::types::{ClusterSetting, ClusterSettingName};
use aws_sdk_ecs::Client as Ecs;

use crate::support::{actions, Env};

#[test]
fn clusters_converge_and_a_setting_changed_by_hand_is_repaired() {
    let env = Env::new();
    let ecs = Ecs::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    let listed = env.block_on(ecs.list_clusters().send()).expect("clusters");
    assert_eq!(listed.cluster_arns().len(), 2);

    let on = ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value("enabled").build();
    env.block_on(ecs.update_cluster().cluster("containrlab-cluster").settings(on).send()).expect("update");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    let plan = diff.json();
    assert_eq!(actions(&plan), vec![("ecs_cluster.containrlab-cluster".to_string(), "update".to_string())]);
    let field = &plan["changes"][0]["fields"][0];
    assert_eq!(
        (&field["path"], &field["before"], &field["after"]),
        (&"container_insights".into(), &"enabled".into(), &"disabled".into())
    );
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(repair.mutating_calls().into_iter().collect::<Vec<_>>(), vec![("ECS:UpdateCluster".to_string(), 1)]);
    env.run(&["diff", "--exit-code"]).expect_code(0);
}
