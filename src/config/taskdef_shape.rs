//! A task definition against the shape of ECS's `RegisterTaskDefinition`: every member's JSON type,
//! the enumerations as the ECS SDK lists them (`NetworkMode::values()` …), the required members,
//! and Fargate's CPU/memory combinations — what ECS refuses, or what the conversion to the SDK's
//! request (`reconcile::ecs::taskdef_json`) would drop without a word, refused before any call.
//!
//! Invariant: the members here are exactly those the conversion reads (`TASK_KEYS`,
//! `CONTAINER_KEYS` and their nested members); a nested member it does not read is an error, not
//! silently left out of the registered definition.

use aws_sdk_ecs::types::{
    Compatibility, ContainerCondition, CpuArchitecture, LogDriver, NetworkMode, OsFamily, TransportProtocol,
};
use serde_json::Value;

/// A member's JSON shape.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    Int,
    Bool,
    /// `"512"` or `512` (task-level `cpu` and `memory`).
    StrOrInt,
    /// One of the SDK's values.
    Enum(fn() -> &'static [&'static str]),
    Strs,
    Enums(fn() -> &'static [&'static str]),
    /// An object of strings (`dockerLabels`, log options).
    StrMap,
    Object(&'static [Member]),
    Objects(&'static [Member]),
}

struct Member {
    key: &'static str,
    ty: Ty,
    required: bool,
}

const fn m(key: &'static str, ty: Ty) -> Member {
    Member { key, ty, required: false }
}

const fn required(key: &'static str, ty: Ty) -> Member {
    Member { key, ty, required: true }
}

const PLATFORM: &[Member] =
    &[m("cpuArchitecture", Ty::Enum(CpuArchitecture::values)), m("operatingSystemFamily", Ty::Enum(OsFamily::values))];
const EPHEMERAL: &[Member] = &[required("sizeInGiB", Ty::Int)];
const HOST: &[Member] = &[m("sourcePath", Ty::Str)];
const VOLUME: &[Member] = &[required("name", Ty::Str), m("host", Ty::Object(HOST))];
const PORT: &[Member] = &[
    m("containerPort", Ty::Int),
    m("hostPort", Ty::Int),
    m("protocol", Ty::Enum(TransportProtocol::values)),
    m("name", Ty::Str),
];
const NAME_VALUE: &[Member] = &[required("name", Ty::Str), m("value", Ty::Str)];
const SECRET: &[Member] = &[required("name", Ty::Str), m("valueFrom", Ty::Str)];
const MOUNT: &[Member] = &[m("sourceVolume", Ty::Str), m("containerPath", Ty::Str), m("readOnly", Ty::Bool)];
const VOLUME_FROM: &[Member] = &[m("sourceContainer", Ty::Str), m("readOnly", Ty::Bool)];
const DEPENDS_ON: &[Member] =
    &[required("containerName", Ty::Str), required("condition", Ty::Enum(ContainerCondition::values))];
const LOG: &[Member] = &[required("logDriver", Ty::Enum(LogDriver::values)), m("options", Ty::StrMap)];
const HEALTH: &[Member] = &[
    required("command", Ty::Strs),
    m("interval", Ty::Int),
    m("timeout", Ty::Int),
    m("retries", Ty::Int),
    m("startPeriod", Ty::Int),
];
// `family`, `containerDefinitions` and a container's `name` and `image` are required too:
// `taskdef::check` says so (non-empty).
const CONTAINER: &[Member] = &[
    m("name", Ty::Str),
    m("image", Ty::Str),
    m("cpu", Ty::Int),
    m("memory", Ty::Int),
    m("memoryReservation", Ty::Int),
    m("portMappings", Ty::Objects(PORT)),
    m("essential", Ty::Bool),
    m("entryPoint", Ty::Strs),
    m("command", Ty::Strs),
    m("environment", Ty::Objects(NAME_VALUE)),
    m("mountPoints", Ty::Objects(MOUNT)),
    m("volumesFrom", Ty::Objects(VOLUME_FROM)),
    m("secrets", Ty::Objects(SECRET)),
    m("dependsOn", Ty::Objects(DEPENDS_ON)),
    m("startTimeout", Ty::Int),
    m("stopTimeout", Ty::Int),
    m("user", Ty::Str),
    m("workingDirectory", Ty::Str),
    m("privileged", Ty::Bool),
    m("readonlyRootFilesystem", Ty::Bool),
    m("dockerLabels", Ty::StrMap),
    m("logConfiguration", Ty::Object(LOG)),
    m("healthCheck", Ty::Object(HEALTH)),
];
const TASK: &[Member] = &[
    m("family", Ty::Str),
    m("taskRoleArn", Ty::Str),
    m("executionRoleArn", Ty::Str),
    m("networkMode", Ty::Enum(NetworkMode::values)),
    m("containerDefinitions", Ty::Objects(CONTAINER)),
    m("volumes", Ty::Objects(VOLUME)),
    m("requiresCompatibilities", Ty::Enums(Compatibility::values)),
    m("cpu", Ty::StrOrInt),
    m("memory", Ty::StrOrInt),
    m("runtimePlatform", Ty::Object(PLATFORM)),
    m("ephemeralStorage", Ty::Object(EPHEMERAL)),
];

/// Every way `td` departs from the shape, as `(key path, what is wrong)`. Unknown top-level and
/// container keys are `taskdef::check`'s to name (with a suggestion); nested ones are named here.
pub fn check(td: &Value, err: &mut impl FnMut(String, String)) {
    if let Some(top) = td.as_object() {
        members(top, TASK, "", false, err);
    }
    fargate(td, err);
}

fn members(
    obj: &serde_json::Map<String, Value>,
    shape: &[Member],
    base: &str,
    strict: bool,
    err: &mut impl FnMut(String, String),
) {
    let path = |key: &str| if base.is_empty() { key.to_string() } else { format!("{base}.{key}") };
    for member in shape {
        match obj.get(member.key) {
            Some(v) => value(v, member.ty, &path(member.key), err),
            None if member.required => err(path(member.key), "is required by RegisterTaskDefinition".into()),
            None => {}
        }
    }
    if strict {
        for key in obj.keys().filter(|k| !shape.iter().any(|m| m.key == k.as_str())) {
            let known: Vec<&str> = shape.iter().map(|m| m.key).collect();
            err(path(key), format!("is not a member containrlab maps here; expected one of: {}", known.join(", ")));
        }
    }
}

fn value(v: &Value, ty: Ty, at: &str, err: &mut impl FnMut(String, String)) {
    let found = || match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    let mut expected = |what: &str| err(at.to_string(), format!("expected {what}, found {}", found()));
    match ty {
        Ty::Str if !v.is_string() => expected("a string"),
        Ty::Int if v.as_i64().is_none_or(|n| i32::try_from(n).is_err()) => expected("an integer"),
        Ty::Bool if !v.is_boolean() => expected("true or false"),
        Ty::StrOrInt if !v.is_string() && !v.is_u64() => expected("a string or an integer, e.g. \"512\""),
        Ty::Enum(values) => match v.as_str() {
            Some(s) if values().contains(&s) => {}
            Some(s) => err(at.to_string(), format!("`{s}` is not one of {}", values().join(", "))),
            None => expected(&format!("one of {}", values().join(", "))),
        },
        Ty::Strs | Ty::Enums(_) => match v.as_array() {
            Some(items) => {
                let item = if let Ty::Enums(values) = ty { Ty::Enum(values) } else { Ty::Str };
                for (i, x) in items.iter().enumerate() {
                    value(x, item, &format!("{at}[{i}]"), err);
                }
            }
            None => expected("an array of strings"),
        },
        Ty::StrMap => match v.as_object() {
            Some(map) => {
                for (k, x) in map {
                    value(x, Ty::Str, &format!("{at}.{k}"), err);
                }
            }
            None => expected("an object of strings"),
        },
        Ty::Object(shape) => match v.as_object() {
            Some(obj) => members(obj, shape, at, true, err),
            None => expected("an object"),
        },
        Ty::Objects(shape) => match v.as_array() {
            Some(items) => {
                for (i, x) in items.iter().enumerate() {
                    match x.as_object() {
                        // Containers' own unknown keys are `taskdef::check`'s, with a suggestion.
                        Some(obj) => members(obj, shape, &format!("{at}[{i}]"), !std::ptr::eq(shape, CONTAINER), err),
                        None => value(x, Ty::Object(shape), &format!("{at}[{i}]"), err),
                    }
                }
            }
            None => expected("an array of objects"),
        },
        _ => {}
    }
}

/// Fargate's task sizes: CPU units → the memory (MiB) it accepts, from the ECS Developer Guide
/// ("Task CPU and memory", Linux).
fn fargate_memory(cpu: u64) -> Option<Vec<u64>> {
    let range = |from: u64, to: u64, step: u64| (from..=to).step_by(step as usize).collect::<Vec<_>>();
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => range(1024, 4096, 1024),
        1024 => range(2048, 8192, 1024),
        2048 => range(4096, 16384, 1024),
        4096 => range(8192, 30720, 1024),
        8192 => range(16384, 61440, 4096),
        16384 => range(32768, 122880, 8192),
        _ => return None,
    })
}

