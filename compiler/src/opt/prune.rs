//! Graph-level sparsity on the integer IR: neurons that can never spike, neurons whose spikes
//! nobody reads, neurons that always spike together, and nodes no output depends on.
//!
//! * **Silent neurons** come from an abstract interpretation over intervals: a neuron's input
//!   is bounded by its weights (a spike gates a weight, so each column adds `[min(0,w),
//!   max(0,w)]`), its membrane's reachable range is iterated to a fixed point from the reset
//!   state, and if no reachable value crosses the threshold the neuron never spikes. The set is
//!   the *greatest* fixed point (assume every neuron silent, drop those that can fire under that
//!   assumption, repeat), which is sound by induction over time and evaluation order, and finds
//!   recurrent groups that keep each other silent. Their weight columns become zero.
//! * **Duplicate neurons** are merged by partition refinement (coarsest bisimulation): neurons
//!   with equal parameters whose input rows are equal once the columns of each source layer are
//!   summed per class spike identically forever, so their outgoing columns add up in one of
//!   them. An e-graph's congruence closure finds only the least fixed point and misses
//!   recurrent duplicates; refinement finds them.
//! * **Unread neurons** (all outgoing weights zero) leave their layer with their weight rows.
//! * **Dead nodes** (no output depends on them) are dropped.
//!
//! Only layers whose neuron count is free to change are shrunk: spiking layers fed by dense
//! layers that feed nothing else, and read only by dense layers. Outputs keep their shape.

use crate::ir::{Graph, IntDense, IntNeuron, NodeId, Op, Port, Type};
use crate::quant::interval::{decay, Interval};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::time::Instant;

/// Membrane steps iterated before the reachable range is widened to the whole state width.
const REACH_STEPS: usize = 4096;
/// Rounds of the silent-set fixed point before it gives up (and assumes nothing is silent).
const SILENT_ROUNDS: usize = 64;

/// What the pass removed, per layer and in total (for `--opt-report` and `report.json`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct PruneReport {
    pub layers: Vec<LayerPrune>,
    /// Nodes removed because no output depends on them.
    pub dead_nodes: Vec<String>,
    pub weights_before: usize,
    pub weights_after: usize,
    pub seconds: f64,
}

/// One shrinkable layer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LayerPrune {
    pub node: String,
    pub neurons_before: usize,
    pub neurons_after: usize,
    /// Neurons proved never to spike.
    pub silent: usize,
    /// Neurons merged into an identical one.
    pub merged: usize,
}

impl PruneReport {
    pub fn neurons_removed(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.neurons_before - l.neurons_after)
            .sum()
    }
}

/// Removes silent, duplicate and unread neurons and dead nodes. The result computes the same
/// outputs as `g` on every stimulus.
pub fn prune(g: &Graph) -> (Graph, PruneReport) {
    let start = Instant::now();
    let g = g.clone();
    let mut report = PruneReport {
        weights_before: nonzero_weights(&g),
        ..Default::default()
    };
    let (mut g, mut dead) = drop_dead_nodes(g);
    let shrink: Vec<NodeId> = g.ids().filter(|&n| shrinkable(&g, n)).collect();
    let mut stats: FxHashMap<NodeId, LayerPrune> = shrink
        .iter()
        .map(|&n| {
            let l = LayerPrune {
                node: g.node(n).name.clone(),
                neurons_before: g.node(n).ty.len(),
                ..Default::default()
            };
            (n, l)
        })
        .collect();

    let silent = silent_neurons(&g);
    for (id, s) in silent.iter().enumerate() {
        let id = NodeId(id as u32);
        if let Some(l) = stats.get_mut(&id) {
            l.silent = s.iter().filter(|&&b| b).count();
        }
        // A reader summing several sources sees more than this neuron in the column.
        let readers: Vec<NodeId> = g
            .readers(id)
            .into_iter()
            .map(|(r, _)| r)
            .filter(|&r| sole_input(&g, r).map(|p| p.node) == Some(id))
            .collect();
        for j in (0..s.len()).filter(|&j| s[j]) {
            for &r in &readers {
                if let Op::Dense(d) = &mut g.nodes[r.index()].op {
                    zero_column(d, j);
                }
            }
        }
    }

    let classes = refine(&g, &shrink);
    for (&n, class) in &classes {
        let mut first: FxHashMap<u32, usize> = FxHashMap::default();
        for (j, &c) in class.iter().enumerate() {
            match first.get(&c) {
                None => {
                    first.insert(c, j);
                }
                Some(&rep) => {
                    stats.get_mut(&n).expect("shrinkable").merged += 1;
                    // `j` spikes exactly when `rep` does: its weights join `rep`'s column.
                    for (r, _) in g.readers(n) {
                        if let Op::Dense(d) = &mut g.nodes[r.index()].op {
                            let cols = d.weight.dims2().1;
                            for row in d.weight.data.chunks_mut(cols) {
                                row[rep] += row[j];
                                row[j] = 0;
                            }
                        }
                    }
                }
            }
        }
    }

    // Removing a neuron's rows can leave an upstream neuron unread, so repeat to a fixed point.
    loop {
        let mut changed = false;
        for &n in &shrink {
            let keep = read_neurons(&g, n);
            if keep.iter().all(|&k| k) {
                continue;
            }
            retain_neurons(&mut g, n, &keep);
            changed = true;
        }
        if !changed {
            break;
        }
    }
    for &n in &shrink {
        let mut l = stats.remove(&n).expect("shrinkable");
        l.neurons_after = g.node(n).ty.len();
        report.layers.push(l);
    }
    let (g, more) = drop_dead_nodes(g);
    dead.extend(more);
    report.dead_nodes = dead;
    report.weights_after = nonzero_weights(&g);
    report.seconds = start.elapsed().as_secs_f64();
    (g, report)
}

