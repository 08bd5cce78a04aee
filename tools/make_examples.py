#!/usr/bin/env python3
"""Writes the bundled example models in examples/ with the real `nir` package (dev tool).

Not part of `make test`: the files it writes are committed, so users and CI need no Python.
Usage: pip install nir==1.0.8 && python3 tools/make_examples.py
"""
import pathlib

import nir
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent.parent / "examples"
DT = 1e-4  # snnTorch's export convention


def lif(n, beta, threshold):
    # snnTorch exports Leaky as LIF with tau = dt/(1-beta), r = tau/dt, v_leak = 0.
    tau = DT / (1.0 - beta)
    return nir.LIF(
        tau=np.full(n, tau),
        r=np.full(n, tau / DT),
        v_leak=np.zeros(n),
        v_threshold=np.full(n, threshold),
        v_reset=np.zeros(n),
    )


def main():
    rng = np.random.default_rng(2024)
    n_in, n_hid, n_out = 16, 32, 10
    w1 = rng.normal(0.0, 0.6, (n_hid, n_in)).astype(np.float32)
    w1[rng.random(w1.shape) < 0.3] = 0.0
    w_rec = rng.normal(0.0, 0.2, (n_hid, n_hid)).astype(np.float32)
    w2 = rng.normal(0.0, 0.5, (n_out, n_hid)).astype(np.float32)
    b2 = rng.normal(0.0, 0.05, n_out).astype(np.float32)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([n_in])),
            "fc1": nir.Linear(weight=w1),
            "lif1": lif(n_hid, 0.875, 1.0),  # beta = 1 - 2^-3: the leak is a shift
            "rec1": nir.Linear(weight=w_rec),
            "fc2": nir.Affine(weight=w2, bias=b2),
            "lif2": lif(n_out, 0.9, 1.0),  # beta = 0.9: the leak is a constant multiply
            "output": nir.Output(output_type=np.array([n_out])),
        },
        edges=[
            ("input", "fc1"),
            ("fc1", "lif1"),
            ("lif1", "rec1"),
            ("rec1", "lif1"),
            ("lif1", "fc2"),
            ("fc2", "lif2"),
            ("lif2", "output"),
        ],
    )
    HERE.mkdir(exist_ok=True)
    nir.write(HERE / "rsnn_16_32_10.nir", graph)
    print("wrote", HERE / "rsnn_16_32_10.nir")
    conv_snn(rng)
    conv1d_snn(rng)
    nmnist_cnn(np.random.default_rng(34))  # its own stream: the files above stay as they were


def if_layer(shape, threshold):
    # Sinabs-style IF: r = 1, one step adds the input.
    return nir.IF(r=np.ones(shape), v_threshold=np.full(shape, threshold), v_reset=np.zeros(shape))


def conv_snn(rng):
    """A small spiking CNN in the shape of the NIR paper's N-MNIST network: 2x8x8 input,
    Conv 4@3x3 pad 1 -> IF -> SumPool 2 -> Conv 4@3x3 'same' -> IF -> AvgPool 2 -> Flatten ->
    Affine 16->10 -> IF."""
    w1 = rng.normal(0.0, 0.5, (4, 2, 3, 3)).astype(np.float32)
    w2 = rng.normal(0.0, 0.3, (4, 4, 3, 3)).astype(np.float32)
    w3 = rng.normal(0.0, 0.5, (10, 16)).astype(np.float32)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([2, 8, 8])),
            "conv1": nir.Conv2d(input_shape=(8, 8), weight=w1, stride=1, padding=1, dilation=1, groups=1,
                                bias=rng.normal(0.0, 0.1, 4).astype(np.float32)),
            "if1": if_layer((4, 8, 8), 1.0),
            "pool1": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
            "conv2": nir.Conv2d(input_shape=(4, 4), weight=w2, stride=1, padding="same", dilation=1, groups=1,
                                bias=np.zeros(4, dtype=np.float32)),
            "if2": if_layer((4, 4, 4), 1.0),
            "pool2": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
            "flat": nir.Flatten(input_type={"input": np.array([4, 2, 2])}, start_dim=0, end_dim=-1),
            "fc": nir.Affine(weight=w3, bias=np.zeros(10, dtype=np.float32)),
            "if3": if_layer(10, 0.5),
            "output": nir.Output(output_type=np.array([10])),
        },
        edges=[("input", "conv1"), ("conv1", "if1"), ("if1", "pool1"), ("pool1", "conv2"),
               ("conv2", "if2"), ("if2", "pool2"), ("pool2", "flat"), ("flat", "fc"),
               ("fc", "if3"), ("if3", "output")],
    )
    nir.write(HERE / "conv_snn_2x8x8.nir", graph)
    print("wrote", HERE / "conv_snn_2x8x8.nir")


