//! NIR frontend: real third-party models, nested graphs, and clean one-line errors on bad files.

mod common;
use common::*;
use hdf5_pure::FileBuilder;
use spikeforge::frontend::nir::{load, load_bytes, NirError};
use spikeforge::ir::verify::verify;
use spikeforge::ir::{Elem, Graph, NeuronKind, Op, Port, Type};
use std::path::PathBuf;

fn model(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/models/")).join(name)
}

fn names(g: &Graph) -> Vec<&str> {
    g.nodes.iter().map(|n| n.name.as_str()).collect()
}

fn node<'a>(g: &'a Graph, name: &str) -> &'a spikeforge::ir::Node {
    let id = g
        .find(name)
        .unwrap_or_else(|| panic!("no node {name} in {:?}", names(g)));
    g.node(id)
}

fn neuron<'a>(g: &'a Graph, name: &str) -> &'a spikeforge::ir::FloatNeuron {
    match &node(g, name).op {
        Op::Neuron(n) => n,
        other => panic!("{name} is {other:?}"),
    }
}

/// The inputs of `name` as (source name, delayed).
fn inputs(g: &Graph, name: &str) -> Vec<(String, bool)> {
    node(g, name)
        .inputs
        .iter()
        .map(|p: &Port| (g.node(p.node).name.clone(), p.delayed))
        .collect()
}

#[test]
fn braille_recurrent_cuba_lif() {
    let g = load(&model("braille_noDelay_noBias_subtract.nir")).expect("loads");
    verify(&g).expect("verifies");
    assert_eq!(g.name, "braille_noDelay_noBias_subtract");
    assert_eq!(
        names(&g),
        [
            "input",
            "fc1",
            "lif1.w_rec",
            "lif1.lif",
            "fc2",
            "lif2",
            "output"
        ]
    );
    assert_eq!(node(&g, "input").ty, Type::spike(12));
    match &node(&g, "fc1").op {
        Op::Linear { weight } => assert_eq!(weight.shape, [40, 12]),
        other => panic!("fc1 is {other:?}"),
    }
    assert_eq!(node(&g, "fc1").ty, Type::real(40));
    let lif = neuron(&g, "lif1.lif");
    assert_eq!(lif.kind, NeuronKind::CubaLif);
    assert_eq!(lif.len(), 40);
    assert!(
        (lif.tau_syn[0] - 0.0004).abs() < 1e-12,
        "{}",
        lif.tau_syn[0]
    );
    assert_eq!(lif.w_in, vec![4.0; 40]);
    assert_eq!(lif.v_reset, vec![0.0; 40], "v_reset defaults to 0");
    assert_eq!(node(&g, "lif1.lif").ty, Type::spike(40));
    // The recurrent weight reads last step's spikes; the layer reads both currents now.
    assert_eq!(inputs(&g, "lif1.w_rec"), [("lif1.lif".to_string(), true)]);
    let mut li = inputs(&g, "lif1.lif");
    li.sort();
    assert_eq!(
        li,
        [
            ("fc1".to_string(), false),
            ("lif1.w_rec".to_string(), false)
        ]
    );
    assert_eq!(neuron(&g, "lif2").kind, NeuronKind::CubaLif);
    assert_eq!(node(&g, "output").ty, Type::spike(7));
    assert_eq!(inputs(&g, "output"), [("lif2".to_string(), false)]);
}

#[test]
fn lif_norse_defaults_v_reset() {
    let g = load(&model("lif_norse.nir")).expect("loads");
    verify(&g).expect("verifies");
    assert_eq!(g.name, "lif_norse");
    assert_eq!(names(&g), ["input", "0", "1", "output"]);
    match &node(&g, "0").op {
        Op::Affine { weight, bias } => {
            assert_eq!(weight.shape, [1, 1]);
            assert_eq!(weight.data, [1.0]);
            assert_eq!(bias, &[0.0]);
        }
        other => panic!("0 is {other:?}"),
    }
    let lif = neuron(&g, "1");
    assert_eq!(lif.kind, NeuronKind::Lif);
    // Stored as f32.
    assert_eq!(lif.tau_mem, [0.0025f32 as f64]);
    assert_eq!(lif.v_threshold, [0.1f32 as f64]);
    assert_eq!(lif.v_reset, [0.0]);
    assert_eq!(node(&g, "output").ty, Type::spike(1));
}

