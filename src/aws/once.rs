//! Calls that must not be repeated blindly: creates without an idempotency token (`CreateVpc`,
//! `CreateSubnet`, `CreateInternetGateway`, `AllocateAddress`, `CreateSecurityGroup`,
//! `RegisterTaskDefinition`), whose repeat makes a duplicate; and calls whose repeat fails
//! although the first one worked (`AttachInternetGateway`, `AssociateRouteTable`, `CreateRoute`,
//! `AuthorizeSecurityGroupIngress/Egress`, `CreateRule`, `AddRoleToInstanceProfile`,
//! `CreateHostedZone` — AWS answers a repeated CallerReference with `HostedZoneAlreadyExists`).
//! EC2 NAT gateway and route table creates, and `CreateLoadBalancer`, are sent once too although
//! AWS deduplicates them (client token, name): the lookup below works without relying on that,
//! and moto honours neither, so the emulator tests exercise the same path AWS would need.
//! The SDK's automatic retry would repeat a call whose answer was lost (a 5xx after AWS
//! committed it, a dropped connection), so it is off for these.
//!
//! Invariants: only a throttled attempt — refused before AWS did anything — is sent again here.
//! Any other failure reaches the step (`ErrorKind::NoAnswer` / `ServerError`), and `up` reads the
//! stack again, finding by its tags whatever the lost call made, before anything is retried.
//! Creates AWS answers a repeat of with the first result (launch template and service with a
//! token, certificate with its idempotency token, target group and cluster by name) or with an
//! "already exists" the step reports as possibly done (roles, repositories, parameters, log
//! groups) keep the SDK's retry.

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::error::{kind, ErrorKind};

macro_rules! sent_once {
    ($($(#[$doc:meta])* $name:ident => $sdk:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name() -> $sdk::config::Builder {
            $sdk::config::Builder::default().retry_config(RetryConfig::disabled())
        }
    )*};
}

sent_once! {
    /// EC2 configuration for a call sent once (`.customize().config_override(once::ec2())`).
    ec2 => aws_sdk_ec2,
    /// ECS configuration for a call sent once.
    ecs => aws_sdk_ecs,
    /// Elastic Load Balancing configuration for a call sent once.
    elb => aws_sdk_elasticloadbalancingv2,
    /// IAM configuration for a call sent once.
    iam => aws_sdk_iam,
    /// Route 53 configuration for a call sent once.
    route53 => aws_sdk_route53,
}

/// Sends `op`, again only while AWS throttles it (up to 8 attempts, backing off from 0.5 s).
pub async fn send<T, E, F, Fut>(mut op: F) -> Result<T, E>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut pause = Duration::from_millis(500);
    for _ in 1..8 {
        match op().await {
            Err(e) if kind(&e) == ErrorKind::Throttled => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
            }
            other => return other,
        }
    }
    op().await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn error(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).build()
    }

    #[tokio::test(start_paused = true)]
    async fn only_throttling_is_sent_again() {
        let calls = AtomicU32::new(0);
        let r: Result<u32, ErrorMetadata> = send(|| async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n < 2 {
                Err(error("RequestLimitExceeded"))
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!(r.ok(), Some(2));
        calls.store(0, Ordering::SeqCst);
        let r: Result<u32, ErrorMetadata> = send(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(error("InternalError"))
        })
        .await;
        assert_eq!(r.err().and_then(|e| e.code().map(str::to_string)).as_deref(), Some("InternalError"));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a server error is never repeated here");
    }
}
