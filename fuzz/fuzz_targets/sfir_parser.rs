//! Any text as `.sfir`: the parser returns a graph or a located error, never panics; a graph it
//! accepts prints back to text that parses to the same graph (the printer is lossless).
#![no_main]
use libfuzzer_sys::fuzz_target;
use spikeforge::ir::text::{parse, print};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(g) = parse(src) {
        let text = print(&g);
        let back = parse(&text).expect("printed IR parses");
        assert_eq!(back, g, "print/parse changed the graph:\n{text}");
    }
});
