//! RTL of the weightless tensor operators (`ir::tensor_ops`): combinational modules, loops
//! written as `generate` blocks so a 64 x 64 AND reads as one line, and sums as balanced adder
//! trees (a chain of `D` adders of the full width would cost `D x W` LUTs; the tree about `2D`).

use super::{render, signed_lit};
use crate::ir::tensor_ops::{broadcast_index, strides, MatmulDims, Rounding, TensorOp};
use crate::ir::{Elem, Type};
use askama::Template;

#[derive(Template)]
#[template(path = "tensor.v", escape = "none")]
struct TensorV {
    header: String,
    doc: String,
    module: String,
    inputs: Vec<(String, usize)>,
    y_bits: usize,
    lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "sum_tree.v", escape = "none")]
struct SumTreeV {
    module: String,
    k: usize,
    tb: u32,
    masked: bool,
    w: u32,
    lines: Vec<String>,
}

/// `v` (a `from`-bit signed wire) sign-extended to `to` bits.
pub(super) fn sext(v: &str, from: u32, to: u32) -> String {
    if from >= to {
        v.to_string()
    } else {
        format!("{{{{{}{{{v}[{}]}}}}, {v}}}", to - from, from - 1)
    }
}

fn bits(t: &Type) -> u32 {
    t.elem_bits().unwrap_or(1)
}

/// A module summing `k` terms of `tb` bits (spikes when `spike`, else signed) into `w` bits,
/// each term counted only where its mask bit is set when `masked`.
fn sum_tree(module: &str, k: usize, tb: u32, spike: bool, masked: bool, w: u32) -> String {
    let mut lines = Vec::new();
    let mut level: Vec<(String, u32)> = (0..k)
        .map(|j| {
            let name = format!("l0_{j}");
            let (lw, e) = match (spike, masked) {
                (true, true) => (2, format!("{{1'b0, t[{j}] & m[{j}]}}")),
                (true, false) => (2, format!("{{1'b0, t[{j}]}}")),
                (false, true) => (tb, format!("m[{j}] ? t[{j}*{tb} +: {tb}] : {tb}'d0")),
                (false, false) => (tb, format!("t[{j}*{tb} +: {tb}]")),
            };
            lines.push(format!("wire [{lw}-1:0] {name} = {e};"));
            (name, lw)
        })
        .collect();
    let mut depth = 0;
    while level.len() > 1 {
        depth += 1;
        let mut next = Vec::new();
        for (i, pair) in level.chunks(2).enumerate() {
            match pair {
                [(a, wa), (b, wb)] => {
                    let nw = (wa.max(wb) + 1).min(w);
                    let name = format!("l{depth}_{i}");
                    lines.push(format!(
                        "wire [{nw}-1:0] {name} = {} + {};",
                        sext(a, *wa, nw),
                        sext(b, *wb, nw)
                    ));
                    next.push((name, nw));
                }
                [odd] => next.push(odd.clone()),
                _ => {}
            }
        }
        level = next;
    }
    let (last, lw) = &level[0];
    lines.push(format!("assign y = {};", sext(last, *lw, w)));
    render(&SumTreeV {
        module: module.to_string(),
        k,
        tb,
        masked,
        w,
        lines,
    })
}

/// Nested `generate` loops. Verilator unrolls at most 1,024 iterations of one loop, so a longer
/// range becomes an outer and an inner loop and its index a localparam of the same name.
#[derive(Default)]
struct Gen {
    genvars: Vec<String>,
    lines: Vec<String>,
    /// Per open loop: how many `end`s close it.
    open: Vec<usize>,
}

const UNROLL: usize = 512;

impl Gen {
    fn pad(&self) -> String {
        "    ".repeat(self.open.iter().sum())
    }

    fn genvar(&mut self, v: String) {
        if !self.genvars.contains(&v) {
            self.genvars.push(v);
        }
    }

