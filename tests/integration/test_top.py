"""`sluice top` (issue #18) in a real terminal: tmux runs it in a detached session of a known size
(send-keys types, capture-pane reads the screen), against a running `sluice run` worker and against
a stand-in worker whose answers the test chooses (states, rates, an error, an outage)."""
import base64
import json
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sluicetest import capture, scaled, wait_until
from test_metrics import datagen_yaml
from workertest import Worker

PROMPT = "top-test$ "
# Not registered with the canary scan: the command lines, which the capture records, hold it. The
# test checks itself that sluice's output does not.
PASSWORD = "topSecret-51c2"
HELP = "q quit"


class Tmux:
    """One tmux server of the test's own, one session running sh. The server's socket is named
    (-L, in /tmp/tmux-UID/): a path under the test's tmp may pass a socket's 107 bytes."""

    def __init__(self, width=80, height=24):
        self.sock = f"sluice-top-{os.getpid()}-{time.monotonic_ns()}"
        # The size exported, as shells and harnesses do: `sluice top` must follow the tty's
        # size through resizes all the same.
        # (and no $TMUX: a test run inside tmux starts a server of its own all the same)
        self.env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        self.env.update(COLUMNS=str(width), LINES=str(height))
        self.cmd("-f", "/dev/null", "new-session", "-d", "-s", "top", "-x", str(width),
                 "-y", str(height), f"PS1={shlex.quote(PROMPT)} exec sh -i")
        wait_until(lambda: PROMPT.strip() in self.screen(), 10, 0.1, "the shell's prompt")

    def cmd(self, *args):
        r = subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True,
                           timeout=30, env=self.env)
        assert r.returncode == 0, f"tmux {' '.join(args)}: {r.stderr}"
        return r.stdout

    def type(self, line):
        self.cmd("send-keys", "-t", "top", "-l", line)
        self.cmd("send-keys", "-t", "top", "Enter")

    def keys(self, *keys):
        self.cmd("send-keys", "-t", "top", *keys)

    def screen(self):
        return self.cmd("capture-pane", "-p", "-t", "top")

    def lines(self):
        return self.screen().split("\n")[:-1]

    def show(self, what):
        return self.cmd("display-message", "-p", "-t", "top", what).strip()

    def resize(self, width, height):
        self.cmd("resize-window", "-t", "top", "-x", str(width), "-y", str(height))

    def wait(self, predicate, what, timeout=30):
        """Waits for predicate(screen); the screen in the message when it never comes."""
        last = [""]

        def check():
            last[0] = self.screen()
            return predicate(last[0])
        try:
            wait_until(check, timeout, 0.1, what)
        except AssertionError as e:
            raise AssertionError(f"{e}\nthe screen:\n{last[0]}") from None
        return last[0]

    def close(self):
        capture("tmux capture-pane (sluice top)", self.screen())
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True, timeout=30,
                       env=self.env)
        sock = Path(self.env.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / self.sock
        sock.unlink(missing_ok=True)  # a killed server leaves it


@pytest.fixture
def term():
    t = Tmux()
    yield t
    t.close()


def row(screen, name):
    """The cells of the table's row of `name` (split on blanks), or None."""
    for ln in screen.splitlines():
        cells = ln.split()
        if cells and cells[0] == name:
            return cells
    return None


def rate(screen, name):
    """The IN/s of `name`'s row (-1 while there is no such row or no number)."""
    cells = row(screen, name)
    try:
        return float(cells[3].rstrip("kM")) * (1000 if cells[3][-1:] == "k" else 1)
    except (TypeError, IndexError, ValueError):
        return -1


def order(screen):
    """The connectors' rows from top to bottom."""
    return [ln.split()[0] for ln in screen.splitlines() if ln.split()[:1] in (["gen"], ["gen.out"])]


def start_top(term, sluice_bin, url, *extra):
    term.type(" ".join(shlex.quote(str(a)) for a in (sluice_bin, "top", "--url", url, *extra))
              + "; echo top exited $?")


def quit_is_clean(term, rc=0):
    """`sluice top` has left the terminal as it found it: no alternate screen, none of its
    drawing on the normal one, the prompt back after the command line."""
    screen = term.wait(lambda s: f"top exited {rc}" in s, f"top to exit {rc}", 15)
    assert term.show("#{alternate_on}") == "0"
    lines = [ln for ln in screen.splitlines() if ln.strip()]
    assert lines[-1] == PROMPT.strip(), screen
    assert lines[-2] == f"top exited {rc}", screen
    assert "RESTARTS" not in screen and HELP not in screen, screen
    assert "\x1b" not in screen


# -- a stand-in worker ---------------------------------------------------------------------------

class FakeWorker:
    """GET / and GET /stats as CONTRACT-18 documents them, and the actions: pause, resume and
    stop change the state the next /stats shows; restarts are recorded; stopping gen.out is
    refused with a 409."""

    def __init__(self, port=0, auth=None):
        self.requests = []
        # hang: the paths that start with one of hang_paths answer only when `release` is set
        # (a worker gone silent)
        self.hang, self.release, self.hanging = threading.Event(), threading.Event(), 0
        self.hang_paths = ("/stats",)
        want = "Basic " + base64.b64encode(auth.encode()).decode() if auth else None
        self.state = {"gen": "RUNNING", "gen.out": "RUNNING"}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self):
                fake.requests.append((self.command, self.path))
                if fake.hang.is_set() and self.path.startswith(fake.hang_paths):
                    fake.hanging += 1
                    fake.release.wait(30)
                if want and self.headers.get("Authorization") != want:
                    code, obj = 401, {"error_code": 401, "message": "Unauthorized"}
                else:
                    code, obj = fake.route(self.command, self.path)
                data = json.dumps(obj).encode() if obj is not None else b""
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = answer

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def conn(self, name, type_, plugin, rate, lag):
        on = self.state[name] == "RUNNING"
        trace = "put failed: disk full\n  at stage SINK" if self.state[name] == "FAILED" else None
        return {"name": name, "type": type_, "pipeline": "gen", "plugin": plugin,
                "file": "/etc/sluice/gen.yaml", "state": self.state[name], "trace": trace,
                "restarts": 2 if type_ == "sink" else 0,
                "tasks": [{"id": 0, "state": self.state[name], "trace": trace}],
                "totals": {"in": 1000, "out": 1000, "errors": 0, "dlq": 4 if lag else 0},
                "rate": {"in": rate if on else 0.0, "out": rate if on else 0.0, "errors": 0.0},
                "lag": lag, "buffer_bytes": 0, "series": {"in": [], "out": [], "errors": []}}

    def route(self, method, path):
        if (method, path) == ("GET", "/"):
            return 200, {"version": "9.9.9-fake", "commit": "f", "kafka_cluster_id": "c-1"}
        if (method, path) == ("GET", "/stats?window=0"):
            return 200, {"now_ms": int(time.time() * 1000), "interval_ms": 1000,
                         "process": {"rss_bytes": 9 << 20, "cpu_seconds": 1.5,
                                     "uptime_seconds": 3725},
                         "connectors": [self.conn("gen", "source", "datagen-avro", 950.0, None),
                                        self.conn("gen.out", "sink", "file", 940.5, 77)]
                         + [self.conn(n, "sink", "file", 1.0, 0) for n in self.state
                            if n not in ("gen", "gen.out")]}
        m = re.fullmatch(r"/connectors/([^/?]+)/(pause|resume|stop)", path)
        if method == "PUT" and m and m.group(1) in self.state:
            if path == "/connectors/gen.out/stop":
                return 409, {"error_code": 409, "message": "Connector gen.out is busy"}
            self.state[m.group(1)] = {"pause": "PAUSED", "resume": "RUNNING",
                                      "stop": "STOPPED"}[m.group(2)]
            return (204 if m.group(2) == "stop" else 202), None
        if method == "POST" and path.startswith("/connectors/gen"):
            return 202, None
        return 404, {"error_code": 404, "message": f"no route {method} {path}"}

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    f = FakeWorker()
    yield f
    f.close()


