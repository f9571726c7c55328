//! Why a running service must start new tasks: ECS injects a parameter into a container when the
//! task starts, so a value written later reaches the tasks only with a new deployment. A service
//! whose definition names a parameter this plan writes a new value of is restarted (UpdateService
//! with `forceNewDeployment`), after the write, and the plan says so with the versions.
//!
//! Invariants: only a change of the value restarts (a description or tags do not); a service the
//! plan moves to another revision is not restarted as well (that deployment reads the new value).

use serde_json::Value;

use crate::model::compute::parameter_of;
use crate::model::{Address, Kind};
use crate::plan::Action;
use crate::reconcile::contract::Pair;
use crate::reconcile::{ssm, Payload, Plan};

/// The parameters a task definition's containers read (`secrets[].valueFrom`), by name, whether
/// written as the file's `${parameter:NAME}` or as a resolved ARN.
pub fn parameters_read(td: &Value) -> Vec<String> {
    let containers = td.get("containerDefinitions").and_then(Value::as_array).into_iter().flatten();
    let secrets = containers.flat_map(|c| c.get("secrets").and_then(Value::as_array).into_iter().flatten());
    let mut names: Vec<String> = secrets
        .filter_map(|s| s.get("valueFrom").and_then(Value::as_str))
        .filter_map(|from| parameter_of(from).map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The parameters `td` reads whose value `plan` writes anew, each with why:
/// `/containrlab/GEMINI_API_KEY changed (version 3 → 4)`.
pub fn changed(plan: &Plan, td: &Value) -> Vec<(String, String)> {
    let read = parameters_read(td);
    plan.changes
        .iter()
        .filter(|c| c.address.kind == Kind::SsmParameter && read.contains(&c.address.name))
        .filter(|c| c.fields.iter().any(|f| f.is(ssm::VALUE)))
        .filter_map(|c| {
            let Payload::SsmParameter(Pair { observed: Some(o), .. }) = &c.payload else { return None };
            let next = match c.action {
                Action::Update => o.version + 1,
                Action::Replace => 1,
                Action::Create | Action::Delete => return None,
            };
            Some((c.address.name.clone(), format!("{} changed (version {} → {next})", c.address.name, o.version)))
        })
        .collect()
}

/// The addresses of those parameters: the restart waits for their write.
pub fn after(plan: &Plan, td: &Value) -> Vec<Address> {
    changed(plan, td).into_iter().map(|(name, _)| Address::new(Kind::SsmParameter, name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_definition_reads_the_parameters_its_secrets_name_in_either_form() {
        let td = json!({"containerDefinitions": [
            {"secrets": [{"name": "A", "valueFrom": "${parameter:/app/A}"}]},
            {"secrets": [{"name": "B", "valueFrom": "arn:aws:ssm:r:1:parameter/app/B"}, {"name": "A2", "valueFrom": "${parameter:/app/A}"}]},
            {"environment": [{"name": "C", "value": "c"}]}
        ]});
        assert_eq!(parameters_read(&td), vec!["/app/A", "/app/B"]);
    }
}
