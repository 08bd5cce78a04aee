//! The float reference: NIR's continuous-time neurons stepped by forward Euler with `dt`.
//!
//! `v += dt/tau * (v_leak - v + r*I)` (IF and I: `v += r*I`; Threshold: `v = I`, no memory);
//! CubaLIF and CubaLI update their synaptic current
//! `i += dt/tau_syn * (w_in*I - i)` first and feeds `r*i`. Spike when `v > v_threshold`
//! (or `>=`), then reset to `v_reset` or subtract the threshold.

use super::Stimulus;
use crate::ir::linear::{linear_map, LinearMap};
use crate::ir::{Compare, FloatNeuron, Graph, NeuronKind, Op, Reset};

/// Every node's value per step (spikes as 0.0/1.0): `values[node][step][elem]`.
#[derive(Clone, Debug)]
pub struct FloatTrace {
    pub values: Vec<Vec<Vec<f64>>>,
}

/// Runs a float-stage graph. Integer operators are not accepted (use the golden model).
pub fn run(g: &Graph, stim: &Stimulus, dt: f64) -> Result<FloatTrace, String> {
    let n = g.nodes.len();
    let mut values: Vec<Vec<Vec<f64>>> = vec![Vec::new(); n];
    // Convolution and pooling run as their explicit (sparse) matrices, built once.
    let maps: Vec<Option<LinearMap>> = g
        .nodes
        .iter()
        .map(|nd| match &nd.op {
            Op::Conv(_) | Op::Pool(_) => {
                let in_len = nd.inputs.first().map_or(0, |p| g.node(p.node).ty.len());
                linear_map(&nd.op, in_len)
            }
            _ => None,
        })
        .collect();
    for sample in &stim.samples {
        let mut syn: Vec<Vec<f64>> = g.nodes.iter().map(|nd| vec![0.0; nd.ty.len()]).collect();
        let mut mem = syn.clone();
        let mut prev = syn.clone();
        let mut hist: Vec<std::collections::VecDeque<Vec<f64>>> = vec![Default::default(); n];
        for beat in sample {
            let mut cur: Vec<Vec<f64>> = Vec::with_capacity(n);
            let mut offset = 0;
            for id in g.ids() {
                let node = g.node(id);
                let len = node.ty.len();
                let mut x: Vec<f64> =
                    vec![0.0; g.node(node.inputs.first().map_or(id, |p| p.node)).ty.len()];
                for p in &node.inputs {
                    let src = if p.delayed {
                        &prev[p.node.index()]
                    } else {
                        &cur[p.node.index()]
                    };
                    for (a, b) in x.iter_mut().zip(src) {
                        *a += *b;
                    }
                }
                let val = match &node.op {
                    Op::Input => {
                        let v: Vec<f64> = (0..len)
                            .map(|i| beat.get(offset + i).copied().unwrap_or(0) as f64)
                            .collect();
                        offset += len;
                        v
                    }
                    Op::Output => x,
                    Op::Affine { weight, bias } => {
                        matvec(weight.dims2(), &weight.data, &x, Some(bias))
                    }
                    Op::Linear { weight } => matvec(weight.dims2(), &weight.data, &x, None),
                    Op::Scale { scale } => x.iter().zip(scale).map(|(a, b)| a * b).collect(),
                    Op::Neuron(nr) => step(nr, &mut syn[id.index()], &mut mem[id.index()], &x, dt),
                    Op::Conv(_) | Op::Pool(_) => match &maps[id.index()] {
                        Some(m) => m.apply(&x),
                        None => return Err(format!("node '{}': invalid window", node.name)),
                    },
                    Op::Delay { delay } => {
                        let steps: Vec<i64> =
                            delay.iter().map(|d| (d / dt).round() as i64).collect();
                        super::step_delay(&mut hist[id.index()], x, &steps)
                    }
                    // Exact integer operators inside a float graph (spike-driven attention): run
                    // on the integer values they always carry.
                    Op::Tensor(t) => {
                        let ins: Vec<&crate::ir::Type> =
                            node.inputs.iter().map(|p| &g.node(p.node).ty).collect();
                        let xs: Vec<Vec<i64>> = node
                            .inputs
                            .iter()
                            .map(|p| {
                                let v = if p.delayed {
                                    &prev[p.node.index()]
                                } else {
                                    &cur[p.node.index()]
                                };
                                v.iter().map(|&f| f.round() as i64).collect()
                            })
                            .collect();
                        let xs: Vec<&[i64]> = xs.iter().map(Vec::as_slice).collect();
                        t.eval(&ins, &xs).into_iter().map(|v| v as f64).collect()
                    }
                    Op::MultiThreshold(mt) => {
                        let n = x.len();
                        x.iter()
                            .enumerate()
                            .map(|(e, &v)| mt.eval(e, n, v.floor() as i64) as f64)
                            .collect()
                    }
                    other => {
                        return Err(format!(
                            "node '{}': {} is not a float operator",
                            node.name,
                            other.keyword()
                        ))
                    }
                };
                cur.push(val);
            }
            for (i, v) in cur.iter().enumerate() {
                values[i].push(v.clone());
            }
            prev = cur;
        }
    }
    Ok(FloatTrace { values })
}

