//! `sns_topic.NAME`: the SNS topic the alarms notify, with its email subscriptions (a field of the
//! topic: subscriptions cannot be tagged, so the stack owns the ones its topic declares).
//!
//! Observe: the declared topic by its ARN (account and region are known: no listing), with
//! `ListSubscriptionsByTopic` — a topic that does not exist answers NotFound — and the owned
//! topics the file no longer declares from the tag index. Tags from the index when it lists the
//! topic and may be trusted, else `ListTagsForResource`.
//!
//! Invariants: an email subscription stays pending until its recipient confirms it, and a pending
//! subscription has no ARN to unsubscribe with: a declared address that is pending counts as
//! subscribed (subscribing again would only send another confirmation mail), and an undeclared
//! pending one is left to expire (it receives nothing). The topic is not encrypted: CloudWatch
//! alarms cannot publish to a topic under the `aws/sns` key, and a customer key is a cost and a
//! key policy the stack does not have (README).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use aws_sdk_sns::Client;

use super::contract::{ApplyCx, DiffCx, Resource};
use super::tag_index::TagIndex;
use super::tags;
use super::Group;
use crate::aws::error::{failed, required};
use crate::aws::{describe, Clients};
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::desired::Desired;
use crate::model::desired::Topic;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::plan::build::ObservedResource;

/// A topic's email subscriptions: address → subscription ARN (`None` while it is pending).
pub type Subscriptions = BTreeMap<String, Option<String>>;

/// What `ListSubscriptionsByTopic` says of a subscription that awaits its confirmation.
const PENDING: &str = "PendingConfirmation";

#[derive(Debug, Clone)]
pub struct ObservedTopic {
    pub name: String,
    pub arn: String,
    pub tags: Tags,
    pub emails: Subscriptions,
}

impl ObservedResource for ObservedTopic {
    fn name(&self) -> &str {
        &self.name
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
}

/// The ARN SNS gives a topic of this name in the caller's account and region.
async fn topic_arn(clients: &Clients, name: &str) -> Result<String> {
    let identity = clients.identity().await?;
    Ok(format!("arn:{}:sns:{}:{}:{name}", identity.partition(), clients.origin.region, identity.account))
}

/// The email subscriptions of the topic of this name (`None`: no such topic), for `status`.
pub async fn subscriptions_of(clients: &Clients, name: &str) -> Result<Option<Subscriptions>> {
    subscriptions(&clients.sns, &topic_arn(clients, name).await?).await
}

pub async fn observe(clients: &Clients, index: &TagIndex<'_>, desired: Option<&Topic>) -> Result<Vec<ObservedTopic>> {
    let declared = match desired {
        Some(t) => Some(topic_arn(clients, &t.name).await?),
        None => None,
    };
    let owned: BTreeMap<String, Tags> =
        index.matching(&format!(":sns:{}:", clients.origin.region)).await?.into_iter().collect();
    let arns: BTreeSet<String> = declared.into_iter().chain(owned.keys().cloned()).collect();
    let read = futures::future::try_join_all(arns.iter().map(|arn| async {
        let Some(emails) = subscriptions(&clients.sns, arn).await? else { return Ok(None) };
        let tags = match owned.get(arn).filter(|_| index.trusted()) {
            Some(tags) => tags.clone(),
            None => topic_tags(&clients.sns, arn).await?,
        };
        let name = arn.rsplit(':').next().unwrap_or_default().to_string();
        Ok::<_, anyhow::Error>(Some(ObservedTopic { name, arn: arn.clone(), tags, emails }))
    }))
    .await?;
    Ok(read.into_iter().flatten().collect())
}

/// The topic's email subscriptions, or `None` when the topic does not exist.
async fn subscriptions(sns: &Client, arn: &str) -> Result<Option<Subscriptions>> {
    let pages = sns.list_subscriptions_by_topic().topic_arn(arn).into_paginator().items().send();
    let listed: Result<Vec<_>, _> = pages.collect().await;
    let listed = match listed {
        Ok(listed) => listed,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found_exception()) => return Ok(None),
        Err(e) => return Err(anyhow::anyhow!("listing the subscriptions of SNS topic {arn}: {}", describe(&e))),
    };
    let emails = listed
        .iter()
        .filter(|s| s.protocol() == Some("email"))
        .filter_map(|s| {
            let arn = s.subscription_arn().filter(|a| *a != PENDING).map(str::to_string);
            Some((s.endpoint()?.to_string(), arn))
        })
        .collect();
    Ok(Some(emails))
}

