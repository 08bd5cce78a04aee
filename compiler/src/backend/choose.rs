//! Automatic per-layer architectures under a latency budget (cycles per timestep) and a LUT
//! budget.
//!
//! Cycles are exact (the schedule the RTL keeps), so a latency-only choice is too: every free
//! layer starts as folded as it goes (one accumulator), and while the schedule is over budget
//! the layer taking the most cycles gets more accumulators (lanes), and finally becomes a
//! parallel stage. Fewer lanes mean less logic, so this keeps each layer as small as the budget
//! allows. Under a LUT budget ([`for_luts`]) the layers start as fast as they go and, while the
//! estimate ([`crate::estimate`]) is over budget, the step that saves the most LUTs per added
//! cycle is taken.

use super::{folded, LayerArch, AUTO_FOLD_SYNAPSES};
use crate::estimate;
use crate::ir::{Graph, NodeId, Op};
use serde::Serialize;
use std::collections::BTreeMap;

/// What the choice decided and why.
#[derive(Clone, Debug, Serialize)]
pub struct Choice {
    pub layers: BTreeMap<String, LayerArch>,
    /// Cycles per timestep of the chosen schedule.
    pub cycles: u64,
    /// The latency budget (cycles per timestep), if one was given.
    pub budget: Option<u64>,
    /// The LUT budget, if one was given.
    pub lut_budget: Option<u64>,
    /// Estimated LUTs of the chosen design ([`crate::estimate`]).
    pub estimated_luts: u64,
    /// One line per decision: which constraint bound, and where.
    pub notes: Vec<String>,
}

/// One layer's options, slowest first: (architecture, cycles as a stage of the schedule).
fn options(g: &Graph, id: NodeId) -> Vec<(LayerArch, u64)> {
    let node = g.node(id);
    let syns: Vec<NodeId> = node.inputs.iter().map(|p| p.node).collect();
    let mut out: Vec<(LayerArch, u64)> = Vec::new();
    if !node.inputs.iter().any(|p| p.delayed) && folded::schedule(g, &syns, None).is_ok() {
        // One option per distinct lane count, from one accumulator up to the most.
        let channels = syns
            .first()
            .and_then(|&s| match &g.node(s).op {
                Op::Dense(d) => Some(d.weight.dims2().0),
                Op::IntConv(c) => Some(c.conv.weight.shape[0]),
                _ => None,
            })
            .unwrap_or(1);
        let mut seen = Vec::new();
        for lanes in 1..=folded::MAX_LANES.min(channels) {
            let r = channels.div_ceil(lanes);
            if let Ok((cyc, l)) = folded::schedule(g, &syns, Some(r)) {
                if !seen.contains(&l) {
                    seen.push(l);
                    out.push((LayerArch::Folded { reuse: Some(r) }, cyc));
                }
            }
        }
    }
    let synapses: usize = syns
        .iter()
        .map(|&s| {
            super::weight_rows(&g.node(s).op)
                .0
                .iter()
                .map(Vec::len)
                .sum::<usize>()
        })
        .sum();
    // Huge layers stay out of logic: their hardwired blocks would take hours to synthesise.
    if synapses <= AUTO_FOLD_SYNAPSES || out.is_empty() {
        out.push((LayerArch::Parallel, 2));
    }
    out.sort_by_key(|o| std::cmp::Reverse(o.1));
    out
}

