//! `secret`: the stack's SSM parameters.
//!
//! `list` reads their metadata only (`DescribeParameters`: type, version, last change) and names
//! the containers that read each, from the task definitions; never a value. `set NAME` writes a
//! SecureString's new value — from stdin when it is not a terminal, else from the variable the
//! stack file names, never from the command line — through `up`'s own plan and runner narrowed to
//! that parameter and the restarts it causes (every service whose task definition reads it gets a
//! new deployment of its revision, and is waited on), under the stack's lock. The same value again
//! changes nothing.
//!
//! Invariants: a value exists only as `Secret` (shown as `(sensitive value)`); a String
//! parameter's value is the stack file's (`set` refuses it); nothing else of the stack changes.

use std::io::{IsTerminal, Read};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::apply::{confirm, execute, locked};
use crate::apply::OnFailure;
use crate::cli::{Cli, SecretAction, SecretSetArgs};
use crate::diff::Shown;
use crate::interrupt::{unless_stopped, Interrupted};
use crate::model::compute::{parameter_of, Service};
use crate::model::desired::{Parameter, ParameterValue};
use crate::model::secret::Secret;
use crate::model::{Address, Kind};
use crate::plan::build::Mode;
use crate::plan::Reason;
use crate::reconcile::ecs::service::RESTART;
use crate::reconcile::Plan;
use crate::ui::apply_report::{outcome_json, outcome_line};

pub async fn run(cli: &Cli, action: &SecretAction) -> Result<i32> {
    match action {
        SecretAction::List => list(cli).await,
        SecretAction::Set(args) => set(cli, args).await,
    }
}

/// `(service, container, variable)` of every container that reads `parameter`.
fn readers(services: &[Service], parameter: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for s in services {
        let containers = s.task_definition.json.get("containerDefinitions").and_then(Value::as_array);
        for c in containers.into_iter().flatten() {
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
            for secret in c.get("secrets").and_then(Value::as_array).into_iter().flatten() {
                if secret.get("valueFrom").and_then(Value::as_str).and_then(parameter_of) == Some(parameter) {
                    let variable = secret.get("name").and_then(Value::as_str).unwrap_or_default();
                    out.push((s.name.clone(), name.to_string(), variable.to_string()));
                }
            }
        }
    }
    out
}

async fn list(cli: &Cli) -> Result<i32> {
    let planner = super::Planner::new(cli, Mode::Converge, false).await?;
    let desired = &planner.desired;
    let names: Vec<String> = desired.parameters.iter().map(|p| p.name.clone()).collect();
    let found = unless_stopped("while reading", crate::reconcile::ssm::metadata(&planner.clients.ssm, &names)).await?;
    let mut rows = Vec::new();
    for p in &desired.parameters {
        let meta = found.iter().find(|m| m.name() == Some(p.name.as_str()));
        let read_by: Vec<Value> = readers(&desired.services, &p.name)
            .into_iter()
            .map(|(service, container, variable)| json!({ "service": service, "container": container, "variable": variable }))
            .collect();
        let changed = meta
            .and_then(|m| m.last_modified_date())
            .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok());
        rows.push(json!({
            "name": p.name,
            "type": p.value.type_name(),
            "exists": meta.is_some(),
            "version": meta.map(|m| m.version()),
            "last_changed": changed,
            "variable": match &p.value { ParameterValue::Secret { env_var, .. } => Some(env_var.as_str()), ParameterValue::Plain(_) => None },
            "read_by": read_by,
        }));
    }
    if cli.json {
        println!("{}", json!({ "parameters": rows }));
        return Ok(0);
    }
    println!("Parameters of stack {} (values are never shown):", desired.stack);
    for r in &rows {
        let version = r["version"].as_i64().map_or_else(|| "not created".to_string(), |v| format!("version {v}"));
        let changed = r["last_changed"].as_str().map(|c| format!(", changed {c}")).unwrap_or_default();
        println!(
            "  {}  {}, {version}{changed}",
            r["name"].as_str().unwrap_or_default(),
            r["type"].as_str().unwrap_or_default()
        );
        if let Some(var) = r["variable"].as_str() {
            println!("      value from ${var}");
        }
        let by: Vec<String> = r["read_by"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                format!(
                    "{}/{} as {}",
                    b["service"].as_str().unwrap_or(""),
                    b["container"].as_str().unwrap_or(""),
                    b["variable"].as_str().unwrap_or("")
                )
            })
            .collect();
        if by.is_empty() {
            println!("      read by no container");
        } else {
            println!("      read by {}", by.join(", "));
        }
    }
    Ok(0)
}

