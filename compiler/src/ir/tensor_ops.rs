//! Tensor operators of transformers. Spike-driven ones (Spike-driven Transformer,
//! Meta-SpikeFormer, QSD-Transformer): spike AND, popcount, spike matrix products, the
//! membrane shortcut, spike max-pooling and requantisation; and those of integer-only
//! transformers (I-BERT style): integer matrix products, constants, softmax and LayerNorm.
//! Their integer semantics live here, beside the definitions, so the type checker, the golden
//! model and the backend read one description.
//!
//! Tensors are row-major over their type's shape (channel-major for convolution outputs, so a
//! `[channels, tokens]` value is what a 1-D convolution over tokens produces).

use crate::ir::types::{signed_width, Elem, Type};

/// How a requantiser rounds `x / 2^shift`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Toward minus infinity (an arithmetic shift).
    Floor,
    /// Toward plus infinity.
    Ceil,
    /// Toward zero.
    Trunc,
    /// To nearest, ties toward plus infinity (`floor(x + 0.5)`, QSD-Transformer's).
    HalfUp,
    /// To nearest, ties toward minus infinity.
    HalfDown,
    /// To nearest, ties to even (torch's and numpy's `round`).
    HalfEven,
    /// To nearest, ties away from zero (C's `round`).
    HalfAway,
}

impl Rounding {
    pub const ALL: [Rounding; 7] = [
        Rounding::Floor,
        Rounding::Ceil,
        Rounding::Trunc,
        Rounding::HalfUp,
        Rounding::HalfDown,
        Rounding::HalfEven,
        Rounding::HalfAway,
    ];

    /// The word naming the mode in `.sfir`.
    pub fn word(self) -> &'static str {
        match self {
            Rounding::Floor => "floor",
            Rounding::Ceil => "ceil",
            Rounding::Trunc => "trunc",
            Rounding::HalfUp => "half_up",
            Rounding::HalfDown => "half_down",
            Rounding::HalfEven => "half_even",
            Rounding::HalfAway => "half_away",
        }
    }

    /// `x / 2^shift`, rounded.
    pub fn shift(self, x: i128, shift: u32) -> i128 {
        if shift == 0 {
            return x;
        }
        let q = x >> shift;
        let r = x - (q << shift);
        let half = 1i128 << (shift - 1);
        let up = match self {
            Rounding::Floor => false,
            Rounding::Ceil => r != 0,
            Rounding::Trunc => x < 0 && r != 0,
            Rounding::HalfUp => r >= half,
            Rounding::HalfDown => r > half,
            Rounding::HalfEven => r > half || (r == half && q & 1 == 1),
            Rounding::HalfAway => r > half || (r == half && x >= 0),
        };
        q + up as i128
    }
}

/// `y = clamp(round(x * mul[c] / 2^shift), lo, hi)`, with channel `c` of element `e` being
/// `e / (n / channels)` (channel-major, like multi-threshold).
#[derive(Clone, Debug, PartialEq)]
pub struct Requant {
    pub mul: Vec<i64>,
    pub shift: u32,
    pub rounding: Rounding,
    pub lo: i64,
    pub hi: i64,
}

/// Bounds that keep every product and sum inside `i64` with room to spare.
pub const MAX_REQUANT_SHIFT: u32 = 40;
pub const MAX_REQUANT_MUL: i64 = 1 << 24;
pub const MAX_INPUT_BITS: u32 = 32;

/// A weightless tensor operator.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorOp {
    /// Elementwise AND of two spike tensors (the spike Hadamard product); the second input
    /// broadcasts along the axes where its size is 1.
    And,
    /// Ones along `axis` of a spike tensor, which stays as an axis of size 1 (column sums
    /// of a `[rows, cols]` tensor are `axis = 0`, row sums `axis = 1`).
    Popcount { axis: usize },
    /// `y[b.., i, j] = sum_k A[b.., i, k] * B[b.., k, j]` over the last two axes, where `A` is
    /// the first input (transposed when `ta`) and `B` the second (transposed when `tb`);
    /// leading axes are a batch (heads). `B` is spikes, so a product is a conditional add
    /// (counts when `A` is spikes too).
    Matmul { ta: bool, tb: bool },
    /// Elementwise sum of inputs of one shape (the membrane shortcut); spikes count 1.
    Add,
    /// OR over `kernel` windows of a `[c, h, w]` (or `[c, l]`) spike tensor, `stride` apart:
    /// spike max-pooling.
    OrPool {
        kernel: Vec<usize>,
        stride: Vec<usize>,
    },
    /// Requantisation of integers.
    Requant(Requant),
    /// Axes permuted: output axis `k` is input axis `perm[k]` (wiring only in hardware).
    Transpose { perm: Vec<usize> },
    /// `y[b.., i, j] = sum_k A[b.., i, k] * B[b.., k, j]` on integers (attention scores,
    /// attention times values, projections by a constant): multiplies, so a folded unit.
    IntMatmul { ta: bool, tb: bool },
    /// A constant integer tensor (a projection's weights, a bias); no inputs.
    Const { shape: Vec<usize>, data: Vec<i64> },
    /// Softmax of integers along the last axis ([`Softmax::row`]).
    Softmax(Softmax),
    /// LayerNorm of integers along the last axis, with a per-channel affine and requantiser
    /// ([`LayerNorm::row`]).
    LayerNorm(LayerNorm),
}

