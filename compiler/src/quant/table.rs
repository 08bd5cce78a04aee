//! Quantised functions of one fixed-point input, and their threshold form.
//!
//! A function `f` on a `b`-bit input becomes the exact table `Q(x) = clamp(round(f(x / 2^fi) *
//! 2^fo))` (round half away from zero; clamped to the output width). Any such table equals
//! `base + sum_k s_k [x >= t_k]` with thresholds `t_k` sorted ascending and `s_k = ±1`: one
//! threshold per unit step of `Q`, upwards (`+1`) or downwards (`-1`). For a non-decreasing `f`
//! every `s_k` is `+1` and `thr_k = f^-1(k)` is the pre-distorted ramp of a ramp ADC; a
//! non-monotone `f` (GELU, SiLU) splits into its rising and falling steps (a function of bounded
//! variation is the difference of two monotone ones), so the unit counts thresholds below `x`,
//! `c`, and a small table maps `c` to `base + s_0 + ... + s_(c-1)`. FINN's `MultiThreshold` and
//! multi-threshold neurons are the same form.

use serde::Serialize;

/// Widest input a table is built for (it has `2^bits` entries).
pub const MAX_INPUT_BITS: u32 = 16;

/// The functions a ramp unit computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Func {
    Sigmoid,
    Tanh,
    /// `x * Phi(x)` (the erf form).
    Gelu,
    /// `x * sigmoid(x)`.
    Silu,
    Exp,
    /// `1 / x` (the largest output at and below zero).
    Recip,
    /// A staircase given by its thresholds alone (multi-threshold activations): no float
    /// function behind it.
    Thresholds,
}

impl Func {
    pub const ALL: [Func; 6] = [
        Func::Sigmoid,
        Func::Tanh,
        Func::Gelu,
        Func::Silu,
        Func::Exp,
        Func::Recip,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Func::Sigmoid => "sigmoid",
            Func::Tanh => "tanh",
            Func::Gelu => "gelu",
            Func::Silu => "silu",
            Func::Exp => "exp",
            Func::Recip => "recip",
            Func::Thresholds => "thresholds",
        }
    }

    pub fn parse(s: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == s)
    }

    pub fn eval(self, x: f64) -> f64 {
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        match self {
            Func::Sigmoid => sigmoid(x),
            Func::Tanh => x.tanh(),
            Func::Gelu => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
            Func::Silu => x * sigmoid(x),
            Func::Exp => x.exp(),
            Func::Recip if x <= 0.0 => f64::INFINITY,
            Func::Recip => 1.0 / x,
            Func::Thresholds => f64::NAN,
        }
    }
}

/// The error function, to about 1e-15 (Taylor series near zero, continued fraction beyond).
pub fn erf(x: f64) -> f64 {
    if x < 0.0 {
        return -erf(-x);
    }
    if x < 2.5 {
        // erf x = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
        let (mut term, mut sum, x2) = (x, x, x * x);
        for n in 1..200 {
            term *= -x2 / n as f64;
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        return sum * 2.0 / std::f64::consts::PI.sqrt();
    }
    if x > 6.0 {
        return 1.0;
    }
    // erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), evaluated bottom up.
    let mut f = x;
    for k in (1..60).rev() {
        f = x + (k as f64 / 2.0) / f;
    }
    1.0 - (-x * x).exp() / std::f64::consts::PI.sqrt() / f
}

/// A fixed-point format: `bits` wide, `frac` fraction bits (may be negative), signed or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Fixed {
    pub bits: u32,
    pub frac: i32,
    pub signed: bool,
}

impl Fixed {
    pub fn range(self) -> (i64, i64) {
        if self.signed {
            (-(1i64 << (self.bits - 1)), (1i64 << (self.bits - 1)) - 1)
        } else {
            (0, (1i64 << self.bits) - 1)
        }
    }

    pub fn scale(self) -> f64 {
        (2f64).powi(self.frac)
    }
}

/// A quantised function in threshold form.
#[derive(Clone, Debug, Serialize)]
pub struct Table {
    pub func: Func,
    pub input: Fixed,
    pub output: Fixed,
    /// `Q` at the smallest input.
    pub base: i64,
    /// Ascending thresholds and their steps: `Q(x) = base + sum of s_k over t_k <= x`.
    pub thresholds: Vec<(i64, i8)>,
    /// True when every step rises (no output table needed).
    pub monotone: bool,
    /// Largest `|Q(x) - f(x) * 2^fo|` over the inputs, in output LSBs (clamping included).
    pub max_error_lsb: f64,
    /// The same within the output range (rounding alone; at most 0.5).
    pub max_rounding_lsb: f64,
}

impl Table {
    /// `Q(x)` from the threshold form (the golden model of every unit variant).
    pub fn eval(&self, x: i64) -> i64 {
        self.prefix(self.count(x))
    }

    /// How many thresholds are at or below `x`.
    pub fn count(&self, x: i64) -> usize {
        self.thresholds.partition_point(|&(t, _)| t <= x)
    }

    /// `base` plus the first `c` steps.
    pub fn prefix(&self, c: usize) -> i64 {
        self.base
            + self.thresholds[..c]
                .iter()
                .map(|&(_, s)| s as i64)
                .sum::<i64>()
    }
}

