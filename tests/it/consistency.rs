//! AWS's eventual consistency, reproduced by the consistency proxy (`lag_proxy`) since moto is
//! always consistent: one lag per rule of the tool's `src/model/consistency/rules.rs`, each with AWS's
//! own error code and message (from AWS's documentation and terraform-provider-aws's retries)
//! or AWS's 200 answer while it catches up. One test per rule: the run that meets the lag
//! finishes with exit 0, the proxy answered with the lag, and the tool recorded a wait under
//! that rule's name that ended with AWS caught up. `every_rule_at_once_*` turns them all on for
//! `up` from empty → `down --delete-data` → `up` → `diff --exit-code`.

use std::time::Duration;

use super::lag_proxy::{Answer, Lag, LagProxy};
use super::support::*;

/// How long each lag lasts once met: a few of the tool's polls (1 s, 2 s, 3 s …).
const WINDOW: Duration = Duration::from_secs(3);

const fn error(code: &'static str, message: &'static str) -> Answer {
    Answer::Error { status: 400, code, message }
}

/// Every lag, by the tool's rule name.
pub fn lags() -> Vec<Lag> {
    let lag = |rule, after, calls, answer| Lag { rule, after, calls, when: None, answer, window: WINDOW };
    let when = |l: Lag, text| Lag { when: Some(text), ..l };
    vec![
        lag("flow-log-role", &["CreateRole"], &["CreateFlowLogs"], error("InvalidParameter", "Unable to assume given IAM role, arn:aws:iam::123456789012:role/containrlab/vpcFlowLogsRole")),
        lag("task-definition-role", &["CreateRole"], &["RegisterTaskDefinition"], error("ClientException", "Role is not valid")),
        lag("task-definition-pass-role", &["CreateRole"], &["RegisterTaskDefinition"], error("AccessDeniedException", "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/containrlab/ecsTaskExecutionRole")),
        lag("service-role", &["CreateRole"], &["CreateService"], error("InvalidParameterException", "Unable to assume role and validate the specified targetGroupArn. Please verify that the ECS service role being passed has the proper permissions.")),
        lag("service-target-group-attached", &["CreateRule"], &["CreateService"], error("InvalidParameterException", "The target group with targetGroupArn arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/containrlab-api-tg/1 does not have an associated load balancer.")),
        lag("service-cluster-visible", &["CreateCluster"], &["CreateService"], error("ClusterNotFoundException", "Cluster not found.")),
        lag("group-instance-profile", &["AddRoleToInstanceProfile"], &["CreateAutoScalingGroup"], error("ValidationError", "You must use a valid fully-formed launch template. Value (ecsInstanceRole) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")),
        lag("instance-profile-role", &["CreateInstanceProfile"], &["AddRoleToInstanceProfile"], Answer::Error { status: 404, code: "NoSuchEntity", message: "Instance Profile ecsInstanceRole cannot be found." }),
        lag("trust-principal", &["CreateOpenIDConnectProvider"], &["CreateRole"], error("MalformedPolicyDocument", "Invalid principal in policy: Federated arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com")),
        lag("ecs-service-linked-role", &[], &["CreateCluster"], error("InvalidParameterException", "Unable to assume the service linked role. Please verify that the ECS service linked role exists.")),
        when(lag("listener-certificate", &["RequestCertificate"], &["CreateListener"], error("CertificateNotFound", "Certificate 'arn:aws:acm:us-east-1:123456789012:certificate/1' not found")), "Certificates"),
        lag("vpc-visible", &["CreateVpc"], &["ModifyVpcAttribute"], error("InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist")),
        lag("internet-gateway-visible", &["CreateInternetGateway"], &["AttachInternetGateway"], error("InvalidInternetGatewayID.NotFound", "The internetGateway ID 'igw-1' does not exist")),
        lag("route-table-visible", &["CreateRouteTable"], &["CreateRoute", "AssociateRouteTable"], error("InvalidRouteTableID.NotFound", "The routeTable ID 'rtb-1' does not exist")),
        lag("subnet-visible", &["CreateSubnet"], &["AssociateRouteTable", "CreateNatGateway"], error("InvalidSubnetID.NotFound", "The subnet ID 'subnet-1' does not exist")),
        when(lag("security-group-visible", &["CreateSecurityGroup"], &["DescribeSecurityGroups", "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"], error("InvalidGroup.NotFound", "The security group 'sg-1' does not exist")), "GroupId"),
        lag("elastic-ip-visible", &["AllocateAddress"], &["CreateNatGateway"], error("InvalidAllocationID.NotFound", "The allocation ID 'eipalloc-1' does not exist")),
        when(lag("nat-gateway-visible", &["CreateNatGateway"], &["DescribeNatGateways"], Answer::EmptySet("natGatewaySet")), "nat-gateway-id"),
        when(lag("default-group-listed", &["CreateVpc"], &["DescribeSecurityGroups"], Answer::EmptySet("securityGroupInfo")), "group-name"),
        lag("target-group-released", &["DeleteListener", "DeleteRule"], &["DeleteTargetGroup"], error("ResourceInUse", "Target group 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/containrlab-api-tg/1' is currently in use by a listener or a rule")),
        lag("certificate-released", &["DeleteListener"], &["DeleteCertificate"], error("ResourceInUseException", "Certificate arn:aws:acm:us-east-1:123456789012:certificate/1 in account 123456789012 is in use.")),
        lag("network-interfaces-released", &["DeleteLoadBalancer"], &["DeleteSubnet", "DeleteSecurityGroup", "DetachInternetGateway", "DeleteVpc"], error("DependencyViolation", "The subnet 'subnet-1' has dependencies and cannot be deleted.")),
        lag("internet-gateway-detached", &["DetachInternetGateway"], &["DeleteInternetGateway"], error("DependencyViolation", "The internetGateway 'igw-1' has dependencies and cannot be deleted.")),
        lag("cluster-emptied", &["DeleteService"], &["DeleteCluster"], error("ClusterContainsServicesException", "The Cluster cannot be deleted while Services are active.")),
        lag("group-scaling-activity", &[], &["DeleteAutoScalingGroup"], error("ScalingActivityInProgress", "You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group.")),
        lag("service-deployment-active", &["UpdateService"], &["DeleteService"], error("InvalidParameterException", "The service cannot be stopped while deployments are active.")),
        lag("cluster-update-in-progress", &["CreateCapacityProvider"], &["PutClusterCapacityProviders"], error("UpdateInProgressException", "The specified cluster is in a busy state. Cluster attachments must be in UPDATE_COMPLETE or UPDATE_FAILED state before they can be updated. Wait and try again.")),
        lag("capacity-provider-deleting", &["DeleteCapacityProvider"], &["DescribeCapacityProviders", "CreateCapacityProvider"], Answer::Deleting),
        lag("service-visible", &["CreateService"], &["DescribeServices"], Answer::Missing),
    ]
}

