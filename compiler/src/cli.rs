//! The `spikeforge` command line: thin glue over `crate::flow`. The binary calls [`main`];
//! the Python package calls [`run_args`] with the same arguments, so both speak one language.

use crate::backend::Arch;
use crate::cosim::stimulus;
use crate::flow::{self, Compiled};
use crate::frontend::conventions::{Conventions, Framework};
use crate::golden::Stimulus;
use crate::quant::QuantOptions;
use crate::{cosim, ir, synth};
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `println!` unless `--quiet`: for a command's summary lines, not for the output it exists to
/// print (JSON, lint findings, the target list).
macro_rules! say {
    ($($t:tt)*) => {
        if !quiet() {
            println!($($t)*);
        }
    };
}

#[derive(Parser)]
#[command(
    name = "spikeforge",
    version,
    about = "Compile spiking neural networks (NIR) to verified, synthesizable Verilog"
)]
struct Cli {
    /// Stop any external tool run (Verilator, Yosys, the simulator) that takes longer than
    /// this many seconds, with an error saying so.
    #[arg(long, global = true, value_name = "SECONDS")]
    timeout: Option<u64>,
    /// Threads for the optimiser (default: the machine's cores, at most 8). Outputs are the
    /// same for any count.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: Option<u64>,
    /// Print nothing but errors (no summary, no progress); the exit code still says how it went.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Quantise a model and write Verilog, IR dumps and report.json.
    ///
    /// Example: spikeforge compile model.nir -o out/model --weight-bits 8 --dump-ir
    Compile(Common),
    /// Run the golden model (and the float reference) and report spike agreement.
    ///
    /// Example: spikeforge sim model.nir -T 100
    Sim(SimArgs),
    /// Compile, then run the RTL in Verilator against the golden model.
    ///
    /// Example: spikeforge cosim model.nir -T 256 --stimulus random
    Cosim(SimArgs),
    /// Compile, then synthesise with Yosys and report LUT/FF/CARRY/BRAM/DSP, utilisation and
    /// logic depth; with --pnr, place and route (iCE40, ECP5) for fmax; --target asic for
    /// gates, transistors and NAND2 equivalents (--liberty for a cell library's area).
    ///
    /// Example: spikeforge synth model.nir --target ice40up5k --pnr
    Synth(SynthArgs),
    /// Predict LUT, FF, DSP and BRAM per layer and in total from the learned surrogate (no
    /// Yosys; milliseconds), with device utilisation and the schedule's exact cycles.
    ///
    /// Example: spikeforge estimate model.nir --target ice40up5k
    Estimate(EstimateArgs),
    /// Write a commented spikeforge.toml for a model: the [model] defaults, and a table per
    /// neuron kind and layer (what the file says of each), to edit and pass with --config.
    ///
    /// Example: spikeforge init model.nir -o spikeforge.toml
    Init(InitArgs),
    /// Print a shell completion script.
    ///
    /// Example: spikeforge completions bash > /etc/bash_completion.d/spikeforge
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Report pitfalls: defaulted fields, a dt that contradicts the exporter's convention,
    /// Euler overshoot, weights and leaks the chosen precision rounds away.
    ///
    /// Example: spikeforge lint model.nir --dt 1e-3
    Lint(Common),
    /// Synthesise a deterministic sweep of random designs with Yosys, one JSON line each:
    /// ground truth for the resource estimate. Shard with --shard i/K (any scheduler), resume by
    /// running again, join with `dataset merge`.
    ///
    /// Example: spikeforge dataset --target xc7a35t --n 1000 --seed 1 --shard 0/4 -o xc7.0.jsonl
    Dataset(DatasetArgs),
    /// Fit the resource surrogate to dataset files (each design recompiled from its spec; kept
    /// while its RTL is what Yosys saw) and report its error on each model family held out.
    ///
    /// Example: spikeforge surrogate train xc7a35t.jsonl -o xc7a35t.surrogate.json
    Surrogate {
        #[command(subcommand)]
        cmd: SurrogateCmd,
    },
    /// List the built-in target devices: capacities and how timing is measured.
    ///
    /// Example: spikeforge targets --json
    Targets {
        /// Print every target's full description (the target file's fields) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A constant matrix times a vector as a shift-add Verilog block (what hardwired layers
    /// use). The matrix file is JSON: {"weights": [[w00, w01, ...], ...]}, one row per output.
    ///
    /// Example: spikeforge cmvm matrix.json --input-bits 8 -o block.v --json
    Cmvm(CmvmArgs),
    /// A function of one fixed-point input as a ramp-family unit: `ramp` (a counter against
    /// stored thresholds thr_k = f^-1(k)), `bsearch`, `parallel` (thermometer) or `rom`.
    /// Non-monotone functions (gelu, silu) count rising and falling steps. Reports the maximum
    /// error in output LSBs; `--verify` runs every input in Verilator.
    ///
    /// Example: spikeforge ramp sigmoid --in-bits 12 --in-frac 8 --out-bits 5 -o out/sigmoid --verify --target xc7a35t
    Ramp(RampArgs),
}

#[derive(Args, Clone)]
struct RampArgs {
    /// sigmoid, tanh, gelu, silu, exp or recip.
    function: String,
    /// Input width (signed unless --in-unsigned).
    #[arg(long, default_value_t = 12)]
    in_bits: u32,
    /// Input fraction bits: the input means x / 2^in_frac.
    #[arg(long, default_value_t = 8)]
    in_frac: i32,
    #[arg(long)]
    in_unsigned: bool,
    /// Output width (unsigned unless --out-signed).
    #[arg(long, default_value_t = 5)]
    out_bits: u32,
    /// Output fraction bits: the output means y / 2^out_frac. Default: out_bits (unsigned) or
    /// out_bits - 1 (signed), i.e. [0, 1) or [-1, 1) in full scale.
    #[arg(long)]
    out_frac: Option<i32>,
    #[arg(long)]
    out_signed: bool,
    /// ramp, bsearch, parallel, rom, or all.
    #[arg(long, default_value = "all")]
    variant: String,
    /// Output folder (one `<module>.v` per variant).
    #[arg(short, long)]
    out: PathBuf,
    /// Simulate every input in Verilator against the table (results and cycle counts).
    #[arg(long)]
    verify: bool,
    /// Also synthesise with Yosys for this target.
    #[arg(long)]
    target: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Clone)]
struct CmvmArgs {
    /// JSON file with integer "weights", one row per output.
    matrix: PathBuf,
    /// Bits per input: 1 for spikes (0 or 1), otherwise signed two's complement.
    #[arg(long, default_value_t = 1)]
    input_bits: u32,
    /// Verilog file to write.
    #[arg(short, long)]
    out: PathBuf,
    /// Module name.
    #[arg(long, default_value = "cmvm")]
    module: String,
    /// Print the statistics as JSON.
    #[arg(long)]
    json: bool,
}

