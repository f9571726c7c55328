//! Task definitions, ECS services and the runner's capacity on hand-built observations.

use std::collections::BTreeMap;

use super::*;
use crate::plan::Action;
use crate::plan::Reason;

/// What ECR has for `tag`: each repository's image for its architecture, `sha256:<repo>-<tag>`;
/// `found` picks what each repository answers.
fn images(
    tag: &str,
    found: impl Fn(&str) -> Option<crate::reconcile::ecs::images::Lookup>,
) -> BTreeMap<String, crate::reconcile::ecs::images::Lookup> {
    [("containrlab-api", "arm64"), ("containrlab-web", "arm64"), ("containrlab-runnerd", "amd64")]
        .into_iter()
        .map(|(repository, arch)| {
            let image = crate::reconcile::ecs::images::Image {
                repository: repository.into(),
                tag: tag.into(),
                digest: format!("sha256:{repository}-{tag}"),
                architectures: vec![arch.into()],
            };
            (repository.to_string(), found(repository).unwrap_or(Ok(Some(image))))
        })
        .collect()
}

#[test]
fn a_new_image_tag_is_one_new_revision_and_one_service_update() {
    let d = desired();
    let mut o = converged(&d);
    o.ecs.images = images("v2", |_| None);
    let mut cx = ctx(&d, Mode::Converge);
    cx.image_tag = Some("v2".into());
    let plan = plan(&cx, &d, &o);
    let changed: Vec<(String, Vec<Field>)> = plan
        .changes
        .iter()
        .filter(|c| c.address.name == "containrlab-task" || c.address.name == "containrlab-service")
        .map(|c| (c.address.to_string(), fields(c)))
        .collect();
    let image =
        |name: &str, tag: &str| format!("\"123456789012.dkr.ecr.us-east-1.amazonaws.com/containrlab-{name}:{tag}\"");
    // The tag's digest, as `deploy` pins it.
    let pinned = |name: &str, tag: &str| {
        format!("\"123456789012.dkr.ecr.us-east-1.amazonaws.com/containrlab-{name}@sha256:containrlab-{name}-{tag}\"")
    };
    assert_eq!(
        changed,
        vec![
            (
                "task_definition.containrlab-task".into(),
                vec![
                    f("containerDefinitions[api].image", &image("api", "v1"), &pinned("api", "v2")),
                    f("containerDefinitions[web].image", &image("web", "v1"), &pinned("web", "v2")),
                ]
            ),
            (
                "ecs_service.containrlab-service".into(),
                vec![f("task_definition", "\"containrlab-task:1\"", "\"containrlab-task:(new revision)\"")]
            ),
        ]
    );
}

#[test]
fn an_image_tag_ecr_lacks_stops_the_plan_and_a_repository_still_to_create_keeps_the_tag() {
    let d = desired();
    let mut o = converged(&d);
    let mut cx = ctx(&d, Mode::Converge);
    cx.image_tag = Some("v2".into());
    o.ecs.images =
        images("v2", |r| (r == "containrlab-web").then(|| Err("image containrlab-web:v2 is not in ECR".into())));
    let err = crate::reconcile::diff(&cx, &d, &o, &mut Plan::default()).expect_err("a missing image").to_string();
    assert!(err.starts_with("1 image problem(s); nothing was changed"), "{err}");
    assert!(err.contains("containrlab-service: container web: image containrlab-web:v2 is not in ECR"), "{err}");

    // A repository that does not exist yet: the tag is written, and the plan says so.
    o.ecs.images = images("v2", |r| (r == "containrlab-web").then_some(Ok(None)));
    let plan = plan(&cx, &d, &o);
    let td = plan.changes.iter().find(|c| c.address.name == "containrlab-task").expect("the task definition");
    let web = fields(td).into_iter().find(|f| f.0 == "containerDefinitions[web].image").expect("web's image");
    assert!(web.2.ends_with("/containrlab-web:v2\""), "{web:?}");
    assert!(
        plan.warnings.iter().any(|w| w.contains("container web names containrlab-web:v2 by its tag")),
        "{:?}",
        plan.warnings
    );
    // `down` checks no image, whatever the tag.
    o.ecs.images = images("v2", |_| Some(Err("not in ECR".into())));
    let mut down = ctx(&d, Mode::Down);
    down.image_tag = Some("v2".into());
    assert!(crate::reconcile::diff(&down, &d, &o, &mut Plan::default()).is_ok());
}

