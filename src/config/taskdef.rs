//! ECS task definitions: `task-definitions/*.json` in the native `RegisterTaskDefinition` shape,
//! loaded, checked and kept as JSON with their placeholders.
//!
//! Placeholders are `${account}`, `${region}`, `${image_tag}`, `${repository:NAME}` (repository
//! URI), `${role:NAME}` (role ARN) and `${parameter:NAME}` (parameter ARN). They are checked here
//! against the stack file and resolved at plan time, when the account is known.
//! Invariants: unknown top-level or container keys, unknown placeholders and dangling references
//! are errors; an `environment` entry may not carry a value that the stack declares as a secret.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::ConfigError;
use super::json_keys::KeyPositions;
use super::schema::{ParameterType, StackFile};

/// Top-level keys of `RegisterTaskDefinition` that containrlab maps (both ways: registering, and
/// reading back for comparison). Tags come from the stack file.
pub const TASK_KEYS: &[&str] = &[
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "runtimePlatform",
    "ephemeralStorage",
];

/// Container-definition keys containrlab maps.
pub const CONTAINER_KEYS: &[&str] = &[
    "name",
    "image",
    "cpu",
    "memory",
    "memoryReservation",
    "portMappings",
    "essential",
    "entryPoint",
    "command",
    "environment",
    "mountPoints",
    "volumesFrom",
    "secrets",
    "dependsOn",
    "startTimeout",
    "stopTimeout",
    "user",
    "workingDirectory",
    "privileged",
    "readonlyRootFilesystem",
    "dockerLabels",
    "logConfiguration",
    "healthCheck",
];

/// A task definition as written, with the file it came from.
#[derive(Debug, Clone)]
pub struct TaskDefinitionFile {
    pub path: PathBuf,
    pub json: Value,
}

impl TaskDefinitionFile {
    /// `(container name, container ports)` of every container.
    pub fn containers(&self) -> Vec<(String, Vec<u64>)> {
        let list = self.json.get("containerDefinitions").and_then(Value::as_array);
        list.into_iter()
            .flatten()
            .map(|c| {
                let name = c.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                let ports = c.get("portMappings").and_then(Value::as_array).into_iter().flatten();
                (name, ports.filter_map(|p| p.get("containerPort").and_then(Value::as_u64)).collect())
            })
            .collect()
    }
}

/// Reads and checks one task definition. `reference` is the stack-file key that names it.
pub fn load(
    stack_dir: &Path,
    relative: &str,
    stack: &StackFile,
    errors: &mut Vec<ConfigError>,
) -> Option<TaskDefinitionFile> {
    let path = stack_dir.join(relative);
    let bytes = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ConfigError::path(&path, "", format!("cannot read task definition: {e}")));
            return None;
        }
    };
    let text = match super::utf8(&path, &bytes) {
        Ok(t) => t,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let json: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let text = e.to_string();
            let reason = text.split(" at line ").next().unwrap_or(&text);
            errors.push(ConfigError {
                file: path,
                position: Some((e.line() as u64, e.column() as u64)),
                key_path: String::new(),
                message: format!("malformed JSON: {reason}; expected a RegisterTaskDefinition document"),
            });
            return None;
        }
    };
    let before = errors.len();
    let keys = super::json_keys::scan(text);
    for (key, at, first) in &keys.duplicates {
        errors.push(ConfigError {
            file: path.clone(),
            position: Some(*at),
            key_path: key.clone(),
            message: format!("duplicate key (first at line {}, column {}): JSON keeps only the last", first.0, first.1),
        });
    }
    check(&path, &json, &keys, stack, errors);
    (errors.len() == before).then_some(TaskDefinitionFile { path, json })
}

