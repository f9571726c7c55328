//! A converged account built by hand: for every resource of the checked-in stack, the observation
//! AWS would give once `up` has finished (ids made up, values as AWS reports them). Each drift test
//! starts from it and changes one thing. Written from the stack file's meaning, not from the
//! reconcilers' code, so a diff that misreads a field shows up as a change on a converged stack.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::diff::normalize::{canonical_policy, LifecyclePolicy};
use crate::model::compute::{resolve_task_definition, Placeholders};
use crate::model::desired::Topic;
use crate::model::desired::{Desired, ParameterValue};
use crate::model::iam::{resolve_document, GITHUB_OIDC_HOST};
use crate::model::ingress::ListenerAction;
use crate::model::tags::{desired_tags, Tags};
use crate::model::{Address, Kind};
use crate::plan::build::{Mode, PlanContext};
use crate::reconcile::acm::CertificateFields;
use crate::reconcile::alarms::AlarmFields;
use crate::reconcile::dns::{Alias, ObservedDns, Zone};
use crate::reconcile::ecr::ObservedRepository;
use crate::reconcile::ecs::{ClusterFields, ObservedEcs, ServiceFields, TaskDefinitionFields};
use crate::reconcile::elb::{ListenerFields, LoadBalancerFields, ObservedEdge, RuleFields, TargetGroupFields};
use crate::reconcile::iam::{ObservedIam, OidcProvider, RoleFields};
use crate::reconcile::kit::Observed;
use crate::reconcile::logs::ObservedLogGroup;
use crate::reconcile::network::*;
use crate::reconcile::runner::{CapacityProviderFields, GroupFields, LaunchTemplateFields, ObservedRunner};
use crate::reconcile::sns::ObservedTopic;
use crate::reconcile::ssm::{ObservedParameter, ObservedValue};
use crate::reconcile::Observed as Everything;
use crate::reconcile::Plan;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const IMAGE_TAG: &str = "v1";
pub const AMI: &str = "ami-0123456789abcdef0";
pub const LB_DNS: &str = "containrlab-alb-1.us-east-1.elb.amazonaws.com";

/// The checked-in stack, every secret set to `secret-<variable>`.
pub fn desired() -> Desired {
    let stack = crate::config::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stack.yaml"))
        .expect("the checked-in stack is valid");
    crate::config::resolve::resolve(&stack, &|var| Some(format!("secret-{var}")))
}

pub fn ctx(d: &Desired, mode: Mode) -> PlanContext {
    PlanContext {
        stack: d.stack.clone(),
        stack_tags: d.tags.clone(),
        mode,
        delete_data: false,
        account: ACCOUNT.into(),
        region: REGION.into(),
        image_tag: None,
    }
}

/// The plan the planner makes of `observed`.
pub fn plan(cx: &PlanContext, d: &Desired, observed: &Everything) -> Plan {
    let mut plan = Plan::default();
    crate::reconcile::diff(cx, d, observed, &mut plan).expect("planned");
    plan
}

/// A made-up AWS id for an address: `subnet-public-a`, `arn:…:target_group/x`.
pub fn id(kind: Kind, name: &str) -> String {
    format!("{}-{name}", kind.as_str())
}

fn owned<F>(d: &Desired, kind: Kind, name: &str, fields: F) -> Observed<F> {
    Observed { name: name.into(), id: id(kind, name), tags: tags(d, kind, name), fields }
}

pub fn tags(d: &Desired, kind: Kind, name: &str) -> Tags {
    desired_tags(&d.stack, &d.tags, &Address::new(kind, name))
}

fn ids(kind: Kind, names: &[String]) -> BTreeSet<String> {
    names.iter().map(|n| id(kind, n)).collect()
}

/// Everything of the checked-in stack, converged.
pub fn converged(d: &Desired) -> Everything {
    Everything {
        network: network(d),
        edge: edge(d),
        certificates: certificates(d),
        dns: dns(d),
        iam: iam(d),
        ecs: ecs(d),
        runner: runner(d),
        topics: topics(d),
        alarms: alarms(d),
        repositories: repositories(d),
        parameters: parameters(d),
        log_groups: log_groups(d),
        duplicates: Default::default(),
    }
}

