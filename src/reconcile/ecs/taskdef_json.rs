//! Task definitions between the file's JSON (the `RegisterTaskDefinition` shape) and the SDK types,
//! both ways, for exactly the keys `config::taskdef` accepts (its `TASK_KEYS` and `CONTAINER_KEYS`).
//!
//! Invariant: `to_json(from_json(x))` keeps every supported key of `x`, so an observed definition
//! compares equal to the file that registered it after `diff::taskdef::normalize`.

use anyhow::{Context, Result};
use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;
use aws_sdk_ecs::types::{
    Compatibility, ContainerCondition, ContainerDefinition, ContainerDependency, CpuArchitecture, EphemeralStorage,
    HealthCheck, HostVolumeProperties, KeyValuePair, LogConfiguration, LogDriver, MountPoint, NetworkMode, OsFamily,
    PortMapping, RuntimePlatform, Secret, TaskDefinition, TransportProtocol, Volume, VolumeFrom,
};
use serde_json::{json, Map, Value};

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(|x| match x {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}
fn i(v: &Value, k: &str) -> Option<i32> {
    v.get(k).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}
fn b(v: &Value, k: &str) -> Option<bool> {
    v.get(k).and_then(Value::as_bool)
}
fn strs(v: &Value, k: &str) -> Option<Vec<String>> {
    v.get(k).and_then(Value::as_array).map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
}
fn list<'a>(v: &'a Value, k: &str) -> impl Iterator<Item = &'a Value> {
    v.get(k).and_then(Value::as_array).into_iter().flatten()
}

/// Fills a `RegisterTaskDefinition` request from the resolved JSON.
pub fn register_request(
    mut req: RegisterTaskDefinitionFluentBuilder,
    td: &Value,
) -> Result<RegisterTaskDefinitionFluentBuilder> {
    req = req
        .set_family(s(td, "family"))
        .set_task_role_arn(s(td, "taskRoleArn"))
        .set_execution_role_arn(s(td, "executionRoleArn"))
        .set_network_mode(s(td, "networkMode").map(|m| NetworkMode::from(m.as_str())))
        .set_cpu(s(td, "cpu"))
        .set_memory(s(td, "memory"))
        .set_requires_compatibilities(
            strs(td, "requiresCompatibilities").map(|l| l.iter().map(|c| Compatibility::from(c.as_str())).collect()),
        );
    if let Some(p) = td.get("runtimePlatform") {
        req = req.runtime_platform(
            RuntimePlatform::builder()
                .set_cpu_architecture(s(p, "cpuArchitecture").map(|c| CpuArchitecture::from(c.as_str())))
                .set_operating_system_family(s(p, "operatingSystemFamily").map(|o| OsFamily::from(o.as_str())))
                .build(),
        );
    }
    if let Some(size) = td.get("ephemeralStorage").and_then(|e| i(e, "sizeInGiB")) {
        req = req.ephemeral_storage(EphemeralStorage::builder().size_in_gib(size).build());
    }
    for v in list(td, "volumes") {
        let host = v.get("host").map(|h| HostVolumeProperties::builder().set_source_path(s(h, "sourcePath")).build());
        req = req.volumes(Volume::builder().set_name(s(v, "name")).set_host(host).build());
    }
    for c in list(td, "containerDefinitions") {
        req = req.container_definitions(container(c)?);
    }
    Ok(req)
}

