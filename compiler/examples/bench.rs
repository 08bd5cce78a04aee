//! `make bench`: measures the compiler and writes BENCHMARKS.md with each figure and the
//! command that made it. Not a test: numbers depend on the machine.
//!
//! Usage: cargo run --release --example bench -- BENCHMARKS.md

use spikeforge::cosim::{self, stimulus};
use spikeforge::quant::QuantOptions;
use spikeforge::{flow, golden, synth, testgen};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Sections `tools/cmvm_bench.py`, `tools/mcm_bench.py` and `tools/fuzz_bench.py` write.
const KEPT: [(&str, &str); 3] = [
    ("<!-- cmvm-bench:begin -->", "<!-- cmvm-bench:end -->"),
    ("<!-- mcm-bench:begin -->", "<!-- mcm-bench:end -->"),
    ("<!-- fuzz-bench:begin -->", "<!-- fuzz-bench:end -->"),
];

/// Markers around the MLP section, so `--only mlp` can refresh it alone.
const MLP_MARKS: (&str, &str) = ("<!-- mlp-bench:begin -->", "<!-- mlp-bench:end -->");
/// Markers around the transformer section (`--only transformer`).
const TRANSFORMER_MARKS: (&str, &str) = (
    "<!-- transformer-bench:begin -->",
    "<!-- transformer-bench:end -->",
);
/// Markers around the targets section (`--only targets`).
const TARGET_MARKS: (&str, &str) = ("<!-- targets-bench:begin -->", "<!-- targets-bench:end -->");

