//! Why a one-off task never ran its command, in the operator's words: the cause and the fix,
//! from what ECS reported — `RunTask`'s failures (the task was not placed) or a stopped task's
//! `stopCode`, `stoppedReason` and container `reason`.
//!
//! The messages ECS uses are AWS's "Amazon ECS stopped task error messages" and "API failure
//! reasons" (Amazon ECS Developer Guide): `CannotPullContainerError`,
//! `ResourceInitializationError`, `CannotStartContainerError`, `OutOfMemoryError`, "ECS was
//! unable to assume the role", and `RESOURCE:CPU|MEMORY|PORTS`, `AGENT`, `ATTRIBUTE` failures.

use super::End;

/// A task ECS did not place: each failure's reason with its fix.
pub fn not_placed(cluster: &str, failures: &[(String, String)]) -> String {
    if failures.is_empty() {
        return format!("RunTask in {cluster} started no task and reported no failure");
    }
    let lines: Vec<String> = failures
        .iter()
        .map(|(reason, detail)| {
            let detail = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
            let fix = if reason.starts_with("RESOURCE:") {
                format!(
                    "no capacity: no container instance of {cluster} has the free {} the task needs; \
                     fix: wait for running tasks to end, or give the cluster more capacity (ec2_capacity's \
                     instance_type or instance_count in stack.yaml, then `containrlab up`)",
                    reason.trim_start_matches("RESOURCE:").to_lowercase()
                )
            } else if reason == "AGENT" {
                format!("the ECS agent of {cluster}'s instance is not connected; fix: `containrlab status` shows the instance, replace it if it stays disconnected")
            } else if reason == "ATTRIBUTE" {
                "no instance has an attribute the task requires (its CPU architecture, a capability); fix: the task definition's runtimePlatform and requiresAttributes against the cluster's instances".to_string()
            } else {
                "see AWS's \"API failure reasons\" for ECS".to_string()
            };
            format!("  {reason}{detail}: {fix}")
        })
        .collect();
    format!("the task was not started:\n{}", lines.join("\n"))
}

/// A stopped task whose container has no exit code: why it never ran, and the fix.
pub fn never_ran(end: &End, container: &str) -> String {
    let said = [end.container_reason.as_str(), end.stopped_reason.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let text = format!("{said} {}", end.stop_code);
    let (cause, fix) = if text.contains("CannotPullContainerError") {
        (
            "the image could not be pulled",
            "check that the tag exists in ECR (`containrlab --image-tag T deploy --dry-run` lists each image's digest) and that the private subnets reach ECR (the NAT gateway: `containrlab status`)",
        )
    } else if text.contains("unable to assume the role") || text.contains("AssumeRole") {
        (
            "ECS could not use the task's roles",
            "the roles' trust must name ecs-tasks.amazonaws.com (`containrlab diff` shows drift of iam_role.*)",
        )
    } else if text.contains("ResourceInitializationError") {
        (
            "the task could not fetch its secrets or registry credentials",
            "the execution role must read the /containrlab/* parameters and pull from ECR, and the subnets must reach SSM and ECR (`containrlab diff`, `containrlab status`)",
        )
    } else if text.contains("CannotStartContainerError") {
        (
            "the container could not start its command",
            "check the command after `--` exists in the image (the container's entry point runs it)",
        )
    } else if text.contains("OutOfMemoryError") {
        ("the container ran out of memory", "raise the container's memory in its task definition")
    } else if end.stop_code == "UserInitiated" {
        ("someone stopped the task", "see the reason above (a `stop-task`, or a deployment)")
    } else {
        ("ECS stopped it before its command ran", "see the reason above and AWS's \"stopped task error messages\"")
    };
    let said = if said.is_empty() { String::new() } else { format!("\n  ECS: {said}") };
    let started = if end.started { "" } else { "never started: " };
    format!("task {started}container {container} did not run: {cause}{said}\n  fix: {fix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stopped(reason: &str) -> End {
        End { stop_code: "TaskFailedToStart".into(), stopped_reason: reason.into(), ..End::default() }
    }

    #[test]
    fn each_way_a_task_fails_to_start_names_its_cause_and_fix() {
        let pull = never_ran(
            &stopped("CannotPullContainerError: pull image manifest has been retried 5 time(s): api:v9 not found"),
            "api",
        );
        assert!(
            pull.starts_with("task never started: container api did not run: the image could not be pulled"),
            "{pull}"
        );
        assert!(pull.contains("ECS: CannotPullContainerError: pull image manifest"), "{pull}");
        assert!(pull.contains("fix: check that the tag exists in ECR"), "{pull}");
        let secrets =
            never_ran(&stopped("ResourceInitializationError: unable to pull secrets or registry auth"), "api");
        assert!(secrets.contains("could not fetch its secrets"), "{secrets}");
        let role = never_ran(&stopped("ECS was unable to assume the role 'arn:aws:iam::1:role/x'"), "api");
        assert!(role.contains("could not use the task's roles"), "{role}");
        let other = never_ran(&End { stop_code: "UserInitiated".into(), started: true, ..End::default() }, "api");
        assert!(other.starts_with("task container api did not run: someone stopped the task"), "{other}");
    }

    #[test]
    fn a_task_not_placed_names_the_missing_capacity() {
        let text = not_placed("runner", &[("RESOURCE:MEMORY".into(), String::new())]);
        assert!(
            text.contains("RESOURCE:MEMORY: no capacity: no container instance of runner has the free memory"),
            "{text}"
        );
        assert!(not_placed("c", &[]).contains("reported no failure"));
    }
}
