"""mysql-cdc's query mode (Confluent JDBC source semantics) against a real MariaDB (the `mariadb`
fixture): tables polled into an in-process topic and written by the `file` sink as JSON lines,
checked row by row: bulk, incrementing, timestamp, timestamp+incrementing, a custom query, a restart
that resumes without duplicates, and a transaction that commits after a later one (its row must
still arrive, once: timestamp.reread.window.ms). Every test starts its own MariaDB; waits are
bounded."""
import base64
import json
import subprocess
import time

import pytest

from sluicetest import Background, scaled, wait_until, write_yaml


def qyaml(tmp, m, cfg, *, topic="datos", out="out.jsonl", pid="q"):
    lines = "".join(f"        {k}: {v}\n" for k, v in cfg.items())
    return write_yaml(tmp / f"{pid}.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: {pid}
    topic: {topic}
    value.converter: json
    offset.flush.interval.ms: 100
    errors.retry.delay.max.ms: 300
    source:
      plugin: mysql-cdc
      config:
        connection.url: jdbc:mysql://127.0.0.1:{m.port}/sensores
        connection.user: {m.app_user}
        connection.password: {m.app_password}
        connection.backoff.ms: 200
        poll.interval.ms: 200
{lines}    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp / out}}}
""")


class Run(Background):
    def __init__(self, sluice, tmp, cfg, out="out.jsonl"):
        super().__init__(sluice, tmp, cfg)
        self.out = tmp / out

    def rows(self):
        try:
            text = self.out.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(x) for x in text.splitlines() if x.strip()]

    def wait_rows(self, n, timeout=30):
        def ok():
            assert self.proc.poll() is None, \
                f"sluice exited {self.proc.returncode}:\n{self.stderr()[-3000:]}"
            return len(self.rows()) >= n
        try:
            wait_until(ok, timeout, interval=0.1, what=f"{n} rows")
        except AssertionError:
            raise AssertionError(f"{len(self.rows())} rows, not {n}: {self.rows()[-5:]}\n"
                                 f"{self.stderr()[-3000:]}") from None
        return self.rows()


def start(sluice, tmp, cfg, runs, **kw):
    r = Run(sluice, tmp, cfg, **kw)
    runs.append(r)
    return r


SEED_TABLE = ("CREATE TABLE sensores.datos (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
              "fecha DATETIME NULL, luz INT NULL, hora TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
              "modi TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) "
              "ON UPDATE CURRENT_TIMESTAMP(3))")


def seed_db(m):
    m.sql("CREATE DATABASE sensores")
    m.sql(SEED_TABLE)
    return m


def insert(m, *luces):
    m.sql("INSERT INTO sensores.datos (fecha, luz) VALUES " +
          ", ".join(f"('2023-01-08 02:00:{i % 60:02d}', {luz})" for i, luz in enumerate(luces)))


TSINC = {"mode": "timestamp+incrementing", "incrementing.column.name": "id",
         "timestamp.column.name": "modi", "table.whitelist": "[datos]"}


# -- modes -------------------------------------------------------------------------------------

@pytest.mark.asan
def test_incrementing_types_and_new_rows(sluice, mariadb, tmp, runs):
    """incrementing on an AUTO_INCREMENT id: existing rows, then new ones, each once and in order;
    columns as Connect types (Decimal, Date, Time, Timestamp, unsigned, bytes, null)."""
    m = mariadb
    m.sql("CREATE DATABASE sensores")
    m.sql("CREATE TABLE sensores.tipos (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
          "precio DECIMAL(10,2), dia DATE, hora TIME(3), cuando DATETIME(3), "
          "marca TIMESTAMP NULL, grande BIGINT UNSIGNED, chico TINYINT UNSIGNED, crudo VARBINARY(8), "
          "nombre VARCHAR(20), nulo INT, r DOUBLE, e ENUM('a','b'))")
    m.sql("INSERT INTO sensores.tipos (precio, dia, hora, cuando, marca, grande, chico, crudo, "
          "nombre, nulo, r, e) VALUES (-123.45, '2023-01-08', '01:02:03.004', "
          "'2023-01-08 02:00:00.123', '2023-01-08 02:00:01', 18446744073709551615, 255, "
          "x'00ff', 'ñandú', NULL, 0.5, 'b')")
    r = start(sluice, tmp, qyaml(tmp, m, {"mode": "incrementing",
                                          "incrementing.column.name": "id",
                                          "table.include.list": "[sensores\\.tipos]"},
                                 topic="tipos"), runs)
    row = r.wait_rows(1)[0]
    # Decimal as base64 of the unscaled two's complement: -12345 -> 0xcfc7
    assert base64.b64decode(row["precio"]) == (-12345).to_bytes(2, "big", signed=True)
    assert row["dia"] == 19365
    assert row["hora"] == 3723004
    assert row["cuando"] == 1673143200123
    assert row["marca"] == 1673143201000
    assert base64.b64decode(row["grande"]) == (2**64 - 1).to_bytes(9, "big", signed=True)
    assert row["chico"] == 255 and row["nombre"] == "ñandú" and row["nulo"] is None
    assert base64.b64decode(row["crudo"]) == b"\x00\xff" and row["r"] == 0.5 and row["e"] == "b"
    for i in range(2, 7):
        m.sql(f"INSERT INTO sensores.tipos (id, nombre) VALUES ({i}, 'n{i}')")
    rows = r.wait_rows(6)
    time.sleep(0.6)
    rows = r.rows()
    assert [x["id"] for x in rows] == [1, 2, 3, 4, 5, 6]
    assert r.stop() == 0, r.stderr()[-3000:]


def test_timestamp_mode_groups_and_updates(sluice, mariadb, tmp, runs):
    """timestamp mode: rows that share a timestamp all arrive even when batch.max.rows splits the
    group; an update that moves the timestamp emits the row again; rows stay in timestamp order."""
    m = mariadb
    m.sql("CREATE DATABASE sensores")
    m.sql("CREATE TABLE sensores.t (k VARCHAR(5) NOT NULL, v INT, ts DATETIME(3) NOT NULL)")
    m.sql("INSERT INTO sensores.t VALUES ('a', 1, '2023-01-08 02:00:00'), "
          "('b', 2, '2023-01-08 02:00:00'), ('c', 3, '2023-01-08 02:00:00'), "
          "('d', 4, '2023-01-08 02:00:01'), ('e', 5, '2023-01-08 02:00:01')")
    r = start(sluice, tmp, qyaml(tmp, m, {"mode": "timestamp", "timestamp.column.name": "ts",
                                          "batch.max.rows": 2, "table.whitelist": "[t]"},
                                 topic="t"), runs)
    r.wait_rows(5)
    m.sql("UPDATE sensores.t SET v = 33, ts = '2023-01-08 03:00:00' WHERE k = 'c'")
    m.sql("INSERT INTO sensores.t VALUES ('f', 6, '2023-01-08 03:00:00')")
    rows = r.wait_rows(7)
    time.sleep(0.8)
    rows = r.rows()
    assert sorted((x["k"], x["v"]) for x in rows[:5]) == \
        [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)]
    assert sorted((x["k"], x["v"]) for x in rows[5:]) == [("c", 33), ("f", 6)]
    assert len(rows) == 7, rows
    assert [x["ts"] for x in rows] == sorted(x["ts"] for x in rows)
    assert r.stop() == 0, r.stderr()[-3000:]


@pytest.mark.asan
def test_timestamp_incrementing_seed_table(sluice, mariadb, tmp, runs):
    """The seed's mode on the seed's table: timestamp+incrementing on modi and id. Inserts and an
    update arrive, each once; the topic is topic.prefix + table (iotluz + datos); the value is a
    struct named after the table with Timestamp fields."""
    seed_db(mariadb)
    insert(mariadb, 40, 41, 42)
    cfg = dict(TSINC, **{"topic.prefix": "iotluz"})
    r = start(sluice, tmp, qyaml(tmp, mariadb, cfg, topic="iotluzdatos"), runs)
    r.wait_rows(3)
    time.sleep(0.3)
    insert(mariadb, 43)
    mariadb.sql("UPDATE sensores.datos SET luz = 99 WHERE id = 2")
    rows = r.wait_rows(5)
    time.sleep(0.8)
    rows = r.rows()
    assert [(x["id"], x["luz"]) for x in rows] == [(1, 40), (2, 41), (3, 42), (4, 43), (2, 99)]
    assert rows[0]["fecha"] == 1673143200000
    assert isinstance(rows[0]["modi"], int) and rows[4]["modi"] >= rows[3]["modi"]
    assert r.stop() == 0, r.stderr()[-3000:]


def test_custom_query_and_bulk(sluice, mariadb, tmp, runs):
    """A custom query (with its own WHERE) polled incrementally into topic.prefix; then bulk mode
    re-reads the whole table every poll."""
    seed_db(mariadb)
    insert(mariadb, 10, 200, 30, 400)
    r = start(sluice, tmp, qyaml(tmp, mariadb, {
        "mode": "incrementing", "incrementing.column.name": "id", "topic.prefix": "brillo",
        "query": "'SELECT id, luz FROM datos WHERE luz > 100'"}, topic="brillo"), runs)
    r.wait_rows(2)
    insert(mariadb, 5, 500)
    rows = r.wait_rows(3)
    time.sleep(0.6)
    assert r.rows() == [{"id": 2, "luz": 200}, {"id": 4, "luz": 400}, {"id": 6, "luz": 500}]
    assert r.stop() == 0, r.stderr()[-3000:]
    b = start(sluice, tmp, qyaml(tmp, mariadb, {"mode": "bulk", "table.whitelist": "[datos]"},
                                 out="bulk.jsonl", pid="b"), runs, out="bulk.jsonl")
    rows = b.wait_rows(18)
    assert b.stop() == 0, b.stderr()[-3000:]
    ids = [x["id"] for x in rows]
    assert ids[:6] == [1, 2, 3, 4, 5, 6] and ids[6:12] == [1, 2, 3, 4, 5, 6]


def test_restart_resumes_without_duplicates(sluice, mariadb, tmp, runs):
    """Stop (SIGTERM) and start again, with the re-read window on: the second run emits only the
    rows inserted meanwhile and later, nothing twice."""
    seed_db(mariadb)
    insert(mariadb, *range(10))
    cfg = qyaml(tmp, mariadb, dict(TSINC, **{"timestamp.reread.window.ms": "60s"}))
    r = start(sluice, tmp, cfg, runs)
    r.wait_rows(10)
    time.sleep(0.5)
    assert r.stop() == 0, r.stderr()[-3000:]
    insert(mariadb, *range(10, 15))
    r = start(sluice, tmp, cfg, runs)
    r.wait_rows(15)
    insert(mariadb, *range(15, 18))
    r.wait_rows(18)
    time.sleep(1.0)
    assert r.stop() == 0, r.stderr()[-3000:]
    assert [x["luz"] for x in r.rows()] == list(range(18))


def late_commit(sluice, mariadb, tmp, runs, window):
    """Transaction A inserts a row and stays open; B inserts and commits; sluice reads B's row;
    then A commits. Returns the luz values sluice emitted."""
    seed_db(mariadb)
    insert(mariadb, 1)
    cfg = dict(TSINC)
    if window:
        cfg["timestamp.reread.window.ms"] = window
    r = start(sluice, tmp, qyaml(tmp, mariadb, cfg), runs)
    r.wait_rows(1)
    a = subprocess.Popen(["mariadb", "--no-defaults", f"--socket={mariadb.socket}", "-uroot",
                          f"--password={mariadb.root_password}", "sensores"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        a.stdin.write("BEGIN; INSERT INTO datos (fecha, luz) VALUES (NOW(), 2);\n")
        a.stdin.flush()
        wait_until(lambda: mariadb.sql("SELECT COUNT(*) FROM information_schema.INNODB_TRX")
                   == [["1"]], 20, interval=0.05, what="transaction A open")
        time.sleep(0.2)
        insert(mariadb, 3)  # B: a later id and modi, committed first
        r.wait_rows(2)
        time.sleep(0.5)  # more polls while A is open
        a.stdin.write("COMMIT;\n")
        a.stdin.close()
        assert a.wait(timeout=scaled(30)) == 0, a.stderr.read()
    finally:
        if a.poll() is None:
            a.kill()
            a.wait()
    assert mariadb.sql("SELECT COUNT(*) FROM sensores.datos") == [["3"]]
    time.sleep(1.5)  # several polls after A's commit
    insert(mariadb, 4)
    r.wait_rows(3)
    time.sleep(0.8)
    assert r.stop() == 0, r.stderr()[-3000:]
    return [x["luz"] for x in r.rows()]


def test_late_commit_arrives_exactly_once(sluice, mariadb, tmp, runs):
    """With timestamp.reread.window.ms the row of the transaction that committed late arrives,
    once, after the rows already emitted."""
    got = late_commit(sluice, mariadb, tmp, runs, "30s")
    assert got == [1, 3, 2, 4], got


def test_late_commit_is_lost_without_the_window(sluice, mariadb, tmp, runs):
    """The JDBC source's behaviour (window 0): the late row is skipped — what the window fixes."""
    got = late_commit(sluice, mariadb, tmp, runs, None)
    assert got == [1, 3, 4], got


