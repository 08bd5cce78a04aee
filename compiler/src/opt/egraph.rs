//! An e-graph (`egg`) over integer datapath arithmetic, with an analysis that carries each
//! class's constant value and value interval (so its minimal width), merged by intersection so
//! conditional rewrites stay sound.
//!
//! First use: constant multiplication. `x * c` for a constant `c` rewrites into shifts, adds,
//! subtractions and products of smaller constants (`c = a * b` factorisations share the inner
//! product, which canonical signed digits cannot), and extraction picks the fewest adders. The
//! neuron leaks (`s * d >> F`) are built this way.

use crate::quant::interval::Interval;
use egg::{
    define_language, Analysis, CostFunction, DidMerge, EGraph, Id, Language, RecExpr, Rewrite,
    Runner,
};
use std::time::Duration;

define_language! {
    /// Integer datapath operators. `shl` and `mul` take a constant second operand.
    pub enum Arith {
        Num(i64),
        "x" = X,
        "add" = Add([Id; 2]),
        "sub" = Sub([Id; 2]),
        "neg" = Neg(Id),
        "shl" = Shl([Id; 2]),
        "mul" = Mul([Id; 2]),
    }
}

/// What is known of an e-class: its value if constant, and the interval of its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    pub constant: Option<i64>,
    pub range: Interval,
}

/// The analysis; `x` ranges over `input`.
#[derive(Clone, Debug)]
pub struct Ranges {
    pub input: Interval,
}

impl Default for Ranges {
    fn default() -> Self {
        Ranges {
            input: Interval::new(-(1 << 15), (1 << 15) - 1),
        }
    }
}

fn corners(a: Interval, b: Interval, f: impl Fn(i128, i128) -> i128) -> Interval {
    let v = [f(a.lo, b.lo), f(a.lo, b.hi), f(a.hi, b.lo), f(a.hi, b.hi)];
    Interval::new(*v.iter().min().unwrap(), *v.iter().max().unwrap())
}

impl Analysis<Arith> for Ranges {
    type Data = Facts;

    fn make(eg: &mut EGraph<Arith, Self>, n: &Arith, _: Id) -> Facts {
        let d = |i: &Id| &eg[*i].data;
        let (constant, range) = match n {
            Arith::Num(c) => (Some(*c), Interval::point(*c as i128)),
            Arith::X => (None, eg.analysis.input),
            Arith::Add([a, b]) => (
                d(a).constant
                    .zip(d(b).constant)
                    .and_then(|(x, y)| x.checked_add(y)),
                d(a).range.plus(d(b).range),
            ),
            Arith::Sub([a, b]) => (
                d(a).constant
                    .zip(d(b).constant)
                    .and_then(|(x, y)| x.checked_sub(y)),
                d(a).range
                    .plus(Interval::new(-d(b).range.hi, -d(b).range.lo)),
            ),
            Arith::Neg(a) => (
                d(a).constant.and_then(|x| x.checked_neg()),
                Interval::new(-d(a).range.hi, -d(a).range.lo),
            ),
            Arith::Shl([a, k]) => {
                let k = d(k).constant.unwrap_or(0).clamp(0, 62) as u32;
                (
                    d(a).constant.and_then(|x| x.checked_shl(k)),
                    Interval::new(d(a).range.lo << k, d(a).range.hi << k),
                )
            }
            Arith::Mul([a, b]) => (
                d(a).constant
                    .zip(d(b).constant)
                    .and_then(|(x, y)| x.checked_mul(y)),
                corners(d(a).range, d(b).range, |x, y| x * y),
            ),
        };
        Facts { constant, range }
    }

    fn merge(&mut self, a: &mut Facts, b: Facts) -> DidMerge {
        // Equal values: both facts hold, so their intersection does.
        let before = a.clone();
        a.constant = a.constant.or(b.constant);
        a.range = Interval::new(a.range.lo.max(b.range.lo), a.range.hi.min(b.range.hi));
        DidMerge(*a != before, *a != b)
    }
}

/// `x * c` for the largest constants the rules split (products wider than this stay).
const MAX_CONSTANT: i64 = 1 << 20;

/// Rewrites `mul(a, c)` for a constant `c`.
struct SplitConstant;

