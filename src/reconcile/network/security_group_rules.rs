//! `security_group_rules.NAME`: the ingress and egress rules of one security group, compared as
//! normalised sets (`model::network::Rule`): order, AWS's grouping of peers into one permission,
//! protocol numbers and `-1` ports make no difference. The rules "exist" exactly when their group
//! does and share its ownership tags. Applying re-reads the group's rules and sends only the
//! difference (a new group already has AWS's default egress rule), so it is safe to repeat. Any
//! change to who may connect in is flagged as widening access.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, UserIdGroupPair};

use super::{Observed, SecurityGroupFields};
use crate::aws::consistency;
use crate::aws::error::failed;
use crate::aws::Clients;
use crate::diff::{Delta, FieldChange, FieldDiff, Path};
use crate::model::consistency::Call;
use crate::model::network::{normalize_ports, normalize_protocol, Peer, Rule, SecurityGroupRules as Desired};
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{gone_is_done, untagged, ApplyCx, DiffCx, Resource};
use crate::reconcile::kit::{renewed, Ids};
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct SecurityGroupRules;

const INGRESS: Path = Path::field("ingress");
const EGRESS: Path = Path::field("egress");

impl Resource for SecurityGroupRules {
    const KIND: Kind = Kind::SecurityGroupRules;
    const GROUP: Group = Group::Network;
    const OWNED_THROUGH: Option<Kind> = Some(Kind::SecurityGroup);
    const FIELDS: &'static [Path] = &[INGRESS, EGRESS];
    type Desired = Desired;
    type Observed = Observed<SecurityGroupFields>;

