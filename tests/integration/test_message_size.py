"""max.message.bytes (#22): a record whose key or value is over the pipeline's limit fails at its
converter before it is decoded — a dead letter with errors.tolerance all, a stop that names the
pipeline, the sink and the key with tolerance none — through the JSON and the Avro converters
from a real Kafka topic, and at the source's converter in-process."""
import io
import json
import struct
import urllib.request

import fastavro
import pytest

from kafkatest import create_topic, uniq
from sluicetest import write_yaml
from test_kafka import (Running, consume_all, count_lines, kafka_yaml, produce, runs,  # noqa: F401
                        sink_pipeline, topic_exists, total)

LIMIT = 2048  # max.message.bytes: 2KiB
BIG = "x" * 3000


def headers_of(msg):
    return {k: (v.decode() if v is not None else None) for k, v in msg.headers or []}


def json_records():
    return [{"key": b'"k0"', "value": b'{"id": 1}'},
            {"key": b'"k1"', "value": json.dumps({"id": 2, "blob": BIG}).encode()},
            {"key": json.dumps(BIG).encode(), "value": b'{"id": 3}'},
            {"key": b'"k3"', "value": b'{"id": 4}'}]


JSON_CONVERTERS = ("    key.converter: json\n    key.converter.schemas.enable: false\n"
                   "    value.converter: json\n    value.converter.schemas.enable: false\n"
                   "    max.message.bytes: 2KiB\n")


def console_sink(tolerance, dlq):
    return f"""\
      - id: show
        plugin: console
        config: {{print.key: true}}
        errors.tolerance: {tolerance}
        errors.deadletterqueue.topic.name: {dlq}
        errors.deadletterqueue.context.headers.enable: true
"""


@pytest.mark.asan
def test_json_over_the_limit_is_a_dead_letter(sluice, kafka, tmp, runs):
    topic, pid = uniq("big"), uniq("p")
    dlq = f"{topic}-dlq"
    create_topic(kafka.bootstrap, topic, 1)
    produce(kafka.bootstrap, topic, json_records())
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(kafka.bootstrap, tmp / "offsets.json",
                     sink_pipeline(pid, topic, console_sink("all", dlq), JSON_CONVERTERS)))
    run = Running(sluice, cfg, tmp, "run", stdout=True)
    runs.append(run)
    run.wait(lambda: count_lines(run.out) >= 2 and topic_exists(kafka.bootstrap, dlq)
             and total(kafka.bootstrap, dlq) >= 2, 60, "two records printed, two dead letters")
    dead = consume_all(kafka.bootstrap, dlq)
    assert run.term() == 0, run.text()
    printed = [json.loads(x) for x in run.stdout().splitlines() if x.strip()]
    assert [(p["key"], p["value"]) for p in printed] == [("k0", {"id": 1}), ("k3", {"id": 4})]
    assert len(dead) == 2, dead
    (v, hv), (k, hk) = [(d, headers_of(d)) for d in dead]
    assert v.value == json_records()[1]["value"] and k.key == json_records()[2]["key"]
    assert hv["__connect.errors.stage"] == "VALUE_CONVERTER"
    assert hk["__connect.errors.stage"] == "KEY_CONVERTER"
    for h, n in ((hv, len(v.value)), (hk, len(k.key))):
        assert (f"{n} bytes, over the limit of {LIMIT} bytes"
                in h["__connect.errors.exception.message"]), h
        assert "max.message.bytes" in h["__connect.errors.exception.message"], h


@pytest.mark.asan
def test_json_over_the_limit_stops_with_tolerance_none(sluice, kafka, tmp, runs):
    topic, pid = uniq("big"), uniq("p")
    create_topic(kafka.bootstrap, topic, 1)
    produce(kafka.bootstrap, topic, json_records()[:2])
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(kafka.bootstrap, tmp / "offsets.json",
                     sink_pipeline(pid, topic, console_sink("none", topic + "-dlq"),
                                   # the failure ends the run (the worker's default restarts)
                                   JSON_CONVERTERS + "    restart.policy: never\n")))
    run = Running(sluice, cfg, tmp, "run", stdout=True)
    runs.append(run)
    assert run.finish(60) == 1, run.text()
    text = run.text()
    assert f"over the limit of {LIMIT} bytes" in text and "max.message.bytes" in text, text
    assert pid in text and "show" in text and "VALUE_CONVERTER" in text, text


