//! Security groups and their rules. The rules of a group are their own resource
//! (`security_group_rules.NAME`) so that groups referring to each other (the ALB's egress to the
//! tasks, the tasks' ingress from the ALB) can all be created first and wired up after.
//!
//! Rules are compared as normalised sets (`model::network::Rule`): order, AWS's grouping of
//! peers into one permission, protocol numbers and `-1` ports make no difference. Applying
//! re-reads the group's rules and sends only the difference, so it is safe to repeat.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, UserIdGroupPair};

use super::vpc::{code, is_dependency_violation, network_interfaces};
use super::{Observed, ObservedNetwork, SecurityGroupFields};
use crate::aws::{describe, wait, Clients};
use crate::diff::FieldDiff;
use crate::model::network::{
    normalize_ports, normalize_protocol, Network, Peer, Rule, SecurityGroup, SecurityGroupRules,
};
use crate::model::tags::Tags;
use crate::model::{Address, Kind};
use crate::plan::build::{diff_kind, PlanContext, ServiceDiff};
use crate::plan::{Action, Plan};
use crate::reconcile::kit::Ids;
use crate::reconcile::tags;

const DRAIN_TIMEOUT: Duration = Duration::from_secs(600);

/// Flattens AWS permissions into one rule per peer. `group_names` maps this stack's group ids to names.
pub fn rules_of(perms: &[IpPermission], group_names: &BTreeMap<String, String>) -> BTreeSet<Rule> {
    let mut out = BTreeSet::new();
    for p in perms {
        let protocol = normalize_protocol(p.ip_protocol().unwrap_or("-1"));
        let ports = normalize_ports(&protocol, p.from_port(), p.to_port());
        let rule = |peer| Rule { protocol: protocol.clone(), ports, peer };
        out.extend(p.ip_ranges().iter().filter_map(|r| r.cidr_ip()).map(|c| rule(Peer::Cidr(c.to_string()))));
        out.extend(p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6()).map(|c| rule(Peer::Cidr(c.to_string()))));
        out.extend(p.user_id_group_pairs().iter().filter_map(|g| g.group_id()).map(|id| {
            rule(group_names.get(id).map(|n| Peer::Group(n.clone())).unwrap_or(Peer::Other(id.to_string())))
        }));
        out.extend(
            p.prefix_list_ids().iter().filter_map(|l| l.prefix_list_id()).map(|id| rule(Peer::Other(id.to_string()))),
        );
    }
    out
}

/// The AWS permission for one rule; group peers are resolved through `ids`.
pub fn ip_permission(rule: &Rule, ids: &Ids) -> Result<IpPermission> {
    let protocol = if rule.protocol == "all" { "-1" } else { rule.protocol.as_str() };
    let (from, to) = rule.ports.unwrap_or((-1, -1));
    let mut p = IpPermission::builder().ip_protocol(protocol);
    if rule.protocol != "all" {
        p = p.from_port(from).to_port(to);
    }
    p = match &rule.peer {
        Peer::Cidr(c) if c.contains(':') => p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).build()),
        Peer::Cidr(c) => p.ip_ranges(IpRange::builder().cidr_ip(c).build()),
        Peer::Group(g) => p.user_id_group_pairs(
            UserIdGroupPair::builder().group_id(ids.get(&Address::new(Kind::SecurityGroup, g))?).build(),
        ),
        Peer::Other(id) if id.starts_with("pl-") => {
            p.prefix_list_ids(PrefixListId::builder().prefix_list_id(id).build())
        }
        Peer::Other(id) => p.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build()),
    };
    Ok(p.build())
}

