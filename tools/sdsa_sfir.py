#!/usr/bin/env python3
"""Writes a spike-driven self-attention block (Spike-driven Transformer, Yao et al., NeurIPS
2023: SDSA(Q, K, V) = Q AND SN(column sums of K AND V)) as integer Spikeforge IR.

    python3 tools/sdsa_sfir.py --channels 64 --tokens 64 --heads 4 > examples/sdsa_64x64_h4.sfir

Weights are seeded random 4-bit integers (a stand-in for a trained, quantised block; the
hardware cost depends on sizes, bit widths and sparsity, not on the trained values). Layout is
channel-major, [heads, head_dim, tokens], as 1x1 convolutions over tokens produce it.
"""
import argparse
import random


def conv(name, src, c, n, heads, rng, wbits=4, density=1.0):
    q = (1 << (wbits - 1)) - 1
    w = [rng.randint(-q, q) if rng.random() < density else 0 for _ in range(c * c)]
    # The widest output: the larger of any row's positive and negative weight sums.
    width = max(max(sum(x for x in w[r * c:(r + 1) * c] if x > 0),
                    -sum(x for x in w[r * c:(r + 1) * c] if x < 0)) for r in range(c))
    bits = width.bit_length() + 1
    ty = f"fix<{bits},0>[{heads},{c // heads},{n}]"
    vals = ", ".join(map(str, w))
    return (f"  %{name}: {ty} = int_conv(%{src}) {{weight = <{c}x{c}x1x1>[{vals}], "
            f"bias = [0; {c}], in_shape = [{c}, 1, {n}], stride = [1, 1], padding = [0, 0], "
            f"dilation = [1, 1], groups = 1, scale = [1.0; {c}]}}")


def lif(name, src, c, n, heads, threshold, frac=4):
    # tau = 2 (half the membrane leaks each step: a shift), hard reset to zero, v > threshold.
    return (f"  %{name}: spike[{heads},{c // heads},{n}] = int_lif(%{src}) {{reset = zero, "
            f"compare = gt, frac_bits = {frac}, syn_decay = [0; {c * n}], "
            f"mem_decay = [{1 << (frac - 1)}; {c * n}], bias = [0; {c * n}], "
            f"threshold = [{threshold}; {c * n}], v_reset = [0; {c * n}], syn_bits = 2, "
            f"mem_bits = 12, saturate = true, scale = [1.0; {c * n}]}}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    c, n, h = a.channels, a.tokens, a.heads
    assert c % h == 0
    rng = random.Random(a.seed)
    d = c // h
    sp = f"spike[{h},{d},{n}]"
    lines = [
        f"# Spike-driven self-attention (SDSA, Spike-driven Transformer v1): {c} channels x {n}",
        f"# tokens, {h} heads, 4-bit weights. Q, K, V = LIF(1x1 conv(x)); the attention is",
        "# Q AND SN(sum over tokens of K AND V), a threshold per channel; then an output",
        "# projection, LIF, and the membrane shortcut adds the block input back (integers).",
        f"# Written by tools/sdsa_sfir.py --channels {c} --tokens {n} --heads {h} --seed {a.seed}.",
        f"graph sdsa_{c}x{n}_h{h} {{",
        f"  %x: {sp} = input",
    ]
    for p in "qkv":
        lines.append(conv(f"{p}_conv", "x", c, n, h, rng))
        # Thresholds grow with the fan-in so about a fifth to a third of the neurons fire.
        lines.append(lif(p, f"{p}_conv", c, n, h, threshold=c // 4))
    lines += [
        f"  %kv: {sp} = spike_and(%k, %v)",
        f"  %kv_sum: fix<{(n).bit_length() + 1},0>[{h},{d},1] = popcount(%kv) {{axis = 2}}",
        f"  %mask: spike[{h},{d},1] = multi_threshold(%kv_sum) {{thresholds = <1x1>[2]}}",
        f"  %attn: {sp} = spike_and(%q, %mask)",
        conv("o_conv", "attn", c, n, h, rng),
        lif("o", "o_conv", c, n, h, threshold=c // 8),
        f"  %shortcut: fix<3,0>[{h},{d},{n}] = add(%o, %x)",
        f"  %out: fix<3,0>[{h},{d},{n}] = output(%shortcut)",
        "}",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
