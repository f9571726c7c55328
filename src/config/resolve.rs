//! From a checked stack file to desired resources.
//!
//! The only input beyond the file is `env`, which supplies SecureString values; nothing read
//! from it is ever formatted into a message.

use crate::model::compute;
use crate::model::desired::{Cluster, Desired, LogGroup, Parameter, ParameterValue, Repository};
use crate::model::secret::Secret;

use crate::model::iam::{Iam, Role, Trust};
use crate::model::ingress::{
    Certificate, Dns, HealthCheck, Ingress, Listener, ListenerAction, ListenerRule, LoadBalancer, TargetGroup,
};
use crate::model::network::{
    FlowLog, NatGateway, Network, Peer, RouteTable, RouteTarget, Rule, SecurityGroup, SecurityGroupRules, Subnet, Vpc,
};

use super::schema::{self, ParameterType, Protocol, StackFile, SubnetTier, TagMutability};
use super::Stack;

pub fn resolve(stack: &Stack, env: &dyn Fn(&str) -> Option<String>) -> Desired {
    let f = &stack.file;
    let repositories = f
        .ecr
        .repositories
        .iter()
        .map(|(name, r)| Repository {
            name: name.clone(),
            scan_on_push: r.scan_on_push,
            tag_mutability: match r.tag_mutability {
                TagMutability::Mutable => "MUTABLE".into(),
                TagMutability::Immutable => "IMMUTABLE".into(),
            },
            keep_last_images: r.keep_last_images.as_ref().map(|k| k.value),
        })
        .collect();
    let parameters = f
        .ssm
        .parameters
        .iter()
        .map(|(name, p)| Parameter {
            name: name.clone(),
            description: p.description.clone(),
            value: match p.kind {
                ParameterType::String => {
                    ParameterValue::Plain(p.value.as_ref().map(|v| v.value.clone()).unwrap_or_default())
                }
                ParameterType::SecureString => {
                    let env_var = p.value_from_env.as_ref().map(|v| v.value.clone()).unwrap_or_default();
                    let value = env(&env_var).filter(|v| !v.is_empty()).map(Secret::new);
                    ParameterValue::Secret { env_var, value }
                }
            },
        })
        .collect();
    let log_groups = f
        .logs
        .groups
        .iter()
        .map(|(name, g)| LogGroup { name: name.clone(), retention_days: g.retention_days.as_ref().map(|d| d.value) })
        .collect();
    let services = services(stack);
    Desired {
        stack: f.stack.value.clone(),
        tags: f.tags.clone(),
        network: Some(network(f)),
        ingress: f.load_balancer.as_ref().map(|lb| ingress(f, lb)),
        dns: dns(f),
        iam: Some(with_exec(iam(f), &services)),
        clusters: f
            .ecs
            .clusters
            .iter()
            .map(|(name, c)| Cluster { name: name.clone(), container_insights: c.container_insights })
            .collect(),
        services,
        ec2_capacity: ec2_capacity(f),
        alarms: alarms(f),
        notifications: f.notifications.as_ref().map(|n| crate::model::desired::Topic {
            name: n.topic.value.clone(),
            emails: n.emails.iter().map(|e| e.value.clone()).collect(),
        }),
        repositories,
        parameters,
        log_groups,
    }
}

fn subnets_of(f: &StackFile, tier: Option<SubnetTier>) -> Vec<String> {
    f.network.subnets.iter().filter(|(_, s)| Some(s.tier) == tier).map(|(n, _)| n.clone()).collect()
}

fn names(list: &[schema::Sp<String>]) -> Vec<String> {
    list.iter().map(|s| s.value.clone()).collect()
}

/// Services with their task definitions (loaded and checked with the stack file).
fn services(stack: &Stack) -> Vec<compute::Service> {
    let f = &stack.file;
    f.ecs
        .services
        .iter()
        .filter_map(|(name, s)| {
            let td = stack.task_definitions.get(name)?;
            let family = td.json.get("family").and_then(serde_json::Value::as_str).unwrap_or_default();
            Some(compute::Service {
                name: name.clone(),
                cluster: s.cluster.value.clone(),
                launch_type: match s.launch_type {
                    schema::LaunchType::Fargate => "FARGATE".into(),
                    schema::LaunchType::Ec2 => "EC2".into(),
                },
                desired_count: s.desired_count as i32,
                subnets: subnets_of(f, s.subnet_tier),
                security_groups: names(&s.security_groups),
                assign_public_ip: s.assign_public_ip,
                load_balancers: s
                    .load_balancers
                    .iter()
                    .map(|lb| compute::ServiceLoadBalancer {
                        target_group: lb.target_group.value.clone(),
                        container: lb.container.value.clone(),
                        port: i32::from(lb.port),
                    })
                    .collect(),
                circuit_breaker_rollback: s.circuit_breaker_rollback,
                exec: s.exec,
                rollback_alarms: s.rollback_alarms.iter().map(|a| a.value.clone()).collect(),
                task_definition: compute::TaskDefinition {
                    family: family.to_string(),
                    json: td.json.clone(),
                    keep_revisions: s.keep_revisions,
                },
            })
        })
        .collect()
}

