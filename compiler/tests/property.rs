//! Always-right RTL, by property: random graphs of every operator the hardware supports (dense
//! and convolutional SNN layers of every neuron kind, recurrence, delays, pooling, multi-
//! threshold units), random quantisation and per-layer architectures, and random or extreme
//! stimuli (every input spiking, none, alternating) go through the whole flow; the Verilator
//! run must match the golden model at every node and step.
//!
//! Designs are simulated in batches (one Verilator build for many designs: one build each would
//! take most of CI's time). Generation and shrinking are proptest's: when a design fails, its
//! spec is shrunk on its own, one design per build, and the smallest failing spec is reported.
//! Set `SPIKEFORGE_PROPTEST_SEED` to explore other graphs than CI's fixed seed.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use spikeforge::backend::{ramp, tensor_seq, Arch, LayerArch};
use spikeforge::cosim::{self, stimulus, Case};
use spikeforge::flow::{self, Compiled};
use spikeforge::golden::{self, Stimulus};
use spikeforge::ir::{self, Graph, Op};
use spikeforge::quant::QuantOptions;
use spikeforge::synth;
use spikeforge::testgen::{
    random_conv_snn, random_int_mlp, random_int_transformer, random_multi_threshold, random_snn,
    random_spike_transformer, RandomSnn,
};
use std::collections::BTreeMap;
use std::path::Path;

const BATCHES: usize = 10;
const PER_BATCH: usize = 21;

#[derive(Clone, Debug)]
enum Family {
    Dense {
        seed: u64,
        inputs: usize,
        width: usize,
        layers: usize,
    },
    Conv {
        seed: u64,
    },
    MultiThreshold {
        seed: u64,
    },
    /// A quantised ANN: integer inputs, dense layers on integers, quantised ReLUs.
    IntMlp {
        seed: u64,
    },
    /// Spike-driven attention: every weightless tensor operator.
    Tensor {
        seed: u64,
    },
    /// Integer attention: matmul, constants, softmax, LayerNorm (multi-cycle units).
    IntTensor {
        seed: u64,
    },
}

#[derive(Clone, Debug)]
enum Drive {
    /// Each input spikes with this probability (percent) each step.
    Rate(u32),
    /// Every input spikes every step: the largest sums, the saturation contract.
    All,
    /// No input ever spikes: leaks, biases and resets alone.
    Silent,
    /// All inputs on, then all off.
    Alternate,
}

#[derive(Clone, Debug)]
enum Layout {
    Parallel,
    Folded,
    /// Each layer its own architecture, chosen by this seed.
    Mixed(u64),
}

#[derive(Clone, Debug)]
struct Spec {
    family: Family,
    weight_bits: u32,
    frac_bits: u32,
    state_bits: u32,
    layout: Layout,
    drive: Drive,
    steps: usize,
}

fn spec() -> impl Strategy<Value = Spec> {
    let family = prop_oneof![
        6 => (any::<u64>(), 1..=24usize, 1..=48usize, 1..=4usize).prop_map(
            |(seed, inputs, width, layers)| Family::Dense { seed, inputs, width, layers }
        ),
        2 => any::<u64>().prop_map(|seed| Family::Conv { seed }),
        2 => any::<u64>().prop_map(|seed| Family::MultiThreshold { seed }),
        2 => any::<u64>().prop_map(|seed| Family::IntMlp { seed }),
        2 => any::<u64>().prop_map(|seed| Family::Tensor { seed }),
        2 => any::<u64>().prop_map(|seed| Family::IntTensor { seed }),
    ];
    let layout = prop_oneof![
        Just(Layout::Parallel),
        Just(Layout::Folded),
        any::<u64>().prop_map(Layout::Mixed),
    ];
    let drive = prop_oneof![
        4 => (0..=100u32).prop_map(Drive::Rate),
        1 => Just(Drive::All),
        1 => Just(Drive::Silent),
        1 => Just(Drive::Alternate),
    ];
    (
        family,
        2..=8u32,
        prop::sample::select(vec![8u32, 12, 16]),
        prop::sample::select(vec![10u32, 14, 32]),
        layout,
        drive,
        4..=24usize,
    )
        .prop_map(
            |(family, weight_bits, frac_bits, state_bits, layout, drive, steps)| Spec {
                family,
                weight_bits,
                frac_bits,
                state_bits,
                layout,
                drive,
                steps,
            },
        )
}

