//! VPC (with DNS support and hostnames on, and its default security group emptied), subnets and
//! the internet gateway.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType};

use super::{GatewayFields, Observed, ObservedNetwork, SubnetFields, VpcFields};
use crate::aws::{describe, wait, Clients};
use crate::diff::FieldDiff;
use crate::model::network::{Subnet, Vpc};
use crate::model::tags::Tags;
use crate::model::{Address, Kind};
use crate::plan::build::{diff_kind, PlanContext, ServiceDiff};
use crate::plan::{Action, Plan};
use crate::reconcile::kit::Ids;
use crate::reconcile::tags;

/// How long deletes retry `DependencyViolation` while network interfaces drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(600);

pub fn diff_vpcs(ctx: &PlanContext, desired: &[Vpc], observed: &ObservedNetwork, plan: &mut Plan) {
    let fields = |d: &Vpc, o: Option<&Observed<VpcFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        f.field("cidr", of.map(|o| Some(o.cidr.clone())), Some(d.cidr.clone()));
        f.field("enable_dns_support", of.map(|o| Some(o.dns_support)), Some(true));
        f.field("enable_dns_hostnames", of.map(|o| Some(o.dns_hostnames)), Some(true));
        if let Some(of) = of {
            f.members("default_security_group.rules", Some(&of.default_group_rules), &BTreeSet::new());
        }
        f.tags(o.map(|o| &o.tags), tags);
        f
    };
    let spec = ServiceDiff {
        kind: Kind::Vpc,
        desired_name: |d: &Vpc| &d.name,
        fields: &fields,
        replace_on: &["cidr"],
        depends_on: &|_| vec![],
    };
    diff_kind(ctx, spec, desired, &observed.vpcs, plan);
}

pub fn diff_subnets(
    ctx: &PlanContext,
    desired: &[Subnet],
    observed: &ObservedNetwork,
    vpc_dep: &dyn Fn(&Subnet) -> Vec<Address>,
    plan: &mut Plan,
) {
    let fields = |d: &Subnet, o: Option<&Observed<SubnetFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        f.field("cidr", o.map(|o| Some(o.fields.cidr.clone())), Some(d.cidr.clone()));
        f.field(
            "availability_zone",
            o.map(|o| Some(o.fields.availability_zone.clone())),
            Some(d.availability_zone.clone()),
        );
        f.field("map_public_ip_on_launch", o.map(|o| Some(o.fields.map_public_ip)), Some(d.public));
        f.tags(o.map(|o| &o.tags), tags);
        f
    };
    let spec = ServiceDiff {
        kind: Kind::Subnet,
        desired_name: |d: &Subnet| &d.name,
        fields: &fields,
        replace_on: &["cidr", "availability_zone"],
        depends_on: vpc_dep,
    };
    diff_kind(ctx, spec, desired, &observed.subnets, plan);
}

pub fn diff_internet_gateways(
    ctx: &PlanContext,
    desired: &[String],
    vpc: &str,
    observed: &ObservedNetwork,
    plan: &mut Plan,
) {
    let vpc_names = observed.names(Kind::Vpc);
    let fields = |_: &String, o: Option<&Observed<GatewayFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        let attached = |o: &Observed<GatewayFields>| {
            let names: Vec<String> = o
                .fields
                .attached_to
                .iter()
                .map(|id| vpc_names.get(id).map(|n| format!("vpc.{n}")).unwrap_or_else(|| crate::diff::foreign(id)))
                .collect();
            (!names.is_empty()).then(|| names.join(", "))
        };
        f.field("attached_to", o.map(attached), Some(format!("vpc.{vpc}")));
        f.tags(o.map(|o| &o.tags), tags);
        f
    };
    let vpc = vpc.to_string();
    let deps = move |_: &String| vec![Address::new(Kind::Vpc, &vpc)];
    let spec = ServiceDiff {
        kind: Kind::InternetGateway,
        desired_name: |d: &String| d.as_str(),
        fields: &fields,
        replace_on: &[],
        depends_on: &deps,
    };
    diff_kind(ctx, spec, desired, &observed.internet_gateways, plan);
}

