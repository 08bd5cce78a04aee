//! Adder graphs: a constant matrix-vector product as a network of two-input adders and free
//! shifts, with every node's exact value range (so its width) and its cost in one-bit adders.

use crate::ir::signed_width;
use crate::quant::interval::Interval;

/// `±(node << shift)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Term {
    pub node: u32,
    pub shift: u32,
    pub neg: bool,
}

impl Term {
    pub fn new(node: u32, shift: u32, neg: bool) -> Self {
        Term { node, shift, neg }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// Input `i` of the product.
    Input(usize),
    /// `(a << a.shift) ± (b << b.shift)`: `a` is never negated and one of the shifts is zero.
    Add(Term, Term),
    /// A sum of many terms, built as a bit heap ([`super::heap`]).
    Sum(Vec<Term>),
    /// `node >> shift`, exact (the low bits are known zeros): wires only. Multiple-constant
    /// networks make odd fundamentals this way, e.g. `(3x + 5x) >> 3 = x`.
    Shr(u32, u32),
}

/// `y = W x` as adders. Nodes are in topological order.
#[derive(Clone, Debug, PartialEq)]
pub struct AdderGraph {
    /// Range of each input.
    pub inputs: Vec<Interval>,
    pub nodes: Vec<Node>,
    /// Exact range of each node over the input box.
    pub range: Vec<Interval>,
    /// Per output row: its value as one term, or `None` for an all-zero row.
    pub outputs: Vec<Option<Term>>,
}

/// The range of `±(r << shift)`.
pub fn term_range(r: Interval, t: Term) -> Interval {
    let (lo, hi) = (r.lo << t.shift, r.hi << t.shift);
    if t.neg {
        Interval::new(-hi, -lo)
    } else {
        Interval::new(lo, hi)
    }
}

/// Bits of a range stored as two's complement.
pub fn width(r: Interval) -> u32 {
    signed_width(r.lo, r.hi)
}

/// Bits that an unsigned value in `r` occupies, or `None` when `r` reaches below zero.
fn unsigned_bits(r: Interval) -> Option<u32> {
    (r.lo >= 0).then(|| 128 - r.hi.leading_zeros())
}

/// One-bit adders (Xilinx: LUTs on a carry chain) of `a + b` over operand ranges `ra`, `rb`:
/// the bits below the higher shift pass through from the other operand, and two non-negative
/// operands whose bits do not overlap are a concatenation, which costs nothing.
pub fn add_cost(ra: Interval, a: Term, rb: Interval, b: Term) -> u32 {
    let sum = term_range(ra, a).plus(term_range(rb, b));
    let (lo, hi) = if a.shift <= b.shift { (a, b) } else { (b, a) };
    let (rlo, _) = if a.shift <= b.shift {
        (ra, rb)
    } else {
        (rb, ra)
    };
    if !lo.neg && !hi.neg {
        if let (Some(ul), Some(_)) = (
            unsigned_bits(rlo),
            unsigned_bits(if a.shift <= b.shift { rb } else { ra }),
        ) {
            if ul + lo.shift <= hi.shift {
                return 0;
            }
        }
    }
    // A negated low operand needs the carry chain from its lowest bit. A result that is never
    // negative needs no sign bit in the logic (its top bit is a known zero).
    let pass = if lo.neg { lo.shift } else { hi.shift };
    let bits = unsigned_bits(sum).unwrap_or_else(|| width(sum));
    bits.saturating_sub(pass).max(1)
}

/// What a node is a constant multiple of: `Some((input, c))` when its value is `c * x` for an
/// input `x` that is 0 or 1, which the logic builds from wires alone (`x ? c : 0`).
pub type Multiple = Option<(u32, i128)>;

/// The [`Multiple`] of `a + b` given those of its operands.
pub fn sum_multiple(ma: Multiple, a: Term, mb: Multiple, b: Term) -> Multiple {
    let scaled = |(src, c): (u32, i128), t: Term| {
        let v = c << t.shift;
        (src, if t.neg { -v } else { v })
    };
    match (ma, mb) {
        (Some(x), Some(y)) if x.0 == y.0 => Some((x.0, scaled(x, a).1 + scaled(y, b).1)),
        _ => None,
    }
}

impl AdderGraph {
    pub fn width(&self, n: u32) -> u32 {
        width(self.range[n as usize])
    }

    /// Every node's [`Multiple`].
    pub fn multiples(&self) -> Vec<Multiple> {
        let mut m: Vec<Multiple> = Vec::with_capacity(self.nodes.len());
        for nd in &self.nodes {
            let v = match *nd {
                Node::Input(k) => (self.inputs[k] == Interval::new(0, 1)).then_some((k as u32, 1)),
                Node::Add(a, b) => sum_multiple(m[a.node as usize], a, m[b.node as usize], b),
                Node::Shr(n, r) => {
                    m[n as usize].and_then(|(src, c)| (c % (1 << r) == 0).then_some((src, c >> r)))
                }
                Node::Sum(_) => None,
            };
            m.push(v);
        }
        m
    }

