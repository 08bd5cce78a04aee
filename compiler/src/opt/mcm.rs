//! Multiple constant multiplication (MCM): one input times a set of constants, as a graph of
//! adders whose nodes are odd *fundamentals* (every constant is a fundamental times a power of
//! two, and its sign goes to the consumer).
//!
//! The search follows Hcub (Voronenko and Püschel, "Multiplierless multiple constant
//! multiplication", ACM TALG 2007). A fundamental one adder away from the ready set `R` is an
//! *A-operation* of two members, `|(u << a) ± (v << b)| >> r`. The optimal part adds every
//! target that is one adder away; when none is, the heuristic part adds the successor that
//! brings the remaining targets closest, weighing a target at distance `d` by `10^-d`.
//! Distances 1 and 2 are tested exactly (a target `t` is two adders away when some successor
//! `x` has `t` in `A(x, R)`, in `A(x, x)`, or `t` in `A(x, s)` for the newly added `s`); larger
//! distances are estimated from the signed digits left after subtracting a shifted member.
//! A-operations are symmetric (`t ∈ A(x, y)` exactly when `x ∈ A(t, y)`), so each test is a
//! set lookup.

use super::adder::{term_range, AdderGraph, Node, Term};
use crate::quant::interval::Interval;
use rustc_hash::{FxHashMap, FxHashSet};

/// Widest constant the search takes (bits); beyond it, successor sets grow too large.
pub const MAX_BITS: u32 = 24;
/// Most distinct fundamentals the search takes.
pub const MAX_TARGETS: usize = 256;

/// How a fundamental is made from two earlier ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recipe {
    pub u: u64,
    pub ku: u32,
    pub v: u64,
    pub kv: u32,
    pub op: Op,
    /// Right shift of the result (exact).
    pub r: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `(u << ku) + (v << kv)`
    Add,
    /// `(u << ku) - (v << kv)`
    Sub,
    /// `(v << kv) - (u << ku)`
    RevSub,
}

/// `x` as odd part and power of two.
fn odd(x: u64) -> (u64, u32) {
    let r = x.trailing_zeros();
    (x >> r, r)
}

/// Nonzero digits of the canonical signed-digit form of `x` (below 2^62 here).
fn naf_weight(x: u64) -> u32 {
    super::cmvm::digits(x as i64)
}

/// True for `2^k ± 1`, `k >= 1` (what `A(x, x)` multiplies `x` by).
fn is_c1(q: u64) -> bool {
    q >= 3 && ((q - 1).is_power_of_two() || (q + 1).is_power_of_two())
}

/// Every odd fundamental one adder from odd `u` and `v`, up to `max`.
fn aops(u: u64, v: u64, max: u64, f: &mut impl FnMut(u64, Recipe)) {
    let kmax = 64 - max.leading_zeros();
    for k in 1..=kmax {
        for (a, b) in [(u, v), (v, u)] {
            let big = a << k;
            if big > max + b {
                continue;
            }
            let rc = |op| Recipe {
                u: a,
                ku: k,
                v: b,
                kv: 0,
                op,
                r: 0,
            };
            if big + b <= max {
                f(big + b, rc(Op::Add));
            }
            if big > b && big - b <= max {
                f(big - b, rc(Op::Sub));
            } else if b > big {
                f(b - big, rc(Op::RevSub));
            }
            if u == v {
                break;
            }
        }
    }
    let (s, r) = odd(u + v);
    if s <= max {
        let rc = Recipe {
            u,
            ku: 0,
            v,
            kv: 0,
            op: Op::Add,
            r,
        };
        f(s, rc);
    }
    if u != v {
        let (hi, lo) = (u.max(v), u.min(v));
        let (d, r) = odd(hi - lo);
        let rc = Recipe {
            u: hi,
            ku: 0,
            v: lo,
            kv: 0,
            op: Op::Sub,
            r,
        };
        f(d, rc);
    }
}

fn aop_values(u: u64, v: u64, max: u64) -> Vec<u64> {
    let mut out = Vec::new();
    aops(u, v, max, &mut |x, _| out.push(x));
    out
}

