//! `dns_records.ZONE`: the stack's ALIAS records to the load balancer, as one resource. Records
//! cannot be tagged: the stack owns exactly the records it declares (zone + name + type). All
//! changes go in one batch, waited on until in sync.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use aws_sdk_route53::types::ChangeAction;

use super::{change, submit, Alias};
use crate::aws::describe;
use crate::aws::Clients;
use crate::diff::{Delta, FieldDiff, Path};
use crate::model::desired::Desired;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::plan::build::ObservedResource;
use crate::reconcile::contract::{untagged, ApplyCx, DiffCx, Resource};
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct DnsRecords;

/// The declared records of a zone and the load balancer they alias.
#[derive(Debug, Clone)]
pub struct DesiredRecords {
    pub zone: String,
    /// Fully qualified names (no trailing dot).
    pub names: Vec<String>,
    pub load_balancer: String,
}

/// The declared records present in the zone, owned by declaration (they carry the stack's tags).
#[derive(Debug, Clone)]
pub struct Records {
    pub name: String,
    pub tags: Tags,
    pub records: BTreeMap<String, Alias>,
}

impl ObservedResource for Records {
    fn name(&self) -> &str {
        &self.name
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
}

/// The load balancer the records alias: the declared one, else (in `down`) the one observed.
fn load_balancer(cx: &DiffCx<'_>) -> Option<String> {
    let declared = cx.desired.ingress.as_ref().map(|e| e.load_balancer.name.clone());
    declared.or_else(|| cx.observed.edge.load_balancers.first().map(|l| l.name.clone()))
}

/// Each record, named `NAME TYPE` (`api.example.com A`).
const RECORD: Path = Path::keyed("record");

impl Resource for DnsRecords {
    const KIND: Kind = Kind::DnsRecords;
    const GROUP: Group = Group::Dns;
    const OWNED_THROUGH: Option<Kind> = Some(Kind::HostedZone);
    const FIELDS: &'static [Path] = &[RECORD];
    type Desired = DesiredRecords;
    type Observed = Records;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<DesiredRecords> {
        let (Some(d), Some(lb)) = (cx.desired.dns.as_ref(), load_balancer(cx)) else { return vec![] };
        let records = DesiredRecords { zone: d.zone.clone(), names: d.records.clone(), load_balancer: lb };
        (!d.records.is_empty()).then_some(records).into_iter().collect()
    }

    /// The declared records are this stack's only while it has a load balancer they alias (in
    /// `down`, an owned one observed): another stack's records under the same names stay its own.
    fn observed(cx: &DiffCx<'_>) -> Vec<Records> {
        let d = cx.desired.dns.as_ref().filter(|_| !cx.observed.dns.records.is_empty() && load_balancer(cx).is_some());
        let Some(d) = d else { return vec![] };
        let tags = cx.ctx.tags(&Address::new(Kind::DnsRecords, &d.zone));
        vec![Records { name: d.zone.clone(), tags, records: cx.observed.dns.records.clone() }]
    }

    fn name(d: &DesiredRecords) -> &str {
        &d.zone
    }

    fn fields(cx: &DiffCx<'_>, d: &DesiredRecords, o: Option<&Records>, _: &Tags) -> FieldDiff {
        let lb_dns =
            cx.observed.edge.load_balancers.iter().find(|l| l.name == d.load_balancer).map(|l| &l.fields.dns_name);
        let target = format!("load_balancer.{}", d.load_balancer);
        let shown = |a: &Alias| {
            if Some(&a.dns_name) == lb_dns {
                target.clone()
            } else {
                format!("{} ({})", a.dns_name, a.zone_id)
            }
        };
        let mut f = FieldDiff::default();
        for name in &d.names {
            f.field(format!("{name} A"), o.map(|o| o.records.get(name).map(shown)), Some(target.clone()));
        }
        f
    }

    fn depends_on(_: &DiffCx<'_>, d: &DesiredRecords) -> Vec<Address> {
        vec![Address::new(Kind::LoadBalancer, &d.load_balancer), Address::new(Kind::HostedZone, &d.zone)]
    }

    fn tag_id(_: &Self::Observed) -> &str {
        ""
    }

    async fn tag(_: &Clients, address: &Address, _: &str, _: &Tags, _: &Tags) -> Result<()> {
        untagged(address)
    }

    async fn create(cx: &ApplyCx<'_>, address: &Address, d: &DesiredRecords, _: Option<&Records>) -> Result<String> {
        upsert(cx, address, d).await?;
        Ok(d.zone.clone())
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredRecords,
        _: &Records,
        delta: &Delta<'_>,
    ) -> Result<()> {
        // Every record of the zone's names is upserted: one change batch whatever differs.
        delta.all();
        upsert(cx, address, d).await
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Records) -> Result<()> {
        let zone = cx.ids.get(&Address::new(Kind::HostedZone, &o.name))?;
        let changes = o
            .records
            .iter()
            .map(|(name, a)| change(ChangeAction::Delete, name, &a.dns_name, &a.zone_id, a.evaluate_target_health))
            .collect::<Result<Vec<_>>>()?;
        if changes.is_empty() {
            return Ok(());
        }
        submit(&cx.clients.route53, &zone, changes, &address.to_string()).await
    }
}

/// Upserts every declared record to alias the load balancer, in one batch.
async fn upsert(cx: &ApplyCx<'_>, address: &Address, d: &DesiredRecords) -> Result<()> {
    let zone = cx.ids.get(&Address::new(Kind::HostedZone, &d.zone))?;
    let arn = cx.ids.get(&Address::new(Kind::LoadBalancer, &d.load_balancer))?;
    let out =
        cx.clients.elb.describe_load_balancers().load_balancer_arns(arn).send().await.map_err(|e| {
            anyhow::anyhow!("reading load_balancer.{} for {address}: {}", d.load_balancer, describe(&e))
        })?;
    let lb = out.load_balancers().first();
    let (Some(dns), Some(lb_zone)) = (lb.and_then(|l| l.dns_name()), lb.and_then(|l| l.canonical_hosted_zone_id()))
    else {
        bail!("{address}: the load balancer has no DNS name yet");
    };
    let changes = d
        .names
        .iter()
        .map(|name| change(ChangeAction::Upsert, name, dns, lb_zone, true))
        .collect::<Result<Vec<_>>>()?;
    submit(&cx.clients.route53, &zone, changes, &address.to_string()).await
}
