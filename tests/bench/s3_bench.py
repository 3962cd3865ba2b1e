#!/usr/bin/env python3
"""Benchmark: Kafka → s3, 1,000,000 Avro `orders` records from a real broker into a real S3 server
(s3proxy on loopback, filesystem backend: tests/services/s3proxy.sh), hourly-partitioned as the
seed's tree, one task, beside sftp-json on the same topic in the same run:

  s3-json   format.class json, flush.size 1000: JSON-lines objects of 1,000 records (one PUT each)
  s3-avro   format.class avro, flush.size 100000: Avro object container files of 100,000 records
  sftp      sftp-json to a real OpenSSH sshd (tests/services/sftp.sh), flush.size 1000: the figure
            of tests/bench/sftp_json_bench.py, measured again here on the same topic and machine

Set-up (untimed), as sftp_json_bench.py: the script starts its own broker, Apicurio registry,
s3proxy (and sshd for `sftp`) in a temporary directory and stops them at the end; it fills a
one-partition topic with --records records by `sluice run` of a datagen-avro pipeline (quickstart
orders, random.seed 42). Each s3 run writes under a topics.dir of its own in one bucket, with
s3.part.size left at its default; the credentials come from the environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).

Timed: `sluice run --quiet` of a sink-only pipeline on that topic (value.converter avro with the
registry, a fresh consumer group per run, the consumer keys of sftp_json_bench.py unless
--default-consumer), from spawn until the objects hold --records records: the script lists the
server's data directory every 20 ms (an object appears there, under its key, when its PUT or
CompleteMultipartUpload has succeeded) and reads the objects once there are as many as expected.
Then SIGTERM. records/s = N / (spawn → last object seen); peak RSS is GNU time's %M; CPU is
sluice's user + system time. Each s3 run is then checked through the S3 API with boto3 (list,
get): every orderid 0..N-1 exactly once (JSON lines parsed, Avro read with fastavro), no
incomplete multipart upload left.

Not a timed test: it never fails on speed. Goal (issue 20): ≥ 150,000 records/s into the local
server, peak RSS ≤ 64 MiB with the default part size. Figures go to docs/performance.md.

usage: tests/bench/s3_bench.py [--build build] [--runs N] [--records N]
                               [--only s3-json,s3-avro,sftp] [--warmup N] [--default-consumer]
Needs confluent-kafka, boto3 and fastavro (the tests' venv, ~/.cache/sluice/venv; the script
re-executes itself with it). sftp.sh needs root.
"""
import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib  # noqa: E402

benchlib.need_kafka_client()
from benchlib import REPO, env_of, create_topic, end_offset, log, service  # noqa: E402
import sftp_json_bench as sjb  # noqa: E402  (the fill pipeline, the timed loop, the sftp scenario)

SCENARIOS = ("s3-json", "s3-avro", "sftp")
BUCKET = "bench"


def s3_sink_yaml(path, *, pid, topic, registry, bootstrap, offsets, srv, tdir, fmt, flush_size,
                 consumer_keys):
    """The timed pipeline: the topic → s3."""
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
      - id: s3
        plugin: s3
{consumer_keys}        config:
          s3.bucket.name: {BUCKET}
          s3.region: {srv['S3_REGION']}
          store.url: {srv['S3_ENDPOINT']}
          topics.dir: {tdir}
          format.class: {fmt}
          partitioner.class: hourly
          flush.size: {flush_size}
