//! The graph: an arena of nodes in evaluation order, connected by typed ports.

use super::op::Op;
use super::types::Type;

/// Index of a node in [`Graph::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One input of a node: the value another node produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Port {
    pub node: NodeId,
    /// Reads the value of the previous timestep (a recurrent edge); zero at t = 0.
    pub delayed: bool,
}

impl Port {
    pub fn now(node: NodeId) -> Self {
        Port {
            node,
            delayed: false,
        }
    }

    pub fn prev(node: NodeId) -> Self {
        Port {
            node,
            delayed: true,
        }
    }
}

/// A node: an operator applied to the sum of its inputs, producing a value of type `ty`.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Unique within the graph; taken from the source model (dotted for nested NIR graphs).
    pub name: String,
    pub op: Op,
    /// Several inputs are summed elementwise, as in NIR.
    pub inputs: Vec<Port>,
    pub ty: Type,
}

/// A dataflow graph. Nodes are stored in evaluation order: an undelayed input always refers to
/// an earlier node, so one pass in order computes one timestep.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Graph {
    pub name: String,
    pub nodes: Vec<Node>,
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Self {
        Graph {
            name: name.into(),
            nodes: Vec::new(),
        }
    }

    /// Appends a node and returns its id.
    pub fn add(&mut self, name: impl Into<String>, op: Op, inputs: Vec<Port>, ty: Type) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(Node {
            name: name.into(),
            op,
            inputs,
            ty,
        });
        id
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn ids(&self) -> impl Iterator<Item = NodeId> {
        (0..self.nodes.len() as u32).map(NodeId)
    }

    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .map(|i| NodeId(i as u32))
    }

    /// Input nodes, in order.
    pub fn inputs(&self) -> Vec<NodeId> {
        self.ids()
            .filter(|&i| matches!(self.node(i).op, Op::Input))
            .collect()
    }

    /// Output nodes, in order.
    pub fn outputs(&self) -> Vec<NodeId> {
        self.ids()
            .filter(|&i| matches!(self.node(i).op, Op::Output))
            .collect()
    }

    /// Nodes that read `id`, with the port flag.
    pub fn readers(&self, id: NodeId) -> Vec<(NodeId, Port)> {
        let mut r = Vec::new();
        for n in self.ids() {
            for p in &self.node(n).inputs {
                if p.node == id {
                    r.push((n, *p));
                }
            }
        }
        r
    }

    /// True when every operator belongs to the integer stage (or is an input/output).
    pub fn is_integer(&self) -> bool {
        self.nodes.iter().all(|n| !n.op.is_float())
    }
}
