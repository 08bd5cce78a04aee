//! The one place where names from model files become Verilog identifiers or comment text.

use std::collections::{BTreeMap, BTreeSet};

/// Verilog-2005 and SystemVerilog keywords a name must not collide with.
const KEYWORDS: &[&str] = &[
    "always",
    "and",
    "assign",
    "automatic",
    "begin",
    "buf",
    "case",
    "casex",
    "casez",
    "cell",
    "cmos",
    "config",
    "deassign",
    "default",
    "defparam",
    "design",
    "disable",
    "edge",
    "else",
    "end",
    "endcase",
    "endconfig",
    "endfunction",
    "endgenerate",
    "endmodule",
    "endprimitive",
    "endspecify",
    "endtable",
    "endtask",
    "event",
    "for",
    "force",
    "forever",
    "fork",
    "function",
    "generate",
    "genvar",
    "if",
    "ifnone",
    "incdir",
    "include",
    "initial",
    "inout",
    "input",
    "instance",
    "integer",
    "join",
    "large",
    "liblist",
    "library",
    "localparam",
    "logic",
    "macromodule",
    "medium",
    "module",
    "nand",
    "negedge",
    "nmos",
    "nor",
    "not",
    "or",
    "output",
    "parameter",
    "pmos",
    "posedge",
    "primitive",
    "pull0",
    "pull1",
    "pulldown",
    "pullup",
    "rcmos",
    "real",
    "realtime",
    "reg",
    "release",
    "repeat",
    "rnmos",
    "rpmos",
    "rtran",
    "scalared",
    "signed",
    "small",
    "specify",
    "specparam",
    "strong0",
    "strong1",
    "supply0",
    "supply1",
    "table",
    "task",
    "time",
    "tran",
    "tri",
    "tri0",
    "tri1",
    "triand",
    "trior",
    "trireg",
    "unsigned",
    "use",
    "vectored",
    "wait",
    "wand",
    "weak0",
    "weak1",
    "while",
    "wire",
    "wor",
    "xnor",
    "xor",
    "bit",
    "byte",
    "int",
    "shortint",
    "longint",
    "string",
    "class",
    "interface",
];

/// Maps arbitrary node names to unique, safe identifiers (stable for a given input order).
#[derive(Default)]
pub struct Namer {
    used: BTreeSet<String>,
    given: BTreeMap<String, String>,
}

impl Namer {
    /// A namer with `names` already taken (ports and fixed signals of a module).
    pub fn reserving(names: &[&str]) -> Self {
        let mut n = Namer::default();
        n.used.extend(names.iter().map(|s| s.to_string()));
        n
    }

    /// A safe identifier for `name`, unique among those this namer has handed out; the same
    /// name always gets the same identifier.
    pub fn ident(&mut self, name: &str) -> String {
        if let Some(s) = self.given.get(name) {
            return s.clone();
        }
        let cand = self.fresh(name);
        self.given.insert(name.to_string(), cand.clone());
        cand
    }

    /// A new safe identifier derived from `base`, distinct from every one handed out so far.
    pub fn fresh(&mut self, name: &str) -> String {
        let base = safe(name);
        let mut cand = base.clone();
        let mut k = 1;
        while self.used.contains(&cand) {
            k += 1;
            cand = format!("{base}_{k}");
        }
        self.used.insert(cand.clone());
        cand
    }
}

/// `name` as a Verilog identifier before uniquing: lower-case alphanumerics and single
/// underscores, never a keyword or a leading digit, at most 48 characters.
pub fn safe(name: &str) -> String {
    let mut base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    while base.contains("__") {
        base = base.replace("__", "_");
    }
    let base = base.trim_matches('_').to_string();
    let mut base = if base.is_empty() {
        "n".to_string()
    } else {
        base
    };
    if base.starts_with(|c: char| c.is_ascii_digit()) || KEYWORDS.contains(&base.as_str()) {
        base = format!("n_{base}");
    }
    base.truncate(48);
    base
}

/// Text safe inside a `//` comment: printable ASCII only, quoted.
pub fn comment_text(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    format!("'{}'", s.replace("*/", "*?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_distinct_safe_identifiers() {
        let mut n = Namer::default();
        let names = [
            "lif1.lif", "lif1_lif", "module", "0abc", "a b\\c", "x*/\ny", "λ", "",
        ];
        let ids: Vec<String> = names.iter().map(|s| n.ident(s)).collect();
        let set: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(set.len(), ids.len(), "{ids:?}");
        for id in &ids {
            assert!(
                id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{id}"
            );
            assert!(!id.starts_with(|c: char| c.is_ascii_digit()), "{id}");
            assert!(!KEYWORDS.contains(&id.as_str()), "{id}");
        }
        assert_eq!(n.ident("lif1.lif"), ids[0]);
        assert_ne!(n.fresh("lif1.lif"), ids[0]);
        let mut r = Namer::reserving(&["clk"]);
        assert_eq!(r.ident("clk"), "clk_2");
        assert!(!comment_text("x*/\ny").contains("*/"));
        assert!(!comment_text("x*/\ny").contains('\n'));
    }
}
