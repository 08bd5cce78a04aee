//! Verilog backend: one module per layer from the askama templates in `rtl-templates/`, and a
//! top level with the stream interface. Reads only verified integer IR.

pub mod choose;
pub mod control;
pub mod folded;
pub mod hardwired;
pub mod names;
pub mod ramp;
pub mod stream;
pub mod tensor;
pub mod tensor_seq;

use crate::ir::{signed_width, Compare, Elem, Graph, IntNeuron, NodeId, Op, Reset, TensorOp, Type};
use crate::opt::cmvm;
use crate::quant::interval::Interval;
use askama::Template;
use hardwired::{BlockStats, InputBus};
use names::{comment_text, Namer};

/// A generated design: files to write and what the cosim harness needs to know.
#[derive(Clone, Debug)]
pub struct Design {
    pub top: String,
    /// (file name, contents), the top module last.
    pub files: Vec<(String, String)>,
    pub in_bits: usize,
    pub out_bits: usize,
    /// True when the layers are folded: a timestep takes `cycles_per_step` cycles and node
    /// values are final when the output beat leaves.
    pub folded: bool,
    /// Clock cycles from accepting an input beat to presenting its output beat (the schedule,
    /// without stream stalls).
    pub cycles_per_step: u64,
    /// Signals of the top module mirroring each traced node's value.
    pub traces: Vec<TraceSignal>,
    /// Per hardwired-weight block: (IR node name, what it costs).
    pub blocks: Vec<(String, BlockStats)>,
    /// Per neuron layer: its architecture and the cycles it takes per timestep (the most, for
    /// event-driven layers).
    pub layers: Vec<(String, LayerArch, u64)>,
    /// True when an event-driven layer makes the cycles per timestep depend on the input;
    /// `cycles_per_step` is then the most (every input spiking).
    pub data_dependent: bool,
}

/// A node's value as a flat bus in the top module.
#[derive(Clone, Debug)]
pub struct TraceSignal {
    pub node: NodeId,
    pub signal: String,
    pub elems: usize,
    pub elem_bits: u32,
    pub signed: bool,
}

impl TraceSignal {
    pub fn bits(&self) -> usize {
        self.elems * self.elem_bits as usize
    }
}

#[derive(Debug, thiserror::Error)]
#[error("backend: node '{node}': {message}")]
pub struct BackendError {
    pub node: String,
    pub message: String,
}

struct DelayElem {
    j: usize,
    d: i64,
    /// Next value of the line: older entries shifted up, the input at the bottom.
    shift: String,
}

#[derive(Template)]
#[template(path = "delay.v", escape = "none")]
struct DelayV {
    header: String,
    module: String,
    bits: usize,
    w: u32,
    elems: Vec<DelayElem>,
    /// False when every delay is zero: the line is wires and ignores its control inputs.
    delayed: bool,
}

struct Param {
    name: String,
    /// Total bits of the packed vector.
    bits: usize,
    value: String,
    doc: &'static str,
}

impl Param {
    fn packed(name: &'static str, values: &[i64], width: u32, doc: &'static str) -> Self {
        Self::packed_named(name.to_string(), values, width, doc)
    }

    fn packed_named(name: String, values: &[i64], width: u32, doc: &'static str) -> Self {
        Param {
            name,
            bits: values.len() * width as usize,
            value: pack_hex(values, width),
            doc,
        }
    }
}

#[derive(Template)]
#[template(path = "neuron.v", escape = "none")]
struct NeuronV {
    header: String,
    module: String,
    n: usize,
    xb: u32,
    x_bits: usize,
    y_bits: usize,
    vb: u32,
    sb: u32,
    wb: u32,
    f: u32,
    uses_f: bool,
    cuba: bool,
    spikes: bool,
    saturate: bool,
    reset_zero: bool,
    reset_next: bool,
    cmp: &'static str,
    params: Vec<Param>,
    pw: u32,
    /// What the membrane loses per step, over `v_p` (empty: no leak).
    mem_lost: String,
    mem_decay_doc: String,
    /// What the synaptic current loses per step, over `s_p` (empty: no leak).
    syn_lost: String,
    syn_decay_doc: String,
    vmax: String,
    vmin: String,
    smax: String,
    smin: String,
    /// Parameter reads of the update (a packed-table slice or a constant).
    bias_e: String,
    th_e: String,
    vr_e: String,
    /// Set for a folded layer.
    fold: Option<folded::FoldCtx>,
}

#[derive(Template)]
#[template(path = "top.v", escape = "none")]
struct TopV {
    header: String,
    module: String,
    in_bits: usize,
    out_bits: usize,
    in_doc: String,
    out_doc: String,
    lines: Vec<String>,
    out_expr: String,
    folded: bool,
    /// The last folded layer's done signal.
    fin: String,
    cycles: u64,
}

/// A sized hexadecimal literal of `values`, each `bits` wide, element 0 in the low bits.
pub fn pack_hex(values: &[i64], bits: u32) -> String {
    let total = values.len() * bits as usize;
    let mut nibbles = vec![0u8; total.div_ceil(4)];
    for (i, &v) in values.iter().enumerate() {
        for b in 0..bits as usize {
            if (v >> b.min(63)) & 1 == 1 {
                let pos = i * bits as usize + b;
                nibbles[pos / 4] |= 1 << (pos % 4);
            }
        }
    }
    let hex: String = nibbles
        .iter()
        .rev()
        .map(|n| char::from_digit(*n as u32, 16).unwrap_or('0'))
        .collect();
    format!("{total}'h{hex}")
}

fn signed_lit(v: i64, bits: u32) -> String {
    if v < 0 {
        format!("-{bits}'sd{}", v.unsigned_abs())
    } else {
        format!("{bits}'sd{v}")
    }
}

/// How the layers are built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Arch {
    /// Every weight in the logic, one timestep per cycle.
    Parallel,
    /// Every neuron layer a time-multiplexed core with weights in ROM and state in RAM.
    Folded,
    /// Folded when the unrolled synapses exceed [`AUTO_FOLD_SYNAPSES`], else parallel.
    #[default]
    Auto,
}

/// How one neuron layer (with the weight layers feeding it) is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerArch {
    /// Weights in logic (hardwired blocks), the update in one cycle.
    Parallel,
    /// A time-multiplexed core; `reuse` output channels share each accumulator (default: as
    /// many lanes as divide the channels, up to 16).
    Folded { reuse: Option<usize> },
    /// A folded core that visits only the inputs that spiked: cycles per timestep scale with
    /// input activity. Dense weight layers (recurrent ones included) walk the spiking inputs;
    /// a convolution scatters each spike into the partial sums of the outputs it reaches.
    Event,
    /// Weights in logic with pipeline registers every `levels` adder levels: a stage of the
    /// multi-cycle schedule taking the blocks' latency more cycles, for a shorter clock period.
    Pipelined { levels: u32 },
    /// A multi-threshold activation as ramp-family units of this variant (`parallel` on such a
    /// node means [`ramp::Variant::Parallel`]).
    Unit(ramp::Variant),
    /// A multi-cycle tensor unit (integer matmul, softmax, LayerNorm): one element per cycle.
    Serial,
}

