//! The load balancer, certificate, DNS and IAM on hand-built observations.

use super::*;
use crate::model::tags::Tags;
use crate::plan::Reason;

#[test]
fn a_health_check_and_a_load_balancer_attribute_changed_by_hand() {
    let plan = drift(|_, o| {
        let tg = o.edge.target_groups.iter_mut().find(|t| t.name == "containrlab-api-tg").expect("tg");
        tg.fields.health_path = "/".into();
        let lb = &mut o.edge.load_balancers[0].fields;
        lb.attributes.insert("idle_timeout.timeout_seconds".into(), "300".into());
    });
    let changed = changes(&plan);
    assert_eq!(
        changed,
        vec![
            ("target_group.containrlab-api-tg".into(), vec![f("health_check.path", "\"/\"", "\"/healthz\"")]),
            (
                "load_balancer.containrlab-alb".into(),
                vec![f("attributes.idle_timeout.timeout_seconds", "\"300\"", "\"60\"")]
            ),
        ]
    );
}

#[test]
fn a_target_group_on_another_port_is_replaced_first_and_its_users_move() {
    let plan = drift(|_, o| {
        let tg = o.edge.target_groups.iter_mut().find(|t| t.name == "containrlab-api-tg").expect("tg");
        tg.fields.port = 8001;
    });
    let actions: Vec<(String, Action)> = plan.changes.iter().map(|c| (c.address.to_string(), c.action)).collect();
    assert_eq!(
        actions,
        vec![
            ("target_group.containrlab-api-tg".into(), Action::Replace),
            ("listener_rule.api.containrlab.click".into(), Action::Update),
            // The alarms that name it by id follow the new one (before the service, which
            // names its rollback alarms).
            ("alarm.api-5xx".into(), Action::Update),
            ("alarm.api-no-healthy-target".into(), Action::Update),
            ("alarm.api-unhealthy-targets".into(), Action::Update),
            ("ecs_service.containrlab-service".into(), Action::Update),
        ]
    );
    assert_eq!(plan.changes[0].reason, Reason::CannotUpdateInPlace(vec!["port".into()]));
}

#[test]
fn a_tls_policy_downgraded_by_hand_and_swapped_rule_priorities() {
    let plan = drift(|_, o| {
        let l = o.edge.listeners.iter_mut().find(|l| l.name == "https").expect("https");
        l.fields.ssl_policy = Some("ELBSecurityPolicy-2016-08".into());
        for r in &mut o.edge.rules {
            r.fields.priority = if r.fields.priority == "10" { "20".into() } else { "10".into() };
        }
    });
    let changed = changes(&plan);
    assert_eq!(
        changed,
        vec![
            (
                "listener.https".into(),
                vec![f("ssl_policy", "\"ELBSecurityPolicy-2016-08\"", "\"ELBSecurityPolicy-TLS13-1-2-PQ-2025-09\"")]
            ),
            ("listener_rule.api.containrlab.click".into(), vec![f("priority", "\"20\"", "\"10\"")]),
            ("listener_rule.app.containrlab.click".into(), vec![f("priority", "\"10\"", "\"20\"")]),
        ]
    );
}

#[test]
fn a_certificate_with_other_names_is_replaced() {
    let plan = drift(|_, o| o.certificates[0].fields.subject_alternative_names = vec!["api.containrlab.click".into()]);
    let c = plan.changes.iter().find(|c| c.address.to_string() == "certificate.containrlab.click").expect("change");
    assert_eq!(c.action, Action::Replace);
    assert_eq!(fields(c), vec![f("subject_alternative_names", "-", "\"app.containrlab.click\"")]);
}

#[test]
fn a_missing_alias_record_is_written_and_a_foreign_zone_is_used_not_managed() {
    let plan = drift(|_, o| {
        o.dns.records.remove("app.containrlab.click");
        o.dns.zone.as_mut().expect("zone").tags = Tags::new();
    });
    let c = only(&plan, "dns_records.containrlab.click");
    assert_eq!(fields(&c), vec![f("app.containrlab.click A", "-", "\"load_balancer.containrlab-alb\"")]);
    assert!(plan.conflicts.is_empty(), "a zone someone else made is used, never a conflict: {:?}", plan.conflicts);
}

