#!/usr/bin/env python3
"""Benchmark: in-process file → file over 1,000,000 lines of 100 bytes (value.converter string,
follow false, --quiet), 5 runs. Prints records/s, MB/s and peak RSS per run and the median.

The ceiling, in the same run before each of sluice's: `cat IN > OUT && sync OUT` on the same bytes
(the copy and one fsync of the output, as the sink fsyncs on commit); sluice / ceiling per run and
min/median/max.

Not a timed test: it never fails on speed. Figures go to docs/performance.md.

usage: tests/bench/file_to_file.py [--build DIR] [--lines N] [--runs N] [--workdir DIR]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
FILLER = ALPHABET * 3


def generate(path, n):
    """n lines of exactly 100 bytes: a 10-digit number, a space, 88 letters, a newline."""
    with open(path, "w", encoding="ascii") as f:
        for s in range(0, n, 100_000):
            f.write("".join(f"{i:010d} {FILLER[i % 62:i % 62 + 88]}\n"
                            for i in range(s, min(s + 100_000, n))))


def run_once(sluice, cfg, timeout):
    """Runs sluice under GNU time; returns (seconds, peak RSS in KiB).

    The peak RSS comes from /usr/bin/time (package `time`), not from this process's wait4: a child
    forked from Python counts the Python interpreter's pages it touched before exec, which made
    the figure the size of the benchmark's own input generator, not of sluice."""
    with tempfile.NamedTemporaryFile(prefix="sluice-bench-rss.") as rss:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, str(sluice), "run",
                               "--quiet", str(cfg)], stdin=subprocess.DEVNULL, timeout=timeout)
        secs = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"bench: sluice exited {proc.returncode}")
        return secs, int(Path(rss.name).read_text().split()[-1])


def ceiling_once(src, dst):
    """Seconds of `cat src > dst && sync dst` (the same bytes, written and made durable)."""
    dst.unlink(missing_ok=True)
    t0 = time.perf_counter()
    subprocess.run(["sh", "-c", 'cat "$1" > "$2" && sync "$2"', "sh", str(src), str(dst)],
                   check=True, stdin=subprocess.DEVNULL)
    secs = time.perf_counter() - t0
    dst.unlink()
    return secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("SLUICE_BUILD", "build"))
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workdir", help="where input and output go (default: a temp dir, removed)")
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()

    build = Path(a.build)
    sluice = (build if build.is_absolute() else REPO / build) / "sluice"
    if not os.access(sluice, os.X_OK):
        sys.exit(f"bench: {sluice} is not built")
    work = Path(a.workdir or tempfile.mkdtemp(prefix="sluice-bench."))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "in.txt"
    print(f"bench: generating {a.lines} lines of 100 bytes in {src}", flush=True)
    generate(src, a.lines)
    size = src.stat().st_size

    results = []
    try:
        for i in range(1, a.runs + 1):
            dst, offsets = work / "out.txt", work / "offsets.json"
            for p in (dst, offsets):
                p.unlink(missing_ok=True)
            cfg = work / "bench.yaml"
            cfg.write_text(f"""version: 1
offset.storage.file.filename: {offsets}
pipelines:
  - id: bench
    topic: lines
    value.converter: string
    source:
      plugin: file
      config:
        file: {src}
        format: text
        follow: false
    sinks:
      - id: out
        plugin: file
        config:
          file: {dst}
""")
            ceil = ceiling_once(src, work / "ceiling.txt")
            secs, rss_kb = run_once(sluice, cfg, a.timeout)
            if dst.stat().st_size != size:
                sys.exit(f"bench: run {i}: output has {dst.stat().st_size} bytes, input {size}")
            rps, mbs = a.lines / secs, size / secs / 1e6
            results.append((secs, rps, mbs, rss_kb, a.lines / ceil, ceil / secs))
            print(f"run {i}: {secs:.3f} s  {rps:,.0f} records/s  {mbs:.1f} MB/s  "
                  f"peak RSS {rss_kb / 1024:.1f} MiB; ceiling {ceil:.3f} s "
                  f"{a.lines / ceil:,.0f} records/s; sluice / ceiling {ceil / secs:.2f}",
                  flush=True)
    finally:
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)

    med = lambda k: statistics.median(r[k] for r in results)  # noqa: E731
    print(f"median of {len(results)}: {med(0):.3f} s  {med(1):,.0f} records/s  {med(2):.1f} MB/s  "
          f"peak RSS {med(3) / 1024:.1f} MiB; ceiling {med(4):,.0f} records/s")
    ratios = sorted(r[5] for r in results)
    print(f"sluice / ceiling: min {ratios[0]:.2f} median {statistics.median(ratios):.2f} "
          f"max {ratios[-1]:.2f}")


if __name__ == "__main__":
    main()
