//! `adopt`: a stack that exists without the tool's tags is taken over by writing only the
//! ownership tags; the drift it shows is what the next `diff` shows; `up` repairs it and a second
//! `up` changes nothing; no resource is replaced or duplicated.
//!
//! The hand-built inventory: the hosted zone is made first as a registrar would (its own caller
//! reference), then the seed's resources by the tool itself and every tag removed through the
//! services' own SDK calls, then drift added by hand. Building the 73 resources call by call in
//! the test would give the same inventory; the difference that matters — no ownership tag, no
//! stack tag — is the one made here.

use std::collections::BTreeSet;

use aws_sdk_acm::Client as Acm;
use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_cloudwatch::Client as CloudWatch;
use aws_sdk_cloudwatchlogs::Client as Logs;
use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ecr::Client as Ecr;
use aws_sdk_ecs::Client as Ecs;
use aws_sdk_elasticloadbalancingv2::Client as Elb;
use aws_sdk_iam::Client as Iam;
use aws_sdk_route53::Client as Route53;
use aws_sdk_ssm::Client as Ssm;
use serde_json::Value;

use crate::support::Env;

/// The tagging calls adopt may make (besides the stack lock's).
const TAGGING: [&str; 12] = [
    "CreateTags",
    "AddTags",
    "AddTagsToCertificate",
    "ChangeTagsForResource",
    "TagRole",
    "TagOpenIDConnectProvider",
    "TagResource",
    "CreateOrUpdateTags",
    "AddTagsToResource",
    "TagLogGroup",
    "PutParameter",
    "DeleteParameter",
];

