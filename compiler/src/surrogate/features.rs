//! What a design is made of, counted from the IR and the backend's own records (never from
//! synthesis): the terms the surrogate weighs. Each term counts one kind of hardware the
//! templates build (adder bits of hardwired blocks, neuron state bits updated in parallel,
//! folded lanes, bus taps, memories, units, registers), so one coefficient per term carries
//! across model families; that is what lets a held-out family be predicted at all.

use super::census;
use crate::backend::{folded, names, ramp, stream, LayerArch};
use crate::flow::Compiled;
use crate::ir::{Op, TensorOp};

/// The names of the terms, in vector order.
pub const TERMS: [&str; 43] = [
    "one",
    "io_bits",
    "skid_bits",
    "latched_in_bits",
    "folded_out_bits",
    "folded_design",
    "adder_bits",
    "parallel_state_bits",
    "parallel_neurons",
    "decay_multiplies",
    "folded_decay_multiplies",
    "folded_layers",
    "folded_lane_bits",
    "folded_taps",
    "rom_logic_bits",
    "memory_bits",
    "event_taps",
    "unit_compare_bits",
    "thermometer_bits",
    "tensor_bits",
    "delay_bits",
    "register_bits",
    "serial_units",
    "serial_multiplier_bits",
    "serial_read_bits",
    "stream_memory_bits",
    // The register and operator census of the emitted Verilog (`census`), in its field order.
    "rtl_ff_bits",
    "rtl_ram_bits",
    "rtl_small_ram_bits",
    "rtl_rom_bits",
    "rtl_add_bits",
    "rtl_cmp_bits",
    "rtl_eq_bits",
    "rtl_mux_bits",
    "rtl_logic_bits",
    "rtl_mul_bits",
    "rtl_const_mul_bits",
    "rtl_mul_tiles",
    "rtl_const_mul_tiles",
    "rtl_block_rams",
    "rtl_block_rams_4k",
    // The leak multipliers in iCE40 SB_MAC16 (16 x 16) tiles.
    "decay_multiplies_16",
    "folded_decay_multiplies_16",
];

/// The DSP model: a DSP block is a multiplier tile, so the leak multipliers count one each per
/// tile of the family's DSP (25 x 18 on Xilinx, 16 x 16 on iCE40), with the coefficient fixed
/// at 1 (exact on 260 of 267 xc7a35t designs, where fitted weights round wrong on a held-out
/// family); the tensor units' multipliers are fitted.
pub fn dsp_exact_terms(family: &str) -> [&'static str; 2] {
    if family == "ice40" {
        ["decay_multiplies_16", "folded_decay_multiplies_16"]
    } else {
        ["decay_multiplies", "folded_decay_multiplies"]
    }
}
pub const DSP_TERMS: [&str; 2] = ["serial_units", "serial_multiplier_bits"];

/// The block RAM model likewise: the RAMs and ROMs the backend marks for block RAM count
/// exactly in the family's blocks (the census's aspect-ratio count matches Yosys on 266 of 267
/// xc7a35t designs). Nothing is fitted on top: a fitted share of unmarked arrays put 43 block
/// RAMs on the transformer encoder, which Yosys builds in LUT RAM.
pub fn bram_exact_term(family: &str) -> &'static str {
    if family == "ice40" {
        "rtl_block_rams_4k"
    } else {
        "rtl_block_rams"
    }
}
pub const BRAM_TERMS: [&str; 0] = [];

/// Terms the LUT model leaves out: a stream memory's bits cost LUTs as registers and
/// multiplexers when shallow and as LUT RAM when deep, which the census's small and large
/// array terms tell apart; one weight for both fitted on the sweep's small attention blocks put
/// the transformer encoder at 8 times Yosys's count.
pub const LUT_EXCLUDED: [&str; 1] = ["stream_memory_bits"];

