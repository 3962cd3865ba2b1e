"""One pipeline file, two modes: `kafka.bootstrap.servers` and `schema.registry.url` that
interpolate to the empty string switch their block off, so `${KAFKA_BOOTSTRAP:-}` runs in-process
when the variable is unset and against the cluster when it is set."""
import os

from kafkatest import count, uniq
from sluicetest import write_yaml


def _cfg(tmp, topic, out):
    return write_yaml(tmp / "p.yaml", f"""version: 1
kafka:
  bootstrap.servers: ${{SLUICE_TEST_BOOTSTRAP:-}}
schema.registry:
  url: ${{SLUICE_TEST_REGISTRY:-}}
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: {topic}
    topic: {topic}
    value.converter: ${{SLUICE_TEST_CONVERTER:-json}}
    value.converter.schemas.enable: false
    source:
      plugin: file
      config: {{file: {tmp / 'in.json'}, format: json, follow: false}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {out}}}
""")


def test_empty_bootstrap_servers_runs_in_process(sluice, tmp):
    (tmp / "in.json").write_text("".join(f'{{"n": {i}}}\n' for i in range(10)))
    out = tmp / "out.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_TEST_")}
    r = sluice.run("run", _cfg(tmp, uniq("e"), out), timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert "bootstrap.servers is empty: running in-process" in r.stderr
    assert out.read_text().splitlines() == [f'{{"n":{i}}}' for i in range(10)]
    # avro with an empty registry url: the block is off, so avro is refused at lint
    r = sluice.run("lint", _cfg(tmp, uniq("e"), out), timeout=30,
                   env={**env, "SLUICE_TEST_CONVERTER": "avro"})
    assert r.returncode != 0 and "avro needs a schema.registry" in r.stderr, r.stderr


def test_set_bootstrap_servers_runs_against_kafka(sluice, tmp, kafka):
    (tmp / "in.json").write_text("".join(f'{{"n": {i}}}\n' for i in range(10)))
    topic = uniq("e")
    cfg = _cfg(tmp, topic, tmp / "out.json")
    # source only: the sink reads the topic back in Kafka mode too, but one run of file → Kafka
    # is enough to show the mode; the records must be in the broker's topic
    text = cfg.read_text().split("    sinks:")[0]
    cfg.write_text(text)
    r = sluice.run("run", "--quiet", cfg, timeout=120,
                   env={"SLUICE_TEST_BOOTSTRAP": kafka.bootstrap})
    assert r.returncode == 0, r.stderr
    assert count(kafka.bootstrap, topic) == 10
