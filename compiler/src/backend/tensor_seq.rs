//! Multi-cycle RTL of the tensor operators that multiply (`ir::tensor_ops`): integer matrix
//! products, softmax and LayerNorm. Each is one small datapath stepped over the elements (a
//! multiply-accumulate, or one element of a row, per cycle), so a 16 x 16 x 16 product costs
//! one multiplier and 4,096 cycles instead of 4,096 multipliers; an encoder layer of a tiny
//! transformer then fits a small FPGA. Inputs are read through multiplexers from the
//! producers' buses; results enter a shift register in row-major order, so no write decoder.

use super::hardwired::{self, InputBus};
use super::tensor::{round_clamp, sext};
use super::{render, signed_lit};
use crate::ir::tensor_ops::{LayerNorm, Softmax, TensorOp, SOFTMAX_RECIP_BITS};
use crate::ir::{signed_width, widest_constant, Elem, Type};
use crate::quant::interval::Interval;
use askama::Template;

#[derive(Template)]
#[template(path = "tensor_unit.v", escape = "none")]
struct UnitV {
    header: String,
    doc: String,
    module: String,
    latency: u64,
    /// Port declarations after `start` (inputs, then the result's bus or read ports).
    ports: Vec<String>,
    lines: Vec<String>,
}

/// How a unit meets its neighbours: per input, whether it is read through an address/data
/// port pair (a stored tensor upstream) rather than a bus; and how many read ports its own
/// result has (0: a bus `y` of registers; more: a memory written one element a cycle, each port
/// an asynchronous read, so the tensor sits in LUT RAM instead of flip-flops).
#[derive(Clone, Debug, Default)]
pub struct Io {
    pub streamed: Vec<bool>,
    pub read_ports: usize,
}

/// The result's storage: a shift register on the bus `y`, or a memory with read ports.
struct Store {
    n: usize,
    w: u32,
    ports: usize,
}

impl Store {
    fn aw(&self) -> u32 {
        cw(self.n)
    }

    fn decl(&self, l: &mut Vec<String>) {
        let (n, w, aw) = (self.n, self.w, self.aw());
        if self.ports == 0 {
            l.push(format!("reg [{n}*{w}-1:0] y_r;"));
            l.push("assign y = y_r;".into());
            return;
        }
        l.push(format!("reg [{w}-1:0] mem [0:{n}-1];"));
        l.push(format!("reg [{aw}-1:0] wa;"));
        for p in 0..self.ports {
            narrow(l, &format!("r{p}_a"), &format!("r{p}_addr"), aw);
            l.push(format!("assign r{p}_data = mem[r{p}_a];"));
        }
    }

    /// The statement storing the next element `el`.
    fn put(&self, el: &str) -> String {
        if self.ports == 0 {
            shift_in(self.n, self.w, el)
        } else {
            format!("mem[wa] <= {el}; wa <= wa + {};", ulit(1, self.aw()))
        }
    }

    /// What `start` resets.
    fn reset(&self) -> String {
        if self.ports == 0 {
            String::new()
        } else {
            format!(" wa <= {};", ulit(0, self.aw()))
        }
    }

    fn ports(&self) -> Vec<String> {
        if self.ports == 0 {
            return vec![format!("output wire [{}-1:0] y", self.n * self.w as usize)];
        }
        (0..self.ports)
            .flat_map(|p| {
                [
                    format!("input  wire [31:0] r{p}_addr"),
                    format!("output wire [{}-1:0] r{p}_data", self.w),
                ]
            })
            .collect()
    }
}

/// What the datapath builders share: the lines, the input ports and the result's storage.
struct Unit<'a> {
    l: Vec<String>,
    ports: Vec<String>,
    io: &'a Io,
    store: Store,
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
            // The reciprocal: a bisection step per bit of r, or a restoring division step per
            // quotient bit.
            let per = match op {
                TensorOp::LayerNorm(ln) => ln.r_bits(n) as u64,
                _ => SOFTMAX_RECIP_BITS as u64 + 1,
            };
            rows * (3 * n as u64 + per) + 1
        }
        _ => 0,
    }
}

