//! Quantised ONNX graphs (QONNX `Quant`, FINN `MultiThreshold`) lowered to the integer IR.
//!
//! Every integer tensor is tracked as `real = scale * q + shift` per element, `q` the IR's
//! integer. An input `Quant` makes the model's integer input; a `Quant` of a constant gives
//! integer weights; `MatMul`/`Gemm` on them is a dense layer on integers (exact); `Add` of a
//! constant moves the shift; a `Quant` of a computed value (after an optional `Relu`) is a
//! monotone function of the integer, so it becomes a multi-threshold unit whose thresholds are
//! found by evaluating QONNX's own formula — in float32, step by step as qonnx's numpy
//! execution does — at the integers around each step. With power-of-two scales (the usual for
//! hardware-targeted Brevitas models) that evaluation is exact and the result is bit-exact
//! against qonnx; `tests/onnx_frontend.rs` checks every rounding mode on qonnx's own outputs.

use super::elementwise::{Binary, Expr, Unary};
use super::proto::{attribute_type, GraphProto, NodeProto};
use super::tensors;
use super::{attr_int, input_shape, node_label};
use crate::ir::{
    signed_range, signed_width, Graph, IntDense, MultiThreshold, NodeId, Op, Port, Tensor, Type,
};
use std::collections::HashMap;

const CUSTOM_DOMAINS: [&str; 3] = ["qonnx.custom_op.general", "finn.custom_op.general", "finn"];

fn is_custom(n: &NodeProto, op: &str) -> bool {
    n.op_type == op && CUSTOM_DOMAINS.contains(&n.domain.as_str())
}

/// A QONNX `Trunc` (v1: five inputs; v2: six, with an output scale).
pub fn is_trunc(n: &NodeProto) -> bool {
    is_custom(n, "Trunc")
}

/// A QONNX or FINN quantiser: the graph is a quantised ANN.
pub fn is_quantiser(n: &NodeProto) -> bool {
    is_custom(n, "Quant")
        || is_custom(n, "IntQuant")
        || is_custom(n, "BipolarQuant")
        || is_custom(n, "MultiThreshold")
}

/// Whether the quantised lowering takes this node.
pub fn lowers(n: &NodeProto) -> bool {
    is_quantiser(n)
        || is_trunc(n)
        || ((n.domain.is_empty() || n.domain == "ai.onnx")
            && [
                "MatMul",
                "Gemm",
                "Add",
                "Sub",
                "Mul",
                "Div",
                "Relu",
                "Sigmoid",
                "Tanh",
                "Erf",
                "Gelu",
                "Softmax",
                "LayerNormalization",
                "Transpose",
                "Identity",
                "Flatten",
                "Reshape",
                "Squeeze",
                "Unsqueeze",
            ]
            .contains(&n.op_type.as_str()))
}

/// A lowered quantised model: the integer graph and, per output, how its integers map back to
/// the source model's values (`real = scale * q + shift`, per element).
pub struct Lowered {
    pub graph: Graph,
    pub outputs: Vec<(String, Vec<f64>, Vec<f64>)>,
}

/// QONNX rounding modes (`resolve_rounding_mode` in qonnx).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rounding {
    /// Half to even (`ROUND`, `HALF_EVEN`: numpy's `round`).
    HalfEven,
    Ceil,
    Floor,
    /// Away from zero.
    Up,
    /// Toward zero (`DOWN`, `ROUND_TO_ZERO`).
    Down,
    HalfUp,
    HalfDown,
}

impl Rounding {
    pub fn parse(s: &str) -> Option<Rounding> {
        Some(match s.to_ascii_uppercase().as_str() {
            "ROUND" | "HALF_EVEN" => Rounding::HalfEven,
            "CEIL" => Rounding::Ceil,
            "FLOOR" => Rounding::Floor,
            "UP" => Rounding::Up,
            "DOWN" | "ROUND_TO_ZERO" => Rounding::Down,
            "HALF_UP" => Rounding::HalfUp,
            "HALF_DOWN" => Rounding::HalfDown,
            _ => return None,
        })
    }

    /// Rounds a float32 value as numpy does.
    pub fn apply(self, v: f32) -> f32 {
        match self {
            Rounding::HalfEven => v.round_ties_even(),
            Rounding::Ceil => v.ceil(),
            Rounding::Floor => v.floor(),
            Rounding::Up => v.signum() * v.abs().ceil(),
            Rounding::Down => v.trunc(),
            Rounding::HalfUp => v.signum() * (v.abs() + 0.5).floor(),
            Rounding::HalfDown => v.signum() * (v.abs() - 0.5).ceil(),
        }
    }
}

/// A `Quant` node's parameters. `scale` and `zero` broadcast against the quantised tensor as
/// numpy does; [`Quantiser::per_element`] expands them to one value per element.
#[derive(Clone, Debug)]
pub struct Quantiser {
    pub scale: Vec<f32>,
    pub scale_dims: Vec<usize>,
    pub zero: Vec<f32>,
    pub zero_dims: Vec<usize>,
    pub bits: u32,
    pub signed: bool,
    pub narrow: bool,
    pub rounding: Rounding,
}

