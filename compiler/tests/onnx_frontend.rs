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

#[test]
fn float_reference_reproduces_numpy_on_the_onnx_spike_mlp() {
    let g = flow::load(&fixture("spike_mlp.onnx")).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("spike_mlp.expected.json")).unwrap())
            .unwrap();
    let inputs = expected["inputs"].as_array().unwrap();
    let outputs = expected["outputs"].as_array().unwrap();
    // One step per vector: threshold neurons have no memory.
    let stim = Stimulus {
        samples: vec![inputs
            .iter()
            .map(|x| {
                x.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_i64().unwrap())
                    .collect()
            })
            .collect()],
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