def register(url, subject, schema):
    req = urllib.request.Request(f"{url}/subjects/{subject}/versions",
                                 data=json.dumps({"schema": json.dumps(schema)}).encode(),
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["id"]


def confluent(schema_id, schema, datum):
    out = io.BytesIO()
    out.write(b"\0" + struct.pack(">i", schema_id))
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), datum)
    return out.getvalue()


@pytest.mark.parametrize("tolerance", ["all", "none"])
def test_avro_over_the_limit(sluice, kafka, schema_registry, tmp, runs, tolerance):
    topic, pid = uniq("bigavro"), uniq("p")
    dlq = f"{topic}-dlq"
    schema = {"type": "record", "name": "Big", "fields": [{"name": "s", "type": "string"}]}
    sid = register(schema_registry.url, f"{topic}-value", schema)
    small, big = confluent(sid, schema, {"s": "small"}), confluent(sid, schema, {"s": BIG})
    create_topic(kafka.bootstrap, topic, 1)
    produce(kafka.bootstrap, topic, [{"value": small}, {"value": big}, {"value": small}])
    cfg = write_yaml(tmp / "p.yaml", kafka_yaml(
        kafka.bootstrap, tmp / "offsets.json",
        sink_pipeline(pid, topic, console_sink(tolerance, dlq),
                      "    value.converter: avro\n    max.message.bytes: 2KiB\n"
                      "    restart.policy: never\n"),
        extra_top=f"schema.registry:\n  url: {schema_registry.url}\n"))
    run = Running(sluice, cfg, tmp, "run", stdout=True)
    runs.append(run)
    if tolerance == "none":
        assert run.finish(60) == 1, run.text()
        assert f"{len(big)} bytes, over the limit of {LIMIT} bytes" in run.text(), run.text()
        assert pid in run.text() and "max.message.bytes" in run.text(), run.text()
        return
    run.wait(lambda: count_lines(run.out) >= 2 and topic_exists(kafka.bootstrap, dlq)
             and total(kafka.bootstrap, dlq) >= 1, 60, "two records printed, one dead letter")
    dead = consume_all(kafka.bootstrap, dlq)
    assert run.term() == 0, run.text()
    printed = [json.loads(x) for x in run.stdout().splitlines() if x.strip()]
    assert [p["value"] for p in printed] == [{"s": "small"}] * 2
    assert [d.value for d in dead] == [big]
    h = headers_of(dead[0])
    assert h["__connect.errors.stage"] == "VALUE_CONVERTER"
    assert f"{len(big)} bytes, over the limit of {LIMIT} bytes" in \
        h["__connect.errors.exception.message"], h


@pytest.mark.asan
def test_in_process_source_over_the_limit(sluice, tmp):
    """In-process the limit holds at the source's converter: the long line is a dead letter, the
    others arrive; with tolerance none the run stops naming the pipeline and the key."""
    src, out = tmp / "in.jsonl", tmp / "out.jsonl"
    src.write_text('{"id": 1}\n' + json.dumps({"id": 2, "blob": BIG}) + '\n{"id": 3}\n')
    text = f"""version: 1
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: lines
    value.converter: json
    value.converter.schemas.enable: false
    max.message.bytes: 2KiB
    errors.tolerance: all
    errors.deadletterqueue.topic.name: lines-dlq
    errors.deadletterqueue.context.headers.enable: true
    source:
      plugin: file
      config: {{file: {src}, format: json, follow: false}}
    sinks:
      - {{id: out, plugin: file, config: {{file: {out}}}}}
  - id: lines-dlq
    value.converter: string
    sinks:
      - {{id: show, plugin: console, config: {{print.headers: true}}}}
"""
    r = sluice.run("run", "--quiet", write_yaml(tmp / "p.yaml", text), timeout=60)
    assert r.returncode == 0, r.stderr
    assert [json.loads(x) for x in out.read_text().splitlines()] == [{"id": 1}, {"id": 3}]
    shown = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    assert len(shown) == 1, shown
    h = shown[0]["headers"]
    assert h["__connect.errors.stage"] == "VALUE_CONVERTER", h
    assert f"over the limit of {LIMIT} bytes" in h["__connect.errors.exception.message"], h
    (tmp / "offsets.json").unlink()
    out.unlink()
    r = sluice.run("run", "--quiet", write_yaml(tmp / "p.yaml", text.replace(
        "errors.tolerance: all", "errors.tolerance: none")), timeout=60)
    assert r.returncode == 1, r.stderr
    assert "lines" in r.stderr and "max.message.bytes" in r.stderr, r.stderr
