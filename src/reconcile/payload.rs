//! What a step carries: one variant per resource kind, each with the desired/observed pair the
//! plan found. The match in `apply` is the only dispatch from a step to a kind's code, and it is
//! exhaustive: a new kind is a compile error here until it is handled.

use anyhow::Result;

use super::contract::{run, ApplyCx, Pair};
use crate::diff::FieldChange;
use crate::plan::Step;

#[derive(Debug, Clone)]
pub enum Payload {
    EcsCluster(Pair<super::ecs::cluster::EcsCluster>),
    Alarm(Pair<super::alarms::Alarm>),
    EcrRepository(Pair<super::ecr::EcrRepository>),
    SsmParameter(Pair<super::ssm::SsmParameter>),
    LogGroup(Pair<super::logs::LogGroup>),
}

impl Payload {
    /// Carries out `step` with the kind's own code.
    pub async fn apply(&self, cx: &ApplyCx<'_>, step: &Step, delta: &[FieldChange]) -> Result<()> {
        match self {
            Payload::EcsCluster(p) => run(cx, step, p, delta).await,
            Payload::Alarm(p) => run(cx, step, p, delta).await,
            Payload::EcrRepository(p) => run(cx, step, p, delta).await,
            Payload::SsmParameter(p) => run(cx, step, p, delta).await,
            Payload::LogGroup(p) => run(cx, step, p, delta).await,
        }
    }
}
