"""The s3 sink against a real S3-compatible server (s3proxy, the s3 fixture), read back with boto3:
the seed's layout byte for byte as sftp-json's files of the same records (both sinks in one
pipeline), bytes and gzip objects, a multipart upload above s3.part.size (and none left
unfinished), a replay rewriting the same objects, and each error named by its key with nothing
committed; a skewed clock against s3proxy itself (libfaketime moves sluice's clock). The errors
s3proxy cannot produce (access denied: it has one identity; a wrong region: it accepts any; 503
SlowDown: it does not throttle) come from a small stub that answers with S3's own error
documents."""
import gzip
import http.server
import json
import threading

import pytest

# Debian's libfaketime (package faketime, scripts/lib/deps.sh's test group)
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

from sluicetest import write_yaml

HOUR = 3_600_000
T0 = 1673143200000  # 2023-01-08T02:00:00Z


def rec(i, ts, **extra):
    return json.dumps({"id": i, "name": f"n{i}", "ts": ts, **extra}, separators=(",", ":"))


def write_records(path, recs):
    path.write_text("".join(r + "\n" for r in recs))


def s3_keys(endpoint, bucket, *, key="sluice-test-key", secret=None, **extra):
    keys = {"s3.bucket.name": bucket, "store.url": endpoint, "aws.access.key.id": key,
            "aws.secret.access.key": secret, "s3.part.retries": 1, "s3.retry.backoff.ms": 50}
    keys.update(extra)
    return keys


def pipeline(tmp, src, s3cfg, *, files=None, extra="", source_extra=""):
    """file source → s3 (and, with `files`, sftp-json into tmp/out with those keys);
    source_extra: YAML lines under the source (its transforms)."""
    cfg = "\n".join(f"          {k}: {json.dumps(v) if isinstance(v, str) else v}"
                    for k, v in s3cfg.items())
    other = ""
    if files is not None:
        fcfg = "\n".join(f"          {k}: {v}" for k, v in files.items())
        other = f"""      - id: files
        plugin: sftp-json
        config:
          directory: {tmp / 'out'}
{fcfg}
"""
    return write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: orders
    topic: orders
{extra}    source:
      plugin: file
      config: {{ file: {src}, format: json, follow: false, batch.size: 1000 }}
{source_extra}    sinks:
      - id: s3
        plugin: io.confluent.connect.s3.S3SinkConnector
        batch.max.records: 1000
        config:
{cfg}
{other}""")


def tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and "/.sluice/" not in str(p)}


def committed(tmp):
    """The file source's committed position (None: nothing committed)."""
    p = tmp / "offsets.json"
    if not p.exists():
        return None
    return json.loads(p.read_text())["pipelines"].get("orders")


def run_ok(sluice, cfg):
    r = sluice.run("run", "--quiet", cfg, timeout=120)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr[-3000:]}"
    return r


def run_fails(sluice, cfg, *expect):
    r = sluice.run("run", cfg, timeout=120)
    assert r.returncode != 0, r.stderr[-3000:]
    for e in expect:
        assert e in r.stderr, f"{e!r} not in:\n{r.stderr[-3000:]}"
    return r


@pytest.mark.asan
@pytest.mark.tsan
def test_seed_layout_byte_for_byte_as_sftp_json(sluice, tmp, s3):
    b = s3.bucket("seed")
    # hours 02 and 03 of 2023-01-08; objects rotate every 1000 records of the partition
    recs = [rec(i, T0 + i * 1440 if i < 2500 else T0 + HOUR + (i - 2500) * 1000)
            for i in range(5000)]
    write_records(tmp / "in.json", recs)
    part = {"partitioner.class": "hourly", "flush.size": 1000,
            "timestamp.extractor": "RecordField", "timestamp.field": "ts"}
    run_ok(sluice, pipeline(tmp, tmp / "in.json",
                            s3_keys(s3.endpoint, b, secret=s3.secret_key,
                                    **{"format.class":
                                       "io.confluent.connect.s3.format.json.JsonFormat"},
                                    **part), files=part))
    files = tree(tmp / "out")
    h2 = "topics/orders/year=2023/month=01/day=08/hour=02/"
    assert h2 + "orders+0+0000000000.json" in files
    assert len(files) == 6
    assert s3.keys(b) == sorted(files)
    for k, body in files.items():
        assert s3.get(b, k) == body, k
    assert s3.get(b, h2 + "orders+0+0000001000.json") == \
        "".join(r + "\n" for r in recs[1000:2000]).encode()
    assert committed(tmp)["next_offset"] == 5000
    assert s3.secret_key in (tmp / "p.yaml").read_text()  # the config holds it...
    r = sluice.run("lint", "--print", tmp / "p.yaml", timeout=60)
    assert r.returncode == 0, r.stderr
    assert "aws.secret.access.key" in r.stdout
    assert s3.secret_key not in r.stdout + r.stderr  # ...but lint --print never shows it


def test_replay_rewrites_the_same_objects(sluice, tmp, s3):
    b = s3.bucket("replay")
    recs = [rec(i, T0 + i) for i in range(2500)]
    write_records(tmp / "in.json", recs)
    cfg = pipeline(tmp, tmp / "in.json", s3_keys(s3.endpoint, b, secret=s3.secret_key,
                                                 **{"flush.size": 1000}))
    run_ok(sluice, cfg)
    first = {k: s3.get(b, k) for k in s3.keys(b)}
    assert sorted(first) == [f"topics/orders/partition=0/orders+0+{o:010d}.json"
                             for o in (0, 1000, 2000)]
    # a crash before the commit: the same records again make the same objects, and no other
    (tmp / "offsets.json").unlink()
    run_ok(sluice, cfg)
    assert {k: s3.get(b, k) for k in s3.keys(b)} == first


