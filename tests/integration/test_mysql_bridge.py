"""The seed's light-sensor bridge, end to end with every part real: the improved firmware
(ldr_seq_fast) on an emulated ATmega328P in sluice-sim with a day/night light profile on A3 →
sluice's `serial` source → Kafka → the `mysql` sink into the seed's table `datos (id, fecha, luz,
hora, modi)` of a real MariaDB → mysql-cdc in query mode, timestamp+incrementing on modi and id as
the seed's JDBC source was → the Kafka topic `iotluzdatos`, read back with confluent-kafka. The two
pipelines are the ones of pipelines/iotluzdatos.yaml (minus its file and console sinks), in one
sluice process.

Checked: every ADC conversion of the simulator becomes exactly one row and exactly one record of
the topic, in order, with the reading of the profile's voltage; ids 1..n; fecha is the read time;
the records are structs named `datos` with Connect Timestamp fields. The same with mysql-cdc in
binlog mode (Debezium's change events) instead of query mode."""
import json
import time

import pytest

from kafkatest import consume, uniq
from sluicetest import scaled, wait_until, write_yaml
from test_sensor_e2e import Run, Sim, adc_of, daynight, fw, procs  # noqa: F401 (fixtures)

SEED_TABLE = ("CREATE TABLE sensores.datos (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
              "fecha DATETIME NULL, luz INT NULL, "
              "hora TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
              "modi TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)")


QUERY_SOURCE = """        mode: timestamp+incrementing
        incrementing.column.name: id
        timestamp.column.name: modi
        table.whitelist: [datos]
        timestamp.reread.window.ms: 10s
        poll.interval.ms: 200
"""
BINLOG_SOURCE = """        mode: binlog
        table.include.list: [sensores\\.datos]
"""


