//! Hardwired-weight blocks: `y = W x + b` with the weights baked into a shift-add network
//! ([`crate::opt::cmvm`]). Every node is a two's-complement wire of exactly the width its value
//! range needs; operands are sign-extended or wrapped to the node's width explicitly (wrapping is
//! exact because the result fits), so the Verilog is width-clean for `verilator -Wall`.

use super::{render, signed_lit};
use crate::opt::adder::{operands, AdderGraph, Node, Term};
use crate::opt::cmvm;
use crate::opt::heap::{Bit, HeapPlan};
use askama::Template;

#[derive(Template)]
#[template(path = "hardwired.v", escape = "none")]
struct HardwiredV {
    header: String,
    summary: String,
    module: String,
    x_bits: usize,
    y_bits: usize,
    lines: Vec<String>,
    /// Whether the counter functions are needed.
    counters: bool,
}

/// How the block's input bus is packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputBus {
    /// One bit per input, a spike (0 or 1).
    Spikes,
    /// `bits` per input, signed two's complement.
    Signed { bits: u32 },
}

impl InputBus {
    fn bits(self) -> usize {
        match self {
            InputBus::Spikes => 1,
            InputBus::Signed { bits } => bits as usize,
        }
    }
}

/// What one block cost, for reports.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct BlockStats {
    pub adders: usize,
    /// Estimated LUTs: one per adder bit on a carry chain, one per counter output.
    pub onebit_adders: u64,
    pub depth: u32,
    /// How the solver found it.
    pub solver: cmvm::Stats,
}

/// The Verilog module of `g` (with per-output `bias`, outputs `ab` bits each).
pub fn module(
    module: &str,
    header: &str,
    g: &AdderGraph,
    solver: cmvm::Stats,
    bias: &[i64],
    bus: InputBus,
    ab: u32,
) -> (String, BlockStats) {
    let n_in = g.inputs.len();
    let mult = g.multiples();
    let mut used = vec![false; g.nodes.len()];
    // Inputs read straight from `x` by spike multiples.
    let mut x_read = vec![false; n_in];
    for t in g.outputs.iter().flatten() {
        used[t.node as usize] = true;
    }
    for (i, nd) in g.nodes.iter().enumerate().rev() {
        match (used[i], nd, mult[i]) {
            (true, Node::Add(..), Some((src, _))) => x_read[src as usize] = true,
            (true, nd, None) => {
                for t in operands(nd) {
                    used[t.node as usize] = true;
                }
            }
            _ => {}
        }
    }
    let mut lines = Vec::new();
    let mut unused = Vec::new();
    // Bits of each node some operand reads; the rest are listed as unused.
    let mut top_read = vec![0u32; g.nodes.len()];
    let mut body = Vec::new();
    let mut counters = false;
    for (i, nd) in g.nodes.iter().enumerate() {
        if !used[i] {
            if let Node::Input(k) = nd {
                if !x_read[*k] {
                    unused.push(input_slice(*k, bus));
                }
            }
            continue;
        }
        let w = g.width(i as u32);
        match (nd, mult[i]) {
            // A constant times one spike: wires (and constant bits), no adder.
            (Node::Add(..), Some((src, c))) => body.push(format!(
                "wire [{w}-1:0] n{i} = x[{src}] ? {} : {w}'d0;",
                signed_lit(c as i64, w)
            )),
            (&Node::Input(k), _) => body.push(format!(
                "wire [{w}-1:0] n{i} = {};",
                match bus {
                    InputBus::Spikes => format!("{{1'b0, x[{k}]}}"),
                    InputBus::Signed { .. } => input_slice(k, bus),
                }
            )),
            (&Node::Add(a, b), None) => {
                let op = if b.neg { "-" } else { "+" };
                let ea = operand(g, a, w, &mut top_read);
                let eb = operand(g, b, w, &mut top_read);
                body.push(format!("wire [{w}-1:0] n{i} = {ea} {op} {eb};"));
            }
            // An exact right shift: the bits above the known-zero ones.
            (&Node::Shr(n, r), _) => {
                let ws = g.width(n);
                let avail = ws.saturating_sub(r).max(1);
                let src = format!("n{n}");
                let slice = |hi: u32| match hi == r {
                    true => format!("{src}[{r}]"),
                    false => format!("{src}[{hi}:{r}]"),
                };
                let e = if w <= avail {
                    slice(r + w - 1)
                } else {
                    format!(
                        "{{{{{}{{{src}[{}]}}}}, {}}}",
                        w - avail,
                        ws - 1,
                        slice(ws - 1)
                    )
                };
                top_read[n as usize] = top_read[n as usize].max((r + w).min(ws));
                unused.push(match r {
                    1 => format!("{src}[0]"),
                    _ => format!("{src}[{}:0]", r - 1),
                });
                body.push(format!("wire [{w}-1:0] n{i} = {e};"));
            }
            (Node::Sum(ts), _) => {
                counters = true;
                heap_lines(
                    i,
                    &g.heap(i as u32, ts),
                    &mut body,
                    &mut top_read,
                    &mut unused,
                );
            }
        }
    }
    for (j, out) in g.outputs.iter().enumerate() {
        let b = bias.get(j).copied().unwrap_or(0);
        let e = match out {
            None => signed_lit(b, ab),
            Some(t) => {
                let v = operand(g, Term::new(t.node, t.shift, false), ab, &mut top_read);
                match (b, t.neg) {
                    (0, false) => v,
                    (0, true) => format!("{ab}'d0 - {v}"),
                    (b, neg) => {
                        format!("{} {} {v}", signed_lit(b, ab), if neg { "-" } else { "+" })
                    }
                }
            }
        };
        body.push(format!("assign y[{j}*{ab} +: {ab}] = {e};"));
    }
    for (i, &top) in top_read.iter().enumerate() {
        let w = g.width(i as u32);
        if used[i] && top < w {
            unused.push(if top + 1 == w {
                format!("n{i}[{top}]")
            } else {
                format!("n{i}[{}:{top}]", w - 1)
            });
        }
    }
    lines.extend(body);
    if !unused.is_empty() {
        lines.push("// Inputs no weight reads, and high bits that wrap away exactly.".into());
        lines.push(format!(
            "wire unused_bits = &{{1'b0, {}}};",
            unused.join(", ")
        ));
    }
    let stats = BlockStats {
        adders: g.adders(),
        onebit_adders: g.cost(),
        depth: g.depth(),
        solver,
    };
    let text = render(&HardwiredV {
        header: header.to_string(),
        summary: format!(
            "{} adders ({} one-bit adders), {} levels deep",
            stats.adders, stats.onebit_adders, stats.depth
        ),
        module: module.to_string(),
        x_bits: n_in * bus.bits(),
        y_bits: g.outputs.len() * ab as usize,
        lines,
        counters,
    });
    (text, stats)
}

