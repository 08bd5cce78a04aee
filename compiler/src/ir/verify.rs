//! Structural and type checks on a graph; run after every stage so later stages can trust it.

use super::graph::{Graph, NodeId};
use super::op::{Conv, FloatNeuron, IntNeuron, Op, MAX_DELAY_STEPS};
use super::types::{signed_width, Elem, Type};
use std::collections::HashSet;
use std::fmt;

/// Widest fixed-point value (the golden model's integers are 64-bit).
pub const MAX_FIX_BITS: u32 = 64;

/// Most thresholds per channel of a multi-threshold activation (12-bit outputs).
pub const MAX_THRESHOLDS: usize = 4096;

/// One violated rule, naming the node.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifyError {
    pub node: String,
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node '{}': {}", self.node, self.message)
    }
}

/// All violations found, in node order.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifyErrors(pub Vec<VerifyError>);

impl fmt::Display for VerifyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| e.to_string()).collect();
        write!(f, "{}", parts.join("; "))
    }
}

impl std::error::Error for VerifyErrors {}

/// Checks every rule of the IR and returns all violations together.
pub fn verify(g: &Graph) -> Result<(), VerifyErrors> {
    let mut errs = Vec::new();
    let mut seen = HashSet::new();
    if g.outputs().is_empty() {
        errs.push(VerifyError {
            node: g.name.clone(),
            message: "graph has no output node".into(),
        });
    }
    for id in g.ids() {
        let node = g.node(id);
        let mut err = |m: String| {
            errs.push(VerifyError {
                node: node.name.clone(),
                message: m,
            })
        };
        if node.name.is_empty() {
            err("empty node name".into());
        }
        if !seen.insert(node.name.as_str()) {
            err("duplicate node name".into());
        }
        let mut ports_ok = true;
        for p in &node.inputs {
            if p.node.index() >= g.nodes.len() {
                err(format!("input refers to missing node #{}", p.node.0));
                ports_ok = false;
            } else if !p.delayed && p.node >= id {
                err(format!(
                    "input '{}' is not computed before this node (mark it delayed if it is recurrent)",
                    g.node(p.node).name
                ));
                ports_ok = false;
            }
        }
        if node.ty.shape.is_empty() || node.ty.is_empty() {
            err(format!("empty shape in type {}", node.ty));
        }
        if ports_ok {
            if let Err(m) = check_op(g, id) {
                err(m);
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(VerifyErrors(errs))
    }
}

/// The common type of a node's inputs (they are summed, so they must agree).
fn input_type(g: &Graph, id: NodeId) -> Result<Option<Type>, String> {
    let node = g.node(id);
    let mut ty: Option<&Type> = None;
    for p in &node.inputs {
        let t = &g.node(p.node).ty;
        match ty {
            None => ty = Some(t),
            Some(prev) if prev.len() != t.len() => {
                return Err(format!(
                    "inputs have different sizes: {} from '{}' vs {}",
                    t,
                    g.node(p.node).name,
                    prev
                ))
            }
            Some(prev) if prev.elem == Elem::Spike && t.elem != Elem::Spike => {
                return Err("cannot sum spike and non-spike inputs".into())
            }
            _ => {}
        }
    }
    Ok(ty.cloned())
}

fn finite(name: &str, v: &[f64]) -> Result<(), String> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(format!(
            "field '{name}' has a non-finite value ({}) at index {i}",
            v[i]
        )),
        None => Ok(()),
    }
}

