//! Register census of the emitted Verilog: flip-flop bits and memories, per top-level instance,
//! counted from the text the backend wrote rather than re-derived per template, so every
//! architecture (and every later template change) is counted alike.
//!
//! It reads Spikeforge's own regular Verilog-2005, not arbitrary Verilog: constant parameters
//! (`localparam`, no overrides), `generate` loops and conditions over them, a register is a
//! flip-flop when it is the target of a non-blocking assignment (`x <= ...`), and an array
//! written that way is a memory. What it cannot evaluate counts once. This is what Yosys's
//! `proc` makes of the same files before optimisation; what synthesis later removes or maps
//! (constant bits, memories to LUT RAM or flip-flops) is left to the fitted surrogate.

use std::collections::{HashMap, HashSet};

/// What one module instance (with everything below it) holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Census {
    /// Flip-flop bits: registers written by non-blocking assignments.
    pub ff_bits: f64,
    /// Bits (`width * depth`) of written arrays deeper than [`SMALL_RAM_DEPTH`] words:
    /// block RAM candidates.
    pub ram_bits: f64,
    /// Bits of written arrays at most [`SMALL_RAM_DEPTH`] deep: the ones synthesis tends to
    /// build from flip-flops or distributed RAM.
    pub small_ram_bits: f64,
    /// Bits of arrays never written by the logic (tables filled by `initial`).
    pub rom_bits: f64,
    /// Operators, each weighted by the width it works on (the assignment's target for
    /// arithmetic, bitwise logic and multiplexers; the widest operand for comparisons):
    /// adders and subtractors,
    pub add_bits: f64,
    /// magnitude comparisons (`<`, `>=`, ...),
    pub cmp_bits: f64,
    /// equality tests,
    pub eq_bits: f64,
    /// two-way multiplexers (`?:`) and case items,
    pub mux_bits: f64,
    /// bitwise and logical operators,
    pub logic_bits: f64,
    /// products of two signals (operand widths multiplied),
    pub mul_bits: f64,
    /// products by a constant (the target width).
    pub const_mul_bits: f64,
    /// Products of two signals in 25 x 18 multiplier tiles (a DSP48's), and
    pub mul_tiles: f64,
    /// products by a constant in 25-bit tiles of the signal.
    pub const_mul_tiles: f64,
    /// Block RAMs (36Kb, an 18Kb half counting 0.5) that memories and ROMs marked
    /// `(* ram_style = "block" *)` or `rom_style` need, in the cheapest aspect ratio,
    pub block_rams: f64,
    /// and in 4Kb blocks (iCE40 SB_RAM40_4K: 256 x 16 up to 2K x 2), where every written array
    /// is block RAM (the family has no LUT RAM).
    pub block_rams_4k: f64,
}

/// Arrays at most this deep count as small in [`Census::small_ram_bits`].
pub const SMALL_RAM_DEPTH: i128 = 64;

impl Census {
    fn add(&mut self, o: &Census, times: f64) {
        for (a, b) in self.fields_mut().into_iter().zip(o.fields()) {
            *a += times * b;
        }
    }

    /// Every count, in declaration order.
    pub fn fields(&self) -> [f64; 15] {
        [
            self.ff_bits,
            self.ram_bits,
            self.small_ram_bits,
            self.rom_bits,
            self.add_bits,
            self.cmp_bits,
            self.eq_bits,
            self.mux_bits,
            self.logic_bits,
            self.mul_bits,
            self.const_mul_bits,
            self.mul_tiles,
            self.const_mul_tiles,
            self.block_rams,
            self.block_rams_4k,
        ]
    }

    fn fields_mut(&mut self) -> [&mut f64; 15] {
        [
            &mut self.ff_bits,
            &mut self.ram_bits,
            &mut self.small_ram_bits,
            &mut self.rom_bits,
            &mut self.add_bits,
            &mut self.cmp_bits,
            &mut self.eq_bits,
            &mut self.mux_bits,
            &mut self.logic_bits,
            &mut self.mul_bits,
            &mut self.const_mul_bits,
            &mut self.mul_tiles,
            &mut self.const_mul_tiles,
            &mut self.block_rams,
            &mut self.block_rams_4k,
        ]
    }
}

/// The census of a design's files: the top module's own registers under `""`, and one entry
/// per instance in the top module (its name, its module, its census including submodules).
pub fn census(files: &[(String, String)], top: &str) -> Vec<(String, String, Census)> {
    let mut modules: HashMap<String, Module> = HashMap::new();
    for (_, text) in files {
        for m in parse_modules(text) {
            modules.insert(m.name.clone(), m);
        }
    }
    let names: HashSet<String> = modules.keys().cloned().collect();
    let mut own: HashMap<String, Scanned> = HashMap::new();
    for (n, m) in &modules {
        own.insert(n.clone(), m.scan(&names));
    }
    let mut memo = HashMap::new();
    let mut out = Vec::new();
    if let Some((mine, insts)) = own.get(top) {
        out.push((String::new(), top.to_string(), mine.clone()));
        for (inst, module, times) in insts {
            let mut c = Census::default();
            c.add(&total(module, &own, &mut memo, 0), *times);
            out.push((inst.clone(), module.clone(), c));
        }
    }
    out
}