/// The neuron layers of `g` and, per layer, its options slowest first (a layer in `fixed` has
/// one).
fn table(
    g: &Graph,
    fixed: &BTreeMap<String, LayerArch>,
) -> (Vec<NodeId>, Vec<Vec<(LayerArch, u64)>>) {
    let layers: Vec<NodeId> = g
        .ids()
        .filter(|&id| match &g.node(id).op {
            Op::IntNeuron(_) | Op::MultiThreshold(_) => true,
            Op::Tensor(t) => t.sequential(),
            _ => false,
        })
        .collect();
    let opts = layers
        .iter()
        .map(|&id| match (&g.node(id).op, fixed.get(&g.node(id).name)) {
            // A multi-cycle tensor unit: serial, or hardwired rows when asked for.
            (Op::Tensor(t), a) => {
                let ins: Vec<&crate::ir::Type> = g
                    .node(id)
                    .inputs
                    .iter()
                    .map(|p| &g.node(p.node).ty)
                    .collect();
                match a {
                    Some(&LayerArch::Parallel) => vec![(
                        LayerArch::Parallel,
                        super::tensor_seq::rows_latency(ins[0]) + 1,
                    )],
                    _ => vec![(LayerArch::Serial, super::tensor_seq::latency(t, &ins) + 1)],
                }
            }
            // A multi-threshold stage: its units' variant, one option.
            (Op::MultiThreshold(mt), a) => {
                let v = match a {
                    Some(&LayerArch::Unit(v)) => v,
                    _ => super::ramp::Variant::Parallel,
                };
                let c = super::threshold_units(g, id, mt, v)
                    .map(|(units, _)| super::unit_stage_cycles(&units))
                    .unwrap_or(u64::MAX / 8);
                vec![(LayerArch::Unit(v), c)]
            }
            (_, Some(&a)) => {
                let syns: Vec<NodeId> = g.node(id).inputs.iter().map(|p| p.node).collect();
                let c = match a {
                    LayerArch::Parallel => 2,
                    LayerArch::Pipelined { levels } => super::pipelined_stage_cycles(g, id, levels),
                    LayerArch::Folded { reuse } => folded::schedule(g, &syns, reuse)
                        .map(|x| x.0)
                        .unwrap_or(u64::MAX / 4),
                    LayerArch::Event => folded::event_schedule(g, &syns).unwrap_or(u64::MAX / 4),
                    LayerArch::Unit(_) | LayerArch::Serial => u64::MAX / 4,
                };
                vec![(a, c)]
            }
            (_, None) => options(g, id),
        })
        .collect();
    (layers, opts)
}

/// Cycles per timestep of the schedule with option `at[i]` for layer `i`.
fn total_cycles(at: &[usize], opts: &[Vec<(LayerArch, u64)>]) -> u64 {
    if at
        .iter()
        .zip(opts)
        .all(|(&k, o)| o[k].0 == LayerArch::Parallel)
    {
        1
    } else {
        // Accept and hand-over around the layers, as the top level schedules them.
        3 + at.iter().zip(opts).map(|(&k, o)| o[k].1).sum::<u64>()
    }
}

fn described(g: &Graph, layers: &[NodeId], at: &[usize], opts: &[Vec<(LayerArch, u64)>]) -> String {
    layers
        .iter()
        .zip(at)
        .zip(opts)
        .map(|((&id, &k), o)| format!("{} {} ({} cycles)", g.node(id).name, o[k].0, o[k].1))
        .collect::<Vec<_>>()
        .join(", ")
}

fn chosen(
    g: &Graph,
    layers: &[NodeId],
    at: &[usize],
    opts: &[Vec<(LayerArch, u64)>],
) -> BTreeMap<String, LayerArch> {
    layers
        .iter()
        .zip(at)
        .zip(opts)
        .map(|((&id, &k), o)| (g.node(id).name.clone(), o[k].0))
        // Serial is the tensor units' default: nothing to pass on.
        .filter(|(_, a)| *a != LayerArch::Serial)
        .collect()
}

/// Estimated LUTs per layer and option, in the shape of `opts`.
fn lut_table(
    g: &Graph,
    layers: &[NodeId],
    opts: &[Vec<(LayerArch, u64)>],
) -> Result<Vec<Vec<f64>>, String> {
    layers
        .iter()
        .zip(opts)
        .map(|(&id, o)| {
            o.iter()
                .map(|&(a, _)| estimate::layer_luts(g, id, a))
                .collect()
        })
        .collect()
}

fn total_luts(at: &[usize], luts: &[Vec<f64>]) -> u64 {
    let sum: f64 = at.iter().zip(luts).map(|(&k, l)| l[k]).sum();
    (sum + estimate::top_luts()).round() as u64
}

