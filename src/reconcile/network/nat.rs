//! Elastic IPs and NAT gateways. A NAT gateway is waited on until `available` after it is created
//! (or when a plan finds it still `pending`, e.g. after a crash), and until `deleted` before its
//! Elastic IP is released.

use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_ec2::types::{DomainType, Filter, NatGatewayState, ResourceType};

use super::vpc::code;
use super::{ElasticIpFields, NatFields, Observed, ObservedNetwork};
use crate::aws::wait::{self, Check};
use crate::aws::{describe, Clients};
use crate::diff::FieldDiff;
use crate::model::network::{NatGateway, Network};
use crate::model::tags::Tags;
use crate::model::{Address, Kind};
use crate::plan::build::{diff_kind, PlanContext, ServiceDiff};
use crate::plan::{Action, Plan};
use crate::reconcile::kit::Ids;
use crate::reconcile::tags;

/// NAT gateways usually take 1–3 minutes either way.
const NAT_TIMEOUT: Duration = Duration::from_secs(900);

pub fn diff(ctx: &PlanContext, n: &Network, observed: &ObservedNetwork, plan: &mut Plan) {
    let eips: Vec<String> = n.nat_gateways.iter().map(|g| g.name.clone()).collect();
    let eip_fields = |_: &String, o: Option<&Observed<ElasticIpFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        f.field("domain", o.map(|_| Some("vpc".to_string())), Some("vpc".to_string()));
        f.tags(o.map(|o| &o.tags), tags);
        f
    };
    let spec = ServiceDiff {
        kind: Kind::ElasticIp,
        desired_name: |d: &String| d.as_str(),
        fields: &eip_fields,
        replace_on: &[],
        depends_on: &|_| vec![],
    };
    diff_kind(ctx, spec, &eips, &observed.elastic_ips, plan);

    let subnet_names = observed.names(Kind::Subnet);
    let eip_names = observed.names(Kind::ElasticIp);
    let new_subnets = crate::reconcile::kit::renewed(plan, Kind::Subnet);
    let new_eips = crate::reconcile::kit::renewed(plan, Kind::ElasticIp);
    let nat_fields = |d: &NatGateway, o: Option<&Observed<NatFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        // A reference to something about to be created or replaced is a reference to nothing yet.
        let subnet = o.map(|o| subnet_names.get(&o.fields.subnet_id).filter(|s| !new_subnets.contains(*s)).cloned());
        f.field("subnet", subnet, Some(d.subnet.clone()));
        let eip = o.map(|o| eip_names.get(&o.fields.allocation_id).filter(|e| !new_eips.contains(*e)).cloned());
        f.field("elastic_ip", eip, Some(d.name.clone()));
        f.state("state", o.map(|o| Some(o.fields.state.clone())), "available".to_string());
        f.tags(o.map(|o| &o.tags), tags);
        f
    };
    let igw = n.internet_gateway.clone();
    let deps = move |d: &NatGateway| {
        vec![
            Address::new(Kind::Subnet, &d.subnet),
            Address::new(Kind::ElasticIp, &d.name),
            Address::new(Kind::InternetGateway, &igw),
        ]
    };
    let spec = ServiceDiff {
        kind: Kind::NatGateway,
        desired_name: |d: &NatGateway| &d.name,
        fields: &nat_fields,
        replace_on: &["subnet", "elastic_ip"],
        depends_on: &deps,
    };
    diff_kind(ctx, spec, &n.nat_gateways, &observed.nat_gateways, plan);
}

