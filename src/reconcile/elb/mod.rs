//! The application load balancer (ELBv2), one file per resource kind: target groups, the load
//! balancer, its listeners and the HTTPS listener's host rules.
//!
//! Observe (`observe`): every load balancer and target group of the account (names are unique per
//! region), their tags in batches of 20, then — for this stack's — attributes and listeners,
//! concurrently. Listeners and rules share their load balancer's ownership and are named by
//! protocol (`http`, `https`) and host. ARNs created during the run are shared through `Ids`.

mod listener;
mod listener_rule;
mod load_balancer;
mod observe;
mod target_group;

use std::collections::BTreeMap;

use crate::model::ingress::{Ingress, ListenerAction, LoadBalancer as LoadBalancerSpec};
use crate::model::tags::Tags;

pub use listener::Listener;
pub use listener_rule::ListenerRule;
pub use load_balancer::LoadBalancer;
pub use observe::observe;
pub use target_group::TargetGroup;

use super::kit::Observed;

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

pub const ATTR_IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
pub const ATTR_DELETION_PROTECTION: &str = "deletion_protection.enabled";
pub const ATTR_DROP_INVALID_HEADERS: &str = "routing.http.drop_invalid_header_fields.enabled";
pub const ATTR_DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

/// The load balancer attributes the stack file sets, as AWS spells them.
pub fn lb_attributes(lb: &LoadBalancerSpec) -> BTreeMap<String, String> {
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