/// Chooses the layers not in `fixed` for the fewest cycles per timestep whose estimated LUTs
/// fit in `lut_budget` (and, if given, within `max_cycles`). Says which constraint binds, or
/// why none can be met.
pub fn for_luts(
    g: &Graph,
    lut_budget: u64,
    max_cycles: Option<u64>,
    fixed: &BTreeMap<String, LayerArch>,
) -> Result<Choice, String> {
    let (layers, opts) = table(g, fixed);
    let luts = lut_table(g, &layers, &opts)?;
    // Fastest first; then, while over budget, the step saving the most LUTs per added cycle.
    let mut at: Vec<usize> = opts.iter().map(|o| o.len() - 1).collect();
    let mut notes = Vec::new();
    // The estimate's worst error on the designs it was fitted to is about 10%: aim below the
    // budget by that much, so the synthesised design fits too.
    let target = (lut_budget as f64 * (1.0 - estimate::MARGIN)) as u64;
    while total_luts(&at, &luts) > target {
        // Any slower option of any layer may be the step (a layer's options are not ordered
        // by size: a parallel block can be smaller than a wide folded core).
        let step = (0..layers.len())
            .flat_map(|i| (0..at[i]).map(move |k| (i, k)))
            .map(|(i, k)| {
                let saved = luts[i][at[i]] - luts[i][k];
                let added = opts[i][k].1.saturating_sub(opts[i][at[i]].1).max(1);
                (i, k, saved / added as f64)
            })
            .filter(|&(_, _, gain)| gain > 0.0)
            .max_by(|a, b| a.2.total_cmp(&b.2).then(b.0.cmp(&a.0)).then(b.1.cmp(&a.1)));
        let Some((i, k, _)) = step else {
            return Err(format!(
                "no design fits {lut_budget} LUTs: the smallest is estimated at {} ({}; the \
                 choice keeps {:.0}% below the budget for the estimate's error)",
                total_luts(&at, &luts),
                described(g, &layers, &at, &opts),
                100.0 * estimate::MARGIN
            ));
        };
        at[i] = k;
    }
    // Big steps can leave room: spend it where it saves the most cycles.
    loop {
        let speedup = (0..layers.len())
            .flat_map(|i| (at[i] + 1..opts[i].len()).map(move |k| (i, k)))
            .filter(|&(i, k)| {
                let mut t = at.clone();
                t[i] = k;
                total_luts(&t, &luts) <= target && opts[i][k].1 < opts[i][at[i]].1
            })
            .max_by_key(|&(i, k)| (opts[i][at[i]].1 - opts[i][k].1, std::cmp::Reverse(i)));
        match speedup {
            Some((i, k)) => at[i] = k,
            None => break,
        }
    }
    let cycles = total_cycles(&at, &opts);
    let estimated = total_luts(&at, &luts);
    if let Some(max) = max_cycles {
        if cycles > max {
            return Err(format!(
                "no design meets both {max} cycles per timestep and {lut_budget} LUTs: the \
                 fastest within {lut_budget} LUTs (estimated {estimated}) takes {cycles} cycles ({})",
                described(g, &layers, &at, &opts)
            ));
        }
    }
    for ((&id, &k), o) in layers.iter().zip(&at).zip(&opts) {
        if k + 1 < o.len() {
            let last = o.len() - 1;
            notes.push(format!(
                "LUT budget binds at '{}': {} ({} cycles) instead of {} ({} cycles)",
                g.node(id).name,
                o[k].0,
                o[k].1,
                o[last].0,
                o[last].1
            ));
        }
    }
    if notes.is_empty() {
        notes.push(format!(
            "LUT budget does not bind: every layer is as fast as it goes (estimated {estimated} LUTs)"
        ));
    }
    Ok(Choice {
        layers: chosen(g, &layers, &at, &opts),
        cycles,
        budget: max_cycles,
        lut_budget: Some(lut_budget),
        estimated_luts: estimated,
        notes,
    })
}

