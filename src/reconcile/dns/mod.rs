//! Route 53: the hosted zone (`hosted_zone`) and the stack's ALIAS records to the load balancer
//! (`records`), plus the writing of ACM's validation records for the certificate reconciler.
//!
//! The zone is found by name. It is a resource of this stack only when the stack file asks to
//! create it and it is missing (or was created by this stack before); an existing zone of someone
//! else's is used, never changed. A zone holds data: `down` keeps it unless asked.
//! Records cannot be tagged: the stack owns exactly the records it declares (zone + name + type).
//! All record changes of a step go in one change batch, waited on until `INSYNC`.

pub mod delegation;
mod hosted_zone;
mod records;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
    TagResourceType,
};
use aws_sdk_route53::Client;

use crate::aws::wait::{self, Check};
use crate::aws::{describe, Clients};
use crate::model::ingress::Dns;
use crate::model::tags::Tags;
use crate::plan::build::ObservedResource;

pub use hosted_zone::HostedZone;
pub use records::DnsRecords;

/// Route 53 propagates a change to all its servers within about a minute.
const SYNC_TIMEOUT: Duration = Duration::from_secs(300);

/// One observed ALIAS record: the target as AWS has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    pub dns_name: String,
    pub zone_id: String,
    pub evaluate_target_health: bool,
}

/// A hosted zone: its name (no trailing dot), id (without `/hostedzone/`), tags and the
/// CallerReference it was created with.
#[derive(Debug, Clone)]
pub struct Zone {
    pub name: String,
    pub id: String,
    pub tags: Tags,
    pub caller_reference: String,
}

/// The CallerReference this stack creates zones with: unique per request, as Route 53 requires,
/// and starting with the stack's own prefix — the proof a zone is this stack's when a crash
/// between `CreateHostedZone` and tagging left it untagged (Route 53 takes no tags at create).
pub fn caller_reference(stack: &str) -> String {
    let nonce = crate::aws::client_token(&[stack, "hosted_zone"]);
    format!("{}{}", reference_prefix(stack), nonce.trim_start_matches("containrlab-"))
}

fn reference_prefix(stack: &str) -> String {
    format!("containrlab/{stack}/")
}

#[derive(Debug, Clone, Default)]
pub struct ObservedDns {
    /// The zone by name, when it exists (owned or not).
    pub zone: Option<Zone>,
    /// The declared A records that exist: fully qualified name (no trailing dot) → alias.
    pub records: BTreeMap<String, Alias>,
    /// Every CNAME of the zone, normalised name → value (the certificate's validation records are
    /// among them, read in the same listing).
    pub cnames: BTreeMap<String, String>,
}

/// `/hostedzone/Z123` and `Z123` are the same zone.
pub fn zone_id(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

/// Names compare without the trailing dot, in lower case, and without ELB's `dualstack.` prefix.
pub fn dns_name(name: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.strip_prefix("dualstack.").map(str::to_string).unwrap_or(name)
}

/// The public hosted zone named `zone` (without the trailing dot), if the account has one.
pub async fn find_zone(r53: &Client, zone: &str) -> Result<Option<aws_sdk_route53::types::HostedZone>> {
    let zones = r53
        .list_hosted_zones_by_name()
        .dns_name(format!("{zone}."))
        .max_items(1)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("looking up hosted zone {zone}: {}", describe(&e)))?;
    Ok(zones.hosted_zones().iter().find(|z| dns_name(z.name()) == zone).cloned())
}

pub async fn observe(clients: &Clients, desired: Option<&Dns>) -> Result<ObservedDns> {
    let Some(d) = desired else { return Ok(ObservedDns::default()) };
    let r53 = &clients.route53;
    let Some(zone) = find_zone(r53, &d.zone).await? else { return Ok(ObservedDns::default()) };
    let id = zone_id(zone.id()).to_string();
    let tags = async {
        r53.list_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(&id)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading the tags of hosted zone {}: {}", d.zone, describe(&e)))
    };
    let (tags, (records, cnames)) = tokio::try_join!(tags, list_records(r53, &id, &d.records))?;
    let tags: Tags = tags
        .resource_tag_set()
        .map(|s| {
            s.tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                .collect()
        })
        .unwrap_or_default();
    let caller_reference = zone.caller_reference().to_string();
    Ok(ObservedDns { zone: Some(Zone { name: d.zone.clone(), id, tags, caller_reference }), records, cnames })
}

/// The declared A records present in the zone, and every CNAME (all pages).
type Listed = (BTreeMap<String, Alias>, BTreeMap<String, String>);