    /// Opens a loop of `var` over `lo..hi`, its block named `label`.
    fn each(&mut self, var: &str, lo: usize, hi: usize, label: &str) {
        let n = hi - lo;
        if n <= UNROLL {
            self.genvar(var.to_string());
            let l = format!(
                "{}for ({var} = {lo}; {var} < {hi}; {var} = {var} + 1) begin : {label}",
                self.pad()
            );
            self.lines.push(l);
            self.open.push(1);
            return;
        }
        let (vo, vi) = (format!("{var}_o"), format!("{var}_i"));
        self.genvar(vo.clone());
        self.genvar(vi.clone());
        let outer = n.div_ceil(UNROLL);
        let l = format!(
            "{}for ({vo} = 0; {vo} < {outer}; {vo} = {vo} + 1) begin : {label}_o",
            self.pad()
        );
        self.lines.push(l);
        self.open.push(1);
        let l = format!(
            "{}for ({vi} = 0; {vi} < {UNROLL}; {vi} = {vi} + 1) begin : {label}",
            self.pad()
        );
        self.lines.push(l);
        let pad = self.pad();
        self.lines.push(format!(
            "{pad}    localparam integer {var} = {lo} + {vo} * {UNROLL} + {vi};"
        ));
        if n.is_multiple_of(UNROLL) {
            *self.open.last_mut().unwrap_or(&mut 0) += 1;
        } else {
            self.lines
                .push(format!("{pad}    if ({var} < {hi}) begin : {label}_in"));
            *self.open.last_mut().unwrap_or(&mut 0) += 2;
        }
    }

    fn line(&mut self, l: String) {
        let pad = self.pad();
        self.lines.push(format!("{pad}{l}"));
    }

    /// Closes the innermost open loop.
    fn end(&mut self) {
        let k = self.open.pop().unwrap_or(0);
        let base: usize = self.open.iter().sum();
        for i in (0..k).rev() {
            self.lines.push(format!("{}end", "    ".repeat(base + i)));
        }
    }

    fn finish(mut self, out: &mut Vec<String>) {
        while !self.open.is_empty() {
            self.end();
        }
        out.push(format!("genvar {};", self.genvars.join(", ")));
        out.push("generate".into());
        out.extend(self.lines);
        out.push("endgenerate".into());
    }
}

/// Lines rounding the signed `pw`-bit wire `p` by `2^s` (`rounding`), clamping to
/// `[lo, hi]` and assigning the `ow`-bit result to `dst`; wires are named with prefix `pre`.
#[allow(clippy::too_many_arguments)]
pub(super) fn round_clamp(
    p: &str,
    pw: u32,
    rounding: Rounding,
    s: u32,
    lo: i64,
    hi: i64,
    ow: u32,
    pre: &str,
    dst: &str,
) -> Vec<String> {
    // The rounded quotient and the bounds compare in a width holding both.
    let qw = (pw + 1 - s.min(pw)).max(ow) + 1;
    let half = if s > 0 { 1i64 << (s - 1) } else { 0 };
    let full = (1i64 << s) - 1;
    let sign = format!("{p}[{}]", pw - 1);
    let offset = match (s, rounding) {
        (0, _) | (_, Rounding::Floor) => signed_lit(0, pw + 1),
        (_, Rounding::Ceil) => signed_lit(full, pw + 1),
        (_, Rounding::HalfUp) => signed_lit(half, pw + 1),
        (_, Rounding::HalfDown) => signed_lit(half - 1, pw + 1),
        (_, Rounding::HalfEven) => {
            format!("{} + {{{}'d0, {p}[{s}]}}", signed_lit(half - 1, pw + 1), pw)
        }
        (_, Rounding::Trunc) => format!(
            "({sign} ? {} : {})",
            signed_lit(full, pw + 1),
            signed_lit(0, pw + 1)
        ),
        (_, Rounding::HalfAway) => format!(
            "({sign} ? {} : {})",
            signed_lit(half - 1, pw + 1),
            signed_lit(half, pw + 1)
        ),
    };
    let mut l = vec![format!(
        "wire [{pw}:0] {pre}r = {} + {offset};",
        sext(p, pw, pw + 1)
    )];
    if s > 0 {
        l.push(format!("wire [{s}-1:0] unused_{pre}r = {pre}r[{s}-1:0];"));
    }
    let qb = pw + 1 - s;
    l.push(format!("wire [{qb}-1:0] {pre}q0 = {pre}r[{pw}:{s}];"));
    l.push(format!(
        "wire signed [{qw}-1:0] {pre}q = {};",
        sext(&format!("{pre}q0"), qb, qw)
    ));
    let (h, lw) = (signed_lit(hi, qw), signed_lit(lo, qw));
    l.push(format!(
        "wire signed [{qw}-1:0] {pre}sat = {pre}q > $signed({h}) ? $signed({h}) : {pre}q < $signed({lw}) ? $signed({lw}) : {pre}q;"
    ));
    if qw > ow {
        l.push(format!(
            "wire [{}-1:0] unused_{pre}sat = {pre}sat[{qw}-1:{ow}];",
            qw - ow
        ));
    }
    l.push(format!("assign {dst} = {pre}sat[{ow}-1:0];"));
    l
}

