"""mysql-cdc, mode binlog (Debezium's MySQL connector) against a real MariaDB (tests/services/mariadb.sh).

- every column type, snapshot (`r`) and streamed (`c`) rows checked value by value and schema by
  schema (json with schemas: Debezium's Connect types, logical names, parameters), updates
  (before + after), deletes and tombstones;
- the same through a real Kafka broker and schema registry (avro), read back with confluent-kafka
  and fastavro: topics `<prefix>.<db>.<table>`, Key/Envelope schema names, keys;
- ALTER TABLE ADD/DROP COLUMN while streaming;
- SIGKILL of sluice in the middle of multi-row transactions: no change lost;
- MariaDB stopped and killed mid-stream: no change lost, no busy loop while it is away;
- wrong password, missing REPLICATION SLAVE, binlog_format=STATEMENT, a purged binlog position
  (and snapshot.mode when_needed): each a clear error, quickly, no busy loop;
- `sluice lint` errors for bad keys.
"""
import base64
import decimal
import io
import json
import os
import resource
import signal
import struct
import threading
import time
import urllib.request

import fastavro
import pytest

import kafkatest
from mariadbtest import MariaDB
from sluicetest import scaled, wait_exit, wait_until, write_yaml

ALLTYPES = """CREATE TABLE shop.alltypes (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  dec1 DECIMAL(65,30), dec2 DECIMAL(10,2), f FLOAT, dbl DOUBLE,
  c CHAR(5), vc VARCHAR(300), txt TEXT, lat VARCHAR(20) CHARACTER SET latin1,
  bin BINARY(4), vb VARBINARY(10), bl BLOB,
  d DATE, dt0 DATETIME, dt3 DATETIME(3), dt6 DATETIME(6), ts TIMESTAMP(6) NULL,
  t0 TIME, t6 TIME(6), y YEAR, e ENUM('small','medium','large'), s SET('a','b','c'),
  b1 BIT(1), b12 BIT(12), j JSON)"""

DEC1 = "-12345678901234567890123456789012345.123456789012345678901234567890"

ROW_SQL = ("{id}, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, "
           "-9223372036854775808, 18446744073709551615, "
           f"'{DEC1}', -12.34, 1.5, 3.141592653589793, "
           "'ab', 'héllo wörld ✓', REPEAT('x', 1000), 'café ñ €', "
           "x'0102', x'00ff10', x'deadbeef00', "
           "'9999-12-31', '1000-01-01 00:00:00', '2024-01-02 03:04:05.678', "
           "'9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', "
           "'-838:59:59', '-12:34:56.789012', 2155, 'large', 'c,a', b'1', b'100000000011', "
           "'{{\"k\": [1, 2.5, \"x\"]}}'")


def expected_row(i):
    """The row of ROW_SQL as Debezium's JSON payload (json converter, decimals as base64)."""
    return {
        "id": i, "ti": -128, "tiu": 255, "si": -32768, "siu": 65535, "mi": -8388608,
        "miu": 16777215, "i": -2147483648, "iu": 4294967295, "bi": -9223372036854775808,
        "biu": -1,  # bigint.unsigned.handling.mode long: 2^64-1 wraps, as in Debezium
        "dec1": decimal.Decimal(DEC1), "dec2": decimal.Decimal("-12.34"), "f": 1.5,
        "dbl": 3.141592653589793, "c": "ab", "vc": "héllo wörld ✓", "txt": "x" * 1000,
        "lat": "café ñ €", "bin": b"\x01\x02\x00\x00", "vb": b"\x00\xff\x10",
        "bl": b"\xde\xad\xbe\xef\x00",
        "d": 2932896,                      # days to 9999-12-31
        "dt0": -30610224000000,            # ms (io.debezium.time.Timestamp)
        "dt3": 1704164645678,              # ms
        "dt6": 253402300799999999,         # µs (io.debezium.time.MicroTimestamp)
        "ts": "2038-01-19T03:14:07.999999Z",
        "t0": -3020399000000,              # µs (io.debezium.time.MicroTime)
        "t6": -45296789012,
        "y": 2155, "e": "large", "s": "a,c", "b1": True,
        "b12": b"\x03\x08",                # io.debezium.data.Bits: little-endian
        "j": '{"k": [1, 2.5, "x"]}',
    }


