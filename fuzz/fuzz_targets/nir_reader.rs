//! Any bytes as a NIR (HDF5) file: the reader returns a graph or an error, never panics, hangs
//! or allocates without bound; a graph it returns also quantises or fails cleanly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use spikeforge::frontend::nir;
use spikeforge::quant::{quantise, QuantOptions};

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = nir::load_bytes("fuzz.nir", data.to_vec()) {
        let _ = quantise(&g, &QuantOptions::default());
    }
});
