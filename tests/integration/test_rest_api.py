"""Kafka Connect's REST API of `sluice run` (#17, docs/rest-api.md): the listener (port 0 and its log
line, a port in use, TLS, basic auth, the 1 MiB limit, slow clients dropped, a thousand concurrent
requests while records flow), Connect's paths, status codes and error shapes, and the connectors of
a running in-process pipeline. Every response body is captured for the canary scan."""
import base64
import http.client
import json
import re
import socket
import ssl
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from sluicetest import (CANARY, capture, check_at_least_once, file_size, line, scaled, wait_exit,
                        wait_until, write_lines, write_yaml)

LISTENING = re.compile(r"REST API listening on (https?)://([^:\s]+):(\d+)")


class Api:
    """A small HTTP client (the standard library's) whose responses are all captured."""

    def __init__(self, port, scheme="http", auth=None, cafile=None):
        self.port, self.scheme, self.auth = port, scheme, auth
        self.ctx = ssl.create_default_context(cafile=cafile) if scheme == "https" else None

    def conn(self, timeout=30):
        if self.scheme == "https":
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=scaled(timeout),
                                               context=self.ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(timeout))

    def call(self, method, path, body=None, headers=None, auth=None):
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        creds = auth if auth is not None else self.auth
        if creds:
            h["Authorization"] = "Basic " + base64.b64encode(creds.encode()).decode()
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
        finally:
            c.close()
        capture(f"REST {method} {path} -> {r.status}", data)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode(errors="replace")
        return r.status, parsed, r

    def get(self, path, **kw):
        return self.call("GET", path, **kw)


class Worker:
    """`sluice run` spawned with its stderr drained by a thread (so that it never blocks on a full
    pipe) and the REST port read from its log line."""

    def __init__(self, sluice, args, env=None):
        self.proc = sluice.spawn("run", *args, env=env, stderr=subprocess.PIPE)
        self.lines, self.port, self.scheme = [], None, None
        self.listening = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for raw in self.proc.stderr:
            text = raw.decode(errors="replace")
            self.lines.append(text)
            m = LISTENING.search(text)
            if m:
                self.scheme, self.port = m.group(1), int(m.group(3))
                self.listening.set()

    def log(self):
        return "".join(self.lines)

    def wait_listening(self, timeout=30):
        deadline = time.monotonic() + scaled(timeout)
        while not self.listening.wait(0.05):
            assert self.proc.poll() is None, f"sluice exited {self.proc.returncode}:\n{self.log()}"
            assert time.monotonic() < deadline, f"no 'REST API listening' line:\n{self.log()}"
        return self.port

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return wait_exit(self.proc, 60)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.log()[-4000:]}") from None


def flow_yaml(tmp, extra_top=""):
    """One pipeline `copy`: a followed file source → file sink (string converter)."""
    return write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp / 'offsets.json'}
{extra_top}pipelines:
  - id: copy
    value.converter: string
    source:
      plugin: file
      config: {{file: {tmp / 'in.txt'}, format: text, follow: true}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp / 'out.txt'}}}