fn nonzero_weights(g: &Graph) -> usize {
    g.nodes
        .iter()
        .map(|n| match &n.op {
            Op::Dense(d) => d.weight.data.iter().filter(|&&w| w != 0).count(),
            Op::IntConv(c) => c.conv.weight.data.iter().filter(|&&w| w != 0).count(),
            _ => 0,
        })
        .sum()
}

fn spiking(op: &Op) -> Option<&IntNeuron> {
    match op {
        Op::IntNeuron(nr) if nr.kind.spikes() => Some(nr),
        _ => None,
    }
}

/// The single source a node reads, when it has exactly one input port.
fn sole_input(g: &Graph, n: NodeId) -> Option<Port> {
    match g.node(n).inputs.as_slice() {
        [p] => Some(*p),
        _ => None,
    }
}

/// A spiking layer whose neurons can be removed without changing any interface: every input
/// is a dense layer read by this layer alone, and every reader is a dense layer reading only it.
pub fn shrinkable(g: &Graph, n: NodeId) -> bool {
    let node = g.node(n);
    if spiking(&node.op).is_none() || node.ty.len() < 2 {
        return false;
    }
    let inputs_ok = !node.inputs.is_empty()
        && node.inputs.iter().all(|p| {
            matches!(g.node(p.node).op, Op::Dense(_))
                && g.readers(p.node).iter().all(|(r, _)| *r == n)
        });
    let readers = g.readers(n);
    let readers_ok = !readers.is_empty()
        && readers.iter().all(|(r, _)| {
            matches!(g.node(*r).op, Op::Dense(_)) && sole_input(g, *r).map(|p| p.node) == Some(n)
        });
    inputs_ok && readers_ok
}

fn zero_column(d: &mut IntDense, j: usize) {
    let cols = d.weight.dims2().1;
    for row in d.weight.data.chunks_mut(cols) {
        row[j] = 0;
    }
}

/// Neurons of `n` some reader has a nonzero weight for; at least one is kept so no layer
/// becomes empty.
fn read_neurons(g: &Graph, n: NodeId) -> Vec<bool> {
    let len = g.node(n).ty.len();
    let mut keep = vec![false; len];
    for (r, _) in g.readers(n) {
        if let Op::Dense(d) = &g.node(r).op {
            let cols = d.weight.dims2().1;
            for row in d.weight.data.chunks(cols) {
                for (k, &w) in keep.iter_mut().zip(row) {
                    *k |= w != 0;
                }
            }
        }
    }
    if !keep.iter().any(|&k| k) {
        keep[0] = true;
    }
    keep
}

