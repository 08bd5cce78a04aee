//! `spikeforge estimate`: LUT, FF, DSP and BRAM of a compiled design from the shipped surrogate
//! weights (`targets/surrogate/<family>.json`), per layer and in total, with the schedule's exact
//! cycles. No synthesis: the terms are counted from the IR and the backend's records, and the
//! model is linear in them, so each layer's share is its own terms times the weights.

use super::{features, predict, HeldOut, Model};
use crate::flow::Compiled;
use crate::ir::Op;
use crate::synth::target::Target;
use serde::Serialize;

/// Weights trained per target family (Yosys counts do not depend on the device's size).
pub(crate) const SHIPPED: [(&str, &str); 2] = [
    ("xc7", include_str!("../../../targets/surrogate/xc7.json")),
    (
        "ice40",
        include_str!("../../../targets/surrogate/ice40.json"),
    ),
];

/// The shipped weights for a target family, if any were trained.
pub fn shipped(family: &str) -> Option<Model> {
    let (_, text) = SHIPPED.iter().find(|(f, _)| *f == family)?;
    serde_json::from_str::<Model>(text).ok().map(Model::aligned)
}

#[derive(Clone, Debug, Serialize)]
pub struct LayerEstimate {
    pub node: String,
    /// The operator's `.sfir` keyword (`top` for the top level's own logic).
    pub kind: String,
    pub arch: Option<String>,
    pub lut: f64,
    pub ff: f64,
    pub dsp: f64,
    pub bram: f64,
    pub cycles: Option<u64>,
    /// State bits of a neuron layer (membrane, synaptic current); value bits of others.
    pub bits: Option<u32>,
    /// Weights and how many are nonzero, for layers that hold weights.
    pub weights: Option<(usize, usize)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Estimate {
    pub target: String,
    pub family: String,
    /// Designs the weights were fitted to, and the Yosys that synthesised them.
    pub trained_on: usize,
    pub yosys: String,
    /// Largest held-out-family median error of LUT and FF (percent): how far to trust it.
    pub lut_error_median: f64,
    pub ff_error_median: f64,
    pub layers: Vec<LayerEstimate>,
    pub lut: f64,
    pub ff: f64,
    pub dsp: f64,
    /// In the target's block RAM unit (36 Kb on Xilinx, 4 Kb on iCE40).
    pub bram: f64,
    /// Percent of the device: LUT, FF, DSP, BRAM.
    pub utilisation: [f64; 4],
    pub cycles_per_step: u64,
    pub clock_mhz: f64,
    pub latency_us_per_step: f64,
    /// Terms this design has that no training design had (hardware the surrogate never saw
    /// synthesised): its cost is missing from the figures above.
    pub unseen: Vec<String>,
    /// Terms this design has more than [`BEYOND`] times as much of as any training design:
    /// their cost is extrapolated.
    pub beyond: Vec<String>,
}

/// Estimates `c` on target `t`; an error names the family when no weights were trained for it.
pub fn estimate(c: &Compiled, t: &Target) -> Result<Estimate, String> {
    let m = shipped(&t.family).ok_or_else(|| {
        let have: Vec<&str> = SHIPPED.iter().map(|(f, _)| *f).collect();
        format!(
            "no surrogate weights for target family '{}' ({}): trained for {}; `spikeforge synth` measures it with Yosys",
            t.family,
            t.name,
            have.join(", ")
        )
    })?;
    Ok(estimate_with(c, t, &m))
}

/// Estimates `c` on target `t` with the weights `m`.
pub fn estimate_with(c: &Compiled, t: &Target, m: &Model) -> Estimate {
    let g = &c.int;
    let rows = features::per_layer(c);
    // The design's total of each term against the training designs' largest.
    let total = |k: usize| rows.iter().map(|(_, r)| r[k]).sum::<f64>();
    let check = |keep: &dyn Fn(f64, Option<f64>) -> bool| -> Vec<String> {
        if m.seen.is_empty() {
            return Vec::new();
        }
        features::TERMS
            .iter()
            .enumerate()
            .filter(|(k, t)| keep(total(*k), m.seen.get(**t).copied()))
            .map(|(_, t)| t.to_string())
            .collect()
    };
    let unseen = check(&|v, most| v > 0.0 && most.is_none());
    let beyond = check(&|v, most| most.is_some_and(|most| v > BEYOND * most));
    let mut layers: Vec<LayerEstimate> = rows
        .into_iter()
        .map(|(node, terms)| {
            let id = g.find(&node);
            let op = id.map(|id| &g.node(id).op);
            let weights = match op {
                Some(Op::Dense(d)) => Some(&d.weight.data),
                Some(Op::IntConv(cv)) => Some(&cv.conv.weight.data),
                _ => None,
            }
            .map(|w| (w.len(), w.iter().filter(|&&x| x != 0).count()));
            let layer = c.design.layers.iter().find(|l| l.0 == node);
            let bits = id.and_then(|id| match &g.node(id).op {
                Op::IntNeuron(nr) => Some(nr.state_bits()),
                _ => g.node(id).ty.elem_bits(),
            });
            LayerEstimate {
                kind: op.map_or("top", |o| o.keyword()).to_string(),
                arch: layer.map(|l| l.1.to_string()),
                cycles: layer.map(|l| l.2),
                lut: predict(&m.lut, &terms).max(0.0),
                ff: predict(&m.ff, &terms).max(0.0),
                dsp: predict(&m.dsp, &terms).max(0.0),
                bram: predict(&m.bram, &terms).max(0.0),
                weights,
                bits,
                node,
            }
        })
        .collect();
    // Weight nodes folded into the neuron layer that reads them have no terms of their own.
    layers.retain(|l| l.lut + l.ff + l.dsp + l.bram > 0.0 || l.kind == "top");
    let sum = |f: fn(&LayerEstimate) -> f64| layers.iter().map(f).sum::<f64>();
    let (lut, ff) = (sum(|l| l.lut).round(), sum(|l| l.ff).round());
    let (dsp, bram) = (
        sum(|l| l.dsp).round(),
        (2.0 * sum(|l| l.bram)).round() / 2.0,
    );
    let capacity = [
        t.luts as f64,
        t.ffs as f64,
        t.dsps as f64,
        (t.bram36 + t.bram_18k + t.bram_4k) as f64,
    ];
    let mut utilisation = [0.0; 4];
    for (u, (v, cap)) in utilisation
        .iter_mut()
        .zip([lut, ff, dsp, bram].iter().zip(capacity))
    {
        *u = if cap > 0.0 { 100.0 * v / cap } else { 0.0 };
    }
    let worst = |f: fn(&HeldOut) -> f64| m.held_out.iter().map(f).fold(0.0, f64::max);
    let cycles = c.design.cycles_per_step;
    Estimate {
        target: t.name.clone(),
        family: t.family.clone(),
        trained_on: m.trained_on,
        yosys: m.yosys.clone(),
        lut_error_median: worst(|h| h.lut.0),
        ff_error_median: worst(|h| h.ff.0),
        layers,
        lut,
        ff,
        dsp,
        bram,
        utilisation,
        cycles_per_step: cycles,
        clock_mhz: t.default_clock_mhz,
        latency_us_per_step: cycles as f64 / t.default_clock_mhz,
        unseen,
        beyond,
    }
}

/// How far past the training data a term may go before the estimate calls itself
/// extrapolated.
pub const BEYOND: f64 = 2.0;

#[cfg(test)]
mod tests {
    use super::*;

