"""KIP-875 offsets of a worker's connectors (worker.h: worker_offsets, _alter, _reset), driven
through build/tests/worker_tool (a `sluice run` worker that takes worker.h calls on stdin) against
the real broker: a file source's position in the offsets file, a file sink's consumer-group offsets
on the broker as confluent-kafka sees them, both altered and reset while STOPPED and refused while
running, and what the connectors do when resumed."""
import json
import os
import subprocess
import threading
import queue

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from sluicetest import build_dir, kill, line, scaled, wait_exit, wait_until, write_lines, write_yaml
from test_kafka import committed, count_lines, kafka_yaml, total, uniq

STOPPED_MSG = ("Connectors must be in the STOPPED state before their offsets can be modified. "
               "This can be done for the specified connector by issuing a 'PUT' request to the "
               "'/connectors/{}/stop' endpoint")


class Worker:
    """worker_tool on a YAML file: call(cmd) sends one command and returns its JSON answer."""

    def __init__(self, cfg, tmp):
        tool = build_dir() / "tests" / "worker_tool"
        assert tool.is_file(), f"{tool} is not built"
        self.log = tmp / "worker.log"
        self._err = open(self.log, "wb")
        # it lives in build/tests, not beside build/plugins as sluice does: say where they are
        env = dict(os.environ, SLUICE_PLUGIN_PATH=str(build_dir() / "plugins"))
        self.proc = subprocess.Popen([str(tool), str(cfg)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True, env=env)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for ln in self.proc.stdout:
            self.lines.put(ln)
        self.lines.put(None)

    def call(self, cmd, timeout=90):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        try:
            ln = self.lines.get(timeout=scaled(timeout))
        except queue.Empty:
            raise AssertionError(f"no answer to {cmd!r} in {timeout} s:\n{self.text()}")
        assert ln is not None, f"worker_tool exited at {cmd!r}:\n{self.text()}"
        return json.loads(ln)

    def ok(self, cmd, status=200):
        r = self.call(cmd)
        assert r["status"] == status, f"{cmd!r}: {r}\n{self.text()}"
        return r

    def text(self):
        return self.log.read_text(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            kill(self.proc)
            self.proc.wait()
        self._err.close()


def test_offsets_get_alter_reset(kafka, tmp):
    topic, pid = uniq("wo"), uniq("p")
    src, out = tmp / "in.txt", tmp / "out.txt"
    offsets = tmp / "offsets.json"
    n = 10
    size = write_lines(src, n)
    cfg = write_yaml(tmp / "w.yaml", kafka_yaml(kafka.bootstrap, offsets, f"""\
  - id: {pid}
    topic: {topic}
    key.converter: string
    value.converter: string
    source: {{plugin: file, config: {{file: {src}, follow: true}}}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {out}}}
        consumer.override.session.timeout.ms: 6000
        consumer.override.heartbeat.interval.ms: 1000
      - id: two
        plugin: file
        config: {{file: {tmp / "out2.txt"}}}
        consumer.override.group.id: {pid}-own-group
        consumer.override.session.timeout.ms: 6000
        consumer.override.heartbeat.interval.ms: 1000
"""))
    sink, group = f"{pid}.out", f"sluice.{pid}.out"
    w = Worker(cfg, tmp)
    try:
        w.ok("started 60")
        wait_until(lambda: count_lines(out) >= n, scaled(60), interval=0.2,
                   what=f"{n} lines in {out}")

        # GET: the source's position as the file plugin's JSON, under {"pipeline": id}
        def source_offsets():
            return w.ok(f"offsets {pid}")["body"]["offsets"]
        wait_until(lambda: source_offsets() and source_offsets()[0]["offset"]["position"] == size,
                   scaled(30), interval=0.2, what="the source's position at the end of its file")
        (entry,) = source_offsets()
        assert entry["partition"] == {"pipeline": pid}, entry
        assert entry["offset"]["file"] == str(src) and isinstance(entry["offset"]["inode"], int)

        # GET: the sink's committed offset, as the broker has it
        want = [{"partition": {"kafka_topic": topic, "kafka_partition": 0},
                 "offset": {"kafka_offset": n}}]
        wait_until(lambda: w.ok(f"offsets {sink}")["body"]["offsets"] == want, scaled(30),
                   interval=0.2, what=f"the sink's group to show offset {n}")
        assert committed(kafka.bootstrap, group, topic) == {0: n}
        # a sink that names its group: that group's offsets
        wait_until(lambda: w.ok(f"offsets {pid}.two")["body"]["offsets"] == want, scaled(30),
                   interval=0.2, what="the second sink's own group to show offset {n}")
        assert committed(kafka.bootstrap, f"{pid}-own-group", topic) == {0: n}

        # running: PATCH and DELETE refused with Connect's 400
        body = json.dumps({"offsets": want})
        for cmd, name in ((f"alter {sink} {body}", sink), (f"reset {pid}", pid),
                          (f"reset {sink}", sink)):
            r = w.ok(cmd, 400)
            assert r["message"] == STOPPED_MSG.format(name), r
        w.ok("offsets nope", 404)
        w.ok("reset nope", 404)

        # stop both; alter the sink's group to 4 and the source's position to line 5
        w.ok(f"stop {pid}", 204)
        w.ok(f"stop {sink}", 204)
        w.ok(f"state {pid} STOPPED 60")
        w.ok(f"state {sink} STOPPED 60")

        for bad, why in (("", "not JSON"), ('{"offsets": []}', "Partitions / offsets"),
                         ('{"offsets": 3}', "must be a list"),
                         (json.dumps({"offsets": [{"partition": {"kafka_topic": topic},
                                                   "offset": {"kafka_offset": 1}}]}),
                          "kafka_partition"),
                         (json.dumps({"offsets": [{"partition": {"kafka_topic": topic,
                                                                 "kafka_partition": 0},
                                                   "offset": {"kafka_offset": -3}}]}),
                          "kafka_offset")):
            r = w.ok(f"alter {sink} {bad}", 400)
            assert why in r["message"], r
        r = w.ok(f"alter {pid} " + json.dumps({"offsets": [{"partition": {"pipeline": "other"},
                                                             "offset": None}]}), 400)
        assert pid in r["message"], r
        assert committed(kafka.bootstrap, group, topic) == {0: n}, "a refused PATCH changed it"

        # a member in the group (another consumer): the broker refuses, sluice says why
        other = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group,
                          "enable.auto.commit": False, "session.timeout.ms": 6000})
        try:
            other.subscribe([topic])
            wait_until(lambda: other.poll(0.2) is not None or other.assignment(), scaled(30),
                       interval=0.1, what="a foreign member in the sink's group")
            body = json.dumps({"offsets": [{"partition": {"kafka_topic": topic,
                                                          "kafka_partition": 0},
                                            "offset": {"kafka_offset": 1}}]})
            r = w.ok(f"alter {sink} {body}", 500)
            assert group in r["message"] and "try again" in r["message"], r
            r = w.ok(f"reset {sink}", 500)
            assert group in r["message"] and "try again" in r["message"], r
        finally:
            other.close()
        assert committed(kafka.bootstrap, group, topic) == {0: n}

        altered = "The offsets for this connector have been altered successfully"
        body = json.dumps({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0},
                                        "offset": {"kafka_offset": 4}}]})
        assert w.ok(f"alter {sink} {body}")["message"] == altered
        assert committed(kafka.bootstrap, group, topic) == {0: 4}
        assert w.ok(f"offsets {sink}")["body"]["offsets"][0]["offset"] == {"kafka_offset": 4}

        pos = dict(entry["offset"], position=5 * len(line(0)))
        body = json.dumps({"offsets": [{"partition": {"pipeline": pid}, "offset": pos}]})
        assert w.ok(f"alter {pid} {body}")["message"] == altered
        stored = json.loads(offsets.read_text())["pipelines"][pid]
        assert json.loads(stored["position"]) == pos, stored
        assert w.ok(f"offsets {pid}")["body"]["offsets"][0]["offset"] == pos

        # resumed: the source reads lines 5..9 again (15 records), the sink reads from 4 (6 + 5)
        w.ok(f"resume {pid}", 202)
        w.ok(f"resume {sink}", 202)
        wait_until(lambda: total(kafka.bootstrap, topic) >= 15 and count_lines(out) >= n + 11,
                   scaled(60), interval=0.2, what="the re-read records")
        assert total(kafka.bootstrap, topic) == 15
        wait_until(lambda: committed(kafka.bootstrap, group, topic) == {0: 15}, scaled(30),
                   interval=0.2, what="the sink's commit of 15")
        assert count_lines(out) == n + 11
        vals = out.read_text().splitlines()
        assert vals[n:] == [line(i)[:-1] for i in list(range(4, 10)) + list(range(5, 10))]

        # DELETE: stopped again, both reset; resumed, everything is read again from the start
        w.ok(f"stop {pid}", 204)
        w.ok(f"stop {sink}", 204)
        w.ok(f"state {pid} STOPPED 60")
        w.ok(f"state {sink} STOPPED 60")
        reset = "The offsets for this connector have been reset successfully"
        assert w.ok(f"reset {sink}")["message"] == reset
        assert all(o < 0 for o in committed(kafka.bootstrap, group, topic).values())
        assert w.ok(f"offsets {sink}")["body"] == {"offsets": []}
        assert w.ok(f"reset {pid}")["message"] == reset
        assert w.ok(f"offsets {pid}")["body"] == {"offsets": []}
        assert json.loads(offsets.read_text())["pipelines"][pid]["position"] == ""
        assert w.ok(f"reset {sink}")["message"] == reset, "a second reset (no group) fails"

        w.ok(f"resume {pid}", 202)
        w.ok(f"resume {sink}", 202)
        wait_until(lambda: total(kafka.bootstrap, topic) >= 25 and count_lines(out) >= 21 + 25,
                   scaled(60), interval=0.2, what="everything read again")
        assert total(kafka.bootstrap, topic) == 25

        # topics are configuration: nothing to reset; GET /'s cluster id is the broker's
        w.ok(f"topics-reset {pid}", 202)
        w.ok("topics-reset nope", 404)
        cid = w.ok("cluster")["message"]
        md = AdminClient({"bootstrap.servers": kafka.bootstrap}).list_topics(timeout=20)
        assert cid and cid == md.cluster_id, (cid, md.cluster_id)

        w.ok("quit")
        assert wait_exit(w.proc, scaled(60)) == 0, w.text()
    finally:
        w.close()