    fn usage(_: &crate::model::desired::Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<Desired> {
        cx.desired.network.iter().flat_map(|n| n.security_group_rules.clone()).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<SecurityGroupFields>> {
        cx.observed.network.security_groups.clone()
    }

    fn name(d: &Desired) -> &str {
        &d.group
    }

    fn fields(cx: &DiffCx<'_>, d: &Desired, o: Option<&Observed<SecurityGroupFields>>, _: &Tags) -> FieldDiff {
        // A rule naming a group about to be (re)created points at nothing yet: count it as missing.
        let renewed = renewed(cx.plan, Kind::SecurityGroup);
        let current = |rules: &BTreeSet<Rule>| -> BTreeSet<String> {
            let live = rules.iter().filter(|r| !matches!(&r.peer, Peer::Group(g) if renewed.contains(g)));
            live.map(Rule::describe).collect()
        };
        let want = |rules: &BTreeSet<Rule>| rules.iter().map(Rule::describe).collect::<BTreeSet<_>>();
        let mut f = FieldDiff::default();
        f.members(INGRESS, o.map(|o| current(&o.fields.ingress)).as_ref(), &want(&d.ingress));
        f.members(EGRESS, o.map(|o| current(&o.fields.egress)).as_ref(), &want(&d.egress));
        f
    }

    fn depends_on(_: &DiffCx<'_>, d: &Desired) -> Vec<Address> {
        let peers = d.ingress.iter().chain(&d.egress).filter_map(|r| match &r.peer {
            Peer::Group(g) => Some(Address::new(Kind::SecurityGroup, g)),
            _ => None,
        });
        let mut deps: Vec<Address> =
            std::iter::once(Address::new(Kind::SecurityGroup, &d.group)).chain(peers).collect();
        deps.sort();
        deps.dedup();
        deps
    }

    /// Added access, or access someone added by hand that `up` would remove.
    fn widens_access(fields: &[FieldChange]) -> bool {
        fields.iter().any(|f| f.is(INGRESS))
    }

    fn tag_id(_: &Self::Observed) -> &str {
        ""
    }

    async fn tag(_: &Clients, address: &Address, _: &str, _: &Tags, _: &Tags) -> Result<()> {
        untagged(address)
    }

    async fn create(cx: &ApplyCx<'_>, address: &Address, d: &Desired, _: Option<&Self::Observed>) -> Result<String> {
        apply_rules(cx, address, Some(d)).await
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Desired,
        _: &Self::Observed,
        delta: &Delta<'_>,
    ) -> Result<()> {
        // Both directions are brought to the stack file's rules together.
        delta.all();
        apply_rules(cx, address, Some(d)).await.map(drop)
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, _: &Self::Observed) -> Result<()> {
        apply_rules(cx, address, None).await.map(drop)
    }
}

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

/// Makes the group's rules exactly the desired ones (none, on delete), reading them first.
/// Returns the group's id (the rules' own "id").
async fn apply_rules(cx: &ApplyCx<'_>, address: &Address, desired: Option<&Desired>) -> Result<String> {
    let (ec2, ids) = (&cx.clients.ec2, cx.ids);
    let group = Address::new(Kind::SecurityGroup, &address.name);
    let group_id = ids.get(&group)?;
    // Read by id: a group made moments ago is then an error EC2 names (`security-group-visible`)
    // rather than an empty listing; on delete, a group already gone has no rules left.
    let read = || async {
        let request = ec2.describe_security_groups().group_ids(&group_id);
        request.send().await.map_err(|e| failed("reading", address, &e))
    };
    let out = match desired {
        Some(_) => consistency::retry(Call::Ec2ReadGroupRules, address, read).await?,
        None => match read().await {
            Err(e) if crate::aws::error::is_gone(&e) => return Ok(group_id),
            other => other?,
        },
    };
    let Some(current) = out.security_groups().first() else {
        if desired.is_none() {
            return Ok(group_id);
        }
        bail!("updating {address}: {group} ({group_id}) does not exist");
    };
    let names = ids.names(Kind::SecurityGroup);
    let (want_in, want_out) = match desired {
        None => (BTreeSet::new(), BTreeSet::new()),
        Some(d) => (d.ingress.clone(), d.egress.clone()),
    };
    let have_in = rules_of(current.ip_permissions(), &names);
    let have_out = rules_of(current.ip_permissions_egress(), &names);
    let perms = |rules: Vec<&Rule>| rules.into_iter().map(|r| ip_permission(r, ids)).collect::<Result<Vec<_>>>();
    let revoke_in = perms(have_in.difference(&want_in).collect())?;
    let revoke_out = perms(have_out.difference(&want_out).collect())?;
    let add_in = perms(want_in.difference(&have_in).collect())?;
    let add_out = perms(want_out.difference(&have_out).collect())?;
    if !revoke_in.is_empty() {
        // Already gone (a repeat after a lost answer) is what was asked.
        let revoked =
            ec2.revoke_security_group_ingress().group_id(&group_id).set_ip_permissions(Some(revoke_in)).send().await;
        gone_is_done(revoked.map(drop).map_err(|e| failed("revoking ingress of", address, &e)))?;
    }
    if !revoke_out.is_empty() {
        // Already gone (a repeat after a lost answer) is what was asked.
        let request = ec2.revoke_security_group_egress().group_id(&group_id).set_ip_permissions(Some(revoke_out));
        let revoke = || async { request.clone().send().await.map_err(|e| failed("revoking egress of", address, &e)) };
        gone_is_done(consistency::retry(Call::Ec2RevokeSecurityGroupEgress, address, revoke).await.map(drop))?;
    }
    if !add_in.is_empty() {
        let request = ec2.authorize_security_group_ingress().group_id(&group_id).set_ip_permissions(Some(add_in));
        let authorize = || async {
            crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ec2()).send())
                .await
                .map_err(|e| failed("authorizing ingress of", address, &e))
        };
        consistency::retry(Call::Ec2AuthorizeSecurityGroupIngress, address, authorize).await?;
    }
    if !add_out.is_empty() {
        let request = ec2.authorize_security_group_egress().group_id(&group_id).set_ip_permissions(Some(add_out));
        let authorize = || async {
            crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ec2()).send())
                .await
                .map_err(|e| failed("authorizing egress of", address, &e))
        };
        consistency::retry(Call::Ec2AuthorizeSecurityGroupEgress, address, authorize).await?;
    }
    Ok(group_id)
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
