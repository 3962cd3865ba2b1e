"""No secret in a dead letter (#22): records fail — in the converter, at the schema registry, in
the mysql sink — in pipelines whose configuration holds canary secrets (a JDBC connection.url with
the password as user info, a schema registry url with user info), and the dead-letter topic read
back from the real broker holds no CANARY in any header key or value, key or payload, while the
messages still say what failed (the urls shown with the user info redacted)."""
import struct

from kafkatest import consume, create_topic, produce, uniq
from sluicetest import CANARY, Background, wait_until, write_yaml

DLQ_KEYS = ("    errors.tolerance: all\n"
            "    errors.deadletterqueue.topic.name: {dlq}\n"
            "    errors.deadletterqueue.context.headers.enable: true\n")


def scan(dead):
    """Every place of the dead letters where CANARY shows: [] when none."""
    found = []
    for d in dead:
        where = f"offset {d.offset}"
        for name, part in (("key", d.key), ("value", d.value)):
            if part and CANARY.encode() in part:
                found.append(f"{where}: the {name}")
        for k, v in d.headers:
            if CANARY in k:
                found.append(f"{where}: header name {k!r}")
            if v and CANARY.encode() in v:
                found.append(f"{where}: header {k}: {v!r}")
    return found


def messages(dead):
    return [dict((k, v.decode()) for k, v in d.headers if v is not None)
            .get("__connect.errors.exception.message", "") for d in dead]


def test_mysql_sink_dead_letters_hold_no_secret(sluice, kafka, mariadb, tmp, runs):
    """connection.url jdbc:mysql://app:<canary password>@host:port/db: a record that is no JSON, a
    duplicate key and a field the table lacks go to the dead-letter topic without the password."""
    mariadb.sql("CREATE DATABASE IF NOT EXISTS sensores")
    mariadb.sql("CREATE TABLE sensores.c (id INT PRIMARY KEY, luz INT)")
    mariadb.sql("INSERT INTO sensores.c VALUES (1, 10)")
    assert CANARY in mariadb.app_password
    topic, pid, dlq = uniq("canary"), uniq("p"), uniq("canary-dlq")
    create_topic(kafka.bootstrap, topic)
    produce(kafka.bootstrap, topic, [b'{"id": 2, "luz": 20}', b"not json", b'{"id": 1, "luz": 11}',
                                     b'{"id": 3, "luz": 30, "hum": 4}', b'{"id": 4, "luz": 40}'])
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: {pid}
    topic: {topic}
    value.converter: json
    value.converter.schemas.enable: false
{DLQ_KEYS.format(dlq=dlq)}    sinks:
      - id: db
        plugin: mysql
        config:
          connection.url: jdbc:mysql://{mariadb.app_user}:{mariadb.app_password}@127.0.0.1:{mariadb.port}/sensores
          table.name.format: c
          retry.backoff.ms: 200
""")
    r = Background(sluice, tmp, cfg)
    runs.append(r)
    wait_until(lambda: mariadb.sql("SELECT id FROM sensores.c ORDER BY id") ==
               [["1"], ["2"], ["4"]] or r.proc.poll() is not None, 60, what="rows 1, 2 and 4")
    dead = consume(kafka.bootstrap, dlq, n=3, timeout=60)
    assert r.stop() == 0, r.stderr()[-3000:]
    assert len(dead) == 3, (dead, r.stderr()[-3000:])
    assert [d.value for d in dead] == [b"not json", b'{"id": 1, "luz": 11}',
                                       b'{"id": 3, "luz": 30, "hum": 4}']
    msgs = messages(dead)
    assert "Duplicate entry" in msgs[1] and "hum" in msgs[2], msgs
    assert scan(dead) == [], scan(dead)
    assert CANARY not in r.stderr()


def test_registry_dead_letters_hold_no_secret(sluice, kafka, schema_registry, tmp, runs):
    """A schema registry url with canary user info (basic.auth.credentials.source URL): a value
    that is not Avro and one whose schema id the registry does not know go to the dead-letter
    topic; the registry's url in their messages is shown by the shared rule, never with the
    secret."""
    topic, pid, dlq = uniq("canary-avro"), uniq("p"), uniq("canary-dlq")
    host = schema_registry.url.split("://", 1)[1]
    url = f"http://sluice:pw/{CANARY}@{host}"  # an unescaped '/' too, as base64 secrets have
    create_topic(kafka.bootstrap, topic)
    unknown = b"\0" + struct.pack(">i", 2_000_000_000) + b"\x02"
    produce(kafka.bootstrap, topic, [(b"k1", b"not avro"), (b"k2", unknown)])
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
offset.storage.file.filename: {tmp}/offsets.json
schema.registry:
  url: {url}
  basic.auth.credentials.source: URL
pipelines:
  - id: {pid}
    topic: {topic}
    key.converter: string
    value.converter: avro
{DLQ_KEYS.format(dlq=dlq)}    sinks:
      - id: show
        plugin: console
""")
    r = Background(sluice, tmp, cfg)
    runs.append(r)
    dead = consume(kafka.bootstrap, dlq, n=2, timeout=60)
    assert r.stop() == 0, r.stderr()[-3000:]
    assert [(d.key, d.value) for d in dead] == [(b"k1", b"not avro"), (b"k2", unknown)], \
        r.stderr()[-3000:]
    msgs = messages(dead)
    assert "Avro wire format" in msgs[0], msgs
    # the lookup of the unknown id names the registry: as written, with the user info redacted
    assert "2000000000" in msgs[1] and f"http://********@{host}" in msgs[1], msgs
    assert scan(dead) == [], scan(dead)
    assert CANARY not in r.stderr()
    # the scan is honest: a dead letter with the marker is found
    fake = dead[0]._replace(headers=[("x", f"pw {CANARY}".encode())])
    assert scan([fake]) == [f"offset {dead[0].offset}: header x: b'pw {CANARY}'"]
