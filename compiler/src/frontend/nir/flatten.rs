//! Nested NIR graphs -> one flat node list with dotted names and resolved edges.
//!
//! A nested graph's Input and Output nodes only mark its boundary, so they are wired through
//! and removed. An edge naming a nested graph itself means its Input nodes (as a destination)
//! or its single Output node (as a source).

use super::read::{LeafKind, RawBody, RawGraph, RawLeaf};
use super::{node_msg, quote, MAX_EDGES};
use std::collections::{BTreeMap, HashSet};

/// A node that survives flattening.
#[derive(Debug)]
pub(super) struct FlatNode {
    /// Full dotted name.
    pub name: String,
    pub leaf: RawLeaf,
}

/// The flattened graph: nodes sorted by name, edges `(src, dst)` as node indices, in file order.
#[derive(Debug)]
pub(super) struct Flat {
    pub nodes: Vec<FlatNode>,
    pub edges: Vec<(usize, usize)>,
}

type Res<T> = Result<T, String>;

/// Cap on list entries built while wiring through nested boundaries (fan-in x fan-out can grow).
const MAX_WIRING_WORK: usize = 1 << 24;

enum Entry {
    Node(usize),
    Graph(Scope),
}

/// One graph's names, for resolving its edges.
struct Scope {
    name: String,
    entries: BTreeMap<String, Entry>,
    inputs: Vec<usize>,
    outputs: Vec<usize>,
    edges: Vec<(String, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Src,
    Dst,
}

#[derive(Default)]
struct Builder {
    names: Vec<String>,
    /// `None` marks a nested Input/Output (a pass-through, removed later).
    leaves: Vec<Option<RawLeaf>>,
    seen: HashSet<String>,
    edges: Vec<(usize, usize)>,
}

pub(super) fn flatten(top: RawGraph) -> Res<Flat> {
    let mut b = Builder::default();
    let scope = b.scope(top, false)?;
    b.resolve_edges(&scope)?;
    b.finish()
}

impl Builder {
    fn scope(&mut self, g: RawGraph, nested: bool) -> Res<Scope> {
        let mut s = Scope {
            name: g.name,
            entries: BTreeMap::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            edges: g.edges,
        };
        for node in g.nodes {
            let full = if s.name.is_empty() {
                node.name.clone()
            } else {
                format!("{}.{}", s.name, node.name)
            };
            // A flat node `a.b` and node `b` of nested graph `a` would share a name.
            if !self.seen.insert(full.clone()) {
                return Err(node_msg(
                    &full,
                    "name is used by two nodes after flattening",
                ));
            }
            let entry = match node.body {
                RawBody::Graph(inner) => Entry::Graph(self.scope(inner, true)?),
                RawBody::Leaf(leaf) => {
                    let kind = leaf.kind;
                    let boundary = matches!(kind, LeafKind::Input | LeafKind::Output);
                    let id = self.names.len();
                    if id >= MAX_EDGES {
                        return Err(format!("more than {MAX_EDGES} nodes"));
                    }
                    self.names.push(full);
                    // Flatten only reshapes row-major data: like a nested boundary, it is
                    // wired through.
                    let pass = (nested && boundary) || kind == LeafKind::Flatten;
                    self.leaves.push(if pass { None } else { Some(leaf) });
                    match kind {
                        LeafKind::Input => s.inputs.push(id),
                        LeafKind::Output => s.outputs.push(id),
                        _ => {}
                    }
                    Entry::Node(id)
                }
            };
            s.entries.insert(node.name, entry);
        }
        Ok(s)
    }

    fn resolve_edges(&mut self, s: &Scope) -> Res<()> {
        for (a, b) in &s.edges {
            let edge = || {
                let mut m = format!("edge {} -> {}", quote(a), quote(b));
                if !s.name.is_empty() {
                    m.push_str(&format!(" in graph {}", quote(&s.name)));
                }
                m
            };
            let srcs = resolve(s, a, Role::Src).map_err(|e| format!("{}: {e}", edge()))?;
            let dsts = resolve(s, b, Role::Dst).map_err(|e| format!("{}: {e}", edge()))?;
            for &x in &srcs {
                for &y in &dsts {
                    if self.edges.len() >= MAX_EDGES {
                        return Err(format!("more than {MAX_EDGES} edges"));
                    }
                    self.edges.push((x, y));
                }
            }
        }
        for e in s.entries.values() {
            if let Entry::Graph(inner) = e {
                self.resolve_edges(inner)?;
            }
        }
        Ok(())
    }

