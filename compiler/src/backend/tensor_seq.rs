//! Multi-cycle RTL of the tensor operators that multiply (`ir::tensor_ops`): integer matrix
//! products, softmax and LayerNorm. Each is one small datapath stepped over the elements (a
//! multiply-accumulate, or one element of a row, per cycle), so a 16 x 16 x 16 product costs
//! one multiplier and 4,096 cycles instead of 4,096 multipliers; an encoder layer of a tiny
//! transformer then fits a small FPGA. Inputs are read through multiplexers from the
//! producers' buses; results enter a shift register in row-major order, so no write decoder.

use super::tensor::{round_clamp, sext};
use super::{render, signed_lit};
use crate::ir::tensor_ops::{LayerNorm, Softmax, TensorOp, SOFTMAX_RECIP_BITS};
use crate::ir::{signed_width, Elem, Type};
use askama::Template;

#[derive(Template)]
#[template(path = "tensor_unit.v", escape = "none")]
struct UnitV {
    header: String,
    doc: String,
    module: String,
    latency: u64,
    inputs: Vec<(String, usize)>,
    y_bits: usize,
    lines: Vec<String>,
}

/// Bits of an unsigned counter over `0..n`.
fn cw(n: usize) -> u32 {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1)
}

/// Bits of an unsigned value up to `v`.
fn ubits(v: i128) -> u32 {
    (128 - v.max(1).leading_zeros()).max(1)
}

fn ulit(v: i128, w: u32) -> String {
    format!("{w}'d{v}")
}

/// `sig` (`w` bits) zero-extended to 32.
fn ext32(sig: &str, w: u32) -> String {
    if w >= 32 {
        sig.to_string()
    } else {
        format!("{{{}'d0, {sig}}}", 32 - w)
    }
}

/// Cycles from `start` to `done` of the unit for `op` on inputs `ins`.
pub fn latency(op: &TensorOp, ins: &[&Type]) -> u64 {
    match op {
        TensorOp::IntMatmul { ta, tb } => TensorOp::matmul_dims(ins[0], ins[1], *ta, *tb)
            .map(|d| (d.batch * d.m * d.n * d.k) as u64 + 1)
            .unwrap_or(0),
        TensorOp::Softmax(_) | TensorOp::LayerNorm(_) => {
            let n = ins[0].shape.last().copied().unwrap_or(1).max(1);
            let rows = (ins[0].len() / n) as u64;
            let per = match op {
                TensorOp::LayerNorm(ln) => ln.r_bits(n) as u64,
                _ => 1,
            };
            rows * (3 * n as u64 + per) + 1
        }
        _ => 0,
    }
}

/// Reads element `idx` (a 32-bit element index expression) of `bus` (elements of type `t`) as
/// a signed `w`-bit wire `name`.
fn read(lines: &mut Vec<String>, name: &str, bus: &str, idx: &str, t: &Type, w: u32) {
    let (b, spike) = match t.elem {
        Elem::Spike => (1, true),
        _ => (t.elem_bits().unwrap_or(1), false),
    };
    let total = t.len() * b as usize;
    let ow = cw(total);
    lines.push(format!("wire [31:0] {name}_at = ({idx}) * 32'd{b};"));
    lines.push(format!("wire [{ow}-1:0] {name}_o = {name}_at[{ow}-1:0];"));
    if ow < 32 {
        lines.push(format!(
            "wire [{}-1:0] unused_{name}_at = {name}_at[31:{ow}];",
            32 - ow
        ));
    }
    lines.push(format!(
        "wire [{b}-1:0] {name}_raw = {bus}[{name}_o +: {b}];"
    ));
    let v = if spike {
        format!("{{{}'d0, {name}_raw}}", w - 1)
    } else {
        sext(&format!("{name}_raw"), b, w)
    };
    lines.push(format!("wire signed [{w}-1:0] {name} = {v};"));
}

/// Width of an element read as signed (spikes gain a zero sign bit).
fn signed_bits(t: &Type) -> u32 {
    match t.elem {
        Elem::Spike => 2,
        _ => t.elem_bits().unwrap_or(1),
    }
}

