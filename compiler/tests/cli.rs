//! The command line on bad input: one clear line on stderr, exit code 1, never a panic.
//! And on good input: the subcommands a user runs first.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn spikeforge(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spikeforge"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// `verilator --lint-only -Wall` passes on one generated file.
fn lints_clean(rtl: &Path) {
    let lint = Command::new("verilator")
        .args(["--lint-only", "-Wall"])
        .arg(rtl)
        .output()
        .expect("verilator runs");
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/rsnn_16_32_10.nir")
}

/// Compiles `bytes` as `name`; asserts a one-line error naming the file and containing `want`.
fn rejects(name: &str, bytes: &[u8], want: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), bytes).unwrap();
    let (code, stdout, stderr) = spikeforge(&["compile", name, "-o", "out"], dir.path());
    assert_eq!(code, 1, "{name}: exit {code}, stderr {stderr}");
    assert!(stdout.is_empty(), "{name}: stdout {stdout}");
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{name}: not one line: {stderr}");
    assert!(
        lines[0].starts_with(&format!("error: {name}")),
        "{name}: {stderr}"
    );
    assert!(
        lines[0].contains(want),
        "{name}: expected '{want}' in: {stderr}"
    );
    assert!(
        !dir.path().join("out").exists(),
        "{name}: output written despite the error"
    );
}

fn lif3() -> N {
    N::Leaf(
        "LIF",
        vec![
            ("tau", vec![1e-3; 3], vec![3]),
            ("r", vec![10.0; 3], vec![3]),
            ("v_leak", vec![0.0; 3], vec![3]),
            ("v_threshold", vec![1.0; 3], vec![3]),
        ],
    )
}

fn net(fc: N, edges: &[(&str, &str)]) -> Vec<u8> {
    nir_bytes(&graph(
        vec![
            ("input", input(2)),
            ("fc", fc),
            ("lif", lif3()),
            ("output", output(3)),
        ],
        edges,
    ))
}

const CHAIN: &[(&str, &str)] = &[("input", "fc"), ("fc", "lif"), ("lif", "output")];

#[test]
fn truncated_file() {
    let bytes = std::fs::read(example()).unwrap();
    rejects("cut.nir", &bytes[..bytes.len() / 2], "cut.nir");
}

#[test]
fn non_hdf5_file() {
    rejects(
        "notes.nir",
        b"this is not an HDF5 file\n",
        "not an HDF5 file",
    );
}

#[test]
fn unknown_node_type() {
    let conv = N::Leaf("MaxPool2d", vec![("kernel_size", vec![2.0, 2.0], vec![2])]);
    rejects(
        "conv.nir",
        &net(conv, CHAIN),
        "node type 'MaxPool2d' is not supported",
    );
}

#[test]
fn edge_to_missing_node() {
    let edges = &[
        ("input", "fc"),
        ("fc", "lif"),
        ("lif", "ghost"),
        ("lif", "output"),
    ];
    rejects(
        "ghost.nir",
        &net(linear(3, 2, 0.5), edges),
        "no node named 'ghost'",
    );
}

#[test]
fn shape_mismatch() {
    rejects(
        "shape.nir",
        &net(linear(3, 5, 0.5), CHAIN),
        "shape mismatch",
    );
}

#[test]
fn nan_weight() {
    let mut w = vec![0.5; 6];
    w[3] = f64::NAN;
    let fc = N::Leaf("Linear", vec![("weight", w, vec![3, 2])]);
    rejects("nan.nir", &net(fc, CHAIN), "NaN");
}

#[test]
fn sfir_syntax_error_has_a_location() {
    rejects(
        "bad.sfir",
        b"graph g {\n  %x: spike[2] = inptu\n}\n",
        "bad.sfir:2:",
    );
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = spikeforge(&["compile", "nope.nir"], dir.path());
    assert_eq!(code, 1);
    assert!(stderr.starts_with("error: nope.nir"), "{stderr}");
}

