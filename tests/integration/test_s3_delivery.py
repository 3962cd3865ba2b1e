"""The s3 sink's exactly-once delivery against a real broker (the `kafka` fixture) and a real S3
server (the `s3` fixture, s3proxy), read back independently with boto3:

- SIGKILL mid-upload: a 200,000-record run Kafka → s3 in multipart objects, the sluice process
  killed several times while a multipart upload is in flight (and started again each time); then
  every record is in exactly one object, with the value produced at its offset, and no incomplete
  multipart upload is left on the server.
- the server away for 30 s mid-run (stopped, then started on the same port with the same data):
  records wait, nothing is lost, nothing is duplicated, sluice does not spin meanwhile.

An object's records are consecutive offsets from the one in its name (<topic>+<partition>+<first
offset>.json), so the objects tell for every offset how many times it was delivered.

These are the CI sizes (each test about a minute). The long variant, out of CI as the soak test is,
runs the same tests with SLUICE_S3_LONG=1 (tests/soak/s3_delivery): 2,000,000 records killed 10
times, and the server away for 3 minutes."""
import json
import os
import re
import signal
import time
from collections import Counter

from confluent_kafka import KafkaException

from kafkatest import committed, create_topic, end_offsets, produce, uniq
from sluicetest import kill, scaled, wait_exit, wait_until, write_yaml

PART = 5 << 20  # s3.part.size: S3's smallest part, so that every object is a multipart upload
LONG = os.environ.get("SLUICE_S3_LONG") == "1"
KILL_RECORDS, KILLS, AWAY_S = (2_000_000, 10, 180) if LONG else (200_000, 4, 30)


def sink_yaml(tmp, bootstrap, pid, topic, s3, bucket, *, flush_size, extra=""):
    """A sink-only pipeline: the topic (JSON values) → s3, partition=<p> directories."""
    return write_yaml(tmp / f"{pid}.yaml", f"""version: 1
kafka:
  bootstrap.servers: {bootstrap}
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: {pid}
    topic: {topic}
    value.converter: json
    value.converter.schemas.enable: false
    offset.flush.interval.ms: 500ms
    sinks:
      - id: s3
        plugin: s3
        consumer.override.session.timeout.ms: 6000
        consumer.override.heartbeat.interval.ms: 1000
        config:
          s3.bucket.name: {bucket}
          s3.region: {s3.region}
          store.url: {s3.endpoint}
          topics.dir: topics
          format.class: json
          partitioner.class: default
          flush.size: {flush_size}
          s3.part.size: {PART}
{extra}""")


def s3_env(s3):
    """The credentials as an operator gives them: the environment, never the YAML."""
    return {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}


def fill(bootstrap, topic, first, n, partitions, pad):
    """Records first..first+n-1 (JSON {"id": i, "pad": ...}), i to partition i % partitions.
    Returns {(partition, offset): id}."""
    where = {}
    for p in range(partitions):
        ids = list(range(first + p, first + n, partitions))
        spots = produce(bootstrap, topic,
                        [json.dumps({"id": i, "pad": pad}).encode() for i in ids], partition=p)
        where.update({spot: i for spot, i in zip(spots, ids)})
    return where


def tally(s3, bucket, topic, produced):
    """Reads every object under topics/<topic>/: (Counter of deliveries per (partition, offset),
    problems: wrong names, wrong values, records past the produced ones)."""
    seen, problems = Counter(), []
    name = re.compile(rf"topics/{re.escape(topic)}/partition=(\d+)/"
                      rf"{re.escape(topic)}\+(\d+)\+(\d{{10}})\.json")
    for key in s3.keys(bucket, f"topics/{topic}/"):
        m = name.fullmatch(key)
        if not m or m[1] != m[2]:
            problems.append(f"unexpected object {key}")
            continue
        p, start = int(m[2]), int(m[3])
        for k, ln in enumerate(s3.get(bucket, key).splitlines()):
            spot = (p, start + k)
            seen[spot] += 1
            got = json.loads(ln)["id"]
            if produced.get(spot) != got:
                problems.append(f"{key} line {k + 1}: id {got}, produced {produced.get(spot)}")
    return seen, problems[:20]


