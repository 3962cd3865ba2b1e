"""sluice run with `value.converter: avro` and a `schema.registry:` block, against a real registry:
structs with every Connect type (the `typed` fixture source, build/tests/plugins) go through the
in-process topic as Confluent-framed Avro and come out of the file sink unchanged; the subject is
registered; a schemaless value fails in stage VALUE_CONVERTER with the converter's message."""
import base64
import json
import urllib.request

from sluicetest import build_dir, write_yaml


def plugin_env():
    return {"SLUICE_PLUGIN_PATH": str(build_dir() / "tests" / "plugins")}


def expected(i):
    return {"i8": i % 100 - 50, "i16": -i, "i32": i * 1000, "i64": 2 ** 40 + i, "f32": i + 0.5,
            "f64": i / 4, "ok": i % 2 == 0, "name": f"name-{i}",
            "raw": base64.b64encode(bytes([i % 256, 1, 2])).decode(),
            "note": None if i % 3 == 0 else f"note-{i}",
            "price": base64.b64encode((100 * i + 5).to_bytes(4, "big")).decode(),
            "day": 19000 + i, "tod": i * 1000, "ts": 1700000000000 + i, "tags": [f"t{i}", "x"],
            "attrs": {"a": i, "b": -i}, "inner": None if i % 4 == 0 else {"city": f"c{i}"}}


def test_typed_records_through_avro(sluice, tmp, schema_registry):
    n = 250
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
schema.registry:
  url: {schema_registry.url}
pipelines:
  - id: typed
    topic: avro-typed
    value.converter: avro
    source:
      plugin: typed
      config: {{count: {n}}}
    sinks:
      - {{id: out, plugin: file, config: {{file: {tmp}/out.jsonl}}}}
""")
    r = sluice.run("run", "--quiet", cfg, timeout=60, env=plugin_env())
    assert r.returncode == 0, r.stderr
    lines = (tmp / "out.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [expected(i) for i in range(n)]
    with urllib.request.urlopen(f"{schema_registry.url}/subjects", timeout=30) as resp:
        assert "avro-typed-value" in json.loads(resp.read())
    with urllib.request.urlopen(
            f"{schema_registry.url}/subjects/avro-typed-value/versions/latest", timeout=30) as resp:
        schema = json.loads(json.loads(resp.read())["schema"])
    assert schema["name"] == "Typed" and schema["namespace"] == "sluice.test"
    fields = {f["name"]: f["type"] for f in schema["fields"]}
    assert fields["i8"] == {"type": "int", "connect.type": "int8"}
    assert fields["note"] == ["null", "string"]
    assert fields["price"]["logicalType"] == "decimal" and fields["price"]["scale"] == 2


def test_schemaless_value_fails_in_the_converter(sluice, tmp, schema_registry):
    src = tmp / "in.jsonl"
    src.write_text('{"a": 1}\n')
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
schema.registry: {{url: {schema_registry.url}}}
pipelines:
  - id: conv
    value.converter: avro
    errors.tolerance: all
    errors.deadletterqueue.topic.name: conv-dlq
    errors.deadletterqueue.context.headers.enable: true
    source:
      plugin: file
      config: {{file: {src}, format: json, follow: false}}
    sinks:
      - {{id: out, plugin: file, config: {{file: {tmp}/out.txt}}}}
  - id: conv-dlq
    value.converter: string
    sinks:
      - {{id: show, plugin: console, config: {{print.headers: true}}}}
""")
    r = sluice.run("run", "--quiet", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (tmp / "out.txt").read_text() == ""
    shown = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    assert len(shown) == 1
    h = shown[0]["headers"]
    assert h["__connect.errors.stage"] == "VALUE_CONVERTER"
    assert "the avro converter needs a value with a schema" in \
        h["__connect.errors.exception.message"]
