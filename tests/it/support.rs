//! Test support: a moto server per test (isolated state, free port), a copy of the checked-in
//! stack in a temporary directory, and a runner for the real `containrlab` binary that collects
//! its output and the API calls it made (through `CONTAINRLAB_API_STATS`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use serde_json::Value;

/// Test values for the stack's SecureString variables.
pub const SECRETS: [(&str, &str); 4] = [
    ("CONTAINRLAB_GITHUB_CLIENT_ID", "test-github-client-id"),
    ("CONTAINRLAB_GITHUB_CLIENT_SECRET", "test-github-client-secret"),
    ("CONTAINRLAB_NEXTAUTH_SECRET", "test-nextauth-secret"),
    ("CONTAINRLAB_GEMINI_API_KEY", "test-gemini-api-key"),
];

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts `moto_server` from the project's `.venv` (`scripts/moto install`) on a free port.
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// Starts it with extra environment (after the defaults, so they can be overridden).
    /// Defaults: ACM certificates issued after 1 s; AWS managed IAM policies loaded; ECS services
    /// report their tasks running (moto never starts tasks: without this no service is stable).
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let server = std::env::var_os("CONTAINRLAB_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/moto_server"));
        assert!(server.exists(), "{} is missing: run `scripts/moto install` (scripts/test does)", server.display());
        let mut child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .env("MOTO_ACM_VALIDATION_WAIT", "1")
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .env("MOTO_ECS_SERVICE_RUNNING", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting moto_server");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let port = loop {
            let line =
                lines.next().expect("moto_server exited before printing its address").expect("reading moto output");
            if let Some(rest) = line.split("Running on http://127.0.0.1:").nth(1) {
                break rest.trim().to_string();
            }
        };
        // Keep draining its log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Moto { child, endpoint: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// `service:Operation` → calls.
    pub calls: BTreeMap<String, u64>,
    /// The run's waits for AWS to catch up (`consistency` of its API statistics): each with
    /// `rule`, `call`, `address`, `lagged`, `seconds` and `outcome`.
    pub waits: Vec<Value>,
}