decimal.getcontext().prec = 100  # DECIMAL(65,30) exactly
SCALES = {"dec1": 30, "dec2": 2}
BYTES = {"bin", "vb", "bl", "b12"}


def decode_json_row(row):
    """Base64 bytes and decimals of a json-converter payload row to Python values."""
    if row is None:
        return None
    out = dict(row)
    for k, v in row.items():
        if v is None:
            continue
        if k in SCALES:
            out[k] = decimal.Decimal(int.from_bytes(base64.b64decode(v), "big", signed=True)) \
                .scaleb(-SCALES[k])
        elif k in BYTES:
            out[k] = base64.b64decode(v)
    return out


# -- helpers -------------------------------------------------------------------------------------

def db_cfg(m, user=None, password=None, extra=""):
    user = user or m.cdc_user
    password = password if password is not None else m.cdc_password
    lines = [f"database.hostname: {m.host}", f"database.port: {m.port}",
             f"database.user: {user}", f"database.password: {password}",
             "connection.backoff.ms: 200ms"]
    if "database.server.id" not in extra:
        lines.append("database.server.id: 4242")
    lines += [ln.strip() for ln in extra.strip().splitlines() if ln.strip()]
    return "".join(f"        {ln}\n" for ln in lines)


def inproc_yaml(tmp, m, out, *, extra="", schemas=False, name="p.yaml", user=None, password=None):
    return write_yaml(tmp / name, f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: cdc
    topic: cdc
    value.converter: json
    value.converter.schemas.enable: {'true' if schemas else 'false'}
    source:
      plugin: mysql-cdc
      config:
{db_cfg(m, user, password, extra)}    sinks:
      - id: out
        plugin: file
        config: {{file: {out}}}
""")


def read_lines(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    return [json.loads(ln) for ln in data.decode().splitlines() if ln.strip()]


def wait_lines(path, n, timeout=30, proc=None):
    def enough():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"sluice exited ({proc.returncode}): "
                                 f"{proc.stderr.read().decode()[-3000:]}")
        return len(read_lines(path)) >= n
    wait_until(enough, timeout, interval=0.1, what=f"{n} records in {path}")
    return read_lines(path)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    rc = wait_exit(proc, 30)
    err = proc.stderr.read().decode()
    assert rc == 0, err
    return err


@pytest.fixture
def procs():
    """sluice processes a test started: killed at the end if a failed assertion left them."""
    ps = []
    yield ps
    for p in ps:
        if p.poll() is None:
            p.kill()
            p.wait()


def track(procs, p):
    procs.append(p)
    return p


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def payload(rec):
    return rec["payload"] if rec is not None and "payload" in rec else rec


# -- every type ----------------------------------------------------------------------------------

@pytest.mark.asan
def test_types_snapshot_stream_update_delete(sluice, mariadb, tmp, procs):
    """Snapshot rows (text protocol) and streamed rows (binlog row images) of every type are
    exactly Debezium's values; schemas carry Debezium's types, names and parameters; an update has
    before and after, a delete its before and then a tombstone."""
    m = mariadb
    m.sql("CREATE DATABASE shop; " + ALLTYPES + "; SET time_zone='+00:00'; "
          f"INSERT INTO shop.alltypes VALUES ({ROW_SQL.format(id=1)}); "
          "INSERT INTO shop.alltypes (id) VALUES (3)")
    out = tmp / "out.jsonl"
    cfg = inproc_yaml(tmp, m, out)
    p = track(procs, sluice.spawn("run", cfg))
    recs = wait_lines(out, 2, proc=p)
    m.sql(f"SET time_zone='+00:00'; INSERT INTO shop.alltypes VALUES ({ROW_SQL.format(id=2)}); "
          "UPDATE shop.alltypes SET vc='changed', dec2=99999999.99 WHERE id=2; "
          "DELETE FROM shop.alltypes WHERE id=2")
    recs = wait_lines(out, 6, proc=p)
    stop(p)
    assert len(recs) == 6, recs
    env = [payload(r) for r in recs]
    assert [e["op"] if e else None for e in env] == ["r", "r", "c", "u", "d", None]
    assert recs[5] is None  # the tombstone

    # values, snapshot and binlog alike
    assert decode_json_row(env[0]["after"]) == expected_row(1)
    assert decode_json_row(env[1]["after"]) == {k: (3 if k == "id" else None)
                                                for k in expected_row(3)}
    assert decode_json_row(env[2]["after"]) == expected_row(2)
    assert env[2]["before"] is None
    assert decode_json_row(env[3]["before"]) == expected_row(2)
    upd = expected_row(2)
    upd["vc"], upd["dec2"] = "changed", decimal.Decimal("99999999.99")
    assert decode_json_row(env[3]["after"]) == upd
    assert decode_json_row(env[4]["before"]) == upd and env[4]["after"] is None

    # source
    s0, s2 = env[0]["source"], env[2]["source"]
    assert s0["snapshot"] == "first" and env[1]["source"]["snapshot"] == "last"
    assert s0["connector"] == "mysql" and s0["name"] == "cdc" and s0["db"] == "shop"
    assert s0["table"] == "alltypes" and s0["file"].startswith("mariadb-bin.")
    assert s2["snapshot"] == "false" and s2["server_id"] == m.server_id
    assert s2["gtid"].startswith(f"0-{m.server_id}-") and s2["pos"] > 4 and s2["row"] == 0
    assert s2["ts_ms"] > 1_600_000_000_000 and env[2]["ts_ms"] >= s2["ts_ms"]



@pytest.mark.asan
def test_decimal_and_bigint_modes(sluice, mariadb, tmp, procs):
    """decimal.handling.mode string/double, bigint.unsigned.handling.mode precise,
    binary.handling.mode hex, time.precision.mode connect."""
    m = mariadb
    m.sql("CREATE DATABASE shop; CREATE TABLE shop.m (id INT PRIMARY KEY, d DECIMAL(20,4), "
          "u BIGINT UNSIGNED, b VARBINARY(4), dt DATETIME(6), t TIME(3)); "
          "INSERT INTO shop.m VALUES (1, -1234567890123456.5, 18446744073709551615, x'0aff', "
          "'2020-01-01 00:00:00.123456', '01:00:00.5')")
    out = tmp / "out.jsonl"
    cfg = inproc_yaml(tmp, m, out, extra="""
        decimal.handling.mode: string
        bigint.unsigned.handling.mode: precise
        binary.handling.mode: hex
        time.precision.mode: connect""")
    p = track(procs, sluice.spawn("run", cfg))
    wait_lines(out, 1, proc=p)
    m.sql("INSERT INTO shop.m VALUES (2, 0.0001, 9223372036854775808, x'00', "
          "'1969-12-31 23:59:59.999', '-00:00:00.5')")
    recs = wait_lines(out, 2, proc=p)
    stop(p)
    a1, a2 = recs[0]["after"], recs[1]["after"]
    assert a1["d"] == "-1234567890123456.5000" and a2["d"] == "0.0001"
    assert int.from_bytes(base64.b64decode(a1["u"]), "big", signed=True) == 2 ** 64 - 1
    assert int.from_bytes(base64.b64decode(a2["u"]), "big", signed=True) == 2 ** 63
    assert a1["b"] == "0aff" and a2["b"] == "00"
    assert a1["dt"] == 1577836800123 and a2["dt"] == -1
    assert a1["t"] == 3600500 and a2["t"] == -500


# -- through Kafka and the registry ------------------------------------------------------------

def registry_schema(url, sid):
    with urllib.request.urlopen(f"{url}/schemas/ids/{sid}", timeout=30) as resp:
        return json.loads(json.loads(resp.read())["schema"])


def fullname(s):
    return f"{s['namespace']}.{s['name']}" if s.get("namespace") else s["name"]


def avro_decode(url, raw, cache):
    assert raw[0] == 0, raw[:8]
    sid = struct.unpack(">I", raw[1:5])[0]
    if sid not in cache:
        rs = registry_schema(url, sid)
        cache[sid] = (fastavro.parse_schema(json.loads(json.dumps(rs))), rs)
    parsed, rs = cache[sid]
    return fastavro.schemaless_reader(io.BytesIO(raw[5:]), parsed), rs


def test_kafka_avro_debezium_topics_keys(sluice, mariadb, kafka, schema_registry, tmp, procs):
    """topic.prefix: each table's events in `<prefix>.<db>.<table>`, Avro key and value registered
    under Debezium's names, decoded by fastavro with the registry's schema; a tombstone has the key
    and a null value; a table without a primary key has null keys; excluded tables stay out."""
    m = mariadb
    prefix = kafkatest.uniq("dbz").replace("-", "_")
    m.sql("CREATE DATABASE shop; " + ALLTYPES + "; SET time_zone='+00:00'; "
          f"INSERT INTO shop.alltypes VALUES ({ROW_SQL.format(id=1)}); "
          "CREATE TABLE shop.nopk (a INT, b VARCHAR(5)); INSERT INTO shop.nopk VALUES (1, 'x'); "
          "CREATE TABLE shop.secret (id INT PRIMARY KEY); INSERT INTO shop.secret VALUES (1)")
    source_cfg = db_cfg(m, extra=f"topic.prefix: {prefix}\ntable.exclude.list: [shop.secret]")
    cfg = write_yaml(tmp / "k.yaml", f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
schema.registry:
  url: {schema_registry.url}
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: {prefix}
    topic: {prefix}
    key.converter: avro
    value.converter: avro
    source:
      plugin: mysql-cdc
      config:
{source_cfg}""")
    p = track(procs, sluice.spawn("run", cfg))
    t_all, t_nopk = f"{prefix}.shop.alltypes", f"{prefix}.shop.nopk"
    def snapshot_in():
        if p.poll() is not None:
            pytest.fail(p.stderr.read().decode())
        try:
            return kafkatest.count(kafka.bootstrap, t_all) >= 1
        except Exception:  # the topic is not there yet
            return False
    wait_until(snapshot_in, 60, interval=0.5, what="snapshot in Kafka")
    m.sql(f"SET time_zone='+00:00'; INSERT INTO shop.alltypes VALUES ({ROW_SQL.format(id=2)}); "
          "DELETE FROM shop.alltypes WHERE id=1; INSERT INTO shop.secret VALUES (2); "
          "INSERT INTO shop.nopk VALUES (2, 'y'); UPDATE shop.alltypes SET id=7 WHERE id=2")
    msgs = kafkatest.consume(kafka.bootstrap, t_all, n=7, timeout=60)
    nopk = kafkatest.consume(kafka.bootstrap, t_nopk, n=2, timeout=30)
    stop(p)
    assert len(msgs) == 7 and len(nopk) == 2
    # the primary-key update: delete (header __debezium.newkey), tombstone, create (oldkey)
    pk = msgs[4:]
    msgs = msgs[:4]
    cache0 = {}
    assert [avro_decode(schema_registry.url, mm.key, cache0)[0] for mm in pk] == [
        {"id": 2}, {"id": 2}, {"id": 7}]
    assert pk[1].value is None
    assert avro_decode(schema_registry.url, pk[0].value, cache0)[0]["op"] == "d"
    assert avro_decode(schema_registry.url, pk[2].value, cache0)[0]["op"] == "c"
    assert json.loads(dict(pk[0].headers)["__debezium.newkey"]) == {"id": 7}
    assert json.loads(dict(pk[2].headers)["__debezium.oldkey"]) == {"id": 2}
    topics = kafkatest.admin(kafka.bootstrap).list_topics(timeout=20).topics
    assert f"{prefix}.shop.secret" not in topics

    cache = {}
    keys = [avro_decode(schema_registry.url, mm.key, cache) for mm in msgs]
    assert [k for k, _ in keys] == [{"id": 1}, {"id": 2}, {"id": 1}, {"id": 1}]
    assert fullname(keys[0][1]) == f"{prefix}.shop.alltypes.Key"
    assert msgs[3].value is None  # tombstone
    vals = [avro_decode(schema_registry.url, mm.value, cache) for mm in msgs[:3]]
    (r, schema), (c, _), (d, _) = vals
    assert fullname(schema) == f"{prefix}.shop.alltypes.Envelope"
    assert [r["op"], c["op"], d["op"]] == ["r", "c", "d"]
    assert r["source"]["name"] == prefix and c["source"]["table"] == "alltypes"
    for got, i in ((r["after"], 1), (c["after"], 2), (d["before"], 1)):
        want = expected_row(i)
        for k, v in want.items():
            g = got[k]
            if isinstance(v, decimal.Decimal):
                assert g == v, k
            elif isinstance(v, float):
                assert g == pytest.approx(v), k
            else:
                assert g == v, (k, g, v)
    # logical names travel in the Avro schema as connect.name
    after = next(f for f in schema["fields"] if f["name"] == "before")  # defines the Value
    inner = [t for t in after["type"] if t != "null"][0]
    byname = {f["name"]: f["type"] for f in inner["fields"]}
    dt6 = [t for t in byname["dt6"] if t != "null"][0]
    assert dt6["connect.name"] == "io.debezium.time.MicroTimestamp"
    dec = [t for t in byname["dec1"] if t != "null"][0]
    assert dec["logicalType"] == "decimal" and dec["scale"] == 30 and dec["precision"] == 65
    want = {
        "id": "int", "ti": "int", "tiu": "int", "si": "int", "siu": "int", "iu": "long",
        "biu": "long", "f": "float", "dbl": "double", "c": "string", "bin": "bytes",
        "b1": "boolean",
        "d": ("int", "io.debezium.time.Date"), "dt0": ("long", "io.debezium.time.Timestamp"),
        "dt3": ("long", "io.debezium.time.Timestamp"),
        "dt6": ("long", "io.debezium.time.MicroTimestamp"),
        "ts": ("string", "io.debezium.time.ZonedTimestamp"),
        "t6": ("long", "io.debezium.time.MicroTime"), "y": ("int", "io.debezium.time.Year"),
        "e": ("string", "io.debezium.data.Enum"), "s": ("string", "io.debezium.data.EnumSet"),
        "b12": ("bytes", "io.debezium.data.Bits"), "j": ("string", "io.debezium.data.Json"),
    }
    for col, w in want.items():
        t = byname[col]
        if col != "id":
            assert isinstance(t, list) and t[0] == "null", (col, t)  # nullable: optional
            t = t[1]
        if isinstance(w, tuple):
            assert t["type"] == w[0] and t["connect.name"] == w[1], (col, t)
            assert t["connect.version"] == 1, (col, t)
        else:
            assert (t if isinstance(t, str) else t["type"]) == w, (col, t)
    enum = [t for t in byname["e"] if t != "null"][0]
    assert enum["connect.parameters"]["allowed"] == "small,medium,large"
    bits = [t for t in byname["b12"] if t != "null"][0]
    assert bits["connect.parameters"]["length"] == "12"
    src = next(f for f in schema["fields"] if f["name"] == "source")["type"]
    assert src["name"].endswith("Source") and [f["name"] for f in src["fields"]] == [
        "version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "table",
        "server_id", "gtid", "file", "pos", "row", "thread", "query"]
    assert [f["name"] for f in schema["fields"]] == ["before", "after", "source", "op", "ts_ms",
                                                      "transaction"]
    assert [mm.key for mm in nopk] == [None, None]
    assert avro_decode(schema_registry.url, nopk[1].value, cache)[0]["after"] == {"a": 2,
                                                                                 "b": "y"}


