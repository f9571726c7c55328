//! Carrying out load balancer steps: target groups, the balancer (waited on until `active`, and
//! until gone on delete) and listeners.

use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_elasticloadbalancingv2::types::{
    Action as ElbAction, ActionTypeEnum, Certificate as ElbCertificate, FixedResponseActionConfig,
    HostHeaderConditionConfig, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum, Matcher, ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum, RuleCondition,
    RulePriorityPair, TargetGroupAttribute, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;

use super::*;
use crate::aws::wait::{self, Check};
use crate::aws::{describe, Clients};
use crate::plan::Action;
use crate::reconcile::kit::Ids;
use crate::reconcile::tags;

/// A new application load balancer is usually active within 2–3 minutes.
const LB_TIMEOUT: Duration = Duration::from_secs(900);

fn err(what: &str, address: &Address, e: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    anyhow::anyhow!("{what} {address}: {}", describe(e))
}

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;

fn not_found<E: ProvideErrorMetadata>(e: &E) -> bool {
    matches!(e.code(), Some("LoadBalancerNotFound" | "TargetGroupNotFound" | "ListenerNotFound"))
}

#[allow(clippy::too_many_arguments)]
pub async fn apply(
    clients: &Clients,
    ctx: &PlanContext,
    desired: Option<&Edge>,
    observed: &ObservedEdge,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let name = address.name.as_str();
    let elb = &clients.elb;
    match address.kind {
        Kind::TargetGroup => {
            let d = desired.and_then(|e| e.target_groups.iter().find(|t| t.name == name));
            let o = observed.target_groups.iter().find(|t| t.name == name);
            target_group(clients, ctx, d, o, ids, action, address).await
        }
        Kind::LoadBalancer => {
            let d = desired.map(|e| &e.load_balancer).filter(|l| l.name == name);
            let o = observed.load_balancers.iter().find(|l| l.name == name);
            load_balancer(clients, ctx, d, o, ids, action, address).await
        }
        Kind::Listener => {
            let d = desired.and_then(|e| e.listeners.iter().find(|l| l.name == name));
            let lb = desired.map(|e| e.load_balancer.name.as_str());
            listener(elb, ctx, d, lb, ids, action, address).await
        }
        Kind::ListenerRule => {
            let d = desired.and_then(|e| e.rules.iter().find(|r| r.host == name));
            let o = observed.rules.iter().find(|r| r.name == name);
            let all = desired.map(|e| e.rules.as_slice()).unwrap_or_default();
            rule(elb, ctx, d, o, all, ids, action, address).await
        }
        other => bail!("{address}: {other:?} is not a load balancer resource"),
    }
}

async fn target_group(
    clients: &Clients,
    ctx: &PlanContext,
    desired: Option<&TargetGroup>,
    observed: Option<&Observed<TargetGroupFields>>,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let elb = &clients.elb;
    let delete = |arn: String| async move {
        match elb.delete_target_group().target_group_arn(arn).send().await {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(err("deleting", address, &e)),
        }
    };
    // The old group of a replacement is the observed one (`ids` already holds the new one).
    let old_arn = || observed.map(|o| Ok(o.id.clone())).unwrap_or_else(|| ids.get(address));
    let Some(d) = desired.filter(|_| action != Action::Delete) else {
        return delete(old_arn()?).await;
    };
    let h = &d.health_check;
    let arn = match (action, observed) {
        (Action::Update, Some(o)) => {
            elb.modify_target_group()
                .target_group_arn(&o.id)
                .health_check_path(&h.path)
                .health_check_interval_seconds(h.interval_seconds as i32)
                .health_check_timeout_seconds(h.timeout_seconds as i32)
                .healthy_threshold_count(h.healthy_threshold as i32)
                .unhealthy_threshold_count(h.unhealthy_threshold as i32)
                .matcher(Matcher::builder().http_code(&h.matcher).build())
                .send()
                .await
                .map_err(|e| err("updating", address, &e))?;
            o.id.clone()
        }
        _ => {
            // Names are unique per region: a replacement made while the old group still exists
            // takes the other of two names (the declared one, or it with a short suffix).
            let name = match observed {
                Some(o) if o.fields.aws_name == d.name => {
                    let token = crate::aws::client_token(&[&ctx.stack, &address.to_string()]);
                    format!("{}-{}", d.name, &token[token.len() - 4..])
                }
                _ => d.name.clone(),
            };
            let vpc = ids.get(&Address::new(Kind::Vpc, &ctx.stack))?;
            let out = elb
                .create_target_group()
                .name(&name)
                .protocol(ProtocolEnum::from(d.protocol.as_str()))
                .port(i32::from(d.port))
                .vpc_id(vpc)
                .target_type(TargetTypeEnum::from(d.target_type.as_str()))
                .health_check_path(&h.path)
                .health_check_interval_seconds(h.interval_seconds as i32)
                .health_check_timeout_seconds(h.timeout_seconds as i32)
                .healthy_threshold_count(h.healthy_threshold as i32)
                .unhealthy_threshold_count(h.unhealthy_threshold as i32)
                .matcher(Matcher::builder().http_code(&h.matcher).build())
                .set_tags(Some(tags::elb(&ctx.tags(address))))
                .send()
                .await
                .map_err(|e| err("creating", address, &e))?;
            let arn = out.target_groups().first().and_then(|t| t.target_group_arn()).unwrap_or_default().to_string();
            ids.set(address, &arn);
            arn
        }
    };
    let delay = TargetGroupAttribute::builder()
        .key(ATTR_DEREGISTRATION_DELAY)
        .value(d.deregistration_delay_seconds.to_string())
        .build();
    elb.modify_target_group_attributes()
        .target_group_arn(&arn)
        .attributes(delay)
        .send()
        .await
        .map_err(|e| err("setting the attributes of", address, &e))?;
    if let (Action::Update, Some(o)) = (action, observed) {
        tags::sync_elb(elb, address, &o.id, &o.tags, &ctx.tags(address)).await?;
    }
    Ok(())
}

async fn load_balancer(
    clients: &Clients,
    ctx: &PlanContext,
    desired: Option<&LoadBalancer>,
    observed: Option<&Observed<LoadBalancerFields>>,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let elb = &clients.elb;
    let Some(d) = desired.filter(|_| action != Action::Delete) else {
        return delete_load_balancer(elb, ids, address).await;
    };
    let subnets = d.subnets.iter().map(|s| ids.get(&Address::new(Kind::Subnet, s))).collect::<Result<Vec<_>>>()?;
    let groups =
        d.security_groups.iter().map(|g| ids.get(&Address::new(Kind::SecurityGroup, g))).collect::<Result<Vec<_>>>()?;
    let arn = match (action, observed) {
        (Action::Update, Some(o)) => {
            let sorted = |mut v: Vec<String>| {
                v.sort();
                v
            };
            if sorted(o.fields.subnet_ids.clone()) != sorted(subnets.clone()) {
                elb.set_subnets()
                    .load_balancer_arn(&o.id)
                    .set_subnets(Some(subnets))
                    .send()
                    .await
                    .map_err(|e| err("setting the subnets of", address, &e))?;
            }
            if sorted(o.fields.security_group_ids.clone()) != sorted(groups.clone()) {
                elb.set_security_groups()
                    .load_balancer_arn(&o.id)
                    .set_security_groups(Some(groups))
                    .send()
                    .await
                    .map_err(|e| err("setting the security groups of", address, &e))?;
            }
            tags::sync_elb(elb, address, &o.id, &o.tags, &ctx.tags(address)).await?;
            o.id.clone()
        }
        _ => {
            if action == Action::Replace {
                delete_load_balancer(elb, ids, address).await?;
            }
            let out = elb
                .create_load_balancer()
                .name(&d.name)
                .r#type(LoadBalancerTypeEnum::Application)
                .scheme(LoadBalancerSchemeEnum::from(d.scheme.as_str()))
                .set_subnets(Some(subnets))
                .set_security_groups(Some(groups))
                .set_tags(Some(tags::elb(&ctx.tags(address))))
                .send()
                .await
                .map_err(|e| err("creating", address, &e))?;
            let arn = out.load_balancers().first().and_then(|l| l.load_balancer_arn()).unwrap_or_default().to_string();
            ids.set(address, &arn);
            arn
        }
    };
    let attributes =
        lb_attributes(d).into_iter().map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build()).collect();
    let unchanged =
        observed.is_some_and(|o| lb_attributes(d).iter().all(|(k, v)| o.fields.attributes.get(k) == Some(v)));
    if !unchanged {
        elb.modify_load_balancer_attributes()
            .load_balancer_arn(&arn)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| err("setting the attributes of", address, &e))?;
    }
    wait_active(elb, address, &arn).await
}