impl Run {
    /// What a finished run gave, with the API statistics it wrote to `stats`.
    pub fn of(out: std::process::Output, stats: &Path) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            calls: read_stats(stats),
            waits: read_waits(stats),
        }
    }

    /// Calls that change something of the stack (the stack lock's `SSM (lock)` calls change none).
    pub fn mutating_calls(&self) -> BTreeMap<String, u64> {
        let reads = ["Describe", "List", "Get", "BatchGet", "BatchCheck", "Filter"];
        self.calls
            .iter()
            .filter(|(k, _)| !k.starts_with("SSM (lock):"))
            .filter(|(k, _)| !reads.iter().any(|r| k.rsplit(':').next().unwrap_or("").starts_with(r)))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// A stack copy and an emulator of its own.
pub struct Env {
    pub moto: Moto,
    pub dir: tempfile::TempDir,
    pub secrets: Vec<(String, String)>,
    pub runtime: tokio::runtime::Runtime,
}

impl Env {
    pub fn new() -> Env {
        Env::with_moto(Moto::start())
    }

    /// An environment whose emulator was started with `Moto::start_with`.
    pub fn with_moto(moto: Moto) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(root.join("stack.yaml"), dir.path().join("stack.yaml")).expect("copy stack.yaml");
        std::fs::create_dir(dir.path().join("task-definitions")).expect("mkdir");
        for entry in std::fs::read_dir(root.join("task-definitions")).expect("task-definitions") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, dir.path().join("task-definitions").join(path.file_name().expect("name")))
                .expect("copy");
        }
        let secrets = SECRETS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        Env { moto, dir, secrets, runtime }
    }

    pub fn stack_path(&self) -> PathBuf {
        self.dir.path().join("stack.yaml")
    }

    /// Replaces `from` by `to` in the stack copy.
    pub fn edit_stack(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.stack_path()).expect("read stack");
        assert!(text.contains(from), "test setup: `{from}` not in stack.yaml");
        std::fs::write(self.stack_path(), text.replacen(from, to, 1)).expect("write stack");
    }

    /// Runs `containrlab` against this environment's emulator with stdin closed.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(&self.moto.endpoint, &[], args)
    }

    /// Runs `containrlab` against `endpoint` with stdin closed.
    pub fn run_at(&self, endpoint: &str, args: &[&str]) -> Run {
        self.run_with(endpoint, &[], args)
    }

    /// Runs `containrlab` against `endpoint` with extra environment variables.
    pub fn run_with(&self, endpoint: &str, env: &[(&str, &str)], args: &[&str]) -> Run {
        self.run_without(&[], endpoint, env, args)
    }

    /// Like `run_with`, with the variables in `removed` unset (e.g. the test credentials).
    pub fn run_without(&self, removed: &[&str], endpoint: &str, env: &[(&str, &str)], args: &[&str]) -> Run {
        let (mut cmd, stats) = self.command(endpoint, args);
        cmd.envs(env.iter().copied()).stdin(Stdio::null());
        for key in removed {
            cmd.env_remove(key);
        }
        Run::of(cmd.output().expect("running containrlab"), &stats)
    }

    /// Runs `containrlab` against this environment's emulator with `input` on stdin.
    pub fn run_with_stdin(&self, input: &str, args: &[&str]) -> Run {
        let (mut cmd, stats) = self.command(&self.moto.endpoint, args);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("running containrlab");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(input.as_bytes()).expect("writing stdin");
        }
        Run::of(child.wait_with_output().expect("running containrlab"), &stats)
    }

    /// The `containrlab` command for `args` against `endpoint` with the test environment (and
    /// nothing of the caller's AWS_* / CONTAINRLAB_*), and where its API-call counts will be.
    pub fn command(&self, endpoint: &str, args: &[&str]) -> (Command, PathBuf) {
        self.command_of(Command::new(env!("CARGO_BIN_EXE_containrlab")), endpoint, args)
    }

    /// `command` with `program` in front of the binary's own arguments (e.g. a shell that
    /// changes signal dispositions and then execs the binary). An empty `endpoint` passes no
    /// `--endpoint-url`: the run's environment names the endpoints (`AWS_ENDPOINT_URL`,
    /// `AWS_ENDPOINT_URL_<SERVICE>`).
    pub fn command_of(&self, mut cmd: Command, endpoint: &str, args: &[&str]) -> (Command, PathBuf) {
        let stats = self.dir.path().join(format!("stats-{}.json", next_run_id()));
        cmd.arg("-f").arg(self.stack_path()).arg("--no-color");
        if !endpoint.is_empty() {
            cmd.args(["--endpoint-url", endpoint]);
        }
        cmd.args(args);
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") || key.starts_with("CONTAINRLAB_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("CONTAINRLAB_API_STATS", &stats)
            .envs(self.secrets.iter().map(|(k, v)| (k, v)));
        (cmd, stats)
    }

    /// SDK configuration for changes made behind the tool's back.
    pub fn sdk(&self) -> SdkConfig {
        let creds = aws_sdk_sts::config::Credentials::new("testing", "testing", None, None, "tests");
        self.runtime.block_on(
            aws_config::defaults(BehaviorVersion::latest())
                .endpoint_url(&self.moto.endpoint)
                .region(Region::new("us-east-1"))
                .credentials_provider(creds)
                .load(),
        )
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }
}

/// `service:Operation` → calls, from a run's `CONTAINRLAB_API_STATS` file
/// (`{"calls": {…}, "total", "mutating", "rounds"}`); empty when the run wrote none.
pub fn read_stats(path: &Path) -> BTreeMap<String, u64> {
    let stats: Value =
        std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    serde_json::from_value(stats["calls"].clone()).unwrap_or_default()
}

/// The waits for AWS to catch up a run recorded (`consistency` of its statistics file).
pub fn read_waits(path: &Path) -> Vec<Value> {
    let stats: Value =
        std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    stats["consistency"].as_array().cloned().unwrap_or_default()
}

fn next_run_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// `(address, action)` of every change in a JSON plan.
pub fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap_or_default().to_string(),
                c["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
