"""Kafka mode against a real Apache Kafka broker (tests/services/kafka.sh), every result checked with
an independent client (confluent-kafka): file → Kafka, Kafka → file with consumer groups, the JSON
converter's envelope both ways, dead-letter topics with Kafka Connect's context headers, crashes of
sluice and an outage of the broker (at-least-once, nothing lost), topic creation, positions in a
compacted topic, lint of the kafka: block, and a broker that is not there at start.

The small confluent-kafka helpers below are private to this module (tests/integration/kafkatest.py
did not exist when it was written)."""
import json
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import namedtuple
from pathlib import Path

import pytest

from sluicetest import (check_at_least_once, file_size, kill, line, scaled, wait_exit, wait_until,
                        write_lines, write_yaml)

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic


# -- confluent-kafka helpers ---------------------------------------------------------------------

Rec = namedtuple("Rec", "partition offset key value headers")


def uniq(prefix):
    """A topic / pipeline name of its own: the session broker is shared by every test."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap, topic, partitions=1, config=None):
    a = admin(bootstrap)  # the futures need their client alive
    fs = a.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config or {})],
        request_timeout=30)
    for f in fs.values():
        f.result(timeout=60)
    # metadata may lag the creation by a moment
    wait_until(lambda: partitions_of(bootstrap, topic) == partitions, 30,
               interval=0.2, what=f"topic {topic} to show {partitions} partitions")


def partitions_of(bootstrap, topic):
    """Number of partitions of topic, or None when the broker does not know it."""
    md = admin(bootstrap).list_topics(topic=topic, timeout=20)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        return None
    return len(t.partitions)


def topic_exists(bootstrap, topic):
    md = admin(bootstrap).list_topics(timeout=20)
    return topic in md.topics


def topic_config(bootstrap, topic):
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    a = admin(bootstrap)  # the future needs its client alive
    fut = a.describe_configs([res], request_timeout=30)[res]
    return {k: v.value for k, v in fut.result(timeout=60).items()}


def produce(bootstrap, topic, records, **conf):
    """records: iterable of dicts (value, key, headers, partition). Returns (partition, offset) of
    each record, from the delivery reports, in order."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5,
                  **conf})
    results = []

    def dr(i):
        def cb(err, msg):
            assert err is None, f"delivery of record {i} failed: {err}"
            results.append((i, msg.partition(), msg.offset()))
        return cb

    n = 0
    for i, r in enumerate(records):
        kw = {k: r[k] for k in ("key", "headers", "partition") if r.get(k) is not None}
        while True:
            try:
                p.produce(topic, value=r["value"], on_delivery=dr(i), **kw)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
        n += 1
    left = p.flush(scaled(60))
    assert left == 0, f"{left} records not delivered to {topic}"
    assert len(results) == n
    return [(pt, off) for _, pt, off in sorted(results)]


def end_offsets(bootstrap, topic):
    """{partition: high watermark}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": uniq("check"),
                  "enable.auto.commit": False})
    try:
        md = c.list_topics(topic, timeout=20)
        t = md.topics[topic]
        assert t.error is None, f"topic {topic}: {t.error}"
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=20)[1]
                for p in sorted(t.partitions)}
    finally:
        c.close()


def total(bootstrap, topic):
    return sum(end_offsets(bootstrap, topic).values())


def consume_all(bootstrap, topic, timeout=120):
    """Every record of every partition, from the start to the high watermark read when called,
    as a list of Rec sorted by (partition, offset). Bounded by timeout."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": uniq("check"),
                  "enable.auto.commit": False, "enable.partition.eof": False,
                  "fetch.max.bytes": 16 * 1024 * 1024})
    try:
        md = c.list_topics(topic, timeout=20)
        t = md.topics[topic]
        assert t.error is None, f"topic {topic}: {t.error}"
        marks = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=20)
                 for p in sorted(t.partitions)}
        todo = {p for p, (lo, hi) in marks.items() if hi > lo}
        if not todo:
            return []
        c.assign([TopicPartition(topic, p, marks[p][0]) for p in todo])
        out = []
        deadline = time.monotonic() + scaled(timeout)
        while todo:
            assert time.monotonic() < deadline, \
                f"reading {topic} took over {scaled(timeout)} s; {len(out)} records read"
            for m in c.consume(10000, timeout=1.0):
                if m.error():
                    raise KafkaException(m.error())
                p = m.partition()
                if m.offset() < marks[p][1]:
                    out.append(Rec(p, m.offset(), m.key(), m.value(), m.headers() or []))
                if m.offset() + 1 >= marks[p][1]:
                    todo.discard(p)
        out.sort(key=lambda r: (r.partition, r.offset))
        return out
    finally:
        c.close()


def committed(bootstrap, group, topic):
    """{partition: committed offset of group} (negative: nothing committed)."""
    parts = sorted(end_offsets(bootstrap, topic))
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in parts], timeout=30)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


# -- sluice helpers ------------------------------------------------------------------------------

def kafka_yaml(bootstrap, offsets, pipelines, extra_top=""):
    return f"""version: 1
kafka:
  bootstrap.servers: {bootstrap}
offset.storage.file.filename: {offsets}
{extra_top}pipelines:
{pipelines}"""


def input_values(count, start=0):
    """The record values the file source makes of sluicetest's lines (without the newline)."""
    return [line(i)[:-1].encode() for i in range(start, start + count)]


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


