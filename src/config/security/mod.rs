//! The security report of the desired stack: each AWS Security Hub control (`controls::CONTROLS`)
//! with its findings per resource — PASS, FAIL, or accepted by the stack file's `allow:` with its
//! reason. Evaluated while the stack file loads (a failing control without `allow:` is refused
//! there, as a risk is); `check` renders it, every plan carries its summary (`Security`).
//!
//! Invariants: an allowance accepts a failing control by its id (or by the id of the
//! `config::risks` risk that is the same weakness) at the finding's key path or a section above it
//! (`at: ecr.repositories` accepts every repository's); validation refuses an allowance that
//! accepts nothing, so the report and the file never disagree.
pub mod controls;
pub mod prowler;

use super::schema::Allowance;

/// Every control `check` reports, in report order: Security Hub's, then prowler's checks that
/// have no Security Hub control.
pub fn all_controls() -> impl Iterator<Item = &'static Control> {
    controls::CONTROLS.iter().chain(prowler::CONTROLS)
}

/// A Security Hub control (`ELB.1`) or a prowler check without one, and its title.
#[derive(Debug, PartialEq, Eq)]
pub struct Control {
    pub id: &'static str,
    pub title: &'static str,
    /// The `config::risks` id of the same weakness, when there is one.
    pub risk: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    /// Failing, and accepted by the stack file with this reason.
    Accepted(String),
    /// The stack has no resource the control applies to.
    NotApplicable,
}

impl Status {
    pub fn word(&self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Accepted(_) => "ACCEPTED",
            Status::NotApplicable => "N/A",
        }
    }
}

/// One control on one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub control: &'static Control,
    /// Where the stack file decides it (a key path).
    pub at: String,
    /// What was found.
    pub detail: String,
    pub status: Status,
}

/// Whether an allowance's `at` covers a key path: the same path, or a section above it.
pub fn covers(allowed: &str, at: &str) -> bool {
    at == allowed || at.strip_prefix(allowed).is_some_and(|rest| rest.starts_with(['.', '[']))
}

/// Whether an allowance accepts this failing finding.
pub fn accepts(a: &Allowance, f: &Finding) -> bool {
    f.status == Status::Fail
        && (a.risk.value == f.control.id || f.control.risk == Some(a.risk.value.as_str()))
        && covers(&a.at, &f.at)
}

/// The findings with the stack file's allowances applied, and every control without a finding
/// listed as not applicable; in `CONTROLS` order, then by key path.
pub fn report(findings: Vec<Finding>, allow: &[Allowance]) -> Vec<Finding> {
    let mut out: Vec<Finding> = findings
        .into_iter()
        .map(|mut f| {
            if let Some(a) = allow.iter().find(|a| accepts(a, &f)) {
                f.status = Status::Accepted(a.reason.trim().to_string());
            }
            f
        })
        .collect();
    for control in all_controls() {
        if !out.iter().any(|f| f.control.id == control.id) {
            out.push(Finding {
                control,
                at: String::new(),
                detail: "nothing in the stack file it applies to".into(),
                status: Status::NotApplicable,
            });
        }
    }
    let rank = |f: &Finding| all_controls().position(|c| c.id == f.control.id);
    out.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.at.cmp(&b.at)));
    out
}

/// Counts of a report, and the failing findings: what every plan shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Security {
    pub pass: usize,
    pub accepted: usize,
    pub not_applicable: usize,
    /// Each accepted control once, in report order, with how many findings it accepts.
    pub accepted_controls: Vec<(&'static str, usize)>,
    /// `ELB.6 at load_balancer.deletion_protection: off`.
    pub failing: Vec<String>,
}

impl Security {
    pub fn of(report: &[Finding]) -> Security {
        let count = |s: fn(&Status) -> bool| report.iter().filter(|f| s(&f.status)).count();
        let mut accepted_controls: Vec<(&'static str, usize)> = Vec::new();
        for f in report.iter().filter(|f| matches!(f.status, Status::Accepted(_))) {
            match accepted_controls.iter_mut().find(|(id, _)| *id == f.control.id) {
                Some((_, n)) => *n += 1,
                None => accepted_controls.push((f.control.id, 1)),
            }
        }
        Security {
            accepted_controls,
            pass: count(|s| *s == Status::Pass),
            accepted: count(|s| matches!(s, Status::Accepted(_))),
            not_applicable: count(|s| *s == Status::NotApplicable),
            failing: report
                .iter()
                .filter(|f| f.status == Status::Fail)
                .map(|f| format!("{} at {}: {}", f.control.id, f.at, f.detail))
                .collect(),
        }
    }

    /// `38 pass, 9 accepted (ECR.2 ×4, ELB.6, …), 1 FAIL (EC2.6 …) of AWS Security Hub's
    /// controls and prowler's checks`: every exception the stack file takes is named on every plan.
    pub fn line(&self) -> String {
        let fail = match self.failing.len() {
            0 => "0 fail".to_string(),
            n => format!("{n} FAIL ({})", self.failing.join("; ")),
        };
        let ids: Vec<String> = self
            .accepted_controls
            .iter()
            .map(|(id, n)| if *n == 1 { id.to_string() } else { format!("{id} ×{n}") })
            .collect();
        let accepted = if ids.is_empty() { String::new() } else { format!(" ({})", ids.join(", ")) };
        format!(
            "{} pass, {} accepted{accepted}, {fail} of AWS Security Hub's controls and prowler's checks — `containrlab check` lists them with the reasons",
            self.pass, self.accepted
        )
    }
}
