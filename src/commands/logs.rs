//! `logs NAME`: prints (and with `--follow` keeps printing) a stack log group's events.

use anyhow::Result;

use crate::cli::Cli;
use crate::plan::build::Mode;

pub async fn run(cli: &Cli, name: &str, since: &str, follow: bool, filter: Option<&str>) -> Result<i32> {
    let since = crate::ops::logs::parse_since(since)?;
    let planner = super::Planner::new(cli, Mode::Converge, false).await?;
    let groups = crate::ops::logs::resolve(&planner.desired, name)?;
    crate::ops::logs::tail(&planner.clients.logs, &groups, since, follow, filter).await?;
    Ok(0)
}
