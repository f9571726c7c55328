//! The human view of a plan: `+ ~ - -/+` per resource, `before → after` per field, the reason,
//! conflicts and kept resources, and a summary line.

use std::fmt::Write;

use serde_json::Value;

use crate::diff::Shown;

use super::{Action, Plan};

/// Terminal colours, off for `--no-color`, `NO_COLOR` and non-terminals.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn action(&self, action: Action, text: &str) -> String {
        let code = match action {
            Action::Create => "32",
            Action::Update => "33",
            Action::Replace => "35",
            Action::Delete => "31",
        };
        self.paint(code, text)
    }
}

pub fn render(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Stack {} in account {}, region {}", plan.stack, plan.account, plan.region);
    for w in &plan.warnings {
        let _ = writeln!(out, "{} {w}", style.paint("33", "warning:"));
    }
    out.push('\n');
    for c in &plan.changes {
        let head = format!("{:>3} {}", c.action.symbol(), c.address);
        let _ = writeln!(out, "{}  ({})", style.action(c.action, &head), c.reason);
        if c.action == Action::Replace && c.address.kind.create_before_destroy() {
            let _ = writeln!(out, "      order: create the replacement, move what uses it, then delete the old one");
        }
        let width = c.fields.iter().map(|f| f.path.len()).max().unwrap_or(0);
        for f in &c.fields {
            let value = match (&f.before, &f.after) {
                (None, Some(after)) if c.action == Action::Create => show(after),
                (before, after) => format!("{} → {}", show_opt(before), show_opt(after)),
            };
            let _ = writeln!(out, "      {:width$}  {value}", format!("{}:", f.path), width = width + 1);
        }
    }
    for c in &plan.conflicts {
        let _ = writeln!(out, "{} {}  {}", style.paint("31", "  ! conflict:"), c.address, c.problem);
        let _ = writeln!(out, "      fix: {}", c.fix);
    }
    for k in &plan.kept {
        let _ = writeln!(out, "  = kept: {}  ({})", k.address, k.why);
    }
    if !plan.changes.is_empty() || !plan.conflicts.is_empty() || !plan.kept.is_empty() {
        out.push('\n');
    }
    out.push_str(&summary_line(plan));
    out.push('\n');
    out
}

pub fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    let mut line = if plan.is_empty() {
        "No changes: AWS matches the stack file.".to_string()
    } else {
        format!(
            "Plan: {} to create, {} to update, {} to replace, {} to delete.",
            s.create, s.update, s.replace, s.delete
        )
    };
    if !plan.conflicts.is_empty() {
        let _ = write!(line, " {} conflict(s) to resolve.", plan.conflicts.len());
    }
    if !plan.kept.is_empty() {
        let _ = write!(line, " {} kept (hold data; --delete-data removes them).", plan.kept.len());
    }
    line
}

fn show_opt(v: &Option<Shown>) -> String {
    v.as_ref().map(show).unwrap_or_else(|| "(none)".into())
}

fn show(v: &Shown) -> String {
    match v {
        Shown::Sensitive => "(sensitive value)".into(),
        Shown::Value(Value::String(s)) => format!("{s:?}"),
        Shown::Value(other) => other.to_string(),
    }
}