class Running:
    """A spawned `sluice run` whose stderr (and optionally stdout) go to files, so the test can
    watch its log while it runs."""

    def __init__(self, sluice, cfg, tmp, name="run", args=("--quiet",), stdout=False):
        self.log = Path(tmp) / f"{name}.log"
        self.out = Path(tmp) / f"{name}.stdout"
        self._errf = open(self.log, "wb")
        self._outf = open(self.out, "wb") if stdout else None
        self.proc = sluice.spawn("run", *args, cfg, stderr=self._errf,
                                 stdout=self._outf if stdout else subprocess.DEVNULL)

    def text(self):
        return self.log.read_text(errors="replace")

    def stdout(self):
        return self.out.read_text(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def wait_log(self, needle, timeout, what=None):
        def seen():
            if needle in self.text():
                return True
            assert self.alive(), \
                f"sluice exited ({self.proc.returncode}) before logging {needle!r}:\n{self.text()}"
            return False
        wait_until(seen, timeout, interval=0.1, what=what or f"log line {needle!r}")

    def wait(self, predicate, timeout, what):
        def ok():
            if predicate():
                return True
            assert self.alive(), \
                f"sluice exited ({self.proc.returncode}) while waiting for {what}:\n{self.text()}"
            return False
        wait_until(ok, timeout, interval=0.1, what=what)

    def term(self, timeout=30):
        """SIGTERM, then the exit code (bounded)."""
        kill(self.proc, signal.SIGTERM)
        return self.finish(timeout)

    def finish(self, timeout):
        try:
            return wait_exit(self.proc, timeout)
        finally:
            self.close()

    def sigkill(self):
        kill(self.proc, signal.SIGKILL)
        self.proc.wait()
        self.close()

    def close(self):
        for f in (self._errf, self._outf):
            if f and not f.closed:
                f.close()


def _cleanup(runs):
    for r in runs:
        if r.alive():
            r.sigkill()


@pytest.fixture
def runs():
    """Spawned sluices of the test; whatever is still running at the end is killed."""
    lst = []
    yield lst
    _cleanup(lst)


def offsets_position(offsets_path, pid):
    doc = json.loads(Path(offsets_path).read_text())
    entry = doc["pipelines"][pid]
    return json.loads(entry["position"])


# -- 1. file → Kafka -----------------------------------------------------------------------------

N_LINES = 100_000


@pytest.mark.tsan
@pytest.mark.parametrize("partitions", [1, 3])
def test_file_to_kafka_exact_and_resumed(sluice, kafka, tmp, partitions):
    """A source-only pipeline puts 100,000 lines into a topic and exits 0 by itself; a foreign
    client reads exactly those lines byte for byte (global order with one partition; with three
    and null keys, the union is the input and each partition keeps the input's order). The
    offsets file holds the end position; a second run adds nothing."""
    topic, pid = uniq("f2k"), uniq("p")
    src = tmp / "in.txt"
    size = write_lines(src, N_LINES)
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(kafka.bootstrap, tmp / "offsets.json", f"""\
  - id: {pid}
    topic: {topic}
    topic.creation.default.partitions: {partitions}
    key.converter: string
    value.converter: string
    producer.override.linger.ms: 5
    source: {{plugin: file, config: {{file: {src}, follow: false}}}}
"""))
    t0 = time.monotonic()
    r = sluice.run("run", "--quiet", cfg, timeout=120)
    took = time.monotonic() - t0
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr}"

    assert partitions_of(kafka.bootstrap, topic) == partitions
    recs = consume_all(kafka.bootstrap, topic)
    want = input_values(N_LINES)
    assert len(recs) == N_LINES, f"topic holds {len(recs)} records, expected {N_LINES}"
    assert all(rc.key is None for rc in recs), "a source record without key got one"
    if partitions == 1:
        got = [rc.value for rc in recs]
        if got != want:
            i = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
            raise AssertionError(f"record {i} is {got[i]!r}, expected {want[i]!r}")
    else:
        assert sorted(rc.value for rc in recs) == want, "the topic's records are not the input"
        index = {v: i for i, v in enumerate(want)}
        used = set()
        for p in range(partitions):
            seq = [index[rc.value] for rc in recs if rc.partition == p]
            used.add(p if seq else None)
            assert seq == sorted(seq), f"partition {p} does not keep the input's order"
        # null keys spread over the partitions (librdkafka's sticky partitioner): all used
        assert used == set(range(partitions)), f"only partitions {used} received records"

    pos = offsets_position(tmp / "offsets.json", pid)
    assert pos["position"] == size and pos["file"] == str(src), pos

    # a second run resumes at the end: nothing more in the topic
    before = end_offsets(kafka.bootstrap, topic)
    r2 = sluice.run("run", "--quiet", cfg, timeout=60)
    assert r2.returncode == 0, f"second run: exit {r2.returncode}\n{r2.stderr}"
    assert end_offsets(kafka.bootstrap, topic) == before, "the second run produced records again"
    print(f"{N_LINES} lines into {partitions} partition(s) in {took:.1f} s")


# -- 2. Kafka → file -----------------------------------------------------------------------------

def sink_pipeline(pid, topic, sinks, converters="    key.converter: string\n"
                  "    value.converter: string\n"):
    return f"""\
  - id: {pid}
    topic: {topic}
{converters}    sinks:
{sinks}"""


FAST_GROUP = """        consumer.override.session.timeout.ms: 6000
        consumer.override.heartbeat.interval.ms: 1000
"""


