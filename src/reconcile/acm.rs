//! The ACM certificate: requested with DNS validation, its validation CNAMEs written to the zone,
//! waited on until `ISSUED`. Found by its tags (Resource Groups Tagging API), then described.
//! On delete, the certificate goes first (once no listener uses it), then its validation records.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_acm::types::{CertificateStatus, Tag, ValidationMethod};
use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_sdk_route53::types::ChangeAction;

use crate::aws::wait::{self, Check};
use crate::aws::{concurrent, describe, Clients};
use crate::diff::FieldDiff;
use crate::model::edge::Certificate;
use crate::model::tags::{Tags, ADDRESS, STACK};
use crate::model::{Address, Kind};
use crate::plan::build::{diff_kind, PlanContext, ServiceDiff};
use crate::plan::{Action, Plan};

use super::kit::{Ids, Observed, CONCURRENCY};

/// DNS validation usually completes within minutes once the records resolve.
const ISSUE_TIMEOUT: Duration = Duration::from_secs(1800);

#[derive(Debug, Clone, Default)]
pub struct CertificateFields {
    pub domain: String,
    pub subject_alternative_names: Vec<String>,
    pub status: String,
    /// Validation CNAMEs (name, value) ACM asks for.
    pub validation: Vec<(String, String)>,
}

pub async fn observe(clients: &Clients, stack: &str) -> Result<Vec<Observed<CertificateFields>>> {
    let pages = clients
        .tagging
        .get_resources()
        .tag_filters(TagFilter::builder().key(STACK).values(stack).build())
        .resource_type_filters("acm")
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| {
            anyhow::anyhow!("listing this stack's certificates (Resource Groups Tagging API): {}", describe(&e))
        })?;
    let owned: Vec<(String, Tags)> = pages
        .iter()
        .flat_map(|p| p.resource_tag_mapping_list())
        .filter_map(|m| {
            let tags: Tags = m.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            Some((m.resource_arn()?.to_string(), tags))
        })
        .collect();
    concurrent(owned, CONCURRENCY, |(arn, tags)| async move {
        let out = clients
            .acm
            .describe_certificate()
            .certificate_arn(&arn)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading certificate {arn}: {}", describe(&e)))?;
        let Some(c) = out.certificate() else { return Ok(None) };
        let name = tags.get(ADDRESS).and_then(|a| a.strip_prefix("certificate.")).map(str::to_string);
        let Some(name) = name else { return Ok(None) };
        Ok(Some(Observed { name, id: arn, tags, fields: fields_of(c) }))
    })
    .await
    .into_iter()
    .filter_map(|r: Result<Option<_>>| r.transpose())
    .collect()
}

fn fields_of(c: &aws_sdk_acm::types::CertificateDetail) -> CertificateFields {
    let domain = c.domain_name().unwrap_or_default().to_string();
    let mut sans: Vec<String> = c.subject_alternative_names().iter().filter(|s| **s != domain).cloned().collect();
    sans.sort();
    let mut validation: Vec<(String, String)> = c
        .domain_validation_options()
        .iter()
        .filter_map(|o| o.resource_record())
        .map(|r| (r.name().to_string(), r.value().to_string()))
        .collect();
    validation.sort();
    validation.dedup();
    CertificateFields {
        domain,
        subject_alternative_names: sans,
        status: c.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        validation,
    }
}

pub fn diff(
    ctx: &PlanContext,
    desired: Option<&Certificate>,
    zone: Option<&str>,
    observed: &[Observed<CertificateFields>],
    plan: &mut Plan,
) {
    let desired: Vec<Certificate> = desired.cloned().into_iter().collect();
    let fields = |d: &Certificate, o: Option<&Observed<CertificateFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        let sans: BTreeSet<String> = d.subject_alternative_names.iter().filter(|s| **s != d.domain).cloned().collect();
        f.field("domain_name", of.map(|o| Some(o.domain.clone())), Some(d.domain.clone()));
        let have = of.map(|o| o.subject_alternative_names.iter().cloned().collect::<BTreeSet<_>>());
        f.members("subject_alternative_names", have.as_ref(), &sans);
        f.state("status", of.map(|o| Some(o.status.clone())), "ISSUED".to_string());
        f.tags(o.map(|o| &o.tags), tags);
        f
    };
    let zone_dep: Vec<Address> = zone.map(|z| Address::new(Kind::HostedZone, z)).into_iter().collect();
    let spec = ServiceDiff {
        kind: Kind::Certificate,
        desired_name: |d: &Certificate| &d.domain,
        fields: &fields,
        replace_on: &["domain_name", "subject_alternative_names"],
        depends_on: &|_| zone_dep.clone(),
    };
    diff_kind(ctx, spec, &desired, observed, plan);
}

