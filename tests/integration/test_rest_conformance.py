"""Kafka Connect's REST API, conformance (issue 17): one sequence of calls with Kafka's own
quickstart connectors (config/connect-file-source.properties and -sink.properties as JSON), run
against a real Kafka Connect standalone worker and against `sluice run` with no pipeline. Both runs
check what Connect does (status codes, states, the records through Kafka into the sink's file);
sluice's run is also compared with Connect's, call by call: the status code and the shape of the
JSON (key sets and value types, recursively; not ids, timestamps, traces or worker ids). Each run's
responses are kept in the test's directory (connect-responses.json, sluice-responses.json) for
debugging."""
import json
import time

import pytest

from kafkatest import admin, count, create_topic, uniq
from resttest import DATA_MAPS, call, compare, poll, shape
from sluicetest import line, scaled

SRC, SNK = "local-file-source", "local-file-sink"
MAX_MISSED = 3  # waits that may time out before a run gives up (each costs up to 90 s)


class Run:
    """The calls of one sequence against one worker, and what went wrong (as strings)."""

    def __init__(self, kind, url):
        self.kind, self.url = kind, url
        self.steps = {}  # step name -> {method, path, status, body, data_maps, at (s since start)}
        self.problems = []
        self.missed = 0  # waits that timed out
        self.t0 = time.monotonic()

    def call(self, step, method, path, body=None, raw=None, expect=None, data_maps=DATA_MAPS):
        assert step not in self.steps, f"step {step} twice"
        status, resp = call(self.url, method, path, body=body, raw=raw)
        self.steps[step] = {"method": method, "path": path, "status": status, "body": resp,
                            "data_maps": list(data_maps),
                            "at": round(time.monotonic() - self.t0, 3)}
        wanted = expect if isinstance(expect, tuple) else (expect,)
        if expect is not None and status not in wanted:
            self.problems.append(f"{step}: {method} {path} answered {status}, want {expect}: "
                                 f"{resp!r:.300}")
        return status, resp

    def check(self, ok, what):
        if not ok:
            self.problems.append(what)
        return ok

    def state(self, name):
        """(connector state, [task states]) from GET /connectors/NAME/status, None on an error."""
        st, body = call(self.url, "GET", f"/connectors/{name}/status")
        if st != 200 or not isinstance(body, dict):
            return None
        tasks = body.get("tasks")
        return ((body.get("connector") or {}).get("state"),
                [t.get("state") for t in tasks] if isinstance(tasks, list) else None)

    def wait(self, what, fn, timeout, last=None):
        """poll(): a wait that times out is a problem, and the sequence goes on (what follows is
        still compared) unless MAX_MISSED waits have timed out: then AssertionError ends it.
        last(): what to show of the last state seen."""
        try:
            poll(what, fn, timeout=timeout)
        except AssertionError as e:
            self.missed += 1
            self.problems.append(f"{e}" + (f" (last seen: {last()!r:.500})" if last else ""))
            if self.missed >= MAX_MISSED:
                raise AssertionError(f"{MAX_MISSED} waits timed out") from None

    def wait_state(self, name, want, tasks=1, timeout=60):
        """Waits until the connector and each of its `tasks` tasks are in state `want`."""
        self.wait(f"{self.kind}: {name} {want} with {tasks} task(s)",
                  lambda: self.state(name) == (want, [want] * tasks), timeout,
                  last=lambda: self.state(name))


def read(path):
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def lines(start, n):
    return "".join(line(i) for i in range(start, start + n)).encode()