#[test]
fn compile_writes_rtl_ir_dumps_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let ex = example();
    let (code, stdout, stderr) = spikeforge(
        &[
            "compile",
            ex.to_str().unwrap(),
            "-o",
            "o",
            "--dump-ir",
            "--weight-bits",
            "6",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("compiled"), "{stdout}");
    let o = dir.path().join("o");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(o.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["options"]["weight_bits"], 6);
    assert_eq!(report["input_bits"], 16);
    assert_eq!(report["output_bits"], 10);
    for f in report["rtl"].as_array().unwrap() {
        assert!(o.join(f.as_str().unwrap()).exists(), "{f}");
    }
    // The dumps parse back, and the integer dump is a compilable model by itself.
    for stage in ["01-frontend", "02-quant"] {
        let text = std::fs::read_to_string(o.join(format!("ir/{stage}.sfir"))).unwrap();
        let g = spikeforge::ir::text::parse(&text).unwrap();
        spikeforge::ir::verify::verify(&g).unwrap();
    }
    let quant_ir = o.join("ir/02-quant.sfir");
    let (code, _, stderr) = spikeforge(
        &["compile", quant_ir.to_str().unwrap(), "-o", "o2"],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let a = std::fs::read_dir(o.join("rtl")).unwrap().count();
    let b = std::fs::read_dir(dir.path().join("o2/rtl"))
        .unwrap()
        .count();
    assert_eq!(a, b);
}

#[test]
fn sim_reports_float_integer_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let ex = example();
    let (code, stdout, stderr) = spikeforge(
        &["sim", ex.to_str().unwrap(), "-o", "o", "-T", "64", "--json"],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let agree = report["sim"]["agreement"].as_array().unwrap();
    assert!(!agree.is_empty());
    for a in agree {
        let f = a["agreement"].as_f64().unwrap();
        // 8-bit weights keep the quantised network close to the float one.
        assert!(f > 0.9, "{a}");
    }
}

#[test]
fn cosim_report_has_the_quantisation_section() {
    let dir = tempfile::tempdir().unwrap();
    let ex = example();
    let args = [
        "cosim",
        ex.to_str().unwrap(),
        "-o",
        "o",
        "-T",
        "48",
        "--samples",
        "3",
    ];
    let (code, stdout, stderr) = spikeforge(&[&args[..], &["--json"]].concat(), dir.path());
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let q = &report["quantisation"];
    assert_eq!(q["weight_bits"], 8);
    // Every weight and neuron layer with its scale and width.
    let layers = q["layers"].as_array().unwrap();
    assert!(layers
        .iter()
        .any(|l| l["kind"] == "lif" && l["bits"].as_u64() > Some(1)));
    assert!(layers.iter().all(|l| l["scale_min"].as_f64().unwrap() > 0.0
        && l["scale_max"].as_f64() >= l["scale_min"].as_f64()));
    // Agreement per spiking layer, counts per output: both in [0, 1], and the example's
    // 8-bit model stays close to the float one.
    let agree = q["agreement"].as_array().unwrap();
    assert!(agree.len() >= 2);
    for a in agree {
        assert!(a["agreement"].as_f64().unwrap() > 0.9, "{a}");
    }
    let out = &q["outputs"].as_array().unwrap()[0];
    let c = out["count_agreement"].as_f64().unwrap();
    let m = out["argmax_agreement"].as_f64().unwrap();
    assert!(
        (0.0..=1.0).contains(&c) && (0.0..=1.0).contains(&m),
        "{out}"
    );
    assert!(out["mean_abs_count_error"].as_f64().unwrap() < 3.0, "{out}");
}

#[test]
fn help_has_an_example_for_every_subcommand() {
    for sub in ["compile", "sim", "cosim", "synth"] {
        let (code, stdout, _) = spikeforge(&[sub, "--help"], Path::new("."));
        assert_eq!(code, 0);
        assert!(stdout.contains("Example: spikeforge"), "{sub}: {stdout}");
    }
    let (code, stdout, _) = spikeforge(&["targets"], Path::new("."));
    assert_eq!(code, 0);
    assert!(stdout.contains("xc7a35t") && stdout.contains("ice40up5k"));
    // --json: every target's file, the same rows the table shows.
    let (code, stdout, err) = spikeforge(&["targets", "--json"], Path::new("."));
    assert_eq!(code, 0, "{err}");
    let all: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"xc7a35t") && names.contains(&"asic"),
        "{names:?}"
    );
    let xc7 = all
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "xc7a35t")
        .unwrap();
    assert_eq!(xc7["luts"], 20800);
}

