"""The avro converter over a real Kafka broker and a real schema registry (Apicurio's Confluent API):
what sluice produces decodes with fastavro against the schema fetched from the registry by the id
in each message; what Python's confluent-kafka AvroSerializer produces is read by a sluice sink."""
import datetime
import decimal
import io
import json
import struct
import time
import urllib.request

import fastavro
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

import kafkatest
from sluicetest import build_dir, scaled, write_yaml

EPOCH_DAY = datetime.date(1970, 1, 1)


def plugin_env():
    return {"SLUICE_PLUGIN_PATH": str(build_dir() / "tests" / "plugins")}


def avro_pipeline(tmp, kafka, registry, topic, body):
    """A Kafka-mode file with one pipeline on `topic`: string keys, avro values, then `body`."""
    return write_yaml(tmp / "p.yaml", f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
schema.registry:
  url: {registry.url}
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: {topic}
    topic: {topic}
    key.converter: string
    value.converter: avro
{body}""")


def registry_schema(url, sid):
    with urllib.request.urlopen(f"{url}/schemas/ids/{sid}", timeout=30) as resp:
        return json.loads(json.loads(resp.read())["schema"])


def assert_typed(v, i, zip_from=None):
    """`v` is the typed source's value i (inner.zip from record `zip_from` on, when given)."""
    assert v["i8"] == i % 100 - 50 and v["i16"] == -i and v["i32"] == i * 1000
    assert v["i64"] == 2 ** 40 + i
    assert v["f32"] == pytest.approx(i + 0.5) and v["f64"] == i / 4
    assert v["ok"] is (i % 2 == 0) and v["name"] == f"name-{i}"
    assert v["raw"] == bytes([i % 256, 1, 2])
    assert v["note"] == (None if i % 3 == 0 else f"note-{i}")
    assert v["price"] == decimal.Decimal(100 * i + 5).scaleb(-2)
    assert v["day"] == EPOCH_DAY + datetime.timedelta(days=19000 + i)
    assert v["tod"] == (datetime.datetime(2000, 1, 1) +
                        datetime.timedelta(milliseconds=i * 1000)).time()
    ts = datetime.datetime.fromtimestamp((1700000000000 + i) / 1000, datetime.timezone.utc)
    assert v["ts"] == ts
    assert v["tags"] == [f"t{i}", "x"] and v["attrs"] == {"a": i, "b": -i}
    inner = None if i % 4 == 0 else {"city": f"c{i}"}
    if inner is not None and zip_from is not None:
        inner["zip"] = f"z{i}" if i >= zip_from else None
    assert v["inner"] == inner, (i, v["inner"])


def test_sluice_avro_in_kafka_decodes_with_fastavro(sluice, kafka, schema_registry, tmp):
    """The typed fixture source (every Connect type) → value.converter avro → Kafka. Each message
    is Confluent-framed (0x00 + schema id); the schema the registry gives for that id decodes it
    with fastavro to the values the source made; the key is the string "k<i>"."""
    n = 300
    topic = kafkatest.uniq("avro-out")
    cfg = avro_pipeline(tmp, kafka, schema_registry, topic, f"""    source:
      plugin: typed
      config: {{count: {n}}}
""")
    r = sluice.run("run", "--quiet", cfg, timeout=scaled(90), env=plugin_env())
    assert r.returncode == 0, r.stderr
    msgs = kafkatest.consume(kafka.bootstrap, topic, n=n, timeout=60)
    assert len(msgs) == n, f"{len(msgs)} of {n} records in {topic}"
    ids = set()
    schemas = {}
    for i, m in enumerate(msgs):
        assert m.key == f"k{i}".encode()
        magic, sid = struct.unpack(">bI", m.value[:5])
        assert magic == 0, m.value[:8]
        ids.add(sid)
        if sid not in schemas:
            schemas[sid] = fastavro.parse_schema(registry_schema(schema_registry.url, sid))
        v = fastavro.schemaless_reader(io.BytesIO(m.value[5:]), schemas[sid])
        assert_typed(v, i)
    assert len(ids) == 1, f"one schema for one shape, got ids {ids}"
    with urllib.request.urlopen(f"{schema_registry.url}/subjects", timeout=30) as resp:
        assert f"{topic}-value" in json.loads(resp.read())


def test_schema_changed_in_place_mid_stream(sluice, kafka, schema_registry, tmp):
    """The typed source adds a field to its inner struct's schema in place (the same object the
    converter has used, deep under the value's schema) before record 200: the records before it
    carry the first schema's id, those after a second one, the registry ends with both versions,
    and each record decodes with fastavro by its own id (a converter that kept the first id would
    make the later records undecodable or lose `zip`)."""
    n, at = 300, 200
    topic = kafkatest.uniq("avro-evolve")
    cfg = avro_pipeline(tmp, kafka, schema_registry, topic, f"""    source:
      plugin: typed
      config: {{count: {n}, evolve.at: {at}}}
""")
    r = sluice.run("run", "--quiet", cfg, timeout=scaled(90), env=plugin_env())
    assert r.returncode == 0, r.stderr
    msgs = kafkatest.consume(kafka.bootstrap, topic, n=n, timeout=60)
    assert len(msgs) == n, f"{len(msgs)} of {n} records in {topic}"
    ids = []
    schemas = {}
    for i, m in enumerate(msgs):
        assert m.key == f"k{i}".encode()
        magic, sid = struct.unpack(">bI", m.value[:5])
        assert magic == 0, m.value[:8]
        ids.append(sid)
        if sid not in schemas:
            schemas[sid] = fastavro.parse_schema(registry_schema(schema_registry.url, sid))
        v = fastavro.schemaless_reader(io.BytesIO(m.value[5:]), schemas[sid])
        if i < at:
            assert "zip" not in (v["inner"] or {}), (i, v["inner"])
            assert_typed(v, i)
        else:
            assert_typed(v, i, zip_from=at)
    assert len(set(ids[:at])) == 1 and len(set(ids[at:])) == 1, sorted(set(ids))
    assert ids[0] != ids[at]
    with urllib.request.urlopen(
            f"{schema_registry.url}/subjects/{topic}-value/versions", timeout=30) as resp:
        assert len(json.loads(resp.read())) == 2


ORDER_SCHEMA = {
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "orderid", "type": "long"},
        {"name": "itemid", "type": "string"},
        {"name": "units", "type": "int"},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10,
                                   "scale": 2}},
        {"name": "placed", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
            {"name": "city", "type": "string"}, {"name": "zip", "type": "int"}]}},
    ],
}


