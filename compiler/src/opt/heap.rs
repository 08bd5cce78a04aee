//! Bit heaps: a multi-operand sum reduced by parallel counters, then one carry-chain adder.
//!
//! Summing many narrow operands (spikes times weight digits) with two-input adders wastes the
//! carry chain: adding two 1-bit values costs two LUTs and removes one bit. A 6:3 counter (three
//! 6-input functions, one LUT6 each) removes three bits for three LUTs, so the heap reaches two
//! rows at about one LUT per removed bit, and the final adder removes the rest at the same rate
//! (as in FloPoCo's bit-heap compressors). Negative weights and sign bits enter inverted, with
//! their offset folded into one constant: `-b 2^k = (~b) 2^k - 2^k`.

use super::adder::Term;
use crate::quant::interval::Interval;

/// One bit of the heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bit {
    /// Bit `bit` of adder-graph node `node`, inverted when `inv`.
    Node { node: u32, bit: u32, inv: bool },
    /// Output `k` of counter `counter`.
    Counter { counter: u32, k: u32 },
    /// A constant one.
    One,
}

/// A parallel counter: the number of its input bits that are one, as `outputs` bits whose least
/// significant one sits in column `col`.
#[derive(Clone, Debug, PartialEq)]
pub struct Counter {
    pub col: u32,
    pub inputs: Vec<Bit>,
    pub outputs: u32,
}

/// How a sum of terms is built: counters in dependency order, then `rows[0] + rows[1]`
/// (per column, least significant first), all modulo `2^width`.
#[derive(Clone, Debug, PartialEq)]
pub struct HeapPlan {
    pub width: u32,
    pub counters: Vec<Counter>,
    pub rows: [Vec<Option<Bit>>; 2],
}

impl HeapPlan {
    /// LUTs: one per counter output, and one per column of the final adder that adds two bits.
    pub fn luts(&self) -> u32 {
        let counters: u32 = self.counters.iter().map(|c| c.outputs).sum();
        counters + self.adder_bits()
    }

    /// Columns from the lowest one where both rows hold a bit up to the top (the carry chain).
    pub fn adder_bits(&self) -> u32 {
        let first = (0..self.width as usize)
            .find(|&c| self.rows[0][c].is_some() && self.rows[1][c].is_some());
        first.map_or(0, |c| self.width - c as u32)
    }
}

/// The bits of `term` over a node of range `r` (`w` bits), as (column, bit) pairs below
/// `width`, and the constant the inversions owe.
fn term_bits(t: Term, r: Interval, w: u32, width: u32, out: &mut [Vec<Bit>]) -> i128 {
    let mut constant = 0i128;
    // A range that never goes negative needs no sign bit.
    let (bits, signed) = if r.lo >= 0 {
        (128 - r.hi.leading_zeros(), false)
    } else {
        (w, true)
    };
    for k in 0..bits {
        let col = k + t.shift;
        if col >= width {
            break;
        }
        // Weight of this bit in the term: negative for the sign bit of a signed node, and
        // flipped when the term is negated.
        let negative = (signed && k == bits - 1) != t.neg;
        let bit = Bit::Node {
            node: t.node,
            bit: k,
            inv: negative,
        };
        if negative {
            constant -= 1i128 << col;
        }
        out[col as usize].push(bit);
    }
    constant
}

