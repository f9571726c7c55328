//! The account quotas a first `up` (or a rebuild) can run into: VPCs and application load
//! balancers per region, Elastic IPs, NAT gateways per availability zone. Each check compares
//! what is in use now plus what the plan creates with the quota Service Quotas gives.
//!
//! Invariants: read-only. A quota AWS has never applied a value to is read as AWS's default
//! (`GetServiceQuota` answers `NoSuchResourceException` for those, then
//! `GetAWSDefaultServiceQuota` is asked); a quota that cannot be read at all is a `by_hand` line
//! with the usage, the need and AWS's documented default — never a guess that passes. The need
//! counts creates and replaces (a replacement may exist beside the old one for a moment).

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use aws_sdk_servicequotas::Client as ServiceQuotas;

use super::{finding, Finding, Status};
use crate::aws::{describe, Clients};
use crate::model::address::Kind;
use crate::model::desired::Desired;
use crate::plan::Action;
use crate::reconcile::Plan;

/// One quota of Service Quotas, and the default AWS documents for it.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub service: &'static str,
    pub code: &'static str,
    pub name: &'static str,
    pub default: f64,
}

pub const VPCS: Quota = Quota { service: "vpc", code: "L-F678F1CE", name: "VPCs per Region", default: 5.0 };
pub const NAT_PER_ZONE: Quota =
    Quota { service: "vpc", code: "L-FE5A380F", name: "NAT gateways per Availability Zone", default: 5.0 };
pub const ELASTIC_IPS: Quota = Quota { service: "ec2", code: "L-0263D0A3", name: "EC2-VPC Elastic IPs", default: 5.0 };
pub const LOAD_BALANCERS: Quota = Quota {
    service: "elasticloadbalancing",
    code: "L-53DA6B97",
    name: "Application Load Balancers per Region",
    default: 50.0,
};

/// The quota's value, and whether it is the account's applied value or AWS's default.
pub async fn limit(sq: &ServiceQuotas, q: Quota) -> Result<(f64, &'static str)> {
    let applied = sq.get_service_quota().service_code(q.service).quota_code(q.code).send().await;
    match applied {
        Ok(o) => o
            .quota()
            .and_then(|q| q.value())
            .map(|v| (v, "applied"))
            .ok_or_else(|| anyhow!("GetServiceQuota returned no value")),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_resource_exception()) => {
            let default = sq.get_aws_default_service_quota().service_code(q.service).quota_code(q.code).send().await;
            default
                .map_err(|e| anyhow!("GetAWSDefaultServiceQuota: {}", describe(&e)))?
                .quota()
                .and_then(|q| q.value())
                .map(|v| (v, "AWS default"))
                .ok_or_else(|| anyhow!("GetAWSDefaultServiceQuota returned no value"))
        }
        Err(e) => Err(anyhow!("GetServiceQuota: {}", describe(&e))),
    }
}

/// The verdict on one quota: `in_use` now, `adds` from the plan; `limit` is `None` when it was not
/// read because the plan adds none.
pub fn judge(q: Quota, scope: &str, limit: Option<Result<(f64, &str)>>, in_use: usize, adds: usize) -> Finding {
    let check = format!("quota {}{scope}", q.name);
    let total = in_use + adds;
    match limit {
        None => finding(check, Status::Pass, format!("{in_use} in use; the plan adds none"), None),
        Some(Ok((value, source))) if total as f64 <= value => finding(
            check,
            Status::Pass,
            format!("{in_use} in use, the plan adds {adds}: {total} of {value} ({source})"),
            None,
        ),
        Some(Ok((value, source))) => finding(
            check,
            Status::Fail,
            format!("{in_use} in use, the plan adds {adds}: {total} is above the quota of {value} ({source})"),
            Some(format!(
                "free {} or ask for more: `aws service-quotas request-service-quota-increase --service-code {} --quota-code {} --desired-value {total}`",
                total - value as usize,
                q.service,
                q.code
            )),
        ),
        Some(Err(e)) => finding(
            check,
            Status::ByHand,
            format!("{in_use} in use, the plan adds {adds}; the quota could not be read ({e:#}); AWS's default is {}", q.default),
            Some(format!(
                "`aws service-quotas get-service-quota --service-code {} --quota-code {}` (or the Service Quotas console) must be at least {total}",
                q.service, q.code
            )),
        ),
    }
}

/// Creates and replaces of `kind` in the plan, by address name.
fn adds(plan: &Plan, kind: Kind) -> impl Iterator<Item = &str> {
    plan.changes
        .iter()
        .filter(move |c| c.address.kind == kind && matches!(c.action, Action::Create | Action::Replace))
        .map(|c| c.address.name.as_str())
}