@pytest.mark.asan
def test_bytes_and_gzip(sluice, tmp, s3):
    b = s3.bucket("formats")
    recs = [rec(i, T0 + i) for i in range(300)]
    write_records(tmp / "in.json", recs)
    run_ok(sluice, pipeline(tmp, tmp / "in.json",
                            s3_keys(s3.endpoint, b, secret=s3.secret_key, **{
                                "format.class":
                                    "io.confluent.connect.s3.format.bytearray.ByteArrayFormat",
                                "topics.dir": "raw", "flush.size": 200})))
    assert s3.keys(b, "raw/") == ["raw/orders/partition=0/orders+0+0000000000.bin",
                                  "raw/orders/partition=0/orders+0+0000000200.bin"]
    # the values' bytes as they sit in the topic: the in-process JSON converter's envelope
    lines = s3.get(b, "raw/orders/partition=0/orders+0+0000000000.bin").split(b"\n")
    assert lines[-1] == b"" and len(lines) == 201
    assert [json.loads(x)["payload"] for x in lines[:-1]] == [json.loads(r) for r in recs[:200]]
    (tmp / "offsets.json").unlink()
    run_ok(sluice, pipeline(tmp, tmp / "in.json",
                            s3_keys(s3.endpoint, b, secret=s3.secret_key, **{
                                "s3.compression.type": "gzip", "topics.dir": "gz",
                                "flush.size": 1000})))
    assert s3.keys(b, "gz/") == ["gz/orders/partition=0/orders+0+0000000000.json.gz"]
    body = s3.get(b, "gz/orders/partition=0/orders+0+0000000000.json.gz")
    assert body[:2] == b"\x1f\x8b"
    assert gzip.decompress(body) == "".join(r + "\n" for r in recs).encode()


@pytest.mark.asan
@pytest.mark.tsan
def test_multipart_above_part_size(sluice, tmp, s3):
    b = s3.bucket("multipart")
    pad = "x" * 100
    recs = [rec(i, T0 + i, pad=pad) for i in range(60000)]  # ~8.6 MB: two parts of 5 MiB
    write_records(tmp / "in.json", recs)
    run_ok(sluice, pipeline(tmp, tmp / "in.json",
                            s3_keys(s3.endpoint, b, secret=s3.secret_key,
                                    **{"flush.size": 100000, "s3.part.size": "5MiB"}),
                            extra="    buffer.memory: 64MiB\n"))
    key = "topics/orders/partition=0/orders+0+0000000000.json"
    assert s3.keys(b) == [key]
    want = "".join(r + "\n" for r in recs).encode()
    assert len(want) > 5 << 20
    assert s3.get(b, key) == want
    etag = s3.client.head_object(Bucket=b, Key=key)["ETag"].strip('"')
    assert etag.endswith("-2"), etag  # a multipart object's ETag: <md5 of md5s>-<parts>
    assert s3.uploads(b) == []
    # under the part size: one PUT, a plain MD5 ETag
    (tmp / "offsets.json").unlink()
    write_records(tmp / "in.json", recs[:100])
    run_ok(sluice, pipeline(tmp, tmp / "in.json",
                            s3_keys(s3.endpoint, b, secret=s3.secret_key,
                                    **{"topics.dir": "small"})))
    etag = s3.client.head_object(Bucket=b, Key="small/orders/partition=0/orders+0+0000000000.json")
    assert "-" not in etag["ETag"]


# -- errors against the real server: one message each, naming the key, nothing committed ----------

@pytest.mark.asan
def test_bucket_missing(sluice, tmp, s3):
    write_records(tmp / "in.json", [rec(i, T0) for i in range(10)])
    run_fails(sluice, pipeline(tmp, tmp / "in.json",
                               s3_keys(s3.endpoint, "no-such-bucket", secret=s3.secret_key)),
              "s3.bucket.name", "'no-such-bucket' does not exist", "NoSuchBucket")
    assert committed(tmp) is None


@pytest.mark.asan
def test_wrong_secret(sluice, tmp, s3):
    s3.bucket("creds-bucket")
    write_records(tmp / "in.json", [rec(i, T0) for i in range(10)])
    r = run_fails(sluice, pipeline(tmp, tmp / "in.json",
                                   s3_keys(s3.endpoint, "creds-bucket", secret="wrong-secret-value")),
                  "aws.secret.access.key", "SignatureDoesNotMatch")
    assert "wrong-secret-value" not in r.stderr
    assert committed(tmp) is None
    assert s3.keys("creds-bucket") == []


def test_unknown_access_key(sluice, tmp, s3):
    s3.bucket("creds-bucket")
    write_records(tmp / "in.json", [rec(i, T0) for i in range(10)])
    run_fails(sluice, pipeline(tmp, tmp / "in.json",
                               s3_keys(s3.endpoint, "creds-bucket", key="nobody", secret=s3.secret_key)),
              "aws.access.key.id", "InvalidAccessKeyId")
    assert committed(tmp) is None


def test_clock_skew_is_named(sluice, tmp, s3):
    """A machine whose clock is two days behind: s3proxy itself refuses the signed requests
    (RequestTimeTooSkewed, past its one-day window) — libfaketime moves only sluice's clock."""
    s3.bucket("skew-bucket")
    write_records(tmp / "in.json", [rec(i, T0) for i in range(10)])
    cfg = pipeline(tmp, tmp / "in.json", s3_keys(s3.endpoint, "skew-bucket", secret=s3.secret_key))
    r = sluice.run("run", cfg, timeout=120,
                   env={"LD_PRELOAD": FAKETIME_LIB, "FAKETIME": "-2d",
                        "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_DONT_RESET": "1"})
    assert r.returncode != 0, r.stderr[-3000:]
    for e in ("[orders/s3]", "clock", "RequestTimeTooSkewed"):
        assert e in r.stderr, f"{e!r} not in:\n{r.stderr[-3000:]}"
    assert committed(tmp) is None
    assert s3.keys("skew-bucket") == []