#[test]
fn a_validation_record_deleted_by_hand_is_drift_of_the_certificate() {
    let plan = drift(|_, o| o.dns.cnames.clear());
    let c = only(&plan, "certificate.containrlab.click");
    assert_eq!(c.action, Action::Update);
    assert_eq!(fields(&c), vec![f("validation_records", "-", "\"_x.containrlab.click\"")]);
}

#[test]
fn an_untagged_zone_this_stack_created_is_tagged_not_treated_as_foreign() {
    // A crash between CreateHostedZone and tagging: the CallerReference is the proof.
    let plan = drift(|_, o| {
        let zone = o.dns.zone.as_mut().expect("zone");
        zone.tags = Tags::new();
        zone.caller_reference = crate::reconcile::dns::caller_reference("containrlab");
    });
    let c = only(&plan, "hosted_zone.containrlab.click");
    assert_eq!(c.action, Action::Update);
    assert!(c.fields.iter().all(|f| f.path.starts_with("tags")), "{:?}", fields(&c));
    assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
    // Another stack's reference proves nothing for this one.
    let plan = drift(|_, o| {
        let zone = o.dns.zone.as_mut().expect("zone");
        zone.tags = Tags::new();
        zone.caller_reference = crate::reconcile::dns::caller_reference("other-stack");
    });
    assert!(plan.changes.is_empty(), "{:?}", plan.changes.iter().map(|c| c.address.to_string()).collect::<Vec<_>>());
}

#[test]
fn a_widened_trust_policy_is_an_access_change_and_a_foreign_oidc_provider_is_used() {
    let plan = drift(|_, o| {
        let role = o.iam.roles.iter_mut().find(|r| r.name == "github-actions-deploy").expect("role");
        let trust = role.fields.trust.as_mut().expect("trust");
        trust["Statement"][0]["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"] =
            serde_json::json!(["repo:containrlab/containrlab:*"]);
        o.iam.oidc.as_mut().expect("oidc").tags = Tags::new();
    });
    let c = only(&plan, "iam_role.github-actions-deploy");
    assert_eq!(c.fields.len(), 1, "{:?}", fields(&c));
    assert_eq!(c.fields[0].path, "trust_policy");
    assert!(c.widens_access);
}

#[test]
fn a_detached_managed_policy_is_attached_again() {
    let plan = drift(|_, o| {
        let role = o.iam.roles.iter_mut().find(|r| r.name == "ecsInstanceRole").expect("role");
        role.fields.managed.remove("arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role");
    });
    let c = only(&plan, "iam_role.ecsInstanceRole");
    assert_eq!(
        fields(&c),
        vec![f(
            "managed_policies",
            "-",
            "\"arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role\""
        )]
    );
}

#[test]
fn a_tls_policy_change_a_rerouted_rule_and_a_public_ip_are_access_changes() {
    let plan = drift(|_, o| {
        let https = o.edge.listeners.iter_mut().find(|l| l.name == "https").expect("https listener");
        https.fields.ssl_policy = Some("ELBSecurityPolicy-2016-08".into());
    });
    assert!(only(&plan, "listener.https").widens_access, "a TLS policy change is an access change");
    let plan = drift(|_, o| {
        let rule = o.edge.rules.iter_mut().find(|r| r.name == "api.containrlab.click").expect("rule");
        let runner = o.edge.target_groups.iter().find(|t| t.name == "containrlab-runner-tg").expect("tg").id.clone();
        rule.fields.target_group_arns = vec![runner];
    });
    assert!(only(&plan, "listener_rule.api.containrlab.click").widens_access, "a rule routed elsewhere");
    // The file turns a public IP on: `up` would give the tasks one.
    let base = desired();
    let observed = converged(&base);
    let mut d = desired();
    d.services.iter_mut().find(|s| s.name == "containrlab-service").expect("service").assign_public_ip = true;
    let plan = crate::reconcile::tests::plan(&ctx(&d, Mode::Converge), &d, &observed);
    assert!(only(&plan, "ecs_service.containrlab-service").widens_access, "a public IP on the tasks");
    // And back: taking the public IP away narrows access.
    let plan = drift(|_, o| {
        let s = o.ecs.services.iter_mut().find(|s| s.name == "containrlab-service").expect("service");
        s.fields.assign_public_ip = Some(true);
    });
    assert!(!only(&plan, "ecs_service.containrlab-service").widens_access);
}