async fn list_records(r53: &Client, zone: &str, declared: &[String]) -> Result<Listed> {
    let mut out = BTreeMap::new();
    let mut cnames = BTreeMap::new();
    let mut start: Option<(String, RrType)> = None;
    loop {
        let mut req = r53.list_resource_record_sets().hosted_zone_id(zone);
        if let Some((name, kind)) = start.take() {
            req = req.start_record_name(name).start_record_type(kind);
        }
        let page = req
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing the records of hosted zone {zone}: {}", describe(&e)))?;
        for set in page.resource_record_sets() {
            let name = dns_name(set.name());
            if set.r#type() == &RrType::Cname {
                if let Some(value) = set.resource_records().first() {
                    cnames.insert(name.clone(), dns_name(value.value()));
                }
            }
            if set.r#type() == &RrType::A && declared.contains(&name) {
                if let Some(a) = set.alias_target() {
                    let alias = Alias {
                        dns_name: dns_name(a.dns_name()),
                        zone_id: zone_id(a.hosted_zone_id()).to_string(),
                        evaluate_target_health: a.evaluate_target_health(),
                    };
                    out.insert(name, alias);
                }
            }
        }
        match (page.is_truncated(), page.next_record_name(), page.next_record_type()) {
            (true, Some(name), Some(kind)) => start = Some((name.to_string(), kind.clone())),
            _ => return Ok((out, cnames)),
        }
    }
}

impl ObservedResource for Zone {
    fn name(&self) -> &str {
        &self.name
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn holds_data(&self) -> Option<String> {
        Some("a hosted zone holds DNS records and the domain's delegation".into())
    }
    fn made_by(&self, stack: &str) -> bool {
        self.caller_reference.starts_with(&reference_prefix(stack))
    }
}

/// A declared zone that does not exist is an error unless the stack may create it.
pub fn check_zone(desired: Option<&Dns>, observed: &ObservedDns, mode: crate::plan::build::Mode) -> Result<()> {
    match desired {
        Some(d) if observed.zone.is_none() && !d.create_zone && mode == crate::plan::build::Mode::Converge => bail!(
            "hosted zone {} does not exist; create it, or set `dns.create_zone: true` to let the stack create it",
            d.zone
        ),
        _ => Ok(()),
    }
}

pub(super) fn change(
    action: ChangeAction,
    name: &str,
    target: &str,
    target_zone: &str,
    evaluate: bool,
) -> Result<Change> {
    let alias =
        AliasTarget::builder().dns_name(target).hosted_zone_id(target_zone).evaluate_target_health(evaluate).build()?;
    let set = ResourceRecordSet::builder().name(name).r#type(RrType::A).alias_target(alias).build()?;
    Ok(Change::builder().action(action).resource_record_set(set).build()?)
}

/// Of these `(name, value)` CNAME records, those the zone holds now (one lookup each).
pub async fn present_cnames(r53: &Client, zone: &str, records: &[(String, String)]) -> Result<Vec<(String, String)>> {
    let mut present = Vec::new();
    for (name, value) in records {
        let out = r53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(name)
            .start_record_type(RrType::Cname)
            .max_items(1)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing the records of hosted zone {zone}: {}", describe(&e)))?;
        let found = out.resource_record_sets().iter().any(|set| {
            set.r#type() == &RrType::Cname
                && dns_name(set.name()) == dns_name(name)
                && set.resource_records().iter().any(|r| dns_name(r.value()) == dns_name(value))
        });
        if found {
            present.push((name.clone(), value.clone()));
        }
    }
    Ok(present)
}

/// CNAME changes (ACM validation records), in one batch, waited on until in sync.
pub async fn cnames(
    r53: &Client,
    zone: &str,
    action: ChangeAction,
    records: &[(String, String)],
    what: &str,
) -> Result<()> {
    let changes = records
        .iter()
        .map(|(name, value)| {
            let set = ResourceRecordSet::builder()
                .name(name)
                .r#type(RrType::Cname)
                .ttl(300)
                .resource_records(ResourceRecord::builder().value(value).build()?)
                .build()?;
            Ok(Change::builder().action(action.clone()).resource_record_set(set).build()?)
        })
        .collect::<Result<Vec<_>>>()?;
    submit(r53, zone, changes, what).await
}

pub(super) async fn submit(r53: &Client, zone: &str, changes: Vec<Change>, what: &str) -> Result<()> {
    let batch = ChangeBatch::builder().set_changes(Some(changes)).build()?;
    let out = r53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("changing records for {what}: {}", describe(&e)))?;
    let Some(id) = out.change_info().map(|c| c.id().to_string()) else { return Ok(()) };
    wait::until(&format!("DNS changes of {what} to be in sync"), wait::timeout(SYNC_TIMEOUT), || async {
        let c = r53
            .get_change()
            .id(&id)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading DNS change {id}: {}", describe(&e)))?;
        Ok(match c.change_info().map(|i| i.status()) {
            Some(ChangeStatus::Insync) => Check::Ready(()),
            other => Check::Pending(other.map(|s| s.as_str().to_string()).unwrap_or_default()),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_ids_and_names_normalise() {
        assert_eq!(zone_id("/hostedzone/Z123"), "Z123");
        assert_eq!(zone_id("Z123"), "Z123");
        assert_eq!(dns_name("dualstack.My-ALB-1.us-east-1.elb.amazonaws.com."), "my-alb-1.us-east-1.elb.amazonaws.com");
        assert_eq!(dns_name("api.containrlab.click"), "api.containrlab.click");
    }
}