/// Bits of the softmax's reciprocal: `r = floor(2^32 / sum)`.
pub const SOFTMAX_RECIP_BITS: u32 = 32;
/// Longest exponential table, largest table entry, finest output step (`2^-16`).
pub const MAX_EXP_TABLE: usize = 4096;
pub const MAX_EXP: i64 = 1 << 16;
pub const MAX_SOFTMAX_FRAC: u32 = 16;
/// Longest softmax or LayerNorm row, largest constant.
pub const MAX_ROW: usize = 4096;
pub const MAX_CONST_ELEMENTS: usize = 1 << 22;
/// LayerNorm: largest `frac` and `|add|`; the variance sum must fit `i64` with room.
pub const MAX_NORM_FRAC: u32 = 30;
pub const MAX_NORM_ADD: i64 = 1 << 52;
pub const MAX_NORM_VARIANCE: i128 = 1 << 62;

/// Integer softmax of one row `x`: with `m = max x`, `d_i = min(m - x_i, L - 1)` indexes the
/// exponential table (`exp[d] ~ 2^16 exp(-scale d)`, non-increasing, `exp[0] >= 1`),
/// `e_i = exp[d_i]`, `S = sum e`, `r = floor(2^32 / S)`, and
/// `y_i = min((e_i r + 2^(31 - frac)) >> (32 - frac), hi)`: `e_i / S` to `frac` bits, rounded
/// half up, saturated at `hi`.
#[derive(Clone, Debug, PartialEq)]
pub struct Softmax {
    pub exp: Vec<i64>,
    pub frac: u32,
    pub hi: i64,
}

impl Softmax {
    pub fn row(&self, x: &[i64], y: &mut Vec<i64>) {
        let m = x.iter().copied().max().unwrap_or(0);
        let last = self.exp.len() as i64 - 1;
        let e: Vec<i64> = x
            .iter()
            .map(|&v| self.exp[(m - v).min(last) as usize])
            .collect();
        let s: i64 = e.iter().sum();
        let r = (1i64 << SOFTMAX_RECIP_BITS) / s.max(1);
        let sh = SOFTMAX_RECIP_BITS - self.frac;
        y.extend(
            e.iter()
                .map(|&ei| ((ei * r + (1 << (sh - 1))) >> sh).min(self.hi)),
        );
    }

    fn check(&self) -> Result<(), String> {
        let l = self.exp.len();
        if l == 0 || l > MAX_EXP_TABLE {
            return Err(format!(
                "the exp table has {l} entries (1 to {MAX_EXP_TABLE})"
            ));
        }
        if !(1..=MAX_EXP).contains(&self.exp[0]) {
            return Err(format!("exp[0] = {} must be in 1..={MAX_EXP}", self.exp[0]));
        }
        if self.exp.windows(2).any(|w| w[1] > w[0]) || self.exp[l - 1] < 0 {
            return Err("the exp table must be non-negative and non-increasing".into());
        }
        if self.frac > MAX_SOFTMAX_FRAC {
            return Err(format!("frac {} exceeds {MAX_SOFTMAX_FRAC}", self.frac));
        }
        if !(0..=1i64 << self.frac).contains(&self.hi) {
            return Err(format!("hi {} is outside 0..=2^{}", self.hi, self.frac));
        }
        Ok(())
    }
}

/// Integer LayerNorm of one row `x` of `n`: `S = sum x`, `D_i = n x_i - S` (`n` times the
/// deviation from the mean, exact), `V = sum D^2 + eps`, `r` the largest integer with
/// `r^2 V <= n 4^frac` (so `r = floor(2^frac sqrt(n / V))`, the reciprocal standard deviation
/// of the deviations `D / n`, scaled), `z_i = D_i r`, then the per-channel affine and
/// requantiser `y_i = clamp(round((z_i mul[c] + add[c]) / 2^shift), lo, hi)`, `c = i` (or 0
/// when one multiplier serves all).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNorm {
    pub eps: i64,
    pub frac: u32,
    pub mul: Vec<i64>,
    pub add: Vec<i64>,
    pub shift: u32,
    pub rounding: Rounding,
    pub lo: i64,
    pub hi: i64,
}

