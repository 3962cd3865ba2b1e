#!/usr/bin/env python3
"""Benchmark: mysql-cdc (mode binlog) reading a pre-generated binlog of single-row autocommit
inserts on a 10-column table and producing Debezium change events:

  kafka    into a real Kafka broker (tests/services/kafka.sh), key and value converter json
           (schemas off) or, with --converter avro, avro with a real registry
           (tests/services/registry.sh); a fresh topic per run; timed from the start of sluice until the topic's
           end offset reaches the row count (every event acknowledged)
  inproc   in-process topic → the `discard` fixture sink (build/tests/plugins): binlog reading,
           row decoding and envelope building only; timed until the committed position says
           every record went through (offsets.json next_offset)

The script starts its own MariaDB (tests/services/mariadb.sh; innodb_flush_log_at_trx_commit=0
and sync_binlog=0 so that generating the rows takes seconds, not an hour) and its own broker,
inserts --rows rows with a stored procedure (each INSERT its own transaction: GTID, TABLE_MAP,
WRITE_ROWS and XID events), then runs sluice with snapshot.mode never (the whole binlog is
streamed) --runs times. Prints row events/s, peak RSS (VmHWM) per run and the medians.

Not a timed test: it never fails on speed. Target (issue 7, release build): ≥ 50,000 events/s.

usage: tests/bench/mysql_cdc_bench.py [--build build-cdc-rel] [--rows N] [--runs N]
                                      [--only kafka,inproc] [--converter json|avro]
Needs confluent-kafka: run it with the tests' venv (~/.cache/sluice/venv); when it is not
importable the script re-executes itself with that venv's python.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


import benchlib  # noqa: E402

benchlib.need_kafka_client()
from benchlib import REPO, log, service, value_of, end_offset  # noqa: E402


def pipeline_yaml(path, *, topic, port, password, offsets, bootstrap=None, registry=None):
    kafka = f"kafka:\n  bootstrap.servers: {bootstrap}\n" if bootstrap else ""
    if registry:
        kafka += f"schema.registry:\n  url: {registry}\n"
    conv = "avro" if registry else "json"
    sinks = "" if bootstrap else "    sinks:\n      - {id: drop, plugin: discard}\n"
    path.write_text(f"""version: 1
{kafka}offset.storage.file.filename: {offsets}
pipelines:
  - id: {topic}
    topic: {topic}
    key.converter: {conv}
    key.converter.schemas.enable: false
    value.converter: {conv}
    value.converter.schemas.enable: false
    source:
      plugin: mysql-cdc
      config:
        database.hostname: 127.0.0.1
        database.port: {port}
        database.user: cdc
        database.password: {password}
        snapshot.mode: never
        table.include.list: [bench.t]
{sinks}""")
    return path


def hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for ln in f:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1])
    except FileNotFoundError:
        pass
    return 0


def run_once(sluice, cfg, env, done, rows, timeout=900):
    """Starts sluice, waits until done() >= rows; returns (seconds, peak RSS KiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen([str(sluice), "run", "--quiet", str(cfg)], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    peak = 0
    try:
        while True:
            peak = max(peak, hwm_kib(p.pid))
            if p.poll() is not None:
                raise RuntimeError(f"sluice exited {p.returncode}: {p.stderr.read()[-3000:]}")
            if done() >= rows:
                secs = time.perf_counter() - t0
                break
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"{done()} of {rows} after {timeout} s")
            time.sleep(0.05)
        peak = max(peak, hwm_kib(p.pid))
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return secs, peak


def next_offset(path):
    try:
        with open(path) as f:
            return max(int(v.get("next_offset", 0)) for v in json.load(f)["pipelines"].values())
    except (FileNotFoundError, ValueError, KeyError):
        return 0


def median_row(label, rows):
    med = lambda i: statistics.median(r[i] for r in rows)  # noqa: E731
    print(f"{label:8s} median of {len(rows)}: {med(1):>10,.0f} events/s  peak RSS "
          f"{med(2) / 1024:6.1f} MiB  ({med(0):.2f} s)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build-cdc-rel")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="kafka,inproc")
    ap.add_argument("--converter", default="json", choices=["json", "avro"],
                    help="key and value converter (avro: starts tests/services/registry.sh)")
    a = ap.parse_args()
    build = Path(a.build) if Path(a.build).is_absolute() else REPO / a.build
    sluice = build / "sluice"
    only = set(a.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="sluice-cdc-bench."))
    db_dir, kafka_dir, reg_dir = work / "db", work / "kafka", work / "registry"
    db_dir.mkdir()
    kafka_dir.mkdir()
    reg_dir.mkdir()
    registry = None
    started = []
    env = dict(os.environ, SLUICE_PLUGIN_PATH=str(build / "tests" / "plugins"))
    try:
        log("starting MariaDB")
        denv = dict(os.environ, SLUICE_MARIADB_ARGS="--innodb-flush-log-at-trx-commit=0 "
                    "--sync-binlog=0 --max-binlog-size=256M")
        db_env = service("mariadb.sh", "start", db_dir, env=denv)
        port = int(value_of(db_env, "MYSQL_PORT"))
        password = value_of(db_env, "MYSQL_CDC_PASSWORD")
        started.append(("mariadb.sh", db_dir))
        log(f"inserting {a.rows:,} rows, one transaction each")
        t0 = time.perf_counter()
        service("mariadb.sh", "sql", db_dir, f"""
CREATE DATABASE bench;
CREATE TABLE bench.t (id BIGINT PRIMARY KEY AUTO_INCREMENT, a INT, b INT UNSIGNED, c BIGINT,
  d DOUBLE, e VARCHAR(32), f VARCHAR(64), g DATETIME(3), h DECIMAL(10,2), i TINYINT);
DELIMITER //
CREATE PROCEDURE bench.gen(n INT) BEGIN DECLARE k INT DEFAULT 0;
  WHILE k < n DO
    INSERT INTO bench.t (a, b, c, d, e, f, g, h, i) VALUES (k, k * 7, k * 1000003, k / 3,
      CONCAT('name-', k), CONCAT('some text of row ', k, ' for the benchmark'),
      '2024-01-02 03:04:05.678', k % 100000 / 100, k % 100);
    SET k = k + 1; END WHILE; END//
DELIMITER ;""")
        left = a.rows
        while left > 0:  # mariadb.sh bounds one client call to 60 s
            n = min(left, 100_000)
            service("mariadb.sh", "sql", db_dir, f"CALL bench.gen({n})")
            left -= n
        log(f"inserted in {time.perf_counter() - t0:.1f} s")
        if a.converter == "avro":
            log("starting the schema registry")
            registry = value_of(service("registry.sh", "start", reg_dir), "SCHEMA_REGISTRY_URL")
            started.append(("registry.sh", reg_dir))
        load = os.getloadavg()
        if "kafka" in only:
            log("starting the Kafka broker")
            bootstrap = value_of(service("kafka.sh", "start", kafka_dir), "KAFKA_BOOTSTRAP")
            started.append(("kafka.sh", kafka_dir))
            rows = []
            for i in range(a.runs):
                topic = f"cdc-bench-{i}-{os.getpid()}"
                cfg = pipeline_yaml(work / f"k{i}.yaml", topic=topic, port=port, password=password,
                                    offsets=work / f"k{i}.json", bootstrap=bootstrap,
                                    registry=registry)
                secs, rss = run_once(sluice, cfg, env, lambda: end_offset(bootstrap, topic),
                                     a.rows)
                rows.append((secs, a.rows / secs, rss))
                print(f"kafka    run {i + 1}: {a.rows / secs:>10,.0f} events/s  peak RSS "
                      f"{rss / 1024:6.1f} MiB  ({secs:.2f} s)", flush=True)
            median_row("kafka", rows)
        if "inproc" in only:
            rows = []
            for i in range(a.runs):
                off = work / f"i{i}.json"
                cfg = pipeline_yaml(work / f"i{i}.yaml", topic=f"cdc-inproc-{i}", port=port,
                                    password=password,
                                    offsets=off, registry=registry)
                secs, rss = run_once(sluice, cfg, env, lambda: next_offset(off), a.rows)
                rows.append((secs, a.rows / secs, rss))
                print(f"inproc   run {i + 1}: {a.rows / secs:>10,.0f} events/s  peak RSS "
                      f"{rss / 1024:6.1f} MiB  ({secs:.2f} s)", flush=True)
            median_row("inproc", rows)
        print(f"load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
              f"{os.cpu_count()} CPUs", flush=True)
    finally:
        for script, d in reversed(started):
            try:
                service(script, "stop", d, timeout=120)
            except Exception as e:  # noqa: BLE001
                log(f"stopping {script}: {e}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
