//! Tests of the `.sfir` printer and parser: round trips, located errors and a snapshot.

use super::{parse, print, ParseError, MAX_ELEMS};
use crate::ir::graph::{Graph, Port};
use crate::ir::op::{
    Compare, Conv, FloatNeuron, IntConv, IntDense, IntNeuron, MultiThreshold, NeuronKind, Op, Pool,
    Reset, Tensor,
};
use crate::ir::tensor_ops::{LayerNorm, Requant, Rounding, Softmax, TensorOp};
use crate::ir::types::{Elem, Type};
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------- property tests

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_.]{0,6}",
        prop::sample::select(vec![
            "a b",
            "x.y",
            "ünïcødé",
            "q\"uote",
            "back\\slash",
            "",
            "new\nline",
            "tab\there",
            "nul\u{0}",
            "\u{7f}",
            "1abc",
            "%",
            "@prev",
            "graph",
            "input",
            "#",
            "}",
            "\u{10ffff}",
            "a\u{202e}b",
            ".x",
            "_",
        ])
        .prop_map(String::from),
        prop::collection::vec(any::<char>(), 0..6).prop_map(String::from_iter),
    ]
}

fn arb_f64(nan: bool) -> BoxedStrategy<f64> {
    let special = prop::sample::select(vec![
        0.0,
        -0.0,
        1.0,
        -1.25,
        0.5,
        1e-5,
        5e-324,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        1e300,
        -1e-300,
        123456789.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.1,
    ]);
    let any = any::<f64>();
    if nan {
        prop_oneof![special, any, Just(f64::NAN), Just(-f64::NAN)].boxed()
    } else {
        prop_oneof![
            special,
            any.prop_filter("NaN never compares equal", |x| !x.is_nan())
        ]
        .boxed()
    }
}

fn arb_i64() -> impl Strategy<Value = i64> + Clone {
    prop_oneof![any::<i64>(), -5i64..5, Just(i64::MIN), Just(i64::MAX)]
}

/// A vector of `len` values, sometimes all equal so the splat form is exercised.
fn arb_vec<T: Clone + std::fmt::Debug + 'static>(
    elem: impl Strategy<Value = T> + Clone + 'static,
    len: std::ops::Range<usize>,
) -> BoxedStrategy<Vec<T>> {
    prop_oneof![
        prop::collection::vec(elem.clone(), len.clone()),
        (elem, len).prop_map(|(x, n)| vec![x; n]),
    ]
    .boxed()
}

fn arb_tensor<T: Copy + std::fmt::Debug + 'static>(
    elem: impl Strategy<Value = T> + Clone + 'static,
) -> BoxedStrategy<Tensor<T>> {
    prop_oneof![
        4 => (1usize..6, 1usize..6),
        1 => (0usize..3, 0usize..3),
    ]
    .prop_flat_map(move |(r, c)| {
        arb_vec(elem.clone(), r * c..r * c + 1).prop_map(move |data| Tensor {
            shape: vec![r, c],
            data,
        })
    })
    .boxed()
}

fn arb_type() -> impl Strategy<Value = Type> {
    let elem = prop_oneof![
        Just(Elem::Spike),
        Just(Elem::Real),
        (any::<u32>(), any::<u32>()).prop_map(|(width, frac)| Elem::Fix { width, frac }),
    ];
    let shape = prop_oneof![
        8 => prop::collection::vec(1usize..6, 1..3),
        1 => Just(Vec::new()),
        1 => prop::collection::vec(0usize..3, 1..3),
    ];
    (elem, shape).prop_map(|(elem, shape)| Type { elem, shape })
}

fn arb_kind() -> impl Strategy<Value = NeuronKind> {
    prop::sample::select(NeuronKind::ALL.to_vec())
}

fn arb_reset() -> impl Strategy<Value = Reset> {
    prop::sample::select(vec![Reset::Zero, Reset::Subtract])
}

fn arb_compare() -> impl Strategy<Value = Compare> {
    prop::sample::select(vec![Compare::Gt, Compare::Ge])
}

