//! Which tensors of the multi-cycle units live in memories rather than registers, and the
//! element reads that reach them. A unit's result read only by other units (directly, or
//! through requantisers, adds and transposes, which are then computed per element read) is a
//! memory written one element a cycle with an asynchronous read port per reader: LUT RAM
//! instead of a flip-flop per bit, and an address instead of a wide multiplexer. Stages run one
//! after another, so a memory is complete before anything reads it.

use super::names::Namer;
use super::signed_lit;
use super::tensor::{round_clamp, sext};
use super::LayerArch;
use crate::ir::tensor_ops::{strides, TensorOp};
use crate::ir::{Elem, Graph, NodeId, Op, Type};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A bus of wires or registers, as every tensor outside this scheme.
    Bus,
    /// A unit's result in a memory with read ports.
    Memory,
    /// A requantiser, add or transpose computed per element where it is read.
    Virtual,
}

fn serial(g: &Graph, arch: &[LayerArch], id: NodeId) -> bool {
    matches!(&g.node(id).op, Op::Tensor(t) if t.sequential())
        && arch[id.index()] == LayerArch::Serial
}

/// The kind of every node (reverse topological order: readers first).
pub fn kinds(g: &Graph, arch: &[LayerArch], delayed: &BTreeSet<NodeId>) -> Vec<Kind> {
    let mut kind = vec![Kind::Bus; g.nodes.len()];
    let mut readers: Vec<Vec<(NodeId, bool)>> = vec![Vec::new(); g.nodes.len()];
    for id in g.ids() {
        for p in &g.node(id).inputs {
            readers[p.node.index()].push((id, p.delayed));
        }
    }
    let ids: Vec<NodeId> = g.ids().collect();
    for &id in ids.iter().rev() {
        let node = g.node(id);
        let candidate = match &node.op {
            Op::Tensor(_) if serial(g, arch, id) => Kind::Memory,
            Op::Tensor(TensorOp::Requant(_) | TensorOp::Add | TensorOp::Transpose { .. })
                if node.inputs.iter().all(|p| !p.delayed) =>
            {
                Kind::Virtual
            }
            _ => continue,
        };
        let r = &readers[id.index()];
        let ok = !delayed.contains(&id)
            && !r.is_empty()
            && r.iter().all(|&(rd, del)| {
                !del && (serial(g, arch, rd) || kind[rd.index()] == Kind::Virtual)
            });
        if ok {
            kind[id.index()] = candidate;
        }
    }
    kind
}

/// The wires of the memories' reads.
#[derive(Default)]
pub struct Wiring {
    /// Declarations of every read port's wires, emitted before any instance.
    pub decls: Vec<String>,
    /// Per node: the lines computing a unit's streamed operands (before its instance).
    pub reads: Vec<Vec<String>>,
    /// Per node and input: the (address, data) wires of a streamed operand.
    pub operand: Vec<Vec<Option<(String, String)>>>,
    /// Per memory node: its read ports' (address, data) wires.
    pub ports: Vec<Vec<(String, String)>>,
}

fn bits(t: &Type) -> u32 {
    t.elem_bits().unwrap_or(1)
}

/// `a / d` and `a % d` on 32-bit values, as shifts and masks for powers of two.
fn div(a: &str, d: usize) -> String {
    if d == 1 {
        a.to_string()
    } else if d.is_power_of_two() {
        format!("({a} >> {})", d.trailing_zeros())
    } else {
        format!("({a} / 32'd{d})")
    }
}

fn rem(a: &str, d: usize) -> String {
    if d.is_power_of_two() {
        format!("({a} & 32'd{})", d - 1)
    } else {
        format!("({a} % 32'd{d})")
    }
}

fn mul(a: &str, d: usize) -> String {
    match d {
        1 => a.to_string(),
        d if d.is_power_of_two() => format!("({a} << {})", d.trailing_zeros()),
        d => format!("({a} * 32'd{d})"),
    }
}

struct Builder<'a> {
    g: &'a Graph,
    kind: &'a [Kind],
    sig: &'a [String],
    namer: &'a mut Namer,
    w: Wiring,
}

