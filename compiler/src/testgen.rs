//! Seeded random models for property tests, fuzzing and benchmarks.

use crate::ir::{Compare, FloatNeuron, Graph, NeuronKind, Op, Port, Reset, Tensor, Type};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Limits of [`random_snn`].
#[derive(Clone, Debug)]
pub struct RandomSnn {
    pub max_inputs: usize,
    pub max_width: usize,
    pub max_layers: usize,
    pub dt: f64,
}

impl Default for RandomSnn {
    fn default() -> Self {
        RandomSnn {
            max_inputs: 16,
            max_width: 64,
            max_layers: 3,
            dt: 1e-4,
        }
    }
}

fn random_neuron(rng: &mut ChaCha8Rng, kind: NeuronKind, n: usize, dt: f64) -> FloatNeuron {
    let mut nr = FloatNeuron::neutral(kind, n);
    // Leak per step: sometimes an exact power of two (a shift in hardware), sometimes not.
    let alpha = |rng: &mut ChaCha8Rng| -> f64 {
        if rng.random_bool(0.4) {
            1.0 / (1u32 << rng.random_range(1..6)) as f64
        } else {
            rng.random_range(0.02..0.6)
        }
    };
    let shared = rng.random_bool(0.5);
    let a0 = alpha(rng);
    let s0 = alpha(rng);
    for j in 0..n {
        let a = if shared { a0 } else { alpha(rng) };
        let s = if shared { s0 } else { alpha(rng) };
        nr.tau_mem[j] = dt / a;
        nr.tau_syn[j] = dt / s;
        nr.r[j] = if rng.random_bool(0.5) {
            nr.tau_mem[j] / dt
        } else {
            rng.random_range(0.5..3.0)
        };
        nr.w_in[j] = rng.random_range(0.5..4.0);
        nr.v_leak[j] = if rng.random_bool(0.7) {
            0.0
        } else {
            rng.random_range(-0.5..0.5)
        };
        nr.v_threshold[j] = rng.random_range(0.1..2.0);
        nr.v_reset[j] = if rng.random_bool(0.7) {
            0.0
        } else {
            rng.random_range(-0.5..0.5)
        };
    }
    let resets = [
        Reset::Zero,
        Reset::Subtract,
        Reset::ZeroNext,
        Reset::SubtractNext,
    ];
    nr.reset = if kind.has_memory() {
        resets[rng.random_range(0..4)]
    } else {
        Reset::Zero
    };
    nr.compare = if rng.random_bool(0.7) {
        Compare::Gt
    } else {
        Compare::Ge
    };
    nr
}

fn random_weights(rng: &mut ChaCha8Rng, rows: usize, cols: usize, sparsity: f64) -> Tensor<f64> {
    let scale = rng.random_range(0.1..2.0);
    let data = (0..rows * cols)
        .map(|_| {
            if rng.random_bool(sparsity) {
                0.0
            } else {
                rng.random_range(-1.0..1.0) * scale
            }
        })
        .collect();
    Tensor::new(vec![rows, cols], data)
}

/// A random float-stage dense SNN: Input -> (Affine|Linear -> neuron [+ recurrence])+ -> Output.
pub fn random_snn(seed: u64, lim: &RandomSnn) -> Graph {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = Graph::new(format!("rand{seed}"));
    let n_in = rng.random_range(1..=lim.max_inputs);
    let mut prev = g.add("input", Op::Input, vec![], Type::spike(n_in));
    let mut width = n_in;
    let layers = rng.random_range(1..=lim.max_layers);
    let sparsity = rng.random_range(0.0..0.7);
    for l in 0..layers {
        let last = l + 1 == layers;
        let n = if last {
            rng.random_range(1..=16.min(lim.max_width))
        } else {
            rng.random_range(1..=lim.max_width)
        };
        let kinds = if last {
            &[
                NeuronKind::If,
                NeuronKind::Lif,
                NeuronKind::CubaLif,
                NeuronKind::Li,
                NeuronKind::I,
                NeuronKind::CubaLi,
                NeuronKind::Threshold,
            ][..]
        } else {
            &[
                NeuronKind::If,
                NeuronKind::Lif,
                NeuronKind::CubaLif,
                NeuronKind::Threshold,
            ][..]
        };
        let kind = kinds[rng.random_range(0..kinds.len())];
        if rng.random_bool(0.25) {
            // Axonal delays of 0 to 4 steps on the spikes entering this layer.
            let delay = (0..width)
                .map(|_| rng.random_range(0..5) as f64 * lim.dt)
                .collect();
            let ty = g.node(prev).ty.clone();
            prev = g.add(
                format!("delay{l}"),
                Op::Delay { delay },
                vec![Port::now(prev)],
                ty,
            );
        }
        let w = random_weights(&mut rng, n, width, sparsity);
        let fc = if rng.random_bool(0.5) {
            let bias = (0..n).map(|_| rng.random_range(-0.3..0.3)).collect();
            g.add(
                format!("fc{l}"),
                Op::Affine { weight: w, bias },
                vec![Port::now(prev)],
                Type::real(n),
            )
        } else {
            g.add(
                format!("fc{l}"),
                Op::Linear { weight: w },
                vec![Port::now(prev)],
                Type::real(n),
            )
        };
        let nr = random_neuron(&mut rng, kind, n, lim.dt);
        let out_ty = if kind.spikes() {
            Type::spike(n)
        } else {
            Type::real(n)
        };
        let recurrent = kind.spikes() && rng.random_bool(0.35);
        let mut inputs = vec![Port::now(fc)];
        let neuron_id = crate::ir::NodeId((g.nodes.len() + usize::from(recurrent)) as u32);
        if recurrent {
            let wr = random_weights(&mut rng, n, n, sparsity);
            let rec = g.add(
                format!("rec{l}"),
                Op::Linear { weight: wr },
                vec![Port::prev(neuron_id)],
                Type::real(n),
            );
            inputs.push(Port::now(rec));
        }
        prev = g.add(format!("lif{l}"), Op::Neuron(nr), inputs, out_ty);
        width = n;
    }
    let ty = g.node(prev).ty.clone();
    g.add("output", Op::Output, vec![Port::now(prev)], ty);
    g
}

