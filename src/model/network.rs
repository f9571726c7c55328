//! Desired network: VPC, subnets, internet gateway, Elastic IPs and NAT gateways, route tables,
//! security groups and their rules — and the normalised rule form both sides are compared in.
//!
//! Invariants: every name here is the name part of the resource's address; references between
//! network resources are by name, never by AWS id (ids are known only at apply time).

use std::collections::BTreeSet;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub vpc: Vpc,
    pub subnets: Vec<Subnet>,
    /// The internet gateway's name (the stack's name).
    pub internet_gateway: String,
    /// One per NAT gateway; each has an Elastic IP of the same name.
    pub nat_gateways: Vec<NatGateway>,
    pub route_tables: Vec<RouteTable>,
    pub security_groups: Vec<SecurityGroup>,
    pub security_group_rules: Vec<SecurityGroupRules>,
    pub flow_log: Option<FlowLog>,
}

/// The VPC's flow log (named after the VPC): what it captures and where it delivers.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowLog {
    pub name: String,
    /// `ALL`, `ACCEPT` or `REJECT`.
    pub traffic: String,
    pub log_group: String,
    /// The IAM role (by stack-file name) that delivers to the log group.
    pub role: String,
    pub max_aggregation_seconds: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Vpc {
    pub name: String,
    pub cidr: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subnet {
    pub name: String,
    pub cidr: String,
    pub availability_zone: String,
    pub public: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NatGateway {
    /// Named after the public subnet it sits in.
    pub name: String,
    pub subnet: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RouteTarget {
    InternetGateway(String),
    NatGateway(String),
    /// Anything this stack does not manage, by AWS id.
    Other(String),
}

impl fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteTarget::InternetGateway(n) => write!(f, "internet_gateway.{n}"),
            RouteTarget::NatGateway(n) => write!(f, "nat_gateway.{n}"),
            RouteTarget::Other(id) => f.write_str(id),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteTable {
    pub name: String,
    /// The default route (0.0.0.0/0).
    pub default_route: RouteTarget,
    pub subnets: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityGroup {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityGroupRules {
    /// The security group these rules belong to.
    pub group: String,
    pub ingress: BTreeSet<Rule>,
    pub egress: BTreeSet<Rule>,
}

/// One normalised security-group rule: a protocol, a port range and one peer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    /// `tcp`, `udp`, `icmp` or `all`.
    pub protocol: String,
    /// `None` for every port (protocol `all`, or ICMP of every type).
    pub ports: Option<(i32, i32)>,
    pub peer: Peer,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Peer {
    Cidr(String),
    /// A security group of this stack, by name.
    Group(String),
    /// A security group or prefix list this stack does not manage, by AWS id.
    Other(String),
}

impl Rule {
    /// `tcp 443 0.0.0.0/0`, `tcp 8000-8010 security_group alb-sg`, `all 0.0.0.0/0`.
    pub fn describe(&self) -> String {
        let ports = match self.ports {
            None => String::new(),
            Some((a, b)) if a == b => format!(" {a}"),
            Some((a, b)) => format!(" {a}-{b}"),
        };
        let peer = match &self.peer {
            Peer::Cidr(c) => c.clone(),
            Peer::Group(g) => format!("security_group {g}"),
            Peer::Other(id) => id.clone(),
        };
        format!("{}{ports} {peer}", self.protocol)
    }
}

/// Normalises AWS's protocol spelling (`-1`, `6`, `17`, `1`, names) to the stack file's.
pub fn normalize_protocol(p: &str) -> String {
    match p {
        "-1" | "all" => "all".into(),
        "6" | "tcp" => "tcp".into(),
        "17" | "udp" => "udp".into(),
        "1" | "icmp" => "icmp".into(),
        other => other.to_string(),
    }
}

/// Normalises a port range as AWS reports it: no ports (or -1) for `all` and every ICMP type.
pub fn normalize_ports(protocol: &str, from: Option<i32>, to: Option<i32>) -> Option<(i32, i32)> {
    match (protocol, from, to) {
        ("all", _, _) => None,
        (_, None, _) | (_, _, None) => None,
        ("icmp", Some(-1), _) => None,
        (_, Some(a), Some(b)) => Some((a, b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_and_ports_normalise_to_one_spelling() {
        assert_eq!(normalize_protocol("-1"), "all");
        assert_eq!(normalize_protocol("6"), "tcp");
        assert_eq!(normalize_protocol("udp"), "udp");
        assert_eq!(normalize_ports("all", Some(-1), Some(-1)), None);
        assert_eq!(normalize_ports("icmp", Some(-1), Some(-1)), None);
        assert_eq!(normalize_ports("tcp", Some(80), Some(80)), Some((80, 80)));
    }

    #[test]
    fn rules_describe_themselves_compactly() {
        let r = |protocol: &str, ports, peer| Rule { protocol: protocol.into(), ports, peer };
        assert_eq!(r("tcp", Some((443, 443)), Peer::Cidr("0.0.0.0/0".into())).describe(), "tcp 443 0.0.0.0/0");
        assert_eq!(
            r("tcp", Some((8000, 8010)), Peer::Group("alb-sg".into())).describe(),
            "tcp 8000-8010 security_group alb-sg"
        );
        assert_eq!(r("all", None, Peer::Cidr("0.0.0.0/0".into())).describe(), "all 0.0.0.0/0");
    }

    #[test]
    fn rule_sets_ignore_order_and_duplicates() {
        let a = Rule { protocol: "tcp".into(), ports: Some((80, 80)), peer: Peer::Cidr("0.0.0.0/0".into()) };
        let b = Rule { protocol: "tcp".into(), ports: Some((443, 443)), peer: Peer::Cidr("0.0.0.0/0".into()) };
        let one: BTreeSet<Rule> = [a.clone(), b.clone()].into();
        let two: BTreeSet<Rule> = [b, a.clone(), a].into();
        assert_eq!(one, two);
    }
}
