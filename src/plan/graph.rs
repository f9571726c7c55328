//! The dependency graph of a plan: its resources and the edges `(before, after)` its changes
//! declare. What `--target` narrows by and what `containrlab graph` draws.

use crate::model::Address;

use super::Plan;

/// Resources (sorted) and edges `(before, after)` (sorted, each once) of a plan from empty.
pub struct Graph {
    pub nodes: Vec<Address>,
    pub edges: Vec<(Address, Address)>,
}

impl Graph {
    pub fn of<P>(plan: &Plan<P>) -> Graph {
        let mut nodes: Vec<Address> = plan.changes.iter().map(|c| c.address.clone()).collect();
        nodes.sort();
        nodes.dedup();
        let mut edges: Vec<(Address, Address)> = plan
            .changes
            .iter()
            .flat_map(|c| c.depends_on.iter().map(move |d| (d.clone(), c.address.clone())))
            // A reference to something outside the stack is no edge of its graph.
            .filter(|(d, _)| nodes.binary_search(d).is_ok())
            .collect();
        edges.sort();
        edges.dedup();
        Graph { nodes, edges }
    }
}
