//! A family's revisions in ECS: describing them (the newest ACTIVE one, or one by ARN),
//! registering one (waiting out the roles ECS cannot use yet), then pruning ACTIVE ones beyond
//! `keep_revisions`, and deleting a family.
//!
//! Invariants: a revision a service runs is never deregistered; nothing is deregistered unless
//! the registration succeeded; the registration is sent once (`aws::once`: a lost answer is not
//! repeated, the next plan finds what it made).

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_ecs::types::{SortOrder, TaskDefinitionField, TaskDefinitionStatus};
use aws_sdk_ecs::Client;
use serde_json::Value;

use super::task_definition::DesiredRevision;
use crate::aws::error::{failed, required};
use crate::aws::{concurrent, describe};
use crate::model::consistency::Call;
use crate::model::Address;
use crate::reconcile::contract::ApplyCx;
use crate::reconcile::kit::{Observed, CONCURRENCY};
use crate::reconcile::tags;

#[derive(Debug, Clone)]
pub struct TaskDefinitionFields {
    pub revision: i32,
    /// As registered, in the file's JSON shape (not yet normalised).
    pub json: Value,
}

pub(super) async fn describe_families(ecs: &Client, families: &[&str]) -> Result<Vec<Observed<TaskDefinitionFields>>> {
    let found = concurrent(families.iter().copied(), CONCURRENCY, |f| describe_one(ecs, f)).await;
    Ok(found.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten().collect())
}

pub(super) async fn describe_arns(
    ecs: &Client,
    arns: &[String],
) -> Result<BTreeMap<String, Observed<TaskDefinitionFields>>> {
    let found = concurrent(arns.iter(), CONCURRENCY, |a| describe_one(ecs, a)).await;
    Ok(found.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten().map(|t| (t.id.clone(), t)).collect())
}

/// A family's newest ACTIVE revision, or one revision by ARN; `None` when there is none.
async fn describe_one(ecs: &Client, which: &str) -> Result<Option<Observed<TaskDefinitionFields>>> {
    let out =
        match ecs.describe_task_definition().task_definition(which).include(TaskDefinitionField::Tags).send().await {
            Ok(out) => out,
            // ECS answers ClientException "Unable to describe task definition" for an unknown family.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_client_exception()) => return Ok(None),
            Err(e) => anyhow::bail!("describing ECS task definition {which}: {}", describe(&e)),
        };
    let Some(td) = out.task_definition() else { return Ok(None) };
    // Asked by family, AWS returns the newest ACTIVE revision; a revision asked by ARN may be
    // INACTIVE and still be what a service runs.
    let by_family = !which.contains(':');
    if by_family && td.status() != Some(&TaskDefinitionStatus::Active) {
        return Ok(None);
    }
    Ok(Some(Observed {
        name: td.family().unwrap_or_default().to_string(),
        id: td.task_definition_arn().unwrap_or_default().to_string(),
        tags: tags::from_ecs(out.tags()),
        fields: TaskDefinitionFields { revision: td.revision(), json: super::taskdef_json::to_json(td) },
    }))
}

/// The ARNs of the family's ACTIVE revisions, newest first: exactly this family (ECS's
/// `familyPrefix` filter is not relied on to exclude longer names).
pub(super) async fn active(ecs: &Client, family: &str) -> Result<Vec<String>> {
    let arns: Vec<String> = ecs
        .list_task_definitions()
        .family_prefix(family)
        .status(TaskDefinitionStatus::Active)
        .sort(SortOrder::Desc)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| anyhow::anyhow!("listing the ACTIVE revisions of task definition {family}: {}", describe(&e)))?;
    Ok(arns.into_iter().filter(|arn| family_of(arn) == Some(family)).collect())
}

/// `…:task-definition/FAMILY:REVISION` → `FAMILY`.
pub(super) fn family_of(arn: &str) -> Option<&str> {
    Some(arn.split(":task-definition/").nth(1)?.rsplit_once(':')?.0)
}

/// Registers the revision, then (when `prune`) deregisters ACTIVE revisions beyond
/// `keep_revisions` (+ the newest), never one a service runs. Returns the new revision's ARN. The family's revisions are
/// listed while the new one registers (a service waiting on this step waits for one call less);
/// nothing is deregistered unless the registration succeeded.
pub(super) async fn register_and_prune(cx: &ApplyCx<'_>, address: &Address, d: &DesiredRevision) -> Result<String> {
    let ecs = &cx.clients.ecs;
    let listed = active(ecs, &d.family);
    let tags = cx.tags(address);
    if !d.prune {
        let (arn, revision) = register(ecs, &d.resolved, &tags, address).await?;
        crate::progress::note(format!("{address}: registered revision {revision}"));
        return Ok(arn);
    }
    let (registered, listed) = tokio::join!(register(ecs, &d.resolved, &tags, address), listed);
    let (arn, revision) = registered?;
    crate::progress::note(format!("{address}: registered revision {revision}"));
    // The listing may or may not show the new revision (it ran alongside): count it once.
    let mut active = listed?;
    active.retain(|a| *a != arn);
    // Newest first by revision number (the listing's order is not relied on).
    active.sort_by_key(|a| std::cmp::Reverse(a.rsplit(':').next().and_then(|r| r.parse::<i64>().ok())));
    let keep = d.keep_revisions as usize;
    for old in active.iter().skip(keep).filter(|a| !d.running.contains(a)) {
        ecs.deregister_task_definition()
            .task_definition(old)
            .send()
            .await
            .map_err(|e| failed("deregistering", address, &e))?;
        crate::progress::note(format!("{address}: deregistered {}", old.rsplit('/').next().unwrap_or(old)));
    }
    Ok(arn)
}

