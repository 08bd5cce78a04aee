//! End to end: models through quantiser, golden model, Verilog, Verilator and Yosys.
//! Every design is linted (`verilator --lint-only -Wall`), checked by Yosys, and cosimulated
//! against the golden model with zero mismatches allowed.

use spikeforge::backend::Arch;
use spikeforge::cosim::{self, stimulus};
use spikeforge::flow::{self, Compiled};
use spikeforge::quant::QuantOptions;
use spikeforge::testgen::{random_snn, RandomSnn};
use spikeforge::{ir, synth};
use std::path::{Path, PathBuf};

fn shared(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/models")
        .join(name)
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// Lints, Yosys-checks and cosimulates `c`; returns the number of values compared.
fn verify_design(c: &Compiled, samples: usize, steps: usize, seed: u64, dir: &Path) -> u64 {
    let rtl = cosim::write_rtl(&c.design, &dir.join("rtl")).expect("write rtl");
    cosim::lint(&c.design, &rtl).unwrap_or_else(|e| panic!("lint: {e}"));
    synth::check(&c.design.top, &rtl).unwrap_or_else(|e| panic!("yosys: {e}"));
    let stim = stimulus::random_for(&c.int, samples, steps, 0.3, seed);
    let r =
        flow::cosim(c, &stim, &dir.join("cosim"), seed).unwrap_or_else(|e| panic!("cosim: {e}"));
    assert_eq!(r.steps, samples * steps);
    assert_eq!(r.mismatches, 0, "first mismatch: {:?}", r.first_mismatch);
    assert!(r.values_compared > 0);
    // The schedule the backend reports is the latency the RTL has (its bound, when event-driven
    // layers make it depend on the input).
    if c.design.data_dependent {
        assert!(r.max_latency_cycles <= c.design.cycles_per_step);
    } else {
        assert_eq!(r.max_latency_cycles, c.design.cycles_per_step);
    }
    r.values_compared
}

fn model_cosim(path: &Path) {
    let g = flow::load(path).unwrap_or_else(|e| panic!("{e}"));
    let c = flow::compile(g, &QuantOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    verify_design(&c, 2, 256, 7, dir.path());
}

#[test]
fn braille_recurrent_cuba_lif_cosims_bit_exact() {
    model_cosim(&shared("braille_noDelay_noBias_subtract.nir"));
}

#[test]
fn norse_lif_cosims_bit_exact() {
    model_cosim(&shared("lif_norse.nir"));
}

#[test]
fn snntorch_two_lif_cosims_bit_exact() {
    model_cosim(&shared("two_lif_neurons.nir"));
}

#[test]
fn bundled_example_cosims_bit_exact() {
    model_cosim(&example("rsnn_16_32_10.nir"));
}

/// A quantised ANN: integer inputs, dense layers on integers, quantised ReLUs.
#[test]
fn integer_mlp_example_cosims_bit_exact() {
    model_cosim(&example("int_mlp_16_64_32_32_5.sfir"));
}

/// Spike-driven self-attention (`tools/sdsa_sfir.py`): Q, K, V projections folded over tokens,
/// K AND V, popcount over tokens, a threshold mask AND Q, output projection and the membrane
/// shortcut; T = 4 steps per sample (the first step of each is the T = 1 case). The mask must
/// both open and close somewhere, or the test would prove little.
#[test]
fn spike_driven_attention_cosims_bit_exact() {
    let g = flow::load(&example("sdsa_16x16_h2.sfir")).unwrap_or_else(|e| panic!("{e}"));
    let c = flow::compile_with(g, &QuantOptions::default(), Arch::Folded)
        .unwrap_or_else(|e| panic!("{e}"));
    let stim = stimulus::random_for(&c.int, 3, 4, 0.3, 5);
    let gold = spikeforge::golden::run(&c.int, &stim).expect("golden");
    let mask = c.int.find("mask").expect("mask node");
    let ones: i64 = gold.values[mask.index()].iter().flatten().sum();
    let all = gold.values[mask.index()]
        .iter()
        .map(Vec::len)
        .sum::<usize>() as i64;
    assert!(ones > 0 && ones < all, "mask open {ones} of {all}");
    let dir = tempfile::tempdir().unwrap();
    verify_design(&c, 3, 4, 5, dir.path());
}

/// Tensor operators wider than one Verilator loop may unroll (1,024; loops split above 512):
/// AND, add and requantise over 1,200 elements and popcounts of 600 bits stay bit-exact.
#[test]
fn tensor_operators_wider_than_one_generate_loop_cosim_bit_exact() {
    let src = "graph wide {
      %a: spike[2,600] = input
      %b: spike[2,600] = input
      %ab: spike[2,600] = spike_and(%a, %b)
      %n: fix<11,0>[2,1] = popcount(%ab) {axis = 1}
      %s: fix<3,0>[2,600] = add(%ab, %b)
      %r: fix<4,0>[2,600] = requant(%s) {mul = [5], shift = 1, rounding = half_even, range = [-8, 7]}
      %o1: fix<11,0>[2,1] = output(%n)
      %o2: fix<4,0>[2,600] = output(%r)
    }";
    let g = ir::text::parse(src).unwrap_or_else(|e| panic!("{e}"));
    let c = flow::compile(g, &QuantOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    verify_design(&c, 2, 3, 9, dir.path());
}

/// Conv 3x3 (padding 1) -> IF -> SumPool -> Conv 'same' -> IF -> AvgPool -> Flatten -> Affine
/// -> IF, written by the `nir` package: pooling and convolution compose into unrolled
/// spike-input layers.

#[test]
fn spiking_cnn_cosims_bit_exact() {
    model_cosim(&example("conv_snn_2x8x8.nir"));
}

#[test]
fn strided_dilated_conv1d_cosims_bit_exact() {
    model_cosim(&example("conv1d_snn_4x16.nir"));
}

// Random graphs of every operator, layout and stimulus: tests/property.rs.

/// The folded architecture on every bundled and shared model: same golden model, RTL that
/// walks kernels tap by tap, weights in ROM, state in RAM.
#[test]
fn folded_models_cosim_bit_exact() {
    for path in [
        shared("braille_noDelay_noBias_subtract.nir"),
        shared("lif_norse.nir"),
        shared("two_lif_neurons.nir"),
        example("rsnn_16_32_10.nir"),
        example("conv_snn_2x8x8.nir"),
        example("conv1d_snn_4x16.nir"),
    ] {
        let g = flow::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let c = flow::compile_with(g, &QuantOptions::default(), Arch::Folded)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(c.design.folded && c.design.cycles_per_step > 1);
        let dir = tempfile::tempdir().unwrap();
        verify_design(&c, 2, 48, 11, dir.path());
    }
}

/// Found in review: a grouped 1x1 convolution or a reshaping convolution reading a folded layer
/// (it must read the IR-order bus, not the position-major one), and a graph without neurons.
/// Both architectures, 0 mismatches, lint clean.
#[test]
fn folded_bus_layout_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/folded");
    for name in ["g1x1", "dw1x1", "reshape", "no_neuron"] {
        for arch in [Arch::Parallel, Arch::Folded] {
            let g = flow::load(&dir.join(format!("{name}.sfir"))).unwrap();
            let c = flow::compile_with(g, &QuantOptions::default(), arch)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let tmp = tempfile::tempdir().unwrap();
            verify_design(&c, 2, 20, 3, tmp.path());
        }
    }
}

/// Random dense SNNs (recurrence, delays, every neuron kind, saturation), folded.
#[test]
fn folded_random_snns() {
    for seed in 0..12u64 {
        let g = random_snn(seed, &RandomSnn::default());
        let opt = QuantOptions {
            weight_bits: 2 + (seed % 9) as u32,
            max_state_bits: [10, 14, 32][(seed % 3) as usize],
            ..QuantOptions::default()
        };
        let c = flow::compile_with(g, &opt, Arch::Folded)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let dir = tempfile::tempdir().unwrap();
        verify_design(&c, 2, 30, seed, dir.path());
    }
}

/// The N-MNIST-sized CNN of the NIR paper (2x34x34 -> three convolutions, two sum poolings,
/// two dense layers; about 40k weights) is folded automatically and cosims bit-exact over 20
/// timesteps, with every layer spiking.
#[test]
fn nmnist_cnn_folds_and_cosims_bit_exact() {
    let g = flow::load(&example("nmnist_cnn_2x34x34.nir")).unwrap();
    let c = flow::compile(g, &QuantOptions::default()).unwrap();
    assert!(c.design.folded, "auto must fold a 40k-weight CNN");
    let convs = c
        .int
        .nodes
        .iter()
        .filter(|n| matches!(n.op, ir::Op::IntConv(_)));
    assert_eq!(convs.count(), 3, "pooling folds into the next convolution");
    let stim = stimulus::random(flow::input_len(&c.int), 1, 20, 0.1, 5);
    let golden = spikeforge::golden::run(&c.int, &stim).unwrap();
    for n in c.int.ids() {
        if let ir::Op::IntNeuron(_) = c.int.node(n).op {
            let spikes: i64 = golden.values[n.index()].iter().flatten().sum();
            assert!(spikes > 0, "{} never spikes", c.int.node(n).name);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let rtl = cosim::write_rtl(&c.design, &dir.path().join("rtl")).unwrap();
    cosim::lint(&c.design, &rtl).unwrap_or_else(|e| panic!("lint: {e}"));
    let r = flow::cosim(&c, &stim, &dir.path().join("cosim"), 5).unwrap();
    assert_eq!(r.steps, 20);
    assert_eq!(r.max_latency_cycles, c.design.cycles_per_step);
    assert_eq!(r.mismatches, 0, "first mismatch: {:?}", r.first_mismatch);
}

/// Yosys maps the real models to the xc7a35t and counts LUTs and FFs.
#[test]
fn shared_models_synthesize_for_xc7() {
    let target = synth::target::load("xc7a35t").unwrap();
    for name in ["lif_norse.nir", "two_lif_neurons.nir"] {
        let g = flow::load(&shared(name)).unwrap();
        let c = flow::compile(g, &QuantOptions::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let rtl = cosim::write_rtl(&c.design, &dir.path().join("rtl")).unwrap();
        let r = synth::synth(&c.design.top, &rtl, &target, &dir.path().join("synth")).unwrap();
        assert!(r.lut > 0 && r.ff > 0, "{name}: {r:?}");
        // Each neuron keeps its membrane in flip-flops, plus the output register.
        let state_bits: u32 = c
            .int
            .nodes
            .iter()
            .filter_map(|n| match &n.op {
                ir::Op::IntNeuron(nr) => Some(nr.mem_bits * nr.len() as u32),
                _ => None,
            })
            .sum();
        assert!(
            r.ff as u32 >= state_bits,
            "{name}: {} FF < {state_bits} state bits",
            r.ff
        );
        assert!(r.fits);
    }
}

/// Graph pruning end to end: random networks with injected twin and silent neurons shrink,
/// the pruned golden model's outputs equal the unpruned one's, and the RTL of the pruned graph
/// cosims bit-exact in both architectures.
#[test]
fn pruned_random_snns_cosim_bit_exact_and_match_the_unpruned_model() {
    // Seeds whose networks have hidden layers to shrink (the injector needs one).
    for seed in [1u64, 2, 3, 21] {
        let lim = RandomSnn {
            max_layers: 3,
            max_width: 24,
            ..RandomSnn::default()
        };
        let f = random_snn(seed, &lim);
        let (mut g, _) = spikeforge::quant::quantise(&f, &QuantOptions::default()).unwrap();
        let added: usize = spikeforge::testgen::inject_redundancy(&mut g, seed, 4)
            .iter()
            .map(|(_, n)| n)
            .sum();
        for arch in [Arch::Parallel, Arch::Folded] {
            let c = flow::compile_with(g.clone(), &QuantOptions::default(), arch)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert!(
                added > 0 && c.prune.neurons_removed() >= added,
                "seed {seed}: {added} injected"
            );
            let stim = stimulus::random(flow::input_len(&c.int), 2, 40, 0.4, seed);
            let a = spikeforge::golden::run(&c.quantised, &stim).unwrap();
            let b = spikeforge::golden::run(&c.int, &stim).unwrap();
            for o in c.quantised.outputs() {
                let p = c.int.find(&c.quantised.node(o).name).unwrap();
                assert_eq!(a.values[o.index()], b.values[p.index()], "seed {seed}");
            }
            let dir = tempfile::tempdir().unwrap();
            verify_design(&c, 2, 40, seed, dir.path());
        }
    }
}

/// Per-layer architectures mixed in one design: each neuron layer of a random network is
/// parallel (a one-cycle stage of the schedule), folded, or folded with a reuse factor; the
/// schedule's latency is the sum of the layers' and the RTL matches the golden model.
#[test]
fn mixed_layer_architectures_cosim_bit_exact() {
    // Parallel, pipelined (`parallel:N`) and folded layers in one schedule.
    use spikeforge::backend::LayerArch;
    let choices = [
        LayerArch::Parallel,
        LayerArch::Folded { reuse: None },
        LayerArch::Folded { reuse: Some(2) },
        LayerArch::Folded { reuse: Some(3) },
        LayerArch::Pipelined { levels: 1 },
        LayerArch::Pipelined { levels: 2 },
    ];
    let (mut mixed, mut pipelined) = (0, 0);
    for seed in 0..10u64 {
        let g = random_snn(seed, &RandomSnn::default());
        let names: Vec<String> = g
            .nodes
            .iter()
            .filter(|n| matches!(n.op, ir::Op::Neuron(_)))
            .map(|n| n.name.clone())
            .collect();
        let layers: std::collections::BTreeMap<String, LayerArch> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), choices[(seed as usize + i) % choices.len()]))
            .collect();
        let opt = flow::Options {
            layers: layers.clone(),
            ..flow::Options::default()
        };
        let c = flow::compile_opts(g, &opt).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        for (name, arch, _) in &c.design.layers {
            assert_eq!(layers[name], *arch, "seed {seed}: {name}");
        }
        mixed += c.design.layers.iter().any(|l| l.1 == LayerArch::Parallel) as usize
            * c.design.folded as usize;
        // A pipelined stage waits out its blocks' registers: more than the 2 cycles of a
        // parallel stage whenever a block is deeper than the register spacing.
        pipelined += c
            .design
            .layers
            .iter()
            .filter(|l| matches!(l.1, LayerArch::Pipelined { .. }) && l.2 > 2)
            .count();
        let dir = tempfile::tempdir().unwrap();
        verify_design(&c, 2, 24, seed, dir.path());
    }
    assert!(
        mixed >= 3,
        "only {mixed} designs mixed parallel and folded layers"
    );
    assert!(
        pipelined >= 3,
        "only {pipelined} layers had pipeline registers"
    );
}

/// A reuse factor trades cycles for accumulators: folded:R on the RSNN's output layer (10
/// neurons) takes more cycles as R grows, and every variant cosims bit-exact.
#[test]
fn reuse_factor_sets_the_cycles_of_a_folded_layer() {
    use spikeforge::backend::LayerArch;
    let mut last = 0;
    for r in [1usize, 2, 5, 10] {
        let g = flow::load(&example("rsnn_16_32_10.nir")).unwrap();
        let opt = flow::Options {
            arch: Arch::Folded,
            layers: [("lif2".to_string(), LayerArch::Folded { reuse: Some(r) })].into(),
            ..flow::Options::default()
        };
        let c = flow::compile_opts(g, &opt).unwrap();
        let cyc = c.design.layers.iter().find(|l| l.0 == "lif2").unwrap().2;
        assert!(
            cyc > last,
            "folded:{r} takes {cyc} cycles, not more than {last}"
        );
        last = cyc;
        let dir = tempfile::tempdir().unwrap();
        verify_design(&c, 1, 16, r as u64, dir.path());
    }
}

/// Names are data: node and graph names that are Verilog keywords, reserved ports, start with a
/// digit, hold spaces, comment ends, newlines or non-ASCII, or collide once sanitised, reach
/// the RTL only as safe, distinct identifiers and comment text. Parallel and folded designs
/// lint, pass the Yosys check and cosim bit-exact.
#[test]
fn hostile_names_give_safe_distinct_identifiers() {
    let mut g = flow::load(&example("tiny_rsnn.sfir")).unwrap();
    g.name = "evil */ graph\nmodule x;".into();
    let evil = [
        "module",
        "clk",
        "0start",
        "lif 1*/ end",
        "λ-neurons\n",
        "wire",
        "A",
        "a",
    ];
    for (node, name) in g.nodes.iter_mut().zip(evil) {
        node.name = name.to_string();
    }
    for arch in [Arch::Parallel, Arch::Folded] {
        let c = flow::compile_with(g.clone(), &QuantOptions::default(), arch)
            .unwrap_or_else(|e| panic!("{arch:?}: {e}"));
        for (file, text) in &c.design.files {
            assert!(
                file.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.'),
                "{file}"
            );
            // Names appear only inside `//` comments (newlines and `*/` defused there).
            for line in text.lines() {
                let code = line.split("//").next().unwrap_or("");
                assert!(
                    !code.contains("module x;"),
                    "{file}: a name escaped: {line}"
                );
            }
            assert!(!text.contains("*/ graph"), "{file}");
        }
        let dir = tempfile::tempdir().unwrap();
        verify_design(&c, 1, 16, 2, dir.path());
    }
}

/// Multi-threshold activations (multispike neurons, batch-norm-folded thresholds, FINN's
/// MultiThreshold) built from ramp-family units: every variant, on the example's thresholds and
/// on random ones (outside the input range, repeated, one channel's row shared by the other),
/// cosims bit-exact, lint- and Yosys-clean, and takes exactly the cycles the schedule reports.
#[test]
fn multi_threshold_units_cosim_bit_exact_in_every_variant() {
    use rand::{Rng, SeedableRng};
    use spikeforge::backend::LayerArch;
    let base = flow::load(&example("multispike.sfir")).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    for (k, v) in ["parallel", "ramp", "bsearch", "rom"]
        .into_iter()
        .enumerate()
    {
        for trial in 0..2u64 {
            let mut g = base.clone();
            if trial == 1 {
                let id = g.find("mt0").unwrap();
                if let ir::Op::MultiThreshold(mt) = &mut g.nodes[id.index()].op {
                    let row = |rng: &mut rand_chacha::ChaCha8Rng| {
                        let mut r: Vec<i64> = (0..3).map(|_| rng.random_range(-160..160)).collect();
                        r.sort();
                        r
                    };
                    let first = row(&mut rng);
                    let second = if k % 2 == 0 {
                        first.clone()
                    } else {
                        row(&mut rng)
                    };
                    mt.thresholds.data = [first, second].concat();
                }
            }
            let arch = LayerArch::parse(v).unwrap();
            let opt = flow::Options {
                layers: [("mt0".to_string(), arch), ("mt1".to_string(), arch)].into(),
                ..flow::Options::default()
            };
            let c = flow::compile_opts(g, &opt).unwrap_or_else(|e| panic!("{v}: {e}"));
            let dir = tempfile::tempdir().unwrap();
            verify_design(&c, 2, 24, 10 * k as u64 + trial, dir.path());
            // The example's outputs are not constant: the units count for real.
            if trial == 0 {
                let stim = stimulus::random(flow::input_len(&c.int), 1, 48, 0.3, 5);
                let golden = spikeforge::golden::run(&c.int, &stim).unwrap();
                for out in ["mt0", "mt1"] {
                    let id = c.int.find(out).unwrap();
                    let mut seen: Vec<i64> = golden.values[id.index()].concat();
                    seen.sort();
                    seen.dedup();
                    assert!(seen.len() >= 3, "{v} {out} takes only {seen:?}");
                }
            }
        }
    }
}

/// Event-driven convolutions scatter each input spike into the partial sums of the outputs it
/// reaches. Strided, padded, dilated, 1-D and 2-D kernels, reading IR order (first layer) or a
/// folded layer's hardware order, cosim bit-exact (lint and Yosys check included); at 5%
/// activity they take fewer cycles than the folded design.
#[test]
fn event_driven_convolutions_cosim_bit_exact() {
    use spikeforge::backend::LayerArch;
    // (model, layers made event-driven; the others stay folded)
    let cases: [(&str, &[&str]); 3] = [
        ("conv_snn_2x8x8.nir", &["if1", "if2"]),
        ("conv_snn_2x8x8.nir", &["if2"]),
        ("conv1d_snn_4x16.nir", &[]),
    ];
    for (k, (model, names)) in cases.into_iter().enumerate() {
        let g = flow::load(&example(model)).unwrap();
        let convs: Vec<String> = if names.is_empty() {
            // Every neuron layer fed by a convolution.
            g.nodes
                .iter()
                .filter(|n| matches!(n.op, ir::Op::Neuron(_)))
                .filter(|n| {
                    n.inputs
                        .iter()
                        .any(|p| matches!(g.node(p.node).op, ir::Op::Conv(_)))
                })
                .map(|n| n.name.clone())
                .collect()
        } else {
            names.iter().map(|n| n.to_string()).collect()
        };
        assert!(!convs.is_empty(), "{model}");
        let opt = flow::Options {
            arch: Arch::Folded,
            layers: convs
                .iter()
                .map(|n| (n.clone(), LayerArch::Event))
                .collect(),
            ..flow::Options::default()
        };
        let c = flow::compile_opts(g.clone(), &opt).unwrap_or_else(|e| panic!("{model}: {e}"));
        assert!(c.design.data_dependent);
        let dir = tempfile::tempdir().unwrap();
        verify_design(&c, 2, 16, k as u64, dir.path());
        let folded = flow::compile_with(g, &QuantOptions::default(), Arch::Folded).unwrap();
        let stim = stimulus::random(flow::input_len(&c.int), 1, 16, 0.05, k as u64);
        let r = flow::cosim(&c, &stim, &dir.path().join("sparse"), 1).unwrap();
        assert_eq!(r.mismatches, 0, "{model}: {:?}", r.first_mismatch);
        assert!(
            r.max_latency_cycles < folded.design.cycles_per_step,
            "{model} {names:?}: event {} vs folded {}",
            r.max_latency_cycles,
            folded.design.cycles_per_step
        );
    }
}

/// Event-driven layers: cycles scale with input activity. The layers of random networks
/// (recurrent ones too) built as event cores cosim bit-exact under sparse and dense stimuli, and take fewer cycles
/// than the folded core whenever few inputs spike.
#[test]
fn event_driven_layers_cosim_bit_exact_and_follow_activity() {
    use spikeforge::backend::LayerArch;
    let mut seen = 0;
    for seed in 0..12u64 {
        if seen == 4 {
            break;
        }
        let g = random_snn(seed, &RandomSnn::default());
        // Every neuron layer event-driven, recurrent ones included.
        let single: Vec<String> = g
            .nodes
            .iter()
            .filter(|n| matches!(n.op, ir::Op::Neuron(_)))
            .map(|n| n.name.clone())
            .collect();
        if single.is_empty() {
            continue;
        }
        let layers = single
            .iter()
            .map(|n| (n.clone(), LayerArch::Event))
            .collect();
        let opt = flow::Options {
            layers,
            ..flow::Options::default()
        };
        let Ok(c) = flow::compile_opts(g.clone(), &opt) else {
            continue; // e.g. a delay between the spikes and the weights
        };
        assert!(c.design.data_dependent);
        seen += 1;
        let dir = tempfile::tempdir().unwrap();
        verify_design(&c, 2, 24, seed, dir.path());
        // At 5% activity the event design's measured latency stays below the folded bound.
        let folded = flow::compile_with(g, &QuantOptions::default(), Arch::Folded).unwrap();
        let stim = stimulus::random(flow::input_len(&c.int), 1, 24, 0.05, seed);
        let r = flow::cosim(&c, &stim, &dir.path().join("sparse"), seed).unwrap();
        assert_eq!(r.mismatches, 0);
        assert!(
            r.max_latency_cycles < folded.design.cycles_per_step,
            "seed {seed}: event {} vs folded {}",
            r.max_latency_cycles,
            folded.design.cycles_per_step
        );
    }
    assert!(seen >= 4, "only {seen} networks had event-capable layers");
}

/// The automatic choice under a LUT budget: the synthesised design fits the budget (Yosys, not
/// the estimate, is the judge), it cosimulates bit-exact, and a budget below the smallest design
/// is refused.
#[test]
fn lut_budget_choice_fits_in_yosys_and_cosims() {
    let g = flow::load(&example("rsnn_16_32_10.nir")).unwrap();
    let budget = 1500;
    let opt = flow::Options {
        max_luts: Some(budget),
        ..flow::Options::default()
    };
    let c = flow::compile_opts(g.clone(), &opt).unwrap_or_else(|e| panic!("{e}"));
    let ch = c.choice.as_ref().unwrap();
    assert!(ch.estimated_luts <= budget && ch.notes[0].contains("LUT budget binds"));
    let dir = tempfile::tempdir().unwrap();
    verify_design(&c, 1, 12, 3, dir.path());
    let rtl = cosim::write_rtl(&c.design, &dir.path().join("rtl")).unwrap();
    let t = synth::target::load("xc7a35t").unwrap();
    let x = synth::synth(&c.design.top, &rtl, &t, &dir.path().join("x")).unwrap();
    assert!(x.lut <= budget, "{} LUTs over the {budget} budget", x.lut);
    let opt = flow::Options {
        max_luts: Some(300),
        ..flow::Options::default()
    };
    let e = flow::compile_opts(g, &opt).err().unwrap().to_string();
    assert!(e.contains("no design fits 300 LUTs"), "{e}");
}

/// The automatic choice under a latency budget: the design's schedule takes at most the budget
/// (exactly the cycles the choice computed), Verilator measures that latency, and a budget no
/// schedule meets is refused with the fastest one's cycles.
#[test]
fn latency_budget_choice_meets_its_budget_in_cosim() {
    for (seed, budget) in [(1u64, 60u64), (2, 150), (3, 1000), (4, 40)] {
        let g = random_snn(seed, &RandomSnn::default());
        let opt = flow::Options {
            max_cycles: Some(budget),
            ..flow::Options::default()
        };
        let c = match flow::compile_opts(g, &opt) {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    e.to_string().contains("no schedule meets"),
                    "seed {seed}: {e}"
                );
                continue;
            }
        };
        let ch = c.choice.as_ref().unwrap();
        assert!(ch.cycles <= budget && c.design.cycles_per_step == ch.cycles);
        let dir = tempfile::tempdir().unwrap();
        verify_design(&c, 1, 12, seed, dir.path());
    }
    let g = flow::load(&example("rsnn_16_32_10.nir")).unwrap();
    let opt = flow::Options {
        max_cycles: Some(0),
        ..flow::Options::default()
    };
    let e = flow::compile_opts(g, &opt).err().unwrap().to_string();
    assert!(e.contains("the fastest takes 1"), "{e}");
}
