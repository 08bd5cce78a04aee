//! Elementwise float functions pending on an integer tensor until the next quantiser: `Relu`,
//! `Sigmoid`, `Tanh`, `Erf`, `Gelu` and arithmetic with constants or with other functions of
//! the same integer (so the exported GELU patterns `x * 0.5 * (1 + erf(x / sqrt 2))` and
//! `0.5 x (1 + tanh(...))`, and SiLU `x * sigmoid(x)`, are one function of `q`). A `Quant`
//! then turns the whole function into a multi-threshold unit: a ramp-family unit computes any
//! staircase that is monotone in `q`.
//!
//! Evaluation is float32, one ONNX operator at a time, with Rust's `exp`/`tanh` and `libm`'s
//! `erff`. onnxruntime computes these transcendental functions with its own approximations, so a
//! level can differ where the function lands within an ulp of a rounding boundary;
//! `tests/onnx_frontend.rs` measures the agreement against the reference execution.

/// One element's value as a function of its integer `q`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `scale * q + shift`: the accumulator, in float32 as it arrives (`(scale q) as f32 +
    /// shift as f32`).
    Lin {
        scale: Vec<f64>,
        shift: Vec<f64>,
    },
    /// A constant, broadcast to one value per element.
    Const(Vec<f32>),
    Unary(Unary, Box<Expr>),
    Binary(Binary, Box<Expr>, Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unary {
    Relu,
    Sigmoid,
    Tanh,
    Erf,
    /// ONNX `Gelu` (opset 20): exact (`erf`) or the `tanh` approximation.
    Gelu {
        tanh: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

impl Unary {
    pub fn from_op(op: &str, approximate_tanh: bool) -> Option<Unary> {
        Some(match op {
            "Relu" => Unary::Relu,
            "Sigmoid" => Unary::Sigmoid,
            "Tanh" => Unary::Tanh,
            "Erf" => Unary::Erf,
            "Gelu" => Unary::Gelu {
                tanh: approximate_tanh,
            },
            _ => return None,
        })
    }

    fn apply(self, x: f32) -> f32 {
        match self {
            Unary::Relu => x.max(0.0),
            Unary::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Unary::Tanh => x.tanh(),
            Unary::Erf => libm::erff(x),
            Unary::Gelu { tanh: false } => {
                0.5 * x * (1.0 + libm::erff(x / std::f32::consts::SQRT_2))
            }
            Unary::Gelu { tanh: true } => {
                let c = (2.0 / std::f32::consts::PI).sqrt();
                0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
            }
        }
    }

    /// Non-decreasing in its argument.
    fn monotone(self) -> bool {
        !matches!(self, Unary::Gelu { .. })
    }
}

impl Binary {
    pub fn from_op(op: &str) -> Option<Binary> {
        Some(match op {
            "Add" => Binary::Add,
            "Sub" => Binary::Sub,
            "Mul" => Binary::Mul,
            "Div" => Binary::Div,
            _ => return None,
        })
    }
}

impl Expr {
    /// Element `e`'s value at integer `q`.
    pub fn eval(&self, e: usize, q: i64) -> f32 {
        match self {
            Expr::Lin { scale, shift } => (scale[e] * q as f64) as f32 + shift[e] as f32,
            Expr::Const(c) => c[e],
            Expr::Unary(u, x) => u.apply(x.eval(e, q)),
            Expr::Binary(b, x, y) => {
                let (x, y) = (x.eval(e, q), y.eval(e, q));
                match b {
                    Binary::Add => x + y,
                    Binary::Sub => x - y,
                    Binary::Mul => x * y,
                    Binary::Div => x / y,
                }
            }
        }
    }

    /// True when the function is provably non-decreasing in `q` for every element (monotone
    /// functions of a non-decreasing linear form, plus or times non-negative constants);
    /// otherwise the staircase is checked input by input.
    pub fn provably_monotone(&self) -> bool {
        match self {
            Expr::Lin { scale, .. } => scale.iter().all(|&s| s >= 0.0),
            Expr::Const(_) => true,
            Expr::Unary(u, x) => u.monotone() && x.provably_monotone(),
            Expr::Binary(b, x, y) => match (b, &**y) {
                (Binary::Add, _) => x.provably_monotone() && y.provably_monotone(),
                (Binary::Mul | Binary::Div, Expr::Const(c)) => {
                    x.provably_monotone() && c.iter().all(|&v| v > 0.0)
                }
                (Binary::Sub, Expr::Const(_)) => x.provably_monotone(),
                _ => false,
            },
        }
    }

    /// Every per-element number the function of element `e` reads: elements with equal keys
    /// compute the same function.
    pub fn key(&self, e: usize, out: &mut Vec<u64>) {
        match self {
            Expr::Lin { scale, shift } => out.extend([scale[e].to_bits(), shift[e].to_bits()]),
            Expr::Const(c) => out.push(c[e].to_bits() as u64),
            Expr::Unary(_, x) => x.key(e, out),
            Expr::Binary(_, x, y) => {
                x.key(e, out);
                y.key(e, out);
            }
        }
    }

    /// The expression on `n` elements is linear with no pending function.
    pub fn linear(&self) -> Option<(&[f64], &[f64])> {
        match self {
            Expr::Lin { scale, shift } => Some((scale, shift)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lin(s: f64) -> Expr {
        Expr::Lin {
            scale: vec![s],
            shift: vec![0.0],
        }
    }

    #[test]
    fn the_erf_gelu_pattern_equals_the_gelu_operator() {
        // x * 0.5 * (1 + erf(x / sqrt 2)) as exported, against Gelu on the same accumulator.
        let x = lin(0.25);
        let erf = Expr::Unary(
            Unary::Erf,
            Box::new(Expr::Binary(
                Binary::Div,
                Box::new(x.clone()),
                Box::new(Expr::Const(vec![std::f32::consts::SQRT_2])),
            )),
        );
        let pattern = Expr::Binary(
            Binary::Mul,
            Box::new(Expr::Binary(
                Binary::Mul,
                Box::new(x.clone()),
                Box::new(Expr::Binary(
                    Binary::Add,
                    Box::new(erf),
                    Box::new(Expr::Const(vec![1.0])),
                )),
            )),
            Box::new(Expr::Const(vec![0.5])),
        );
        let op = Expr::Unary(Unary::Gelu { tanh: false }, Box::new(x));
        for q in -40..=40 {
            let (a, b) = (pattern.eval(0, q), op.eval(0, q));
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                "q {q}: {a} vs {b}"
            );
        }
        assert!(!pattern.provably_monotone());
    }

    #[test]
    fn sigmoid_and_tanh_of_a_rising_accumulator_are_monotone() {
        let s = Expr::Unary(Unary::Sigmoid, Box::new(lin(0.1)));
        assert!(s.provably_monotone());
        assert!((s.eval(0, 0) - 0.5).abs() < 1e-7);
        let falling = Expr::Unary(Unary::Tanh, Box::new(lin(-0.1)));
        assert!(!falling.provably_monotone());
    }
}