/// Lines of a shift register `y_r` of `n` elements of `w` bits taking `el` at the top.
fn shift_in(n: usize, w: u32, el: &str) -> String {
    if n == 1 {
        format!("y_r <= {el};")
    } else {
        format!("y_r <= {{{el}, y_r[{n}*{w}-1:{w}]}};")
    }
}

/// A ROM function `name` of `vals` (signed, `w` bits) over a `iw`-bit index.
fn rom(name: &str, vals: &[i64], w: u32, iw: u32, signed: bool) -> Vec<String> {
    let lit = |v: i64| {
        if signed {
            signed_lit(v, w)
        } else {
            ulit(v as i128, w)
        }
    };
    let mut l = vec![
        format!(
            "function {}[{w}-1:0] {name};",
            if signed { "signed " } else { "" }
        ),
        format!("    input [{iw}-1:0] i;"),
        "    begin".into(),
        "        case (i)".into(),
    ];
    for (k, &v) in vals.iter().enumerate() {
        l.push(format!(
            "            {}: {name} = {};",
            ulit(k as i128, iw),
            lit(v)
        ));
    }
    l.push(format!(
        "            default: {name} = {};",
        lit(*vals.last().unwrap_or(&0))
    ));
    l.extend([
        "        endcase".into(),
        "    end".into(),
        "endfunction".into(),
    ]);
    l
}

/// The files (one module) of the multi-cycle unit for `op`, and its latency.
pub fn files(
    module: &str,
    header: &str,
    op: &TensorOp,
    ins: &[&Type],
    out: &Type,
) -> Result<(Vec<(String, String)>, u64), String> {
    let ob = out.elem_bits().unwrap_or(1);
    let n_out = out.len();
    let names: Vec<&str> = if ins.len() == 2 {
        vec!["a", "b"]
    } else {
        vec!["x"]
    };
    let inputs = names
        .iter()
        .zip(ins)
        .map(|(nm, t)| {
            (
                nm.to_string(),
                t.len() * t.elem_bits().unwrap_or(1) as usize,
            )
        })
        .collect();
    let mut l = vec![
        format!("reg [{n_out}*{ob}-1:0] y_r;"),
        "assign y = y_r;".into(),
    ];
    let doc = match op {
        TensorOp::IntMatmul { ta, tb } => {
            matmul(&mut l, ins, *ta, *tb, ob, n_out)?;
            format!(
                "Integer matrix product: y[b,i,j] = sum_k A[b,i,k] B[b,k,j], A = {:?}{}, B = {:?}{}; \
                 one multiply-accumulate per cycle.",
                ins[0].shape,
                if *ta { " transposed" } else { "" },
                ins[1].shape,
                if *tb { " transposed" } else { "" }
            )
        }
        TensorOp::Softmax(sm) => {
            softmax(&mut l, sm, ins[0], ob, n_out);
            format!(
                "Softmax along the last axis of {:?}: max, exp table ({} entries), sum, \
                 reciprocal floor(2^32 / sum), products rounded to {} fractional bits; one \
                 element per cycle, three passes per row.",
                ins[0].shape,
                sm.exp.len(),
                sm.frac
            )
        }
        TensorOp::LayerNorm(ln) => {
            layer_norm(&mut l, ln, ins[0], ob, n_out);
            format!(
                "LayerNorm along the last axis of {:?}: sum, sum of squared deviations, \
                 reciprocal square root by bisection, affine and requantiser (rounding {}); one \
                 element per cycle.",
                ins[0].shape,
                ln.rounding.word()
            )
        }
        other => return Err(format!("{} is not a multi-cycle unit", other.keyword())),
    };
    let lat = latency(op, ins);
    let text = render(&UnitV {
        header: header.to_string(),
        doc,
        module: module.to_string(),
        latency: lat,
        inputs,
        y_bits: n_out * ob as usize,
        lines: l,
    });
    Ok((vec![(format!("{module}.v"), text)], lat))
}