@pytest.mark.asan
def test_keys_against_a_stand_in(term, sluice_bin, fake):
    start_top(term, sluice_bin, fake.url)
    s = term.wait(lambda s: row(s, "gen.out") and HELP in s, "the rows")
    assert row(s, "gen")[:5] == ["gen", "source", "RUNNING", "950", "950"], s
    assert row(s, "gen.out")[:7] == ["gen.out", "sink", "RUNNING", "940", "940", "0", "77"], s
    assert "v9.9.9-fake  rss 9.0M" in s and "up 1h02m" in s, s  # a Kafka cluster: not in-process
    lines = term.lines()
    assert len(lines) == 24 and max(len(ln) for ln in lines) <= 80
    # 80 cells: everything but the buffer and the plugin
    assert "RESTARTS" in s and "PLUGIN" not in s and "datagen-avro" not in s, s
    assert lines[-1].startswith("j/k select"), s

    # p on the first row, gen: the PUT, the answer in the status line, the state
    term.keys("p")
    s = term.wait(lambda s: row(s, "gen")[2] == "PAUSED", "gen PAUSED")
    assert ("PUT", "/connectors/gen/pause") in fake.requests
    assert "gen: pausing (HTTP 202)" in s
    assert row(s, "gen")[3] == "0", s
    term.keys("r")
    term.wait(lambda s: row(s, "gen")[2] == "RUNNING", "gen RUNNING")
    assert ("PUT", "/connectors/gen/resume") in fake.requests

    # down twice (gen's task 0, then gen.out): R restarts the connector with its tasks
    term.keys("j", "Down", "R")
    term.wait(lambda s: "gen.out: restarting" in s, "gen.out restarting")
    assert ("POST", "/connectors/gen.out/restart?includeTasks=true&onlyFailed=false") \
        in fake.requests
    # on a task's row, R restarts that task
    term.keys("j", "R")
    term.wait(lambda s: "gen.out task 0: restarting" in s, "the task restarting")
    assert ("POST", "/connectors/gen.out/tasks/0/restart") in fake.requests
    # an action the worker refuses: its message in the status line; k back to gen.out
    term.keys("k", "x")
    s = term.wait(lambda s: "Connector gen.out is busy" in s, "the refusal")
    assert "gen.out: stop: Connector gen.out is busy (HTTP 409)" in s, s
    assert row(s, "gen.out")[2] == "RUNNING"

    # s cycles the sort key: state, then in/s (the busiest first)
    term.keys("s")
    term.wait(lambda s: "sort: state" in s, "sort: state")
    term.keys("p")  # the selection stayed on gen.out
    s = term.wait(lambda s: row(s, "gen.out")[2] == "PAUSED", "gen.out PAUSED")
    assert order(s) == ["gen.out", "gen"], s  # PAUSED before RUNNING
    term.keys("s")
    s = term.wait(lambda s: "sort: in/s" in s, "sort: in/s")
    assert order(s) == ["gen", "gen.out"], s  # 950/s, then a paused 0/s

    # a bigger terminal: redrawn in it, with the columns that did not fit
    term.resize(120, 40)
    s = term.wait(lambda s: "PLUGIN" in s, "the wider layout")
    lines = term.lines()
    assert len(lines) == 40 and lines[-1].strip(), s  # the status line at the new bottom
    assert row(s, "gen")[-1] == "datagen-avro" and row(s, "gen.out")[-1] == "file", s
    assert max(len(ln) for ln in lines) > 80
    # and back to a small one
    term.resize(60, 15)
    s = term.wait(lambda s: "PLUGIN" not in s and len(s.split("\n")) == 16 and row(s, "gen.out"),
                  "the narrow layout")
    assert max(len(ln) for ln in term.lines()) <= 60
    assert row(s, "gen")[:3] == ["gen", "RUNNING", "950"], s  # NAME STATE IN/s ...
    assert "TYPE" not in s, s

    term.keys("q")
    quit_is_clean(term)