/// `values` of shape `vdims` broadcast (numpy's rules) to a tensor of shape `dims`, one value
/// per element in row-major order.
fn broadcast_to(values: &[f32], vdims: &[usize], dims: &[usize]) -> Result<Vec<f32>, String> {
    if values.len() == 1 {
        return Ok(vec![values[0]; dims.iter().product()]);
    }
    // Leading dimensions beyond the tensor's must be 1; the rest align to the right.
    let extra = vdims.len().saturating_sub(dims.len());
    if vdims[..extra].iter().any(|&d| d != 1) {
        return Err(format!(
            "a parameter of shape {vdims:?} does not broadcast to {dims:?}"
        ));
    }
    let v = &vdims[extra..];
    let off = dims.len() - v.len();
    for (i, &d) in v.iter().enumerate() {
        if d != 1 && d != dims[off + i] {
            return Err(format!(
                "a parameter of shape {vdims:?} does not broadcast to {dims:?}"
            ));
        }
    }
    let n: usize = dims.iter().product();
    let mut out = Vec::with_capacity(n);
    for e in 0..n {
        // The element's coordinates, then its index into `values`.
        let (mut rest, mut idx, mut stride) = (e, 0usize, 1usize);
        for i in (0..dims.len()).rev() {
            let c = rest % dims[i];
            rest /= dims[i];
            if i >= off {
                let d = v[i - off];
                if d != 1 {
                    idx += c * stride;
                }
                stride *= d;
            }
        }
        out.push(values[idx]);
    }
    Ok(out)
}

impl Quantiser {
    pub fn min_int(&self) -> i64 {
        match (self.signed, self.narrow) {
            _ if self.bipolar() => -1,
            (true, true) => -(1i64 << (self.bits - 1)) + 1,
            (true, false) => -(1i64 << (self.bits - 1)),
            _ => 0,
        }
    }

    /// One signed bit: the codes are -1 and +1 (QONNX `BipolarQuant`, and `Quant` at 1 bit).
    fn bipolar(&self) -> bool {
        self.bits == 1 && self.signed
    }

    pub fn max_int(&self) -> i64 {
        match (self.signed, self.narrow) {
            _ if self.bipolar() => 1,
            (false, false) => (1i64 << self.bits) - 1,
            (false, true) => (1i64 << self.bits) - 2,
            _ => (1i64 << (self.bits - 1)) - 1,
        }
    }

    /// The same quantiser with one scale and zero point per element of a tensor of `dims`.
    pub fn per_element(&self, dims: &[usize]) -> Result<Quantiser, String> {
        Ok(Quantiser {
            scale: broadcast_to(&self.scale, &self.scale_dims, dims)?,
            scale_dims: dims.to_vec(),
            zero: broadcast_to(&self.zero, &self.zero_dims, dims)?,
            zero_dims: dims.to_vec(),
            ..self.clone()
        })
    }

    /// The integer of element `e` (of a [`Quantiser::per_element`] quantiser) for the float32
    /// value `x`, as qonnx's `int_quant`: divide, add the zero point, clamp, round (float32
    /// throughout).
    pub fn integer(&self, e: usize, x: f32) -> i64 {
        let (s, z) = (self.scale[e], self.zero[e]);
        let y = x / s + z;
        if self.bits == 1 && self.signed {
            return if y >= 0.0 { 1 } else { -1 };
        }
        let y = y.clamp(self.min_int() as f32, self.max_int() as f32);
        self.rounding.apply(y) as i64
    }
}

/// A tensor while lowering.
#[derive(Clone, Debug)]
pub(super) enum QValue {
    Const {
        dims: Vec<usize>,
        data: Vec<f64>,
    },
    /// A constant on an integer grid (a quantised weight): `real = (q - zero) * scale`.
    QConst {
        dims: Vec<usize>,
        q: Vec<i64>,
        scale: Vec<f32>,
        zero: Vec<f32>,
    },
    /// A computed integer tensor: `real = scale * q + shift` per element, or, when `expr` is
    /// set, that function of `q` (elementwise functions pending until the next quantiser).
    Int {
        id: NodeId,
        n: usize,
        scale: Vec<f64>,
        shift: Vec<f64>,
        expr: Option<Expr>,
    },
    /// A graph input not yet quantised.
    Input {
        shape: Vec<usize>,
    },
    /// Softmax along the last axis of computed integers (`real = scale * q`), pending until
    /// the quantiser that gives its output grid.
    Softmax {
        id: NodeId,
        scale: f64,
    },
    /// LayerNormalization along the last axis of computed integers, pending likewise.
    Norm {
        id: NodeId,
        scale: f64,
        gamma: Vec<f64>,
        beta: Vec<f64>,
        eps: f64,
    },
}

