//! Reading the load balancer side in three rounds: (1) every load balancer and target group, and
//! the stack's tag index (`tag_index`); (2) the attributes and listeners of this stack's balancers
//! and the attributes of its target groups, concurrently; (3) the HTTPS listener's rules. Tags of
//! what the index does not list, or may not be trusted about, are read with `DescribeTags` (20 ARNs
//! a call) between (1) and (2) — in an account holding only this stack's balancers, never.

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, Listener};
use aws_sdk_elasticloadbalancingv2::Client;

use super::*;
use crate::aws::{concurrent, describe, Clients};
use crate::model::tags::{owner, Owner, ADDRESS};
use crate::reconcile::kit::CONCURRENCY;
use crate::reconcile::tag_index::TagIndex;

pub async fn observe(
    clients: &Clients,
    index: &TagIndex<'_>,
    stack: &str,
    desired: Option<&Ingress>,
) -> Result<ObservedEdge> {
    let elb = &clients.elb;
    let (lbs, tgs, _) = tokio::try_join!(
        async {
            elb.describe_load_balancers()
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| anyhow::anyhow!("listing load balancers: {}", describe(&e)))
        },
        async {
            elb.describe_target_groups()
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| anyhow::anyhow!("listing target groups: {}", describe(&e)))
        },
        index.listed(),
    )?;
    let arns: Vec<String> = lbs
        .iter()
        .filter_map(|l| l.load_balancer_arn())
        .chain(tgs.iter().filter_map(|t| t.target_group_arn()))
        .map(str::to_string)
        .collect();
    let mut tags = BTreeMap::new();
    let mut unlisted = Vec::new();
    for arn in arns {
        match index.tags(&arn).await? {
            Some(t) => drop(tags.insert(arn, t)),
            None => unlisted.push(arn),
        }
    }
    tags.extend(tags_of(elb, &unlisted).await?);
    let tags_for = |arn: Option<&str>| arn.and_then(|a| tags.get(a)).cloned().unwrap_or_default();
    // Only this stack's resources and the declared names matter (the latter to report conflicts).
    let declared_lb = desired.map(|e| e.load_balancer.name.as_str());
    let relevant = |name: Option<&str>, tags: &Tags, declared: bool| {
        owner(stack, tags) == Owner::ThisStack || (declared && name.is_some())
    };

    let mut load_balancers = Vec::new();
    for lb in &lbs {
        let t = tags_for(lb.load_balancer_arn());
        if !relevant(lb.load_balancer_name(), &t, lb.load_balancer_name() == declared_lb) {
            continue;
        }
        let fields = LoadBalancerFields {
            scheme: lb.scheme().map(|s| s.as_str().to_string()).unwrap_or_default(),
            dns_name: crate::reconcile::dns::dns_name(lb.dns_name().unwrap_or_default()),
            subnet_ids: lb.availability_zones().iter().filter_map(|z| z.subnet_id().map(str::to_string)).collect(),
            security_group_ids: lb.security_groups().to_vec(),
            state: lb.state().and_then(|s| s.code()).map(|c| c.as_str().to_string()).unwrap_or_default(),
            attributes: BTreeMap::new(),
        };
        let (Some(name), Some(arn)) = (lb.load_balancer_name(), lb.load_balancer_arn()) else { continue };
        load_balancers.push(Observed { name: name.to_string(), id: arn.to_string(), tags: t, fields });
    }
    let mut target_groups = Vec::new();
    for tg in &tgs {
        let t = tags_for(tg.target_group_arn());
        let declared =
            desired.is_some_and(|e| e.target_groups.iter().any(|d| Some(d.name.as_str()) == tg.target_group_name()));
        if !relevant(tg.target_group_name(), &t, declared) {
            continue;
        }
        let fields = TargetGroupFields {
            aws_name: tg.target_group_name().unwrap_or_default().to_string(),
            port: tg.port().unwrap_or_default(),
            protocol: tg.protocol().map(|p| p.as_str().to_string()).unwrap_or_default(),
            target_type: tg.target_type().map(|p| p.as_str().to_string()).unwrap_or_default(),
            vpc_id: tg.vpc_id().unwrap_or_default().to_string(),
            health_path: tg.health_check_path().unwrap_or_default().to_string(),
            health_interval: tg.health_check_interval_seconds().unwrap_or_default(),
            health_timeout: tg.health_check_timeout_seconds().unwrap_or_default(),
            healthy_threshold: tg.healthy_threshold_count().unwrap_or_default(),
            unhealthy_threshold: tg.unhealthy_threshold_count().unwrap_or_default(),
            matcher: tg.matcher().and_then(|m| m.http_code()).unwrap_or_default().to_string(),
            deregistration_delay: None,
        };
        // This stack's groups are named by their address tag (a replacement has a suffixed AWS name).
        let address_name = t
            .get(ADDRESS)
            .and_then(|a| a.strip_prefix("target_group."))
            .filter(|_| owner(stack, &t) == Owner::ThisStack);
        let (Some(name), Some(arn)) = (address_name.or(tg.target_group_name()), tg.target_group_arn()) else {
            continue;
        };
        target_groups.push(Observed { name: name.to_string(), id: arn.to_string(), tags: t.clone(), fields });
    }

    // Round 2: attributes and listeners of the stack's own resources and of declared namesakes
    // (a conflict in a plan, the drift in `adopt`'s).
    let lb_details = concurrent(load_balancers.iter_mut(), CONCURRENCY, |lb| async move {
        let (attributes, listeners) = tokio::try_join!(
            async {
                elb.describe_load_balancer_attributes().load_balancer_arn(&lb.id).send().await.map_err(|e| {
                    anyhow::anyhow!("reading the attributes of load balancer {}: {}", lb.name, describe(&e))
                })
            },
            async {
                elb.describe_listeners().load_balancer_arn(&lb.id).send().await.map_err(|e| {
                    anyhow::anyhow!("reading the listeners of load balancer {}: {}", lb.name, describe(&e))
                })
            },
        )?;
        lb.fields.attributes = attributes
            .attributes()
            .iter()
            .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
            .collect();
        let tags = lb.tags.clone();
        let found: Vec<_> = listeners.listeners().iter().filter_map(|l| listener(l, &tags)).collect();
        // Round 3: the host rules of the HTTPS listener.
        let mut rules = Vec::new();
        for https in found.iter().filter(|l| l.name == "https") {
            let out = elb
                .describe_rules()
                .listener_arn(&https.id)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("reading the rules of listener.https: {}", describe(&e)))?;
            rules
                .extend(out.rules().iter().filter(|r| !r.is_default().unwrap_or(false)).filter_map(|r| rule(r, &tags)));
        }
        Ok::<_, anyhow::Error>((found, rules))
    });
    let tg_details =
        concurrent(target_groups.iter_mut(), CONCURRENCY, |tg| async move {
            let attributes =
                elb.describe_target_group_attributes().target_group_arn(&tg.id).send().await.map_err(|e| {
                    anyhow::anyhow!("reading the attributes of target group {}: {}", tg.name, describe(&e))
                })?;
            tg.fields.deregistration_delay = attributes
                .attributes()
                .iter()
                .find(|a| a.key() == Some(ATTR_DEREGISTRATION_DELAY))
                .and_then(|a| a.value())
                .map(str::to_string);
            Ok::<_, anyhow::Error>(())
        });
    let (listeners, tg_results) = tokio::join!(lb_details, tg_details);
    tg_results.into_iter().collect::<Result<Vec<_>>>()?;
    let (mut all_listeners, mut rules) = (Vec::new(), Vec::new());
    for found in listeners {
        let (l, r) = found?;
        all_listeners.extend(l);
        rules.extend(r);
    }
    Ok(ObservedEdge { load_balancers, target_groups, listeners: all_listeners, rules })
}