/// Any op; neuron vectors have `n` entries, as the parser fills unused fields with `n` neutrals.
fn arb_op(n: usize, nan: bool) -> BoxedStrategy<Op> {
    let f = arb_f64(nan);
    let fvec = move || arb_vec(arb_f64(nan), 0..6);
    let ivec = || arb_vec(arb_i64(), 0..6);
    let float_neuron = (
        arb_kind(),
        prop::collection::vec(arb_vec(arb_f64(nan), n..n + 1), 7),
        arb_reset(),
        arb_compare(),
    )
        .prop_map(move |(kind, vals, reset, compare)| {
            let mut nr = FloatNeuron::neutral(kind, n);
            let used: Vec<&str> = nr.fields().iter().map(|(name, _)| *name).collect();
            for (name, v) in used.into_iter().zip(vals) {
                if let Some(slot) = nr.field_mut(name) {
                    *slot = v;
                }
            }
            if kind.spikes() {
                nr.reset = reset;
                nr.compare = compare;
            }
            Op::Neuron(nr)
        });
    let int_neuron = (
        (arb_kind(), arb_reset(), arb_compare(), any::<u32>()),
        prop::collection::vec(ivec(), 5),
        (
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            prop::collection::vec(f.clone(), 0..4),
        ),
    )
        .prop_map(
            |((kind, reset, compare, frac_bits), mut v, (syn_bits, mem_bits, saturate, scale))| {
                let mut next = || v.pop().unwrap_or_default();
                Op::IntNeuron(IntNeuron {
                    kind,
                    reset,
                    compare,
                    frac_bits,
                    syn_decay: next(),
                    mem_decay: next(),
                    bias: next(),
                    threshold: next(),
                    v_reset: next(),
                    syn_bits,
                    mem_bits,
                    saturate,
                    scale,
                })
            },
        );
    prop_oneof![
        1 => Just(Op::Input),
        1 => Just(Op::Output),
        1 => (arb_tensor(arb_f64(nan)), fvec()).prop_map(|(weight, bias)| Op::Affine { weight, bias }),
        1 => arb_tensor(arb_f64(nan)).prop_map(|weight| Op::Linear { weight }),
        1 => fvec().prop_map(|scale| Op::Scale { scale }),
        1 => fvec().prop_map(|delay| Op::Delay { delay }),
        1 => (arb_tensor(arb_f64(nan)), fvec(), prop::collection::vec(0usize..9, 11))
            .prop_map(|(weight, bias, d)| Op::Conv(Conv {
                weight,
                bias,
                in_shape: d[0..3].to_vec(),
                stride: d[3..5].to_vec(),
                padding: d[5..7].to_vec(),
                dilation: d[7..9].to_vec(),
                groups: d[9],
            })),
        1 => (prop::collection::vec(0usize..9, 8), any::<bool>())
            .prop_map(|(d, average)| Op::Pool(Pool {
                kernel: d[0..2].to_vec(),
                stride: d[2..4].to_vec(),
                padding: d[4..6].to_vec(),
                in_shape: d[5..8].to_vec(),
                average,
            })),
        1 => ivec().prop_map(|steps| Op::IntDelay { steps }),
        1 => arb_tensor(arb_i64()).prop_map(|thresholds| Op::MultiThreshold(MultiThreshold { thresholds })),
        3 => float_neuron,
        1 => (arb_tensor(arb_i64()), ivec(), prop::collection::vec(arb_f64(nan), 0..4))
            .prop_map(|(weight, bias, scale)| Op::Dense(IntDense { weight, bias, scale })),
        1 => (arb_tensor(arb_i64()), ivec(), prop::collection::vec(0usize..9, 10), prop::collection::vec(arb_f64(nan), 0..4))
            .prop_map(|(weight, bias, d, scale)| Op::IntConv(IntConv {
                conv: Conv {
                    weight,
                    bias,
                    in_shape: d[0..3].to_vec(),
                    stride: d[3..5].to_vec(),
                    padding: d[5..7].to_vec(),
                    dilation: d[7..9].to_vec(),
                    groups: d[9],
                },
                scale,
            })),
        3 => int_neuron,
        2 => (0usize..11, any::<bool>(), any::<bool>(), prop::collection::vec(0usize..9, 1..3), ivec(), 0u32..41, 0usize..7, arb_i64(), arb_i64())
            .prop_map(|(k, ta, tb, win, mul, shift, r, lo, hi)| Op::Tensor(match k {
                7 => TensorOp::IntMatmul { ta, tb },
                8 => TensorOp::Const { shape: win, data: mul },
                9 => TensorOp::Softmax(Softmax { exp: mul, frac: shift, hi: shift as i64 * 3 }),
                10 => TensorOp::LayerNorm(LayerNorm {
                    eps: shift as i64 * 7,
                    frac: shift,
                    add: mul.iter().rev().copied().collect(),
                    mul,
                    shift,
                    rounding: Rounding::ALL[r],
                    lo,
                    hi,
                }),
                0 => TensorOp::And,
                1 => TensorOp::Add,
                2 => TensorOp::Popcount { axis: win[0] },
                3 => TensorOp::Matmul { ta, tb },
                4 => TensorOp::OrPool { kernel: win.clone(), stride: win },
                5 => TensorOp::Transpose { perm: win },
                _ => TensorOp::Requant(Requant { mul, shift, rounding: Rounding::ALL[r], lo, hi }),
            })),
    ]
    .boxed()
}

