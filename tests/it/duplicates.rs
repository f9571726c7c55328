//! Two resources carrying one address, made behind the tool's back with the emulator's API (as a
//! lost create answer or a hand-made copy would leave them): the one in use is kept, the others
//! are planned as `-` duplicates of it — never a replacement of the live one — and `up`
//! converges; `down` removes every one of them in one run.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use crate::round_trip::owned_leftovers;
use crate::support::{actions, Env};

/// The tags of the live resource `id`, for a copy that claims its address.
fn tags_of(env: &Env, ec2: &aws_sdk_ec2::Client, id: &str) -> Vec<Tag> {
    let found =
        env.block_on(ec2.describe_tags().filters(Filter::builder().name("resource-id").values(id).build()).send());
    found
        .expect("tags")
        .tags()
        .iter()
        .map(|t| Tag::builder().key(t.key().unwrap_or_default()).value(t.value().unwrap_or_default()).build())
        .collect()
}

fn spec(kind: ResourceType, tags: Vec<Tag>) -> TagSpecification {
    TagSpecification::builder().resource_type(kind).set_tags(Some(tags)).build()
}

fn by_address(address: &str) -> Filter {
    Filter::builder().name("tag:containrlab:address").values(address).build()
}

/// Makes a second Elastic IP, VPC and route table carrying the addresses of the live ones;
/// returns the live ids.
fn copy_three(env: &Env) -> (String, String, String) {
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk());
    let eips = env.block_on(ec2.describe_addresses().filters(by_address("elastic_ip.public-a")).send()).expect("eips");
    let live_eip = eips.addresses()[0].allocation_id().expect("id").to_string();
    let vpcs = env.block_on(ec2.describe_vpcs().filters(by_address("vpc.containrlab")).send()).expect("vpcs");
    let live_vpc = vpcs.vpcs()[0].vpc_id().expect("id").to_string();
    let rts = env.block_on(ec2.describe_route_tables().filters(by_address("route_table.public")).send()).expect("rts");
    let live_rt = rts.route_tables()[0].route_table_id().expect("id").to_string();

    let eip_tags = tags_of(env, &ec2, &live_eip);
    env.block_on(ec2.allocate_address().tag_specifications(spec(ResourceType::ElasticIp, eip_tags)).send())
        .expect("second eip");
    let vpc_tags = tags_of(env, &ec2, &live_vpc);
    env.block_on(
        ec2.create_vpc().cidr_block("10.99.0.0/16").tag_specifications(spec(ResourceType::Vpc, vpc_tags)).send(),
    )
    .expect("second vpc");
    let rt_tags = tags_of(env, &ec2, &live_rt);
    env.block_on(
        ec2.create_route_table().vpc_id(&live_vpc).tag_specifications(spec(ResourceType::RouteTable, rt_tags)).send(),
    )
    .expect("second route table");
    (live_eip, live_vpc, live_rt)
}

#[test]
fn the_resource_in_use_is_kept_and_its_duplicates_deleted() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    let (live_eip, live_vpc, live_rt) = copy_three(&env);

    let plan = env.run(&["--json", "diff"]).json();
    let mut planned = actions(&plan);
    planned.sort();
    assert_eq!(
        planned,
        [
            ("elastic_ip.public-a".to_string(), "delete".to_string()),
            ("route_table.public".to_string(), "delete".to_string()),
            ("vpc.containrlab".to_string(), "delete".to_string()),
        ],
        "only the copies go: {plan:#}"
    );
    let reasons: Vec<&str> =
        plan["changes"].as_array().expect("changes").iter().filter_map(|c| c["reason"].as_str()).collect();
    for live in [&live_eip, &live_vpc, &live_rt] {
        assert!(reasons.iter().any(|r| r.contains(&format!("is a duplicate of {live}"))), "{reasons:?}");
    }

    let up = env.run(&["--json", "up", "--yes"]);
    up.expect_code(0);
    assert_eq!(up.json()["converged"], true, "{}", up.stdout);
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk());
    let eips = env.block_on(ec2.describe_addresses().filters(by_address("elastic_ip.public-a")).send()).expect("eips");
    let left: Vec<&str> = eips.addresses().iter().filter_map(|a| a.allocation_id()).collect();
    assert_eq!(left, [live_eip.as_str()], "the Elastic IP in use stays");
    let vpcs = env.block_on(ec2.describe_vpcs().filters(by_address("vpc.containrlab")).send()).expect("vpcs");
    assert_eq!(vpcs.vpcs().iter().filter_map(|v| v.vpc_id()).collect::<Vec<_>>(), [live_vpc.as_str()]);
    let rts = env.block_on(ec2.describe_route_tables().filters(by_address("route_table.public")).send()).expect("rts");
    assert_eq!(rts.route_tables().iter().filter_map(|t| t.route_table_id()).collect::<Vec<_>>(), [live_rt.as_str()]);
    env.run(&["diff", "--exit-code"]).expect_code(0);
}

#[test]
fn down_removes_every_resource_on_an_address_in_one_run() {
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    copy_three(&env);
    env.run(&["down", "--yes", "--delete-data"]).expect_code(0);
    assert_eq!(owned_leftovers(&env), Vec::<String>::new());
}

/// The Resource Groups Tagging API is eventually consistent: when it answers with nothing, the
/// stack's own certificate and alarms are read from ACM and CloudWatch instead — never planned
/// again, never conflicts.
#[test]
fn an_empty_tagging_answer_hides_nothing_of_the_stack() {
    use crate::fault::{Fault, Proxy, Rule};
    let env = Env::new();
    env.run(&["up", "--yes"]).expect_code(0);
    let proxy = Proxy::start(
        &env.moto.endpoint,
        vec![Rule::every("GetResources", Fault::Answer(r#"{"ResourceTagMappingList":[],"PaginationToken":""}"#))],
    );
    let diff = env.run_at(&proxy.endpoint, &["diff", "--exit-code"]);
    assert!(!proxy.hits().is_empty(), "the tagging API was not asked");
    diff.expect_code(0);
    assert!(diff.calls.contains_key("ACM:ListCertificates"), "{:?}", diff.calls);
    assert!(diff.calls.contains_key("CloudWatch:ListTagsForResource"), "{:?}", diff.calls);
}
