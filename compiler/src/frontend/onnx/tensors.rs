//! Quantised transformer layers in QONNX graphs: matrix products of computed tensors (and of a
//! tensor by a constant matrix), transposes, the residual add, softmax, LayerNormalization and
//! requantisation of matrices, lowered to the IR's integer tensor operators
//! (`ir::tensor_ops`). Softmax and LayerNormalization are float operators in ONNX; here they
//! become integer units whose output grid is the following `Quant`'s, so they agree with the
//! float graph to about one output step, measured by `tests/onnx_frontend.rs`; the requantiser
//! of a matrix (with a bias and a ReLU) is exact.

use super::elementwise::{Expr, Unary};
use super::quantised::{QValue, Quantiser, Rounding as QRounding};
use crate::ir::tensor_ops::{LayerNorm, Requant, Rounding, Softmax, MAX_EXP_TABLE};
use crate::ir::{Graph, NodeId, Op, Port, TensorOp};

/// Fractional bits of LayerNorm's reciprocal square root (`r = floor(2^24 sqrt(n / V))`):
/// about 14 significant bits for 8-bit activations over 32 channels.
const NORM_FRAC: u32 = 24;
/// Largest LayerNorm multiplier aimed for (per channel `gamma / scale`, scaled).
const NORM_MUL_BITS: i32 = 20;

fn tensor(g: &mut Graph, name: &str, op: TensorOp, ins: &[NodeId]) -> Result<NodeId, String> {
    let tys: Vec<crate::ir::Type> = ins.iter().map(|&i| g.node(i).ty.clone()).collect();
    let refs: Vec<&crate::ir::Type> = tys.iter().collect();
    let out = op.out_type(&refs)?;
    Ok(g.add(
        name.to_string(),
        Op::Tensor(op),
        ins.iter().map(|&i| Port::now(i)).collect(),
        out,
    ))
}

fn int(g: &Graph, id: NodeId, scale: f64) -> QValue {
    let n = g.node(id).ty.len();
    QValue::Int {
        id,
        n,
        scale: vec![scale; n],
        shift: vec![0.0; n],
        expr: None,
    }
}

/// `2^k == v` exactly, for a `k` in `-60..=60`.
fn log2_exact(v: f64) -> Option<i32> {
    (-60..=60).find(|&k| 2f64.powi(k) == v)
}

/// The IR's rounding for a QONNX mode, where one matches on every input (QONNX's `UP` rounds
/// away from zero and `HALF_DOWN` ties toward zero; the IR has neither).
fn ir_rounding(r: QRounding) -> Option<Rounding> {
    match r {
        QRounding::HalfEven => Some(Rounding::HalfEven),
        QRounding::Ceil => Some(Rounding::Ceil),
        QRounding::Floor => Some(Rounding::Floor),
        QRounding::Down => Some(Rounding::Trunc),
        QRounding::HalfUp => Some(Rounding::HalfAway),
        QRounding::Up | QRounding::HalfDown => None,
    }
}

/// The output grid of quantiser `q` on `n` elements: one power-of-two scale, zero point 0.
fn grid(q: &Quantiser, n: usize) -> Option<(f64, i32)> {
    let q = q.per_element(&[n]).ok()?;
    let s = q.scale[0] as f64;
    if q.scale.iter().any(|&x| x as f64 != s) || q.zero.iter().any(|&z| z != 0.0) {
        return None;
    }
    log2_exact(s).map(|k| (s, k))
}

/// A quantised weight matrix as a `const` node (leading axes of 1 dropped to the rank of a
/// matrix).
pub(super) fn constant(
    g: &mut Graph,
    name: &str,
    dims: &[usize],
    q: &[i64],
) -> Result<NodeId, String> {
    let mut shape = dims.to_vec();
    while shape.len() > 2 && shape[0] == 1 {
        shape.remove(0);
    }
    if shape.len() < 2 {
        return Err(format!(
            "a weight of shape {dims:?} multiplying a matrix must be a matrix"
        ));
    }
    tensor(
        g,
        name,
        TensorOp::Const {
            shape,
            data: q.to_vec(),
        },
        &[],
    )
}

/// `A B` (or `A B^T`) of computed integers or a constant matrix: exact.
pub(super) fn matmul(
    g: &mut Graph,
    name: &str,
    (a, sa): (NodeId, f64),
    (b, sb): (NodeId, f64),
    tb: bool,
) -> Result<QValue, String> {
    let id = tensor(g, name, TensorOp::IntMatmul { ta: false, tb }, &[a, b])?;
    Ok(int(g, id, sa * sb))
}