""")


@pytest.fixture
def worker(sluice, tmp):
    started = []

    def start(extra_top="", args=(), env=None, listeners="http://127.0.0.1:0"):
        write_lines(tmp / "in.txt", 10)
        cfg = flow_yaml(tmp, extra_top)
        w = Worker(sluice, [*(["--listeners", listeners] if listeners else []), *args, cfg],
                   env=env)
        started.append(w)
        return w

    yield start
    for w in started:
        was_running = w.proc.poll() is None
        rc = w.stop()
        # SIGTERM ends a run with 0; under ASan a leak or an error would make it non-zero.
        assert not was_running or rc == 0, f"sluice exited {rc}:\n{w.log()[-3000:]}"


def wait_healthy(api, timeout=30):
    """/health answers 503 until the worker's set-up is done (KIP-1017's "starting")."""
    wait_until(lambda: api.get("/health")[0] == 200, timeout, interval=0.05,
               what="GET /health to answer 200")


def assert_error(status, body, want):
    assert status == want, body
    assert isinstance(body, dict) and body.get("error_code") == want, body
    assert isinstance(body.get("message"), str) and body["message"], body


def flows(tmp, start, count):
    """Appends `count` lines to the followed input and waits until the output has them all."""
    write_lines(tmp / "in.txt", count, start=start, mode="a")
    wait_until(lambda: file_size(tmp / "out.txt") >= file_size(tmp / "in.txt"), 60,
               what="the pipeline to copy the appended lines")
    check_at_least_once((tmp / "in.txt").read_bytes(), (tmp / "out.txt").read_bytes())


# -- the listener ------------------------------------------------------------------------------

@pytest.mark.asan
def test_listens_on_a_free_port_and_answers_root_and_health(worker, tmp):
    w = worker()
    api = Api(w.wait_listening())
    assert w.port > 0 and w.port != 8083
    status, body, r = api.get("/")
    assert status == 200 and r.getheader("Content-Type") == "application/json"
    assert body["version"] and body["commit"] and body["kafka_cluster_id"] is None, body
    wait_healthy(api)
    status, body, _ = api.get("/health")
    assert status == 200 and body["status"] == "healthy", body
    status, body, _ = api.get("/connectors/")
    assert status == 200 and isinstance(body, list), body
    status, body, r = api.call("HEAD", "/health")
    assert status == 200 and body is None, body


def test_environment_sets_the_listener_and_empty_turns_it_off(worker, sluice, tmp):
    w = worker(listeners=None, env={"SLUICE_LISTENERS": "http://127.0.0.1:0"})
    wait_healthy(Api(w.wait_listening()))
    w.stop()
    # listeners: "" in the YAML wins over the environment: no listener, the pipeline runs.
    write_lines(tmp / "in.txt", 5)
    cfg = flow_yaml(tmp, 'listeners: ""\n')
    w2 = Worker(sluice, [cfg], env={"SLUICE_LISTENERS": "http://127.0.0.1:0"})
    wait_until(lambda: "running 1 pipeline" in w2.log(), 30, what="the pipeline to start")
    assert "REST API listening" not in w2.log()
    w2.stop()


@pytest.mark.asan
def test_second_process_on_the_same_port_exits_2(worker, sluice, tmp):
    w = worker()
    port = w.wait_listening()
    other = tmp / "other"
    other.mkdir()
    write_lines(other / "in.txt", 1)
    cfg = flow_yaml(other)
    r = sluice.run("run", "--listeners", f"http://127.0.0.1:{port}", cfg, timeout=30)
    assert r.returncode == 2, r.stderr
    assert f"cannot listen on http://127.0.0.1:{port}: Address already in use" in r.stderr, \
        r.stderr
    # The first one is untouched.
    wait_healthy(Api(port))


def test_lint_checks_the_listener_keys(sluice, tmp):
    for top, needle in (
            ('listeners: "ftp://127.0.0.1:1"\n', "is not http://HOST:PORT"),
            ('listeners: "http://127.0.0.1:99999"\n', "from 0 to 65535"),
            ('listeners: "https://127.0.0.1:0"\n', "needs listeners.https.ssl.certificate"),
            (f"rest.basic.auth.credentials.file: {tmp / 'missing'}\n", "cannot read"),
            ("rest.connections.max: 0\n", "rest.connections.max"),
            ("rest.idle.timeout.ms: 10ms\n", "rest.idle.timeout.ms"),
            ("rest.listener: x\n", "rest.listener")):
        cfg = flow_yaml(tmp, top)
        r = sluice.run("lint", cfg, timeout=30)
        assert r.returncode == 2 and needle in r.stderr, (top, r.stderr)
    r = sluice.run("run", "--listeners", "localhost", flow_yaml(tmp), timeout=30)
    assert r.returncode == 2 and "is not http://HOST:PORT" in r.stderr, r.stderr


# -- bad input -----------------------------------------------------------------------------------

@pytest.mark.asan
def test_bad_input_gets_connects_errors(worker, tmp):
    w = worker()
    api = Api(w.wait_listening())
    assert_error(*api.call("POST", "/connectors", body="{not json")[:2], 400)
    assert_error(*api.call("POST", "/connectors", body="[1, 2]")[:2], 400)
    assert_error(*api.call("POST", "/connectors", body='{"name": "a"} trailing')[:2], 400)
    assert_error(*api.call("POST", "/connectors", body="")[:2], 400)
    assert_error(*api.call("POST", "/connectors", body={"name": 5, "config": {}})[:2], 400)
    assert_error(*api.call("POST", "/connectors", body={"name": "a", "config": "x"})[:2], 400)
    assert_error(*api.call("POST", "/connectors", body={"name": "a"})[:2], 400)
    status, body, _ = api.call("POST", "/connectors",
                               body={"name": "a", "config": {}, "bogus": 1})
    assert_error(status, body, 400)
    assert "bogus" in body["message"]
    status, body, _ = api.call("POST", "/connectors", body={
        "name": "a", "config": {"connector.class": "file", "file": {"nested": 1}}})
    assert_error(status, body, 400)
    assert "'file'" in body["message"]
    status, body, _ = api.call("POST", "/connectors", body={
        "name": "a", "config": {"connector.class": "NoSuchConnector"}})
    assert_error(status, body, 400)
    assert "NoSuchConnector" in body["message"]
    status, body, _ = api.call("POST", "/connectors", body={
        "name": "s", "config": {"connector.class": "FileStreamSink", "topics": "a,b",
                                "file": "x"}})
    assert_error(status, body, 400)
    assert "topics" in body["message"]
    # Unknown paths and connectors: 404; known paths, wrong methods: 405.
    for path in ("/nope", "/connectors/x/nope", "/connectors/x/tasks/0", "//", "/health/x",
                 "/connector-plugins/file/config"):
        assert_error(*api.get(path)[:2], 404)
    assert_error(*api.get("/connectors/missing")[:2], 404)
    assert_error(*api.get("/connectors/missing/status")[:2], 404)
    assert_error(*api.get("/connectors/missing/tasks/0/status")[:2], 404)
    for method, path in (("DELETE", "/health"), ("POST", "/"), ("PUT", "/connectors"),
                         ("POST", "/connectors/x/status"), ("GET", "/connectors/x/pause"),
                         ("GET", "/connectors/x/restart"), ("POST", "/connector-plugins"),
                         ("GET", "/reload"), ("PUT", "/connectors/x/offsets")):
        assert_error(*api.call(method, path)[:2], 405)
    status, body, _ = api.call("POST", "/connectors/x/restart?includeTasks=maybe")
    assert_error(status, body, 400)
    # The worker still answers and still copies.
    flows(tmp, 10, 100)


@pytest.mark.asan
def test_a_body_over_one_mebibyte_gets_413(worker, tmp):
    w = worker()
    port = w.wait_listening()
    api = Api(port)
    big = json.dumps({"name": "big", "config": {"x": "y" * (1024 * 1024)}})
    assert_error(*api.call("POST", "/connectors", body=big)[:2], 413)
    # Chunked, without a length: the same.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(30))
    c.request("POST", "/connectors", body=iter([b"x" * 65536] * 20), encode_chunked=True,
              headers={"Transfer-Encoding": "chunked"})
    r = c.getresponse()
    data = r.read()
    capture("REST chunked POST", data)
    assert r.status == 413 and json.loads(data)["error_code"] == 413
    c.close()
    # Exactly the limit is accepted for parsing (a 400 about the content, not a 413).
    exact = b'"' + b"a" * (1024 * 1024 - 2) + b'"'
    assert_error(*api.call("POST", "/connectors", body=exact)[:2], 400)
    wait_healthy(api)


# -- security ------------------------------------------------------------------------------------

@pytest.mark.asan
def test_basic_auth(worker, tmp):
    password = f"pw-{CANARY}-rest"
    creds = tmp / "rest-credentials.properties"
    creds.write_text(f"# Connect's PropertyFileLoginModule format\n"
                     f"admin: {password},admin\nreader:{password}2\n")
    creds.chmod(0o600)
    w = worker(f"rest.basic.auth.credentials.file: {creds}\n")
    api = Api(w.wait_listening())
    status, body, r = api.get("/connectors")
    assert_error(status, body, 401)
    assert r.getheader("WWW-Authenticate", "").startswith("Basic")
    assert_error(*api.get("/connectors", auth=f"admin:{password}x")[:2], 401)
    assert_error(*api.get("/connectors", auth=f"admin:{password[:-1]}")[:2], 401)
    assert_error(*api.get("/connectors", auth=f"nobody:{password}")[:2], 401)
    assert_error(*api.get("/health", auth="admin:")[:2], 401)
    assert api.get("/connectors", auth=f"admin:{password}")[0] == 200
    wait_healthy(Api(w.port, auth=f"reader:{password}2"))
    assert password not in w.log()


def test_tls_listener(worker, tmp):
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=scaled(60))
    w = worker(f"listeners.https.ssl.certificate.location: {cert}\n"
               f"listeners.https.ssl.key.location: {key}\n",
               listeners="https://127.0.0.1:0")
    port = w.wait_listening()
    assert w.scheme == "https"
    api = Api(port, "https", cafile=str(cert))
    wait_healthy(api)
    status, body, _ = api.get("/health")
    assert status == 200 and body["status"] == "healthy"
    # Without trusting the certificate the handshake fails; plain HTTP gets no answer.
    with pytest.raises(ssl.SSLError):
        Api(port, "https").get("/health")
    with pytest.raises((http.client.HTTPException, ConnectionError, socket.timeout)):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(5))
        c.request("GET", "/health")
        c.getresponse().read()
    assert api.get("/")[0] == 200


# -- load ----------------------------------------------------------------------------------------

def test_slow_clients_are_dropped_while_records_flow(worker, tmp):
    w = worker("rest.idle.timeout.ms: 1s\nrest.connections.max: 64\n")
    port = w.wait_listening()
    slow = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", port), timeout=scaled(10))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the end of the headers
        slow.append(s)
    # Others are served meanwhile, and records flow.
    wait_healthy(Api(port))
    flows(tmp, 10, 1000)
    t0 = time.monotonic()
    for s in slow:
        assert s.recv(1024) == b"", "a slow client was not dropped"
        s.close()
    assert time.monotonic() - t0 < scaled(15)
    # A slow-loris that trickles one header byte at a time, slower than the idle timeout.
    s = socket.create_connection(("127.0.0.1", port), timeout=scaled(10))
    s.sendall(b"GET /health HTTP/1.1\r\n")
    time.sleep(2.5)
    with pytest.raises((BrokenPipeError, ConnectionResetError, AssertionError)):
        s.sendall(b"X")
        assert s.recv(1024) != b""
    s.close()
    assert w.proc.poll() is None
    flows(tmp, 1010, 1000)


@pytest.mark.asan
def test_a_thousand_concurrent_requests_while_records_flow(worker, tmp):
    w = worker("rest.connections.max: 1024\n")
    port = w.wait_listening()
    api = Api(port)
    write_lines(tmp / "in.txt", 20_000, start=10, mode="a")
    paths = [("/health", 200), ("/", 200), ("/connectors", 200),
             ("/connectors?expand=status&expand=info", 200), ("/connector-plugins", 200),
             ("/nope", 404), ("/connectors/missing/status", 404)]

    def one(i):
        path, want = paths[i % len(paths)]
        status, body, _ = api.get(path)
        assert status == want, (path, status, body)
        if want == 404:
            assert body["error_code"] == 404
        return status

    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(one, range(1000)))
    assert len(results) == 1000
    wait_until(lambda: file_size(tmp / "out.txt") >= file_size(tmp / "in.txt"), 60,
               what="the pipeline to copy every line")
    check_at_least_once((tmp / "in.txt").read_bytes(), (tmp / "out.txt").read_bytes())
    assert w.proc.poll() is None


# -- Connect's API over a running pipeline -------------------------------------------------------

@pytest.mark.asan
def test_connector_plugins_and_validate(worker, tmp):
    w = worker()
    api = Api(w.wait_listening())
    status, plugins, _ = api.get("/connector-plugins")
    assert status == 200
    kinds = {(p["class"], p["type"]) for p in plugins}
    assert ("file", "source") in kinds and ("file", "sink") in kinds
    assert all(p["type"] in ("source", "sink") for p in plugins)
    assert all(set(p) == {"class", "type", "version"} for p in plugins)
    status, everything, _ = api.get("/connector-plugins?connectorsOnly=false")
    types = {p["type"] for p in everything}
    assert {"source", "sink", "transformation", "predicate", "converter"} <= types, types
    status, body, _ = api.call("PUT", "/connector-plugins/FileStreamSource/config/validate",
                               body={"connector.class": "FileStreamSource", "name": "v",
                                     "file": "in.txt", "topic": "t", "bogus.key": "1",
                                     "batch.size": "not a number"})
    assert status == 200, body
    assert set(body) == {"name", "error_count", "groups", "configs"}
    assert body["name"] == "FileStreamSource"
    by_name = {c["definition"]["name"]: c for c in body["configs"]}
    assert set(by_name["file"]) == {"definition", "value"}
    assert set(by_name["file"]["definition"]) >= {"name", "type", "required", "default_value",
                                                  "importance", "documentation", "group",
                                                  "width", "display_name", "dependents", "order"}
    assert set(by_name["file"]["value"]) == {"name", "value", "recommended_values", "errors",
                                             "visible"}
    assert by_name["file"]["value"]["value"] == "in.txt"
    assert by_name["file"]["value"]["errors"] == []
    assert by_name["batch.size"]["value"]["errors"], by_name["batch.size"]
    assert by_name["bogus.key"]["value"]["errors"], by_name["bogus.key"]
    assert body["error_count"] == 2, body["error_count"]
    status, body, _ = api.call("PUT", "/connector-plugins/NoSuch/config/validate",
                               body={"connector.class": "NoSuch"})
    assert_error(status, body, 400)


def test_connectors_of_a_running_pipeline(worker, tmp):
    w = worker()
    api = Api(w.wait_listening())
    wait_until(lambda: file_size(tmp / "out.txt") > 0, 30, what="the first records")
    status, names, _ = api.get("/connectors")
    assert status == 200 and sorted(names) == ["copy", "copy.out"], names
    status, body, _ = api.get("/connectors?expand=status")
    assert status == 200 and set(body) == {"copy", "copy.out"}
    st = body["copy"]["status"]
    assert st["name"] == "copy" and st["type"] == "source"
    assert st["connector"]["state"] == "RUNNING"
    assert st["connector"]["worker_id"] == f"127.0.0.1:{w.port}"
    assert [t["id"] for t in st["tasks"]] == [0] and st["tasks"][0]["state"] == "RUNNING"
    status, info, _ = api.get("/connectors/copy.out")
    assert status == 200 and info["type"] == "sink" and info["name"] == "copy.out"
    assert info["tasks"] == [{"connector": "copy.out", "task": 0}]
    status, st, _ = api.get("/connectors/copy.out/tasks/0/status")
    assert status == 200 and st["id"] == 0 and st["state"] == "RUNNING", st
    assert_error(*api.get("/connectors/copy.out/tasks/7/status")[:2], 404)
    status, topics, _ = api.get("/connectors/copy/topics")
    assert status == 200 and topics == {"copy": {"topics": ["copy"]}}, topics


def test_health_is_starting_while_kafka_is_awaited(sluice, tmp):
    """The listener starts before the set-up: a worker waiting for its broker answers /health with
    KIP-1017's 503 "starting" and the rest of the API meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # nothing listens there once closed
    write_lines(tmp / "in.txt", 1)
    cfg = flow_yaml(tmp, f"kafka:\n  bootstrap.servers: 127.0.0.1:{dead}\n")
    w = Worker(sluice, ["--listeners", "http://127.0.0.1:0", cfg])
    try:
        api = Api(w.wait_listening())
        for _ in range(3):
            status, body, _ = api.get("/health")
            assert status == 503 and body["status"] == "starting", body
            time.sleep(0.2)
        assert api.get("/")[0] == 200
    finally:
        w.stop()


