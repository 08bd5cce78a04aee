//! The project files beside a compiled design's RTL, so the output folder stands on its own: a
//! self-checking Verilog testbench with a stimulus and the golden model's expected outputs, a
//! Makefile (`lint`, `sim`, `synth`), a FuseSoC core, constraint stubs (XDC, PCF) and a README
//! saying how to instantiate the top module.

use crate::backend::Design;
use crate::cosim::{self, stimulus};
use crate::flow::Compiled;
use crate::golden;
use std::fmt::Write;

/// Stimulus of the bundled testbench: samples and steps (two samples exercise `tlast`).
const SAMPLES: usize = 2;
const STEPS: usize = 16;

/// Every project file, as `(path relative to the output folder, contents)`.
pub fn files(c: &Compiled, model: &str) -> Result<Vec<(String, String)>, String> {
    let d = &c.design;
    let top = &d.top;
    let stim = stimulus::random_for(&c.int, SAMPLES, STEPS, 0.3, 1);
    let gold = golden::run(&c.int, &stim).map_err(|e| e.to_string())?;
    let (stim_hex, want_hex) = vectors(c, &stim, &gold);
    let rtl: Vec<String> = d.files.iter().map(|(n, _)| format!("rtl/{n}")).collect();
    Ok(vec![
        (format!("tb/{top}_tb.v"), testbench(d, stim.steps())),
        ("tb/stimulus.hex".into(), stim_hex),
        ("tb/expected.hex".into(), want_hex),
        ("Makefile".into(), makefile(top)),
        (format!("{top}.core"), core(top, model, &rtl)),
        (format!("constraints/{top}.xdc"), xdc()),
        (format!("constraints/{top}.pcf"), pcf(d)),
        ("README.md".into(), readme(d, model)),
    ])
}

/// The stimulus as `{tlast, tdata}` per line and the golden output beats, in hex.
fn vectors(c: &Compiled, stim: &golden::Stimulus, gold: &golden::Trace) -> (String, String) {
    let widths = cosim::input_widths(&c.int);
    let mut s = String::new();
    for sample in &stim.samples {
        for (i, beat) in sample.iter().enumerate() {
            let mut bits = cosim::pack(beat, &widths);
            bits.push(i + 1 == sample.len());
            let _ = writeln!(s, "{}", cosim::hex(&bits));
        }
    }
    let outputs = c.int.outputs();
    let out_widths: Vec<Vec<u32>> = outputs
        .iter()
        .map(|&o| {
            let ty = &c.int.node(o).ty;
            vec![ty.elem_bits().unwrap_or(1); ty.len()]
        })
        .collect();
    let mut w = String::new();
    for step in 0..stim.steps() {
        let mut bits = Vec::new();
        for (o, widths) in outputs.iter().zip(&out_widths) {
            bits.extend(cosim::pack(&gold.values[o.index()][step], widths));
        }
        let _ = writeln!(w, "{}", cosim::hex(&bits));
    }
    (s, w)
}

