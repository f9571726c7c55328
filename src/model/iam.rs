//! Desired IAM: roles with their trust, managed and inline policies and instance profiles, and the
//! GitHub Actions OIDC provider the CI deploy role trusts.
//!
//! Policy documents keep `${account}` and `${region}` until the account is known (plan time).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

/// Every role of every stack lives under this path, so one `ListRoles` finds them (and role ARNs
/// read `arn:aws:iam::ACCOUNT:role/containrlab/NAME`).
pub const ROLE_PATH: &str = "/containrlab/";

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
            Trust::Services(services) => json!({
                "Version": "2012-10-17",
                "Statement": [{ "Effect": "Allow", "Principal": { "Service": services }, "Action": "sts:AssumeRole" }]
            }),
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
