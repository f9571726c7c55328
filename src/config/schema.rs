//! The `stack.yaml` schema: plain serde types, strict (`deny_unknown_fields` everywhere).
//!
//! Invariants: this module only describes shape. Semantic checks (CIDRs, overlaps, references,
//! secrets) live in `validate`; turning the file into desired resources lives in `resolve`.
//! Fields whose values are checked later are `Spanned` so errors can name line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

pub type Sp<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackFile {
    /// Stack name: goes into every ownership tag (`containrlab:stack`).
    pub stack: Sp<String>,
    /// Default region when neither `--region` nor `AWS_REGION` is given.
    #[serde(default)]
    pub region: Option<String>,
    /// Tags added to every taggable resource, besides the ownership tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub network: Network,
    #[serde(default)]
    pub security_groups: BTreeMap<String, SecurityGroup>,
    pub load_balancer: Option<LoadBalancer>,
    pub certificate: Option<Certificate>,
    pub dns: Option<Dns>,
    #[serde(default)]
    pub ecr: Ecr,
    #[serde(default)]
    pub ssm: Ssm,
    #[serde(default)]
    pub iam: Iam,
    #[serde(default)]
    pub ecs: Ecs,
    #[serde(default)]
    pub logs: Logs,
    #[serde(default)]
    pub alarms: BTreeMap<String, Alarm>,
    /// The SNS topic every alarm notifies (on ALARM and on OK), with its email subscriptions.
    pub notifications: Option<Notifications>,
    /// Risks this stack takes on purpose, each by id and key path with its reason (`config::risks`).
    #[serde(default)]
    pub allow: Vec<Allowance>,
}

/// `{ risk: public-ip, at: ecs.services.x.assign_public_ip, reason: "…" }`: the id and the key
/// path are the ones the refusal names; the reason is shown on every plan.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowance {
    pub risk: Sp<String>,
    pub at: String,
    pub reason: String,
}

// ---------------------------------------------------------------- network

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub vpc_cidr: Sp<String>,
    /// 1 (cost-optimised, the seed) or one per availability zone.
    #[serde(default = "one")]
    pub nat_gateways: Sp<u32>,
    pub subnets: BTreeMap<String, Subnet>,
    /// VPC flow logs to a CloudWatch log group of `logs.groups`, delivered with an IAM role of
    /// `iam.roles` that trusts `vpc-flow-logs.amazonaws.com`.
    pub flow_logs: Option<FlowLogs>,
}