@pytest.mark.tsan
def test_kafka_to_file_keys_headers_commit_restart(sluice, kafka, tmp, runs):
    """Records produced by confluent-kafka with keys and headers to a 1-partition topic: a
    sink-only pipeline writes every value to a file in order, and a console sink shows each one's
    key, headers, partition and offset. SIGTERM → exit 0 and the committed offsets of both groups
    equal the end offsets; a restart writes only what was produced since."""
    topic, pid = uniq("k2f"), uniq("p")
    create_topic(kafka.bootstrap, topic, 1)
    n = 2000
    vals = input_values(n)
    recs = [{"value": v, "key": f"key-{i}".encode(),
             "headers": [("n", str(i).encode()), ("origin", b"python")]}
            for i, v in enumerate(vals)]
    where = produce(kafka.bootstrap, topic, recs)
    out = tmp / "out.txt"
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(kafka.bootstrap, tmp / "offsets.json",
                                                sink_pipeline(pid, topic, f"""\
      - id: out
        plugin: file
        config: {{file: {out}}}
{FAST_GROUP}      - id: show
        plugin: console
        config: {{print.key: true, print.headers: true, print.metadata: true}}
{FAST_GROUP}""")))
    run = Running(sluice, cfg, tmp, "first", stdout=True)
    runs.append(run)
    run.wait(lambda: count_lines(out) >= n and count_lines(run.out) >= n, 60,
             f"{n} lines in {out} and on stdout")
    rc = run.term()
    assert rc == 0, f"SIGTERM: exit {rc}\n{run.text()}"

    assert out.read_bytes() == b"".join(v + b"\n" for v in vals), \
        "the file sink's output is not the produced values, once each, in order"
    shown = [json.loads(x) for x in run.stdout().splitlines() if x.strip()]
    assert len(shown) == n, f"console printed {len(shown)} lines, expected {n}"
    for i, s in enumerate(shown):
        assert s["topic"] == topic and (s["partition"], s["offset"]) == where[i], s
        assert s["key"] == f"key-{i}" and s["value"] == vals[i].decode(), s
        assert s["headers"] == {"n": str(i), "origin": "python"}, s
        assert isinstance(s["timestamp"], int) and s["timestamp"] > 1_600_000_000_000, s

    ends = end_offsets(kafka.bootstrap, topic)
    for sink in ("out", "show"):
        group = f"sluice.{pid}.{sink}"
        assert committed(kafka.bootstrap, group, topic) == ends, \
            f"group {group} committed {committed(kafka.bootstrap, group, topic)}, end {ends}"

    # restart: nothing old again, only the new records
    more = input_values(10, start=n)
    produce(kafka.bootstrap, topic, [{"value": v, "key": b"k"} for v in more])
    run2 = Running(sluice, cfg, tmp, "second", stdout=True)
    runs.append(run2)
    run2.wait(lambda: count_lines(out) >= n + 10 and count_lines(run2.out) >= 10, 60,
              "the 10 new records")
    time.sleep(scaled(2))  # room for anything that should not come
    rc = run2.term()
    assert rc == 0, f"SIGTERM (second run): exit {rc}\n{run2.text()}"
    assert out.read_bytes() == b"".join(v + b"\n" for v in vals + more), \
        "the restart wrote old records again (or lost new ones)"
    assert [json.loads(x)["value"] for x in run2.stdout().splitlines()] == \
        [v.decode() for v in more]


ASSIGNED = re.compile(r"\[([^\]/]+)/([^\]#]+)#(\d+)\] assigned partitions \[([0-9,]*)\] of '([^']+)'")
REVOKED = re.compile(r"\[([^\]/]+)/([^\]#]+)#(\d+)\] partitions \[([0-9,]*)\] of '([^']+)' revoked")


def final_assignment(log, sink):
    """{task: set of partitions} at the end of the log (eager or cooperative rebalances)."""
    held = {}
    for ln in log.splitlines():
        for rx, add in ((ASSIGNED, True), (REVOKED, False)):
            m = rx.search(ln)
            if m and m.group(2) == sink:
                parts = {int(x) for x in m.group(4).split(",") if x}
                task = int(m.group(3))
                s = held.setdefault(task, set())
                if add:
                    s |= parts
                else:
                    s -= parts
    return held


PROGRESS_OUT = re.compile(r"\| out ((?:\S+=\d+ ?)+)\|")


@pytest.mark.tsan
def test_kafka_to_file_two_tasks_three_partitions(sluice, kafka, tmp, runs):
    """tasks.max 2 over 3 partitions: both tasks of the group get partitions (the log says so) and
    both write records (the progress line counts them per task); every record — those produced
    before the start and those produced once both tasks hold partitions — lands in the file
    exactly once with each partition's order kept, and the group's committed offsets reach the
    end."""
    topic, pid = uniq("k2f3"), uniq("p")
    create_topic(kafka.bootstrap, topic, 3)
    n1, n2 = 20_000, 10_000
    n = n1 + n2
    vals = input_values(n)
    where = produce(kafka.bootstrap, topic,
                    [{"value": v, "key": f"k{i}".encode()} for i, v in enumerate(vals[:n1])])
    assert {p for p, _ in where} == {0, 1, 2}
    out = tmp / "out.txt"
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(kafka.bootstrap, tmp / "offsets.json",
                                                sink_pipeline(pid, topic, f"""\
      - id: out
        plugin: file
        config: {{file: {out}}}
        tasks.max: 2
{FAST_GROUP}""")))
    run = Running(sluice, cfg, tmp, "run", args=())  # progress lines and the assignment log
    runs.append(run)

    def both_assigned():
        held = final_assignment(run.text(), "out")
        return len(held) == 2 and all(held.values())
    run.wait(both_assigned, 60, "both tasks to hold partitions")
    where += produce(kafka.bootstrap, topic, [{"value": v, "key": f"k{i}".encode()}
                                              for i, v in enumerate(vals[n1:], start=n1)])
    run.wait(lambda: count_lines(out) >= n, 90, f"{n} lines in {out}")
    time.sleep(scaled(1))  # room for duplicates, if any were coming
    rc = run.term()
    assert rc == 0, f"SIGTERM: exit {rc}\n{run.text()}"
    log = run.text()

    held = final_assignment(log.split("SIGTERM")[0], "out")
    assert set(held) == {0, 1}, f"tasks seen: {held}\n{log}"
    assert held[0] and held[1] and not (held[0] & held[1]) and held[0] | held[1] == {0, 1, 2}, \
        f"final assignment {held}"
    progress = [m.group(1) for m in PROGRESS_OUT.finditer(log)]
    assert progress, f"no progress line:\n{log}"
    counts = dict(kv.split("=") for kv in progress[-1].split())
    assert set(counts) == {"out", "out#1"}, progress[-1]
    assert all(int(c) > 0 for c in counts.values()), f"a task wrote nothing: {progress[-1]}"
    assert sum(int(c) for c in counts.values()) == n, progress[-1]

    got = out.read_bytes().split(b"\n")[:-1]
    assert len(got) == n, f"{len(got)} lines written for {n} records (duplicates or losses)"
    assert sorted(got) == sorted(vals), "the file's lines are not the produced records"
    by_value = {v: w for v, w in zip(vals, where)}
    for p in range(3):
        offs = [by_value[v][1] for v in got if by_value[v][0] == p]
        assert offs == sorted(offs), f"partition {p}'s records are out of order in the file"
    group = f"sluice.{pid}.out"
    assert committed(kafka.bootstrap, group, topic) == end_offsets(kafka.bootstrap, topic)