/// A listener named by its protocol, with its balancer's tags.
fn listener(l: &Listener, tags: &Tags) -> Option<Observed<ListenerFields>> {
    let protocol = l.protocol()?.as_str().to_string();
    let action = l.default_actions().first();
    let default_action = match action.and_then(|a| a.r#type()) {
        Some(ActionTypeEnum::Redirect) => {
            let r = action.and_then(|a| a.redirect_config());
            format!(
                "redirect to {}:{} ({})",
                r.and_then(|r| r.protocol()).unwrap_or("#{protocol}"),
                r.and_then(|r| r.port()).unwrap_or("#{port}"),
                r.and_then(|r| r.status_code()).map(|c| c.as_str().trim_start_matches("HTTP_")).unwrap_or("?")
            )
        }
        Some(ActionTypeEnum::FixedResponse) => {
            format!(
                "fixed response {}",
                action.and_then(|a| a.fixed_response_config()).and_then(|c| c.status_code()).unwrap_or("?")
            )
        }
        Some(other) => other.as_str().to_string(),
        None => "none".into(),
    };
    let fields = ListenerFields {
        port: l.port().unwrap_or_default(),
        ssl_policy: l.ssl_policy().map(str::to_string),
        certificate_arns: l.certificates().iter().filter_map(|c| c.certificate_arn().map(str::to_string)).collect(),
        default_action,
    };
    Some(Observed { name: protocol.to_lowercase(), id: l.listener_arn()?.to_string(), tags: tags.clone(), fields })
}

