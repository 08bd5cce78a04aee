//! Optimiser: rewrites of the integer IR and the arithmetic the hardwired-weight blocks use.
//!
//! [`cmvm`] turns a constant weight matrix into a shift-add network ([`adder::AdderGraph`])
//! with sub-sums shared across outputs; [`heap`] sums many narrow operands with counters;
//! [`egraph`] is an `egg` e-graph over datapath arithmetic with a constant and interval
//! analysis, used for single-constant multiplications (the neuron leaks). [`prune`] works on
//! the whole integer graph: silent, duplicate and unread neurons, and dead nodes.

pub mod adder;
pub mod cmvm;
pub mod egraph;
pub mod heap;
pub mod mcm;
pub mod prune;

use crate::backend::hardwired::{self, BlockStats, InputBus};
use crate::ir::signed_width;
use crate::quant::interval::Interval;

/// Largest matrix [`matrix_block`] accepts (entries), so a hostile file cannot exhaust memory.
pub const MAX_MATRIX_ENTRIES: usize = 1 << 22;

/// Why a matrix cannot become a block.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MatrixError(pub String);

/// Threads the optimiser may use (0: not set, use the machine's cores, at most 8).
static THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Sets the optimiser's thread count (at least 1). Results do not depend on it.
pub fn set_threads(n: usize) {
    THREADS.store(n.max(1), std::sync::atomic::Ordering::Relaxed);
}

/// The optimiser's thread count.
pub fn threads() -> usize {
    match THREADS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get().min(8)),
        n => n,
    }
}

/// A standalone hardwired-weight block for `y = W x` (`w` row-major, one row per output):
/// spike inputs when `input_bits` is 1, signed `input_bits`-bit inputs otherwise. Outputs are
/// as wide as the widest row needs.
pub fn matrix_block(
    module: &str,
    w: &[i64],
    rows: usize,
    input_bits: u32,
) -> Result<(String, BlockStats), MatrixError> {
    if rows == 0 || w.is_empty() || !w.len().is_multiple_of(rows) {
        return Err(MatrixError(format!(
            "matrix of {} entries is not {rows} equal rows",
            w.len()
        )));
    }
    if w.len() > MAX_MATRIX_ENTRIES {
        return Err(MatrixError(format!(
            "matrix of {} entries exceeds the limit of {MAX_MATRIX_ENTRIES}",
            w.len()
        )));
    }
    if let Some(v) = w.iter().find(|v| v.unsigned_abs() > 1 << 40) {
        return Err(MatrixError(format!("weight {v} exceeds 2^40")));
    }
    if !(1..=32).contains(&input_bits) {
        return Err(MatrixError(format!(
            "input bits {input_bits} outside 1..=32"
        )));
    }
    let cols = w.len() / rows;
    let (x, bus) = if input_bits == 1 {
        (Interval::new(0, 1), InputBus::Spikes)
    } else {
        let m = 1i128 << (input_bits - 1);
        (
            Interval::new(-m, m - 1),
            InputBus::Signed { bits: input_bits },
        )
    };
    let ab = w
        .chunks(cols)
        .map(|row| {
            let r = row.iter().fold(Interval::point(0), |acc, &v| {
                let (a, b) = (v as i128 * x.lo, v as i128 * x.hi);
                acc.plus(Interval::new(a.min(b), a.max(b)))
            });
            signed_width(r.lo, r.hi)
        })
        .max()
        .unwrap_or(1);
    let (g, st) = cmvm::solve(w, rows, &vec![x; cols]);
    let header = format!("Constant matrix {rows}x{cols} times {input_bits}-bit inputs");
    Ok(hardwired::module(
        module,
        &header,
        &g,
        st,
        &[],
        bus,
        ab,
        None,
    ))
}
