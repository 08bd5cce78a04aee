//! HDF5 -> plain data: the NIR group tree read with every size checked before it is allocated.

use super::{
    node_msg, quote, MAX_DATASET_ELEMENTS, MAX_DEPTH, MAX_EDGES, MAX_STRINGS, MAX_STRING_BYTES,
    MAX_TOTAL_ELEMENTS,
};
use crate::ir::NeuronKind;
use hdf5_pure::{DType, Dataset, File, Group, VlenStringReadOptions};
use std::collections::BTreeMap;

/// One (possibly nested) NIR graph as stored.
#[derive(Debug)]
pub(super) struct RawGraph {
    /// Full dotted name of this graph node ("" for the top level).
    pub name: String,
    /// Sorted by name (the HDF5 listing has no defined order).
    pub nodes: Vec<RawNode>,
    /// In file order.
    pub edges: Vec<(String, String)>,
    /// The graph's string-valued `metadata` entries (nir >= 1.0), e.g. the exporting framework.
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug)]
pub(super) struct RawNode {
    /// Local name within its graph.
    pub name: String,
    pub body: RawBody,
}

#[derive(Debug)]
pub(super) enum RawBody {
    Graph(RawGraph),
    Leaf(RawLeaf),
}

/// A non-graph node with the fields its kind uses (unknown fields are not read).
#[derive(Debug)]
pub(super) struct RawLeaf {
    pub kind: LeafKind,
    pub fields: BTreeMap<&'static str, Field>,
    /// String-valued fields (a convolution's `padding` may be 'same' or 'valid').
    pub strings: BTreeMap<&'static str, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LeafKind {
    Input,
    Output,
    Affine,
    Linear,
    Scale,
    /// Reshapes only; values are row-major already, so it is wired through.
    Flatten,
    /// Per-element delay in seconds.
    Delay,
    /// Conv1d (`two_d = false`) or Conv2d.
    Conv {
        two_d: bool,
    },
    /// SumPool2d or AvgPool2d.
    Pool {
        average: bool,
    },
    Neuron(NeuronKind),
}

/// A numeric dataset: its shape and its values, row-major, as f64.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Field {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl LeafKind {
    /// The NIR type names this frontend lowers.
    fn parse(ty: &str) -> Option<LeafKind> {
        Some(match ty {
            "Input" => LeafKind::Input,
            "Output" => LeafKind::Output,
            "Affine" => LeafKind::Affine,
            "Linear" => LeafKind::Linear,
            "Scale" => LeafKind::Scale,
            "IF" => LeafKind::Neuron(NeuronKind::If),
            "LIF" => LeafKind::Neuron(NeuronKind::Lif),
            "LI" => LeafKind::Neuron(NeuronKind::Li),
            "CubaLIF" => LeafKind::Neuron(NeuronKind::CubaLif),
            "I" => LeafKind::Neuron(NeuronKind::I),
            "CubaLI" => LeafKind::Neuron(NeuronKind::CubaLi),
            "Threshold" => LeafKind::Neuron(NeuronKind::Threshold),
            "Flatten" => LeafKind::Flatten,
            "Delay" => LeafKind::Delay,
            "Conv1d" => LeafKind::Conv { two_d: false },
            "Conv2d" => LeafKind::Conv { two_d: true },
            "SumPool2d" => LeafKind::Pool { average: false },
            "AvgPool2d" => LeafKind::Pool { average: true },
            _ => return None,
        })
    }

    /// NIR field names read for this kind; presence is checked when lowering.
    pub fn field_names(self) -> &'static [&'static str] {
        match self {
            LeafKind::Input => &["shape"],
            LeafKind::Output => &[],
            LeafKind::Affine => &["weight", "bias"],
            LeafKind::Linear => &["weight"],
            LeafKind::Scale => &["scale"],
            LeafKind::Flatten => &[],
            LeafKind::Delay => &["delay"],
            LeafKind::Conv { .. } => &[
                "weight",
                "bias",
                "stride",
                "padding",
                "dilation",
                "groups",
                "input_shape",
            ],
            LeafKind::Pool { .. } => &["kernel_size", "stride", "padding"],
            LeafKind::Neuron(NeuronKind::I) => &["r"],
            LeafKind::Neuron(NeuronKind::CubaLi) => &["tau_syn", "tau_mem", "r", "v_leak", "w_in"],
            LeafKind::Neuron(NeuronKind::Threshold) => &["threshold"],
            LeafKind::Neuron(NeuronKind::If) => &["r", "v_threshold", "v_reset"],
            LeafKind::Neuron(NeuronKind::Lif) => &["tau", "r", "v_leak", "v_threshold", "v_reset"],
            LeafKind::Neuron(NeuronKind::Li) => &["tau", "r", "v_leak"],
            LeafKind::Neuron(NeuronKind::CubaLif) => &[
                "tau_syn",
                "tau_mem",
                "r",
                "v_leak",
                "v_threshold",
                "v_reset",
                "w_in",
            ],
        }
    }
}