impl egg::Applier<Arith, Ranges> for SplitConstant {
    fn apply_one(
        &self,
        eg: &mut EGraph<Arith, Ranges>,
        class: Id,
        subst: &egg::Subst,
        _: Option<&egg::PatternAst<Arith>>,
        _: egg::Symbol,
    ) -> Vec<Id> {
        let a = eg.add(Arith::X);
        let Some(c) = eg[subst["?c".parse().expect("variable")]].data.constant else {
            return vec![];
        };
        if c.unsigned_abs() > MAX_CONSTANT as u64 {
            return vec![];
        }
        let mut forms: Vec<Id> = Vec::new();
        let num = |eg: &mut EGraph<Arith, Ranges>, v: i64| eg.add(Arith::Num(v));
        let mul = |eg: &mut EGraph<Arith, Ranges>, v: i64| {
            let n = num(eg, v);
            eg.add(Arith::Mul([a, n]))
        };
        match c {
            0 => forms.push(num(eg, 0)),
            1 => forms.push(a),
            c if c < 0 => {
                let m = mul(eg, -c);
                forms.push(eg.add(Arith::Neg(m)));
            }
            c if c % 2 == 0 => {
                let k = c.trailing_zeros();
                let m = mul(eg, c >> k);
                let kk = num(eg, k as i64);
                forms.push(eg.add(Arith::Shl([m, kk])));
            }
            c => {
                // c = 2^k ± r with the nearest powers of two, and c = (2^k ± 1) * q.
                let k = 63 - c.leading_zeros();
                for p in [k, k + 1] {
                    let r = c - (1i64 << p);
                    let kk = num(eg, p as i64);
                    let top = eg.add(Arith::Shl([a, kk]));
                    let rest = mul(eg, r.abs());
                    forms.push(if r >= 0 {
                        eg.add(Arith::Add([top, rest]))
                    } else {
                        eg.add(Arith::Sub([top, rest]))
                    });
                }
                for j in 1..=k {
                    for f in [(1i64 << j) + 1, (1i64 << j) - 1] {
                        if f > 1 && c % f == 0 && c / f > 1 {
                            let inner = mul(eg, f);
                            let q = num(eg, c / f);
                            forms.push(eg.add(Arith::Mul([inner, q])));
                        }
                    }
                }
            }
        }
        let mut changed = Vec::new();
        for f in forms {
            if eg.union(class, f) {
                changed.push(class);
            }
        }
        changed
    }
}

fn rules() -> Vec<Rewrite<Arith, Ranges>> {
    vec![
        // Only products of the input split; a product of a product keeps its inner value as
        // one wire and is costed as a fresh constant multiplication of it (see `Adders`).
        Rewrite::new(
            "split-constant",
            "(mul x ?c)"
                .parse::<egg::Pattern<Arith>>()
                .expect("pattern"),
            SplitConstant,
        )
        .expect("rule"),
        egg::rewrite!("shl-shl"; "(shl (shl ?a ?j) ?k)" => { ShlShl }),
    ]
}

/// `shl(shl(a, j), k) = shl(a, j + k)`.
struct ShlShl;

impl egg::Applier<Arith, Ranges> for ShlShl {
    fn apply_one(
        &self,
        eg: &mut EGraph<Arith, Ranges>,
        class: Id,
        subst: &egg::Subst,
        _: Option<&egg::PatternAst<Arith>>,
        _: egg::Symbol,
    ) -> Vec<Id> {
        let c = |v: &str, eg: &EGraph<Arith, Ranges>| {
            eg[subst[v.parse().expect("variable")]].data.constant
        };
        let (Some(j), Some(k)) = (c("?j", eg), c("?k", eg)) else {
            return vec![];
        };
        let a = subst["?a".parse().expect("variable")];
        let n = eg.add(Arith::Num(j + k));
        let s = eg.add(Arith::Shl([a, n]));
        if eg.union(class, s) {
            vec![class]
        } else {
            vec![]
        }
    }
}

/// Adders (add, sub, neg); shifts and constants are wiring. `x * c` unsplit is a multiplier;
/// `(a * c)` of a computed `a` reads `a` once and costs the shift-adds of `c` (the tree cost of
/// its split form would count `a` once per use, although it is one wire).
struct Adders<'a> {
    eg: &'a EGraph<Arith, Ranges>,
}

impl CostFunction<Arith> for Adders<'_> {
    type Cost = u64;
    fn cost<C: FnMut(Id) -> u64>(&mut self, n: &Arith, mut costs: C) -> u64 {
        match n {
            Arith::Mul([a, c]) => {
                let is_x = self.eg[*a].nodes.iter().any(|m| matches!(m, Arith::X));
                match self.eg[*c].data.constant {
                    Some(v) if !is_x && v.unsigned_abs() < MAX_CONSTANT as u64 => {
                        costs(*a).saturating_add(constant_multiply(v).1)
                    }
                    _ => 1000,
                }
            }
            _ => {
                let own = matches!(n, Arith::Add(_) | Arith::Sub(_) | Arith::Neg(_)) as u64;
                n.fold(own, |s, id| s.saturating_add(costs(id)))
            }
        }
    }
}

thread_local! {
    static SOLVED: std::cell::RefCell<std::collections::HashMap<i64, (RecExpr<Arith>, u64)>> =
        Default::default();
}

/// The cheapest shift-add form of `x * c` found within the limits, and its adder count
/// (memoised: factorisations ask for their factors again).
pub fn constant_multiply(c: i64) -> (RecExpr<Arith>, u64) {
    if let Some(hit) = SOLVED.with(|m| m.borrow().get(&c).cloned()) {
        return hit;
    }
    let found = solve_constant(c);
    SOLVED.with(|m| m.borrow_mut().insert(c, found.clone()));
    found
}