# -- errors ------------------------------------------------------------------------------------

@pytest.mark.asan
def test_bad_columns_are_clear_errors_at_start(sluice, mariadb, tmp):
    seed_db(mariadb)
    r = sluice.run("run", qyaml(tmp, mariadb, dict(TSINC, **{"timestamp.column.name": "modif"})),
                   timeout=60)
    assert r.returncode != 0
    assert "table datos has no column 'modif' (timestamp.column.name)" in r.stderr, r.stderr
    r = sluice.run("run", qyaml(tmp, mariadb, dict(TSINC, **{"timestamp.column.name": "fecha"})),
                   timeout=60)
    assert r.returncode != 0
    assert "column 'fecha' of table datos is nullable" in r.stderr, r.stderr
    assert "validate.non.null" in r.stderr
    r = sluice.run("run", qyaml(tmp, mariadb, {"mode": "timestamp", "table.whitelist": "[datos]"}),
                   timeout=60)
    assert r.returncode != 0
    assert "'timestamp.column.name' is required with mode timestamp" in r.stderr, r.stderr


def test_mariadb_restart_mid_stream(sluice, mariadb, tmp, runs):
    """MariaDB stops and starts again while sluice polls: the source reconnects and the rows
    inserted after the restart arrive, none twice."""
    seed_db(mariadb)
    insert(mariadb, 1, 2)
    r = start(sluice, tmp, qyaml(tmp, mariadb, TSINC), runs)
    r.wait_rows(2)
    mariadb.stop()
    time.sleep(1.0)
    assert r.proc.poll() is None, r.stderr()
    mariadb.start()
    insert(mariadb, 3, 4)
    r.wait_rows(4, timeout=40)
    time.sleep(0.6)
    assert r.stop() == 0, r.stderr()[-3000:]
    assert [x["luz"] for x in r.rows()] == [1, 2, 3, 4]


