//! `elastic_ip.NAME`: the Elastic IP of the NAT gateway of the same name.

use anyhow::Result;
use aws_sdk_ec2::types::{DomainType, ResourceType};

use super::{ElasticIpFields, Observed};
use crate::aws::error::{failed, required};
use crate::aws::Clients;
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::desired::Desired;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{ApplyCx, DiffCx, Resource};
use crate::reconcile::tags;
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct ElasticIp;

const DOMAIN: Path = Path::field("domain");

impl Resource for ElasticIp {
    const KIND: Kind = Kind::ElasticIp;
    const GROUP: Group = Group::Network;
    const FIELDS: &'static [Path] = &[DOMAIN, TAGS];
    const REPLACE_ON: &'static [Path] = &[DOMAIN];
    /// The name: one per NAT gateway.
    type Desired = String;
    type Observed = Observed<ElasticIpFields>;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::PublicIpv4)
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<String> {
        cx.desired.network.iter().flat_map(|n| n.nat_gateways.iter().map(|g| g.name.clone())).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<ElasticIpFields>> {
        cx.observed.network.elastic_ips.clone()
    }

    fn name(d: &String) -> &str {
        d
    }

    fn fields(_: &DiffCx<'_>, _: &String, o: Option<&Observed<ElasticIpFields>>, tags: &Tags) -> FieldDiff {
        let mut f = FieldDiff::default();
        f.field(DOMAIN, o.map(|_| Some("vpc".to_string())), Some("vpc".to_string()));
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_ec2(&clients.ec2, address, id, have, want).await
    }

    async fn create(cx: &ApplyCx<'_>, address: &Address, _: &String, _: Option<&Self::Observed>) -> Result<String> {
        let request = cx
            .clients
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tags::ec2_spec(ResourceType::ElasticIp, &cx.tags(address)));
        let out =
            crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ec2()).send())
                .await
                .map_err(|e| failed("allocating", address, &e))?;
        Ok(required(out.allocation_id(), "allocating", address, "allocationId")?.to_string())
    }

    /// Every field but the tags forces a replacement (`REPLACE_ON`) and the tags are the
    /// runner's: nothing is changed in place.
    async fn update(
        _: &ApplyCx<'_>,
        _: &Address,
        _: &String,
        _: &Observed<ElasticIpFields>,
        _: &Delta<'_>,
    ) -> Result<()> {
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<ElasticIpFields>) -> Result<()> {
        cx.clients
            .ec2
            .release_address()
            .allocation_id(&o.id)
            .send()
            .await
            .map_err(|e| failed("releasing", address, &e))?;
        Ok(())
    }
}