fn solve_constant(c: i64) -> (RecExpr<Arith>, u64) {
    let mut start = RecExpr::default();
    let x = start.add(Arith::X);
    let n = start.add(Arith::Num(c));
    start.add(Arith::Mul([x, n]));
    // Limits set before running (egg's defaults are 30 iterations, 10k nodes, 5 s).
    let runner = Runner::<Arith, Ranges>::default()
        .with_iter_limit(24)
        .with_node_limit(20_000)
        .with_time_limit(Duration::from_millis(500))
        .with_expr(&start)
        .run(&rules());
    let ex = egg::Extractor::new(&runner.egraph, Adders { eg: &runner.egraph });
    let (cost, best) = ex.find_best(runner.roots[0]);
    (best, cost)
}

/// Evaluates an extracted expression at `x`, building every product as [`verilog`] does.
pub fn eval(e: &RecExpr<Arith>, x: i128) -> i128 {
    let mut v: Vec<i128> = Vec::with_capacity(e.as_ref().len());
    for n in e.as_ref() {
        let g = |i: &Id| v[usize::from(*i)];
        let r = match n {
            Arith::Num(c) => *c as i128,
            Arith::X => x,
            Arith::Add([a, b]) => g(a) + g(b),
            Arith::Sub([a, b]) => g(a) - g(b),
            Arith::Neg(a) => -g(a),
            Arith::Shl([a, k]) => g(a) << g(k),
            Arith::Mul([a, b]) => match (&e[*a], &e[*b]) {
                (Arith::X, _) | (_, Arith::X) => g(a) * g(b),
                (_, Arith::Num(q)) => eval(&constant_multiply(*q).0, g(a)),
                _ => g(a) * g(b),
            },
        };
        v.push(r);
    }
    *v.last().expect("non-empty expression")
}

/// An extracted expression as Verilog over operand `s`; repeated subexpressions are written
/// out again (synthesis merges identical cells).
pub fn verilog(e: &RecExpr<Arith>, s: &str) -> String {
    fn go(e: &RecExpr<Arith>, i: Id, s: &str) -> String {
        match &e[i] {
            Arith::Num(c) => c.to_string(),
            Arith::X => s.to_string(),
            Arith::Add([a, b]) => format!("({} + {})", go(e, *a, s), go(e, *b, s)),
            Arith::Sub([a, b]) => format!("({} - {})", go(e, *a, s), go(e, *b, s)),
            Arith::Neg(a) => format!("(-{})", go(e, *a, s)),
            Arith::Shl([a, k]) => format!("({} <<< {})", go(e, *a, s), go(e, *k, s)),
            Arith::Mul([a, b]) => match (&e[*a], &e[*b]) {
                (Arith::X, _) | (_, Arith::X) => format!("({} * {})", go(e, *a, s), go(e, *b, s)),
                // A product of a product: the outer constant's own shift-adds over the inner.
                (_, Arith::Num(q)) => verilog(&constant_multiply(*q).0, &go(e, *a, s)),
                _ => format!("({} * {})", go(e, *a, s), go(e, *b, s)),
            },
        }
    }
    go(e, Id::from(e.as_ref().len() - 1), s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csd_adders(c: i64) -> u64 {
        crate::opt::cmvm::csd(c as i128).len().saturating_sub(1) as u64
    }

    #[test]
    fn products_are_exact_and_never_costlier_than_csd() {
        let mut better = 0;
        for c in 1..2048i64 {
            let (e, cost) = constant_multiply(c);
            for x in [-32768i128, -3, 0, 1, 7, 32767] {
                assert_eq!(eval(&e, x), x * c as i128, "{c}: {e}");
            }
            assert!(
                cost <= csd_adders(c),
                "{c}: {cost} adders, CSD {}",
                csd_adders(c)
            );
            better += (cost < csd_adders(c)) as u32;
        }
        // Factorisations beat canonical signed digits on many constants (e.g. 45 = 5 * 9).
        assert!(better > 100, "{better} constants improved");
    }

    #[test]
    fn forty_five_is_two_adders() {
        let (e, cost) = constant_multiply(45);
        assert_eq!(cost, 2, "{e}");
        assert_eq!(csd_adders(45), 3);
    }

    #[test]
    fn analysis_intersects_ranges_and_folds_constants() {
        let mut eg: EGraph<Arith, Ranges> = EGraph::new(Ranges {
            input: Interval::new(0, 10),
        });
        let x = eg.add(Arith::X);
        let three = eg.add(Arith::Num(3));
        let m = eg.add(Arith::Mul([x, three]));
        assert_eq!(eg[m].data.range, Interval::new(0, 30));
        let one = eg.add(Arith::Num(1));
        let two = eg.add(Arith::Num(2));
        let s = eg.add(Arith::Add([one, two]));
        assert_eq!(eg[s].data.constant, Some(3));
    }
}