/// Yosys on a compiled design for a built-in target.
fn synthesise(
    c: &flow::Compiled,
    rtl: &[std::path::PathBuf],
    target: &str,
    dir: &std::path::Path,
) -> synth::SynthReport {
    let t = synth::target::load(target).expect("built-in target");
    synth::synth(&c.design.top, rtl, &t, dir).unwrap_or_else(|e| panic!("yosys {target}: {e}"))
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "BENCHMARKS.md".into());
    // `-- FILE --only mlp|targets`: refresh one section of an existing FILE.
    if std::env::args().nth(2).as_deref() == Some("--only") {
        let only = std::env::args().nth(3).unwrap_or_default();
        let tmp = tempfile::tempdir().expect("tempdir");
        let (section, (begin, end)) = match only.as_str() {
            "mlp" => (mlp_section(tmp.path()), MLP_MARKS),
            "targets" => (targets_section(tmp.path()), TARGET_MARKS),
            "transformer" => (transformer_section(tmp.path()), TRANSFORMER_MARKS),
            "encoder" => (encoder_section(tmp.path()), ENCODER_MARKS),
            "surrogate" => (surrogate_section(tmp.path()), SURROGATE_MARKS),
            _ => panic!("--only takes mlp, targets, transformer, encoder or surrogate"),
        };
        let old = std::fs::read_to_string(&out).expect("an existing benchmarks file");
        let new = match (old.find(begin), old.find(end)) {
            (Some(a), Some(b)) => {
                format!("{}{}{}", &old[..a], section.trim(), &old[b + end.len()..])
            }
            // A section new to the file goes at its end.
            _ => format!("{}\n{}\n", old.trim_end(), section.trim()),
        };
        std::fs::write(&out, new).expect("write");
        eprintln!("wrote the {only} section of {out}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cmd = "make bench";
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Written by `{cmd}` (`cargo run --release --example bench -- BENCHMARKS.md`) on {} cores; \
         {}; Verilator and Yosys as installed. Re-run to refresh.\n",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        synth::yosys_version().unwrap_or_else(|e| e.to_string()),
    );

    // 1. Compile time of a 784-512-512-10 LIF MLP (quantise + interval analysis + Verilog).
    let sizes = [784, 512, 512, 10];
    let g = testgen::lif_mlp(&sizes, 42, 1e-4);
    let synapses: usize = sizes.windows(2).map(|w| w[0] * w[1]).sum();
    let mut times = Vec::new();
    let mut rtl_bytes = 0;
    let mut compiled = None;
    for _ in 0..5 {
        let t = Instant::now();
        let c = flow::compile(g.clone(), &QuantOptions::default()).expect("compiles");
        times.push(t.elapsed().as_secs_f64());
        rtl_bytes = c.design.files.iter().map(|(_, s)| s.len()).sum::<usize>();
        compiled = Some(c);
    }
    let c = compiled.expect("compiled");
    let _ = writeln!(md, "## Compile time\n");
    let _ = writeln!(
        md,
        "| model | synapses | compile (median of 5) | Verilog written |"
    );
    let _ = writeln!(md, "|---|---|---|---|");
    let _ = writeln!(
        md,
        "| LIF MLP 784-512-512-10, seed 42, 8-bit weights | {synapses} | {:.3} s | {:.1} MB |\n",
        median(times),
        rtl_bytes as f64 / 1e6
    );

    // 2. Golden-model throughput on the same network.
    let steps = 100;
    let stim = stimulus::random(784, 1, steps, 0.1, 1);
    let mut rates = Vec::new();
    let mut syn_rates = Vec::new();
    let neurons: usize = sizes[1..].iter().sum();
    for _ in 0..3 {
        let t = Instant::now();
        let trace = golden::run(&c.int, &stim).expect("runs");
        let s = t.elapsed().as_secs_f64();
        assert_eq!(trace.values[0].len(), steps);
        rates.push((neurons * steps) as f64 / s);
        syn_rates.push((synapses * steps) as f64 / s);
    }
    let _ = writeln!(md, "## Golden model throughput\n");
    let _ = writeln!(
        md,
        "| model | stimulus | neuron updates/s | synapse evaluations/s |"
    );
    let _ = writeln!(md, "|---|---|---|---|");
    let _ = writeln!(
        md,
        "| LIF MLP 784-512-512-10 | {steps} steps, 10% input rate | {:.3e} | {:.3e} |\n",
        median(rates),
        median(syn_rates)
    );

    // 3. Real models: cosim and Yosys resources.
    let models: Vec<(String, PathBuf)> = vec![
        (
            "examples/rsnn_16_32_10.nir".into(),
            root.join("examples/rsnn_16_32_10.nir"),
        ),
        (
            "examples/conv_snn_2x8x8.nir".into(),
            root.join("examples/conv_snn_2x8x8.nir"),
        ),
        (
            "shared lif_norse.nir".into(),
            root.join("../shared/models/lif_norse.nir"),
        ),
        (
            "shared two_lif_neurons.nir".into(),
            root.join("../shared/models/two_lif_neurons.nir"),
        ),
        (
            "shared braille_noDelay_noBias_subtract.nir".into(),
            root.join("../shared/models/braille_noDelay_noBias_subtract.nir"),
        ),
    ];
    let _ = writeln!(
        md,
        "## Real models: cosim and synthesis (fully parallel cores)\n"
    );
    let _ = writeln!(
        md,
        "Cosim: 2 samples x 256 steps of 30% random spikes, golden model vs Verilator. \
         Synthesis: `synth_xilinx -family xc7 -flatten` for xc7a35t, `synth_ice40 -dsp` for ice40up5k.\n"
    );
    let _ = writeln!(md, "| model | cosim values | mismatches | float/int agreement (output) | xc7a35t LUT / FF / CARRY4 / DSP | ice40up5k LUT4 / FF | Yosys time xc7 |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    let tmp = tempfile::tempdir().expect("tempdir");
    for (label, path) in &models {
        if !path.exists() {
            let _ = writeln!(md, "| {label} | (file not present) | | | | | |");
            continue;
        }
        let g = flow::load(path).expect("loads");
        let c = flow::compile(g, &QuantOptions::default()).expect("compiles");
        let dir = tmp.path().join(label.replace([' ', '/', '.'], "_"));
        let stim = stimulus::random(flow::input_len(&c.int), 2, 256, 0.3, 7);
        let r = flow::cosim(&c, &stim, &dir.join("cosim"), 7).expect("cosim");
        let agree = flow::agreement(&c, &stim, 1e-4).expect("agreement");
        let out_agree = agree.last().map_or(f64::NAN, |a| a.1);
        if label.contains("conv") {
            // Unrolled convolutions take Yosys tens of minutes; streaming cores will fix that.
            let _ = writeln!(
                md,
                "| {label} | {} | {} | {:.2}% | not synthesised (unrolled convolution) | | |",
                r.values_compared,
                r.mismatches,
                100.0 * out_agree
            );
            eprintln!("bench: {label} done");
            continue;
        }
        let rtl = cosim::write_rtl(&c.design, &dir.join("rtl")).expect("rtl");
        let x = synthesise(&c, &rtl, "xc7a35t", &dir.join("xc7"));
        let i = synthesise(&c, &rtl, "ice40up5k", &dir.join("ice40"));
        let _ = writeln!(
            md,
            "| {label} | {} | {} | {:.2}% | {} / {} / {} / {} | {} / {} | {:.1} s |",
            r.values_compared,
            r.mismatches,
            100.0 * out_agree,
            x.lut,
            x.ff,
            x.carry,
            x.dsp,
            i.lut,
            i.ff,
            x.seconds
        );
        eprintln!("bench: {label} done");
    }
    // 4. The N-MNIST-sized CNN, folded: compile time, schedule, cosim and xc7a100t resources.
    let nm = root.join("examples/nmnist_cnn_2x34x34.nir");
    let _ = writeln!(
        md,
        "\n## N-MNIST-sized CNN, folded (examples/nmnist_cnn_2x34x34.nir)\n\n\
         2x34x34 input; Conv 16@5x5 s2 -> IF -> Conv 16@3x3 -> IF -> SumPool 2 -> Conv 8@3x3 -> IF \
         -> SumPool 2 -> Affine 128->256 -> IF -> Affine 256->10 -> IF; 39,584 weights. \
         `--arch auto` folds it. Cosim: 1 sample x 20 steps of 10% random spikes. Synthesis: \
         `synth_xilinx -family xc7 -flatten` for xc7a100t (63,400 LUT, 126,800 FF, 135 BRAM36).\n"
    );
    let g = flow::load(&nm).expect("loads");
    let times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let _ = flow::compile(g.clone(), &QuantOptions::default()).expect("compiles");
            t.elapsed().as_secs_f64()
        })
        .collect();
    let c = flow::compile(g, &QuantOptions::default()).expect("compiles");
    let dir = tmp.path().join("nmnist");
    let stim = stimulus::random(flow::input_len(&c.int), 1, 20, 0.1, 5);
    let r = flow::cosim(&c, &stim, &dir.join("cosim"), 5).expect("cosim");
    let rtl = cosim::write_rtl(&c.design, &dir.join("rtl")).expect("rtl");
    let x = synthesise(&c, &rtl, "xc7a100t", &dir.join("xc7"));
    let _ = writeln!(md, "| compile (median of 5) | cycles per timestep | cosim values | mismatches | LUT | FF | BRAM36 (RAMB36 + RAMB18/2) | LUTRAM | DSP | fits xc7a100t | Yosys time |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|");
    let _ = writeln!(
        md,
        "| {:.3} s | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} s |",
        median(times),
        c.design.cycles_per_step,
        r.values_compared,
        r.mismatches,
        x.lut,
        x.ff,
        x.bram36,
        x.lutram,
        x.dsp,
        x.fits,
        x.seconds
    );
    eprintln!("bench: nmnist done");
    // 5. Ramp-family nonlinear units: sigmoid, 12-bit input (8 fraction bits) to 5 bits.
    let _ = writeln!(
        md,
        "\n## Ramp-family nonlinear units: sigmoid, 12-bit input to 5-bit output\n\n\
         `spikeforge ramp sigmoid --in-bits 12 --in-frac 8 --out-bits 5 --verify --target xc7a35t` \
         (the same calls): every variant simulated in Verilator on all 4,096 inputs against the \
         table (results and cycle counts), then `synth_xilinx` for xc7a35t. The reference row is \
         the measurement in the design notes (Yosys 0.23, xc7, an earlier hand-written unit).\n"
    );
    {
        use spikeforge::backend::ramp::Variant;
        use spikeforge::quant::table::{tabulate, Fixed, Func};
        let t = tabulate(
            Func::Sigmoid,
            Fixed {
                bits: 12,
                frac: 8,
                signed: true,
            },
            Fixed {
                bits: 5,
                frac: 5,
                signed: false,
            },
        )
        .expect("table");
        let xc7 = synth::target::load("xc7a35t").unwrap();
        let _ = writeln!(
            md,
            "Thresholds: {}; max error {:.3} LSB ({:.3} LSB from rounding inside the output range; \
             the rest is sigmoid's approach to 1, which 5 bits clamp at 31/32).\n",
            t.thresholds.len(),
            t.max_error_lsb,
            t.max_rounding_lsb
        );
        let _ = writeln!(md, "| variant | LUT | FF | BRAM36 | cycles (max) | inputs verified | mismatches | design-note reference |");
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
        for v in Variant::ALL {
            let r =
                flow::ramp(&t, v, &tmp.path().join("ramp"), true, Some(&xc7)).expect("ramp unit");
            let (c, x) = (r.check.expect("checked"), r.synth.expect("synthesised"));
            let reference = match v {
                Variant::Ramp => "34 LUT + 36 FF, <= 32 cycles",
                Variant::Bsearch => "42 LUT",
                Variant::Parallel => "110 LUT",
                Variant::Rom => "1 RAMB36",
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {reference} |",
                v.name(),
                x.lut,
                x.ff,
                x.bram36,
                c.max_cycles,
                c.inputs,
                c.mismatches
            );
        }
    }
    eprintln!("bench: ramp units done");
    // 6. Every strategy and the automatic choice on a 784-128-10 LIF MLP (MNIST-sized).
    md.push_str(&mlp_section(tmp.path()));
    // 7. Every target on the bundled examples; fmax from nextpnr; ASIC area.
    md.push_str(&targets_section(tmp.path()));
    md.push_str(&transformer_section(tmp.path()));
    md.push_str(&encoder_section(tmp.path()));
    md.push_str(&surrogate_section(tmp.path()));
    // The Python benchmarks own the sections between their markers; keep them.
    if let Ok(old) = std::fs::read_to_string(&out) {
        for (begin, end) in KEPT {
            if let (Some(a), Some(b)) = (old.find(begin), old.find(end)) {
                if a < b {
                    md.push('\n');
                    md.push_str(&old[a..b + end.len()]);
                    md.push('\n');
                }
            }
        }
    }
    std::fs::write(&out, md).expect("write");
    eprintln!("wrote {out}");
}