# -- 3. JSON converter: the envelope both ways ---------------------------------------------------

@pytest.mark.asan
@pytest.mark.tsan
def test_json_written_by_sluice(sluice, kafka, tmp):
    """The file source with format: json emits schemaless values: with schemas.enable false the
    topic holds plain JSON, with schemas.enable true Kafka Connect's schemaless envelope
    {"schema":null,"payload":…}."""
    objs = [{"id": 1, "name": "a", "tags": ["x", "y"]},
            {"id": 2 ** 62, "name": "ü \"quoted\"", "nested": {"ok": True, "v": 1.5}},
            {"id": 3, "name": None}]
    src = tmp / "in.jsonl"
    src.write_text("".join(json.dumps(o) + "\n" for o in objs))
    plain, env = uniq("jplain"), uniq("jenv")
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(kafka.bootstrap, tmp / "offsets.json", f"""\
  - id: {plain}
    topic: {plain}
    value.converter: json
    value.converter.schemas.enable: false
    source: {{plugin: file, config: {{file: {src}, format: json, follow: false}}}}
  - id: {env}
    topic: {env}
    value.converter: json
    source: {{plugin: file, config: {{file: {src}, format: json, follow: false}}}}
"""))
    r = sluice.run("run", "--quiet", cfg, timeout=60)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr}"
    got = consume_all(kafka.bootstrap, plain)
    assert [json.loads(x.value) for x in got] == objs
    assert all(x.key is None for x in got)
    got = consume_all(kafka.bootstrap, env)
    assert [json.loads(x.value) for x in got] == [{"schema": None, "payload": o} for o in objs]


ENV_SCHEMA = {
    "type": "struct", "optional": False, "name": "x",
    "fields": [
        {"type": "int64", "optional": False, "field": "id"},
        {"type": "string", "optional": False, "field": "name"},
        {"type": "string", "optional": True, "field": "note"},
        {"type": "int32", "optional": True, "field": "qty"},
        {"type": "boolean", "optional": False, "field": "ok"},
        {"type": "double", "optional": True, "field": "price"},
    ],
}
ENV_PAYLOADS = [
    {"id": 2 ** 62 + 1, "name": "first", "note": "n1", "qty": 3, "ok": True, "price": 1.25},
    {"id": -(2 ** 63), "name": "ü \"q\" \\ tab\t", "note": None, "qty": None, "ok": False,
     "price": None},
    {"id": 7, "name": "absent optionals", "ok": True},
]
# what the payload form of each is (absent optional fields are null)
ENV_EXPECTED = [
    ENV_PAYLOADS[0],
    ENV_PAYLOADS[1],
    {"id": 7, "name": "absent optionals", "note": None, "qty": None, "ok": True, "price": None},
]


@pytest.mark.asan
def test_json_envelopes_written_by_python(sluice, kafka, tmp, runs):
    """Kafka Connect envelopes produced by Python (struct with int64, string, optional fields) are
    read by a sink with value.converter json (schemas.enable true) and written as their payload's
    JSON by the file sink and the console sink, in order."""
    topic, pid = uniq("envpy"), uniq("p")
    create_topic(kafka.bootstrap, topic, 1)
    produce(kafka.bootstrap, topic,
            [{"value": json.dumps({"schema": ENV_SCHEMA, "payload": p}).encode(),
              "key": json.dumps({"schema": {"type": "int64", "optional": False},
                                 "payload": i}).encode()}
             for i, p in enumerate(ENV_PAYLOADS)])
    out = tmp / "out.jsonl"
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(kafka.bootstrap, tmp / "offsets.json",
                                                sink_pipeline(pid, topic, f"""\
      - id: file
        plugin: file
        config: {{file: {out}}}
      - id: screen
        plugin: console
""", converters="    key.converter: json\n    value.converter: json\n"
                 "    value.converter.schemas.enable: true\n")))
    run = Running(sluice, cfg, tmp, "run", stdout=True)
    runs.append(run)
    n = len(ENV_PAYLOADS)
    run.wait(lambda: count_lines(out) >= n and count_lines(run.out) >= n, 60,
             "the envelopes in the file and on stdout")
    rc = run.term()
    assert rc == 0, f"SIGTERM: exit {rc}\n{run.text()}"
    assert [json.loads(x) for x in out.read_text().splitlines()] == ENV_EXPECTED
    assert [json.loads(x) for x in run.stdout().splitlines() if x.strip()] == ENV_EXPECTED
    assert "error" not in run.text().lower(), run.text()