fn lag(rule: &str) -> Lag {
    lags().into_iter().find(|l| l.rule == rule).unwrap_or_else(|| panic!("no lag for rule {rule}"))
}

/// The tool's waits under `rule`, as `(outcome, lagged answers)`.
fn waits_under(run: &Run, rule: &str) -> Vec<(String, u64)> {
    run.waits
        .iter()
        .filter(|w| w["rule"] == rule)
        .map(|w| (w["outcome"].as_str().unwrap_or_default().to_string(), w["lagged"].as_u64().unwrap_or(0)))
        .collect()
}

/// The run met the lag of `rule` and waited it out.
#[track_caller]
fn waited_out(run: &Run, proxy: &LagProxy, rule: &str) {
    run.expect_code(0);
    assert!(proxy.hits(rule) > 0, "the proxy never answered with {rule}: the run did not meet it\n{}", run.stderr);
    let waits = waits_under(run, rule);
    assert!(
        !waits.is_empty() && waits.iter().all(|(outcome, lagged)| outcome == "caught up" && *lagged > 0),
        "waits under {rule}: {waits:?} (all: {:?})",
        run.waits
    );
}

/// `up --target TARGET` through the proxy with only `rule`'s lag on.
fn up_meets(rule: &str, target: &str) {
    let env = Env::new();
    let proxy = LagProxy::start(&env.moto.endpoint, vec![lag(rule)]);
    let run = env.run_at(&proxy.endpoint, &["up", "--yes", "--target", target]);
    waited_out(&run, &proxy, rule);
}

/// `up` straight to moto, then `down --delete-data` through the proxy with only `rule`'s lag on.
fn down_meets(rule: &str) {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    let proxy = LagProxy::start(&env.moto.endpoint, vec![lag(rule)]);
    let run = env.run_at(&proxy.endpoint, &["down", "--yes", "--delete-data"]);
    waited_out(&run, &proxy, rule);
}

macro_rules! met_by_up {
    ($($test:ident: $rule:literal at $target:literal;)*) => {$(
        #[test]
        fn $test() {
            up_meets($rule, $target);
        }
    )*};
}

