//! The reconcilers, one module per AWS service, behind one small contract:
//! `observe` (read-only, batched, concurrent), `diff` (pure), `apply` (one idempotent step).
//!
//! Invariants: all services are observed concurrently; if any observation fails the command
//! fails before a plan exists, so an incomplete picture never deletes anything. `apply` treats
//! NotFound on delete as success.

pub mod ecr;
pub mod logs;
pub mod ssm;

use anyhow::Result;

use crate::aws::Clients;
use crate::model::desired::Desired;
use crate::model::Kind;
use crate::plan::build::PlanContext;
use crate::plan::{Plan, Step};

/// Requests in flight per service during observation.
pub const CONCURRENCY: usize = 8;

/// Everything observed in AWS, normalised, per service.
#[derive(Debug, Default)]
pub struct Observed {
    pub repositories: Vec<ecr::ObservedRepository>,
    pub parameters: Vec<ssm::ObservedParameter>,
    pub log_groups: Vec<logs::ObservedLogGroup>,
}

pub async fn observe(clients: &Clients, desired: &Desired) -> Result<Observed> {
    let stack = desired.stack.as_str();
    let (repositories, parameters, log_groups) = tokio::try_join!(
        ecr::observe(&clients.ecr, stack, &desired.repositories),
        ssm::observe(&clients.ssm, stack, &desired.parameters),
        logs::observe(clients, stack, &desired.log_groups),
    )?;
    Ok(Observed { repositories, parameters, log_groups })
}

/// The pure half of planning: desired against observed, every service.
pub fn diff(ctx: &PlanContext, desired: &Desired, observed: &Observed, plan: &mut Plan) -> Result<()> {
    ecr::diff(ctx, &desired.repositories, &observed.repositories, plan);
    ssm::diff(ctx, &desired.parameters, &observed.parameters, plan)?;
    logs::diff(ctx, &desired.log_groups, &observed.log_groups, plan);
    Ok(())
}

/// Carries out one step, dispatching on the resource kind.
pub async fn apply(
    clients: &Clients,
    ctx: &PlanContext,
    desired: &Desired,
    observed: &Observed,
    step: &Step,
) -> Result<()> {
    let (a, name) = (&step.address, step.address.name.as_str());
    match a.kind {
        Kind::EcrRepository => {
            let d = desired.repositories.iter().find(|r| r.name == name);
            let o = observed.repositories.iter().find(|r| r.name == name);
            ecr::apply(&clients.ecr, ctx, step.action, a, d, o).await
        }
        Kind::SsmParameter => {
            let d = desired.parameters.iter().find(|p| p.name == name);
            let o = observed.parameters.iter().find(|p| p.name == name);
            ssm::apply(&clients.ssm, ctx, step.action, a, d, o).await
        }
        Kind::LogGroup => {
            let d = desired.log_groups.iter().find(|g| g.name == name);
            let o = observed.log_groups.iter().find(|g| g.name == name);
            logs::apply(clients, ctx, step.action, a, d, o).await
        }
    }
}
