//! Element types and shapes carried by every edge of the IR.

use std::fmt;

/// What one element of a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Elem {
    /// One bit: a spike or no spike.
    Spike,
    /// A real number (float stage only; never reaches hardware).
    Real,
    /// Signed two's-complement fixed point: `width` bits, `frac` of them fractional.
    Fix { width: u32, frac: u32 },
}

/// The type of a value: an element type and a tensor shape (row-major).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Type {
    pub elem: Elem,
    pub shape: Vec<usize>,
}

impl Type {
    pub fn new(elem: Elem, shape: Vec<usize>) -> Self {
        Type { elem, shape }
    }

    pub fn spike(n: usize) -> Self {
        Type::new(Elem::Spike, vec![n])
    }

    pub fn real(n: usize) -> Self {
        Type::new(Elem::Real, vec![n])
    }

    pub fn fix(width: u32, n: usize) -> Self {
        Type::new(Elem::Fix { width, frac: 0 }, vec![n])
    }

    /// The same element type with another shape.
    pub fn with_shape(self, shape: Vec<usize>) -> Self {
        Type { shape, ..self }
    }

    /// Number of elements (product of the shape; 1 for a scalar).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values one element can take: `0..=1` for a spike, the signed range of an integer
    /// (its raw two's-complement value), `None` for `real`.
    pub fn elem_range(&self) -> Option<(i64, i64)> {
        match self.elem {
            Elem::Spike => Some((0, 1)),
            Elem::Real => None,
            Elem::Fix { width, .. } => Some(signed_range(width)),
        }
    }

    /// Bits one element occupies in hardware (`None` for `real`).
    pub fn elem_bits(&self) -> Option<u32> {
        match self.elem {
            Elem::Spike => Some(1),
            Elem::Real => None,
            Elem::Fix { width, .. } => Some(width),
        }
    }
}

impl fmt::Display for Elem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Elem::Spike => write!(f, "spike"),
            Elem::Real => write!(f, "real"),
            Elem::Fix { width, frac } => write!(f, "fix<{width},{frac}>"),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[", self.elem)?;
        for (i, d) in self.shape.iter().enumerate() {
            if i > 0 {
                write!(f, ",")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

/// Signed width of the widest of `values` (2 when there are none): the width of a register
/// or literal holding any one of a table of constants.
pub fn widest_constant(values: &[i64]) -> u32 {
    values
        .iter()
        .map(|&v| signed_width(v as i128, v as i128))
        .max()
        .unwrap_or(2)
}

/// Smallest signed two's-complement width holding every value in `[lo, hi]` (at least 1).
pub fn signed_width(lo: i128, hi: i128) -> u32 {
    let mut w = 1u32;
    while w < 127 {
        let min = -(1i128 << (w - 1));
        let max = (1i128 << (w - 1)) - 1;
        if lo >= min && hi <= max {
            return w;
        }
        w += 1;
    }
    127
}

/// The range `[min, max]` of a signed `width`-bit value.
pub fn signed_range(width: u32) -> (i64, i64) {
    debug_assert!((1..=63).contains(&width));
    (-(1i64 << (width - 1)), (1i64 << (width - 1)) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_width_covers_edges() {
        assert_eq!(signed_width(0, 0), 1);
        assert_eq!(signed_width(-1, 0), 1);
        assert_eq!(signed_width(0, 1), 2);
        assert_eq!(signed_width(-128, 127), 8);
        assert_eq!(signed_width(-129, 127), 9);
        assert_eq!(signed_width(-128, 128), 9);
    }

    #[test]
    fn type_prints_compactly() {
        assert_eq!(Type::fix(9, 40).to_string(), "fix<9,0>[40]");
        assert_eq!(
            Type::new(Elem::Spike, vec![2, 34, 34]).to_string(),
            "spike[2,34,34]"
        );
    }
}
