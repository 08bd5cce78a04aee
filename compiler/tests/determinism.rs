//! The same model and options give byte-identical RTL, run after run (the constant-matrix
//! solver runs its forms on two threads and must merge them in a fixed order).

use spikeforge::backend::{Arch, LayerArch};
use spikeforge::flow;
use std::path::Path;

#[test]
fn compiling_twice_gives_identical_rtl() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let models = [
        root.join("../examples/rsnn_16_32_10.nir"),
        root.join("../examples/conv_snn_2x8x8.nir"),
        root.join("../../shared/models/braille_noDelay_noBias_subtract.nir"),
    ];
    for m in &models {
        for opt in [
            flow::Options::default(),
            flow::Options {
                arch: Arch::Folded,
                ..flow::Options::default()
            },
        ] {
            let runs: Vec<Vec<(String, String)>> = (0..3)
                .map(|_| {
                    let g = flow::load(m).unwrap();
                    flow::compile_opts(g, &opt).unwrap().design.files
                })
                .collect();
            assert!(runs.windows(2).all(|w| w[0] == w[1]), "{}", m.display());
        }
    }
    // Mixed and event-driven layers too.
    let g = || flow::load(&models[0]).unwrap();
    let opt = flow::Options {
        layers: [("lif2".to_string(), LayerArch::Event)].into(),
        ..flow::Options::default()
    };
    let a = flow::compile_opts(g(), &opt).unwrap().design.files;
    let b = flow::compile_opts(g(), &opt).unwrap().design.files;
    assert_eq!(a, b);
}