/// A feed-forward LIF MLP with the given layer sizes (first = inputs), seeded weights.
pub fn lif_mlp(sizes: &[usize], seed: u64, dt: f64) -> Graph {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = Graph::new("mlp");
    let mut prev = g.add("input", Op::Input, vec![], Type::spike(sizes[0]));
    for l in 1..sizes.len() {
        let (m, n) = (sizes[l - 1], sizes[l]);
        let bound = 1.0 / (m as f64).sqrt();
        let w = Tensor::new(
            vec![n, m],
            (0..n * m)
                .map(|_| rng.random_range(-bound..bound))
                .collect(),
        );
        let fc = g.add(
            format!("fc{l}"),
            Op::Linear { weight: w },
            vec![Port::now(prev)],
            Type::real(n),
        );
        let mut nr = FloatNeuron::neutral(NeuronKind::Lif, n);
        for j in 0..n {
            // snnTorch's export: beta = 0.9, tau = dt/(1-beta), r = tau/dt.
            nr.tau_mem[j] = dt / 0.1;
            nr.r[j] = nr.tau_mem[j] / dt;
            nr.v_threshold[j] = 1.0;
        }
        prev = g.add(
            format!("lif{l}"),
            Op::Neuron(nr),
            vec![Port::now(fc)],
            Type::spike(n),
        );
    }
    g.add(
        "output",
        Op::Output,
        vec![Port::now(prev)],
        Type::spike(*sizes.last().unwrap_or(&1)),
    );
    g
}

