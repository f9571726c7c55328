//! Desired compute: ECS services with their task definitions, the EC2 capacity of the runner
//! cluster (launch template, Auto Scaling group, capacity provider) and the alarms.
//!
//! Invariant: references are by name (clusters, subnets, security groups, target groups, roles);
//! task-definition JSON keeps its placeholders until plan time, when the account, the region and
//! the image tag are known (`resolve_task_definition`).

use std::collections::BTreeMap;

use serde_json::Value;

/// An ECS service and the task definition it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub cluster: String,
    /// `FARGATE` or `EC2`, as the API spells it.
    pub launch_type: String,
    pub desired_count: i32,
    /// awsvpc network configuration (Fargate): subnet and security-group names.
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
    pub load_balancers: Vec<ServiceLoadBalancer>,
    pub circuit_breaker_rollback: bool,
    /// ECS Exec on (`enableExecuteCommand`; the task role gets `EXEC_POLICY`).
    pub exec: bool,
    /// Alarms that roll a deployment back (ECS deployment alarms), by name.
    pub rollback_alarms: Vec<String>,
    pub task_definition: TaskDefinition,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServiceLoadBalancer {
    pub target_group: String,
    pub container: String,
    pub port: i32,
}

/// A task definition as written, placeholders unresolved.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDefinition {
    pub family: String,
    pub json: Value,
    /// Revisions kept registered besides the newest (for rollback); older ones are deregistered.
    pub keep_revisions: u32,
}

/// What placeholders resolve to at plan time.
pub struct Placeholders<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub image_tag: &'a str,
}

pub const IMAGE_TAG: &str = "${image_tag}";

/// Resolves every placeholder of a task definition (checked by `config::taskdef`, so none is unknown).
pub fn resolve_task_definition(json: &Value, p: &Placeholders<'_>) -> Value {
    match json {
        Value::String(s) => Value::String(resolve_str(s, p)),
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve_task_definition(v, p)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), resolve_task_definition(v, p))).collect())
        }
        other => other.clone(),
    }
}

/// The inline policy `exec: true` adds to the service's task role. ECS Exec's agent opens its
/// channels to Session Manager with the task role (AWS, "Monitor Amazon ECS containers with ECS
/// Exec", IAM permissions required); the four actions have no resource type, so `*`.
pub const EXEC_POLICY: &str = "containrlab-ecs-exec";
pub const EXEC_ACTIONS: [&str; 4] = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
];

pub fn exec_policy() -> Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": EXEC_ACTIONS, "Resource": "*" }]
    })
}

/// The stack's role a task definition's `taskRoleArn` names (`${role:NAME}`).
pub fn task_role_of(definition: &Value) -> Option<&str> {
    definition["taskRoleArn"].as_str()?.strip_prefix("${role:")?.strip_suffix('}')
}

/// The parameter a container secret's `valueFrom` names, as the file writes it
/// (`${parameter:/containrlab/KEY}`) or resolved (`arn:aws:ssm:…:parameter/containrlab/KEY`).
pub fn parameter_of(value_from: &str) -> Option<&str> {
    match value_from.strip_prefix("${parameter:") {
        Some(rest) => rest.strip_suffix('}'),
        None => value_from.split_once(":parameter").map(|(_, name)| name),
    }
}