pub async fn check(clients: &Clients, desired: &Desired, plan: &Plan) -> Vec<Finding> {
    let sq = &clients.servicequotas;
    let (vpcs, eips, nats, lbs) = tokio::join!(
        region_wide(sq, VPCS, adds(plan, Kind::Vpc).count(), vpcs_in_use(clients)),
        region_wide(sq, ELASTIC_IPS, adds(plan, Kind::ElasticIp).count(), addresses_in_use(clients)),
        nat_gateways(clients, desired, plan),
        region_wide(sq, LOAD_BALANCERS, adds(plan, Kind::LoadBalancer).count(), load_balancers_in_use(clients)),
    );
    let mut out = vec![vpcs, eips];
    out.extend(nats);
    out.push(lbs);
    out
}

/// A region-wide quota: its usage, and its value only when the plan adds some, read together.
async fn region_wide(
    sq: &ServiceQuotas,
    q: Quota,
    adds: usize,
    in_use: impl std::future::Future<Output = Result<usize>>,
) -> Finding {
    let value = async {
        if adds == 0 {
            None
        } else {
            Some(limit(sq, q).await)
        }
    };
    let (value, in_use) = tokio::join!(value, in_use);
    judged(q, "", value, in_use, adds)
}

/// A usage that cannot be read fails the check (the reason in the detail).
fn judged(q: Quota, scope: &str, limit: Option<Result<(f64, &str)>>, in_use: Result<usize>, adds: usize) -> Finding {
    match in_use {
        Ok(n) => judge(q, scope, limit, n, adds),
        Err(e) => finding(format!("quota {}{scope}", q.name), Status::Fail, format!("{e:#}"), None),
    }
}

async fn vpcs_in_use(clients: &Clients) -> Result<usize> {
    let pages = clients.ec2.describe_vpcs().into_paginator().send().collect::<Result<Vec<_>, _>>().await;
    Ok(pages.map_err(|e| anyhow!("DescribeVpcs: {}", describe(&e)))?.iter().map(|p| p.vpcs().len()).sum())
}

async fn addresses_in_use(clients: &Clients) -> Result<usize> {
    let out =
        clients.ec2.describe_addresses().send().await.map_err(|e| anyhow!("DescribeAddresses: {}", describe(&e)))?;
    Ok(out.addresses().len())
}

async fn load_balancers_in_use(clients: &Clients) -> Result<usize> {
    let pages = clients.elb.describe_load_balancers().into_paginator().send().collect::<Result<Vec<_>, _>>().await;
    let pages = pages.map_err(|e| anyhow!("DescribeLoadBalancers: {}", describe(&e)))?;
    let application = |l: &&aws_sdk_elasticloadbalancingv2::types::LoadBalancer| {
        l.r#type().is_none_or(|t| *t == aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::Application)
    };
    Ok(pages.iter().flat_map(|p| p.load_balancers()).filter(application).count())
}

/// One check per zone the plan adds a NAT gateway in: the gateways there now (pending or
/// available) plus those the plan adds.
async fn nat_gateways(clients: &Clients, desired: &Desired, plan: &Plan) -> Vec<Finding> {
    let Some(network) = &desired.network else { return Vec::new() };
    let zone_of = |nat: &str| {
        let subnet = network.nat_gateways.iter().find(|n| n.name == nat).map(|n| n.subnet.as_str())?;
        network.subnets.iter().find(|s| s.name == subnet).map(|s| s.availability_zone.clone())
    };
    let mut wanted: BTreeMap<String, usize> = BTreeMap::new();
    for name in adds(plan, Kind::NatGateway) {
        *wanted.entry(zone_of(name).unwrap_or_default()).or_default() += 1;
    }
    if wanted.is_empty() {
        return Vec::new();
    }
    let limit = limit(&clients.servicequotas, NAT_PER_ZONE).await;
    let in_use = nats_by_zone(clients).await;
    wanted
        .into_iter()
        .map(|(zone, adds)| {
            let scope = format!(" ({zone})");
            let limit = limit.as_ref().map(|l| *l).map_err(|e| anyhow!("{e:#}"));
            let in_use = in_use.as_ref().map(|m| m.get(&zone).copied().unwrap_or(0)).map_err(|e| anyhow!("{e:#}"));
            judged(NAT_PER_ZONE, &scope, Some(limit), in_use, adds)
        })
        .collect()
}

