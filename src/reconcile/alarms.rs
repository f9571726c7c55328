//! CloudWatch metric alarms: metric, statistic (or percentile), period, evaluation periods,
//! threshold, comparison, dimensions (a load balancer, target group or NAT gateway by the id
//! CloudWatch names it with, resolved from the plan's ids), missing-data treatment, the SNS topic
//! notified on ALARM and on OK, tags.
//!
//! Observe, in one round: this stack's alarms from the stack's tag index (`tag_index`, with
//! their tags) and the declared alarms by name (DescribeAlarms, 100 names a call), so a namesake
//! that is not ours is a conflict; a second round only for owned alarms no longer declared
//! (confirmed by name) and tags the index does not list or may not be trusted about. Apply: `PutMetricAlarm` creates and updates alike (it replaces the
//! whole definition); tags on an existing alarm are synced with Tag/UntagResource.
//! The crate is pinned to 1.99 (Query protocol): from 1.100 it speaks RPCv2 CBOR, which AWS
//! accepts and moto does not serve.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use aws_sdk_cloudwatch::types::{AlarmType, ComparisonOperator, Dimension, Statistic};

use super::contract::{ApplyCx, DiffCx, Resource};
use super::kit::{Observed, CONCURRENCY};
use super::tag_index::TagIndex;
use super::tags;
use super::Group;
use super::Ids;
use crate::aws::error::failed;
use crate::aws::{concurrent, describe, Clients};
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::compute;
use crate::model::desired::Desired;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmFields {
    pub description: Option<String>,
    pub namespace: String,
    pub metric: String,
    pub statistic: String,
    pub period_seconds: i32,
    pub evaluation_periods: i32,
    pub threshold: f64,
    pub comparison: String,
    pub dimensions: BTreeSet<String>,
    pub treat_missing_data: String,
    /// ARNs notified when the alarm enters ALARM, and when it returns to OK.
    pub alarm_actions: BTreeSet<String>,
    pub ok_actions: BTreeSet<String>,
}

pub async fn observe(
    clients: &Clients,
    index: &TagIndex<'_>,
    desired: &[compute::Alarm],
) -> Result<Vec<Observed<AlarmFields>>> {
    let names: Vec<String> = desired.iter().map(|a| a.name.clone()).collect();
    let (owned, by_name) = tokio::try_join!(index.matching(":alarm:"), describe_named(clients, &names))?;
    let owned: BTreeMap<String, Tags> = owned.into_iter().collect();
    // Owned alarms no longer declared: confirmed by CloudWatch itself (the index may still list one
    // deleted a moment ago), a call only when there are any.
    let undeclared: Vec<String> = owned
        .keys()
        .filter_map(|arn| arn.split(":alarm:").nth(1))
        .filter(|name| !names.iter().any(|n| n == name))
        .map(str::to_string)
        .collect();
    let mut out = by_name;
    out.extend(describe_named(clients, &undeclared).await?);
    // The tagging API is eventually consistent: an alarm it did not list (just created, or its
    // answer lagging) is asked about with CloudWatch's own read, never taken for someone else's.
    let mut unlisted = Vec::new();
    for o in &mut out {
        match owned.get(&o.id).filter(|_| index.trusted()) {
            Some(tags) => o.tags = tags.clone(),
            None => unlisted.push(o.id.clone()),
        }
    }
    let read = super::kit::tags_of(unlisted, |arn| async move {
        let tags = clients
            .cloudwatch
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading the tags of alarm {arn}: {}", describe(&e)))?;
        Ok(tags
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
            .collect())
    })
    .await?;
    for (arn, tags) in read {
        if let Some(o) = out.iter_mut().find(|o| o.id == arn) {
            o.tags = tags;
        }
    }
    Ok(out)
}