/// A module's own census and its instances `(instance, module, how many)`.
type Scanned = (Census, Vec<(String, String, f64)>);

/// A module's census with its instances, memoised; cycles and absurd depth count nothing.
fn total(
    module: &str,
    own: &HashMap<String, Scanned>,
    memo: &mut HashMap<String, Census>,
    depth: usize,
) -> Census {
    if let Some(c) = memo.get(module) {
        return c.clone();
    }
    let Some((mine, insts)) = own.get(module) else {
        return Census::default();
    };
    let mut c = mine.clone();
    if depth < 64 {
        for (_, sub, times) in insts {
            let s = total(sub, own, memo, depth + 1);
            c.add(&s, *times);
        }
    }
    memo.insert(module.to_string(), c.clone());
    c
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Id(String),
    Num(i128),
    Sym(&'static str),
}

struct Module {
    name: String,
    toks: Vec<Tok>,
}

const SYMS: [&str; 44] = [
    "<<<", ">>>", "===", "!==", "<=", ">=", "==", "!=", "<<", ">>", "&&", "||", "+:", "-:", "**",
    "~&", "~|", "~^", "^~", "(", ")", "[", "]", "{", "}", ";", ",", ":", "=", "+", "-", "*", "/",
    "%", "<", ">", "?", "&", "|", "^", "~", "!", "@", "#",
];

fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
            out.push(' ');
        } else if b[i] == b'"' {
            // A word in quotes (an attribute's value: `ram_style = "block"`) stays a word;
            // other strings hold nothing to count.
            let start = i + 1;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += 1;
            }
            let word = &b[start..i.min(b.len())];
            out.push(' ');
            if !word.is_empty() && word.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') {
                out.push_str(&String::from_utf8_lossy(word));
                out.push(' ');
            }
            i += 1;
        } else {
            // ASCII only, so the tokenizer may slice anywhere.
            out.push(if b[i].is_ascii() { b[i] as char } else { ' ' });
            i += 1;
        }
    }
    out
}

fn tokenize(s: &str) -> Vec<Tok> {
    let b = s.as_bytes();
    let mut t = Vec::new();
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$';
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || (c == b'\'' && i + 1 < b.len()) {
            // 123, 8'd3, 4'b1010, 'h1f, 32'sd5: the value; x/z digits make it unknown (0).
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                i += 1;
            }
            let mut value: i128 = s[start..i].replace('_', "").parse().unwrap_or(0);
            if i < b.len() && b[i] == b'\'' {
                i += 1;
                if i < b.len() && (b[i] == b's' || b[i] == b'S') {
                    i += 1;
                }
                let radix = match b.get(i).map(u8::to_ascii_lowercase) {
                    Some(b'h') => 16,
                    Some(b'b') => 2,
                    Some(b'o') => 8,
                    _ => 10,
                };
                i += 1;
                let ds = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let digits = s[ds..i].replace('_', "");
                value = i128::from_str_radix(&digits, radix).unwrap_or(0);
            }
            t.push(Tok::Num(value));
        } else if ident(c) || c == b'`' {
            let start = i;
            i += 1;
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
            t.push(Tok::Id(s[start..i].to_string()));
        } else if c == b'\\' {
            // An escaped identifier runs to the next white space.
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            t.push(Tok::Id(s[start..i].to_string()));
        } else {
            match SYMS.iter().find(|p| s[i..].starts_with(**p)) {
                Some(p) => {
                    t.push(Tok::Sym(p));
                    i += p.len();
                }
                None => {
                    t.push(Tok::Sym("."));
                    i += 1;
                }
            }
        }
    }
    t
}

fn parse_modules(text: &str) -> Vec<Module> {
    let toks = tokenize(&strip_comments(text));
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i] == Tok::Id("module".into()) {
            if let Some(Tok::Id(name)) = toks.get(i + 1) {
                let start = i + 2;
                let mut j = start;
                while j < toks.len() && toks[j] != Tok::Id("endmodule".into()) {
                    j += 1;
                }
                out.push(Module {
                    name: name.clone(),
                    toks: toks[start..j].to_vec(),
                });
                i = j;
            }
        }
        i += 1;
    }
    out
}

/// Constant integer expressions: numbers, parameters, `+ - * / % ** << >> <<< >>>`,
/// comparisons, `&& || !`, `?:`, `$clog2` and parentheses. `None` for anything else.
struct Eval<'a> {
    t: &'a [Tok],
    i: usize,
    params: &'a HashMap<String, i128>,
}

