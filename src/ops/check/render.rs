//! The report as text (grouped by control, one line per finding, the reason under an accepted
//! one) and as JSON (`containrlab --json check`).

use std::fmt::Write;

use serde_json::{json, Value};

use crate::config::security::{Finding, Security, Status};
use crate::plan::human::Style;

pub fn human(stack: &str, file: &str, report: &[Finding], style: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Security controls of stack {stack} ({file}; AWS Security Hub ids, prowler's where Security Hub has none; no AWS call)");
    let mut last = "";
    for f in report {
        if f.control.id != last {
            last = f.control.id;
            let _ = writeln!(out, "\n{} {}", style.paint("1", f.control.id), f.control.title);
        }
        let word = match &f.status {
            Status::Pass => style.paint("32", "PASS    "),
            Status::Fail => style.paint("31", "FAIL    "),
            Status::Accepted(_) => style.paint("33", "ACCEPTED"),
            Status::NotApplicable => "N/A     ".to_string(),
        };
        let at = if f.at.is_empty() { String::new() } else { format!("{}: ", f.at) };
        let _ = writeln!(out, "  {word}  {at}{}", f.detail);
        if let Status::Accepted(reason) = &f.status {
            let _ = writeln!(out, "            reason: {reason}");
        }
    }
    let s = Security::of(report);
    let controls = report.iter().map(|f| f.control.id).collect::<std::collections::BTreeSet<_>>().len();
    let _ = writeln!(
        out,
        "\n{controls} controls, {} findings: {} pass, {} accepted, {} fail, {} not applicable",
        report.len(),
        s.pass,
        s.accepted,
        s.failing.len(),
        s.not_applicable
    );
    out
}

pub fn json(stack: &str, report: &[Finding]) -> Value {
    let s = Security::of(report);
    let findings: Vec<Value> = report
        .iter()
        .map(|f| {
            json!({
                "control": f.control.id,
                "title": f.control.title,
                "at": f.at,
                "status": f.status.word(),
                "detail": f.detail,
                "reason": match &f.status { Status::Accepted(r) => Some(r.as_str()), _ => None },
            })
        })
        .collect();
    json!({
        "stack": stack,
        "summary": { "pass": s.pass, "accepted": s.accepted, "fail": s.failing.len(), "not_applicable": s.not_applicable },
        "findings": findings,
    })
}
