//! Input that AWS accepts but that weakens the stack — the whole internet on a port other than
//! HTTP/HTTPS, GitHub OIDC trust any branch or pull request can assume, a wildcard service
//! principal, `*` actions or an admin policy, actions that escalate privilege on any resource, TLS
//! before 1.2, an internet rule to a target group marked internal, a public IP on a task, an AWS
//! credential as a parameter's source, a privileged container, ECS Exec into a service — refused
//! unless the stack file accepts it by name in `allow:`, with a reason that every plan shows:
//!
//! ```yaml
//! allow:
//!   - { risk: privileged-container, at: ecs.services.runner.task_definition, reason: "Docker-in-Docker" }
//! ```
//!
//! Invariants: one mechanism for every risk (the id and key path the refusal names are what
//! `allow:` takes); an allowance that matches nothing, or has no reason, is an error too, so the
//! file never accepts more than it says.

use std::collections::BTreeSet;

use serde_json::Value;

use super::schema::*;
use super::taskdef::TaskDefinitionFile;
use super::validate::Checker;

/// A risk found in the stack file: its id, where it is (a key path), and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Risk {
    pub id: &'static str,
    pub at: String,
    pub what: String,
}

/// Managed policies that grant administration of the account (or of IAM, which is the same).
const ADMIN_POLICIES: &[&str] = &["AdministratorAccess", "PowerUserAccess", "IAMFullAccess"];

/// Actions that let whoever holds them on any resource gain more than they were given: pass any
/// role to a service, write or attach any policy, change any role's trust, mint credentials for
/// any user, assume any role. From IAM's documentation of `iam:PassRole` and of the
/// privilege-escalation paths in IAM (and Security Hub IAM.1/IAM.21's rationale).
const ESCALATION: &[&str] = &[
    "iam:PassRole",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:PutRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutGroupPolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:AddUserToGroup",
    "sts:AssumeRole",
];

/// Whether an IAM action pattern (`iam:*`, `iam:Put*`, `iam:passrole`) matches `action`, as IAM
/// matches them: case-insensitive, `*` any run of characters, `?` one.
pub(crate) fn action_matches(pattern: &str, action: &str) -> bool {
    fn glob(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => glob(&p[1..], a) || (!a.is_empty() && glob(p, &a[1..])),
            (Some(b'?'), Some(_)) => glob(&p[1..], &a[1..]),
            (Some(x), Some(y)) => x.eq_ignore_ascii_case(y) && glob(&p[1..], &a[1..]),
            _ => false,
        }
    }
    glob(pattern.as_bytes(), action.as_bytes())
}

/// The escalating actions a statement's action patterns allow (`*` alone is `iam-admin`'s).
fn escalating(actions: &[String]) -> Vec<&'static str> {
    let patterns: Vec<&String> = actions.iter().filter(|a| a.as_str() != "*").collect();
    ESCALATION.iter().copied().filter(|e| patterns.iter().any(|p| action_matches(p, e))).collect()
}

