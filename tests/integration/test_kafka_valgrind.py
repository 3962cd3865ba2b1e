"""Kafka mode under valgrind (memcheck): a file → Kafka run with the avro converter and a real
schema registry, then a Kafka → file run of the same topic stopped by SIGTERM. valgrind's exit code
99 means a memory error or a definite leak in sluice, its plugins, librdkafka or libcurl."""
import json
import os
import signal
import subprocess
import time


import kafkatest
from sluicetest import build_dir, scaled, write_yaml

VALGRIND = ["valgrind", "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--error-exitcode=99", "--trace-children=no"]


def test_kafka_avro_round_trip_under_valgrind(kafka, schema_registry, tmp):
    n = 500
    topic = kafkatest.uniq("vg")
    env = dict(os.environ, SLUICE_PLUGIN_PATH=str(build_dir() / "tests" / "plugins"))
    sluice = str(build_dir() / "sluice")
    head = f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
schema.registry:
  url: {schema_registry.url}
offset.storage.file.filename: {tmp}/offsets-%s.json
pipelines:
  - id: {topic}-%s
    topic: {topic}
    key.converter: string
    value.converter: avro
"""
    produce = write_yaml(tmp / "produce.yaml", head % ("p", "p") + f"""    source:
      plugin: typed
      config: {{count: {n}}}
""")
    r = subprocess.run(VALGRIND + [sluice, "run", "--quiet", str(produce)], env=env,
                       capture_output=True, text=True, timeout=scaled(300))
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr[-4000:]}"
    assert kafkatest.count(kafka.bootstrap, topic) == n

    out = tmp / "out.jsonl"
    consume = write_yaml(tmp / "consume.yaml", head % ("c", "c") + f"""    sinks:
      - id: out
        plugin: file
        config: {{file: {out}}}
""")
    p = subprocess.Popen(VALGRIND + [sluice, "run", "--quiet", str(consume)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + scaled(240)
        while time.monotonic() < deadline:
            if out.exists() and len(out.read_text().splitlines()) >= n:
                break
            time.sleep(0.5)
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=scaled(240))
    assert p.returncode == 0, f"exit {p.returncode}\n{err[-4000:]}"
    lines = out.read_text().splitlines()
    assert len(lines) == n
    assert [json.loads(x)["name"] for x in lines] == [f"name-{i}" for i in range(n)]