impl LayerArch {
    /// Parses `parallel`, `parallel:N`, `folded`, `folded:R` or `event`.
    pub fn parse(s: &str) -> Result<LayerArch, String> {
        match s.split_once(':') {
            Some(("parallel", n)) => match n.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(LayerArch::Pipelined { levels: n }),
                _ => Err(format!(
                    "'{s}': adder levels between pipeline registers must be a positive integer"
                )),
            },
            None if s == "parallel" => Ok(LayerArch::Parallel),
            None if s == "folded" => Ok(LayerArch::Folded { reuse: None }),
            None if s == "event" => Ok(LayerArch::Event),
            None if s == "serial" => Ok(LayerArch::Serial),
            None if ramp::Variant::parse(s).is_some() => {
                Ok(LayerArch::Unit(ramp::Variant::parse(s).expect("checked")))
            }
            Some(("folded", r)) => match r.parse::<usize>() {
                Ok(r) if r >= 1 => Ok(LayerArch::Folded { reuse: Some(r) }),
                _ => Err(format!(
                    "'{s}': the reuse factor must be a positive integer"
                )),
            },
            _ => Err(format!(
                "'{s}' is not a layer architecture (parallel, parallel:N, folded, folded:R or event; \
                 ramp, bsearch or rom for a multi_threshold node; serial or parallel for a \
                 tensor unit)"
            )),
        }
    }
}

/// As in `--layer-arch`: `parallel`, `parallel:N`, `folded`, `folded:R`, `event`.
impl serde::Serialize for LayerArch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::fmt::Display for LayerArch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayerArch::Parallel => write!(f, "parallel"),
            LayerArch::Folded { reuse: None } => write!(f, "folded"),
            LayerArch::Folded { reuse: Some(r) } => write!(f, "folded:{r}"),
            LayerArch::Event => write!(f, "event"),
            LayerArch::Pipelined { levels } => write!(f, "parallel:{levels}"),
            LayerArch::Unit(v) => write!(f, "{}", v.name()),
            LayerArch::Serial => write!(f, "serial"),
        }
    }
}

/// Unrolled synapse count above which `Arch::Auto` folds.
pub const AUTO_FOLD_SYNAPSES: usize = 1 << 16;

impl Arch {
    /// The architecture `Auto` resolves to for `g`.
    pub fn resolve(self, g: &Graph) -> Arch {
        match self {
            Arch::Auto => {
                let synapses: usize = g
                    .nodes
                    .iter()
                    .map(|nd| weight_rows(&nd.op).0.iter().map(Vec::len).sum::<usize>())
                    .sum();
                let delays = g
                    .nodes
                    .iter()
                    .any(|nd| matches!(nd.op, Op::IntDelay { .. }));
                if synapses > AUTO_FOLD_SYNAPSES && !delays {
                    Arch::Folded
                } else {
                    Arch::Parallel
                }
            }
            a => a,
        }
    }
}

/// Generates the design for a verified integer graph.
pub fn generate(g: &Graph, arch: Arch) -> Result<Design, BackendError> {
    generate_layers(g, arch, &std::collections::BTreeMap::new())
}

/// [`generate`] with per-layer choices (by neuron node name) overriding `arch`.
pub fn generate_layers(
    g: &Graph,
    arch: Arch,
    layers: &std::collections::BTreeMap<String, LayerArch>,
) -> Result<Design, BackendError> {
    let layer_op = |id: NodeId| match &g.node(id).op {
        Op::IntNeuron(_) | Op::MultiThreshold(_) => true,
        Op::Tensor(t) => t.sequential(),
        _ => false,
    };
    for (name, a) in layers {
        let misfit = match g.find(name).map(|id| (&g.node(id).op, a)) {
            Some((Op::Tensor(_), LayerArch::Serial)) => None,
            Some((Op::Tensor(TensorOp::IntMatmul { .. }), LayerArch::Parallel))
                if g.find(name)
                    .and_then(|id| tensor_seq::hardwired_operand(g, id))
                    .is_some() =>
            {
                None
            }
            Some((Op::Tensor(_), a)) => Some(format!(
                "{a} does not fit a tensor unit: serial, or parallel (hardwired rows) for a \
                 product by a constant matrix"
            )),
            Some((Op::MultiThreshold(_), LayerArch::Unit(_) | LayerArch::Parallel)) => None,
            Some((Op::MultiThreshold(_), a)) => Some(format!(
                "{a} is for neuron layers; a multi_threshold node takes ramp, bsearch, parallel \
                 or rom"
            )),
            Some((Op::IntNeuron(_), LayerArch::Unit(_))) => Some(format!(
                "{a} is a ramp-unit variant, for multi_threshold nodes"
            )),
            _ => None,
        };
        if let Some(message) = misfit {
            return Err(BackendError {
                node: name.clone(),
                message,
            });
        }
        if !g.find(name).is_some_and(layer_op) {
            let known: Vec<&str> = g
                .ids()
                .filter(|&id| layer_op(id))
                .map(|id| g.node(id).name.as_str())
                .collect();
            return Err(BackendError {
                node: name.clone(),
                message: format!(
                    "no neuron layer of this name (layers: {})",
                    known.join(", ")
                ),
            });
        }
    }
    // Tensor units are serial unless named otherwise.
    let plan = |all: LayerArch| -> Vec<LayerArch> {
        g.nodes
            .iter()
            .map(|n| {
                layers.get(&n.name).copied().unwrap_or(match n.op {
                    Op::Tensor(_) => LayerArch::Serial,
                    _ => all,
                })
            })
            .collect()
    };
    let folded = LayerArch::Folded { reuse: None };
    match (arch, arch.resolve(g)) {
        // `auto` keeps a model the folded cores cannot take (e.g. weight layers of different
        // shapes into one neuron layer) parallel rather than failing.
        (Arch::Auto, Arch::Folded) => {
            generate_as(g, &plan(folded)).or_else(|_| generate_as(g, &plan(LayerArch::Parallel)))
        }
        (_, Arch::Folded) => generate_as(g, &plan(folded)),
        _ => generate_as(g, &plan(LayerArch::Parallel)),
    }
}