#[test]
fn a_hand_built_stack_is_adopted_with_tags_only_then_repaired_in_place() {
    let env = Env::new();
    let sdk = env.sdk();
    let r53 = Route53::new(&sdk);
    env.block_on(r53.create_hosted_zone().name("containrlab.click").caller_reference("registrar-2025").send())
        .expect("zone");
    env.run(&["up", "--yes"]).expect_code(0);
    env.block_on(strip_every_tag(&sdk));
    let ec2 = Ec2::new(&sdk);
    // As built by hand: the VPC has a Name; a second VPC with the same CIDR is someone else's.
    let vpcs = env.block_on(ec2.describe_vpcs().send()).expect("vpcs");
    let vpc_id = vpcs
        .vpcs()
        .iter()
        .find(|v| v.cidr_block() == Some("10.0.0.0/16"))
        .and_then(|v| v.vpc_id())
        .expect("vpc")
        .to_string();
    let name = aws_sdk_ec2::types::Tag::builder().key("Name").value("containrlab-vpc").build();
    env.block_on(ec2.create_tags().resources(&vpc_id).tags(name).send()).expect("name");
    env.block_on(ec2.create_vpc().cidr_block("10.0.0.0/16").send()).expect("decoy vpc");
    // Drift made by hand: retention, tag mutability.
    let logs = Logs::new(&sdk);
    env.block_on(logs.put_retention_policy().log_group_name("/ecs/containrlab-api").retention_in_days(30).send())
        .expect("retention");
    let ecr = Ecr::new(&sdk);
    let immutable = aws_sdk_ecr::types::ImageTagMutability::Immutable;
    env.block_on(
        ecr.put_image_tag_mutability().repository_name("containrlab-web").image_tag_mutability(immutable).send(),
    )
    .expect("mutability");

    // Before: `up` stops on conflicts, `diff` would build a second network.
    let before = env.run(&["--json", "diff"]);
    before.expect_code(1);
    assert!(before.json()["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .any(|c| c["address"] == "vpc.containrlab" && c["action"] == "create"));

    // The adoption plan, without confirmation: nothing written.
    let preview = env.run(&["adopt"]);
    preview.expect_code(1);
    assert!(preview.stderr.contains("pass --yes"), "{}", preview.stderr);
    assert!(mutating(&preview).is_empty(), "{:?}", preview.calls);
    let out = &preview.stdout;
    let vpc_line = out.lines().find(|l| l.starts_with("  vpc.containrlab ")).unwrap_or_default();
    assert!(vpc_line.ends_with(&format!("{vpc_id}  (CIDR 10.0.0.0/16, Name `containrlab-vpc`)")), "{out}");
    for line in [
        "subnet.public-a",
        "(CIDR 10.0.0.0/24 in us-east-1a)",
        "(the address of nat_gateway.public-a)",
        "(associated with private-a, private-b)",
        "(group name runner-sg in the VPC)",
        "(domain containrlab.click with api.containrlab.click, app.containrlab.click (ISSUED))",
        "(zone containrlab.click)",
        "listener_rule.api.containrlab.click  follows load_balancer.containrlab-alb",
        "retention_days:",
        "\"IMMUTABLE\" → \"MUTABLE\"",
        // moto's DeleteTags does not reach launch templates: the template keeps its tags, so it
        // is already this stack's (on AWS it would be one more to adopt).
        "Adoption: 64 to adopt, 8 owned through another, 1 already owned, 0 missing, 0 not matched, 0 refused.",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }

    let adopted = env.run(&["--json", "adopt", "--yes"]);
    adopted.expect_code(0);
    let plan = adopted.json();
    assert_eq!(plan["applied"], true);
    for (call, _) in mutating(&adopted) {
        let op = call.rsplit(':').next().unwrap_or_default();
        assert!(TAGGING.contains(&op), "adopt made a call that is not tagging: {call}");
    }
    let ids: BTreeSet<String> = plan["adopt"]
        .as_array()
        .expect("adopt")
        .iter()
        .flat_map(|a| a["ids"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    assert!(ids.contains(&vpc_id), "{ids:?}");
    // The terminal view, golden, with the ids moto makes up replaced (longest first: no id is
    // a prefix of another's replacement).
    let mut by_length: Vec<&String> = ids.iter().collect();
    by_length.sort_by_key(|id| std::cmp::Reverse(id.len()));
    let human = by_length.into_iter().fold(preview.stdout.clone(), |text, id| text.replace(id.as_str(), "ID"));
    insta::assert_snapshot!("adopt_human", human);
    let drift = addresses(&plan["drift"]);

    // Twice: nothing to adopt, nothing written.
    let again = env.run(&["adopt", "--yes"]);
    again.expect_code(0);
    assert!(again.stderr.contains("Nothing to adopt."), "{}", again.stderr);
    assert!(mutating(&again).is_empty(), "{:?}", again.calls);

    // The next diff shows exactly the drift the adoption plan showed: updates, no create, no replace.
    let diff = env.run(&["--json", "diff"]);
    diff.expect_code(0);
    let changes = diff.json();
    assert_eq!(addresses(&changes), drift);
    for c in changes["changes"].as_array().expect("changes") {
        assert_eq!(c["action"], "update", "{c}");
    }
    let retention = changes["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["address"] == "log_group./ecs/containrlab-api");
    assert!(retention.is_some_and(|c| c.to_string().contains("retention_days")), "{changes}");

    env.run(&["up", "--yes"]).expect_code(0);
    let second = env.run(&["up", "--yes"]);
    second.expect_code(0);
    assert!(second.mutating_calls().is_empty(), "{:?}", second.mutating_calls());

    // The same resources, none duplicated: every adopted id still exists.
    let vpcs = env.block_on(ec2.describe_vpcs().filters(filter("cidr", "10.0.0.0/16")).send()).expect("vpcs");
    assert_eq!(vpcs.vpcs().len(), 2, "ours and the decoy");
    let subnets = env.block_on(ec2.describe_subnets().filters(filter("vpc-id", &vpc_id)).send()).expect("subnets");
    assert_eq!(subnets.subnets().len(), 4);
    assert!(subnets.subnets().iter().all(|s| ids.contains(s.subnet_id().unwrap_or_default())));
    let nats = env.block_on(ec2.describe_nat_gateways().send()).expect("nat");
    let live: Vec<_> =
        nats.nat_gateways().iter().filter(|n| n.state().is_some_and(|s| s.as_str() == "available")).collect();
    assert_eq!(live.len(), 1);
    assert!(ids.contains(live[0].nat_gateway_id().unwrap_or_default()));
    let lbs = env.block_on(Elb::new(&sdk).describe_load_balancers().send()).expect("lbs");
    assert_eq!(lbs.load_balancers().len(), 1);
    assert!(ids.contains(lbs.load_balancers()[0].load_balancer_arn().unwrap_or_default()));
    let certs = env.block_on(Acm::new(&sdk).list_certificates().send()).expect("certs");
    assert_eq!(certs.certificate_summary_list().len(), 1);
    let zones = env.block_on(r53.list_hosted_zones().send()).expect("zones");
    assert_eq!(zones.hosted_zones().len(), 1);
}

#[test]
fn another_stacks_resource_is_refused_and_several_candidates_are_listed_not_guessed() {
    let env = Env::new();
    let sdk = env.sdk();
    let ec2 = Ec2::new(&sdk);
    let a = env.block_on(ec2.create_vpc().cidr_block("10.0.0.0/16").send()).expect("vpc a");
    let b = env.block_on(ec2.create_vpc().cidr_block("10.0.0.0/16").send()).expect("vpc b");
    let logs = Logs::new(&sdk);
    env.block_on(
        logs.create_log_group()
            .log_group_name("/ecs/containrlab-api")
            .tags("ManagedBy", "containrlab")
            .tags("containrlab:stack", "staging")
            .send(),
    )
    .expect("log group");
    let run = env.run(&["--json", "adopt", "--yes"]);
    run.expect_code(1);
    assert!(mutating(&run).is_empty(), "{:?}", run.calls);
    let out = run.json();
    assert_eq!(out["applied"], false);
    assert_eq!(out["refused"], serde_json::json!([{"address": "log_group./ecs/containrlab-api", "stack": "staging"}]));
    let unmatched = &out["unmatched"][0];
    assert_eq!(unmatched["address"], "vpc.containrlab");
    let ids: BTreeSet<&str> = unmatched["ids"].as_array().expect("ids").iter().filter_map(Value::as_str).collect();
    let want: BTreeSet<&str> =
        [a.vpc().and_then(|v| v.vpc_id()), b.vpc().and_then(|v| v.vpc_id())].into_iter().flatten().collect();
    assert_eq!(ids, want);
    assert!(run.stderr.contains("2 address(es) need a decision"), "{}", run.stderr);
    let human = env.run(&["adopt", "--yes"]).stdout;
    assert!(human.contains("vpc.containrlab  2 VPCs have CIDR 10.0.0.0/16 and no Name tag tells which"), "{human}");
    assert!(human.contains("log_group./ecs/containrlab-api  belongs to stack `staging`"), "{human}");
}

fn filter(name: &str, value: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder().name(name).values(value).build()
}

/// Mutating calls of a run, the stack lock's included (adopt's lock is an SSM parameter).
fn mutating(run: &crate::support::Run) -> Vec<(String, u64)> {
    run.mutating_calls().into_iter().collect()
}

fn addresses(plan: &Value) -> BTreeSet<String> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["address"].as_str().map(str::to_string))
        .collect()
}

/// Removes every tag from every resource of the account, service by service.
async fn strip_every_tag(sdk: &aws_config::SdkConfig) {
    let ec2 = Ec2::new(sdk);
    let tags = ec2.describe_tags().max_results(1000).send().await.expect("ec2 tags");
    let mut ids: BTreeSet<String> = tags.tags().iter().filter_map(|t| t.resource_id().map(str::to_string)).collect();
    let templates = ec2.describe_launch_templates().send().await.expect("templates");
    ids.extend(templates.launch_templates().iter().filter_map(|t| t.launch_template_id().map(str::to_string)));
    for id in &ids {
        let all: Vec<_> = ["ManagedBy", "containrlab:stack", "containrlab:address", "Project", "Environment", "Name"]
            .iter()
            .map(|k| aws_sdk_ec2::types::Tag::builder().key(*k).build())
            .collect();
        ec2.delete_tags().resources(id).set_tags(Some(all)).send().await.expect("ec2 untag");
    }

    let elb = Elb::new(sdk);
    let lbs = elb.describe_load_balancers().send().await.expect("lbs");
    let tgs = elb.describe_target_groups().send().await.expect("tgs");
    let mut arns: Vec<String> =
        lbs.load_balancers().iter().filter_map(|l| l.load_balancer_arn().map(str::to_string)).collect();
    arns.extend(tgs.target_groups().iter().filter_map(|t| t.target_group_arn().map(str::to_string)));
    for lb in lbs.load_balancers() {
        let listeners = elb
            .describe_listeners()
            .load_balancer_arn(lb.load_balancer_arn().unwrap_or_default())
            .send()
            .await
            .expect("listeners");
        for l in listeners.listeners() {
            arns.extend(l.listener_arn().map(str::to_string));
            let rules =
                elb.describe_rules().listener_arn(l.listener_arn().unwrap_or_default()).send().await.expect("rules");
            arns.extend(rules.rules().iter().filter_map(|r| r.rule_arn().map(str::to_string)));
        }
    }
    for arn in &arns {
        let d = elb.describe_tags().resource_arns(arn).send().await.expect("elb tags");
        let keys: Vec<String> = d
            .tag_descriptions()
            .iter()
            .flat_map(|t| t.tags())
            .map(|t| t.key().unwrap_or_default().to_string())
            .collect();
        if !keys.is_empty() {
            elb.remove_tags().resource_arns(arn).set_tag_keys(Some(keys)).send().await.expect("elb untag");
        }
    }

    let ecr = Ecr::new(sdk);
    for r in ecr.describe_repositories().send().await.expect("repos").repositories() {
        let arn = r.repository_arn().unwrap_or_default();
        let keys: Vec<String> = ecr
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .expect("ecr tags")
            .tags()
            .iter()
            .map(|t| t.key().to_string())
            .collect();
        if !keys.is_empty() {
            ecr.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)).send().await.expect("ecr untag");
        }
    }

    let ecs = Ecs::new(sdk);
    let mut arns: Vec<String> = Vec::new();
    for cluster in ecs.list_clusters().send().await.expect("clusters").cluster_arns() {
        arns.push(cluster.clone());
        arns.extend(
            ecs.list_services().cluster(cluster).send().await.expect("services").service_arns().iter().cloned(),
        );
    }
    arns.extend(
        ecs.list_task_definitions().send().await.expect("task definitions").task_definition_arns().iter().cloned(),
    );
    let providers =
        ecs.describe_capacity_providers().capacity_providers("containrlab-runner-ec2").send().await.expect("providers");
    arns.extend(providers.capacity_providers().iter().filter_map(|p| p.capacity_provider_arn().map(str::to_string)));
    for arn in &arns {
        let keys: Vec<String> = ecs
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .expect("ecs tags")
            .tags()
            .iter()
            .filter_map(|t| t.key().map(str::to_string))
            .collect();
        if !keys.is_empty() {
            ecs.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)).send().await.expect("ecs untag");
        }
    }

    let iam = Iam::new(sdk);
    for role in iam.list_roles().path_prefix("/containrlab/").send().await.expect("roles").roles() {
        let name = role.role_name();
        let keys: Vec<String> = iam
            .list_role_tags()
            .role_name(name)
            .send()
            .await
            .expect("role tags")
            .tags()
            .iter()
            .map(|t| t.key().to_string())
            .collect();
        if !keys.is_empty() {
            iam.untag_role().role_name(name).set_tag_keys(Some(keys)).send().await.expect("role untag");
        }
    }
    for p in iam.list_open_id_connect_providers().send().await.expect("oidc").open_id_connect_provider_list() {
        let arn = p.arn().unwrap_or_default();
        let keys: Vec<String> = iam
            .list_open_id_connect_provider_tags()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .expect("oidc tags")
            .tags()
            .iter()
            .map(|t| t.key().to_string())
            .collect();
        if !keys.is_empty() {
            iam.untag_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .set_tag_keys(Some(keys))
                .send()
                .await
                .expect("oidc untag");
        }
    }

    let ssm = Ssm::new(sdk);
    use aws_sdk_ssm::types::ResourceTypeForTagging::Parameter;
    for name in ["GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "NEXTAUTH_SECRET", "GEMINI_API_KEY", "SESSION_TTL_SECONDS"]
    {
        let id = format!("/containrlab/{name}");
        let keys: Vec<String> = ssm
            .list_tags_for_resource()
            .resource_type(Parameter)
            .resource_id(&id)
            .send()
            .await
            .expect("ssm tags")
            .tag_list()
            .iter()
            .map(|t| t.key().to_string())
            .collect();
        if !keys.is_empty() {
            ssm.remove_tags_from_resource()
                .resource_type(Parameter)
                .resource_id(&id)
                .set_tag_keys(Some(keys))
                .send()
                .await
                .expect("ssm untag");
        }
    }

    let logs = Logs::new(sdk);
    for g in logs.describe_log_groups().send().await.expect("log groups").log_groups() {
        let name = g.log_group_name().unwrap_or_default();
        #[allow(deprecated)]
        let tags = logs.list_tags_log_group().log_group_name(name).send().await.expect("log tags");
        let keys: Vec<String> = tags.tags().map(|t| t.keys().cloned().collect()).unwrap_or_default();
        if !keys.is_empty() {
            #[allow(deprecated)]
            logs.untag_log_group().log_group_name(name).set_tags(Some(keys)).send().await.expect("log untag");
        }
    }

    let cw = CloudWatch::new(sdk);
    for a in cw.describe_alarms().send().await.expect("alarms").metric_alarms() {
        let arn = a.alarm_arn().unwrap_or_default();
        let keys: Vec<String> = cw
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .expect("alarm tags")
            .tags()
            .iter()
            .filter_map(|t| t.key().map(str::to_string))
            .collect();
        if !keys.is_empty() {
            cw.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)).send().await.expect("alarm untag");
        }
    }

    let sns = aws_sdk_sns::Client::new(sdk);
    for t in sns.list_topics().send().await.expect("topics").topics() {
        let arn = t.topic_arn().unwrap_or_default();
        let tags = sns.list_tags_for_resource().resource_arn(arn).send().await.expect("topic tags");
        let keys: Vec<String> = tags.tags().iter().map(|t| t.key().to_string()).collect();
        if !keys.is_empty() {
            sns.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)).send().await.expect("topic untag");
        }
    }

    let acm = Acm::new(sdk);
    for c in acm.list_certificates().send().await.expect("certs").certificate_summary_list() {
        let arn = c.certificate_arn().unwrap_or_default();
        let tags =
            acm.list_tags_for_certificate().certificate_arn(arn).send().await.expect("cert tags").tags().to_vec();
        if !tags.is_empty() {
            acm.remove_tags_from_certificate()
                .certificate_arn(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .expect("cert untag");
        }
    }

    let asg = AutoScaling::new(sdk);
    for g in asg.describe_auto_scaling_groups().send().await.expect("groups").auto_scaling_groups() {
        let name = g.auto_scaling_group_name().unwrap_or_default();
        let tags: Vec<_> = g
            .tags()
            .iter()
            .map(|t| {
                aws_sdk_autoscaling::types::Tag::builder()
                    .resource_id(name)
                    .resource_type("auto-scaling-group")
                    .key(t.key().unwrap_or_default())
                    .build()
            })
            .collect();
        if !tags.is_empty() {
            asg.delete_tags().set_tags(Some(tags)).send().await.expect("group untag");
        }
    }
    // The zone was made by hand before `up` and never tagged.
}