/// Counter lines: `reg [w-1:0] name;` and its `last` flag.
fn counter(l: &mut Vec<String>, name: &str, n: usize) -> u32 {
    let w = cw(n);
    l.push(format!("reg [{w}-1:0] {name};"));
    l.push(format!(
        "wire {name}_last = {name} == {};",
        ulit(n as i128 - 1, w)
    ));
    w
}

fn matmul(
    l: &mut Vec<String>,
    ins: &[&Type],
    ta: bool,
    tb: bool,
    yb: u32,
    n_out: usize,
) -> Result<(), String> {
    let d = TensorOp::matmul_dims(ins[0], ins[1], ta, tb)?;
    let (m, k, n) = (d.m, d.k, d.n);
    l.push("reg busy;".into());
    let bw = counter(l, "bt", d.batch);
    let iw = counter(l, "i", m);
    let jw = counter(l, "j", n);
    let kw = counter(l, "kk", k);
    let (bt, i, j, kk) = (
        ext32("bt", bw),
        ext32("i", iw),
        ext32("j", jw),
        ext32("kk", kw),
    );
    let a_idx = if ta {
        format!("{bt} * 32'd{} + {kk} * 32'd{m} + {i}", m * k)
    } else {
        format!("{bt} * 32'd{} + {i} * 32'd{k} + {kk}", m * k)
    };
    let b_idx = if tb {
        format!("{bt} * 32'd{} + {j} * 32'd{k} + {kk}", k * n)
    } else {
        format!("{bt} * 32'd{} + {kk} * 32'd{n} + {j}", k * n)
    };
    let (aw, bwid) = (signed_bits(ins[0]), signed_bits(ins[1]));
    read(l, "av", "a", &a_idx, ins[0], aw);
    read(l, "bv", "b", &b_idx, ins[1], bwid);
    // Products and partial sums in one width holding both; every partial sum fits `yb`.
    let xw = (aw + bwid).max(yb);
    l.push(format!(
        "wire signed [{xw}-1:0] prod = $signed({}) * $signed({});",
        sext("av", aw, xw),
        sext("bv", bwid, xw)
    ));
    l.push(format!("reg signed [{yb}-1:0] acc;"));
    l.push(format!(
        "wire signed [{xw}-1:0] acc_in = kk == {} ? {} : {};",
        ulit(0, kw),
        signed_lit(0, xw),
        sext("acc", yb, xw)
    ));
    l.push(format!("wire signed [{xw}-1:0] total = acc_in + prod;"));
    if xw > yb {
        l.push(format!(
            "wire [{}-1:0] unused_total = total[{xw}-1:{yb}];",
            xw - yb
        ));
    }
    l.push(format!("wire [{yb}-1:0] el = total[{yb}-1:0];"));
    let inc = |c: &str, w: u32| format!("{c} <= {c} + {};", ulit(1, w));
    l.extend([
        "always @(posedge clk) begin".into(),
        "    done <= 1'b0;".into(),
        "    if (rst) begin".into(),
        "        busy <= 1'b0;".into(),
        "    end else if (start) begin".into(),
        "        busy <= 1'b1;".into(),
        format!(
            "        bt <= {}; i <= {}; j <= {}; kk <= {};",
            ulit(0, bw),
            ulit(0, iw),
            ulit(0, jw),
            ulit(0, kw)
        ),
        "    end else if (busy) begin".into(),
        "        acc <= el;".into(),
        "        if (kk_last) begin".into(),
        format!("            {}", shift_in(n_out, yb, "el")),
        format!("            kk <= {};", ulit(0, kw)),
        "            if (j_last) begin".into(),
        format!("                j <= {};", ulit(0, jw)),
        "                if (i_last) begin".into(),
        format!("                    i <= {};", ulit(0, iw)),
        "                    if (bt_last) begin".into(),
        "                        busy <= 1'b0;".into(),
        "                        done <= 1'b1;".into(),
        format!("                    end else {}", inc("bt", bw)),
        format!("                end else {}", inc("i", iw)),
        format!("            end else {}", inc("j", jw)),
        format!("        end else {}", inc("kk", kw)),
        "    end".into(),
        "end".into(),
    ]);
    Ok(())
}

