//! The ACM certificate: requested with DNS validation, its validation CNAMEs written to the zone,
//! waited on until `ISSUED`. Found by its tags (the stack's `tag_index`, or ACM's own listing for
//! the declared domain when the index does not list it), then described.
//! On delete, the certificate goes first (once no listener uses it), then its validation records.
//! ACM reports a certificate in use for a while after its listener is deleted: the delete waits
//! under the consistency rule `certificate-released`, then names what still uses it.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_acm::types::{CertificateStatus, Tag, ValidationMethod};
use aws_sdk_route53::types::ChangeAction;

use super::contract::{gone_is_done, ApplyCx, DiffCx, Resource};
use super::kit::{Observed, CONCURRENCY};
use super::tag_index::TagIndex;
use super::tags;
use super::Group;
use crate::aws::error::{failed, required};
use crate::aws::wait::{self, Check};
use crate::aws::{concurrent, consistency, describe, Clients};
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::consistency::Call;
use crate::model::desired::Desired;
use crate::model::ingress;
use crate::model::tags::{Tags, ADDRESS};
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::dns::dns_name;

/// DNS validation usually completes within minutes once the records resolve.
const ISSUE_TIMEOUT: Duration = Duration::from_secs(1800);

#[derive(Debug, Clone, Default)]
pub struct CertificateFields {
    pub domain: String,
    pub subject_alternative_names: Vec<String>,
    pub status: String,
    /// Validation CNAMEs (name, value) ACM asks for.
    pub validation: Vec<(String, String)>,
    /// The hosted zone of the stack file's `dns` section, where those records are (set at plan
    /// time: ACM does not know it).
    pub zone: Option<String>,
    /// Names of the validation records that zone holds with ACM's value (set at plan time from
    /// the zone's listing; `None` when the zone was not read). ACM renews only while they resolve.
    pub validation_present: Option<BTreeSet<String>>,
    /// When it expires (seconds since the epoch), once issued: shown by `status`, never compared.
    pub not_after: Option<i64>,
}

pub async fn observe(
    clients: &Clients,
    index: &TagIndex<'_>,
    stack: &str,
    declared: Option<&str>,
) -> Result<Vec<Observed<CertificateFields>>> {
    // Listed by the index: tags known when it may be trusted (`None`: read them with ACM's call).
    let mut owned: Vec<(String, Option<Tags>)> = index
        .matching(":certificate/")
        .await?
        .into_iter()
        .map(|(arn, tags)| (arn, Some(tags).filter(|_| index.trusted())))
        .collect();
    if let Some(domain) = declared {
        let address = format!("certificate.{domain}");
        if !owned.iter().any(|(_, tags)| tags.as_ref().and_then(|t| t.get(ADDRESS)) == Some(&address)) {
            let read = unlisted(clients, stack, domain).await?;
            owned.retain(|(arn, _)| !read.iter().any(|(a, _)| a == arn));
            owned.extend(read.into_iter().map(|(arn, tags)| (arn, Some(tags))));
        }
    }
    concurrent(owned, CONCURRENCY, |(arn, tags)| async move {
        let tags = async {
            match tags {
                Some(t) => Ok(t),
                None => tags_of(clients, &arn).await,
            }
        };
        let described = async {
            match clients.acm.describe_certificate().certificate_arn(&arn).send().await {
                Ok(out) => Ok(out.certificate),
                // Listed by the index a moment after its delete: gone.
                Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(None),
                Err(e) => Err(anyhow::anyhow!("reading certificate {arn}: {}", describe(&e))),
            }
        };
        let (c, tags) = tokio::try_join!(described, tags)?;
        let Some(c) = c else { return Ok(None) };
        if crate::model::tags::owner(stack, &tags) != crate::model::tags::Owner::ThisStack {
            return Ok(None);
        }
        let name = tags.get(ADDRESS).and_then(|a| a.strip_prefix("certificate.")).map(str::to_string);
        let Some(name) = name else { return Ok(None) };
        Ok(Some(Observed { name, id: arn, tags, fields: fields_of(&c) }))
    })
    .await
    .into_iter()
    .filter_map(|r: Result<Option<_>>| r.transpose())
    .collect()
}

/// The tagging API is eventually consistent: when it lists no certificate for the declared
/// domain, ACM itself is asked (`ListCertificates` for that domain, then each one's tags), so a
/// certificate just made is never requested a second time. Costs two calls or more only then.
async fn unlisted(clients: &Clients, stack: &str, domain: &str) -> Result<Vec<(String, Tags)>> {
    let arns = arns_for(clients, domain).await?;
    let read = super::kit::tags_of(arns, |arn| async move { tags_of(clients, &arn).await }).await?;
    let ours =
        |(_, tags): &(String, Tags)| crate::model::tags::owner(stack, tags) == crate::model::tags::Owner::ThisStack;
    Ok(read.into_iter().filter(ours).collect())
}