pub fn diff(
    ctx: &PlanContext,
    n: &Network,
    observed: &ObservedNetwork,
    vpc_dep: &dyn Fn(&SecurityGroup) -> Vec<Address>,
    plan: &mut Plan,
) {
    let group_fields = |d: &SecurityGroup, o: Option<&Observed<SecurityGroupFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        f.field("description", o.map(|o| Some(o.fields.description.clone())), Some(d.description.clone()));
        f.tags(o.map(|o| &o.tags), tags);
        f
    };
    let spec = ServiceDiff {
        kind: Kind::SecurityGroup,
        desired_name: |d: &SecurityGroup| &d.name,
        fields: &group_fields,
        replace_on: &["description"],
        depends_on: vpc_dep,
    };
    diff_kind(ctx, spec, &n.security_groups, &observed.security_groups, plan);

    // A rule naming a group about to be (re)created points at nothing yet: count it as missing.
    let renewed = crate::reconcile::kit::renewed(plan, Kind::SecurityGroup);
    let current = |rules: &BTreeSet<Rule>| -> BTreeSet<String> {
        rules.iter().filter(|r| !matches!(&r.peer, Peer::Group(g) if renewed.contains(g))).map(Rule::describe).collect()
    };
    let rule_fields = |d: &SecurityGroupRules, o: Option<&Observed<SecurityGroupFields>>, _: &Tags| {
        let mut f = FieldDiff::default();
        let want = |rules: &BTreeSet<Rule>| rules.iter().map(Rule::describe).collect::<BTreeSet<_>>();
        f.members("ingress", o.map(|o| current(&o.fields.ingress)).as_ref(), &want(&d.ingress));
        f.members("egress", o.map(|o| current(&o.fields.egress)).as_ref(), &want(&d.egress));
        f
    };
    let deps = |d: &SecurityGroupRules| {
        let peers = d.ingress.iter().chain(&d.egress).filter_map(|r| match &r.peer {
            Peer::Group(g) => Some(Address::new(Kind::SecurityGroup, g)),
            _ => None,
        });
        let mut deps: Vec<Address> =
            std::iter::once(Address::new(Kind::SecurityGroup, &d.group)).chain(peers).collect();
        deps.sort();
        deps.dedup();
        deps
    };
    let spec = ServiceDiff {
        kind: Kind::SecurityGroupRules,
        desired_name: |d: &SecurityGroupRules| &d.group,
        fields: &rule_fields,
        replace_on: &[],
        depends_on: &deps,
    };
    let start = plan.changes.len();
    // The rules "exist" exactly when their group does, and share its ownership tags.
    diff_kind(ctx, spec, &n.security_group_rules, &observed.security_groups, plan);
    for c in &mut plan.changes[start..] {
        // Any change to who may connect in is flagged: added access, or access someone added by hand.
        c.widens_access = c.fields.iter().any(|f| f.path == "ingress");
    }
}

fn err(what: &str, address: &Address, e: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    anyhow::anyhow!("{what} {address}: {}", describe(e))
}

#[allow(clippy::too_many_arguments)]
pub async fn apply_group(
    clients: &Clients,
    ctx: &PlanContext,
    desired: Option<&SecurityGroup>,
    vpc: &str,
    observed: Option<&Observed<SecurityGroupFields>>,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    match (action, desired) {
        (Action::Delete, _) => delete_group(clients, ids, address).await,
        (Action::Create | Action::Replace, Some(d)) => {
            if action == Action::Replace {
                delete_group(clients, ids, address).await?;
            }
            let vpc_id = ids.get(&Address::new(Kind::Vpc, vpc))?;
            let tags = ctx.tags(address);
            let out = clients
                .ec2
                .create_security_group()
                .group_name(&d.name)
                .description(&d.description)
                .vpc_id(vpc_id)
                .tag_specifications(tags::ec2_spec(ResourceType::SecurityGroup, &tags))
                .send()
                .await
                .map_err(|e| err("creating", address, &e))?;
            ids.set(address, out.group_id().unwrap_or_default());
            Ok(())
        }
        (Action::Update, Some(_)) => {
            let Some(o) = observed else { bail!("updating {address}: it was not observed") };
            tags::sync_ec2(&clients.ec2, address, &o.id, &o.tags, &ctx.tags(address)).await
        }
        (_, None) => bail!("{address}: no desired state to {action:?}"),
    }
}

async fn delete_group(clients: &Clients, ids: &Ids, address: &Address) -> Result<()> {
    let id = ids.get(address)?;
    let ec2 = &clients.ec2;
    let deleted =
        wait::retry_while(&address.to_string(), wait::timeout(DRAIN_TIMEOUT), is_dependency_violation, || {
            ec2.delete_security_group().group_id(&id).send()
        })
        .await;
    match deleted {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("InvalidGroup.NotFound") => Ok(()),
        Err(e) if is_dependency_violation(&e) => {
            let enis = network_interfaces(ec2, "group-id", &id).await;
            bail!(
                "deleting {address}: still in use by network interface(s) {enis} after {}s",
                wait::timeout(DRAIN_TIMEOUT).as_secs()
            )
        }
        Err(e) => Err(err("deleting", address, &e)),
    }
}

