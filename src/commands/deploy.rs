//! `deploy`: roll an image tag onto the running services (or roll them back), ECR and ECS only —
//! what CI runs on every merge with the stack's deploy role.
//!
//! The plan (per service: the revision it runs, where it goes, each image's tag, digest and
//! architecture) goes to stdout (human) or into the one JSON document; progress to stderr.
//! No confirmation is asked: the command changes only which revision runs, and the operator
//! named it. Exit 0 when every service ends stable on its revision, 1 otherwise, 130 interrupted.

use std::time::Instant;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use super::apply::{execute, Round};
use crate::apply::OnFailure;
use crate::cli::{Cli, DeployArgs};
use crate::interrupt::unless_stopped;
use crate::model::{Address, Kind};
use crate::ops::deploy::{self, Move, Planned, Rollout};
use crate::plan::build::Mode;

/// Services and task definitions a deploy changes at once: every one of them. The services are
/// independent: one that fails stops no other (`OnFailure::StopDependents`).
const PARALLELISM: usize = 8;

pub async fn run(cli: &Cli, args: &DeployArgs) -> Result<i32> {
    let back = args.rollback || args.to_revision.is_some();
    if !back && cli.image_tag.is_none() {
        bail!(
            "deploy needs --image-tag TAG (or CONTAINRLAB_IMAGE_TAG): the tag to roll out; nothing was read or changed"
        );
    }
    let planner = super::Planner::new(cli, Mode::Converge, false).await?;
    let services = deploy::select(&planner.desired.services, &args.services)?;
    let account = planner.identity().await?.account.clone();
    let ctx = planner.context();
    let planning = async {
        if back {
            deploy::back(&planner.clients, &services, args.to_revision).await
        } else {
            deploy::plan(&planner.clients, &ctx, &planner.desired, &services).await
        }
    };
    let Planned { observed, plan, rollouts } = unless_stopped("while planning; nothing was changed", planning).await?;
    let what = match &cli.image_tag {
        Some(tag) if !back => format!("Deploy {tag}"),
        _ => "Roll back".to_string(),
    };
    if !cli.json {
        print!("{}", render(&what, &planner.desired.stack, &account, planner.region(), &rollouts));
    }
    let shown: Vec<Value> = rollouts.iter().map(rollout_json).collect();
    if let Some(e) = super::conflicts_error(&plan) {
        return Err(e);
    }
    if args.dry_run {
        if cli.json {
            println!("{}", json!({ "deploy": shown, "applied": false }));
        }
        return Ok(0);
    }
    if plan.is_empty() {
        if cli.json {
            let results: Vec<Value> = rollouts
                .iter()
                .map(|r| json!({ "service": r.service, "to": r.from, "changed": false, "error": null, "seconds": 0.0 }))
                .collect();
            println!(
                "{}",
                json!({ "deploy": shown, "applied": true, "results": results, "changed": 0, "seconds": 0.0, "converged": true })
            );
        }
        eprintln!("0 service(s) moved, {} unchanged, 0 failed in 0.0s", rollouts.len());
        return Ok(0);
    }
    crate::interrupt::changing();
    let started = Instant::now();
    let stopped = "while deploying: ECS goes on with any rollout it started; `containrlab deploy` again shows where each service is";
    let round = unless_stopped(
        stopped,
        execute(&planner.clients, &ctx, &observed, &plan, PARALLELISM, OnFailure::StopDependents),
    )
    .await?;
    if round.outcome.interrupted {
        return Err(crate::interrupt::Interrupted::new(stopped).into());
    }
    let seconds = started.elapsed().as_secs_f64();
    let done: Vec<Done> = rollouts.iter().map(|r| result(r, &round)).collect();
    let failed: Vec<&Done> = done.iter().filter(|d| d.error.is_some()).collect();
    let changed = done.iter().filter(|d| d.changed && d.error.is_none()).count();
    if cli.json {
        let results: Vec<Value> = done
            .iter()
            .map(|d| json!({ "service": d.service, "to": d.to, "changed": d.changed, "error": d.error, "seconds": d.seconds }))
            .collect();
        let converged = failed.is_empty();
        println!(
            "{}",
            json!({ "deploy": shown, "applied": true, "results": results, "changed": changed, "seconds": seconds, "converged": converged })
        );
    }
    let unchanged = done.len() - changed - failed.len();
    eprintln!("{changed} service(s) moved, {unchanged} unchanged, {} failed in {seconds:.1}s", failed.len());
    if !failed.is_empty() {
        let list: Vec<String> = failed.iter().map(|d| d.service.clone()).collect();
        bail!("{} service(s) did not end stable on their revision: {}", failed.len(), list.join(", "));
    }
    Ok(0)
}

/// What became of one service.
struct Done {
    service: String,
    /// `family:revision` it runs at the end (when it got there).
    to: Option<String>,
    changed: bool,
    error: Option<String>,
    seconds: f64,
}

/// A service's end, from the round's outcome: its step and its family's registration.
fn result(r: &Rollout, round: &Round) -> Done {
    let index = |address: &Address| round.steps.iter().position(|s| s.address == *address);
    let family = Address::new(Kind::TaskDefinition, &r.family);
    let (service, registration) = (index(&r.address()), index(&family).filter(|_| r.change == Move::Register));
    let seconds = [service, registration]
        .into_iter()
        .flatten()
        .filter_map(|i| round.outcome.took.get(&i))
        .map(|d| d.as_secs_f64())
        .sum();
    let error_of = |i: usize| round.outcome.failed.iter().find(|(f, _)| *f == i).map(|(_, e)| format!("{e:#}"));
    let Some(service) = service else {
        return Done { service: r.service.clone(), to: Some(r.from.clone()), changed: false, error: None, seconds };
    };
    let error = error_of(service).or_else(|| {
        let failed = registration.and_then(error_of)?;
        Some(format!("not moved: registering {} failed: {failed}", r.family))
    });
    let error = error.or_else(|| (!round.outcome.done.contains(&service)).then(|| "not started".to_string()));
    let to = match &r.change {
        Move::Register => round.ids.get(&family).ok().map(|arn| arn.rsplit('/').next().unwrap_or(&arn).to_string()),
        _ => Some(r.to()),
    };
    Done { service: r.service.clone(), to: to.filter(|_| error.is_none()), changed: true, error, seconds }
}

fn render(what: &str, stack: &str, account: &str, region: &str, rollouts: &[Rollout]) -> String {
    let mut out = format!("{what} in stack {stack} (account {account}, {region}):\n");
    for r in rollouts {
        match &r.change {
            Move::Stays => out.push_str(&format!("  = {}: stays on {}\n", r.service, r.from)),
            _ => out.push_str(&format!("  ~ {}: {} → {}\n", r.service, r.from, r.to())),
        }
        for c in &r.images {
            let i = &c.image;
            out.push_str(&format!(
                "      {}: {}:{} = {} ({})\n",
                c.container,
                i.repository,
                i.tag,
                i.digest,
                i.architectures.join(", ")
            ));
        }
    }
    out
}

fn rollout_json(r: &Rollout) -> Value {
    let images: Vec<Value> = r
        .images
        .iter()
        .map(|c| {
            let i = &c.image;
            json!({ "container": c.container, "repository": i.repository, "tag": i.tag, "digest": i.digest, "architectures": i.architectures })
        })
        .collect();
    let action = match r.change {
        Move::Stays => "none",
        Move::To(_) => "switch",
        Move::Register => "register",
    };
    json!({ "service": r.service, "cluster": r.cluster, "from": r.from, "to": r.to(), "action": action, "images": images })
}
