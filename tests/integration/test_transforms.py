"""Transforms and predicates end to end, and the `sluice test` runner.

- every tests/transforms/*_test.yaml (the unit tests of each transform: schemaful and schemaless,
  key and value, each failure case) passes under `sluice test`;
- the runner itself: a passing file, a failing file (exit 1, a readable diff), a broken file
  (exit 2, file and line), a pipeline's own chains (source side and a sink's);
- transforms in running pipelines: chained in order on the source side and the sink side, Kafka
  Connect class names as plugin names, predicates with negate, a record a transform cannot handle
  dead-lettered with an error naming the transform, the field and the record's position;
- configuration errors (lint inits every plugin): each names the file, line and key."""
import json
from pathlib import Path

import pytest

from sluicetest import REPO, write_yaml

TRANSFORM_TESTS = sorted((REPO / "tests" / "transforms").glob("*_test.yaml"))


@pytest.mark.asan
@pytest.mark.parametrize("path", TRANSFORM_TESTS, ids=lambda p: p.name)
def test_transform_unit_tests_pass(sluice, path):
    r = sluice.run("test", path, timeout=60)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    last = r.stdout.strip().splitlines()[-1]
    passed, failed = (int(w) for w in last.replace(",", "").split()[0:3:2])
    assert failed == 0 and passed > 0, r.stdout


BAD_CONFIGS = sorted((REPO / "tests" / "transforms").glob("*_bad_*.yaml"))


