//! Quantiser: float-stage IR (NIR semantics) to integer-stage IR (hardware semantics).
//!
//! Each neuron layer and the weight layers feeding it form a group with one integer scale `s`
//! (integer membrane units per float unit). The neuron's per-step input gain (`r` for IF,
//! `dt/tau*r` for LIF/LI, `dt/tau_syn*w_in*dt/tau_mem*r` for CubaLIF) is folded into each weight
//! row, so the hardware only adds; `s` maps the largest folded weight to the largest
//! `weight_bits` integer. Thresholds, resets and `v_leak` scale by `s`; leaks become decay
//! constants `round(dt/tau * 2^frac_bits)` (a plain shift when that is a power of two).
//! State widths come from [`interval`] analysis.

pub mod interval;
pub mod table;

use crate::ir::linear::{linear_map, pool_then_conv, LinearMap};
use crate::ir::verify::verify;
use crate::ir::{
    signed_width, Conv, Elem, FloatNeuron, Graph, IntConv, IntDense, IntNeuron, NeuronKind, NodeId,
    Op, Port, Tensor, Type, MAX_DELAY_STEPS,
};
use interval::{size_state, Firing, Interval};
use serde::Serialize;
use std::collections::BTreeMap;

/// Quantiser options.
#[derive(Clone, Debug)]
pub struct QuantOptions {
    /// Signed bits per weight (2..=16).
    pub weight_bits: u32,
    /// Simulation timestep in seconds (NIR stores none; snnTorch exports assume 1e-4).
    pub dt: f64,
    /// Fraction bits of the decay constants.
    pub frac_bits: u32,
    /// Widest state register; wider states saturate instead.
    pub max_state_bits: u32,
    /// Fraction bits the neuron state keeps below a weight's least significant bit, so the
    /// flooring leak loses 2^-guard_bits of a weight step per update instead of a whole one.
    pub guard_bits: u32,
    /// Weight bits of the synapses into particular neuron layers (by node name), overriding
    /// `weight_bits` (a config's kind and layer entries).
    pub layer_weight_bits: BTreeMap<String, u32>,
}

impl Default for QuantOptions {
    fn default() -> Self {
        QuantOptions {
            weight_bits: 8,
            dt: 1e-4,
            frac_bits: 12,
            max_state_bits: 32,
            guard_bits: 3,
            layer_weight_bits: BTreeMap::new(),
        }
    }
}

/// What the quantiser decided for one layer (for `report.json`).
#[derive(Clone, Debug, Serialize)]
pub struct LayerQuant {
    pub node: String,
    pub kind: String,
    /// Smallest and largest per-neuron (per-row) scale: integer units per float unit.
    pub scale_min: f64,
    pub scale_max: f64,
    pub bits: u32,
    pub saturate: bool,
    pub note: String,
}

/// Why a graph cannot be quantised.
#[derive(Debug, thiserror::Error)]
#[error("node '{node}': {message}")]
pub struct QuantError {
    pub node: String,
    pub message: String,
}

fn qerr(node: &str, message: impl Into<String>) -> QuantError {
    QuantError {
        node: node.to_string(),
        message: message.into(),
    }
}

/// The linear chain feeding a neuron, composed into one weight layer on spikes (Scale,
/// pooling, convolution and weight layers multiplied together), and, when the chain is a
/// convolution (optionally after a pooling), the same map as one convolution on the spikes.
struct Synapse {
    /// The weight node nearest the consumer (or `<consumer>.from.<source>` for a spike source
    /// wired straight in).
    name: String,
    source: Port,
    map: LinearMap,
    conv: Option<Conv<f64>>,
}

/// Largest unrolled weight matrix (rows x columns) a dense layer may have.
pub const MAX_UNROLLED_WEIGHTS: usize = 1 << 26;