/// The declared parameter `name` names: its full name, or its last segment.
fn find<'a>(parameters: &'a mut [Parameter], name: &str) -> Result<&'a mut Parameter> {
    let matches = |p: &Parameter| p.name == name || p.name.rsplit('/').next() == Some(name);
    let count = parameters.iter().filter(|p| matches(p)).count();
    if count != 1 {
        let declared: Vec<&str> = parameters.iter().map(|p| p.name.as_str()).collect();
        bail!(
            "{} parameter(s) match {name}: name one of the stack file's ({}); nothing was read or changed",
            count,
            declared.join(", ")
        );
    }
    Ok(parameters.iter_mut().find(|p| matches(p)).expect("counted"))
}

/// The new value: stdin when it is not a terminal and gives one, else the stack file's variable.
fn new_value(env_var: &str) -> Result<Secret> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut text = String::new();
        stdin.lock().read_to_string(&mut text).context("reading the value from stdin")?;
        let value = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
        if !value.is_empty() {
            return Ok(Secret::new(value.to_string()));
        }
    }
    match std::env::var(env_var) {
        Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
        _ => bail!(
            "no value: pipe it on stdin (e.g. `read -rs V && printf %s \"$V\" | containrlab secret set …`) or set {env_var}; a value is never taken from the command line. Nothing was changed"
        ),
    }
}

async fn set(cli: &Cli, args: &SecretSetArgs) -> Result<i32> {
    let mut planner = super::Planner::new(cli, Mode::Converge, false).await?;
    let parameter = find(&mut planner.desired.parameters, &args.name)?;
    let ParameterValue::Secret { env_var, value } = &mut parameter.value else {
        bail!(
            "{} is a String parameter: its value is the stack file's; change it there and run `up`. Nothing was changed",
            parameter.name
        );
    };
    *value = Some(new_value(env_var)?);
    let name = parameter.name.clone();
    let wait = args.lock_timeout.unwrap_or_default();
    locked(&planner, "secret set", wait, set_locked(cli, args, &planner, &name)).await
}

async fn set_locked(cli: &Cli, args: &SecretSetArgs, planner: &super::Planner, name: &str) -> Result<i32> {
    let (observed, plan) = unless_stopped("while planning; nothing was changed", planner.plan()).await?;
    if let Some(e) = super::conflicts_error(&plan) {
        return Err(e);
    }
    let plan = narrowed(plan, name);
    if plan.is_empty() {
        if cli.json {
            println!("{}", json!({ "plan": crate::plan::json::to_value(&plan), "applied": false, "converged": true }));
        } else {
            eprintln!("{name}: the value is the one SSM has; nothing to write or restart");
        }
        return Ok(0);
    }
    super::print_plan(cli, &plan);
    confirm(args.yes, &format!("Write {name} and restart its readers")).await?;
    let started = Instant::now();
    let ctx = planner.context();
    let stopped = "while writing and restarting; `containrlab secret set` again finishes what is left";
    let round =
        unless_stopped(stopped, execute(&planner.clients, &ctx, &observed, &plan, 4, OnFailure::StopAll)).await?;
    let seconds = started.elapsed().as_secs_f64();
    let succeeded = round.outcome.succeeded();
    if cli.json {
        let result = outcome_json(&round.steps, &round.outcome);
        let plan = crate::plan::json::to_value(&plan);
        println!(
            "{}",
            json!({ "plan": plan, "applied": true, "result": result, "seconds": seconds, "converged": succeeded })
        );
    }
    eprintln!("{}", outcome_line(&round.steps, &round.outcome, 0, seconds));
    if round.outcome.interrupted {
        return Err(Interrupted::new(stopped).into());
    }
    if !succeeded {
        bail!("{name} was not written or its readers not all restarted: see above");
    }
    Ok(0)
}

/// The plan of `set`: the parameter's write and the restarts it causes, nothing else.
fn narrowed(plan: Plan, name: &str) -> Plan {
    let parameter = Address::new(Kind::SsmParameter, name);
    let mut out = Plan { changes: Vec::new(), ..plan.clone() };
    out.changes = plan
        .changes
        .into_iter()
        .filter_map(|mut c| {
            if c.address == parameter {
                return Some(c);
            }
            if c.address.kind != Kind::EcsService {
                return None;
            }
            let restart = c.fields.iter().find(|f| f.is(RESTART))?.clone();
            let mentions =
                matches!(&restart.after, Some(Shown::Value(v)) if v.as_str().is_some_and(|t| t.contains(name)));
            mentions.then(|| {
                c.fields = vec![restart];
                c.reason = Reason::Restart;
                c.widens_access = false;
                c
            })
        })
        .collect();
    out
}