async fn wait_active(elb: &Client, address: &Address, arn: &str) -> Result<()> {
    wait::until(&format!("{address} to become active"), wait::timeout(LB_TIMEOUT), || async {
        let out = elb
            .describe_load_balancers()
            .load_balancer_arns(arn)
            .send()
            .await
            .map_err(|e| err("reading", address, &e))?;
        let state = out.load_balancers().first().and_then(|l| l.state()).cloned();
        match state.as_ref().and_then(|s| s.code()) {
            Some(LoadBalancerStateEnum::Active) => Ok(Check::Ready(())),
            Some(LoadBalancerStateEnum::Failed) => {
                bail!("{address} failed: {}", state.as_ref().and_then(|s| s.reason()).unwrap_or("no reason given"))
            }
            Some(other) => Ok(Check::Pending(other.as_str().to_string())),
            None => Ok(Check::Pending("unknown".into())),
        }
    })
    .await
}

async fn delete_load_balancer(elb: &Client, ids: &Ids, address: &Address) -> Result<()> {
    let arn = ids.get(address)?;
    match elb.delete_load_balancer().load_balancer_arn(&arn).send().await {
        Ok(_) => {}
        Err(e) if not_found(&e) => return Ok(()),
        Err(e) => return Err(err("deleting", address, &e)),
    }
    // Its network interfaces keep the subnets and groups busy until it is gone.
    wait::until(&format!("{address} to be deleted"), wait::timeout(LB_TIMEOUT), || async {
        match elb.describe_load_balancers().load_balancer_arns(&arn).send().await {
            Err(e) if not_found(&e) => Ok(Check::Ready(())),
            Err(e) => Err(err("reading", address, &e)),
            Ok(out) if out.load_balancers().is_empty() => Ok(Check::Ready(())),
            Ok(_) => Ok(Check::Pending("deleting".into())),
        }
    })
    .await
}

