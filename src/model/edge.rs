//! Desired edge: the application load balancer, its target groups and listeners.
//!
//! Invariant: references are by name (subnets and security groups of the network, target groups);
//! ids and ARNs are known only at apply time.

#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub load_balancer: LoadBalancer,
    pub target_groups: Vec<TargetGroup>,
    pub listeners: Vec<Listener>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadBalancer {
    pub name: String,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    /// Subnet names (the tier the stack file names).
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub idle_timeout_seconds: u32,
    pub deletion_protection: bool,
    pub drop_invalid_header_fields: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetGroup {
    pub name: String,
    pub port: u16,
    pub protocol: String,
    /// `ip` or `instance`.
    pub target_type: String,
    pub health_check: HealthCheck,
    pub deregistration_delay_seconds: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub path: String,
    pub interval_seconds: u32,
    pub timeout_seconds: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub matcher: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    /// `http` or `https`: the address name.
    pub name: String,
    pub port: u16,
    pub action: ListenerAction,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ListenerAction {
    /// 301 to the same host and path on HTTPS (port 443).
    RedirectToHttps,
}
