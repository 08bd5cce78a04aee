//! Constant matrix-vector multiplication: `y = W x` for a constant integer `W` as a shift-add
//! network whose sub-sums are shared across outputs.
//!
//! Every weight is recoded in canonical signed digits, so each output is a sum of signed,
//! shifted inputs. Greedy two-term common-subexpression extraction then repeatedly takes the
//! pattern `a ± (b << k)` that occurs most often (fewest one-bit adders on ties), builds it once
//! and substitutes it everywhere, as H_cmvm (Aksoy et al.) and da4ml do. What remains of each
//! output is summed narrowest-first. Costs are one-bit adders over exact value ranges, so the
//! free concatenations of spike inputs are preferred.

use super::adder::{add_cost, sum_multiple, term_range, width, AdderGraph, Multiple, Node, Term};
use crate::quant::interval::Interval;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// Two terms of one output, up to a common shift and sign: `a ± (b << dk)` (`dk` may be
/// negative, meaning `(a << -dk) ± b`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Pair {
    a: u32,
    b: u32,
    dk: i32,
    neg: bool,
}

impl Pair {
    /// The pair formed by two distinct terms, in canonical order.
    fn of(t: Term, u: Term) -> Pair {
        let (p, q) = if (t.node, t.shift) < (u.node, u.shift) {
            (t, u)
        } else {
            (u, t)
        };
        Pair {
            a: p.node,
            b: q.node,
            dk: q.shift as i32 - p.shift as i32,
            neg: p.neg != q.neg,
        }
    }
}

/// Canonical signed digits of `a`: (negative, shift) with no two adjacent nonzero digits.
pub fn csd(mut a: i128) -> Vec<(bool, u32)> {
    let mut digits = Vec::new();
    let mut k = 0;
    while a != 0 {
        if a & 1 == 1 {
            let neg = a & 3 == 3;
            digits.push((neg, k));
            a += if neg { 1 } else { -1 };
        }
        a >>= 1;
        k += 1;
    }
    digits
}

/// One output's remaining terms, keyed by (node, shift); the value is the sign.
type Row = BTreeMap<(u32, u32), bool>;

/// Occurrences of a pair, and the count of its newest priority-queue entry.
#[derive(Clone, Copy, Default)]
struct PairCount {
    n: i32,
    queued: i32,
    /// Listed in `risen`.
    risen: bool,
}

/// How equally frequent patterns are ordered; small matrices try every rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tie {
    /// The cheaper adder first.
    Cheap,
    /// The smaller relative shift first.
    Near,
    /// The larger relative shift first.
    Far,
    /// A fixed pseudo-random order (a restart of the greedy search).
    Shuffled(u64),
}

struct Solver {
    tie: Tie,
    nodes: Vec<Node>,
    range: Vec<Interval>,
    mult: Vec<Multiple>,
    interned: FxHashMap<Node, u32>,
    rows: Vec<Row>,
    /// Rows that hold (or held) a term of each node.
    node_rows: Vec<Vec<u32>>,
    count: FxHashMap<Pair, PairCount>,
    /// Pairs whose count rose above their queued count since the last queueing.
    risen: Vec<Pair>,
}

impl Solver {
    fn node(&mut self, nd: Node) -> u32 {
        if let Some(&id) = self.interned.get(&nd) {
            return id;
        }
        let (r, m) = match &nd {
            Node::Input(_) => unreachable!("inputs are created up front"),
            Node::Sum(ts) => (
                ts.iter().fold(Interval::point(0), |acc, t| {
                    acc.plus(term_range(self.range[t.node as usize], *t))
                }),
                None,
            ),
            &Node::Add(a, b) => (
                term_range(self.range[a.node as usize], a)
                    .plus(term_range(self.range[b.node as usize], b)),
                sum_multiple(self.mult[a.node as usize], a, self.mult[b.node as usize], b),
            ),
            Node::Shr(..) => unreachable!("digit sharing only adds"),
        };
        let id = self.nodes.len() as u32;
        self.nodes.push(nd.clone());
        self.range.push(r);
        self.mult.push(m);
        self.node_rows.push(Vec::new());
        self.interned.insert(nd, id);
        id
    }