def test_credentials_from_the_environment_and_the_shared_file(sluice, tmp, s3):
    b = s3.bucket("creds")
    write_records(tmp / "in.json", [rec(i, T0) for i in range(10)])
    keys = s3_keys(s3.endpoint, b)
    del keys["aws.access.key.id"], keys["aws.secret.access.key"]
    cfg = pipeline(tmp, tmp / "in.json", dict(keys, **{"topics.dir": "env"}))
    env = {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key,
           "HOME": str(tmp)}
    r = sluice.run("run", "--quiet", cfg, timeout=60, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(s3.keys(b, "env/")) == 1
    (tmp / "offsets.json").unlink()
    (tmp / "creds").write_text(f"[default]\naws_access_key_id = nobody\naws_secret_access_key = x\n"
                               f"[test]\naws_access_key_id = {s3.access_key}\n"
                               f"aws_secret_access_key = {s3.secret_key}\n")
    cfg = pipeline(tmp, tmp / "in.json", dict(keys, **{"topics.dir": "file"}))
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp / "creds"), "AWS_PROFILE": "test",
           "HOME": str(tmp), "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    try:
        r = sluice.run("run", "--quiet", cfg, timeout=60, env=env)
    finally:
        (tmp / "creds").unlink()  # the test's own file holds the secret: not sluice's output
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(s3.keys(b, "file/")) == 1


def test_endpoint_refusing_connections_waits_and_commits_nothing(sluice, tmp, s3):
    # nothing listens: the records wait (retried with backoff, no busy loop), nothing committed
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    write_records(tmp / "in.json", [rec(i, T0) for i in range(10)])
    cfg = pipeline(tmp, tmp / "in.json",
                   s3_keys(f"http://127.0.0.1:{port}", "b", secret=s3.secret_key))
    p = sluice.spawn("run", cfg)
    import time
    try:
        time.sleep(4)
        assert p.poll() is None  # still waiting for the store
    finally:
        p.terminate()  # the first stops sources and drains: the records still wait
        time.sleep(1)
        assert p.poll() is None
        p.terminate()  # the second aborts
        _, err = p.communicate(timeout=60)
    err = err.decode(errors="replace")
    assert "store.url" in err and f"127.0.0.1:{port}" in err, err[-2000:]
    # bounded retries: a handful of attempts in 4 s, not thousands
    assert err.count("retrying") < 50, err.count("retrying")
    assert committed(tmp) is None


# -- errors s3proxy cannot produce: a stub speaking S3's error documents --------------------------

class Stub(http.server.BaseHTTPRequestHandler):
    answers = []  # [(status, code) or (status, None, body)], one per request; the last repeats

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        status, code, *body = self.answers[0] if len(self.answers) == 1 else self.answers.pop(0)
        self.server.seen.append(self.command)
        self.server.headers.append((self.command, self.path, dict(self.headers)))
        if body:
            body = body[0].encode()
        elif code is None:
            body = b"<ListMultipartUploadsResult></ListMultipartUploadsResult>"
        else:
            body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
                    f"<Message>stub</Message></Error>").encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"0123"')
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *a):
        pass


@pytest.fixture
def stub():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    srv.seen = []
    srv.headers = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()


@pytest.mark.parametrize("status,code,expect", [
    (403, "AccessDenied", ["s3.bucket.name", "access denied", "AccessDenied"]),
    (400, "AuthorizationHeaderMalformed", ["s3.region", "'eu-west-3'",
                                           "AuthorizationHeaderMalformed"]),
])
def test_refusals(sluice, tmp, stub, status, code, expect):
    Stub.answers = [(status, code)]
    write_records(tmp / "in.json", [rec(i, T0) for i in range(10)])
    run_fails(sluice, pipeline(tmp, tmp / "in.json",
                               s3_keys(f"http://127.0.0.1:{stub.server_port}", "b",
                                       secret="stub-secret-1", **{"s3.region": "eu-west-3"})),
              "[orders/s3]", *expect)
    assert committed(tmp) is None
    assert len(stub.seen) == 1  # refused: not retried