# -- 4. dead-letter topic ------------------------------------------------------------------------

DLQ_RECORDS = [
    {"value": b'{"id": 1}', "key": b"k0", "headers": [("h", b"v0")]},
    {"value": b"not json", "key": b"k1", "headers": [("h", b"v1")]},
    {"value": b'{"id": 2}', "key": b"k2", "headers": [("h", b"v2")]},
]


def dlq_setup(kafka, tmp, tolerance):
    topic, pid = uniq("dq"), uniq("p")
    dlq = f"{topic}-dlq"
    create_topic(kafka.bootstrap, topic, 1)
    produce(kafka.bootstrap, topic, DLQ_RECORDS)
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(kafka.bootstrap, tmp / "offsets.json",
                                                sink_pipeline(pid, topic, f"""\
      - id: show
        plugin: console
        errors.tolerance: {tolerance}
        errors.deadletterqueue.topic.name: {dlq}
        errors.deadletterqueue.context.headers.enable: true
""", converters="    key.converter: string\n    value.converter: json\n"
                 "    value.converter.schemas.enable: false\n"
                 # a failure ends the run here (the worker's default restarts the task)
                 + ("    restart.policy: never\n" if tolerance == "none" else ""))))
    return topic, pid, dlq, cfg


@pytest.mark.asan
@pytest.mark.tsan
def test_dlq_with_context_headers(sluice, kafka, tmp, runs):
    """errors.tolerance all: good, "not json", good → the console prints the two good values, the
    dead-letter topic gets the original key, value and headers plus Kafka Connect's
    __connect.errors.* headers, and the sink's committed offset covers all three."""
    topic, pid, dlq, cfg = dlq_setup(kafka, tmp, "all")
    run = Running(sluice, cfg, tmp, "run", stdout=True)
    runs.append(run)
    run.wait(lambda: count_lines(run.out) >= 2 and topic_exists(kafka.bootstrap, dlq)
             and total(kafka.bootstrap, dlq) >= 1, 60, "two printed records and one dead letter")
    group = f"sluice.{pid}.show"
    # the commit happens at offset.flush.interval.ms (1 s) or when idle; at the latest at the stop
    run.wait(lambda: committed(kafka.bootstrap, group, topic) == {0: 3}, 30,
             f"group {group} to commit offset 3 while running")
    rc = run.term()
    assert rc == 0, f"SIGTERM: exit {rc}\n{run.text()}"
    assert [json.loads(x) for x in run.stdout().splitlines() if x.strip()] == [{"id": 1}, {"id": 2}]
    assert committed(kafka.bootstrap, group, topic) == {0: 3}

    dead = consume_all(kafka.bootstrap, dlq)
    assert len(dead) == 1, dead
    d = dead[0]
    assert d.value == b"not json" and d.key == b"k1"
    h = {}
    for k, v in d.headers:
        assert k not in h, f"header {k} twice"
        h[k] = v.decode() if v is not None else None
    assert h.pop("h") == "v1", "the original header is lost"
    msg = h.pop("__connect.errors.exception.message")
    assert "JSON" in msg or "json" in msg, msg
    exc = h.pop("__connect.errors.exception.class.name")
    assert exc.strip(), "empty exception.class.name"
    assert h == {
        "__connect.errors.topic": topic,
        "__connect.errors.partition": "0",
        "__connect.errors.offset": "1",
        "__connect.errors.connector.name": pid,
        "__connect.errors.task.id": "0",
        "__connect.errors.stage": "VALUE_CONVERTER",
        "__connect.errors.class.name": "console",
    }, h


@pytest.mark.asan
@pytest.mark.tsan
def test_tolerance_none_stops_without_committing(sluice, kafka, tmp, runs):
    """errors.tolerance none: the pipeline stops by itself with exit 1 at the undecodable record,
    says why, sends nothing to the dead-letter topic, and the bad record's offset is not
    committed (a restart reads it again)."""
    topic, pid, dlq, cfg = dlq_setup(kafka, tmp, "none")
    run = Running(sluice, cfg, tmp, "run", stdout=True)
    runs.append(run)
    rc = run.finish(60)
    assert rc == 1, f"exit {rc}\n{run.text()}"
    assert "errors.tolerance is none" in run.text() and "VALUE_CONVERTER" in run.text(), run.text()
    printed = [json.loads(x) for x in run.stdout().splitlines() if x.strip()]
    assert {"id": 1} in printed or printed == [], printed
    c = committed(kafka.bootstrap, f"sluice.{pid}.show", topic)
    assert c[0] <= 1, f"the failed record (offset 1) was committed: {c}"
    assert not topic_exists(kafka.bootstrap, dlq) or total(kafka.bootstrap, dlq) == 0


@pytest.mark.asan
def test_tolerance_none_delivers_nothing_past_the_failure(sluice, kafka, tmp, runs):
    """errors.tolerance none stops the sink at the failed record: the good record after it is not
    delivered (printed) either — as in-process, nothing is half-delivered past the failure."""
    topic, pid, dlq, cfg = dlq_setup(kafka, tmp, "none")
    run = Running(sluice, cfg, tmp, "run", stdout=True)
    runs.append(run)
    rc = run.finish(60)
    assert rc == 1, f"exit {rc}\n{run.text()}"
    printed = [json.loads(x) for x in run.stdout().splitlines() if x.strip()]
    assert {"id": 2} not in printed, \
        f"the record after the failed one was delivered although the pipeline stopped: {printed}"


# -- 6. topic creation ---------------------------------------------------------------------------