    /// The node and term computing `t + u` (`a` of the node never negated).
    fn combine(&mut self, t: Term, u: Term) -> Term {
        let p = Pair::of(t, u);
        let (first, second) = if (t.node, t.shift) < (u.node, u.shift) {
            (t, u)
        } else {
            (u, t)
        };
        let s0 = first.shift.min(second.shift);
        let n = self.node(Node::Add(
            Term::new(p.a, first.shift - s0, false),
            Term::new(p.b, second.shift - s0, p.neg),
        ));
        Term::new(n, s0, first.neg)
    }

    /// Adjusts the count of every pair of `t` with the terms of row `r` (`t` not in it).
    fn bump_row(&mut self, r: usize, t: Term, by: i32) {
        for (&(n, s), &neg) in &self.rows[r] {
            let p = Pair::of(t, Term::new(n, s, neg));
            let c = self.count.entry(p).or_default();
            c.n += by;
            if by > 0 && c.n >= 2 && c.n > c.queued && !c.risen {
                c.risen = true;
                self.risen.push(p);
            }
        }
    }

    fn add_term(&mut self, r: usize, t: Term) {
        match self.rows[r].get(&(t.node, t.shift)).copied() {
            // Two equal terms are one term shifted once more; opposite terms cancel.
            Some(neg) => {
                self.remove_term(r, t.node, t.shift);
                if neg == t.neg {
                    self.add_term(r, Term::new(t.node, t.shift + 1, neg));
                }
            }
            None => {
                self.bump_row(r, t, 1);
                self.rows[r].insert((t.node, t.shift), t.neg);
                self.node_rows[t.node as usize].push(r as u32);
            }
        }
    }

    fn remove_term(&mut self, r: usize, node: u32, shift: u32) {
        let neg = self.rows[r]
            .remove(&(node, shift))
            .expect("removed term is present");
        self.bump_row(r, Term::new(node, shift, neg), -1);
    }

    /// Replaces every non-overlapping occurrence of `p` in row `r` by the pair's node.
    fn substitute(&mut self, r: usize, p: Pair) {
        let firsts: Vec<(u32, bool)> = self.rows[r]
            .range((p.a, 0)..=(p.a, u32::MAX))
            .map(|(&(_, s), &neg)| (s, neg))
            .collect();
        for (s, neg) in firsts {
            let s2 = s as i64 + p.dk as i64;
            if s2 < 0 || (p.a == p.b && s2 <= s as i64) {
                continue;
            }
            let s2 = s2 as u32;
            // Both terms must still be there (an earlier occurrence may have used one).
            if self.rows[r].get(&(p.a, s)) != Some(&neg)
                || self.rows[r].get(&(p.b, s2)) != Some(&(neg != p.neg))
            {
                continue;
            }
            self.remove_term(r, p.a, s);
            self.remove_term(r, p.b, s2);
            let t = self.combine(Term::new(p.a, s, neg), Term::new(p.b, s2, neg != p.neg));
            self.add_term(r, t);
        }
    }

    fn pair_cost(&self, p: Pair) -> u32 {
        let (sa, sb) = if p.dk >= 0 {
            (0, p.dk as u32)
        } else {
            ((-p.dk) as u32, 0)
        };
        self.cost_of(Term::new(p.a, sa, false), Term::new(p.b, sb, p.neg))
    }

    /// Priority of extracting `p`, found `count` times: count first (tried: savings-weighted
    /// scores, worse on random matrices), then the tie rule.
    fn score(&self, p: Pair, count: i32) -> i64 {
        let cost = self.pair_cost(p).min(0xFFF) as i64;
        let dk = (p.dk.unsigned_abs().min(0xFF)) as i64;
        let tie = match self.tie {
            Tie::Cheap => (0xFFF - cost) << 8,
            Tie::Near => (0xFF - dk) << 12 | (0xFFF - cost),
            Tie::Far => dk << 12 | (0xFFF - cost),
            Tie::Shuffled(seed) => {
                use std::hash::{Hash, Hasher};
                let mut h = rustc_hash::FxHasher::default();
                (p, seed).hash(&mut h);
                (h.finish() & 0xFFFFF) as i64
            }
        };
        (count as i64) << 20 | tie
    }

