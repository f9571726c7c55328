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

use crate::cli::{Cli, DeployArgs};
use crate::interrupt::unless_stopped;
use crate::ops::deploy::{self, rollout, Move, Rollout};
use crate::plan::build::Mode;

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
    let planning = async {
        match cli.image_tag.as_deref().filter(|_| !back) {
            Some(tag) => deploy::plan(&planner.clients, &account, planner.region(), tag, &services).await,
            None => rollout::back(&planner.clients, &services, args.to_revision).await,
        }
    };
    let rollouts = unless_stopped("while planning; nothing was changed", planning).await?;
    let what = match (&cli.image_tag, back) {
        (_, true) => "Roll back".to_string(),
        (Some(tag), false) => format!("Deploy {tag}"),
        (None, false) => unreachable!("checked above"),
    };
    if !cli.json {
        print!("{}", render(&what, &planner.desired.stack, &account, planner.region(), &rollouts));
    }
    let plan: Vec<Value> = rollouts.iter().map(rollout_json).collect();
    if args.dry_run {
        if cli.json {
            println!("{}", json!({ "deploy": plan, "applied": false }));
        }
        return Ok(0);
    }
    crate::interrupt::changing();
    let started = Instant::now();
    let stopped = "while deploying: ECS goes on with any rollout it started; `containrlab deploy` again shows where each service is";
    let done = unless_stopped(stopped, async {
        Ok(rollout::apply(&planner.clients, &planner.desired.stack, &planner.desired.tags, &rollouts).await)
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let failed: Vec<&rollout::Done> = done.iter().filter(|d| d.error.is_some()).collect();
    let changed = done.iter().filter(|d| d.changed && d.error.is_none()).count();
    if cli.json {
        let results: Vec<Value> = done
            .iter()
            .map(|d| json!({ "service": d.service, "to": d.to, "changed": d.changed, "error": d.error, "seconds": d.seconds }))
            .collect();
        let converged = failed.is_empty();
        println!(
            "{}",
            json!({ "deploy": plan, "applied": true, "results": results, "changed": changed, "seconds": seconds, "converged": converged })
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

fn target_label(r: &Rollout) -> String {
    match &r.change {
        Move::Stays(label) => label.clone(),
        Move::To(label, _) => label.clone(),
        Move::Register(_) => format!("{}:(new revision)", r.family),
    }
}

fn render(what: &str, stack: &str, account: &str, region: &str, rollouts: &[Rollout]) -> String {
    let mut out = format!("{what} in stack {stack} (account {account}, {region}):\n");
    for r in rollouts {
        match &r.change {
            Move::Stays(label) => out.push_str(&format!("  = {}: stays on {label}\n", r.service)),
            _ => out.push_str(&format!("  ~ {}: {} → {}\n", r.service, r.from, target_label(r))),
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
        Move::Stays(_) => "none",
        Move::To(..) => "switch",
        Move::Register(_) => "register",
    };
    json!({ "service": r.service, "cluster": r.cluster, "from": r.from, "to": target_label(r), "action": action, "images": images })
}
