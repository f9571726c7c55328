//! Counts API calls per service and operation, through an SDK interceptor on every client.
//!
//! `-v` prints the totals at the end of a command; `CONTAINRLAB_API_STATS=<file>` writes them as
//! JSON (the tests use it to prove a converged `up` makes no mutating call). A call is counted
//! once per operation, not per retry attempt.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

static CALLS: LazyLock<Mutex<BTreeMap<String, u64>>> = LazyLock::new(Default::default);

#[derive(Debug, Clone, Copy)]
pub struct ApiCallCounter;

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
            let key = format!("{}:{}", meta.service(), meta.name());
            *CALLS.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default() += 1;
        }
        Ok(())
    }
}

/// `service:Operation` → number of calls so far.
pub fn snapshot() -> BTreeMap<String, u64> {
    CALLS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Reads are Describe*/List*/Get*; everything else changes something.
pub fn is_mutating(key: &str) -> bool {
    let op = key.rsplit(':').next().unwrap_or(key);
    !["Describe", "List", "Get"].iter().any(|p| op.starts_with(p))
}

pub fn summary(calls: &BTreeMap<String, u64>) -> String {
    let total: u64 = calls.values().sum();
    let mutating: u64 = calls.iter().filter(|(k, _)| is_mutating(k)).map(|(_, v)| v).sum();
    let detail: Vec<String> = calls.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("API calls: {total} ({mutating} mutating): {}", detail.join(" "))
}

/// Writes the counts to `CONTAINRLAB_API_STATS` when it is set.
pub fn write_if_requested() -> std::io::Result<()> {
    let Some(path) = std::env::var_os("CONTAINRLAB_API_STATS") else {
        return Ok(());
    };
    let json = serde_json::to_string_pretty(&snapshot()).unwrap_or_default();
    std::fs::write(path, json)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_and_writes_are_told_apart_by_operation_name() {
        assert!(!super::is_mutating("ECR:DescribeRepositories"));
        assert!(!super::is_mutating("SSM:GetParameters"));
        assert!(super::is_mutating("ECR:PutLifecyclePolicy"));
        assert!(super::is_mutating("CloudWatch Logs:TagResource"));
    }
}
