"""GET /stats and GET /topology (issue #18, docs/dashboard.md): the rates of the 1-second ring agree
with the counters, the window bounds the series, the topology names each file's source, transforms,
topic and sinks without a configuration value; in Kafka mode a sink's consumer lag is shown, and
connectors created and deleted over the REST API come and go."""
import json
import time

import pytest

from resttest import SluiceWorker, call, poll
from sluicetest import scaled, write_yaml
from test_kafka import uniq
from workertest import Worker

RATE = 1000  # records/s of the datagen source


def stats_yaml(tmp, rate=RATE):
    return write_yaml(tmp / "stats.yaml", f"""version: 1
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: gen
    topic: orders
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: datagen-avro
      config:
        quickstart: orders
        rate: {rate}
      transforms:
        - id: stamp
          plugin: insert-field
          config: {{static.field: origin, static.value: dashboard}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp / 'out.jsonl'}}}
      - id: copy
        plugin: file
        config: {{file: {tmp / 'copy.jsonl'}}}
""")


def stats(w, window=None):
    status, _, text = w.get("/stats" + ("" if window is None else f"?window={window}"))
    assert status == 200, text
    return json.loads(text)


def by_name(s):
    return {c["name"]: c for c in s["connectors"]}


@pytest.mark.asan
@pytest.mark.tsan
def test_rates_agree_with_the_counters_and_the_window_bounds_the_series(sluice, tmp):
    with Worker(sluice, tmp, stats_yaml(tmp)) as w:
        poll("ten samples", lambda: stats(w, 0)["samples"] >= 10, 30)
        # the counters over 10 s, timed by the test itself
        a, ta = by_name(stats(w, 0)), time.monotonic()
        time.sleep(10)
        s = stats(w)
        b, tb = by_name(s), time.monotonic()
        assert set(b) == {"gen", "gen.out", "gen.copy"}, list(b)
        for name, key in (("gen", "out"), ("gen.out", "in"), ("gen.copy", "out")):
            counted = (b[name]["totals"][key] - a[name]["totals"][key]) / (tb - ta)
            assert counted > RATE * 0.5, (name, counted)
            rate = b[name]["rate"][key]
            assert abs(rate - counted) <= 0.1 * counted, (name, key, rate, counted)
            # the per-second series over those 10 s says the same
            last = b[name]["series"][key][-10:]
            assert abs(sum(last) / len(last) - counted) <= 0.1 * counted, (name, last, counted)
            assert b[name]["rate"]["errors"] == 0 and b[name]["totals"]["errors"] == 0
        gen = b["gen"]
        assert gen["type"] == "source" and gen["state"] == "RUNNING" and gen["trace"] is None
        assert gen["pipeline"] == "gen" and gen["plugin"] == "datagen-avro"
        assert gen["lag"] is None, "in-process: no consumer lag"
        assert gen["buffer_bytes"] >= 0
        assert b["gen.out"]["tasks"] == [{"id": 0, "state": "RUNNING", "trace": None}]
        # the window: default the whole ring held so far, 0 none, N the last N
        n = s["samples"]
        assert len(gen["series"]["in"]) in (n, n - 1, n + 1) and n <= 900
        assert len(s["process"]["series"]["rss_bytes"]) == len(s["process"]["series"]
                                                               ["cpu_percent"])
        assert s["interval_ms"] == 1000
        assert abs(s["now_ms"] - time.time() * 1000) < scaled(3000)
        three = stats(w, 3)
        for c in three["connectors"]:
            assert all(len(c["series"][k]) == 3 for k in ("in", "out", "errors")), c
        assert len(three["process"]["series"]["cpu_percent"]) == 3
        assert all(len(c["series"]["in"]) == 0 for c in stats(w, 0)["connectors"])
        for bad in ("901", "-1", "x", ""):
            status, _, text = w.get(f"/stats?window={bad}")
            assert status == 400 and "window" in json.loads(text)["message"], (bad, text)
        p = s["process"]
        assert p["rss_bytes"] > 1 << 20 and p["cpu_seconds"] > 0 and p["uptime_seconds"] >= 10
        assert max(p["series"]["cpu_percent"]) > 0, "records flow: the process uses CPU"

        status, _, text = w.get("/topology")
        assert status == 200, text
        topo = json.loads(text)
        assert topo == {"files": [{"file": str(tmp / "stats.yaml"), "pipelines": [{
            "id": "gen",
            "source": {"connector": "gen", "plugin": "datagen-avro"},
            "transforms": [{"id": "stamp", "type": "insert-field"}],
            "topic": "orders",
            "sinks": [{"connector": "gen.out", "plugin": "file", "id": "out", "transforms": []},
                      {"connector": "gen.copy", "plugin": "file", "id": "copy",
                       "transforms": []}]}]}]}, text
        assert "dashboard" not in text and "jsonl" not in text, "a configuration value shown"