fn ec2_capacity(f: &StackFile) -> Vec<compute::Ec2Capacity> {
    f.ecs
        .clusters
        .iter()
        .filter_map(|(cluster, c)| {
            let cap = c.ec2_capacity.as_ref()?;
            Some(compute::Ec2Capacity {
                cluster: cluster.clone(),
                instance_type: cap.instance_type.clone(),
                ami_parameter: cap.ami_parameter.clone(),
                instance_count: cap.instance_count as i32,
                subnets: subnets_of(f, Some(cap.subnet_tier)),
                security_groups: names(&cap.security_groups),
                instance_role: cap.instance_role.value.clone(),
                root_volume_gib: cap.root_volume_gib as i32,
                user_data: compute::user_data(cluster, cap.extra_user_data.as_deref()),
            })
        })
        .collect()
}

/// Alarms with `${cluster:N}`, `${service:N}` and `${asg:CLUSTER}` resolved to the names this stack
/// gives those resources (the Auto Scaling group is named after its cluster). The placeholders of
/// resources CloudWatch names by id (`${load_balancer}`, `${target_group:N}`, `${nat_gateway:N}`)
/// stay: the plan resolves them from the ids (`reconcile::alarms::dimensions`).
fn alarms(f: &StackFile) -> Vec<compute::Alarm> {
    use crate::model::{Address, Kind};
    let topic = f.notifications.as_ref().map(|n| n.topic.value.clone());
    let load_balancer = f.load_balancer.as_ref().map(|lb| lb.name.as_str());
    f.alarms
        .iter()
        .map(|(name, a)| {
            let mut refers_to = Vec::new();
            let mut dimension_ids = std::collections::BTreeMap::new();
            let dimensions = a
                .dimensions
                .iter()
                .map(|(dim, v)| {
                    if let Some(by_id) = compute::id_placeholder(&v.value, load_balancer) {
                        refers_to.push(by_id.clone());
                        dimension_ids.insert(dim.clone(), by_id);
                        return (dim.clone(), v.value.clone());
                    }
                    let value = match v.value.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                        Some(inner) => {
                            let (kind, target) = inner.split_once(':').unwrap_or(("", inner));
                            // A service's metrics are published under its name: the alarm waits
                            // for nothing (the service, which may name it, comes after it).
                            match kind {
                                "asg" => refers_to.push(Address::new(Kind::AutoScalingGroup, target)),
                                "service" => {}
                                _ => refers_to.push(Address::new(Kind::EcsCluster, target)),
                            }
                            target.to_string()
                        }
                        None => v.value.clone(),
                    };
                    (dim.clone(), value)
                })
                .collect();
            compute::Alarm {
                name: name.clone(),
                description: a.description.clone(),
                namespace: a.namespace.clone(),
                metric: a.metric.clone(),
                statistic: a.statistic.clone(),
                period_seconds: a.period_seconds as i32,
                evaluation_periods: a.evaluation_periods as i32,
                threshold: a.threshold,
                comparison: a.comparison.clone(),
                dimensions,
                dimension_ids,
                treat_missing_data: a.treat_missing_data.clone().unwrap_or_else(|| "missing".into()),
                refers_to: refers_to.into_iter().chain(topic.iter().map(|t| Address::new(Kind::SnsTopic, t))).collect(),
                notify: topic.clone(),
            }
        })
        .collect()
}

