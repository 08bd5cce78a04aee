//! Snapshots of the emitted Verilog and integer IR for the bundled tiny example, so every
//! change to generated code is reviewed. Each snapshot is also linted, Yosys-checked and
//! cosimulated, so an accepted snapshot is a working one.

use spikeforge::cosim::{self, stimulus};
use spikeforge::quant::QuantOptions;
use spikeforge::{flow, ir, synth};
use std::path::Path;

#[test]
fn tiny_rsnn_verilog_and_ir() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tiny_rsnn.sfir");
    let g = flow::load(&path).unwrap();
    let c = flow::compile(g, &QuantOptions::default()).unwrap();
    insta::assert_snapshot!("tiny_rsnn.quant.sfir", ir::text::print(&c.int));
    for (name, text) in &c.design.files {
        insta::assert_snapshot!(name.clone(), text);
    }
    let dir = tempfile::tempdir().unwrap();
    let rtl = cosim::write_rtl(&c.design, &dir.path().join("rtl")).unwrap();
    cosim::lint(&c.design, &rtl).unwrap();
    synth::check(&c.design.top, &rtl).unwrap();
    let stim = stimulus::random(3, 3, 64, 0.4, 3);
    let r = flow::cosim(&c, &stim, &dir.path().join("cosim"), 3).unwrap();
    assert_eq!(r.mismatches, 0, "{:?}", r.first_mismatch);
}
