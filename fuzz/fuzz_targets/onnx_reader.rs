//! Any bytes as an ONNX model: the reader returns a graph or an error, never panics, hangs or
//! allocates without bound; a graph it returns also verifies and quantises or fails cleanly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use spikeforge::frontend::onnx;
use spikeforge::quant::{quantise, QuantOptions};

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = onnx::load_bytes("fuzz.onnx", data) {
        if spikeforge::ir::verify::verify(&g).is_ok() {
            let _ = quantise(&g, &QuantOptions::default());
        }
    }
});
