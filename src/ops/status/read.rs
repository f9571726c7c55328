//! The reads of `status`, each section at once: ECS services, target health, the runner groups'
//! instances and their CPU credits (CloudWatch), NAT gateways by this stack's tag, the load
//! balancer, the certificate (found and described as a plan finds it: status and expiry in one
//! read), the alarms and the subscriptions of the topic they notify.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Result};
use aws_sdk_ec2::types::Filter;
use aws_sdk_elasticloadbalancingv2::types::TargetHealthDescription;

use super::{expiry_health, service_health, Check, Health};
use crate::aws::{concurrent, describe, Clients};
use crate::model::desired::{Desired, Topic};
use crate::model::tags::{ADDRESS, STACK};
use crate::reconcile::sns::Subscriptions;

pub async fn collect(clients: &Clients, d: &Desired) -> Result<Vec<Check>> {
    let (services, targets, runners, nats, lb, certificate, alarms, notifications) = tokio::try_join!(
        services(clients, d),
        target_groups(clients, d),
        runners(clients, d),
        nat_gateways(clients, d),
        load_balancer(clients, d),
        certificate(clients, d),
        alarms(clients, d),
        notifications(clients, d),
    )?;
    Ok([services, targets, runners, nats, lb, certificate, alarms, notifications].concat())
}

async fn services(clients: &Clients, d: &Desired) -> Result<Vec<Check>> {
    let mut by_cluster: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for s in &d.services {
        by_cluster.entry(s.cluster.as_str()).or_default().push(s.name.clone());
    }
    let mut checks = Vec::new();
    for (cluster, names) in by_cluster {
        let out = clients.ecs.describe_services().cluster(cluster).set_services(Some(names.clone())).send().await;
        let out = match out {
            Ok(out) => out,
            Err(e) if crate::aws::error::is_not_found(&e) => {
                let gone = |n: &String| {
                    Check::new("services", n, Health::Bad, format!("its cluster {cluster} does not exist"))
                };
                checks.extend(names.iter().map(gone));
                continue;
            }
            Err(e) => return Err(anyhow!("describing the services of {cluster}: {}", describe(&e))),
        };
        for name in names {
            let found = out.services().iter().find(|s| s.service_name() == Some(name.as_str()));
            let check = match found.filter(|s| s.status() == Some("ACTIVE")) {
                None => Check::new("services", &name, Health::Bad, format!("does not exist in {cluster}")),
                Some(s) => {
                    let primary = s.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
                    let rollout = primary.and_then(|p| p.rollout_state()).map(|r| r.as_str().to_string());
                    let rollout = rollout.unwrap_or_else(|| "COMPLETED".into());
                    let revision = s.task_definition().and_then(|t| t.rsplit('/').next()).unwrap_or("?");
                    let (running, desired) = (s.running_count(), s.desired_count());
                    let health = service_health(running, desired, &rollout, s.deployments().len());
                    let mut detail = format!("{running}/{desired} running, {revision}, rollout {rollout}");
                    if s.deployments().len() > 1 {
                        detail.push_str(&format!(" ({} deployments)", s.deployments().len()));
                    }
                    Check::new("services", &name, health, detail)
                }
            };
            checks.push(check);
        }
    }
    Ok(checks)
}

async fn target_groups(clients: &Clients, d: &Desired) -> Result<Vec<Check>> {
    let Some(edge) = &d.ingress else { return Ok(Vec::new()) };
    let pages = clients
        .elb
        .describe_target_groups()
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| anyhow!("describing target groups: {}", describe(&e)))?;
    let arns: BTreeMap<String, String> = pages
        .iter()
        .flat_map(|p| p.target_groups())
        .filter_map(|t| Some((t.target_group_name()?.to_string(), t.target_group_arn()?.to_string())))
        .collect();
    let used: BTreeSet<&str> =
        d.services.iter().flat_map(|s| s.load_balancers.iter().map(|l| l.target_group.as_str())).collect();
    let elb = &clients.elb;
    let checks = concurrent(edge.target_groups.iter().map(|t| t.name.clone()), 4, |name| {
        let arn = arns.get(&name).cloned();
        let used = used.contains(name.as_str());
        async move {
            let Some(arn) = arn else { return Ok(Check::new("target groups", &name, Health::Bad, "does not exist")) };
            let out = elb
                .describe_target_health()
                .target_group_arn(&arn)
                .send()
                .await
                .map_err(|e| anyhow!("reading the target health of {name}: {}", describe(&e)))?;
            Ok::<_, anyhow::Error>(target_check(&name, used, out.target_health_descriptions()))
        }
    })
    .await;
    checks.into_iter().collect()
}

