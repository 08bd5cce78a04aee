#!/usr/bin/env python3
"""Dev script: writes QONNX test fixtures with the official `onnx` package and their outputs
from the `qonnx` package's own execution (`execute_onnx`), so Spikeforge's lowering of Quant
is checked bit for bit against the reference, in every rounding mode.

    python3 -m venv /tmp/onnxvenv && /tmp/onnxvenv/bin/pip install onnx==1.17.0 numpy qonnx
    /tmp/onnxvenv/bin/python tools/qonnx_fixtures.py compiler/tests/fixtures/onnx

qmlp_<MODE>.onnx: 16 inputs -> Quant(8-bit) -> MatMul(6-bit narrow weights) -> Add(bias on
the accumulator grid) -> Relu -> Quant(3-bit unsigned, MODE) -> MatMul -> Add -> Relu ->
Quant(4-bit signed, MODE) -> MatMul -> Add -> output; per-tensor and per-channel power-of-two
scales; weights quantised from random floats with MODE too.
qmlp_act_<ACT>.onnx: the same MLP with another activation before each hidden Quant: Sigmoid,
Tanh, GELU as PyTorch exports it (x * 0.5 * (1 + Erf(x / sqrt 2))) and SiLU (x * Sigmoid(x));
onnxruntime (inside qonnx's execution) computes the transcendental functions.
bnn.onnx: a binarised MLP, 16 -> 24 -> 5: BipolarQuant weights (sign times a power of two)
and a BipolarQuant activation (sign of the biased accumulator).
trunc_v1.onnx, trunc_v2.onnx: Quant(8 bits) -> MatMul -> Trunc (QONNX v1: 16 to 10 bits,
FLOOR; v2: to an output scale 2^6 coarser, 6 bits signed, ROUND, clamping) -> output, as
Brevitas exports the truncation after an average pool's sum.
jet_mlp.onnx: the jet-tagging architecture (16-64-32-32-5, 6-bit weights, 3-bit ReLU
activations, ROUND), random weights (not trained).
<name>.expected.json: the integer inputs (the input Quant's integers), and qonnx's outputs.
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

DOMAIN = "qonnx.custom_op.general"
MODES = ["ROUND", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN"]


def const(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def quant(inp, out, scale, bits, signed, narrow, mode, inits, tag):
    inits += [const(f"{tag}_s", scale), const(f"{tag}_z", 0.0), const(f"{tag}_b", bits)]
    return helper.make_node("Quant", [inp, f"{tag}_s", f"{tag}_z", f"{tag}_b"], [out],
                            domain=DOMAIN, name=tag, signed=signed, narrow=narrow,
                            rounding_mode=mode)


def activation(act, a, r, nodes, inits, l):
    """Nodes computing `r = act(a)`, as exporters write them."""
    node = lambda *args, **kw: nodes.append(helper.make_node(*args, **kw))
    if act in ("Relu", "Sigmoid", "Tanh"):
        node(act, [a], [r], name=f"{act.lower()}{l}")
    elif act == "GeluErf":
        inits += [const(f"sqrt2_{l}", np.sqrt(2.0)), const(f"one_{l}", 1.0),
                  const(f"half_{l}", 0.5)]
        node("Div", [a, f"sqrt2_{l}"], [f"gd{l}"], name=f"gelu_div{l}")
        node("Erf", [f"gd{l}"], [f"ge{l}"], name=f"gelu_erf{l}")
        node("Add", [f"ge{l}", f"one_{l}"], [f"ga{l}"], name=f"gelu_add{l}")
        node("Mul", [a, f"ga{l}"], [f"gm{l}"], name=f"gelu_mul{l}")
        node("Mul", [f"gm{l}", f"half_{l}"], [r], name=f"gelu_half{l}")
    elif act == "SiLU":
        node("Sigmoid", [a], [f"sg{l}"], name=f"silu_sigmoid{l}")
        node("Mul", [a, f"sg{l}"], [r], name=f"silu_mul{l}")
    else:
        raise ValueError(act)


def build(sizes, act_bits, mode, rng, per_channel, act="Relu"):
    nodes, inits = [], []
    s_in = 2.0 ** -4
    nodes.append(quant("x", "xq", s_in, 8, 1, 0, "ROUND", inits, "qin"))
    prev, prev_scale = "xq", s_in
    for l in range(len(sizes) - 1):
        n_in, n_out = sizes[l], sizes[l + 1]
        if per_channel and l == 0:
            s_w = 2.0 ** -rng.integers(3, 6, n_out)
            s_w = s_w.astype(np.float32).reshape(1, n_out)
        else:
            s_w = np.float32(2.0 ** -4)
        w = rng.normal(0, 0.6, (n_in, n_out)).astype(np.float32)
        inits.append(const(f"w{l}", w))
        nodes.append(quant(f"w{l}", f"w{l}q", s_w, 6, 1, 1, mode, inits, f"qw{l}"))
        nodes.append(helper.make_node("MatMul", [prev, f"w{l}q"], [f"m{l}"], name=f"fc{l}"))
        # Bias on the accumulator's grid (as Brevitas exports int32 biases).
        acc_scale = prev_scale * np.asarray(s_w, dtype=np.float64).reshape(-1)
        bias = (rng.integers(-40, 40, n_out) * acc_scale).astype(np.float32)
        inits.append(const(f"b{l}", bias))
        nodes.append(helper.make_node("Add", [f"m{l}", f"b{l}"], [f"a{l}"], name=f"bias{l}"))
        last = l == len(sizes) - 2
        if last:
            nodes.append(helper.make_node("Identity", [f"a{l}"], ["y"], name="out"))
        else:
            activation(act, f"a{l}", f"r{l}", nodes, inits, l)
            bits, signed, *scale = act_bits[l]
            s_a = np.float32(scale[0] if scale else 2.0 ** -2)
            nodes.append(quant(f"r{l}", f"h{l}", s_a, bits, signed, 0, mode, inits, f"qa{l}"))
            prev, prev_scale = f"h{l}", float(s_a)
    graph = helper.make_graph(
        nodes, "qmlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, sizes[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, sizes[-1]])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid(DOMAIN, 1)],
                              producer_name="tools/qonnx_fixtures.py")
    return model


def build_bnn(rng):
    nodes, inits = [], []
    nodes.append(quant("x", "xq", 2.0 ** -4, 8, 1, 0, "ROUND", inits, "qin"))

    def bipolar(inp, out, scale, tag):
        inits.append(const(f"{tag}_s", scale))
        nodes.append(helper.make_node("BipolarQuant", [inp, f"{tag}_s"], [out], domain=DOMAIN,
                                      name=tag))

    prev, prev_scale = "xq", 2.0 ** -4
    for l, (n_in, n_out, s_w) in enumerate([(16, 24, 2.0 ** -3), (24, 5, 2.0 ** -2)]):
        inits.append(const(f"w{l}", rng.normal(0, 1.0, (n_in, n_out))))
        bipolar(f"w{l}", f"w{l}q", s_w, f"bw{l}")
        nodes.append(helper.make_node("MatMul", [prev, f"w{l}q"], [f"m{l}"], name=f"fc{l}"))
        inits.append(const(f"b{l}", rng.integers(-8, 8, n_out) * prev_scale * s_w))
        nodes.append(helper.make_node("Add", [f"m{l}", f"b{l}"], [f"a{l}"], name=f"bias{l}"))
        if l == 0:
            bipolar("a0", "h0", 1.0, "ba0")
            prev, prev_scale = "h0", 1.0
    nodes.append(helper.make_node("Identity", ["a1"], ["y"], name="out"))
    graph = helper.make_graph(
        nodes, "bnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                   helper.make_opsetid(DOMAIN, 1)],
                             producer_name="tools/qonnx_fixtures.py")


def build_trunc(rng, version):
    nodes, inits = [], []
    nodes.append(quant("x", "xq", 2.0 ** -4, 8, 1, 0, "ROUND", inits, "qin"))
    inits.append(const("w", rng.normal(0, 0.6, (16, 6))))
    nodes.append(quant("w", "wq", 2.0 ** -4, 6, 1, 1, "ROUND", inits, "qw"))
    nodes.append(helper.make_node("MatMul", ["xq", "wq"], ["m"], name="fc"))
    inits += [const("t_s", 2.0 ** -8), const("t_z", 0.0), const("t_in", 16.0)]
    if version == 1:
        inits.append(const("t_out", 10.0))
        ins, mode = ["m", "t_s", "t_z", "t_in", "t_out"], "FLOOR"
    else:
        inits += [const("t_os", 2.0 ** -2), const("t_out", 6.0)]
        ins, mode = ["m", "t_s", "t_z", "t_in", "t_os", "t_out"], "ROUND"
    nodes.append(helper.make_node("Trunc", ins, ["y"], domain=DOMAIN, name="trunc",
                                  rounding_mode=mode))
    graph = helper.make_graph(
        nodes, f"trunc_v{version}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                   helper.make_opsetid(DOMAIN, version)],
                             producer_name="tools/qonnx_fixtures.py")


def expected(model, n_in, rng, count):
    mw = ModelWrapper(model).transform(InferShapes())
    inputs, outputs = [], []
    for _ in range(count):
        # Inputs spread over the 8-bit grid and past it (clamping), on and between grid points.
        x = (rng.normal(0, 3.0, (1, n_in))).astype(np.float32)
        x[0, :3] = np.array([100.0, -100.0, 0.03125], dtype=np.float32)[: min(3, n_in)]
        q = np.clip(np.round(x / np.float32(2.0 ** -4)), -128, 127).astype(int)
        y = execute_onnx(mw, {"x": x})["y"]
        inputs.append(q.reshape(-1).tolist())
        outputs.append([float(v) for v in y.reshape(-1)])
    return {"inputs": inputs, "outputs": outputs}


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "compiler/tests/fixtures/onnx")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    for mode in MODES:
        m = build([16, 12, 8, 5], [(3, 0), (4, 1)], mode, rng, per_channel=True)
        onnx.save(m, out / f"qmlp_{mode.lower()}.onnx")
        (out / f"qmlp_{mode.lower()}.expected.json").write_text(
            json.dumps(expected(m, 16, rng, 16)) + "\n")
    m = build([16, 64, 32, 32, 5], [(3, 0), (3, 0), (3, 0)], "ROUND", rng, per_channel=False)
    onnx.save(m, out / "jet_mlp.onnx")
    (out / "jet_mlp.expected.json").write_text(json.dumps(expected(m, 16, rng, 16)) + "\n")
    # Output grids chosen so each quantised activation is a rising staircase (a GELU or SiLU
    # dip below zero finer than the grid would make it fall again: refused, see the tests).
    acts = {
        "sigmoid": ("Sigmoid", [(4, 0, 2.0 ** -4), (4, 0, 2.0 ** -4)]),
        "tanh": ("Tanh", [(4, 1, 2.0 ** -3), (4, 1, 2.0 ** -3)]),
        "gelu": ("GeluErf", [(4, 1, 2.0 ** -1), (4, 1, 2.0 ** -1)]),
        "silu": ("SiLU", [(4, 0, 2.0 ** -2), (4, 0, 2.0 ** -2)]),
    }
    for name, (act, bits) in acts.items():
        m = build([16, 12, 8, 5], bits, "ROUND", rng, per_channel=True, act=act)
        onnx.save(m, out / f"qmlp_act_{name}.onnx")
        (out / f"qmlp_act_{name}.expected.json").write_text(
            json.dumps(expected(m, 16, rng, 16)) + "\n")
    m = build_bnn(rng)
    onnx.save(m, out / "bnn.onnx")
    (out / "bnn.expected.json").write_text(json.dumps(expected(m, 16, rng, 16)) + "\n")
    for version in (1, 2):
        m = build_trunc(rng, version)
        onnx.save(m, out / f"trunc_v{version}.onnx")
        (out / f"trunc_v{version}.expected.json").write_text(
            json.dumps(expected(m, 16, rng, 16)) + "\n")
    print(f"wrote {len(MODES) + len(acts) + 4} QONNX fixtures to {out}")


if __name__ == "__main__":
    main()