/// A transpose by ONNX's `perm` (which counts the batch axis the IR drops).
pub(super) fn transpose(
    g: &mut Graph,
    name: &str,
    id: NodeId,
    scale: f64,
    perm: &[i64],
) -> Result<QValue, String> {
    let rank = g.node(id).ty.shape.len();
    let off = perm
        .len()
        .checked_sub(rank)
        .filter(|&o| o <= 1)
        .ok_or_else(|| {
            format!("perm {perm:?} does not fit a tensor of {rank} axes (give perm explicitly)")
        })?;
    if perm[..off].iter().enumerate().any(|(i, &p)| p != i as i64) {
        return Err(format!("perm {perm:?} moves the batch axis"));
    }
    let ir: Vec<usize> = perm[off..]
        .iter()
        .map(|&p| usize::try_from(p - off as i64).unwrap_or(usize::MAX))
        .collect();
    let t = tensor(g, name, TensorOp::Transpose { perm: ir }, &[id])?;
    Ok(int(g, t, scale))
}

/// The residual add of two integer tensors on one grid.
pub(super) fn add(
    g: &mut Graph,
    name: &str,
    (a, sa, ba): (NodeId, f64, Vec<f64>),
    (b, sb, bb): (NodeId, f64, Vec<f64>),
) -> Result<QValue, String> {
    if sa != sb {
        return Err(format!(
            "Add of tensors on different grids (scales {sa} and {sb}); quantise both to one \
             scale first"
        ));
    }
    if ba.len() != bb.len() {
        return Err("Add of tensors of different sizes is not lowered".into());
    }
    let id = tensor(g, name, TensorOp::Add, &[a, b])?;
    let n = g.node(id).ty.len();
    Ok(QValue::Int {
        id,
        n,
        scale: vec![sa; n],
        shift: ba.iter().zip(&bb).map(|(x, y)| x + y).collect(),
        expr: None,
    })
}

/// A `Quant` of a matrix whose value is linear in its integers (with a bias, and an optional
/// `Relu`) on power-of-two grids: an integer add of the bias, then a requantiser (multiply or
/// shift, round, clamp). Exact against qonnx's float32 execution, since every value on the
/// way is a float32 integer multiple of a power of two. `None` when that does not hold (the
/// caller then builds a multi-threshold unit).
pub(super) fn requant(
    g: &mut Graph,
    name: &str,
    q: &Quantiser,
    src: NodeId,
    f: &Expr,
) -> Result<Option<QValue>, String> {
    let (relu, lin) = match f {
        Expr::Unary(Unary::Relu, x) => (true, &**x),
        x => (false, x),
    };
    let Some((scale, shift)) = lin.linear() else {
        return Ok(None);
    };
    let ty = g.node(src).ty.clone();
    let n = ty.len();
    let s_in = scale[0];
    let (Some(rounding), Some((s_out, _)), Some(_)) = (
        ir_rounding(q.rounding),
        grid(q, n),
        log2_exact(s_in).filter(|_| scale.iter().all(|&s| s == s_in)),
    ) else {
        return Ok(None);
    };
    if q.bits == 1 && q.signed || ty.elem_bits().unwrap_or(64) > 24 {
        return Ok(None);
    }
    let Some(k) = log2_exact(s_in / s_out) else {
        return Ok(None);
    };
    // The bias on the integers' grid.
    let bias: Vec<f64> = shift.iter().map(|&b| b / s_in).collect();
    if bias
        .iter()
        .any(|b| b.fract() != 0.0 || b.abs() > (1 << 20) as f64)
    {
        return Ok(None);
    }
    let mut x = src;
    if bias.iter().any(|&b| b != 0.0) {
        let last = *ty.shape.last().unwrap_or(&1);
        let periodic = (0..n).all(|e| bias[e] == bias[e % last]);
        let (shape, data): (Vec<usize>, Vec<i64>) = if periodic {
            let mut s = vec![1; ty.shape.len()];
            s[ty.shape.len() - 1] = last;
            (s, bias[..last].iter().map(|&b| b as i64).collect())
        } else {
            (ty.shape.clone(), bias.iter().map(|&b| b as i64).collect())
        };
        let c = tensor(
            g,
            &format!("{name}_bias"),
            TensorOp::Const { shape, data },
            &[],
        )?;
        x = tensor(g, &format!("{name}_biased"), TensorOp::Add, &[src, c])?;
    }
    let (mul, sh) = if k >= 0 {
        if k > 24 {
            return Ok(None);
        }
        (1i64 << k, 0)
    } else if -k <= crate::ir::tensor_ops::MAX_REQUANT_SHIFT as i32 {
        (1, (-k) as u32)
    } else {
        return Ok(None);
    };
    let lo = if relu {
        q.min_int().max(0)
    } else {
        q.min_int()
    };
    let id = tensor(
        g,
        name,
        TensorOp::Requant(Requant {
            mul: vec![mul],
            shift: sh,
            rounding,
            lo,
            hi: q.max_int().max(lo),
        }),
        &[x],
    )?;
    Ok(Some(int(g, id, s_out)))
}

