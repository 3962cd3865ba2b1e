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


def sample(text, series):
    """The value of one series (name and labels as exposed), or None."""
    m = re.search(r"^" + re.escape(series) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def test_error_counters(sluice, tmp):
    """A source whose records fail (one does not parse, one a transform refuses) under
    errors.tolerance all with a dead-letter topic: Connect's task-error metrics count them."""
    src = tmp / "in.jsonl"
    src.write_text('{"id": 1}\nnot json {\n{"id": 2}\n42\n{"id": 3}\n')
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: readings
    value.converter: json
    value.converter.schemas.enable: false
    errors.tolerance: all
    errors.deadletterqueue.topic.name: bad-readings
    source:
      plugin: file
      config: {{file: {src}, format: json, follow: true}}
      transforms:
        - plugin: insert-field
          config: {{static.field: origin, static.value: test}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp}/out.txt}}
  - id: dead-letters
    topic: bad-readings
    value.converter: string
    sinks:
      - id: keep
        plugin: file
        config: {{file: {tmp}/dlq.txt}}
""")
    t0 = time.time()
    with Worker(sluice, tmp, cfg) as w:
        src_labels = '{connector="readings",task="0"}'
        text = ""

        def counted():
            nonlocal text
            text = w.get("/metrics")[2]
            return sample(text, "sluice_sink_record_send_total"
                          '{connector="readings.out",task="0"}') == 3
        wait_until(counted, 30, 0.2, "the three good records put")
        assert sample(text, "sluice_source_record_poll_total" + src_labels) == 5, text
        assert sample(text, "sluice_source_record_write_total" + src_labels) == 3, text
        assert sample(text, "sluice_sink_record_read_total"
                      '{connector="readings.out",task="0"}') == 3, text
        for name, want in (("sluice_record_errors_total", 2), ("sluice_records_skipped_total", 2),
                           ("sluice_deadletterqueue_produce_requests_total", 2),
                           ("sluice_deadletterqueue_produce_failures_total", 0)):
            assert sample(text, name + src_labels) == want, (name, text)
        last = sample(text, "sluice_last_error_timestamp_seconds" + src_labels)
        assert t0 - 1 <= last <= time.time() + 1, last
        # the dead-letter pipeline's sink read them
        wait_until(lambda: sample(w.get("/metrics")[2], "sluice_sink_record_send_total"
                                  '{connector="dead-letters",task="0"}') == 2, 30, 0.2,
                   "the dead-letter sink's two records")


def test_kafka_statistics(sluice, tmp, kafka):
    """In Kafka mode: consumer lag per partition and broker round-trip times from librdkafka's
    statistics (every 500 ms here), and the producer's queue as the pipeline's buffer."""
    from kafkatest import uniq
    pid, topic = uniq("km"), uniq("km")
    cfg = write_yaml(tmp / "k.yaml", f"""version: 1
offset.storage.file.filename: {tmp / 'offsets.json'}
kafka:
  bootstrap.servers: {kafka.bootstrap}
  statistics.interval.ms: 500
pipelines:
  - id: {pid}
    topic: {topic}
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: datagen-avro
      config: {{quickstart: orders, rate: 500}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp / 'out.jsonl'}}}
""")
    with Worker(sluice, tmp, cfg) as w:
        lag = (f'sluice_kafka_consumer_lag{{connector="{pid}.out",task="0",topic="{topic}",'
               'partition="0"}')
        text = ""

        def seen():
            nonlocal text
            text = w.get("/metrics")[2]
            return sample(text, lag) is not None and "client=\"producer\"" in text \
                and "client=\"consumer\"" in text
        wait_until(seen, 60, 0.5, "the lag and round-trip times of both clients")
        written = sample(text, f'sluice_source_record_write_total{{connector="{pid}",task="0"}}')
        assert 0 <= sample(text, lag) <= written, text
        for client in ("producer", "consumer"):
            rtt = re.findall(r'^sluice_kafka_broker_rtt_avg_seconds\{connector="[^"]+",task="0",'
                             rf'client="{client}",broker="[^"]+/\d+"\}} (\S+)$', text, re.M)
            assert rtt and all(0 < float(v) < 5 for v in rtt), (client, text)
        assert re.search(rf'^sluice_buffer_used_bytes\{{pipeline="{pid}"\}} \d+$', text, re.M), text
        assert check_metrics(text)[0] == 0