@pytest.mark.parametrize("path", BAD_CONFIGS, ids=lambda p: p.name)
def test_transform_config_errors(sluice, path):
    """Each tests/transforms/*_bad_*.yaml says on its first line the error `sluice lint` must give
    (`# `sluice lint` must refuse this file with: FRAGMENT`): exit 2, the fragment, file:line."""
    first = path.read_text().splitlines()[0]
    assert "must refuse this file with: " in first, f"{path}: first line states no expectation"
    fragment = first.split("must refuse this file with: ", 1)[1].strip()
    r = sluice.run("lint", path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert fragment in r.stderr, r.stderr
    assert f"{path}:" in r.stderr, "the error names no file and line: " + r.stderr


PIPELINE_TESTS = sorted((REPO / "pipelines").glob("*_test.yaml"))


@pytest.mark.parametrize("path", PIPELINE_TESTS, ids=lambda p: p.name)
def test_shipped_pipeline_tests_pass(sluice, path):
    """The tests shipped next to the ready-made pipelines run their real chains."""
    r = sluice.run("test", path, timeout=60)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert r.stdout.strip().endswith(" 0 failed") and not r.stdout.startswith("0 passed")


def test_every_transform_has_unit_tests(plugin_names):
    """A transform plugin without its own test file would go untested."""
    names = {p.name[: -len("_test.yaml")].replace("_", "-") for p in TRANSFORM_TESTS}
    for plugin in ["replace-field", "mask-field", "value-to-key", "hoist-field", "extract-field",
                   "cast", "timestamp-converter", "regex-router", "timestamp-router", "filter",
                   "flatten", "header-from", "insert-header", "drop-headers",
                   "set-schema-metadata", "insert-field"]:
        assert plugin in plugin_names, f"plugin {plugin} is not built"
        assert plugin in names, f"tests/transforms/{plugin.replace('-', '_')}_test.yaml is missing"


CHAIN = """
    transforms:
      - plugin: insert-field
        config: {static.field: origin, static.value: dg}
"""


def test_runner_passing_file(sluice, tmp):
    f = write_yaml(tmp / "ok_test.yaml", f"""tests:
  - name: adds a field
{CHAIN}
    input:
      - {{value: {{a: 1}}, key: k1, headers: {{h: v}}, topic: t1, timestamp: 1700000000000}}
      - {{value: 5}}
    expect:
      - {{value: {{a: 1, origin: dg}}, key: k1, headers: {{h: v}}, topic: t1,
          timestamp: 1700000000000}}
      - error: "needs a struct or map"
""")
    r = sluice.run("test", "-v", f)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok   " in r.stdout and "adds a field" in r.stdout
    assert r.stdout.strip().endswith("1 passed, 0 failed")


def test_runner_headers_repeated_and_null(sluice, tmp):
    f = write_yaml(tmp / "h_test.yaml", """tests:
  - name: repeated names and a null header pass a chain unchanged
    transforms: []
    input: [{value: {a: 1}, headers: [[h, "1"], [h, "2"], {n: null}]}]
    expect: [{headers: [[h, "1"], {h: "2"}, [n, null]]}]
  - name: a null header is not an empty one
    transforms: []
    input: [{value: {a: 1}, headers: [[n, null]]}]
    expect: [{headers: {n: ""}}]
""")
    r = sluice.run("test", f)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "expected: {n=}" in r.stdout and "actual:   {n=(null)}" in r.stdout
    assert r.stdout.strip().endswith("1 passed, 1 failed")


def test_runner_failing_file_prints_a_diff(sluice, tmp):
    f = write_yaml(tmp / "bad_test.yaml", f"""tests:
  - name: wrong value
{CHAIN}
    input: [{{value: {{a: 1}}}}]
    expect: [{{value: {{a: 2, origin: dg}}}}]
  - name: wrong outcome
{CHAIN}
    input: [{{value: 5}}, {{value: {{a: 1}}}}]
    expect: [{{value: 5}}]
  - name: right
{CHAIN}
    input: [{{value: {{a: 1}}}}]
    expect: [{{value: {{a: 1, origin: dg}}}}]
""")
    r = sluice.run("test", f)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    lines = f.read_text().splitlines()
    at = {name: i + 1 for i, l in enumerate(lines) for name in ["wrong value", "wrong outcome"]
          if l.strip() == f"- name: {name}"}
    assert f"FAIL {f}:{at['wrong value']}: wrong value" in out
    assert "value differs at $.a" in out
    assert 'expected: {"a":2,"origin":"dg"}' in out and 'actual:   {"a":1,"origin":"dg"}' in out
    assert f"FAIL {f}:{at['wrong outcome']}: wrong outcome" in out
    assert "expected a record, got error:" in out and "needs a struct or map" in out
    assert "output #2 was not expected" in out
    assert out.strip().endswith("1 passed, 2 failed")


def test_runner_broken_file_names_file_and_line(sluice, tmp):
    f = write_yaml(tmp / "broken_test.yaml", """tests:
  - name: unknown plugin
    transforms:
      - plugin: insert-feild
    input: []
    expect: []
  - name: stray key
    transforms: []
    inputs: []
    expect: []
""")
    r = sluice.run("test", f)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{f}:4:" in r.stderr and "unknown plugin 'insert-feild'" in r.stderr
    assert "did you mean 'insert-field'" in r.stderr
    assert f"{f}:9:" in r.stderr and "unknown key 'inputs'" in r.stderr


def test_runner_uses_the_pipelines_chains(sluice, tmp):
    write_yaml(tmp / "orders.yaml", f"""version: 1
pipelines:
  - id: orders
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: file
      config: {{file: {tmp}/in.jsonl, format: json, follow: false}}
      transforms:
        - plugin: insert-field
          config: {{static.field: origin, static.value: dg}}
        - plugin: value-to-key
          config: {{fields: id}}
    sinks:
      - id: files
        plugin: file
        config: {{file: {tmp}/out.jsonl}}
        transforms:
          - plugin: extract-field
            config: {{field: id}}
""")
    f = write_yaml(tmp / "orders_test.yaml", """tests:
  - name: source side
    input: [{value: {id: 7, n: x}}]
    expect: [{value: {id: 7, n: x, origin: dg}, key: {id: 7}}]
  - name: sink side
    chain: files
    input: [{value: {id: 7, n: x}}]
    expect: [{value: 7}]
""")
    r = sluice.run("test", f)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("2 passed, 0 failed")


def test_predicates(sluice, tmp):
    f = write_yaml(tmp / "pred_test.yaml", """tests:
  - name: topic-name-matches, has-header-key negated, record-is-tombstone
    predicates:
      orders: {type: topic-name-matches, pattern: 'orders-\\d+'}
      tomb: {type: org.apache.kafka.connect.transforms.predicates.RecordIsTombstone}
    transforms:
      - plugin: insert-field
        predicate: orders
        config: {static.field: matched, static.value: "yes"}
      - plugin: insert-header
        predicate: {type: HasHeaderKey, name: trace}
        negate: true
        config: {header: trace, value.literal: added}
      - plugin: filter
        predicate: tomb
    input:
      - {value: {a: 1}, topic: orders-12, headers: {trace: t1}}
      - {value: {a: 2}, topic: orders-x}
      - {value: null, topic: orders-13}
      - {value: {a: 4}, topic: xorders-1}
    expect:
      - {value: {a: 1, matched: "yes"}, headers: {trace: t1}}
      - {value: {a: 2}, headers: {trace: added}}
      - {value: {a: 4}, headers: {trace: added}}
""")
    r = sluice.run("test", f)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("1 passed, 0 failed")


@pytest.mark.tsan
def test_chains_aliases_and_predicates_in_a_running_pipeline(sluice, tmp):
    """Source side: a Kafka Connect class name, a rename, then a predicate-guarded mask; sink side:
    value-to-key. The records come out in order with every step applied where it should be."""
    src = tmp / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "card": f"4000{i:04d}", "vip": i % 2 == 0}) + "\n"
                           for i in range(6)))
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: cards
    value.converter: json
    value.converter.schemas.enable: false
    predicates:
      traced: {{type: has-header-key, name: trace}}
    source:
      plugin: file
      config: {{file: {src}, format: json, follow: false}}
      transforms:
        - plugin: org.apache.kafka.connect.transforms.InsertField$Value
          config: {{static.field: origin, static.value: test}}
        - plugin: replace-field
          config: {{renames: "card:card_number"}}
        - plugin: mask-field
          predicate: traced
          negate: true
          config: {{fields: card_number, replacement: "****"}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp}/out.jsonl}}
        key.converter: json
        key.converter.schemas.enable: false
        transforms:
          - plugin: org.apache.kafka.connect.transforms.ValueToKey
            config: {{fields: id}}