/// Makes the group's rules exactly the desired ones (none, on delete), reading them first.
pub async fn apply_rules(
    clients: &Clients,
    desired: Option<&SecurityGroupRules>,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let ec2 = &clients.ec2;
    let group = Address::new(Kind::SecurityGroup, &address.name);
    let group_id = ids.get(&group)?;
    let out = match ec2
        .describe_security_groups()
        .filters(Filter::builder().name("group-id").values(&group_id).build())
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return Err(err("reading the rules of", address, &e)),
    };
    let Some(current) = out.security_groups().first() else {
        if action == Action::Delete {
            return Ok(());
        }
        bail!("updating {address}: {group} ({group_id}) does not exist");
    };
    let names = ids.names(Kind::SecurityGroup);
    let (want_in, want_out) = match (action, desired) {
        (Action::Delete, _) => (BTreeSet::new(), BTreeSet::new()),
        (_, Some(d)) => (d.ingress.clone(), d.egress.clone()),
        (_, None) => bail!("{address}: no desired state to {action:?}"),
    };
    let have_in = rules_of(current.ip_permissions(), &names);
    let have_out = rules_of(current.ip_permissions_egress(), &names);
    let perms = |rules: Vec<&Rule>| rules.into_iter().map(|r| ip_permission(r, ids)).collect::<Result<Vec<_>>>();
    let revoke_in = perms(have_in.difference(&want_in).collect())?;
    let revoke_out = perms(have_out.difference(&want_out).collect())?;
    let add_in = perms(want_in.difference(&have_in).collect())?;
    let add_out = perms(want_out.difference(&have_out).collect())?;
    if !revoke_in.is_empty() {
        ec2.revoke_security_group_ingress()
            .group_id(&group_id)
            .set_ip_permissions(Some(revoke_in))
            .send()
            .await
            .map_err(|e| err("revoking ingress of", address, &e))?;
    }
    if !revoke_out.is_empty() {
        ec2.revoke_security_group_egress()
            .group_id(&group_id)
            .set_ip_permissions(Some(revoke_out))
            .send()
            .await
            .map_err(|e| err("revoking egress of", address, &e))?;
    }
    if !add_in.is_empty() {
        ec2.authorize_security_group_ingress()
            .group_id(&group_id)
            .set_ip_permissions(Some(add_in))
            .send()
            .await
            .map_err(|e| err("authorizing ingress of", address, &e))?;
    }
    if !add_out.is_empty() {
        ec2.authorize_security_group_egress()
            .group_id(&group_id)
            .set_ip_permissions(Some(add_out))
            .send()
            .await
            .map_err(|e| err("authorizing egress of", address, &e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(protocol: &str, ports: Option<(i32, i32)>) -> aws_sdk_ec2::types::builders::IpPermissionBuilder {
        let p = IpPermission::builder().ip_protocol(protocol);
        match ports {
            Some((a, b)) => p.from_port(a).to_port(b),
            None => p,
        }
    }

    #[test]
    fn aws_permissions_flatten_to_one_rule_per_peer_with_group_names() {
        let names: BTreeMap<String, String> = [("sg-1".to_string(), "alb-sg".to_string())].into();
        let perms = [
            perm("6", Some((8000, 8000)))
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-1").build())
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-9").build())
                .build(),
            perm("tcp", Some((443, 443)))
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                .build(),
            perm("-1", Some((-1, -1))).ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/16").build()).build(),
        ];
        let described: Vec<String> = rules_of(&perms, &names).iter().map(Rule::describe).collect();
        assert_eq!(
            described,
            vec![
                "all 10.0.0.0/16",
                "tcp 443 0.0.0.0/0",
                "tcp 443 ::/0",
                "tcp 8000 security_group alb-sg",
                "tcp 8000 sg-9"
            ]
        );
    }

    #[test]
    fn a_rule_round_trips_through_an_aws_permission() {
        let ids = Ids::default();
        ids.set(&Address::new(Kind::SecurityGroup, "alb-sg"), "sg-1");
        let names: BTreeMap<String, String> = [("sg-1".to_string(), "alb-sg".to_string())].into();
        for rule in [
            Rule { protocol: "tcp".into(), ports: Some((8000, 8010)), peer: Peer::Group("alb-sg".into()) },
            Rule { protocol: "all".into(), ports: None, peer: Peer::Cidr("0.0.0.0/0".into()) },
            Rule { protocol: "udp".into(), ports: Some((53, 53)), peer: Peer::Cidr("::/0".into()) },
            Rule { protocol: "tcp".into(), ports: Some((443, 443)), peer: Peer::Other("pl-123".into()) },
        ] {
            let p = ip_permission(&rule, &ids).expect("permission");
            assert_eq!(rules_of(&[p], &names), BTreeSet::from([rule]));
        }
    }

    #[test]
    fn a_rule_naming_a_group_without_an_id_is_an_error() {
        let rule = Rule { protocol: "tcp".into(), ports: Some((80, 80)), peer: Peer::Group("ghost-sg".into()) };
        assert!(ip_permission(&rule, &Ids::default()).is_err());
    }
}