#[test]
fn without_an_image_tag_the_running_tag_is_kept() {
    // The converged revisions run `v1`, not the `latest` a first registration would use.
    let plan = drift(|_, _| {});
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

#[test]
fn a_desired_count_changed_by_hand_is_put_back() {
    let plan = drift(|_, o| o.ecs.services.iter_mut().for_each(|s| s.fields.desired_count = 0));
    let changed: Vec<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    assert_eq!(changed, vec!["ecs_service.containrlab-runner-service", "ecs_service.containrlab-service"]);
    assert_eq!(fields(&plan.changes[0]), vec![f("desired_count", "0", "1")]);
}

#[test]
fn a_service_in_another_cluster_is_replaced() {
    let plan = drift(|_, o| {
        let s = o.ecs.services.iter_mut().find(|s| s.name == "containrlab-service").expect("service");
        s.fields.cluster = "other".into();
    });
    let c = only(&plan, "ecs_service.containrlab-service");
    assert_eq!((c.action, c.reason), (Action::Replace, Reason::CannotUpdateInPlace(vec!["cluster".into()])));
}

#[test]
fn a_new_ami_is_a_new_launch_template_version_and_the_group_follows() {
    let plan = drift(|_, o| o.runner.amis.values_mut().for_each(|v| *v = "ami-0new".into()));
    let changed = changes(&plan);
    assert_eq!(
        changed,
        vec![
            (
                "launch_template.containrlab-runner-ec2".into(),
                vec![f("image_id", "\"ami-0123456789abcdef0\"", "\"ami-0new\"")]
            ),
            (
                "autoscaling_group.containrlab-runner-ec2".into(),
                vec![f("launch_template_version", "\"1\"", "\"(new version)\"")]
            ),
        ]
    );
}

#[test]
fn a_capacity_provider_detached_from_its_cluster_is_associated_again() {
    let plan = drift(|_, o| o.ecs.clusters.iter_mut().for_each(|c| c.fields.capacity_providers.clear()));
    let c = only(&plan, "capacity_provider.containrlab-runner-ec2");
    assert_eq!(fields(&c), vec![f("default_for_cluster", "false", "true")]);
}

/// A provider left behind by an earlier stack (its delete failed) still names a group of the same
/// name that has since been deleted and made again: bound by ARN, it is replaced.
#[test]
fn a_capacity_provider_bound_to_another_group_of_the_same_name_is_replaced() {
    let old =
        "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:old:autoScalingGroupName/containrlab-runner-ec2";
    let plan = drift(|_, o| o.runner.capacity_providers[0].fields.group_arn = old.into());
    let c = only(&plan, "capacity_provider.containrlab-runner-ec2");
    assert_eq!(c.action, Action::Replace);
    let shown = format!("\"containrlab-runner-ec2 (not the stack's group: {old})\"");
    assert_eq!(fields(&c), vec![f("auto_scaling_group", &shown, "\"containrlab-runner-ec2\"")]);
    // With no group at all (a rebuild after it was deleted), the provider cannot be the stack's.
    let plan = drift(|_, o| o.runner.groups.clear());
    let actions: Vec<(String, Action)> = plan.changes.iter().map(|c| (c.address.to_string(), c.action)).collect();
    assert_eq!(
        actions,
        vec![
            ("autoscaling_group.containrlab-runner-ec2".to_string(), Action::Create),
            ("capacity_provider.containrlab-runner-ec2".to_string(), Action::Replace),
        ]
    );
}

#[test]
fn a_group_resized_by_hand_is_put_back() {
    let plan = drift(|_, o| o.runner.groups[0].fields.size = "min 0, max 2, desired 0".into());
    let c = only(&plan, "autoscaling_group.containrlab-runner-ec2");
    assert_eq!(fields(&c), vec![f("size", "\"min 0, max 2, desired 0\"", "\"min 1, max 1, desired 1\"")]);
}

/// Rollback alarms removed by hand (or never set) are one update of the service, shown by name; a
/// deployment configuration AWS did not report (moto) is not a difference.
#[test]
fn rollback_alarms_removed_by_hand_are_an_update_of_the_service() {
    let plan = drift(|_, o| {
        let s = o.ecs.services.iter_mut().find(|s| s.name == "containrlab-service").expect("service");
        s.fields.rollback_alarms = Some(Default::default());
    });
    let change = only(&plan, "ecs_service.containrlab-service");
    let shown = fields(&change);
    let added: Vec<&str> =
        shown.iter().filter(|(path, _, _)| path == "rollback_alarms").map(|(_, _, a)| a.as_str()).collect();
    assert_eq!(added, ["\"alb-slow-p95\"", "\"api-5xx\"", "\"web-5xx\""], "{shown:?}");
    assert_eq!(shown.len(), 3, "{shown:?}");
    let unreported = drift(|_, o| o.ecs.services.iter_mut().for_each(|s| s.fields.rollback_alarms = None));
    assert!(unreported.changes.is_empty(), "{:#?}", unreported.changes);
}
