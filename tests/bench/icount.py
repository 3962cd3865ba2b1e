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
  datagen-avro  datagen-avro's `orders` quickstart → value.converter avro (a warm registry: a
                stub in this script answers the one registration) → the `discard` sink
  avro-ceiling  the string path's ceiling for datagen-avro: file source lines of the same size as
                its encoded values (read from the discard sink's count), value.converter string →
                the `discard` sink: what passing pre-encoded bytes costs (run it after datagen-avro)

usage: tests/bench/icount.py --build DIR [--vs DIR] [--records N] [--runs N] [--only LIST]
                             [--functions f,g] [--marginal M]
--marginal M: each scenario also runs with M records, and instructions per record are
(I(N) - I(M)) / (N - M): start-up and plugin loading (builds with other plugins) cancel out.
--functions: also the inclusive instructions per record of those functions (callgrind_annotate;
functions the compiler inlined are not listed: pick external ones, e.g. converter_encode).
Prints per scenario: instructions per record of each build and, with --vs, the ratio build/vs.
Not a timed test: it never fails on a figure.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import transforms_bench  # noqa: E402  (its JSON generator and chain)

REPO = Path(__file__).resolve().parents[2]


def text_input(path, n):
    with open(path, "w", encoding="ascii") as f:
        for i in range(n):
            f.write(f"{i:010d} " + "x" * 88 + "\n")


class StubRegistry(BaseHTTPRequestHandler):
    """The two calls of a warm Confluent registry the converter makes: register (or look up) a
    schema text under a subject → its id; an id → its text."""
    ids = {}

    def log_message(self, *args):
        pass

    def answer(self, obj, code=200):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        text = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))["schema"]
        self.answer({"id": StubRegistry.ids.setdefault(text, len(StubRegistry.ids) + 1)})

    def do_GET(self):
        sid = int(self.path.rstrip("/").split("/")[-1])
        texts = {v: k for k, v in StubRegistry.ids.items()}
        if sid in texts:
            self.answer({"schema": texts[sid]})
        else:
            self.answer({"error_code": 40403, "message": "not found"}, 404)


def stub_registry():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), StubRegistry)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}"


def scenario_yaml(name, work, src, registry=None, records=0):
    head = f"version: 1\noffset.storage.file.filename: {work}/offsets-{name}.json\npipelines:\n"
    if name == "datagen-avro":
        return f"""version: 1
offset.storage.file.filename: {work}/offsets-{name}.json
schema.registry:
  url: {registry}
pipelines:
  - id: b
    topic: b
    key.converter: json
    key.converter.schemas.enable: false
    value.converter: avro
    source:
      plugin: datagen-avro
      config: {{quickstart: orders, random.seed: 42, rate: 0, iterations: {records}}}
    sinks:
      - {{id: drop, plugin: discard}}
"""
    if name == "avro-ceiling":
        return head + f"""  - id: b
    topic: b
    value.converter: string
    source:
      plugin: file
      config: {{file: {src}, format: text, follow: false}}
    sinks:
      - {{id: drop, plugin: discard}}
"""
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


