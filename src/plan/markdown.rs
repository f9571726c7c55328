//! The plan as GitHub-flavoured Markdown (`diff --markdown`), for a pull-request comment or
//! `$GITHUB_STEP_SUMMARY`: the summary line, then what needs a reviewer's eye — replacements,
//! deletions and access opened wider, conflicts, kept data, warnings — then every change in a
//! collapsed block, field by field as the terminal view shows it.
//!
//! Invariants: secrets are never in it (fields come from the terminal view, which shows
//! `(sensitive value)`); the document stays under GitHub's 65,536-character comment limit
//! (`LIMIT`): changes that do not fit are counted, not cut in half, and every code fence opened
//! is closed.

use std::fmt::Write;

use super::{Action, Plan, ResourceChange};

/// GitHub's limit for a comment body is 65,536 characters; this leaves room for a caller's
/// own heading.
pub const LIMIT: usize = 60_000;

pub fn render<P>(plan: &Plan<P>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### containrlab plan for stack `{}`\n", plan.stack);
    let _ = writeln!(out, "Account `{}`, region `{}`.\n", plan.account, plan.region);
    let _ = writeln!(out, "**{}**\n", super::human::summary_line(plan));
    impact(&mut out, plan);
    for c in &plan.conflicts {
        if c.address == plan.conflicts[0].address {
            out.push_str("#### Conflicts (`up` changes nothing until they are resolved)\n\n");
        }
        let _ = writeln!(out, "- `{}` {} — fix: {}", c.address, cell(&c.problem), cell(&c.fix));
    }
    if !plan.conflicts.is_empty() {
        out.push('\n');
    }
    if !plan.kept.is_empty() {
        out.push_str("#### Kept (they hold data; `--delete-data` removes them)\n\n");
        for k in &plan.kept {
            let _ = writeln!(out, "- `{}` — {}", k.address, cell(&k.why));
        }
        out.push('\n');
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "> **warning:** {}\n", cell(w));
    }
    for a in &plan.accepted {
        let _ = writeln!(out, "> **accepted risk:** {}\n", cell(a));
    }
    if let Some(s) = &plan.security {
        let _ = writeln!(out, "> **security:** {}\n", cell(&s.line()));
    }
    details(&mut out, plan);
    out
}

/// Replacements, deletions and wider access first, as a table (at most 50 rows).
fn impact<P>(out: &mut String, plan: &Plan<P>) {
    let risky: Vec<&ResourceChange<P>> =
        plan.changes.iter().filter(|c| c.action.destructive() || c.widens_access).collect();
    if risky.is_empty() {
        return;
    }
    out.push_str("#### Impact\n\n| | resource | why |\n|---|---|---|\n");
    for c in risky.iter().take(50) {
        let mut why = c.reason.to_string();
        if c.widens_access {
            why.push_str("; **opens access wider**");
        }
        let _ = writeln!(out, "| `{}` | `{}` | {} |", c.action.symbol(), c.address, cell(&why));
    }
    if risky.len() > 50 {
        let _ = writeln!(out, "\n… and {} more (below).", risky.len() - 50);
    }
    out.push('\n');
}

/// Every change in a collapsed `diff` block, as many as fit under `LIMIT`.
fn details<P>(out: &mut String, plan: &Plan<P>) {
    if plan.changes.is_empty() {
        return;
    }
    let blocks: Vec<String> = plan.changes.iter().map(block).collect();
    let mut fence = "```".to_string();
    while blocks.iter().any(|b| b.contains(&fence)) {
        fence.push('`');
    }
    let _ = writeln!(out, "<details><summary>All {} change(s), field by field</summary>\n", blocks.len());
    let _ = writeln!(out, "{fence}diff");
    let closing = format!("{fence}\n\n</details>\n");
    // Room kept for the closing and the line saying what was left out.
    let budget = LIMIT.saturating_sub(out.len() + closing.len() + 200);
    let mut used = 0;
    let mut shown = 0;
    for b in &blocks {
        if used + b.len() > budget {
            break;
        }
        out.push_str(b);
        used += b.len();
        shown += 1;
    }
    out.push_str(&closing);
    if shown < blocks.len() {
        let _ = writeln!(
            out,
            "\n{} more change(s) not shown: the comment would pass GitHub's 65,536-character limit. Run `containrlab diff` for the whole plan.",
            blocks.len() - shown
        );
    }
}

