//! The golden model: a bit-exact executor of the integer IR, the reference the RTL must match.
//!
//! Values are held as `i64` per element (spikes as 0/1). Every state update follows
//! [`IntNeuron`]'s equations; without `saturate` a value outside its declared width is reported
//! as an error, since the quantiser promised it cannot happen.

pub mod float;

use crate::ir::{Compare, Graph, IntNeuron, NodeId, Op, Reset};
use crate::quant::interval::decay;

/// Stimulus: samples of timesteps; each step is the concatenation of all input nodes' elements.
/// State is cleared between samples (the stream's `tlast`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stimulus {
    pub samples: Vec<Vec<Vec<i64>>>,
}

impl Stimulus {
    pub fn steps(&self) -> usize {
        self.samples.iter().map(|s| s.len()).sum()
    }
}

/// Every node's value at every step, over all samples in order: `values[node][step][elem]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub values: Vec<Vec<Vec<i64>>>,
}

/// An invariant the quantiser promised was broken.
#[derive(Debug, thiserror::Error)]
#[error("golden model: node '{node}', neuron {neuron}, step {step}: {message}")]
pub struct GoldenError {
    pub node: String,
    pub neuron: usize,
    pub step: usize,
    pub message: String,
}

/// The state of one integer neuron layer.
#[derive(Clone, Debug)]
struct LayerState {
    syn: Vec<i64>,
    v: Vec<i64>,
}

/// Runs the integer graph on the stimulus.
pub fn run(g: &Graph, stim: &Stimulus) -> Result<Trace, GoldenError> {
    let n = g.nodes.len();
    let inputs = g.inputs();
    let mut values: Vec<Vec<Vec<i64>>> = vec![Vec::with_capacity(stim.steps()); n];
    let fresh = |g: &Graph| -> Vec<Option<LayerState>> {
        g.nodes
            .iter()
            .map(|nd| match &nd.op {
                Op::IntNeuron(nr) => Some(LayerState {
                    syn: vec![0; nr.len()],
                    v: vec![0; nr.len()],
                }),
                _ => None,
            })
            .collect()
    };
    let mut step_no = 0;
    for sample in &stim.samples {
        let mut state = fresh(g);
        // Previous step's values, for delayed ports; zero before the first step.
        let mut prev: Vec<Vec<i64>> = g.nodes.iter().map(|nd| vec![0; nd.ty.len()]).collect();
        for beat in sample {
            let mut cur: Vec<Vec<i64>> = Vec::with_capacity(n);
            let mut offset = 0;
            for id in g.ids() {
                let node = g.node(id);
                let len = node.ty.len();
                // Inputs are summed elementwise; they share one length (verified).
                let in_len = node.inputs.first().map_or(len, |p| g.node(p.node).ty.len());
                let sum = |cur: &Vec<Vec<i64>>| -> Vec<i64> {
                    let mut acc = vec![0i64; in_len];
                    for p in &node.inputs {
                        let src = if p.delayed {
                            &prev[p.node.index()]
                        } else {
                            &cur[p.node.index()]
                        };
                        for (a, b) in acc.iter_mut().zip(src) {
                            *a += *b;
                        }
                    }
                    acc
                };
                let val = match &node.op {
                    Op::Input => {
                        let _ = inputs.iter().position(|&i| i == id);
                        let v = beat
                            .get(offset..offset + len)
                            .map(|s| s.to_vec())
                            .unwrap_or_else(|| vec![0; len]);
                        offset += len;
                        v
                    }
                    Op::Output => sum(&cur),
                    Op::Dense(d) => {
                        let x = sum(&cur);
                        let (rows, cols) = d.weight.dims2();
                        (0..rows)
                            .map(|r| {
                                let row = &d.weight.data[r * cols..(r + 1) * cols];
                                d.bias[r]
                                    + row
                                        .iter()
                                        .zip(&x)
                                        .filter(|(_, &s)| s != 0)
                                        .map(|(w, _)| *w)
                                        .sum::<i64>()
                            })
                            .collect()
                    }
                    Op::IntNeuron(nr) => {
                        let x = sum(&cur);
                        let st = state[id.index()]
                            .as_mut()
                            .expect("state exists for every neuron");
                        step_neuron(nr, st, &x).map_err(|(neuron, message)| GoldenError {
                            node: node.name.clone(),
                            neuron,
                            step: step_no,
                            message,
                        })?
                    }
                    _ => {
                        return Err(GoldenError {
                            node: node.name.clone(),
                            neuron: 0,
                            step: step_no,
                            message: "float operator in an integer graph".into(),
                        })
                    }
                };
                cur.push(val);
            }
            for (id, v) in cur.iter().enumerate() {
                values[id].push(v.clone());
            }
            prev = cur;
            step_no += 1;
        }
    }
    Ok(Trace { values })
}

fn clamp_or_check(v: i64, bits: u32, saturate: bool, what: &str) -> Result<i64, String> {
    let (lo, hi) = crate::ir::signed_range(bits);
    if saturate {
        Ok(v.clamp(lo, hi))
    } else if v < lo || v > hi {
        Err(format!("{what} {v} overflows {bits} bits"))
    } else {
        Ok(v)
    }
}

// Parallel per-neuron arrays are indexed together; an index reads clearer than a zip of six.
#[allow(clippy::needless_range_loop)]
/// One timestep of one neuron layer; returns the layer's output (spikes or membranes).
fn step_neuron(
    nr: &IntNeuron,
    st: &mut LayerState,
    x: &[i64],
) -> Result<Vec<i64>, (usize, String)> {
    let f = nr.frac_bits;
    let mut out = Vec::with_capacity(nr.len());
    for j in 0..nr.len() {
        let u = if nr.kind.has_synapse() {
            let s = decay(st.syn[j] as i128, nr.syn_decay[j], f) as i64 + x[j];
            let s = clamp_or_check(s, nr.syn_bits, nr.saturate, "synaptic current")
                .map_err(|m| (j, m))?;
            st.syn[j] = s;
            s
        } else {
            x[j]
        };
        let pre = decay(st.v[j] as i128, nr.mem_decay[j], f) as i64 + u + nr.bias[j];
        let (spike, next) = if nr.kind.spikes() {
            let fire = match nr.compare {
                Compare::Gt => pre > nr.threshold[j],
                Compare::Ge => pre >= nr.threshold[j],
            };
            let next = match (fire, nr.reset) {
                (false, _) => pre,
                (true, Reset::Zero) => nr.v_reset[j],
                (true, Reset::Subtract) => pre - nr.threshold[j],
            };
            (fire as i64, next)
        } else {
            (0, pre)
        };
        let next =
            clamp_or_check(next, nr.mem_bits, nr.saturate, "membrane").map_err(|m| (j, m))?;
        st.v[j] = next;
        out.push(if nr.kind.spikes() { spike } else { next });
    }
    Ok(out)
}

/// Node ids whose traces are worth comparing (everything but inputs).
pub fn traced_nodes(g: &Graph) -> Vec<NodeId> {
    g.ids()
        .filter(|&i| !matches!(g.node(i).op, Op::Input))
        .collect()
}