@pytest.mark.asan
def test_slowdown_is_retried(sluice, tmp, stub):
    # the listing of old uploads, then 503 SlowDown and 500 before the PUT goes through
    Stub.answers = [(200, None), (503, "SlowDown"), (500, "InternalError"), (200, None)]
    write_records(tmp / "in.json", [rec(i, T0) for i in range(10)])
    cfg = pipeline(tmp, tmp / "in.json",
                   s3_keys(f"http://127.0.0.1:{stub.server_port}", "b", secret="stub-secret-1",
                           **{"s3.part.retries": 3}))
    r = sluice.run("run", cfg, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "SlowDown" in r.stderr
    assert stub.seen == ["GET", "PUT", "PUT", "PUT"]
    assert committed(tmp)["next_offset"] == 10


@pytest.mark.asan
def test_avro_files_read_back_with_fastavro(sluice, tmp, s3):
    import fastavro
    b = s3.bucket("avro")
    # datagen's orders (a Connect schema with a nested struct) into Avro objects, and the same
    # records as sftp-json's JSON lines beside them to compare with
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: orders
    topic: orders
    source:
      plugin: datagen-avro
      config: {{ quickstart: orders, rate: 0, iterations: 2500, random.seed: 7 }}
    sinks:
      - id: s3
        plugin: S3_SINK
        config:
          s3.bucket.name: {b}
          store.url: {s3.endpoint}
          aws.access.key.id: {s3.access_key}
          aws.secret.access.key: {s3.secret_key}
          format.class: io.confluent.connect.s3.format.avro.AvroFormat
          avro.codec: deflate
          flush.size: 1000
      - id: files
        plugin: sftp-json
        config:
          directory: {tmp / 'out'}
          flush.size: 1000
""")
    run_ok(sluice, cfg)
    keys = s3.keys(b)
    assert keys == [f"topics/orders/partition=0/orders+0+{o:010d}.avro" for o in (0, 1000, 2000)]
    import io
    got = []
    for k in keys:
        r = fastavro.reader(io.BytesIO(s3.get(b, k)))
        assert r.codec == "deflate"
        assert r.writer_schema["name"] == "ksql.orders"
        assert [f["name"] for f in r.writer_schema["fields"]] == \
            ["ordertime", "orderid", "itemid", "orderunits", "address"]
        got.append(list(r))
    assert [len(g) for g in got] == [1000, 1000, 500]
    want = []
    for k in sorted(tree(tmp / "out")):
        want += [json.loads(x) for x in (tmp / "out" / k).read_text().splitlines()]
    assert [r for g in got for r in g] == want


# arrays and maps in the Connect schema (host schema_items, ABI 1.4): datagen-avro makes them from
# this Avro schema, and sftp-json's JSON lines of the same records are what fastavro must read
ARRAYS_MAPS_SCHEMA = {"type": "record", "name": "bag", "namespace": "t", "fields": [
    {"name": "id", "type": {"type": "long", "arg.properties": {"iteration": {"start": 0}}}},
    {"name": "tags", "type": {"type": "array", "items": {
        "type": "string", "arg.properties": {"regex": "[a-z]{1,6}"}},
        "arg.properties": {"length": {"min": 0, "max": 4}}}},
    {"name": "lines", "type": {"type": "array", "items": {
        "type": "record", "name": "line", "fields": [
            {"name": "sku", "type": {"type": "string", "arg.properties": {"regex": "s[0-9]{3}"}}},
            {"name": "qty", "type": {"type": "int",
                                     "arg.properties": {"range": {"min": 1, "max": 9}}}}]},
        "arg.properties": {"length": {"min": 1, "max": 3}}}},
    {"name": "counts", "type": {"type": "map", "values": {
        "type": "int", "arg.properties": {"range": {"min": -50, "max": 50}}},
        "arg.properties": {"length": {"min": 0, "max": 3}, "keys": {"regex": "k[0-9]{2}"}}}},
    {"name": "maybe", "type": ["null", {"type": "array", "items": {
        "type": "long", "arg.properties": {"range": {"min": 0, "max": 1000}}},
        "arg.properties": {"length": {"min": 1, "max": 3}}}], "default": None},
]}


@pytest.mark.asan
def test_avro_arrays_and_maps_read_back_with_fastavro(sluice, tmp, s3):
    """Arrays of strings and of structs, a map of string to int and an optional array (null in
    some records) written as Avro objects: Avro arrays and a map in the writer schema, each record
    read back by fastavro equal to the one sftp-json wrote beside it."""
    import io

    import fastavro
    b = s3.bucket("avro-arrays-maps")
    (tmp / "bag.avsc").write_text(json.dumps(ARRAYS_MAPS_SCHEMA))
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: bags
    topic: bags
    source:
      plugin: datagen-avro
      config: {{ schema.filename: {tmp / 'bag.avsc'}, rate: 0, iterations: 300, random.seed: 11 }}
    sinks:
      - id: s3
        plugin: S3_SINK
        config:
          s3.bucket.name: {b}
          store.url: {s3.endpoint}
          aws.access.key.id: {s3.access_key}
          aws.secret.access.key: {s3.secret_key}
          format.class: avro
          flush.size: 200
      - id: files
        plugin: sftp-json
        config:
          directory: {tmp / 'out'}
          flush.size: 200
""")
    run_ok(sluice, cfg)
    keys = s3.keys(b)
    assert keys == [f"topics/bags/partition=0/bags+0+{o:010d}.avro" for o in (0, 200)]
    got = []
    for k in keys:
        r = fastavro.reader(io.BytesIO(s3.get(b, k)))
        types = {f["name"]: f["type"] for f in r.writer_schema["fields"]}
        assert types["tags"] == {"type": "array", "items": "string"}, types
        assert types["lines"]["type"] == "array" and \
            types["lines"]["items"]["type"] == "record", types
        assert [f["name"] for f in types["lines"]["items"]["fields"]] == ["sku", "qty"], types
        assert types["counts"] == {"type": "map", "values": "int"}, types
        assert types["maybe"] == ["null", {"type": "array", "items": "long"}], types
        got += list(r)
    want = []
    for k in sorted(tree(tmp / "out")):
        want += [json.loads(x) for x in (tmp / "out" / k).read_text().splitlines()]
    assert len(got) == len(want) == 300
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"record {i}: fastavro read {g!r}, sftp-json wrote {w!r}"
    assert [g["id"] for g in got] == list(range(300))
    # the data exercises what the test is about: empty and full arrays and maps, null and not
    assert {len(g["tags"]) for g in got} >= {0, 3}
    assert any(len(g["lines"]) > 1 for g in got)
    assert {len(g["counts"]) for g in got} >= {0, 2}
    assert any(g["maybe"] is None for g in got) and any(g["maybe"] for g in got)


def test_avro_map_with_int_keys_from_kafka_is_an_array_of_map_entries(sluice, kafka,
                                                                     schema_registry, s3, tmp):
    """A Connect map whose keys are not strings (from the avro converter reading AvroData's array
    of io.confluent.connect.avro.MapEntry) is written back as that array, as the avro converter
    writes it: the same writer schema's shape, and each record read back as it was produced."""
    import io
    import time

    import fastavro
    import kafkatest
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    entry = {"type": "record", "name": "MapEntry", "namespace": "io.confluent.connect.avro",
             "fields": [{"name": "key", "type": "int"}, {"name": "value", "type": "string"}]}
    schema = {"type": "record", "name": "scored", "namespace": "t", "fields": [
        {"name": "id", "type": "long"},
        {"name": "byrank", "type": {"type": "array", "items": entry}}]}
    b = s3.bucket("avro-map-entries")
    topic = kafkatest.uniq("s3mapentry")
    kafkatest.create_topic(kafka.bootstrap, topic, partitions=1)
    reg = SchemaRegistryClient({"url": schema_registry.url, "timeout": 30})
    ctx = SerializationContext(topic, MessageField.VALUE)
    ser = AvroSerializer(reg, json.dumps(schema))
    sent = [{"id": i, "byrank": [{"key": k * 10 - i, "value": f"v{i}.{k}"} for k in range(i % 4)]}
            for i in range(100)]
    kafkatest.produce(kafka.bootstrap, topic, [(f"k{i}".encode(), ser(r, ctx))
                                               for i, r in enumerate(sent)])
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
schema.registry:
  url: {schema_registry.url}
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: {topic}
    topic: {topic}
    key.converter: string
    value.converter: avro
    sinks:
      - id: s3
        plugin: s3
        config:
          s3.bucket.name: {b}
          store.url: {s3.endpoint}
          aws.access.key.id: {s3.access_key}
          aws.secret.access.key: {s3.secret_key}
          format.class: avro
          flush.size: 50
