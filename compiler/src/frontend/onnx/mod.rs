//! ONNX frontend: reads an ONNX model (opset 13 and later), checks it against hostile-input
//! limits, and lowers the operators Spikeforge compiles to the float IR. The decoder allocates
//! at most about eight times the file size (packed varints widen to 8 bytes), so the file cap
//! bounds decoding; element counts are checked before any tensor is expanded.
//!
//! Lowered now: spike-driven linear layers and threshold neurons, as exported from PyTorch —
//! `Gemm`, `MatMul` (+ `Add` of a constant bias, `Mul`/`Div` by constants), `Conv` (1-D and 2-D,
//! symmetric padding), `Greater` / `GreaterOrEqual` against a constant followed by `Cast` (a
//! stateless threshold neuron), and the shape-only `Identity`, `Flatten`, `Reshape`, `Squeeze`,
//! `Unsqueeze`. Spike-driven attention lowers to the IR's tensor operators: `Mul` of two spike
//! tensors is `spike_and`, `ReduceSum` of spikes over one axis `popcount`, `MatMul` of two spike
//! tensors `spike_matmul`, `Add` of two computed tensors `add` (the membrane shortcut), a
//! threshold on counts a one-level `multi_threshold`, and `MaxPool` of spikes `or_pool`. Graph
//! inputs are spike tensors (0/1 per element). Every node the compiler cannot take is listed
//! in one error.

pub mod elementwise;
pub mod proto;
pub mod quantised;
mod tensors;

use crate::ir::{
    Compare, Conv, Elem, FloatNeuron, Graph, MultiThreshold, NeuronKind, NodeId, Op, Port, Tensor,
    TensorOp, Type,
};
use proto::{attribute_type, data_type, NodeProto, TensorProto};
use std::collections::HashMap;
use std::path::Path;

/// Why an ONNX file could not be read; every message names the file, and the node where there
/// is one.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct OnnxError {
    pub path: String,
    pub message: String,
}

/// Largest file read into memory (256 MiB: 64 M float weights, far past what fits a device).
pub const MAX_FILE_BYTES: u64 = 1 << 28;
/// Largest element count of one tensor (initializer or value).
pub const MAX_TENSOR_ELEMENTS: u64 = 1 << 26;
/// Largest element count summed over all initializers.
pub const MAX_TOTAL_ELEMENTS: u64 = 1 << 27;
/// Most nodes in a graph.
pub const MAX_NODES: usize = 1 << 20;
/// Oldest default-domain opset read.
pub const MIN_OPSET: i64 = 13;

/// Operators that only rename or reshape a value.
const SHAPE_ONLY: [&str; 6] = [
    "Identity",
    "Cast",
    "Flatten",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
];

/// Operators lowered to the IR.
const LOWERED: [&str; 17] = [
    "Conv",
    "Transpose",
    "ReduceSum",
    "MaxPool",
    "Gemm",
    "MatMul",
    "Add",
    "Mul",
    "Div",
    "Greater",
    "GreaterOrEqual",
    "Cast",
    "Identity",
    "Flatten",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
];