def test_kafka_lag_and_connectors_that_come_and_go(sluice, kafka, tmp):
    """Kafka mode: a sink's lag is its consumer's (as /metrics has it), a source has none; a
    paused sink's rate falls to 0; a sink connector deleted over the REST API leaves /stats, one
    created appears with a series that starts at its creation; a pipeline a reload adds appears
    in /stats and /topology."""
    topic, src, sink, late = uniq("st"), uniq("gen"), uniq("out"), uniq("late")
    w = SluiceWorker(sluice, tmp, kafka.bootstrap)
    try:
        def get(window=900):
            status, body = call(w.url, "GET", f"/stats?window={window}")
            assert status == 200, body
            return body

        status, body = call(w.url, "POST", "/connectors", {"name": src, "config": {
            "connector.class": "datagen-avro", "quickstart": "orders", "rate": "500",
            "topic": topic, "value.converter": "json",
            "value.converter.schemas.enable": "false"}})
        assert status == 201, body

        def sink_config(name):
            return {"name": name, "config": {
                "connector.class": "FileStreamSink", "topics": topic,
                "file": str(tmp / f"{name}.out"), "value.converter": "json",
                "value.converter.schemas.enable": "false"}}
        status, body = call(w.url, "POST", "/connectors", sink_config(sink))
        assert status == 201, body
        poll("the sink reading", lambda: by_name(get(0)).get(sink, {}).get("rate", {})
             .get("in", 0) > 100, 90)
        # the lag is librdkafka's consumer_lag summed over the partitions, as /metrics shows it
        def agree():
            lag = by_name(get(0))[sink]["lag"]
            status, text = call(w.url, "GET", "/metrics")
            lines = [ln for ln in text.splitlines() if ln.startswith(
                f'sluice_kafka_consumer_lag{{connector="{sink}"')]
            total = sum(int(float(ln.rsplit(" ", 1)[1])) for ln in lines)
            return lag is not None and lines and lag == total and (lag, total)
        poll("the sink's lag in /stats, as /metrics has it", agree, 60)
        # paused: its rate falls to zero while the source goes on
        status, _ = call(w.url, "PUT", f"/connectors/{sink}/pause")
        assert status == 202
        poll("the paused sink at rate 0", lambda: by_name(get(0))[sink]["state"] == "PAUSED"
             and by_name(get(0))[sink]["rate"]["in"] == 0, 30)
        s = by_name(get())
        assert s[src]["lag"] is None and s[src]["rate"]["out"] > 100, s[src]
        assert s[sink]["lag"] >= 0 and s[sink]["totals"]["in"] <= s[src]["totals"]["out"]

        status, _ = call(w.url, "DELETE", f"/connectors/{sink}")
        assert status == 204
        poll("the deleted sink gone from /stats", lambda: sink not in by_name(get(0)), 30)
        samples = get(0)["samples"]
        status, body = call(w.url, "POST", "/connectors", sink_config(late))
        assert status == 201, body
        poll("the new sink reading", lambda: by_name(get(0)).get(late, {}).get("rate", {})
             .get("in", 0) > 0, 90)
        s = get()
        c = by_name(s)[late]
        # its series starts at its creation, not with the worker's
        assert 0 < len(c["series"]["in"]) <= s["samples"] - samples + 1, (len(c["series"]["in"]),
                                                                          s["samples"], samples)
        assert len(by_name(s)[src]["series"]["in"]) > len(c["series"]["in"])

        # a reload that adds a pipeline to the worker's file: in /stats and /topology
        added = uniq("reloaded")
        w.cfg.write_text(w.cfg.read_text().replace("pipelines: []\n", f"""pipelines:
  - id: {added}
    topic: {uniq("rt")}
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: datagen-avro
      config: {{quickstart: orders, rate: 50}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp / 'reloaded.out'}}}
"""))
        status, body = call(w.url, "POST", "/reload")
        assert status == 200, body
        poll("the reloaded pipeline flowing in /stats", lambda: by_name(get(0)).get(
            f"{added}.out", {}).get("rate", {}).get("in", 0) > 0, 90)
        status, topo = call(w.url, "GET", "/topology")
        ids = [p["id"] for f in topo["files"] for p in f["pipelines"]]
        assert added in ids and src in ids and late in ids, topo
    finally:
        w.close()