""")
    p = sluice.spawn("run", "--quiet", cfg)
    try:
        deadline = time.monotonic() + 90
        while len(s3.keys(b)) < 2 and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.2)
    finally:
        p.terminate()
        rc = p.wait(timeout=60)
    assert rc == 0
    keys = s3.keys(b)
    assert keys == [f"topics/{topic}/partition=0/{topic}+0+{o:010d}.avro" for o in (0, 50)]
    got = []
    for k in keys:
        r = fastavro.reader(io.BytesIO(s3.get(b, k)))
        byrank = r.writer_schema["fields"][1]["type"]
        assert byrank["type"] == "array", byrank
        assert byrank["items"]["name"] == "io.confluent.connect.avro.MapEntry", byrank
        assert [(f["name"], f["type"]) for f in byrank["items"]["fields"]] == \
            [("key", "int"), ("value", "string")], byrank
        got += list(r)
    assert got == sent


def test_requests_carry_sse_acl_token_and_sigv4(sluice, tmp, stub):
    Stub.answers = [(200, None)]
    write_records(tmp / "in.json", [rec(i, T0) for i in range(10)])
    keys = s3_keys(f"http://127.0.0.1:{stub.server_port}", "b", **{
        "s3.region": "eu-west-3", "s3.sse": "aws:kms", "s3.sse.kms.key.id": "key-1",
        "s3.acl.canned": "bucket-owner-full-control"})
    del keys["aws.access.key.id"], keys["aws.secret.access.key"]
    env = {"AWS_ACCESS_KEY_ID": "AKIDSTUB", "AWS_SECRET_ACCESS_KEY": "stub-secret-2",
           "AWS_SESSION_TOKEN": "stub-token-3"}
    r = sluice.run("run", pipeline(tmp, tmp / "in.json", keys), timeout=60, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    for v in env.values():
        if v != "AKIDSTUB":
            assert v not in r.stderr
    (method, path, h), = [x for x in stub.headers if x[0] == "PUT"]
    assert path == "/b/topics/orders/partition%3D0/orders%2B0%2B0000000000.json"
    lower = {k.lower(): v for k, v in h.items()}
    assert lower["x-amz-server-side-encryption"] == "aws:kms"
    assert lower["x-amz-server-side-encryption-aws-kms-key-id"] == "key-1"
    assert lower["x-amz-acl"] == "bucket-owner-full-control"
    assert lower["x-amz-security-token"] == "stub-token-3"
    assert len(lower["x-amz-content-sha256"]) == 64
    auth = lower["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDSTUB/"), auth
    assert "/eu-west-3/s3/aws4_request" in auth
    # the listing of old multipart uploads carries no object headers
    (_, lpath, lh), = [x for x in stub.headers if x[0] == "GET"]
    assert lpath == "/b/?prefix=topics%2Forders%2F&uploads="
    assert "x-amz-acl" not in {k.lower() for k in lh}


def test_listing_of_incomplete_uploads_follows_its_pages(sluice, tmp, stub):
    # S3 lists at most 1,000 uploads a page: an upload of this partition on the second page is
    # aborted as well, found after NextKeyMarker/NextUploadIdMarker
    key = "topics/orders/partition=0/orders+0+0000000000.json"

    def page(upload_id, more):
        nxt = (f"<NextKeyMarker>{key}</NextKeyMarker>"
               f"<NextUploadIdMarker>{upload_id}</NextUploadIdMarker>") if more else ""
        return (f"<ListMultipartUploadsResult><Bucket>b</Bucket>{nxt}"
                f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>"
                f"<Upload><Key>{key}</Key><UploadId>{upload_id}</UploadId></Upload>"
                f"</ListMultipartUploadsResult>")
    Stub.answers = [(200, None, page("up/1", True)), (204, None, ""),
                    (200, None, page("up-2", False)), (204, None, ""), (200, None)]
    write_records(tmp / "in.json", [rec(i, T0) for i in range(10)])
    run_ok(sluice, pipeline(tmp, tmp / "in.json",
                            s3_keys(f"http://127.0.0.1:{stub.server_port}", "b",
                                    secret="stub-secret-4")))
    assert [(m, p) for m, p, _ in stub.headers] == [
        ("GET", "/b/?prefix=topics%2Forders%2F&uploads="),
        ("DELETE", "/b/topics/orders/partition%3D0/orders%2B0%2B0000000000.json?uploadId=up%2F1"),
        ("GET", "/b/?key-marker=topics%2Forders%2Fpartition%3D0%2Forders%2B0%2B0000000000.json"
                "&prefix=topics%2Forders%2F&upload-id-marker=up%2F1&uploads="),
        ("DELETE", "/b/topics/orders/partition%3D0/orders%2B0%2B0000000000.json?uploadId=up-2"),
        ("PUT", "/b/topics/orders/partition%3D0/orders%2B0%2B0000000000.json"),
    ]


def test_incomplete_upload_of_a_crash_is_aborted(sluice, tmp, s3):
    b = s3.bucket("leftover")
    # what a crash mid-upload leaves: an upload of this partition's key, and one of another's
    mine = s3.client.create_multipart_upload(
        Bucket=b, Key="topics/orders/partition=0/orders+0+0000000000.json")["UploadId"]
    other = s3.client.create_multipart_upload(
        Bucket=b, Key="topics/orders/partition=1/orders+1+0000000000.json")["UploadId"]
    assert len(s3.uploads(b)) == 2
    write_records(tmp / "in.json", [rec(i, T0) for i in range(10)])
    run_ok(sluice, pipeline(tmp, tmp / "in.json", s3_keys(s3.endpoint, b,
                                                              secret=s3.secret_key)))
    assert s3.uploads(b) == [("topics/orders/partition=1/orders+1+0000000000.json", other)]
    assert mine != other
    assert s3.get(b, "topics/orders/partition=0/orders+0+0000000000.json").count(b"\n") == 10


def test_avro_refuses_records_without_a_schema(sluice, tmp, s3):
    b = s3.bucket("avro-schemaless")
    write_records(tmp / "in.json", [rec(i, T0) for i in range(5)])  # schemaless JSON values
    run_fails(sluice, pipeline(tmp, tmp / "in.json",
                               s3_keys(s3.endpoint, b, secret=s3.secret_key,
                                       **{"format.class": "avro"})),
              "format.class avro", "has no schema")
    assert committed(tmp) is None
    assert s3.keys(b) == []


@pytest.mark.parametrize("extra,expect", [
    ({"format.class": "ParquetFormat"}, "format.class: 'ParquetFormat' is not supported"),
    ({"s3.sse": "aws:kms:dsse"}, "s3.sse: 'aws:kms:dsse' is not AES256 or aws:kms"),
    ({"s3.sse.kms.key.id": "k"}, "s3.sse.kms.key.id: needs s3.sse: aws:kms"),
    ({"format.class": "avro", "s3.compression.type": "gzip"}, "use avro.codec: deflate"),
    ({"s3.path.style.access.enabled": "maybe"}, "s3.path.style.access.enabled: 'maybe'"),
    ({"store.url": "ftp://x"}, "store.url: 'ftp://x' must start with http:// or https://"),
    ({"aws.secret.access.key": ""}, "aws.secret.access.key: give aws.access.key.id and"),
    ({"partitioner.class": "weekly"}, "unknown partitioner 'weekly'"),
    ({"rotate.interval.ms": 0}, "rotate.interval.ms: must be -1 (off) or positive"),
])
def test_configuration_errors_name_the_key(sluice, tmp, extra, expect):
    write_records(tmp / "in.json", [rec(0, T0)])
    keys = s3_keys("http://127.0.0.1:9", "b", secret="lint-secret-4")
    keys.update(extra)
    r = sluice.run("lint", pipeline(tmp, tmp / "in.json", keys), timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert expect in r.stderr, r.stderr
    assert "lint-secret-4" not in r.stdout + r.stderr


def test_no_credentials_anywhere(sluice, tmp):
    write_records(tmp / "in.json", [rec(0, T0)])
    keys = s3_keys("http://127.0.0.1:9", "b")
    del keys["aws.access.key.id"], keys["aws.secret.access.key"]
    env = {"HOME": str(tmp), "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
           "AWS_SHARED_CREDENTIALS_FILE": ""}
    r = sluice.run("lint", pipeline(tmp, tmp / "in.json", keys), timeout=60, env=env)
    assert r.returncode == 2
    assert "aws.access.key.id: no credentials" in r.stderr, r.stderr
    assert str(tmp / ".aws" / "credentials") in r.stderr


def test_avro_from_kafka_new_object_on_schema_change(sluice, kafka, schema_registry, s3, tmp):
    """Confluent-framed Avro records of two schema versions in one Kafka partition: an object per
    schema (AvroFormat's rotation), each read back with fastavro under its own schema, with the
    logical types (Decimal, Timestamp) carried; the offsets committed once both objects exist."""
    import copy
    import io
    import time

    import fastavro
    import kafkatest
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    from test_kafka_avro import ORDER_SCHEMA, order

    b = s3.bucket("avro-kafka")
    topic = kafkatest.uniq("s3avro")
    kafkatest.create_topic(kafka.bootstrap, topic, partitions=1)
    v2 = copy.deepcopy(ORDER_SCHEMA)
    v2["fields"].append({"name": "channel", "type": ["null", "string"], "default": None})
    reg = SchemaRegistryClient({"url": schema_registry.url, "timeout": 30})
    ctx = SerializationContext(topic, MessageField.VALUE)
    s1, s2 = AvroSerializer(reg, json.dumps(ORDER_SCHEMA)), AvroSerializer(reg, json.dumps(v2))
    recs = [s1(order(i), ctx) for i in range(300)] + \
        [s2(dict(order(i), channel=f"c{i}"), ctx) for i in range(300, 500)]
    kafkatest.produce(kafka.bootstrap, topic, [(f"o{i}".encode(), v) for i, v in enumerate(recs)])
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
schema.registry:
  url: {schema_registry.url}
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: {topic}
    topic: {topic}
    key.converter: string
    value.converter: avro
    sinks:
      - id: s3
        plugin: s3
        config:
          s3.bucket.name: {b}
          store.url: {s3.endpoint}
          aws.access.key.id: {s3.access_key}
          aws.secret.access.key: {s3.secret_key}
          format.class: avro
          flush.size: 100000
""")
    p = sluice.spawn("run", "--quiet", cfg)
    try:
        # the first object is written when the schema changes, at offset 300
        deadline = time.monotonic() + 90
        while len(s3.keys(b)) < 1 and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.2)
        time.sleep(2)  # the rest taken (held in the open object)
    finally:
        p.terminate()  # drains: the open object is written, then the offsets committed
        rc = p.wait(timeout=60)
    assert rc == 0
    keys = s3.keys(b)
    assert keys == [f"topics/{topic}/partition=0/{topic}+0+{o:010d}.avro" for o in (0, 300)]
    first = fastavro.reader(io.BytesIO(s3.get(b, keys[0])))
    second = fastavro.reader(io.BytesIO(s3.get(b, keys[1])))
    assert [f["name"] for f in first.writer_schema["fields"]][-1] == "address"
    assert [f["name"] for f in second.writer_schema["fields"]][-1] == "channel"
    got1, got2 = list(first), list(second)
    assert len(got1) == 300 and len(got2) == 200
    for i, r in enumerate(got1 + got2):
        want = order(i)
        assert r["orderid"] == want["orderid"] and r["itemid"] == want["itemid"]
        assert r["price"] == want["price"], first.writer_schema["fields"][3]
        assert r["placed"] == want["placed"]
        assert r["note"] == want["note"] and r["address"] == want["address"]
    assert [r["channel"] for r in got2] == [f"c{i}" for i in range(300, 500)]
    group = kafkatest.group_id(topic, "s3")
    assert kafkatest.committed(kafka.bootstrap, group, topic) == {0: 500}