impl LayerNorm {
    /// `n 4^frac`, the bound `r^2 V` must not pass.
    pub fn target(&self, n: usize) -> i128 {
        (n as i128) << (2 * self.frac)
    }

    /// Bits of `r`: enough for its largest value, `floor(sqrt(n 4^frac / eps))`.
    pub fn r_bits(&self, n: usize) -> u32 {
        let rmax = isqrt(self.target(n) / self.eps.max(1) as i128);
        (128 - rmax.leading_zeros()).max(1)
    }

    /// `r` for variance sum `v`, found bit by bit from the top as the hardware does.
    pub fn recip(&self, n: usize, v: i128) -> i128 {
        let t = self.target(n);
        let mut r = 0i128;
        for k in (0..self.r_bits(n)).rev() {
            let c = r | (1 << k);
            if c * c * v <= t {
                r = c;
            }
        }
        r
    }

    pub fn row(&self, x: &[i64], y: &mut Vec<i64>) {
        let n = x.len() as i128;
        let s: i128 = x.iter().map(|&v| v as i128).sum();
        let d: Vec<i128> = x.iter().map(|&v| n * v as i128 - s).collect();
        let v = d.iter().map(|&di| di * di).sum::<i128>() + self.eps as i128;
        let r = self.recip(x.len(), v);
        let per = |k: &[i64], i: usize| k[if k.len() == 1 { 0 } else { i }] as i128;
        y.extend(d.iter().enumerate().map(|(i, &di)| {
            let z = di * r;
            let q = self
                .rounding
                .shift(z * per(&self.mul, i) + per(&self.add, i), self.shift);
            q.clamp(self.lo as i128, self.hi as i128) as i64
        }));
    }

    /// The largest `|D|` and `V` on inputs in `[lo, hi]`, rows of `n`.
    pub fn bounds(&self, n: usize, (lo, hi): (i64, i64)) -> (i128, i128) {
        let dmax = (n as i128 - 1) * (hi as i128 - lo as i128);
        (dmax, n as i128 * dmax * dmax + self.eps as i128)
    }

    fn check(&self, n: usize, range: (i64, i64)) -> Result<(), String> {
        if !(1..=u32::MAX as i64).contains(&self.eps) {
            return Err(format!("eps {} must be in 1..={}", self.eps, u32::MAX));
        }
        if self.frac > MAX_NORM_FRAC || self.shift > MAX_REQUANT_SHIFT {
            return Err(format!(
                "frac {} or shift {} too large ({MAX_NORM_FRAC}, {MAX_REQUANT_SHIFT})",
                self.frac, self.shift
            ));
        }
        for (what, k) in [("mul", &self.mul), ("add", &self.add)] {
            if k.len() != 1 && k.len() != n {
                return Err(format!(
                    "{what} has {} entries; rows have {n} (one entry, or one per channel)",
                    k.len()
                ));
            }
        }
        if let Some(m) = self.mul.iter().find(|m| m.abs() > MAX_REQUANT_MUL) {
            return Err(format!(
                "multiplier {m} exceeds {MAX_REQUANT_MUL} in magnitude"
            ));
        }
        if let Some(a) = self.add.iter().find(|a| a.abs() > MAX_NORM_ADD) {
            return Err(format!("offset {a} exceeds {MAX_NORM_ADD} in magnitude"));
        }
        let vmax = self.bounds(n, range).1;
        // The bisection's r^2 V, in 128-bit arithmetic with room.
        if vmax > MAX_NORM_VARIANCE || 2 * self.r_bits(n) + (128 - vmax.leading_zeros()) > 120 {
            return Err(format!(
                "rows of {n} of inputs in [{}, {}] overflow the variance sum",
                range.0, range.1
            ));
        }
        if self.lo > self.hi || signed_width(self.lo as i128, self.hi as i128) > 32 {
            return Err(format!(
                "range [{}, {}] is empty or wider than 32 bits",
                self.lo, self.hi
            ));
        }
        Ok(())
    }
}

/// `floor(sqrt(v))` for `v >= 0`.
pub fn isqrt(v: i128) -> i128 {
    if v <= 0 {
        return 0;
    }
    let mut r = (v as f64).sqrt() as i128;
    while r * r > v {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= v {
        r += 1;
    }
    r
}

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1] * shape[k + 1];
    }
    s
}

/// Whether a tensor of shape `b` broadcasts to shape `a`: same rank, each size equal or 1.
pub fn broadcasts(b: &[usize], a: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| x == y || y == 1)
}