/// The 784-128-10 LIF MLP at 8- and 4-bit weights: each strategy, and the automatic choice
/// under three constraints, with Yosys resources, exact cycles and cosim.
fn mlp_section(tmp: &Path) -> String {
    use spikeforge::backend::{Arch, LayerArch};
    let mut md = String::new();
    let (begin, end) = MLP_MARKS;
    let _ = writeln!(
        md,
        "\n{begin}\n## 784-128-10 LIF MLP: every strategy and the automatic choice\n\n\
         `testgen::lif_mlp(&[784, 128, 10], 1, 1e-4)` (snnTorch-style LIF, beta = 0.9). \
         Strategies: `folded` (16 lanes, weights in block RAM), `folded:16` on the hidden layer \
         (8 lanes), `event` (both layers event-driven), and the automatic choice under a \
         latency budget (`--max-latency 150e-6 --clock 100`), a LUT budget (`--max-luts 5000`) \
         and both (`--max-luts 5000 --max-latency 100e-6`). Cycles per timestep: the \
         schedule's bound, and the most Verilator measured (0 mismatches required) over 8 steps \
         of random input spikes at each activity (fixed schedules: measured once, at 10%). Resources: `synth_xilinx` for xc7a35t; the estimate is \
         the one the choice uses (`compiler/src/estimate`). Refreshed alone by \
         `cargo run --release --example bench -- BENCHMARKS.md --only mlp`.\n\n\
         Not measured: a fully parallel build (100k weights in logic; its hardwired blocks are \
         too large to synthesise here, and the choice never offers it above 65,536 synapses), \
         and fmax: no build fits an iCE40 UP5K (the weights alone are 400-800 kbit against \
         120 kbit of block RAM), and no open place-and-route exists for xc7. Published on \
         another flow, for scale: Spiker+ (VHDL, MNIST 784-128-10) reports 7,612 logic cells, \
         18 BRAM and 780 us per image.\n"
    );
    let _ = writeln!(
        md,
        "| weights | strategy | layers | estimated LUT | LUT | FF | BRAM36 | DSP | cycles bound | \
         latency at 100 MHz | cycles at 5% | 10% | 20% | 50% |"
    );
    let _ = writeln!(
        md,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let fixed = |v: &[(&str, LayerArch)]| {
        v.iter()
            .map(|(n, a)| (n.to_string(), *a))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let ev = [("lif1", LayerArch::Event), ("lif2", LayerArch::Event)];
    let eight = [("lif1", LayerArch::Folded { reuse: Some(16) })];
    for wb in [8u32, 4] {
        // (label, per-layer choices, latency budget in cycles, LUT budget)
        let runs: Vec<(&str, _, Option<u64>, Option<u64>)> = vec![
            ("folded", fixed(&[]), None, None),
            ("folded:16 (hidden)", fixed(&eight), None, None),
            ("event", fixed(&ev), None, None),
            ("auto, --max-latency 150us", fixed(&[]), Some(15_000), None),
            ("auto, --max-luts 5000", fixed(&[]), None, Some(5000)),
            (
                "auto, --max-luts 5000 --max-latency 100us",
                fixed(&[]),
                Some(10_000),
                Some(5000),
            ),
        ];
        for (label, layers, max_cycles, max_luts) in runs {
            let g = testgen::lif_mlp(&[784, 128, 10], 1, 1e-4);
            let opt = flow::Options {
                quant: QuantOptions {
                    weight_bits: wb,
                    ..QuantOptions::default()
                },
                arch: Arch::Folded,
                layers,
                prune: true,
                max_cycles,
                max_luts,
            };
            let c = match flow::compile_opts(g, &opt) {
                Ok(c) => c,
                Err(e) => {
                    let _ = writeln!(md, "| {wb}-bit | {label} | refused: {e} |||||||||||");
                    continue;
                }
            };
            let mut estimate = spikeforge::estimate::top_luts();
            let mut archs = Vec::new();
            for (name, a, _) in &c.design.layers {
                let id = c
                    .int
                    .ids()
                    .find(|&i| &c.int.node(i).name == name)
                    .expect("layer");
                estimate += spikeforge::estimate::layer_luts(&c.int, id, *a).expect("estimate");
                archs.push(format!("{name} {a}"));
            }
            // Verilator's generated makefile cannot take every character in a path.
            let slug: String = label
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                .collect();
            let dir = tmp.join(format!("mlp{wb}_{slug}"));
            // A fixed schedule takes its cycles at any activity: one cosim (at 10%) shows it.
            let rates: &[f64] = if c.design.data_dependent {
                &[0.05, 0.1, 0.2, 0.5]
            } else {
                &[0.1]
            };
            let mut measured = Vec::new();
            for (k, &rate) in rates.iter().enumerate() {
                let stim = stimulus::random(flow::input_len(&c.int), 1, 8, rate, 11 + k as u64);
                let r = flow::cosim(&c, &stim, &dir.join(format!("cosim{k}")), 3).expect("cosim");
                assert_eq!(r.mismatches, 0, "MLP cosim");
                measured.push(r.max_latency_cycles.to_string());
            }
            if measured.len() == 1 {
                measured = vec![measured[0].clone(); 4];
            }
            let rtl = cosim::write_rtl(&c.design, &dir.join("rtl")).expect("rtl");
            let x = synthesise(&c, &rtl, "xc7a35t", &dir.join("xc7"));
            if let Some(b) = max_luts {
                assert!(x.lut <= b, "{label}: {} LUTs over the budget", x.lut);
            }
            let _ = writeln!(
                md,
                "| {wb}-bit | {label} | {} | {:.0} | {} | {} | {} | {} | {} | {:.1} us | {} |",
                archs.join(", "),
                estimate,
                x.lut,
                x.ff,
                x.bram36,
                x.dsp,
                c.design.cycles_per_step,
                c.design.cycles_per_step as f64 / 100.0,
                measured.join(" | ")
            );
            eprintln!("bench: mlp {wb}-bit {label} done");
        }
    }
    let _ = writeln!(md, "{end}");
    md
}

/// Spike-driven attention and quantised MLPs from ONNX/QONNX: compile, cosim (zero mismatches
/// asserted), Yosys on xc7a35t, and the jet-tagging MLP on the VU9P beside hls4ml's published
/// figures.
fn transformer_section(tmp: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = root.join("tests/fixtures/onnx");
    let examples = root.join("../examples");
    // (file, steps per sample, samples, targets)
    let designs: Vec<(std::path::PathBuf, usize, usize, &[&str])> = vec![
        // Small enough that `--arch auto` unrolls its projections over all 16 tokens: Yosys
        // takes over a quarter of an hour on that, so this one is cosimulated only.
        (examples.join("sdsa_16x16_h2.sfir"), 4, 4, &[]),
        // 30 k LUTs: past the xc7a35t, on the xc7a100t.
        (examples.join("sdsa_64x64_h4.sfir"), 1, 2, &["xc7a100t"]),
        (examples.join("sdsa_64x64_h4.sfir"), 4, 2, &[]),
        (examples.join("sdsa_64x64.onnx"), 1, 4, &["xc7a100t"]),
        (fixtures.join("jet_mlp.onnx"), 1, 64, &["xc7a35t", "xcvu9p"]),
        (fixtures.join("qmlp_act_gelu.onnx"), 1, 64, &["xc7a35t"]),
    ];
    let (begin, end) = TRANSFORMER_MARKS;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n{begin}\n## Transformers: spike-driven attention and quantised MLPs (ONNX, QONNX)\n\n\
         Each model compiled with default options (`--arch auto`: projections over 64 tokens \
         fold), cosimulated on random stimulus with zero mismatches (asserted), and synthesised \
         by Yosys. SDSA = Q AND SN(sum over tokens of K AND V), Spike-driven Transformer v1 \
         (`tools/sdsa_sfir.py`, `tools/sdsa_onnx.py`); T = steps per sample. `jet_mlp.onnx` is \
         the jet-tagging architecture 16-64-32-32-5 with 6-bit weights and 3-bit ReLUs (random \
         weights: no trained model or dataset is available offline). Refreshed alone by \
         `cargo run --release --example bench -- BENCHMARKS.md --only transformer`.\n"
    );
    let _ = writeln!(
        md,
        "| model | T | cycles/step | values compared | mismatches | target | LUT | FF | BRAM36 | DSP | Yosys s |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|");
    md.push_str(&model_rows(tmp, "tf", &designs));
    let _ = writeln!(
        md,
        "\nPublished on another flow, for scale (not comparable cell for cell): hls4ml/QKeras, the \
         same jet-tagging architecture with 6-bit uniform quantisation (Q6), fully unrolled (II = 1, \
         11 cycles = 55 ns at about 200 MHz), VU9P: **39,782 LUT, 8,128 FF, 124 DSP** — Coelho et al., \
         Nature Machine Intelligence 3, 675-686 (2021), as reproduced in arXiv:2609.16367 (FINNAS), \
         Table II (the row's model is inferred from its accuracy, 74.8%, and latency). That design \
         takes a new input every cycle with trained, pruned weights; Spikeforge hardwires random, \
         unpruned 6-bit weights as shift-add networks (no DSP) and quantised ReLUs as \
         multi-threshold units, and takes a new input every 12 cycles (cycles/step above).\n"
    );
    let _ = writeln!(md, "{end}");
    md
}

/// Per model and target, a table row: compiled with default options, cosimulated (0
/// mismatches asserted), synthesised for each target (none: cosim only).
type ModelRow<'a> = (std::path::PathBuf, usize, usize, &'a [&'a str]);

fn model_rows(tmp: &Path, tag: &str, designs: &[ModelRow]) -> String {
    let mut md = String::new();
    for (k, (path, steps, samples, targets)) in designs.iter().enumerate() {
        let g = flow::load(path).expect("model loads");
        let c = flow::compile_opts(g, &flow::Options::default()).expect("compiles");
        let dir = tmp.join(format!("{tag}{k}"));
        let stim = stimulus::random_for(&c.int, *samples, *steps, 0.3, 7);
        let r = flow::cosim(&c, &stim, &dir.join("cosim"), 7).expect("cosim");
        assert_eq!(r.mismatches, 0, "{}", path.display());
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let rtl = cosim::write_rtl(&c.design, &dir.join("rtl")).expect("rtl");
        let rows: Vec<Option<&str>> = if targets.is_empty() {
            vec![None]
        } else {
            targets.iter().map(|t| Some(*t)).collect()
        };
        for t in rows {
            let (cells, target) = match t {
                Some(t) => {
                    let t0 = std::time::Instant::now();
                    let x = synthesise(&c, &rtl, t, &dir.join(t));
                    (
                        format!(
                            "{} | {} | {} | {} | {:.0}",
                            x.lut + x.lutram,
                            x.ff,
                            x.bram36,
                            x.dsp,
                            t0.elapsed().as_secs_f64()
                        ),
                        t.to_string(),
                    )
                }
                None => ("| | | |".to_string(), "(cosim only)".to_string()),
            };
            let _ = writeln!(
                md,
                "| {name} | {steps} | {} | {} | {} | {target} | {cells} |",
                c.design.cycles_per_step, r.values_compared, r.mismatches
            );
        }
        eprintln!("bench: {tag} {name} T={steps} done");
    }
    md
}

/// Markers around the surrogate section (`--only surrogate`).
const SURROGATE_MARKS: (&str, &str) = (
    "<!-- surrogate-bench:begin -->",
    "<!-- surrogate-bench:end -->",
);

/// `spikeforge estimate` against the synthesis it replaces, on the committed dataset's
/// designs: each recompiled and estimated here, against the seconds its sweep recorded for
/// compile plus Yosys; and the shipped weights' held-out errors.
fn surrogate_section(tmp: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (begin, end) = SURROGATE_MARKS;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n{begin}\n## Resource surrogate: speed and accuracy\n\n\
         `spikeforge estimate` (compile, then the learned surrogate) against synthesis (compile, \
         then Yosys), on the first 60 synthesised designs of each committed dataset \
         (`datasets/`): the estimate is timed here, synthesis is the wall time the sweep recorded \
         (run at low priority beside other work, so somewhat long). Errors: the shipped weights' \
         (`targets/surrogate/`) median and 90th-percentile absolute error with each model family \
         held out of training, worst family (`spikeforge surrogate train`). Refreshed alone by \
         `cargo run --release --example bench -- BENCHMARKS.md --only surrogate`.\n"
    );
    let _ = writeln!(
        md,
        "| target | designs | synthesis s (median) | estimate s (median) | speedup median | speedup min | LUT error median / p90 | FF error median / p90 | trained on |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for (target, family) in [("xc7a35t", "xc7"), ("ice40up5k", "ice40")] {
        let zcat = |f: &str| -> String {
            let out = std::process::Command::new("zcat")
                .arg(root.join("datasets").join(f))
                .output()
                .expect("zcat runs");
            String::from_utf8_lossy(&out.stdout).to_string()
        };
        let records: Vec<serde_json::Value> = zcat(&format!("{target}.jsonl.gz"))
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let secs: std::collections::BTreeMap<u64, f64> = zcat(&format!("{target}.timing.jsonl.gz"))
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| Some((v["id"].as_u64()?, v["seconds"].as_f64()?)))
            .collect();
        let t = synth::target::load(target).expect("built-in target");
        let (mut synth_s, mut est_s, mut speed) = (Vec::new(), Vec::new(), Vec::new());
        for r in records.iter().filter(|r| r.get("error").is_none()).take(60) {
            let (Some(id), Some(seed)) = (r["id"].as_u64(), r["seed"].as_u64()) else {
                continue;
            };
            let Some(fam) = spikeforge::dataset::FAMILIES
                .iter()
                .find(|f| r["family"].as_str() == Some(**f))
            else {
                continue;
            };
            let Some(&ys) = secs.get(&id) else { continue };
            let t0 = Instant::now();
            let spec = spikeforge::dataset::spec_of(seed, id, fam);
            let c = spikeforge::dataset::compile(&spec).expect("a recorded design compiles");
            spikeforge::surrogate::estimate::estimate(&c, &t).expect("shipped weights");
            let es = t0.elapsed().as_secs_f64();
            synth_s.push(ys);
            est_s.push(es);
            speed.push(ys / es.max(1e-9));
        }
        let n = speed.len();
        let min = speed.iter().copied().fold(f64::INFINITY, f64::min);
        let m = spikeforge::surrogate::estimate::shipped(family).expect("weights ship");
        let worst = |f: fn(&spikeforge::surrogate::HeldOut) -> (f64, f64)| {
            m.held_out
                .iter()
                .map(f)
                .fold((0.0f64, 0.0f64), |a, b| (a.0.max(b.0), a.1.max(b.1)))
        };
        let (lut, ff) = (worst(|h| h.lut), worst(|h| h.ff));
        let _ = writeln!(
            md,
            "| {target} | {n} | {:.1} | {:.4} | {:.0}x | {:.0}x | {:.0}% / {:.0}% | {:.0}% / {:.0}% | {} |",
            median(synth_s),
            median(est_s),
            median(speed),
            min,
            lut.0,
            lut.1,
            ff.0,
            ff.1,
            m.trained_on
        );
    }
    md.push_str(&surrogate_examples(tmp));
    let _ = writeln!(md, "{end}");
    md
}