def order(i):
    return {"orderid": 2 ** 40 + i, "itemid": f"Item_{i}", "units": i % 7,
            "price": decimal.Decimal(1000 + i).scaleb(-2),
            "placed": datetime.datetime.fromtimestamp((1700000000000 + i * 1000) / 1000,
                                                      datetime.timezone.utc),
            "note": None if i % 2 else f"n{i}", "address": {"city": f"City_{i}", "zip": 10000 + i}}


def test_confluent_serializer_records_read_by_sluice(sluice, kafka, schema_registry, tmp):
    """Records framed by confluent-kafka's AvroSerializer (registering the schema itself) are read
    by a Kafka-mode sluice sink with value.converter avro and written by the file sink as JSON —
    Kafka Connect's JSON for the logical types (Decimal as base64 bytes, Timestamp as millis)."""
    n = 200
    topic = kafkatest.uniq("avro-in")
    kafkatest.create_topic(kafka.bootstrap, topic, partitions=1)
    ser = AvroSerializer(SchemaRegistryClient({"url": schema_registry.url, "timeout": 30}),
                         json.dumps(ORDER_SCHEMA))
    ctx = SerializationContext(topic, MessageField.VALUE)
    kafkatest.produce(kafka.bootstrap, topic,
                      [(f"o{i}".encode(), ser(order(i), ctx)) for i in range(n)])
    out = tmp / "orders.jsonl"
    cfg = avro_pipeline(tmp, kafka, schema_registry, topic, f"""    sinks:
      - id: out
        plugin: file
        config: {{file: {out}}}
""")
    p = sluice.spawn("run", "--quiet", cfg, env=plugin_env())
    try:
        deadline = time.monotonic() + scaled(60)
        lines = []
        while time.monotonic() < deadline:
            lines = out.read_text().splitlines() if out.exists() else []
            if len(lines) >= n:
                break
            time.sleep(0.2)
    finally:
        p.terminate()
        rc = p.wait(timeout=scaled(30))
    assert rc == 0
    assert len(lines) == n, f"{len(lines)} of {n} records written"
    for i, line in enumerate(lines):
        v = json.loads(line)
        want = order(i)
        assert v["orderid"] == want["orderid"] and v["itemid"] == want["itemid"]
        assert v["units"] == want["units"] and v["note"] == want["note"]
        assert v["address"] == want["address"]
        assert v["placed"] == 1700000000000 + i * 1000
        # Decimal: Kafka Connect's JSON gives base64 of the unscaled two's-complement bytes.
        unscaled = int.from_bytes(__import__("base64").b64decode(v["price"]), "big", signed=True)
        assert decimal.Decimal(unscaled).scaleb(-2) == want["price"]
    committed = kafkatest.committed(kafka.bootstrap, kafkatest.group_id(topic, "out"), topic)
    assert committed == {0: n}, committed
