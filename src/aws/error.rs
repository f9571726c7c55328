//! What went wrong with an AWS call, told by the error's type and code — never by its message
//! text — and worded so an operator can act on it.
//!
//! Invariant: the raw HTTP response never reaches a message (`describe` walks the error's causes,
//! not its debug form), so nothing the SDK captured (headers, bodies) is printed.

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::error::ErrorMetadata;

/// What an AWS error means for the tool, from its error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The resource is not there (deleted already, or never made): success for a delete.
    NotFound,
    AlreadyExists,
    /// Something still uses it (network interfaces draining, a listener holding a certificate).
    DependencyViolation,
    Throttled,
    AccessDenied,
    /// AWS failed on its side (5xx): the call may or may not have been carried out.
    ServerError,
    /// No answer at all (dropped connection, timeout, an unreadable response): the call may or
    /// may not have been carried out.
    NoAnswer,
    Other,
}

/// Codes that mean "not there" but do not say so in their name.
const NOT_FOUND: &[&str] =
    &["NoSuchEntity", "NoSuchHostedZone", "NoSuchChange", "ServiceNotActiveException", "Gateway.NotAttached"];
const ALREADY_EXISTS: &[&str] = &[
    "EntityAlreadyExists",
    "AlreadyExists",
    "InvalidGroup.Duplicate",
    "DuplicateLoadBalancerName",
    "DuplicateTargetGroupName",
    "HostedZoneAlreadyExists",
    "ParameterAlreadyExists",
    // What a repeat of a call that worked is answered with.
    "InvalidPermission.Duplicate",
    "Resource.AlreadyAssociated",
    "PriorityInUse",
    "PriorityInUseException",
];
const IN_USE: &[&str] = &["DependencyViolation", "ResourceInUse", "ResourceInUseException", "DeleteConflict"];
const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "PriorRequestNotComplete",
];
const SERVER: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceError",
    "InternalServiceException",
    "ServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
];
const DENIED: &[&str] = &["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure"];

/// Classifies an error code: exact lists, plus the naming AWS services use for "not found"
/// (`…NotFound`, `…NotFoundException`, `InvalidX.NotFound…`) and "already exists".
pub fn kind_of_code(code: Option<&str>) -> ErrorKind {
    let Some(code) = code else { return ErrorKind::Other };
    let has = |list: &[&str]| list.contains(&code);
    if has(NOT_FOUND) || code.ends_with("NotFound") || code.ends_with("NotFoundException") || code.contains(".NotFound")
    {
        ErrorKind::NotFound
    } else if has(ALREADY_EXISTS) || code.ends_with("AlreadyExistsException") || code.ends_with("AlreadyExists") {
        ErrorKind::AlreadyExists
    } else if has(IN_USE) {
        ErrorKind::DependencyViolation
    } else if has(THROTTLED) {
        ErrorKind::Throttled
    } else if has(DENIED) {
        ErrorKind::AccessDenied
    } else if has(SERVER) {
        ErrorKind::ServerError
    } else {
        ErrorKind::Other
    }
}

/// The kind of any SDK error (or a service error of any SDK) by its code.
pub fn kind<E: ProvideErrorMetadata>(e: &E) -> ErrorKind {
    kind_of_code(e.code())
}

/// Access denied: by its code, or by HTTP 403 when the error body could not be read (AWS
/// answers every authorization failure with 403, in every protocol; moto's for JSON-protocol
/// services is an XML body the SDK cannot parse).
pub fn is_denied<E: ProvideErrorMetadata>(
    e: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> bool {
    kind(e) == ErrorKind::AccessDenied || e.raw_response().is_some_and(|r| r.status().as_u16() == 403)
}

pub fn is_not_found<E: ProvideErrorMetadata>(e: &E) -> bool {
    kind(e) == ErrorKind::NotFound
}

/// The message of an SDK error with its causes — the service's code and message, not just
/// "service error" — without the raw HTTP response the SDK's debug form would add.
pub fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        // An error AWS answered that the SDK has no type for ("unhandled error (CODE)") carries
        // its code and message as metadata, whose own text is a debug dump: worded here instead.
        if let Some(meta) = e.downcast_ref::<ErrorMetadata>() {
            if parts.last().is_some_and(|p| p.starts_with("unhandled error (")) {
                parts.pop();
            }
            parts.push(code_and_message(meta.code(), meta.message()));
            break;
        }
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        current = e.source();
    }
    let text = parts.join(": ");
    match not_permitted(&text) {
        Some(lead) => format!("{lead} ({text})"),
        None => text,
    }
}