/// Reads {"weights": [[int]]} as (row-major weights, rows).
fn read_matrix(path: &Path) -> Result<(Vec<i64>, usize), String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if meta.len() > 256 << 20 {
        return Err(format!(
            "{shown}: {} bytes is too large for a matrix",
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
    let rows = v["weights"]
        .as_array()
        .ok_or_else(|| format!("{shown}: expected {{\"weights\": [[...], ...]}}"))?;
    let mut w = Vec::new();
    let mut cols = None;
    for (r, row) in rows.iter().enumerate() {
        let row = row
            .as_array()
            .ok_or_else(|| format!("{shown}: weights row {r} is not an array"))?;
        if *cols.get_or_insert(row.len()) != row.len() {
            return Err(format!(
                "{shown}: weights row {r} has {} entries, row 0 has {}",
                row.len(),
                cols.unwrap_or(0)
            ));
        }
        for (c, x) in row.iter().enumerate() {
            w.push(
                x.as_i64()
                    .ok_or_else(|| format!("{shown}: weights[{r}][{c}] = {x} is not an integer"))?,
            );
        }
    }
    Ok((w, rows.len()))
}

#[derive(Args, Clone)]
struct Common {
    /// Model file: .nir (NIR, HDF5) or .sfir (Spikeforge IR text).
    model: PathBuf,
    /// Output folder (default: out/<model name>).
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Write into an output folder that holds files Spikeforge did not write (they are kept;
    /// only Spikeforge's own files are replaced).
    #[arg(long)]
    force: bool,
    /// Signed bits per weight (default: the config's [model] weight_bits, else 8).
    #[arg(long)]
    weight_bits: Option<u32>,
    /// Timestep in seconds (NIR stores none). Default: the framework's (snnTorch 1e-4, Norse
    /// 1e-3), else 1e-4.
    #[arg(long)]
    dt: Option<f64>,
    /// Reproduce a framework's simulation: its reset, threshold comparison and timestep
    /// (`--reset`, `--threshold`, `--dt` still override). Default: the framework the file's
    /// metadata names (`source`/`framework`/`exporter`), else NIR's own semantics.
    #[arg(long, value_enum)]
    framework: Option<FrameworkArg>,
    /// Fraction bits of the leak constants.
    #[arg(long, default_value_t = 12)]
    frac_bits: u32,
    /// Widest neuron state; wider states saturate.
    #[arg(long, default_value_t = 32)]
    max_state_bits: u32,
    /// Fraction bits of neuron state below a weight step (finer leak rounding; 3 lifts the
    /// Braille network's 8-bit output agreement from 96.3% to 98.9%).
    #[arg(long, default_value_t = 3)]
    guard_bits: u32,
    /// Reset every spiking neuron to v_reset (`zero`, NIR) or by subtracting the threshold
    /// (`subtract`, Sinabs) in the step that spikes, or in the next step as snnTorch does
    /// (`subtract-next` for reset_mechanism="subtract", `zero-next` for "zero").
    #[arg(long, value_enum)]
    reset: Option<ResetArg>,
    /// Spike when v > threshold (`gt`, NIR) or v >= threshold (`ge`, SpikingJelly).
    #[arg(long, value_enum)]
    threshold: Option<CompareArg>,
    /// Layer architecture: `parallel` (weights in logic, one timestep per cycle), `folded`
    /// (time-multiplexed cores, weights in ROM, state in RAM) or `auto` (folded above 65,536
    /// unrolled synapses).
    #[arg(long, value_enum)]
    arch: Option<ArchArg>,
    /// One layer's architecture, overriding --arch and the config: NAME=parallel, NAME=folded
    /// or NAME=folded:R (R output channels share an accumulator); a multi_threshold node takes
    /// ramp, bsearch, parallel or rom; a matmul by a constant matrix serial (one
    /// multiply-accumulate a cycle, the default) or parallel (hardwired rows). Repeatable.
    #[arg(long = "layer-arch", value_name = "NAME=ARCH")]
    layer_arch: Vec<String>,
    /// spikeforge.toml with per-model, per-kind and per-layer choices ([model], [kind.lif],
    /// [layer."name"]; each with arch = "..."); command-line options win.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Choose the layers' architectures (those not set by --layer-arch or the config) so that
    /// a timestep takes at most N cycles: each as folded as the budget allows.
    #[arg(long, value_name = "N")]
    max_cycles: Option<u64>,
    /// The same budget as a time per timestep, in seconds, at --clock.
    #[arg(long, value_name = "SECONDS")]
    max_latency: Option<f64>,
    /// Choose the layers' architectures (those not set by --layer-arch or the config) for the
    /// fewest cycles per timestep whose estimated LUTs stay within N; with --max-cycles or
    /// --max-latency, both must hold.
    #[arg(long, value_name = "N")]
    max_luts: Option<u64>,
    /// Clock for --max-latency, in MHz.
    #[arg(long, default_value_t = 100.0)]
    clock: f64,
    /// Keep every neuron: skip the graph pass that removes neurons which never spike, always
    /// spike with another one, or which nothing reads.
    #[arg(long)]
    no_prune: bool,
    /// Write the IR after each stage as .sfir into <out>/ir/.
    #[arg(long)]
    dump_ir: bool,
    /// Print the report as JSON on stdout instead of a summary.
    #[arg(long)]
    json: bool,
    /// Print what the optimiser did: per layer, neurons removed by the graph pass (silent,
    /// merged, unread); per hardwired-weight block, adders without and with sharing, the form
    /// chosen and the others tried, estimated LUTs, depth, time (also in report.json under
    /// "prune" and "optimiser").
    #[arg(long)]
    opt_report: bool,
}

#[derive(Args, Clone)]
struct SimArgs {
    #[command(flatten)]
    common: Common,
    /// Timesteps per sample.
    #[arg(short = 'T', long = "steps", default_value_t = 100)]
    steps: usize,
    /// `random` or a stimulus file (a line per step: 0/1 characters, or integers separated by
    /// spaces; a blank line ends a sample).
    #[arg(long, default_value = "random")]
    stimulus: String,
    /// Samples of random stimulus.
    #[arg(long, default_value_t = 1)]
    samples: usize,
    /// Spike probability of random stimulus.
    #[arg(long, default_value_t = 0.3)]
    rate: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// (sim) Write every node's golden values per step to <out>/sim/golden_trace.json.
    #[arg(long)]
    trace: bool,
    /// cosim: also write the RTL's waveforms (every signal, every clock edge) to
    /// <out>/cosim/waves.vcd, for GTKWave or Surfer.
    #[arg(long)]
    vcd: bool,
    /// cosim: write one layer's golden and RTL values side by side, per step and neuron, to
    /// <out>/cosim/layer_<NAME>.csv, and print the first steps.
    #[arg(long, value_name = "NAME")]
    trace_layer: Option<String>,
}

#[derive(Args, Clone)]
struct InitArgs {
    /// Model file (.nir, .onnx, .sfir).
    model: PathBuf,
    /// The config to write.
    #[arg(short, long, default_value = "spikeforge.toml")]
    out: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
    /// Print what was written as JSON (the file, its neuron layers) instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Clone)]
struct EstimateArgs {
    #[command(flatten)]
    common: Common,
    /// Target device name or target .json file (`spikeforge targets` lists them).
    #[arg(long, default_value = "xc7a35t")]
    target: String,
}

#[derive(Args, Clone)]
struct SynthArgs {
    #[command(flatten)]
    common: Common,
    /// Target device name or target .json file (`spikeforge targets` lists them).
    #[arg(long, default_value = "xc7a35t")]
    target: String,
    /// Keep multiplications out of DSP blocks.
    #[arg(long)]
    no_dsp: bool,
    /// Place and route with nextpnr (iCE40, ECP5) and report fmax, latency and throughput.
    #[arg(long)]
    pnr: bool,
    /// Clock to place and route for, MHz (default: the target's).
    #[arg(long, value_name = "MHZ", requires = "pnr")]
    pnr_clock: Option<f64>,
    /// Map to this standard-cell library (Liberty file) and report its area (--target asic).
    #[arg(long, value_name = "FILE")]
    liberty: Option<PathBuf>,
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct DatasetArgs {
    #[command(subcommand)]
    sub: Option<DatasetCmd>,
    /// Target device name or target .json file.
    #[arg(long, default_value = "xc7a35t")]
    target: String,
    /// Designs in the whole sweep.
    #[arg(long, default_value_t = 100)]
    n: u64,
    /// Seed of the sweep: design i depends on (seed, i) alone.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Model families, comma-separated; design i is of family i mod their count (snn, conv,
    /// multi_threshold, int_mlp, spike_attention, int_attention).
    #[arg(long, default_value = "snn,conv,multi_threshold,int_mlp,spike_attention,int_attention",
          value_parser = parse_families)]
    families: Families,
    /// This run's share: i/K runs the designs i, i + K, i + 2K, ...
    #[arg(long, default_value = "0/1", value_parser = parse_shard)]
    shard: (u64, u64),
    /// The JSON-lines file to write (appended to; ids already in it are skipped).
    #[arg(short, long, default_value = "dataset.jsonl")]
    out: PathBuf,
}

#[derive(Subcommand)]
enum DatasetCmd {
    /// Join shard files into one, sorted by id: the file one run writes.
    ///
    /// Example: spikeforge dataset merge xc7.0.jsonl xc7.1.jsonl -o xc7.jsonl
    Merge {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(short, long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum SurrogateCmd {
    /// Fit per-term weights (non-negative, relative error) for LUT and FF; print held-out-family
    /// errors; write the weights as JSON.
    ///
    /// Example: spikeforge surrogate train xc7a35t.jsonl -o xc7a35t.surrogate.json
    Train {
        /// Dataset files of one target (`spikeforge dataset`).
        #[arg(required = true)]
        data: Vec<PathBuf>,
        #[arg(short, long)]
        out: PathBuf,
        /// Also write each design's terms, counts and in-sample predictions as CSV (for plots
        /// and residual analysis).
        #[arg(long, value_name = "CSV")]
        terms: Option<PathBuf>,
        /// Also write predicted-against-synthesised plots (each family held out of training)
        /// as DIR/lut.svg and DIR/ff.svg.
        #[arg(long, value_name = "DIR")]
        plot: Option<PathBuf>,
    },
}

/// A list of dataset families.
#[derive(Clone, Debug)]
struct Families(Vec<&'static str>);

fn parse_families(s: &str) -> Result<Families, String> {
    let list = s
        .split(',')
        .map(|f| {
            crate::dataset::FAMILIES
                .iter()
                .find(|k| **k == f.trim())
                .copied()
                .ok_or_else(|| {
                    format!(
                        "'{f}' is not a family ({})",
                        crate::dataset::FAMILIES.join(", ")
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Families(list))
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (i, k) = s.split_once('/').ok_or("expected i/K, e.g. 0/4")?;
    let (i, k): (u64, u64) = (
        i.parse()
            .map_err(|_| format!("'{i}' is not a shard index"))?,
        k.parse()
            .map_err(|_| format!("'{k}' is not a shard count"))?,
    );
    if k == 0 || i >= k {
        return Err(format!("shard {i}/{k}: need 0 <= i < K"));
    }
    Ok((i, k))
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ResetArg {
    Zero,
    Subtract,
    ZeroNext,
    SubtractNext,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ArchArg {
    Parallel,
    Folded,
    Auto,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FrameworkArg {
    Nir,
    Snntorch,
    Sinabs,
    Norse,
    Spikingjelly,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CompareArg {
    Gt,
    Ge,
}

/// What the model means: its graph after the conventions, the timestep, and where the
/// conventions came from.
/// Loads the model and applies conventions (`flow::load_model`): explicit options over
/// `--framework` over the framework the file's metadata names.
fn load_model(c: &Common) -> Result<flow::Model, String> {
    let framework = c.framework.map(|f| match f {
        FrameworkArg::Nir => Framework::Nir,
        FrameworkArg::Snntorch => Framework::Snntorch,
        FrameworkArg::Sinabs => Framework::Sinabs,
        FrameworkArg::Norse => Framework::Norse,
        FrameworkArg::Spikingjelly => Framework::SpikingJelly,
    });
    flow::load_model(&c.model, framework, conventions(c), c.dt)
}

fn conventions(c: &Common) -> Conventions {
    Conventions {
        reset: c.reset.map(|r| match r {
            ResetArg::Zero => ir::Reset::Zero,
            ResetArg::Subtract => ir::Reset::Subtract,
            ResetArg::ZeroNext => ir::Reset::ZeroNext,
            ResetArg::SubtractNext => ir::Reset::SubtractNext,
        }),
        compare: c.threshold.map(|t| match t {
            CompareArg::Gt => ir::Compare::Gt,
            CompareArg::Ge => ir::Compare::Ge,
        }),
    }
}

/// The `spikeforge` binary: parses `std::env::args`, runs, prints errors, sets the exit code.
pub fn main() -> ExitCode {
    // Panics inside the HDF5 reader on malformed files are caught and reported as one-line
    // errors by the NIR frontend, so they print nothing here; any other panic is a bug and
    // prints one line saying so.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| l.file().to_string())
            .unwrap_or_default();
        // A closed stdout (`spikeforge ... | head`) ends the program quietly, as a SIGPIPE
        // would; Rust ignores the signal and makes `println!` panic instead.
        if info.to_string().contains("failed printing to stdout") {
            std::process::exit(141);
        }
        if !at.contains("hdf5-pure") {
            eprintln!("error: internal error (please report it): {info}");
        }
    }));
    match run(Cli::parse()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            // On a terminal, a located error (FILE:LINE:COL: ...) also shows the source line;
            // scripts reading stderr still get the one line.
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                if let Some(x) = excerpt(&e) {
                    eprint!("{x}");
                }
            }
            ExitCode::from(1)
        }
    }
}

fn opts(c: &Common, dt: f64, choices: &crate::config::Choices) -> QuantOptions {
    QuantOptions {
        weight_bits: c.weight_bits.or(choices.weight_bits).unwrap_or(8),
        dt,
        frac_bits: c.frac_bits,
        max_state_bits: c.max_state_bits,
        guard_bits: c.guard_bits,
        layer_weight_bits: choices.layer_weight_bits.clone(),
    }
}

fn out_dir(c: &Common, g: &ir::Graph) -> PathBuf {
    c.out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(sanitize(&g.name)))
}

fn sanitize(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() {
        "model".into()
    } else {
        t
    }
}

/// Writes `text` to `path` whole or not at all: into a hidden sibling, then renamed over it.
fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let tmp = path.with_file_name(format!(".{name}.partial"));
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Refuses an output folder that holds anything but Spikeforge's own output, unless `force`:
/// a mistyped `-o` must not scatter files into a project folder.
fn check_out_dir(dir: &Path, force: bool) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(()); // absent: created fresh
    };
    let ours = [
        "report.json",
        "timing.json",
        "report.html",
        "traces.json",
        "rtl",
        "ir",
        "cosim",
        "synth",
        "sim",
        "Makefile",
        "README.md",
        "constraints",
        "tb",
        "obj_dir",
        "synth.log",
    ];
    let foreign: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !ours.contains(&n.as_str()) && !n.starts_with('.') && !n.ends_with(".core"))
        .collect();
    let has_report = std::fs::read_to_string(dir.join("report.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .is_some_and(|v| v.get("model").is_some());
    if force || (foreign.is_empty() && (has_report || !dir.join("rtl").exists())) {
        return Ok(());
    }
    Err(format!(
        "{}: the output folder holds files Spikeforge did not write ({}); choose another -o or \
         pass --force",
        dir.display(),
        if foreign.is_empty() {
            "an rtl folder without report.json".to_string()
        } else {
            foreign.join(", ")
        }
    ))
}

/// The design's Verilog in `dir/rtl`, replacing the folder whole: written beside it, then
/// renamed in, so no stale module from an earlier compile stays and a failed run leaves the
/// old folder intact.
fn write_rtl_folder(design: &crate::backend::Design, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let staged = dir.join(".rtl.partial");
    let _ = std::fs::remove_dir_all(&staged);
    cosim::write_rtl(design, &staged).map_err(|e| e.to_string())?;
    let rtl = dir.join("rtl");
    if rtl.exists() {
        std::fs::remove_dir_all(&rtl).map_err(|e| format!("{}: {e}", rtl.display()))?;
    }
    std::fs::rename(&staged, &rtl).map_err(|e| format!("{}: {e}", rtl.display()))?;
    Ok(design
        .files
        .iter()
        .map(|(name, _)| rtl.join(name))
        .collect())
}

fn ramp(a: &RampArgs) -> Result<(), String> {
    use crate::backend::ramp::Variant;
    use crate::quant::table::{tabulate, Fixed, Func};
    let func = Func::parse(&a.function).ok_or_else(|| {
        let names: Vec<&str> = Func::ALL.iter().map(|f| f.name()).collect();
        format!(
            "unknown function '{}' (expected one of: {})",
            a.function,
            names.join(", ")
        )
    })?;
    let variants: Vec<Variant> = match a.variant.as_str() {
        "all" => Variant::ALL.to_vec(),
        v => vec![Variant::parse(v).ok_or_else(|| {
            format!("unknown variant '{v}' (expected ramp, bsearch, parallel, rom or all)")
        })?],
    };
    let input = Fixed {
        bits: a.in_bits,
        frac: a.in_frac,
        signed: !a.in_unsigned,
    };
    let output = Fixed {
        bits: a.out_bits,
        frac: a
            .out_frac
            .unwrap_or(a.out_bits as i32 - i32::from(a.out_signed)),
        signed: a.out_signed,
    };
    let table = tabulate(func, input, output).map_err(|e| e.to_string())?;
    let target = a.target.as_deref().map(synth::target::load).transpose()?;
    let mut reports = Vec::new();
    for v in variants {
        let r =
            flow::ramp(&table, v, &a.out, a.verify, target.as_ref()).map_err(|e| e.to_string())?;
        if let Some(c) = &r.check {
            if c.mismatches > 0 {
                return Err(format!(
                    "{}: {} of {} inputs disagree with the table (RTL in {})",
                    r.unit.module,
                    c.mismatches,
                    c.inputs,
                    a.out.display()
                ));
            }
        }
        if !a.json {
            let synth = r.synth.as_ref().map_or(String::new(), |s| {
                format!(", {} LUT, {} FF, {} BRAM36", s.lut, s.ff, s.bram36)
            });
            let check = r
                .check
                .as_ref()
                .map_or(String::new(), |c| format!(", {} inputs verified", c.inputs));
            say!(
                "{:<9} {:>4} thresholds, at most {:>3} cycles{synth}{check}",
                v.name(),
                r.unit.thresholds,
                r.unit.max_cycles
            );
        }
        reports.push(r);
    }
    let report = json!({
        "function": func.name(),
        "input": input,
        "output": output,
        "thresholds": table.thresholds.len(),
        "monotone": table.monotone,
        "max_error_lsb": table.max_error_lsb,
        "max_rounding_lsb": table.max_rounding_lsb,
        "units": reports,
    });
    write_report(&a.out, None, &report)?;
    if a.json {
        println!("{report}");
    } else {
        say!(
            "{}: max error {:.3} LSB ({:.3} from rounding inside the output range); report in {}",
            func.name(),
            table.max_error_lsb,
            table.max_rounding_lsb,
            a.out.join("report.json").display()
        );
    }
    Ok(())
}

/// The `--opt-report` tables.
fn opt_report(
    prune: &crate::opt::prune::PruneReport,
    blocks: &[(String, crate::backend::hardwired::BlockStats)],
) -> String {
    let mut out = format!(
        "optimiser: graph pruning ({:.3}s): {} neurons removed, nonzero weights {} -> {}\n",
        prune.seconds,
        prune.neurons_removed(),
        prune.weights_before,
        prune.weights_after
    );
    if !prune.layers.is_empty() {
        out.push_str(&format!(
            "  {:<24} {:>8} {:>8} {:>7} {:>7} {:>7}\n",
            "layer", "neurons0", "neurons", "silent", "merged", "unread"
        ));
    }
    for l in &prune.layers {
        let gone = l.neurons_before - l.neurons_after;
        out.push_str(&format!(
            "  {:<24} {:>8} {:>8} {:>7} {:>7} {:>7}\n",
            l.node,
            l.neurons_before,
            l.neurons_after,
            l.silent,
            l.merged,
            gone.saturating_sub(l.silent + l.merged)
        ));
    }
    if !prune.dead_nodes.is_empty() {
        out.push_str(&format!(
            "  dead nodes removed: {}\n",
            prune.dead_nodes.join(", ")
        ));
    }
    out.push_str("optimiser: constant matrix-vector products (hardwired-weight blocks)\n");
    if blocks.is_empty() {
        out.push_str("  no hardwired-weight blocks (folded layers keep weights in memory)\n");
        return out;
    }
    out.push_str(&format!(
        "  {:<24} {:>8} {:>8} {:>9} {:>6} {:>9}  {}\n",
        "layer", "adders0", "adders", "est. LUT", "depth", "time", "form (estimates tried)"
    ));
    for (name, b) in blocks {
        // Restarts of one form show as its best estimate and how many were tried.
        let mut forms: Vec<(&str, u64, usize)> = Vec::new();
        for (f, c) in &b.solver.tried {
            match forms.iter_mut().find(|(g, _, _)| g == f) {
                Some(e) => {
                    e.1 = e.1.min(*c);
                    e.2 += 1;
                }
                None => forms.push((f, *c, 1)),
            }
        }
        let tried: Vec<String> = forms
            .iter()
            .map(|(f, c, n)| match n {
                1 => format!("{f} {c}"),
                _ => format!("{f} {c} (best of {n})"),
            })
            .collect();
        out.push_str(&format!(
            "  {:<24} {:>8} {:>8} {:>9} {:>6} {:>8.3}s  {} ({})\n",
            name,
            b.solver.naive_adders,
            b.adders,
            b.onebit_adders,
            b.depth,
            b.solver.seconds,
            b.solver.form,
            tried.join(", ")
        ));
    }
    out
}

/// Loads, compiles, writes RTL, IR dumps and the compile part of the report.
fn compile(c: &Common) -> Result<(Compiled, PathBuf, Vec<PathBuf>, Value, f64), String> {
    let m = load_model(c)?;
    let (mut g, dt) = (m.graph, m.dt);
    let dir = out_dir(c, &g);
    check_out_dir(&dir, c.force)?;
    let choices = match &c.config {
        Some(p) => {
            let ch = crate::config::load(p)?
                .choices(&g)
                .map_err(|e| format!("{}: {e}", p.display()))?;
            // The [model] conventions where the command line set none, then kinds' and
            // layers' (more specific, so they win over both).
            let explicit = conventions(c);
            let model = crate::frontend::conventions::Conventions {
                reset: ch.conventions.reset.filter(|_| explicit.reset.is_none()),
                compare: ch
                    .conventions
                    .compare
                    .filter(|_| explicit.compare.is_none()),
            };
            let apply = |g: &mut ir::Graph, layer: Option<&str>, conv| {
                match layer {
                    None => crate::frontend::conventions::apply(g, conv),
                    Some(l) => crate::frontend::conventions::apply_to(g, l, conv),
                }
                .map_err(|e| format!("{}: {e}", p.display()))
            };
            apply(&mut g, None, &model)?;
            for (layer, conv) in &ch.layer_conventions {
                apply(&mut g, Some(layer), conv)?;
            }
            ch
        }
        None => Default::default(),
    };
    let frontend_ir = c.dump_ir.then(|| ir::text::print(&g));
    let arch = match c.arch {
        Some(ArchArg::Parallel) => Arch::Parallel,
        Some(ArchArg::Folded) => Arch::Folded,
        Some(ArchArg::Auto) => Arch::Auto,
        None => choices.arch.unwrap_or(Arch::Auto),
    };
    // An explicit --arch replaces the config's model-wide default; per-layer choices stay.
    let mut layers = choices.layers.clone();
    for spec in &c.layer_arch {
        let (name, a) = spec
            .split_once('=')
            .ok_or_else(|| format!("--layer-arch '{spec}': expected NAME=ARCH"))?;
        let la =
            crate::backend::LayerArch::parse(a).map_err(|e| format!("--layer-arch {name}: {e}"))?;
        layers.insert(name.to_string(), la);
    }
    let max_cycles = match (c.max_cycles, c.max_latency) {
        (Some(n), None) => Some(n),
        (None, Some(t)) if t > 0.0 && c.clock > 0.0 && (t * c.clock * 1e6).is_finite() => {
            // A hair above, so 1 us at 100 MHz is 100 cycles despite rounding.
            Some((t * c.clock * 1e6 * (1.0 + 1e-12)).floor() as u64)
        }
        (None, Some(t)) => {
            return Err(format!(
                "--max-latency {t} at --clock {} MHz is not a budget",
                c.clock
            ))
        }
        (Some(_), Some(_)) => return Err("give --max-cycles or --max-latency, not both".into()),
        (None, None) => None,
    };
    let options = flow::Options {
        quant: opts(c, dt, &choices),
        arch,
        layers,
        prune: !c.no_prune,
        max_cycles,
        max_luts: c.max_luts,
    };
    let compiled = flow::compile_opts(g, &options).map_err(|e| e.to_string())?;
    if c.opt_report {
        // On stderr, so `--json` output stays parseable.
        eprint!("{}", opt_report(&compiled.prune, &compiled.design.blocks));
    }
    let rtl = write_rtl_folder(&compiled.design, &dir)?;
    for (name, text) in crate::project::files(&compiled, &c.model.display().to_string())? {
        write(&dir.join(name), &text)?;
    }
    if let Some(text) = frontend_ir {
        write(&dir.join("ir/01-frontend.sfir"), &text)?;
        write(
            &dir.join("ir/02-quant.sfir"),
            &ir::text::print(&compiled.quantised),
        )?;
        write(
            &dir.join("ir/03-pruned.sfir"),
            &ir::text::print(&compiled.int),
        )?;
    }
    let report = json!({
        "model": c.model.display().to_string(),
        "top": compiled.design.top,
                    "options": {"weight_bits": options.quant.weight_bits, "dt": dt, "frac_bits": c.frac_bits, "max_state_bits": c.max_state_bits, "guard_bits": c.guard_bits,
                    "framework": m.framework.map(|(f, _)| f.name()), "framework_from": m.framework.map(|(_, why)| why),
                    "reset": c.reset.map(|r| match r { ResetArg::Zero => "zero", ResetArg::Subtract => "subtract", ResetArg::ZeroNext => "zero-next", ResetArg::SubtractNext => "subtract-next" }),
                    "threshold": c.threshold.map(|t| match t { CompareArg::Gt => "gt", CompareArg::Ge => "ge" }),
                    "arch": c.arch.map(|a| match a { ArchArg::Parallel => "parallel", ArchArg::Folded => "folded", ArchArg::Auto => "auto" }),
                    "layer_arch": c.layer_arch, "config": c.config.as_ref().map(|p| p.display().to_string()),
                    "prune": !c.no_prune},
        "arch": if compiled.design.folded { "folded" } else { "parallel" },
        "layer_archs": compiled.design.layers.iter().map(|(n, a, cy)| json!({"node": n, "arch": a.to_string(), "cycles": cy})).collect::<Vec<_>>(),
        "cycles_per_step": compiled.design.cycles_per_step,
        "input_bits": compiled.design.in_bits,
        "output_bits": compiled.design.out_bits,
        "layers": compiled.layers,
        "prune": compiled.prune,
        "choice": compiled.choice,
        "optimiser": compiled.design.blocks.iter().map(|(n, b)| json!({"node": n, "block": b})).collect::<Vec<_>>(),
        "rtl": compiled.design.files.iter().map(|(n, _)| format!("rtl/{n}")).collect::<Vec<_>>(),
        "estimate": estimate_on(&compiled, DEFAULT_ESTIMATE_TARGET),
    });
    // The folder describes its RTL even when a later step (cosim, synth) fails.
    save(&dir, &report)?;
    Ok((compiled, dir, rtl, report, dt))
}

/// The device every compile report estimates for (`estimate` and `synth` use their own).
const DEFAULT_ESTIMATE_TARGET: &str = "xc7a35t";

/// The surrogate's estimate on `target` as report JSON (null where no weights were trained).
fn estimate_on(c: &Compiled, target: &str) -> Value {
    synth::target::load(target)
        .and_then(|t| crate::surrogate::estimate::estimate(c, &t))
        .ok()
        .and_then(|e| serde_json::to_value(e).ok())
        .unwrap_or(Value::Null)
}

/// Writes one layer's golden and RTL values side by side (`cosim/layer_<name>.csv`); returns
/// the lines to print: where the file is and the first steps.
fn trace_layer(
    c: &Compiled,
    s: &Stimulus,
    dir: &Path,
    id: ir::NodeId,
) -> Result<Vec<String>, String> {
    let name = &c.int.node(id).name;
    let path = dir.join("cosim/trace.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let rtl = crate::cosim::rtl_values(&c.design, &text, id).ok_or_else(|| {
        format!("--trace-layer {name}: the design does not trace this node's values")
    })?;
    let golden = crate::golden::run(&c.int, s).map_err(|e| e.to_string())?;
    let want = &golden.values[id.index()];
    let mut csv = String::from("step,neuron,golden,rtl\n");
    let mut lines = Vec::new();
    for (t, (g, r)) in want.iter().zip(&rtl).enumerate() {
        for (j, (a, b)) in g.iter().zip(r).enumerate() {
            csv.push_str(&format!("{t},{j},{a},{b}\n"));
        }
        if t < 4 {
            let show = |v: &[i64]| {
                let head: Vec<String> = v.iter().take(12).map(|x| x.to_string()).collect();
                format!(
                    "[{}{}]",
                    head.join(" "),
                    if v.len() > 12 { " ..." } else { "" }
                )
            };
            lines.push(format!("  step {t}: golden {}  rtl {}", show(g), show(r)));
        }
    }
    let file = dir.join(format!("cosim/layer_{}.csv", sanitize(name)));
    write(&file, &csv)?;
    lines.insert(
        0,
        format!("layer '{name}' side by side: {}", file.display()),
    );
    Ok(lines)
}

/// Keeps the first sample's spikes and membranes for the HTML report.
fn save_traces(
    dir: &Path,
    c: &Compiled,
    s: &Stimulus,
    golden: Option<&crate::golden::Trace>,
    source: &str,
) -> Result<(), String> {
    let first = Stimulus {
        samples: s.samples.iter().take(1).cloned().collect(),
    };
    let run;
    let trace = match golden {
        Some(t) => t,
        None => {
            run = crate::golden::run(&c.int, &first).map_err(|e| e.to_string())?;
            &run
        }
    };
    let t = crate::report::traces(&c.int, trace, first.steps(), source);
    write(
        &dir.join("traces.json"),
        &serde_json::to_string(&t).map_err(|e| e.to_string())?,
    )
}

fn stim(a: &SimArgs, g: &ir::Graph) -> Result<Stimulus, String> {
    if a.stimulus == "random" {
        Ok(stimulus::random_for(
            g,
            a.samples.max(1),
            a.steps.max(1),
            a.rate,
            a.seed,
        ))
    } else {
        let text =
            std::fs::read_to_string(&a.stimulus).map_err(|e| format!("{}: {e}", a.stimulus))?;
        stimulus::parse(&text, &stimulus::input_ranges(g))
            .map_err(|e| format!("{}: {e}", a.stimulus))
    }
}

/// Moves every wall-clock field (`seconds`, `*_seconds`) of `v` into a value of the same
/// shape, so what remains is the same for the same inputs on every run.
fn split_timing(v: &mut Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            let mut t = serde_json::Map::new();
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                if k == "seconds" || k.ends_with("_seconds") {
                    if let Some(x) = m.remove(&k) {
                        t.insert(k, x);
                    }
                } else if let Some(sub) = m.get_mut(&k).and_then(split_timing) {
                    t.insert(k, sub);
                }
            }
            (!t.is_empty()).then_some(Value::Object(t))
        }
        Value::Array(a) => {
            let parts: Vec<Value> = a
                .iter_mut()
                .map(|x| split_timing(x).unwrap_or(Value::Null))
                .collect();
            parts
                .iter()
                .any(|p| !p.is_null())
                .then_some(Value::Array(parts))
        }
        _ => None,
    }
}

/// report.json (byte-identical for the same inputs and options) and timing.json (the
/// wall-clock times, in the same layout), each section of `fresh` replacing the one of the
/// same name in `kept` (the sections earlier commands wrote, or nothing).
fn write_report(dir: &Path, kept: Option<(Value, Value)>, fresh: &Value) -> Result<(), String> {
    let (mut report, mut timing) = kept.unwrap_or_else(|| (json!({}), json!({})));
    if let Some(sections) = fresh.as_object() {
        for (k, v) in sections {
            let mut v = v.clone();
            let t = split_timing(&mut v);
            report[k.as_str()] = v;
            match t {
                Some(t) => timing[k.as_str()] = t,
                None => {
                    timing.as_object_mut().map(|m| m.remove(k));
                }
            }
        }
    }
    let text = |v: &Value| serde_json::to_string_pretty(v).map_err(|e| e.to_string());
    write(&dir.join("report.json"), &text(&report)?)?;
    write(&dir.join("timing.json"), &text(&timing)?)?;
    let traces = std::fs::read_to_string(dir.join("traces.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<crate::report::Traces>(&t).ok());
    write(
        &dir.join("report.html"),
        &crate::report::html(&report, traces.as_ref()),
    )
}

/// Writes report.json and timing.json, keeping the sections (sim, cosim, synth) that earlier
/// commands wrote there for the same model and options, then prints the summary (or the
/// report, with `json_out`).
fn finish(dir: &Path, report: &Value, json_out: bool, summary: &str) -> Result<Done, String> {
    save(dir, report)?;
    let done = Some((dir.to_path_buf(), report.clone()));
    if quiet() {
        return Ok(done);
    }
    if json_out {
        // Scripts get everything, the times included.
        println!(
            "{}",
            serde_json::to_string_pretty(report).map_err(|e| e.to_string())?
        );
    } else {
        println!("{summary}");
        println!("report: {}", dir.join("report.json").display());
    }
    Ok(done)
}

/// What a command leaves: its output folder and report, for commands that write one.
pub type Done = Option<(PathBuf, Value)>;

/// Runs one command given as arguments (`["compile", "model.nir", "--weight-bits", "6"]`,
/// no program name), as the binary would, and returns its folder and report. Global state
/// (quiet, threads, timeout) is set from these arguments each call.
pub fn run_args<I, S>(args: I) -> Result<Done, String>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let argv = std::iter::once(std::ffi::OsString::from("spikeforge"))
        .chain(args.into_iter().map(Into::into));
    // clap's message without its usage block: one line, as every other error.
    let cli = Cli::try_parse_from(argv).map_err(|e| {
        let text = e.render().to_string();
        let first = text.lines().next().unwrap_or_default();
        format!(
            "{} (`spikeforge help` lists the commands and options)",
            first.trim_start_matches("error: ")
        )
    })?;
    run(cli)
}

/// `--quiet`: no summaries, no progress.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// A spinner on stderr while a long step runs (hidden when quiet or not on a terminal).
fn spinner(what: &str) -> indicatif::ProgressBar {
    if quiet() {
        return indicatif::ProgressBar::hidden();
    }
    let p = indicatif::ProgressBar::new_spinner().with_message(what.to_string());
    p.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    p.enable_steady_tick(std::time::Duration::from_millis(120));
    p
}

/// The writing half of [`finish`].
fn save(dir: &Path, report: &Value) -> Result<(), String> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .filter(Value::is_object)
    };
    let kept = read("report.json")
        .filter(|old| old["model"] == report["model"] && old["options"] == report["options"])
        .map(|old| (old, read("timing.json").unwrap_or_else(|| json!({}))));
    if kept.is_none() {
        // Another model or options: the last simulation's traces describe something else.
        let _ = std::fs::remove_file(dir.join("traces.json"));
    }
    write_report(dir, kept, report)
}

/// A fresh private folder for scratch work.
fn tempfile_dir() -> Result<PathBuf, String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let d = std::env::temp_dir().join(format!("spikeforge-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    Ok(d)
}

fn run(cli: Cli) -> Result<Done, String> {
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    crate::tool::set_timeout(cli.timeout.map(std::time::Duration::from_secs));
    if let Some(n) = cli.threads {
        crate::opt::set_threads(n as usize);
    }
    match cli.cmd {
        Cmd::Cmvm(a) => {
            let (w, rows) = read_matrix(&a.matrix)?;
            let t0 = std::time::Instant::now();
            let (text, stats) = crate::opt::matrix_block(&a.module, &w, rows, a.input_bits)
                .map_err(|e| format!("{}: {e}", a.matrix.display()))?;
            let secs = t0.elapsed().as_secs_f64();
            write(&a.out, &text)?;
            if a.json {
                let mut v = serde_json::to_value(&stats).map_err(|e| e.to_string())?;
                v["seconds"] = json!(secs);
                println!("{v}");
            } else {
                say!(
                    "{}: {} adders, {} one-bit adders, depth {} ({:.3} s)",
                    a.out.display(),
                    stats.adders,
                    stats.onebit_adders,
                    stats.depth,
                    secs
                );
            }
            Ok(None)
        }
        Cmd::Ramp(a) => ramp(&a).map(|()| None),
        Cmd::Dataset(a) => match &a.sub {
            Some(DatasetCmd::Merge { inputs, out }) => {
                let paths: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
                let n = crate::dataset::merge(&paths, out)?;
                say!("merged {n} designs into {}", out.display());
                Ok(None)
            }
            None => {
                let target = synth::target::load(&a.target)?;
                let work = tempfile_dir()?;
                let bar = if quiet() {
                    indicatif::ProgressBar::hidden()
                } else {
                    indicatif::ProgressBar::new(0)
                };
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "dataset {bar:30} {pos}/{len} designs, {elapsed} ({eta} left)",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                let ran = crate::dataset::run(
                    &target,
                    a.n,
                    a.seed,
                    &a.families.0,
                    a.shard,
                    &a.out,
                    &work,
                    &mut |k, total| {
                        bar.set_length(total);
                        bar.set_position(k);
                    },
                );
                bar.finish_and_clear();
                let _ = std::fs::remove_dir_all(&work);
                let ran = ran?;
                if !quiet() {
                    println!(
                        "dataset: {ran} designs synthesised for {} into {}",
                        target.name,
                        a.out.display()
                    );
                }
                Ok(None)
            }
        },
        Cmd::Surrogate {
            cmd:
                SurrogateCmd::Train {
                    data,
                    out,
                    terms,
                    plot,
                },
        } => {
            use crate::surrogate;
            let mut all = surrogate::Loaded::default();
            for p in data {
                let l = surrogate::load(&p)?;
                if !all.target.is_empty() && l.target != all.target {
                    return Err(format!(
                        "{}: target {}, the other files {}",
                        p.display(),
                        l.target,
                        all.target
                    ));
                }
                all.target = l.target;
                all.yosys = l.yosys;
                all.failed += l.failed;
                all.stale += l.stale;
                all.samples.extend(l.samples);
            }
            if all.samples.len() < surrogate::features::TERMS.len() {
                return Err(format!(
                    "{} usable designs; at least {} are needed",
                    all.samples.len(),
                    surrogate::features::TERMS.len()
                ));
            }
            say!(
                "{} designs for {} ({} failed syntheses and {} stale records skipped)",
                all.samples.len(),
                all.target,
                all.failed,
                all.stale
            );
            say!(
                "held-out family   designs   LUT APE median / p90   FF APE median / p90   DSP exact   BRAM exact"
            );
            let held_out = surrogate::leave_one_family_out(&all.samples, &all.target);
            for h in &held_out {
                say!(
                    "{:<16} {:>8}   {:>8.1}% / {:>6.1}%      {:>7.1}% / {:>6.1}%   {:>8.1}%   {:>9.1}%",
                    h.family,
                    h.designs,
                    h.lut.0,
                    h.lut.1,
                    h.ff.0,
                    h.ff.1,
                    100.0 * h.dsp_exact,
                    100.0 * h.bram_exact
                );
            }
            let refs: Vec<&surrogate::Sample> = all.samples.iter().collect();
            let mut m = surrogate::fit(&refs, &all.target, &all.yosys);
            m.held_out = held_out;
            std::fs::write(
                &out,
                serde_json::to_string_pretty(&m).map_err(|e| e.to_string())? + "\n",
            )
            .map_err(|e| format!("{}: {e}", out.display()))?;
            say!("weights: {}", out.display());
            if let Some(csv) = terms {
                std::fs::write(&csv, surrogate::csv(&all.samples, &m))
                    .map_err(|e| format!("{}: {e}", csv.display()))?;
                say!("terms: {}", csv.display());
            }
            if let Some(dir) = plot {
                let (lut, ff) = surrogate::plots(&all.samples, &all.target);
                write(&dir.join("lut.svg"), &lut)?;
                write(&dir.join("ff.svg"), &ff)?;
                say!("plots: {}/lut.svg, ff.svg", dir.display());
            }
            Ok(None)
        }
        Cmd::Targets { json } => {
            if json {
                let all = synth::target::names()
                    .iter()
                    .map(|n| synth::target::load(n))
                    .collect::<Result<Vec<_>, _>>()?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?
                );
                return Ok(None);
            }
            println!(
                "{:<10} {:<6} {:>9} {:>9} {:>14} {:>5}  {:<8} description",
                "name", "family", "LUT", "FF", "BRAM", "DSP", "timing"
            );
            for n in synth::target::names() {
                let t = synth::target::load(n)?;
                let bram = match (t.bram36, t.bram_18k, t.bram_4k) {
                    (0, 0, 0) => "-".to_string(),
                    (b, 0, 0) => format!("{b} x 36Kb"),
                    (0, b, 0) => format!("{b} x 18Kb"),
                    (_, _, b) => format!("{b} x 4Kb"),
                };
                let lut = if t.is_asic() {
                    "-".to_string()
                } else {
                    format!("{}x{}", t.luts, t.lut_inputs)
                };
                let ff = if t.is_asic() {
                    "-".to_string()
                } else {
                    t.ffs.to_string()
                };
                let timing = if t.pnr.is_some() {
                    "nextpnr"
                } else if t.is_asic() {
                    "area"
                } else {
                    "depth"
                };
                println!(
                    "{:<10} {:<6} {:>9} {:>9} {:>14} {:>5}  {:<8} {}",
                    t.name, t.family, lut, ff, bram, t.dsps, timing, t.description
                );
            }
            Ok(None)
        }
        Cmd::Lint(c) => {
            let m = load_model(&c)?;
            let (g, defaulted) = (m.graph, m.defaulted);
            if g.is_integer() {
                return Err(format!(
                    "{}: lint reads float models; this one is already quantised",
                    c.model.display()
                ));
            }
            let mut findings =
                crate::lint::lint(&g, &defaulted, &opts(&c, m.dt, &Default::default()));
            if let Some((f, why)) = m.framework {
                findings.insert(
                    0,
                    crate::lint::Finding {
                        severity: crate::lint::Severity::Note,
                        node: g.name.clone(),
                        message: format!("{}'s conventions apply (from {why})", f.name()),
                    },
                );
            }
            if c.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&findings).map_err(|e| e.to_string())?
                );
            } else {
                for f in &findings {
                    let sev = match f.severity {
                        crate::lint::Severity::Warning => "warning",
                        crate::lint::Severity::Note => "note",
                    };
                    println!(
                        "{sev}: {}: node '{}': {}",
                        c.model.display(),
                        f.node,
                        f.message
                    );
                }
                let warnings = findings
                    .iter()
                    .filter(|f| f.severity == crate::lint::Severity::Warning)
                    .count();
                println!(
                    "{} warning(s), {} note(s)",
                    warnings,
                    findings.len() - warnings
                );
            }
            Ok(None)
        }
        Cmd::Compile(c) => {
            let (compiled, dir, _, report, _) = compile(&c)?;
            let mut summary = format!(
                "compiled {} -> {} ({} modules, {} input bits, {} output bits, {} cycles per timestep)",
                c.model.display(),
                dir.join("rtl").display(),
                compiled.design.files.len(),
                compiled.design.in_bits,
                compiled.design.out_bits,
                compiled.design.cycles_per_step
            );
            if let Some(ch) = &compiled.choice {
                let mut budgets = Vec::new();
                if let Some(b) = ch.budget {
                    budgets.push(format!("{b} cycles"));
                }
                if let Some(b) = ch.lut_budget {
                    budgets.push(format!("{b} LUTs"));
                }
                summary.push_str(&format!(
                    "\nbudget {} (estimated {} LUTs, {} cycles): {}",
                    budgets.join(" and "),
                    ch.estimated_luts,
                    ch.cycles,
                    ch.notes.join("; ")
                ));
            }
            finish(&dir, &report, c.json, &summary)
        }
        Cmd::Sim(a) => {
            if a.vcd || a.trace_layer.is_some() {
                return Err(
                    "--vcd and --trace-layer show the RTL: use them with cosim (sim runs the golden model alone; --trace dumps it)"
                        .into(),
                );
            }
            let (compiled, dir, _, mut report, dt) = compile(&a.common)?;
            let s = stim(&a, &compiled.int)?;
            let golden = crate::golden::run(&compiled.int, &s).map_err(|e| e.to_string())?;
            let agree = flow::agreement(&compiled, &s, dt).map_err(|e| e.to_string())?;
            let mut lines = vec![format!("golden model: {} steps", s.steps())];
            for o in compiled.int.outputs() {
                let spikes: i64 = golden.values[o.index()].iter().flatten().sum();
                lines.push(format!(
                    "  output '{}': sum of values {spikes}",
                    compiled.int.node(o).name
                ));
            }
            for (n, f) in &agree {
                lines.push(format!(
                    "  float vs integer spike agreement, '{n}': {:.2}%",
                    100.0 * f
                ));
            }
            report["sim"] = json!({"steps": s.steps(), "agreement": agree.iter().map(|(n, f)| json!({"node": n, "agreement": f})).collect::<Vec<_>>()});
            save_traces(&dir, &compiled, &s, Some(&golden), "sim")?;
            if a.trace {
                // Per layer, per step, per neuron: the values the RTL must reproduce.
                let layers: serde_json::Map<String, Value> = compiled
                    .int
                    .ids()
                    .map(|id| {
                        (
                            compiled.int.node(id).name.clone(),
                            json!(golden.values[id.index()]),
                        )
                    })
                    .collect();
                let path = dir.join("sim/golden_trace.json");
                write(&path, &Value::Object(layers).to_string())?;
                lines.push(format!("  per-layer golden trace: {}", path.display()));
            }
            finish(&dir, &report, a.common.json, &lines.join("\n"))
        }
        Cmd::Cosim(a) => {
            let (compiled, dir, rtl, mut report, dt) = compile(&a.common)?;
            let s = stim(&a, &compiled.int)?;
            let busy = spinner("cosim: verilator --lint-only -Wall");
            let lint = cosim::lint(&compiled.design, &rtl);
            busy.finish_and_clear();
            lint.map_err(|e| e.to_string())?;
            let busy = spinner("cosim: Verilator build and run");
            let layer = match &a.trace_layer {
                None => None,
                Some(name) => Some(compiled.int.find(name).ok_or_else(|| {
                    let names: Vec<&str> = compiled
                        .design
                        .traces
                        .iter()
                        .map(|t| compiled.int.node(t.node).name.as_str())
                        .collect();
                    format!(
                        "--trace-layer {name}: no such node (traced: {})",
                        names.join(", ")
                    )
                })?),
            };
            let vcd = a.vcd.then(|| dir.join("cosim/waves.vcd"));
            let r = flow::cosim_with(&compiled, &s, &dir.join("cosim"), a.seed, vcd.as_deref());
            busy.finish_and_clear();
            let r = r.map_err(|e| e.to_string())?;
            let mut extra = Vec::new();
            if let Some(v) = &vcd {
                extra.push(format!("waveforms: {}", v.display()));
            }
            if let Some(id) = layer {
                extra.extend(trace_layer(&compiled, &s, &dir, id)?);
            }
            let summary = match &r.first_mismatch {
                None => format!("cosim: {} steps, {} values compared, 0 mismatches (lint clean)", r.steps, r.values_compared),
                Some(m) => format!(
                    "cosim: {} mismatches; first: node '{}', neuron {}, step {}: golden {} vs RTL {}",
                    r.mismatches, m.node, m.neuron, m.step, m.golden, m.rtl
                ),
            };
            report["cosim"] = serde_json::to_value(&r).map_err(|e| e.to_string())?;
            save_traces(&dir, &compiled, &s, None, "cosim")?;
            let summary = std::iter::once(summary)
                .chain(extra)
                .collect::<Vec<_>>()
                .join("\n");
            // What quantisation costs, measured on the cosim stimulus.
            let fid = flow::fidelity(&compiled, &s, dt).map_err(|e| e.to_string())?;
            report["quantisation"] = json!({
                "weight_bits": report["options"]["weight_bits"].clone(),
                "layers": compiled.layers,
                "agreement": fid.layers,
                "outputs": fid.outputs,
            });
            let done = finish(&dir, &report, a.common.json, &summary)?;
            if r.mismatches > 0 {
                return Err(format!(
                    "{} mismatches between RTL and golden model",
                    r.mismatches
                ));
            }
            Ok(done)
        }
        Cmd::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "spikeforge", &mut std::io::stdout());
            Ok(None)
        }
        Cmd::Init(a) => {
            if a.out.exists() && !a.force {
                return Err(format!(
                    "{}: exists; pass --force to replace it",
                    a.out.display()
                ));
            }
            let g = flow::load(&a.model).map_err(|e| e.to_string())?;
            let text = crate::config::init_text(
                &g,
                &a.model.display().to_string(),
                &a.out.display().to_string(),
            );
            write(&a.out, &text)?;
            let layers: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("[layer.\"")?.strip_suffix("\"]"))
                .collect();
            if a.json {
                println!(
                    "{}",
                    json!({"config": a.out.display().to_string(), "model": a.model.display().to_string(), "layers": layers})
                );
            } else if !quiet() {
                println!(
                    "wrote {} ({} neuron layers); use it with --config {}",
                    a.out.display(),
                    layers.len(),
                    a.out.display()
                );
            }
            Ok(None)
        }
        Cmd::Estimate(a) => {
            let t0 = std::time::Instant::now();
            let target = synth::target::load(&a.target)?;
            let (compiled, dir, _, mut report, _) = compile(&a.common)?;
            let e = crate::surrogate::estimate::estimate(&compiled, &target)?;
            let secs = t0.elapsed().as_secs_f64();
            let mut lines = vec![format!(
                "estimate for {} (surrogate fitted to {} designs synthesised by {}; held-out median error up to {:.0}% LUT, {:.0}% FF)",
                e.target, e.trained_on, e.yosys, e.lut_error_median, e.ff_error_median
            )];
            lines.push(format!(
                "  {:<20} {:<14} {:<12} {:>8} {:>8} {:>7}",
                "layer", "kind", "arch", "LUT", "FF", "cycles"
            ));
            for l in &e.layers {
                lines.push(format!(
                    "  {:<20} {:<14} {:<12} {:>8.0} {:>8.0} {:>7}",
                    l.node,
                    l.kind,
                    l.arch.as_deref().unwrap_or("-"),
                    l.lut,
                    l.ff,
                    l.cycles.map_or("-".into(), |c| c.to_string())
                ));
            }
            let [u_lut, u_ff, u_dsp, u_bram] = e.utilisation;
            lines.push(format!(
                "  total: {:.0} LUT ({u_lut:.1}%), {:.0} FF ({u_ff:.1}%), {:.0} DSP ({u_dsp:.1}%), {} BRAM ({u_bram:.1}%)",
                e.lut, e.ff, e.dsp, e.bram
            ));
            if !e.beyond.is_empty() {
                lines.push(format!(
                    "  warning: this design has over {}x the {} of any training design: extrapolated, expect large errors",
                    crate::surrogate::estimate::BEYOND,
                    e.beyond.join(", ")
                ));
            }
            if !e.unseen.is_empty() {
                lines.push(format!(
                    "  warning: no training design had this design's {}: their cost is not in these figures (`spikeforge synth` measures it)",
                    e.unseen.join(", ")
                ));
            }
            lines.push(format!(
                "  {} cycles per timestep: {:.3} us at {} MHz (estimated in {:.0} ms, no synthesis)",
                e.cycles_per_step,
                e.latency_us_per_step,
                e.clock_mhz,
                1e3 * secs
            ));
            let mut v = serde_json::to_value(&e).map_err(|err| err.to_string())?;
            v["seconds"] = json!(secs);
            report["estimate"] = v;
            finish(&dir, &report, a.common.json, &lines.join("\n"))
        }
        Cmd::Synth(a) => {
            let target = synth::target::load(&a.target)?;
            if a.pnr_clock.is_some_and(|m| !(m.is_finite() && m > 0.0)) {
                return Err("--pnr-clock must be a positive number of MHz".into());
            }
            let (compiled, dir, rtl, mut report, _) = compile(&a.common)?;
            let d = &compiled.design;
            let opt = synth::SynthOptions {
                no_dsp: a.no_dsp,
                liberty: a.liberty.clone(),
                pnr: a.pnr,
                clock_mhz: a.pnr_clock,
                stream_bits: Some((d.in_bits, d.out_bits)),
            };
            let busy = spinner(&format!(
                "Yosys: synthesising {} for {}",
                d.top, target.name
            ));
            let r = synth::synth_with(&d.top, &rtl, &target, &dir.join("synth"), &opt);
            busy.finish_and_clear();
            let r = r.map_err(|e| e.to_string())?;
            let mut summary = match &r.asic {
                Some(x) => format!(
                    "synth ({}, {}): {} cells{}{}",
                    r.target,
                    r.yosys_version,
                    x.cells,
                    match (x.transistors, x.nand2_equivalents) {
                        (Some(t), Some(n)) =>
                            format!(", {t} transistors = {n:.0} NAND2 equivalents"),
                        _ => String::new(),
                    },
                    x.liberty_area.map_or(String::new(), |area| format!(
                        ", area {area:.1} in {}'s units",
                        x.liberty.as_deref().unwrap_or("the library")
                    ))
                ),
                None => format!(
                    "synth ({}, {}): {} LUT, {} FF, {} CARRY, {} BRAM, {} DSP ({:.1}% of LUTs), logic depth {}",
                    r.target,
                    r.yosys_version,
                    r.lut,
                    r.ff,
                    r.carry,
                    r.bram36 + (r.bram_4k + r.bram_18k) as f64,
                    r.dsp,
                    r.utilisation.get("lut").copied().unwrap_or(0.0),
                    r.logic_depth.map_or("-".to_string(), |n| n.to_string()),
                ),
            };
            report["synth"] = serde_json::to_value(&r).map_err(|e| e.to_string())?;
            // Estimated on the same device, so the report can set the two side by side.
            report["estimate"] = estimate_on(&compiled, &a.target);
            // Timing: measured where an open placer exists, otherwise said to be unmeasured.
            let cycles = d.cycles_per_step as f64;
            match &r.pnr {
                Some(p) => {
                    let latency_ns = cycles * 1e3 / p.fmax_mhz;
                    let steps_per_second = p.fmax_mhz * 1e6 / cycles.max(1.0);
                    report["synth"]["timing"] = json!({
                        "fmax_mhz": p.fmax_mhz,
                        "cycles_per_step": d.cycles_per_step,
                        "latency_ns": latency_ns,
                        "steps_per_second": steps_per_second,
                    });
                    summary.push_str(&format!(
                        "\nplace and route ({}): fmax {:.1} MHz ({} the {:.1} MHz asked); {} cycle(s) a timestep = {:.1} ns, {:.0} timesteps/s",
                        p.tool,
                        p.fmax_mhz,
                        if p.meets_target { "meets" } else { "MISSES" },
                        p.target_mhz,
                        d.cycles_per_step,
                        latency_ns,
                        steps_per_second
                    ));
                }
                None => {
                    report["synth"]["timing"] = json!({
                        "fmax_mhz": null,
                        "cycles_per_step": d.cycles_per_step,
                        "note": if target.pnr.is_some() {
                            "not placed and routed (pass --pnr for fmax)".to_string()
                        } else {
                            format!("no open place and route for {}: fmax not measured; logic depth is the proxy", target.family)
                        },
                    });
                }
            }
            let fitted = crate::estimate::FITTED_WITH_YOSYS;
            if !target.is_asic() && !r.yosys_version.contains(&format!("Yosys {fitted} ")) {
                eprintln!(
                    "warning: {} is not Yosys {fitted}, which the LUT estimate was fitted with; estimates may drift from these counts",
                    r.yosys_version
                );
            }
            if !r.fits {
                finish(&dir, &report, a.common.json, &summary)?;
                let (what, need, has) = &r.overflow[0];
                let what = match what.as_str() {
                    "lut" => "LUTs",
                    "ff" => "flip-flops",
                    "dsp" => "DSP blocks",
                    "bram36" => "36Kb block RAMs",
                    "bram_18k" => "18Kb block RAMs",
                    "bram_4k" => "4Kb block RAMs",
                    other => other,
                };
                return Err(format!(
                    "{}: the design does not fit {}: it needs {need} {what}, the device has {has}{}",
                    a.common.model.display(),
                    r.target,
                    if r.overflow.len() > 1 {
                        format!(" (and more {})", r.overflow[1..].iter().map(|o| o.0.as_str()).collect::<Vec<_>>().join(", "))
                    } else {
                        String::new()
                    }
                ));
            }
            finish(&dir, &report, a.common.json, &summary)
        }
    }
}