fn generate_as(g: &Graph, arch: &[LayerArch]) -> Result<Design, BackendError> {
    let is_folded = |id: NodeId| {
        matches!(g.node(id).op, Op::IntNeuron(_))
            && matches!(
                arch[id.index()],
                LayerArch::Folded { .. } | LayerArch::Event
            )
    };
    let pipelined = |id: NodeId| match (&g.node(id).op, arch[id.index()]) {
        (Op::IntNeuron(_), LayerArch::Pipelined { levels }) => Some(levels),
        _ => None,
    };
    let mut data_dependent = false;
    // One folded layer makes the whole design a multi-cycle schedule; parallel layers are then
    // stages of it.
    // Multi-threshold units take a start pulse and some cycles: stages of the schedule too.
    // So are the multi-cycle tensor units.
    let folded = g.ids().any(|id| {
        is_folded(id)
            || pipelined(id).is_some()
            || match &g.node(id).op {
                Op::MultiThreshold(_) => true,
                Op::Tensor(t) => t.sequential(),
                _ => false,
            }
    });
    // Every identifier in the top module and every module name comes from one namer, so node
    // names can never collide with the fixed ports or with each other.
    let mut namer = Namer::reserving(&[
        "clk",
        "rst",
        "step",
        "clear",
        "busy",
        "go",
        "fin",
        "first",
        "last_q",
        "x_in",
        "accept",
        "unused_clear",
        "unused_first",
        "s_axis_tdata",
        "s_axis_tvalid",
        "s_axis_tready",
        "s_axis_tlast",
        "m_axis_tdata",
        "m_axis_tvalid",
        "m_axis_tready",
        "m_axis_tlast",
    ]);
    let top = namer.fresh(&format!("sf_{}", g.name));
    let mut files = Vec::new();
    let mut lines = Vec::new();
    let mut traces = Vec::new();
    let mut blocks = Vec::new();
    let mut layer_cycles = Vec::new();
    let mut sig = vec![String::new(); g.nodes.len()];
    let mut in_offset = 0usize;
    let mut in_doc = Vec::new();
    let header_src = |id: NodeId| -> String { comment_text(&g.node(id).name) };
    for id in g.ids() {
        sig[id.index()] = namer.ident(&g.node(id).name);
    }
    // Delayed reads see a register holding the previous step's value.
    let mut delayed_regs = std::collections::BTreeSet::new();
    for id in g.ids() {
        for p in &g.node(id).inputs {
            if p.delayed {
                delayed_regs.insert(p.node);
            }
        }
    }
    // Results of multi-cycle units read only by other units live in memories (`stream`).
    let kinds = stream::kinds(g, arch, &delayed_regs);
    let wiring = stream::wire(g, arch, &kinds, &sig, &mut namer);
    lines.extend(wiring.decls.iter().cloned());
    // Weight layers read only by folded neuron layers are part of those layers' cores.
    let mut absorbed = vec![true; g.nodes.len()];
    for id in g.ids() {
        if !is_folded(id) {
            for p in &g.node(id).inputs {
                absorbed[p.node.index()] = false;
            }
        }
    }
    // Pipeline registers of each weight layer: those of the layers reading it, which agree.
    let mut pipe: Vec<Option<u32>> = vec![None; g.nodes.len()];
    for w in g
        .ids()
        .filter(|&w| matches!(g.node(w).op, Op::Dense(_) | Op::IntConv(_)))
    {
        let mut readers = g
            .ids()
            .filter(|&r| g.node(r).inputs.iter().any(|q| q.node == w))
            .map(pipelined);
        let first = readers.next().flatten();
        if readers.any(|r| r != first) {
            return Err(BackendError {
                node: g.node(w).name.clone(),
                message: "layers reading this weight layer differ in pipelining; give them the \
                          same parallel:N"
                    .into(),
            });
        }
        pipe[w.index()] = first;
    }
    let mut block_latency = vec![0u32; g.nodes.len()];
    // The folded layers run one after another: each starts when the previous is done.
    let mut start = String::from("go");
    // Hardware-order output bus and its (channels, positions) layout, per folded layer.
    let mut hw_bus: Vec<Option<(String, (usize, usize))>> = vec![None; g.nodes.len()];
    let mut hw_read = std::collections::BTreeSet::new();
    // Folded: accept -> go, the layers (each 1 + blocks * (taps + 2)), done -> fin -> tvalid;
    // the harness measures this latency and the tests hold it equal.
    let mut cycles: u64 = if folded { 3 } else { 1 };
    let bits_of = |id: NodeId| -> usize {
        let t = &g.node(id).ty;
        t.len() * t.elem_bits().unwrap_or(1) as usize
    };
    let prev_sig: Vec<String> = g
        .ids()
        .map(|id| {
            if delayed_regs.contains(&id) {
                namer.fresh(&format!("{}_prev", sig[id.index()]))
            } else {
                String::new()
            }
        })
        .collect();
    let port_sig = |p: &crate::ir::Port, sig: &Vec<String>| -> String {
        if p.delayed {
            prev_sig[p.node.index()].clone()
        } else {
            sig[p.node.index()].clone()
        }
    };
    for id in g.ids() {
        let node = g.node(id);
        let s = sig[id.index()].clone();
        let w = bits_of(id);
        let public = "/*verilator public_flat_rd*/";
        let err = |m: String| BackendError {
            node: node.name.clone(),
            message: m,
        };
        match &node.op {
            Op::Input => {
                lines.push(format!("// Input {}", header_src(id)));
                lines.push(format!(
                    "wire [{w}-1:0] {s} {public} = {}[{}:{}];",
                    if folded { "x_in" } else { "s_axis_tdata" },
                    in_offset + w - 1,
                    in_offset
                ));
                in_doc.push(format!(
                    "{} at [{}:{}]",
                    comment_text(&node.name),
                    in_offset + w - 1,
                    in_offset
                ));
                in_offset += w;
            }
            Op::Output => {
                let src = port_sig(&node.inputs[0], &sig);
                lines.push(format!("// Output {}", header_src(id)));
                lines.push(format!("wire [{w}-1:0] {s} {public} = {src};"));
            }
            // A folded neuron layer reads its weight layers itself.
            Op::Dense(_) | Op::IntConv(_) if absorbed[id.index()] => {}
            Op::Dense(_) | Op::IntConv(_) => {
                let module = namer.fresh(&format!("{top}_{s}_dense"));
                let inst = namer.fresh(&format!("u_{s}"));
                let ab = node.ty.elem_bits().unwrap_or(2);
                let source = &g.node(node.inputs[0].node).ty;
                let (text, stats) =
                    dense_module(&module, &node.name, &node.op, source, ab, pipe[id.index()]);
                files.push((format!("{module}.v"), text));
                let clk = if stats.latency > 0 { ".clk(clk), " } else { "" };
                block_latency[id.index()] = stats.latency;
                blocks.push((node.name.clone(), stats));
                let x = port_sig(&node.inputs[0], &sig);
                lines.push(format!("// Dense layer {}", header_src(id)));
                lines.push(format!("wire [{w}-1:0] {s} {public};"));
                lines.push(format!("{module} {inst} ({clk}.x({x}), .y({s}));"));
            }
            Op::IntNeuron(nr) => {
                let n = nr.len();
                let xb = node
                    .inputs
                    .iter()
                    .map(|p| g.node(p.node).ty.elem_bits().unwrap_or(1))
                    .max()
                    .unwrap_or(1)
                    + (node.inputs.len() as u32)
                        .next_power_of_two()
                        .trailing_zeros();
                let folded_as = match arch[id.index()] {
                    LayerArch::Folded { reuse } => Some((reuse, false)),
                    LayerArch::Event => Some((None, true)),
                    LayerArch::Parallel
                    | LayerArch::Pipelined { .. }
                    | LayerArch::Unit(_)
                    | LayerArch::Serial => None,
                };
                if let Some((reuse, event)) = folded_as {
                    data_dependent |= event;
                    let syn_ids: Vec<NodeId> = node.inputs.iter().map(|p| p.node).collect();
                    if node.inputs.iter().any(|p| p.delayed) {
                        return Err(err(
                            "a folded layer reads its weight layers in the same step; recurrent edges must sit before the weight layer".into(),
                        ));
                    }
                    let module = namer.fresh(&format!("{top}_{s}_folded"));
                    let inst = namer.fresh(&format!("u_{s}"));
                    // Synapses reading a folded layer in the same step take its hardware-order bus.
                    let sources: Vec<(String, folded::Layout)> = syn_ids
                        .iter()
                        .map(|&d| {
                            let p = &g.node(d).inputs[0];
                            let fits = |l: (usize, usize)| {
                                folded::as_conv(&g.node(d).op)
                                    .is_some_and(|c| folded::reads_hardware_order(&c, l))
                            };
                            match &hw_bus[p.node.index()] {
                                Some((bus, layout)) if !p.delayed && fits(*layout) => {
                                    hw_read.insert(bus.clone());
                                    (bus.clone(), Some(*layout))
                                }
                                _ => (port_sig(p, &sig), None),
                            }
                        })
                        .collect();
                    let layouts: Vec<_> = sources.iter().map(|s| s.1).collect();
                    let (text, c) = neuron_module(
                        &module,
                        &node.name,
                        nr,
                        xb,
                        Some(folded::FoldInputs {
                            g,
                            syns: &syn_ids,
                            layouts: &layouts,
                            reuse,
                            event,
                        }),
                    )
                    .map_err(err)?;
                    layer_cycles.push((node.name.clone(), arch[id.index()], c));
                    cycles += c;
                    files.push((format!("{module}.v"), text));
                    let done = namer.fresh(&format!("{s}_done"));
                    let xs: Vec<String> = sources
                        .iter()
                        .enumerate()
                        .map(|(k, (bus, _))| format!(".x{k}({bus})"))
                        .collect();
                    let hw = namer.fresh(&format!("{s}_hw"));
                    lines.push(format!(
                        "// Neuron layer {} ({}), folded",
                        header_src(id),
                        node.op.keyword()
                    ));
                    lines.push(format!("wire [{w}-1:0] {s} {public};"));
                    lines.push(format!("wire {done};"));
                    lines.push(format!("wire [{w}-1:0] {hw};"));
                    lines.push(format!(
                        "{module} {inst} (.clk(clk), .rst(rst), .start({start}), .clear(clear), {}, .y({s}), .y_hw({hw}), .done({done}));",
                        xs.join(", ")
                    ));
                    if let Some(fd) = folded::layout_of(g, &syn_ids) {
                        hw_bus[id.index()] = Some((hw, fd));
                    }
                    start = done;
                } else {
                    let x_sig = if node.inputs.len() == 1 {
                        port_sig(&node.inputs[0], &sig)
                    } else {
                        // Several inputs are summed elementwise at a width that cannot overflow.
                        let sum = namer.fresh(&format!("{s}_in"));
                        let k = namer.fresh(&format!("k_{s}"));
                        let gname = namer.fresh(&format!("g_sum_{s}"));
                        lines.push(format!("wire [{}-1:0] {sum};", n * xb as usize));
                        let terms: Vec<String> = node
                            .inputs
                            .iter()
                            .map(|p| {
                                let b = g.node(p.node).ty.elem_bits().unwrap_or(1);
                                let ps = port_sig(p, &sig);
                                format!(
                                    "{{{{{}{{{ps}[k*{b} + {}]}}}}, {ps}[k*{b} +: {b}]}}",
                                    xb - b,
                                    b - 1
                                )
                            })
                            .collect();
                        lines.push(format!("genvar {k};"));
                        lines.push(format!(
                            "generate for ({k} = 0; {k} < {n}; {k} = {k} + 1) begin : {gname}"
                        ));
                        let body = terms.join(" + ").replace("k*", &format!("{k}*"));
                        lines.push(format!("    assign {sum}[{k}*{xb} +: {xb}] = {body};"));
                        lines.push("end endgenerate".into());
                        sum
                    };
                    let module = namer.fresh(&format!("{top}_{s}_neuron"));
                    let inst = namer.fresh(&format!("u_{s}"));
                    files.push((
                        format!("{module}.v"),
                        neuron_module(&module, &node.name, nr, xb, None)
                            .map_err(err)?
                            .0,
                    ));
                    lines.push(format!(
                        "// Neuron layer {} ({})",
                        header_src(id),
                        node.op.keyword()
                    ));
                    if folded {
                        // A stage of the folded schedule: it starts a cycle after the previous
                        // layer's `done` (when that layer's outputs have settled), updates its
                        // state in one cycle (or clears it with the others), and holds its
                        // output in a register for the layers after it.
                        let go = namer.fresh(&format!("{s}_go"));
                        let now = namer.fresh(&format!("{s}_now"));
                        let done = namer.fresh(&format!("{s}_done"));
                        lines.push(format!(
                            "// Neuron layer {} ({}), parallel stage of the schedule",
                            header_src(id),
                            node.op.keyword()
                        ));
                        // Pipelined weight blocks: their inputs hold still for the whole step,
                        // so the update waits out the deepest block's latency.
                        let wait = node
                            .inputs
                            .iter()
                            .map(|p| block_latency[p.node.index()])
                            .max()
                            .unwrap_or(0);
                        let begin = if wait > 0 {
                            let sh = namer.fresh(&format!("{s}_wait"));
                            lines.push(format!(
                                "// The weight blocks' pipeline: {wait} cycles from inputs to sums."
                            ));
                            lines.push(format!("reg [{wait}-1:0] {sh};"));
                            lines.push(if wait == 1 {
                                format!("always @(posedge clk) {sh} <= ~rst & {start};")
                            } else {
                                format!(
                                    "always @(posedge clk) {sh} <= rst ? {wait}'d0 : {{{sh}[{}:0], {start}}};",
                                    wait - 2
                                )
                            });
                            format!("{sh}[{}]", wait - 1)
                        } else {
                            start.clone()
                        };
                        lines.push(format!("reg {go}, {done};"));
                        lines.push(format!(
                            "always @(posedge clk) begin {go} <= ~rst & {begin}; {done} <= ~rst & {go}; end"
                        ));
                        lines.push(format!("wire [{w}-1:0] {now};"));
                        lines.push(format!(
                            "{module} {inst} (.clk(clk), .rst(rst), .step({go} | clear), .clear(clear), .x({x_sig}), .y({now}));"
                        ));
                        lines.push(format!("reg [{w}-1:0] {s} {public};"));
                        lines.push(format!(
                            "always @(posedge clk) if (rst) {s} <= {w}'d0; else if ({go}) {s} <= {now};"
                        ));
                        start = done;
                        cycles += 2 + wait as u64;
                        layer_cycles.push((node.name.clone(), arch[id.index()], 2 + wait as u64));
                    } else {
                        lines.push(format!("wire [{w}-1:0] {s} {public};"));
                        lines.push(format!(
                            "{module} {inst} (.clk(clk), .rst(rst), .step(step), .clear(clear), .x({x_sig}), .y({s}));"
                        ));
                        layer_cycles.push((node.name.clone(), LayerArch::Parallel, 1));
                    }
                }
            }
            Op::IntDelay { steps } => {
                let module = namer.fresh(&format!("{top}_{s}_delay"));
                let inst = namer.fresh(&format!("u_{s}"));
                let ew = node.ty.elem_bits().unwrap_or(1);
                let elems = steps
                    .iter()
                    .enumerate()
                    .map(|(j, &d)| DelayElem {
                        j,
                        d,
                        shift: if d <= 1 {
                            format!("x[{j}*W +: W]")
                        } else {
                            format!("{{line_{j}[({}-1)*W-1:0], x[{j}*W +: W]}}", d)
                        },
                    })
                    .collect();
                let text = render(&DelayV {
                    header: format!(
                        "Delay {}: {} elements of {ew} bits, up to {} steps",
                        header_src(id),
                        steps.len(),
                        steps.iter().max().copied().unwrap_or(0)
                    ),
                    module: module.clone(),
                    bits: w,
                    w: ew,
                    elems,
                    delayed: steps.iter().any(|&d| d > 0),
                });
                files.push((format!("{module}.v"), text));
                let x = port_sig(&node.inputs[0], &sig);
                lines.push(format!("// Delay {}", header_src(id)));
                lines.push(format!("wire [{w}-1:0] {s} {public};"));
                lines.push(format!(
                    "{module} {inst} (.clk(clk), .rst(rst), {}, .x({x}), .y({s}));",
                    // Folded: as a timestep starts, the line takes the previous step's input (or
                    // clears on a sample's first step), like the registers of recurrent reads.
                    if folded {
                        ".step(accept), .clear(first)"
                    } else {
                        ".step(step), .clear(clear)"
                    }
                ));
            }
            Op::MultiThreshold(mt) => {
                let variant = match arch[id.index()] {
                    LayerArch::Unit(v) => v,
                    _ => ramp::Variant::Parallel,
                };
                let (units, unit_of) = threshold_units(g, id, mt, variant).map_err(err)?;
                let src = port_sig(&node.inputs[0], &sig);
                let ib = g.node(node.inputs[0].node).ty.elem_bits().unwrap_or(1);
                let ob = node.ty.elem_bits().unwrap_or(1);
                let n = node.ty.len();
                let per = n / mt.thresholds.dims2().0.max(1);
                let go = namer.fresh(&format!("{s}_go"));
                let done = namer.fresh(&format!("{s}_done"));
                let dones = namer.fresh(&format!("{s}_units_done"));
                let unused = namer.fresh(&format!("unused_{s}_done"));
                lines.push(format!(
                    "// Multi-threshold activation {}: {n} elements, {} thresholds per channel, \
                     one ramp-family unit ({}) per element; a stage of the schedule",
                    header_src(id),
                    mt.thresholds.dims2().1,
                    variant.name()
                ));
                lines.push(format!("reg {go}, {done};"));
                lines.push(format!("always @(posedge clk) {go} <= ~rst & {start};"));
                lines.push(format!("wire [{w}-1:0] {s} {public};"));
                lines.push(format!("wire [{n}-1:0] {dones};"));
                // One module per distinct threshold row; rows with no threshold in the input's
                // range are constants.
                let impls: Vec<Result<String, i64>> = units
                    .iter()
                    .map(|u| match u {
                        ThresholdUnit::Constant(v) => Err(*v),
                        ThresholdUnit::Unit(unit) => {
                            let m = namer.fresh(&format!("{top}_{s}_unit"));
                            files.push((format!("{m}.v"), unit.verilog.replace(&unit.module, &m)));
                            Ok(m)
                        }
                    })
                    .collect();
                for e in 0..n {
                    match &impls[unit_of[e / per.max(1)]] {
                        Err(v) => {
                            lines.push(format!(
                                "assign {s}[{}+:{ob}] = {ob}'d{v};",
                                e * ob as usize
                            ));
                            lines.push(format!("assign {dones}[{e}] = 1'b1;"));
                        }
                        Ok(m) => {
                            let inst = namer.fresh(&format!("u_{s}_{e}"));
                            lines.push(format!(
                                "{m} {inst} (.clk(clk), .rst(rst), .start({go}), .x({src}[{}+:{ib}]), .done({dones}[{e}]), .y({s}[{}+:{ob}]));",
                                e * ib as usize,
                                e * ob as usize
                            ));
                        }
                    }
                }
                lines.push(format!("wire {unused} = &{dones};"));
                // Every unit is done within the slowest one's bound: the stage waits that out.
                let most = unit_stage_cycles(&units) - 2;
                if most == 0 {
                    lines.push(format!("always @(posedge clk) {done} <= ~rst & {go};"));
                } else {
                    let cnt = namer.fresh(&format!("{s}_wait"));
                    let cb = 64 - most.leading_zeros();
                    lines.push(format!("reg [{cb}-1:0] {cnt};"));
                    lines.push(format!(
                        "always @(posedge clk) if (rst) {cnt} <= {cb}'d0; else if ({go}) {cnt} <= {cb}'d{most}; else if ({cnt} != {cb}'d0) {cnt} <= {cnt} - {cb}'d1;"
                    ));
                    lines.push(format!(
                        "always @(posedge clk) {done} <= ~rst & ({cnt} == {cb}'d1);"
                    ));
                }
                start = done;
                cycles += unit_stage_cycles(&units);
                layer_cycles.push((
                    node.name.clone(),
                    LayerArch::Unit(variant),
                    unit_stage_cycles(&units),
                ));
            }
            Op::Tensor(t) if t.sequential() => {
                let module = namer.fresh(&format!("{top}_{s}_{}", t.keyword()));
                let inst = namer.fresh(&format!("u_{s}"));
                let ins: Vec<&Type> = node.inputs.iter().map(|p| &g.node(p.node).ty).collect();
                let rows = match (t, arch[id.index()]) {
                    (TensorOp::IntMatmul { tb, .. }, LayerArch::Parallel) => {
                        match tensor_seq::hardwired_operand(g, id).map(|b| &g.node(b).op) {
                            Some(Op::Tensor(TensorOp::Const { data, .. })) => Some((*tb, data)),
                            _ => {
                                return Err(err(
                                    "only a product by a constant matrix (no batch axes) can \
                                     be parallel (hardwired rows)"
                                        .into(),
                                ))
                            }
                        }
                    }
                    _ => None,
                };
                let (f, latency) = match rows {
                    Some((tb, data)) => tensor_seq::rows_files(
                        &module,
                        &header_src(id),
                        (ins[0], ins[1]),
                        data,
                        tb,
                        &node.ty,
                    ),
                    None => {
                        let io = tensor_seq::Io {
                            streamed: wiring.operand[id.index()]
                                .iter()
                                .map(Option::is_some)
                                .collect(),
                            read_ports: wiring.ports[id.index()].len(),
                        };
                        tensor_seq::files(&module, &header_src(id), t, &ins, &node.ty, &io)
                            .map_err(err)?
                    }
                };
                files.extend(f);
                let go = namer.fresh(&format!("{s}_go"));
                let done = namer.fresh(&format!("{s}_done"));
                let streamed = &wiring.operand[id.index()];
                let mut ports: Vec<String> = node
                    .inputs
                    .iter()
                    .zip(if ins.len() == 2 {
                        ["a", "b"]
                    } else {
                        ["x", "x"]
                    })
                    .enumerate()
                    .map(|(k, (p, port))| match streamed.get(k).cloned().flatten() {
                        Some((a, d)) => format!(".{port}_addr({a}), .{port}_data({d})"),
                        None => format!(".{port}({})", port_sig(p, &sig)),
                    })
                    .collect();
                let memory = kinds[id.index()] == stream::Kind::Memory;
                if memory {
                    ports.extend(
                        wiring.ports[id.index()]
                            .iter()
                            .enumerate()
                            .map(|(p, (a, d))| format!(".r{p}_addr({a}), .r{p}_data({d})")),
                    );
                } else {
                    ports.push(format!(".y({s})"));
                }
                lines.extend(wiring.reads[id.index()].iter().cloned());
                lines.push(format!(
                    "// {} {}: a multi-cycle unit, a stage of the schedule ({latency} cycles)",
                    t.keyword(),
                    header_src(id)
                ));
                lines.push(format!("reg {go};"));
                lines.push(format!("wire {done};"));
                lines.push(format!("always @(posedge clk) {go} <= ~rst & {start};"));
                if !memory {
                    lines.push(format!("wire [{w}-1:0] {s} {public};"));
                }
                lines.push(format!(
                    "{module} {inst} (.clk(clk), .rst(rst), .start({go}), {}, .done({done}));",
                    ports.join(", ")
                ));
                start = done;
                cycles += latency + 1;
                layer_cycles.push((
                    node.name.clone(),
                    if rows.is_some() {
                        LayerArch::Parallel
                    } else {
                        LayerArch::Serial
                    },
                    latency + 1,
                ));
            }
            Op::Tensor(TensorOp::Const { data, .. }) => {
                lines.push(format!("// Constant {}", header_src(id)));
                lines.push(format!("wire [{w}-1:0] {s} {public};"));
                lines.push(format!(
                    "assign {s} = {};",
                    pack_hex(data, node.ty.elem_bits().unwrap_or(1))
                ));
            }
            Op::Tensor(t) if kinds[id.index()] == stream::Kind::Virtual => {
                lines.push(format!(
                    "// {} {}: computed per element where units read it",
                    t.keyword(),
                    header_src(id)
                ));
            }
            Op::Tensor(t) => {
                let module = namer.fresh(&format!("{top}_{s}_{}", t.keyword()));
                let inst = namer.fresh(&format!("u_{s}"));
                let ins: Vec<&Type> = node.inputs.iter().map(|p| &g.node(p.node).ty).collect();
                let sum = namer.fresh(&format!("{module}_sum"));
                files.extend(
                    tensor::files(&module, &sum, &header_src(id), t, &ins, &node.ty)
                        .map_err(err)?,
                );
                let ports: Vec<String> = node
                    .inputs
                    .iter()
                    .enumerate()
                    .map(|(k, p)| {
                        let port = match (node.inputs.len(), t) {
                            (1, _) => "x".to_string(),
                            (2, op) if !matches!(op, TensorOp::Add) => ["a", "b"][k].to_string(),
                            _ => format!("x{k}"),
                        };
                        format!(".{port}({})", port_sig(p, &sig))
                    })
                    .collect();
                lines.push(format!("// {} {}", t.keyword(), header_src(id)));
                lines.push(format!("wire [{w}-1:0] {s} {public};"));
                lines.push(format!("{module} {inst} ({}, .y({s}));", ports.join(", ")));
            }
            other => {
                return Err(err(format!(
                    "{} is not an integer operator",
                    other.keyword()
                )))
            }
        }
        if delayed_regs.contains(&id) {
            let p = &prev_sig[id.index()];
            lines.push(format!(
                "// Previous step of {}, for recurrent reads",
                header_src(id)
            ));
            lines.push(format!("reg [{w}-1:0] {p};"));
            lines.push(if folded {
                // Captured as a timestep starts, before any layer updates.
                format!("always @(posedge clk) if (rst) {p} <= {w}'d0; else if (accept) {p} <= first ? {w}'d0 : {s};")
            } else {
                format!("always @(posedge clk) if (rst) {p} <= {w}'d0; else if (step) {p} <= clear ? {w}'d0 : {s};")
            });
        }
        let weight_only = matches!(node.op, Op::Dense(_) | Op::IntConv(_)) && absorbed[id.index()];
        let hidden =
            matches!(node.op, Op::Input) || weight_only || kinds[id.index()] != stream::Kind::Bus;
        if !hidden {
            traces.push(TraceSignal {
                node: id,
                signal: s.clone(),
                elems: node.ty.len(),
                elem_bits: node.ty.elem_bits().unwrap_or(1),
                signed: matches!(node.ty.elem, Elem::Fix { .. }),
            });
        }
    }
    for (bus, _) in hw_bus.iter().flatten() {
        if !hw_read.contains(bus) {
            // Named by the namer like every other identifier, so it cannot collide.
            let unused = namer.fresh(&format!("unused_{bus}"));
            lines.push(format!("wire {unused} = &{{1'b0, {bus}}};"));
        }
    }
    let outs = g.outputs();
    let out_bits: usize = outs.iter().map(|&o| bits_of(o)).sum();
    let mut out_doc = Vec::new();
    let mut off = 0;
    for &o in &outs {
        let b = bits_of(o);
        out_doc.push(format!(
            "{} {} at [{}:{}]",
            comment_text(&g.node(o).name),
            g.node(o).ty,
            off + b - 1,
            off
        ));
        off += b;
    }
    let out_expr = if outs.len() == 1 {
        sig[outs[0].index()].clone()
    } else {
        let parts: Vec<String> = outs.iter().rev().map(|o| sig[o.index()].clone()).collect();
        format!("{{{}}}", parts.join(", "))
    };
    let topv = TopV {
        header: format!("Spikeforge top level for graph {}", comment_text(&g.name)),
        module: top.clone(),
        in_bits: in_offset.max(1),
        out_bits,
        in_doc: in_doc.join(", "),
        out_doc: out_doc.join(", "),
        lines,
        out_expr,
        folded,
        fin: start,
        cycles,
    };
    if in_offset == 0 {
        return Err(BackendError {
            node: g.name.clone(),
            message: "graph has no inputs".into(),
        });
    }
    // The fixed-width stream control, from rust_hdl (see `control`).
    files.extend(match folded {
        true => control::emit(control::StepSequencer::default(), &format!("{top}_seq")),
        false => control::emit(control::SkidControl::default(), &format!("{top}_skid")),
    });
    files.push((format!("{top}.v"), render(&topv)));
    Ok(Design {
        top,
        files,
        in_bits: in_offset,
        out_bits,
        folded,
        cycles_per_step: cycles,
        traces,
        blocks,
        layers: layer_cycles,
        data_dependent,
    })
}