fn container(c: &Value) -> Result<ContainerDefinition> {
    let name = s(c, "name").unwrap_or_default();
    let ctx = || format!("container `{name}`");
    let mut d = ContainerDefinition::builder()
        .set_name(s(c, "name"))
        .set_image(s(c, "image"))
        .set_cpu(i(c, "cpu"))
        .set_memory(i(c, "memory"))
        .set_memory_reservation(i(c, "memoryReservation"))
        .set_essential(b(c, "essential"))
        .set_entry_point(strs(c, "entryPoint"))
        .set_command(strs(c, "command"))
        .set_start_timeout(i(c, "startTimeout"))
        .set_stop_timeout(i(c, "stopTimeout"))
        .set_user(s(c, "user"))
        .set_working_directory(s(c, "workingDirectory"))
        .set_privileged(b(c, "privileged"))
        .set_readonly_root_filesystem(b(c, "readonlyRootFilesystem"));
    for p in list(c, "portMappings") {
        d = d.port_mappings(
            PortMapping::builder()
                .set_container_port(i(p, "containerPort"))
                .set_host_port(i(p, "hostPort"))
                .set_protocol(s(p, "protocol").map(|x| TransportProtocol::from(x.as_str())))
                .set_name(s(p, "name"))
                .build(),
        );
    }
    for e in list(c, "environment") {
        d = d.environment(KeyValuePair::builder().set_name(s(e, "name")).set_value(s(e, "value")).build());
    }
    for e in list(c, "secrets") {
        d = d.secrets(
            Secret::builder().set_name(s(e, "name")).set_value_from(s(e, "valueFrom")).build().with_context(ctx)?,
        );
    }
    for m in list(c, "mountPoints") {
        d = d.mount_points(
            MountPoint::builder()
                .set_source_volume(s(m, "sourceVolume"))
                .set_container_path(s(m, "containerPath"))
                .set_read_only(b(m, "readOnly"))
                .build(),
        );
    }
    for m in list(c, "volumesFrom") {
        d = d.volumes_from(
            VolumeFrom::builder().set_source_container(s(m, "sourceContainer")).set_read_only(b(m, "readOnly")).build(),
        );
    }
    for dep in list(c, "dependsOn") {
        d = d.depends_on(
            ContainerDependency::builder()
                .set_container_name(s(dep, "containerName"))
                .set_condition(s(dep, "condition").map(|x| ContainerCondition::from(x.as_str())))
                .build()
                .with_context(ctx)?,
        );
    }
    if let Some(labels) = c.get("dockerLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            d = d.docker_labels(k, v.as_str().unwrap_or_default());
        }
    }
    if let Some(l) = c.get("logConfiguration") {
        let options = l
            .get("options")
            .and_then(Value::as_object)
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect());
        d = d.log_configuration(
            LogConfiguration::builder()
                .set_log_driver(s(l, "logDriver").map(|x| LogDriver::from(x.as_str())))
                .set_options(options)
                .build()
                .with_context(ctx)?,
        );
    }
    if let Some(h) = c.get("healthCheck") {
        d = d.health_check(
            HealthCheck::builder()
                .set_command(strs(h, "command"))
                .set_interval(i(h, "interval"))
                .set_timeout(i(h, "timeout"))
                .set_retries(i(h, "retries"))
                .set_start_period(i(h, "startPeriod"))
                .build()
                .with_context(ctx)?,
        );
    }
    Ok(d.build())
}

/// An observed task definition in the file's JSON shape (supported keys only).
pub fn to_json(td: &TaskDefinition) -> Value {
    let mut m = Map::new();
    put(&mut m, "family", td.family().map(Value::from));
    put(&mut m, "taskRoleArn", td.task_role_arn().map(Value::from));
    put(&mut m, "executionRoleArn", td.execution_role_arn().map(Value::from));
    put(&mut m, "networkMode", td.network_mode().map(|n| Value::from(n.as_str())));
    put(&mut m, "cpu", td.cpu().map(Value::from));
    put(&mut m, "memory", td.memory().map(Value::from));
    let compat: Vec<Value> = td.requires_compatibilities().iter().map(|c| Value::from(c.as_str())).collect();
    put(&mut m, "requiresCompatibilities", Some(Value::Array(compat)));
    if let Some(p) = td.runtime_platform() {
        let mut pm = Map::new();
        put(&mut pm, "cpuArchitecture", p.cpu_architecture().map(|c| Value::from(c.as_str())));
        put(&mut pm, "operatingSystemFamily", p.operating_system_family().map(|o| Value::from(o.as_str())));
        m.insert("runtimePlatform".into(), Value::Object(pm));
    }
    if let Some(e) = td.ephemeral_storage() {
        m.insert("ephemeralStorage".into(), json!({ "sizeInGiB": e.size_in_gib() }));
    }
    let volumes: Vec<Value> = td
        .volumes()
        .iter()
        .map(|v| {
            let mut vm = Map::new();
            put(&mut vm, "name", v.name().map(Value::from));
            if let Some(h) = v.host() {
                vm.insert("host".into(), json!({ "sourcePath": h.source_path() }));
            }
            Value::Object(vm)
        })
        .collect();
    put(&mut m, "volumes", Some(Value::Array(volumes)));
    let containers: Vec<Value> = td.container_definitions().iter().map(container_json).collect();
    m.insert("containerDefinitions".into(), Value::Array(containers));
    Value::Object(m)
}

