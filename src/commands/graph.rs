//! `graph`: the stack's resources and dependencies from the stack file, with no AWS call —
//! Mermaid or DOT on stdout, or `--json` `{nodes, edges: [[before, after]…]}`.

use anyhow::Result;

use crate::cli::{Cli, GraphFormat};
use crate::ops::graph::{plan_from_empty, Graph};

pub fn run(cli: &Cli, format: GraphFormat) -> Result<i32> {
    let stack = super::load(cli)?;
    let desired = crate::config::resolve::resolve(&stack, &|var| std::env::var(var).ok());
    let region = stack.file.region.clone().or_else(|| cli.region.clone()).unwrap_or_else(|| "us-east-1".into());
    let graph = Graph::of(&plan_from_empty(&desired, &region)?);
    if cli.json {
        let nodes: Vec<String> = graph.nodes.iter().map(ToString::to_string).collect();
        let edges: Vec<[String; 2]> = graph.edges.iter().map(|(a, b)| [a.to_string(), b.to_string()]).collect();
        println!("{}", serde_json::json!({ "stack": desired.stack, "nodes": nodes, "edges": edges }));
    } else {
        match format {
            GraphFormat::Mermaid => print!("{}", graph.mermaid()),
            GraphFormat::Dot => print!("{}", graph.dot(&desired.stack)),
        }
    }
    Ok(0)
}