fn render<T: Template>(t: &T) -> String {
    // Templates have no fallible filters; a failure here is a template bug.
    let mut s = t
        .render()
        .unwrap_or_else(|e| format!("// template error: {e}"));
    s.push('\n');
    s
}

/// A scale vector for a comment: one value, or its range.
fn scale_text(s: &[f64]) -> String {
    let (lo, hi) = s
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    if lo == hi {
        format!("{lo}")
    } else {
        format!("{lo} to {hi}")
    }
}

/// A weight layer's nonzero weights as sparse rows of (input, weight), and its biases.
pub fn weight_rows(op: &Op) -> (Vec<Vec<(usize, i64)>>, Vec<i64>) {
    match op {
        Op::Dense(d) => {
            let (rows, cols) = d.weight.dims2();
            let r = (0..rows)
                .map(|r| {
                    (0..cols)
                        .map(|c| (c, d.weight.at(r, c)))
                        .filter(|e| e.1 != 0)
                        .collect()
                })
                .collect();
            (r, d.bias.clone())
        }
        Op::IntConv(ic) => {
            let c = &ic.conv;
            let [co, ho, wo] = c.out_shape().unwrap_or([0; 3]);
            let mut r = vec![Vec::new(); co * ho * wo];
            c.for_each_tap(|row, i, k| {
                if c.weight.data[k] != 0 {
                    r[row].push((i, c.weight.data[k]));
                }
            });
            let bias = (0..co * ho * wo).map(|j| c.bias[j / (ho * wo)]).collect();
            (r, bias)
        }
        _ => (Vec::new(), Vec::new()),
    }
}

