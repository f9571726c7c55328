//! Semantic checks of a parsed stack file: names, references between sections, secrets written
//! inline; the network sections' checks (CIDRs, overlaps, groups, the flow log) are in `network`.
//! Pure: no AWS calls, no environment reads.
//!
//! Invariant: every check appends to one list, so a single `validate` reports all problems.

use std::collections::BTreeSet;
use std::path::Path;

use ipnet::Ipv4Net;

use super::error::ConfigError;
use super::schema::*;

mod alarms;
mod network;

use network::{check_flow_logs, check_group_refs, check_network, check_security_groups};

/// CloudWatch Logs accepts only these retention periods (days).
pub const LOG_RETENTION_DAYS: &[i32] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

pub struct Checker<'a> {
    pub file: &'a Path,
    pub errors: Vec<ConfigError>,
}

impl Checker<'_> {
    pub fn err<T>(&mut self, field: &Sp<T>, key_path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError::spanned(self.file, field, key_path, message));
    }
    pub fn err_path(&mut self, key_path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError::path(self.file, key_path, message));
    }
}

pub fn validate_stack(file: &Path, stack: &StackFile) -> Vec<ConfigError> {
    let mut c = Checker { file, errors: Vec::new() };
    check_stack_name(&mut c, &stack.stack);
    check_network(&mut c, &stack.network);
    check_security_groups(&mut c, stack);
    check_load_balancer(&mut c, stack);
    check_dns(&mut c, stack);
    check_ecr(&mut c, &stack.ecr);
    check_ssm(&mut c, &stack.ssm);
    check_iam(&mut c, &stack.iam);
    check_ecs(&mut c, stack);
    check_logs(&mut c, &stack.logs);
    check_flow_logs(&mut c, stack);
    check_notifications(&mut c, stack);
    alarms::check(&mut c, stack);
    super::limits::check(&mut c, stack);
    c.errors
}

fn check_stack_name(c: &mut Checker, name: &Sp<String>) {
    let ok = !name.value.is_empty()
        && name.value.len() <= 32
        && name.value.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
    if !ok {
        c.err(
            name,
            "stack",
            format!("`{}` is not a valid stack name: expected 1-32 letters, digits or '-'", name.value),
        );
    }
}

pub fn parse_cidr(text: &str) -> Option<Ipv4Net> {
    let net: Ipv4Net = text.parse().ok()?;
    // A CIDR with host bits set (10.0.0.1/24) is almost always a typo; AWS rejects it too.
    (net.trunc() == net).then_some(net)
}

fn check_load_balancer(c: &mut Checker, stack: &StackFile) {
    let Some(lb) = &stack.load_balancer else {
        return;
    };
    check_group_refs(c, stack, "load_balancer.security_groups", &lb.security_groups);
    // CreateLoadBalancer refuses fewer (ValidationError "At least two subnets in two different
    // Availability Zones must be specified"), after the VPC and NAT gateway were already built.
    let tier = |t: SubnetTier| if t == SubnetTier::Public { "public" } else { "private" };
    let zones = stack.network.zones(lb.subnet_tier);
    if zones.len() < 2 {
        let found = if zones.is_empty() {
            "none".to_string()
        } else {
            format!("only {}", zones.iter().copied().collect::<Vec<_>>().join(", "))
        };
        c.err_path(
            "load_balancer.subnet_tier",
            format!(
                "an Application Load Balancer needs {} subnets in at least two Availability Zones ({found} in network.subnets): add a {} subnet in another zone",
                tier(lb.subnet_tier),
                tier(lb.subnet_tier)
            ),
        );
    }
    if lb.name.len() > 32 {
        c.err_path("load_balancer.name", format!("`{}` is longer than 32 characters", lb.name));
    }
    let mut priorities = BTreeSet::new();
    for (i, rule) in lb.rules.iter().enumerate() {
        let path = format!("load_balancer.rules[{i}]");
        if !lb.target_groups.contains_key(&rule.target_group.value) {
            c.err(
                &rule.target_group,
                format!("{path}.target_group"),
                format!("target group `{}` is not defined under load_balancer.target_groups", rule.target_group.value),
            );
        }
        if !(1..=50000).contains(&rule.priority) || !priorities.insert(rule.priority) {
            c.err_path(
                format!("{path}.priority"),
                format!("priority {} must be unique and within 1-50000", rule.priority),
            );
        }
    }
    for (name, tg) in &lb.target_groups {
        // 32 in AWS, less 5 for the suffix a replacement takes while the old group still exists.
        if name.len() > 27 {
            c.err_path(format!("load_balancer.target_groups.{name}"), "a target group name is at most 27 characters");
        }
        if !tg.health_check.path.starts_with('/') {
            c.err_path(
                format!("load_balancer.target_groups.{name}.health_check.path"),
                format!("`{}` must start with '/'", tg.health_check.path),
            );
        }
    }
    if lb.https_listener.is_some() && stack.certificate.is_none() {
        c.err_path("load_balancer.https_listener", "an HTTPS listener needs a `certificate` section");
    }
}