/// Every risk of the stack file and its task definitions (by service name), allowed or not.
pub fn find(stack: &StackFile, task_definitions: &std::collections::BTreeMap<String, TaskDefinitionFile>) -> Vec<Risk> {
    let mut out = Vec::new();
    let mut risk = |id: &'static str, at: String, what: String| out.push(Risk { id, at, what });
    for (name, g) in &stack.security_groups {
        for (i, rule) in g.ingress.iter().enumerate() {
            if let Some(ports) = world_ports_beyond_web(rule) {
                risk(
                    "public-ingress",
                    format!("security_groups.{name}.ingress[{i}]"),
                    format!("opens {ports} to the whole internet (only 80 and 443 are expected there)"),
                );
            }
        }
    }
    for (name, role) in &stack.iam.roles {
        if let Some(gh) = &role.trusted_github {
            let broad: Vec<&str> = gh
                .refs
                .iter()
                .map(String::as_str)
                .filter(|r| r.is_empty() || r.contains('*') || r.contains("pull_request") || !r.starts_with("refs/"))
                .collect();
            if gh.repository.contains('*') || !broad.is_empty() {
                risk(
                    "github-oidc-broad",
                    format!("iam.roles.{name}.trusted_github"),
                    format!(
                        "lets {} assume the role (any branch, tag or pull request that matches, not one named ref)",
                        if broad.is_empty() {
                            gh.repository.clone()
                        } else {
                            format!("{}:{}", gh.repository, broad.join(", "))
                        }
                    ),
                );
            }
        }
        for (i, service) in role.trusted_services.iter().enumerate() {
            if service.contains('*') {
                risk(
                    "trust-wildcard",
                    format!("iam.roles.{name}.trusted_services[{i}]"),
                    format!("lets any service matching `{service}` assume the role, not one named service"),
                );
            }
        }
        for (i, arn) in role.managed_policies.iter().enumerate() {
            if let Some(admin) = ADMIN_POLICIES.iter().find(|p| arn.ends_with(&format!(":policy/{p}"))) {
                risk("iam-admin", format!("iam.roles.{name}.managed_policies[{i}]"), format!("grants {admin}"));
            }
        }
        for (policy, statements) in &role.inline_policies {
            for (i, s) in statements.iter().enumerate() {
                if !s.effect.eq_ignore_ascii_case("allow") {
                    continue;
                }
                let at = format!("iam.roles.{name}.inline_policies.{policy}[{i}]");
                if s.actions.iter().any(|a| a == "*") {
                    risk("iam-admin", at.clone(), "allows every action (`*`)".to_string());
                }
                // A wildcard resource: any role, policy or user of the account, not named ones.
                let wide: Vec<&String> = s.resources.iter().filter(|r| r.contains('*')).collect();
                let escalates = escalating(&s.actions);
                if !escalates.is_empty() && !wide.is_empty() {
                    risk(
                        "iam-escalation",
                        at,
                        format!(
                            "allows {} on {}: whoever holds the role can give itself (or a role it passes) more than this policy grants; name the resources",
                            escalates.join(", "),
                            wide.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
            }
        }
    }
    if let Some(lb) = stack.load_balancer.as_ref().filter(|lb| lb.scheme == "internet-facing") {
        for (i, rule) in lb.rules.iter().enumerate() {
            if lb.target_groups.get(&rule.target_group.value).is_some_and(|tg| tg.internal) {
                risk(
                    "internal-target-public",
                    format!("load_balancer.rules[{i}].target_group"),
                    format!(
                        "routes {} from the internet to `{}`, which the stack marks internal (`internal: true`)",
                        rule.host, rule.target_group.value
                    ),
                );
            }
        }
    }
    if let Some(https) = stack.load_balancer.as_ref().and_then(|lb| lb.https_listener.as_ref()) {
        if !modern_tls(&https.ssl_policy) {
            risk(
                "tls-legacy",
                "load_balancer.https_listener.ssl_policy".to_string(),
                format!("`{}` is not a TLS 1.2+ policy (ELBSecurityPolicy-TLS13-1-2-2021-06 is)", https.ssl_policy),
            );
        }
    }
    for (name, p) in &stack.ssm.parameters {
        if let Some(var) = p.value_from_env.as_ref().filter(|v| v.value.starts_with("AWS_")) {
            risk(
                "aws-credentials-env",
                format!("ssm.parameters.{name}.value_from_env"),
                format!("stores `{}` (the AWS SDK's own credential variables) in a parameter", var.value),
            );
        }
    }
    for (name, service) in &stack.ecs.services {
        if service.assign_public_ip {
            risk(
                "public-ip",
                format!("ecs.services.{name}.assign_public_ip"),
                "gives each task a public IP address (tasks are reached through the load balancer)".to_string(),
            );
        }
        let privileged: Vec<String> = task_definitions
            .get(name)
            .and_then(|td| td.json.get("containerDefinitions").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .filter(|c| c.get("privileged").and_then(Value::as_bool) == Some(true))
            .map(|c| c.get("name").and_then(Value::as_str).unwrap_or("?").to_string())
            .collect();
        if service.exec {
            risk(
                "ecs-exec",
                format!("ecs.services.{name}.exec"),
                "lets whoever may call ecs:ExecuteCommand run commands in its containers, as their user".to_string(),
            );
        }
        if !privileged.is_empty() {
            risk(
                "privileged-container",
                format!("ecs.services.{name}.task_definition"),
                format!("runs {} privileged: root on its host", privileged.join(", ")),
            );
        }
    }
    out
}

/// The ports of a rule open to 0.0.0.0/0 beyond 80 and 443, as text; `None` when it opens none.
pub(crate) fn world_ports_beyond_web(rule: &Rule) -> Option<String> {
    let world =
        rule.cidr.as_ref().is_some_and(|c| c.value.parse::<ipnet::Ipv4Net>().is_ok_and(|n| n.prefix_len() == 0));
    if !world {
        return None;
    }
    let (protocol, from, to) = match (&rule.protocol, &rule.ports) {
        (Protocol::All, _) => return Some("every port".to_string()),
        (Protocol::Icmp, _) => return None,
        (p, Some(ports)) => (if *p == Protocol::Udp { "udp" } else { "tcp" }, ports.value.from, ports.value.to),
        (_, None) => return None,
    };
    let web = protocol == "tcp" && (from, to) != (80, 80) && (from, to) != (443, 443);
    if protocol == "udp" || web {
        let ports = if from == to { format!("{protocol} {from}") } else { format!("{protocol} {from}-{to}") };
        let ssh = if protocol == "tcp" && from <= 22 && 22 <= to { " (SSH)" } else { "" };
        return Some(format!("{ports}{ssh}"));
    }
    None
}

/// ELB's policies whose lowest version is TLS 1.2 or 1.3 (`…TLS13-1-2…`, `…TLS-1-2…`, `…FS-1-2…`);
/// `TLS13-1-0`/`TLS13-1-1` and the dated ones (`ELBSecurityPolicy-2016-08`) still allow TLS 1.0.
pub(crate) fn modern_tls(policy: &str) -> bool {
    ["TLS13-1-2", "TLS13-1-3", "TLS-1-2", "FS-1-2"].iter().any(|p| policy.contains(p))
}

/// Whether an allowance accepts a risk: its id, at the risk's key path or a section above it.
fn accepts(a: &Allowance, r: &Risk) -> bool {
    a.risk.value == r.id && super::security::covers(&a.at, &r.at)
}

/// Refuses every risk the file does not accept, every failing control of `security`
/// (`controls`: its findings before allowances) the file does not accept either, and every
/// allowance that accepts neither.
pub fn check(
    c: &mut Checker,
    stack: &StackFile,
    risks: &[Risk],
    controls: &[super::security::Finding],
    refuse_failing: bool,
) {
    for f in controls.iter().filter(|f| refuse_failing && f.status == super::security::Status::Fail) {
        // A control that is one of the risks above is refused once, as that risk.
        let as_risk = f.control.risk.is_some_and(|id| risks.iter().any(|r| r.id == id && r.at == f.at));
        if as_risk || stack.allow.iter().any(|a| super::security::accepts(a, f)) {
            continue;
        }
        c.err_path(
            &f.at,
            format!(
                "fails Security Hub control {} ({}): {} [{}]; change it, or accept it: `allow: [{{ risk: {}, at: \"{}\", reason: \"…\" }}]`",
                f.control.id, f.control.title, f.detail, f.control.id, f.control.id, f.at
            ),
        );
    }
    let mut used = BTreeSet::new();
    for r in risks {
        match stack.allow.iter().position(|a| accepts(a, r)) {
            Some(i) => drop(used.insert(i)),
            None => c.err_path(
                &r.at,
                format!(
                    "{} [{}]; change it, or accept it: `allow: [{{ risk: {}, at: \"{}\", reason: \"…\" }}]`",
                    r.what, r.id, r.id, r.at
                ),
            ),
        }
    }
    for (i, a) in stack.allow.iter().enumerate() {
        if a.reason.trim().is_empty() {
            c.err(&a.risk, format!("allow[{i}].reason"), "say why the stack accepts this risk: every plan shows it");
        }
        if !used.contains(&i) && !controls.iter().any(|f| super::security::accepts(a, f)) {
            c.err(
                &a.risk,
                format!("allow[{i}]"),
                format!(
                    "accepts nothing: there is no `{}` risk or failing control at `{}` (remove it)",
                    a.risk.value, a.at
                ),
            );
        }
    }
}

/// The accepted risks, one line each, as every plan shows them.
pub fn accepted(stack: &StackFile, risks: &[Risk]) -> Vec<String> {
    risks
        .iter()
        .filter_map(|r| {
            let a = stack.allow.iter().find(|a| accepts(a, r))?;
            Some(format!("{} at {}: {} — {}", r.id, r.at, r.what, a.reason))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_patterns_match_as_iam_matches_them() {
        assert!(action_matches("iam:*", "iam:PassRole"));
        assert!(action_matches("IAM:pass*", "iam:PassRole"));
        assert!(action_matches("iam:Put?olePolicy", "iam:PutRolePolicy"));
        assert!(!action_matches("iam:Get*", "iam:PassRole"));
        assert!(!action_matches("iam:PassRoles", "iam:PassRole"));
        assert_eq!(
            escalating(&["iam:Attach*".into()]),
            vec!["iam:AttachRolePolicy", "iam:AttachUserPolicy", "iam:AttachGroupPolicy"]
        );
        assert!(escalating(&["*".into(), "ecr:*".into(), "iam:Get*".into()]).is_empty());
    }

    #[test]
    fn only_tls_1_2_and_later_policies_are_modern() {
        assert!(modern_tls("ELBSecurityPolicy-TLS13-1-2-2021-06"));
        assert!(modern_tls("ELBSecurityPolicy-TLS-1-2-Ext-2018-06"));
        assert!(modern_tls("ELBSecurityPolicy-FS-1-2-Res-2020-10"));
        assert!(!modern_tls("ELBSecurityPolicy-2016-08"));
        assert!(!modern_tls("ELBSecurityPolicy-TLS-1-0-2015-04"));
        assert!(!modern_tls("ELBSecurityPolicy-TLS-1-1-2017-01"));
        assert!(!modern_tls("ELBSecurityPolicy-TLS13-1-0-2021-06"));
    }
}