/// Row and column counters and the element read shared by the row units; returns the widths
/// of (column counter, read element).
fn row_reader(l: &mut Vec<String>, x: &Type) -> (u32, u32, usize, usize) {
    let n = x.shape.last().copied().unwrap_or(1).max(1);
    let rows = x.len() / n;
    l.push("reg busy;".into());
    l.push("reg [1:0] ph;".into());
    counter(l, "row", rows);
    let cwid = counter(l, "c", n);
    let xw = signed_bits(x);
    let idx = format!(
        "{} * 32'd{n} + {}",
        ext32("row", cw(rows)),
        ext32("c", cwid)
    );
    read(l, "xv", "x", &idx, x, xw);
    (cwid, xw, n, rows)
}

/// The row-stepping state machine: `phases[p]` is the body of phase `p` (the column counter
/// runs over the row in every phase but the one at `fixed`, which lasts until its own exit);
/// the last phase shifts an element out and moves to the next row.
fn row_fsm(l: &mut Vec<String>, cwid: u32, rows: usize, phases: [Vec<String>; 4], fixed: usize) {
    let rw = cw(rows);
    let mut body = vec![
        "always @(posedge clk) begin".to_string(),
        "    done <= 1'b0;".into(),
        "    if (rst) begin".into(),
        "        busy <= 1'b0;".into(),
        "    end else if (start) begin".into(),
        format!(
            "        busy <= 1'b1; ph <= 2'd0; row <= {}; c <= {};",
            ulit(0, rw),
            ulit(0, cwid)
        ),
        "    end else if (busy) begin".into(),
        "        case (ph)".into(),
    ];
    for (p, lines) in phases.into_iter().enumerate() {
        body.push(format!("            2'd{p}: begin"));
        body.extend(lines.into_iter().map(|x| format!("                {x}")));
        if p != fixed {
            let next = if p == 3 {
                format!(
                    "begin c <= {}; ph <= 2'd0; if (row_last) begin busy <= 1'b0; done <= 1'b1; end else row <= row + {}; end",
                    ulit(0, cwid),
                    ulit(1, rw)
                )
            } else {
                format!("begin c <= {}; ph <= 2'd{}; end", ulit(0, cwid), p + 1)
            };
            body.push(format!(
                "                if (c_last) {next} else c <= c + {};",
                ulit(1, cwid)
            ));
        }
        body.push("            end".into());
    }
    body.extend(["        endcase".into(), "    end".into(), "end".into()]);
    l.extend(body);
}

