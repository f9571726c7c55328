//! One small file per command: load → observe → plan → render → (confirm → apply → verify).
//! This module holds what they share: logging, loading the stack, connecting, planning, printing.

mod adopt;
mod apply;
mod check;
mod completions;
mod cost;
mod deploy;
mod diff;
mod doctor;
mod exec;
mod graph;
mod logs;
mod outputs;
mod run;
mod secret;
mod status;
mod unlock;
mod validate;

use std::io::IsTerminal;

use anyhow::{Context, Result};

use crate::aws::{self, Clients};
use crate::cli::{Cli, Command};
use crate::config::{self, Stack};
use crate::model::desired::Desired;
use crate::ops::graph::Graph;
use crate::plan::build::{Mode, PlanContext};
use crate::plan::human::Style;
use crate::plan::target::{self, Targets};
use crate::reconcile::{self, Observed, Plan};

pub async fn run(cli: &Cli) -> Result<i32> {
    match &cli.command {
        Command::Validate => validate::run(cli),
        Command::Diff { exit_code, markdown, target } => diff::run(cli, *exit_code, *markdown, target).await,
        Command::Up(args) => apply::run(cli, args, Mode::Converge).await,
        Command::Down(args) => apply::run(cli, args, Mode::Down).await,
        Command::Completions { shell } => Ok(completions::run(*shell)),
        Command::Deploy(args) => deploy::run(cli, args).await,
        Command::Adopt(args) => adopt::run(cli, args).await,
        Command::Secret { action } => secret::run(cli, action).await,
        Command::Run(args) => run::run(cli, args).await,
        Command::Unlock { force } => unlock::run(cli, *force).await,
        Command::Graph { format } => graph::run(cli, *format),
        Command::Cost => cost::run(cli),
        Command::Check => check::run(cli),
        Command::Outputs => outputs::run(cli).await,
        Command::Status => status::run(cli).await,
        Command::Doctor { exec: None } => doctor::run(cli).await,
        Command::Doctor { exec: Some(service) } => exec::preflight_only(cli, service).await,
        Command::Exec(args) => exec::run(cli, args).await,
        Command::Logs { name, since, follow, filter } => logs::run(cli, name, since, *follow, filter.as_deref()).await,
    }
}

pub use crate::ui::logging::init as init_logging;

pub fn style(cli: &Cli) -> Style {
    let color = !cli.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    Style { color }
}

pub fn load(cli: &Cli) -> Result<Stack> {
    Ok(config::load(&cli.file)?)
}

/// What planning needs, prepared once per command: the stack, the clients, the account.
pub struct Planner {
    pub clients: Clients,
    ctx: PlanContext,
    pub desired: Desired,
    /// The stack file's resources even for `down` (whose `desired` is empty): `--target` needs their graph.
    declared: Desired,
    /// `--target`: the plan keeps only these and what they need (empty: everything).
    targets: Targets,
    /// The stack file's dependency graph, built when there are targets.
    graph: Option<Graph>,
    region: String,
    /// Set when the region is not the stack file's (allowed by `--allow-region-override`).
    region_note: Option<String>,
    /// The risks the stack file accepts, shown on every plan.
    accepted: Vec<String>,
    /// The security report's summary, shown on every plan but `down`'s.
    security: Option<crate::config::security::Security>,
}

impl Planner {
    /// Loads and resolves the stack file and connects to AWS (no AWS call yet).
    pub async fn new(cli: &Cli, mode: Mode, delete_data: bool) -> Result<Planner> {
        let stack = load(cli)?;
        let mut desired = config::resolve::resolve(&stack, &|var| std::env::var(var).ok());
        let declared = desired.clone();
        if mode == Mode::Down {
            // Nothing is desired: every owned resource is a deletion candidate (and is read as one).
            desired = desired.without_resources();
        }
        let stack_region = stack.file.region.clone();
        let aws = aws::connect(&aws::AwsOptions {
            region: cli.region.clone(),
            profile: cli.profile.clone(),
            endpoint_url: cli.endpoint_url.clone(),
            stack_region: stack_region.clone(),
        })
        .await?;
        let region_note = match stack_region.as_deref().filter(|r| *r != aws.region) {
            None => None,
            Some(declared) if !cli.allow_region_override => anyhow::bail!(
                "region {} (from {}) is not the stack file's `region: {declared}`; nothing was read or changed.\n  \
                 To build or keep the stack in {} (a rebuild elsewhere), pass --allow-region-override: availability \
                 zones then follow the region by letter. Otherwise fix --region / AWS_REGION.",
                aws.region,
                aws.region_source,
                aws.region
            ),
            Some(declared) => {
                let moved = desired.relocate_zones(declared, &aws.region);
                let zones: Vec<String> = moved.iter().map(|(a, b)| format!("{a} → {b}")).collect();
                Some(format!(
                    "region {} (from {}, allowed by --allow-region-override) instead of the stack file's `region: {declared}`; availability zones: {}",
                    aws.region,
                    aws.region_source,
                    if zones.is_empty() { "none moved".to_string() } else { zones.join(", ") }
                ))
            }
        };
        let ctx = PlanContext {
            stack: desired.stack.clone(),
            stack_tags: desired.tags.clone(),
            mode,
            delete_data,
            account: String::new(),
            region: aws.region.clone(),
            image_tag: cli.image_tag.clone(),
        };
        Ok(Planner {
            clients: aws.clients,
            ctx,
            desired,
            declared,
            targets: Targets::default(),
            graph: None,
            accepted: stack.accepted.clone(),
            security: (mode != Mode::Down).then(|| crate::config::security::Security::of(&stack.security)),
            region: aws.region,
            region_note,
        })
    }