/// `CODE: message`, as AWS's own CLI words an error.
fn code_and_message(code: Option<&str>, message: Option<&str>) -> String {
    match (code, message.filter(|m| !m.is_empty())) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        (None, Some(m)) => m.to_string(),
        (None, None) => "AWS gave no code or message".to_string(),
    }
}

/// `not permitted: ACTION for IDENTITY` from AWS's access-denied wording ("User: ARN is not
/// authorized to perform: ACTION …"), so the missing permission leads the message. Display
/// only: errors are classified by their code, never by this.
fn not_permitted(text: &str) -> Option<String> {
    let marker = "is not authorized to perform: ";
    let at = text.find(marker)?;
    let action: String = text[at + marker.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '-' || *c == '*')
        .collect();
    if action.is_empty() {
        return None;
    }
    let before = &text[..at];
    let identity = before.rfind("User: ").map(|u| before[u + 6..].trim());
    Some(match identity {
        Some(who) if !who.is_empty() => format!("not permitted: {action} for {who}"),
        _ => format!("not permitted: {action}"),
    })
}

/// A failed step of `up`/`down`, in one wording: `creating ECR repository containrlab-api: <cause>`,
/// and a hint where the fix is known. Carried inside `anyhow::Error`; `kind` lets the runner treat
/// NotFound on a delete as done.
#[derive(Debug)]
pub struct ApplyError {
    pub address: crate::model::Address,
    /// What was being done, as a verb phrase: `creating`, `setting the lifecycle policy of`.
    pub operation: String,
    pub kind: ErrorKind,
    /// AWS's error code and message, as answered (what the consistency rules match).
    pub code: Option<String>,
    pub message: Option<String>,
    pub cause: String,
    pub hint: Option<&'static str>,
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = &self.address;
        write!(f, "{} {} {}: {}", self.operation, a.kind.noun(), a.name, self.cause)?;
        if let Some(hint) = self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl StdError for ApplyError {}

/// The error of an AWS call made while `operation` on `address`, classified by its code.
pub fn failed<E>(operation: &str, address: &crate::model::Address, e: &E) -> anyhow::Error
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    // An SDK error without a service code never got an answer AWS could be read from.
    let kind = if e.code().is_none() { ErrorKind::NoAnswer } else { kind(e) };
    let hint = match kind {
        ErrorKind::AccessDenied => Some(
            "the identity running containrlab may not make this call: grant the permission, or use another profile",
        ),
        ErrorKind::Throttled => Some("AWS kept throttling after the SDK's retries: run the command again"),
        ErrorKind::DependencyViolation => Some("something still uses it: run the command again once it is released"),
        ErrorKind::ServerError | ErrorKind::NoAnswer => Some(
            "AWS may or may not have carried this out; the stack is read again (by its tags) before anything is retried",
        ),
        _ => None,
    };
    ApplyError {
        address: address.clone(),
        operation: operation.to_string(),
        kind,
        code: e.code().map(str::to_string),
        message: e.message().map(str::to_string),
        cause: describe(e),
        hint,
    }
    .into()
}

/// A create (or other) response that lacks the field the tool needs next.
pub fn missing(operation: &str, address: &crate::model::Address, field: &str) -> anyhow::Error {
    let cause = format!("the response has no {field}");
    ApplyError {
        address: address.clone(),
        operation: operation.to_string(),
        kind: ErrorKind::Other,
        code: None,
        message: None,
        cause,
        hint: None,
    }
    .into()
}

