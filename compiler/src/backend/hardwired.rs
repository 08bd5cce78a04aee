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
    /// Whether the block has pipeline registers (and so a clock).
    clocked: bool,
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
    /// Pipeline registers on the longest path: the block's latency in cycles.
    pub latency: u32,
    /// How the solver found it.
    pub solver: cmvm::Stats,
}

/// Which pipeline stage each node's value is computed in: registers every `every` adder levels
/// (none when `every` is `None`).
fn stages(g: &AdderGraph, every: Option<u32>) -> Vec<u32> {
    let levels = g.levels();
    levels
        .iter()
        .map(|&l| match every {
            Some(n) if l > 0 => (l - 1) / n.max(1),
            _ => 0,
        })
        .collect()
}

/// Cycles from input to output of `g` with registers every `every` adder levels.
pub fn latency(g: &AdderGraph, every: Option<u32>) -> u32 {
    let st = stages(g, every);
    g.outputs
        .iter()
        .flatten()
        .map(|t| st[t.node as usize])
        .max()
        .unwrap_or(0)
}

/// Reads of node values by the stage that reads them: a read in a later stage than the node's
/// own goes through a chain of pipeline registers `n<i>_p<stage>`, each as wide as the bits
/// read from it onwards, so no register bit goes unread.
struct Reads {
    stage: Vec<u32>,
    /// Per node, the bits read of it in its own stage (its top bit + 1).
    top_read: Vec<u32>,
    /// (node, later stage) -> bits read of that copy by its own stage.
    copies: std::collections::BTreeMap<(u32, u32), u32>,
}

impl Reads {
    /// The name of node `i` as seen from stage `at`, recording that `bits` low bits are read.
    fn read(&mut self, i: u32, at: u32, bits: u32) -> String {
        if at <= self.stage[i as usize] {
            let t = &mut self.top_read[i as usize];
            *t = (*t).max(bits);
            format!("n{i}")
        } else {
            let c = self.copies.entry((i, at)).or_insert(0);
            *c = (*c).max(bits);
            format!("n{i}_p{at}")
        }
    }

    /// Declarations (first) and registers (then) of the copies; records their reads of the
    /// nodes.
    fn registers(&mut self, g: &AdderGraph) -> (Vec<String>, Vec<String>) {
        let mut nodes: Vec<u32> = self.copies.keys().map(|&(i, _)| i).collect();
        nodes.dedup();
        let (mut decls, mut regs) = (Vec::new(), Vec::new());
        for i in nodes {
            let own = self.stage[i as usize];
            let last = self
                .copies
                .range((i, 0)..=(i, u32::MAX))
                .map(|(&(_, s), _)| s)
                .max();
            let last = last.unwrap_or(own);
            // Copy `s` carries what stages `s..=last` read.
            let mut carry = 0;
            let mut widths = vec![0u32; (last - own) as usize];
            for s in (own + 1..=last).rev() {
                carry = carry.max(self.copies.get(&(i, s)).copied().unwrap_or(0));
                widths[(s - own - 1) as usize] = carry;
            }
            let node_w = g.width(i);
            for s in own + 1..=last {
                let w = widths[(s - own - 1) as usize];
                let (src, src_w) = if s == own + 1 {
                    let t = &mut self.top_read[i as usize];
                    *t = (*t).max(w);
                    (format!("n{i}"), node_w)
                } else {
                    (format!("n{i}_p{}", s - 1), widths[(s - own - 2) as usize])
                };
                let slice = match (w == src_w, w) {
                    (true, _) => src,
                    (false, 1) => format!("{src}[0]"),
                    (false, _) => format!("{src}[{}:0]", w - 1),
                };
                decls.push(format!("reg [{w}-1:0] n{i}_p{s};"));
                regs.push(format!("always @(posedge clk) n{i}_p{s} <= {slice};"));
            }
        }
        (decls, regs)
    }
}

