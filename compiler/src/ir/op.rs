//! Operators of the IR: the float stage (NIR semantics) and the integer stage (hardware semantics).
//!
//! Float-stage operators keep the source model's parameters untouched; the quantiser turns them
//! into integer-stage operators whose every value has an explicit width. `docs/semantics.md`
//! states the update equations both executors and the RTL implement.

use crate::ir::tensor_ops::TensorOp;

/// Longest delay, in timesteps, a delay element may have (the hardware keeps a shift register
/// of this many values per element).
pub const MAX_DELAY_STEPS: i64 = 1 << 16;

/// A dense row-major tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor<T> {
    pub shape: Vec<usize>,
    pub data: Vec<T>,
}

impl<T: Copy> Tensor<T> {
    pub fn new(shape: Vec<usize>, data: Vec<T>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor { shape, data }
    }

    /// Rows and columns of a matrix (`[out, in]`).
    pub fn dims2(&self) -> (usize, usize) {
        match self.shape.as_slice() {
            [r, c] => (*r, *c),
            [c] => (1, *c),
            _ => (0, 0),
        }
    }

    pub fn at(&self, row: usize, col: usize) -> T {
        self.data[row * self.dims2().1 + col]
    }
}

/// How a spiking neuron compares its membrane with the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compare {
    /// `v > threshold` (NIR's definition).
    Gt,
    /// `v >= threshold` (SpikingJelly).
    Ge,
}

/// What a spike does to the membrane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reset {
    /// `v = v_reset` in the step that spikes (NIR >= 1.0.6).
    Zero,
    /// `v = v - threshold` in the step that spikes.
    Subtract,
    /// snnTorch's `reset_mechanism="zero"` (with its default reset delay): the membrane keeps
    /// its value in the step that spikes, and the next step starts from `v_reset` and drops
    /// that step's input.
    ZeroNext,
    /// snnTorch's `reset_mechanism="subtract"`: the next step subtracts the threshold after
    /// integrating, `v = decay(v) + I - threshold`.
    SubtractNext,
}

impl Reset {
    /// True when the reset acts in the step after the spike.
    pub fn delayed(self) -> bool {
        matches!(self, Reset::ZeroNext | Reset::SubtractNext)
    }

    /// True for the subtractive variants.
    pub fn subtracts(self) -> bool {
        matches!(self, Reset::Subtract | Reset::SubtractNext)
    }
}

/// The neuron models of NIR 1.0 that carry state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NeuronKind {
    /// Integrate and fire: `v += r * I`.
    If,
    /// Leaky integrate and fire.
    Lif,
    /// Leaky integrator: a LIF without spikes; outputs its membrane.
    Li,
    /// Current-based LIF: a leaky synaptic current feeds a LIF membrane.
    CubaLif,
    /// Integrator: `v += r * I`, no spikes; outputs its membrane.
    I,
    /// Current-based LI: a leaky synaptic current feeds a leaky integrator; no spikes.
    CubaLi,
    /// Stateless threshold: spike when the input exceeds `v_threshold`.
    Threshold,
}

impl NeuronKind {
    /// Every kind, in `.sfir` keyword order.
    pub const ALL: [NeuronKind; 7] = [
        NeuronKind::If,
        NeuronKind::Lif,
        NeuronKind::Li,
        NeuronKind::CubaLif,
        NeuronKind::I,
        NeuronKind::CubaLi,
        NeuronKind::Threshold,
    ];

    pub fn spikes(self) -> bool {
        !matches!(self, NeuronKind::Li | NeuronKind::I | NeuronKind::CubaLi)
    }

    pub fn has_leak(self) -> bool {
        !matches!(self, NeuronKind::If | NeuronKind::I | NeuronKind::Threshold)
    }

    pub fn has_synapse(self) -> bool {
        matches!(self, NeuronKind::CubaLif | NeuronKind::CubaLi)
    }

    /// True for kinds whose membrane carries over from step to step.
    pub fn has_memory(self) -> bool {
        !matches!(self, NeuronKind::Threshold)
    }

    pub fn keyword(self) -> &'static str {
        match self {
            NeuronKind::If => "if",
            NeuronKind::Lif => "lif",
            NeuronKind::Li => "li",
            NeuronKind::CubaLif => "cuba_lif",
            NeuronKind::I => "i",
            NeuronKind::CubaLi => "cuba_li",
            NeuronKind::Threshold => "threshold",
        }
    }
}

/// A float-stage neuron layer with NIR's per-neuron parameters.
///
/// Fields a kind does not use hold their neutral value (`tau_syn`, `w_in` for non-CubaLIF;
/// `v_threshold`, `v_reset` for LI; `tau_mem`, `v_leak` for IF) and are not printed.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatNeuron {
    pub kind: NeuronKind,
    pub tau_syn: Vec<f64>,
    pub tau_mem: Vec<f64>,
    pub r: Vec<f64>,
    pub v_leak: Vec<f64>,
    pub v_threshold: Vec<f64>,
    pub v_reset: Vec<f64>,
    pub w_in: Vec<f64>,
    pub reset: Reset,
    pub compare: Compare,
}

