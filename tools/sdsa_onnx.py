#!/usr/bin/env python3
"""Dev script: writes a spike-driven self-attention block (SDSA, Spike-driven Transformer v1)
as ONNX with the official `onnx` package, in the operators `torch.onnx.export` emits for it at
T = 1 (where a LIF neuron is a Heaviside step: Greater + Cast), and numpy's outputs for random
spike inputs, so the frontend is checked against an independent reference.

    python3 -m venv /tmp/onnxvenv && /tmp/onnxvenv/bin/pip install onnx==1.17.0 numpy
    /tmp/onnxvenv/bin/python tools/sdsa_onnx.py compiler/tests/fixtures/onnx --channels 16 --tokens 16
    /tmp/onnxvenv/bin/python tools/sdsa_onnx.py examples --channels 64 --tokens 64 --vectors 0

PyTorch itself is not used: its PyPI wheels pull in the CUDA stack, and the graph below is
what its exporter writes for `Conv1d(C, C, 1)` projections, `(x > th).float()` spikes,
`k * v`, `.sum(dim=2, keepdim=True)`, `q * mask` and `o + x` (opset 17, NCL layout).

Block: x [1, C, N] spikes; Q, K, V = H(Conv1x1(x) - th); mask = H(sum over tokens of K*V > 1.5);
attention = Q * mask; out = H(Conv1x1(attention) - th_o) + x (the membrane shortcut).
Heads group channels; SDSA's per-channel sums do not see them, so the ONNX graph has none.

--kind ssa writes Spikformer's spiking self-attention (Zhou et al., ICLR 2023) instead:
scores = Q^T K (spike counts, tokens x tokens), context = scores V^T (counts where V spiked),
transposed back to channels x tokens, times 0.125, and a threshold: the operators `MatMul` of
spikes, `MatMul` of counts by spikes, `Transpose` and `Mul` by a constant.
"""
import argparse
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(c, n, rng, kind="sdsa", ssa_th=0.5):
    inits, nodes = [], []

    def proj(name, src):
        w = rng.normal(0, 0.6, (c, c, 1)).astype(np.float32)
        b = rng.normal(0, 0.1, c).astype(np.float32)
        th = np.float32(1.0)
        inits.extend([
            numpy_helper.from_array(w, f"{name}_w"),
            numpy_helper.from_array(b, f"{name}_b"),
            numpy_helper.from_array(np.array(th), f"{name}_th"),
        ])
        nodes.extend([
            helper.make_node("Conv", [src, f"{name}_w", f"{name}_b"], [f"{name}_c"],
                             name=f"{name}_conv", kernel_shape=[1]),
            helper.make_node("Greater", [f"{name}_c", f"{name}_th"], [f"{name}_g"],
                             name=f"{name}_lif"),
            helper.make_node("Cast", [f"{name}_g"], [name], name=f"{name}_cast",
                             to=TensorProto.FLOAT),
        ])
        return w, b, th

    params = {p: proj(p, "x") for p in "qkv"}
    if kind == "ssa":
        inits.append(numpy_helper.from_array(np.array(np.float32(0.125)), "attn_scale"))
        inits.append(numpy_helper.from_array(np.array(np.float32(ssa_th)), "attn_th"))
        t = lambda src, out: helper.make_node("Transpose", [src], [out], name=out, perm=[0, 2, 1])
        nodes.extend([
            t("q", "q_t"),
            helper.make_node("MatMul", ["q_t", "k"], ["scores"], name="scores"),
            t("v", "v_t"),
            helper.make_node("MatMul", ["scores", "v_t"], ["ctx_t"], name="ctx_mm"),
            t("ctx_t", "ctx"),
            helper.make_node("Mul", ["ctx", "attn_scale"], ["ctx_s"], name="ctx_scale"),
            helper.make_node("Greater", ["ctx_s", "attn_th"], ["attn_g"], name="attn_lif"),
            helper.make_node("Cast", ["attn_g"], ["attn"], name="attn_cast", to=TensorProto.FLOAT),
        ])
    else:
        inits.append(numpy_helper.from_array(np.array([2], dtype=np.int64), "axes"))
        inits.append(numpy_helper.from_array(np.array(np.float32(1.5)), "mask_th"))
        nodes.extend([
            helper.make_node("Mul", ["k", "v"], ["kv"], name="kv"),
            helper.make_node("ReduceSum", ["kv", "axes"], ["kv_sum"], name="kv_sum", keepdims=1),
            helper.make_node("Greater", ["kv_sum", "mask_th"], ["mask_g"], name="mask"),
            helper.make_node("Cast", ["mask_g"], ["mask_f"], name="mask_cast",
                             to=TensorProto.FLOAT),
            helper.make_node("Mul", ["q", "mask_f"], ["attn"], name="attn"),
        ])
    params["o"] = proj("o", "attn")
    nodes.append(helper.make_node("Add", ["o", "x"], ["y"], name="shortcut"))
    graph = helper.make_graph(
        nodes,
        f"{kind}_{c}x{n}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, n])],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tools/sdsa_onnx.py"
    )
    onnx.checker.check_model(model)

    def run(x):
        """numpy float64 reference; also returns each pre-activation's distance to its
        threshold, so vectors on a knife edge (where float32 could differ) are skipped."""
        margin = np.inf

        def lif(p, src):
            nonlocal margin
            w, b, th = params[p]
            pre = np.einsum("oi,in->on", w[:, :, 0].astype(np.float64), src) + b[:, None]
            margin = min(margin, np.min(np.abs(pre - th)))
            return (pre > th).astype(np.float64)

        q, k, v = lif("q", x), lif("k", x), lif("v", x)
        if kind == "ssa":
            ctx = ((q.T @ k) @ v.T).T * 0.125
            margin = min(margin, np.min(np.abs(ctx - ssa_th)))
            mask = (ctx > ssa_th).astype(np.float64)
            attn = mask
        else:
            mask = ((k * v).sum(axis=1, keepdims=True) > 1.5).astype(np.float64)
            attn = q * mask
        return lif("o", attn) + x, margin, mask

    return model, run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--vectors", type=int, default=24)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--kind", choices=["sdsa", "ssa"], default="sdsa")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    model, run = build(a.channels, a.tokens, rng, a.kind)
    a.out.mkdir(parents=True, exist_ok=True)
    stem = f"{a.kind}_{a.channels}x{a.tokens}"
    onnx.save(model, a.out / f"{stem}.onnx")
    inputs, outputs, opened = [], [], 0
    while len(inputs) < a.vectors:
        x = (rng.random((a.channels, a.tokens)) < 0.3).astype(np.float64)
        y, margin, mask = run(x)
        if margin < 1e-3:
            continue
        opened += int(mask.sum())
        inputs.append(x.astype(int).flatten().tolist())
        outputs.append(y.astype(int).flatten().tolist())
    if a.vectors:
        assert 0 < opened < a.vectors * mask.size, "the mask never varies: a weak fixture"
        (a.out / f"{stem}.expected.json").write_text(
            json.dumps({"inputs": inputs, "outputs": outputs}) + "\n")
    print(f"wrote {a.out / stem}.onnx ({len(inputs)} vectors, mask open {opened} times)")


if __name__ == "__main__":
    main()