fn err(what: &str, address: &Address, e: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    anyhow::anyhow!("{what} {address}: {}", describe(e))
}

pub async fn apply_vpc(
    clients: &Clients,
    ctx: &PlanContext,
    desired: Option<&Vpc>,
    observed: Option<&Observed<VpcFields>>,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let ec2 = &clients.ec2;
    match (action, desired) {
        (Action::Delete, _) => {
            let id = ids.get(address)?;
            let deleted =
                wait::retry_while(&address.to_string(), wait::timeout(DRAIN_TIMEOUT), is_dependency_violation, || {
                    ec2.delete_vpc().vpc_id(&id).send()
                })
                .await;
            match deleted {
                Ok(_) => Ok(()),
                Err(e) if code(&e) == Some("InvalidVpcID.NotFound") => Ok(()),
                Err(e) => Err(err("deleting", address, &e)),
            }
        }
        (Action::Create | Action::Replace, Some(d)) => {
            if action == Action::Replace {
                Box::pin(apply_vpc(clients, ctx, desired, observed, ids, Action::Delete, address)).await?;
            }
            let tags = ctx.tags(address);
            let out = ec2
                .create_vpc()
                .cidr_block(&d.cidr)
                .tag_specifications(tags::ec2_spec(ResourceType::Vpc, &tags))
                .send()
                .await
                .map_err(|e| err("creating", address, &e))?;
            let id = out.vpc().and_then(|v| v.vpc_id()).unwrap_or_default().to_string();
            ids.set(address, &id);
            set_dns(clients, address, &id, true, true).await?;
            empty_default_group(clients, address, &id, None).await
        }
        (Action::Update, Some(_)) => {
            let Some(o) = observed else { bail!("updating {address}: it was not observed") };
            set_dns(clients, address, &o.id, !o.fields.dns_support, !o.fields.dns_hostnames).await?;
            if !o.fields.default_group_rules.is_empty() {
                empty_default_group(clients, address, &o.id, o.fields.default_group.as_deref()).await?;
            }
            tags::sync_ec2(&clients.ec2, address, &o.id, &o.tags, &ctx.tags(address)).await
        }
        (_, None) => bail!("{address}: no desired state to {action:?}"),
    }
}

/// Turns DNS support and hostnames on (one attribute per call, as the API requires).
async fn set_dns(clients: &Clients, address: &Address, id: &str, support: bool, hostnames: bool) -> Result<()> {
    let on = || AttributeBooleanValue::builder().value(true).build();
    if support {
        clients
            .ec2
            .modify_vpc_attribute()
            .vpc_id(id)
            .enable_dns_support(on())
            .send()
            .await
            .map_err(|e| err("enabling DNS support of", address, &e))?;
    }
    if hostnames {
        clients
            .ec2
            .modify_vpc_attribute()
            .vpc_id(id)
            .enable_dns_hostnames(on())
            .send()
            .await
            .map_err(|e| err("enabling DNS hostnames of", address, &e))?;
    }
    Ok(())
}

/// Removes every rule of the VPC's default security group (a common security control).
async fn empty_default_group(clients: &Clients, address: &Address, vpc_id: &str, group_id: Option<&str>) -> Result<()> {
    let ec2 = &clients.ec2;
    let groups = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .filters(Filter::builder().name("group-name").values("default").build())
        .send()
        .await
        .map_err(|e| err("reading the default security group of", address, &e))?;
    let Some(group) = groups.security_groups().iter().find(|g| group_id.is_none_or(|id| g.group_id() == Some(id)))
    else {
        return Ok(());
    };
    let id = group.group_id().unwrap_or_default();
    if !group.ip_permissions().is_empty() {
        ec2.revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(group.ip_permissions().to_vec()))
            .send()
            .await
            .map_err(|e| err("emptying the default security group of", address, &e))?;
    }
    if !group.ip_permissions_egress().is_empty() {
        ec2.revoke_security_group_egress()
            .group_id(id)
            .set_ip_permissions(Some(group.ip_permissions_egress().to_vec()))
            .send()
            .await
            .map_err(|e| err("emptying the default security group of", address, &e))?;
    }
    Ok(())
}