/// Every certificate for `domain`, whoever owns it: ARN, tags, fields and what uses it (`adopt`).
pub async fn by_domain(clients: &Clients, domain: &str) -> Result<Vec<(String, Tags, CertificateFields, Vec<String>)>> {
    let arns = arns_for(clients, domain).await?;
    let read = concurrent(arns, CONCURRENCY, |arn| async move {
        let (tags, out) = tokio::try_join!(tags_of(clients, &arn), async {
            clients
                .acm
                .describe_certificate()
                .certificate_arn(&arn)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("reading certificate {arn}: {}", describe(&e)))
        })?;
        let Some(c) = out.certificate() else { return Ok(None) };
        Ok(Some((arn.clone(), tags, fields_of(c), c.in_use_by().to_vec())))
    })
    .await;
    read.into_iter().filter_map(|r: Result<Option<_>>| r.transpose()).collect()
}

async fn tags_of(clients: &Clients, arn: &str) -> Result<Tags> {
    let out = clients
        .acm
        .list_tags_for_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading the tags of certificate {arn}: {}", describe(&e)))?;
    Ok(out.tags().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect())
}

/// The ARNs of the certificates for `domain`, in every status.
async fn arns_for(clients: &Clients, domain: &str) -> Result<Vec<String>> {
    use aws_sdk_acm::types::CertificateStatus as S;
    let statuses =
        [S::PendingValidation, S::Issued, S::Inactive, S::Expired, S::ValidationTimedOut, S::Revoked, S::Failed];
    let pages = clients
        .acm
        .list_certificates()
        .set_certificate_statuses(Some(statuses.to_vec()))
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| anyhow::anyhow!("listing ACM certificates: {}", describe(&e)))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.certificate_summary_list())
        .filter(|c| c.domain_name() == Some(domain))
        .filter_map(|c| c.certificate_arn().map(str::to_string))
        .collect())
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
        zone: None,
        validation_present: None,
        not_after: c.not_after().map(|t| t.secs()),
    }
}

/// The contract for `certificate.DOMAIN`. A new domain or other names replace it.
#[derive(Debug, Clone)]
pub struct Certificate;

/// The observed certificates with `zone` and `validation_present` filled in from the stack's zone
/// (`zone`) as observed in the same read.
pub fn with_validation_records(
    observed: &crate::reconcile::Observed,
    zone: Option<&str>,
) -> Vec<Observed<CertificateFields>> {
    let dns = &observed.dns;
    let read = dns.zone.as_ref().is_some_and(|z| Some(z.name.as_str()) == zone);
    let mut found = observed.certificates.clone();
    for c in &mut found {
        c.fields.zone = zone.map(str::to_string);
        c.fields.validation_present = read.then(|| {
            let holds = |(name, value): &&(String, String)| dns.cnames.get(&dns_name(name)) == Some(&dns_name(value));
            c.fields.validation.iter().filter(holds).map(|(name, _)| dns_name(name)).collect()
        });
    }
    found
}

/// The certificate and the zone its validation records go in.
#[derive(Debug, Clone)]
pub struct DesiredCertificate {
    pub certificate: ingress::Certificate,
    pub zone: Option<String>,
    /// `dns.delegate`: the domain's name servers may be set at Route 53 Domains.
    pub delegate: bool,
}

const DOMAIN_NAME: Path = Path::field("domain_name");
const ALTERNATIVE_NAMES: Path = Path::field("subject_alternative_names");
const STATUS: Path = Path::field("status");
const VALIDATION_RECORDS: Path = Path::field("validation_records");

