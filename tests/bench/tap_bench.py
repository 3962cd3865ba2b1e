#!/usr/bin/env python3
"""Benchmark: what the tap (issue #18) costs a pipeline. An endless in-process datagen-avro
(`users`, as fast as it goes, JSON) → mask-field → the `discard` fixture sink, its rate read from
GET /metrics (sluice_source_record_write_total) over windows of --seconds:

  tap    one worker; windows in pairs: no tap open, and one tap open on --stage (a client reading
         GET /connectors/flow/tap?limit=100000&rate=--rate as NDJSON the whole window), in turn
         first; the medians of each kind and the median of the pairs' ratios (--windows pairs,
         default 7)
  base   no tap open, this build against --base (another build, e.g. main's, in its own directory):
         a fresh worker per run, the two builds alternating (--runs each, default 5), one window
         each after a warm-up

Not a timed test: it never fails on speed. Goals (issue 18): with one tap ≥ 90 % of the rate
without; with none, the same rate as before the tap existed. Figures go to docs/performance.md.

usage: tests/bench/tap_bench.py [--build build] [--base /tmp/sluice-main/build] [--only tap,base]
                                [--windows N] [--runs N] [--seconds S] [--stage S] [--rate R]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(rb"REST API listening on (http://\S+)")


def pipeline_yaml(work):
    cfg = work / "tap.yaml"
    cfg.write_text(f"""version: 1
offset.storage.file.filename: {work}/offsets.json
pipelines:
  - id: flow
    topic: flow
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: datagen-avro
      config: {{quickstart: users, max.interval: 0, random.seed: 1}}
      transforms:
        - id: mask
          plugin: mask-field
          config: {{fields: [gender]}}
    sinks:
      - {{id: drop, plugin: discard}}
""")
    return cfg


class Worker:
    def __init__(self, build, work, tag):
        sluice = build / "sluice"
        if not os.access(sluice, os.X_OK) or not (build / "tests/plugins/discard.so").is_file():
            sys.exit(f"bench: {sluice} or {build}/tests/plugins/discard.so is not built")
        env = dict(os.environ, SLUICE_PLUGIN_PATH=str(build / "tests" / "plugins"))
        self.log = work / f"{tag}.log"
        self.err = open(self.log, "wb")
        self.proc = subprocess.Popen([str(sluice), "run", "--quiet", "--listeners",
                                      "http://127.0.0.1:0", str(pipeline_yaml(work))],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.err, env=env)
        deadline = time.monotonic() + 30
        self.url = None
        while not self.url and time.monotonic() < deadline:
            m = LISTEN_RE.search(self.log.read_bytes())
            self.url = m.group(1).decode() if m else None
            time.sleep(0.01)
        if not self.url:
            self.stop()
            sys.exit(f"bench: no listener:\n{self.log.read_text()}")

    def written(self):
        text = urllib.request.urlopen(self.url + "/metrics", timeout=10).read().decode()
        return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
                   if ln.startswith("sluice_source_record_write_total{"))

    def cpu(self):
        """The worker's CPU seconds (user + system, every thread) from /proc."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rate(self, seconds):
        """(records/s of wall time, records per CPU second of the worker) over a window."""
        n0, c0, t0 = self.written(), self.cpu(), time.monotonic()
        time.sleep(seconds)
        n1, c1, t1 = self.written(), self.cpu(), time.monotonic()
        return (n1 - n0) / (t1 - t0), (n1 - n0) / max(c1 - c0, 1e-9)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


class Tap(threading.Thread):
    """A client reading a tap until told to stop (it then closes its connection)."""

    def __init__(self, url, stage, rate):
        super().__init__(daemon=True)
        self.url = f"{url}/connectors/flow/tap?stage={stage}&limit=100000&rate={rate}"
        self.lines = 0
        self.done = threading.Event()
        self.ready = threading.Event()

    def run(self):
        with urllib.request.urlopen(self.url, timeout=30) as r:
            self.ready.set()
            while not self.done.is_set():
                line = r.readline()
                if not line:
                    break
                self.lines += line.strip() != b""
        self.ready.set()


