//! The ONNX frontend against the reference implementation of the format: a spike MLP written
//! by the official `onnx` package (`tools/onnx_fixtures.py`), its outputs computed by numpy.
//! The float reference reproduces numpy's spikes; the compiled RTL matches the golden model.

use spikeforge::cosim::stimulus;
use spikeforge::golden::{self, Stimulus};
use spikeforge::ir::Op;
use spikeforge::{cosim, flow, synth};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name)
}

/// A JSON array of integer vectors.
fn int_rows(v: &serde_json::Value) -> Vec<Vec<i64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn float_reference_reproduces_numpy_on_the_onnx_spike_mlp() {
    let g = flow::load(&fixture("spike_mlp.onnx")).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("spike_mlp.expected.json")).unwrap())
            .unwrap();
    let outputs = expected["outputs"].as_array().unwrap();
    // One step per vector: threshold neurons have no memory.
    let stim = Stimulus {
        samples: vec![int_rows(&expected["inputs"])],
    };
    let trace = golden::float::run(&g, &stim, 1e-4).unwrap();
    let out = g
        .ids()
        .find(|&i| matches!(g.node(i).op, Op::Output))
        .unwrap();
    for (t, want) in outputs.iter().enumerate() {
        let want: Vec<f64> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(trace.values[out.index()][t], want, "vector {t}");
    }
    // Both spike layers fired somewhere, or the comparison proves little.
    assert!(outputs
        .iter()
        .flat_map(|o| o.as_array().unwrap())
        .any(|v| v == 1));
}

#[test]
fn the_onnx_spike_mlp_compiles_and_cosims_bit_exact() {
    let g = flow::load(&fixture("spike_mlp.onnx")).unwrap();
    let c = flow::compile(g, &Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rtl = cosim::write_rtl(&c.design, &dir.path().join("rtl")).unwrap();
    cosim::lint(&c.design, &rtl).unwrap();
    synth::check(&c.design.top, &rtl).unwrap();
    let stim: Stimulus = stimulus::random(flow::input_len(&c.int), 2, 64, 0.4, 3);
    let r = flow::cosim(&c, &stim, &dir.path().join("cosim"), 3).unwrap();
    assert_eq!(r.mismatches, 0, "{:?}", r.first_mismatch);
    assert_eq!(r.steps, 128);
}

/// Runs fixture `name`'s integer graph on the saved inputs and maps its outputs back by their
/// scales; returns (values equal to qonnx's float32 outputs, values compared).
fn qonnx_agreement(name: &str) -> (usize, usize) {
    let bytes = std::fs::read(fixture(&format!("{name}.onnx"))).unwrap();
    let lowered = spikeforge::frontend::onnx::load_lowered(name, &bytes).unwrap();
    let g = &lowered.graph;
    spikeforge::ir::verify::verify(g).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(g.is_integer(), "{name}");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(&format!("{name}.expected.json"))).unwrap(),
    )
    .unwrap();
    let stim = Stimulus {
        samples: vec![int_rows(&expected["inputs"])],
    };
    let trace = golden::run(g, &stim).unwrap();
    let out = g
        .ids()
        .find(|&i| matches!(g.node(i).op, Op::Output))
        .unwrap();
    let (_, scale, shift) = &lowered.outputs[0];
    let (mut same, mut all) = (0, 0);
    for (t, want) in expected["outputs"].as_array().unwrap().iter().enumerate() {
        for (e, (&q, w)) in trace.values[out.index()][t]
            .iter()
            .zip(want.as_array().unwrap())
            .enumerate()
        {
            let got = (scale[e] * q as f64 + shift[e]) as f32;
            same += (got == w.as_f64().unwrap() as f32) as usize;
            all += 1;
        }
    }
    (same, all)
}

/// QONNX `Quant` in every rounding mode, bit-exact against the `qonnx` package's own execution
/// (`tools/qonnx_fixtures.py`): the integer graph's outputs, mapped back by their scales, equal
/// qonnx's float32 outputs exactly, on 16 vectors per model; `bnn` has `BipolarQuant` weights
/// and activations.
#[test]
fn qonnx_models_match_qonnx_execution_in_every_rounding_mode() {
    for name in [
        "qmlp_round",
        "qmlp_ceil",
        "qmlp_floor",
        "qmlp_up",
        "qmlp_down",
        "qmlp_half_up",
        "qmlp_half_down",
        "jet_mlp",
        "bnn",
    ] {
        let (same, all) = qonnx_agreement(name);
        assert_eq!((same, all), (16 * 5, 16 * 5), "{name}");
    }
    // QONNX Trunc, both versions (v1 keeps the scale, v2 rescales and clamps).
    for name in ["trunc_v1", "trunc_v2"] {
        let (same, all) = qonnx_agreement(name);
        assert_eq!((same, all), (16 * 6, 16 * 6), "{name}");
    }
}

