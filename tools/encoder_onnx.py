#!/usr/bin/env python3
"""Dev script: a tiny quantised transformer encoder layer (embedding 32, 2 heads, sequence 16)
as QONNX, with the official `onnx` package, and its outputs from the `qonnx` package's own
execution (onnxruntime computes Softmax and LayerNormalization in float), so the integer
model Spikeforge compiles can be compared with the float graph it came from.

    python3 -m venv /tmp/onnxvenv && /tmp/onnxvenv/bin/pip install onnx==1.17.0 numpy qonnx
    /tmp/onnxvenv/bin/python tools/encoder_onnx.py examples/encoder_e32_h2_s16.onnx
    /tmp/onnxvenv/bin/python tools/encoder_onnx.py --emb 8 --heads 2 --seq 4 --hidden 16 \
        compiler/tests/fixtures/onnx/encoder_e8_h2_s4.onnx

The layer (post-norm, as in BERT), every tensor between operators quantised with Quant
(power-of-two scales, as Brevitas exports hardware-targeted models):

    x [1, 16, 32] -> Quant(8 bits, 2^-4)
    per head h (2 x 16 channels; a per-head weight slice instead of Reshape/Split, the same
    arithmetic): Q_h, K_h, V_h = Quant(x Wq_h), Quant(x Wk_h), Quant(x Wv_h) (8-bit weights);
    S_h = Quant(Q_h K_h^T * 1/sqrt(16)) (8 bits, 2^-4), P_h = Quant(Softmax(S_h)) (8 bits
    unsigned, 2^-8), C_h = Quant(P_h V_h)
    attention = Quant(sum_h C_h Wo_h + bo) (the concatenation times Wo, split by head)
    h1 = Quant(LayerNormalization(x + attention))
    f = Quant(Relu(h1 W1 + b1)) (64 hidden, unsigned), h2 = Quant(f W2 + b2)
    y = Quant(LayerNormalization(h1 + h2))

Weights are random (seeded), not trained; biases are on their accumulator's grid.
<name>.expected.json beside the model: the input integers and qonnx's outputs on them.
"""
import argparse
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

DOMAIN = "qonnx.custom_op.general"
S_ACT, S_W = 2.0 ** -4, 2.0 ** -6


class Builder:
    def __init__(self):
        self.nodes, self.inits, self.k = [], [], 0

    def const(self, name, a):
        self.inits.append(numpy_helper.from_array(np.asarray(a, dtype=np.float32), name))
        return name

    def node(self, op, ins, **kw):
        self.k += 1
        out = f"t{self.k}"
        self.nodes.append(helper.make_node(op, ins, [out], name=f"{op.lower()}{self.k}", **kw))
        return out

    def quant(self, x, scale, bits, signed=1, narrow=0, mode="ROUND"):
        tag = f"q{self.k + 1}"
        s = self.const(f"{tag}_s", scale)
        z = self.const(f"{tag}_z", 0.0)
        b = self.const(f"{tag}_b", bits)
        return self.node("Quant", [x, s, z, b], domain=DOMAIN, signed=signed, narrow=narrow,
                         rounding_mode=mode)

    def weight(self, name, shape, rng, std):
        w = self.const(name, rng.normal(0, std, shape))
        return self.quant(w, S_W, 8, narrow=1)

    def bias(self, name, n, acc_scale, rng):
        return self.const(name, rng.integers(-64, 64, n) * acc_scale)


def build(rng, seq, emb, heads, hidden):
    head = emb // heads
    b = Builder()
    x = b.quant("x", S_ACT, 8)
    # Weights of about 1/sqrt(fan-in), so activations keep their spread through the layer.
    std = 1.0 / np.sqrt(emb)
    outs = []
    for h in range(heads):
        q = b.quant(b.node("MatMul", [x, b.weight(f"wq{h}", (emb, head), rng, std)]), S_ACT, 8)
        k = b.quant(b.node("MatMul", [x, b.weight(f"wk{h}", (emb, head), rng, std)]), S_ACT, 8)
        v = b.quant(b.node("MatMul", [x, b.weight(f"wv{h}", (emb, head), rng, std)]), S_ACT, 8)
        kt = b.node("Transpose", [k], perm=[0, 2, 1])
        s = b.node("MatMul", [q, kt])
        s = b.quant(b.node("Mul", [s, b.const(f"inv_sqrt_d{h}", 1.0 / np.sqrt(head))]),
                    S_ACT, 8)
        p = b.quant(b.node("Softmax", [s], axis=-1), 2.0 ** -8, 8, signed=0)
        c = b.quant(b.node("MatMul", [p, v]), S_ACT, 8)
        outs.append(b.node("MatMul", [c, b.weight(f"wo{h}", (head, emb), rng, std)]))
    att = b.node("Add", outs)
    att = b.node("Add", [att, b.bias("bo", emb, S_ACT * S_W, rng)])
    att = b.quant(att, S_ACT, 8)
    r1 = b.node("Add", [x, att])

    def norm(r, tag):
        g = b.const(f"{tag}_gamma", rng.uniform(0.5, 1.5, emb))
        be = b.const(f"{tag}_beta", rng.uniform(-0.5, 0.5, emb))
        return b.quant(b.node("LayerNormalization", [r, g, be], axis=-1, epsilon=1e-5),
                       S_ACT, 8)

    h1 = norm(r1, "ln1")
    f = b.node("MatMul", [h1, b.weight("w1", (emb, hidden), rng, std)])
    f = b.node("Add", [f, b.bias("b1", hidden, S_ACT * S_W, rng)])
    f = b.quant(b.node("Relu", [f]), S_ACT, 8, signed=0)
    f2 = b.node("MatMul", [f, b.weight("w2", (hidden, emb), rng, 1.0 / np.sqrt(hidden))])
    f2 = b.node("Add", [f2, b.bias("b2", emb, S_ACT * S_W, rng)])
    f2 = b.quant(f2, S_ACT, 8)
    y = norm(b.node("Add", [h1, f2]), "ln2")
    b.nodes.append(helper.make_node("Identity", [y], ["y"], name="out"))
    graph = helper.make_graph(
        b.nodes, f"encoder_e{emb}_h{heads}_s{seq}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, emb])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, seq, emb])],
        b.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                   helper.make_opsetid(DOMAIN, 1)],
                             producer_name="tools/encoder_onnx.py")


def expected(model, rng, count, seq, emb):
    mw = ModelWrapper(model).transform(InferShapes())
    inputs, outputs = [], []
    for _ in range(count):
        x = rng.normal(0, 1.0, (1, seq, emb)).astype(np.float32)
        q = np.clip(np.round(x / np.float32(S_ACT)), -128, 127).astype(int)
        y = execute_onnx(mw, {"x": x})["y"]
        inputs.append(q.reshape(-1).tolist())
        outputs.append([float(v) for v in y.reshape(-1)])
    return {"inputs": inputs, "outputs": outputs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default="examples/encoder_e32_h2_s16.onnx")
    ap.add_argument("--emb", type=int, default=32)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--seq", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--seed", type=int, default=32)
    ap.add_argument("--samples", type=int, default=8)
    a = ap.parse_args()
    out = Path(a.out)
    rng = np.random.default_rng(a.seed)
    model = build(rng, a.seq, a.emb, a.heads, a.hidden)
    onnx.checker.check_model(model)
    onnx.save(model, out)
    exp = out.with_suffix(".expected.json")
    exp.write_text(json.dumps(expected(model, rng, a.samples, a.seq, a.emb)) + "\n")
    print(f"wrote {out} ({len(model.graph.node)} nodes) and {exp}")


if __name__ == "__main__":
    main()
