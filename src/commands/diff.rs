//! `diff`: read-only; prints the plan (terminal view, `--json`, or `--markdown` for a pull-request
//! comment), then the plan's monthly cost change at list prices (`cost`). With `--exit-code`: 0 no changes, 2 changes, 3 risky changes.

use anyhow::Result;

use crate::cli::Cli;
use crate::plan::build::Mode;
use crate::reconcile::Plan;

/// The plan's monthly cost change at list prices; an error (a region or instance type the price
/// file lacks) is shown in place of the figure and does not fail `diff`.
fn cost_change(planner: &super::Planner, plan: &Plan) -> Result<crate::ops::cost::change::CostChange> {
    let prices = crate::ops::cost::Prices::load()?;
    let after = crate::ops::cost::footprint::Footprint::of(&planner.desired, planner.region())?;
    let change = crate::ops::cost::change::of_plan(&prices, planner.region(), &planner.desired, &after, plan)?;
    Ok(crate::ops::cost::change::CostChange { targeted: planner.targeted(), ..change })
}

pub async fn run(cli: &Cli, exit_code: bool, markdown: bool, target: &[String]) -> Result<i32> {
    if cli.json && markdown {
        anyhow::bail!("--json and --markdown ask for two different outputs: choose one");
    }
    let planner = super::Planner::new(cli, Mode::Converge, false).await?.with_targets(target)?;
    let (_, plan) = planner.plan().await?;
    let plan = &plan;
    let cost = cost_change(&planner, plan);
    if cli.json {
        let mut value = crate::plan::json::to_value(plan);
        value["monthly_cost"] = match &cost {
            Ok(c) => crate::ops::cost::render::change_json(c),
            Err(e) => serde_json::json!({ "error": format!("{e:#}") }),
        };
        println!("{value}");
    } else {
        let line = match &cost {
            Ok(c) => crate::ops::cost::render::change_line(c),
            Err(e) => Some(format!("Monthly cost: not estimated: {e:#}")),
        };
        if markdown {
            print!("{}", crate::plan::markdown::render(plan));
            if let Some(line) = line {
                println!("\n{line}");
            }
        } else {
            super::print_plan(cli, plan);
            if let Some(line) = line {
                println!("{line}");
            }
        }
    }
    if let Some(e) = super::conflicts_error(plan) {
        return Err(e);
    }
    Ok(if exit_code { plan.exit_code() } else { 0 })
}