fn resolve_str(s: &str, p: &Placeholders<'_>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let (account, region) = (p.account, p.region);
        let value = match after[..end].split_once(':') {
            None => match &after[..end] {
                "account" => account.to_string(),
                "region" => region.to_string(),
                "image_tag" => p.image_tag.to_string(),
                other => format!("${{{other}}}"),
            },
            Some(("repository", name)) => format!("{account}.dkr.ecr.{region}.amazonaws.com/{name}"),
            Some(("role", name)) => {
                format!("arn:aws:iam::{account}:role{}{name}", super::iam::ROLE_PATH)
            }
            Some(("parameter", name)) => {
                format!("arn:aws:ssm:{region}:{account}:parameter/{}", name.trim_start_matches('/'))
            }
            Some((kind, name)) => format!("${{{kind}:{name}}}"),
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The image tag a running definition uses, read back through the template: the first
/// container image — or environment value, which `deploy` leaves as a tag when it pins the images
/// to digests — written as `PREFIX${image_tag}SUFFIX` whose running value has that prefix and suffix.
/// Lets `up` without `--image-tag` keep what CI deployed instead of rolling it back.
pub fn running_image_tag(template: &Value, running: &Value, p: &Placeholders<'_>) -> Option<String> {
    let containers = template.get("containerDefinitions")?.as_array()?;
    for c in containers {
        let Some(name) = c.get("name").and_then(Value::as_str) else { continue };
        let Some(r) = running_container(running, name) else { continue };
        let env = |v: &Value, key: &str| {
            v.get("environment")
                .and_then(Value::as_array)?
                .iter()
                .find(|e| e.get("name").and_then(Value::as_str) == Some(key))?
                .get("value")?
                .as_str()
                .map(str::to_string)
        };
        let mut pairs = vec![(
            c.get("image").and_then(Value::as_str).map(str::to_string),
            r.get("image").and_then(Value::as_str).map(str::to_string),
        )];
        for e in c.get("environment").and_then(Value::as_array).into_iter().flatten() {
            let key = e.get("name").and_then(Value::as_str).unwrap_or_default();
            pairs.push((e.get("value").and_then(Value::as_str).map(str::to_string), env(r, key)));
        }
        for (template_value, running_value) in pairs {
            let (Some(t), Some(running_value)) = (template_value, running_value) else { continue };
            let Some((prefix, suffix)) = t.split_once(IMAGE_TAG) else { continue };
            let (prefix, suffix) = (resolve_str(prefix, p), resolve_str(suffix, p));
            let tag = running_value.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix(&suffix));
            if let Some(tag) = tag.filter(|t| !t.is_empty() && !t.contains(['/', ':', '@'])) {
                return Some(tag.to_string());
            }
        }
    }
    None
}

fn running_container<'a>(running: &'a Value, name: &str) -> Option<&'a Value> {
    running
        .get("containerDefinitions")?
        .as_array()?
        .iter()
        .find(|r| r.get("name").and_then(Value::as_str) == Some(name))
}

/// Without `--image-tag`, `up` keeps the images `deploy` pinned: a container whose template image
/// is `REPOSITORY:${image_tag}` and that runs `REPOSITORY@sha256:…` keeps that image in `resolved`.
pub fn keep_pinned_images(resolved: &mut Value, template: &Value, running: &Value, p: &Placeholders<'_>) {
    let templates = template.get("containerDefinitions").and_then(Value::as_array).cloned().unwrap_or_default();
    let Some(containers) = resolved.get_mut("containerDefinitions").and_then(Value::as_array_mut) else { return };
    for (c, t) in containers.iter_mut().zip(&templates) {
        let (Some(name), Some(image)) = (t.get("name").and_then(Value::as_str), t.get("image").and_then(Value::as_str))
        else {
            continue;
        };
        let Some(repository) = image.strip_suffix(&format!(":{IMAGE_TAG}")).map(|r| resolve_str(r, p)) else {
            continue;
        };
        let Some(run) = running_container(running, name).and_then(|r| r.get("image")).and_then(Value::as_str) else {
            continue;
        };
        if run.strip_prefix(&repository).and_then(|d| d.strip_prefix("@sha256:")).is_some_and(|h| !h.is_empty()) {
            c["image"] = Value::String(run.to_string());
        }
    }
}

/// The EC2 capacity of a cluster: launch template → Auto Scaling group → capacity provider, all
/// named after the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Ec2Capacity {
    pub cluster: String,
    pub instance_type: String,
    /// Public SSM parameter holding the AMI id; read at plan time.
    pub ami_parameter: String,
    pub instance_count: i32,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// The role whose instance profile (same name) the instances use.
    pub instance_role: String,
    pub root_volume_gib: i32,
    pub user_data: String,
}

/// The user data that joins an instance to `cluster`, then runs the stack file's extra lines.
pub fn user_data(cluster: &str, extra: Option<&str>) -> String {
    let mut s = format!("#!/bin/bash\nset -euo pipefail\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n");
    if let Some(extra) = extra.map(str::trim).filter(|e| !e.is_empty()) {
        s.push_str(extra);
        s.push('\n');
    }
    s
}

/// A CloudWatch metric alarm; dimension values already resolved to names.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub name: String,
    pub description: Option<String>,
    pub namespace: String,
    pub metric: String,
    pub statistic: String,
    pub period_seconds: i32,
    pub evaluation_periods: i32,
    pub threshold: f64,
    pub comparison: String,
    pub dimensions: BTreeMap<String, String>,
    /// The dimensions whose value is a resource's CloudWatch id (`id_placeholder`), by name.
    pub dimension_ids: BTreeMap<String, crate::model::Address>,
    /// `missing` when the file says nothing (AWS's default).
    pub treat_missing_data: String,
    /// What the dimensions name, for ordering (the Auto Scaling group, the service), and the
    /// topic it notifies.
    pub refers_to: Vec<crate::model::Address>,
    /// The SNS topic (by name) notified when the alarm enters ALARM and when it is OK again.
    pub notify: Option<String>,
}

