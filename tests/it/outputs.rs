//! `outputs`: each value checked against what AWS itself reports (the load balancer's DNS name,
//! repository URIs, the deploy role's ARN, the zone's name servers), read-only, and exit 1 naming
//! what is missing before `up`.

use aws_sdk_ecr::Client as Ecr;
use aws_sdk_elasticloadbalancingv2::Client as Elb;
use aws_sdk_iam::Client as Iam;
use aws_sdk_route53::Client as Route53;

use crate::support::Env;

#[test]
fn outputs_report_what_aws_reports_and_name_what_is_missing() {
    let env = Env::new();
    let before = env.run(&["outputs"]);
    before.expect_code(1);
    assert!(before.stderr.contains("do not exist yet: load_balancer.containrlab-alb,"), "{}", before.stderr);
    assert!(before.stderr.contains("run `containrlab up`"), "{}", before.stderr);

    env.run(&["up", "--yes"]).expect_code(0);
    let run = env.run(&["--json", "outputs"]);
    run.expect_code(0);
    assert!(run.mutating_calls().is_empty(), "{:?}", run.mutating_calls());
    let out = run.json();
    let sdk = env.sdk();

    let lbs = env.block_on(Elb::new(&sdk).describe_load_balancers().names("containrlab-alb").send()).expect("lb");
    let lb = &lbs.load_balancers()[0];
    assert_eq!(out["load_balancer"]["dns_name"], lb.dns_name().unwrap_or_default().to_lowercase());
    assert_eq!(out["load_balancer"]["state"], "active");
    assert_eq!(out["urls"], serde_json::json!(["https://api.containrlab.click", "https://app.containrlab.click"]));

    let repos = env.block_on(Ecr::new(&sdk).describe_repositories().send()).expect("repositories");
    assert_eq!(repos.repositories().len(), 4);
    for r in repos.repositories() {
        assert_eq!(
            out["repositories"][r.repository_name().unwrap_or_default()],
            r.repository_uri().unwrap_or_default()
        );
    }
    let role = env.block_on(Iam::new(&sdk).get_role().role_name("github-actions-deploy").send()).expect("role");
    assert_eq!(out["deploy_role"], role.role().map(|r| r.arn()).unwrap_or_default());
    assert_eq!(out["roles"].as_object().map(|m| m.len()), Some(6));
    let topics = env.block_on(aws_sdk_sns::Client::new(&sdk).list_topics().send()).expect("topics");
    assert_eq!(out["alarm_topic"], topics.topics()[0].topic_arn().unwrap_or_default());

    let zone_id = out["hosted_zone"]["id"].as_str().expect("zone id").to_string();
    let zone = env.block_on(Route53::new(&sdk).get_hosted_zone().id(&zone_id).send()).expect("zone");
    let servers = zone.delegation_set().map(|d| d.name_servers().to_vec()).unwrap_or_default();
    assert!(!servers.is_empty());
    assert_eq!(out["hosted_zone"]["name_servers"], serde_json::json!(servers));
    assert_eq!(
        out["services"],
        serde_json::json!([
            {"cluster": "containrlab-runner-ec2", "service": "containrlab-runner-service"},
            {"cluster": "containrlab-cluster", "service": "containrlab-service"}
        ])
    );

    // The terminal view, with the ids moto makes up replaced.
    let mut human = env.run(&["outputs"]).stdout;
    human = human.replace(lb.dns_name().unwrap_or_default(), "LB-DNS-NAME").replace(&zone_id, "ZONE-ID");
    for (i, s) in servers.iter().enumerate() {
        human = human.replace(s.as_str(), &format!("ns-{i}.example"));
    }
    insta::assert_snapshot!("outputs_human", human);
}
