//! A consistency proxy between the binary and moto, for what moto cannot do: lag. moto makes
//! everything visible everywhere the moment it exists and finishes deletes before it answers;
//! AWS does not (the tool's `model/consistency/` lists how, with evidence). Each `Lag` here
//! reproduces one of those rules: after an event (a call that created, deleted or changed
//! something), the calls it names are answered as AWS answers them while it catches up — an
//! error in the protocol's own shape (`fault::error_with`), or moto's 200 answer rewritten (a
//! service still MISSING, a listing still empty, a capacity provider still DELETE_IN_PROGRESS) —
//! until `window` has passed since the first such answer. Then the calls go through to moto.
//!
//! The proxy remembers what happened and when; it never invents a resource moto has not made
//! (the capacity provider it shows as deleting is the one moto's delete answer described).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fault::{error_with, forward, read_request, Request};

/// How a lagging call is answered.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// Not forwarded: AWS's error.
    Error { status: u16, code: &'static str, message: &'static str },
    /// Forwarded; every ECS service in moto's answer reported MISSING instead.
    Missing,
    /// Forwarded; the EC2 XML list element of this name emptied (a listing without the new item).
    EmptySet(&'static str),
    /// The capacity provider moto's delete answer described: listed as DELETE_IN_PROGRESS, and a
    /// create of its name refused, while it lags.
    Deleting,
}

#[derive(Debug, Clone)]
pub struct Lag {
    /// The tool's consistency rule this reproduces.
    pub rule: &'static str,
    /// Operations whose success starts a lag; empty: lagging from the proxy's start.
    pub after: &'static [&'static str],
    /// Operations that lag.
    pub calls: &'static [&'static str],
    /// Only requests whose body contains this text lag.
    pub when: Option<&'static str>,
    pub answer: Answer,
    /// How long the lag lasts after its first lagging answer.
    pub window: Duration,
}

#[derive(Default)]
struct Armed {
    on: bool,
    first: Option<Instant>,
}

struct State {
    lags: Vec<(Lag, Armed)>,
    /// `rule` for every lagging answer given.
    hits: Vec<&'static str>,
    /// The capacity provider moto's last DeleteCapacityProvider answer described.
    deleted_provider: Option<Value>,
}

pub struct LagProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl LagProxy {
    /// Listens on a free port and forwards to `upstream`, with `lags` on.
    pub fn start(upstream: &str, lags: Vec<Lag>) -> LagProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let upstream = upstream.trim_start_matches("http://").to_string();
        let lags = lags.into_iter().map(|l| {
            let armed = Armed { on: l.after.is_empty(), first: None };
            (l, armed)
        });
        let state = Arc::new(Mutex::new(State { lags: lags.collect(), hits: Vec::new(), deleted_provider: None }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, state) = (upstream.clone(), shared.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, &upstream, &state);
                });
            }
        });
        LagProxy { endpoint, state }
    }

    /// Lagging answers given for `rule` so far.
    pub fn hits(&self, rule: &str) -> usize {
        self.state.lock().expect("state").hits.iter().filter(|r| **r == rule).count()
    }
}

fn serve(mut client: TcpStream, upstream: &str, state: &Mutex<State>) -> std::io::Result<()> {
    let request = read_request(&mut client)?;
    let body = String::from_utf8_lossy(&request.body).to_string();
    let lag = lagging(state, &request.operation, &body);
    let answer = match lag {
        Some(Answer::Error { status, code, message }) => error_with(request.protocol, status, code, message),
        Some(Answer::Deleting) if request.operation == "CreateCapacityProvider" => error_with(
            request.protocol,
            400,
            "ClientException",
            "The specified capacity provider already exists. To change the configuration of an existing capacity provider, update the capacity provider.",
        ),
        Some(rewrite) => {
            let answer = forward(&request, upstream)?;
            let provider = state.lock().expect("state").deleted_provider.clone();
            with_body(answer, |b| rewritten(rewrite, b, provider.as_ref()))
        }
        None => {
            let answer = forward(&request, upstream)?;
            happened(state, &request, &answer);
            answer
        }
    };
    client.write_all(&answer)
}