fn softmax(l: &mut Vec<String>, sm: &Softmax, x: &Type, ob: u32, n_out: usize) {
    let (cwid, xw, n, rows) = row_reader(l, x);
    let len = sm.exp.len();
    let eb = ubits(sm.exp[0] as i128);
    let db = cw(len);
    let sb = ubits(sm.exp[0] as i128 * n as i128);
    let rb = SOFTMAX_RECIP_BITS + 1;
    let sh = SOFTMAX_RECIP_BITS - sm.frac;
    l.push(format!("reg signed [{xw}-1:0] m;"));
    // d = m - x >= 0 once m is the row's maximum; clamped to the table's last entry.
    l.push(format!(
        "wire signed [{}-1:0] d = {} - {};",
        xw + 1,
        sext("m", xw, xw + 1),
        sext("xv", xw, xw + 1)
    ));
    let dmax = (1i128 << xw) - 1;
    if dmax > len as i128 - 1 {
        l.push(format!(
            "wire [{db}-1:0] dc = d > {} ? {} : d[{db}-1:0];",
            signed_lit(len as i64 - 1, xw + 1),
            ulit(len as i128 - 1, db)
        ));
        if xw + 1 > db {
            l.push(format!(
                "wire [{}-1:0] unused_d = d[{xw}:{db}];",
                xw + 1 - db
            ));
        }
    } else {
        // Every difference indexes the table directly.
        l.push(format!(
            "wire [{db}-1:0] dc = {};",
            if db > xw {
                format!("{{{}'d0, d[{xw}-1:0]}}", db - xw)
            } else {
                format!("d[{db}-1:0]")
            }
        ));
        l.push(format!("wire unused_d = d[{xw}];"));
    }
    l.extend(rom("exp_rom", &sm.exp, eb, db, false));
    l.push(format!("wire [{eb}-1:0] e = exp_rom(dc);"));
    l.push(format!("reg [{sb}-1:0] s;"));
    l.push(format!("reg [{rb}-1:0] r;"));
    l.push(format!(
        "wire [{rb}-1:0] r_next = {} / {};",
        ulit(1i128 << SOFTMAX_RECIP_BITS, rb),
        if rb > sb {
            format!("{{{}'d0, s}}", rb - sb)
        } else {
            "s".into()
        }
    ));
    let pw = eb + rb + 1;
    l.push(format!(
        "wire [{pw}-1:0] prod = {{{}'d0, e}} * {{{}'d0, r}} + {};",
        pw - eb,
        pw - rb,
        ulit(1i128 << (sh - 1), pw)
    ));
    let qb = pw - sh;
    l.push(format!("wire [{sh}-1:0] unused_prod = prod[{sh}-1:0];"));
    l.push(format!("wire [{qb}-1:0] q = prod[{pw}-1:{sh}];"));
    let hi = ulit(sm.hi as i128, qb.max(ubits(sm.hi as i128)));
    let qx = if qb >= ubits(sm.hi as i128) {
        "q".to_string()
    } else {
        format!("{{{}'d0, q}}", ubits(sm.hi as i128) - qb)
    };
    let qxw = qb.max(ubits(sm.hi as i128));
    l.push(format!("wire [{qxw}-1:0] sat = {qx} > {hi} ? {hi} : {qx};"));
    let el = if qxw >= ob {
        if qxw > ob {
            l.push(format!(
                "wire [{}-1:0] unused_sat = sat[{qxw}-1:{ob}];",
                qxw - ob
            ));
        }
        format!("sat[{ob}-1:0]")
    } else {
        format!("{{{}'d0, sat}}", ob - qxw)
    };
    l.push(format!("wire [{ob}-1:0] el = {el};"));
    let s_in = if sb > eb {
        format!("{{{}'d0, e}}", sb - eb)
    } else {
        "e".into()
    };
    row_fsm(
        l,
        cwid,
        rows,
        [
            vec![format!("m <= (c == {} || xv > m) ? xv : m;", ulit(0, cwid))],
            vec![format!(
                "s <= (c == {} ? {} : s) + {s_in};",
                ulit(0, cwid),
                ulit(0, sb)
            )],
            vec!["r <= r_next; ph <= 2'd3;".into()],
            vec![shift_in(n_out, ob, "el")],
        ],
        2,
    );
    let _ = n;
}

