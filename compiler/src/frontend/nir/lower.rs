//! Flat NIR nodes -> float-stage IR: parameter checks, type inference, evaluation order.
//!
//! Recurrence: inside each strongly connected component, edges leaving a neuron become delayed
//! ports (the neuron's output of the previous step), which is what NIR's recurrent edges mean;
//! the remaining edges must form a DAG, ordered by Kahn's algorithm taking the name-first ready
//! node so the same file always gives the same graph.

use super::flatten::Flat;
use super::read::{Field, LeafKind, RawLeaf};
use super::window::Window;
use super::{node_msg, quote, MAX_DATASET_ELEMENTS};
use crate::ir::verify::verify;
use crate::ir::{Elem, FloatNeuron, Graph, NodeId, Op, Port, Tensor, Type};
use std::collections::{BTreeSet, VecDeque};

type Res<T> = Result<T, String>;

/// A node's checked parameters and what they fix about its type.
struct Proto {
    kind: LeafKind,
    /// Output length set by the parameters (`None`: taken from the input).
    fixed_len: Option<usize>,
    /// Input length set by the parameters (weight columns).
    in_len: Option<usize>,
    /// Input node dimensions.
    input_shape: Vec<usize>,
    /// Weight `[rows, cols]` for Affine/Linear.
    weight_shape: [usize; 2],
    /// Convolution and pooling parameters.
    window: Option<Window>,
}

pub(super) fn lower(graph_name: &str, flat: Flat) -> Res<Graph> {
    let Flat { nodes, edges } = flat;
    let n = nodes.len();
    let names: Vec<&str> = nodes.iter().map(|x| x.name.as_str()).collect();
    let protos = nodes
        .iter()
        .map(|x| proto(&x.name, &x.leaf))
        .collect::<Res<Vec<Proto>>>()?;
    if !protos.iter().any(|p| p.kind == LeafKind::Output) {
        return Err("graph has no Output node".into());
    }

    let mut ins: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut outs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in &edges {
        ins[b].push(a);
        outs[a].push(b);
    }
    check_connections(&names, &protos, &ins, &outs)?;

    // An edge is delayed when it leaves a neuron inside a cycle (same SCC, self-loops too).
    let comp = scc(&outs);
    let is_neuron = |i: usize| matches!(protos[i].kind, LeafKind::Neuron(_));
    let delayed = |a: usize, b: usize| comp[a] == comp[b] && is_neuron(a);
    let order = eval_order(&names, &ins, &outs, &delayed)?;

    let leaves: Vec<&RawLeaf> = nodes.iter().map(|x| &x.leaf).collect();
    let types = infer_types(&names, &protos, &leaves, &ins, &order)?;
    check_sizes(&names, &protos, &ins, &types, &order)?;

    // Ids are positions in evaluation order; delayed ports may name later nodes.
    let mut ids = vec![NodeId(0); n];
    for (k, &v) in order.iter().enumerate() {
        ids[v] = NodeId(k as u32);
    }
    let mut g = Graph::new(graph_name);
    for &v in &order {
        // Summation order is irrelevant, but the verifier wants real inputs before spikes.
        let mut srcs = ins[v].clone();
        srcs.sort_by_key(|&u| types[u].elem == Elem::Spike);
        let ports: Vec<Port> = srcs
            .iter()
            .map(|&u| Port {
                node: ids[u],
                delayed: delayed(u, v),
            })
            .collect();
        let ty = types[v].clone();
        let in_ty = ins[v].first().map(|&u| &types[u]);
        let op = build_op(names[v], &nodes[v].leaf, &protos[v], ty.len(), in_ty)?;
        g.add(names[v], op, ports, ty);
    }
    verify(&g).map_err(|e| format!("internal error: lowered graph fails verification: {e}"))?;
    Ok(g)
}

