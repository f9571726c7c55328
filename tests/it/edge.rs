//! The edge against moto: target groups, the balancer, its listeners and host rules, the
//! certificate and the DNS records come up on top of the network and converge; drift made by hand
//! (a health-check path, a deleted rule, a re-pointed alias) is shown exactly and repaired; `down`
//! removes the edge and keeps the hosted zone unless asked.

use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, LoadBalancerStateEnum};
use aws_sdk_elasticloadbalancingv2::Client as Elb;

use crate::support::{actions, Env};

#[test]
fn the_load_balancer_converges_and_a_health_check_changed_by_hand_is_repaired() {
    let env = Env::new();
    let elb = Elb::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);

    let lbs = env.block_on(elb.describe_load_balancers().names("containrlab-alb").send()).expect("load balancer");
    let lb = &lbs.load_balancers()[0];
    assert_eq!(lb.state().and_then(|s| s.code()), Some(&LoadBalancerStateEnum::Active));
    assert_eq!(lb.availability_zones().len(), 2, "in both public subnets");
    let listeners = env
        .block_on(elb.describe_listeners().load_balancer_arn(lb.load_balancer_arn().unwrap_or_default()).send())
        .expect("listeners");
    assert_eq!(listeners.listeners().len(), 2, "HTTP and HTTPS");
    let http = listeners.listeners().iter().find(|l| l.port() == Some(80)).expect("http listener");
    assert_eq!(http.default_actions()[0].r#type(), Some(&ActionTypeEnum::Redirect));
    let tgs = env.block_on(elb.describe_target_groups().send()).expect("target groups");
    let mut names: Vec<&str> = tgs.target_groups().iter().filter_map(|t| t.target_group_name()).collect();
    names.sort();
    assert_eq!(names, vec!["containrlab-api-tg", "containrlab-runner-tg", "containrlab-web-tg"]);

    env.run(&["diff", "--exit-code"]).expect_code(0);
    let again = env.run(&["up", "--yes"]);
    again.expect_code(0);
    assert!(again.mutating_calls().is_empty(), "{:?}", again.mutating_calls());

    let api = tgs
        .target_groups()
        .iter()
        .find(|t| t.target_group_name() == Some("containrlab-api-tg"))
        .and_then(|t| t.target_group_arn())
        .expect("arn");
    env.block_on(elb.modify_target_group().target_group_arn(api).health_check_path("/status").send()).expect("modify");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    let plan = diff.json();
    assert_eq!(actions(&plan), vec![("target_group.containrlab-api-tg".to_string(), "update".to_string())]);
    let field = &plan["changes"][0]["fields"];
    assert_eq!(field.as_array().map(Vec::len), Some(1));
    assert_eq!(
        (&field[0]["path"], &field[0]["before"], &field[0]["after"]),
        (&"health_check.path".into(), &"/status".into(), &"/healthz".into())
    );
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(repair.mutating_calls().get("Elastic Load Balancing v2:ModifyTargetGroup"), Some(&1));
    env.run(&["diff", "--exit-code"]).expect_code(0);

    env.run(&["down", "--yes", "--delete-data"]).expect_code(0);
    assert!(env.block_on(elb.describe_load_balancers().send()).expect("lbs").load_balancers().is_empty());
    assert!(env.block_on(elb.describe_target_groups().send()).expect("tgs").target_groups().is_empty());
}

