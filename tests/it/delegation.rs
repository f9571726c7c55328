//! A rebuild into a new zone: the domain's registrar still names the old name servers, so ACM can
//! never validate the certificate. `up` checks before it waits — Route 53 Domains when the domain
//! is registered there (moto serves it), DNS otherwise (a test DNS server on loopback stands in
//! for the internet's, `dns_server`) — builds everything that does not need the certificate and
//! stops within a minute, naming the four name servers to set.
//!
//! moto issues a certificate `MOTO_ACM_VALIDATION_WAIT` seconds after the request whatever the
//! delegation; these tests give it long enough for the check to see it still pending, as AWS
//! would keep it.

use std::time::{Duration, Instant};

use super::dns_server::DnsServer;
use super::support::*;

const DOMAIN: &str = "containrlab.click";

fn env_with_validation_wait(seconds: &str) -> Env {
    Env::with_moto(Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", seconds)]))
}

/// Registers the stack's domain in this account's Route 53 Domains (moto makes a zone for it and
/// names its own default name servers, not the zone's).
fn register(env: &Env) -> aws_sdk_route53domains::Client {
    let domains = aws_sdk_route53domains::Client::new(&env.sdk());
    let contact = aws_sdk_route53domains::types::ContactDetail::builder()
        .first_name("Ops")
        .last_name("Team")
        .contact_type(aws_sdk_route53domains::types::ContactType::Person)
        .email("ops@example.com")
        .phone_number("+1.5555555555")
        .country_code(aws_sdk_route53domains::types::CountryCode::Us)
        .build();
    env.block_on(
        domains
            .register_domain()
            .domain_name(DOMAIN)
            .duration_in_years(2)
            .admin_contact(contact.clone())
            .registrant_contact(contact.clone())
            .tech_contact(contact)
            .send(),
    )
    .expect("registered");
    domains
}

/// The four name servers of the stack's zone.
fn zone_servers(env: &Env) -> Vec<String> {
    let r53 = aws_sdk_route53::Client::new(&env.sdk());
    env.block_on(async {
        let zones = r53.list_hosted_zones_by_name().dns_name(format!("{DOMAIN}.")).send().await.expect("zones");
        let id = zones.hosted_zones().first().expect("the zone").id().to_string();
        let zone = r53.get_hosted_zone().id(id).send().await.expect("zone");
        let servers = zone.delegation_set().map(|d| d.name_servers().to_vec()).unwrap_or_default();
        servers.iter().map(|s| s.trim_end_matches('.').to_string()).collect()
    })
}

/// The first `up` stopped on the certificate within a minute, named the four name servers, and
/// left only what needs the certificate to the next `up`.
#[track_caller]
fn stopped_on_delegation(env: &Env, run: &Run, took: Duration, where_: &str) {
    run.expect_code(1);
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let text = &run.stderr;
    assert!(
        text.contains(&format!("{DOMAIN} is not delegated to the stack's hosted zone: its name servers {where_}")),
        "{text}"
    );
    for server in zone_servers(env) {
        assert!(text.contains(&format!("\n    {server}")), "{server} not named:\n{text}");
    }
    let result = &run.json()["result"];
    let failed: Vec<&str> =
        result["failed"].as_array().expect("failed").iter().filter_map(|f| f["address"].as_str()).collect();
    assert_eq!(failed, vec![format!("certificate.{DOMAIN}")]);
    let not_started: Vec<String> = result["not_started"]
        .as_array()
        .expect("not_started")
        .iter()
        .filter_map(|f| f["address"].as_str().map(str::to_string))
        .collect();
    assert!(not_started.contains(&"listener.https".to_string()), "{not_started:?}");
    // Everything else was built: what the next plan wants is the certificate and what needs it.
    let left = actions(&env.run(&["--json", "diff"]).json());
    for (address, _) in &left {
        assert!(
            address == &format!("certificate.{DOMAIN}") || not_started.contains(address),
            "{address} was not built: {left:?}"
        );
    }
    assert!(left.len() < 10, "{left:?}");
}

#[test]
fn an_undelegated_domain_at_route53_domains_stops_up_and_the_next_up_converges_once_delegated() {
    let env = env_with_validation_wait("20");
    let domains = register(&env);
    let started = Instant::now();
    let run = env.run(&["--json", "up", "--yes"]);
    stopped_on_delegation(&env, &run, started.elapsed(), "at Route 53 Domains are ns-2048.awscdn-64.net");
    // The operator sets the zone's name servers at the registrar; the next `up` converges.
    let servers: Vec<_> = zone_servers(&env)
        .iter()
        .map(|n| aws_sdk_route53domains::types::Nameserver::builder().name(n).build().expect("name server"))
        .collect();
    env.block_on(domains.update_domain_nameservers().domain_name(DOMAIN).set_nameservers(Some(servers)).send())
        .expect("delegated");
    let again = env.run(&["up", "--yes"]);
    again.expect_code(0);
    assert!(again.stderr.contains(&format!("{DOMAIN} is delegated to the stack's zone")), "{}", again.stderr);
    env.run(&["diff", "--exit-code"]).expect_code(0);
    let doctor = env.run(&["doctor"]);
    assert!(doctor.stdout.contains(&format!("✓ delegation of {DOMAIN}")), "{}", doctor.stdout);
}

#[test]
fn with_delegate_true_up_sets_the_name_servers_at_route53_domains() {
    let env = env_with_validation_wait("10");
    let domains = register(&env);
    env.edit_stack("  create_zone: true", "  delegate: true\n  create_zone: true");
    let run = env.run(&["up", "--yes"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains(&format!("set the name servers of {DOMAIN} at Route 53 Domains to the zone's")),
        "{}",
        run.stderr
    );
    let detail = env.block_on(domains.get_domain_detail().domain_name(DOMAIN).send()).expect("detail");
    let mut named: Vec<String> = detail.nameservers().iter().map(|n| n.name().to_string()).collect();
    named.sort();
    let mut zone = zone_servers(&env);
    zone.sort();
    assert_eq!(named, zone);
}

#[test]
fn an_undelegated_domain_elsewhere_is_found_through_dns_and_doctor_says_the_same() {
    let env = env_with_validation_wait("20");
    let dns = DnsServer::start(&["ns1.old-registrar.example", "ns2.old-registrar.example"]);
    let resolver = [("CONTAINRLAB_DNS_RESOLVER", dns.address.as_str())];
    let started = Instant::now();
    let run = env.run_with(&env.moto.endpoint, &resolver, &["--json", "up", "--yes"]);
    stopped_on_delegation(
        &env,
        &run,
        started.elapsed(),
        "in DNS are ns1.old-registrar.example, ns2.old-registrar.example",
    );
    let doctor = env.run_with(&env.moto.endpoint, &resolver, &["doctor"]);
    assert!(doctor.stdout.contains(&format!("✗ delegation of {DOMAIN}")), "{}", doctor.stdout);
    assert!(doctor.stdout.contains("fix: set them at the domain's registrar"), "{}", doctor.stdout);
    dns.answer_with(&zone_servers(&env));
    env.run_with(&env.moto.endpoint, &resolver, &["up", "--yes"]).expect_code(0);
    env.run(&["diff", "--exit-code"]).expect_code(0);
}

#[test]
fn with_no_dns_answer_up_says_delegation_could_not_be_checked_and_goes_on() {
    let env = env_with_validation_wait("8");
    // A resolver that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let address = silent.local_addr().expect("addr").to_string();
    let run = env.run_with(&env.moto.endpoint, &[("CONTAINRLAB_DNS_RESOLVER", &address)], &["up", "--yes"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains(&format!("delegation of {DOMAIN} could not be checked (no DNS answer")),
        "{}",
        run.stderr
    );
}