def test_states_in_colour_and_a_failure_with_its_trace(term, sluice_bin, fake):
    fake.state["gen.out"] = "FAILED"
    start_top(term, sluice_bin, fake.url)
    s = term.wait(lambda s: row(s, "gen.out"), "the rows")
    assert row(s, "gen.out")[2] == "FAILED" and "1 RUNNING, 1 FAILED" in s, s
    assert "trace:" not in s  # gen is selected, and runs
    coloured = term.cmd("capture-pane", "-p", "-e", "-t", "top")
    assert re.search(r"\x1b\[[0-9;]*32mRUNNING", coloured), repr(coloured)  # green
    assert re.search(r"\x1b\[[0-9;]*31mFAILED", coloured), repr(coloured)  # red
    term.keys("j", "j")  # gen.out: the first line of its trace, above the status line
    s = term.wait(lambda s: "trace:" in s, "the trace")
    assert term.lines()[-2] == "trace: put failed: disk full", s
    assert "at stage SINK" not in s
    term.keys("q")
    quit_is_clean(term)


def test_keys_answer_while_the_worker_hangs(term, sluice_bin, fake):
    """The worker is asked from a thread of its own: one that has gone silent holds up neither
    the keys nor q; after 3 s without an answer the screen says so, and keeps the last rows."""
    start_top(term, sluice_bin, fake.url)
    term.wait(lambda s: row(s, "gen.out"), "the rows")
    fake.hang.set()
    wait_until(lambda: fake.hanging, 10, 0.02, "a request that hangs")
    for want in ("sort: state", "sort: in/s", "sort: out/s"):
        t0 = time.monotonic()
        term.keys("s")
        term.wait(lambda s: want in s, want, 10)
        assert time.monotonic() - t0 < scaled(1.5), f"{want}: {time.monotonic() - t0:.1f} s"
    s = term.wait(lambda s: "unreachable (retrying every 1s): Operation timed out" in s,
                  "the timeout", 15)
    assert row(s, "gen.out")[2] == "RUNNING", s
    wait_until(lambda: fake.hanging >= 2, 10, 0.05, "the next request, hanging too")
    t0 = time.monotonic()
    term.keys("q")
    quit_is_clean(term)
    assert time.monotonic() - t0 < scaled(3), f"q took {time.monotonic() - t0:.1f} s"


