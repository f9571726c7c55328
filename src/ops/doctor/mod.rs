//! `doctor`: pre-flight before a first `up` or a rebuild after a disaster — which identity the
//! credentials are, the stack's availability zones in the region, the secrets `up` must write set
//! in the environment, the runner's AMI parameter resolvable, each service image present in ECR for
//! the tag and built for its task's CPU architecture, the account quotas the plan's creates need
//! (`quotas`), the hosted zone present (with the name servers the domain must be delegated to), the
//! certificate's names validatable in that zone and, once it exists, its state and validation
//! records.
//!
//! Invariants: read-only (describe/get/list calls only); every check ends `pass`, `fail` (with the
//! fix) or `by_hand` (this tool cannot see it from the account: what to check and how); credentials
//! that do not work end the report at once, since every other check would fail for that reason.

mod quotas;

use std::future::Future;

use anyhow::Result;
use serde::Serialize;

use crate::aws::{describe, Clients};
use crate::model::desired::{Desired, ParameterValue};
use crate::reconcile::dns::{dns_name, find_zone};
use crate::reconcile::{Observed, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    ByHand,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub check: String,
    pub status: Status,
    pub detail: String,
    /// What to do about a `fail` (or how to check a `by_hand`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

pub fn finding(check: impl Into<String>, status: Status, detail: impl Into<String>, fix: Option<String>) -> Finding {
    Finding { check: check.into(), status, detail: detail.into(), fix }
}

/// Runs every check; `tag` is the image tag `up` would register (`--image-tag`, else `latest`);
/// `plan` reads AWS and plans like `diff` (awaited only once the credentials work).
pub async fn check(
    clients: &Clients,
    desired: &Desired,
    tag: &str,
    plan: impl Future<Output = Result<(Observed, Plan)>>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    match clients.identity().await {
        Ok(id) => out.push(finding("credentials", Status::Pass, format!("{} (account {})", id.arn, id.account), None)),
        Err(e) => {
            let fix = "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or `aws sso login`) for the account the stack lives in";
            out.push(finding("credentials", Status::Fail, format!("{e:#}"), Some(fix.into())));
            return out;
        }
    }
    let planned = async {
        match plan.await {
            Ok((observed, plan)) => (quotas::check(clients, desired, &plan).await, Some(observed)),
            Err(e) => {
                let fix =
                    "the quotas and the certificate's state are checked from the plan `diff` shows; fix what stops it";
                (vec![finding("plan", Status::Fail, format!("{e:#}"), Some(fix.into()))], None)
            }
        }
    };
    let (zones, secrets, amis, images, (quotas, observed), dns) = tokio::join!(
        availability_zones(clients, desired),
        secrets(clients, desired),
        amis(clients, desired),
        images(clients, desired, tag),
        planned,
        zone_and_certificate(clients, desired),
    );
    for part in [zones, secrets, amis, images, quotas, dns] {
        out.extend(part);
    }
    let zone = desired.dns.as_ref().map(|d| d.zone.as_str());
    out.extend(observed.iter().flat_map(|o| certificate_state(o, zone)));
    out
}

/// The stack's certificate once it exists: issued, and renewable while ACM's validation records
/// are in the zone (ACM renews only through them).
fn certificate_state(observed: &Observed, zone: Option<&str>) -> Vec<Finding> {
    crate::reconcile::acm::with_validation_records(observed, zone)
        .iter()
        .map(|c| {
            let check = format!("certificate {}", c.name);
            let f = &c.fields;
            let missing: Vec<&str> = match &f.validation_present {
                Some(present) => {
                    f.validation.iter().map(|(n, _)| n.as_str()).filter(|n| !present.contains(&dns_name(n))).collect()
                }
                // The zone is declared but absent: none of them can be in it.
                None if zone.is_some() => f.validation.iter().map(|(n, _)| n.as_str()).collect(),
                None => Vec::new(),
            };
            let in_zone = zone.unwrap_or("its own zone (no `dns` section)");
            match f.status.as_str() {
                "ISSUED" | "PENDING_VALIDATION" if !missing.is_empty() => finding(
                    check,
                    Status::Fail,
                    format!("{}; validation record(s) {} missing from {in_zone}", f.status, missing.join(", ")),
                    Some("`containrlab up` writes them back (ACM cannot validate or renew without them)".into()),
                ),
                "ISSUED" => {
                    finding(check, Status::Pass, format!("ISSUED; its validation records are in {in_zone}"), None)
                }
                "PENDING_VALIDATION" => finding(
                    check,
                    Status::ByHand,
                    format!("PENDING_VALIDATION; its validation records are in {in_zone}"),
                    Some("ACM validates once the domain's delegation (below) points at the zone".into()),
                ),
                other => finding(
                    check,
                    Status::Fail,
                    format!("{other}: ACM never issues a certificate in this state"),
                    Some("delete it in ACM (after taking it off the listener); `up` then requests a new one".into()),
                ),
            }
        })
        .collect()
}

/// Whether the report stops `up`: any check failed.
pub fn passed(findings: &[Finding]) -> bool {
    findings.iter().all(|f| f.status != Status::Fail)
}

async fn availability_zones(clients: &Clients, desired: &Desired) -> Vec<Finding> {
    let mut wanted: Vec<&str> =
        desired.network.iter().flat_map(|n| n.subnets.iter().map(|s| s.availability_zone.as_str())).collect();
    wanted.sort();
    wanted.dedup();
    let found = match clients.ec2.describe_availability_zones().send().await {
        Ok(out) => out,
        Err(e) => {
            return vec![finding(
                "availability zones",
                Status::Fail,
                format!("DescribeAvailabilityZones: {}", describe(&e)),
                None,
            )]
        }
    };
    wanted
        .into_iter()
        .map(|zone| {
            let state = found
                .availability_zones()
                .iter()
                .find(|z| z.zone_name() == Some(zone))
                .and_then(|z| z.state().map(|s| s.as_str().to_string()));
            match state.as_deref() {
                Some("available") => finding(format!("zone {zone}"), Status::Pass, "available", None),
                Some(other) => finding(
                    format!("zone {zone}"),
                    Status::Fail,
                    format!("state {other}"),
                    Some("choose another zone of the region for the subnets in it".into()),
                ),
                None => finding(
                    format!("zone {zone}"),
                    Status::Fail,
                    "not a zone of this region",
                    Some("fix the subnets' availability_zone (or the region)".into()),
                ),
            }
        })
        .collect()
}

/// A secret whose variable is unset is fine when its parameter exists (`up` keeps the value).
async fn secrets(clients: &Clients, desired: &Desired) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in &desired.parameters {
        let ParameterValue::Secret { env_var, value } = &p.value else { continue };
        let check = format!("secret {}", p.name);
        if value.is_some() {
            out.push(finding(check, Status::Pass, format!("{env_var} is set"), None));
            continue;
        }
        match clients.ssm.describe_parameters().parameter_filters(name_filter(&p.name)).send().await {
            Ok(o) if !o.parameters().is_empty() => out.push(finding(
                check,
                Status::Pass,
                format!("{env_var} is unset; the parameter exists and `up` keeps its value"),
                None,
            )),
            Ok(_) => out.push(finding(
                check,
                Status::Fail,
                format!("{env_var} is unset and the parameter does not exist: `up` cannot create it"),
                Some(format!("export {env_var}=… (the value, from where the team keeps it) before `up`")),
            )),
            Err(e) => out.push(finding(check, Status::Fail, format!("DescribeParameters: {}", describe(&e)), None)),
        }
    }
    out
}