/// Adds `count` redundant neurons to the shrinkable layers of an integer graph, for testing the
/// graph pruner: twins of existing neurons (same parameters and input rows; each outgoing
/// weight split between the two) and silent copies (only the negative part of the input rows,
/// so they can never reach a non-negative threshold, with nonzero outgoing weights).
/// Returns how many were added per layer name.
pub fn inject_redundancy(g: &mut Graph, seed: u64, count: usize) -> Vec<(String, usize)> {
    use crate::opt::prune::shrinkable;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let layers: Vec<crate::ir::NodeId> = g.ids().filter(|&n| shrinkable(g, n)).collect();
    let mut added: Vec<(String, usize)> = layers
        .iter()
        .map(|&n| (g.node(n).name.clone(), 0))
        .collect();
    if layers.is_empty() {
        return added;
    }
    for _ in 0..count {
        let k = rng.random_range(0..layers.len());
        let n = layers[k];
        let len = g.node(n).ty.len();
        let j = rng.random_range(0..len);
        let Op::IntNeuron(nr) = &g.node(n).op else {
            continue;
        };
        let silent = rng.random_bool(0.5);
        if silent && nr.threshold[j] < 0 {
            continue;
        }
        let feeders: Vec<crate::ir::NodeId> = g.node(n).inputs.iter().map(|p| p.node).collect();
        for f in &feeders {
            let node = &mut g.nodes[f.index()];
            if let Op::Dense(d) = &mut node.op {
                let cols = d.weight.dims2().1;
                let mut row = d.weight.data[j * cols..(j + 1) * cols].to_vec();
                let mut bias = d.bias[j];
                if silent {
                    row.iter_mut().for_each(|w| *w = (*w).min(0));
                    bias = bias.min(0);
                }
                d.weight.data.extend(row);
                d.weight.shape = vec![len + 1, cols];
                d.bias.push(bias);
                d.scale.push(d.scale[j]);
                node.ty.shape = vec![len + 1];
            }
        }
        let readers: Vec<crate::ir::NodeId> = g.readers(n).into_iter().map(|(r, _)| r).collect();
        for r in readers {
            if let Op::Dense(d) = &mut g.nodes[r.index()].op {
                let (rows, cols) = d.weight.dims2();
                let mut data = Vec::with_capacity(rows * (cols + 1));
                for row in d.weight.data.chunks(cols) {
                    let mut row = row.to_vec();
                    let extra = if silent {
                        rng.random_range(-3..=3)
                    } else {
                        let half = row[j] / 2;
                        row[j] -= half;
                        half
                    };
                    row.push(extra);
                    data.extend(row);
                }
                d.weight = Tensor::new(vec![rows, cols + 1], data);
            }
        }
        let node = &mut g.nodes[n.index()];
        if let Op::IntNeuron(nr) = &mut node.op {
            nr.syn_decay.push(nr.syn_decay[j]);
            nr.mem_decay.push(nr.mem_decay[j]);
            let b = nr.bias[j];
            nr.bias.push(if silent { b.min(0) } else { b });
            nr.threshold.push(nr.threshold[j]);
            nr.v_reset.push(nr.v_reset[j]);
            nr.scale.push(nr.scale[j]);
        }
        node.ty.shape = vec![len + 1];
        added[k].1 += 1;
    }
    added
}

/// A random spiking CNN: Input `[c, h, w]` (or 1-D, `h = 1`) -> Conv (random kernel, stride,
/// padding, dilation, groups) -> neuron -> optional sum or average pool -> Affine -> neuron ->
/// Output.
pub fn random_conv_snn(seed: u64) -> Graph {
    use crate::ir::{Conv, Pool};
    let dt = 1e-4;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = Graph::new(format!("conv{seed}"));
    let one_d = rng.random_bool(0.4);
    let c = rng.random_range(1..=3usize);
    let h = if one_d {
        1
    } else {
        rng.random_range(2..=6usize)
    };
    let w = rng.random_range(3..=8usize);
    let input = g.add(
        "input",
        Op::Input,
        vec![],
        Type::spike(c * h * w).with_shape(vec![c, h, w]),
    );
    let groups = if c > 1 && rng.random_bool(0.3) { c } else { 1 };
    let co = groups * rng.random_range(1..=3usize);
    let kh = if one_d {
        1
    } else {
        rng.random_range(1..=3usize)
    };
    let kw = rng.random_range(1..=3usize).min(w);
    let dim = |rng: &mut ChaCha8Rng, one: bool| -> (usize, usize, usize) {
        if one {
            (1, 0, 1)
        } else {
            (
                rng.random_range(1..=2),
                rng.random_range(0..=1),
                rng.random_range(1..=2),
            )
        }
    };
    let (sh, ph, dh) = dim(&mut rng, one_d);
    let (sw, pw, dw) = dim(&mut rng, false);
    let sparsity = rng.random_range(0.0..0.5);
    let weight = random_weights(&mut rng, co, c / groups * kh * kw, sparsity);
    let mut conv = Conv {
        weight: Tensor::new(vec![co, c / groups, kh, kw], weight.data),
        bias: (0..co).map(|_| rng.random_range(-0.3..0.3)).collect(),
        in_shape: vec![c, h, w],
        stride: vec![sh, sw],
        padding: vec![ph, pw],
        dilation: vec![dh, dw],
        groups,
    };
    // A dilated kernel that does not fit the (padded) input falls back to no dilation.
    if conv.out_shape().is_none() {
        conv.dilation = vec![1, 1];
    }
    let Some(out) = conv.out_shape() else {
        return random_snn(seed, &RandomSnn::default());
    };
    let n = out.iter().product();
    let cv = g.add(
        "conv0",
        Op::Conv(conv),
        vec![Port::now(input)],
        Type::real(0).with_shape(out.to_vec()),
    );
    let kinds = [
        NeuronKind::If,
        NeuronKind::Lif,
        NeuronKind::CubaLif,
        NeuronKind::Threshold,
    ];
    let kind = kinds[rng.random_range(0..kinds.len())];
    // One parameter set per channel, as a convolution's neurons have (NIR broadcasts them).
    let mut nr = random_neuron(&mut rng, kind, co, dt);
    let positions = n / co;
    for v in [
        &mut nr.tau_syn,
        &mut nr.tau_mem,
        &mut nr.r,
        &mut nr.v_leak,
        &mut nr.v_threshold,
        &mut nr.v_reset,
        &mut nr.w_in,
    ] {
        *v = v
            .iter()
            .flat_map(|&x| std::iter::repeat_n(x, positions))
            .collect();
    }
    let mut prev = g.add(
        "lif0",
        Op::Neuron(nr),
        vec![Port::now(cv)],
        Type::spike(n).with_shape(out.to_vec()),
    );
    let mut width = n;
    if out[2] >= 2 && rng.random_bool(0.5) {
        let k = if out[1] >= 2 { 2 } else { 1 };
        let pool = Pool {
            kernel: vec![k, 2],
            stride: vec![k, 2],
            padding: vec![0, 0],
            in_shape: out.to_vec(),
            average: rng.random_bool(0.5),
        };
        if let Some(po) = pool.out_shape() {
            width = po.iter().product();
            prev = g.add(
                "pool0",
                Op::Pool(pool),
                vec![Port::now(prev)],
                Type::real(0).with_shape(po.to_vec()),
            );
        }
    }
    let n_out = rng.random_range(1..=8usize);
    let fc = g.add(
        "fc1",
        Op::Affine {
            weight: random_weights(&mut rng, n_out, width, sparsity),
            bias: (0..n_out).map(|_| rng.random_range(-0.3..0.3)).collect(),
        },
        vec![Port::now(prev)],
        Type::real(n_out),
    );
    let kind = [
        NeuronKind::If,
        NeuronKind::Lif,
        NeuronKind::Li,
        NeuronKind::CubaLif,
    ][rng.random_range(0..4)];
    let nr = random_neuron(&mut rng, kind, n_out, dt);
    let ty = if kind.spikes() {
        Type::spike(n_out)
    } else {
        Type::real(n_out)
    };
    let last = g.add("lif1", Op::Neuron(nr), vec![Port::now(fc)], ty.clone());
    g.add("output", Op::Output, vec![Port::now(last)], ty);
    g
}

