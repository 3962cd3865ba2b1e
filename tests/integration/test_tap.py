"""The tap (issue #18): GET /connectors/{name}/tap streams what passes one stage of a connector
(the source's records, each transform's output, what a sink receives), masked as the pipeline's
mask-field transforms say, bounded by `limit`; `sluice tap` prints it. In-process and through Kafka."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from sluicetest import scaled, wait_until, write_yaml
from workertest import Worker


def pipelines_yaml(tmp, extra="", topic_gen="gen", topic_plain="plain", pid="gen", rate=2000):
    """A datagen pipeline with two source transforms and one sink transform; `itemid` is masked by
    a mask-field of the SINK's chain, so every stage before it shows it masked only by the tap.
    A second pipeline without any mask shows what itemid holds unmasked."""
    return write_yaml(tmp / "tap.yaml", f"""version: 1
offset.storage.file.filename: {tmp / 'offsets.json'}
{extra}
pipelines:
  - id: {pid}
    topic: {topic_gen}
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: datagen-avro
      config: {{quickstart: orders, rate: {rate}}}
      transforms:
        - id: units
          plugin: replace-field
          config: {{exclude: [orderunits]}}
        - id: tag
          plugin: insert-field
          config: {{static.field: src, static.value: gen}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp / 'out.jsonl'}}}
        transforms:
          - id: mask
            plugin: mask-field
            config: {{fields: [itemid], replacement: "****"}}
  - id: plain
    topic: {topic_plain}
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: datagen-avro
      config: {{quickstart: orders, rate: 200}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp / 'plain.jsonl'}}}
