//! What a resource uses, in the terms prices are quoted in — hours of a NAT gateway, instances of
//! a type, vCPUs and GB of Fargate tasks, retention of a log group — and the stack's footprint,
//! one usage per address. Each kind says its own (`Resource::usage`); `cost` prices them.
//!
//! Invariant: a usage names quantities only, never prices (those are the price file's).

use std::collections::BTreeMap;

use serde_json::Value;

use super::Address;

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
    /// Nothing of the kind is charged (the price file says why).
    pub fn free() -> Usage {
        Usage::Free(String::new())
    }

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

/// An Auto Scaling group's size as a plan shows it, `min 1, max 1, desired 1` → 1.
pub fn desired_of_size(size: &str) -> Option<u32> {
    size.split("desired ").nth(1)?.trim().parse().ok()
}

/// A root volume as a plan shows it, `30 GiB gp3, encrypted` → 30.
pub fn gib_of_volume(v: &str) -> Option<u32> {
    v.split(" GiB").next()?.trim().parse().ok()
}
