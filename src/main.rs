//! `containrlab`: parse the command line, run the command, map the result to an exit code.
//! Exit codes: 0 success (or no changes), 1 error, 2/3 from `diff --exit-code`, 130 interrupted
//! (SIGINT or SIGTERM), 141 when the reader of stdout went away (`containrlab graph | head`).

mod apply;
mod aws;
mod cli;
mod commands;
mod config;
mod diff;
mod failpoint;
mod interrupt;
mod layers;
mod model;
mod ops;
mod plan;
mod progress;
mod reconcile;
mod ui;

use clap::Parser;

/// A reader that closed stdout (`containrlab graph | head -5`) ends the command quietly with 141,
/// as SIGPIPE ends other tools, instead of `print!`'s panic and its backtrace.
fn quiet_when_stdout_is_closed() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let text =
            payload.downcast_ref::<String>().map(String::as_str).or_else(|| payload.downcast_ref::<&str>().copied());
        if text.is_some_and(|t| t.starts_with("failed printing to stdout") && t.contains("Broken pipe")) {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() {
    quiet_when_stdout_is_closed();
    // A bad command line is bad input: exit 1 (clap's own code, 2, means "changes" for `diff`).
    let cli = cli::Cli::try_parse().unwrap_or_else(|e| {
        let code = if e.use_stderr() { 1 } else { 0 };
        let _ = e.print();
        std::process::exit(code);
    });
    commands::init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async {
        interrupt::install().map_err(|e| anyhow::anyhow!("installing the Ctrl-C handler: {e}"))?;
        commands::run(&cli).await
    });
    if cli.verbose > 0 {
        eprintln!("{}", aws::stats::summary(&aws::stats::snapshot()));
    }
    if let Err(e) = aws::stats::write_if_requested() {
        eprintln!("warning: writing CONTAINRLAB_API_STATS: {e}");
    }
    let code = match result {
        Ok(code) => code,
        Err(e) if interrupt::is_interrupted(&e) => {
            eprintln!("{e:#}");
            130
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