fn quantiser(node: &NodeProto, values: &HashMap<String, QValue>) -> Result<Quantiser, String> {
    if node.op_type == "BipolarQuant" {
        // sign(x) * scale, +1 at zero: one signed bit with the bipolar codes.
        let Some(QValue::Const { data, dims }) = node.input.get(1).and_then(|n| values.get(n))
        else {
            return Err("input 1 (scale) must be a non-empty constant".into());
        };
        let scale: Vec<f32> = data.iter().map(|&v| v as f32).collect();
        if scale.is_empty() || scale.iter().any(|&s| !(s > 0.0 && s.is_finite())) {
            return Err("scales must be positive numbers".into());
        }
        return Ok(Quantiser {
            scale,
            scale_dims: dims.clone(),
            zero: vec![0.0],
            zero_dims: vec![],
            bits: 1,
            signed: true,
            narrow: false,
            rounding: Rounding::HalfEven,
        });
    }
    let konst = |i: usize| -> Result<(Vec<f32>, Vec<usize>), String> {
        match node.input.get(i).and_then(|n| values.get(n)) {
            Some(QValue::Const { data, dims }) if !data.is_empty() => {
                Ok((data.iter().map(|&v| v as f32).collect(), dims.clone()))
            }
            _ => Err(format!(
                "input {i} (scale, zero point, bit width) must be a non-empty constant"
            )),
        }
    };
    let (scale, scale_dims) = konst(1)?;
    let (zero, zero_dims) = konst(2)?;
    let (bits, _) = konst(3)?;
    let [b] = bits[..] else {
        return Err("the bit width must be one number".into());
    };
    if !(b.fract() == 0.0 && (1.0..=24.0).contains(&b)) {
        return Err(format!(
            "bit width {b}: Spikeforge takes whole widths of 1 to 24 bits"
        ));
    }
    if scale.iter().any(|&s| !(s > 0.0 && s.is_finite())) {
        return Err("scales must be positive numbers".into());
    }
    if zero.iter().any(|z| !z.is_finite()) {
        return Err("zero points must be numbers".into());
    }
    let rounding = match node.attribute.iter().find(|a| a.name == "rounding_mode") {
        Some(a) if a.r#type == attribute_type::STRING => {
            let s = String::from_utf8_lossy(&a.s).to_string();
            Rounding::parse(&s)
                .ok_or_else(|| format!("rounding mode '{s}' is not one of QONNX's"))?
        }
        _ => Rounding::HalfEven,
    };
    Ok(Quantiser {
        scale,
        scale_dims,
        zero,
        zero_dims,
        bits: b as u32,
        signed: attr_int(node, "signed", 1) != 0,
        narrow: attr_int(node, "narrow", 0) != 0,
        rounding,
    })
}

/// The integers `q` in `lo..=hi` at which `f(q)` first reaches each of `min + 1 ..= max`
/// (`f` non-decreasing): multi-threshold thresholds. A level never reached gets `hi + 1`.
fn steps(f: &dyn Fn(i64) -> i64, lo: i64, hi: i64, min: i64, max: i64) -> Vec<i64> {
    (min + 1..=max)
        .map(|k| {
            let (mut a, mut b) = (lo, hi + 1);
            // Invariant: f(b) >= k or b = hi + 1; f(q) < k for q < a.
            while a < b {
                let m = a + (b - a) / 2;
                if f(m) >= k {
                    b = m;
                } else {
                    a = m + 1;
                }
            }
            a
        })
        .collect()
}

pub fn lower(
    graph: &GraphProto,
    name: String,
    consts: HashMap<String, (Vec<usize>, Vec<f64>)>,
) -> Result<Lowered, String> {
    let mut values: HashMap<String, QValue> = consts
        .into_iter()
        .map(|(k, (dims, data))| (k, QValue::Const { dims, data }))
        .collect();
    for input in &graph.input {
        if !values.contains_key(&input.name) {
            let shape = input_shape(input)?;
            values.insert(input.name.clone(), QValue::Input { shape });
        }
    }
    // Axes ONNX counts before the IR's (a leading batch of one, dropped).
    let batch = graph
        .input
        .iter()
        .filter_map(|i| {
            let rank = i
                .r#type
                .as_ref()?
                .tensor_type
                .as_ref()?
                .shape
                .as_ref()?
                .dim
                .len();
            Some(rank.saturating_sub(input_shape(i).ok()?.len()) as i64)
        })
        .max()
        .unwrap_or(0);
    let mut g = Graph::new(name);
    for node in &graph.node {
        let v = lower_node(&mut g, &values, node, batch)
            .map_err(|m| format!("node {}: {m}", node_label(node)))?;
        if let Some(out) = node.output.first() {
            values.insert(out.clone(), v);
        }
    }
    let mut outputs = Vec::new();
    for out in &graph.output {
        match values.get(&out.name) {
            Some(QValue::Int {
                id,
                scale,
                shift,
                expr: None,
                ..
            }) => {
                super::add_output(&mut g, &out.name, *id);
                outputs.push((out.name.clone(), scale.clone(), shift.clone()));
            }
            Some(QValue::Int { expr: Some(_), .. }) => {
                return Err(format!(
                    "output '{}' ends in an elementwise function; quantise it (Quant) so it is \
                     an integer",
                    out.name
                ))
            }
            _ => {
                return Err(format!(
                    "output '{}' is not a computed integer tensor",
                    out.name
                ))
            }
        }
    }
    if outputs.is_empty() {
        return Err("the graph has no outputs".into());
    }
    Ok(Lowered { graph: g, outputs })
}

