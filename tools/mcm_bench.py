#!/usr/bin/env python3
"""Multiple constant multiplication against the exact ILP: Spikeforge's adder graphs for the 82
FIR/MCM benchmark sets of the jMCM project (Garcia & Volkova, "Towards the MCM at minimal
hardware cost"; data read from ../shared/bench/mcm, never copied here).

For each set, `spikeforge cmvm` gets the unique coefficients as a one-column matrix times an
8-bit signed input. Every design is simulated in Verilator on all 256 inputs and checked
against the products, then synthesised by Yosys (`synth_xilinx -nodsp -flatten`). Adder counts
are compared with the ILP minimum (`mcm`, no depth bound; proven optimal where the solver
finished) and one-bit adders with the ILP that minimises them (`mcmb`, mostly time-limited).

    python3 tools/mcm_bench.py --spikeforge target/release/spikeforge \
        --data ../shared/bench/mcm --work target/mcm-bench --markdown BENCHMARKS.md
"""

import argparse
import concurrent.futures as cf
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cmvm_bench import decode, run, signed_width, synth, testbench, write_section  # noqa: E402

BEGIN, END = "<!-- mcm-bench:begin -->", "<!-- mcm-bench:end -->"


def load(data):
    sets = {}
    with open(data / "benchmarks.csv") as f:
        for r in csv.reader(f):
            if r[0] != "name" and r[6].split():
                sets[r[0].strip()] = [int(x) for x in r[6].split()]
    ilp = {}
    with open(data / "results.csv") as f:
        for r in csv.reader(f):
            if r[0] == "name":
                continue
            name, meth, min_ad, secs = r[0].strip(), r[2].strip(), r[3].strip(), r[4].strip()
            if meth == "mcm" and min_ad == "false":
                ilp.setdefault(name, {}).update(adders=int(r[5]), proven="*" not in secs)
            if meth == "mcmb":
                ilp.setdefault(name, {}).update(onebit=int(r[8]), onebit_proven="*" not in secs)
    return {n: (c, ilp[n]) for n, c in sets.items() if "adders" in ilp.get(n, {})}


def one(name, coeffs, ilp, args):
    d = Path(args.work) / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "m.json").write_text(json.dumps({"weights": [[c] for c in coeffs]}))
    st = json.loads(run([args.spikeforge, "cmvm", "m.json", "--input-bits", "8", "-o", "cmvm.v", "--json"], cwd=d))
    ob = max(signed_width(-128 * c, 127 * c) for c in coeffs)
    xs = list(range(-128, 128))
    (d / "x.hex").write_text("".join(f"{x & 0xff:02x}\n" for x in xs))
    (d / "tb.sv").write_text(testbench("cmvm", 8, len(coeffs) * ob, False, len(xs)))
    run(["verilator", "--binary", "--timing", "-Wno-fatal", "-Wno-lint", "-Wno-style",
         "--top-module", "tb", "tb.sv", "cmvm.v", "-o", "tbsim"], cwd=d, timeout=600)
    run([str(d / "obj_dir" / "tbsim")], cwd=d, timeout=60)
    got = decode([int(l, 16) for l in (d / "y.hex").read_text().split()], len(coeffs), ob)
    correct = got == [[c * x for c in coeffs] for x in xs]
    return dict(name=name, constants=len(coeffs), adders=st["adders"], onebit=st["onebit_adders"],
                depth=st["depth"], form=st["solver"]["form"], seconds=round(st["seconds"], 4), correct=correct,
                ilp=ilp, **synth(d, "cmvm", ["cmvm.v"]))


def markdown(res, command):
    proven = [r for r in res if r["ilp"]["proven"]]
    tot = lambda rs, k: sum(r[k] for r in rs)  # noqa: E731
    tot_ilp = lambda rs, k: sum(r["ilp"][k] for r in rs)  # noqa: E731
    ok = sum(r["correct"] for r in res)
    lines = [
        "## Multiple constant multiplication: Spikeforge vs the exact ILP (jMCM benchmark sets)",
        "",
        f"Command: `{command}`. {len(res)} FIR/MCM coefficient sets with ILP results from the jMCM project "
        "(Garcia & Volkova; `../shared/bench/mcm`): unique coefficients times one 8-bit signed input, "
        f"every design simulated in Verilator on all 256 inputs ({ok} of {len(res)} correct) and "
        "synthesised by Yosys `synth_xilinx -nodsp -flatten`. ILP adders: minimum adder count "
        "(`mcm`, no depth bound); ILP one-bit: the ILP minimising one-bit adders (`mcmb`, most runs "
        "stopped at their 30-minute limit, so not proven optimal).",
        "",
        "| sets | Spikeforge adders | ILP adders | ratio | Spikeforge one-bit adders | Spikeforge LUTs | ILP one-bit | Spikeforge time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, rs in [(f"all {len(res)}", res), (f"{len(proven)} proven optimal", proven)]:
        lines.append(f"| {label} | {tot(rs, 'adders')} | {tot_ilp(rs, 'adders')} | "
                     f"{tot(rs, 'adders') / tot_ilp(rs, 'adders'):.3f} | {tot(rs, 'onebit')} | {tot(rs, 'lut')} | "
                     f"{tot_ilp(rs, 'onebit')} | {sum(r['seconds'] for r in rs):.2f} |")
    worse = [r for r in proven if r["adders"] > r["ilp"]["adders"]]
    lines += ["", f"On the proven sets Spikeforge needs more adders than the optimum on {len(worse)}: "
              + ", ".join(f"{r['name']} ({r['adders']} vs {r['ilp']['adders']})" for r in worse) + ".", "",
              "<details><summary>Per set</summary>", "",
              "| set | constants | adders | ILP adders | proven | one-bit | ILP one-bit | LUT | depth | form | ok |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res:
        lines.append(f"| {r['name']} | {r['constants']} | {r['adders']} | {r['ilp']['adders']} | "
                     f"{'yes' if r['ilp']['proven'] else 'no'} | {r['onebit']} | {r['ilp']['onebit']} | "
                     f"{r['lut']} | {r['depth']} | {r['form']} | {'yes' if r['correct'] else '**NO**'} |")
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spikeforge", required=True)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/bench/mcm"))
    ap.add_argument("--work", default="target/mcm-bench")
    ap.add_argument("--markdown", required=True, help="file whose marked section to replace")
    ap.add_argument("--json")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    args.spikeforge = str(Path(args.spikeforge).resolve())
    sets = load(Path(args.data))
    with cf.ProcessPoolExecutor(max_workers=args.jobs) as ex:
        futs = [ex.submit(one, n, c, i, args) for n, (c, i) in sets.items()]
        res = [f.result() for f in futs]
    command = "python3 " + " ".join(sys.argv)
    write_section(Path(args.markdown), BEGIN, END, markdown(res, command))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    bad = [r["name"] for r in res if not r["correct"]]
    if bad:
        sys.exit(f"wrong products from Spikeforge: {bad}")


if __name__ == "__main__":
    main()