/// `Quant(Softmax(x))`: an exponential table over the integer differences from the row's
/// maximum (`2^16 exp(-scale d)`), the sum, a reciprocal, and the products on the quantiser's
/// grid (rounded half up).
pub(super) fn softmax(
    g: &mut Graph,
    name: &str,
    q: &Quantiser,
    src: NodeId,
    scale: f64,
) -> Result<QValue, String> {
    let ty = g.node(src).ty.clone();
    let (s_out, k) = grid(q, ty.len())
        .ok_or("the quantiser after Softmax must have one power-of-two scale and zero point 0")?;
    let frac = u32::try_from(-k)
        .ok()
        .filter(|&f| f <= crate::ir::tensor_ops::MAX_SOFTMAX_FRAC)
        .ok_or_else(|| format!("a softmax output scale of {s_out}: Spikeforge takes 2^-16 to 1"))?;
    let (lo, hi) = ty
        .elem_range()
        .ok_or("the softmax input must be integers")?;
    let span = (hi - lo) as usize;
    let mut exp = Vec::new();
    for d in 0..=span {
        let v = ((1u64 << 16) as f64 * (-scale * d as f64).exp()).round() as i64;
        exp.push(v);
        if v == 0 {
            break;
        }
        if exp.len() > MAX_EXP_TABLE {
            return Err(format!(
                "the softmax input spans {span} steps of {scale}: the exponential table would \
                 need more than {MAX_EXP_TABLE} entries; quantise the input more coarsely"
            ));
        }
    }
    let top = q.max_int().min(1 << frac);
    if q.min_int() > 0 || top < 0 {
        return Err("the quantiser after Softmax must hold 0".into());
    }
    let id = tensor(
        g,
        name,
        TensorOp::Softmax(Softmax { exp, frac, hi: top }),
        &[src],
    )?;
    Ok(int(g, id, s_out))
}

/// `Quant(LayerNormalization(x))`: the integer LayerNorm with `gamma` and `beta` folded into
/// a per-channel multiplier and offset on the quantiser's grid, in its rounding mode.
#[allow(clippy::too_many_arguments)]
pub(super) fn layer_norm(
    g: &mut Graph,
    name: &str,
    q: &Quantiser,
    src: NodeId,
    scale: f64,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
) -> Result<QValue, String> {
    let ty = g.node(src).ty.clone();
    let n = *ty.shape.last().unwrap_or(&1);
    let (s_out, _) = grid(q, ty.len()).ok_or(
        "the quantiser after LayerNormalization must have one power-of-two scale and zero \
         point 0",
    )?;
    let rounding = ir_rounding(q.rounding)
        .ok_or("LayerNormalization before a Quant rounding UP or HALF_DOWN is not lowered")?;
    // var_real + eps = scale^2 (V / n^3) with V = sum D^2 + n^3 eps / scale^2.
    let eps_int = (eps * (n as f64).powi(3) / (scale * scale))
        .round()
        .max(1.0);
    if eps_int > u32::MAX as f64 {
        return Err(format!(
            "epsilon {eps} is {eps_int} integer steps; at most {}",
            u32::MAX
        ));
    }
    // y = gamma z / 2^F + beta, on the grid: (z mul + add) / 2^shift with the multipliers
    // near NORM_MUL_BITS bits.
    let most = gamma.iter().fold(0f64, |m, &x| m.max(x.abs())) / s_out;
    let m = (NORM_MUL_BITS - most.max(1e-9).log2().ceil() as i32).clamp(
        0,
        (crate::ir::tensor_ops::MAX_REQUANT_SHIFT - NORM_FRAC) as i32,
    ) as u32;
    let shift = NORM_FRAC + m;
    let mul: Vec<i64> = gamma
        .iter()
        .map(|&gm| (gm * 2f64.powi(m as i32) / s_out).round() as i64)
        .collect();
    let add: Vec<i64> = beta
        .iter()
        .map(|&b| (b * 2f64.powi(shift as i32) / s_out).round() as i64)
        .collect();
    let ln = LayerNorm {
        eps: eps_int as i64,
        frac: NORM_FRAC,
        mul,
        add,
        shift,
        rounding,
        lo: q.min_int(),
        hi: q.max_int(),
    };
    let id = tensor(g, name, TensorOp::LayerNorm(ln), &[src])?;
    Ok(int(g, id, s_out))
}