    /// Per node, its one-bit adders or LUTs (0 for inputs, concatenations and spike
    /// multiples).
    pub fn node_costs(&self) -> Vec<u32> {
        let m = self.multiples();
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, nd)| match nd {
                &Node::Add(a, b) if m[i].is_none() => add_cost(
                    self.range[a.node as usize],
                    a,
                    self.range[b.node as usize],
                    b,
                ),
                Node::Sum(terms) => self.heap(i as u32, terms).luts(),
                _ => 0,
            })
            .collect()
    }

    /// The bit heap of a [`Node::Sum`] node.
    pub fn heap(&self, n: u32, terms: &[Term]) -> super::heap::HeapPlan {
        super::heap::plan(terms, &self.range, self.width(n))
    }

    /// Two-input adders, not counting the ones that are only wiring.
    pub fn adders(&self) -> usize {
        self.node_costs().iter().filter(|&&c| c > 0).count()
    }

    /// Total one-bit adders of the network (outputs that negate a node add their width).
    pub fn cost(&self) -> u64 {
        let nodes: u64 = self.node_costs().iter().map(|&c| c as u64).sum();
        let negations: u64 = self
            .outputs
            .iter()
            .flatten()
            .filter(|t| t.neg)
            .map(|t| (self.width(t.node) + t.shift) as u64)
            .sum();
        nodes + negations
    }

    /// Adder levels on the longest input-to-output path (concatenations are free wires).
    pub fn depth(&self) -> u32 {
        let d = self.levels();
        self.outputs
            .iter()
            .flatten()
            .map(|t| d[t.node as usize])
            .max()
            .unwrap_or(0)
    }

    /// Per node, the adder levels on the longest path from an input to it.
    pub fn levels(&self) -> Vec<u32> {
        let mut d = vec![0u32; self.nodes.len()];
        let cost = self.node_costs();
        for (i, nd) in self.nodes.iter().enumerate() {
            d[i] = match nd {
                Node::Input(_) => 0,
                Node::Add(a, b) => {
                    d[a.node as usize].max(d[b.node as usize]) + (cost[i] > 0) as u32
                }
                // Counter stages shrink the heap by about half each, then the final adder.
                Node::Sum(ts) => {
                    let deepest = ts.iter().map(|t| d[t.node as usize]).max().unwrap_or(0);
                    deepest + 1 + (ts.len().max(2) as f64).log2().ceil() as u32
                }
                Node::Shr(n, _) => d[*n as usize],
            };
        }
        d
    }

    /// Removes output negations where a node used only by that output can compute the negated
    /// value at no cost: a bit heap negates its terms, a subtractor swaps its operands, an adder
    /// becomes a subtractor once one operand's node is negated so.
    pub fn absorb_negations(&mut self) {
        let mut uses = vec![0u32; self.nodes.len()];
        for nd in &self.nodes {
            for t in operands(nd) {
                uses[t.node as usize] += 1;
            }
        }
        for t in self.outputs.iter().flatten() {
            uses[t.node as usize] += 1;
        }
        for j in 0..self.outputs.len() {
            if let Some(t) = self.outputs[j] {
                if t.neg && uses[t.node as usize] == 1 && self.negate(t.node, &uses, 8) {
                    self.outputs[j] = Some(Term::new(t.node, t.shift, false));
                }
            }
        }
    }

    /// Makes node `n` (used once) compute its negation, if free; `depth` bounds the search.
    fn negate(&mut self, n: u32, uses: &[u32], depth: u32) -> bool {
        let i = n as usize;
        let new = match self.nodes[i].clone() {
            Node::Input(_) | Node::Shr(..) => return false,
            Node::Sum(ts) => Node::Sum(
                ts.iter()
                    .map(|t| Term::new(t.node, t.shift, !t.neg))
                    .collect(),
            ),
            // a - b  ->  b - a
            Node::Add(a, b) if b.neg => Node::Add(
                Term::new(b.node, b.shift, false),
                Term::new(a.node, a.shift, true),
            ),
            // a + b  ->  (-a) - b  or  (-b) - a
            Node::Add(a, b) => {
                let single = |t: Term| uses[t.node as usize] == 1 && depth > 0;
                if single(a) && self.negate(a.node, uses, depth - 1) {
                    Node::Add(a, Term::new(b.node, b.shift, true))
                } else if single(b) && self.negate(b.node, uses, depth - 1) {
                    Node::Add(b, Term::new(a.node, a.shift, true))
                } else {
                    return false;
                }
            }
        };
        self.nodes[i] = new;
        let r = self.range[i];
        self.range[i] = Interval::new(-r.hi, -r.lo);
        true
    }

    /// The graph without nodes no output depends on (inputs keep their places).
    pub fn pruned(&self) -> AdderGraph {
        let mut live = vec![false; self.nodes.len()];
        for t in self.outputs.iter().flatten() {
            live[t.node as usize] = true;
        }
        for i in (0..self.nodes.len()).rev() {
            if live[i] {
                for t in operands(&self.nodes[i]) {
                    live[t.node as usize] = true;
                }
            }
        }
        let mut map = vec![u32::MAX; self.nodes.len()];
        let mut g = AdderGraph {
            inputs: self.inputs.clone(),
            nodes: Vec::new(),
            range: Vec::new(),
            outputs: Vec::new(),
        };
        let re = |t: Term, map: &[u32]| Term::new(map[t.node as usize], t.shift, t.neg);
        for (i, nd) in self.nodes.iter().enumerate() {
            if live[i] || matches!(nd, Node::Input(_)) {
                map[i] = g.nodes.len() as u32;
                g.nodes.push(match nd {
                    &Node::Input(k) => Node::Input(k),
                    &Node::Add(a, b) => Node::Add(re(a, &map), re(b, &map)),
                    Node::Sum(ts) => Node::Sum(ts.iter().map(|&t| re(t, &map)).collect()),
                    &Node::Shr(n, r) => Node::Shr(map[n as usize], r),
                });
                g.range.push(self.range[i]);
            }
        }
        g.outputs = self
            .outputs
            .iter()
            .map(|t| t.map(|t| re(t, &map)))
            .collect();
        g
    }

    /// Exact value of every node for input `x`.
    pub fn eval_nodes(&self, x: &[i64]) -> Vec<i128> {
        let mut v = vec![0i128; self.nodes.len()];
        for (i, nd) in self.nodes.iter().enumerate() {
            v[i] = match nd {
                &Node::Input(k) => x[k] as i128,
                &Node::Add(a, b) => term_value(&v, a) + term_value(&v, b),
                Node::Sum(ts) => ts.iter().map(|&t| term_value(&v, t)).sum(),
                &Node::Shr(n, r) => v[n as usize] >> r,
            };
        }
        v
    }

    /// `W x`, exactly.
    pub fn eval(&self, x: &[i64]) -> Vec<i128> {
        let v = self.eval_nodes(x);
        self.outputs
            .iter()
            .map(|t| t.map_or(0, |t| term_value(&v, t)))
            .collect()
    }

    /// `W x` as the hardware computes it: every node wraps to its width (two's complement),
    /// operands included. Equal to [`eval`](Self::eval) whenever the ranges are right.
    pub fn eval_wrapped(&self, x: &[i64]) -> Vec<i128> {
        let mut v = vec![0i128; self.nodes.len()];
        for (i, nd) in self.nodes.iter().enumerate() {
            let w = width(self.range[i]);
            v[i] = match nd {
                &Node::Input(k) => wrap(x[k] as i128, w),
                &Node::Add(a, b) => {
                    wrap(wrap(term_value(&v, a), w) + wrap(term_value(&v, b), w), w)
                }
                // The heap as planned: counters, then the final adder.
                Node::Sum(ts) => super::heap::eval(&self.heap(i as u32, ts), &v),
                &Node::Shr(n, r) => wrap(v[n as usize] >> r, w),
            };
        }
        self.outputs
            .iter()
            .map(|t| t.map_or(0, |t| term_value(&v, t)))
            .collect()
    }
}

