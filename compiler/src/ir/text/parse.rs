//! Parses `.sfir` text into a [`Graph`] with `nom`, reporting the first error at its location.
//!
//! The grammar is LL(1), so every error is fatal (`nom::Err::Failure`) and carries the suffix of
//! the source where it occurred; [`locate`] turns that into a line and column. Attribute values
//! are parsed by the type their op expects, so errors point at the offending token. Nothing here
//! recurses, and every size is checked against [`MAX_ELEMS`] before memory is allocated.

use super::print::{compare_word, name_string, reset_word};
use super::{ParseError, MAX_ELEMS};
use crate::ir::graph::{Graph, Node, NodeId, Port};
use crate::ir::op::{
    Compare, Conv, FloatNeuron, IntConv, IntDense, IntNeuron, MultiThreshold, NeuronKind, Op, Pool,
    Reset, Tensor,
};
use crate::ir::tensor_ops::{LayerNorm, Requant, Rounding, Softmax, TensorOp};
use crate::ir::types::{Elem, Type};
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while_m_n};
use nom::character::complete::{char, digit1, one_of, satisfy};
use nom::combinator::{opt, recognize};
use nom::sequence::delimited;
use nom::{IResult, Parser};
use std::collections::HashMap;

/// An error at `at`, a suffix of the source.
struct PErr<'a> {
    at: &'a str,
    msg: String,
}

impl<'a> nom::error::ParseError<&'a str> for PErr<'a> {
    fn from_error_kind(at: &'a str, kind: nom::error::ErrorKind) -> Self {
        PErr {
            at,
            msg: format!("syntax error ({})", kind.description()),
        }
    }

    fn append(_: &'a str, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type Res<'a, T> = IResult<&'a str, T, PErr<'a>>;
type Fail<'a> = nom::Err<PErr<'a>>;

fn err<'a>(at: &'a str, msg: impl Into<String>) -> Fail<'a> {
    nom::Err::Failure(PErr {
        at,
        msg: msg.into(),
    })
}

/// Dimensions separated by `sep` up to and including `close` (possibly none).
fn dim_list(i: &str, sep: char, close: char) -> Res<'_, Vec<usize>> {
    let mut shape = Vec::new();
    let mut r = ws(i);
    if let Some(rest) = r.strip_prefix(close) {
        return Ok((rest, shape));
    }
    loop {
        let (rest, d) = usize_lit(ws(r), "a dimension")?;
        shape.push(d);
        r = ws(rest);
        if let Some(rest) = r.strip_prefix(sep) {
            r = rest;
        } else if let Some(rest) = r.strip_prefix(close) {
            return Ok((rest, shape));
        } else {
            return expected(r, &format!("'{sep}' or '{close}'"));
        }
    }
}

/// Sizes and strides are written as integers and must not be negative.
fn sizes<'a>(v: Vec<i64>, name: &str, at: &'a str) -> Result<Vec<usize>, Fail<'a>> {
    v.into_iter()
        .map(|x| {
            usize::try_from(x).map_err(|_| {
                err(
                    at,
                    format!("attribute '{name}' must not be negative, has {x}"),
                )
            })
        })
        .collect()
}

/// The geometry attributes shared by `conv` and `int_conv`.
fn conv_geometry<'a, T: Copy>(
    attrs: &mut Attrs,
    weight: Tensor<T>,
    bias: Vec<T>,
    at: &'a str,
) -> Result<Conv<T>, Fail<'a>> {
    let mut sizes = |name: &str| sizes(attrs.int_vec(name), name, at);
    let (in_shape, stride) = (sizes("in_shape")?, sizes("stride")?);
    let (padding, dilation) = (sizes("padding")?, sizes("dilation")?);
    Ok(Conv {
        weight,
        bias,
        in_shape,
        stride,
        padding,
        dilation,
        groups: attrs.u32("groups") as usize,
    })
}

fn fail<'a, T>(at: &'a str, msg: impl Into<String>) -> Res<'a, T> {
    Err(err(at, msg))
}

/// "expected WHAT, found 'c'" (or "unexpected end of input, ..." at the end).
fn expected_err<'a>(at: &'a str, what: &str) -> Fail<'a> {
    match at.chars().next() {
        None => err(at, format!("unexpected end of input, expected {what}")),
        Some(c) => err(at, format!("expected {what}, found {c:?}")),
    }
}

fn expected<'a, T>(at: &'a str, what: &str) -> Res<'a, T> {
    Err(expected_err(at, what))
}

pub(super) fn graph(src: &str) -> Result<Graph, ParseError> {
    let mut st = State {
        budget: MAX_ELEMS,
        index: HashMap::new(),
        nodes: Vec::new(),
        pending: Vec::new(),
    };
    st.file(src).map_err(|e| {
        let (at, msg) = match e {
            nom::Err::Error(e) | nom::Err::Failure(e) => (e.at, e.msg),
            nom::Err::Incomplete(_) => ("", "unexpected end of input".to_string()),
        };
        locate(src, at, msg)
    })
}