def test_ctrl_c_ends_an_action_that_hangs(term, sluice_bin, fake):
    """An action waits for its answer (15 s at most), the keys with it: ^C ends the wait."""
    start_top(term, sluice_bin, fake.url)
    term.wait(lambda s: row(s, "gen.out"), "the rows")
    fake.hang_paths = ("/connectors/",)
    fake.hang.set()
    term.keys("p")
    wait_until(lambda: fake.hanging, 10, 0.02, "the pause, hanging")
    t0 = time.monotonic()
    term.keys("C-c")
    quit_is_clean(term, 130)
    assert time.monotonic() - t0 < scaled(3), f"^C took {time.monotonic() - t0:.1f} s"


def test_more_rows_than_lines_scroll_with_the_selection(term, sluice_bin, fake):
    for i in range(30):  # 32 connectors, 64 rows, in 24 lines
        fake.state[f"z{i:02d}"] = "RUNNING"
    start_top(term, sluice_bin, fake.url)
    s = term.wait(lambda s: row(s, "gen"), "the rows")
    assert row(s, "z29") is None and len(term.lines()) == 24, s
    term.keys("G")  # the last row: z29's task
    s = term.wait(lambda s: row(s, "z29"), "the end of the table")
    assert row(s, "gen") is None and "32 connectors" in s, s
    assert term.lines()[-2].split() == ["task", "0", "RUNNING"], s  # the last row, at the bottom
    term.keys("g")
    term.wait(lambda s: row(s, "gen") and row(s, "z29") is None, "the top again")
    # a page (20 rows) down: row 20 is z08 (gen, its task, gen.out, its task, z00, ...)
    term.keys("NPage")
    term.keys("p")
    wait_until(lambda: ("PUT", "/connectors/z08/pause") in fake.requests, 10, 0.05,
               f"the pause of z08: {fake.requests[-3:]}")
    term.keys("q")
    quit_is_clean(term)