fn check_op(g: &Graph, id: NodeId) -> Result<(), String> {
    let node = g.node(id);
    let n = node.ty.len();
    // The golden model computes in 64 bits; no value is wider.
    if let Elem::Fix { width, frac } = node.ty.elem {
        if !(1..=MAX_FIX_BITS).contains(&width) || frac > width {
            return Err(format!(
                "type {}: fixed-point widths are 1 to {MAX_FIX_BITS} bits, fraction at most the width",
                node.ty
            ));
        }
    }
    let arity = |want: usize| {
        if node.inputs.len() == want {
            Ok(())
        } else {
            Err(format!(
                "expects {want} input(s), has {}",
                node.inputs.len()
            ))
        }
    };
    let needs_inputs = || {
        if node.inputs.is_empty() {
            Err("has no inputs".to_string())
        } else {
            Ok(())
        }
    };
    match &node.op {
        Op::Input => {
            arity(0)?;
            // Spikes, or integers (the activations of a quantised ANN).
            if matches!(node.ty.elem, Elem::Fix { frac, .. } if frac != 0) && g.is_integer() {
                return Err("integer designs take spike or integer (fix<w,0>) inputs".into());
            }
        }
        Op::Output => {
            arity(1)?;
            let src = &g.node(node.inputs[0].node).ty;
            if *src != node.ty {
                return Err(format!("type {} differs from its input's {}", node.ty, src));
            }
        }
        Op::Affine { weight, .. } | Op::Linear { weight } => {
            needs_inputs()?;
            let in_ty = input_type(g, id)?.unwrap_or_else(|| node.ty.clone());
            let (rows, cols) = weight.dims2();
            if weight.shape.len() != 2 || rows != n || cols != in_ty.len() {
                return Err(format!(
                    "weight shape {:?} does not map {} inputs to {} outputs",
                    weight.shape,
                    in_ty.len(),
                    n
                ));
            }
            finite("weight", &weight.data)?;
            if let Op::Affine { bias, .. } = &node.op {
                if bias.len() != n {
                    return Err(format!("bias has {} entries, expected {n}", bias.len()));
                }
                finite("bias", bias)?;
            }
        }
        Op::Scale { scale } => {
            needs_inputs()?;
            if scale.len() != n {
                return Err(format!("scale has {} entries, expected {n}", scale.len()));
            }
            finite("scale", scale)?;
        }
        Op::Delay { delay } => {
            arity(1)?;
            same_type_as_input(g, id)?;
            if delay.len() != n {
                return Err(format!("delay has {} entries, expected {n}", delay.len()));
            }
            finite("delay", delay)?;
            if let Some(i) = delay.iter().position(|&d| d < 0.0) {
                return Err(format!(
                    "field 'delay' is negative ({}) at index {i}",
                    delay[i]
                ));
            }
        }
        Op::Conv(c) => {
            arity(1)?;
            check_conv(g, id, c)?;
            finite("weight", &c.weight.data)?;
            finite("bias", &c.bias)?;
        }
        Op::MultiThreshold(mt) => {
            arity(1)?;
            let in_ty = &g.node(node.inputs[0].node).ty;
            if !matches!(in_ty.elem, Elem::Fix { frac: 0, .. } | Elem::Spike) || in_ty.len() != n {
                return Err(format!(
                    "multi_threshold takes {n} integers or spikes, got {in_ty}"
                ));
            }
            let (channels, k) = mt.thresholds.dims2();
            if mt.thresholds.shape.len() != 2
                || channels == 0
                || k == 0
                || !n.is_multiple_of(channels)
            {
                return Err(format!(
                    "thresholds shape {:?} is not [channels, K] with channels dividing {n}",
                    mt.thresholds.shape
                ));
            }
            if k > MAX_THRESHOLDS {
                return Err(format!(
                    "{k} thresholds per channel; at most {MAX_THRESHOLDS}"
                ));
            }
            if let Some(c) = (0..channels).find(|&c| {
                mt.thresholds.data[c * k..(c + 1) * k]
                    .windows(2)
                    .any(|w| w[0] > w[1])
            }) {
                return Err(format!("thresholds of channel {c} do not ascend"));
            }
            let want = Type::fix(signed_width(0, k as i128), n).with_shape(node.ty.shape.clone());
            // One threshold is a threshold neuron: its output may be typed as spikes.
            let spiking = k == 1 && node.ty.elem == Elem::Spike;
            if node.ty != want && !spiking {
                return Err(format!(
                    "type {} should be {want} (counts 0..={k})",
                    node.ty
                ));
            }
        }
        Op::IntConv(ic) => {
            arity(1)?;
            check_conv(g, id, &ic.conv)?;
            let in_ty = &g.node(node.inputs[0].node).ty;
            if in_ty.elem != Elem::Spike {
                return Err(format!("int_conv takes spike inputs, got {in_ty}"));
            }
            if !matches!(node.ty.elem, Elem::Fix { .. }) {
                return Err(format!("int_conv output must be fix, is {}", node.ty));
            }
            if ic.scale.len() != ic.conv.bias.len() {
                return Err(format!(
                    "scale has {} entries, expected one per output channel ({})",
                    ic.scale.len(),
                    ic.conv.bias.len()
                ));
            }
        }
        Op::Pool(p) => {
            arity(1)?;
            check_window("kernel", &p.kernel, 1)?;
            check_window("stride", &p.stride, 1)?;
            check_window("padding", &p.padding, 0)?;
            check_spatial(g, id, &p.in_shape, p.out_shape())?;
        }
        Op::Tensor(t) => {
            let ins: Vec<&Type> = node.inputs.iter().map(|p| &g.node(p.node).ty).collect();
            let want = t.out_type(&ins)?;
            if node.ty != want {
                return Err(format!("type {} should be {want}", node.ty));
            }
        }
        Op::IntDelay { steps } => {
            arity(1)?;
            same_type_as_input(g, id)?;
            if steps.len() != n {
                return Err(format!("steps has {} entries, expected {n}", steps.len()));
            }
            if let Some(i) = steps
                .iter()
                .position(|s| !(0..=MAX_DELAY_STEPS).contains(s))
            {
                return Err(format!(
                    "steps[{i}] = {} outside 0..={MAX_DELAY_STEPS}",
                    steps[i]
                ));
            }
        }
        Op::Neuron(nr) => {
            needs_inputs()?;
            check_float_neuron(nr, n)?;
            let in_ty = input_type(g, id)?.unwrap_or_else(|| node.ty.clone());
            if in_ty.len() != n {
                return Err(format!("input has {} elements, layer has {n}", in_ty.len()));
            }
        }
        Op::Dense(d) => {
            // One spike source: the hardware reads a single spike per weight column.
            arity(1)?;
            let in_ty = input_type(g, id)?.unwrap_or_else(|| node.ty.clone());
            // Spikes (each column's weight added when its input spiked) or integers (the
            // weighted sum of the values).
            if !matches!(in_ty.elem, Elem::Spike | Elem::Fix { frac: 0, .. }) {
                return Err(format!(
                    "dense layers take spike or integer (fix<w,0>) inputs, got {}",
                    in_ty
                ));
            }
            let (rows, cols) = d.weight.dims2();
            if d.weight.shape.len() != 2 || rows != n || cols != in_ty.len() || d.bias.len() != n {
                return Err(format!(
                    "weight {:?} / bias {} do not map {} inputs to {n} outputs",
                    d.weight.shape,
                    d.bias.len(),
                    in_ty.len()
                ));
            }
            if !matches!(node.ty.elem, Elem::Fix { .. }) {
                return Err(format!("dense output must be fix, is {}", node.ty));
            }
            if d.scale.len() != n {
                return Err(format!("scale has {} entries, expected {n}", d.scale.len()));
            }
        }
        Op::IntNeuron(nr) => {
            needs_inputs()?;
            let in_ty = input_type(g, id)?.unwrap_or_else(|| node.ty.clone());
            if !matches!(in_ty.elem, Elem::Fix { .. }) || in_ty.len() != n {
                return Err(format!("input {} must be fix with {n} elements", in_ty));
            }
            check_int_neuron(nr, &node.ty)?;
        }
    }
    Ok(())
}