/// Sparse weight `rows` ([`weight_rows`]) as a row-major matrix of `cols` columns.
pub fn weight_matrix(rows: &[Vec<(usize, i64)>], cols: usize) -> Vec<i64> {
    let mut w = vec![0i64; rows.len() * cols];
    for (r, row) in rows.iter().enumerate() {
        for &(c, v) in row {
            w[r * cols + c] = v;
        }
    }
    w
}

/// The adder graph the optimiser builds for weight layer `syn` of `g` (spike inputs).
pub fn syn_adder_graph(g: &Graph, syn: NodeId) -> Option<crate::opt::adder::AdderGraph> {
    let node = g.node(syn);
    let source = &g.node(node.inputs.first()?.node).ty;
    let cols = source.len();
    let (rows, _) = weight_rows(&node.op);
    let w = weight_matrix(&rows, cols);
    (!rows.is_empty() && cols > 0).then(|| cmvm::solve(&w, rows.len(), &input_bus(source).0).0)
}

/// Cycles of a `parallel:levels` stage for neuron layer `id`: the deepest weight block's
/// latency plus the update and hand-over.
pub fn pipelined_stage_cycles(g: &Graph, id: NodeId, levels: u32) -> u64 {
    let wait = g
        .node(id)
        .inputs
        .iter()
        .filter(|p| matches!(g.node(p.node).op, Op::Dense(_) | Op::IntConv(_)))
        .filter_map(|p| syn_adder_graph(g, p.node))
        .map(|a| hardwired::latency(&a, Some(levels)))
        .max()
        .unwrap_or(0);
    2 + wait as u64
}

