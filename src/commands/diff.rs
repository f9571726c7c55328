//! `diff`: read-only; prints the plan (terminal view, `--json`, or `--markdown` for a pull-request
//! comment). With `--exit-code`: 0 no changes, 2 changes, 3 risky changes.

use anyhow::Result;

use crate::cli::Cli;
use crate::plan::build::Mode;

pub async fn run(cli: &Cli, exit_code: bool, markdown: bool) -> Result<i32> {
    if cli.json && markdown {
        anyhow::bail!("--json and --markdown ask for two different outputs: choose one");
    }
    let (_, plan) = super::Planner::new(cli, Mode::Converge, false).await?.plan().await?;
    let plan = &plan;
    if cli.json {
        println!("{}", crate::plan::json::to_value(plan));
    } else if markdown {
        print!("{}", crate::plan::markdown::render(plan));
    } else {
        super::print_plan(cli, plan);
    }
    if let Some(e) = super::conflicts_error(plan) {
        return Err(e);
    }
    Ok(if exit_code { plan.exit_code() } else { 0 })
}