    /// One-bit adders of `a + b` (nothing when both are multiples of one spike).
    fn cost_of(&self, a: Term, b: Term) -> u32 {
        match (self.mult[a.node as usize], self.mult[b.node as usize]) {
            (Some(x), Some(y)) if x.0 == y.0 => 0,
            _ => add_cost(
                self.range[a.node as usize],
                a,
                self.range[b.node as usize],
                b,
            ),
        }
    }

    /// The sum of `terms` (with their msb) as one term: repeatedly the narrowest term plus the
    /// cheapest of the next [`LOOKAHEAD`] narrowest.
    fn sum_terms(&mut self, mut terms: Vec<(u32, Term)>) -> Option<Term> {
        terms.sort_unstable();
        let mut terms: std::collections::VecDeque<(u32, Term)> = terms.into();
        while terms.len() > 1 {
            let (_, t) = terms.pop_front().expect("two terms");
            let k = (0..terms.len().min(LOOKAHEAD))
                .min_by_key(|&k| (self.cost_of(t, terms[k].1), k))
                .expect("a partner");
            let (_, u) = terms.remove(k).expect("partner in range");
            let v = self.combine(t, u);
            let key = (self.msb(v), v);
            let at = terms.partition_point(|e| *e < key);
            terms.insert(at, key);
        }
        terms.pop_front().map(|(_, t)| t)
    }

    /// Top bit position of a term's magnitude, for narrowest-first summation.
    fn msb(&self, t: Term) -> u32 {
        width(self.range[t.node as usize]) + t.shift
    }
}

/// Statistics of one solve, for `--opt-report`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Two-input adders without sharing: per output, its nonzero canonical signed digits
    /// minus one.
    pub naive_adders: usize,
    /// The form that won (see [`solve`]).
    pub form: &'static str,
    /// Nonzero digits of the matrix the winning form shares (after any decomposition).
    pub digits: usize,
    /// Patterns extracted and shared.
    pub extracted: usize,
    /// Forms tried and their estimated one-bit adders.
    pub tried: Vec<(&'static str, u64)>,
    pub seconds: f64,
}

/// Large matrices solve a tree decomposition only when its digits (plus one adder per edge) are
/// below this percentage of the plain digits.
const TREE_GAIN: u64 = 95;

/// Matrices up to this many entries try every [`Tie`] rule.
const SMALL_MATRIX: usize = 4096;

/// Shuffled restarts of the greedy extraction for small matrices: this many matrix entries
/// per restart, 4 to 32 restarts.
const RESTART_BUDGET: usize = 16384;

/// Partners considered for each term when summing what sharing left.
const LOOKAHEAD: usize = 8;

/// Largest `cols^2 * rows` for which the column decomposition is tried (its spanning tree
/// compares every pair of columns).
const DECOMPOSE_BUDGET: usize = 1 << 26;

/// The shift-add network computing `y = W x` for `x` in the `inputs` box; `w` is row-major,
/// `rows x inputs.len()`. Tries several forms (no sharing; digit sharing; sharing after a
/// row or column decomposition; bit heaps for spike inputs) and keeps the cheapest.
pub fn solve(w: &[i64], rows: usize, inputs: &[Interval]) -> (AdderGraph, Stats) {
    assert_eq!(w.len(), rows * inputs.len(), "matrix shape");
    let t0 = std::time::Instant::now();
    let (g, mut st) = solve_shifted(w, rows, inputs);
    st.naive_adders = w
        .chunks(inputs.len().max(1))
        .map(|r| (r.iter().map(|&v| digits(v)).sum::<u32>() as usize).saturating_sub(1))
        .sum();
    st.seconds = t0.elapsed().as_secs_f64();
    (g, st)
}

