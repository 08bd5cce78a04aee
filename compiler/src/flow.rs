//! The pipeline as library calls: load a model, quantise, generate RTL, cosim, synthesise.
//! The CLI and the end-to-end tests both drive the compiler through here.

use crate::backend::{self, Design};
use crate::cosim::{self, CosimReport};
use crate::frontend::conventions::{self, Conventions, Framework};
use crate::golden::{self, Stimulus};
use crate::ir::{self, Graph};
use crate::opt::prune::{self, PruneReport};
use crate::quant::{self, LayerQuant, QuantOptions};
use serde::Serialize;
use std::path::Path;

/// Any failure along the pipeline, as one line for the user.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Quant(#[from] quant::QuantError),
    #[error("{0}")]
    Backend(#[from] backend::BackendError),
    #[error("{0}")]
    Golden(#[from] golden::GoldenError),
    #[error("{0}")]
    Tool(#[from] cosim::ToolError),
}

/// A model as the command line and the Python package load it: the graph with its
/// conventions applied, and what was assumed on the way.
pub struct Model {
    pub graph: Graph,
    /// NIR fields the file left out and the reader defaulted (for `lint`).
    pub defaulted: Vec<crate::frontend::nir::Defaulted>,
    pub dt: f64,
    /// The framework whose conventions apply, and where it came from.
    pub framework: Option<(Framework, &'static str)>,
}

/// Loads a model and applies conventions: `explicit` over `framework` (a caller's choice)
/// over the framework the file's metadata names; `dt` over the framework's, else 1e-4 s.
/// Integer graphs carry their semantics already, so no framework applies to them.
pub fn load_model(
    path: &Path,
    framework: Option<Framework>,
    explicit: Conventions,
    dt: Option<f64>,
) -> Result<Model, String> {
    let shown = path.display();
    let (mut graph, defaulted, meta) =
        if path.extension().is_some_and(|e| e == "sfir" || e == "onnx") {
            (
                load(path).map_err(|e| e.to_string())?,
                vec![],
                Default::default(),
            )
        } else {
            let f = crate::frontend::nir::load_file(path).map_err(|e| e.to_string())?;
            ir::verify::verify(&f.graph).map_err(|e| format!("{shown}: {e}"))?;
            (f.graph, f.defaulted, f.metadata)
        };
    let framework = match framework {
        Some(f) => Some((f, "--framework")),
        None => Framework::from_metadata(&meta).map(|f| (f, "file metadata")),
    }
    .filter(|_| !graph.is_integer());
    let base = framework.map_or(Conventions::default(), |(f, _)| f.conventions());
    let conv = Conventions {
        reset: explicit.reset.or(base.reset),
        compare: explicit.compare.or(base.compare),
    };
    conventions::apply(&mut graph, &conv).map_err(|e| format!("{shown}: {e}"))?;
    let dt = dt.or(framework.and_then(|(f, _)| f.dt())).unwrap_or(1e-4);
    Ok(Model {
        graph,
        defaulted,
        dt,
        framework,
    })
}

/// Reads a model by its extension: `.nir` (HDF5) or `.sfir` (text). The graph is verified.
pub fn load(path: &Path) -> Result<Graph, FlowError> {
    let shown = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let g = match ext {
        "sfir" => {
            let meta =
                std::fs::metadata(path).map_err(|e| FlowError::Input(format!("{shown}: {e}")))?;
            if meta.len() > 1 << 30 {
                return Err(FlowError::Input(format!(
                    "{shown}: file is larger than 1 GiB"
                )));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| FlowError::Input(format!("{shown}: {e}")))?;
            ir::text::parse(&text).map_err(|e| FlowError::Input(format!("{shown}:{e}")))?
        }
        "onnx" => crate::frontend::onnx::load(path).map_err(|e| FlowError::Input(e.to_string()))?,
        _ => crate::frontend::nir::load(path).map_err(|e| FlowError::Input(e.to_string()))?,
    };
    ir::verify::verify(&g).map_err(|e| FlowError::Input(format!("{shown}: {e}")))?;
    Ok(g)
}

/// A model carried through quantisation, graph optimisation and RTL generation.
pub struct Compiled {
    pub float: Option<Graph>,
    /// The integer graph as quantised (or as read), before graph-level pruning: every layer
    /// keeps the source model's neurons, so per-layer comparisons with the float model use it.
    pub quantised: Graph,
    /// The integer graph the RTL implements; its outputs equal `quantised`'s on every input.
    pub int: Graph,
    pub layers: Vec<LayerQuant>,
    pub prune: PruneReport,
    pub design: Design,
    /// The automatic choice under a latency budget, when one was asked for.
    pub choice: Option<backend::choose::Choice>,
}

/// How to compile.
#[derive(Clone, Debug)]
pub struct Options {
    pub quant: QuantOptions,
    pub arch: backend::Arch,
    /// Per neuron layer (node name), overriding `arch`.
    pub layers: std::collections::BTreeMap<String, backend::LayerArch>,
    /// Remove silent, duplicate and unread neurons and dead nodes ([`crate::opt::prune`]).
    pub prune: bool,
    /// Choose the layers not in `layers` so a timestep takes at most this many cycles
    /// ([`backend::choose`]).
    pub max_cycles: Option<u64>,
    /// Choose the layers not in `layers` for the fewest cycles whose estimated LUTs
    /// ([`crate::estimate`]) stay within this ([`backend::choose::for_luts`]).
    pub max_luts: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            quant: QuantOptions::default(),
            arch: backend::Arch::Auto,
            layers: Default::default(),
            prune: true,
            max_cycles: None,
            max_luts: None,
        }
    }
}

/// Quantises (unless the graph is already integer), prunes and generates the design, choosing
/// the architecture automatically.
pub fn compile(g: Graph, opt: &QuantOptions) -> Result<Compiled, FlowError> {
    compile_with(g, opt, backend::Arch::Auto)
}

/// [`compile`] with a chosen architecture.
pub fn compile_with(
    g: Graph,
    opt: &QuantOptions,
    arch: backend::Arch,
) -> Result<Compiled, FlowError> {
    compile_opts(
        g,
        &Options {
            quant: opt.clone(),
            arch,
            layers: Default::default(),
            prune: true,
            max_cycles: None,
            max_luts: None,
        },
    )
}

/// [`compile`] with every option.
pub fn compile_opts(g: Graph, opt: &Options) -> Result<Compiled, FlowError> {
    let (float, quantised, layers) = if g.is_integer() {
        (None, g, vec![])
    } else {
        let (int, layers) = quant::quantise(&g, &opt.quant)?;
        (Some(g), int, layers)
    };
    let (int, prune) = if opt.prune {
        prune::prune(&quantised)
    } else {
        (quantised.clone(), PruneReport::default())
    };
    let choice = match (opt.max_cycles, opt.max_luts) {
        (max_cycles, Some(luts)) => Some(
            backend::choose::for_luts(&int, luts, max_cycles, &opt.layers)
                .map_err(FlowError::Input)?,
        ),
        (Some(budget), None) => Some(
            backend::choose::for_latency(&int, budget, &opt.layers).map_err(FlowError::Input)?,
        ),
        (None, None) => None,
    };
    let (design, choice) = match choice {
        Some(choice) => {
            let d = backend::generate_layers(&int, backend::Arch::Parallel, &choice.layers)?;
            if d.cycles_per_step != choice.cycles {
                return Err(FlowError::Input(format!(
                    "internal: the chosen schedule takes {} cycles, the design {}",
                    choice.cycles, d.cycles_per_step
                )));
            }
            (d, Some(choice))
        }
        None => (backend::generate_layers(&int, opt.arch, &opt.layers)?, None),
    };
    Ok(Compiled {
        float,
        quantised,
        int,
        layers,
        prune,
        design,
        choice,
    })
}

/// Total input elements of a graph (the width of one input beat).
pub fn input_len(g: &Graph) -> usize {
    g.inputs().iter().map(|&i| g.node(i).ty.len()).sum()
}

/// Runs the golden model and the RTL on the stimulus in `dir`.
pub fn cosim(
    c: &Compiled,
    stim: &Stimulus,
    dir: &Path,
    seed: u64,
) -> Result<CosimReport, FlowError> {
    cosim_with(c, stim, dir, seed, None)
}

/// [`cosim`], also writing the RTL's waveforms to `vcd`.
pub fn cosim_with(
    c: &Compiled,
    stim: &Stimulus,
    dir: &Path,
    seed: u64,
    vcd: Option<&Path>,
) -> Result<CosimReport, FlowError> {
    let golden = golden::run(&c.int, stim)?;
    let case = cosim::Case {
        graph: &c.int,
        design: &c.design,
        stimulus: stim,
        golden: &golden,
    };
    Ok(cosim::run_batch_with(&[case], dir, seed, vcd)?.remove(0))
}

/// Spike agreement between the float reference and the golden model, per spiking node present
/// in both graphs: the fraction of (step, neuron) pairs with the same spike.
pub fn agreement(c: &Compiled, stim: &Stimulus, dt: f64) -> Result<Vec<(String, f64)>, FlowError> {
    Ok(fidelity(c, stim, dt)?
        .layers
        .into_iter()
        .map(|l| (l.node, l.agreement))
        .collect())
}

/// How well the integer model keeps the float model's behaviour on one stimulus.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Fidelity {
    /// Per spiking layer: the fraction of (step, neuron) pairs with the same spike.
    pub layers: Vec<LayerAgreement>,
    /// Per spiking output: spike counts per sample and neuron, float against integer.
    pub outputs: Vec<OutputAgreement>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LayerAgreement {
    pub node: String,
    pub agreement: f64,
    pub float_spikes: u64,
    pub int_spikes: u64,
    /// Histogram of per-sample spike-count differences, integer minus float, over the
    /// layer's neurons: `(difference, how many (sample, neuron) pairs)`.
    pub count_errors: Vec<(i64, u64)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct OutputAgreement {
    pub node: String,
    /// Fraction of (sample, neuron) pairs whose spike counts are equal.
    pub count_agreement: f64,
    /// Fraction of samples whose most-spiking neuron (the class, lowest index on ties) agrees.
    pub argmax_agreement: f64,
    /// Mean absolute difference of the counts, per (sample, neuron).
    pub mean_abs_count_error: f64,
}

/// Compares the float reference with the golden model on `stim` (empty for integer inputs).
pub fn fidelity(c: &Compiled, stim: &Stimulus, dt: f64) -> Result<Fidelity, FlowError> {
    let Some(float) = &c.float else {
        return Ok(Fidelity::default());
    };
    let ft = golden::float::run(float, stim, dt).map_err(FlowError::Input)?;
    let it = golden::run(&c.quantised, stim)?;
    let mut out = Fidelity::default();
    let lens: Vec<usize> = stim.samples.iter().map(Vec::len).collect();
    for fid in float.ids() {
        let fnode = float.node(fid);
        if fnode.ty.elem != ir::Elem::Spike || matches!(fnode.op, ir::Op::Input) {
            continue;
        }
        let Some(iid) = c.quantised.find(&fnode.name) else {
            continue;
        };
        let fvals = &ft.values[fid.index()];
        let ivals = &it.values[iid.index()];
        let (mut same, mut total, mut fs_n, mut is_n) = (0u64, 0u64, 0u64, 0u64);
        for (fs, is) in fvals.iter().zip(ivals) {
            for (a, b) in fs.iter().zip(is) {
                total += 1;
                same += ((*a != 0.0) == (*b != 0)) as u64;
                fs_n += (*a != 0.0) as u64;
                is_n += (*b != 0) as u64;
            }
        }
        out.layers.push(LayerAgreement {
            node: fnode.name.clone(),
            agreement: if total == 0 {
                1.0
            } else {
                same as f64 / total as f64
            },
            float_spikes: fs_n,
            int_spikes: is_n,
            count_errors: count_errors(fvals, ivals, &lens),
        });
        if matches!(fnode.op, ir::Op::Output) {
            out.outputs
                .push(count_agreement(&fnode.name, fvals, ivals, &lens));
        }
    }
    Ok(out)
}

/// Histogram of per-(sample, neuron) spike-count differences, integer minus float.
fn count_errors(f: &[Vec<f64>], i: &[Vec<i64>], lens: &[usize]) -> Vec<(i64, u64)> {
    let mut hist = std::collections::BTreeMap::new();
    let mut step = 0;
    for &len in lens {
        let n = f.get(step).map_or(0, Vec::len);
        for j in 0..n {
            let d: i64 = (step..step + len)
                .map(|t| (i[t][j] != 0) as i64 - (f[t][j] != 0.0) as i64)
                .sum();
            *hist.entry(d).or_insert(0u64) += 1;
        }
        step += len;
    }
    hist.into_iter().collect()
}

/// Per-sample spike counts of an output, float against integer.
fn count_agreement(name: &str, f: &[Vec<f64>], i: &[Vec<i64>], lens: &[usize]) -> OutputAgreement {
    let (mut pairs, mut equal, mut abs, mut argmax_same) = (0u64, 0u64, 0u64, 0u64);
    let mut step = 0;
    for &len in lens {
        let n = f.get(step).map_or(0, Vec::len);
        let mut fc = vec![0u64; n];
        let mut ic = vec![0u64; n];
        for t in step..step + len {
            for j in 0..n {
                fc[j] += (f[t][j] != 0.0) as u64;
                ic[j] += (i[t][j] != 0) as u64;
            }
        }
        step += len;
        for (a, b) in fc.iter().zip(&ic) {
            pairs += 1;
            equal += (a == b) as u64;
            abs += a.abs_diff(*b);
        }
        let arg = |v: &[u64]| (0..v.len()).max_by_key(|&j| (v[j], std::cmp::Reverse(j)));
        argmax_same += (arg(&fc) == arg(&ic)) as u64;
    }
    let frac = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    OutputAgreement {
        node: name.to_string(),
        count_agreement: frac(equal, pairs),
        argmax_agreement: frac(argmax_same, lens.len() as u64),
        mean_abs_count_error: frac(abs, pairs),
    }
}

/// A ramp-family unit, and what checking it found.
#[derive(Clone, Debug, Serialize)]
pub struct RampReport {
    pub unit: backend::ramp::RampUnit,
    /// Verilator on every input (`None` when not asked).
    pub check: Option<cosim::ramp::RampCheck>,
    pub synth: Option<crate::synth::SynthReport>,
}

/// Generates `table` as `variant` into `dir` (`<module>.v`), optionally verifies it on every
/// input and synthesises it for `target`.
pub fn ramp(
    table: &crate::quant::table::Table,
    variant: backend::ramp::Variant,
    dir: &Path,
    verify: bool,
    target: Option<&crate::synth::Target>,
) -> Result<RampReport, FlowError> {
    let module = format!("sf_{}_{}", table.func.name(), variant.name());
    let unit = backend::ramp::unit(table, variant, &module)
        .map_err(|e| FlowError::Input(e.to_string()))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| FlowError::Input(format!("{}: {e}", dir.display())))?;
    let v = dir.join(format!("{module}.v"));
    std::fs::write(&v, &unit.verilog)
        .map_err(|e| FlowError::Input(format!("{}: {e}", v.display())))?;
    let check = match verify {
        true => Some(cosim::ramp::verify(
            &unit,
            table,
            &dir.join(format!("check_{}", variant.name())),
        )?),
        false => None,
    };
    let synth = match target {
        Some(t) => Some(crate::synth::synth(
            &module,
            &[v],
            t,
            &dir.join(format!("synth_{}", variant.name())),
        )?),
        None => None,
    };
    Ok(RampReport { unit, check, synth })
}