impl Eval<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn sym(&self, s: &str) -> bool {
        matches!(self.peek(), Some(Tok::Sym(x)) if *x == s)
    }
    fn expr(&mut self) -> Option<i128> {
        let c = self.binary(0)?;
        if self.sym("?") {
            self.i += 1;
            let a = self.expr()?;
            if !self.sym(":") {
                return None;
            }
            self.i += 1;
            let b = self.expr()?;
            return Some(if c != 0 { a } else { b });
        }
        Some(c)
    }
    fn binary(&mut self, min: u8) -> Option<i128> {
        let mut lhs = self.unary()?;
        while let Some(Tok::Sym(op)) = self.peek() {
            let op = *op;
            let prec = match op {
                "||" => 1,
                "&&" => 2,
                "==" | "!=" => 3,
                "<" | "<=" | ">" | ">=" => 4,
                "<<" | ">>" | "<<<" | ">>>" => 5,
                "+" | "-" => 6,
                "*" | "/" | "%" => 7,
                "**" => 8,
                _ => break,
            };
            if prec < min {
                break;
            }
            self.i += 1;
            let rhs = self.binary(prec + 1)?;
            lhs = match op {
                "||" => ((lhs != 0) || (rhs != 0)) as i128,
                "&&" => ((lhs != 0) && (rhs != 0)) as i128,
                "==" => (lhs == rhs) as i128,
                "!=" => (lhs != rhs) as i128,
                "<" => (lhs < rhs) as i128,
                "<=" => (lhs <= rhs) as i128,
                ">" => (lhs > rhs) as i128,
                ">=" => (lhs >= rhs) as i128,
                "<<" | "<<<" => lhs.checked_shl(u32::try_from(rhs).ok()?)?,
                ">>" | ">>>" => lhs.checked_shr(u32::try_from(rhs).ok()?)?,
                "+" => lhs.checked_add(rhs)?,
                "-" => lhs.checked_sub(rhs)?,
                "*" => lhs.checked_mul(rhs)?,
                "/" => lhs.checked_div(rhs)?,
                "%" => lhs.checked_rem(rhs)?,
                _ => lhs.checked_pow(u32::try_from(rhs).ok()?)?,
            };
        }
        Some(lhs)
    }
    fn unary(&mut self) -> Option<i128> {
        match self.peek()?.clone() {
            Tok::Num(n) => {
                self.i += 1;
                Some(n)
            }
            Tok::Sym("-") => {
                self.i += 1;
                self.unary()?.checked_neg()
            }
            Tok::Sym("+") => {
                self.i += 1;
                self.unary()
            }
            Tok::Sym("(") => {
                self.i += 1;
                let v = self.expr()?;
                if !self.sym(")") {
                    return None;
                }
                self.i += 1;
                Some(v)
            }
            Tok::Id(name) if name == "$clog2" => {
                self.i += 1;
                let v = self.unary()?;
                Some(if v <= 1 {
                    0
                } else {
                    128 - (v - 1).leading_zeros() as i128
                })
            }
            Tok::Id(name) => {
                self.i += 1;
                self.params.get(&name).copied()
            }
            Tok::Sym(_) => None,
        }
    }
}

/// After `reg`/`wire` at `k - 1`: the index past `signed` and the range, and the width.
fn declared_width(t: &[Tok], k: usize, params: &HashMap<String, i128>) -> (usize, i128) {
    let mut i = k;
    if t.get(i) == Some(&Tok::Id("signed".into())) {
        i += 1;
    }
    if t.get(i) == Some(&Tok::Sym("[")) {
        let close = matching(t, i);
        return (close + 1, range_len(t, i + 1, close, params).unwrap_or(1));
    }
    (i, 1)
}

/// A `,` at `i` that continues a declaration's names, not a port list moving to its next port.
fn another_name(t: &[Tok], i: usize) -> bool {
    t.get(i) == Some(&Tok::Sym(","))
        && !matches!(t.get(i + 1), Some(Tok::Id(n)) if n == "input" || n == "output" || n == "inout")
}

/// The value of `t` when all of it is one constant expression.
fn const_value(t: &[Tok], params: &HashMap<String, i128>) -> Option<i128> {
    let mut e = Eval { t, i: 0, params };
    e.expr().filter(|_| e.i == t.len())
}

