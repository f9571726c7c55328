//! Is the domain delegated to the stack's hosted zone? ACM validates a certificate only through
//! the name servers the domain's registrar names: a zone made in a new account (every rebuild)
//! has four new ones, and until the registrar names them the certificate stays
//! PENDING_VALIDATION (and fails after 72 hours).
//!
//! Asked first of Route 53 Domains (the domain registered in this account: its name servers are
//! read, and set when the stack file allows it); for a domain registered elsewhere, of DNS (the
//! domain's NS records through the system's resolver, or `CONTAINRLAB_DNS_RESOLVER`'s
//! `IP[:PORT]`). When neither answers, delegation is unknown, never assumed either way.
//!
//! Invariant: read-only, except `delegate` (UpdateDomainNameservers), which the caller makes only
//! when the stack file says `dns.delegate: true`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Result;
use aws_sdk_route53domains::types::Nameserver;

use super::dns_name;
use crate::aws::{describe, Clients};

/// Who names the domain's name servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registrar {
    /// Route 53 Domains, in this account: containrlab can set them.
    Route53Domains,
    /// Another registrar (or another account): seen through DNS.
    Elsewhere,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delegation {
    Delegated,
    /// The registrar names other name servers than the zone's.
    Other {
        registrar: Registrar,
        current: Vec<String>,
    },
    /// Neither Route 53 Domains nor DNS could tell: why.
    Unknown(String),
}

/// The zone's four name servers (its delegation set), normalised and sorted.
pub async fn zone_name_servers(clients: &Clients, zone_id: &str) -> Result<Vec<String>> {
    let out = clients
        .route53
        .get_hosted_zone()
        .id(zone_id)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading the name servers of hosted zone {zone_id}: {}", describe(&e)))?;
    Ok(normalised(out.delegation_set().map(|d| d.name_servers().to_vec()).unwrap_or_default()))
}

/// Whether `domain` is delegated to `zone` (the zone's name servers).
pub async fn check(clients: &Clients, domain: &str, zone: &[String]) -> Delegation {
    let compare = |registrar, current: Vec<String>| {
        if current == zone {
            Delegation::Delegated
        } else {
            Delegation::Other { registrar, current }
        }
    };
    match registered(clients, domain).await {
        Ok(Some(current)) => return compare(Registrar::Route53Domains, current),
        Ok(None) => {}
        Err(why) => return Delegation::Unknown(why),
    }
    match resolve_ns(domain).await {
        Ok(current) if !current.is_empty() => compare(Registrar::Elsewhere, current),
        Ok(_) => Delegation::Unknown(format!("DNS has no NS records for {domain}")),
        Err(why) => Delegation::Unknown(why),
    }
}

/// The name servers Route 53 Domains has for `domain`, when it is registered in this account.
/// `Ok(None)`: not registered here (or a TLD Route 53 Domains does not serve); ask DNS.
async fn registered(clients: &Clients, domain: &str) -> Result<Option<Vec<String>>, String> {
    match clients.route53domains.get_domain_detail().domain_name(domain).send().await {
        Ok(out) => Ok(Some(normalised(out.nameservers().iter().map(|n| n.name().to_string()).collect()))),
        // InvalidInput ("not found in this account"), UnsupportedTLD, AccessDenied: the answer
        // has to come from DNS.
        Err(e) if e.as_service_error().is_some() || crate::aws::error::is_denied(&e) => Ok(None),
        Err(e) => Err(format!("Route 53 Domains did not answer: {}", describe(&e))),
    }
}

/// Sets the domain's name servers at Route 53 Domains to the zone's; returns the operation id.
pub async fn delegate(clients: &Clients, domain: &str, zone: &[String]) -> Result<String> {
    let servers: Vec<Nameserver> =
        zone.iter().map(|n| Nameserver::builder().name(n).build()).collect::<Result<Vec<_>, _>>()?;
    let out = clients
        .route53domains
        .update_domain_nameservers()
        .domain_name(domain)
        .set_nameservers(Some(servers))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("setting the name servers of {domain} at Route 53 Domains: {}", describe(&e)))?;
    Ok(out.operation_id().unwrap_or("(no operation id)").to_string())
}

/// How long one DNS question may take before delegation is unknown.
const DNS_TIMEOUT: Duration = Duration::from_secs(3);

