//! Device descriptions from `targets/*.json`, validated on load.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One device: capacities (with their source), the Yosys flow that maps to it and, where an
/// open placer exists, how to place and route it. The format is documented in
/// `docs/targets.md`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    pub description: String,
    /// `xc7`, `xcup` (UltraScale+), `ice40`, `ecp5` or `asic`.
    pub family: String,
    pub lut_inputs: u32,
    pub luts: u64,
    pub ffs: u64,
    pub bram36: u64,
    #[serde(default)]
    pub bram_4k: u64,
    #[serde(default)]
    pub bram_18k: u64,
    pub dsps: u64,
    pub source: String,
    /// Yosys synthesis commands; `{top}` is replaced by the top module, `{dsp}` by one of
    /// `dsp_flags`.
    pub yosys_script: String,
    /// What `{dsp}` becomes with DSP inference on (the default) and off (`--no-dsp`).
    #[serde(default)]
    pub dsp_flags: Option<DspFlags>,
    /// Resource class -> cell-name prefixes counted in it.
    pub cells: BTreeMap<String, Vec<String>>,
    pub default_clock_mhz: f64,
    /// Constraint file format: `xdc`, `pcf`, `lpf` or `sdc`.
    pub constraints: String,
    #[serde(default)]
    pub pnr: Option<Pnr>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DspFlags {
    pub on: String,
    pub off: String,
}

/// Place and route with nextpnr.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pnr {
    /// Programs to try, first found wins (a distribution's nextpnr, then YoWASP's).
    pub programs: Vec<String>,
    /// Device and package arguments.
    pub args: Vec<String>,
    /// How to install one, for the error when none is found.
    pub install: String,
}

impl Target {
    pub fn is_asic(&self) -> bool {
        self.family == "asic"
    }

    /// The Yosys commands for `top`, with DSP inference on or off.
    pub fn script(&self, top: &str, dsp: bool) -> String {
        let flag = self
            .dsp_flags
            .as_ref()
            .map_or("", |f| if dsp { &f.on } else { &f.off });
        self.yosys_script
            .replace("{dsp}", flag)
            .replace("{top}", top)
            .replace("  ", " ")
    }
}

const BUILTIN: &[(&str, &str)] = &[
    ("xc7a35t", include_str!("../../../targets/xc7a35t.json")),
    ("xc7a100t", include_str!("../../../targets/xc7a100t.json")),
    ("xc7z020", include_str!("../../../targets/xc7z020.json")),
    ("xcvu9p", include_str!("../../../targets/xcvu9p.json")),
    ("ice40up5k", include_str!("../../../targets/ice40up5k.json")),
    ("lfe5u85f", include_str!("../../../targets/lfe5u85f.json")),
    ("asic", include_str!("../../../targets/asic.json")),
];

/// Names of the built-in targets.
pub fn names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// Parses and validates a target description; `origin` names it in errors.
pub fn parse(origin: &str, text: &str) -> Result<Target, String> {
    let t: Target = serde_json::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
    let bad = |field: &str, why: &str| Err(format!("{origin}: field '{field}': {why}"));
    const FAMILIES: [&str; 5] = ["xc7", "xcup", "ice40", "ecp5", "asic"];
    if !FAMILIES.contains(&t.family.as_str()) {
        return bad(
            "family",
            &format!("'{}' is not one of {}", t.family, FAMILIES.join(", ")),
        );
    }
    if !t.is_asic() {
        if t.luts == 0 || t.ffs == 0 {
            return bad("luts", "an FPGA needs positive luts and ffs");
        }
        if !(3..=8).contains(&t.lut_inputs) {
            return bad("lut_inputs", "must be 3 to 8");
        }
        for class in ["lut", "ff", "carry", "dsp"] {
            if !t.cells.contains_key(class) {
                return bad("cells", &format!("no '{class}' class"));
            }
        }
    }
    if !t.yosys_script.contains("{top}") {
        return bad("yosys_script", "must contain {top}");
    }
    if t.yosys_script.contains("{dsp}") != t.dsp_flags.is_some() {
        return bad(
            "dsp_flags",
            "give dsp_flags exactly when yosys_script has a {dsp} placeholder",
        );
    }
    if !(t.default_clock_mhz.is_finite() && t.default_clock_mhz > 0.0) {
        return bad("default_clock_mhz", "must be a positive number");
    }
    if !["xdc", "pcf", "lpf", "sdc"].contains(&t.constraints.as_str()) {
        return bad("constraints", "must be xdc, pcf, lpf or sdc");
    }
    if t.pnr.as_ref().is_some_and(|p| p.programs.is_empty()) {
        return bad("pnr", "programs is empty");
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

    /// Each rule of the format names the file and the field it broke.
    #[test]
    fn broken_target_files_name_the_field() {
        let good: serde_json::Value = serde_json::from_str(BUILTIN[0].1).unwrap();
        let cases: [(&str, serde_json::Value, &str); 7] = [
            ("family", "xc9".into(), "field 'family'"),
            ("luts", 0.into(), "field 'luts'"),
            ("lut_inputs", 12.into(), "field 'lut_inputs'"),
            (
                "yosys_script",
                "synth_xilinx".into(),
                "field 'yosys_script'",
            ),
            ("dsp_flags", serde_json::Value::Null, "field 'dsp_flags'"),
            (
                "default_clock_mhz",
                (-5.0).into(),
                "field 'default_clock_mhz'",
            ),
            ("constraints", "ucf".into(), "field 'constraints'"),
        ];
        for (field, value, want) in cases {
            let mut t = good.clone();
            t[field] = value;
            let e = parse("t.json", &t.to_string()).unwrap_err();
            assert!(
                e.starts_with("t.json: ") && e.contains(want),
                "{field}: {e}"
            );
        }
        let mut t = good.clone();
        t.as_object_mut().unwrap().insert("lutz".into(), 1.into());
        assert!(parse("t.json", &t.to_string())
            .unwrap_err()
            .contains("lutz"));
    }

    #[test]
    fn dsp_flags_fill_the_script() {
        let t = load("ice40up5k").unwrap();
        assert_eq!(t.script("m", true), "synth_ice40 -dsp -top m");
        assert_eq!(t.script("m", false), "synth_ice40 -top m");
        let x = load("xcvu9p").unwrap();
        assert!(x
            .script("m", false)
            .contains("-family xcup -flatten -nodsp -top m"));
    }
}