def sequence(run, tmp, bootstrap):
    """The calls, in order. Statuses and states are Connect's (checked against the real worker);
    waits are bounded and raise AssertionError when a state or the data does not come."""
    topic = create_topic(bootstrap, uniq("conform"))
    src_file, second, out = tmp / "test.txt", tmp / "second.txt", tmp / "test.sink.txt"
    # Kafka's config/connect-file-source.properties and connect-file-sink.properties, as JSON
    src = {"connector.class": "FileStreamSource", "tasks.max": "1", "file": str(src_file),
           "topic": topic}
    snk = {"connector.class": "FileStreamSink", "tasks.max": "1", "file": str(out),
           "topics": topic}
    src_file.write_bytes(lines(0, 40))
    second.write_bytes(lines(1000, 10))

    def wait_out(want, what):
        n = want.count(b"\n")
        run.wait(f"{run.kind}: the sink's file {what} ({n} lines)", lambda: read(out) == want,
                 90, last=lambda: f"{len(read(out).splitlines())} lines, ends {read(out)[-60:]!r}")

    # -- the worker
    _, body = run.call("root", "GET", "/", expect=200)
    a = admin(bootstrap)  # the future needs its client alive
    cluster = a.describe_cluster(request_timeout=30).result(timeout=60).cluster_id
    run.check(isinstance(body, dict) and body.get("kafka_cluster_id") == cluster,
              f"root: kafka_cluster_id is not the broker's {cluster}: {body!r:.300}")
    _, body = run.call("health", "GET", "/health", expect=200)
    run.check(isinstance(body, dict) and body.get("status") == "healthy",
              f"health: status is not healthy: {body!r:.300}")
    _, body = run.call("list-empty", "GET", "/connectors", expect=200)
    run.check(body == [], f"list-empty: {body!r:.300}")

    # -- create from Kafka's quickstart configs; the records go through Kafka into the sink's file
    _, body = run.call("create-source", "POST", "/connectors", {"name": SRC, "config": src},
                       expect=201)
    run.check(isinstance(body, dict) and body.get("name") == SRC and body.get("type") == "source"
              and body.get("config") == {**src, "name": SRC},
              f"create-source: not the connector created: {body!r:.500}")
    _, body = run.call("create-sink", "POST", "/connectors", {"name": SNK, "config": snk},
                       expect=201)
    run.check(isinstance(body, dict) and body.get("type") == "sink"
              and body.get("config") == {**snk, "name": SNK},
              f"create-sink: not the connector created: {body!r:.500}")
    run.wait_state(SRC, "RUNNING")
    run.wait_state(SNK, "RUNNING")
    wait_out(lines(0, 40), "holds the source's lines")

    _, body = run.call("list", "GET", "/connectors", expect=200)
    run.check(isinstance(body, list) and sorted(body) == [SNK, SRC], f"list: {body!r:.300}")
    _, body = run.call("expand-status", "GET", "/connectors?expand=status", expect=200)
    run.check(isinstance(body, dict) and sorted(body) == [SNK, SRC]
              and all(isinstance(v, dict) and "status" in v for v in body.values()),
              f"expand-status: {body!r:.500}")
    _, body = run.call("expand-info", "GET", "/connectors?expand=info", expect=200)
    run.check(isinstance(body, dict) and sorted(body) == [SNK, SRC]
              and all(isinstance(v, dict) and "info" in v for v in body.values()),
              f"expand-info: {body!r:.500}")
    _, body = run.call("info", "GET", f"/connectors/{SRC}", expect=200)
    run.check(isinstance(body, dict) and body.get("tasks") == [{"connector": SRC, "task": 0}],
              f"info: tasks: {body!r:.500}")
    _, body = run.call("config", "GET", f"/connectors/{SRC}/config", expect=200, data_maps=("",))
    run.check(body == {**src, "name": SRC}, f"config: {body!r:.500}")
    _, body = run.call("status", "GET", f"/connectors/{SRC}/status", expect=200)
    run.check(isinstance(body, dict) and body.get("name") == SRC and body.get("type") == "source",
              f"status: {body!r:.500}")
    _, body = run.call("status-sink", "GET", f"/connectors/{SNK}/status", expect=200)
    _, body = run.call("tasks", "GET", f"/connectors/{SRC}/tasks", expect=200)
    run.check(isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict)
              and body[0].get("id") == {"connector": SRC, "task": 0},
              f"tasks: {body!r:.500}")
    _, body = run.call("task-status", "GET", f"/connectors/{SRC}/tasks/0/status", expect=200)
    run.check(isinstance(body, dict) and body.get("id") == 0 and body.get("state") == "RUNNING",
              f"task-status: {body!r:.300}")
    _, body = run.call("topics-source", "GET", f"/connectors/{SRC}/topics", expect=200)
    run.check(body == {SRC: {"topics": [topic]}}, f"topics-source: {body!r:.300}")
    _, body = run.call("topics-sink", "GET", f"/connectors/{SNK}/topics", expect=200)
    run.check(body == {SNK: {"topics": [topic]}}, f"topics-sink: {body!r:.300}")
    # a sink's position (KIP-875): the consumer group's committed offset, once committed (the
    # group outlives a deleted connector of the same name: other topics may show, from other runs)
    want = {"partition": {"kafka_topic": topic, "kafka_partition": 0},
            "offset": {"kafka_offset": 40}}

    def sink_offsets():
        st, body = call(run.url, "GET", f"/connectors/{SNK}/offsets")
        return st == 200 and isinstance(body, dict) and want in (body.get("offsets") or [])
    run.wait(f"{run.kind}: the sink's offsets reach 40", sink_offsets, 60,
             last=lambda: call(run.url, "GET", f"/connectors/{SNK}/offsets"))
    run.call("offsets-sink", "GET", f"/connectors/{SNK}/offsets", expect=200)
    _, body = run.call("offsets-reset-running", "DELETE", f"/connectors/{SRC}/offsets", expect=400)
    run.check(isinstance(body, dict) and body.get("error_code") == 400,
              f"offsets-reset-running: not Connect's error: {body!r:.300}")

    # -- pause: nothing flows; resume: it goes on from the same place
    run.call("pause", "PUT", f"/connectors/{SRC}/pause", expect=202)
    run.wait_state(SRC, "PAUSED")
    _, body = run.call("status-paused", "GET", f"/connectors/{SRC}/status", expect=200)
    with open(src_file, "ab") as f:
        f.write(lines(40, 20))
    time.sleep(scaled(3))
    got = read(out).count(b"\n")
    run.check(read(out) == lines(0, 40), f"paused: the sink's file changed while the source was "
              f"paused ({got} lines, want 40)")
    run.call("resume", "PUT", f"/connectors/{SRC}/resume", expect=202)
    run.wait_state(SRC, "RUNNING")
    wait_out(lines(0, 60), "holds the lines appended while paused")

    # -- restarts: the connector, connector and tasks, one task; nothing read twice
    run.call("restart", "POST", f"/connectors/{SRC}/restart", expect=204)
    run.wait_state(SRC, "RUNNING")
    _, body = run.call("restart-tasks", "POST",
                       f"/connectors/{SRC}/restart?includeTasks=true&onlyFailed=false", expect=202)
    run.check(isinstance(body, dict) and body.get("name") == SRC,
              f"restart-tasks: not a status: {body!r:.300}")
    run.wait_state(SRC, "RUNNING")
    run.call("restart-task", "POST", f"/connectors/{SRC}/tasks/0/restart", expect=204)
    run.wait_state(SRC, "RUNNING")
    # only the failed ones: none failed, so nothing restarts and the status says RUNNING
    _, body = run.call("restart-only-failed", "POST",
                       f"/connectors/{SRC}/restart?includeTasks=true&onlyFailed=true", expect=202)
    run.check(isinstance(body, dict) and (body.get("connector") or {}).get("state") == "RUNNING"
              and [t.get("state") for t in body.get("tasks") or []] == ["RUNNING"],
              f"restart-only-failed: something restarted: {body!r:.300}")
    with open(src_file, "ab") as f:
        f.write(lines(60, 20))
    wait_out(lines(0, 80), "holds every line once after the restarts")

    # -- stop (KIP-875): no task; its offsets, reset, altered back (PATCH of what GET gave),
    # reset again, then a resume reads the file again
    run.call("stop", "PUT", f"/connectors/{SRC}/stop", expect=204)
    run.wait_state(SRC, "STOPPED", tasks=0)
    _, body = run.call("status-stopped", "GET", f"/connectors/{SRC}/status", expect=200)
    _, position = run.call("offsets", "GET", f"/connectors/{SRC}/offsets", expect=200)
    run.check(isinstance(position, dict) and isinstance(position.get("offsets"), list)
              and len(position["offsets"]) == 1, f"offsets: not one position: {position!r:.300}")
    _, body = run.call("offsets-reset", "DELETE", f"/connectors/{SRC}/offsets", expect=200)
    run.check(isinstance(body, dict) and isinstance(body.get("message"), str),
              f"offsets-reset: {body!r:.300}")
    _, body = run.call("offsets-after-reset", "GET", f"/connectors/{SRC}/offsets", expect=200)
    run.check(body == {"offsets": []}, f"offsets-after-reset: {body!r:.300}")
    _, body = run.call("offsets-alter", "PATCH", f"/connectors/{SRC}/offsets", position,
                       expect=200)
    run.check(isinstance(body, dict) and isinstance(body.get("message"), str),
              f"offsets-alter: {body!r:.300}")
    _, body = run.call("offsets-after-alter", "GET", f"/connectors/{SRC}/offsets", expect=200)
    run.check(body == position, f"offsets-after-alter: {body!r:.300}, want {position!r:.300}")
    run.call("offsets-reset-again", "DELETE", f"/connectors/{SRC}/offsets", expect=200)
    run.call("resume-stopped", "PUT", f"/connectors/{SRC}/resume", expect=202)
    run.wait_state(SRC, "RUNNING")
    wait_out(lines(0, 80) * 2, "holds the file twice (read again from its start)")

    # -- update the configuration: another file
    _, body = run.call("update", "PUT", f"/connectors/{SRC}/config",
                       {**src, "file": str(second)}, expect=200)
    run.check(isinstance(body, dict) and (body.get("config") or {}).get("file") == str(second),
              f"update: not the new configuration: {body!r:.500}")
    run.wait_state(SRC, "RUNNING")
    wait_out(lines(0, 80) * 2 + lines(1000, 10), "holds the second file's lines")
    extra = uniq("put-created")
    run.call("put-create", "PUT", f"/connectors/{extra}/config", {**src, "file": str(second),
             "topic": uniq("conform-put")}, expect=201)
    run.call("put-create-delete", "DELETE", f"/connectors/{extra}", expect=204)
    # KIP-980: created STOPPED, no task runs
    extra = uniq("created-stopped")
    _, body = run.call("create-stopped", "POST", "/connectors", {
        "name": extra, "config": {**src, "topic": uniq("conform-stopped")},
        "initial_state": "STOPPED"}, expect=201)
    run.wait_state(extra, "STOPPED", tasks=0)
    run.call("create-stopped-delete", "DELETE", f"/connectors/{extra}", expect=204)

    # -- plugins and validation
    _, body = run.call("plugins", "GET", "/connector-plugins", expect=200)
    run.check(isinstance(body, list) and {"source", "sink"} <= {p.get("type") for p in body},
              f"plugins: no source and sink: {body!r:.500}")
    _, body = run.call("plugins-all", "GET", "/connector-plugins?connectorsOnly=false", expect=200)
    run.check(isinstance(body, list) and {"source", "sink", "transformation", "predicate",
                                          "converter"} <= {p.get("type") for p in body},
              f"plugins-all: not every kind of plugin: {body!r:.500}")
    _, body = run.call("validate", "PUT", "/connector-plugins/FileStreamSource/config/validate",
                       {**src, "name": SRC}, expect=200)
    names = {(c.get("value") or {}).get("name") for c in (body or {}).get("configs", [])} \
        if isinstance(body, dict) else set()
    run.check(isinstance(body, dict) and body.get("error_count") == 0
              and {"file", "topic"} <= names, f"validate: {body!r:.500}")
    _, body = run.call("validate-missing", "PUT",
                       "/connector-plugins/FileStreamSource/config/validate",
                       {"connector.class": "FileStreamSource", "tasks.max": "1"}, expect=200)
    run.check(isinstance(body, dict) and isinstance(body.get("error_count"), int)
              and body["error_count"] > 0, f"validate-missing: no error: {body!r:.500}")

    # -- errors: Connect's {"error_code", "message"}
    for step, method, path, payload, raw, want in (
            ("unknown-connector", "GET", "/connectors/no-such-connector", None, None, 404),
            ("unknown-task", "GET", f"/connectors/{SRC}/tasks/7/status", None, None, 404),
            ("duplicate", "POST", "/connectors", {"name": SRC, "config": src}, None, 409),
            ("invalid-config", "POST", "/connectors", {"name": "no-topic", "config": {
                "connector.class": "FileStreamSource", "tasks.max": "1"}}, None, 400),
            ("unknown-class", "POST", "/connectors", {"name": "no-class", "config": {
                "connector.class": "NoSuchConnector", "tasks.max": "1"}}, None, 400),
            ("unknown-method", "DELETE", "/connectors", None, None, 405),
            # Connect answers 500 to a body that is not JSON (Jackson's parse error, unmapped)
            ("malformed", "POST", "/connectors", None, b'{"name": "x", "config": {', (400, 500)),
            ("unknown-path", "GET", "/no/such/path", None, None, 404)):
        st, body = run.call(step, method, path, payload, raw=raw, expect=want)
        run.check(isinstance(body, dict) and body.get("error_code") == st
                  and isinstance(body.get("message"), str),
                  f"{step}: not Connect's error shape: {body!r:.300}")

    # -- a sink's active topics (KIP-558), reset; then delete
    run.call("topics-reset", "PUT", f"/connectors/{SNK}/topics/reset", expect=202)
    _, body = run.call("topics-after-reset", "GET", f"/connectors/{SNK}/topics", expect=200)
    run.check(body == {SNK: {"topics": []}}, f"topics-after-reset: {body!r:.300}")
    run.call("delete-source", "DELETE", f"/connectors/{SRC}", expect=204)
    run.call("delete-sink", "DELETE", f"/connectors/{SNK}", expect=204)
    run.call("get-deleted", "GET", f"/connectors/{SRC}", expect=404)
    _, body = run.call("list-after-delete", "GET", "/connectors", expect=200)
    run.check(body == [], f"list-after-delete: {body!r:.300}")

    # through Kafka: every line the source read is a record of the topic
    n = (80 * 2 + 10)
    run.check(count(bootstrap, topic) == n, f"the topic holds {count(bootstrap, topic)} records, "
              f"want {n}")
    run.check(read(out) == lines(0, 80) * 2 + lines(1000, 10), "the sink's file changed at the end")