/// The index of the token closing the bracket opened at `open` (or the end).
fn matching(t: &[Tok], open: usize) -> usize {
    let (o, c) = match t[open] {
        Tok::Sym("(") => ("(", ")"),
        Tok::Sym("[") => ("[", "]"),
        _ => ("{", "}"),
    };
    let mut depth = 0;
    for (k, tok) in t.iter().enumerate().skip(open) {
        match tok {
            Tok::Sym(s) if *s == o => depth += 1,
            Tok::Sym(s) if *s == c => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    t.len()
}

struct Decl {
    name: String,
    width: i128,
    depth: i128,
    times: f64,
    block: bool,
}

impl Module {
    /// The module's own registers and its instances `(instance, module, how many)`.
    fn scan(&self, modules: &HashSet<String>) -> Scanned {
        let t = &self.toks;
        let mut params: HashMap<String, i128> = HashMap::new();
        let mut decls: Vec<Decl> = Vec::new();
        let mut written: HashSet<String> = HashSet::new();
        let mut insts = Vec::new();
        // Signals' widths (an array's: its word's), and the operators seen.
        let mut widths: HashMap<String, (i128, bool)> = HashMap::new();
        let mut ops = Census::default();
        // Each open `begin`: how many copies its contents stand for (a generate loop's trip
        // count, 0 for a false generate condition); and what the last closed `if` decided.
        let mut frames: Vec<f64> = Vec::new();
        let mut pending: Option<f64> = None;
        let mut last_if: Option<f64> = None;
        let eval = |from: usize, to: usize, params: &HashMap<String, i128>| {
            const_value(&t[from..to], params)
        };
        let is = |k: usize, s: &str| matches!(t.get(k), Some(Tok::Sym(x)) if *x == s);
        let id = |k: usize, s: &str| matches!(t.get(k), Some(Tok::Id(x)) if x == s);
        let mut i = 0;
        while i < t.len() {
            let times: f64 = frames.iter().product();
            match &t[i] {
                Tok::Id(k) if k == "localparam" || k == "parameter" => {
                    i += 1;
                    loop {
                        while id(i, "integer") || id(i, "signed") {
                            i += 1;
                        }
                        if is(i, "[") {
                            i = matching(t, i) + 1;
                        }
                        let Some(Tok::Id(name)) = t.get(i).cloned() else {
                            break;
                        };
                        if !is(i + 1, "=") {
                            break;
                        }
                        let start = i + 2;
                        let mut j = start;
                        while j < t.len() && !is(j, ",") && !is(j, ";") && !is(j, ")") {
                            if is(j, "(") || is(j, "[") || is(j, "{") {
                                j = matching(t, j);
                            }
                            j += 1;
                        }
                        if let Some(v) = eval(start, j.min(t.len()), &params) {
                            params.insert(name, v);
                        }
                        i = j;
                        if is(i, ",")
                            && matches!(t.get(i + 1), Some(Tok::Id(n)) if n != "parameter" && n != "localparam")
                        {
                            i += 1;
                            continue;
                        }
                        break;
                    }
                    continue;
                }
                Tok::Id(k) if k == "reg" => {
                    let block = block_style(t, i);
                    let (next, width) = declared_width(t, i + 1, &params);
                    i = next;
                    while let Some(Tok::Id(name)) = t.get(i).cloned() {
                        i += 1;
                        let mut depth = 1;
                        if is(i, "[") {
                            let close = matching(t, i);
                            depth = range_len(t, i + 1, close, &params).unwrap_or(1);
                            i = close + 1;
                        }
                        widths.insert(name.clone(), (width, depth > 1));
                        decls.push(Decl {
                            name,
                            width,
                            depth,
                            times,
                            block,
                        });
                        if is(i, "=") {
                            while i < t.len() && !is(i, ",") && !is(i, ";") {
                                i += 1;
                            }
                        }
                        // Another name, unless the port list moves on to the next port.
                        if another_name(t, i) {
                            i += 1;
                            continue;
                        }
                        break;
                    }
                    continue;
                }
                Tok::Id(k) if k == "wire" => {
                    let (next, width) = declared_width(t, i + 1, &params);
                    i = next;
                    while let Some(Tok::Id(name)) = t.get(i).cloned() {
                        widths.insert(name, (width, false));
                        i += 1;
                        if is(i, "=") {
                            let end = statement_end(t, i + 1);
                            let o = Operators {
                                t,
                                params: &params,
                                widths: &widths,
                            };
                            o.count(i + 1, end, width, times, &mut ops);
                            i = end;
                        }
                        if another_name(t, i) {
                            i += 1;
                            continue;
                        }
                        break;
                    }
                    continue;
                }
                Tok::Id(k) if k == "assign" => {
                    let o = Operators {
                        t,
                        params: &params,
                        widths: &widths,
                    };
                    let (width, eq) = o.target(i + 1);
                    if is(eq, "=") {
                        let end = statement_end(t, eq + 1);
                        o.count(eq + 1, end, width, times, &mut ops);
                        i = end;
                        continue;
                    }
                }
                Tok::Id(k) if k == "case" || k == "casez" || k == "casex" => {
                    // A multiplexer of its items, as wide as what the first item assigns.
                    let o = Operators {
                        t,
                        params: &params,
                        widths: &widths,
                    };
                    let (items, width) = o.case_items(i);
                    if block_style(t, i) {
                        ops.block_rams += times * block_rams(items as i128, width);
                        ops.block_rams_4k += times * block_rams_4k(items as i128, width);
                    } else {
                        ops.mux_bits += times * (items as f64) * width as f64;
                    }
                }
                Tok::Id(k) if k == "for" && is(i + 1, "(") => {
                    let close = matching(t, i + 1);
                    let trips = trip_count(&t[i + 2..close.min(t.len())], &params);
                    if id(close + 1, "begin") {
                        pending = Some(trips.map_or(1.0, |n| n as f64));
                    }
                    i = close + 1;
                    continue;
                }
                Tok::Id(k) if k == "if" && is(i + 1, "(") => {
                    let close = matching(t, i + 1);
                    let o = Operators {
                        t,
                        params: &params,
                        widths: &widths,
                    };
                    o.count(i + 2, close, 1, times, &mut ops);
                    if id(close + 1, "begin") {
                        pending = Some(
                            eval(i + 2, close.min(t.len()), &params)
                                .map_or(1.0, |v| (v != 0) as u8 as f64),
                        );
                    }
                    i = close + 1;
                    continue;
                }
                Tok::Id(k) if k == "else" && id(i + 1, "begin") => {
                    // The other branch of a decided generate condition.
                    pending = Some(last_if.map_or(1.0, |v| 1.0 - v.min(1.0)));
                }
                Tok::Id(k) if k == "begin" => {
                    frames.push(pending.take().unwrap_or(1.0));
                    last_if = None;
                }
                Tok::Id(k) if k == "end" => {
                    last_if = frames.pop();
                }
                Tok::Id(name) if modules.contains(name) && name != &self.name => {
                    if let (Some(Tok::Id(inst)), true) = (t.get(i + 1), is(i + 2, "(")) {
                        insts.push((inst.clone(), name.clone(), times));
                        i = matching(t, i + 2) + 1;
                        continue;
                    }
                }
                Tok::Id(name) => {
                    // `name <=`, `name[...] <=` at the start of a statement.
                    let starts = i == 0
                        || is(i - 1, ";")
                        || is(i - 1, ")")
                        || is(i - 1, ":")
                        || id(i - 1, "begin")
                        || id(i - 1, "else")
                        || id(i - 1, "end");
                    if starts {
                        let mut j = i + 1;
                        while is(j, "[") {
                            j = matching(t, j) + 1;
                        }
                        if is(j, "<=") {
                            written.insert(name.clone());
                        }
                        if is(j, "<=") || is(j, "=") {
                            let o = Operators {
                                t,
                                params: &params,
                                widths: &widths,
                            };
                            let (width, _) = o.target(i);
                            let end = statement_end(t, j + 1);
                            o.count(j + 1, end, width, times, &mut ops);
                        }
                    }
                }
                _ => {}
            }
            i += 1;
        }
        let mut c = ops;
        for d in &decls {
            let bits = (d.width * d.depth) as f64 * d.times;
            if d.block && d.depth > 1 {
                c.block_rams += d.times * block_rams(d.depth, d.width);
            }
            // iCE40 has no LUT RAM: every written array becomes block RAM there.
            if (d.block || written.contains(&d.name)) && d.depth > 1 {
                c.block_rams_4k += d.times * block_rams_4k(d.depth, d.width);
            }
            match (written.contains(&d.name), d.depth > 1) {
                (true, false) => c.ff_bits += bits,
                (true, true) if d.depth <= SMALL_RAM_DEPTH => c.small_ram_bits += bits,
                (true, true) => c.ram_bits += bits,
                (false, true) => c.rom_bits += bits,
                (false, false) => {}
            }
        }
        (c, insts)
    }
}

/// Where the statement or declaration starting at `from` ends: the `;` (or `,` of a
/// declaration list) outside brackets.
fn statement_end(t: &[Tok], from: usize) -> usize {
    let mut k = from;
    while k < t.len() {
        match t[k] {
            Tok::Sym(";") | Tok::Sym(",") => return k,
            Tok::Sym("(") | Tok::Sym("[") | Tok::Sym("{") => k = matching(t, k),
            Tok::Id(ref x) if x == "end" || x == "endcase" || x == "begin" => return k,
            _ => {}
        }
        k += 1;
    }
    t.len()
}

/// Counts the operators of expressions, knowing the module's parameters and signal widths.
struct Operators<'a> {
    t: &'a [Tok],
    params: &'a HashMap<String, i128>,
    widths: &'a HashMap<String, (i128, bool)>,
}

impl Operators<'_> {
    fn is(&self, k: usize, s: &str) -> bool {
        matches!(self.t.get(k), Some(Tok::Sym(x)) if *x == s)
    }

    /// The width of the signal or selection starting at `k`, and the token after it.
    fn target(&self, k: usize) -> (i128, usize) {
        let t = self.t;
        match t.get(k) {
            Some(Tok::Id(name)) => {
                let (mut w, mut array) = self.widths.get(name).copied().unwrap_or((1, false));
                let mut j = k + 1;
                while self.is(j, "[") {
                    let close = matching(t, j);
                    if array {
                        array = false; // the word index
                    } else {
                        w = self.select_width(j + 1, close).unwrap_or(w);
                    }
                    j = close + 1;
                }
                (w, j)
            }
            Some(Tok::Sym("{")) => {
                // A concatenation: the sum of its parts.
                let close = matching(t, k);
                let mut j = k + 1;
                let mut w = 0;
                while j < close {
                    let (pw, next) = self.target(j);
                    w += pw;
                    j = next.max(j + 1);
                    if self.is(j, ",") {
                        j += 1;
                    }
                }
                (w.max(1), close + 1)
            }
            _ => (1, k + 1),
        }
    }

    /// `[a +: W]`, `[hi:lo]` or `[i]` between `from` and `to`.
    fn select_width(&self, from: usize, to: usize) -> Option<i128> {
        let t = self.t;
        if let Some(k) = (from..to).find(|&k| self.is(k, "+:") || self.is(k, "-:")) {
            return const_value(&t[k + 1..to], self.params);
        }
        if (from..to).any(|k| self.is(k, ":")) {
            return range_len(t, from, to, self.params);
        }
        Some(1)
    }

    /// True when the operand tokens hold no signal: numbers and parameters only.
    fn constant(&self, from: usize, to: usize) -> bool {
        self.names(from, to)
            .iter()
            .all(|n| self.params.contains_key(*n) || n.starts_with('$'))
    }

    /// The names an operand reads, indexes aside (a select's index is not an operand).
    fn names(&self, from: usize, to: usize) -> Vec<&str> {
        let mut out = Vec::new();
        let mut k = from;
        while k < to.min(self.t.len()) {
            match &self.t[k] {
                Tok::Sym("[") => k = matching(self.t, k),
                Tok::Id(n) => out.push(n.as_str()),
                _ => {}
            }
            k += 1;
        }
        out
    }

    /// The widest signal among the operand tokens.
    fn width_of(&self, from: usize, to: usize) -> i128 {
        self.names(from, to)
            .iter()
            .filter_map(|n| self.widths.get(*n).map(|w| w.0))
            .max()
            .unwrap_or(1)
    }

    /// The operand ending just before `k`: its first token.
    fn left(&self, k: usize) -> usize {
        let t = self.t;
        let mut j = k;
        while j > 0 {
            j -= 1;
            match t[j] {
                Tok::Sym(")") | Tok::Sym("]") | Tok::Sym("}") => {
                    let (o, c) = match t[j] {
                        Tok::Sym(")") => ("(", ")"),
                        Tok::Sym("]") => ("[", "]"),
                        _ => ("{", "}"),
                    };
                    let mut depth = 0;
                    loop {
                        if self.is(j, c) {
                            depth += 1;
                        } else if self.is(j, o) {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        if j == 0 {
                            return 0;
                        }
                        j -= 1;
                    }
                    // A selection belongs to the name before it; a call to its function.
                    if o != "(" || matches!(t.get(j.wrapping_sub(1)), Some(Tok::Id(_))) {
                        continue;
                    }
                    return j;
                }
                Tok::Id(_) | Tok::Num(_) => {
                    if j > 0 && matches!(t[j - 1], Tok::Id(ref n) if n.starts_with('$')) {
                        continue;
                    }
                    return j;
                }
                _ => return j + 1,
            }
        }
        0
    }

    /// The operand starting just after `k`: one past its last token.
    fn right(&self, k: usize) -> usize {
        let t = self.t;
        let mut j = k + 1;
        while matches!(t.get(j), Some(Tok::Sym("-" | "~" | "!" | "+"))) {
            j += 1;
        }
        // A system function (`$signed`) takes the group after it.
        if matches!(t.get(j), Some(Tok::Id(n)) if n.starts_with('$')) {
            j += 1;
        }
        match t.get(j) {
            Some(Tok::Sym("(" | "{")) => j = matching(t, j) + 1,
            Some(Tok::Id(_) | Tok::Num(_)) => j += 1,
            _ => return j,
        }
        while self.is(j, "[") {
            j = matching(t, j) + 1;
        }
        j
    }

    /// Adds the operators between `from` and `to` to `c`, `times` over, for a result
    /// `width` bits wide.
    fn count(&self, from: usize, to: usize, width: i128, times: f64, c: &mut Census) {
        let t = self.t;
        let w = width as f64 * times;
        let mut k = from;
        while k < to.min(t.len()) {
            let binary = k > from
                && matches!(
                    t[k - 1],
                    Tok::Id(_) | Tok::Num(_) | Tok::Sym(")") | Tok::Sym("]") | Tok::Sym("}")
                );
            match t[k] {
                // Index arithmetic is elaboration-time (or an address).
                Tok::Sym("[") => {
                    k = matching(t, k) + 1;
                    continue;
                }
                Tok::Sym("+" | "-") if binary => c.add_bits += w,
                Tok::Sym("<" | ">" | "<=" | ">=") if binary => {
                    let (l, r) = (self.left(k), self.right(k));
                    let ow = self.width_of(l, k).max(self.width_of(k + 1, r));
                    c.cmp_bits += ow as f64 * times;
                }
                Tok::Sym("==" | "!=" | "===" | "!==") if binary => {
                    let (l, r) = (self.left(k), self.right(k));
                    let ow = self.width_of(l, k).max(self.width_of(k + 1, r));
                    c.eq_bits += ow as f64 * times;
                }
                Tok::Sym("?") => c.mux_bits += w,
                Tok::Sym("&" | "|" | "^" | "~^" | "^~") if binary => c.logic_bits += w,
                Tok::Sym("&&" | "||") => c.logic_bits += times,
                Tok::Sym("~" | "&" | "|" | "^" | "~&" | "~|") => c.logic_bits += w,
                Tok::Sym("*") if binary => {
                    let (l, r) = (self.left(k), self.right(k));
                    let (a, b) = (self.width_of(l, k), self.width_of(k + 1, r));
                    if self.constant(l, k) || self.constant(k + 1, r) {
                        c.const_mul_bits += w;
                        c.const_mul_tiles += ceil_div(a.max(b), 25) as f64 * times;
                    } else {
                        c.mul_bits += (a * b) as f64 * times;
                        c.mul_tiles += dsp_tiles(a, b, width) as f64 * times;
                    }
                }
                _ => {}
            }
            k += 1;
        }
    }

    /// A `case` at `k`: how many items, and the width of the first assignment inside.
    fn case_items(&self, k: usize) -> (usize, i128) {
        let t = self.t;
        let Some(open) = (k..t.len()).find(|&j| self.is(j, "(")) else {
            return (0, 1);
        };
        let mut j = matching(t, open) + 1;
        let (mut items, mut width, mut depth, mut ternaries) = (0, None, 0usize, 0usize);
        while j < t.len() {
            match &t[j] {
                Tok::Id(x) if x == "case" || x == "casez" || x == "casex" => depth += 1,
                Tok::Id(x) if x == "endcase" => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                Tok::Sym("(" | "[" | "{") => {
                    j = matching(t, j);
                }
                Tok::Sym("?") => ternaries += 1,
                Tok::Sym(";") => ternaries = 0,
                Tok::Sym(":") if depth == 0 => {
                    if ternaries > 0 {
                        ternaries -= 1;
                    } else {
                        items += 1;
                    }
                }
                Tok::Sym("=" | "<=") if width.is_none() => {
                    // The target starts after the item label or statement start.
                    let mut s = j;
                    while s > 0 && !matches!(t[s - 1], Tok::Sym(":" | ";")) {
                        s -= 1;
                    }
                    width = Some(self.target(s).0);
                }
                _ => {}
            }
            j += 1;
        }
        (items, width.unwrap_or(1))
    }
}

/// True when an attribute just before token `k` asks for block RAM or ROM.
fn block_style(t: &[Tok], k: usize) -> bool {
    let from = k.saturating_sub(8);
    (from..k).any(|j| {
        matches!(&t[j], Tok::Id(a) if a == "ram_style" || a == "rom_style")
            && t.get(j + 1) == Some(&Tok::Sym("="))
            && t.get(j + 2) == Some(&Tok::Id("block".into()))
    })
}

/// 36Kb block RAMs for `depth` words of `width` bits: the cheapest aspect ratio of 18Kb
/// halves (512 x 36 up to 16K x 1, as Xilinx 7-series RAMB18s), 0.5 each.
fn block_rams(depth: i128, width: i128) -> f64 {
    let halves = [
        (512, 36),
        (1024, 18),
        (2048, 9),
        (4096, 4),
        (8192, 2),
        (16384, 1),
    ];
    0.5 * fewest_blocks(depth, width, &halves)
}

/// The fewest blocks of one of these `(depth, width)` shapes that hold `depth` x `width`.
fn fewest_blocks(depth: i128, width: i128, shapes: &[(i128, i128)]) -> f64 {
    shapes
        .iter()
        .map(|&(d, w)| ceil_div(depth, d) * ceil_div(width, w))
        .min()
        .unwrap_or(1) as f64
}

/// 4Kb block RAMs (iCE40) for `depth` words of `width` bits, the cheapest aspect ratio.
fn block_rams_4k(depth: i128, width: i128) -> f64 {
    fewest_blocks(depth, width, &[(256, 16), (512, 8), (1024, 4), (2048, 2)])
}

/// `x / d` rounded up, at least 1.
fn ceil_div(x: i128, d: i128) -> i128 {
    ((x.max(1) + d - 1) / d).max(1)
}

/// 25 x 18 multiplier tiles an `a` x `b` product needs when only its low `result` bits are
/// kept: the tile pairs whose partial product starts below `result` (a DSP48E1's ports,
/// the cheaper orientation).
fn dsp_tiles(a: i128, b: i128, result: i128) -> i128 {
    let pairs = |x: i128, y: i128| {
        let (nx, ny) = (ceil_div(x, 25).min(64), ceil_div(y, 18).min(64));
        (0..nx)
            .map(|i| (0..ny).filter(|j| 25 * i + 18 * j < result.max(1)).count() as i128)
            .sum::<i128>()
    };
    pairs(a, b).min(pairs(b, a)).max(1)
}

/// `msb:lsb` between `from` and `to` (exclusive) as a count of bits.
fn range_len(t: &[Tok], from: usize, to: usize, params: &HashMap<String, i128>) -> Option<i128> {
    let colon = (from..to).find(|&k| t[k] == Tok::Sym(":"))?;
    let ev = |a: usize, b: usize| const_value(&t[a..b], params);
    let (hi, lo) = (ev(from, colon)?, ev(colon + 1, to)?);
    let n = hi.checked_sub(lo)?.checked_abs()?.checked_add(1)?;
    // A width beyond any device is a misread, not a register.
    (n <= 1 << 24).then_some(n)
}

/// Iterations of `v = A; v < B; v = v + 1` (or `<=`, `>`, `>=` and a step of `- 1`).
fn trip_count(h: &[Tok], params: &HashMap<String, i128>) -> Option<i128> {
    let semi: Vec<usize> = (0..h.len()).filter(|&k| h[k] == Tok::Sym(";")).collect();
    if semi.len() != 2 {
        return None;
    }
    let ev = |a: usize, b: usize| const_value(&h[a..b], params);
    // init: `v = A`
    let Tok::Id(v) = h.first()? else { return None };
    let start = ev(2, semi[0])?;
    // condition: `v OP B`
    let c = semi[0] + 1;
    if h.get(c) != Some(&Tok::Id(v.clone())) {
        return None;
    }
    let Tok::Sym(op) = h.get(c + 1)? else {
        return None;
    };
    let bound = ev(c + 2, semi[1])?;
    // step: `v = v + 1` or `v = v - 1`
    let s = semi[1] + 1;
    let step = match (h.get(s + 3), h.get(s + 4)) {
        (Some(Tok::Sym("+")), Some(Tok::Num(1))) => 1,
        (Some(Tok::Sym("-")), Some(Tok::Num(1))) => -1,
        _ => return None,
    };
    let n = match (*op, step) {
        ("<", 1) => bound.checked_sub(start)?,
        ("<=", 1) => bound.checked_sub(start)?.checked_add(1)?,
        (">", -1) => start.checked_sub(bound)?,
        (">=", -1) => start.checked_sub(bound)?.checked_add(1)?,
        _ => return None,
    };
    Some(n.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Vec<(String, String, Census)> {
        census(&[("x.v".into(), text.into())], "top")
    }

    /// Registers, loops, conditions, memories and tables, each counted as the comments say.
    #[test]
    fn counts_what_proc_would_make_flip_flops() {
        let v = "
module leaf (input wire clk, output reg [3:0] q);
    localparam integer N = 3, W = 2 * N;   // two parameters in one declaration
    reg [W-1:0] a, b;                       // a: 6 FFs; b only combinational
    reg [7:0] mem [0:15];                   // a written memory: 128 RAM bits
    reg [4:0] rom [0:9];                    // a table: 50 ROM bits
    integer k;
    genvar j;
    generate
        for (j = 0; j < N; j = j + 1) begin : g
            reg signed [W:0] acc;           // 3 x 7 FFs
            always @(posedge clk) acc <= acc + 1;
        end
        if (N > 5) begin : never
            reg [99:0] big;                 // a false condition: none
            always @(posedge clk) big <= 0;
        end else begin : always_here
            reg [1:0] two;                  // 2 FFs
            always @(posedge clk) two <= 1;
        end
    endgenerate
    always @(*) b = a;
    always @(posedge clk) begin
        if (a <= b) q <= 4'd0;               // a comparison is not a write
        else q[1:0] <= 2'b11;
        a <= b;
        mem[a[3:0]] <= 8'h00;
        for (k = 0; k < 2; k = k + 1) a[k] <= 1'b0;
    end
endmodule
module top (input wire clk);
    wire [3:0] q0, q1;
    leaf u0 (.clk(clk), .q(q0));
    genvar i;
    generate for (i = 0; i < 2; i = i + 1) begin : two
        leaf u1 (.clk(clk), .q(q1));
    end endgenerate
    reg r;
    always @(posedge clk) r <= ~r;
endmodule
";
        let c = one(v);
        let regs = |x: &Census| x.fields()[..4].to_vec();
        // ff, large RAM, small RAM, ROM
        let leaf = vec![4.0 + 6.0 + 21.0 + 2.0, 0.0, 128.0, 50.0];
        assert_eq!(c[0].2.ff_bits, 1.0, "the top's own register");
        assert_eq!((c[1].0.as_str(), c[1].1.as_str()), ("u0", "leaf"));
        assert_eq!(regs(&c[1].2), leaf);
        assert_eq!((c[2].0.as_str(), c[2].1.as_str()), ("u1", "leaf"));
        assert_eq!(
            regs(&c[2].2),
            leaf.iter().map(|x| 2.0 * x).collect::<Vec<_>>()
        );
    }

    /// Each operator weighted by its width, as the field docs say.
    #[test]
    fn operators_are_counted_by_width() {
        let v = "
module top (input wire clk, input wire [7:0] a, input wire [7:0] b, input wire [3:0] s);
    localparam integer K = 3;
    wire [8:0] sum = a + b;                 // add 9
    wire [7:0] d = a - b + 8'd1;            // add 2 x 8
    wire lt = a < b;                        // cmp 8
    wire eq = s == 4'd2;                    // eq 4
    wire [7:0] m = lt ? a : b;              // mux 8
    wire [7:0] x = a & ~b;                  // logic 2 x 8
    wire [15:0] p = a * b;                  // mul 8 x 8
    wire [15:0] q = a * K;                  // const mul 16
    wire [7:0] e = b[s[1:0] + 2'd1 +: 8];   // index arithmetic: nothing
    reg [7:0] r;
    always @(posedge clk)
        case (s)
            4'd0: r <= a;
            4'd1: r <= b;
            default: r <= 8'd0;
        endcase                             // mux 3 x 8; 8 FFs
endmodule
";
        let c = &one(v)[0].2;
        let want = Census {
            ff_bits: 8.0,
            add_bits: 25.0,
            cmp_bits: 8.0,
            eq_bits: 4.0,
            mux_bits: 32.0,
            logic_bits: 16.0,
            mul_bits: 64.0,
            const_mul_bits: 16.0,
            mul_tiles: 1.0,
            const_mul_tiles: 1.0,
            ..Census::default()
        };
        assert_eq!(c, &want);
    }

    /// Hostile text (unbalanced brackets, huge ranges, self-instantiation) counts what it can
    /// and ends.
    #[test]
    fn malformed_text_neither_panics_nor_loops() {
        for v in [
            "module top; reg [ ; endmodule",
            "module top; reg [999999999999:0] r; always @(posedge c) r <= 0; endmodule",
            "module top; top u (.a(1)); endmodule",
            "module top; generate for (i = 0; i < 1 << 40; i = i + 1) begin end endgenerate endmodule",
            "module",
            "",
        ] {
            let _ = one(v);
        }
    }
}