# -- DDL while streaming -----------------------------------------------------------------------

@pytest.mark.asan
def test_ddl_add_drop_column_mid_stream(sluice, mariadb, tmp, procs):
    """Columns added and dropped while streaming change the schema from that event on; after a
    restart, events written before later ALTERs are read with their own columns (the TABLE_MAP
    events' metadata), not the table's current ones."""
    m = mariadb
    m.sql("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, a INT); "
          "INSERT INTO shop.t VALUES (1, 10)")
    out = tmp / "out.jsonl"
    cfg = inproc_yaml(tmp, m, out)
    p = track(procs, sluice.spawn("run", cfg))
    wait_lines(out, 1, proc=p)
    m.sql("INSERT INTO shop.t VALUES (2, 20); "
          "ALTER TABLE shop.t ADD COLUMN b VARCHAR(10) DEFAULT 'x'; "
          "INSERT INTO shop.t VALUES (3, 30, 'three'); UPDATE shop.t SET b='one' WHERE id=1")
    wait_lines(out, 4, proc=p)
    stop(p)
    # while sluice is away: the table changes twice after the events it has to read
    m.sql("ALTER TABLE shop.t DROP COLUMN a; INSERT INTO shop.t VALUES (4, 'four'); "
          "UPDATE shop.t SET id=5 WHERE id=4; "
          "ALTER TABLE shop.t ADD COLUMN c DECIMAL(5,1) UNSIGNED, ADD COLUMN d DATETIME(6); "
          "INSERT INTO shop.t VALUES (6, 'six', 1.5, '2020-01-01 00:00:00.25'); "
          "ALTER TABLE shop.t MODIFY c VARCHAR(10)")  # same names, another type
    p = track(procs, sluice.spawn("run", cfg))
    recs = wait_lines(out, 9, proc=p)
    err = stop(p)
    after = [r["after"] if r else None for r in recs]
    assert after[:5] == [{"id": 1, "a": 10}, {"id": 2, "a": 20},
                         {"id": 3, "a": 30, "b": "three"}, {"id": 1, "a": 10, "b": "one"},
                         {"id": 4, "b": "four"}]
    assert recs[3]["before"] == {"id": 1, "a": 10, "b": "x"}
    # a primary-key update is, as in Debezium, a delete, its tombstone and a create
    assert [r["op"] if r else None for r in recs[5:8]] == ["d", None, "c"]
    assert recs[5]["before"] == {"id": 4, "b": "four"} and after[7] == {"id": 5, "b": "four"}
    c = decimal.Decimal(int.from_bytes(base64.b64decode(after[8]["c"]), "big", signed=True))
    assert after[8]["id"] == 6 and c.scaleb(-1) == decimal.Decimal("1.5")
    assert after[8]["d"] == 1577836800250000
    assert "using the event's own column metadata" in err


