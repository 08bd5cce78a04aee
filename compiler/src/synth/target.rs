//! Device descriptions from `targets/*.json`, validated on load.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One device: capacities (with their source) and the Yosys flow that maps to it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    pub description: String,
    pub family: String,
    pub lut_inputs: u32,
    pub luts: u64,
    pub ffs: u64,
    pub bram36: u64,
    #[serde(default)]
    pub bram_4k: u64,
    pub dsps: u64,
    pub source: String,
    /// Yosys synthesis command; `{top}` is replaced by the top module.
    pub yosys_script: String,
    /// Resource class -> cell-name prefixes counted in it.
    pub cells: BTreeMap<String, Vec<String>>,
    pub default_clock_mhz: f64,
    pub constraints: String,
}

const BUILTIN: &[(&str, &str)] = &[
    ("xc7a35t", include_str!("../../../targets/xc7a35t.json")),
    ("xc7a100t", include_str!("../../../targets/xc7a100t.json")),
    ("ice40up5k", include_str!("../../../targets/ice40up5k.json")),
];

/// Names of the built-in targets.
pub fn names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// Parses and validates a target description; `origin` names it in errors.
pub fn parse(origin: &str, text: &str) -> Result<Target, String> {
    let t: Target = serde_json::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
    if t.luts == 0 || t.ffs == 0 || !(3..=8).contains(&t.lut_inputs) {
        return Err(format!(
            "{origin}: luts, ffs must be positive and lut_inputs in 3..=8"
        ));
    }
    if !t.yosys_script.contains("{top}") {
        return Err(format!("{origin}: yosys_script must contain {{top}}"));
    }
    for class in ["lut", "ff", "carry", "dsp"] {
        if !t.cells.contains_key(class) {
            return Err(format!("{origin}: cells has no '{class}' class"));
        }
    }
    if t.default_clock_mhz.is_nan() || t.default_clock_mhz <= 0.0 {
        return Err(format!("{origin}: default_clock_mhz must be positive"));
    }
    Ok(t)
}

/// A built-in target by name, or a target file by path.
pub fn load(name_or_path: &str) -> Result<Target, String> {
    if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return parse(name_or_path, text);
    }
    if name_or_path.ends_with(".json") {
        let text =
            std::fs::read_to_string(name_or_path).map_err(|e| format!("{name_or_path}: {e}"))?;
        return parse(name_or_path, &text);
    }
    Err(format!(
        "unknown target '{name_or_path}' (built in: {}; or a path to a target .json)",
        names().join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_targets_validate() {
        for n in names() {
            let t = load(n).unwrap();
            assert_eq!(t.name, n);
        }
        assert!(load("xc9z999").unwrap_err().contains("unknown target"));
        assert!(parse("bad.json", "{\"name\": 1}")
            .unwrap_err()
            .starts_with("bad.json:"));
    }
}