@pytest.mark.asan
def test_topic_created_with_partitions_and_config(sluice, kafka, tmp):
    """A missing topic is created with topic.creation.default.partitions and any other
    topic.creation.default.<config> as a topic config."""
    topic, pid = uniq("created"), uniq("p")
    src = tmp / "in.txt"
    write_lines(src, 10)
    assert not topic_exists(kafka.bootstrap, topic)
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(kafka.bootstrap, tmp / "offsets.json", f"""\
  - id: {pid}
    topic: {topic}
    value.converter: string
    topic.creation.default.partitions: 3
    topic.creation.default.retention.ms: 3600000
    source: {{plugin: file, config: {{file: {src}, follow: false}}}}
"""))
    r = sluice.run("run", "--quiet", cfg, timeout=60)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr}"
    assert partitions_of(kafka.bootstrap, topic) == 3
    assert topic_config(kafka.bootstrap, topic)["retention.ms"] == "3600000"
    assert sorted(x.value for x in consume_all(kafka.bootstrap, topic)) == input_values(10)


@pytest.mark.asan
def test_topic_creation_disabled_missing_topic(sluice, kafka, tmp):
    """topic.creation.enable: false and a missing topic: exit 2 at once, naming the topic and the
    key; the topic is not created."""
    topic, pid = uniq("missing"), uniq("p")
    src = tmp / "in.txt"
    write_lines(src, 10)
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(kafka.bootstrap, tmp / "offsets.json", f"""\
  - id: {pid}
    topic: {topic}
    value.converter: string
    topic.creation.enable: false
    source: {{plugin: file, config: {{file: {src}, follow: false}}}}
"""))
    t0 = time.monotonic()
    r = sluice.run("run", "--quiet", cfg, timeout=30)
    took = time.monotonic() - t0
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stderr}"
    assert took < scaled(15), f"took {took:.1f} s to give up"
    assert f"'{topic}'" in r.stderr and "topic.creation.enable" in r.stderr, r.stderr
    assert not topic_exists(kafka.bootstrap, topic)
    assert not (tmp / "offsets.json").exists() or \
        pid not in json.loads((tmp / "offsets.json").read_text())["pipelines"]


# -- 7. positions in a compacted topic -----------------------------------------------------------

@pytest.mark.parametrize("storage_topic", ["default", "custom"])
def test_offsets_in_compacted_topic(sluice, kafka, tmp, storage_topic):
    """offsets.storage: kafka: the position goes to offset.storage.topic (default sluice-offsets;
    compacted, key = the pipeline id, value JSON with "position"); a second run from another
    directory (no local state) resumes there and produces nothing new."""
    topic, pid = uniq("o"), uniq("p")
    otopic = "sluice-offsets" if storage_topic == "default" else uniq("my-offsets")
    otopic_key = "" if storage_topic == "default" else f"offset.storage.topic: {otopic}\n"
    src = tmp / "in.txt"
    size = write_lines(src, 5000)
    text = f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
offsets.storage: kafka
{otopic_key}pipelines:
  - id: {pid}
    topic: {topic}
    value.converter: string
    source: {{plugin: file, config: {{file: {src}, follow: false}}}}
"""
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    cfg = write_yaml(tmp / "a" / "p.yaml", text)
    r = sluice.run("run", "--quiet", cfg, timeout=60,
                   env={"XDG_STATE_HOME": str(tmp / "a"), "HOME": str(tmp / "a")})
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr}"
    assert [x.value for x in consume_all(kafka.bootstrap, topic)] == input_values(5000)

    assert topic_config(kafka.bootstrap, otopic)["cleanup.policy"] == "compact"
    recs = [x for x in consume_all(kafka.bootstrap, otopic) if x.key == pid.encode()]
    assert recs, f"no record with key {pid!r} in {otopic}"
    last = json.loads(recs[-1].value)
    pos = json.loads(last["position"])
    assert pos["position"] == size and pos["file"] == str(src), last

    before = end_offsets(kafka.bootstrap, topic)
    cfg2 = write_yaml(tmp / "b" / "p.yaml", text)
    r = sluice.run("run", "--quiet", cfg2, timeout=60,
                   env={"XDG_STATE_HOME": str(tmp / "b"), "HOME": str(tmp / "b")})
    assert r.returncode == 0, f"second run: exit {r.returncode}\n{r.stderr}"
    assert end_offsets(kafka.bootstrap, topic) == before, \
        "the second run did not resume from the position in the offsets topic"


# -- 8. lint of Kafka settings (no broker needed) ------------------------------------------------

LINT_CASES = {
    "unknown-kafka-property": ("  no.such.property: 5\n", "", "", "no.such.property"),
    "invalid-producer-override": ("", "    producer.override.linger.ms: banana\n", "",
                                  "producer.override.linger.ms"),
    "managed-consumer-override": ("", "", "        consumer.override.enable.auto.commit: false\n",
                                  "consumer.override.enable.auto.commit"),
    "offsets-kafka-without-block": (None, "", "", "offsets.storage"),
}


@pytest.mark.asan
@pytest.mark.parametrize("case", sorted(LINT_CASES))
def test_lint_kafka_settings(sluice, tmp, case):
    """`sluice lint` rejects bad Kafka settings with exit 2, file:line:col of the offending key and
    its name."""
    in_kafka, in_pipeline, in_sink, key = LINT_CASES[case]
    src = tmp / "in.txt"
    write_lines(src, 1)
    kafka_block = "" if in_kafka is None else \
        f"kafka:\n  bootstrap.servers: 127.0.0.1:9\n{in_kafka}"
    top = "offsets.storage: kafka\n" if in_kafka is None else \
        f"offset.storage.file.filename: {tmp}/offsets.json\n"
    text = f"""version: 1
{kafka_block}{top}pipelines:
  - id: p1
    topic: t1
    value.converter: string
{in_pipeline}    source: {{plugin: file, config: {{file: {src}, follow: false}}}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp}/out.txt}}
{in_sink}"""
    cfg = write_yaml(tmp / "p.yaml", text)
    lines = text.splitlines()
    short = key.split(".", 2)[-1] if key.startswith(("producer.", "consumer.")) else key
    want_line = next(i + 1 for i, ln in enumerate(lines) if ln.strip().startswith(key + ":"))
    want_col = len(lines[want_line - 1]) - len(lines[want_line - 1].lstrip()) + 1
    r = sluice.run("lint", cfg, timeout=30)
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    errs = [ln for ln in r.stderr.splitlines() if ln.startswith(f"{cfg}:")]
    assert len(errs) == 1, f"expected one error:\n{r.stderr}"
    m = re.match(rf"{re.escape(str(cfg))}:(\d+):(\d+): (.*)", errs[0])
    assert m, errs[0]
    assert short in m.group(3), f"the error does not name {short!r}: {errs[0]}"
    assert (int(m.group(1)), int(m.group(2))) == (want_line, want_col), \
        f"error at {m.group(1)}:{m.group(2)}, the key {key!r} is at {want_line}:{want_col}: " \
        f"{errs[0]}"


# -- 9. no broker at start -----------------------------------------------------------------------

def unreachable_yaml(tmp):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    src = tmp / "in.txt"
    write_lines(src, 10)
    return write_yaml(tmp / "p.yaml", kafka_yaml(f"127.0.0.1:{port}", tmp / "offsets.json", f"""\
  - id: p1
    topic: t1
    value.converter: string
    source: {{plugin: file, config: {{file: {src}, follow: false}}}}
