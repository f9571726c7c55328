//! Whether a role's policies allow a set of actions on any resource: its inline policies and the
//! default versions of its attached ones, read from IAM and matched as IAM matches action
//! patterns (`ssmmessages:*`, `*`). An explicit Deny and conditions are not evaluated: the check
//! finds a missing grant, the usual cause, not every way IAM can refuse.

use anyhow::{anyhow, Result};
use serde_json::Value;

use crate::aws::describe;
use crate::config::risks::action_matches;
use crate::diff::normalize::policy_document;

/// The actions of `actions` that no Allow statement with resource `*` grants to `role`.
pub async fn allows(iam: &aws_sdk_iam::Client, role: &str, actions: &[&str]) -> Result<Vec<String>> {
    let mut documents = Vec::new();
    let inline = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(|e| anyhow!("ListRolePolicies: {}", describe(&e)))?;
    for name in inline.policy_names() {
        let out = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .map_err(|e| anyhow!("GetRolePolicy {name}: {}", describe(&e)))?;
        documents.extend(policy_document(out.policy_document()));
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(|e| anyhow!("ListAttachedRolePolicies: {}", describe(&e)))?;
    for policy in attached.attached_policies() {
        let arn = policy.policy_arn().unwrap_or_default();
        let meta =
            iam.get_policy().policy_arn(arn).send().await.map_err(|e| anyhow!("GetPolicy {arn}: {}", describe(&e)))?;
        let version = meta.policy().and_then(|p| p.default_version_id()).unwrap_or("v1");
        let out = iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| anyhow!("GetPolicyVersion {arn}: {}", describe(&e)))?;
        documents.extend(out.policy_version().and_then(|v| v.document()).and_then(policy_document));
    }
    Ok(actions.iter().filter(|a| !documents.iter().any(|d| grants(d, a))).map(|a| a.to_string()).collect())
}

fn list(v: &Value) -> Vec<&str> {
    match v {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        Value::String(s) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

/// Whether an Allow statement of `document` grants `action` on `*`.
fn grants(document: &Value, action: &str) -> bool {
    let statements = match &document["Statement"] {
        Value::Array(list) => list.iter().collect::<Vec<_>>(),
        single => vec![single],
    };
    statements.iter().any(|s| {
        s["Effect"] == "Allow"
            && list(&s["Action"]).iter().any(|p| action_matches(p, action))
            && list(&s["Resource"]).contains(&"*")
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_grant_is_an_allow_of_a_matching_action_on_every_resource() {
        let d = json!({"Statement": [{"Effect": "Allow", "Action": "ssmmessages:*", "Resource": "*"}]});
        assert!(grants(&d, "ssmmessages:OpenDataChannel"));
        let scoped =
            json!({"Statement": {"Effect": "Allow", "Action": ["ssmmessages:OpenDataChannel"], "Resource": "arn:x"}});
        assert!(!grants(&scoped, "ssmmessages:OpenDataChannel"));
        let denied = json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]});
        assert!(!grants(&denied, "ssmmessages:OpenDataChannel"));
    }
}
