//! `exec SERVICE [--task ID] [--container C] [-- COMMAND…]`: ECS Exec into a running container,
//! after the preflight (`ops::exec`) passed; and `doctor --exec SERVICE`, the preflight alone.
//!
//! The preflight's report goes to stderr for `exec` (stdout is the session's) and to stdout for
//! `doctor --exec` (`--json`: `{service, passed, checks}`). `exec` exits with the session's exit
//! code, 1 when a check failed or ECS refused the session (the cause and the fix printed). The
//! session's token never leaves this process but in the plugin's environment (`exec::plugin`).

use anyhow::{bail, Result};
use aws_sdk_ecs::error::ProvideErrorMetadata;

use crate::cli::{Cli, ExecArgs};
use crate::model::compute::Service;
use crate::ops::deploy;
use crate::ops::doctor::report;
use crate::ops::exec::{connect_error, plugin, preflight, Preflight};
use crate::plan::build::Mode;

pub async fn run(cli: &Cli, args: &ExecArgs) -> Result<i32> {
    let planner = super::Planner::new(cli, Mode::Converge, false).await?;
    let service = deploy::select(&planner.desired.services, std::slice::from_ref(&args.service))?[0];
    let pre = checked(&planner, service, args.task.as_deref(), args.container.as_deref()).await?;
    let Some(target) = pre.target.clone().filter(|_| pre.passed()) else {
        eprint!("{}", report(&title(service), &pre.findings, "`exec`"));
        return Ok(1);
    };
    let command = if args.command.is_empty() { "/bin/sh".to_string() } else { shell_words(&args.command) };
    eprintln!(
        "exec: task {} of {}, container {}: {command}",
        crate::ops::run::task_id(&target.task_arn),
        service.name,
        target.container
    );
    let answer = planner
        .clients
        .ecs
        .execute_command()
        .cluster(&target.cluster)
        .task(&target.task_arn)
        .container(&target.container)
        .command(&command)
        .interactive(true)
        .send()
        .await;
    let session = match answer {
        Ok(out) => out.session().cloned(),
        Err(e) => {
            let caller = planner.identity().await.map(|i| i.arn.clone()).unwrap_or_else(|_| "?".into());
            let (code, message) = match e.as_service_error() {
                Some(s) => (s.code().unwrap_or("?").to_string(), s.message().unwrap_or_default().to_string()),
                None => ("?".to_string(), crate::aws::describe(&e)),
            };
            bail!("{}", connect_error(&code, &message, &caller, &target));
        }
    };
    let Some(session) = session else { bail!("ExecuteCommand answered without a session") };
    let session = plugin::Session {
        id: session.session_id().unwrap_or_default().to_string(),
        stream_url: session.stream_url().unwrap_or_default().to_string(),
        token: session.token_value().unwrap_or_default().to_string(),
    };
    let region = planner.region().to_string();
    let profile = cli.profile.clone().or_else(|| std::env::var("AWS_PROFILE").ok()).unwrap_or_default();
    let endpoint =
        planner.clients.origin.endpoint_url.clone().unwrap_or_else(|| format!("https://ecs.{region}.amazonaws.com"));
    plugin::start(session, &region, &profile, &target.ssm_target(), &endpoint).await
}

/// `doctor --exec SERVICE`: the checks `exec` makes, on stdout; exit 1 when one fails.
pub async fn preflight_only(cli: &Cli, service: &str) -> Result<i32> {
    let planner = super::Planner::new(cli, Mode::Converge, false).await?;
    let service = deploy::select(&planner.desired.services, &[service.to_string()])?[0];
    let mut pre = checked(&planner, service, None, None).await?;
    let caller = planner.identity().await.map(|i| i.arn.clone()).unwrap_or_else(|_| "?".into());
    pre.findings.push(crate::ops::doctor::finding(
        "caller",
        crate::ops::doctor::Status::ByHand,
        format!("ecs:ExecuteCommand for {caller}: AWS answers it when `exec` connects"),
        Some(format!(
            "{caller} needs ecs:ExecuteCommand on arn:aws:ecs:{}:ACCOUNT:task/{}/*",
            planner.region(),
            service.cluster
        )),
    ));
    let ok = pre.passed();
    if cli.json {
        println!("{}", serde_json::json!({ "service": service.name, "passed": ok, "checks": pre.findings }));
    } else {
        print!("{}", report(&title(service), &pre.findings, "`exec`"));
    }
    Ok(if ok { 0 } else { 1 })
}

async fn checked(
    planner: &super::Planner,
    service: &Service,
    task: Option<&str>,
    container: Option<&str>,
) -> Result<Preflight> {
    let what = "while checking; nothing was changed";
    crate::interrupt::unless_stopped(
        what,
        preflight(&planner.clients, &planner.desired.stack, service, task, container),
    )
    .await
}

fn title(service: &Service) -> String {
    format!("ECS Exec into {} (cluster {}), read-only checks:", service.name, service.cluster)
}

/// The words as one command line for the container's shell: each quoted unless plain.
fn shell_words(words: &[String]) -> String {
    let plain = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "_./=:,@%+-".contains(c));
    let quoted: Vec<String> =
        words.iter().map(|w| if plain(w) { w.clone() } else { format!("'{}'", w.replace('\'', r"'\''")) }).collect();
    quoted.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_words_are_quoted_for_the_shell_only_when_needed() {
        let words = |w: &[&str]| shell_words(&w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(words(&["ls", "-la", "/app"]), "ls -la /app");
        assert_eq!(words(&["sh", "-c", "echo $HOME; it's"]), r"sh -c 'echo $HOME; it'\''s'");
        assert_eq!(words(&[""]), "''");
    }
}