impl Network {
    /// The availability zones the subnets of `tier` are in.
    pub fn zones(&self, tier: SubnetTier) -> std::collections::BTreeSet<&str> {
        self.subnets.values().filter(|s| s.tier == tier).map(|s| s.availability_zone.as_str()).collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowLogs {
    /// `ALL`, `ACCEPT` or `REJECT`.
    #[serde(default = "all_traffic")]
    pub traffic: Sp<String>,
    pub log_group: Sp<String>,
    pub role: Sp<String>,
    /// 60 or 600 (AWS's two choices; 600 is its default).
    #[serde(default = "ten_minutes")]
    pub max_aggregation_seconds: Sp<i32>,
}

fn all_traffic() -> Sp<String> {
    Spanned::new("ALL".into(), serde_saphyr::Location::UNKNOWN, serde_saphyr::Location::UNKNOWN)
}

fn ten_minutes() -> Sp<i32> {
    Spanned::new(600, serde_saphyr::Location::UNKNOWN, serde_saphyr::Location::UNKNOWN)
}

fn one() -> Sp<u32> {
    Spanned::new(1, serde_saphyr::Location::UNKNOWN, serde_saphyr::Location::UNKNOWN)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    pub tier: SubnetTier,
    pub availability_zone: String,
    pub cidr: Sp<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SubnetTier {
    Public,
    Private,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    pub description: String,
    #[serde(default)]
    pub ingress: Vec<Rule>,
    #[serde(default)]
    pub egress: Vec<Rule>,
}

/// One security-group rule: a protocol, a port or range, and exactly one peer
/// (`cidr` or `security_group`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub protocol: Protocol,
    /// `443` or `"8000-8010"`; omitted for `protocol: all`.
    pub ports: Option<Sp<PortSpec>>,
    pub cidr: Option<Sp<String>>,
    pub security_group: Option<Sp<String>>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    All,
}

/// A port or an inclusive port range, written `443` or `"8000-8010"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub from: u16,
    pub to: u16,
}

impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PortSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a port (443) or a port range (\"8000-8010\")")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PortSpec, E> {
                let p = u16::try_from(v).map_err(|_| E::custom(format!("port {v} is above 65535")))?;
                Ok(PortSpec { from: p, to: p })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PortSpec, E> {
                u64::try_from(v).map_err(|_| E::custom(format!("port {v} is negative"))).and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PortSpec, E> {
                let parse = |s: &str| {
                    s.trim()
                        .parse::<u16>()
                        .map_err(|_| E::custom(format!("`{v}` is not a port or a port range like \"8000-8010\"")))
                };
                match v.split_once('-') {
                    Some((a, b)) => Ok(PortSpec { from: parse(a)?, to: parse(b)? }),
                    None => parse(v).map(|p| PortSpec { from: p, to: p }),
                }
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------- load balancer

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    pub name: String,
    #[serde(default = "internet_facing")]
    pub scheme: String,
    pub subnet_tier: SubnetTier,
    pub security_groups: Vec<Sp<String>>,
    #[serde(default = "sixty")]
    pub idle_timeout_seconds: u32,
    #[serde(default)]
    pub deletion_protection: bool,
    #[serde(default = "yes")]
    pub drop_invalid_header_fields: bool,
    pub http_listener: Option<HttpListener>,
    pub https_listener: Option<HttpsListener>,
    #[serde(default)]
    pub rules: Vec<ListenerRule>,
    pub target_groups: BTreeMap<String, TargetGroup>,
}

fn internet_facing() -> String {
    "internet-facing".into()
}
fn sixty() -> u32 {
    60
}
fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpListener {
    pub port: u16,
    /// Answer every request with a 301 to the same URL on HTTPS.
    pub redirect_to_https: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpsListener {
    pub port: u16,
    pub ssl_policy: String,
    /// What a request matching no host rule gets: a fixed response, never a target group.
    pub default_status_code: u16,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerRule {
    pub priority: u32,
    pub host: String,
    pub target_group: Sp<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    pub port: u16,
    #[serde(default = "http")]
    pub protocol: String,
    pub target_type: TargetType,
    pub health_check: HealthCheck,
    #[serde(default = "thirty")]
    pub deregistration_delay_seconds: u32,
    /// Reached only from inside the VPC (health checks, other tasks): a listener rule of an
    /// internet-facing load balancer routing to it is a risk (`internal-target-public`).
    #[serde(default)]
    pub internal: bool,
}

fn http() -> String {
    "HTTP".into()
}
fn thirty() -> u32 {
    30
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    Ip,
    Instance,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    pub path: String,
    #[serde(default = "thirty")]
    pub interval_seconds: u32,
    #[serde(default = "five")]
    pub timeout_seconds: u32,
    #[serde(default = "two")]
    pub healthy_threshold: u32,
    #[serde(default = "three")]
    pub unhealthy_threshold: u32,
    #[serde(default = "ok")]
    pub matcher: String,
}

fn five() -> u32 {
    5
}
fn two() -> u32 {
    2
}
fn three() -> u32 {
    3
}
fn ok() -> String {
    "200".into()
}

// ---------------------------------------------------------------- certificate and DNS

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub domain_name: String,
    #[serde(default)]
    pub subject_alternative_names: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    pub zone: String,
    /// Create the hosted zone when it does not exist (a rebuild in a new account).
    #[serde(default)]
    pub create_zone: bool,
    /// When the domain is registered with Route 53 Domains in this account and names other name
    /// servers than the zone's, set them to the zone's (a rebuild into a new zone).
    #[serde(default)]
    pub delegate: bool,
    #[serde(default)]
    pub records: Vec<DnsRecord>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRecord {
    /// Relative to the zone: `api` is `api.<zone>`.
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    /// Only `load_balancer` today: an ALIAS to the stack's load balancer.
    pub alias: Sp<String>,
}

// ---------------------------------------------------------------- ECR

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ecr {
    #[serde(default)]
    pub repositories: BTreeMap<String, Repository>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    pub scan_on_push: bool,
    pub tag_mutability: TagMutability,
    /// Lifecycle policy: expire all but the newest N images. Omitted: no lifecycle policy.
    pub keep_last_images: Option<Sp<u32>>,
    /// Architecture of the images pushed here (`arm64`, `amd64`): a task definition on another
    /// CPU architecture that runs them is an error.
    #[serde(default)]
    pub architecture: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum TagMutability {
    Mutable,
    Immutable,
}

// ---------------------------------------------------------------- SSM

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ssm {
    #[serde(default)]
    pub parameters: BTreeMap<String, Parameter>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    #[serde(rename = "type")]
    pub kind: ParameterType,
    #[serde(default)]
    pub description: Option<String>,
    /// The value of a plain `String` parameter. Never allowed for `SecureString`.
    pub value: Option<Sp<String>>,
    /// The environment variable that supplies a `SecureString` value at plan time.
    pub value_from_env: Option<Sp<String>>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
pub enum ParameterType {
    String,
    SecureString,
}

// ---------------------------------------------------------------- IAM

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Iam {
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    #[serde(default)]
    pub description: Option<String>,
    /// Service principals allowed to assume the role (`ecs-tasks.amazonaws.com`).
    #[serde(default)]
    pub trusted_services: Vec<String>,
    /// GitHub Actions OIDC trust: `owner/repo` and the refs allowed to deploy.
    pub trusted_github: Option<GithubTrust>,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, Vec<Statement>>,
    /// Also create an instance profile of the same name (EC2 roles).
    #[serde(default)]
    pub instance_profile: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubTrust {
    pub repository: String,
    pub refs: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(default = "allow")]
    pub effect: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// IAM condition block: operator → condition key → values, e.g.
    /// `{ StringEquals: { "iam:PassedToService": [ecs-tasks.amazonaws.com] } }`.
    #[serde(default)]
    pub conditions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

fn allow() -> String {
    "Allow".into()
}

// ---------------------------------------------------------------- ECS

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ecs {
    #[serde(default)]
    pub clusters: BTreeMap<String, Cluster>,
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    #[serde(default)]
    pub container_insights: bool,
    /// EC2 capacity for clusters whose tasks cannot run on Fargate (the privileged runner).
    pub ec2_capacity: Option<Ec2Capacity>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2Capacity {
    pub instance_type: String,
    /// Public SSM parameter holding the AMI id (the ECS-optimised Amazon Linux 2 image).
    pub ami_parameter: String,
    pub instance_count: u32,
    pub subnet_tier: SubnetTier,
    pub security_groups: Vec<Sp<String>>,
    /// IAM role with `instance_profile: true`.
    pub instance_role: Sp<String>,
    #[serde(default = "thirty")]
    pub root_volume_gib: u32,
    /// Shell lines appended to the user data that joins the cluster.
    #[serde(default)]
    pub extra_user_data: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub cluster: Sp<String>,
    /// Path of the task-definition JSON, relative to the stack file.
    pub task_definition: Sp<String>,
    pub launch_type: LaunchType,
    pub desired_count: u32,
    pub subnet_tier: Option<SubnetTier>,
    #[serde(default)]
    pub security_groups: Vec<Sp<String>>,
    #[serde(default)]
    pub assign_public_ip: bool,
    #[serde(default)]
    pub load_balancers: Vec<ServiceLoadBalancer>,
    #[serde(default = "yes")]
    pub circuit_breaker_rollback: bool,
    /// Old task-definition revisions kept registered (for rollback); older ones are deregistered.
    #[serde(default = "five")]
    pub keep_revisions: u32,
    /// Alarms (of `alarms:`) that roll a deployment back when they go into ALARM while it runs
    /// (ECS deployment alarms, beside the circuit breaker).
    #[serde(default)]
    pub rollback_alarms: Vec<Sp<String>>,
    /// ECS Exec (`containrlab exec`): the service's `enableExecuteCommand`, and the task role's
    /// `ssmmessages` permissions. An accepted risk (`ecs-exec`).
    #[serde(default)]
    pub exec: bool,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum LaunchType {
    Fargate,
    Ec2,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLoadBalancer {
    pub target_group: Sp<String>,
    pub container: Sp<String>,
    pub port: u16,
}

// ---------------------------------------------------------------- logs and alarms

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    #[serde(default)]
    pub groups: BTreeMap<String, LogGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogGroup {
    /// One of CloudWatch Logs' allowed values (1, 3, 5, 7, 14, 30, …); omitted: never expire.
    pub retention_days: Option<Sp<i32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    #[serde(default)]
    pub description: Option<String>,
    pub namespace: String,
    pub metric: String,
    pub statistic: String,
    pub period_seconds: u32,
    #[serde(default = "one_u32")]
    pub evaluation_periods: u32,
    pub threshold: f64,
    pub comparison: String,
    /// Dimension name to value; `${cluster:NAME}`, `${service:NAME}`, `${asg:CLUSTER}`,
    /// `${load_balancer}`, `${target_group:NAME}` and `${nat_gateway:SUBNET}` resolve to the
    /// stack's own resources (the last three to the ids CloudWatch's dimensions use).
    #[serde(default)]
    pub dimensions: BTreeMap<String, Sp<String>>,
    #[serde(default)]
    pub treat_missing_data: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    pub topic: Sp<String>,
    #[serde(default)]
    pub emails: Vec<Sp<String>>,
}

fn one_u32() -> u32 {
    1
}
