//! Task definitions compared as normalised JSON, difference by difference.
//!
//! AWS fills defaults (`essential: true`, container `cpu: 0`, `hostPort` = `containerPort` under
//! awsvpc, `protocol: tcp`, health-check interval/timeout/retries), returns empty lists for what was
//! never set, keeps the order of environment and secrets as sent but not reliably, and accepts
//! task CPU/memory in units ("0.5 vCPU", "1 GB") that it reports as numbers ("512", "1024").
//! `normalize` removes all of that, so equal definitions compare equal; `changes` then reports each
//! differing leaf by a readable path such as `containerDefinitions[api].image`.

use serde_json::{Map, Value};

use super::{FieldChange, Shown};

/// The comparable form of a task definition (desired, resolved; or observed).
pub fn normalize(td: &Value) -> Value {
    let mut td = strip_empty(td.clone());
    let Some(obj) = td.as_object_mut() else { return td };
    let network_mode = obj.get("networkMode").and_then(Value::as_str).unwrap_or("bridge").to_string();
    obj.insert("networkMode".into(), Value::from(network_mode.as_str()));
    for (key, unit) in [("cpu", Unit::Cpu), ("memory", Unit::Memory)] {
        if let Some(v) = obj.get(key).and_then(|v| to_units(v, unit)) {
            obj.insert(key.into(), Value::from(v));
        }
    }
    sort_strings(obj, "requiresCompatibilities");
    sort_by(obj, "volumes", "name");
    if let Some(Value::Array(containers)) = obj.get_mut("containerDefinitions") {
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            normalize_container(c, &network_mode);
        }
    }
    sort_by(obj, "containerDefinitions", "name");
    td
}

fn normalize_container(c: &mut Map<String, Value>, network_mode: &str) {
    c.entry("essential").or_insert(Value::Bool(true));
    if c.get("cpu").and_then(Value::as_i64) == Some(0) {
        c.remove("cpu");
    }
    if let Some(Value::Array(ports)) = c.get_mut("portMappings") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            p.entry("protocol").or_insert(Value::from("tcp"));
            let container_port = p.get("containerPort").cloned().unwrap_or(Value::Null);
            let default_host = if network_mode == "awsvpc" { container_port } else { Value::from(0) };
            p.entry("hostPort").or_insert(default_host);
        }
    }
    sort_by(c, "portMappings", "containerPort");
    sort_by(c, "environment", "name");
    sort_by(c, "secrets", "name");
    if let Some(Value::Array(mounts)) = c.get_mut("mountPoints") {
        for m in mounts.iter_mut().filter_map(Value::as_object_mut) {
            m.entry("readOnly").or_insert(Value::Bool(false));
        }
    }
    sort_by(c, "mountPoints", "containerPath");
    if let Some(Value::Object(h)) = c.get_mut("healthCheck") {
        h.entry("interval").or_insert(Value::from(30));
        h.entry("timeout").or_insert(Value::from(5));
        h.entry("retries").or_insert(Value::from(3));
    }
}

/// Nulls, empty lists and empty objects are "not set" (AWS returns `[]` for what was never sent).
fn strip_empty(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, strip_empty(v))).filter(|(_, v)| !is_empty(v)).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(strip_empty).collect()),
        other => other,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Cpu,
    Memory,
}

/// "512", 512, "0.5 vCPU", "1 GB" → "512" / "1024" (CPU units, MiB), as AWS reports them.
fn to_units(v: &Value, unit: Unit) -> Option<String> {
    let text = match v {
        Value::Number(n) => return Some(n.to_string()),
        Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => return None,
    };
    let (number, suffix) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (text[..i].trim(), text[i..].trim()),
        None => (text.as_str(), ""),
    };
    let n: f64 = number.parse().ok()?;
    let factor = match (unit, suffix) {
        (_, "") => 1.0,
        (Unit::Cpu, "vcpu") => 1024.0,
        (Unit::Memory, "gb") => 1024.0,
        (Unit::Memory, "mb") => 1.0,
        _ => return Some(text),
    };
    Some(format!("{}", (n * factor).round() as i64))
}

fn sort_strings(obj: &mut Map<String, Value>, key: &str) {
    if let Some(Value::Array(items)) = obj.get_mut(key) {
        items.sort_by_key(Value::to_string);
    }
}

fn sort_by(obj: &mut Map<String, Value>, key: &str, field: &str) {
    if let Some(Value::Array(items)) = obj.get_mut(key) {
        items.sort_by(|a, b| a.get(field).map(Value::to_string).cmp(&b.get(field).map(Value::to_string)));
    }
}

/// The differences between two normalised definitions, one per differing leaf. Lists of objects
/// that carry a key (`name`, `containerPort`, `containerPath`) are matched by it, so a changed
/// image is one line, not a changed list.
pub fn changes(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk("", Some(before), Some(after), &mut out);
    out
}

