//! Convolution and pooling parameters of NIR nodes (Conv1d, Conv2d, SumPool2d, AvgPool2d),
//! checked and normalised to the IR's 2-D form (1-D is height 1).

use super::read::{Field, LeafKind, RawLeaf};
use super::{node_msg, MAX_DATASET_ELEMENTS};

type Res<T> = Result<T, String>;
use crate::ir::{Conv, Op, Pool, Tensor, Type, MAX_DELAY_STEPS};

#[derive(Clone, Debug, PartialEq)]
enum Pad {
    Fixed([usize; 2]),
    Same,
    Valid,
}

/// A window operator's parameters, 2-D.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Window {
    pool: Option<bool>,
    two_d: bool,
    /// `[c_out, c_in/groups, kh, kw]` for convolutions.
    weight_shape: [usize; 4],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: Pad,
    dilation: [usize; 2],
    groups: usize,
    /// Spatial input size given by the node (`input_shape`), if any.
    input_hw: Option<[usize; 2]>,
}

/// Dimensions must be whole, positive and small enough to index memory.
fn dims(name: &str, field: &str, f: &Field, min: usize) -> Res<Vec<usize>> {
    f.data
        .iter()
        .map(|&x| {
            if x.fract() != 0.0 || x < min as f64 || x > MAX_DELAY_STEPS as f64 {
                Err(node_msg(
                    name,
                    format!("field '{field}' has invalid value {x}"),
                ))
            } else {
                Ok(x as usize)
            }
        })
        .collect()
}

/// One value for both dimensions, or one per dimension (`n` = 1 or 2).
fn pair(
    name: &str,
    field: &str,
    f: Option<&Field>,
    n: usize,
    default: usize,
    min: usize,
) -> Res<[usize; 2]> {
    let Some(f) = f else { return Ok([default; 2]) };
    let v = dims(name, field, f, min)?;
    match (v.as_slice(), n) {
        // A 1-D value: the height dimension is neutral (padding 0, stride and dilation 1).
        ([x], 1) => Ok([usize::from(field != "padding"), *x]),
        ([x], _) => Ok([*x, *x]),
        ([y, x], 2) => Ok([*y, *x]),
        _ => Err(node_msg(
            name,
            format!("field '{field}' has {} values, expected {n}", v.len()),
        )),
    }
}

impl Window {
    pub(super) fn parse(name: &str, leaf: &RawLeaf) -> Res<Window> {
        let f = |k: &str| leaf.fields.get(k);
        match leaf.kind {
            LeafKind::Conv { two_d } => {
                let n = if two_d { 2 } else { 1 };
                let w = f("weight").ok_or_else(|| node_msg(name, "missing field 'weight'"))?;
                let weight_shape = match (w.shape.as_slice(), two_d) {
                    ([co, ci, kh, kw], true) => [*co, *ci, *kh, *kw],
                    ([co, ci, k], false) => [*co, *ci, 1, *k],
                    (s, _) => {
                        return Err(node_msg(
                            name,
                            format!(
                                "field 'weight' has shape {s:?}, expected {} dimensions",
                                n + 2
                            ),
                        ))
                    }
                };
                if weight_shape.contains(&0) {
                    return Err(node_msg(
                        name,
                        format!("field 'weight' has an empty dimension {weight_shape:?}"),
                    ));
                }
                let padding = match leaf.strings.get("padding").map(String::as_str) {
                    Some("same") => Pad::Same,
                    Some("valid") => Pad::Valid,
                    Some(other) => {
                        return Err(node_msg(
                            name,
                            format!(
                            "field 'padding' is '{other}', expected 'same', 'valid' or integers"
                        ),
                        ))
                    }
                    None => Pad::Fixed(pair(name, "padding", f("padding"), n, 0, 0)?),
                };
                let groups = match f("groups") {
                    Some(g) => *dims(name, "groups", g, 1)?.first().unwrap_or(&1),
                    None => 1,
                };
                let input_hw = match f("input_shape") {
                    Some(s) => {
                        let v = dims(name, "input_shape", s, 1)?;
                        Some(match (v.as_slice(), two_d) {
                            ([h, w], true) => [*h, *w],
                            ([w], false) => [1, *w],
                            _ => return Err(node_msg(name, format!("field 'input_shape' {v:?} does not match the {n}-D convolution"))),
                        })
                    }
                    None => None,
                };
                let stride = pair(name, "stride", f("stride"), n, 1, 1)?;
                let dilation = pair(name, "dilation", f("dilation"), n, 1, 1)?;
                // A 1-D layer is a 2-D one of height 1: its vertical stride and dilation are 1.
                let (stride, dilation) = if two_d {
                    (stride, dilation)
                } else {
                    ([1, stride[1]], [1, dilation[1]])
                };
                Ok(Window {
                    pool: None,
                    two_d,
                    weight_shape,
                    kernel: [weight_shape[2], weight_shape[3]],
                    stride,
                    padding,
                    dilation,
                    groups,
                    input_hw,
                })
            }
            LeafKind::Pool { average } => {
                let kernel = pair(name, "kernel_size", f("kernel_size"), 2, 0, 1)?;
                if f("kernel_size").is_none() {
                    return Err(node_msg(name, "missing field 'kernel_size'"));
                }
                Ok(Window {
                    pool: Some(average),
                    two_d: true,
                    weight_shape: [0; 4],
                    kernel,
                    // NIR's pooling stride defaults to the kernel, as PyTorch's does.
                    stride: if f("stride").is_some() {
                        pair(name, "stride", f("stride"), 2, 1, 1)?
                    } else {
                        kernel
                    },
                    padding: Pad::Fixed(pair(name, "padding", f("padding"), 2, 0, 0)?),
                    dilation: [1, 1],
                    groups: 1,
                    input_hw: None,
                })
            }
            _ => Err(node_msg(name, "internal error: not a window operator")),
        }
    }