"""))


def test_unreachable_broker_is_waited_for(sluice, tmp, runs):
    """bootstrap.servers on a closed port: sluice keeps waiting (does not exit) and says
    "waiting for Kafka" within a few seconds, and again later."""
    run = Running(sluice, unreachable_yaml(tmp), tmp, "run", args=())
    runs.append(run)
    t0 = time.monotonic()
    run.wait_log("waiting for Kafka", 5)
    first = time.monotonic() - t0
    run.wait(lambda: run.text().count("waiting for Kafka") >= 2, 20,
             "a second 'waiting for Kafka' line")
    assert run.alive()
    rc = run.term(30)
    assert rc == 0, f"exit {rc}\n{run.text()}"
    print(f"first 'waiting for Kafka' after {first:.1f} s")


def test_unreachable_broker_sigterm_exits_promptly(sluice, tmp, runs):
    """While sluice waits for an unreachable broker, SIGTERM ends it with exit 0 within 3 s."""
    run = Running(sluice, unreachable_yaml(tmp), tmp, "run", args=())
    runs.append(run)
    time.sleep(scaled(3))
    assert run.alive(), f"sluice gave up (exit {run.proc.returncode}):\n{run.text()}"
    t0 = time.monotonic()
    kill(run.proc, signal.SIGTERM)
    try:
        rc = run.proc.wait(timeout=scaled(20))
    except subprocess.TimeoutExpired:
        raise AssertionError(f"no exit 20 s after SIGTERM:\n{run.text()}") from None
    took = time.monotonic() - t0
    run.close()
    assert rc == 0, f"exit {rc}\n{run.text()}"
    assert took < scaled(3), f"SIGTERM took {took:.1f} s to end the wait for Kafka\n{run.text()}"


# -- 5. faults: sluice killed, broker away -------------------------------------------------------

class Background(threading.Thread):
    """Runs fn in a thread; join_checked() re-raises what it raised."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.error = fn, None

    def run(self):
        try:
            self.fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            self.error = e

    def join_checked(self, timeout):
        self.join(scaled(timeout))
        assert not self.is_alive(), f"background work did not end within {scaled(timeout)} s"
        if self.error:
            raise self.error


def append_lines_slowly(path, count, start=0, chunk=1000, pause=0.01):
    for s in range(start, start + count, chunk):
        write_lines(path, min(chunk, start + count - s), start=s, mode="a")
        time.sleep(pause)


def tail_is(path, last):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, file_size(path) - len(last)))
            return f.read() == last
    except FileNotFoundError:
        return False


def check_complete_in_order(inp, out):
    """At least once with any number of replays: no line missing, no foreign line, no partial
    line, and the first occurrences keep the input's order. Returns the number of repeats."""
    assert out.endswith(b"\n"), f"output ends with a partial line: {out[-120:]!r}"
    il = inp.split(b"\n")[:-1]
    ol = out.split(b"\n")[:-1]
    index = {v: i for i, v in enumerate(il)}
    foreign = [x for x in ol if x not in index]
    assert not foreign, f"{len(foreign)} lines that were never in the input, e.g. {foreign[0]!r}"
    seen, firsts = set(), []
    for x in ol:
        if x not in seen:
            seen.add(x)
            firsts.append(index[x])
    missing = len(il) - len(seen)
    assert missing == 0, \
        f"{missing} lines lost; first: {next(x for x in il if x not in seen)!r}"
    assert firsts == sorted(firsts), "records overtook each other"
    return len(ol) - len(il)