/// The NS records of `domain` as DNS answers them.
async fn resolve_ns(domain: &str) -> Result<Vec<String>, String> {
    use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
    use hickory_resolver::name_server::TokioConnectionProvider;
    use hickory_resolver::TokioResolver;
    let configured = std::env::var("CONTAINRLAB_DNS_RESOLVER").ok().filter(|v| !v.is_empty());
    let (mut builder, asked) = match &configured {
        Some(text) => {
            let address = resolver_address(text)?;
            let servers = NameServerConfigGroup::from_ips_clear(&[address.ip()], address.port(), true);
            let config = ResolverConfig::from_parts(None, Vec::new(), servers);
            (TokioResolver::builder_with_config(config, TokioConnectionProvider::default()), address.to_string())
        }
        None => match TokioResolver::builder_tokio() {
            Ok(b) => (b, "the system's resolver".to_string()),
            Err(e) => return Err(format!("no DNS resolver configured ({e}); set CONTAINRLAB_DNS_RESOLVER")),
        },
    };
    let options = builder.options_mut();
    options.timeout = DNS_TIMEOUT;
    options.attempts = 1;
    options.cache_size = 0;
    let resolver = builder.build();
    let name = format!("{}.", domain.trim_end_matches('.'));
    match resolver.ns_lookup(name.as_str()).await {
        Ok(found) => Ok(normalised(found.iter().map(|ns| ns.0.to_utf8()).collect())),
        Err(e) => Err(format!("no DNS answer for the NS records of {domain} from {asked}: {e}")),
    }
}

/// `IP` (port 53) or `IP:PORT`, from `CONTAINRLAB_DNS_RESOLVER`.
fn resolver_address(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>()
        .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| format!("CONTAINRLAB_DNS_RESOLVER is `{text}`: expected IP or IP:PORT"))
}

fn normalised(names: Vec<String>) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| dns_name(n)).collect();
    names.sort();
    names.dedup();
    names
}

/// What is wrong, and the fix: the names the registrar has, and how to set the zone's.
pub fn problem(registrar: Registrar, current: &[String]) -> (String, &'static str) {
    let current = if current.is_empty() { "none".to_string() } else { current.join(", ") };
    match registrar {
        Registrar::Route53Domains => (
            format!("its name servers at Route 53 Domains are {current}"),
            "set them with `aws route53domains update-domain-nameservers`, or set `dns.delegate: true` in the stack file and containrlab sets them",
        ),
        Registrar::Elsewhere => (format!("its name servers in DNS are {current}"), "set them at the domain's registrar"),
    }
}

/// What the operator reads when the domain is not delegated, and what to do.
pub fn not_delegated(domain: &str, registrar: Registrar, current: &[String], zone: &[String]) -> String {
    let (found, fix) = problem(registrar, current);
    format!(
        "{domain} is not delegated to the stack's hosted zone: {found}; the zone's are\n    {}\n  ACM cannot validate the certificate until they are: {fix}. Everything that does not need the certificate was built; the next `up` waits for the certificate and builds the listener, rules and services that need it.",
        zone.join("\n    ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_case_or_trailing_dot() {
        assert_eq!(
            normalised(vec!["NS-2.awsdns-01.net.".into(), "ns-1.awsdns-00.com".into(), "ns-1.awsdns-00.com.".into()]),
            vec!["ns-1.awsdns-00.com".to_string(), "ns-2.awsdns-01.net".to_string()]
        );
    }

    #[test]
    fn a_resolver_is_an_ip_with_an_optional_port() {
        assert_eq!(resolver_address("10.0.0.2"), Ok("10.0.0.2:53".parse().expect("addr")));
        assert_eq!(resolver_address("127.0.0.1:5353"), Ok("127.0.0.1:5353".parse().expect("addr")));
        assert!(resolver_address("dns.example").is_err());
    }

    #[test]
    fn the_message_names_the_four_servers_and_the_fix() {
        let zone: Vec<String> = (1..=4).map(|i| format!("ns-{i}.awsdns-0{i}.org")).collect();
        let text = not_delegated("containrlab.click", Registrar::Elsewhere, &["ns1.old.example".into()], &zone);
        assert!(text.starts_with("containrlab.click is not delegated to the stack's hosted zone: its name servers in DNS are ns1.old.example; the zone's are\n    ns-1.awsdns-01.org\n    ns-2.awsdns-02.org\n    ns-3.awsdns-03.org\n    ns-4.awsdns-04.org\n"), "{text}");
        assert!(text.contains("set them at the domain's registrar"), "{text}");
    }
}