def tap_pairs(build, work, windows, seconds, stage, rate):
    w = Worker(build, work, "tap")
    try:
        time.sleep(2)  # warm-up
        none, tapped, ratios, shown = [], [], [], []
        for i in range(1, windows + 1):
            # the order alternates, so that a drift of the machine's load favours neither kind
            if i % 2:
                a = w.rate(seconds)
            t = Tap(w.url, stage, rate)
            t.start()
            t.ready.wait(10)
            time.sleep(0.2)
            lines0 = t.lines
            b = w.rate(seconds)
            got = t.lines - lines0
            t.done.set()
            t.join(10)
            if not i % 2:
                time.sleep(0.2)
                a = w.rate(seconds)
            none.append(a)
            tapped.append(b)
            ratios.append((b[0] / a[0], b[1] / a[1]))
            shown.append(got)
            print(f"pair {i}: no tap {a[0]:,.0f} rec/s ({a[1]:,.0f} per CPU s), one tap ({stage}, "
                  f"rate {rate}) {b[0]:,.0f} rec/s ({b[1]:,.0f} per CPU s), ratio {b[0] / a[0]:.3f} "
                  f"({b[1] / a[1]:.3f} per CPU s); the tap got {got} records in the window",
                  flush=True)
        med = statistics.median

        def m(xs, k):
            return med(x[k] for x in xs)
        print(f"tap: medians of {windows}: no tap {m(none, 0):,.0f} rec/s ({m(none, 1):,.0f} per "
              f"CPU s), one tap {m(tapped, 0):,.0f} rec/s ({m(tapped, 1):,.0f} per CPU s); "
              f"tap / none {m(tapped, 0) / m(none, 0):.3f} (per CPU s "
              f"{m(tapped, 1) / m(none, 1):.3f}); median of the pairs' ratios {m(ratios, 0):.3f} "
              f"(per CPU s {m(ratios, 1):.3f}); the tap showed {med(shown) / seconds:.0f} "
              f"records/s", flush=True)
    finally:
        w.stop()


def base_runs(build, base, work, runs, seconds):
    rates = {"base": [], "this": []}
    for i in range(1, runs + 1):
        for tag, b in (("base", base), ("this", build)):
            w = Worker(b, work, f"{tag}{i}")
            try:
                time.sleep(2)  # warm-up
                r = w.rate(seconds)
            finally:
                w.stop()
            rates[tag].append(r)
            print(f"run {i} {tag}: {r[0]:,.0f} rec/s ({r[1]:,.0f} per CPU s)", flush=True)
    med = statistics.median

    def m(tag, k):
        return med(x[k] for x in rates[tag])
    ratios = [(t[0] / b[0], t[1] / b[1]) for t, b in zip(rates["this"], rates["base"])]
    print(f"base: no tap, medians of {runs}: before (--base) {m('base', 0):,.0f} rec/s "
          f"({m('base', 1):,.0f} per CPU s), this build {m('this', 0):,.0f} rec/s "
          f"({m('this', 1):,.0f} per CPU s); this / before {m('this', 0) / m('base', 0):.3f} "
          f"(per CPU s {m('this', 1) / m('base', 1):.3f}); median of the pairs' ratios "
          f"{med(r[0] for r in ratios):.3f} (per CPU s {med(r[1] for r in ratios):.3f})",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("SLUICE_BUILD", "build"))
    ap.add_argument("--base", help="another build directory (e.g. main's) for `base`")
    ap.add_argument("--only", default="tap,base")
    ap.add_argument("--windows", type=int, default=7)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--stage", default="source")
    ap.add_argument("--rate", type=int, default=100)
    a = ap.parse_args()
    build = Path(a.build)
    build = build if build.is_absolute() else REPO / build
    only = set(a.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="sluice-tap-bench."))
    try:
        if "tap" in only:
            tap_pairs(build, work, a.windows, a.seconds, a.stage, a.rate)
        if "base" in only:
            if not a.base:
                sys.exit("bench: `base` needs --base DIR (a build of the commit to compare with)")
            base_runs(build, Path(a.base).resolve(), work, a.runs, a.seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