    /// Wires every pass-through away and renumbers the remaining nodes in name order.
    fn finish(self) -> Res<Flat> {
        let n = self.names.len();
        let is_pass = |i: usize| self.leaves.get(i).is_some_and(|l| l.is_none());
        let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut has_in = vec![false; n];
        for &(a, b) in &self.edges {
            if let Some(o) = out.get_mut(a) {
                o.push(b);
            }
            if let Some(h) = has_in.get_mut(b) {
                *h = true;
            }
        }
        for i in 0..n {
            if is_pass(i) && !has_in[i] && !out[i].is_empty() {
                return Err(node_msg(
                    &self.names[i],
                    "boundary node of a nested graph has no incoming edge",
                ));
            }
        }
        // Real destinations reached from each pass-through, with multiplicity (several paths
        // through a boundary are several summed inputs, as in NIR).
        let mut memo: Vec<Option<Vec<usize>>> = vec![None; n];
        let mut work = 0usize;
        let mut edges = Vec::with_capacity(self.edges.len());
        for &(a, b) in &self.edges {
            if is_pass(a) {
                continue;
            }
            if !is_pass(b) {
                edges.push((a, b));
                continue;
            }
            expand(b, &out, &is_pass, &mut memo, &mut work, &self.names)?;
            if let Some(Some(ds)) = memo.get(b) {
                for &d in ds {
                    if edges.len() >= MAX_EDGES {
                        return Err(format!("more than {MAX_EDGES} edges after flattening"));
                    }
                    edges.push((a, d));
                }
            }
        }
        // Renumber: real nodes sorted by full name.
        let mut real: Vec<(String, RawLeaf, usize)> = self
            .names
            .into_iter()
            .zip(self.leaves)
            .enumerate()
            .filter_map(|(i, (name, leaf))| leaf.map(|l| (name, l, i)))
            .collect();
        real.sort_by(|x, y| x.0.cmp(&y.0));
        let mut new_id = vec![usize::MAX; n];
        for (k, r) in real.iter().enumerate() {
            if let Some(slot) = new_id.get_mut(r.2) {
                *slot = k;
            }
        }
        let edges = edges
            .into_iter()
            .filter_map(|(a, b)| {
                let (a, b) = (*new_id.get(a)?, *new_id.get(b)?);
                (a != usize::MAX && b != usize::MAX).then_some((a, b))
            })
            .collect();
        let nodes = real
            .into_iter()
            .map(|(name, leaf, _)| FlatNode { name, leaf })
            .collect();
        Ok(Flat { nodes, edges })
    }
}

/// Fills `memo[root]` with the real nodes `root` feeds through chains of pass-throughs.
/// Iterative, since sibling graphs can chain boundaries arbitrarily long.
fn expand(
    root: usize,
    out: &[Vec<usize>],
    is_pass: &dyn Fn(usize) -> bool,
    memo: &mut [Option<Vec<usize>>],
    work: &mut usize,
    names: &[String],
) -> Res<()> {
    if memo.get(root).is_some_and(|m| m.is_some()) {
        return Ok(());
    }
    let mut on_stack = HashSet::new();
    let mut stack = vec![(root, 0usize)];
    on_stack.insert(root);
    while let Some(top) = stack.last_mut() {
        let (p, i) = *top;
        let succ = out.get(p).map(Vec::as_slice).unwrap_or(&[]);
        if let Some(&c) = succ.get(i) {
            top.1 += 1;
            if is_pass(c) && memo.get(c).is_some_and(|m| m.is_none()) {
                if !on_stack.insert(c) {
                    let name = names.get(c).map(String::as_str).unwrap_or("?");
                    return Err(node_msg(
                        name,
                        "nested graph boundaries form a cycle with no node on it",
                    ));
                }
                stack.push((c, 0));
            }
            continue;
        }
        let mut list = Vec::new();
        for &c in succ {
            if is_pass(c) {
                if let Some(Some(l)) = memo.get(c) {
                    list.extend_from_slice(l);
                }
            } else {
                list.push(c);
            }
        }
        *work += list.len();
        if *work > MAX_WIRING_WORK {
            return Err("too many edges through nested graph boundaries".into());
        }
        if let Some(m) = memo.get_mut(p) {
            *m = Some(list);
        }
        on_stack.remove(&p);
        stack.pop();
    }
    Ok(())
}

/// The node indices an edge endpoint `name` stands for in scope `s`.
fn resolve(s: &Scope, name: &str, role: Role) -> Res<Vec<usize>> {
    match s.entries.get(name) {
        Some(Entry::Node(i)) => return Ok(vec![*i]),
        Some(Entry::Graph(g)) => return graph_ports(g, role),
        None => {}
    }
    // `sub.inner` names node `inner` of nested graph `sub` (which may itself be nested).
    for (i, _) in name.match_indices('.') {
        if let Some(Entry::Graph(g)) = s.entries.get(&name[..i]) {
            return resolve(g, &name[i + 1..], role);
        }
    }
    Err(format!("no node named {}", quote(name)))
}

fn graph_ports(g: &Scope, role: Role) -> Res<Vec<usize>> {
    match role {
        Role::Dst if g.inputs.is_empty() => {
            Err(format!("nested graph {} has no Input node", quote(&g.name)))
        }
        Role::Dst => Ok(g.inputs.clone()),
        Role::Src if g.outputs.len() == 1 => Ok(g.outputs.clone()),
        Role::Src => Err(format!(
            "nested graph {} has {} Output nodes; name one as '{}.<output>'",
            quote(&g.name),
            g.outputs.len(),
            g.name
        )),
    }
}