/// Signed digits of `t` left over after one shifted `y` is added or subtracted: adding `y`
/// as a member brings `t` within that many adders.
fn residual(t: u64, y: u64, max: u64) -> u32 {
    let mut best = naf_weight(t) + 1;
    let kmax = 64 - max.leading_zeros();
    for k in 0..=kmax {
        let ys = y << k;
        if ys > 2 * max {
            break;
        }
        best = best
            .min(naf_weight(t + ys))
            .min(naf_weight(t.abs_diff(ys)).max(1));
    }
    best
}

#[derive(Clone)]
struct Search {
    max: u64,
    ready: Vec<u64>,
    in_ready: FxHashSet<u64>,
    made: Vec<(u64, Recipe)>,
    succ: FxHashMap<u64, Recipe>,
}

impl Search {
    /// The ready set `{1}` and its successors, fundamentals bounded by `max`.
    fn from_one(max: u64) -> Search {
        let mut s = Search {
            max,
            ready: Vec::new(),
            in_ready: FxHashSet::default(),
            made: Vec::new(),
            succ: FxHashMap::default(),
        };
        s.add(1, None);
        s
    }

    fn add(&mut self, x: u64, how: Option<Recipe>) {
        if let Some(h) = how {
            self.made.push((x, h));
        }
        self.ready.push(x);
        self.in_ready.insert(x);
        self.succ.remove(&x);
        let (max, ready) = (self.max, self.ready.clone());
        for y in ready {
            let (in_ready, succ) = (&self.in_ready, &mut self.succ);
            aops(x, y, max, &mut |v, rc| {
                if !in_ready.contains(&v) {
                    succ.entry(v).or_insert(rc);
                }
            });
        }
    }

    /// Distance of `t` (not a successor): 2 when exact tests find a two-adder path, else an
    /// estimate of at least 3.
    fn distance(&self, t: u64, pt: &FxHashSet<u64>) -> u32 {
        let two = pt.iter().any(|x| self.succ.contains_key(x))
            || self
                .succ
                .keys()
                .any(|&x| t.is_multiple_of(x) && is_c1(t / x) && x != t);
        if two {
            return 2;
        }
        let far = self
            .ready
            .iter()
            .map(|&y| residual(t, y, self.max))
            .min()
            .unwrap_or(u32::MAX);
        far.max(3)
    }

    /// The successor whose addition brings the targets closest (Hcub's weighted benefit).
    fn choose(&self, targets: &[u64]) -> u64 {
        let pts: Vec<FxHashSet<u64>> = targets
            .iter()
            .map(|&t| {
                self.ready
                    .iter()
                    .flat_map(|&y| aop_values(t, y, self.max))
                    .collect()
            })
            .collect();
        let dist: Vec<u32> = targets
            .iter()
            .zip(&pts)
            .map(|(&t, pt)| self.distance(t, pt))
            .collect();
        let mut cands: Vec<u64> = self.succ.keys().copied().collect();
        cands.sort_unstable();
        let mut best = (f64::MIN, u32::MAX, 0u64);
        for &s in &cands {
            // Successors of s with the ready set and itself: what s makes one adder away.
            let mut ns: FxHashSet<u64> = FxHashSet::default();
            for &y in self.ready.iter().chain([&s]) {
                aops(s, y, self.max, &mut |v, _| {
                    ns.insert(v);
                });
            }
            let (mut score, mut closest) = (0.0, u32::MAX);
            for (i, &t) in targets.iter().enumerate() {
                let d = dist[i];
                let nd = if ns.contains(&t) {
                    1
                } else if d == 2
                    || ns.iter().any(|x| pts[i].contains(x))
                    || ns.iter().any(|&x| t.is_multiple_of(x) && is_c1(t / x))
                    || aop_values(t, s, self.max)
                        .iter()
                        .any(|x| self.succ.contains_key(x) || ns.contains(x))
                {
                    2
                } else {
                    d.min(residual(t, s, self.max).max(3))
                };
                closest = closest.min(nd);
                if nd < d {
                    score += 10f64.powi(-(nd as i32)) * (d - nd) as f64;
                }
            }
            // Ties: the candidate that brings some target closest, then the smallest.
            if (score, std::cmp::Reverse(closest)) > (best.0, std::cmp::Reverse(best.1)) {
                best = (score, closest, s);
            }
        }
        best.2
    }
}