/// Sigmoid, Tanh, GELU (the Erf pattern PyTorch exports) and SiLU before quantisers become
/// multi-threshold units; qonnx runs them through onnxruntime, whose transcendental functions
/// are approximations of their own, so agreement is measured: every value equal here.
#[test]
fn quantised_activations_match_qonnx_execution() {
    for name in ["sigmoid", "tanh", "gelu", "silu"] {
        let (same, all) = qonnx_agreement(&format!("qmlp_act_{name}"));
        println!("{name}: {same} of {all} outputs equal qonnx's");
        assert_eq!(same, all, "{name}");
    }
}

/// The jet-tagging QONNX MLP, MLPs with GELU and Tanh activations (ramp-family units) and a
/// binarised MLP
/// compile to RTL that matches the golden model.
#[test]
fn qonnx_jet_mlp_compiles_and_cosims_bit_exact() {
    for name in ["jet_mlp", "qmlp_act_gelu", "qmlp_act_tanh", "bnn"] {
        let g = flow::load(&fixture(&format!("{name}.onnx"))).unwrap();
        let c = flow::compile(g, &Default::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let rtl = cosim::write_rtl(&c.design, &dir.path().join("rtl")).unwrap();
        cosim::lint(&c.design, &rtl).unwrap();
        let stim = stimulus::random_for(&c.int, 1, 48, 0.8, 5);
        let r = flow::cosim(&c, &stim, &dir.path().join("cosim"), 5).unwrap();
        assert_eq!(r.mismatches, 0, "{name}: {:?}", r.first_mismatch);
    }
}

/// Spike-driven self-attention written by `tools/sdsa_onnx.py` (Conv, Greater + Cast, Mul of
/// spikes, ReduceSum, Add): the float reference reproduces numpy on 24 vectors (one step each,
/// T = 1), the quantised design agrees with the float model on most spikes (what quantisation
/// costs, reported, not hidden), and the RTL cosims bit-exact against the golden model.
#[test]
fn onnx_spike_driven_attention_matches_numpy_and_cosims_bit_exact() {
    attention_fixture(
        "sdsa_16x16",
        &["spike_and", "popcount", "multi_threshold", "add", "conv"],
    );
}

/// Spikformer's spiking self-attention (`tools/sdsa_onnx.py --kind ssa`): Q^T K counts, counts
/// times V^T, transposes, a scale folded into the threshold.
#[test]
fn onnx_spikformer_attention_matches_numpy_and_cosims_bit_exact() {
    attention_fixture(
        "ssa_16x16",
        &[
            "spike_matmul",
            "transpose",
            "multi_threshold",
            "add",
            "conv",
        ],
    );
}

fn attention_fixture(name: &str, keywords: &[&str]) {
    let g = flow::load(&fixture(&format!("{name}.onnx"))).unwrap();
    let ops: Vec<&str> = g.nodes.iter().map(|n| n.op.keyword()).collect();
    for kw in keywords {
        assert!(ops.contains(kw), "{kw} missing from {ops:?}");
    }
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(&format!("{name}.expected.json"))).unwrap(),
    )
    .unwrap();
    let (inputs, outputs) = (
        int_rows(&expected["inputs"]),
        int_rows(&expected["outputs"]),
    );
    // One sample per vector: T = 1.
    let stim = Stimulus {
        samples: inputs.iter().map(|x| vec![x.clone()]).collect(),
    };
    let trace = golden::float::run(&g, &stim, 1e-4).unwrap();
    let out = g
        .ids()
        .find(|&i| matches!(g.node(i).op, Op::Output))
        .unwrap();
    for (t, want) in outputs.iter().enumerate() {
        let got: Vec<i64> = trace.values[out.index()][t]
            .iter()
            .map(|&v| v as i64)
            .collect();
        assert_eq!(&got, want, "vector {t}");
    }
    // Folded projections: the layout a 64 x 64 block needs, and a quick Verilator build.
    let c = flow::compile_with(g, &Default::default(), spikeforge::backend::Arch::Folded).unwrap();
    let gold = golden::run(&c.int, &stim).unwrap();
    let int_out = c
        .int
        .ids()
        .find(|&i| matches!(c.int.node(i).op, Op::Output))
        .unwrap();
    let (mut same, mut all) = (0, 0);
    for (t, want) in outputs.iter().enumerate() {
        for (a, b) in gold.values[int_out.index()][t].iter().zip(want) {
            same += (a == b) as usize;
            all += 1;
        }
    }
    println!("{name}: float vs integer, {same} of {all} outputs agree");
    assert!(
        same * 100 >= all * 95,
        "integer model agrees on {same} of {all} outputs"
    );
    let dir = tempfile::tempdir().unwrap();
    let rtl = cosim::write_rtl(&c.design, &dir.path().join("rtl")).unwrap();
    cosim::lint(&c.design, &rtl).unwrap();
    synth::check(&c.design.top, &rtl).unwrap();
    let r = flow::cosim(&c, &stim, &dir.path().join("cosim"), 3).unwrap();
    assert_eq!(r.mismatches, 0, "{:?}", r.first_mismatch);
    assert_eq!(r.steps, 24);
}