fn pick<T: Copy>(v: &[T], keep: &[bool]) -> Vec<T> {
    v.iter()
        .zip(keep)
        .filter(|(_, &k)| k)
        .map(|(x, _)| *x)
        .collect()
}

/// Keeps the neurons of `n` marked in `keep`, with their rows in the dense layers feeding it
/// and their columns in the dense layers reading it.
fn retain_neurons(g: &mut Graph, n: NodeId, keep: &[bool]) {
    let kept = keep.iter().filter(|&&k| k).count();
    let feeders: Vec<NodeId> = g.node(n).inputs.iter().map(|p| p.node).collect();
    for f in feeders {
        let node = &mut g.nodes[f.index()];
        if let Op::Dense(d) = &mut node.op {
            let cols = d.weight.dims2().1;
            let data = d
                .weight
                .data
                .chunks(cols)
                .zip(keep)
                .filter(|(_, &k)| k)
                .flat_map(|(r, _)| r.iter().copied())
                .collect();
            d.weight = crate::ir::Tensor::new(vec![kept, cols], data);
            d.bias = pick(&d.bias, keep);
            d.scale = pick(&d.scale, keep);
            node.ty = Type::new(node.ty.elem, vec![kept]);
        }
    }
    let readers: Vec<NodeId> = g.readers(n).into_iter().map(|(r, _)| r).collect();
    for r in readers {
        if let Op::Dense(d) = &mut g.nodes[r.index()].op {
            let (rows, cols) = d.weight.dims2();
            let data = d
                .weight
                .data
                .chunks(cols)
                .flat_map(|row| pick(row, keep))
                .collect();
            d.weight = crate::ir::Tensor::new(vec![rows, kept], data);
        }
    }
    let node = &mut g.nodes[n.index()];
    if let Op::IntNeuron(nr) = &mut node.op {
        nr.syn_decay = pick(&nr.syn_decay, keep);
        nr.mem_decay = pick(&nr.mem_decay, keep);
        nr.bias = pick(&nr.bias, keep);
        nr.threshold = pick(&nr.threshold, keep);
        nr.v_reset = pick(&nr.v_reset, keep);
        nr.scale = pick(&nr.scale, keep);
    }
    node.ty = Type::new(node.ty.elem, vec![kept]);
}

/// Per node, per element: true for spiking neurons proved never to spike.
pub fn silent_neurons(g: &Graph) -> Vec<Vec<bool>> {
    let mut silent: Vec<Vec<bool>> = g
        .nodes
        .iter()
        .map(|n| vec![spiking(&n.op).is_some(); n.ty.len()])
        .collect();
    for _ in 0..SILENT_ROUNDS {
        let mut changed = false;
        for id in g.ids() {
            let Some(nr) = spiking(&g.node(id).op) else {
                continue;
            };
            let inputs = input_ranges(g, id, &silent);
            for j in 0..nr.len() {
                if silent[id.index()][j] && inputs.as_ref().is_none_or(|x| can_fire(nr, j, x[j].hi))
                {
                    silent[id.index()][j] = false;
                    changed = true;
                }
            }
        }
        if !changed {
            return silent;
        }
    }
    // No fixed point within the budget: the assumption is unproven, so claim nothing.
    g.nodes.iter().map(|n| vec![false; n.ty.len()]).collect()
}

/// Bounds on the summed input of `n` per element, assuming the neurons in `silent` never spike;
/// `None` when a source is not one whose values are bounded here.
fn input_ranges(g: &Graph, n: NodeId, silent: &[Vec<bool>]) -> Option<Vec<Interval>> {
    let len = g.node(n).ty.len();
    let mut acc = vec![Interval::point(0); len];
    for p in &g.node(n).inputs {
        let src = g.node(p.node);
        let r: Vec<Interval> = match &src.op {
            Op::Dense(d) => {
                // Which columns may be active: a sole spiking source marks its silent ones.
                let quiet = match sole_input(g, p.node) {
                    Some(q) if spiking(&g.node(q.node).op).is_some() => {
                        Some(&silent[q.node.index()])
                    }
                    _ => None,
                };
                let (rows, cols) = d.weight.dims2();
                // Each column's input range: a spike is 0 or 1, an integer spans its type.
                let (x_lo, x_hi) = src
                    .inputs
                    .first()
                    .and_then(|q| g.node(q.node).ty.elem_range())
                    .map_or((0, 1), |(lo, hi)| (lo as i128, hi as i128));
                (0..rows)
                    .map(|r| {
                        let mut iv = Interval::point(d.bias[r] as i128);
                        for c in 0..cols {
                            let w = d.weight.at(r, c) as i128;
                            if quiet.is_some_and(|q| q[c]) {
                                continue;
                            }
                            let (a, b) = (w * x_lo, w * x_hi);
                            iv = Interval::new(iv.lo + a.min(b), iv.hi + a.max(b));
                        }
                        iv
                    })
                    .collect()
            }
            Op::IntConv(_) => crate::quant::weight_range(&src.op)?,
            _ => return None,
        };
        if r.len() != len {
            return None;
        }
        for (a, b) in acc.iter_mut().zip(r) {
            *a = a.plus(b);
        }
    }
    Some(acc)
}

