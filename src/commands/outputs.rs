//! `outputs`: what operators and other tools need from the running stack — the load balancer's DNS
//! name, the public URLs, ECR repository URIs, cluster and service names, role ARNs (the deploy
//! role for CI), the alarms' SNS topic, the hosted zone's name servers — read from AWS (the same
//! observation as a plan, plus `GetHostedZone` for the name servers). Read-only.
//!
//! Invariants: only resources of this stack (by its ownership tags) are reported — except the
//! hosted zone, which the stack may use without owning (`create_zone: false`); what the stack
//! file declares but AWS does not have is listed under `missing`, and the command exits 1 then
//! (another tool must not take a half-built stack's outputs for the real ones).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::cli::Cli;
use crate::model::iam::Trust;
use crate::model::tags::{owner, Owner, Tags};
use crate::plan::build::Mode;
use crate::reconcile::Observed;

pub async fn run(cli: &Cli) -> Result<i32> {
    let planner = super::Planner::new(cli, Mode::Converge, false).await?;
    let (identity, observed) =
        tokio::join!(planner.identity(), crate::reconcile::observe(&planner.clients, &planner.desired, None));
    let account = identity?.account.clone();
    let observed = observed.context("reading the stack from AWS")?;
    let stack = planner.desired.stack.as_str();
    let ours = |tags: &Tags| owner(stack, tags) == Owner::ThisStack;
    let mut missing: Vec<String> = Vec::new();
    let d = &planner.desired;
    let region = planner.region().to_string();

    let load_balancer = d.ingress.as_ref().and_then(|e| {
        let lb = observed.edge.load_balancers.iter().find(|l| l.name == e.load_balancer.name && ours(&l.tags));
        if lb.is_none() {
            missing.push(format!("load_balancer.{}", e.load_balancer.name));
        }
        lb.map(|l| json!({"name": l.name, "arn": l.id, "dns_name": l.fields.dns_name, "state": l.fields.state}))
    });
    let urls: Vec<String> = d
        .dns
        .iter()
        .flat_map(|z| z.records.iter())
        .filter(|name| observed.dns.records.contains_key(*name))
        .map(|name| format!("https://{name}"))
        .collect();
    let repositories: BTreeMap<String, String> = d
        .repositories
        .iter()
        .filter_map(|r| {
            let found = observed.repositories.iter().find(|o| o.name == r.name && ours(&o.tags));
            if found.is_none() {
                missing.push(format!("ecr_repository.{}", r.name));
            }
            found.map(|o| (o.name.clone(), format!("{account}.dkr.ecr.{region}.amazonaws.com/{}", o.name)))
        })
        .collect();
    let clusters: Vec<String> = present(
        &d.clusters.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        |n| observed.ecs.clusters.iter().any(|c| &c.name == n && ours(&c.tags)),
        "ecs_cluster",
        &mut missing,
    );
    let services: Vec<Value> = d
        .services
        .iter()
        .filter(|s| {
            let found = observed.ecs.services.iter().any(|o| o.name == s.name && ours(&o.tags));
            if !found {
                missing.push(format!("ecs_service.{}", s.name));
            }
            found
        })
        .map(|s| json!({"cluster": s.cluster, "service": s.name}))
        .collect();
    let (roles, deploy_role) = roles(&planner.desired, &observed, &ours, &mut missing);
    // The alarms' topic (another endpoint can be subscribed to it by ARN).
    let alarm_topic = d.notifications.as_ref().and_then(|t| {
        let found = observed.topics.iter().find(|o| o.name == t.name && ours(&o.tags));
        if found.is_none() {
            missing.push(format!("sns_topic.{}", t.name));
        }
        found.map(|o| o.arn.clone())
    });
    let zone = match d.dns.as_ref().and(observed.dns.zone.as_ref()) {
        Some(z) => Some(zone(&planner.clients.route53, z).await?),
        None => {
            if let Some(z) = &d.dns {
                missing.push(format!("hosted_zone.{}", z.zone));
            }
            None
        }
    };
    let out = json!({
        "stack": stack, "account": account, "region": region,
        "load_balancer": load_balancer, "urls": urls, "repositories": repositories,
        "clusters": clusters, "services": services, "roles": roles, "deploy_role": deploy_role,
        "alarm_topic": alarm_topic, "hosted_zone": zone, "missing": missing,
    });
    if cli.json {
        println!("{out}");
    } else {
        print!("{}", render(&out));
    }
    if !missing.is_empty() {
        eprintln!(
            "error: {} resource(s) of the stack file do not exist yet: {}; run `containrlab up`",
            missing.len(),
            missing.join(", ")
        );
        return Ok(1);
    }
    Ok(0)
}