async fn listener(
    elb: &Client,
    ctx: &PlanContext,
    desired: Option<&Listener>,
    lb: Option<&str>,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let (Some(d), Some(lb)) = (desired.filter(|_| action != Action::Delete), lb) else {
        return match elb.delete_listener().listener_arn(ids.get(address)?).send().await {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(err("deleting", address, &e)),
        };
    };
    let (protocol, default_action, ssl_policy, certificate) = match &d.action {
        ListenerAction::RedirectToHttps => {
            let redirect = RedirectActionConfig::builder()
                .protocol("HTTPS")
                .port("443")
                .status_code(RedirectActionStatusCodeEnum::Http301)
                .build();
            (
                ProtocolEnum::Http,
                ElbAction::builder().r#type(ActionTypeEnum::Redirect).redirect_config(redirect).build(),
                None,
                None,
            )
        }
        ListenerAction::Https { ssl_policy, certificate, default_status } => {
            let fixed = FixedResponseActionConfig::builder()
                .status_code(default_status.to_string())
                .content_type("text/plain")
                .build();
            let action =
                ElbAction::builder().r#type(ActionTypeEnum::FixedResponse).fixed_response_config(fixed).build();
            let arn = ids.get(&Address::new(Kind::Certificate, certificate))?;
            (
                ProtocolEnum::Https,
                action,
                Some(ssl_policy.clone()),
                Some(vec![ElbCertificate::builder().certificate_arn(arn).build()]),
            )
        }
    };
    if action == Action::Update {
        elb.modify_listener()
            .listener_arn(ids.get(address)?)
            .port(i32::from(d.port))
            .protocol(protocol)
            .default_actions(default_action)
            .set_ssl_policy(ssl_policy)
            .set_certificates(certificate)
            .send()
            .await
            .map_err(|e| err("updating", address, &e))?;
        return Ok(());
    }
    let out = elb
        .create_listener()
        .load_balancer_arn(ids.get(&Address::new(Kind::LoadBalancer, lb))?)
        .port(i32::from(d.port))
        .protocol(protocol)
        .default_actions(default_action)
        .set_ssl_policy(ssl_policy)
        .set_certificates(certificate)
        .set_tags(Some(tags::elb(&ctx.tags(address))))
        .send()
        .await
        .map_err(|e| err("creating", address, &e))?;
    ids.set(address, out.listeners().first().and_then(|l| l.listener_arn()).unwrap_or_default());
    Ok(())
}