/// A QONNX `Trunc` node's parameters.
pub(super) struct Trunc {
    pub scale: f64,
    pub zero: f64,
    pub in_bits: f64,
    /// v2's output scale (`None`: v1, which keeps `scale`).
    pub out_scale: Option<f64>,
    pub out_bits: f64,
    pub signed: bool,
    pub narrow: bool,
    pub rounding: QRounding,
}

/// QONNX `Trunc` of computed integers (`real = scale_in q`): `y = mode(round(x / scale) /
/// 2^k)`, `k = in_bits - out_bits` (v1) or `log2(out_scale / scale)` rounded (v2, which also
/// clamps to the output width), as a requantiser shifting by `k`. Exact when `x / scale` is
/// `q` times a power of two of at least 1, which holds for the exported average pools.
pub(super) fn trunc(
    g: &mut Graph,
    name: &str,
    src: NodeId,
    s_in: f64,
    t: &Trunc,
) -> Result<QValue, String> {
    if t.zero != 0.0 {
        return Err("Trunc with a zero point other than 0 is not lowered".into());
    }
    if !(t.scale > 0.0 && t.scale.is_finite()) {
        return Err(format!("Trunc scale {} must be a positive number", t.scale));
    }
    let up = log2_exact(s_in / t.scale)
        .filter(|&j| j >= 0)
        .ok_or_else(|| {
            format!(
                "Trunc's scale {} is not the input's grid {s_in} divided by a power of two",
                t.scale
            )
        })?;
    let (k, out_scale) = match t.out_scale {
        None => {
            let k = t.in_bits - t.out_bits;
            if k.fract() != 0.0 || !(0.0..=40.0).contains(&k) {
                return Err(format!(
                    "Trunc from {} to {} bits: whole widths, the output narrower",
                    t.in_bits, t.out_bits
                ));
            }
            (k as i32, t.scale)
        }
        Some(os) => {
            if !(os > 0.0 && os.is_finite()) {
                return Err(format!("Trunc output scale {os} must be a positive number"));
            }
            ((os / t.scale).log2().round() as i32, os)
        }
    };
    let rounding = ir_rounding(t.rounding)
        .ok_or("Trunc rounding UP or HALF_DOWN is not lowered (the IR has neither)")?;
    // y = mode(q 2^up / 2^k): a shift by k - up, or a multiply.
    let (mul, shift) = match k - up {
        d if d >= 0 => (1i64, d as u32),
        d if d >= -24 => (1i64 << -d, 0),
        _ => return Err("Trunc multiplies by more than 2^24".into()),
    };
    if shift > crate::ir::tensor_ops::MAX_REQUANT_SHIFT {
        return Err(format!("Trunc shifts by {shift} bits; at most 40"));
    }
    let (qlo, qhi) = g.node(src).ty.elem_range().ok_or("Trunc takes integers")?;
    let round = |v: i64| rounding.shift(v as i128 * mul as i128, shift) as i64;
    let (lo, hi) = match t.out_scale {
        // v1 does not clamp: the range is what the shift leaves.
        None => (round(qlo), round(qhi)),
        Some(_) => {
            let bits = t.out_bits;
            if bits.fract() != 0.0 || !(1.0..=32.0).contains(&bits) {
                return Err(format!("Trunc output width {bits}: 1 to 32 bits"));
            }
            let q = Quantiser {
                scale: vec![1.0],
                scale_dims: vec![],
                zero: vec![0.0],
                zero_dims: vec![],
                bits: bits as u32,
                signed: t.signed,
                narrow: t.narrow,
                rounding: t.rounding,
            };
            (q.min_int(), q.max_int())
        }
    };
    let id = tensor(
        g,
        name,
        TensorOp::Requant(Requant {
            mul: vec![mul],
            shift,
            rounding,
            lo,
            hi,
        }),
        &[src],
    )?;
    Ok(int(g, id, out_scale))
}
