//! The stack's resources and the dependencies `up` follows, from the stack file alone (no AWS
//! call), as Mermaid (renders on GitHub) or Graphviz DOT.
//!
//! One edge source: the graph is the plan of an empty account (`reconcile::diff` against nothing
//! observed), whose declared dependencies are exactly the prerequisites `up` from empty gives its
//! steps (`plan::order`). An edge `a --> b` reads "a is created before b".
//! Invariants: the output depends only on the stack file (resources and edges sorted by address),
//! so it can be golden-tested and diffed in review.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::model::{Address, Kind};
use crate::reconcile::{Group, Plan};

/// The groups of the seed's diagram, in its order.
const GROUPS: [(&str, &str); 5] = [
    ("network", "Network"),
    ("edge", "Edge: load balancer, certificate, DNS"),
    ("compute", "Compute and identity"),
    ("storage", "Storage: images and parameters"),
    ("monitoring", "Monitoring"),
];

/// Which group of the diagram a kind belongs to: by the service that reads it.
fn group(kind: Kind) -> &'static str {
    match crate::reconcile::registry::group(kind) {
        Group::Network => "network",
        Group::Edge | Group::Certificates | Group::Dns => "edge",
        Group::Ecs | Group::Runner | Group::Iam => "compute",
        Group::Repositories | Group::Parameters => "storage",
        Group::LogGroups | Group::Alarms | Group::Topics => "monitoring",
    }
}

pub use crate::plan::graph::Graph;

impl Graph {
    fn grouped(&self) -> BTreeMap<&'static str, Vec<&Address>> {
        let mut out: BTreeMap<&'static str, Vec<&Address>> = BTreeMap::new();
        for n in &self.nodes {
            out.entry(group(n.kind)).or_default().push(n);
        }
        out
    }

    /// Mermaid `flowchart`: one subgraph per group, node ids `n0…` (addresses hold characters
    /// Mermaid ids may not), labels quoted.
    pub fn mermaid(&self) -> String {
        let id = |a: &Address| format!("n{}", self.nodes.binary_search(a).unwrap_or_default());
        let mut out = String::from("flowchart LR\n");
        let grouped = self.grouped();
        for (key, title) in GROUPS {
            let Some(members) = grouped.get(key) else { continue };
            out.push_str(&format!("    subgraph {key}[\"{title}\"]\n"));
            for a in members {
                out.push_str(&format!("        {}[\"{a}\"]:::{key}\n", id(a)));
            }
            out.push_str("    end\n");
        }
        for (before, after) in &self.edges {
            out.push_str(&format!("    {} --> {}\n", id(before), id(after)));
        }
        for (key, colours) in [
            ("network", "fill:#f39c12,stroke:#c87f0a,color:#fff"),
            ("edge", "fill:#e67e22,stroke:#a04000,color:#fff"),
            ("compute", "fill:#4a90e2,stroke:#2d5a8c,color:#fff"),
            ("storage", "fill:#50c878,stroke:#2d7a4a,color:#fff"),
            ("monitoring", "fill:#9b59b6,stroke:#6c3483,color:#fff"),
        ] {
            out.push_str(&format!("    classDef {key} {colours}\n"));
        }
        out
    }

    /// Graphviz DOT: one cluster per group, nodes named by their address.
    pub fn dot(&self, stack: &str) -> String {
        let mut out = format!("digraph \"{stack}\" {{\n    rankdir=LR;\n    node [shape=box];\n");
        let grouped = self.grouped();
        for (key, title) in GROUPS {
            let Some(members) = grouped.get(key) else { continue };
            out.push_str(&format!("    subgraph cluster_{key} {{\n        label=\"{title}\";\n"));
            for a in members {
                out.push_str(&format!("        \"{a}\";\n"));
            }
            out.push_str("    }\n");
        }
        for (before, after) in &self.edges {
            out.push_str(&format!("    \"{before}\" -> \"{after}\";\n"));
        }
        out.push_str("}\n");
        out
    }
}

/// The plan of an empty account for `desired`: every resource a create, with its dependencies.
pub fn plan_from_empty(desired: &crate::model::desired::Desired, region: &str) -> Result<Plan> {
    let ctx = crate::plan::build::PlanContext {
        stack: desired.stack.clone(),
        stack_tags: desired.tags.clone(),
        mode: crate::plan::build::Mode::Converge,
        delete_data: false,
        // No AWS call: ARNs in documents carry a placeholder account, which no edge depends on.
        account: "000000000000".into(),
        region: region.to_string(),
        image_tag: None,
    };
    let mut plan = Plan { stack: desired.stack.clone(), region: region.to_string(), ..Plan::default() };
    // What a plan reads besides the stack's resources: the AMI each runner launches (a placeholder).
    let mut observed = crate::reconcile::Observed::default();
    for c in &desired.ec2_capacity {
        observed.runner.amis.insert(c.ami_parameter.clone(), "ami-from-ssm".into());
    }
    crate::reconcile::diff(&ctx, desired, &observed, &mut plan)?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked_in() -> (Plan, Graph) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stack.yaml");
        let stack = crate::config::load(&path).expect("valid stack");
        let desired = crate::config::resolve::resolve(&stack, &|_| None);
        let plan = plan_from_empty(&desired, "us-east-1").expect("plan");
        let graph = Graph::of(&plan);
        (plan, graph)
    }

    #[test]
    fn every_kind_has_a_group_of_the_diagram() {
        for &k in Kind::ALL {
            assert!(GROUPS.iter().any(|(key, _)| *key == group(k)), "{k:?}");
        }
    }

    /// One edge source: the graph's edges are exactly the prerequisites of `up`'s steps from empty.
    #[test]
    fn the_graph_is_the_order_up_creates_the_stack_in() {
        let (plan, graph) = checked_in();
        assert_eq!(
            graph.nodes.len(),
            73,
            "the seed stack's 56, the flow log with its role and log group, the alarms' topic, 13 more alarms"
        );
        let steps = crate::plan::order::steps(&plan);
        let mut from_steps: Vec<(Address, Address)> =
            steps.iter().flat_map(|s| s.after.iter().map(|&j| (steps[j].address.clone(), s.address.clone()))).collect();
        from_steps.sort();
        from_steps.dedup();
        assert_eq!(graph.edges, from_steps);
        // The runner's service needs no load balancer; the API/Web service needs its own rules.
        let runner = Address::new(Kind::EcsService, "containrlab-runner-service");
        assert!(!graph.edges.iter().any(|(a, b)| b == &runner && a.kind == Kind::ListenerRule));
        let api = Address::new(Kind::EcsService, "containrlab-service");
        assert!(graph.edges.contains(&(Address::new(Kind::ListenerRule, "api.containrlab.click"), api)));
    }

    #[test]
    fn the_checked_in_stack_as_mermaid_and_dot() {
        let (plan, graph) = checked_in();
        insta::assert_snapshot!("stack_mermaid", graph.mermaid());
        insta::assert_snapshot!("stack_dot", graph.dot(&plan.stack));
    }
}