/// A ramp-family unit of a multi-threshold activation, for one distinct threshold row.
pub enum ThresholdUnit {
    /// Every input gives this count (no threshold inside the input range).
    Constant(i64),
    Unit(ramp::RampUnit),
}

/// Cycles of a multi-threshold stage: the slowest unit's bound, plus start and hand-over.
pub fn unit_stage_cycles(units: &[ThresholdUnit]) -> u64 {
    let most = units
        .iter()
        .map(|u| match u {
            ThresholdUnit::Unit(u) => u.max_cycles,
            ThresholdUnit::Constant(_) => 0,
        })
        .max()
        .unwrap_or(0);
    most + 2
}

/// The units of multi-threshold node `id` as `variant`: one per distinct threshold row, and per
/// channel the index of its unit.
pub fn threshold_units(
    g: &Graph,
    id: NodeId,
    mt: &crate::ir::MultiThreshold,
    variant: ramp::Variant,
) -> Result<(Vec<ThresholdUnit>, Vec<usize>), String> {
    use crate::quant::table::{Fixed, Table};
    let node = g.node(id);
    let in_ty = &g.node(node.inputs[0].node).ty;
    let input = Fixed {
        bits: in_ty.elem_bits().unwrap_or(1),
        frac: 0,
        signed: in_ty.elem != Elem::Spike,
    };
    let output = Fixed {
        bits: node.ty.elem_bits().unwrap_or(1),
        frac: 0,
        signed: true,
    };
    let (channels, k) = mt.thresholds.dims2();
    let mut rows: Vec<&[i64]> = Vec::new();
    let mut units = Vec::new();
    let mut unit_of = Vec::with_capacity(channels);
    for c in 0..channels {
        let row = &mt.thresholds.data[c * k..(c + 1) * k];
        if let Some(u) = rows.iter().position(|&r| r == row) {
            unit_of.push(u);
            continue;
        }
        let t = Table::staircase(row, input, output);
        units.push(if t.thresholds.is_empty() {
            ThresholdUnit::Constant(t.base)
        } else {
            ThresholdUnit::Unit(
                ramp::unit(&t, variant, "sf_unit").map_err(|e| format!("channel {c}: {e}"))?,
            )
        });
        unit_of.push(rows.len());
        rows.push(row);
    }
    Ok((units, unit_of))
}

