"""The real services themselves, without sluice: the broker of tests/services/kafka.sh answers
confluent-kafka (through kafkatest.py) and kcat, and the schema registry of registry.sh answers the
Confluent REST API. If these fail, every Kafka-mode test fails for a reason that is not sluice's."""
import json
import subprocess
import urllib.request

import kafkatest as kt
from sluicetest import scaled


def kcat(*args, input=None, timeout=60):
    r = subprocess.run(["kcat", *args], input=input, capture_output=True, timeout=scaled(timeout))
    assert r.returncode == 0, f"kcat {' '.join(args)} failed ({r.returncode}): {r.stderr.decode()}"
    return r.stdout


def test_round_trip_with_keys_headers_and_partitions(kafka):
    topic = kt.create_topic(kafka.bootstrap, kt.uniq("svc"), partitions=3)
    recs = [(f"k{i % 7}".encode(), f"value {i}".encode(), [("n", str(i).encode()), ("h", b"x")])
            for i in range(300)]
    recs.append((None, b"no key, no headers"))
    where = kt.produce(kafka.bootstrap, topic, recs)
    assert len(where) == 301

    got = kt.consume(kafka.bootstrap, topic, n=301, timeout=60)
    assert len(got) == 301
    assert {m.partition for m in got} == {0, 1, 2}  # 7 keys over 3 partitions
    by_value = {m.value: m for m in got}
    for (key, value, *rest), (p, off) in zip(recs, where):
        m = by_value[value]
        assert (m.partition, m.offset, m.key) == (p, off, key)
        assert m.headers == (rest[0] if rest else [])
        assert m.timestamp and m.timestamp > 1_600_000_000_000
    for part in (0, 1, 2):  # per partition: produce order, dense offsets
        offs = [m.offset for m in got if m.partition == part]
        assert offs == list(range(len(offs)))
        vals = [m.value for m in got if m.partition == part]
        assert vals == [v for (k, v, *_), (p, _) in zip(recs, where) if p == part]

    assert kt.count(kafka.bootstrap, topic) == 301
    ends = kt.end_offsets(kafka.bootstrap, topic)
    assert sorted(ends) == [0, 1, 2] and sum(ends.values()) == 301
    # without n: exactly what is there now
    assert len(kt.consume(kafka.bootstrap, topic, timeout=30)) == 301
    # and n larger than what is there: what is there, within the timeout
    assert len(kt.consume(kafka.bootstrap, topic, n=302, timeout=3)) == 301


def test_kcat_sees_what_confluent_kafka_wrote_and_back(kafka):
    topic = kt.create_topic(kafka.bootstrap, kt.uniq("svc-kcat"), partitions=2)
    kt.produce(kafka.bootstrap, topic, [(None, f"v{i}".encode()) for i in range(50)], partition=1)

    meta = kcat("-b", kafka.bootstrap, "-L", "-t", topic).decode()
    assert f'topic "{topic}" with 2 partitions' in meta, meta

    offs = kcat("-C", "-b", kafka.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
                "-f", "%o\n").decode().split()
    assert len(offs) == 50 and sorted(map(int, offs)) == list(range(50))

    kcat("-P", "-b", kafka.bootstrap, "-t", topic, "-p", "0", "-K", ":",
         input=b"".join(b"key%d:from kcat %d\n" % (i, i) for i in range(20)))
    assert kt.count(kafka.bootstrap, topic) == 70
    got = [m for m in kt.consume(kafka.bootstrap, topic, n=70) if m.partition == 0]
    assert [(m.key, m.value) for m in got] == \
        [(b"key%d" % i, b"from kcat %d" % i) for i in range(20)]


def test_committed_offsets_of_a_group(kafka):
    from confluent_kafka import Consumer, TopicPartition
    topic = kt.create_topic(kafka.bootstrap, kt.uniq("svc-group"), partitions=2)
    kt.produce(kafka.bootstrap, topic, [b"a", b"b", b"c"], partition=0)
    group = kt.group_id(kt.uniq("pipe"), "out")
    assert group.startswith("sluice.pipe-") and group.endswith(".out")
    assert all(o < 0 for o in kt.committed(kafka.bootstrap, group, topic).values())

    c = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
    finally:
        c.close()
    got = kt.committed(kafka.bootstrap, group, topic)
    assert got[0] == 2 and got[1] < 0


def test_schema_registry_answers_the_confluent_api(schema_registry):
    schema = {"type": "record", "name": "Reading", "namespace": "svc",
              "fields": [{"name": "luz", "type": "int"}]}
    body = json.dumps({"schema": json.dumps(schema)}).encode()
    subject = kt.uniq("svc") + "-value"
    req = urllib.request.Request(f"{schema_registry.url}/subjects/{subject}/versions", data=body,
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    with urllib.request.urlopen(req, timeout=scaled(30)) as r:
        sid = json.load(r)["id"]
    with urllib.request.urlopen(f"{schema_registry.url}/schemas/ids/{sid}", timeout=scaled(30)) as r:
        assert json.loads(json.load(r)["schema"]) == schema
    with urllib.request.urlopen(f"{schema_registry.url}/subjects", timeout=scaled(30)) as r:
        assert subject in json.load(r)
