#!/usr/bin/env python3
"""Records spike traces of NIR models run in their source frameworks (dev tool).

Not part of the test suite: the JSON files it writes under
compiler/tests/fixtures/frameworks/ are committed, and compiler/tests/frameworks.rs checks
that Spikeforge's float reference reproduces them under the conventions each file names.

    python3 -m venv /tmp/fwenv
    /tmp/fwenv/bin/pip install -r tools/requirements-frameworks.txt
    /tmp/fwenv/bin/python tools/framework_traces.py            # all cases
    /tmp/fwenv/bin/python tools/framework_traces.py lif_norse  # one case

Each case feeds a Bernoulli spike train (numpy default_rng(seed), given rate), runs T steps in
the framework, and writes {case, framework, framework_version, model, dt, reset, threshold,
input, spikes, notes}. Before writing, every trace is checked twice in numpy (float64):
  1. against the framework's own discrete update, written out from its source (the equations
     are in each case's notes), and
  2. against Spikeforge's float reference (forward Euler on the NIR parameters,
     compiler/src/golden/float.rs) under the fixture's dt/reset/threshold: this is what
     compiler/tests/frameworks.rs asserts (>= 99.9% agreement on each recorded layer, and every
     recorded layer spikes at least once).
A case that fails either check is not written (exit status 1).
"""
import argparse
import json
import logging
import pathlib
import sys
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

import nir  # noqa: E402
import nirtorch  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
OUT = REPO / "compiler" / "tests" / "fixtures" / "frameworks"
SHARED = "../shared/models"  # relative to the repo root, as the fixtures record it


def model_path(rel):
    return (REPO / rel).resolve()


def bernoulli(seed, steps, n, rate):
    rng = np.random.default_rng(seed)
    return (rng.random((steps, n)) < rate).astype(np.float32)


def versions():
    import importlib.metadata as md

    return {p: md.version(p) for p in ("torch", "nir", "nirtorch", "numpy")}


def env_note():
    v = versions()
    return (f"Run with torch {v['torch']}, nir {v['nir']}, nirtorch {v['nirtorch']}, "
            f"numpy {v['numpy']} (tools/requirements-frameworks.txt), float32, batch 1.")


# ---------------------------------------------------------------------------------------------
# Spikeforge's float reference (compiler/src/golden/float.rs), one neuron layer per call.


class SfNeuron:
    """Forward Euler as in golden/float.rs: CubaLIF updates i += dt/tau_syn (w_in I - i) first,
    then v += dt/tau_mem (v_leak - v + r i); LIF v += dt/tau (v_leak - v + r I); IF v += r I.
    `-next` resets are decided by the previous step's membrane (snnTorch's reset_delay)."""

    def __init__(self, kind, node, reset, threshold, dt):
        f = lambda a: np.asarray(a, dtype=np.float64).reshape(-1)  # noqa: E731
        self.kind, self.reset, self.ge, self.dt = kind, reset, threshold == "ge", dt
        self.vth = f(node.v_threshold)
        self.vreset = f(getattr(node, "v_reset", np.zeros_like(self.vth)))
        self.r = f(node.r)
        if kind == "cuba":
            self.tau_syn, self.tau_mem, self.w_in = f(node.tau_syn), f(node.tau_mem), f(node.w_in)
            self.v_leak = f(node.v_leak)
        elif kind == "lif":
            self.tau_mem, self.v_leak = f(node.tau), f(node.v_leak)
        n = self.vth.size
        self.v, self.i, self.vmin = np.zeros(n), np.zeros(n), 0.0

    def cmp(self, v):
        return v >= self.vth if self.ge else v > self.vth

    def step(self, x):
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        dt = self.dt
        if self.kind == "cuba":
            self.i = self.i + dt / self.tau_syn * (self.w_in * x - self.i)
            u = self.i
        else:
            u = x
        fired_before = self.cmp(self.v) if self.reset.endswith("-next") else np.zeros_like(self.v, bool)
        if self.kind == "if":
            v = self.v + self.r * u
        else:
            v = self.v + dt / self.tau_mem * (self.v_leak - self.v + self.r * u)
        if self.reset == "subtract-next":
            v = np.where(fired_before, v - self.vth, v)
        elif self.reset == "zero-next":
            v = np.where(fired_before, self.vreset, v)
        fire = self.cmp(v)
        if self.reset == "zero":
            v = np.where(fire, self.vreset, v)
        elif self.reset == "subtract":
            v = np.where(fire, v - self.vth, v)
        self.v = v
        self.vmin = min(self.vmin, float(v.min()))
        return fire.astype(np.float64)