#[allow(clippy::too_many_arguments)]
pub async fn apply(
    clients: &Clients,
    ctx: &PlanContext,
    desired: Option<&Certificate>,
    zone: Option<&str>,
    observed: Option<&Observed<CertificateFields>>,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let zone_id = || match zone {
        Some(z) => ids.get(&Address::new(Kind::HostedZone, z)),
        None => bail!("{address}: DNS validation needs the `dns` section's hosted zone"),
    };
    if matches!(action, Action::Delete | Action::Replace) {
        match clients.acm.delete_certificate().certificate_arn(ids.get(address)?).send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {}
            Err(e) => bail!("deleting {address}: {}", describe(&e)),
        }
        if let (Some(o), Ok(zone)) = (observed, zone_id()) {
            // Only the records still there: Route 53 refuses to delete one that is gone.
            let present = crate::reconcile::dns::present_cnames(&clients.route53, &zone, &o.fields.validation).await?;
            if !present.is_empty() {
                crate::reconcile::dns::cnames(
                    &clients.route53,
                    &zone,
                    ChangeAction::Delete,
                    &present,
                    &address.to_string(),
                )
                .await?;
            }
        }
        if action == Action::Delete {
            return Ok(());
        }
    }
    let Some(d) = desired else { bail!("{address}: no desired state to {action:?}") };
    let arn = match (action, observed) {
        (Action::Update, Some(o)) => o.id.clone(),
        _ => {
            let token: String = crate::aws::client_token(&[&ctx.stack, &address.to_string()])
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect();
            let tags: Vec<Tag> =
                ctx.tags(address).iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
            let out = clients
                .acm
                .request_certificate()
                .domain_name(&d.domain)
                .set_subject_alternative_names(Some(d.subject_alternative_names.clone()).filter(|s| !s.is_empty()))
                .validation_method(ValidationMethod::Dns)
                .idempotency_token(token)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("requesting {address}: {}", describe(&e)))?;
            let arn = out.certificate_arn().unwrap_or_default().to_string();
            ids.set(address, &arn);
            arn
        }
    };
    validate(clients, address, &arn, &zone_id()?).await
}

/// Writes the validation records once ACM has published them, then waits for `ISSUED`.
async fn validate(clients: &Clients, address: &Address, arn: &str, zone: &str) -> Result<()> {
    let describe_now = || async {
        let out = clients
            .acm
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading {address}: {}", describe(&e)))?;
        out.certificate().map(fields_of).ok_or_else(|| anyhow::anyhow!("{address}: ACM returned no certificate"))
    };
    let records =
        wait::until(&format!("{address}: validation records"), wait::timeout(Duration::from_secs(300)), || async {
            let f = describe_now().await?;
            Ok(if f.status == "ISSUED" || !f.validation.is_empty() {
                Check::Ready(f.validation)
            } else {
                Check::Pending(f.status)
            })
        })
        .await?;
    if !records.is_empty() {
        crate::reconcile::dns::cnames(&clients.route53, zone, ChangeAction::Upsert, &records, &address.to_string())
            .await?;
    }
    wait::until(&format!("{address} to be issued"), wait::timeout(ISSUE_TIMEOUT), || async {
        let f = describe_now().await?;
        match f.status.as_str() {
            s if s == CertificateStatus::Issued.as_str() => Ok(Check::Ready(())),
            "PENDING_VALIDATION" => Ok(Check::Pending(f.status)),
            other => bail!("{address} is {other}: ACM will not issue it; check the validation records in the zone"),
        }
    })
    .await
}