/// Random graphs: any op mix, arbitrary (unique) names, ports to any node with forward and
/// self references always delayed.
fn arb_graph(nan: bool) -> impl Strategy<Value = Graph> {
    let node = arb_type().prop_flat_map(move |ty| {
        let n = ty.shape.iter().product();
        (
            arb_name(),
            Just(ty),
            arb_op(n, nan),
            prop::collection::vec((any::<Index>(), any::<bool>()), 0..3),
        )
    });
    (arb_name(), prop::collection::vec(node, 0..8)).prop_map(|(gname, nodes)| {
        let mut g = Graph::new(gname);
        let count = nodes.len();
        for (k, (name, ty, op, ports)) in nodes.into_iter().enumerate() {
            let name = if g.find(&name).is_some() {
                format!("{name}~{k}")
            } else {
                name
            };
            let inputs = ports
                .into_iter()
                .map(|(ix, delayed)| {
                    let src = ix.index(count);
                    let mut p = if delayed || src >= k {
                        Port::prev(crate::ir::NodeId(src as u32))
                    } else {
                        Port::now(crate::ir::NodeId(src as u32))
                    };
                    p.delayed |= src >= k;
                    p
                })
                .collect();
            g.add(name, op, inputs, ty);
        }
        g
    })
}

proptest! {
    // No failure persistence: it would write outside this module's folder.
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES overrides, for longer local runs.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn print_parse_round_trips(g in arb_graph(false)) {
        let text = print(&g);
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &g, "{}", text);
        prop_assert_eq!(print(&back), text);
    }

    #[test]
    fn print_parse_print_is_stable_with_nan(g in arb_graph(true)) {
        let text = print(&g);
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(print(&back), text);
    }

    /// Whatever the input, the parser returns (no panic) and locates errors inside the input.
    #[test]
    fn parse_never_panics(src in "\\PC{0,80}") {
        if let Err(e) = parse(&src) {
            prop_assert!(e.line >= 1 && e.col >= 1);
            prop_assert!(e.line <= src.lines().count().max(1) + 1);
        }
    }

    /// Mutations of a valid file (truncations, byte swaps) never panic the parser.
    #[test]
    fn parse_survives_mutations(g in arb_graph(true), cut in any::<Index>(), c in any::<char>()) {
        let text = print(&g);
        let chars: Vec<char> = text.chars().collect();
        let k = cut.index(chars.len() + 1);
        let truncated: String = chars.iter().take(k).collect();
        let _ = parse(&truncated);
        let mut replaced = chars.clone();
        if k < replaced.len() {
            replaced[k] = c;
        }
        let _ = parse(&replaced.into_iter().collect::<String>());
    }
}

// ---------------------------------------------------------------- errors

