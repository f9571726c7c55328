//! Command-line types (clap derive). Names and flags here are a contract: add, never rename.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  containrlab validate                         check stack.yaml and the task definitions (no AWS call)
  containrlab check                            the stack against AWS Security Hub's controls (no AWS call)
  containrlab --profile prod diff              what `up` would change
  containrlab --profile prod up                apply it (asks first; --yes in scripts and CI)
  containrlab --image-tag \"$GITHUB_SHA\" deploy    CI: roll the new images onto the services
  containrlab deploy --rollback                back to the previous revision
  containrlab down --yes --delete-data         remove the stack, data included

Exit codes:
  0  success; for `diff --exit-code`: no changes
  1  any error: bad input, AWS error, a failed step, a conflict
  2  `diff --exit-code`: changes
  3  `diff --exit-code`: changes that delete or replace a resource or widen access";

/// `containrlab 0.1.0 (commit abc123def456)`: the commit is read by `build.rs`.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("CONTAINRLAB_COMMIT"), ")");

const GLOBAL: &str = "Global options";

#[derive(Debug, Parser)]
#[command(
    name = "containrlab",
    version = VERSION,
    about = "Provision and keep the ContainrLab AWS stack from stack.yaml",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// The stack file.
    #[arg(short = 'f', long = "file", global = true, help_heading = GLOBAL, default_value = "stack.yaml")]
    pub file: PathBuf,
    /// AWS region (default: AWS_REGION, then the stack file's `region`, then the profile's).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub region: Option<String>,
    /// AWS profile (default: AWS_PROFILE or the default profile).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (same as AWS_ENDPOINT_URL), e.g. a local emulator.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub endpoint_url: Option<String>,
    /// Machine-readable output on stdout.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    /// More detail on stderr: -v progress and API-call counts, -vv internals, -vvv SDK requests.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    pub verbose: u8,
    /// Image tag for `${image_tag}` in task definitions; without it, each service keeps the tag it
    /// runs (a first deployment uses `latest`).
    #[arg(long, global = true, help_heading = GLOBAL, env = "CONTAINRLAB_IMAGE_TAG", value_parser = image_tag)]
    pub image_tag: Option<String>,
    /// Allow a region other than the stack file's `region` (a rebuild elsewhere): availability
    /// zones then follow the region by their letter (`us-east-1a` → `eu-west-1a`).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub allow_region_override: bool,
    /// No terminal colours (also: NO_COLOR, or output that is not a terminal).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub no_color: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the stack file and task definitions; no AWS call.
    ///
    /// The strict schema, AWS's limits, the task definitions against RegisterTaskDefinition's
    /// shape, and the risks and failing Security Hub controls that need an `allow:` entry: every
    /// problem at once, with file, line and key path.
    #[command(after_help = "Examples:\n  containrlab validate\n  containrlab -f other/stack.yaml validate")]
    Validate,
    /// The plan: what `up` would change (read-only).
    ///
    /// Compare AWS with the stack file and print the plan, field by field.
    #[command(
        after_help = "Examples:\n  containrlab diff\n  containrlab diff --exit-code      # 0 none, 2 changes, 3 destructive or wider access\n  containrlab diff --markdown >> \"$GITHUB_STEP_SUMMARY\"\n  containrlab --json diff"
    )]
    Diff {
        /// Exit 0 when nothing changes, 2 when something does, 3 when something is deleted,
        /// replaced or opened wider.
        #[arg(long)]
        exit_code: bool,
        /// The plan as GitHub-flavoured Markdown on stdout (a pull-request comment or
        /// $GITHUB_STEP_SUMMARY): impact first, details collapsed, secrets redacted, under 65,536 characters.
        #[arg(long)]
        markdown: bool,
        /// Plan only this resource and what it needs (repeatable; KIND.NAME or KIND.*).
        #[arg(long = "target", value_name = "ADDRESS")]
        target: Vec<String>,
    },
    /// Make AWS match the stack file: plan, confirm, apply, verify.
    ///
    /// Apply in dependency order, wait until each resource is usable, then plan again: it ends
    /// only when the fresh plan is empty.
    #[command(
        after_help = "Examples:\n  containrlab up\n  containrlab up --yes                      # scripts and CI\n  containrlab --image-tag v2 up --yes\n  containrlab up --target 'log_group.*'"
    )]
    Up(ApplyArgs),
    /// Delete everything the stack owns; data kept unless --delete-data.
    ///
    /// Each resource goes as soon as AWS allows. Repositories with images, SecureString
    /// parameters, log groups and a zone the stack made are kept unless --delete-data.
    #[command(after_help = "Examples:\n  containrlab down\n  containrlab down --yes --delete-data")]
    Down(ApplyArgs),
    /// Roll an image tag onto the running services (ECR and ECS only).
    ///
    /// What CI runs with the stack's deploy role: checks each image exists and fits the task's
    /// CPU architecture, pins its digest, registers a revision only when it differs, waits until
    /// stable.
    #[command(
        after_help = "Examples:\n  containrlab --image-tag \"$GITHUB_SHA\" deploy\n  containrlab deploy --rollback --service containrlab-service\n  containrlab --image-tag v2 deploy --dry-run"
    )]
    Deploy(DeployArgs),
    /// A log group's events, like `aws logs tail`.
    ///
    /// NAME is a group (`/ecs/containrlab-api`), its short name (`api`) or a service (all its
    /// containers' groups); each line starts with the container and task id.
    #[command(
        after_help = "Examples:\n  containrlab logs api\n  containrlab logs containrlab-service --since 1h --filter ERROR\n  containrlab logs runner --follow"
    )]
    Logs {
        /// The log group, its short name, or a service.
        name: String,
        /// How far back to start: 90s, 30m, 1h, 2d.
        #[arg(long, default_value = "10m")]
        since: String,
        /// Keep printing new events until Ctrl-C.
        #[arg(long)]
        follow: bool,
        /// A CloudWatch Logs filter pattern (a plain word matches events that contain it).
        #[arg(long)]
        filter: Option<String>,
    },
    /// The running stack's health; exit 1 when something is unhealthy.
    ///
    /// Read-only: services, target health, runner instances and their CPU credits, NAT gateways,
    /// the load balancer, the certificate's expiry, alarms, the alarm subscriptions.
    #[command(after_help = "Examples:\n  containrlab status\n  containrlab --json status")]
    Status,
    /// Pre-flight before a first `up` or a rebuild: each check with its fix.
    ///
    /// Read-only: credentials and identity, the zones, secrets in the environment, the AMI
    /// parameter, images in ECR for the tag and their architecture, quotas, the hosted zone,
    /// delegation and certificate names. Each check ✓/✗ with the fix; exit 1 on ✗.
    #[command(
        after_help = "Examples:\n  containrlab doctor\n  containrlab --image-tag v2 doctor\n  containrlab doctor --exec containrlab-service"
    )]
    Doctor {
        /// Instead: the checks `exec SERVICE` makes before connecting.
        #[arg(long, value_name = "SERVICE")]
        exec: Option<String>,
    },
    /// DNS name, URLs, repository URIs, role ARNs, name servers.
    ///
    /// What operators and other tools need from the running stack (read-only); exit 1 when
    /// something the stack file declares does not exist.
    #[command(after_help = "Examples:\n  containrlab outputs\n  containrlab --json outputs")]
    Outputs,
    /// The resources and the order `up` creates them in; no AWS call.
    ///
    /// From the stack file alone: Mermaid (renders on GitHub) or Graphviz DOT.
    #[command(after_help = "Examples:\n  containrlab graph\n  containrlab graph --format dot | dot -Tsvg > stack.svg")]
    Graph {
        /// mermaid or dot.
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Monthly cost at AWS list prices, line by line; no AWS call.
    ///
    /// Prices and usage assumptions from the reviewed price file, and where the stack differs
    /// from the seed's ~$93/month.
    #[command(after_help = "Examples:\n  containrlab cost\n  containrlab --json cost")]
    Cost,
    /// AWS Security Hub's controls: PASS, FAIL or accepted; no AWS call.
    ///
    /// Each control (ELB.1, EC2.6, ECR.2, ECS.4, IAM.1, …) per resource, PASS, FAIL, or accepted
    /// by `allow:` with its reason. Exit 1 on a FAIL.
    #[command(after_help = "Examples:\n  containrlab check\n  containrlab --json check")]
    Check,
    /// Parameters: list them; write a secret and restart its readers.
    ///
    /// `list`: every parameter the stack file declares — type, version, last change, the
    /// containers that read it — never a value. `set NAME`: a SecureString's new value from stdin
    /// (or the variable the stack file names, never the command line), then a new deployment of
    /// every service whose task definition reads it, waited on.
    #[command(
        after_help = "Examples:\n  containrlab secret list\n  read -rs KEY && printf %s \"$KEY\" | containrlab secret set GEMINI_API_KEY --yes\n  containrlab --json secret list"
    )]
    Secret {
        #[command(subcommand)]
        action: SecretAction,
    },
    /// A one-off task of a service (a migration): its logs, its exit code.
    ///
    /// From the revision the service runs (or --revision, or the --image-tag pinned like
    /// `deploy`), in the service's subnets and security groups with its roles. The container's
    /// log lines go to stdout while it runs; the command exits with the container's exit code, 1
    /// when the task never started (the cause and the fix are printed).
    #[command(
        after_help = "Examples:\n  containrlab run containrlab-service -- python manage.py migrate\n  containrlab --image-tag \"$GITHUB_SHA\" run containrlab-service --container api -- alembic upgrade head\n  containrlab run containrlab-service --detach -- ./scripts/reindex.sh"
    )]
    Run(RunArgs),
    /// A shell (or a command) in a running container, through ECS Exec.
    ///
    /// Checks first each way ECS Exec fails — the stack file's `exec: true`, the service's flag,
    /// a task started with it, the platform, the exec agent, the task role's permissions, the
    /// Session Manager plugin — and names the cause and the fix; then hands the terminal to the
    /// plugin. Exit: the session's exit code; 1 when a check fails.
    #[command(
        after_help = "Examples:\n  containrlab exec containrlab-runner-service\n  containrlab exec containrlab-service --container web -- ls /app\n  containrlab doctor --exec containrlab-service   # the checks only"
    )]
    Exec(ExecArgs),
    /// Take over a stack built by hand: write the ownership tags only.
    ///
    /// Match each address of the stack file by name, or by shape where AWS names are not unique;
    /// show the evidence and the drift `up` would then repair; on confirmation write only the
    /// ownership tags.
    #[command(after_help = "Examples:\n  containrlab adopt\n  containrlab adopt --yes && containrlab up")]
    Adopt(AdoptArgs),
    /// Remove the lock of a run that died (shows the holder).
    #[command(after_help = "Example:\n  containrlab unlock --force")]
    Unlock {
        /// Remove it whoever holds it.
        #[arg(long)]
        force: bool,
    },
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  containrlab completions bash > ~/.local/share/bash-completion/completions/containrlab"
    )]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretAction {
    /// Every parameter the stack declares: type, version, last change, readers.
    #[command(after_help = "Example:\n  containrlab secret list")]
    List,
    /// Write a SecureString's new value; restart the services that read it.
    #[command(
        after_help = "Example:\n  printf %s \"$NEW_KEY\" | containrlab secret set /containrlab/GEMINI_API_KEY --yes"
    )]
    Set(SecretSetArgs),
}

