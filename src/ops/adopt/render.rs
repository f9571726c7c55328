//! The adoption plan for people (each address → the id it adopts and the evidence; then what is
//! owned through another resource, missing, unmatched or refused; then the drift, as `diff`
//! shows it) and as JSON.

use std::fmt::Write;

use serde_json::{json, Value};

use super::Adoption;
use crate::plan::human::Style;

pub fn human(a: &Adoption, style: Style) -> String {
    let mut out = String::new();
    let p = &a.drift;
    let _ = writeln!(out, "Adoption plan for stack {} in account {}, region {}\n", p.stack, p.account, p.region);
    let width = a.adopt.iter().map(|f| f.address.to_string().len()).max().unwrap_or(0);
    if !a.adopt.is_empty() {
        let _ = writeln!(
            out,
            "Adopt ({}): write ManagedBy, containrlab:stack, containrlab:address; nothing else",
            a.adopt.len()
        );
        for f in &a.adopt {
            let _ = writeln!(out, "  {:width$}  {}  ({})", f.address.to_string(), f.ids.join(", "), f.evidence);
        }
        out.push('\n');
    }
    section(
        &mut out,
        "Owned through the resource they belong to (not tagged)",
        a.follow.iter().map(|(f, l)| format!("{f}  follows {l}")),
    );
    section(&mut out, "Already this stack's", a.owned.iter().map(|x| x.to_string()));
    section(&mut out, "Not found: `up` creates them", a.missing.iter().map(|x| x.to_string()));
    section(
        &mut out,
        "Not matched (several candidates: delete or rename the wrong ones, then run adopt again)",
        a.unmatched.iter().map(|u| format!("{}  {}: {}", u.address, u.why, u.ids.join(", "))),
    );
    section(
        &mut out,
        "Refused: another stack's",
        a.refused.iter().map(|(x, s)| format!("{x}  belongs to stack `{s}`")),
    );
    if a.drift.changes.is_empty() {
        let _ = writeln!(out, "After adoption the stack matches the stack file: `up` would change nothing.");
    } else {
        let _ = writeln!(out, "After adoption, `up` would repair this drift:");
        let plan = crate::plan::human::render(&a.drift, style);
        // The plan's own header repeats the stack line: leave it out.
        out.push_str(plan.split_once("\n\n").map(|(_, rest)| rest).unwrap_or(&plan));
    }
    let _ = writeln!(out, "\n{}", summary(a));
    out
}

fn section(out: &mut String, title: &str, lines: impl Iterator<Item = String>) {
    let lines: Vec<String> = lines.collect();
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title} ({}):", lines.len());
    for l in lines {
        let _ = writeln!(out, "  {l}");
    }
    out.push('\n');
}

pub fn summary(a: &Adoption) -> String {
    format!(
        "Adoption: {} to adopt, {} owned through another, {} already owned, {} missing, {} not matched, {} refused.",
        a.adopt.len(),
        a.follow.len(),
        a.owned.len(),
        a.missing.len(),
        a.unmatched.len(),
        a.refused.len()
    )
}

pub fn json(a: &Adoption, applied: bool) -> Value {
    json!({
        "adopt": a.adopt.iter().map(|f| json!({"address": f.address.to_string(), "ids": f.ids, "evidence": f.evidence})).collect::<Vec<_>>(),
        "follow": a.follow.iter().map(|(f, l)| json!({"address": f.to_string(), "follows": l.to_string()})).collect::<Vec<_>>(),
        "owned": a.owned.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        "missing": a.missing.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        "unmatched": a.unmatched.iter().map(|u| json!({"address": u.address.to_string(), "why": u.why, "ids": u.ids})).collect::<Vec<_>>(),
        "refused": a.refused.iter().map(|(x, s)| json!({"address": x.to_string(), "stack": s})).collect::<Vec<_>>(),
        "drift": crate::plan::json::to_value(&a.drift),
        "applied": applied,
    })
}