#[test]
fn https_rules_and_aliases_are_repaired_and_the_zone_is_kept_unless_asked() {
    use aws_sdk_route53::types::{AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType};
    let env = Env::new();
    let sdk = env.sdk();
    let (elb, r53) = (Elb::new(&sdk), aws_sdk_route53::Client::new(&sdk));
    env.run(&["up", "--yes"]).expect_code(0);

    // The HTTPS listener serves the issued certificate; host rules forward to the target groups.
    let lb = env.block_on(elb.describe_load_balancers().names("containrlab-alb").send()).expect("lb");
    let lb_arn = lb.load_balancers()[0].load_balancer_arn().unwrap_or_default().to_string();
    let listeners = env.block_on(elb.describe_listeners().load_balancer_arn(&lb_arn).send()).expect("listeners");
    let https = listeners.listeners().iter().find(|l| l.port() == Some(443)).expect("https listener");
    assert_eq!(https.certificates().len(), 1);
    assert_eq!(https.ssl_policy(), Some("ELBSecurityPolicy-TLS13-1-2-PQ-2025-09"));
    let rules = env
        .block_on(elb.describe_rules().listener_arn(https.listener_arn().unwrap_or_default()).send())
        .expect("rules");
    let api_rule = rules
        .rules()
        .iter()
        .find(|r| r.priority() == Some("10"))
        .and_then(|r| r.rule_arn())
        .expect("api rule")
        .to_string();
    assert_eq!(
        rules.rules().iter().filter(|r| !r.is_default().unwrap_or(false)).count(),
        2,
        "api and app, never the runner"
    );

    // A listener rule deleted by hand is re-created.
    env.block_on(elb.delete_rule().rule_arn(&api_rule).send()).expect("delete rule");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    // 3: a listener rule to create routes the internet to a target group (an access change).
    diff.expect_code(3);
    assert_eq!(actions(&diff.json()), vec![("listener_rule.api.containrlab.click".to_string(), "create".to_string())]);
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(
        repair.mutating_calls().into_iter().collect::<Vec<_>>(),
        vec![("Elastic Load Balancing v2:CreateRule".to_string(), 1)]
    );
    env.run(&["diff", "--exit-code"]).expect_code(0);

    // An ALIAS record pointed elsewhere by hand is put back.
    let zones = env.block_on(r53.list_hosted_zones_by_name().dns_name("containrlab.click.").send()).expect("zones");
    let zone = zones.hosted_zones()[0].id().to_string();
    let elsewhere = AliasTarget::builder()
        .dns_name("other-lb-1.us-east-1.elb.amazonaws.com")
        .hosted_zone_id("Z35SXDOTRQ7X7K")
        .evaluate_target_health(false)
        .build()
        .expect("alias");
    let set = ResourceRecordSet::builder()
        .name("app.containrlab.click.")
        .r#type(RrType::A)
        .alias_target(elsewhere)
        .build()
        .expect("set");
    let batch = ChangeBatch::builder()
        .changes(Change::builder().action(ChangeAction::Upsert).resource_record_set(set).build().expect("change"))
        .build()
        .expect("batch");
    env.block_on(r53.change_resource_record_sets().hosted_zone_id(&zone).change_batch(batch).send()).expect("repoint");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    let plan = diff.json();
    assert_eq!(actions(&plan), vec![("dns_records.containrlab.click".to_string(), "update".to_string())]);
    let field = &plan["changes"][0]["fields"];
    assert_eq!(field.as_array().map(Vec::len), Some(1), "{field}");
    assert_eq!(
        (&field[0]["path"], &field[0]["after"]),
        (&"app.containrlab.click A".into(), &"load_balancer.containrlab-alb".into())
    );
    env.run(&["up", "--yes"]).expect_code(0);
    env.run(&["diff", "--exit-code"]).expect_code(0);

    // down keeps the hosted zone unless data deletion is asked.
    env.run(&["down", "--yes"]).expect_code(0);
    assert_eq!(
        env.block_on(r53.list_hosted_zones_by_name().dns_name("containrlab.click.").send())
            .expect("zones")
            .hosted_zones()
            .len(),
        1
    );
    env.run(&["down", "--yes", "--delete-data"]).expect_code(0);
    let left = env.block_on(r53.list_hosted_zones_by_name().dns_name("containrlab.click.").send()).expect("zones");
    assert!(left.hosted_zones().iter().all(|z| z.name() != "containrlab.click."), "the zone was deleted on request");
}

#[test]
fn a_target_group_replacement_creates_the_new_group_moves_the_rule_then_deletes_the_old() {
    let env = Env::new();
    let elb = Elb::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    env.edit_stack("    containrlab-api-tg:\n      port: 8000", "    containrlab-api-tg:\n      port: 8001");
    let diff = env.run(&["diff", "--exit-code"]);
    diff.expect_code(3);
    // The alarms name the old group by its ARN's random suffix (`targetgroup/NAME/<16 hex>`).
    let groups = env.block_on(elb.describe_target_groups().names("containrlab-api-tg").send()).expect("group");
    let arn = groups.target_groups()[0].target_group_arn().expect("arn").to_string();
    let suffix = arn.rsplit('/').next().expect("suffix").to_string();
    insta::assert_snapshot!("target_group_replacement_human", diff.stdout.replace(&suffix, "ID"));

    let up = env.run(&["up", "--yes"]);
    up.expect_code(0);
    let line = |text: &str| {
        up.stderr.lines().position(|l| l.contains(text)).unwrap_or_else(|| panic!("no `{text}` in\n{}", up.stderr))
    };
    let created = line("+ target_group.containrlab-api-tg: created");
    let moved = line("~ listener_rule.api.containrlab.click: updated");
    let deleted = line("- target_group.containrlab-api-tg: deleted");
    let service_moved = line("~ ecs_service.containrlab-service: updated");
    assert!(created < moved && moved < deleted, "create → move rules → delete:\n{}", up.stderr);
    assert!(created < service_moved && service_moved < deleted, "the service moves before the old group goes");
    env.run(&["diff", "--exit-code"]).expect_code(0);

    let tgs = env.block_on(elb.describe_target_groups().send()).expect("target groups");
    let api: Vec<_> = tgs
        .target_groups()
        .iter()
        .filter(|t| t.target_group_name().is_some_and(|n| n.starts_with("containrlab-api-tg")))
        .collect();
    assert_eq!(api.len(), 1, "the old group is gone");
    assert_eq!(api[0].port(), Some(8001));
}

