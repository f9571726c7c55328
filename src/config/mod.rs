//! Loading the stack definition: `stack.yaml` (strict YAML) and the task definitions it names.
//!
//! `load` = parse → validate → read task definitions → cross-check; it makes no AWS calls and reads
//! no environment. `resolve` turns a loaded stack into the desired resources.

pub mod error;
mod json_keys;
mod limits;
pub mod resolve;
pub mod risks;
pub mod schema;
pub mod security;
pub mod taskdef;
mod taskdef_shape;
pub mod validate;

#[cfg(test)]
mod guardrail_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use error::{ConfigError, ConfigErrors};
use schema::StackFile;
use taskdef::TaskDefinitionFile;

/// A stack file that parsed and passed every check, with its task definitions.
#[derive(Debug)]
pub struct Stack {
    pub path: PathBuf,
    pub file: StackFile,
    /// Task definitions by ECS service name.
    pub task_definitions: BTreeMap<String, TaskDefinitionFile>,
    /// The risks `allow:` accepts, one line each with its reason: every plan shows them.
    pub accepted: Vec<String>,
    /// The AWS Security Hub controls of the stack, allowances applied (`security`).
    pub security: Vec<security::Finding>,
}

/// What loading does with an AWS Security Hub control the stack fails without an `allow:` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailingControls {
    /// An error, as a risk is: nothing plans or changes AWS with it (every command but `check`).
    Refused,
    /// Kept in the report, FAIL (`check`, whose report it is).
    Reported,
}

pub fn load(path: &Path) -> Result<Stack, ConfigErrors> {
    load_with(path, FailingControls::Refused)
}

pub fn load_with(path: &Path, failing: FailingControls) -> Result<Stack, ConfigErrors> {
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigErrors(vec![ConfigError::path(path, "", format!("cannot read the stack file: {e}"))]))?;
    let text = utf8(path, &bytes).map_err(|e| ConfigErrors(vec![e]))?;
    load_str_with(path, text, failing)
}

/// The text of a file, or an error at the first byte that is not UTF-8.
pub fn utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, ConfigError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&good[start..]).chars().count() as u64 + 1;
        ConfigError {
            file: path.to_path_buf(),
            position: Some((line, column)),
            key_path: String::new(),
            message: format!("not UTF-8 (byte 0x{:02x}): save the file as UTF-8", bytes[e.valid_up_to()]),
        }
    })
}

/// `load_str_with` refusing failing controls, as every command but `check` loads (the tests' form).
#[cfg(test)]
pub fn load_str(path: &Path, text: &str) -> Result<Stack, ConfigErrors> {
    load_str_with(path, text, FailingControls::Refused)
}

/// Parses and checks stack-file text; `path` names the file in errors and anchors task-definition paths.
pub fn load_str_with(path: &Path, text: &str, failing: FailingControls) -> Result<Stack, ConfigErrors> {
    let file = parse(path, text)?;
    let mut errors = validate::validate_stack(path, &file);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut task_definitions = BTreeMap::new();
    for (name, service) in &file.ecs.services {
        let before = errors.len();
        if let Some(td) = taskdef::load(dir, &service.task_definition.value, &file, &mut errors) {
            check_service_containers(path, name, service, &td, &mut errors);
            task_definitions.insert(name.clone(), td);
        } else if errors.len() > before {
            // Point from the stack file at the task definition that failed, too.
            errors.push(ConfigError::spanned(
                path,
                &service.task_definition,
                format!("ecs.services.{name}.task_definition"),
                format!("task definition `{}` is missing or invalid (see above)", service.task_definition.value),
            ));
        }
    }
    check_families(path, &file, &task_definitions, &mut errors);
    check_architectures(path, &file, &task_definitions, &mut errors);
    let risks = risks::find(&file, &task_definitions);
    let controls = security::controls::evaluate(&file, &task_definitions);
    let mut checker = validate::Checker { file: path, errors };
    risks::check(&mut checker, &file, &risks, &controls, failing == FailingControls::Refused);
    let errors = checker.errors;
    if errors.is_empty() {
        let accepted = risks::accepted(&file, &risks);
        let security = security::report(controls, &file.allow);
        Ok(Stack { path: path.to_path_buf(), file, task_definitions, accepted, security })
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Strict YAML: YAML 1.2 booleans only (`yes`, `off` and quoted `"true"` are not booleans),
/// duplicate keys rejected, and every error with its line, column and key path.
fn parse(path: &Path, text: &str) -> Result<StackFile, ConfigErrors> {
    let options = serde_saphyr::options! { strict_booleans: true };
    let key_path = std::cell::RefCell::new(String::new());
    let parsed = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            *key_path.borrow_mut() = if path == "." { String::new() } else { path };
            e.into_inner()
        })
    });
    parsed.map_err(|e| {
        let position = e.location().filter(|l| l.line() > 0).map(|l| (l.line(), l.column()));
        let plain = serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off };
        let mut message = e.render_with_options(plain);
        // The position is already in front of the message.
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        let message = explain_type_error(&message);
        ConfigErrors(vec![ConfigError { file: path.to_path_buf(), position, key_path: key_path.into_inner(), message }])
    })
}

