//! Compute against moto: ECS clusters, task definitions and services, the runner's launch
//! template / Auto Scaling group / capacity provider, and alarms.
//!
//! moto never starts ECS tasks; the tests start it with `MOTO_ECS_SERVICE_RUNNING=1`, which makes a
//! service report its tasks running, so the real stability wait (one deployment, on the requested
//! revision, running = desired) passes. Without it, the wait must fail at its deadline — tested too.
//! Container Insights is repaired with UpdateCluster: moto answers UpdateClusterSettings with a 500,
//! and UpdateCluster does the same on AWS.

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ecs::types::{ClusterSetting, ClusterSettingName, TaskDefinitionStatus};
use aws_sdk_ecs::Client as Ecs;

use crate::support::{actions, Env, Moto};

const CLUSTER: &str = "containrlab-cluster";
const RUNNER: &str = "containrlab-runner-ec2";

fn service(env: &Env, ecs: &Ecs, cluster: &str, name: &str) -> aws_sdk_ecs::types::Service {
    let out = env.block_on(ecs.describe_services().cluster(cluster).services(name).send()).expect("describe services");
    out.services().first().cloned().expect("service exists")
}

fn active_revisions(env: &Env, ecs: &Ecs, family: &str) -> Vec<String> {
    let out = env
        .block_on(ecs.list_task_definitions().family_prefix(family).status(TaskDefinitionStatus::Active).send())
        .expect("list task definitions");
    let mut revs: Vec<String> =
        out.task_definition_arns().iter().filter_map(|a| a.rsplit('/').next().map(str::to_string)).collect();
    revs.sort();
    revs
}

#[test]
fn clusters_converge_and_a_setting_changed_by_hand_is_repaired() {
    let env = Env::new();
    let ecs = Ecs::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    let listed = env.block_on(ecs.list_clusters().send()).expect("clusters");
    assert_eq!(listed.cluster_arns().len(), 2);

    let off = ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value("disabled").build();
    env.block_on(ecs.update_cluster().cluster(CLUSTER).settings(off).send()).expect("update");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    let plan = diff.json();
    assert_eq!(actions(&plan), vec![("ecs_cluster.containrlab-cluster".to_string(), "update".to_string())]);
    let field = &plan["changes"][0]["fields"][0];
    assert_eq!(
        (&field["path"], &field["before"], &field["after"]),
        (&"container_insights".into(), &"disabled".into(), &"enabled".into())
    );
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(repair.mutating_calls().into_iter().collect::<Vec<_>>(), vec![("ECS:UpdateCluster".to_string(), 1)]);
    env.run(&["diff", "--exit-code"]).expect_code(0);
}