async fn topic_tags(sns: &Client, arn: &str) -> Result<Tags> {
    let out = sns
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading the tags of SNS topic {arn}: {}", describe(&e)))?;
    Ok(out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
}

/// The contract for `sns_topic.NAME`.
#[derive(Debug, Clone)]
pub struct SnsTopic;

const EMAILS: Path = Path::field("emails");

impl Resource for SnsTopic {
    const KIND: Kind = Kind::SnsTopic;
    const GROUP: Group = Group::Topics;
    const FIELDS: &'static [Path] = &[EMAILS, TAGS];
    type Desired = Topic;
    type Observed = ObservedTopic;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<Topic> {
        cx.desired.notifications.iter().cloned().collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<ObservedTopic> {
        cx.observed.topics.clone()
    }

    fn name(d: &Topic) -> &str {
        &d.name
    }

    fn fields(_: &DiffCx<'_>, d: &Topic, o: Option<&ObservedTopic>, tags: &Tags) -> FieldDiff {
        let mut f = FieldDiff::default();
        f.members(EMAILS, o.map(|o| shown_emails(o, d)).as_ref(), &d.emails);
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.arn
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_sns(&clients.sns, address, id, have, want).await
    }

    async fn create(cx: &ApplyCx<'_>, address: &Address, d: &Topic, _: Option<&ObservedTopic>) -> Result<String> {
        let sns = &cx.clients.sns;
        // CreateTopic answers a repeat of the same name and tags with the same topic.
        let out = sns
            .create_topic()
            .name(&d.name)
            .set_tags(Some(tags::sns(&cx.tags(address))))
            .send()
            .await
            .map_err(|e| failed("creating", address, &e))?;
        let arn = required(out.topic_arn(), "creating", address, "TopicArn")?.to_string();
        for email in &d.emails {
            subscribe(sns, address, &arn, email).await?;
        }
        Ok(arn)
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Topic,
        o: &ObservedTopic,
        delta: &Delta<'_>,
    ) -> Result<()> {
        let sns = &cx.clients.sns;
        if delta.has(EMAILS) {
            for email in d.emails.iter().filter(|e| !o.emails.contains_key(*e)) {
                subscribe(sns, address, &o.arn, email).await?;
            }
            let removed = o.emails.iter().filter(|(e, _)| !d.emails.contains(*e));
            for arn in removed.filter_map(|(_, arn)| arn.as_ref()) {
                sns.unsubscribe()
                    .subscription_arn(arn)
                    .send()
                    .await
                    .map_err(|e| failed("unsubscribing an address of", address, &e))?;
            }
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &ObservedTopic) -> Result<()> {
        // Its subscriptions go with it.
        cx.clients.sns.delete_topic().topic_arn(&o.arn).send().await.map_err(|e| failed("deleting", address, &e))?;
        Ok(())
    }
}

/// The addresses the plan compares: the confirmed ones, and the pending ones the file declares
/// (an undeclared pending subscription cannot be removed and expires by itself).
fn shown_emails(o: &ObservedTopic, d: &Topic) -> BTreeSet<String> {
    o.emails.iter().filter(|(e, arn)| arn.is_some() || d.emails.contains(*e)).map(|(e, _)| e.clone()).collect()
}

async fn subscribe(sns: &Client, address: &Address, arn: &str, email: &str) -> Result<()> {
    sns.subscribe()
        .topic_arn(arn)
        .protocol("email")
        .endpoint(email)
        .send()
        .await
        .map_err(|e| failed("subscribing an address to", address, &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_address_counts_as_subscribed_when_declared_and_is_left_to_expire_when_not() {
        let topic = |emails: &[(&str, Option<&str>)]| ObservedTopic {
            name: "t".into(),
            arn: "arn:aws:sns:us-east-1:1:t".into(),
            tags: Tags::new(),
            emails: emails.iter().map(|(e, a)| (e.to_string(), a.map(str::to_string))).collect(),
        };
        let desired = Topic { name: "t".into(), emails: ["a@x.io".to_string()].into() };
        // Declared and pending: no second Subscribe (it would only send another confirmation mail).
        let pending = topic(&[("a@x.io", None)]);
        assert_eq!(shown_emails(&pending, &desired), desired.emails);
        // Undeclared and pending: there is no ARN to unsubscribe; it is not planned.
        let stale = topic(&[("a@x.io", Some("arn:s1")), ("old@x.io", None)]);
        assert_eq!(shown_emails(&stale, &desired), desired.emails);
        // Undeclared and confirmed: shown, so `up` unsubscribes it.
        let confirmed = topic(&[("a@x.io", Some("arn:s1")), ("old@x.io", Some("arn:s2"))]);
        assert!(shown_emails(&confirmed, &desired).contains("old@x.io"));
    }
}
