//! Prints a graph as `.sfir` text, losslessly (the parser reads back the same graph).

use crate::ir::graph::Graph;
use crate::ir::op::{Compare, Conv, Op, Reset, Tensor};
use crate::ir::tensor_ops::TensorOp;
use std::fmt::Write;

pub(super) fn graph(g: &Graph) -> String {
    let mut out = String::from("graph ");
    name(&mut out, &g.name);
    out.push_str(" {\n");
    for node in &g.nodes {
        out.push_str("  %");
        name(&mut out, &node.name);
        // Writing to a String cannot fail.
        let _ = write!(out, ": {} = {}", node.ty, node.op.keyword());
        if !node.inputs.is_empty() {
            out.push('(');
            for (k, p) in node.inputs.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                out.push('%');
                match g.nodes.get(p.node.index()) {
                    Some(src) => name(&mut out, &src.name),
                    // A dangling port cannot be printed faithfully; verify reports it.
                    None => name(&mut out, &format!("<missing #{}>", p.node.0)),
                }
                if p.delayed {
                    out.push_str("@prev");
                }
            }
            out.push(')');
        }
        let mut a = Attrs::new(&mut out);
        match &node.op {
            Op::Input | Op::Output => {}
            Op::Affine { weight, bias } => {
                a.matrix("weight", weight);
                a.vector("bias", bias);
            }
            Op::Linear { weight } => a.matrix("weight", weight),
            Op::Scale { scale } => a.vector("scale", scale),
            Op::Delay { delay } => a.vector("delay", delay),
            Op::Conv(c) => a.conv(c),
            Op::IntConv(ic) => {
                a.conv(&ic.conv);
                a.vector("scale", &ic.scale);
            }
            Op::Pool(p) => {
                a.vector("kernel", &as_i64(&p.kernel));
                a.vector("stride", &as_i64(&p.stride));
                a.vector("padding", &as_i64(&p.padding));
                a.vector("in_shape", &as_i64(&p.in_shape));
            }
            Op::IntDelay { steps } => a.vector("steps", steps),
            Op::MultiThreshold(mt) => a.matrix("thresholds", &mt.thresholds),
            Op::Tensor(t) => match t {
                TensorOp::And | TensorOp::Add => {}
                TensorOp::Popcount { axis } => a.scalar("axis", &(*axis as u32)),
                TensorOp::Matmul { ta, tb } => {
                    a.word("ta", if *ta { "true" } else { "false" });
                    a.word("tb", if *tb { "true" } else { "false" });
                }
                TensorOp::OrPool { kernel, stride } => {
                    a.vector("kernel", &as_i64(kernel));
                    a.vector("stride", &as_i64(stride));
                }
                TensorOp::Transpose { perm } => a.vector("perm", &as_i64(perm)),
                TensorOp::Requant(r) => {
                    a.vector("mul", &r.mul);
                    a.scalar("shift", &r.shift);
                    a.word("rounding", r.rounding.word());
                    a.vector("range", &[r.lo, r.hi]);
                }
                TensorOp::IntMatmul { ta, tb } => {
                    a.word("ta", if *ta { "true" } else { "false" });
                    a.word("tb", if *tb { "true" } else { "false" });
                }
                TensorOp::Const { shape, data } => {
                    a.vector("shape", &as_i64(shape));
                    a.vector("data", data);
                }
                TensorOp::Softmax(sm) => {
                    a.vector("exp", &sm.exp);
                    a.scalar("frac", &sm.frac);
                    a.scalar("hi", &sm.hi);
                }
                TensorOp::LayerNorm(ln) => {
                    a.scalar("eps", &ln.eps);
                    a.scalar("frac", &ln.frac);
                    a.vector("mul", &ln.mul);
                    a.vector("add", &ln.add);
                    a.scalar("shift", &ln.shift);
                    a.word("rounding", ln.rounding.word());
                    a.vector("range", &[ln.lo, ln.hi]);
                }
            },
            Op::Neuron(nr) => {
                for (field, v) in nr.fields() {
                    a.vector(field, v);
                }
                if nr.kind.spikes() {
                    a.word("reset", reset_word(nr.reset));
                    a.word("compare", compare_word(nr.compare));
                }
            }
            Op::Dense(d) => {
                a.matrix("weight", &d.weight);
                a.vector("bias", &d.bias);
                a.vector("scale", &d.scale);
            }
            Op::IntNeuron(nr) => {
                a.word("reset", reset_word(nr.reset));
                a.word("compare", compare_word(nr.compare));
                a.scalar("frac_bits", &nr.frac_bits);
                a.vector("syn_decay", &nr.syn_decay);
                a.vector("mem_decay", &nr.mem_decay);
                a.vector("bias", &nr.bias);
                a.vector("threshold", &nr.threshold);
                a.vector("v_reset", &nr.v_reset);
                a.scalar("syn_bits", &nr.syn_bits);
                a.scalar("mem_bits", &nr.mem_bits);
                a.word("saturate", if nr.saturate { "true" } else { "false" });
                a.vector("scale", &nr.scale);
            }
        }
        a.finish();
        out.push('\n');
    }
    out.push_str("}\n");
    out
}