/// How a weight layer reads its source of type `source`: one range per input and the bus
/// layout (spikes, or signed integers of the type's width).
pub fn input_bus(source: &Type) -> (Vec<Interval>, InputBus) {
    let (lo, hi) = source.elem_range().unwrap_or((0, 1));
    let bus = match source.elem {
        Elem::Fix { width, .. } => InputBus::Signed { bits: width },
        _ => InputBus::Spikes,
    };
    (
        vec![Interval::new(lo as i128, hi as i128); source.len()],
        bus,
    )
}

fn dense_module(
    module: &str,
    name: &str,
    op: &Op,
    source: &Type,
    ab: u32,
    pipeline: Option<u32>,
) -> (String, BlockStats) {
    let cols = source.len();
    let (rows, bias) = weight_rows(op);
    let nz: usize = rows.iter().map(Vec::len).sum();
    let w = weight_matrix(&rows, cols);
    let (ranges, bus) = input_bus(source);
    let (g, st) = cmvm::solve(&w, rows.len(), &ranges);
    let sizes = format!(
        "{cols} {} inputs -> {} outputs, {nz} nonzero weights",
        match bus {
            InputBus::Spikes => "spike".to_string(),
            InputBus::Signed { bits } => format!("{bits}-bit integer"),
        },
        rows.len()
    );
    let header = match op {
        Op::IntConv(ic) => format!(
            "Convolution {} unrolled: {sizes}, kernel {:?}, stride {:?}, padding {:?}, scale {}",
            comment_text(name),
            ic.conv.weight.shape,
            ic.conv.stride,
            ic.conv.padding,
            scale_text(&ic.scale)
        ),
        Op::Dense(d) => format!(
            "Dense layer {}: {sizes}, scale {}",
            comment_text(name),
            scale_text(&d.scale)
        ),
        _ => sizes,
    };
    hardwired::module(module, &header, &g, st, &bias, bus, ab, pipeline)
}