fn matvec((rows, cols): (usize, usize), w: &[f64], x: &[f64], bias: Option<&Vec<f64>>) -> Vec<f64> {
    (0..rows)
        .map(|r| {
            let b = bias.map_or(0.0, |b| b[r]);
            b + w[r * cols..(r + 1) * cols]
                .iter()
                .zip(x)
                .map(|(a, b)| a * b)
                .sum::<f64>()
        })
        .collect()
}

fn step(nr: &FloatNeuron, syn: &mut [f64], v: &mut [f64], x: &[f64], dt: f64) -> Vec<f64> {
    (0..nr.len())
        .map(|j| {
            let u = if nr.kind.has_synapse() {
                syn[j] += dt / nr.tau_syn[j] * (nr.w_in[j] * x[j] - syn[j]);
                syn[j]
            } else {
                x[j]
            };
            let cmp = |v: f64| match nr.compare {
                Compare::Gt => v > nr.v_threshold[j],
                Compare::Ge => v >= nr.v_threshold[j],
            };
            // snnTorch-style delayed reset: decided by the previous step's membrane.
            let fired_before = nr.kind.spikes() && nr.reset.delayed() && cmp(v[j]);
            v[j] = match nr.kind {
                NeuronKind::If | NeuronKind::I => v[j] + nr.r[j] * u,
                NeuronKind::Threshold => u,
                _ => v[j] + dt / nr.tau_mem[j] * (nr.v_leak[j] - v[j] + nr.r[j] * u),
            };
            if !nr.kind.spikes() {
                return v[j];
            }
            if fired_before {
                v[j] = match nr.reset {
                    Reset::SubtractNext => v[j] - nr.v_threshold[j],
                    _ => nr.v_reset[j],
                };
            }
            let fire = cmp(v[j]);
            if fire {
                match nr.reset {
                    Reset::Zero => v[j] = nr.v_reset[j],
                    Reset::Subtract => v[j] -= nr.v_threshold[j],
                    Reset::ZeroNext | Reset::SubtractNext => {}
                }
            }
            fire as u8 as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Port, Tensor, Type};

    pub(super) fn one_neuron(nr: FloatNeuron) -> Graph {
        let ty = if nr.kind.spikes() {
            Type::spike(1)
        } else {
            Type::real(1)
        };
        let mut g = Graph::new("f");
        let i = g.add("in", Op::Input, vec![], Type::spike(1));
        let w = Tensor::new(vec![1, 1], vec![0.5]);
        let fc = g.add(
            "fc",
            Op::Linear { weight: w },
            vec![Port::now(i)],
            Type::real(1),
        );
        let n = g.add("n", Op::Neuron(nr), vec![Port::now(fc)], ty.clone());
        g.add("out", Op::Output, vec![Port::now(n)], ty);
        g
    }

    pub(super) fn run_ones(g: &Graph, steps: usize) -> Vec<f64> {
        let stim = Stimulus {
            samples: vec![vec![vec![1]; steps]],
        };
        run(g, &stim, 1e-4).unwrap().values[3]
            .iter()
            .map(|v| v[0])
            .collect()
    }

    #[test]
    fn lif_follows_forward_euler() {
        // dt/tau = 1/4, r = 4, I = 0.5: v = 0.5, 0.875, 1.15625 > 1 fires.
        let mut nr = FloatNeuron::neutral(NeuronKind::Lif, 1);
        nr.tau_mem = vec![4e-4];
        nr.r = vec![4.0];
        assert_eq!(run_ones(&one_neuron(nr), 3), vec![0.0, 0.0, 1.0]);
    }

    #[test]
    fn cuba_lif_updates_its_current_first() {
        // i = 0.25, then 0.25 + 1/2 (0.5 - 0.25) = 0.375 (w_in = 1, I = 0.5, dt/tau_syn = 1/2);
        // v = 1/4 * 4 * 0.25 = 0.25, then 0.25 + 1/4 (-0.25 + 1.5) = 0.5625; threshold 0.5 fires
        // at the second step, not the first.
        let mut nr = FloatNeuron::neutral(NeuronKind::CubaLif, 1);
        nr.tau_syn = vec![2e-4];
        nr.tau_mem = vec![4e-4];
        nr.r = vec![4.0];
        nr.v_threshold = vec![0.5];
        assert_eq!(run_ones(&one_neuron(nr), 2), vec![0.0, 1.0]);
    }

    #[test]
    fn if_neuron_integrates_r_times_input_and_subtracts() {
        // r = 2, I = 0.5: v = 1, 2 > 1.5 fires -> 0.5, 1.5 (not > 1.5), 2.5 fires.
        let mut nr = FloatNeuron::neutral(NeuronKind::If, 1);
        nr.r = vec![2.0];
        nr.v_threshold = vec![1.5];
        nr.reset = Reset::Subtract;
        assert_eq!(run_ones(&one_neuron(nr), 4), vec![0.0, 1.0, 0.0, 1.0]);
    }
}

#[cfg(test)]
mod other_kinds {
    use super::*;

    /// The neuron's outputs with an input spike every step (through weight 0.5).
    fn outputs(nr: FloatNeuron, steps: usize) -> Vec<f64> {
        super::tests::run_ones(&super::tests::one_neuron(nr), steps)
    }

    #[test]
    fn integrator_adds_r_times_input() {
        let mut nr = FloatNeuron::neutral(NeuronKind::I, 1);
        nr.r = vec![2.0];
        assert_eq!(outputs(nr, 3), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn leaky_integrator_and_cuba_li_output_their_membranes() {
        // LI, dt/tau = 1/4, r = 4, I = 0.5: 0.5, then 0.5 + (2 - 0.5)/4 = 0.875.
        let mut li = FloatNeuron::neutral(NeuronKind::Li, 1);
        li.tau_mem = vec![4e-4];
        li.r = vec![4.0];
        assert_eq!(outputs(li, 2), vec![0.5, 0.875]);
        // CubaLI: i = 0.25, 0.375; v = 0.25, 0.25 + (4 * 0.375 - 0.25)/4 = 0.5625.
        let mut cuba = FloatNeuron::neutral(NeuronKind::CubaLi, 1);
        cuba.tau_syn = vec![2e-4];
        cuba.tau_mem = vec![4e-4];
        cuba.r = vec![4.0];
        assert_eq!(outputs(cuba, 2), vec![0.25, 0.5625]);
    }

    #[test]
    fn threshold_compares_each_step_strictly() {
        let mut t = FloatNeuron::neutral(NeuronKind::Threshold, 1);
        t.v_threshold = vec![0.4];
        assert_eq!(outputs(t.clone(), 2), vec![1.0, 1.0]);
        t.v_threshold = vec![0.5];
        assert_eq!(outputs(t, 2), vec![0.0, 0.0]);
    }
}

#[cfg(test)]
mod delayed_reset {
    use super::*;

    #[test]
    fn float_reference_resets_one_step_late() {
        // IF, r = 2, I = 0.5 (one per step), threshold 1.5, snnTorch subtract:
        // v = 1, 2 (fires), 2 + 1 - 1.5 = 1.5 (not > 1.5), 2.5 (fires), 2.5 + 1 - 1.5 = 2 (fires).
        let mut nr = FloatNeuron::neutral(NeuronKind::If, 1);
        nr.r = vec![2.0];
        nr.v_threshold = vec![1.5];
        nr.reset = Reset::SubtractNext;
        let g = super::tests::one_neuron(nr);
        assert_eq!(super::tests::run_ones(&g, 5), vec![0.0, 1.0, 0.0, 1.0, 1.0]);
    }
}
