//! `cost`: the stack file priced from the checked-in price file with no AWS call (golden view,
//! JSON lines that add up, every address priced or named free); and the monthly cost change
//! `diff` prints under a plan that changes the runner's instance type.

use crate::support::Env;

#[test]
fn cost_prices_every_resource_of_the_stack_file_without_calling_aws() {
    let env = Env::new();
    let run = env.run_at("http://127.0.0.1:9", &["cost"]);
    run.expect_code(0);
    assert_eq!(run.total_calls(), 0);
    assert!(
        run.stdout.contains("  NAT Gateway     $32.85  nat_gateway.public-a: 730 h × $0.045/hour\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("the seed's ~$10.00 is below the hourly charge alone ($32.85)"), "{}", run.stdout);
    insta::assert_snapshot!("cost_human", run.stdout);

    let json = env.run_at("http://127.0.0.1:9", &["--json", "cost"]).json();
    let lines = json["lines"].as_array().expect("lines");
    let sum: f64 = lines.iter().map(|l| l["monthly"].as_f64().unwrap_or(f64::NAN)).sum();
    let total = json["total"].as_f64().expect("total");
    assert!((sum - total).abs() < 0.05, "lines add up to {sum}, total says {total}");
    for l in lines {
        assert!(l["source"].as_str().is_some_and(|s| s.starts_with("https://aws.amazon.com/")), "{l}");
        let expected = l["quantity"].as_f64().unwrap() * l["unit_price"].as_f64().unwrap();
        assert!((l["monthly"].as_f64().unwrap() - expected).abs() < 0.006, "{l}");
    }
    let mut addresses: Vec<&str> = lines.iter().filter_map(|l| l["address"].as_str()).collect();
    addresses.dedup();
    let free = json["free"].as_array().expect("free");
    assert_eq!(addresses.len() + free.len(), 73, "every address of the stack once, priced or free");
}

#[test]
fn diff_shows_the_monthly_cost_change_of_its_plan() {
    let env = Env::new();
    let empty = env.run(&["diff"]);
    assert!(
        empty.stdout.contains("Monthly cost: $0.00 → $131.34 (+$131.34/month): nat_gateway.public-a"),
        "{}",
        empty.stdout
    );
    env.run(&["up", "--yes"]).expect_code(0);
    let converged = env.run(&["diff"]);
    assert!(!converged.stdout.contains("Monthly cost"), "{}", converged.stdout);

    env.edit_stack("instance_type: t3.medium", "instance_type: m5.large");
    let run = env.run(&["diff"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains(
            "Monthly cost: $131.34 → $171.06 (+$39.71/month): autoscaling_group.containrlab-runner-ec2 \
             t3.medium × 1 × 730 h → m5.large × 1 × 730 h +$39.71\n"
        ),
        "{}",
        run.stdout
    );
    let json = env.run(&["--json", "diff"]).json();
    assert_eq!(json["monthly_cost"]["change"], 39.71);
    assert_eq!(json["monthly_cost"]["lines"][0]["before"]["what"], "t3.medium × 1 × 730 h");
    let markdown = env.run(&["diff", "--markdown"]).stdout;
    assert!(markdown.contains("Monthly cost: $131.34 → $171.06 (+$39.71/month)"), "{markdown}");
}
