//! `cost`: the stack file's monthly cost at AWS list prices, line by line (no AWS call), from the
//! reviewed price file; `--json` for tools.

use anyhow::Result;

use crate::cli::Cli;

pub fn run(cli: &Cli) -> Result<i32> {
    let stack = super::load(cli)?;
    let desired = crate::config::resolve::resolve(&stack, &|var| std::env::var(var).ok());
    let region = stack.file.region.clone().or_else(|| cli.region.clone()).unwrap_or_else(|| "us-east-1".into());
    let prices = crate::ops::cost::Prices::load()?;
    let estimate = prices.of_stack(&desired, &region)?;
    if cli.json {
        println!("{}", crate::ops::cost::render::json(&prices, &desired.stack, &estimate));
    } else {
        print!("{}", crate::ops::cost::render::human(&prices, &desired.stack, &estimate));
    }
    Ok(0)
}