#[derive(Debug, Args)]
pub struct SecretSetArgs {
    /// The parameter: its full name (/containrlab/GEMINI_API_KEY) or its last segment.
    pub name: String,
    /// Write and restart without asking (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// How long to wait while another run holds the stack's lock (e.g. 30s, 5m); default: fail at once.
    #[arg(long, value_parser = crate::aws::lock::parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The service whose task to connect to.
    pub service: String,
    /// This task (its id or ARN) instead of the service's newest running one.
    #[arg(long)]
    pub task: Option<String>,
    /// The container (default: the task definition's first essential one).
    #[arg(long)]
    pub container: Option<String>,
    /// The command (after `--`; default: an interactive /bin/sh).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The service whose task definition, network and roles the task gets.
    pub service: String,
    /// The container that runs COMMAND (default: the task definition's first essential one).
    #[arg(long)]
    pub container: Option<String>,
    /// This revision of the service's family instead of the one the service runs.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub revision: Option<i32>,
    /// Print the task's id once it is started and exit 0; do not wait or stream its logs.
    #[arg(long)]
    pub detach: bool,
    /// How long to wait for the task to stop (e.g. 30m, 2h); the task goes on after it.
    #[arg(long, default_value = "1h", value_parser = crate::aws::lock::parse_duration)]
    pub timeout: std::time::Duration,
    /// The command and its arguments (after `--`), in place of the container's own.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// Write the tags without asking (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// How long to wait while another run holds the stack's lock (e.g. 30s, 5m); default: fail at once.
    #[arg(long, value_parser = crate::aws::lock::parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Steps making AWS calls at the same time (a step waiting for AWS to finish something gives
    /// its place to the next ready step meanwhile).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub parallelism: u16,
    /// Also delete what holds data: repositories with images, SecureString parameters, log groups.
    #[arg(long)]
    pub delete_data: bool,
    /// How long to wait while another run holds the stack's lock (e.g. 30s, 5m); default: fail at once.
    #[arg(long, value_parser = crate::aws::lock::parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
    /// Only this resource (and, for `up`, what it needs); repeatable, KIND.NAME or KIND.*. A target
    /// whose deletion or replacement would break a resource left out is refused.
    #[arg(long = "target", value_name = "ADDRESS")]
    pub target: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Only this service (repeatable); default: every service of the stack file.
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// Put each service back on the newest ACTIVE revision older than the one it runs.
    #[arg(long, conflicts_with = "to_revision")]
    pub rollback: bool,
    /// Put the service (one --service) on this revision of its family.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub to_revision: Option<i32>,
    /// Print what would be deployed and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// A Docker image tag: 1–128 of letters, digits, `_`, `.`, `-`, not starting with `.` or `-`.
fn image_tag(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && !s.starts_with(['.', '-'])
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(s.to_string())
    } else {
        Err("expected a Docker image tag: up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
            .into())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// `--help`'s command list is one short line per command, and each command's own `--help`
    /// ends with an example.
    #[test]
    fn every_command_has_a_short_summary_and_an_example() {
        let cli = super::Cli::command();
        for sub in cli.get_subcommands() {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(!about.is_empty() && about.len() <= 70, "{}: {about:?}", sub.get_name());
            let after = sub.get_after_help().map(|a| a.to_string()).unwrap_or_default();
            assert!(after.contains("containrlab "), "{} has no example", sub.get_name());
        }
    }
}
