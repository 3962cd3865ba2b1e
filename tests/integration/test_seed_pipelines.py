"""The seed's datagen streams as shipped in pipelines/ (flota, orders, tarjeta): each runs in-process,
unchanged, for a bounded number of records (SLUICE_ITERATIONS) and leaves the seed's hourly tree of
1000-line JSON files named after their first offset, every record once, and the same records on the
console; each passes `sluice lint` and its `*_test.yaml`; and tarjeta runs, unchanged, against a
real Kafka broker, schema registry and sshd chosen by environment variables (KAFKA_BOOTSTRAP,
SFTP_HOST, ...), producing Confluent-framed Avro that fastavro decodes and SFTP files holding every
record once."""
import datetime
import io
import json
import re
import signal
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import fastavro
import pytest

import kafkatest
from sluicetest import REPO, scaled, wait_exit, wait_until

PIPELINES = REPO / "pipelines"

# origin (insert-field's static value) → the fields every record of that kind has, in order
FIELDS = {
    "flota": {
        "description": ["vehicle_id", "driver_name", "license_plate", "origin"],
        "location": ["vehicle_id", "location_latitude", "location_longitude", "ts", "origin"],
        "sensors": ["vehicle_id", "engine_temperature", "average_rpm", "origin"],
    },
    "orders": {
        "orders": ["ordertime", "orderid", "itemid", "orderunits", "address", "origin"],
        "purchases": ["id", "item_type", "quantity", "price_per_unit", "origin"],
    },
    "tarjeta": {
        "credit_cards": ["card_id", "card_number", "cvv", "expiration_date", "origin"],
        "transactions": ["transaction_id", "card_id", "user_id", "purchase_id", "store_id",
                         "origin"],
    },
}

# Records per source: multiples of 1000, so datagen's batches of 1000 (max.interval 0) meet the
# sink's flush.size and every file has exactly 1000 lines whenever the sink flushes.
ITERATIONS = {"flota": 1000, "orders": 2000, "tarjeta": 2000}

FILE_RE = re.compile(r"topics/(?P<topic>[a-z]+)/year=(?P<y>\d{4})/month=(?P<m>\d{2})/"
                     r"day=(?P<d>\d{2})/hour=(?P<h>\d{2})/(?P=topic)\+0\+(?P<off>\d{10})\.json$")
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def read_tree(root, topic):
    """[(first offset, hour datetime, [records])] of the final files under root/topics/topic,
    sorted by offset; fails on a name outside the seed's layout or a temporary file left."""
    files = []
    base = Path(root) / "topics" / topic
    assert base.is_dir(), f"no {base}"
    for p in sorted(base.rglob("*")):
        if p.is_dir():
            continue
        rel = str(p.relative_to(root))
        assert not rel.endswith(".tmp"), f"temporary file left: {rel}"
        m = FILE_RE.match(rel)
        assert m, f"{rel} is not topics/{topic}/year=YYYY/month=MM/day=dd/hour=HH/{topic}+0+<10 digits>.json"
        hour = datetime.datetime(int(m["y"]), int(m["m"]), int(m["d"]), int(m["h"]),
                                 tzinfo=datetime.timezone.utc)
        lines = p.read_text().splitlines()
        files.append((int(m["off"]), hour, [json.loads(ln) for ln in lines]))
    files.sort(key=lambda f: f[0])
    return files


def check_records(stream, records, n_per_source):
    """Every record has exactly its kind's fields, each kind n_per_source times; the transforms of
    the pipeline left their mark."""
    counts = {}
    for r in records:
        kind = r.get("origin")
        assert kind in FIELDS[stream], f"record without a known origin: {r}"
        assert list(r) == FIELDS[stream][kind], f"{kind}: fields {list(r)}"
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "location":
            assert ISO_MS.match(r["ts"]), r
        elif kind == "orders":
            assert ISO_MS.match(r["ordertime"]), r
            assert r["ordertime"].startswith(("2017-", "2018-")), r   # the quickstart's range
        elif kind == "purchases":
            assert isinstance(r["price_per_unit"], float), r          # a decimal cast to float64
        elif kind == "credit_cards":
            assert r["card_number"] == "****-****-****-****" and r["cvv"] == 0, r
    assert counts == {k: n_per_source for k in FIELDS[stream]}, counts