/// Index of `b`'s element that broadcasts to `a`'s element `e`.
pub fn broadcast_index(a: &[usize], b: &[usize], e: usize) -> usize {
    let (sa, sb) = (strides(a), strides(b));
    (0..a.len())
        .map(|k| {
            if b[k] == 1 {
                0
            } else {
                (e / sa[k]) % a[k] * sb[k]
            }
        })
        .sum()
}

/// Index into the input of output element `e` of a transpose by `perm` of a tensor of `shape`.
pub fn transpose_index(shape: &[usize], perm: &[usize], e: usize) -> usize {
    let out: Vec<usize> = perm.iter().map(|&k| shape[k]).collect();
    let (so, si) = (strides(&out), strides(shape));
    (0..out.len())
        .map(|k| (e / so[k]) % out[k] * si[perm[k]])
        .sum()
}

/// The dimensions of a matmul: (batch, m, k, n), and the element offsets of `A[i, k]` and
/// `B[k, j]` within one batch.
#[derive(Clone, Copy, Debug)]
pub struct MatmulDims {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    ta: bool,
    tb: bool,
}

impl MatmulDims {
    pub fn a_index(&self, b: usize, i: usize, k: usize) -> usize {
        b * self.m * self.k
            + if self.ta {
                k * self.m + i
            } else {
                i * self.k + k
            }
    }

    /// The outputs `y[b, i, j] = sum_k term(b, i, j, k)`, row-major.
    pub fn each(&self, term: impl Fn(usize, usize, usize, usize) -> i64) -> Vec<i64> {
        let mut y = Vec::with_capacity(self.batch * self.m * self.n);
        for b in 0..self.batch {
            for i in 0..self.m {
                for j in 0..self.n {
                    y.push((0..self.k).map(|k| term(b, i, j, k)).sum());
                }
            }
        }
        y
    }

    pub fn b_index(&self, b: usize, k: usize, j: usize) -> usize {
        b * self.k * self.n
            + if self.tb {
                j * self.k + k
            } else {
                k * self.n + j
            }
    }
}

fn last2(t: &Type, what: &str) -> Result<(Vec<usize>, usize, usize), String> {
    let r = t.shape.len();
    if r < 2 {
        return Err(format!("{what} {t} needs at least two axes"));
    }
    Ok((t.shape[..r - 2].to_vec(), t.shape[r - 2], t.shape[r - 1]))
}

fn integer_range(t: &Type, what: &str) -> Result<(i64, i64), String> {
    match t.elem {
        Elem::Spike => Ok((0, 1)),
        Elem::Fix { width, frac: 0 } if width <= MAX_INPUT_BITS => Ok(t.elem_range().unwrap()),
        _ => Err(format!(
            "{what} must be spikes or integers up to fix<{MAX_INPUT_BITS},0>, is {t}"
        )),
    }
}

fn spikes(t: &Type, what: &str) -> Result<(), String> {
    if t.elem == Elem::Spike {
        Ok(())
    } else {
        Err(format!("{what} must be spikes, is {t}"))
    }
}

/// An integer type just wide enough for `[lo, hi]`.
fn fix_for(lo: i128, hi: i128, shape: Vec<usize>) -> Type {
    Type::new(
        Elem::Fix {
            width: signed_width(lo, hi),
            frac: 0,
        },
        shape,
    )
}

