//! Logs on stderr, with credentials scrubbed: at `-vvv` the SDK's debug lines print its config
//! bag, which holds the caller's credentials (`access_key_id: "AKIA…"`; the secret key and
//! session token are redacted by the SDK itself). Every line goes through `scrub`, which
//! replaces access key ids — AWS's `AKIA`/`ASIA` + 16 form, and whatever follows
//! `access_key_id: "` — before it reaches the terminal.

use std::io::{IsTerminal, Write};

pub const REDACTED: &str = "** redacted **";

/// Logs go to stderr. Verbosity never enables anything that could print request bodies beyond
/// the SDK's own debug level (which logs no payloads); the secret canary test runs at `-vvv`.
pub fn init(verbose: u8) {
    let filter = match verbose {
        // The SDK's own warnings (a 1 KB credential-chain dump) are replaced by our messages.
        0 => "off",
        1 => "warn,containrlab=debug",
        2 => "warn,containrlab=trace",
        _ => "info,containrlab=trace,aws_config=debug,aws_smithy_runtime=debug,aws_sdk_ecr=debug,aws_sdk_ssm=debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(|| Scrubbed)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// stderr, one formatted event per write, scrubbed.
struct Scrubbed;

impl Write for Scrubbed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stderr().write_all(scrub(&String::from_utf8_lossy(buf)).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `text` with every access key id replaced by `REDACTED`.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    const FIELD: &str = "access_key_id: \"";
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(FIELD) {
            let end = after.find('"').unwrap_or(after.len());
            out.push_str(FIELD);
            out.push_str(REDACTED);
            rest = &after[end..];
            continue;
        }
        if (rest.starts_with("AKIA") || rest.starts_with("ASIA"))
            && rest.len() >= 20
            && rest.as_bytes()[4..20].iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            out.push_str(REDACTED);
            rest = &rest[20..];
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_ids_are_scrubbed() {
        let line = r#"Credentials { provider_name: "Environment", access_key_id: "testing", secret_access_key: "** redacted **" } key=AKIAIOSFODNN7EXAMPLE ASIAY34FZKBOKMUTVV7A."#;
        let s = scrub(line);
        assert!(
            !s.contains("testing") && !s.contains("AKIAIOSFODNN7EXAMPLE") && !s.contains("ASIAY34FZKBOKMUTVV7A"),
            "{s}"
        );
        assert!(s.contains(r#"access_key_id: "** redacted **""#), "{s}");
        assert_eq!(scrub("AKIA short, ünïcode"), "AKIA short, ünïcode");
    }
}