#[test]
fn swapping_two_rule_priorities_never_collides() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    env.edit_stack("{ priority: 10, host: api.containrlab.click", "{ priority: 20, host: api.containrlab.click");
    env.edit_stack("{ priority: 20, host: app.containrlab.click", "{ priority: 10, host: app.containrlab.click");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    assert_eq!(
        actions(&diff.json()),
        vec![
            ("listener_rule.api.containrlab.click".to_string(), "update".to_string()),
            ("listener_rule.app.containrlab.click".to_string(), "update".to_string())
        ]
    );
    env.run(&["up", "--yes"]).expect_code(0);
    env.run(&["diff", "--exit-code"]).expect_code(0);
}

/// ACM renews a certificate only while its validation CNAMEs resolve: one deleted by hand is
/// drift of the certificate (and a failed `doctor` check), and `up` writes it back.
#[test]
fn a_validation_record_deleted_by_hand_is_shown_and_written_back() {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, RrType};
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    let r53 = aws_sdk_route53::Client::new(&env.sdk());
    let zones = env.block_on(r53.list_hosted_zones().send()).expect("zones");
    let zone = zones.hosted_zones()[0].id().to_string();
    let cnames = || {
        let sets = env.block_on(r53.list_resource_record_sets().hosted_zone_id(&zone).send()).expect("records");
        sets.resource_record_sets().iter().filter(|s| s.r#type() == &RrType::Cname).cloned().collect::<Vec<_>>()
    };
    let before = cnames();
    assert!(!before.is_empty(), "up wrote the validation records");
    let gone =
        Change::builder().action(ChangeAction::Delete).resource_record_set(before[0].clone()).build().expect("change");
    let batch = ChangeBatch::builder().changes(gone).build().expect("batch");
    env.block_on(r53.change_resource_record_sets().hosted_zone_id(&zone).change_batch(batch).send()).expect("deleted");

    let diff = env.run(&["diff", "--exit-code"]);
    diff.expect_code(2);
    assert!(diff.stdout.contains("~ certificate.containrlab.click"), "{}", diff.stdout);
    assert!(diff.stdout.contains("validation_records"), "{}", diff.stdout);
    // `doctor` names it too (the images are not pushed here: only the certificate line is read).
    let name = before[0].name().trim_end_matches('.').to_string();
    let check = |json: &serde_json::Value| {
        let c =
            json["checks"].as_array().expect("checks").iter().find(|c| c["check"] == "certificate containrlab.click");
        c.cloned().unwrap_or_else(|| panic!("no certificate check in {json}"))
    };
    let doctor = check(&env.run(&["--json", "doctor"]).json());
    assert_eq!(doctor["status"], "fail", "{doctor}");
    let detail = doctor["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("validation record(s) {name}")) && detail.ends_with("missing from containrlab.click"),
        "{doctor}"
    );
    assert!(doctor["fix"].as_str().unwrap_or_default().starts_with("`containrlab up` writes them back"), "{doctor}");
    env.run(&["up", "--yes"]).expect_code(0);
    assert_eq!(cnames().len(), before.len(), "written back");
    let doctor = check(&env.run(&["--json", "doctor"]).json());
    assert_eq!(
        (doctor["status"].as_str(), doctor["detail"].as_str()),
        (Some("pass"), Some("ISSUED; its validation records are in containrlab.click"))
    );
    env.run(&["diff", "--exit-code"]).expect_code(0);
}