/// Reads and lowers an ONNX file.
pub fn load(path: &Path) -> Result<Graph, OnnxError> {
    let shown = path.display().to_string();
    let err = |m: String| OnnxError {
        path: shown.clone(),
        message: m,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| err(e.to_string()))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(err(format!(
            "file is {len} bytes, larger than the {MAX_FILE_BYTES}-byte limit"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    load_bytes(&shown, &bytes)
}

/// Reads and lowers an ONNX model from memory; `name` names it in errors.
pub fn load_bytes(name: &str, bytes: &[u8]) -> Result<Graph, OnnxError> {
    load_lowered(name, bytes).map(|l| l.graph)
}

/// [`load_bytes`], with how each output's integers map back to the model's values (for
/// quantised graphs; empty for spike graphs, whose outputs are spikes).
pub fn load_lowered(name: &str, bytes: &[u8]) -> Result<quantised::Lowered, OnnxError> {
    lower(bytes).map_err(|message| OnnxError {
        path: name.to_string(),
        message,
    })
}

/// A value while lowering: a constant (initializer or folded) or an IR node's output.
#[derive(Clone, Debug)]
enum Value {
    Const {
        dims: Vec<usize>,
        data: Vec<f64>,
    },
    Node {
        id: NodeId,
        shape: Vec<usize>,
    },
    /// Integer counts times a positive constant (Spikformer's attention scale), pending until a
    /// threshold divides it out.
    Scaled {
        id: NodeId,
        shape: Vec<usize>,
        scale: f64,
    },
}

/// The element count of `dims`, within the limit.
fn element_count(dims: &[usize]) -> Option<u64> {
    dims.iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
        .filter(|&n| n <= MAX_TENSOR_ELEMENTS)
}

/// An initializer's values as f64, every size and number checked before allocating.
fn tensor_values(t: &TensorProto) -> Result<(Vec<usize>, Vec<f64>), String> {
    let what = format!("initializer '{}'", t.name);
    if !t.external_data.is_empty() || t.data_location == 1 {
        return Err(format!(
            "{what}: data in an external file is not read (save the model with its weights inside)"
        ));
    }
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("{what}: negative dimension {d}")))
        .collect::<Result<_, _>>()?;
    let n = element_count(&dims).ok_or_else(|| {
        format!("{what}: shape {dims:?} exceeds the {MAX_TENSOR_ELEMENTS}-element limit")
    })? as usize;
    let width = match t.data_type {
        data_type::FLOAT | data_type::INT32 | data_type::UINT32 => 4,
        data_type::DOUBLE | data_type::INT64 | data_type::UINT64 => 8,
        data_type::INT16 | data_type::UINT16 => 2,
        data_type::INT8 | data_type::UINT8 | data_type::BOOL => 1,
        other => {
            return Err(format!(
                "{what}: {} values are not supported (use float, double or integers)",
                data_type::name(other)
            ))
        }
    };
    let values: Vec<f64> = if !t.raw_data.is_empty() {
        if t.raw_data.len() != n * width {
            return Err(format!(
                "{what}: shape {dims:?} needs {} bytes of {}, raw_data has {}",
                n * width,
                data_type::name(t.data_type),
                t.raw_data.len()
            ));
        }
        t.raw_data
            .chunks_exact(width)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..width].copy_from_slice(c);
                match t.data_type {
                    data_type::FLOAT => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                    data_type::DOUBLE => f64::from_le_bytes(b),
                    data_type::INT8 => b[0] as i8 as f64,
                    data_type::UINT8 | data_type::BOOL => b[0] as f64,
                    data_type::INT16 => i16::from_le_bytes([b[0], b[1]]) as f64,
                    data_type::UINT16 => u16::from_le_bytes([b[0], b[1]]) as f64,
                    data_type::INT32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                    data_type::UINT32 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                    data_type::INT64 => i64::from_le_bytes(b) as f64,
                    _ => u64::from_le_bytes(b) as f64,
                }
            })
            .collect()
    } else {
        let typed: Vec<f64> = match t.data_type {
            data_type::FLOAT => t.float_data.iter().map(|&x| x as f64).collect(),
            data_type::DOUBLE => t.double_data.clone(),
            data_type::INT64 => t.int64_data.iter().map(|&x| x as f64).collect(),
            data_type::UINT32 | data_type::UINT64 => {
                t.uint64_data.iter().map(|&x| x as f64).collect()
            }
            // int8/16/32, uint8/16 and bool live in int32_data.
            _ => t.int32_data.iter().map(|&x| x as f64).collect(),
        };
        if typed.len() != n {
            return Err(format!(
                "{what}: shape {dims:?} has {n} elements, the tensor stores {}",
                typed.len()
            ));
        }
        typed
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "{what}: element {i} is {} (not a number)",
            values[i]
        ));
    }
    Ok((dims, values))
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a proto::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

