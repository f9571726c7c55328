//! The monthly cost of a stack at AWS list prices, from the stack file alone (no AWS call): what
//! each resource uses (`footprint`), priced line by line from the reviewed price file
//! (`prices.yaml`, read at build time), and the change a plan makes to it (`change`).
//!
//! Invariants: every figure comes from the price file — a price or an assumption it names — and
//! every resource kind the tool manages has an entry there (price lines, or the reason it is free);
//! a kind, region or instance type without one is an error, never a silent zero.

pub mod change;
pub mod footprint;
pub mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use crate::model::desired::Desired;
use crate::model::{Address, Kind};
use footprint::{Footprint, Usage};

/// The price file, as checked into the repository.
pub const PRICE_FILE: &str = "src/cost/prices.yaml";
const PRICES_YAML: &str = include_str!("prices.yaml");
/// Where the price file's `instance_hour` table comes from.
const INSTANCE_PRICES: &str = "https://aws.amazon.com/ec2/pricing/on-demand/";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub checked: String,
    pub hours_per_month: f64,
    pub assumptions: Assumptions,
    regions: BTreeMap<String, RegionPrices>,
    kinds: BTreeMap<String, KindEntry>,
    pub seed: Seed,
}

#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Assumptions {
    pub nat_data_gb_per_gateway: f64,
    pub load_balancer_lcu: f64,
    pub public_ipv4_per_load_balancer_zone: f64,
    pub ecr_gb_per_repository: f64,
    pub log_ingest_gb_per_group: f64,
    pub container_insights_metrics_per_cluster: f64,
    pub container_insights_metrics_per_service: f64,
    pub container_insights_log_gb_per_cluster: f64,
    pub data_transfer_out_gb: f64,
    pub cpu_credit_surplus_vcpu_hours: f64,
}

#[derive(Debug, Deserialize)]
struct RegionPrices {
    instance_hour: BTreeMap<String, f64>,
    #[serde(flatten)]
    items: BTreeMap<String, Price>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub group: String,
    pub price: f64,
    pub unit: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum KindEntry {
    Lines(Vec<String>),
    Free(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    pub total: f64,
    pub groups: BTreeMap<String, f64>,
    /// Why a group the seed's table lacks costs something.
    pub notes: BTreeMap<String, String>,
}

/// One priced line: `quantity` units at `unit_price`, for one resource.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Line {
    pub group: String,
    pub address: Address,
    /// The price file's key (`nat_gateway_hour`, `instance_hour`).
    pub item: String,
    /// What is counted, in words: `t3.medium × 1`, `20 GB (assumed)`.
    pub what: String,
    pub quantity: f64,
    pub unit: String,
    pub unit_price: f64,
    pub monthly: f64,
    /// The pricing page the price was taken from.
    pub source: String,
}

/// The priced stack.
#[derive(Debug)]
pub struct Estimate {
    pub region: String,
    pub lines: Vec<Line>,
    /// Resources without a charge, with the price file's reason.
    pub free: Vec<(Address, String)>,
}

impl Estimate {
    pub fn total(&self) -> f64 {
        self.lines.iter().map(|l| l.monthly).sum()
    }
}

impl Prices {
    pub fn load() -> Result<Prices> {
        serde_saphyr::from_str(PRICES_YAML).map_err(|e| anyhow!("{PRICE_FILE}: {e}"))
    }

    fn region(&self, region: &str) -> Result<&RegionPrices> {
        self.regions.get(region).with_context(|| {
            let known: Vec<&str> = self.regions.keys().map(String::as_str).collect();
            format!(
                "{PRICE_FILE} has no prices for region {region} (it has: {}); add them from the pricing pages its lines name",
                known.join(", ")
            )
        })
    }

    /// The price file's entry for `kind`: the items it may be priced with, or why it is free.
    fn entry(&self, kind: Kind) -> Result<&KindEntry> {
        self.kinds.get(kind.as_str()).with_context(|| {
            format!(
                "{PRICE_FILE} has no entry for resource kind `{}`: add its price lines or `free (why)`",
                kind.as_str()
            )
        })
    }

    /// The stack file's monthly cost in `region`.
    pub fn of_stack(&self, desired: &Desired, region: &str) -> Result<Estimate> {
        self.estimate(region, &Footprint::of(desired, region)?)
    }

    /// Every resource of `footprint`, priced.
    pub fn estimate(&self, region: &str, footprint: &Footprint) -> Result<Estimate> {
        let prices = self.region(region)?;
        let mut estimate = Estimate { region: region.to_string(), lines: Vec::new(), free: Vec::new() };
        for (address, usage) in &footprint.items {
            let allowed = match self.entry(address.kind)? {
                KindEntry::Free(entry) => {
                    let why = entry.strip_prefix("free (").and_then(|w| w.strip_suffix(')')).with_context(|| {
                        format!(
                            "{PRICE_FILE}: kind `{}`: expected a list of price lines or `free (why)`, found `{entry}`",
                            address.kind.as_str()
                        )
                    })?;
                    estimate.free.push((address.clone(), why.to_string()));
                    continue;
                }
                KindEntry::Lines(items) => items,
            };
            let mut pricer = Pricer { prices, allowed, address, hours: self.hours_per_month, lines: Vec::new() };
            pricer.price(usage, &self.assumptions)?;
            if pricer.lines.is_empty() {
                estimate.free.push((address.clone(), usage.why_free().to_string()));
            }
            estimate.lines.extend(pricer.lines);
        }
        Ok(estimate)
    }
}

/// Prices the usage of one resource, only with the items its kind's entry lists.
struct Pricer<'a> {
    prices: &'a RegionPrices,
    allowed: &'a [String],
    address: &'a Address,
    hours: f64,
    lines: Vec<Line>,
}

