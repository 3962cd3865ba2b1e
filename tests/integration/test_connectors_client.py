"""`sluice connectors` (issue #17): the thin client of Connect's REST API. Against a stand-in
server that records each request (methods, paths, escaping, basic auth, exit codes, tables), and
against a running `sluice run` worker."""
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sluicetest import wait_until
from test_metrics import datagen_yaml
from workertest import Worker

# Not registered with the canary scan: the command lines, which the capture records, hold it.
# The test checks itself that sluice's output does not.
PASSWORD = "clientSecret-9d1f"

STATUS_OUT = {"name": "gen.out", "type": "sink",
              "connector": {"state": "RUNNING", "worker_id": "127.0.0.1:8083"},
              "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "127.0.0.1:8083"},
                        {"id": 1, "state": "FAILED", "worker_id": "127.0.0.1:8083",
                         "trace": "put failed: disk full\n  at stage SINK"}]}
STATUS_GEN = {"name": "gen", "type": "source",
              "connector": {"state": "RUNNING", "worker_id": "127.0.0.1:8083"},
              "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "127.0.0.1:8083"}]}
ROUTES = {
    ("GET", "/connectors?expand=status"): (200, {"gen": {"status": STATUS_GEN},
                                                 "gen.out": {"status": STATUS_OUT}}),
    ("GET", "/connectors/gen.out/status"): (200, STATUS_OUT),
    ("GET", "/connectors/gen/config"): (200, {"name": "gen", "connector.class": "datagen-avro"}),
    ("GET", "/connectors/gen/offsets"): (200, {"offsets": [{"partition": {"task.id": 0},
                                                            "offset": {"current.iteration": 7}}]}),
    ("PUT", "/connectors/gen/pause"): (202, None),
    ("PUT", "/connectors/gen/resume"): (202, None),
    ("PUT", "/connectors/gen/stop"): (204, None),
    ("DELETE", "/connectors/gen"): (204, None),
    ("POST", "/connectors/gen/restart?includeTasks=false&onlyFailed=false"): (204, None),
    ("POST", "/connectors/gen.out/restart?includeTasks=true&onlyFailed=true"): (202, STATUS_OUT),
    ("GET", "/connectors/a%2Fb%20c/status"): (200, STATUS_GEN),
    ("GET", "/connectors/broken/status"): (500, "<html>oops</html>"),
}


class FakeConnect:
    """A stand-in for Connect's REST API; `auth` ("user:password") is required when given."""

    def __init__(self, auth=None):
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                fake.requests.append({"method": self.command, "path": self.path,
                                      "headers": dict(self.headers), "body": body})
                want = "Basic " + base64.b64encode(auth.encode()).decode() if auth else None
                if want and self.headers.get("Authorization") != want:
                    code, obj = 401, {"error_code": 401, "message": "Unauthorized"}
                elif (self.command, self.path) in ROUTES:
                    code, obj = ROUTES[self.command, self.path]
                else:
                    name = self.path.split("?")[0].split("/")[2]
                    code, obj = 404, {"error_code": 404, "message": f"Connector {name} not found"}
                data = (obj if isinstance(obj, str) else json.dumps(obj)).encode() \
                    if obj is not None else b""
                self.send_response(code)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    f = FakeConnect()
    yield f
    f.close()


def client(sluice, *args, env=None):
    return sluice.run("connectors", *args, timeout=60, env=env)


def test_list_is_a_table_of_states(sluice, fake):
    r = client(sluice, "--url", fake.url, "list")
    assert r.returncode == 0, r.stderr
    rows = [ln.split() for ln in r.stdout.splitlines()]
    assert rows[0] == ["NAME", "TYPE", "STATE", "TASKS"]
    assert ["gen", "source", "RUNNING", "0:RUNNING"] in rows
    assert ["gen.out", "sink", "RUNNING", "0:RUNNING", "1:FAILED"] in rows
    assert fake.requests[0]["method"] == "GET"
    assert fake.requests[0]["headers"].get("Accept") == "application/json"


def test_status_shows_tasks_and_the_trace_message(sluice, fake):
    r = client(sluice, "status", "gen.out", "--url", fake.url)
    assert r.returncode == 0, r.stderr
    assert "gen.out (sink): RUNNING on 127.0.0.1:8083" in r.stdout
    assert "task 1: FAILED" in r.stdout
    assert "put failed: disk full" in r.stdout and "at stage SINK" not in r.stdout
    r = client(sluice, "--json", "status", "gen.out", "--url", fake.url)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == STATUS_OUT


def test_config_and_offsets_print_the_json(sluice, fake):
    r = client(sluice, "--url", fake.url, "config", "gen")
    assert r.returncode == 0 and json.loads(r.stdout) == ROUTES["GET", "/connectors/gen/config"][1]
    r = client(sluice, "--url", fake.url, "offsets", "gen")
    assert r.returncode == 0
    assert json.loads(r.stdout)["offsets"][0]["offset"] == {"current.iteration": 7}


@pytest.mark.parametrize("cmd, method, path, said", [
    ("pause", "PUT", "/connectors/gen/pause", "gen: pausing"),
    ("resume", "PUT", "/connectors/gen/resume", "gen: resuming"),
    ("stop", "PUT", "/connectors/gen/stop", "gen: stopping"),
    ("delete", "DELETE", "/connectors/gen", "gen: deleted"),
    ("restart", "POST", "/connectors/gen/restart?includeTasks=false&onlyFailed=false",
     "gen: restarting"),
])
def test_actions_send_connects_requests(sluice, fake, cmd, method, path, said):
    r = client(sluice, "--url", fake.url + "/", cmd, "gen")  # a trailing slash is fine
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == said
    assert [(q["method"], q["path"]) for q in fake.requests] == [(method, path)]
    if method in ("PUT", "POST"):  # an empty JSON body, as Connect's resources consume
        assert fake.requests[0]["headers"].get("Content-Type") == "application/json"
        assert fake.requests[0]["body"] == b""


def test_restart_with_tasks_prints_the_status(sluice, fake):
    r = client(sluice, "--url", fake.url, "restart", "gen.out", "--include-tasks", "--only-failed")
    assert r.returncode == 0, r.stderr
    assert "task 1: FAILED" in r.stdout


def test_names_are_escaped(sluice, fake):
    r = client(sluice, "--url", fake.url, "status", "a/b c")
    assert r.returncode == 0, r.stderr
    assert fake.requests[0]["path"] == "/connectors/a%2Fb%20c/status"


def test_api_errors_exit_1_with_the_message(sluice, fake):
    r = client(sluice, "--url", fake.url, "status", "nosuch")
    assert r.returncode == 1
    assert "Connector nosuch not found (HTTP 404)" in r.stderr
    r = client(sluice, "--url", fake.url, "status", "broken")
    assert r.returncode == 1
    assert "HTTP 500" in r.stderr and "oops" in r.stderr


def test_basic_auth_from_the_flag_or_the_environment(sluice):
    f = FakeConnect(auth=f"admin:{PASSWORD}")
    try:
        r = client(sluice, "--url", f.url, "status", "gen.out")
        assert r.returncode == 1 and "Unauthorized (HTTP 401)" in r.stderr
        r = client(sluice, "--url", f.url, "--user", f"admin:{PASSWORD}", "status", "gen.out")
        assert r.returncode == 0, r.stderr
        r = client(sluice, "status", "gen.out",
                   env={"SLUICE_URL": f.url, "SLUICE_USER": f"admin:{PASSWORD}"})
        assert r.returncode == 0, r.stderr
        assert len(f.requests) == 3
        for out in (r.stdout, r.stderr):
            assert PASSWORD not in out
    finally:
        f.close()


def test_unreachable_exits_1_and_usage_exits_2(sluice, fake):
    port = fake.server.server_address[1]
    fake.close()  # nothing listens there any more
    r = client(sluice, "--url", f"http://127.0.0.1:{port}", "list")
    assert r.returncode == 1 and "cannot reach" in r.stderr
    for args in ([], ["status"], ["list", "x"], ["bogus", "x"], ["--nope", "list"],
                 ["pause", "x", "y"], ["pause", "x", "--only-failed"]):
        r = client(sluice, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "usage: sluice connectors" in r.stderr or "restart's" in r.stderr, args


def test_against_the_worker(sluice, tmp):
    """The real REST API of `sluice run` (needs the listener of issue #17)."""
    with Worker(sluice, tmp, datagen_yaml(tmp, 200)) as w:
        def state(name):
            r = client(sluice, "--url", w.url, "--json", "status", name)
            assert r.returncode == 0, r.stderr
            return json.loads(r.stdout)["connector"]["state"]

        r = client(sluice, "--url", w.url, "list")
        assert r.returncode == 0, r.stderr
        rows = [ln.split() for ln in r.stdout.splitlines()]
        assert ["gen", "source", "RUNNING", "0:RUNNING"] in rows, r.stdout
        assert ["gen.out", "sink", "RUNNING", "0:RUNNING"] in rows, r.stdout
        r = client(sluice, "--url", w.url, "config", "gen")
        assert r.returncode == 0 and json.loads(r.stdout)["connector.class"] == "datagen-avro"
        assert client(sluice, "--url", w.url, "pause", "gen").returncode == 0
        wait_until(lambda: state("gen") == "PAUSED", 30, 0.2, "gen PAUSED")
        assert client(sluice, "--url", w.url, "resume", "gen").returncode == 0
        wait_until(lambda: state("gen") == "RUNNING", 30, 0.2, "gen RUNNING")
        r = client(sluice, "--url", w.url, "status", "nosuch")
        assert r.returncode == 1 and "Connector nosuch not found" in r.stderr
        r = client(sluice, "--url", w.url, "offsets", "gen")
        assert r.returncode == 0 and "offsets" in json.loads(r.stdout), r.stdout + r.stderr
