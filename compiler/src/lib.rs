//! Spikeforge: compile spiking neural networks to verified, synthesizable Verilog.
//!
//! Data flows one way: [`frontend`] -> [`ir`] (float) -> [`quant`] -> [`ir`] (integer) ->
//! [`golden`] (bit-exact executor) and [`backend`] (Verilog) -> [`cosim`] (Verilator against the
//! golden model) and [`synth`] (Yosys). [`flow`] strings the stages together.
//!
//! ```
//! use spikeforge::{flow, golden, ir, quant::QuantOptions};
//!
//! // One IF neuron fed by one input through weight 0.5; threshold 1.
//! let src = "graph g {
//!   %in: spike[1] = input
//!   %fc: real[1] = linear(%in) {weight = <1x1>[0.5]}
//!   %n: spike[1] = if(%fc) {r = [1.0], v_threshold = [1.0], v_reset = [0.0], reset = zero, compare = gt}
//!   %out: spike[1] = output(%n)
//! }";
//! let g = ir::text::parse(src).unwrap();
//! ir::verify::verify(&g).unwrap();
//! let c = flow::compile(g, &QuantOptions::default()).unwrap();
//! // An input spike every step: v = 0.5, 1.0, 1.5 > 1 fires and resets, and again.
//! let stim = golden::Stimulus { samples: vec![vec![vec![1]; 6]] };
//! let trace = golden::run(&c.int, &stim).unwrap();
//! let out: Vec<i64> = trace.values[c.int.outputs()[0].index()].iter().map(|v| v[0]).collect();
//! assert_eq!(out, vec![0, 0, 1, 0, 0, 1]);
//! // The same graph as Verilog, ready for `cosim::build`.
//! assert!(c.design.files.iter().any(|(name, _)| name.ends_with(".v")));
//! ```

pub mod backend;
pub mod cli;
pub mod config;
pub mod cosim;
pub mod dataset;
pub mod estimate;
pub mod flow;
pub mod frontend;
pub mod golden;
pub mod ir;
pub mod lint;
pub mod opt;
pub mod project;
pub mod quant;
pub mod report;
pub mod surrogate;
pub mod synth;
pub mod testgen;
pub mod tool;