/// The terms the flip-flop model may use: registers, memories and the stream's bits. Flip-flops
/// are registers that survive synthesis, so logic terms would only fit noise, and a family
/// held out of training then pays for it (xc7a35t, 267 designs: p90 error 21-81% with every
/// term, 11-42% with these).
pub const FF_TERMS: [&str; 8] = [
    "one",
    "io_bits",
    "memory_bits",
    "rom_logic_bits",
    "rtl_ff_bits",
    "rtl_ram_bits",
    "rtl_small_ram_bits",
    "rtl_rom_bits",
];

/// The term vector of a compiled design (same order as [`TERMS`]): the sum of its
/// [`per_layer`] rows.
pub fn terms(c: &Compiled) -> Vec<f64> {
    let mut t = vec![0.0; TERMS.len()];
    for (_, row) in per_layer(c) {
        for (a, b) in t.iter_mut().zip(row) {
            *a += b;
        }
    }
    t
}

/// DSP-sized multipliers (25 x 18 tiles) that per-neuron leaks need: in a folded lane, one
/// multiplier by a value read from a table, as wide as the widest leak; in a parallel layer,
/// one per neuron whose constant is not a power of two (synthesis makes those shifts). A
/// layer-wide leak is shift-adds, so none.
fn leak_multipliers(nr: &crate::ir::IntNeuron, folded: bool, tile: (u64, u64)) -> f64 {
    let bits = |d: i64| 65 - d.unsigned_abs().leading_zeros() as u64;
    let tiles = |a: u64, b: u64| {
        let t = |x: u64, y: u64| x.div_ceil(tile.0).max(1) * y.div_ceil(tile.1).max(1);
        t(a, b).min(t(b, a)) as f64
    };
    let mut n = 0.0;
    let mut leak = |decays: &[i64], width: u32| {
        if decays.iter().all(|&x| x == decays[0]) {
            return;
        }
        if folded {
            let widest = decays.iter().map(|&d| bits(d)).max().unwrap_or(1);
            n += tiles(width as u64, widest);
        } else {
            for &d in decays {
                if d != 0 && !d.unsigned_abs().is_power_of_two() {
                    n += tiles(width as u64, bits(d));
                }
            }
        }
    };
    leak(&nr.mem_decay, nr.mem_bits);
    if nr.kind.has_synapse() {
        leak(&nr.syn_decay, nr.syn_bits);
    }
    n
}

