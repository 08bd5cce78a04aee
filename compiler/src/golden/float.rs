//! The float reference: NIR's continuous-time neurons stepped by forward Euler with `dt`.
//!
//! `v += dt/tau * (v_leak - v + r*I)` (IF: `v += r*I`); CubaLIF updates its synaptic current
//! `i += dt/tau_syn * (w_in*I - i)` first and feeds `r*i`. Spike when `v > v_threshold`
//! (or `>=`), then reset to `v_reset` or subtract the threshold.

use super::Stimulus;
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
    for sample in &stim.samples {
        let mut syn: Vec<Vec<f64>> = g.nodes.iter().map(|nd| vec![0.0; nd.ty.len()]).collect();
        let mut mem = syn.clone();
        let mut prev = syn.clone();
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
            let u = if nr.kind == NeuronKind::CubaLif {
                syn[j] += dt / nr.tau_syn[j] * (nr.w_in[j] * x[j] - syn[j]);
                syn[j]
            } else {
                x[j]
            };
            v[j] = match nr.kind {
                NeuronKind::If => v[j] + nr.r[j] * u,
                _ => v[j] + dt / nr.tau_mem[j] * (nr.v_leak[j] - v[j] + nr.r[j] * u),
            };
            if !nr.kind.spikes() {
                return v[j];
            }
            let fire = match nr.compare {
                Compare::Gt => v[j] > nr.v_threshold[j],
                Compare::Ge => v[j] >= nr.v_threshold[j],
            };
            if fire {
                v[j] = match nr.reset {
                    Reset::Zero => nr.v_reset[j],
                    Reset::Subtract => v[j] - nr.v_threshold[j],
                };
            }
            fire as u8 as f64
        })
        .collect()
}
