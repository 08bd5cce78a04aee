//! The `.sfir` textual form of the IR: a lossless printer and a `nom` parser with located errors.
//!
//! ```text
//! file     = graph                                 (then only whitespace and comments)
//! graph    = "graph" name "{" node* "}"
//! node     = "%" name ":" type "=" op-kw ["(" [ref ("," ref)* [","]] ")"] ["{" [attr ("," attr)* [","]] "}"]
//! ref      = "%" name ["@prev"]                    (@prev: delayed port, may name a later node)
//! name     = [A-Za-z_][A-Za-z0-9_.]*  |  '"' (char | \" | \\ | \n | \t | \u{HEX}) * '"'
//! type     = ("spike" | "real" | "fix<" u32 "," u32 ">") "[" [usize ("," usize)*] "]"
//! attr     = ident "=" value
//! value    = number | word | vector | matrix
//! vector   = "[" [elem ("," elem)* [","]] "]"  |  "[" elem ";" count "]"
//! matrix   = "<" [usize ("x" usize)*] ">" vector  (row-major; length must match the shape)
//! number   = ["+"|"-"] (digits ["." digits] [("e"|"E") ["+"|"-"] digits] | "inf" | "NaN")
//! ```
//! Whitespace (including newlines) and `#` comments may appear between any two tokens; the
//! printer writes one node per line. Floats print with `{:?}` (shortest round-trip, always with
//! `.` or `e`), so printing is lossless; a float attribute also accepts an integer literal.
//! Which attributes an op takes is fixed per op keyword; see `parse.rs` (`op_spec`).

mod parse;
mod print;
#[cfg(test)]
mod tests;

use super::graph::Graph;
use std::fmt;

/// Largest element count of any one shape, splat or matrix, and of all values in one file:
/// checked before allocating so a short input cannot demand gigabytes.
pub const MAX_ELEMS: usize = 1 << 28;

/// A parse error with a 1-based source location.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Prints a graph as `.sfir` text.
pub fn print(g: &Graph) -> String {
    print::graph(g)
}

/// Parses `.sfir` text into a graph (not yet verified).
pub fn parse(src: &str) -> Result<Graph, ParseError> {
    parse::graph(src)
}