#[test]
fn two_lif_neurons_chain() {
    let g = load(&model("two_lif_neurons.nir")).expect("loads");
    verify(&g).expect("verifies");
    assert_eq!(
        names(&g),
        ["in", "linear1", "lif1", "linear2", "lif2", "out"]
    );
    assert_eq!(neuron(&g, "lif1").v_leak, [1.2]);
    assert_eq!(neuron(&g, "lif2").v_threshold, [20.0]);
    assert_eq!(inputs(&g, "linear2"), [("lif1".to_string(), false)]);
    assert!(matches!(node(&g, "linear1").op, Op::Linear { .. }));
}

#[test]
fn load_bytes_matches_load() {
    let path = model("two_lif_neurons.nir");
    let bytes = std::fs::read(&path).unwrap();
    let a = load(&path).unwrap();
    let b = load_bytes("two_lif_neurons.nir", bytes).unwrap();
    assert_eq!(a, b);
}

// ---- building NIR files with hdf5_pure's writer ----

fn load_graph(g: &G) -> Result<Graph, NirError> {
    load_bytes("model.nir", nir_bytes(g))
}

/// The error's one-line message, checked to name the file.
fn err(r: Result<Graph, NirError>, file: &str) -> String {
    let e = r.expect_err("should fail");
    let m = e.to_string();
    assert!(!m.contains('\n'), "multi-line message: {m}");
    assert!(
        m.starts_with(file),
        "message does not start with {file}: {m}"
    );
    m
}

/// input(2) -> fc -> lif -> output, with `fc` and `lif` overridable.
fn simple(fc: N, lif_node: N) -> G {
    graph(
        vec![
            ("input", input(2)),
            ("fc", fc),
            ("lif", lif_node),
            ("output", output(3)),
        ],
        &[("input", "fc"), ("fc", "lif"), ("lif", "output")],
    )
}

#[test]
fn written_model_loads() {
    let g = load_graph(&simple(linear(3, 2, 0.5), lif(3))).expect("loads");
    verify(&g).unwrap();
    assert_eq!(g.name, "model");
    assert_eq!(names(&g), ["input", "fc", "lif", "output"]);
    assert_eq!(neuron(&g, "lif").v_reset, [0.0; 3]);
}

#[test]
fn fixed_length_strings_are_read_too() {
    let mut fb = FileBuilder::new();
    let mut top = fb.create_group("node");
    top.create_dataset("type")
        .with_ascii_strings(&["NIRGraph"])
        .unwrap()
        .with_shape(&[]);
    let mut nodes = top.create_group("nodes");
    for (name, ty) in [("input", "Input"), ("output", "Output")] {
        let mut g = nodes.create_group(name);
        g.create_dataset("type")
            .with_ascii_strings(&[ty])
            .unwrap()
            .with_shape(&[]);
        g.create_dataset("shape").with_i64_data(&[4]);
        nodes.add_group(g.finish());
    }
    top.add_group(nodes.finish());
    top.create_dataset("edges")
        .with_ascii_strings(&["input", "output"])
        .unwrap()
        .with_shape(&[1, 2]);
    fb.add_group(top.finish());
    let g = load_bytes("fixed.nir", fb.finish().unwrap()).expect("loads");
    assert_eq!(node(&g, "output").ty, Type::spike(4));
}

