//! NIR (HDF5) frontend. (Being written; see the helper task.)

use crate::ir::Graph;
use std::path::Path;

/// Why a NIR file could not be read; every message names the file, and the node and field where
/// there is one.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct NirError {
    pub path: String,
    pub message: String,
}

/// Reads a NIR file into a float-stage graph.
pub fn load(path: &Path) -> Result<Graph, NirError> {
    Err(NirError {
        path: path.display().to_string(),
        message: "NIR reader not yet available".into(),
    })
}
