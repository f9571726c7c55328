//! The stack lock: at most one `up`/`down` of a stack at a time, held in AWS itself so it needs
//! nothing made beforehand (a rebuild into an empty account works): the SSM parameter
//! `/containrlab-lock/<stack>`, created with `Overwrite=false` — AWS's atomic create-if-absent —
//! holding who (caller ARN, host, pid, command) and since when, and a lease the holder renews.
//!
//! Invariants: only the holder (its random token) releases or renews the lock; a lock is stale when
//! its lease was not renewed for `STALE` or its holder process is gone from this very host, and a
//! stale lock is taken over with a warning; anything else is refused (or waited for, up to
//! `--lock-timeout`), naming the holder. The parameter carries no ownership tags: it is not a
//! resource of the stack and never appears in a plan.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use aws_sdk_ssm::types::ParameterType;
use aws_sdk_ssm::Client;
use serde::{Deserialize, Serialize};

use super::describe;
use super::error::{kind, ErrorKind};

/// How often the holder renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(30);
/// A lease not renewed for this long belongs to a run that died.
const STALE: Duration = Duration::from_secs(300);

/// Who holds the lock: what the parameter's value says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Holder {
    pub caller: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
    /// Seconds since the Unix epoch.
    pub started: u64,
    pub renewed: u64,
    /// Random per run: only this run may renew or release.
    pub token: String,
}

/// The held lock; `release` gives it back (and stops the renewals).
pub struct Lock {
    /// Set when a stale lock was taken over: whose, and why (the command says so).
    pub took_over: Option<String>,
    ssm: Client,
    name: String,
    token: String,
    renewer: tokio::task::JoinHandle<()>,
}

pub fn parameter_name(stack: &str) -> String {
    format!("/containrlab-lock/{stack}")
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

impl Holder {
    /// Why this lock can be taken over, if it can.
    fn stale(&self, now: u64, this_host: &str) -> Option<String> {
        let quiet = now.saturating_sub(self.renewed);
        if quiet >= STALE.as_secs() {
            return Some(format!("its lease was last renewed {} ago", ago(quiet)));
        }
        if self.host == this_host && !process_alive(self.pid) {
            return Some(format!("its process {} on this host is gone", self.pid));
        }
        None
    }

    /// `arn:… on host (pid 42) running `up`, since 2026-12-01 22:00:00 UTC (3m10s ago)`.
    pub fn describe(&self, now: u64) -> String {
        format!(
            "{} on {} (pid {}) running `{}`, since {} ({} ago; lease renewed {} ago)",
            self.caller,
            self.host,
            self.pid,
            self.command,
            utc(self.started),
            ago(now.saturating_sub(self.started)),
            ago(now.saturating_sub(self.renewed))
        )
    }
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        // A zombie has exited: only its exit status is left.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat.rsplit_once(") ").is_none_or(|(_, rest)| !rest.starts_with('Z')),
            Err(_) => false,
        }
    } else {
        true
    }
}