/// An integer-list attribute, or `default` when absent.
fn attr_ints(node: &NodeProto, name: &str, default: &[i64]) -> Vec<i64> {
    attr(node, name)
        .filter(|a| a.r#type == attribute_type::INTS)
        .map_or_else(|| default.to_vec(), |a| a.ints.clone())
}

/// Sizes from an integer-list attribute: each in `1..=limit` (`0..` when `zero` is allowed).
fn attr_sizes(
    node: &NodeProto,
    name: &str,
    default: &[i64],
    zero: bool,
) -> Result<Vec<usize>, String> {
    attr_ints(node, name, default)
        .into_iter()
        .map(|v| {
            let lo = if zero { 0 } else { 1 };
            if (lo..=1 << 16).contains(&v) {
                Ok(v as usize)
            } else {
                Err(format!("attribute '{name}' has {v}, outside {lo}..=65536"))
            }
        })
        .collect()
}

fn attr_int(node: &NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name)
        .filter(|a| a.r#type == attribute_type::INT)
        .map_or(default, |a| a.i)
}

fn attr_float(node: &NodeProto, name: &str, default: f64) -> f64 {
    attr(node, name)
        .filter(|a| a.r#type == attribute_type::FLOAT)
        .map_or(default, |a| a.f as f64)
}

/// A node's name for messages: its name, else its op and first output.
fn node_label(n: &NodeProto) -> String {
    if n.name.is_empty() {
        format!(
            "{} -> '{}'",
            n.op_type,
            n.output.first().map_or("", String::as_str)
        )
    } else {
        format!("'{}' ({})", n.name, n.op_type)
    }
}

/// A graph input's shape without its batch dimension, within the element limit.
fn input_shape(input: &proto::ValueInfoProto) -> Result<Vec<usize>, String> {
    let what = format!("input '{}'", input.name);
    let tensor = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .ok_or_else(|| format!("{what}: not a tensor"))?;
    let dims = tensor.shape.as_ref().map_or(&[][..], |s| &s.dim[..]);
    let mut shape = Vec::new();
    for (k, d) in dims.iter().enumerate() {
        match (d.dim_value, k) {
            (Some(v), _) if v > 0 => shape.push(v as usize),
            // A symbolic or zero leading dimension is the batch: one sample at a time.
            (_, 0) => {}
            _ => {
                return Err(format!(
                    "{what}: dimension {k} has no size; export with fixed input shapes"
                ))
            }
        }
    }
    // A leading batch of one carries no layout.
    if shape.len() > 1 && shape[0] == 1 {
        shape.remove(0);
    }
    element_count(&shape).ok_or_else(|| {
        format!("{what}: shape {shape:?} exceeds the {MAX_TENSOR_ELEMENTS}-element limit")
    })?;
    Ok(shape)
}

fn lower(bytes: &[u8]) -> Result<quantised::Lowered, String> {
    let model =
        proto::decode(bytes).map_err(|e| format!("not a readable ONNX model (protobuf: {e})"))?;
    let graph = model.graph.as_ref().ok_or("the model has no graph")?;
    let opset = model
        .opset_import
        .iter()
        .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .max()
        .ok_or("the model declares no ai.onnx opset")?;
    if opset < MIN_OPSET {
        return Err(format!(
            "opset {opset} is older than {MIN_OPSET}; re-export with opset_version={MIN_OPSET} or later"
        ));
    }
    if graph.node.len() > MAX_NODES {
        return Err(format!(
            "{} nodes, more than the {MAX_NODES} limit",
            graph.node.len()
        ));
    }
    // Graphs with quantisers are quantised ANNs (QONNX, FINN): lowered to integer IR.
    let quantised = graph.node.iter().any(quantised::is_quantiser);
    // Every node the compiler cannot take, listed at once.
    let unsupported: Vec<String> = graph
        .node
        .iter()
        .filter(|n| {
            if quantised {
                !quantised::lowers(n)
            } else {
                !(n.domain.is_empty() || n.domain == "ai.onnx")
                    || !LOWERED.contains(&n.op_type.as_str())
            }
        })
        .map(|n| {
            if n.domain.is_empty() || n.domain == "ai.onnx" {
                node_label(n)
            } else {
                format!("{} in domain {}", node_label(n), n.domain)
            }
        })
        .collect();
    if !unsupported.is_empty() {
        return Err(format!(
            "{} node(s) with operators Spikeforge does not compile{}: {}",
            unsupported.len(),
            if quantised {
                " in a quantised graph"
            } else {
                ""
            },
            unsupported.join(", ")
        ));
    }
    let mut values: HashMap<String, Value> = HashMap::new();
    let mut total = 0u64;
    for t in &graph.initializer {
        let (dims, data) = tensor_values(t)?;
        total += data.len() as u64;
        if total > MAX_TOTAL_ELEMENTS {
            return Err(format!(
                "initializers hold more than {MAX_TOTAL_ELEMENTS} elements in all"
            ));
        }
        values.insert(t.name.clone(), Value::Const { dims, data });
    }
    let name = if graph.name.is_empty() {
        "onnx".to_string()
    } else {
        graph.name.clone()
    };
    if quantised {
        let consts = values
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::Const { dims, data } => Some((k, (dims, data))),
                _ => None,
            })
            .collect();
        return quantised::lower(graph, name, consts);
    }
    let mut g = Graph::new(name);
    // Leading batch axes the inputs drop (0 or 1): ONNX axes count them, the IR's shapes not.
    let mut batch = None;
    for input in &graph.input {
        if values.contains_key(&input.name) {
            continue; // an initializer listed as an input (IR version < 4)
        }
        let shape = input_shape(input)?;
        let declared = input
            .r#type
            .as_ref()
            .and_then(|t| t.tensor_type.as_ref())
            .and_then(|t| t.shape.as_ref())
            .map_or(0, |s| s.dim.len());
        let dropped = declared.saturating_sub(shape.len());
        if batch.is_some_and(|b| b != dropped) {
            return Err(format!(
                "input '{}' has {dropped} batch axes, another input {}",
                input.name,
                batch.unwrap_or(0)
            ));
        }
        batch = Some(dropped);
        let n: usize = shape.iter().product();
        let id = g.add(
            input.name.clone(),
            Op::Input,
            vec![],
            Type::spike(n).with_shape(shape.clone()),
        );
        values.insert(input.name.clone(), Value::Node { id, shape });
    }
    // How many nodes and outputs read each value: a constant folds into the layer that
    // computed its operand only when nothing else reads that layer. Shape-only nodes rename a
    // value rather than read it; their readers count under the new name.
    let mut readers: HashMap<String, usize> = HashMap::new();
    for name in graph
        .node
        .iter()
        .filter(|n| !SHAPE_ONLY.contains(&n.op_type.as_str()))
        .flat_map(|n| n.input.iter())
        .chain(graph.output.iter().map(|o| &o.name))
    {
        *readers.entry(name.clone()).or_default() += 1;
    }
    for node in &graph.node {
        lower_node(&mut g, &mut values, &mut readers, node, batch.unwrap_or(0))
            .map_err(|m| format!("node {}: {m}", node_label(node)))?;
    }
    for out in &graph.output {
        match values.get(&out.name) {
            Some(Value::Node { id, .. }) => add_output(&mut g, &out.name, *id),
            Some(Value::Const { .. }) => {
                return Err(format!("output '{}' is a constant", out.name))
            }
            Some(Value::Scaled { .. }) => {
                return Err(format!(
                    "output '{}' is scaled counts; threshold them or output the counts",
                    out.name
                ))
            }
            None => return Err(format!("output '{}': no node computes it", out.name)),
        }
    }
    if !g.nodes.iter().any(|n| matches!(n.op, Op::Output)) {
        return Err("the graph has no outputs".into());
    }
    Ok(quantised::Lowered {
        graph: g,
        outputs: Vec::new(),
    })
}

