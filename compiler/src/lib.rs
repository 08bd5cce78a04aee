//! Spikeforge: compile spiking neural networks to verified, synthesizable Verilog.
//!
//! Data flows one way: [`frontend`] -> [`ir`] (float) -> [`quant`] -> [`ir`] (integer) ->
//! [`golden`] (bit-exact executor) and [`backend`] (Verilog) -> [`cosim`] (Verilator against the
//! golden model) and [`synth`] (Yosys).

pub mod backend;
pub mod cosim;
pub mod flow;
pub mod frontend;
pub mod golden;
pub mod ir;
pub mod quant;
pub mod synth;
pub mod testgen;
pub mod tool;