fn solve_shifted(w: &[i64], rows: usize, inputs: &[Interval]) -> (AdderGraph, Stats) {
    // A power of two common to every weight (guard bits) is a shift of every output.
    let common = w
        .iter()
        .filter(|&&v| v != 0)
        .map(|v| v.trailing_zeros())
        .min()
        .unwrap_or(0);
    if common > 0 {
        let w: Vec<i64> = w.iter().map(|&v| v >> common).collect();
        let (mut g, st) = solve_shifted(&w, rows, inputs);
        for t in g.outputs.iter_mut().flatten() {
            t.shift += common;
        }
        return (g, st);
    }
    let cols = inputs.len();
    // Without sharing (each product alone, free for spikes, then summed) small or unshareable
    // matrices are cheapest; the tree decompositions compare every pair of columns or rows,
    // so only within a budget.
    let mut forms = vec![Stage::Alone, Stage::Shared];
    // Bit heaps pay off for 1-bit operands; multi-bit ones fill their columns with sign bits.
    if inputs.iter().all(|r| *r == Interval::new(0, 1)) {
        forms.extend([Stage::Heap, Stage::SharedHeap]);
    } else if cols == 1 {
        forms.push(Stage::Mcm);
    }
    let tree_work = (cols * cols)
        .saturating_add(rows * rows)
        .saturating_mul(rows.max(cols));
    if tree_work <= DECOMPOSE_BUDGET {
        // A tree that barely beats plain digits (random matrices) is not worth a solve on
        // large matrices.
        let plain: u64 = w.iter().map(|&v| digits(v) as u64).sum();
        let worth = |tree: u64| rows * cols <= SMALL_MATRIX || tree * 100 < plain * TREE_GAIN;
        if worth(spanning_tree(cols, rows, |c, r| w[r * cols + c]).2) {
            forms.push(Stage::Decomposed);
        }
        if worth(spanning_tree(rows, cols, |r, c| w[r * cols + c]).2) {
            forms.push(Stage::RowDecomposed);
        }
    }
    // Greedy extraction is sensitive to the order of equally frequent patterns (5-10% on
    // random matrices): small matrices restart it under several orders and keep the best.
    let ties: Vec<Tie> = if rows * cols <= SMALL_MATRIX {
        let mut t = vec![Tie::Cheap, Tie::Near, Tie::Far];
        let restarts = (RESTART_BUDGET / (rows * cols).max(1)).clamp(4, 32) as u64;
        t.extend((0..restarts).map(Tie::Shuffled));
        t
    } else {
        vec![Tie::Cheap]
    };
    let mut stages: Vec<(Stage, Tie)> = Vec::new();
    for &f in &forms {
        if matches!(f, Stage::Alone | Stage::Heap | Stage::Mcm) {
            stages.push((f, Tie::Cheap));
        } else {
            stages.extend(ties.iter().map(|&t| (f, t)));
        }
    }
    // The forms are independent: solve them on the configured threads, in contiguous chunks
    // joined in order, so the result never depends on how many threads ran.
    let chunk = stages.len().div_ceil(super::threads()).max(1);
    let mut found: Vec<(AdderGraph, Stats)> = std::thread::scope(|sc| {
        let handles: Vec<_> = stages
            .chunks(chunk)
            .map(|part| {
                sc.spawn(move || {
                    part.iter()
                        .map(|&st| solve_with(w, rows, inputs, st))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("solver thread"))
            .collect()
    });
    // The cheapest, the first on ties (deterministic).
    let best = (0..found.len())
        .min_by_key(|&i| (found[i].0.cost(), i))
        .expect("a solution");
    let tried: Vec<(&'static str, u64)> = stages
        .iter()
        .zip(&found)
        .map(|(st, (g, _))| (st.0.name(), g.cost()))
        .collect();
    let (g, mut st) = found.swap_remove(best);
    st.form = stages[best].0.name();
    st.tried = tried;
    (g.pruned(), st)
}

/// The forms [`solve`] tries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Digit-level sharing.
    Shared,
    /// Input-side (column) decomposition, then digit-level sharing.
    Decomposed,
    /// Output-side (row) decomposition, then digit-level sharing.
    RowDecomposed,
    /// No sharing.
    Alone,
    /// No sharing; each output one bit heap.
    Heap,
    /// Digit-level sharing, then each output's remaining terms one bit heap.
    SharedHeap,
    /// One multi-bit input: a multiple-constant-multiplication graph ([`super::mcm`]).
    Mcm,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Shared => "shared",
            Stage::Decomposed => "column tree + shared",
            Stage::RowDecomposed => "row tree + shared",
            Stage::Alone => "unshared",
            Stage::Heap => "bit heaps",
            Stage::SharedHeap => "shared + bit heaps",
            Stage::Mcm => "multiple constants",
        }
    }
}

fn solve_with(
    w: &[i64],
    rows: usize,
    inputs: &[Interval],
    (stage, tie): (Stage, Tie),
) -> (AdderGraph, Stats) {
    let cols = inputs.len();
    if stage == Stage::Mcm {
        if let Some(mut g) = super::mcm::graph(w, inputs[0]) {
            g.absorb_negations();
            let st = Stats {
                digits: w.iter().map(|&v| digits(v) as usize).sum(),
                ..Stats::default()
            };
            return (g, st);
        }
    }
    let mut s = Solver {
        tie,
        nodes: (0..cols).map(Node::Input).collect(),
        range: inputs.to_vec(),
        mult: inputs
            .iter()
            .enumerate()
            .map(|(k, r)| (*r == Interval::new(0, 1)).then_some((k as u32, 1)))
            .collect(),
        interned: FxHashMap::default(),
        rows: vec![Row::new(); rows],
        node_rows: vec![Vec::new(); cols],
        count: FxHashMap::default(),
        risen: Vec::new(),
    };
    let mut stats = Stats::default();
    // Stage 1 (optional): sums of inputs whose weight columns are alike; stage 2 multiplies
    // them by the columns' differences.
    let mut row_tree = None;
    let (w2, col_term): (Vec<i64>, Vec<Term>) = match stage {
        Stage::Decomposed => decompose_columns(&mut s, w, rows, cols),
        Stage::RowDecomposed => {
            let (d, tree) = decompose_rows(w, rows, cols);
            row_tree = Some(tree);
            (
                d,
                (0..cols as u32).map(|c| Term::new(c, 0, false)).collect(),
            )
        }
        _ => (
            w.to_vec(),
            (0..cols as u32).map(|c| Term::new(c, 0, false)).collect(),
        ),
    };
    for r in 0..rows {
        for c in 0..cols {
            for (neg, k) in csd(w2[r * cols + c] as i128) {
                stats.digits += 1;
                let t = col_term[c];
                s.add_term(r, Term::new(t.node, t.shift + k, t.neg != neg));
            }
        }
    }
    // Most frequent pattern first; on ties the cheaper adder, then the canonical order.
    let mut heap: BinaryHeap<(i64, Reverse<Pair>, i32)> = BinaryHeap::new();
    // Entries are never updated in place: a rise queues a new one, a fall is noticed when the
    // stale entry comes up. Keys are unique per (pair, count), so the order is deterministic.
    let queue = |s: &mut Solver, heap: &mut BinaryHeap<_>| {
        for p in std::mem::take(&mut s.risen) {
            let c = s.count.get_mut(&p).expect("counted pair");
            c.risen = false;
            if c.n >= 2 && c.n > c.queued {
                c.queued = c.n;
                let n = c.n;
                heap.push((s.score(p, n), Reverse(p), n));
            }
        }
    };
    if !matches!(stage, Stage::Alone | Stage::Heap) {
        queue(&mut s, &mut heap);
    }
    while let Some((_, Reverse(p), c)) = heap.pop() {
        let pc = s.count.get(&p).copied().unwrap_or_default();
        let now = pc.n;
        if now != c {
            // Stale: a rise was queued separately; a fall is requeued at its count now.
            if now >= 2 && now < c && pc.queued == c {
                s.count.get_mut(&p).expect("counted pair").queued = now;
                heap.push((s.score(p, now), Reverse(p), now));
            }
            continue;
        }
        let mut rws: Vec<u32> = s.node_rows[p.a as usize].clone();
        rws.sort_unstable();
        rws.dedup();
        let before = s.nodes.len();
        for r in rws {
            s.substitute(r as usize, p);
        }
        stats.extracted += (s.nodes.len() > before) as usize;
        queue(&mut s, &mut heap);
    }
    // What is left of each output: as one bit heap of its digits, or the multiples of one spike
    // first (wiring only), then narrowest-first, each term with the cheapest of the next few as
    // its partner.
    let bit_heap = matches!(stage, Stage::Heap | Stage::SharedHeap);
    let mut outputs = Vec::with_capacity(rows);
    for r in 0..rows {
        let mut by_spike: BTreeMap<u32, Term> = BTreeMap::new();
        let mut terms: Vec<(u32, Term)> = Vec::new();
        let left: Vec<Term> = s.rows[r]
            .iter()
            .map(|(&(n, sh), &neg)| Term::new(n, sh, neg))
            .collect();
        for t in left {
            let n = t.node;
            match s.mult[n as usize] {
                Some((src, _)) if !bit_heap => {
                    let merged = match by_spike.remove(&src) {
                        Some(u) => s.combine(u, t),
                        None => t,
                    };
                    by_spike.insert(src, merged);
                }
                _ => terms.push((s.msb(t), t)),
            }
        }
        terms.extend(by_spike.into_values().map(|t| (s.msb(t), t)));
        outputs.push(if bit_heap && terms.len() > 2 {
            let mut ts: Vec<Term> = terms.into_iter().map(|(_, t)| t).collect();
            ts.sort_unstable();
            Some(Term::new(s.node(Node::Sum(ts)), 0, false))
        } else {
            s.sum_terms(terms)
        });
    }
    if let Some(tree) = &row_tree {
        outputs = finish_rows(&mut s, outputs, tree);
    }
    let mut g = AdderGraph {
        inputs: inputs.to_vec(),
        nodes: s.nodes,
        range: s.range,
        outputs,
    };
    g.absorb_negations();
    (g, stats)
}

/// Nonzero canonical signed digits of `v` (the weight of its non-adjacent form).
pub(super) fn digits(v: i64) -> u32 {
    let n = (v as i128).unsigned_abs();
    (((3 * n) ^ n) >> 1).count_ones()
}

/// Parent scales tried when hanging one column under another: `col_c - s * col_p`.
const PARENT_SCALES: [(bool, u32); 6] = [
    (false, 0),
    (true, 0),
    (false, 1),
    (true, 1),
    (false, 2),
    (true, 2),
];

/// A scale `±2^k` applied to a parent vector.
type Scale = (bool, u32);

/// Per vector, its parent and scale (`None`: hangs from the root).
type Parents = Vec<Option<(usize, Scale)>>;

fn scaled((neg, k): Scale, y: i64) -> i64 {
    if neg {
        -(y << k)
    } else {
        y << k
    }
}

/// A minimum spanning tree over `n` vectors (`get(v, i)`, `len` entries each) plus a root:
/// hanging `v` under `p` with scale `s` costs one adder plus the digits of `v - s p`, hanging
/// it from the root costs the digits of `v`. Returns each vector's parent and scale, and the
/// order in which they joined (parents before children), and the tree's total cost.
fn spanning_tree(
    n: usize,
    len: usize,
    get: impl Fn(usize, usize) -> i64,
) -> (Parents, Vec<usize>, u64) {
    let mut dist: Vec<u32> = (0..n)
        .map(|v| (0..len).map(|i| digits(get(v, i))).sum())
        .collect();
    let diff_cost = |a: usize, b: usize| -> (u32, Scale) {
        PARENT_SCALES
            .iter()
            .map(|&sc| {
                let c: u32 = (0..len)
                    .map(|i| digits(get(a, i) - scaled(sc, get(b, i))))
                    .sum();
                (1 + c, sc)
            })
            .min()
            .expect("scales")
    };
    let mut parent = vec![None; n];
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut total = 0u64;
    for _ in 0..n {
        let v = (0..n)
            .filter(|&v| !done[v])
            .min_by_key(|&v| (dist[v], v))
            .expect("a vector left");
        done[v] = true;
        total += dist[v] as u64;
        order.push(v);
        for u in 0..n {
            if !done[u] {
                let (d, sc) = diff_cost(u, v);
                if d < dist[u] {
                    dist[u] = d;
                    parent[u] = Some((v, sc));
                }
            }
        }
    }
    (parent, order, total)
}

/// Input-side decomposition: a spanning tree over the weight columns. With
/// `d_c = col_c - s col_parent(c)` and `z_c` the scaled sum of the inputs in `c`'s subtree,
/// `W x = sum_c d_c z_c`. Adds the `z` nodes to the solver; returns the matrix of differences
/// and the term standing for each `z_c`.
fn decompose_columns(s: &mut Solver, w: &[i64], rows: usize, cols: usize) -> (Vec<i64>, Vec<Term>) {
    let (parent, order, _) = spanning_tree(cols, rows, |c, r| w[r * cols + c]);
    let mut d = w.to_vec();
    for c in 0..cols {
        if let Some((p, sc)) = parent[c] {
            for r in 0..rows {
                d[r * cols + c] = w[r * cols + c] - scaled(sc, w[r * cols + p]);
            }
        }
    }
    // z_p = x_p + s * z_c over p's children c; a child joins after its whole subtree (reverse
    // of the order they joined the tree).
    let mut z: Vec<Term> = (0..cols as u32).map(|c| Term::new(c, 0, false)).collect();
    for &c in order.iter().rev() {
        if let Some((p, (neg, k))) = parent[c] {
            let zc = Term::new(z[c].node, z[c].shift + k, z[c].neg != neg);
            z[p] = s.combine(z[p], zc);
        }
    }
    (d, z)
}

/// Output-side decomposition (da4ml's first stage works alike): a spanning tree over the
/// weight rows, `y_r = d_r x + s y_parent(r)`. Returns the matrix of differences `d` and the
/// tree, to finish with [`finish_rows`] once `d x` is built.
fn decompose_rows(w: &[i64], rows: usize, cols: usize) -> (Vec<i64>, RowTree) {
    let (parent, order, _) = spanning_tree(rows, cols, |r, c| w[r * cols + c]);
    let mut d = w.to_vec();
    for r in 0..rows {
        if let Some((p, sc)) = parent[r] {
            for c in 0..cols {
                d[r * cols + c] = w[r * cols + c] - scaled(sc, w[p * cols + c]);
            }
        }
    }
    (d, RowTree { parent, order })
}

struct RowTree {
    parent: Vec<Option<(usize, Scale)>>,
    order: Vec<usize>,
}

/// `y_r = t_r + s y_parent(r)`, parents first.
fn finish_rows(s: &mut Solver, t: Vec<Option<Term>>, tree: &RowTree) -> Vec<Option<Term>> {
    let mut y = t.clone();
    for &r in &tree.order {
        if let Some((p, (neg, k))) = tree.parent[r] {
            let up = y[p].map(|u| Term::new(u.node, u.shift + k, u.neg != neg));
            y[r] = match (t[r], up) {
                (Some(a), Some(b)) => Some(s.combine(a, b)),
                (a, b) => a.or(b),
            };
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spikes(n: usize) -> Vec<Interval> {
        vec![Interval::new(0, 1); n]
    }

    fn check(w: &[i64], rows: usize, inputs: &[Interval], x: &[i64]) {
        let (g, _) = solve(w, rows, inputs);
        let cols = inputs.len();
        let want: Vec<i128> = (0..rows)
            .map(|r| {
                (0..cols)
                    .map(|c| w[r * cols + c] as i128 * x[c] as i128)
                    .sum()
            })
            .collect();
        assert_eq!(g.eval(x), want, "exact");
        assert_eq!(g.eval_wrapped(x), want, "at the node widths");
    }

    #[test]
    fn csd_rebuilds_without_adjacent_digits() {
        for a in -300i128..300 {
            let d = csd(a);
            let v: i128 = d
                .iter()
                .map(|&(n, k)| if n { -(1 << k) } else { 1 << k })
                .sum();
            assert_eq!(v, a);
            assert!(d.windows(2).all(|p| p[1].1 > p[0].1 + 1), "{a}: {d:?}");
        }
    }

    #[test]
    fn digit_count_matches_the_recoding() {
        for v in -5000i64..5000 {
            assert_eq!(digits(v) as usize, csd(v as i128).len(), "{v}");
        }
    }

    #[test]
    fn shared_subexpression_is_built_once() {
        // Both outputs contain x0 + x1 (times 1 and times 4): one adder serves both.
        let w = [1, 1, 4, 4];
        let (g, _) = solve(&w, 2, &[Interval::new(-8, 7); 2]);
        assert_eq!(g.adders(), 1);
        assert_eq!(g.outputs[1].unwrap().shift, 2);
        check(&w, 2, &[Interval::new(-8, 7); 2], &[-8, 7]);
    }

    #[test]
    fn positive_spike_weights_cost_no_adders_alone() {
        // 5 s = (s << 2) + s: a concatenation of one spike.
        let (g, _) = solve(&[5], 1, &spikes(1));
        assert_eq!(g.cost(), 0);
        check(&[5], 1, &spikes(1), &[1]);
    }

    #[test]
    fn zero_rows_and_cancelling_digits() {
        let w = [0, 0, 3, -3];
        let (g, _) = solve(&w, 2, &spikes(2));
        assert_eq!(g.outputs[0], None);
        for x in [[0, 0], [0, 1], [1, 0], [1, 1]] {
            check(&w, 2, &spikes(2), &x);
        }
    }

    #[test]
    fn random_8bit_16x16_beats_plain_csd() {
        // The published anchor (../shared/bench): naive CSD 870.9 adders at N = 16, H_cmvm 338.3.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let w: Vec<i64> = (0..256).map(|_| rng.random_range(129..=255)).collect();
        let (g, _) = solve(&w, 16, &[Interval::new(-128, 127); 16]);
        let naive: u32 = w
            .chunks(16)
            .map(|r| r.iter().map(|&v| digits(v)).sum::<u32>() - 1)
            .sum();
        // Published means at N = 16: naive 870.9, da4ml 343.2 (0.39 of naive).
        assert!(
            (g.adders() as f64) < 0.42 * naive as f64,
            "{} adders vs {naive}",
            g.adders()
        );
    }

    proptest! {
        #[test]
        fn adder_graph_equals_the_product(
            rows in 1usize..6,
            cols in 1usize..7,
            seed in any::<u64>(),
            bits in 2u32..10,
            spike in any::<bool>(),
        ) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let m = 1i64 << (bits - 1);
            let w: Vec<i64> = (0..rows * cols)
                .map(|_| if rng.random_bool(0.3) { 0 } else { rng.random_range(-m..m) })
                .collect();
            let inputs = if spike { spikes(cols) } else { vec![Interval::new(-128, 127); cols] };
            // The corners of the input box and random points.
            for k in 0..12 {
                let x: Vec<i64> = inputs
                    .iter()
                    .map(|iv| match k {
                        0 => iv.lo as i64,
                        1 => iv.hi as i64,
                        _ => rng.random_range(iv.lo as i64..=iv.hi as i64),
                    })
                    .collect();
                check(&w, rows, &inputs, &x);
            }
        }
    }
}