/// The shipped estimate against Yosys on the repository's own examples (those Yosys finishes
/// in minutes), per target: how far to trust `estimate` on a real model.
fn surrogate_examples(tmp: &Path) -> String {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut md = String::from(
        "\nOn the repository's examples (default options: `spikeforge estimate` against \
         `spikeforge synth`; error = |estimate - Yosys| / Yosys):\n\n\
         | example | target | LUT estimate / Yosys | error | FF estimate / Yosys | error | DSP estimate / Yosys | BRAM estimate / Yosys |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    // conv_snn_2x8x8, nmnist_cnn and the attention examples take Yosys from six minutes to
    // half an hour each (see the targets section); the encoder is estimated above only.
    let names = [
        "tiny_rsnn.sfir",
        "multispike.sfir",
        "rsnn_16_32_10.nir",
        "conv1d_snn_4x16.nir",
        "int_mlp_16_64_32_32_5.sfir",
    ];
    let err = |e: f64, y: f64| format!("{:.0}%", 100.0 * (e - y).abs() / y.max(1.0));
    for (k, name) in names.iter().enumerate() {
        let path = examples.join(name);
        let m = flow::load_model(&path, None, Default::default(), None).expect("example loads");
        let opts = flow::Options {
            quant: spikeforge::quant::QuantOptions {
                dt: m.dt,
                ..Default::default()
            },
            ..Default::default()
        };
        let c = flow::compile_opts(m.graph, &opts).expect("example compiles");
        let dir = tmp.join(format!("surrogate{k}"));
        let rtl = cosim::write_rtl(&c.design, &dir.join("rtl")).expect("rtl");
        for target in ["xc7a35t", "ice40up5k"] {
            let t = synth::target::load(target).expect("built-in target");
            let e = spikeforge::surrogate::estimate::estimate(&c, &t).expect("shipped weights");
            let y = synth::synth(&c.design.top, &rtl, &t, &dir.join(target))
                .unwrap_or_else(|e| panic!("yosys {target} {name}: {e}"));
            let (lut, bram) = (
                (y.lut + y.lutram) as f64,
                y.bram36 + (y.bram_18k + y.bram_4k) as f64,
            );
            let _ = writeln!(
                md,
                "| {name} | {target} | {:.0} / {lut:.0} | {} | {:.0} / {} | {} | {:.0} / {} | {:.1} / {bram} |",
                e.lut,
                err(e.lut, lut),
                e.ff,
                y.ff,
                err(e.ff, y.ff as f64),
                e.dsp,
                y.dsp,
                e.bram,
            );
            eprintln!("bench: surrogate {name} {target} done");
        }
    }
    md
}

/// Markers around the encoder section (`--only encoder`).
const ENCODER_MARKS: (&str, &str) = ("<!-- encoder-bench:begin -->", "<!-- encoder-bench:end -->");

fn encoder_section(tmp: &Path) -> String {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    // Integer matmuls, softmax and LayerNorm as multi-cycle units, tensors in LUT RAM; about
    // 40 k LUTs: past the xc7a35t.
    let designs: Vec<ModelRow> = vec![(
        examples.join("encoder_e32_h2_s16.onnx"),
        1,
        2,
        &["xc7a100t"],
    )];
    let (begin, end) = ENCODER_MARKS;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n{begin}\n## A quantised transformer encoder layer (QONNX)\n\n\
         `examples/encoder_e32_h2_s16.onnx` (`tools/encoder_onnx.py`): a post-norm encoder layer, \
         embedding 32, 2 heads, sequence 16, 64 hidden, 8-bit weights and activations (random \
         weights). Integer matmuls (one multiply-accumulate a cycle), softmax (exp table, sum, \
         reciprocal by restoring division) and LayerNorm (integer mean, bisected reciprocal \
         square root) are multi-cycle units; tensors between them live in LUT RAM. Compiled with \
         default options, cosimulated on random inputs with zero mismatches (asserted), and \
         synthesised by Yosys. Its integer outputs equal the float graph's (qonnx with \
         onnxruntime) on 4,051 of 4,096 values and are within one step on 4,094 \
         (`onnx_frontend::quantised_encoder_agrees_with_the_float_graph_and_cosims_bit_exact`). \
         Refreshed alone by `cargo run --release --example bench -- BENCHMARKS.md --only \
         encoder`.\n"
    );
    let _ = writeln!(
        md,
        "| model | T | cycles/step | values compared | mismatches | target | LUT | FF | BRAM36 | DSP | Yosys s |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|");
    md.push_str(&model_rows(tmp, "enc", &designs));
    let _ = writeln!(md, "{end}");
    md
}