fn name_filter(name: &str) -> aws_sdk_ssm::types::ParameterStringFilter {
    aws_sdk_ssm::types::ParameterStringFilter::builder()
        .key("Name")
        .option("Equals")
        .values(name)
        .build()
        .expect("key is set")
}

async fn amis(clients: &Clients, desired: &Desired) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &desired.ec2_capacity {
        let check = format!("AMI {}", c.ami_parameter);
        match clients.ssm.get_parameter().name(&c.ami_parameter).send().await {
            Ok(o) => {
                let value = o.parameter().and_then(|p| p.value()).unwrap_or_default();
                out.push(finding(check, Status::Pass, format!("resolves to {value}"), None));
            }
            Err(e) => out.push(finding(
                check,
                Status::Fail,
                describe(&e),
                Some("use a public AMI parameter of this region (e.g. /aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id)".into()),
            )),
        }
    }
    out
}

async fn images(clients: &Clients, desired: &Desired, tag: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in &desired.services {
        let td = &s.task_definition.json;
        let ecs_arch = td.pointer("/runtimePlatform/cpuArchitecture").and_then(serde_json::Value::as_str);
        let arch = crate::reconcile::ecs::images::ecr::oci_architecture(ecs_arch);
        let containers = td.get("containerDefinitions").and_then(serde_json::Value::as_array).into_iter().flatten();
        for c in containers {
            let Some(repo) = c
                .get("image")
                .and_then(serde_json::Value::as_str)
                .and_then(crate::reconcile::ecs::images::repository_of)
            else {
                continue;
            };
            let check = format!("image {repo}:{tag}");
            let found = crate::reconcile::ecs::images::ecr::lookup(&clients.ecr, repo, tag).await;
            out.push(match found {
                Ok(image) if image.architectures.iter().any(|a| a == arch) => finding(
                    check,
                    Status::Pass,
                    format!("{} for {} ({}: {arch})", image.digest, image.architectures.join(", "), s.name),
                    None,
                ),
                Ok(image) => finding(
                    check,
                    Status::Fail,
                    format!("built for {}, but {} runs on {arch}", image.architectures.join(", "), s.name),
                    Some(format!("rebuild and push it with --platform linux/{arch}")),
                ),
                Err(e) => finding(
                    check,
                    Status::Fail,
                    format!("{e:#}"),
                    Some("push it (`containrlab up --target ecr_repository.*` first creates the repositories, `containrlab outputs` prints their URIs), or pass the tag you pushed with --image-tag; the service cannot start without it".to_string()),
                ),
            });
        }
    }
    out
}