# -- crashes and restarts ------------------------------------------------------------------------

def committed_position(tmp):
    with open(tmp / "offsets.json") as f:
        pos = json.load(f)["pipelines"]["cdc"]["position"]
    return dict(kv.split("=", 1) for kv in pos.split(";")[1:])


def test_sigkill_mid_transaction_restart_no_loss(sluice, mariadb, tmp, procs):
    """Transactions of 50 rows while sluice is SIGKILLed twice (max.batch.size 7 cuts them): every
    row arrives, and each restart goes on exactly after the committed row — the position names
    the transaction (GTID, start) and the rows of it delivered, so the first row after a restart
    is the committed row's successor even inside a transaction. (Rows delivered after the last
    commit are delivered again: at least once, as the core's commits promise.)"""
    m = mariadb
    m.sql("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT)")
    out = tmp / "out.jsonl"
    cfg = inproc_yaml(tmp, m, out, extra="max.batch.size: 7")
    ntx, per = 40, 50

    def writer():
        for t in range(ntx):
            stmts = "".join(f"INSERT INTO shop.t VALUES ({t * per + k}, {t}); "
                            for k in range(per))  # one rows event each
            m.sql(f"BEGIN; {stmts}COMMIT")
            time.sleep(0.05)

    w = threading.Thread(target=writer)
    p = track(procs, sluice.spawn("run", cfg))
    w.start()
    resumes = []
    for _ in range(2):
        wait_lines(out, len(read_lines(out)) + 150, proc=p)
        wait_until(lambda: (tmp / "offsets.json").exists(), 10, what="a committed position")
        time.sleep(0.3)
        p.kill()
        p.wait()
        resumes.append((len(read_lines(out)), committed_position(tmp)))
        p = track(procs, sluice.spawn("run", cfg))
    w.join()
    wait_lines(out, ntx * per, timeout=60, proc=p)
    time.sleep(0.5)
    recs = read_lines(out)
    stop(p)
    ids = [r["after"]["id"] for r in recs]
    assert set(ids) == set(range(ntx * per)), "rows lost"
    assert all(r["op"] in ("r", "c") for r in recs)
    mid_txn = 0
    for n_before, pos in resumes:
        if pos["s"] == "1":
            continue  # killed during the snapshot: it is taken again, like Debezium
        row = int(pos["r"])
        txn = [r["after"]["id"] for r in recs[:n_before] if r["source"]["gtid"] == pos["g"]]
        assert txn, pos
        last = txn[0] // per * per + row - 1
        assert ids[n_before] == last + 1, (pos, ids[n_before - 3:n_before + 3])
        mid_txn += 0 < row < per
    print(f"duplicates after 2 SIGKILLs: {len(ids) - len(set(ids))}; resumed inside a "
          f"transaction {mid_txn} time(s)")


