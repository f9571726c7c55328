//! Each AWS Security Hub control this stack can be held to, evaluated on the stack file and its
//! task definitions — what `up` makes AWS hold — to PASS or FAIL per resource, with the key path
//! where the stack file decides it.
//!
//! Invariants: no AWS call and no environment (the same answer in `validate`, `check` and every
//! plan); a control whose resource the stack does not have is listed as not applicable, never
//! dropped; what containrlab always does itself (the default security group emptied, IMDSv2 on the
//! launch template, secrets by ARN) is a PASS that names the tool, so removing it would show here.

use serde_json::Value;

use super::{Control, Finding, Status};
use crate::config::risks::{modern_tls, world_ports_beyond_web};
use crate::config::schema::*;
use crate::config::taskdef::TaskDefinitionFile;

/// Every control `check` reports, in report order. `risk`: the `config::risks` id of the same
/// weakness, whose allowance also accepts the control.
pub const CONTROLS: &[Control] = &[
    c("ACM.1", "Imported and ACM-issued certificates should be renewed after a specified time period", None),
    c("CloudWatch.15", "CloudWatch alarms should have specified actions configured", None),
    c("CloudWatch.16", "CloudWatch log groups should be retained for a specified time period (365 days)", None),
    c("EC2.2", "VPC default security groups should not allow inbound or outbound traffic", None),
    c("EC2.3", "Attached Amazon EBS volumes should be encrypted at-rest", None),
    c("EC2.6", "VPC flow logging should be enabled in all VPCs", None),
    c("EC2.8", "EC2 instances should use Instance Metadata Service Version 2 (IMDSv2)", None),
    c("EC2.9", "Amazon EC2 instances should not have a public IPv4 address", None),
    c(
        "EC2.10",
        "Amazon EC2 should be configured to use VPC endpoints that are created for the Amazon EC2 service",
        None,
    ),
    c("EC2.15", "Amazon EC2 subnets should not automatically assign public IP addresses", None),
    c(
        "EC2.18",
        "Security groups should only allow unrestricted incoming traffic for authorized ports",
        Some("public-ingress"),
    ),
    c("EC2.19", "Security groups should not allow unrestricted access to ports with high risk", Some("public-ingress")),
    c("EC2.21", "Network ACLs should not allow ingress from 0.0.0.0/0 to port 22 or port 3389", None),
    c("EC2.28", "EBS volumes should be covered by a backup plan", None),
    c("EC2.170", "EC2 launch templates should use Instance Metadata Service Version 2 (IMDSv2)", None),
    c("ECR.1", "ECR private repositories should have image scanning configured", None),
    c("ECR.2", "ECR private repositories should have tag immutability configured", None),
    c("ECR.3", "ECR repositories should have at least one lifecycle policy configured", None),
    c("ECS.2", "ECS services should not have public IP addresses assigned to them automatically", Some("public-ip")),
    c("ECS.3", "ECS task definitions should not share the host's process namespace", None),
    c("ECS.4", "ECS containers should run as non-privileged", Some("privileged-container")),
    c("ECS.5", "ECS containers should be limited to read-only access to root filesystems", None),
    c("ECS.8", "Secrets should not be passed as container environment variables", Some("aws-credentials-env")),
    c("ECS.9", "ECS task definitions should have a logging configuration", None),
    c("ECS.12", "ECS clusters should use Container Insights", None),
    c("ELB.1", "Application Load Balancer should be configured to redirect all HTTP requests to HTTPS", None),
    c("ELB.4", "Application Load Balancer should be configured to drop invalid http headers", None),
    c("ELB.5", "Application and Classic Load Balancers logging should be enabled", None),
    c("ELB.6", "Application, Gateway, and Network Load Balancers should have deletion protection enabled", None),
    c("ELB.13", "Application, Network and Gateway Load Balancers should span multiple Availability Zones", None),
    c("ELB.16", "Application Load Balancers should be associated with an AWS WAF web ACL", None),
    c(
        "ELB.17",
        "Application and Network Load Balancers with listeners should use recommended security policies",
        Some("tls-legacy"),
    ),
    c("IAM.1", "IAM policies should not allow full \"*\" administrative privileges", Some("iam-admin")),
    c("IAM.21", "IAM customer managed policies that you create should not allow wildcard actions for services", None),
    c("Route53.2", "Route 53 public hosted zones should log DNS queries", None),
    c("SSM.1", "Amazon EC2 instances should be managed by AWS Systems Manager", None),
];

