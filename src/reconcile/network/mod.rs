//! The network: VPC, subnets, internet gateway, Elastic IPs and NAT gateways, route tables,
//! security groups and their rules, the VPC's flow log (EC2), one file per resource kind.
//!
//! Observe (`observe`): one `Describe*` per resource type, filtered by this stack's tag, all at
//! once; then the VPC's DNS attributes and its default security group. Each resource is named by
//! its `containrlab:address` tag. Ids are never compared: references are translated to names.
//! Deletes follow the order AWS requires (routes and associations → NAT gateway → Elastic IP and
//! internet gateway → subnets; rules → groups → VPC), retrying `DependencyViolation` while network
//! interfaces drain.

mod elastic_ip;
mod flow_log;
mod internet_gateway;
mod nat_gateway;
pub mod observe;
mod route_table;
mod security_group;
mod security_group_rules;
mod subnet;
mod vpc;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use anyhow::Result;
use aws_sdk_ec2::types::Filter;

use crate::aws::error;
use crate::aws::{consistency, describe};
use crate::model::consistency::Call;
use crate::model::network::RouteTarget;
use crate::model::{Address, Kind};
use crate::reconcile::contract::ApplyCx;

pub use elastic_ip::ElasticIp;
pub use flow_log::FlowLog;
pub use internet_gateway::InternetGateway;
pub use nat_gateway::NatGateway;
pub use observe::observe;
pub use route_table::RouteTable;
pub use security_group::SecurityGroup;
pub use security_group_rules::SecurityGroupRules;
pub use subnet::Subnet;
pub use vpc::Vpc;

use super::kit::{Ids, Observed};