""")
    return path


class Objects:
    """The objects under the server's data directory for one topics.dir (s3proxy's filesystem
    backend: bucket/key is a file), counted as sftp_json_bench.Files counts files: listed until
    there are `expect`, then each read once (JSON: lines; Avro: the blocks' record counts)."""

    def __init__(self, root, expect, ext):
        self.files = sjb.Files(root, expect)
        self.ext = ext
        if ext == ".avro":
            self.files._list = self._list_avro

    def _list_avro(self):
        return [str(p) for p in Path(self.files.root).rglob("*.avro")]

    def poll(self):
        if self.ext == ".json":
            return self.files.poll()
        f = self.files
        known = set(f.paths)
        f.paths += [p for p in f._list() if p not in known]
        if len(f.paths) >= f.expect:
            import fastavro
            for path in f.paths:
                if path not in f.lines:
                    with open(path, "rb") as fh:
                        body = fh.read()
                    n = sum(b.num_records for b in fastavro.block_reader(io.BytesIO(body)))
                    f.lines[path] = (n, len(body))
                    f.total += n
        return f.total

    def nbytes(self):
        return self.files.nbytes()


def s3_client(srv):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=srv["S3_ENDPOINT"], region_name=srv["S3_REGION"],
                        aws_access_key_id=srv["S3_ACCESS_KEY_ID"],
                        aws_secret_access_key=srv["S3_SECRET_ACCESS_KEY"],
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                      request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required"))


def verify_s3(client, tdir, n, fmt, name):
    """Through the S3 API: every orderid 0..n-1 exactly once, no multipart upload left."""
    import fastavro
    seen = bytearray(n)
    dups = bad = 0
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{tdir}/"):
        keys += [o["Key"] for o in page.get("Contents", [])]
    for key in keys:
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        if fmt == "json":
            oids = []
            for ln in body.splitlines():
                try:
                    oids.append(json.loads(ln)["orderid"])
                except (ValueError, KeyError, TypeError):
                    bad += 1
        else:
            oids = [r.get("orderid") for r in fastavro.reader(io.BytesIO(body))]
        for oid in oids:
            if not (isinstance(oid, int) and 0 <= oid < n):
                bad += 1
            elif seen[oid]:
                dups += 1
            else:
                seen[oid] = 1
    missing = n - sum(seen)
    uploads = client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    if dups or bad or missing or uploads:
        raise RuntimeError(f"{name}: {missing} orderids missing, {dups} duplicated, {bad} bad "
                           f"records, {len(uploads)} multipart uploads left")
    return len(keys)


def median_row(label, rows, n):
    med = lambda i: statistics.median(r[i] for r in rows)  # noqa: E731
    server = "sshd" if label == "sftp" else "s3proxy"
    print(f"{label:7s} median of {len(rows)}: {med(1):>10,.0f} records/s  {med(2):6.1f} MB/s  "
          f"peak RSS {med(3) / 1024:6.1f} MiB  ({med(0):.2f} s; CPU {med(4):.2f} s + {server} "
          f"{med(5):.2f} s, {n / med(4):,.0f} records per sluice CPU second)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--only", default=",".join(SCENARIOS))
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed runs of the first scenario first (a fresh broker's first reads "
                         "are slow), as sftp_json_bench.py's --warmup (default 1)")
    ap.add_argument("--default-consumer", action="store_true",
                    help="leave the core's consumer defaults (4 MiB prefetch) instead of "
                         "sftp_json_bench.py's batch.max.records 10000 and 16 MiB prefetch")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    build = Path(a.build) if Path(a.build).is_absolute() else REPO / a.build
    sluice = build / "sluice"
    only = [x for x in a.only.split(",") if x]
    if set(only) - set(SCENARIOS):
        sys.exit(f"s3_bench: --only takes {','.join(SCENARIOS)}, not {a.only}")
    need = ["datagen-avro"] + (["s3"] if any(s.startswith("s3") for s in only) else []) \
        + (["sftp-json"] if "sftp" in only else [])
    if not sluice.is_file() or not all((build / "plugins" / f"{p}.so").is_file() for p in need):
        sys.exit(f"s3_bench: {build} lacks sluice or one of plugins/{{{','.join(need)}}}.so")
    if a.records <= 0 or a.records % 100_000:
        sys.exit("s3_bench: --records must be a multiple of 100,000 (the Avro objects' flush.size): "
                 "the last object stays open until the stop otherwise")
    n = a.records
    consumer_keys = "" if a.default_consumer else sjb.SINK_KEYS
    work = Path(tempfile.mkdtemp(prefix="sluice-s3-bench."))
    dirs = {k: work / k for k in ("registry", "kafka", "s3proxy", "sftp")}
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
        srv = env_of(service("s3proxy.sh", "start", dirs["s3proxy"]))
        started.append(("s3proxy.sh", "stop", dirs["s3proxy"]))
        client = s3_client(srv)
        s3proxy_pid = int((dirs["s3proxy"] / "s3proxy.pid").read_text().split()[0])
        client.create_bucket(Bucket=BUCKET)
        sftp, sshd_pid = None, None
        if "sftp" in only:
            log("starting sshd")
            sftp = env_of(service("sftp.sh", "start", dirs["sftp"]))
            started.append(("sftp.sh", "clean", dirs["sftp"]))
            sshd_pid = int((dirs["sftp"] / "sshd.pid").read_text().split()[0])
        env = dict(os.environ, AWS_ACCESS_KEY_ID=srv["S3_ACCESS_KEY_ID"],
                   AWS_SECRET_ACCESS_KEY=srv["S3_SECRET_ACCESS_KEY"])
        # the REST API on a free port: 8083 may be another worker's (as conftest.py does)
        env.setdefault("SLUICE_LISTENERS", "http://127.0.0.1:0")

        topic = f"orders-s3b-{os.getpid()}"
        create_topic(bootstrap, topic)
        log(f"filling {topic} with {n:,} Avro orders (untimed)")
        t = time.perf_counter()
        fill = sjb.fill_yaml(work / "fill.yaml", topic=topic, records=n, registry=registry,
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
                pid = f"s3b-{scen}-{os.getpid()}-{i + a.warmup}"
                tdir = f"bench-{pid}"
                cfg = work / f"{pid}.yaml"
                if scen == "sftp":
                    target = {"sftp.host": sftp["SFTP_HOST"], "sftp.port": sftp["SFTP_PORT"],
                              "sftp.username": sftp["SFTP_USER"],
                              "sftp.private.key": sftp["SFTP_KEY"],
                              "sftp.known.hosts": sftp["SFTP_KNOWN_HOSTS"],
                              "sftp.working.dir": sftp["SFTP_WORKING_DIR"], "topics.dir": tdir}
                    root = Path(sftp["SFTP_ROOT"]) / sftp["SFTP_WORKING_DIR"].lstrip("/") / tdir
                    sjb.sink_yaml(cfg, pid=pid, topic=topic, registry=registry,
                                  bootstrap=bootstrap, offsets=work / f"off-{pid}.json",
                                  target=target)
                    if a.default_consumer:
                        cfg.write_text(cfg.read_text().replace(sjb.SINK_KEYS, ""))
                    objs = sjb.Files(root, expect=n // 1000)
                else:
                    fmt, size = ("json", 1000) if scen == "s3-json" else ("avro", 100_000)
                    s3_sink_yaml(cfg, pid=pid, topic=topic, registry=registry,
                                 bootstrap=bootstrap, offsets=work / f"off-{pid}.json", srv=srv,
                                 tdir=tdir, fmt=fmt, flush_size=size, consumer_keys=consumer_keys)
                    root = Path(srv["S3_DATA"]) / BUCKET / tdir
                    objs = Objects(root, n // size, f".{fmt}")
                # the server's CPU: sshd's session processes (run_sink), s3proxy's JVM (its
                # CPU time over the run; it lives across runs)
                s3cpu = sjb.cpu_seconds([s3proxy_pid])
                secs, rss, cpu, srv_cpu = sjb.run_sink(
                    [str(sluice), "run", "--quiet", str(cfg)], env, objs, n, work, pid,
                    a.timeout, server_pid=sshd_pid if scen == "sftp" else None)
                if scen != "sftp":
                    srv_cpu = sjb.cpu_seconds([s3proxy_pid]) - s3cpu
                objs.poll()
                if scen == "sftp":
                    sjb.verify(objs, n, f"{scen} run {i}")
                    count = len(objs.lines)
                else:
                    count = verify_s3(client, tdir, n, fmt, f"{scen} run {i}")
                nbytes = objs.nbytes()
                row = (secs, n / secs, nbytes / secs / 1e6, rss, cpu, srv_cpu)
                label = f"warm-up {i + a.warmup + 1}" if i < 0 else f"run {i + 1}"
                if i >= 0:
                    rows.append(row)
                print(f"{scen:7s} {label}: {n:,} records in {count:,} objects "
                      f"({nbytes / 1e6:.1f} MB) in {secs:.2f} s = {row[1]:>10,.0f} records/s  "
                      f"{row[2]:6.1f} MB/s  peak RSS {rss / 1024:6.1f} MiB  CPU {cpu:.2f} s"
                      + (f" + {'sshd' if scen == 'sftp' else 's3proxy'} {srv_cpu:.2f} s"
                         if srv_cpu else "")
                      + "  (checked: every orderid once)", flush=True)
                shutil.rmtree(root, ignore_errors=True)
            results[scen] = rows
        print()
        for k, rows in results.items():
            median_row(k, rows, n)
        for k, rows in results.items():
            if not k.startswith("s3"):
                continue
            rate = statistics.median(r[1] for r in rows)
            rss = max(r[3] for r in rows) / 1024
            print(f"{k:7s} goal ≥ 150,000 records/s: {'met' if rate >= 150_000 else 'NOT met'} "
                  f"({rate / 150_000:.2f}×); peak RSS ≤ 64 MiB: "
                  f"{'met' if rss <= 64 else 'NOT met'} (highest {rss:.1f} MiB)")
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
