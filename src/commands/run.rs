//! `run SERVICE [--container C] [--revision N | --image-tag T] [--detach] -- COMMAND…`: a one-off
//! task of a service, its container's log lines while it runs, its exit code.
//!
//! The revision is the one the service runs, `--revision N` of its family, or with an image tag
//! the revision `deploy` would move the service to (the images checked and pinned by digest,
//! registered when new — the service itself is not moved: a migration runs before the deploy).
//! stdout carries the container's output (with `--json`: the one result document, the output
//! then on stderr); the command's own lines go to stderr. Exit: the container's exit code; 1 when
//! the task never ran the command (the cause and the fix printed), on a timeout and on errors;
//! 130 interrupted (the task goes on). Nothing is read or changed before the stack file, the
//! service and the container are known to be good.

use std::time::Instant;

use anyhow::{bail, Result};
use serde_json::json;

use super::apply::execute;
use crate::apply::OnFailure;
use crate::cli::{Cli, RunArgs};
use crate::interrupt::unless_stopped;
use crate::model::compute::Service;
use crate::model::tags::{owner, Owner};
use crate::model::{Address, Kind};
use crate::ops::deploy::{self, Move, Planned};
use crate::ops::run::{self, causes, Launch};
use crate::plan::build::Mode;
use crate::reconcile::ecs::rollout;

pub async fn run(cli: &Cli, args: &RunArgs) -> Result<i32> {
    if let (Some(n), Some(tag)) = (args.revision, &cli.image_tag) {
        bail!("--revision {n} and --image-tag {tag} name two revisions: give one (unset CONTAINRLAB_IMAGE_TAG for --revision); nothing was started");
    }
    let planner = super::Planner::new(cli, Mode::Converge, false).await?;
    let service = deploy::select(&planner.desired.services, std::slice::from_ref(&args.service))?[0];
    run::container(&service.task_definition.json, args.container.as_deref())?;
    let (definition, network) =
        unless_stopped("while choosing the revision; nothing was started", revision(&planner, service, args)).await?;
    let container = run::container(&definition.json, args.container.as_deref())
        .map_err(|e| anyhow::anyhow!("{}: {e}", definition.label))?;
    let launch = Launch {
        cluster: service.cluster.clone(),
        service: service.name.clone(),
        definition: definition.label.clone(),
        log: run::log_source(&definition.json, &container),
        container,
        command: args.command.clone(),
        network,
    };
    eprintln!(
        "run: {} of {} in {}, container {}: {} command word(s)",
        launch.definition,
        launch.service,
        launch.cluster,
        launch.container,
        launch.command.len()
    );
    let token = crate::aws::client_token(&[&planner.desired.stack, "run", &launch.service]);
    let started = Instant::now();
    let task = unless_stopped("before the task was started", run::start(&planner.clients, &launch, &token)).await?;
    let id = run::task_id(&task).to_string();
    eprintln!("run: started task {id}");
    if args.detach {
        if cli.json {
            println!(
                "{}",
                json!({ "task": id, "task_arn": task, "task_definition": launch.definition, "container": launch.container, "detached": true })
            );
        } else {
            println!("{id}");
        }
        return Ok(0);
    }
    let end = run::follow(&planner.clients, &launch, &task, args.timeout, !cli.json).await?;
    let seconds = started.elapsed().as_secs_f64();
    if cli.json {
        println!(
            "{}",
            json!({
                "task": id, "task_arn": task, "task_definition": launch.definition, "container": launch.container,
                "exit_code": end.exit_code, "started": end.started, "stop_code": end.stop_code,
                "stopped_reason": end.stopped_reason, "seconds": seconds,
            })
        );
    }
    match end.exit_code {
        Some(code) => {
            eprintln!("run: task {id} exited with {code} in {seconds:.1}s");
            Ok(code)
        }
        None => bail!("{}", causes::never_ran(&end, &launch.container)),
    }
}

/// The revision to run, with its definition, and the service's network as ECS runs it.
async fn revision(
    planner: &super::Planner,
    service: &Service,
    args: &RunArgs,
) -> Result<(rollout::Revision, crate::reconcile::ecs::service::ServiceFields)> {
    let clients = &planner.clients;
    let (ecs, label) = if planner.context().image_tag.is_some() {
        planner.identity().await?;
        let ctx = planner.context();
        let Planned { observed, mut plan, rollouts } =
            deploy::plan(clients, &ctx, &planner.desired, &[service]).await?;
        if let Some(e) = super::conflicts_error(&plan) {
            return Err(e);
        }
        let label = match &rollouts[0].change {
            Move::Stays => rollouts[0].from.clone(),
            Move::To(label) => label.clone(),
            Move::Register => {
                // Only the new revision: the service stays where it is (a migration runs before the deploy).
                plan.changes.retain(|c| c.address.kind == Kind::TaskDefinition);
                crate::interrupt::changing();
                let round = execute(clients, &ctx, &observed, &plan, 1, OnFailure::StopAll).await?;
                if let Some((_, e)) = round.outcome.failed.first() {
                    bail!("registering a revision of {} for the tag: {e:#}", service.task_definition.family);
                }
                let arn = round.ids.get(&Address::new(Kind::TaskDefinition, &service.task_definition.family))?;
                arn.rsplit('/').next().unwrap_or(&arn).to_string()
            }
        };
        (observed.ecs, label)
    } else {
        let ecs = rollout::observe(clients, &[service], None).await?;
        let label = match args.revision {
            Some(n) => format!("{}:{n}", service.task_definition.family),
            None => String::new(),
        };
        (ecs, label)
    };
    let Some(observed) = ecs.services.first() else { bail!("service {} not found", service.name) };
    if owner(&planner.desired.stack, &observed.tags) != Owner::ThisStack {
        bail!(
            "service {} in {} does not carry stack {}'s ownership tags: `run` starts tasks of this stack's services only (`containrlab adopt` takes it over)",
            service.name,
            service.cluster,
            planner.desired.stack
        );
    }
    let definition = match ecs.running_definition(observed).filter(|_| label.is_empty()) {
        Some(running) => rollout::Revision::of(running),
        None => rollout::describe_revision(clients, &label).await?,
    };
    Ok((definition, observed.fields.clone()))
}