/// Follows a neuron's input port back through linear operators (Scale, Affine, Linear, Conv,
/// pooling) to a spike source and composes them into one map.
fn resolve_synapse(g: &Graph, port: Port, consumer: &str) -> Result<Synapse, QuantError> {
    // The map from the current node's output to the consumer's input.
    let mut map: Option<LinearMap> = None;
    let mut name: Option<String> = None;
    let mut delayed = false;
    let mut chain: Vec<&Op> = Vec::new();
    let mut p = port;
    loop {
        let node = g.node(p.node);
        if p.delayed {
            if delayed {
                return Err(qerr(
                    &node.name,
                    "two recurrent (delayed) edges on one synapse chain",
                ));
            }
            delayed = true;
        }
        if node.ty.elem == Elem::Spike {
            let map = map.unwrap_or_else(|| LinearMap::identity(node.ty.len()));
            let conv = conv_structure(&chain).filter(|c| same_map(c, &map));
            return Ok(Synapse {
                name: name.unwrap_or_else(|| format!("{consumer}.from.{}", node.name)),
                source: Port {
                    node: p.node,
                    delayed,
                },
                map,
                conv,
            });
        }
        let in_len = node.inputs.first().map_or(0, |i| g.node(i.node).ty.len());
        let Some(m) = linear_map(&node.op, in_len) else {
            return Err(qerr(
                consumer,
                format!(
                    "input '{}' ({}) cannot feed a neuron in this version",
                    node.name,
                    node.op.keyword()
                ),
            ));
        };
        if node.inputs.len() != 1 {
            return Err(qerr(
                &node.name,
                "linear layers with several inputs are not supported yet",
            ));
        }
        if !matches!(node.op, Op::Scale { .. }) && name.is_none() {
            name = Some(node.name.clone());
        }
        let composed = match map {
            None => m,
            Some(outer) => outer.after(&m),
        };
        if composed.nonzeros() > MAX_UNROLLED_WEIGHTS {
            return Err(qerr(
                &node.name,
                "the composed linear chain has too many weights",
            ));
        }
        map = Some(composed);
        chain.push(&node.op);
        p = node.inputs[0];
    }
}

/// The chain (consumer side first) as one convolution on its source: a convolution alone, or
/// a pooling followed by a convolution (the pooling window folds into the kernel).
fn conv_structure(chain: &[&Op]) -> Option<Conv<f64>> {
    match chain {
        [Op::Conv(c)] => Some(c.clone()),
        [Op::Conv(c), Op::Pool(p)] => pool_then_conv(p, c),
        _ => None,
    }
}

/// True when the convolution computes exactly the composed map (guards the edge cases of
/// folding a pooling into a kernel: windows cut off at the border, padded pooling).
fn same_map(c: &Conv<f64>, m: &LinearMap) -> bool {
    let Some(cm) = linear_map(&Op::Conv(c.clone()), m.cols) else {
        return false;
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0);
    cm.cols == m.cols
        && cm.rows.len() == m.rows.len()
        && cm.bias.iter().zip(&m.bias).all(|(&a, &b)| close(a, b))
        && cm.rows.iter().zip(&m.rows).all(|(a, b)| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && close(x.1, y.1))
        })
}

/// Per-neuron input gain of the float update, folded into the weights.
fn input_gain(nr: &FloatNeuron, j: usize, dt: f64) -> f64 {
    match nr.kind {
        NeuronKind::If | NeuronKind::I => nr.r[j],
        NeuronKind::Threshold => 1.0,
        NeuronKind::Lif | NeuronKind::Li => dt / nr.tau_mem[j] * nr.r[j],
        NeuronKind::CubaLif | NeuronKind::CubaLi => {
            dt / nr.tau_syn[j] * nr.w_in[j] * (dt / nr.tau_mem[j] * nr.r[j])
        }
    }
}

/// `round(alpha * 2^f)` clamped to `[0, 2^f]`; alpha = dt/tau is the fraction lost per step.
fn decay_const(alpha: f64, f: u32) -> i64 {
    let one = 1i64 << f;
    ((alpha * one as f64).round() as i64).clamp(0, one)
}

fn round_i64(node: &str, what: &str, v: f64) -> Result<i64, QuantError> {
    let r = v.round();
    if !r.is_finite() || r.abs() > (1i64 << 40) as f64 {
        return Err(qerr(
            node,
            format!("{what} {v} does not fit the integer range (scale too large)"),
        ));
    }
    Ok(r as i64)
}