fn network(d: &Desired) -> ObservedNetwork {
    let n = d.network.as_ref().expect("network");
    let vpc = VpcFields {
        cidr: n.vpc.cidr.clone(),
        dns_support: true,
        dns_hostnames: true,
        default_group: Some("sg-default".into()),
        default_group_rules: BTreeSet::new(),
    };
    let target = |t: &crate::model::network::RouteTarget| match t {
        crate::model::network::RouteTarget::InternetGateway(g) => id(Kind::InternetGateway, g),
        crate::model::network::RouteTarget::NatGateway(g) => id(Kind::NatGateway, g),
        crate::model::network::RouteTarget::Other(other) => other.clone(),
    };
    ObservedNetwork {
        vpcs: vec![owned(d, Kind::Vpc, &n.vpc.name, vpc)],
        subnets: n
            .subnets
            .iter()
            .map(|s| {
                let fields = SubnetFields {
                    cidr: s.cidr.clone(),
                    availability_zone: s.availability_zone.clone(),
                    map_public_ip: false,
                };
                owned(d, Kind::Subnet, &s.name, fields)
            })
            .collect(),
        internet_gateways: vec![owned(
            d,
            Kind::InternetGateway,
            &n.internet_gateway,
            GatewayFields { attached_to: vec![id(Kind::Vpc, &n.vpc.name)] },
        )],
        elastic_ips: n.nat_gateways.iter().map(|g| owned(d, Kind::ElasticIp, &g.name, ElasticIpFields)).collect(),
        nat_gateways: n
            .nat_gateways
            .iter()
            .map(|g| {
                let fields = NatFields {
                    subnet_id: id(Kind::Subnet, &g.subnet),
                    allocation_id: id(Kind::ElasticIp, &g.name),
                    state: "available".into(),
                };
                owned(d, Kind::NatGateway, &g.name, fields)
            })
            .collect(),
        route_tables: n
            .route_tables
            .iter()
            .map(|t| {
                let fields = RouteTableFields {
                    routes: [("0.0.0.0/0".to_string(), target(&t.default_route))].into(),
                    associations: t.subnets.iter().map(|s| (id(Kind::Subnet, s), format!("rtbassoc-{s}"))).collect(),
                };
                owned(d, Kind::RouteTable, &t.name, fields)
            })
            .collect(),
        security_groups: n
            .security_groups
            .iter()
            .map(|g| {
                let rules = n.security_group_rules.iter().find(|r| r.group == g.name).expect("rules");
                let fields = SecurityGroupFields {
                    description: g.description.clone(),
                    ingress: rules.ingress.clone(),
                    egress: rules.egress.clone(),
                };
                owned(d, Kind::SecurityGroup, &g.name, fields)
            })
            .collect(),
        flow_logs: n
            .flow_log
            .iter()
            .map(|l| {
                let fields = FlowLogFields {
                    vpc_id: id(Kind::Vpc, &n.vpc.name),
                    traffic: l.traffic.clone(),
                    log_group: l.log_group.clone(),
                    role_arn: format!("arn:aws:iam::{ACCOUNT}:role/containrlab/{}", l.role),
                    max_aggregation_seconds: l.max_aggregation_seconds,
                };
                owned(d, Kind::FlowLog, &l.name, fields)
            })
            .collect(),
    }
}

