//! Hostile inputs: truncated, damaged and lying files, absurd sizes, bad numbers, cycles and
//! unknown ops, in NIR, `.sfir` and ONNX. Each one gets exit code 1 and one `error:` line naming the
//! file, within 1 second and under a 100 MB address-space limit (no panic, hang or huge
//! allocation).

mod common;

use common::{graph, input, leaf, lif, linear, nir_bytes, output, G, N};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// input(2) -> fc -> lif -> output with `fc` and `lif` replaced.
fn simple(fc: N, neuron: N) -> G {
    graph(
        vec![
            ("input", input(2)),
            ("fc", fc),
            ("lif", neuron),
            ("output", output(3)),
        ],
        &[("input", "fc"), ("fc", "lif"), ("lif", "output")],
    )
}

fn lif_with(field: &'static str, v: f64) -> N {
    let n = 3;
    let mut fields = vec![
        ("tau", vec![0.01; n], vec![n as u64]),
        ("r", vec![1.0; n], vec![n as u64]),
        ("v_leak", vec![0.0; n], vec![n as u64]),
        ("v_threshold", vec![1.0; n], vec![n as u64]),
    ];
    for f in fields.iter_mut().filter(|f| f.0 == field) {
        f.1[1] = v;
    }
    N::Leaf("LIF", fields)
}