def check_exactly_once(s3, bucket, topic, produced):
    seen, problems = tally(s3, bucket, topic, produced)
    assert not problems, problems
    missing = [spot for spot in produced if seen[spot] == 0]
    twice = [(spot, c) for spot, c in seen.items() if c > 1]
    assert not missing and not twice, (f"{len(missing)} records in no object (first "
                                       f"{sorted(missing)[:5]}), {len(twice)} in more than one "
                                       f"(first {sorted(twice)[:5]})")
    assert sum(seen.values()) == len(produced)
    assert s3.uploads(bucket) == [], "incomplete multipart uploads left on the server"


def offsets_of(bootstrap, group, topic):
    """committed(), again while the group's coordinator is not ready (a young broker)."""
    deadline = time.monotonic() + scaled(60)
    while True:
        try:
            return committed(bootstrap, group, topic)
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def all_committed(bootstrap, group, topic):
    return offsets_of(bootstrap, group, topic) == end_offsets(bootstrap, topic)


def test_sigkill_mid_upload_leaves_every_record_in_exactly_one_object(sluice, kafka, s3, tmp):
    """200,000 records of ~300 bytes over 2 partitions, objects of 20,000 records (~6 MB: two
    parts of 5 MiB each); SIGKILL while an upload is in flight, after each new object, until 4
    kills have left an upload behind (long variant: 2,000,000 records, 10 kills)."""
    topic, pid = uniq("s3kill"), uniq("s3k")
    bucket = s3.bucket(uniq("kill").lower())
    create_topic(kafka.bootstrap, topic, 2)
    produced = fill(kafka.bootstrap, topic, 0, KILL_RECORDS, 2, "x" * 280)
    cfg = sink_yaml(tmp, kafka.bootstrap, pid, topic, s3, bucket, flush_size=20_000)
    group = f"sluice.{pid}.s3"
    env = s3_env(s3)
    logs, errs = [], []

    def start():
        errs.append(open(tmp / f"run{len(logs)}.stderr", "wb"))
        logs.append(errs[-1].name)
        return sluice.spawn("run", cfg, env=env, stderr=errs[-1])

    def objects():
        return len(s3.keys(bucket, f"topics/{topic}/"))

    proc = start()
    kills, before = [], 0
    try:
        # KILLS kills that left an upload behind (an upload may complete between the look and
        # the signal: such a kill is not counted)
        while sum(1 for _, pending in kills if pending) < KILLS \
                and not all_committed(kafka.bootstrap, group, topic):
            # progress since the last kill (a new object), then a multipart upload in flight
            wait_until(lambda: objects() > before or proc.poll() is not None, scaled(60),
                       interval=0.05, what=f"a new object after kill {len(kills)}")
            assert proc.poll() is None, open(logs[-1]).read()[-3000:]
            deadline = time.monotonic() + scaled(30)
            while not s3.uploading(bucket) and time.monotonic() < deadline:
                time.sleep(0.001)
            if not s3.uploading(bucket):
                break  # the run ended (or no upload showed): the checks below still hold
            kill(proc, signal.SIGKILL)
            wait_exit(proc, 20)
            before = objects()
            kills.append((before, len(s3.uploads(bucket))))
            proc = start()
        wait_until(lambda: all_committed(kafka.bootstrap, group, topic) or proc.poll() is not None,
                   scaled(900 if LONG else 90), interval=0.3, what="every offset committed")
        assert proc.poll() is None, open(logs[-1]).read()[-3000:]
        kill(proc, signal.SIGTERM)
        assert wait_exit(proc, scaled(30)) == 0, open(logs[-1]).read()[-3000:]
    finally:
        if proc.poll() is None:
            kill(proc, signal.SIGKILL)
            wait_exit(proc, 20)
        for e in errs:
            e.close()
    # killed mid-upload several times: an upload left on the server by the kill shows it
    mid = [k for k in kills if k[1] >= 1]
    assert len(mid) >= 3, f"only {len(mid)} kills left an upload behind: {kills}"
    check_exactly_once(s3, bucket, topic, produced)
    assert objects() == KILL_RECORDS // 20_000  # 20,000 records an object


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_server_away_30s_mid_run_loses_and_duplicates_nothing(sluice, kafka, s3, tmp):
    """60,000 records, objects of 10,000; the server stopped after the first object, 60,000 more
    records produced while it is away, started again 30 s later (long variant: 3 minutes) on the
    same port."""
    topic, pid = uniq("s3away"), uniq("s3a")
    bucket = s3.bucket(uniq("away").lower())
    create_topic(kafka.bootstrap, topic, 1)
    produced = fill(kafka.bootstrap, topic, 0, 60_000, 1, "y" * 200)
    cfg = sink_yaml(tmp, kafka.bootstrap, pid, topic, s3, bucket, flush_size=10_000)
    group = f"sluice.{pid}.s3"
    err = open(tmp / "run.stderr", "wb")
    proc = sluice.spawn("run", cfg, env=s3_env(s3), stderr=err)
    try:
        wait_until(lambda: s3.keys(bucket) or proc.poll() is not None, scaled(60), interval=0.02,
                   what="the first object")
        s3.stop()
        away = time.monotonic()
        assert proc.poll() is None, (tmp / "run.stderr").read_text()[-3000:]
        produced.update(fill(kafka.bootstrap, topic, 60_000, 60_000, 1, "y" * 200))
        cpu0 = cpu_seconds(proc.pid)
        time.sleep(max(0.0, AWAY_S - (time.monotonic() - away)))
        # still running, waiting: not spinning on the failures
        assert proc.poll() is None, (tmp / "run.stderr").read_text()[-3000:]
        spent = cpu_seconds(proc.pid) - cpu0
        held = offsets_of(kafka.bootstrap, group, topic)[0]
        s3.start()
        wait_until(lambda: all_committed(kafka.bootstrap, group, topic) or proc.poll() is not None,
                   scaled(90), interval=0.3, what="every offset committed after the outage")
        assert proc.poll() is None, (tmp / "run.stderr").read_text()[-3000:]
        kill(proc, signal.SIGTERM)
        assert wait_exit(proc, scaled(30)) == 0, (tmp / "run.stderr").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            kill(proc, signal.SIGKILL)
            wait_exit(proc, 20)
        err.close()
    assert spent < 5 * AWAY_S / 30, \
        f"sluice used {spent:.1f} s of CPU in the {AWAY_S} s the server was away"
    # while the server was away only whole objects' offsets were committed (none, or some of
    # the first 60,000 records'), never the records that waited
    assert held <= 60_000 and (held < 0 or held % 10_000 == 0), held
    check_exactly_once(s3, bucket, topic, produced)
    assert len(s3.keys(bucket)) == 12