    /// Reads AWS and builds the plan: the one planning path of `diff`, `up`, `down` and the
    /// verification after applying.
    pub async fn plan(&self) -> Result<(Observed, Plan)> {
        let (observed, mut plan) = self.observe().await?;
        reconcile::diff(&self.context(), &self.desired, &observed, &mut plan)?;
        if let Some(graph) = &self.graph {
            target::narrow(&mut plan, &self.targets, graph, self.ctx.mode == Mode::Converge)?;
        }
        Ok((observed, plan))
    }

    /// The verification after applying `changes`: the plan again, from `previous` with only what
    /// those changes can have altered read again (`reconcile::reread`).
    pub async fn verify(&self, previous: Observed, changes: &[crate::reconcile::ResourceChange]) -> Result<Plan> {
        let groups = reconcile::reread::touched(changes);
        let (identity, observed) = tokio::join!(
            self.identity(),
            reconcile::observe_groups(&self.clients, &self.desired, None, &groups, previous)
        );
        let observed = observed.context("reading the stack from AWS again to verify it")?;
        let mut plan = Plan {
            stack: self.desired.stack.clone(),
            account: identity?.account.clone(),
            region: self.region.clone(),
            ..Plan::default()
        };
        plan.warnings.extend(self.region_note.clone());
        plan.accepted = self.accepted.clone();
        plan.security = self.security.clone();
        reconcile::diff(&self.context(), &self.desired, &observed, &mut plan)?;
        if let Some(graph) = &self.graph {
            target::narrow(&mut plan, &self.targets, graph, self.ctx.mode == Mode::Converge)?;
        }
        Ok(plan)
    }

    /// Narrows every plan of this command (the first, the rechecks, the verification) to
    /// `--target` addresses; checked before any AWS call.
    pub fn with_targets(mut self, given: &[String]) -> Result<Planner> {
        self.targets = Targets::parse(given)?;
        if !self.targets.is_empty() {
            let from_empty = crate::ops::graph::plan_from_empty(&self.declared, &self.region)?;
            self.graph = Some(Graph::of(&from_empty));
        }
        Ok(self)
    }

    /// Whether `--target` narrows this command's plans.
    pub fn targeted(&self) -> bool {
        !self.targets.is_empty()
    }

    /// Reads AWS: the observation and a plan with its header (stack, account, region, warnings)
    /// and no change yet.
    pub async fn observe(&self) -> Result<(Observed, Plan)> {
        // Both at once; the caller identity's failure (credentials, endpoint) is the root cause
        // of any other, so it is reported first.
        let (identity, observed) = tokio::join!(
            self.identity(),
            reconcile::observe(&self.clients, &self.desired, self.ctx.image_tag.as_deref())
        );
        let account = &identity?.account;
        let observed = observed.context("reading the stack from AWS (nothing was changed)")?;
        let mut plan = Plan {
            stack: self.desired.stack.clone(),
            account: account.clone(),
            region: self.region.clone(),
            ..Plan::default()
        };
        plan.warnings.extend(self.region_note.clone());
        plan.accepted = self.accepted.clone();
        plan.security = self.security.clone();
        Ok((observed, plan))
    }

    /// The region the command works in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Who is running this command (read once, STS: by the stack lock, or on the first plan
    /// concurrently with the first observation, which also uses it).
    pub async fn identity(&self) -> Result<&aws::Identity> {
        self.clients.identity().await
    }

    /// The plan context with the account filled in (known after the first `plan`).
    pub fn context(&self) -> PlanContext {
        PlanContext {
            account: self.clients.known_identity().map(|i| i.account.clone()).unwrap_or_default(),
            ..self.ctx.clone()
        }
    }
}

/// Prints the plan on stdout (human) unless JSON output was asked for.
pub fn print_plan(cli: &Cli, plan: &Plan) {
    if !cli.json {
        print!("{}", crate::plan::human::render(plan, style(cli)));
    }
}

/// Conflicts make a plan unusable: say so after printing it.
pub fn conflicts_error(plan: &Plan) -> Option<anyhow::Error> {
    (!plan.conflicts.is_empty()).then(|| {
        let list: Vec<String> = plan.conflicts.iter().map(|c| format!("{} {}", c.address, c.problem)).collect();
        anyhow::anyhow!(
            "{} resource(s) named in the stack file are not this stack's; nothing was changed:\n  {}",
            list.len(),
            list.join("\n  ")
        )
    })
}
