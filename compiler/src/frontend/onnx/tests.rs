use super::proto::*;
use super::*;
use prost::Message;

fn tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: data_type::FLOAT,
        float_data: data.to_vec(),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: format!("{op}_{output}"),
        ..Default::default()
    }
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INT,
        i,
        ..Default::default()
    }
}

fn value(name: &str, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            dim_value: (d >= 0).then_some(d),
                            dim_param: (d < 0).then(|| "N".to_string()),
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

fn model(nodes: Vec<NodeProto>, init: Vec<TensorProto>, opset: i64) -> Vec<u8> {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        producer_name: "spikeforge-test".into(),
        graph: Some(GraphProto {
            name: "net".into(),
            node: nodes,
            initializer: init,
            input: vec![value("x", &[-1, 3])],
            output: vec![value("y", &[-1, 2])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

/// The weight [2x3], bias and threshold of the spike-layer models.
fn layer_constants() -> Vec<TensorProto> {
    vec![
        tensor("W", &[2, 3], &[1.0, -2.0, 0.5, 0.25, 0.0, 3.0]),
        tensor("b", &[2], &[0.1, -0.1]),
        tensor("th", &[], &[0.5]),
    ]
}

/// x (3 spikes) -> Gemm(W [2x3], transB, bias) -> GreaterOrEqual 0.5 -> Cast -> y.
fn spike_layer() -> Vec<u8> {
    let mut gemm = node("Gemm", &["x", "W", "b"], "h");
    gemm.attribute.push(int_attr("transB", 1));
    model(
        vec![
            gemm,
            node("GreaterOrEqual", &["h", "th"], "s"),
            node("Cast", &["s"], "y"),
        ],
        layer_constants(),
        17,
    )
}

#[test]
fn a_spike_layer_lowers_to_affine_and_threshold() {
    let g = load_bytes("m.onnx", &spike_layer()).unwrap();
    crate::ir::verify::verify(&g).unwrap();
    let affine = g.find("Gemm_h").unwrap();
    let Op::Affine { weight, bias } = &g.node(affine).op else {
        panic!("{:?}", g.node(affine).op)
    };
    assert_eq!(weight.shape, vec![2, 3]);
    assert_eq!(weight.data, vec![1.0, -2.0, 0.5, 0.25, 0.0, 3.0]);
    assert_eq!(bias, &vec![0.1f32 as f64, -0.1f32 as f64]);
    let th = g.find("GreaterOrEqual_s").unwrap();
    let Op::Neuron(nr) = &g.node(th).op else {
        panic!()
    };
    assert_eq!(nr.kind, NeuronKind::Threshold);
    assert_eq!(nr.compare, Compare::Ge);
    assert_eq!(nr.v_threshold, vec![0.5, 0.5]);
}

/// ONNX leaves node names optional and need not keep them unique; the IR's names stay unique.
#[test]
fn repeated_node_names_are_made_unique() {
    let mut gemm = node("Gemm", &["x", "W", "b"], "h");
    gemm.attribute.push(int_attr("transB", 1));
    gemm.name = "layer".into();
    let mut th = node("GreaterOrEqual", &["h", "th"], "s");
    th.name = "layer".into();
    let g = load_bytes(
        "m.onnx",
        &model(
            vec![gemm, th, node("Cast", &["s"], "y")],
            layer_constants(),
            17,
        ),
    )
    .unwrap();
    crate::ir::verify::verify(&g).unwrap();
    assert!(g.find("layer").is_some() && g.find("layer_2").is_some());
}

/// MatMul stores [in, out]; Add and Mul by constants fold into the layer.
#[test]
fn matmul_add_mul_fold_into_one_affine_layer() {
    let bytes = model(
        vec![
            node("MatMul", &["x", "W"], "m"),
            node("Add", &["m", "b"], "a"),
            node("Mul", &["a", "k"], "h"),
            node("Greater", &["h", "th"], "s"),
            node("Cast", &["s"], "y"),
        ],
        vec![
            tensor("W", &[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            tensor("b", &[2], &[1.0, -1.0]),
            tensor("k", &[], &[2.0]),
            tensor("th", &[2], &[0.0, 1.0]),
        ],
        13,
    );
    let g = load_bytes("m.onnx", &bytes).unwrap();
    let Op::Affine { weight, bias } = &g.node(g.find("MatMul_m").unwrap()).op else {
        panic!()
    };
    // Row r of the IR weight is column r of the ONNX matrix, times 2.
    assert_eq!(weight.data, vec![2.0, 6.0, 10.0, 4.0, 8.0, 12.0]);
    assert_eq!(bias, &vec![2.0, -2.0]);
}

#[test]
fn every_unsupported_node_is_listed_at_once() {
    let mut custom = node("XnorPopcountMatMul", &["x", "t"], "q");
    custom.domain = "finn.custom_op.fpgadataflow".into();
    let bytes = model(
        vec![
            node("LSTM", &["x"], "a"),
            node("Relu", &["a"], "b"),
            custom,
            node("Cast", &["b"], "y"),
        ],
        vec![],
        17,
    );
    let e = load_bytes("m.onnx", &bytes).unwrap_err().to_string();
    assert!(e.starts_with("m.onnx: 3 node(s)"), "{e}");
    for want in [
        "'LSTM_a' (LSTM)",
        "'Relu_b' (Relu)",
        "in domain finn.custom_op.fpgadataflow",
    ] {
        assert!(e.contains(want), "{want}: {e}");
    }
}

#[test]
fn hostile_models_get_clear_errors() {
    let base = spike_layer();
    let with = |f: &dyn Fn(&mut ModelProto)| {
        let mut m = ModelProto::decode(&base[..]).unwrap();
        f(&mut m);
        m.encode_to_vec()
    };
    fn init(m: &mut ModelProto) -> &mut TensorProto {
        &mut m.graph.as_mut().unwrap().initializer[0]
    }
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "no graph"),
        (b"not a model at all".to_vec(), "not a readable ONNX model"),
        (base[..base.len() / 2].to_vec(), "not a readable ONNX model"),
        (
            with(&|m| m.opset_import[0].version = 9),
            "opset 9 is older than 13",
        ),
        (
            with(&|m| m.opset_import.clear()),
            "declares no ai.onnx opset",
        ),
        (
            with(&|m| init(m).dims = vec![1 << 20, 1 << 20]),
            "exceeds the 67108864-element limit",
        ),
        (with(&|m| init(m).dims = vec![-2, 3]), "negative dimension"),
        (
            with(&|m| init(m).dims = vec![4, 3]),
            "has 12 elements, the tensor stores 6",
        ),
        (
            with(&|m| {
                let t = init(m);
                t.float_data.clear();
                t.raw_data = vec![0; 5];
            }),
            "needs 24 bytes of float, raw_data has 5",
        ),
        (
            with(&|m| init(m).float_data[1] = f32::NAN),
            "element 1 is NaN",
        ),
        (
            with(&|m| init(m).float_data[2] = f32::INFINITY),
            "element 2 is inf",
        ),
        (
            with(&|m| {
                init(m).external_data.push(StringStringEntryProto {
                    key: "location".into(),
                    value: "../../etc/passwd".into(),
                })
            }),
            "external file is not read",
        ),
        (
            with(&|m| init(m).data_type = 8),
            "string values are not supported",
        ),
        (
            with(&|m| m.graph.as_mut().unwrap().node[1].input[0] = "nowhere".into()),
            "reads 'nowhere', which nothing before it computes",
        ),
        (
            with(&|m| m.graph.as_mut().unwrap().output[0].name = "lost".into()),
            "output 'lost': no node computes it",
        ),
        (
            with(&|m| m.graph.as_mut().unwrap().input[0] = value("x", &[-1, 0, 3])),
            "dimension 1 has no size",
        ),
    ];
    for (bytes, want) in cases {
        let e = load_bytes("h.onnx", &bytes).unwrap_err().to_string();
        assert!(e.starts_with("h.onnx: ") && e.contains(want), "{want}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

/// Subgraphs nested deeper than the decoder's recursion limit are refused, not a stack overflow.
#[test]
fn deep_nesting_is_refused() {
    let mut g = GraphProto::default();
    for _ in 0..200 {
        g = GraphProto {
            node: vec![NodeProto {
                op_type: "If".into(),
                attribute: vec![AttributeProto {
                    name: "then_branch".into(),
                    r#type: attribute_type::GRAPH,
                    g: Some(g),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
    }
    let bytes = ModelProto {
        graph: Some(g),
        ..Default::default()
    }
    .encode_to_vec();
    let e = load_bytes("deep.onnx", &bytes).unwrap_err().to_string();
    assert!(e.contains("not a readable ONNX model"), "{e}");
}

/// A QONNX graph: x -> Quant(8) -> MatMul(Quant(W, 4)) -> Relu -> Quant(3, unsigned) -> y,
/// with one of its constants replaced.
fn qonnx(edit: &dyn Fn(&mut Vec<TensorProto>, &mut Vec<NodeProto>)) -> Vec<u8> {
    let quant = |inp: &str, out: &str, tag: &str, signed: i64| NodeProto {
        op_type: "Quant".into(),
        domain: "qonnx.custom_op.general".into(),
        input: vec![
            inp.into(),
            format!("{tag}_s"),
            format!("{tag}_z"),
            format!("{tag}_b"),
        ],
        output: vec![out.into()],
        name: tag.into(),
        attribute: vec![int_attr("signed", signed), int_attr("narrow", 0)],
    };
    let mut init = vec![
        tensor("w", &[3, 2], &[0.5, -0.25, 0.125, 1.0, -1.0, 0.75]),
        tensor("qi_s", &[], &[0.0625]),
        tensor("qi_z", &[], &[0.0]),
        tensor("qi_b", &[], &[8.0]),
        tensor("qw_s", &[], &[0.125]),
        tensor("qw_z", &[], &[0.0]),
        tensor("qw_b", &[], &[4.0]),
        tensor("qa_s", &[], &[0.25]),
        tensor("qa_z", &[], &[0.0]),
        tensor("qa_b", &[], &[3.0]),
    ];
    let mut nodes = vec![
        quant("x", "xq", "qi", 1),
        quant("w", "wq", "qw", 1),
        node("MatMul", &["xq", "wq"], "m"),
        node("Relu", &["m"], "r"),
        quant("r", "y", "qa", 0),
    ];
    edit(&mut init, &mut nodes);
    let mut m = ModelProto::decode(&model(vec![], vec![], 17)[..]).unwrap();
    let g = m.graph.as_mut().unwrap();
    g.node = nodes;
    g.initializer = init;
    m.encode_to_vec()
}

#[test]
fn a_qonnx_layer_lowers_to_integer_dense_and_multi_threshold() {
    let l = load_lowered("q.onnx", &qonnx(&|_, _| {})).unwrap();
    let g = &l.graph;
    crate::ir::verify::verify(g).unwrap();
    let x = g.find("x").unwrap();
    assert_eq!(g.node(x).ty, Type::fix(8, 3));
    let Op::Dense(d) = &g.node(g.find("MatMul_m").unwrap()).op else {
        panic!()
    };
    // W / 0.125, transposed to [out, in]; 1.0 / 0.125 = 8 clamps to the 4-bit maximum 7.
    assert_eq!(d.weight.data, vec![4, 1, -8, -2, 7, 6]);
    let Op::MultiThreshold(mt) = &g.node(g.find("qa").unwrap()).op else {
        panic!()
    };
    // level k of round(relu(A / 128) / 0.25) is first reached at A = 32k - 16 (ties to
    // even: 16 rounds to 0 -> 17 reaches 1; 48 rounds to 2, so level 2 starts at 48).
    assert_eq!(mt.thresholds.dims2(), (1, 7));
    assert_eq!(mt.thresholds.data[..2], [17, 48]);
    assert_eq!(l.outputs[0].1, vec![0.25, 0.25]);
}

#[test]
fn hostile_quantisers_get_clear_errors() {
    let set = |name: &'static str, v: f32| {
        move |init: &mut Vec<TensorProto>, _: &mut Vec<NodeProto>| {
            init.iter_mut().find(|t| t.name == name).unwrap().float_data = vec![v];
        }
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (qonnx(&set("qw_b", 100.0)), "bit width 100"),
        (qonnx(&set("qw_b", 2.5)), "bit width 2.5"),
        (qonnx(&set("qa_s", -1.0)), "scales must be positive"),
        (qonnx(&set("qa_s", 0.0)), "scales must be positive"),
        (
            qonnx(&|_, nodes| {
                nodes[4].attribute.push(AttributeProto {
                    name: "rounding_mode".into(),
                    r#type: attribute_type::STRING,
                    s: b"STOCHASTIC".to_vec(),
                    ..Default::default()
                })
            }),
            "rounding mode 'STOCHASTIC'",
        ),
        (
            qonnx(&|_, nodes| nodes[0].input[1] = "xq".into()),
            "must be a non-empty constant",
        ),
        (
            qonnx(&|_, nodes| {
                nodes.push(node("Cos", &["y"], "z"));
            }),
            "in a quantised graph: 'Cos_z' (Cos)",
        ),
        (
            qonnx(&|_, nodes| {
                nodes.truncate(4);
                nodes[3].output[0] = "y".into();
            }),
            "ends in an elementwise function",
        ),
        // GELU dips below zero; on a grid of 1/16 its staircase falls again: refused.
        (
            qonnx(&|init, nodes| {
                nodes[3] = node("Gelu", &["m"], "r");
                nodes[4].attribute[0] = int_attr("signed", 1);
                init.iter_mut()
                    .find(|t| t.name == "qa_s")
                    .unwrap()
                    .float_data = vec![0.0625];
            }),
            "not monotone: it falls at input",
        ),
        (
            qonnx(&|_, nodes| nodes[3] = node("Mul", &["m", "xq"], "r")),
            "two different computed tensors",
        ),
        (
            qonnx(&|_, nodes| {
                nodes[2].op_type = "Gemm".into();
                nodes[2].attribute.push(AttributeProto {
                    name: "alpha".into(),
                    r#type: attribute_type::FLOAT,
                    f: 2.0,
                    ..Default::default()
                });
            }),
            "alpha and beta",
        ),
        (
            qonnx(&|init, _| {
                let t = init.iter_mut().find(|t| t.name == "qw_s").unwrap();
                t.dims = vec![5];
                t.float_data = vec![0.125; 5];
            }),
            "does not broadcast",
        ),
        (
            qonnx(&|init, _| {
                let t = init.iter_mut().find(|t| t.name == "qa_z").unwrap();
                t.dims = vec![0];
                t.float_data.clear();
            }),
            "must be a non-empty constant",
        ),
    ];
    for (bytes, want) in cases {
        let e = load_bytes("q.onnx", &bytes).unwrap_err().to_string();
        assert!(e.starts_with("q.onnx: ") && e.contains(want), "{want}: {e}");
    }
}

/// A constant folds into its layer only when nothing else reads the layer, under any name.
#[test]
fn folding_refuses_a_layer_read_under_another_name() {
    let mut gemm = node("Gemm", &["x", "W"], "h");
    gemm.attribute.push(int_attr("transB", 1));
    let bytes = model(
        vec![
            gemm,
            node("Flatten", &["h"], "f"),
            node("Greater", &["h", "th"], "s"),
            node("Add", &["f", "b"], "a"),
            node("Cast", &["s"], "y"),
        ],
        layer_constants(),
        17,
    );
    let e = load_bytes("m.onnx", &bytes).unwrap_err().to_string();
    assert!(e.contains("2 nodes read that layer"), "{e}");
}

/// A spike tensor input `x` of [channels 2, tokens 3] (batch 1) and output `y`.
fn attention_model(nodes: Vec<NodeProto>, init: Vec<TensorProto>) -> Vec<u8> {
    let mut m = ModelProto::decode(&model(nodes, init, 17)[..]).unwrap();
    let g = m.graph.as_mut().unwrap();
    g.input = vec![value("x", &[1, 2, 3])];
    g.output = vec![value("y", &[1, 2, 3])];
    m.encode_to_vec()
}

fn ints_attr(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INTS,
        ints: v.to_vec(),
        ..Default::default()
    }
}

#[test]
fn spike_attention_operators_lower_and_bad_ones_are_refused_clearly() {
    // x AND x, counted over tokens, thresholded, ANDed back: the SDSA pattern lowers.
    let ok = attention_model(
        vec![
            node("Mul", &["x", "x"], "kv"),
            node("ReduceSum", &["kv", "axes"], "s"),
            node("Greater", &["s", "th"], "m"),
            node("Cast", &["m"], "mf"),
            node("Mul", &["x", "mf"], "y"),
        ],
        vec![
            TensorProto {
                name: "axes".into(),
                dims: vec![1],
                data_type: data_type::INT64,
                int64_data: vec![2],
                ..Default::default()
            },
            tensor("th", &[], &[1.5]),
        ],
    );
    let g = load_bytes("a.onnx", &ok).unwrap();
    crate::ir::verify::verify(&g).unwrap();
    let kws: Vec<&str> = g.nodes.iter().map(|n| n.op.keyword()).collect();
    assert_eq!(
        kws,
        [
            "input",
            "spike_and",
            "popcount",
            "multi_threshold",
            "spike_and",
            "output"
        ]
    );
    // count > 1.5 is count >= 2.
    let Op::MultiThreshold(mt) = &g.node(g.find("Greater_m").unwrap()).op else {
        panic!()
    };
    assert_eq!(mt.thresholds.data, vec![2]);

    let with = |op: NodeProto| attention_model(vec![op], vec![tensor("w", &[2, 2, 1], &[1.0; 4])]);
    let mut two_axes = node("ReduceSum", &["x"], "y");
    two_axes.attribute.push(ints_attr("axes", &[1, 2]));
    let mut batch_axis = node("ReduceSum", &["x"], "y");
    batch_axis.attribute.push(ints_attr("axes", &[0]));
    let mut transpose_batch = node("Transpose", &["x"], "y");
    transpose_batch
        .attribute
        .push(ints_attr("perm", &[1, 0, 2]));
    let mut padded_pool = node("MaxPool", &["x"], "y");
    padded_pool.attribute.push(ints_attr("kernel_shape", &[2]));
    padded_pool.attribute.push(ints_attr("pads", &[1, 1]));
    let mut lopsided = node("Conv", &["x", "w"], "y");
    lopsided.attribute.push(ints_attr("pads", &[0, 1]));
    let cases = vec![
        (with(two_axes), "one axis is lowered"),
        (with(batch_axis), "batch axis"),
        (with(transpose_batch), "moves the batch axis"),
        (with(padded_pool), "padding"),
        (with(lopsided), "only symmetric padding"),
        (
            attention_model(
                vec![
                    node("Conv", &["x", "w"], "c"),
                    node("Mul", &["c", "x"], "y"),
                ],
                vec![tensor("w", &[2, 2, 1], &[1.0; 4])],
            ),
            "only spike tensors multiply",
        ),
        (
            attention_model(
                vec![node("Flatten", &["x"], "f"), node("Mul", &["f", "x"], "y")],
                vec![],
            ),
            "reshapes between spike-driven operators are not lowered",
        ),
    ];
    for (bytes, want) in cases {
        let e = load_bytes("a.onnx", &bytes).unwrap_err().to_string();
        assert!(e.starts_with("a.onnx: ") && e.contains(want), "{want}: {e}");
    }
}

/// The encoder fixture (`tools/encoder_onnx.py`), edited by `edit`.
fn encoder(edit: &dyn Fn(&mut GraphProto)) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx/encoder_e8_h2_s4.onnx");
    let mut m = proto::decode(&std::fs::read(path).unwrap()).unwrap();
    edit(m.graph.as_mut().unwrap());
    m.encode_to_vec()
}

fn set_const(g: &mut GraphProto, name: &str, v: f32) {
    let t = g.initializer.iter_mut().find(|t| t.name == name).unwrap();
    t.float_data = vec![v];
    t.raw_data.clear();
}

/// The quantiser reading the output of the first node with op `op`.
fn quant_after<'a>(g: &'a mut GraphProto, op: &str) -> &'a mut NodeProto {
    let out = g.node.iter().find(|n| n.op_type == op).unwrap().output[0].clone();
    g.node
        .iter_mut()
        .find(|n| n.op_type == "Quant" && n.input[0] == out)
        .unwrap()
}

#[test]
fn the_encoder_lowers_and_bad_transformer_layers_are_refused_clearly() {
    let g = load_bytes("enc.onnx", &encoder(&|_| {})).unwrap();
    let count = |kw: &str| g.nodes.iter().filter(|n| n.op.keyword() == kw).count();
    // Per head: Q, K, V, Q K^T, P V, the output projection; then the two MLP layers.
    assert_eq!(count("matmul"), 2 * 6 + 2);
    assert_eq!((count("softmax"), count("layer_norm")), (2, 2));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            // A fine grid before the softmax: exp over thousands of steps.
            encoder(&|g| {
                let q = quant_after(g, "Mul").input[1].clone();
                set_const(g, &q, 1.0 / 4096.0);
                let b = quant_after(g, "Mul").input[3].clone();
                set_const(g, &b, 16.0);
            }),
            "exponential table",
        ),
        (
            encoder(&|g| {
                let n = g
                    .node
                    .iter_mut()
                    .find(|n| n.op_type == "LayerNormalization")
                    .unwrap();
                n.attribute.retain(|a| a.name != "axis");
                n.attribute.push(int_attr("axis", 1));
            }),
            "normalises the last axis",
        ),
        (
            encoder(&|g| {
                let q = quant_after(g, "LayerNormalization");
                let a = q
                    .attribute
                    .iter_mut()
                    .find(|a| a.name == "rounding_mode")
                    .unwrap();
                a.s = b"UP".to_vec();
            }),
            "UP or HALF_DOWN",
        ),
        (
            encoder(&|g| {
                let n = g.node.iter_mut().find(|n| n.op_type == "Softmax").unwrap();
                n.attribute.retain(|a| a.name != "axis");
                n.attribute.push(int_attr("axis", 1));
            }),
            "takes the last axis",
        ),
        (
            encoder(&|g| {
                let n = g
                    .node
                    .iter_mut()
                    .find(|n| n.op_type == "Transpose")
                    .unwrap();
                n.attribute = vec![ints_attr("perm", &[1, 0, 2])];
            }),
            "moves the batch axis",
        ),
        (
            // The residual's two sides on different grids.
            encoder(&|g| {
                let q = g.node.iter().find(|n| n.op_type == "Quant").unwrap().input[1].clone();
                set_const(g, &q, 0.125);
            }),
            "different grids",
        ),
        (
            encoder(&|g| {
                let q = quant_after(g, "Softmax").input[1].clone();
                set_const(g, &q, 0.3);
            }),
            "power-of-two scale",
        ),
    ];
    for (bytes, want) in cases {
        let Err(e) = load_bytes("enc.onnx", &bytes) else {
            panic!("{want}: loaded");
        };
        let e = e.to_string();
        assert!(
            e.starts_with("enc.onnx: ") && e.contains(want),
            "{want}: {e}"
        );
    }
}