/// Reads element `idx` (a 32-bit element index expression) of input `k`, port `bus`
/// (elements of type `t`), as a signed `w`-bit wire `name`: through a multiplexer on the bus,
/// or, for a stored tensor, an address out and the element back.
fn read(u: &mut Unit, k: usize, name: &str, bus: &str, idx: &str, t: &Type, w: u32) {
    let (b, spike) = match t.elem {
        Elem::Spike => (1, true),
        _ => (t.elem_bits().unwrap_or(1), false),
    };
    let l = &mut u.l;
    if u.io.streamed.get(k).copied().unwrap_or(false) {
        u.ports.push(format!("output wire [31:0] {bus}_addr"));
        u.ports.push(format!("input  wire [{b}-1:0] {bus}_data"));
        l.push(format!("assign {bus}_addr = {idx};"));
        l.push(format!("wire [{b}-1:0] {name}_raw = {bus}_data;"));
    } else {
        let total = t.len() * b as usize;
        u.ports.push(format!("input  wire [{total}-1:0] {bus}"));
        select(
            l,
            &format!("{name}_raw"),
            bus,
            total,
            &format!("({idx}) * 32'd{b}"),
            b as usize,
        );
    }
    let v = if spike {
        format!("{{{}'d0, {name}_raw}}", w - 1)
    } else {
        sext(&format!("{name}_raw"), b, w)
    };
    l.push(format!("wire signed [{w}-1:0] {name} = {v};"));
}

/// `dst`: `w` bits of `bus` (`total` bits wide) from the bit offset `off` (a 32-bit
/// expression), narrowed to the bus's index width (the high bits named unused for lint).
fn select(l: &mut Vec<String>, dst: &str, bus: &str, total: usize, off: &str, w: usize) {
    let ow = cw(total);
    l.push(format!("wire [31:0] {dst}_at = {off};"));
    narrow(l, &format!("{dst}_o"), &format!("{dst}_at"), ow);
    l.push(format!("wire [{w}-1:0] {dst} = {bus}[{dst}_o +: {w}];"));
}

