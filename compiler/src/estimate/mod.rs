//! Resource estimates without Yosys: the LUTs of a neuron layer under an architecture, from a
//! first-order model fitted to Yosys runs of Spikeforge's own designs (`synth_xilinx`, xc7
//! LUT6). The automatic choice under a LUT budget uses it; a learned surrogate can replace the
//! coefficients without changing the interface.

use crate::backend::{self, folded, ramp, LayerArch};
use crate::ir::{Graph, NodeId, Op};

/// Model coefficients: non-negative least squares over 11 designs synthesised with Yosys 0.23
/// (`synth_xilinx`, xc7a35t): the 784-128-10 LIF MLP folded at 1, 4, 8 and 16 lanes and
/// event-driven, and the 16-32-10 RSNN example parallel (8- and 4-bit), folded, event-driven
/// and mixed. Every one is within 10% of Yosys; `compiler/tests/estimate.rs` holds them to 15%.
mod coef {
    /// Stream control, sequencer and output register of the top level.
    pub const TOP: f64 = 30.0;
    /// A folded core's address counters, state machine and accumulator control.
    pub const FOLDED_BASE: f64 = 70.0;
    /// Per lane and state bit: the lane's accumulator and neuron update.
    pub const PER_LANE_BIT: f64 = 6.7;
    /// Per input bit of a folded core: the multiplexer that taps the input bus.
    pub const PER_INPUT: f64 = 1.33;
    /// Per input bit of an event-driven core, on top: pending register, lowest-bit isolation
    /// and the index encoder.
    pub const EVENT_PER_INPUT: f64 = 4.5;
    /// LUT6 per bit of a weight ROM small enough to stay in logic.
    pub const ROM_PER_BIT: f64 = 1.0 / 48.0;
    /// Per one-bit adder of a hardwired block (carry chains map about one bit a LUT).
    pub const PER_ADDER_BIT: f64 = 0.95;
    /// Per neuron and state bit of a parallel layer's update logic.
    pub const PARALLEL_NEURON_BIT: f64 = 4.4;
}

/// How far below a LUT budget the automatic choice aims: the largest error of the estimate on
/// the designs it was fitted to.
pub const MARGIN: f64 = 0.10;

/// The Yosys version the coefficients were fitted with (`tests/estimate.rs` measures them);
/// `synth` warns when it runs another.
pub const FITTED_WITH_YOSYS: &str = "0.23";

/// Estimated LUTs of the top level's own logic (stream control).
pub fn top_luts() -> f64 {
    coef::TOP
}

/// Estimated LUTs of neuron layer `id` (with the weight layers feeding it) built as `arch`.
pub fn layer_luts(g: &Graph, id: NodeId, arch: LayerArch) -> Result<f64, String> {
    let node = g.node(id);
    if let (Op::MultiThreshold(mt), LayerArch::Unit(v)) = (&node.op, arch) {
        return Ok(unit_luts(g, id, mt, v));
    }
    match (&node.op, arch) {
        (Op::Tensor(t), LayerArch::Serial) => return Ok(serial_luts(g, id, t)),
        (Op::Tensor(_), LayerArch::Parallel) => return Ok(rows_luts(g, id)),
        _ => {}
    }
    let Op::IntNeuron(n) = &node.op else {
        return Err(format!("'{}' is not a neuron layer", node.name));
    };
    let state_bits = n.state_bits();
    let syns: Vec<NodeId> = node.inputs.iter().map(|p| p.node).collect();
    match arch {
        // Pipeline registers are flip-flops; LUTs stay those of the blocks.
        LayerArch::Parallel | LayerArch::Pipelined { .. } => {
            let adder_bits: u64 = syns.iter().map(|&s| parallel_adder_bits(g, s)).sum();
            Ok(coef::PER_ADDER_BIT * adder_bits as f64
                + coef::PARALLEL_NEURON_BIT * (n.len() as f64) * state_bits as f64)
        }
        LayerArch::Folded { reuse } => folded_luts(g, &syns, reuse, false, state_bits),
        LayerArch::Unit(_) => Err(format!(
            "'{}' is a neuron layer, not a multi_threshold",
            node.name
        )),
        LayerArch::Event => folded_luts(g, &syns, None, true, state_bits),
        LayerArch::Serial => Err(format!(
            "'{}' is a neuron layer, not a tensor unit",
            node.name
        )),
    }
}

