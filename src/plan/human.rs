//! The human view of a plan: `+ ~ - -/+` per resource, `before → after` per field, the reason,
//! conflicts and kept resources, and a summary line.

use std::fmt::Write;

use serde_json::Value;

use crate::diff::{FieldChange, Shown};

use super::{Action, Plan};

/// Terminal colours, off for `--no-color`, `NO_COLOR` and non-terminals.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn paint(&self, code: &str, text: &str) -> String {
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

/// Lines longer than this put their value on the lines below, indented.
const WIDTH: usize = 120;

pub fn render<P>(plan: &Plan<P>, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Stack {} in account {}, region {}", plan.stack, plan.account, plan.region);
    for w in &plan.warnings {
        let _ = writeln!(out, "{} {w}", style.paint("33", "warning:"));
    }
    for a in &plan.accepted {
        let _ = writeln!(out, "{} {a}", style.paint("33", "accepted risk:"));
    }
    if let Some(s) = &plan.security {
        let color = if s.failing.is_empty() { "32" } else { "31" };
        let _ = writeln!(out, "{} {}", style.paint(color, "security:"), s.line());
    }
    out.push('\n');
    for c in &plan.changes {
        let head = format!("{:>3} {}", c.action.symbol(), c.address);
        let _ = writeln!(out, "{}  ({})", style.action(c.action, &head), c.reason);
        if c.action == Action::Replace && c.address.kind.create_before_destroy() {
            let _ = writeln!(out, "      order: create the replacement, move what uses it, then delete the old one");
        }
        out.push_str(&fields(&c.fields, c.action == Action::Create));
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

/// One resource's fields, aligned: `path:  value` for a new value, `path:  before → after` for a
/// change, and for a set one list of its members on a create, else one line per member added
/// (`+`) or removed (`-`). Values too long for a line go on the lines below.
pub fn fields(fields: &[FieldChange], creating: bool) -> String {
    let mut out = String::new();
    let width = fields.iter().map(|f| f.path.len()).max().unwrap_or(0) + 1;
    let mut i = 0;
    while i < fields.len() {
        let f = &fields[i];
        let label = format!("{:width$}", format!("{}:", f.path));
        let members: Vec<&FieldChange> = fields[i..].iter().take_while(|g| g.member && g.path == f.path).collect();
        if creating && !members.is_empty() {
            let items: Vec<Value> = members.iter().filter_map(|m| value_of(&m.after)).collect();
            line(&mut out, &label, &Value::Array(items));
            i += members.len();
            continue;
        }
        match (&f.before, &f.after) {
            (None, Some(after)) if creating && !f.member => shown_line(&mut out, &label, after),
            (_, Some(after)) if f.member => {
                let _ = writeln!(out, "      {label}  + {}", show(after));
            }
            (Some(before), None) if f.member => {
                let _ = writeln!(out, "      {label}  - {}", show(before));
            }
            (before, after) => {
                let text = format!("{} → {}", show_opt(before), show_opt(after));
                let long = text.contains('\n') || 6 + label.len() + 2 + text.len() > WIDTH;
                if long {
                    let _ = writeln!(out, "      {}", label.trim_end());
                    let (b, a) = (show_opt(before), show_opt(after));
                    if b.lines().count() > 1 && a.lines().count() > 1 {
                        // Both in full, line by line: what goes marked `-`, what comes `+`.
                        for (mark, text) in line_diff(&b, &a) {
                            let _ = writeln!(out, "        {mark} {text}");
                        }
                    } else {
                        let _ = writeln!(out, "{}", block("before: ", &b));
                        let _ = writeln!(out, "{}", block("after:  ", &a));
                    }
                } else {
                    let _ = writeln!(out, "      {label}  {text}");
                }
            }
        }
        i += 1;
    }
    out
}

fn value_of(v: &Option<Shown>) -> Option<Value> {
    match v {
        Some(Shown::Value(v)) => Some(v.clone()),
        Some(other) => Some(Value::String(show(other))),
        None => None,
    }
}

fn shown_line(out: &mut String, label: &str, v: &Shown) {
    match v {
        Shown::Value(v) => line(out, label, v),
        other => {
            let _ = writeln!(out, "      {label}  {}", show(other));
        }
    }
}

/// `label  value` on one line when it fits, else the label and the value indented below it.
fn line(out: &mut String, label: &str, v: &Value) {
    let compact = compact(v);
    if let Some(s) = v.as_str().filter(|s| s.contains('\n')) {
        let _ = writeln!(out, "      {}  |", label.trim_end());
        let _ = writeln!(out, "{}", block("", s.trim_end_matches('\n')));
    } else if 6 + label.len() + 2 + compact.len() <= WIDTH {
        let _ = writeln!(out, "      {label}  {compact}");
    } else {
        let _ = writeln!(out, "      {}", label.trim_end());
        let _ = writeln!(out, "{}", block("", &long_form(v)));
    }
}

/// One-line JSON with a space after `,` and `:`: `["a", "b"]`, `{"Team": "x"}`.
fn compact(v: &Value) -> String {
    match v {
        Value::Array(items) => format!("[{}]", items.iter().map(compact).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => {
            let pairs: Vec<String> =
                map.iter().map(|(k, v)| format!("{}: {}", Value::from(k.as_str()), compact(v))).collect();
            format!("{{{}}}", pairs.join(", "))
        }
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// Objects and arrays as indented JSON, strings with line breaks line by line.
fn long_form(v: &Value) -> String {
    match v {
        Value::String(s) if s.contains('\n') => format!("|\n{}", s.trim_end_matches('\n')),
        Value::Object(_) | Value::Array(_) => serde_json::to_string_pretty(v).unwrap_or_default(),
        other => compact(other),
    }
}

/// The lines of `before` and `after` in order, each marked ` ` (both), `-` (before only) or
/// `+` (after only), by their longest common subsequence.
fn line_diff<'a>(before: &'a str, after: &'a str) -> Vec<(char, &'a str)> {
    let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    // common[i][j]: length of the longest common subsequence of b[i..] and a[j..].
    let mut common = vec![vec![0usize; a.len() + 1]; b.len() + 1];
    for i in (0..b.len()).rev() {
        for j in (0..a.len()).rev() {
            common[i][j] = if b[i] == a[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < b.len() || j < a.len() {
        if i < b.len() && j < a.len() && b[i] == a[j] {
            out.push((' ', b[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < b.len() && (j == a.len() || common[i + 1][j] >= common[i][j + 1]) {
            out.push(('-', b[i]));
            i += 1;
        } else {
            out.push(('+', a[j]));
            j += 1;
        }
    }
    out
}

/// `text` indented under a field, the first line after `prefix`.
fn block(prefix: &str, text: &str) -> String {
    let pad = " ".repeat(8 + prefix.len());
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    std::iter::once(format!("        {prefix}{first}"))
        .chain(lines.map(|l| format!("{pad}{l}")))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn summary_line<P>(plan: &Plan<P>) -> String {
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

/// A value in full: objects and arrays indented, multi-line strings line by line.
fn show_opt(v: &Option<Shown>) -> String {
    match v {
        None => "(none)".into(),
        Some(Shown::Value(v @ (Value::Object(_) | Value::Array(_)))) => {
            let one_line = compact(v);
            if one_line.len() > 60 {
                long_form(v)
            } else {
                one_line
            }
        }
        Some(Shown::Value(v @ Value::String(s))) if s.contains('\n') => long_form(v),
        Some(v) => show(v),
    }
}

fn show(v: &Shown) -> String {
    match v {
        Shown::Sensitive => "(sensitive value)".into(),
        Shown::Unset(var) => format!("(from ${var}, not set — up will need it)"),
        Shown::Value(v) => compact(v),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::diff::FieldDiff;

    fn set(items: &[&str]) -> std::collections::BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_set_is_one_list_on_create_and_one_line_per_member_on_update() {
        let mut create = FieldDiff::default();
        create.field("cidr", None, Some("10.0.0.0/24"));
        create.members("subnets", None, &set(&["public-a", "public-b"]));
        assert_eq!(
            fields(&create.changes, true),
            "      cidr:     \"10.0.0.0/24\"\n      subnets:  [\"public-a\", \"public-b\"]\n"
        );
        let mut update = FieldDiff::default();
        update.members("subnets", Some(&set(&["public-a", "old"])), &set(&["public-a", "new"]));
        assert_eq!(fields(&update.changes, false), "      subnets:  - \"old\"\n      subnets:  + \"new\"\n");
    }

    #[test]
    fn a_long_document_change_shows_its_lines_marked() {
        let doc = |action: &str| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [action], "Resource": ["arn:aws:ssm:us-east-1:123456789012:parameter/containrlab/*"]}]});
        let mut f = FieldDiff::default();
        f.field("inline_policies.read", Some(Some(doc("ssm:GetParameter"))), Some(doc("ssm:GetParametersByPath")));
        let text = fields(&f.changes, false);
        assert!(text.starts_with("      inline_policies.read:\n          {\n"), "{text}");
        assert!(
            text.contains("        -         \"ssm:GetParameter\"\n        +         \"ssm:GetParametersByPath\"\n"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.len() <= WIDTH), "{text}");
    }

    #[test]
    fn multi_line_strings_are_shown_line_by_line() {
        let mut f = FieldDiff::default();
        f.field("user_data", None, Some("#!/bin/bash\necho hi\n"));
        assert_eq!(fields(&f.changes, true), "      user_data:  |\n        #!/bin/bash\n        echo hi\n");
    }

    #[test]
    fn line_diff_marks_what_goes_and_comes() {
        assert_eq!(line_diff("a\nb\nc", "a\nx\nc"), vec![(' ', "a"), ('-', "b"), ('+', "x"), (' ', "c")]);
    }
}
