//! `load_balancer.NAME`: the application load balancer in its subnets with its security groups and
//! the attributes the stack file sets. Waited on until `active` after it is created, and until it
//! is gone on delete (its network interfaces keep the subnets and groups busy until then). Another
//! scheme replaces it.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum,
};

use super::{lb_attributes, LoadBalancerFields};
use crate::aws::error::{self, failed, required};
use crate::aws::wait::{self, Check};
use crate::aws::Clients;
use crate::diff::{foreign, Delta, FieldDiff, Path, TAGS};
use crate::model::ingress::LoadBalancer as Desired;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{ApplyCx, DiffCx, Pair, Resource};
use crate::reconcile::kit::Observed;
use crate::reconcile::tags;
use crate::reconcile::Group;
use crate::reconcile::Plan;

/// A new application load balancer is usually active within 2–3 minutes.
const LB_TIMEOUT: Duration = Duration::from_secs(900);

#[derive(Debug, Clone)]
pub struct LoadBalancer;

const SCHEME: Path = Path::field("scheme");
const SUBNETS: Path = Path::field("subnets");
const SECURITY_GROUPS: Path = Path::field("security_groups");
const ATTRIBUTES: Path = Path::group("attributes");
const STATE: Path = Path::field("state");

impl Resource for LoadBalancer {
    const KIND: Kind = Kind::LoadBalancer;
    const GROUP: Group = Group::Edge;
    const FIELDS: &'static [Path] = &[SCHEME, SUBNETS, SECURITY_GROUPS, ATTRIBUTES, STATE, TAGS];
    const REPLACE_ON: &'static [Path] = &[SCHEME];
    type Desired = Desired;
    type Observed = Observed<LoadBalancerFields>;

    fn usage(desired: &crate::model::desired::Desired, name: &str) -> Option<Usage> {
        let lb = &desired.ingress.as_ref().filter(|e| e.load_balancer.name == name)?.load_balancer;
        let subnets = desired.network.iter().flat_map(|n| &n.subnets);
        let mut zones: Vec<&str> =
            subnets.filter(|s| lb.subnets.contains(&s.name)).map(|s| s.availability_zone.as_str()).collect();
        zones.sort_unstable();
        zones.dedup();
        Some(Usage::LoadBalancer { zones: zones.len() as u32, internet_facing: lb.scheme == "internet-facing" })
    }

