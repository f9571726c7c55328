//! Desired resources: what the stack file asks for, resolved and ready to compare.
//!
//! Produced only by `config::resolve`; read by the reconcilers' `diff` and `apply`.

use super::secret::Secret;
use super::tags::Tags;

#[derive(Debug, Clone)]
pub struct Desired {
    pub stack: String,
    /// The stack's own tags (ownership tags are added per resource).
    pub tags: Tags,
    /// `None` only in `down`, where nothing is desired.
    pub network: Option<super::network::Network>,
    /// The load balancer and what hangs off it; `None` without a `load_balancer` section (and in `down`).
    pub ingress: Option<super::ingress::Ingress>,
    pub iam: Option<super::iam::Iam>,
    pub clusters: Vec<Cluster>,
    /// Kept in `down` too (as hints of what to read); `down` plans no service from them.
    pub services: Vec<super::compute::Service>,
    pub ec2_capacity: Vec<super::compute::Ec2Capacity>,
    pub alarms: Vec<super::compute::Alarm>,
    /// The topic the alarms notify; kept in `down` too (as a hint of what to read).
    pub notifications: Option<Topic>,
    /// Kept in `down` too: records cannot be tagged, so the stack owns the records it declares.
    pub dns: Option<super::ingress::Dns>,
    pub repositories: Vec<Repository>,
    pub parameters: Vec<Parameter>,
    pub log_groups: Vec<LogGroup>,
}

impl Desired {
    /// The same stack with nothing in it: what `down` converges to.
    pub fn without_resources(self) -> Desired {
        Desired {
            network: None,
            ingress: None,
            repositories: Vec::new(),
            parameters: Vec::new(),
            log_groups: Vec::new(),
            ec2_capacity: Vec::new(),
            ..self
        }
    }
}

impl Desired {
    /// The stack built in `to` instead of the stack file's region `from`: each availability zone
    /// keeps its letter (`us-east-1a` → `eu-west-1a`). Returns the zones moved, `(from, to)`.
    pub fn relocate_zones(&mut self, from: &str, to: &str) -> Vec<(String, String)> {
        let mut moved = Vec::new();
        for s in self.network.iter_mut().flat_map(|n| n.subnets.iter_mut()) {
            if let Some(letter) = s.availability_zone.strip_prefix(from) {
                let zone = format!("{to}{letter}");
                if !moved.iter().any(|(a, _)| *a == s.availability_zone) {
                    moved.push((s.availability_zone.clone(), zone.clone()));
                }
                s.availability_zone = zone;
            }
        }
        moved.sort();
        moved
    }
}

/// An SNS topic and the email addresses subscribed to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub name: String,
    pub emails: std::collections::BTreeSet<String>,
}

/// An ECS cluster (its services and EC2 capacity are reconciled separately).
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub container_insights: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Repository {
    pub name: String,
    pub scan_on_push: bool,
    /// `MUTABLE` or `IMMUTABLE`, as the API spells it.
    pub tag_mutability: String,
    pub keep_last_images: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub description: Option<String>,
    pub value: ParameterValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParameterValue {
    Plain(String),
    /// A SecureString; `value` is `None` when its environment variable is unset, which leaves an
    /// existing parameter as it is and makes creating a missing one an error.
    Secret {
        env_var: String,
        value: Option<Secret>,
    },
}

impl ParameterValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            ParameterValue::Plain(_) => "String",
            ParameterValue::Secret { .. } => "SecureString",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogGroup {
    pub name: String,
    pub retention_days: Option<i32>,
}
