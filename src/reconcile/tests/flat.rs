//! ECR, SSM, logs, alarms and ECS clusters: one resource each, compared field by field.

use super::*;
use crate::diff::normalize::LifecyclePolicy;
use crate::model::secret::Secret;
use crate::model::tags::Tags;
use crate::plan::Reason;
use crate::reconcile::ssm::ObservedValue;

#[test]
fn a_repository_setting_changed_by_hand_is_an_update_of_that_field() {
    let plan = drift(|_, o| {
        let r = o.repositories.iter_mut().find(|r| r.name == "containrlab-api").expect("repo");
        r.scan_on_push = false;
        r.lifecycle = Some(LifecyclePolicy::KeepLast(5));
    });
    let c = only(&plan, "ecr_repository.containrlab-api");
    assert_eq!((c.action, c.reason.clone()), (Action::Update, Reason::Drifted));
    assert_eq!(fields(&c), vec![f("scan_on_push", "false", "true"), f("lifecycle_policy.keep_last_images", "5", "10")]);
}

#[test]
fn a_repository_that_is_not_ours_is_a_conflict_and_an_old_one_with_images_is_kept() {
    let plan = drift(|_, o| {
        o.repositories.iter_mut().find(|r| r.name == "containrlab-web").expect("repo").tags = Tags::new();
        let mut old = o.repositories[0].clone();
        old.name = "containrlab-old".into();
        old.tags.insert("containrlab:address".into(), "ecr_repository.containrlab-old".into());
        old.holds_images = true;
        o.repositories.push(old);
    });
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert_eq!(
        plan.conflicts.iter().map(|c| c.address.to_string()).collect::<Vec<_>>(),
        ["ecr_repository.containrlab-web"]
    );
    assert_eq!(plan.kept.iter().map(|k| k.address.to_string()).collect::<Vec<_>>(), ["ecr_repository.containrlab-old"]);
}

/// ECS reads parameters when a task starts: each service reading a changed value is restarted,
/// with the parameters and versions named.
#[test]
fn a_rotated_secret_shows_as_sensitive_a_changed_string_with_its_values_and_their_readers_restart() {
    let plan = drift(|_, o| {
        for p in &mut o.parameters {
            match p.name.as_str() {
                "/containrlab/GEMINI_API_KEY" => p.value = Some(ObservedValue::Secret(Secret::new("old".into()))),
                "/containrlab/SESSION_TTL_SECONDS" => p.value = Some(ObservedValue::Plain("900".into())),
                _ => {}
            }
        }
    });
    let changed = changes(&plan);
    assert_eq!(
        changed,
        vec![
            ("ssm_parameter./containrlab/GEMINI_API_KEY".into(), vec![f("value", "(sensitive)", "(sensitive)")]),
            ("ssm_parameter./containrlab/SESSION_TTL_SECONDS".into(), vec![f("value", "\"900\"", "\"1800\"")]),
            (
                "ecs_service.containrlab-runner-service".into(),
                vec![f("restart", "-", "\"/containrlab/SESSION_TTL_SECONDS changed (version 1 → 2)\"")]
            ),
            (
                "ecs_service.containrlab-service".into(),
                vec![f(
                    "restart",
                    "-",
                    "\"/containrlab/GEMINI_API_KEY changed (version 1 → 2); /containrlab/SESSION_TTL_SECONDS changed (version 1 → 2)\""
                )]
            ),
        ]
    );
    // The restarts come after the writes.
    let service = plan.changes.iter().find(|c| c.address.to_string() == "ecs_service.containrlab-service").unwrap();
    let after: Vec<String> = service.depends_on.iter().map(ToString::to_string).collect();
    assert!(after.contains(&"ssm_parameter./containrlab/GEMINI_API_KEY".to_string()), "{after:?}");
}

#[test]
fn a_parameter_of_another_type_is_replaced() {
    let plan = drift(|_, o| {
        let p = o.parameters.iter_mut().find(|p| p.name == "/containrlab/SESSION_TTL_SECONDS").expect("param");
        p.type_name = "StringList".into();
    });
    let c = only(&plan, "ssm_parameter./containrlab/SESSION_TTL_SECONDS");
    assert_eq!((c.action, c.reason), (Action::Replace, Reason::CannotUpdateInPlace(vec!["type".into()])));
}

