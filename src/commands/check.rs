//! `check`: the stack file against AWS Security Hub's controls (no AWS call): each control with
//! its findings, PASS / FAIL / accepted with the stack file's reason; exit 1 on a FAIL.

use anyhow::Result;

use crate::cli::Cli;
use crate::config::security::Status;

pub fn run(cli: &Cli) -> Result<i32> {
    // The report shows a control the stack fails without `allow:` as FAIL (every other command
    // refuses such a stack).
    let stack = crate::config::load_with(&cli.file, crate::config::FailingControls::Reported)?;
    let name = &stack.file.stack.value;
    if cli.json {
        println!("{}", crate::ops::check::json(name, &stack.security));
    } else {
        let file = stack.path.display().to_string();
        print!("{}", crate::ops::check::human(name, &file, &stack.security, &super::style(cli)));
    }
    Ok(if stack.security.iter().any(|f| f.status == Status::Fail) { 1 } else { 0 })
}
