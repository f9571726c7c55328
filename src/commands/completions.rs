//! `completions SHELL`: the shell completion script on stdout (no stack file, no AWS).

use clap::CommandFactory;

pub fn run(shell: clap_complete::Shell) -> i32 {
    clap_complete::generate(shell, &mut crate::cli::Cli::command(), "containrlab", &mut std::io::stdout());
    0
}