fn block<P>(c: &ResourceChange<P>) -> String {
    let mut b = format!("{} {}  ({})\n", c.action.symbol(), c.address, c.reason);
    b.push_str(&super::human::fields(&c.fields, c.action == Action::Create));
    b
}

/// Text for a table cell or list item: one line, `|` escaped.
fn cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{FieldChange, FieldDiff, Shown};
    use crate::model::{Address, Kind};
    use crate::plan::Reason;

    fn change(kind: Kind, name: &str, action: Action, reason: Reason, fields: Vec<FieldChange>) -> ResourceChange<()> {
        ResourceChange::new(Address::new(kind, name), action, reason, fields, ())
    }

    fn plan(changes: Vec<ResourceChange<()>>) -> Plan<()> {
        Plan {
            stack: "containrlab".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            changes,
            ..Plan::default()
        }
    }

    #[test]
    fn impact_comes_first_and_details_are_collapsed_with_secrets_redacted() {
        let mut f = FieldDiff::default();
        f.field("availability_zone", Some(Some("us-east-1a")), Some("us-east-1b"));
        let secret = FieldChange::new("value", Some(Shown::Sensitive), Some(Shown::Sensitive));
        let mut rules = change(Kind::SecurityGroupRules, "alb-sg", Action::Update, Reason::Drifted, vec![]);
        rules.widens_access = true;
        let p = plan(vec![
            change(Kind::LogGroup, "/ecs/a|b", Action::Create, Reason::Missing, vec![]),
            change(
                Kind::Subnet,
                "public-a",
                Action::Replace,
                Reason::CannotUpdateInPlace(vec!["availability_zone".into()]),
                f.changes,
            ),
            change(Kind::SsmParameter, "/containrlab/TOKEN", Action::Update, Reason::Drifted, vec![secret]),
            rules,
        ]);
        let md = render(&p);
        let impact = md.find("#### Impact").expect("impact");
        let details = md.find("<details>").expect("details");
        assert!(impact < details, "{md}");
        assert!(md.contains("| `-/+` | `subnet.public-a` | availability_zone cannot change in place |"), "{md}");
        assert!(
            md.contains(
                "| `~` | `security_group_rules.alb-sg` | differs from the stack file; **opens access wider** |"
            ),
            "{md}"
        );
        assert!(!md.contains("| `+` |"), "creates are not impact: {md}");
        assert!(md.contains("(sensitive value)"), "{md}");
        assert!(md.contains("**Plan: 1 to create, 2 to update, 1 to replace, 0 to delete.**"), "{md}");
        assert_eq!(md.matches("```").count(), 2, "one fence, closed: {md}");
        assert!(md.trim_end().ends_with("</details>"), "{md}");
    }

    #[test]
    fn a_huge_plan_stays_under_the_comment_limit_and_says_what_it_left_out() {
        let mut f = FieldDiff::default();
        f.field("description", Some(Some("x".repeat(400))), Some("y".repeat(400)));
        let changes: Vec<ResourceChange<()>> = (0..400)
            .map(|i| {
                change(
                    Kind::LogGroup,
                    &format!("/ecs/group-{i:03}"),
                    Action::Delete,
                    Reason::RemovedFromStack,
                    f.changes.clone(),
                )
            })
            .collect();
        let md = render(&plan(changes));
        assert!(md.len() <= 65_536, "{} characters", md.len());
        assert!(md.contains("more change(s) not shown"), "{}", &md[md.len() - 300..]);
        assert_eq!(md.matches("```").count() % 2, 0, "every fence closed");
        assert!(md.contains("… and 350 more (below)."));
    }

    #[test]
    fn no_changes_is_one_line_without_sections() {
        let md = render(&plan(vec![]));
        assert!(md.contains("**No changes: AWS matches the stack file.**"), "{md}");
        assert!(!md.contains("<details>") && !md.contains("#### Impact"), "{md}");
    }
}
