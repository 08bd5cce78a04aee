//! Ramp-family nonlinear units (`rtl-templates/ramp.v`): a quantised function in threshold
//! form ([`crate::quant::table`]) as hardware, in four area/latency trade-offs.

use crate::quant::table::Table;
use askama::Template;
use serde::Serialize;

/// How a unit finds the number of thresholds at or below its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// A counter walks the ascending thresholds with one comparator (a digital ramp ADC):
    /// `count + 2` cycles.
    Ramp,
    /// Binary search over the thresholds: `bits(K) + 1` cycles.
    Bsearch,
    /// One comparator per threshold (a thermometer code), summed: one cycle.
    Parallel,
    /// The whole table as a memory: one cycle.
    Rom,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::Ramp,
        Variant::Bsearch,
        Variant::Parallel,
        Variant::Rom,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Ramp => "ramp",
            Variant::Bsearch => "bsearch",
            Variant::Parallel => "parallel",
            Variant::Rom => "rom",
        }
    }

    pub fn parse(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// A generated unit.
#[derive(Clone, Debug, Serialize)]
pub struct RampUnit {
    pub module: String,
    #[serde(skip)]
    pub verilog: String,
    pub variant: Variant,
    pub thresholds: usize,
    /// Most cycles from `start` to `done` over all inputs.
    pub max_cycles: u64,
}

#[derive(Template)]
#[template(path = "ramp.v", escape = "none")]
struct RampV {
    header: String,
    module: String,
    variant: &'static str,
    cycles_doc: String,
    ib: u32,
    ob: u32,
    cb: u32,
    sb: u32,
    k: usize,
    k_vec: usize,
    steps_m1: u32,
    /// The bound check on a probe, empty when every probe is in range.
    probe_ok: String,
    n: usize,
    u_expr: String,
    monotone: bool,
    base: String,
    c_ext: String,
    prefix: Vec<String>,
    thr_cases: Vec<String>,
    ge_lines: Vec<String>,
    count_expr: String,
    rom: Vec<String>,
    rom_attr: &'static str,
}

/// Bits to hold `0..=n`.
fn bits_for(n: u64) -> u32 {
    (64 - n.leading_zeros()).max(1)
}

/// An `bits`-bit pattern of `v` (two's complement) as a Verilog literal.
fn lit(v: i64, bits: u32) -> String {
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    format!("{bits}'h{:x}", (v as u64) & mask)
}

/// Cycles from `start` to `done` for input `x`.
pub fn cycles(t: &Table, v: Variant, x: i64) -> u64 {
    match v {
        Variant::Ramp => t.count(x) as u64 + 2,
        Variant::Bsearch => bits_for(t.thresholds.len() as u64) as u64 + 1,
        Variant::Parallel | Variant::Rom => 1,
    }
}

/// Why a unit cannot be generated.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RampError(pub String);

/// The unit computing `t` as `variant`, named `module`.
pub fn unit(t: &Table, variant: Variant, module: &str) -> Result<RampUnit, RampError> {
    let k = t.thresholds.len();
    if k == 0 {
        return Err(RampError(format!(
            "{} is the constant {} on this input range: no unit needed",
            t.func.name(),
            t.base
        )));
    }
    let (ib, ob) = (t.input.bits, t.output.bits);
    let (xlo, xhi) = t.input.range();
    let cb = bits_for(k as u64);
    let steps = cb;
    let sb = bits_for(steps as u64 - 1);
    let u_expr = if t.input.signed {
        if ib == 2 {
            "{~x[1], x[0]}".to_string()
        } else {
            format!("{{~x[{}], x[{}:0]}}", ib - 1, ib - 2)
        }
    } else {
        "x".to_string()
    };
    let off = |x: i64| format!("{ib}'d{}", x - xlo);
    // A rising table has no more steps than output codes, so its count fits the output.
    let c_ext = match cb.cmp(&ob) {
        _ if !t.monotone => String::new(),
        std::cmp::Ordering::Equal => "c".to_string(),
        std::cmp::Ordering::Less => format!("{{{}'d0, c}}", ob - cb),
        std::cmp::Ordering::Greater => {
            return Err(RampError(format!(
                "{k} rising steps exceed a {ob}-bit output"
            )))
        }
    };
    let prefix = (0..=k)
        .map(|c| format!("{cb}'d{c}: out_of = {};", lit(t.prefix(c), ob)))
        .collect();
    let thr_cases = t
        .thresholds
        .iter()
        .enumerate()
        .map(|(i, &(x, _))| format!("{cb}'d{i}: thr = {};", off(x)))
        .collect();
    let ge_lines = t
        .thresholds
        .iter()
        .enumerate()
        .map(|(i, &(x, _))| format!("assign ge[{i}] = u >= {};", off(x)))
        .collect();
    let count_expr = (0..k)
        .map(|i| match cb {
            1 => format!("ge[{i}]"),
            _ => format!("{{{}'d0, ge[{i}]}}", cb - 1),
        })
        .collect::<Vec<_>>()
        .join(" + ");
    let n = (xhi - xlo + 1) as usize;
    let rom = match variant {
        Variant::Rom => (xlo..=xhi)
            .map(|x| format!("rom[{}] = {};", x - xlo, lit(t.eval(x), ob)))
            .collect(),
        _ => Vec::new(),
    };
    let max_cycles = (xlo..=xhi)
        .map(|x| cycles(t, variant, x))
        .max()
        .unwrap_or(1);
    let cycles_doc = match variant {
        Variant::Ramp => format!("thresholds passed + 2 cycles, at most {max_cycles}"),
        Variant::Bsearch => format!("{max_cycles} cycles"),
        _ => "1 cycle".to_string(),
    };
    let header =
        format!(
        "{}: {}-bit {} input (2^-{} units) to {}-bit {} output (2^-{} units), max error {:.3} LSB",
        t.func.name(),
        ib,
        if t.input.signed { "signed" } else { "unsigned" },
        t.input.frac,
        ob,
        if t.output.signed { "signed" } else { "unsigned" },
        t.output.frac,
        t.max_error_lsb
    );
    let text = RampV {
        header,
        module: module.to_string(),
        variant: variant.name(),
        cycles_doc,
        ib,
        ob,
        cb,
        sb,
        k,
        k_vec: k,
        steps_m1: steps - 1,
        probe_ok: if k as u64 == (1u64 << cb) - 1 {
            String::new()
        } else {
            format!("probe <= {cb}'d{k} && ")
        },
        n,
        u_expr,
        monotone: t.monotone,
        base: lit(t.base, ob),
        c_ext,
        prefix,
        thr_cases,
        ge_lines,
        count_expr,
        rom,
        // Yosys maps a memory this large to block RAM; small ones stay in LUTs.
        rom_attr: if n * ob as usize > 4096 {
            "(* rom_style = \"block\" *) "
        } else {
            ""
        },
    }
    .render()
    .map_err(|e| RampError(format!("template: {e}")))?
        + "\n";
    Ok(RampUnit {
        module: module.to_string(),
        verilog: text,
        variant,
        thresholds: k,
        max_cycles,
    })
}