/// The largest value reachable from 0 under `s' = max(s, step(s))` (the upper end of a state
/// interval: every update here is monotone, so the upper end evolves on its own), or `None`
/// when it takes too long to settle.
fn reach_max(step: impl Fn(i128) -> i128, stop: impl Fn(i128) -> bool) -> Option<i128> {
    let mut hi = 0;
    for _ in 0..REACH_STEPS {
        let next = step(hi);
        if stop(next) {
            return None;
        }
        if next <= hi {
            return Some(hi);
        }
        hi = next;
    }
    None
}

/// True unless neuron `j`, with its summed input never above `x_max`, provably never spikes.
///
/// While a neuron has not spiked, its membrane follows `v' = decay(v) + u + bias` whatever its
/// reset mode, `decay` is monotone for decay constants in `[0, 2^frac]`, and saturation only
/// lowers values; so the largest reachable `v` is a one-dimensional fixed point. The neuron is
/// silent if that never crosses the threshold.
fn can_fire(nr: &IntNeuron, j: usize, x_max: i128) -> bool {
    let f = nr.frac_bits;
    let full = 1i64 << f;
    let monotone = |d: i64| (0..=full).contains(&d);
    if !monotone(nr.mem_decay[j]) || (nr.kind.has_synapse() && !monotone(nr.syn_decay[j])) {
        return true; // the decay is not monotone, so the bound proves nothing
    }
    let fire_min = match nr.compare {
        crate::ir::Compare::Gt => nr.threshold[j] as i128 + 1,
        crate::ir::Compare::Ge => nr.threshold[j] as i128,
    };
    if fire_min <= 0 {
        return true; // the reset state itself is at the threshold
    }
    // The membrane never leaves its width (it saturates, or the quantiser sized the width so it
    // cannot overflow; the golden model rejects a value past it): a threshold above that range
    // is never reached, however slowly the leak would settle.
    if fire_min > Interval::of_width(nr.mem_bits).hi {
        return false;
    }
    let cap = |v: i128, bits: u32| {
        if nr.saturate {
            v.min(Interval::of_width(bits).hi)
        } else {
            v
        }
    };
    let u_max = if nr.kind.has_synapse() {
        let d = nr.syn_decay[j];
        // Past the state's width the golden model either clamps or rejects the value.
        let step = |y| cap(decay(y, d, f) + x_max, nr.syn_bits);
        reach_max(step, |_| false).unwrap_or(Interval::of_width(nr.syn_bits).hi)
    } else {
        x_max
    };
    let (d, bias) = (nr.mem_decay[j], nr.bias[j] as i128);
    let step = |v| decay(v, d, f) + u_max + bias;
    reach_max(step, |p| p >= fire_min).is_none()
}