// Weight rows and per-neuron gains are indexed together.
#[allow(clippy::needless_range_loop)]
/// Quantises a verified float graph into a verified integer graph plus a per-layer report.
pub fn quantise(g: &Graph, opt: &QuantOptions) -> Result<(Graph, Vec<LayerQuant>), QuantError> {
    for (at, &b) in std::iter::once((&g.name, &opt.weight_bits)).chain(&opt.layer_weight_bits) {
        if !(2..=16).contains(&b) {
            return Err(qerr(at, format!("weight bits {b} outside 2..=16")));
        }
        if at != &g.name && g.find(at).is_none() {
            return Err(qerr(at, "weight bits for a layer the graph does not have"));
        }
    }
    if !(1..=24).contains(&opt.frac_bits) {
        return Err(qerr(
            &g.name,
            format!("frac bits {} outside 1..=24", opt.frac_bits),
        ));
    }
    if !(4..=40).contains(&opt.max_state_bits) {
        return Err(qerr(
            &g.name,
            format!("max state bits {} outside 4..=40", opt.max_state_bits),
        ));
    }
    if !(opt.dt > 0.0 && opt.dt.is_finite()) {
        return Err(qerr(&g.name, format!("dt {} must be positive", opt.dt)));
    }
    let qmax = ((1i64 << (opt.weight_bits - 1)) - 1) as f64;
    let mut out = Graph::new(g.name.clone());
    let mut map: BTreeMap<NodeId, NodeId> = BTreeMap::new();
    let mut report = Vec::new();
    // Delayed ports may point forward; remember them and patch after all nodes exist.
    let mut fixups: Vec<(NodeId, usize, NodeId)> = Vec::new();
    let new_port = |map: &BTreeMap<NodeId, NodeId>,
                    p: Port,
                    at: NodeId,
                    slot: usize,
                    fix: &mut Vec<(NodeId, usize, NodeId)>| {
        match map.get(&p.node) {
            Some(&n) => Port {
                node: n,
                delayed: p.delayed,
            },
            None => {
                fix.push((at, slot, p.node));
                Port {
                    node: NodeId(u32::MAX),
                    delayed: p.delayed,
                }
            }
        }
    };

    for id in g.ids() {
        let node = g.node(id);
        match &node.op {
            Op::Input => {
                if node.ty.elem != Elem::Spike {
                    return Err(qerr(
                        &node.name,
                        format!(
                            "input type {} is not supported yet (spike inputs only)",
                            node.ty
                        ),
                    ));
                }
                let nid = out.add(node.name.clone(), Op::Input, vec![], node.ty.clone());
                map.insert(id, nid);
            }
            // Weight layers and Scales are emitted with the neuron (or output) that reads them.
            Op::Affine { .. }
            | Op::Linear { .. }
            | Op::Scale { .. }
            | Op::Conv(_)
            | Op::Pool(_) => {}
            Op::Delay { delay } => {
                let src = node.inputs[0];
                if g.node(src.node).ty.elem != Elem::Spike {
                    return Err(qerr(
                        &node.name,
                        "delays of non-spike values are not supported yet",
                    ));
                }
                let steps = delay
                    .iter()
                    .map(|&d| {
                        let s = (d / opt.dt).round();
                        if s > MAX_DELAY_STEPS as f64 {
                            Err(qerr(
                                &node.name,
                                format!("delay {d} s is {s} steps at dt = {}, more than {MAX_DELAY_STEPS}", opt.dt),
                            ))
                        } else {
                            Ok(s as i64)
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let at = NodeId(out.nodes.len() as u32);
                let p = new_port(&map, src, at, 0, &mut fixups);
                let nid = out.add(
                    node.name.clone(),
                    Op::IntDelay { steps },
                    vec![p],
                    node.ty.clone(),
                );
                map.insert(id, nid);
            }
            Op::Output => {
                let src = node.inputs[0];
                let ty;
                let port = if g.node(src.node).op.is_float() && !g.node(src.node).op.has_state() {
                    // An output reading a weight layer directly: the layer keeps its own scale.
                    let syn = resolve_synapse(g, src, &node.name)?;
                    // Outputs of one layer share a scale, so their integers compare directly.
                    let rows = syn.map.rows.len();
                    let m = syn
                        .map
                        .rows
                        .iter()
                        .flatten()
                        .fold(0.0f64, |m, &(_, w)| m.max(w.abs()));
                    let s = if m > 0.0 { qmax / m } else { 1.0 };
                    let dense = emit_weights(
                        &mut out,
                        &syn,
                        &vec![1.0; rows],
                        qmax,
                        1.0,
                        &vec![s; rows],
                        &mut |p, at, slot| new_port(&map, p, at, slot, &mut fixups),
                    )?;
                    report.push(LayerQuant {
                        node: syn.name.clone(),
                        kind: out.node(dense).op.keyword().into(),
                        scale_min: s,
                        scale_max: s,
                        bits: out.node(dense).ty.elem_bits().unwrap_or(0),
                        saturate: false,
                        note: "read directly by an output".into(),
                    });
                    ty = out.node(dense).ty.clone();
                    Port::now(dense)
                } else {
                    let p = new_port(&map, src, NodeId(out.nodes.len() as u32), 0, &mut fixups);
                    ty = out.node(p.node).ty.clone();
                    p
                };
                let nid = out.add(node.name.clone(), Op::Output, vec![port], ty);
                map.insert(id, nid);
            }
            Op::Neuron(nr) => {
                let n = nr.len();
                let syns: Vec<Synapse> = node
                    .inputs
                    .iter()
                    .map(|&p| resolve_synapse(g, p, &node.name))
                    .collect::<Result<_, _>>()?;
                let gains: Vec<f64> = (0..n).map(|j| input_gain(nr, j, opt.dt)).collect();
                let guard = (1u64 << opt.guard_bits) as f64;
                let bits = opt
                    .layer_weight_bits
                    .get(&node.name)
                    .copied()
                    .unwrap_or(opt.weight_bits);
                let qmax = ((1i64 << (bits - 1)) - 1) as f64;
                let scales = neuron_scales(&syns, &gains, qmax);
                let (smin, smax) = min_max(&scales);
                let mut dense_ids = Vec::new();
                for s in &syns {
                    let d = emit_weights(
                        &mut out,
                        s,
                        &gains,
                        qmax,
                        guard,
                        &scales,
                        &mut |p, at, slot| new_port(&map, p, at, slot, &mut fixups),
                    )?;
                    report.push(LayerQuant {
                        node: s.name.clone(),
                        kind: out.node(d).op.keyword().into(),
                        scale_min: smin,
                        scale_max: smax,
                        bits: out.node(d).ty.elem_bits().unwrap_or(0),
                        saturate: false,
                        note: format!("weights {} bits, gain of '{}' folded in", bits, node.name),
                    });
                    dense_ids.push(d);
                }
                let state_scales: Vec<f64> = scales.iter().map(|s| s * guard).collect();
                let (int, note) = int_neuron(&node.name, nr, &out, &dense_ids, &state_scales, opt)?;
                report.push(LayerQuant {
                    node: node.name.clone(),
                    kind: nr.kind.keyword().into(),
                    scale_min: smin,
                    scale_max: smax,
                    bits: int.mem_bits,
                    saturate: int.saturate,
                    note,
                });
                // The layer keeps its shape: tensor operators downstream read it.
                let ty = if nr.kind.spikes() {
                    Type::spike(n)
                } else {
                    Type::fix(int.mem_bits, n)
                }
                .with_shape(node.ty.shape.clone());
                let nid = out.add(
                    node.name.clone(),
                    Op::IntNeuron(int),
                    dense_ids.iter().map(|&d| Port::now(d)).collect(),
                    ty,
                );
                map.insert(id, nid);
            }
            // Spike-driven operators (on spikes and counts) and thresholds on counts are exact
            // integer operators already: the same before and after quantisation.
            Op::Tensor(_) | Op::MultiThreshold(_)
                if node
                    .inputs
                    .iter()
                    .all(|p| g.node(p.node).ty.elem != Elem::Real) =>
            {
                let at = NodeId(out.nodes.len() as u32);
                let ports = node
                    .inputs
                    .iter()
                    .enumerate()
                    .map(|(k, &p)| new_port(&map, p, at, k, &mut fixups))
                    .collect();
                let nid = out.add(node.name.clone(), node.op.clone(), ports, node.ty.clone());
                map.insert(id, nid);
            }
            Op::Tensor(_) => {
                return Err(qerr(
                    &node.name,
                    "tensor operators take spikes or integers, not the real-valued output of a \
                     layer; put a neuron or threshold between",
                ));
            }
            Op::Dense(_)
            | Op::IntConv(_)
            | Op::IntNeuron(_)
            | Op::IntDelay { .. }
            | Op::MultiThreshold(_) => {
                return Err(qerr(&node.name, "graph is already quantised"));
            }
        }
    }
    for (at, slot, src) in fixups {
        let Some(&n) = map.get(&src) else {
            return Err(qerr(
                &out.node(at).name,
                format!(
                    "recurrent input '{}' is not a neuron or input",
                    g.node(src).name
                ),
            ));
        };
        out.nodes[at.index()].inputs[slot].node = n;
    }
    verify(&out).map_err(|e| {
        qerr(
            &g.name,
            format!("internal error, quantised graph is invalid: {e}"),
        )
    })?;
    Ok((out, report))
}

/// Per neuron: integer units per float unit, so that the neuron's largest folded weight (over
/// all its synapses) maps to `qmax`. Each membrane is independent, so per-neuron scales are
/// exact; they give every neuron the full weight resolution (per-channel quantisation). A
/// convolution's channel takes its whole kernel's maximum, so its positions share one scale;
/// neurons without weights take the layer's scale.
fn neuron_scales(syns: &[Synapse], gains: &[f64], qmax: f64) -> Vec<f64> {
    let n = gains.len();
    let mut m = vec![0.0f64; n];
    for s in syns {
        match &s.conv {
            Some(c) => {
                let [co, ho, wo] = c.out_shape().unwrap_or([0; 3]);
                let per_row = c.weight.data.len() / co.max(1);
                for o in 0..co {
                    let k = c.weight.data[o * per_row..(o + 1) * per_row]
                        .iter()
                        .fold(0.0f64, |a, w| a.max(w.abs()));
                    for j in o * ho * wo..(o + 1) * ho * wo {
                        m[j] = m[j].max(k * gains[j].abs());
                    }
                }
            }
            None => {
                for (j, row) in s.map.rows.iter().enumerate() {
                    for &(_, w) in row {
                        m[j] = m[j].max((w * gains[j]).abs());
                    }
                }
            }
        }
    }
    let layer = m.iter().copied().fold(0.0f64, f64::max);
    m.iter()
        .map(|&x| {
            if x > 0.0 {
                qmax / x
            } else if layer > 0.0 {
                qmax / layer
            } else {
                1.0
            }
        })
        .collect()
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}

/// Adds the integer weight layer of a synapse: a convolution when the chain is one and the
/// folded gains and `scales` are uniform per output channel (so weights stay shared), else a
/// dense layer. `scales` holds integer units per float unit for each output.
fn emit_weights(
    out: &mut Graph,
    s: &Synapse,
    gains: &[f64],
    qmax: f64,
    guard: f64,
    scales: &[f64],
    port: &mut dyn FnMut(Port, NodeId, usize) -> Port,
) -> Result<NodeId, QuantError> {
    let rows = s.map.rows.len();
    // Weights round to `qmax` steps, then move up by the guard bits (a shift in hardware).
    let q =
        |w: f64, r: usize| ((w * gains[r] * scales[r]).round().clamp(-qmax, qmax) * guard) as i64;
    let at = NodeId(out.nodes.len() as u32);
    let op = match s
        .conv
        .as_ref()
        .filter(|c| uniform_per_channel(c, gains) && uniform_per_channel(c, scales))
    {
        Some(c) => {
            let [co, ho, wo] = c.out_shape().unwrap_or([0; 3]);
            let per_out = ho * wo;
            let per_row = c.weight.data.len() / co.max(1);
            let weight = c
                .weight
                .data
                .iter()
                .enumerate()
                .map(|(k, &w)| q(w, k / per_row * per_out))
                .collect();
            let bias = (0..co)
                .map(|o| {
                    let j = o * per_out;
                    round_i64(&s.name, "bias", c.bias[o] * gains[j] * scales[j] * guard)
                })
                .collect::<Result<_, _>>()?;
            Op::IntConv(IntConv {
                conv: Conv {
                    weight: Tensor::new(c.weight.shape.clone(), weight),
                    bias,
                    in_shape: c.in_shape.clone(),
                    stride: c.stride.clone(),
                    padding: c.padding.clone(),
                    dilation: c.dilation.clone(),
                    groups: c.groups,
                },
                scale: (0..co).map(|o| scales[o * per_out] * guard).collect(),
            })
        }
        None => {
            let cols = s.map.cols;
            if rows
                .checked_mul(cols)
                .is_none_or(|t| t > MAX_UNROLLED_WEIGHTS)
            {
                return Err(qerr(
                    &s.name,
                    format!("the unrolled layer has {rows} x {cols} weights, more than {MAX_UNROLLED_WEIGHTS}"),
                ));
            }
            let mut weight = vec![0i64; rows * cols];
            for (r, row) in s.map.rows.iter().enumerate() {
                for &(c, w) in row {
                    weight[r * cols + c] = q(w, r);
                }
            }
            let bias = (0..rows)
                .map(|r| {
                    round_i64(
                        &s.name,
                        "bias",
                        s.map.bias[r] * gains[r] * scales[r] * guard,
                    )
                })
                .collect::<Result<_, _>>()?;
            Op::Dense(IntDense {
                weight: Tensor::new(vec![rows, cols], weight),
                bias,
                scale: scales.iter().map(|s| s * guard).collect(),
            })
        }
    };
    let range = weight_range(&op).unwrap_or_default();
    let (lo, hi) = range.iter().fold((0i128, 0i128), |(lo, hi), iv| {
        (lo.min(iv.lo), hi.max(iv.hi))
    });
    let bits = signed_width(lo, hi).max(2);
    if bits > 48 {
        return Err(qerr(&s.name, format!("accumulator needs {bits} bits")));
    }
    let p = port(s.source, at, 0);
    Ok(out.add(s.name.clone(), op, vec![p], Type::fix(bits, rows)))
}

/// True when every output channel of `c` has one gain over all its positions.
fn uniform_per_channel(c: &Conv<f64>, gains: &[f64]) -> bool {
    let Some([co, ho, wo]) = c.out_shape() else {
        return false;
    };
    let per = ho * wo;
    gains.len() == co * per
        && (0..co).all(|o| {
            gains[o * per..(o + 1) * per]
                .iter()
                .all(|&g| g == gains[o * per])
        })
}

/// Per-output range of an integer weight layer (dense or convolution); `None` for other ops.
pub fn weight_range(op: &Op) -> Option<Vec<Interval>> {
    let add = |iv: &mut Interval, w: i64| {
        let w = w as i128;
        *iv = if w < 0 {
            Interval::new(iv.lo + w, iv.hi)
        } else {
            Interval::new(iv.lo, iv.hi + w)
        };
    };
    match op {
        Op::Dense(d) => {
            let (rows, cols) = d.weight.dims2();
            Some(
                (0..rows)
                    .map(|r| {
                        let mut iv = Interval::point(d.bias[r] as i128);
                        for c in 0..cols {
                            add(&mut iv, d.weight.at(r, c));
                        }
                        iv
                    })
                    .collect(),
            )
        }
        Op::IntConv(ic) => {
            let c = &ic.conv;
            let [co, ho, wo] = c.out_shape()?;
            let per = ho * wo;
            let mut r: Vec<Interval> = (0..co * per)
                .map(|j| Interval::point(c.bias[j / per] as i128))
                .collect();
            c.for_each_tap(|row, _, k| add(&mut r[row], c.weight.data[k]));
            Some(r)
        }
        _ => None,
    }
}

fn int_neuron(
    name: &str,
    nr: &FloatNeuron,
    out: &Graph,
    dense_ids: &[NodeId],
    scale: &[f64],
    opt: &QuantOptions,
) -> Result<(IntNeuron, String), QuantError> {
    let n = nr.len();
    let f = opt.frac_bits;
    let mut x = vec![Interval::point(0); n];
    for &d in dense_ids {
        for (j, iv) in weight_range(&out.node(d).op)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            x[j] = x[j].plus(iv);
        }
    }
    let alpha_mem: Vec<f64> = (0..n)
        .map(|j| {
            if nr.kind.has_leak() {
                opt.dt / nr.tau_mem[j]
            } else {
                0.0
            }
        })
        .collect();
    let alpha_syn: Vec<f64> = (0..n)
        .map(|j| {
            if nr.kind.has_synapse() {
                opt.dt / nr.tau_syn[j]
            } else {
                0.0
            }
        })
        .collect();
    // A memoryless threshold loses its whole membrane every step (decay = 1).
    let mem_decay: Vec<i64> = if nr.kind.has_memory() {
        alpha_mem.iter().map(|&a| decay_const(a, f)).collect()
    } else {
        vec![1 << f; n]
    };
    let syn_decay: Vec<i64> = alpha_syn.iter().map(|&a| decay_const(a, f)).collect();
    let mut notes = Vec::new();
    if alpha_mem.iter().chain(&alpha_syn).any(|&a| a > 1.0) {
        notes.push(
            "dt exceeds a time constant: the Euler step overshoots, decay clamped to 1".to_string(),
        );
    }
    if alpha_mem
        .iter()
        .zip(&mem_decay)
        .any(|(&a, &d)| a > 0.0 && d == 0)
    {
        notes.push(format!("a leak below 2^-{f} per step rounds to no leak"));
    }
    let bias: Vec<i64> = (0..n)
        .map(|j| round_i64(name, "v_leak", alpha_mem[j] * nr.v_leak[j] * scale[j]))
        .collect::<Result<_, _>>()?;
    let threshold: Vec<i64> = (0..n)
        .map(|j| round_i64(name, "v_threshold", nr.v_threshold[j] * scale[j]))
        .collect::<Result<_, _>>()?;
    let v_reset: Vec<i64> = (0..n)
        .map(|j| round_i64(name, "v_reset", nr.v_reset[j] * scale[j]))
        .collect::<Result<_, _>>()?;
    let (syn_bits, syn_sat, u) = if nr.kind.has_synapse() {
        let s = size_state(&syn_decay, f, &x, &vec![None; n], opt.max_state_bits);
        let range = Interval::of_width(s.bits);
        (s.bits, s.saturate, vec![range; n])
    } else {
        (2, false, x)
    };
    let inputs: Vec<Interval> = (0..n)
        .map(|j| u[j].plus(Interval::point(bias[j] as i128)))
        .collect();
    let fires: Vec<Option<Firing>> = (0..n)
        .map(|j| {
            nr.kind.spikes().then_some(Firing {
                threshold: threshold[j] as i128,
                v_reset: v_reset[j] as i128,
                reset: nr.reset,
                compare: nr.compare,
            })
        })
        .collect();
    let m = size_state(&mem_decay, f, &inputs, &fires, opt.max_state_bits);
    let saturate = syn_sat || m.saturate;
    if saturate {
        notes.push(format!(
            "state saturates at {} bits (no smaller width is closed under the update)",
            opt.max_state_bits
        ));
    }
    Ok((
        IntNeuron {
            kind: nr.kind,
            reset: nr.reset,
            compare: nr.compare,
            frac_bits: f,
            syn_decay,
            mem_decay,
            bias,
            threshold,
            v_reset,
            syn_bits,
            mem_bits: m.bits,
            saturate,
            scale: scale.to_vec(),
        },
        notes.join("; "),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{FloatNeuron, Port, Tensor, Type};

    /// The scale arithmetic without guard bits, so the integers below read directly.
    const NO_GUARD: QuantOptions = QuantOptions {
        weight_bits: 8,
        dt: 1e-4,
        frac_bits: 12,
        max_state_bits: 32,
        guard_bits: 0,
        layer_weight_bits: BTreeMap::new(),
    };

    /// input(2) -> linear([[0.5, -0.25]]) -> LIF(dt/tau = 1/4, r = 4) -> output.
    fn lif_graph(bias: Option<f64>) -> Graph {
        let mut g = Graph::new("q");
        let i = g.add("in", Op::Input, vec![], Type::spike(2));
        let w = Tensor::new(vec![1, 2], vec![0.5, -0.25]);
        let op = match bias {
            Some(b) => Op::Affine {
                weight: w,
                bias: vec![b],
            },
            None => Op::Linear { weight: w },
        };
        let fc = g.add("fc", op, vec![Port::now(i)], Type::real(1));
        let mut nr = FloatNeuron::neutral(NeuronKind::Lif, 1);
        nr.tau_mem = vec![4e-4];
        nr.r = vec![4.0];
        nr.v_threshold = vec![1.0];
        nr.v_leak = vec![0.5];
        nr.v_reset = vec![-0.25];
        let n = g.add("lif", Op::Neuron(nr), vec![Port::now(fc)], Type::spike(1));
        g.add("out", Op::Output, vec![Port::now(n)], Type::spike(1));
        g
    }

    #[test]
    fn scale_gain_and_leak_fold_as_documented() {
        let (q, layers) = quantise(&lif_graph(Some(0.1)), &NO_GUARD).unwrap();
        // Gain dt/tau * r = 1, so the largest weight 0.5 maps to 127: scale 254.
        let Op::Dense(d) = &q.node(q.find("fc").unwrap()).op else {
            panic!()
        };
        assert_eq!(d.scale, vec![254.0]);
        assert_eq!(d.weight.data, vec![127, -64]); // -63.5 rounds away from zero
        assert_eq!(d.bias, vec![25]); // 0.1 * 254 = 25.4
        let Op::IntNeuron(n) = &q.node(q.find("lif").unwrap()).op else {
            panic!()
        };
        assert_eq!(n.mem_decay, vec![1024]); // 1/4 * 2^12
        assert_eq!(n.threshold, vec![254]);
        assert_eq!(n.v_reset, vec![-64]); // -0.25 * 254 = -63.5
        assert_eq!(n.bias, vec![32]); // dt/tau * v_leak * scale = 0.25 * 0.5 * 254 = 31.75
        assert!(!n.saturate);
        assert_eq!(layers.len(), 2);
    }

    #[test]
    fn guard_bits_shift_weights_and_state_units_together() {
        let (q, _) = quantise(&lif_graph(Some(0.1)), &QuantOptions::default()).unwrap();
        let Op::Dense(d) = &q.node(q.find("fc").unwrap()).op else {
            panic!()
        };
        // 8-bit weights [127, -64], moved up by 3 guard bits; bias and threshold in state units.
        assert_eq!(d.weight.data, vec![127 * 8, -64 * 8]);
        assert_eq!(d.scale, vec![254.0 * 8.0]);
        assert_eq!(d.bias, vec![203]); // 0.1 * 2032 = 203.2
        let Op::IntNeuron(n) = &q.node(q.find("lif").unwrap()).op else {
            panic!()
        };
        assert_eq!(n.threshold, vec![2032]);
        assert_eq!(n.scale, vec![2032.0]);
    }

    #[test]
    fn state_width_holds_every_reachable_membrane() {
        let (q, _) = quantise(&lif_graph(None), &NO_GUARD).unwrap();
        let Op::IntNeuron(n) = &q.node(q.find("lif").unwrap()).op else {
            panic!()
        };
        // Input per step lies in [-64 + 32, 127 + 32]. Quiet membranes reach the threshold 254,
        // so 8 bits cannot hold them; in 9 bits ([-256, 255]) the most negative state decays to
        // -256 + 64 - 32 = -224 and the largest fires, so 9 bits are closed under the update.
        assert_eq!(n.mem_bits, 9);
    }

    #[test]
    fn cuba_lif_gain_folds_both_time_constants() {
        let mut g = lif_graph(None);
        let id = g.find("lif").unwrap();
        let mut nr = FloatNeuron::neutral(NeuronKind::CubaLif, 1);
        nr.tau_syn = vec![2e-4]; // dt/tau_syn = 1/2
        nr.tau_mem = vec![4e-4]; // dt/tau_mem = 1/4
        nr.w_in = vec![1.0];
        nr.r = vec![2.0];
        nr.v_threshold = vec![1.0];
        g.nodes[id.index()].op = Op::Neuron(nr);
        let (q, _) = quantise(&g, &NO_GUARD).unwrap();
        // Gain 1/2 * 1 * 1/4 * 2 = 1/4: folded weights 0.125 and -0.0625, scale 127 / 0.125.
        let Op::Dense(d) = &q.node(q.find("fc").unwrap()).op else {
            panic!()
        };
        assert_eq!(d.scale, vec![1016.0]);
        assert_eq!(d.weight.data, vec![127, -64]);
        let Op::IntNeuron(n) = &q.node(q.find("lif").unwrap()).op else {
            panic!()
        };
        assert_eq!(
            (n.syn_decay.clone(), n.mem_decay.clone()),
            (vec![2048], vec![1024])
        );
        assert_eq!(n.threshold, vec![1016]);
    }

    #[test]
    fn weight_bits_out_of_range_is_an_error() {
        let opt = QuantOptions {
            weight_bits: 1,
            ..QuantOptions::default()
        };
        assert!(quantise(&lif_graph(None), &opt)
            .unwrap_err()
            .to_string()
            .contains("weight bits"));
    }
}