macro_rules! met_by_down {
    ($($test:ident: $rule:literal;)*) => {$(
        #[test]
        fn $test() {
            down_meets($rule);
        }
    )*};
}

met_by_up! {
    a_flow_log_waits_for_its_new_delivery_role: "flow-log-role" at "flow_log.containrlab";
    a_task_definition_waits_for_its_new_roles: "task-definition-role" at "task_definition.containrlab-task";
    a_task_definition_waits_until_its_roles_may_be_passed: "task-definition-pass-role" at "task_definition.containrlab-runner";
    a_service_waits_until_ecs_can_assume_its_role: "service-role" at "ecs_service.containrlab-service";
    a_service_waits_until_its_target_group_is_attached: "service-target-group-attached" at "ecs_service.containrlab-service";
    a_service_waits_until_its_cluster_is_visible: "service-cluster-visible" at "ecs_service.containrlab-service";
    a_group_waits_for_its_new_instance_profile: "group-instance-profile" at "autoscaling_group.containrlab-runner-ec2";
    an_instance_profile_waits_for_its_new_role: "instance-profile-role" at "iam_role.ecsInstanceRole";
    a_trust_waits_for_its_new_oidc_provider: "trust-principal" at "iam_role.github-actions-deploy";
    a_first_cluster_waits_for_ecs_s_service_linked_role: "ecs-service-linked-role" at "ecs_cluster.containrlab-cluster";
    the_https_listener_waits_until_elb_sees_the_certificate: "listener-certificate" at "listener.https";
    the_vpc_settings_wait_until_ec2_sees_the_vpc: "vpc-visible" at "vpc.containrlab";
    the_gateway_attach_waits_until_ec2_sees_the_gateway: "internet-gateway-visible" at "internet_gateway.containrlab";
    a_route_waits_until_ec2_sees_its_table: "route-table-visible" at "route_table.public";
    an_association_waits_until_ec2_sees_the_subnet: "subnet-visible" at "route_table.public";
    rules_wait_until_ec2_sees_their_group: "security-group-visible" at "security_group_rules.alb-sg";
    a_nat_gateway_waits_until_ec2_sees_its_address: "elastic-ip-visible" at "nat_gateway.public-a";
    a_nat_gateway_not_listed_yet_is_waited_for: "nat-gateway-visible" at "nat_gateway.public-a";
    a_new_vpc_s_default_group_is_waited_for_not_skipped: "default-group-listed" at "vpc.containrlab";
    the_provider_s_association_waits_for_the_cluster_s_update: "cluster-update-in-progress" at "capacity_provider.containrlab-runner-ec2";
    a_new_service_reported_missing_is_waited_for: "service-visible" at "ecs_service.containrlab-service";
}

met_by_down! {
    a_target_group_waits_until_its_listener_lets_go: "target-group-released";
    the_certificate_waits_until_acm_sees_its_listener_gone: "certificate-released";
    subnets_and_groups_wait_for_network_interfaces_to_drain: "network-interfaces-released";
    the_gateway_delete_waits_for_its_detach: "internet-gateway-detached";
    a_cluster_waits_until_its_services_are_drained: "cluster-emptied";
    a_group_waits_for_its_scaling_activity: "group-scaling-activity";
    a_service_waits_for_its_deployment_to_let_go: "service-deployment-active";
    a_capacity_provider_is_deleted_when_ecs_says_so: "capacity-provider-deleting";
}

/// Every rule of the tool has a lag here and a test that meets it.
#[test]
fn every_consistency_rule_is_reproduced_and_tested() {
    let table = include_str!("../../src/model/consistency/rules.rs");
    let rules: Vec<&str> =
        table.lines().filter_map(|l| l.trim().strip_prefix("name: \"")?.strip_suffix("\",")).collect();
    assert!(rules.len() >= 25, "read the rule names from src/model/consistency/rules.rs: {rules:?}");
    let here = include_str!("consistency.rs");
    let lagged: Vec<&str> = lags().iter().map(|l| l.rule).collect();
    for rule in &rules {
        assert!(lagged.contains(rule), "no lag reproduces rule {rule}");
        let tested = here.contains(&format!("\"{rule}\" at")) || here.contains(&format!("\"{rule}\";"));
        assert!(tested, "no test meets rule {rule}");
    }
    for rule in &lagged {
        assert!(rules.contains(rule), "lag {rule} names no rule of the tool");
    }
}