fn container_json(c: &ContainerDefinition) -> Value {
    let mut m = Map::new();
    put(&mut m, "name", c.name().map(Value::from));
    put(&mut m, "image", c.image().map(Value::from));
    m.insert("cpu".into(), Value::from(c.cpu()));
    put(&mut m, "memory", c.memory().map(Value::from));
    put(&mut m, "memoryReservation", c.memory_reservation().map(Value::from));
    put(&mut m, "essential", c.essential().map(Value::from));
    put(&mut m, "entryPoint", Some(Value::from(c.entry_point().to_vec())));
    put(&mut m, "command", Some(Value::from(c.command().to_vec())));
    put(&mut m, "startTimeout", c.start_timeout().map(Value::from));
    put(&mut m, "stopTimeout", c.stop_timeout().map(Value::from));
    put(&mut m, "user", c.user().map(Value::from));
    put(&mut m, "workingDirectory", c.working_directory().map(Value::from));
    put(&mut m, "privileged", c.privileged().map(Value::from));
    put(&mut m, "readonlyRootFilesystem", c.readonly_root_filesystem().map(Value::from));
    let ports: Vec<Value> = c
        .port_mappings()
        .iter()
        .map(|p| {
            let mut pm = Map::new();
            put(&mut pm, "containerPort", p.container_port().map(Value::from));
            put(&mut pm, "hostPort", p.host_port().map(Value::from));
            put(&mut pm, "protocol", p.protocol().map(|x| Value::from(x.as_str())));
            put(&mut pm, "name", p.name().map(Value::from));
            Value::Object(pm)
        })
        .collect();
    m.insert("portMappings".into(), Value::Array(ports));
    let env: Vec<Value> = c.environment().iter().map(|e| json!({ "name": e.name(), "value": e.value() })).collect();
    m.insert("environment".into(), Value::Array(env));
    let secrets: Vec<Value> =
        c.secrets().iter().map(|e| json!({ "name": e.name(), "valueFrom": e.value_from() })).collect();
    m.insert("secrets".into(), Value::Array(secrets));
    let mounts: Vec<Value> = c
        .mount_points()
        .iter()
        .map(|p| json!({ "sourceVolume": p.source_volume(), "containerPath": p.container_path(), "readOnly": p.read_only() }))
        .collect();
    m.insert("mountPoints".into(), Value::Array(mounts));
    let from: Vec<Value> = c
        .volumes_from()
        .iter()
        .map(|v| json!({ "sourceContainer": v.source_container(), "readOnly": v.read_only() }))
        .collect();
    m.insert("volumesFrom".into(), Value::Array(from));
    let deps: Vec<Value> = c
        .depends_on()
        .iter()
        .map(|d| json!({ "containerName": d.container_name(), "condition": d.condition().as_str() }))
        .collect();
    m.insert("dependsOn".into(), Value::Array(deps));
    if let Some(labels) = c.docker_labels() {
        m.insert("dockerLabels".into(), json!(labels));
    }
    if let Some(l) = c.log_configuration() {
        m.insert("logConfiguration".into(), json!({ "logDriver": l.log_driver().as_str(), "options": l.options() }));
    }
    if let Some(h) = c.health_check() {
        let mut hm = Map::new();
        hm.insert("command".into(), Value::from(h.command().to_vec()));
        put(&mut hm, "interval", h.interval().map(Value::from));
        put(&mut hm, "timeout", h.timeout().map(Value::from));
        put(&mut hm, "retries", h.retries().map(Value::from));
        put(&mut hm, "startPeriod", h.start_period().map(Value::from));
        m.insert("healthCheck".into(), Value::Object(hm));
    }
    Value::Object(m)
}

fn put(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.into(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::taskdef::normalize;

    /// Every key of the checked-in task definitions survives JSON → SDK → JSON.
    #[test]
    fn checked_in_definitions_round_trip_through_the_sdk_types() {
        for file in ["task-definitions/containrlab-task.json", "task-definitions/containrlab-runner.json"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
            let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let client = aws_sdk_ecs::Client::from_conf(
                aws_sdk_ecs::Config::builder().behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest()).build(),
            );
            let input = register_request(client.register_task_definition(), &json).unwrap().as_input().clone();
            let td = TaskDefinition::builder()
                .set_family(input.get_family().clone())
                .set_task_role_arn(input.get_task_role_arn().clone())
                .set_execution_role_arn(input.get_execution_role_arn().clone())
                .set_network_mode(input.get_network_mode().clone())
                .set_container_definitions(input.get_container_definitions().clone())
                .set_volumes(input.get_volumes().clone())
                .set_requires_compatibilities(input.get_requires_compatibilities().clone())
                .set_cpu(input.get_cpu().clone())
                .set_memory(input.get_memory().clone())
                .set_runtime_platform(input.get_runtime_platform().clone())
                .build();
            assert_eq!(normalize(&to_json(&td)), normalize(&json), "{file}");
        }
    }
}