/// The graph output `name`, reading node `id`.
fn add_output(g: &mut Graph, name: &str, id: NodeId) {
    let ty = g.node(id).ty.clone();
    g.add(format!("{name}_out"), Op::Output, vec![Port::now(id)], ty);
}

/// The operand `i` of `node` among the values computed so far.
fn operand<'a, V>(
    values: &'a HashMap<String, V>,
    node: &NodeProto,
    i: usize,
) -> Result<&'a V, String> {
    let name = node
        .input
        .get(i)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("input {i} is missing"))?;
    values
        .get(name)
        .ok_or_else(|| format!("reads '{name}', which nothing before it computes"))
}

fn lower_node(
    g: &mut Graph,
    values: &mut HashMap<String, Value>,
    readers: &mut HashMap<String, usize>,
    node: &NodeProto,
    batch: usize,
) -> Result<(), String> {
    let out = node
        .output
        .first()
        .filter(|s| !s.is_empty())
        .ok_or("no output")?
        .clone();
    let base = if node.name.is_empty() {
        out.clone()
    } else {
        node.name.clone()
    };
    // ONNX does not require unique node names; the IR does.
    let mut name = base.clone();
    let mut k = 1;
    while g.find(&name).is_some() {
        k += 1;
        name = format!("{base}_{k}");
    }
    let op = node.op_type.as_str();
    let result = match op {
        "Identity" | "Cast" | "Flatten" | "Reshape" | "Squeeze" | "Unsqueeze" => {
            // The IR is flat: shape changes are bookkeeping, casts of spikes keep 0/1.
            match operand(values, node, 0)?.clone() {
                Value::Node { id, shape } => {
                    let n: usize = shape.iter().product();
                    let shape = match op {
                        "Flatten" | "Reshape" => vec![n],
                        _ => shape,
                    };
                    Value::Node { id, shape }
                }
                c => c,
            }
        }
        "Mul" | "Add" | "MatMul" if computed_pair(values, node) => {
            let (a, b) = computed_pair_of(values, node)?;
            let (ta, tb) = (g.node(a.0).ty.clone(), g.node(b.0).ty.clone());
            for (id, shape) in [&a, &b] {
                check_view(g, *id, shape)?;
            }
            let spikes = ta.elem == Elem::Spike && tb.elem == Elem::Spike;
            let (op, ins) = match op {
                "Mul" if spikes => {
                    // AND broadcasts its second input; put the one that broadcasts there.
                    let fits = |x: &Type, y: &Type| TensorOp::And.out_type(&[x, y]).is_ok();
                    if fits(&ta, &tb) {
                        (TensorOp::And, vec![a.0, b.0])
                    } else if fits(&tb, &ta) {
                        (TensorOp::And, vec![b.0, a.0])
                    } else {
                        return Err(format!("spike tensors {ta} and {tb} do not broadcast"));
                    }
                }
                "Mul" => {
                    return Err(format!(
                        "Mul of {ta} and {tb}: only spike tensors multiply (AND)"
                    ))
                }
                "Add" => (TensorOp::Add, vec![a.0, b.0]),
                _ => (
                    TensorOp::Matmul {
                        ta: false,
                        tb: false,
                    },
                    vec![a.0, b.0],
                ),
            };
            tensor_node(g, name, op, &ins)?
        }
        "Transpose" => {
            let Value::Node { id, shape } = operand(values, node, 0)?.clone() else {
                return Err("the operand must be a computed tensor".into());
            };
            check_view(g, id, &shape)?;
            let full = shape.len() + batch;
            let default: Vec<i64> = (0..full as i64).rev().collect();
            let perm = attr_ints(node, "perm", &default);
            if perm.len() != full || (0..batch).any(|k| perm[k] != k as i64) {
                return Err(format!("perm {perm:?} moves the batch axis or misses axes"));
            }
            let perm: Vec<usize> = perm[batch..]
                .iter()
                .map(|&p| (p - batch as i64).max(0) as usize)
                .collect();
            tensor_node(g, name, TensorOp::Transpose { perm }, &[id])?
        }
        "Mul" | "Div"
            if matches!(
                (operand(values, node, 0), operand(values, node, 1)),
                (Ok(Value::Node { id, .. }), Ok(Value::Const { .. })) if matches!(g.node(*id).ty.elem, Elem::Fix { .. })
            ) =>
        {
            let (Value::Node { id, shape }, Value::Const { data, .. }) =
                (operand(values, node, 0)?.clone(), operand(values, node, 1)?)
            else {
                return Err("unreachable".into());
            };
            let [c] = data[..] else {
                return Err("counts scale by one constant".into());
            };
            let scale = if op == "Mul" { c } else { 1.0 / c };
            if !(scale > 0.0 && scale.is_finite()) {
                return Err(format!("counts scale by a positive constant, not {c}"));
            }
            Value::Scaled { id, shape, scale }
        }
        "ReduceSum" => {
            let Value::Node { id, shape } = operand(values, node, 0)?.clone() else {
                return Err("the operand must be computed, not a constant".into());
            };
            check_view(g, id, &shape)?;
            let axes: Vec<i64> = match node.input.get(1).filter(|s| !s.is_empty()) {
                Some(_) => match operand(values, node, 1)? {
                    Value::Const { data, .. } => data.iter().map(|&v| v as i64).collect(),
                    _ => return Err("axes must be a constant".into()),
                },
                None => attr_ints(node, "axes", &[]),
            };
            let [axis] = axes[..] else {
                return Err(format!(
                    "sums over axes {axes:?}; one axis is lowered (popcount)"
                ));
            };
            let axis = ir_axis(axis, shape.len(), batch)?;
            let v = tensor_node(g, name, TensorOp::Popcount { axis }, &[id])?;
            match (v, attr_int(node, "keepdims", 1)) {
                (Value::Node { id, mut shape }, 0) => {
                    shape.remove(axis);
                    Value::Node { id, shape }
                }
                (v, _) => v,
            }
        }
        "MaxPool" => {
            let Value::Node { id, shape } = operand(values, node, 0)?.clone() else {
                return Err("the operand must be computed, not a constant".into());
            };
            check_view(g, id, &shape)?;
            let kernel = attr_sizes(node, "kernel_shape", &[], false)?;
            let stride = attr_sizes(node, "strides", &vec![1; kernel.len()], false)?;
            let pads = attr_sizes(node, "pads", &vec![0; 2 * kernel.len()], true)?;
            let dil = attr_sizes(node, "dilations", &vec![1; kernel.len()], false)?;
            if pads.iter().any(|&p| p != 0)
                || dil.iter().any(|&d| d != 1)
                || attr_int(node, "ceil_mode", 0) != 0
            {
                return Err("MaxPool with padding, dilation or ceil_mode is not lowered".into());
            }
            tensor_node(g, name, TensorOp::OrPool { kernel, stride }, &[id])?
        }
        "Conv" => {
            let Value::Node { id: x, shape } = operand(values, node, 0)?.clone() else {
                return Err("the input must be computed, not a constant".into());
            };
            let Value::Const { dims, data } = operand(values, node, 1)?.clone() else {
                return Err("the weight must be a constant initializer".into());
            };
            let sp = dims.len().saturating_sub(2);
            if !(1..=2).contains(&sp) || shape.len() != sp + 1 {
                return Err(format!(
                    "weight {dims:?} on input {shape:?}: 1-D and 2-D convolutions are lowered"
                ));
            }
            let two = |v: Vec<usize>| if sp == 1 { vec![1, v[0]] } else { v };
            let kernel = dims[2..].to_vec();
            let stride = two(attr_sizes(node, "strides", &vec![1; sp], false)?);
            let dilation = two(attr_sizes(node, "dilations", &vec![1; sp], false)?);
            let pads = attr_sizes(node, "pads", &vec![0; 2 * sp], true)?;
            if pads.len() != 2 * sp || pads[..sp] != pads[sp..] {
                return Err(format!("pads {pads:?}: only symmetric padding is lowered"));
            }
            if !matches!(
                attr(node, "auto_pad").map(|a| a.s.as_slice()),
                None | Some(b"NOTSET")
            ) {
                return Err("auto_pad is not lowered; export with explicit pads".into());
            }
            let groups = attr_int(node, "group", 1);
            if !(1..=1 << 16).contains(&groups) {
                return Err(format!("group {groups} out of range"));
            }
            let co = dims[0];
            let bias = match node.input.get(2).filter(|s| !s.is_empty()) {
                Some(_) => match operand(values, node, 2)? {
                    Value::Const { data, .. } => broadcast(data, co)?,
                    _ => return Err("the bias must be a constant".into()),
                },
                None => vec![0.0; co],
            };
            let in_shape = if sp == 1 {
                vec![shape[0], 1, shape[1]]
            } else {
                shape.clone()
            };
            let conv = Conv {
                weight: Tensor::new(
                    vec![
                        co,
                        dims[1],
                        if sp == 1 { 1 } else { kernel[0] },
                        *kernel.last().unwrap_or(&1),
                    ],
                    data,
                ),
                bias,
                in_shape,
                stride,
                padding: if sp == 1 {
                    vec![0, pads[0]]
                } else {
                    pads[..2].to_vec()
                },
                dilation,
                groups: groups as usize,
            };
            let out = conv
                .out_shape()
                .ok_or("the kernel does not fit the input")?;
            let out_shape = if sp == 1 {
                vec![out[0], out[2]]
            } else {
                out.to_vec()
            };
            let n: usize = out.iter().product();
            let id = g.add(
                name,
                Op::Conv(conv),
                vec![Port::now(x)],
                Type::real(n).with_shape(out_shape.clone()),
            );
            Value::Node {
                id,
                shape: out_shape,
            }
        }
        "Gemm" | "MatMul" => {
            let Value::Node { id: x, shape } = operand(values, node, 0)?.clone() else {
                return Err("the first operand must be computed, not a constant".into());
            };
            let Value::Const { dims, data } = operand(values, node, 1)? else {
                return Err("the weight must be a constant initializer".into());
            };
            let [a, b] = dims[..] else {
                return Err(format!("weight of shape {dims:?}; expected a matrix"));
            };
            let n_in: usize = shape.iter().product();
            let trans_b = op == "Gemm" && attr_int(node, "transB", 0) != 0;
            if op == "Gemm" && attr_int(node, "transA", 0) != 0 {
                return Err("transA is not supported".into());
            }
            let (rows, cols) = if trans_b { (a, b) } else { (b, a) };
            if cols != n_in {
                return Err(format!(
                    "weight {dims:?} does not take the {n_in} inputs it is given"
                ));
            }
            let alpha = if op == "Gemm" {
                attr_float(node, "alpha", 1.0)
            } else {
                1.0
            };
            // The IR's weight is [out, in].
            let mut w = vec![0.0; rows * cols];
            for r in 0..rows {
                for c in 0..cols {
                    w[r * cols + c] = alpha
                        * if trans_b {
                            data[r * cols + c]
                        } else {
                            data[c * rows + r]
                        };
                }
            }
            let weight = Tensor::new(vec![rows, cols], w);
            let bias = match (op, node.input.get(2).filter(|s| !s.is_empty())) {
                ("Gemm", Some(_)) => {
                    let Value::Const { data, .. } = operand(values, node, 2)? else {
                        return Err("the bias must be a constant initializer".into());
                    };
                    let beta = attr_float(node, "beta", 1.0);
                    Some(
                        broadcast(data, rows)?
                            .into_iter()
                            .map(|v| beta * v)
                            .collect(),
                    )
                }
                _ => None,
            };
            let op = match bias {
                Some(bias) => Op::Affine { weight, bias },
                None => Op::Linear { weight },
            };
            let id = g.add(name, op, vec![Port::now(x)], Type::real(rows));
            Value::Node {
                id,
                shape: vec![rows],
            }
        }
        "Add" | "Mul" | "Div" => {
            let (a, b) = (operand(values, node, 0)?, operand(values, node, 1)?);
            let (id, shape, c) = match (a, b) {
                (Value::Node { id, shape }, Value::Const { data, .. }) => {
                    (*id, shape.clone(), data)
                }
                (Value::Const { data, .. }, Value::Node { id, shape }) if op != "Div" => {
                    (*id, shape.clone(), data)
                }
                _ => {
                    return Err(format!(
                        "{op} is lowered between a linear layer's output and a constant only"
                    ))
                }
            };
            let n: usize = shape.iter().product();
            let c = broadcast(c, n)?;
            // Readers of the layer under every name it goes by, this node's own read excepted
            // (a fold consumes its operand's read, so chained folds stay possible).
            let aliases: Vec<String> = values
                .iter()
                .filter(|(_, v)| matches!(v, Value::Node { id: other, .. } if *other == id))
                .map(|(name, _)| name.clone())
                .collect();
            let read: usize = aliases
                .iter()
                .map(|name| readers.get(name).copied().unwrap_or(0))
                .sum();
            if read > 1 {
                return Err(format!(
                    "{op} folds into the layer before it, but {read} nodes read that layer"
                ));
            }
            for name in node.input.iter().filter(|i| aliases.contains(i)) {
                if let Some(r) = readers.get_mut(name) {
                    *r = r.saturating_sub(1);
                }
            }
            if op == "Div" && c.contains(&0.0) {
                return Err("division by zero".into());
            }
            // Folded into the linear layer that computed the operand.
            let target = &mut g.nodes[id.index()];
            let (weight, bias) = match &mut target.op {
                Op::Linear { weight } => {
                    let w = std::mem::replace(weight, Tensor::new(vec![0, 0], vec![]));
                    (w, vec![0.0; n])
                }
                Op::Affine { weight, bias } => (
                    std::mem::replace(weight, Tensor::new(vec![0, 0], vec![])),
                    std::mem::take(bias),
                ),
                _ => {
                    return Err(format!(
                        "{op} is lowered after Gemm or MatMul only (its operand comes from {})",
                        target.op.keyword()
                    ))
                }
            };
            let (mut weight, mut bias) = (weight, bias);
            let cols = weight.shape.get(1).copied().unwrap_or(0);
            for r in 0..n {
                match op {
                    "Add" => bias[r] += c[r],
                    _ => {
                        let k = if op == "Mul" { c[r] } else { 1.0 / c[r] };
                        bias[r] *= k;
                        for v in &mut weight.data[r * cols..(r + 1) * cols] {
                            *v *= k;
                        }
                    }
                }
            }
            target.op = Op::Affine { weight, bias };
            Value::Node { id, shape }
        }
        "Greater" | "GreaterOrEqual" => {
            let (id, shape, scale) = match operand(values, node, 0)?.clone() {
                Value::Node { id, shape } => (id, shape, 1.0),
                Value::Scaled { id, shape, scale } => (id, shape, scale),
                Value::Const { .. } => return Err("the first operand must be computed".into()),
            };
            let Value::Const { data, .. } = operand(values, node, 1)? else {
                return Err("the threshold must be a constant".into());
            };
            let n: usize = shape.iter().product();
            if matches!(g.node(id).ty.elem, Elem::Fix { .. }) {
                // A threshold on integer counts: x > t is x >= floor(t) + 1, x >= t is
                // x >= ceil(t); one level, typed as spikes.
                check_view(g, id, &shape)?;
                let t: Vec<i64> = broadcast(data, n)?
                    .iter()
                    .map(|&t| t / scale)
                    .map(|t| {
                        if op == "Greater" {
                            t.floor() + 1.0
                        } else {
                            t.ceil()
                        }
                    })
                    .map(|t| t.clamp(-(1i64 << 40) as f64, (1i64 << 40) as f64) as i64)
                    .collect();
                let channels = if data.len() == 1 { 1 } else { n };
                let t = if channels == 1 { vec![t[0]] } else { t };
                let ty = Type::spike(n).with_shape(g.node(id).ty.shape.clone());
                let mt = Op::MultiThreshold(MultiThreshold {
                    thresholds: Tensor::new(vec![channels, 1], t),
                });
                let id = g.add(name, mt, vec![Port::now(id)], ty);
                values.insert(out, Value::Node { id, shape });
                return Ok(());
            }
            let mut nr = FloatNeuron::neutral(NeuronKind::Threshold, n);
            nr.v_threshold = broadcast(data, n)?;
            nr.compare = if op == "Greater" {
                Compare::Gt
            } else {
                Compare::Ge
            };
            let ty = Type::spike(n).with_shape(shape.clone());
            let id = g.add(name, Op::Neuron(nr), vec![Port::now(id)], ty);
            Value::Node { id, shape }
        }
        _ => return Err(format!("{op} is not lowered")),
    };
    values.insert(out, result);
    Ok(())
}