def test_in_process_refuses_new_connectors(worker, tmp):
    w = worker()
    api = Api(w.wait_listening())
    wait_healthy(api)
    status, body, _ = api.call("POST", "/connectors", body={"name": "x", "config": {
        "connector.class": "FileStreamSource", "file": str(tmp / "in.txt"), "topic": "t"}})
    assert_error(status, body, 409)


def test_quickstart_configs_through_post_connectors(sluice, kafka, tmp):
    """Kafka's own quickstart configs (connect-file-source/-sink.properties as JSON, with
    Connect's class names) run unchanged through POST /connectors on a Kafka-mode worker."""
    topic = f"connect-test-{uuid.uuid4().hex[:8]}"
    write_lines(tmp / "in.txt", 1)
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
kafka: {{bootstrap.servers: {kafka.bootstrap}}}
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: idle-{topic}
    value.converter: string
    source: {{plugin: file, config: {{file: {tmp / 'in.txt'}, format: text}}}}
""")
    w = Worker(sluice, ["--listeners", "http://127.0.0.1:0", cfg])
    try:
        api = Api(w.wait_listening())
        wait_healthy(api, 120)
        (tmp / "test.txt").write_text("".join(line(i) for i in range(100)))
        source = {"name": "local-file-source", "config": {
            "connector.class": "FileStreamSource", "tasks.max": "1",
            "file": str(tmp / "test.txt"), "topic": topic}}
        sink = {"name": "local-file-sink", "config": {
            "connector.class": "FileStreamSink", "tasks.max": "1",
            "file": str(tmp / "test.sink.txt"), "topics": topic}}
        status, body, _ = api.call("POST", "/connectors", body=source)
        assert status == 201, body
        assert body["name"] == "local-file-source" and body["type"] == "source"
        assert body["config"]["connector.class"] == "FileStreamSource"
        status, body, _ = api.call("POST", "/connectors", body=sink)
        assert status == 201, body
        assert body["type"] == "sink"
        assert_error(*api.call("POST", "/connectors", body=sink)[:2], 409)
        wait_until(lambda: file_size(tmp / "test.sink.txt") >= file_size(tmp / "test.txt"), 120,
                   what="the quickstart sink to copy the file")
        # Connect's default converters are JSON with schemas: each line arrives as the string.
        assert (tmp / "test.sink.txt").read_text() == (tmp / "test.txt").read_text()
        status, st, _ = api.get("/connectors/local-file-sink/status")
        assert status == 200 and st["connector"]["state"] == "RUNNING", st
        assert sorted(api.get("/connectors")[1]) == sorted(
            [f"idle-{topic}", "local-file-source", "local-file-sink"])
        status, _, _ = api.call("DELETE", "/connectors/local-file-sink")
        assert status == 204
        assert_error(*api.get("/connectors/local-file-sink")[:2], 404)
    except BaseException:
        w.kill()
        raise
    assert w.stop() == 0, w.log()[-3000:]


def test_lifecycle_endpoints_on_a_kafka_worker(sluice, kafka, tmp):
    """Connect's status codes and shapes of pause, resume, restart, stop, offsets (KIP-875),
    topics, config and tasks, through the real worker in Kafka mode."""
    topic = f"rest-life-{uuid.uuid4().hex[:8]}"
    write_lines(tmp / "in.txt", 1)
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
kafka: {{bootstrap.servers: {kafka.bootstrap}}}
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: idle-{topic}
    value.converter: string
    source: {{plugin: file, config: {{file: {tmp / 'in.txt'}, format: text}}}}
""")
    w = Worker(sluice, ["--listeners", "http://127.0.0.1:0", cfg])
    try:
        api = Api(w.wait_listening())
        wait_healthy(api, 120)
        write_lines(tmp / "src.txt", 50)
        name = "life"
        config = {"connector.class": "file", "file": str(tmp / "src.txt"), "topic": topic,
                  "value.converter": "string"}
        status, body, _ = api.call("PUT", f"/connectors/{name}/config", body=config)
        assert status == 201, body

        def state():
            return api.get(f"/connectors/{name}/status")[1]["connector"]["state"]

        wait_until(lambda: state() == "RUNNING", 60, what="RUNNING")
        status, got, _ = api.get(f"/connectors/{name}/config")
        assert status == 200 and got["connector.class"] == "file" and got["topic"] == topic, got
        status, tasks, _ = api.get(f"/connectors/{name}/tasks")
        assert status == 200 and tasks[0]["id"] == {"connector": name, "task": 0}, tasks
        assert tasks[0]["config"]["connector.class"] == "file"
        status, topics, _ = api.get(f"/connectors/{name}/topics")
        assert status == 200 and topics == {name: {"topics": [topic]}}, topics

        status, body, _ = api.call("PUT", f"/connectors/{name}/pause")
        assert status == 202 and body is None, body
        wait_until(lambda: state() == "PAUSED", 60, what="PAUSED")
        status, body, _ = api.call("PUT", f"/connectors/{name}/resume")
        assert status == 202 and body is None, body
        wait_until(lambda: state() == "RUNNING", 60, what="RUNNING again")

        status, body, _ = api.call("POST", f"/connectors/{name}/restart")
        assert status == 204 and body is None, (status, body)
        status, body, _ = api.call("POST", f"/connectors/{name}/restart?includeTasks=true")
        assert status == 202 and body["name"] == name and "connector" in body, (status, body)
        assert {"id", "state", "worker_id"} <= set(body["tasks"][0])
        status, body, _ = api.call("POST", f"/connectors/{name}/tasks/0/restart")
        assert status == 204, (status, body)
        assert_error(*api.call("POST", f"/connectors/{name}/tasks/9/restart")[:2], 404)
        wait_until(lambda: state() == "RUNNING", 60, what="RUNNING after the restarts")

        status, body, _ = api.call("PUT", f"/connectors/{name}/stop")
        assert status == 204, (status, body)
        wait_until(lambda: state() == "STOPPED", 60, what="STOPPED")
        status, body, _ = api.call("DELETE", f"/connectors/{name}")
        assert status == 204, (status, body)
        assert_error(*api.get(f"/connectors/{name}/status")[:2], 404)
        # A connector of a YAML file is changed in its file, not over REST.
        assert_error(*api.call("DELETE", f"/connectors/idle-{topic}")[:2], 409)
    except BaseException:
        w.kill()
        raise
    assert w.stop() == 0, w.log()[-3000:]