/// A quantised model's integer outputs against the float graph's (`expected.json`, from
/// qonnx's execution, onnxruntime inside), in output steps: (equal, within one step, all).
fn steps_from_float(path: &Path) -> (usize, usize, usize) {
    let bytes = std::fs::read(path).unwrap();
    let lowered = spikeforge::frontend::onnx::load_lowered("model", &bytes).unwrap();
    let g = &lowered.graph;
    spikeforge::ir::verify::verify(g).unwrap();
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path.with_extension("expected.json")).unwrap(),
    )
    .unwrap();
    let stim = Stimulus {
        samples: vec![int_rows(&expected["inputs"])],
    };
    let trace = golden::run(g, &stim).unwrap();
    let out = g
        .ids()
        .find(|&i| matches!(g.node(i).op, Op::Output))
        .unwrap();
    let (_, scale, shift) = &lowered.outputs[0];
    let (mut same, mut near, mut all) = (0, 0, 0);
    for (t, want) in expected["outputs"].as_array().unwrap().iter().enumerate() {
        for (e, (&q, w)) in trace.values[out.index()][t]
            .iter()
            .zip(want.as_array().unwrap())
            .enumerate()
        {
            let d = ((scale[e] * q as f64 + shift[e] - w.as_f64().unwrap()) / scale[e]).abs();
            same += (d < 0.5) as usize;
            near += (d < 1.5) as usize;
            all += 1;
        }
    }
    (same, near, all)
}

/// A quantised transformer encoder layer (`tools/encoder_onnx.py`: Q/K/V projections, Q K^T,
/// Softmax, P V, output projection, residual adds, two LayerNormalizations, a ReLU MLP) lowers
/// to integer matmuls, softmax and LayerNorm units; its outputs agree with the float graph's
/// to within one output step almost everywhere (softmax and LayerNorm are integer
/// approximations; every other operator is exact), and the RTL cosims bit-exact.
#[test]
fn quantised_encoder_agrees_with_the_float_graph_and_cosims_bit_exact() {
    let small = fixture("encoder_e8_h2_s4.onnx");
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/encoder_e32_h2_s16.onnx");
    for path in [&small, &full] {
        let (same, near, all) = steps_from_float(path);
        println!(
            "{}: {same} of {all} outputs equal the float graph's, {near} within one step",
            path.display()
        );
        assert!(near as f64 >= 0.995 * all as f64, "{near} of {all}");
        assert!(same as f64 >= 0.95 * all as f64, "{same} of {all}");
    }
    let g = flow::load(&small).unwrap();
    let ops: Vec<&str> = g.nodes.iter().map(|n| n.op.keyword()).collect();
    for kw in [
        "matmul",
        "const",
        "softmax",
        "layer_norm",
        "requant",
        "transpose",
        "add",
    ] {
        assert!(ops.contains(&kw), "{kw} missing from {ops:?}");
    }
    let c = flow::compile(g, &Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rtl = cosim::write_rtl(&c.design, &dir.path().join("rtl")).unwrap();
    cosim::lint(&c.design, &rtl).unwrap();
    let stim = stimulus::random_for(&c.int, 2, 1, 0.5, 9);
    let r = flow::cosim(&c, &stim, &dir.path().join("cosim"), 9).unwrap();
    assert!(r.values_compared > 0);
    assert_eq!(r.mismatches, 0, "{:?}", r.first_mismatch);
}
