#!/usr/bin/env python3
"""Benchmark: datagen-avro's `orders` quickstart generated and Avro-encoded (value.converter avro,
Confluent wire format, the schema registered with a real registry), as fast as it goes (`rate: 0`),
one task, a fixed `iterations` so the pipeline ends by itself:

  inproc   in-process topic → the `discard` fixture sink (build/tests/plugins): generation and
           encoding only (--inproc-records, default 2,000,000)
  kafka    into a real Kafka broker, a fresh topic of one partition per run, acks=all, idempotent
           (sluice's defaults); the run ends once every record is acknowledged
           (--kafka-records, default 1,000,000); the topic's end offset is checked afterwards;
           one untimed warm-up run first (--kafka-warmup) so the broker's JIT is not measured

The script starts its own Apicurio registry (tests/services/registry.sh) and, for `kafka`, its own
broker (tests/services/kafka.sh) in a temporary directory, and stops both at the end. Each scenario
runs --runs times (default 5); it prints records/s (the process's wall time, start-up included), MB/s
of encoded values for inproc (from the discard sink's count), peak RSS (GNU time's %M) per run and
the medians. Keys use the json converter (the orderid as a JSON number).

Not a timed test: it never fails on speed. Targets (issue 4, release build): ≥ 300,000 records/s
in-process and ≥ 150,000 records/s into Kafka. Figures go to docs/performance.md.

usage: tests/bench/datagen_bench.py [--build build-rel] [--runs N] [--only inproc,kafka]
                                    [--inproc-records N] [--kafka-records N] [--taskset CPUS]
                                    [--broker-cpus CPUS]
(--taskset 0 --broker-cpus 1: sluice on one core, the broker on the other.)
Needs confluent-kafka for the topic checks: run it with the tests' venv (~/.cache/sluice/venv);
when it is not importable the script re-executes itself with that venv's python.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


import benchlib  # noqa: E402

benchlib.need_kafka_client()
from confluent_kafka.admin import AdminClient  # noqa: E402
from benchlib import REPO, log, service, value_of, create_topic, end_offset  # noqa: E402


def pipeline_yaml(path, *, topic, records, registry, bootstrap=None, offsets):
    kafka = f"kafka:\n  bootstrap.servers: {bootstrap}\n" if bootstrap else ""
    sinks = "" if bootstrap else "    sinks:\n      - {id: drop, plugin: discard}\n"
    path.write_text(f"""version: 1
{kafka}schema.registry:
  url: {registry}
