#!/usr/bin/env python3
"""Benchmark: a chain of five transforms over JSON records of 10 fields, in-process.

Two pipelines read the same file of N JSON lines (file source, format json, follow false) with
value.converter json (schemaless), so each record is decoded from JSON, transformed and encoded to
JSON again on the source thread, then handed to the `discard` fixture sink (tests/plugins):

  baseline  no transforms
  chain     insert-field (static) → replace-field (rename) → cast (two fields) →
            timestamp-converter (ISO string → unix ms) → regex-router (every record to
            <topic>-routed, which the sink reads)

For each it prints wall time, records/s and peak RSS per run and the medians; the chain's cost per
record is the difference of the medians. Then it runs both, with --alloc-records records, under
valgrind (memcheck, no leak check) and prints the heap allocations per record of each and of the
chain alone: (allocs(chain) - allocs(baseline)) / records.

Not a timed test: it never fails on speed. Figures go to docs/performance.md.

usage: tests/bench/transforms_bench.py [--build DIR] [--records N] [--runs N]
                                        [--alloc-records N] [--no-valgrind]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHAIN = """      transforms:
        - plugin: insert-field
          config: {static.field: origin, static.value: bench}
        - plugin: replace-field
          config: {renames: "name:customer"}
        - plugin: cast
          config: {spec: "qty:int32,price:float64"}
        - plugin: timestamp-converter
          config: {field: ts, target.type: unix, format: "yyyy-MM-dd'T'HH:mm:ss'Z'"}
        - plugin: regex-router
          config: {regex: "(.*)", replacement: "$1-routed"}
"""


def generate(path, n):
    """n JSON objects of 10 fields, one per line."""
    regions = ["eu", "us", "apac", "latam"]
    with open(path, "w", encoding="ascii") as f:
        for s in range(0, n, 50_000):
            rows = []
            for i in range(s, min(s + 50_000, n)):
                rows.append(json.dumps({
                    "id": i, "name": f"customer-{i % 9973}", "qty": str(i % 50 + 1),
                    "price": f"{(i % 1000) / 10:.2f}", "ts": "2026-11-%02dT%02d:%02d:%02dZ" % (
                        i % 28 + 1, i % 24, i % 60, (i * 7) % 60),
                    "region": regions[i % 4], "active": i % 3 == 0, "score": round((i % 97) / 7, 2),
                    "code": f"C{i % 100000:05d}", "note": "lorem ipsum dolor sit amet"},
                    separators=(",", ":")))
            f.write("\n".join(rows) + "\n")


def pipeline_yaml(work, src, chain):
    topic = "bench-routed" if chain else "bench"
    return f"""version: 1
offset.storage.file.filename: {work}/offsets-{'chain' if chain else 'base'}.json
pipelines:
  - id: bench
    topic: bench
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: file
      config: {{file: {src}, format: json, follow: false}}
{CHAIN if chain else ''}  - id: out
    topic: {topic}
    value.converter: json
    value.converter.schemas.enable: false
    sinks:
      - id: drop
        plugin: discard
""" if chain else f"""version: 1
offset.storage.file.filename: {work}/offsets-base.json
pipelines:
  - id: bench
    topic: bench
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: file
      config: {{file: {src}, format: json, follow: false}}
    sinks:
      - id: drop
        plugin: discard
"""


def env_for(build):
    env = dict(os.environ)
    env["SLUICE_PLUGIN_PATH"] = str(build / "tests" / "plugins")
    return env


def run_once(sluice, cfg, env, timeout, work):
    for f in Path(work).glob("offsets-*"):
        f.unlink()
    with tempfile.NamedTemporaryFile(prefix="sluice-bench-rss.") as rss:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, str(sluice), "run",
                               "--quiet", str(cfg)], stdin=subprocess.DEVNULL, env=env,
                              timeout=timeout, capture_output=True, text=True)
        secs = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"bench: sluice exited {proc.returncode}\n{proc.stderr}")
        return secs, int(Path(rss.name).read_text().split()[-1]), proc.stderr


def dropped(stderr):
    """The discard sink logs how many records it dropped when stopped."""
    m = re.findall(r"discarded (\d+) records", stderr)
    return sum(int(x) for x in m) if m else None


def allocs(sluice, cfg, env, work, timeout):
    for f in Path(work).glob("offsets-*"):
        f.unlink()
    proc = subprocess.run(["valgrind", "--tool=memcheck", "--leak-check=no",
                           str(sluice), "run", "--quiet", str(cfg)], stdin=subprocess.DEVNULL,
                          env=env, timeout=timeout, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"bench: sluice under valgrind exited {proc.returncode}\n{proc.stderr[-2000:]}")
    m = re.search(r"total heap usage: ([\d,]+) allocs", proc.stderr)
    if not m:
        sys.exit("bench: no 'total heap usage' line from valgrind")
    return int(m.group(1).replace(",", ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("SLUICE_BUILD", "build"))
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--alloc-records", type=int, default=100_000)
    ap.add_argument("--no-valgrind", action="store_true")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()

    build = Path(a.build)
    build = build if build.is_absolute() else REPO / build
    sluice = build / "sluice"
    if not os.access(sluice, os.X_OK):
        sys.exit(f"bench: {sluice} is not built")
    env = env_for(build)
    work = Path(tempfile.mkdtemp(prefix="sluice-xf-bench."))
    try:
        src = work / "in.jsonl"
        generate(src, a.records)
        size = src.stat().st_size
        print(f"input: {a.records:,} JSON records of 10 fields, {size / 1e6:.1f} MB "
              f"({size / a.records:.0f} B/record); build {build}")
        cfgs = {}
        for name, chain in (("baseline", False), ("chain", True)):
            cfgs[name] = work / f"{name}.yaml"
            cfgs[name].write_text(pipeline_yaml(work, src, chain))
        med = {}
        for name in ("baseline", "chain"):
            secs = []
            for run in range(1, a.runs + 1):
                s, rss, err = run_once(sluice, cfgs[name], env, a.timeout, work)
                n = dropped(err)
                if n is not None and n != a.records:
                    sys.exit(f"bench: {name} delivered {n} records, expected {a.records}")
                secs.append(s)
                print(f"{name:8s} run {run}: {s:7.3f} s  {a.records / s:12,.0f} records/s  "
                      f"peak RSS {rss / 1024:6.1f} MiB")
            med[name] = statistics.median(secs)
            print(f"{name:8s} median: {med[name]:.3f} s  {a.records / med[name]:,.0f} records/s")
        extra = (med["chain"] - med["baseline"]) / a.records
        print(f"chain of 5 transforms: {a.records / med['chain']:,.0f} records/s end to end "
              f"(decode + 5 transforms + encode on the source thread); the transforms alone cost "
              f"{extra * 1e9:.0f} ns/record ({1 / extra if extra > 0 else float('inf'):,.0f} "
              f"records/s if they were all there was)")

        if not a.no_valgrind and shutil.which("valgrind"):
            small = work / "small.jsonl"
            generate(small, a.alloc_records)
            counts = {}
            for name, chain in (("baseline", False), ("chain", True)):
                cfg = work / f"{name}-small.yaml"
                cfg.write_text(pipeline_yaml(work, small, chain))
                counts[name] = allocs(sluice, cfg, env, work, a.timeout * 4)
                print(f"{name:8s} heap allocations: {counts[name]:,} for {a.alloc_records:,} "
                      f"records ({counts[name] / a.alloc_records:.3f} per record)")
            print(f"the chain's own heap allocations: "
                  f"{(counts['chain'] - counts['baseline']) / a.alloc_records:.4f} per record")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