def test_mariadb_stop_and_kill_mid_stream(sluice, mariadb, tmp, procs):
    """The server stopped cleanly, then SIGKILLed, while sluice streams: sluice reconnects with
    backoff (little CPU while the server is away) and every row arrives exactly once."""
    m = mariadb
    m.sql("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY)")
    out = tmp / "out.jsonl"
    p = track(procs, sluice.spawn("run", inproc_yaml(tmp, m, out)))
    m.sql("INSERT INTO shop.t VALUES " + ",".join(f"({i})" for i in range(100)))
    wait_lines(out, 100, proc=p)
    m.stop()
    cpu0 = cpu_seconds(p.pid)
    time.sleep(3)
    cpu_away = cpu_seconds(p.pid) - cpu0
    m.start()
    m.sql("INSERT INTO shop.t VALUES " + ",".join(f"({i})" for i in range(100, 200)))
    wait_lines(out, 200, timeout=60, proc=p)
    m.sql("BEGIN; INSERT INTO shop.t VALUES " + ",".join(f"({i})" for i in range(200, 250)) +
          "; COMMIT")
    m.kill()
    m.start()
    m.sql("INSERT INTO shop.t VALUES " + ",".join(f"({i})" for i in range(250, 300)))
    wait_lines(out, 300, timeout=60, proc=p)
    time.sleep(0.5)
    err = stop(p)
    ids = [r["after"]["id"] for r in read_lines(out)]
    assert sorted(ids) == list(range(300)), "lost or repeated rows"
    assert "reconnecting" in err or "lost the binlog connection" in err
    assert cpu_away < 0.5, f"{cpu_away:.2f} s of CPU in 3 s without a server"


