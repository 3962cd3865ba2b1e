"""The dead-letter route on the source side in Kafka mode (Kafka Connect has one only for sinks): a
line the file source cannot parse and a record a transform cannot extend go, raw, to a dead-letter
Kafka topic with the __connect.errors.* headers, while the good records reach the pipeline's
topic; the source position is committed only once both are acknowledged."""
import json

import pytest

import kafkatest
from sluicetest import write_yaml

# line 2 is not JSON (fails in the source); line 4 is a JSON number, which insert-field cannot
# extend (fails in TRANSFORMATION).
LINES = ['{"id": 1}', "not json {", '{"id": 2}', "42", '{"id": 3}']


@pytest.mark.asan
@pytest.mark.tsan
def test_source_side_dead_letters_in_kafka(sluice, kafka, tmp):
    topic, dlq = kafkatest.uniq("readings"), kafkatest.uniq("bad-readings")
    src = tmp / "in.jsonl"
    src.write_text("\n".join(LINES) + "\n")
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: {topic}
    topic: {topic}
    value.converter: json
    value.converter.schemas.enable: false
    errors.tolerance: all
    errors.deadletterqueue.topic.name: {dlq}
    errors.deadletterqueue.context.headers.enable: true
    source:
      plugin: file
      config: {{file: {src}, format: json, follow: false}}
      transforms:
        - plugin: insert-field
          config: {{static.field: origin, static.value: test}}
""")
    r = sluice.run("run", "--quiet", cfg, timeout=60)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr}"
    good = kafkatest.consume(kafka.bootstrap, topic, n=3, timeout=30)
    assert [json.loads(m.value) for m in good] == [
        {"id": 1, "origin": "test"}, {"id": 2, "origin": "test"}, {"id": 3, "origin": "test"}]
    bad = kafkatest.consume(kafka.bootstrap, dlq, n=2, timeout=30)
    assert [m.value for m in bad] == [b"not json {", b"42"]
    h0 = {k: v.decode() for k, v in bad[0].headers}
    h1 = {k: v.decode() for k, v in bad[1].headers}
    assert h0["__connect.errors.stage"] == "TASK_POLL"
    assert h1["__connect.errors.stage"] == "TRANSFORMATION"
    for h in (h0, h1):
        assert h["__connect.errors.connector.name"] == topic
        assert h["__connect.errors.topic"] == topic
        assert h["__connect.errors.exception.message"]
    assert h1["__connect.errors.class.name"] == "insert-field"
    # Everything was acknowledged, so the position is the end of the file; a second run adds
    # nothing to either topic.
    pos = json.loads(json.loads((tmp / "offsets.json").read_text())["pipelines"][topic]["position"])
    assert pos["position"] == src.stat().st_size
    r = sluice.run("run", "--quiet", cfg, timeout=60)
    assert r.returncode == 0, r.stderr
    assert kafkatest.count(kafka.bootstrap, topic) == 3
    assert kafkatest.count(kafka.bootstrap, dlq) == 2
