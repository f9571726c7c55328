//! The network sections' checks: the VPC and subnets (CIDRs inside the VPC, no overlaps, zones),
//! security groups and their rules, references to groups, and the VPC flow log.

use super::*;

pub(super) fn check_network(c: &mut Checker, net: &Network) {
    let vpc = match parse_cidr(&net.vpc_cidr.value) {
        Some(v) if (16..=28).contains(&v.prefix_len()) => Some(v),
        Some(_) => {
            c.err(
                &net.vpc_cidr,
                "network.vpc_cidr",
                format!("`{}`: a VPC CIDR must be between /16 and /28", net.vpc_cidr.value),
            );
            None
        }
        None => {
            c.err(
                &net.vpc_cidr,
                "network.vpc_cidr",
                format!("`{}` is not a valid IPv4 CIDR (expected e.g. 10.0.0.0/16)", net.vpc_cidr.value),
            );
            None
        }
    };
    let mut seen: Vec<(&str, Ipv4Net)> = Vec::new();
    for (name, subnet) in &net.subnets {
        let path = format!("network.subnets.{name}.cidr");
        let Some(cidr) = parse_cidr(&subnet.cidr.value) else {
            c.err(
                &subnet.cidr,
                path,
                format!("`{}` is not a valid IPv4 CIDR (expected e.g. 10.0.1.0/24)", subnet.cidr.value),
            );
            continue;
        };
        if let Some(vpc) = vpc {
            if !vpc.contains(&cidr) {
                c.err(&subnet.cidr, &path, format!("`{cidr}` is outside the VPC {vpc}"));
            }
        }
        if !(16..=28).contains(&cidr.prefix_len()) {
            c.err(&subnet.cidr, &path, format!("`{cidr}`: a subnet CIDR must be between /16 and /28"));
        }
        for (other, other_cidr) in &seen {
            if overlaps(cidr, *other_cidr) {
                c.err(&subnet.cidr, &path, format!("`{cidr}` overlaps subnet `{other}` ({other_cidr})"));
            }
        }
        seen.push((name, cidr));
    }
    let azs = |tier| {
        net.subnets.values().filter(|s| s.tier == tier).map(|s| s.availability_zone.as_str()).collect::<BTreeSet<_>>()
    };
    let (public, private) = (azs(SubnetTier::Public), azs(SubnetTier::Private));
    if public.is_empty() || private.is_empty() {
        c.err_path("network.subnets", "expected at least one public and one private subnet");
    }
    let nat = net.nat_gateways.value as usize;
    if nat == 0 || nat > public.len().max(1) {
        c.err(
            &net.nat_gateways,
            "network.nat_gateways",
            format!(
                "{nat} NAT gateways: expected 1 to {} (one per availability zone with a public subnet)",
                public.len().max(1)
            ),
        );
    }
}

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

pub(super) fn check_security_groups(c: &mut Checker, stack: &StackFile) {
    for (name, group) in &stack.security_groups {
        for (direction, rules) in [("ingress", &group.ingress), ("egress", &group.egress)] {
            for (i, rule) in rules.iter().enumerate() {
                check_rule(c, stack, &format!("security_groups.{name}.{direction}[{i}]"), rule);
            }
        }
    }
}

fn check_rule(c: &mut Checker, stack: &StackFile, path: &str, rule: &Rule) {
    match (&rule.cidr, &rule.security_group) {
        (Some(_), Some(g)) | (None, Some(g)) if !stack.security_groups.contains_key(&g.value) => {
            c.err(
                g,
                format!("{path}.security_group"),
                format!("security group `{}` is not defined under security_groups", g.value),
            );
        }
        (Some(cidr), Some(_)) => c.err(cidr, path, "a rule names either `cidr` or `security_group`, not both"),
        (None, None) => c.err_path(path, "a rule needs a peer: `cidr` or `security_group`"),
        _ => {}
    }
    if let Some(cidr) = &rule.cidr {
        if cidr.value.parse::<Ipv4Net>().is_err() {
            c.err(
                cidr,
                format!("{path}.cidr"),
                format!("`{}` is not a valid IPv4 CIDR (expected e.g. 0.0.0.0/0)", cidr.value),
            );
        }
    }
    match (&rule.protocol, &rule.ports) {
        (Protocol::All, Some(p)) => {
            c.err(p, format!("{path}.ports"), "`protocol: all` covers every port; remove `ports`")
        }
        (Protocol::Tcp | Protocol::Udp, None) => {
            c.err_path(path, "expected `ports` (443 or \"8000-8010\") for tcp and udp rules")
        }
        (_, Some(p)) if p.value.from > p.value.to => {
            c.err(p, format!("{path}.ports"), format!("range {}-{} is reversed", p.value.from, p.value.to))
        }
        _ => {}
    }
    // The whole internet on a port other than 80/443 is a risk for `risks` to refuse or accept.
}

pub(super) fn check_group_refs(c: &mut Checker, stack: &StackFile, path: &str, groups: &[Sp<String>]) {
    for (i, g) in groups.iter().enumerate() {
        if !stack.security_groups.contains_key(&g.value) {
            c.err(
                g,
                format!("{path}[{i}]"),
                format!("security group `{}` is not defined under security_groups", g.value),
            );
        }
    }
}

/// Flow logs deliver to a declared log group with a declared role the flow-logs service may assume.
pub(super) fn check_flow_logs(c: &mut Checker, stack: &StackFile) {
    let Some(l) = &stack.network.flow_logs else { return };
    if !["ALL", "ACCEPT", "REJECT"].contains(&l.traffic.value.as_str()) {
        c.err(
            &l.traffic,
            "network.flow_logs.traffic",
            format!("`{}`: expected ALL, ACCEPT or REJECT", l.traffic.value),
        );
    }
    if ![60, 600].contains(&l.max_aggregation_seconds.value) {
        c.err(
            &l.max_aggregation_seconds,
            "network.flow_logs.max_aggregation_seconds",
            format!("{}: AWS allows 60 or 600 seconds", l.max_aggregation_seconds.value),
        );
    }
    if !stack.logs.groups.contains_key(&l.log_group.value) {
        let msg = format!("log group `{}` is not declared under logs.groups", l.log_group.value);
        c.err(&l.log_group, "network.flow_logs.log_group", msg);
    }
    match stack.iam.roles.get(&l.role.value) {
        None => {
            c.err(&l.role, "network.flow_logs.role", format!("role `{}` is not declared under iam.roles", l.role.value))
        }
        Some(role) if !role.trusted_services.iter().any(|s| s == FLOW_LOGS_SERVICE) => c.err(
            &l.role,
            "network.flow_logs.role",
            format!("role `{}` must trust {FLOW_LOGS_SERVICE} (trusted_services) to deliver flow logs", l.role.value),
        ),
        Some(_) => {}
    }
}
