"""The Python package on graphs built in Python: what Spikeforge compiles is the graph that was
built (its golden model and its RTL reproduce a NumPy simulation of the NIR semantics spike for
spike), files and graphs compile alike, and errors arrive as one-line exceptions.

Run: `make python-test` (builds the wheel with maturin into target/py-venv first)."""

import contextlib
import io
import os
import re
import tempfile
import unittest
from pathlib import Path

import nir
import numpy as np

import spikeforge

REPO = Path(__file__).resolve().parents[2]
HAVE_VERILATOR = any(
    (Path(d) / "verilator").exists() for d in os.environ.get("PATH", "").split(os.pathsep)
)


def if_network(seed=7, sizes=(6, 5, 3)):
    """Input -> Linear -> IF -> Linear -> IF -> Output. Ternary weights (each row's largest
    |w| is 1) and half-integer thresholds make the 8-bit integer model exact, so a NumPy run
    of the float semantics must agree spike for spike."""
    rng = np.random.default_rng(seed)
    nodes, edges, prev = {"input": nir.Input(input_type={"input": np.array([sizes[0]])})}, [], "input"
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        w = rng.integers(-1, 2, size=(n_out, n_in)).astype(np.float32)
        w[:, 0] = 1.0  # every neuron has a weight of magnitude 1
        theta = rng.choice([0.5, 1.5, 2.5], size=n_out).astype(np.float32)
        nodes[f"fc{i}"] = nir.Linear(weight=w)
        nodes[f"if{i}"] = nir.IF(
            r=np.ones(n_out, np.float32), v_threshold=theta, v_reset=np.zeros(n_out, np.float32)
        )
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"if{i}")]
        prev = f"if{i}"
        layers.append((w, theta))
    nodes["output"] = nir.Output(output_type={"output": np.array([sizes[-1]])})
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges), layers


def reference(layers, sample):
    """NIR's IF per step: v += r * I; spike where v > threshold; a spiking neuron resets to 0."""
    vs = [np.zeros(len(theta)) for _, theta in layers]
    out = []
    for x in sample:
        s = np.asarray(x, dtype=np.float64)
        for k, (w, theta) in enumerate(layers):
            vs[k] = vs[k] + w.astype(np.float64) @ s
            s = (vs[k] > theta).astype(np.float64)
            vs[k] = np.where(s > 0, 0.0, vs[k])
        out.append(s.astype(int).tolist())
    return out


