//! The views of an estimate: the terminal table (lines like the seed's cost table, the total, the
//! comparison with the seed's ~$93/month by group, the assumptions) and `--json`; and the one-line
//! cost change `diff` prints under its plan.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{json, Value};

use super::change::CostChange;
use super::{Estimate, Line, Prices, PRICE_FILE};

/// `$32.85`, `-$10.00`.
pub fn dollars(x: f64) -> String {
    let x = if x.abs() < 0.005 { 0.0 } else { x };
    if x < 0.0 {
        format!("-${:.2}", -x)
    } else {
        format!("${x:.2}")
    }
}

/// A change: `+$39.71`, `-$32.85`.
pub fn signed(x: f64) -> String {
    if x >= 0.0 {
        format!("+{}", dollars(x))
    } else {
        dollars(x)
    }
}

/// A unit price as the pricing page quotes it: `$0.0225`, `$0.10`.
fn unit_price(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0');
    let decimals = s.split('.').nth(1).map_or(0, str::len).max(2);
    format!("${p:.decimals$}")
}

/// Monthly totals by the seed's groups.
fn by_group(e: &Estimate) -> BTreeMap<String, f64> {
    let mut groups = BTreeMap::new();
    for l in &e.lines {
        *groups.entry(l.group.clone()).or_insert(0.0) += l.monthly;
    }
    groups
}

/// Why a group differs from the seed's figure, when the lines show a reason.
fn difference_note(prices: &Prices, group: &str, here: f64, seed: Option<f64>, lines: &[&Line]) -> String {
    let hourly: f64 = lines.iter().filter(|l| l.unit == "hour").map(|l| l.monthly).sum();
    let why = prices.seed.notes.get(group).map_or(String::new(), |n| format!(": {n}"));
    match seed {
        None if here > 0.0 => format!("not in the seed's table{why}"),
        Some(s) if hourly > s => {
            format!("the seed's ~{} is below the hourly charge alone ({})", dollars(s), dollars(hourly))
        }
        Some(s) if here == 0.0 && group == "Other" => {
            format!("the seed's ~{} names no resource; every resource of the stack file is priced above", dollars(s))
        }
        _ => String::new(),
    }
}

struct GroupRow {
    group: String,
    here: f64,
    seed: Option<f64>,
    note: String,
}

fn seed_rows(prices: &Prices, e: &Estimate) -> Vec<GroupRow> {
    let here = by_group(e);
    let mut names: Vec<String> = here.keys().chain(prices.seed.groups.keys()).cloned().collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|group| {
            let (h, seed) = (here.get(&group).copied().unwrap_or(0.0), prices.seed.groups.get(&group).copied());
            let lines: Vec<&Line> = e.lines.iter().filter(|l| l.group == group).collect();
            let note = difference_note(prices, &group, h, seed, &lines);
            GroupRow { group, here: h, seed, note }
        })
        .collect()
}

pub fn human(prices: &Prices, stack: &str, e: &Estimate) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Monthly cost of stack `{stack}` in {} at AWS list prices ({PRICE_FILE}, checked {}; {} hours a month):\n",
        e.region, prices.checked, prices.hours_per_month
    );
    let width = e.lines.iter().map(|l| l.group.len()).max().unwrap_or(0);
    for l in &e.lines {
        let price = format!("{} × {}/{}", l.what, unit_price(l.unit_price), l.unit);
        let _ = writeln!(out, "  {:<width$} {:>8}  {}: {price}", l.group, dollars(l.monthly), l.address);
    }
    let _ = writeln!(out, "\nTotal: {}/month for {} priced lines.", dollars(e.total()), e.lines.len());
    let _ = writeln!(out, "\nAgainst the seed's estimate (~{}/month), by group:", dollars(prices.seed.total));
    for r in seed_rows(prices, e) {
        let seed = r.seed.map_or("—".to_string(), |s| format!("~{}", dollars(s)));
        let delta = signed(r.here - r.seed.unwrap_or(0.0));
        let note = if r.note.is_empty() { String::new() } else { format!("  {}", r.note) };
        let _ = writeln!(out, "  {:<13} {:>9}  seed {:>8}  {:>9}{note}", r.group, dollars(r.here), seed, delta);
    }
    let _ = writeln!(out, "\nFree ({} resources):", e.free.len());
    let mut reasons: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (a, why) in &e.free {
        reasons.entry(why.as_str()).or_default().push(a.to_string());
    }
    for (why, addresses) in reasons {
        let _ = writeln!(out, "  {why}: {}", addresses.join(", "));
    }
    let mut sources: Vec<&str> = e.lines.iter().map(|l| l.source.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    let _ = writeln!(out, "\nPrices from: {}", sources.join(" "));
    let _ = writeln!(out, "\nAssumptions ({PRICE_FILE}):");
    if let Ok(Value::Object(map)) = serde_json::to_value(&prices.assumptions) {
        for (k, v) in map {
            let _ = writeln!(out, "  {k}: {}", v.as_f64().unwrap_or_default());
        }
    }
    out
}

