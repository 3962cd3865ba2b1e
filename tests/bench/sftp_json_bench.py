#!/usr/bin/env python3
"""Benchmark: Kafka → sftp-json, 1,000,000 Avro `orders` records from a real broker written as
hourly-partitioned JSON-lines files of 1000 records (the seed's layout), one task:

  sftp    to a real OpenSSH sshd with internal-sftp on loopback (tests/services/sftp.sh): key login,
          host key checked against the server's known_hosts file, `sftp.working.dir` /upload
  local   the same sink writing to a local directory (`directory:`), for comparison

Set-up (untimed): the script starts its own broker (tests/services/kafka.sh), Apicurio registry
(registry.sh) and sshd (sftp.sh, only for `sftp`) in a temporary directory and stops them at the end.
It creates a topic of one partition and fills it with --records records by `sluice run` of a
datagen-avro pipeline (quickstart orders, random.seed 42, rate 0, iterations N; value.converter avro
with the registry, keys json): record timestamps are produce times.

Timed: `sluice run --quiet` of a sink-only pipeline on that topic (value.converter avro and the
registry; a new pipeline id per run, hence a fresh consumer group sluice.<id>.files that starts at
the earliest offset) with sink sftp-json: partitioner.class hourly, flush.size 1000, a topics.dir of
its own per run; one untimed warm-up run goes first (--warmup: a fresh broker's first reads are
slow, its JIT). The consumer keys set on the sink, to keep the read side out of the way:
`batch.max.records: 10000` (batches of up to 10,000 records per put instead of 4,096) and
`consumer.override.queued.max.messages.kbytes: 16384` with `consumer.override.fetch.max.bytes:
4194304` and `consumer.override.max.partition.fetch.bytes: 2097152` (librdkafka 2.0 pauses fetching
for up to a second whenever its prefetch queue is over its bound; the core's 4 MiB bound and 256 KiB
fetches favour a 1 GB machine, see docs/performance.md). The run is complete when the target holds
final files (`*.json`, not `*.json.tmp`) with --records lines in all (normally 1000 files; one
more per hour boundary crossed by the produce times, and at commits before the sink's precommit
(ABI 1.2) one more per periodic flush): the script lists them every 20 ms (and reads them only once there are
N / 1000), then sends SIGTERM to sluice
and waits for it. records/s = N / (spawn → last file seen); MB/s = bytes of the final files / that
time; peak RSS is GNU time's %M. CPU is sluice's user + system time (GNU time's %U + %S, the
whole process: consumer, Avro decoding, JSON, SSH) and, for `sftp`, that of sshd's session
processes at the end of the run: records per CPU second depend less on a busy machine than
records/s do. Each run is then checked: every line parses as JSON and every
orderid 0..N-1 is there exactly once, no temporary file left.

Not a timed test: it never fails on speed. Target (issue 5): ≥ 100,000 records/s to the SFTP
server. Figures go to docs/performance.md.

usage: tests/bench/sftp_json_bench.py [--build build-rel] [--runs N] [--records N]
                                      [--only sftp,local] [--warmup N] [--taskset CPUS] [--keep]
Needs confluent-kafka for the topic set-up: run it with the tests' venv (~/.cache/sluice/venv);
when it is not importable the script re-executes itself with that venv's python. sftp.sh needs root.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


import benchlib  # noqa: E402

benchlib.need_kafka_client()
from benchlib import REPO, children, descendants, log, service, env_of, create_topic, end_offset  # noqa: E402

SINK_KEYS = """        batch.max.records: 10000
        consumer.override.queued.max.messages.kbytes: 16384
        consumer.override.fetch.max.bytes: 4194304
        consumer.override.max.partition.fetch.bytes: 2097152
"""


def fill_yaml(path, *, topic, records, registry, bootstrap, offsets):
    """The set-up pipeline: datagen-avro's orders into the topic (datagen_bench.py's)."""
    path.write_text(f"""version: 1
kafka:
  bootstrap.servers: {bootstrap}
schema.registry:
  url: {registry}