/// The metric alarms of these names that exist (`DescribeAlarms`, 100 names a call), tags empty.
async fn describe_named(clients: &Clients, names: &[String]) -> Result<Vec<Observed<AlarmFields>>> {
    let by_name = concurrent(names.chunks(100), CONCURRENCY, |chunk| async move {
        clients
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .alarm_types(AlarmType::MetricAlarm)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("describing CloudWatch alarms: {}", describe(&e)))
    })
    .await;
    let mut out = Vec::new();
    for page in by_name {
        for a in page?.metric_alarms() {
            let (Some(name), Some(arn)) = (a.alarm_name(), a.alarm_arn()) else { continue };
            let fields = AlarmFields {
                description: a.alarm_description().map(str::to_string),
                namespace: a.namespace().unwrap_or_default().to_string(),
                metric: a.metric_name().unwrap_or_default().to_string(),
                statistic: a
                    .statistic()
                    .map(|s| s.as_str().to_string())
                    .or_else(|| a.extended_statistic().map(str::to_string))
                    .unwrap_or_default(),
                period_seconds: a.period().unwrap_or_default(),
                evaluation_periods: a.evaluation_periods().unwrap_or_default(),
                threshold: a.threshold().unwrap_or_default(),
                comparison: a.comparison_operator().map(|c| c.as_str().to_string()).unwrap_or_default(),
                dimensions: a
                    .dimensions()
                    .iter()
                    .map(|d| dimension(d.name().unwrap_or(""), d.value().unwrap_or("")))
                    .collect(),
                treat_missing_data: a.treat_missing_data().unwrap_or("missing").to_string(),
                alarm_actions: a.alarm_actions().iter().cloned().collect(),
                ok_actions: a.ok_actions().iter().cloned().collect(),
            };
            out.push(Observed { name: name.to_string(), id: arn.to_string(), tags: Tags::new(), fields });
        }
    }
    Ok(out)
}

fn dimension(name: &str, value: &str) -> String {
    format!("{name}={value}")
}

/// A resource's value in CloudWatch's dimensions, from its id: a load balancer's ARN suffix
/// `app/NAME/ID`, a target group's `targetgroup/NAME/ID` (AWS, "CloudWatch metrics for your
/// Application Load Balancer", dimensions), a NAT gateway's id.
pub fn cloudwatch_id(id: &str) -> String {
    if let Some((_, suffix)) = id.split_once(":loadbalancer/") {
        return suffix.to_string();
    }
    match id.find(":targetgroup/") {
        Some(at) => id[at + 1..].to_string(),
        None => id.to_string(),
    }
}

/// The alarm's dimensions as CloudWatch has them; a resource named by id that does not exist
/// yet, or that this plan replaces, as `(id of ADDRESS)` (the alarm then follows it).
pub fn dimensions(d: &compute::Alarm, ids: &Ids, renewed: impl Fn(&Address) -> bool) -> BTreeMap<String, String> {
    d.dimensions
        .iter()
        .map(|(k, v)| {
            let value = match d.dimension_ids.get(k) {
                None => v.clone(),
                Some(a) if renewed(a) => format!("(id of {a})"),
                Some(a) => ids.get(a).map(|id| cloudwatch_id(&id)).unwrap_or_else(|_| format!("(id of {a})")),
            };
            (k.clone(), value)
        })
        .collect()
}

/// `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount` are statistics; `p95`, `p99.9` are
/// extended (percentile) ones, which PutMetricAlarm takes in another parameter.
fn is_percentile(statistic: &str) -> bool {
    statistic.starts_with('p')
}

/// The contract for `alarm.NAME`.
#[derive(Debug, Clone)]
pub struct Alarm;

const DESCRIPTION: Path = Path::field("description");
const NAMESPACE: Path = Path::field("namespace");
const METRIC: Path = Path::field("metric");
const STATISTIC: Path = Path::field("statistic");
const PERIOD: Path = Path::field("period_seconds");
const EVALUATION_PERIODS: Path = Path::field("evaluation_periods");
const THRESHOLD: Path = Path::field("threshold");
const COMPARISON: Path = Path::field("comparison");
const DIMENSIONS: Path = Path::field("dimensions");
const TREAT_MISSING_DATA: Path = Path::field("treat_missing_data");
const ALARM_ACTIONS: Path = Path::field("alarm_actions");
const OK_ACTIONS: Path = Path::field("ok_actions");