fn err(src: &str) -> ParseError {
    match parse(src) {
        Ok(g) => panic!("expected an error, parsed {g:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_err(src: &str, line: usize, col: usize, msg: &str) {
    let e = err(src);
    assert_eq!((e.line, e.col), (line, col), "{e}");
    assert!(e.message.contains(msg), "{e}");
    assert!(e.to_string().starts_with(&format!("{line}:{col}: ")), "{e}");
}

#[test]
fn unknown_op() {
    assert_err(
        "graph g {\n  %a: spike[2] = input\n  %b: real[2] = frobnicate(%a)\n}\n",
        3,
        17,
        "unknown op 'frobnicate'",
    );
}

#[test]
fn undefined_reference() {
    assert_err(
        "graph g {\n  %a: spike[2] = input\n  %o: spike[2] = output(%zz)\n}\n",
        3,
        25,
        "undefined node %zz",
    );
    assert_err(
        "graph g {\n  %o: spike[2] = output(%\"a b\"@prev)\n}\n",
        2,
        25,
        "undefined node %\"a b\"",
    );
}

#[test]
fn forward_reference_needs_prev() {
    let src = "graph g {\n  %a: spike[2] = input\n  %o: spike[2] = output(%a, %later)\n  %later: spike[2] = output(%a)\n}\n";
    assert_err(src, 3, 29, "needs @prev");
    // Self references are forward references too.
    assert_err(
        "graph g {\n  %s: real[1] = scale(%s) {scale = [1.0]}\n}",
        2,
        23,
        "needs @prev",
    );
    // With @prev both parse, and the port is delayed.
    let g = parse(&src.replace("%later)", "%later@prev)")).unwrap();
    assert_eq!(g.nodes[1].inputs[1], Port::prev(crate::ir::NodeId(2)));
}

#[test]
fn bad_type() {
    assert_err(
        "graph g {\n  %a: spkie[2] = input\n}",
        2,
        7,
        "unknown type 'spkie'",
    );
    assert_err(
        "graph g {\n  %a: fix<9>[2] = input\n}",
        2,
        12,
        "expected ','",
    );
    assert_err(
        "graph g {\n  %a: spike[2 3] = input\n}",
        2,
        15,
        "expected ',' or ']'",
    );
    assert_err(
        "graph g {\n  %a: fix<99999999999,0>[2] = input\n}",
        2,
        11,
        "out of range",
    );
}

#[test]
fn missing_unknown_and_duplicate_attributes() {
    assert_err(
        "graph g {\n  %a: spike[2] = input\n  %b: real[2] = linear(%a)\n}",
        3,
        17,
        "op 'linear' is missing attribute 'weight'",
    );
    assert_err(
        "graph g {\n  %b: real[2] = affine {weight = <1x1>[1.0]}\n}",
        2,
        17,
        "missing attribute 'bias'",
    );
    assert_err(
        "graph g {\n  %b: real[2] = linear {weight = <1x1>[1.0], tau = [1.0]}\n}",
        2,
        46,
        "unknown attribute 'tau' for op 'linear'",
    );
    assert_err(
        "graph g {\n  %b: real[2] = linear {weight = <1x1>[1.0], weight = <1x1>[1.0]}\n}",
        2,
        46,
        "duplicate attribute 'weight'",
    );
    // Li neither resets nor compares.
    assert_err(
        "graph g {\n  %b: real[1] = li {tau_mem = [1.0], r = [1.0], v_leak = [0.0], reset = zero}\n}",
        2,
        65,
        "unknown attribute 'reset' for op 'li'",
    );
    assert_err(
        "graph g {\n  %a: spike[2] = input {x = 1}\n}",
        2,
        25,
        "it takes none",
    );
}

#[test]
fn wrong_values() {
    assert_err(
        "graph g {\n  %b: real[2] = linear {weight = <2x2>[1.0, 2.0, 3.0]}\n}",
        2,
        34,
        "matrix <2x2> needs 4 values, got 3",
    );
    assert_err(
        "graph g {\n  %b: real[2] = linear {weight = <2x2>[1.0; 5]}\n}",
        2,
        34,
        "needs 4 values, got 5",
    );
    assert_err(
        "graph g {\n  %d: fix<9,0>[1] = dense {weight = <1x1>[1.5], bias = [0], scale = [1]}\n}",
        2,
        43,
        "expected an integer, found '1.5'",
    );
    assert_err(
        "graph g {\n  %b: real[1] = scale {scale = [1.0, 2x]}\n}",
        2,
        38,
        "malformed number",
    );
    assert_err(
        "graph g {\n  %b: real[1] = scale {scale = 1.0}\n}",
        2,
        32,
        "expected a vector",
    );
    assert_err(
        "graph g {\n  %b: real[1] = if {r = [1.0], v_threshold = [1.0], v_reset = [0.0], reset = zero, compare = gte}\n}",
        2,
        94,
        "expected gt or ge, found 'gte'",
    );
}

#[test]
fn absurd_shapes_are_rejected_before_allocating() {
    assert_err(
        "graph g {\n  %b: real[2] = linear {weight = <100000000x100000000>[0; 1]}\n}",
        2,
        34,
        "too many elements",
    );
    assert_err(
        "graph g {\n  %b: real[2] = linear {weight = <99999999999999999999x1>[0; 1]}\n}",
        2,
        35,
        "too large",
    );
    assert_err(
        "graph g {\n  %b: real[18446744073709551615,2] = input\n}",
        2,
        7,
        "too many elements",
    );
    let big = MAX_ELEMS + 1;
    assert_err(
        &format!("graph g {{\n  %b: real[1] = scale {{scale = [0.0; {big}]}}\n}}"),
        2,
        38,
        "exceeds the limit",
    );
    // A huge float neuron: its neutral fields alone exceed the total budget, which is checked
    // before any of them is allocated.
    let n = MAX_ELEMS / 2;
    assert_err(
        &format!(
            "graph g {{\n  %a: real[{n}] = if {{r = [1.0], v_threshold = [1.0], v_reset = [0.0], reset = zero, compare = gt}}\n}}"
        ),
        2,
        25,
        "values in total",
    );
}

#[test]
fn unterminated_string() {
    assert_err(
        "graph g {\n  %\"abc: spike[2] = input\n}",
        2,
        4,
        "unterminated string",
    );
    assert_err("graph \"g", 1, 7, "unterminated string");
    assert_err("graph \"g\\", 1, 7, "unterminated string");
    assert_err("graph \"g\\q\" {}", 1, 9, "unknown escape");
    assert_err("graph \"\\u{d800}\" {}", 1, 8, "not a valid character");
}

#[test]
fn truncated_input() {
    assert_err("", 1, 1, "unexpected end of input, expected 'graph'");
    assert_err("graph g {\n  %a: spike[", 2, 13, "unexpected end of input");
    assert_err(
        "graph g {\n  %a: spike[2] = input\n",
        3,
        1,
        "unexpected end of input, expected a node",
    );
    assert_err(
        "graph g {\n  %b: real[2] = linear {weight = <1x2>[1.0,",
        2,
        44,
        "unexpected end of input, expected a number",
    );
}

#[test]
fn trailing_garbage_and_duplicates() {
    assert_err("graphs g {}", 1, 1, "expected 'graph', found 'graphs'");
    assert_err(
        "graph g {}\n# ok\nx",
        3,
        1,
        "unexpected text after the end of the graph",
    );
    assert_err(
        "graph g {} graph h {}",
        1,
        12,
        "unexpected text after the end",
    );
    assert_err(
        "graph g {\n  %a: spike[2] = input\n  %a: spike[2] = input\n}",
        3,
        3,
        "duplicate node name %a",
    );
    assert_err(
        "graph g {\n  %a: spike[2] = output(%a@next)\n}",
        2,
        27,
        "only '@prev'",
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_err(
        "graph \"ü\" {\n  %\"ü\": spike[1] = nope\n}",
        2,
        20,
        "unknown op 'nope'",
    );
}

#[test]
fn accepts_free_layout_comments_and_int_literals_for_floats() {
    let src = "# leading comment\ngraph g { # brace\n  %a: spike[2] = input()\n  %b: real[1] =\n    linear(%a,) {\n      weight = <1 x 2>[\n        1, -2e3,  # a comment inside a vector\n      ],\n    }\n  %o: real[1] = output(%b) {}\n}  # done\n";
    let g = parse(src).unwrap();
    match &g.nodes[1].op {
        Op::Linear { weight } => assert_eq!(weight.data, vec![1.0, -2000.0]),
        op => panic!("{op:?}"),
    }
    assert_eq!(
        print(&g),
        "graph g {\n  %a: spike[2] = input\n  %b: real[1] = linear(%a) {weight = <1x2>[1.0, -2000.0]}\n  %o: real[1] = output(%b)\n}\n"
    );
}

#[test]
fn unused_float_fields_are_neutral() {
    let g = parse(
        "graph g {\n  %n: real[3] = li {tau_mem = [2.0; 3], r = [1.0; 3], v_leak = [0.5; 3]}\n}",
    )
    .unwrap();
    let mut want = FloatNeuron::neutral(NeuronKind::Li, 3);
    want.tau_mem = vec![2.0; 3];
    want.v_leak = vec![0.5; 3];
    assert_eq!(g.nodes[0].op, Op::Neuron(want));
}

// ---------------------------------------------------------------- snapshot

/// A small recurrent network with one float and one integer neuron layer.
fn sample() -> Graph {
    let mut g = Graph::new("sample net");
    let inp = g.add("input", Op::Input, vec![], Type::spike(3));
    let fc = g.add(
        "fc1",
        Op::Linear {
            weight: Tensor::new(vec![2, 3], vec![0.5, -1.25, 1e-5, 3.0, 0.0, -0.0]),
        },
        vec![Port::now(inp)],
        Type::real(2),
    );
    let mut lif = FloatNeuron::neutral(NeuronKind::CubaLif, 2);
    lif.tau_syn = vec![0.0004; 2];
    lif.tau_mem = vec![0.02, 0.03];
    lif.v_threshold = vec![1.0; 2];
    lif.reset = Reset::Subtract;
    let rec = crate::ir::NodeId(3);
    let l = g.add(
        "lif1.lif",
        Op::Neuron(lif),
        vec![Port::now(fc), Port::prev(rec)],
        Type::spike(2),
    );
    g.add(
        "lif1.w_rec",
        Op::Linear {
            weight: Tensor::new(vec![2, 2], vec![0.0; 4]),
        },
        vec![Port::now(l)],
        Type::real(2),
    );
    let d = g.add(
        "d",
        Op::Dense(IntDense {
            weight: Tensor::new(vec![2, 3], vec![1, -3, 0, 7, 7, 7]),
            bias: vec![0; 2],
            scale: vec![12.5; 2],
        }),
        vec![Port::now(inp)],
        Type::fix(9, 2),
    );
    let n = g.add(
        "n",
        Op::IntNeuron(IntNeuron {
            kind: NeuronKind::Lif,
            reset: Reset::Zero,
            compare: Compare::Ge,
            frac_bits: 12,
            syn_decay: vec![0; 2],
            mem_decay: vec![614, 615],
            bias: vec![0; 2],
            threshold: vec![125; 2],
            v_reset: vec![0; 2],
            syn_bits: 2,
            mem_bits: 10,
            saturate: false,
            scale: vec![12.5; 2],
        }),
        vec![Port::now(d)],
        Type::spike(2),
    );
    g.add("out", Op::Output, vec![Port::now(n)], Type::spike(2));
    g
}

#[test]
fn snapshot_of_sample() {
    let g = sample();
    let text = print(&g);
    insta::assert_snapshot!(text);
    assert_eq!(parse(&text).unwrap(), g);
}

#[test]
fn edge_literals() {
    let g = parse(
        "graph g {\n  %a: real[1] = scale {scale = [-NaN, +inf, -inf, 1e400, -0, 7]}\n  %d: fix<2,0>[1] = dense {weight = <0x3>[], bias = [-9223372036854775808], scale = [-1e-400]}\n}",
    )
    .unwrap();
    let Op::Scale { scale } = &g.nodes[0].op else {
        panic!()
    };
    assert!(scale[0].is_nan());
    assert_eq!(
        scale[1..],
        [f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, 0.0, 7.0]
    );
    assert_eq!(
        print(&g).lines().nth(2),
        Some("  %d: fix<2,0>[1] = dense {weight = <0x3>[], bias = [-9223372036854775808], scale = [-0.0]}")
    );
    assert_err(
        "graph g {\n  %d: fix<2,0>[1] = dense {weight = <0x3>[], bias = [9223372036854775808], scale = [1]}\n}",
        2,
        54,
        "does not fit in 64 bits",
    );
    assert_err("graph \"\\u{}\" {}", 1, 8, "invalid unicode escape");
    assert_err("graph \"\\u{110000}\" {}", 1, 8, "not a valid character");
    assert_err(
        "\u{feff}graph g {}",
        1,
        1,
        "expected 'graph', found '\\u{feff}'",
    );
    assert_err("graph g { # no end", 1, 19, "unexpected end of input");
    assert_eq!(parse("graph \"\\u{41}\\t\" {}").unwrap().name, "A\t");
}