/// The first host a rule matches, in either API form (host-header config, or plain values).
pub(super) fn rule_host(r: &aws_sdk_elasticloadbalancingv2::types::Rule) -> Option<String> {
    r.conditions().iter().find(|c| c.field() == Some("host-header")).and_then(|c| {
        c.host_header_config().and_then(|h| h.values().first().cloned()).or_else(|| c.values().first().cloned())
    })
}

/// A host-header rule, named by its first host, with its balancer's tags.
fn rule(r: &aws_sdk_elasticloadbalancingv2::types::Rule, tags: &Tags) -> Option<Observed<RuleFields>> {
    let host = rule_host(r)?;
    let forward = r.actions().iter().find(|a| a.r#type() == Some(&ActionTypeEnum::Forward));
    let mut target_group_arns: Vec<String> = forward
        .and_then(|a| a.forward_config())
        .map(|f| f.target_groups().iter().filter_map(|t| t.target_group_arn().map(str::to_string)).collect())
        .unwrap_or_default();
    if target_group_arns.is_empty() {
        target_group_arns.extend(forward.and_then(|a| a.target_group_arn()).map(str::to_string));
    }
    let fields = RuleFields { priority: r.priority().unwrap_or_default().to_string(), target_group_arns };
    Some(Observed { name: host, id: r.rule_arn()?.to_string(), tags: tags.clone(), fields })
}

/// Tags of many ELBv2 resources: `DescribeTags` takes 20 ARNs a call (none for none).
async fn tags_of(elb: &Client, arns: &[String]) -> Result<BTreeMap<String, Tags>> {
    let batches = concurrent(arns.chunks(20), CONCURRENCY, |chunk| async move {
        elb.describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading load balancer tags: {}", describe(&e)))
    })
    .await;
    let mut out = BTreeMap::new();
    for batch in batches {
        for d in batch?.tag_descriptions() {
            let tags = d
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                .collect();
            out.insert(d.resource_arn().unwrap_or_default().to_string(), tags);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action as ElbAction, ForwardActionConfig, HostHeaderConditionConfig, Rule, RuleCondition, TargetGroupTuple,
    };

    use super::*;

    #[test]
    fn rule_conditions_and_forward_actions_normalise_in_both_api_forms() {
        let tags = Tags::new();
        // Current form: host-header config and a forward config with target group tuples.
        let modern = Rule::builder()
            .rule_arn("arn:rule/1")
            .priority("10")
            .conditions(
                RuleCondition::builder()
                    .field("host-header")
                    .host_header_config(HostHeaderConditionConfig::builder().values("api.example.com").build())
                    .build(),
            )
            .actions(
                ElbAction::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .forward_config(
                        ForwardActionConfig::builder()
                            .target_groups(TargetGroupTuple::builder().target_group_arn("arn:tg/api").build())
                            .build(),
                    )
                    .build(),
            )
            .build();
        // Legacy form: plain condition values and the action's own target group ARN.
        let legacy = Rule::builder()
            .rule_arn("arn:rule/2")
            .priority("20")
            .conditions(RuleCondition::builder().field("host-header").values("app.example.com").build())
            .actions(ElbAction::builder().r#type(ActionTypeEnum::Forward).target_group_arn("arn:tg/web").build())
            .build();
        let m = rule(&modern, &tags).expect("modern");
        let l = rule(&legacy, &tags).expect("legacy");
        assert_eq!(
            (m.name.as_str(), m.fields.priority.as_str(), m.fields.target_group_arns.clone()),
            ("api.example.com", "10", vec!["arn:tg/api".to_string()])
        );
        assert_eq!(
            (l.name.as_str(), l.fields.priority.as_str(), l.fields.target_group_arns.clone()),
            ("app.example.com", "20", vec!["arn:tg/web".to_string()])
        );
    }
}