def test_unreachable_then_back(term, sluice_bin, tmp):
    """Nothing listens: the screen says so and keeps asking; a worker comes: its rows."""
    f = FakeWorker()
    port = f.port
    f.close()
    start_top(term, sluice_bin, f"http://127.0.0.1:{port}", "--interval", "0.5")
    s = term.wait(lambda s: "unreachable" in s, "unreachable")
    assert "unreachable (retrying every 0.5s): Failed to connect" in s, s
    f = FakeWorker(port)
    try:
        s = term.wait(lambda s: row(s, "gen.out") and "unreachable" not in s, "the rows")
        assert "9.9.9-fake" in s
        # ^C ends it as cleanly as q
        term.keys("C-c")
        quit_is_clean(term, 130)
    finally:
        f.close()


def test_sigterm_restores_the_terminal(term, sluice_bin, fake):
    start_top(term, sluice_bin, fake.url)
    term.wait(lambda s: row(s, "gen.out"), "the rows")
    shell = int(term.show("#{pane_pid}"))
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(shell)], capture_output=True,
                         text=True, timeout=10).stdout.split()
    assert out[1] == "sluice", out
    os.kill(int(out[0]), signal.SIGTERM)
    quit_is_clean(term, 143)


@pytest.mark.asan
def test_snapshot_when_stdout_is_no_terminal(sluice, fake):
    r = sluice.run("top", "--url", fake.url, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"sluice top: {fake.url}  version 9.9.9-fake  rss 9.0M"), lines
    assert lines[1].split() == ["NAME", "TYPE", "STATE", "IN/s", "OUT/s", "ERR/s", "LAG", "DLQ",
                                "RESTARTS", "BUFFER", "PLUGIN"]
    assert lines[2].split() == ["gen", "source", "RUNNING", "950", "950", "0", "-", "0", "0",
                                "0B", "datagen-avro"]
    assert lines[3].split() == ["task", "0", "RUNNING"]
    assert lines[4].split() == ["gen.out", "sink", "RUNNING", "940", "940", "0", "77", "4", "2",
                                "0B", "file"]
    assert len(lines) == 6 and not any(ln != ln.rstrip() for ln in lines)
    assert "\x1b" not in r.stdout  # no terminal codes in a pipe
    # a worker that cannot be reached: exit 1 and why
    port = fake.port
    fake.close()
    r = sluice.run("top", "--url", f"http://127.0.0.1:{port}", timeout=30)
    assert r.returncode == 1 and "unreachable: cannot reach" in r.stderr, r.stderr
    r = sluice.run("top", "--interval", "0", timeout=30)
    assert r.returncode == 2 and "--interval" in r.stderr


def test_a_terminal_without_cursor_addressing_gets_the_snapshot(term, sluice_bin, fake):
    term.type(f"TERM=dumb {shlex.quote(str(sluice_bin))} top --url {fake.url}; echo top exited $?")
    s = term.wait(lambda s: "top exited 0" in s, "top to exit 0")
    assert "sluice top: cannot drive the terminal (TERM=dumb): one snapshot" in s, s
    assert "PLUGIN" in s and "datagen-avro" in s, s  # every column (wrapped at 80), the table's
    assert term.show("#{alternate_on}") == "0"