pub async fn apply_subnet(
    clients: &Clients,
    ctx: &PlanContext,
    desired: Option<&Subnet>,
    observed: Option<&Observed<SubnetFields>>,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let ec2 = &clients.ec2;
    match (action, desired) {
        (Action::Delete, _) => delete_subnet(ec2, ids, address).await,
        (Action::Create | Action::Replace, Some(d)) => {
            if action == Action::Replace {
                delete_subnet(ec2, ids, address).await?;
            }
            let vpc = ids.get(&Address::new(Kind::Vpc, &ctx.stack))?;
            let tags = ctx.tags(address);
            let out = ec2
                .create_subnet()
                .vpc_id(vpc)
                .cidr_block(&d.cidr)
                .availability_zone(&d.availability_zone)
                .tag_specifications(tags::ec2_spec(ResourceType::Subnet, &tags))
                .send()
                .await
                .map_err(|e| err("creating", address, &e))?;
            let id = out.subnet().and_then(|s| s.subnet_id()).unwrap_or_default().to_string();
            ids.set(address, &id);
            if d.public {
                set_map_public_ip(clients, address, &id, true).await?;
            }
            Ok(())
        }
        (Action::Update, Some(d)) => {
            let Some(o) = observed else { bail!("updating {address}: it was not observed") };
            if o.fields.map_public_ip != d.public {
                set_map_public_ip(clients, address, &o.id, d.public).await?;
            }
            tags::sync_ec2(&clients.ec2, address, &o.id, &o.tags, &ctx.tags(address)).await
        }
        (_, None) => bail!("{address}: no desired state to {action:?}"),
    }
}

