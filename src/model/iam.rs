//! Desired IAM: roles with their trust, managed and inline policies and instance profiles, and the
//! GitHub Actions OIDC provider the CI deploy role trusts.
//!
//! Policy documents keep `${account}` and `${region}` until the account is known (plan time).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

/// Every role of every stack lives under this path, so one `ListRoles` finds them (and role ARNs
/// read `arn:aws:iam::ACCOUNT:role/containrlab/NAME`).
pub const ROLE_PATH: &str = "/containrlab/";

/// Service principals that send `aws:SourceAccount` when they assume a role, so their trust is
/// limited to this account. ECS documents it for task roles and task execution roles, VPC Flow
/// Logs for its delivery role; EC2 does not for instance profiles, so `ec2.amazonaws.com` is
/// trusted without it.
pub const SOURCE_ACCOUNT_SERVICES: &[&str] = &["ecs-tasks.amazonaws.com", "vpc-flow-logs.amazonaws.com"];

/// Where GitHub Actions' OIDC tokens come from.
pub const GITHUB_OIDC_HOST: &str = "token.actions.githubusercontent.com";

#[derive(Debug, Clone, PartialEq)]
pub struct Iam {
    pub roles: Vec<Role>,
    /// True when a role trusts GitHub Actions: the account then needs GitHub's OIDC provider.
    pub github_oidc: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub name: String,
    pub description: Option<String>,
    pub trust: Trust,
    pub managed_policies: BTreeSet<String>,
    /// Name → policy document (with placeholders).
    pub inline_policies: BTreeMap<String, Value>,
    pub instance_profile: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Trust {
    Services(Vec<String>),
    /// GitHub Actions of `repository` on these refs, through the account's OIDC provider.
    Github {
        repository: String,
        refs: Vec<String>,
    },
}

impl Trust {
    /// The trust (assume-role) policy document for this account.
    pub fn document(&self, account: &str) -> Value {
        match self {
            Trust::Services(services) => {
                // ECS and VPC Flow Logs state the account they assume a role for: a role trusted
                // only in this account's name cannot be used for another account (confused deputy).
                let (scoped, plain): (Vec<&String>, Vec<&String>) =
                    services.iter().partition(|s| SOURCE_ACCOUNT_SERVICES.contains(&s.as_str()));
                let mut statements = Vec::new();
                if !scoped.is_empty() {
                    statements.push(json!({
                        "Effect": "Allow", "Principal": { "Service": scoped }, "Action": "sts:AssumeRole",
                        "Condition": { "StringEquals": { "aws:SourceAccount": account } }
                    }));
                }
                if !plain.is_empty() {
                    statements.push(
                        json!({ "Effect": "Allow", "Principal": { "Service": plain }, "Action": "sts:AssumeRole" }),
                    );
                }
                json!({ "Version": "2012-10-17", "Statement": statements })
            }
            Trust::Github { repository, refs } => {
                let subjects: Vec<String> = refs.iter().map(|r| format!("repo:{repository}:ref:{r}")).collect();
                json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": { "Federated": format!("arn:aws:iam::{account}:oidc-provider/{GITHUB_OIDC_HOST}") },
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": { format!("{GITHUB_OIDC_HOST}:aud"): "sts.amazonaws.com" },
                            "StringLike": { format!("{GITHUB_OIDC_HOST}:sub"): subjects }
                        }
                    }]
                })
            }
        }
    }
}

/// Replaces `${account}` and `${region}` in every string of a document.
pub fn resolve_document(doc: &Value, account: &str, region: &str) -> Value {
    match doc {
        Value::String(s) => Value::String(s.replace("${account}", account).replace("${region}", region)),
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve_document(v, account, region)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), resolve_document(v, account, region))).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ECS tasks may assume the role only in this account's name; EC2 sends no source account.
    #[test]
    fn ecs_task_trust_is_limited_to_the_account_and_ec2_trust_is_plain() {
        let trust = Trust::Services(vec!["ecs-tasks.amazonaws.com".into(), "ec2.amazonaws.com".into()]);
        let doc = trust.document("123456789012");
        let statements = doc["Statement"].as_array().expect("statements");
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0]["Principal"]["Service"], json!(["ecs-tasks.amazonaws.com"]));
        assert_eq!(statements[0]["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        assert_eq!(statements[1]["Principal"]["Service"], json!(["ec2.amazonaws.com"]));
        assert!(statements[1].get("Condition").is_none());
        let ec2_only = Trust::Services(vec!["ec2.amazonaws.com".into()]).document("123456789012");
        assert_eq!(ec2_only["Statement"].as_array().map(Vec::len), Some(1));
    }
}
