//! Tests only: an SDK client of any service whose answers are canned (aws-smithy-mocks), for what
//! moto cannot produce (AWS's races and errors). `canned_client!(aws_sdk_acm, &[&rule, …])`.

/// A client of the SDK crate `$sdk` answering with `rules` (matched in any order), in us-east-1
/// with dummy credentials.
macro_rules! canned_client {
    ($sdk:ident, $rules:expr) => {{
        let rules: &[&aws_smithy_mocks::Rule] = $rules;
        let interceptor = rules.iter().fold(
            aws_smithy_mocks::MockResponseInterceptor::new().rule_mode(aws_smithy_mocks::RuleMode::MatchAny),
            |i, r| i.with_rule(r),
        );
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("us-east-1"))
            .credentials_provider($sdk::config::Credentials::new("a", "b", None, None, "test"))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build();
        $sdk::Client::from_conf(config)
    }};
}

pub(crate) use canned_client;