def test_sigkill_with_many_uploads_in_flight_keeps_exactly_once(sluice, kafka, s3, tmp):
    """Uploads run several at a time (s3.upload.concurrency) and finish in any order, yet a
    partition is committed only up to the oldest object not yet stored: 40,000 records over 4
    partitions in objects of 200 (~50 KB, 8 uploads in flight), SIGKILL 4 times at once after
    new objects appeared (mid-way through several PUTs); then every record is in exactly one
    object."""
    topic, pid = uniq("s3many"), uniq("s3m")
    bucket = s3.bucket(uniq("many").lower())
    create_topic(kafka.bootstrap, topic, 4)
    produced = fill(kafka.bootstrap, topic, 0, 40_000, 4, "z" * 200)
    cfg = sink_yaml(tmp, kafka.bootstrap, pid, topic, s3, bucket, flush_size=200,
                    extra="          s3.upload.concurrency: 8\n")
    group = f"sluice.{pid}.s3"
    errs = []

    def start():
        errs.append(open(tmp / f"run{len(errs)}.stderr", "wb"))
        return sluice.spawn("run", cfg, env=s3_env(s3), stderr=errs[-1])

    def objects():
        return len(s3.keys(bucket, f"topics/{topic}/"))

    proc, kills = start(), 0
    try:
        while kills < 4 and not all_committed(kafka.bootstrap, group, topic):
            before = objects()
            wait_until(lambda: objects() >= before + 5 or proc.poll() is not None, scaled(60),
                       interval=0.01, what=f"new objects after kill {kills}")
            assert proc.poll() is None, open(errs[-1].name).read()[-3000:]
            kill(proc, signal.SIGKILL)
            wait_exit(proc, 20)
            kills += 1
            proc = start()
        wait_until(lambda: all_committed(kafka.bootstrap, group, topic) or proc.poll() is not None,
                   scaled(90), interval=0.3, what="every offset committed")
        assert proc.poll() is None, open(errs[-1].name).read()[-3000:]
        kill(proc, signal.SIGTERM)
        assert wait_exit(proc, scaled(30)) == 0, open(errs[-1].name).read()[-3000:]
    finally:
        if proc.poll() is None:
            kill(proc, signal.SIGKILL)
            wait_exit(proc, 20)
        for e in errs:
            e.close()
    assert kills >= 2, f"the run ended after {kills} kills"
    check_exactly_once(s3, bucket, topic, produced)
    assert objects() == 40_000 // 200
