#!/usr/bin/env python3
"""Dev script: writes the ONNX test fixtures with the official `onnx` package (not Spikeforge),
and the outputs numpy computes for them, so the reader is checked against the reference
implementation of the format.

    python3 -m venv /tmp/onnxvenv && /tmp/onnxvenv/bin/pip install onnx==1.17.0 numpy
    /tmp/onnxvenv/bin/python tools/onnx_fixtures.py compiler/tests/fixtures/onnx

spike_mlp.onnx: 16 spike inputs -> Gemm(transB) -> GreaterOrEqual -> Cast -> MatMul -> Add ->
Mul -> Greater -> Cast (10 outputs), as PyTorch exports a spike-driven (threshold-neuron) MLP.
spike_mlp.expected.json: random spike inputs and numpy's outputs; no hidden pre-activation
lies within 1e-3 of its threshold, so float32 and float64 arithmetic agree on every spike.
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(rng):
    w1 = rng.normal(0, 0.5, (32, 16)).astype(np.float32)  # Gemm with transB: [out, in]
    b1 = rng.normal(0, 0.1, 32).astype(np.float32)
    th1 = np.float32(0.5)
    w2 = rng.normal(0, 0.5, (32, 10)).astype(np.float32)  # MatMul: [in, out]
    b2 = rng.normal(0, 0.1, 10).astype(np.float32)
    k2 = np.float32(1.5)
    th2 = rng.uniform(0.2, 1.0, 10).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"], name="fc1", transB=1),
        helper.make_node("GreaterOrEqual", ["h1", "th1"], ["s1b"], name="lif1"),
        helper.make_node("Cast", ["s1b"], ["s1"], name="cast1", to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["s1", "w2"], ["m2"], name="fc2"),
        helper.make_node("Add", ["m2", "b2"], ["a2"], name="bias2"),
        helper.make_node("Mul", ["a2", "k2"], ["h2"], name="scale2"),
        helper.make_node("Greater", ["h2", "th2"], ["s2b"], name="lif2"),
        helper.make_node("Cast", ["s2b"], ["y"], name="cast2", to=TensorProto.FLOAT),
    ]
    inits = [
        numpy_helper.from_array(w1, "w1"),
        numpy_helper.from_array(b1, "b1"),
        numpy_helper.from_array(np.array(th1), "th1"),
        numpy_helper.from_array(w2, "w2"),
        numpy_helper.from_array(b2, "b2"),
        numpy_helper.from_array(np.array(k2), "k2"),
        numpy_helper.from_array(th2, "th2"),
    ]
    graph = helper.make_graph(
        nodes,
        "spike_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tools/onnx_fixtures.py"
    )
    onnx.checker.check_model(model)

    def run(x):
        h1 = x @ w1.T.astype(np.float64) + b1
        s1 = (h1 >= th1).astype(np.float64)
        h2 = (s1 @ w2.astype(np.float64) + b2) * k2
        return h1, h2, (h2 > th2).astype(np.float64)

    return model, run, (th1, th2)


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "compiler/tests/fixtures/onnx")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    model, run, (th1, th2) = build(rng)
    inputs, outputs = [], []
    while len(inputs) < 24:
        x = (rng.random(16) < 0.4).astype(np.float64)
        h1, h2, y = run(x)
        if np.min(np.abs(h1 - th1)) < 1e-3 or np.min(np.abs(h2 - th2)) < 1e-3:
            continue
        inputs.append(x.astype(int).tolist())
        outputs.append(y.astype(int).tolist())
    onnx.save(model, out / "spike_mlp.onnx")
    (out / "spike_mlp.expected.json").write_text(
        json.dumps({"inputs": inputs, "outputs": outputs}, indent=None) + "\n"
    )
    print(f"wrote {out / 'spike_mlp.onnx'} and its expected outputs ({len(inputs)} vectors)")


if __name__ == "__main__":
    main()