# --- tombstones (behavior.on.null.values), keys and headers objects (store.kafka.*) ---------------

def with_nulls(n, nulls):
    """n JSON records, a JSON null (a tombstone: the value is null) at each index of `nulls`."""
    return ["null" if i in nulls else rec(i, T0 + i) for i in range(n)]


def test_tombstone_fails_by_default_naming_its_offset_and_commits_nothing(sluice, tmp, s3):
    b = s3.bucket("null-fail")
    write_records(tmp / "in.json", with_nulls(10, {6}))
    run_fails(sluice, pipeline(tmp, tmp / "in.json", s3_keys(s3.endpoint, b, secret=s3.secret_key)),
              "behavior.on.null.values: fail", "topic orders partition 0 offset 6",
              "null value (a tombstone)")
    assert committed(tmp) is None
    assert s3.keys(b) == []


def test_tombstone_ignored_is_skipped_and_counted(sluice, tmp, s3):
    b = s3.bucket("null-ignore")
    recs = with_nulls(12, {0, 5, 11})
    write_records(tmp / "in.json", recs)
    r = sluice.run("run", pipeline(tmp, tmp / "in.json",
                                   s3_keys(s3.endpoint, b, secret=s3.secret_key,
                                           **{"behavior.on.null.values": "ignore",
                                              "flush.size": 5})), timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "counter records.null.ignored: 3" in r.stderr
    # rotation counts the records written: 1-4,6 | 7-10 (then the end of the run)
    d = "topics/orders/partition=0/"
    assert s3.keys(b) == [d + "orders+0+0000000001.json", d + "orders+0+0000000007.json"]
    assert s3.get(b, d + "orders+0+0000000001.json") == \
        "".join(recs[i] + "\n" for i in (1, 2, 3, 4, 6)).encode()
    assert s3.get(b, d + "orders+0+0000000007.json") == \
        "".join(recs[i] + "\n" for i in (7, 8, 9, 10)).encode()
    assert committed(tmp)["next_offset"] == 12


KEYED = """      transforms:
        - plugin: value-to-key
          config: {fields: id}
        - plugin: insert-header
          config: {header: src, value.literal: file}
"""


@pytest.mark.parametrize("kfmt,kext", [("io.confluent.connect.s3.format.json.JsonFormat", "json"),
                                       ("bytes", "bin")])
def test_keys_and_headers_objects_beside_each_value_object(sluice, tmp, s3, kfmt, kext):
    b = s3.bucket("companions-" + kext)
    recs = [rec(i, T0 + i) for i in range(10)]
    write_records(tmp / "in.json", recs)
    cfg = pipeline(tmp, tmp / "in.json",
                   s3_keys(s3.endpoint, b, secret=s3.secret_key,
                           **{"flush.size": 4, "store.kafka.keys": "true",
                              "keys.format.class": kfmt, "store.kafka.headers": "true"}),
                   source_extra=KEYED)
    run_ok(sluice, cfg)
    d = "topics/orders/partition=0/orders+0+"
    want = []
    for o in (0, 4, 8):
        want += [f"{d}{o:010d}.headers.json", f"{d}{o:010d}.json", f"{d}{o:010d}.keys.{kext}"]
    assert s3.keys(b) == sorted(want)
    for o in (0, 4, 8):
        values = s3.get(b, f"{d}{o:010d}.json").decode().splitlines()
        keys = s3.get(b, f"{d}{o:010d}.keys.{kext}").decode().splitlines()
        headers = s3.get(b, f"{d}{o:010d}.headers.json").decode().splitlines()
        assert len(values) == len(keys) == len(headers) == min(4, 10 - o)
        for v, k, h in zip(values, keys, headers):
            v = json.loads(v)
            k = json.loads(k)
            if kext == "bin":  # the key's bytes as the key converter made them (its envelope)
                k = k["payload"]
            assert k == {"id": v["id"]}, (k, v)
            assert json.loads(h) == [{"key": "src", "value": "file"}]
    assert committed(tmp)["next_offset"] == 10
    # a replay rewrites the same three objects of each file, and nothing else
    first = {k: s3.get(b, k) for k in s3.keys(b)}
    (tmp / "offsets.json").unlink()
    run_ok(sluice, cfg)
    assert {k: s3.get(b, k) for k in s3.keys(b)} == first


def test_keys_object_refuses_records_without_a_key(sluice, tmp, s3):
    b = s3.bucket("companions-nokey")
    write_records(tmp / "in.json", [rec(i, T0) for i in range(3)])
    run_fails(sluice, pipeline(tmp, tmp / "in.json",
                               s3_keys(s3.endpoint, b, secret=s3.secret_key,
                                       **{"store.kafka.keys": "true"})),
              "store.kafka.keys: the record has no key")
    assert committed(tmp) is None
    assert s3.keys(b) == []


@pytest.mark.parametrize("extra,expect", [
    ({"behavior.on.null.values": "delete"}, "behavior.on.null.values"),
    ({"behavior.on.null.values": "write"},
     "behavior.on.null.values: write needs store.kafka.keys: true"),
    ({"behavior.on.null.values": "write", "store.kafka.keys": "true",
      "tombstone.encoded.partition": ""}, "tombstone.encoded.partition: must not be empty"),
    ({"store.kafka.keys": "true", "keys.format.class":
      "io.confluent.connect.s3.format.parquet.ParquetFormat"},
     "keys.format.class: 'io.confluent.connect.s3.format.parquet.ParquetFormat' is not supported"),
    ({"store.kafka.keys": "yes please"}, "store.kafka.keys"),
    ({"store.kafka.headers": "true", "headers.format.class": "avro"},
     "headers.format.class: 'avro' is not supported"),
    ({"store.kafka.headers": "true", "s3.compression.type": "gzip"},
     "store.kafka.headers: not supported with s3.compression.type: gzip"),
])
def test_null_keys_and_headers_configuration_errors(sluice, tmp, extra, expect):
    write_records(tmp / "in.json", [rec(0, T0)])
    keys = s3_keys("http://127.0.0.1:9", "b", secret="lint-secret-5")
    keys.update(extra)
    r = sluice.run("lint", pipeline(tmp, tmp / "in.json", keys), timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert expect in r.stderr, r.stderr


@pytest.mark.parametrize("kfmt", ["json", "io.confluent.connect.s3.format.avro.AvroFormat"])
def test_tombstones_written_from_kafka_with_keys_and_headers_beside_avro(
        sluice, kafka, schema_registry, s3, tmp, kfmt):
    """Confluent-framed Avro orders with tombstones among them (behavior.on.null.values: write):
    the orders in the Avro object with their keys (JSON lines, or an Avro file of the string
    keys' schema) and headers objects record for record; the tombstones in the tombstone
    directory, keys and headers objects only (no value object)."""
    import io
    import time

    import fastavro
    import kafkatest
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    from test_kafka_avro import ORDER_SCHEMA, order

    b = s3.bucket("avro-tombstones-" + ("avro" if "Avro" in kfmt else "json"))
    kext = "avro" if "Avro" in kfmt else "json"

    def read_keys(key):
        body = s3.get(b, key)
        if kext == "avro":
            r = fastavro.reader(io.BytesIO(body))
            assert r.writer_schema == "string" or r.writer_schema.get("type") == "string"
            return list(r)
        return [json.loads(k) for k in body.decode().splitlines()]

    topic = kafkatest.uniq("s3tomb")
    kafkatest.create_topic(kafka.bootstrap, topic, partitions=1)
    reg = SchemaRegistryClient({"url": schema_registry.url, "timeout": 30})
    ser = AvroSerializer(reg, json.dumps(ORDER_SCHEMA))
    ctx = SerializationContext(topic, MessageField.VALUE)
    tombs = {i for i in range(100) if i % 10 == 3}
    kafkatest.produce(kafka.bootstrap, topic,
                      [(f"o{i}".encode(), None if i in tombs else ser(order(i), ctx),
                        [("n", str(i).encode()), ("src", b"k")]) for i in range(100)])
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
schema.registry:
  url: {schema_registry.url}
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: {topic}
    topic: {topic}
    key.converter: string
    value.converter: avro
    sinks:
      - id: s3
        plugin: s3
        config:
          s3.bucket.name: {b}
          store.url: {s3.endpoint}
          aws.access.key.id: {s3.access_key}
          aws.secret.access.key: {s3.secret_key}
          format.class: avro
          flush.size: 100
          behavior.on.null.values: write
          store.kafka.keys: true
          keys.format.class: {kfmt}
          store.kafka.headers: true
""")
    group = kafkatest.group_id(topic, "s3")
    p = sluice.spawn("run", "--quiet", cfg)
    try:
        # the 100th record (tombstones count) rotates the partition's objects, five of them
        deadline = time.monotonic() + 90
        while len(s3.keys(b)) < 5 and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.2)
    finally:
        p.terminate()
        rc = p.wait(timeout=60)
    assert rc == 0
    d, t = f"topics/{topic}/partition=0/{topic}+0+", f"topics/{topic}/tombstone/{topic}+0+"
    assert s3.keys(b) == sorted([d + "0000000000.avro", d + f"0000000000.keys.{kext}",
                                 d + "0000000000.headers.json", t + f"0000000003.keys.{kext}",
                                 t + "0000000003.headers.json"])
    orders = [i for i in range(100) if i not in tombs]
    got = list(fastavro.reader(io.BytesIO(s3.get(b, d + "0000000000.avro"))))
    keys = read_keys(d + f"0000000000.keys.{kext}")
    headers = s3.get(b, d + "0000000000.headers.json").decode().splitlines()
    assert len(got) == len(keys) == len(headers) == len(orders)
    for i, r, k, h in zip(orders, got, keys, headers):
        assert r["orderid"] == order(i)["orderid"]
        assert k == f"o{i}"
        assert json.loads(h) == [{"key": "n", "value": str(i)}, {"key": "src", "value": "k"}]
    assert read_keys(t + f"0000000003.keys.{kext}") == [f"o{i}" for i in sorted(tombs)]
    assert [json.loads(h)[0]["value"]
            for h in s3.get(b, t + "0000000003.headers.json").decode().splitlines()] \
        == [str(i) for i in sorted(tombs)]
    assert kafkatest.committed(kafka.bootstrap, group, topic) == {0: 100}


@pytest.mark.parametrize("refused", [1, 2, 3])
def test_companions_stored_before_the_value_object_and_commit_waits_for_all(
        sluice, tmp, stub, refused):
    """The keys and headers objects go first, the value object last; the `refused`-th PUT is
    denied: nothing after it is sent and nothing is committed (the three are one unit)."""
    Stub.answers = [(200, None)] * refused + [(403, "AccessDenied")]
    write_records(tmp / "in.json", [rec(i, T0) for i in range(10)])
    run_fails(sluice, pipeline(tmp, tmp / "in.json",
                               s3_keys(f"http://127.0.0.1:{stub.server_port}", "b",
                                       secret="stub-secret-1",
                                       **{"store.kafka.keys": "true",
                                          "store.kafka.headers": "true"}),
                               source_extra=KEYED),
              "access denied")
    assert committed(tmp) is None
    d = "/b/topics/orders/partition%3D0/orders%2B0%2B0000000000"
    puts = [path for method, path, _ in stub.headers if method == "PUT"]
    assert puts == [d + ".keys.json", d + ".headers.json", d + ".json"][:refused]


def test_avro_keys_object_refuses_a_struct_key_without_a_schema(sluice, tmp, s3):
    b = s3.bucket("companions-avro-schemaless")
    write_records(tmp / "in.json", [rec(i, T0) for i in range(3)])
    run_fails(sluice, pipeline(tmp, tmp / "in.json",
                               s3_keys(s3.endpoint, b, secret=s3.secret_key,
                                       **{"store.kafka.keys": "true", "keys.format.class": "avro"}),
                               source_extra=KEYED),
              "keys.format.class avro: the key has no schema")
    assert committed(tmp) is None
    assert s3.keys(b) == []
