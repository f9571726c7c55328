//! The security report of the checked-in stack (golden), and how the stack file's `allow:` turns a
//! failing control into an accepted one — never more than it names.

use std::path::{Path, PathBuf};

use super::*;
use crate::config::security::*;
use crate::config::{load_str, load_str_with, ConfigErrors, FailingControls};
use crate::plan::human::Style;

fn stack_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("stack.yaml")
}

fn checked_in() -> String {
    std::fs::read_to_string(stack_path()).expect("the checked-in stack.yaml")
}

/// The report `check` prints: a failing control is a FAIL row (everywhere else an error).
fn report_of(text: &str) -> Vec<Finding> {
    load_str_with(&stack_path(), text, FailingControls::Reported).expect("a valid stack").security
}

fn errors_of(text: &str) -> Vec<String> {
    match load_str(&stack_path(), text) {
        Ok(_) => Vec::new(),
        Err(ConfigErrors(list)) => list.iter().map(ToString::to_string).collect(),
    }
}

fn status_of<'a>(report: &'a [Finding], id: &str, at: &str) -> &'a Status {
    &report.iter().find(|f| f.control.id == id && f.at == at).unwrap_or_else(|| panic!("no {id} at {at}")).status
}

#[test]
fn the_checked_in_stack_fails_no_control_and_names_every_one() {
    let report = report_of(&checked_in());
    let text = human("containrlab", "stack.yaml", &report, &Style { color: false });
    insta::assert_snapshot!("check_human", text);
    for control in all_controls() {
        let of: Vec<&Finding> = report.iter().filter(|f| f.control.id == control.id).collect();
        assert!(!of.is_empty(), "{} is not listed", control.id);
        assert!(of.iter().all(|f| f.status != Status::NotApplicable), "{} does not apply to the stack", control.id);
    }
    let fails: Vec<&Finding> = report.iter().filter(|f| f.status == Status::Fail).collect();
    assert!(fails.is_empty(), "{fails:#?}");
    let s = Security::of(&report);
    assert!(s.pass > 30 && s.accepted > 10, "{s:?}");
    assert!(s.line().contains(" accepted (CloudWatch.16 ×4, EC2.10, EC2.21, EC2.28, ECR.2 ×4, ECS.4, ECS.5 ×2, ELB.5, ELB.6, ELB.16, Route53.2, SSM.1, cloudwatch_log_group_kms_encryption_enabled ×4, ec2_instance_detailed_monitoring_enabled, elbv2_listener_fips_tls_enabled, iam_role_cross_service_confused_deputy_prevention), 0 fail of AWS Security Hub's controls and prowler's checks"), "{}", s.line());
}

#[test]
fn an_allowance_accepts_its_control_at_its_path_and_below_only() {
    // Accepting ECR.2 for one repository leaves the others failing.
    let text = checked_in().replace(
        "  - risk: ECR.2\n    at: ecr.repositories\n",
        "  - risk: ECR.2\n    at: ecr.repositories.containrlab-api\n",
    );
    let report = report_of(&text);
    assert!(
        matches!(status_of(&report, "ECR.2", "ecr.repositories.containrlab-api.tag_mutability"), Status::Accepted(r) if r.starts_with("the seed specifies MUTABLE"))
    );
    assert_eq!(status_of(&report, "ECR.2", "ecr.repositories.containrlab-web.tag_mutability"), &Status::Fail);
    let s = Security::of(&report);
    assert_eq!(s.failing.len(), 3, "{s:?}");
    assert!(
        s.failing[0].starts_with("ECR.2 at ecr.repositories.containrlab-runner.tag_mutability: tags are MUTABLE"),
        "{s:?}"
    );
    // A prefix of a name is not a section above it.
    let partial = checked_in().replace("    at: ecr.repositories\n", "    at: ecr.repositories.containrlab-run\n");
    assert!(
        errors_of(&partial).iter().any(|e| e.contains(
            "accepts nothing: there is no `ECR.2` risk or failing control at `ecr.repositories.containrlab-run`"
        )),
        "{:?}",
        errors_of(&partial)
    );
}

#[test]
fn fixing_what_a_control_found_makes_its_allowance_an_error() {
    let immutable = checked_in().replace("tag_mutability: MUTABLE", "tag_mutability: IMMUTABLE");
    let errors = errors_of(&immutable);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("accepts nothing: there is no `ECR.2` risk or failing control at `ecr.repositories`")),
        "{errors:?}"
    );
}

#[test]
fn a_control_is_accepted_by_its_risk_and_a_weakened_stack_fails() {
    let report = report_of(&checked_in());
    // The runner's privileged container is accepted as the `privileged-container` risk.
    assert!(matches!(
        status_of(&report, "ECS.4", "ecs.services.containrlab-runner-service.task_definition"),
        Status::Accepted(r) if r.starts_with("the runner is Docker-in-Docker")
    ));
    assert_eq!(status_of(&report, "ECS.4", "ecs.services.containrlab-service.task_definition"), &Status::Pass);
    let insights =
        checked_in().replace("container_insights: true   # the runner's", "container_insights: false   # the runner's");
    let report = report_of(&insights);
    assert_eq!(status_of(&report, "ECS.12", "ecs.clusters.containrlab-runner-ec2.container_insights"), &Status::Fail);
    let open_http = checked_in().replace("    redirect_to_https: true", "    redirect_to_https: false");
    let report = report_of(&open_http);
    assert_eq!(status_of(&report, "ELB.1", "load_balancer.http_listener"), &Status::Fail);
    assert_eq!(
        Security::of(&report).failing,
        vec!["ELB.1 at load_balancer.http_listener: HTTP is served without a redirect"]
    );
}

#[test]
fn a_stack_without_a_load_balancer_lists_its_controls_as_not_applicable() {
    let report = report(Vec::new(), &[]);
    assert_eq!(report.len(), all_controls().count());
    assert!(report.iter().all(|f| f.status == Status::NotApplicable));
    let j = json("x", &report);
    assert_eq!(j["summary"]["not_applicable"], all_controls().count());
    assert_eq!(j["findings"][0]["status"], "N/A");
}

#[test]
fn covers_is_the_path_or_a_section_above_it() {
    assert!(covers("ecr.repositories", "ecr.repositories.a.tag_mutability"));
    assert!(covers("security_groups.a.ingress", "security_groups.a.ingress[2]"));
    assert!(covers("load_balancer", "load_balancer"));
    assert!(!covers("ecr.repositories.a", "ecr.repositories.ab"));
    assert!(!covers("ecr.repositories.a.tag_mutability", "ecr.repositories.a"));
}