/// Checks parameters and derives what they fix about the node's type.
fn proto(name: &str, leaf: &RawLeaf) -> Res<Proto> {
    let mut p = Proto {
        kind: leaf.kind,
        fixed_len: None,
        in_len: None,
        input_shape: Vec::new(),
        weight_shape: [0, 0],
        window: None,
    };
    let get = |f: &str| -> Res<&Field> {
        leaf.fields
            .get(f)
            .ok_or_else(|| node_msg(name, format!("missing field '{f}'")))
    };
    for (f, field) in &leaf.fields {
        finite(name, f, field)?;
        if field.data.is_empty() {
            return Err(node_msg(name, format!("field '{f}' is empty")));
        }
    }
    match leaf.kind {
        LeafKind::Input => {
            let f = get("shape")?;
            if f.shape.len() > 1 {
                return Err(node_msg(
                    name,
                    format!("field 'shape' must be a list, has shape {:?}", f.shape),
                ));
            }
            let mut total = 1usize;
            for (i, &d) in f.data.iter().enumerate() {
                if d.fract() != 0.0 || d < 1.0 || d > MAX_DATASET_ELEMENTS as f64 {
                    return Err(node_msg(
                        name,
                        format!("field 'shape' has invalid dimension {d} at index {i}"),
                    ));
                }
                let d = d as usize;
                total = total
                    .checked_mul(d)
                    .filter(|&t| t as u64 <= MAX_DATASET_ELEMENTS)
                    .ok_or_else(|| {
                        node_msg(name, format!("field 'shape' {:?} is too large", f.data))
                    })?;
                p.input_shape.push(d);
            }
            p.fixed_len = Some(total);
        }
        // Wired through during flattening; never lowered.
        LeafKind::Output | LeafKind::Flatten => {}
        LeafKind::Conv { .. } | LeafKind::Pool { .. } => {
            p.window = Some(Window::parse(name, leaf)?)
        }
        LeafKind::Affine | LeafKind::Linear => {
            let w = get("weight")?;
            let [rows, cols] = match w.shape.as_slice() {
                &[r, c] => [r, c],
                s => {
                    return Err(node_msg(
                        name,
                        format!("field 'weight' must be 2-D [out, in], has shape {s:?}"),
                    ))
                }
            };
            p.weight_shape = [rows, cols];
            p.fixed_len = Some(rows);
            p.in_len = Some(cols);
            if leaf.kind == LeafKind::Affine {
                let b = get("bias")?;
                if b.data.len() != rows && b.data.len() != 1 {
                    return Err(node_msg(
                        name,
                        format!("field 'bias' has {} entries, expected {rows}", b.data.len()),
                    ));
                }
            }
        }
        LeafKind::Scale => {
            let s = get("scale")?;
            p.fixed_len = (s.data.len() > 1).then_some(s.data.len());
        }
        LeafKind::Delay => {
            let d = get("delay")?;
            if let Some(i) = d.data.iter().position(|&x| x < 0.0) {
                return Err(node_msg(
                    name,
                    format!("field 'delay' is negative ({}) at index {i}", d.data[i]),
                ));
            }
            p.fixed_len = (d.data.len() > 1).then_some(d.data.len());
        }
        LeafKind::Neuron(_) => {
            for &f in leaf.kind.field_names() {
                if !optional(f) {
                    get(f)?;
                }
            }
            // The most common non-scalar length is the layer size; the odd one out is named.
            let mut counts: Vec<(usize, usize)> = Vec::new();
            for f in leaf.fields.values() {
                let l = f.data.len();
                if l > 1 {
                    match counts.iter_mut().find(|c| c.0 == l) {
                        Some(c) => c.1 += 1,
                        None => counts.push((l, 1)),
                    }
                }
            }
            let mut best: Option<(usize, usize)> = None;
            for &c in &counts {
                if best.is_none_or(|b| c.1 > b.1) {
                    best = Some(c);
                }
            }
            if let Some((len, _)) = best {
                for &f in leaf.kind.field_names() {
                    if let Some(field) = leaf.fields.get(f) {
                        let l = field.data.len();
                        if l != 1 && l != len {
                            return Err(node_msg(
                                name,
                                format!("field '{f}' has {l} entries, expected {len}"),
                            ));
                        }
                    }
                }
                p.fixed_len = Some(len);
            }
            for f in ["tau", "tau_mem", "tau_syn"] {
                if let Some(field) = leaf.fields.get(f) {
                    if let Some(i) = field.data.iter().position(|&t| t <= 0.0) {
                        return Err(node_msg(
                            name,
                            format!(
                                "field '{f}' must be positive, is {} at index {i}",
                                field.data[i]
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(p)
}

/// Fields NIR made optional: `v_reset` arrived in 1.0.6 (default 0), `w_in` defaults to 1.
pub(super) fn optional(field: &str) -> bool {
    matches!(field, "v_reset" | "w_in")
}

fn finite(name: &str, f: &str, field: &Field) -> Res<()> {
    let Some(i) = field.data.iter().position(|x| !x.is_finite()) else {
        return Ok(());
    };
    let at = match field.shape.as_slice() {
        &[_, c] if c > 0 => format!("[{}, {}]", i / c, i % c),
        _ => i.to_string(),
    };
    Err(node_msg(
        name,
        format!(
            "field '{f}' has a non-finite value ({}) at index {at}",
            field.data[i]
        ),
    ))
}

/// Edge rules that hold regardless of types: inputs have no producers, every other node has
/// one, outputs have exactly one, and every node is fed (transitively) by an Input.
fn check_connections(
    names: &[&str],
    protos: &[Proto],
    ins: &[Vec<usize>],
    outs: &[Vec<usize>],
) -> Res<()> {
    for (v, p) in protos.iter().enumerate() {
        match (p.kind, ins[v].len()) {
            (LeafKind::Input, 0) => {}
            (LeafKind::Input, _) => {
                return Err(node_msg(
                    names[v],
                    format!(
                        "Input node has an incoming edge from {}",
                        quote(names[ins[v][0]])
                    ),
                ))
            }
            (_, 0) => return Err(node_msg(names[v], "has no incoming edge")),
            (LeafKind::Output, 1) => {}
            (LeafKind::Output, k) => {
                return Err(node_msg(
                    names[v],
                    format!("Output node has {k} incoming edges, expected 1"),
                ))
            }
            _ => {}
        }
    }
    let mut seen = vec![false; protos.len()];
    let mut queue: VecDeque<usize> = (0..protos.len())
        .filter(|&v| protos[v].kind == LeafKind::Input)
        .collect();
    for &v in &queue {
        seen[v] = true;
    }
    while let Some(v) = queue.pop_front() {
        for &w in &outs[v] {
            if !seen[w] {
                seen[w] = true;
                queue.push_back(w);
            }
        }
    }
    if let Some(v) = seen.iter().position(|s| !s) {
        return Err(node_msg(names[v], "is not reachable from any Input node"));
    }
    Ok(())
}

/// Strongly connected component of every node (iterative Tarjan: graphs can be deep).
fn scc(adj: &[Vec<usize>]) -> Vec<usize> {
    const NONE: usize = usize::MAX;
    let n = adj.len();
    let (mut index, mut low) = (vec![NONE; n], vec![0; n]);
    let mut on_stack = vec![false; n];
    let mut comp = vec![NONE; n];
    let (mut stack, mut next, mut ncomp) = (Vec::new(), 0usize, 0usize);
    for s in 0..n {
        if index[s] != NONE {
            continue;
        }
        let mut call = vec![(s, 0usize)];
        index[s] = next;
        low[s] = next;
        next += 1;
        stack.push(s);
        on_stack[s] = true;
        while let Some(&(v, i)) = call.last() {
            if let Some(&w) = adj[v].get(i) {
                if let Some(top) = call.last_mut() {
                    top.1 += 1;
                }
                if index[w] == NONE {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            call.pop();
            if let Some(&(u, _)) = call.last() {
                low[u] = low[u].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp[w] = ncomp;
                    if w == v {
                        break;
                    }
                }
                ncomp += 1;
            }
        }
    }
    comp
}

/// Kahn's algorithm over undelayed edges, smallest index (= first name) first.
fn eval_order(
    names: &[&str],
    ins: &[Vec<usize>],
    outs: &[Vec<usize>],
    delayed: &dyn Fn(usize, usize) -> bool,
) -> Res<Vec<usize>> {
    let n = ins.len();
    let mut indeg: Vec<usize> = (0..n)
        .map(|v| ins[v].iter().filter(|&&u| !delayed(u, v)).count())
        .collect();
    let mut ready: BTreeSet<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(v) = ready.pop_first() {
        order.push(v);
        for &w in &outs[v] {
            if !delayed(v, w) {
                indeg[w] -= 1;
                if indeg[w] == 0 {
                    ready.insert(w);
                }
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Every node left has an undelayed predecessor that is also left: walk back to a repeat.
    let left: Vec<bool> = indeg.iter().map(|&d| d > 0).collect();
    let Some(start) = left.iter().position(|&l| l) else {
        return Err("internal error: ordering failed".into());
    };
    let mut path = vec![start];
    let mut pos = vec![usize::MAX; n];
    pos[start] = 0;
    let mut v = start;
    loop {
        let Some(&u) = ins[v].iter().filter(|&&u| left[u] && !delayed(u, v)).min() else {
            return Err("internal error: ordering failed".into());
        };
        if pos[u] != usize::MAX {
            // The walk went backwards along edges, so reverse the loop part for printing.
            let mut cycle: Vec<usize> = path[pos[u]..].to_vec();
            cycle.reverse();
            // Start at the first name so the message does not depend on where the walk began.
            if let Some(k) = (0..cycle.len()).min_by_key(|&k| cycle[k]) {
                cycle.rotate_left(k);
            }
            cycle.push(cycle[0]);
            let shown: Vec<String> = cycle.iter().map(|&i| quote(names[i])).collect();
            return Err(format!(
                "cycle {} has no neuron on it, so no edge can be delayed to break it",
                shown.join(" -> ")
            ));
        }
        pos[u] = path.len();
        path.push(u);
        v = u;
    }
}

/// Output types in evaluation order; nodes sized by their input take the first input whose
/// type is known (a delayed input may be known only on a later pass).
fn infer_types(
    names: &[&str],
    protos: &[Proto],
    leaves: &[&RawLeaf],
    ins: &[Vec<usize>],
    order: &[usize],
) -> Res<Vec<Type>> {
    let mut types: Vec<Option<Type>> = vec![None; protos.len()];
    loop {
        let mut progress = false;
        for &v in order {
            if types[v].is_some() {
                continue;
            }
            let p = &protos[v];
            let from_input = ins[v].iter().find_map(|&u| types[u].clone());
            let len = p.fixed_len.or(from_input.as_ref().map(Type::len));
            let t = match (p.kind, len) {
                (LeafKind::Input, _) => Some(Type::new(Elem::Spike, p.input_shape.clone())),
                // Delays pass values (spikes or reals) through unchanged.
                (LeafKind::Output, _) => from_input,
                (LeafKind::Delay, Some(l)) => from_input.map(|t| Type::new(t.elem, vec![l])),
                (LeafKind::Conv { .. } | LeafKind::Pool { .. }, _) => match (&p.window, from_input)
                {
                    (Some(w), Some(input)) => Some(w.lower(names[v], leaves[v], &input)?.1),
                    _ => None,
                },
                // Neurons keep their input's layout ([c, h, w] after a convolution).
                (LeafKind::Neuron(k), Some(l)) => {
                    let elem = if k.spikes() { Elem::Spike } else { Elem::Real };
                    let shape = from_input
                        .filter(|t| t.len() == l)
                        .map_or_else(|| vec![l], |t| t.shape);
                    Some(Type::new(elem, shape))
                }
                (_, Some(l)) => Some(Type::real(l)),
                (_, None) => None,
            };
            if t.is_some() {
                types[v] = t;
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    types
        .into_iter()
        .enumerate()
        .map(|(v, t)| {
            t.ok_or_else(|| {
                node_msg(
                    names[v],
                    "size cannot be inferred: its parameters are scalars and its inputs' sizes are unknown",
                )
            })
        })
        .collect()
}

fn check_sizes(
    names: &[&str],
    protos: &[Proto],
    ins: &[Vec<usize>],
    types: &[Type],
    order: &[usize],
) -> Res<()> {
    for &v in order {
        let p = &protos[v];
        let want = match p.kind {
            // Windows check their input when their type is inferred.
            LeafKind::Input
            | LeafKind::Output
            | LeafKind::Flatten
            | LeafKind::Conv { .. }
            | LeafKind::Pool { .. } => continue,
            LeafKind::Affine | LeafKind::Linear => p.in_len.unwrap_or(0),
            LeafKind::Scale | LeafKind::Neuron(_) | LeafKind::Delay => types[v].len(),
        };
        for &u in &ins[v] {
            let got = types[u].len();
            if got == want {
                continue;
            }
            let what = match p.kind {
                LeafKind::Affine | LeafKind::Linear => format!(
                    "weight shape [{}, {}] expects {want} inputs",
                    p.weight_shape[0], p.weight_shape[1]
                ),
                LeafKind::Neuron(_) => format!("layer of {want} neurons expects {want} inputs"),
                _ => format!("expects {want} inputs"),
            };
            return Err(node_msg(
                names[v],
                format!(
                    "shape mismatch: {what}, but input {} produces {got} ({})",
                    quote(names[u]),
                    types[u]
                ),
            ));
        }
    }
    Ok(())
}

fn bcast(f: Option<&Field>, n: usize, default: f64) -> Vec<f64> {
    match f.map(|f| f.data.as_slice()) {
        Some(&[x]) => vec![x; n],
        Some(d) => d.to_vec(),
        None => vec![default; n],
    }
}

fn build_op(name: &str, leaf: &RawLeaf, p: &Proto, n: usize, in_ty: Option<&Type>) -> Res<Op> {
    let field = |f: &str| leaf.fields.get(f);
    let weight = || {
        let data = field("weight").map(|w| w.data.clone()).unwrap_or_default();
        Tensor {
            shape: p.weight_shape.to_vec(),
            data,
        }
    };
    Ok(match p.kind {
        LeafKind::Input => Op::Input,
        LeafKind::Output | LeafKind::Flatten => Op::Output,
        LeafKind::Affine => Op::Affine {
            weight: weight(),
            bias: bcast(field("bias"), n, 0.0),
        },
        LeafKind::Linear => Op::Linear { weight: weight() },
        LeafKind::Conv { .. } | LeafKind::Pool { .. } => match (&p.window, in_ty) {
            (Some(w), Some(t)) => w.lower(name, leaf, t)?.0,
            _ => return Err(node_msg(name, "internal error: window without input")),
        },
        LeafKind::Delay => Op::Delay {
            delay: bcast(field("delay"), n, 0.0),
        },
        LeafKind::Scale => Op::Scale {
            scale: bcast(field("scale"), n, 1.0),
        },
        LeafKind::Neuron(kind) => {
            let mut nr = FloatNeuron::neutral(kind, n);
            for (&f, data) in &leaf.fields {
                let Some(slot) = nr.field_mut(f) else {
                    return Err(node_msg(name, format!("internal error: field '{f}'")));
                };
                *slot = bcast(Some(data), n, 0.0);
            }
            Op::Neuron(nr)
        }
    })
}