fn check(path: &Path, json: &Value, keys: &KeyPositions, stack: &StackFile, errors: &mut Vec<ConfigError>) {
    let mut err = |key: String, msg: String| {
        let position = keys.at.get(&key).copied();
        errors.push(ConfigError { file: path.to_path_buf(), position, key_path: key, message: msg })
    };
    let Some(top) = json.as_object() else {
        err(String::new(), "expected a JSON object (the RegisterTaskDefinition shape)".into());
        return;
    };
    for key in top.keys().filter(|k| !TASK_KEYS.contains(&k.as_str())) {
        err(
            key.clone(),
            format!(
                "unknown or unsupported key for RegisterTaskDefinition{}; supported: {}",
                super::error::did_you_mean(key, TASK_KEYS.iter().copied()),
                TASK_KEYS.join(", ")
            ),
        );
    }
    if top.get("family").and_then(Value::as_str).is_none_or(str::is_empty) {
        err("family".into(), "expected a non-empty string".into());
    }
    let containers = top.get("containerDefinitions").and_then(Value::as_array);
    match containers {
        Some(list) if !list.is_empty() => {}
        _ => err("containerDefinitions".into(), "expected a non-empty array of containers".into()),
    }
    let secret_vars: BTreeSet<&str> = stack
        .ssm
        .parameters
        .iter()
        .filter(|(_, p)| p.kind == ParameterType::SecureString)
        .flat_map(|(name, p)| {
            let short = name.rsplit('/').next().unwrap_or(name);
            [Some(short), p.value_from_env.as_ref().map(|v| v.value.as_str())]
        })
        .flatten()
        .collect();
    for (i, container) in containers.into_iter().flatten().enumerate() {
        let base = format!("containerDefinitions[{i}]");
        let Some(obj) = container.as_object() else {
            err(base, "expected a container object".into());
            continue;
        };
        for key in obj.keys().filter(|k| !CONTAINER_KEYS.contains(&k.as_str())) {
            err(
                format!("{base}.{key}"),
                format!(
                    "unknown or unsupported key for a container definition{}; supported: {}",
                    super::error::did_you_mean(key, CONTAINER_KEYS.iter().copied()),
                    CONTAINER_KEYS.join(", ")
                ),
            );
        }
        for key in ["name", "image"] {
            if obj.get(key).and_then(Value::as_str).is_none_or(str::is_empty) {
                err(format!("{base}.{key}"), "expected a non-empty string".into());
            }
        }
        for (j, env) in obj.get("environment").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let name = env.get("name").and_then(Value::as_str).unwrap_or_default();
            if secret_vars.contains(name) {
                err(
                    format!("{base}.environment[{j}]"),
                    format!("`{name}` is a secret of this stack: reference it under `secrets` with `valueFrom`, never as an inline value"),
                );
            }
        }
        for (j, secret) in obj.get("secrets").and_then(Value::as_array).into_iter().flatten().enumerate() {
            if secret.get("valueFrom").and_then(Value::as_str).is_none() {
                err(
                    format!("{base}.secrets[{j}].valueFrom"),
                    "expected a parameter reference such as ${parameter:/containrlab/NAME}".into(),
                );
            }
        }
        if let Some(group) = container.pointer("/logConfiguration/options/awslogs-group").and_then(Value::as_str) {
            if !stack.logs.groups.contains_key(group) {
                err(
                    format!("{base}.logConfiguration.options.awslogs-group"),
                    format!("log group `{group}` is not defined under logs.groups"),
                );
            }
        }
    }
    check_placeholders(json, "", stack, &mut err);
    super::taskdef_shape::check(json, &mut err);
}

/// Walks every string and checks each `${...}` against the stack file.
fn check_placeholders(value: &Value, key_path: &str, stack: &StackFile, err: &mut impl FnMut(String, String)) {
    match value {
        Value::String(s) => {
            for placeholder in placeholders(s) {
                if let Err(msg) = check_placeholder(placeholder, stack) {
                    err(key_path.to_string(), msg);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check_placeholders(v, &format!("{key_path}[{i}]"), stack, err);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let path = if key_path.is_empty() { k.clone() } else { format!("{key_path}.{k}") };
                check_placeholders(v, &path, stack, err);
            }
        }
        _ => {}
    }
}

/// The contents of every `${...}` in `s`, in order; an unclosed `${` yields the rest of the string.
pub fn placeholders(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                out.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => {
                out.push(after);
                break;
            }
        }
    }
    out
}

fn check_placeholder(p: &str, stack: &StackFile) -> Result<(), String> {
    match p.split_once(':') {
        None if ["account", "region", "image_tag"].contains(&p) => Ok(()),
        Some(("repository", name)) if stack.ecr.repositories.contains_key(name) => Ok(()),
        Some(("repository", name)) => Err(format!("${{repository:{name}}}: repository `{name}` is not defined under ecr.repositories")),
        Some(("role", name)) if stack.iam.roles.contains_key(name) => Ok(()),
        Some(("role", name)) => Err(format!("${{role:{name}}}: role `{name}` is not defined under iam.roles")),
        Some(("parameter", name)) if stack.ssm.parameters.contains_key(name) => Ok(()),
        Some(("parameter", name)) => Err(format!("${{parameter:{name}}}: parameter `{name}` is not defined under ssm.parameters")),
        _ => Err(format!(
            "unknown placeholder `${{{p}}}`: expected ${{account}}, ${{region}}, ${{image_tag}}, ${{repository:NAME}}, ${{role:NAME}} or ${{parameter:NAME}}"
        )),
    }
}