def execute(kind, url, tmp, bootstrap):
    """Runs the sequence; an aborted wait becomes the last problem. Records the responses."""
    run = Run(kind, url)
    try:
        sequence(run, tmp, bootstrap)
    except AssertionError as e:
        run.problems.append(f"aborted after step {list(run.steps)[-1] if run.steps else None}: {e}")
    (tmp / f"{kind}-responses.json").write_text(json.dumps(run.steps, indent=2))
    return run


# Where sluice answers otherwise on purpose (docs/rest-api.md, "What differs from Connect"): the
# step, and what of it is not compared.
DIFFERS_ON_PURPOSE = {
    # malformed JSON is the client's error: 400 (Connect's Jackson answers 500)
    "malformed": "status",
    # a source's partition is {"pipeline": id} and its offset the plugin's whole position (the file
    # plugin's carries the file's inode beside the byte position), not FileStreamSource's maps
    "offsets": "body",
    "offsets-after-alter": "body",
}


def differences(ref, run):
    """sluice's answers against Connect's, call by call: status codes and JSON shapes."""
    out = []
    for step, c in ref.steps.items():
        s = run.steps.get(step)
        if s is None:
            continue  # the run was aborted before: already a problem
        where = f"{step} ({c['method']} {c['path']})"
        if s["status"] != c["status"] and DIFFERS_ON_PURPOSE.get(step) != "status":
            out.append(f"{where}: status {s['status']}, Connect {c['status']}")
        if DIFFERS_ON_PURPOSE.get(step) == "body":
            continue
        cb, sb = c["body"], s["body"]
        if cb is None or sb is None or isinstance(cb, str) or isinstance(sb, str):
            if (cb is None) != (sb is None) or isinstance(cb, str) != isinstance(sb, str):
                out.append(f"{where}: body {sb!r:.200}, Connect {cb!r:.200}")
            continue
        out += [f"{where}: {d}" for d in
                compare(shape(cb), shape(sb), data_maps=tuple(c["data_maps"]))]
    return out