    /// A design with hardware outside the weights' training data, or far more of it than they
    /// saw, gets those terms named; one within it none.
    #[test]
    fn hardware_the_weights_never_saw_is_named() {
        let g = crate::ir::text::parse(
            "graph g {
  %in: spike[3] = input
  %fc: real[2] = linear(%in) {weight = <2x3>[0.5, -0.25, 1.0, 0.75, 0.0, -1.0]}
  %n: spike[2] = lif(%fc) {tau_mem = [0.002; 2], r = [10.0; 2], v_leak = [0.0; 2], v_threshold = [1.0; 2], v_reset = [0.0; 2], reset = zero, compare = gt}
  %out: spike[2] = output(%n)
}",
        )
        .expect("parses");
        let c = crate::flow::compile(g, &Default::default()).expect("compiles");
        let t = crate::synth::target::load("xc7a35t").expect("target");
        let mut m = shipped("xc7").expect("shipped");
        assert!(estimate_with(&c, &t, &m).unseen.is_empty());
        assert!(estimate_with(&c, &t, &m).beyond.is_empty());
        m.seen.remove("parallel_state_bits");
        assert_eq!(
            estimate_with(&c, &t, &m).unseen,
            vec!["parallel_state_bits"]
        );
        // Far more of a term than any training design had is extrapolation.
        m.seen.insert("io_bits".into(), 1.0);
        assert_eq!(estimate_with(&c, &t, &m).beyond, vec!["io_bits"]);
    }
}