impl Resource for Certificate {
    const KIND: Kind = Kind::Certificate;
    const GROUP: Group = Group::Certificates;
    const FIELDS: &'static [Path] = &[DOMAIN_NAME, ALTERNATIVE_NAMES, STATUS, VALIDATION_RECORDS, TAGS];
    const REPLACE_ON: &'static [Path] = &[DOMAIN_NAME, ALTERNATIVE_NAMES];
    type Desired = DesiredCertificate;
    type Observed = Observed<CertificateFields>;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<DesiredCertificate> {
        let zone = cx.desired.dns.as_ref().map(|d| d.zone.clone());
        let delegate = cx.desired.dns.as_ref().is_some_and(|d| d.delegate);
        let certificate = cx.desired.ingress.as_ref().and_then(|e| e.certificate.clone());
        certificate.map(|certificate| DesiredCertificate { certificate, zone, delegate }).into_iter().collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<CertificateFields>> {
        with_validation_records(cx.observed, cx.desired.dns.as_ref().map(|d| d.zone.as_str()))
    }

    fn name(d: &DesiredCertificate) -> &str {
        &d.certificate.domain
    }

    fn fields(
        _: &DiffCx<'_>,
        d: &DesiredCertificate,
        o: Option<&Observed<CertificateFields>>,
        tags: &Tags,
    ) -> FieldDiff {
        let d = &d.certificate;
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        let sans: BTreeSet<String> = d.subject_alternative_names.iter().filter(|s| **s != d.domain).cloned().collect();
        f.field(DOMAIN_NAME, of.map(|o| Some(o.domain.clone())), Some(d.domain.clone()));
        let have = of.map(|o| o.subject_alternative_names.iter().cloned().collect::<BTreeSet<_>>());
        f.members(ALTERNATIVE_NAMES, have.as_ref(), &sans);
        f.state(STATUS, of.map(|o| Some(o.status.clone())), "ISSUED".to_string());
        if let Some(o) = of {
            // Deleted by hand, they are drift: the certificate could no longer renew.
            if let Some(present) = &o.validation_present {
                let wanted = o.validation.iter().map(|(name, _)| dns_name(name)).collect();
                f.members(VALIDATION_RECORDS, Some(present), &wanted);
            }
        }
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn depends_on(_: &DiffCx<'_>, d: &DesiredCertificate) -> Vec<Address> {
        d.zone.iter().map(|z| Address::new(Kind::HostedZone, z)).collect()
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_acm(&clients.acm, address, id, have, want).await
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredCertificate,
        _: Option<&Self::Observed>,
    ) -> Result<String> {
        let c = &d.certificate;
        let token: String = crate::aws::client_token(&[&cx.ctx.stack, &address.to_string()])
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let tags: Vec<Tag> =
            cx.tags(address).iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
        let out = cx
            .clients
            .acm
            .request_certificate()
            .domain_name(&c.domain)
            .set_subject_alternative_names(Some(c.subject_alternative_names.clone()).filter(|s| !s.is_empty()))
            .validation_method(ValidationMethod::Dns)
            .idempotency_token(token)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| failed("requesting", address, &e))?;
        Ok(required(out.certificate_arn(), "requesting", address, "certificateArn")?.to_string())
    }

    /// Writes the validation records, then waits until ACM issues it.
    async fn ready(cx: &ApplyCx<'_>, address: &Address, d: &DesiredCertificate, arn: &str) -> Result<()> {
        validate(cx.clients, address, arn, &zone_id(cx, address, d)?, d).await
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredCertificate,
        o: &Observed<CertificateFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        if delta.has(STATUS) | delta.has(VALIDATION_RECORDS) {
            validate(cx.clients, address, &o.id, &zone_id(cx, address, d)?, d).await?;
        }
        Ok(())
    }

    /// The certificate first (once no listener uses it), then its validation records still there.
    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<CertificateFields>) -> Result<()> {
        delete_certificate(&cx.clients.acm, address, &o.id).await?;
        let zone = o.fields.zone.as_deref().map(|z| cx.ids.get(&Address::new(Kind::HostedZone, z))).transpose()?;
        if let Some(zone) = zone {
            // Only the records still there: Route 53 refuses to delete one that is gone.
            let present =
                crate::reconcile::dns::present_cnames(&cx.clients.route53, &zone, &o.fields.validation).await?;
            if !present.is_empty() {
                crate::reconcile::dns::cnames(
                    &cx.clients.route53,
                    &zone,
                    ChangeAction::Delete,
                    &present,
                    &address.to_string(),
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// `DeleteCertificate`, sent again while ACM still reports it in use after its listener went
/// (`certificate-released`); past the budget the error names the resources ACM says use it. A
/// certificate already gone is done.
async fn delete_certificate(acm: &aws_sdk_acm::Client, address: &Address, arn: &str) -> Result<()> {
    let delete = || async {
        acm.delete_certificate().certificate_arn(arn).send().await.map_err(|e| failed("deleting", address, &e))
    };
    match consistency::retry(Call::AcmDeleteCertificate, address, delete).await {
        Err(e) if crate::aws::error::is_in_use(&e) => {
            let users = match acm.describe_certificate().certificate_arn(arn).send().await {
                Ok(out) => out.certificate().map(|c| c.in_use_by().join(", ")).unwrap_or_default(),
                Err(e) => format!("(could not read them: {})", describe(&e)),
            };
            Err(crate::aws::error::with_detail(e, &format!("ACM lists its users as: {users}")))
        }
        other => gone_is_done(other.map(drop)),
    }
}

fn zone_id(cx: &ApplyCx<'_>, address: &Address, d: &DesiredCertificate) -> Result<String> {
    match &d.zone {
        Some(z) => cx.ids.get(&Address::new(Kind::HostedZone, z)),
        None => bail!("{address}: DNS validation needs the `dns` section's hosted zone"),
    }
}

/// Writes the validation records once ACM has published them; while ACM has not issued the
/// certificate, checks that the domain is delegated to the zone (nothing else can validate it);
/// then waits for `ISSUED`.
async fn validate(clients: &Clients, address: &Address, arn: &str, zone: &str, d: &DesiredCertificate) -> Result<()> {
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
    if let Some(name) = d.zone.as_deref().filter(|_| !records.is_empty()) {
        if describe_now().await?.status != CertificateStatus::Issued.as_str() {
            check_delegation(clients, name, zone, d.delegate).await?;
        }
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

/// Fails the step as `Blocked` when the domain names other name servers than the zone's (unless
/// `delegate` lets them be set at Route 53 Domains); says so when it cannot tell.
async fn check_delegation(clients: &Clients, domain: &str, zone_id: &str, delegate: bool) -> Result<()> {
    use crate::reconcile::dns::delegation::{self, Delegation, Registrar};
    let zone = delegation::zone_name_servers(clients, zone_id).await?;
    match delegation::check(clients, domain, &zone).await {
        Delegation::Delegated => crate::progress::note(format!("{domain} is delegated to the stack's zone")),
        Delegation::Unknown(why) => crate::progress::note(format!(
            "delegation of {domain} could not be checked ({why}); waiting for ACM, which validates only once the domain's registrar names the zone's name servers: {}",
            zone.join(", ")
        )),
        Delegation::Other { registrar: Registrar::Route53Domains, .. } if delegate => {
            let operation = delegation::delegate(clients, domain, &zone).await?;
            crate::progress::note(format!(
                "set the name servers of {domain} at Route 53 Domains to the zone's (operation {operation}); waiting for ACM"
            ));
        }
        Delegation::Other { registrar, current } => {
            return Err(crate::apply::Blocked(delegation::not_delegated(domain, registrar, &current, &zone)).into())
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! moto's ACM never reports a certificate in use after its listener is gone (AWS does, for a
    //! while), so that race runs here against canned ACM responses (aws-smithy-mocks).

    use aws_sdk_acm::operation::delete_certificate::{DeleteCertificateError, DeleteCertificateOutput};
    use aws_sdk_acm::operation::describe_certificate::DescribeCertificateOutput;
    use aws_sdk_acm::types::CertificateDetail;
    use aws_smithy_mocks::{mock, Rule};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn client(rules: &[&Rule]) -> aws_sdk_acm::Client {
        crate::aws::canned::canned_client!(aws_sdk_acm, rules)
    }

    fn in_use() -> DeleteCertificateError {
        DeleteCertificateError::generic(
            ErrorMetadata::builder().code("ResourceInUseException").message("Certificate is in use").build(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_certificate_still_reported_in_use_after_its_listener_is_retried_until_deleted() {
        let delete = mock!(aws_sdk_acm::Client::delete_certificate)
            .sequence()
            .error(in_use)
            .times(4)
            .output(|| DeleteCertificateOutput::builder().build())
            .build();
        let acm = client(&[&delete]);
        let address = Address::new(Kind::Certificate, "containrlab.click");
        delete_certificate(&acm, &address, "arn:aws:acm:us-east-1:1:certificate/c").await.expect("deleted");
        assert_eq!(delete.num_calls(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_certificate_in_use_past_the_deadline_names_its_users() {
        let delete = mock!(aws_sdk_acm::Client::delete_certificate).sequence().error(in_use).repeatedly().build();
        let listener = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/other/1";
        let describe = mock!(aws_sdk_acm::Client::describe_certificate).then_output(move || {
            DescribeCertificateOutput::builder()
                .certificate(CertificateDetail::builder().in_use_by(listener).build())
                .build()
        });
        let acm = client(&[&delete, &describe]);
        let address = Address::new(Kind::Certificate, "containrlab.click");
        let err =
            delete_certificate(&acm, &address, "arn:aws:acm:us-east-1:1:certificate/c").await.expect_err("bounded");
        assert_eq!(
            err.to_string(),
            format!("deleting certificate containrlab.click: service error: ResourceInUseException: Certificate is in use (still so after waiting 5m00s for ACM to see that no listener uses the certificate: rule certificate-released); ACM lists its users as: {listener}\n  hint: something still uses the certificate: see its InUseBy list")
        );
        assert!(delete.num_calls() > 5, "retried until the deadline: {}", delete.num_calls());
    }
}