impl Builder<'_> {
    /// A wire holding element `addr` (a 32-bit wire) of node `id`'s tensor, in its type's bits;
    /// lines go to `l`.
    fn elem(&mut self, id: NodeId, addr: &str, l: &mut Vec<String>) -> String {
        let node = self.g.node(id);
        let ty = &node.ty;
        let b = bits(ty);
        let s = &self.sig[id.index()];
        match self.kind[id.index()] {
            Kind::Memory => {
                let p = self.w.ports[id.index()].len();
                let a = self.namer.fresh(&format!("{s}_r{p}_addr"));
                let d = self.namer.fresh(&format!("{s}_r{p}_data"));
                self.w.decls.push(format!("wire [31:0] {a};"));
                self.w.decls.push(format!("wire [{b}-1:0] {d};"));
                l.push(format!("assign {a} = {addr};"));
                self.w.ports[id.index()].push((a, d.clone()));
                d
            }
            Kind::Bus => {
                let d = self.namer.fresh(&format!("{s}_at"));
                let total = ty.len() * b as usize;
                let ow = (usize::BITS - total.saturating_sub(1).leading_zeros()).max(1);
                let o = self.namer.fresh(&format!("{s}_off"));
                l.push(format!("wire [31:0] {o} = {};", mul(addr, b as usize)));
                let (lo, unused) = (
                    format!("{o}[{ow}-1:0]"),
                    self.namer.fresh(&format!("unused_{o}")),
                );
                if ow < 32 {
                    l.push(format!("wire [{}-1:0] {unused} = {o}[31:{ow}];", 32 - ow));
                }
                l.push(format!("wire [{b}-1:0] {d} = {s}[{lo} +: {b}];"));
                d
            }
            Kind::Virtual => {
                let Op::Tensor(t) = &node.op else {
                    return String::new();
                };
                let d = self.namer.fresh(&format!("{s}_at"));
                match t {
                    TensorOp::Transpose { perm } => {
                        let shape = &self.g.node(node.inputs[0].node).ty.shape;
                        let out: Vec<usize> = perm.iter().map(|&k| shape[k]).collect();
                        let (so, si) = (strides(&out), strides(shape));
                        let terms: Vec<String> = (0..out.len())
                            .map(|k| mul(&rem(&div(addr, so[k]), out[k]), si[perm[k]]))
                            .collect();
                        let a2 = self.namer.fresh(&format!("{s}_src"));
                        l.push(format!("wire [31:0] {a2} = {};", terms.join(" + ")));
                        let x = self.elem(node.inputs[0].node, &a2, l);
                        l.push(format!("wire [{b}-1:0] {d} = {x};"));
                    }
                    TensorOp::Add => {
                        let shape = ty.shape.clone();
                        let mut terms = Vec::new();
                        for p in &node.inputs {
                            let it = self.g.node(p.node).ty.clone();
                            let (sa, sb) = (strides(&shape), strides(&it.shape));
                            let idx: Vec<String> = (0..shape.len())
                                .filter(|&k| it.shape[k] != 1)
                                .map(|k| mul(&rem(&div(addr, sa[k]), shape[k]), sb[k]))
                                .collect();
                            let a2 = self.namer.fresh(&format!("{s}_src"));
                            l.push(format!(
                                "wire [31:0] {a2} = {};",
                                if idx.is_empty() {
                                    "32'd0".to_string()
                                } else {
                                    idx.join(" + ")
                                }
                            ));
                            let x = self.elem(p.node, &a2, l);
                            terms.push(match it.elem {
                                Elem::Spike => format!("{{{}'d0, {x}}}", b - 1),
                                _ => sext(&x, bits(&it), b),
                            });
                        }
                        l.push(format!("wire [{b}-1:0] {d} = {};", terms.join(" + ")));
                    }
                    TensorOp::Requant(rq) => {
                        let it = self.g.node(node.inputs[0].node).ty.clone();
                        let x = self.elem(node.inputs[0].node, addr, l);
                        let ib = match it.elem {
                            Elem::Spike => 2,
                            _ => bits(&it),
                        };
                        let xe = match it.elem {
                            Elem::Spike => {
                                let w = self.namer.fresh(&format!("{s}_x"));
                                l.push(format!("wire [1:0] {w} = {{1'b0, {x}}};"));
                                w
                            }
                            _ => x,
                        };
                        let (_, pw) = rq.widths(ib);
                        let m = if rq.mul.len() == 1 {
                            signed_lit(rq.mul[0], pw)
                        } else {
                            // The channel's multiplier, from a case over the channels.
                            let per = ty.len() / rq.mul.len();
                            let f = self.namer.fresh(&format!("{s}_mul"));
                            l.push(format!("function signed [{pw}-1:0] {f};"));
                            l.push("    input [31:0] c;".into());
                            l.push("    begin".into());
                            l.push("        case (c)".into());
                            for (c, &mv) in rq.mul.iter().enumerate() {
                                l.push(format!(
                                    "            32'd{c}: {f} = {};",
                                    signed_lit(mv, pw)
                                ));
                            }
                            l.push(format!("            default: {f} = {};", signed_lit(0, pw)));
                            l.push("        endcase".into());
                            l.push("    end".into());
                            l.push("endfunction".into());
                            format!("{f}({})", div(addr, per))
                        };
                        let p = self.namer.fresh(&format!("{s}_p"));
                        l.push(format!(
                            "wire signed [{pw}-1:0] {p} = $signed({}) * {m};",
                            sext(&xe, ib, pw)
                        ));
                        let pre = self.namer.fresh(&format!("{s}_"));
                        l.push(format!("wire [{b}-1:0] {d};"));
                        l.extend(round_clamp(
                            &p,
                            pw,
                            rq.rounding,
                            rq.shift,
                            rq.lo,
                            rq.hi,
                            b,
                            &pre,
                            &d,
                        ));
                    }
                    _ => {}
                }
                d
            }
        }
    }
}

