#!/usr/bin/env python3
"""Constant matrix-vector multiplication, side by side: Spikeforge's hardwired block, da4ml 0.6
(`da4ml.cmvm.solve`, then its Verilog writer) and naive Verilog (`*` and `+`).

Every design is simulated with Verilator on the same random input vectors and checked against
numpy's `W @ x`, then synthesised by the same Yosys with `synth_xilinx -nodsp -flatten`.
Writes a Markdown table (with the command that made it) and a JSON file of every figure.

Needs: numpy and da4ml==0.6.0 (`make bench` installs them into a private venv), verilator
(5.x, `--binary`), yosys, and a built `spikeforge`.

    python3 tools/cmvm_bench.py --spikeforge target/release/spikeforge \
        --work target/cmvm-bench --markdown BENCHMARKS-cmvm.md [--quick]
"""

import argparse
import concurrent.futures as cf
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from mdsection import write_section  # noqa: F401 (re-exported for mcm_bench)

import numpy as np

SIZES = [(8, 8), (16, 16), (32, 32), (64, 16), (128, 64)]  # (outputs, inputs)
VECTORS = 64
# The section of the Markdown file this script owns (the rest is `make bench`'s Rust part).
BEGIN, END = "<!-- cmvm-bench:begin -->", "<!-- cmvm-bench:end -->"
# Naive Verilog of larger matrices takes Yosys hours; rows are independent there (no sharing),
# so it is synthesised on this many sampled rows and scaled.
NAIVE_FULL_LIMIT = 16 * 16 * 8 * 8
NAIVE_SAMPLE_ROWS = 8


def cases(quick):
    out = []
    for rows, cols in SIZES[:2] if quick else SIZES:
        for wbits in (4, 8):
            for inp in ("int8", "spike"):
                for zeros in (0.3, 0.0):
                    out.append(dict(rows=rows, cols=cols, wbits=wbits, inp=inp, zeros=zeros))
    return out


def name(c):
    return f"{c['rows']}x{c['cols']}_w{c['wbits']}_{c['inp']}_z{int(c['zeros'] * 100)}"


def matrix(c, seed):
    rng = np.random.default_rng(seed)
    m = 2 ** (c["wbits"] - 1) - 1
    w = rng.integers(-m, m + 1, size=(c["rows"], c["cols"]))
    w[rng.random(w.shape) < c["zeros"]] = 0
    return w


def in_bits(c):
    return 1 if c["inp"] == "spike" else 8


def signed_width(lo, hi):
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


def out_bits(w, ib):
    """Bits of the widest row's result range, as `spikeforge cmvm` sizes its outputs."""
    lo, hi = (0, 1) if ib == 1 else (-(2 ** (ib - 1)), 2 ** (ib - 1) - 1)
    row_hi = np.where(w > 0, w * hi, w * lo).sum(1)
    row_lo = np.where(w > 0, w * lo, w * hi).sum(1)
    return max(signed_width(int(a), int(b)) for a, b in zip(row_lo, row_hi))


def run(cmd, cwd=None, timeout=None):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r.stdout


