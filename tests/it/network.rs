//! The network against moto: it comes up and converges, drift in rules, routes and subnets is shown
//! exactly and repaired, the flow log is re-created and replaced, a crash right after the NAT
//! gateway create leaves no duplicate, and `down` removes it all but leaves an untagged VPC alone.

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, NatGatewayState};
use aws_sdk_ec2::Client as Ec2;

use crate::support::{actions, Env};

fn owned() -> Filter {
    Filter::builder().name("tag:containrlab:stack").values("containrlab").build()
}

fn by_address(address: &str) -> Filter {
    Filter::builder().name("tag:containrlab:address").values(address).build()
}

fn group_id(env: &Env, ec2: &Ec2, name: &str) -> String {
    let out = env
        .block_on(ec2.describe_security_groups().filters(by_address(&format!("security_group.{name}"))).send())
        .expect("groups");
    out.security_groups()[0].group_id().expect("id").to_string()
}

/// Counts of the stack's network resources: (VPCs, subnets, gateways, live NAT gateways, EIPs, route tables, groups).
fn counts(env: &Env, ec2: &Ec2) -> (usize, usize, usize, usize, usize, usize, usize) {
    env.block_on(async {
        let vpcs = ec2.describe_vpcs().filters(owned()).send().await.expect("vpcs").vpcs().len();
        let subnets = ec2.describe_subnets().filters(owned()).send().await.expect("subnets").subnets().len();
        let igws =
            ec2.describe_internet_gateways().filters(owned()).send().await.expect("igws").internet_gateways().len();
        let nats = ec2.describe_nat_gateways().filter(owned()).send().await.expect("nats");
        let live = nats
            .nat_gateways()
            .iter()
            .filter(|g| matches!(g.state(), Some(NatGatewayState::Pending | NatGatewayState::Available)))
            .count();
        let eips = ec2.describe_addresses().filters(owned()).send().await.expect("eips").addresses().len();
        let tables = ec2.describe_route_tables().filters(owned()).send().await.expect("tables").route_tables().len();
        let groups =
            ec2.describe_security_groups().filters(owned()).send().await.expect("groups").security_groups().len();
        (vpcs, subnets, igws, live, eips, tables, groups)
    })
}

