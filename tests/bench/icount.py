#!/usr/bin/env python3
"""Benchmark: instructions executed by sluice (valgrind's callgrind counts them) for in-process
scenarios, one build or two side by side. Instruction counts do not depend on what else the machine
is doing, so two builds compare within a fraction of a percent even on a busy, shared machine where
wall-clock benchmarks are noisy: use it to check that a change of the record path costs nothing,
and the wall-clock benchmarks (file_to_file.py, transforms_bench.py, ...) for absolute figures.

Scenarios (each a fresh run with no offsets; --records N records; threads polling while idle add a
little noise, so each scenario runs --runs times and the median is printed):
  file-string   file source (text) → in-memory topic → file sink, value.converter string
  json-chain    file source (JSON, 10 fields) → insert-field → replace-field → cast →
                timestamp-converter → regex-router → discard sink (value.converter json)
  json-fanout   file source (JSON) → topic → three sinks (file, console to /dev/null, discard)

usage: tests/bench/icount.py --build DIR [--vs DIR] [--records N] [--runs N] [--only LIST]
Prints per scenario: instructions per record of each build and, with --vs, the ratio build/vs.
Not a timed test: it never fails on a figure.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import transforms_bench  # noqa: E402  (its JSON generator and chain)

REPO = Path(__file__).resolve().parents[2]


def text_input(path, n):
    with open(path, "w", encoding="ascii") as f:
        for i in range(n):
            f.write(f"{i:010d} " + "x" * 88 + "\n")


def scenario_yaml(name, work, src):
    head = f"version: 1\noffset.storage.file.filename: {work}/offsets-{name}.json\npipelines:\n"
    if name == "file-string":
        return head + f"""  - id: b
    topic: b
    value.converter: string
    source:
      plugin: file
      config: {{file: {src}, format: text, follow: false}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {work}/out-{name}.txt}}
"""
    if name == "json-chain":
        return head + f"""  - id: b
    topic: b
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: file
      config: {{file: {src}, format: json, follow: false}}
{transforms_bench.CHAIN}  - id: out
    topic: b-routed
    value.converter: json
    value.converter.schemas.enable: false
    sinks:
      - id: drop
        plugin: discard
"""
    if name == "json-fanout":
        return head + f"""  - id: b
    topic: b
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: file
      config: {{file: {src}, format: json, follow: false}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {work}/out-{name}.jsonl}}
      - id: screen
        plugin: console
        config: {{format: json}}
      - id: drop
        plugin: discard
"""
    raise ValueError(name)


def count(build, cfg, work, timeout):
    """Instructions of one `sluice run` under callgrind (all threads)."""
    for f in Path(work).glob("offsets-*"):
        f.unlink()
    for f in Path(work).glob("out-*"):
        f.unlink()
    out = Path(work) / "callgrind.out"
    env = dict(os.environ, SLUICE_PLUGIN_PATH=str(build / "tests" / "plugins"))
    proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                           str(build / "sluice"), "run", "--quiet", str(cfg)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env, timeout=timeout, text=True)
    if proc.returncode != 0:
        sys.exit(f"icount: sluice exited {proc.returncode} under callgrind\n{proc.stderr[-2000:]}")
    m = re.search(r"^summary:\s+(\d+)", out.read_text(), re.M)
    if not m:
        sys.exit("icount: no summary line in callgrind's output")
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--vs", help="a second build to compare with (ratio = build / vs)")
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="file-string,json-chain,json-fanout")
    ap.add_argument("--timeout", type=float, default=900)
    a = ap.parse_args()

    def resolve(d):
        p = Path(d)
        p = p if p.is_absolute() else REPO / p
        if not os.access(p / "sluice", os.X_OK):
            sys.exit(f"icount: {p}/sluice is not built")
        return p

    builds = [resolve(a.build)] + ([resolve(a.vs)] if a.vs else [])
    work = Path(tempfile.mkdtemp(prefix="sluice-icount."))
    text_src, json_src = work / "in.txt", work / "in.jsonl"
    text_input(text_src, a.records)
    transforms_bench.generate(json_src, a.records)
    print(f"{a.records:,} records per run, median of {a.runs} runs; builds: "
          + " vs ".join(str(b) for b in builds))
    for name in a.only.split(","):
        cfg = work / f"{name}.yaml"
        cfg.write_text(scenario_yaml(name, work, text_src if name == "file-string" else json_src))
        med, spread = [], []
        for b in builds:
            counts = [count(b, cfg, work, a.timeout) for _ in range(a.runs)]
            med.append(statistics.median(counts))
            spread.append((max(counts) - min(counts)) / med[-1] * 100)
        line = f"{name:12s} " + "  ".join(f"{m / a.records:10.1f} instr/record (spread {s:.2f} %)"
                                          for m, s in zip(med, spread))
        if len(med) == 2:
            line += f"  ratio {med[0] / med[1]:.4f}"
        print(line, flush=True)
    subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