/// The Verilog of a neuron layer: parallel (one register per neuron), or folded over the
/// weight layers `fold` (graph, weight nodes) feeding it.
fn neuron_module(
    module: &str,
    name: &str,
    nr: &IntNeuron,
    xb: u32,
    fold: Option<folded::FoldInputs>,
) -> Result<(String, u64), String> {
    let n = nr.len();
    let f = nr.frac_bits;
    let state = nr.mem_bits.max(if nr.kind.has_synapse() {
        nr.syn_bits
    } else {
        0
    });
    let mut params = Vec::new();
    let fold = match fold {
        Some(fi) => Some(folded::plan(&fi, xb, state, &mut params)?),
        None => None,
    };
    let xb_eff = fold.as_ref().map_or(xb, |fd| fd.ab);
    // Sum width: v - lost keeps v's sign and magnitude bound, so adding the input and the
    // constants needs at most two more bits, and `pre - threshold` one more.
    let consts = nr
        .threshold
        .iter()
        .chain(&nr.v_reset)
        .chain(&nr.bias)
        .fold(Interval::point(0), |a, &v| {
            a.hull(Interval::point(v as i128))
        });
    let wb = [state, xb_eff, signed_width(consts.lo, consts.hi)]
        .into_iter()
        .max()
        .unwrap_or(2)
        + 3;
    // Product width of the leak: state times a constant up to 2^F.
    let pw = (state + f + 2).max(wb + 1);
    // A parallel layer reads a parameter per neuron (`j`); a folded one per channel, each lane
    // through a case table on its block group.
    let per = fold.as_ref().map_or(1, |fd| fd.positions);
    let is_folded = fold.is_some();
    let mut tables = Vec::new();
    let mut access = |name: &str, width: &str| -> String {
        if is_folded {
            let t = folded::LaneTable::new(name, width);
            let w = t.wire.clone();
            tables.push(t);
            w
        } else {
            format!("$signed({name}[j*{width} +: {width}])")
        }
    };
    let vector = |v: &[i64], what: &str| -> Result<Vec<i64>, String> {
        folded::per_channel(v, per).ok_or_else(|| {
            format!("{what} differs between positions of one channel; a folded layer needs one value per channel")
        })
    };
    let read = |pname: &'static str,
                v: &[i64],
                doc: &'static str,
                params: &mut Vec<Param>,
                access: &mut dyn FnMut(&str, &str) -> String|
     -> Result<String, String> {
        let v = vector(v, pname)?;
        if is_folded && v.iter().all(|&x| x == v[0]) {
            return Ok(signed_lit(v[0], wb));
        }
        params.push(Param::packed(pname, &v, wb, doc));
        Ok(access(pname, "WB"))
    };
    let bias_e = read(
        "BIAS",
        &nr.bias,
        "added every step (v_leak term)",
        &mut params,
        &mut access,
    )?;
    let (mut th_e, mut vr_e) = (String::new(), String::new());
    if nr.kind.spikes() {
        th_e = read(
            "THRESHOLD",
            &nr.threshold,
            "spike threshold",
            &mut params,
            &mut access,
        )?;
        if !nr.reset.subtracts() {
            vr_e = read(
                "V_RESET",
                &nr.v_reset,
                "membrane after a spike",
                &mut params,
                &mut access,
            )?;
        }
    }
    let (mem_lost, mem_decay_doc) = decay_expr(
        "v_p",
        &vector(&nr.mem_decay, "mem_decay")?,
        "MEM_DECAY",
        "membrane leak, dt/tau_mem * 2^F",
        pw,
        &mut access,
        &mut params,
    );
    let (syn_lost, syn_decay_doc) = if nr.kind.has_synapse() {
        decay_expr(
            "s_p",
            &vector(&nr.syn_decay, "syn_decay")?,
            "SYN_DECAY",
            "synaptic leak, dt/tau_syn * 2^F",
            pw,
            &mut access,
            &mut params,
        )
    } else {
        (String::new(), String::new())
    };
    let fold = fold.map(|mut fd| {
        fd.tables.extend(tables);
        fd
    });
    let uses_f = mem_lost.contains('F') || syn_lost.contains('F');
    let (vmin, vmax) = crate::ir::signed_range(nr.mem_bits);
    let (smin, smax) = crate::ir::signed_range(nr.syn_bits);
    let cycles = fold.as_ref().map_or(1, |fd| fd.cycles);
    let text = render(&NeuronV {
        header: format!(
            "Neuron layer {} ({}): {n} neurons, membrane {} bits{}, reset {}, spike when v {} threshold",
            comment_text(name),
            nr.kind.keyword(),
            nr.mem_bits,
            if nr.saturate { " saturating" } else { "" },
            match nr.reset {
                Reset::Zero => "to v_reset",
                Reset::Subtract => "by subtraction",
                Reset::ZeroNext => "to v_reset in the next step",
                Reset::SubtractNext => "by subtraction in the next step",
            },
            match nr.compare { Compare::Gt => ">", Compare::Ge => ">=" },
        ),
        module: module.to_string(),
        n,
        xb,
        x_bits: n * xb as usize,
        y_bits: n * if nr.kind.spikes() { 1 } else { nr.mem_bits as usize },
        vb: nr.mem_bits,
        sb: nr.syn_bits,
        wb,
        f,
        uses_f,
        cuba: nr.kind.has_synapse(),
        spikes: nr.kind.spikes(),
        saturate: nr.saturate,
        reset_zero: !nr.reset.subtracts(),
        reset_next: nr.reset.delayed(),
        cmp: match nr.compare { Compare::Gt => ">", Compare::Ge => ">=" },
        params,
        pw,
        mem_lost,
        mem_decay_doc,
        syn_lost,
        syn_decay_doc,
        vmax: signed_lit(vmax, wb),
        vmin: signed_lit(vmin, wb),
        smax: signed_lit(smax, wb),
        smin: signed_lit(smin, wb),
        bias_e,
        th_e,
        vr_e,
        fold,
    });
    Ok((text, cycles))
}

/// What a state `s` loses per step, `floor(s * d / 2^F)`, as Verilog over a `pw`-bit operand,
/// and a comment line. A layer-wide constant is a shift (d = 2^k) or CSD shift-adds; per-neuron
/// constants use a multiply. Empty when nothing decays.
fn decay_expr(
    s: &str,
    decay: &[i64],
    name: &'static str,
    doc: &'static str,
    pw: u32,
    access: &mut dyn FnMut(&str, &str) -> String,
    params: &mut Vec<Param>,
) -> (String, String) {
    let first = decay.first().copied().unwrap_or(0);
    if decay.iter().any(|&d| d != first) {
        params.push(Param::packed(name, decay, pw, doc));
        let e = format!("({s} * {}) >>> F", access(name, "PW"));
        return (e, format!("{doc}: per-neuron constant multiply"));
    }
    if first == 0 {
        return (String::new(), format!("{doc} = 0: no leak"));
    }
    let digits = cmvm::csd(first as i128);
    if let [(false, k)] = digits.as_slice() {
        return (
            format!("{s} >>> (F - {k})"),
            format!("{doc} = {first}: a shift"),
        );
    }
    // The optimal shift-add graph (exhaustive below 2^16 up to four adders), else the
    // e-graph's form (factorisations share inner products), else CSD digits.
    if let Some(plan) = crate::opt::mcm::scm(first) {
        if plan.len() < digits.len() - 1 {
            return (
                format!("{} >>> F", crate::opt::mcm::verilog(first, &plan, s)),
                format!(
                    "{doc} = {first}: {} shift-adds (optimal; CSD needs {})",
                    plan.len(),
                    digits.len() - 1
                ),
            );
        }
    }
    let (e, adders) = crate::opt::egraph::constant_multiply(first);
    if (adders as usize) < digits.len() - 1 {
        return (
            format!("{} >>> F", crate::opt::egraph::verilog(&e, s)),
            format!(
                "{doc} = {first}: {adders} shift-adds (e-graph; CSD needs {})",
                digits.len() - 1
            ),
        );
    }
    let terms: Vec<String> = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &(neg, k))| {
            let t = if k == 0 {
                s.to_string()
            } else {
                format!("({s} <<< {k})")
            };
            match (i, neg) {
                (0, false) => t,
                (0, true) => format!("-{t}"),
                (_, false) => format!(" + {t}"),
                (_, true) => format!(" - {t}"),
            }
        })
        .collect();
    (
        format!("({}) >>> F", terms.concat()),
        format!("{doc} = {first}: shift-adds (CSD)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_hex_places_element_zero_lowest() {
        assert_eq!(pack_hex(&[1, -1], 4), "8'hf1");
        assert_eq!(pack_hex(&[-2, 3, 0], 3), "9'h01e");
    }
}