fn lower_node(
    g: &mut Graph,
    values: &HashMap<String, QValue>,
    node: &NodeProto,
    batch: i64,
) -> Result<QValue, String> {
    // Whether ONNX axis `a` is the last of the IR tensor `id`.
    let last_axis = |g: &Graph, id: NodeId, a: i64| {
        let rank = g.node(id).ty.shape.len() as i64 + batch;
        a == -1 || a == rank - 1
    };
    let arg = |i: usize| super::operand(values, node, i);
    let name = if node.name.is_empty() {
        node.output.first().cloned().unwrap_or_default()
    } else {
        node.name.clone()
    };
    match node.op_type.as_str() {
        "Identity" | "Flatten" | "Reshape" | "Squeeze" | "Unsqueeze" => Ok(arg(0)?.clone()),
        "Quant" | "IntQuant" | "BipolarQuant" => {
            let q = quantiser(node, values)?;
            match arg(0)? {
                QValue::Input { shape } => {
                    // The model's integer input; zero points stay outside the hardware.
                    let n: usize = shape.iter().product();
                    let q = q.per_element(shape)?;
                    let width = q.bits + u32::from(!q.signed);
                    // Matrices keep their shape (the batch axis is already dropped).
                    let dims = if shape.len() >= 2 {
                        shape.clone()
                    } else {
                        vec![n]
                    };
                    let id = g.add(
                        node.input[0].clone(),
                        Op::Input,
                        vec![],
                        Type::new(
                            crate::ir::Elem::Fix {
                                width: width.max(2),
                                frac: 0,
                            },
                            dims,
                        ),
                    );
                    let scale: Vec<f64> = q.scale.iter().map(|&v| v as f64).collect();
                    let shift: Vec<f64> = (0..n).map(|e| -(q.zero[e] as f64) * scale[e]).collect();
                    Ok(QValue::Int {
                        id,
                        n,
                        scale,
                        shift,
                        expr: None,
                    })
                }
                QValue::Const { dims, data } => {
                    let q = q.per_element(dims)?;
                    let qv = data
                        .iter()
                        .enumerate()
                        .map(|(e, &x)| q.integer(e, x as f32))
                        .collect();
                    Ok(QValue::QConst {
                        dims: dims.clone(),
                        q: qv,
                        scale: q.scale.clone(),
                        zero: q.zero.clone(),
                    })
                }
                QValue::Int {
                    id,
                    n,
                    scale,
                    shift,
                    expr,
                } => {
                    let f = expr.clone().unwrap_or_else(|| Expr::Lin {
                        scale: scale.clone(),
                        shift: shift.clone(),
                    });
                    // Matrices take the requantiser when it is exact: a threshold per level
                    // per element would not fit.
                    if g.node(*id).ty.shape.len() >= 2 {
                        if let Some(v) = tensors::requant(g, &name, &q, *id, &f)? {
                            return Ok(v);
                        }
                    }
                    requantise(g, &name, &q, *id, *n, &f)
                }
                QValue::Softmax { id, scale } => tensors::softmax(g, &name, &q, *id, *scale),
                QValue::Norm {
                    id,
                    scale,
                    gamma,
                    beta,
                    eps,
                } => tensors::layer_norm(g, &name, &q, *id, *scale, gamma, beta, *eps),
                QValue::QConst { .. } => Err("a quantised constant quantised again".into()),
            }
        }
        "Trunc" => {
            let (id, scale) = linear_int(arg(0)?, "Trunc", false)?;
            let konst = |i: usize| -> Result<f64, String> {
                match arg(i)? {
                    QValue::Const { data, .. } if data.len() == 1 => Ok(data[0]),
                    _ => Err(format!("input {i} must be one constant")),
                }
            };
            let rounding = match node.attribute.iter().find(|a| a.name == "rounding_mode") {
                Some(a) => {
                    let s = String::from_utf8_lossy(&a.s).to_string();
                    Rounding::parse(&s)
                        .ok_or_else(|| format!("rounding mode '{s}' is not one of QONNX's"))?
                }
                None => Rounding::Floor,
            };
            let v2 = node.input.len() >= 6;
            let t = tensors::Trunc {
                scale: konst(1)?,
                zero: konst(2)?,
                in_bits: konst(3)?,
                out_scale: if v2 { Some(konst(4)?) } else { None },
                out_bits: konst(if v2 { 5 } else { 4 })?,
                signed: attr_int(node, "signed", 1) != 0,
                narrow: attr_int(node, "narrow", 0) != 0,
                rounding,
            };
            tensors::trunc(g, &name, id, scale, &t)
        }
        "MultiThreshold" => {
            let QValue::Int {
                id,
                n,
                scale,
                shift,
                expr: None,
            } = arg(0)?
            else {
                return Err("the input must be a computed integer tensor".into());
            };
            let QValue::Const { dims, data } = arg(1)? else {
                return Err("the thresholds must be a constant".into());
            };
            let [channels, k] = dims[..] else {
                return Err(format!(
                    "thresholds of shape {dims:?}; expected [channels, steps]"
                ));
            };
            if channels == 0 || k == 0 || *n % channels != 0 {
                return Err(format!(
                    "{channels} threshold rows do not divide {n} elements"
                ));
            }
            let out_scale = super::attr_float(node, "out_scale", 1.0);
            let out_bias = super::attr_float(node, "out_bias", 0.0);
            if !(out_scale > 0.0 && out_scale.is_finite() && out_bias.is_finite()) {
                return Err(format!(
                    "out_scale {out_scale}, out_bias {out_bias}: the scale must be positive"
                ));
            }
            // Channels are contiguous blocks of elements (NCHW); FINN's NHWC is not.
            if let Some(a) = node.attribute.iter().find(|a| a.name == "data_layout") {
                let layout = String::from_utf8_lossy(&a.s).to_string();
                if !matches!(layout.as_str(), "NCHW" | "NC") {
                    return Err(format!(
                        "data_layout {layout} is not lowered (NCHW or NC only)"
                    ));
                }
            }
            // x_real >= t  <=>  q >= ceil((t - shift) / scale) for the integers q; thresholds
            // past the input's range clamp to its ends (lo: always met, hi + 1: never).
            let (lo, hi) = signed_range(g.node(*id).ty.elem_bits().unwrap_or(2));
            let per = *n / channels;
            let mut rows = Vec::with_capacity(channels * k);
            for c in 0..channels {
                let e = c * per;
                if (0..per).any(|j| scale[e + j] != scale[e] || shift[e + j] != shift[e]) {
                    return Err("a threshold row spans elements of different scales".into());
                }
                let mut row: Vec<i64> = data[c * k..(c + 1) * k]
                    .iter()
                    .map(|&t| ((t - shift[e]) / scale[e]).ceil() as i64)
                    .collect();
                if row.windows(2).any(|w| w[0] > w[1]) {
                    return Err("thresholds must ascend within each row".into());
                }
                row.iter_mut().for_each(|t| *t = (*t).clamp(lo, hi + 1));
                rows.extend(row);
            }
            let ty = Type::fix(signed_width(0, k as i128), *n);
            let id = g.add(
                name,
                Op::MultiThreshold(MultiThreshold {
                    thresholds: Tensor::new(vec![channels, k], rows),
                }),
                vec![Port::now(*id)],
                ty,
            );
            Ok(QValue::Int {
                id,
                n: *n,
                scale: vec![out_scale; *n],
                shift: vec![out_bias; *n],
                expr: None,
            })
        }
        "MatMul" | "Gemm" if matrix(g, arg(0)?) || matrix(g, arg(1)?) => {
            let gemm = node.op_type == "Gemm";
            if gemm
                && (attr_int(node, "transA", 0) != 0
                    || super::attr_float(node, "alpha", 1.0) != 1.0
                    || super::attr_float(node, "beta", 1.0) != 1.0
                    || node.input.get(2).is_some_and(|s| !s.is_empty()))
            {
                return Err("Gemm of matrices takes neither transA, alpha, beta nor C; \
                            use MatMul and Add"
                    .into());
            }
            let tb = gemm && attr_int(node, "transB", 0) != 0;
            let a = operand_int(g, &name, arg(0)?, 0)?;
            let b = operand_int(g, &name, arg(1)?, 1)?;
            tensors::matmul(g, &name, a, b, tb)
        }
        "Transpose" => {
            let (id, scale) = operand_int(g, &name, arg(0)?, 0)?;
            let perm = super::attr_ints(node, "perm", &[]);
            tensors::transpose(g, &name, id, scale, &perm)
        }
        "Softmax" => {
            let (id, scale) = linear_int(arg(0)?, "Softmax", true)?;
            let axis = attr_int(node, "axis", -1);
            if !last_axis(g, id, axis) {
                return Err(format!(
                    "Softmax along axis {axis}: Spikeforge takes the last axis"
                ));
            }
            Ok(QValue::Softmax { id, scale })
        }
        "LayerNormalization" => {
            let (id, scale) = linear_int(arg(0)?, "LayerNormalization", true)?;
            let axis = attr_int(node, "axis", -1);
            if !last_axis(g, id, axis) {
                return Err(format!(
                    "LayerNormalization over axes from {axis}: Spikeforge normalises the last \
                     axis"
                ));
            }
            let n = g.node(id).ty.shape.last().copied().unwrap_or(1);
            let param = |i: usize, default: f64| -> Result<Vec<f64>, String> {
                match node.input.get(i).filter(|s| !s.is_empty()) {
                    None => Ok(vec![default; n]),
                    Some(_) => super::broadcast(&konst_values(arg(i)?)?, n),
                }
            };
            let (gamma, beta) = (param(1, 1.0)?, param(2, 0.0)?);
            let eps = super::attr_float(node, "epsilon", 1e-5);
            if gamma.iter().chain(&beta).any(|v| !v.is_finite()) || !eps.is_finite() || eps <= 0.0 {
                return Err("scale, bias and epsilon must be numbers, epsilon positive".into());
            }
            Ok(QValue::Norm {
                id,
                scale,
                gamma,
                beta,
                eps,
            })
        }
        "MatMul" | "Gemm" => {
            let QValue::Int {
                id: x,
                n: n_in,
                scale: xs,
                shift: xb,
                expr: None,
            } = arg(0)?
            else {
                return Err(
                    "the first operand must be a quantised integer tensor (a Quant before it)"
                        .into(),
                );
            };
            if xs.iter().any(|&s| s != xs[0]) {
                return Err("the input must have one scale for all its elements".into());
            }
            let QValue::QConst {
                dims,
                q,
                scale,
                zero,
            } = arg(1)?
            else {
                return Err(
                    "the weight must be a quantised constant (Quant of an initializer)".into(),
                );
            };
            if zero.iter().any(|&z| z != 0.0) {
                return Err("weights must have zero point 0".into());
            }
            let [a, b] = dims[..] else {
                return Err(format!("weight of shape {dims:?}; expected a matrix"));
            };
            let gemm = node.op_type == "Gemm";
            if gemm && attr_int(node, "transA", 0) != 0 {
                return Err("transA is not supported".into());
            }
            if gemm
                && (super::attr_float(node, "alpha", 1.0) != 1.0
                    || super::attr_float(node, "beta", 1.0) != 1.0)
            {
                return Err(
                    "alpha and beta other than 1 are not lowered in a quantised graph".into(),
                );
            }
            let trans_b = gemm && attr_int(node, "transB", 0) != 0;
            let (rows, cols) = if trans_b { (a, b) } else { (b, a) };
            if cols != *n_in {
                return Err(format!(
                    "weight {dims:?} does not take the {n_in} inputs it is given"
                ));
            }
            let at = |r: usize, c: usize| if trans_b { r * cols + c } else { c * rows + r };
            let mut w = vec![0i64; rows * cols];
            // The weight scale of each output (scales are per element here, broadcast from the
            // Quant's): it must not vary along the summed axis.
            let mut w_scale = vec![0.0f64; rows];
            for r in 0..rows {
                for c in 0..cols {
                    w[r * cols + c] = q[at(r, c)];
                }
                if (0..cols).any(|c| scale[at(r, c)] != scale[at(r, 0)]) {
                    return Err("weight scales must be per tensor or per output channel".into());
                }
                w_scale[r] = scale[at(r, 0)] as f64;
            }
            let out_scale: Vec<f64> = w_scale.iter().map(|&s| xs[0] * s).collect();
            // An input offset (a signed activation's count starts at its minimum) passes
            // through the weights: W (s q + b) = s W q + W b.
            let offset_through: Vec<f64> = (0..rows)
                .map(|r| {
                    (0..cols)
                        .map(|c| w[r * cols + c] as f64 * w_scale[r] * xb[c])
                        .sum()
                })
                .collect();
            let (lo, hi) = signed_range(g.node(*x).ty.elem_bits().unwrap_or(2));
            let (mut olo, mut ohi) = (0i128, 0i128);
            for r in 0..rows {
                let (mut p, mut m) = (0i128, 0i128);
                for &wv in &w[r * cols..(r + 1) * cols] {
                    let (u, v) = (wv as i128 * lo as i128, wv as i128 * hi as i128);
                    m += u.min(v);
                    p += u.max(v);
                }
                olo = olo.min(m);
                ohi = ohi.max(p);
            }
            let width = signed_width(olo, ohi);
            if width > 62 {
                return Err(format!(
                    "the accumulator needs {width} bits; Spikeforge's integers hold 62"
                ));
            }
            let id = g.add(
                name,
                Op::Dense(IntDense {
                    weight: Tensor::new(vec![rows, cols], w),
                    bias: vec![0; rows],
                    scale: vec![1.0; rows],
                }),
                vec![Port::now(*x)],
                Type::fix(width, rows),
            );
            let mut shift = offset_through;
            if gemm && node.input.get(2).is_some_and(|s| !s.is_empty()) {
                let bias = super::broadcast(&konst_values(arg(2)?)?, rows)?;
                for (s, b) in shift.iter_mut().zip(bias) {
                    *s += b;
                }
            }
            Ok(QValue::Int {
                id,
                n: rows,
                scale: out_scale,
                shift,
                expr: None,
            })
        }
        "Add" if two_matrices(g, arg(0)?, arg(1)?) => {
            let (a, sa, ba) = linear_parts(arg(0)?)?;
            let (b, sb, bb) = linear_parts(arg(1)?)?;
            tensors::add(g, &name, (a, sa, ba), (b, sb, bb))
        }
        op @ ("Add" | "Sub" | "Mul" | "Div") => {
            let bin = Binary::from_op(op).ok_or("unreachable")?;
            // Constants broadcast against a matrix by its shape (numpy's rules).
            let dims = [arg(0)?, arg(1)?].into_iter().find_map(|v| match v {
                QValue::Int { id, .. } if g.node(*id).ty.shape.len() >= 2 => {
                    Some(g.node(*id).ty.shape.clone())
                }
                _ => None,
            });
            match dims {
                Some(d) => binary(bin, &shaped(arg(0)?, &d)?, &shaped(arg(1)?, &d)?),
                None => binary(bin, arg(0)?, arg(1)?),
            }
        }
        op @ ("Relu" | "Sigmoid" | "Tanh" | "Erf" | "Gelu") => {
            let tanh = super::attr(node, "approximate").is_some_and(|a| a.s == b"tanh");
            let u = Unary::from_op(op, tanh).ok_or("unreachable")?;
            match arg(0)? {
                QValue::Int {
                    id,
                    n,
                    scale,
                    shift,
                    expr,
                } => Ok(QValue::Int {
                    id: *id,
                    n: *n,
                    scale: scale.clone(),
                    shift: shift.clone(),
                    expr: Some(Expr::Unary(u, Box::new(as_expr(scale, shift, expr)))),
                }),
                _ => Err(format!("{op} is lowered on computed integer tensors only")),
            }
        }
        other => Err(format!("{other} is not lowered in a quantised graph")),
    }
}

