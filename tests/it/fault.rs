//! A fault-injecting HTTP proxy between the binary and moto, for what moto cannot do itself: an
//! answer lost after the emulator committed the call (a 500, or a dropped connection), a 503 or
//! throttling before it, a slow answer, an empty answer from an eventually consistent read. Every request is forwarded on a connection of its own and
//! answered with `Connection: close`, so a fault never leaks into the next request.
//!
//! A rule names an operation (`CreateVpc`, from the `Action=` of Query/EC2 bodies, the
//! `X-Amz-Target` of JSON services, or the method and path of Route 53's REST API), which of its
//! calls to hit (the first `skip` pass), how many times, and the fault. The error bodies are the
//! ones each protocol uses, so the SDK reads the code as it would from AWS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Forwarded (the emulator carries it out), then answered with a 500 InternalError.
    ErrorAfterCommit,
    /// Forwarded, then the connection is closed without an answer.
    DropAfterCommit,
    /// Not forwarded: a 503 ServiceUnavailable.
    UnavailableBeforeCommit,
    /// Not forwarded: a throttling error.
    Throttle,
    /// Forwarded after this long.
    Delay(Duration),
    /// Not forwarded: a 200 with this JSON body (an eventually consistent read lagging behind).
    Answer(&'static str),
    /// Not forwarded: a 400 with this error code (a refusal moto cannot make, such as an
    /// `AccessDeniedException` for an API it does not serve).
    Refuse(&'static str),
    /// Forwarded; the JSON answer is changed by the function, which sees every request received
    /// so far as `(operation, body)` (what moto does not keep, such as a flag a create sent).
    Patch(fn(&[(String, String)], &mut serde_json::Value)),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub operation: String,
    pub fault: Fault,
    /// Calls of the operation let through before the fault applies.
    pub skip: usize,
    /// Faulted calls left.
    pub times: usize,
}

impl Rule {
    /// The first call of `operation` gets `fault`.
    pub fn first(operation: &str, fault: Fault) -> Rule {
        Rule { operation: operation.to_string(), fault, skip: 0, times: 1 }
    }

    /// Every call of `operation` (`*`: every call) gets `fault`.
    pub fn every(operation: &str, fault: Fault) -> Rule {
        Rule { operation: operation.to_string(), fault, skip: 0, times: usize::MAX }
    }
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    /// `operation fault` for every call a rule hit.
    hits: Vec<String>,
    /// Requests received and not yet finished (forwarded and answered, or faulted).
    in_flight: usize,
    /// `(operation, body)` of every request, in the order received.
    requests: Vec<(String, String)>,
}

pub struct Proxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl Proxy {
    /// Listens on a free port and forwards to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str, rules: Vec<Rule>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let upstream = upstream.trim_start_matches("http://").to_string();
        let state = Arc::new(Mutex::new(State { rules, hits: Vec::new(), in_flight: 0, requests: Vec::new() }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, state) = (upstream.clone(), shared.clone());
                state.lock().expect("state").in_flight += 1;
                std::thread::spawn(move || {
                    let _ = serve(client, &upstream, &state);
                    state.lock().expect("state").in_flight -= 1;
                });
            }
        });
        Proxy { endpoint, state }
    }

    /// The faults applied so far, as `Operation fault`.
    pub fn hits(&self) -> Vec<String> {
        self.state.lock().expect("state").hits.clone()
    }

    /// The bodies of the requests for `operation` received so far (to check what was asked).
    pub fn bodies(&self, operation: &str) -> Vec<String> {
        let s = self.state.lock().expect("state");
        s.requests.iter().filter(|(op, _)| op == operation).map(|(_, body)| body.clone()).collect()
    }

    /// Waits until every request received has reached the emulator and finished (a client that
    /// died does not stop a delayed request from landing later), for up to a minute.
    pub fn settle(&self) {
        for _ in 0..1200 {
            if self.state.lock().expect("state").in_flight == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the fault proxy still has requests in flight after a minute");
    }
}

pub(super) struct Request {
    pub head: String,
    pub body: Vec<u8>,
    pub operation: String,
    pub protocol: Protocol,
}

#[derive(Clone, Copy)]
pub(super) enum Protocol {
    Ec2,
    Query,
    Json,
    RestXml,
}