/// The terms split by the layer (IR node) whose hardware they count, in graph order; the top
/// level's own (stream control, I/O registers) under the name `top`. The surrogate is linear
/// in the terms, so a layer's predicted cost is its row times the weights.
pub fn per_layer(c: &Compiled) -> Vec<(String, Vec<f64>)> {
    let g = &c.int;
    let d = &c.design;
    let mut rows: Vec<(String, Vec<f64>)> = vec![("top".into(), vec![0.0; TERMS.len()])];
    let mut add_to = |owner: &str, name: &str, v: f64| {
        let k = TERMS
            .iter()
            .position(|&n| n == name)
            .expect("a term of TERMS");
        let r = match rows.iter().position(|(o, _)| o == owner) {
            Some(r) => r,
            None => {
                rows.push((owner.to_string(), vec![0.0; TERMS.len()]));
                rows.len() - 1
            }
        };
        rows[r].1[k] += v;
    };
    add_to("top", "one", 1.0);
    add_to("top", "io_bits", (d.in_bits + d.out_bits) as f64);
    // The stream's registers: a parallel design's two-entry output skid buffer; a folded
    // design's latched input beat, and its outputs (registered in the last layer, gathered
    // and held in the output register).
    if d.folded {
        add_to("top", "latched_in_bits", d.in_bits as f64);
        add_to("top", "folded_out_bits", d.out_bits as f64);
    } else {
        add_to("top", "skid_bits", 2.0 * d.out_bits as f64);
    }
    add_to("top", "folded_design", d.folded as u8 as f64);
    for (owner, b) in &d.blocks {
        add_to(owner, "adder_bits", b.onebit_adders as f64);
    }
    for (name, arch, _) in &d.layers {
        let Some(id) = g.find(name) else { continue };
        let node = g.node(id);
        match (&node.op, arch) {
            (Op::IntNeuron(nr), LayerArch::Parallel | LayerArch::Pipelined { .. }) => {
                let n = nr.len() as f64;
                let sb = nr.state_bits() as f64;
                add_to(name, "parallel_state_bits", n * sb);
                add_to(name, "parallel_neurons", n);
                add_to(
                    name,
                    "decay_multiplies",
                    leak_multipliers(nr, false, (25, 18)),
                );
                add_to(
                    name,
                    "decay_multiplies_16",
                    leak_multipliers(nr, false, (16, 16)),
                );
                add_to(name, "register_bits", n * sb);
            }
            (Op::IntNeuron(nr), LayerArch::Folded { .. } | LayerArch::Event) => {
                let syns: Vec<_> = node.inputs.iter().map(|p| p.node).collect();
                let reuse = match arch {
                    LayerArch::Folded { reuse } => *reuse,
                    _ => None,
                };
                let Ok(s) = folded::shape(g, &syns, reuse) else {
                    continue;
                };
                let sb = nr.state_bits() as f64;
                add_to(
                    name,
                    "folded_decay_multiplies",
                    s.lanes as f64 * leak_multipliers(nr, true, (25, 18)),
                );
                add_to(
                    name,
                    "folded_decay_multiplies_16",
                    s.lanes as f64 * leak_multipliers(nr, true, (16, 16)),
                );
                add_to(name, "folded_layers", 1.0);
                add_to(name, "folded_lane_bits", s.lanes as f64 * sb);
                let taps: usize = s.syns.iter().map(|&(n, _)| n).sum();
                add_to(name, "folded_taps", taps as f64);
                for &(_, bits) in &s.syns {
                    if bits < folded::BRAM_MIN_BITS {
                        add_to(name, "rom_logic_bits", bits as f64);
                    } else {
                        add_to(name, "memory_bits", bits as f64);
                    }
                }
                add_to(name, "memory_bits", nr.len() as f64 * sb);
                if matches!(arch, LayerArch::Event) {
                    add_to(name, "event_taps", taps as f64);
                }
                // Output spikes are registered.
                add_to(name, "register_bits", nr.len() as f64);
            }
            (Op::MultiThreshold(mt), _) => {
                let v = match arch {
                    LayerArch::Unit(v) => *v,
                    _ => ramp::Variant::Parallel,
                };
                let n = node.ty.len() as f64;
                let ib = g.node(node.inputs[0].node).ty.elem_bits().unwrap_or(1) as f64;
                let k = mt.thresholds.dims2().1 as f64;
                match v {
                    ramp::Variant::Parallel => add_to(name, "thermometer_bits", n * k * ib),
                    ramp::Variant::Rom => add_to(
                        name,
                        "memory_bits",
                        n * (1u64 << ib.min(20.0) as u32) as f64,
                    ),
                    _ => add_to(name, "unit_compare_bits", n * ib),
                }
                add_to(
                    name,
                    "register_bits",
                    n * node.ty.elem_bits().unwrap_or(1) as f64,
                );
            }
            _ => {}
        }
    }
    // Multi-cycle tensor units: a datapath each, its operands read through multiplexers
    // from buses or by address from memories (`backend::stream`).
    let arch: Vec<LayerArch> = g
        .nodes
        .iter()
        .map(|n| {
            d.layers
                .iter()
                .find(|l| l.0 == n.name)
                .map_or(LayerArch::Parallel, |l| l.1)
        })
        .collect();
    let delayed = g
        .ids()
        .flat_map(|r| {
            g.node(r)
                .inputs
                .iter()
                .filter(|p| p.delayed)
                .map(|p| p.node)
        })
        .collect();
    let kinds = stream::kinds(g, &arch, &delayed);
    for id in g.ids() {
        let node = g.node(id);
        let Op::Tensor(t) = &node.op else { continue };
        if !t.sequential() || arch[id.index()] != LayerArch::Serial {
            continue;
        }
        add_to(&node.name, "serial_units", 1.0);
        let width = |p: &crate::ir::Port| g.node(p.node).ty.elem_bits().unwrap_or(1) as f64;
        add_to(
            &node.name,
            "serial_multiplier_bits",
            match t {
                TensorOp::IntMatmul { .. } => node.inputs.iter().map(width).product(),
                // Softmax: a 17 x 33 product and a 33-bit divider; LayerNorm: squares, the
                // bisection's product and the affine's.
                TensorOp::Softmax(_) => 17.0 * 33.0 + 33.0 * 33.0,
                _ => 3.0 * 24.0 * 24.0,
            },
        );
        for p in &node.inputs {
            let src = &g.node(p.node).ty;
            match kinds[p.node.index()] {
                stream::Kind::Bus => add_to(
                    &node.name,
                    "serial_read_bits",
                    src.len() as f64 * src.elem_bits().unwrap_or(1) as f64,
                ),
                _ => add_to(&node.name, "serial_read_bits", width(p)),
            }
        }
    }
    for id in g.ids() {
        if kinds[id.index()] == stream::Kind::Memory {
            let node = g.node(id);
            let ty = &node.ty;
            let readers = g
                .ids()
                .filter(|&r| g.node(r).inputs.iter().any(|p| p.node == id))
                .count();
            add_to(
                &node.name,
                "stream_memory_bits",
                (ty.len() * ty.elem_bits().unwrap_or(1) as usize * readers.max(1)) as f64,
            );
        }
    }
    for id in g.ids() {
        let node = g.node(id);
        let bits = node.ty.len() as f64 * node.ty.elem_bits().unwrap_or(1) as f64;
        match &node.op {
            Op::IntDelay { steps } => {
                let w = node.ty.elem_bits().unwrap_or(1) as f64;
                add_to(
                    &node.name,
                    "delay_bits",
                    steps.iter().map(|&s| s as f64 * w).sum(),
                );
            }
            Op::Tensor(TensorOp::Transpose { .. } | TensorOp::Const { .. }) => {}
            // Combinational tensor operators with a bus of their own.
            Op::Tensor(t) if !t.sequential() && kinds[id.index()] == stream::Kind::Bus => {
                add_to(&node.name, "tensor_bits", bits)
            }
            // A unit's result bus is registers.
            Op::Tensor(_) if kinds[id.index()] == stream::Kind::Bus => {
                add_to(&node.name, "register_bits", bits)
            }
            _ => {}
        }
        // Delayed reads keep the previous step in a register.
        if g.ids()
            .any(|r| g.node(r).inputs.iter().any(|p| p.delayed && p.node == id))
        {
            add_to(&node.name, "register_bits", bits);
        }
    }
    // The census, each top-level instance charged to the IR node its module was named after
    // (`{top}_{node}_{kind}`), the top module's own registers to `top`.
    let first = TERMS
        .iter()
        .position(|&n| n == "rtl_ff_bits")
        .expect("census terms");
    let idents: Vec<(String, &str)> = g
        .nodes
        .iter()
        .map(|n| (names::safe(&n.name), n.name.as_str()))
        .collect();
    for (_, module, c) in census::census(&d.files, &d.top) {
        let rest = module
            .strip_prefix(&d.top)
            .and_then(|r| r.strip_prefix('_'))
            .unwrap_or("");
        let owner = idents
            .iter()
            .filter(|(s, _)| rest.starts_with(s.as_str()) && rest[s.len()..].starts_with('_'))
            .max_by_key(|(s, _)| s.len())
            .map_or("top", |(_, name)| *name);
        for (k, v) in c.fields().into_iter().enumerate() {
            add_to(owner, TERMS[first + k], v);
        }
    }
    rows
}
