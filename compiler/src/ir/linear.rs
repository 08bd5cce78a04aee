//! The linear operators of the IR (affine, linear, scale, convolution, pooling) as explicit
//! sparse matrices, so chains of them can be composed into one spike-input weight layer and
//! executed by the float reference.

use super::op::{Conv, Op, Pool};

/// `y = M x + b`, with `M` stored as sparse rows of `(column, value)`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearMap {
    pub cols: usize,
    pub rows: Vec<Vec<(usize, f64)>>,
    pub bias: Vec<f64>,
}

impl LinearMap {
    pub fn identity(n: usize) -> Self {
        LinearMap {
            cols: n,
            rows: (0..n).map(|i| vec![(i, 1.0)]).collect(),
            bias: vec![0.0; n],
        }
    }

    /// `self ∘ inner`: first `inner`, then `self`.
    pub fn after(&self, inner: &LinearMap) -> LinearMap {
        let mut acc = vec![0.0; inner.cols];
        let mut touched: Vec<usize> = Vec::new();
        let rows = self
            .rows
            .iter()
            .map(|row| {
                for &(k, a) in row {
                    for &(c, b) in &inner.rows[k] {
                        if acc[c] == 0.0 {
                            touched.push(c);
                        }
                        acc[c] += a * b;
                    }
                }
                touched.sort_unstable();
                touched.dedup();
                let out: Vec<(usize, f64)> = touched
                    .drain(..)
                    .filter_map(|c| {
                        let v = std::mem::take(&mut acc[c]);
                        (v != 0.0).then_some((c, v))
                    })
                    .collect();
                out
            })
            .collect();
        let bias = self
            .rows
            .iter()
            .zip(&self.bias)
            .map(|(row, b)| b + row.iter().map(|&(k, a)| a * inner.bias[k]).sum::<f64>())
            .collect();
        LinearMap {
            cols: inner.cols,
            rows,
            bias,
        }
    }

    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        self.rows
            .iter()
            .zip(&self.bias)
            .map(|(row, b)| {
                b + row
                    .iter()
                    .map(|&(c, w)| w * x.get(c).copied().unwrap_or(0.0))
                    .sum::<f64>()
            })
            .collect()
    }

    /// Number of stored (nonzero) entries.
    pub fn nonzeros(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }
}

/// Output size of one spatial dimension, or `None` when the window does not fit.
pub fn out_dim(
    input: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    dil: usize,
) -> Option<usize> {
    let span = dil.checked_mul(kernel.checked_sub(1)?)?.checked_add(1)?;
    let padded = input.checked_add(pad.checked_mul(2)?)?;
    if stride == 0 || padded < span {
        return None;
    }
    Some((padded - span) / stride + 1)
}

/// A window sweep shared by convolution and pooling: for output `(oy, ox)` and kernel tap
/// `(ky, kx)`, the input position, if inside the image.
fn tap(
    (oy, ox): (usize, usize),
    (ky, kx): (usize, usize),
    stride: &[usize],
    padding: &[usize],
    dil: (usize, usize),
    (h, w): (usize, usize),
) -> Option<usize> {
    let iy = (oy * stride[0] + ky * dil.0).checked_sub(padding[0])?;
    let ix = (ox * stride[1] + kx * dil.1).checked_sub(padding[1])?;
    (iy < h && ix < w).then_some(iy * w + ix)
}

impl<T: Copy> Conv<T> {
    /// `[c_out, h_out, w_out]`, or `None` for inconsistent parameters.
    pub fn out_shape(&self) -> Option<[usize; 3]> {
        let [co, _, kh, kw] = <[usize; 4]>::try_from(self.weight.shape.as_slice()).ok()?;
        let [_, h, w] = <[usize; 3]>::try_from(self.in_shape.as_slice()).ok()?;
        let ho = out_dim(h, kh, self.stride[0], self.padding[0], self.dilation[0])?;
        let wo = out_dim(w, kw, self.stride[1], self.padding[1], self.dilation[1])?;
        Some([co, ho, wo])
    }

