//! The typed IR every frontend lowers to and every backend reads.
//!
//! A [`Graph`] is an arena of [`Node`]s in evaluation order. Each node applies an [`Op`] to the
//! elementwise sum of its input ports and yields a value of a [`Type`] (`spike`, `real`, or
//! `fix<w,f>` with a shape). A port marked `delayed` reads the previous timestep, which is how
//! recurrent connections are expressed; every other port reads an earlier node. The float stage
//! mirrors NIR; the integer stage (after `quant`) is what the golden model and the RTL execute.
//! [`verify`] checks these rules; `text` prints and parses the `.sfir` form.

pub mod graph;
pub mod linear;
pub mod op;
pub mod tensor_ops;
pub mod text;
pub mod types;
pub mod verify;

pub use graph::{Graph, Node, NodeId, Port};
pub use op::{
    Compare, Conv, FloatNeuron, IntConv, IntDense, IntNeuron, MultiThreshold, NeuronKind, Op, Pool,
    Reset, Tensor, MAX_DELAY_STEPS,
};
pub use tensor_ops::{LayerNorm, Requant, Rounding, Softmax, TensorOp};
pub use types::{signed_range, signed_width, widest_constant, Elem, Type};
