//! `validate`: parse and check the stack file and task definitions, with no AWS call.

use anyhow::Result;

use crate::cli::Cli;

pub fn run(cli: &Cli) -> Result<i32> {
    let stack = super::load(cli)?;
    let f = &stack.file;
    let counts = [
        ("subnets", f.network.subnets.len()),
        ("security groups", f.security_groups.len()),
        ("target groups", f.load_balancer.as_ref().map_or(0, |l| l.target_groups.len())),
        ("repositories", f.ecr.repositories.len()),
        ("parameters", f.ssm.parameters.len()),
        ("roles", f.iam.roles.len()),
        ("clusters", f.ecs.clusters.len()),
        ("services", f.ecs.services.len()),
        ("task definitions", stack.task_definitions.len()),
        ("log groups", f.logs.groups.len()),
        ("alarms", f.alarms.len()),
    ];
    if cli.json {
        let map: serde_json::Map<String, serde_json::Value> =
            counts.iter().map(|(k, v)| (k.replace(' ', "_"), (*v).into())).collect();
        println!("{}", serde_json::json!({ "valid": true, "stack": f.stack.value, "counts": map }));
    } else {
        let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!("{}: stack `{}` is valid ({}).", stack.path.display(), f.stack.value, parts.join(", "));
    }
    Ok(0)
}