offset.storage.file.filename: {offsets}
pipelines:
  - id: {topic}
    topic: {topic}
    key.converter: json
    key.converter.schemas.enable: false
    value.converter: avro
    source:
      plugin: datagen-avro
      config:
        quickstart: orders
        random.seed: 42
        rate: 0
        iterations: {records}
{sinks}""")
    return path


def run_once(argv, env, timeout):
    """Runs argv under GNU time; returns (seconds, peak RSS KiB, stderr)."""
    with tempfile.NamedTemporaryFile(prefix="sluice-bench-rss.") as rss:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *argv], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
        secs = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
        return secs, int(Path(rss.name).read_text().split()[-1]), proc.stderr


def delete_topic(bootstrap, topic):
    a = AdminClient({"bootstrap.servers": bootstrap})  # the futures need their client alive
    try:
        for f in a.delete_topics([topic]).values():
            f.result(timeout=60)
    except Exception as e:  # best effort: the broker directory goes away at the end anyway
        log(f"deleting {topic}: {e}")


def median_row(label, rows):
    med = lambda i: statistics.median(r[i] for r in rows)  # noqa: E731
    mbs = f"{med(2):7.1f} MB/s" if med(2) else "        —   "
    print(f"{label:8s} median of {len(rows)}: {med(1):>10,.0f} records/s  {mbs}  "
          f"peak RSS {med(3) / 1024:6.1f} MiB  ({med(0):.2f} s)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build-rel")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="inproc,kafka")
    ap.add_argument("--inproc-records", type=int, default=2_000_000)
    ap.add_argument("--kafka-records", type=int, default=1_000_000)
    ap.add_argument("--kafka-warmup", type=int, default=1,
                    help="untimed kafka runs first, to warm up the broker's JIT (default 1)")
    ap.add_argument("--taskset", default="", help="CPU list for sluice (taskset -c; default: none)")
    ap.add_argument("--broker-cpus", default="",
                    help="CPU list for the broker's threads (taskset -a -p -c; default: none)")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    build = Path(a.build) if Path(a.build).is_absolute() else REPO / a.build
    sluice = build / "sluice"
    if not (sluice.is_file() and (build / "plugins" / "datagen-avro.so").is_file()
            and (build / "tests" / "plugins" / "discard.so").is_file()):
        sys.exit(f"datagen_bench: {build} lacks sluice, plugins/datagen-avro.so or "
                 "tests/plugins/discard.so (meson setup --buildtype=release build-rel && "
                 "ninja -C build-rel)")
    only = set(a.only.split(","))
    env = dict(os.environ, SLUICE_PLUGIN_PATH=str(build / "tests" / "plugins"))
    prefix = ["taskset", "-c", a.taskset] if a.taskset else []
    work = Path(tempfile.mkdtemp(prefix="sluice-datagen-bench."))
    reg_dir, kafka_dir = work / "registry", work / "kafka"
    reg_dir.mkdir()
    kafka_dir.mkdir()
    started = []
    results = {}
    try:
        log("starting the schema registry")
        registry = value_of(service("registry.sh", "start", reg_dir), "SCHEMA_REGISTRY_URL")
        started.append(("registry.sh", reg_dir))
        bootstrap = None
        if "kafka" in only:
            log("starting the Kafka broker")
            bootstrap = value_of(service("kafka.sh", "start", kafka_dir), "KAFKA_BOOTSTRAP")
            started.append(("kafka.sh", kafka_dir))
            if a.broker_cpus:
                pid = (kafka_dir / "kafka.pid").read_text().strip()
                subprocess.run(["taskset", "-a", "-p", "-c", a.broker_cpus, pid], check=True,
                               stdout=subprocess.DEVNULL)
        if "inproc" in only:
            rows = []
            n = a.inproc_records
            for i in range(a.runs):
                cfg = pipeline_yaml(work / f"inproc-{i}.yaml", topic=f"orders-inproc-{i}",
                                    records=n, registry=registry, offsets=work / f"off-in-{i}.json")
                secs, rss, err = run_once([*prefix, str(sluice), "run", str(cfg)], env, a.timeout)
                m = re.search(r"discarded (\d+) records, (\d+) value bytes", err)
                if not m or int(m.group(1)) != n:
                    raise RuntimeError(f"inproc run {i}: the discard sink did not get {n} records:"
                                       f"\n{err[-2000:]}")
                row = (secs, n / secs, int(m.group(2)) / secs / 1e6, rss)
                rows.append(row)
                print(f"inproc   run {i + 1}: {n:,} records in {secs:.2f} s = {row[1]:>10,.0f} "
                      f"records/s  {row[2]:7.1f} MB/s  peak RSS {rss / 1024:6.1f} MiB "
                      f"({int(m.group(2)) / n:.1f} B/value)", flush=True)
            results["inproc"] = rows
        if "kafka" in only:
            rows = []
            n = a.kafka_records
            for i in range(-a.kafka_warmup, a.runs):
                topic = f"orders-bench-{os.getpid()}-{i + a.kafka_warmup}"
                create_topic(bootstrap, topic)
                cfg = pipeline_yaml(work / f"kafka-{topic}.yaml", topic=topic, records=n,
                                    registry=registry, bootstrap=bootstrap,
                                    offsets=work / f"off-{topic}.json")
                secs, rss, _ = run_once([*prefix, str(sluice), "run", "--quiet", str(cfg)], env,
                                        a.timeout)
                got = end_offset(bootstrap, topic)
                if got != n:
                    raise RuntimeError(f"kafka run {i}: the topic holds {got} records, want {n}")
                label = f"warm-up {i + a.kafka_warmup + 1}" if i < 0 else f"run {i + 1}"
                print(f"kafka    {label}: {n:,} records in {secs:.2f} s = {n / secs:>10,.0f} "
                      f"records/s  peak RSS {rss / 1024:6.1f} MiB", flush=True)
                if i >= 0:
                    rows.append((secs, n / secs, 0.0, rss))
                delete_topic(bootstrap, topic)
            results["kafka"] = rows
        print()
        for k, rows in results.items():
            median_row(k, rows)
        targets = {"inproc": 300_000, "kafka": 150_000}
        for k, rows in results.items():
            med = statistics.median(r[1] for r in rows)
            print(f"{k:8s} target ≥ {targets[k]:,} records/s: "
                  f"{'met' if med >= targets[k] else 'NOT met'} ({med / targets[k]:.2f}×)")
    finally:
        for script, d in reversed(started):
            try:
                service(script, "stop", d, timeout=120)
            except Exception as e:
                log(f"{script} stop {d}: {e}")
        if not os.environ.get("SLUICE_KEEP_SERVICES"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