def check_tree(files, n_total, flush_size, t0, t1, exact=True):
    """Files named after their first offset, contiguous from 0 to n_total, in the hour they were
    written (the records' timestamps are the time datagen made them)."""
    nxt = 0
    for off, hour, recs in files:
        assert off == nxt, f"file at offset {off}, expected {nxt} (a gap or an overlap)"
        assert 0 < len(recs) <= flush_size
        if exact:
            assert len(recs) == flush_size, f"file +{off:010d} has {len(recs)} lines"
        lo = datetime.datetime.fromtimestamp(t0, datetime.timezone.utc).replace(
            minute=0, second=0, microsecond=0)
        assert lo <= hour <= datetime.datetime.fromtimestamp(t1, datetime.timezone.utc), hour
        nxt += len(recs)
    assert nxt == n_total, f"{nxt} records in files, expected {n_total}"


@pytest.mark.parametrize("stream", ["flota", "orders", "tarjeta"])
def test_seed_pipeline_in_process(sluice, tmp, stream):
    """pipelines/<stream>.yaml as shipped, in-process: it ends by itself after SLUICE_ITERATIONS
    records per source, with the hourly tree of 1000-line files and the console output."""
    n = ITERATIONS[stream]
    total = n * len(FIELDS[stream])
    env = {"SLUICE_ITERATIONS": str(n), "SLUICE_MAX_INTERVAL": "0",
           "SLUICE_STATE_DIR": str(tmp / "state"), "SLUICE_OUT_DIR": str(tmp / "out")}
    t0 = time.time()
    r = sluice.run("run", PIPELINES / f"{stream}.yaml", env=env, timeout=120)
    t1 = time.time()
    assert r.returncode == 0, r.stderr
    assert "running" in r.stderr and "in-process" in r.stderr, r.stderr

    files = read_tree(tmp / "out", stream)
    check_tree(files, total, 1000, t0, t1)
    check_records(stream, [x for _, _, recs in files for x in recs], n)

    console = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert len(console) == total, f"{len(console)} console lines, expected {total}"
    check_records(stream, console, n)
    # the files and the console saw the same records, in the same order
    assert console == [x for _, _, recs in files for x in recs]

    # positions were committed: a second run with the same count has nothing more to make
    r2 = sluice.run("run", "--quiet", PIPELINES / f"{stream}.yaml", env=env, timeout=60)
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout == "", "the second run generated records again"
    assert len(read_tree(tmp / "out", stream)) == len(files)


def test_seed_pipeline_resumes_offsets(sluice, tmp):
    """Raising SLUICE_ITERATIONS continues the stream: the new files start at the offset where the
    first run's ended (flota, 1000 then 2000 records per source)."""
    env = {"SLUICE_MAX_INTERVAL": "0", "SLUICE_STATE_DIR": str(tmp / "state"),
           "SLUICE_OUT_DIR": str(tmp / "out")}
    t0 = time.time()
    for it in (1000, 2000):
        r = sluice.run("run", "--quiet", PIPELINES / "flota.yaml",
                       env={**env, "SLUICE_ITERATIONS": str(it)}, timeout=120)
        assert r.returncode == 0, r.stderr
        assert len(r.stdout.splitlines()) == 3000
    files = read_tree(tmp / "out", "flota")
    check_tree(files, 6000, 1000, t0, time.time())
    check_records("flota", [x for _, _, recs in files for x in recs], 2000)