_reference = {}  # the Connect run of this module: sluice's runs are compared with it


def connect_reference(request, kafka, tmp_path_factory):
    if "run" not in _reference:
        c = request.getfixturevalue("connect")
        _reference["run"] = execute("connect", c.url, tmp_path_factory.mktemp("connect-ref"),
                                    kafka.bootstrap)
    return _reference["run"]


@pytest.mark.parametrize("kind", ["connect", "sluice"])
def test_rest_conformance(kind, request, kafka, tmp_path_factory):
    """The same calls against real Kafka Connect (which proves the test's expectations) and
    against sluice (which must also answer each call as Connect did)."""
    ref = connect_reference(request, kafka, tmp_path_factory)
    if kind == "connect":
        assert not ref.problems, "real Kafka Connect did not do what the test expects:\n  " + \
            "\n  ".join(ref.problems)
        return
    if ref.problems:
        pytest.fail("the Connect reference run failed (see test_rest_conformance[connect])")
    w = request.getfixturevalue("sluice_rest")
    run = execute("sluice", w.url, tmp_path_factory.mktemp("sluice-run"), kafka.bootstrap)
    problems = run.problems + differences(ref, run)
    assert not problems, f"sluice differs from Kafka Connect ({len(problems)}):\n  " + \
        "\n  ".join(problems) + f"\nsluice's output:\n{w.output()[-3000:]}"