impl TensorOp {
    /// The keyword naming the operator in `.sfir`.
    pub fn keyword(&self) -> &'static str {
        match self {
            TensorOp::And => "spike_and",
            TensorOp::Popcount { .. } => "popcount",
            TensorOp::Matmul { .. } => "spike_matmul",
            TensorOp::Add => "add",
            TensorOp::OrPool { .. } => "or_pool",
            TensorOp::Requant(_) => "requant",
            TensorOp::Transpose { .. } => "transpose",
            TensorOp::IntMatmul { .. } => "matmul",
            TensorOp::Const { .. } => "const",
            TensorOp::Softmax(_) => "softmax",
            TensorOp::LayerNorm(_) => "layer_norm",
        }
    }

    /// Whether the operator is a multi-cycle unit (a stage of the schedule) rather than
    /// combinational logic.
    pub fn sequential(&self) -> bool {
        matches!(
            self,
            TensorOp::IntMatmul { .. } | TensorOp::Softmax(_) | TensorOp::LayerNorm(_)
        )
    }

    /// The dimensions of a matmul on inputs `a` and `b`.
    pub fn matmul_dims(a: &Type, b: &Type, ta: bool, tb: bool) -> Result<MatmulDims, String> {
        let (ba, r, c) = last2(a, "the first input")?;
        let (bb, r2, c2) = last2(b, "the second input")?;
        if ba != bb {
            return Err(format!("batch axes differ: {a} and {b}"));
        }
        let (m, k) = if ta { (c, r) } else { (r, c) };
        let (k2, n) = if tb { (c2, r2) } else { (r2, c2) };
        if k != k2 {
            return Err(format!(
                "inner sizes differ: {k} and {k2} ({a}{} times {b}{})",
                if ta { " transposed" } else { "" },
                if tb { " transposed" } else { "" }
            ));
        }
        Ok(MatmulDims {
            batch: ba.iter().product(),
            m,
            k,
            n,
            ta,
            tb,
        })
    }

    /// The output type the operator gives on inputs of types `ins`, or why they do not fit.
    pub fn out_type(&self, ins: &[&Type]) -> Result<Type, String> {
        let arity = |k: usize| {
            if ins.len() == k {
                Ok(())
            } else {
                Err(format!(
                    "{} takes {k} input{}, has {}",
                    self.keyword(),
                    if k == 1 { "" } else { "s" },
                    ins.len()
                ))
            }
        };
        match self {
            TensorOp::And => {
                arity(2)?;
                let (a, b) = (ins[0], ins[1]);
                spikes(a, "the first input")?;
                spikes(b, "the second input")?;
                if !broadcasts(&b.shape, &a.shape) {
                    return Err(format!(
                        "{b} does not broadcast to {a} (same rank; each size equal or 1)"
                    ));
                }
                Ok(a.clone())
            }
            TensorOp::Popcount { axis } => {
                arity(1)?;
                let a = ins[0];
                spikes(a, "the input")?;
                if *axis >= a.shape.len() {
                    return Err(format!("axis {axis} is out of range for {a}"));
                }
                let mut shape = a.shape.clone();
                let d = std::mem::replace(&mut shape[*axis], 1);
                Ok(fix_for(0, d as i128, shape))
            }
            TensorOp::Matmul { ta, tb } => {
                arity(2)?;
                let (a, b) = (ins[0], ins[1]);
                let (lo, hi) = integer_range(a, "the first input")?;
                spikes(b, "the second input (the spikes selecting what is added)")?;
                let d = Self::matmul_dims(a, b, *ta, *tb)?;
                let k = d.k as i128;
                let mut shape = a.shape[..a.shape.len() - 2].to_vec();
                shape.extend([d.m, d.n]);
                Ok(fix_for(
                    (lo as i128).min(0) * k,
                    (hi as i128).max(0) * k,
                    shape,
                ))
            }
            TensorOp::Add => {
                if ins.len() < 2 {
                    return Err(format!("add takes two or more inputs, has {}", ins.len()));
                }
                let (mut lo, mut hi) = (0i128, 0i128);
                for (k, t) in ins.iter().enumerate() {
                    if !broadcasts(&t.shape, &ins[0].shape) {
                        return Err(format!(
                            "input {k} is {t} and does not broadcast to input 0, {} (same \
                             rank; each size equal or 1)",
                            ins[0]
                        ));
                    }
                    let (l, h) = integer_range(t, "every input")?;
                    lo += l as i128;
                    hi += h as i128;
                }
                Ok(fix_for(lo, hi, ins[0].shape.clone()))
            }
            TensorOp::OrPool { kernel, stride } => {
                arity(1)?;
                let a = ins[0];
                spikes(a, "the input")?;
                let sp = a.shape.len().saturating_sub(1);
                if !(1..=2).contains(&sp) || kernel.len() != sp || stride.len() != sp {
                    return Err(format!(
                        "kernel {kernel:?} and stride {stride:?} must each have one entry per \
                         spatial axis of {a} ([c, l] or [c, h, w])"
                    ));
                }
                if kernel.iter().chain(stride).any(|&x| x == 0) {
                    return Err("kernel and stride entries must be at least 1".into());
                }
                let mut shape = vec![a.shape[0]];
                for k in 0..sp {
                    let (d, kk, s) = (a.shape[1 + k], kernel[k], stride[k]);
                    if kk > d {
                        return Err(format!("kernel {kernel:?} is larger than {a}"));
                    }
                    shape.push((d - kk) / s + 1);
                }
                Ok(Type::new(Elem::Spike, shape))
            }
            TensorOp::Transpose { perm } => {
                arity(1)?;
                let a = ins[0];
                let mut seen = perm.clone();
                seen.sort_unstable();
                if seen != (0..a.shape.len()).collect::<Vec<_>>() {
                    return Err(format!(
                        "perm {perm:?} is not a permutation of the axes of {a}"
                    ));
                }
                if a.elem == Elem::Real {
                    return Err(format!("the input must be spikes or integers, is {a}"));
                }
                Ok(Type::new(
                    a.elem,
                    perm.iter().map(|&k| a.shape[k]).collect(),
                ))
            }
            TensorOp::Requant(rq) => {
                arity(1)?;
                let a = ins[0];
                integer_range(a, "the input")?;
                let n = a.len();
                if rq.mul.is_empty() || !n.is_multiple_of(rq.mul.len()) {
                    return Err(format!(
                        "{} multipliers do not divide {n} elements into channels",
                        rq.mul.len()
                    ));
                }
                if let Some(m) = rq.mul.iter().find(|m| m.abs() > MAX_REQUANT_MUL) {
                    return Err(format!(
                        "multiplier {m} exceeds {MAX_REQUANT_MUL} in magnitude"
                    ));
                }
                if rq.shift > MAX_REQUANT_SHIFT {
                    return Err(format!("shift {} exceeds {MAX_REQUANT_SHIFT}", rq.shift));
                }
                if rq.lo > rq.hi || signed_width(rq.lo as i128, rq.hi as i128) > 32 {
                    return Err(format!(
                        "range [{}, {}] is empty or wider than 32 bits",
                        rq.lo, rq.hi
                    ));
                }
                Ok(fix_for(rq.lo as i128, rq.hi as i128, a.shape.clone()))
            }
            TensorOp::IntMatmul { ta, tb } => {
                arity(2)?;
                let (a, b) = (ins[0], ins[1]);
                let (alo, ahi) = integer_range(a, "the first input")?;
                let (blo, bhi) = integer_range(b, "the second input")?;
                let d = Self::matmul_dims(a, b, *ta, *tb)?;
                let corners = [alo * blo, alo * bhi, ahi * blo, ahi * bhi].map(|p| p as i128);
                let k = d.k as i128;
                let lo = k * corners.iter().copied().min().unwrap_or(0).min(0);
                let hi = k * corners.iter().copied().max().unwrap_or(0).max(0);
                let t = fix_for(lo, hi, {
                    let mut shape = a.shape[..a.shape.len() - 2].to_vec();
                    shape.extend([d.m, d.n]);
                    shape
                });
                if t.elem_bits().unwrap_or(0) > 62 {
                    return Err(format!(
                        "the products of {a} and {b} need more than 62 bits"
                    ));
                }
                Ok(t)
            }
            TensorOp::Const { shape, data } => {
                arity(0)?;
                let n: usize = shape.iter().product();
                if shape.is_empty() || n != data.len() || n > MAX_CONST_ELEMENTS {
                    return Err(format!(
                        "shape {shape:?} does not hold the {} values (at most {MAX_CONST_ELEMENTS})",
                        data.len()
                    ));
                }
                let lo = data.iter().copied().min().unwrap_or(0).min(0);
                let hi = data.iter().copied().max().unwrap_or(0).max(0);
                if signed_width(lo as i128, hi as i128) > MAX_INPUT_BITS {
                    return Err(format!(
                        "values [{lo}, {hi}] need more than {MAX_INPUT_BITS} bits"
                    ));
                }
                Ok(fix_for(lo as i128, hi as i128, shape.clone()))
            }
            TensorOp::Softmax(sm) => {
                arity(1)?;
                let a = ins[0];
                let (lo, hi) = integer_range(a, "the input")?;
                let n = a.shape.last().copied().unwrap_or(0);
                if n == 0 || n > MAX_ROW || hi as i128 - lo as i128 > 1 << 24 {
                    return Err(format!(
                        "{a}: rows of 1 to {MAX_ROW} elements of at most 24 bits"
                    ));
                }
                sm.check()?;
                Ok(fix_for(0, sm.hi as i128, a.shape.clone()))
            }
            TensorOp::LayerNorm(ln) => {
                arity(1)?;
                let a = ins[0];
                let range = integer_range(a, "the input")?;
                let n = a.shape.last().copied().unwrap_or(0);
                if n == 0 || n > MAX_ROW {
                    return Err(format!("{a}: rows of 1 to {MAX_ROW} elements"));
                }
                ln.check(n, range)?;
                Ok(fix_for(ln.lo as i128, ln.hi as i128, a.shape.clone()))
            }
        }
    }

    /// The output on input values `xs` of types `ins` (checked by [`TensorOp::out_type`]).
    pub fn eval(&self, ins: &[&Type], xs: &[&[i64]]) -> Vec<i64> {
        match self {
            TensorOp::And => {
                let (a, b) = (&ins[0].shape, &ins[1].shape);
                (0..ins[0].len())
                    .map(|e| xs[0][e] & xs[1][broadcast_index(a, b, e)])
                    .collect()
            }
            TensorOp::Popcount { axis } => {
                let shape = &ins[0].shape;
                let inner: usize = shape[axis + 1..].iter().product();
                let d = shape[*axis];
                let outer = ins[0].len() / (d * inner).max(1);
                let mut y = Vec::with_capacity(outer * inner);
                for o in 0..outer {
                    for i in 0..inner {
                        y.push((0..d).map(|k| xs[0][(o * d + k) * inner + i]).sum());
                    }
                }
                y
            }
            TensorOp::Matmul { ta, tb } => {
                // Checked by out_type before any evaluation.
                let Ok(d) = Self::matmul_dims(ins[0], ins[1], *ta, *tb) else {
                    return Vec::new();
                };
                // B is spikes: a product is a conditional add.
                d.each(|b, i, j, k| xs[0][d.a_index(b, i, k)] * xs[1][d.b_index(b, k, j)])
            }
            TensorOp::Add => (0..ins[0].len())
                .map(|e| {
                    xs.iter()
                        .zip(ins)
                        .map(|(x, t)| x[broadcast_index(&ins[0].shape, &t.shape, e)])
                        .sum()
                })
                .collect(),
            TensorOp::OrPool { kernel, stride } => {
                let a = &ins[0].shape;
                let (h, w, kh, kw, sh, sw) = if a.len() == 3 {
                    (a[1], a[2], kernel[0], kernel[1], stride[0], stride[1])
                } else {
                    (1, a[1], 1, kernel[0], 1, stride[0])
                };
                let (oh, ow) = ((h - kh) / sh + 1, (w - kw) / sw + 1);
                let mut y = Vec::with_capacity(a[0] * oh * ow);
                for c in 0..a[0] {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let any = (0..kh).any(|dy| {
                                (0..kw)
                                    .any(|dx| xs[0][(c * h + oy * sh + dy) * w + ox * sw + dx] != 0)
                            });
                            y.push(any as i64);
                        }
                    }
                }
                y
            }
            TensorOp::Transpose { perm } => (0..ins[0].len())
                .map(|e| xs[0][transpose_index(&ins[0].shape, perm, e)])
                .collect(),
            TensorOp::Requant(rq) => {
                let n = xs[0].len();
                let per = n / rq.mul.len().max(1);
                xs[0]
                    .iter()
                    .enumerate()
                    .map(|(e, &x)| rq.apply(e / per.max(1), x))
                    .collect()
            }
            TensorOp::IntMatmul { ta, tb } => {
                let Ok(d) = Self::matmul_dims(ins[0], ins[1], *ta, *tb) else {
                    return Vec::new();
                };
                d.each(|b, i, j, k| xs[0][d.a_index(b, i, k)] * xs[1][d.b_index(b, k, j)])
            }
            TensorOp::Const { data, .. } => data.clone(),
            TensorOp::Softmax(sm) => {
                let n = ins[0].shape.last().copied().unwrap_or(1).max(1);
                let mut y = Vec::with_capacity(xs[0].len());
                xs[0].chunks(n).for_each(|r| sm.row(r, &mut y));
                y
            }
            TensorOp::LayerNorm(ln) => {
                let n = ins[0].shape.last().copied().unwrap_or(1).max(1);
                let mut y = Vec::with_capacity(xs[0].len());
                xs[0].chunks(n).for_each(|r| ln.row(r, &mut y));
                y
            }
        }
    }

    /// True when the output is spikes whatever the inputs.
    pub fn spiking(&self) -> bool {
        matches!(self, TensorOp::And | TensorOp::OrPool { .. })
    }
}