/// The names of `declared` that `exists`; the others are added to `missing` as `KIND.NAME`.
fn present(
    declared: &[String],
    exists: impl Fn(&String) -> bool,
    kind: &str,
    missing: &mut Vec<String>,
) -> Vec<String> {
    let (found, absent): (Vec<String>, Vec<String>) = declared.iter().cloned().partition(|n| exists(n));
    missing.extend(absent.iter().map(|n| format!("{kind}.{n}")));
    found
}

/// Role name → ARN, and the ARN of the role GitHub Actions assumes (the deploy role).
fn roles(
    d: &crate::model::desired::Desired,
    observed: &Observed,
    ours: &dyn Fn(&Tags) -> bool,
    missing: &mut Vec<String>,
) -> (BTreeMap<String, String>, Option<String>) {
    let mut arns = BTreeMap::new();
    let mut deploy = None;
    for role in d.iam.iter().flat_map(|i| i.roles.iter()) {
        match observed.iam.roles.iter().find(|o| o.name == role.name && ours(&o.tags)) {
            Some(o) => {
                if matches!(role.trust, Trust::Github { .. }) {
                    deploy = Some(o.id.clone());
                }
                arns.insert(o.name.clone(), o.id.clone());
            }
            None => missing.push(format!("iam_role.{}", role.name)),
        }
    }
    (arns, deploy)
}

/// The zone's id and the name servers to delegate to (`GetHostedZone`).
async fn zone(route53: &aws_sdk_route53::Client, z: &crate::reconcile::dns::Zone) -> Result<Value> {
    let out = route53
        .get_hosted_zone()
        .id(&z.id)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading hosted zone {}: {}", z.name, crate::aws::describe(&e)))?;
    let servers: Vec<String> = out.delegation_set().map(|s| s.name_servers().to_vec()).unwrap_or_default();
    Ok(json!({"name": z.name, "id": z.id, "name_servers": servers}))
}

/// The terminal view: one labelled line per output (lists continue below their label).
fn render(out: &Value) -> String {
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut add = |label: &str, values: Vec<String>| {
        for (i, v) in values.into_iter().enumerate() {
            lines.push((if i == 0 { label.to_string() } else { String::new() }, v));
        }
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    if let Some(lb) = out["load_balancer"].as_object() {
        add("load balancer", vec![format!("{} ({})", text(&lb["dns_name"]), text(&lb["state"]))]);
    }
    add("URLs", out["urls"].as_array().into_iter().flatten().map(text).collect());
    let map = |v: &Value| -> Vec<String> {
        v.as_object().into_iter().flatten().map(|(k, v)| format!("{k:<24} {}", text(v))).collect()
    };
    add("repositories", map(&out["repositories"]));
    add("clusters", out["clusters"].as_array().into_iter().flatten().map(text).collect());
    let services = out["services"].as_array().into_iter().flatten();
    add("services", services.map(|s| format!("{}/{}", text(&s["cluster"]), text(&s["service"]))).collect());
    add("roles", map(&out["roles"]));
    if let Some(arn) = out["deploy_role"].as_str() {
        add("deploy role (CI)", vec![arn.to_string()]);
    }
    if let Some(arn) = out["alarm_topic"].as_str() {
        add("alarm topic", vec![arn.to_string()]);
    }
    if let Some(z) = out["hosted_zone"].as_object() {
        add("hosted zone", vec![format!("{} ({})", text(&z["name"]), text(&z["id"]))]);
        add("name servers", z["name_servers"].as_array().into_iter().flatten().map(text).collect());
    }
    let mut s = format!(
        "Stack {} in account {}, region {}\n\n",
        text(&out["stack"]),
        text(&out["account"]),
        text(&out["region"])
    );
    for (label, value) in lines {
        s.push_str(&format!("  {label:<18} {value}\n"));
    }
    s
}
