//! The JSON view of a plan (`--json`). `format_version` changes when a field changes meaning or
//! disappears; new fields may be added within a version.

use serde_json::{json, Value};

use crate::diff::Shown;

use super::Plan;

pub const FORMAT_VERSION: u32 = 1;

pub fn to_value<P>(plan: &Plan<P>) -> Value {
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .map(|c| {
            let fields: Vec<Value> = c
                .fields
                .iter()
                .map(|f| {
                    let secret = |s: &Option<Shown>| matches!(s, Some(Shown::Sensitive | Shown::Unset(_)));
                    let sensitive = secret(&f.before) || secret(&f.after);
                    let mut field = json!({ "path": f.path, "before": shown(&f.before), "after": shown(&f.after), "sensitive": sensitive, "member": f.member });
                    if let Some(Shown::Unset(var)) = &f.after {
                        field["unset_env"] = Value::from(var.as_str());
                    }
                    field
                })
                .collect();
            json!({
                "address": c.address,
                "kind": c.address.kind,
                "name": c.address.name,
                "action": c.action,
                "reason": c.reason.to_string(),
                "widens_access": c.widens_access,
                "create_before_destroy": c.action == crate::plan::Action::Replace && c.address.kind.create_before_destroy(),
                "fields": fields,
            })
        })
        .collect();
    json!({
        "format_version": FORMAT_VERSION,
        "stack": plan.stack,
        "account": plan.account,
        "region": plan.region,
        "changes": changes,
        "conflicts": plan.conflicts.iter().map(|c| json!({"address": c.address, "problem": c.problem, "fix": c.fix})).collect::<Vec<_>>(),
        "kept": plan.kept.iter().map(|k| json!({"address": k.address, "why": k.why})).collect::<Vec<_>>(),
        "warnings": plan.warnings,
        "accepted_risks": plan.accepted,
        "security": plan.security.as_ref().map(|s| json!({
            "pass": s.pass, "accepted": s.accepted, "fail": s.failing.len(), "failing": s.failing,
            "accepted_controls": s.accepted_controls.iter().map(|(id, n)| json!({"control": id, "findings": n})).collect::<Vec<_>>(),
        })),
        "summary": plan.summary(),
    })
}

fn shown(v: &Option<Shown>) -> Value {
    match v {
        None => Value::Null,
        Some(Shown::Sensitive) => Value::from("(sensitive value)"),
        Some(Shown::Unset(_)) => Value::from("(not set)"),
        Some(Shown::Value(v)) => v.clone(),
    }
}