def bridge_yaml(tmp, kafka, m, dev, raw, topic, mode="query"):
    def conn(indent, user=m.app_user, password=m.app_password):
        pad = " " * indent
        return (f"{pad}connection.url: jdbc:mysql://127.0.0.1:{m.port}/sensores\n"
                f"{pad}connection.user: {user}\n"
                f"{pad}connection.password: {password}\n")
    source = conn(8) + QUERY_SOURCE if mode == "query" else \
        conn(8, m.cdc_user, m.cdc_password) + BINLOG_SOURCE
    return write_yaml(tmp / "bridge.yaml", f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: sensor
    topic: {raw}
    value.converter: json
    offset.flush.interval.ms: 200
    errors.retry.delay.max.ms: 200
    producer.override.linger.ms: 5
    source:
      plugin: serial
      config: {{device: {dev}, baud: 115200, parser: firmware,
                reconnect.backoff.ms: 20ms, reconnect.backoff.max.ms: 100ms}}
      transforms:
        - plugin: insert-field
          config: {{timestamp.field: fecha}}
    sinks:
      - id: datos
        plugin: mysql
        config:
{conn(10)}          table.name.format: datos
          fields.whitelist: [fecha, luz]
  - id: iotluzdatos
    topic: {topic}
    value.converter: json
    offset.flush.interval.ms: 200
    producer.override.linger.ms: 5
    source:
      plugin: mysql-cdc
      config:
{source}""")


@pytest.mark.parametrize("mode", ["query", "binlog"])
def test_sensor_to_datos_to_iotluzdatos(sluice, fw, kafka, mariadb, tmp, procs, mode):  # noqa: F811
    """mode query: the seed's JDBC source (structs named `datos`); mode binlog: Debezium's change
    events (op c, `after` the row, key the primary key) from the same table."""
    mariadb.sql("CREATE DATABASE sensores")
    mariadb.sql(SEED_TABLE)
    dev = tmp / "arduino"
    raw, topic = uniq("luz"), uniq("iotluzdatos")
    r = Run(sluice, tmp, bridge_yaml(tmp, kafka, mariadb, dev, raw, topic, mode))
    procs.append(r)
    r.wait_log("waiting for it", 30)  # the serial device is not there yet
    before = int(time.time() * 1000)
    lo, hi, period = 200, 4800, 1.0
    s = Sim(fw, tmp, "ldr_seq_fast", dev, "--speed", 0, "--daynight", f"{lo}:{hi}:{period}",
            "--seconds", 1.005)
    procs.append(s)
    s.wait(60)
    r.wait_log("disconnected", 15)
    trace = s.trace()
    n = len(trace)
    assert n == 101, f"{n} conversions in 1 s at 100/s"
    expected = [adc_of(mv) for _, mv in trace]

    def table_full():
        assert r.proc.poll() is None, r.stderr()[-3000:]
        return mariadb.sql("SELECT COUNT(*) FROM sensores.datos") == [[str(n)]]
    wait_until(table_full, 60, interval=0.2, what=f"{n} rows in datos")
    after = int(time.time() * 1000)
    rows = mariadb.sql("SELECT id, luz, UNIX_TIMESTAMP(fecha) FROM sensores.datos ORDER BY id")
    assert [int(x[0]) for x in rows] == list(range(1, n + 1))
    assert [int(x[1]) for x in rows] == expected

    got = consume(kafka.bootstrap, topic, n=n, timeout=60)
    time.sleep(scaled(1.0))  # a few more polls: nothing may come twice
    got = consume(kafka.bootstrap, topic, timeout=30)
    assert r.stop() == 0, r.stderr()[-3000:]
    assert len(got) == n, f"{len(got)} records in {topic} for {n} rows"
    values = [json.loads(g.value) for g in got]
    if mode == "binlog":
        assert [v["payload"]["op"] for v in values] == ["c"] * n
        payloads = [v["payload"]["after"] for v in values]
        keys = [json.loads(g.key)["payload"] for g in got]
        assert keys == [{"id": i} for i in range(1, n + 1)]
        assert values[0]["payload"]["source"]["table"] == "datos"
    else:
        sch = values[0]["schema"]
        assert sch["type"] == "struct" and sch["name"] == "datos"
        fields = {f["field"]: f for f in sch["fields"]}
        assert list(fields) == ["id", "fecha", "luz", "hora", "modi"]
        assert fields["modi"]["name"] == "org.apache.kafka.connect.data.Timestamp"
        assert fields["fecha"]["name"] == "org.apache.kafka.connect.data.Timestamp"
        payloads = [v["payload"] for v in values]
        for p in payloads:
            assert before - 1000 <= p["fecha"] <= after + 1000, (before, p, after)
            assert abs(p["modi"] - p["fecha"]) < 60_000 and p["hora"] == p["modi"]
        assert all(g.key is None for g in got)
    assert [p["id"] for p in payloads] == list(range(1, n + 1))
    assert [p["luz"] for p in payloads] == expected
    # the light follows the day: dark at the start, bright at noon
    assert expected[0] == adc_of(lo) and max(expected) >= adc_of(hi) - 1


def test_shipped_pipeline_file(sluice, fw, mariadb, tmp, procs):  # noqa: F811
    """pipelines/iotluzdatos.yaml as shipped, in-process, configured by its environment variables
    only: the fast firmware's readings land in `datos` and come out on the console and, once the
    run ends, as the seed's hourly JSON files (topics/iotluzdatos/year=…/…/
    iotluzdatos+0+0000000000.json), one line per row."""
    from sluicetest import REPO
    mariadb.sql("CREATE DATABASE sensores")
    mariadb.sql(SEED_TABLE)
    dev, out = tmp / "arduino", tmp / "files"
    env = {"SENSOR_DEVICE": str(dev), "SENSOR_BAUD": "115200", "SENSOR_PARSER": "firmware",
           "MYSQL_URL": f"jdbc:mysql://127.0.0.1:{mariadb.port}/sensores",
           "MYSQL_USER": mariadb.app_user, "MYSQL_PASSWORD": mariadb.app_password,
           "SLUICE_POLL_INTERVAL": "200ms", "SLUICE_OUT_DIR": str(out),
           "SLUICE_STATE_DIR": str(tmp / "state")}
    sluice.env.update(env)
    r = Run(sluice, tmp, REPO / "pipelines" / "iotluzdatos.yaml")
    procs.append(r)
    r.wait_log("waiting for it", 30)
    s = Sim(fw, tmp, "ldr_seq_fast", dev, "--speed", 0, "--constant", 2500, "--seconds", 0.505)
    procs.append(s)
    s.wait(60)
    n = len(s.trace())
    assert n == 51, n

    def lines():
        return [json.loads(x) for f in sorted(out.rglob("iotluzdatos+0+*.json"))
                for x in f.read_text().splitlines() if x.strip()]

    def shown():
        p = tmp / "stdout.txt"
        text = p.read_text() if p.exists() else ""
        return [json.loads(x) for x in text.split("\n")[:-1] if x.strip()]  # whole lines only

    def done():
        assert r.proc.poll() is None, r.stderr()[-3000:]
        return len(shown()) >= n
    wait_until(done, 60, interval=0.2, what=f"{n} rows on the console")
    time.sleep(scaled(0.6))
    # the files stay open until flush.size rows or the end of the run (sftp-json's precommit)
    assert r.stop() == 0, r.stderr()[-3000:]
    got = lines()
    assert [x["id"] for x in got] == list(range(1, n + 1))
    assert {x["luz"] for x in got} == {adc_of(2500)}
    assert set(got[0]) == {"id", "fecha", "luz", "hora", "modi"}
    files = list(out.rglob("*.json"))
    assert all("/topics/iotluzdatos/year=" in str(f) for f in files), files
    assert [x["id"] for x in shown()] == list(range(1, n + 1))