#[test]
fn scalar_parameters_broadcast() {
    let scalar_lif = leaf(
        "CubaLIF",
        &[
            ("tau_syn", &[0.5], &[1]),
            ("tau_mem", &[0.25], &[]),
            ("r", &[2.0], &[1]),
            ("v_leak", &[0.0], &[1]),
            ("v_threshold", &[1.0], &[1]),
        ],
    );
    let g = load_graph(&simple(linear(3, 2, 1.0), scalar_lif)).expect("loads");
    let n = neuron(&g, "lif");
    assert_eq!(n.kind, NeuronKind::CubaLif);
    assert_eq!(n.tau_mem, [0.25; 3]);
    assert_eq!(n.w_in, [1.0; 3], "w_in defaults to 1");
    assert_eq!(node(&g, "lif").ty, Type::spike(3));
}

#[test]
fn nested_graph_is_flattened() {
    let inner = graph(
        vec![
            ("input", input(3)),
            ("lin", linear(3, 3, 1.0)),
            ("lif", lif(3)),
            ("output", output(3)),
        ],
        &[
            ("input", "lin"),
            ("lin", "lif"),
            ("lif", "output"),
            ("lif", "lin"),
        ],
    );
    let outer = graph(
        vec![
            ("input", input(2)),
            (
                "aff",
                leaf(
                    "Affine",
                    &[("weight", &[1.0; 6], &[3, 2]), ("bias", &[0.0; 3], &[3])],
                ),
            ),
            ("sub", N::Graph(inner)),
            ("output", output(3)),
            ("probe", output(3)),
        ],
        &[
            ("input", "aff"),
            ("aff", "sub"),
            ("sub", "output"),
            ("sub.lif", "probe"),
        ],
    );
    let g = load_graph(&outer).expect("loads");
    verify(&g).unwrap();
    assert_eq!(
        names(&g),
        ["input", "aff", "sub.lin", "sub.lif", "output", "probe"]
    );
    let mut lin_in = inputs(&g, "sub.lin");
    lin_in.sort();
    assert_eq!(
        lin_in,
        [("aff".to_string(), false), ("sub.lif".to_string(), true)]
    );
    assert_eq!(inputs(&g, "output"), [("sub.lif".to_string(), false)]);
    assert_eq!(inputs(&g, "probe"), [("sub.lif".to_string(), false)]);
    assert_eq!(node(&g, "output").ty, Type::spike(3));
}

#[test]
fn nesting_deeper_than_the_cap_is_refused() {
    let mut g = graph(
        vec![("input", input(1)), ("output", output(1))],
        &[("input", "output")],
    );
    for _ in 0..17 {
        g = graph(
            vec![
                ("input", input(1)),
                ("s", N::Graph(g)),
                ("output", output(1)),
            ],
            &[("input", "s"), ("s", "output")],
        );
    }
    let m = err(load_graph(&g), "model.nir");
    assert!(m.contains("nested deeper than 16"), "{m}");
}

#[test]
fn truncated_file_is_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(model("braille_noDelay_noBias_subtract.nir")).unwrap();
    let path = dir.path().join("trunc.nir");
    std::fs::write(&path, &full[..full.len() / 2]).unwrap();
    let m = err(load(&path), &path.display().to_string());
    assert!(m.contains("trunc.nir"), "{m}");
}

#[test]
fn non_hdf5_and_empty_files_are_clean_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.nir");
    std::fs::write(&text, "this is not HDF5\n").unwrap();
    let m = err(load(&text), &text.display().to_string());
    assert!(m.contains("not an HDF5 file"), "{m}");
    let empty = dir.path().join("empty.nir");
    std::fs::write(&empty, b"").unwrap();
    let m = err(load(&empty), &empty.display().to_string());
    assert!(m.contains("empty"), "{m}");
    let missing = dir.path().join("missing.nir");
    err(load(&missing), &missing.display().to_string());
}

#[test]
fn unsupported_node_type() {
    // Every NIR 1.0 type is read; a type from a newer or foreign exporter is named.
    let pool = leaf("MaxPool2d", &[("kernel_size", &[2.0, 2.0], &[2])]);
    let m = err(load_graph(&simple(pool, lif(3))), "model.nir");
    assert_eq!(
        m,
        "model.nir: node 'fc': node type 'MaxPool2d' is not supported yet"
    );
}

