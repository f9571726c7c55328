//! Counts API calls per service and operation, and the sequential rounds they took, through an SDK
//! interceptor on every client.
//!
//! `-v` prints the totals at the end of a command; `CONTAINRLAB_API_STATS=<file>` writes them as
//! JSON (the tests use it to prove a converged `up` makes no mutating call). A call is counted
//! once per operation, not per retry attempt. "Rounds" is the longest chain of calls in which each
//! started only after the previous one had finished: the latency floor of the command.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

struct Call {
    key: String,
    start: Instant,
    end: Option<Instant>,
}

static CALLS: LazyLock<Mutex<Vec<Call>>> = LazyLock::new(Default::default);

fn calls() -> std::sync::MutexGuard<'static, Vec<Call>> {
    CALLS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Which record in `CALLS` belongs to the operation running with this config bag.
#[derive(Debug, Clone, Copy)]
struct CallIndex(usize);

impl Storable for CallIndex {
    type Storer = StoreReplace<Self>;
}

/// Counts the calls of the clients it is attached to; `label` names them instead of the service
/// (the stack lock's calls are `SSM (lock)`, kept apart from the stack's own).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiCallCounter {
    pub label: Option<&'static str>,
}

/// The service name the stack lock's calls are counted under.
pub const LOCK: &str = "SSM (lock)";

impl Intercept for ApiCallCounter {
    fn name(&self) -> &'static str {
        "ApiCallCounter"
    }

    /// Runs once per operation, after the operation's configuration (its `Metadata`) is in place.
    fn read_before_serialization(
        &self,
        _ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            let key = format!("{}:{}", self.label.unwrap_or(meta.service()), meta.name());
            let mut all = calls();
            all.push(Call { key, start: Instant::now(), end: None });
            cfg.interceptor_state().store_put(CallIndex(all.len() - 1));
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        _ctx: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(CallIndex(i)) = cfg.load::<CallIndex>().copied() {
            if let Some(call) = calls().get_mut(i) {
                call.end = Some(Instant::now());
            }
        }
        Ok(())
    }
}

/// What the calls so far add up to.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// `service:Operation` → number of calls.
    pub calls: BTreeMap<String, u64>,
    pub total: u64,
    pub mutating: u64,
    pub rounds: usize,
    /// Every wait for AWS to catch up (`aws::consistency`), in the order they began.
    pub consistency: Vec<super::consistency::Waited>,
}

pub fn snapshot() -> Stats {
    let all = calls();
    let mut counts = BTreeMap::new();
    for c in all.iter() {
        *counts.entry(c.key.clone()).or_insert(0u64) += 1;
    }
    let spans: Vec<(Instant, Instant)> = all.iter().map(|c| (c.start, c.end.unwrap_or(c.start))).collect();
    Stats {
        total: counts.values().sum(),
        mutating: counts.iter().filter(|(k, _)| is_mutating(k)).map(|(_, v)| v).sum(),
        calls: counts,
        rounds: rounds(&spans),
        consistency: super::consistency::waited(),
    }
}

/// Longest chain of calls each starting after the previous ended.
fn rounds(spans: &[(Instant, Instant)]) -> usize {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| spans[i].0);
    let mut depth = vec![0usize; spans.len()];
    for (n, &i) in order.iter().enumerate() {
        let before = order[..n].iter().filter(|&&j| spans[j].1 <= spans[i].0).map(|&j| depth[j]).max();
        depth[i] = before.unwrap_or(0) + 1;
    }
    depth.into_iter().max().unwrap_or(0)
}

/// Reads are Describe*/List*/Get*/Filter*; everything else changes something — except the stack lock's
/// calls, which change no resource of the stack.
pub fn is_mutating(key: &str) -> bool {
    if key.starts_with(&format!("{LOCK}:")) {
        return false;
    }
    let op = key.rsplit(':').next().unwrap_or(key);
    // Reads that do not start like one: ECR's BatchGetImage, BatchCheckLayerAvailability, and
    // CloudWatch Logs' FilterLogEvents.
    !["Describe", "List", "Get", "BatchGet", "BatchCheck", "Filter"].iter().any(|p| op.starts_with(p))
}

/// The totals on one line, then one line per service: `  ECR 9: DescribeRepositories 1, …`.
pub fn summary(stats: &Stats) -> String {
    let mut per_service: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
    for (key, n) in &stats.calls {
        let (service, op) = key.rsplit_once(':').unwrap_or(("?", key));
        per_service.entry(service).or_default().push((op, *n));
    }
    let mut out =
        format!("API calls: {} ({} mutating) in {} sequential round(s)", stats.total, stats.mutating, stats.rounds);
    for (service, ops) in per_service {
        let total: u64 = ops.iter().map(|(_, n)| n).sum();
        let list: Vec<String> = ops.iter().map(|(op, n)| format!("{op} {n}")).collect();
        out.push_str(&format!("\n  {service} {total}: {}", list.join(", ")));
    }
    for w in &stats.consistency {
        out.push_str(&format!(
            "\nwaited {:.1}s for AWS to catch up: {} ({} {}, {}: {} lagging answer(s), {})",
            w.seconds, w.rule, w.call, w.after, w.address, w.lagged, w.outcome
        ));
    }
    out
}

/// Writes the figures to `CONTAINRLAB_API_STATS` when it is set.
pub fn write_if_requested() -> std::io::Result<()> {
    let Some(path) = std::env::var_os("CONTAINRLAB_API_STATS") else { return Ok(()) };
    let json = serde_json::to_string_pretty(&snapshot()).unwrap_or_default();
    std::fs::write(path, json)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn reads_and_writes_are_told_apart_by_operation_name() {
        assert!(!is_mutating("ECR:DescribeRepositories"));
        assert!(!is_mutating("SSM:GetParameters"));
        assert!(!is_mutating("ECR:BatchGetImage"));
        assert!(is_mutating("ECR:PutLifecyclePolicy"));
        assert!(is_mutating("CloudWatch Logs:TagResource"));
        assert!(!is_mutating("SSM (lock):PutParameter"), "the lock changes no resource of the stack");
    }

    #[test]
    fn rounds_count_the_longest_chain_of_sequential_calls() {
        let t0 = Instant::now();
        let at = |a: u64, b: u64| (t0 + Duration::from_millis(a), t0 + Duration::from_millis(b));
        // Two overlapping calls, then one after both, then two overlapping again: 3 rounds.
        let spans = [at(0, 10), at(1, 9), at(11, 20), at(21, 30), at(22, 31)];
        assert_eq!(rounds(&spans), 3);
        assert_eq!(rounds(&[]), 0);
        assert_eq!(rounds(&[at(0, 5), at(1, 6), at(2, 7)]), 1);
    }

    #[test]
    fn the_summary_has_one_line_per_service() {
        let calls: BTreeMap<String, u64> =
            [("ECR:DescribeRepositories", 1), ("ECR:ListTagsForResource", 4), ("STS:GetCallerIdentity", 1)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        let stats = Stats { calls, total: 6, mutating: 0, rounds: 2, consistency: Vec::new() };
        assert_eq!(
            summary(&stats),
            "API calls: 6 (0 mutating) in 2 sequential round(s)\n  ECR 5: DescribeRepositories 1, ListTagsForResource 4\n  STS 1: GetCallerIdentity 1"
        );
    }
}