def agreement(a, b):
    a, b = np.asarray(a) != 0, np.asarray(b) != 0
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a == b).mean())


# ---------------------------------------------------------------------------------------------
# a. Braille (snnTorch)


def snntorch_import(graph, model_map=None):
    """snnTorch's NIR import as snnTorch <= 0.9.4 performs it: recurrent LIF/CubaLIF + Linear
    loops become one NIRGraph node, then nirtorch.load maps every node with snnTorch's own
    `_nir_to_snntorch_module` (CubaLIF loop -> RSynaptic, CubaLIF -> Synaptic, Linear ->
    nn.Linear(bias=False)). snnTorch 1.0.0's public `import_from_nir` routes the same graph
    through nirtorch.nir_to_torch instead, which fails on this graph with nirtorch 2.6
    (AttributeError: 'GraphModule' object has no attribute 'items'); see notes."""
    from snntorch import import_nir as sin

    graph = sin._replace_rnn_subgraph_with_nirgraph(graph)
    return nirtorch.load(graph, model_map or sin._nir_to_snntorch_module)


def case_braille():
    import snntorch as snn
    from snntorch import import_nir as sin

    rel = f"{SHARED}/braille_noDelay_noBias_subtract.nir"
    steps, rate, seed, dt = 256, 0.3, 1, 1e-4
    x = bernoulli(seed, steps, 12, rate)

    def trained_config(node):
        # The importer hard-codes reset_mechanism="zero", reset_delay=False. The network was
        # trained with snnTorch's defaults, reset_mechanism="subtract", reset_delay=True: switch
        # the imported neurons back to those (the state function is picked in __init__, so it is
        # re-picked here exactly as __init__ would).
        m = sin._nir_to_snntorch_module(node)
        if isinstance(m, (snn.Synaptic, snn.RSynaptic)):
            m.reset_mechanism = "subtract"
            m.state_function = m._base_sub
            m.reset_delay = True
        return m

    net = snntorch_import(nir.read(model_path(rel)), trained_config)
    lif1, lif2 = net.lif1, net.lif2
    assert isinstance(lif1, snn.RSynaptic) and isinstance(lif2, snn.Synaptic)
    params = dict(alpha1=float(lif1.alpha), beta1=float(lif1.beta), thr1=float(lif1.threshold),
                  alpha2=float(lif2.alpha), beta2=float(lif2.beta), thr2=float(lif2.threshold))
    state, rec1, rec2 = None, [], []
    with torch.no_grad():
        for t in range(steps):
            _, state = net(torch.from_numpy(x[t:t + 1]), state)
            rec1.append(state.cache["lif1"][0].numpy().copy())
            rec2.append(state.cache["lif2"][0].numpy().copy())
    s1, s2 = np.array(rec1), np.array(rec2)

    # 1. snnTorch's update written out (float64).
    g = nir.read(model_path(rel))
    W1 = np.asarray(g.nodes["fc1"].weight, np.float64)
    Wr = np.asarray(g.nodes["lif1.w_rec"].weight, np.float64)
    W2 = np.asarray(g.nodes["fc2"].weight, np.float64)
    p = params
    syn1 = mem1 = spk1 = np.zeros(40)
    syn2 = mem2 = np.zeros(7)
    f1, f2 = [], []
    for t in range(steps):
        # RSynaptic (rsynaptic.py forward/_base_state_function/_base_sub, reset_delay=True)
        reset1 = (mem1 > p["thr1"]).astype(float)
        syn1 = p["alpha1"] * syn1 + W1 @ x[t] + Wr @ spk1
        mem1 = p["beta1"] * mem1 + syn1 - reset1 * p["thr1"]
        spk1 = (mem1 > p["thr1"]).astype(float)
        # Synaptic (synaptic.py forward/_base_state_function/_base_sub, reset_delay=True)
        reset2 = (mem2 > p["thr2"]).astype(float)
        syn2 = p["alpha2"] * syn2 + W2 @ spk1
        mem2 = p["beta2"] * mem2 + syn2 - reset2 * p["thr2"]
        spk2 = (mem2 > p["thr2"]).astype(float)
        f1.append(spk1)
        f2.append(spk2)
    fw_ref = {"lif1.lif": agreement(s1, f1), "lif2": agreement(s2, f2)}

    # 2. Spikeforge's float reference with --reset subtract-next --threshold gt, dt = 1e-4.
    reset, threshold = "subtract-next", "gt"
    n1 = SfNeuron("cuba", g.nodes["lif1.lif"], reset, threshold, dt)
    n2 = SfNeuron("cuba", g.nodes["lif2"], reset, threshold, dt)
    prev1 = np.zeros(40)
    g1, g2 = [], []
    for t in range(steps):
        a = n1.step(W1 @ x[t] + Wr @ prev1)  # w_rec reads last step's spikes
        b = n2.step(W2 @ a)
        prev1 = a
        g1.append(a)
        g2.append(b)
    sf_ref = {"lif1.lif": agreement(s1, g1), "lif2": agreement(s2, g2)}

    # For the report only: what the importer's own configuration does (not written).
    i1, i2 = braille_as_imported(x, rel)
    importer = {"lif1.lif spikes": int(i1.sum()), "lif2 spikes": int(i2.sum()),
                "lif1.lif pairs differing": int((i1 != s1).sum()),
                "lif2 pairs differing": int((i2 != s2).sum())}
    # ... and which Spikeforge conventions reproduce it: zero-next on lif1, zero on lif2.
    n1 = SfNeuron("cuba", g.nodes["lif1.lif"], "zero-next", threshold, dt)
    n2 = SfNeuron("cuba", g.nodes["lif2"], "zero", threshold, dt)
    prev1, h1, h2 = np.zeros(40), [], []
    for t in range(steps):
        a = n1.step(W1 @ x[t] + Wr @ prev1)
        h2.append(n2.step(W2 @ a))
        h1.append(a)
        prev1 = a
    importer["spikeforge float, lif1 zero-next + lif2 zero"] = (agreement(i1, h1), agreement(i2, h2))

    import snntorch

    notes = (
        "Imported with snnTorch's NIR importer code (snntorch.import_nir._replace_rnn_subgraph_"
        "with_nirgraph + nirtorch.load(graph, snntorch.import_nir._nir_to_snntorch_module), the path "
        "snnTorch <= 0.9.4's import_from_nir takes; 1.0.0's import_from_nir calls "
        "nirtorch.nir_to_torch, which crashes on this recurrent graph with nirtorch 2.6, "
        "AttributeError: 'GraphModule' object has no attribute 'items', and whose node map has "
        "no entry for the loop subgraph, so RSynaptic would not be used). It maps "
        "lif1 (CubaLIF + w_rec loop) -> snn.RSynaptic(all_to_all, recurrent = nn.Linear with W_rec, "
        "bias 0) and lif2 -> snn.Synaptic with alpha = 1 - dt/tau_syn, beta = 1 - dt/tau_mem at "
        f"dt = 1e-4 (alpha1 {p['alpha1']:.4f}, beta1 {p['beta1']:.4f}, alpha2 {p['alpha2']:.4f}, "
        f"beta2 {p['beta2']:.4f}, threshold 1; w_in*dt/tau_syn = 1 and r = tau_mem/dt, so no "
        "weight/threshold rescaling). The importer hard-codes reset_mechanism='zero', "
        "reset_delay=False; this trace switches both layers to the training configuration "
        "(snnTorch defaults reset_mechanism='subtract', reset_delay=True; the file name says "
        "subtract). snnTorch update per step (rsynaptic.py/synaptic.py forward, _base_sub; "
        "neurons.py mem_reset/fire; surrogate.ATan.forward is (x > 0)): R = [mem[t-1] > thr]; "
        "syn[t] = alpha*syn[t-1] + I[t] (+ W_rec @ spk[t-1] for RSynaptic); "
        "mem[t] = beta*mem[t-1] + syn[t] - R*thr; spk[t] = [mem[t] > thr]. With "
        "i = syn, v = mem this is Spikeforge's CubaLIF Euler step at dt = 1e-4 "
        "(i += dt/tau_syn (w_in I - i) = alpha i + I; v += dt/tau_mem (-v + r i) = beta v + i) with "
        "reset subtract-next, threshold gt. Checks: numpy snnTorch equations agree "
        f"{fw_ref['lif1.lif']:.4f}/{fw_ref['lif2']:.4f}, numpy Spikeforge float reference agrees "
        f"{sf_ref['lif1.lif']:.4f}/{sf_ref['lif2']:.4f} (lif1.lif/lif2). " + env_note() +
        " NOT recorded here: the importer's own configuration (reset_mechanism='zero', "
        "reset_delay=False) gives lif2 (Synaptic) a same-step reset of mem to 0 (syn kept), but "
        "lif1 (RSynaptic) a next-step zero reset, because RSynaptic.forward's reset_delay=False "
        "branch assigns the local `mem` argument instead of self.mem (no effect), and crashes at "
        "the first step without a passed state (None / tensor). No single --reset reproduces that; "
        f"run that way the output layer differs from this trace on {importer['lif2 pairs differing']} of "
        f"{steps * 7} (step, neuron) pairs."
    )
    fixture = {
        "case": "braille_snntorch", "framework": "snntorch", "framework_version": snntorch.__version__,
        "model": rel, "dt": dt, "reset": reset, "threshold": threshold,
        "input": x, "spikes": {"lif1.lif": s1, "lif2": s2}, "notes": notes,
    }
    return fixture, {"framework equations": fw_ref, "spikeforge float": sf_ref,
                     "importer config (zero, reset_delay=False)": importer}