def count(build, cfg, work, timeout, functions=(), records=0):
    """Instructions of one `sluice run` under callgrind (all threads), those of `functions`
    (inclusive) and the discard sink's value bytes (or None); with `records`, the discard sink
    must have had that many."""
    for f in Path(work).glob("offsets-*"):
        f.unlink()
    for f in Path(work).glob("out-*"):
        f.unlink()
    out = Path(work) / "callgrind.out"
    env = dict(os.environ, SLUICE_PLUGIN_PATH=str(build / "tests" / "plugins"))
    proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                           str(build / "sluice"), "run", str(cfg)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env, timeout=timeout, text=True)
    if proc.returncode != 0:
        sys.exit(f"icount: sluice exited {proc.returncode} under callgrind\n{proc.stderr[-2000:]}")
    m = re.search(r"^summary:\s+(\d+)", out.read_text(), re.M)
    if not m:
        sys.exit("icount: no summary line in callgrind's output")
    per_fn = {}
    if functions:
        ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                              str(out)], capture_output=True, text=True).stdout
        for fn in functions:
            f = re.search(r"^\s*([\d,]+)\s.*[\s:]" + re.escape(fn) + r"\b", ann, re.M)
            per_fn[fn] = int(f.group(1).replace(",", "")) if f else 0
    d = re.search(r"discarded (\d+) records, (\d+) value bytes", proc.stderr)
    if records and (not d or int(d.group(1)) != records):
        sys.exit(f"icount: the discard sink did not get {records} records\n{proc.stderr[-2000:]}")
    return int(m.group(1)), per_fn, int(d.group(2)) if d else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--vs", help="a second build to compare with (ratio = build / vs)")
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="file-string,json-chain,json-fanout")
    ap.add_argument("--functions", default="")
    ap.add_argument("--marginal", type=int, default=0,
                    help="also run each scenario with this many records and count per record "
                         "the difference only")
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
    counts_of = [a.records] + ([a.marginal] if a.marginal else [])
    print(f"{a.records:,} records per run, median of {a.runs} runs; builds: "
          + " vs ".join(str(b) for b in builds)
          + (f"; per record: the difference to runs of {a.marginal:,} records (start-up and "
             "plugin loading cancel out)" if a.marginal else ""))
    registry = stub_registry()
    functions = [f for f in a.functions.split(",") if f]
    value_size = None  # datagen-avro's encoded value size, for avro-ceiling

    def prepare(name, n):
        src = work / f"in-{name}-{n}"
        if name == "file-string":
            text_input(src, n)
        elif name == "avro-ceiling":
            if not value_size:
                sys.exit("icount: avro-ceiling needs datagen-avro before it in --only")
            with open(src, "w", encoding="ascii") as f:  # lines as long as encoded values
                for i in range(n):
                    f.write(f"{i:010d}"[:value_size].ljust(value_size, "x") + "\n")
        elif name != "datagen-avro":
            transforms_bench.generate(src, n)
        cfg = work / f"{name}-{n}.yaml"
        cfg.write_text(scenario_yaml(name, work, src, registry, n))
        return cfg

    for name in a.only.split(","):
        discards = name in ("datagen-avro", "avro-ceiling")
        cfgs = {n: prepare(name, n) for n in counts_of}
        med, spread, fn_med = [], [], []
        for b in builds:
            per = {}
            for n in counts_of:
                per[n] = [count(b, cfgs[n], work, a.timeout, functions, n if discards else 0)
                          for _ in range(a.runs)]
            runs = per[a.records]
            counts = [r[0] for r in runs]
            base = statistics.median(r[0] for r in per[a.marginal]) if a.marginal else 0
            fbase = ({fn: statistics.median(r[1][fn] for r in per[a.marginal]) for fn in functions}
                     if a.marginal else {fn: 0 for fn in functions})
            med.append(statistics.median(counts) - base)
            spread.append((max(counts) - min(counts)) / statistics.median(counts) * 100)
            fn_med.append({fn: statistics.median(r[1][fn] for r in runs) - fbase[fn]
                           for fn in functions})
            if name == "datagen-avro" and runs[0][2]:
                value_size = max(1, round(runs[0][2] / a.records))
        n = a.records - (a.marginal or 0)
        line = f"{name:12s} " + "  ".join(f"{m / n:10.1f} instr/record (spread {s:.2f} %)"
                                          for m, s in zip(med, spread))
        if len(med) == 2:
            line += f"  ratio {med[0] / med[1]:.4f}"
        print(line, flush=True)
        for fn in functions:
            print(f"  {fn:24s} " + "  ".join(f"{f[fn] / n:10.1f} instr/record inclusive"
                                             for f in fn_med), flush=True)
    subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
