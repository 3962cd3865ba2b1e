"""The `mysql` sink (JDBC sink semantics) against a real MariaDB (the `mariadb` fixture) fed from a
real Kafka topic (the `kafka` fixture): records are produced with confluent-kafka as Kafka
Connect JSON (with a schema envelope, or schemaless maps), sluice consumes them into tables, and the
tables are read back with the mariadb client. Every test starts its own MariaDB; waits are bounded."""
import json
import time

import pytest

from kafkatest import create_topic, produce, uniq
from sluicetest import Background, scaled, wait_until, write_yaml


# -- helpers -----------------------------------------------------------------------------------

def schema(name, fields, optional=()):
    """A Connect struct schema; fields: (name, type) or (name, type, logical name, params)."""
    out = []
    for f in fields:
        d = {"field": f[0], "type": f[1], "optional": f[0] in optional}
        if len(f) > 2:
            d["name"] = f[2]
            if len(f) > 3:
                d["parameters"] = f[3]
        out.append(d)
    return {"type": "struct", "name": name, "optional": False, "fields": out}


def env(sch, payload):
    return json.dumps({"schema": sch, "payload": payload}).encode()


KEY_SCHEMA = {"type": "struct", "name": "k", "optional": False,
              "fields": [{"field": "id", "type": "int32", "optional": False}]}


def key(i):
    return env(KEY_SCHEMA, {"id": i})


READING = schema("lectura", [("id", "int32"), ("luz", "int32"), ("lugar", "string")],
                 optional=("lugar",))


def reading(i, luz, lugar="lab"):
    return env(READING, {"id": i, "luz": luz, "lugar": lugar})