/// Registers a revision: `(ARN, revision)`. Roles created moments ago may not be usable by ECS
/// yet (the consistency rules `task-definition-role` and `task-definition-pass-role`).
pub(super) async fn register(
    ecs: &Client,
    td: &Value,
    tags: &crate::model::tags::Tags,
    address: &Address,
) -> Result<(String, i32)> {
    let request =
        super::taskdef_json::register_request(ecs.register_task_definition(), td)?.set_tags(Some(tags::ecs(tags)));
    let register = || async {
        crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ecs()).send())
            .await
            .map_err(|e| failed("registering", address, &e))
    };
    let out = crate::aws::consistency::retry(Call::EcsRegisterTaskDefinition, address, register).await?;
    let td = required(out.task_definition(), "registering", address, "taskDefinition")?;
    Ok((required(td.task_definition_arn(), "registering", address, "taskDefinitionArn")?.to_string(), td.revision()))
}

/// Deregisters a family's ACTIVE revisions, then deletes every revision this stack tagged.
pub(super) async fn delete_family(ecs: &Client, family: &str, owned: &[String]) -> Result<()> {
    let err = |what: &str, e: &(dyn std::error::Error + 'static)| {
        anyhow::anyhow!("{what} task definition {family}: {}", describe(e))
    };
    let active = active(ecs, family).await?;
    for arn in &active {
        ecs.deregister_task_definition().task_definition(arn).send().await.map_err(|e| err("deregistering", &e))?;
    }
    let mut all: Vec<String> = owned.iter().chain(&active).cloned().collect();
    all.sort();
    all.dedup();
    for chunk in all.chunks(10) {
        // Failures (a revision already deleted) are per item and not errors of the call.
        ecs.delete_task_definitions()
            .set_task_definitions(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| err("deleting", &e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;
    use aws_sdk_ecs::operation::register_task_definition::{RegisterTaskDefinitionError, RegisterTaskDefinitionOutput};
    use aws_sdk_ecs::types::error::ClientException;
    use aws_sdk_ecs::types::TaskDefinition;
    use aws_smithy_mocks::mock;
    use serde_json::json;

    fn ecs_with(rule: &aws_smithy_mocks::Rule) -> Client {
        crate::aws::canned::canned_client!(aws_sdk_ecs, &[rule])
    }

    /// moto accepts any role ARN at once, so IAM propagation is played with canned responses:
    /// "Role is not valid" twice, then the registration goes through.
    #[tokio::test(start_paused = true)]
    async fn a_role_not_yet_propagated_is_waited_for() {
        // As the SDK's deserializer makes it: the code and message in the error's metadata.
        let not_yet = || {
            let meta = aws_smithy_types::error::ErrorMetadata::builder()
                .code("ClientException")
                .message("Role is not valid")
                .build();
            RegisterTaskDefinitionError::ClientException(
                ClientException::builder().message("Role is not valid").meta(meta).build(),
            )
        };
        let registered = || {
            let td = TaskDefinition::builder().task_definition_arn("arn:aws:ecs:r:1:task-definition/app:4").revision(4);
            RegisterTaskDefinitionOutput::builder().task_definition(td.build()).build()
        };
        let rule =
            mock!(Client::register_task_definition).sequence().error(not_yet).times(2).output(registered).build();
        let ecs = ecs_with(&rule);
        let td = json!({"family": "app", "containerDefinitions": [{"name": "a", "image": "i", "memory": 64}]});
        let address = Address::new(Kind::TaskDefinition, "app");
        let got = register(&ecs, &td, &Default::default(), &address).await.expect("registered after the retries");
        assert_eq!(got, ("arn:aws:ecs:r:1:task-definition/app:4".to_string(), 4));
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn any_other_client_error_fails_at_once() {
        let invalid = || {
            RegisterTaskDefinitionError::ClientException(
                ClientException::builder()
                    .message("Invalid setting for container 'a'")
                    .meta(
                        aws_smithy_types::error::ErrorMetadata::builder()
                            .code("ClientException")
                            .message("Invalid setting for container 'a'")
                            .build(),
                    )
                    .build(),
            )
        };
        let rule = mock!(Client::register_task_definition).then_error(invalid);
        let ecs = ecs_with(&rule);
        let td = json!({"family": "app", "containerDefinitions": [{"name": "a", "image": "i"}]});
        let address = Address::new(Kind::TaskDefinition, "app");
        let err = register(&ecs, &td, &Default::default(), &address).await.expect_err("not retried");
        assert!(err.to_string().contains("Invalid setting for container"), "{err}");
        assert_eq!(rule.num_calls(), 1);
    }
}