async fn zone_and_certificate(clients: &Clients, desired: &Desired) -> Vec<Finding> {
    let Some(dns) = &desired.dns else { return Vec::new() };
    let mut out = Vec::new();
    let zone = dns.zone.trim_end_matches('.');
    let found = match find_zone(&clients.route53, zone).await {
        Ok(z) => z.map(|z| z.id().to_string()),
        Err(e) => {
            out.push(finding(format!("hosted zone {zone}"), Status::Fail, format!("{e:#}"), None));
            return out;
        }
    };
    match found {
        Some(id) => {
            let id = id.trim_start_matches("/hostedzone/").to_string();
            out.push(finding(format!("hosted zone {zone}"), Status::Pass, id.clone(), None));
            out.push(delegation(clients, zone, &id).await);
        }
        None if dns.create_zone => out.push(finding(
            format!("hosted zone {zone}"),
            Status::Pass,
            "absent; `up` creates it (create_zone: true)",
            Some("after `up`, delegate the domain to the name servers `containrlab outputs` prints, or certificate validation never completes".into()),
        )),
        None => out.push(finding(
            format!("hosted zone {zone}"),
            Status::Fail,
            "absent, and the stack file does not create it (create_zone: false)",
            Some("create the zone (or set create_zone: true) and delegate the domain to it".into()),
        )),
    }
    let Some(cert) = desired.ingress.as_ref().and_then(|e| e.certificate.as_ref()) else { return out };
    for name in std::iter::once(&cert.domain).chain(&cert.subject_alternative_names) {
        let bare = name.trim_start_matches("*.");
        let inside = bare == zone || bare.ends_with(&format!(".{zone}"));
        out.push(if inside {
            finding(
                format!("certificate name {name}"),
                Status::Pass,
                format!("validated by a DNS record in {zone}"),
                None,
            )
        } else {
            finding(
                format!("certificate name {name}"),
                Status::Fail,
                format!("outside the zone {zone}: its validation record cannot be written"),
                Some(format!("use a name under {zone}, or validate it by hand in its own zone")),
            )
        });
    }
    out
}

/// Whether the domain is delegated to the zone: the check `up` makes before it waits for the
/// certificate (Route 53 Domains, else DNS), with the same wording and fix.
async fn delegation(clients: &Clients, zone: &str, id: &str) -> Finding {
    use crate::reconcile::dns::delegation::{self, Delegation};
    let check = format!("delegation of {zone}");
    let servers = match delegation::zone_name_servers(clients, id).await {
        Ok(servers) => servers,
        Err(e) => return finding(check, Status::Fail, format!("{e:#}"), None),
    };
    match delegation::check(clients, zone, &servers).await {
        Delegation::Delegated => finding(check, Status::Pass, format!("to the zone's {}", servers.join(", ")), None),
        Delegation::Other { registrar, current } => {
            let (found, fix) = delegation::problem(registrar, &current);
            let detail = format!("not delegated to the zone: {found}; the zone's are {}", servers.join(", "));
            finding(check, Status::Fail, detail, Some(format!("{fix}; ACM cannot validate the certificate until then")))
        }
        Delegation::Unknown(why) => finding(
            check,
            Status::ByHand,
            format!("could not be checked ({why})"),
            Some(format!(
                "`dig +short NS {zone}` must list exactly {} (set them at the registrar otherwise)",
                servers.join(", ")
            )),
        ),
    }
}

/// The terminal view: one mark per check (`✓`, `✗`, `?`), the fix under each that has one.
pub fn render(stack: &str, region: &str, findings: &[Finding]) -> String {
    report(&format!("Pre-flight for stack {stack} in {region} (read-only):"), findings, "`up`")
}

/// `render` under another title; `before` names what the ✗ lines stand in the way of.
pub fn report(title: &str, findings: &[Finding], before: &str) -> String {
    let mut out = format!("{title}\n\n");
    // Aligned up to a modest width: a long check name (an AMI parameter path) does not push every detail right.
    let width = findings.iter().map(|f| f.check.chars().count()).filter(|&n| n <= 42).max().unwrap_or(0);
    for f in findings {
        let mark = match f.status {
            Status::Pass => "✓",
            Status::Fail => "✗",
            Status::ByHand => "?",
        };
        out.push_str(&format!("  {mark} {:width$}  {}\n", f.check, f.detail));
        if let Some(fix) = &f.fix {
            let label = match f.status {
                Status::Pass => "then",
                Status::Fail => "fix",
                Status::ByHand => "how",
            };
            out.push_str(&format!("      {label}: {fix}\n"));
        }
    }
    let count = |s: Status| findings.iter().filter(|f| f.status == s).count();
    out.push_str(&format!(
        "\n{} passed, {} failed, {} to check by hand.{}\n",
        count(Status::Pass),
        count(Status::Fail),
        count(Status::ByHand),
        if passed(findings) { String::new() } else { format!(" Fix the ✗ lines before {before}.") }
    ));
    out
}