impl Requant {
    /// Bits of the widest multiplier, and of the product with an `ib`-bit input (wide enough
    /// for the quotient's low bit and sign too): the RTL's widths.
    pub fn widths(&self, ib: u32) -> (u32, u32) {
        let mb = super::widest_constant(&self.mul);
        (mb, (ib + mb).max(self.shift + 2))
    }

    /// The output of channel `c` for input `x`.
    pub fn apply(&self, c: usize, x: i64) -> i64 {
        let v = self
            .rounding
            .shift(x as i128 * self.mul[c] as i128, self.shift);
        v.clamp(self.lo as i128, self.hi as i128) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_modes_match_their_definitions_on_every_tie_and_sign() {
        // Reference: the exact quotient as a float, rounded by the mode's textbook rule.
        for shift in 0..5u32 {
            for x in -40i128..=40 {
                let q = x as f64 / (1u64 << shift) as f64;
                for m in Rounding::ALL {
                    let want = match m {
                        Rounding::Floor => q.floor(),
                        Rounding::Ceil => q.ceil(),
                        Rounding::Trunc => q.trunc(),
                        Rounding::HalfUp => (q + 0.5).floor(),
                        Rounding::HalfDown => (q - 0.5).ceil(),
                        Rounding::HalfEven => q.round_ties_even(),
                        Rounding::HalfAway => q.round(),
                    };
                    assert_eq!(m.shift(x, shift), want as i128, "{m:?} {x} >> {shift}");
                }
            }
        }
    }

    #[test]
    fn popcount_sums_the_named_axis_and_keeps_it() {
        let t = Type::new(Elem::Spike, vec![2, 3]);
        let x = [1, 0, 1, 1, 1, 0];
        let cols = TensorOp::Popcount { axis: 0 };
        assert_eq!(cols.out_type(&[&t]).unwrap().shape, vec![1, 3]);
        assert_eq!(cols.eval(&[&t], &[&x]), vec![2, 1, 1]);
        let rows = TensorOp::Popcount { axis: 1 };
        assert_eq!(
            rows.out_type(&[&t]).unwrap(),
            Type::new(Elem::Fix { width: 3, frac: 0 }, vec![2, 1])
        );
        assert_eq!(rows.eval(&[&t], &[&x]), vec![2, 2]);
    }

    #[test]
    fn and_broadcasts_a_column_over_tokens() {
        let a = Type::new(Elem::Spike, vec![2, 3]);
        let b = Type::new(Elem::Spike, vec![2, 1]);
        let y = TensorOp::And.eval(&[&a, &b], &[&[1, 1, 0, 1, 1, 1], &[0, 1]]);
        assert_eq!(y, vec![0, 0, 0, 1, 1, 1]);
        let wrong = Type::new(Elem::Spike, vec![3, 1]);
        assert!(TensorOp::And.out_type(&[&a, &wrong]).is_err());
    }

    #[test]
    fn matmul_transposes_either_side() {
        // A = [[1, 2], [3, 4]] (integers), B = [[1, 0], [1, 1]] (spikes).
        let a = Type::new(Elem::Fix { width: 4, frac: 0 }, vec![2, 2]);
        let b = Type::new(Elem::Spike, vec![2, 2]);
        let (av, bv) = ([1, 2, 3, 4], [1, 0, 1, 1]);
        let mm = |ta, tb| TensorOp::Matmul { ta, tb }.eval(&[&a, &b], &[&av, &bv]);
        assert_eq!(mm(false, false), vec![3, 2, 7, 4]);
        assert_eq!(mm(true, false), vec![4, 3, 6, 4]);
        assert_eq!(mm(false, true), vec![1, 3, 3, 7]);
        let t = TensorOp::Matmul {
            ta: false,
            tb: false,
        }
        .out_type(&[&a, &b])
        .unwrap();
        // [-8, 7] times k = 2 terms: [-16, 14].
        assert_eq!(t, Type::new(Elem::Fix { width: 5, frac: 0 }, vec![2, 2]));
    }

    #[test]
    fn transpose_permutes_axes() {
        let a = Type::new(Elem::Spike, vec![2, 3]);
        let op = TensorOp::Transpose { perm: vec![1, 0] };
        assert_eq!(op.out_type(&[&a]).unwrap().shape, vec![3, 2]);
        assert_eq!(
            op.eval(&[&a], &[&[1, 2, 3, 4, 5, 6]]),
            vec![1, 4, 2, 5, 3, 6]
        );
        assert!(TensorOp::Transpose { perm: vec![0, 0] }
            .out_type(&[&a])
            .is_err());
    }

    #[test]
    fn or_pool_takes_any_spike_in_a_window() {
        let a = Type::new(Elem::Spike, vec![1, 2, 4]);
        let op = TensorOp::OrPool {
            kernel: vec![2, 2],
            stride: vec![2, 2],
        };
        assert_eq!(op.out_type(&[&a]).unwrap().shape, vec![1, 1, 2]);
        assert_eq!(op.eval(&[&a], &[&[0, 0, 0, 0, 0, 0, 0, 1]]), vec![0, 1]);
    }

    #[test]
    fn requant_rounds_then_saturates_per_channel() {
        let rq = Requant {
            mul: vec![3, -1],
            shift: 1,
            rounding: Rounding::HalfEven,
            lo: -4,
            hi: 3,
        };
        let t = Type::fix(8, 4);
        let op = TensorOp::Requant(rq);
        // 3*1/2 = 1.5 -> 2; 3*5/2 = 7.5 -> 3 (saturated); -1*3/2 = -1.5 -> -2; -(-20)/2 -> 3.
        assert_eq!(op.eval(&[&t], &[&[1, 5, 3, -20]]), vec![2, 3, -2, 3]);
        assert_eq!(op.out_type(&[&t]).unwrap(), Type::fix(3, 4));
    }
}
