#!/usr/bin/env python3
"""Benchmark (issue #17): what the worker's REST API and metrics cost, and how fast they answer.

  onoff    in-process file → file (1,000,000 lines of 100 bytes, follow false) and file → Kafka
           (the same lines, a real broker from tests/services/kafka.sh) with the listener on
           (`--listeners http://127.0.0.1:0`, scraped: GET /metrics and /connectors?expand=status
           every 100 ms while it runs) and off (`--listeners ""`), runs alternating; prints the
           median throughput and peak RSS of each and the on/off ratios (target: ≤ 2 % slower,
           ≤ 2 MiB more RSS).
  latency  an endless in-process datagen-avro → discard pipeline (the `discard` fixture sink) while
           50 client threads call GET /connectors?expand=status as fast as they can for 15 s:
           p50/p99/max latency of those calls and the records/s that flowed meanwhile (target:
           p99 ≤ 10 ms while ≥ 300,000 records/s flow). With ApacheBench (`ab`, Debian's
           apache2-utils) it also runs ab's 50 clients, with keep-alive and with a connection a
           request: a C client, whose figures are the server's rather than Python's.

Not a timed test: it never fails on speed. Figures go to docs/performance.md.

usage: tests/bench/worker_bench.py [--build DIR] [--runs N] [--lines N] [--only onoff|latency]
                                   [--no-kafka]
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import log, service, value_of  # noqa: E402
from file_to_file import generate  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(rb"REST API listening on (http://127\.0\.0\.1:\d+)")


class Run:
    """sluice run under GNU time (peak RSS), its stderr in a file (the listener's URL)."""

    def __init__(self, sluice, cfg, work, listeners):
        self.rss = work / "rss.txt"
        self.err = open(work / "run.log", "wb")
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            ["/usr/bin/time", "-f", "%M", "-o", str(self.rss), str(sluice), "run", "--quiet",
             "--listeners", listeners, str(cfg)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err)
        self.log = work / "run.log"

    def url(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = LISTEN_RE.search(self.log.read_bytes())
            if m:
                return m.group(1).decode()
            if self.proc.poll() is not None:
                return None
            time.sleep(0.01)
        sys.exit("bench: no 'REST API listening on' line")

    def wait(self, timeout):
        rc = self.proc.wait(timeout=timeout)
        secs = time.perf_counter() - self.t0
        self.err.close()
        if rc != 0:
            sys.exit(f"bench: sluice exited {rc}:\n{self.log.read_text()[-2000:]}")
        return secs, int(self.rss.read_text().split()[-1])


def scrape(url, stop):
    """GET /metrics and /connectors?expand=status every 100 ms until stop is set."""
    n = 0
    while not stop.is_set():
        for path in ("/metrics", "/connectors?expand=status"):
            try:
                urllib.request.urlopen(url + path, timeout=5).read()
                n += 1
            except OSError:
                pass
        stop.wait(0.1)
    return n


def onoff(sluice, work, lines, runs, bootstrap):
    src = work / "in.txt"
    generate(src, lines)
    cases = [("file → file (in-process)", None)]
    if bootstrap:
        cases.append(("file → Kafka", bootstrap))
    for title, boot in cases:
        figures = {"off": [], "on": []}
        for i in range(runs):
            for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):
                for p in work.glob("out*"):
                    p.unlink()
                (work / "offsets.json").unlink(missing_ok=True)
                topic = f"bench-{os.getpid()}-{i}-{mode}"
                sinks = ("    sinks:\n      - id: out\n        plugin: file\n"
                         f"        config: {{file: {work}/out.txt}}\n") if not boot else ""
                kafka = f"kafka:\n  bootstrap.servers: {boot}\n" if boot else ""
                cfg = work / "bench.yaml"
                cfg.write_text(f"""version: 1
{kafka}offset.storage.file.filename: {work}/offsets.json
pipelines:
  - id: bench
    topic: {topic}
    value.converter: string
    source: {{plugin: file, config: {{file: {src}, follow: false}}}}
{sinks}""")
                r = Run(sluice, cfg, work, "" if mode == "off" else "http://127.0.0.1:0")
                stop, scraper = threading.Event(), None
                if mode == "on":
                    url = r.url()
                    if url:
                        scraper = threading.Thread(target=scrape, args=(url, stop), daemon=True)
                        scraper.start()
                secs, rss = r.wait(600)
                stop.set()
                if scraper:
                    scraper.join()
                figures[mode].append((lines / secs, rss))
                log(f"{title} listener {mode}: {lines / secs:,.0f} records/s, peak RSS "
                    f"{rss / 1024:.1f} MiB")
        med = {m: (statistics.median(r for r, _ in v), statistics.median(k for _, k in v))
               for m, v in figures.items()}
        print(f"{title}: listener off {med['off'][0]:,.0f} rec/s, {med['off'][1] / 1024:.1f} MiB; "
              f"on {med['on'][0]:,.0f} rec/s, {med['on'][1] / 1024:.1f} MiB; on/off throughput "
              f"{med['on'][0] / med['off'][0]:.3f}, RSS +{(med['on'][1] - med['off'][1]) / 1024:.2f} "
              f"MiB (medians of {runs})", flush=True)


def latency(sluice, build, work, seconds, clients):
    cfg = work / "latency.yaml"
    cfg.write_text(f"""version: 1
offset.storage.file.filename: {work}/offsets.json
pipelines:
  - id: flow
    topic: flow
    value.converter: json
    source:
      plugin: datagen-avro
      config: {{quickstart: users, max.interval: 0}}
    sinks:
      - {{id: drop, plugin: discard}}
""")
    env = dict(os.environ, SLUICE_PLUGIN_PATH=str(build / "tests" / "plugins"))
    err = open(work / "latency.log", "wb")
    proc = subprocess.Popen([str(sluice), "run", "--quiet", "--listeners", "http://127.0.0.1:0",
                             str(cfg)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=err, env=env)
    try:
        deadline = time.monotonic() + 30
        url = None
        while not url and time.monotonic() < deadline:
            m = LISTEN_RE.search((work / "latency.log").read_bytes())
            url = m.group(1).decode() if m else None
            time.sleep(0.01)
        if not url:
            sys.exit("bench: no listener")

        def counted():
            text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
            total = 0
            for ln in text.splitlines():
                if ln.startswith("sluice_source_record_write_total{"):
                    total += float(ln.rsplit(" ", 1)[1])
            return total

        time.sleep(2)  # warm-up
        if shutil.which("ab"):
            # ApacheBench (Debian's apache2-utils): a C client, so that the figures are the
            # server's and not a Python client's (50 Python threads queue on the GIL)
            for keep, flag in (("keep-alive", ["-k"]), ("a connection a request", [])):
                n0, t0 = counted(), time.monotonic()
                r = subprocess.run(["ab", "-q", *flag, "-t", str(seconds), "-n", "10000000",
                                    "-c", str(clients), url + "/connectors?expand=status"],
                                   capture_output=True, text=True, timeout=seconds + 120)
                n1, t1 = counted(), time.monotonic()
                pct = dict(re.findall(r"^\s+(\d+)%\s+(\d+)", r.stdout, re.M))
                done = re.search(r"Complete requests:\s+(\d+)", r.stdout)
                failed = re.search(r"Failed requests:\s+(\d+)", r.stdout)
                print(f"latency (ab, {keep}): {clients} clients × {seconds} s of GET "
                      f"/connectors?expand=status: {done and done.group(1)} calls "
                      f"({failed and failed.group(1)} failed), p50 {pct.get('50')} ms, p99 "
                      f"{pct.get('99')} ms, max {pct.get('100')} ms; meanwhile "
                      f"{(n1 - n0) / (t1 - t0):,.0f} records/s", flush=True)
        n0, t0 = counted(), time.monotonic()
        stop = time.monotonic() + seconds
        lat, errors = [], 0
        lock = threading.Lock()

        def client():
            nonlocal errors
            mine = []
            while time.monotonic() < stop:
                a = time.perf_counter()
                try:
                    urllib.request.urlopen(url + "/connectors?expand=status", timeout=10).read()
                    mine.append(time.perf_counter() - a)
                except OSError:
                    with lock:
                        errors += 1
            with lock:
                lat.extend(mine)

        with concurrent.futures.ThreadPoolExecutor(clients) as ex:
            for f in [ex.submit(client) for _ in range(clients)]:
                f.result()
        n1, t1 = counted(), time.monotonic()
        lat.sort()
        q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000  # noqa: E731
        print(f"latency: {clients} clients × {seconds} s of GET /connectors?expand=status: "
              f"{len(lat)} calls ({errors} errors), p50 {q(0.50):.2f} ms, p99 {q(0.99):.2f} ms, "
              f"max {lat[-1] * 1000:.2f} ms; meanwhile {(n1 - n0) / (t1 - t0):,.0f} records/s",
              flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        err.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("SLUICE_BUILD", "build"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--only", choices=("onoff", "latency"))
    ap.add_argument("--no-kafka", action="store_true")
    a = ap.parse_args()
    build = Path(a.build)
    build = build if build.is_absolute() else REPO / build
    sluice = build / "sluice"
    if not os.access(sluice, os.X_OK):
        sys.exit(f"bench: {sluice} is not built")
    work = Path(tempfile.mkdtemp(prefix="sluice-worker-bench."))
    broker = None
    try:
        if a.only in (None, "onoff"):
            bootstrap = None
            if not a.no_kafka:
                broker = work / "kafka"
                broker.mkdir()
                out = service("kafka.sh", "start", broker)
                bootstrap = value_of(out, "KAFKA_BOOTSTRAP")
                log(f"broker at {bootstrap}")
            onoff(sluice, work, a.lines, a.runs, bootstrap)
        if a.only in (None, "latency"):
            latency(sluice, build, work, a.seconds, a.clients)
    finally:
        if broker:
            service("kafka.sh", "stop", broker)
        subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