/// `down` seconds after `up`: ECS does not list the new services yet although the tagging API
/// does. They are read again until listed, never dropped from the plan.
#[test]
fn a_young_stacks_down_reads_its_new_services_again_until_ecs_lists_them() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    let missing = Lag { after: &[], ..lag("service-visible") };
    let proxy = LagProxy::start(&env.moto.endpoint, vec![missing]);
    let run = env.run_at(&proxy.endpoint, &["--json", "down", "--yes", "--delete-data"]);
    waited_out(&run, &proxy, "service-visible");
    let json = run.json();
    let planned = actions(&json["plan"]);
    for service in ["ecs_service.containrlab-service", "ecs_service.containrlab-runner-service"] {
        assert!(planned.contains(&(service.to_string(), "delete".to_string())), "{service} not planned: {planned:?}");
    }
    assert_eq!(planned.len(), 73, "{planned:?}");
    assert_eq!(json["converged"], true, "{}", run.stdout);
}

/// A capacity provider deleted moments ago (by hand, or by a `down` that was stopped) still
/// holds its name: `up` waits for ECS to finish that delete, then creates its own.
#[test]
fn a_provider_of_the_same_name_still_deleting_is_waited_for_before_the_create() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    let proxy = LagProxy::start(
        &env.moto.endpoint,
        vec![Lag { window: Duration::from_secs(4), ..lag("capacity-provider-deleting") }],
    );
    let ecs = aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::config::Builder::from(&env.sdk()).endpoint_url(&proxy.endpoint).build(),
    );
    let name = "containrlab-runner-ec2";
    env.block_on(async {
        let detach = ecs.put_cluster_capacity_providers().cluster(name).set_capacity_providers(Some(vec![]));
        detach.set_default_capacity_provider_strategy(Some(vec![])).send().await.expect("detached");
        ecs.delete_capacity_provider().capacity_provider(name).send().await.expect("deleted");
    });
    let run = env.run_at(&proxy.endpoint, &["up", "--yes"]);
    waited_out(&run, &proxy, "capacity-provider-deleting");
    assert_eq!(run.calls.get("ECS:CreateCapacityProvider"), Some(&2), "refused once, then made: {:?}", run.calls);
    env.run(&["diff", "--exit-code"]).expect_code(0);
}

/// Every lag at once, as a first `up` into a new account meets them: `up` from empty, `down
/// --delete-data` right after, `up` again at once, then `diff --exit-code`. Each run exits 0 on
/// its first try; nothing the stack owns is left after the `down`.
#[test]
fn every_rule_at_once_up_down_up_converges_on_the_first_try() {
    let env = Env::new();
    let proxy = LagProxy::start(&env.moto.endpoint, lags());
    let at = proxy.endpoint.clone();
    let started = std::time::Instant::now();
    let up = env.run_at(&at, &["up", "--yes"]);
    up.expect_code(0);
    let down = env.run_at(&at, &["down", "--yes", "--delete-data"]);
    down.expect_code(0);
    let left = env.run_at(&at, &["--json", "diff"]);
    assert!(
        actions(&left.json()).iter().all(|(_, action)| action == "create"),
        "down left something of the stack: {}",
        left.stdout
    );
    let again = env.run_at(&at, &["up", "--yes"]);
    again.expect_code(0);
    env.run_at(&at, &["diff", "--exit-code"]).expect_code(0);
    // What each rule cost: the figures the note reports.
    for (name, run) in [("up", &up), ("down", &down), ("up again", &again)] {
        let mut per_rule: std::collections::BTreeMap<String, (u64, f64)> = Default::default();
        for w in &run.waits {
            let e = per_rule.entry(w["rule"].as_str().unwrap_or_default().to_string()).or_default();
            e.0 += w["lagged"].as_u64().unwrap_or(0);
            e.1 += w["seconds"].as_f64().unwrap_or(0.0);
            assert_eq!(w["outcome"], "caught up", "{name}: {w}");
        }
        eprintln!("{name}: {} waits, {per_rule:?}", run.waits.len());
    }
    eprintln!("all three runs: {:.0}s", started.elapsed().as_secs_f64());
    let met: Vec<&str> = lags().iter().map(|l| l.rule).filter(|r| proxy.hits(r) > 0).collect();
    eprintln!("lags met: {} of {}: {met:?}", met.len(), lags().len());
    assert_eq!(met.len(), lags().len(), "every lag is met on this path: {met:?}");
    let waited = |rule: &str| [&up, &down, &again].iter().any(|r| r.waits.iter().any(|w| w["rule"] == rule));
    let unrecorded: Vec<&&str> = met.iter().filter(|r| !waited(r)).collect();
    assert!(unrecorded.is_empty(), "lags met but no wait recorded under their rule: {unrecorded:?}");
}