/// `name`: the low `w` bits of the 32-bit `src` (an index or address computed in 32 bits);
/// the bits above are marked unused, so lint stays clean.
fn narrow(l: &mut Vec<String>, name: &str, src: &str, w: u32) {
    l.push(format!("wire [{w}-1:0] {name} = {src}[{w}-1:0];"));
    if w < 32 {
        l.push(format!(
            "wire [{}-1:0] unused_{src} = {src}[31:{w}];",
            32 - w
        ));
    }
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
    io: &Io,
) -> Result<(Vec<(String, String)>, u64), String> {
    let ob = out.elem_bits().unwrap_or(1);
    let mut u = Unit {
        l: Vec::new(),
        ports: Vec::new(),
        io,
        store: Store {
            n: out.len(),
            w: ob,
            ports: io.read_ports,
        },
    };
    u.store.decl(&mut u.l);
    let doc = match op {
        TensorOp::IntMatmul { ta, tb } => {
            matmul(&mut u, ins, *ta, *tb, ob)?;
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
            softmax(&mut u, sm, ins[0], ob);
            format!(
                "Softmax along the last axis of {:?}: max, exp table ({} entries), sum, \
                 reciprocal floor(2^32 / sum) by restoring division, products rounded to {} \
                 fractional bits; one element per cycle, three passes per row.",
                ins[0].shape,
                sm.exp.len(),
                sm.frac
            )
        }
        TensorOp::LayerNorm(ln) => {
            layer_norm(&mut u, ln, ins[0], ob);
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
    let mut ports = u.ports;
    ports.extend(u.store.ports());
    let text = render(&UnitV {
        header: header.to_string(),
        doc: if io.read_ports > 0 {
            format!(
                "{doc} The result is a memory written one element a cycle, read through {} \
                 asynchronous port(s).",
                io.read_ports
            )
        } else {
            doc
        },
        module: module.to_string(),
        latency: lat,
        ports,
        lines: u.l,
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

fn matmul(u: &mut Unit, ins: &[&Type], ta: bool, tb: bool, yb: u32) -> Result<(), String> {
    let d = TensorOp::matmul_dims(ins[0], ins[1], ta, tb)?;
    let (m, k, n) = (d.m, d.k, d.n);
    u.l.push("reg busy;".into());
    let bw = counter(&mut u.l, "bt", d.batch);
    let iw = counter(&mut u.l, "i", m);
    let jw = counter(&mut u.l, "j", n);
    let kw = counter(&mut u.l, "kk", k);
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
    read(u, 0, "av", "a", &a_idx, ins[0], aw);
    read(u, 1, "bv", "b", &b_idx, ins[1], bwid);
    // Products and partial sums in one width holding both; every partial sum fits `yb`.
    let xw = (aw + bwid).max(yb);
    u.l.push(format!(
        "wire signed [{xw}-1:0] prod = $signed({}) * $signed({});",
        sext("av", aw, xw),
        sext("bv", bwid, xw)
    ));
    u.l.push(format!("reg signed [{yb}-1:0] acc;"));
    u.l.push(format!(
        "wire signed [{xw}-1:0] acc_in = kk == {} ? {} : {};",
        ulit(0, kw),
        signed_lit(0, xw),
        sext("acc", yb, xw)
    ));
    u.l.push(format!("wire signed [{xw}-1:0] total = acc_in + prod;"));
    if xw > yb {
        u.l.push(format!(
            "wire [{}-1:0] unused_total = total[{xw}-1:{yb}];",
            xw - yb
        ));
    }
    u.l.push(format!("wire [{yb}-1:0] el = total[{yb}-1:0];"));
    let inc = |c: &str, w: u32| format!("{c} <= {c} + {};", ulit(1, w));
    u.l.extend([
        "always @(posedge clk) begin".into(),
        "    done <= 1'b0;".into(),
        "    if (rst) begin".into(),
        "        busy <= 1'b0;".into(),
        "    end else if (start) begin".into(),
        "        busy <= 1'b1;".into(),
        format!(
            "        bt <= {}; i <= {}; j <= {}; kk <= {};{}",
            ulit(0, bw),
            ulit(0, iw),
            ulit(0, jw),
            ulit(0, kw),
            u.store.reset()
        ),
        "    end else if (busy) begin".into(),
        "        acc <= el;".into(),
        "        if (kk_last) begin".into(),
        format!("            {}", u.store.put("el")),
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
fn row_reader(u: &mut Unit, x: &Type) -> (u32, u32, usize, usize) {
    let n = x.shape.last().copied().unwrap_or(1).max(1);
    let rows = x.len() / n;
    u.l.push("reg busy;".into());
    u.l.push("reg [1:0] ph;".into());
    counter(&mut u.l, "row", rows);
    let cwid = counter(&mut u.l, "c", n);
    let xw = signed_bits(x);
    let idx = format!(
        "{} * 32'd{n} + {}",
        ext32("row", cw(rows)),
        ext32("c", cwid)
    );
    read(u, 0, "xv", "x", &idx, x, xw);
    (cwid, xw, n, rows)
}

/// The row-stepping state machine: `phases[p]` is the body of phase `p` (the column counter
/// runs over the row in every phase but the one at `fixed`, which lasts until its own exit);
/// the last phase shifts an element out and moves to the next row.
fn row_fsm(u: &mut Unit, cwid: u32, rows: usize, phases: [Vec<String>; 4], fixed: usize) {
    let rw = cw(rows);
    let mut body = vec![
        "always @(posedge clk) begin".to_string(),
        "    done <= 1'b0;".into(),
        "    if (rst) begin".into(),
        "        busy <= 1'b0;".into(),
        "    end else if (start) begin".into(),
        format!(
            "        busy <= 1'b1; ph <= 2'd0; row <= {}; c <= {};{}",
            ulit(0, rw),
            ulit(0, cwid),
            u.store.reset()
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
    u.l.extend(body);
}

fn softmax(u: &mut Unit, sm: &Softmax, x: &Type, ob: u32) {
    let (cwid, xw, n, rows) = row_reader(u, x);
    let len = sm.exp.len();
    let eb = ubits(sm.exp[0] as i128);
    let db = cw(len);
    let sb = ubits(sm.exp[0] as i128 * n as i128);
    let rb = SOFTMAX_RECIP_BITS + 1;
    let sh = SOFTMAX_RECIP_BITS - sm.frac;
    u.l.push(format!("reg signed [{xw}-1:0] m;"));
    // d = m - x >= 0 once m is the row's maximum; clamped to the table's last entry.
    u.l.push(format!(
        "wire signed [{}-1:0] d = {} - {};",
        xw + 1,
        sext("m", xw, xw + 1),
        sext("xv", xw, xw + 1)
    ));
    let dmax = (1i128 << xw) - 1;
    if dmax > len as i128 - 1 {
        u.l.push(format!(
            "wire [{db}-1:0] dc = d > {} ? {} : d[{db}-1:0];",
            signed_lit(len as i64 - 1, xw + 1),
            ulit(len as i128 - 1, db)
        ));
        if xw + 1 > db {
            u.l.push(format!(
                "wire [{}-1:0] unused_d = d[{xw}:{db}];",
                xw + 1 - db
            ));
        }
    } else {
        // Every difference indexes the table directly.
        u.l.push(format!(
            "wire [{db}-1:0] dc = {};",
            if db > xw {
                format!("{{{}'d0, d[{xw}-1:0]}}", db - xw)
            } else {
                format!("d[{db}-1:0]")
            }
        ));
        u.l.push(format!("wire unused_d = d[{xw}];"));
    }
    u.l.extend(rom("exp_rom", &sm.exp, eb, db, false));
    u.l.push(format!("wire [{eb}-1:0] e = exp_rom(dc);"));
    u.l.push(format!("reg [{sb}-1:0] s;"));
    u.l.push(format!("reg [{rb}-1:0] r;"));
    // r = floor(2^32 / s) by restoring division, one quotient bit a cycle (33 cycles): the
    // dividend's only set bit is its first. The remainder stays below s.
    u.l.push(format!("reg [{sb}-1:0] rem;"));
    u.l.push("reg [5:0] qk;".into());
    u.l.push(format!("wire [{sb}:0] trial = {{rem, qk == 6'd0}};"));
    u.l.push("wire take = trial >= {1'b0, s};".into());
    u.l.push(format!("wire [{sb}:0] diff = trial - {{1'b0, s}};"));
    u.l.push(format!("wire unused_diff = diff[{sb}];"));
    let pw = eb + rb + 1;
    u.l.push(format!(
        "wire [{pw}-1:0] prod = {{{}'d0, e}} * {{{}'d0, r}} + {};",
        pw - eb,
        pw - rb,
        ulit(1i128 << (sh - 1), pw)
    ));
    let qb = pw - sh;
    u.l.push(format!("wire [{sh}-1:0] unused_prod = prod[{sh}-1:0];"));
    u.l.push(format!("wire [{qb}-1:0] q = prod[{pw}-1:{sh}];"));
    let hi = ulit(sm.hi as i128, qb.max(ubits(sm.hi as i128)));
    let qx = if qb >= ubits(sm.hi as i128) {
        "q".to_string()
    } else {
        format!("{{{}'d0, q}}", ubits(sm.hi as i128) - qb)
    };
    let qxw = qb.max(ubits(sm.hi as i128));
    u.l.push(format!("wire [{qxw}-1:0] sat = {qx} > {hi} ? {hi} : {qx};"));
    let el = if qxw >= ob {
        if qxw > ob {
            u.l.push(format!(
                "wire [{}-1:0] unused_sat = sat[{qxw}-1:{ob}];",
                qxw - ob
            ));
        }
        format!("sat[{ob}-1:0]")
    } else {
        format!("{{{}'d0, sat}}", ob - qxw)
    };
    u.l.push(format!("wire [{ob}-1:0] el = {el};"));
    let s_in = if sb > eb {
        format!("{{{}'d0, e}}", sb - eb)
    } else {
        "e".into()
    };
    row_fsm(
        u,
        cwid,
        rows,
        [
            vec![format!("m <= (c == {} || xv > m) ? xv : m;", ulit(0, cwid))],
            vec![
                format!(
                    "s <= (c == {} ? {} : s) + {s_in};",
                    ulit(0, cwid),
                    ulit(0, sb)
                ),
                format!("if (c_last) begin rem <= {}; qk <= 6'd0; end", ulit(0, sb)),
            ],
            vec![
                format!("rem <= take ? diff[{sb}-1:0] : trial[{sb}-1:0];"),
                format!("r <= {{r[{}:0], take}};", rb - 2),
                format!(
                    "if (qk == 6'd{}) ph <= 2'd3; else qk <= qk + 6'd1;",
                    SOFTMAX_RECIP_BITS
                ),
            ],
            vec![u.store.put("el")],
        ],
        2,
    );
}

fn layer_norm(u: &mut Unit, ln: &LayerNorm, x: &Type, ob: u32) {
    let (cwid, xw, n, rows) = row_reader(u, x);
    let (lo, hi) = x.elem_range().unwrap_or((0, 1));
    let vmax = ln.bounds(n, (lo, hi)).1;
    let nn = n as i128;
    // Sums and n x share one width holding both (and n itself).
    let sw = signed_width(nn * lo as i128, nn * hi as i128).max(signed_width(0, nn));
    let dw = sw + 1;
    let vw = ubits(vmax);
    let rbits = ln.r_bits(n);
    let kbw = cw(rbits as usize);
    u.l.push(format!("reg signed [{sw}-1:0] s;"));
    u.l.push(format!(
        "wire signed [{sw}-1:0] nx = $signed({}) * {};",
        sext("xv", xw, sw),
        signed_lit(n as i64, sw)
    ));
    u.l.push(format!(
        "wire signed [{dw}-1:0] dv = {} - {};",
        sext("nx", sw, dw),
        sext("s", sw, dw)
    ));
    let qw = (2 * dw).max(vw + 1);
    u.l.push(format!(
        "wire signed [{qw}-1:0] sq = $signed({}) * $signed({});",
        sext("dv", dw, qw),
        sext("dv", dw, qw)
    ));
    u.l.push(format!("wire [{vw}-1:0] sq_v = sq[{vw}-1:0];"));
    u.l.push(format!(
        "wire [{}-1:0] unused_sq = sq[{qw}-1:{vw}];",
        qw - vw
    ));
    u.l.push(format!("reg [{vw}-1:0] v;"));
    // Bisection: r keeps each bit, from the top, whose candidate still has cand^2 v <= n 4^frac.
    let target = ln.target(n);
    let cw2 = (2 * rbits + vw).max(ubits(target)) + 1;
    u.l.push(format!("reg [{rbits}-1:0] r;"));
    u.l.push(format!("reg [{kbw}-1:0] kb;"));
    u.l.push(format!(
        "wire [{rbits}-1:0] cand = r | ({} << kb);",
        ulit(1, rbits)
    ));
    u.l.push(format!(
        "wire [{cw2}-1:0] cand_sq = {{{}'d0, cand}} * {{{}'d0, cand}};",
        cw2 - rbits,
        cw2 - rbits
    ));
    u.l.push(format!(
        "wire [{cw2}-1:0] cand_v = cand_sq * {{{}'d0, v}};",
        cw2 - vw
    ));
    u.l.push(format!("wire fits = cand_v <= {};", ulit(target, cw2)));
    // z = D r, then the affine and the requantiser.
    let zw = dw + rbits + 1;
    u.l.push(format!(
        "wire signed [{zw}-1:0] z = $signed({}) * $signed({{{}'d0, r}});",
        sext("dv", dw, zw),
        zw - rbits
    ));
    let (mb, ab) = (widest_constant(&ln.mul), widest_constant(&ln.add));
    let pw = (zw + mb).max(ab).max(ln.shift + 2) + 1;
    let per_channel = |name: &str, vals: &[i64], w: u32, l: &mut Vec<String>| -> String {
        if vals.len() == 1 {
            signed_lit(vals[0], w)
        } else {
            l.extend(rom(name, vals, w, cwid, true));
            format!("{name}(c)")
        }
    };
    let mul = per_channel("mul_rom", &ln.mul, mb, &mut u.l);
    let add = per_channel("add_rom", &ln.add, ab, &mut u.l);
    u.l.push(format!("wire signed [{mb}-1:0] mul_c = {mul};"));
    u.l.push(format!("wire signed [{ab}-1:0] add_c = {add};"));
    u.l.push(format!(
        "wire signed [{pw}-1:0] p = $signed({}) * $signed({}) + $signed({});",
        sext("z", zw, pw),
        sext("mul_c", mb, pw),
        sext("add_c", ab, pw)
    ));
    u.l.push(format!("wire [{ob}-1:0] el;"));
    u.l.extend(round_clamp(
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
    row_fsm(
        u,
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
            vec![u.store.put("el")],
        ],
        2,
    );
}

/// The constant operand of a matmul that can be built as hardwired rows: `A B` (or `A B^T`)
/// with `B` a `const` node and no batch axes.
pub fn hardwired_operand(g: &crate::ir::Graph, id: crate::ir::NodeId) -> Option<crate::ir::NodeId> {
    use crate::ir::Op;
    let node = g.node(id);
    let Op::Tensor(TensorOp::IntMatmul { ta: false, tb }) = &node.op else {
        return None;
    };
    let b = node.inputs.get(1)?.node;
    let a = &g.node(node.inputs[0].node).ty;
    let d = TensorOp::matmul_dims(a, &g.node(b).ty, false, *tb).ok()?;
    (d.batch == 1 && matches!(g.node(b).op, Op::Tensor(TensorOp::Const { .. }))).then_some(b)
}

/// Cycles from start to done of a matmul built as hardwired rows: one row of `A` a cycle.
pub fn rows_latency(a: &Type) -> u64 {
    let k = a.shape.last().copied().unwrap_or(1).max(1);
    (a.len() / k) as u64 + 1
}

/// `A B` with constant `B` (`data`, shape `[k, n]`, or `[n, k]` when `tb`) as one hardwired
/// shift-add block (`crate::opt::cmvm`) computing a whole output row from a row of `A`, stepped
/// over the rows: the projections of a transformer with their weights in logic, `m + 1`
/// cycles instead of `m n k + 1`.
pub fn rows_files(
    module: &str,
    header: &str,
    (a, b): (&Type, &Type),
    data: &[i64],
    tb: bool,
    out: &Type,
) -> (Vec<(String, String)>, u64) {
    let k = a.shape.last().copied().unwrap_or(1).max(1);
    let m = a.len() / k;
    let n = out.shape.last().copied().unwrap_or(1).max(1);
    let yb = out.elem_bits().unwrap_or(1);
    // Row j of the block's matrix is output j: B's column j.
    let w: Vec<i64> = (0..n)
        .flat_map(|j| {
            (0..k).map(move |kk| {
                if tb {
                    data[j * k + kk]
                } else {
                    data[kk * n + j]
                }
            })
        })
        .collect();
    let (lo, hi) = a.elem_range().unwrap_or((0, 1));
    let bus = match a.elem {
        Elem::Spike => InputBus::Spikes,
        _ => InputBus::Signed {
            bits: a.elem_bits().unwrap_or(1),
        },
    };
    let ab = match bus {
        InputBus::Spikes => 1,
        InputBus::Signed { bits } => bits,
    };
    let (graph, st) =
        crate::opt::cmvm::solve(&w, n, &vec![Interval::new(lo as i128, hi as i128); k]);
    let block = format!("{module}_rows");
    let (block_v, _) = hardwired::module(
        &block,
        &format!("{header}: one output row of {n} from a row of {k}"),
        &graph,
        st,
        &vec![0; n],
        bus,
        yb,
        None,
    );
    let mut l = vec![
        format!("reg [{}*{yb}-1:0] y_r;", out.len()),
        "assign y = y_r;".into(),
        "reg busy;".into(),
    ];
    let iw = counter(&mut l, "i", m);
    let total = a.len() * ab as usize;
    select(
        &mut l,
        "row",
        "a",
        total,
        &format!("{} * 32'd{}", ext32("i", iw), k * ab as usize),
        k * ab as usize,
    );
    l.push(format!("wire [{n}*{yb}-1:0] row_y;"));
    l.push(format!("{block} u_rows (.x(row), .y(row_y));"));
    let shift = if m == 1 {
        "y_r <= row_y;".to_string()
    } else {
        format!("y_r <= {{row_y, y_r[{}*{yb}-1:{n}*{yb}]}};", out.len())
    };
    l.extend([
        "always @(posedge clk) begin".into(),
        "    done <= 1'b0;".into(),
        "    if (rst) begin".into(),
        "        busy <= 1'b0;".into(),
        "    end else if (start) begin".into(),
        format!("        busy <= 1'b1; i <= {};", ulit(0, iw)),
        "    end else if (busy) begin".into(),
        format!("        {shift}"),
        "        if (i_last) begin busy <= 1'b0; done <= 1'b1; end".into(),
        format!("        else i <= i + {};", ulit(1, iw)),
        "    end".into(),
        "end".into(),
    ]);
    let lat = rows_latency(a);
    let text = render(&UnitV {
        header: header.to_string(),
        doc: format!(
            "Matrix product by a constant {}[{k} x {n}], hardwired: a shift-add block turns one \
             row of A ({:?}) into one row of the result each cycle.",
            if tb { "transposed " } else { "" },
            a.shape
        ),
        module: module.to_string(),
        latency: lat,
        ports: vec![
            format!("input  wire [{total}-1:0] a"),
            format!(
                "input  wire [{}-1:0] b",
                b.len() * b.elem_bits().unwrap_or(1) as usize
            ),
            format!("output wire [{}-1:0] y", out.len() * yb as usize),
        ],
        lines: {
            // The constant's bus is in the port list for a uniform interface; its values are
            // in the block.
            l.push("wire unused_b = &{1'b0, b};".into());
            l
        },
    });
    (
        vec![
            (format!("{module}.v"), text),
            (format!("{block}.v"), block_v),
        ],
        lat,
    )
}