impl FloatNeuron {
    /// A neuron layer of `n` neurons with neutral parameters, to be filled in by a frontend.
    pub fn neutral(kind: NeuronKind, n: usize) -> Self {
        FloatNeuron {
            kind,
            tau_syn: vec![1.0; n],
            tau_mem: vec![1.0; n],
            r: vec![1.0; n],
            v_leak: vec![0.0; n],
            v_threshold: vec![1.0; n],
            v_reset: vec![0.0; n],
            w_in: vec![1.0; n],
            reset: Reset::Zero,
            compare: Compare::Gt,
        }
    }

    pub fn len(&self) -> usize {
        self.r.len()
    }

    pub fn is_empty(&self) -> bool {
        self.r.is_empty()
    }

    /// The parameter vectors this kind uses, by their NIR field names.
    pub fn fields(&self) -> Vec<(&'static str, &Vec<f64>)> {
        let mut f = Vec::new();
        if self.kind.has_synapse() {
            f.push(("tau_syn", &self.tau_syn));
        }
        if self.kind.has_leak() {
            f.push(("tau_mem", &self.tau_mem));
        }
        if self.kind != NeuronKind::Threshold {
            f.push(("r", &self.r));
        }
        if self.kind.has_leak() {
            f.push(("v_leak", &self.v_leak));
        }
        if self.kind.spikes() {
            f.push(("v_threshold", &self.v_threshold));
        }
        if self.kind.spikes() && self.kind.has_memory() {
            f.push(("v_reset", &self.v_reset));
        }
        if self.kind.has_synapse() {
            f.push(("w_in", &self.w_in));
        }
        f
    }

    /// Mutable access to a parameter vector by its NIR field name.
    pub fn field_mut(&mut self, name: &str) -> Option<&mut Vec<f64>> {
        Some(match name {
            "tau_syn" => &mut self.tau_syn,
            "tau_mem" | "tau" => &mut self.tau_mem,
            "r" => &mut self.r,
            "v_leak" => &mut self.v_leak,
            "v_threshold" | "threshold" => &mut self.v_threshold,
            "v_reset" => &mut self.v_reset,
            "w_in" => &mut self.w_in,
            _ => return None,
        })
    }
}

/// An integer-stage neuron layer: the exact arithmetic the golden model and the RTL perform.
///
/// Per step, with `x` the sum of the layer's inputs and `>>>` an arithmetic (flooring) shift:
/// ```text
/// syn' = syn - ((syn * syn_decay) >>> frac_bits) + x          (cuba_lif only; else syn' = x)
/// pre  = v - ((v * mem_decay) >>> frac_bits) + syn' + bias
/// spike = pre > threshold (or >=);  v' = spike ? (reset zero: v_reset | subtract: pre - threshold) : pre
/// ```
/// With `saturate`, `syn'` and `v'` are clamped to their widths; otherwise the quantiser proved
/// they fit.
#[derive(Clone, Debug, PartialEq)]
pub struct IntNeuron {
    pub kind: NeuronKind,
    pub reset: Reset,
    pub compare: Compare,
    /// Fraction bits of the decay constants.
    pub frac_bits: u32,
    pub syn_decay: Vec<i64>,
    pub mem_decay: Vec<i64>,
    pub bias: Vec<i64>,
    pub threshold: Vec<i64>,
    pub v_reset: Vec<i64>,
    /// Width of the synaptic-current state (cuba_lif).
    pub syn_bits: u32,
    /// Width of the membrane state.
    pub mem_bits: u32,
    pub saturate: bool,
    /// Per neuron: integer membrane units per unit of the float model's membrane (for reports
    /// and dequantising LI outputs).
    pub scale: Vec<f64>,
}

impl IntNeuron {
    pub fn len(&self) -> usize {
        self.threshold.len()
    }

    pub fn is_empty(&self) -> bool {
        self.threshold.is_empty()
    }

    /// Bits of state per neuron: the membrane, plus the synaptic current of Cuba kinds.
    pub fn state_bits(&self) -> u32 {
        self.mem_bits
            + if self.kind.has_synapse() {
                self.syn_bits
            } else {
                0
            }
    }
}

/// An integer dense layer on spike inputs: `y[j] = bias[j] + sum_i x[i] ? w[j][i] : 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct IntDense {
    /// `[out, in]`.
    pub weight: Tensor<i64>,
    pub bias: Vec<i64>,
    /// Per output: integer units per unit of the float model's value.
    pub scale: Vec<f64>,
}

/// A multi-threshold activation (FINN's `MultiThreshold`; multispike and batch-norm-folded
/// threshold neurons): `y = number of thresholds of x's channel that x reaches (x >= t)`.
/// Stateless; elements are channel-major, `len / channels` per channel.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiThreshold {
    /// `[channels, K]`, each row ascending.
    pub thresholds: Tensor<i64>,
}

