//! The headline round trip of the whole stack: `up` on an empty account builds every resource, an
//! empty `diff`, a second `up` with no mutating call, changes behind the tool's back shown exactly
//! and repaired, and `down` removing everything that carries the stack's tag (checked service by
//! service) except the data it keeps, and nothing else.

use aws_sdk_cloudwatchlogs::Client as Logs;
use aws_sdk_ecr::Client as Ecr;
use aws_sdk_ssm::types::ParameterType;
use aws_sdk_ssm::Client as Ssm;

use crate::support::{actions, Env};

const REPOS: [&str; 4] = ["containrlab-api", "containrlab-runner", "containrlab-runnerd", "containrlab-web"];
const LOG_GROUPS: [&str; 4] =
    ["/ecs/containrlab-api", "/ecs/containrlab-runner", "/ecs/containrlab-web", "/vpc/containrlab-flow-logs"];

fn repo_names(env: &Env, ecr: &Ecr) -> Vec<String> {
    let out = env.block_on(ecr.describe_repositories().send()).expect("describe repositories");
    let mut names: Vec<String> =
        out.repositories().iter().filter_map(|r| r.repository_name().map(str::to_string)).collect();
    names.sort();
    names
}

fn parameter_names(env: &Env, ssm: &Ssm) -> Vec<String> {
    // By path: moto also lists the thousands of public AMI parameters it loaded when the tool read one.
    let pages = env
        .block_on(
            ssm.get_parameters_by_path()
                .path("/containrlab")
                .recursive(true)
                .into_paginator()
                .send()
                .collect::<Result<Vec<_>, _>>(),
        )
        .expect("parameters by path");
    let mut names: Vec<String> =
        pages.iter().flat_map(|p| p.parameters()).filter_map(|p| p.name().map(str::to_string)).collect();
    names.sort();
    names
}

fn log_group_names(env: &Env, logs: &Logs) -> Vec<String> {
    let out = env.block_on(logs.describe_log_groups().send()).expect("describe log groups");
    out.log_groups().iter().filter_map(|g| g.log_group_name().map(str::to_string)).collect()
}