def naive_verilog(w, ib, ob, rows_subset=None):
    rows = range(w.shape[0]) if rows_subset is None else rows_subset
    n = w.shape[1]
    lines = [f"module naive (input wire [{n * ib - 1}:0] x, output wire [{len(rows) * ob - 1}:0] y);"]
    for i in range(n):
        if ib == 1:
            lines.append(f"  wire signed [1:0] x{i} = {{1'b0, x[{i}]}};")
        else:
            lines.append(f"  wire signed [{ib - 1}:0] x{i} = x[{i * ib + ib - 1}:{i * ib}];")
    for k, r in enumerate(rows):
        terms = [f"$signed({ob}'sd{abs(int(v))}) * x{i}" if v > 0 else f"-$signed({ob}'sd{abs(int(v))}) * x{i}"
                 for i, v in enumerate(w[r]) if v != 0]
        expr = " + ".join(terms) if terms else f"{ob}'sd0"
        lines.append(f"  wire signed [{ob - 1}:0] y{k} = {expr};")
        lines.append(f"  assign y[{k * ob + ob - 1}:{k * ob}] = y{k};")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def testbench(top, xw, yw, da4ml, n):
    ports = ".model_inp(x), .model_out(y)" if da4ml else ".x(x), .y(y)"
    return f"""module tb;
  reg [{xw - 1}:0] xs [0:{n - 1}];
  reg [{xw - 1}:0] x = 0;
  wire [{yw - 1}:0] y;
  {top} dut({ports});
  integer i, f;
  initial begin
    $readmemh("x.hex", xs);
    f = $fopen("y.hex", "w");
    for (i = 0; i < {n}; i = i + 1) begin
      x = xs[i];
      #1;
      $fdisplay(f, "%h", y);
    end
    $fclose(f);
    $finish;
  end
endmodule
"""


def simulate(d, top, files, xw, yw, da4ml):
    (d / "tb.sv").write_text(testbench(top, xw, yw, da4ml, VECTORS))
    run(["verilator", "--binary", "--timing", "-Wno-fatal", "-Wno-lint", "-Wno-style",
         "--top-module", "tb", "tb.sv", *map(str, files), "-o", "tbsim"], cwd=d, timeout=3600)
    run([str(d / "obj_dir" / "tbsim")], cwd=d, timeout=600)
    return [int(l, 16) for l in (d / "y.hex").read_text().split()]


def sx(v, b):
    return v - (1 << b) if (v >> (b - 1)) & 1 else v


def decode(ys, n_out, bits, frac=0):
    return [[sx((y >> (bits * j)) & ((1 << bits) - 1), bits) / 2 ** frac for j in range(n_out)] for y in ys]


def synth(d, top, files):
    log = d / f"yosys_{top}.log"
    t0 = time.time()
    with open(log, "w") as f:
        subprocess.run(["yosys", "-p", f"read_verilog -sv {' '.join(map(str, files))}; "
                        f"synth_xilinx -nodsp -flatten -top {top}; stat"],
                       stdout=f, stderr=subprocess.STDOUT, check=True, timeout=4 * 3600, cwd=d)
    secs = time.time() - t0
    text = log.read_text()
    stat = text[text.rfind("Printing statistics"):]
    luts = sum(int(m) for m in re.findall(r"^\s+LUT[1-6]\s+(\d+)", stat, re.M))
    carry = sum(int(m) for m in re.findall(r"^\s+CARRY4\s+(\d+)", stat, re.M))
    ffs = sum(int(m) for m in re.findall(r"^\s+FD[RSCP]E\s+(\d+)", stat, re.M))
    return dict(lut=luts, carry4=carry, ff=ffs, yosys_s=round(secs, 1))


def da4ml_design(w, ib, d):
    """da4ml's documented tracing flow: an input array quantised to the input format, times the
    constant matrix (which calls `da4ml.cmvm.solve`), traced into one combinational block and
    written by its Verilog writer. (Writing `solve`'s two-stage pipeline directly gave wrong
    results in Verilator and Yosys for most outputs in da4ml 0.6.0.)"""
    from da4ml.codegen.rtl.rtl_model import VerilogModel
    from da4ml.trace import FixedVariableArrayInput, comb_trace
    from da4ml.types import minimal_kif

    t0 = time.time()
    inp = FixedVariableArrayInput(w.shape[1])
    x = inp.quantize(0, 1, 0) if ib == 1 else inp.quantize(1, ib - 1, 0)
    # da4ml computes x @ kernel; the kernel must be C-contiguous (its binding ignores strides).
    out = x @ np.ascontiguousarray(w.T).astype(np.float32)
    comb = comb_trace(inp, out)
    secs = time.time() - t0
    VerilogModel(comb, "cm", d / "prj").write()
    src = d / "prj" / "src"
    files = []
    for f in sorted(src.glob("static/*.v")) + [src / "cm.v", src / "cm_wrapper.v"]:
        if f.name == "lookup_table.v":
            continue
        # Verilator 5.006 does not know these lint codes; the comments only silence warnings.
        text = re.sub(r"/\* *verilator lint_(off|on) WIDTH(TRUNC|EXPAND) *\*/", "", f.read_text())
        out_f = d / f.name
        out_f.write_text(text)
        files.append(out_f)
    adders = sum(1 for op in comb.ops if op.opcode in (0, 1))
    # The wrapper's uniform output format (its hetero_io_map): max integer and max fraction bits.
    ks, ints, fs = zip(*map(minimal_kif, comb.out_qint))
    max_f = max(fs)
    return dict(files=files, adders=adders, secs=secs, out_bits=max(ints) + max(ks) + max_f, out_frac=max_f)