#[derive(Debug, Clone, Default)]
pub struct VpcFields {
    pub cidr: String,
    pub dns_support: bool,
    pub dns_hostnames: bool,
    /// Id of the VPC's default security group, and its rules (kept empty).
    pub default_group: Option<String>,
    pub default_group_rules: BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SubnetFields {
    pub cidr: String,
    pub availability_zone: String,
    pub map_public_ip: bool,
}

#[derive(Debug, Clone, Default)]
pub struct GatewayFields {
    /// VPC ids the gateway is attached to.
    pub attached_to: Vec<String>,
}

/// An Elastic IP has nothing to compare beyond its tags.
#[derive(Debug, Clone, Default)]
pub struct ElasticIpFields;

#[derive(Debug, Clone, Default)]
pub struct NatFields {
    pub subnet_id: String,
    pub allocation_id: String,
    /// `pending` or `available` (deleted and failed gateways are not observed).
    pub state: String,
}

#[derive(Debug, Clone, Default)]
pub struct RouteTableFields {
    /// Destination CIDR → target id (gateway or NAT gateway), the `local` route left out.
    pub routes: BTreeMap<String, String>,
    /// Subnet id → association id.
    pub associations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct SecurityGroupFields {
    pub description: String,
    pub ingress: BTreeSet<crate::model::network::Rule>,
    pub egress: BTreeSet<crate::model::network::Rule>,
}

#[derive(Debug, Clone, Default)]
pub struct FlowLogFields {
    pub vpc_id: String,
    pub traffic: String,
    pub log_group: String,
    pub role_arn: String,
    pub max_aggregation_seconds: i32,
}

/// Everything the network observation found.
#[derive(Debug, Clone, Default)]
pub struct ObservedNetwork {
    pub vpcs: Vec<Observed<VpcFields>>,
    pub subnets: Vec<Observed<SubnetFields>>,
    pub internet_gateways: Vec<Observed<GatewayFields>>,
    pub elastic_ips: Vec<Observed<ElasticIpFields>>,
    pub nat_gateways: Vec<Observed<NatFields>>,
    pub route_tables: Vec<Observed<RouteTableFields>>,
    pub security_groups: Vec<Observed<SecurityGroupFields>>,
    pub flow_logs: Vec<Observed<FlowLogFields>>,
}

/// A route target as the plan shows it.
fn target_name(ids: &Ids, id: &str) -> RouteTarget {
    if let Some(name) = ids.names(Kind::InternetGateway).get(id) {
        RouteTarget::InternetGateway(name.clone())
    } else if let Some(name) = ids.names(Kind::NatGateway).get(id) {
        RouteTarget::NatGateway(name.clone())
    } else {
        RouteTarget::Other(id.to_string())
    }
}

/// The stack's VPC id (known once it is observed or created).
fn vpc_id(cx: &ApplyCx<'_>) -> Result<String> {
    cx.ids.get(&Address::new(Kind::Vpc, &cx.ctx.stack))
}

/// Deletes with `op` (one `call`), waiting while the network interfaces and public addresses of
/// what was deleted drain (`network-interfaces-released`); past the budget the error names the
/// interfaces still there (those matching the EC2 filter `filter = id`).
async fn drain<T, F, Fut>(
    call: Call,
    address: &Address,
    filter: &str,
    id: &str,
    ec2: &aws_sdk_ec2::Client,
    op: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    match consistency::retry(call, address, op).await {
        Ok(_) => Ok(()),
        Err(e) if error::is_in_use(&e) => {
            let enis = network_interfaces(ec2, filter, id).await;
            Err(error::with_detail(e, &format!("network interface(s) still there: {enis}")))
        }
        Err(e) => Err(e),
    }
}

/// The network interfaces matching an EC2 filter, for error messages.
async fn network_interfaces(ec2: &aws_sdk_ec2::Client, filter: &str, value: &str) -> String {
    let out =
        ec2.describe_network_interfaces().filters(Filter::builder().name(filter).values(value).build()).send().await;
    match out {
        Ok(out) => {
            let list: Vec<String> = out
                .network_interfaces()
                .iter()
                .map(|n| {
                    format!(
                        "{} ({})",
                        n.network_interface_id().unwrap_or("?"),
                        n.description().unwrap_or("no description")
                    )
                })
                .collect();
            if list.is_empty() {
                "(none listed)".into()
            } else {
                list.join(", ")
            }
        }
        Err(e) => format!("(could not list them: {})", describe(&e)),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod drain_tests {
    //! moto neither keeps network interfaces in subnets nor refuses to delete busy subnets, so the
    //! `DependencyViolation` path runs here against canned EC2 responses (aws-smithy-mocks).

    use aws_sdk_ec2::operation::delete_subnet::DeleteSubnetError;
    use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
    use aws_sdk_ec2::types::NetworkInterface;
    use aws_smithy_mocks::{mock, Rule};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::aws::error::failed;

    fn client(rules: &[&Rule]) -> aws_sdk_ec2::Client {
        crate::aws::canned::canned_client!(aws_sdk_ec2, rules)
    }

    #[tokio::test(start_paused = true)]
    async fn a_subnet_still_in_use_is_retried_then_names_its_network_interfaces() {
        let busy = mock!(aws_sdk_ec2::Client::delete_subnet)
            .sequence()
            .error(|| {
                DeleteSubnetError::generic(
                    ErrorMetadata::builder().code("DependencyViolation").message("has dependencies").build(),
                )
            })
            .repeatedly()
            .build();
        let enis = mock!(aws_sdk_ec2::Client::describe_network_interfaces).then_output(|| {
            let eni = NetworkInterface::builder()
                .network_interface_id("eni-0abc")
                .description("ELB app/containrlab-alb")
                .build();
            DescribeNetworkInterfacesOutput::builder().network_interfaces(eni).build()
        });
        let ec2 = client(&[&busy, &enis]);
        let address = Address::new(Kind::Subnet, "public-a");
        let delete = || async {
            ec2.delete_subnet().subnet_id("subnet-1").send().await.map_err(|e| failed("deleting", &address, &e))
        };
        let err = drain(Call::Ec2DeleteSubnet, &address, "subnet-id", "subnet-1", &ec2, delete)
            .await
            .expect_err("still in use");
        assert_eq!(
            err.to_string(),
            "deleting subnet public-a: service error: DependencyViolation: has dependencies (still so after waiting 10m00s for EC2 to release the network interfaces and public addresses of what was deleted: rule network-interfaces-released); network interface(s) still there: eni-0abc (ELB app/containrlab-alb)\n  hint: network interfaces are still in it: see which, and what owns them"
        );
        assert!(busy.num_calls() > 10, "retried with backoff until the deadline: {} calls", busy.num_calls());
    }

    /// The race of `down` on AWS: the load balancer's delete returned, its public addresses are
    /// still mapped, and the detach is refused a few times before it goes through.
    #[tokio::test(start_paused = true)]
    async fn an_internet_gateway_detach_waits_for_mapped_addresses_to_be_released() {
        use aws_sdk_ec2::operation::detach_internet_gateway::{
            DetachInternetGatewayError, DetachInternetGatewayOutput,
        };
        let mapped = || {
            DetachInternetGatewayError::generic(
                ErrorMetadata::builder()
                    .code("DependencyViolation")
                    .message("Network vpc-1 has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.")
                    .build(),
            )
        };
        let detach = mock!(aws_sdk_ec2::Client::detach_internet_gateway)
            .sequence()
            .error(mapped)
            .times(3)
            .output(|| DetachInternetGatewayOutput::builder().build())
            .build();
        let ec2 = client(&[&detach]);
        let address = Address::new(Kind::InternetGateway, "containrlab");
        internet_gateway::detach(&ec2, &address, "igw-1", "vpc-1").await.expect("detached once released");
        assert_eq!(detach.num_calls(), 4);

        let never = mock!(aws_sdk_ec2::Client::detach_internet_gateway).sequence().error(mapped).repeatedly().build();
        let enis = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
            .then_output(|| DescribeNetworkInterfacesOutput::builder().build());
        let ec2 = client(&[&never, &enis]);
        let err = internet_gateway::detach(&ec2, &address, "igw-1", "vpc-1").await.expect_err("bounded");
        let text = err.to_string();
        assert!(text.starts_with("detaching internet gateway containrlab: service error: DependencyViolation: Network vpc-1 has some mapped public address(es)"), "{text}");
        assert!(text.contains("rule network-interfaces-released"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_gateway_already_detached_is_done() {
        use aws_sdk_ec2::operation::detach_internet_gateway::DetachInternetGatewayError;
        let gone = mock!(aws_sdk_ec2::Client::detach_internet_gateway).then_error(|| {
            DetachInternetGatewayError::generic(ErrorMetadata::builder().code("Gateway.NotAttached").build())
        });
        let ec2 = client(&[&gone]);
        let address = Address::new(Kind::InternetGateway, "containrlab");
        internet_gateway::detach(&ec2, &address, "igw-1", "vpc-1").await.expect("not attached is detached");
        assert_eq!(gone.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_subnet_freed_while_retrying_is_deleted() {
        let busy_then_free = mock!(aws_sdk_ec2::Client::delete_subnet)
            .sequence()
            .error(|| DeleteSubnetError::generic(ErrorMetadata::builder().code("DependencyViolation").build()))
            .times(3)
            .output(|| aws_sdk_ec2::operation::delete_subnet::DeleteSubnetOutput::builder().build())
            .build();
        let ec2 = client(&[&busy_then_free]);
        let address = Address::new(Kind::Subnet, "public-a");
        let delete = || async {
            ec2.delete_subnet().subnet_id("subnet-1").send().await.map_err(|e| failed("deleting", &address, &e))
        };
        drain(Call::Ec2DeleteSubnet, &address, "subnet-id", "subnet-1", &ec2, delete).await.expect("deleted once free");
        assert_eq!(busy_then_free.num_calls(), 4);
    }
}