/// Extends element `e` (a genvar expression) of input `x` with `b`-bit elements to `w` bits.
fn elem_ext(x: &str, e: &str, t: &Type, w: u32) -> String {
    let b = bits(t);
    if t.elem == Elem::Spike {
        format!("{{{{{}{{1'b0}}}}, {x}[{e}]}}", w - 1)
    } else if b == w {
        format!("{x}[({e})*{b} +: {b}]")
    } else {
        format!(
            "{{{{{}{{{x}[({e})*{b} + {}]}}}}, {x}[({e})*{b} +: {b}]}}",
            w - b,
            b - 1
        )
    }
}

/// The index into `b` of the element broadcast to element `e` (a genvar) of `a`: axis `k` of
/// `a` picks axis `k` of `b` unless `b` has size 1 there.
fn broadcast_expr(a: &[usize], b: &[usize]) -> String {
    if a == b {
        return "e".into();
    }
    let (sa, sb) = (strides(a), strides(b));
    let terms: Vec<String> = (0..a.len())
        .filter(|&k| b[k] != 1)
        .map(|k| format!("(e / {}) % {} * {}", sa[k], a[k], sb[k]))
        .collect();
    debug_assert_eq!(broadcast_index(a, b, 0), 0);
    if terms.is_empty() {
        "0".into()
    } else {
        terms.join(" + ")
    }
}