def one(c, args, seed):
    d = Path(args.work) / name(c)
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    w = matrix(c, seed)
    ib = in_bits(c)
    ob = out_bits(w, ib)
    rows, cols = w.shape
    rng = np.random.default_rng(seed + 1)
    if ib == 1:
        xs = rng.integers(0, 2, size=(VECTORS, cols))
    else:
        xs = rng.integers(-128, 128, size=(VECTORS, cols))
        xs[0], xs[1] = -128, 127  # the corners
    xs[-1] = 1 if ib == 1 else -128
    want = (xs @ w.T).tolist()
    hexw = (cols * ib + 3) // 4
    x_hex = "".join(format(sum((int(v) & ((1 << ib) - 1)) << (ib * i) for i, v in enumerate(x)), f"0{hexw}x") + "\n" for x in xs)
    res = dict(case=name(c), **c)

    # Spikeforge.
    sf = d / "sf"
    sf.mkdir()
    (sf / "m.json").write_text(json.dumps({"weights": w.tolist()}))
    st = json.loads(run([args.spikeforge, "cmvm", "m.json", "--input-bits", str(ib), "-o", "cmvm.v", "--json"], cwd=sf))
    (sf / "x.hex").write_text(x_hex)
    got = decode(simulate(sf, "cmvm", ["cmvm.v"], cols * ib, rows * ob, False), rows, ob)
    res["spikeforge"] = dict(adders=st["adders"], onebit=st["onebit_adders"], depth=st["depth"],
                             compile_s=round(st["seconds"], 3), correct=got == want, **synth(sf, "cmvm", ["cmvm.v"]))

    # da4ml.
    da = d / "da4ml"
    da.mkdir()
    try:
        info = da4ml_design(w, ib, da)
        (da / "x.hex").write_text(x_hex)
        ys = simulate(da, "cm_wrapper", [f.name for f in info["files"]], cols * ib, rows * info["out_bits"], True)
        got = decode(ys, rows, info["out_bits"], info["out_frac"])
        top_files = [f.name for f in info["files"] if f.name != "cm_wrapper.v"]
        res["da4ml"] = dict(adders=info["adders"], compile_s=round(info["secs"], 3),
                            correct=got == want, **synth(da, "cm", top_files))
    except Exception as e:  # report, do not hide
        res["da4ml"] = dict(error=str(e)[:500])

    # Naive.
    nv = d / "naive"
    nv.mkdir()
    (nv / "naive.v").write_text(naive_verilog(w, ib, ob))
    (nv / "x.hex").write_text(x_hex)
    got = decode(simulate(nv, "naive", ["naive.v"], cols * ib, rows * ob, False), rows, ob)
    full = rows * cols * c["wbits"] * ib <= NAIVE_FULL_LIMIT
    if full:
        syn = synth(nv, "naive", ["naive.v"])
    else:
        pick = sorted(np.random.default_rng(seed + 2).choice(rows, NAIVE_SAMPLE_ROWS, replace=False).tolist())
        (nv / "sample.v").write_text(naive_verilog(w, ib, ob, pick))
        part = synth(nv, "naive", ["sample.v"])
        k = rows / NAIVE_SAMPLE_ROWS
        syn = {key: (round(v * k) if key != "yosys_s" else v) for key, v in part.items()}
    res["naive"] = dict(correct=got == want, scaled_from_rows=None if full else NAIVE_SAMPLE_ROWS, **syn)
    return res