/// The network of the stack file: one VPC named after the stack, its subnets, an internet gateway,
/// NAT gateways in the first public subnet of as many AZs as asked, a public route table and one
/// private route table per NAT gateway (private subnets use the NAT gateway of their AZ, or the
/// first one).
pub(crate) fn network(f: &StackFile) -> Network {
    let stack = f.stack.value.clone();
    let subnets: Vec<Subnet> = f
        .network
        .subnets
        .iter()
        .map(|(name, s)| Subnet {
            name: name.clone(),
            cidr: s.cidr.value.clone(),
            availability_zone: s.availability_zone.clone(),
            public: s.tier == SubnetTier::Public,
        })
        .collect();
    let mut public: Vec<&Subnet> = subnets.iter().filter(|s| s.public).collect();
    public.sort_by(|a, b| (&a.availability_zone, &a.name).cmp(&(&b.availability_zone, &b.name)));
    public.dedup_by(|a, b| a.availability_zone == b.availability_zone);
    let nats: Vec<(String, NatGateway)> = public
        .iter()
        .take(f.network.nat_gateways.value as usize)
        .map(|s| (s.availability_zone.clone(), NatGateway { name: s.name.clone(), subnet: s.name.clone() }))
        .collect();
    let mut route_tables = vec![RouteTable {
        name: "public".into(),
        default_route: RouteTarget::InternetGateway(stack.clone()),
        subnets: subnets.iter().filter(|s| s.public).map(|s| s.name.clone()).collect(),
    }];
    for (az, nat) in &nats {
        let name = if nats.len() == 1 { "private".to_string() } else { format!("private-{az}") };
        let first = nats.first().map(|(_, n)| n.name.as_str());
        let uses_this_nat = |s: &&Subnet| {
            let own = nats.iter().find(|(a, _)| *a == s.availability_zone).map(|(_, n)| n.name.as_str());
            own.or(first) == Some(nat.name.as_str())
        };
        let private = subnets.iter().filter(|s| !s.public).filter(uses_this_nat).map(|s| s.name.clone()).collect();
        route_tables.push(RouteTable {
            name,
            default_route: RouteTarget::NatGateway(nat.name.clone()),
            subnets: private,
        });
    }
    let security_groups = f
        .security_groups
        .iter()
        .map(|(name, g)| SecurityGroup { name: name.clone(), description: g.description.clone() })
        .collect();
    let security_group_rules = f
        .security_groups
        .iter()
        .map(|(name, g)| SecurityGroupRules {
            group: name.clone(),
            ingress: g.ingress.iter().map(rule).collect(),
            egress: g.egress.iter().map(rule).collect(),
        })
        .collect();
    let flow_log = f.network.flow_logs.as_ref().map(|l| FlowLog {
        name: stack.clone(),
        traffic: l.traffic.value.clone(),
        log_group: l.log_group.value.clone(),
        role: l.role.value.clone(),
        max_aggregation_seconds: l.max_aggregation_seconds.value,
    });
    Network {
        vpc: Vpc { name: stack.clone(), cidr: f.network.vpc_cidr.value.clone() },
        subnets,
        internet_gateway: stack,
        nat_gateways: nats.into_iter().map(|(_, n)| n).collect(),
        route_tables,
        security_groups,
        security_group_rules,
        flow_log,
    }
}

