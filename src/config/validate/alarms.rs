//! Alarms in the stack file: comparison, period, statistic (or percentile), missing-data
//! treatment, each dimension's placeholder naming a resource of this stack (and Container
//! Insights on for its metrics), and the alarms services name to roll their deployments back.

use super::Checker;
use crate::config::schema::StackFile;

/// CloudWatch's statistics, and its percentiles `p0`–`p100` (with decimals: `p99.9`).
fn is_statistic(s: &str) -> bool {
    ["Average", "Sum", "Minimum", "Maximum", "SampleCount"].contains(&s)
        || s.strip_prefix('p').and_then(|p| p.parse::<f64>().ok()).is_some_and(|p| (0.0..=100.0).contains(&p))
}

pub(super) fn check(c: &mut Checker, stack: &StackFile) {
    check_rollback_alarms(c, stack);
    const COMPARISONS: &[&str] =
        &["GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"];
    let nat_gateways: Vec<String> =
        crate::config::resolve::network(stack).nat_gateways.into_iter().map(|n| n.name).collect();
    let target_groups: Vec<&String> = stack.load_balancer.iter().flat_map(|lb| lb.target_groups.keys()).collect();
    for (name, alarm) in &stack.alarms {
        let path = format!("alarms.{name}");
        let missing = alarm.treat_missing_data.as_deref().unwrap_or("missing");
        if !["breaching", "notBreaching", "ignore", "missing"].contains(&missing) {
            c.err_path(
                format!("{path}.treat_missing_data"),
                format!("`{missing}`: expected breaching, notBreaching, ignore or missing"),
            );
        }
        if !is_statistic(&alarm.statistic) {
            c.err_path(
                format!("{path}.statistic"),
                format!(
                    "`{}`: expected Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p95 or p99.9",
                    alarm.statistic
                ),
            );
        }
        if !COMPARISONS.contains(&alarm.comparison.as_str()) {
            c.err_path(
                format!("{path}.comparison"),
                format!("`{}`: expected one of {}", alarm.comparison, COMPARISONS.join(", ")),
            );
        }
        if alarm.period_seconds < 10 || (alarm.period_seconds > 30 && alarm.period_seconds % 60 != 0) {
            c.err_path(
                format!("{path}.period_seconds"),
                format!("{}: expected 10, 20, 30 or a multiple of 60", alarm.period_seconds),
            );
        }
        for (dim, value) in &alarm.dimensions {
            let known = match value
                .value
                .strip_prefix("${")
                .and_then(|v| v.strip_suffix('}'))
                .and_then(|v| v.split_once(':'))
            {
                Some(("cluster", n)) | Some(("asg", n)) => stack.ecs.clusters.contains_key(n),
                Some(("service", n)) => stack.ecs.services.contains_key(n),
                Some(("target_group", n)) => target_groups.iter().any(|t| *t == n),
                Some(("nat_gateway", n)) => nat_gateways.iter().any(|g| g == n),
                Some(_) => false,
                None if value.value == "${load_balancer}" => stack.load_balancer.is_some(),
                None => !value.value.contains("${"),
            };
            if !known {
                c.err(value, format!("{path}.dimensions.{dim}"), format!("`{}` names no resource of this stack (expected ${{cluster:NAME}}, ${{service:NAME}}, ${{asg:CLUSTER}}, ${{load_balancer}}, ${{target_group:NAME}} or ${{nat_gateway:SUBNET}}, the public subnet of a NAT gateway: {})", value.value, if nat_gateways.is_empty() { "none".to_string() } else { nat_gateways.join(", ") }));
            }
            // Container Insights metrics exist only for clusters that have it on; without data an
            // alarm never evaluates (or, treating missing data as breaching, is always in alarm).
            let cluster = value.value.strip_prefix("${cluster:").and_then(|v| v.strip_suffix('}'));
            let insights_off = cluster.and_then(|n| stack.ecs.clusters.get(n)).is_some_and(|c| !c.container_insights);
            if alarm.namespace == "ECS/ContainerInsights" && insights_off {
                c.err(
                    value,
                    format!("{path}.dimensions.{dim}"),
                    format!(
                        "`ECS/ContainerInsights` metrics need `container_insights: true` on cluster `{}`",
                        cluster.unwrap_or_default()
                    ),
                );
            }
        }
    }
}

/// Each service's `rollback_alarms` are alarms of this stack file.
fn check_rollback_alarms(c: &mut Checker, stack: &StackFile) {
    for (name, svc) in &stack.ecs.services {
        for (i, alarm) in svc.rollback_alarms.iter().enumerate() {
            if !stack.alarms.contains_key(&alarm.value) {
                let names: Vec<&str> = stack.alarms.keys().map(String::as_str).collect();
                c.err(
                    alarm,
                    format!("ecs.services.{name}.rollback_alarms[{i}]"),
                    format!("alarm `{}` is not defined under alarms (there are: {})", alarm.value, names.join(", ")),
                );
            }
        }
    }
}