/// The terms a node reads.
pub fn operands(nd: &Node) -> Vec<Term> {
    match nd {
        Node::Input(_) => Vec::new(),
        &Node::Add(a, b) => vec![a, b],
        Node::Sum(ts) => ts.clone(),
        &Node::Shr(n, _) => vec![Term::new(n, 0, false)],
    }
}

fn term_value(v: &[i128], t: Term) -> i128 {
    let x = v[t.node as usize] << t.shift;
    if t.neg {
        -x
    } else {
        x
    }
}

/// `x` reduced to a signed `w`-bit value.
pub fn wrap(x: i128, w: u32) -> i128 {
    let s = 128 - w;
    (x << s) >> s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(lo: i128, hi: i128) -> Interval {
        Interval::new(lo, hi)
    }

    #[test]
    fn spike_concatenation_is_free_and_overlap_is_not() {
        let s = iv(0, 1);
        // s0 + (s1 << 1) = {s1, s0}: wires only.
        assert_eq!(
            add_cost(s, Term::new(0, 0, false), s, Term::new(1, 1, false)),
            0
        );
        // s0 + s1 needs a 2-bit adder (a half adder and its carry).
        assert_eq!(
            add_cost(s, Term::new(0, 0, false), s, Term::new(1, 0, false)),
            2
        );
        // s0 - (s1 << 2): bits 0 and 1 pass; the result spans [-4, 1], 3 bits.
        assert_eq!(
            add_cost(s, Term::new(0, 0, false), s, Term::new(1, 2, true)),
            1
        );
    }

    #[test]
    fn eight_bit_adder_with_shifted_operand_skips_the_passed_bits() {
        let b = iv(-128, 127);
        // a + (b << 3): bits 0..3 are a's, the adder spans the 12-bit result above them.
        assert_eq!(
            add_cost(b, Term::new(0, 0, false), b, Term::new(1, 3, false)),
            9
        );
    }

    #[test]
    fn wrap_keeps_in_range_values_and_folds_others() {
        assert_eq!(wrap(5, 4), 5);
        assert_eq!(wrap(-8, 4), -8);
        assert_eq!(wrap(8, 4), -8);
        assert_eq!(wrap(-9, 4), 7);
    }
}
