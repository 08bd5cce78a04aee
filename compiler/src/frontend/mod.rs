//! Frontends: read a model file and lower it to the float-stage IR.

pub mod conventions;
pub mod nir;
pub mod onnx;