/// Everything that still carries this stack's ownership tag, asked of each service directly (moto's
/// Resource Groups Tagging API does not cover all of them): `service:name`. ECS clusters and
/// services count only while ACTIVE (deleted ones stay listed as INACTIVE for a while, on AWS too).
pub fn owned_leftovers(env: &Env) -> Vec<String> {
    use aws_sdk_ecs::types::{ClusterField, ServiceField};
    let sdk = env.sdk();
    let ours =
        |key: Option<&str>, value: Option<&str>| key == Some("containrlab:stack") && value == Some("containrlab");
    let mut out = Vec::new();
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    // Resource by resource type: moto's DescribeTags still lists the tags of deleted resources.
    let f = || aws_sdk_ec2::types::Filter::builder().name("tag:containrlab:stack").values("containrlab").build();
    let nats = env.block_on(ec2.describe_nat_gateways().filter(f()).send()).expect("nats");
    let counts = [
        ("vpc", env.block_on(ec2.describe_vpcs().filters(f()).send()).expect("vpcs").vpcs().len()),
        ("subnet", env.block_on(ec2.describe_subnets().filters(f()).send()).expect("subnets").subnets().len()),
        (
            "internet_gateway",
            env.block_on(ec2.describe_internet_gateways().filters(f()).send()).expect("igws").internet_gateways().len(),
        ),
        ("elastic_ip", env.block_on(ec2.describe_addresses().filters(f()).send()).expect("eips").addresses().len()),
        (
            "nat_gateway",
            nats.nat_gateways().iter().filter(|n| n.state().is_none_or(|s| s.as_str() != "deleted")).count(),
        ),
        (
            "route_table",
            env.block_on(ec2.describe_route_tables().filters(f()).send()).expect("rtbs").route_tables().len(),
        ),
        (
            "security_group",
            env.block_on(ec2.describe_security_groups().filters(f()).send()).expect("sgs").security_groups().len(),
        ),
        (
            "launch_template",
            env.block_on(ec2.describe_launch_templates().filters(f()).send()).expect("lts").launch_templates().len(),
        ),
        ("flow_log", env.block_on(ec2.describe_flow_logs().filter(f()).send()).expect("flow logs").flow_logs().len()),
    ];
    for (what, n) in counts {
        out.extend((0..n).map(|i| format!("ec2:{what}#{i}")));
    }
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let lbs = env.block_on(elb.describe_load_balancers().send()).expect("lbs");
    let tgs = env.block_on(elb.describe_target_groups().send()).expect("tgs");
    out.extend(lbs.load_balancers().iter().map(|l| format!("elb:{}", l.load_balancer_name().unwrap_or_default())));
    out.extend(tgs.target_groups().iter().map(|t| format!("elb:{}", t.target_group_name().unwrap_or_default())));
    let acm = aws_sdk_acm::Client::new(&sdk);
    for c in env.block_on(acm.list_certificates().send()).expect("certs").certificate_summary_list() {
        out.push(format!("acm:{}", c.domain_name().unwrap_or_default()));
    }
    let iam = aws_sdk_iam::Client::new(&sdk);
    for r in env.block_on(iam.list_roles().path_prefix("/containrlab/").send()).expect("roles").roles() {
        out.push(format!("iam:{}", r.role_name()));
    }
    for p in env.block_on(iam.list_open_id_connect_providers().send()).expect("oidc").open_id_connect_provider_list() {
        let arn = p.arn().unwrap_or_default();
        let tags = env.block_on(iam.list_open_id_connect_provider_tags().open_id_connect_provider_arn(arn).send());
        if tags.is_ok_and(|t| t.tags().iter().any(|t| ours(Some(t.key()), Some(t.value())))) {
            out.push(format!("iam:{arn}"));
        }
    }
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let clusters = env.block_on(ecs.list_clusters().send()).expect("clusters").cluster_arns().to_vec();
    let described = env
        .block_on(ecs.describe_clusters().set_clusters(Some(clusters)).include(ClusterField::Tags).send())
        .expect("describe clusters");
    for c in described.clusters().iter().filter(|c| c.status() == Some("ACTIVE")) {
        let name = c.cluster_name().unwrap_or_default();
        if c.tags().iter().any(|t| ours(t.key(), t.value())) {
            out.push(format!("ecs:{name}"));
        }
        let services =
            env.block_on(ecs.list_services().cluster(name).send()).expect("services").service_arns().to_vec();
        if !services.is_empty() {
            let d = env
                .block_on(
                    ecs.describe_services()
                        .cluster(name)
                        .set_services(Some(services))
                        .include(ServiceField::Tags)
                        .send(),
                )
                .expect("describe services");
            for s in d.services().iter().filter(|s| s.status() == Some("ACTIVE")) {
                out.push(format!("ecs:{}", s.service_name().unwrap_or_default()));
            }
        }
    }
    for family in ["containrlab-task", "containrlab-runner"] {
        let tds = env.block_on(ecs.list_task_definitions().family_prefix(family).send()).expect("task definitions");
        out.extend(tds.task_definition_arns().iter().map(|a| format!("ecs:{}", a.rsplit('/').next().unwrap_or(a))));
    }
    let providers = env.block_on(ecs.describe_capacity_providers().capacity_providers("containrlab-runner-ec2").send());
    for p in providers.expect("capacity providers").capacity_providers() {
        out.push(format!("ecs:{}", p.name().unwrap_or_default()));
    }
    let asg = aws_sdk_autoscaling::Client::new(&sdk);
    for g in env.block_on(asg.describe_auto_scaling_groups().send()).expect("asgs").auto_scaling_groups() {
        out.push(format!("autoscaling:{}", g.auto_scaling_group_name().unwrap_or_default()));
    }
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    for a in env.block_on(cw.describe_alarms().send()).expect("alarms").metric_alarms() {
        out.push(format!("cloudwatch:{}", a.alarm_name().unwrap_or_default()));
    }
    let sns = aws_sdk_sns::Client::new(&sdk);
    for t in env.block_on(sns.list_topics().send()).expect("topics").topics() {
        out.push(format!("sns:{}", t.topic_arn().unwrap_or_default().rsplit(':').next().unwrap_or_default()));
    }
    let ecr = Ecr::new(&sdk);
    for r in repo_names(env, &ecr).into_iter().filter(|r| r != "containrlab-lookalike") {
        out.push(format!("ecr:{r}"));
    }
    let ssm = Ssm::new(&sdk);
    for p in parameter_names(env, &ssm).into_iter().filter(|p| p != "/containrlab/UNMANAGED") {
        out.push(format!("ssm:{p}"));
    }
    let logs = Logs::new(&sdk);
    for g in log_group_names(env, &logs).into_iter().filter(|g| g != "/ecs/containrlab-lookalike") {
        out.push(format!("logs:{g}"));
    }
    let r53 = aws_sdk_route53::Client::new(&sdk);
    for z in env.block_on(r53.list_hosted_zones().send()).expect("zones").hosted_zones() {
        out.push(format!("route53:{}", z.name()));
    }
    out.sort();
    out
}