#[test]
fn edge_to_missing_node() {
    let mut g = simple(linear(3, 2, 1.0), lif(3));
    g.edges.push(("lif".into(), "ghost".into()));
    let m = err(load_graph(&g), "model.nir");
    assert_eq!(m, "model.nir: edge 'lif' -> 'ghost': no node named 'ghost'");
}

#[test]
fn weight_columns_must_match_input_size() {
    let m = err(load_graph(&simple(linear(3, 5, 1.0), lif(3))), "model.nir");
    assert!(m.contains("node 'fc'"), "{m}");
    assert!(m.contains("'input'"), "{m}");
    assert!(m.contains("[3, 5]") && m.contains("produces 2"), "{m}");
}

#[test]
fn neuron_field_lengths_must_agree() {
    let bad = leaf(
        "LIF",
        &[
            ("tau", &[0.1, 0.1, 0.1], &[3]),
            ("r", &[1.0; 40], &[40]),
            ("v_leak", &[0.0; 40], &[40]),
            ("v_threshold", &[1.0; 40], &[40]),
        ],
    );
    let m = err(load_graph(&simple(linear(40, 2, 1.0), bad)), "model.nir");
    assert_eq!(
        m,
        "model.nir: node 'lif': field 'tau' has 3 entries, expected 40"
    );
}

#[test]
fn missing_neuron_field() {
    let bad = leaf("LIF", &[("tau", &[0.1; 3], &[3]), ("r", &[1.0; 3], &[3])]);
    let m = err(load_graph(&simple(linear(3, 2, 1.0), bad)), "model.nir");
    assert!(m.contains("node 'lif': missing field 'v_leak'"), "{m}");
}

#[test]
fn nan_weight_is_named() {
    let mut w = vec![1.0; 6];
    w[2] = f64::NAN;
    let fc = N::Leaf("Linear", vec![("weight", w, vec![3, 2])]);
    let m = err(load_graph(&simple(fc, lif(3))), "model.nir");
    assert_eq!(
        m,
        "model.nir: node 'fc': field 'weight' has a non-finite value (NaN) at index [1, 0]"
    );
}

#[test]
fn cycle_without_neuron() {
    let g = graph(
        vec![
            ("input", input(2)),
            ("a", linear(2, 2, 1.0)),
            ("b", linear(2, 2, 1.0)),
            ("lif", lif(2)),
            ("output", output(2)),
        ],
        &[
            ("input", "a"),
            ("a", "b"),
            ("b", "a"),
            ("b", "lif"),
            ("lif", "output"),
        ],
    );
    let m = err(load_graph(&g), "model.nir");
    assert!(m.contains("cycle 'a' -> 'b' -> 'a'"), "{m}");
    assert!(m.contains("no neuron"), "{m}");
}

#[test]
fn node_without_input_and_output_fan_in() {
    let mut g = simple(linear(3, 2, 1.0), lif(3));
    g.edges.retain(|(a, _)| a != "input");
    let m = err(load_graph(&g), "model.nir");
    assert_eq!(m, "model.nir: node 'fc': has no incoming edge");

    let mut g = simple(linear(3, 2, 1.0), lif(3));
    g.edges.push(("fc".into(), "output".into()));
    let m = err(load_graph(&g), "model.nir");
    assert!(
        m.contains("node 'output': Output node has 2 incoming edges"),
        "{m}"
    );
}

#[test]
fn spike_input_type_keeps_shape() {
    let g = graph(
        vec![
            (
                "input",
                N::Leaf("Input", vec![("shape", vec![2.0, 3.0], vec![2])]),
            ),
            ("fc", linear(4, 6, 1.0)),
            ("output", output(4)),
        ],
        &[("input", "fc"), ("fc", "output")],
    );
    let g = load_graph(&g).expect("loads");
    assert_eq!(node(&g, "input").ty, Type::new(Elem::Spike, vec![2, 3]));
    assert_eq!(node(&g, "output").ty, Type::real(4));
}

