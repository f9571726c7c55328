//! Writing the ownership tags on adopted resources, each through its own service's tagging call
//! (the same `reconcile::tags` functions the reconcilers use), several at a time.
//!
//! Invariants: only the three ownership tags are written and no tag is removed (the resource's
//! own tags are compared, and repaired, by the next `up` like any drift). Every resource is
//! attempted; the failures are reported together, and a second `adopt` finishes the rest.

use anyhow::{bail, Result};

use super::{ownership_tags, Found};
use crate::aws::Clients;
use crate::model::tags::Tags;
use crate::model::{Address, Kind};
use crate::reconcile::tags as t;

/// Tags every adopted resource; returns how many tagging calls were sent.
pub async fn write(clients: &Clients, stack: &str, adopt: &[Found]) -> Result<usize> {
    let work: Vec<(&Address, &str)> =
        adopt.iter().flat_map(|f| f.ids.iter().map(move |id| (&f.address, id.as_str()))).collect();
    // The claims are not in the tagging API's answers at once: later reads ask each service.
    crate::reconcile::tag_index::distrust();
    let results = crate::aws::concurrent(work.iter().copied(), 8, |(address, id)| async move {
        tag(clients, address, id, &ownership_tags(stack, address)).await.map_err(|e| format!("{address}: {e:#}"))
    })
    .await;
    let failed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if !failed.is_empty() {
        bail!(
            "{} of {} resource(s) could not be tagged (the others were; run adopt again to finish):\n  {}",
            failed.len(),
            work.len(),
            failed.join("\n  ")
        );
    }
    Ok(work.len())
}

/// Adds `tags` to one resource (nothing is removed: `have` is empty).
#[deny(clippy::wildcard_enum_match_arm)]
async fn tag(clients: &Clients, address: &Address, id: &str, tags: &Tags) -> Result<()> {
    let none = Tags::new();
    match address.kind {
        Kind::Vpc
        | Kind::Subnet
        | Kind::InternetGateway
        | Kind::ElasticIp
        | Kind::NatGateway
        | Kind::RouteTable
        | Kind::SecurityGroup
        | Kind::FlowLog
        | Kind::LaunchTemplate => t::sync_ec2(&clients.ec2, address, id, &none, tags).await,
        Kind::LoadBalancer | Kind::TargetGroup => t::sync_elb(&clients.elb, address, id, &none, tags).await,
        Kind::Certificate => t::sync_acm(&clients.acm, address, id, &none, tags).await,
        Kind::HostedZone => {
            let zone = crate::reconcile::dns::zone_id(id);
            t::sync_route53_zone(&clients.route53, address, zone, &none, tags).await
        }
        Kind::IamRole => t::sync_iam_role(&clients.iam, address, &address.name, &none, tags).await,
        Kind::IamOidcProvider => t::sync_iam_oidc(&clients.iam, address, id, &none, tags).await,
        Kind::EcsCluster | Kind::EcsService | Kind::TaskDefinition | Kind::CapacityProvider => {
            t::sync_ecs(&clients.ecs, address, id, &none, tags).await
        }
        // The ownership tags are the group's own: its instances do not get them.
        Kind::AutoScalingGroup => {
            t::sync_autoscaling(&clients.autoscaling, address, &address.name, &none, tags, |_| false).await
        }
        Kind::Alarm => t::sync_cloudwatch(&clients.cloudwatch, address, id, &none, tags).await,
        Kind::EcrRepository => t::sync_ecr(&clients.ecr, address, id, &none, tags).await,
        Kind::SsmParameter => t::sync_ssm(&clients.ssm, address, &address.name, &none, tags).await,
        Kind::LogGroup => t::sync_logs(&clients.logs, address, id, &none, tags).await,
        Kind::SnsTopic => t::sync_sns(&clients.sns, address, id, &none, tags).await,
        Kind::Listener | Kind::ListenerRule | Kind::SecurityGroupRules | Kind::DnsRecords => {
            bail!("{address} is owned through the resource it belongs to and is never tagged (an adopt bug)")
        }
    }
}