/// Node `i` as a bit heap: one line per counter, then the final adder.
fn heap_lines(
    i: usize,
    p: &HeapPlan,
    body: &mut Vec<String>,
    top_read: &mut [u32],
    unused: &mut Vec<String>,
) {
    let mut bit = |b: Bit| -> String {
        match b {
            Bit::Node { node, bit, inv } => {
                let t = &mut top_read[node as usize];
                *t = (*t).max(bit + 1);
                format!("{}n{node}[{bit}]", if inv { "~" } else { "" })
            }
            Bit::Counter { counter, k } => format!("h{i}_{counter}[{k}]"),
            Bit::One => "1'b1".into(),
        }
    };
    for (j, c) in p.counters.iter().enumerate() {
        let mut args: Vec<String> = c.inputs.iter().map(|&b| bit(b)).collect();
        let (f, n, outs) = if c.inputs.len() == 3 {
            ("fa3", 3, 2)
        } else {
            ("pop6", 6, 3)
        };
        args.resize(n, "1'b0".into());
        body.push(format!(
            "wire [{}:0] h{i}_{j} = {f}({}); // column {}",
            outs - 1,
            args.join(", "),
            c.col
        ));
        // Count bits at or above the sum's width wrap away.
        for k in c.outputs..outs {
            unused.push(format!("h{i}_{j}[{k}]"));
        }
    }
    let row = |r: usize, bit: &mut dyn FnMut(Bit) -> String| -> String {
        let bits: Vec<String> = p.rows[r]
            .iter()
            .rev()
            .map(|b| b.map_or_else(|| "1'b0".to_string(), &mut *bit))
            .collect();
        format!("{{{}}}", bits.join(", "))
    };
    let (a, b) = (row(0, &mut bit), row(1, &mut bit));
    body.push(format!("wire [{}-1:0] n{i} = {a} + {b};", p.width));
}

fn input_slice(k: usize, bus: InputBus) -> String {
    match bus {
        InputBus::Spikes => format!("x[{k}]"),
        InputBus::Signed { bits } => format!("x[{k}*{bits} +: {bits}]"),
    }
}

/// `node << shift` as exactly `w` bits: sign-extended when narrower, wrapped when wider.
fn operand(g: &AdderGraph, t: Term, w: u32, top_read: &mut [u32]) -> String {
    if t.shift >= w {
        return format!("{w}'d0");
    }
    let wt = g.width(t.node);
    let keep = w - t.shift;
    let n = format!("n{}", t.node);
    let i = t.node as usize;
    let core = if keep <= wt {
        top_read[i] = top_read[i].max(keep);
        if keep == wt {
            n
        } else if keep == 1 {
            format!("{n}[0]")
        } else {
            format!("{n}[{}:0]", keep - 1)
        }
    } else {
        top_read[i] = wt;
        let sign = if wt == 1 {
            n.clone()
        } else {
            format!("{n}[{}]", wt - 1)
        };
        format!("{{{{{}{{{sign}}}}}, {n}}}", keep - wt)
    };
    if t.shift == 0 {
        core
    } else {
        format!("{{{core}, {}'b0}}", t.shift)
    }
}