/// Chooses the layers not in `fixed` so that a timestep takes at most `budget` cycles.
pub fn for_latency(
    g: &Graph,
    budget: u64,
    fixed: &BTreeMap<String, LayerArch>,
) -> Result<Choice, String> {
    let (layers, opts) = table(g, fixed);
    let mut at = vec![0usize; layers.len()];
    let mut notes = Vec::new();
    while total_cycles(&at, &opts) > budget {
        // The slowest layer that can still go faster.
        let Some(i) = (0..layers.len())
            .filter(|&i| at[i] + 1 < opts[i].len())
            .max_by_key(|&i| (opts[i][at[i]].1, std::cmp::Reverse(i)))
        else {
            return Err(format!(
                "no schedule meets {budget} cycles per timestep: the fastest takes {} ({})",
                total_cycles(&at, &opts),
                described(g, &layers, &at, &opts)
            ));
        };
        at[i] += 1;
    }
    for ((&id, &k), o) in layers.iter().zip(&at).zip(&opts) {
        if k > 0 {
            notes.push(format!(
                "latency binds at '{}': {} ({} cycles) instead of {} ({} cycles)",
                g.node(id).name,
                o[k].0,
                o[k].1,
                o[0].0,
                o[0].1
            ));
        }
    }
    if notes.is_empty() {
        notes.push("latency does not bind: every layer is as folded as it goes".into());
    }
    // Only the chosen options: a parallel option's estimate runs the optimiser.
    let picked: Vec<Vec<(LayerArch, u64)>> =
        at.iter().zip(&opts).map(|(&k, o)| vec![o[k]]).collect();
    let luts = lut_table(g, &layers, &picked)?;
    Ok(Choice {
        layers: chosen(g, &layers, &at, &opts),
        cycles: total_cycles(&at, &opts),
        estimated_luts: total_luts(&vec![0; at.len()], &luts),
        budget: Some(budget),
        lut_budget: None,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{quantise, QuantOptions};
    use crate::testgen::{random_snn, RandomSnn};

    fn int_graph(seed: u64) -> Graph {
        let g = random_snn(seed, &RandomSnn::default());
        quantise(&g, &QuantOptions::default()).expect("quantises").0
    }

    #[test]
    fn lut_budgets_are_met_by_the_estimate_and_loose_ones_give_the_fastest_schedule() {
        let none = BTreeMap::new();
        for seed in 0..3 {
            let g = int_graph(seed);
            let roomy = for_luts(&g, u64::MAX / 2, None, &none).expect("no budget binds");
            assert!(
                roomy.notes[0].contains("does not bind"),
                "{:?}",
                roomy.notes
            );
            // The smallest design: no budget below it is accepted.
            let tight = match for_luts(&g, 0, None, &none) {
                Err(e) => e,
                Ok(c) => panic!("seed {seed}: 0 LUTs accepted ({c:?})"),
            };
            let smallest: u64 = tight
                .split("estimated at ")
                .nth(1)
                .and_then(|t| t.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{tight}"));
            assert!(smallest <= roomy.estimated_luts);
            // The least budget whose margin holds the smallest design.
            let floor = (smallest as f64 / (1.0 - estimate::MARGIN)).ceil() as u64 + 1;
            for k in 0..=4 {
                let budget = floor + (roomy.estimated_luts - smallest) * k / 4;
                let c = for_luts(&g, budget, None, &none)
                    .unwrap_or_else(|e| panic!("seed {seed}, {budget} LUTs: {e}"));
                let target = budget as f64 * (1.0 - estimate::MARGIN);
                assert!(c.estimated_luts as f64 <= target, "seed {seed}: {c:?}");
                assert!(
                    c.cycles >= roomy.cycles,
                    "nothing beats the unconstrained choice"
                );
            }
            let c = for_luts(&g, 2 * roomy.estimated_luts, None, &none).unwrap();
            assert_eq!(c.cycles, roomy.cycles);
            // With a latency budget too: both hold, or the refusal names both.
            match for_luts(&g, floor, Some(1), &none) {
                Ok(c) => assert!(c.cycles <= 1 && c.estimated_luts <= floor),
                Err(e) => assert!(e.contains("no design meets both"), "{e}"),
            }
        }
    }
}