impl MultiThreshold {
    /// The output of element `e` of an `n`-element input with value `x`.
    pub fn eval(&self, e: usize, n: usize, x: i64) -> i64 {
        let (channels, k) = self.thresholds.dims2();
        let c = e / (n / channels.max(1)).max(1);
        let row = &self.thresholds.data[c * k..(c + 1) * k];
        row.partition_point(|&t| t <= x) as i64
    }
}

/// A 2-D convolution (1-D is `h = kh = 1`), NIR's `Conv1d`/`Conv2d`, on a `[c, h, w]` input.
/// Float weights before quantisation, integer weights after ([`IntConv`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Conv<T = f64> {
    /// `[c_out, c_in / groups, kh, kw]`.
    pub weight: Tensor<T>,
    /// One per output channel.
    pub bias: Vec<T>,
    /// `[c_in, h, w]`.
    pub in_shape: Vec<usize>,
    pub stride: Vec<usize>,
    pub padding: Vec<usize>,
    pub dilation: Vec<usize>,
    pub groups: usize,
}

/// An integer convolution on spike inputs: `y[o, oy, ox] = bias[o] + sum of the weights
/// whose input tap spiked` (padding reads no spike). The output is channel-major, like NIR's.
#[derive(Clone, Debug, PartialEq)]
pub struct IntConv {
    pub conv: Conv<i64>,
    /// Per output channel: integer units per unit of the float model's value.
    pub scale: Vec<f64>,
}

/// Sum or average pooling over `kernel` windows of a `[c, h, w]` input (NIR's `SumPool2d`,
/// `AvgPool2d`).
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub kernel: Vec<usize>,
    pub stride: Vec<usize>,
    pub padding: Vec<usize>,
    pub in_shape: Vec<usize>,
    pub average: bool,
}

/// An operator.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// A graph input; its type is the node's type.
    Input,
    /// A graph output; forwards its single input.
    Output,
    /// `y = W x + b` (float).
    Affine { weight: Tensor<f64>, bias: Vec<f64> },
    /// `y = W x` (float).
    Linear { weight: Tensor<f64> },
    /// `y = s * x`, elementwise (float).
    Scale { scale: Vec<f64> },
    /// A float neuron layer.
    Neuron(FloatNeuron),
    /// Convolution (float).
    Conv(Conv),
    /// Sum or average pooling (float).
    Pool(Pool),
    /// `y(t) = x(t - delay)`, per element, delays in seconds (NIR's Delay).
    Delay { delay: Vec<f64> },
    /// `y[t] = x[t - steps]`, per element; zero before the first `steps` steps of a sample.
    IntDelay { steps: Vec<i64> },
    /// An integer dense layer.
    Dense(IntDense),
    /// An integer convolution on spikes.
    IntConv(IntConv),
    /// An integer neuron layer.
    IntNeuron(IntNeuron),
    /// Integer multi-threshold activation.
    MultiThreshold(MultiThreshold),
    /// A weightless operator of spike-driven transformers (AND, popcount, spike matmul, add,
    /// OR-pool, requantise).
    Tensor(TensorOp),
}

impl Op {
    /// The keyword naming the operator in `.sfir`.
    pub fn keyword(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Output => "output",
            Op::Affine { .. } => "affine",
            Op::Linear { .. } => "linear",
            Op::Scale { .. } => "scale",
            Op::Neuron(n) => n.kind.keyword(),
            Op::Dense(_) => "dense",
            Op::IntConv(_) => "int_conv",
            Op::Delay { .. } => "delay",
            Op::Conv(_) => "conv",
            Op::Pool(p) => {
                if p.average {
                    "avg_pool"
                } else {
                    "sum_pool"
                }
            }
            Op::IntDelay { .. } => "int_delay",
            Op::MultiThreshold(_) => "multi_threshold",
            Op::Tensor(t) => t.keyword(),
            Op::IntNeuron(n) => match n.kind {
                NeuronKind::If => "int_if",
                NeuronKind::Lif => "int_lif",
                NeuronKind::Li => "int_li",
                NeuronKind::CubaLif => "int_cuba_lif",
                NeuronKind::I => "int_i",
                NeuronKind::CubaLi => "int_cuba_li",
                NeuronKind::Threshold => "int_threshold",
            },
        }
    }

    /// True for operators that exist only before quantisation.
    pub fn is_float(&self) -> bool {
        matches!(
            self,
            Op::Affine { .. }
                | Op::Linear { .. }
                | Op::Scale { .. }
                | Op::Neuron(_)
                | Op::Delay { .. }
                | Op::Conv(_)
                | Op::Pool(_)
        )
    }

    /// True for operators that exist only after quantisation.
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            Op::Dense(_)
                | Op::IntConv(_)
                | Op::IntNeuron(_)
                | Op::IntDelay { .. }
                | Op::MultiThreshold(_)
                | Op::Tensor(_)
        )
    }

    /// True for operators whose output at step t depends on earlier steps.
    pub fn has_state(&self) -> bool {
        matches!(
            self,
            Op::Neuron(_) | Op::IntNeuron(_) | Op::Delay { .. } | Op::IntDelay { .. }
        )
    }
}