def braille_as_imported(x, rel):
    """Runs the importer's own modules unchanged (zero reset, reset_delay=False). RSynaptic
    needs an explicit zero state at the first step (its reset_delay=False branch divides the
    `spk` argument, None otherwise)."""
    import snntorch as snn
    from nirtorch.graph_executor import GraphExecutorState

    net = snntorch_import(nir.read(model_path(rel)))
    st = GraphExecutorState()
    z = torch.zeros(1, 40)
    st.state["lif1"] = (z, z.clone(), z.clone())
    rec1, rec2 = [], []
    with torch.no_grad():
        for t in range(x.shape[0]):
            _, st = net(torch.from_numpy(x[t:t + 1]), st)
            rec1.append(st.cache["lif1"][0].numpy().copy())
            rec2.append(st.cache["lif2"][0].numpy().copy())
    assert isinstance(net.lif1, snn.RSynaptic) and net.lif1.reset_mechanism == "zero"
    assert net.lif1.reset_delay is False and net.lif2.reset_delay is False
    return np.array(rec1), np.array(rec2)


# ---------------------------------------------------------------------------------------------
# b. two LIF neurons (snnTorch)


def case_two_lif():
    import snntorch as snn

    rel = f"{SHARED}/two_lif_neurons.nir"
    steps, rate, seed, dt = 100, 0.3, 2, 1e-3
    x = bernoulli(seed, steps, 1, rate)
    g = nir.read(model_path(rel))
    from snntorch import import_nir as sin

    try:
        sin._nir_to_snntorch_module(g.nodes["lif1"])
        refused = "accepted"
    except AssertionError as e:
        refused = f"AssertionError: {e}"

    # Hand-built with the importer's LIF mapping, at dt = 1e-3 instead of its hard-coded 1e-4:
    # beta = 1 - dt/tau, threshold = v_th / (r dt/tau), reset zero, reset_delay False. v_leak is
    # the one thing the importer refuses; with mem = v / (r dt/tau) it is a constant input current
    # v_leak / r, given here as the bias of linear1.
    lin1 = torch.nn.Linear(1, 1)
    lin2 = torch.nn.Linear(1, 1, bias=False)
    n1, n2 = g.nodes["lif1"], g.nodes["lif2"]
    with torch.no_grad():
        lin1.weight[:] = torch.tensor(np.asarray(g.nodes["linear1"].weight, np.float32))
        lin1.bias[:] = torch.tensor(np.asarray(n1.v_leak / n1.r, np.float32))
        lin2.weight[:] = torch.tensor(np.asarray(g.nodes["linear2"].weight, np.float32))

    def leaky(n):
        beta = float(1 - dt / n.tau[0])
        w_scale = float(n.r[0] * dt / n.tau[0])
        return snn.Leaky(beta=beta, threshold=float(n.v_threshold[0]) / w_scale,
                         reset_mechanism="zero", reset_delay=False), beta, w_scale

    l1, beta1, ws1 = leaky(n1)
    l2, beta2, ws2 = leaky(n2)
    m1 = m2 = None
    rec1, rec2, mem2_max = [], [], 0.0
    with torch.no_grad():
        for t in range(steps):
            xt = torch.from_numpy(x[t:t + 1])
            s1, m1 = l1(lin1(xt), m1) if m1 is not None else l1(lin1(xt))
            s2, m2 = l2(lin2(s1), m2) if m2 is not None else l2(lin2(s1))
            mem2_max = max(mem2_max, float(m2.max()))
            rec1.append(s1[0].numpy().copy())
            rec2.append(s2[0].numpy().copy())
    s1, s2 = np.array(rec1), np.array(rec2)

    # 1. snnTorch Leaky (leaky.py forward/_base_zero, reset_delay=False) written out.
    thr1, thr2 = float(l1.threshold), float(l2.threshold)
    b1 = float(n1.v_leak[0] / n1.r[0])
    m1 = m2 = 0.0
    f1, f2 = [], []
    for t in range(steps):
        R = float(m1 > thr1)  # always 0: the same-step reset leaves mem at 0 < thr
        m1 = beta1 * (1 - R) * m1 + (x[t, 0] + b1)
        z1 = float(m1 > thr1)
        m1 = m1 - (z1 - R) * m1
        R = float(m2 > thr2)
        m2 = beta2 * (1 - R) * m2 + z1
        z2 = float(m2 > thr2)
        m2 = m2 - (z2 - R) * m2
        f1.append([z1])
        f2.append([z2])
    fw_ref = {"lif1": agreement(s1, f1), "lif2": agreement(s2, f2)}

    # 2. Spikeforge float reference, --reset zero --threshold gt at dt = 1e-3.
    reset, threshold = "zero", "gt"
    a, b = SfNeuron("lif", n1, reset, threshold, dt), SfNeuron("lif", n2, reset, threshold, dt)
    g1, g2 = [], []
    for t in range(steps):
        y = a.step(x[t])
        g1.append(y)
        g2.append(b.step(y))
    sf_ref = {"lif1": agreement(s1, g1), "lif2": agreement(s2, g2)}
    v2_max = max(mem2_max * ws2, 0.0)

    import snntorch

    notes = (
        f"snnTorch's NIR importer refuses this file ({refused}: lif1 has v_leak = 1.2), so the "
        "network is built by hand with exactly the importer's LIF mapping "
        "(snntorch/import_nir.py, nir.LIF branch): snn.Leaky(beta = 1 - dt/tau, threshold = "
        "v_threshold/(r dt/tau), reset_mechanism='zero', reset_delay=False), at dt = 1e-3 instead "
        "of the importer's hard-coded 1e-4 (at 1e-4 lif1 first fires after about 110 steps, so a "
        "100-step trace would be empty). mem = v/(r dt/tau) turns v_leak into a constant input "
        f"current v_leak/r = {b1:g}, given as linear1's bias. beta {beta1:.3f}, thresholds "
        f"{thr1:g} and {thr2:g}. snnTorch Leaky update (leaky.py forward/_base_zero; neurons.py "
        "fire/mem_reset, (x > 0)): R = [mem[t-1] > thr]; mem[t] = beta*(1 - R)*mem[t-1] + I[t]; "
        "spk = [mem[t] > thr]; then, reset_delay=False: mem[t] -= (spk - R)*mem[t] (R is always 0 "
        "here, so mem is zeroed in the spike's own step) = Spikeforge LIF with reset zero "
        "(v_reset = 0), threshold gt. Only lif1 is recorded: lif2 (v_threshold 20) can never "
        "spike, since v2 <= r*max(input) = 1 for dt <= tau (max membrane seen: "
        f"{v2_max:.3f}); a recorded layer must spike for compiler/tests/frameworks.rs. Checks: "
        f"numpy snnTorch equations agree {fw_ref['lif1']:.4f} (lif1), {fw_ref['lif2']:.4f} "
        f"(lif2, all zero); numpy Spikeforge float reference {sf_ref['lif1']:.4f}/"
        f"{sf_ref['lif2']:.4f}. " + env_note()
    )
    fixture = {
        "case": "two_lif_snntorch", "framework": "snntorch", "framework_version": snntorch.__version__,
        "model": rel, "dt": dt, "reset": reset, "threshold": threshold,
        "input": x, "spikes": {"lif1": s1}, "notes": notes,
    }
    return fixture, {"framework equations": fw_ref, "spikeforge float": sf_ref,
                     "lif2 spikes (not recorded)": int(s2.sum())}