fn check_dns(c: &mut Checker, stack: &StackFile) {
    let Some(dns) = &stack.dns else { return };
    for (i, record) in dns.records.iter().enumerate() {
        // The record is an ALIAS A record to the load balancer: any other type would be created
        // as A all the same.
        if record.record_type != "A" {
            c.err(
                &record.alias,
                format!("dns.records[{i}].type"),
                format!("`{}`: the only record type is `A` (an alias of the load balancer)", record.record_type),
            );
        }
        if record.alias.value != "load_balancer" {
            c.err(
                &record.alias,
                format!("dns.records[{i}].alias"),
                format!("`{}`: the only alias target is `load_balancer`", record.alias.value),
            );
        } else if stack.load_balancer.is_none() {
            c.err(
                &record.alias,
                format!("dns.records[{i}].alias"),
                "aliases the load balancer, but there is no `load_balancer` section",
            );
        }
    }
}

fn check_ecr(c: &mut Checker, ecr: &Ecr) {
    for (name, repo) in &ecr.repositories {
        let valid = (2..=256).contains(&name.len())
            && name.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._/-".contains(ch))
            && name.starts_with(|ch: char| ch.is_ascii_alphanumeric());
        if !valid {
            c.err_path(
                format!("ecr.repositories.{name}"),
                "a repository name is 2-256 lowercase letters, digits, '.', '_', '-' or '/'",
            );
        }
        if let Some(keep) = &repo.keep_last_images {
            if keep.value == 0 {
                c.err(keep, format!("ecr.repositories.{name}.keep_last_images"), "expected at least 1");
            }
        }
    }
}