""")


def tap(w, name, query="", accept=None, timeout=20):
    """(status, content type, the objects of the whole stream); the stream must end by itself."""
    req = urllib.request.Request(f"{w.url}/connectors/{name}/tap{query}")
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=scaled(timeout)) as r:
            body = r.read().decode()
            return r.status, r.headers.get("Content-Type", ""), body
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def objects(body):
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def check_stages(w, pid, kafka):
    # the source: before any transform (orderunits still there, no "src"), itemid masked
    st, ctype, body = tap(w, pid, "?limit=5")
    assert st == 200 and ctype == "application/x-ndjson", (st, body)
    recs = objects(body)
    assert len(recs) == 5, body
    for r in recs:
        assert r["connector"] == pid and r["stage"] == "source", r
        assert r["partition"] is None and r["offset"] is None, r
        assert "orderunits" in r["value"] and "src" not in r["value"], r
        assert r["value"]["itemid"] == "****", r
        assert r["key"] == r["value"]["orderid"], r
        assert {"key": "task.id", "value": "0"} in r["headers"], r
        assert r["skipped"] >= 0 and r["topic"], r
    # after the first transform: orderunits gone, no "src" yet
    recs = objects(tap(w, pid, "?stage=units&limit=3")[2])
    assert len(recs) == 3 and all(r["stage"] == "units" for r in recs), recs
    assert all("orderunits" not in r["value"] and "src" not in r["value"] for r in recs), recs
    # after the second
    recs = objects(tap(w, pid, "?stage=tag&limit=3")[2])
    assert len(recs) == 3 and all(r["value"]["src"] == "gen" for r in recs), recs
    # what the sink receives: after its own mask, read back from the topic (partition, offset)
    recs = objects(tap(w, f"{pid}.out", "?limit=4")[2])
    assert len(recs) == 4, recs
    for r in recs:
        assert r["stage"] == "sink" and r["connector"] == f"{pid}.out", r
        assert r["partition"] == 0 and isinstance(r["offset"], int), r
        assert r["value"]["itemid"] == "****" and r["value"]["src"] == "gen", r
        assert isinstance(r["timestamp"], int) and r["timestamp"] > 1.7e12, r
    offsets = [r["offset"] for r in recs]
    assert offsets == sorted(offsets), offsets
    recs = objects(tap(w, f"{pid}.out", "?stage=mask&limit=2")[2])
    assert len(recs) == 2 and recs[0]["value"]["itemid"] == "****", recs
    # the pipeline without a mask: itemid is a real value (the masks above are not vacuous)
    recs = objects(tap(w, "plain", "?limit=3")[2])
    assert len(recs) == 3 and all(r["value"]["itemid"] not in ("", "****") for r in recs), recs
    # a sink with no transform: the tap decodes the bytes it reads (the sink may never do)
    recs = objects(tap(w, "plain.out", "?limit=2")[2])
    assert len(recs) == 2 and all(isinstance(r["value"], dict) and r["value"]["orderid"] >= 0
                                  and r["partition"] == 0 for r in recs), recs


@pytest.mark.asan
@pytest.mark.tsan
def test_stages_in_process(sluice, tmp):
    with Worker(sluice, tmp, pipelines_yaml(tmp)) as w:
        check_stages(w, "gen", kafka=False)
        # server-sent events: the same objects, framed
        st, ctype, body = tap(w, "gen", "?stage=tag&limit=2", accept="text/event-stream")
        assert st == 200 and ctype == "text/event-stream", (st, ctype)
        events = [e for e in body.split("\n\n") if e.strip()]
        assert len(events) == 2 and all(e.startswith("data: {") for e in events), body
        assert json.loads(events[0][6:])["stage"] == "tag"
        # the written file has the mask too (the tap shows what the sink got)
        wait_until(lambda: (tmp / "out.jsonl").exists() and (tmp / "out.jsonl").stat().st_size,
                   20, 0.1, "records in out.jsonl")
        first = json.loads((tmp / "out.jsonl").read_text().splitlines()[0])
        assert first["itemid"] == "****", first


@pytest.mark.asan
def test_sampling_and_errors(sluice, tmp):
    with Worker(sluice, tmp, pipelines_yaml(tmp)) as w:
        # 2000 records/s watched at 20/s: about one record in a hundred, the others counted
        t0 = time.monotonic()
        recs = objects(tap(w, "gen", "?limit=20&rate=20")[2])
        took = time.monotonic() - t0
        assert len(recs) == 20, recs
        assert 0.5 < took < scaled(10), took
        assert sum(r["skipped"] for r in recs[1:]) > 19 * 20, [r["skipped"] for r in recs]
        st, _, body = tap(w, "nope")
        assert st == 404 and json.loads(body) == {"error_code": 404,
                                                  "message": "Connector nope not found"}, body
        st, _, body = tap(w, "gen", "?stage=nope")
        assert st == 400, body
        msg = json.loads(body)["message"]
        assert "'nope'" in msg and "'source', 'units', 'tag'" in msg, msg
        st, _, body = tap(w, "gen.out", "?stage=source")
        assert st == 400 and "'mask', 'sink'" in json.loads(body)["message"], body
        st, _, body = tap(w, "gen", "?limit=0")
        assert st == 400 and "limit" in json.loads(body)["message"], body
        st, _, body = tap(w, "gen", "?rate=x")
        assert st == 400 and "rate" in json.loads(body)["message"], body


def open_raw(w, path):
    """A tap request on a raw socket (left open, never read: a client that went away later)."""
    host, port = w.hostport.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=scaled(10))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {w.hostport}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, head
        head += chunk
    return s, head.split(b"\r\n", 1)[0].decode()


def lines_out(tmp):
    p = tmp / "out.jsonl"
    return p.read_bytes().count(b"\n") if p.exists() else 0


@pytest.mark.asan
@pytest.mark.tsan
def test_client_gone_frees_the_watcher(sluice, tmp):
    with Worker(sluice, tmp, pipelines_yaml(tmp)) as w:
        path = "/connectors/gen/tap?limit=100000&rate=100000"
        socks = []
        for _ in range(8):
            s, status = open_raw(w, path)
            assert " 200 " in status, status
            socks.append(s)
        # the ninth is refused while eight are open
        st, _, body = tap(w, "gen")
        assert st == 503 and "at most 8" in json.loads(body)["message"], body
        # the REST API still answers at once (no server thread waits on a stream)
        t0 = time.monotonic()
        assert w.get("/connectors/gen/status")[0] == 200
        assert time.monotonic() - t0 < scaled(1)
        # the readers never read: their rings fill and the pipeline goes on regardless
        before = lines_out(tmp)
        wait_until(lambda: lines_out(tmp) > before + 2000, 20, 0.1, "the flow with 8 taps open")
        for s in socks:
            s.close()
        # each closed tap lets a new one in again (their watchers were freed)
        def reopened():
            st, _, body = tap(w, "gen", "?limit=1")
            return st == 200 and len(objects(body)) == 1
        wait_until(reopened, 15, 0.2, "a tap accepted again after the clients went away")
        # taps that wait for records (the source paused: their connections suspended, nothing to
        # send) are seen going at once, not at the next keep-alive (5 s)
        put = urllib.request.Request(f"{w.url}/connectors/gen/pause", method="PUT")
        assert urllib.request.urlopen(put, timeout=scaled(10)).status == 202
        time.sleep(1)
        socks = [open_raw(w, path)[0] for _ in range(8)]
        time.sleep(1)
        for s in socks:
            s.close()
        t0 = time.monotonic()

        def accepted():
            s, status = open_raw(w, path)
            s.close()
            return " 200 " in status
        wait_until(accepted, 15, 0.05, "a tap accepted again after suspended clients went away")
        assert time.monotonic() - t0 < 3, time.monotonic() - t0
        put = urllib.request.Request(f"{w.url}/connectors/gen/resume", method="PUT")
        assert urllib.request.urlopen(put, timeout=scaled(10)).status == 202
        before = lines_out(tmp)
        wait_until(lambda: lines_out(tmp) > before + 2000, 20, 0.1, "the flow after the taps")
        assert "ERROR" not in w.stderr(), w.stderr()


@pytest.mark.asan
def test_sluice_tap_prints_records(sluice, sluice_bin, tmp):
    with Worker(sluice, tmp, pipelines_yaml(tmp)) as w:
        r = subprocess.run([str(sluice_bin), "tap", "--url", w.url, "--limit", "3", "gen.out"],
                           capture_output=True, text=True, timeout=scaled(30))
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert len(lines) == 3, r.stdout
        for line in lines:
            assert line.startswith("gen[0]@") and " key=" in line, line
            value = json.loads(line.split(" value=", 1)[1].split(" (", 1)[0])
            assert value["itemid"] == "****" and value["src"] == "gen", line
        r = subprocess.run([str(sluice_bin), "tap", "--url", w.url, "--json", "--limit", "2",
                            "--stage", "tag", "gen"],
                           capture_output=True, text=True, timeout=scaled(30))
        assert r.returncode == 0, r.stderr
        assert [json.loads(x)["stage"] for x in r.stdout.splitlines()] == ["tag", "tag"], r.stdout
        r = subprocess.run([str(sluice_bin), "tap", "--url", w.url, "nope"],
                           capture_output=True, text=True, timeout=scaled(30))
        assert r.returncode == 1 and "sluice tap: Connector nope not found (HTTP 404)" in r.stderr
        r = subprocess.run([str(sluice_bin), "tap", "--url", w.url, "--stage", "x", "gen"],
                           capture_output=True, text=True, timeout=scaled(30))
        assert r.returncode == 1 and "'source', 'units', 'tag'" in r.stderr, r.stderr
        # Ctrl-C ends a tap that would go on
        p = subprocess.Popen([str(sluice_bin), "tap", "--url", w.url, "--limit", "100000",
                              "--rate", "5", "gen"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        first = p.stdout.readline()
        assert first.startswith("gen key="), first
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=scaled(10))
        assert p.returncode == 0, err
    # the worker is gone: connection refused, said plainly
    r = subprocess.run([str(sluice_bin), "tap", "--url", w.url, "gen"],
                       capture_output=True, text=True, timeout=scaled(30))
    assert r.returncode == 1 and "sluice tap: cannot reach" in r.stderr, r.stderr


def test_stages_through_kafka(sluice, tmp, kafka):
    from kafkatest import uniq
    pid = uniq("tap")
    extra = f"kafka:\n  bootstrap.servers: {kafka.bootstrap}"
    cfg = pipelines_yaml(tmp, extra=extra, topic_gen=uniq("tap"), topic_plain=uniq("tapp"),
                         pid=pid)
    with Worker(sluice, tmp, cfg) as w:
        check_stages(w, pid, kafka=True)
        # the connector goes (a reload replaces the changed pipeline): its tap's response ends
        req = urllib.request.Request(f"{w.url}/connectors/{pid}/tap?limit=100000&rate=5")
        with urllib.request.urlopen(req, timeout=scaled(60)) as r:
            assert r.readline().startswith(b"{"), "a first record"
            pipelines_yaml(tmp, extra=extra, topic_gen=cfg.read_text().split("topic: ")[1]
                           .split()[0], topic_plain="unused", pid=pid, rate=1999)
            post = urllib.request.Request(f"{w.url}/reload", data=b"", method="POST")
            assert urllib.request.urlopen(post, timeout=scaled(60)).status == 200
            t0 = time.monotonic()
            rest = r.read()  # returns once the stream ends
            assert time.monotonic() - t0 < scaled(30)
            assert len(objects(rest.decode())) < 5 * 30, rest
        # the new pipeline has its own tap point (and the run is past its set-up before the
        # worker is stopped: a SIGTERM within ms of a reload's start can leave the new pipeline
        # running, a race of the runtime's that is not the tap's)
        wait_until(lambda: tap(w, pid, "?limit=2")[0] == 200, 30, 0.2,
                   "the replaced pipeline's connector back")
        assert len(objects(tap(w, pid, "?limit=2")[2])) == 2


def test_basic_auth(sluice, sluice_bin, tmp):
    """The tap is behind the listener's basic auth; `sluice tap` sends it as `sluice connectors`
    does (--user, or $SLUICE_USER)."""
    creds = tmp / "users.properties"
    creds.write_text("admin: tap-s3cret\n")
    creds.chmod(0o600)
    cfg = pipelines_yaml(tmp, extra=f"rest.basic.auth.credentials.file: {creds}")
    with Worker(sluice, tmp, cfg) as w:
        assert tap(w, "gen")[0] == 401
        run = [str(sluice_bin), "tap", "--url", w.url, "--limit", "2", "gen"]
        r = subprocess.run(run, capture_output=True, text=True, timeout=scaled(30))
        assert r.returncode == 1 and "(HTTP 401)" in r.stderr, r.stderr
        r = subprocess.run(run[:2] + ["--user", "admin:tap-s3cret"] + run[2:],
                           capture_output=True, text=True, timeout=scaled(30))
        assert r.returncode == 0 and len(r.stdout.splitlines()) == 2, r.stderr
        r = subprocess.run(run, capture_output=True, text=True, timeout=scaled(30),
                           env=dict(os.environ, SLUICE_USER="admin:tap-s3cret"))
        assert r.returncode == 0 and len(r.stdout.splitlines()) == 2, r.stderr
        assert "tap-s3cret" not in r.stdout + r.stderr