fn serve(mut client: TcpStream, upstream: &str, state: &Mutex<State>) -> std::io::Result<()> {
    let request = read_request(&mut client)?;
    let fault = {
        let mut s = state.lock().expect("state");
        let op = request.operation.clone();
        s.requests.push((op.clone(), String::from_utf8_lossy(&request.body).to_string()));
        let rule = s.rules.iter_mut().find(|r| (r.operation == op || r.operation == "*") && r.times > 0);
        let fault = match rule {
            Some(r) if r.skip > 0 => {
                r.skip -= 1;
                None
            }
            Some(r) => {
                r.times -= 1;
                Some(r.fault)
            }
            None => None,
        };
        if let Some(f) = fault {
            s.hits.push(format!("{op} {f:?}"));
        }
        fault
    };
    match fault {
        None => {
            let answer = forward(&request, upstream)?;
            client.write_all(&answer)
        }
        Some(Fault::Delay(d)) => {
            std::thread::sleep(d);
            let answer = forward(&request, upstream)?;
            client.write_all(&answer)
        }
        Some(Fault::ErrorAfterCommit) => {
            forward(&request, upstream)?;
            client.write_all(&error(request.protocol, 500, "InternalError"))
        }
        Some(Fault::DropAfterCommit) => {
            forward(&request, upstream)?;
            client.shutdown(std::net::Shutdown::Both)
        }
        Some(Fault::Answer(body)) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            client.write_all(head.as_bytes())?;
            client.write_all(body.as_bytes())
        }
        Some(Fault::Refuse(code)) => client.write_all(&error(request.protocol, 400, code)),
        Some(Fault::Patch(patch)) => {
            let answer = forward(&request, upstream)?;
            let requests = state.lock().expect("state").requests.clone();
            client.write_all(&patched(answer, &requests, patch))
        }
        Some(Fault::UnavailableBeforeCommit) => client.write_all(&error(request.protocol, 503, "ServiceUnavailable")),
        Some(Fault::Throttle) => {
            let code = match request.protocol {
                Protocol::Ec2 => "RequestLimitExceeded",
                Protocol::Json => "ThrottlingException",
                Protocol::Query | Protocol::RestXml => "Throttling",
            };
            client.write_all(&error(request.protocol, 400, code))
        }
    }
}

pub(super) fn read_request(client: &mut TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("closed before the request ended"));
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    assert!(header("transfer-encoding").is_none(), "the proxy reads Content-Length bodies only: {head}");
    let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let text = String::from_utf8_lossy(&body).to_string();
    let (operation, protocol) = if let Some(target) = header("x-amz-target") {
        (target.rsplit('.').next().unwrap_or_default().to_string(), Protocol::Json)
    } else if let Some(action) = text.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        let protocol = if text.contains("Version=2016-11-15") { Protocol::Ec2 } else { Protocol::Query };
        (action.to_string(), protocol)
    } else {
        (route53_operation(head.lines().next().unwrap_or_default()), Protocol::RestXml)
    };
    Ok(Request { head, body, operation, protocol })
}

/// Route 53's REST operations the stack uses that change something; reads are `GET <path>`.
fn route53_operation(request_line: &str) -> String {
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", [_, "hostedzone"]) => "CreateHostedZone".into(),
        ("POST", [_, "hostedzone", _, "rrset"]) => "ChangeResourceRecordSets".into(),
        ("POST", [_, "tags", "hostedzone", _]) => "ChangeTagsForResource".into(),
        ("DELETE", [_, "hostedzone", _]) => "DeleteHostedZone".into(),
        _ => format!("{method} {path}"),
    }
}

/// Sends the request to the emulator on a fresh connection and returns its whole answer, marked
/// `Connection: close`.
pub(super) fn forward(request: &Request, upstream: &str) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream)?;
    let head: String = request
        .head
        .lines()
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    up.write_all(head.as_bytes())?;
    up.write_all(b"Connection: close\r\n\r\n")?;
    up.write_all(&request.body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    Ok(close_after(answer))
}

/// The answer with `Connection: close` in place of any connection header.
fn close_after(answer: Vec<u8>) -> Vec<u8> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { return answer };
    let head = String::from_utf8_lossy(&answer[..end]).to_string();
    let mut out: String = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&answer[end + 4..]);
    bytes
}

/// A JSON answer changed by `patch`, its Content-Length set again (others are left as they are).
fn patched(
    answer: Vec<u8>,
    requests: &[(String, String)],
    patch: fn(&[(String, String)], &mut serde_json::Value),
) -> Vec<u8> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { return answer };
    let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&answer[end + 4..]) else { return answer };
    patch(requests, &mut body);
    let body = body.to_string();
    let head: String = String::from_utf8_lossy(&answer[..end])
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("content-length:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    format!("{head}Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

/// An error answer in the protocol's own shape.
fn error(protocol: Protocol, status: u16, code: &str) -> Vec<u8> {
    error_with(protocol, status, code, "injected by the test's fault proxy")
}

/// An error answer in the protocol's own shape, with AWS's message.
pub(super) fn error_with(protocol: Protocol, status: u16, code: &str, message: &str) -> Vec<u8> {
    let (content_type, body) = match protocol {
        Protocol::Json => ("application/x-amz-json-1.1", format!(r#"{{"__type":"{code}","message":"{message}"}}"#)),
        Protocol::Ec2 => (
            "text/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault</RequestID></Response>"
            ),
        ),
        Protocol::Query | Protocol::RestXml => (
            "text/xml",
            format!(
                "<?xml version=\"1.0\"?><ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
            ),
        ),
    };
    let reason = match status {
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        404 => "Not Found",
        _ => "Bad Request",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