class PythonGraphs(unittest.TestCase):
    def setUp(self):
        self._dir = tempfile.TemporaryDirectory()
        self.tmp = Path(self._dir.name)
        self.graph, self.layers = if_network()
        rng = np.random.default_rng(1)
        self.stimulus = (rng.random((2, 24, 6)) < 0.4).astype(np.int8)
        self.semantics = dict(reset="zero", threshold="gt", weight_bits=8)

    def tearDown(self):
        self._dir.cleanup()

    def test_golden_model_matches_numpy_spike_for_spike(self):
        r = spikeforge.sim(
            self.graph, stimulus=self.stimulus, trace=True, out=self.tmp / "sim", **self.semantics
        )
        got = r.golden_trace()
        # The trace runs the samples back to back; each starts from rest.
        want = [step for sample in self.stimulus for step in reference(self.layers, sample)]
        self.assertEqual(got["output"], want)
        self.assertEqual(got["if1"], [s for smp in self.stimulus for s in
                                      reference(self.layers[:1], smp)])
        self.assertGreater(sum(map(sum, want)), 5, "the test network must spike")
        self.assertEqual(r.report["sim"]["steps"], 48)
        # The layers compiled are the layers built.
        names = [l["node"] for l in r.report["layers"]]
        self.assertEqual(sorted(n for n in names if n.startswith("if")), ["if1", "if2"])
        self.assertEqual(r.report["input_bits"], 6)
        self.assertEqual(r.report["output_bits"], 3)
        self.assertTrue(r.html.exists())

    @unittest.skipUnless(HAVE_VERILATOR, "cosim needs Verilator (make setup)")
    def test_rtl_matches_the_golden_model(self):
        r = spikeforge.cosim(
            self.graph, stimulus=self.stimulus, out=self.tmp / "cosim", **self.semantics
        )
        c = r.report["cosim"]
        self.assertEqual(c["mismatches"], 0)
        self.assertEqual(c["steps"], 48)
        self.assertGreaterEqual(c["values_compared"], 48 * 3)
        self.assertTrue(all(p.exists() for p in r.rtl))

    def test_a_graph_compiles_as_its_file_does(self):
        path = self.tmp / "net.nir"
        nir.write(path, self.graph)
        a = spikeforge.compile(path, out=self.tmp / "file", **self.semantics)
        b = spikeforge.compile(self.graph, name="net", out=self.tmp / "graph", **self.semantics)
        self.assertEqual([p.name for p in a.rtl], [p.name for p in b.rtl])
        for x, y in zip(a.rtl, b.rtl):
            self.assertEqual(x.read_text(), y.read_text(), x.name)
        # The same graph again lands on the same file, so reports of successive commands merge.
        c = spikeforge.compile(self.graph, name="net", out=self.tmp / "graph", force=True)
        self.assertEqual(c.report["model"], b.report["model"])

    def test_estimate_rows_sum_to_the_total(self):
        e = spikeforge.estimate(self.graph, target="ice40up5k", out=self.tmp / "est").report[
            "estimate"
        ]
        self.assertGreater(e["lut"], 0)
        # The total is rounded to whole LUTs; the rows are not.
        self.assertAlmostEqual(sum(l["lut"] for l in e["layers"]), e["lut"], delta=0.5)
        self.assertEqual(e["target"], "ice40up5k")

    def test_errors_are_one_line_and_name_the_culprit(self):
        w = np.ones((3, 6), np.float32)
        w[1, 2] = np.nan
        bad = nir.NIRGraph(
            nodes={
                "input": nir.Input(input_type={"input": np.array([6])}),
                "fc": nir.Linear(weight=w),
                "lif": nir.IF(r=np.ones(3), v_threshold=np.ones(3)),
                "output": nir.Output(output_type={"output": np.array([3])}),
            },
            edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
        )
        cases = [
            (lambda: spikeforge.compile(bad, out=self.tmp / "nan"), "fc"),
            (lambda: spikeforge.compile(self.tmp / "missing.nir"), "missing.nir"),
            (lambda: spikeforge.compile(self.graph, no_such_option=1), "--no-such-option"),
            (lambda: spikeforge.sim(self.graph, stimulus=[[0, 2, 0, 0, 0, 0]]), "input 1 is 2, outside its range 0..=1"),
            (lambda: spikeforge.sim(self.graph, stimulus=[[0.5] * 6]), "integers"),
            (lambda: spikeforge.compile(42), "nir.NIRGraph"),
        ]
        for call, culprit in cases:
            with self.assertRaises(spikeforge.SpikeforgeError) as e:
                call()
            msg = str(e.exception)
            self.assertIn(culprit, msg)
            self.assertNotIn("\n", msg)


class Docs(unittest.TestCase):
    @unittest.skipUnless(HAVE_VERILATOR, "the example cosimulates (make setup)")
    def test_the_python_guide_runs_as_written(self):
        """docs/python.md's Python blocks, in order, from the repository root."""
        text = (REPO / "docs" / "python.md").read_text()
        blocks = re.findall(r"```python\n(.*?)```", text, re.S)
        self.assertTrue(blocks)
        cwd, printed = os.getcwd(), io.StringIO()
        try:
            os.chdir(REPO)
            with contextlib.redirect_stdout(printed):
                scope = {}
                for b in blocks:
                    exec(compile(b, "docs/python.md", "exec"), scope)
        finally:
            os.chdir(cwd)
        self.assertIn(" 0 mismatches", printed.getvalue())
        self.assertEqual(scope["c"].report["cosim"]["mismatches"], 0)


if __name__ == "__main__":
    unittest.main()
