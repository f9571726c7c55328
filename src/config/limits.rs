//! What AWS would reject part-way through `up`, refused before any call with AWS's own limit
//! quoted: tag counts and lengths, health-check timing, ARNs where ARNs are required,
//! availability zones of the stack's region, certificate names inside the zone, descriptions.
//!
//! Invariants: every limit here is AWS's documented one (named in the message), never stricter;
//! each check appends to the one list of problems (`Checker`), so all are reported at once.

use super::schema::*;
use super::validate::Checker;
use crate::model::tags::{ADDRESS, MANAGED_BY, STACK};

/// Tags per resource, the same in every service of the stack; the ownership tags take three.
const MAX_TAGS: usize = 50;
const OWNERSHIP_TAGS: usize = 3;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

pub fn check(c: &mut Checker, stack: &StackFile) {
    check_tags(c, &stack.tags);
    check_health_checks(c, stack);
    check_policy_arns(c, &stack.iam);
    check_zones(c, stack);
    check_certificate_names(c, stack);
    check_descriptions(c, stack);
}

fn check_tags(c: &mut Checker, tags: &std::collections::BTreeMap<String, String>) {
    if tags.len() + OWNERSHIP_TAGS > MAX_TAGS {
        c.err_path(
            "tags",
            format!(
                "{} tags and the {OWNERSHIP_TAGS} ownership tags make {}: AWS allows at most {MAX_TAGS} tags per resource",
                tags.len(),
                tags.len() + OWNERSHIP_TAGS
            ),
        );
    }
    for (key, value) in tags {
        let path = format!("tags.{key}");
        if key.is_empty() || key.chars().count() > MAX_TAG_KEY {
            c.err_path(&path, format!("a tag key must be 1 to {MAX_TAG_KEY} characters (AWS's limit)"));
        }
        if value.chars().count() > MAX_TAG_VALUE {
            c.err_path(
                &path,
                format!(
                    "the value is {} characters: AWS allows at most {MAX_TAG_VALUE} per tag value",
                    value.chars().count()
                ),
            );
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            c.err_path(&path, "AWS reserves the `aws:` prefix for its own tags");
        }
        if [MANAGED_BY, STACK, ADDRESS].contains(&key.as_str()) {
            c.err_path(&path, "containrlab sets this ownership tag itself; remove it from `tags`");
        }
    }
}

/// ELBv2's health-check bounds: interval 5-300 s, timeout 2-120 s and smaller than the interval,
/// thresholds 2-10.
fn check_health_checks(c: &mut Checker, stack: &StackFile) {
    let Some(lb) = &stack.load_balancer else { return };
    for (name, tg) in &lb.target_groups {
        let h = &tg.health_check;
        let path = format!("load_balancer.target_groups.{name}.health_check");
        let mut bound = |key: &str, value: u32, low: u32, high: u32| {
            if !(low..=high).contains(&value) {
                c.err_path(format!("{path}.{key}"), format!("{value} is outside ELB's range of {low} to {high}"));
            }
        };
        bound("interval_seconds", h.interval_seconds, 5, 300);
        bound("timeout_seconds", h.timeout_seconds, 2, 120);
        bound("healthy_threshold", h.healthy_threshold, 2, 10);
        bound("unhealthy_threshold", h.unhealthy_threshold, 2, 10);
        if h.timeout_seconds >= h.interval_seconds {
            c.err_path(
                format!("{path}.timeout_seconds"),
                format!(
                    "{} s is not below the interval of {} s: ELB requires the timeout to be smaller than the interval",
                    h.timeout_seconds, h.interval_seconds
                ),
            );
        }
    }
}

/// `managed_policies` takes policy ARNs (`arn:aws:iam::aws:policy/…`, or this account's).
fn check_policy_arns(c: &mut Checker, iam: &Iam) {
    for (role, r) in &iam.roles {
        for (i, arn) in r.managed_policies.iter().enumerate() {
            if !is_policy_arn(arn) {
                c.err_path(
                    format!("iam.roles.{role}.managed_policies[{i}]"),
                    format!(
                        "`{arn}` is not a policy ARN: IAM attaches policies by ARN, e.g. `arn:aws:iam::aws:policy/{}`",
                        arn.rsplit('/').next().unwrap_or(arn)
                    ),
                );
            }
        }
    }
}

fn is_policy_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else { return false };
    let account_ok = account == "aws"
        || account == "${account}"
        || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()));
    prefix == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && account_ok
        && resource.strip_prefix("policy/").is_some_and(|name| !name.is_empty())
}

