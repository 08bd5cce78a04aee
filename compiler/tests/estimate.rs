//! The LUT estimate against Yosys: designs whose LUTs Yosys 0.23 measured (`synth_xilinx`,
//! xc7a35t, flattened) when the model was fitted. The estimate must stay within 15% of each.

use spikeforge::backend::{Arch, LayerArch};
use spikeforge::ir::{Graph, NodeId, Op};
use spikeforge::{estimate, flow, quant::QuantOptions, testgen};
use std::path::Path;

fn estimate_of(g: Graph, weight_bits: u32, arch: Arch, layers: &[(&str, LayerArch)]) -> f64 {
    let opt = flow::Options {
        quant: QuantOptions {
            weight_bits,
            ..QuantOptions::default()
        },
        arch,
        layers: layers.iter().map(|(n, a)| (n.to_string(), *a)).collect(),
        ..flow::Options::default()
    };
    let c = flow::compile_opts(g, &opt).expect("compiles");
    let mut total = estimate::top_luts();
    for (name, a, _) in &c.design.layers {
        let id: NodeId = c
            .int
            .ids()
            .find(|&i| &c.int.node(i).name == name)
            .expect("layer in the graph");
        assert!(matches!(c.int.node(id).op, Op::IntNeuron(_)));
        total += estimate::layer_luts(&c.int, id, *a).expect("estimates");
    }
    total
}

#[test]
fn estimate_tracks_yosys_on_reference_designs() {
    let mlp = || testgen::lif_mlp(&[784, 128, 10], 1, 1e-4);
    let rsnn = || {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/rsnn_16_32_10.nir");
        flow::load(&p).expect("example loads")
    };
    let fold = |r| LayerArch::Folded { reuse: Some(r) };
    let ev = [("lif1", LayerArch::Event), ("lif2", LayerArch::Event)];
    // (what, estimate, LUTs Yosys measured)
    let cases = [
        (
            "mlp 8b lif1 1 lane",
            estimate_of(mlp(), 8, Arch::Folded, &[("lif1", fold(128))]),
            2642,
        ),
        (
            "mlp 8b lif1 4 lanes",
            estimate_of(mlp(), 8, Arch::Folded, &[("lif1", fold(32))]),
            3165,
        ),
        (
            "mlp 8b lif1 16 lanes",
            estimate_of(mlp(), 8, Arch::Folded, &[("lif1", fold(8))]),
            5715,
        ),
        (
            "mlp 4b lif1 8 lanes",
            estimate_of(mlp(), 4, Arch::Folded, &[("lif1", fold(16))]),
            3255,
        ),
        (
            "mlp 4b event",
            estimate_of(mlp(), 4, Arch::Folded, &ev),
            8484,
        ),
        (
            "rsnn 8b parallel",
            estimate_of(rsnn(), 8, Arch::Parallel, &[]),
            7951,
        ),
        (
            "rsnn 4b parallel",
            estimate_of(rsnn(), 4, Arch::Parallel, &[]),
            4429,
        ),
        (
            "rsnn folded",
            estimate_of(rsnn(), 8, Arch::Folded, &[]),
            3193,
        ),
        (
            "rsnn folded 1 lane",
            estimate_of(
                rsnn(),
                8,
                Arch::Folded,
                &[("lif1", fold(32)), ("lif2", fold(10))],
            ),
            591,
        ),
        (
            "rsnn event",
            estimate_of(rsnn(), 8, Arch::Folded, &ev),
            3475,
        ),
        (
            "rsnn mixed",
            estimate_of(rsnn(), 8, Arch::Folded, &[("lif2", LayerArch::Parallel)]),
            3720,
        ),
    ];
    for (what, est, yosys) in cases {
        let err = (est - yosys as f64) / yosys as f64;
        eprintln!(
            "{what}: estimated {est:.0}, Yosys {yosys} ({:+.1}%)",
            100.0 * err
        );
        assert!(
            err.abs() <= 0.15,
            "{what}: estimated {est:.0} LUTs, Yosys {yosys} ({:+.1}%)",
            100.0 * err
        );
    }
}