async fn nats_by_zone(clients: &Clients) -> Result<BTreeMap<String, usize>> {
    let live = aws_sdk_ec2::types::Filter::builder().name("state").values("pending").values("available").build();
    let pages =
        clients.ec2.describe_nat_gateways().filter(live).into_paginator().send().collect::<Result<Vec<_>, _>>().await;
    let pages = pages.map_err(|e| anyhow!("DescribeNatGateways: {}", describe(&e)))?;
    let subnets: Vec<String> =
        pages.iter().flat_map(|p| p.nat_gateways()).filter_map(|n| n.subnet_id().map(str::to_string)).collect();
    if subnets.is_empty() {
        return Ok(BTreeMap::new());
    }
    let described = clients.ec2.describe_subnets().set_subnet_ids(Some(subnets.clone())).send().await;
    let described = described.map_err(|e| anyhow!("DescribeSubnets: {}", describe(&e)))?;
    let zone: BTreeMap<&str, &str> =
        described.subnets().iter().filter_map(|s| Some((s.subnet_id()?, s.availability_zone()?))).collect();
    let mut out = BTreeMap::new();
    for s in &subnets {
        *out.entry(zone.get(s.as_str()).copied().unwrap_or_default().to_string()).or_default() += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! Canned Service Quotas answers (aws-smithy-mocks): moto implements `GetServiceQuota` only for
    //! the `vpc` codes and not `GetAWSDefaultServiceQuota`, so the fallback to AWS's default and the
    //! unreadable quota are produced here.
    use aws_sdk_servicequotas::error::ErrorMetadata;
    use aws_sdk_servicequotas::operation::get_aws_default_service_quota::{
        GetAWSDefaultServiceQuotaError, GetAwsDefaultServiceQuotaOutput,
    };
    use aws_sdk_servicequotas::operation::get_service_quota::{GetServiceQuotaError, GetServiceQuotaOutput};
    use aws_sdk_servicequotas::types::error::NoSuchResourceException;
    use aws_sdk_servicequotas::types::ServiceQuota;
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::aws::canned::canned_client;

    fn quota(value: f64) -> ServiceQuota {
        ServiceQuota::builder().value(value).build()
    }

    fn no_such_resource() -> GetServiceQuotaError {
        GetServiceQuotaError::NoSuchResourceException(
            NoSuchResourceException::builder()
                .message("The request failed because applied value for the specified context Id do not exist.")
                .meta(ErrorMetadata::builder().code("NoSuchResourceException").build())
                .build(),
        )
    }

    #[tokio::test]
    async fn the_applied_value_is_used_when_aws_has_one() {
        let applied = mock!(aws_sdk_servicequotas::Client::get_service_quota)
            .then_output(|| GetServiceQuotaOutput::builder().quota(quota(20.0)).build());
        let sq = canned_client!(aws_sdk_servicequotas, &[&applied]);
        assert_eq!(limit(&sq, ELASTIC_IPS).await.unwrap(), (20.0, "applied"));
    }

    #[tokio::test]
    async fn a_quota_never_applied_is_read_as_the_aws_default() {
        let applied = mock!(aws_sdk_servicequotas::Client::get_service_quota).then_error(no_such_resource);
        let default = mock!(aws_sdk_servicequotas::Client::get_aws_default_service_quota)
            .match_requests(|r| {
                r.service_code() == Some("elasticloadbalancing") && r.quota_code() == Some("L-53DA6B97")
            })
            .then_output(|| GetAwsDefaultServiceQuotaOutput::builder().quota(quota(50.0)).build());
        let sq = canned_client!(aws_sdk_servicequotas, &[&applied, &default]);
        assert_eq!(limit(&sq, LOAD_BALANCERS).await.unwrap(), (50.0, "AWS default"));
    }

    #[tokio::test]
    async fn an_unreadable_quota_is_left_to_check_by_hand_with_the_need() {
        let applied = mock!(aws_sdk_servicequotas::Client::get_service_quota).then_error(no_such_resource);
        let default = mock!(aws_sdk_servicequotas::Client::get_aws_default_service_quota).then_error(|| {
            GetAWSDefaultServiceQuotaError::generic(ErrorMetadata::builder().code("AccessDeniedException").build())
        });
        let sq = canned_client!(aws_sdk_servicequotas, &[&applied, &default]);
        let read = limit(&sq, ELASTIC_IPS).await;
        assert!(format!("{:#}", read.as_ref().unwrap_err()).contains("AccessDeniedException"), "{read:?}");
        let f = judge(ELASTIC_IPS, "", Some(read), 4, 1);
        assert_eq!(f.status, Status::ByHand);
        assert!(f.detail.starts_with("4 in use, the plan adds 1; the quota could not be read"), "{}", f.detail);
        assert!(f.detail.ends_with("AWS's default is 5"), "{}", f.detail);
        assert!(f.fix.unwrap().contains("--quota-code L-0263D0A3` (or the Service Quotas console) must be at least 5"));
    }

    #[test]
    fn a_plan_above_the_quota_fails_with_the_increase_to_ask_for() {
        let ok = judge(VPCS, "", Some(Ok((5.0, "applied"))), 4, 1);
        assert_eq!((ok.status, ok.detail.as_str()), (Status::Pass, "4 in use, the plan adds 1: 5 of 5 (applied)"));
        let over = judge(NAT_PER_ZONE, " (us-east-1a)", Some(Ok((5.0, "AWS default"))), 5, 1);
        assert_eq!(over.check, "quota NAT gateways per Availability Zone (us-east-1a)");
        assert_eq!(over.status, Status::Fail);
        assert_eq!(over.detail, "5 in use, the plan adds 1: 6 is above the quota of 5 (AWS default)");
        assert_eq!(
            over.fix.as_deref(),
            Some("free 1 or ask for more: `aws service-quotas request-service-quota-increase --service-code vpc --quota-code L-FE5A380F --desired-value 6`")
        );
    }
}