# -- errors --------------------------------------------------------------------------------------

def run_fails(sluice, cfg, timeout=30):
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = sluice.run("run", cfg, timeout=timeout)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    assert r.returncode != 0, r.stderr
    assert cpu < 1.0 and time.monotonic() - t0 < scaled(15), "busy or slow failure"
    return r.stderr


@pytest.mark.asan
def test_wrong_password_and_missing_replication_privilege(sluice, mariadb, tmp):
    m = mariadb
    err = run_fails(sluice, inproc_yaml(tmp, m, tmp / "o", password="nope-sluiceCANARY"))
    assert f"cdc@127.0.0.1:{m.port}" in err and "Access denied" in err
    assert "wrong user or password" in err
    err = run_fails(sluice, inproc_yaml(tmp, m, tmp / "o", user=m.app_user,
                                        password=m.app_password, name="app.yaml"))
    assert "user 'app'@'%' lacks REPLICATION SLAVE (needed to read the binlog)" in err
    assert "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'app'@'%'" in err


def test_statement_binlog_format_refused(sluice, tmp, monkeypatch):
    monkeypatch.setenv("SLUICE_MARIADB_ARGS", "--binlog-format=STATEMENT")
    m = MariaDB()
    try:
        err = run_fails(sluice, inproc_yaml(tmp, m, tmp / "o"))
        assert "binlog_format is STATEMENT; mysql-cdc needs ROW" in err
    finally:
        m.close()