/// A refusal AWS answered inside a successful response (EC2's `Unsuccessful` items), worded and
/// classified like an error answer with the same code.
pub fn refused(
    operation: &str,
    address: &crate::model::Address,
    code: Option<&str>,
    message: Option<&str>,
) -> anyhow::Error {
    ApplyError {
        address: address.clone(),
        operation: operation.to_string(),
        kind: kind_of_code(code),
        code: code.map(str::to_string),
        message: message.map(str::to_string),
        cause: format!("AWS refused it: {}", code_and_message(code, message)),
        hint: None,
    }
    .into()
}

/// `Some(value)` or the error naming the operation and the missing field.
pub fn required<T>(
    value: Option<T>,
    operation: &str,
    address: &crate::model::Address,
    field: &str,
) -> anyhow::Result<T> {
    value.ok_or_else(|| missing(operation, address, field))
}

/// True when a failed step's call may have been carried out although it failed (no answer, a
/// server error, or "already exists" after the SDK repeated a create whose answer was lost), or
/// was refused before anything happened (throttled): reading the stack again tells which.
pub fn may_have_taken_effect(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApplyError>().is_some_and(|a| {
        matches!(a.kind, ErrorKind::ServerError | ErrorKind::NoAnswer | ErrorKind::AlreadyExists | ErrorKind::Throttled)
    })
}

/// True when `e` is an AWS NotFound (the resource is already gone).
pub fn is_gone(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApplyError>().is_some_and(|a| a.kind == ErrorKind::NotFound)
}

/// True when `e` is AWS saying something still uses the resource.
pub fn is_in_use(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApplyError>().is_some_and(|a| a.kind == ErrorKind::DependencyViolation)
}

/// `e` with `detail` added to its cause (what still uses it, say), its wording otherwise kept.
pub fn with_detail(mut e: anyhow::Error, detail: &str) -> anyhow::Error {
    if let Some(a) = e.downcast_mut::<ApplyError>() {
        a.cause = format!("{}; {detail}", a.cause);
        return e;
    }
    e.context(detail.to_string())
}

/// Why a call never reached an answer from AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// The credential chain found nothing usable (its message says what it tried).
    NoCredentials(String),
    /// No connection to the endpoint (refused, DNS, TLS).
    Unreachable(String),
    /// The endpoint did not answer in time.
    TimedOut(String),
}

/// `Some` when the call failed before AWS answered: credentials, connection or timeout.
pub fn transport<E, R>(err: &SdkError<E, R>) -> Option<Transport>
where
    E: StdError + 'static,
    R: std::fmt::Debug + 'static,
{
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            return Some(Transport::NoCredentials(describe(c)));
        }
        cause = e.source();
    }
    match err {
        SdkError::DispatchFailure(d) if d.is_timeout() => Some(Transport::TimedOut(describe(err))),
        SdkError::DispatchFailure(d) if d.is_io() || d.is_other() => Some(Transport::Unreachable(describe(err))),
        SdkError::TimeoutError(_) => Some(Transport::TimedOut(describe(err))),
        _ => None,
    }
}

/// Where calls go, for messages: the configured endpoint, or AWS's own for `service`.
pub fn endpoint_of(endpoint_url: Option<&str>, service: &str, region: &str) -> String {
    endpoint_url.map(str::to_string).unwrap_or_else(|| format!("https://{service}.{region}.amazonaws.com"))
}

/// A local endpoint (an emulator) rather than AWS.
fn is_local(endpoint: &str) -> bool {
    let host = endpoint.split("://").nth(1).unwrap_or(endpoint);
    ["localhost", "127.", "[::1]", "0.0.0.0"].iter().any(|p| host.starts_with(p))
}