fn walk(path: &str, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                walk(&join(path, k), b.get(k), a.get(k), out);
            }
        }
        (Some(Value::Array(b)), Some(Value::Array(a))) if list_key(b, a).is_some() => {
            let key = list_key(b, a).unwrap_or_default();
            let id = |v: &Value| v.get(key).map(|k| k.as_str().map(str::to_string).unwrap_or_else(|| k.to_string()));
            let mut ids: Vec<String> = b.iter().chain(a.iter()).filter_map(id).collect();
            ids.sort();
            ids.dedup();
            for i in ids {
                let find = |list: &'_ [Value]| list.iter().find(|v| id(v).as_deref() == Some(i.as_str())).cloned();
                walk(&format!("{path}[{i}]"), find(b).as_ref(), find(a).as_ref(), out);
            }
        }
        (b, a) if b != a => out.push(FieldChange {
            member: false,
            path: path.to_string(),
            before: b.map(|v| Shown::Value(v.clone())),
            after: a.map(|v| Shown::Value(v.clone())),
        }),
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The key that identifies the members of both lists, when all members carry one.
fn list_key(b: &[Value], a: &[Value]) -> Option<&'static str> {
    ["name", "containerPort", "containerPath", "sourceVolume"]
        .into_iter()
        .find(|k| b.iter().chain(a).all(|v| v.get(*k).is_some()) && !(b.is_empty() && a.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn desired() -> Value {
        json!({
            "family": "app", "networkMode": "awsvpc", "cpu": "0.5 vCPU", "memory": "1 GB",
            "requiresCompatibilities": ["FARGATE"],
            "containerDefinitions": [{
                "name": "api", "image": "repo:v1",
                "portMappings": [{"containerPort": 8000}],
                "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
                "secrets": [{"name": "S2", "valueFrom": "arn:2"}, {"name": "S1", "valueFrom": "arn:1"}],
                "healthCheck": {"command": ["CMD", "true"]}
            }]
        })
    }

    /// What DescribeTaskDefinition returns for `desired()`: defaults filled, units converted,
    /// lists reordered, empty lists present.
    fn as_aws_returns_it() -> Value {
        json!({
            "family": "app", "networkMode": "awsvpc", "cpu": "512", "memory": "1024",
            "requiresCompatibilities": ["FARGATE"], "volumes": [], "placementConstraints": [],
            "containerDefinitions": [{
                "name": "api", "image": "repo:v1", "cpu": 0, "essential": true,
                "portMappings": [{"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"}],
                "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "secrets": [{"name": "S1", "valueFrom": "arn:1"}, {"name": "S2", "valueFrom": "arn:2"}],
                "mountPoints": [], "volumesFrom": [],
                "healthCheck": {"command": ["CMD", "true"], "interval": 30, "timeout": 5, "retries": 3}
            }]
        })
    }

    #[test]
    fn aws_defaults_order_and_units_normalise_away() {
        assert_eq!(normalize(&desired()), normalize(&as_aws_returns_it()));
        assert!(changes(&normalize(&as_aws_returns_it()), &normalize(&desired())).is_empty());
    }

    #[test]
    fn units_convert_and_plain_numbers_stay() {
        assert_eq!(to_units(&json!("0.25 vCPU"), Unit::Cpu).as_deref(), Some("256"));
        assert_eq!(to_units(&json!("2GB"), Unit::Memory).as_deref(), Some("2048"));
        assert_eq!(to_units(&json!(512), Unit::Memory).as_deref(), Some("512"));
        assert_eq!(to_units(&json!("1024"), Unit::Cpu).as_deref(), Some("1024"));
    }

    #[test]
    fn bridge_mode_ports_default_to_a_dynamic_host_port() {
        let td =
            json!({"containerDefinitions": [{"name": "r", "image": "i", "portMappings": [{"containerPort": 8080}]}]});
        assert_eq!(normalize(&td)["containerDefinitions"][0]["portMappings"][0]["hostPort"], 0);
        assert_eq!(normalize(&td)["networkMode"], "bridge");
    }

    #[test]
    fn a_new_image_is_one_change_named_by_container() {
        let mut new = desired();
        new["containerDefinitions"][0]["image"] = json!("repo:v2");
        let c = changes(&normalize(&as_aws_returns_it()), &normalize(&new));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].path, "containerDefinitions[api].image");
        assert_eq!(c[0].before, Some(Shown::Value(json!("repo:v1"))));
        assert_eq!(c[0].after, Some(Shown::Value(json!("repo:v2"))));
    }

    #[test]
    fn environment_changes_are_per_variable() {
        let mut new = desired();
        new["containerDefinitions"][0]["environment"] =
            json!([{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]);
        let c = changes(&normalize(&desired()), &normalize(&new));
        let paths: Vec<_> = c.iter().map(|c| (c.path.as_str(), c.before.is_some(), c.after.is_some())).collect();
        assert_eq!(
            paths,
            vec![
                ("containerDefinitions[api].environment[B]", true, false),
                ("containerDefinitions[api].environment[C]", false, true)
            ]
        );
    }
}
