//! `status`: the running stack's health on one screen (`--json`: `{stack, healthy, checks:
//! [{section, name, health, detail}]}`); exit 0 when nothing is unhealthy, 1 otherwise.

use anyhow::Result;

use crate::cli::Cli;
use crate::ops::status::{collect, healthy, render};
use crate::plan::build::Mode;

pub async fn run(cli: &Cli) -> Result<i32> {
    let planner = super::Planner::new(cli, Mode::Converge, false).await?;
    let checks = collect(&planner.clients, &planner.desired).await?;
    let ok = healthy(&checks);
    if cli.json {
        println!("{}", serde_json::json!({ "stack": planner.desired.stack, "healthy": ok, "checks": checks }));
    } else {
        print!("{}", render(&planner.desired.stack, &checks));
    }
    Ok(if ok { 0 } else { 1 })
}