impl Table {
    /// The staircase `x -> number of thresholds <= x` on `input`, with `output` codes: thresholds
    /// at or below the smallest input count in the base, those above the largest never count.
    pub fn staircase(thresholds: &[i64], input: Fixed, output: Fixed) -> Table {
        let (lo, hi) = input.range();
        Table {
            func: Func::Thresholds,
            input,
            output,
            base: thresholds.iter().filter(|&&t| t <= lo).count() as i64,
            thresholds: thresholds
                .iter()
                .filter(|&&t| t > lo && t <= hi)
                .map(|&t| (t, 1))
                .collect(),
            monotone: true,
            max_error_lsb: 0.0,
            max_rounding_lsb: 0.0,
        }
    }
}

/// Why a table cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TableError(pub String);

/// Tabulates `func` from `input` to `output` and derives its thresholds.
pub fn tabulate(func: Func, input: Fixed, output: Fixed) -> Result<Table, TableError> {
    if func == Func::Thresholds {
        return Err(TableError(
            "a staircase has no function to tabulate; build it from its thresholds".into(),
        ));
    }
    for (what, f) in [("input", input), ("output", output)] {
        if f.bits < 1 || f.bits > MAX_INPUT_BITS || (f.signed && f.bits < 2) {
            return Err(TableError(format!(
                "{what} width {} outside 1..={MAX_INPUT_BITS} (2 or more when signed)",
                f.bits
            )));
        }
        if f.frac.abs() > 32 {
            return Err(TableError(format!(
                "{what} fraction bits {} outside -32..=32",
                f.frac
            )));
        }
    }
    let (xlo, xhi) = input.range();
    let (ylo, yhi) = output.range();
    let (mut max_err, mut max_round) = (0f64, 0f64);
    let mut q = Vec::with_capacity((xhi - xlo + 1) as usize);
    for x in xlo..=xhi {
        let exact = func.eval(x as f64 / input.scale()) * output.scale();
        let y = if exact.is_nan() {
            return Err(TableError(format!(
                "{} is undefined at input {x}",
                func.name()
            )));
        } else {
            exact.round().clamp(ylo as f64, yhi as f64) as i64
        };
        let err = (y as f64 - exact).abs();
        max_err = max_err.max(err);
        if (ylo as f64..=yhi as f64).contains(&exact) {
            max_round = max_round.max(err);
        }
        q.push(y);
    }
    let mut thresholds = Vec::new();
    for (i, w) in q.windows(2).enumerate() {
        let x = xlo + i as i64 + 1;
        let d = w[1] - w[0];
        let s = if d > 0 { 1 } else { -1 };
        thresholds.extend(std::iter::repeat_n((x, s), d.unsigned_abs() as usize));
    }
    let monotone = thresholds.iter().all(|&(_, s)| s > 0);
    Ok(Table {
        func,
        input,
        output,
        base: q[0],
        thresholds,
        monotone,
        max_error_lsb: max_err,
        max_rounding_lsb: max_round,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(bits: u32, frac: i32, signed: bool) -> Fixed {
        Fixed { bits, frac, signed }
    }

    #[test]
    fn erf_matches_known_values() {
        // Abramowitz and Stegun, table 7.1.
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (2.0, 0.995_322_265_0),
            (3.0, 0.999_977_909_5),
        ] {
            assert!((erf(x) - want).abs() < 1e-9, "erf({x}) = {}", erf(x));
        }
        assert!((erf(-1.0) + 0.842_700_792_9).abs() < 1e-9);
    }

    #[test]
    fn threshold_form_reproduces_every_table_entry() {
        for func in Func::ALL {
            let (i, o) = match func {
                Func::Sigmoid => (fx(12, 8, true), fx(5, 5, false)),
                Func::Tanh => (fx(10, 7, true), fx(6, 5, true)),
                Func::Gelu | Func::Silu => (fx(10, 7, true), fx(6, 3, true)),
                Func::Exp => (fx(8, 5, true), fx(8, 4, false)),
                Func::Recip => (fx(8, 4, false), fx(8, 3, false)),
                Func::Thresholds => unreachable!("not in Func::ALL"),
            };
            let t = tabulate(func, i, o).unwrap();
            let (lo, hi) = i.range();
            for x in lo..=hi {
                let exact = func.eval(x as f64 / i.scale()) * o.scale();
                let (ylo, yhi) = o.range();
                let want = exact.round().clamp(ylo as f64, yhi as f64) as i64;
                assert_eq!(t.eval(x), want, "{} at {x}", func.name());
            }
            assert!(t.max_rounding_lsb <= 0.5 + 1e-9);
        }
    }

    #[test]
    fn monotone_functions_have_rising_steps_and_gelu_falls_once() {
        let t = tabulate(Func::Sigmoid, fx(12, 8, true), fx(5, 5, false)).unwrap();
        assert!(t.monotone);
        // A 5-bit output climbs from sigmoid(-8) * 32 ~ 0 to 31: 31 thresholds at most.
        assert!(t.thresholds.len() <= 31);
        let g = tabulate(Func::Gelu, fx(10, 7, true), fx(6, 3, true)).unwrap();
        assert!(!g.monotone);
        // GELU dips to about -0.17 near x = -0.75: with 3 fraction bits, one step down, one up.
        let downs = g.thresholds.iter().filter(|&&(_, s)| s < 0).count();
        assert_eq!(downs, 1);
    }

    #[test]
    fn bad_formats_are_errors_not_panics() {
        assert!(tabulate(Func::Exp, fx(20, 0, true), fx(8, 0, false)).is_err());
        assert!(tabulate(Func::Exp, fx(8, 0, true), fx(1, 0, true)).is_err());
        assert!(tabulate(Func::Exp, fx(8, 99, true), fx(8, 0, false)).is_err());
    }
}