/// The 1-based line and column (in characters) of `at` within `src`.
fn locate(src: &str, at: &str, message: String) -> ParseError {
    let offset = src.len().saturating_sub(at.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    ParseError { line, col, message }
}

// ---------------------------------------------------------------- tokens

/// Skips whitespace and `#` comments.
fn ws(mut i: &str) -> &str {
    loop {
        i = i.trim_start();
        match i.strip_prefix('#') {
            Some(rest) => i = rest.find('\n').and_then(|k| rest.get(k..)).unwrap_or(""),
            None => return i,
        }
    }
}

/// Skips whitespace, then one `c`.
fn punct(i: &str, c: char) -> Res<'_, ()> {
    let i = ws(i);
    match char::<_, PErr>(c).parse(i) {
        Ok((r, _)) => Ok((r, ())),
        Err(_) => expected(i, &format!("'{c}'")),
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn ident(i: &str) -> Res<'_, &str> {
    recognize((satisfy(is_ident_start), take_while(is_ident_char))).parse(i)
}

/// A bare identifier or a quoted string.
fn name<'a>(i: &'a str, what: &str) -> Res<'a, String> {
    if i.starts_with('"') {
        return quoted(i);
    }
    match ident(i) {
        Ok((r, s)) => Ok((r, s.to_string())),
        Err(_) => expected(i, what),
    }
}

fn quoted(start: &str) -> Res<'_, String> {
    let mut out = String::new();
    let mut rest = start.strip_prefix('"').unwrap_or(start);
    loop {
        let mut cs = rest.chars();
        match cs.next() {
            // A raw newline most likely means a missing quote; report the opening one.
            None | Some('\n') => return fail(start, "unterminated string"),
            Some('"') => return Ok((cs.as_str(), out)),
            Some('\\') => {
                let esc = rest;
                match cs.next() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('u') => {
                        let hex = delimited(
                            char::<_, PErr>('{'),
                            take_while_m_n(1, 6, |c: char| c.is_ascii_hexdigit()),
                            char('}'),
                        )
                        .parse(cs.as_str());
                        let Ok((r, h)) = hex else {
                            return fail(esc, "invalid unicode escape (expected \\u{HEX})");
                        };
                        match u32::from_str_radix(h, 16).ok().and_then(char::from_u32) {
                            Some(c) => out.push(c),
                            None => {
                                return fail(esc, format!("\\u{{{h}}} is not a valid character"))
                            }
                        }
                        cs = r.chars();
                    }
                    None => return fail(start, "unterminated string"),
                    Some(c) => return fail(esc, format!("unknown escape '\\{c}'")),
                }
            }
            Some(c) => out.push(c),
        }
        rest = cs.as_str();
    }
}

/// A numeric token: `[+-]` then digits with optional fraction and exponent, or `inf` / `NaN`.
fn num_token(i: &str) -> Res<'_, &str> {
    fn digits(i: &str) -> Res<'_, &str> {
        recognize((
            digit1,
            opt((char('.'), digit1)),
            opt((one_of("eE"), opt(one_of("+-")), digit1)),
        ))
        .parse(i)
    }
    let tok = recognize((opt(one_of("+-")), alt((tag("inf"), tag("NaN"), digits)))).parse(i);
    match tok {
        Ok((r, _)) if r.starts_with(is_ident_char) => fail(i, "malformed number"),
        Ok(ok) => Ok(ok),
        Err(_) => expected(i, "a number"),
    }
}

fn float_lit(i: &str) -> Res<'_, f64> {
    let (r, tok) = num_token(i)?;
    match tok.parse::<f64>() {
        Ok(x) => Ok((r, x)),
        Err(_) => fail(i, format!("invalid number '{tok}'")),
    }
}

fn int_lit(i: &str) -> Res<'_, i64> {
    let (r, tok) = num_token(i)?;
    if tok.contains(['.', 'e', 'E', 'i', 'N']) {
        return fail(i, format!("expected an integer, found '{tok}'"));
    }
    match tok.parse::<i64>() {
        Ok(x) => Ok((r, x)),
        Err(_) => fail(i, format!("integer {tok} does not fit in 64 bits")),
    }
}

fn u32_lit(i: &str) -> Res<'_, u32> {
    let (r, x) = int_lit(i)?;
    match u32::try_from(x) {
        Ok(x) => Ok((r, x)),
        Err(_) => fail(i, format!("{x} is out of range (0..=4294967295)")),
    }
}

/// An unsigned size (dimension or repeat count).
fn usize_lit<'a>(i: &'a str, what: &str) -> Res<'a, usize> {
    let Ok((r, d)) = digit1::<_, PErr>(i) else {
        return expected(i, what);
    };
    match d.parse::<usize>() {
        Ok(x) => Ok((r, x)),
        Err(_) => fail(i, format!("{what} {d} is too large")),
    }
}

