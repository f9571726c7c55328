//! The monthly cost change of a plan: the stack file's footprint (after) against the footprint AWS
//! has now (before), which is the stack file's with the plan undone — what it creates taken out,
//! what it deletes put back from what AWS reported, what it updates set back to the field's
//! `before` value. Only what a plan shows is used, so the figure matches the plan line for line.
//!
//! Invariant: a resource the plan does not touch costs the same before and after; a removed
//! resource whose size AWS did not report is listed as not priced rather than counted as zero.

use anyhow::Result;
use serde_json::Value;

use super::footprint::{gb_of, vcpu_of, Footprint, Usage};
use super::{Estimate, Line, Prices};
use crate::diff::Path;
use crate::diff::Shown;
use crate::model::{Address, Kind};
use crate::plan::{Action, Reason};
use crate::reconcile::ecs::{cluster, service, task_definition};
use crate::reconcile::runner::{autoscaling_group, launch_template};
use crate::reconcile::{logs, Payload, Plan, ResourceChange};

/// Before and after of the resources a plan changes.
#[derive(Debug)]
pub struct CostChange {
    pub before: f64,
    pub after: f64,
    /// Lines that differ: `(before, after)`, either absent when the resource is created or deleted.
    pub lines: Vec<(Option<Line>, Option<Line>)>,
    /// Removed resources whose cost could not be read from the plan.
    pub not_priced: Vec<Address>,
    /// The plan was narrowed by `--target`: `before`/`after` then count the untargeted changes as
    /// done, so only the difference (the targeted changes' cost) is meaningful.
    pub targeted: bool,
}

impl CostChange {
    pub fn delta(&self) -> f64 {
        self.after - self.before
    }
}

/// The cost change of `plan` (a converge plan) for the stack file's `after` footprint.
pub fn of_plan(prices: &Prices, region: &str, after: &Footprint, plan: &Plan) -> Result<CostChange> {
    let (before, not_priced) = undo(after, plan);
    let (b, a) = (prices.estimate(region, &before)?, prices.estimate(region, after)?);
    Ok(CostChange { before: b.total(), after: a.total(), lines: differing(&b, &a), not_priced, targeted: false })
}

fn differing(before: &Estimate, after: &Estimate) -> Vec<(Option<Line>, Option<Line>)> {
    let key = |l: &Line| (l.address.clone(), l.item.clone());
    let mut out: Vec<(Option<Line>, Option<Line>)> = Vec::new();
    for b in &before.lines {
        let a = after.lines.iter().find(|a| key(a) == key(b));
        if a.is_none_or(|a| a.monthly != b.monthly || a.what != b.what) {
            out.push((Some(b.clone()), a.cloned()));
        }
    }
    for a in after.lines.iter().filter(|a| !before.lines.iter().any(|b| key(b) == key(a))) {
        out.push((None, Some(a.clone())));
    }
    out.retain(|(b, a)| b.as_ref().map_or(0.0, |l| l.monthly) != a.as_ref().map_or(0.0, |l| l.monthly));
    out
}

/// The footprint before `plan` runs, and the removed resources it could not size.
fn undo(after: &Footprint, plan: &Plan) -> (Footprint, Vec<Address>) {
    let mut before = after.clone();
    let mut not_priced = Vec::new();
    for c in &plan.changes {
        match c.action {
            Action::Create => {
                before.items.remove(&c.address);
            }
            Action::Delete if c.reason == Reason::RemovedFromStack && !before.items.contains_key(&c.address) => {
                match removed(c, plan) {
                    Some(u) => {
                        before.items.insert(c.address.clone(), u);
                    }
                    None => not_priced.push(c.address.clone()),
                }
            }
            Action::Delete => {}
            Action::Update | Action::Replace => set_back(&mut before, c),
        }
    }
    (before, not_priced)
}

/// A field's value before the change, when the plan shows one.
fn was(c: &ResourceChange, path: Path) -> Option<&Value> {
    c.fields.iter().find(|f| f.is(path)).and_then(|f| match &f.before {
        Some(Shown::Value(v)) => Some(v),
        _ => None,
    })
}

