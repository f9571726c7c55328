//! Carrying a deploy out, and rolling back: register where the plan says so, move each service
//! to its revision, wait until it is stable on it (the same wait as `up`: circuit breaker,
//! events, stopped tasks' reasons), services concurrently.
//!
//! Invariants: a service whose revision stays is not touched (no call at all); UpdateService
//! sends only the task definition (count, network and load balancers are `up`'s); a rollback
//! only moves to a revision that exists and is ACTIVE.

use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use aws_sdk_ecs::types::{SortOrder, TaskDefinitionStatus};

use super::{Move, Rollout};
use crate::aws::{describe, Clients};
use crate::model::compute::Service;
use crate::model::tags::{desired_tags, Tags};
use crate::model::{Address, Kind};
use crate::reconcile::ecs;

/// What became of one service.
#[derive(Debug)]
pub struct Done {
    pub service: String,
    /// `family:revision` it runs at the end (when it got there).
    pub to: Option<String>,
    pub changed: bool,
    pub error: Option<String>,
    pub seconds: f64,
}

/// Carries the rollouts out, concurrently; every service is reported, failed or not.
pub async fn apply(clients: &Clients, stack: &str, stack_tags: &Tags, rollouts: &[Rollout]) -> Vec<Done> {
    let each = rollouts.iter().map(|r| async move {
        let started = Instant::now();
        let result = one(clients, stack, stack_tags, r).await;
        let changed = !matches!(r.change, Move::Stays(_));
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(to) => {
                if changed {
                    eprintln!("  ✓ {}: on {to}, stable ({seconds:.1}s)", r.service);
                }
                Done { service: r.service.clone(), to: Some(to), changed, error: None, seconds }
            }
            Err(e) => {
                eprintln!("  ✗ {}: {e:#}", r.service);
                Done { service: r.service.clone(), to: None, changed, error: Some(format!("{e:#}")), seconds }
            }
        }
    });
    futures::future::join_all(each).await
}

/// One service: the revision it ends on.
async fn one(clients: &Clients, stack: &str, stack_tags: &Tags, r: &Rollout) -> Result<String> {
    let (label, arn) = match &r.change {
        Move::Stays(label) => return Ok(label.clone()),
        Move::To(label, arn) => (label.clone(), arn.clone()),
        Move::Register(definition) => {
            let address = Address::new(Kind::TaskDefinition, &r.family);
            let tags = desired_tags(stack, stack_tags, &address);
            let (arn, revision) = ecs::register(&clients.ecs, definition, &tags, &address).await?;
            eprintln!("  + {}: registered {}:{revision}", r.service, r.family);
            (format!("{}:{revision}", r.family), arn)
        }
    };
    clients
        .ecs
        .update_service()
        .cluster(&r.cluster)
        .service(&r.service)
        .task_definition(&arn)
        .send()
        .await
        .map_err(|e| anyhow!("updating service {} to {label}: {}", r.service, describe(&e)))?;
    eprintln!("  ~ {}: {} → {label}, waiting until it is stable", r.service, r.from);
    let address = Address::new(Kind::EcsService, &r.service);
    ecs::wait_stable(&clients.ecs, &address, &r.cluster, &r.service, &arn).await?;
    Ok(label)
}

/// Rollback: each service back to the newest ACTIVE revision of its family older than the one
/// it runs, or to `to_revision` (one service only).
pub async fn back(clients: &Clients, services: &[&Service], to_revision: Option<i32>) -> Result<Vec<Rollout>> {
    if to_revision.is_some() && services.len() != 1 {
        bail!("--to-revision names a revision of one family: select exactly one service with --service");
    }
    let running = super::running(clients, services).await?;
    let mut out = Vec::new();
    for (s, (service, td)) in services.iter().zip(&running) {
        let family = &s.task_definition.family;
        let current = td.fields.revision;
        let active = active_revisions(clients, family).await?;
        let target = match to_revision {
            Some(n) => active
                .iter()
                .find(|(r, _)| *r == n)
                .cloned()
                .ok_or_else(|| anyhow!("{family}:{n} is not an ACTIVE revision (ACTIVE: {})", list(&active)))?,
            None => active.iter().filter(|(r, _)| *r < current).max_by_key(|(r, _)| *r).cloned().ok_or_else(|| {
                anyhow!("{}: no ACTIVE revision of {family} older than {current} to roll back to", s.name)
            })?,
        };
        let label = format!("{family}:{}", target.0);
        let change = if target.0 == current { Move::Stays(label) } else { Move::To(label, target.1) };
        out.push(Rollout {
            service: service.name.clone(),
            cluster: s.cluster.clone(),
            family: family.clone(),
            from: format!("{family}:{current}"),
            images: Vec::new(),
            change,
        });
    }
    Ok(out)
}

/// `(revision, ARN)` of the family's ACTIVE revisions (exactly this family, not its prefix).
async fn active_revisions(clients: &Clients, family: &str) -> Result<Vec<(i32, String)>> {
    let arns: Vec<String> = clients
        .ecs
        .list_task_definitions()
        .family_prefix(family)
        .status(TaskDefinitionStatus::Active)
        .sort(SortOrder::Desc)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| anyhow!("listing revisions of {family}: {}", describe(&e)))?;
    Ok(arns
        .into_iter()
        .filter_map(|arn| {
            let (f, r) = arn.split(":task-definition/").nth(1)?.rsplit_once(':')?;
            (f == family).then(|| r.parse().ok().map(|r| (r, arn.clone())))?
        })
        .collect())
}

fn list(active: &[(i32, String)]) -> String {
    if active.is_empty() {
        return "none".into();
    }
    active.iter().map(|(r, _)| r.to_string()).collect::<Vec<_>>().join(", ")
}