/// Geometry of a convolution, float or integer: window, groups, bias and shapes agree.
fn check_conv<T: Copy>(g: &Graph, id: NodeId, c: &Conv<T>) -> Result<(), String> {
    check_window("stride", &c.stride, 1)?;
    check_window("padding", &c.padding, 0)?;
    check_window("dilation", &c.dilation, 1)?;
    let [co, cig, _, _] = <[usize; 4]>::try_from(c.weight.shape.as_slice()).map_err(|_| {
        format!(
            "weight shape {:?} is not [c_out, c_in/groups, kh, kw]",
            c.weight.shape
        )
    })?;
    let ci = c.in_shape.first().copied().unwrap_or(0);
    if c.groups == 0 || !co.is_multiple_of(c.groups) || cig.checked_mul(c.groups) != Some(ci) {
        return Err(format!(
            "groups {} do not split {ci} input and {co} output channels (weight {:?})",
            c.groups, c.weight.shape
        ));
    }
    if c.bias.len() != co {
        return Err(format!("bias has {} entries, expected {co}", c.bias.len()));
    }
    check_spatial(g, id, &c.in_shape, c.out_shape())
}

/// Two entries (height, width), each at least `min`.
fn check_window(name: &str, v: &[usize], min: usize) -> Result<(), String> {
    if v.len() != 2 || v.iter().any(|&x| x < min) {
        return Err(format!("{name} {v:?} must be two values >= {min}"));
    }
    Ok(())
}