def markdown(results, command):
    lines = [
        "## Constant matrix-vector products: Spikeforge vs da4ml 0.6 vs naive Verilog",
        "",
        f"Command: `{command}`. Yosys `synth_xilinx -nodsp -flatten`; random integer matrices "
        "(uniform in the signed weight range, the given fraction set to zero); every design "
        f"simulated in Verilator on {VECTORS} random vectors (the input corners included) and "
        "checked against `W @ x`. da4ml designs come from its tracing flow (one combinational "
        "block, `comb_trace` then `VerilogModel`). Naive figures marked * are synthesised on 8 sampled rows and scaled (its "
        "rows share nothing).",
        "",
        "| case | SF LUT | SF CARRY4 | SF adders | SF depth | SF s | SF ok | da4ml LUT | da4ml CARRY4 | "
        "da4ml adders | da4ml s | da4ml ok | naive LUT | naive/SF | da4ml/SF |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s, d, n = r["spikeforge"], r["da4ml"], r["naive"]
        if "error" in d:
            dcols = ["error"] + [""] * 4
            ratio_d = ""
        else:
            dcols = [d["lut"], d["carry4"], d["adders"], d["compile_s"], "yes" if d["correct"] else "**NO**"]
            ratio_d = f"{d['lut'] / max(s['lut'], 1):.2f}"
        naive = f"{n['lut']}{'*' if n['scaled_from_rows'] else ''}"
        lines.append("| " + " | ".join(map(str, [
            r["case"], s["lut"], s["carry4"], s["adders"], s["depth"], s["compile_s"],
            "yes" if s["correct"] else "**NO**", *dcols, naive,
            f"{n['lut'] / max(s['lut'], 1):.1f}", ratio_d])) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spikeforge", required=True)
    ap.add_argument("--work", default="target/cmvm-bench")
    ap.add_argument("--markdown", required=True, help="file whose marked section to replace")
    ap.add_argument("--json")
    ap.add_argument("--quick", action="store_true", help="only the two smallest sizes")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", help="run only the cases whose name contains this (others keep --resume results)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the results already in --json and run only the missing cases")
    args = ap.parse_args()
    args.spikeforge = str(Path(args.spikeforge).resolve())
    todo = cases(args.quick)
    results = [None] * len(todo)
    if args.resume and args.json and Path(args.json).exists():
        old = {r["case"]: r for r in json.loads(Path(args.json).read_text())}
        results = [old.get(name(c)) for c in todo]
    # Seeds follow a case's place in the full list, so a partial run measures the same matrices.
    run_k = [k for k, c in enumerate(todo)
             if results[k] is None and (not args.only or args.only in name(c))]
    with cf.ProcessPoolExecutor(max_workers=args.jobs) as ex:
        futs = {ex.submit(one, todo[k], args, args.seed + 100 * k): k for k in run_k}
        for f in cf.as_completed(futs):
            k = futs[f]
            results[k] = f.result()
            r = results[k]
            if args.json:  # after every case, so an interrupted run keeps what it measured
                Path(args.json).write_text(json.dumps([x for x in results if x], indent=1))
            print(f"{r['case']}: SF {r['spikeforge']['lut']} LUT, da4ml {r['da4ml'].get('lut', 'error')}, "
                  f"naive {r['naive']['lut']}", flush=True)
    command = "python3 " + " ".join(sys.argv)
    results = [r for r in results if r]
    write_section(Path(args.markdown), BEGIN, END, markdown(results, command))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    bad = [r["case"] for r in results if not r["spikeforge"]["correct"] or not r["naive"]["correct"]]
    if bad:
        sys.exit(f"wrong results from Spikeforge or naive designs: {bad}")


if __name__ == "__main__":
    main()