offset.storage.file.filename: {offsets}
pipelines:
  - id: fill-{topic}
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
""")
    return path


def sink_yaml(path, *, pid, topic, registry, bootstrap, offsets, target):
    """The timed pipeline: the topic → sftp-json (`target`: the sink's config lines)."""
    cfg = "\n".join(f"          {k}: {v}" for k, v in target.items())
    path.write_text(f"""version: 1
kafka:
  bootstrap.servers: {bootstrap}
schema.registry:
  url: {registry}
offset.storage.file.filename: {offsets}
pipelines:
  - id: {pid}
    topic: {topic}
    key.converter: json
    key.converter.schemas.enable: false
    value.converter: avro
    sinks:
      - id: files
        plugin: sftp-json
{SINK_KEYS}        config:
{cfg}
          partitioner.class: hourly
          flush.size: 1000
""")
    return path


class Files:
    """The final files under `root` (`*.json`; the .sluice markers and `.tmp` files left out),
    counted incrementally: a final file is complete and never changes once it has its name. Files
    are only listed until there are `expect` of them (N / flush.size), then read once each, so
    that the poller does not compete with sluice for the CPU while it runs."""

    def __init__(self, root, expect=0):
        self.root = root
        self.expect = expect
        self.paths = []
        self.lines = {}  # path → (lines, bytes)
        self.total = 0

    def poll(self):
        known = set(self.paths)
        self.paths += [p for p in self._list() if p not in known]
        if len(self.paths) >= self.expect:
            for path in self.paths:
                if path not in self.lines:
                    with open(path, "rb") as f:
                        body = f.read()
                    self.lines[path] = (body.count(b"\n"), len(body))
                    self.total += self.lines[path][0]
        return self.total

    def _list(self):
        found = []
        stack = [self.root]
        while stack:
            d = stack.pop()
            try:
                it = os.scandir(d)
            except FileNotFoundError:
                continue
            with it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        if e.name != ".sluice":
                            stack.append(e.path)
                    elif e.name.endswith(".json"):
                        found.append(e.path)
        return found

    def nbytes(self):
        return sum(b for _, b in self.lines.values())

    def tmps(self):
        return [str(p) for p in Path(self.root).rglob("*.tmp")]


def cpu_seconds(pids):
    """utime + stime of live processes, from /proc/<pid>/stat."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def run_sink(argv, env, files, n, work, name, timeout, server_pid=None):
    """Runs argv (sluice run) under GNU time until `files` hold n lines; SIGTERM to sluice, wait.
    Returns (seconds to the last file seen, peak RSS KiB, sluice's CPU seconds (user + sys, the
    whole run), CPU seconds of the server's session processes (sshd below server_pid) or 0)."""
    rss_file, log_file = work / f"{name}.rss", work / f"{name}.log"
    with open(log_file, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", "-o", str(rss_file), *argv],
                                env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            seen, last = 0, t0
            while True:
                t = time.perf_counter()  # every file counted below was there by now
                got = files.poll()
                if got != seen:
                    seen, last = got, t
                if got >= n:
                    break
                if proc.poll() is not None:
                    raise RuntimeError(f"{name}: sluice exited {proc.returncode} with {got:,} of "
                                       f"{n:,} records in final files:\n"
                                       f"{log_file.read_text(errors='replace')[-3000:]}")
                if time.perf_counter() - t0 > timeout:
                    raise TimeoutError(f"{name}: {got:,} of {n:,} records after {timeout} s:\n"
                                       f"{log_file.read_text(errors='replace')[-3000:]}")
                time.sleep(0.02)
            secs = last - t0
            # the session ends with sluice: read its processes' CPU now
            server_cpu = cpu_seconds(descendants(server_pid)) if server_pid else 0.0
            for p in children(proc.pid):
                os.kill(p, signal.SIGTERM)
            rc = proc.wait(120)
            if rc != 0:
                raise RuntimeError(f"{name}: sluice exited {rc} after SIGTERM:\n"
                                   f"{log_file.read_text(errors='replace')[-3000:]}")
        finally:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(30)
    rss, user, sys_ = rss_file.read_text().split()[-3:]
    return secs, int(rss), float(user) + float(sys_), server_cpu


def verify(files, n, name):
    """Every line parses and holds an orderid; each of 0..n-1 exactly once; no .tmp left."""
    seen = bytearray(n)
    dups = bad = 0
    for path in files.lines:
        with open(path, "rb") as f:
            for ln in f:
                try:
                    oid = json.loads(ln)["orderid"]
                except (ValueError, KeyError, TypeError):
                    bad += 1
                    continue
                if not (isinstance(oid, int) and 0 <= oid < n):
                    bad += 1
                elif seen[oid]:
                    dups += 1
                else:
                    seen[oid] = 1
    missing = n - sum(seen)
    tmps = files.tmps()
    if dups or bad or missing or tmps:
        raise RuntimeError(f"{name}: {missing} orderids missing, {dups} duplicated, {bad} bad lines, "
                           f"temporary files left: {tmps[:5]}")


def median_row(label, rows, n):
    med = lambda i: statistics.median(r[i] for r in rows)  # noqa: E731
    srv = f" + sshd {med(5):.2f} s" if med(5) else ""
    print(f"{label:6s} median of {len(rows)}: {med(1):>10,.0f} records/s  {med(2):6.1f} MB/s  "
          f"peak RSS {med(3) / 1024:6.1f} MiB  ({med(0):.2f} s; CPU {med(4):.2f} s{srv}, "
          f"{n / med(4):,.0f} records per sluice CPU second)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build-rel")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--only", default="sftp,local")
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed runs of the first scenario first: a fresh broker serves its "
                         "first reads slowly (JIT), as datagen_bench.py's --kafka-warmup (default 1)")
    ap.add_argument("--taskset", default="", help="CPU list for sluice (taskset -c; default: none)")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--default-prefetch", action="store_true",
                    help="leave out the consumer.override prefetch keys (the core's 4 MiB bound)")
    ap.add_argument("--keep", action="store_true",
                    help="keep each run's files (default: removed after the run's check)")
    a = ap.parse_args()
    if a.default_prefetch:
        global SINK_KEYS
        SINK_KEYS = "".join(ln + "\n" for ln in SINK_KEYS.splitlines()
                            if "consumer.override." not in ln)
    build = Path(a.build) if Path(a.build).is_absolute() else REPO / a.build
    sluice = build / "sluice"
    if not all((build / "plugins" / f"{p}.so").is_file() for p in ("datagen-avro", "sftp-json")) \
            or not sluice.is_file():
        sys.exit(f"sftp_json_bench: {build} lacks sluice, plugins/datagen-avro.so or "
                 "plugins/sftp-json.so (meson setup --buildtype=release build-rel && "
                 "ninja -C build-rel)")
    if a.records <= 0 or a.records % 1000:
        sys.exit("sftp_json_bench: --records must be a multiple of flush.size (1000): the last "
                 "file stays open until the stop otherwise")
    only = [x for x in a.only.split(",") if x]
    if set(only) - {"sftp", "local"}:
        sys.exit(f"sftp_json_bench: --only takes sftp and local, not {a.only}")
    n = a.records
    env = dict(os.environ)
    prefix = ["taskset", "-c", a.taskset] if a.taskset else []
    work = Path(tempfile.mkdtemp(prefix="sluice-sftp-json-bench."))
    dirs = {k: work / k for k in ("registry", "kafka", "sftp")}
    for d in dirs.values():
        d.mkdir()
    started = []
    results = {}
    try:
        log("starting the schema registry")
        registry = env_of(service("registry.sh", "start", dirs["registry"]))["SCHEMA_REGISTRY_URL"]
        started.append(("registry.sh", "stop", dirs["registry"]))
        log("starting the Kafka broker")
        bootstrap = env_of(service("kafka.sh", "start", dirs["kafka"]))["KAFKA_BOOTSTRAP"]
        started.append(("kafka.sh", "stop", dirs["kafka"]))
        srv, sshd_pid = None, None
        if "sftp" in only:
            log("starting sshd")
            srv = env_of(service("sftp.sh", "start", dirs["sftp"]))
            started.append(("sftp.sh", "clean", dirs["sftp"]))
            sshd_pid = int((dirs["sftp"] / "sshd.pid").read_text().split()[0])

        topic = f"orders-sjb-{os.getpid()}"
        create_topic(bootstrap, topic)
        log(f"filling {topic} with {n:,} Avro orders (untimed)")
        t = time.perf_counter()
        fill = fill_yaml(work / "fill.yaml", topic=topic, records=n, registry=registry,
                         bootstrap=bootstrap, offsets=work / "fill-offsets.json")
        r = subprocess.run([str(sluice), "run", "--quiet", str(fill)], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=a.timeout)
        if r.returncode != 0:
            raise RuntimeError(f"filling the topic: sluice exited {r.returncode}:\n{r.stderr[-3000:]}")
        got = end_offset(bootstrap, topic)
        if got != n:
            raise RuntimeError(f"the topic holds {got} records, want {n}")
        log(f"filled in {time.perf_counter() - t:.1f} s")

        for k, scen in enumerate(only):
            rows = []
            for i in range(-a.warmup if k == 0 else 0, a.runs):
                pid = f"sjb-{scen}-{os.getpid()}-{i + a.warmup}"
                tdir = f"bench-{pid}"
                if scen == "sftp":
                    target = {"sftp.host": srv["SFTP_HOST"], "sftp.port": srv["SFTP_PORT"],
                              "sftp.username": srv["SFTP_USER"],
                              "sftp.private.key": srv["SFTP_KEY"],
                              "sftp.known.hosts": srv["SFTP_KNOWN_HOSTS"],
                              "sftp.working.dir": srv["SFTP_WORKING_DIR"], "topics.dir": tdir}
                    root = Path(srv["SFTP_ROOT"]) / srv["SFTP_WORKING_DIR"].lstrip("/") / tdir
                else:
                    out = work / f"out-{i}"
                    target = {"directory": out, "topics.dir": tdir}
                    root = out / tdir
                cfg = sink_yaml(work / f"{pid}.yaml", pid=pid, topic=topic, registry=registry,
                                bootstrap=bootstrap, offsets=work / f"off-{pid}.json",
                                target=target)
                files = Files(root, expect=n // 1000)
                secs, rss, cpu, srv_cpu = run_sink(
                    [*prefix, str(sluice), "run", "--quiet", str(cfg)], env, files, n, work, pid,
                    a.timeout, server_pid=sshd_pid if scen == "sftp" else None)
                files.poll()
                verify(files, n, f"{scen} run {i}")
                nbytes = files.nbytes()
                row = (secs, n / secs, nbytes / secs / 1e6, rss, cpu, srv_cpu)
                label = f"warm-up {i + a.warmup + 1}" if i < 0 else f"run {i + 1}"
                if i >= 0:
                    rows.append(row)
                print(f"{scen:6s} {label}: {n:,} records in {len(files.lines):,} files "
                      f"({nbytes / 1e6:.1f} MB) in {secs:.2f} s = {row[1]:>10,.0f} records/s  "
                      f"{row[2]:6.1f} MB/s  peak RSS {rss / 1024:6.1f} MiB  CPU {cpu:.2f} s"
                      + (f" + sshd {srv_cpu:.2f} s" if srv_cpu else "")
                      + "  (checked: every orderid once)", flush=True)
                if not a.keep:
                    shutil.rmtree(root, ignore_errors=True)
            results[scen] = rows
        print()
        for k, rows in results.items():
            median_row(k, rows, n)
        target = 100_000
        for k, rows in results.items():
            med = statistics.median(r[1] for r in rows)
            print(f"{k:6s} target ≥ {target:,} records/s{'' if k == 'sftp' else ' (sftp only)'}: "
                  f"{'met' if med >= target else 'NOT met'} ({med / target:.2f}×)")
    finally:
        for script, verb, d in reversed(started):
            try:
                service(script, verb, d, timeout=120)
            except Exception as e:
                log(f"{script} {verb} {d}: {e}")
        if not os.environ.get("SLUICE_KEEP_SERVICES"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
