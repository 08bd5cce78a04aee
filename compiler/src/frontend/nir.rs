//! NIR (HDF5) frontend: reads a NIR graph file and lowers it to a float-stage IR [`Graph`].
//!
//! Three phases keep hostile input contained: [`read`] turns the HDF5 tree into plain Rust data
//! (bounded allocations, every library failure an error), [`flatten`] inlines nested graphs, and
//! [`lower`] infers types, orders nodes (recurrent edges become delayed ports) and builds the IR.

mod flatten;
mod lower;
mod read;
mod window;

use crate::ir::Graph;
use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

/// Why a NIR file could not be read; every message names the file, and the node and field where
/// there is one.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct NirError {
    pub path: String,
    pub message: String,
}

/// Largest file [`load`] reads into memory.
pub const MAX_FILE_BYTES: u64 = 1 << 31;
/// Largest element count of one numeric dataset.
pub const MAX_DATASET_ELEMENTS: u64 = 1 << 26;
/// Largest element count summed over all numeric datasets read from one file (compressed data
/// can expand far beyond the file size).
pub const MAX_TOTAL_ELEMENTS: u64 = 1 << 27;
/// Largest entry count of one string dataset.
pub const MAX_STRINGS: u64 = 1 << 20;
/// Largest total bytes of one string dataset.
pub const MAX_STRING_BYTES: u64 = 1 << 26;
/// Largest number of nodes or edges, before and after flattening.
pub const MAX_EDGES: usize = 1 << 20;
/// Deepest nesting of graphs inside graphs.
pub const MAX_DEPTH: usize = 16;

/// Reads a NIR file into a float-stage graph named after the file stem.
pub fn load(path: &Path) -> Result<Graph, NirError> {
    load_with_defaults(path).map(|(g, _)| g)
}

/// A field the file left out, filled with NIR's default (`v_reset` = 0, `w_in` = 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Defaulted {
    pub node: String,
    pub field: &'static str,
}

/// Like [`load`], and also says which fields took NIR's defaults (files from NIR < 1.0.6 have
/// no `v_reset`, and their reset semantics differ).
pub fn load_with_defaults(path: &Path) -> Result<(Graph, Vec<Defaulted>), NirError> {
    load_file(path).map(|f| (f.graph, f.defaulted))
}

/// Everything a NIR file says: the graph, the fields it left to NIR's defaults, and the top
/// graph's string metadata (which may name the exporting framework).
#[derive(Debug)]
pub struct NirFile {
    pub graph: Graph,
    pub defaulted: Vec<Defaulted>,
    pub metadata: BTreeMap<String, String>,
}

/// Reads a NIR file with its defaults and metadata.
pub fn load_file(path: &Path) -> Result<NirFile, NirError> {
    let name = path.display().to_string();
    let fail = |message: String| NirError {
        path: one_line(&name),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
    let len = file
        .metadata()
        .map_err(|e| fail(format!("cannot stat: {e}")))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(fail(format!(
            "file is {len} bytes, larger than the {MAX_FILE_BYTES}-byte limit"
        )));
    }
    let mut bytes = Vec::new();
    // `take` guards against a file that grows between the size check and the read.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read: {e}")))?;
    load_bytes_with_defaults(&name, bytes)
}

/// Reads NIR file contents already in memory; `name` is used for messages and the graph name.
pub fn load_bytes(name: &str, bytes: Vec<u8>) -> Result<Graph, NirError> {
    load_bytes_with_defaults(name, bytes).map(|f| f.graph)
}

fn load_bytes_with_defaults(name: &str, bytes: Vec<u8>) -> Result<NirFile, NirError> {
    let graph_name = Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_string());
    lower_bytes(&graph_name, bytes).map_err(|message| NirError {
        path: one_line(name),
        message: one_line(&message),
    })
}

fn lower_bytes(graph_name: &str, bytes: Vec<u8>) -> Result<NirFile, String> {
    if bytes.is_empty() {
        return Err("file is empty, expected an HDF5 NIR file".into());
    }
    if !hdf5_pure::is_hdf5_bytes(&bytes) {
        return Err("not an HDF5 file (no HDF5 signature)".into());
    }
    // The HDF5 library parses untrusted bytes; a panic inside it must still come back as an
    // error. Only this phase is guarded so that our own lowering bugs stay visible to fuzzing.
    let raw = std::panic::catch_unwind(move || read::read_file(bytes)).unwrap_or_else(|_| {
        Err("the HDF5 reader failed on malformed data (internal panic)".to_string())
    })?;
    let mut defaulted = Vec::new();
    collect_defaults(&raw, &mut defaulted);
    let metadata = raw.metadata.clone();
    let flat = flatten::flatten(raw)?;
    Ok(NirFile {
        graph: lower::lower(graph_name, flat)?,
        defaulted,
        metadata,
    })
}

/// Optional fields absent from neuron nodes, with full dotted node names.
fn collect_defaults(g: &read::RawGraph, out: &mut Vec<Defaulted>) {
    for n in &g.nodes {
        let full = if g.name.is_empty() {
            n.name.clone()
        } else {
            format!("{}.{}", g.name, n.name)
        };
        match &n.body {
            read::RawBody::Graph(inner) => collect_defaults(inner, out),
            read::RawBody::Leaf(leaf) => {
                for &f in leaf.kind.field_names() {
                    if lower::optional(f) && !leaf.fields.contains_key(f) {
                        out.push(Defaulted {
                            node: full.clone(),
                            field: f,
                        });
                    }
                }
            }
        }
    }
}

/// `'name'`, with control characters escaped and very long names cut, for messages.
fn quote(name: &str) -> String {
    const MAX: usize = 120;
    let mut s = String::from("'");
    for (i, c) in name.chars().enumerate() {
        if i == MAX {
            s.push_str("...");
            break;
        }
        if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    s.push('\'');
    s
}

/// A message squeezed onto one line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `node 'x'` prefix for messages.
fn node_msg(name: &str, rest: impl std::fmt::Display) -> String {
    format!("node {}: {rest}", quote(name))
}