    /// `[c, h, w]` of the input, from the node's own `input_shape` or the input's type.
    fn in_shape(&self, name: &str, input: &Type) -> Res<[usize; 3]> {
        let len = input.len();
        let shape = match (self.pool, self.input_hw) {
            (None, Some([h, w])) => [self.weight_shape[1] * self.groups, h, w],
            _ => match (input.shape.as_slice(), self.two_d) {
                ([c, h, w], true) => [*c, *h, *w],
                ([c, w], false) => [*c, 1, *w],
                (s, _) => {
                    return Err(node_msg(
                        name,
                        format!("input of shape {s:?} has no [channels, height, width] layout; give the node an input_shape"),
                    ))
                }
            },
        };
        if shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) != Some(len) {
            return Err(node_msg(name, format!("shape mismatch: expects a {shape:?} input, but its input has {len} values ({input})")));
        }
        Ok(shape)
    }

    fn padding(&self, name: &str) -> Res<[usize; 2]> {
        match &self.padding {
            Pad::Fixed(p) => Ok(*p),
            Pad::Valid => Ok([0, 0]),
            Pad::Same => {
                let mut p = [0; 2];
                for (d, pad) in p.iter_mut().enumerate() {
                    let span = self.dilation[d] * (self.kernel[d] - 1);
                    if span % 2 == 1 || self.stride[d] != 1 {
                        return Err(node_msg(name, "padding 'same' needs stride 1 and an even kernel span (asymmetric padding is not supported)"));
                    }
                    *pad = span / 2;
                }
                Ok(p)
            }
        }
    }

    /// The IR operator and its output type for an input of type `input`.
    pub(super) fn lower(&self, name: &str, leaf: &RawLeaf, input: &Type) -> Res<(Op, Type)> {
        let in_shape = self.in_shape(name, input)?.to_vec();
        let padding = self.padding(name)?.to_vec();
        let (op, out) = match self.pool {
            Some(average) => {
                let p = Pool {
                    kernel: self.kernel.to_vec(),
                    stride: self.stride.to_vec(),
                    padding,
                    in_shape,
                    average,
                };
                let out = p.out_shape();
                (Op::Pool(p), out)
            }
            None => {
                let co = self.weight_shape[0];
                let data = leaf
                    .fields
                    .get("weight")
                    .map(|w| w.data.clone())
                    .unwrap_or_default();
                let bias = match leaf.fields.get("bias").map(|b| b.data.as_slice()) {
                    Some([x]) => vec![*x; co],
                    Some(b) => b.to_vec(),
                    None => vec![0.0; co],
                };
                if bias.len() != co {
                    return Err(node_msg(
                        name,
                        format!("field 'bias' has {} entries, expected {co}", bias.len()),
                    ));
                }
                let c = Conv {
                    weight: Tensor::new(self.weight_shape.to_vec(), data),
                    bias,
                    in_shape,
                    stride: self.stride.to_vec(),
                    padding,
                    dilation: self.dilation.to_vec(),
                    groups: self.groups,
                };
                let ci = c.in_shape[0];
                if !co.is_multiple_of(self.groups) || self.weight_shape[1] * self.groups != ci {
                    return Err(node_msg(
                        name,
                        format!(
                            "groups {} do not split {ci} input and {co} output channels",
                            self.groups
                        ),
                    ));
                }
                let out = c.out_shape();
                (Op::Conv(c), out)
            }
        };
        let out = out.ok_or_else(|| node_msg(name, "the window does not fit the input"))?;
        // Every output reads kernel x channels inputs; keep the unrolled layer allocatable.
        let taps = self.kernel[0] * self.kernel[1] * self.weight_shape[1].max(1);
        let outputs = out.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        match outputs.and_then(|o| o.checked_mul(taps).map(|t| (o, t))) {
            Some((o, t)) if o as u64 <= MAX_DATASET_ELEMENTS && t as u64 <= MAX_DATASET_ELEMENTS => {}
            _ => {
                return Err(node_msg(
                    name,
                    format!("output {out:?} with {taps} taps each is too large (limit {MAX_DATASET_ELEMENTS} connections)"),
                ))
            }
        }
        Ok((op, Type::real(0).with_shape(out.to_vec())))
    }
}