#[test]
fn up_converges_repairs_drift_and_down_removes_only_owned_resources() {
    let env = Env::new();
    let sdk = env.sdk();
    let (ecr, ssm, logs) = (Ecr::new(&sdk), Ssm::new(&sdk), Logs::new(&sdk));

    // 1. up on an empty account creates the 73 resources: 17 of the network (the flow log
    //    included), 11 of the edge (zone, certificate, records, 3 target groups, balancer, 2
    //    listeners, 2 rules), 7 of IAM (6 roles, GitHub's OIDC provider), 9 of ECS (2 clusters, 2
    //    task definitions, 2 services, the runner's launch template, Auto Scaling group and
    //    capacity provider), 15 alarms and their SNS topic, 13 of ECR, SSM and logs.
    let up = env.run(&["--json", "up", "--yes"]);
    up.expect_code(0);
    let result = up.json();
    assert_eq!(result["plan"]["summary"]["create"], 73);
    assert_eq!(result["result"]["done"].as_array().map(Vec::len), Some(73));
    // The leftover check below sees every service (so its emptiness after `down` means something).
    let owned = owned_leftovers(&env);
    for service in
        ["acm", "autoscaling", "cloudwatch", "ec2", "ecr", "ecs", "elb", "iam", "logs", "route53", "sns", "ssm"]
    {
        assert!(owned.iter().any(|o| o.starts_with(&format!("{service}:"))), "nothing of {service} in {owned:?}");
    }
    assert_eq!(result["converged"], true);
    assert!(up.stderr.contains("\nConverged: 73 resources, 0 changes remaining, "), "the closing line: {}", up.stderr);
    assert_eq!(repo_names(&env, &ecr), REPOS);
    assert_eq!(log_group_names(&env, &logs), LOG_GROUPS);
    assert_eq!(parameter_names(&env, &ssm).len(), 5);

    // 2. diff is empty; 3. a second up makes no mutating call.
    env.run(&["diff", "--exit-code"]).expect_code(0);
    let again = env.run(&["up", "--yes"]);
    again.expect_code(0);
    assert!(again.mutating_calls().is_empty(), "second up mutated: {:?}", again.mutating_calls());
    assert!(again.total_calls() > 0, "the call counter saw nothing: {:?}", again.calls);

    // 4. Changes behind the tool's back.
    env.block_on(logs.put_retention_policy().log_group_name("/ecs/containrlab-api").retention_in_days(14).send())
        .expect("retention");
    let policy = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#;
    env.block_on(ecr.put_lifecycle_policy().repository_name("containrlab-web").lifecycle_policy_text(policy).send())
        .expect("lifecycle");
    env.block_on(ssm.delete_parameter().name("/containrlab/SESSION_TTL_SECONDS").send()).expect("delete parameter");
    env.block_on(ecr.delete_repository().repository_name("containrlab-runner").send()).expect("delete repository");

    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    let plan = diff.json();
    assert_eq!(
        actions(&plan),
        vec![
            ("ecr_repository.containrlab-runner".to_string(), "create".to_string()),
            ("ecr_repository.containrlab-web".to_string(), "update".to_string()),
            ("ssm_parameter./containrlab/SESSION_TTL_SECONDS".to_string(), "create".to_string()),
            ("log_group./ecs/containrlab-api".to_string(), "update".to_string()),
        ]
    );
    let field = |i: usize| {
        (
            &plan["changes"][i]["fields"][0]["path"],
            &plan["changes"][i]["fields"][0]["before"],
            &plan["changes"][i]["fields"][0]["after"],
        )
    };
    assert_eq!(field(1), (&"lifecycle_policy.keep_last_images".into(), &5.into(), &10.into()));
    assert_eq!(plan["changes"][1]["fields"].as_array().map(Vec::len), Some(1));
    assert_eq!(field(3), (&"retention_days".into(), &14.into(), &7.into()));
    assert_eq!(plan["changes"][3]["fields"].as_array().map(Vec::len), Some(1));

    // 5. up repairs exactly that.
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    let m = repair.mutating_calls();
    assert_eq!(m.get("ECR:CreateRepository"), Some(&1), "{m:?}");
    assert_eq!(m.get("SSM:PutParameter"), Some(&1), "{m:?}");
    assert_eq!(m.get("CloudWatch Logs:PutRetentionPolicy"), Some(&1), "{m:?}");
    assert_eq!(m.get("ECR:PutLifecyclePolicy"), Some(&2), "the new repository's and the repaired one: {m:?}");
    env.run(&["diff", "--exit-code"]).expect_code(0);

    // 6. Look-alikes without the stack's tag.
    env.block_on(ecr.create_repository().repository_name("containrlab-lookalike").send()).expect("untagged repo");
    env.block_on(ssm.put_parameter().name("/containrlab/UNMANAGED").value("x").r#type(ParameterType::String).send())
        .expect("untagged parameter");
    env.block_on(logs.create_log_group().log_group_name("/ecs/containrlab-lookalike").send())
        .expect("untagged log group");
    env.run(&["diff", "--exit-code"]).expect_code(0);

    // 7. down keeps the SecureStrings, the log groups and the hosted zone (they hold data) and
    //    removes the rest it owns.
    let down = env.run(&["--json", "down", "--yes"]);
    down.expect_code(0);
    let result = down.json();
    let kept: Vec<&str> =
        result["plan"]["kept"].as_array().expect("kept").iter().filter_map(|k| k["address"].as_str()).collect();
    assert_eq!(kept.len(), 9, "{kept:?}");
    assert!(kept.contains(&"hosted_zone.containrlab.click"), "{kept:?}");
    assert!(LOG_GROUPS.iter().all(|g| kept.contains(&format!("log_group.{g}").as_str())), "{kept:?}");
    let secrets = kept.iter().filter(|a| a.starts_with("ssm_parameter./containrlab/"));
    assert!(secrets.clone().count() == 4 && secrets.clone().all(|a| a.contains("/G") || a.contains("/N")), "{kept:?}");
    assert_eq!(repo_names(&env, &ecr), vec!["containrlab-lookalike"]);
    let mut groups: Vec<String> = LOG_GROUPS.iter().map(|g| g.to_string()).collect();
    groups.insert(1, "/ecs/containrlab-lookalike".into());
    assert_eq!(log_group_names(&env, &logs), groups);
    assert_eq!(parameter_names(&env, &ssm).len(), 5, "4 kept secrets + the untagged parameter");
    let mut left = owned_leftovers(&env);
    left.retain(|r| !r.starts_with("ssm:") && !r.starts_with("route53:") && !r.starts_with("logs:"));
    assert!(left.is_empty(), "down left tagged resources: {left:?}");

    // 8. down --delete-data removes the secrets and log groups too, and still not the look-alikes.
    env.run(&["down", "--yes", "--delete-data"]).expect_code(0);
    assert_eq!(repo_names(&env, &ecr), vec!["containrlab-lookalike"]);
    assert_eq!(parameter_names(&env, &ssm), vec!["/containrlab/UNMANAGED"]);
    assert_eq!(log_group_names(&env, &logs), vec!["/ecs/containrlab-lookalike"]);
    assert_eq!(owned_leftovers(&env), Vec::<String>::new());
    let empty = env.run(&["down", "--yes"]);
    empty.expect_code(0);
    assert!(empty.mutating_calls().is_empty());
}

#[test]
fn a_repository_holding_images_is_kept_by_down_unless_data_deletion_is_asked() {
    let env = Env::new();
    let ecr = Ecr::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},"layers":[]}"#;
    env.block_on(ecr.put_image().repository_name("containrlab-api").image_manifest(manifest).image_tag("v1").send())
        .expect("push image");

    let down = env.run(&["--json", "down", "--yes"]);
    down.expect_code(0);
    let plan = down.json();
    let kept: Vec<&str> =
        plan["plan"]["kept"].as_array().expect("kept").iter().filter_map(|k| k["address"].as_str()).collect();
    assert!(kept.contains(&"ecr_repository.containrlab-api"), "{kept:?}");
    assert_eq!(repo_names(&env, &ecr), vec!["containrlab-api"]);

    env.run(&["down", "--yes", "--delete-data"]).expect_code(0);
    assert!(repo_names(&env, &ecr).is_empty());
}

