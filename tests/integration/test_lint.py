"""sluice lint: every error of every file, duplicate ids across files, and --print."""
import re

import pytest

from sluicetest import write_lines, write_yaml


def pipeline_yaml(tmp, pid, *, topic="t", extra="", static_value="x", offsets=None):
    offsets = offsets or tmp / "offsets.json"
    return f"""version: 1
offset.storage.file.filename: {offsets}
pipelines:
  - id: {pid}
    topic: {topic}
{extra}    source:
      plugin: file
      config:
        file: {tmp}/in.txt
        follow: false
      transforms:
        - plugin: insert-field
          config:
            static.field: origin
            static.value: {static_value}
    sinks:
      - id: screen
        plugin: console
"""


@pytest.mark.asan
def test_lint_ok(sluice, tmp):
    write_lines(tmp / "in.txt", 3)
    cfg = write_yaml(tmp / "good.yaml", pipeline_yaml(tmp, "good"))
    r = sluice.run("lint", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "", f"lint of a good file printed errors:\n{r.stderr}"


@pytest.mark.asan
def test_lint_prints_all_errors_of_all_files(sluice, tmp):
    a = write_yaml(tmp / "a.yaml", pipeline_yaml(
        tmp, "a", extra="    batch.max.records: lots\n    buffer.memroy: 4MiB\n"))
    b = write_yaml(tmp / "b.yaml", pipeline_yaml(
        tmp, "b", extra="    errors.tolerance: some\n"))
    r = sluice.run("lint", a, b, timeout=30)
    assert r.returncode == 2, r.stderr
    a_errs = [ln for ln in r.stderr.splitlines() if re.match(re.escape(str(a)) + r":\d+:\d+: ", ln)]
    b_errs = [ln for ln in r.stderr.splitlines() if re.match(re.escape(str(b)) + r":\d+:\d+: ", ln)]
    assert any("batch.max.records" in e for e in a_errs), r.stderr
    assert any("buffer.memroy" in e and "buffer.memory" in e for e in a_errs), \
        f"unknown key without its did-you-mean hint:\n{r.stderr}"
    assert any("errors.tolerance" in e for e in b_errs), \
        f"the second file's error is missing (lint must not stop at the first file):\n{r.stderr}"
    # The enum error tells the allowed values.
    assert any("none" in e and "all" in e for e in b_errs if "errors.tolerance" in e), r.stderr


@pytest.mark.asan
def test_duplicate_pipeline_id_across_files(sluice, tmp):
    write_lines(tmp / "in.txt", 3)
    a = write_yaml(tmp / "a.yaml", pipeline_yaml(tmp, "same"))
    b = write_yaml(tmp / "b.yaml", pipeline_yaml(tmp, "same"))
    for args in (["lint", a, b], ["run", "--quiet", a, b]):
        r = sluice.run(*args, timeout=30)
        assert r.returncode == 2, f"{args[0]}: exit {r.returncode}\n{r.stderr}"
        dup = [ln for ln in r.stderr.splitlines() if "same" in ln and re.search(r":\d+:\d+: ", ln)]
        assert dup, f"no FILE:LINE:COL message naming the duplicate id 'same':\n{r.stderr}"
        assert any(str(b) in ln for ln in dup), f"the message does not name {b}:\n{r.stderr}"
        assert any(str(a) in ln for ln in r.stderr.splitlines() if "same" in ln), \
            f"the message does not say where 'same' was first defined ({a}):\n{r.stderr}"


@pytest.mark.asan
def test_lint_print_shows_resolved_config(sluice, tmp):
    write_lines(tmp / "in.txt", 3)
    cfg = write_yaml(tmp / "p.yaml", pipeline_yaml(
        tmp, "resolved", topic="${SLUICE_TEST_TOPIC:-fallback-topic}",
        static_value="${SLUICE_TEST_ORIGIN}"))
    r = sluice.run("lint", "--print", cfg, env={"SLUICE_TEST_ORIGIN": "from-env-42"}, timeout=30)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "from-env-42" in out, f"interpolated value missing from --print:\n{out}"
    assert "fallback-topic" in out, f"${{VAR:-default}} not resolved in --print:\n{out}"
    assert "${" not in out, f"--print shows unresolved interpolation:\n{out}"
    assert "resolved" in out and "insert-field" in out and "console" in out
    # Defaults are applied and shown (the file source follows by default; here false).
    assert re.search(r"follow:\s*false", out), out
    assert re.search(r"batch\.max\.records:\s*\d+", out), f"pipeline defaults not shown:\n{out}"


@pytest.mark.asan
def test_lint_reports_plugin_errors_of_a_pipeline_whose_own_keys_are_wrong(sluice, tmp):
    """A bad pipeline key must not hide the errors of its plugins: all four come out at once."""
    cfg = write_yaml(tmp / "bad.yaml", """version: 1
pipelines:
  - id: x
    batch.max.record: 10
    source:
      plugin: fiel
      config: {file: /tmp/in}
    sinks:
      - id: s
        plugin: console
        config: {formt: json, print.key: maybe}
""")
    r = sluice.run("lint", cfg, timeout=30)
    assert r.returncode == 2
    assert f"{cfg}:4:5: unknown key 'batch.max.record'" in r.stderr, r.stderr
    assert f"{cfg}:6:15: unknown plugin 'fiel'" in r.stderr and "did you mean 'file'" in r.stderr
    assert f"{cfg}:11:18: unknown key 'formt'" in r.stderr and "did you mean 'format'" in r.stderr
    assert "'print.key'" in r.stderr and "found 'maybe'" in r.stderr, r.stderr
    assert "4 errors" in r.stderr


@pytest.mark.asan
def test_lint_print_redacts_kafka_and_registry_credentials(sluice, tmp):
    """Credentials inside the kafka: and schema.registry: blocks and in producer/consumer
    overrides are shown as ******** — the rest of the blocks as given."""
    write_lines(tmp / "in.txt", 3)
    extra = ("    producer.override.sasl.password: ${SLUICE_TEST_SECRET}\n"
             "    producer.override.linger.ms: 7\n")
    body = pipeline_yaml(tmp, "creds", extra=extra)
    body = body.replace("version: 1\n", """version: 1
kafka:
  bootstrap.servers: 127.0.0.1:1
  security.protocol: SASL_SSL
  sasl.mechanisms: PLAIN
  sasl.username: api-key-1-${SLUICE_TEST_SECRET}
  sasl.password: ${SLUICE_TEST_SECRET}
  sasl.oauthbearer.config: principal=${SLUICE_TEST_SECRET}
  ssl.key.pem: "-----BEGIN PRIVATE KEY----- ${SLUICE_TEST_SECRET}"
  ssl.key.password: ${SLUICE_TEST_SECRET}
schema.registry:
  url: http://u:${SLUICE_TEST_SECRET}@127.0.0.1:2
  basic.auth.credentials.source: USER_INFO
  basic.auth.user.info: sr-key:${SLUICE_TEST_SECRET}
""", 1)
    cfg = write_yaml(tmp / "p.yaml", body)
    r = sluice.run("lint", "--print", cfg, env={"SLUICE_TEST_SECRET": "hunter2-sluiceCANARY"},
                   timeout=30)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "hunter2" not in out, f"a credential leaked into --print:\n{out}"
    for key in ("sasl.password", "sasl.username", "sasl.oauthbearer.config", "ssl.key.pem",
                "ssl.key.password", "basic.auth.user.info", "producer.override.sasl.password"):
        assert re.search(rf'^\s+{re.escape(key)}: "\*{{8}}"$', out, re.M), (key, out)
    assert re.search(r"^\s+url: http://\*{8}@127\.0\.0\.1:2$", out, re.M), out
    assert re.search(r"^\s+producer\.override\.linger\.ms: \"?7\"?$", out, re.M), out
    assert re.search(r"^\s+sasl\.mechanisms: PLAIN$", out, re.M), out
    assert re.search(r"^\s+bootstrap\.servers: 127\.0\.0\.1:1$", out, re.M), out
    # where the credentials come from is not one
    assert re.search(r"^\s+basic\.auth\.credentials\.source: USER_INFO$", out, re.M), out


def billion_laughs():
    """Nine levels of nine aliases: 387 420 489 scalars once expanded, from under 500 bytes."""
    text = 'version: 1\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for c in "bcdefghi":
        text += f"{c}: &{c} [" + ",".join([f"*{prev}"] * 9) + "]\n"
        prev = c
    return text + ("pipelines:\n  - id: laughs\n    topic: t\n"
                   "    source: {plugin: datagen, config: {lines: *i}}\n"
                   "    sinks: [{id: s, plugin: console}]\n")


@pytest.mark.asan
def test_lint_refuses_billion_laughs_at_once(sluice, tmp):
    cfg = write_yaml(tmp / "laughs.yaml", billion_laughs())
    assert cfg.stat().st_size < 503
    r = sluice.run("lint", cfg, timeout=20)
    assert r.returncode == 2, r.stderr
    assert re.search(re.escape(str(cfg)) + r":\d+:\d+: YAML aliases expand", r.stderr), r.stderr


@pytest.mark.asan
def test_lint_refuses_huge_and_deep_files(sluice, tmp):
    big = tmp / "big.yaml"
    big.write_text("version: 1\n" + ("#" * 99 + "\n") * (80 << 10))  # 8 MiB of comments
    deep = write_yaml(tmp / "deep.yaml", "version: 1\nx: " + "[" * 100000 + "]" * 100000 + "\n")
    r = sluice.run("lint", big, deep, timeout=20)
    assert r.returncode == 2, r.stderr
    assert f"{big}: larger than 4 MiB" in r.stderr, r.stderr
    assert f"{deep}:2:" in r.stderr and "deeper than 64" in r.stderr, r.stderr


def mysql_sink_yaml(tmp, conn):
    write_lines(tmp / "in.txt", 3)
    lines = "".join(f"          {k}: {v}\n" for k, v in conn.items())
    return write_yaml(tmp / "m.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: m
    topic: t
    source:
      plugin: file
      config:
        file: {tmp}/in.txt
    sinks:
      - id: db
        plugin: mysql
        config:
          table.name.format: t
{lines}""")


@pytest.mark.asan
def test_mysql_credentials_never_shown(sluice, tmp, plugin_names):
    """connection.url's user info is hidden by lint --print and by the errors of a bad url; two
    spellings of the password that disagree are named without their values."""
    if "mysql" not in plugin_names:
        pytest.skip("the mysql plugin is not built")
    url = "jdbc:mysql://app:pw-sluiceCANARY@127.0.0.1:3306/db?password=q-sluiceCANARY"
    cfg = mysql_sink_yaml(tmp, {"connection.url": url, "connection.user": "app"})
    r = sluice.run("lint", "--print", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "sluiceCANARY" not in r.stdout + r.stderr, r.stdout
    assert "connection.url: jdbc:mysql://********@127.0.0.1:3306/db?password=********" in r.stdout
    cfg = mysql_sink_yaml(tmp, {"connection.url": "jdbc:mysql://app:pw-sluiceCANARY@h:99999/db"})
    r = sluice.run("run", cfg, timeout=30)
    assert r.returncode != 0
    assert "jdbc:mysql://********@h:99999/db" in r.stderr and "bad host or port" in r.stderr
    assert "sluiceCANARY" not in r.stdout + r.stderr, r.stderr
    cfg = mysql_sink_yaml(tmp, {"connection.user": "app", "connection.password": "a-sluiceCANARY",
                                "database.password": "b-sluiceCANARY"})
    r = sluice.run("run", cfg, timeout=30)
    assert r.returncode != 0
    assert "'database.password' and 'connection.password' give different passwords" in r.stderr, \
        r.stderr
    assert "sluiceCANARY" not in r.stdout + r.stderr, r.stderr


@pytest.mark.asan
def test_kafka_property_errors_hide_secrets(sluice, tmp):
    """A kafka: block librdkafka refuses: the error names the property, never a secret's value."""
    write_lines(tmp / "in.txt", 3)
    body = pipeline_yaml(tmp, "k").replace("version: 1\n", """version: 1
kafka:
  bootstrap.servers: 127.0.0.1:1
  sasl.password: pw-sluiceCANARY
  ssl_key: key-sluiceCANARY
""", 1)
    r = sluice.run("lint", write_yaml(tmp / "k.yaml", body), timeout=30)
    assert r.returncode == 2 and "kafka property 'ssl_key'" in r.stderr, r.stderr
    assert "sluiceCANARY" not in r.stdout + r.stderr, r.stderr