def test_binlog_format_switched_to_statement_while_streaming(sluice, mariadb, tmp, procs):
    """SET GLOBAL binlog_format=STATEMENT while sluice streams: the first statement-logged change
    of a captured database stops the pipeline with the reason, instead of being skipped."""
    m = mariadb
    m.sql("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY)")
    out = tmp / "out.jsonl"
    p = track(procs, sluice.spawn("run", inproc_yaml(tmp, m, out)))
    m.sql("INSERT INTO shop.t VALUES (1)")
    wait_lines(out, 1, proc=p)
    m.sql("SET GLOBAL binlog_format='STATEMENT'")
    m.sql("USE shop; INSERT INTO t VALUES (2)")
    rc = wait_exit(p, 30)
    err = p.stderr.read().decode()
    assert rc != 0 and "binlog_format is no longer ROW" in err, err
    assert [r["after"]["id"] for r in read_lines(out)] == [1]


@pytest.mark.asan
def test_purged_position_fatal_then_when_needed_snapshots(sluice, mariadb, tmp, procs):
    m = mariadb
    m.sql("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY); "
          "INSERT INTO shop.t VALUES (1)")
    out = tmp / "out.jsonl"
    cfg = inproc_yaml(tmp, m, out)
    p = track(procs, sluice.spawn("run", cfg))
    m.sql("INSERT INTO shop.t VALUES (2)")
    wait_lines(out, 2, proc=p)
    stop(p)
    m.sql("INSERT INTO shop.t VALUES (3); FLUSH BINARY LOGS; FLUSH BINARY LOGS")
    last = m.sql("SHOW BINARY LOGS")[-1][0]

    def purged():  # MariaDB keeps a file until its binlog checkpoint is written
        m.sql(f"PURGE BINARY LOGS TO '{last}'")
        return m.sql("SHOW BINARY LOGS")[0][0] == last
    wait_until(purged, 30, interval=0.2, what="PURGE BINARY LOGS")
    err = run_fails(sluice, cfg)
    assert "is no longer on the server (the binlog was purged)" in err
    assert "snapshot.mode: when_needed" in err
    cfg2 = inproc_yaml(tmp, m, out, extra="snapshot.mode: when_needed", name="wn.yaml")
    p = track(procs, sluice.spawn("run", cfg2))
    recs = wait_lines(out, 5, proc=p)
    err = stop(p)
    assert "taking a new snapshot" in err
    assert [(r["op"], r["after"]["id"]) for r in recs[2:]] == [("r", 1), ("r", 2), ("r", 3)]


def test_lint_rejects_bad_config(sluice, tmp):
    class FakeDB:
        host, port, cdc_user, cdc_password = "127.0.0.1", 3306, "cdc", "pw"
    cfg = inproc_yaml(tmp, FakeDB, tmp / "o", extra="snapshot.mode: sometimes")
    r = sluice.run("lint", cfg)
    assert r.returncode == 2 and "snapshot.mode" in r.stderr and "when_needed" in r.stderr
    cfg = inproc_yaml(tmp, FakeDB, tmp / "o", extra="snapshot_mode: initial", name="b.yaml")
    r = sluice.run("lint", cfg)
    assert r.returncode == 2 and "did you mean 'snapshot.mode'" in r.stderr
    cfg = inproc_yaml(tmp, FakeDB, tmp / "o", extra="database.server.id: 0", name="c.yaml")
    r = sluice.run("lint", cfg)
    assert r.returncode == 2 and "database.server.id" in r.stderr