fn word<'a, T: Copy>(i: &'a str, choices: &[(&str, T)]) -> Res<'a, T> {
    let list: Vec<&str> = choices.iter().map(|c| c.0).collect();
    let what = list.join(" or ");
    match ident(i) {
        Ok((r, w)) => match choices.iter().find(|c| c.0 == w) {
            Some(c) => Ok((r, c.1)),
            None => fail(i, format!("expected {what}, found '{w}'")),
        },
        Err(_) => expected(i, &what),
    }
}

/// Product of `dims`, or `None` when it overflows or exceeds [`MAX_ELEMS`].
fn elem_count(dims: &[usize]) -> Option<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMS)
}

fn join_dims(dims: &[usize], sep: &str) -> String {
    let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    parts.join(sep)
}

// ---------------------------------------------------------------- ops and attributes

/// What an attribute's value must be.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    FloatVec,
    IntVec,
    FloatMat,
    IntMat,
    U32,
    Bool,
    Reset,
    Compare,
    Rounding,
}

#[derive(Clone, Copy)]
enum OpKind {
    Input,
    Output,
    Affine,
    Linear,
    Scale,
    Neuron(NeuronKind),
    Dense,
    IntNeuron(NeuronKind),
    Delay,
    IntDelay,
    Conv,
    IntConv,
    Pool { average: bool },
    MultiThreshold,
    And,
    Add,
    Popcount,
    Matmul,
    OrPool,
    Requant,
    Transpose,
    IntMatmul,
    Const,
    Softmax,
    LayerNorm,
}

const KINDS: [NeuronKind; 7] = NeuronKind::ALL;

const INT_ATTRS: [(&str, Kind); 12] = [
    ("reset", Kind::Reset),
    ("compare", Kind::Compare),
    ("frac_bits", Kind::U32),
    ("syn_decay", Kind::IntVec),
    ("mem_decay", Kind::IntVec),
    ("bias", Kind::IntVec),
    ("threshold", Kind::IntVec),
    ("v_reset", Kind::IntVec),
    ("syn_bits", Kind::U32),
    ("mem_bits", Kind::U32),
    ("saturate", Kind::Bool),
    ("scale", Kind::FloatVec),
];

/// Every parameter vector of a float neuron, used or not.
const FLOAT_FIELDS: [&str; 7] = [
    "tau_syn",
    "tau_mem",
    "r",
    "v_leak",
    "v_threshold",
    "v_reset",
    "w_in",
];