fn edge(d: &Desired) -> ObservedEdge {
    let e = d.ingress.as_ref().expect("edge");
    let lb = &e.load_balancer;
    let attributes: BTreeMap<String, String> = crate::reconcile::elb::lb_attributes(lb);
    let lb_fields = LoadBalancerFields {
        scheme: lb.scheme.clone(),
        dns_name: LB_DNS.into(),
        subnet_ids: lb.subnets.iter().map(|s| id(Kind::Subnet, s)).collect(),
        security_group_ids: lb.security_groups.iter().map(|g| id(Kind::SecurityGroup, g)).collect(),
        state: "active".into(),
        attributes,
    };
    let lb_tags = tags(d, Kind::LoadBalancer, &lb.name);
    ObservedEdge {
        load_balancers: vec![owned(d, Kind::LoadBalancer, &lb.name, lb_fields)],
        target_groups: e
            .target_groups
            .iter()
            .map(|t| {
                let h = &t.health_check;
                let fields = TargetGroupFields {
                    aws_name: t.name.clone(),
                    port: i32::from(t.port),
                    protocol: t.protocol.clone(),
                    target_type: t.target_type.clone(),
                    vpc_id: id(Kind::Vpc, &d.stack),
                    health_path: h.path.clone(),
                    health_interval: h.interval_seconds as i32,
                    health_timeout: h.timeout_seconds as i32,
                    healthy_threshold: h.healthy_threshold as i32,
                    unhealthy_threshold: h.unhealthy_threshold as i32,
                    matcher: h.matcher.clone(),
                    deregistration_delay: Some(t.deregistration_delay_seconds.to_string()),
                };
                owned(d, Kind::TargetGroup, &t.name, fields)
            })
            .collect(),
        listeners: e
            .listeners
            .iter()
            .map(|l| {
                let (ssl_policy, certificate_arns) = match &l.action {
                    ListenerAction::Https { ssl_policy, certificate, .. } => {
                        (Some(ssl_policy.clone()), vec![id(Kind::Certificate, certificate)])
                    }
                    ListenerAction::RedirectToHttps => (None, vec![]),
                };
                let fields = ListenerFields {
                    port: i32::from(l.port),
                    ssl_policy,
                    certificate_arns,
                    default_action: crate::reconcile::elb::describe_action(&l.action),
                };
                shared(&lb_tags, Kind::Listener, &l.name, fields)
            })
            .collect(),
        rules: e
            .rules
            .iter()
            .map(|r| {
                let fields = RuleFields {
                    priority: r.priority.to_string(),
                    target_group_arns: vec![id(Kind::TargetGroup, &r.target_group)],
                };
                shared(&lb_tags, Kind::ListenerRule, &r.host, fields)
            })
            .collect(),
    }
}

/// Listeners and rules carry their load balancer's tags (their ownership).
fn shared<F>(lb_tags: &Tags, kind: Kind, name: &str, fields: F) -> Observed<F> {
    Observed { name: name.into(), id: id(kind, name), tags: lb_tags.clone(), fields }
}

fn certificates(d: &Desired) -> Vec<Observed<CertificateFields>> {
    let c = d.ingress.as_ref().and_then(|e| e.certificate.as_ref()).expect("certificate");
    let mut sans: Vec<String> = c.subject_alternative_names.iter().filter(|s| **s != c.domain).cloned().collect();
    sans.sort();
    let validation = vec![(format!("_x.{}.", c.domain), "_y.acm-validations.aws.".to_string())];
    let fields = CertificateFields {
        domain: c.domain.clone(),
        subject_alternative_names: sans,
        status: "ISSUED".into(),
        validation,
        zone: None,
        validation_present: None,
        not_after: None,
    };
    vec![owned(d, Kind::Certificate, &c.domain, fields)]
}

fn dns(d: &Desired) -> ObservedDns {
    let z = d.dns.as_ref().expect("dns");
    let alias = Alias { dns_name: LB_DNS.into(), zone_id: "Z35SXDOTRQ7X7K".into(), evaluate_target_health: true };
    ObservedDns {
        zone: Some(Zone {
            name: z.zone.clone(),
            id: "Z0STACK".into(),
            tags: tags(d, Kind::HostedZone, &z.zone),
            caller_reference: "made-by-hand".into(),
        }),
        records: z.records.iter().map(|r| (r.clone(), alias.clone())).collect(),
        cnames: [(format!("_x.{}", z.zone), "_y.acm-validations.aws".to_string())].into(),
    }
}

