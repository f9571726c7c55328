//! `status`: the health of the running stack, read-only, on one screen — each service's running
//! and desired tasks, deployment and revision; each target group's healthy and unhealthy targets
//! (with AWS's reason); the runner instances' state and CPU credit balance; the NAT gateways and
//! the load balancer; the certificate's status and expiry; each alarm's state; whether each
//! address the alarms notify has confirmed its subscription.
//!
//! Invariants: every check is `ok`, `warn` (worth a look: a rollout in progress, credits or the
//! certificate running low, an alarm without data, an address that has not confirmed its
//! subscription yet) or `bad` (unhealthy); the command exits 1 when any check is bad, so it
//! serves as a CI or cron check. It reads the declared names (and the NAT
//! gateways by this stack's tag); it changes nothing.

mod read;

use serde::Serialize;

pub use read::collect;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Ok,
    Warn,
    Bad,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub section: &'static str,
    pub name: String,
    pub health: Health,
    pub detail: String,
}

impl Check {
    pub fn new(section: &'static str, name: impl Into<String>, health: Health, detail: impl Into<String>) -> Check {
        Check { section, name: name.into(), health, detail: detail.into() }
    }
}

/// The sections in the order they are shown.
pub const SECTIONS: [&str; 8] = [
    "services",
    "target groups",
    "runner instances",
    "nat gateways",
    "load balancer",
    "certificate",
    "alarms",
    "notifications",
];

/// Whether nothing is unhealthy.
pub fn healthy(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.health != Health::Bad)
}

/// The terminal view: a heading per section, one mark (`✓`, `!`, `✗`) and line per check.
pub fn render(stack: &str, checks: &[Check]) -> String {
    let mut out = format!("Stack {stack}\n");
    for section in SECTIONS {
        let mine: Vec<&Check> = checks.iter().filter(|c| c.section == section).collect();
        if mine.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{section}\n"));
        let width = mine.iter().map(|c| c.name.chars().count()).max().unwrap_or(0);
        for c in mine {
            let mark = match c.health {
                Health::Ok => "✓",
                Health::Warn => "!",
                Health::Bad => "✗",
            };
            out.push_str(&format!("  {mark} {:<width$}  {}\n", c.name, c.detail));
        }
    }
    let bad = checks.iter().filter(|c| c.health == Health::Bad).count();
    let warn = checks.iter().filter(|c| c.health == Health::Warn).count();
    out.push_str(&match (bad, warn) {
        (0, 0) => format!("\nHealthy: {} checks passed.\n", checks.len()),
        (0, w) => format!("\nHealthy, with {w} warning(s), in {} checks.\n", checks.len()),
        (b, _) => format!("\nUnhealthy: {b} of {} checks failed.\n", checks.len()),
    });
    out
}

/// A service's health from its counts and deployments (`rollout`: the primary deployment's
/// rollout state; `deployments`: how many there are).
pub fn service_health(running: i32, desired: i32, rollout: &str, deployments: usize) -> Health {
    if rollout == "FAILED" || running < desired.min(1) {
        Health::Bad
    } else if running < desired || deployments > 1 || rollout == "IN_PROGRESS" {
        Health::Warn
    } else {
        Health::Ok
    }
}

/// Days left on a certificate: under 30 is a warning (ACM renews 60 days ahead when its
/// validation records resolve; under 30 it has not managed to), expired is bad.
pub fn expiry_health(days_left: i64) -> Health {
    match days_left {
        d if d < 0 => Health::Bad,
        d if d < 30 => Health::Warn,
        _ => Health::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_is_bad_with_no_task_or_a_failed_rollout_and_a_warning_while_it_rolls() {
        assert_eq!(service_health(1, 1, "COMPLETED", 1), Health::Ok);
        assert_eq!(service_health(0, 1, "COMPLETED", 1), Health::Bad);
        assert_eq!(service_health(2, 2, "FAILED", 1), Health::Bad);
        assert_eq!(service_health(1, 2, "COMPLETED", 1), Health::Warn, "some tasks run");
        assert_eq!(service_health(1, 1, "IN_PROGRESS", 2), Health::Warn);
        assert_eq!(service_health(0, 0, "COMPLETED", 1), Health::Ok, "scaled to zero on purpose");
    }

    #[test]
    fn the_report_marks_each_check_and_sums_up() {
        let checks = vec![
            Check::new("services", "containrlab-service", Health::Ok, "1/1 running"),
            Check::new("alarms", "runner-high-cpu", Health::Bad, "ALARM"),
        ];
        let text = render("containrlab", &checks);
        assert!(text.contains("\nservices\n  ✓ containrlab-service  1/1 running\n"), "{text}");
        assert!(text.contains("\nalarms\n  ✗ runner-high-cpu  ALARM\n"), "{text}");
        assert!(text.ends_with("\nUnhealthy: 1 of 2 checks failed.\n"), "{text}");
        assert!(!healthy(&checks));
        assert_eq!(expiry_health(10), Health::Warn);
        assert_eq!(expiry_health(-1), Health::Bad);
    }
}