/// The fundamentals, in order, that make every odd part of `constants` from 1 (`None` when
/// the set is too wide or too large for the search).
pub fn plan(constants: &[i64]) -> Option<Vec<(u64, Recipe)>> {
    let mut targets: Vec<u64> = constants
        .iter()
        .filter(|&&c| c != 0)
        .map(|&c| odd(c.unsigned_abs()).0)
        .filter(|&f| f > 1)
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let top = targets.iter().max().copied().unwrap_or(1);
    let bits = 64 - top.leading_zeros();
    if bits > MAX_BITS || targets.len() > MAX_TARGETS {
        return None;
    }
    let mut s = Search::from_one(1 << (bits + 1));
    while !targets.is_empty() {
        // Optimal part: every target one adder away.
        while let Some(k) = targets.iter().position(|t| s.succ.contains_key(t)) {
            let t = targets.remove(k);
            let how = s.succ[&t];
            s.add(t, Some(how));
        }
        if targets.is_empty() {
            break;
        }
        let x = s.choose(&targets);
        let how = s.succ[&x];
        s.add(x, Some(how));
    }
    Some(s.made)
}

/// Most adders [`scm`] searches exhaustively (every constant below 2^12 needs at most four;
/// Dempster and Macleod, 1994).
pub const SCM_EXACT_ADDERS: u32 = 4;

/// An optimal single-constant multiplication of `c`: the fewest adders over every graph whose
/// fundamentals stay below `2^(bits + 1)`, by iterative deepening with an exact two-adder test
/// at the leaves. `None` when `c` needs more than [`SCM_EXACT_ADDERS`] or is too wide.
pub fn scm(c: i64) -> Option<Vec<(u64, Recipe)>> {
    let t = odd(c.unsigned_abs()).0;
    if t <= 1 {
        return Some(Vec::new());
    }
    let bits = 64 - t.leading_zeros();
    if bits > 16 {
        return None;
    }
    let s = Search::from_one(1 << (bits + 1));
    (1..=SCM_EXACT_ADDERS).find_map(|limit| deepen(&s, t, limit))
}

fn recipe_for(t: u64, u: u64, v: u64, max: u64) -> Recipe {
    let mut found = None;
    aops(u, v, max, &mut |x, rc| {
        if x == t && found.is_none() {
            found = Some(rc);
        }
    });
    found.expect("a witnessed A-operation")
}

/// A plan reaching `t` from `s` in at most `limit` more adders.
fn deepen(s: &Search, t: u64, limit: u32) -> Option<Vec<(u64, Recipe)>> {
    let done = |s: &Search, extra: Vec<(u64, Recipe)>| {
        let mut m = s.made.clone();
        m.extend(extra);
        Some(m)
    };
    if let Some(&rc) = s.succ.get(&t) {
        return done(s, vec![(t, rc)]);
    }
    if limit == 2 {
        // t = A(x, y) with x one adder away and y ready, or t = A(x, x).
        for &y in &s.ready {
            for x in aop_values(t, y, 2 * s.max) {
                if let Some(&rx) = s.succ.get(&x) {
                    return done(s, vec![(x, rx), (t, recipe_for(t, x, y, s.max))]);
                }
            }
        }
        let mut xs: Vec<u64> = s.succ.keys().copied().collect();
        xs.sort_unstable();
        for x in xs {
            if t.is_multiple_of(x) && is_c1(t / x) {
                return done(s, vec![(x, s.succ[&x]), (t, recipe_for(t, x, x, s.max))]);
            }
        }
        return None;
    }
    if limit < 2 {
        return None;
    }
    let mut xs: Vec<u64> = s.succ.keys().copied().collect();
    xs.sort_unstable();
    xs.into_iter().find_map(|x| {
        let mut next = s.clone();
        let rc = next.succ[&x];
        next.add(x, Some(rc));
        deepen(&next, t, limit - 1)
    })
}

