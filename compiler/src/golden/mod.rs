//! The golden model: a bit-exact executor of the integer IR, the reference the RTL must match.
//!
//! Values are held as `i64` per element (spikes as 0/1). Every state update follows
//! [`IntNeuron`]'s equations; without `saturate` a value outside its declared width is reported
//! as an error, since the quantiser promised it cannot happen.

pub mod float;

use crate::ir::{Compare, Graph, IntNeuron, NodeId, Op, Reset};
use crate::quant::interval::decay;
use std::collections::VecDeque;

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
    /// Neuron layers' stored membranes after each step, `membranes[node][step][neuron]`
    /// (empty for other nodes): what the report's membrane plots show.
    pub membranes: Vec<Vec<Vec<i64>>>,
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
    /// Delay lines: this sample's past inputs, newest first.
    hist: VecDeque<Vec<i64>>,
}

/// `y[j] = x[t - steps[j]]`, zero before the sample has that many steps. `hist` keeps the
/// inputs of the longest delay, newest first.
pub fn step_delay<T: Copy + Default>(
    hist: &mut VecDeque<Vec<T>>,
    x: Vec<T>,
    steps: &[i64],
) -> Vec<T> {
    let keep = (steps.iter().copied().max().unwrap_or(0).max(0) as usize).saturating_add(1);
    hist.push_front(x);
    hist.truncate(keep);
    steps
        .iter()
        .enumerate()
        .map(|(j, &s)| hist.get(s as usize).map_or(T::default(), |v| v[j]))
        .collect()
}