/// A constant's values (a quantised constant dequantised as qonnx does).
/// Most evaluations spent checking non-monotone functions before quantisers (per graph node).
const MAX_CHECKED: u64 = 1 << 24;

/// An integer tensor's value as a function of its integer.
fn as_expr(scale: &[f64], shift: &[f64], expr: &Option<Expr>) -> Expr {
    expr.clone().unwrap_or_else(|| Expr::Lin {
        scale: scale.to_vec(),
        shift: shift.to_vec(),
    })
}

/// `a op b` where at least one side is a computed integer tensor: constants fold into a
/// linear form while no function is pending, otherwise the function grows; two computed
/// operands must be functions of the same integers.
fn binary(op: Binary, a: &QValue, b: &QValue) -> Result<QValue, String> {
    let computed = |v: &QValue| matches!(v, QValue::Int { .. });
    let (
        QValue::Int {
            id,
            n,
            scale,
            shift,
            expr,
        },
        other,
        swapped,
    ) = (if computed(a) {
        (a, b, false)
    } else if computed(b) {
        (b, a, true)
    } else {
        return Err("at least one operand must be a computed integer tensor".into());
    })
    else {
        return Err("unreachable".into());
    };
    let int = |expr: Option<Expr>, scale: Vec<f64>, shift: Vec<f64>| QValue::Int {
        id: *id,
        n: *n,
        scale,
        shift,
        expr,
    };
    let x = as_expr(scale, shift, expr);
    match other {
        QValue::Int {
            id: id2,
            scale: s2,
            shift: b2,
            expr: e2,
            ..
        } => {
            if id2 != id {
                return Err(format!(
                    "{op:?} of two different computed tensors is not lowered (only functions of \
                     one tensor, such as x * erf(x))"
                ));
            }
            let y = as_expr(s2, b2, e2);
            Ok(int(
                Some(Expr::Binary(op, Box::new(x), Box::new(y))),
                scale.clone(),
                shift.clone(),
            ))
        }
        c => {
            let c = super::broadcast(&konst_values(c)?, *n)?;
            if op == Binary::Div && !swapped && c.contains(&0.0) {
                return Err("division by zero".into());
            }
            match (expr, op, swapped) {
                // Linear stays linear: the form a later MatMul or Add needs.
                (None, Binary::Add, _) => Ok(int(
                    None,
                    scale.clone(),
                    (0..*n).map(|e| shift[e] + c[e]).collect(),
                )),
                (None, Binary::Sub, false) => Ok(int(
                    None,
                    scale.clone(),
                    (0..*n).map(|e| shift[e] - c[e]).collect(),
                )),
                (None, Binary::Mul, _) | (None, Binary::Div, false) => {
                    let k: Vec<f64> = c
                        .iter()
                        .map(|&v| if op == Binary::Mul { v } else { 1.0 / v })
                        .collect();
                    Ok(int(
                        None,
                        (0..*n).map(|e| scale[e] * k[e]).collect(),
                        (0..*n).map(|e| shift[e] * k[e]).collect(),
                    ))
                }
                _ => {
                    let c = Box::new(Expr::Const(c.iter().map(|&v| v as f32).collect()));
                    let e = if swapped {
                        Expr::Binary(op, c, Box::new(x))
                    } else {
                        Expr::Binary(op, Box::new(x), c)
                    };
                    Ok(int(Some(e), scale.clone(), shift.clone()))
                }
            }
        }
    }
}