/// Moves the HTTPS listener's rules to their desired priorities without ever asking for a
/// priority another rule still holds: first every moving rule to a free temporary priority, then
/// each to its final one (two `SetRulePriorities` batches). Reads the rules first, so the steps of
/// the other moved rules find nothing left to do.
async fn move_priorities(elb: &Client, desired: &[ListenerRule], listener: &str, address: &Address) -> Result<()> {
    let current = elb
        .describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .map_err(|e| err("reading the rules for", address, &e))?;
    let moves: Vec<(String, i32)> = current
        .rules()
        .iter()
        .filter_map(|r| {
            let want =
                desired.iter().find(|d| super::observe::rule_host(r).as_deref() == Some(d.host.as_str()))?.priority
                    as i32;
            (r.priority() != Some(want.to_string().as_str()))
                .then(|| (r.rule_arn().unwrap_or_default().to_string(), want))
        })
        .collect();
    if moves.is_empty() {
        return Ok(());
    }
    let taken: Vec<i32> = current
        .rules()
        .iter()
        .filter_map(|r| r.priority()?.parse().ok())
        .chain(desired.iter().map(|d| d.priority as i32))
        .collect();
    let mut free = (1..=50000).rev().filter(|p| !taken.contains(p));
    let temporary: Vec<(String, i32)> =
        moves.iter().map(|(arn, _)| (arn.clone(), free.next().unwrap_or(50000))).collect();
    for batch in [temporary, moves] {
        let pairs =
            batch.iter().map(|(arn, p)| RulePriorityPair::builder().rule_arn(arn).priority(*p).build()).collect();
        elb.set_rule_priorities()
            .set_rule_priorities(Some(pairs))
            .send()
            .await
            .map_err(|e| err("setting rule priorities for", address, &e))?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn rule(
    elb: &Client,
    ctx: &PlanContext,
    desired: Option<&ListenerRule>,
    observed: Option<&Observed<RuleFields>>,
    all_rules: &[ListenerRule],
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let Some(d) = desired.filter(|_| action != Action::Delete) else {
        return match elb.delete_rule().rule_arn(ids.get(address)?).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("RuleNotFound") => Ok(()),
            Err(e) => Err(err("deleting", address, &e)),
        };
    };
    let condition = RuleCondition::builder()
        .field("host-header")
        .host_header_config(HostHeaderConditionConfig::builder().values(&d.host).build())
        .build();
    let tg = ids.get(&Address::new(Kind::TargetGroup, &d.target_group))?;
    let forward = ElbAction::builder().r#type(ActionTypeEnum::Forward).target_group_arn(tg).build();
    match (action, observed) {
        (Action::Update, Some(o)) => {
            if o.fields.priority != d.priority.to_string() {
                move_priorities(elb, all_rules, &ids.get(&Address::new(Kind::Listener, "https"))?, address).await?;
            }
            elb.modify_rule()
                .rule_arn(&o.id)
                .conditions(condition)
                .actions(forward)
                .send()
                .await
                .map_err(|e| err("updating", address, &e))?;
        }
        _ => {
            let out = elb
                .create_rule()
                .listener_arn(ids.get(&Address::new(Kind::Listener, "https"))?)
                .priority(d.priority as i32)
                .conditions(condition)
                .actions(forward)
                .set_tags(Some(tags::elb(&ctx.tags(address))))
                .send()
                .await
                .map_err(|e| err("creating", address, &e))?;
            ids.set(address, out.rules().first().and_then(|r| r.rule_arn()).unwrap_or_default());
        }
    }
    Ok(())
}