/// The graph of a spec, named uniquely within its batch (`tag`): the designs' modules are
/// named after their graphs.
fn graph(spec: &Spec, tag: usize) -> Graph {
    let mut g = match spec.family {
        Family::Dense {
            seed,
            inputs,
            width,
            layers,
        } => random_snn(
            seed,
            &RandomSnn {
                max_inputs: inputs,
                max_width: width,
                max_layers: layers,
                ..RandomSnn::default()
            },
        ),
        Family::Conv { seed } => random_conv_snn(seed),
        Family::MultiThreshold { seed } => random_multi_threshold(seed),
        Family::IntMlp { seed } => random_int_mlp(seed),
        Family::Tensor { seed } => random_spike_transformer(seed),
        Family::IntTensor { seed } => random_int_transformer(seed),
    };
    g.name = format!("p{tag}_{}", g.name);
    g
}

/// Per-layer architectures for a mixed layout: neuron layers from every core, multi-threshold
/// nodes from every ramp-family unit.
fn mixed_layers(g: &Graph, seed: u64) -> BTreeMap<String, LayerArch> {
    let cores = [
        LayerArch::Parallel,
        LayerArch::Folded { reuse: None },
        LayerArch::Folded { reuse: Some(2) },
        LayerArch::Event,
        LayerArch::Pipelined { levels: 1 },
        LayerArch::Pipelined { levels: 2 },
    ];
    let units = [
        ramp::Variant::Ramp,
        ramp::Variant::Bsearch,
        ramp::Variant::Parallel,
        ramp::Variant::Rom,
    ];
    let mut k = seed;
    let mut next = |n: usize| {
        k = k
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (k >> 33) as usize % n
    };
    g.ids()
        .map(|id| (id, g.node(id)))
        .filter_map(|(id, n)| match n.op {
            Op::Neuron(_) => Some((n.name.clone(), cores[next(cores.len())])),
            Op::MultiThreshold(_) => {
                Some((n.name.clone(), LayerArch::Unit(units[next(units.len())])))
            }
            // Products by constants: serial, or hardwired rows.
            Op::Tensor(_) if tensor_seq::hardwired_operand(g, id).is_some() => Some((
                n.name.clone(),
                [LayerArch::Serial, LayerArch::Parallel][next(2)],
            )),
            _ => None,
        })
        .collect()
}

fn compile(spec: &Spec, g: &Graph) -> Compiled {
    let g = g.clone();
    ir::verify::verify(&g).unwrap_or_else(|e| panic!("{spec:?}: generated graph invalid: {e}"));
    let quant = QuantOptions {
        weight_bits: spec.weight_bits,
        frac_bits: spec.frac_bits,
        max_state_bits: spec.state_bits,
        ..QuantOptions::default()
    };
    let mut opt = flow::Options {
        quant,
        arch: match spec.layout {
            Layout::Parallel => Arch::Parallel,
            Layout::Folded => Arch::Folded,
            Layout::Mixed(_) => Arch::Auto,
        },
        ..flow::Options::default()
    };
    if let Layout::Mixed(seed) = spec.layout {
        opt.layers = mixed_layers(&g, seed);
    }
    match flow::compile_opts(g.clone(), &opt) {
        Ok(c) => c,
        // Event-driven cores need spikes straight into their weights (no delay between, one
        // ungrouped weight layer): where a layer cannot be one, it is folded instead.
        Err(e) if opt.layers.values().any(|a| *a == LayerArch::Event) => {
            for a in opt.layers.values_mut() {
                if *a == LayerArch::Event {
                    *a = LayerArch::Folded { reuse: None };
                }
            }
            flow::compile_opts(g, &opt)
                .unwrap_or_else(|e2| panic!("{spec:?}: {e2} (with event layers: {e})"))
        }
        Err(e) => panic!("{spec:?}: {e}"),
    }
}

/// The stimulus a spec asks for. Extremes drive every input to the top of its range (a spike,
/// or an integer's largest value) and, alternating, to the bottom (no spike, the most
/// negative integer): the largest and smallest sums the widths must hold.
fn stimulus_of(spec: &Spec, g: &Graph, seed: u64) -> Stimulus {
    let steps = spec.steps;
    let ranges = stimulus::input_ranges(g);
    let fixed = |pick: &dyn Fn(usize) -> bool| Stimulus {
        samples: (0..2)
            .map(|_| {
                (0..steps)
                    .map(|t| {
                        ranges
                            .iter()
                            .map(|&(lo, hi)| if pick(t) { hi } else { lo })
                            .collect()
                    })
                    .collect()
            })
            .collect(),
    };
    match spec.drive {
        Drive::Rate(p) => stimulus::random_for(g, 2, steps, p as f64 / 100.0, seed),
        Drive::All => fixed(&|_| true),
        Drive::Silent => stimulus::random_for(g, 2, steps, 0.0, seed),
        Drive::Alternate => fixed(&|t| t % 2 == 0),
    }
}

