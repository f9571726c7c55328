//! `internet_gateway.NAME`: the VPC's internet gateway, attached to it. Deleting it detaches it
//! first, waiting (bounded, `network-interfaces-released`) while the VPC's public addresses are
//! still being released, then deletes it once EC2 has finished the detach.

use anyhow::Result;
use aws_sdk_ec2::types::ResourceType;

use super::{GatewayFields, Observed};
use crate::aws::consistency;
use crate::aws::error::{failed, required};
use crate::aws::Clients;
use crate::diff::{foreign, Delta, FieldDiff, Path, TAGS};
use crate::model::consistency::Call;
use crate::model::desired::Desired;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{gone_is_done, ApplyCx, DiffCx, Resource};
use crate::reconcile::tags;
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct InternetGateway;

/// The gateway and the VPC it belongs to, by name.
#[derive(Debug, Clone)]
pub struct DesiredGateway {
    pub name: String,
    pub vpc: String,
}

const ATTACHED_TO: Path = Path::field("attached_to");

impl Resource for InternetGateway {
    const KIND: Kind = Kind::InternetGateway;
    const GROUP: Group = Group::Network;
    const FIELDS: &'static [Path] = &[ATTACHED_TO, TAGS];
    type Desired = DesiredGateway;
    type Observed = Observed<GatewayFields>;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<DesiredGateway> {
        let n = cx.desired.network.iter();
        n.map(|n| DesiredGateway { name: n.internet_gateway.clone(), vpc: n.vpc.name.clone() }).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<GatewayFields>> {
        cx.observed.network.internet_gateways.clone()
    }

    fn name(d: &DesiredGateway) -> &str {
        &d.name
    }

    fn fields(cx: &DiffCx<'_>, d: &DesiredGateway, o: Option<&Observed<GatewayFields>>, tags: &Tags) -> FieldDiff {
        let vpc_names = cx.ids.names(Kind::Vpc);
        let mut f = FieldDiff::default();
        let attached = |o: &Observed<GatewayFields>| {
            let names: Vec<String> = o
                .fields
                .attached_to
                .iter()
                .map(|id| vpc_names.get(id).map(|n| format!("vpc.{n}")).unwrap_or_else(|| foreign(id)))
                .collect();
            (!names.is_empty()).then(|| names.join(", "))
        };
        f.field(ATTACHED_TO, o.map(attached), Some(format!("vpc.{}", d.vpc)));
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn depends_on(_: &DiffCx<'_>, d: &DesiredGateway) -> Vec<Address> {
        vec![Address::new(Kind::Vpc, &d.vpc)]
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_ec2(&clients.ec2, address, id, have, want).await
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredGateway,
        _: Option<&Self::Observed>,
    ) -> Result<String> {
        let request = cx
            .clients
            .ec2
            .create_internet_gateway()
            .tag_specifications(tags::ec2_spec(ResourceType::InternetGateway, &cx.tags(address)));
        let out =
            crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ec2()).send())
                .await
                .map_err(|e| failed("creating", address, &e))?;
        let gateway = out.internet_gateway().and_then(|g| g.internet_gateway_id());
        let id = required(gateway, "creating", address, "internetGatewayId")?.to_string();
        cx.ids.set(address, &id);
        attach(cx, address, &id, d).await?;
        Ok(id)
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredGateway,
        o: &Observed<GatewayFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        if delta.has(ATTACHED_TO) {
            attach(cx, address, &o.id, d).await?;
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<GatewayFields>) -> Result<()> {
        let ec2 = &cx.clients.ec2;
        for vpc_id in &o.fields.attached_to {
            detach(ec2, address, &o.id, vpc_id).await?;
        }
        // Right after the detach, EC2 refuses the delete for a while (`internet-gateway-detached`).
        let delete = || async {
            let request = ec2.delete_internet_gateway().internet_gateway_id(&o.id);
            request.send().await.map_err(|e| failed("deleting", address, &e))
        };
        consistency::retry(Call::Ec2DeleteInternetGateway, address, delete).await?;
        Ok(())
    }
}

/// Detaches the gateway from `vpc_id`. The VPC's public addresses (a deleted load balancer's, a
/// NAT gateway's) are released some time after their own delete returned; until then AWS answers
/// DependencyViolation ("has some mapped public address(es)"), retried while they drain. Not
/// attached (any more) is what a detach wants: a NotFound kind.
pub(super) async fn detach(ec2: &aws_sdk_ec2::Client, address: &Address, id: &str, vpc_id: &str) -> Result<()> {
    let detach = || async {
        let request = ec2.detach_internet_gateway().internet_gateway_id(id).vpc_id(vpc_id);
        request.send().await.map_err(|e| failed("detaching", address, &e))
    };
    gone_is_done(super::drain(Call::Ec2DetachInternetGateway, address, "vpc-id", vpc_id, ec2, detach).await)
}

async fn attach(cx: &ApplyCx<'_>, address: &Address, id: &str, d: &DesiredGateway) -> Result<()> {
    let vpc = cx.ids.get(&Address::new(Kind::Vpc, &d.vpc))?;
    let request = cx.clients.ec2.attach_internet_gateway().internet_gateway_id(id).vpc_id(vpc);
    // The gateway and VPC made moments ago may not be visible yet (`internet-gateway-visible`,
    // `vpc-visible`).
    let attach = || async {
        crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ec2()).send())
            .await
            .map_err(|e| failed("attaching", address, &e))
    };
    consistency::retry(Call::Ec2AttachInternetGateway, address, attach).await?;
    Ok(())
}
