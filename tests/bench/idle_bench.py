#!/usr/bin/env python3
"""Benchmark: the cost of an idle worker. Starts `sluice run` with one quiet pipeline (a file
source following an empty file, a file sink; the REST listener on, as by default), lets it settle,
then reads /proc/PID/stat utime+stime and every thread's voluntary+involuntary context switches
(/proc/PID/task/*/status, named by /proc/PID/task/*/comm) over a window. Prints CPU seconds per
30 s and wakeups per second per thread, per run, then min/median/max.

In Kafka mode (--kafka, a broker started by tests/services/kafka.sh) the pipeline runs through the
broker, and the same figures are taken of an idle `kcat -C` on an empty topic as the ceiling.

Not a timed test: it never fails on cost. Figures go to docs/performance.md.

usage: tests/bench/idle_bench.py [--build DIR] [--runs N] [--window S] [--settle S] [--kafka]
                                [--kafka-property KEY=VALUE]...
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the whole process (every thread), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def threads(pid):
    """{tid: (name, context switches so far, CPU ns so far)} of every thread of pid. The CPU time
    comes from schedstat (nanoseconds): utime+stime count clock ticks of 10 ms, too coarse for the
    few milliseconds an idle worker spends in 30 s."""
    out = {}
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (t / "comm").read_text().strip()
            n = 0
            for line in (t / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    n += int(line.split()[1])
            ns = int((t / "schedstat").read_text().split()[0])
            out[t.name] = (name, n, ns)
        except OSError:
            pass  # the thread ended
    return out


def measure(pid, window):
    """(CPU seconds over window from utime+stime, the same from schedstat,
    {thread name: (wakeups per second, CPU ms over the window)})."""
    c0, s0 = cpu_seconds(pid), threads(pid)
    time.sleep(window)
    c1, s1 = cpu_seconds(pid), threads(pid)
    per, ns = {}, 0
    for tid, (name, n, t) in s1.items():
        _, n0, t0 = s0.get(tid, (name, 0, 0))
        w, ms = per.get(name, (0, 0))
        per[name] = (w + (n - n0) / window, ms + (t - t0) / 1e6)
        ns += t - t0
    return c1 - c0, ns / 1e9, per


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"bench: nothing listens on {port}")


def config(work, bootstrap, props=()):
    port = free_port()
    (work / "in.txt").write_text("")
    kafka = f"kafka:\n  bootstrap.servers: {bootstrap}\n" if bootstrap else ""
    for kv in props:  # --kafka-property: librdkafka settings of the kafka: block
        k, v = kv.split("=", 1)
        kafka += f"  {k}: {v}\n"
    cfg = work / "idle.yaml"
    cfg.write_text(f"""version: 1
{kafka}listeners: http://127.0.0.1:{port}
offset.storage.file.filename: {work / "offsets.json"}
pipelines:
  - id: quiet
    topic: idle-{port}
    value.converter: string
    source:
      plugin: file
      config:
        file: {work / "in.txt"}
        format: text
    sinks:
      - id: out
        plugin: file
        config:
          file: {work / "out.txt"}
""")
    return cfg, port


def show(label, runs, window):
    for k, what in ((0, "utime+stime"), (1, "schedstat")):
        cpus = sorted(r[k] * 30 / window for r in runs)
        print(f"{label}: CPU-s per 30 s ({what}) min {cpus[0]:.4f} "
              f"median {statistics.median(cpus):.4f} max {cpus[-1]:.4f} "
              f"({len(runs)} runs of {window:.0f} s)")
    names = sorted({n for r in runs for n in r[2]})
    for n in names:
        w = sorted(r[2].get(n, (0, 0))[0] for r in runs)
        ms = statistics.median(r[2].get(n, (0, 0))[1] * 30 / window for r in runs)
        print(f"  thread {n:<16} wakeups/s median {statistics.median(w):7.2f} "
              f"(min {w[0]:.2f} max {w[-1]:.2f}), CPU ms per 30 s median {ms:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("SLUICE_BUILD", "build"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--window", type=float, default=30)
    ap.add_argument("--settle", type=float, default=5)
    ap.add_argument("--kafka", action="store_true", help="Kafka mode (starts a broker)")
    ap.add_argument("--kafka-property", action="append", default=[], metavar="KEY=VALUE",
                    help="a setting of the kafka: block (e.g. statistics.interval.ms=0)")
    a = ap.parse_args()

    build = Path(a.build)
    sluice = (build if build.is_absolute() else REPO / build) / "sluice"
    if not os.access(sluice, os.X_OK):
        sys.exit(f"bench: {sluice} is not built")
    work = Path(tempfile.mkdtemp(prefix="sluice-idle."))
    broker = None
    bootstrap = None
    try:
        if a.kafka:
            import benchlib
            broker = work / "kafka"
            broker.mkdir()
            bootstrap = benchlib.value_of(benchlib.service("kafka.sh", "start", broker),
                                          "KAFKA_BOOTSTRAP")
        cfg, port = config(work, bootstrap, a.kafka_property)
        proc = subprocess.Popen([str(sluice), "run", "--quiet", str(cfg)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=open(work / "sluice.log", "w"))
        try:
            wait_listening(port)
            time.sleep(a.settle)
            runs = []
            for i in range(a.runs):
                runs.append(measure(proc.pid, a.window))
                print(f"run {i + 1}: {runs[-1][0] * 30 / a.window:.4f} CPU-s per 30 s (utime+stime), "
                      f"{runs[-1][1] * 30 / a.window:.4f} (schedstat)", flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        show("sluice idle", runs, a.window)
        if a.kafka:
            kcat = subprocess.Popen(["kcat", "-C", "-b", bootstrap, "-t", f"idle-{port}", "-q"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(a.settle)
                kruns = [measure(kcat.pid, a.window) for _ in range(a.runs)]
            finally:
                kcat.terminate()
                kcat.wait(timeout=30)
            show("kcat -C idle (ceiling)", kruns, a.window)
    finally:
        if broker is not None:
            import benchlib
            benchlib.service("kafka.sh", "stop", broker)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