/// A task that requires Fargate: `awsvpc` networking, and task-level CPU and memory of a pair
/// Fargate offers.
fn fargate(td: &Value, err: &mut impl FnMut(String, String)) {
    let fargate = td["requiresCompatibilities"].as_array().is_some_and(|l| l.iter().any(|c| c == "FARGATE"));
    if !fargate {
        return;
    }
    if td["networkMode"].as_str().is_some_and(|m| m != "awsvpc") {
        err("networkMode".into(), "a Fargate task needs `awsvpc`".into());
    }
    // Units, or ECS's other spelling: "0.5 vCPU", "2 GB" (1024 units each).
    let units = |key: &str| match &td[key] {
        Value::String(s) => {
            let s = s.trim();
            let scaled = s.strip_suffix("vCPU").or_else(|| s.strip_suffix("GB"));
            match scaled {
                Some(n) => n.trim().parse::<f64>().ok().map(|n| (n * 1024.0).round() as u64),
                None => s.parse::<u64>().ok(),
            }
        }
        other => other.as_u64(),
    };
    match (units("cpu"), units("memory")) {
        (Some(cpu), Some(memory)) => match fargate_memory(cpu) {
            None => {
                err("cpu".into(), format!("{cpu} is not a Fargate CPU size: 256, 512, 1024, 2048, 4096, 8192 or 16384"))
            }
            Some(sizes) if !sizes.contains(&memory) => err(
                "memory".into(),
                format!(
                    "{memory} MiB does not go with {cpu} CPU units on Fargate: {}",
                    sizes.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                ),
            ),
            Some(_) => {}
        },
        _ => err(
            "cpu".into(),
            "a Fargate task needs task-level `cpu` and `memory` in units, e.g. \"512\" and \"1024\"".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn errors(td: Value) -> Vec<String> {
        let mut out = Vec::new();
        check(&td, &mut |at, msg| out.push(format!("{at}: {msg}")));
        out
    }

    fn fargate_task() -> Value {
        json!({
            "family": "app", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "cpu": "512", "memory": "1024",
            "containerDefinitions": [{ "name": "api", "image": "api:1", "portMappings": [{ "containerPort": 8000 }] }]
        })
    }

    #[test]
    fn a_well_formed_fargate_task_passes() {
        assert_eq!(errors(fargate_task()), Vec::<String>::new());
    }

    #[test]
    fn types_enums_and_required_members_are_checked_where_they_are() {
        let mut td = fargate_task();
        td["cpu"] = json!({ "units": 512 });
        td["networkMode"] = json!("awsvpcx");
        td["containerDefinitions"][0]["portMappings"][0]["containerPort"] = json!("8000");
        td["containerDefinitions"][0]["portMappings"][0]["protocl"] = json!("tcp");
        td["containerDefinitions"][0]["logConfiguration"] = json!({ "options": { "awslogs-group": 7 } });
        let found = errors(td);
        let expect = [
            "cpu: expected a string or an integer, e.g. \"512\", found an object",
            "networkMode: `awsvpcx` is not one of awsvpc, bridge, host, none",
            "containerDefinitions[0].logConfiguration.logDriver: is required by RegisterTaskDefinition",
            "containerDefinitions[0].logConfiguration.options.awslogs-group: expected a string, found a number",
            "containerDefinitions[0].portMappings[0].containerPort: expected an integer, found a string",
            "containerDefinitions[0].portMappings[0].protocl: is not a member containrlab maps here; expected one of: containerPort, hostPort, protocol, name",
        ];
        for e in expect {
            assert!(found.iter().any(|f| f == e), "{e}\nnot in {found:#?}");
        }
    }

    #[test]
    fn fargate_takes_only_its_cpu_and_memory_pairs() {
        let mut td = fargate_task();
        td["cpu"] = json!("0.5 vCPU");
        td["memory"] = json!("2 GB");
        assert_eq!(errors(td.clone()), Vec::<String>::new());
        td["cpu"] = json!("512");
        td["memory"] = json!("512");
        assert_eq!(
            errors(td.clone()),
            vec!["memory: 512 MiB does not go with 512 CPU units on Fargate: 1024, 2048, 3072, 4096"]
        );
        td["cpu"] = json!("300");
        assert_eq!(
            errors(td.clone()),
            vec!["cpu: 300 is not a Fargate CPU size: 256, 512, 1024, 2048, 4096, 8192 or 16384"]
        );
        td.as_object_mut().expect("task").remove("cpu");
        assert_eq!(
            errors(td),
            vec!["cpu: a Fargate task needs task-level `cpu` and `memory` in units, e.g. \"512\" and \"1024\""]
        );
    }
}
