//! Synthesis with Yosys for a target: resource counts as ground truth.

pub mod pnr;
pub mod target;

use crate::tool::{run, ToolError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
pub use target::Target;

/// Resources Yosys mapped the design to.
#[derive(Clone, Debug, Serialize)]
pub struct SynthReport {
    pub target: String,
    pub yosys_version: String,
    pub script: String,
    /// DSP inference was on.
    pub dsp_inference: bool,
    pub lut: u64,
    pub ff: u64,
    pub carry: u64,
    pub bram36: f64,
    pub bram_4k: u64,
    pub bram_18k: u64,
    pub dsp: u64,
    pub lutram: u64,
    /// Cells on the longest path through the mapped netlist's LUTs, carry and wide-mux cells
    /// (Yosys `ltp` with every other cell deleted, so paths end at flip-flops, RAMs and DSPs;
    /// a carry cell counts one). Where no open placer gives timing, the open measure of it.
    pub logic_depth: Option<u64>,
    /// Percent of the device used, per resource.
    pub utilisation: BTreeMap<String, f64>,
    pub fits: bool,
    /// Per resource the design needs more of than the device has: (resource, needed, has).
    pub overflow: Vec<(String, f64, u64)>,
    pub cells: BTreeMap<String, u64>,
    /// Gate-level area, for the `asic` target.
    pub asic: Option<AsicArea>,
    /// Placement and routing with nextpnr (`--pnr`).
    pub pnr: Option<pnr::PnrReport>,
    pub seconds: f64,
}

/// Area of a generic gate-level netlist, or of one mapped to a standard-cell library.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AsicArea {
    pub cells: u64,
    /// Yosys `stat -tech cmos` (generic gates only, not with `--liberty`).
    pub transistors: Option<u64>,
    /// Transistors / 4, the size of a two-input NAND.
    pub nand2_equivalents: Option<f64>,
    /// The library's area (its units, usually square micrometres), with `--liberty`.
    pub liberty_area: Option<f64>,
    pub liberty: Option<String>,
}

/// How to synthesise beyond the target's defaults.
#[derive(Clone, Debug, Default)]
pub struct SynthOptions {
    /// Keep multipliers out of DSP blocks (`--no-dsp`).
    pub no_dsp: bool,
    /// Map to this standard-cell library (`asic` target only).
    pub liberty: Option<PathBuf>,
    /// Place and route with nextpnr and report fmax (targets with a `pnr` section).
    pub pnr: bool,
    /// Clock for place and route, MHz (default: the target's).
    pub clock_mhz: Option<f64>,
    /// The design's input and output beat widths (needed for place and route).
    pub stream_bits: Option<(usize, usize)>,
}

pub fn yosys_version() -> Result<String, ToolError> {
    Ok(run(Command::new("yosys").arg("-V"), "yosys -V")?
        .trim()
        .to_string())
}

/// Runs Yosys on the RTL files with the target's defaults and counts cells by its classes.
pub fn synth(
    top: &str,
    rtl: &[PathBuf],
    target: &Target,
    dir: &Path,
) -> Result<SynthReport, ToolError> {
    synth_with(top, rtl, target, dir, &SynthOptions::default())
}

/// The Yosys commands after reading the sources, and the `stat` flags, for a target.
fn flow(top: &str, target: &Target, opt: &SynthOptions) -> Result<(String, String), ToolError> {
    match (&opt.liberty, target.is_asic()) {
        (Some(lib), true) => {
            let lib = lib
                .canonicalize()
                .map_err(|e| ToolError::Io(format!("{}: {e}", lib.display())))?;
            let l = format!("\"{}\"", lib.display());
            Ok((
                format!(
                    "synth -flatten -top {top}\ndffunmap\ndfflibmap -liberty {l}\nabc -liberty {l}\nopt_clean"
                ),
                format!("-liberty {l}"),
            ))
        }
        (Some(_), false) => Err(ToolError::Io(format!(
            "--liberty maps to standard cells: use it with --target asic, not {}",
            target.name
        ))),
        (None, true) => Ok((target.script(top, !opt.no_dsp), "-tech cmos".to_string())),
        (None, false) => Ok((target.script(top, !opt.no_dsp), String::new())),
    }
}