/// A matmul by a constant as hardwired rows (a first guess, not fitted): about one adder of the
/// accumulator's width per nonzero weight, as an unshared shift-add network would take.
fn rows_luts(g: &Graph, id: NodeId) -> f64 {
    let node = g.node(id);
    let nonzero = crate::backend::tensor_seq::hardwired_operand(g, id)
        .map(|b| match &g.node(b).op {
            Op::Tensor(crate::ir::TensorOp::Const { data, .. }) => {
                data.iter().filter(|&&w| w != 0).count()
            }
            _ => 0,
        })
        .unwrap_or(0);
    nonzero as f64 * node.ty.elem_bits().unwrap_or(1) as f64 * coef::PER_ADDER_BIT
}

/// Multi-cycle tensor units (a first guess, not fitted): the read multiplexers (about one LUT
/// per two input bits), a multiplier (about `a b / 2` LUTs without DSPs) and the result's
/// shift register.
fn serial_luts(g: &Graph, id: NodeId, t: &crate::ir::TensorOp) -> f64 {
    let node = g.node(id);
    let bits = |n: NodeId| {
        let ty = &g.node(n).ty;
        (ty.len() as f64, ty.elem_bits().unwrap_or(1) as f64)
    };
    let mux: f64 = node
        .inputs
        .iter()
        .map(|p| {
            let (n, b) = bits(p.node);
            n * b / 2.0
        })
        .sum();
    let width: Vec<f64> = node.inputs.iter().map(|p| bits(p.node).1 + 1.0).collect();
    let mult = match t {
        crate::ir::TensorOp::IntMatmul { .. } => width.iter().product::<f64>() / 2.0,
        // Softmax: the reciprocal's divider and a 17 x 33 product; LayerNorm: the squares,
        // the bisection's and the affine's products.
        crate::ir::TensorOp::Softmax(_) => 33.0 * 33.0 + 17.0 * 33.0 / 2.0,
        _ => 4.0 * 24.0 * 24.0 / 2.0,
    };
    let (n, b) = bits(id);
    mux + mult + n * b / 8.0
}

/// Multi-threshold units (a first guess, not fitted): a thermometer compares every threshold,
/// a ramp or binary search one at a time from a table, a ROM is block RAM.
fn unit_luts(g: &Graph, id: NodeId, mt: &crate::ir::MultiThreshold, v: ramp::Variant) -> f64 {
    let n = g.node(id).ty.len() as f64;
    let ib = g
        .node(g.node(id).inputs[0].node)
        .ty
        .elem_bits()
        .unwrap_or(1) as f64;
    let k = mt.thresholds.dims2().1 as f64;
    n * match v {
        ramp::Variant::Parallel => k * (ib / 2.0 + 1.0),
        ramp::Variant::Ramp | ramp::Variant::Bsearch => 2.0 * ib + k / 4.0 + 8.0,
        ramp::Variant::Rom => 2.0,
    }
}

fn folded_luts(
    g: &Graph,
    syns: &[NodeId],
    reuse: Option<usize>,
    event: bool,
    state_bits: u32,
) -> Result<f64, String> {
    let s = folded::shape(g, syns, reuse)?;
    let rom: f64 = s
        .syns
        .iter()
        .filter(|&&(_, bits)| bits < folded::BRAM_MIN_BITS)
        .map(|&(_, bits)| coef::ROM_PER_BIT * bits as f64)
        .sum();
    let inputs: usize = s.syns.iter().map(|&(n, _)| n).sum();
    Ok(coef::FOLDED_BASE
        + coef::PER_LANE_BIT * (s.lanes as f64) * state_bits as f64
        + coef::PER_INPUT * inputs as f64
        + rom
        + if event {
            coef::EVENT_PER_INPUT * inputs as f64
        } else {
            0.0
        })
}

/// One-bit adders of the hardwired block the optimiser builds for weight layer `syn` (the
/// block itself, so the estimate sees the sharing the optimiser finds).
fn parallel_adder_bits(g: &Graph, syn: NodeId) -> u64 {
    backend::syn_adder_graph(g, syn).map_or(0, |a| a.cost())
}
