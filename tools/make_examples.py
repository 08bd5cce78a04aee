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


if __name__ == "__main__":
    main()
