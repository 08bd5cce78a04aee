//! Synthesis with Yosys for a target: resource counts as ground truth.

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
    pub lut: u64,
    pub ff: u64,
    pub carry: u64,
    pub bram36: f64,
    pub bram_4k: u64,
    pub dsp: u64,
    pub lutram: u64,
    /// Percent of the device used, per resource.
    pub utilisation: BTreeMap<String, f64>,
    pub fits: bool,
    pub cells: BTreeMap<String, u64>,
    pub seconds: f64,
}

pub fn yosys_version() -> Result<String, ToolError> {
    Ok(run(Command::new("yosys").arg("-V"), "yosys -V")?
        .trim()
        .to_string())
}

/// Runs Yosys on the RTL files and counts cells by the target's classes.
pub fn synth(
    top: &str,
    rtl: &[PathBuf],
    target: &Target,
    dir: &Path,
) -> Result<SynthReport, ToolError> {
    let t0 = Instant::now();
    let version = yosys_version()?;
    let script = target.yosys_script.replace("{top}", top);
    // Yosys runs in `dir`: the sources by absolute path.
    let rtl: Vec<PathBuf> = rtl
        .iter()
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
        .collect();
    let ys = format!(
        "read_verilog {}\nhierarchy -check -top {top}\n{script}\ntee -o yosys_stat.txt stat\n",
        quoted(&rtl)
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
    let bram_4k = count("bram_4k");
    let mut utilisation = BTreeMap::new();
    let pct = |a: f64, b: u64| {
        if b == 0 {
            if a > 0.0 {
                f64::INFINITY
            } else {
                0.0
            }
        } else {
            100.0 * a / b as f64
        }
    };
    utilisation.insert("lut".to_string(), pct((lut + lutram) as f64, target.luts));
    utilisation.insert("ff".to_string(), pct(ff as f64, target.ffs));
    utilisation.insert("dsp".to_string(), pct(dsp as f64, target.dsps));
    if target.bram36 > 0 || bram36 > 0.0 {
        utilisation.insert("bram36".to_string(), pct(bram36, target.bram36));
    }
    if target.bram_4k > 0 || bram_4k > 0 {
        utilisation.insert("bram_4k".to_string(), pct(bram_4k as f64, target.bram_4k));
    }
    let fits = utilisation.values().all(|&u| u <= 100.0);
    Ok(SynthReport {
        target: target.name.clone(),
        yosys_version: version,
        script,
        lut,
        ff,
        carry,
        bram36,
        bram_4k,
        dsp,
        lutram,
        utilisation,
        fits,
        cells,
        seconds: t0.elapsed().as_secs_f64(),
    })
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
}