/// `1h02m`, `3m10s`, `42s`.
fn ago(seconds: u64) -> String {
    match seconds {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// Seconds since the epoch as `2026-12-01 22:00:00 UTC`.
fn utc(epoch: u64) -> String {
    let (days, rest) = (epoch / 86_400, epoch % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

async fn read(ssm: &Client, name: &str) -> Result<Option<Holder>> {
    match ssm.get_parameter().name(name).send().await {
        Ok(out) => {
            let text = out.parameter().and_then(|p| p.value()).unwrap_or_default();
            Ok(Some(serde_json::from_str(text).unwrap_or(Holder {
                caller: format!("(unreadable lock value: {text})"),
                host: "?".into(),
                pid: 0,
                command: "?".into(),
                started: 0,
                renewed: 0,
                token: String::new(),
            })))
        }
        Err(e) if kind(&e) == ErrorKind::NotFound => Ok(None),
        Err(e) => bail!("reading the stack lock {name}: {}", describe(&e)),
    }
}

async fn write(ssm: &Client, name: &str, holder: &Holder, overwrite: bool) -> Result<bool> {
    let value = serde_json::to_string(holder)?;
    let put = ssm
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::String)
        .description("containrlab: the run that holds this stack (delete with `containrlab unlock --force`)")
        .overwrite(overwrite)
        .send()
        .await;
    match put {
        Ok(_) => Ok(true),
        Err(e) if kind(&e) == ErrorKind::AlreadyExists => Ok(false),
        Err(e) if super::error::is_denied(&e) => bail!(
            "not permitted: ssm:PutParameter for {} on the stack lock {name} (`up` and `down` need the stack's full permissions; CI's deploy role runs `containrlab deploy`): {}",
            holder.caller,
            describe(&e)
        ),
        Err(e) => bail!(
            "taking the stack lock {name}: {} (the identity needs ssm:PutParameter, ssm:GetParameter and ssm:DeleteParameter on it)",
            describe(&e)
        ),
    }
}

/// Takes the lock of `stack` for `command`, waiting up to `wait` while another run holds it.
pub async fn acquire(ssm: &Client, stack: &str, caller: &str, command: &str, wait: Duration) -> Result<Lock> {
    let name = parameter_name(stack);
    let this_host = host();
    let token = crate::aws::client_token(&[stack, caller, &std::process::id().to_string(), &now().to_string()]);
    let started = tokio::time::Instant::now();
    let mut took_over = None;
    loop {
        let t = now();
        let me = Holder {
            caller: caller.to_string(),
            host: this_host.clone(),
            pid: std::process::id(),
            command: command.to_string(),
            started: t,
            renewed: t,
            token: token.clone(),
        };
        if write(ssm, &name, &me, false).await? {
            let renewer = tokio::spawn(renew(ssm.clone(), name.clone(), me));
            return Ok(Lock { took_over, ssm: ssm.clone(), name, token, renewer });
        }
        let Some(held) = read(ssm, &name).await? else { continue };
        if held.token == token {
            // Our own create, whose answer was lost and which the SDK sent again.
            let renewer = tokio::spawn(renew(ssm.clone(), name.clone(), held));
            return Ok(Lock { took_over, ssm: ssm.clone(), name, token, renewer });
        }
        if let Some(why) = held.stale(t, &this_host) {
            took_over = Some(format!("took over the stale stack lock of {}: {why}", held.describe(t)));
            let deleted = ssm.delete_parameter().name(&name).send().await;
            if let Err(e) = deleted.map_err(|e| (kind(&e), describe(&e))) {
                if e.0 != ErrorKind::NotFound {
                    bail!("removing the stale stack lock {name}: {}", e.1);
                }
            }
            continue;
        }
        if started.elapsed() >= wait {
            bail!(
                "stack `{stack}` is locked by {}; nothing was changed.\n  Wait for that run, pass --lock-timeout (e.g. 5m) to wait here, or if it is dead: containrlab unlock --force",
                held.describe(t)
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Renews the lease until the lock is released (the task is aborted then).
async fn renew(ssm: Client, name: String, mut me: Holder) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        // Only while it is still ours: a run that took it over as stale must not be overwritten.
        match read(&ssm, &name).await {
            Ok(Some(held)) if held.token == me.token => {
                me.renewed = now();
                let _ = write(&ssm, &name, &me, true).await;
            }
            _ => return,
        }
    }
}

impl Lock {
    /// Gives the lock back (only if it is still this run's).
    pub async fn release(self) -> Result<()> {
        self.renewer.abort();
        match read(&self.ssm, &self.name).await? {
            Some(held) if held.token == self.token => {
                let deleted = self.ssm.delete_parameter().name(&self.name).send().await;
                match deleted {
                    Err(e) if kind(&e) != ErrorKind::NotFound => {
                        bail!("releasing the stack lock {}: {}", self.name, describe(&e))
                    }
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

/// Removes the lock whoever holds it; returns the holder it removed.
pub async fn force_unlock(ssm: &Client, stack: &str) -> Result<Option<(Holder, u64)>> {
    let name = parameter_name(stack);
    let Some(held) = read(ssm, &name).await? else { return Ok(None) };
    let deleted = ssm.delete_parameter().name(&name).send().await;
    if let Err(e) = deleted {
        if kind(&e) != ErrorKind::NotFound {
            bail!("removing the stack lock {name}: {}", describe(&e));
        }
    }
    Ok(Some((held, now())))
}

/// `5m`, `30s`, `1h`, `90` (seconds), `2m30s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().map_err(|_| format!("`{text}`: expected a duration such as 30s, 5m or 1h"))?;
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(format!("`{text}`: expected a duration such as 30s, 5m or 1h")),
        };
        number.clear();
    }
    if !number.is_empty() {
        total += number.parse::<u64>().map_err(|_| format!("`{text}`: expected a duration such as 30s, 5m or 1h"))?;
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(host: &str, pid: u32, renewed: u64) -> Holder {
        Holder {
            caller: "arn:aws:iam::1:user/ci".into(),
            host: host.into(),
            pid,
            command: "up".into(),
            started: 1_764_626_400,
            renewed,
            token: "t".into(),
        }
    }

    #[test]
    fn a_lock_is_stale_when_its_lease_lapsed_or_its_process_on_this_host_is_gone() {
        let now = 1_764_626_400 + 600;
        assert!(holder("elsewhere", 1, now - 10).stale(now, "here").is_none(), "a live lease elsewhere is held");
        assert_eq!(
            holder("elsewhere", 1, now - 400).stale(now, "here"),
            Some("its lease was last renewed 6m40s ago".into())
        );
        assert!(holder("here", std::process::id(), now).stale(now, "here").is_none(), "this process is alive");
        assert_eq!(
            holder("here", u32::MAX, now).stale(now, "here"),
            Some(format!("its process {} on this host is gone", u32::MAX))
        );
    }

    #[test]
    fn the_holder_is_named_with_when() {
        let h = holder("ci-runner", 42, 1_764_626_400 + 50);
        assert_eq!(
            h.describe(1_764_626_400 + 190),
            "arn:aws:iam::1:user/ci on ci-runner (pid 42) running `up`, since 2025-12-01 22:00:00 UTC (3m10s ago; lease renewed 2m20s ago)"
        );
    }

    #[test]
    fn durations_read_as_operators_write_them() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2m30s"), Ok(Duration::from_secs(150)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("5x").is_err());
    }
}
