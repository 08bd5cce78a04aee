//! Verification of a ramp-family unit: Verilator runs it on every input and checks each result
//! and its cycle count against the table's threshold form.

use super::run_tool;
use crate::backend::ramp::{cycles, RampUnit};
use crate::quant::table::Table;
use crate::tool::ToolError;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

const TB: &str = include_str!("../../../testbenches/ramp_tb.v");

/// What the exhaustive run found.
#[derive(Clone, Debug, Serialize)]
pub struct RampCheck {
    pub inputs: u64,
    pub mismatches: u64,
    /// Most cycles from `start` to `done` that the RTL took.
    pub max_cycles: u64,
}

fn io(e: std::io::Error, p: &Path) -> ToolError {
    ToolError::Io(format!("{}: {e}", p.display()))
}

/// Lints the unit (`verilator --lint-only -Wall`), then simulates every input in `dir`.
pub fn verify(u: &RampUnit, t: &Table, dir: &Path) -> Result<RampCheck, ToolError> {
    std::fs::create_dir_all(dir).map_err(|e| io(e, dir))?;
    let v = dir.join(format!("{}.v", u.module));
    std::fs::write(&v, &u.verilog).map_err(|e| io(e, &v))?;
    run_tool(
        Command::new("verilator")
            .current_dir(dir)
            .args(["--lint-only", "-Wall", "--top-module", &u.module])
            .arg(format!("{}.v", u.module)),
        "verilator --lint-only -Wall",
    )?;
    let (xlo, xhi) = t.input.range();
    let (ib, ob) = (t.input.bits, t.output.bits);
    let n = (xhi - xlo + 1) as u64;
    let (mut want, mut cyc) = (String::new(), String::new());
    for x in xlo..=xhi {
        let y = (t.eval(x) as u64) & ((1u64 << ob) - 1);
        let _ = writeln!(want, "{y:x}");
        let _ = writeln!(cyc, "{:x}", cycles(t, u.variant, x));
    }
    for (name, text) in [("want.hex", &want), ("cycles.hex", &cyc)] {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| io(e, &p))?;
    }
    let xlo_bits = (xlo as u64) & ((1u64 << ib) - 1);
    let tb = TB
        .replace("{IB}", &ib.to_string())
        .replace("{OB}", &ob.to_string())
        .replace("{N}", &n.to_string())
        .replace("{MODULE}", &u.module)
        .replace("{XLO}", &xlo_bits.to_string());
    let tbp = dir.join("tb.v");
    std::fs::write(&tbp, tb).map_err(|e| io(e, &tbp))?;
    run_tool(
        Command::new("verilator")
            .current_dir(dir)
            .args([
                "--binary",
                "--timing",
                "-Wno-fatal",
                "--top-module",
                "tb",
                "-o",
                "ramp_tb",
                "tb.v",
            ])
            .arg(format!("{}.v", u.module)),
        "verilator --binary (ramp unit testbench)",
    )?;
    let log = run_tool(
        Command::new(dir.join("obj_dir/ramp_tb")).current_dir(dir),
        "ramp unit simulation",
    )?;
    let res = log
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| ToolError::Failed {
            what: "ramp unit simulation".into(),
            log: log.clone(),
            log_path: None,
        })?;
    let mut it = res
        .split_whitespace()
        .map(|s| s.parse::<u64>().unwrap_or(u64::MAX));
    Ok(RampCheck {
        inputs: n,
        mismatches: it.next().unwrap_or(u64::MAX),
        max_cycles: it.next().unwrap_or(0),
    })
}
