"""sftp-json in Kafka mode (a real broker): the sink's precommit (ABI 1.2) keeps files open across
the core's periodic commits, and the consumer group's committed offsets follow the closed files
only — per partition — until the run stops and flushes the rest."""
import json
import signal
import time

from kafkatest import committed, create_topic, produce, uniq
from sluicetest import kill, scaled, wait_exit, wait_until, write_yaml


def test_commits_follow_closed_files_per_partition(sluice, kafka, tmp):
    topic, pid = uniq("sj"), uniq("p")
    create_topic(kafka.bootstrap, topic, 2)
    for p in (0, 1):
        produce(kafka.bootstrap, topic,
                [json.dumps({"id": p * 100 + i}).encode() for i in range(25)],
                partition=p)
    out = tmp / "out"
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: {pid}
    topic: {topic}
    value.converter: json
    value.converter.schemas.enable: false
    offset.flush.interval.ms: 200ms
    sinks:
      - id: files
        plugin: sftp-json
        consumer.override.session.timeout.ms: 6000
        consumer.override.heartbeat.interval.ms: 1000
        config:
          directory: {out}
          flush.size: 10
          rotate.interval.ms: 600000
""")
    proc = sluice.spawn("run", cfg)
    group = f"sluice.{pid}.files"

    def names(p):
        d = out / f"topics/{topic}/partition={p}"
        return sorted(x.name for x in d.glob("*.json")) if d.is_dir() else []

    try:
        try:
            wait_until(lambda: all(len(names(p)) == 2 for p in (0, 1)), scaled(60),
                       what="two closed files per partition")
        except AssertionError:
            kill(proc, signal.SIGKILL)
            wait_exit(proc, 20)
            raise AssertionError(f"{[names(p) for p in (0, 1)]}\n"
                                 f"{proc.stderr.read().decode()[-3000:]}")
        # idle precommits every 50 ms and periodic commits: only the closed files' records
        wait_until(lambda: committed(kafka.bootstrap, group, topic) == {0: 20, 1: 20},
                   scaled(20), interval=0.3, what="commits of 20 per partition")
        time.sleep(1)
        assert committed(kafka.bootstrap, group, topic) == {0: 20, 1: 20}
        for p in (0, 1):
            assert names(p) == [f"{topic}+{p}+0000000000.json", f"{topic}+{p}+0000000010.json"]
        kill(proc, signal.SIGTERM)
        assert wait_exit(proc, scaled(30)) == 0
    finally:
        if proc.poll() is None:
            kill(proc, signal.SIGKILL)
            wait_exit(proc, 20)
    # the stop flushed the open files and committed everything
    assert committed(kafka.bootstrap, group, topic) == {0: 25, 1: 25}
    for p in (0, 1):
        d = out / f"topics/{topic}/partition={p}"
        counts = {x.name: x.read_bytes().count(b"\n") for x in d.glob("*.json")}
        assert counts == {f"{topic}+{p}+0000000000.json": 10, f"{topic}+{p}+0000000010.json": 10,
                          f"{topic}+{p}+0000000020.json": 5}
        ids = sorted(json.loads(ln)["id"] for x in d.glob("*.json")
                     for ln in x.read_text().splitlines())
        assert ids == [p * 100 + i for i in range(25)]
