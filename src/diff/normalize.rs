//! Normalisation of values AWS reports differently from how they were written.
//!
//! Each function maps an observed AWS value to the form the desired side uses, so that a converged
//! resource compares equal. Every false difference a user ever sees is a missing function here.

use serde_json::{json, Value};

/// The ECR lifecycle policy this tool writes for "keep the newest N images".
pub fn ecr_keep_last_policy(n: u32) -> Value {
    json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("Keep the newest {n} images"),
            "selection": { "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": n },
            "action": { "type": "expire" }
        }]
    })
}

/// What an observed ECR lifecycle policy means, in the stack file's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum LifecyclePolicy {
    /// A single "expire beyond N of any tag" rule: `keep_last_images: N`.
    KeepLast(u32),
    /// Anything else (written by hand or another tool), as compact JSON.
    Custom(String),
}

impl LifecyclePolicy {
    /// Parses the policy text ECR returns. ECR may reformat JSON and drop the description, so
    /// only the rule's meaning is compared.
    pub fn from_text(text: &str) -> LifecyclePolicy {
        let parsed: Option<Value> = serde_json::from_str(text).ok();
        let keep_last = parsed.as_ref().and_then(|v| {
            let rules = v.get("rules")?.as_array()?;
            let [rule] = rules.as_slice() else {
                return None;
            };
            let sel = rule.get("selection")?;
            let any = sel.get("tagStatus")?.as_str()? == "any";
            let count = sel.get("countType")?.as_str()? == "imageCountMoreThan";
            let expire = rule.pointer("/action/type")?.as_str()? == "expire";
            let n = sel.get("countNumber")?.as_u64()?;
            (any && count && expire).then(|| u32::try_from(n).ok()).flatten()
        });
        match (keep_last, parsed) {
            (Some(n), _) => LifecyclePolicy::KeepLast(n),
            (None, Some(v)) => LifecyclePolicy::Custom(v.to_string()),
            (None, None) => LifecyclePolicy::Custom(text.to_string()),
        }
    }

    /// The value shown and compared under `lifecycle_policy.keep_last_images`.
    pub fn as_value(&self) -> Value {
        match self {
            LifecyclePolicy::KeepLast(n) => json!(n),
            LifecyclePolicy::Custom(text) => json!(format!("custom policy {text}")),
        }
    }
}

/// CloudWatch Logs ARNs come as `arn:…:log-group:NAME` or `arn:…:log-group:NAME:*`.
pub fn log_group_name_from_arn(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":log-group:")?;
    Some(rest.strip_suffix(":*").unwrap_or(rest))
}

/// An IAM policy document in a canonical form: decoded (AWS returns documents URL-encoded),
/// single values as one-element lists, lists sorted and de-duplicated, statements sorted. Two
/// documents that mean the same compare equal.
pub fn policy_document(text_or_encoded: &str) -> Option<Value> {
    let decoded = percent_encoding::percent_decode_str(text_or_encoded).decode_utf8().ok()?;
    serde_json::from_str::<Value>(&decoded).ok().map(|v| canonical_policy(&v))
}

pub fn canonical_policy(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if let Some(obj) = doc.as_object_mut() {
        let statements = match obj.remove("Statement") {
            Some(Value::Array(list)) => list,
            Some(single) => vec![single],
            None => vec![],
        };
        let mut statements: Vec<Value> = statements.iter().map(canonical_statement).collect();
        statements.sort_by_key(|s| s.to_string());
        statements.dedup();
        obj.insert("Statement".into(), Value::Array(statements));
    }
    doc
}

fn canonical_statement(s: &Value) -> Value {
    let Some(obj) = s.as_object() else { return s.clone() };
    let listify = |v: &Value| -> Value {
        let mut items: Vec<Value> = match v {
            Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        };
        items.sort_by_key(|i| i.to_string());
        items.dedup();
        Value::Array(items)
    };
    let mut out = serde_json::Map::new();
    for (k, v) in obj {
        let value = match (k.as_str(), v) {
            ("Action" | "NotAction" | "Resource" | "NotResource", v) => listify(v),
            ("Principal" | "NotPrincipal", Value::Object(p)) => {
                Value::Object(p.iter().map(|(k, v)| (k.clone(), listify(v))).collect())
            }
            ("Condition", Value::Object(ops)) => Value::Object(
                ops.iter()
                    .map(|(op, keys)| {
                        let keys = keys
                            .as_object()
                            .map(|m| m.iter().map(|(k, v)| (k.clone(), listify(v))).collect())
                            .unwrap_or_default();
                        (op.clone(), Value::Object(keys))
                    })
                    .collect(),
            ),
            (_, v) => v.clone(),
        };
        out.insert(k.clone(), value);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_policy_reads_back_as_keep_last() {
        let text = ecr_keep_last_policy(10).to_string();
        assert_eq!(LifecyclePolicy::from_text(&text), LifecyclePolicy::KeepLast(10));
    }

    #[test]
    fn reformatted_policy_without_description_is_still_keep_last() {
        let text = r#"{ "rules" : [ { "rulePriority":1, "selection":{"countNumber":5,"countType":"imageCountMoreThan","tagStatus":"any"}, "action":{"type":"expire"} } ] }"#;
        assert_eq!(LifecyclePolicy::from_text(text), LifecyclePolicy::KeepLast(5));
    }

    #[test]
    fn other_policies_are_custom_and_shown_compactly() {
        let text = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#;
        let p = LifecyclePolicy::from_text(text);
        assert!(matches!(p, LifecyclePolicy::Custom(_)));
        assert!(p.as_value().as_str().unwrap().starts_with("custom policy {"));
    }

    #[test]
    fn policies_that_mean_the_same_compare_equal() {
        let written = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:GetParameters","ssm:GetParameter"],"Resource":"arn:x"}]});
        // As AWS returns it: URL-encoded, a single statement object, actions reordered, one as a list.
        let returned = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Action%22%3A%5B%22ssm%3AGetParameter%22%2C%22ssm%3AGetParameters%22%5D%2C%22Resource%22%3A%5B%22arn%3Ax%22%5D%2C%22Effect%22%3A%22Allow%22%7D%7D";
        assert_eq!(policy_document(returned), Some(canonical_policy(&written)));
        let different = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:x"}]});
        assert_ne!(canonical_policy(&different), canonical_policy(&written));
    }

    #[test]
    fn principals_and_conditions_are_canonical_too() {
        let a = json!({"Statement":[{"Principal":{"Service":"ecs-tasks.amazonaws.com"},"Condition":{"StringLike":{"k":"v"}}}]});
        let b = json!({"Statement":{"Principal":{"Service":["ecs-tasks.amazonaws.com"]},"Condition":{"StringLike":{"k":["v"]}}}});
        assert_eq!(canonical_policy(&a), canonical_policy(&b));
    }

    #[test]
    fn log_group_names_come_out_of_both_arn_forms() {
        assert_eq!(log_group_name_from_arn("arn:aws:logs:us-east-1:1:log-group:/ecs/a:*"), Some("/ecs/a"));
        assert_eq!(log_group_name_from_arn("arn:aws:logs:us-east-1:1:log-group:/ecs/a"), Some("/ecs/a"));
        assert_eq!(log_group_name_from_arn("arn:aws:ecr:x"), None);
    }
}