def sink_yaml(tmp, kafka, m, topic, cfg, *, pid=None, sink="db", converters=None, extra=""):
    pid = pid or uniq("p")
    conv = converters or "    key.converter: json\n    value.converter: json\n"
    cfg_text = "".join(f"          {k}: {v}\n" for k, v in cfg.items())
    return write_yaml(tmp / f"{pid}.yaml", f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: {pid}
    topic: {topic}
{conv}    offset.flush.interval.ms: 200
    errors.retry.delay.max.ms: 500
{extra}    sinks:
      - id: {sink}
        plugin: mysql
        config:
          connection.url: jdbc:mysql://127.0.0.1:{m.port}/sensores
          connection.user: {m.app_user}
          connection.password: {m.app_password}
          retry.backoff.ms: 200
{cfg_text}""")


Run = Background


def start(sluice, tmp, cfg, runs):
    r = Run(sluice, tmp, cfg)
    runs.append(r)
    return r


def rows(m, sql):
    return m.sql(sql)


def wait_rows(m, r, sql, expected, timeout=30):
    """Waits until `sql` returns `expected` (lists of strings)."""
    last = [None]

    def ok():
        assert r.proc.poll() is None, f"sluice exited {r.proc.returncode}:\n{r.stderr()[-3000:]}"
        try:
            last[0] = m.sql(sql)
        except RuntimeError:
            return False
        return last[0] == expected
    try:
        wait_until(ok, timeout, interval=0.2, what=sql)
    except AssertionError:
        raise AssertionError(f"{sql}: {last[0]!r} != {expected!r}\n{r.stderr()[-3000:]}") from None


def db(m):
    m.sql("CREATE DATABASE IF NOT EXISTS sensores")
    return m


# -- tests -------------------------------------------------------------------------------------

@pytest.mark.asan
def test_insert_auto_create_types(sluice, kafka, mariadb, tmp, runs):
    """insert.mode insert with auto.create: the table is created from the record schema (logical
    types as DECIMAL/DATE/TIME/DATETIME(3), optional fields nullable), values land exactly."""
    db(mariadb)
    topic = create_topic(kafka.bootstrap, uniq("lecturas"))
    sch = schema("lectura", [
        ("id", "int64"), ("luz", "int32"), ("chico", "int8"), ("ratio", "double"),
        ("ok", "boolean"), ("nombre", "string"), ("crudo", "bytes"),
        ("precio", "bytes", "org.apache.kafka.connect.data.Decimal", {"scale": "2"}),
        ("dia", "int32", "org.apache.kafka.connect.data.Date"),
        ("hora", "int32", "org.apache.kafka.connect.data.Time"),
        ("ts", "int64", "org.apache.kafka.connect.data.Timestamp"),
        ("nota", "string")], optional=("nota",))
    # 123456.78 = 12345678 unscaled -> bytes 0x00bc614e; -0.05 -> -5 -> 0xfb
    recs = [env(sch, {"id": 1, "luz": 512, "chico": -5, "ratio": 0.25, "ok": True,
                      "nombre": "ñandú ☀", "crudo": "AAEC/w==", "precio": "ALxhTg==",
                      "dia": 19365, "hora": 3723004, "ts": 1673143200123, "nota": None}),
            env(sch, {"id": 2, "luz": 0, "chico": 127, "ratio": -1.5, "ok": False,
                      "nombre": "", "crudo": "", "precio": "+w==",
                      "dia": 0, "hora": 0, "ts": 0, "nota": "x"})]
    produce(kafka.bootstrap, topic, recs)
    r = start(sluice, tmp, sink_yaml(tmp, kafka, mariadb, topic, {
        "auto.create": "true", "table.name.format": "t_$${topic}"}), runs)
    table = f"sensores.`t_{topic}`"
    wait_rows(mariadb, r, f"SELECT COUNT(*) FROM {table}", [["2"]])
    got = mariadb.sql(f"SELECT id, luz, chico, ratio, ok, nombre, HEX(crudo), precio, dia, hora, "
                      f"ts, nota FROM {table} ORDER BY id")
    assert got == [
        ["1", "512", "-5", "0.25", "1", "ñandú ☀", "000102FF", "123456.78", "2023-01-08",
         "01:02:03.004", "2023-01-08 02:00:00.123", "NULL"],
        ["2", "0", "127", "-1.5", "0", "", "", "-0.05", "1970-01-01", "00:00:00.000",
         "1970-01-01 00:00:00.000", "x"]]
    cols = mariadb.sql("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS"
                       f" WHERE TABLE_NAME = 't_{topic}' ORDER BY ORDINAL_POSITION")
    assert cols == [["id", "bigint(20)", "NO"], ["luz", "int(11)", "NO"],
                    ["chico", "tinyint(4)", "NO"], ["ratio", "double", "NO"],
                    ["ok", "tinyint(1)", "NO"], ["nombre", "text", "NO"], ["crudo", "blob", "NO"],
                    ["precio", "decimal(65,2)", "NO"], ["dia", "date", "NO"],
                    ["hora", "time(3)", "NO"], ["ts", "datetime(3)", "NO"],
                    ["nota", "text", "YES"]]
    assert r.stop() == 0, r.stderr()[-3000:]


@pytest.mark.asan
def test_upsert_replayed_twice_same_table(sluice, kafka, mariadb, tmp, runs):
    """upsert with pk.mode record_key: later records of a key replace earlier ones; running the
    whole topic again from offset 0 (a new consumer group) leaves the very same table."""
    db(mariadb)
    topic = create_topic(kafka.bootstrap, uniq("up"))
    recs = [(key(i % 20), reading(i % 20, i)) for i in range(100)]
    produce(kafka.bootstrap, topic, recs)
    expected = [[str(k), str(80 + k)] for k in range(20)]
    cfg = {"insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "id",
           "auto.create": "true", "table.name.format": "lecturas"}
    for sink in ("first", "again"):
        r = start(sluice, tmp, sink_yaml(tmp, kafka, mariadb, topic, cfg, sink=sink), runs)
        # the last record of every key has luz 80..99
        wait_rows(mariadb, r, "SELECT id, luz FROM sensores.lecturas ORDER BY id", expected)
        time.sleep(0.5)
        assert r.stop() == 0, r.stderr()[-3000:]
        assert mariadb.sql("SELECT id, luz FROM sensores.lecturas ORDER BY id") == expected
    key_cols = mariadb.sql("SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE "
                           "TABLE_NAME='lecturas' AND CONSTRAINT_NAME='PRIMARY'")
    assert key_cols == [["id"]]


def test_insert_and_update_modes(sluice, kafka, mariadb, tmp, runs):
    """insert adds rows (a duplicate key is a failed record, not a crash); update changes only
    existing rows and never inserts."""
    db(mariadb)
    mariadb.sql("CREATE TABLE sensores.t (id INT PRIMARY KEY, luz INT, lugar VARCHAR(20))")
    mariadb.sql("INSERT INTO sensores.t VALUES (1, 10, 'a'), (2, 20, 'b')")
    topic = create_topic(kafka.bootstrap, uniq("upd"))
    produce(kafka.bootstrap, topic, [(key(1), reading(1, 11, "x")), (key(3), reading(3, 33)),
                                     (key(2), reading(2, 22, "y"))])
    r = start(sluice, tmp, sink_yaml(tmp, kafka, mariadb, topic, {
        "insert.mode": "update", "pk.mode": "record_key", "table.name.format": "t"}), runs)
    wait_rows(mariadb, r, "SELECT id, luz, lugar FROM sensores.t ORDER BY id",
              [["1", "11", "x"], ["2", "22", "y"]])
    assert r.stop() == 0, r.stderr()[-3000:]
    # insert mode: new rows go in; the duplicate key 1 goes to the dead-letter topic
    topic2 = create_topic(kafka.bootstrap, uniq("ins"))
    dlq = uniq("dlq")
    produce(kafka.bootstrap, topic2, [reading(5, 55), reading(1, 99), reading(6, 66)])
    r = start(sluice, tmp, sink_yaml(tmp, kafka, mariadb, topic2, {"table.name.format": "t"},
                                     extra=f"    errors.tolerance: all\n"
                                           f"    errors.deadletterqueue.topic.name: {dlq}\n"
                                           f"    errors.deadletterqueue.context.headers.enable: true\n"),
              runs)
    wait_rows(mariadb, r, "SELECT id, luz FROM sensores.t ORDER BY id",
              [["1", "11"], ["2", "22"], ["5", "55"], ["6", "66"]])
    from kafkatest import consume
    dead = consume(kafka.bootstrap, dlq, n=1, timeout=30)
    assert len(dead) == 1
    hdrs = {k: (v.decode() if v else v) for k, v in dead[0].headers}
    assert "Duplicate entry" in hdrs.get("__connect.errors.exception.message", ""), hdrs
    assert r.stop() == 0, r.stderr()[-3000:]


def test_auto_evolve_new_field_mid_stream(sluice, kafka, mariadb, tmp, runs):
    """A field that appears mid-stream becomes a nullable column (auto.evolve); earlier rows have
    NULL there; without auto.evolve the record fails naming the table and the column."""
    db(mariadb)
    topic = create_topic(kafka.bootstrap, uniq("evo"))
    v2 = schema("lectura", [("id", "int32"), ("luz", "int32"), ("lugar", "string"),
                            ("temp", "double")], optional=("lugar", "temp"))
    produce(kafka.bootstrap, topic, [(key(1), reading(1, 10)), (key(2), reading(2, 20)),
                                     (key(3), env(v2, {"id": 3, "luz": 30, "lugar": "sur",
                                                       "temp": 21.5})),
                                     (key(4), reading(4, 40))])
    r = start(sluice, tmp, sink_yaml(tmp, kafka, mariadb, topic, {
        "insert.mode": "upsert", "pk.mode": "record_key", "auto.create": "true",
        "auto.evolve": "true", "table.name.format": "evo"}), runs)
    wait_rows(mariadb, r, "SELECT id, luz, lugar, temp FROM sensores.evo ORDER BY id",
              [["1", "10", "lab", "NULL"], ["2", "20", "lab", "NULL"], ["3", "30", "sur", "21.5"],
               ["4", "40", "lab", "NULL"]])
    assert mariadb.sql("SELECT IS_NULLABLE, DATA_TYPE FROM information_schema.COLUMNS WHERE "
                       "TABLE_NAME='evo' AND COLUMN_NAME='temp'") == [["YES", "double"]]
    assert r.stop() == 0, r.stderr()[-3000:]
    # the same without auto.evolve: a schemaless map with a field the table lacks fails alone
    topic2 = create_topic(kafka.bootstrap, uniq("noevo"))
    dlq = uniq("dlq")
    produce(kafka.bootstrap, topic2, [b'{"id": 7, "luz": 70}', b'{"id": 8, "luz": 80, "hum": 3}',
                                      b'{"id": 9, "luz": 90}'])
    r = start(sluice, tmp, sink_yaml(
        tmp, kafka, mariadb, topic2, {"table.name.format": "evo"},
        converters="    value.converter: json\n    value.converter.schemas.enable: false\n",
        extra=f"    errors.tolerance: all\n    errors.deadletterqueue.topic.name: {dlq}\n"
              "    errors.deadletterqueue.context.headers.enable: true\n"), runs)
    wait_rows(mariadb, r, "SELECT id, luz FROM sensores.evo WHERE id > 6 ORDER BY id",
              [["7", "70"], ["9", "90"]])
    from kafkatest import consume
    dead = consume(kafka.bootstrap, dlq, n=1, timeout=30)
    hdrs = {k: (v.decode() if v else v) for k, v in dead[0].headers}
    msg = hdrs.get("__connect.errors.exception.message", "")
    assert "table evo has no column 'hum'" in msg and "auto.evolve" in msg, hdrs
    assert r.stop() == 0, r.stderr()[-3000:]


@pytest.mark.asan
def test_delete_on_tombstone(sluice, kafka, mariadb, tmp, runs):
    """delete.enabled with pk.mode record_key: a tombstone deletes its key's row; later records of
    the key insert it again."""
    db(mariadb)
    topic = create_topic(kafka.bootstrap, uniq("del"))
    produce(kafka.bootstrap, topic, [(key(1), reading(1, 10)), (key(2), reading(2, 20)),
                                     (key(3), reading(3, 30)), (key(2), None),
                                     (key(3), None), (key(3), reading(3, 33)), (key(9), None)])
    r = start(sluice, tmp, sink_yaml(tmp, kafka, mariadb, topic, {
        "insert.mode": "upsert", "pk.mode": "record_key", "auto.create": "true",
        "delete.enabled": "true", "table.name.format": "del"}), runs)
    wait_rows(mariadb, r, "SELECT id, luz FROM sensores.del ORDER BY id",
              [["1", "10"], ["3", "33"]])
    time.sleep(0.5)
    assert r.stop() == 0, r.stderr()[-3000:]
    assert mariadb.sql("SELECT id, luz FROM sensores.del ORDER BY id") == [["1", "10"], ["3", "33"]]


def test_pk_modes_kafka_and_record_value(sluice, kafka, mariadb, tmp, runs):
    """pk.mode kafka keys rows by topic/partition/offset (every record a row, replays
    idempotent); pk.mode record_value takes pk.fields from the value; a primitive record_key
    needs one pk.fields name."""
    db(mariadb)
    topic = create_topic(kafka.bootstrap, uniq("pkk"))
    produce(kafka.bootstrap, topic, [reading(1, 10), reading(1, 11), reading(2, 20)])
    r = start(sluice, tmp, sink_yaml(tmp, kafka, mariadb, topic, {
        "insert.mode": "upsert", "pk.mode": "kafka", "auto.create": "true",
        "table.name.format": "porkafka"}), runs)
    wait_rows(mariadb, r, "SELECT __connect_topic, __connect_partition, __connect_offset, id, luz "
              "FROM sensores.porkafka ORDER BY __connect_offset",
              [[topic, "0", "0", "1", "10"], [topic, "0", "1", "1", "11"],
               [topic, "0", "2", "2", "20"]])
    assert r.stop() == 0, r.stderr()[-3000:]
    r = start(sluice, tmp, sink_yaml(tmp, kafka, mariadb, topic, {
        "insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id",
        "auto.create": "true", "table.name.format": "porvalor"}), runs)
    wait_rows(mariadb, r, "SELECT id, luz FROM sensores.porvalor ORDER BY id",
              [["1", "11"], ["2", "20"]])
    assert r.stop() == 0, r.stderr()[-3000:]
    pk = mariadb.sql("SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
                     "WHERE CONSTRAINT_NAME='PRIMARY' AND TABLE_SCHEMA='sensores' "
                     "ORDER BY TABLE_NAME, ORDINAL_POSITION")
    assert pk == [["porkafka", "__connect_topic"], ["porkafka", "__connect_partition"],
                  ["porkafka", "__connect_offset"], ["porvalor", "id"]]
    # a string key (primitive) named by pk.fields
    topic2 = create_topic(kafka.bootstrap, uniq("pks"))
    produce(kafka.bootstrap, topic2, [(b"norte", b'{"luz": 1}'), (b"sur", b'{"luz": 2}'),
                                      (b"norte", b'{"luz": 3}')])
    r = start(sluice, tmp, sink_yaml(
        tmp, kafka, mariadb, topic2, {"insert.mode": "upsert", "pk.mode": "record_key",
                                      "pk.fields": "lugar", "auto.create": "true",
                                      "table.name.format": "porclave"},
        converters="    key.converter: string\n    value.converter: json\n"
                   "    value.converter.schemas.enable: false\n"), runs)
    wait_rows(mariadb, r, "SELECT lugar, luz FROM sensores.porclave ORDER BY lugar",
              [["norte", "3"], ["sur", "2"]])
    assert r.stop() == 0, r.stderr()[-3000:]


def test_bad_records_dead_letter_with_reasons(sluice, kafka, mariadb, tmp, runs):
    """Records with no row form or that the server refuses go to the dead-letter topic each with
    a reason naming the table/column; good records around them are written; nothing crashes."""
    db(mariadb)
    mariadb.sql("CREATE TABLE sensores.bad (id INT PRIMARY KEY, luz TINYINT NOT NULL, "
                "lugar VARCHAR(20))")
    topic = create_topic(kafka.bootstrap, uniq("bad"))
    dlq = uniq("dlq")
    produce(kafka.bootstrap, topic, [
        b'{"id": 1, "luz": 10}',
        b'{"luz": 11}',                              # missing pk field
        b'"a string"',                               # not a struct
        b'{"id": 3, "luz": 1000}',                   # out of range for TINYINT
        b'{"id": 4, "lugar": "sin luz"}',            # NOT NULL luz without value
        b'{"id": 5, "luz": {"nested": 1}}',          # no column form
        b'{"id": 6, "luz": 60}'])
    r = start(sluice, tmp, sink_yaml(
        tmp, kafka, mariadb, topic, {"insert.mode": "upsert", "pk.mode": "record_value",
                                     "pk.fields": "id", "table.name.format": "bad"},
        converters="    value.converter: json\n    value.converter.schemas.enable: false\n",
        extra=f"    errors.tolerance: all\n    errors.deadletterqueue.topic.name: {dlq}\n"
              "    errors.deadletterqueue.context.headers.enable: true\n"), runs)
    wait_rows(mariadb, r, "SELECT id, luz FROM sensores.bad ORDER BY id", [["1", "10"], ["6", "60"]])
    from kafkatest import consume
    dead = consume(kafka.bootstrap, dlq, n=5, timeout=30)
    msgs = []
    for d in dead:
        h = {k: (v.decode() if v else v) for k, v in d.headers}
        msgs.append(h.get("__connect.errors.exception.message", ""))
    assert len(msgs) == 5, msgs
    assert "no field 'id'" in msgs[0] and "bad" in msgs[0], msgs
    assert "not a struct" in msgs[1], msgs
    assert "table bad" in msgs[2] and "luz" in msgs[2], msgs
    assert "table bad" in msgs[3] and "luz" in msgs[3], msgs
    assert "column 'luz'" in msgs[4], msgs
    assert r.stop() == 0, r.stderr()[-3000:]


@pytest.mark.asan
def test_wrong_password_and_missing_table_are_clear_errors(sluice, kafka, mariadb, tmp, runs):
    db(mariadb)
    topic = create_topic(kafka.bootstrap, uniq("err"))
    produce(kafka.bootstrap, topic, [reading(1, 1)])
    # restart.policy never: the failure ends the run (the worker's default restarts the task)
    cfg = sink_yaml(tmp, kafka, mariadb, topic, {"table.name.format": "nada"},
                    extra="    restart.policy: never\n")
    bad = write_yaml(tmp / "badpw.yaml", cfg.read_text().replace(
        f"connection.password: {mariadb.app_password}", "connection.password: nope-sluiceCANARY"))
    r = sluice.run("run", bad, timeout=60)
    assert r.returncode != 0
    assert f"{mariadb.app_user}@127.0.0.1:{mariadb.port}" in r.stderr, r.stderr
    assert "wrong user or password" in r.stderr, r.stderr
    assert "nope-sluiceCANARY" not in r.stderr
    r = sluice.run("run", cfg, timeout=60)
    assert r.returncode != 0
    assert "table nada does not exist in database 'sensores'" in r.stderr, r.stderr
    assert "auto.create" in r.stderr


def test_mariadb_restart_mid_stream_loses_nothing(sluice, kafka, mariadb, tmp, runs):
    """MariaDB is killed and restarted while records flow: the sink retries on a new connection
    and every record ends up in the table exactly once (upsert), none lost."""
    db(mariadb)
    topic = create_topic(kafka.bootstrap, uniq("restart"))
    r = start(sluice, tmp, sink_yaml(tmp, kafka, mariadb, topic, {
        "insert.mode": "upsert", "pk.mode": "record_key", "auto.create": "true",
        "table.name.format": "rs", "max.retries": "-1"}), runs)
    produce(kafka.bootstrap, topic, [(key(i), reading(i, i)) for i in range(0, 300)])
    wait_rows(mariadb, r, "SELECT COUNT(*) FROM sensores.rs", [["300"]])
    mariadb.kill()
    produce(kafka.bootstrap, topic, [(key(i), reading(i, i)) for i in range(300, 600)])
    time.sleep(1.5)
    assert r.proc.poll() is None, r.stderr()
    mariadb.start()
    produce(kafka.bootstrap, topic, [(key(i), reading(i, i)) for i in range(600, 900)])
    wait_rows(mariadb, r, "SELECT COUNT(*), SUM(luz), MIN(id), MAX(id) FROM sensores.rs",
              [["900", str(sum(range(900))), "0", "899"]], timeout=60)
    assert "retrying" in r.stderr() or "again" in r.stderr(), r.stderr()[-2000:]
    assert r.stop() == 0, r.stderr()[-3000:]