    fn usage_removed(_: &crate::model::desired::Desired, _: &str, pair: &Pair<Self>, _: &Plan) -> Option<Usage> {
        let o = &pair.observed.as_ref()?.fields;
        Some(Usage::LoadBalancer { zones: o.subnet_ids.len() as u32, internet_facing: o.scheme == "internet-facing" })
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<Desired> {
        cx.desired.ingress.iter().map(|e| e.load_balancer.clone()).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<LoadBalancerFields>> {
        cx.observed.edge.load_balancers.clone()
    }

    fn name(d: &Desired) -> &str {
        &d.name
    }

    fn fields(cx: &DiffCx<'_>, d: &Desired, o: Option<&Observed<LoadBalancerFields>>, tags: &Tags) -> FieldDiff {
        let named = |kind: Kind, ids: &[String]| -> BTreeSet<String> {
            let names = cx.ids.names(kind);
            ids.iter().map(|id| names.get(id).cloned().unwrap_or_else(|| foreign(id))).collect()
        };
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        f.field(SCHEME, of.map(|o| Some(o.scheme.clone())), Some(d.scheme.clone()));
        let subnets = of.map(|o| named(Kind::Subnet, &o.subnet_ids));
        f.members(SUBNETS, subnets.as_ref(), &d.subnets.iter().cloned().collect());
        let groups = of.map(|o| named(Kind::SecurityGroup, &o.security_group_ids));
        f.members(SECURITY_GROUPS, groups.as_ref(), &d.security_groups.iter().cloned().collect());
        for (key, want) in lb_attributes(d) {
            f.field(ATTRIBUTES.at(&key), of.map(|o| o.attributes.get(&key).cloned()), Some(want));
        }
        f.state(STATE, of.map(|o| Some(o.state.clone())), "active".to_string());
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn depends_on(cx: &DiffCx<'_>, d: &Desired) -> Vec<Address> {
        let subnets = d.subnets.iter().map(|s| Address::new(Kind::Subnet, s));
        let groups = d.security_groups.iter().map(|g| Address::new(Kind::SecurityGroup, g));
        subnets.chain(groups).chain([Address::new(Kind::InternetGateway, &cx.ctx.stack)]).collect()
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_elb(&clients.elb, address, id, have, want).await
    }

    async fn create(cx: &ApplyCx<'_>, address: &Address, d: &Desired, _: Option<&Self::Observed>) -> Result<String> {
        let request = cx
            .clients
            .elb
            .create_load_balancer()
            .name(&d.name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::from(d.scheme.as_str()))
            .set_subnets(Some(ids(cx, Kind::Subnet, &d.subnets)?))
            .set_security_groups(Some(ids(cx, Kind::SecurityGroup, &d.security_groups)?))
            .set_tags(Some(tags::elb(&cx.tags(address))));
        let out =
            crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::elb()).send())
                .await
                .map_err(|e| failed("creating", address, &e))?;
        let lb = out.load_balancers().first();
        let arn = required(lb.and_then(|l| l.load_balancer_arn()), "creating", address, "loadBalancerArn")?.to_string();
        cx.ids.set(address, &arn);
        set_attributes(cx, address, &arn, d).await?;
        Ok(arn)
    }

    async fn ready(cx: &ApplyCx<'_>, address: &Address, _: &Desired, arn: &str) -> Result<()> {
        wait_active(cx, address, arn).await
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Desired,
        o: &Observed<LoadBalancerFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        let elb = &cx.clients.elb;
        if delta.has(SUBNETS) {
            elb.set_subnets()
                .load_balancer_arn(&o.id)
                .set_subnets(Some(ids(cx, Kind::Subnet, &d.subnets)?))
                .send()
                .await
                .map_err(|e| failed("setting the subnets of", address, &e))?;
        }
        if delta.has(SECURITY_GROUPS) {
            elb.set_security_groups()
                .load_balancer_arn(&o.id)
                .set_security_groups(Some(ids(cx, Kind::SecurityGroup, &d.security_groups)?))
                .send()
                .await
                .map_err(|e| failed("setting the security groups of", address, &e))?;
        }
        if delta.has(ATTRIBUTES) {
            set_attributes(cx, address, &o.id, d).await?;
        }
        // A balancer not active yet (its state) is waited for.
        delta.handled(STATE);
        wait_active(cx, address, &o.id).await
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<LoadBalancerFields>) -> Result<()> {
        let elb = &cx.clients.elb;
        elb.delete_load_balancer()
            .load_balancer_arn(&o.id)
            .send()
            .await
            .map_err(|e| failed("deleting", address, &e))?;
        wait::until(&format!("{address} to be deleted"), wait::timeout(LB_TIMEOUT), || async {
            match elb.describe_load_balancers().load_balancer_arns(&o.id).send().await {
                Err(e) if error::is_not_found(&e) => Ok(Check::Ready(())),
                Err(e) => Err(failed("reading", address, &e)),
                Ok(out) if out.load_balancers().is_empty() => Ok(Check::Ready(())),
                Ok(_) => Ok(Check::Pending("deleting".into())),
            }
        })
        .await
    }
}

fn ids(cx: &ApplyCx<'_>, kind: Kind, names: &[String]) -> Result<Vec<String>> {
    names.iter().map(|n| cx.ids.get(&Address::new(kind, n))).collect()
}

async fn set_attributes(cx: &ApplyCx<'_>, address: &Address, arn: &str, d: &Desired) -> Result<()> {
    let attributes =
        lb_attributes(d).into_iter().map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build()).collect();
    cx.clients
        .elb
        .modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(|e| failed("setting the attributes of", address, &e))?;
    Ok(())
}

async fn wait_active(cx: &ApplyCx<'_>, address: &Address, arn: &str) -> Result<()> {
    // An application load balancer is typically active 2–3 minutes after its create.
    let typical = Duration::from_secs(150);
    wait::until_about(&format!("{address} to become active"), wait::timeout(LB_TIMEOUT), typical, || async {
        let out = cx
            .clients
            .elb
            .describe_load_balancers()
            .load_balancer_arns(arn)
            .send()
            .await
            .map_err(|e| failed("reading", address, &e))?;
        let state = out.load_balancers().first().and_then(|l| l.state()).cloned();
        match state.as_ref().and_then(|s| s.code()) {
            Some(LoadBalancerStateEnum::Active) => Ok(Check::Ready(())),
            Some(LoadBalancerStateEnum::Failed) => {
                bail!("{address} failed: {}", state.as_ref().and_then(|s| s.reason()).unwrap_or("no reason given"))
            }
            Some(other) => Ok(Check::Pending(other.as_str().to_string())),
            None => Ok(Check::Pending("unknown".into())),
        }
    })
    .await
}