/// Whether `v` is a computed integer matrix (two or more axes).
fn matrix(g: &Graph, v: &QValue) -> bool {
    matches!(v, QValue::Int { id, .. } if g.node(*id).ty.shape.len() >= 2)
}

fn two_matrices(g: &Graph, a: &QValue, b: &QValue) -> bool {
    matrix(g, a) && matrix(g, b)
}

/// A constant broadcast to one value per element of a tensor of `dims` (others unchanged).
fn shaped(v: &QValue, dims: &[usize]) -> Result<QValue, String> {
    let (data, vdims) = match v {
        QValue::Const { data, dims } => (data.clone(), dims.clone()),
        QValue::QConst { dims, .. } => (konst_values(v)?, dims.clone()),
        other => return Ok(other.clone()),
    };
    let f: Vec<f32> = data.iter().map(|&x| x as f32).collect();
    let b = broadcast_to(&f, &vdims, dims)?;
    Ok(QValue::Const {
        dims: dims.to_vec(),
        data: b.into_iter().map(f64::from).collect(),
    })
}

/// A computed integer tensor with no pending function: (node, scale, per-element shift).
fn linear_parts(v: &QValue) -> Result<(NodeId, f64, Vec<f64>), String> {
    match v {
        QValue::Int {
            id,
            scale,
            shift,
            expr: None,
            ..
        } => Ok((*id, uniform(scale)?, shift.clone())),
        _ => Err("both operands must be quantised integer tensors (a Quant before each)".into()),
    }
}