# ---------------------------------------------------------------------------------------------
# c. LIF from Norse


def case_lif_norse():
    import norse
    import norse.torch as nt
    from norse.torch.module.lif_box import LIFBoxCell

    rel = f"{SHARED}/lif_norse.nir"
    steps, rate, seed = 100, 0.3, 3
    x = bernoulli(seed, steps, 1, rate)
    g = nir.read(model_path(rel))
    net = nt.from_nir(g)  # dt defaults to 0.001 (norse/torch/utils/import_nir.py)
    cell = getattr(net, "1")
    assert isinstance(cell, LIFBoxCell)
    dt = float(cell.dt)
    p = cell.p
    state, rec = None, []
    with torch.no_grad():
        for t in range(steps):
            _, state = net(torch.from_numpy(x[t:t + 1]), state)
            rec.append(state.cache["1"][0].numpy().copy())
    s = np.array(rec)

    # 1. Norse lif_box_feed_forward_step written out.
    n = g.nodes["1"]
    W, bias = float(g.nodes["0"].weight[0, 0]), float(g.nodes["0"].bias[0])
    tau_inv, vth, vl = float(p.tau_mem_inv[0]), float(p.v_th[0]), float(p.v_leak[0])
    v, f = vl, []
    for t in range(steps):
        i = W * x[t, 0] + bias
        v = v + dt * tau_inv * (i + vl - v)
        z = float(v > vth)
        v = (1 - z) * v + z * float(p.v_reset)
        f.append([z])
    fw_ref = {"1": agreement(s, f)}

    # 2. Spikeforge float reference, reset zero (same step, v_reset), threshold gt, dt = 1e-3.
    reset, threshold = "zero", "gt"
    sf = SfNeuron("lif", n, reset, threshold, dt)
    gsf = [sf.step(W * x[t] + bias) for t in range(steps)]
    sf_ref = {"1": agreement(s, gsf)}

    notes = (
        "norse.torch.from_nir(graph) (norse/torch/utils/import_nir.py, default dt = 0.001, "
        "reset_method = reset_value) maps nir.Affine -> nn.Linear and nir.LIF -> "
        "LIFBoxCell(LIFBoxParameters(tau_mem_inv = 1/tau, v_th, v_leak), dt) through "
        "nirtorch.load. LIFBox is Norse's LIF without a current state (no i): "
        "norse/torch/functional/lif_box.py lif_box_feed_forward_step: "
        "v' = v + dt*tau_mem_inv*(I + v_leak - v); z = heaviside(v' - v_th) = [v' > v_th] "
        "(functional/threshold.py 'super' -> SuperSpike.forward -> heaviside = torch.gt(x, 0)); "
        "v = (1 - z)*v' + z*v_reset (functional/reset.py reset_value). That is Spikeforge's LIF "
        "Euler step with reset zero (same step, to v_reset) and threshold gt, except that Norse "
        "ignores NIR's r (warns if != 1, input not multiplied) and NIR's v_reset (uses "
        "LIFBoxParameters' default v_reset = 0), and starts v at v_leak (LIFBoxCell.initial_state); "
        "here r = 1, v_reset = 0 and v_leak = 0, so nothing differs. (Norse's full LIFCell, with a "
        "current i fed by the input, is not what from_nir uses for nir.LIF; for nir.CubaLIF it "
        "builds LIBoxCell(tau_syn, v_leak) -> *r -> LIFBoxCell, i.e. i' = i + dt/tau_syn (v_leak + "
        "w_in*I - i), v' = v + dt/tau_mem (v_leak - v + r*i'): Spikeforge's CubaLIF, except that "
        f"v_leak also enters the synapse.) dt/tau = {dt * tau_inv:.4f}: every input spike lifts v to "
        "0.4 > v_th = 0.1 and is reset in the same step. Checks: numpy Norse equations agree "
        f"{fw_ref['1']:.4f}, numpy Spikeforge float reference {sf_ref['1']:.4f}. " + env_note()
    )
    fixture = {
        "case": "lif_norse", "framework": "norse", "framework_version": norse.__version__,
        "model": rel, "dt": dt, "reset": reset, "threshold": threshold,
        "input": x, "spikes": {"1": s}, "notes": notes,
    }
    return fixture, {"framework equations": fw_ref, "spikeforge float": sf_ref}