/// The source line a `FILE:LINE:COL: message` error points at, with a caret under the column.
fn excerpt(error: &str) -> Option<String> {
    let mut parts = error.splitn(4, ':');
    let (file, line, col) = (parts.next()?, parts.next()?, parts.next()?);
    let (line, col): (usize, usize) = (line.trim().parse().ok()?, col.trim().parse().ok()?);
    let text = std::fs::read_to_string(file).ok()?;
    let src = text.lines().nth(line.checked_sub(1)?)?;
    let n = line.to_string().len();
    Some(format!(
        "{:n$} |\n{line} | {src}\n{:n$} | {}^\n",
        "",
        "",
        " ".repeat(src.chars().take(col.saturating_sub(1)).count())
    ))
}

#[cfg(test)]
mod tests {
    /// A located error shows its line with a caret under the column; anything else, nothing.
    #[test]
    fn located_errors_show_their_source_line() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("bad.sfir");
        std::fs::write(&f, "graph g {\n  %x: spike[4] = bogus(%in)\n}\n").unwrap();
        let e = format!("{}:2:18: unknown op 'bogus'", f.display());
        assert_eq!(
            super::excerpt(&e).unwrap(),
            "  |\n2 |   %x: spike[4] = bogus(%in)\n  |                  ^\n"
        );
        assert!(super::excerpt("model.nir: node 'lif1': NaN weight").is_none());
        assert!(super::excerpt(&format!("{}:9:1: past the end", f.display())).is_none());
    }
}
