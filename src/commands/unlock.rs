//! `unlock --force`: removes the stack's lock left by a run that died, saying whose it was.

use anyhow::{bail, Result};

use crate::cli::Cli;
use crate::plan::build::Mode;

pub async fn run(cli: &Cli, force: bool) -> Result<i32> {
    let planner = super::Planner::new(cli, Mode::Converge, false).await?;
    let stack = &planner.desired.stack;
    if !force {
        bail!(
            "refusing to remove the lock of stack `{stack}` without --force (a running `up` or `down` would lose it)"
        );
    }
    match crate::aws::lock::force_unlock(&planner.clients.lock, stack).await? {
        Some((holder, now)) => eprintln!("removed the lock of stack `{stack}`, held by {}", holder.describe(now)),
        None => eprintln!("stack `{stack}` was not locked"),
    }
    Ok(0)
}