# ---------------------------------------------------------------------------------------------
# d. Conv IF network in Sinabs


SINABS_NIR = "compiler/tests/fixtures/frameworks/sinabs_if_conv.nir"


def build_sinabs_graph():
    """input [2,8,8] -> Conv2d 4@3x3 pad 1 -> IF -> SumPool2d 2 -> Flatten -> Affine 64->10 ->
    IF -> output. Weights are seeded and scaled so both IF layers spike at 5-30%, each neuron
    at most once per step (Sinabs' MultiSpike would emit two at v >= 2) and no membrane falls
    below -v_threshold (Sinabs clips there); the script asserts both."""
    rng = np.random.default_rng(40)
    w1 = rng.normal(0.06, 0.06, (4, 2, 3, 3)).astype(np.float32)
    b1 = np.full(4, 0.02, np.float32)
    w2 = rng.normal(0.004, 0.015, (10, 64)).astype(np.float32)
    b2 = np.zeros(10, np.float32)

    def if_layer(shape):
        return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape))

    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([2, 8, 8])),
            "conv1": nir.Conv2d(input_shape=(8, 8), weight=w1, stride=1, padding=1, dilation=1,
                                groups=1, bias=b1),
            "if1": if_layer((4, 8, 8)),
            "pool1": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                   padding=np.array([0, 0])),
            "flat": nir.Flatten(input_type={"input": np.array([4, 4, 4])}, start_dim=0, end_dim=-1),
            "fc": nir.Affine(weight=w2, bias=b2),
            "if2": if_layer(10),
            "output": nir.Output(output_type=np.array([10])),
        },
        edges=[("input", "conv1"), ("conv1", "if1"), ("if1", "pool1"), ("pool1", "flat"),
               ("flat", "fc"), ("fc", "if2"), ("if2", "output")],
    )


