#!/usr/bin/env python3
"""`make fuzz`: runs every cargo-fuzz target (fuzz/fuzz_targets) for a set time, all at once,
and writes executions, executions per second and crashes to the fuzz section of BENCHMARKS.md.

Usage: tools/fuzz_bench.py [--seconds 600] [--md BENCHMARKS.md]
Needs the nightly toolchain and `cargo install cargo-fuzz`. Crash inputs land in
fuzz/artifacts/<target>/; each becomes a regression test.
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdsection import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"
TARGETS = ["nir_reader", "onnx_reader", "sfir_parser", "graph_flow"]
BEGIN, END = "<!-- fuzz-bench:begin -->", "<!-- fuzz-bench:end -->"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--md", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--only", default="", help="comma-separated targets; the others' rows are kept")
    a = ap.parse_args()
    run_now = [t for t in a.only.split(",") if t] or TARGETS
    # Rows of targets not run this time, from the existing section.
    kept = {}
    if a.md.exists():
        text = a.md.read_text()
        if BEGIN in text and END in text:
            for line in text[text.index(BEGIN):text.index(END)].splitlines():
                cells = [c.strip() for c in line.split("|")]
                if len(cells) > 2 and cells[1] in TARGETS and cells[1] not in run_now:
                    kept[cells[1]] = line
    subprocess.run(["cargo", "+nightly", "fuzz", "build", "-O"], cwd=FUZZ, check=True)
    procs = {}
    for t in run_now:
        work = FUZZ / "corpus-run" / t
        work.mkdir(parents=True, exist_ok=True)
        cmd = ["cargo", "+nightly", "fuzz", "run", "-O", t, str(work), str(FUZZ / "corpus" / t),
               "--", f"-max_total_time={a.seconds}", "-rss_limit_mb=2048", "-timeout=10"]
        log = open(FUZZ / "corpus-run" / f"{t}.log", "w")
        procs[t] = (subprocess.Popen(cmd, cwd=FUZZ, stdout=log, stderr=subprocess.STDOUT), log)
    rows = []
    for t, (p, log) in procs.items():
        rc = p.wait()
        log.close()
        text = (FUZZ / "corpus-run" / f"{t}.log").read_text(errors="replace")
        done = re.findall(r"Done (\d+) runs in (\d+) second", text)
        runs, secs = (int(done[-1][0]), int(done[-1][1])) if done else (0, 0)
        cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", text)
        crashed = "deadly signal" in text or "panicked" in text or rc != 0
        rows.append((t, secs, runs, runs // max(secs, 1), cov[-1] if cov else ("-", "-", "-"),
                     "yes" if crashed else "none"))
        print(f"{t}: {runs} runs in {secs} s, crash: {crashed}")
    lines = [
        "## Fuzzing",
        "",
        f"Command: `make fuzz` (`tools/fuzz_bench.py --seconds {a.seconds}`): every cargo-fuzz target "
        "(libFuzzer, nightly, `-O`) for that long, all at once on this machine's cores, seeded "
        "from `fuzz/corpus/` (`--only T1,T2` reruns some and keeps the other rows). "
        "`nir_reader`: any bytes as a NIR file, then quantisation. `onnx_reader`: any bytes as "
        "an ONNX model, then verification and quantisation. "
        "`sfir_parser`: any text as `.sfir`; an accepted graph must print and parse back equal. "
        "`graph_flow`: random valid SNNs through quantisation, pruning and the golden model; "
        "pruning must not change any output.",
        "",
        "| target | seconds | executions | executions/s | coverage (edges / features / corpus) | crashes |",
        "|---|---|---|---|---|---|",
    ]
    fresh = {t: f"| {t} | {secs} | {runs} | {rate} | {cov[0]} / {cov[1]} / {cov[2]} | {crash} |"
             for t, secs, runs, rate, cov, crash in rows}
    for t in TARGETS:
        if t in fresh or t in kept:
            lines.append(fresh.get(t) or kept[t])
    write_section(a.md, BEGIN, END, "\n".join(lines) + "\n")
    return 1 if any(r[5] != "none" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
