//! `listener_rule.HOST`: a host-header rule of the HTTPS listener forwarding to a target group.
//! Rules are planned one after another (priorities are unique per listener, and a move touches
//! several): priority changes go through free temporary priorities in two batches, so swapping two
//! never collides. Rules share their load balancer's ownership.

use anyhow::Result;
use aws_sdk_elasticloadbalancingv2::types::{
    Action as ElbAction, ActionTypeEnum, HostHeaderConditionConfig, RuleCondition, RulePriorityPair,
};

use super::RuleFields;
use crate::aws::error::{failed, required};
use crate::aws::Clients;
use crate::diff::{foreign, Delta, FieldChange, FieldDiff, Path};
use crate::model::desired::Desired;
use crate::model::ingress::ListenerRule as Rule;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{untagged, ApplyCx, DiffCx, Resource};
use crate::reconcile::kit::{renewed, Observed};
use crate::reconcile::tags;
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct ListenerRule;

/// A rule with all the rules of its listener (a priority move touches the others).
#[derive(Debug, Clone)]
pub struct DesiredRule {
    pub rule: Rule,
    pub all: Vec<Rule>,
}

const PRIORITY: Path = Path::field("priority");
const FORWARD_TO: Path = Path::field("forward_to");

impl Resource for ListenerRule {
    const KIND: Kind = Kind::ListenerRule;
    const GROUP: Group = Group::Edge;
    const OWNED_THROUGH: Option<Kind> = Some(Kind::LoadBalancer);
    const FIELDS: &'static [Path] = &[PRIORITY, FORWARD_TO];
    type Desired = DesiredRule;
    type Observed = Observed<RuleFields>;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<DesiredRule> {
        let rules = cx.desired.ingress.iter().flat_map(|e| e.rules.clone()).collect::<Vec<_>>();
        rules.iter().map(|r| DesiredRule { rule: r.clone(), all: rules.clone() }).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<RuleFields>> {
        cx.observed.edge.rules.clone()
    }

    fn name(d: &DesiredRule) -> &str {
        &d.rule.host
    }

    fn fields(cx: &DiffCx<'_>, d: &DesiredRule, o: Option<&Observed<RuleFields>>, _: &Tags) -> FieldDiff {
        let (names, new_groups) = (cx.ids.names(Kind::TargetGroup), renewed(cx.plan, Kind::TargetGroup));
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        f.field(PRIORITY, of.map(|o| Some(o.priority.clone())), Some(d.rule.priority.to_string()));
        let forward = |o: &RuleFields| {
            let named = o.target_group_arns.iter().map(|arn| names.get(arn).cloned().unwrap_or_else(|| foreign(arn)));
            let live: Vec<String> = named.filter(|n| !new_groups.contains(n)).collect();
            (!live.is_empty()).then(|| live.join(", "))
        };
        f.field(FORWARD_TO, of.map(forward), Some(d.rule.target_group.clone()));
        f
    }

    fn depends_on(_: &DiffCx<'_>, d: &DesiredRule) -> Vec<Address> {
        let previous = d.all.iter().take_while(|r| r.host != d.rule.host).last();
        [Address::new(Kind::Listener, "https"), Address::new(Kind::TargetGroup, &d.rule.target_group)]
            .into_iter()
            .chain(previous.map(|r| Address::new(Kind::ListenerRule, &r.host)))
            .collect()
    }

    /// Where the internet is routed: a rule that forwards to another target group (the runner's,
    /// say) opens that target to the world.
    fn widens_access(fields: &[FieldChange]) -> bool {
        fields.iter().any(|f| f.is(FORWARD_TO))
    }

    fn tag_id(_: &Self::Observed) -> &str {
        ""
    }

    async fn tag(_: &Clients, address: &Address, _: &str, _: &Tags, _: &Tags) -> Result<()> {
        untagged(address)
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredRule,
        _: Option<&Self::Observed>,
    ) -> Result<String> {
        let (condition, forward) = condition_and_action(cx, &d.rule)?;
        let request = cx
            .clients
            .elb
            .create_rule()
            .listener_arn(cx.ids.get(&Address::new(Kind::Listener, "https"))?)
            .priority(d.rule.priority as i32)
            .conditions(condition)
            .actions(forward)
            .set_tags(Some(tags::elb(&cx.tags(address))));
        let out =
            crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::elb()).send())
                .await
                .map_err(|e| failed("creating", address, &e))?;
        Ok(required(out.rules().first().and_then(|r| r.rule_arn()), "creating", address, "ruleArn")?.to_string())
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredRule,
        o: &Observed<RuleFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        if delta.has(PRIORITY) {
            move_priorities(cx, &d.all, address).await?;
        }
        if delta.has(FORWARD_TO) {
            let (condition, forward) = condition_and_action(cx, &d.rule)?;
            cx.clients
                .elb
                .modify_rule()
                .rule_arn(&o.id)
                .conditions(condition)
                .actions(forward)
                .send()
                .await
                .map_err(|e| failed("updating", address, &e))?;
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<RuleFields>) -> Result<()> {
        cx.clients.elb.delete_rule().rule_arn(&o.id).send().await.map_err(|e| failed("deleting", address, &e))?;
        Ok(())
    }
}

fn condition_and_action(cx: &ApplyCx<'_>, d: &Rule) -> Result<(RuleCondition, ElbAction)> {
    let condition = RuleCondition::builder()
        .field("host-header")
        .host_header_config(HostHeaderConditionConfig::builder().values(&d.host).build())
        .build();
    let tg = cx.ids.get(&Address::new(Kind::TargetGroup, &d.target_group))?;
    Ok((condition, ElbAction::builder().r#type(ActionTypeEnum::Forward).target_group_arn(tg).build()))
}

/// Moves the HTTPS listener's rules to their desired priorities without ever asking for a
/// priority another rule still holds: first every moving rule to a free temporary priority, then
/// each to its final one (two `SetRulePriorities` batches). Reads the rules first, so the steps of
/// the other moved rules find nothing left to do.
async fn move_priorities(cx: &ApplyCx<'_>, desired: &[Rule], address: &Address) -> Result<()> {
    let elb = &cx.clients.elb;
    let listener = cx.ids.get(&Address::new(Kind::Listener, "https"))?;
    let current = elb
        .describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .map_err(|e| failed("reading the rules for", address, &e))?;
    let moves: Vec<(String, i32)> = current
        .rules()
        .iter()
        .filter_map(|r| {
            let host = super::observe::rule_host(r);
            let want = desired.iter().find(|d| host.as_deref() == Some(d.host.as_str()))?.priority as i32;
            let arn = r.rule_arn()?.to_string();
            (r.priority() != Some(want.to_string().as_str())).then_some((arn, want))
        })
        .collect();
    if moves.is_empty() {
        return Ok(());
    }
    let taken: Vec<i32> = current
        .rules()
        .iter()
        .filter_map(|r| r.priority()?.parse().ok())
        .chain(desired.iter().map(|d| d.priority as i32))
        .collect();
    let mut free = (1..=50000).rev().filter(|p| !taken.contains(p));
    let temporary: Vec<(String, i32)> =
        moves.iter().map(|(arn, _)| (arn.clone(), free.next().unwrap_or(50000))).collect();
    for batch in [temporary, moves] {
        let pairs =
            batch.iter().map(|(arn, p)| RulePriorityPair::builder().rule_arn(arn).priority(*p).build()).collect();
        elb.set_rule_priorities()
            .set_rule_priorities(Some(pairs))
            .send()
            .await
            .map_err(|e| failed("setting rule priorities for", address, &e))?;
    }
    Ok(())
}