/// A target group's health: its healthy targets, and every other one with AWS's reason. One that
/// a service registers in must have a healthy target; one nobody registers in may be empty.
fn target_check(name: &str, used: bool, targets: &[TargetHealthDescription]) -> Check {
    let mut healthy = 0;
    let mut others = Vec::new();
    for t in targets {
        let h = t.target_health();
        let state = h.and_then(|h| h.state()).map(|s| s.as_str().to_string()).unwrap_or_default();
        if state == "healthy" {
            healthy += 1;
            continue;
        }
        let target = t.target().map(|t| format!("{}:{}", t.id().unwrap_or_default(), t.port().unwrap_or_default()));
        let reason = h.and_then(|h| h.reason()).map(|r| r.as_str().to_string());
        let why = h.and_then(|h| h.description()).map(str::to_string);
        let because = match (reason, why) {
            (Some(r), Some(w)) => format!(" ({r}: {w})"),
            (Some(r), None) => format!(" ({r})"),
            _ => String::new(),
        };
        others.push(format!("{} {state}{because}", target.unwrap_or_default()));
    }
    let (health, detail) = match (healthy, others.is_empty(), used) {
        (0, true, false) => (Health::Ok, "no targets (no service registers in it)".to_string()),
        (0, true, true) => (Health::Bad, "no registered targets".to_string()),
        (0, false, _) => (Health::Bad, format!("0 healthy: {}", others.join("; "))),
        (n, true, _) => (Health::Ok, format!("{n} healthy")),
        (n, false, _) => (Health::Warn, format!("{n} healthy, {}", others.join("; "))),
    };
    Check::new("target groups", name, health, detail)
}

async fn runners(clients: &Clients, d: &Desired) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    for c in &d.ec2_capacity {
        let out = clients
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&c.cluster)
            .send()
            .await
            .map_err(|e| anyhow!("describing the Auto Scaling group {}: {}", c.cluster, describe(&e)))?;
        let Some(group) = out.auto_scaling_groups().first() else {
            checks.push(Check::new(
                "runner instances",
                &c.cluster,
                Health::Bad,
                "the Auto Scaling group does not exist",
            ));
            continue;
        };
        if group.instances().is_empty() && c.instance_count > 0 {
            checks.push(Check::new("runner instances", &c.cluster, Health::Bad, "no instance running"));
        }
        let burstable = ["t2.", "t3.", "t3a.", "t4g."].iter().any(|p| c.instance_type.starts_with(p));
        for i in group.instances() {
            let id = i.instance_id().unwrap_or_default();
            let lifecycle = i.lifecycle_state().map(|s| s.as_str().to_string()).unwrap_or_default();
            let health_status = i.health_status().unwrap_or_default();
            let mut health =
                if lifecycle == "InService" && health_status == "Healthy" { Health::Ok } else { Health::Bad };
            let mut detail = format!("{lifecycle}, {health_status}");
            if burstable {
                match cpu_credits(clients, id).await? {
                    Some(credits) => {
                        detail.push_str(&format!(", CPU credits {credits:.0}"));
                        if credits < 10.0 && health == Health::Ok {
                            health = Health::Warn;
                            detail.push_str(" (nearly spent: the instance is throttled to its baseline)");
                        }
                    }
                    None => detail.push_str(", CPU credits: no data yet"),
                }
            }
            checks.push(Check::new("runner instances", format!("{} {id}", c.cluster), health, detail));
        }
    }
    Ok(checks)
}

/// The newest `CPUCreditBalance` of an instance in the last 20 minutes.
async fn cpu_credits(clients: &Clients, instance: &str) -> Result<Option<f64>> {
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let now = SystemTime::now();
    let out = clients
        .cloudwatch
        .get_metric_statistics()
        .namespace("AWS/EC2")
        .metric_name("CPUCreditBalance")
        .dimensions(Dimension::builder().name("InstanceId").value(instance).build())
        .start_time(aws_smithy_types::DateTime::from(now - Duration::from_secs(1200)))
        .end_time(aws_smithy_types::DateTime::from(now))
        .period(300)
        .statistics(Statistic::Minimum)
        .send()
        .await
        .map_err(|e| anyhow!("reading the CPU credits of {instance}: {}", describe(&e)))?;
    let newest = out.datapoints().iter().max_by_key(|p| p.timestamp().map(|t| t.secs()).unwrap_or_default());
    Ok(newest.and_then(|p| p.minimum()))
}

