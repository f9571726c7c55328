//! The application load balancer (ELBv2): target groups, the load balancer and its listeners.
//!
//! Observe: every load balancer and target group of the account (names are unique per region),
//! their tags in batches of 20, then — for this stack's — attributes and listeners, concurrently.
//! Listeners share their load balancer's ownership and are named by protocol (`http`, `https`).
//! Apply: ARNs created during the run are shared through `Ids` like the network's ids.

mod apply;
mod observe;

use std::collections::{BTreeMap, BTreeSet};

use crate::diff::{foreign, FieldDiff};
use crate::model::edge::{Edge, Listener, ListenerAction, ListenerRule, LoadBalancer, TargetGroup};
use crate::model::tags::Tags;
use crate::model::{Address, Kind};
use crate::plan::build::{diff_kind, PlanContext, ServiceDiff};
use crate::plan::Plan;

pub use apply::apply;
pub use observe::observe;

use super::kit::Observed;
use super::network::ObservedNetwork;

#[derive(Debug, Clone, Default)]
pub struct LoadBalancerFields {
    pub scheme: String,
    /// Normalised (lower case, no trailing dot), as DNS aliases are compared.
    pub dns_name: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    /// `provisioning`, `active`, `failed`…
    pub state: String,
    /// The attributes this tool manages, by AWS key.
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct TargetGroupFields {
    /// The name in AWS: the declared one, or it with a suffix after a replacement.
    pub aws_name: String,
    pub port: i32,
    pub protocol: String,
    pub target_type: String,
    pub vpc_id: String,
    pub health_path: String,
    pub health_interval: i32,
    pub health_timeout: i32,
    pub healthy_threshold: i32,
    pub unhealthy_threshold: i32,
    pub matcher: String,
    pub deregistration_delay: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ListenerFields {
    pub port: i32,
    pub ssl_policy: Option<String>,
    pub certificate_arns: Vec<String>,
    /// The default action in the plan's words, e.g. `redirect to HTTPS:443 (301)`.
    pub default_action: String,
}

#[derive(Debug, Clone, Default)]
pub struct RuleFields {
    pub priority: String,
    /// Target group ARNs of its forward action.
    pub target_group_arns: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ObservedEdge {
    pub load_balancers: Vec<Observed<LoadBalancerFields>>,
    pub target_groups: Vec<Observed<TargetGroupFields>>,
    pub listeners: Vec<Observed<ListenerFields>>,
    /// Host rules of the HTTPS listener, named by host.
    pub rules: Vec<Observed<RuleFields>>,
}

impl ObservedEdge {
    /// Address → ARN of everything of this stack observed.
    pub fn ids(&self) -> BTreeMap<Address, String> {
        let lbs = self.load_balancers.iter().map(|o| (Address::new(Kind::LoadBalancer, &o.name), o.id.clone()));
        let tgs = self.target_groups.iter().map(|o| (Address::new(Kind::TargetGroup, &o.name), o.id.clone()));
        let ls = self.listeners.iter().map(|o| (Address::new(Kind::Listener, &o.name), o.id.clone()));
        let rules = self.rules.iter().map(|o| (Address::new(Kind::ListenerRule, &o.name), o.id.clone()));
        lbs.chain(tgs).chain(ls).chain(rules).collect()
    }
}

pub const ATTR_IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
pub const ATTR_DELETION_PROTECTION: &str = "deletion_protection.enabled";
pub const ATTR_DROP_INVALID_HEADERS: &str = "routing.http.drop_invalid_header_fields.enabled";
pub const ATTR_DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

/// The load balancer attributes the stack file sets, as AWS spells them.
pub fn lb_attributes(lb: &LoadBalancer) -> BTreeMap<String, String> {
    [
        (ATTR_IDLE_TIMEOUT, lb.idle_timeout_seconds.to_string()),
        (ATTR_DELETION_PROTECTION, lb.deletion_protection.to_string()),
        (ATTR_DROP_INVALID_HEADERS, lb.drop_invalid_header_fields.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A listener's default action in the plan's words (the same text `observe` produces).
pub fn describe_action(action: &ListenerAction) -> String {
    match action {
        ListenerAction::RedirectToHttps => "redirect to HTTPS:443 (301)".into(),
        ListenerAction::Https { default_status, .. } => format!("fixed response {default_status}"),
    }
}

/// `certificates` maps this stack's certificate ARNs to their names.
pub fn diff(
    ctx: &PlanContext,
    desired: Option<&Edge>,
    network: &ObservedNetwork,
    certificates: &BTreeMap<String, String>,
    observed: &ObservedEdge,
    plan: &mut Plan,
) {
    let (tgs, lbs, listeners): (&[TargetGroup], Vec<LoadBalancer>, &[Listener]) = match desired {
        Some(e) => (&e.target_groups, vec![e.load_balancer.clone()], &e.listeners),
        None => (&[], vec![], &[]),
    };
    let vpc_name = |id: &str| network.vpcs.iter().find(|v| v.id == id).map(|v| v.name.clone());
    let stack_vpc = ctx.stack.clone();
    let tg_fields = |d: &TargetGroup, o: Option<&Observed<TargetGroupFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        f.field("port", of.map(|o| Some(o.port)), Some(i32::from(d.port)));
        f.field("protocol", of.map(|o| Some(o.protocol.clone())), Some(d.protocol.clone()));
        f.field("target_type", of.map(|o| Some(o.target_type.clone())), Some(d.target_type.clone()));
        f.field("vpc", of.map(|o| vpc_name(&o.vpc_id)), Some(stack_vpc.clone()));
        let h = &d.health_check;
        f.field("health_check.path", of.map(|o| Some(o.health_path.clone())), Some(h.path.clone()));
        f.field("health_check.interval_seconds", of.map(|o| Some(o.health_interval)), Some(h.interval_seconds as i32));
        f.field("health_check.timeout_seconds", of.map(|o| Some(o.health_timeout)), Some(h.timeout_seconds as i32));
        f.field(
            "health_check.healthy_threshold",
            of.map(|o| Some(o.healthy_threshold)),
            Some(h.healthy_threshold as i32),
        );
        f.field(
            "health_check.unhealthy_threshold",
            of.map(|o| Some(o.unhealthy_threshold)),
            Some(h.unhealthy_threshold as i32),
        );
        f.field("health_check.matcher", of.map(|o| Some(o.matcher.clone())), Some(h.matcher.clone()));
        let delay = |o: &TargetGroupFields| o.deregistration_delay.as_deref().and_then(|s| s.parse::<i64>().ok());
        f.field("deregistration_delay_seconds", of.map(delay), Some(i64::from(d.deregistration_delay_seconds)));
        f.tags(o.map(|o| &o.tags), tags);
        f
    };
    let vpc = Address::new(Kind::Vpc, &ctx.stack);
    let spec = ServiceDiff {
        kind: Kind::TargetGroup,
        desired_name: |d: &TargetGroup| &d.name,
        fields: &tg_fields,
        replace_on: &["port", "protocol", "target_type", "vpc"],
        depends_on: &|_| vec![vpc.clone()],
    };
    diff_kind(ctx, spec, tgs, &observed.target_groups, plan);

    let subnet_names = |ids: &[String]| -> BTreeSet<String> {
        ids.iter()
            .map(|id| {
                network.subnets.iter().find(|s| s.id == *id).map(|s| s.name.clone()).unwrap_or_else(|| foreign(id))
            })
            .collect()
    };
    let group_names = |ids: &[String]| -> BTreeSet<String> {
        ids.iter()
            .map(|id| {
                network
                    .security_groups
                    .iter()
                    .find(|g| g.id == *id)
                    .map(|g| g.name.clone())
                    .unwrap_or_else(|| foreign(id))
            })
            .collect()
    };
    let lb_fields = |d: &LoadBalancer, o: Option<&Observed<LoadBalancerFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        f.field("scheme", of.map(|o| Some(o.scheme.clone())), Some(d.scheme.clone()));
        f.members("subnets", of.map(|o| subnet_names(&o.subnet_ids)).as_ref(), &d.subnets.iter().cloned().collect());
        f.members(
            "security_groups",
            of.map(|o| group_names(&o.security_group_ids)).as_ref(),
            &d.security_groups.iter().cloned().collect(),
        );
        for (key, want) in lb_attributes(d) {
            f.field(&format!("attributes.{key}"), of.map(|o| o.attributes.get(&key).cloned()), Some(want));
        }
        f.state("state", of.map(|o| Some(o.state.clone())), "active".to_string());
        f.tags(o.map(|o| &o.tags), tags);
        f
    };
    let lb_deps = |d: &LoadBalancer| {
        let subnets = d.subnets.iter().map(|s| Address::new(Kind::Subnet, s));
        let groups = d.security_groups.iter().map(|g| Address::new(Kind::SecurityGroup, g));
        subnets.chain(groups).chain([Address::new(Kind::InternetGateway, &ctx.stack)]).collect()
    };
    let spec = ServiceDiff {
        kind: Kind::LoadBalancer,
        desired_name: |d: &LoadBalancer| &d.name,
        fields: &lb_fields,
        replace_on: &["scheme"],
        depends_on: &lb_deps,
    };
    diff_kind(ctx, spec, &lbs, &observed.load_balancers, plan);

    // Listeners are observed with their load balancer's tags (ownership), so their own tags,
    // written at create, are not compared.
    let listener_fields = |d: &Listener, o: Option<&Observed<ListenerFields>>, _: &Tags| {
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        f.field("port", of.map(|o| Some(o.port)), Some(i32::from(d.port)));
        f.field("default_action", of.map(|o| Some(o.default_action.clone())), Some(describe_action(&d.action)));
        if let ListenerAction::Https { ssl_policy, certificate, .. } = &d.action {
            f.field("ssl_policy", of.map(|o| o.ssl_policy.clone()), Some(ssl_policy.clone()));
            let cert = |o: &ListenerFields| {
                let names: Vec<String> = o
                    .certificate_arns
                    .iter()
                    .map(|a| certificates.get(a).cloned().unwrap_or_else(|| foreign(a)))
                    .collect();
                (!names.is_empty()).then(|| names.join(", "))
            };
            f.field("certificate", of.map(cert), Some(certificate.clone()));
        }
        f
    };
    let lb_name = lbs.first().map(|l| l.name.clone()).unwrap_or_default();
    let spec = ServiceDiff {
        kind: Kind::Listener,
        desired_name: |d: &Listener| &d.name,
        fields: &listener_fields,
        replace_on: &[],
        depends_on: &|d: &Listener| {
            let cert = match &d.action {
                ListenerAction::Https { certificate, .. } => Some(Address::new(Kind::Certificate, certificate)),
                ListenerAction::RedirectToHttps => None,
            };
            std::iter::once(Address::new(Kind::LoadBalancer, &lb_name)).chain(cert).collect()
        },
    };
    diff_kind(ctx, spec, listeners, &observed.listeners, plan);
    let rules: &[ListenerRule] = desired.map(|e| e.rules.as_slice()).unwrap_or_default();
    diff_rules(ctx, rules, observed, plan);
}

/// Host rules of the HTTPS listener: priority and the target group they forward to.
fn diff_rules(ctx: &PlanContext, desired: &[ListenerRule], observed: &ObservedEdge, plan: &mut Plan) {
    let tg_name = |arn: &String| {
        observed.target_groups.iter().find(|t| t.id == *arn).map(|t| t.name.clone()).unwrap_or_else(|| foreign(arn))
    };
    let renewed = crate::reconcile::kit::renewed(plan, Kind::TargetGroup);
    let fields = |d: &ListenerRule, o: Option<&Observed<RuleFields>>, _: &Tags| {
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        f.field("priority", of.map(|o| Some(o.priority.clone())), Some(d.priority.to_string()));
        let forward = |o: &RuleFields| {
            let names: Vec<String> = o.target_group_arns.iter().map(tg_name).filter(|n| !renewed.contains(n)).collect();
            (!names.is_empty()).then(|| names.join(", "))
        };
        f.field("forward_to", of.map(forward), Some(d.target_group.clone()));
        f
    };
    let spec = ServiceDiff {
        kind: Kind::ListenerRule,
        desired_name: |d: &ListenerRule| &d.host,
        fields: &fields,
        replace_on: &[],
        // Rules go one after another: priorities are unique per listener, and a move touches several.
        depends_on: &|d: &ListenerRule| {
            let previous = desired
                .iter()
                .take_while(|r| r.host != d.host)
                .last()
                .map(|r| Address::new(Kind::ListenerRule, &r.host));
            [Address::new(Kind::Listener, "https"), Address::new(Kind::TargetGroup, &d.target_group)]
                .into_iter()
                .chain(previous)
                .collect()
        },
    };
    diff_kind(ctx, spec, desired, &observed.rules, plan);
}