/// Classes of neurons that provably spike identically, per shrinkable layer (coarsest stable
/// partition: equal parameters, and equal input rows with source columns summed per class).
fn refine(g: &Graph, shrink: &[NodeId]) -> FxHashMap<NodeId, Vec<u32>> {
    let mut classes: FxHashMap<NodeId, Vec<u32>> = shrink
        .iter()
        .map(|&n| (n, vec![0; g.node(n).ty.len()]))
        .collect();
    loop {
        let mut next = FxHashMap::default();
        let mut changed = false;
        for &n in shrink {
            let nr = spiking(&g.node(n).op).expect("shrinkable layers spike");
            let mut ids: FxHashMap<Vec<i128>, u32> = FxHashMap::default();
            let mut class = Vec::with_capacity(nr.len());
            for j in 0..nr.len() {
                let mut key: Vec<i128> = vec![
                    classes[&n][j] as i128,
                    nr.syn_decay[j] as i128,
                    nr.mem_decay[j] as i128,
                    nr.bias[j] as i128,
                    nr.threshold[j] as i128,
                    nr.v_reset[j] as i128,
                ];
                for p in &g.node(n).inputs {
                    key.push(p.delayed as i128);
                    if let Op::Dense(d) = &g.node(p.node).op {
                        key.push(d.bias[j] as i128);
                        let cols = d.weight.dims2().1;
                        let row = &d.weight.data[j * cols..(j + 1) * cols];
                        let src = sole_input(g, p.node).map(|q| q.node);
                        match src.and_then(|s| classes.get(&s)) {
                            Some(sc) => {
                                let k = sc.iter().max().map_or(0, |&m| m as usize + 1);
                                let mut sums = vec![0i128; k];
                                for (&c, &w) in sc.iter().zip(row) {
                                    sums[c as usize] += w as i128;
                                }
                                key.extend(sums);
                            }
                            None => key.extend(row.iter().map(|&w| w as i128)),
                        }
                    }
                }
                let fresh = ids.len() as u32;
                class.push(*ids.entry(key).or_insert(fresh));
            }
            let before = classes[&n].iter().max().copied().unwrap_or(0);
            changed |= class.iter().max().copied().unwrap_or(0) != before;
            next.insert(n, class);
        }
        classes = next;
        if !changed {
            return classes;
        }
    }
}