def conv2d_pad1(x, w, b):
    """x [C,H,W], w [O,C,3,3], stride 1, padding 1 (cross-correlation, as torch)."""
    c, h, wd = x.shape
    xp = np.zeros((c, h + 2, wd + 2))
    xp[:, 1:-1, 1:-1] = x
    out = np.zeros((w.shape[0], h, wd))
    for o in range(w.shape[0]):
        acc = np.full((h, wd), float(b[o]))
        for ci in range(c):
            for ky in range(3):
                for kx in range(3):
                    acc += w[o, ci, ky, kx] * xp[ci, ky:ky + h, kx:kx + wd]
        out[o] = acc
    return out


def sumpool2(x):
    c, h, w = x.shape
    return x.reshape(c, h // 2, 2, w // 2, 2).sum(axis=(2, 4))


def case_sinabs():
    import sinabs
    import sinabs.layers as sl

    steps, rate, seed = 50, 0.2, 4
    path = REPO / SINABS_NIR
    path.parent.mkdir(parents=True, exist_ok=True)
    nir.write(path, build_sinabs_graph())
    g = nir.read(path)
    x = bernoulli(seed, steps, 2 * 8 * 8, rate)
    net = sinabs.from_nir(g, batch_size=1)
    if1, if2 = net.if1, net.if2
    assert isinstance(if1, sl.IAFSqueeze) and isinstance(if2, sl.IAFSqueeze)
    layer_info = (f"{type(if1).__name__}(spike_fn={if1.spike_fn.__name__}, "
                  f"reset_fn={if1.reset_fn}, min_v_mem=-v_threshold)")
    with torch.no_grad():
        _, state = net(torch.from_numpy(x.reshape(steps, 2, 8, 8)))
    c1 = state.cache["if1"].numpy().reshape(steps, -1)
    c2 = state.cache["if2"].numpy().reshape(steps, -1)
    assert c1.max() <= 1 and c2.max() <= 1, "MultiSpike emitted more than one spike per step"
    assert c1.min() >= 0 and c2.min() >= 0

    # 1. Sinabs IAF update written out (layers/functional/lif.py lif_forward_single, MultiSpike,
    #    MembraneSubtract, min_v_mem clip).
    w1, b1 = np.asarray(g.nodes["conv1"].weight, np.float64), np.asarray(g.nodes["conv1"].bias)
    w2, b2 = np.asarray(g.nodes["fc"].weight, np.float64), np.asarray(g.nodes["fc"].bias)
    v1, v2 = np.zeros((4, 8, 8)), np.zeros(10)
    f1, f2, vmin_fw = [], [], 0.0
    for t in range(steps):
        v1 = v1 + conv2d_pad1(x[t].reshape(2, 8, 8), w1, b1)
        z1 = (v1 > 0) * np.trunc(v1 / 1.0)
        v1 = v1 - z1 * 1.0
        vmin_fw = min(vmin_fw, v1.min())
        v1 = np.maximum(v1, -1.0)
        v2 = v2 + w2 @ sumpool2(z1).reshape(-1) + b2
        z2 = (v2 > 0) * np.trunc(v2 / 1.0)
        v2 = v2 - z2 * 1.0
        vmin_fw = min(vmin_fw, v2.min())
        v2 = np.maximum(v2, -1.0)
        f1.append(z1.reshape(-1))
        f2.append(z2.copy())
    fw_ref = {"if1": agreement(c1, f1), "if2": agreement(c2, f2)}

    # 2. Spikeforge float reference, --reset subtract --threshold ge.
    reset, threshold = "subtract", "ge"
    n1 = SfNeuron("if", g.nodes["if1"], reset, threshold, 1e-4)
    n2 = SfNeuron("if", g.nodes["if2"], reset, threshold, 1e-4)
    g1, g2 = [], []
    for t in range(steps):
        a = n1.step(conv2d_pad1(x[t].reshape(2, 8, 8), w1, b1))
        b = n2.step(w2 @ sumpool2(a.reshape(4, 8, 8)).reshape(-1) + b2)
        g1.append(a)
        g2.append(b)
    sf_ref = {"if1": agreement(c1, g1), "if2": agreement(c2, g2)}
    vmin = min(n1.vmin, n2.vmin)
    assert vmin > -1.0, f"membrane reached {vmin}: Sinabs' min_v_mem clip would act"
    rates = {"if1": float(c1.mean()), "if2": float(c2.mean())}

    notes = (
        "Network written by this script with the nir package (weights from default_rng(40), "
        "scaled so both IF layers spike at 5-30%), read back with nir.read and imported with "
        "sinabs.from_nir(graph, batch_size=1) (sinabs/nir.py _import_sinabs_module, via "
        f"nirtorch.load). Each nir.IF becomes {layer_info}: spike_threshold = v_threshold; "
        "NIR's r and v_reset are ignored (no v_reset argument; reset is always by subtraction). "
        "Sinabs IAF update per step (sinabs/layers/functional/lif.py lif_forward_single with "
        "alpha_mem = 1, no synapse, norm_input False; activation/spike_generation.py MultiSpike; "
        "activation/reset_mechanism.py MembraneSubtract): v = v + I; n = [v > 0]*trunc(v/thr) "
        "(so at least one spike iff v >= thr, two if v >= 2 thr); v = v - n*thr; "
        "v = max(v, min_v_mem) = max(v, -thr). That is Spikeforge's IF (v += r*I, r = 1) with "
        "reset subtract (same step) and threshold ge as long as no neuron reaches 2*thr in one "
        "step and no membrane drops below -thr: both were checked on this run (max spikes per "
        f"step 1, lowest membrane {vmin:.3f}). Spike rates if1 {rates['if1']:.3f}, if2 "
        f"{rates['if2']:.3f}. SumPool2d -> sinabs.layers.SumPool2d (lp_pool2d with p = 1), "
        "Flatten(start_dim 0) -> nn.Flatten(1) over (batch*time, C, H, W): C-major order as in "
        "NIR. dt is irrelevant for IF; 1e-4 is recorded. Checks: numpy Sinabs equations agree "
        f"{fw_ref['if1']:.4f}/{fw_ref['if2']:.4f}, numpy Spikeforge float reference "
        f"{sf_ref['if1']:.4f}/{sf_ref['if2']:.4f} (if1/if2). " + env_note() +
        " sinabs 2.0.3 is used because sinabs 3.x requires nir <= 1.0.4; its layers, activation "
        "and nir.py import are the same code as 3.1.3 apart from docstrings."
    )
    fixture = {
        "case": "sinabs_if_conv", "framework": "sinabs", "framework_version": sinabs.__version__,
        "model": SINABS_NIR, "dt": 1e-4, "reset": reset, "threshold": threshold,
        "input": x, "spikes": {"if1": c1, "if2": c2}, "notes": notes,
    }
    return fixture, {"framework equations": fw_ref, "spikeforge float": sf_ref, "rates": rates}


# ---------------------------------------------------------------------------------------------


def to01(a):
    return [[int(v != 0) for v in row] for row in np.asarray(a).reshape(len(a), -1)]


def write(fx):
    out = dict(fx)
    out["input"] = to01(fx["input"])
    out["spikes"] = {k: to01(v) for k, v in fx["spikes"].items()}
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{fx['case']}.json"
    text = json.dumps(out, separators=(",", ":"))
    path.write_text(text + "\n")
    return path, len(text)


CASES = {
    "braille_snntorch": case_braille,
    "two_lif_snntorch": case_two_lif,
    "lif_norse": case_lif_norse,
    "sinabs_if_conv": case_sinabs,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*", metavar="CASE", help=f"any of {', '.join(CASES)} (default: all)")
    args = ap.parse_args()
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case(s): {', '.join(unknown)}")
    torch.manual_seed(0)
    ok = True
    for name in args.cases or CASES:
        fx, checks = CASES[name]()
        counts = {k: int(np.asarray(v).sum()) for k, v in fx["spikes"].items()}
        shapes = {k: np.asarray(v).reshape(len(v), -1).shape for k, v in fx["spikes"].items()}
        print(f"== {name} ({fx['framework']} {fx['framework_version']}, dt {fx['dt']}, "
              f"reset {fx['reset']}, threshold {fx['threshold']})")
        print(f"   input spikes {int(np.asarray(fx['input']).sum())} of "
              f"{np.asarray(fx['input']).size}")
        for k in counts:
            print(f"   {k}: {counts[k]} spikes over {shapes[k][0]} steps x {shapes[k][1]} neurons")
        for k, v in checks.items():
            print(f"   {k}: {v}")
        good = all(c > 0 for c in counts.values()) and all(
            a >= 0.999 for a in checks["spikeforge float"].values()) and all(
            a == 1.0 for a in checks["framework equations"].values())
        if not good:
            print("   CHECK FAILED: not written", file=sys.stderr)
            ok = False
            continue
        path, size = write(fx)
        print(f"   wrote {path.relative_to(REPO)} ({size} bytes)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