/// A random integer-stage graph around multi-threshold activations: Input -> Dense ->
/// MultiThreshold (1 to 15 thresholds per channel, shared or per channel) -> Output, and
/// sometimes a second Dense -> MultiThreshold on the same spikes.
pub fn random_multi_threshold(seed: u64) -> Graph {
    use crate::ir::{signed_width, IntDense, MultiThreshold};
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = Graph::new(format!("mt{seed}"));
    let n_in = rng.random_range(1..=12usize);
    let input = g.add("input", Op::Input, vec![], Type::spike(n_in));
    let heads = rng.random_range(1..=2usize);
    for h in 0..heads {
        let n = rng.random_range(1..=8usize);
        let wmax = rng.random_range(1..=40i64);
        let weight: Vec<i64> = (0..n * n_in)
            .map(|_| rng.random_range(-wmax..=wmax))
            .collect();
        let bias: Vec<i64> = (0..n).map(|_| rng.random_range(-wmax..=wmax)).collect();
        // The output width covers every reachable sum.
        let (mut lo, mut hi) = (0i128, 0i128);
        for r in 0..n {
            let row = &weight[r * n_in..(r + 1) * n_in];
            let neg: i64 = row.iter().filter(|&&x| x < 0).sum();
            let pos: i64 = row.iter().filter(|&&x| x > 0).sum();
            lo = lo.min((bias[r] + neg) as i128);
            hi = hi.max((bias[r] + pos) as i128);
        }
        let width = signed_width(lo, hi);
        let fc = g.add(
            format!("fc{h}"),
            Op::Dense(IntDense {
                weight: Tensor::new(vec![n, n_in], weight),
                bias,
                scale: vec![1.0; n],
            }),
            vec![Port::now(input)],
            Type::fix(width, n),
        );
        let channels = if rng.random_bool(0.5) { 1 } else { n };
        let k = rng.random_range(1..=15usize);
        let mut thresholds = Vec::with_capacity(channels * k);
        for _ in 0..channels {
            let mut row: Vec<i64> = (0..k)
                .map(|_| rng.random_range(lo as i64 - 2..=hi as i64 + 2))
                .collect();
            row.sort_unstable();
            thresholds.extend(row);
        }
        let out_ty = Type::fix(signed_width(0, k as i128), n);
        let mt = g.add(
            format!("mt{h}"),
            Op::MultiThreshold(MultiThreshold {
                thresholds: Tensor::new(vec![channels, k], thresholds),
            }),
            vec![Port::now(fc)],
            out_ty.clone(),
        );
        g.add(format!("out{h}"), Op::Output, vec![Port::now(mt)], out_ty);
    }
    g
}