type Res<T> = Result<T, String>;

/// Reads `/node` of a NIR file. `/version` is not needed: every layout since 0.1 stores nodes
/// the same way.
pub(super) fn read_file(bytes: Vec<u8>) -> Res<RawGraph> {
    let file = File::from_bytes(bytes).map_err(|e| format!("cannot read HDF5 file: {}", h5(e)))?;
    let root = file.root();
    let mut r = Reader {
        budget: MAX_TOTAL_ELEMENTS,
    };
    let node = root
        .group("node")
        .map_err(|e| format!("no NIR graph: cannot open group '/node': {}", h5(e)))?;
    let ty = r
        .read_type(&node)
        .map_err(|e| format!("group '/node': {e}"))?;
    if ty != "NIRGraph" {
        return Err(format!(
            "top-level node has type {}, expected 'NIRGraph'",
            quote(&ty)
        ));
    }
    r.read_graph(&node, String::new(), 0)
}

fn h5(e: hdf5_pure::Error) -> String {
    e.to_string()
}

struct Reader {
    /// Numeric elements still allowed for the rest of the file.
    budget: u64,
}

impl Reader {
    /// Reads a `NIRGraph` group; `name` is its full dotted name, `depth` its nesting level.
    fn read_graph(&mut self, g: &Group, name: String, depth: usize) -> Res<RawGraph> {
        let ctx = |m: String| {
            if name.is_empty() {
                m
            } else {
                node_msg(&name, m)
            }
        };
        let nodes_group = g
            .group("nodes")
            .map_err(|e| ctx(format!("cannot open group 'nodes': {}", h5(e))))?;
        let mut names = nodes_group
            .groups()
            .map_err(|e| ctx(format!("cannot list group 'nodes': {}", h5(e))))?;
        if names.len() > MAX_EDGES {
            return Err(ctx(format!(
                "{} nodes, more than the limit of {MAX_EDGES}",
                names.len()
            )));
        }
        names.sort();
        let mut nodes = Vec::with_capacity(names.len());
        for local in names {
            let full = if name.is_empty() {
                local.clone()
            } else {
                format!("{name}.{local}")
            };
            if local.is_empty() || local.contains('/') {
                return Err(format!("invalid node name {}", quote(&full)));
            }
            let ng = nodes_group
                .group(&local)
                .map_err(|e| node_msg(&full, format!("cannot open group: {}", h5(e))))?;
            let ty = self.read_type(&ng).map_err(|e| node_msg(&full, e))?;
            let body = if ty == "NIRGraph" {
                if depth + 1 > MAX_DEPTH {
                    return Err(node_msg(
                        &full,
                        format!("graphs nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                RawBody::Graph(self.read_graph(&ng, full.clone(), depth + 1)?)
            } else {
                let kind = LeafKind::parse(&ty).ok_or_else(|| {
                    node_msg(
                        &full,
                        format!("node type {} is not supported yet", quote(&ty)),
                    )
                })?;
                RawBody::Leaf(self.read_leaf(&ng, &full, kind)?)
            };
            nodes.push(RawNode { name: local, body });
        }
        let edges = self.read_edges(g).map_err(ctx)?;
        Ok(RawGraph {
            name,
            nodes,
            edges,
            metadata: read_metadata(g),
        })
    }

    fn read_leaf(&mut self, g: &Group, full: &str, kind: LeafKind) -> Res<RawLeaf> {
        let present = g
            .datasets()
            .map_err(|e| node_msg(full, format!("cannot list datasets: {}", h5(e))))?;
        let mut fields = BTreeMap::new();
        let mut strings = BTreeMap::new();
        for &f in kind.field_names() {
            if f == "padding"
                && matches!(kind, LeafKind::Conv { .. })
                && present.iter().any(|p| p == f)
            {
                let ds = g
                    .dataset(f)
                    .map_err(|e| node_msg(full, format!("field '{f}': {}", h5(e))))?;
                if matches!(
                    ds.dtype().map_err(h5)?,
                    DType::String | DType::VariableLengthString
                ) {
                    let mut v = read_strings(&ds)
                        .map_err(|e| node_msg(full, format!("field '{f}': {e}")))?;
                    match (v.pop(), v.is_empty()) {
                        (Some(s), true) => {
                            strings.insert(f, s);
                        }
                        _ => return Err(node_msg(full, "field 'padding' must hold one string")),
                    }
                    continue;
                }
            }
            if present.iter().any(|p| p == f) {
                let field = self
                    .read_numbers(g, f)
                    .map_err(|e| node_msg(full, format!("field '{f}': {e}")))?;
                fields.insert(f, field);
            }
        }
        // nir >= 1.0 may store an Input's shape as `input_type/input` instead of `shape`.
        if kind == LeafKind::Input && !fields.contains_key("shape") {
            if let Ok(it) = g.group("input_type") {
                let has = it.datasets().map(|d| d.iter().any(|n| n == "input"));
                if has.unwrap_or(false) {
                    let field = self
                        .read_numbers(&it, "input")
                        .map_err(|e| node_msg(full, format!("field 'input_type/input': {e}")))?;
                    fields.insert("shape", field);
                }
            }
        }
        Ok(RawLeaf {
            kind,
            fields,
            strings,
        })
    }

    /// The scalar `type` string of a node group.
    fn read_type(&self, g: &Group) -> Res<String> {
        let ds = g
            .dataset("type")
            .map_err(|e| format!("cannot open dataset 'type': {}", h5(e)))?;
        let mut v = read_strings(&ds).map_err(|e| format!("dataset 'type': {e}"))?;
        match (v.pop(), v.is_empty()) {
            (Some(s), true) => Ok(s),
            _ => Err("dataset 'type' must hold one string".into()),
        }
    }

    /// The `edges` dataset: (E, 2) strings, row-major `[src0, dst0, src1, dst1, ...]`.
    fn read_edges(&self, g: &Group) -> Res<Vec<(String, String)>> {
        let ds = g
            .dataset("edges")
            .map_err(|e| format!("cannot open dataset 'edges': {}", h5(e)))?;
        let shape = ds
            .shape()
            .map_err(|e| format!("dataset 'edges': {}", h5(e)))?;
        let count = element_count(&shape).map_err(|e| format!("dataset 'edges': {e}"))?;
        if count == 0 {
            // An empty edge list may be written with any element type.
            return Ok(Vec::new());
        }
        if count > MAX_STRINGS {
            return Err(format!(
                "dataset 'edges' has {count} entries, more than the limit of {MAX_STRINGS}"
            ));
        }
        if shape.last() != Some(&2) {
            return Err(format!(
                "dataset 'edges' has shape {shape:?}, expected (number of edges, 2)"
            ));
        }
        let v = read_strings(&ds).map_err(|e| format!("dataset 'edges': {e}"))?;
        let mut it = v.into_iter();
        let mut edges = Vec::new();
        while let (Some(a), Some(b)) = (it.next(), it.next()) {
            edges.push((a, b));
        }
        Ok(edges)
    }

    /// A numeric dataset `name` of `g`, converted to f64.
    fn read_numbers(&mut self, g: &Group, name: &str) -> Res<Field> {
        let ds = g
            .dataset(name)
            .map_err(|e| format!("cannot open dataset: {}", h5(e)))?;
        let dtype = ds.dtype().map_err(h5)?;
        let numeric = matches!(
            dtype,
            DType::F32
                | DType::F64
                | DType::I8
                | DType::I16
                | DType::I32
                | DType::I64
                | DType::U8
                | DType::U16
                | DType::U32
                | DType::U64
        );
        if !numeric {
            return Err(format!("has element type {dtype}, expected numbers"));
        }
        let shape = ds.shape().map_err(h5)?;
        let count = element_count(&shape)?;
        if count > MAX_DATASET_ELEMENTS {
            return Err(format!(
                "has {count} elements, more than the limit of {MAX_DATASET_ELEMENTS}"
            ));
        }
        if count > self.budget {
            return Err(format!(
                "file holds more than {MAX_TOTAL_ELEMENTS} numeric elements in total"
            ));
        }
        self.budget -= count;
        let data = ds.read_f64().map_err(h5)?;
        if data.len() as u64 != count {
            return Err(format!(
                "read {} values, but its shape {shape:?} has {count}",
                data.len()
            ));
        }
        let shape = shape
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| format!("dimension {d} too large")))
            .collect::<Res<Vec<usize>>>()?;
        Ok(Field { shape, data })
    }
}

/// Product of a dataset shape, refusing overflow (a scalar has one element).
fn element_count(shape: &[u64]) -> Res<u64> {
    shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("shape {shape:?} has more elements than can be counted"))
}

/// Most `metadata` entries read, and longest value kept, per graph.
const MAX_METADATA: usize = 64;
const MAX_METADATA_CHARS: usize = 256;

/// String entries of a graph's optional `metadata` group. Metadata only informs defaults, so
/// anything unreadable or non-string is skipped rather than reported.
fn read_metadata(g: &Group) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(mg) = g.group("metadata") else {
        return out;
    };
    let Ok(names) = mg.datasets() else {
        return out;
    };
    for name in names.into_iter().take(MAX_METADATA) {
        let Ok(ds) = mg.dataset(&name) else { continue };
        if !matches!(ds.dtype(), Ok(DType::String | DType::VariableLengthString)) {
            continue;
        }
        if let Ok(v) = read_strings(&ds) {
            if let Some(s) = v.into_iter().next() {
                out.insert(name, s.chars().take(MAX_METADATA_CHARS).collect());
            }
        }
    }
    out
}

/// All strings of a fixed- or variable-length string dataset, with bounded allocation.
fn read_strings(ds: &Dataset) -> Res<Vec<String>> {
    let shape = ds.shape().map_err(h5)?;
    let count = element_count(&shape)?;
    if count > MAX_STRINGS {
        return Err(format!(
            "has {count} strings, more than the limit of {MAX_STRINGS}"
        ));
    }
    let v = match ds.dtype().map_err(h5)? {
        DType::VariableLengthString => {
            let opts = VlenStringReadOptions::new()
                .with_max_elements(MAX_STRINGS as usize)
                .with_max_payload_bytes(MAX_STRING_BYTES as usize);
            ds.read_vlen_strings(opts).map_err(h5)?
        }
        DType::String => {
            let size = ds.element_size().map_err(h5)?;
            if size.saturating_mul(count) > MAX_STRING_BYTES {
                return Err(format!(
                    "holds more than {MAX_STRING_BYTES} bytes of strings"
                ));
            }
            ds.read_string().map_err(h5)?
        }
        other => return Err(format!("has element type {other}, expected strings")),
    };
    if v.len() as u64 != count {
        return Err(format!(
            "read {} strings, but its shape {shape:?} has {count}",
            v.len()
        ));
    }
    Ok(v)
}