/// Sizes print as integers; they always fit `i64` because they index allocated memory.
fn as_i64(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

pub(super) fn reset_word(r: Reset) -> &'static str {
    match r {
        Reset::Zero => "zero",
        Reset::Subtract => "subtract",
        Reset::ZeroNext => "zero_next",
        Reset::SubtractNext => "subtract_next",
    }
}

pub(super) fn compare_word(c: Compare) -> &'static str {
    match c {
        Compare::Gt => "gt",
        Compare::Ge => "ge",
    }
}

/// True when `s` can be written without quotes.
pub(super) fn is_bare(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Writes a node or graph name, bare when possible and quoted (with escapes) otherwise.
pub(super) fn name(out: &mut String, s: &str) {
    if is_bare(s) {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            // Other control characters would be invisible or break the line structure.
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `name` as it appears in the source, for error messages.
pub(super) fn name_string(s: &str) -> String {
    let mut out = String::new();
    name(&mut out, s);
    out
}

/// A literal element: floats via `{:?}` (lossless, always with `.` or `e`), ints via `{}`.
pub(super) trait Lit {
    fn lit(&self, out: &mut String);
    /// Equality for splat detection: bitwise for floats, so `-0.0` and `0.0` stay distinct, but
    /// all NaNs are alike since they all print as `NaN` (the text is then stable on reprinting).
    fn same(&self, other: &Self) -> bool;
}

impl Lit for f64 {
    fn lit(&self, out: &mut String) {
        let _ = write!(out, "{self:?}");
    }
    fn same(&self, other: &Self) -> bool {
        self.to_bits() == other.to_bits() || (self.is_nan() && other.is_nan())
    }
}

impl Lit for i64 {
    fn lit(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

impl Lit for u32 {
    fn lit(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

fn vector<T: Lit>(out: &mut String, v: &[T]) {
    match v {
        [first, rest @ ..] if !rest.is_empty() && rest.iter().all(|x| x.same(first)) => {
            out.push('[');
            first.lit(out);
            let _ = write!(out, "; {}]", v.len());
        }
        _ => {
            out.push('[');
            for (k, x) in v.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                x.lit(out);
            }
            out.push(']');
        }
    }
}

/// Writes the `{name = value, ...}` block, omitted entirely when an op has no attributes.
struct Attrs<'o> {
    out: &'o mut String,
    any: bool,
}

impl<'o> Attrs<'o> {
    fn new(out: &'o mut String) -> Self {
        Attrs { out, any: false }
    }

    fn key(&mut self, k: &str) {
        self.out.push_str(if self.any { ", " } else { " {" });
        self.any = true;
        self.out.push_str(k);
        self.out.push_str(" = ");
    }

    fn word(&mut self, k: &str, w: &str) {
        self.key(k);
        self.out.push_str(w);
    }

    fn scalar<T: Lit>(&mut self, k: &str, x: &T) {
        self.key(k);
        x.lit(self.out);
    }

    fn vector<T: Lit>(&mut self, k: &str, v: &[T]) {
        self.key(k);
        vector(self.out, v);
    }

    fn matrix<T: Lit + Copy>(&mut self, k: &str, t: &Tensor<T>) {
        self.key(k);
        self.out.push('<');
        for (d, n) in t.shape.iter().enumerate() {
            if d > 0 {
                self.out.push('x');
            }
            let _ = write!(self.out, "{n}");
        }
        self.out.push('>');
        vector(self.out, &t.data);
    }

    /// A convolution's weights, bias and geometry, float or integer.
    fn conv<T: Lit + Copy>(&mut self, c: &Conv<T>) {
        self.matrix("weight", &c.weight);
        self.vector("bias", &c.bias);
        self.vector("in_shape", &as_i64(&c.in_shape));
        self.vector("stride", &as_i64(&c.stride));
        self.vector("padding", &as_i64(&c.padding));
        self.vector("dilation", &as_i64(&c.dilation));
        self.scalar("groups", &(c.groups as i64));
    }

    fn finish(self) {
        if self.any {
            self.out.push('}');
        }
    }
}