/// Yosys commands run after `stat`: the longest path through the combinational cells alone
/// (the rest deleted, so paths end at flip-flops, RAMs and DSPs).
fn depth_commands(target: &Target) -> String {
    if target.is_asic() {
        return String::new();
    }
    let logic: Vec<String> = ["lut", "carry", "mux"]
        .iter()
        .flat_map(|c| target.cells.get(*c).into_iter().flatten())
        .map(|cell| format!("t:{cell}*"))
        .collect();
    format!(
        "select -set logic {}\ndelete t:* @logic %d\ntee -q -o yosys_ltp.txt ltp\n",
        logic.join(" ")
    )
}

/// Runs Yosys on the RTL files for a target and counts cells by its classes; with
/// `opt.pnr`, places and routes too.
pub fn synth_with(
    top: &str,
    rtl: &[PathBuf],
    target: &Target,
    dir: &Path,
    opt: &SynthOptions,
) -> Result<SynthReport, ToolError> {
    let t0 = Instant::now();
    let version = yosys_version()?;
    let (script, stat_flags) = flow(top, target, opt)?;
    // Yosys runs in `dir`: the sources by absolute path.
    let rtl: Vec<PathBuf> = rtl
        .iter()
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
        .collect();
    let ys = format!(
        "read_verilog {}\nhierarchy -check -top {top}\n{script}\ntee -o yosys_stat.txt stat {stat_flags}\n{}",
        quoted(&rtl),
        depth_commands(target)
    );
    std::fs::create_dir_all(dir).map_err(|e| ToolError::Io(e.to_string()))?;
    let ys_path = dir.join("synth.ys");
    std::fs::write(&ys_path, &ys).map_err(|e| ToolError::Io(e.to_string()))?;
    // In `dir`: `tee -o` takes its file name unquoted, so it gets one without spaces.
    run(
        Command::new("yosys")
            .current_dir(dir)
            .arg("-q")
            .arg("-l")
            .arg("yosys.log")
            .arg("-s")
            .arg("synth.ys"),
        "yosys synthesis",
    )?;
    let stat = std::fs::read_to_string(dir.join("yosys_stat.txt"))
        .map_err(|e| ToolError::Io(e.to_string()))?;
    let cells = parse_stat(&stat);
    let count = |class: &str| -> u64 {
        let prefixes = target.cells.get(class).cloned().unwrap_or_default();
        cells
            .iter()
            .filter(|(c, _)| prefixes.iter().any(|p| c.starts_with(p.as_str())))
            .map(|(_, n)| n)
            .sum()
    };
    let (lut, ff, carry, dsp, lutram) = (
        count("lut"),
        count("ff"),
        count("carry"),
        count("dsp"),
        count("lutram"),
    );
    let bram36 = count("bram36") as f64 + count("bram18") as f64 / 2.0;
    let (bram_4k, bram_18k) = (count("bram_4k"), count("bram_18k"));
    let logic_depth = std::fs::read_to_string(dir.join("yosys_ltp.txt"))
        .ok()
        .and_then(|t| parse_ltp(&t));
    let transistors = parse_number_after(&stat, "Estimated number of transistors:");
    let asic = target.is_asic().then(|| AsicArea {
        cells: cells.values().sum(),
        transistors: transistors.map(|t| t as u64),
        nand2_equivalents: transistors.map(|t| t / 4.0),
        liberty_area: parse_number_after(&stat, "Chip area for module"),
        liberty: opt.liberty.as_ref().map(|p| p.display().to_string()),
    });
    let mut utilisation = BTreeMap::new();
    let mut overflow = Vec::new();
    let mut use_of = |name: &str, used: f64, has: u64| {
        if target.is_asic() || (has == 0 && used == 0.0) {
            return;
        }
        utilisation.insert(
            name.to_string(),
            if has == 0 {
                f64::INFINITY
            } else {
                100.0 * used / has as f64
            },
        );
        if used > has as f64 {
            overflow.push((name.to_string(), used, has));
        }
    };
    use_of("lut", (lut + lutram) as f64, target.luts);
    use_of("ff", ff as f64, target.ffs);
    use_of("dsp", dsp as f64, target.dsps);
    use_of("bram36", bram36, target.bram36);
    use_of("bram_4k", bram_4k as f64, target.bram_4k);
    use_of("bram_18k", bram_18k as f64, target.bram_18k);
    let fits = overflow.is_empty();
    let pnr = match (&target.pnr, opt.pnr) {
        (Some(_), true) if fits => Some(pnr::place_and_route(
            top,
            &rtl,
            target,
            opt,
            &dir.join("pnr"),
        )?),
        (None, true) => {
            return Err(ToolError::Io(format!(
            "{} has no open place and route ({}); its timing is not measured, only the logic depth",
            target.name,
            if target.is_asic() {
                "an ASIC needs your library's flow"
            } else {
                "no nextpnr for this family"
            }
        )))
        }
        _ => None,
    };
    Ok(SynthReport {
        target: target.name.clone(),
        yosys_version: version,
        script,
        dsp_inference: !opt.no_dsp,
        lut,
        ff,
        carry,
        bram36,
        bram_4k,
        bram_18k,
        dsp,
        lutram,
        logic_depth,
        utilisation,
        fits,
        overflow,
        cells,
        asic,
        pnr,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The length of `ltp`'s longest path: "Longest topological path in top (length=N):".
fn parse_ltp(text: &str) -> Option<u64> {
    let at = text.find("(length=")? + "(length=".len();
    text[at..].split(')').next()?.trim().parse().ok()
}

/// The number following `key` on its line (a trailing `+` or units ignored).
fn parse_number_after(text: &str, key: &str) -> Option<f64> {
    let line = text.lines().rev().find(|l| l.contains(key))?;
    let rest = &line[line.find(key)? + key.len()..];
    // "Chip area for module '\top': 123.4" -- the number after the last colon.
    let rest = rest.rsplit(':').next().unwrap_or(rest);
    rest.split_whitespace()
        .next()?
        .trim_end_matches('+')
        .parse()
        .ok()
}

/// Yosys's structural check (`hierarchy -check; proc; check -assert`): every module resolves,
/// processes lower without latches or multiple drivers. Fast; used on every generated design.
pub fn check(top: &str, rtl: &[PathBuf]) -> Result<(), ToolError> {
    let script = format!(
        "read_verilog {}; hierarchy -check -top {top}; proc; opt_clean; check -assert",
        quoted(rtl)
    );
    run(
        Command::new("yosys").args(["-q", "-p", &script]),
        "yosys check",
    )?;
    Ok(())
}

/// File names for a Yosys command, each in double quotes (paths may hold spaces).
fn quoted(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|p| format!("\"{}\"", p.display()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Cell counts from Yosys's `stat` text (the top module's, flattened).
pub fn parse_stat(text: &str) -> BTreeMap<String, u64> {
    let mut cells = BTreeMap::new();
    let mut in_cells = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("Number of cells:") {
            in_cells = true;
            cells.clear();
            continue;
        }
        if in_cells {
            let parts: Vec<&str> = t.split_whitespace().collect();
            match parts.as_slice() {
                [name, n] => {
                    if let Ok(n) = n.parse::<u64>() {
                        cells.insert(name.to_string(), n);
                    }
                }
                _ => in_cells = !t.is_empty() && cells.is_empty(),
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cells_are_parsed() {
        let text = "=== top ===\n\n   Number of wires:                 10\n   Number of cells:                 5\n     CARRY4                          1\n     FDRE                            2\n     LUT6                            2\n\n   Estimated number of LCs: 2\n";
        let c = parse_stat(text);
        assert_eq!(c.get("FDRE"), Some(&2));
        assert_eq!(c.get("LUT6"), Some(&2));
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn depth_transistors_and_area_are_parsed() {
        assert_eq!(
            parse_ltp("Longest topological path in sf_x (length=17):\n  0: a\n"),
            Some(17)
        );
        assert_eq!(parse_ltp("nothing"), None);
        let stat = "   Number of cells:   3\n   Estimated number of transistors:     293984+\n   Chip area for module '\\sf_x': 1234.50\n";
        assert_eq!(
            parse_number_after(stat, "Estimated number of transistors:"),
            Some(293984.0)
        );
        assert_eq!(
            parse_number_after(stat, "Chip area for module"),
            Some(1234.5)
        );
    }
}