/// True when both operands of a binary node are computed tensors (not constants).
fn computed_pair(values: &HashMap<String, Value>, node: &NodeProto) -> bool {
    matches!(
        (operand(values, node, 0), operand(values, node, 1)),
        (Ok(Value::Node { .. }), Ok(Value::Node { .. }))
    )
}

type Computed = (NodeId, Vec<usize>);

fn computed_pair_of(
    values: &HashMap<String, Value>,
    node: &NodeProto,
) -> Result<(Computed, Computed), String> {
    match (operand(values, node, 0)?, operand(values, node, 1)?) {
        (Value::Node { id: a, shape: sa }, Value::Node { id: b, shape: sb }) => {
            Ok(((*a, sa.clone()), (*b, sb.clone())))
        }
        _ => Err("both operands must be computed".into()),
    }
}

/// Tensor operators read their operands' IR shapes; a value reshaped since it was computed
/// would be read in the wrong layout.
fn check_view(g: &Graph, id: NodeId, shape: &[usize]) -> Result<(), String> {
    let ty = &g.node(id).ty;
    if ty.shape == shape {
        Ok(())
    } else {
        Err(format!(
            "reads '{}' as {shape:?}, but it was computed as {ty}; reshapes between spike-driven \
             operators are not lowered",
            g.node(id).name
        ))
    }
}