/// Cut and corrupted copies of the real models must give errors, never panics.
#[test]
fn damaged_files_never_panic() {
    for name in ["lif_norse.nir", "two_lif_neurons.nir"] {
        let full = std::fs::read(model(name)).unwrap();
        for cut in (0..full.len()).step_by(211) {
            if let Err(e) = load_bytes(name, full[..cut].to_vec()) {
                assert!(!e.to_string().contains('\n'));
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..300 {
            let mut bytes = full.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed % bytes.len() as u64) as usize;
                bytes[i] = (seed >> 32) as u8;
            }
            if let Ok(g) = load_bytes(name, bytes) {
                verify(&g).expect("a graph that loads verifies");
            }
        }
    }
}

fn field(name: &'static str, v: f64, n: usize) -> (&'static str, Vec<f64>, Vec<u64>) {
    (name, vec![v; n], vec![n as u64])
}

#[test]
fn integrator_cuba_li_threshold_and_flatten_lower() {
    let g = graph(
        vec![
            ("input", input(2)),
            (
                "flat",
                N::Leaf(
                    "Flatten",
                    vec![field("start_dim", 1.0, 1), field("end_dim", -1.0, 1)],
                ),
            ),
            ("fc", linear(3, 2, 0.5)),
            (
                "thr",
                N::Leaf("Threshold", vec![field("threshold", 0.25, 3)]),
            ),
            ("fc2", linear(3, 3, 0.5)),
            ("integ", N::Leaf("I", vec![field("r", 2.0, 3)])),
            (
                "cuba",
                N::Leaf(
                    "CubaLI",
                    vec![
                        field("tau_syn", 2e-4, 3),
                        field("tau_mem", 4e-4, 3),
                        field("r", 4.0, 3),
                        field("v_leak", 0.0, 3),
                        field("w_in", 1.0, 3),
                    ],
                ),
            ),
            ("out1", output(3)),
            ("out2", output(3)),
        ],
        &[
            ("input", "flat"),
            ("flat", "fc"),
            ("fc", "thr"),
            ("thr", "fc2"),
            ("fc2", "integ"),
            ("fc2", "cuba"),
            ("integ", "out1"),
            ("cuba", "out2"),
        ],
    );
    let g = load_graph(&g).unwrap();
    verify(&g).unwrap();
    assert!(g.find("flat").is_none(), "Flatten is wired through");
    assert_eq!(inputs(&g, "fc"), vec![("input".to_string(), false)]);
    assert_eq!(neuron(&g, "thr").kind, NeuronKind::Threshold);
    assert_eq!(neuron(&g, "thr").v_threshold, vec![0.25; 3]);
    assert_eq!(neuron(&g, "integ").kind, NeuronKind::I);
    assert_eq!(neuron(&g, "integ").r, vec![2.0; 3]);
    assert_eq!(neuron(&g, "cuba").kind, NeuronKind::CubaLi);
    assert_eq!(node(&g, "integ").ty, Type::new(Elem::Real, vec![3]));
    assert_eq!(node(&g, "thr").ty, Type::spike(3));
}

#[test]
fn delay_keeps_spikes_and_rejects_negative_delays() {
    let mk = |d: f64| {
        graph(
            vec![
                ("input", input(2)),
                ("d", N::Leaf("Delay", vec![field("delay", d, 2)])),
                ("fc", linear(3, 2, 0.5)),
                ("lif", lif(3)),
                ("output", output(3)),
            ],
            &[
                ("input", "d"),
                ("d", "fc"),
                ("fc", "lif"),
                ("lif", "output"),
            ],
        )
    };
    let g = load_graph(&mk(2e-4)).unwrap();
    verify(&g).unwrap();
    assert_eq!(node(&g, "d").ty, Type::spike(2));
    assert!(matches!(&node(&g, "d").op, Op::Delay { delay } if delay == &vec![2e-4; 2]));
    let m = err(load_graph(&mk(-1.0)), "model.nir");
    assert!(m.contains("node 'd'") && m.contains("negative"), "{m}");
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/")).join(name)
}