/// Runs the integer graph on the stimulus.
pub fn run(g: &Graph, stim: &Stimulus) -> Result<Trace, GoldenError> {
    let n = g.nodes.len();
    let inputs = g.inputs();
    let mut values: Vec<Vec<Vec<i64>>> = vec![Vec::with_capacity(stim.steps()); n];
    let mut membranes: Vec<Vec<Vec<i64>>> = vec![Vec::new(); n];
    let fresh = |g: &Graph| -> Vec<Option<LayerState>> {
        g.nodes
            .iter()
            .map(|nd| match &nd.op {
                Op::IntNeuron(nr) => Some(LayerState {
                    syn: vec![0; nr.len()],
                    v: vec![0; nr.len()],
                    hist: VecDeque::new(),
                }),
                Op::IntDelay { .. } => Some(LayerState {
                    syn: vec![],
                    v: vec![],
                    hist: VecDeque::new(),
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
                        // Only nonzero inputs contribute (spikes: the weight itself; integers:
                        // weight times value): visit those columns alone.
                        let active: Vec<usize> = (0..cols).filter(|&i| x[i] != 0).collect();
                        (0..rows)
                            .map(|r| {
                                let row = &d.weight.data[r * cols..(r + 1) * cols];
                                d.bias[r] + active.iter().map(|&i| row[i] * x[i]).sum::<i64>()
                            })
                            .collect()
                    }
                    Op::IntConv(ic) => {
                        let x = sum(&cur);
                        let c = &ic.conv;
                        let per = len / c.bias.len().max(1);
                        let mut y: Vec<i64> = (0..len).map(|j| c.bias[j / per]).collect();
                        c.for_each_tap(|row, i, k| {
                            if x[i] != 0 {
                                y[row] += c.weight.data[k];
                            }
                        });
                        y
                    }
                    Op::IntNeuron(nr) => {
                        let x = sum(&cur);
                        let st = state[id.index()]
                            .as_mut()
                            .expect("state exists for every neuron");
                        let y =
                            step_neuron(nr, st, &x).map_err(|(neuron, message)| GoldenError {
                                node: node.name.clone(),
                                neuron,
                                step: step_no,
                                message,
                            })?;
                        membranes[id.index()].push(st.v.clone());
                        y
                    }
                    Op::MultiThreshold(mt) => {
                        let x = sum(&cur);
                        let n = x.len();
                        x.iter()
                            .enumerate()
                            .map(|(e, &v)| mt.eval(e, n, v))
                            .collect()
                    }
                    Op::Tensor(t) => {
                        let ins: Vec<&crate::ir::Type> =
                            node.inputs.iter().map(|p| &g.node(p.node).ty).collect();
                        let xs: Vec<&[i64]> = node
                            .inputs
                            .iter()
                            .map(|p| {
                                if p.delayed {
                                    prev[p.node.index()].as_slice()
                                } else {
                                    cur[p.node.index()].as_slice()
                                }
                            })
                            .collect();
                        t.eval(&ins, &xs)
                    }
                    Op::IntDelay { steps } => {
                        let x = sum(&cur);
                        let st = state[id.index()]
                            .as_mut()
                            .expect("state exists for every delay");
                        step_delay(&mut st.hist, x, steps)
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
    Ok(Trace { values, membranes })
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
        let cmp = |v: i64| match nr.compare {
            Compare::Gt => v > nr.threshold[j],
            Compare::Ge => v >= nr.threshold[j],
        };
        // A delayed reset acts on the step after the spike, which the stored state shows.
        let fired_before = nr.kind.spikes() && nr.reset.delayed() && cmp(st.v[j]);
        let pre = decay(st.v[j] as i128, nr.mem_decay[j], f) as i64 + u + nr.bias[j];
        let pre = match (fired_before, nr.reset) {
            (true, Reset::SubtractNext) => pre - nr.threshold[j],
            (true, _) => nr.v_reset[j],
            (false, _) => pre,
        };
        let (spike, next) = if nr.kind.spikes() {
            let fire = cmp(pre);
            let next = match (fire, nr.reset) {
                (true, Reset::Zero) => nr.v_reset[j],
                (true, Reset::Subtract) => pre - nr.threshold[j],
                _ => pre,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{IntDense, NeuronKind, Port, Tensor, Type};

    /// input(1) -> dense(weight w) -> neuron -> output, with the neuron built by `nr`.
    pub(super) fn single(w: i64, nr: IntNeuron) -> Graph {
        let mut g = Graph::new("t");
        let i = g.add("in", Op::Input, vec![], Type::spike(1));
        let d = g.add(
            "fc",
            Op::Dense(IntDense {
                weight: Tensor::new(vec![1, 1], vec![w]),
                bias: vec![0],
                scale: vec![1.0],
            }),
            vec![Port::now(i)],
            Type::fix(16, 1),
        );
        let ty = if nr.kind.spikes() {
            Type::spike(1)
        } else {
            Type::fix(nr.mem_bits, 1)
        };
        let n = g.add("n", Op::IntNeuron(nr), vec![Port::now(d)], ty.clone());
        g.add("out", Op::Output, vec![Port::now(n)], ty);
        crate::ir::verify::verify(&g).unwrap();
        g
    }

    pub(super) fn neuron(kind: NeuronKind, decay: i64, threshold: i64, reset: Reset) -> IntNeuron {
        IntNeuron {
            kind,
            reset,
            compare: Compare::Gt,
            frac_bits: 12,
            syn_decay: vec![0],
            mem_decay: vec![decay],
            bias: vec![0],
            threshold: vec![threshold],
            v_reset: vec![0],
            syn_bits: 16,
            mem_bits: 16,
            saturate: false,
            scale: vec![1.0],
        }
    }

    pub(super) fn outputs(g: &Graph, steps: &[i64]) -> Vec<i64> {
        let stim = Stimulus {
            samples: vec![steps.iter().map(|&s| vec![s]).collect()],
        };
        let t = run(g, &stim).unwrap();
        t.values[g.outputs()[0].index()]
            .iter()
            .map(|v| v[0])
            .collect()
    }

    #[test]
    fn integrate_and_fire_counts_to_its_threshold() {
        // v = 1, 2, 3, 4 > 3 fires and resets to 0, then 1, 2.
        let g = single(1, neuron(NeuronKind::If, 0, 3, Reset::Zero));
        assert_eq!(outputs(&g, &[1, 1, 1, 1, 1, 1]), vec![0, 0, 0, 1, 0, 0]);
    }

    #[test]
    fn leaky_membrane_halves_with_floor() {
        // Leak 1/2 (2048/4096), input 8: v = 8, 8 - 4 + 8 = 12, 12 - 6 + 8 = 14, then no input:
        // 14 - 7 = 7, 7 - 3 = 4 (floor(3.5) = 3).
        let g = single(8, neuron(NeuronKind::Li, 2048, 0, Reset::Zero));
        assert_eq!(outputs(&g, &[1, 1, 1, 0, 0]), vec![8, 12, 14, 7, 4]);
    }

    #[test]
    fn subtractive_reset_keeps_the_excess() {
        // IF, threshold 5, input 4: v = 4, 8 > 5 fires -> 3, 7 fires -> 2, 6 fires -> 1.
        let g = single(4, neuron(NeuronKind::If, 0, 5, Reset::Subtract));
        assert_eq!(outputs(&g, &[1, 1, 1, 1]), vec![0, 1, 1, 1]);
    }

    #[test]
    fn cuba_current_decays_before_feeding_the_membrane() {
        // syn: 10, 10 - 5 + 10 = 15; v (no leak): 10, 25. Threshold 30 is never crossed.
        let mut nr = neuron(NeuronKind::CubaLif, 0, 30, Reset::Zero);
        nr.syn_decay = vec![2048];
        let g = single(10, nr);
        let stim = Stimulus {
            samples: vec![vec![vec![1], vec![1], vec![1]]],
        };
        let t = run(&g, &stim).unwrap();
        // Step 2: syn = 15 - 7 + 10 = 18, v = 25 + 18 = 43 > 30 fires.
        let out: Vec<i64> = t.values[3].iter().map(|v| v[0]).collect();
        assert_eq!(out, vec![0, 0, 1]);
    }

    #[test]
    fn state_clears_between_samples() {
        let g = single(1, neuron(NeuronKind::If, 0, 2, Reset::Zero));
        let sample: Vec<Vec<i64>> = vec![vec![1]; 3];
        let stim = Stimulus {
            samples: vec![sample.clone(), sample],
        };
        let t = run(&g, &stim).unwrap();
        let out: Vec<i64> = t.values[3].iter().map(|v| v[0]).collect();
        assert_eq!(out, vec![0, 0, 1, 0, 0, 1]);
    }

    #[test]
    fn overflow_without_saturation_is_reported_and_saturation_clamps() {
        let mut nr = neuron(NeuronKind::Li, 0, 0, Reset::Zero);
        nr.mem_bits = 4;
        let g = single(5, nr.clone());
        let stim = Stimulus {
            samples: vec![vec![vec![1]; 3]],
        };
        let e = run(&g, &stim).unwrap_err();
        assert_eq!((e.node.as_str(), e.step), ("n", 1));
        nr.saturate = true;
        let g = single(5, nr);
        assert_eq!(outputs(&g, &[1, 1, 1]), vec![5, 7, 7]);
    }
}

#[cfg(test)]
mod more_kinds {
    use super::*;
    use crate::ir::NeuronKind;

    /// `tests::single` with a neuron of `kind` (synaptic leak 1/2), spiking input `steps`.
    fn run_kind(kind: NeuronKind, decay: i64, threshold: i64, w: i64, steps: &[i64]) -> Vec<i64> {
        let mut nr = super::tests::neuron(kind, decay, threshold, Reset::Zero);
        nr.syn_decay = vec![2048];
        super::tests::outputs(&super::tests::single(w, nr), steps)
    }

    #[test]
    fn threshold_has_no_memory() {
        // Decay 1 (4096/4096): the membrane is just this step's input; 5 > 4 fires each time.
        assert_eq!(
            run_kind(NeuronKind::Threshold, 4096, 4, 5, &[1, 0, 1, 1]),
            vec![1, 0, 1, 1]
        );
        assert_eq!(
            run_kind(NeuronKind::Threshold, 4096, 5, 5, &[1, 1]),
            vec![0, 0]
        );
    }

    #[test]
    fn integrator_accumulates_without_spiking() {
        assert_eq!(
            run_kind(NeuronKind::I, 0, 0, 3, &[1, 1, 0, 1]),
            vec![3, 6, 6, 9]
        );
    }

    #[test]
    fn cuba_li_outputs_its_membrane() {
        // syn (leak 1/2): 4, 4 - 2 + 4 = 6, 6 - 3 = 3; v (no leak): 4, 10, 13.
        assert_eq!(
            run_kind(NeuronKind::CubaLi, 0, 0, 4, &[1, 1, 0]),
            vec![4, 10, 13]
        );
    }
}

#[cfg(test)]
mod delay_tests {
    use super::*;

    #[test]
    fn delay_lines_shift_by_their_own_lengths() {
        let mut hist = VecDeque::new();
        let steps = [0, 1, 3];
        let out: Vec<Vec<i64>> = (1..=5)
            .map(|t| step_delay(&mut hist, vec![t, t, t], &steps))
            .collect();
        // Element 0 passes through, element 1 lags one step, element 2 three (zero before).
        assert_eq!(
            out,
            vec![
                vec![1, 0, 0],
                vec![2, 1, 0],
                vec![3, 2, 0],
                vec![4, 3, 1],
                vec![5, 4, 2]
            ]
        );
        assert!(hist.len() <= 4);
    }
}

#[cfg(test)]
mod contract_tests {
    use super::*;
    use crate::ir::{IntDense, NeuronKind, Port, Tensor, Type};

    fn if_neuron(compare: Compare, threshold: i64) -> IntNeuron {
        let mut nr = super::tests::neuron(NeuronKind::If, 0, threshold, Reset::Zero);
        nr.compare = compare;
        nr
    }

    fn dense(w: i64) -> Op {
        Op::Dense(IntDense {
            weight: Tensor::new(vec![1, 1], vec![w]),
            bias: vec![0],
            scale: vec![1.0],
        })
    }

    /// in -> fc(w=2) -> n, plus a recurrent fc(w=5) from n's previous spike; returns n's spikes
    /// and the recurrent layer's values.
    fn recurrent(compare: Compare, steps: usize) -> (Vec<i64>, Vec<i64>) {
        let mut g = Graph::new("r");
        let i = g.add("in", Op::Input, vec![], Type::spike(1));
        let fc = g.add("fc", dense(2), vec![Port::now(i)], Type::fix(8, 1));
        // The recurrent weight layer reads node 3 (the neuron) one step late.
        let rec = g.add(
            "rec",
            dense(5),
            vec![Port::prev(crate::ir::NodeId(3))],
            Type::fix(8, 1),
        );
        let n = g.add(
            "n",
            Op::IntNeuron(if_neuron(compare, 4)),
            vec![Port::now(fc), Port::now(rec)],
            Type::spike(1),
        );
        g.add("out", Op::Output, vec![Port::now(n)], Type::spike(1));
        crate::ir::verify::verify(&g).unwrap();
        let stim = Stimulus {
            samples: vec![vec![vec![1]; steps]],
        };
        let t = run(&g, &stim).unwrap();
        let col = |k: usize| t.values[k].iter().map(|v| v[0]).collect::<Vec<i64>>();
        (col(3), col(2))
    }

    #[test]
    fn delayed_ports_read_zero_first_then_the_previous_step_and_inputs_sum() {
        // v: 2, 4 (not > 4), 6 fires -> 0. The recurrent layer sees that spike one step later
        // (5 at step 3, zero before), so v = 0 + 2 + 5 = 7 fires again, and keeps firing.
        let (spikes, rec) = recurrent(Compare::Gt, 5);
        assert_eq!(rec, vec![0, 0, 0, 5, 5]);
        assert_eq!(spikes, vec![0, 0, 1, 1, 1]);
    }

    #[test]
    fn greater_or_equal_fires_at_the_threshold() {
        // v: 2, then 4 >= 4 fires one step earlier than with `>`; from then on 2 + 5 = 7 fires.
        let (spikes, _) = recurrent(Compare::Ge, 5);
        assert_eq!(spikes, vec![0, 1, 1, 1, 1]);
    }
}

#[cfg(test)]
mod delayed_reset_tests {
    use super::*;
    use crate::ir::NeuronKind;

    fn spikes(reset: Reset) -> (Vec<i64>, Vec<i64>) {
        let nr = super::tests::neuron(NeuronKind::If, 0, 4, reset);
        let g = super::tests::single(3, nr);
        let stim = Stimulus {
            samples: vec![vec![vec![1]; 5]],
        };
        let t = run(&g, &stim).unwrap();
        let col = |k: usize| t.values[k].iter().map(|v| v[0]).collect::<Vec<i64>>();
        (col(3), col(2))
    }

    #[test]
    fn subtract_next_follows_snntorch() {
        // snnTorch: U[t] = U[t-1] + I - [U[t-1] > 4] * 4 with I = 3: 3, 6, 5, 4, 7.
        assert_eq!(spikes(Reset::SubtractNext).0, vec![0, 1, 1, 0, 1]);
    }

    #[test]
    fn zero_next_drops_the_step_after_a_spike() {
        // snnTorch: U[t] = (1 - [U[t-1] > 4]) * (U[t-1] + I): 3, 6, 0, 3, 6.
        assert_eq!(spikes(Reset::ZeroNext).0, vec![0, 1, 0, 0, 1]);
        // Immediate reset for comparison: 3, 6 -> 0, 3, 6 -> 0, 3.
        assert_eq!(spikes(Reset::Zero).0, vec![0, 1, 0, 1, 0]);
    }
}