#[test]
fn a_resource_removed_from_the_stack_file_is_deleted_by_up_and_a_log_group_only_with_its_data() {
    let env = Env::new();
    let runner = "    /ecs/containrlab-runner: { retention_days: 7 }\n";
    let extra = "    /ecs/containrlab-extra: { retention_days: 7 }\n";
    env.edit_stack(runner, &format!("{runner}{extra}"));
    env.run(&["up", "--yes"]).expect_code(0);
    env.edit_stack(extra, "");
    // A removed log group is kept (its events are evidence) until --delete-data.
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(0);
    let plan = diff.json();
    let kept: Vec<&str> = plan["kept"].as_array().expect("kept").iter().filter_map(|k| k["address"].as_str()).collect();
    assert_eq!(kept, ["log_group./ecs/containrlab-extra"]);
    let up = env.run(&["up", "--yes", "--delete-data"]);
    up.expect_code(0);
    assert_eq!(up.mutating_calls().get("CloudWatch Logs:DeleteLogGroup"), Some(&1));
    // Any other removed resource goes with a plain `up`.
    env.edit_stack("  runner-high-cpu:\n", "  runner-high-cpu-renamed:\n");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(3);
    let mut changes = actions(&diff.json());
    changes.sort();
    assert_eq!(
        changes,
        [
            ("alarm.runner-high-cpu".to_string(), "delete".to_string()),
            ("alarm.runner-high-cpu-renamed".to_string(), "create".to_string())
        ]
    );
    env.run(&["up", "--yes"]).expect_code(0);
    env.run(&["diff", "--exit-code"]).expect_code(0);
}
