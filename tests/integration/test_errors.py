"""errors.tolerance and the dead-letter topic, in-process: a record that fails in the source, in a
transform or in conversion either stops the pipeline (none) or is skipped and dead-lettered (all),
with Kafka Connect's __connect.errors.* context headers. Nothing else is lost."""
import json

import pytest

import os

from sluicetest import wait_exit, write_yaml

GOOD = [{"id": 1}, {"id": 2}, {"id": 3}]
# line 2 is not JSON (fails in the source); line 4 is a JSON number, which insert-field cannot
# extend (fails in TRANSFORMATION).
LINES = ['{"id": 1}', "not json {", '{"id": 2}', "42", '{"id": 3}']


def pipeline_yaml(tmp, tolerance, dlq=True):
    src = tmp / "in.jsonl"
    src.write_text("\n".join(LINES) + "\n")
    dlq_keys = f"""    errors.deadletterqueue.topic.name: bad-readings
    errors.deadletterqueue.context.headers.enable: true
""" if dlq else ""
    dlq_pipeline = f"""  - id: dead-letters
    topic: bad-readings
    value.converter: string
    sinks:
      - id: show
        plugin: console
        config: {{format: json, print.headers: true, output: stdout}}
      - id: keep
        plugin: file
        config: {{file: {tmp}/dlq.txt}}
""" if dlq else ""
    return write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: readings
    value.converter: json
    value.converter.schemas.enable: false
    errors.tolerance: {tolerance}
    errors.log.enable: true
{dlq_keys}    source:
      plugin: file
      config: {{file: {src}, format: json, follow: false}}
      transforms:
        - plugin: insert-field
          config: {{static.field: origin, static.value: test}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp}/out.txt}}
{dlq_pipeline}""")


@pytest.mark.asan
@pytest.mark.tsan
def test_tolerance_all_dead_letters_with_context(sluice, tmp):
    cfg = pipeline_yaml(tmp, "all")
    r = sluice.run("run", "--quiet", cfg, timeout=30)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr}"
    out = [json.loads(x) for x in (tmp / "out.txt").read_text().splitlines()]
    assert out == [dict(g, origin="test") for g in GOOD]
    # The dead-letter topic holds the two failed records, raw, in order.
    assert (tmp / "dlq.txt").read_text().splitlines() == ["not json {", "42"]
    shown = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    assert [s["value"] for s in shown] == ["not json {", "42"]
    h0, h1 = shown[0]["headers"], shown[1]["headers"]
    assert h0["__connect.errors.stage"] == "TASK_POLL"
    assert h1["__connect.errors.stage"] == "TRANSFORMATION"
    assert h0["__connect.errors.connector.name"] == "readings"
    assert h0["__connect.errors.topic"] == "readings"
    assert h0["__connect.errors.class.name"] == "file"
    assert h1["__connect.errors.class.name"] == "insert-field"
    assert "insert-field needs a struct or map value" in h1["__connect.errors.exception.message"]
    # errors.log.enable: each skip is logged with its stage.
    assert r.stderr.count("skipping record (dead-lettered)") == 2, r.stderr


@pytest.mark.asan
@pytest.mark.tsan
def test_tolerance_all_without_dlq_skips(sluice, tmp):
    cfg = pipeline_yaml(tmp, "all", dlq=False)
    r = sluice.run("run", "--quiet", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in (tmp / "out.txt").read_text().splitlines()]
    assert out == [dict(g, origin="test") for g in GOOD]


@pytest.mark.asan
@pytest.mark.tsan
def test_tolerance_none_stops_with_the_reason(sluice, tmp):
    cfg = pipeline_yaml(tmp, "none", dlq=False)
    r = sluice.run("run", "--quiet", cfg, timeout=30)
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stderr}"
    assert "errors.tolerance is none" in r.stderr, r.stderr
    assert "TASK_POLL" in r.stderr and "readings/source" in r.stderr, r.stderr
    # The failing record is in the first batch with good ones: nothing of it is half-delivered
    # past the failure, and the position was not committed past the failed record.
    offsets = json.loads((tmp / "offsets.json").read_text()) if (tmp / "offsets.json").exists() \
        else {"pipelines": {}}
    assert "readings" not in offsets["pipelines"], offsets


@pytest.mark.asan
@pytest.mark.tsan
def test_conversion_failure_is_dead_lettered(sluice, tmp):
    """The bytes converter cannot encode a map: VALUE_CONVERTER stage."""
    src = tmp / "in.jsonl"
    src.write_text('{"a": 1}\n')
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: conv
    value.converter: bytes
    errors.tolerance: all
    errors.deadletterqueue.topic.name: conv-dlq
    errors.deadletterqueue.context.headers.enable: true
    source:
      plugin: file
      config: {{file: {src}, format: json, follow: false}}
    sinks:
      - {{id: out, plugin: file, config: {{file: {tmp}/out.txt}}}}
  - id: conv-dlq
    value.converter: string
    sinks:
      - {{id: show, plugin: console, config: {{print.headers: true}}}}
""")
    r = sluice.run("run", "--quiet", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (tmp / "out.txt").read_text() == ""
    shown = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    assert len(shown) == 1
    assert json.loads(shown[0]["value"]) == {"a": 1}
    assert shown[0]["headers"]["__connect.errors.stage"] == "VALUE_CONVERTER"


@pytest.mark.asan
@pytest.mark.tsan
def test_failed_sink_commits_nothing_and_the_restart_delivers(sluice, tmp):
    """A sink that fails for good (console writing into a closed pipe) fails the pipeline; the
    records it did not flush are not committed, so a restart delivers all of them."""
    src = tmp / "in.jsonl"
    src.write_text("".join(f'{{"n": {i}}}\n' for i in range(50)))
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: p
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: file
      config: {{file: {src}, format: json, follow: false}}
    sinks:
      - {{id: screen, plugin: console}}
      - {{id: out, plugin: file, config: {{file: {tmp}/out.txt}}}}
""")
    r_fd, w_fd = os.pipe()
    os.close(r_fd)  # nobody reads: every write to stdout fails with EPIPE
    proc = sluice.spawn("run", "--quiet", cfg, stdout=w_fd, text=True)
    os.close(w_fd)
    assert wait_exit(proc, 30) == 1
    err = proc.stderr.read()
    proc.stderr.close()
    assert "p/screen" in err and "failed" in err, err
    offsets = tmp / "offsets.json"
    committed = json.loads(offsets.read_text())["pipelines"] if offsets.exists() else {}
    assert "p" not in committed, committed
    # Restart with a console that can write: every record arrives on stdout.
    r = sluice.run("run", "--quiet", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["n"] for x in r.stdout.splitlines()] == list(range(50))
