"""The avro converter against a real Confluent-compatible Schema Registry (Apicurio's ccompat API),
driven through build/tests/avro_tool (the converter without a pipeline). What sluice registers and
writes is read back with fastavro; what Python's confluent-kafka and fastavro write is read by sluice.
The basic-auth test uses a tiny local HTTP server that records the request: it checks the request
sluice builds, not a registry's behaviour (Apicurio ignores credentials)."""
import base64
import http.server
import io
import json
import socket
import struct
import subprocess
import threading
import urllib.request

import fastavro
import pytest

from sluicetest import build_dir, capture, scaled



def tool(url_or_keys, mode, lines, *args, topic=None):
    """Runs avro_tool; returns (output lines, http request count)."""
    keys = url_or_keys if isinstance(url_or_keys, dict) else {"url": url_or_keys}
    cmd = [str(build_dir() / "tests" / "avro_tool")]
    for k, v in keys.items():
        cmd += ["--sr", f"{k}={v}"]
    cmd += list(args) + [mode] + ([topic] if topic else [])
    p = subprocess.run(cmd, input="".join(l + "\n" for l in lines), capture_output=True,
                       text=True, timeout=scaled(120))
    capture("avro_tool " + mode, p.stdout + p.stderr)  # the core's messages: the canary scan
    assert p.returncode == 0, p.stderr
    requests = int(p.stderr.strip().rsplit("requests=", 1)[1])
    return p.stdout.splitlines(), requests


