//! What each resource of the stack file uses, in the terms prices are quoted in: hours of a NAT
//! gateway, instances of a type, vCPUs and GB of Fargate tasks, retention of a log group.
//!
//! Invariant: one entry per address of the stack (the addresses `up` would create, from
//! `graph::plan_from_empty`), so a resource can be neither priced twice nor left out.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::Value;

use crate::model::desired::Desired;
use crate::model::{Address, Kind};

#[derive(Debug, Clone, PartialEq)]
pub enum Usage {
    /// Uses nothing that is charged; the reason is shown.
    Free(String),
    NatGateway,
    /// One public IPv4 address (an Elastic IP).
    PublicIpv4,
    LoadBalancer {
        zones: u32,
        internet_facing: bool,
    },
    /// The instances of an Auto Scaling group, with their root volumes.
    Instances {
        instance_type: String,
        count: u32,
        volume_gib: u32,
    },
    /// The tasks of a Fargate service.
    Fargate {
        family: String,
        arch: String,
        vcpu: f64,
        gib: f64,
        count: u32,
    },
    HostedZone,
    Repository,
    LogGroup {
        retention_days: Option<i32>,
    },
    Alarm,
    /// A cluster's Container Insights (charged when enabled), and how many services it runs.
    ContainerInsights {
        enabled: bool,
        services: u32,
    },
}

impl Usage {
    pub fn why_free(&self) -> &str {
        match self {
            Usage::Free(why) => why,
            Usage::ContainerInsights { enabled: false, .. } => "Container Insights off: no charge",
            _ => "no charge at this usage",
        }
    }
}

/// Each address of the stack with what it uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Footprint {
    pub items: BTreeMap<Address, Usage>,
}

impl Footprint {
    pub fn of(desired: &Desired, region: &str) -> Result<Footprint> {
        let plan = crate::ops::graph::plan_from_empty(desired, region)?;
        let items = plan.changes.iter().map(|c| (c.address.clone(), usage(desired, &c.address))).collect();
        Ok(Footprint { items })
    }
}

/// What one resource of the stack file uses: every kind is named (a new one must be priced).
#[deny(clippy::wildcard_enum_match_arm)]
fn usage(desired: &Desired, address: &Address) -> Usage {
    let name = address.name.as_str();
    match address.kind {
        Kind::NatGateway => Usage::NatGateway,
        Kind::ElasticIp => Usage::PublicIpv4,
        Kind::LoadBalancer => match &desired.ingress {
            Some(edge) => {
                let lb = &edge.load_balancer;
                let subnets = desired.network.iter().flat_map(|n| &n.subnets);
                let mut zones: Vec<&str> =
                    subnets.filter(|s| lb.subnets.contains(&s.name)).map(|s| s.availability_zone.as_str()).collect();
                zones.sort_unstable();
                zones.dedup();
                Usage::LoadBalancer { zones: zones.len() as u32, internet_facing: lb.scheme == "internet-facing" }
            }
            None => Usage::Free("not declared".into()),
        },
        Kind::AutoScalingGroup => match desired.ec2_capacity.iter().find(|c| c.cluster == name) {
            Some(c) => Usage::Instances {
                instance_type: c.instance_type.clone(),
                count: c.instance_count.max(0) as u32,
                volume_gib: c.root_volume_gib.max(0) as u32,
            },
            None => Usage::Free("not declared".into()),
        },
        Kind::EcsService => match desired.services.iter().find(|s| s.name == name) {
            Some(s) if s.launch_type == "FARGATE" => {
                let (arch, vcpu, gib) = task_size(&s.task_definition.json);
                let family = s.task_definition.family.clone();
                Usage::Fargate { family, arch, vcpu, gib, count: s.desired_count.max(0) as u32 }
            }
            Some(s) => Usage::Free(format!(
                "runs on the {} instances, priced on autoscaling_group.{}",
                s.launch_type, s.cluster
            )),
            None => Usage::Free("not declared".into()),
        },
        Kind::EcsCluster => Usage::ContainerInsights {
            enabled: desired.clusters.iter().any(|c| c.name == name && c.container_insights),
            services: desired.services.iter().filter(|s| s.cluster == name).count() as u32,
        },
        Kind::HostedZone => Usage::HostedZone,
        Kind::EcrRepository => Usage::Repository,
        Kind::Alarm => Usage::Alarm,
        Kind::LogGroup => Usage::LogGroup {
            retention_days: desired.log_groups.iter().find(|g| g.name == name).and_then(|g| g.retention_days),
        },
        // The price file says why these cost nothing.
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
        | Kind::SsmParameter => Usage::Free(String::new()),
    }
}

/// A task definition's CPU architecture (`ARM64`, `X86_64`), vCPUs and memory in GB, from its
/// task-level `cpu` / `memory` (CPU units and MiB, numbers or strings, or the normalised
/// `0.5 vCPU` / `1 GB` a plan shows).
pub fn task_size(td: &Value) -> (String, f64, f64) {
    let arch = td.pointer("/runtimePlatform/cpuArchitecture").and_then(Value::as_str).unwrap_or("X86_64").to_string();
    (arch, td.get("cpu").map_or(0.0, vcpu_of), td.get("memory").map_or(0.0, gb_of))
}

pub fn vcpu_of(v: &Value) -> f64 {
    units(v, " vCPU", 1024.0)
}

pub fn gb_of(v: &Value) -> f64 {
    units(v, " GB", 1024.0)
}

/// `512` / `"512"` (divided by `per`) or `"0.5 vCPU"` (taken as it is).
fn units(v: &Value, suffix: &str, per: f64) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0) / per,
        Value::String(s) => match s.strip_suffix(suffix) {
            Some(whole) => whole.trim().parse().unwrap_or(0.0),
            None => s.trim().parse::<f64>().map_or(0.0, |n| n / per),
        },
        _ => 0.0,
    }
}