/// What the random designs exercised, so the suite cannot silently stop covering a feature.
#[derive(Default, Debug)]
struct Coverage {
    saturating_layers: usize,
    recurrent_edges: usize,
    delay_layers: usize,
    convolutions: usize,
    pools: usize,
    multi_thresholds: usize,
    integer_dense: usize,
    tensor_ops: std::collections::BTreeSet<&'static str>,
    neuron_kinds: std::collections::BTreeSet<&'static str>,
    architectures: std::collections::BTreeSet<String>,
}

impl Coverage {
    fn add(&mut self, source: &Graph, c: &Compiled) {
        self.pools += source
            .nodes
            .iter()
            .filter(|n| matches!(n.op, Op::Pool(_)))
            .count();
        for n in &c.int.nodes {
            match &n.op {
                Op::IntNeuron(nr) => {
                    self.saturating_layers += nr.saturate as usize;
                    self.neuron_kinds.insert(nr.kind.keyword());
                }
                Op::IntDelay { steps } => {
                    self.delay_layers += steps.iter().any(|&s| s > 0) as usize
                }
                Op::IntConv(_) => self.convolutions += 1,
                Op::MultiThreshold(_) => self.multi_thresholds += 1,
                Op::Tensor(t) => {
                    self.tensor_ops.insert(t.keyword());
                }
                Op::Dense(_) => {
                    self.integer_dense += n
                        .inputs
                        .iter()
                        .any(|p| matches!(c.int.node(p.node).ty.elem, ir::Elem::Fix { .. }))
                        as usize
                }
                _ => {}
            }
            self.recurrent_edges += n.inputs.iter().filter(|p| p.delayed).count();
        }
        for (name, arch, _) in &c.design.layers {
            let tensor = c
                .int
                .find(name)
                .is_some_and(|id| matches!(c.int.node(id).op, Op::Tensor(_)));
            self.architectures.insert(match arch {
                LayerArch::Parallel if tensor => "tensor rows".to_string(),
                LayerArch::Parallel => "parallel".to_string(),
                LayerArch::Folded { .. } => "folded".to_string(),
                LayerArch::Event => "event".to_string(),
                LayerArch::Pipelined { .. } => "pipelined".to_string(),
                LayerArch::Unit(v) => format!("unit {}", v.name()),
                LayerArch::Serial => "serial".to_string(),
            });
        }
    }
}

/// Lints, Yosys-checks and cosimulates the specs in one batch; returns, per spec, `None` when
/// it matched the golden model at every node and step, or what went wrong.
fn run_batch(specs: &[Spec], dir: &Path, seed: u64, cov: &mut Coverage) -> Vec<Option<String>> {
    let compiled: Vec<Compiled> = specs
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let g = graph(s, k);
            let c = compile(s, &g);
            cov.add(&g, &c);
            c
        })
        .collect();
    let stims: Vec<Stimulus> = specs
        .iter()
        .zip(&compiled)
        .enumerate()
        .map(|(k, (s, c))| stimulus_of(s, &c.int, seed + k as u64))
        .collect();
    let goldens: Vec<golden::Trace> = compiled
        .iter()
        .zip(&stims)
        .map(|(c, s)| golden::run(&c.int, s).expect("golden model"))
        .collect();
    let designs: Vec<&spikeforge::backend::Design> = compiled.iter().map(|c| &c.design).collect();
    let whole = cosim::batch_design(&designs).expect("batch");
    let rtl = cosim::write_rtl(&whole, &dir.join("rtl")).expect("write rtl");
    cosim::lint(&whole, &rtl).unwrap_or_else(|e| panic!("lint: {e}"));
    synth::check(&whole.top, &rtl).unwrap_or_else(|e| panic!("yosys: {e}"));
    let cases: Vec<Case> = (0..specs.len())
        .map(|k| Case {
            graph: &compiled[k].int,
            design: &compiled[k].design,
            stimulus: &stims[k],
            golden: &goldens[k],
        })
        .collect();
    let reports =
        cosim::run_batch(&cases, &dir.join("cosim"), seed).unwrap_or_else(|e| panic!("cosim: {e}"));
    reports
        .iter()
        .zip(&compiled)
        .map(|(r, c)| {
            if r.mismatches > 0 {
                Some(format!(
                    "{} mismatches, first {:?}",
                    r.mismatches, r.first_mismatch
                ))
            } else if r.values_compared == 0 {
                Some("nothing compared".into())
            } else if !c.design.data_dependent && r.max_latency_cycles != c.design.cycles_per_step {
                Some(format!(
                    "latency {} cycles, schedule says {}",
                    r.max_latency_cycles, c.design.cycles_per_step
                ))
            } else if r.max_latency_cycles > c.design.cycles_per_step {
                Some(format!(
                    "latency {} cycles above the bound {}",
                    r.max_latency_cycles, c.design.cycles_per_step
                ))
            } else {
                None
            }
        })
        .collect()
}