async fn nat_gateways(clients: &Clients, d: &Desired) -> Result<Vec<Check>> {
    let declared: Vec<String> = d.network.iter().flat_map(|n| n.nat_gateways.iter().map(|g| g.name.clone())).collect();
    if declared.is_empty() {
        return Ok(Vec::new());
    }
    let out = clients
        .ec2
        .describe_nat_gateways()
        .filter(Filter::builder().name(format!("tag:{STACK}")).values(&d.stack).build())
        .send()
        .await
        .map_err(|e| anyhow!("describing NAT gateways: {}", describe(&e)))?;
    let mut checks = Vec::new();
    for name in declared {
        let address = format!("nat_gateway.{name}");
        let found = out.nat_gateways().iter().find(|g| {
            let live = !matches!(g.state().map(|s| s.as_str()), Some("deleted" | "deleting"));
            live && g.tags().iter().any(|t| t.key() == Some(ADDRESS) && t.value() == Some(address.as_str()))
        });
        checks.push(match found {
            None => Check::new("nat gateways", &name, Health::Bad, "does not exist"),
            Some(g) => {
                let state = g.state().map(|s| s.as_str().to_string()).unwrap_or_default();
                let health = if state == "available" { Health::Ok } else { Health::Bad };
                let ip = g.nat_gateway_addresses().first().and_then(|a| a.public_ip()).unwrap_or("no address");
                Check::new(
                    "nat gateways",
                    &name,
                    health,
                    format!("{state}, {}, {ip}", g.nat_gateway_id().unwrap_or("?")),
                )
            }
        });
    }
    Ok(checks)
}

async fn load_balancer(clients: &Clients, d: &Desired) -> Result<Vec<Check>> {
    let Some(edge) = &d.ingress else { return Ok(Vec::new()) };
    let name = &edge.load_balancer.name;
    let out = clients.elb.describe_load_balancers().names(name).send().await;
    let check = match out {
        Ok(out) => match out.load_balancers().first() {
            Some(lb) => {
                let state = lb.state().and_then(|s| s.code()).map(|c| c.as_str().to_string()).unwrap_or_default();
                let health = if state == "active" { Health::Ok } else { Health::Bad };
                Check::new("load balancer", name, health, format!("{state}, {}", lb.dns_name().unwrap_or_default()))
            }
            None => Check::new("load balancer", name, Health::Bad, "does not exist"),
        },
        Err(e) if crate::aws::error::is_not_found(&e) => {
            Check::new("load balancer", name, Health::Bad, "does not exist")
        }
        Err(e) => return Err(anyhow!("describing load balancer {name}: {}", describe(&e))),
    };
    Ok(vec![check])
}

async fn certificate(clients: &Clients, d: &Desired) -> Result<Vec<Check>> {
    let Some(domain) = d.ingress.as_ref().and_then(|e| e.certificate.as_ref()).map(|c| c.domain.clone()) else {
        return Ok(Vec::new());
    };
    let index = crate::reconcile::tag_index::TagIndex::new(clients, &d.stack);
    let found = crate::reconcile::acm::observe(clients, &index, &d.stack, Some(&domain)).await?;
    let Some(cert) = found.into_iter().find(|c| c.fields.domain == domain) else {
        return Ok(vec![Check::new("certificate", &domain, Health::Bad, "does not exist")]);
    };
    let (status, not_after) = (cert.fields.status.clone(), cert.fields.not_after);
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (health, detail) = match (status.as_str(), not_after) {
        ("ISSUED", Some(end)) => {
            let days = (end - now).div_euclid(86_400);
            let date = aws_smithy_types::DateTime::from_secs(end)
                .fmt(aws_smithy_types::date_time::Format::DateTime)
                .unwrap_or_default();
            (expiry_health(days), format!("ISSUED, expires {} ({days} days)", &date[..10.min(date.len())]))
        }
        ("ISSUED", None) => (Health::Ok, "ISSUED".to_string()),
        ("PENDING_VALIDATION", _) => (Health::Warn, "PENDING_VALIDATION: waiting for its DNS records".to_string()),
        (other, _) => (Health::Bad, other.to_string()),
    };
    Ok(vec![Check::new("certificate", &domain, health, detail)])
}

async fn alarms(clients: &Clients, d: &Desired) -> Result<Vec<Check>> {
    if d.alarms.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = d.alarms.iter().map(|a| a.name.clone()).collect();
    let out = clients
        .cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(names.clone()))
        .send()
        .await
        .map_err(|e| anyhow!("describing alarms: {}", describe(&e)))?;
    Ok(names
        .iter()
        .map(|name| {
            let found = out.metric_alarms().iter().find(|a| a.alarm_name() == Some(name.as_str()));
            match found {
                None => Check::new("alarms", name, Health::Bad, "does not exist"),
                Some(a) => {
                    let state = a.state_value().map(|s| s.as_str().to_string()).unwrap_or_default();
                    let reason = a.state_reason().unwrap_or_default();
                    let health = match state.as_str() {
                        "OK" => Health::Ok,
                        "ALARM" => Health::Bad,
                        _ => Health::Warn,
                    };
                    Check::new("alarms", name, health, format!("{state}: {reason}"))
                }
            }
        })
        .collect())
}