def kafka_worker(sluice, kafka, tmp, topic):
    """A Kafka-mode worker with one idle pipeline of its YAML file, healthy; returns (w, api)."""
    write_lines(tmp / "in.txt", 1)
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
kafka: {{bootstrap.servers: {kafka.bootstrap}}}
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: idle-{topic}
    value.converter: string
    source: {{plugin: file, config: {{file: {tmp / 'in.txt'}, format: text}}}}
""")
    w = Worker(sluice, ["--listeners", "http://127.0.0.1:0", cfg])
    try:
        api = Api(w.wait_listening())
        wait_healthy(api, 120)
    except BaseException:
        w.kill()
        raise
    return w, api


def test_offsets_kip875_and_topics_reset_on_a_kafka_worker(sluice, kafka, tmp):
    topic = f"rest-offs-{uuid.uuid4().hex[:8]}"
    w, api = kafka_worker(sluice, kafka, tmp, topic)
    try:
        write_lines(tmp / "src.txt", 50)
        name = "offs"
        status, body, _ = api.call("PUT", f"/connectors/{name}/config", body={
            "connector.class": "file", "file": str(tmp / "src.txt"), "topic": topic})
        assert status == 201, body

        def state():
            return api.get(f"/connectors/{name}/status")[1]["connector"]["state"]

        wait_until(lambda: state() == "RUNNING", 60, what="RUNNING")
        # the source commits its position once Kafka acknowledged the records
        wait_until(lambda: api.get(f"/connectors/{name}/offsets")[1]["offsets"], 60,
                   what="a committed position")
        status, offs, _ = api.get(f"/connectors/{name}/offsets")
        assert status == 200 and isinstance(offs["offsets"], list), offs
        for o in offs["offsets"]:
            assert set(o) == {"partition", "offset"}, o
        status, body, _ = api.call("PATCH", f"/connectors/{name}/offsets",
                                   body={"offsets": offs["offsets"]})
        assert_error(status, body, 400)  # only when STOPPED (KIP-875)
        assert_error(*api.call("PATCH", f"/connectors/{name}/offsets", body={"x": 1})[:2], 400)

        status, body, _ = api.call("PUT", f"/connectors/{name}/stop")
        assert status == 204, (status, body)
        wait_until(lambda: state() == "STOPPED", 60, what="STOPPED")
        status, body, _ = api.call("PATCH", f"/connectors/{name}/offsets",
                                   body={"offsets": offs["offsets"]})
        assert status == 200 and "altered" in body["message"], (status, body)
        status, body, _ = api.call("DELETE", f"/connectors/{name}/offsets")
        assert status == 200 and "reset" in body["message"], (status, body)
        status, body, _ = api.call("PUT", f"/connectors/{name}/topics/reset")
        assert status == 202, (status, body)
    except BaseException:
        w.kill()
        raise
    assert w.stop() == 0, w.log()[-3000:]


def test_sigterm_ends_the_run_after_a_restart(sluice, kafka, tmp):
    topic = f"rest-term-{uuid.uuid4().hex[:8]}"
    w, api = kafka_worker(sluice, kafka, tmp, topic)
    try:
        write_lines(tmp / "src.txt", 50)
        status, body, _ = api.call("PUT", "/connectors/term/config", body={
            "connector.class": "file", "file": str(tmp / "src.txt"), "topic": topic})
        assert status == 201, body

        def state():
            return api.get("/connectors/term/status")[1]["connector"]["state"]

        wait_until(lambda: state() == "RUNNING", 60, what="RUNNING")
        assert api.call("POST", "/connectors/term/tasks/0/restart")[0] == 204
        wait_until(lambda: state() == "RUNNING", 60, what="RUNNING after the restart")
        w.proc.terminate()
        try:
            rc = w.proc.wait(timeout=scaled(20))
        except subprocess.TimeoutExpired:
            raise AssertionError(f"SIGTERM did not end the run in 20 s:\n{w.log()[-2000:]}") \
                from None
        assert rc == 0, w.log()[-3000:]
    finally:
        w.kill()