fn layer_norm(l: &mut Vec<String>, ln: &LayerNorm, x: &Type, ob: u32, n_out: usize) {
    let (cwid, xw, n, rows) = row_reader(l, x);
    let (lo, hi) = x.elem_range().unwrap_or((0, 1));
    let (dmax, vmax) = ln.bounds(n, (lo, hi));
    let nn = n as i128;
    // Sums and n x share one width holding both (and n itself).
    let sw = signed_width(nn * lo as i128, nn * hi as i128).max(signed_width(0, nn));
    let dw = sw + 1;
    let vw = ubits(vmax);
    let rbits = ln.r_bits(n);
    let kbw = cw(rbits as usize);
    l.push(format!("reg signed [{sw}-1:0] s;"));
    l.push(format!(
        "wire signed [{sw}-1:0] nx = $signed({}) * {};",
        sext("xv", xw, sw),
        signed_lit(n as i64, sw)
    ));
    l.push(format!(
        "wire signed [{dw}-1:0] dv = {} - {};",
        sext("nx", sw, dw),
        sext("s", sw, dw)
    ));
    let qw = (2 * dw).max(vw + 1);
    l.push(format!(
        "wire signed [{qw}-1:0] sq = $signed({}) * $signed({});",
        sext("dv", dw, qw),
        sext("dv", dw, qw)
    ));
    l.push(format!("wire [{vw}-1:0] sq_v = sq[{vw}-1:0];"));
    l.push(format!(
        "wire [{}-1:0] unused_sq = sq[{qw}-1:{vw}];",
        qw - vw
    ));
    l.push(format!("reg [{vw}-1:0] v;"));
    // Bisection: r keeps each bit, from the top, whose candidate still has cand^2 v <= n 4^frac.
    let target = ln.target(n);
    let cw2 = (2 * rbits + vw).max(ubits(target)) + 1;
    l.push(format!("reg [{rbits}-1:0] r;"));
    l.push(format!("reg [{kbw}-1:0] kb;"));
    l.push(format!(
        "wire [{rbits}-1:0] cand = r | ({} << kb);",
        ulit(1, rbits)
    ));
    l.push(format!(
        "wire [{cw2}-1:0] cand_sq = {{{}'d0, cand}} * {{{}'d0, cand}};",
        cw2 - rbits,
        cw2 - rbits
    ));
    l.push(format!(
        "wire [{cw2}-1:0] cand_v = cand_sq * {{{}'d0, v}};",
        cw2 - vw
    ));
    l.push(format!("wire fits = cand_v <= {};", ulit(target, cw2)));
    // z = D r, then the affine and the requantiser.
    let zw = dw + rbits + 1;
    l.push(format!(
        "wire signed [{zw}-1:0] z = $signed({}) * $signed({{{}'d0, r}});",
        sext("dv", dw, zw),
        zw - rbits
    ));
    let mb = ln
        .mul
        .iter()
        .map(|&m| signed_width(m as i128, m as i128))
        .max()
        .unwrap_or(2);
    let ab = ln
        .add
        .iter()
        .map(|&a| signed_width(a as i128, a as i128))
        .max()
        .unwrap_or(2);
    let pw = (zw + mb).max(ab).max(ln.shift + 2) + 1;
    let per_channel = |name: &str, vals: &[i64], w: u32, l: &mut Vec<String>| -> String {
        if vals.len() == 1 {
            signed_lit(vals[0], w)
        } else {
            l.extend(rom(name, vals, w, cwid, true));
            format!("{name}(c)")
        }
    };
    let mul = per_channel("mul_rom", &ln.mul, mb, l);
    let add = per_channel("add_rom", &ln.add, ab, l);
    l.push(format!("wire signed [{mb}-1:0] mul_c = {mul};"));
    l.push(format!("wire signed [{ab}-1:0] add_c = {add};"));
    l.push(format!(
        "wire signed [{pw}-1:0] p = $signed({}) * $signed({}) + $signed({});",
        sext("z", zw, pw),
        sext("mul_c", mb, pw),
        sext("add_c", ab, pw)
    ));
    l.push(format!("wire [{ob}-1:0] el;"));
    l.extend(round_clamp(
        "p",
        pw,
        ln.rounding,
        ln.shift,
        ln.lo,
        ln.hi,
        ob,
        "o_",
        "el",
    ));
    let _ = dmax;
    row_fsm(
        l,
        cwid,
        rows,
        [
            vec![format!(
                "s <= (c == {} ? {} : s) + {};",
                ulit(0, cwid),
                signed_lit(0, sw),
                sext("xv", xw, sw)
            )],
            vec![
                format!(
                    "v <= (c == {} ? {} : v) + sq_v;",
                    ulit(0, cwid),
                    ulit(ln.eps as i128, vw)
                ),
                format!(
                    "if (c_last) begin r <= {}; kb <= {}; end",
                    ulit(0, rbits),
                    ulit(rbits as i128 - 1, kbw)
                ),
            ],
            vec![
                "if (fits) r <= cand;".into(),
                format!(
                    "if (kb == {}) ph <= 2'd3; else kb <= kb - {};",
                    ulit(0, kbw),
                    ulit(1, kbw)
                ),
            ],
            vec![shift_in(n_out, ob, "el")],
        ],
        2,
    );
}