/// The resource a dimension placeholder names whose CloudWatch value is an id, not a name:
/// `${load_balancer}` (the stack's one load balancer, `load_balancer`), `${target_group:NAME}`,
/// `${nat_gateway:SUBNET}` (a NAT gateway is named after its public subnet).
pub fn id_placeholder(value: &str, load_balancer: Option<&str>) -> Option<crate::model::Address> {
    use crate::model::{Address, Kind};
    let inner = value.strip_prefix("${")?.strip_suffix('}')?;
    match inner.split_once(':') {
        None if inner == "load_balancer" => Some(Address::new(Kind::LoadBalancer, load_balancer?)),
        Some(("target_group", name)) => Some(Address::new(Kind::TargetGroup, name)),
        Some(("nat_gateway", name)) => Some(Address::new(Kind::NatGateway, name)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const P: Placeholders<'static> = Placeholders { account: "123456789012", region: "eu-west-1", image_tag: "v7" };

    #[test]
    fn placeholders_resolve_to_uris_and_arns() {
        let td = json!({
            "executionRoleArn": "${role:ecsTaskExecutionRole}",
            "containerDefinitions": [{
                "image": "${repository:containrlab-api}:${image_tag}",
                "secrets": [{"valueFrom": "${parameter:/containrlab/KEY}"}],
                "logConfiguration": {"options": {"awslogs-region": "${region}"}}
            }]
        });
        let r = resolve_task_definition(&td, &P);
        assert_eq!(r["executionRoleArn"], "arn:aws:iam::123456789012:role/containrlab/ecsTaskExecutionRole");
        let c = &r["containerDefinitions"][0];
        assert_eq!(c["image"], "123456789012.dkr.ecr.eu-west-1.amazonaws.com/containrlab-api:v7");
        assert_eq!(c["secrets"][0]["valueFrom"], "arn:aws:ssm:eu-west-1:123456789012:parameter/containrlab/KEY");
        assert_eq!(c["logConfiguration"]["options"]["awslogs-region"], "eu-west-1");
    }

    #[test]
    fn the_running_tag_is_read_back_through_the_template() {
        let template = json!({"containerDefinitions": [
            {"name": "side", "image": "busybox:1"},
            {"name": "api", "image": "${repository:containrlab-api}:${image_tag}"}
        ]});
        let running = json!({"containerDefinitions": [
            {"name": "side", "image": "busybox:1"},
            {"name": "api", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/containrlab-api:sha-abc"}
        ]});
        assert_eq!(running_image_tag(&template, &running, &P).as_deref(), Some("sha-abc"));
        let elsewhere = json!({"containerDefinitions": [{"name": "api", "image": "other/registry:sha-abc"}]});
        assert_eq!(running_image_tag(&template, &elsewhere, &P), None);
    }

    /// After `deploy`, images are digests and the tag survives only in an environment value.
    #[test]
    fn pinned_images_are_kept_and_the_tag_is_read_from_the_environment() {
        let template = json!({"containerDefinitions": [{
            "name": "runnerd", "image": "${repository:containrlab-runnerd}:${image_tag}",
            "environment": [{"name": "SESSION_IMAGE", "value": "${repository:containrlab-runner}:${image_tag}"}]
        }]});
        let registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
        let running = json!({"containerDefinitions": [{
            "name": "runnerd", "image": format!("{registry}/containrlab-runnerd@sha256:ab12"),
            "environment": [{"name": "SESSION_IMAGE", "value": format!("{registry}/containrlab-runner:v2")}]
        }]});
        assert_eq!(running_image_tag(&template, &running, &P).as_deref(), Some("v2"));
        let mut resolved = resolve_task_definition(&template, &Placeholders { image_tag: "v2", ..P });
        keep_pinned_images(&mut resolved, &template, &running, &P);
        assert_eq!(resolved["containerDefinitions"][0]["image"], format!("{registry}/containrlab-runnerd@sha256:ab12"));
        // Another repository's digest is not kept.
        let other =
            json!({"containerDefinitions": [{"name": "runnerd", "image": format!("{registry}/else@sha256:ab12")}]});
        let mut resolved = resolve_task_definition(&template, &P);
        keep_pinned_images(&mut resolved, &template, &other, &P);
        assert_eq!(resolved["containerDefinitions"][0]["image"], format!("{registry}/containrlab-runnerd:v7"));
    }

    #[test]
    fn user_data_joins_the_cluster_then_runs_the_extra_lines() {
        let u = user_data("runners", Some("yum install -y x\n"));
        assert!(u.starts_with("#!/bin/bash\n"));
        assert!(u.contains("echo ECS_CLUSTER=runners >> /etc/ecs/ecs.config\n"));
        assert!(u.ends_with("yum install -y x\n"));
    }
}