/// A random integer MLP, as a quantised ANN compiles: Input (signed integers of 2 to 8 bits)
/// -> (Dense -> MultiThreshold, a quantised ReLU of 1 to 4 output bits)+ -> Dense -> Output.
pub fn random_int_mlp(seed: u64) -> Graph {
    use crate::ir::{signed_range, signed_width, IntDense, MultiThreshold};
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = Graph::new(format!("imlp{seed}"));
    let n_in = rng.random_range(1..=16usize);
    let in_bits = rng.random_range(2..=8u32);
    let mut prev = g.add("input", Op::Input, vec![], Type::fix(in_bits, n_in));
    let (mut width, mut x_lo, mut x_hi) = {
        let (lo, hi) = signed_range(in_bits);
        (n_in, lo as i128, hi as i128)
    };
    let hidden = rng.random_range(0..=2usize);
    for l in 0..=hidden {
        let last = l == hidden;
        let n = rng.random_range(1..=if last { 8 } else { 24 });
        let wmax = (1i64 << rng.random_range(1..=5u32)) - 1;
        let weight: Vec<i64> = (0..n * width)
            .map(|_| {
                if rng.random_bool(0.2) {
                    0
                } else {
                    rng.random_range(-wmax..=wmax)
                }
            })
            .collect();
        let bias: Vec<i64> = (0..n).map(|_| rng.random_range(-wmax..=wmax)).collect();
        let (mut lo, mut hi) = (0i128, 0i128);
        for r in 0..n {
            let (mut a, mut b) = (bias[r] as i128, bias[r] as i128);
            for &w in &weight[r * width..(r + 1) * width] {
                let (p, q) = (w as i128 * x_lo, w as i128 * x_hi);
                a += p.min(q);
                b += p.max(q);
            }
            lo = lo.min(a);
            hi = hi.max(b);
        }
        let fc = g.add(
            format!("fc{l}"),
            Op::Dense(IntDense {
                weight: Tensor::new(vec![n, width], weight),
                bias,
                scale: vec![1.0; n],
            }),
            vec![Port::now(prev)],
            Type::fix(signed_width(lo, hi), n),
        );
        prev = fc;
        if !last {
            // A quantised ReLU: 2^k - 1 ascending positive thresholds, per channel or shared.
            let k = (1usize << rng.random_range(1..=4u32)) - 1;
            let channels = if rng.random_bool(0.5) { 1 } else { n };
            let span = hi.max(1) as i64;
            let mut thresholds = Vec::with_capacity(channels * k);
            for _ in 0..channels {
                let step = rng.random_range(1..=(span / k as i64).max(1));
                let start = rng.random_range(1..=step);
                thresholds.extend((0..k as i64).map(|i| start + i * step));
            }
            let ty = Type::fix(signed_width(0, k as i128), n);
            prev = g.add(
                format!("relu{l}"),
                Op::MultiThreshold(MultiThreshold {
                    thresholds: Tensor::new(vec![channels, k], thresholds),
                }),
                vec![Port::now(fc)],
                ty,
            );
            (x_lo, x_hi) = (0, k as i128);
        }
        width = n;
    }
    let ty = g.node(prev).ty.clone();
    g.add("output", Op::Output, vec![Port::now(prev)], ty);
    g
}