    /// Calls `f(output, input, weight)` for every kernel tap that lands inside the input,
    /// with flat channel-major indices into the output, the input and the weight tensor.
    /// Output rows come in order; within a row, taps in weight order. Nothing for
    /// inconsistent parameters (the verifier rejects those).
    pub fn for_each_tap(&self, mut f: impl FnMut(usize, usize, usize)) {
        let Ok([_, cig, kh, kw]) = <[usize; 4]>::try_from(self.weight.shape.as_slice()) else {
            return;
        };
        let Ok([_, h, w]) = <[usize; 3]>::try_from(self.in_shape.as_slice()) else {
            return;
        };
        let Some([co, ho, wo]) = self.out_shape() else {
            return;
        };
        let per_group_out = (co / self.groups.max(1)).max(1);
        let dil = (self.dilation[0], self.dilation[1]);
        for o in 0..co {
            let g = o / per_group_out;
            for oy in 0..ho {
                for ox in 0..wo {
                    let row = (o * ho + oy) * wo + ox;
                    for cl in 0..cig {
                        let c = g * cig + cl;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let at = (oy, ox);
                                if let Some(p) =
                                    tap(at, (ky, kx), &self.stride, &self.padding, dil, (h, w))
                                {
                                    f(row, c * h * w + p, ((o * cig + cl) * kh + ky) * kw + kx);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

impl Conv<f64> {
    fn map(&self) -> Option<LinearMap> {
        let [co, ho, wo] = self.out_shape()?;
        let mut rows = vec![Vec::new(); co * ho * wo];
        self.for_each_tap(|r, c, k| {
            let wv = self.weight.data[k];
            if wv != 0.0 {
                rows[r].push((c, wv));
            }
        });
        for row in &mut rows {
            row.sort_by_key(|e| e.0);
        }
        let bias = (0..co)
            .flat_map(|o| std::iter::repeat_n(self.bias[o], ho * wo))
            .collect();
        Some(LinearMap {
            cols: self.in_shape.iter().product(),
            rows,
            bias,
        })
    }
}

/// A pooling followed by a convolution, as one convolution on the pooling's input: per axis,
/// stride `s * sp`, padding `p * sp + pp` and kernel `(k - 1) * d * sp + kp`, each weight
/// spread over the pooling window it reads. Exact inside the image; callers compare maps to
/// catch border windows the pooling drops. `None` when the shapes do not chain.
pub fn pool_then_conv(pool: &Pool, conv: &Conv<f64>) -> Option<Conv<f64>> {
    let [co, cig, kh, kw] = <[usize; 4]>::try_from(conv.weight.shape.as_slice()).ok()?;
    if pool.out_shape()?.as_slice() != conv.in_shape.as_slice() {
        return None;
    }
    let (sp, kp) = (&pool.stride, &pool.kernel);
    let span = |k: usize, ax: usize| (k - 1) * conv.dilation[ax] * sp[ax] + kp[ax];
    let (nh, nw) = (span(kh, 0), span(kw, 1));
    let pw = if pool.average {
        1.0 / (kp[0] * kp[1]) as f64
    } else {
        1.0
    };
    let mut weight = vec![0.0; co * cig * nh * nw];
    for (k, &w) in conv.weight.data.iter().enumerate() {
        let (kx, ky, oc) = (k % kw, (k / kw) % kh, k / (kh * kw));
        for a in 0..kp[0] {
            for b in 0..kp[1] {
                let u = ky * conv.dilation[0] * sp[0] + a;
                let v = kx * conv.dilation[1] * sp[1] + b;
                weight[(oc * nh + u) * nw + v] += w * pw;
            }
        }
    }
    Some(Conv {
        weight: super::Tensor::new(vec![co, cig, nh, nw], weight),
        bias: conv.bias.clone(),
        in_shape: pool.in_shape.clone(),
        stride: vec![conv.stride[0] * sp[0], conv.stride[1] * sp[1]],
        padding: vec![
            conv.padding[0] * sp[0] + pool.padding[0],
            conv.padding[1] * sp[1] + pool.padding[1],
        ],
        dilation: vec![1, 1],
        groups: conv.groups,
    })
}

impl Pool {
    /// `[c, h_out, w_out]`, or `None` for inconsistent parameters.
    pub fn out_shape(&self) -> Option<[usize; 3]> {
        let [c, h, w] = <[usize; 3]>::try_from(self.in_shape.as_slice()).ok()?;
        let ho = out_dim(h, self.kernel[0], self.stride[0], self.padding[0], 1)?;
        let wo = out_dim(w, self.kernel[1], self.stride[1], self.padding[1], 1)?;
        Some([c, ho, wo])
    }

    fn map(&self) -> Option<LinearMap> {
        let [c, h, w] = <[usize; 3]>::try_from(self.in_shape.as_slice()).ok()?;
        let [_, ho, wo] = self.out_shape()?;
        let (kh, kw) = (self.kernel[0], self.kernel[1]);
        // Average pooling divides by the whole window, padding included (PyTorch's default).
        let wv = if self.average {
            1.0 / (kh * kw) as f64
        } else {
            1.0
        };
        let mut rows = Vec::with_capacity(c * ho * wo);
        for ch in 0..c {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut row = Vec::new();
                    for ky in 0..kh {
                        for kx in 0..kw {
                            if let Some(p) = tap(
                                (oy, ox),
                                (ky, kx),
                                &self.stride,
                                &self.padding,
                                (1, 1),
                                (h, w),
                            ) {
                                row.push((ch * h * w + p, wv));
                            }
                        }
                    }
                    row.sort_by_key(|e| e.0);
                    rows.push(row);
                }
            }
        }
        Some(LinearMap {
            cols: c * h * w,
            rows,
            bias: vec![0.0; c * ho * wo],
        })
    }
}

/// The linear map of a linear operator reading `in_len` values; `None` for other operators.
pub fn linear_map(op: &Op, in_len: usize) -> Option<LinearMap> {
    match op {
        Op::Affine { weight, .. } | Op::Linear { weight } => {
            let (r, c) = weight.dims2();
            let rows = (0..r)
                .map(|i| {
                    (0..c)
                        .filter_map(|j| {
                            let v = weight.data[i * c + j];
                            (v != 0.0).then_some((j, v))
                        })
                        .collect()
                })
                .collect();
            let bias = match op {
                Op::Affine { bias, .. } => bias.clone(),
                _ => vec![0.0; r],
            };
            Some(LinearMap {
                cols: c,
                rows,
                bias,
            })
        }
        Op::Scale { scale } => Some(LinearMap {
            cols: in_len,
            rows: scale
                .iter()
                .enumerate()
                .map(|(i, &s)| vec![(i, s)])
                .collect(),
            bias: vec![0.0; scale.len()],
        }),
        Op::Conv(c) => c.map(),
        Op::Pool(p) => p.map(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Tensor;

    #[test]
    fn conv_taps_follow_stride_padding_and_dilation() {
        // One 3x3 input channel, one 2x2 kernel [[1,2],[3,4]], stride 1, no padding: 2x2 out.
        let c = Conv {
            weight: Tensor::new(vec![1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]),
            bias: vec![0.5],
            in_shape: vec![1, 3, 3],
            stride: vec![1, 1],
            padding: vec![0, 0],
            dilation: vec![1, 1],
            groups: 1,
        };
        let m = linear_map(&Op::Conv(c.clone()), 9).unwrap();
        let x: Vec<f64> = (1..=9).map(f64::from).collect();
        // Output (0,0): 1*1 + 2*2 + 3*4 + 4*5 + 0.5 = 37.5; (1,1): 1*5 + 2*6 + 3*8 + 4*9 + 0.5.
        assert_eq!(m.apply(&x), vec![37.5, 47.5, 67.5, 77.5]);
        // Padding 1: output 4x4; corner (0,0) sees only input (0,0) under kernel tap (1,1).
        let padded = Conv {
            padding: vec![1, 1],
            ..c
        };
        assert_eq!(padded.out_shape(), Some([1, 4, 4]));
        let m = linear_map(&Op::Conv(padded), 9).unwrap();
        assert_eq!(m.apply(&x)[0], 4.0 * 1.0 + 0.5);
    }

    #[test]
    fn sum_pool_then_scale_composes() {
        let p = Pool {
            kernel: vec![2, 2],
            stride: vec![2, 2],
            padding: vec![0, 0],
            in_shape: vec![1, 2, 4],
            average: false,
        };
        let pool = linear_map(&Op::Pool(p), 8).unwrap();
        let scale = linear_map(
            &Op::Scale {
                scale: vec![2.0, 3.0],
            },
            2,
        )
        .unwrap();
        let m = scale.after(&pool);
        let x: Vec<f64> = (1..=8).map(f64::from).collect();
        // Windows {1,2,5,6} and {3,4,7,8}.
        assert_eq!(m.apply(&x), vec![2.0 * 14.0, 3.0 * 22.0]);
        assert_eq!(m.nonzeros(), 8);
    }
}

#[cfg(test)]
mod pool_conv_tests {
    use super::*;
    use crate::ir::Tensor;

    #[test]
    fn pooling_folds_into_the_kernel_of_the_next_convolution() {
        // 2 channels of 8x8, sum/avg pool 2, then conv 3x3 pad 1 (2 groups and dilation 1)
        // and a 2x2 conv with dilation 2: composed maps equal the chains'.
        let x: Vec<f64> = (0..128).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
        for (average, kernel, dil, groups) in [(false, 3, 1, 1), (true, 3, 1, 2), (false, 2, 2, 1)]
        {
            let pool = Pool {
                kernel: vec![2, 2],
                stride: vec![2, 2],
                padding: vec![0, 0],
                in_shape: vec![2, 8, 8],
                average,
            };
            let n = 2 * (2 / groups) * kernel * kernel;
            let conv = Conv {
                weight: Tensor::new(
                    vec![2, 2 / groups, kernel, kernel],
                    (0..n).map(|i| i as f64 * 0.5 - 3.0).collect(),
                ),
                bias: vec![0.25, -1.0],
                in_shape: vec![2, 4, 4],
                stride: vec![1, 1],
                padding: vec![1, 1],
                dilation: vec![dil, dil],
                groups,
            };
            let chain = linear_map(&Op::Conv(conv.clone()), 32)
                .unwrap()
                .after(&linear_map(&Op::Pool(pool.clone()), 128).unwrap());
            let folded = pool_then_conv(&pool, &conv).unwrap();
            assert_eq!(folded.stride, vec![2, 2]);
            let m = linear_map(&Op::Conv(folded), 128).unwrap();
            assert_eq!(
                m.apply(&x),
                chain.apply(&x),
                "avg {average} k {kernel} d {dil}"
            );
        }
    }
}

#[cfg(test)]
mod conv1d_tests {
    use super::*;
    use crate::ir::Tensor;

    #[test]
    fn strided_dilated_grouped_1d_convolution() {
        // Two groups of one channel each; input channel 0 = 1..=6, channel 1 = 10, 20, ..., 60.
        // Kernel 2 taps, dilation 2, stride 2, padding 1 (width only): output width
        // (6 + 2 - 2 - 1) / 2 + 1 = 3; output x reads inputs at 2x - 1 and 2x + 1.
        let c = Conv {
            weight: Tensor::new(vec![2, 1, 1, 2], vec![1.0, 2.0, 3.0, 4.0]),
            bias: vec![0.0, 0.0],
            in_shape: vec![2, 1, 6],
            stride: vec![1, 2],
            padding: vec![0, 1],
            dilation: vec![1, 2],
            groups: 2,
        };
        assert_eq!(c.out_shape(), Some([2, 1, 3]));
        let x = [
            1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0,
        ];
        let y = linear_map(&Op::Conv(c), 12).unwrap().apply(&x);
        // Group 0 (weights 1, 2) on channel 0: x=0: pad*1 + 2*2 = 4; x=1: 1*2 + 2*4 = 10;
        // x=2: 1*4 + 2*6 = 16. Group 1 (3, 4) on channel 1: 4*20 = 80; 3*20 + 4*40 = 220;
        // 3*40 + 4*60 = 360.
        assert_eq!(y, vec![4.0, 10.0, 16.0, 80.0, 220.0, 360.0]);
    }
}