def http_json(url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET", headers={
        "Content-Type": "application/vnd.schemaregistry.v1+json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def wire(hexline):
    raw = bytes.fromhex(hexline)
    assert raw[0] == 0, raw[:5]
    return struct.unpack(">i", raw[1:5])[0], raw[5:]


DEC = {"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1,
       "parameters": {"scale": "2"}}
EVERY_SCHEMA = {"type": "struct", "name": "shop.Order", "optional": False, "fields": [
    {"field": "i8", "type": "int8"}, {"field": "i16", "type": "int16"},
    {"field": "i32", "type": "int32"}, {"field": "i64", "type": "int64"},
    {"field": "f32", "type": "float"}, {"field": "f64", "type": "double"},
    {"field": "ok", "type": "boolean"}, {"field": "name", "type": "string"},
    {"field": "raw", "type": "bytes"},
    {"field": "note", "type": "string", "optional": True},
    {"field": "price", **DEC},
    {"field": "day", "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1},
    {"field": "tod", "type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1},
    {"field": "ts", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp",
     "version": 1},
    {"field": "tags", "type": "array", "items": {"type": "string"}},
    {"field": "attrs", "type": "map", "keys": {"type": "string"}, "values": {"type": "int64"}},
    {"field": "ids", "type": "map", "keys": {"type": "int32"}, "values": {"type": "string"}},
    {"field": "ship", "type": "struct", "optional": True, "fields": [
        {"field": "city", "type": "string"}]},
]}


def every_payload(i):
    return {"i8": -i % 128, "i16": -1000 - i, "i32": 2 ** 31 - 1 - i, "i64": 2 ** 62 + i,
            "f32": 1.5, "f64": i / 3, "ok": i % 2 == 0, "name": f"n\u00e9{i}",
            "raw": base64.b64encode(bytes([i % 256, 0, 255])).decode(),
            "note": None if i % 2 else f"note {i}",
            "price": base64.b64encode((12345 + i).to_bytes(4, "big", signed=True)).decode(),
            "day": 19000 + i, "tod": 1000 * i, "ts": 1700000000000 + i, "tags": ["a", str(i)],
            "attrs": {"k": i, "z": -i}, "ids": [[1, "one"], [-i, "neg"]],
            "ship": None if i % 3 == 0 else {"city": f"c{i}"}}


def envelope(schema, payload):
    return json.dumps({"schema": schema, "payload": payload})


def test_sluice_writes_what_fastavro_reads(schema_registry):
    lines = [envelope(EVERY_SCHEMA, every_payload(i)) for i in range(40)]
    out, requests = tool(schema_registry.url, "encode", lines, topic="orders")
    assert requests == 1, "one registration, then the converter's cache"
    assert not [l for l in out if l.startswith("ERROR")], out[:3]
    ids = {wire(l)[0] for l in out}
    assert len(ids) == 1
    sid = ids.pop()
    registered = http_json(f"{schema_registry.url}/schemas/ids/{sid}")["schema"]
    avro_schema = json.loads(registered)
    assert avro_schema["type"] == "record" and avro_schema["name"] == "Order"
    assert avro_schema["namespace"] == "shop" and avro_schema["connect.name"] == "shop.Order"
    assert "orders-value" in http_json(f"{schema_registry.url}/subjects")
    parsed = fastavro.parse_schema(avro_schema)
    for i, l in enumerate(out):
        rec = fastavro.schemaless_reader(io.BytesIO(wire(l)[1]), parsed)
        p = every_payload(i)
        assert rec["i8"] == p["i8"] and rec["i16"] == p["i16"] and rec["i32"] == p["i32"]
        assert rec["i64"] == p["i64"] and rec["f32"] == 1.5 and rec["f64"] == p["f64"]
        assert rec["ok"] is p["ok"] and rec["name"] == p["name"] and rec["note"] == p["note"]
        assert rec["raw"] == bytes([i % 256, 0, 255])
        assert str(rec["price"]) == f"{(12345 + i) / 100:.2f}"
        assert rec["day"].toordinal() - 719163 == 19000 + i  # days since 1970-01-01
        assert rec["tod"].hour * 3600000 + rec["tod"].minute * 60000 + \
            rec["tod"].second * 1000 + rec["tod"].microsecond // 1000 == 1000 * i
        assert int(rec["ts"].timestamp() * 1000) == 1700000000000 + i
        assert rec["tags"] == ["a", str(i)] and rec["attrs"] == {"k": i, "z": -i}
        assert rec["ids"] == [{"key": 1, "value": "one"}, {"key": -i, "value": "neg"}]
        assert rec["ship"] == (None if i % 3 == 0 else {"city": f"c{i}"})
    # and sluice reads its own bytes back to the same envelope
    back, _ = tool(schema_registry.url, "decode", out[:5])
    for i, l in enumerate(back):
        env = json.loads(l)
        assert env["payload"] == every_payload(i), l


PY_SCHEMA = {
    "type": "record", "name": "Reading", "namespace": "sensors", "fields": [
        {"name": "id", "type": "long"},
        {"name": "where", "type": {"type": "enum", "name": "Site", "symbols": ["NORTH", "SOUTH"]}},
        {"name": "value", "type": ["null", "double"], "default": None},
        {"name": "either", "type": ["int", "string"]},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "labels", "type": {"type": "map", "values": "string"}},
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
    ]}


def test_python_writes_what_sluice_reads(schema_registry):
    import datetime
    subject = "readings-value"
    sid = http_json(f"{schema_registry.url}/subjects/{subject}/versions",
                    {"schema": json.dumps(PY_SCHEMA)})["id"]
    parsed = fastavro.parse_schema(PY_SCHEMA)
    recs = [{"id": 2 ** 40 + i, "where": "SOUTH" if i % 2 else "NORTH",
             "value": None if i == 0 else i * 0.5, "either": i if i % 2 else f"s{i}",
             "at": datetime.datetime(2024, 1, 2, 3, 4, 5, 6000 * (i + 1),
                                     tzinfo=datetime.timezone.utc),
             "labels": {"a": str(i)}, "hash": bytes([i, 1, 2, 3])} for i in range(6)]
    lines = []
    for r in recs:
        b = io.BytesIO()
        fastavro.schemaless_writer(b, parsed, r)
        lines.append((b"\x00" + struct.pack(">i", sid) + b.getvalue()).hex())
    out, requests = tool(schema_registry.url, "decode", lines)
    assert requests == 1, "the schema is fetched once by id"
    for r, l in zip(recs, out):
        env = json.loads(l)
        p = env["payload"]
        assert p["id"] == r["id"] and p["where"] == r["where"] and p["value"] == r["value"]
        if isinstance(r["either"], int):
            assert p["either"] == {"int": r["either"], "string": None}
        else:
            assert p["either"] == {"int": None, "string": r["either"]}
        assert p["at"] == int(r["at"].timestamp() * 1000)
        assert p["labels"] == r["labels"]
        assert base64.b64decode(p["hash"]) == r["hash"]
        s = env["schema"]
        assert s["name"] == "sensors.Reading"
        fields = {f["field"]: f for f in s["fields"]}
        assert fields["at"]["name"] == "org.apache.kafka.connect.data.Timestamp"
        assert fields["value"]["optional"] is True
        assert fields["where"]["parameters"]["io.confluent.connect.avro.Enum"] == "sensors.Site"
        assert fields["either"]["name"] == "io.confluent.connect.avro.Union"


def test_confluent_kafka_serializer_bytes(schema_registry):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    # A bounded client: its requests must not hang a test run.
    client = SchemaRegistryClient({"url": schema_registry.url, "timeout": 30})
    schema = {"type": "record", "name": "Click", "namespace": "web", "fields": [
        {"name": "user", "type": "string"}, {"name": "n", "type": "int"},
        {"name": "ref", "type": ["null", "string"], "default": None}]}
    ser = AvroSerializer(client, json.dumps(schema))
    ctx = SerializationContext("clicks", MessageField.VALUE)
    values = [{"user": f"u{i}", "n": i - 3, "ref": None if i % 2 else "x"} for i in range(5)]
    lines = [ser(v, ctx).hex() for v in values]
    out, _ = tool(schema_registry.url, "decode", lines)
    assert [json.loads(l)["payload"] for l in out] == values
    # and sluice, given Connect's form of the same record, writes bytes that the schema the
    # registry holds for their id decodes to the same values. (confluent-kafka's AvroDeserializer
    # is not used here: since 2.1x it first asks Confluent's newer /associations API, which
    # Apicurio's ccompat API does not serve.)
    connect = {"type": "struct", "name": "web.Click", "fields": [
        {"field": "user", "type": "string"}, {"field": "n", "type": "int32"},
        {"field": "ref", "type": "string", "optional": True}]}
    enc, _ = tool(schema_registry.url, "encode", [envelope(connect, v) for v in values],
                  topic="clicks2")
    decoded = []
    for line in enc:
        sid, body = wire(line)
        got = http_json(f"{schema_registry.url}/schemas/ids/{sid}")
        decoded.append(fastavro.schemaless_reader(
            io.BytesIO(body), fastavro.parse_schema(json.loads(got["schema"]))))
    assert decoded == values


def test_subject_strategies_and_key_subject(schema_registry):
    rec = {"type": "struct", "name": "acme.Thing", "fields": [{"field": "a", "type": "int32"}]}
    line = envelope(rec, {"a": 1})
    tool(schema_registry.url, "encode", [line], "--key", topic="things")
    tool(schema_registry.url, "encode", [line], "--strategy", "RecordNameStrategy", topic="t")
    tool(schema_registry.url, "encode", [line], "--strategy",
         "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy", topic="things")
    subjects = http_json(f"{schema_registry.url}/subjects")
    assert {"things-key", "acme.Thing", "things-acme.Thing"} <= set(subjects)
    out, _ = tool(schema_registry.url, "encode", [envelope({"type": "string"}, "x")],
                  "--strategy", "RecordNameStrategy", topic="t")
    assert out[0].startswith("ERROR") and "RecordNameStrategy needs a struct" in out[0]


def test_auto_register_false(schema_registry):
    rec = {"type": "struct", "name": "acme.Late", "fields": [{"field": "b", "type": "string"}]}
    line = envelope(rec, {"b": "x"})
    out, _ = tool(schema_registry.url, "encode", [line], "--no-auto-register", topic="late")
    assert out[0].startswith("ERROR"), out
    assert ("schema not registered under subject 'late-value' and auto.register.schemas is false"
            in out[0])
    assert schema_registry.url in out[0]
    registered, _ = tool(schema_registry.url, "encode", [line], topic="late")
    looked_up, requests = tool(schema_registry.url, "encode", [line, line], "--no-auto-register",
                               topic="late")
    assert looked_up == [registered[0], registered[0]] and requests == 1


def test_errors(schema_registry):
    out, _ = tool(schema_registry.url, "encode", ['{"schema":null,"payload":{"a":1}}'],
                  topic="t")
    assert ("the avro converter needs a value with a schema; this record's value has none "
            "(use the json converter with schemas.enable: false for schemaless data)") in out[0]
    out, _ = tool(schema_registry.url, "decode", ["7b2261223a317d", "0000", "00ffffff0102"])
    assert "not in Confluent's Avro wire format" in out[0] and "looks like JSON" in out[0]
    assert "too short" in out[1]
    assert "schema id -255 is not in schema registry" in out[2] and schema_registry.url in out[2]
    # a registry that is down: the message names the url, without the credentials
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    down = f"http://127.0.0.1:{port}/apis/ccompat/v7"
    shown = f"http://********@127.0.0.1:{port}/apis/ccompat/v7"  # core/redact.c's rule
    out, _ = tool({"url": f"http://user:pw-sluiceCANARY@127.0.0.1:{port}/apis/ccompat/v7",
                   "basic.auth.credentials.source": "URL"}, "encode",
                  [envelope({"type": "int32"}, 1)], topic="t")
    assert out[0].startswith("ERROR") and f"cannot reach the schema registry ({shown}" in out[0]
    assert "subject 't-value'" in out[0] and "pw" not in out[0]
    # a secret with an unescaped '/' and '@' (an API secret in base64 may hold them): none of it
    # in the message, which names the url by the shared rule
    for auth in ({"basic.auth.credentials.source": "URL"},
                 {"basic.auth.credentials.source": "USER_INFO", "basic.auth.user.info": "k:v"}):
        out, _ = tool({"url": f"http://KEY:pw/sluiceCANARY@x@127.0.0.1:{port}/apis/ccompat/v7",
                       **auth}, "encode", [envelope({"type": "int32"}, 1)], topic="t")
        assert f"cannot reach the schema registry ({shown}" in out[0], out
        assert "sluiceCANARY" not in out[0] and "pw" not in out[0] and "KEY" not in out[0]
    # the second url answers when the first does not
    out, _ = tool({"url": f"{down},{schema_registry.url}"}, "encode",
                  [envelope({"type": "int32"}, 1)], topic="t")
    assert not out[0].startswith("ERROR"), out


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        _Recorder.seen.append((self.path, self.headers.get("Authorization"),
                               self.headers.get("Content-Type"), self.rfile.read(n)))
        body = b'{"id": 77}'
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_basic_auth_header_and_request_body():
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}"
        out, _ = tool({"url": url, "basic.auth.credentials.source": "USER_INFO",
                       "basic.auth.user.info": "KEY:s3cr:et-sluiceCANARY"}, "encode",
                      [envelope({"type": "string"}, "x")], topic="a/b c")
        assert wire(out[0])[0] == 77
        out, _ = tool({"url": f"http://us%40r:p%3Aw-sluiceCANARY@127.0.0.1:{srv.server_port}/",
                       "basic.auth.credentials.source": "URL"}, "encode",
                      [envelope({"type": "string"}, "x")], topic="t")
        assert wire(out[0])[0] == 77
    finally:
        srv.shutdown()
    (path1, auth1, ctype, body), (path2, auth2, _, _) = _Recorder.seen
    assert path1 == "/subjects/a%2Fb%20c-value/versions"
    assert auth1 == "Basic " + base64.b64encode(b"KEY:s3cr:et-sluiceCANARY").decode()
    assert ctype == "application/vnd.schemaregistry.v1+json"
    assert json.loads(body) == {"schema": '"string"'}
    assert path2 == "/subjects/t-value/versions"
    assert auth2 == "Basic " + base64.b64encode(b"us@r:p:w-sluiceCANARY").decode()