fn iam(d: &Desired) -> ObservedIam {
    let i = d.iam.as_ref().expect("iam");
    let roles = i
        .roles
        .iter()
        .map(|r| {
            let fields = RoleFields {
                trust: Some(canonical_policy(&r.trust.document(ACCOUNT))),
                description: r.description.clone(),
                managed: r.managed_policies.clone(),
                inline: r
                    .inline_policies
                    .iter()
                    .map(|(n, doc)| (n.clone(), canonical_policy(&resolve_document(doc, ACCOUNT, REGION))))
                    .collect(),
                instance_profile: r.instance_profile,
            };
            let mut role = owned(d, Kind::IamRole, &r.name, fields);
            role.id = format!("arn:aws:iam::{ACCOUNT}:role/containrlab/{}", r.name);
            role
        })
        .collect();
    let oidc = i.github_oidc.then(|| OidcProvider {
        arn: format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB_OIDC_HOST}"),
        tags: tags(d, Kind::IamOidcProvider, GITHUB_OIDC_HOST),
    });
    ObservedIam { roles, oidc }
}

/// A task definition as registered: the template resolved with `IMAGE_TAG`.
pub fn registered(template: &Value) -> Value {
    resolve_task_definition(template, &Placeholders { account: ACCOUNT, region: REGION, image_tag: IMAGE_TAG })
}

fn ecs(d: &Desired) -> ObservedEcs {
    let clusters = d
        .clusters
        .iter()
        .map(|c| {
            let fields = ClusterFields {
                container_insights: if c.container_insights { "enabled" } else { "disabled" }.into(),
                capacity_providers: d
                    .ec2_capacity
                    .iter()
                    .filter(|e| e.cluster == c.name)
                    .map(|e| e.cluster.clone())
                    .collect(),
            };
            owned(d, Kind::EcsCluster, &c.name, fields)
        })
        .collect();
    let families = d
        .services
        .iter()
        .map(|s| {
            let family = &s.task_definition.family;
            let fields = TaskDefinitionFields { revision: 1, json: registered(&s.task_definition.json) };
            let mut td = owned(d, Kind::TaskDefinition, family, fields);
            td.id = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:1");
            td
        })
        .collect::<Vec<_>>();
    let services = d
        .services
        .iter()
        .map(|s| {
            let fields = ServiceFields {
                cluster: s.cluster.clone(),
                launch_type: s.launch_type.clone(),
                desired_count: s.desired_count,
                task_definition_arn: format!(
                    "arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{}:1",
                    s.task_definition.family
                ),
                subnets: ids(Kind::Subnet, &s.subnets),
                security_groups: ids(Kind::SecurityGroup, &s.security_groups),
                assign_public_ip: (!s.subnets.is_empty()).then_some(s.assign_public_ip),
                load_balancers: s
                    .load_balancers
                    .iter()
                    .map(|l| (id(Kind::TargetGroup, &l.target_group), l.container.clone(), l.port))
                    .collect(),
                circuit_breaker: Some(if s.circuit_breaker_rollback { "rollback" } else { "enabled" }.into()),
                rollback_alarms: Some(s.rollback_alarms.iter().cloned().collect()),
                exec: s.exec,
            };
            owned(d, Kind::EcsService, &s.name, fields)
        })
        .collect();
    let owned_revisions = families.iter().map(|f| (f.name.clone(), vec![f.id.clone()])).collect();
    ObservedEcs { clusters, services, families, running: BTreeMap::new(), owned_revisions, images: BTreeMap::new() }
}

fn runner(d: &Desired) -> ObservedRunner {
    let cx = ctx(d, Mode::Converge);
    let mut r = ObservedRunner::default();
    for c in &d.ec2_capacity {
        r.amis.insert(c.ami_parameter.clone(), AMI.into());
        let lt = LaunchTemplateFields {
            default_version: 1,
            image_id: AMI.into(),
            instance_type: c.instance_type.clone(),
            instance_profile: c.instance_role.clone(),
            security_groups: ids(Kind::SecurityGroup, &c.security_groups),
            metadata: "http_tokens=required, hop_limit=1".into(),
            root_volume: format!("{} GiB gp3, encrypted", c.root_volume_gib),
            user_data: c.user_data.clone(),
        };
        r.launch_templates.push(owned(d, Kind::LaunchTemplate, &c.cluster, lt));
        let n = c.instance_count;
        let mut group_tags = cx.tags(&Address::new(Kind::AutoScalingGroup, &c.cluster));
        group_tags.insert("Name".into(), c.cluster.clone());
        group_tags.insert("AmazonECSManaged".into(), "true".into());
        let group = GroupFields {
            launch_template: c.cluster.clone(),
            version: "1".into(),
            size: format!("min {n}, max {n}, desired {n}"),
            subnets: ids(Kind::Subnet, &c.subnets),
            instances: vec!["i-0runner".into()],
        };
        let mut g = owned(d, Kind::AutoScalingGroup, &c.cluster, group);
        g.tags = group_tags;
        // A group's id is its ARN, which its capacity provider names.
        g.id = format!("arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:x:autoScalingGroupName/{}", c.cluster);
        let cp = CapacityProviderFields { group_arn: g.id.clone(), managed_scaling: "disabled".into() };
        r.groups.push(g);
        r.capacity_providers.push(owned(d, Kind::CapacityProvider, &c.cluster, cp));
    }
    r
}

