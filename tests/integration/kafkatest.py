"""Helpers for tests (and benchmarks) that check what sluice did in a real Kafka broker, through an
independent client: confluent-kafka (PyPI, with its own bundled librdkafka). Every call is bounded
in time; nothing here starts or stops a broker (see services.py and the `kafka` fixture).

    topic = uniq("orders")
    create_topic(kafka.bootstrap, topic, partitions=3)
    produce(kafka.bootstrap, topic, [(b"k1", b"v1", [("h", b"x")]), (None, b"v2")])
    msgs = consume(kafka.bootstrap, topic, n=2, timeout=30)      # [Msg(partition, offset, key, ...)]
    count(kafka.bootstrap, topic)                                  # records in the topic now
    committed(kafka.bootstrap, group_id("bench-consume", "out"), topic)   # {partition: offset}
"""
import os
import time
import uuid
from collections import namedtuple

from confluent_kafka import (TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

try:  # the integration tests scale their timeouts under the sanitizers
    from sluicetest import scaled
except ImportError:  # pragma: no cover - used from tests/bench without sluicetest on the path
    def scaled(seconds):
        return seconds * float(os.environ.get("SLUICE_TIMEOUT_SCALE", "1"))

#: One message read back: timestamp in ms since the epoch (None when the broker has none),
#: headers as a list of (name, bytes) pairs ([] when there are none).
Msg = namedtuple("Msg", "partition offset key value headers timestamp")


def uniq(prefix="t"):
    """A topic (or group, pipeline) name of the test's own: a session's broker is shared."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def group_id(pipeline, sink):
    """The consumer group of a sluice sink: sluice.<pipeline id>.<sink id>."""
    return f"sluice.{pipeline}.{sink}"


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def partitions_of(bootstrap, topic, timeout=20):
    """Number of partitions of topic, or None while the broker does not know it."""
    md = admin(bootstrap).list_topics(topic=topic, timeout=timeout)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        return None
    return len(t.partitions)


def create_topic(bootstrap, topic, partitions=1, config=None, timeout=60):
    """Creates topic (replication factor 1) and waits until its metadata shows every partition."""
    a = admin(bootstrap)  # the futures need their client alive
    fs = a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1,
                                   config=config or {})], request_timeout=30)
    for f in fs.values():
        f.result(timeout=scaled(timeout))
    deadline = time.monotonic() + scaled(timeout)
    while partitions_of(bootstrap, topic) != partitions:
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic} does not show {partitions} partitions")
        time.sleep(0.1)
    return topic


def _record(r):
    """(key, value, headers) from a tuple of 1 to 3 items or a bare value."""
    if isinstance(r, (bytes, str)) or r is None:
        return None, r, None
    r = tuple(r)
    if len(r) == 1:
        return None, r[0], None
    if len(r) == 2:
        return r[0], r[1], None
    return r[0], r[1], r[2]


def produce(bootstrap, topic, records, partition=None, timeout=60, **conf):
    """Produces records — (key, value, headers) tuples (key/headers may be None or left out) or
    bare values — idempotently with acks=all, flushes, and returns the (partition, offset) of each
    in the order given. partition: all records to that partition (default: the key's hash)."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5,
                  **conf})
    done, errors = {}, []

    def report(i):
        def cb(err, msg):
            if err is not None:
                errors.append(f"record {i}: {err}")
            else:
                done[i] = (msg.partition(), msg.offset())
        return cb

    n = 0
    deadline = time.monotonic() + scaled(timeout)
    for i, r in enumerate(records):
        key, value, headers = _record(r)
        kw = {}
        if key is not None:
            kw["key"] = key
        if headers:
            kw["headers"] = list(headers.items()) if isinstance(headers, dict) else list(headers)
        if partition is not None:
            kw["partition"] = partition
        while True:
            try:
                p.produce(topic, value=value, on_delivery=report(i), **kw)
                break
            except BufferError:  # local queue full: serve delivery reports, then try again
                if time.monotonic() > deadline:
                    raise TimeoutError(f"producing to {topic}: queue full for {timeout} s")
                p.poll(0.1)
        p.poll(0)
        n += 1
    left = p.flush(max(1.0, deadline - time.monotonic()))
    if left or errors:
        raise KafkaException(f"{left} of {n} records to {topic} not delivered in time; "
                             f"errors: {errors[:5]}")
    return [done[i] for i in range(n)]


def watermarks(bootstrap, topic, timeout=20):
    """{partition: (low, high)} of every partition of topic."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": uniq("sluice-check"),
                  "enable.auto.commit": False})
    try:
        t = c.list_topics(topic, timeout=timeout).topics[topic]
        if t.error is not None:
            raise KafkaException(t.error)
        return {p: tuple(c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout))
                for p in sorted(t.partitions)}
    finally:
        c.close()


def end_offsets(bootstrap, topic, timeout=20):
    """{partition: high watermark} (the offset the next record will get)."""
    return {p: hi for p, (_, hi) in watermarks(bootstrap, topic, timeout).items()}


def count(bootstrap, topic, timeout=20):
    """Records now in topic (sum over partitions of high - low watermark)."""
    return sum(hi - lo for lo, hi in watermarks(bootstrap, topic, timeout).values())


def consume(bootstrap, topic, n=None, timeout=60):
    """Reads topic from the beginning of every partition, without a consumer group, until n
    messages are read (n=None: up to the high watermarks seen when called) or timeout seconds pass,
    and returns what it read as Msg sorted by (partition, offset). The caller checks the length:
    fewer than n means they did not arrive in time."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": uniq("sluice-check"),
                  "enable.auto.commit": False, "enable.partition.eof": False,
                  "fetch.max.bytes": 16 * 1024 * 1024})
    deadline = time.monotonic() + scaled(timeout)
    out = []
    try:
        marks = None
        while marks is None:
            t = c.list_topics(topic, timeout=20).topics.get(topic)
            if t is not None and t.error is None and t.partitions:
                marks = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=20)
                         for p in sorted(t.partitions)}
            elif time.monotonic() > deadline:
                return out
            else:
                time.sleep(0.2)
        if n is None:
            todo = {p for p, (lo, hi) in marks.items() if hi > lo}
            if not todo:
                return out
        c.assign([TopicPartition(topic, p, lo) for p, (lo, _) in marks.items()])
        while time.monotonic() < deadline:
            for m in c.consume(10000, timeout=0.5):
                if m.error():
                    raise KafkaException(m.error())
                p = m.partition()
                if n is None and m.offset() >= marks[p][1]:
                    continue
                ts_type, ts = m.timestamp()
                out.append(Msg(p, m.offset(), m.key(), m.value(), m.headers() or [],
                               None if ts_type == TIMESTAMP_NOT_AVAILABLE else ts))
                if n is None and m.offset() + 1 >= marks[p][1]:
                    todo.discard(p)
            if (n is not None and len(out) >= n) or (n is None and not todo):
                break
    finally:
        c.close()
    out.sort(key=lambda r: (r.partition, r.offset))
    return out


def committed(bootstrap, group, topic, timeout=30):
    """{partition: offset committed by group} for every partition of topic; a negative offset
    means the group committed nothing for that partition."""
    parts = sorted(end_offsets(bootstrap, topic))
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in parts], timeout=scaled(timeout))
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def wait_count(bootstrap, topic, n, timeout=60, interval=0.2):
    """Waits until topic holds at least n records; returns the count (raises TimeoutError)."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        got = count(bootstrap, topic)
        if got >= n:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{topic} holds {got} records after {timeout} s, want {n}")
        time.sleep(interval)