/// The Verilog module of `g` (with per-output `bias`, outputs `ab` bits each), with pipeline
/// registers every `pipeline` adder levels if given (the module then has a clock input).
#[allow(clippy::too_many_arguments)]
pub fn module(
    module: &str,
    header: &str,
    g: &AdderGraph,
    solver: cmvm::Stats,
    bias: &[i64],
    bus: InputBus,
    ab: u32,
    pipeline: Option<u32>,
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
    // Bits of each node some operand reads (per stage); the rest are listed as unused.
    let mut reads = Reads {
        stage: stages(g, pipeline),
        top_read: vec![0u32; g.nodes.len()],
        copies: Default::default(),
    };
    let out_stage = latency(g, pipeline);
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
        let at = reads.stage[i];
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
                let ea = operand(g, a, w, &mut reads, at);
                let eb = operand(g, b, w, &mut reads, at);
                body.push(format!("wire [{w}-1:0] n{i} = {ea} {op} {eb};"));
            }
            // An exact right shift: the bits above the known-zero ones.
            (&Node::Shr(n, r), _) => {
                let ws = g.width(n);
                let avail = ws.saturating_sub(r).max(1);
                // Wires only: a shift is in its source's stage.
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
                reads.read(n, at, (r + w).min(ws));
                unused.push(match r {
                    1 => format!("{src}[0]"),
                    _ => format!("{src}[{}:0]", r - 1),
                });
                body.push(format!("wire [{w}-1:0] n{i} = {e};"));
            }
            (Node::Sum(ts), _) => {
                counters = true;
                heap_lines(i, &g.heap(i as u32, ts), &mut body, &mut reads, &mut unused);
            }
        }
    }
    for (j, out) in g.outputs.iter().enumerate() {
        let b = bias.get(j).copied().unwrap_or(0);
        let e = match out {
            None => signed_lit(b, ab),
            Some(t) => {
                let v = operand(
                    g,
                    Term::new(t.node, t.shift, false),
                    ab,
                    &mut reads,
                    out_stage,
                );
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
    let (decls, regs) = reads.registers(g);
    body.extend(regs);
    for (i, &top) in reads.top_read.iter().enumerate() {
        let w = g.width(i as u32);
        if used[i] && top < w {
            unused.push(if top + 1 == w {
                format!("n{i}[{top}]")
            } else {
                format!("n{i}[{}:{top}]", w - 1)
            });
        }
    }
    lines.extend(decls);
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
        latency: out_stage,
        solver,
    };
    let text = render(&HardwiredV {
        header: header.to_string(),
        summary: format!(
            "{} adders ({} one-bit adders), {} levels deep{}",
            stats.adders,
            stats.onebit_adders,
            stats.depth,
            match (pipeline, out_stage) {
                (Some(n), l) if l > 0 => format!(", registers every {n} levels: latency {l}"),
                _ => String::new(),
            }
        ),
        module: module.to_string(),
        x_bits: n_in * bus.bits(),
        y_bits: g.outputs.len() * ab as usize,
        lines,
        counters,
        clocked: out_stage > 0,
    });
    (text, stats)
}

/// Node `i` as a bit heap: one line per counter, then the final adder.
fn heap_lines(
    i: usize,
    p: &HeapPlan,
    body: &mut Vec<String>,
    reads: &mut Reads,
    unused: &mut Vec<String>,
) {
    let at = reads.stage[i];
    let mut bit = |b: Bit| -> String {
        match b {
            Bit::Node { node, bit, inv } => {
                let n = reads.read(node, at, bit + 1);
                format!("{}{n}[{bit}]", if inv { "~" } else { "" })
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

/// `node << shift` as exactly `w` bits, read in stage `at`: sign-extended when narrower,
/// wrapped when wider.
fn operand(g: &AdderGraph, t: Term, w: u32, reads: &mut Reads, at: u32) -> String {
    if t.shift >= w {
        return format!("{w}'d0");
    }
    let wt = g.width(t.node);
    let keep = w - t.shift;
    let core = if keep <= wt {
        let n = reads.read(t.node, at, keep);
        if keep == wt {
            n
        } else if keep == 1 {
            format!("{n}[0]")
        } else {
            format!("{n}[{}:0]", keep - 1)
        }
    } else {
        let n = reads.read(t.node, at, wt);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::interval::Interval;

    /// A random-ish 6x8 matrix with shared sub-sums, as the optimiser builds it.
    fn graph() -> AdderGraph {
        let w: Vec<i64> = (0..48).map(|k| ((k * 37 + 11) % 23) as i64 - 11).collect();
        cmvm::solve(&w, 6, &vec![Interval::new(0, 1); 8]).0
    }

    #[test]
    fn pipeline_latency_follows_the_register_spacing() {
        let g = graph();
        let depth = g.depth();
        assert!(depth >= 3, "depth {depth}");
        assert_eq!(latency(&g, None), 0);
        // Registers after every level but the last.
        assert_eq!(latency(&g, Some(1)), depth - 1);
        assert_eq!(latency(&g, Some(2)), (depth - 1) / 2);
        assert_eq!(latency(&g, Some(depth)), 0);
    }

    #[test]
    fn pipelined_blocks_declare_a_clock_and_one_register_chain_per_crossing() {
        let g = graph();
        let (flat, st) = module(
            "m",
            "h",
            &g,
            Default::default(),
            &[],
            InputBus::Spikes,
            8,
            None,
        );
        assert!(!flat.contains("clk") && st.latency == 0);
        let (piped, st) = module(
            "m",
            "h",
            &g,
            Default::default(),
            &[],
            InputBus::Spikes,
            8,
            Some(1),
        );
        assert!(piped.contains("input  wire clk"));
        assert_eq!(st.latency, g.depth() - 1);
        // Every declared pipeline register is assigned exactly once.
        for line in piped
            .lines()
            .filter(|l| l.trim_start().starts_with("reg ["))
        {
            let name = line
                .split_whitespace()
                .nth(2)
                .unwrap()
                .trim_end_matches(';');
            let assigned = format!("{name} <=");
            assert_eq!(piped.matches(&assigned).count(), 1, "{name}");
        }
    }
}