impl Resource for Alarm {
    const KIND: Kind = Kind::Alarm;
    const GROUP: Group = Group::Alarms;
    const FIELDS: &'static [Path] = &[
        DESCRIPTION,
        NAMESPACE,
        METRIC,
        STATISTIC,
        PERIOD,
        EVALUATION_PERIODS,
        THRESHOLD,
        COMPARISON,
        DIMENSIONS,
        TREAT_MISSING_DATA,
        ALARM_ACTIONS,
        OK_ACTIONS,
        TAGS,
    ];
    type Desired = compute::Alarm;
    type Observed = Observed<AlarmFields>;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::Alarm)
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<compute::Alarm> {
        cx.desired.alarms.clone()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<AlarmFields>> {
        cx.observed.alarms.clone()
    }

    fn name(d: &compute::Alarm) -> &str {
        &d.name
    }

    fn fields(cx: &DiffCx<'_>, d: &compute::Alarm, o: Option<&Observed<AlarmFields>>, tags: &Tags) -> FieldDiff {
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        f.field(DESCRIPTION, of.map(|o| o.description.clone()), d.description.clone());
        f.field(NAMESPACE, of.map(|o| Some(o.namespace.clone())), Some(d.namespace.clone()));
        f.field(METRIC, of.map(|o| Some(o.metric.clone())), Some(d.metric.clone()));
        f.field(STATISTIC, of.map(|o| Some(o.statistic.clone())), Some(d.statistic.clone()));
        f.field(PERIOD, of.map(|o| Some(o.period_seconds)), Some(d.period_seconds));
        f.field(EVALUATION_PERIODS, of.map(|o| Some(o.evaluation_periods)), Some(d.evaluation_periods));
        f.field(THRESHOLD, of.map(|o| Some(o.threshold)), Some(d.threshold));
        f.field(COMPARISON, of.map(|o| Some(o.comparison.clone())), Some(d.comparison.clone()));
        let renewed = |a: &Address| super::kit::renewed(cx.plan, a.kind).contains(&a.name);
        let dims: BTreeSet<String> = dimensions(d, cx.ids, renewed).iter().map(|(k, v)| dimension(k, v)).collect();
        f.members(DIMENSIONS, of.map(|o| &o.dimensions), &dims);
        f.field(TREAT_MISSING_DATA, of.map(|o| Some(o.treat_missing_data.clone())), Some(d.treat_missing_data.clone()));
        // Topics by address (one of this stack's) or ARN (anyone else's).
        let topics = cx.ids.names(Kind::SnsTopic);
        let named = |arns: &BTreeSet<String>| -> BTreeSet<String> {
            arns.iter().map(|a| topics.get(a).map(|n| format!("sns_topic.{n}")).unwrap_or_else(|| a.clone())).collect()
        };
        let notify: BTreeSet<String> = d.notify.iter().map(|t| format!("sns_topic.{t}")).collect();
        f.members(ALARM_ACTIONS, of.map(|o| named(&o.alarm_actions)).as_ref(), &notify);
        f.members(OK_ACTIONS, of.map(|o| named(&o.ok_actions)).as_ref(), &notify);
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn depends_on(_: &DiffCx<'_>, d: &compute::Alarm) -> Vec<Address> {
        d.refers_to.clone()
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_cloudwatch(&clients.cloudwatch, address, id, have, want).await
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &compute::Alarm,
        _: Option<&Observed<AlarmFields>>,
    ) -> Result<String> {
        // Tags given to PutMetricAlarm apply only when it creates the alarm.
        put(cx, address, d, Some(tags::cloudwatch(&cx.tags(address)))).await?;
        Ok(format!("arn:aws:cloudwatch:{}:{}:alarm:{}", cx.ctx.region, cx.ctx.account, d.name))
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &compute::Alarm,
        _: &Observed<AlarmFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        // PutMetricAlarm replaces the whole definition: one call whatever changed.
        delta.all();
        put(cx, address, d, None).await?;
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<AlarmFields>) -> Result<()> {
        cx.clients
            .cloudwatch
            .delete_alarms()
            .alarm_names(&o.name)
            .send()
            .await
            .map_err(|e| failed("deleting", address, &e))?;
        Ok(())
    }
}

async fn put(
    cx: &ApplyCx<'_>,
    address: &Address,
    d: &compute::Alarm,
    tags: Option<Vec<aws_sdk_cloudwatch::types::Tag>>,
) -> Result<()> {
    let mut resolved = d.dimensions.clone();
    for (k, a) in &d.dimension_ids {
        resolved.insert(k.clone(), cloudwatch_id(&cx.ids.get(a)?));
    }
    let dimensions: Vec<Dimension> =
        resolved.iter().map(|(k, v)| Dimension::builder().name(k).value(v).build()).collect();
    let (statistic, extended) = if is_percentile(&d.statistic) {
        (None, Some(d.statistic.clone()))
    } else {
        (Some(Statistic::from(d.statistic.as_str())), None)
    };
    let topics = match &d.notify {
        Some(topic) => vec![cx.ids.get(&Address::new(Kind::SnsTopic, topic))?],
        None => Vec::new(),
    };
    cx.clients
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&d.name)
        .set_alarm_description(d.description.clone())
        .namespace(&d.namespace)
        .metric_name(&d.metric)
        .set_statistic(statistic)
        .set_extended_statistic(extended)
        .period(d.period_seconds)
        .evaluation_periods(d.evaluation_periods)
        .threshold(d.threshold)
        .comparison_operator(ComparisonOperator::from(d.comparison.as_str()))
        .set_dimensions(Some(dimensions))
        .treat_missing_data(&d.treat_missing_data)
        .set_alarm_actions(Some(topics.clone()))
        .set_ok_actions(Some(topics))
        .set_tags(tags)
        .send()
        .await
        .map_err(|e| failed("writing", address, &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(dims: &[(&str, &str)], by_id: &[(&str, Address)]) -> compute::Alarm {
        compute::Alarm {
            name: "a".into(),
            description: None,
            namespace: "AWS/ApplicationELB".into(),
            metric: "TargetResponseTime".into(),
            statistic: "p95".into(),
            period_seconds: 60,
            evaluation_periods: 1,
            threshold: 0.5,
            comparison: "GreaterThanThreshold".into(),
            dimensions: dims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            dimension_ids: by_id.iter().map(|(k, a)| (k.to_string(), a.clone())).collect(),
            treat_missing_data: "missing".into(),
            refers_to: Vec::new(),
            notify: None,
        }
    }

    #[test]
    fn every_placeholder_resolves_to_the_id_cloudwatch_names_its_resource_by() {
        let (lb, tg, nat) = (
            Address::new(Kind::LoadBalancer, "alb"),
            Address::new(Kind::TargetGroup, "api-tg"),
            Address::new(Kind::NatGateway, "public-a"),
        );
        let ids = Ids::from_map(BTreeMap::from([
            (lb.clone(), "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/alb/50dc6c495c0c9188".to_string()),
            (tg.clone(), "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/api-tg/73e2d6bc24d8a067".to_string()),
            (nat.clone(), "nat-0a1b2c3d4e5f60718".to_string()),
        ]));
        let a = alarm(
            &[
                ("LoadBalancer", "${load_balancer}"),
                ("TargetGroup", "${target_group:api-tg}"),
                ("NatGatewayId", "${nat_gateway:public-a}"),
                ("ClusterName", "containrlab-cluster"),
            ],
            &[("LoadBalancer", lb.clone()), ("TargetGroup", tg.clone()), ("NatGatewayId", nat)],
        );
        let resolved = dimensions(&a, &ids, |_| false);
        assert_eq!(resolved["LoadBalancer"], "app/alb/50dc6c495c0c9188");
        assert_eq!(resolved["TargetGroup"], "targetgroup/api-tg/73e2d6bc24d8a067");
        assert_eq!(resolved["NatGatewayId"], "nat-0a1b2c3d4e5f60718");
        assert_eq!(resolved["ClusterName"], "containrlab-cluster", "names stay names");
        // A load balancer this plan replaces: the alarm must follow it, so its value is not the old id.
        let replaced = dimensions(&a, &ids, |x| *x == lb);
        assert_eq!(replaced["LoadBalancer"], "(id of load_balancer.alb)");
        let unknown = dimensions(&a, &Ids::from_map(BTreeMap::new()), |_| false);
        assert_eq!(unknown["TargetGroup"], "(id of target_group.api-tg)");
        assert!(is_percentile("p95") && is_percentile("p99.9") && !is_percentile("Average"));
    }
}