/// A computed integer tensor with one scale and (unless `offset_ok`) no offset.
fn linear_int(v: &QValue, what: &str, offset_ok: bool) -> Result<(NodeId, f64), String> {
    let (id, scale, shift) =
        linear_parts(v).map_err(|_| format!("{what} takes a quantised integer tensor"))?;
    if !offset_ok && shift.iter().any(|&b| b != 0.0) {
        return Err(format!(
            "{what} of a tensor with an offset (zero point or bias) is not lowered; quantise it \
             first"
        ));
    }
    Ok((id, scale))
}

/// An operand of a matrix product: a computed tensor, or a quantised constant made a `const`
/// node. Returns (node, scale).
fn operand_int(g: &mut Graph, name: &str, v: &QValue, i: usize) -> Result<(NodeId, f64), String> {
    match v {
        QValue::QConst {
            dims,
            q,
            scale,
            zero,
        } => {
            if zero.iter().any(|&z| z != 0.0) {
                return Err("weights must have zero point 0".into());
            }
            let s: Vec<f64> = scale.iter().map(|&x| x as f64).collect();
            let s = uniform(&s).map_err(|_| {
                "a weight matrix multiplying a computed matrix needs one scale".to_string()
            })?;
            let id = tensors::constant(g, &format!("{name}_w{i}"), dims, q)?;
            Ok((id, s))
        }
        v => linear_int(v, "a matrix product", false),
    }
}

/// The one value of `v`, or an error when its elements differ.
fn uniform(v: &[f64]) -> Result<f64, String> {
    match v.first() {
        Some(&x) if v.iter().all(|&y| y == x) => Ok(x),
        _ => Err("the tensor's elements must share one scale".into()),
    }
}

fn konst_values(v: &QValue) -> Result<Vec<f64>, String> {
    match v {
        QValue::Const { data, .. } => Ok(data.clone()),
        QValue::QConst { q, scale, zero, .. } => Ok(q
            .iter()
            .enumerate()
            .map(|(e, &qi)| ((qi as f32 - zero[e]) * scale[e]) as f64)
            .collect()),
        _ => Err("expected a constant".into()),
    }
}