def conv1d_snn(rng):
    """Conv1d with stride and dilation: 4x16 input -> Conv1d 4@3 (stride 2,
    dilation 2, padding 1) -> LIF."""
    w = rng.normal(0.0, 0.6, (4, 4, 3)).astype(np.float32)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([4, 16])),
            "conv": nir.Conv1d(input_shape=16, weight=w, stride=2, padding=1, dilation=2, groups=1,
                               bias=np.zeros(4, dtype=np.float32)),
            "lif": lif((4, 7), 0.875, 0.8),
            "output": nir.Output(output_type=np.array([4, 7])),
        },
        edges=[("input", "conv"), ("conv", "lif"), ("lif", "output")],
    )
    nir.write(HERE / "conv1d_snn_4x16.nir", graph)
    print("wrote", HERE / "conv1d_snn_4x16.nir")


def nmnist_cnn(rng):
    """The NIR paper's N-MNIST CNN at full size: 2x34x34 input, Conv 16@5x5 stride 2 pad 1 -> IF ->
    Conv 16@3x3 pad 1 -> IF -> SumPool 2 -> Conv 8@3x3 pad 1 -> IF -> SumPool 2 -> Flatten ->
    Affine 128->256 -> IF -> Affine 256->10 -> IF. Random weights, scaled so Bernoulli(0.1) input
    spikes keep every IF layer active but unsaturated (about 6, 11, 16, 14 and 20% over 20 steps);
    the filters and rows after conv1 are made zero-sum (balanced) so that no unit is driven silent
    or saturated by the mean input rate. About 20% of conv1's weights are zero (sparsity)."""
    w1 = rng.normal(0.0, 0.6, (16, 2, 5, 5)).astype(np.float32)
    w1[rng.random(w1.shape) < 0.2] = 0.0
    b1 = rng.normal(0.0, 0.05, 16).astype(np.float32)
    w2 = rng.normal(0.0, 0.45, (16, 16, 3, 3)).astype(np.float32)
    b2 = rng.normal(0.0, 0.05, 16).astype(np.float32)
    w3 = rng.normal(0.0, 0.2, (8, 16, 3, 3)).astype(np.float32)
    b3 = rng.normal(0.0, 0.05, 8).astype(np.float32)
    w4 = rng.normal(0.0, 0.1, (256, 128)).astype(np.float32)
    b4 = rng.normal(0.0, 0.05, 256).astype(np.float32)
    w5 = rng.normal(0.0, 0.5, (10, 256)).astype(np.float32)
    b5 = rng.normal(0.0, 0.05, 10).astype(np.float32)
    for w in (w2, w3):
        w -= w.mean(axis=(1, 2, 3), keepdims=True)
    for w in (w4, w5):
        w -= w.mean(axis=1, keepdims=True)
    pool = dict(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([2, 34, 34])),
            "conv1": nir.Conv2d(input_shape=(34, 34), weight=w1, stride=2, padding=1, dilation=1, groups=1,
                                bias=b1),
            "if1": if_layer((16, 16, 16), 1.0),
            "conv2": nir.Conv2d(input_shape=(16, 16), weight=w2, stride=1, padding=1, dilation=1, groups=1,
                                bias=b2),
            "if2": if_layer((16, 16, 16), 1.0),
            "pool2": nir.SumPool2d(**pool),
            "conv3": nir.Conv2d(input_shape=(8, 8), weight=w3, stride=1, padding=1, dilation=1, groups=1,
                                bias=b3),
            "if3": if_layer((8, 8, 8), 1.0),
            "pool3": nir.SumPool2d(**pool),
            "flat": nir.Flatten(input_type={"input": np.array([8, 4, 4])}, start_dim=0, end_dim=-1),
            "fc1": nir.Affine(weight=w4, bias=b4),
            "if4": if_layer(256, 1.0),
            "fc2": nir.Affine(weight=w5, bias=b5),
            "if5": if_layer(10, 1.0),
            "output": nir.Output(output_type=np.array([10])),
        },
        edges=[("input", "conv1"), ("conv1", "if1"), ("if1", "conv2"), ("conv2", "if2"), ("if2", "pool2"),
               ("pool2", "conv3"), ("conv3", "if3"), ("if3", "pool3"), ("pool3", "flat"), ("flat", "fc1"),
               ("fc1", "if4"), ("if4", "fc2"), ("fc2", "if5"), ("if5", "output")],
    )
    nir.write(HERE / "nmnist_cnn_2x34x34.nir", graph)
    print("wrote", HERE / "nmnist_cnn_2x34x34.nir")


if __name__ == "__main__":
    main()