/// A random spike-driven attention graph exercising every weightless tensor operator: two spike
/// inputs `[(heads,) channels, tokens]` and sometimes an integer one; K AND V, a popcount along
/// a random axis and a threshold neuron (typed as spikes) give a mask that broadcasts back over
/// Q (sometimes read from the previous step); spike matrix products with random transposes,
/// on spikes and on integers; requantisers with random rounding, shifts and ranges; the
/// membrane shortcut; OR-pooling; and a dense layer with an integrating neuron on the result,
/// so the stateless operators also feed state.
pub fn random_spike_transformer(seed: u64) -> Graph {
    use crate::ir::{
        signed_width, Elem, IntDense, IntNeuron, MultiThreshold, Requant, Rounding, TensorOp,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = Graph::new(format!("sdsa{seed}"));
    let batch = rng.random_bool(0.3).then(|| rng.random_range(1..=3usize));
    let (c, n) = (rng.random_range(1..=6usize), rng.random_range(1..=8usize));
    let shape = |a: usize, b: usize| match batch {
        Some(h) => vec![h, a, b],
        None => vec![a, b],
    };
    let spk = |s: Vec<usize>| Type::new(Elem::Spike, s);
    let q = g.add("q", Op::Input, vec![], spk(shape(c, n)));
    let k = g.add("k", Op::Input, vec![], spk(shape(c, n)));
    let z_bits = rng.random_range(2..=6u32);
    let z = rng.random_bool(0.5).then(|| {
        g.add(
            "z",
            Op::Input,
            vec![],
            Type::new(
                Elem::Fix {
                    width: z_bits,
                    frac: 0,
                },
                shape(c, n),
            ),
        )
    });
    let ty = |g: &Graph, id| g.node(id).ty.clone();
    let tensor = |g: &mut Graph, name: &str, op: TensorOp, ins: Vec<Port>| {
        let tys: Vec<Type> = ins.iter().map(|p| g.node(p.node).ty.clone()).collect();
        let refs: Vec<&Type> = tys.iter().collect();
        let out = op
            .out_type(&refs)
            .expect("random tensor ops are well typed");
        g.add(name, Op::Tensor(op), ins, out)
    };
    let kv = tensor(
        &mut g,
        "kv",
        TensorOp::And,
        vec![Port::now(q), Port::now(k)],
    );
    let rank = g.node(q).ty.shape.len();
    let axis = rng.random_range(0..rank);
    let sums = tensor(
        &mut g,
        "sums",
        TensorOp::Popcount { axis },
        vec![Port::now(kv)],
    );
    let most = g.node(kv).ty.shape[axis] as i64;
    let threshold = rng.random_range(0..=most + 1);
    let mask_ty = spk(ty(&g, sums).shape);
    let mask = g.add(
        "mask",
        Op::MultiThreshold(MultiThreshold {
            thresholds: Tensor::new(vec![1, 1], vec![threshold]),
        }),
        vec![Port::now(sums)],
        mask_ty,
    );
    let read_mask = if rng.random_bool(0.3) {
        Port::prev(mask)
    } else {
        Port::now(mask)
    };
    let attn = tensor(&mut g, "attn", TensorOp::And, vec![Port::now(q), read_mask]);
    // Q K^T-style counts: contract the token axis of both ([c, n] x [c, n]^T), or the channel
    // axis (transposed first operand).
    let (ta, tb) = if rng.random_bool(0.5) {
        (false, true)
    } else {
        (true, false)
    };
    let counts = tensor(
        &mut g,
        "counts",
        TensorOp::Matmul { ta, tb },
        vec![Port::now(q), Port::now(k)],
    );
    let rounding = Rounding::ALL[rng.random_range(0..Rounding::ALL.len())];
    let requant = |g: &mut Graph, rng: &mut ChaCha8Rng, name: &str, src: crate::ir::NodeId| {
        let len = g.node(src).ty.len();
        let channels = if rng.random_bool(0.5) { 1 } else { len };
        let mul = (0..channels)
            .map(|_| rng.random_range(-40..=40i64))
            .collect();
        let lo = rng.random_range(-20..=0i64);
        let hi = rng.random_range(lo..=lo + 30);
        tensor(
            g,
            name,
            TensorOp::Requant(Requant {
                mul,
                shift: rng.random_range(0..=6),
                rounding,
                lo,
                hi,
            }),
            vec![Port::now(src)],
        )
    };
    let rq = requant(&mut g, &mut rng, "rq", counts);
    // Integer times spikes: the requantised counts against V's spikes.
    let ctx_rows = ty(&g, rq).shape[rank - 2];
    let cross = if ctx_rows == ty(&g, k).shape[rank - 2] {
        Some(tensor(
            &mut g,
            "ctx",
            TensorOp::Matmul {
                ta: true,
                tb: false,
            },
            vec![Port::now(rq), Port::now(k)],
        ))
    } else {
        None
    };
    let mut residual = vec![Port::now(attn), Port::now(k)];
    if let Some(z) = z {
        residual.push(Port::now(z));
        let zq = requant(&mut g, &mut rng, "zq", z);
        g.add("out_zq", Op::Output, vec![Port::now(zq)], ty(&g, zq));
    }
    let shortcut = tensor(&mut g, "shortcut", TensorOp::Add, residual);
    let width = rng.random_range(1..=n);
    let pool = (rank == 2).then(|| {
        tensor(
            &mut g,
            "pool",
            TensorOp::OrPool {
                kernel: vec![width],
                stride: vec![rng.random_range(1..=2)],
            },
            vec![Port::now(attn)],
        )
    });
    // Tokens-major view of the requantised counts (a transpose is wiring).
    let mut perm: Vec<usize> = (0..rank).collect();
    perm.swap(rank - 2, rank - 1);
    if rng.random_bool(0.5) {
        perm.rotate_left(1);
    }
    let rq_t = tensor(
        &mut g,
        "rq_t",
        TensorOp::Transpose { perm },
        vec![Port::now(rq)],
    );
    g.add("out_rq_t", Op::Output, vec![Port::now(rq_t)], ty(&g, rq_t));
    // A dense layer and an integrating neuron on the attention output: state after the
    // stateless operators.
    let m = rng.random_range(1..=4usize);
    let len = g.node(attn).ty.len();
    let weight: Vec<i64> = (0..m * len).map(|_| rng.random_range(-7..=7)).collect();
    let bound: i64 = (0..m)
        .map(|r| {
            weight[r * len..(r + 1) * len]
                .iter()
                .map(|w| w.abs())
                .sum::<i64>()
        })
        .max()
        .unwrap_or(0);
    let fc = g.add(
        "fc",
        Op::Dense(IntDense {
            weight: Tensor::new(vec![m, len], weight),
            bias: vec![0; m],
            scale: vec![1.0; m],
        }),
        vec![Port::now(attn)],
        Type::fix(signed_width(-(bound as i128), bound as i128), m),
    );
    let threshold = rng.random_range(1..=bound.max(1) + 1);
    let neuron = g.add(
        "if1",
        Op::IntNeuron(IntNeuron {
            kind: NeuronKind::If,
            reset: Reset::Subtract,
            compare: Compare::Ge,
            frac_bits: 4,
            syn_decay: vec![0; m],
            mem_decay: vec![0; m],
            bias: vec![0; m],
            threshold: vec![threshold; m],
            v_reset: vec![0; m],
            syn_bits: 2,
            mem_bits: signed_width(-(4 * bound as i128) - 1, 4 * bound as i128 + 1) + 1,
            saturate: true,
            scale: vec![1.0; m],
        }),
        vec![Port::now(fc)],
        Type::spike(m),
    );
    for (name, id) in [
        ("out_shortcut", shortcut),
        ("out_rq", rq),
        ("out_if", neuron),
    ]
    .into_iter()
    .chain(cross.map(|x| ("out_ctx", x)))
    .chain(pool.map(|p| ("out_pool", p)))
    {
        g.add(name, Op::Output, vec![Port::now(id)], ty(&g, id));
    }
    g
}

/// A random integer attention block (I-BERT style), small enough to simulate: integer inputs
/// (and a spike input) projected by constant matrices (integer matmul), requantised Q and K,
/// scores `Q K^T` (random transposes), softmax with a random exponential table, the
/// probabilities times V, a broadcast bias, a LayerNorm with random affine and rounding, and
/// sometimes batch (head) axes; outputs along the way.
pub fn random_int_transformer(seed: u64) -> Graph {
    use crate::ir::{Elem, LayerNorm, Requant, Rounding, Softmax, TensorOp};
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = Graph::new(format!("enc{seed}"));
    let heads = rng.random_bool(0.3).then(|| rng.random_range(1..=2usize));
    let shape = |a: usize, b: usize| match heads {
        Some(h) => vec![h, a, b],
        None => vec![a, b],
    };
    let (t, c, d) = (
        rng.random_range(1..=5usize),
        rng.random_range(1..=6usize),
        rng.random_range(1..=4usize),
    );
    let xb = rng.random_range(2..=6u32);
    let x = g.add(
        "x",
        Op::Input,
        vec![],
        Type::new(Elem::Fix { width: xb, frac: 0 }, shape(t, c)),
    );
    let tensor = |g: &mut Graph, name: &str, op: TensorOp, ins: Vec<Port>| {
        let tys: Vec<Type> = ins.iter().map(|p| g.node(p.node).ty.clone()).collect();
        let refs: Vec<&Type> = tys.iter().collect();
        let out = op
            .out_type(&refs)
            .unwrap_or_else(|e| panic!("random tensor op {name} is ill typed: {e}"));
        g.add(name, Op::Tensor(op), ins, out)
    };
    let konst = |g: &mut Graph, rng: &mut ChaCha8Rng, name: &str, s: Vec<usize>, m: i64| {
        let n: usize = s.iter().product();
        let data = (0..n).map(|_| rng.random_range(-m..=m)).collect();
        tensor(g, name, TensorOp::Const { shape: s, data }, vec![])
    };
    let rounding = |rng: &mut ChaCha8Rng| Rounding::ALL[rng.random_range(0..Rounding::ALL.len())];
    let requant = |g: &mut Graph, rng: &mut ChaCha8Rng, name: &str, src, lo: i64, hi: i64| {
        let shift = rng.random_range(0..=5);
        tensor(
            g,
            name,
            TensorOp::Requant(Requant {
                mul: vec![rng.random_range(1..=3)],
                shift,
                rounding: rounding(rng),
                lo,
                hi,
            }),
            vec![Port::now(src)],
        )
    };
    // Projections by constants; K sometimes stored transposed.
    let wq = konst(&mut g, &mut rng, "wq", shape(c, d), 7);
    let q = tensor(
        &mut g,
        "q",
        TensorOp::IntMatmul {
            ta: false,
            tb: false,
        },
        vec![Port::now(x), Port::now(wq)],
    );
    let k_t = rng.random_bool(0.5);
    let wk = konst(
        &mut g,
        &mut rng,
        "wk",
        if k_t { shape(d, c) } else { shape(c, d) },
        7,
    );
    let k = tensor(
        &mut g,
        "k",
        if k_t {
            TensorOp::IntMatmul {
                ta: false,
                tb: true,
            }
        } else {
            TensorOp::IntMatmul {
                ta: false,
                tb: false,
            }
        },
        vec![Port::now(x), Port::now(wk)],
    );
    let qr = requant(&mut g, &mut rng, "qr", q, -8, 7);
    let kr = requant(&mut g, &mut rng, "kr", k, -8, 7);
    let scores = tensor(
        &mut g,
        "scores",
        TensorOp::IntMatmul {
            ta: false,
            tb: true,
        },
        vec![Port::now(qr), Port::now(kr)],
    );
    // exp[d] ~ 2^e exp(-rate d), to a random length.
    let (e, rate) = (rng.random_range(4..=16u32), rng.random_range(0.05..2.0f64));
    let len = rng.random_range(1..=24usize);
    let exp: Vec<i64> = (0..len)
        .map(|i| ((1i64 << e) as f64 * (-rate * i as f64).exp()).round() as i64)
        .collect();
    let frac = rng.random_range(0..=8u32);
    let hi = rng.random_range(0..=1i64 << frac);
    let p = tensor(
        &mut g,
        "p",
        TensorOp::Softmax(Softmax { exp, frac, hi }),
        vec![Port::now(scores)],
    );
    // Values: a spike input projected (a spike operand of the integer matmul).
    let s = g.add("s", Op::Input, vec![], Type::new(Elem::Spike, shape(t, c)));
    let wv = konst(&mut g, &mut rng, "wv", shape(c, d), 7);
    let v = tensor(
        &mut g,
        "v",
        TensorOp::IntMatmul {
            ta: false,
            tb: false,
        },
        vec![Port::now(s), Port::now(wv)],
    );
    let ctx = tensor(
        &mut g,
        "ctx",
        TensorOp::IntMatmul {
            ta: false,
            tb: false,
        },
        vec![Port::now(p), Port::now(v)],
    );
    let mut bshape = shape(1, d);
    if heads.is_some() && rng.random_bool(0.5) {
        bshape[0] = 1;
    }
    let bias = konst(&mut g, &mut rng, "bias", bshape, 20);
    let sum = tensor(
        &mut g,
        "sum",
        TensorOp::Add,
        vec![Port::now(ctx), Port::now(bias)],
    );
    let per = |rng: &mut ChaCha8Rng, m: i64| -> Vec<i64> {
        let n = if rng.random_bool(0.5) { 1 } else { d };
        (0..n).map(|_| rng.random_range(-m..=m)).collect()
    };
    let lo = rng.random_range(-40..=0i64);
    let ln = LayerNorm {
        eps: rng.random_range(1..=200),
        frac: rng.random_range(0..=12),
        mul: per(&mut rng, 300),
        add: per(&mut rng, 5000),
        shift: rng.random_range(0..=14),
        rounding: rounding(&mut rng),
        lo,
        hi: rng.random_range(lo..=lo + 80),
    };
    let norm = tensor(
        &mut g,
        "norm",
        TensorOp::LayerNorm(ln),
        vec![Port::now(sum)],
    );
    for (name, id) in [("out_p", p), ("out_norm", norm), ("out_scores", scores)] {
        let ty = g.node(id).ty.clone();
        g.add(name, Op::Output, vec![Port::now(id)], ty);
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_spike_transformers_are_valid_and_cover_every_tensor_operator() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..300 {
            let g = random_spike_transformer(seed);
            crate::ir::verify::verify(&g).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let stim = crate::cosim::stimulus::random_for(&g, 1, 3, 0.5, seed);
            crate::golden::run(&g, &stim).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            for n in &g.nodes {
                if let Op::Tensor(t) = &n.op {
                    seen.insert(t.keyword());
                }
            }
        }
        assert_eq!(seen.len(), 7, "{seen:?}");
    }

    #[test]
    fn random_int_transformers_are_valid_and_run() {
        for seed in 0..300 {
            let g = random_int_transformer(seed);
            crate::ir::verify::verify(&g).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let stim = crate::cosim::stimulus::random_for(&g, 1, 2, 0.5, seed);
            crate::golden::run(&g, &stim).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
    }
}