/// A subnet's zone must be one of the stack's region (`us-east-1a` in `us-east-1`).
fn check_zones(c: &mut Checker, stack: &StackFile) {
    let Some(region) = &stack.region else { return };
    for (name, subnet) in &stack.network.subnets {
        let zone = &subnet.availability_zone;
        let letter =
            zone.strip_prefix(region.as_str()).filter(|l| l.len() == 1 && l.bytes().all(|b| b.is_ascii_lowercase()));
        if letter.is_none() {
            c.err_path(
                format!("network.subnets.{name}.availability_zone"),
                format!(
                    "`{zone}` is not an availability zone of the stack's region {region} (expected e.g. {region}a)"
                ),
            );
        }
    }
}

/// ACM validates each name through a record in the stack's zone, so each must be inside it; a
/// certificate holds at most 10 names by default, each at most 253 characters.
fn check_certificate_names(c: &mut Checker, stack: &StackFile) {
    let Some(cert) = &stack.certificate else { return };
    let names = std::iter::once(&cert.domain_name).chain(&cert.subject_alternative_names);
    if 1 + cert.subject_alternative_names.len() > 10 {
        c.err_path(
            "certificate.subject_alternative_names",
            format!(
                "{} names: ACM's default quota is 10 names per certificate (the domain and 9 others)",
                1 + cert.subject_alternative_names.len()
            ),
        );
    }
    let zone = stack.dns.as_ref().map(|d| d.zone.trim_end_matches('.').to_ascii_lowercase());
    for (i, name) in names.enumerate() {
        let key = if i == 0 {
            "certificate.domain_name".to_string()
        } else {
            format!("certificate.subject_alternative_names[{}]", i - 1)
        };
        if name.len() > 253 {
            c.err_path(&key, "a domain name is at most 253 characters");
        }
        let Some(zone) = &zone else { continue };
        let bare = name.trim_start_matches("*.").trim_end_matches('.').to_ascii_lowercase();
        if bare != *zone && !bare.ends_with(&format!(".{zone}")) {
            c.err_path(
                &key,
                format!("`{name}` is outside the zone {zone}: its DNS validation record could not be written there, and ACM would never issue the certificate"),
            );
        }
    }
}

/// Descriptions: security groups and their rules at most 255 characters of EC2's set, IAM roles
/// 1000 characters, SSM parameters and alarms 1024.
fn check_descriptions(c: &mut Checker, stack: &StackFile) {
    let mut texts: Vec<(String, Option<&String>, usize, &str)> = Vec::new();
    for (name, g) in &stack.security_groups {
        texts.push((format!("security_groups.{name}.description"), Some(&g.description), 255, "EC2"));
        for (dir, rules) in [("ingress", &g.ingress), ("egress", &g.egress)] {
            for (i, r) in rules.iter().enumerate() {
                texts.push((
                    format!("security_groups.{name}.{dir}[{i}].description"),
                    r.description.as_ref(),
                    255,
                    "EC2",
                ));
            }
        }
    }
    texts.extend(
        stack
            .iam
            .roles
            .iter()
            .map(|(n, r)| (format!("iam.roles.{n}.description"), r.description.as_ref(), 1000, "IAM")),
    );
    texts.extend(
        stack
            .ssm
            .parameters
            .iter()
            .map(|(n, p)| (format!("ssm.parameters.{n}.description"), p.description.as_ref(), 1024, "SSM")),
    );
    texts.extend(
        stack
            .alarms
            .iter()
            .map(|(n, a)| (format!("alarms.{n}.description"), a.description.as_ref(), 1024, "CloudWatch")),
    );
    for (path, text, max, service) in texts {
        let Some(text) = text else { continue };
        let count = text.chars().count();
        if count > max {
            c.err_path(&path, format!("{count} characters: {service} allows at most {max}"));
        }
        if service == "EC2" {
            if let Some(bad) = text.chars().find(|ch| !ec2_description_char(*ch)) {
                c.err_path(
                    &path,
                    format!(
                        "`{bad}` is not allowed: EC2 takes only letters, digits, spaces and ._-:/()#,@[]+=&;{{}}!$*"
                    ),
                );
            }
        }
    }
}

fn ec2_description_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(ch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_arns_are_aws_managed_or_an_account_s() {
        assert!(is_policy_arn("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"));
        assert!(is_policy_arn("arn:aws:iam::123456789012:policy/mine"));
        assert!(is_policy_arn("arn:aws:iam::${account}:policy/mine"));
        assert!(!is_policy_arn("AmazonEC2ContainerRegistryReadOnly"));
        assert!(!is_policy_arn("arn:aws:iam::aws:role/x"));
        assert!(!is_policy_arn("arn:aws:s3:::policy/x"));
    }
}