def test_basic_auth_from_the_flag_or_the_environment(sluice):
    f = FakeWorker(auth=f"admin:{PASSWORD}")
    try:
        r = sluice.run("top", "--url", f.url, timeout=30)
        assert r.returncode == 1, r.stdout
        assert "GET /stats?window=0: Unauthorized (HTTP 401) (--user USER:PASSWORD or " \
            "$SLUICE_USER)" in r.stderr, r.stderr
        r = sluice.run("top", "--url", f.url, "--user", f"admin:{PASSWORD}", timeout=30)
        assert r.returncode == 0 and "gen.out" in r.stdout, r.stderr
        r = sluice.run("top", env={"SLUICE_URL": f.url, "SLUICE_USER": f"admin:{PASSWORD}"},
                       timeout=30)
        assert r.returncode == 0 and "9.9.9-fake" in r.stdout, r.stderr
        for out in (r.stdout, r.stderr):
            assert PASSWORD not in out
    finally:
        f.close()


def test_against_the_worker(term, sluice, sluice_bin, tmp):
    """A datagen pipeline in a real worker: its rows and rates, p pauses the selected connector
    (the REST API agrees, the rate falls to 0), r resumes it, a resize redraws, q leaves a clean
    terminal; the snapshot of a pipe."""
    with Worker(sluice, tmp, datagen_yaml(tmp, 200)) as w:
        def state(name):
            st, _, body = w.get(f"/connectors/{name}/status")
            assert st == 200, body
            return json.loads(body)["connector"]["state"]

        start_top(term, sluice_bin, w.url)
        # datagen's 200 records a second, in both connectors' rows (GET /stats' 5 s means)
        s = term.wait(lambda s: rate(s, "gen") > 100 and rate(s, "gen.out") > 100, "the rates")
        assert row(s, "gen")[1:3] == ["source", "RUNNING"], s
        assert row(s, "gen.out")[1:3] == ["sink", "RUNNING"], s
        assert rate(s, "gen") < 400 and rate(s, "gen.out") < 400, s
        assert re.search(r"v\S+ in-process  rss [0-9.]+M  cpu [0-9.]+%  up \d+s", s), s
        assert [ln.split() for ln in s.splitlines()].count(["task", "0", "RUNNING"]) == 2, s
        # the first row is selected: gen
        term.keys("p")
        wait_until(lambda: state("gen") == "PAUSED", 30, 0.2, "gen PAUSED (REST API)")
        term.wait(lambda s: row(s, "gen")[2] == "PAUSED", "gen PAUSED on the screen")
        assert state("gen.out") == "RUNNING"
        term.wait(lambda s: rate(s, "gen") == 0, "gen's rate down to 0")
        term.keys("r")
        wait_until(lambda: state("gen") == "RUNNING", 30, 0.2, "gen RUNNING (REST API)")
        term.wait(lambda s: row(s, "gen")[2] == "RUNNING" and rate(s, "gen") > 0,
                  "gen RUNNING on the screen, and flowing")
        # an in-process run refuses to stop a connector: the worker's reason in the status line
        term.keys("x")
        s = term.wait(lambda s: "gen: stop: cannot stop a connector of an in-process run" in s,
                      "the refusal")
        assert row(s, "gen")[2] == "RUNNING" and state("gen") == "RUNNING"
        term.resize(120, 40)
        s = term.wait(lambda s: "PLUGIN" in s and len(s.split("\n")) == 41, "the wider layout")
        assert term.lines()[-1].strip(), s  # the status line at the new bottom
        term.keys("q")
        quit_is_clean(term)
        r = sluice.run("top", "--url", w.url, timeout=30)
        assert r.returncode == 0, r.stderr
        cells = r.stdout.splitlines()[2].split()
        assert cells[:3] == ["gen", "source", "RUNNING"] and float(cells[3]) > 0, r.stdout
        assert cells[-1] == "datagen-avro", r.stdout