/// The input holds `in_shape` = [c, h, w] values and the node's type the computed output.
fn check_spatial(
    g: &Graph,
    id: NodeId,
    in_shape: &[usize],
    out: Option<[usize; 3]>,
) -> Result<(), String> {
    let node = g.node(id);
    let got = g.node(node.inputs[0].node).ty.len();
    let want = in_shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if in_shape.len() != 3 || want != Some(got) {
        return Err(format!(
            "in_shape {in_shape:?} does not match its input of {got} values"
        ));
    }
    let out = out.ok_or_else(|| format!("the window does not fit the {in_shape:?} input"))?;
    if out.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) != Some(node.ty.len()) {
        return Err(format!("type {} should hold the {out:?} output", node.ty));
    }
    Ok(())
}

/// A delay passes values through unchanged, so its type is its input's.
fn same_type_as_input(g: &Graph, id: NodeId) -> Result<(), String> {
    let node = g.node(id);
    let src = &g.node(node.inputs[0].node).ty;
    if src.elem != node.ty.elem || src.len() != node.ty.len() {
        return Err(format!("type {} differs from its input's {}", node.ty, src));
    }
    Ok(())
}

fn check_float_neuron(nr: &FloatNeuron, n: usize) -> Result<(), String> {
    let all = [
        ("tau_syn", &nr.tau_syn),
        ("tau_mem", &nr.tau_mem),
        ("r", &nr.r),
        ("v_leak", &nr.v_leak),
        ("v_threshold", &nr.v_threshold),
        ("v_reset", &nr.v_reset),
        ("w_in", &nr.w_in),
    ];
    for (name, v) in all {
        if v.len() != n {
            return Err(format!(
                "field '{name}' has {} entries, expected {n}",
                v.len()
            ));
        }
        finite(name, v)?;
    }
    for (name, v) in [("tau_syn", &nr.tau_syn), ("tau_mem", &nr.tau_mem)] {
        if let Some(i) = v.iter().position(|&t| t <= 0.0) {
            return Err(format!(
                "field '{name}' must be positive, is {} at index {i}",
                v[i]
            ));
        }
    }
    Ok(())
}

