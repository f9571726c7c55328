//! The Session Manager plugin on this machine: finding it, its version, and handing it the
//! session ECS opened. The session (its token) goes to the plugin in the environment variable
//! `AWS_SSM_START_SESSION_RESPONSE`, whose *name* is the first argument — never on the command
//! line, where every user of the machine could read it. Plugins newer than 1.2.497.0 take it that
//! way (the AWS CLI's `LAST_PLUGIN_VERSION_WITHOUT_ENV_VAR`, awscli/customizations/sessionmanager.py);
//! an older plugin is refused with the fix, instead of falling back to the command line.
//!
//! Invariants: the plugin gets the terminal (stdin, stdout, stderr inherited) and its signals
//! (`interrupt::HandedOver`); the command's exit code is the plugin's.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{anyhow, bail, Result};
use serde_json::json;

use crate::ops::doctor::{finding, Finding, Status};

pub const PLUGIN: &str = "session-manager-plugin";
/// Where the session travels from this process to the plugin.
const SESSION_VAR: &str = "AWS_SSM_START_SESSION_RESPONSE";
/// The newest plugin that cannot take the session from the environment.
const LAST_WITHOUT_ENV: [u32; 4] = [1, 2, 497, 0];
const INSTALL: &str =
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html";

/// The plugin's path on PATH.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(PLUGIN)).find(|p| p.is_file())
}

/// `session-manager-plugin --version`, trimmed.
fn version(plugin: &PathBuf) -> Result<String> {
    let out =
        Command::new(plugin).arg("--version").output().map_err(|e| anyhow!("running {}: {e}", plugin.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Whether `version` (`1.2.707.0`) is newer than the last plugin without the environment handoff.
fn takes_session_from_env(version: &str) -> bool {
    let parts: Option<Vec<u32>> = version.split('.').map(|p| p.trim().parse().ok()).collect();
    let Some(mut parts) = parts else { return false };
    parts.resize(4, 0);
    parts.as_slice() > LAST_WITHOUT_ENV.as_slice()
}

/// The plugin check of the preflight.
pub fn check() -> Finding {
    let Some(plugin) = find() else {
        let fix = format!("install the Session Manager plugin: {INSTALL}");
        return finding("plugin", Status::Fail, format!("{PLUGIN} is not on PATH"), Some(fix));
    };
    match version(&plugin) {
        Ok(v) if takes_session_from_env(&v) => {
            finding("plugin", Status::Pass, format!("{PLUGIN} {v} ({})", plugin.display()), None)
        }
        Ok(v) => finding(
            "plugin",
            Status::Fail,
            format!("{PLUGIN} {v} (1.2.497.0 or older) takes the session token on its command line only"),
            Some(format!("install the current plugin: {INSTALL}")),
        ),
        Err(e) => finding("plugin", Status::Fail, format!("{e:#}"), Some(format!("reinstall it: {INSTALL}"))),
    }
}

/// An ECS Exec session: what `ExecuteCommand` answered.
pub struct Session {
    pub id: String,
    pub stream_url: String,
    pub token: String,
}

/// Runs the plugin on `session` for `target` (`ecs:CLUSTER_TASK_RUNTIMEID`) until it ends; its
/// exit code.
pub async fn start(session: Session, region: &str, profile: &str, target: &str, endpoint: &str) -> Result<i32> {
    let Some(plugin) = find() else { bail!("{PLUGIN} is not on PATH: install it: {INSTALL}") };
    let response = json!({ "SessionId": session.id, "StreamUrl": session.stream_url, "TokenValue": session.token });
    let mut command = Command::new(&plugin);
    command.env(SESSION_VAR, response.to_string()).args([
        SESSION_VAR,
        region,
        "StartSession",
        profile,
        &json!({ "Target": target }).to_string(),
        endpoint,
    ]);
    let _terminal = crate::interrupt::HandedOver::hold();
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .map_err(|e| anyhow!("waiting for {PLUGIN}: {e}"))?
        .map_err(|e| anyhow!("running {}: {e}", plugin.display()))?;
    Ok(status.code().unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plugins_newer_than_1_2_497_take_the_session_from_the_environment() {
        assert!(takes_session_from_env("1.2.707.0"));
        assert!(takes_session_from_env("1.2.553.0"));
        assert!(!takes_session_from_env("1.2.497.0"));
        assert!(!takes_session_from_env("1.2.398.0"));
        assert!(!takes_session_from_env("unknown"));
    }
}