pub fn json(prices: &Prices, stack: &str, e: &Estimate) -> Value {
    let groups: Vec<Value> = seed_rows(prices, e)
        .into_iter()
        .map(|r| json!({"group": r.group, "estimate": round(r.here), "seed": r.seed, "note": r.note}))
        .collect();
    let free: Vec<Value> = e.free.iter().map(|(a, why)| json!({"address": a, "why": why})).collect();
    let lines: Vec<Value> = e
        .lines
        .iter()
        .map(|l| json!({"group": l.group, "address": l.address, "item": l.item, "what": l.what, "quantity": l.quantity, "unit": l.unit, "unit_price": l.unit_price, "monthly": round(l.monthly), "source": l.source}))
        .collect();
    json!({
        "stack": stack,
        "region": e.region,
        "price_file": PRICE_FILE,
        "prices_checked": prices.checked,
        "hours_per_month": prices.hours_per_month,
        "lines": lines,
        "total": round(e.total()),
        "free": free,
        "assumptions": prices.assumptions,
        "seed": {"total": prices.seed.total, "groups": groups},
    })
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// How many changed lines the cost line of `diff` names.
const SHOWN: usize = 3;

/// `diff`'s cost line, e.g. `Monthly cost: $123.45 → $163.16 (+$39.71): autoscaling_group.X
/// t3.medium × 1 × 730 h → m5.large × 1 × 730 h +$39.71`; `None` when nothing changes.
pub fn change_line(c: &CostChange) -> Option<String> {
    if c.lines.is_empty() && c.not_priced.is_empty() {
        return None;
    }
    let mut changed: Vec<(f64, String)> = c
        .lines
        .iter()
        .map(|(b, a)| {
            let (from, to) = (b.as_ref().map_or(0.0, |l| l.monthly), a.as_ref().map_or(0.0, |l| l.monthly));
            let line = a.as_ref().or(b.as_ref()).expect("a differing line has a side");
            let what = match (b, a) {
                (Some(b), Some(a)) => format!("{} → {}", b.what, a.what),
                (None, Some(a)) => format!("new: {}", a.what),
                (Some(b), None) => format!("gone: {}", b.what),
                (None, None) => String::new(),
            };
            (to - from, format!("{} {what} {}", line.address, signed(to - from)))
        })
        .collect();
    // The largest first; a plan that creates the whole stack names three and counts the rest.
    changed.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
    let more = changed.len().saturating_sub(SHOWN);
    let mut parts: Vec<String> = changed.into_iter().take(SHOWN).map(|(_, s)| s).collect();
    if more > 0 {
        parts.push(format!("and {more} more line(s) (`containrlab cost` lists them)"));
    }
    if !c.not_priced.is_empty() {
        let list: Vec<String> = c.not_priced.iter().map(ToString::to_string).collect();
        parts.push(format!("not priced (size not reported): {}", list.join(", ")));
    }
    if c.targeted {
        return Some(format!(
            "Monthly cost of the targeted changes: {}/month: {}",
            signed(c.delta()),
            parts.join("; ")
        ));
    }
    Some(format!(
        "Monthly cost: {} → {} ({}/month): {}",
        dollars(c.before),
        dollars(c.after),
        signed(c.delta()),
        parts.join("; ")
    ))
}

pub fn change_json(c: &CostChange) -> Value {
    // A targeted plan's totals count the untargeted changes as done: only its difference is given.
    let total = |v: f64| if c.targeted { Value::Null } else { json!(round(v)) };
    json!({
        "before": total(c.before),
        "after": total(c.after),
        "targeted": c.targeted,
        "change": round(c.delta()),
        "lines": c.lines.iter().map(|(b, a)| json!({
            "address": a.as_ref().or(b.as_ref()).map(|l| l.address.to_string()),
            "item": a.as_ref().or(b.as_ref()).map(|l| l.item.clone()),
            "before": b.as_ref().map(|l| json!({"what": l.what, "monthly": round(l.monthly)})),
            "after": a.as_ref().map(|l| json!({"what": l.what, "monthly": round(l.monthly)})),
        })).collect::<Vec<_>>(),
        "not_priced": c.not_priced.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}
