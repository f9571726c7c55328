//! `hosted_zone.NAME`: a resource of this stack only when the stack file asks to create it and it
//! is missing (or this stack created it before). A zone someone else made is used, never changed.
//! Route 53 takes tags only after the zone exists; a crash in between leaves an untagged zone,
//! which is still this stack's by its CallerReference (`dns::caller_reference`): the next run
//! tags it, and `down --delete-data` deletes it.

use anyhow::Result;

use super::{zone_id, Zone};
use crate::aws::error::{failed, required};
use crate::aws::Clients;
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::desired::Desired;
use crate::model::tags::{Owner, Tags};
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::plan::build::ownership;
use crate::reconcile::contract::{ApplyCx, DiffCx, Resource};
use crate::reconcile::tags;
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct HostedZone;

/// The zone, when it is this stack's (by its tags or its CallerReference).
fn owned<'a>(cx: &'a DiffCx<'_>) -> Option<&'a Zone> {
    cx.observed.dns.zone.as_ref().filter(|z| ownership(&cx.ctx.stack, *z) == Owner::ThisStack)
}

impl Resource for HostedZone {
    const KIND: Kind = Kind::HostedZone;
    const GROUP: Group = Group::Dns;
    const FIELDS: &'static [Path] = &[TAGS];
    /// The zone's name.
    type Desired = String;
    type Observed = Zone;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::HostedZone)
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<String> {
        let d = cx.desired.dns.as_ref().filter(|d| d.create_zone);
        let creatable = cx.observed.dns.zone.is_none() || owned(cx).is_some();
        d.filter(|_| creatable).map(|d| d.zone.clone()).into_iter().collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Zone> {
        owned(cx).cloned().into_iter().collect()
    }

    fn name(d: &String) -> &str {
        d
    }

    fn fields(_: &DiffCx<'_>, _: &String, o: Option<&Zone>, tags: &Tags) -> FieldDiff {
        let mut f = FieldDiff::default();
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_route53_zone(&clients.route53, address, super::zone_id(id), have, want).await
    }

    async fn create(cx: &ApplyCx<'_>, address: &Address, d: &String, _: Option<&Zone>) -> Result<String> {
        let r53 = &cx.clients.route53;
        let request = r53.create_hosted_zone().name(d).caller_reference(super::caller_reference(&cx.ctx.stack));
        let out =
            crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::route53()).send())
                .await
                .map_err(|e| failed("creating", address, &e))?;
        let id =
            zone_id(required(out.hosted_zone().map(|z| z.id()), "creating", address, "hostedZone.id")?).to_string();
        cx.ids.set(address, &id);
        crate::failpoint::hit(address, "untagged");
        tags::sync_route53_zone(r53, address, &id, &Tags::new(), &cx.tags(address)).await?;
        Ok(id)
    }

    /// Every field but the tags forces a replacement (`REPLACE_ON`) and the tags are the
    /// runner's: nothing is changed in place.
    async fn update(_: &ApplyCx<'_>, _: &Address, _: &String, _: &Zone, _: &Delta<'_>) -> Result<()> {
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Zone) -> Result<()> {
        cx.clients.route53.delete_hosted_zone().id(&o.id).send().await.map_err(|e| failed("deleting", address, &e))?;
        Ok(())
    }
}