def test_source_sigkill_mid_stream_at_least_once(sluice, kafka, tmp, runs):
    """SIGKILL of sluice while a following file source streams into Kafka, then a restart: every
    line is in the topic, nothing foreign, in order with at most one replayed stretch."""
    topic, pid = uniq("kill-src"), uniq("p")
    n = 300_000
    src = tmp / "in.txt"
    src.touch()
    offsets = tmp / "offsets.json"
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(kafka.bootstrap, offsets, f"""\
  - id: {pid}
    topic: {topic}
    topic.creation.default.partitions: 1
    key.converter: string
    value.converter: string
    offset.flush.interval.ms: 200ms
    source: {{plugin: file, config: {{file: {src}, follow: true}}}}
"""))
    run = Running(sluice, cfg, tmp, "first")
    runs.append(run)
    run.wait(lambda: topic_exists(kafka.bootstrap, topic), 30, "the topic")
    writer = Background(lambda: append_lines_slowly(src, n))
    writer.start()
    run.wait(lambda: total(kafka.bootstrap, topic) >= 30_000, 60, "30,000 records in Kafka")
    run.sigkill()
    at_kill = total(kafka.bootstrap, topic)
    writer_busy = writer.is_alive()
    writer.join_checked(120)
    assert writer_busy and at_kill < n, \
        f"not mid-stream: {at_kill} records were in Kafka and the input was complete at the kill"

    size = file_size(src)
    run2 = Running(sluice, cfg, tmp, "second")
    runs.append(run2)

    def caught_up():
        try:
            return offsets_position(offsets, pid)["position"] == size
        except (FileNotFoundError, KeyError, ValueError):
            return False
    run2.wait(caught_up, 120, "the position to reach the end of the input")
    rc = run2.term()
    assert rc == 0, f"SIGTERM: exit {rc}\n{run2.text()}"
    recs = consume_all(kafka.bootstrap, topic)
    repeats = check_at_least_once(src.read_bytes(), b"".join(r.value + b"\n" for r in recs))
    print(f"killed with {at_kill} records in Kafka; {repeats} repeated after the restart")


def test_sink_sigkill_mid_stream_at_least_once(sluice, kafka, tmp, runs):
    """SIGKILL of a sink-only sluice while records stream in, then a restart: the output file has
    every record, in order, with at most one replayed stretch, and the group commits the end."""
    topic, pid = uniq("kill-sink"), uniq("p")
    n = 300_000
    create_topic(kafka.bootstrap, topic, 1)
    vals = input_values(n)

    def slow_records():
        for i, v in enumerate(vals):
            if i % 5000 == 4999:
                time.sleep(0.05)
            yield {"value": v}
    producer = Background(lambda: produce(kafka.bootstrap, topic, slow_records()))
    producer.start()
    out = tmp / "out.txt"
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(kafka.bootstrap, tmp / "offsets.json",
                                                sink_pipeline(pid, topic, f"""\
      - id: out
        plugin: file
        config: {{file: {out}}}
        offset.flush.interval.ms: 200ms
{FAST_GROUP}""")))
    run = Running(sluice, cfg, tmp, "first")
    runs.append(run)
    run.wait(lambda: count_lines(out) >= 30_000, 60, "30,000 lines in the output")
    run.sigkill()
    at_kill = count_lines(out)
    producing = producer.is_alive()
    producer.join_checked(120)
    assert producing and at_kill < n, f"not mid-stream: {at_kill} lines out at the kill"

    run2 = Running(sluice, cfg, tmp, "second")
    runs.append(run2)
    last = vals[-1] + b"\n"
    run2.wait(lambda: count_lines(out) >= n and tail_is(out, last), 120, "the last record")
    rc = run2.term()
    assert rc == 0, f"SIGTERM: exit {rc}\n{run2.text()}"
    repeats = check_at_least_once(b"".join(v + b"\n" for v in vals), out.read_bytes())
    assert committed(kafka.bootstrap, f"sluice.{pid}.out", topic) == {0: n}
    print(f"killed with {at_kill} lines out; {repeats} repeated after the restart")


def test_broker_outage_nothing_lost(sluice, kafka_own, tmp, runs):
    """The broker stops for 20 s while a following file source reads a file that grows meanwhile,
    with a file sink in the same pipeline: sluice reports Kafka unreachable, keeps running, and
    once the broker is back every line reaches the output (at least once, in order)."""
    pid = uniq("p")
    src, out = tmp / "in.txt", tmp / "out.txt"
    n1, n2, n3 = 5000, 10_000, 5000
    write_lines(src, n1)
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(kafka_own.bootstrap, tmp / "offsets.json", f"""\
  - id: {pid}
    topic: outage
    topic.creation.default.partitions: 1
    key.converter: string
    value.converter: string
    source: {{plugin: file, config: {{file: {src}, follow: true}}}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {out}}}
{FAST_GROUP}"""))
    run = Running(sluice, cfg, tmp, "run", args=())  # with the progress line (every 5 s)
    runs.append(run)
    run.wait(lambda: count_lines(out) >= n1, 60, "the first lines through Kafka")

    kafka_own.stop()
    down = time.monotonic()
    # the file grows during the outage: 10 chunks over ~15 s
    writer = Background(lambda: append_lines_slowly(src, n2, start=n1, chunk=n2 // 10, pause=1.5))
    writer.start()
    time.sleep(max(0.0, 20 - (time.monotonic() - down)))
    writer.join_checked(60)
    assert run.alive(), f"sluice exited ({run.proc.returncode}) during the outage:\n{run.text()}"
    during = run.text()
    kafka_own.start()
    write_lines(src, n3, start=n1 + n2, mode="a")
    total_lines = n1 + n2 + n3
    last = line(total_lines - 1).encode()
    run.wait(lambda: count_lines(out) >= total_lines and tail_is(out, last), 180,
             "every line after the outage")
    rc = run.term(60)
    assert rc == 0, f"SIGTERM: exit {rc}\n{run.text()}"
    assert re.search(r"kafka unreachable \d+s, \d+ records waiting", during), \
        f"the progress line never said Kafka was unreachable during the outage:\n{during}"
    repeats = check_complete_in_order(src.read_bytes(), out.read_bytes())
    print(f"{repeats} lines repeated across the outage")
