//! AWS access in one place: configuration (region, profile, endpoint), the clients, the account,
//! and the API-call counter every client carries.
//!
//! Invariants: the standard SDK configuration applies (credential chain, `AWS_PROFILE`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL` and per-service `AWS_ENDPOINT_URL_<SERVICE>`); flags only
//! override it. Region precedence: `--region`, then `AWS_REGION`/`AWS_DEFAULT_REGION`, then the
//! stack file's `region`, then the profile's.

#[cfg(test)]
pub mod canned;
pub mod consistency;
pub mod error;
pub mod lock;
pub mod once;
pub mod stats;
pub mod wait;

use anyhow::{Context, Result};
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// The stack file's `region`.
    pub stack_region: Option<String>,
}

/// Where the calls go and as whom, for messages that name them.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// `--endpoint-url` / `AWS_ENDPOINT_URL`, when set.
    pub endpoint_url: Option<String>,
    pub region: String,
    /// The selected profile and whether it signs in through SSO.
    pub profile: Option<(String, bool)>,
}

/// Clients for every service the reconcilers use, sharing one configuration.
#[derive(Clone)]
pub struct Clients {
    pub origin: Origin,
    pub acm: aws_sdk_acm::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub route53: aws_sdk_route53::Client,
    /// Route 53 Domains, served in us-east-1 only: the registrar side of the delegation check.
    pub route53domains: aws_sdk_route53domains::Client,
    pub iam: aws_sdk_iam::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub sns: aws_sdk_sns::Client,
    /// Read by `doctor` only (the quotas a first `up` needs).
    pub servicequotas: aws_sdk_servicequotas::Client,
    /// SSM for the stack lock only: its calls are counted apart (`stats::LOCK`).
    pub lock: aws_sdk_ssm::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub sts: aws_sdk_sts::Client,
    /// The caller's identity, read once and shared by every clone (`identity`).
    identity: std::sync::Arc<tokio::sync::OnceCell<Identity>>,
}

pub struct Aws {
    pub clients: Clients,
    pub region: String,
    /// Where the region came from, for messages: `--region`, `AWS_REGION`, `the stack file`, …
    pub region_source: String,
}

pub async fn connect(opts: &AwsOptions) -> Result<Aws> {
    let selected = opts.profile.clone().or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
    let profile = match &selected {
        Some(name) => Some((name.clone(), check_profile(name).await?)),
        None => None,
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(5))
        .timeout_config(timeouts());
    if let Some(profile) = &opts.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let env_region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()).map(|r| (r, v.to_string())));
    let chosen = opts
        .region
        .clone()
        .map(|r| (r, "--region".to_string()))
        .or(env_region)
        .or_else(|| opts.stack_region.clone().map(|r| (r, "the stack file".to_string())));
    let region_source = chosen.as_ref().map(|(_, s)| s.clone()).unwrap_or_else(|| "the profile".into());
    if let Some((region, _)) = chosen {
        loader = loader.region(Region::new(region));
    }
    let config = loader.load().await;
    let region = config
        .region()
        .map(|r| r.to_string())
        .context("no AWS region: pass --region, set AWS_REGION, or set `region` in the stack file")?;
    let origin = Origin { endpoint_url: config.endpoint_url().map(str::to_string), region: region.clone(), profile };
    Ok(Aws { clients: clients(&config, origin), region, region_source })
}

/// Every call has a deadline: a hung endpoint becomes an error naming the call, never a wait
/// forever. Per attempt `CONTAINRLAB_CALL_TIMEOUT_SECONDS` (default 30 s), per call with its
/// retries `CONTAINRLAB_OPERATION_TIMEOUT_SECONDS` (default 120 s); connecting 10 s at most.
fn timeouts() -> aws_config::timeout::TimeoutConfig {
    let seconds = |var: &str, default: u64| wait::seconds_from_env(var, std::time::Duration::from_secs(default));
    let attempt = seconds("CONTAINRLAB_CALL_TIMEOUT_SECONDS", 30);
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(attempt.min(std::time::Duration::from_secs(10)))
        .operation_attempt_timeout(attempt)
        .operation_timeout(seconds("CONTAINRLAB_OPERATION_TIMEOUT_SECONDS", 120))
        .build()
}