#[test]
fn a_missing_secret_without_its_variable_is_planned_as_unset() {
    let mut d = desired();
    let mut o = converged(&d);
    o.parameters.retain(|p| p.name != "/containrlab/NEXTAUTH_SECRET");
    for p in &mut d.parameters {
        if let crate::model::desired::ParameterValue::Secret { value, .. } = &mut p.value {
            *value = None;
        }
    }
    let plan = plan(&ctx(&d, Mode::Converge), &d, &o);
    let c = only(&plan, "ssm_parameter./containrlab/NEXTAUTH_SECRET");
    assert_eq!(c.action, Action::Create);
    assert!(fields(&c).contains(&f("value", "-", "(unset CONTAINRLAB_NEXTAUTH_SECRET)")), "{:?}", fields(&c));
    assert_eq!(plan.missing_values().len(), 1);
}

#[test]
fn log_group_retention_and_tags_drift() {
    let plan = drift(|_, o| {
        let g = o.log_groups.iter_mut().find(|g| g.name == "/ecs/containrlab-web").expect("group");
        g.retention_days = Some(30);
        g.tags.insert("Owner".into(), "someone".into());
    });
    let c = only(&plan, "log_group./ecs/containrlab-web");
    assert_eq!(fields(&c), vec![f("retention_days", "30", "7"), f("tags.Owner", "\"someone\"", "-")]);
}

#[test]
fn an_owned_log_group_no_longer_declared_is_kept_unless_data_may_go() {
    let d = super::fixture::desired();
    let mut o = super::fixture::converged(&d);
    let mut extra = o.log_groups[0].clone();
    extra.name = "/ecs/gone".into();
    extra.tags = super::fixture::tags(&d, crate::model::Kind::LogGroup, "/ecs/gone");
    o.log_groups.push(extra);
    let kept = super::fixture::plan(&super::fixture::ctx(&d, Mode::Converge), &d, &o);
    assert!(kept.changes.is_empty(), "{:#?}", kept.changes);
    assert_eq!(kept.kept.len(), 1);
    assert_eq!(
        (kept.kept[0].address.to_string().as_str(), kept.kept[0].why.as_str()),
        ("log_group./ecs/gone", "its log events are evidence after an incident")
    );
    let cx = crate::plan::build::PlanContext { delete_data: true, ..super::fixture::ctx(&d, Mode::Converge) };
    let deleted = super::fixture::plan(&cx, &d, &o);
    let c = only(&deleted, "log_group./ecs/gone");
    assert_eq!((c.action, c.reason), (Action::Delete, Reason::RemovedFromStack));
}

#[test]
fn an_alarm_threshold_and_dimension_changed_by_hand() {
    let plan = drift(|_, o| {
        let a = o.alarms.iter_mut().find(|a| a.name == "runner-high-cpu").expect("alarm");
        a.fields.threshold = 95.0;
        a.fields.dimensions = ["AutoScalingGroupName=other".to_string()].into();
    });
    let c = only(&plan, "alarm.runner-high-cpu");
    assert_eq!(
        fields(&c),
        vec![
            f("threshold", "95.0", "80.0"),
            f("dimensions", "\"AutoScalingGroupName=other\"", "-"),
            f("dimensions", "-", "\"AutoScalingGroupName=containrlab-runner-ec2\""),
        ]
    );
}

#[test]
fn container_insights_switched_off_by_hand() {
    let plan = drift(|_, o| {
        let c = o.ecs.clusters.iter_mut().find(|c| c.name == "containrlab-cluster").expect("cluster");
        c.fields.container_insights = "disabled".into();
    });
    let c = only(&plan, "ecs_cluster.containrlab-cluster");
    assert_eq!(fields(&c), vec![f("container_insights", "\"disabled\"", "\"enabled\"")]);
}