fn check_ssm(c: &mut Checker, ssm: &Ssm) {
    for (name, p) in &ssm.parameters {
        let path = format!("ssm.parameters.{name}");
        if !name.starts_with('/') || name.len() > 1011 {
            c.err_path(&path, "a parameter name is a path starting with '/'");
        }
        match p.kind {
            ParameterType::SecureString => {
                if let Some(v) = &p.value {
                    // The value itself is never quoted back: it may be a real secret.
                    c.err(v, format!("{path}.value"), "a SecureString value must not be written in the stack file; name the environment variable that supplies it with `value_from_env`");
                }
                match &p.value_from_env {
                    None => c.err_path(
                        &path,
                        "a SecureString needs `value_from_env`: the environment variable that supplies its value",
                    ),
                    Some(var) if !is_env_name(&var.value) => c.err(
                        var,
                        format!("{path}.value_from_env"),
                        format!("`{}` is not an environment variable name", var.value),
                    ),
                    _ => {}
                }
            }
            ParameterType::String => {
                if p.value.is_none() {
                    c.err_path(&path, "a String parameter needs `value`");
                }
                if let Some(var) = &p.value_from_env {
                    c.err(
                        var,
                        format!("{path}.value_from_env"),
                        "`value_from_env` is for SecureString parameters; write a String's `value` in the file",
                    );
                }
            }
        }
    }
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// IAM's condition operators (without the `ForAllValues:`/`ForAnyValue:` prefixes and `IfExists`).
const CONDITION_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

fn check_iam(c: &mut Checker, iam: &Iam) {
    for (name, role) in &iam.roles {
        if role.trusted_services.is_empty() && role.trusted_github.is_none() {
            c.err_path(
                format!("iam.roles.{name}"),
                "a role needs someone to trust: `trusted_services` or `trusted_github`",
            );
        }
        // IAM refuses any other principal (MalformedPolicyDocument "Invalid principal"), at `up`.
        for (i, service) in role.trusted_services.iter().enumerate() {
            let named = service.ends_with(".amazonaws.com") || service.ends_with(".amazonaws.com.cn");
            if !named && !service.contains('*') {
                c.err_path(
                    format!("iam.roles.{name}.trusted_services[{i}]"),
                    format!("`{service}` is not a service principal: expected NAME.amazonaws.com (e.g. ecs-tasks.amazonaws.com)"),
                );
            }
        }
        if role.trusted_github.as_ref().is_some_and(|g| g.refs.is_empty()) {
            c.err_path(
                format!("iam.roles.{name}.trusted_github.refs"),
                "names no ref: the trust would hold `StringLike sub: []`, which no workflow can satisfy (and a tool that drops an empty condition lets every ref and pull request in); name the refs that may assume the role, e.g. [refs/heads/main]",
            );
        }
        for (policy, statements) in &role.inline_policies {
            for (i, s) in statements.iter().enumerate() {
                if s.effect != "Allow" && s.effect != "Deny" {
                    c.err_path(
                        format!("iam.roles.{name}.inline_policies.{policy}[{i}].effect"),
                        format!("`{}`: expected Allow or Deny", s.effect),
                    );
                }
                for (operator, keys) in &s.conditions {
                    let base = operator.trim_start_matches("ForAllValues:").trim_start_matches("ForAnyValue:");
                    let base = base.strip_suffix("IfExists").unwrap_or(base);
                    if !CONDITION_OPERATORS.contains(&base) {
                        c.err_path(
                            format!("iam.roles.{name}.inline_policies.{policy}[{i}].conditions.{operator}"),
                            format!("`{operator}` is not an IAM condition operator (e.g. StringEquals, ArnLike, Bool)"),
                        );
                    }
                    for (key, values) in keys {
                        if values.is_empty() || !key.contains(':') {
                            c.err_path(
                                format!("iam.roles.{name}.inline_policies.{policy}[{i}].conditions.{operator}.{key}"),
                                "expected a condition key like `iam:PassedToService` with at least one value",
                            );
                        }
                    }
                }
            }
        }
    }
}

fn check_ecs(c: &mut Checker, stack: &StackFile) {
    for (name, cluster) in &stack.ecs.clusters {
        let Some(cap) = &cluster.ec2_capacity else {
            continue;
        };
        let path = format!("ecs.clusters.{name}.ec2_capacity");
        check_group_refs(c, stack, &format!("{path}.security_groups"), &cap.security_groups);
        match stack.iam.roles.get(&cap.instance_role.value) {
            None => c.err(
                &cap.instance_role,
                format!("{path}.instance_role"),
                format!("role `{}` is not defined under iam.roles", cap.instance_role.value),
            ),
            Some(r) if !r.instance_profile => c.err(
                &cap.instance_role,
                format!("{path}.instance_role"),
                format!(
                    "role `{}` needs `instance_profile: true` to be used by EC2 instances",
                    cap.instance_role.value
                ),
            ),
            _ => {}
        }
    }
    for (name, svc) in &stack.ecs.services {
        let path = format!("ecs.services.{name}");
        match stack.ecs.clusters.get(&svc.cluster.value) {
            None => c.err(
                &svc.cluster,
                format!("{path}.cluster"),
                format!("cluster `{}` is not defined under ecs.clusters", svc.cluster.value),
            ),
            Some(cl) if svc.launch_type == LaunchType::Ec2 && cl.ec2_capacity.is_none() => c.err(
                &svc.cluster,
                format!("{path}.cluster"),
                format!("an EC2 service needs a cluster with `ec2_capacity`; `{}` has none", svc.cluster.value),
            ),
            _ => {}
        }
        check_group_refs(c, stack, &format!("{path}.security_groups"), &svc.security_groups);
        if svc.launch_type == LaunchType::Fargate && (svc.subnet_tier.is_none() || svc.security_groups.is_empty()) {
            c.err_path(&path, "a Fargate service needs `subnet_tier` and `security_groups` (awsvpc networking)");
        }
        for (i, lb) in svc.load_balancers.iter().enumerate() {
            let known =
                stack.load_balancer.as_ref().is_some_and(|l| l.target_groups.contains_key(&lb.target_group.value));
            let routed = stack
                .load_balancer
                .as_ref()
                .is_some_and(|l| l.rules.iter().any(|r| r.target_group.value == lb.target_group.value));
            if known && !routed {
                c.err(
                    &lb.target_group,
                    format!("{path}.load_balancers[{i}].target_group"),
                    format!(
                        "no listener rule forwards to target group `{}`: ECS refuses a service whose target group has no load balancer (add a rule, or remove the mapping)",
                        lb.target_group.value
                    ),
                );
            }
            if !known {
                c.err(
                    &lb.target_group,
                    format!("{path}.load_balancers[{i}].target_group"),
                    format!(
                        "target group `{}` is not defined under load_balancer.target_groups",
                        lb.target_group.value
                    ),
                );
            }
        }
    }
}

fn check_logs(c: &mut Checker, logs: &Logs) {
    for (name, group) in &logs.groups {
        if let Some(days) = &group.retention_days {
            if !LOG_RETENTION_DAYS.contains(&days.value) {
                c.err(
                    days,
                    format!("logs.groups.{name}.retention_days"),
                    format!(
                        "{} is not a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, … 3653)",
                        days.value
                    ),
                );
            }
        }
    }
}

/// An SNS topic name as SNS takes it, and email addresses that can receive its confirmation mail.
fn check_notifications(c: &mut Checker, stack: &StackFile) {
    let Some(n) = &stack.notifications else { return };
    let name = &n.topic.value;
    let allowed = |ch: char| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_';
    if name.is_empty() || name.len() > 256 || !name.chars().all(allowed) {
        let msg = format!("`{name}`: SNS topic names are 1 to 256 letters, digits, hyphens and underscores");
        c.err(&n.topic, "notifications.topic", msg);
    }
    if n.emails.is_empty() {
        c.err(
            &n.topic,
            "notifications.emails",
            "name at least one email address: a topic nobody reads notifies nobody",
        );
    }
    for (i, e) in n.emails.iter().enumerate() {
        let (local, domain) = e.value.split_once('@').unwrap_or(("", ""));
        if local.is_empty() || !domain.contains('.') || e.value.chars().any(char::is_whitespace) {
            c.err(e, format!("notifications.emails[{i}]"), format!("`{}` is not an email address", e.value));
        }
    }
}

/// The service principal that delivers VPC flow logs.
pub const FLOW_LOGS_SERVICE: &str = "vpc-flow-logs.amazonaws.com";