/// The named profile must exist in the config or credentials file; `true` when it signs in
/// through SSO (so a credentials failure can name `aws sso login`).
async fn check_profile(name: &str) -> Result<bool> {
    use aws_types::os_shim_internal::{Env, Fs};
    let profiles = aws_config::profile::load(
        &Fs::real(),
        &Env::real(),
        &aws_runtime::env_config::file::EnvConfigFiles::default(),
        None,
    )
    .await
    .map_err(|e| anyhow::anyhow!("reading the AWS config files: {}", describe(&e)))?;
    let Some(profile) = profiles.get_profile(name) else {
        let file = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.to_string());
        let known: Vec<&str> = profiles.profiles().collect();
        let known =
            if known.is_empty() { "none are defined".to_string() } else { format!("defined: {}", known.join(", ")) };
        anyhow::bail!(
            "AWS profile `{name}` not found in {} or {} ({known}); fix --profile / AWS_PROFILE, or create it with `aws configure --profile {name}`",
            file("AWS_CONFIG_FILE", "~/.aws/config"),
            file("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        );
    };
    Ok(profile.get("sso_session").is_some() || profile.get("sso_start_url").is_some())
}

fn clients(config: &SdkConfig, origin: Origin) -> Clients {
    let counter = stats::ApiCallCounter::default();
    let lock_counter = stats::ApiCallCounter { label: Some(stats::LOCK) };
    Clients {
        origin,
        acm: aws_sdk_acm::Client::from_conf(aws_sdk_acm::config::Builder::from(config).interceptor(counter).build()),
        autoscaling: aws_sdk_autoscaling::Client::from_conf(
            aws_sdk_autoscaling::config::Builder::from(config).interceptor(counter).build(),
        ),
        cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(config).interceptor(counter).build(),
        ),
        iam: aws_sdk_iam::Client::from_conf(aws_sdk_iam::config::Builder::from(config).interceptor(counter).build()),
        route53: aws_sdk_route53::Client::from_conf(
            aws_sdk_route53::config::Builder::from(config).interceptor(counter).build(),
        ),
        route53domains: aws_sdk_route53domains::Client::from_conf(
            aws_sdk_route53domains::config::Builder::from(config)
                .region(Region::new("us-east-1"))
                .interceptor(counter)
                .build(),
        ),
        ec2: aws_sdk_ec2::Client::from_conf(aws_sdk_ec2::config::Builder::from(config).interceptor(counter).build()),
        ecr: aws_sdk_ecr::Client::from_conf(aws_sdk_ecr::config::Builder::from(config).interceptor(counter).build()),
        ecs: aws_sdk_ecs::Client::from_conf(aws_sdk_ecs::config::Builder::from(config).interceptor(counter).build()),
        elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(
            aws_sdk_elasticloadbalancingv2::config::Builder::from(config).interceptor(counter).build(),
        ),
        ssm: aws_sdk_ssm::Client::from_conf(aws_sdk_ssm::config::Builder::from(config).interceptor(counter).build()),
        sns: aws_sdk_sns::Client::from_conf(aws_sdk_sns::config::Builder::from(config).interceptor(counter).build()),
        servicequotas: aws_sdk_servicequotas::Client::from_conf(
            aws_sdk_servicequotas::config::Builder::from(config).interceptor(counter).build(),
        ),
        lock: aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::config::Builder::from(config).interceptor(lock_counter).build(),
        ),
        logs: aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(config).interceptor(counter).build(),
        ),
        tagging: aws_sdk_resourcegroupstagging::Client::from_conf(
            aws_sdk_resourcegroupstagging::config::Builder::from(config).interceptor(counter).build(),
        ),
        sts: aws_sdk_sts::Client::from_conf(aws_sdk_sts::config::Builder::from(config).interceptor(counter).build()),
        identity: Default::default(),
    }
}

/// Who the credentials are: the account (shown in the plan header) and the caller's ARN (the
/// holder named by the stack lock).
#[derive(Debug, Clone)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

impl Identity {
    /// The partition the caller's ARN names (`aws`, `aws-cn`, `aws-us-gov`): the one the
    /// account's own ARNs are in.
    pub fn partition(&self) -> &str {
        self.arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws")
    }
}

impl Clients {
    /// The caller's identity, read once per run (every caller after the first waits for its answer;
    /// a failed read is tried again by the next caller).
    pub async fn identity(&self) -> Result<&Identity> {
        self.identity.get_or_try_init(|| self.read_identity()).await
    }

    /// The identity when it has been read already.
    pub fn known_identity(&self) -> Option<&Identity> {
        self.identity.get()
    }

    async fn read_identity(&self) -> Result<Identity> {
        let identity = self.sts.get_caller_identity().send().await.map_err(|e| match error::transport(&e) {
            Some(t) => {
                let o = &self.origin;
                let endpoint = error::endpoint_of(o.endpoint_url.as_deref(), "sts", &o.region);
                let profile = o.profile.as_ref().map(|(n, sso)| (n.as_str(), *sso));
                anyhow::anyhow!("{}", error::explain(&t, &endpoint, "STS GetCallerIdentity", profile))
            }
            None => anyhow::anyhow!("reading the caller identity (STS): {}", describe(&e)),
        })?;
        let account = identity.account().context("STS returned no account id")?.to_string();
        Ok(Identity { account, arn: identity.arn().unwrap_or("(unknown caller)").to_string() })
    }
}

/// An idempotency token (EC2 `ClientToken` and the like) derived from the stack, the address, the
/// spec and this run's start time: the SDK's own retries of a create resend the same token, so AWS
/// makes no second resource. It deliberately differs between runs: EC2 answers a reused token
/// with the original resource for hours, even after that resource was deleted, so a token fixed
/// per address would make "re-create what someone deleted" return the deleted one. Across runs
/// (a crash, then `up` again) duplicates are prevented by looking the resource up by its tag first.
/// FNV-1a keeps the hash stable across builds and platforms.
pub fn client_token(parts: &[&str]) -> String {
    static RUN: std::sync::LazyLock<u128> = std::sync::LazyLock::new(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default()
    });
    let text = format!("{}\n{}", *RUN, parts.join("\n"));
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("containrlab-{hash:016x}")
}

pub use error::describe;

/// Runs `f` over `items` with at most `limit` requests in flight, keeping the input order.
pub async fn concurrent<T, R, F, Fut>(items: impl IntoIterator<Item = T>, limit: usize, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R>,
{
    use futures::stream::StreamExt;
    futures::stream::iter(items.into_iter().map(f)).buffered(limit.max(1)).collect().await
}

#[cfg(test)]
mod tests {
    #[test]
    fn client_tokens_are_stable_within_a_run_and_depend_on_every_part() {
        let a = super::client_token(&["containrlab", "nat_gateway.public-a", "subnet-1"]);
        assert_eq!(a, super::client_token(&["containrlab", "nat_gateway.public-a", "subnet-1"]));
        assert_ne!(a, super::client_token(&["containrlab", "nat_gateway.public-a", "subnet-2"]));
        assert!(a.starts_with("containrlab-") && a.len() <= 64, "EC2 accepts up to 64 ASCII characters: {a}");
    }
}