const fn c(id: &'static str, title: &'static str, risk: Option<&'static str>) -> Control {
    Control { id, title, risk }
}

/// Ports Security Hub's EC2.19 calls high-risk when open to the internet.
const HIGH_RISK_PORTS: &[u16] = &[
    20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500, 5601, 8080, 8088,
    8888, 9200, 9300,
];

/// Security Hub's default for CloudWatch.16.
const MIN_RETENTION_DAYS: i32 = 365;

/// Every finding, PASS or FAIL (allowances are applied by the caller), of these controls and of
/// `prowler::CONTROLS`.
pub fn evaluate(
    stack: &StackFile,
    task_definitions: &std::collections::BTreeMap<String, TaskDefinitionFile>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut finding = |id: &str, at: String, pass: bool, detail: String| {
        let control = super::all_controls().find(|c| c.id == id).expect("a listed control");
        out.push(Finding { control, at, detail, status: if pass { Status::Pass } else { Status::Fail } });
    };
    if stack.certificate.is_some() {
        finding(
            "ACM.1",
            "certificate".into(),
            true,
            "issued by ACM and DNS-validated: ACM renews it before it expires".into(),
        );
    }
    for name in stack.alarms.keys() {
        match &stack.notifications {
            Some(n) => {
                let detail = format!("notifies SNS topic {} on ALARM and on OK", n.topic.value);
                finding("CloudWatch.15", format!("alarms.{name}"), true, detail)
            }
            None => finding(
                "CloudWatch.15",
                format!("alarms.{name}"),
                false,
                "has no alarm action: nobody is notified".into(),
            ),
        }
    }
    for (name, g) in &stack.logs.groups {
        let days = g.retention_days.as_ref().map(|d| d.value);
        let pass = days.is_none_or(|d| d >= MIN_RETENTION_DAYS);
        let detail = match days {
            None => "never expires".to_string(),
            Some(d) => format!("kept {d} days"),
        };
        finding("CloudWatch.16", format!("logs.groups.{name}"), pass, detail);
    }
    {
        finding(
            "EC2.2",
            "network".into(),
            true,
            "containrlab removes every rule of the VPC's default security group".into(),
        );
        match &stack.network.flow_logs {
            Some(l) => finding(
                "EC2.6",
                "network.flow_logs".into(),
                true,
                format!("{} traffic to log group {}", l.traffic.value, l.log_group.value),
            ),
            None => finding("EC2.6", "network".into(), false, "the VPC has no flow log".into()),
        }
        finding(
            "EC2.10",
            "network".into(),
            false,
            "no VPC endpoint for EC2: its API is reached through the NAT gateway".into(),
        );
        finding(
            "EC2.21",
            "network".into(),
            false,
            "the VPC's default network ACL allows all traffic (AWS's default; containrlab manages no network ACL)"
                .into(),
        );
    }
    for name in stack.network.subnets.keys() {
        finding("EC2.15", format!("network.subnets.{name}"), true, "containrlab turns auto-assign off".into());
    }
    for (name, g) in &stack.security_groups {
        let open: Vec<(usize, String)> =
            g.ingress.iter().enumerate().filter_map(|(i, r)| world_ports_beyond_web(r).map(|p| (i, p))).collect();
        if open.is_empty() {
            finding(
                "EC2.18",
                format!("security_groups.{name}.ingress"),
                true,
                "the internet reaches only tcp 80 and 443, or nothing".into(),
            );
        }
        for (i, ports) in &open {
            finding(
                "EC2.18",
                format!("security_groups.{name}.ingress[{i}]"),
                false,
                format!("opens {ports} to the internet"),
            );
        }
        let risky: Vec<(usize, &Rule)> =
            g.ingress.iter().enumerate().filter(|(_, r)| opens_high_risk_port(r)).collect();
        if risky.is_empty() {
            finding(
                "EC2.19",
                format!("security_groups.{name}.ingress"),
                true,
                "no high-risk port is open to the internet".into(),
            );
        }
        for (i, _) in risky {
            finding(
                "EC2.19",
                format!("security_groups.{name}.ingress[{i}]"),
                false,
                "opens a high-risk port (SSH, RDP, databases, …) to the internet".into(),
            );
        }
    }
    for (name, cluster) in &stack.ecs.clusters {
        if let Some(cap) = &cluster.ec2_capacity {
            let at = format!("ecs.clusters.{name}.ec2_capacity");
            let private = cap.subnet_tier == SubnetTier::Private;
            finding(
                "EC2.9",
                at.clone(),
                private,
                if private {
                    "instances in private subnets, no public IP"
                } else {
                    "instances in public subnets get a public IP"
                }
                .into(),
            );
            let imds = "containrlab's launch template requires IMDSv2 (tokens required, hop limit 1)";
            finding("EC2.3", at.clone(), true, "containrlab's launch template encrypts the root volume".into());
            finding("EC2.28", at.clone(), false, "no AWS Backup plan covers the instances' root volumes".into());
            finding("EC2.8", at.clone(), true, format!("instances start from the launch template: {imds}"));
            finding("EC2.170", at.clone(), true, imds.into());
            let role = stack.iam.roles.get(&cap.instance_role.value);
            let ssm =
                role.is_some_and(|r| r.managed_policies.iter().any(|p| p.ends_with("/AmazonSSMManagedInstanceCore")));
            let detail = "the instance role has no AmazonSSMManagedInstanceCore: no Session Manager or Patch Manager";
            finding("SSM.1", at, ssm, if ssm { "the instance role allows the SSM agent" } else { detail }.into());
        }
        let insights = cluster.container_insights;
        finding(
            "ECS.12",
            format!("ecs.clusters.{name}.container_insights"),
            insights,
            if insights { "on" } else { "off" }.into(),
        );
    }
    for (name, r) in &stack.ecr.repositories {
        let at = format!("ecr.repositories.{name}");
        finding(
            "ECR.1",
            format!("{at}.scan_on_push"),
            r.scan_on_push,
            if r.scan_on_push { "scans every pushed image" } else { "no scan on push" }.into(),
        );
        let immutable = r.tag_mutability == TagMutability::Immutable;
        finding(
            "ECR.2",
            format!("{at}.tag_mutability"),
            immutable,
            if immutable { "tags are IMMUTABLE" } else { "tags are MUTABLE: a push can move a tag" }.into(),
        );
        let keep = r.keep_last_images.as_ref().map(|k| k.value);
        finding(
            "ECR.3",
            format!("{at}.keep_last_images"),
            keep.is_some(),
            keep.map_or("no lifecycle policy".into(), |k| format!("expires all but the newest {k} images")),
        );
    }
    for (name, service) in &stack.ecs.services {
        let at = format!("ecs.services.{name}");
        let public = service.assign_public_ip;
        finding(
            "ECS.2",
            format!("{at}.assign_public_ip"),
            !public,
            if public { "tasks get a public IP" } else { "tasks get no public IP" }.into(),
        );
        let Some(td) = task_definitions.get(name) else { continue };
        let td_at = format!("{at}.task_definition");
        let containers: Vec<&Value> = td
            .json
            .get("containerDefinitions")
            .and_then(Value::as_array)
            .map(|c| c.iter().collect())
            .unwrap_or_default();
        let named = |pred: &dyn Fn(&Value) -> bool| -> Vec<String> {
            containers
                .iter()
                .filter(|c| pred(c))
                .map(|c| c.get("name").and_then(Value::as_str).unwrap_or("?").to_string())
                .collect()
        };
        let host_pid = td.json.get("pidMode").and_then(Value::as_str) == Some("host");
        finding(
            "ECS.3",
            td_at.clone(),
            !host_pid,
            if host_pid { "pidMode host" } else { "own process namespace" }.into(),
        );
        let privileged = named(&|c| c.get("privileged").and_then(Value::as_bool) == Some(true));
        finding(
            "ECS.4",
            td_at.clone(),
            privileged.is_empty(),
            listed(&privileged, "privileged", "no container is privileged"),
        );
        let writable = named(&|c| c.get("readonlyRootFilesystem").and_then(Value::as_bool) != Some(true));
        finding(
            "ECS.5",
            td_at.clone(),
            writable.is_empty(),
            listed(&writable, "with a writable root filesystem", "every root filesystem is read-only"),
        );
        let credentials = named(&|c| {
            env_names(c).any(|n| ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ECS_ENGINE_AUTH_DATA"].contains(&n))
        });
        finding(
            "ECS.8",
            td_at.clone(),
            credentials.is_empty(),
            listed(
                &credentials,
                "with an AWS credential in its environment",
                "no credential in any environment; secrets come from SSM by ARN",
            ),
        );
        let unlogged = named(&|c| c.get("logConfiguration").is_none());
        finding(
            "ECS.9",
            td_at,
            unlogged.is_empty(),
            listed(&unlogged, "without a log configuration", "every container logs to CloudWatch Logs"),
        );
    }
    if let Some(lb) = &stack.load_balancer {
        let redirect = lb.http_listener.as_ref().is_none_or(|h| h.redirect_to_https);
        finding(
            "ELB.1",
            "load_balancer.http_listener".into(),
            redirect,
            if redirect { "HTTP answers with a redirect to HTTPS" } else { "HTTP is served without a redirect" }.into(),
        );
        let drop = lb.drop_invalid_header_fields;
        finding(
            "ELB.4",
            "load_balancer.drop_invalid_header_fields".into(),
            drop,
            if drop { "invalid headers are dropped" } else { "invalid headers reach the targets" }.into(),
        );
        finding(
            "ELB.5",
            "load_balancer".into(),
            false,
            "no access logs (an ALB writes them only to an S3 bucket)".into(),
        );
        let protected = lb.deletion_protection;
        finding(
            "ELB.6",
            "load_balancer.deletion_protection".into(),
            protected,
            if protected { "on" } else { "off" }.into(),
        );
        let zones = stack.network.zones(lb.subnet_tier);
        finding(
            "ELB.13",
            "load_balancer.subnet_tier".into(),
            zones.len() >= 2,
            format!("{} availability zones", zones.len()),
        );
        finding("ELB.16", "load_balancer".into(), false, "no AWS WAF web ACL".into());
        if let Some(https) = &lb.https_listener {
            let modern = modern_tls(&https.ssl_policy);
            finding(
                "ELB.17",
                "load_balancer.https_listener.ssl_policy".into(),
                modern,
                format!("`{}`", https.ssl_policy),
            );
        }
    }
    if let Some(dns) = &stack.dns {
        finding("Route53.2", "dns".into(), false, format!("zone {} logs no DNS query", dns.zone));
    }
    for (name, role) in &stack.iam.roles {
        let at = format!("iam.roles.{name}");
        let mut admin = Vec::new();
        let mut service_wide = Vec::new();
        for (policy, statements) in &role.inline_policies {
            for (i, s) in statements.iter().enumerate().filter(|(_, s)| s.effect.eq_ignore_ascii_case("allow")) {
                if s.actions.iter().any(|a| a == "*") {
                    admin.push(format!("{at}.inline_policies.{policy}[{i}]"));
                }
                service_wide.extend(s.actions.iter().filter(|a| a.ends_with(":*")).map(|a| format!("`{a}`")));
            }
        }
        if admin.is_empty() {
            finding("IAM.1", at.clone(), true, "no statement allows `*`".into());
        }
        for path in admin {
            finding("IAM.1", path, false, "allows every action (`*`)".into());
        }
        finding("IAM.21", at, service_wide.is_empty(), listed(&service_wide, "allowed", "no `service:*` action"));
    }
    // prowler's checks that have no Security Hub control, through the same `finding`.
    super::prowler::evaluate(stack, &mut finding);
    out
}

/// `a, b privileged`, or the all-clear text when none.
fn listed(names: &[String], what: &str, none: &str) -> String {
    if names.is_empty() {
        none.to_string()
    } else {
        format!("{} {what}", names.join(", "))
    }
}

fn env_names(container: &Value) -> impl Iterator<Item = &str> {
    container
        .get("environment")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("name").and_then(Value::as_str))
}

/// Whether a rule opens one of EC2.19's high-risk ports to 0.0.0.0/0.
fn opens_high_risk_port(rule: &Rule) -> bool {
    let world =
        rule.cidr.as_ref().is_some_and(|c| c.value.parse::<ipnet::Ipv4Net>().is_ok_and(|n| n.prefix_len() == 0));
    world
        && match (&rule.protocol, &rule.ports) {
            (Protocol::All, _) => true,
            (Protocol::Icmp, _) | (_, None) => false,
            (_, Some(p)) => HIGH_RISK_PORTS.iter().any(|port| (p.value.from..=p.value.to).contains(port)),
        }
}