def test_delay_interval_holds_young_rows(sluice, mariadb, tmp, runs):
    """timestamp.delay.interval.ms: a row is read only once its timestamp is that much older than
    the server's clock."""
    seed_db(mariadb)
    r = start(sluice, tmp, qyaml(tmp, mariadb, dict(TSINC, **{
        "timestamp.delay.interval.ms": "2500ms"})), runs)
    time.sleep(0.5)
    insert(mariadb, 7)
    t0 = time.monotonic()
    r.wait_rows(1, timeout=20)
    waited = time.monotonic() - t0
    assert waited >= 1.5, f"the row came after {waited:.2f} s, before its 2.5 s delay"
    assert r.stop() == 0, r.stderr()[-3000:]
    assert [x["luz"] for x in r.rows()] == [7]


def test_tables_to_their_topics_in_kafka(sluice, mariadb, kafka, tmp, runs):
    """Table mode against Kafka: table.include.list (regular expressions) picks two of three
    tables; each goes to topic.prefix + its name; records have a null key and a struct value
    named after their table."""
    from kafkatest import consume, uniq
    m = mariadb
    m.sql("CREATE DATABASE sensores")
    for t in ("norte", "sur", "otro"):
        m.sql(f"CREATE TABLE sensores.{t} (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, luz INT)")
        m.sql(f"INSERT INTO sensores.{t} (luz) VALUES (1), (2)")
    prefix = uniq("luz") + "-"
    cfg = write_yaml(tmp / "k.yaml", f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: k
    topic: {prefix}all
    value.converter: json
    source:
      plugin: mysql-cdc
      config:
        connection.url: jdbc:mysql://127.0.0.1:{m.port}/sensores
        connection.user: {m.app_user}
        connection.password: {m.app_password}
        mode: incrementing
        incrementing.column.name: id
        topic.prefix: {prefix}
        table.include.list: ['sensores\\.(norte|sur)']
        poll.interval.ms: 200
""")
    r = start(sluice, tmp, cfg, runs)
    got = {}
    for t in ("norte", "sur"):
        recs = consume(kafka.bootstrap, prefix + t, n=2, timeout=60)
        got[t] = [json.loads(x.value) for x in recs]
        assert all(x.key is None for x in recs)
    assert r.stop() == 0, r.stderr()[-3000:]
    for t in ("norte", "sur"):
        assert [v["payload"] for v in got[t]] == [{"id": 1, "luz": 1}, {"id": 2, "luz": 2}]
        assert got[t][0]["schema"]["name"] == t
    assert consume(kafka.bootstrap, prefix + "otro", timeout=2) == []