fn check_int_neuron(nr: &IntNeuron, ty: &Type) -> Result<(), String> {
    let n = ty.len();
    if nr.scale.len() != n {
        return Err(format!(
            "scale has {} entries, expected {n}",
            nr.scale.len()
        ));
    }
    for (name, v) in [
        ("syn_decay", &nr.syn_decay),
        ("mem_decay", &nr.mem_decay),
        ("bias", &nr.bias),
        ("threshold", &nr.threshold),
        ("v_reset", &nr.v_reset),
    ] {
        if v.len() != n {
            return Err(format!(
                "field '{name}' has {} entries, expected {n}",
                v.len()
            ));
        }
    }
    if !(1..=24).contains(&nr.frac_bits) {
        return Err(format!("frac_bits {} outside 1..=24", nr.frac_bits));
    }
    for (name, w) in [("syn_bits", nr.syn_bits), ("mem_bits", nr.mem_bits)] {
        if !(2..=40).contains(&w) {
            return Err(format!("{name} {w} outside 2..=40"));
        }
    }
    let one = 1i64 << nr.frac_bits;
    for (name, v) in [("syn_decay", &nr.syn_decay), ("mem_decay", &nr.mem_decay)] {
        if let Some(i) = v.iter().position(|&d| !(0..=one).contains(&d)) {
            return Err(format!("{name}[{i}] = {} outside 0..=2^frac_bits", v[i]));
        }
    }
    // Any shape of n elements: a layer over tokens keeps its [heads, dim, tokens] view.
    let want = if nr.kind.spikes() {
        Type::spike(n)
    } else {
        Type::fix(nr.mem_bits, n)
    }
    .with_shape(ty.shape.clone());
    if *ty != want || ty.len() != n {
        return Err(format!("type {} should be {}", ty, want));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::verify;
    use crate::ir::text::parse;

    #[test]
    fn a_dense_layer_reads_one_spike_source() {
        let two = "graph g {\n  %x: spike[2] = input\n  %z: spike[2] = input\n  %d: fix<4,0>[1] = dense(%x, %z) {weight = <1x2>[1, 2], bias = [0], scale = [1]}\n  %y: fix<4,0>[1] = output(%d)\n}";
        let err = verify(&parse(two).unwrap()).unwrap_err().to_string();
        assert!(
            err.contains("'d'") && err.contains("expects 1 input(s), has 2"),
            "{err}"
        );
        let one = two.replace("dense(%x, %z)", "dense(%x)");
        verify(&parse(&one).unwrap()).unwrap();
    }

    #[test]
    fn multi_thresholds_must_ascend_fit_the_channels_and_type_their_counts() {
        let ok = "graph g {\n  %x: spike[2] = input\n  %d: fix<4,0>[4] = dense(%x) {weight = <4x2>[1, 2, 3, 4, 5, 6, 7, -1], bias = [0; 4], scale = [1; 4]}\n  %m: fix<3,0>[4] = multi_threshold(%d) {thresholds = <2x3>[-1, 0, 2, 1, 1, 5]}\n  %y: fix<3,0>[4] = output(%m)\n}";
        verify(&parse(ok).unwrap()).unwrap();
        let bad = [
            (
                "<2x3>[-1, 0, 2, 5, 1, 1]",
                "fix<3,0>[4] = multi",
                "channel 1 do not ascend",
            ),
            (
                "<3x1>[0, 1, 2]",
                "fix<2,0>[4] = multi",
                "channels dividing 4",
            ),
            (
                "<2x3>[-1, 0, 2, 1, 1, 5]",
                "fix<2,0>[4] = multi",
                "should be fix<3,0>[4]",
            ),
        ];
        for (t, ty, want) in bad {
            let text = ok
                .replace("<2x3>[-1, 0, 2, 1, 1, 5]", t)
                .replace("fix<3,0>[4] = multi", ty);
            let err = verify(&parse(&text).unwrap()).unwrap_err().to_string();
            assert!(err.contains("'m'") && err.contains(want), "{t}: {err}");
        }
    }
}