/// Drops nodes no output depends on (inputs stay: they are the interface).
fn drop_dead_nodes(g: Graph) -> (Graph, Vec<String>) {
    let mut live = vec![false; g.nodes.len()];
    let mut stack: Vec<NodeId> = g
        .ids()
        .filter(|&i| matches!(g.node(i).op, Op::Output | Op::Input))
        .collect();
    while let Some(n) = stack.pop() {
        if std::mem::replace(&mut live[n.index()], true) {
            continue;
        }
        stack.extend(g.node(n).inputs.iter().map(|p| p.node));
    }
    if live.iter().all(|&l| l) {
        return (g, vec![]);
    }
    let mut map = vec![None; g.nodes.len()];
    let mut out = Graph::new(g.name.clone());
    let mut dead = Vec::new();
    for (i, node) in g.nodes.into_iter().enumerate() {
        if live[i] {
            map[i] = Some(NodeId(out.nodes.len() as u32));
            out.nodes.push(node);
        } else {
            dead.push(node.name);
        }
    }
    for node in &mut out.nodes {
        for p in &mut node.inputs {
            p.node = map[p.node.index()].expect("live nodes read live nodes");
        }
    }
    (out, dead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::{self, Stimulus};
    use crate::ir::{Compare, IntDense, NeuronKind, Reset, Tensor};
    use crate::quant::{quantise, QuantOptions};
    use crate::testgen::{inject_redundancy, random_snn, RandomSnn};
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};

    fn lif(n: usize, decay: i64, threshold: i64) -> IntNeuron {
        IntNeuron {
            kind: NeuronKind::Lif,
            reset: Reset::Zero,
            compare: Compare::Gt,
            frac_bits: 12,
            syn_decay: vec![0; n],
            mem_decay: vec![decay; n],
            bias: vec![0; n],
            threshold: vec![threshold; n],
            v_reset: vec![0; n],
            syn_bits: 16,
            mem_bits: 16,
            saturate: true,
            scale: vec![1.0; n],
        }
    }

    fn dense(rows: usize, cols: usize, w: Vec<i64>) -> Op {
        Op::Dense(IntDense {
            weight: Tensor::new(vec![rows, cols], w),
            bias: vec![0; rows],
            scale: vec![1.0; rows],
        })
    }

    /// input(2) -> fc -> hidden(h) [+ recurrent rec] -> out_fc -> output neuron(1).
    fn two_layer(
        h: usize,
        fc: Vec<i64>,
        rec: Option<Vec<i64>>,
        out: Vec<i64>,
        nr: IntNeuron,
    ) -> Graph {
        let mut g = Graph::new("t");
        let i = g.add("in", Op::Input, vec![], Type::spike(2));
        let f = g.add("fc", dense(h, 2, fc), vec![Port::now(i)], Type::fix(16, h));
        let hid_id = NodeId(f.0 + 1 + rec.is_some() as u32);
        let mut inputs = vec![Port::now(f)];
        if let Some(r) = rec {
            let rc = g.add(
                "rec",
                dense(h, h, r),
                vec![Port::prev(hid_id)],
                Type::fix(16, h),
            );
            inputs.push(Port::now(rc));
        }
        let hid = g.add("hid", Op::IntNeuron(nr), inputs, Type::spike(h));
        assert_eq!(hid, hid_id);
        let o = g.add(
            "ofc",
            dense(1, h, out),
            vec![Port::now(hid)],
            Type::fix(16, 1),
        );
        let on = g.add(
            "on",
            Op::IntNeuron(lif(1, 0, 0)),
            vec![Port::now(o)],
            Type::spike(1),
        );
        g.add("out", Op::Output, vec![Port::now(on)], Type::spike(1));
        crate::ir::verify::verify(&g).unwrap();
        g
    }

    fn all_on(steps: usize) -> Stimulus {
        Stimulus {
            samples: vec![vec![vec![1, 1]; steps]],
        }
    }

    fn spikes_of(g: &Graph, node: &str, stim: &Stimulus) -> Vec<Vec<i64>> {
        golden::run(g, stim).unwrap().values[g.find(node).unwrap().index()].clone()
    }

    #[test]
    fn a_leaky_neuron_below_its_fixed_point_is_silent_and_one_above_is_not() {
        // Leak 1/2 and input 10 per step: the membrane approaches 20 (floor: 19 .. 20).
        let g = two_layer(2, vec![5, 5, 5, 5], None, vec![1, 1], {
            let mut nr = lif(2, 2048, 0);
            nr.threshold = vec![20, 18];
            nr
        });
        let s = silent_neurons(&g);
        assert_eq!(s[g.find("hid").unwrap().index()], vec![true, false]);
        // The golden model agrees: with both inputs always on, only neuron 1 ever spikes.
        let tr = spikes_of(&g, "hid", &all_on(200));
        assert!(tr.iter().all(|v| v[0] == 0));
        assert!(tr.iter().any(|v| v[1] == 1));
        let (p, rep) = prune(&g);
        assert_eq!(p.node(p.find("hid").unwrap()).ty.len(), 1);
        assert_eq!(rep.layers[0].silent, 1);
    }

    /// As the second LIF of the shared `two_lif_neurons.nir`: threshold 2,032,000 on an 18-bit
    /// membrane (at most 131,071) with a leak too slow for the fixed point to settle within its
    /// budget. The width alone proves it silent.
    #[test]
    fn a_threshold_above_the_membrane_width_is_never_reached() {
        let g = two_layer(2, vec![5, 5, 5, 5], None, vec![1, 1], {
            // Leak 1/4096 per step: the membrane creeps towards 40,960 for tens of
            // thousands of steps.
            let mut nr = lif(2, 1, 0);
            nr.mem_bits = 18;
            nr.saturate = false;
            nr.threshold = vec![2_032_000, 100];
            nr
        });
        let s = silent_neurons(&g);
        assert_eq!(s[g.find("hid").unwrap().index()], vec![true, false]);
        let tr = spikes_of(&g, "hid", &all_on(300));
        assert!(tr.iter().all(|v| v[0] == 0) && tr.iter().any(|v| v[1] == 1));
    }

    #[test]
    fn neurons_that_only_excite_each_other_through_silence_stay_silent() {
        // Negative feed-forward input; the recurrent weights are positive but only a spike
        // could trigger them, and none ever comes (the greatest fixed point finds this).
        let g = two_layer(
            2,
            vec![-3, -1, -2, 0],
            Some(vec![0, 50, 50, 0]),
            vec![1, 1],
            lif(2, 0, 10),
        );
        let s = silent_neurons(&g);
        assert_eq!(s[g.find("hid").unwrap().index()], vec![true, true]);
        // A positive bias breaks it: neuron 0 charges up and then drives neuron 1.
        let mut g2 = g.clone();
        if let Op::Dense(d) = &mut g2.nodes[1].op {
            d.bias = vec![6, 0];
        }
        assert_eq!(
            silent_neurons(&g2)[g2.find("hid").unwrap().index()],
            vec![false, false]
        );
        assert!(spikes_of(&g2, "hid", &all_on(50)).iter().any(|v| v[1] == 1));
    }

    #[test]
    fn recurrent_twins_merge_and_the_outputs_stay_equal() {
        // Neurons 0 and 1 have equal rows; each excites the pair with 4 split as 1 + 3.
        let g = two_layer(
            3,
            vec![7, 2, 7, 2, 1, 9],
            Some(vec![1, 3, 0, 3, 1, 0, 0, 0, 0]),
            vec![2, 5, -1],
            lif(3, 1024, 12),
        );
        let (p, rep) = prune(&g);
        assert_eq!(rep.layers[0].merged, 1);
        assert_eq!(p.node(p.find("hid").unwrap()).ty.len(), 2);
        let stim = Stimulus {
            samples: vec![(0..64)
                .map(|t| vec![(t % 3 == 0) as i64, (t % 5 < 2) as i64])
                .collect()],
        };
        assert_eq!(spikes_of(&g, "out", &stim), spikes_of(&p, "out", &stim));
        // Unequal recurrent sums keep them apart.
        let g2 = two_layer(
            3,
            vec![7, 2, 7, 2, 1, 9],
            Some(vec![1, 3, 0, 3, 2, 0, 0, 0, 0]),
            vec![2, 5, -1],
            lif(3, 1024, 12),
        );
        assert_eq!(prune(&g2).1.layers[0].merged, 0);
    }

    #[test]
    fn unread_neurons_and_dead_nodes_go() {
        let mut g = two_layer(3, vec![1, 2, 3, 4, 5, 6], None, vec![1, 0, 1], lif(3, 0, 5));
        // A dangling dense layer nobody reads.
        let hid = g.find("hid").unwrap();
        g.add(
            "stray",
            dense(1, 3, vec![1, 1, 1]),
            vec![Port::now(hid)],
            Type::fix(8, 1),
        );
        let (p, rep) = prune(&g);
        assert_eq!(rep.dead_nodes, vec!["stray".to_string()]);
        assert_eq!(p.node(p.find("hid").unwrap()).ty.len(), 2);
        crate::ir::verify::verify(&p).unwrap();
    }

    fn random_stimulus(g: &Graph, seed: u64) -> Stimulus {
        let n = crate::flow::input_len(g);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let density = rng.random_range(0.05..0.9);
        Stimulus {
            samples: (0..2)
                .map(|_| {
                    (0..40)
                        .map(|_| (0..n).map(|_| rng.random_bool(density) as i64).collect())
                        .collect()
                })
                .collect(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Pruning a random quantised network with injected twins and silent neurons keeps
        /// every output bit-exact, and removes at least what was injected.
        #[test]
        fn pruned_graphs_compute_the_same_outputs(seed in 0u64..10_000, extra in 1usize..6) {
            let lim = RandomSnn { max_layers: 3, max_width: 24, ..Default::default() };
            let f = random_snn(seed, &lim);
            let (mut g, _) = quantise(&f, &QuantOptions::default()).unwrap();
            let added = inject_redundancy(&mut g, seed, extra);
            crate::ir::verify::verify(&g).unwrap();
            let (p, rep) = prune(&g);
            crate::ir::verify::verify(&p).unwrap();
            let stim = random_stimulus(&g, seed);
            let a = golden::run(&g, &stim).unwrap();
            let b = golden::run(&p, &stim).unwrap();
            for o in g.outputs() {
                let name = &g.node(o).name;
                prop_assert_eq!(&a.values[o.index()], &b.values[p.find(name).unwrap().index()]);
            }
            for (layer, n) in added {
                let l = rep.layers.iter().find(|l| l.node == layer).unwrap();
                prop_assert!(l.neurons_after == 1 || l.neurons_before - l.neurons_after >= n,
                    "{}: {} -> {}, injected {}", layer, l.neurons_before, l.neurons_after, n);
            }
        }
    }
}