/// Every built-in target on the bundled examples (Yosys), fmax from nextpnr for iCE40 and ECP5,
/// and the ASIC target's gate-level area.
fn targets_section(tmp: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let examples = [
        "tiny_rsnn.sfir",
        "multispike.sfir",
        "conv1d_snn_4x16.nir",
        "rsnn_16_32_10.nir",
    ];
    let mut md = String::new();
    let (begin, end) = TARGET_MARKS;
    let _ = writeln!(
        md,
        "\n{begin}\n## Targets: every device, fmax from nextpnr, ASIC area\n\n\
         Each bundled example compiled with default options (`--arch auto`) and synthesised for \
         every built-in target, as `spikeforge synth EXAMPLE --target T` does. LUT includes \
         LUT RAM; depth is the longest path through LUT, carry and wide-mux cells (Yosys `ltp` \
         with the rest deleted). `conv_snn_2x8x8.nir` and `nmnist_cnn_2x34x34.nir` are left out \
         (their parallel builds take Yosys over six minutes and 4 GB per target). Refreshed alone by \
         `cargo run --release --example bench -- BENCHMARKS.md --only targets`.\n"
    );
    let names = synth::target::names();
    let _ = writeln!(md, "| example | cycles/step | {} |", names.join(" | "));
    let _ = writeln!(md, "|---|---|{}", "---|".repeat(names.len()));
    let mut fitting: Vec<(&str, Vec<&str>)> = Vec::new();
    for ex in examples {
        let g = flow::load(&root.join(ex)).expect("example loads");
        let c = flow::compile_opts(g, &flow::Options::default()).expect("compiles");
        let dir = tmp.join(format!("targets-{ex}"));
        let rtl = cosim::write_rtl(&c.design, &dir.join("rtl")).expect("rtl");
        let mut cells = Vec::new();
        let mut fits = Vec::new();
        for t in &names {
            let target = synth::target::load(t).expect("target");
            let r = synth::synth(&c.design.top, &rtl, &target, &dir.join(t))
                .unwrap_or_else(|e| panic!("{ex} on {t}: {e}"));
            cells.push(match &r.asic {
                Some(a) => format!("{:.0} NAND2 eq.", a.nand2_equivalents.unwrap_or(f64::NAN)),
                None if r.fits => {
                    fits.push(*t);
                    format!(
                        "{} LUT, {} FF, {} BRAM, {} DSP, depth {}",
                        r.lut + r.lutram,
                        r.ff,
                        r.bram36 + (r.bram_4k + r.bram_18k) as f64,
                        r.dsp,
                        r.logic_depth.map_or("-".into(), |d| d.to_string())
                    )
                }
                None => format!(
                    "does not fit ({})",
                    r.overflow
                        .iter()
                        .map(|(w, n, h)| format!("{w} {n}/{h}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
            eprintln!("bench: {ex} on {t}");
        }
        let _ = writeln!(
            md,
            "| `{ex}` | {} | {} |",
            c.design.cycles_per_step,
            cells.join(" | ")
        );
        fitting.push((ex, fits));
    }
    let _ = writeln!(
        md,
        "\n### fmax (nextpnr) and ASIC area\n\n\
         `spikeforge synth EXAMPLE --target ice40up5k --pnr` (nextpnr-ice40 from Debian, UP5K \
         SG48, 24 MHz asked) and `--target lfe5u85f --pnr` (YoWASP nextpnr-ecp5, LFE5U-85F \
         CABGA381, speed 6, 100 MHz asked), seed 1, the core inside a wrapper that shifts its \
         beats in and out one bit at a time (nine pins; every core path stays register to \
         register). Latency = cycles per timestep / fmax. ASIC: `--target asic` (Yosys \
         generic gates, `abc -g cmos2`; NAND2 equivalents = transistors / 4). No open \
         place and route exists for the Xilinx parts: their timing is the logic depth above.\n"
    );
    let _ = writeln!(
        md,
        "| example | cycles/step | iCE40 UP5K fmax | latency | ECP5-85F fmax | latency | ASIC transistors | NAND2 eq. |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for (ex, fits) in &fitting {
        let g = flow::load(&root.join(ex)).expect("example loads");
        let c = flow::compile_opts(g, &flow::Options::default()).expect("compiles");
        let dir = tmp.join(format!("pnr-{ex}"));
        let rtl = cosim::write_rtl(&c.design, &dir.join("rtl")).expect("rtl");
        let opt = synth::SynthOptions {
            pnr: true,
            stream_bits: Some((c.design.in_bits, c.design.out_bits)),
            ..synth::SynthOptions::default()
        };
        let cycles = c.design.cycles_per_step as f64;
        let mut row = vec![format!("`{ex}`"), c.design.cycles_per_step.to_string()];
        for t in ["ice40up5k", "lfe5u85f"] {
            if !fits.contains(&t) {
                row.push("does not fit".into());
                row.push("-".into());
                continue;
            }
            let target = synth::target::load(t).expect("target");
            let r = synth::synth_with(&c.design.top, &rtl, &target, &dir.join(t), &opt);
            match r.as_ref().ok().and_then(|r| r.pnr.as_ref()) {
                Some(p) => {
                    row.push(format!("{:.1} MHz", p.fmax_mhz));
                    row.push(format!("{:.0} ns", cycles * 1e3 / p.fmax_mhz));
                }
                None => {
                    // Yosys's cells fit, nextpnr's packing did not (or it failed): say so.
                    let why = r.err().map_or("-".to_string(), |e| {
                        e.to_string().lines().next().unwrap_or_default().to_string()
                    });
                    row.push(why);
                    row.push("-".into());
                }
            }
            eprintln!("bench: {ex} placed for {t}");
        }
        let asic = synth::target::load("asic").expect("asic");
        let a = synth::synth(&c.design.top, &rtl, &asic, &dir.join("asic"))
            .unwrap_or_else(|e| panic!("{ex} asic: {e}"));
        let area = a.asic.expect("asic area");
        row.push(area.transistors.map_or("-".into(), |t| t.to_string()));
        row.push(
            area.nand2_equivalents
                .map_or("-".into(), |n| format!("{n:.0}")),
        );
        let _ = writeln!(md, "| {} |", row.join(" | "));
    }
    let _ = writeln!(md, "\n{end}");
    md
}