/// serde's type names in an operator's words: `invalid u32` → what the key takes.
fn explain_type_error(message: &str) -> String {
    let expected = [
        ("u16", "a whole number from 0 to 65535"),
        ("u32", "a whole number (0 or more)"),
        ("u64", "a whole number (0 or more)"),
        ("i32", "a whole number"),
        ("i64", "a whole number"),
        ("f64", "a number"),
        ("boolean", "true or false"),
    ];
    for (ty, words) in expected {
        if message == format!("invalid {ty}") {
            return format!("expected {words}");
        }
    }
    // "unknown field `natgateways`, expected one of vpc_cidr, nat_gateways, subnets"
    if let Some((field, expected)) =
        message.strip_prefix("unknown field `").and_then(|rest| rest.split_once("`, expected one of "))
    {
        return format!("{message}{}", error::did_you_mean(field, expected.split(", ")));
    }
    if message.contains("boolean") && message.to_ascii_lowercase().contains("strict") {
        return "expected true or false (YAML 1.2: `yes`, `no`, `on`, `off` are not booleans)".into();
    }
    message.to_string()
}

/// One family per service: a family's revisions are what its service runs, so two services
/// sharing one would fight over which revision is current.
fn check_families(
    path: &Path,
    file: &StackFile,
    task_definitions: &BTreeMap<String, TaskDefinitionFile>,
    errors: &mut Vec<ConfigError>,
) {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (service, td) in task_definitions {
        let Some(family) = td.json.get("family").and_then(serde_json::Value::as_str) else { continue };
        if let Some(first) = seen.insert(family, service) {
            let spanned = &file.ecs.services[service.as_str()].task_definition;
            errors.push(ConfigError::spanned(
                path,
                spanned,
                format!("ecs.services.{service}.task_definition"),
                format!("family `{family}` is also the task definition of service `{first}`: give each service its own family"),
            ));
        }
    }
}

/// A repository's declared `architecture` is what its images are built for: a task definition
/// whose platform is another one would pull an image that cannot start (`exec format error`).
fn check_architectures(
    path: &Path,
    file: &StackFile,
    task_definitions: &BTreeMap<String, TaskDefinitionFile>,
    errors: &mut Vec<ConfigError>,
) {
    for td in task_definitions.values() {
        let platform = td.json.pointer("/runtimePlatform/cpuArchitecture").and_then(serde_json::Value::as_str);
        let Some(arch) = platform.map(|p| if p == "ARM64" { "arm64" } else { "amd64" }) else { continue };
        let containers = td.json.get("containerDefinitions").and_then(serde_json::Value::as_array);
        for (i, c) in containers.into_iter().flatten().enumerate() {
            let image = c.get("image").and_then(serde_json::Value::as_str).unwrap_or_default();
            for name in taskdef::placeholders(image).iter().filter_map(|p| p.strip_prefix("repository:")) {
                let declared = file.ecr.repositories.get(name).and_then(|r| r.architecture.as_deref());
                if declared.is_some_and(|d| d != arch) {
                    errors.push(ConfigError::path(
                        path,
                        format!("ecr.repositories.{name}.architecture"),
                        format!(
                            "`{}`, but {} (containerDefinitions[{i}]) runs on {arch}: its images would not start; build them for {arch}, or change the task's runtimePlatform",
                            declared.unwrap_or_default(),
                            td.path.display()
                        ),
                    ));
                }
            }
        }
    }
}

fn check_service_containers(
    path: &Path,
    name: &str,
    service: &schema::Service,
    td: &TaskDefinitionFile,
    errors: &mut Vec<ConfigError>,
) {
    if service.exec && crate::model::compute::task_role_of(&td.json).is_none() {
        errors.push(ConfigError::path(
            path,
            format!("ecs.services.{name}.exec"),
            "ECS Exec's agent runs with the task role: the task definition needs \"taskRoleArn\": \"${role:NAME}\" (a role of iam.roles, which then gets the exec permissions)",
        ));
    }
    let containers = td.containers();
    for (i, lb) in service.load_balancers.iter().enumerate() {
        let key = format!("ecs.services.{name}.load_balancers[{i}]");
        match containers.iter().find(|(c, _)| *c == lb.container.value) {
            None => errors.push(ConfigError::spanned(
                path,
                &lb.container,
                format!("{key}.container"),
                format!("container `{}` is not in {}", lb.container.value, td.path.display()),
            )),
            Some((_, ports)) if !ports.contains(&u64::from(lb.port)) => errors.push(ConfigError::spanned(
                path,
                &lb.container,
                format!("{key}.port"),
                format!("container `{}` maps no port {} in {}", lb.container.value, lb.port, td.path.display()),
            )),
            _ => {}
        }
    }
}
