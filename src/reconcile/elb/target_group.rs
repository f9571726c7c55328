//! `target_group.NAME`: health checks and the deregistration delay, changed in place. Another
//! port, protocol, target type or VPC replaces it create-before-destroy: the new group (under a
//! suffixed name while the old one exists), then the rules and services moved to it, then the old
//! group deleted — listener rules always have a group to forward to.

use anyhow::Result;
use aws_sdk_elasticloadbalancingv2::types::{Matcher, ProtocolEnum, TargetGroupAttribute, TargetTypeEnum};

use super::{TargetGroupFields, ATTR_DEREGISTRATION_DELAY};
use crate::aws::consistency;
use crate::aws::error::{failed, required};
use crate::aws::Clients;
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::consistency::Call;
use crate::model::ingress::TargetGroup as Desired;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{ApplyCx, DiffCx, Resource};
use crate::reconcile::kit::Observed;
use crate::reconcile::tags;
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct TargetGroup;

const DELAY: Path = Path::field("deregistration_delay_seconds");

const PORT: Path = Path::field("port");
const PROTOCOL: Path = Path::field("protocol");
const TARGET_TYPE: Path = Path::field("target_type");
const VPC: Path = Path::field("vpc");
const HEALTH: Path = Path::group("health_check");

impl Resource for TargetGroup {
    const KIND: Kind = Kind::TargetGroup;
    const GROUP: Group = Group::Edge;
    const FIELDS: &'static [Path] = &[PORT, PROTOCOL, TARGET_TYPE, VPC, HEALTH, DELAY, TAGS];
    const REPLACE_ON: &'static [Path] = &[PORT, PROTOCOL, TARGET_TYPE, VPC];
    type Desired = Desired;
    type Observed = Observed<TargetGroupFields>;

    fn usage(_: &crate::model::desired::Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<Desired> {
        cx.desired.ingress.iter().flat_map(|e| e.target_groups.clone()).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<TargetGroupFields>> {
        cx.observed.edge.target_groups.clone()
    }

    fn name(d: &Desired) -> &str {
        &d.name
    }

    fn fields(cx: &DiffCx<'_>, d: &Desired, o: Option<&Observed<TargetGroupFields>>, tags: &Tags) -> FieldDiff {
        let vpc_names = cx.ids.names(Kind::Vpc);
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        f.field(PORT, of.map(|o| Some(o.port)), Some(i32::from(d.port)));
        f.field(PROTOCOL, of.map(|o| Some(o.protocol.clone())), Some(d.protocol.clone()));
        f.field(TARGET_TYPE, of.map(|o| Some(o.target_type.clone())), Some(d.target_type.clone()));
        f.field(VPC, of.map(|o| vpc_names.get(&o.vpc_id).cloned()), Some(cx.ctx.stack.clone()));
        let h = &d.health_check;
        f.field(HEALTH.at("path"), of.map(|o| Some(o.health_path.clone())), Some(h.path.clone()));
        f.field(HEALTH.at("interval_seconds"), of.map(|o| Some(o.health_interval)), Some(h.interval_seconds as i32));
        f.field(HEALTH.at("timeout_seconds"), of.map(|o| Some(o.health_timeout)), Some(h.timeout_seconds as i32));
        f.field(
            HEALTH.at("healthy_threshold"),
            of.map(|o| Some(o.healthy_threshold)),
            Some(h.healthy_threshold as i32),
        );
        f.field(
            HEALTH.at("unhealthy_threshold"),
            of.map(|o| Some(o.unhealthy_threshold)),
            Some(h.unhealthy_threshold as i32),
        );
        f.field(HEALTH.at("matcher"), of.map(|o| Some(o.matcher.clone())), Some(h.matcher.clone()));
        let delay = |o: &TargetGroupFields| o.deregistration_delay.as_deref().and_then(|s| s.parse::<i64>().ok());
        f.field(DELAY, of.map(delay), Some(i64::from(d.deregistration_delay_seconds)));
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn depends_on(cx: &DiffCx<'_>, _: &Desired) -> Vec<Address> {
        vec![Address::new(Kind::Vpc, &cx.ctx.stack)]
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_elb(&clients.elb, address, id, have, want).await
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Desired,
        replacing: Option<&Observed<TargetGroupFields>>,
    ) -> Result<String> {
        // Names are unique per region: a replacement made while the old group still exists takes
        // the other of two names (the declared one, or it with a short suffix).
        let name = match replacing {
            Some(o) if o.fields.aws_name == d.name => {
                let token = crate::aws::client_token(&[&cx.ctx.stack, &address.to_string()]);
                format!("{}-{}", d.name, &token[token.len() - 4..])
            }
            _ => d.name.clone(),
        };
        let h = &d.health_check;
        let out = cx
            .clients
            .elb
            .create_target_group()
            .name(&name)
            .protocol(ProtocolEnum::from(d.protocol.as_str()))
            .port(i32::from(d.port))
            .vpc_id(cx.ids.get(&Address::new(Kind::Vpc, &cx.ctx.stack))?)
            .target_type(TargetTypeEnum::from(d.target_type.as_str()))
            .health_check_path(&h.path)
            .health_check_interval_seconds(h.interval_seconds as i32)
            .health_check_timeout_seconds(h.timeout_seconds as i32)
            .healthy_threshold_count(h.healthy_threshold as i32)
            .unhealthy_threshold_count(h.unhealthy_threshold as i32)
            .matcher(Matcher::builder().http_code(&h.matcher).build())
            .set_tags(Some(tags::elb(&cx.tags(address))))
            .send()
            .await
            .map_err(|e| failed("creating", address, &e))?;
        let arn = required(
            out.target_groups().first().and_then(|t| t.target_group_arn()),
            "creating",
            address,
            "targetGroupArn",
        )?;
        set_delay(cx, address, arn, d).await?;
        Ok(arn.to_string())
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Desired,
        o: &Observed<TargetGroupFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        let elb = &cx.clients.elb;
        if delta.has(HEALTH) {
            let h = &d.health_check;
            elb.modify_target_group()
                .target_group_arn(&o.id)
                .health_check_path(&h.path)
                .health_check_interval_seconds(h.interval_seconds as i32)
                .health_check_timeout_seconds(h.timeout_seconds as i32)
                .healthy_threshold_count(h.healthy_threshold as i32)
                .unhealthy_threshold_count(h.unhealthy_threshold as i32)
                .matcher(Matcher::builder().http_code(&h.matcher).build())
                .send()
                .await
                .map_err(|e| failed("updating", address, &e))?;
        }
        if delta.has(DELAY) {
            set_delay(cx, address, &o.id, d).await?;
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<TargetGroupFields>) -> Result<()> {
        // The listener or rule deleted moments ago holds it for a while (`target-group-released`).
        let delete = || async {
            let request = cx.clients.elb.delete_target_group().target_group_arn(&o.id);
            request.send().await.map_err(|e| failed("deleting", address, &e))
        };
        consistency::retry(Call::ElbDeleteTargetGroup, address, delete).await?;
        Ok(())
    }
}

async fn set_delay(cx: &ApplyCx<'_>, address: &Address, arn: &str, d: &Desired) -> Result<()> {
    let delay = TargetGroupAttribute::builder()
        .key(ATTR_DEREGISTRATION_DELAY)
        .value(d.deregistration_delay_seconds.to_string())
        .build();
    cx.clients
        .elb
        .modify_target_group_attributes()
        .target_group_arn(arn)
        .attributes(delay)
        .send()
        .await
        .map_err(|e| failed("setting the attributes of", address, &e))?;
    Ok(())
}
