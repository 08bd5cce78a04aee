//! Automatic per-layer architectures under a latency budget (cycles per timestep).
//!
//! Cycles are exact (the schedule the RTL keeps), so the choice is too: every free layer starts
//! as folded as it goes (one accumulator), and while the schedule is over budget the layer
//! taking the most cycles gets more accumulators (lanes), and finally becomes a parallel
//! stage. Fewer lanes mean less logic, so this keeps each layer as small as the budget allows.

use super::{folded, LayerArch, AUTO_FOLD_SYNAPSES};
use crate::ir::{Graph, NodeId, Op};
use serde::Serialize;
use std::collections::BTreeMap;

/// What the choice decided and why.
#[derive(Clone, Debug, Serialize)]
pub struct Choice {
    pub layers: BTreeMap<String, LayerArch>,
    /// Cycles per timestep of the chosen schedule.
    pub cycles: u64,
    pub budget: u64,
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

/// Chooses the layers not in `fixed` so that a timestep takes at most `budget` cycles.
pub fn for_latency(
    g: &Graph,
    budget: u64,
    fixed: &BTreeMap<String, LayerArch>,
) -> Result<Choice, String> {
    let layers: Vec<NodeId> = g
        .ids()
        .filter(|&id| matches!(g.node(id).op, Op::IntNeuron(_)))
        .collect();
    let opts: Vec<Vec<(LayerArch, u64)>> = layers
        .iter()
        .map(|&id| match fixed.get(&g.node(id).name) {
            Some(&a) => {
                let syns: Vec<NodeId> = g.node(id).inputs.iter().map(|p| p.node).collect();
                let c = match a {
                    LayerArch::Parallel => 2,
                    LayerArch::Folded { reuse } => folded::schedule(g, &syns, reuse)
                        .map(|x| x.0)
                        .unwrap_or(u64::MAX / 4),
                    LayerArch::Event => folded::schedule(g, &syns, None)
                        .map(|x| x.0)
                        .unwrap_or(u64::MAX / 4),
                };
                vec![(a, c)]
            }
            None => options(g, id),
        })
        .collect();
    let mut at = vec![0usize; layers.len()];
    let total = |at: &[usize]| -> u64 {
        let all_parallel = at
            .iter()
            .zip(&opts)
            .all(|(&k, o)| o[k].0 == LayerArch::Parallel);
        if all_parallel {
            1
        } else {
            // Accept and hand-over around the layers, as the top level schedules them.
            3 + at.iter().zip(&opts).map(|(&k, o)| o[k].1).sum::<u64>()
        }
    };
    let mut notes = Vec::new();
    while total(&at) > budget {
        // The slowest layer that can still go faster.
        let Some(i) = (0..layers.len())
            .filter(|&i| at[i] + 1 < opts[i].len())
            .max_by_key(|&i| (opts[i][at[i]].1, std::cmp::Reverse(i)))
        else {
            let fastest = total(&at);
            let names: Vec<String> = layers
                .iter()
                .zip(&at)
                .zip(&opts)
                .map(|((&id, &k), o)| format!("{} {} ({} cycles)", g.node(id).name, o[k].0, o[k].1))
                .collect();
            return Err(format!(
                "no schedule meets {budget} cycles per timestep: the fastest takes {fastest} ({})",
                names.join(", ")
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
    Ok(Choice {
        layers: layers
            .iter()
            .zip(&at)
            .zip(&opts)
            .map(|((&id, &k), o)| (g.node(id).name.clone(), o[k].0))
            .collect(),
        cycles: total(&at),
        budget,
        notes,
    })
}