fn cases() -> Vec<(String, Vec<u8>)> {
    let real =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/rsnn_16_32_10.nir"))
            .unwrap();
    let mut c: Vec<(String, Vec<u8>)> = vec![
        ("empty.nir".into(), vec![]),
        ("text.nir".into(), b"this is not HDF5\n".to_vec()),
        (
            "noise.nir".into(),
            (0..1024u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
        ("signature_only.nir".into(), real[..8].to_vec()),
    ];
    for pct in [10, 30, 50, 70, 90] {
        c.push((
            format!("cut{pct}.nir"),
            real[..real.len() * pct / 100].to_vec(),
        ));
    }
    let nir = |name: &str, g: &G| (name.to_string(), nir_bytes(g));
    // A 5x2 weight whose stored dims are then rewritten: the file declares more data than it
    // holds (a gigabyte, or just a few values more).
    let five = graph(
        vec![
            ("input", input(2)),
            ("fc", linear(5, 2, 0.5)),
            ("lif", lif(5)),
            ("output", output(5)),
        ],
        &[("input", "fc"), ("fc", "lif"), ("lif", "output")],
    );
    let base = nir_bytes(&five);
    let dims = |a: u64, b: u64| [a.to_le_bytes(), b.to_le_bytes()].concat();
    let at = base
        .windows(16)
        .position(|w| w == dims(5, 2).as_slice())
        .expect("the weight's dims are in the file");
    for (name, (a, b)) in [
        ("gigabyte_declared.nir", (1 << 15, 1 << 15)),
        ("short_data.nir", (5, 3)),
    ] {
        let mut bytes = base.clone();
        bytes[at..at + 16].copy_from_slice(&dims(a, b));
        c.push((name.to_string(), bytes));
    }
    c.push(nir(
        "nan_weight.nir",
        &simple(linear_with(f64::NAN), lif(3)),
    ));
    c.push(nir(
        "inf_weight.nir",
        &simple(linear_with(f64::INFINITY), lif(3)),
    ));
    c.push(nir(
        "nan_threshold.nir",
        &simple(linear(3, 2, 1.0), lif_with("v_threshold", f64::NAN)),
    ));
    c.push(nir(
        "negative_tau.nir",
        &simple(linear(3, 2, 1.0), lif_with("tau", -1.0)),
    ));
    c.push(nir(
        "zero_tau.nir",
        &simple(linear(3, 2, 1.0), lif_with("tau", 0.0)),
    ));
    let missing = leaf("LIF", &[("tau", &[0.01; 3], &[3]), ("r", &[1.0; 3], &[3])]);
    c.push(nir(
        "missing_field.nir",
        &simple(linear(3, 2, 1.0), missing),
    ));
    let short_field = leaf(
        "LIF",
        &[
            ("tau", &[0.01; 2], &[2]),
            ("r", &[1.0; 3], &[3]),
            ("v_leak", &[0.0; 3], &[3]),
            ("v_threshold", &[1.0; 3], &[3]),
        ],
    );
    c.push(nir(
        "field_lengths.nir",
        &simple(linear(3, 2, 1.0), short_field),
    ));
    let pool = leaf("MaxPool2d", &[("kernel_size", &[2.0, 2.0], &[2])]);
    c.push(nir("unsupported_op.nir", &simple(pool, lif(3))));
    let mut ghost = simple(linear(3, 2, 1.0), lif(3));
    ghost.edges.push(("lif".into(), "ghost".into()));
    c.push(nir("edge_to_missing.nir", &ghost));
    let cycle = graph(
        vec![
            ("input", input(2)),
            ("a", linear(2, 2, 0.5)),
            ("b", linear(2, 2, 0.5)),
            ("output", output(2)),
        ],
        &[("input", "a"), ("a", "b"), ("b", "a"), ("b", "output")],
    );
    c.push(nir("stateless_cycle.nir", &cycle));
    let wide = leaf("Linear", &[("weight", &[1.0; 6], &[3, 2])]);
    let huge_input = graph(
        vec![
            (
                "input",
                N::Leaf("Input", vec![("shape", vec![1e12], vec![1])]),
            ),
            ("fc", wide),
            ("lif", lif(3)),
            ("output", output(3)),
        ],
        &[("input", "fc"), ("fc", "lif"), ("lif", "output")],
    );
    c.push(nir("absurd_input.nir", &huge_input));
    let mut deep = graph(
        vec![("input", input(1)), ("output", output(1))],
        &[("input", "output")],
    );
    for _ in 0..40 {
        deep = graph(
            vec![
                ("input", input(1)),
                ("s", N::Graph(deep)),
                ("output", output(1)),
            ],
            &[("input", "s"), ("s", "output")],
        );
    }
    c.push(nir("deep_nesting.nir", &deep));
    // .sfir
    let head = "graph g {\n  %x: spike[2] = input\n";
    let tail = "  %y: real[3] = output(%fc)\n}\n";
    let sfir =
        |name: &str, body: &str| (name.to_string(), format!("{head}{body}{tail}").into_bytes());
    c.push(sfir(
        "huge_matrix.sfir",
        "  %fc: real[3] = linear(%x) {weight = <100000x100000>[0.0; 10000000000]}\n",
    ));
    c.push(sfir(
        "huge_repeat.sfir",
        "  %fc: real[3] = linear(%x) {weight = <3x2>[0.0; 1099511627776]}\n",
    ));
    c.push(sfir(
        "nan_literal.sfir",
        "  %fc: real[3] = linear(%x) {weight = <3x2>[nan; 6]}\n",
    ));
    c.push(sfir(
        "unknown_op.sfir",
        "  %fc: real[3] = teleport(%x) {}\n",
    ));
    c.push((
        "absurd_width.sfir".into(),
        format!("{head}  %fc: fix<100000,0>[3] = dense(%x) {{weight = <3x2>[1; 6], bias = [0; 3], scale = [1.0; 3]}}\n  %y: fix<100000,0>[3] = output(%fc)\n}}\n").into_bytes(),
    ));
    c.push(sfir(
        "absurd_shape.sfir",
        "  %fc: real[4294967296,4294967296] = linear(%x) {weight = <3x2>[0.0; 6]}\n",
    ));
    c.push(sfir(
        "unterminated.sfir",
        "  %\"fc: real[3] = linear(%x) {weight = <3x2>[0.0; 6]}\n",
    ));
    c.push(sfir(
        "cycle.sfir",
        "  %fc: real[3] = linear(%x, %fc) {weight = <3x2>[0.0; 6]}\n",
    ));
    c.push(("garbage.sfir".into(), vec![b'{'; 1 << 20]));
    c.push((
        "binary.sfir".into(),
        (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
    ));
    c.extend(onnx_cases());
    c
}

/// ONNX: the committed spike MLP (written by the official `onnx` package), damaged.
fn onnx_cases() -> Vec<(String, Vec<u8>)> {
    use prost::Message;
    use spikeforge::frontend::onnx::proto::{ModelProto, NodeProto, StringStringEntryProto};
    let good = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/spike_mlp.onnx"),
    )
    .unwrap();
    let edit = |f: &dyn Fn(&mut ModelProto)| {
        let mut m = ModelProto::decode(&good[..]).unwrap();
        f(&mut m);
        m.encode_to_vec()
    };
    vec![
        ("empty.onnx".into(), vec![]),
        (
            "noise.onnx".into(),
            (0..2048u32).map(|i| (i * 7919 % 253) as u8).collect(),
        ),
        ("cut50.onnx".into(), good[..good.len() / 2].to_vec()),
        (
            // A 1 GiB tensor declared in a file of a few kilobytes.
            "gigabyte.onnx".into(),
            edit(&|m| {
                let t = &mut m.graph.as_mut().unwrap().initializer[0];
                t.dims = vec![1 << 15, 1 << 15];
            }),
        ),
        (
            "nan_weight.onnx".into(),
            edit(&|m| {
                let t = &mut m.graph.as_mut().unwrap().initializer[0];
                t.raw_data[0..4].copy_from_slice(&f32::NAN.to_le_bytes());
            }),
        ),
        (
            "external_data.onnx".into(),
            edit(&|m| {
                m.graph.as_mut().unwrap().initializer[0].external_data.push(
                    StringStringEntryProto {
                        key: "location".into(),
                        value: "/etc/shadow".into(),
                    },
                )
            }),
        ),
        (
            "opset9.onnx".into(),
            edit(&|m| m.opset_import[0].version = 9),
        ),
        (
            "unsupported_ops.onnx".into(),
            edit(&|m| {
                let g = m.graph.as_mut().unwrap();
                g.node[1].op_type = "Softsign".into();
                g.node.push(NodeProto {
                    op_type: "Loop".into(),
                    name: "loop".into(),
                    output: vec!["z".into()],
                    ..Default::default()
                });
            }),
        ),
    ]
}

fn linear_with(v: f64) -> N {
    let mut w = vec![0.5; 6];
    w[4] = v;
    N::Leaf("Linear", vec![("weight", w, vec![3, 2])])
}

#[test]
fn hostile_files_get_one_clear_error_fast_and_small() {
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_spikeforge");
    let mut slow = Vec::new();
    for (name, bytes) in &cases {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        // 100 MB of address space: a huge allocation fails instead of succeeding quietly.
        let script = format!("ulimit -v 102400; exec '{bin}' compile '{name}' -o 'out_{name}'");
        let t0 = Instant::now();
        let out = Command::new("sh")
            .args(["-c", &script])
            .current_dir(dir.path())
            .output()
            .expect("runs");
        let took = t0.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        eprintln!("{name}: {} ({took:?})", err.trim());
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{name}: {err}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(name.as_str()),
            "{name}: {err}"
        );
        assert!(
            !err.contains("internal error") && !err.contains("panicked"),
            "{name}: {err}"
        );
        if took > Duration::from_secs(1) {
            slow.push(format!("{name}: {took:?}"));
        }
    }
    assert!(slow.is_empty(), "over 1 s: {slow:?}");
}
