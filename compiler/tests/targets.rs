//! Every target synthesises, reports against its device, refuses what does not fit in one
//! line, measures fmax with nextpnr where an open placer exists, and gives ASIC area.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// Runs `spikeforge synth MODEL -o OUT ARGS`; returns the exit code, stderr and report.json.
fn synth(model: &Path, out: &Path, args: &[&str]) -> (i32, String, Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_spikeforge"))
        .arg("synth")
        .arg(model)
        .arg("-o")
        .arg(out)
        .args(args)
        .output()
        .expect("runs");
    let report = std::fs::read_to_string(out.join("report.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).to_string(),
        report,
    )
}

/// The built-in targets, from `spikeforge targets`.
fn targets() -> Vec<String> {
    let o = Command::new(env!("CARGO_BIN_EXE_spikeforge"))
        .arg("targets")
        .output()
        .unwrap();
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

#[test]
fn every_target_synthesises_the_small_examples() {
    let names = targets();
    for want in [
        "xc7a35t",
        "xc7a100t",
        "xc7z020",
        "xcvu9p",
        "ice40up5k",
        "lfe5u85f",
        "asic",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not listed");
    }
    let dir = tempfile::tempdir().unwrap();
    for model in ["multispike.sfir", "tiny_rsnn.sfir"] {
        for t in &names {
            let out = dir.path().join(format!("{model}-{t}"));
            let (code, err, r) = synth(&example(model), &out, &["--target", t]);
            assert_eq!(code, 0, "{model} on {t}: {err}");
            let s = &r["synth"];
            assert_eq!(s["target"], t.as_str());
            assert!(s["yosys_version"].as_str().unwrap().starts_with("Yosys"));
            if t == "asic" {
                let gates = s["asic"]["cells"].as_u64().unwrap();
                let tr = s["asic"]["transistors"].as_u64().unwrap();
                assert!(gates > 20 && tr >= 2 * gates, "{model}: {s}");
                assert_eq!(
                    s["asic"]["nand2_equivalents"].as_f64().unwrap(),
                    tr as f64 / 4.0
                );
                // Generic gates only: NAND, NOR, NOT and plain flip-flops.
                for cell in s["cells"].as_object().unwrap().keys() {
                    assert!(
                        ["$_NAND_", "$_NOR_", "$_NOT_", "$_DFF_P_"].contains(&cell.as_str()),
                        "{cell}"
                    );
                }
            } else {
                let lut = s["lut"].as_u64().unwrap();
                assert!(
                    lut > 10 && s["ff"].as_u64().unwrap() > 0,
                    "{model} on {t}: {s}"
                );
                assert!(s["fits"].as_bool().unwrap());
                let depth = s["logic_depth"].as_u64().unwrap();
                assert!((1..lut).contains(&depth), "{model} on {t}: depth {depth}");
                let used = s["utilisation"]["lut"].as_f64().unwrap();
                assert!(used > 0.0 && used < 100.0);
                // Timing is stated, measured or not.
                assert!(s["timing"]["cycles_per_step"].as_u64().unwrap() >= 1);
            }
        }
    }
}

/// The families' flows: Xilinx with its family, DSP inference on or off.
#[test]
fn flows_follow_the_family_and_dsp_switch() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("tiny_rsnn.sfir");
    let (code, err, r) = synth(
        &m,
        &dir.path().join("a"),
        &["--target", "xcvu9p", "--no-dsp"],
    );
    assert_eq!(code, 0, "{err}");
    let script = r["synth"]["script"].as_str().unwrap();
    assert!(
        script.contains("synth_xilinx -family xcup") && script.contains("-nodsp"),
        "{script}"
    );
    assert_eq!(r["synth"]["dsp_inference"], false);
    assert_eq!(r["synth"]["dsp"], 0);
    let (code, err, r) = synth(&m, &dir.path().join("b"), &["--target", "ice40up5k"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(r["synth"]["script"], "synth_ice40 -dsp -top sf_tiny");
    assert!(r["synth"]["timing"]["note"]
        .as_str()
        .unwrap()
        .contains("--pnr"));
    let (code, _, r) = synth(&m, &dir.path().join("c"), &["--target", "xc7a35t"]);
    assert_eq!(code, 0);
    assert!(r["synth"]["timing"]["note"]
        .as_str()
        .unwrap()
        .contains("fmax not measured"));
    // Asking a Xilinx part for place and route says why there is none.
    let (code, err, _) = synth(&m, &dir.path().join("d"), &["--target", "xc7a35t", "--pnr"]);
    assert_eq!(code, 1);
    assert!(err.contains("no open place and route"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// A design too big for its device: one line naming the resource and both numbers, the report
/// still written. The device is a user's target file, which also tests loading one.
#[test]
fn a_design_too_big_for_the_device_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let builtin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets/xc7a35t.json");
    let mut t: Value = serde_json::from_str(&std::fs::read_to_string(builtin).unwrap()).unwrap();
    t["name"] = "tiny7".into();
    t["luts"] = 100.into();
    let path = dir.path().join("tiny7.json");
    std::fs::write(&path, t.to_string()).unwrap();
    let (code, err, r) = synth(
        &example("multispike.sfir"),
        &dir.path().join("o"),
        &["--target", path.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let lut = r["synth"]["lut"].as_u64().unwrap();
    assert!(
        err.contains(&format!(
            "does not fit tiny7: it needs {lut} LUTs, the device has 100"
        )),
        "{err}"
    );
    assert_eq!(r["synth"]["fits"], false);
    // A broken target file names itself and the field.
    t["lut_inputs"] = 1.into();
    std::fs::write(&path, t.to_string()).unwrap();
    let (code, err, _) = synth(
        &example("multispike.sfir"),
        &dir.path().join("p"),
        &["--target", path.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("tiny7.json") && err.contains("lut_inputs"),
        "{err}"
    );
}

/// Mapped to a standard-cell library: the area is the sum of each cell's library area.
#[test]
fn liberty_mapping_reports_the_library_area() {
    let dir = tempfile::tempdir().unwrap();
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_cells.lib");
    let (code, err, r) = synth(
        &example("multispike.sfir"),
        &dir.path().join("o"),
        &["--target", "asic", "--liberty", lib.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    // Areas read from the library text here, not from Yosys.
    let text = std::fs::read_to_string(&lib).unwrap();
    let mut areas = std::collections::BTreeMap::new();
    for part in text.split("cell (").skip(1) {
        let name = part.split(')').next().unwrap().to_string();
        let area: f64 = part
            .split("area :")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        areas.insert(name, area);
    }
    let cells = r["synth"]["cells"].as_object().unwrap();
    assert!(
        cells.contains_key("DFF") && cells.contains_key("NAND2"),
        "{cells:?}"
    );
    let expected: f64 = cells
        .iter()
        .map(|(c, n)| areas[c] * n.as_f64().unwrap())
        .sum();
    let got = r["synth"]["asic"]["liberty_area"].as_f64().unwrap();
    assert!(
        (got - expected).abs() < 1e-6 * expected,
        "{got} vs {expected}"
    );
    // --liberty is for the asic target only.
    let (code, err, _) = synth(
        &example("multispike.sfir"),
        &dir.path().join("p"),
        &["--target", "xc7a35t", "--liberty", lib.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(err.contains("--target asic"), "{err}");
}

/// nextpnr places and routes the iCE40 and ECP5 designs; fmax turns cycles into latency.
#[test]
fn place_and_route_measures_fmax_on_ice40_and_ecp5() {
    let dir = tempfile::tempdir().unwrap();
    for t in ["ice40up5k", "lfe5u85f"] {
        let (code, err, r) = synth(
            &example("multispike.sfir"),
            &dir.path().join(t),
            &["--target", t, "--pnr"],
        );
        assert_eq!(code, 0, "{t}: {err}");
        let p = &r["synth"]["pnr"];
        let fmax = p["fmax_mhz"].as_f64().unwrap();
        assert!(fmax > 5.0 && fmax < 1000.0, "{t}: {p}");
        assert!(p["version"].as_str().unwrap().contains("nextpnr"), "{p}");
        let timing = &r["synth"]["timing"];
        let cycles = timing["cycles_per_step"].as_f64().unwrap();
        let latency = timing["latency_ns"].as_f64().unwrap();
        assert!((latency - cycles * 1e3 / fmax).abs() < 1e-6 * latency);
        assert_eq!(
            p["meets_target"].as_bool().unwrap(),
            fmax >= p["target_mhz"].as_f64().unwrap()
        );
    }
}