/// The op an op keyword names and the attributes it requires (in printing order).
fn op_spec(kw: &str) -> Option<(OpKind, Vec<(&'static str, Kind)>)> {
    let simple = |k: OpKind, a: &[(&'static str, Kind)]| Some((k, a.to_vec()));
    match kw {
        "input" => simple(OpKind::Input, &[]),
        "output" => simple(OpKind::Output, &[]),
        "affine" => simple(
            OpKind::Affine,
            &[("weight", Kind::FloatMat), ("bias", Kind::FloatVec)],
        ),
        "linear" => simple(OpKind::Linear, &[("weight", Kind::FloatMat)]),
        "multi_threshold" => simple(OpKind::MultiThreshold, &[("thresholds", Kind::IntMat)]),
        "scale" => simple(OpKind::Scale, &[("scale", Kind::FloatVec)]),
        "delay" => simple(OpKind::Delay, &[("delay", Kind::FloatVec)]),
        "conv" => simple(
            OpKind::Conv,
            &[
                ("weight", Kind::FloatMat),
                ("bias", Kind::FloatVec),
                ("in_shape", Kind::IntVec),
                ("stride", Kind::IntVec),
                ("padding", Kind::IntVec),
                ("dilation", Kind::IntVec),
                ("groups", Kind::U32),
            ],
        ),
        "int_conv" => simple(
            OpKind::IntConv,
            &[
                ("weight", Kind::IntMat),
                ("bias", Kind::IntVec),
                ("in_shape", Kind::IntVec),
                ("stride", Kind::IntVec),
                ("padding", Kind::IntVec),
                ("dilation", Kind::IntVec),
                ("groups", Kind::U32),
                ("scale", Kind::FloatVec),
            ],
        ),
        "sum_pool" | "avg_pool" => simple(
            OpKind::Pool {
                average: kw == "avg_pool",
            },
            &[
                ("kernel", Kind::IntVec),
                ("stride", Kind::IntVec),
                ("padding", Kind::IntVec),
                ("in_shape", Kind::IntVec),
            ],
        ),
        "int_delay" => simple(OpKind::IntDelay, &[("steps", Kind::IntVec)]),
        "spike_and" => simple(OpKind::And, &[]),
        "add" => simple(OpKind::Add, &[]),
        "popcount" => simple(OpKind::Popcount, &[("axis", Kind::U32)]),
        "spike_matmul" => simple(OpKind::Matmul, &[("ta", Kind::Bool), ("tb", Kind::Bool)]),
        "or_pool" => simple(
            OpKind::OrPool,
            &[("kernel", Kind::IntVec), ("stride", Kind::IntVec)],
        ),
        "transpose" => simple(OpKind::Transpose, &[("perm", Kind::IntVec)]),
        "requant" => simple(
            OpKind::Requant,
            &[
                ("mul", Kind::IntVec),
                ("shift", Kind::U32),
                ("rounding", Kind::Rounding),
                ("range", Kind::IntVec),
            ],
        ),
        "matmul" => simple(OpKind::IntMatmul, &[("ta", Kind::Bool), ("tb", Kind::Bool)]),
        "const" => simple(
            OpKind::Const,
            &[("shape", Kind::IntVec), ("data", Kind::IntVec)],
        ),
        "softmax" => simple(
            OpKind::Softmax,
            &[
                ("exp", Kind::IntVec),
                ("frac", Kind::U32),
                ("hi", Kind::U32),
            ],
        ),
        "layer_norm" => simple(
            OpKind::LayerNorm,
            &[
                ("eps", Kind::U32),
                ("frac", Kind::U32),
                ("mul", Kind::IntVec),
                ("add", Kind::IntVec),
                ("shift", Kind::U32),
                ("rounding", Kind::Rounding),
                ("range", Kind::IntVec),
            ],
        ),
        "dense" => simple(
            OpKind::Dense,
            &[
                ("weight", Kind::IntMat),
                ("bias", Kind::IntVec),
                ("scale", Kind::FloatVec),
            ],
        ),
        _ => {
            if let Some(k) = KINDS.into_iter().find(|k| k.keyword() == kw) {
                // The attribute set follows FloatNeuron::fields() so it cannot drift from it.
                let mut attrs: Vec<(&'static str, Kind)> = FloatNeuron::neutral(k, 0)
                    .fields()
                    .iter()
                    .map(|(f, _)| (*f, Kind::FloatVec))
                    .collect();
                if k.spikes() {
                    attrs.push(("reset", Kind::Reset));
                    attrs.push(("compare", Kind::Compare));
                }
                return Some((OpKind::Neuron(k), attrs));
            }
            let k = KINDS
                .into_iter()
                .find(|k| kw.strip_prefix("int_") == Some(k.keyword()))?;
            simple(OpKind::IntNeuron(k), &INT_ATTRS)
        }
    }
}

enum Val {
    FloatVec(Vec<f64>),
    IntVec(Vec<i64>),
    FloatMat(Tensor<f64>),
    IntMat(Tensor<i64>),
    U32(u32),
    Bool(bool),
    Reset(Reset),
    Compare(Compare),
    Rounding(Rounding),
}

/// The attributes of one node: the op's slots, filled as they are parsed.
struct Attrs {
    slots: Vec<(&'static str, Kind, Option<Val>)>,
}

// The fallbacks below are unreachable: slots are typed by op_spec and checked to be filled.
impl Attrs {
    fn take(&mut self, name: &str) -> Option<Val> {
        self.slots
            .iter_mut()
            .find(|s| s.0 == name)
            .and_then(|s| s.2.take())
    }

    fn float_vec(&mut self, name: &str) -> Vec<f64> {
        match self.take(name) {
            Some(Val::FloatVec(v)) => v,
            _ => Vec::new(),
        }
    }

    fn int_vec(&mut self, name: &str) -> Vec<i64> {
        match self.take(name) {
            Some(Val::IntVec(v)) => v,
            _ => Vec::new(),
        }
    }

    fn float_mat(&mut self, name: &str) -> Tensor<f64> {
        match self.take(name) {
            Some(Val::FloatMat(t)) => t,
            _ => Tensor {
                shape: vec![0, 0],
                data: Vec::new(),
            },
        }
    }

    fn int_mat(&mut self, name: &str) -> Tensor<i64> {
        match self.take(name) {
            Some(Val::IntMat(t)) => t,
            _ => Tensor {
                shape: vec![0, 0],
                data: Vec::new(),
            },
        }
    }

    fn u32(&mut self, name: &str) -> u32 {
        match self.take(name) {
            Some(Val::U32(x)) => x,
            _ => 0,
        }
    }

    fn bool(&mut self, name: &str) -> bool {
        matches!(self.take(name), Some(Val::Bool(true)))
    }

    fn reset(&mut self) -> Reset {
        match self.take("reset") {
            Some(Val::Reset(r)) => r,
            _ => Reset::Zero,
        }
    }

    fn rounding(&mut self) -> Rounding {
        match self.take("rounding") {
            Some(Val::Rounding(r)) => r,
            _ => Rounding::Floor,
        }
    }

    fn compare(&mut self) -> Compare {
        match self.take("compare") {
            Some(Val::Compare(c)) => c,
            _ => Compare::Gt,
        }
    }
}

/// A vector literal before allocation: a splat is only expanded once its size is accepted.
enum VecLit<T> {
    List(Vec<T>),
    Splat(T, usize),
}

impl<T> VecLit<T> {
    fn len(&self) -> usize {
        match self {
            VecLit::List(v) => v.len(),
            VecLit::Splat(_, n) => *n,
        }
    }
}

// ---------------------------------------------------------------- the parser proper

/// A reference to a node not defined yet, resolved once the whole graph is read.
struct Pending<'a> {
    node: usize,
    port: usize,
    name: String,
    delayed: bool,
    at: &'a str,
}

struct State<'a> {
    /// Elements that may still be allocated (see [`MAX_ELEMS`]).
    budget: usize,
    index: HashMap<String, u32>,
    nodes: Vec<Node>,
    pending: Vec<Pending<'a>>,
}

impl<'a> State<'a> {
    fn charge(&mut self, n: usize, at: &'a str) -> Result<(), Fail<'a>> {
        match self.budget.checked_sub(n) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(err(
                at,
                format!("the graph holds more than {MAX_ELEMS} values in total"),
            )),
        }
    }

    fn file(&mut self, src: &'a str) -> Result<Graph, Fail<'a>> {
        let i = ws(src);
        let i = match ident(i) {
            Ok((r, "graph")) => ws(r),
            Ok((_, w)) => return Err(err(i, format!("expected 'graph', found '{w}'"))),
            Err(_) => return Err(expected_err(i, "'graph'")),
        };
        let (i, gname) = name(i, "a graph name")?;
        let (mut i, ()) = punct(i, '{')?;
        loop {
            i = ws(i);
            if let Some(r) = i.strip_prefix('}') {
                i = r;
                break;
            }
            if !i.starts_with('%') {
                return Err(expected_err(i, "a node ('%name: type = op') or '}'"));
            }
            (i, ()) = self.node(i)?;
        }
        let i = ws(i);
        if !i.is_empty() {
            return Err(err(i, "unexpected text after the end of the graph"));
        }
        for p in std::mem::take(&mut self.pending) {
            let shown = name_string(&p.name);
            match self.index.get(&p.name) {
                Some(&id) if p.delayed => {
                    if let Some(port) = self
                        .nodes
                        .get_mut(p.node)
                        .and_then(|n| n.inputs.get_mut(p.port))
                    {
                        port.node = NodeId(id);
                    }
                }
                Some(_) => {
                    return Err(err(
                        p.at,
                        format!(
                            "%{shown} is not defined before this node; \
                             a reference to the same or a later node needs @prev"
                        ),
                    ))
                }
                None => return Err(err(p.at, format!("undefined node %{shown}"))),
            }
        }
        Ok(Graph {
            name: gname,
            nodes: std::mem::take(&mut self.nodes),
        })
    }

    /// `%name: type = op(refs) {attrs}`; `i` starts at the `%`.
    fn node(&mut self, i: &'a str) -> Res<'a, ()> {
        let name_at = i;
        let (i, nname) = name(i.get(1..).unwrap_or(""), "a node name after '%'")?;
        if self.index.contains_key(&nname) {
            return fail(
                name_at,
                format!("duplicate node name %{}", name_string(&nname)),
            );
        }
        let (i, ()) = punct(i, ':')?;
        let (i, (ty, n)) = ty(ws(i))?;
        let (i, ()) = punct(i, '=')?;
        let op_at = ws(i);
        let Ok((i, kw)) = ident(op_at) else {
            return expected(op_at, "an op keyword");
        };
        let Some((kind, spec)) = op_spec(kw) else {
            return fail(op_at, format!("unknown op '{kw}'"));
        };
        let this = self.nodes.len();
        let mut inputs = Vec::new();
        let mut i = i;
        if ws(i).starts_with('(') {
            (i, inputs) = self.refs(ws(i), this)?;
        }
        let mut attrs = Attrs {
            slots: spec.into_iter().map(|(a, k)| (a, k, None)).collect(),
        };
        if ws(i).starts_with('{') {
            (i, ()) = self.attrs(ws(i), kw, &mut attrs)?;
        }
        if let Some(missing) = attrs.slots.iter().find(|s| s.2.is_none()) {
            return fail(
                op_at,
                format!("op '{kw}' is missing attribute '{}'", missing.0),
            );
        }
        let op = match kind {
            OpKind::Input => Op::Input,
            OpKind::Output => Op::Output,
            OpKind::Affine => Op::Affine {
                weight: attrs.float_mat("weight"),
                bias: attrs.float_vec("bias"),
            },
            OpKind::Linear => Op::Linear {
                weight: attrs.float_mat("weight"),
            },
            OpKind::Scale => Op::Scale {
                scale: attrs.float_vec("scale"),
            },
            OpKind::Neuron(k) => Op::Neuron(self.float_neuron(k, n, &mut attrs, op_at)?),
            OpKind::Delay => Op::Delay {
                delay: attrs.float_vec("delay"),
            },
            OpKind::MultiThreshold => Op::MultiThreshold(MultiThreshold {
                thresholds: attrs.int_mat("thresholds"),
            }),
            OpKind::IntDelay => Op::IntDelay {
                steps: attrs.int_vec("steps"),
            },
            OpKind::Conv => {
                let (weight, bias) = (attrs.float_mat("weight"), attrs.float_vec("bias"));
                Op::Conv(conv_geometry(&mut attrs, weight, bias, op_at)?)
            }
            OpKind::IntConv => {
                let (weight, bias) = (attrs.int_mat("weight"), attrs.int_vec("bias"));
                Op::IntConv(IntConv {
                    conv: conv_geometry(&mut attrs, weight, bias, op_at)?,
                    scale: attrs.float_vec("scale"),
                })
            }
            OpKind::Pool { average } => {
                let mut sizes = |name: &str| sizes(attrs.int_vec(name), name, op_at);
                let (kernel, stride) = (sizes("kernel")?, sizes("stride")?);
                let (padding, in_shape) = (sizes("padding")?, sizes("in_shape")?);
                Op::Pool(Pool {
                    kernel,
                    stride,
                    padding,
                    in_shape,
                    average,
                })
            }
            OpKind::And => Op::Tensor(TensorOp::And),
            OpKind::Add => Op::Tensor(TensorOp::Add),
            OpKind::Popcount => Op::Tensor(TensorOp::Popcount {
                axis: attrs.u32("axis") as usize,
            }),
            OpKind::Matmul => Op::Tensor(TensorOp::Matmul {
                ta: attrs.bool("ta"),
                tb: attrs.bool("tb"),
            }),
            OpKind::OrPool => {
                let kernel = sizes(attrs.int_vec("kernel"), "kernel", op_at)?;
                let stride = sizes(attrs.int_vec("stride"), "stride", op_at)?;
                Op::Tensor(TensorOp::OrPool { kernel, stride })
            }
            OpKind::Transpose => Op::Tensor(TensorOp::Transpose {
                perm: sizes(attrs.int_vec("perm"), "perm", op_at)?,
            }),
            OpKind::Requant => {
                let (mul, shift, rounding) =
                    (attrs.int_vec("mul"), attrs.u32("shift"), attrs.rounding());
                let [lo, hi] = attrs.int_vec("range")[..] else {
                    return fail(op_at, "attribute 'range' must be [lo, hi]");
                };
                Op::Tensor(TensorOp::Requant(Requant {
                    mul,
                    shift,
                    rounding,
                    lo,
                    hi,
                }))
            }
            OpKind::IntMatmul => Op::Tensor(TensorOp::IntMatmul {
                ta: attrs.bool("ta"),
                tb: attrs.bool("tb"),
            }),
            OpKind::Const => Op::Tensor(TensorOp::Const {
                shape: sizes(attrs.int_vec("shape"), "shape", op_at)?,
                data: attrs.int_vec("data"),
            }),
            OpKind::Softmax => Op::Tensor(TensorOp::Softmax(Softmax {
                exp: attrs.int_vec("exp"),
                frac: attrs.u32("frac"),
                hi: attrs.u32("hi") as i64,
            })),
            OpKind::LayerNorm => {
                let (eps, frac) = (attrs.u32("eps") as i64, attrs.u32("frac"));
                let (mul, add) = (attrs.int_vec("mul"), attrs.int_vec("add"));
                let (shift, rounding) = (attrs.u32("shift"), attrs.rounding());
                let [lo, hi] = attrs.int_vec("range")[..] else {
                    return fail(op_at, "attribute 'range' must be [lo, hi]");
                };
                Op::Tensor(TensorOp::LayerNorm(LayerNorm {
                    eps,
                    frac,
                    mul,
                    add,
                    shift,
                    rounding,
                    lo,
                    hi,
                }))
            }
            OpKind::Dense => Op::Dense(IntDense {
                weight: attrs.int_mat("weight"),
                bias: attrs.int_vec("bias"),
                scale: attrs.float_vec("scale"),
            }),
            OpKind::IntNeuron(k) => Op::IntNeuron(IntNeuron {
                kind: k,
                reset: attrs.reset(),
                compare: attrs.compare(),
                frac_bits: attrs.u32("frac_bits"),
                syn_decay: attrs.int_vec("syn_decay"),
                mem_decay: attrs.int_vec("mem_decay"),
                bias: attrs.int_vec("bias"),
                threshold: attrs.int_vec("threshold"),
                v_reset: attrs.int_vec("v_reset"),
                syn_bits: attrs.u32("syn_bits"),
                mem_bits: attrs.u32("mem_bits"),
                saturate: attrs.bool("saturate"),
                scale: attrs.float_vec("scale"),
            }),
        };
        let Ok(id) = u32::try_from(this) else {
            return fail(name_at, "too many nodes");
        };
        self.index.insert(nname.clone(), id);
        self.nodes.push(Node {
            name: nname,
            op,
            inputs,
            ty,
        });
        Ok((i, ()))
    }

    /// Builds a float neuron; fields its kind does not use get `FloatNeuron::neutral` values.
    fn float_neuron(
        &mut self,
        kind: NeuronKind,
        n: usize,
        attrs: &mut Attrs,
        at: &'a str,
    ) -> Result<FloatNeuron, Fail<'a>> {
        let mut proto = FloatNeuron::neutral(kind, 1);
        let mut nr = FloatNeuron::neutral(kind, 0);
        // Charge every neutral fill up front so nothing is allocated if the total is too big.
        let unused = FLOAT_FIELDS
            .iter()
            .filter(|f| attrs.slots.iter().all(|s| s.0 != **f))
            .count();
        self.charge(unused.saturating_mul(n), at)?;
        for field in FLOAT_FIELDS {
            let v = match attrs.take(field) {
                Some(Val::FloatVec(v)) => v,
                _ => {
                    let fill = proto
                        .field_mut(field)
                        .and_then(|v| v.first().copied())
                        .unwrap_or(0.0);
                    vec![fill; n]
                }
            };
            if let Some(slot) = nr.field_mut(field) {
                *slot = v;
            }
        }
        if kind.spikes() {
            nr.reset = attrs.reset();
            nr.compare = attrs.compare();
        }
        Ok(nr)
    }

    /// `(%a, %b@prev, ...)`; `i` starts at the `(`.
    fn refs(&mut self, i: &'a str, this: usize) -> Res<'a, Vec<Port>> {
        let mut i = i.get(1..).unwrap_or("");
        let mut ports = Vec::new();
        loop {
            i = ws(i);
            if let Some(r) = i.strip_prefix(')') {
                return Ok((r, ports));
            }
            let at = i;
            let Some(r) = i.strip_prefix('%') else {
                return expected(i, "a node reference '%name' or ')'");
            };
            let (r, target) = name(r, "a node name after '%'")?;
            let mut r = r;
            let mut delayed = false;
            let after = ws(r);
            if let Some(m) = after.strip_prefix('@') {
                match ident(m) {
                    Ok((rest, "prev")) => {
                        delayed = true;
                        r = rest;
                    }
                    _ => return fail(after, "unknown port modifier (only '@prev' exists)"),
                }
            }
            match self.index.get(&target) {
                Some(&id) => ports.push(Port {
                    node: NodeId(id),
                    delayed,
                }),
                None => {
                    self.pending.push(Pending {
                        node: this,
                        port: ports.len(),
                        name: target,
                        delayed,
                        at,
                    });
                    ports.push(Port {
                        node: NodeId(u32::MAX),
                        delayed,
                    });
                }
            }
            i = ws(r);
            if let Some(r) = i.strip_prefix(',') {
                i = r;
            } else if !i.starts_with(')') {
                return expected(i, "',' or ')'");
            }
        }
    }

    /// `{name = value, ...}`; `i` starts at the `{`.
    fn attrs(&mut self, i: &'a str, kw: &str, attrs: &mut Attrs) -> Res<'a, ()> {
        let mut i = i.get(1..).unwrap_or("");
        loop {
            i = ws(i);
            if let Some(r) = i.strip_prefix('}') {
                return Ok((r, ()));
            }
            let at = i;
            let Ok((r, key)) = ident(i) else {
                return expected(i, "an attribute name or '}'");
            };
            let Some(slot) = attrs.slots.iter().position(|s| s.0 == key) else {
                let known: Vec<&str> = attrs.slots.iter().map(|s| s.0).collect();
                let hint = if known.is_empty() {
                    "it takes none".to_string()
                } else {
                    format!("expected {}", known.join(", "))
                };
                return fail(
                    at,
                    format!("unknown attribute '{key}' for op '{kw}' ({hint})"),
                );
            };
            if attrs.slots.get(slot).is_some_and(|s| s.2.is_some()) {
                return fail(at, format!("duplicate attribute '{key}'"));
            }
            let (r, ()) = punct(r, '=')?;
            let kind = attrs.slots.get(slot).map_or(Kind::FloatVec, |s| s.1);
            let (r, v) = self.value(ws(r), kind)?;
            if let Some(s) = attrs.slots.get_mut(slot) {
                s.2 = Some(v);
            }
            i = ws(r);
            if let Some(r) = i.strip_prefix(',') {
                i = r;
            } else if !i.starts_with('}') {
                return expected(i, "',' or '}'");
            }
        }
    }

    fn value(&mut self, i: &'a str, kind: Kind) -> Res<'a, Val> {
        match kind {
            Kind::FloatVec => {
                let (r, lit) = vec_lit(i, float_lit)?;
                let (r, v) = self.alloc(r, lit, i)?;
                Ok((r, Val::FloatVec(v)))
            }
            Kind::IntVec => {
                let (r, lit) = vec_lit(i, int_lit)?;
                let (r, v) = self.alloc(r, lit, i)?;
                Ok((r, Val::IntVec(v)))
            }
            Kind::FloatMat => {
                let (r, t) = self.matrix(i, float_lit)?;
                Ok((r, Val::FloatMat(t)))
            }
            Kind::IntMat => {
                let (r, t) = self.matrix(i, int_lit)?;
                Ok((r, Val::IntMat(t)))
            }
            Kind::U32 => u32_lit(i).map(|(r, x)| (r, Val::U32(x))),
            Kind::Bool => {
                word(i, &[("true", true), ("false", false)]).map(|(r, b)| (r, Val::Bool(b)))
            }
            Kind::Reset => word(
                i,
                &[
                    (reset_word(Reset::Zero), Reset::Zero),
                    (reset_word(Reset::Subtract), Reset::Subtract),
                    (reset_word(Reset::ZeroNext), Reset::ZeroNext),
                    (reset_word(Reset::SubtractNext), Reset::SubtractNext),
                ],
            )
            .map(|(r, x)| (r, Val::Reset(x))),
            Kind::Compare => word(
                i,
                &[
                    (compare_word(Compare::Gt), Compare::Gt),
                    (compare_word(Compare::Ge), Compare::Ge),
                ],
            )
            .map(|(r, x)| (r, Val::Compare(x))),
            Kind::Rounding => {
                let words: Vec<(&str, Rounding)> =
                    Rounding::ALL.iter().map(|&m| (m.word(), m)).collect();
                word(i, &words).map(|(r, x)| (r, Val::Rounding(x)))
            }
        }
    }

    /// Expands a vector literal after charging its size to the budget.
    fn alloc<T: Clone>(&mut self, r: &'a str, lit: VecLit<T>, at: &'a str) -> Res<'a, Vec<T>> {
        self.charge(lit.len(), at)?;
        let v = match lit {
            VecLit::List(v) => v,
            VecLit::Splat(x, n) => vec![x; n],
        };
        Ok((r, v))
    }

    /// `<RxC...>[values]`; the shape is checked before the values are allocated.
    fn matrix<T: Copy>(
        &mut self,
        i: &'a str,
        elem: fn(&'a str) -> Res<'a, T>,
    ) -> Res<'a, Tensor<T>> {
        let at = i;
        let Some(r) = i.strip_prefix('<') else {
            return expected(i, "a matrix '<RxC>[...]'");
        };
        let (r, shape) = dim_list(r, 'x', '>')?;
        let dims = join_dims(&shape, "x");
        let Some(want) = elem_count(&shape) else {
            return fail(
                at,
                format!("matrix shape <{dims}> has too many elements (limit {MAX_ELEMS})"),
            );
        };
        let (r, lit) = vec_lit(ws(r), elem)?;
        if lit.len() != want {
            return fail(
                at,
                format!("matrix <{dims}> needs {want} values, got {}", lit.len()),
            );
        }
        let (r, data) = self.alloc(r, lit, at)?;
        Ok((r, Tensor { shape, data }))
    }
}

/// `[a, b, ...]` or `[v; n]`, without allocating the splat.
fn vec_lit<'a, T>(i: &'a str, elem: fn(&'a str) -> Res<'a, T>) -> Res<'a, VecLit<T>> {
    let Some(r) = i.strip_prefix('[') else {
        return expected(i, "a vector '[...]'");
    };
    let r = ws(r);
    if let Some(r) = r.strip_prefix(']') {
        return Ok((r, VecLit::List(Vec::new())));
    }
    let (r, first) = elem(r)?;
    let mut i = ws(r);
    if let Some(r) = i.strip_prefix(';') {
        let count_at = ws(r);
        let (r, n) = usize_lit(count_at, "a repeat count")?;
        if n > MAX_ELEMS {
            return fail(
                count_at,
                format!("repeat count {n} exceeds the limit of {MAX_ELEMS} elements"),
            );
        }
        let (r, ()) = punct(r, ']')?;
        return Ok((r, VecLit::Splat(first, n)));
    }
    let mut v = vec![first];
    loop {
        if let Some(r) = i.strip_prefix(']') {
            return Ok((r, VecLit::List(v)));
        }
        let Some(r) = i.strip_prefix(',') else {
            return expected(i, "',' or ']'");
        };
        let r = ws(r);
        if let Some(r) = r.strip_prefix(']') {
            return Ok((r, VecLit::List(v)));
        }
        let (r, x) = elem(r)?;
        v.push(x);
        i = ws(r);
    }
}

/// `spike[dims]`, `real[dims]` or `fix<w,f>[dims]`, with its element count.
fn ty(i: &str) -> Res<'_, (Type, usize)> {
    let at = i;
    let what = "a type (spike, real or fix<w,f>)";
    let Ok((r, kw)) = ident(i) else {
        return expected(i, what);
    };
    let (r, elem) = match kw {
        "spike" => (r, Elem::Spike),
        "real" => (r, Elem::Real),
        "fix" => {
            let (r, ()) = punct(r, '<')?;
            let (r, width) = u32_lit(ws(r))?;
            let (r, ()) = punct(r, ',')?;
            let (r, frac) = u32_lit(ws(r))?;
            let (r, ()) = punct(r, '>')?;
            (r, Elem::Fix { width, frac })
        }
        _ => return fail(at, format!("unknown type '{kw}', expected {what}")),
    };
    let (r, ()) = punct(r, '[')?;
    let (r, shape) = dim_list(r, ',', ']')?;
    let Some(n) = elem_count(&shape) else {
        return fail(
            at,
            format!(
                "shape [{}] has too many elements (limit {MAX_ELEMS})",
                join_dims(&shape, ",")
            ),
        );
    };
    Ok((r, (Type { elem, shape }, n)))
}