/// The topic's ARN as SNS forms it (what its id is).
fn topic_arn(name: &str) -> String {
    format!("arn:aws:sns:{REGION}:{ACCOUNT}:{name}")
}

fn topics(d: &Desired) -> Vec<ObservedTopic> {
    let topic = |t: &Topic| ObservedTopic {
        name: t.name.clone(),
        arn: topic_arn(&t.name),
        tags: tags(d, Kind::SnsTopic, &t.name),
        emails: t.emails.iter().map(|e| (e.clone(), Some(format!("{}:{e}", topic_arn(&t.name))))).collect(),
    };
    d.notifications.iter().map(topic).collect()
}

fn alarms(d: &Desired) -> Vec<Observed<AlarmFields>> {
    let ids = crate::reconcile::Ids::from_map(
        d.alarms.iter().flat_map(|a| a.dimension_ids.values()).map(|a| (a.clone(), id(a.kind, &a.name))).collect(),
    );
    d.alarms
        .iter()
        .map(|a| {
            let fields = AlarmFields {
                description: a.description.clone(),
                namespace: a.namespace.clone(),
                metric: a.metric.clone(),
                statistic: a.statistic.clone(),
                period_seconds: a.period_seconds,
                evaluation_periods: a.evaluation_periods,
                threshold: a.threshold,
                comparison: a.comparison.clone(),
                dimensions: crate::reconcile::alarms::dimensions(a, &ids, |_| false)
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
                treat_missing_data: a.treat_missing_data.clone(),
                alarm_actions: a.notify.iter().map(|t| topic_arn(t)).collect(),
                ok_actions: a.notify.iter().map(|t| topic_arn(t)).collect(),
            };
            owned(d, Kind::Alarm, &a.name, fields)
        })
        .collect()
}

fn repositories(d: &Desired) -> Vec<ObservedRepository> {
    d.repositories
        .iter()
        .map(|r| ObservedRepository {
            name: r.name.clone(),
            arn: id(Kind::EcrRepository, &r.name),
            tags: tags(d, Kind::EcrRepository, &r.name),
            scan_on_push: r.scan_on_push,
            tag_mutability: r.tag_mutability.clone(),
            lifecycle: r.keep_last_images.map(LifecyclePolicy::KeepLast),
            holds_images: false,
        })
        .collect()
}

fn parameters(d: &Desired) -> Vec<ObservedParameter> {
    d.parameters
        .iter()
        .map(|p| ObservedParameter {
            name: p.name.clone(),
            type_name: p.value.type_name().into(),
            description: p.description.clone(),
            value: Some(match &p.value {
                ParameterValue::Plain(v) => ObservedValue::Plain(v.clone()),
                ParameterValue::Secret { value, .. } => ObservedValue::Secret(value.clone().expect("secret set")),
            }),
            version: 1,
            tags: tags(d, Kind::SsmParameter, &p.name),
        })
        .collect()
}

fn log_groups(d: &Desired) -> Vec<ObservedLogGroup> {
    d.log_groups
        .iter()
        .map(|g| ObservedLogGroup {
            name: g.name.clone(),
            arn: id(Kind::LogGroup, &g.name),
            retention_days: g.retention_days,
            tags: tags(d, Kind::LogGroup, &g.name),
        })
        .collect()
}
