#!/usr/bin/env python3
"""Packs a resumed sweep for committing: datasets/<target>.jsonl (the running sweep's file,
every record) -> <target>.jsonl.gz with the synthesised designs only (errors and a partly
written last line dropped, so a resumed sweep retries them), and the wall-clock times of those
designs -> <target>.timing.jsonl.gz. Deterministic gzip (no timestamp).

    python3 tools/pack_datasets.py xc7a35t ice40up5k
"""
import gzip
import json
import sys
from pathlib import Path

DIR = Path(__file__).resolve().parent.parent / "datasets"


def records(path):
    for line in path.read_text().splitlines():
        try:
            yield line, json.loads(line)
        except json.JSONDecodeError:
            continue  # the line the sweep is writing


def write_gz(path, lines):
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as f:
        f.write("".join(l + "\n" for l in lines).encode())


for target in sys.argv[1:]:
    kept, ids = [], set()
    for line, r in records(DIR / f"{target}.jsonl"):
        if "error" in r or r.get("id") in ids:
            continue
        kept.append(line)
        ids.add(r["id"])
    timing = [l for l, r in records(DIR / f"{target}.timing.jsonl") if r.get("id") in ids]
    write_gz(DIR / f"{target}.jsonl.gz", kept)
    write_gz(DIR / f"{target}.timing.jsonl.gz", timing)
    print(f"{target}: {len(kept)} designs, {len(timing)} timings")