/// The load balancer in the subnets of its tier, its target groups, and the HTTP listener.
/// (The HTTPS listener and host rules need the certificate, reconciled with the DNS section.)
fn ingress(f: &StackFile, lb: &schema::LoadBalancer) -> Ingress {
    let subnets = f.network.subnets.iter().filter(|(_, s)| s.tier == lb.subnet_tier).map(|(n, _)| n.clone()).collect();
    let target_groups = lb
        .target_groups
        .iter()
        .map(|(name, tg)| TargetGroup {
            name: name.clone(),
            port: tg.port,
            protocol: tg.protocol.clone(),
            target_type: match tg.target_type {
                schema::TargetType::Ip => "ip".into(),
                schema::TargetType::Instance => "instance".into(),
            },
            health_check: HealthCheck {
                path: tg.health_check.path.clone(),
                interval_seconds: tg.health_check.interval_seconds,
                timeout_seconds: tg.health_check.timeout_seconds,
                healthy_threshold: tg.health_check.healthy_threshold,
                unhealthy_threshold: tg.health_check.unhealthy_threshold,
                matcher: tg.health_check.matcher.clone(),
            },
            deregistration_delay_seconds: tg.deregistration_delay_seconds,
        })
        .collect();
    let certificate = f.certificate.as_ref().map(|c| Certificate {
        domain: c.domain_name.clone(),
        subject_alternative_names: c.subject_alternative_names.clone(),
    });
    let mut listeners: Vec<Listener> = lb
        .http_listener
        .iter()
        .filter(|l| l.redirect_to_https)
        .map(|l| Listener { name: "http".into(), port: l.port, action: ListenerAction::RedirectToHttps })
        .collect();
    if let (Some(l), Some(c)) = (&lb.https_listener, &certificate) {
        let action = ListenerAction::Https {
            ssl_policy: l.ssl_policy.clone(),
            certificate: c.domain.clone(),
            default_status: l.default_status_code,
        };
        listeners.push(Listener { name: "https".into(), port: l.port, action });
    }
    // Host rules hang off the HTTPS listener; without one there is nothing to attach them to.
    let https = listeners.iter().any(|l| l.name == "https");
    let rules = lb
        .rules
        .iter()
        .filter(|_| https)
        .map(|r| ListenerRule {
            host: r.host.clone(),
            priority: r.priority,
            target_group: r.target_group.value.clone(),
        })
        .collect();
    Ingress {
        load_balancer: LoadBalancer {
            name: lb.name.clone(),
            scheme: lb.scheme.clone(),
            subnets,
            security_groups: lb.security_groups.iter().map(|g| g.value.clone()).collect(),
            idle_timeout_seconds: lb.idle_timeout_seconds,
            deletion_protection: lb.deletion_protection,
            drop_invalid_header_fields: lb.drop_invalid_header_fields,
        },
        target_groups,
        listeners,
        rules,
        certificate,
    }
}

/// The task role of every service with `exec: true` gets ECS Exec's permissions.
fn with_exec(mut iam: Iam, services: &[compute::Service]) -> Iam {
    for s in services.iter().filter(|s| s.exec) {
        let Some(role) = compute::task_role_of(&s.task_definition.json) else { continue };
        if let Some(r) = iam.roles.iter_mut().find(|r| r.name == role) {
            r.inline_policies.insert(compute::EXEC_POLICY.to_string(), compute::exec_policy());
        }
    }
    iam
}

/// Roles: trust from services or GitHub Actions, managed policies by ARN, inline statements.
fn iam(f: &StackFile) -> Iam {
    let roles: Vec<Role> = f
        .iam
        .roles
        .iter()
        .map(|(name, r)| Role {
            name: name.clone(),
            description: r.description.clone(),
            trust: match &r.trusted_github {
                Some(g) => Trust::Github { repository: g.repository.clone(), refs: g.refs.clone() },
                None => Trust::Services(r.trusted_services.clone()),
            },
            managed_policies: r.managed_policies.iter().cloned().collect(),
            inline_policies: r
                .inline_policies
                .iter()
                .map(|(policy, statements)| {
                    let statements: Vec<serde_json::Value> = statements
                        .iter()
                        .map(|s| {
                            let mut statement =
                                serde_json::json!({ "Effect": s.effect, "Action": s.actions, "Resource": s.resources });
                            if !s.conditions.is_empty() {
                                statement["Condition"] = serde_json::json!(s.conditions);
                            }
                            statement
                        })
                        .collect();
                    (policy.clone(), serde_json::json!({ "Version": "2012-10-17", "Statement": statements }))
                })
                .collect(),
            instance_profile: r.instance_profile,
        })
        .collect();
    let github_oidc = roles.iter().any(|r| matches!(r.trust, Trust::Github { .. }));
    Iam { roles, github_oidc }
}

/// The hosted zone and the records the stack declares (ownership of records is by declaration).
pub fn dns(f: &StackFile) -> Option<Dns> {
    let d = f.dns.as_ref()?;
    let zone = d.zone.trim_end_matches('.').to_string();
    let records = d.records.iter().map(|r| format!("{}.{zone}", r.name)).collect();
    Some(Dns { zone, create_zone: d.create_zone, delegate: d.delegate, records })
}

fn rule(r: &schema::Rule) -> Rule {
    let protocol = match r.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp => "icmp",
        Protocol::All => "all",
    };
    let peer = match (&r.cidr, &r.security_group) {
        (Some(cidr), _) => Peer::Cidr(cidr.value.clone()),
        (None, Some(group)) => Peer::Group(group.value.clone()),
        (None, None) => Peer::Other(String::new()),
    };
    let ports = r.ports.as_ref().map(|p| (i32::from(p.value.from), i32::from(p.value.to)));
    Rule { protocol: protocol.into(), ports: if protocol == "all" { None } else { ports }, peer }
}