#[test]
fn the_network_converges_and_drift_is_shown_exactly_and_repaired() {
    let env = Env::new();
    let ec2 = Ec2::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    assert_eq!(counts(&env, &ec2), (1, 4, 1, 1, 1, 2, 3));
    env.run(&["diff", "--exit-code"]).expect_code(0);
    let again = env.run(&["up", "--yes"]);
    again.expect_code(0);
    assert!(again.mutating_calls().is_empty(), "{:?}", again.mutating_calls());

    // SSH opened to the world on runner-sg by hand: exactly that rule, flagged as an access change.
    let runner = group_id(&env, &ec2, "runner-sg");
    let ssh = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    env.block_on(ec2.authorize_security_group_ingress().group_id(&runner).ip_permissions(ssh).send())
        .expect("open ssh");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(3);
    let plan = diff.json();
    assert_eq!(actions(&plan), vec![("security_group_rules.runner-sg".to_string(), "update".to_string())]);
    let change = &plan["changes"][0];
    assert_eq!(change["widens_access"], true);
    assert_eq!(change["fields"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (&change["fields"][0]["path"], &change["fields"][0]["before"], &change["fields"][0]["after"]),
        (&"ingress".into(), &"tcp 22 0.0.0.0/0".into(), &serde_json::Value::Null)
    );
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(
        repair.mutating_calls().into_iter().collect::<Vec<_>>(),
        vec![("EC2:RevokeSecurityGroupIngress".to_string(), 1)]
    );
    env.run(&["diff", "--exit-code"]).expect_code(0);

    // The private default route deleted by hand: restored.
    let tables =
        env.block_on(ec2.describe_route_tables().filters(by_address("route_table.private")).send()).expect("tables");
    let private = tables.route_tables()[0].route_table_id().expect("id").to_string();
    env.block_on(ec2.delete_route().route_table_id(&private).destination_cidr_block("0.0.0.0/0").send())
        .expect("delete route");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    let plan = diff.json();
    assert_eq!(actions(&plan), vec![("route_table.private".to_string(), "update".to_string())]);
    assert_eq!(plan["changes"][0]["fields"][0]["path"], "routes.0.0.0.0/0");
    assert_eq!(plan["changes"][0]["fields"][0]["after"], "nat_gateway.public-a");
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(repair.mutating_calls().into_iter().collect::<Vec<_>>(), vec![("EC2:CreateRoute".to_string(), 1)]);
    env.run(&["diff", "--exit-code"]).expect_code(0);

    // A subnet deleted by hand: re-created and associated with its route table again.
    let subnets = env.block_on(ec2.describe_subnets().filters(by_address("subnet.private-b")).send()).expect("subnets");
    let old = subnets.subnets()[0].subnet_id().expect("id").to_string();
    let association = tables.route_tables()[0]
        .associations()
        .iter()
        .find(|a| a.subnet_id() == Some(old.as_str()))
        .and_then(|a| a.route_table_association_id())
        .map(str::to_string);
    if let Some(association) = association {
        env.block_on(ec2.disassociate_route_table().association_id(association).send()).expect("disassociate");
    }
    env.block_on(ec2.delete_subnet().subnet_id(&old).send()).expect("delete subnet");
    // Re-created, associated again, and what runs in it (the runner's group, the Fargate service)
    // moves to the new subnet.
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    assert_eq!(
        actions(&diff.json()),
        [
            ("subnet.private-b", "create"),
            ("route_table.private", "update"),
            ("autoscaling_group.containrlab-runner-ec2", "update"),
            ("ecs_service.containrlab-service", "update"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    env.run(&["up", "--yes"]).expect_code(0);
    env.run(&["diff", "--exit-code"]).expect_code(0);
    let tables = env.block_on(ec2.describe_route_tables().route_table_ids(&private).send()).expect("tables");
    assert_eq!(tables.route_tables()[0].associations().iter().filter(|a| a.subnet_id().is_some()).count(), 2);
}

/// The stack's flow logs: (id, traffic type, log group).
fn flow_logs(env: &Env, ec2: &Ec2) -> Vec<(String, String, String)> {
    let out = env.block_on(ec2.describe_flow_logs().filter(owned()).send()).expect("flow logs");
    out.flow_logs()
        .iter()
        .map(|l| {
            let traffic = l.traffic_type().map(|t| t.as_str().to_string()).unwrap_or_default();
            (
                l.flow_log_id().unwrap_or_default().to_string(),
                traffic,
                l.log_group_name().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_flow_log_is_re_created_when_deleted_and_replaced_when_its_traffic_changes() {
    let env = Env::new();
    let ec2 = Ec2::new(&env.sdk());
    env.run(&["up", "--yes"]).expect_code(0);
    let logs = flow_logs(&env, &ec2);
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!((logs[0].1.as_str(), logs[0].2.as_str()), ("ALL", "/vpc/containrlab-flow-logs"));

    // Deleted by hand: created again, with one call.
    env.block_on(ec2.delete_flow_logs().flow_log_ids(&logs[0].0).send()).expect("delete flow log");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(2);
    assert_eq!(actions(&diff.json()), [("flow_log.containrlab".to_string(), "create".to_string())]);
    let repair = env.run(&["up", "--yes"]);
    repair.expect_code(0);
    assert_eq!(repair.mutating_calls().into_iter().collect::<Vec<_>>(), vec![("EC2:CreateFlowLogs".to_string(), 1)]);
    env.run(&["diff", "--exit-code"]).expect_code(0);

    // A flow log cannot be modified: another traffic type replaces it (one flow log remains).
    env.edit_stack("traffic: ALL", "traffic: REJECT");
    let diff = env.run(&["--json", "diff", "--exit-code"]);
    diff.expect_code(3); // a replacement
    assert_eq!(actions(&diff.json()), [("flow_log.containrlab".to_string(), "replace".to_string())]);
    env.run(&["up", "--yes"]).expect_code(0);
    env.run(&["diff", "--exit-code"]).expect_code(0);
    let logs = flow_logs(&env, &ec2);
    assert_eq!(logs.iter().map(|l| l.1.as_str()).collect::<Vec<_>>(), ["REJECT"], "{logs:?}");

    // `down` deletes it with the VPC.
    env.run(&["down", "--yes", "--delete-data"]).expect_code(0);
    assert!(flow_logs(&env, &ec2).is_empty());
}

#[test]
fn down_removes_the_network_and_leaves_an_untagged_vpc_alone() {
    let env = Env::new();
    let ec2 = Ec2::new(&env.sdk());
    let other = env.block_on(ec2.create_vpc().cidr_block("10.9.0.0/16").send()).expect("untagged vpc");
    let other = other.vpc().and_then(|v| v.vpc_id()).expect("id").to_string();
    env.run(&["up", "--yes"]).expect_code(0);
    env.run(&["down", "--yes", "--delete-data"]).expect_code(0);
    assert_eq!(counts(&env, &ec2), (0, 0, 0, 0, 0, 0, 0));
    let left = env.block_on(ec2.describe_vpcs().vpc_ids(&other).send()).expect("untagged vpc still there");
    assert_eq!(left.vpcs().len(), 1);
}

#[test]
fn a_crash_right_after_the_nat_gateway_create_is_finished_without_duplicates() {
    let env = Env::new();
    let ec2 = Ec2::new(&env.sdk());
    let crashed =
        env.run_with(&env.moto.endpoint, &[("CONTAINRLAB_FAILPOINT", "nat_gateway.public-a")], &["up", "--yes"]);
    assert_ne!(crashed.code, 0, "the failpoint should have aborted the run");
    assert!(crashed.stderr.contains("failpoint: nat_gateway.public-a created"), "{}", crashed.stderr);
    let (_, _, _, nats, eips, _, _) = counts(&env, &ec2);
    assert_eq!((nats, eips), (1, 1), "the crash happened after the create");

    env.run(&["up", "--yes"]).expect_code(0);
    let (_, _, _, nats, eips, _, _) = counts(&env, &ec2);
    assert_eq!((nats, eips), (1, 1), "exactly one NAT gateway and one Elastic IP after the next up");
    env.run(&["diff", "--exit-code"]).expect_code(0);
}