fn runner() -> TestRunner {
    let seed: u64 = std::env::var("SPIKEFORGE_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2026);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

/// Shrinks one failing spec, one design per build, and returns the smallest failing one.
/// `seed` is the one the design ran with in its batch, so the first candidate fails as it did.
fn shrink(
    tree: &mut impl ValueTree<Value = Spec>,
    mut why: String,
    dir: &Path,
    seed: u64,
) -> (Spec, String) {
    let mut best = tree.current();
    for step in 0..48 {
        if !tree.simplify() {
            break;
        }
        loop {
            let candidate = tree.current();
            let sub = dir.join(format!("shrink{step}"));
            let fails = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_batch(
                    std::slice::from_ref(&candidate),
                    &sub,
                    seed,
                    &mut Coverage::default(),
                )
            }))
            .map(|r| r[0].clone())
            .unwrap_or_else(|_| Some("panicked".into()));
            match fails {
                Some(w) => {
                    best = candidate;
                    why = w;
                    break;
                }
                None if tree.complicate() => continue,
                None => return (best, why),
            }
        }
    }
    (best, why)
}

#[test]
fn random_graphs_match_the_golden_model_in_verilator() {
    let mut runner = runner();
    let strategy = spec();
    let mut families = [0usize; 6];
    let mut extreme = 0;
    let mut total = 0;
    let mut cov = Coverage::default();
    for batch in 0..BATCHES {
        let mut trees: Vec<_> = (0..PER_BATCH)
            .map(|_| strategy.new_tree(&mut runner).expect("a spec"))
            .collect();
        let specs: Vec<Spec> = trees.iter().map(|t| t.current()).collect();
        for s in &specs {
            families[match s.family {
                Family::Dense { .. } => 0,
                Family::Conv { .. } => 1,
                Family::MultiThreshold { .. } => 2,
                Family::IntMlp { .. } => 3,
                Family::Tensor { .. } => 4,
                Family::IntTensor { .. } => 5,
            }] += 1;
            extreme += !matches!(s.drive, Drive::Rate(_)) as usize;
        }
        let dir = tempfile::tempdir().unwrap();
        let results = run_batch(&specs, dir.path(), batch as u64, &mut cov);
        total += specs.len();
        if let Some(k) = results.iter().position(Option::is_some) {
            let why = results[k].clone().unwrap_or_default();
            let (small, small_why) = shrink(
                &mut trees[k],
                why.clone(),
                dir.path(),
                batch as u64 + k as u64,
            );
            panic!(
                "batch {batch}, design {k}: {why}\n  spec: {:?}\n  shrunk to: {small:?}\n  which fails with: {small_why}",
                specs[k]
            );
        }
    }
    assert!(total >= 200, "only {total} graphs");
    // Every family and the extreme stimuli were exercised.
    assert!(families.iter().all(|&n| n >= 10), "families {families:?}");
    assert!(extreme >= 20, "only {extreme} extreme stimuli");
    let c = &cov;
    assert!(c.saturating_layers >= 10, "{c:?}");
    assert!(c.recurrent_edges >= 10, "{c:?}");
    assert!(c.delay_layers >= 5, "{c:?}");
    assert!(c.convolutions >= 10 && c.pools >= 5, "{c:?}");
    assert!(c.multi_thresholds >= 10, "{c:?}");
    assert!(c.integer_dense >= 10, "{c:?}");
    assert_eq!(c.tensor_ops.len(), 11, "{c:?}");
    assert_eq!(c.neuron_kinds.len(), 7, "{c:?}");
    // Every core and every multi-threshold unit.
    for a in [
        "parallel",
        "folded",
        "event",
        "pipelined",
        "unit ramp",
        "unit bsearch",
        "unit parallel",
        "unit rom",
        "serial",
        "tensor rows",
    ] {
        assert!(c.architectures.contains(a), "{a} never generated: {c:?}");
    }
    eprintln!("{total} random designs, 0 mismatches; coverage {c:?}");
}
