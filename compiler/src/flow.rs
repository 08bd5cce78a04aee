//! The pipeline as library calls: load a model, quantise, generate RTL, cosim, synthesise.
//! The CLI and the end-to-end tests both drive the compiler through here.

use crate::backend::{self, Design};
use crate::cosim::{self, CosimReport};
use crate::golden::{self, Stimulus};
use crate::ir::{self, Graph};
use crate::quant::{self, LayerQuant, QuantOptions};
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
        _ => crate::frontend::nir::load(path).map_err(|e| FlowError::Input(e.to_string()))?,
    };
    ir::verify::verify(&g).map_err(|e| FlowError::Input(format!("{shown}: {e}")))?;
    Ok(g)
}

/// A model carried through quantisation and RTL generation.
pub struct Compiled {
    pub float: Option<Graph>,
    pub int: Graph,
    pub layers: Vec<LayerQuant>,
    pub design: Design,
}

/// Quantises (unless the graph is already integer) and generates the design, choosing the
/// architecture automatically.
pub fn compile(g: Graph, opt: &QuantOptions) -> Result<Compiled, FlowError> {
    compile_with(g, opt, backend::Arch::Auto)
}

/// [`compile`] with a chosen architecture.
pub fn compile_with(
    g: Graph,
    opt: &QuantOptions,
    arch: backend::Arch,
) -> Result<Compiled, FlowError> {
    let (float, int, layers) = if g.is_integer() {
        (None, g, vec![])
    } else {
        let (int, layers) = quant::quantise(&g, opt)?;
        (Some(g), int, layers)
    };
    let design = backend::generate(&int, arch)?;
    Ok(Compiled {
        float,
        int,
        layers,
        design,
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
    let golden = golden::run(&c.int, stim)?;
    Ok(cosim::run(&c.int, &c.design, stim, &golden, dir, seed)?)
}

/// Spike agreement between the float reference and the golden model, per spiking node present
/// in both graphs: the fraction of (step, neuron) pairs with the same spike.
pub fn agreement(c: &Compiled, stim: &Stimulus, dt: f64) -> Result<Vec<(String, f64)>, FlowError> {
    let Some(float) = &c.float else {
        return Ok(vec![]);
    };
    let ft = golden::float::run(float, stim, dt).map_err(FlowError::Input)?;
    let it = golden::run(&c.int, stim)?;
    let mut out = Vec::new();
    for fid in float.ids() {
        let fnode = float.node(fid);
        if fnode.ty.elem != ir::Elem::Spike || matches!(fnode.op, ir::Op::Input) {
            continue;
        }
        let Some(iid) = c.int.find(&fnode.name) else {
            continue;
        };
        let (mut same, mut total) = (0u64, 0u64);
        for (fs, is) in ft.values[fid.index()].iter().zip(&it.values[iid.index()]) {
            for (a, b) in fs.iter().zip(is) {
                total += 1;
                same += ((*a != 0.0) == (*b != 0)) as u64;
            }
        }
        out.push((
            fnode.name.clone(),
            if total == 0 {
                1.0
            } else {
                same as f64 / total as f64
            },
        ));
    }
    Ok(out)
}