/// A `Quant` of a computed integer tensor (after an optional Relu) as a multi-threshold unit.
#[allow(clippy::too_many_arguments)]
fn requantise(
    g: &mut Graph,
    name: &str,
    q: &Quantiser,
    src: NodeId,
    n: usize,
    f: &Expr,
) -> Result<QValue, String> {
    let (lo, hi) = signed_range(g.node(src).ty.elem_bits().unwrap_or(2));
    let (min, max) = (q.min_int(), q.max_int());
    // One threshold per level: keep the unit within what the IR allows.
    let levels = (max - min) as usize;
    if levels > crate::ir::verify::MAX_THRESHOLDS {
        return Err(format!(
            "{levels} levels ({} bits); a quantiser of a computed value takes at most {}",
            q.bits,
            crate::ir::verify::MAX_THRESHOLDS
        ));
    }
    let q = &q.per_element(&[n])?;
    // Each element's function of its integer, evaluated as qonnx does in float32: the
    // accumulator (exact), plus the bias, the pending functions, then int_quant.
    let level = |e: usize, v: i64| -> i64 { q.integer(e, f.eval(e, v)) };
    // The IR's rows are per channel: one row when every element has the same function (same
    // scale, shift and quantiser), else one per element.
    let key = |e: usize| {
        let mut k = vec![q.scale[e].to_bits() as u64, q.zero[e].to_bits() as u64];
        f.key(e, &mut k);
        k
    };
    let per_element = (1..n).any(|e| key(e) != key(0));
    let rows: Vec<usize> = if per_element {
        (0..n).collect()
    } else {
        vec![0]
    };
    let k = (max - min) as usize;
    let mut thresholds = Vec::with_capacity(rows.len() * k);
    let mut checked = 0u64;
    for &e in &rows {
        let t = steps(&|v| level(e, v), lo, hi, min, max);
        if t.windows(2).any(|w| w[0] > w[1]) {
            return Err("the quantiser is not monotone in its input".into());
        }
        // A function not monotone by construction (GELU, products of branches) is checked at
        // every input, within a budget.
        if !f.provably_monotone() {
            checked += (hi - lo + 1) as u64;
            if checked > MAX_CHECKED {
                return Err(format!(
                    "cannot check that the function before this quantiser is monotone over \
                     {}-bit inputs (more than {MAX_CHECKED} evaluations)",
                    signed_width(lo as i128, hi as i128)
                ));
            }
            if let Some(v) =
                (lo..=hi).find(|&v| level(e, v) - min != t.partition_point(|&x| x <= v) as i64)
            {
                return Err(format!(
                    "the quantised function is not monotone: it falls at input {v} (element {e}); \
                     a multi-threshold unit computes rising staircases only"
                ));
            }
        }
        thresholds.extend(t);
    }
    // Identical staircases share one row.
    if rows.len() > 1 && thresholds.chunks(k.max(1)).all(|r| r == &thresholds[..k]) {
        thresholds.truncate(k);
    }
    // Levels already reached at `lo` get threshold `lo`, which every input meets, so the
    // count is `level - min` over the whole input range.
    let ty = Type::fix(signed_width(0, k as i128), n);
    let id = g.add(
        name.to_string(),
        Op::MultiThreshold(MultiThreshold {
            thresholds: Tensor::new(vec![thresholds.len() / k.max(1), k], thresholds),
        }),
        vec![Port::now(src)],
        ty,
    );
    // count = q - min, so real = (q - zero) * s = s * count + s * (min - zero).
    let s: Vec<f64> = q.scale.iter().map(|&v| v as f64).collect();
    let shift = (0..n)
        .map(|e| s[e] * (min as f64 - q.zero[e] as f64))
        .collect();
    Ok(QValue::Int {
        id,
        n,
        scale: s,
        shift,
        expr: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_modes_follow_numpy() {
        // numpy's results for these inputs (np.round, np.ceil, ..., qonnx's lambdas).
        let cases: [(Rounding, [f32; 6]); 7] = [
            (Rounding::HalfEven, [2.0, -2.0, 2.0, 3.0, -4.0, 2.0]),
            (Rounding::Ceil, [3.0, -2.0, 3.0, 3.0, -3.0, 2.0]),
            (Rounding::Floor, [2.0, -3.0, 2.0, 2.0, -4.0, 2.0]),
            (Rounding::Up, [3.0, -3.0, 3.0, 3.0, -4.0, 2.0]),
            (Rounding::Down, [2.0, -2.0, 2.0, 2.0, -3.0, 2.0]),
            (Rounding::HalfUp, [3.0, -3.0, 2.0, 3.0, -4.0, 2.0]),
            (Rounding::HalfDown, [2.0, -2.0, 2.0, 3.0, -3.0, 2.0]),
        ];
        let xs = [2.5f32, -2.5, 2.25, 2.75, -3.5, 2.0];
        for (mode, want) in cases {
            let got: Vec<f32> = xs.iter().map(|&x| mode.apply(x)).collect();
            assert_eq!(got, want, "{mode:?}");
        }
    }

    #[test]
    fn steps_find_the_first_integer_of_each_level() {
        // floor(v / 3) clamped to 0..=3, for v in -5..=20.
        let f = |v: i64| (v.div_euclid(3)).clamp(0, 3);
        assert_eq!(steps(&f, -5, 20, 0, 3), vec![3, 6, 9]);
        // A level beyond the range: hi + 1.
        assert_eq!(steps(&f, -5, 7, 0, 3), vec![3, 6, 8]);
    }
}