#[test]
fn services_run_the_files_definitions_in_private_subnets_behind_the_load_balancer() {
    let env = Env::new();
    let sdk = env.sdk();
    let (ecs, asg, ec2) = (Ecs::new(&sdk), AutoScaling::new(&sdk), Ec2::new(&sdk));
    env.run(&["up", "--yes"]).expect_code(0);

    let web = service(&env, &ecs, CLUSTER, "containrlab-service");
    assert_eq!(web.task_definition().and_then(|a| a.rsplit('/').next()), Some("containrlab-task:1"));
    assert_eq!(web.desired_count(), 1);
    assert_eq!(web.launch_type().map(|l| l.as_str()), Some("FARGATE"));
    let vpc = web.network_configuration().and_then(|n| n.awsvpc_configuration()).expect("awsvpc");
    assert_eq!(vpc.subnets().len(), 2);
    assert_eq!(vpc.security_groups().len(), 1);
    assert_eq!(vpc.assign_public_ip().map(|a| a.as_str()), Some("DISABLED"));
    let mut mappings: Vec<(String, i32)> = web
        .load_balancers()
        .iter()
        .map(|l| (l.container_name().unwrap_or_default().to_string(), l.container_port().unwrap_or_default()))
        .collect();
    mappings.sort();
    assert_eq!(mappings, vec![("api".to_string(), 8000), ("web".to_string(), 3000)]);
    // The private subnets are the ones without public IPs on launch.
    let subnets =
        env.block_on(ec2.describe_subnets().set_subnet_ids(Some(vpc.subnets().to_vec())).send()).expect("subnets");
    assert!(subnets.subnets().iter().all(|s| s.map_public_ip_on_launch() == Some(false)));

    let td = env
        .block_on(ecs.describe_task_definition().task_definition("containrlab-task:1").send())
        .expect("task definition");
    let td = td.task_definition().expect("td");
    assert_eq!(td.execution_role_arn(), Some("arn:aws:iam::123456789012:role/containrlab/ecsTaskExecutionRole"));
    let api = td.container_definitions().iter().find(|c| c.name() == Some("api")).expect("api container");
    assert_eq!(api.image(), Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/containrlab-api:latest"));
    assert!(api
        .secrets()
        .iter()
        .all(|s| s.value_from().starts_with("arn:aws:ssm:us-east-1:123456789012:parameter/containrlab/")));

    // The runner: one instance from the launch template, version named explicitly.
    let runner = service(&env, &ecs, RUNNER, "containrlab-runner-service");
    assert_eq!(runner.launch_type().map(|l| l.as_str()), Some("EC2"));
    let groups = env.block_on(asg.describe_auto_scaling_groups().auto_scaling_group_names(RUNNER).send()).expect("asg");
    let group = groups.auto_scaling_groups().first().expect("the runner group");
    assert_eq!((group.min_size(), group.max_size(), group.desired_capacity()), (Some(1), Some(1), Some(1)));
    assert_eq!(group.launch_template().and_then(|l| l.version()), Some("1"));
    let versions = env
        .block_on(ec2.describe_launch_template_versions().launch_template_name(RUNNER).versions("1").send())
        .expect("launch template");
    let data = versions.launch_template_versions()[0].launch_template_data().expect("data");
    let meta = data.metadata_options().expect("metadata options");
    assert_eq!(meta.http_tokens().map(|t| t.as_str()), Some("required"));
    assert_eq!(meta.http_put_response_hop_limit(), Some(1));
    let root = &data.block_device_mappings()[0];
    assert_eq!(root.ebs().and_then(|e| e.encrypted()), Some(true));
    let user_data = aws_smithy_types::base64::decode(data.user_data().expect("user data")).expect("base64");
    assert!(
        String::from_utf8_lossy(&user_data).contains("echo ECS_CLUSTER=containrlab-runner-ec2 >> /etc/ecs/ecs.config")
    );
    let cluster = env.block_on(ecs.describe_clusters().clusters(RUNNER).send()).expect("cluster");
    assert_eq!(cluster.clusters()[0].capacity_providers(), [RUNNER.to_string()]);
}

#[test]
fn a_new_image_tag_registers_one_revision_and_updates_the_service_once() {
    let env = Env::new();
    let ecs = Ecs::new(&env.sdk());
    env.edit_stack("      assign_public_ip: false\n", "      assign_public_ip: false\n      keep_revisions: 1\n");
    env.run(&["up", "--yes"]).expect_code(0);
    let ecr = aws_sdk_ecr::Client::new(&env.sdk());
    let v2 = crate::deploy::push_all(&env, &ecr, "v2", "a");

    let diff = env.run(&["--json", "--image-tag", "v2", "diff", "--exit-code"]);
    diff.expect_code(2);
    let plan = diff.json();
    let mut got = actions(&plan);
    got.sort();
    assert_eq!(
        got,
        [
            ("ecs_service.containrlab-runner-service", "update"),
            ("ecs_service.containrlab-service", "update"),
            ("task_definition.containrlab-runner", "update"),
            ("task_definition.containrlab-task", "update"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let change = |address: &str| {
        plan["changes"].as_array().unwrap().iter().find(|c| c["address"] == address).cloned().expect(address)
    };
    let td = change("task_definition.containrlab-task");
    let paths: Vec<&str> = td["fields"].as_array().unwrap().iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(paths, ["containerDefinitions[api].image", "containerDefinitions[web].image"]);
    // Pinned to the digest ECR has for the tag, as `deploy` pins it.
    assert_eq!(
        td["fields"][0]["after"],
        format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/containrlab-api@{}", v2[0])
    );
    let svc = change("ecs_service.containrlab-service");
    assert_eq!(svc["fields"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (&svc["fields"][0]["path"], &svc["fields"][0]["before"], &svc["fields"][0]["after"]),
        (&"task_definition".into(), &"containrlab-task:1".into(), &"containrlab-task:(new revision)".into())
    );

    let up = env.run_with(&env.moto.endpoint, &[("CONTAINRLAB_IMAGE_TAG", "v2")], &["up", "--yes"]);
    up.expect_code(0);
    let m = up.mutating_calls();
    assert_eq!(
        m.into_iter().collect::<Vec<_>>(),
        vec![("ECS:RegisterTaskDefinition".to_string(), 2), ("ECS:UpdateService".to_string(), 2)]
    );
    let web = service(&env, &ecs, CLUSTER, "containrlab-service");
    assert_eq!(web.task_definition().and_then(|a| a.rsplit('/').next()), Some("containrlab-task:2"));
    // Without a tag, what runs is kept: no change, no rollback to `latest`.
    env.run(&["diff", "--exit-code"]).expect_code(0);

    // keep_revisions: 1 keeps the newest and one older revision.
    crate::deploy::push_all(&env, &ecr, "v3", "b");
    env.run(&["--image-tag", "v3", "up", "--yes"]).expect_code(0);
    assert_eq!(active_revisions(&env, &ecs, "containrlab-task"), ["containrlab-task:2", "containrlab-task:3"]);
    assert_eq!(
        active_revisions(&env, &ecs, "containrlab-runner").len(),
        3,
        "the runner keeps the default 5 older revisions"
    );
}

#[test]
fn a_desired_count_changed_by_hand_is_shown_and_repaired() {
    let env = Env::new();
    let ecs = Ecs::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    env.block_on(ecs.update_service().cluster(CLUSTER).service("containrlab-service").desired_count(3).send())
        .expect("scale by hand");

    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    let plan = diff.json();
    assert_eq!(actions(&plan), vec![("ecs_service.containrlab-service".to_string(), "update".to_string())]);
    let f = &plan["changes"][0]["fields"];
    assert_eq!(f.as_array().map(Vec::len), Some(1));
    assert_eq!((&f[0]["path"], &f[0]["before"], &f[0]["after"]), (&"desired_count".into(), &3.into(), &1.into()));

    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(repair.mutating_calls().into_iter().collect::<Vec<_>>(), vec![("ECS:UpdateService".to_string(), 1)]);
    assert_eq!(service(&env, &ecs, CLUSTER, "containrlab-service").desired_count(), 1);
    env.run(&["diff", "--exit-code"]).expect_code(0);
}

/// moto without `MOTO_ECS_SERVICE_RUNNING` reports no task running: the service never becomes
/// stable, so `up` must fail at the (shortened) deadline and say which service and why.
#[test]
fn a_service_that_never_becomes_stable_fails_up_at_the_deadline() {
    let env = Env::with_moto(Moto::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "0")]));
    let up = env.run_with(&env.moto.endpoint, &[("CONTAINRLAB_WAIT_TIMEOUT_SECONDS", "2")], &["up", "--yes"]);
    up.expect_code(1);
    assert!(up.stderr.contains("timed out after 2s waiting for ecs_service.containrlab"), "{}", up.stderr);
    assert!(up.stderr.contains("0 of 1 tasks running"), "{}", up.stderr);
    assert!(up.stderr.contains("(the service reported no events and no stopped tasks)"), "{}", up.stderr);
}

#[test]
fn down_deregisters_the_runners_container_instance_before_deleting_its_group() {
    let env = Env::new();
    let sdk = env.sdk();
    let (ecs, asg) = (Ecs::new(&sdk), AutoScaling::new(&sdk));
    env.run(&["up", "--yes"]).expect_code(0);
    // moto's instances run no ECS agent: register the group's instance as the agent would.
    let groups = env.block_on(asg.describe_auto_scaling_groups().auto_scaling_group_names(RUNNER).send()).expect("asg");
    let instance = groups.auto_scaling_groups()[0].instances()[0].instance_id().expect("instance").to_string();
    let document = format!(r#"{{"instanceId": "{instance}"}}"#);
    env.block_on(ecs.register_container_instance().cluster(RUNNER).instance_identity_document(document).send())
        .expect("register container instance");

    let down = env.run(&["down", "--yes"]);
    down.expect_code(0);
    assert_eq!(down.mutating_calls().get("ECS:DeregisterContainerInstance"), Some(&1), "{:?}", down.mutating_calls());
    let order = |needle: &str| down.stderr.find(needle).unwrap_or_else(|| panic!("`{needle}` not in\n{}", down.stderr));
    assert!(order("deregistered container instance") < order("- autoscaling_group.containrlab-runner-ec2: deleted"));
    assert!(
        order("- ecs_service.containrlab-runner-service: deleted")
            < order("- capacity_provider.containrlab-runner-ec2: deleted")
    );
    assert!(
        order("- autoscaling_group.containrlab-runner-ec2: deleted")
            < order("- ecs_cluster.containrlab-runner-ec2: deleted")
    );
    let left = env.block_on(asg.describe_auto_scaling_groups().auto_scaling_group_names(RUNNER).send()).expect("asg");
    assert!(left.auto_scaling_groups().is_empty());
}

#[test]
fn an_alarm_threshold_changed_by_hand_is_shown_and_put_back() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
    let env = Env::new();
    let cw = aws_sdk_cloudwatch::Client::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    let dimension = Dimension::builder().name("AutoScalingGroupName").value(RUNNER).build();
    env.block_on(
        cw.put_metric_alarm()
            .alarm_name("runner-high-cpu")
            .alarm_description("Runner instance CPU above 80% for 5 minutes")
            .namespace("AWS/EC2")
            .metric_name("CPUUtilization")
            .statistic(Statistic::Average)
            .period(300)
            .evaluation_periods(1)
            .threshold(95.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .dimensions(dimension)
            .treat_missing_data("missing")
            // PutMetricAlarm replaces the whole alarm: the hand edit keeps its notifications.
            .alarm_actions("arn:aws:sns:us-east-1:123456789012:containrlab-alarms")
            .ok_actions("arn:aws:sns:us-east-1:123456789012:containrlab-alarms")
            .send(),
    )
    .expect("alarm changed by hand");

    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    let plan = diff.json();
    assert_eq!(actions(&plan), vec![("alarm.runner-high-cpu".to_string(), "update".to_string())]);
    let f = &plan["changes"][0]["fields"];
    assert_eq!(f.as_array().map(Vec::len), Some(1), "{f}");
    assert_eq!((&f[0]["path"], &f[0]["before"], &f[0]["after"]), (&"threshold".into(), &95.0.into(), &80.0.into()));
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(
        repair.mutating_calls().into_iter().collect::<Vec<_>>(),
        vec![("CloudWatch:PutMetricAlarm".to_string(), 1)]
    );
    env.run(&["diff", "--exit-code"]).expect_code(0);
}

#[test]
fn a_service_tag_removed_by_hand_is_put_back_without_a_deployment() {
    let env = Env::new();
    let ecs = Ecs::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    let arn = service(&env, &ecs, CLUSTER, "containrlab-service").service_arn().expect("arn").to_string();
    env.block_on(ecs.untag_resource().resource_arn(&arn).tag_keys("Project").send()).expect("untag");

    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    let f = &diff.json()["changes"][0]["fields"];
    assert_eq!(
        (&f[0]["path"], &f[0]["before"], &f[0]["after"]),
        (&"tags.Project".into(), &None::<String>.into(), &"ContainrLab".into())
    );
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(repair.mutating_calls().into_iter().collect::<Vec<_>>(), vec![("ECS:TagResource".to_string(), 1)]);
    env.run(&["diff", "--exit-code"]).expect_code(0);
}

#[test]
fn a_service_moved_to_another_cluster_is_replaced() {
    let env = Env::new();
    let ecs = Ecs::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    env.edit_stack(
        "  clusters:\n    containrlab-cluster:\n",
        "  clusters:\n    containrlab-cluster-2:\n      container_insights: true\n    containrlab-cluster:\n",
    );
    env.edit_stack("      cluster: containrlab-cluster\n", "      cluster: containrlab-cluster-2\n");
    env.edit_stack(
        "ClusterName: \"${cluster:containrlab-cluster}\"",
        "ClusterName: \"${cluster:containrlab-cluster-2}\"",
    );

    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(3);
    let plan = diff.json();
    let service =
        plan["changes"].as_array().unwrap().iter().find(|c| c["address"] == "ecs_service.containrlab-service");
    assert_eq!(service.map(|c| &c["action"]), Some(&"replace".into()), "{plan}");
    let up = env.run(&["up", "--yes"]);
    up.expect_code(0);
    let m = up.mutating_calls();
    assert_eq!((m.get("ECS:DeleteService"), m.get("ECS:CreateService")), (Some(&1), Some(&1)), "{m:?}");
    assert_eq!(service_in(&env, &ecs, "containrlab-cluster-2"), Some("ACTIVE".to_string()));
    assert_eq!(service_in(&env, &ecs, CLUSTER), Some("INACTIVE".to_string()));
    env.run(&["diff", "--exit-code"]).expect_code(0);
}

fn service_in(env: &Env, ecs: &Ecs, cluster: &str) -> Option<String> {
    let out = env.block_on(ecs.describe_services().cluster(cluster).services("containrlab-service").send()).ok()?;
    out.services().first().and_then(|s| s.status()).map(str::to_string)
}

/// Managed scaling turned on by hand: the plan shows it, `up` turns it off with one
/// UpdateCapacityProvider (the runner's group is sized by the stack file, not by ECS).
#[test]
fn managed_scaling_turned_on_by_hand_is_turned_off() {
    use aws_sdk_ecs::types::{AutoScalingGroupProviderUpdate, ManagedScaling, ManagedScalingStatus};
    let env = Env::new();
    let ecs = Ecs::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    let on = ManagedScaling::builder().status(ManagedScalingStatus::Enabled).target_capacity(100).build();
    let provider = AutoScalingGroupProviderUpdate::builder().managed_scaling(on).build();
    env.block_on(ecs.update_capacity_provider().name(RUNNER).auto_scaling_group_provider(provider).send())
        .expect("turn managed scaling on by hand");

    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    let plan = diff.json();
    assert_eq!(actions(&plan), vec![(format!("capacity_provider.{RUNNER}"), "update".to_string())]);
    let f = &plan["changes"][0]["fields"][0];
    assert_eq!((&f["path"], &f["after"]), (&"managed_scaling".into(), &"disabled".into()));

    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(
        repair.mutating_calls().into_iter().collect::<Vec<_>>(),
        vec![("ECS:UpdateCapacityProvider".to_string(), 1)]
    );
    env.run(&["diff", "--exit-code"]).expect_code(0);
}
