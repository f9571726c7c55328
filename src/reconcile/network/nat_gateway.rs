//! `nat_gateway.NAME`: a NAT gateway in a public subnet with its Elastic IP. Waited on until
//! `available` after it is created (or when a plan finds it still `pending`, e.g. after a
//! crash), and until `deleted` before its Elastic IP is released. Another subnet or Elastic IP
//! replaces it.

use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_ec2::types::{Filter, NatGatewayState, ResourceType};

use super::{NatFields, Observed};
use crate::aws::consistency::{self, Patience};
use crate::aws::describe;
use crate::aws::error::{failed, required};
use crate::aws::wait::{self, Check};
use crate::aws::Clients;
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::consistency::{Call, NAT_GATEWAY_VISIBLE};
use crate::model::network::NatGateway as Desired;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{ApplyCx, DiffCx, Resource};
use crate::reconcile::kit::renewed;
use crate::reconcile::tags;
use crate::reconcile::Group;

/// NAT gateways usually take 1–3 minutes either way.
const NAT_TIMEOUT: Duration = Duration::from_secs(900);

#[derive(Debug, Clone)]
pub struct NatGateway;

const SUBNET: Path = Path::field("subnet");
const ELASTIC_IP: Path = Path::field("elastic_ip");
const STATE: Path = Path::field("state");

impl Resource for NatGateway {
    const KIND: Kind = Kind::NatGateway;
    const GROUP: Group = Group::Network;
    const FIELDS: &'static [Path] = &[SUBNET, ELASTIC_IP, STATE, TAGS];
    const REPLACE_ON: &'static [Path] = &[SUBNET, ELASTIC_IP];
    type Desired = Desired;
    type Observed = Observed<NatFields>;

    fn usage(_: &crate::model::desired::Desired, _: &str) -> Option<Usage> {
        Some(Usage::NatGateway)
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<Desired> {
        cx.desired.network.iter().flat_map(|n| n.nat_gateways.clone()).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<NatFields>> {
        cx.observed.network.nat_gateways.clone()
    }

    fn name(d: &Desired) -> &str {
        &d.name
    }

    fn fields(cx: &DiffCx<'_>, d: &Desired, o: Option<&Observed<NatFields>>, tags: &Tags) -> FieldDiff {
        let (subnet_names, eip_names) = (cx.ids.names(Kind::Subnet), cx.ids.names(Kind::ElasticIp));
        let (new_subnets, new_eips) = (renewed(cx.plan, Kind::Subnet), renewed(cx.plan, Kind::ElasticIp));
        let mut f = FieldDiff::default();
        // A reference to something about to be created or replaced is a reference to nothing yet.
        let subnet = o.map(|o| subnet_names.get(&o.fields.subnet_id).filter(|s| !new_subnets.contains(*s)).cloned());
        f.field(SUBNET, subnet, Some(d.subnet.clone()));
        let eip = o.map(|o| eip_names.get(&o.fields.allocation_id).filter(|e| !new_eips.contains(*e)).cloned());
        f.field(ELASTIC_IP, eip, Some(d.name.clone()));
        f.state(STATE, o.map(|o| Some(o.fields.state.clone())), "available".to_string());
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn depends_on(cx: &DiffCx<'_>, d: &Desired) -> Vec<Address> {
        let igw = cx.desired.network.as_ref().map(|n| n.internet_gateway.clone()).unwrap_or_default();
        vec![
            Address::new(Kind::Subnet, &d.subnet),
            Address::new(Kind::ElasticIp, &d.name),
            Address::new(Kind::InternetGateway, &igw),
        ]
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_ec2(&clients.ec2, address, id, have, want).await
    }

    async fn create(cx: &ApplyCx<'_>, address: &Address, d: &Desired, _: Option<&Self::Observed>) -> Result<String> {
        let subnet = cx.ids.get(&Address::new(Kind::Subnet, &d.subnet))?;
        let allocation = cx.ids.get(&Address::new(Kind::ElasticIp, &d.name))?;
        // The subnet and address made moments ago may not be visible yet (`subnet-visible`,
        // `elastic-ip-visible`). Each attempt has a token of its own: the one before was refused.
        let attempt = std::cell::Cell::new(0u32);
        let create = || async {
            attempt.set(attempt.get() + 1);
            let parts = [cx.ctx.stack.as_str(), &address.to_string(), &subnet, &allocation, &attempt.get().to_string()];
            let request = cx
                .clients
                .ec2
                .create_nat_gateway()
                .subnet_id(&subnet)
                .allocation_id(&allocation)
                .client_token(crate::aws::client_token(&parts))
                .tag_specifications(tags::ec2_spec(ResourceType::Natgateway, &cx.tags(address)));
            crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ec2()).send())
                .await
                .map_err(|e| failed("creating", address, &e))
        };
        let out = consistency::retry(Call::Ec2CreateNatGateway, address, create).await?;
        Ok(required(out.nat_gateway().and_then(|g| g.nat_gateway_id()), "creating", address, "natGatewayId")?
            .to_string())
    }

    async fn ready(cx: &ApplyCx<'_>, address: &Address, _: &Desired, id: &str) -> Result<()> {
        wait_for(cx, address, id, NatGatewayState::Available).await
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        _: &Desired,
        o: &Observed<NatFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        // A gateway not available yet (its state) is waited for.
        delta.handled(STATE);
        wait_for(cx, address, &o.id, NatGatewayState::Available).await
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<NatFields>) -> Result<()> {
        cx.clients
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(&o.id)
            .send()
            .await
            .map_err(|e| failed("deleting", address, &e))?;
        wait_for(cx, address, &o.id, NatGatewayState::Deleted).await
    }
}

/// Polls the gateway until it reaches `target`; a `failed` gateway ends the wait with AWS's reason.
async fn wait_for(cx: &ApplyCx<'_>, address: &Address, id: &str, target: NatGatewayState) -> Result<()> {
    let what = format!("{address} to become {}", target.as_str());
    // A NAT gateway is typically available (or deleted) within one to two minutes.
    let typical = Duration::from_secs(if target == NatGatewayState::Deleted { 60 } else { 100 });
    let visible = Patience::new(&NAT_GATEWAY_VISIBLE, address);
    wait::until_about(&what, wait::timeout(NAT_TIMEOUT), typical, || async {
        let out = cx
            .clients
            .ec2
            .describe_nat_gateways()
            .filter(Filter::builder().name("nat-gateway-id").values(id).build())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading {address}: {}", describe(&e)))?;
        let Some(gw) = out.nat_gateways().first() else {
            // Gone from the listing: deleted, or not listed yet after its create.
            return Ok(if target == NatGatewayState::Deleted {
                Check::Ready(())
            } else {
                Check::Pending(visible.not_yet()?)
            });
        };
        visible.seen();
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
