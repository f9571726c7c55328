//! `doctor`: the pre-flight report (`crate::ops::doctor`) on one screen, or `--json`
//! (`{stack, region, passed, checks: [{check, status, detail, fix}]}`); exit 0 when no check
//! failed, 1 otherwise. Read-only: the quota and certificate checks read the plan `diff` would
//! show.

use anyhow::Result;

use crate::cli::Cli;
use crate::ops::doctor::{check, passed, render};
use crate::plan::build::Mode;

pub async fn run(cli: &Cli) -> Result<i32> {
    let planner = super::Planner::new(cli, Mode::Converge, false).await?;
    let tag = cli.image_tag.as_deref().unwrap_or("latest");
    let findings = check(&planner.clients, &planner.desired, tag, planner.plan()).await;
    let ok = passed(&findings);
    if cli.json {
        let doc = serde_json::json!({ "stack": planner.desired.stack, "region": planner.region(), "passed": ok, "checks": findings });
        println!("{doc}");
    } else {
        print!("{}", render(&planner.desired.stack, planner.region(), &findings));
    }
    Ok(if ok { 0 } else { 1 })
}