/// The alarms' topic: each declared address subscribed and confirmed.
async fn notifications(clients: &Clients, d: &Desired) -> Result<Vec<Check>> {
    let Some(topic) = &d.notifications else { return Ok(Vec::new()) };
    let subscribed = crate::reconcile::sns::subscriptions_of(clients, &topic.name).await?;
    Ok(notification_checks(topic, subscribed.as_ref()))
}

/// One check per declared address of `topic` from its subscriptions (address → ARN, `None` while
/// pending); the topic itself when it does not exist.
fn notification_checks(topic: &Topic, subscribed: Option<&Subscriptions>) -> Vec<Check> {
    let Some(subscribed) = subscribed else {
        let detail = "the topic does not exist: the alarms notify nobody";
        return vec![Check::new("notifications", &topic.name, Health::Bad, detail)];
    };
    let check = |email: &String| match subscribed.get(email) {
        Some(Some(_)) => Check::new("notifications", email, Health::Ok, format!("confirmed on {}", topic.name)),
        Some(None) => Check::new(
            "notifications",
            email,
            Health::Warn,
            "pending confirmation: receives nothing until it confirms AWS's mail",
        ),
        None => Check::new("notifications", email, Health::Bad, format!("not subscribed to {}", topic.name)),
    };
    topic.emails.iter().map(check).collect()
}

#[cfg(test)]
mod tests {
    //! moto reports every registered target healthy, so the other states are built here from the
    //! SDK's own types.
    use aws_sdk_elasticloadbalancingv2::types::{
        TargetDescription, TargetHealth, TargetHealthReasonEnum, TargetHealthStateEnum,
    };

    use super::*;

    fn target(
        ip: &str,
        state: TargetHealthStateEnum,
        reason: Option<TargetHealthReasonEnum>,
    ) -> TargetHealthDescription {
        let health = TargetHealth::builder()
            .state(state)
            .set_reason(reason)
            .description("Health checks failed with these codes: [502]")
            .build();
        TargetHealthDescription::builder()
            .target(TargetDescription::builder().id(ip).port(8000).build())
            .target_health(health)
            .build()
    }

    #[test]
    fn unhealthy_targets_are_named_with_the_reason_aws_gives() {
        let failing =
            target("10.0.10.5", TargetHealthStateEnum::Unhealthy, Some(TargetHealthReasonEnum::FailedHealthChecks));
        let check = target_check("containrlab-api-tg", true, std::slice::from_ref(&failing));
        assert_eq!(check.health, Health::Bad);
        assert_eq!(
            check.detail,
            "0 healthy: 10.0.10.5:8000 unhealthy (Target.FailedHealthChecks: Health checks failed with these codes: [502])"
        );
        let ok = target("10.0.11.7", TargetHealthStateEnum::Healthy, None);
        let mixed = target_check("containrlab-api-tg", true, &[ok.clone(), failing]);
        assert_eq!(mixed.health, Health::Warn);
        assert!(mixed.detail.starts_with("1 healthy, 10.0.10.5:8000 unhealthy"), "{}", mixed.detail);
        assert_eq!(target_check("containrlab-api-tg", true, &[ok]).detail, "1 healthy");
        assert_eq!(target_check("containrlab-api-tg", true, &[]).health, Health::Bad);
        assert_eq!(target_check("containrlab-runner-tg", false, &[]).health, Health::Ok);
    }

    #[test]
    fn an_address_is_ok_when_confirmed_a_warning_while_pending_and_bad_when_not_subscribed() {
        let topic = Topic { name: "t".into(), emails: ["a@x.io", "b@x.io", "c@x.io"].map(String::from).into() };
        let subscribed: Subscriptions =
            [("a@x.io".to_string(), Some("arn:s".to_string())), ("b@x.io".to_string(), None)].into();
        let health: Vec<(String, Health)> =
            notification_checks(&topic, Some(&subscribed)).into_iter().map(|c| (c.name, c.health)).collect();
        assert_eq!(
            health,
            [("a@x.io".into(), Health::Ok), ("b@x.io".into(), Health::Warn), ("c@x.io".into(), Health::Bad)]
        );
        let gone = notification_checks(&topic, None);
        assert_eq!((gone.len(), gone[0].health), (1, Health::Bad));
    }
}