/// Puts the cost-relevant fields an update changes back to their `before` values; every kind is
/// named (an update of a new kind may change its price).
#[deny(clippy::wildcard_enum_match_arm)]
fn set_back(before: &mut Footprint, c: &ResourceChange) {
    let name = c.address.name.as_str();
    match c.address.kind {
        Kind::AutoScalingGroup => {
            if let (Some(Usage::Instances { count, .. }), Some(size)) =
                (before.items.get_mut(&c.address), was(c, autoscaling_group::SIZE).and_then(Value::as_str))
            {
                *count = desired_of_size(size).unwrap_or(*count);
            }
        }
        Kind::LaunchTemplate => {
            let group = Address::new(Kind::AutoScalingGroup, name);
            if let Some(Usage::Instances { instance_type, volume_gib, .. }) = before.items.get_mut(&group) {
                if let Some(t) = was(c, launch_template::INSTANCE_TYPE).and_then(Value::as_str) {
                    *instance_type = t.to_string();
                }
                if let Some(v) = was(c, launch_template::ROOT_VOLUME).and_then(Value::as_str) {
                    *volume_gib = gib_of_volume(v).unwrap_or(*volume_gib);
                }
            }
        }
        Kind::EcsService => {
            if let (Some(Usage::Fargate { count, .. }), Some(n)) =
                (before.items.get_mut(&c.address), was(c, service::DESIRED_COUNT).and_then(Value::as_u64))
            {
                *count = n as u32;
            }
        }
        Kind::TaskDefinition => {
            for usage in before.items.values_mut() {
                if let Usage::Fargate { family, arch, vcpu, gib, .. } = usage {
                    if family != name {
                        continue;
                    }
                    if let Some(v) = was(c, task_definition::CPU) {
                        *vcpu = vcpu_of(v);
                    }
                    if let Some(v) = was(c, task_definition::MEMORY) {
                        *gib = gb_of(v);
                    }
                    if let Some(v) = was(c, task_definition::ARCHITECTURE).and_then(Value::as_str) {
                        *arch = v.to_string();
                    }
                }
            }
        }
        Kind::EcsCluster => {
            if let (Some(Usage::ContainerInsights { enabled, .. }), Some(was_on)) =
                (before.items.get_mut(&c.address), was(c, cluster::INSIGHTS).and_then(Value::as_str))
            {
                *enabled = was_on == "enabled";
            }
        }
        Kind::LogGroup => {
            if let Some(Usage::LogGroup { retention_days }) = before.items.get_mut(&c.address) {
                if c.fields.iter().any(|f| f.is(logs::RETENTION)) {
                    *retention_days = was(c, logs::RETENTION).and_then(Value::as_i64).map(|d| d as i32);
                }
            }
        }
        // Their updates change nothing priced.
        Kind::Vpc
        | Kind::Subnet
        | Kind::InternetGateway
        | Kind::ElasticIp
        | Kind::NatGateway
        | Kind::RouteTable
        | Kind::SecurityGroup
        | Kind::SecurityGroupRules
        | Kind::FlowLog
        | Kind::IamOidcProvider
        | Kind::IamRole
        | Kind::HostedZone
        | Kind::Certificate
        | Kind::TargetGroup
        | Kind::LoadBalancer
        | Kind::Listener
        | Kind::ListenerRule
        | Kind::DnsRecords
        | Kind::CapacityProvider
        | Kind::SnsTopic
        | Kind::Alarm
        | Kind::EcrRepository
        | Kind::SsmParameter => {}
    }
}

/// What a resource no longer in the stack file uses, from what AWS reported for it; every kind
/// is named (a new one must be priced).
#[deny(clippy::wildcard_enum_match_arm)]
fn removed(c: &ResourceChange, plan: &Plan) -> Option<Usage> {
    let deleted = |kind: Kind, name: &str| plan.changes.iter().find(|d| d.address == Address::new(kind, name));
    Some(match (c.address.kind, &c.payload) {
        (Kind::NatGateway, _) => Usage::NatGateway,
        (Kind::ElasticIp, _) => Usage::PublicIpv4,
        (Kind::HostedZone, _) => Usage::HostedZone,
        (Kind::EcrRepository, _) => Usage::Repository,
        (Kind::Alarm, _) => Usage::Alarm,
        (Kind::LogGroup, Payload::LogGroup(p)) => {
            Usage::LogGroup { retention_days: p.observed.as_ref()?.retention_days }
        }
        (Kind::LoadBalancer, Payload::LoadBalancer(p)) => {
            let o = &p.observed.as_ref()?.fields;
            Usage::LoadBalancer { zones: o.subnet_ids.len() as u32, internet_facing: o.scheme == "internet-facing" }
        }
        (Kind::AutoScalingGroup, Payload::AutoScalingGroup(p)) => {
            let count = desired_of_size(&p.observed.as_ref()?.fields.size)?;
            let Payload::LaunchTemplate(t) = &deleted(Kind::LaunchTemplate, &c.address.name)?.payload else {
                return None;
            };
            let template = t.observed.as_ref()?.fields.clone();
            let volume_gib = gib_of_volume(&template.root_volume)?;
            Usage::Instances { instance_type: template.instance_type, count, volume_gib }
        }
        (Kind::EcsService, Payload::EcsService(p)) => {
            let o = &p.observed.as_ref()?.fields;
            if o.launch_type != "FARGATE" {
                return Some(Usage::Free(format!("ran on {} instances", o.launch_type)));
            }
            // Its tasks' size is in the task definition, which the plan does not read for a
            // removed service: listed as not priced.
            return None;
        }
        (Kind::EcsCluster, Payload::EcsCluster(p)) => {
            let enabled = p.observed.as_ref()?.fields.container_insights == "enabled";
            // The services it ran are deleted too and priced on their own; its metrics were per service.
            let services =
                plan.changes.iter().filter(|d| d.address.kind == Kind::EcsService && d.action == Action::Delete);
            Usage::ContainerInsights { enabled, services: services.count() as u32 }
        }
        // A payload of another kind than the address's: nothing known to price it by.
        (Kind::LogGroup | Kind::LoadBalancer | Kind::AutoScalingGroup | Kind::EcsService | Kind::EcsCluster, _) => {
            return None
        }
        (
            Kind::Vpc
            | Kind::Subnet
            | Kind::InternetGateway
            | Kind::RouteTable
            | Kind::SecurityGroup
            | Kind::SecurityGroupRules
            | Kind::FlowLog
            | Kind::IamOidcProvider
            | Kind::IamRole
            | Kind::Certificate
            | Kind::TargetGroup
            | Kind::Listener
            | Kind::ListenerRule
            | Kind::DnsRecords
            | Kind::TaskDefinition
            | Kind::LaunchTemplate
            | Kind::CapacityProvider
            | Kind::SnsTopic
            | Kind::SsmParameter,
            _,
        ) => Usage::Free(String::new()),
    })
}

/// `min 1, max 1, desired 1` → 1.
fn desired_of_size(size: &str) -> Option<u32> {
    size.split("desired ").nth(1)?.trim().parse().ok()
}

/// `30 GiB gp3, encrypted` → 30.
fn gib_of_volume(v: &str) -> Option<u32> {
    v.split(" GiB").next()?.trim().parse().ok()
}