/// An ONNX axis (counting the batch axis the inputs dropped) as an axis of the IR shape.
fn ir_axis(axis: i64, rank: usize, batch: usize) -> Result<usize, String> {
    let full = (rank + batch) as i64;
    let a = if axis < 0 { axis + full } else { axis };
    if a < batch as i64 || a >= full {
        return Err(format!("axis {axis} is the batch axis or out of range"));
    }
    Ok((a - batch as i64) as usize)
}

/// A tensor-operator node on `ins`, typed by the operator.
fn tensor_node(g: &mut Graph, name: String, op: TensorOp, ins: &[NodeId]) -> Result<Value, String> {
    let tys: Vec<Type> = ins.iter().map(|&i| g.node(i).ty.clone()).collect();
    let refs: Vec<&Type> = tys.iter().collect();
    let ty = op.out_type(&refs)?;
    let shape = ty.shape.clone();
    let id = g.add(
        name,
        Op::Tensor(op),
        ins.iter().map(|&i| Port::now(i)).collect(),
        ty,
    );
    Ok(Value::Node { id, shape })
}

/// `data` as `n` values: one shared, or one each.
fn broadcast(data: &[f64], n: usize) -> Result<Vec<f64>, String> {
    match data.len() {
        1 => Ok(vec![data[0]; n]),
        m if m == n => Ok(data.to_vec()),
        m => Err(format!("a constant of {m} values for {n} elements")),
    }
}

#[cfg(test)]
mod tests;