impl Pricer<'_> {
    fn add(&mut self, item: &str, what: String, quantity: f64) -> Result<()> {
        let price = self.prices.items.get(item).with_context(|| format!("{PRICE_FILE}: no price `{item}`"))?;
        let (unit_price, unit, group, source) =
            (price.price, price.unit.clone(), price.group.clone(), price.source.clone());
        self.push(item, what, quantity, unit_price, [unit, group, source])
    }

    /// `[unit, group, source]` as the price file gives them.
    fn push(&mut self, item: &str, what: String, quantity: f64, unit_price: f64, about: [String; 3]) -> Result<()> {
        let [unit, group, source] = about;
        if !self.allowed.iter().any(|a| a == item) {
            bail!("{PRICE_FILE}: kind `{}` does not list `{item}` among its price lines", self.address.kind.as_str());
        }
        self.lines.push(Line {
            group,
            address: self.address.clone(),
            item: item.to_string(),
            what,
            quantity,
            unit,
            unit_price,
            monthly: quantity * unit_price,
            source,
        });
        Ok(())
    }

    fn price(&mut self, usage: &Usage, a: &Assumptions) -> Result<()> {
        let h = self.hours;
        match usage {
            Usage::Free(_) => {}
            Usage::NatGateway => {
                self.add("nat_gateway_hour", format!("{h} h"), h)?;
                let gb = a.nat_data_gb_per_gateway;
                self.add("nat_gateway_gb", format!("{gb} GB processed (assumed)"), gb)?;
            }
            Usage::PublicIpv4 => self.add("public_ipv4_hour", format!("1 address × {h} h"), h)?,
            Usage::LoadBalancer { zones, internet_facing } => {
                self.add("load_balancer_hour", format!("{h} h"), h)?;
                let lcu = a.load_balancer_lcu;
                self.add("load_balancer_lcu_hour", format!("{lcu} LCU (assumed) × {h} h"), lcu * h)?;
                if *internet_facing {
                    let n = f64::from(*zones) * a.public_ipv4_per_load_balancer_zone;
                    self.add("public_ipv4_hour", format!("{n} addresses (one per zone) × {h} h"), n * h)?;
                }
                let out = a.data_transfer_out_gb;
                let billable = (out - 100.0).max(0.0);
                self.add(
                    "data_transfer_out_gb",
                    format!("{billable} GB billable of {out} GB out (assumed; the first 100 GB a month are free)"),
                    billable,
                )?;
            }
            Usage::Instances { instance_type, count, volume_gib } => {
                let hourly = self.prices.instance_hour.get(instance_type).copied().with_context(|| {
                    format!("{PRICE_FILE} has no hourly price for instance type {instance_type}: add it from {INSTANCE_PRICES}")
                })?;
                let n = f64::from(*count);
                let about = ["instance-hour".into(), "EC2".into(), INSTANCE_PRICES.into()];
                self.push("instance_hour", format!("{instance_type} × {count} × {h} h"), n * h, hourly, about)?;
                let gib = f64::from(*volume_gib) * n;
                self.add("ebs_gp3_gb_month", format!("{volume_gib} GiB gp3 × {count}"), gib)?;
                if instance_type.starts_with('t') {
                    let surplus = a.cpu_credit_surplus_vcpu_hours;
                    self.add("cpu_credit_vcpu_hour", format!("{surplus} surplus vCPU-hours (assumed)"), surplus)?;
                }
            }
            Usage::Fargate { arch, vcpu, gib, count, .. } => {
                let n = f64::from(*count);
                let (cpu_item, mem_item) = match arch.as_str() {
                    "ARM64" => ("fargate_vcpu_hour_arm64", "fargate_gb_hour_arm64"),
                    _ => ("fargate_vcpu_hour_x86_64", "fargate_gb_hour_x86_64"),
                };
                self.add(cpu_item, format!("{vcpu} vCPU × {count} task × {h} h ({arch})"), vcpu * n * h)?;
                self.add(mem_item, format!("{gib} GB × {count} task × {h} h ({arch})"), gib * n * h)?;
            }
            Usage::HostedZone => self.add("hosted_zone_month", "1 zone".into(), 1.0)?,
            Usage::Repository => {
                let gb = a.ecr_gb_per_repository;
                self.add("ecr_gb_month", format!("{gb} GB of images (assumed)"), gb)?;
            }
            Usage::LogGroup { retention_days } => {
                let gb = a.log_ingest_gb_per_group;
                self.add("log_ingest_gb", format!("{gb} GB a month (assumed)"), gb)?;
                let (months, kept) = match retention_days {
                    Some(d) => (f64::from(*d) * 12.0 / 365.0, format!("{d} days")),
                    None => (12.0, "never expires: a year's worth".into()),
                };
                self.add("log_storage_gb_month", format!("{gb} GB × {kept}"), gb * months)?;
            }
            Usage::Alarm => self.add("alarm_month", "1 alarm".into(), 1.0)?,
            Usage::ContainerInsights { enabled: false, .. } => {}
            Usage::ContainerInsights { enabled: true, services } => {
                let metrics = a.container_insights_metrics_per_cluster
                    + a.container_insights_metrics_per_service * f64::from(*services);
                let what = format!(
                    "Container Insights: {metrics} metrics for the cluster and {services} service(s) (estimate)"
                );
                self.add("metric_month", what, metrics)?;
                let gb = a.container_insights_log_gb_per_cluster;
                self.add("log_ingest_gb", format!("Container Insights: {gb} GB of performance events (assumed)"), gb)?;
            }
        }
        Ok(())
    }
}