@pytest.mark.parametrize("stream", ["flota", "orders", "tarjeta"])
def test_seed_pipeline_lint_and_unit_tests(sluice, stream):
    """`sluice lint` accepts the file as shipped, and its *_test.yaml passes with at least three
    cases."""
    r = sluice.run("lint", PIPELINES / f"{stream}.yaml", timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 file OK" in r.stdout

    r = sluice.run("test", "-v", PIPELINES / f"{stream}_test.yaml", timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"(\d+) passed, 0 failed", r.stdout)
    assert m and int(m[1]) >= 3, r.stdout


def test_seed_pipeline_lint_kafka_sftp_form(sluice, tmp):
    """The same files in Kafka + SFTP mode, chosen by the environment alone: lint accepts them, and
    with SFTP_HOST set but no way to check its host key they are refused, naming the keys."""
    for stream in ("flota", "orders", "tarjeta"):
        cfg = PIPELINES / f"{stream}.yaml"
        env = {"KAFKA_BOOTSTRAP": "127.0.0.1:9", "SFTP_HOST": "127.0.0.1",
               "SFTP_PRIVATE_KEY": "/dev/null",
               "SFTP_HOST_KEY_SHA256": "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
               "SFTP_WORKING_DIR": "/upload"}
        r = sluice.run("lint", cfg, env=env, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "sftp.host is set: writing to 127.0.0.1" in r.stderr, r.stderr
        # an SFTP server whose host key cannot be checked is refused, naming the keys to set
        env.pop("SFTP_HOST_KEY_SHA256")
        r = sluice.run("lint", cfg, env=env, timeout=30)
        assert r.returncode == 2 and "sftp.host.key.sha256" in r.stdout + r.stderr, \
            r.stdout + r.stderr


def registry_schema(url, sid):
    with urllib.request.urlopen(f"{url}/schemas/ids/{sid}", timeout=30) as resp:
        return json.loads(json.loads(resp.read())["schema"])


def registry_subjects(url):
    with urllib.request.urlopen(f"{url}/subjects", timeout=30) as resp:
        return set(json.loads(resp.read()))


def test_tarjeta_through_kafka_registry_and_sftp(sluice, tmp, kafka, schema_registry,
                                                 sftp_server):
    """pipelines/tarjeta.yaml as shipped, in Kafka + SFTP mode by environment (KAFKA_BOOTSTRAP,
    SFTP_*) with SLUICE_VALUE_CONVERTER=avro: the topic
    `tarjeta` holds Confluent-framed Avro (one subject per record type) that fastavro decodes, card
    numbers masked; the SFTP server gets the hourly tree with every record once, named after
    contiguous offsets; SIGTERM ends the run with 0."""
    n = 1500
    total = 2 * n
    srv = sftp_server
    cfg = PIPELINES / "tarjeta.yaml"
    env = {"SLUICE_ITERATIONS": str(n), "SLUICE_MAX_INTERVAL": "0",
           "SLUICE_STATE_DIR": str(tmp / "state"), "SLUICE_VALUE_CONVERTER": "avro",
           "KAFKA_BOOTSTRAP": kafka.bootstrap, "SCHEMA_REGISTRY_URL": schema_registry.url,
           "SFTP_HOST": srv.host, "SFTP_PORT": str(srv.port), "SFTP_USER": srv.user,
           "SFTP_PRIVATE_KEY": str(srv.key), "SFTP_HOST_KEY_SHA256": srv.host_key_sha256,
           "SFTP_WORKING_DIR": srv.working_dir}
    root = srv.root / srv.working_dir.lstrip("/")

    def lines_on_server():
        base = root / "topics" / "tarjeta"
        if not base.is_dir():
            return 0
        return sum(len(p.read_text().splitlines()) for p in base.rglob("*.json"))

    t0 = time.time()
    console = open(tmp / "console.out", "w")
    proc = sluice.spawn("run", "--quiet", cfg, env=env, stdout=console)
    try:
        # the sink pipeline consumes the topic until stopped
        wait_until(lambda: lines_on_server() >= total or proc.poll() is not None,
                   scaled(120), interval=0.2, what=f"{total} records on the SFTP server")
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=scaled(60))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        console.close()
    assert proc.returncode == 0, err
    t1 = time.time()

    # Kafka: Confluent wire format, schemas from the registry, one subject per record type
    msgs = kafkatest.consume(kafka.bootstrap, "tarjeta", n=total, timeout=60)
    assert len(msgs) == total, f"{len(msgs)} of {total} records in Kafka"
    schemas, decoded = {}, []
    for m in msgs:
        magic, sid = struct.unpack(">bI", m.value[:5])
        assert magic == 0, m.value[:8]
        if sid not in schemas:
            schemas[sid] = fastavro.parse_schema(registry_schema(schema_registry.url, sid))
        decoded.append(fastavro.schemaless_reader(io.BytesIO(m.value[5:]), schemas[sid]))
    assert len(schemas) == 2, schemas
    subjects = registry_subjects(schema_registry.url)
    assert {"tarjeta-datagen.example.users", "tarjeta-datagen.example.transactions"} <= subjects, \
        subjects
    check_records("tarjeta", decoded, n)

    # SFTP: the hourly tree, every record once, files named after contiguous offsets (a flush when
    # the sink catches up may close a file before 1000 lines)
    files = read_tree(root, "tarjeta")
    check_tree(files, total, 1000, t0, t1, exact=False)
    lines = [x for _, _, recs in files for x in recs]
    check_records("tarjeta", lines, n)
    assert lines == decoded, "the files do not hold the topic's records in offset order"
    # the console printed every record too
    assert len((tmp / "console.out").read_text().splitlines()) == total


@pytest.mark.tsan
def test_seed_pipelines_run_together(sluice, tmp):
    """The three files agree on their top-level keys, so one process runs them (as their headers
    say); a second process on the same state directory is refused, naming the locked offsets
    file."""
    env = {"SLUICE_ITERATIONS": "1000", "SLUICE_MAX_INTERVAL": "0",
           "SLUICE_STATE_DIR": str(tmp / "state"), "SLUICE_OUT_DIR": str(tmp / "out")}
    files = [PIPELINES / f"{s}.yaml" for s in ("flota", "orders", "tarjeta")]
    t0 = time.time()
    r = sluice.run("run", "--quiet", *files, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "running 10 pipelines in-process" in r.stderr, r.stderr
    for stream in ("flota", "orders", "tarjeta"):
        files_ = read_tree(tmp / "out", stream)
        check_tree(files_, 1000 * len(FIELDS[stream]), 1000, t0, time.time())
        check_records(stream, [x for _, _, recs in files_ for x in recs], 1000)
    assert len(r.stdout.splitlines()) == 7000

    # a second process while one runs: the offsets file is locked
    slow = {**env, "SLUICE_ITERATIONS": "-1", "SLUICE_MAX_INTERVAL": "500ms"}
    first = sluice.spawn("run", "--quiet", files[0], env=slow)
    try:
        time.sleep(scaled(1))  # it takes the lock at start, in milliseconds
        assert first.poll() is None, first.communicate()[1]
        r = sluice.run("run", "--quiet", files[1], env=slow, timeout=30)
        assert r.returncode == 2, r.stderr
        assert "in use by another sluice process" in r.stderr, r.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        assert wait_exit(first, 60) == 0


DOC_ENV = {"CCLOUD_BOOTSTRAP": "pkc-xxxxx.europe-west1.gcp.confluent.cloud:9092",
           "CCLOUD_API_KEY": "key-sluiceCANARY", "CCLOUD_API_SECRET": "secret-sluiceCANARY",
           "SR_URL": "https://psrc-xxxxx.europe-west3.gcp.confluent.cloud",
           "SR_API_KEY": "srkey-sluiceCANARY", "SR_API_SECRET": "srsecret-sluiceCANARY",
           "SFTP_PASSWORD": "pw-sluiceCANARY", "MYSQL_PASSWORD": "pw-sluiceCANARY",
           "SLUICE_VALUE_CONVERTER": "avro"}
TAIL = """pipelines:
  - id: doc-example
    source:
      plugin: datagen-avro
      config: {quickstart: ORDERS}
"""


def doc_yaml_blocks(name):
    text = (REPO / "docs" / name).read_text()
    return re.findall(r"```yaml\n(.*?)```", text, re.S)


@pytest.mark.parametrize("doc", ["concepts.md", "operations.md", "from-kafka-connect.md"])
def test_doc_yaml_examples_lint(sluice, tmp, doc):
    """Every YAML example of the guides is accepted by `sluice lint` (a fragment of a file gets the
    lines it needs around it): the keys and plugin names they show exist."""
    blocks = doc_yaml_blocks(doc)
    assert blocks, f"no yaml block in {doc}"
    for i, b in enumerate(blocks):
        if "..." in b:  # the transforms fragment of from-kafka-connect.md: fill in its source
            b = b.replace("      ...\n", "      plugin: datagen-avro\n      config: {quickstart: orders}\n")
        if not b.startswith("version: 1"):
            if b.lstrip().startswith("- id:"):
                b = "version: 1\npipelines:\n" + b
            else:
                b = "version: 1\npipelines:\n  - id: doc-example\n" + b
        if "\npipelines:" not in b:
            b += TAIL
        if "offset.storage.file.filename" not in b:
            b = b.replace("version: 1\n", f"version: 1\noffset.storage.file.filename: {tmp}/o.json\n", 1)
        b = b.replace("/etc/sluice/known_hosts", "/etc/hostname").replace(
            "/var/lib/sluice", str(tmp))
        if re.search(r"plugin: (file|sftp-json)\b", b) and "directory: out" in b:
            b = b.replace("directory: out", f"directory: {tmp}/out")
        f = tmp / f"{doc}.{i}.yaml"
        f.write_text(b)
        (tmp / "in.jsonl").write_text("")
        r = sluice.run("lint", f, env=DOC_ENV, timeout=30)
        assert r.returncode == 0, f"{doc} yaml block #{i + 1}:\n{b}\n{r.stdout}{r.stderr}"
        # --print shows none of DOC_ENV's secrets (the session's canary scan reads its output)
        r = sluice.run("lint", "--print", f, env=DOC_ENV, timeout=30)
        assert r.returncode == 0 and "sluiceCANARY" not in r.stdout, r.stdout