pub async fn apply_elastic_ip(
    clients: &Clients,
    ctx: &PlanContext,
    observed: Option<&Observed<ElasticIpFields>>,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let ec2 = &clients.ec2;
    match action {
        Action::Delete => {
            let id = ids.get(address)?;
            match ec2.release_address().allocation_id(&id).send().await {
                Ok(_) => Ok(()),
                Err(e) if code(&e) == Some("InvalidAllocationID.NotFound") => Ok(()),
                Err(e) => bail!("releasing {address}: {}", describe(&e)),
            }
        }
        Action::Create | Action::Replace => {
            let tags = ctx.tags(address);
            let out = ec2
                .allocate_address()
                .domain(DomainType::Vpc)
                .tag_specifications(tags::ec2_spec(ResourceType::ElasticIp, &tags))
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("allocating {address}: {}", describe(&e)))?;
            ids.set(address, out.allocation_id().unwrap_or_default());
            Ok(())
        }
        Action::Update => {
            let Some(o) = observed else { bail!("updating {address}: it was not observed") };
            tags::sync_ec2(&clients.ec2, address, &o.id, &o.tags, &ctx.tags(address)).await
        }
    }
}

pub async fn apply_nat_gateway(
    clients: &Clients,
    ctx: &PlanContext,
    desired: Option<&NatGateway>,
    observed: Option<&Observed<NatFields>>,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    match (action, desired) {
        (Action::Delete, _) => delete(clients, ids, address).await,
        (Action::Create | Action::Replace, Some(d)) => {
            if action == Action::Replace {
                delete(clients, ids, address).await?;
            }
            let subnet = ids.get(&Address::new(Kind::Subnet, &d.subnet))?;
            let allocation = ids.get(&Address::new(Kind::ElasticIp, &d.name))?;
            let tags = ctx.tags(address);
            let out = clients
                .ec2
                .create_nat_gateway()
                .subnet_id(&subnet)
                .allocation_id(&allocation)
                .client_token(crate::aws::client_token(&[&ctx.stack, &address.to_string(), &subnet, &allocation]))
                .tag_specifications(tags::ec2_spec(ResourceType::Natgateway, &tags))
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("creating {address}: {}", describe(&e)))?;
            let id = out.nat_gateway().and_then(|g| g.nat_gateway_id()).unwrap_or_default().to_string();
            ids.set(address, &id);
            crate::failpoint::hit(address, "created");
            wait_for(clients, address, &id, NatGatewayState::Available).await
        }
        (Action::Update, Some(_)) => {
            let Some(o) = observed else { bail!("updating {address}: it was not observed") };
            tags::sync_ec2(&clients.ec2, address, &o.id, &o.tags, &ctx.tags(address)).await?;
            wait_for(clients, address, &o.id, NatGatewayState::Available).await
        }
        (_, None) => bail!("{address}: no desired state to {action:?}"),
    }
}

async fn delete(clients: &Clients, ids: &Ids, address: &Address) -> Result<()> {
    let id = ids.get(address)?;
    match clients.ec2.delete_nat_gateway().nat_gateway_id(&id).send().await {
        Ok(_) => {}
        Err(e) if code(&e) == Some("NatGatewayNotFound") || code(&e) == Some("InvalidNatGatewayID.NotFound") => {
            return Ok(())
        }
        Err(e) => bail!("deleting {address}: {}", describe(&e)),
    }
    wait_for(clients, address, &id, NatGatewayState::Deleted).await
}

/// Polls the gateway until it reaches `target`; a `failed` gateway ends the wait with AWS's reason.
async fn wait_for(clients: &Clients, address: &Address, id: &str, target: NatGatewayState) -> Result<()> {
    let what = format!("{address} to become {}", target.as_str());
    wait::until(&what, wait::timeout(NAT_TIMEOUT), || async {
        let out = clients
            .ec2
            .describe_nat_gateways()
            .filter(Filter::builder().name("nat-gateway-id").values(id).build())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading {address}: {}", describe(&e)))?;
        let Some(gw) = out.nat_gateways().first() else {
            // Gone from the listing: deleted, or not yet visible after create.
            return Ok(if target == NatGatewayState::Deleted {
                Check::Ready(())
            } else {
                Check::Pending("not visible yet".into())
            });
        };
        match gw.state() {
            Some(s) if *s == target => Ok(Check::Ready(())),
            Some(NatGatewayState::Failed) => {
                bail!("{address} failed: {}", gw.failure_message().unwrap_or("no reason given"))
            }
            Some(s) => Ok(Check::Pending(s.as_str().to_string())),
            None => Ok(Check::Pending("unknown".into())),
        }
    })
    .await
}