/// The files (name, text) computing `op` on inputs of types `ins` into `out`: the module
/// `module`, and the adder tree `sum` where the op sums.
pub fn files(
    module: &str,
    sum: &str,
    header: &str,
    op: &TensorOp,
    ins: &[&Type],
    out: &Type,
) -> Result<Vec<(String, String)>, String> {
    let ow = bits(out);
    let n = out.len();
    let names: Vec<String> = match ins.len() {
        1 => vec!["x".into()],
        2 if !matches!(op, TensorOp::Add) => vec!["a".into(), "b".into()],
        k => (0..k).map(|i| format!("x{i}")).collect(),
    };
    let inputs = names
        .iter()
        .zip(ins)
        .map(|(nm, t)| (nm.clone(), t.len() * bits(t) as usize))
        .collect();
    let mut lines = Vec::new();
    let mut tree = String::new();
    let shape = |t: &Type| format!("{:?}", t.shape);
    let doc = match op {
        TensorOp::And => {
            let (a, b) = (&ins[0].shape, &ins[1].shape);
            let mut gen = Gen::default();
            gen.each("e", 0, n, "g_and");
            let idx = broadcast_expr(a, b);
            gen.line(format!("assign y[e] = a[e] & b[{idx}];"));
            gen.finish(&mut lines);
            format!(
                "Spike AND: y = a & b, a {} and b {} (broadcast over its size-1 axes).",
                shape(ins[0]),
                shape(ins[1])
            )
        }
        TensorOp::Popcount { axis } => {
            let s = &ins[0].shape;
            let inner: usize = s[axis + 1..].iter().product();
            let d = s[*axis];
            let outer = ins[0].len() / (d * inner);
            tree = sum_tree(sum, d, 1, true, false, ow);
            let mut gen = Gen::default();
            gen.each("o", 0, outer, "g_o");
            gen.each("i", 0, inner, "g_i");
            gen.line(format!("wire [{d}-1:0] ones;"));
            gen.each("k", 0, d, "g_k");
            gen.line(format!("assign ones[k] = x[(o * {d} + k) * {inner} + i];"));
            gen.end();
            gen.line(format!(
                "{sum} u_sum (.t(ones), .y(y[(o * {inner} + i) * {ow} +: {ow}]));"
            ));
            gen.finish(&mut lines);
            format!(
                "Popcount: ones along axis {axis} of {} ({d} per sum), {ow}-bit counts.",
                shape(ins[0])
            )
        }
        TensorOp::Matmul { ta, tb } => {
            let d: MatmulDims = TensorOp::matmul_dims(ins[0], ins[1], *ta, *tb)?;
            let spike = ins[0].elem == Elem::Spike;
            let ab = bits(ins[0]);
            tree = sum_tree(sum, d.k, ab, spike, true, ow);
            let (m, k, nn) = (d.m, d.k, d.n);
            let a_idx = if *ta {
                format!("bt * {} + kk * {m} + i", m * k)
            } else {
                format!("bt * {} + i * {k} + kk", m * k)
            };
            let b_idx = if *tb {
                format!("bt * {} + j * {k} + kk", k * nn)
            } else {
                format!("bt * {} + kk * {nn} + j", k * nn)
            };
            let mut gen = Gen::default();
            gen.each("bt", 0, d.batch, "g_b");
            gen.each("i", 0, m, "g_i");
            gen.each("j", 0, nn, "g_j");
            gen.line(format!("wire [{k}*{ab}-1:0] row;"));
            gen.line(format!("wire [{k}-1:0] sel;"));
            gen.each("kk", 0, k, "g_k");
            gen.line(format!(
                "assign row[kk*{ab} +: {ab}] = a[({a_idx})*{ab} +: {ab}];"
            ));
            gen.line(format!("assign sel[kk] = b[{b_idx}];"));
            gen.end();
            gen.line(format!(
                "{sum} u_dot (.t(row), .m(sel), .y(y[((bt * {m} + i) * {nn} + j) * {ow} +: {ow}]));"
            ));
            gen.finish(&mut lines);
            format!(
                "Spike matrix product: y[b,i,j] = sum_k A[b,i,k] where B[b,k,j] spiked; A = {}{} ({}), B = {}{}.",
                shape(ins[0]),
                if *ta { " transposed" } else { "" },
                if spike { "spikes: counts" } else { "integers" },
                shape(ins[1]),
                if *tb { " transposed" } else { "" }
            )
        }
        TensorOp::Add => {
            let mut gen = Gen::default();
            gen.each("e", 0, n, "g_add");
            let terms: Vec<String> = names
                .iter()
                .zip(ins)
                .map(|(nm, t)| elem_ext(nm, &broadcast_expr(&ins[0].shape, &t.shape), t, ow))
                .collect();
            gen.line(format!("assign y[e*{ow} +: {ow}] = {};", terms.join(" + ")));
            gen.finish(&mut lines);
            format!(
                "Membrane shortcut: the elementwise sum of {} inputs {} into {ow} bits (no overflow: \
                 the width holds every sum).",
                ins.len(),
                shape(ins[0])
            )
        }
        TensorOp::OrPool { kernel, stride } => {
            let s = &ins[0].shape;
            let (h, w, kh, kw, sh, sw) = if s.len() == 3 {
                (s[1], s[2], kernel[0], kernel[1], stride[0], stride[1])
            } else {
                (1, s[1], 1, kernel[0], 1, stride[0])
            };
            let (oh, ow_) = ((h - kh) / sh + 1, (w - kw) / sw + 1);
            let taps: Vec<String> = (0..kh)
                .flat_map(|dy| {
                    (0..kw).map(move |dx| {
                        format!("x[(c * {h} + oy * {sh} + {dy}) * {w} + ox * {sw} + {dx}]")
                    })
                })
                .collect();
            // Positions no window covers (a stride above the kernel, a remainder) are read by
            // nothing; say so rather than leave an unused input.
            let covered = |d: usize, k: usize, s: usize, o: usize| {
                (0..d).all(|p| (0..o).any(|i| i * s <= p && p < i * s + k))
            };
            if !covered(h, kh, sh, oh) || !covered(w, kw, sw, ow_) {
                lines.push("wire unused_x = &{1'b0, x};  // positions outside every window".into());
            }
            let mut gen = Gen::default();
            gen.each("c", 0, s[0], "g_c");
            gen.each("oy", 0, oh, "g_y");
            gen.each("ox", 0, ow_, "g_x");
            gen.line(format!(
                "assign y[(c * {oh} + oy) * {ow_} + ox] = |{{{}}};",
                taps.join(", ")
            ));
            gen.finish(&mut lines);
            format!(
                "Spike max-pooling: OR over {kernel:?} windows, stride {stride:?}, of {}.",
                shape(ins[0])
            )
        }
        TensorOp::Transpose { perm } => {
            let a = &ins[0].shape;
            let out: Vec<usize> = perm.iter().map(|&k| a[k]).collect();
            let (so, si) = (strides(&out), strides(a));
            let b = bits(ins[0]);
            let idx: Vec<String> = (0..out.len())
                .map(|k| format!("(e / {}) % {} * {}", so[k], out[k], si[perm[k]]))
                .collect();
            let mut gen = Gen::default();
            gen.each("e", 0, n, "g_t");
            gen.line(format!(
                "assign y[e*{b} +: {b}] = x[({})*{b} +: {b}];",
                idx.join(" + ")
            ));
            gen.finish(&mut lines);
            format!(
                "Transpose: {} with axes {perm:?}; wiring only.",
                shape(ins[0])
            )
        }
        TensorOp::Requant(rq) => {
            let t = ins[0];
            let ib = if t.elem == Elem::Spike { 2 } else { bits(t) };
            let s = rq.shift;
            let (_, pw) = rq.widths(ib);
            let per = n / rq.mul.len();
            let mut gen = Gen::default();
            for (c, &m) in rq.mul.iter().enumerate() {
                gen.line(format!(
                    "// channel {c}: elements {}..{}, multiplier {m}",
                    c * per,
                    (c + 1) * per - 1
                ));
                gen.each("e", c * per, (c + 1) * per, &format!("g_c{c}"));
                let xe = if t.elem == Elem::Spike {
                    "{1'b0, x[e]}".to_string()
                } else {
                    format!("x[e*{ib} +: {ib}]")
                };
                gen.line(format!("wire [{ib}-1:0] xe = {xe};"));
                gen.line(format!(
                    "wire signed [{pw}-1:0] p = $signed({}) * $signed({});",
                    sext("xe", ib, pw),
                    signed_lit(m, pw)
                ));
                for line in round_clamp(
                    "p",
                    pw,
                    rq.rounding,
                    s,
                    rq.lo,
                    rq.hi,
                    ow,
                    "",
                    &format!("y[e*{ow} +: {ow}]"),
                ) {
                    gen.line(line);
                }
                gen.end();
            }
            gen.finish(&mut lines);
            format!(
                "Requantise: y = clamp(round(x * mul / 2^{s}), {}, {}), rounding {} ({} channels).",
                rq.lo,
                rq.hi,
                rq.rounding.word(),
                rq.mul.len()
            )
        }
        // Constants are wires of the top level; the others multi-cycle units (tensor_seq).
        TensorOp::Const { .. }
        | TensorOp::IntMatmul { .. }
        | TensorOp::Softmax(_)
        | TensorOp::LayerNorm(_) => {
            return Err(format!("{} has no combinational module", op.keyword()))
        }
    };
    let main = render(&TensorV {
        header: header.to_string(),
        doc,
        module: module.to_string(),
        inputs,
        y_bits: n * ow as usize,
        lines,
    });
    let mut files = vec![(format!("{module}.v"), main)];
    if !tree.is_empty() {
        files.push((format!("{sum}.v"), tree));
    }
    Ok(files)
}
