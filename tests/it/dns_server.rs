//! A DNS server for the tests, on 127.0.0.1 over UDP: it answers every NS question with the name
//! servers the test sets (what the domain's registrar names, as the internet's resolvers would
//! answer), and any other question with no record. The sandbox has no internet, and a domain's
//! delegation is a fact of the internet's DNS: this stands in for it, speaking the wire format
//! (RFC 1035) the tool's resolver speaks.

use std::net::UdpSocket;
use std::sync::{Arc, Mutex};

pub struct DnsServer {
    /// `IP:PORT`, what `CONTAINRLAB_DNS_RESOLVER` takes.
    pub address: String,
    name_servers: Arc<Mutex<Vec<String>>>,
}

impl DnsServer {
    pub fn start(name_servers: &[&str]) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let address = socket.local_addr().expect("addr").to_string();
        let name_servers = Arc::new(Mutex::new(name_servers.iter().map(|s| s.to_string()).collect::<Vec<_>>()));
        let answers = name_servers.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let names = answers.lock().expect("names").clone();
                if let Some(reply) = answer(&buf[..n], &names) {
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        DnsServer { address, name_servers }
    }

    /// From now on, NS questions are answered with `names`.
    pub fn answer_with(&self, names: &[String]) {
        *self.name_servers.lock().expect("names") = names.to_vec();
    }
}

/// The reply to one query: its question echoed, and one NS record per name for an NS question.
fn answer(query: &[u8], names: &[String]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    // The question: labels up to the zero byte, then QTYPE and QCLASS.
    let mut end = 12;
    while end < query.len() && query[end] != 0 {
        end += 1 + usize::from(query[end]);
    }
    let question_end = end + 5;
    if question_end > query.len() {
        return None;
    }
    let qtype = u16::from_be_bytes([query[end + 1], query[end + 2]]);
    let records: &[String] = if qtype == 2 { names } else { &[] };
    let mut out = Vec::new();
    out.extend_from_slice(&query[..2]); // the query's id
    out.extend_from_slice(&[0x81, 0x80]); // a response, recursion desired and available, no error
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(records.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&query[12..question_end]);
    for name in records {
        let rdata = encode(name);
        out.extend_from_slice(&[0xc0, 0x0c]); // the name of the question
        out.extend_from_slice(&2u16.to_be_bytes()); // NS
        out.extend_from_slice(&1u16.to_be_bytes()); // IN
        out.extend_from_slice(&300u32.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some(out)
}

fn encode(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}