/// The read wiring of every serial unit's streamed operands.
pub fn wire(
    g: &Graph,
    arch: &[LayerArch],
    kind: &[Kind],
    sig: &[String],
    namer: &mut Namer,
) -> Wiring {
    let n = g.nodes.len();
    let mut b = Builder {
        g,
        kind,
        sig,
        namer,
        w: Wiring {
            reads: vec![Vec::new(); n],
            operand: vec![Vec::new(); n],
            ports: vec![Vec::new(); n],
            ..Wiring::default()
        },
    };
    for id in g.ids() {
        if !serial(g, arch, id) {
            continue;
        }
        let mut ops = Vec::new();
        let mut lines = Vec::new();
        for (k, p) in g.node(id).inputs.iter().enumerate() {
            if kind[p.node.index()] == Kind::Bus {
                ops.push(None);
                continue;
            }
            let s = &sig[id.index()];
            let a = b.namer.fresh(&format!("{s}_in{k}_addr"));
            lines.push(format!("wire [31:0] {a};"));
            let d = b.elem(p.node, &a, &mut lines);
            // A tensor of one element ignores the address.
            let unused = b.namer.fresh(&format!("unused_{a}"));
            lines.push(format!("wire {unused} = &{{1'b0, {a}}};"));
            ops.push(Some((a, d)));
        }
        b.w.reads[id.index()] = lines;
        b.w.operand[id.index()] = ops;
    }
    b.w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Port, Requant, Rounding};

    /// x -> matmul(x, w1) -> requant -> matmul(., w2) -> output, and the first product also
    /// read `@prev` or not.
    fn chain(prev_read: bool) -> (Graph, [NodeId; 4]) {
        let mut g = Graph::new("t");
        let x = g.add(
            "x",
            Op::Input,
            vec![],
            Type::new(Elem::Fix { width: 4, frac: 0 }, vec![2, 3]),
        );
        let op = |shape: Vec<usize>| TensorOp::Const {
            data: vec![1; shape.iter().product()],
            shape,
        };
        let add = |g: &mut Graph, name: &str, t: TensorOp, ins: Vec<Port>| {
            let tys: Vec<Type> = ins.iter().map(|p| g.node(p.node).ty.clone()).collect();
            let ty = t.out_type(&tys.iter().collect::<Vec<_>>()).unwrap();
            g.add(name, Op::Tensor(t), ins, ty)
        };
        let w1 = add(&mut g, "w1", op(vec![3, 2]), vec![]);
        let m1 = add(
            &mut g,
            "m1",
            TensorOp::IntMatmul {
                ta: false,
                tb: false,
            },
            vec![Port::now(x), Port::now(w1)],
        );
        let rq = add(
            &mut g,
            "rq",
            TensorOp::Requant(Requant {
                mul: vec![1],
                shift: 1,
                rounding: Rounding::Floor,
                lo: -8,
                hi: 7,
            }),
            vec![Port::now(m1)],
        );
        let w2 = add(&mut g, "w2", op(vec![2, 2]), vec![]);
        let m2 = add(
            &mut g,
            "m2",
            TensorOp::IntMatmul {
                ta: false,
                tb: false,
            },
            vec![Port::now(rq), Port::now(w2)],
        );
        let ty = g.node(m2).ty.clone();
        g.add("y", Op::Output, vec![Port::now(m2)], ty);
        if prev_read {
            let ty = g.node(m1).ty.clone();
            g.add("z", Op::Output, vec![Port::prev(m1)], ty);
        }
        (g, [m1, rq, m2, w2])
    }

    #[test]
    fn unit_results_read_only_by_units_become_memories() {
        let (g, [m1, rq, m2, w2]) = chain(false);
        let arch = vec![LayerArch::Serial; g.nodes.len()];
        let k = kinds(&g, &arch, &BTreeSet::new());
        assert_eq!(k[m1.index()], Kind::Memory);
        assert_eq!(k[rq.index()], Kind::Virtual);
        // Read by the graph's output: registers, as a bus.
        assert_eq!(k[m2.index()], Kind::Bus);
        assert_eq!(k[w2.index()], Kind::Bus);
        // A product read by anything else (here a graph output, one step late) keeps its bus.
        let (g, [m1, rq, ..]) = chain(true);
        let arch = vec![LayerArch::Serial; g.nodes.len()];
        let k = kinds(&g, &arch, &[m1].into_iter().collect());
        assert_eq!((k[m1.index()], k[rq.index()]), (Kind::Bus, Kind::Virtual));
        // A reader built as hardwired rows takes a bus.
        let mut arch = vec![LayerArch::Serial; g.nodes.len()];
        arch[m2.index()] = LayerArch::Parallel;
        let (g, [m1, rq, m2, _]) = chain(false);
        let k = kinds(&g, &arch, &BTreeSet::new());
        assert_eq!(
            (k[m1.index()], k[rq.index()], k[m2.index()]),
            (Kind::Bus, Kind::Bus, Kind::Bus)
        );
    }
}