async fn set_map_public_ip(clients: &Clients, address: &Address, id: &str, on: bool) -> Result<()> {
    clients
        .ec2
        .modify_subnet_attribute()
        .subnet_id(id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
        .send()
        .await
        .map_err(|e| err("setting map-public-IP of", address, &e))?;
    Ok(())
}

/// Deletes a subnet, retrying while network interfaces drain; past the deadline the error names
/// the interfaces still in it.
async fn delete_subnet(ec2: &aws_sdk_ec2::Client, ids: &Ids, address: &Address) -> Result<()> {
    let id = ids.get(address)?;
    let deleted =
        wait::retry_while(&address.to_string(), wait::timeout(DRAIN_TIMEOUT), is_dependency_violation, || {
            ec2.delete_subnet().subnet_id(&id).send()
        })
        .await;
    match deleted {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("InvalidSubnetID.NotFound") => Ok(()),
        Err(e) if is_dependency_violation(&e) => {
            let enis = network_interfaces(ec2, "subnet-id", &id).await;
            bail!(
                "deleting {address}: still in use by network interface(s) {enis} after {}s",
                wait::timeout(DRAIN_TIMEOUT).as_secs()
            )
        }
        Err(e) => Err(err("deleting", address, &e)),
    }
}

/// The network interfaces matching an EC2 filter, for error messages.
pub async fn network_interfaces(ec2: &aws_sdk_ec2::Client, filter: &str, value: &str) -> String {
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

pub async fn apply_internet_gateway(
    clients: &Clients,
    ctx: &PlanContext,
    vpc: Option<&str>,
    observed: Option<&Observed<GatewayFields>>,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let ec2 = &clients.ec2;
    match (action, vpc) {
        (Action::Delete, _) => {
            let id = ids.get(address)?;
            for vpc_id in observed.map(|o| o.fields.attached_to.clone()).unwrap_or_default() {
                match ec2.detach_internet_gateway().internet_gateway_id(&id).vpc_id(&vpc_id).send().await {
                    Ok(_) => {}
                    Err(e) if matches!(code(&e), Some("Gateway.NotAttached" | "InvalidInternetGatewayID.NotFound")) => {
                    }
                    Err(e) => return Err(err("detaching", address, &e)),
                }
            }
            match ec2.delete_internet_gateway().internet_gateway_id(&id).send().await {
                Ok(_) => Ok(()),
                Err(e) if code(&e) == Some("InvalidInternetGatewayID.NotFound") => Ok(()),
                Err(e) => Err(err("deleting", address, &e)),
            }
        }
        (Action::Create | Action::Replace | Action::Update, Some(vpc)) => {
            let vpc_id = ids.get(&Address::new(Kind::Vpc, vpc))?;
            let id = match observed {
                Some(o) if action == Action::Update => {
                    tags::sync_ec2(&clients.ec2, address, &o.id, &o.tags, &ctx.tags(address)).await?;
                    if o.fields.attached_to.contains(&vpc_id) {
                        return Ok(());
                    }
                    o.id.clone()
                }
                _ => {
                    let tags = ctx.tags(address);
                    let out = ec2
                        .create_internet_gateway()
                        .tag_specifications(tags::ec2_spec(ResourceType::InternetGateway, &tags))
                        .send()
                        .await
                        .map_err(|e| err("creating", address, &e))?;
                    let id =
                        out.internet_gateway().and_then(|g| g.internet_gateway_id()).unwrap_or_default().to_string();
                    ids.set(address, &id);
                    id
                }
            };
            ec2.attach_internet_gateway()
                .internet_gateway_id(&id)
                .vpc_id(&vpc_id)
                .send()
                .await
                .map_err(|e| err("attaching", address, &e))?;
            Ok(())
        }
        (_, None) => bail!("{address}: no desired state to {action:?}"),
    }
}

/// The EC2 error code of an SDK error.
pub fn code<E: aws_sdk_ec2::error::ProvideErrorMetadata>(e: &E) -> Option<&str> {
    e.code()
}

pub fn is_dependency_violation<E: aws_sdk_ec2::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("DependencyViolation")
}

#[cfg(test)]
mod tests {
    //! moto neither keeps network interfaces in subnets nor refuses to delete busy subnets, so the
    //! `DependencyViolation` path runs here against canned EC2 responses (aws-smithy-mocks).

    use aws_sdk_ec2::operation::delete_subnet::DeleteSubnetError;
    use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
    use aws_sdk_ec2::types::NetworkInterface;
    use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn client(rules: &[&Rule]) -> aws_sdk_ec2::Client {
        let interceptor =
            rules.iter().fold(MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny), |i, r| i.with_rule(r));
        let config = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .region(aws_sdk_ec2::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new("a", "b", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build();
        aws_sdk_ec2::Client::from_conf(config)
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
        let ids = Ids::default();
        let address = Address::new(Kind::Subnet, "public-a");
        ids.set(&address, "subnet-1");
        let err = delete_subnet(&ec2, &ids, &address).await.expect_err("still in use");
        assert_eq!(
            err.to_string(),
            "deleting subnet.public-a: still in use by network interface(s) eni-0abc (ELB app/containrlab-alb) after 600s"
        );
        assert!(busy.num_calls() > 10, "retried with backoff until the deadline: {} calls", busy.num_calls());
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
        let ids = Ids::default();
        let address = Address::new(Kind::Subnet, "public-a");
        ids.set(&address, "subnet-1");
        delete_subnet(&ec2, &ids, &address).await.expect("deleted once free");
        assert_eq!(busy_then_free.num_calls(), 4);
    }
}
