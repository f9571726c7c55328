//! prowler's checks that have no Security Hub control, under prowler's own check ids, evaluated
//! on the stack file like `controls`: so `allow:` can accept each by name with its reason, and
//! every FAIL `scripts/security-scan` reports on the stack has a finding of `check` to stand for.
//!
//! Invariants: the same as `controls` (no AWS call, no environment); a check here is one prowler
//! runs on a resource kind the stack has, and its status follows from the stack file alone.

use super::Control;
use crate::config::schema::StackFile;
use crate::model::iam::SOURCE_ACCOUNT_SERVICES;

/// In report order, after the Security Hub controls.
pub const CONTROLS: &[Control] = &[
    c("cloudwatch_log_group_kms_encryption_enabled", "CloudWatch log groups should be encrypted with a KMS key (prowler)"),
    c(
        "ec2_instance_detailed_monitoring_enabled",
        "EC2 instances should have detailed (1-minute) monitoring enabled (prowler)",
    ),
    c("ec2_instance_profile_attached", "EC2 instances should have an instance profile attached (prowler)"),
    c("elbv2_listener_fips_tls_enabled", "ELBv2 HTTPS listeners should use a FIPS TLS security policy (prowler)"),
    c(
        "elbv2_listener_pqc_tls_enabled",
        "ELBv2 HTTPS listeners should use a post-quantum (ML-KEM hybrid) TLS security policy (prowler)",
    ),
    c(
        "iam_role_cross_service_confused_deputy_prevention",
        "IAM roles trusted by an AWS service should limit it to this account (aws:SourceAccount / aws:SourceArn) (prowler)",
    ),
];

const fn c(id: &'static str, title: &'static str) -> Control {
    Control { id, title, risk: None }
}

/// Every finding, PASS or FAIL, through `finding(id, key path, pass, detail)`.
pub fn evaluate(stack: &StackFile, finding: &mut dyn FnMut(&str, String, bool, String)) {
    for name in stack.logs.groups.keys() {
        let detail = "encrypted by CloudWatch Logs with its own key; no KMS key of the account".to_string();
        finding("cloudwatch_log_group_kms_encryption_enabled", format!("logs.groups.{name}"), false, detail);
    }
    for (name, cluster) in &stack.ecs.clusters {
        let Some(cap) = &cluster.ec2_capacity else { continue };
        let at = format!("ecs.clusters.{name}.ec2_capacity");
        let basic = "the launch template keeps basic monitoring: EC2 metrics every 5 minutes".to_string();
        finding("ec2_instance_detailed_monitoring_enabled", at.clone(), false, basic);
        let profile = format!("the launch template names instance profile {}", cap.instance_role.value);
        finding("ec2_instance_profile_attached", at, true, profile);
    }
    if let Some(https) = stack.load_balancer.as_ref().and_then(|lb| lb.https_listener.as_ref()) {
        let at = "load_balancer.https_listener.ssl_policy".to_string();
        let policy = &https.ssl_policy;
        finding("elbv2_listener_fips_tls_enabled", at.clone(), policy.contains("FIPS"), format!("`{policy}`"));
        finding("elbv2_listener_pqc_tls_enabled", at, post_quantum(policy), format!("`{policy}`"));
    }
    for (name, role) in &stack.iam.roles {
        if role.trusted_services.is_empty() {
            continue;
        }
        let unscoped: Vec<&str> =
            role.trusted_services.iter().map(String::as_str).filter(|s| !SOURCE_ACCOUNT_SERVICES.contains(s)).collect();
        let detail = if unscoped.is_empty() {
            "the trust requires aws:SourceAccount (containrlab adds it for these services)".to_string()
        } else {
            format!("{} trusted without aws:SourceAccount (the service does not send it)", unscoped.join(", "))
        };
        finding(
            "iam_role_cross_service_confused_deputy_prevention",
            format!("iam.roles.{name}.trusted_services"),
            unscoped.is_empty(),
            detail,
        );
    }
}

/// AWS's post-quantum policies (`ELBSecurityPolicy-TLS13-…-PQ-2025-09`): ML-KEM hybrid key exchange.
fn post_quantum(policy: &str) -> bool {
    policy.starts_with("ELBSecurityPolicy-TLS13-") && policy.contains("-PQ-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_quantum_policies_are_the_tls13_pq_family() {
        assert!(post_quantum("ELBSecurityPolicy-TLS13-1-2-PQ-2025-09"));
        assert!(post_quantum("ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09"));
        assert!(!post_quantum("ELBSecurityPolicy-TLS13-1-2-2021-06"));
        assert!(!post_quantum("ELBSecurityPolicy-2016-08"));
    }
}