#[test]
fn cosim_with_a_stimulus_file_reports_zero_mismatches() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tiny_rsnn.sfir");
    // Two samples (a blank line ends the first): 4 and 3 steps.
    std::fs::write(
        dir.path().join("stim.txt"),
        "# spikes\n101\n111\n000\n110\n\n011\n111\n100\n",
    )
    .unwrap();
    let (code, stdout, stderr) = spikeforge(
        &[
            "cosim",
            tiny.to_str().unwrap(),
            "-o",
            "o",
            "--stimulus",
            "stim.txt",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["cosim"]["steps"], 7);
    assert_eq!(report["cosim"]["mismatches"], 0);
    assert!(report["cosim"]["values_compared"].as_u64().unwrap() > 7 * 3);
    // A malformed stimulus names the file and line.
    std::fs::write(dir.path().join("bad.txt"), "101\n1x1\n").unwrap();
    let (code, _, stderr) = spikeforge(
        &[
            "cosim",
            tiny.to_str().unwrap(),
            "-o",
            "o2",
            "--stimulus",
            "bad.txt",
        ],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("bad.txt: line 2"), "{stderr}");
    // A quantised network's integer inputs: space-separated, each within its type (fix<8,0>).
    let mlp = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/int_mlp_16_64_32_32_5.sfir");
    let row = |k: i64| {
        (0..16)
            .map(|j| ((j * 37 + k * 11) % 256 - 128).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    std::fs::write(
        dir.path().join("ints.txt"),
        format!(
            "{}\n{}\n-128 127 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
            row(1),
            row(2)
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = spikeforge(
        &[
            "cosim",
            mlp.to_str().unwrap(),
            "-o",
            "m",
            "--stimulus",
            "ints.txt",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["cosim"]["steps"], 3);
    assert_eq!(report["cosim"]["mismatches"], 0);
    std::fs::write(
        dir.path().join("wide.txt"),
        format!("{}\n", row(1).replacen("-", "-2", 1)),
    )
    .unwrap();
    let (code, _, stderr) = spikeforge(
        &[
            "cosim",
            mlp.to_str().unwrap(),
            "-o",
            "m2",
            "--stimulus",
            "wide.txt",
        ],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("wide.txt: line 1: input")
            && stderr.contains("outside its range -128..=127"),
        "{stderr}"
    );
}

#[test]
fn sim_trace_holds_every_layer_per_step() {
    let dir = tempfile::tempdir().unwrap();
    let ex = example();
    let (code, _, stderr) = spikeforge(
        &[
            "sim",
            ex.to_str().unwrap(),
            "-o",
            "o",
            "-T",
            "20",
            "--trace",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(dir.path().join("o/sim/golden_trace.json")).unwrap();
    let t: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (layer, width) in [
        ("input", 16),
        ("fc1", 32),
        ("rec1", 32),
        ("lif1", 32),
        ("lif2", 10),
    ] {
        let steps = t[layer]
            .as_array()
            .unwrap_or_else(|| panic!("{layer} missing"));
        assert_eq!(steps.len(), 20, "{layer}");
        assert!(
            steps.iter().all(|s| s.as_array().unwrap().len() == width),
            "{layer}"
        );
    }
    // Spiking layers hold only 0 and 1.
    assert!(t["lif1"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s.as_array().unwrap())
        .all(|v| v == 0 || v == 1));
}

#[test]
fn report_keeps_sections_of_the_same_model_and_drops_stale_ones() {
    let dir = tempfile::tempdir().unwrap();
    let ex = example();
    let ex = ex.to_str().unwrap();
    assert_eq!(
        spikeforge(&["sim", ex, "-o", "o", "-T", "8"], dir.path()).0,
        0
    );
    assert_eq!(spikeforge(&["compile", ex, "-o", "o"], dir.path()).0, 0);
    let read = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("o/report.json")).unwrap())
            .unwrap()
    };
    assert_eq!(read()["sim"]["steps"], 8);
    // Other options: the old simulation no longer describes this design.
    assert_eq!(
        spikeforge(
            &["compile", ex, "-o", "o", "--weight-bits", "4"],
            dir.path()
        )
        .0,
        0
    );
    assert!(read()["sim"].is_null());
}

#[test]
fn lint_names_the_pitfalls_of_a_legacy_snntorch_file() {
    let dir = tempfile::tempdir().unwrap();
    let braille = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/models/braille_noDelay_noBias_subtract.nir");
    let (code, stdout, stderr) =
        spikeforge(&["lint", braille.to_str().unwrap(), "--json"], dir.path());
    assert_eq!(code, 0, "{stderr}");
    let f: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let has = |sev: &str, node: &str, text: &str| {
        f.as_array().unwrap().iter().any(|x| {
            x["severity"] == sev
                && x["node"] == node
                && x["message"].as_str().unwrap().contains(text)
        })
    };
    // Written before NIR 1.0.6: no v_reset on either CubaLIF layer.
    assert!(has("warning", "lif1.lif", "no v_reset"), "{stdout}");
    assert!(has("warning", "lif2", "no v_reset"), "{stdout}");
    // tau_mem / r = 1e-4 s exactly: snnTorch's convention at the default dt.
    assert!(has("note", "lif1.lif", "dt = 1e-4"), "{stdout}");
    // At --dt 1e-3 the same file contradicts the convention.
    let (_, stdout, _) = spikeforge(
        &["lint", braille.to_str().unwrap(), "--dt", "1e-3"],
        dir.path(),
    );
    assert!(stdout.contains("pass --dt 1e-4"), "{stdout}");
}

/// Conventions of the integer IR's neuron layers (reset, compare) and the report's options.
fn conventions_of(dir: &Path, args: &[&str]) -> (Vec<(String, String)>, serde_json::Value) {
    let (code, stdout, stderr) = spikeforge(args, dir);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let text = std::fs::read_to_string(dir.join("o/ir/02-quant.sfir")).unwrap();
    let g = spikeforge::ir::text::parse(&text).unwrap();
    let conv = g
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            spikeforge::ir::Op::IntNeuron(nr) => {
                Some((format!("{:?}", nr.reset), format!("{:?}", nr.compare)))
            }
            _ => None,
        })
        .collect();
    (conv, report["options"].clone())
}

#[test]
fn framework_from_metadata_or_option_sets_conventions_and_dt() {
    let dir = tempfile::tempdir().unwrap();
    let g = common::graph(
        vec![
            ("input", common::input(2)),
            ("fc", common::linear(2, 2, 0.5)),
            ("lif", common::lif(2)),
            ("output", common::output(2)),
        ],
        &[("input", "fc"), ("fc", "lif"), ("lif", "output")],
    );
    let tagged = dir.path().join("tagged.nir");
    let bytes = common::nir_bytes_with_metadata(&g, &[("source", "snnTorch 0.9.1")]);
    std::fs::write(&tagged, bytes).unwrap();
    let plain = dir.path().join("plain.nir");
    std::fs::write(&plain, common::nir_bytes(&g)).unwrap();
    let run = |model: &Path, extra: &[&str]| {
        let m = model.to_str().unwrap();
        let args = [&["compile", m, "-o", "o", "--dump-ir", "--json"][..], extra].concat();
        conventions_of(dir.path(), &args)
    };
    // The metadata names snnTorch: its delayed subtractive reset, `>`, dt = 1e-4.
    let (conv, opts) = run(&tagged, &[]);
    assert_eq!(conv, vec![("SubtractNext".into(), "Gt".into())]);
    assert_eq!(opts["framework"], "snntorch");
    assert_eq!(opts["framework_from"], "file metadata");
    assert_eq!(opts["dt"], 1e-4);
    // No metadata: NIR's semantics.
    let (conv, opts) = run(&plain, &[]);
    assert_eq!(conv, vec![("Zero".into(), "Gt".into())]);
    assert!(opts["framework"].is_null());
    // An option beats the metadata; explicit flags beat the framework.
    let (conv, opts) = run(&tagged, &["--framework", "norse"]);
    assert_eq!(conv, vec![("Zero".into(), "Gt".into())]);
    assert_eq!(opts["dt"], 1e-3);
    let (conv, _) = run(&tagged, &["--framework", "sinabs"]);
    assert_eq!(conv, vec![("Subtract".into(), "Ge".into())]);
    let (conv, opts) = run(&tagged, &["--threshold", "ge", "--dt", "2e-4"]);
    assert_eq!(conv, vec![("SubtractNext".into(), "Ge".into())]);
    assert_eq!(opts["dt"], 2e-4);
    // Lint says which conventions apply and why.
    let (code, stdout, _) = spikeforge(&["lint", tagged.to_str().unwrap()], dir.path());
    assert_eq!(code, 0);
    assert!(
        stdout.contains("snntorch's conventions apply (from file metadata)"),
        "{stdout}"
    );
}

#[test]
fn reset_and_threshold_options_reach_the_integer_ir() {
    let dir = tempfile::tempdir().unwrap();
    let ex = example();
    let (code, _, stderr) = spikeforge(
        &[
            "compile",
            ex.to_str().unwrap(),
            "-o",
            "o",
            "--dump-ir",
            "--reset",
            "subtract",
            "--threshold",
            "ge",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(dir.path().join("o/ir/02-quant.sfir")).unwrap();
    let g = spikeforge::ir::text::parse(&text).unwrap();
    let mut seen = 0;
    for n in &g.nodes {
        if let spikeforge::ir::Op::IntNeuron(nr) = &n.op {
            assert_eq!(nr.reset, spikeforge::ir::Reset::Subtract);
            assert_eq!(nr.compare, spikeforge::ir::Compare::Ge);
            seen += 1;
        }
    }
    assert_eq!(seen, 2);
    // A quantised model already fixes its semantics.
    let q = dir.path().join("o/ir/02-quant.sfir");
    let (code, _, stderr) = spikeforge(
        &[
            "compile",
            q.to_str().unwrap(),
            "-o",
            "o3",
            "--reset",
            "zero",
        ],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("already quantised"), "{stderr}");
}

/// `cmvm`: a matrix file becomes a lint-clean block whose adder counts the JSON reports, and a
/// malformed matrix is one clear error naming the file and the entry.
#[test]
fn cmvm_writes_a_block_and_rejects_bad_matrices() {
    let dir = tempfile::tempdir().unwrap();
    let m = serde_json::json!({"weights": [[3, -5, 0, 7], [3, -5, 1, 0], [0, 0, 0, 0]]});
    std::fs::write(dir.path().join("m.json"), m.to_string()).unwrap();
    let (code, stdout, stderr) = spikeforge(
        &[
            "cmvm",
            "m.json",
            "--input-bits",
            "8",
            "-o",
            "cmvm.v",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // Rows 0 and 1 share 3 x0 - 5 x1, so fewer adders than the digits alone need.
    let (adders, naive) = (
        v["adders"].as_u64().unwrap(),
        v["solver"]["naive_adders"].as_u64().unwrap(),
    );
    assert!(adders > 0 && adders < naive, "{adders} vs {naive}");
    lints_clean(&dir.path().join("cmvm.v"));
    // One multi-bit input (a multiple-constant graph); this set takes an exact right shift,
    // (a + b) >> r, written as a slice: lint-clean and accepted by Yosys too.
    std::fs::write(
        dir.path().join("mcm.json"),
        r#"{"weights": [[11], [33], [35], [53], [103]]}"#,
    )
    .unwrap();
    let (code, stdout, stderr) = spikeforge(
        &[
            "cmvm",
            "mcm.json",
            "--input-bits",
            "8",
            "-o",
            "mcm.v",
            "--module",
            "mcm",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["solver"]["form"], "multiple constants");
    let mcm = dir.path().join("mcm.v");
    lints_clean(&mcm);
    spikeforge::synth::check("mcm", &[mcm]).unwrap();
    for (text, want) in [
        (r#"{"weights": [[1, 2], [3]]}"#, "row 1 has 1 entries"),
        (
            r#"{"weights": [[1, 2.5]]}"#,
            "weights[0][1] = 2.5 is not an integer",
        ),
        (r#"{"w": []}"#, "expected {\"weights\""),
        (r#"{"weights": [[1099511627777]]}"#, "exceeds 2^40"),
    ] {
        std::fs::write(dir.path().join("bad.json"), text).unwrap();
        let (code, _, stderr) = spikeforge(&["cmvm", "bad.json", "-o", "b.v"], dir.path());
        assert_eq!(code, 1, "{text}: {stderr}");
        assert!(
            stderr.starts_with("error: bad.json") && stderr.contains(want),
            "{text}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Architecture options: mistakes name the option, the layer and what is allowed.
#[test]
fn architecture_options_reject_mistakes_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let ex = example();
    let ex = ex.to_str().unwrap();
    let out = dir.path().join("o");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 8] = [
        (
            &["--layer-arch", "lif1=ramp"],
            "is a ramp-unit variant, for multi_threshold nodes",
        ),
        (&["--layer-arch", "lif1"], "expected NAME=ARCH"),
        (&["--layer-arch", "lif1=fast"], "not a layer architecture"),
        (
            &["--layer-arch", "lif1=parallel:0"],
            "must be a positive integer",
        ),
        (&["--max-luts", "10"], "no design fits 10 LUTs"),
        (
            &["--max-luts", "2000", "--max-cycles", "2"],
            "no design meets both 2 cycles per timestep and 2000 LUTs",
        ),
        (
            &["--layer-arch", "nope=folded"],
            "no neuron layer of this name",
        ),
        (&["--max-cycles", "0"], "no schedule meets 0 cycles"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["compile", ex, "-o", out];
        args.extend_from_slice(extra);
        let (code, _, err) = spikeforge(&args, dir.path());
        assert_eq!(code, 1, "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    let conv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/conv_snn_2x8x8.nir");
    let (code, _, err) = spikeforge(
        &[
            "compile",
            conv.to_str().unwrap(),
            "-o",
            out,
            "--layer-arch",
            "if1=event",
        ],
        dir.path(),
    );
    // Convolutions take event-driven cores too (the scatter form).
    assert_eq!(code, 0, "{err}");
    let report = std::fs::read_to_string(dir.path().join("o/report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert!(
        report["layer_archs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["node"] == "if1" && l["arch"] == "event"),
        "{report}"
    );
    let cfg = dir.path().join("spikeforge.toml");
    std::fs::write(&cfg, "[layer.\"lif9\"]\narch = \"folded\"\n").unwrap();
    let (code, _, err) = spikeforge(
        &["compile", ex, "-o", out, "--config", cfg.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("spikeforge.toml") && err.contains("lif9") && err.contains("lif1"),
        "{err}"
    );
    let (code, _, err) = spikeforge(&["ramp", "sine", "-o", out], dir.path());
    assert_eq!(code, 1);
    assert!(
        err.contains("unknown function 'sine'") && err.contains("sigmoid"),
        "{err}"
    );
}

/// Output folders with spaces and parentheses: Verilator's wrapper and make, and Yosys's
/// `tee`, never see such a path, so cosim and synth work there as anywhere.
#[test]
fn cosim_and_synth_work_in_folders_with_spaces_and_parentheses() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tiny_rsnn.sfir");
    let out = dir.path().join("my models (v2)/tiny out");
    let out = out.to_str().unwrap();
    let (code, stdout, err) = spikeforge(
        &["cosim", tiny.to_str().unwrap(), "-o", out, "-T", "16"],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("0 mismatches"), "{stdout}");
    let (code, stdout, err) = spikeforge(
        &[
            "synth",
            tiny.to_str().unwrap(),
            "-o",
            out,
            "--target",
            "ice40up5k",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("LUT"), "{stdout}");
}

/// `--timeout` stops a tool that runs too long and says which and how to go on.
#[test]
fn timeout_stops_a_long_tool_run_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let ex = example();
    let t0 = std::time::Instant::now();
    let (code, _, err) = spikeforge(
        &["cosim", ex.to_str().unwrap(), "-o", "o", "--timeout", "1"],
        dir.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("did not finish within 1 s") && err.contains("--timeout"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(t0.elapsed() < std::time::Duration::from_secs(60));
}

/// Output safety: a folder holding someone else's files is refused without --force (and kept
/// with it); recompiling replaces the RTL folder whole, so no stale module survives.
#[test]
fn output_folders_are_not_clobbered_and_rtl_is_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let ex = example();
    let ex = ex.to_str().unwrap();
    std::fs::create_dir_all(dir.path().join("proj")).unwrap();
    std::fs::write(dir.path().join("proj/notes.txt"), "mine").unwrap();
    let (code, _, err) = spikeforge(&["compile", ex, "-o", "proj"], dir.path());
    assert_eq!(code, 1);
    assert!(
        err.contains("notes.txt") && err.contains("--force"),
        "{err}"
    );
    assert!(!dir.path().join("proj/rtl").exists());
    let (code, _, err) = spikeforge(&["compile", ex, "-o", "proj", "--force"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("proj/notes.txt")).unwrap(),
        "mine"
    );
    let rtl = |d: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir.path().join(d).join("rtl"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    };
    let (code, _, _) = spikeforge(&["compile", ex, "-o", "m", "--arch", "folded"], dir.path());
    assert_eq!(code, 0);
    assert!(rtl("m").iter().any(|f| f.ends_with("_folded.v")));
    let (code, _, _) = spikeforge(
        &["compile", ex, "-o", "m", "--arch", "parallel"],
        dir.path(),
    );
    assert_eq!(code, 0);
    let now = rtl("m");
    assert!(!now.iter().any(|f| f.ends_with("_folded.v")), "{now:?}");
    assert!(now.iter().all(|f| !f.starts_with('.')), "{now:?}");
}

/// Runs `spikeforge` with `bin` first on PATH (fake tools) and the rest of PATH kept only when
/// `keep_path`.
fn spikeforge_with_path(args: &[&str], cwd: &Path, bin: &Path, keep_path: bool) -> (i32, String) {
    let path = if keep_path {
        format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    } else {
        bin.display().to_string()
    };
    let out = Command::new(env!("CARGO_BIN_EXE_spikeforge"))
        .args(args)
        .current_dir(cwd)
        .env("PATH", path)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn fake_tool(dir: &Path, name: &str, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Verilator or Yosys missing, too old or failing: one actionable line each (what to install,
/// which version is needed, where the whole log is).
#[test]
fn missing_old_and_failing_tools_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let ex = example();
    let ex = ex.to_str().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // Missing: an empty PATH.
    let (code, err) = spikeforge_with_path(&["cosim", ex, "-o", "a"], dir.path(), &bin, false);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("cannot run verilator") && err.contains("apt-get install -y verilator"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Too old: Ubuntu 22.04's Verilator.
    fake_tool(&bin, "verilator", "echo 'Verilator 4.038 2020-07-11'");
    fake_tool(&bin, "yosys", "echo 'Yosys 0.9 (git sha1 1979e0b)'");
    let (code, err) = spikeforge_with_path(&["cosim", ex, "-o", "b"], dir.path(), &bin, true);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("verilator 4.038 is too old") && err.contains("4.210 or newer"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (code, err) = spikeforge_with_path(
        &["synth", ex, "-o", "c", "--target", "xc7a35t"],
        dir.path(),
        &bin,
        true,
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("yosys 0.9 is too old") && err.contains("0.10 or newer"),
        "{err}"
    );
    // Failing: a Yosys that reports a version and then fails; the error names the full log.
    fake_tool(
        &bin,
        "yosys",
        "if [ \"$1\" = -V ]; then echo 'Yosys 0.23'; exit 0; fi\necho 'ERROR: out of cheese' >&2\nexit 1",
    );
    let (code, err) = spikeforge_with_path(
        &["synth", ex, "-o", "d", "--target", "xc7a35t"],
        dir.path(),
        &bin,
        true,
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("out of cheese") && err.contains("full log: "),
        "{err}"
    );
    let log = err
        .split("full log: ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap();
    assert!(std::fs::read_to_string(dir.path().join(log))
        .or_else(|_| std::fs::read_to_string(log))
        .unwrap()
        .contains("out of cheese"));
}

/// `surrogate train` says in one line why it cannot train: too few designs, or a file from
/// two targets.
#[test]
fn surrogate_train_refuses_unusable_data_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("few.jsonl"),
        "{\"id\": 0, \"seed\": 1, \"error\": \"timed out\"}\n",
    )
    .unwrap();
    let (code, _, err) = spikeforge(&["surrogate", "train", "few.jsonl", "-o", "w.json"], d);
    assert_eq!(code, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let need = spikeforge::surrogate::features::TERMS.len();
    assert!(
        err.contains(&format!("0 usable designs; at least {need} are needed")),
        "{err}"
    );
    let (code, _, err) = spikeforge(&["surrogate", "train", "missing.jsonl", "-o", "w.json"], d);
    assert_eq!(code, 1);
    assert!(err.contains("missing.jsonl"), "{err}");
    assert!(!d.join("w.json").exists());
}

fn make(target: &str, dir: &Path) -> (bool, String) {
    let out = Command::new("make")
        .args(["-s", target])
        .current_dir(dir)
        .output()
        .expect("make runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// The output folder stands on its own: its Makefile lints the RTL clean, and its testbench
/// passes on the golden model's beats for a folded design (the tutorial test runs a parallel
/// one), and fails, naming the beat, when one expected beat is wrong.
#[test]
fn project_folder_lints_and_its_testbench_checks_the_rtl() {
    let d = tempfile::tempdir().unwrap();
    let (arch, ex) = ("folded", "int_mlp_16_64_32_32_5.sfir");
    {
        let out = d.path().join(arch);
        let model = example().parent().unwrap().join(ex);
        let (code, _, err) = spikeforge(
            &[
                "compile",
                model.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--arch",
                arch,
            ],
            d.path(),
        );
        assert_eq!(code, 0, "{err}");
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        let top = report["top"].as_str().unwrap();
        let read =
            |f: &str| std::fs::read_to_string(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(read(&format!("{top}.core")).contains(&format!("toplevel: {top}_tb")));
        assert!(read(&format!("constraints/{top}.xdc")).contains("create_clock -period 10.000"));
        assert!(read(&format!("constraints/{top}.pcf")).contains("set_io clk"));
        assert!(read("README.md").contains(&format!("{top} u_snn (")));
        assert!(read("report.html").contains("<svg"));
        let (ok, log) = make("lint", &out);
        assert!(ok, "{arch} lint: {log}");
        let (ok, log) = make("sim", &out);
        assert!(
            ok && log.contains("PASS: 32 output beats"),
            "{arch} sim: {log}"
        );
        // One wrong expected beat: the testbench names it and make fails.
        let want = out.join("tb/expected.hex");
        let text = std::fs::read_to_string(&want).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let flipped = if lines[3].starts_with('0') { "1" } else { "0" };
        lines[3].replace_range(0..1, flipped);
        std::fs::write(&want, lines.join("\n") + "\n").unwrap();
        let (ok, log) = make("sim", &out);
        assert!(
            !ok && log.contains("beat 3:") && log.contains("FAIL: 1 of 32"),
            "{arch}: {log}"
        );
    }
}

/// `init` writes a config that compiles to the same RTL as no config; editing one layer's
/// weight bits and reset changes that layer alone; `init` will not overwrite a file unasked.
#[test]
fn init_config_round_trips_and_per_layer_entries_take_effect() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let m = example();
    let m = m.to_str().unwrap();
    let (code, out, err) = spikeforge(&["init", m, "-o", "sf.toml"], p);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 neuron layers"), "{out}");
    let (code, _, err) = spikeforge(&["init", m, "-o", "sf.toml"], p);
    assert!(code != 0 && err.contains("sf.toml: exists"), "{err}");
    let (code, out, err) = spikeforge(&["init", m, "-o", "j.toml", "--json"], p);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["layers"], serde_json::json!(["lif1", "lif2"]));
    assert_eq!(
        std::fs::read_to_string(p.join("j.toml")).unwrap(),
        std::fs::read_to_string(p.join("sf.toml"))
            .unwrap()
            .replace("sf.toml", "j.toml")
    );
    let compile = |dir: &str, extra: &[&str]| {
        let mut args = vec!["compile", m, "-o", dir, "--dump-ir"];
        args.extend_from_slice(extra);
        let (code, _, err) = spikeforge(&args, p);
        assert_eq!(code, 0, "{err}");
        std::fs::read_to_string(p.join(dir).join("ir/03-pruned.sfir")).unwrap()
    };
    let plain = compile("plain", &[]);
    assert_eq!(compile("cfg", &["--config", "sf.toml"]), plain);
    let text = std::fs::read_to_string(p.join("sf.toml")).unwrap();
    let edited = text.replacen(
        "[layer.\"lif1\"]\n# arch = \"parallel\"\nweight_bits = 8",
        "[layer.\"lif1\"]\nreset = \"subtract\"\nweight_bits = 3",
        1,
    );
    assert_ne!(edited, text, "the lif1 table is where init puts it");
    std::fs::write(p.join("edited.toml"), edited).unwrap();
    let ir = compile("edited", &["--config", "edited.toml"]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("edited/report.json")).unwrap())
            .unwrap();
    let notes: Vec<&str> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["note"].as_str().unwrap())
        .collect();
    assert!(
        notes.contains(&"weights 3 bits, gain of 'lif1' folded in"),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"weights 8 bits, gain of 'lif2' folded in"),
        "{notes:?}"
    );
    let line = |ir: &str, name: &str| {
        ir.lines()
            .find(|l| l.trim_start().starts_with(&format!("%{name}:")))
            .unwrap_or_else(|| panic!("no %{name} in {ir}"))
            .to_string()
    };
    // lif1: subtractive reset and 3-bit weights (|w| <= 3, shifted by the guard bits);
    // lif2 and its weights as before.
    assert!(
        line(&ir, "lif1").contains("reset = subtract"),
        "{}",
        line(&ir, "lif1")
    );
    assert!(line(&plain, "lif1").contains("reset = zero"));
    let max_weight = |l: String| -> i64 {
        let after = l.split_once("weight = <").unwrap().1;
        let list = after.split_once(">[").unwrap().1.split_once(']').unwrap().0;
        list.split(',')
            .map(|w| w.trim().parse::<i64>().unwrap().abs())
            .max()
            .unwrap()
    };
    // fc1 and rec1 share lif1's per-neuron scales; the larger of the two reaches full scale.
    let most = |ir: &str| max_weight(line(ir, "fc1")).max(max_weight(line(ir, "rec1")));
    assert_eq!(most(&ir), 3 << 3);
    assert_eq!(most(&plain), 127 << 3);
    assert_eq!(line(&ir, "lif2"), line(&plain, "lif2"));
    assert_eq!(line(&ir, "fc2"), line(&plain, "fc2"));
}

/// `cosim --vcd` writes the RTL's waveforms under the design's own signal names, and
/// `--trace-layer` puts one layer's golden and RTL values side by side for every step and
/// neuron; a wrong layer name or using them with `sim` is one line saying what to do.
#[test]
fn cosim_writes_waveforms_and_one_layer_side_by_side() {
    let d = tempfile::tempdir().unwrap();
    let m = example().parent().unwrap().join("tiny_rsnn.sfir");
    let m = m.to_str().unwrap();
    let (code, out, err) = spikeforge(
        &[
            "cosim",
            m,
            "-o",
            "w",
            "-T",
            "20",
            "--vcd",
            "--trace-layer",
            "lif1",
        ],
        d.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("0 mismatches") && out.contains("step 1: golden"),
        "{out}"
    );
    let vcd = std::fs::read_to_string(d.path().join("w/cosim/waves.vcd")).unwrap();
    assert!(vcd.contains("$enddefinitions") && vcd.contains(" clk $end"));
    assert!(
        vcd.contains("$scope module u0 $end"),
        "the design's own hierarchy"
    );
    // Two value changes of the clock per cycle, at least one cycle per step.
    assert!(vcd.matches("\n#").count() >= 2 * 20);
    let csv = std::fs::read_to_string(d.path().join("w/cosim/layer_lif1.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 20 * 3, "20 steps x 3 neurons");
    for r in &rows {
        let f: Vec<&str> = r.split(',').collect();
        assert_eq!(f[2], f[3], "golden and RTL agree: {r}");
    }
    assert!(
        rows.iter().any(|r| r.ends_with(",1,1")),
        "some spike is shown"
    );
    let (code, _, err) = spikeforge(
        &["cosim", m, "-o", "w", "-T", "5", "--trace-layer", "nope"],
        d.path(),
    );
    assert!(
        code != 0 && err.lines().count() == 1 && err.contains("lif1"),
        "{err}"
    );
    let (code, _, err) = spikeforge(&["sim", m, "-o", "w", "--vcd"], d.path());
    assert!(code != 0 && err.contains("use them with cosim"), "{err}");
}

/// Shell completions know every subcommand; `--quiet` prints nothing but still writes the
/// folder and reports failure through the exit code and one line on stderr.
#[test]
fn completions_and_quiet() {
    let d = tempfile::tempdir().unwrap();
    let (code, script, _) = spikeforge(&["completions", "bash"], d.path());
    assert_eq!(code, 0);
    for sub in ["compile", "cosim", "estimate", "init", "synth", "dataset"] {
        assert!(
            script.contains(sub),
            "{sub} missing from the bash completions"
        );
    }
    let m = example();
    let (code, out, err) = spikeforge(&["-q", "compile", m.to_str().unwrap(), "-o", "q"], d.path());
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    assert!(d.path().join("q/report.html").exists());
    // Commands that write a file say nothing either, and still write it.
    std::fs::write(d.path().join("m.json"), r#"{"weights": [[3, -5], [7, 0]]}"#).unwrap();
    for (args, file) in [
        (
            vec!["init", m.to_str().unwrap(), "-o", "q.toml", "-q"],
            "q.toml",
        ),
        (vec!["cmvm", "m.json", "-o", "m.v", "-q"], "m.v"),
    ] {
        let (code, out, err) = spikeforge(&args, d.path());
        assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""), "{args:?}");
        assert!(d.path().join(file).exists(), "{file}");
    }
    let (code, out, err) = spikeforge(&["compile", "missing.nir", "--quiet"], d.path());
    assert!(
        code != 0 && out.is_empty() && err.lines().count() == 1,
        "{err}"
    );
}

/// The tutorial runs as written: every `spikeforge` and `make` command of its shell blocks,
/// on the bundled example instead of the reader's own model (synthesis and installation
/// aside: other tests synthesise, and CI installs the tools).
#[test]
fn tutorial_commands_run_as_written() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/tutorial.md"))
            .unwrap();
    let d = tempfile::tempdir().unwrap();
    let model = example();
    let mut ran = 0;
    for block in doc.split("```sh\n").skip(1) {
        let block = block.split("```").next().unwrap();
        for line in block.lines() {
            let cmd = line.split('#').next().unwrap().trim();
            let skip = [
                "make setup",
                "export ",
                "spikeforge completions",
                "spikeforge synth",
            ];
            if cmd.is_empty() || skip.iter().any(|s| cmd.starts_with(s)) {
                continue;
            }
            let cmd = cmd.replace("my_snn.nir", model.to_str().unwrap());
            if let Some(rest) = cmd.strip_prefix("spikeforge ") {
                let args: Vec<&str> = rest.split_whitespace().collect();
                let (code, out, err) = spikeforge(&args, d.path());
                assert_eq!(code, 0, "{cmd}: {err}");
                if args[0] == "cosim" {
                    assert!(out.contains("0 mismatches"), "{out}");
                }
            } else if let Some(rest) = cmd.strip_prefix("cd out/my_snn && make ") {
                for target in rest.split_whitespace() {
                    let (ok, log) = make(target, &d.path().join("out/my_snn"));
                    assert!(ok, "make {target}: {log}");
                }
            } else {
                panic!("the tutorial runs a command this test does not know: {cmd}");
            }
            ran += 1;
        }
    }
    assert!(ran >= 7, "only {ran} commands found");
    let out = d.path().join("out/my_snn");
    for f in [
        "report.html",
        "cosim/waves.vcd",
        "cosim/layer_lif1.csv",
        "ir/03-pruned.sfir",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
}

/// `docs/cli.md` is the `--help` of every subcommand, as the binary prints it today (run with
/// `SPIKEFORGE_BLESS=1` to regenerate it after changing an option); every subcommand's help
/// carries an example.
#[test]
fn cli_reference_is_current_and_every_subcommand_has_an_example() {
    let d = tempfile::tempdir().unwrap();
    let (_, top, _) = spikeforge(&["--help"], d.path());
    let subs: Vec<String> = top
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| *s != "help")
        .map(String::from)
        .collect();
    assert!(subs.len() >= 13, "{subs:?}");
    let mut doc = String::from(
        "# Command-line reference\n\nGenerated from `spikeforge --help` (the CLI test \
         `cli_reference_is_current_and_every_subcommand_has_an_example` keeps it current).\n\
         Exit codes: 0 success, 1 an error (one line on stderr naming the file, node and \
         reason; cosim also when the RTL and the golden model disagree), 2 a usage error.\n\n\
         ```text\n",
    );
    doc += &top;
    doc += "```\n";
    let nested = [vec!["surrogate".to_string(), "train".to_string()]];
    for s in subs.iter().map(|s| vec![s.clone()]).chain(nested) {
        let mut args: Vec<&str> = s.iter().map(String::as_str).collect();
        args.push("--help");
        let (code, help, _) = spikeforge(&args, d.path());
        assert_eq!(code, 0);
        let name = s.join(" ");
        assert!(
            help.contains("Example: spikeforge"),
            "{name} --help has no example"
        );
        doc += &format!("\n## spikeforge {name}\n\n```text\n{help}```\n");
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cli.md");
    if std::env::var_os("SPIKEFORGE_BLESS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == doc,
        "docs/cli.md is stale: SPIKEFORGE_BLESS=1 cargo test --test cli cli_reference"
    );
}

/// Every bundled example compiles as the README says (default options) into a complete
/// output folder: RTL, report.html with its plots, the testbench with one expected beat per
/// stimulus beat, and the project files.
#[test]
fn every_bundled_example_compiles_into_a_complete_folder() {
    let d = tempfile::tempdir().unwrap();
    let dir = example().parent().unwrap().to_path_buf();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let p = e.path();
        let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
        if !["nir", "sfir", "onnx"].contains(&ext) {
            continue;
        }
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let out = d.path().join(&name);
        let (code, _, err) = spikeforge(
            &[
                "-q",
                "compile",
                p.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
            d.path(),
        );
        assert_eq!(code, 0, "{name}: {err}");
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(html.matches("<svg").count() >= 2, "{name}: resource plots");
        let stim = std::fs::read_to_string(out.join("tb/stimulus.hex")).unwrap();
        let want = std::fs::read_to_string(out.join("tb/expected.hex")).unwrap();
        assert_eq!(stim.lines().count(), want.lines().count(), "{name}");
        for f in ["Makefile", "README.md", "constraints"] {
            assert!(out.join(f).exists(), "{name}: {f}");
        }
        n += 1;
    }
    assert!(n >= 11, "only {n} examples");
}

/// `estimate` on a family without trained weights says so in one line and points at synth;
/// on a trained one it prints a row per layer that sums to the total.
#[test]
fn estimate_refuses_untrained_families_and_its_layers_sum_to_the_total() {
    let d = tempfile::tempdir().unwrap();
    let m = example();
    let m = m.to_str().unwrap();
    for t in ["lfe5u85f", "asic"] {
        let (code, _, err) = spikeforge(&["estimate", m, "-o", "e", "--target", t], d.path());
        assert!(code != 0 && err.lines().count() == 1, "{err}");
        assert!(
            err.contains("no surrogate weights") && err.contains("spikeforge synth"),
            "{err}"
        );
    }
    let (code, out, err) = spikeforge(
        &["estimate", m, "-o", "e", "--target", "ice40up5k", "--json"],
        d.path(),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let e = &v["estimate"];
    let sum: f64 = e["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["lut"].as_f64().unwrap())
        .sum();
    assert!(
        (sum.round() - e["lut"].as_f64().unwrap()).abs() <= 1.0,
        "{sum} vs {}",
        e["lut"]
    );
    assert_eq!(e["target"], "ice40up5k");
    assert_eq!(e["cycles_per_step"], v["cycles_per_step"]);
    // The bundled example is made of hardware the training designs had (a design that is not
    // gets it named: `surrogate::estimate` unit test).
    assert_eq!(e["unseen"], serde_json::json!([]));
}