fn testbench(d: &Design, steps: usize) -> String {
    // Generous: the schedule's bound per step, plus reset and the output register.
    let timeout_ns = 10 * (steps as u64 * (d.cycles_per_step + 2) + 100) * 2;
    format!(
        r#"// Self-checking testbench written by Spikeforge for {top}: drives tb/stimulus.hex (one
// beat a line, {{tlast, tdata}}) into the stream input and compares every output beat with
// tb/expected.hex (the golden model's). Run from the output folder: `make sim` (Verilator 5),
// or `iverilog -o tb.vvp tb/{top}_tb.v rtl/*.v && vvp tb.vvp`.
`timescale 1ns / 1ps
`default_nettype none
module {top}_tb;
    localparam IN = {inb}, OUT = {outb}, STEPS = {steps};
    reg clk = 1'b0;
    reg rst = 1'b1;
    always #5 clk = ~clk;
    reg [IN:0] stim [0:STEPS-1];
    reg [OUT-1:0] want [0:STEPS-1];
    integer sent = 0, got = 0, errors = 0;
    wire s_ready, m_valid, m_last;
    wire [OUT-1:0] m_data;
    // The beat on offer: the next one not yet accepted.
    wire [IN:0] beat = (sent < STEPS) ? stim[sent] : {{(IN + 1){{1'b0}}}};
    wire s_valid = !rst && (sent < STEPS);
    {top} dut (
        .clk(clk), .rst(rst),
        .s_axis_tdata(beat[IN-1:0]), .s_axis_tvalid(s_valid), .s_axis_tready(s_ready),
        .s_axis_tlast(beat[IN]),
        .m_axis_tdata(m_data), .m_axis_tvalid(m_valid), .m_axis_tready(1'b1),
        .m_axis_tlast(m_last)
    );
    initial begin
        $readmemh("tb/stimulus.hex", stim);
        $readmemh("tb/expected.hex", want);
        repeat (4) @(posedge clk);
        rst <= 1'b0;
    end
    always @(posedge clk) begin
        if (s_valid && s_ready) sent <= sent + 1;
        if (!rst && m_valid && got < STEPS) begin
            if (m_data !== want[got]) begin
                errors = errors + 1;
                if (errors <= 5)
                    $display("beat %0d: RTL %h, golden model %h", got, m_data, want[got]);
            end
            got <= got + 1;
        end
        if (got == STEPS) begin
            if (errors == 0) begin
                $display("PASS: %0d output beats match the golden model", STEPS);
                $finish;
            end else begin
                $display("FAIL: %0d of %0d output beats differ", errors, STEPS);
                $stop;
            end
        end
    end
    initial begin
        #{timeout_ns};
        $display("FAIL: timeout after %0d of %0d output beats", got, STEPS);
        $stop;
    end
    wire unused_last = m_last;
endmodule
"#,
        top = d.top,
        inb = d.in_bits,
        outb = d.out_bits,
    )
}

fn makefile(top: &str) -> String {
    format!(
        r#"# Written by Spikeforge. Run from this folder.
#   make lint    verilator --lint-only -Wall on the RTL (clean by construction)
#   make sim     the self-checking testbench in Verilator 5 (tb/expected.hex: golden model)
#   make synth   Yosys for TARGET = xc7 (default), ice40 or ecp5; cell counts in synth.log
# The testbench runs a few dozen beats: unoptimised C++ builds fastest.
TOP := {top}
TARGET ?= xc7
RTL := $(wildcard rtl/*.v)
SYNTH_xc7 := synth_xilinx -family xc7 -flatten -top $(TOP)
SYNTH_ice40 := synth_ice40 -top $(TOP)
SYNTH_ecp5 := synth_ecp5 -top $(TOP)

.PHONY: lint sim synth clean
lint:
	verilator --lint-only -Wall --top-module $(TOP) $(RTL)

sim: obj_dir/$(TOP)_tb
	./obj_dir/$(TOP)_tb

obj_dir/$(TOP)_tb: tb/$(TOP)_tb.v $(RTL)
	verilator --binary --timing -Wno-fatal -Wno-lint -Wno-style --top-module $(TOP)_tb \
	  -MAKEFLAGS "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0" -o $(TOP)_tb tb/$(TOP)_tb.v $(RTL)

synth:
	yosys -q -l synth.log -p "read_verilog $(RTL); $(SYNTH_$(TARGET)); stat"
	@grep -A40 "Number of cells" synth.log | tail -n +1

clean:
	rm -rf obj_dir synth.log
"#
    )
}

fn core(top: &str, model: &str, rtl: &[String]) -> String {
    let list = |files: &[String]| -> String {
        files
            .iter()
            .map(|f| format!("      - {f}\n"))
            .collect::<String>()
    };
    format!(
        r#"CAPI=2:
# FuseSoC core written by Spikeforge from {model}.
name: spikeforge:design:{top}:0.1.0
description: "{top}: spiking network compiled by Spikeforge (AXI-Stream-style ports)"

filesets:
  rtl:
    files:
{rtl}    file_type: verilogSource
  tb:
    files:
      - tb/{top}_tb.v: {{file_type: verilogSource}}
      - tb/stimulus.hex: {{file_type: user, copyto: tb/stimulus.hex}}
      - tb/expected.hex: {{file_type: user, copyto: tb/expected.hex}}
  xdc:
    files:
      - constraints/{top}.xdc: {{file_type: xdc}}
  pcf:
    files:
      - constraints/{top}.pcf: {{file_type: PCF}}

targets:
  default:
    filesets: [rtl]
    toplevel: {top}
  lint:
    default_tool: verilator
    filesets: [rtl]
    toplevel: {top}
    tools:
      verilator:
        mode: lint-only
        verilator_options: [-Wall]
  sim:
    default_tool: icarus
    filesets: [rtl, tb]
    toplevel: {top}_tb
  synth:
    default_tool: yosys
    filesets: [rtl]
    toplevel: {top}
    tools:
      yosys:
        arch: xilinx
"#,
        rtl = list(rtl)
    )
}

fn xdc() -> String {
    "# Constraint stub written by Spikeforge (Vivado XDC). The clock is what Spikeforge's
# estimates assume; pins depend on the board. The stream ports usually connect to on-chip
# logic (a DMA, a sensor interface), not to pins.
create_clock -period 10.000 -name clk [get_ports clk]
# set_property -dict {PACKAGE_PIN E3 IOSTANDARD LVCMOS33} [get_ports clk]
# set_property -dict {PACKAGE_PIN D9 IOSTANDARD LVCMOS33} [get_ports rst]
"
    .to_string()
}

fn pcf(d: &Design) -> String {
    format!(
        "# Constraint stub written by Spikeforge (nextpnr-ice40 PCF): set the pins of your
# board. The stream ports ({} input and {} output data bits) usually connect to on-chip
# logic; nextpnr needs --pcf-allow-unconstrained while they stay unplaced.
# set_io clk 35
# set_io rst 10
",
        d.in_bits, d.out_bits
    )
}

fn readme(d: &Design, model: &str) -> String {
    let top = &d.top;
    let schedule = if d.folded {
        format!(
            "Folded: `s_axis_tready` is high while the layers are idle; an accepted beat starts \
             the layers, and its output beat appears {} cycles later{}. One timestep per {} \
             clocks at most.",
            d.cycles_per_step,
            if d.data_dependent {
                " at most (event-driven layers finish early on sparse input)"
            } else {
                ""
            },
            d.cycles_per_step + 1
        )
    } else {
        "Parallel: a timestep happens in the cycle its input beat is accepted; the output beat \
         is valid from the next cycle (a two-entry skid buffer), one timestep per clock."
            .to_string()
    };
    let wave = if d.folded {
        format!(
            "clk            _/‾\\_/‾\\_/‾\\_ ... _/‾\\_/‾\\_\n\
             s_axis_tvalid  ‾‾‾‾‾‾‾‾\\______________________\n\
             s_axis_tready  ‾‾‾‾‾‾‾‾\\___ ... ______/‾‾‾‾\n\
             m_axis_tvalid  ____________ ... ___/‾‾‾‾‾‾\\_\n\
             \x20              |<-- {} cycles -->|",
            d.cycles_per_step
        )
    } else {
        "clk            _/‾\\_/‾\\_/‾\\_/‾\\_\n\
         s_axis_tvalid  ‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾\n\
         s_axis_tdata   =x0==x1==x2==x3=\n\
         m_axis_tvalid  ____/‾‾‾‾‾‾‾‾‾‾‾‾\n\
         m_axis_tdata   ====y0==y1==y2=="
            .to_string()
    };
    format!(
        r#"# {top}

Written by Spikeforge from `{model}`. `rtl/` holds the Verilog-2005 (top module `{top}` in
`rtl/{top}.v`, whose header comment lists the bit position of every input and output element).

## Ports

| port | dir | width | meaning |
|---|---|---|---|
| `clk` | in | 1 | clock (estimates assume 100 MHz) |
| `rst` | in | 1 | synchronous, active high: clears all state |
| `s_axis_tdata` | in | {inb} | one timestep's input (element 0 of the first input at bit 0) |
| `s_axis_tvalid` / `s_axis_tready` | in / out | 1 | handshake; `tready` comes from a register |
| `s_axis_tlast` | in | 1 | last timestep of a sample: state is cleared after it |
| `m_axis_tdata` | out | {outb} | that timestep's outputs (first output at bit 0) |
| `m_axis_tvalid` / `m_axis_tready` | out / in | 1 | handshake |
| `m_axis_tlast` | out | 1 | the input beat's `tlast`, forwarded |

## Timing

{schedule}

```
{wave}
```

## Instantiation

```verilog
{top} u_snn (
    .clk(clk), .rst(rst),
    .s_axis_tdata(in_data), .s_axis_tvalid(in_valid), .s_axis_tready(in_ready),
    .s_axis_tlast(in_last),
    .m_axis_tdata(out_data), .m_axis_tvalid(out_valid), .m_axis_tready(out_ready),
    .m_axis_tlast(out_last)
);
```

## Files and commands

- `make lint`: Verilator's `-Wall` lint (clean). `make sim`: the self-checking testbench
  `tb/{top}_tb.v` ({samples} samples of {steps} random steps; expected beats from Spikeforge's
  golden model). `make synth TARGET=xc7|ice40|ecp5`: Yosys.
- `{top}.core`: FuseSoC (`fusesoc --cores-root . run --target=lint spikeforge:design:{top}`).
- `constraints/`: clock and pin stubs for Vivado (XDC) and nextpnr-ice40 (PCF).
- `report.html`: the model, per-layer resources and plots; `report.json`: the same as data.
"#,
        inb = d.in_bits,
        outb = d.out_bits,
        samples = SAMPLES,
        steps = STEPS,
    )
}