/// `c * s` as one Verilog expression over the signed operand `s` (a fundamental used twice
/// appears twice; synthesis merges the copies).
pub fn verilog(c: i64, plan: &[(u64, Recipe)], s: &str) -> String {
    let mut expr: FxHashMap<u64, String> = FxHashMap::default();
    expr.insert(1, s.to_string());
    let shifted = |e: &str, k: u32| match k {
        0 => e.to_string(),
        _ => format!("({e} <<< {k})"),
    };
    for &(f, rc) in plan {
        let (a, b) = (shifted(&expr[&rc.u], rc.ku), shifted(&expr[&rc.v], rc.kv));
        let e = match rc.op {
            Op::Add => format!("({a} + {b})"),
            Op::Sub => format!("({a} - {b})"),
            Op::RevSub => format!("({b} - {a})"),
        };
        let e = match rc.r {
            0 => e,
            r => format!("({e} >>> {r})"),
        };
        expr.insert(f, e);
    }
    let (f, k) = odd(c.unsigned_abs());
    let e = shifted(&expr[&f], k);
    if c < 0 {
        format!("(-{e})")
    } else {
        e
    }
}

/// `y_i = w_i * x` for one input in range `x`, as an adder graph of the planned fundamentals.
pub fn graph(w: &[i64], x: Interval) -> Option<AdderGraph> {
    let made = plan(w)?;
    let mut g = AdderGraph {
        inputs: vec![x],
        nodes: vec![Node::Input(0)],
        range: vec![x],
        outputs: Vec::new(),
    };
    let times = |c: i128| {
        let (a, b) = (c * x.lo, c * x.hi);
        Interval::new(a.min(b), a.max(b))
    };
    let mut node_of: FxHashMap<u64, u32> = FxHashMap::default();
    node_of.insert(1, 0);
    for (f, rc) in made {
        let a = Term::new(node_of[&rc.u], rc.ku, false);
        let b = Term::new(node_of[&rc.v], rc.kv, false);
        let nd = match rc.op {
            Op::Add => Node::Add(a, b),
            Op::Sub => Node::Add(a, Term { neg: true, ..b }),
            Op::RevSub => Node::Add(b, Term { neg: true, ..a }),
        };
        let sum =
            term_range(g.range[a.node as usize], a).plus(term_range(g.range[b.node as usize], b));
        // The terms' ranges add up to a sound bound; it is looser than the product's own
        // range when the terms have opposite signs over an asymmetric input range.
        debug_assert!(times((f as i128) << rc.r).within(sum));
        g.nodes.push(nd);
        g.range.push(sum);
        if rc.r > 0 {
            g.nodes.push(Node::Shr(g.nodes.len() as u32 - 1, rc.r));
            g.range.push(times(f as i128));
        }
        node_of.insert(f, g.nodes.len() as u32 - 1);
    }
    g.outputs = w
        .iter()
        .map(|&c| {
            (c != 0).then(|| {
                let (f, s) = odd(c.unsigned_abs());
                Term::new(node_of[&f], s, c < 0)
            })
        })
        .collect();
    Some(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_operations_are_odd_and_symmetric() {
        let max = 1 << 10;
        for (u, v) in [(1, 1), (3, 5), (7, 1), (45, 3)] {
            for t in aop_values(u, v, max) {
                assert_eq!(t % 2, 1, "{t} from {u}, {v}");
                // t is one adder from u and v exactly when u is one adder from t and v.
                assert!(aop_values(t, v, 4 * max).contains(&u), "{u} from {t}, {v}");
            }
        }
        assert!(aop_values(1, 1, max).contains(&3));
        assert!(aop_values(3, 5, max).contains(&1)); // (3 + 5) >> 3
    }

    #[test]
    fn signed_digit_weight() {
        assert_eq!(naf_weight(7), 2); // 8 - 1
        assert_eq!(naf_weight(3), 2);
        assert_eq!(naf_weight(1365), 6); // 10101010101
        assert_eq!(naf_weight(0), 0);
    }

    #[test]
    fn graphs_compute_every_constant_exactly() {
        let sets: [&[i64]; 4] = [
            &[3, 5, 7, 9, 15, 35, 45, 49, 107, 127],
            &[1132, 815, 556, -1132, 0],
            &[13, 223, 897, 2017],
            &[-14, 36, 32, -42, -97, 172, 144, -192, -432, -1, 1104, 2088],
        ];
        let x = Interval::new(-128, 127);
        for w in sets {
            let g = graph(w, x).unwrap();
            for v in [-128i64, -1, 0, 1, 77, 127] {
                let want: Vec<i128> = w.iter().map(|&c| c as i128 * v as i128).collect();
                assert_eq!(g.eval(&[v]), want);
                assert_eq!(g.eval_wrapped(&[v]), want);
            }
        }
    }

    /// The value a plan's recipes compute for each fundamental, from first principles.
    fn check_plan(plan: &[(u64, Recipe)]) {
        let mut have = vec![1u64];
        for &(f, rc) in plan {
            assert!(
                have.contains(&rc.u) && have.contains(&rc.v),
                "{f} uses unmade operands"
            );
            let (a, b) = ((rc.u << rc.ku) as i128, (rc.v << rc.kv) as i128);
            let v = match rc.op {
                Op::Add => a + b,
                Op::Sub => a - b,
                Op::RevSub => b - a,
            };
            assert_eq!(v, (f as i128) << rc.r);
            have.push(f);
        }
    }

    /// Fewest adders for odd `t`, by plain depth-first search over sets of fundamentals (no
    /// distance tests): an independent reference for small constants.
    fn brute(t: u64, max: u64) -> u32 {
        fn go(ready: &mut Vec<u64>, t: u64, left: u32, max: u64) -> bool {
            let mut succ = Vec::new();
            for i in 0..ready.len() {
                for j in 0..=i {
                    succ.extend(aop_values(ready[i], ready[j], max));
                }
            }
            if succ.contains(&t) {
                return true;
            }
            if left == 1 {
                return false;
            }
            succ.sort_unstable();
            succ.dedup();
            succ.retain(|x| !ready.contains(x));
            succ.into_iter().any(|x| {
                ready.push(x);
                let ok = go(ready, t, left - 1, max);
                ready.pop();
                ok
            })
        }
        (1..=4).find(|&k| go(&mut vec![1], t, k, max)).unwrap_or(99)
    }

    #[test]
    fn single_constants_below_2_pow_8_match_exhaustive_search() {
        for t in (3..256u64).step_by(2) {
            let plan = scm(t as i64).unwrap();
            check_plan(&plan);
            let max = 1 << (65 - t.leading_zeros());
            assert_eq!(plan.len() as u32, brute(t, max), "constant {t}");
        }
    }

    #[test]
    fn every_constant_below_2_pow_12_takes_at_most_four_adders_and_never_more_than_hcub() {
        let mut hist = [0usize; 5];
        for t in (3..4096i64).step_by(2) {
            let plan = scm(t).unwrap_or_else(|| panic!("{t} needs more than 4 adders"));
            check_plan(&plan);
            assert!(plan.len() <= plan_len(t), "{t}");
            assert!(plan.len() < naf_weight(t as u64) as usize);
            hist[plan.len()] += 1;
        }
        eprintln!(
            "optimal SCM adders for odd constants below 4096 (count by adders 0..4): {hist:?}"
        );
        // The expensive ones exist (so the deepest search runs) but are rare.
        assert!(hist[4] > 0 && hist[4] < hist[3], "{hist:?}");
    }

    fn plan_len(t: i64) -> usize {
        plan(&[t]).unwrap().len()
    }

    #[test]
    fn known_small_sets_take_their_optimal_adder_counts() {
        // One adder each: 2^k +- 1.
        assert_eq!(plan(&[3]).unwrap().len(), 1);
        assert_eq!(plan(&[3, 5, 7, 9, 15, 17]).unwrap().len(), 6);
        // 45 = 5 * 9 = (4 + 1)(8 + 1): two adders (CSD needs three: 64 - 16 - 4 + 1).
        assert_eq!(plan(&[45]).unwrap().len(), 2);
        assert_eq!(plan(&[0, 1, -4, 8]).unwrap().len(), 0);
    }
}