/// The sentence an operator reads for a transport failure, with the fix.
/// `profile` is the selected profile and whether it signs in through SSO.
pub fn explain(t: &Transport, endpoint: &str, operation: &str, profile: Option<(&str, bool)>) -> String {
    match t {
        Transport::NoCredentials(detail) => {
            let fix = match profile {
                Some((name, true)) => format!(
                    "the SSO session of profile `{name}` has expired or was never started: run `aws sso login --profile {name}`"
                ),
                Some((name, false)) => {
                    format!("check the credentials of profile `{name}` (`aws configure list --profile {name}`)")
                }
                None => "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or choose a profile with --profile or AWS_PROFILE (`aws sso login` for SSO profiles)".to_string(),
            };
            format!("no usable AWS credentials: {fix}\n  (the credential chain said: {})", first_line(detail))
        }
        Transport::Unreachable(detail) => {
            let hint = if is_local(endpoint) {
                "is the emulator running? Start it with `scripts/moto start`, or check --endpoint-url / AWS_ENDPOINT_URL"
            } else {
                "check the network, a proxy (HTTPS_PROXY), and --endpoint-url / AWS_ENDPOINT_URL"
            };
            format!("cannot reach {endpoint}: {hint}\n  (cause: {})", first_line(detail))
        }
        Transport::TimedOut(detail) => {
            format!(
                "{endpoint} did not answer {operation} in time (limits: CONTAINRLAB_CALL_TIMEOUT_SECONDS per attempt, CONTAINRLAB_OPERATION_TIMEOUT_SECONDS per call): check the network or the endpoint\n  (cause: {})",
                first_line(detail)
            )
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn error(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    #[test]
    fn access_denied_leads_with_the_missing_permission_and_the_identity() {
        let text = "AccessDenied: User: arn:aws:sts::123456789012:assumed-role/containrlab/github-actions-deploy/ci is not authorized to perform: ec2:DescribeVpcs because no identity-based policy allows it";
        assert_eq!(
            not_permitted(text).as_deref(),
            Some("not permitted: ec2:DescribeVpcs for arn:aws:sts::123456789012:assumed-role/containrlab/github-actions-deploy/ci")
        );
        assert_eq!(
            not_permitted("is not authorized to perform: ssm:PutParameter").as_deref(),
            Some("not permitted: ssm:PutParameter")
        );
        assert_eq!(not_permitted("ValidationError: something else"), None);
    }

    #[test]
    fn a_failed_call_reads_operation_kind_name_cause_and_hint() {
        use crate::model::{Address, Kind};
        let address = Address::new(Kind::EcrRepository, "containrlab-api");
        let e = failed(
            "creating",
            &address,
            &error("AccessDeniedException", "not authorized to perform: ecr:CreateRepository"),
        );
        assert!(e.to_string().starts_with("creating ECR repository containrlab-api: "), "{e}");
        assert!(e.to_string().contains("AccessDeniedException"), "{e}");
        assert!(e.to_string().ends_with("\n  hint: the identity running containrlab may not make this call: grant the permission, or use another profile"), "{e}");
        assert!(!is_gone(&e));
        assert!(is_gone(&failed("deleting", &address, &error("RepositoryNotFoundException", ""))));
        let none: anyhow::Result<String> = required(None, "creating", &address, "repositoryArn");
        assert_eq!(
            none.unwrap_err().to_string(),
            "creating ECR repository containrlab-api: the response has no repositoryArn"
        );
    }

    /// EC2's errors have no type in the SDK ("unhandled"): their code and message were printed as a
    /// debug dump (`Error { code: …, message: … }`).
    #[test]
    fn an_error_the_sdk_has_no_type_for_reads_code_then_message() {
        use aws_sdk_ec2::operation::create_subnet::CreateSubnetError;
        use aws_smithy_runtime_api::http::{Response, StatusCode};
        use aws_smithy_types::body::SdkBody;
        let meta = error("InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist");
        let e = SdkError::service_error(
            CreateSubnetError::generic(meta),
            Response::new(StatusCode::try_from(400).expect("status"), SdkBody::empty()),
        );
        assert_eq!(describe(&e), "service error: InvalidVpcID.NotFound: The vpc ID 'vpc-1' does not exist");
        let address = crate::model::Address::new(crate::model::Kind::Subnet, "public-a");
        assert_eq!(
            failed("creating", &address, &e).to_string(),
            "creating subnet public-a: service error: InvalidVpcID.NotFound: The vpc ID 'vpc-1' does not exist"
        );
    }

    #[test]
    fn codes_classify_without_reading_messages() {
        for code in [
            "InvalidVpcID.NotFound",
            "InvalidLaunchTemplateName.NotFoundException",
            "LoadBalancerNotFound",
            "RepositoryNotFoundException",
            "ParameterNotFound",
            "NoSuchEntity",
            "ServiceNotActiveException",
            "ClusterNotFoundException",
        ] {
            assert_eq!(kind(&error(code, "whatever")), ErrorKind::NotFound, "{code}");
        }
        assert_eq!(kind(&error("DependencyViolation", "")), ErrorKind::DependencyViolation);
        assert_eq!(kind(&error("ResourceInUseException", "")), ErrorKind::DependencyViolation);
        assert_eq!(kind(&error("Throttling", "")), ErrorKind::Throttled);
        assert_eq!(kind(&error("RepositoryAlreadyExistsException", "")), ErrorKind::AlreadyExists);
        assert_eq!(kind(&error("RouteAlreadyExists", "")), ErrorKind::AlreadyExists);
        assert_eq!(kind(&error("InvalidPermission.Duplicate", "")), ErrorKind::AlreadyExists);
        assert_eq!(kind(&error("InvalidPermission.NotFound", "")), ErrorKind::NotFound);
        assert_eq!(kind(&error("ServiceUnavailable", "")), ErrorKind::ServerError);
        assert_eq!(kind(&error("InternalError", "")), ErrorKind::ServerError);
        assert_eq!(kind(&error("AccessDeniedException", "")), ErrorKind::AccessDenied);
        // A message saying "not found" under another code is not a NotFound.
        assert_eq!(kind(&error("ValidationError", "AutoScalingGroup name not found")), ErrorKind::Other);
    }

    #[test]
    fn local_endpoints_get_the_emulator_hint_and_aws_gets_the_network_one() {
        let t = Transport::Unreachable("dispatch failure: io error: Connection refused".into());
        let local = explain(&t, "http://127.0.0.1:5055", "STS GetCallerIdentity", None);
        assert_eq!(
            local,
            "cannot reach http://127.0.0.1:5055: is the emulator running? Start it with `scripts/moto start`, or check --endpoint-url / AWS_ENDPOINT_URL\n  (cause: dispatch failure: io error: Connection refused)"
        );
        let aws = explain(&t, "https://sts.us-east-1.amazonaws.com", "STS GetCallerIdentity", None);
        assert!(aws.starts_with("cannot reach https://sts.us-east-1.amazonaws.com: check the network"), "{aws}");
    }

    #[test]
    fn missing_credentials_name_the_fix_for_the_profile_kind() {
        let t = Transport::NoCredentials("no credentials found in chain. Attempted:\n  Environment: …".into());
        assert!(explain(&t, "x", "op", Some(("prod", true))).contains("run `aws sso login --profile prod`"));
        assert!(explain(&t, "x", "op", Some(("ci", false))).contains("`aws configure list --profile ci`"));
        let none = explain(&t, "x", "op", None);
        assert!(none.starts_with("no usable AWS credentials: set AWS_ACCESS_KEY_ID"), "{none}");
        assert!(none.ends_with("(the credential chain said: no credentials found in chain. Attempted:)"), "{none}");
    }

    #[test]
    fn endpoints_default_to_the_services_own() {
        assert_eq!(endpoint_of(None, "sts", "eu-west-1"), "https://sts.eu-west-1.amazonaws.com");
        assert_eq!(endpoint_of(Some("http://localhost:5055"), "sts", "eu-west-1"), "http://localhost:5055");
    }
}