#[test]
fn conv_pool_flatten_network_from_the_nir_package_lowers() {
    let g = load(&example("conv_snn_2x8x8.nir")).unwrap();
    verify(&g).unwrap();
    let Op::Conv(c1) = &node(&g, "conv1").op else {
        panic!("conv1")
    };
    assert_eq!(
        (c1.in_shape.clone(), c1.padding.clone()),
        (vec![2, 8, 8], vec![1, 1])
    );
    assert_eq!(node(&g, "conv1").ty, Type::new(Elem::Real, vec![4, 8, 8]));
    assert_eq!(node(&g, "if1").ty, Type::new(Elem::Spike, vec![4, 8, 8]));
    // 'same' with a 3x3 kernel is padding 1; pooling takes its layout from its input.
    let Op::Conv(c2) = &node(&g, "conv2").op else {
        panic!("conv2")
    };
    assert_eq!(c2.padding, vec![1, 1]);
    let Op::Pool(p1) = &node(&g, "pool1").op else {
        panic!("pool1")
    };
    assert_eq!((p1.in_shape.clone(), p1.average), (vec![4, 8, 8], false));
    let Op::Pool(p2) = &node(&g, "pool2").op else {
        panic!("pool2")
    };
    assert!(p2.average);
    assert_eq!(node(&g, "pool2").ty.shape, vec![4, 2, 2]);
    // Flatten is wired through: the Affine reads the pooling directly.
    assert!(g.find("flat").is_none());
    assert_eq!(inputs(&g, "fc"), vec![("pool2".to_string(), false)]);
}

#[test]
fn conv1d_is_a_height_one_conv2d() {
    let g = load(&example("conv1d_snn_4x16.nir")).unwrap();
    let Op::Conv(c) = &node(&g, "conv").op else {
        panic!("conv")
    };
    assert_eq!(c.weight.shape, vec![4, 4, 1, 3]);
    assert_eq!(
        (c.stride.clone(), c.dilation.clone(), c.padding.clone()),
        (vec![1, 2], vec![1, 2], vec![0, 1])
    );
    assert_eq!(c.in_shape, vec![4, 1, 16]);
    assert_eq!(node(&g, "conv").ty.shape, vec![4, 1, 7]);
}

#[test]
fn conv_errors_name_node_and_reason() {
    let conv = |input_shape: f64| {
        N::Leaf(
            "Conv2d",
            vec![
                ("weight", vec![0.5; 2 * 2 * 3 * 3], vec![2, 2, 3, 3]),
                ("bias", vec![0.0; 2], vec![2]),
                ("stride", vec![1.0, 1.0], vec![2]),
                ("padding", vec![0.0, 0.0], vec![2]),
                ("dilation", vec![1.0, 1.0], vec![2]),
                ("groups", vec![1.0], vec![]),
                ("input_shape", vec![input_shape, input_shape], vec![2]),
            ],
        )
    };
    let mk = |inputs: u64, c: N| {
        graph(
            vec![
                ("input", input(inputs)),
                ("c", c),
                ("lif", lif(8)),
                ("output", output(8)),
            ],
            &[("input", "c"), ("c", "lif"), ("lif", "output")],
        )
    };
    // 4x4 input, 3x3 kernel: a 2x2 output of 2 channels = 8 neurons.
    let g = load_graph(&mk(32, conv(4.0))).unwrap();
    verify(&g).unwrap();
    let m = err(load_graph(&mk(32, conv(5.0))), "model.nir");
    assert!(
        m.contains("node 'c'") && m.contains("shape mismatch"),
        "{m}"
    );
    // A 2x2 image is smaller than the 3x3 kernel.
    let m = err(load_graph(&mk(8, conv(2.0))), "model.nir");
    assert!(m.contains("node 'c'") && m.contains("does not fit"), "{m}");
}