/// The answer `request` gets while a lag is on for it, if one is (and counts the hit).
fn lagging(state: &Mutex<State>, operation: &str, body: &str) -> Option<Answer> {
    let mut s = state.lock().expect("state");
    let deleted = s.deleted_provider.as_ref().and_then(|p| p["name"].as_str()).map(str::to_string);
    let now = Instant::now();
    let mut found = None;
    for (lag, armed) in s.lags.iter_mut() {
        let names_it = lag.when.is_none_or(|w| body.contains(w));
        let provider = match lag.answer {
            Answer::Deleting => deleted.as_deref().is_some_and(|n| body.contains(n)),
            _ => true,
        };
        if !armed.on || !lag.calls.contains(&operation) || !names_it || !provider {
            continue;
        }
        let first = *armed.first.get_or_insert(now);
        if now.duration_since(first) >= lag.window {
            *armed = Armed::default();
            continue;
        }
        found = Some((lag.rule, lag.answer));
        break;
    }
    let (rule, answer) = found?;
    s.hits.push(rule);
    Some(answer)
}

/// Arms the lags whose event `request` was, once moto carried it out.
fn happened(state: &Mutex<State>, request: &Request, answer: &[u8]) {
    let ok = std::str::from_utf8(&answer[..answer.len().min(16)]).is_ok_and(|l| l.contains(" 200"));
    if !ok {
        return;
    }
    let mut s = state.lock().expect("state");
    if request.operation == "DeleteCapacityProvider" {
        let body = body_of(answer);
        s.deleted_provider = serde_json::from_slice::<Value>(&body).ok().map(|v| v["capacityProvider"].clone());
    }
    for (lag, armed) in s.lags.iter_mut() {
        if lag.after.contains(&request.operation.as_str()) {
            *armed = Armed { on: true, first: None };
        }
    }
}

/// moto's answer body as AWS would have given it while lagging.
fn rewritten(answer: Answer, body: &[u8], provider: Option<&Value>) -> Vec<u8> {
    match answer {
        Answer::Missing => {
            let Ok(mut v) = serde_json::from_slice::<Value>(body) else { return body.to_vec() };
            let services = v["services"].as_array().cloned().unwrap_or_default();
            let failures: Vec<Value> =
                services.iter().map(|s| serde_json::json!({"arn": s["serviceArn"], "reason": "MISSING"})).collect();
            v["services"] = Value::Array(Vec::new());
            let mut all = v["failures"].as_array().cloned().unwrap_or_default();
            all.extend(failures);
            v["failures"] = Value::Array(all);
            serde_json::to_vec(&v).unwrap_or_default()
        }
        Answer::EmptySet(element) => {
            let text = String::from_utf8_lossy(body);
            let (open, close) = (format!("<{element}>"), format!("</{element}>"));
            match (text.find(&open), text.find(&close)) {
                (Some(a), Some(b)) if b > a => {
                    format!("{}<{element}/>{}", &text[..a], &text[b + close.len()..]).into_bytes()
                }
                _ => body.to_vec(),
            }
        }
        Answer::Deleting => {
            let (Ok(mut v), Some(p)) = (serde_json::from_slice::<Value>(body), provider) else { return body.to_vec() };
            let name = p["name"].as_str().unwrap_or_default().to_string();
            let mut deleting = p.clone();
            deleting["status"] = "ACTIVE".into();
            deleting["updateStatus"] = "DELETE_IN_PROGRESS".into();
            let mut list = v["capacityProviders"].as_array().cloned().unwrap_or_default();
            list.retain(|c| c["name"].as_str() != Some(&name));
            list.push(deleting);
            v["capacityProviders"] = Value::Array(list);
            let failures = v["failures"].as_array().cloned().unwrap_or_default();
            let kept: Vec<Value> =
                failures.into_iter().filter(|f| !f["arn"].as_str().is_some_and(|a| a.ends_with(&name))).collect();
            v["failures"] = Value::Array(kept);
            serde_json::to_vec(&v).unwrap_or_default()
        }
        Answer::Error { .. } => body.to_vec(),
    }
}

/// The body of a whole HTTP answer (chunked transfer decoded).
fn body_of(answer: &[u8]) -> Vec<u8> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { return Vec::new() };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let raw = &answer[end + 4..];
    if !head.contains("transfer-encoding: chunked") {
        return raw.to_vec();
    }
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&rest[start..(start + size).min(rest.len())]);
        rest = &rest[(start + size + 2).min(rest.len())..];
    }
    out
}

/// `answer` with its body replaced by `f(body)`, its length header set to match.
fn with_body(answer: Vec<u8>, f: impl FnOnce(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { return answer };
    let body = f(&body_of(&answer));
    let head: String = String::from_utf8_lossy(&answer[..end])
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            !l.starts_with("content-length:") && !l.starts_with("transfer-encoding:")
        })
        .map(|l| format!("{l}\r\n"))
        .collect();
    let mut out = format!("{head}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(&body);
    out
}