def test_sluice_lints_a_worker_with_no_pipeline(sluice, tmp):
    """The worker's file of test_rest_conformance[sluice]: the `kafka:` block and no pipeline
    (connectors come over REST) is a valid configuration."""
    cfg = tmp / "worker.yaml"
    cfg.write_text("version: 1\nkafka:\n  bootstrap.servers: 127.0.0.1:9092\n"
                   f"offset.storage.file.filename: {tmp / 'offsets.json'}\npipelines: []\n")
    r = sluice.run("lint", cfg, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_shape_comparison_finds_differences():
    """The comparison the sluice half relies on: it tells key sets, value types and empty arrays
    apart, ignores values, nulls and the keys of configurations."""
    ref = {"name": "a", "connector": {"state": "RUNNING", "worker_id": "w:1"},
           "tasks": [{"id": 0, "state": "RUNNING", "trace": None}], "config": {"file": "x"}}
    same = {"name": "b", "connector": {"state": "PAUSED", "worker_id": "other"},
            "tasks": [{"id": 3, "state": "FAILED", "trace": "boom"}], "config": {"topic": "t"}}
    assert compare(shape(ref), shape(same)) == []
    other = {"name": "a", "connector": {"state": "RUNNING"}, "tasks": [],
             "config": {"file": 1}, "type": "source"}
    diffs = compare(shape(ref), shape(other))
    assert diffs == ["(top): keys only in sluice: ['type']",
                     "config: values ['string'] in connect, ['number'] in sluice",
                     "connector: keys only in connect: ['worker_id']",
                     "tasks: an empty array in sluice only"], diffs
    assert compare(shape({"id": 0}), shape({"id": "0"})) == \
        ["id: connect gives ['number'], sluice ['string']"]
    assert compare(shape([{"a": 1}, {"b": 2}]), shape([{"a": 1}])) == \
        ["[]: keys only in connect: ['b']"]
