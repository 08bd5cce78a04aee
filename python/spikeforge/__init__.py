"""Spikeforge from Python: compile a spiking network (a NIR file, a ``nir.NIRGraph``, an ONNX
or ``.sfir`` file) to Verilog, run its golden model, cosimulate the RTL in Verilator, estimate
or synthesise its hardware cost.

Each function is the command line's command of the same name, run in-process; keyword
arguments are its options, spelled with underscores (``weight_bits=6`` is ``--weight-bits 6``,
``force=True`` is ``--force``, a list repeats the option). ``spikeforge <command> --help`` and
docs/cli.md list them all. Errors raise :class:`SpikeforgeError` with the CLI's one-line
message.

    >>> import spikeforge
    >>> r = spikeforge.cosim("examples/rsnn_16_32_10.nir", steps=64, samples=2)
    >>> r.report["cosim"]["mismatches"]
    0
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from ._native import SpikeforgeError, __version__
from ._native import run as _run

__all__ = [
    "Result",
    "SpikeforgeError",
    "compile",
    "cosim",
    "estimate",
    "run",
    "sim",
    "synth",
    "__version__",
]

Model = Union[str, "os.PathLike[str]", Any]


@dataclass
class Result:
    """What a command left: its output folder and its report (report.json's content, with
    the wall-clock times included)."""

    out: Path
    report: Dict[str, Any]

    @property
    def rtl(self) -> List[Path]:
        """The Verilog files, top module last."""
        return [self.out / f for f in self.report.get("rtl", [])]

    @property
    def html(self) -> Path:
        """The self-contained HTML report (plots, per-layer table)."""
        return self.out / "report.html"

    def golden_trace(self) -> Dict[str, List[List[int]]]:
        """Per node, per timestep, the golden model's values (``sim(..., trace=True)``)."""
        path = self.out / "sim" / "golden_trace.json"
        if not path.exists():
            raise SpikeforgeError(f"{path}: no golden trace; run sim with trace=True")
        return json.loads(path.read_text())


def run(*args: str) -> Optional[Result]:
    """Runs one command given as CLI arguments, e.g. ``run("compile", "m.nir", "-o", "out")``."""
    done = _run([str(a) for a in args])
    if done is None:
        return None
    out, report = done
    return Result(Path(out), json.loads(report))


def compile(model: Model, **options: Any) -> Result:
    """Quantises the model and writes Verilog, the project files and the report."""
    return _command("compile", model, options)


def sim(model: Model, stimulus: Any = None, **options: Any) -> Result:
    """Runs the bit-exact golden model (and the float reference, for agreement).

    ``stimulus``: ``"random"`` (the default; see ``steps``, ``samples``, ``rate``, ``seed``), a
    path to a stimulus file, or an array of inputs (0/1 spikes, or a quantised network's
    integers) shaped (steps, inputs) or (samples, steps, inputs)."""
    return _command("sim", model, options, stimulus)


def cosim(model: Model, stimulus: Any = None, **options: Any) -> Result:
    """Lints the RTL, runs it in Verilator against the golden model on the same stimulus
    (see :func:`sim`) and raises :class:`SpikeforgeError` on any mismatch."""
    return _command("cosim", model, options, stimulus)


def estimate(model: Model, target: str = "xc7a35t", **options: Any) -> Result:
    """Predicts LUT/FF/DSP/BRAM per layer and in total from the shipped surrogate, without
    synthesis; ``report["estimate"]`` holds the figures."""
    return _command("estimate", model, dict(options, target=target))


def synth(model: Model, target: str = "xc7a35t", **options: Any) -> Result:
    """Synthesises the RTL with Yosys for ``target`` (``spikeforge targets`` lists them)."""
    return _command("synth", model, dict(options, target=target))


def _command(cmd: str, model: Model, options: Dict[str, Any], stimulus: Any = None) -> Result:
    options = dict(options)
    options.setdefault("quiet", True)
    with tempfile.TemporaryDirectory(prefix="spikeforge-py-") as scratch:
        if stimulus is not None:
            options["stimulus"] = _stimulus_arg(stimulus, Path(scratch))
        args = [cmd, _model_path(model, options.pop("name", None))] + _flags(options)
        result = run(*args)
    if result is None:
        raise SpikeforgeError(f"{cmd} wrote no report")
    return result


def _flags(options: Dict[str, Any]) -> List[str]:
    """Keyword arguments as CLI options: ``x_y=v`` -> ``--x-y v``; True is a bare flag, False
    and None are left out, a list or tuple repeats the option."""
    flags: List[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            flags.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                flags += [flag, str(v)]
        else:
            flags += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return flags


def _model_path(model: Model, name: Optional[str]) -> str:
    """A path for a file; a ``nir.NIRGraph`` is written with ``nir.write`` to a file named
    after ``name`` (default ``model``) in a folder keyed by its content, so the same graph
    always has the same path and the reports of successive commands on it merge."""
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model)
    if not (hasattr(model, "nodes") and hasattr(model, "edges")):
        raise SpikeforgeError(
            f"model: expected a file path or a nir.NIRGraph, got {type(model).__name__}"
        )
    import nir  # only needed for graphs

    buf = io.BytesIO()
    nir.write(buf, model)
    data = buf.getvalue()
    folder = Path(tempfile.gettempdir()) / "spikeforge-py" / hashlib.sha256(data).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name or 'model'}.nir"
    if not path.exists() or path.read_bytes() != data:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return str(path)


def _stimulus_arg(stimulus: Any, scratch: Path) -> str:
    """A path or ``"random"`` as given; an array of inputs written in the stimulus file format
    (a line of integers per step, a blank line between samples; the compiler checks each
    against its input's range)."""
    if isinstance(stimulus, (str, os.PathLike)):
        return os.fspath(stimulus)
    samples = _as_samples(stimulus)
    lines: List[str] = []
    for s, sample in enumerate(samples):
        if s:
            lines.append("")
        for step in sample:
            values = []
            for x in step:
                if isinstance(x, float) and not x.is_integer():
                    raise SpikeforgeError(f"stimulus: inputs are integers, got {x!r}")
                values.append(str(int(x)))
            # Integers separated by spaces: spikes (0/1) or a quantised network's inputs.
            lines.append(" ".join(values))
    path = scratch / "stimulus.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _as_samples(stimulus: Any) -> Sequence[Sequence[Sequence[int]]]:
    data = stimulus.tolist() if hasattr(stimulus, "tolist") else stimulus
    try:
        depth = 0
        probe = data
        while isinstance(probe, (list, tuple)):
            depth += 1
            probe = probe[0]
    except (IndexError, TypeError):
        raise SpikeforgeError("stimulus: empty") from None
    if depth == 2:
        return [data]
    if depth == 3:
        return data
    raise SpikeforgeError(
        f"stimulus: expected (steps, inputs) or (samples, steps, inputs) spikes, got {depth} dimensions"
    )
