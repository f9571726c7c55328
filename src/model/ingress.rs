//! Desired ingress — how requests reach the stack: the application load balancer, its target
//! groups, listeners and host rules, the certificate they serve, and the DNS records that name it.
//!
//! Invariant: references are by name (subnets and security groups of the network, target groups);
//! ids and ARNs are known only at apply time.

#[derive(Debug, Clone, PartialEq)]
pub struct Ingress {
    pub load_balancer: LoadBalancer,
    pub target_groups: Vec<TargetGroup>,
    pub listeners: Vec<Listener>,
    /// Host-header rules of the HTTPS listener.
    pub rules: Vec<ListenerRule>,
    pub certificate: Option<Certificate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Certificate {
    /// The domain name: also the address name.
    pub domain: String,
    pub subject_alternative_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListenerRule {
    /// The host it matches: also the address name.
    pub host: String,
    pub priority: u32,
    pub target_group: String,
}

/// The DNS side: the hosted zone and the ALIAS records to the load balancer.
#[derive(Debug, Clone, PartialEq)]
pub struct Dns {
    /// Without the trailing dot.
    pub zone: String,
    pub create_zone: bool,
    /// Set the domain's name servers at Route 53 Domains to the zone's when they differ.
    pub delegate: bool,
    /// Fully qualified names (no trailing dot) of A records aliased to the load balancer.
    pub records: Vec<String>,
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
    /// HTTPS with the stack's certificate; a request no rule matches gets this status code.
    Https { ssl_policy: String, certificate: String, default_status: u16 },
}