/// Plans the sum of `terms` (node ranges `range`) modulo `2^width`.
pub fn plan(terms: &[Term], range: &[Interval], width: u32) -> HeapPlan {
    let mut heap: Vec<Vec<Bit>> = vec![Vec::new(); width as usize];
    let mut constant = 0i128;
    for &t in terms {
        let r = range[t.node as usize];
        let w = super::adder::width(r);
        constant += term_bits(t, r, w, width, &mut heap);
    }
    let modulus = 1i128 << width;
    let k = constant.rem_euclid(modulus);
    for (c, col) in heap.iter_mut().enumerate() {
        if k >> c & 1 == 1 {
            col.push(Bit::One);
        }
    }
    let mut counters: Vec<Counter> = Vec::new();
    while heap.iter().any(|c| c.len() > 2) {
        let mut next: Vec<Vec<Bit>> = vec![Vec::new(); width as usize];
        for c in 0..width as usize {
            let mut bits = std::mem::take(&mut heap[c]);
            bits.sort_unstable();
            let mut rest = &bits[..];
            // 6:3 counters while six bits remain, then a 5:3 or a full adder for what would
            // leave more than two bits.
            loop {
                let take = match rest.len() {
                    n if n >= 6 => 6,
                    5 => 5,
                    3 | 4 => 3,
                    _ => break,
                };
                // Count bits at or above `width` would wrap away: leave them out.
                let outputs = (if take == 3 { 2 } else { 3 }).min(width - c as u32);
                let id = counters.len() as u32;
                counters.push(Counter {
                    col: c as u32,
                    inputs: rest[..take].to_vec(),
                    outputs,
                });
                for k in 0..outputs {
                    next[c + k as usize].push(Bit::Counter { counter: id, k });
                }
                rest = &rest[take..];
            }
            next[c].extend_from_slice(rest);
        }
        heap = next;
    }
    let mut rows = [vec![None; width as usize], vec![None; width as usize]];
    for (c, col) in heap.iter().enumerate() {
        for (r, &b) in col.iter().enumerate() {
            rows[r][c] = Some(b);
        }
    }
    HeapPlan {
        width,
        counters,
        rows,
    }
}

/// The value of a planned sum, computing every counter, for `node_value` of each node.
pub fn eval(p: &HeapPlan, node_value: &[i128]) -> i128 {
    let mut outs: Vec<Vec<bool>> = Vec::with_capacity(p.counters.len());
    let bit = |b: Bit, outs: &Vec<Vec<bool>>| -> bool {
        match b {
            Bit::Node { node, bit, inv } => ((node_value[node as usize] >> bit) & 1 == 1) != inv,
            Bit::Counter { counter, k } => outs[counter as usize][k as usize],
            Bit::One => true,
        }
    };
    for c in &p.counters {
        let n = c.inputs.iter().filter(|&&b| bit(b, &outs)).count();
        outs.push((0..c.outputs).map(|k| n >> k & 1 == 1).collect());
    }
    let row = |r: usize| -> i128 {
        p.rows[r]
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_some_and(|b| bit(b, &outs)))
            .map(|(c, _)| 1i128 << c)
            .sum()
    };
    super::adder::wrap(row(0) + row(1), p.width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn planned_sum_equals_the_sum(
            seed in any::<u64>(),
            n in 1usize..40,
            spikes in any::<bool>(),
        ) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let nodes = 6u32;
            let range: Vec<Interval> = (0..nodes)
                .map(|_| if spikes { Interval::new(0, 1) } else { Interval::new(-8, 7) })
                .collect();
            let terms: Vec<Term> = (0..n)
                .map(|_| Term::new(rng.random_range(0..nodes), rng.random_range(0..5), rng.random_bool(0.4)))
                .collect();
            let total = terms.iter().fold(Interval::point(0), |acc, &t| {
                acc.plus(super::super::adder::term_range(range[t.node as usize], t))
            });
            let width = super::super::adder::width(total);
            let p = plan(&terms, &range, width);
            prop_assert!(p.rows.iter().all(|r| r.len() == width as usize));
            for _ in 0..16 {
                let v: Vec<i128> = range
                    .iter()
                    .map(|r| rng.random_range(r.lo..=r.hi))
                    .collect();
                let want: i128 = terms
                    .iter()
                    .map(|t| {
                        let x = v[t.node as usize] << t.shift;
                        if t.neg { -x } else { x }
                    })
                    .sum();
                // Node values are stored as two's complement of their width.
                let stored: Vec<i128> = v
                    .iter()
                    .zip(&range)
                    .map(|(&x, r)| x & ((1i128 << super::super::adder::width(*r)) - 1))
                    .collect();
                prop_assert_eq!(eval(&p, &stored), want);
            }
        }
    }

    #[test]
    fn ninety_spike_bits_cost_about_one_lut_per_bit() {
        let range = vec![Interval::new(0, 1); 90];
        let terms: Vec<Term> = (0..90).map(|i| Term::new(i, i % 4, false)).collect();
        let p = plan(&terms, &range, 10);
        // 90 bits in, 10 out: far below the ~3 LUTs per bit of a two-input adder tree.
        assert!(p.luts() < 130, "{} LUTs", p.luts());
    }
}
