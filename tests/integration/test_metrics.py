"""GET /metrics (issue #17): the exposition passes promtool, names what docs/metrics.md lists, and a
real Prometheus server scraping `sluice run` computes the flow's rate from it."""
import os
import re
import subprocess
import time

from prometheustest import check_metrics
from sluicetest import REPO, scaled, wait_until, write_yaml
from workertest import Worker

RATE = 2000  # records/s of the datagen source


def documented_series():
    """The series docs/metrics.md lists (first column of its tables)."""
    text = (REPO / "docs" / "metrics.md").read_text()
    return set(re.findall(r"^\| `((?:sluice|process)_[a-z0-9_]+)` \|", text, re.M))


def test_exposition_passes_promtool_and_matches_the_docs(build, tmp):
    """The unit test's exposition (a snapshot with a source and a sink, Kafka statistics, the
    process): promtool's format and naming checks pass, every family is documented and every
    documented series is there."""
    dump = tmp / "metrics.txt"
    r = subprocess.run([str(build / "tests" / "test_metrics")], capture_output=True, text=True,
                       env=dict(os.environ, SLUICE_METRICS_DUMP=str(dump)), timeout=scaled(60))
    assert r.returncode == 0, r.stdout + r.stderr
    text = dump.read_text()
    rc, out = check_metrics(text)
    assert rc == 0, f"promtool check metrics:\n{out}\n{text}"
    families = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    assert families == documented_series(), (
        f"exposed, not documented: {sorted(families - documented_series())}; "
        f"documented, not exposed: {sorted(documented_series() - families)}")
    # a broken exposition is caught: the check is not vacuous
    rc, _ = check_metrics(text.replace("sluice_retries_total{", "sluice_retries_total{{", 1))
    assert rc != 0


def datagen_yaml(tmp, rate):
    return write_yaml(tmp / "gen.yaml", f"""version: 1
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: gen
    topic: gen
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: datagen-avro
      config:
        quickstart: orders
        rate: {rate}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp / 'out.jsonl'}}}
""")


def value(result):
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_prometheus_scrapes_the_flow_rate(sluice, tmp, prometheus):
    with Worker(sluice, tmp, datagen_yaml(tmp, RATE)) as w:
        status, ctype, text = w.get("/metrics")
        assert status == 200, text
        assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, ctype
        rc, out = check_metrics(text)
        assert rc == 0, f"promtool check metrics on the live exposition:\n{out}"
        assert 'sluice_connector_status{connector="gen",state="RUNNING"} 1' in text, text
        assert 'sluice_task_status{connector="gen.out",task="0",state="RUNNING"} 1' in text, text
        assert re.search(r'^sluice_buffer_used_bytes\{pipeline="gen"\} \d+$', text, re.M), text

        p = prometheus(w.hostport)
        write = 'sluice_source_record_write_total{connector="gen",task="0"}'
        wait_until(lambda: p.query(write), 60, 0.5, "Prometheus's first scrape of sluice")
        assert value(p.query('up{job="sluice"}')) == 1
        first = time.monotonic()
        # 15 s of scrapes at 1 s: a 10 s window holds ten of them
        time.sleep(max(0, 15 - (time.monotonic() - first)))
        for series in (write,
                       'sluice_source_record_poll_total{connector="gen",task="0"}',
                       'sluice_sink_record_send_total{connector="gen.out",task="0"}'):
            got = value(p.query(f"rate({series}[10s])"))
            assert abs(got - RATE) <= 0.1 * RATE, f"rate({series}[10s]) = {got}, flow {RATE}/s"
        assert value(p.query("process_resident_memory_bytes")) > 1024 * 1024
        assert value(p.query('sluice_record_errors_total{connector="gen",task="0"}')) == 0
        assert value(p.query('sluice_offset_commit_completion_total{connector="gen.out"}')) > 0
