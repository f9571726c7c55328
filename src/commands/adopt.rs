//! `adopt [--yes]`: plan the adoption of existing resources, print it (or `--json`), confirm,
//! write the ownership tags under the stack's lock. A second `adopt` finds nothing to adopt.
//!
//! Exit codes: 0 when every declared address is adopted, owned or left for `up` to create; 1 when
//! some address needs a decision (several candidates, another stack's resource) — after adopting
//! the rest — or on any error.

use anyhow::Result;

use crate::cli::{AdoptArgs, Cli};
use crate::plan::build::Mode;

pub async fn run(cli: &Cli, args: &AdoptArgs) -> Result<i32> {
    let planner = super::Planner::new(cli, Mode::Converge, false).await?;
    let caller = planner.identity().await?.arn.clone();
    let wait = args.lock_timeout.unwrap_or_default();
    let lock = crate::aws::lock::acquire(&planner.clients.lock, &planner.desired.stack, &caller, "adopt", wait).await?;
    if let Some(note) = &lock.took_over {
        eprintln!("warning: {note}");
    }
    let result = run_locked(cli, args, &planner).await;
    let released = lock.release().await;
    let code = result?;
    released?;
    Ok(code)
}

async fn run_locked(cli: &Cli, args: &AdoptArgs, planner: &super::Planner) -> Result<i32> {
    let (observed, header) = planner.observe().await?;
    let ctx = planner.context();
    let adoption = crate::ops::adopt::plan(&planner.clients, &ctx, &planner.desired, observed, header).await?;
    if !cli.json {
        print!("{}", crate::ops::adopt::human(&adoption, super::style(cli)));
    }
    let undecided = adoption.unmatched.len() + adoption.refused.len();
    let mut applied = false;
    if adoption.adopt.is_empty() {
        eprintln!("Nothing to adopt.");
    } else {
        let question = format!("Write the ownership tags on the {} resource(s) listed above", adoption.adopt.len());
        let confirmed = super::apply::confirm(args.yes, &question).await;
        if let Err(e) = confirmed {
            if cli.json {
                println!("{}", crate::ops::adopt::json(&adoption, false));
            }
            return Err(e);
        }
        crate::interrupt::changing();
        let calls = crate::ops::adopt::write(&planner.clients, &ctx.stack, &adoption.adopt).await?;
        applied = true;
        eprintln!(
            "Adopted {} resource(s) ({calls} tagging call(s)). `containrlab diff` now shows the drift above; `containrlab up` repairs it.",
            adoption.adopt.len()
        );
    }
    if cli.json {
        println!("{}", crate::ops::adopt::json(&adoption, applied));
    }
    if undecided > 0 {
        eprintln!("error: {undecided} address(es) need a decision (listed above as not matched or refused)");
        return Ok(1);
    }
    Ok(0)
}