""")
    r = sluice.run("run", "--quiet", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in (tmp / "out.jsonl").read_text().splitlines()]
    assert rows == [{"id": i, "card_number": "****", "vip": i % 2 == 0, "origin": "test"}
                    for i in range(6)]


@pytest.mark.tsan
def test_failed_transform_is_dead_lettered_with_its_position(sluice, tmp):
    src = tmp / "in.jsonl"
    src.write_text('{"id": 1, "n": "a"}\n{"n": "b"}\n{"id": 3, "n": "c"}\n')
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: rows
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: file
      config: {{file: {src}, format: json, follow: false}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp}/out.jsonl}}
        key.converter: json
        key.converter.schemas.enable: false
        errors.tolerance: all
        errors.deadletterqueue.topic.name: rows-dlq
        errors.deadletterqueue.context.headers.enable: true
        transforms:
          - id: key-by-id
            plugin: value-to-key
            config: {{fields: id}}
  - id: dead
    topic: rows-dlq
    value.converter: string
    sinks:
      - id: show
        plugin: console
        config: {{format: json, print.headers: true, output: stdout}}
""")
    r = sluice.run("run", "--quiet", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in (tmp / "out.jsonl").read_text().splitlines()]
    assert [x["id"] for x in rows] == [1, 3]
    dead = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    assert len(dead) == 1, r.stdout
    h = dead[0]["headers"]
    msg = h["__connect.errors.exception.message"]
    assert h["__connect.errors.stage"] == "TRANSFORMATION"
    assert h["__connect.errors.class.name"] == "value-to-key"
    assert "rows/key-by-id" in msg and "'id'" in msg
    assert "topic 'rows' partition 0 offset 1" in msg


@pytest.mark.parametrize("snippet,fragment,line", [
    # lint inits the plugin: what only the plugin checks is reported with the transform's line
    ("- plugin: insert-field\n          config: {}", "nothing to insert", 9),
    ("- plugin: replace-field\n          config: {renames: \"a\"}", "renames", 9),
    # an alias presets a key: a contradicting value is an error
    ("- plugin: org.apache.kafka.connect.transforms.InsertField$Key\n"
     "          config: {where: value, static.field: a, static.value: b}",
     "is plugin 'insert-field' with where: key", 10),
    ("- plugin: filter\n          predicate: nope", "predicate 'nope' is not defined", 10),
    ("- plugin: filter\n          negate: true", "'negate' needs a 'predicate'", 10),
    ("- plugin: filter\n          predicate: {type: topic-name-matches, pattern: \"a(b\"}",
     "invalid regular expression 'a(b'", 10),
    ("- plugin: filter\n          predicate: {type: has-header-kee, name: x}",
     "unknown predicate type 'has-header-kee'", 10),
])
def test_bad_transform_configuration_is_a_lint_error(sluice, tmp, snippet, fragment, line):
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
pipelines:
  - id: p
    source:
      plugin: file
      config: {{file: {tmp}/in.jsonl, format: json, follow: false}}
      transforms:
        {snippet}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp}/out.jsonl}}
""")
    r = sluice.run("lint", cfg)
    assert r.returncode == 2, r.stdout + r.stderr
    assert fragment in r.stderr, r.stderr
    assert f"{cfg}:{line}:" in r.stderr or f"{cfg}:{line - 1}:" in r.stderr, r.stderr
